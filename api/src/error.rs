//! The API's one error type. Every error is JSON `{"error": …, "detail": …}`
//! with the right status; server-side failures are logged in full and shown
//! to clients only as "internal error".

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tgate_core::gate::GateError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("invalid field {field}: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    #[error("{message}")]
    Refused {
        status: StatusCode,
        state: &'static str,
        message: &'static str,
        detail: Value,
    },
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<GateError> for ApiError {
    fn from(err: GateError) -> Self {
        match err {
            // The router name comes from our own token table, so this is a
            // configuration fault, not the caller's.
            GateError::UnknownRouter(_) | GateError::Store(_) => {
                ApiError::Internal(anyhow::Error::new(err))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "unauthorized", "detail": "missing or unknown credentials" }),
            ),
            ApiError::InvalidField { field, reason } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": "invalid field", "detail": { "field": field, "reason": reason } }),
            ),
            ApiError::TooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "error": "request body too large", "detail": { "max_bytes": max } }),
            ),
            ApiError::Refused {
                status,
                state,
                message,
                detail,
            } => (
                *status,
                json!({ "error": message, "state": state, "detail": detail }),
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                json!({ "error": "not found", "detail": null }),
            ),
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": "internal error", "detail": null }),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}
