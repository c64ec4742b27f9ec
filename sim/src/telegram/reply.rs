//! The Bot API's answer envelope. Every client (teloxide included) decides
//! what went wrong from `description` and `parameters`, so the wording here
//! is copied from what api.telegram.org sends, not paraphrased.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::types::Failure;

/// A successful call: the `result`, and the `description` a few methods add.
pub(crate) struct Done {
    pub result: Value,
    pub description: Option<&'static str>,
}

impl From<Value> for Done {
    fn from(result: Value) -> Self {
        Done {
            result,
            description: None,
        }
    }
}

/// A failed call, as `{"ok":false,"error_code":…,"description":…}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TgError {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u32>,
}

pub(crate) type Outcome = Result<Done, TgError>;

impl TgError {
    fn new(code: u16, description: impl Into<String>) -> TgError {
        TgError {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 "Bad Request: …".
    pub fn bad_request(what: impl std::fmt::Display) -> TgError {
        TgError::new(400, format!("Bad Request: {what}"))
    }

    pub fn unauthorized() -> TgError {
        TgError::new(401, "Unauthorized")
    }

    pub fn not_found() -> TgError {
        TgError::new(404, "Not Found")
    }

    pub fn conflict(what: &str) -> TgError {
        TgError::new(409, format!("Conflict: {what}"))
    }

    pub fn chat_not_found() -> TgError {
        TgError::bad_request("chat not found")
    }

    pub fn empty_text() -> TgError {
        TgError::bad_request("message text is empty")
    }

    pub fn edit_not_found() -> TgError {
        TgError::bad_request("message to edit not found")
    }

    pub fn not_modified() -> TgError {
        TgError::bad_request(
            "message is not modified: specified new message content and reply markup are \
             exactly the same as a current content and reply markup of the message",
        )
    }

    pub fn query_invalid() -> TgError {
        TgError::bad_request("query is too old and response timeout expired or query ID is invalid")
    }

    pub fn webhook_active() -> TgError {
        TgError::conflict(
            "can't use getUpdates method while webhook is active; \
             use deleteWebhook to delete the webhook first",
        )
    }

    pub fn terminated_by_other_poll() -> TgError {
        TgError::conflict(
            "terminated by other getUpdates request; \
             make sure that only one bot instance is running",
        )
    }

    pub fn from_failure(failure: &Failure) -> TgError {
        match *failure {
            Failure::TooManyRequests { retry_after } => TgError {
                code: 429,
                description: format!("Too Many Requests: retry after {retry_after}"),
                retry_after: Some(retry_after),
            },
            Failure::ServerError(code) => {
                let reason = StatusCode::from_u16(code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Internal Server Error");
                TgError::new(code, reason)
            }
        }
    }
}

/// The HTTP status and body for an outcome.
pub(crate) fn envelope(outcome: &Outcome) -> (u16, Value) {
    match outcome {
        Ok(done) => {
            let mut body = json!({ "ok": true, "result": done.result });
            if let Some(description) = done.description {
                body["description"] = json!(description);
            }
            (200, body)
        }
        Err(err) => {
            let mut body = json!({
                "ok": false,
                "error_code": err.code,
                "description": err.description,
            });
            if let Some(retry_after) = err.retry_after {
                body["parameters"] = json!({ "retry_after": retry_after });
            }
            (err.code, body)
        }
    }
}

pub(crate) fn into_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}
