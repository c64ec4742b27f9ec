//! The router client. tgate changes a router through the [`Gateway`] trait;
//! today the one implementation speaks RouterOS's CLI over SSH
//! ([`ssh::SshGateway`]), and other backends (RouterOS REST, nftables) can be
//! added behind the same trait.
//!
//! Every command is rendered from typed values ([`AddressListName`], [`IpNet`],
//! [`AccountName`], [`Comment`]); no text from a request is ever pasted into a
//! command, so RouterOS injection is impossible by construction.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use ipnet::IpNet;

use crate::domain::{AccountName, AddressListName, CallerId, Comment, RouterName};

pub mod command;
pub mod parse;
pub mod setup;
pub mod ssh;

/// An entry to put on an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub list: AddressListName,
    pub address: IpNet,
    /// Makes the entry dynamic on the router: it vanishes after this long,
    /// and after a reboot.
    pub timeout: Option<Duration>,
    pub comment: Option<Comment>,
}

/// An entry as the router lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// RouterOS's internal id, e.g. `*1A`.
    pub id: String,
    pub list: String,
    pub address: IpNet,
    /// Time left before the router drops the entry.
    pub timeout: Option<Duration>,
    pub comment: Option<String>,
    pub dynamic: bool,
    pub disabled: bool,
}

/// What an add did: RouterOS refuses a duplicate with
/// `failure: already have such entry`, which for tgate means success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    AlreadyPresent,
}

/// A PPP session in `/ppp active`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PppSession {
    pub id: String,
    pub name: String,
    pub service: String,
    pub caller_id: String,
    pub address: Option<IpAddr>,
    pub uptime: Option<Duration>,
}

/// Which PPP sessions a disconnect or a lookup is about. Every field that is
/// set must match; at least one must be set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PppMatch {
    pub name: Option<AccountName>,
    pub address: Option<IpAddr>,
    /// The caller's public address (or a PPPoE client's MAC): a ban kicks
    /// every session from it.
    pub caller_id: Option<CallerId>,
}

impl PppMatch {
    /// Whether `session` is one this match names.
    pub fn matches(&self, session: &PppSession) -> bool {
        self.name
            .as_ref()
            .is_none_or(|n| n.as_str() == session.name)
            && self.address.is_none_or(|a| session.address == Some(a))
            && self.caller_id.is_none_or(|c| {
                session
                    .caller_id
                    .parse::<CallerId>()
                    .is_ok_and(|sc| sc == c)
            })
    }
}

/// Why a router call failed. Messages are safe to show an operator: they never
/// contain a password or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    #[error("router {router} is unreachable: {reason}")]
    Unreachable { router: RouterName, reason: String },
    #[error(
        "router {router} offered host key {actual}, but {expected} is pinned; refusing to connect"
    )]
    HostKeyMismatch {
        router: RouterName,
        expected: String,
        actual: String,
    },
    #[error("router {router} refused tgate's login: {reason}")]
    Auth { router: RouterName, reason: String },
    #[error("router {router} did not answer within {timeout:?}")]
    Timeout {
        router: RouterName,
        timeout: Duration,
    },
    #[error("router {router}: not enough permissions for {command}")]
    Permission { router: RouterName, command: String },
    #[error("router {router} rejected {command}: {output}")]
    Command {
        router: RouterName,
        command: String,
        output: String,
    },
    #[error("invalid request to router: {0}")]
    Invalid(String),
}

impl RouterError {
    /// Worth another try later (the router may come back); a refused command
    /// or a wrong host key will fail the same way again.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RouterError::Unreachable { .. } | RouterError::Timeout { .. }
        )
    }
}

/// A router tgate can change. Calls are safe to repeat: adding a present entry
/// or removing an absent one succeeds.
#[async_trait]
pub trait Gateway: Send + Sync + 'static {
    fn router(&self) -> &RouterName;

    /// Adds an entry; an identical entry already present is success.
    async fn add_address(&self, entry: &NewEntry) -> Result<AddOutcome, RouterError>;

    /// Removes every entry for `address` on `list`; none present is success.
    async fn remove_address(
        &self,
        list: &AddressListName,
        address: IpNet,
    ) -> Result<(), RouterError>;

    /// Lists the entries of `list`, IPv4 and IPv6 together.
    async fn list_addresses(&self, list: &AddressListName)
    -> Result<Vec<ListedEntry>, RouterError>;

    /// Every session in `/ppp active`.
    async fn active_sessions(&self) -> Result<Vec<PppSession>, RouterError>;

    /// Disconnects every PPP session matching `target`; none is success.
    async fn disconnect(&self, target: &PppMatch) -> Result<(), RouterError>;

    /// The router's `/system identity`, a cheap liveness probe.
    async fn identity(&self) -> Result<String, RouterError>;

    /// The active session matching `target`, if any.
    async fn find_active(&self, target: &PppMatch) -> Result<Option<PppSession>, RouterError> {
        let sessions = self.active_sessions().await?;
        Ok(sessions.into_iter().find(|s| target.matches(s)))
    }
}
