//! The admin commands' calls to tgate's API (`/v1/bot/…`). Each names the
//! admin it acts for in the `X-Telegram-User` header; the API checks that
//! id against its own admin list and audits changes as `tg:<id>`.
//!
//! Answers the API decided (403, 404, 409, 422 with its JSON error body)
//! become an [`AdminError`] the handler words for the admin; anything else is
//! [`ApiError`], shown as "temporarily unavailable".

use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api_client::{ApiClient, ApiError, SessionInfo, parse};

/// The header the API reads the acting admin from.
const TELEGRAM_USER: &str = "X-Telegram-User";

/// One page of a list, as the API cut it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BanInfo {
    pub id: i64,
    pub network: String,
    #[serde(default)]
    pub reason: String,
    pub until: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountRow {
    pub router: String,
    pub account: String,
    /// The API names it `owner_tg_id`, as the admin API does.
    #[serde(default, alias = "owner_tg_id")]
    pub owner: Option<i64>,
    #[serde(default)]
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RouterRow {
    pub name: String,
    pub reachable: bool,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub sandbox: Option<usize>,
    #[serde(default)]
    pub permit: Option<usize>,
    #[serde(default)]
    pub ban: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InviteLink {
    pub router: String,
    pub account: String,
    pub link: String,
}

/// Which lists come in pages, and their name in callback data and paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Bans,
    Sessions,
    Accounts,
}

impl Listing {
    pub fn name(self) -> &'static str {
        match self {
            Listing::Bans => "bans",
            Listing::Sessions => "sessions",
            Listing::Accounts => "accounts",
        }
    }

    pub fn from_name(name: &str) -> Option<Listing> {
        [Listing::Bans, Listing::Sessions, Listing::Accounts]
            .into_iter()
            .find(|l| l.name() == name)
    }
}

/// A page of any listing, for the handler that draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    Bans(Page<BanInfo>),
    Sessions(Page<SessionInfo>),
    Accounts(Page<AccountRow>),
}

/// What the API refused, or could not do.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The API's admin list does not have this user.
    #[error("the API does not know this user as an admin")]
    Forbidden,
    #[error("nothing matches")]
    NotFound,
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// `/kick` named more than one thing.
    #[error("ambiguous")]
    Ambiguous(Vec<SessionInfo>),
}

#[derive(Deserialize)]
struct ErrorBody {
    #[allow(dead_code)] // required, so that only the API's own errors parse
    error: String,
    #[serde(default)]
    detail: Value,
}

impl ApiClient {
    /// `GET /v1/bot/{bans,sessions,accounts}?offset=&limit=`.
    pub async fn admin_list(
        &self,
        admin: i64,
        listing: Listing,
        offset: usize,
        limit: usize,
    ) -> Result<Listed, AdminError> {
        let req = self
            .http
            .get(format!("{}/v1/bot/{}", self.base, listing.name()))
            .query(&[("offset", offset), ("limit", limit)]);
        let page: Value = self.admin_call(req, admin).await?;
        let key = listing.name();
        let items = page.get(key).cloned().unwrap_or(Value::Null);
        let total = page["total"].as_u64().unwrap_or(0) as usize;
        let offset = page["offset"].as_u64().unwrap_or(offset as u64) as usize;
        fn items_of<T: DeserializeOwned>(items: Value) -> Result<Vec<T>, AdminError> {
            serde_json::from_value(items).map_err(|_| {
                AdminError::Api(ApiError::BadAnswer {
                    status: StatusCode::OK,
                })
            })
        }
        Ok(match listing {
            Listing::Bans => Listed::Bans(Page {
                items: items_of(items)?,
                total,
                offset,
            }),
            Listing::Sessions => Listed::Sessions(Page {
                items: items_of(items)?,
                total,
                offset,
            }),
            Listing::Accounts => Listed::Accounts(Page {
                items: items_of(items)?,
                total,
                offset,
            }),
        })
    }

    /// `POST /v1/bot/bans`.
    pub async fn admin_ban(
        &self,
        admin: i64,
        network: &str,
        duration: Option<&str>,
        reason: Option<&str>,
    ) -> Result<BanInfo, AdminError> {
        #[derive(Deserialize)]
        struct Created {
            ban: BanInfo,
        }
        let req = self
            .http
            .post(format!("{}/v1/bot/bans", self.base))
            .json(&json!({ "network": network, "duration": duration, "reason": reason }));
        let created: Created = self.admin_call(req, admin).await?;
        Ok(created.ban)
    }

    /// `DELETE /v1/bot/bans?network=` or `?id=`: the bans lifted.
    pub async fn admin_unban(
        &self,
        admin: i64,
        target: &Unban,
    ) -> Result<Vec<BanInfo>, AdminError> {
        #[derive(Deserialize)]
        struct Lifted {
            lifted: Vec<BanInfo>,
        }
        let req = self.http.delete(format!("{}/v1/bot/bans", self.base));
        let req = match target {
            Unban::Network(n) => req.query(&[("network", n)]),
            Unban::Id(id) => req.query(&[("id", id)]),
        };
        let lifted: Lifted = self.admin_call(req, admin).await?;
        Ok(lifted.lifted)
    }

    /// `POST /v1/bot/kick`: the sessions ended.
    pub async fn admin_kick(
        &self,
        admin: i64,
        target: &str,
    ) -> Result<Vec<SessionInfo>, AdminError> {
        #[derive(Deserialize)]
        struct Kicked {
            kicked: Vec<SessionInfo>,
        }
        let req = self
            .http
            .post(format!("{}/v1/bot/kick", self.base))
            .json(&json!({ "target": target }));
        let kicked: Kicked = self.admin_call(req, admin).await?;
        Ok(kicked.kicked)
    }

    /// `POST /v1/bot/invites`.
    pub async fn admin_invite(
        &self,
        admin: i64,
        router: &str,
        account: &str,
    ) -> Result<InviteLink, AdminError> {
        let req = self
            .http
            .post(format!("{}/v1/bot/invites", self.base))
            .json(&json!({ "router": router, "account": account }));
        self.admin_call(req, admin).await
    }

    /// `GET /v1/bot/routers`.
    pub async fn admin_routers(&self, admin: i64) -> Result<Vec<RouterRow>, AdminError> {
        #[derive(Deserialize)]
        struct Routers {
            routers: Vec<RouterRow>,
        }
        let req = self.http.get(format!("{}/v1/bot/routers", self.base));
        let routers: Routers = self.admin_call(req, admin).await?;
        Ok(routers.routers)
    }

    async fn admin_call<T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
        admin: i64,
    ) -> Result<T, AdminError> {
        let (status, body) = self.send(req.header(TELEGRAM_USER, admin)).await?;
        if status.is_success() {
            return Ok(parse(status, &body)?);
        }
        let decided = |status| -> Result<ErrorBody, AdminError> { Ok(parse(status, &body)?) };
        match status {
            StatusCode::FORBIDDEN => {
                decided(status)?;
                Err(AdminError::Forbidden)
            }
            StatusCode::NOT_FOUND => {
                decided(status)?;
                Err(AdminError::NotFound)
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                let err = decided(status)?;
                let text = |k: &str| err.detail[k].as_str().unwrap_or_default().to_owned();
                Err(AdminError::Invalid {
                    field: text("field"),
                    reason: text("reason"),
                })
            }
            StatusCode::CONFLICT => {
                let err = decided(status)?;
                let candidates = serde_json::from_value(err.detail["candidates"].clone())
                    .map_err(|_| ApiError::BadAnswer { status })?;
                Err(AdminError::Ambiguous(candidates))
            }
            _ => Err(ApiError::Status(status).into()),
        }
    }
}

/// What `/unban` names: an exact network, or one ban by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unban {
    Network(String),
    Id(i64),
}
