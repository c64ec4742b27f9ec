//! The admin operations behind both admin front-ends: the admin API under
//! `/v1/admin/` (admin token, actor `admin-api`) and the bot's admin
//! commands under `/v1/bot/` (service token and a Telegram admin, actor
//! `tg:<id>`). A front-end checks who is calling, reads its own request shape
//! into these types and shapes the answer; what an address or network is,
//! how long a ban may last, how far a page reaches, what a kick target names
//! and how an invite is made are decided here once. Listings page in SQL.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use chrono::Utc;
use ipnet::IpNet;
use serde_json::Value;
use tgate_core::config::parse_duration;
use tgate_core::domain::{AccountName, RouterName, SessionId};
use tgate_core::enroll::{create_invite, invite_link};
use tgate_core::gate::{Gate, RouterHealth};
use tgate_core::storage::{Account, Ban, BanFilter, BanMatch, Session, SessionFilter};

use super::accounts::InviteView;
use super::internal;
use crate::error::ApiError;

/// A ban without a duration lasts this long.
pub const DEFAULT_BAN: Duration = Duration::from_secs(3600);
/// The longest ban an admin writes: a year. Longer is a firewall rule's job.
pub const MAX_BAN: Duration = Duration::from_secs(365 * 24 * 3600);
pub const MAX_REASON: usize = 200;
/// A ban without a reason says this.
const DEFAULT_REASON: &str = "banned by an admin";
/// A session id's start must be at least this long to pick a session.
const MIN_ID_PREFIX: usize = 4;
/// Kick targets are looked for among this many open sessions at most; there
/// are never more than connected VPN clients.
const MAX_OPEN: i64 = 10_000;
/// How long an invite or a router check waits for Telegram or a router.
const USERNAME_TIMEOUT: Duration = Duration::from_secs(3);
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// How large a front-end's pages are.
#[derive(Debug, Clone, Copy)]
pub struct PageBounds {
    pub default: i64,
    pub max: i64,
}

/// The admin API's listings: large pages for scripts.
pub const API_PAGES: PageBounds = PageBounds {
    default: 100,
    max: 1000,
};
/// The bot's listings: a chat message's worth.
pub const BOT_PAGES: PageBounds = PageBounds {
    default: 10,
    max: 100,
};

/// Which rows of a listing to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    /// `limit` within 1..=`bounds.max` (default `bounds.default`), `offset`
    /// zero or more (default 0).
    pub fn new(
        limit: Option<i64>,
        offset: Option<i64>,
        bounds: PageBounds,
    ) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(bounds.default);
        if !(1..=bounds.max).contains(&limit) {
            return Err(ApiError::field(
                "limit",
                format!("must be between 1 and {}", bounds.max),
            ));
        }
        let offset = offset.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::field("offset", "must not be negative"));
        }
        Ok(Paging { limit, offset })
    }
}

/// An address or a network, truncated to its network address; an address is
/// a network of one. `field` names the input in the refusal.
pub fn network(field: &str, raw: &str) -> Result<IpNet, ApiError> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| ApiError::field(field, "not an IP address or network"))
}

/// A ban's length: [`DEFAULT_BAN`] when not given, more than zero and at
/// most [`MAX_BAN`].
pub fn ban_length(raw: Option<&str>) -> Result<Duration, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(DEFAULT_BAN);
    };
    let d = parse_duration(raw).map_err(|e| ApiError::field("duration", e))?;
    if d.is_zero() {
        return Err(ApiError::field("duration", "must be more than zero"));
    }
    if d > MAX_BAN {
        return Err(ApiError::field("duration", "at most 365d"));
    }
    Ok(d)
}

/// A ban's reason: printable, at most [`MAX_REASON`] characters; a default
/// when not given.
pub fn ban_reason(raw: Option<&str>) -> Result<&str, ApiError> {
    let Some(r) = raw.map(str::trim) else {
        return Ok(DEFAULT_REASON);
    };
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

/// Bans `network` unless it overlaps a `never_ban` network (refused as
/// `field`): the row, every router's ban list, the sessions inside it.
pub async fn ban(
    gate: &Gate,
    field: &str,
    network: IpNet,
    length: Duration,
    reason: &str,
    actor: &str,
) -> Result<Ban, ApiError> {
    let never = &gate.config().policy.never_ban;
    if let Some(n) = never
        .iter()
        .find(|n| n.contains(&network) || network.contains(*n))
    {
        return Err(ApiError::field(
            field,
            format!("overlaps the never_ban network {n}"),
        ));
    }
    Ok(gate.admin_ban(network, length, reason, actor).await?)
}

/// Which bans a listing shows.
#[derive(Debug, Clone, Copy)]
pub struct BanQuery {
    /// Only bans in force now.
    pub active: bool,
    pub network: Option<BanMatch>,
    pub paging: Paging,
}

impl BanQuery {
    fn filter(&self) -> BanFilter {
        BanFilter {
            active_at: self.active.then(Utc::now),
            network: self.network,
            limit: self.paging.limit,
            offset: self.paging.offset,
        }
    }
}

pub async fn bans(gate: &Gate, q: &BanQuery) -> Result<Vec<Ban>, ApiError> {
    gate.store().find_bans(&q.filter()).await.map_err(internal)
}

pub async fn count_bans(gate: &Gate, q: &BanQuery) -> Result<i64, ApiError> {
    gate.store()
        .count_found_bans(&q.filter())
        .await
        .map_err(internal)
}

/// Lifts the ban with this id; not found unless it is in force.
pub async fn lift(gate: &Gate, id: i64, actor: &str) -> Result<Ban, ApiError> {
    let now = Utc::now();
    let in_force = gate
        .store()
        .ban(id)
        .await
        .map_err(internal)?
        .is_some_and(|b| b.lifted_at.is_none() && b.until > now);
    if !in_force {
        return Err(ApiError::NotFound);
    }
    gate.lift_ban(id, actor).await?.ok_or(ApiError::NotFound)
}

/// Lifts every ban in force on exactly `network`; not found when none is.
pub async fn lift_network(gate: &Gate, network: IpNet, actor: &str) -> Result<Vec<Ban>, ApiError> {
    let on_it = gate
        .store()
        .find_bans(&BanFilter {
            active_at: Some(Utc::now()),
            network: Some(BanMatch::Exact(network)),
            limit: MAX_OPEN,
            offset: 0,
        })
        .await
        .map_err(internal)?;
    let mut lifted = Vec::new();
    for b in on_it {
        if let Some(b) = gate.lift_ban(b.id, actor).await? {
            lifted.push(b);
        }
    }
    if lifted.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(lifted)
}

pub async fn sessions(gate: &Gate, filter: &SessionFilter) -> Result<Vec<Session>, ApiError> {
    gate.store().list_sessions(filter).await.map_err(internal)
}

pub async fn count_sessions(gate: &Gate, filter: &SessionFilter) -> Result<i64, ApiError> {
    gate.store().count_sessions(filter).await.map_err(internal)
}

/// Ends one open session; not found when it is unknown or already over.
pub async fn kick(gate: &Gate, id: SessionId, actor: &str) -> Result<Session, ApiError> {
    gate.kick(id, actor).await?.ok_or(ApiError::NotFound)
}

/// What a kick by name did.
pub enum KickOutcome {
    Kicked(Vec<Session>),
    /// The target could mean any of these; nothing was kicked.
    Ambiguous(Vec<Session>),
}

/// Ends the open sessions `target` names: a session id, the start of one (as
/// the bot shows it), or an account's name on any router.
pub async fn kick_target(gate: &Gate, target: &str, actor: &str) -> Result<KickOutcome, ApiError> {
    let target = target.trim();
    if target.is_empty() || target.len() > 64 {
        return Err(ApiError::field("target", "a session id or an account name"));
    }
    let open = sessions(
        gate,
        &SessionFilter {
            open: true,
            limit: MAX_OPEN,
            ..SessionFilter::default()
        },
    )
    .await?;
    let chosen = match resolve(&open, target) {
        Ok(chosen) => chosen,
        Err(candidates) => {
            return Ok(KickOutcome::Ambiguous(
                candidates.into_iter().cloned().collect(),
            ));
        }
    };
    let mut kicked = Vec::new();
    for s in chosen {
        if let Some(closed) = gate.kick(s.id, actor).await? {
            kicked.push(closed);
        }
    }
    if kicked.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(KickOutcome::Kicked(kicked))
}

/// Which open sessions `target` names. `Err(candidates)` when it could mean
/// more than one thing.
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

/// Accounts by router then name, on one router or all; one page, or every
/// account when `paging` is `None`.
pub async fn accounts(
    gate: &Gate,
    router: Option<&RouterName>,
    paging: Option<Paging>,
) -> Result<Vec<Account>, ApiError> {
    let store = gate.store();
    match paging {
        None => store.list_accounts(router).await,
        Some(p) => store.account_page(router, p.limit, p.offset).await,
    }
    .map_err(internal)
}

pub async fn count_accounts(gate: &Gate, router: Option<&RouterName>) -> Result<i64, ApiError> {
    gate.store().count_accounts(router).await.map_err(internal)
}

/// Whether `router` is configured, for front-ends that refuse others.
pub fn configured(gate: &Gate, router: &RouterName) -> bool {
    gate.router(router).is_ok()
}

/// The bot's username, which an invite link needs; `None` when Telegram is
/// not configured or does not answer in time.
pub async fn bot_username(gate: &Gate) -> Option<String> {
    let bot = gate.telegram()?;
    match tokio::time::timeout(USERNAME_TIMEOUT, bot.username()).await {
        Ok(Ok(name)) => Some(name),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "bot username for the invite link");
            None
        }
        Err(_) => None,
    }
}

/// Makes a one-time invite for the account (created if new) and, with the
/// bot's username, its deep link.
pub async fn invite(
    gate: &Gate,
    router: &RouterName,
    account: &AccountName,
    ttl: Duration,
    username: Option<&str>,
    actor: &str,
) -> Result<InviteView, ApiError> {
    let invite = create_invite(gate.store().as_ref(), router, account, actor, ttl)
        .await
        .map_err(internal)?;
    Ok(InviteView {
        link: username.map(|name| invite_link(name, &invite.code)),
        router: invite.router.to_string(),
        account: invite.account.to_string(),
        code: invite.code,
        expires_at: invite.expires_at,
    })
}

/// The 503 a front-end answers when an invite needs a link it cannot make.
pub fn no_username() -> ApiError {
    ApiError::Refused {
        status: StatusCode::SERVICE_UNAVAILABLE,
        state: "telegram_unavailable",
        message: "the bot's username could not be learnt from Telegram",
        detail: Value::Null,
    }
}

/// Every configured router's health, by name. All are asked at once, each
/// with its own timeout, so one dead router costs its timeout, not everyone's.
pub async fn routers(gate: &std::sync::Arc<Gate>) -> Result<Vec<RouterHealth>, ApiError> {
    let mut checks = tokio::task::JoinSet::new();
    for r in gate.routers() {
        let name = r.config.name.clone();
        let gate = gate.clone();
        checks.spawn(async move {
            match tokio::time::timeout(CHECK_TIMEOUT, gate.router_health(&name)).await {
                Ok(health) => health.map_err(ApiError::from),
                Err(_) => Ok(RouterHealth {
                    name,
                    reachable: false,
                    latency_ms: None,
                    error: Some("timeout".into()),
                    sandbox: None,
                    permit: None,
                    ban: None,
                }),
            }
        });
    }
    let mut routers = checks
        .join_all()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    routers.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    Ok(routers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked_before_anything_is_written() {
        let net = |raw| network("address", raw).map(|n| n.to_string());
        assert_eq!(net("203.0.113.7").unwrap(), "203.0.113.7/32");
        assert_eq!(net("198.51.100.9/24").unwrap(), "198.51.100.0/24");
        assert_eq!(net("2001:db8::1/64").unwrap(), "2001:db8::/64");
        assert!(net("nope").is_err());
        assert!(net("1.2.3").is_err());
        assert!(net("1.2.3.4/33").is_err());
        assert_eq!(ban_length(Some("1h")).unwrap(), Duration::from_secs(3600));
        assert_eq!(ban_length(None).unwrap(), DEFAULT_BAN);
        assert!(ban_length(Some("0s")).is_err());
        assert!(ban_length(Some("400d")).is_err());
        assert!(ban_length(Some("soon")).is_err());
        assert_eq!(ban_reason(None).unwrap(), DEFAULT_REASON);
        assert!(ban_reason(Some("")).is_err());
        assert!(ban_reason(Some("a\u{0}b")).is_err());
        assert!(ban_reason(Some(&"x".repeat(201))).is_err());
        assert_eq!(ban_reason(Some(" scan ")).unwrap(), "scan");
        assert!(Paging::new(Some(0), None, BOT_PAGES).is_err());
        assert!(Paging::new(Some(101), None, BOT_PAGES).is_err());
        assert!(Paging::new(None, Some(-1), API_PAGES).is_err());
        assert_eq!(
            Paging::new(None, None, BOT_PAGES).unwrap(),
            Paging {
                limit: 10,
                offset: 0
            }
        );
    }
}
