//! The watcher's only way to change anything: HTTP calls to tgate's API with
//! the service token. Each call returns what the API decided, as a small
//! enum the handlers turn into words; anything the API did not decide
//! (unreachable, 5xx, a refused token, an answer we cannot read) is an
//! [`ApiError`], which users see as "temporarily unavailable".
//!
//! A 403/404/409/410 counts as the API's decision only when it carries the
//! API's JSON error body: a bare 404 more likely means `api_base` points at
//! the wrong server, and telling a user "unknown session" would hide that.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tgate_core::domain::SessionId;
use tgate_core::telegram::Lang;
use tgate_core::telegram::callback::Action;

/// A confirm or deny press would otherwise spin for as long as the API takes;
/// the API's own router retry budget fits well inside this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the API did with a prompt button press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied,
    /// The client disconnected before the press.
    Gone,
    /// The router could not be reached; the client stays sandboxed.
    RouterUnreachable,
    AlreadyHandled,
    Expired,
    NotOwner,
    UnknownSession,
}

/// What the API did with an invite code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrollment {
    Enrolled {
        router: String,
        account: String,
    },
    /// No such code, or not even shaped like one.
    Unknown,
    Used,
    Expired,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UserStatus {
    #[serde(default)]
    pub language: Option<Lang>,
    #[serde(default)]
    pub accounts: Vec<AccountInfo>,
    #[serde(default)]
    pub sessions: Vec<SessionInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountInfo {
    pub router: String,
    pub account: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub router: String,
    pub account: String,
    pub state: String,
    #[serde(default)]
    pub caller_id: Option<String>,
    #[serde(default)]
    pub remote_address: Option<String>,
    pub created_at: String,
}

/// The API did not decide; the user may try again later.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("tgate's API could not be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("tgate's API refused the service token (401): check the watcher's service token")]
    Unauthorized,
    #[error("tgate's API answered {0}")]
    Status(StatusCode),
    #[error("tgate's API answered {status} with a body the watcher does not understand")]
    BadAnswer { status: StatusCode },
}

/// The API's error body; `state` and `reason` come with 409 and 410.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[allow(dead_code)] // required, so that only the API's own errors parse
    error: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Clone)]
pub struct ApiClient {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    token: SecretString,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl ApiClient {
    pub fn new(base: &str, token: SecretString) -> anyhow::Result<Self> {
        let http = tgate_core::http::client(
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT),
        )?;
        Ok(ApiClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// `POST /v1/sessions/{id}/confirm|deny` for the user who pressed.
    pub async fn decide(
        &self,
        action: Action,
        session: SessionId,
        telegram_user_id: i64,
    ) -> Result<Decision, ApiError> {
        let verb = match action {
            Action::Confirm => "confirm",
            Action::Deny => "deny",
        };
        let req = self
            .http
            .post(format!("{}/v1/sessions/{session}/{verb}", self.base))
            .json(&json!({ "telegram_user_id": telegram_user_id }));
        let (status, body) = self.send(req).await?;
        match status {
            StatusCode::OK => {
                #[derive(Deserialize)]
                struct Done {
                    outcome: String,
                }
                let done: Done = parse(status, &body)?;
                match done.outcome.as_str() {
                    "allowed" => Ok(Decision::Allowed),
                    "denied" => Ok(Decision::Denied),
                    "gone" => Ok(Decision::Gone),
                    "router_unreachable" => Ok(Decision::RouterUnreachable),
                    _ => Err(ApiError::BadAnswer { status }),
                }
            }
            StatusCode::CONFLICT => {
                let err: ErrorBody = parse(status, &body)?;
                Ok(match err.state.as_deref() {
                    Some("expired") => Decision::Expired,
                    // The client disconnected (or the session ran its
                    // course): what the owner needs to hear is that it ended.
                    Some("closed") => Decision::Gone,
                    _ => Decision::AlreadyHandled,
                })
            }
            StatusCode::FORBIDDEN => {
                parse::<ErrorBody>(status, &body)?;
                Ok(Decision::NotOwner)
            }
            StatusCode::NOT_FOUND => {
                parse::<ErrorBody>(status, &body)?;
                Ok(Decision::UnknownSession)
            }
            _ => Err(ApiError::Status(status)),
        }
    }

    /// `POST /v1/enroll`: links the invite's account to this Telegram user.
    pub async fn enroll(
        &self,
        code: &str,
        telegram_user_id: i64,
        language: Lang,
    ) -> Result<Enrollment, ApiError> {
        let req = self
            .http
            .post(format!("{}/v1/enroll", self.base))
            .json(&json!({
                "code": code,
                "telegram_user_id": telegram_user_id,
                "language": language,
            }));
        let (status, body) = self.send(req).await?;
        match status {
            StatusCode::OK => {
                #[derive(Deserialize)]
                struct Enrolled {
                    router: String,
                    account: String,
                }
                let e: Enrolled = parse(status, &body)?;
                Ok(Enrollment::Enrolled {
                    router: e.router,
                    account: e.account,
                })
            }
            StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
                parse::<ErrorBody>(status, &body)?;
                Ok(Enrollment::Unknown)
            }
            StatusCode::GONE => {
                let err: ErrorBody = parse(status, &body)?;
                // "Ask your admin for a new one" is the right advice for any
                // other reason a code stopped working.
                Ok(match err.reason.as_deref() {
                    Some("used") => Enrollment::Used,
                    _ => Enrollment::Expired,
                })
            }
            _ => Err(ApiError::Status(status)),
        }
    }

    /// `GET /v1/users/{id}`: accounts, live sessions and language preference.
    pub async fn user_status(&self, telegram_user_id: i64) -> Result<UserStatus, ApiError> {
        let req = self
            .http
            .get(format!("{}/v1/users/{telegram_user_id}", self.base));
        let (status, body) = self.send(req).await?;
        match status {
            StatusCode::OK => parse(status, &body),
            // A user the API has never seen simply has nothing yet.
            StatusCode::NOT_FOUND => {
                parse::<ErrorBody>(status, &body)?;
                Ok(UserStatus::default())
            }
            _ => Err(ApiError::Status(status)),
        }
    }

    /// `POST /v1/users/{id}/language`.
    pub async fn set_language(
        &self,
        telegram_user_id: i64,
        language: Lang,
    ) -> Result<(), ApiError> {
        let req = self
            .http
            .post(format!(
                "{}/v1/users/{telegram_user_id}/language",
                self.base
            ))
            .json(&json!({ "language": language }));
        let (status, _) = self.send(req).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(ApiError::Status(status))
        }
    }

    /// Sends with the service token and reads the whole answer; a refused
    /// token is its own error because only an operator can fix it.
    pub(crate) async fn send(
        &self,
        req: RequestBuilder,
    ) -> Result<(StatusCode, Vec<u8>), ApiError> {
        let resp = req
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(ApiError::Unreachable)?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(ApiError::Unauthorized);
        }
        if status.is_server_error() {
            return Err(ApiError::Status(status));
        }
        let body = resp.bytes().await.map_err(ApiError::Unreachable)?;
        Ok((status, body.to_vec()))
    }
}

pub(crate) fn parse<T: DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::BadAnswer { status })
}
