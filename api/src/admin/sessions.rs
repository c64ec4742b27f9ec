//! Sessions an admin lists and kicks. A kick closes the row, disconnects the
//! PPP session and drops its address from the permit and sandbox lists.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tgate_core::domain::{AccountName, RouterName, SessionId, SessionState};
use tgate_core::storage::{Session, SessionFilter};
use tracing::instrument;
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use super::service::{self, API_PAGES, Paging};
use super::{ACTOR, Admin, Params};
use crate::ApiState;
use crate::error::ApiError;

/// A session as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: uuid::Uuid,
    pub router: String,
    pub account: String,
    /// The caller's public address, or a MAC for PPPoE.
    pub caller_id: String,
    /// The tunnel address.
    pub remote_address: String,
    pub service: String,
    #[schema(example = "pending")]
    pub state: StateName,
    pub created_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A session's state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateName {
    Pending,
    Confirmed,
    Denied,
    Expired,
    Closed,
    Failed,
}

impl From<SessionState> for StateName {
    fn from(s: SessionState) -> Self {
        match s {
            SessionState::Pending => StateName::Pending,
            SessionState::Confirmed => StateName::Confirmed,
            SessionState::Denied => StateName::Denied,
            SessionState::Expired => StateName::Expired,
            SessionState::Closed => StateName::Closed,
            SessionState::Failed => StateName::Failed,
        }
    }
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        SessionView {
            id: s.id.0,
            router: s.router.to_string(),
            account: s.account.to_string(),
            caller_id: s.caller_id.to_string(),
            remote_address: s.remote_address.to_string(),
            service: s.service.as_str().to_owned(),
            state: s.state.into(),
            created_at: s.created_at,
            deadline: s.deadline,
            decided_at: s.decided_at,
            decided_by: s.decided_by,
            closed_at: s.closed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// Lists sessions, newest first.
#[utoipa::path(
    get, path = "/v1/admin/sessions", tag = "admin", operation_id = "admin_list_sessions",
    security(("admin_token" = [])),
    params(
        ("state" = Option<StateName>, Query, description = "only sessions in this state"),
        ("router" = Option<String>, Query, description = "only sessions on this router"),
        ("account" = Option<String>, Query, description = "only sessions of this VPN account"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "page size, default 100"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "rows to skip"),
    ),
    responses(
        (status = 200, description = "the sessions", body = SessionList),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 422, description = "a bad parameter, named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all)]
pub async fn list(
    _: Admin,
    State(state): State<ApiState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<SessionList>, ApiError> {
    let q = Params::new(query)?;
    let paging = Paging::new(q.limit()?, q.offset()?, API_PAGES)?;
    let filter = SessionFilter {
        state: q.parse::<SessionState>("state", "not a session state")?,
        router: q.parse::<RouterName>("router", "not a router name")?,
        account: q.parse::<AccountName>("account", "not an account name")?,
        open: false,
        limit: paging.limit,
        offset: paging.offset,
    };
    let sessions = service::sessions(&state.gate, &filter).await?;
    Ok(Json(SessionList {
        sessions: sessions.into_iter().map(SessionView::from).collect(),
    }))
}

/// Ends an open session: closed, disconnected, out of the permit list.
#[utoipa::path(
    post, path = "/v1/admin/sessions/{id}/kick", tag = "admin", operation_id = "admin_kick_session",
    security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "the session's id")),
    responses(
        (status = 200, description = "the closed session", body = SessionView),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "no such session, or it is already over", body = ErrorBody),
        (status = 422, description = "id is not a session id", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(session = %id))]
pub async fn kick(
    _: Admin,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let id: SessionId = id
        .trim()
        .parse()
        .map_err(|_| ApiError::field("id", "not a session id"))?;
    let closed = service::kick(&state.gate, id, ACTOR).await?;
    Ok(Json(closed.into()))
}
