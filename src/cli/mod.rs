//! The admin CLI: bans, sessions, accounts, routers and the audit log,
//! straight against the configured database (no server has to run). Writes
//! that concern routers go through a [`Gate`] over SSH, as the worker's do,
//! so the database stays the truth and the routers follow it; every write is
//! audited with the actor `cli:<user>`.
//!
//! Exit codes: 0 done; 1 the operation failed or found nothing to act on;
//! 2 bad configuration or bad arguments (what clap uses for usage errors).

use std::fmt;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;

use ipnet::IpNet;
use tgate_core::config::Config;
use tgate_core::domain::RouterName;
use tgate_core::gate::{Gate, ssh_gateways};
use tgate_core::storage::{AuditFilter, Store};

pub mod accounts;
pub mod audit;
pub mod bans;
pub mod bootstrap;
pub mod output;
pub mod routers;
pub mod sessions;

/// Bad input the parser could not catch (an unknown router, a ban on a
/// protected network): the command stops before it changes anything, with
/// exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Stops with exit code 2 and the message.
macro_rules! bad_input {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::cli::BadInput(format!($($arg)*))))
    };
}
pub(crate) use bad_input;

/// The exit code for an error a command returned.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if err.downcast_ref::<BadInput>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// What every command needs: the configuration, the output format and who
/// is acting.
pub struct Ctx {
    pub config: Arc<Config>,
    pub json: bool,
    /// `cli:<$USER>`, or `cli:cli` when the user is unknown.
    pub actor: String,
}

impl Ctx {
    pub fn new(config: Config, json: bool) -> Ctx {
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty() && u.chars().all(|c| !c.is_control()))
            .unwrap_or_else(|| "cli".to_owned());
        Ctx {
            config: Arc::new(config),
            json,
            actor: format!("cli:{user}"),
        }
    }

    /// Refuses a router the configuration does not name.
    pub fn check_router(&self, router: &RouterName, argument: &str) -> anyhow::Result<()> {
        if self.config.router(router.as_str()).is_none() {
            let known: Vec<_> = self
                .config
                .routers
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            let known = if known.is_empty() {
                "none are configured".to_owned()
            } else {
                format!("configured: {}", known.join(", "))
            };
            bad_input!("{argument}: no router named {router:?} ({known})");
        }
        Ok(())
    }

    pub async fn store(&self) -> anyhow::Result<Arc<dyn Store>> {
        tgate::open_store(&self.config).await
    }

    /// A gate over the configured routers, one SSH attempt per change: the
    /// database is the truth and the worker's reconciler mirrors anything a
    /// router missed, so the admin hears at once rather than after retries
    /// (and the worker's retry records do not claim the CLI's calls).
    pub fn gate(&self, store: Arc<dyn Store>) -> Arc<Gate> {
        tgate::gate(
            self.config.clone(),
            store,
            ssh_gateways(&self.config),
            None,
            None,
        )
    }
}

/// Where the audit log ends now, for [`warn_router_errors`] afterwards.
/// Ids, not times: stored times are rounded, ids only grow.
pub async fn audit_mark(store: &dyn Store) -> i64 {
    let newest = AuditFilter {
        limit: 1,
        ..AuditFilter::default()
    };
    match store.audit_log(&newest).await {
        Ok(records) => records.first().map_or(0, |r| r.id),
        Err(_) => i64::MAX,
    }
}

/// Tells the admin which router changes failed after `mark`: the gate
/// records them rather than failing the operation, which is already in the
/// database and which the worker's reconciler will mirror.
pub async fn warn_router_errors(store: &dyn Store, mark: i64) {
    let filter = AuditFilter {
        action: Some("router.error".to_owned()),
        limit: 100,
        ..AuditFilter::default()
    };
    let Ok(records) = store.audit_log(&filter).await else {
        return;
    };
    for r in records.iter().rev().filter(|r| r.id > mark) {
        let what = r.detail["operation"].as_str().unwrap_or("change");
        let error = r.detail["error"].as_str().unwrap_or("failed");
        eprintln!(
            "tgate: warning: router {} did not follow ({what}: {error}); the worker's reconciler will repair it",
            r.router.as_deref().unwrap_or("?"),
        );
    }
}

/// Parses an address or a network: `203.0.113.7`, `203.0.113.0/24`,
/// `2001:db8::/32`. Host bits of a network are cleared.
pub fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    s.parse::<IpNet>().map(|n| n.trunc()).map_err(|_| {
        format!("{s:?} is not an IP address or a network (e.g. 203.0.113.7 or 203.0.113.0/24)")
    })
}

/// A count for `--limit`: 1 to 10000.
pub fn parse_limit(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number from 1 to 10000")),
    }
}

/// The admin commands, as `tgate` shows them beside its servers.
#[derive(clap::Subcommand)]
pub enum Admin {
    /// Bans of addresses and networks: list, add, lift
    #[command(subcommand)]
    Bans(bans::BansCommand),
    /// VPN sessions: list, kick
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// VPN accounts and their owners
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// The configured routers: list, check, their scripts, bootstrap
    #[command(subcommand, visible_alias = "router")]
    Routers(routers::RoutersCommand),
    /// The audit log, newest first
    Audit(audit::AuditArgs),
}

pub async fn run(ctx: &Ctx, command: Admin) -> anyhow::Result<()> {
    match command {
        Admin::Bans(c) => bans::run(ctx, c).await,
        Admin::Sessions(c) => sessions::run(ctx, c).await,
        Admin::Accounts(c) => accounts::run(ctx, c).await,
        Admin::Routers(c) => routers::run(ctx, c).await,
        Admin::Audit(a) => audit::run(ctx, a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_networks_parse_and_host_bits_are_cleared() {
        assert_eq!(
            parse_network("203.0.113.7").unwrap().to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(
            parse_network("203.0.113.7/24").unwrap().to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(
            parse_network("2001:db8::1/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        for bad in ["", "nope", "203.0.113.0/33", "1.2.3", "203.0.113.0/"] {
            assert!(parse_network(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_ban_target_is_an_id_or_a_network() {
        use bans::BanTarget;
        assert!(matches!("17".parse(), Ok(BanTarget::Id(17))));
        assert!(matches!("198.51.100.7".parse(), Ok(BanTarget::Network(_))));
        assert!("x.y".parse::<BanTarget>().is_err());
    }

    #[test]
    fn since_is_a_time_or_a_duration_ago() {
        let at = audit::parse_since("2026-01-31T12:00:00Z").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-01-31T12:00:00+00:00");
        let ago = chrono::Utc::now() - audit::parse_since("1h").unwrap();
        assert!((ago - chrono::Duration::hours(1)).num_seconds().abs() < 5);
        assert!(audit::parse_since("yesterday").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_limit("1"), Ok(1));
        assert!(parse_limit("0").is_err());
        assert!(parse_limit("10001").is_err());
        assert!(parse_limit("-3").is_err());
    }
}
