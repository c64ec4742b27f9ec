//! Bans an admin lists, adds and lifts. A ban is a row first; the core then
//! mirrors it on every router's ban list with the same timeout and kicks the
//! PPP sessions calling from inside the network.

use std::net::IpAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use tgate_core::storage::{Ban, BanMatch};
use tracing::instrument;
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use super::service::{self, API_PAGES, BanQuery, Paging};
use super::{ACTOR, Admin, JsonObject, Params};
use crate::ApiState;
use crate::error::ApiError;

/// A ban as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BanView {
    pub id: i64,
    /// The banned network; a single address is a /32 or /128.
    #[schema(example = "203.0.113.7/32")]
    pub network: String,
    pub reason: String,
    /// `admin`, or the policy that banned it (`strikes`, `deny`).
    pub source: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<String>,
    /// In force now: not lifted and not yet over.
    pub active: bool,
}

impl BanView {
    pub fn new(b: Ban, now: DateTime<Utc>) -> Self {
        let active = b.lifted_at.is_none() && b.until > now;
        BanView {
            id: b.id,
            network: b.network.to_string(),
            reason: b.reason,
            source: b.source,
            created_by: b.created_by,
            created_at: b.created_at,
            until: b.until,
            lifted_at: b.lifted_at,
            lifted_by: b.lifted_by,
            active,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BanList {
    pub bans: Vec<BanView>,
}

/// What an admin asks to ban.
// Doc-only: the handler reads the body field by field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewBanRequest {
    /// An address or a network in CIDR notation.
    #[schema(example = "198.51.100.0/24")]
    pub address: String,
    /// How long, e.g. `90m`, `1h`, `2d`; more than zero, at most a year.
    #[schema(example = "1h")]
    pub duration: String,
    /// Why, 1 to 200 printable characters.
    #[schema(example = "brute force from this network")]
    pub reason: String,
}

/// Lists bans, newest first.
#[utoipa::path(
    get, path = "/v1/admin/bans", tag = "admin", operation_id = "admin_list_bans",
    security(("admin_token" = [])),
    params(
        ("active" = Option<bool>, Query, description = "true (default): only bans in force; false: every ban, lifted and expired ones too"),
        ("address" = Option<String>, Query, description = "only bans covering this IP address"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "page size, default 100"),
        ("offset" = Option<i64>, Query, minimum = 0, description = "rows to skip"),
    ),
    responses(
        (status = 200, description = "the bans", body = BanList),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 422, description = "a bad parameter, named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all)]
pub async fn list(
    _: Admin,
    State(state): State<ApiState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<BanList>, ApiError> {
    let q = Params::new(query)?;
    let active = match q.get("active") {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(ApiError::field("active", "must be true or false")),
    };
    let address: Option<IpAddr> = q.parse("address", "not an IP address")?;
    let query = BanQuery {
        active,
        network: address.map(BanMatch::Covering),
        paging: Paging::new(q.limit()?, q.offset()?, API_PAGES)?,
    };
    let bans = service::bans(&state.gate, &query).await?;
    let now = Utc::now();
    Ok(Json(BanList {
        bans: bans.into_iter().map(|b| BanView::new(b, now)).collect(),
    }))
}

/// Bans an address or a network: the row, every router's ban list with a
/// matching timeout, and a kick of the PPP sessions calling from inside it.
#[utoipa::path(
    post, path = "/v1/admin/bans", tag = "admin", operation_id = "admin_add_ban",
    security(("admin_token" = [])),
    request_body = NewBanRequest,
    responses(
        (status = 201, description = "the ban, in force", body = BanView),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 422, description = "a bad field (address, duration, reason, body), named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(network))]
pub async fn add(
    _: Admin,
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<BanView>), ApiError> {
    let f = JsonObject::parse(body, false)?;
    let network = service::network("address", f.required("address")?)?;
    tracing::Span::current().record("network", tracing::field::display(network));
    let length = service::ban_length(Some(f.required("duration")?))?;
    let reason = service::ban_reason(Some(f.required("reason")?))?;
    let ban = service::ban(&state.gate, "address", network, length, reason, ACTOR).await?;
    Ok((StatusCode::CREATED, Json(BanView::new(ban, Utc::now()))))
}

/// Lifts a ban in force; the routers drop it unless another ban in force
/// covers the same network.
#[utoipa::path(
    delete, path = "/v1/admin/bans/{id}", tag = "admin", operation_id = "admin_lift_ban",
    security(("admin_token" = [])),
    params(("id" = i64, Path, description = "the ban's id")),
    responses(
        (status = 200, description = "the lifted ban", body = BanView),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "no ban in force has this id", body = ErrorBody),
        (status = 422, description = "id is not a number", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(ban = %id))]
pub async fn lift(
    _: Admin,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<BanView>, ApiError> {
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| ApiError::field("id", "not a ban id"))?;
    let ban = service::lift(&state.gate, id, ACTOR).await?;
    Ok(Json(BanView::new(ban, Utc::now())))
}
