//! `tgate bans`: list, add and lift bans. Adding and lifting go through the
//! gate, so the router ban lists follow the database and the change is
//! audited.

use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use clap::Subcommand;
use ipnet::IpNet;
use serde_json::Value;
use tgate_core::config::{format_duration, parse_duration};
use tgate_core::storage::{Ban, Store};

use super::output::{self, ban_json, bans_table, print_json};
use super::{Ctx, audit_mark, bad_input, parse_limit, parse_network, warn_router_errors};

#[derive(Subcommand)]
pub enum BansCommand {
    /// List bans in force, newest first
    List {
        /// Also lifted and expired bans
        #[arg(long)]
        all: bool,
        /// Only bans covering this address (or the whole of this network)
        #[arg(long, value_name = "IP|CIDR", value_parser = parse_network)]
        address: Option<IpNet>,
        /// At most this many
        #[arg(long, default_value = "100", value_parser = parse_limit)]
        limit: i64,
    },
    /// Ban an address or a network on every router, and disconnect its sessions
    Add {
        /// The address or network to ban
        #[arg(value_name = "IP|CIDR", value_parser = parse_network)]
        network: IpNet,
        /// How long [default: policy.ban_time]
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        length: Option<Duration>,
        /// Why, for the record
        #[arg(long, default_value = "banned by an admin")]
        reason: String,
        /// Ban even inside a network of policy.never_ban
        #[arg(long)]
        force: bool,
    },
    /// Lift a ban by its id, or every active ban on exactly this network
    Rm {
        #[arg(value_name = "ID|IP|CIDR")]
        target: BanTarget,
    },
}

/// What `bans rm` was given.
#[derive(Debug, Clone, Copy)]
pub enum BanTarget {
    Id(i64),
    Network(IpNet),
}

impl FromStr for BanTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(id) = s.parse::<i64>() {
            return Ok(BanTarget::Id(id));
        }
        parse_network(s)
            .map(BanTarget::Network)
            .map_err(|_| format!("{s:?} is not a ban id, an IP address or a network"))
    }
}

/// Longest reason kept; the rest of a longer text is refused, not cut.
const MAX_REASON: usize = 200;
/// Bans read per page when filtering.
const PAGE: i64 = 500;

pub async fn run(ctx: &Ctx, command: BansCommand) -> anyhow::Result<()> {
    match command {
        BansCommand::List {
            all,
            address,
            limit,
        } => list(ctx, all, address, limit).await,
        BansCommand::Add {
            network,
            length,
            reason,
            force,
        } => add(ctx, network, length, reason, force).await,
        BansCommand::Rm { target } => rm(ctx, target).await,
    }
}

async fn list(ctx: &Ctx, all: bool, address: Option<IpNet>, limit: i64) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let now = Utc::now();
    let active_at = (!all).then_some(now);
    let bans = match address {
        None => store.list_bans(active_at, limit, 0).await?,
        Some(net) => {
            let mut found = every_ban(store.as_ref(), active_at).await?;
            found.retain(|b| b.network.contains(&net));
            found.truncate(limit as usize);
            found
        }
    };
    if ctx.json {
        print_json(&Value::Array(
            bans.iter().map(|b| ban_json(b, now)).collect(),
        ));
    } else {
        bans_table(&bans, now).print();
    }
    Ok(())
}

async fn add(
    ctx: &Ctx,
    network: IpNet,
    length: Option<Duration>,
    reason: String,
    force: bool,
) -> anyhow::Result<()> {
    let policy = &ctx.config.policy;
    let length = length.unwrap_or(policy.ban_time);
    if length.is_zero() {
        bad_input!("--for: a ban must last longer than 0s");
    }
    if chrono::Duration::from_std(length).is_err() {
        bad_input!("--for: {} is too long", format_duration(length));
    }
    if network.prefix_len() == 0 {
        bad_input!("<IP|CIDR>: {network} is every address; refusing to ban it");
    }
    let reason = reason.trim().to_owned();
    if reason.chars().count() > MAX_REASON || reason.chars().any(char::is_control) {
        bad_input!("--reason: at most {MAX_REASON} characters on one line");
    }
    if !force
        && let Some(protected) = policy
            .never_ban
            .iter()
            .find(|n| n.contains(&network) || network.contains(*n))
    {
        bad_input!(
            "<IP|CIDR>: {network} overlaps {protected} in policy.never_ban; add --force to ban it anyway"
        );
    }
    let store = ctx.store().await?;
    let mark = audit_mark(store.as_ref()).await;
    let gate = ctx.gate(store.clone());
    let ban = gate.admin_ban(network, length, &reason, &ctx.actor).await?;
    warn_router_errors(store.as_ref(), mark).await;
    let now = Utc::now();
    if ctx.json {
        print_json(&ban_json(&ban, now));
    } else {
        println!(
            "banned {} until {} UTC (ban {})",
            ban.network,
            output::time(ban.until),
            ban.id
        );
    }
    Ok(())
}

async fn rm(ctx: &Ctx, target: BanTarget) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let now = Utc::now();
    let ids: Vec<i64> = match target {
        BanTarget::Id(id) => vec![id],
        BanTarget::Network(net) => every_ban(store.as_ref(), Some(now))
            .await?
            .into_iter()
            .filter(|b| b.network == net)
            .map(|b| b.id)
            .collect(),
    };
    let mark = audit_mark(store.as_ref()).await;
    let gate = ctx.gate(store.clone());
    let mut lifted = Vec::new();
    for id in ids {
        if let Some(ban) = gate.lift_ban(id, &ctx.actor).await? {
            lifted.push(ban);
        }
    }
    warn_router_errors(store.as_ref(), mark).await;
    if lifted.is_empty() {
        match target {
            BanTarget::Id(id) => anyhow::bail!("no active ban {id}"),
            BanTarget::Network(net) => anyhow::bail!("no active ban on {net}"),
        }
    }
    if ctx.json {
        print_json(&Value::Array(
            lifted.iter().map(|b| ban_json(b, now)).collect(),
        ));
    } else {
        for ban in &lifted {
            println!("lifted ban {} on {}", ban.id, ban.network);
        }
    }
    Ok(())
}

/// Every ban (in force at `active_at`, when given), newest first.
async fn every_ban(
    store: &dyn Store,
    active_at: Option<chrono::DateTime<Utc>>,
) -> anyhow::Result<Vec<Ban>> {
    let mut all = Vec::new();
    loop {
        let page = store.list_bans(active_at, PAGE, all.len() as i64).await?;
        let done = (page.len() as i64) < PAGE;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}
