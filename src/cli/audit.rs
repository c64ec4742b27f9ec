//! `tgate audit`: the audit log, newest first, filtered.

use chrono::{DateTime, Utc};
use clap::Args;
use ipnet::IpNet;
use serde_json::Value;
use tgate_core::config::parse_duration;
use tgate_core::domain::AccountName;
use tgate_core::storage::{AuditFilter, audit_address};

use super::output::{audit_json, audit_table, print_json};
use super::{Ctx, parse_limit, parse_network};

#[derive(Args)]
pub struct AuditArgs {
    /// From this time on: RFC 3339 (2026-01-31T12:00:00Z) or a time ago (1h, 2d)
    #[arg(long, value_name = "TIME|DURATION", value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// Before this time, written like --since
    #[arg(long, value_name = "TIME|DURATION", value_parser = parse_since)]
    until: Option<DateTime<Utc>>,
    /// Who did it: `cli:alice`, `tg:111`, `tgate`, `router:office`…
    #[arg(long)]
    actor: Option<String>,
    #[arg(long)]
    account: Option<AccountName>,
    /// The address or network concerned
    #[arg(long, value_name = "IP|CIDR", value_parser = parse_network)]
    address: Option<IpNet>,
    /// What was done: `ban.add`, `session.kick`, `account.lock`…
    #[arg(long)]
    action: Option<String>,
    /// At most this many
    #[arg(long, default_value = "50", value_parser = parse_limit)]
    limit: i64,
}

/// An RFC 3339 time, or a duration meaning that long ago.
pub fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let ago = parse_duration(s).map_err(|_| {
        format!("{s:?} is neither an RFC 3339 time (2026-01-31T12:00:00Z) nor a duration ago (1h)")
    })?;
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .ok_or_else(|| format!("{s:?} is too long ago"))
}

pub async fn run(ctx: &Ctx, args: AuditArgs) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let filter = AuditFilter {
        since: args.since,
        until: args.until,
        actor: args.actor,
        account: args.account.map(|a| a.to_string()),
        address: args.address.map(|a| audit_address(&a.to_string())),
        action: args.action,
        limit: args.limit,
        ..AuditFilter::default()
    };
    let records = store.audit_log(&filter).await?;
    if ctx.json {
        print_json(&Value::Array(records.iter().map(audit_json).collect()));
    } else {
        audit_table(&records).print();
    }
    Ok(())
}
