//! Router events (SPEC §3): `POST /v1/events/up|down` with the router's token,
//! and tik2fa's `POST /clients/connect/|disconnect/` from the compat router's
//! address.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tgate_core::domain::{RouterName, Service, SessionState};
use tgate_core::gate::{Connect, ConnectOutcome, Disconnect, DisconnectOutcome};
use tgate_core::storage::Session;
use tracing::instrument;

use crate::ApiState;
use crate::body::Fields;
use crate::error::ApiError;
use crate::metrics::{EventKind, EventOutcome};

/// A handler's answer and the outcome it is counted under.
type Answered = Result<(EventOutcome, Response), ApiError>;

/// Counts the event by its outcome and returns the answer.
fn counted(state: &ApiState, kind: EventKind, answered: Answered) -> Result<Response, ApiError> {
    let outcome = match &answered {
        Ok((outcome, _)) => Some(*outcome),
        Err(ApiError::Unauthorized) => Some(EventOutcome::Unauthorized),
        Err(ApiError::InvalidField { .. } | ApiError::TooLarge(_)) => Some(EventOutcome::Invalid),
        // A server-side failure shows in tgate_http_requests_total as a 500.
        Err(_) => None,
    };
    if let Some(outcome) = outcome {
        state.metrics.event(kind, outcome);
    }
    answered.map(|(_, response)| response)
}

#[utoipa::path(
    post, path = "/v1/events/up", tag = "events", operation_id = "event_up",
    security(("router_token" = [])),
    request_body = crate::admin::openapi::UpEvent,
    responses(
        (status = 202, description = "pending: the owner is asked", body = crate::admin::openapi::ConnectAnswer),
        (status = 200, description = "allowed without a prompt", body = crate::admin::openapi::ConnectAnswer),
        (status = 403, description = "refused: banned, unenrolled or locked (see state); the router disconnects", body = crate::admin::openapi::ErrorBody),
        (status = 409, description = "blocked: a prompt is already pending for the account", body = crate::admin::openapi::ErrorBody),
        (status = 401, description = "no or unknown credentials", body = crate::admin::openapi::ErrorBody),
        (status = 413, description = "body too large", body = crate::admin::openapi::ErrorBody),
        (status = 422, description = "a bad field, named in detail.field", body = crate::admin::openapi::ErrorBody),
    )
)]
#[instrument(skip_all, fields(router))]
pub async fn up(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let answered = up_event(&state, &headers, body).await;
    counted(&state, EventKind::Up, answered)
}

async fn up_event(
    state: &ApiState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answered {
    let router = state
        .auth
        .router_by_token(headers)
        .ok_or(ApiError::Unauthorized)?;
    tracing::Span::current().record("router", router.as_str());
    let f = Fields::parse(body)?;
    let interface = f.optional("interface")?;
    let service = match f.optional::<Service>("service")? {
        Some(service) => service,
        None => interface
            .as_ref()
            .and_then(|i: &tgate_core::domain::InterfaceName| Service::from_interface(i.as_str()))
            .unwrap_or(Service::Ppp),
    };
    let ev = Connect {
        router,
        account: f.required("user")?,
        caller_id: f.required("caller_id")?,
        remote_address: f.required("remote_address")?,
        local_address: f.optional("local_address")?,
        service,
        interface,
        chat_id: f.chat_id("chat_id")?,
    };
    connect(state, ev).await
}

#[utoipa::path(
    post, path = "/v1/events/down", tag = "events", operation_id = "event_down",
    security(("router_token" = [])),
    request_body = crate::admin::openapi::DownEvent,
    responses(
        (status = 200, description = "closed", body = crate::admin::openapi::DisconnectAnswer),
        (status = 401, description = "no or unknown credentials", body = crate::admin::openapi::ErrorBody),
        (status = 413, description = "body too large", body = crate::admin::openapi::ErrorBody),
        (status = 422, description = "a bad field, named in detail.field", body = crate::admin::openapi::ErrorBody),
    )
)]
#[instrument(skip_all, fields(router))]
pub async fn down(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let answered = down_event(&state, &headers, body).await;
    counted(&state, EventKind::Down, answered)
}

async fn down_event(
    state: &ApiState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answered {
    let router = state
        .auth
        .router_by_token(headers)
        .ok_or(ApiError::Unauthorized)?;
    tracing::Span::current().record("router", router.as_str());
    let f = Fields::parse(body)?;
    let ev = Disconnect {
        router,
        account: f.required("user")?,
        remote_address: f.required("remote_address")?,
    };
    disconnect(state, ev).await
}

fn compat_router(
    state: &ApiState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<RouterName, ApiError> {
    state
        .auth
        .compat_router(peer.ip(), headers)
        .ok_or(ApiError::Unauthorized)
}

/// tik2fa's connect: `{"name","chat_id","source_ip","destination_ip","caller_id"}`,
/// where source_ip is the tunnel address and caller_id the public one.
#[utoipa::path(
    post, path = "/clients/connect/", tag = "events", operation_id = "compat_connect",
    description = "tik2fa's unchanged on-up script; believed only from the compat router's address. Also served without the trailing slash.",
    security(()),
    request_body = crate::admin::openapi::CompatConnect,
    responses(
        (status = 202, description = "pending: the owner is asked", body = crate::admin::openapi::ConnectAnswer),
        (status = 200, description = "allowed without a prompt", body = crate::admin::openapi::ConnectAnswer),
        (status = 403, description = "refused: banned, unenrolled or locked (see state); the router disconnects", body = crate::admin::openapi::ErrorBody),
        (status = 409, description = "blocked: a prompt is already pending for the account", body = crate::admin::openapi::ErrorBody),
        (status = 401, description = "no or unknown credentials", body = crate::admin::openapi::ErrorBody),
        (status = 413, description = "body too large", body = crate::admin::openapi::ErrorBody),
        (status = 422, description = "a bad field, named in detail.field", body = crate::admin::openapi::ErrorBody),
    )
)]
#[instrument(skip_all, fields(router))]
pub async fn compat_connect(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let answered = compat_connect_event(&state, peer, &headers, body).await;
    counted(&state, EventKind::Up, answered)
}

async fn compat_connect_event(
    state: &ApiState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answered {
    let router = compat_router(state, peer, headers)?;
    tracing::Span::current().record("router", router.as_str());
    let f = Fields::parse(body)?;
    let ev = Connect {
        router,
        account: f.required("name")?,
        caller_id: f.required("caller_id")?,
        remote_address: f.required("source_ip")?,
        local_address: f.optional("destination_ip")?,
        service: Service::Ppp,
        interface: None,
        chat_id: f.chat_id("chat_id")?,
    };
    connect(state, ev).await
}

#[utoipa::path(
    post, path = "/clients/disconnect/", tag = "events", operation_id = "compat_disconnect",
    description = "tik2fa's unchanged on-down script; believed only from the compat router's address. Also served without the trailing slash.",
    security(()),
    request_body = crate::admin::openapi::CompatDisconnect,
    responses(
        (status = 200, description = "closed", body = crate::admin::openapi::DisconnectAnswer),
        (status = 401, description = "no or unknown credentials", body = crate::admin::openapi::ErrorBody),
        (status = 413, description = "body too large", body = crate::admin::openapi::ErrorBody),
        (status = 422, description = "a bad field, named in detail.field", body = crate::admin::openapi::ErrorBody),
    )
)]
#[instrument(skip_all, fields(router))]
pub async fn compat_disconnect(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let answered = compat_disconnect_event(&state, peer, &headers, body).await;
    counted(&state, EventKind::Down, answered)
}

async fn compat_disconnect_event(
    state: &ApiState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answered {
    let router = compat_router(state, peer, headers)?;
    tracing::Span::current().record("router", router.as_str());
    let f = Fields::parse(body)?;
    let ev = Disconnect {
        router,
        account: f.required("name")?,
        remote_address: f.required("source_ip")?,
    };
    disconnect(state, ev).await
}

async fn connect(state: &ApiState, ev: Connect) -> Answered {
    let refused = |outcome, refusal: ApiError| Ok((outcome, refusal.into_response()));
    let _turn = state.events.acquire().await.expect("never closed");
    // Boxed, the decision's state is only allocated once its turn comes: a
    // request waiting for one stays small.
    match Box::pin(state.gate.connect(ev)).await? {
        ConnectOutcome::Pending(s) => Ok((EventOutcome::Pending, session_answer(&s))),
        ConnectOutcome::Duplicate(s) => Ok((EventOutcome::Duplicate, session_answer(&s))),
        ConnectOutcome::Allowed(s) => Ok((EventOutcome::Allowed, session_answer(&s))),
        ConnectOutcome::Banned(ban) => refused(
            EventOutcome::Banned,
            ApiError::Refused {
                status: StatusCode::FORBIDDEN,
                state: "banned",
                message: "caller is banned",
                detail: json!({ "until": ban.until }),
            },
        ),
        ConnectOutcome::Unenrolled { .. } => refused(
            EventOutcome::Unenrolled,
            ApiError::Refused {
                status: StatusCode::FORBIDDEN,
                state: "unenrolled",
                message: "nobody can confirm for this account",
                detail: json!(null),
            },
        ),
        ConnectOutcome::Locked => refused(
            EventOutcome::Locked,
            ApiError::Refused {
                status: StatusCode::FORBIDDEN,
                state: "locked",
                message: "account is locked",
                detail: json!(null),
            },
        ),
        ConnectOutcome::Blocked { .. } => refused(
            EventOutcome::Blocked,
            ApiError::Refused {
                status: StatusCode::CONFLICT,
                state: "blocked",
                message: "a prompt is already pending for this account",
                detail: json!(null),
            },
        ),
    }
}

/// The answer for a session that was accepted: `202 pending` while the owner
/// is asked, `200 allowed` once permitted.
fn session_answer(s: &Session) -> Response {
    match s.state {
        SessionState::Pending => (
            StatusCode::ACCEPTED,
            Json(json!({ "session": s.id, "state": "pending", "deadline": s.deadline })),
        )
            .into_response(),
        SessionState::Confirmed => (
            StatusCode::OK,
            Json(json!({ "session": s.id, "state": "allowed" })),
        )
            .into_response(),
        other => (
            StatusCode::OK,
            Json(json!({ "session": s.id, "state": other })),
        )
            .into_response(),
    }
}

async fn disconnect(state: &ApiState, ev: Disconnect) -> Answered {
    let _turn = state.events.acquire().await.expect("never closed");
    let DisconnectOutcome { closed, .. } = Box::pin(state.gate.disconnect(ev)).await?;
    let answer = (
        StatusCode::OK,
        Json(json!({ "state": "closed", "session": closed.map(|s| s.id) })),
    );
    Ok((EventOutcome::Closed, answer.into_response()))
}
