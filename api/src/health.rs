//! Liveness and readiness. `/healthz` answers while the process serves;
//! `/readyz` also asks the database and every router, each within a short
//! timeout, so a load balancer stops sending work a replica cannot do.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::ApiState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

#[utoipa::path(
    get, path = "/healthz", tag = "health", operation_id = "healthz",
    responses((status = 200, description = "the process serves", body = crate::admin::openapi::Health))
)]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[utoipa::path(
    get, path = "/readyz", tag = "health", operation_id = "readyz",
    responses(
        (status = 200, description = "database and every router answer", body = crate::admin::openapi::Readiness),
        (status = 503, description = "something does not answer", body = crate::admin::openapi::Readiness),
    )
)]
pub async fn readyz(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(CHECK_TIMEOUT, state.gate.store().ping()).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database");
            "unavailable".to_string()
        }
        Err(_) => "timeout".to_string(),
    };
    // Side by side, so one slow router does not hold up the answer.
    let mut checks = tokio::task::JoinSet::new();
    for r in state.gate.routers().cloned() {
        checks.spawn(async move {
            let status = match tokio::time::timeout(CHECK_TIMEOUT, r.gateway.identity()).await {
                Ok(Ok(_)) => "ok".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timeout".to_string(),
            };
            (r.config.name.to_string(), Value::String(status))
        });
    }
    let routers: Map<String, Value> = checks.join_all().await.into_iter().collect();
    let ready = database == "ok" && routers.values().all(|v| v == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "ready": ready, "database": database, "routers": routers })),
    )
}
