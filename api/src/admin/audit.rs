//! The audit log, newest first, filtered and paged by id: `next` is the id to
//! pass as `before` for the following page, so pages stay stable while new
//! records arrive.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::Serialize;
use tgate_core::domain::{AccountName, SessionId};
use tgate_core::storage::{AuditFilter, AuditRecord, audit_address};
use tracing::instrument;
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use super::service::{API_PAGES, Paging};
use super::{Admin, Params, internal};
use crate::ApiState;
use crate::error::ApiError;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who: `admin-api`, `tg:<id>`, `worker`, `router:<name>`, …
    pub actor: String,
    #[schema(example = "ban.add")]
    pub action: String,
    pub router: Option<String>,
    pub account: Option<String>,
    pub address: Option<String>,
    pub session_id: Option<String>,
    /// Action-specific details, or null.
    pub detail: serde_json::Value,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        AuditView {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            router: r.router,
            account: r.account,
            address: r.address,
            session_id: r.session_id,
            detail: r.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    /// Pass as `before` for the next page; null on the last page.
    pub next: Option<i64>,
}

/// Reads the audit log, newest first.
#[utoipa::path(
    get, path = "/v1/admin/audit", tag = "admin", operation_id = "admin_audit_log",
    security(("admin_token" = [])),
    params(
        ("since" = Option<DateTime<Utc>>, Query, description = "RFC 3339; records at or after"),
        ("until" = Option<DateTime<Utc>>, Query, description = "RFC 3339; records before"),
        ("actor" = Option<String>, Query, description = "e.g. admin-api"),
        ("account" = Option<String>, Query, description = "a VPN account name"),
        ("address" = Option<String>, Query, description = "an IP address or network"),
        ("action" = Option<String>, Query, description = "e.g. ban.add"),
        ("session" = Option<uuid::Uuid>, Query, description = "a session id"),
        ("before" = Option<i64>, Query, description = "only records with a smaller id: the previous page's next"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "page size, default 100"),
    ),
    responses(
        (status = 200, description = "a page of the log", body = AuditPage),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 422, description = "a bad parameter, named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all)]
pub async fn list(
    _: Admin,
    State(state): State<ApiState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let q = Params::new(query)?;
    let time = |key: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        q.get(key)
            .map(|v| {
                DateTime::parse_from_rfc3339(v.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ApiError::field(key, "not an RFC 3339 time"))
            })
            .transpose()
    };
    let limit = Paging::new(q.limit()?, None, API_PAGES)?.limit;
    let address = match q.get("address").map(str::trim) {
        None => None,
        Some(raw) if raw.parse::<IpAddr>().is_ok() || raw.parse::<IpNet>().is_ok() => {
            Some(audit_address(raw))
        }
        Some(_) => return Err(ApiError::field("address", "not an IP address or network")),
    };
    let filter = AuditFilter {
        session_id: q
            .parse::<SessionId>("session", "not a session id")?
            .map(|s| s.to_string()),
        action: word(&q, "action")?,
        actor: word(&q, "actor")?,
        account: q
            .parse::<AccountName>("account", "not an account name")?
            .map(|a| a.to_string()),
        address,
        since: time("since")?,
        until: time("until")?,
        before_id: q.parse::<i64>("before", "not a record id")?,
        // One more than asked, to know whether a next page exists.
        limit: limit + 1,
    };
    let mut records = state
        .gate
        .store()
        .audit_log(&filter)
        .await
        .map_err(internal)?;
    let next = if records.len() as i64 > limit {
        records.truncate(limit as usize);
        records.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(AuditPage {
        entries: records.into_iter().map(AuditView::from).collect(),
        next,
    }))
}

/// An actor or action: short, printable, no spaces.
fn word(q: &Params, key: &str) -> Result<Option<String>, ApiError> {
    match q.get(key) {
        None => Ok(None),
        Some(v) if v.len() > 100 || v.chars().any(|c| c.is_control() || c.is_whitespace()) => {
            Err(ApiError::field(key, "not a valid value"))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}
