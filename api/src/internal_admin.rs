//! The API side of the bot's admin commands (`/bans`, `/ban`, `/unban`,
//! `/sessions`, `/kick`, `/invite`, `/accounts`, `/routers`), under
//! `/v1/bot/`. The watcher calls them with the service token, like the other
//! internal endpoints, and names the admin it acts for in the
//! `X-Telegram-User: <telegram user id>` header on every request.
//!
//! The watcher refuses non-admins itself, but the API checks again against
//! `telegram.admins`: the service token proves the caller is our watcher,
//! not that the person behind the command is an admin, and a watcher with a
//! stale admin list must not grant more than the API's config does. Every
//! change is made by the core as `tg:<id>`, which is what the audit log shows.
//!
//! | call | body / query | answer |
//! |---|---|---|
//! | `GET /v1/bot/bans` | `offset`, `limit` | 200 `{bans, total, offset, limit}` (active bans, newest first) |
//! | `POST /v1/bot/bans` | `{network, duration?, reason?}` | 201 `{ban}` |
//! | `DELETE /v1/bot/bans` | `network` or `id` | 200 `{lifted: [ban]}`, 404 when none is active |
//! | `GET /v1/bot/sessions` | `offset`, `limit` | 200 `{sessions, total, offset, limit}` (pending and confirmed) |
//! | `POST /v1/bot/kick` | `{target}`: a session id (or its start), or an account | 200 `{kicked: [session]}`, 404, 409 `{detail: {candidates}}` |
//! | `POST /v1/bot/invites` | `{router, account}` | 201 `{router, account, link, expires_at}` |
//! | `GET /v1/bot/accounts` | `offset`, `limit` | 200 `{accounts, total, offset, limit}` |
//! | `GET /v1/bot/routers` | | 200 `{routers: [health]}` |
//!
//! 401 for a wrong service token, 403 `not an admin`, 422 naming the field
//! for bad input, 503 when the bot's username cannot be learnt for a link.

use std::net::IpAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use ipnet::IpNet;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tgate_core::config::parse_duration;
use tgate_core::domain::{AccountName, RouterName, SessionId};
use tgate_core::enroll::{DEFAULT_TTL, create_invite, invite_link};
use tgate_core::storage::{Ban, Session, StoreError};
use tracing::instrument;

use crate::ApiState;
use crate::error::ApiError;

/// The header naming the Telegram user an admin call is made for.
pub const TELEGRAM_USER: &str = "x-telegram-user";
/// A ban without a duration lasts this long.
const DEFAULT_BAN: Duration = Duration::from_secs(3600);
/// Longer than anyone means; beyond it a typo is more likely than intent.
const MAX_BAN: Duration = Duration::from_secs(10 * 366 * 24 * 3600);
const DEFAULT_PAGE: i64 = 10;
const MAX_PAGE: i64 = 100;
/// A session id's start must be at least this long to pick a session.
const MIN_ID_PREFIX: usize = 4;

/// The admin a call acts for, once the service token and the admin list
/// have both agreed.
struct Admin {
    actor: String,
}

fn admin(state: &ApiState, headers: &HeaderMap) -> Result<Admin, ApiError> {
    let expected = state
        .gate
        .config()
        .server
        .service_token
        .as_ref()
        .ok_or(ApiError::Unauthorized)?;
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let token_ok: bool = expected
        .expose_secret()
        .as_bytes()
        .ct_eq(presented.trim().as_bytes())
        .into();
    if !token_ok {
        return Err(ApiError::Unauthorized);
    }
    let user: i64 = headers
        .get(TELEGRAM_USER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::field("X-Telegram-User", "a Telegram user id is required"))?;
    tracing::Span::current().record("admin", user);
    if !state.gate.config().telegram.admins.contains(&user) {
        tracing::warn!(user, "admin call for a Telegram user who is not an admin");
        return Err(ApiError::Refused {
            status: StatusCode::FORBIDDEN,
            state: "forbidden",
            message: "not an admin",
            detail: Value::Null,
        });
    }
    Ok(Admin {
        actor: format!("tg:{user}"),
    })
}

fn internal(e: StoreError) -> ApiError {
    ApiError::Internal(e.into())
}

fn body<T: serde::de::DeserializeOwned>(
    raw: Result<Json<T>, JsonRejection>,
) -> Result<T, ApiError> {
    raw.map(|Json(v)| v)
        .map_err(|e| ApiError::field("body", e.body_text()))
}

#[derive(Deserialize)]
pub struct PageQuery {
    offset: Option<i64>,
    limit: Option<i64>,
}

impl PageQuery {
    fn read(raw: Result<Query<PageQuery>, QueryRejection>) -> Result<(usize, usize), ApiError> {
        let Query(q) = raw.map_err(|e| ApiError::field("query", e.body_text()))?;
        let offset = q.offset.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::field("offset", "must not be negative"));
        }
        let limit = q.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::field(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        Ok((offset as usize, limit as usize))
    }
}

/// One page of `items` (already in display order) with the paging fields.
fn page(key: &str, items: Vec<Value>, offset: usize, limit: usize) -> Response {
    let total = items.len();
    let shown: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    Json(json!({ key: shown, "total": total, "offset": offset, "limit": limit })).into_response()
}

fn ban_json(b: &Ban) -> Value {
    json!({
        "id": b.id,
        "network": b.network.to_string(),
        "reason": b.reason,
        "source": b.source,
        "created_by": b.created_by,
        "created_at": b.created_at,
        "until": b.until,
    })
}

fn session_json(s: &Session) -> Value {
    json!({
        "id": s.id,
        "router": s.router,
        "account": s.account,
        "state": s.state,
        "caller_id": s.caller_id.to_string(),
        "remote_address": s.remote_address,
        "created_at": s.created_at,
    })
}

/// An address is a network of one.
fn network(field: &str, raw: &str) -> Result<IpNet, ApiError> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| ApiError::field(field, format!("not an IP address or network: {raw}")))
}

#[instrument(skip_all, fields(admin))]
pub async fn bans(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let (offset, limit) = PageQuery::read(query)?;
    let mut active = state
        .gate
        .store()
        .active_bans(Utc::now())
        .await
        .map_err(internal)?;
    active.sort_by_key(|b| std::cmp::Reverse(b.id));
    Ok(page(
        "bans",
        active.iter().map(ban_json).collect(),
        offset,
        limit,
    ))
}

#[derive(Deserialize)]
pub struct NewBan {
    network: String,
    duration: Option<String>,
    reason: Option<String>,
}

#[instrument(skip_all, fields(admin))]
pub async fn ban(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: Result<Json<NewBan>, JsonRejection>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &headers)?;
    let req = body(req)?;
    let network = network("network", &req.network)?;
    let length = match req.duration.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_BAN,
        Some(d) => parse_duration(d).map_err(|e| ApiError::field("duration", e))?,
    };
    if length.is_zero() || length > MAX_BAN {
        return Err(ApiError::field(
            "duration",
            "must be more than zero and at most 10 years",
        ));
    }
    let reason = req.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.chars().count() > 200 {
        return Err(ApiError::field("reason", "at most 200 characters"));
    }
    let reason = if reason.is_empty() {
        "banned by an admin"
    } else {
        reason
    };
    let ban = state
        .gate
        .admin_ban(network, length, reason, &admin.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "ban": ban_json(&ban) }))).into_response())
}

#[derive(Deserialize)]
pub struct Unban {
    network: Option<String>,
    id: Option<String>,
}

#[instrument(skip_all, fields(admin))]
pub async fn unban(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<Unban>, QueryRejection>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &headers)?;
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let ids: Vec<i64> = match (q.network.as_deref(), q.id.as_deref()) {
        (Some(raw), None) => {
            let network = network("network", raw)?;
            state
                .gate
                .store()
                .active_bans(Utc::now())
                .await
                .map_err(internal)?
                .into_iter()
                .filter(|b| b.network == network)
                .map(|b| b.id)
                .collect()
        }
        (None, Some(raw)) => vec![
            raw.trim()
                .parse()
                .map_err(|_| ApiError::field("id", format!("not a ban id: {raw}")))?,
        ],
        _ => return Err(ApiError::field("network", "give either network or id")),
    };
    let mut lifted = Vec::new();
    for id in ids {
        if let Some(ban) = state.gate.lift_ban(id, &admin.actor).await? {
            lifted.push(ban_json(&ban));
        }
    }
    if lifted.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({ "lifted": lifted })).into_response())
}

/// Pending and confirmed sessions on every router, newest first.
async fn open_sessions(state: &ApiState) -> Result<Vec<Session>, ApiError> {
    let mut open = Vec::new();
    for router in &state.gate.config().routers {
        let sessions = state
            .gate
            .store()
            .open_sessions_of_router(&router.name)
            .await
            .map_err(internal)?;
        open.extend(sessions);
    }
    open.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.0.cmp(&a.id.0)));
    Ok(open)
}

#[instrument(skip_all, fields(admin))]
pub async fn sessions(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let (offset, limit) = PageQuery::read(query)?;
    let open = open_sessions(&state).await?;
    Ok(page(
        "sessions",
        open.iter().map(session_json).collect(),
        offset,
        limit,
    ))
}

#[derive(Deserialize)]
pub struct Kick {
    target: String,
}

/// Which open sessions `target` names: a full session id, the start of one
/// (as `/sessions` shows it), or an account's name on any router.
/// `Err(candidates)` when it could mean more than one thing.
fn resolve<'a>(open: &'a [Session], target: &str) -> Result<Vec<&'a Session>, Vec<&'a Session>> {
    if let Ok(id) = target.parse::<SessionId>() {
        return Ok(open.iter().filter(|s| s.id == id).collect());
    }
    let by_account: Vec<&Session> = open
        .iter()
        .filter(|s| s.account.as_str() == target)
        .collect();
    let prefix = target.to_ascii_lowercase();
    let by_id: Vec<&Session> = if prefix.len() >= MIN_ID_PREFIX
        && prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    {
        open.iter()
            .filter(|s| s.id.to_string().starts_with(&prefix))
            .collect()
    } else {
        Vec::new()
    };
    match (by_account.is_empty(), by_id.len()) {
        (false, 0) => Ok(by_account),
        (true, 0 | 1) => Ok(by_id),
        (true, _) => Err(by_id),
        (false, _) => Err(by_account.into_iter().chain(by_id).collect()),
    }
}

#[instrument(skip_all, fields(admin))]
pub async fn kick(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: Result<Json<Kick>, JsonRejection>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &headers)?;
    let target = body(req)?.target.trim().to_owned();
    if target.is_empty() || target.len() > 64 {
        return Err(ApiError::field("target", "a session id or an account name"));
    }
    let open = open_sessions(&state).await?;
    let chosen = match resolve(&open, &target) {
        Ok(chosen) => chosen,
        Err(candidates) => {
            return Err(ApiError::Refused {
                status: StatusCode::CONFLICT,
                state: "ambiguous",
                message: "ambiguous target",
                detail: json!({
                    "candidates": candidates.into_iter().map(session_json).collect::<Vec<_>>()
                }),
            });
        }
    };
    let mut kicked = Vec::new();
    for s in chosen {
        if let Some(closed) = state.gate.kick(s.id, &admin.actor).await? {
            kicked.push(session_json(&closed));
        }
    }
    if kicked.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({ "kicked": kicked })).into_response())
}

#[derive(Deserialize)]
pub struct NewInvite {
    router: String,
    account: String,
}

#[instrument(skip_all, fields(admin))]
pub async fn invite(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: Result<Json<NewInvite>, JsonRejection>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &headers)?;
    let req = body(req)?;
    let router: RouterName = req
        .router
        .trim()
        .parse()
        .map_err(|e: tgate_core::domain::InvalidValue| ApiError::field("router", e.reason))?;
    if state.gate.router(&router).is_err() {
        return Err(ApiError::field(
            "router",
            format!("no router named {router}"),
        ));
    }
    let account: AccountName = req
        .account
        .trim()
        .parse()
        .map_err(|e: tgate_core::domain::InvalidValue| ApiError::field("account", e.reason))?;
    // The link needs the bot's name; without it an invite is of no use.
    let username = match state.gate.telegram() {
        Some(tg) => tg.username().await.ok(),
        None => None,
    };
    let Some(username) = username else {
        return Err(ApiError::Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            state: "telegram_unavailable",
            message: "the bot's username could not be learnt from Telegram",
            detail: Value::Null,
        });
    };
    let invite = create_invite(
        state.gate.store().as_ref(),
        &router,
        &account,
        &admin.actor,
        DEFAULT_TTL,
    )
    .await
    .map_err(internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "router": invite.router,
            "account": invite.account,
            "link": invite_link(&username, &invite.code),
            "expires_at": invite.expires_at,
        })),
    )
        .into_response())
}

#[instrument(skip_all, fields(admin))]
pub async fn accounts(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let (offset, limit) = PageQuery::read(query)?;
    let mut all = state
        .gate
        .store()
        .list_accounts(None)
        .await
        .map_err(internal)?;
    all.sort_by(|a, b| {
        (a.router.as_str(), a.name.as_str()).cmp(&(b.router.as_str(), b.name.as_str()))
    });
    let items = all
        .iter()
        .map(|a| {
            json!({
                "router": a.router,
                "account": a.name,
                "owner": a.owner_tg_id,
                "locked": a.locked,
                "is_admin": a.is_admin,
            })
        })
        .collect();
    Ok(page("accounts", items, offset, limit))
}

#[instrument(skip_all, fields(admin))]
pub async fn routers(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    // All at once: an unreachable router costs its timeout, not everyone's.
    let mut checks = tokio::task::JoinSet::new();
    for (i, r) in state.gate.config().routers.iter().enumerate() {
        let gate = state.gate.clone();
        let name = r.name.clone();
        checks.spawn(async move { (i, gate.router_health(&name).await) });
    }
    let mut found = Vec::new();
    while let Some(done) = checks.join_next().await {
        let (i, health) = done.map_err(|e| ApiError::Internal(e.into()))?;
        found.push((i, health?));
    }
    found.sort_by_key(|(i, _)| *i);
    let routers: Vec<_> = found.into_iter().map(|(_, h)| h).collect();
    Ok(Json(json!({ "routers": routers })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_networks_parse_and_truncate() {
        assert_eq!(
            network("n", "203.0.113.7").unwrap().to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(
            network("n", "203.0.113.9/24").unwrap().to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(
            network("n", "2001:db8::1/64").unwrap().to_string(),
            "2001:db8::/64"
        );
        assert!(network("n", "1.2.3").is_err());
        assert!(network("n", "1.2.3.4/33").is_err());
    }
}
