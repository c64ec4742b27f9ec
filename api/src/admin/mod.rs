//! The admin API (SPEC §8): bans, sessions and kicks, accounts and invites,
//! router health and the audit log, behind the admin bearer token. Handlers
//! read and check their input here, then call the same core operations the
//! bot and the CLI use, always as actor [`ACTOR`], so the audit log says the
//! change came through this API.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::routing::MethodRouter;
use axum::routing::{delete, get, post};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::ApiState;
use crate::body::MAX_BODY;
use crate::error::ApiError;

pub(crate) mod accounts;
mod audit;
pub(crate) mod bans;
pub mod openapi;
pub(crate) mod routers;
pub(crate) mod service;
pub(crate) mod sessions;

/// Who the audit log names for every change made through this API.
pub const ACTOR: &str = "admin-api";

/// The admin routes, for the API's one table of routes.
pub fn routes() -> Vec<(&'static str, MethodRouter<ApiState>)> {
    vec![
        ("/v1/admin/bans", get(bans::list).post(bans::add)),
        ("/v1/admin/bans/{id}", delete(bans::lift)),
        ("/v1/admin/sessions", get(sessions::list)),
        ("/v1/admin/sessions/{id}/kick", post(sessions::kick)),
        (
            "/v1/admin/accounts",
            get(accounts::list).post(accounts::create),
        ),
        (
            "/v1/admin/accounts/{router}/{account}/invite",
            post(accounts::invite),
        ),
        (
            "/v1/admin/accounts/{router}/{account}/owner",
            delete(accounts::remove_owner),
        ),
        (
            "/v1/admin/accounts/{router}/{account}/lock",
            post(accounts::lock),
        ),
        (
            "/v1/admin/accounts/{router}/{account}/unlock",
            post(accounts::unlock),
        ),
        ("/v1/admin/routers", get(routers::list)),
        ("/v1/admin/audit", get(audit::list)),
    ]
}

/// Proof that the request carries the admin token. As the first extractor of
/// every admin handler it runs before the path, query or body is looked at,
/// so a caller without the token learns nothing about what it sent.
pub struct Admin;

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        // No token configured: the admin API is off, not open.
        let expected = state
            .gate
            .config()
            .server
            .admin_token
            .as_ref()
            .ok_or(ApiError::Unauthorized)?;
        let presented = parts
            .headers
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
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// A query string as name → value, refused as a whole only when it is not
/// form-encoded at all.
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    pub fn new(
        raw: Result<Query<HashMap<String, String>>, QueryRejection>,
    ) -> Result<Self, ApiError> {
        raw.map(|Query(map)| Params(map))
            .map_err(|e| ApiError::field("query", e.body_text()))
    }

    /// The parameter's value; `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn parse<T: std::str::FromStr>(
        &self,
        key: &str,
        reason: &str,
    ) -> Result<Option<T>, ApiError> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse::<T>()
                    .map_err(|_| ApiError::field(key, reason))
            })
            .transpose()
    }

    /// `limit`, when given, as a whole number; its bounds are the
    /// listing's [`service::Paging`].
    pub fn limit(&self) -> Result<Option<i64>, ApiError> {
        self.parse::<i64>("limit", "not a whole number")
    }

    /// `offset`, when given, as a whole number.
    pub fn offset(&self) -> Result<Option<i64>, ApiError> {
        self.parse::<i64>("offset", "not a whole number")
    }
}

/// A JSON object body, read field by field so a bad value is refused with
/// its name. An empty body reads as `{}` when `optional`.
pub(crate) struct JsonObject(Map<String, Value>);

impl JsonObject {
    pub fn parse(body: Result<Bytes, BytesRejection>, optional: bool) -> Result<Self, ApiError> {
        let body = body.map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_) => ApiError::TooLarge(MAX_BODY),
            other => ApiError::field("body", other.body_text()),
        })?;
        if optional && body.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonObject(Map::new()));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::field("body", "must be a JSON object")),
            Err(e) => Err(ApiError::field("body", format!("not valid JSON: {e}"))),
        }
    }

    /// The field's text; `None` when absent or null.
    pub fn text(&self, key: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::field(key, "must be a string")),
        }
    }

    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.text(key)?
            .ok_or_else(|| ApiError::field(key, "missing"))
    }
}

/// A store failure is ours, never the caller's.
pub(crate) fn internal(e: tgate_core::storage::StoreError) -> ApiError {
    ApiError::Internal(e.into())
}
