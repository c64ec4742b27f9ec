//! Bans an admin lists, adds and lifts. A ban is a row first; the core then
//! mirrors it on every router's ban list with the same timeout and kicks the
//! PPP sessions calling from inside the network.

use std::net::IpAddr;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::Serialize;
use std::collections::HashMap;
use tgate_core::config::parse_duration;
use tgate_core::storage::Ban;
use tracing::instrument;
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use super::{ACTOR, Admin, JsonObject, MAX_LIMIT, Params, internal};
use crate::ApiState;
use crate::error::ApiError;

/// The longest ban the API writes: a year. Longer is a firewall rule's job.
pub const MAX_BAN: Duration = Duration::from_secs(365 * 24 * 3600);
pub const MAX_REASON: usize = 200;

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
    let (limit, offset) = (q.limit()?, q.offset()?);
    let now = Utc::now();
    let active_at = active.then_some(now);
    let store = state.gate.store();
    let bans = match address {
        None => store
            .list_bans(active_at, limit, offset)
            .await
            .map_err(internal)?,
        Some(ip) => {
            // The store cannot filter by containment, so read every page and
            // filter here; ban tables stay small.
            let mut covering = Vec::new();
            let mut page = 0;
            loop {
                let rows = store
                    .list_bans(active_at, MAX_LIMIT, page * MAX_LIMIT)
                    .await
                    .map_err(internal)?;
                let done = (rows.len() as i64) < MAX_LIMIT;
                covering.extend(rows.into_iter().filter(|b| b.network.contains(&ip)));
                if done {
                    break;
                }
                page += 1;
            }
            covering
                .into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .collect()
        }
    };
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
    let network = network(f.required("address")?)?;
    let never = &state.gate.config().policy.never_ban;
    if let Some(n) = never
        .iter()
        .find(|n| n.contains(&network) || network.contains(*n))
    {
        return Err(ApiError::field(
            "address",
            format!("overlaps the never_ban network {n}"),
        ));
    }
    tracing::Span::current().record("network", tracing::field::display(network));
    let length = duration(f.required("duration")?)?;
    let reason = reason(f.required("reason")?)?;
    let ban = state.gate.admin_ban(network, length, reason, ACTOR).await?;
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
    let now = Utc::now();
    let in_force = state
        .gate
        .store()
        .ban(id)
        .await
        .map_err(internal)?
        .is_some_and(|b| b.lifted_at.is_none() && b.until > now);
    if !in_force {
        return Err(ApiError::NotFound);
    }
    let ban = state
        .gate
        .lift_ban(id, ACTOR)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(BanView::new(ban, Utc::now())))
}

fn network(raw: &str) -> Result<IpNet, ApiError> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| ApiError::field("address", "not an IP address or network"))
}

fn duration(raw: &str) -> Result<Duration, ApiError> {
    let d = parse_duration(raw).map_err(|e| ApiError::field("duration", e))?;
    if d.is_zero() {
        return Err(ApiError::field("duration", "must be more than zero"));
    }
    if d > MAX_BAN {
        return Err(ApiError::field("duration", "at most 365d"));
    }
    Ok(d)
}

fn reason(raw: &str) -> Result<&str, ApiError> {
    let r = raw.trim();
    let len = r.chars().count();
    if len == 0 {
        return Err(ApiError::field("reason", "missing"));
    }
    if len > MAX_REASON {
        return Err(ApiError::field(
            "reason",
            format!("longer than {MAX_REASON} characters"),
        ));
    }
    if r.chars().any(char::is_control) {
        return Err(ApiError::field("reason", "must be printable"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked_before_anything_is_written() {
        assert_eq!(
            network("203.0.113.7").unwrap().to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(
            network("198.51.100.9/24").unwrap().to_string(),
            "198.51.100.0/24"
        );
        assert!(network("nope").is_err());
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(duration("0s").is_err());
        assert!(duration("400d").is_err());
        assert!(duration("soon").is_err());
        assert!(reason("").is_err());
        assert!(reason("a\u{0}b").is_err());
        assert!(reason(&"x".repeat(201)).is_err());
        assert_eq!(reason(" scan ").unwrap(), "scan");
    }
}
