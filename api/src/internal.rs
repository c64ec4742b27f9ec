//! Internal endpoints, called by the watcher with the service token: the
//! owner's button presses, enrollment, and a user's own status and language.
//! The watcher only relays what Telegram told it; every decision is made here.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use tgate_core::domain::SessionId;
use tgate_core::gate::PressOutcome;
use tgate_core::storage::{AuditEntry, InviteUse};
use tgate_core::telegram::Lang;
use tgate_core::telegram::callback::Action;
use tracing::instrument;

use crate::ApiState;
use crate::error::ApiError;

fn authorize(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
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
    if bool::from(
        expected
            .expose_secret()
            .as_bytes()
            .ct_eq(presented.trim().as_bytes()),
    ) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::field("id", "not a session id"))
}

#[derive(Deserialize)]
pub struct Press {
    telegram_user_id: i64,
}

/// A JSON body, refused with the field named when it does not fit.
pub(crate) fn body<T: serde::de::DeserializeOwned>(
    raw: Result<Json<T>, JsonRejection>,
) -> Result<T, ApiError> {
    raw.map(|Json(v)| v).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(crate::body::MAX_BODY)
        } else {
            ApiError::field("body", e.body_text())
        }
    })
}

/// It's me.
#[utoipa::path(
    post, path = "/v1/sessions/{id}/confirm", tag = "internal", operation_id = "session_confirm",
    description = "The owner pressed It's me.",
    security(("service_token" = [])),
    params(("id" = String, Path, description = "the session id")),
    request_body = crate::admin::openapi::Press,
    responses(
        (status = 200, description = "decided; outcome says what happened", body = crate::admin::openapi::PressAnswer),
        (status = 401, description = "no or wrong service token", body = crate::admin::openapi::ErrorBody),
        (status = 403, description = "the presser does not own the account", body = crate::admin::openapi::ErrorBody),
        (status = 404, description = "no such session", body = crate::admin::openapi::ErrorBody),
        (status = 409, description = "the session is no longer pending", body = crate::admin::openapi::NotPending),
        (status = 422, description = "a bad id or body, named in detail.field", body = crate::admin::openapi::ErrorBody),
    )
)]
pub async fn confirm(
    state: State<ApiState>,
    headers: HeaderMap,
    id: Path<String>,
    press: Result<Json<Press>, JsonRejection>,
) -> Result<Response, ApiError> {
    pressed(Action::Confirm, state, headers, id, press).await
}

/// Not me.
#[utoipa::path(
    post, path = "/v1/sessions/{id}/deny", tag = "internal", operation_id = "session_deny",
    description = "The owner pressed Not me.",
    security(("service_token" = [])),
    params(("id" = String, Path, description = "the session id")),
    request_body = crate::admin::openapi::Press,
    responses(
        (status = 200, description = "decided; outcome says what happened", body = crate::admin::openapi::PressAnswer),
        (status = 401, description = "no or wrong service token", body = crate::admin::openapi::ErrorBody),
        (status = 403, description = "the presser does not own the account", body = crate::admin::openapi::ErrorBody),
        (status = 404, description = "no such session", body = crate::admin::openapi::ErrorBody),
        (status = 409, description = "the session is no longer pending", body = crate::admin::openapi::NotPending),
        (status = 422, description = "a bad id or body, named in detail.field", body = crate::admin::openapi::ErrorBody),
    )
)]
pub async fn deny(
    state: State<ApiState>,
    headers: HeaderMap,
    id: Path<String>,
    press: Result<Json<Press>, JsonRejection>,
) -> Result<Response, ApiError> {
    pressed(Action::Deny, state, headers, id, press).await
}

#[instrument(skip_all, fields(session = %id, ?action))]
async fn pressed(
    action: Action,
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    press: Result<Json<Press>, JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let id = session_id(&id)?;
    let by = body(press)?.telegram_user_id;
    let outcome = match action {
        Action::Confirm => state.gate.confirm(id, by).await?,
        Action::Deny => state.gate.deny(id, by).await?,
    };
    state.metrics.press(action, &outcome);
    press_answer(outcome)
}

fn press_answer(outcome: PressOutcome) -> Result<Response, ApiError> {
    let done = |s: &tgate_core::storage::Session, outcome: &str| {
        Ok((
            StatusCode::OK,
            Json(json!({ "session": s.id, "state": s.state, "outcome": outcome })),
        )
            .into_response())
    };
    match outcome {
        PressOutcome::Allowed(s) => done(&s, "allowed"),
        PressOutcome::Denied(s) => done(&s, "denied"),
        PressOutcome::Gone(s) => done(&s, "gone"),
        PressOutcome::RouterUnreachable(s) => done(&s, "router_unreachable"),
        PressOutcome::NotPending(state) => Ok((
            StatusCode::CONFLICT,
            Json(json!({ "error": "session is no longer pending", "state": state })),
        )
            .into_response()),
        PressOutcome::NotOwner => Ok((
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "not the owner", "detail": null })),
        )
            .into_response()),
        PressOutcome::NotFound => Err(ApiError::NotFound),
    }
}

#[derive(Deserialize)]
pub struct Enroll {
    code: String,
    telegram_user_id: i64,
    language: Option<String>,
}

#[utoipa::path(
    post, path = "/v1/enroll", tag = "internal", operation_id = "enroll",
    security(("service_token" = [])),
    request_body = crate::admin::openapi::EnrollRequest,
    responses(
        (status = 200, description = "the presenter now owns the account", body = crate::admin::openapi::Enrolled),
        (status = 401, description = "no or wrong service token", body = crate::admin::openapi::ErrorBody),
        (status = 404, description = "unknown code", body = crate::admin::openapi::ErrorBody),
        (status = 410, description = "the invite was used or has expired (see reason)", body = crate::admin::openapi::ErrorBody),
        (status = 422, description = "a bad field, named in detail.field", body = crate::admin::openapi::ErrorBody),
    )
)]
#[instrument(skip_all, fields(user))]
pub async fn enroll(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: Result<Json<Enroll>, JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let req = body(req)?;
    tracing::Span::current().record("user", req.telegram_user_id);
    // Telegram's start parameter alphabet; anything else is not our code.
    if req.code.is_empty()
        || req.code.len() > 64
        || !req
            .code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::field("code", "not an invite code"));
    }
    let lang = Lang::from_telegram(req.language.as_deref());
    let store = state.gate.store();
    let used = store
        .use_invite(&req.code, req.telegram_user_id, lang.code(), Utc::now())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let gone = |reason: &str, message: &str| {
        (
            StatusCode::GONE,
            Json(json!({ "error": message, "reason": reason })),
        )
            .into_response()
    };
    Ok(match used {
        InviteUse::Enrolled(invite) => {
            store
                .audit(
                    &AuditEntry::new(format!("tg:{}", req.telegram_user_id), "account.enrolled")
                        .router(&invite.router)
                        .account(&invite.account),
                )
                .await
                .map_err(|e| ApiError::Internal(e.into()))?;
            (
                StatusCode::OK,
                Json(json!({ "router": invite.router, "account": invite.account })),
            )
                .into_response()
        }
        InviteUse::Unknown => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown code", "detail": null })),
        )
            .into_response(),
        InviteUse::AlreadyUsed => gone("used", "invite already used"),
        InviteUse::Expired => gone("expired", "invite expired"),
    })
}

#[utoipa::path(
    get, path = "/v1/users/{user}", tag = "internal", operation_id = "user_status",
    security(("service_token" = [])),
    params(("user" = i64, Path, description = "Telegram user id")),
    responses(
        (status = 200, description = "the user's accounts and open sessions", body = crate::admin::openapi::UserStatus),
        (status = 400, description = "user is not a number", content_type = "text/plain", body = String),
        (status = 401, description = "no or wrong service token", body = crate::admin::openapi::ErrorBody),
    )
)]
pub async fn user(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(user): Path<i64>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let store = state.gate.store();
    let internal = |e: tgate_core::storage::StoreError| ApiError::Internal(e.into());
    let accounts = store.accounts_of_owner(user).await.map_err(internal)?;
    let sessions = store.open_sessions_of_owner(user).await.map_err(internal)?;
    let language = accounts.iter().find_map(|a| a.language.clone());
    Ok(Json(json!({
        "language": language,
        "accounts": accounts.iter().map(|a| json!({ "router": a.router, "account": a.name })).collect::<Vec<_>>(),
        "sessions": sessions.iter().map(|s| json!({
            "id": s.id, "router": s.router, "account": s.account, "state": s.state,
            "caller_id": s.caller_id.to_string(), "remote_address": s.remote_address,
            "created_at": s.created_at,
        })).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct Language {
    language: String,
}

#[utoipa::path(
    post, path = "/v1/users/{user}/language", tag = "internal", operation_id = "user_language",
    security(("service_token" = [])),
    params(("user" = i64, Path, description = "Telegram user id")),
    request_body = crate::admin::openapi::LanguageRequest,
    responses(
        (status = 200, description = "the language of every account the user owns", body = crate::admin::openapi::LanguageAnswer),
        (status = 400, description = "user is not a number", content_type = "text/plain", body = String),
        (status = 401, description = "no or wrong service token", body = crate::admin::openapi::ErrorBody),
        (status = 422, description = "a bad field, named in detail.field", body = crate::admin::openapi::ErrorBody),
    )
)]
pub async fn set_language(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(user): Path<i64>,
    req: Result<Json<Language>, JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let req = body(req)?;
    let lang: Lang = req
        .language
        .parse()
        .map_err(|e: tgate_core::domain::InvalidValue| ApiError::field("language", e.reason))?;
    state
        .gate
        .store()
        .set_owner_language(user, lang.code())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(json!({ "language": lang })).into_response())
}
