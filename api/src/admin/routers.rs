//! Routers with their health: reachable, round trip, list sizes. Every
//! router is asked side by side with its own timeout, so one slow or dead
//! router does not hold up the answer.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tgate_core::gate::RouterHealth;
use tracing::instrument;
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use super::{Admin, service};
use crate::ApiState;
use crate::error::ApiError;

/// One router's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouterHealthView {
    pub name: String,
    pub reachable: bool,
    /// Round trip of `/system identity print`, when reachable.
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
    /// Entries on the sandbox, permit and ban lists, when they could be read.
    pub sandbox: Option<u64>,
    pub permit: Option<u64>,
    pub ban: Option<u64>,
}

impl From<RouterHealth> for RouterHealthView {
    fn from(h: RouterHealth) -> Self {
        RouterHealthView {
            name: h.name.to_string(),
            reachable: h.reachable,
            latency_ms: h.latency_ms,
            error: h.error,
            sandbox: h.sandbox.map(|n| n as u64),
            permit: h.permit.map(|n| n as u64),
            ban: h.ban.map(|n| n as u64),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RouterList {
    pub routers: Vec<RouterHealthView>,
}

/// Every configured router with its health, by name.
#[utoipa::path(
    get, path = "/v1/admin/routers", tag = "admin", operation_id = "admin_list_routers",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "the routers", body = RouterList),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
    )
)]
#[instrument(skip_all)]
pub async fn list(_: Admin, State(state): State<ApiState>) -> Result<Json<RouterList>, ApiError> {
    let routers = service::routers(&state.gate).await?;
    Ok(Json(RouterList {
        routers: routers.into_iter().map(RouterHealthView::from).collect(),
    }))
}
