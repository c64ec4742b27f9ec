//! VPN accounts: list, create, invite an owner, drop the owner, lock and
//! unlock. A locked account's connects are refused without a prompt.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tgate_core::config::parse_duration;
use tgate_core::domain::{AccountName, RouterName};
use tgate_core::enroll::DEFAULT_TTL;
use tgate_core::storage::{Account, AuditEntry};
use tracing::instrument;
use utoipa::ToSchema;

use super::openapi::ErrorBody;
use super::{ACTOR, Admin, JsonObject, Params, internal, service};
use crate::ApiState;
use crate::error::ApiError;

/// The longest an invite may stay open.
pub const MAX_INVITE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub router: String,
    pub account: String,
    /// The Telegram user who confirms this account's logins; null until
    /// enrolled.
    pub owner_tg_id: Option<i64>,
    pub language: Option<String>,
    pub locked: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView {
            router: a.router.to_string(),
            account: a.name.to_string(),
            owner_tg_id: a.owner_tg_id,
            language: a.language,
            locked: a.locked,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
}

// Doc-only: the handler reads the body field by field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewAccountRequest {
    /// A configured router.
    #[schema(example = "office")]
    pub router: String,
    /// The PPP secret's name.
    #[schema(example = "alice")]
    pub account: String,
}

// Doc-only: the handler reads the body field by field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InviteRequest {
    /// How long the invite stays open, default `24h`, at most `30d`.
    #[schema(example = "24h")]
    pub ttl: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    pub router: String,
    pub account: String,
    /// The one-time code the bot's `/start` takes.
    pub code: String,
    /// The `t.me` deep link; null when the bot's username is not known.
    pub link: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Lists VPN accounts.
#[utoipa::path(
    get, path = "/v1/admin/accounts", tag = "admin", operation_id = "admin_list_accounts",
    security(("admin_token" = [])),
    params(("router" = Option<String>, Query, description = "only this router's accounts")),
    responses(
        (status = 200, description = "the accounts", body = AccountList),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 422, description = "router is not a router name", body = ErrorBody),
    )
)]
#[instrument(skip_all)]
pub async fn list(
    _: Admin,
    State(state): State<ApiState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<AccountList>, ApiError> {
    let q = Params::new(query)?;
    let router = q.parse::<RouterName>("router", "not a router name")?;
    let accounts = service::accounts(&state.gate, router.as_ref(), None).await?;
    Ok(Json(AccountList {
        accounts: accounts.into_iter().map(AccountView::from).collect(),
    }))
}

/// Creates an account (no owner yet); an existing one is returned as is.
#[utoipa::path(
    post, path = "/v1/admin/accounts", tag = "admin", operation_id = "admin_create_account",
    security(("admin_token" = [])),
    request_body = NewAccountRequest,
    responses(
        (status = 201, description = "the new account", body = AccountView),
        (status = 200, description = "the account already existed", body = AccountView),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 422, description = "a bad field (router, account, body), named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all)]
pub async fn create(
    _: Admin,
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let f = JsonObject::parse(body, false)?;
    let router: RouterName = f
        .required("router")?
        .trim()
        .parse()
        .map_err(|_| ApiError::field("router", "not a router name"))?;
    if !service::configured(&state.gate, &router) {
        return Err(ApiError::field("router", "no such router is configured"));
    }
    let account: AccountName = f
        .required("account")?
        .trim()
        .parse()
        .map_err(|e: tgate_core::domain::InvalidValue| ApiError::field("account", e.reason))?;
    let store = state.gate.store();
    let existed = store
        .account(&router, &account)
        .await
        .map_err(internal)?
        .is_some();
    let row = store
        .ensure_account(&router, &account)
        .await
        .map_err(internal)?;
    if existed {
        return Ok((StatusCode::OK, Json(row.into())));
    }
    store
        .audit(
            &AuditEntry::new(ACTOR, "account.create")
                .router(&router)
                .account(&account),
        )
        .await
        .map_err(internal)?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// The router and account named in the path; a router that is not
/// configured is not found.
fn target(
    state: &ApiState,
    router: &str,
    account: &str,
) -> Result<(RouterName, AccountName), ApiError> {
    let router: RouterName = router
        .parse()
        .map_err(|_| ApiError::field("router", "not a router name"))?;
    let account: AccountName = account
        .parse()
        .map_err(|e: tgate_core::domain::InvalidValue| ApiError::field("account", e.reason))?;
    if !service::configured(&state.gate, &router) {
        return Err(ApiError::NotFound);
    }
    Ok((router, account))
}

/// Makes a one-time invite whose deep link enrolls the account's owner; the
/// account is created if new.
#[utoipa::path(
    post, path = "/v1/admin/accounts/{router}/{account}/invite", tag = "admin",
    operation_id = "admin_invite",
    security(("admin_token" = [])),
    params(
        ("router" = String, Path, description = "a configured router"),
        ("account" = String, Path, description = "the VPN account"),
    ),
    request_body(content = Option<InviteRequest>, description = "optional; an empty body takes the default ttl"),
    responses(
        (status = 201, description = "the invite", body = InviteView),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "no such router", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 422, description = "a bad field (router, account, ttl, body), named in detail.field", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(router = %router, account = %account))]
pub async fn invite(
    _: Admin,
    State(state): State<ApiState>,
    Path((router, account)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<InviteView>), ApiError> {
    let (router, account) = target(&state, &router, &account)?;
    let f = JsonObject::parse(body, true)?;
    let ttl = match f.text("ttl")? {
        None => DEFAULT_TTL,
        Some(raw) => {
            let ttl = parse_duration(raw).map_err(|e| ApiError::field("ttl", e))?;
            if ttl.is_zero() || ttl > MAX_INVITE_TTL {
                return Err(ApiError::field(
                    "ttl",
                    "must be more than zero, at most 30d",
                ));
            }
            ttl
        }
    };
    let username = service::bot_username(&state.gate).await;
    let invite = service::invite(
        &state.gate,
        &router,
        &account,
        ttl,
        username.as_deref(),
        ACTOR,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

/// Unlinks the account's owner; it needs a new invite before anyone can
/// confirm its logins.
#[utoipa::path(
    delete, path = "/v1/admin/accounts/{router}/{account}/owner", tag = "admin",
    operation_id = "admin_remove_owner",
    security(("admin_token" = [])),
    params(
        ("router" = String, Path, description = "a configured router"),
        ("account" = String, Path, description = "the VPN account"),
    ),
    responses(
        (status = 200, description = "the account, without owner", body = AccountView),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "no such account", body = ErrorBody),
        (status = 422, description = "a bad router or account name", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(router = %router, account = %account))]
pub async fn remove_owner(
    _: Admin,
    State(state): State<ApiState>,
    Path((router, account)): Path<(String, String)>,
) -> Result<Json<AccountView>, ApiError> {
    let (router, account) = target(&state, &router, &account)?;
    let store = state.gate.store();
    if !store
        .set_account_owner(&router, &account, None)
        .await
        .map_err(internal)?
    {
        return Err(ApiError::NotFound);
    }
    changed(&state, &router, &account, "account.owner_removed").await
}

/// Locks the account: its connects are refused without a prompt.
#[utoipa::path(
    post, path = "/v1/admin/accounts/{router}/{account}/lock", tag = "admin",
    operation_id = "admin_lock_account",
    security(("admin_token" = [])),
    params(
        ("router" = String, Path, description = "a configured router"),
        ("account" = String, Path, description = "the VPN account"),
    ),
    responses(
        (status = 200, description = "the locked account", body = AccountView),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "no such account", body = ErrorBody),
        (status = 422, description = "a bad router or account name", body = ErrorBody),
    )
)]
pub async fn lock(
    admin: Admin,
    state: State<ApiState>,
    path: Path<(String, String)>,
) -> Result<Json<AccountView>, ApiError> {
    set_locked(admin, state, path, true).await
}

/// Unlocks the account.
#[utoipa::path(
    post, path = "/v1/admin/accounts/{router}/{account}/unlock", tag = "admin",
    operation_id = "admin_unlock_account",
    security(("admin_token" = [])),
    params(
        ("router" = String, Path, description = "a configured router"),
        ("account" = String, Path, description = "the VPN account"),
    ),
    responses(
        (status = 200, description = "the unlocked account", body = AccountView),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "no such account", body = ErrorBody),
        (status = 422, description = "a bad router or account name", body = ErrorBody),
    )
)]
pub async fn unlock(
    admin: Admin,
    state: State<ApiState>,
    path: Path<(String, String)>,
) -> Result<Json<AccountView>, ApiError> {
    set_locked(admin, state, path, false).await
}

#[instrument(skip_all, fields(router = %router, account = %account, locked))]
async fn set_locked(
    _: Admin,
    State(state): State<ApiState>,
    Path((router, account)): Path<(String, String)>,
    locked: bool,
) -> Result<Json<AccountView>, ApiError> {
    let (router, account) = target(&state, &router, &account)?;
    // The gate audits the change and, on a lock, ends the open sessions.
    state
        .gate
        .set_account_locked(&router, &account, locked, ACTOR)
        .await?
        .ok_or(ApiError::NotFound)?;
    let row = state
        .gate
        .store()
        .account(&router, &account)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(row.into()))
}

/// Audits a change to the account and answers with its new state.
async fn changed(
    state: &ApiState,
    router: &RouterName,
    account: &AccountName,
    action: &str,
) -> Result<Json<AccountView>, ApiError> {
    let store = state.gate.store();
    store
        .audit(
            &AuditEntry::new(ACTOR, action)
                .router(router)
                .account(account),
        )
        .await
        .map_err(internal)?;
    let row = store
        .account(router, account)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(row.into()))
}
