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
//!
//! The rules and the listings are [`crate::admin::service`]'s, shared with
//! the admin API; the bans, sessions and accounts answered are the admin
//! API's views. This module checks who is calling, reads the bot's request
//! shapes and wraps the answers in the shapes the watcher reads.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tgate_core::domain::{AccountName, InvalidValue, RouterName};
use tgate_core::enroll::DEFAULT_TTL;
use tgate_core::storage::SessionFilter;
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};

use crate::ApiState;
use crate::admin::accounts::{AccountView, InviteView};
use crate::admin::bans::BanView;
use crate::admin::openapi::ErrorBody;
use crate::admin::routers::RouterList;
use crate::admin::service::{self, BOT_PAGES, BanQuery, KickOutcome, Paging};
use crate::admin::sessions::SessionView;
use crate::error::ApiError;

/// The header naming the Telegram user an admin call is made for.
pub const TELEGRAM_USER: &str = "x-telegram-user";

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

fn body<T: serde::de::DeserializeOwned>(
    raw: Result<Json<T>, JsonRejection>,
) -> Result<T, ApiError> {
    raw.map(|Json(v)| v)
        .map_err(|e| ApiError::field("body", e.body_text()))
}

fn query<T>(raw: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    raw.map(|Query(q)| q)
        .map_err(|e| ApiError::field("query", e.body_text()))
}

/// Which page of a listing.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows to skip, default 0.
    #[param(minimum = 0)]
    offset: Option<i64>,
    /// Page size, 1 to 100, default 10.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

impl PageQuery {
    fn paging(raw: Result<Query<PageQuery>, QueryRejection>) -> Result<Paging, ApiError> {
        let q = query(raw)?;
        Paging::new(q.limit, q.offset, BOT_PAGES)
    }
}

/// Active bans, newest first, one page.
#[derive(Serialize, ToSchema)]
pub struct BanPage {
    bans: Vec<BanView>,
    /// Active bans on every page.
    total: i64,
    offset: i64,
    limit: i64,
}

/// Pending and confirmed sessions, newest first, one page.
#[derive(Serialize, ToSchema)]
pub struct SessionPage {
    sessions: Vec<SessionView>,
    total: i64,
    offset: i64,
    limit: i64,
}

/// Accounts by router and name, one page.
#[derive(Serialize, ToSchema)]
pub struct AccountPage {
    accounts: Vec<AccountView>,
    total: i64,
    offset: i64,
    limit: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BanCreated {
    ban: BanView,
}

#[derive(Serialize, ToSchema)]
pub struct BansLifted {
    lifted: Vec<BanView>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionsKicked {
    kicked: Vec<SessionView>,
}

/// The 409 of an ambiguous kick: `detail.candidates` are the sessions the
/// target could mean.
#[derive(ToSchema)]
#[allow(dead_code)] // doc-only: the answer is an ApiError
pub struct Ambiguous {
    #[schema(example = "ambiguous target")]
    error: String,
    state: String,
    detail: AmbiguousDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AmbiguousDetail {
    candidates: Vec<SessionView>,
}

#[utoipa::path(
    get, path = "/v1/bot/bans", tag = "bot", operation_id = "bot_list_bans",
    security(("service_token" = [])),
    params(("X-Telegram-User" = i64, Header, description = "the admin's Telegram user id"), PageQuery),
    responses(
        (status = 200, description = "a page of the active bans", body = BanPage),
        (status = 401, description = "missing or wrong service token", body = ErrorBody),
        (status = 403, description = "the user is not in telegram.admins", body = ErrorBody),
        (status = 422, description = "a bad header or parameter, named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(admin))]
pub async fn bans(
    State(state): State<ApiState>,
    headers: HeaderMap,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<BanPage>, ApiError> {
    admin(&state, &headers)?;
    let paging = PageQuery::paging(page)?;
    let q = BanQuery {
        active: true,
        network: None,
        paging,
    };
    let (bans, total) = tokio::try_join!(
        service::bans(&state.gate, &q),
        service::count_bans(&state.gate, &q)
    )?;
    let now = Utc::now();
    Ok(Json(BanPage {
        bans: bans.into_iter().map(|b| BanView::new(b, now)).collect(),
        total,
        offset: paging.offset,
        limit: paging.limit,
    }))
}

/// A ban the bot asks for.
#[derive(Deserialize, ToSchema)]
pub struct NewBan {
    /// An address or a network in CIDR notation.
    #[schema(example = "198.51.100.0/24")]
    network: String,
    /// How long, e.g. `90m`, `2d`; default `1h`, at most `365d`.
    #[schema(example = "2h")]
    duration: Option<String>,
    /// Why; a default when absent or empty.
    #[schema(example = "scanner")]
    reason: Option<String>,
}

#[utoipa::path(
    post, path = "/v1/bot/bans", tag = "bot", operation_id = "bot_add_ban",
    security(("service_token" = [])),
    params(("X-Telegram-User" = i64, Header, description = "the admin's Telegram user id")),
    request_body = NewBan,
    responses(
        (status = 201, description = "the ban, in force", body = BanCreated),
        (status = 401, description = "missing or wrong service token", body = ErrorBody),
        (status = 403, description = "the user is not in telegram.admins", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 422, description = "a bad header or field (network, duration, reason, body), named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(admin))]
pub async fn ban(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: Result<Json<NewBan>, JsonRejection>,
) -> Result<(StatusCode, Json<BanCreated>), ApiError> {
    let admin = admin(&state, &headers)?;
    let req = body(req)?;
    let network = service::network("network", &req.network)?;
    let length = service::ban_length(req.duration.as_deref())?;
    // The bot sends what follows the duration; nothing there is no reason.
    let reason = service::ban_reason(req.reason.as_deref().filter(|r| !r.trim().is_empty()))?;
    let ban = service::ban(
        &state.gate,
        "network",
        network,
        length,
        reason,
        &admin.actor,
    )
    .await?;
    let ban = BanView::new(ban, Utc::now());
    Ok((StatusCode::CREATED, Json(BanCreated { ban })))
}

/// Which bans `/unban` lifts: every active one on exactly `network`, or
/// the one with `id`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Unban {
    /// An address or a network.
    network: Option<String>,
    /// A ban's id.
    id: Option<String>,
}

#[utoipa::path(
    delete, path = "/v1/bot/bans", tag = "bot", operation_id = "bot_lift_bans",
    security(("service_token" = [])),
    params(("X-Telegram-User" = i64, Header, description = "the admin's Telegram user id"), Unban),
    responses(
        (status = 200, description = "the bans lifted", body = BansLifted),
        (status = 401, description = "missing or wrong service token", body = ErrorBody),
        (status = 403, description = "the user is not in telegram.admins", body = ErrorBody),
        (status = 404, description = "no active ban matches", body = ErrorBody),
        (status = 422, description = "neither or both of network and id, or a bad one", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(admin))]
pub async fn unban(
    State(state): State<ApiState>,
    headers: HeaderMap,
    q: Result<Query<Unban>, QueryRejection>,
) -> Result<Json<BansLifted>, ApiError> {
    let admin = admin(&state, &headers)?;
    let q = query(q)?;
    let lifted = match (q.network.as_deref(), q.id.as_deref()) {
        (Some(raw), None) => {
            let network = service::network("network", raw)?;
            service::lift_network(&state.gate, network, &admin.actor).await?
        }
        (None, Some(raw)) => {
            let id = raw
                .trim()
                .parse()
                .map_err(|_| ApiError::field("id", format!("not a ban id: {raw}")))?;
            vec![service::lift(&state.gate, id, &admin.actor).await?]
        }
        _ => return Err(ApiError::field("network", "give either network or id")),
    };
    let now = Utc::now();
    Ok(Json(BansLifted {
        lifted: lifted.into_iter().map(|b| BanView::new(b, now)).collect(),
    }))
}

#[utoipa::path(
    get, path = "/v1/bot/sessions", tag = "bot", operation_id = "bot_list_sessions",
    security(("service_token" = [])),
    params(("X-Telegram-User" = i64, Header, description = "the admin's Telegram user id"), PageQuery),
    responses(
        (status = 200, description = "a page of the open sessions", body = SessionPage),
        (status = 401, description = "missing or wrong service token", body = ErrorBody),
        (status = 403, description = "the user is not in telegram.admins", body = ErrorBody),
        (status = 422, description = "a bad header or parameter, named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(admin))]
pub async fn sessions(
    State(state): State<ApiState>,
    headers: HeaderMap,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<SessionPage>, ApiError> {
    admin(&state, &headers)?;
    let paging = PageQuery::paging(page)?;
    let filter = SessionFilter {
        open: true,
        limit: paging.limit,
        offset: paging.offset,
        ..SessionFilter::default()
    };
    let (sessions, total) = tokio::try_join!(
        service::sessions(&state.gate, &filter),
        service::count_sessions(&state.gate, &filter)
    )?;
    Ok(Json(SessionPage {
        sessions: sessions.into_iter().map(SessionView::from).collect(),
        total,
        offset: paging.offset,
        limit: paging.limit,
    }))
}

/// What `/kick` names.
#[derive(Deserialize, ToSchema)]
pub struct Kick {
    /// A session id, its start (4 characters or more), or an account.
    #[schema(example = "alice")]
    target: String,
}

#[utoipa::path(
    post, path = "/v1/bot/kick", tag = "bot", operation_id = "bot_kick",
    security(("service_token" = [])),
    params(("X-Telegram-User" = i64, Header, description = "the admin's Telegram user id")),
    request_body = Kick,
    responses(
        (status = 200, description = "the sessions ended", body = SessionsKicked),
        (status = 401, description = "missing or wrong service token", body = ErrorBody),
        (status = 403, description = "the user is not in telegram.admins", body = ErrorBody),
        (status = 404, description = "no open session matches", body = ErrorBody),
        (status = 409, description = "the target could mean several sessions", body = Ambiguous),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 422, description = "a bad header or target", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(admin))]
pub async fn kick(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: Result<Json<Kick>, JsonRejection>,
) -> Result<Json<SessionsKicked>, ApiError> {
    let admin = admin(&state, &headers)?;
    let target = body(req)?.target;
    match service::kick_target(&state.gate, &target, &admin.actor).await? {
        KickOutcome::Kicked(kicked) => Ok(Json(SessionsKicked {
            kicked: kicked.into_iter().map(SessionView::from).collect(),
        })),
        KickOutcome::Ambiguous(candidates) => {
            let candidates: Vec<SessionView> =
                candidates.into_iter().map(SessionView::from).collect();
            Err(ApiError::Refused {
                status: StatusCode::CONFLICT,
                state: "ambiguous",
                message: "ambiguous target",
                detail: json!({ "candidates": candidates }),
            })
        }
    }
}

/// Whom `/invite` is for.
#[derive(Deserialize, ToSchema)]
pub struct NewInvite {
    /// A configured router.
    #[schema(example = "office")]
    router: String,
    #[schema(example = "alice")]
    account: String,
}

#[utoipa::path(
    post, path = "/v1/bot/invites", tag = "bot", operation_id = "bot_invite",
    security(("service_token" = [])),
    params(("X-Telegram-User" = i64, Header, description = "the admin's Telegram user id")),
    request_body = NewInvite,
    responses(
        (status = 201, description = "the invite and its deep link", body = InviteView),
        (status = 401, description = "missing or wrong service token", body = ErrorBody),
        (status = 403, description = "the user is not in telegram.admins", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 422, description = "a bad header or field (router, account, body)", body = ErrorBody),
        (status = 503, description = "the bot's username, which the link needs, is unknown", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(admin))]
pub async fn invite(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: Result<Json<NewInvite>, JsonRejection>,
) -> Result<(StatusCode, Json<InviteView>), ApiError> {
    let admin = admin(&state, &headers)?;
    let req = body(req)?;
    let router: RouterName = req
        .router
        .trim()
        .parse()
        .map_err(|e: InvalidValue| ApiError::field("router", e.reason))?;
    if !service::configured(&state.gate, &router) {
        return Err(ApiError::field(
            "router",
            format!("no router named {router}"),
        ));
    }
    let account: AccountName = req
        .account
        .trim()
        .parse()
        .map_err(|e: InvalidValue| ApiError::field("account", e.reason))?;
    // Without the link an invite is of no use in a chat: make none.
    let username = service::bot_username(&state.gate)
        .await
        .ok_or_else(service::no_username)?;
    let invite = service::invite(
        &state.gate,
        &router,
        &account,
        DEFAULT_TTL,
        Some(&username),
        &admin.actor,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

#[utoipa::path(
    get, path = "/v1/bot/accounts", tag = "bot", operation_id = "bot_list_accounts",
    security(("service_token" = [])),
    params(("X-Telegram-User" = i64, Header, description = "the admin's Telegram user id"), PageQuery),
    responses(
        (status = 200, description = "a page of the accounts", body = AccountPage),
        (status = 401, description = "missing or wrong service token", body = ErrorBody),
        (status = 403, description = "the user is not in telegram.admins", body = ErrorBody),
        (status = 422, description = "a bad header or parameter, named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(admin))]
pub async fn accounts(
    State(state): State<ApiState>,
    headers: HeaderMap,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<AccountPage>, ApiError> {
    admin(&state, &headers)?;
    let paging = PageQuery::paging(page)?;
    let (accounts, total) = tokio::try_join!(
        service::accounts(&state.gate, None, Some(paging)),
        service::count_accounts(&state.gate, None)
    )?;
    Ok(Json(AccountPage {
        accounts: accounts.into_iter().map(AccountView::from).collect(),
        total,
        offset: paging.offset,
        limit: paging.limit,
    }))
}

#[utoipa::path(
    get, path = "/v1/bot/routers", tag = "bot", operation_id = "bot_list_routers",
    security(("service_token" = [])),
    params(("X-Telegram-User" = i64, Header, description = "the admin's Telegram user id")),
    responses(
        (status = 200, description = "every router with its health, by name", body = RouterList),
        (status = 401, description = "missing or wrong service token", body = ErrorBody),
        (status = 403, description = "the user is not in telegram.admins", body = ErrorBody),
        (status = 422, description = "a bad X-Telegram-User header", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(admin))]
pub async fn routers(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Json<RouterList>, ApiError> {
    admin(&state, &headers)?;
    let routers = service::routers(&state.gate).await?;
    Ok(Json(RouterList {
        routers: routers.into_iter().map(Into::into).collect(),
    }))
}
