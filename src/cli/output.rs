//! How results are shown: aligned tables for people, one JSON document for
//! scripts (`--json`). The JSON shapes are the CLI's contract; tables may
//! change.

use std::fmt::Display;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tgate_core::config::RouterConfig;
use tgate_core::gate::RouterHealth;
use tgate_core::storage::{Account, AuditRecord, Ban, Session};

/// Columns padded to their widest cell, two spaces apart.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, (cell, w)) in cells.zip(&widths).enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(cell);
                if i + 1 < widths.len() {
                    out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
                }
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
            out
        };
        let mut out = line(&mut self.headers.iter().copied());
        for row in &self.rows {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        out
    }

    pub fn print(&self) {
        print!("{}", self.render());
    }
}

pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("a JSON value serializes")
    );
}

/// A time as tables show it: to the second, in UTC.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A time as JSON carries it: RFC 3339.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `-` for nothing.
pub fn or_dash<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

pub fn ban_json(b: &Ban, now: DateTime<Utc>) -> Value {
    json!({
        "id": b.id,
        "network": b.network.to_string(),
        "reason": b.reason,
        "source": b.source,
        "created_by": b.created_by,
        "created_at": rfc3339(b.created_at),
        "until": rfc3339(b.until),
        "lifted_at": b.lifted_at.map(rfc3339),
        "lifted_by": b.lifted_by,
        "active": is_active(b, now),
    })
}

pub fn is_active(b: &Ban, now: DateTime<Utc>) -> bool {
    b.lifted_at.is_none() && b.until > now
}

pub fn bans_table(bans: &[Ban], now: DateTime<Utc>) -> Table {
    let mut t = Table::new(&[
        "ID",
        "NETWORK",
        "UNTIL (UTC)",
        "STATE",
        "SOURCE",
        "BY",
        "REASON",
    ]);
    for b in bans {
        let state = if b.lifted_at.is_some() {
            "lifted"
        } else if b.until > now {
            "active"
        } else {
            "expired"
        };
        t.row(vec![
            b.id.to_string(),
            b.network.to_string(),
            time(b.until),
            state.to_owned(),
            b.source.clone(),
            b.created_by.clone(),
            b.reason.clone(),
        ]);
    }
    t
}

pub fn session_json(s: &Session) -> Value {
    json!({
        "id": s.id.to_string(),
        "router": s.router.as_str(),
        "account": s.account.as_str(),
        "state": s.state.as_str(),
        "caller_id": s.caller_id.to_string(),
        "remote_address": s.remote_address.to_string(),
        "local_address": s.local_address.map(|a| a.to_string()),
        "service": s.service.as_str(),
        "interface": s.interface.as_ref().map(|i| i.as_str()),
        "created_at": rfc3339(s.created_at),
        "deadline": rfc3339(s.deadline),
        "decided_at": s.decided_at.map(rfc3339),
        "decided_by": s.decided_by,
        "closed_at": s.closed_at.map(rfc3339),
    })
}

pub fn sessions_table(sessions: &[Session]) -> Table {
    let mut t = Table::new(&[
        "ID",
        "ROUTER",
        "ACCOUNT",
        "STATE",
        "CALLER",
        "ADDRESS",
        "SERVICE",
        "STARTED (UTC)",
    ]);
    for s in sessions {
        t.row(vec![
            s.id.to_string(),
            s.router.to_string(),
            s.account.to_string(),
            s.state.to_string(),
            s.caller_id.to_string(),
            s.remote_address.to_string(),
            s.service.as_str().to_owned(),
            time(s.created_at),
        ]);
    }
    t
}

pub fn account_json(a: &Account) -> Value {
    json!({
        "router": a.router.as_str(),
        "account": a.name.as_str(),
        "owner_tg_id": a.owner_tg_id,
        "locked": a.locked,
        "is_admin": a.is_admin,
        "language": a.language,
        "created_at": rfc3339(a.created_at),
    })
}

pub fn accounts_table(accounts: &[Account]) -> Table {
    let mut t = Table::new(&[
        "ROUTER",
        "ACCOUNT",
        "OWNER",
        "LOCKED",
        "ADMIN",
        "CREATED (UTC)",
    ]);
    for a in accounts {
        t.row(vec![
            a.router.to_string(),
            a.name.to_string(),
            a.owner_tg_id
                .map_or_else(|| "(not enrolled)".to_owned(), |o| o.to_string()),
            yes_no(a.locked),
            yes_no(a.is_admin),
            time(a.created_at),
        ]);
    }
    t
}

pub fn router_json(r: &RouterConfig) -> Value {
    json!({
        "name": r.name.as_str(),
        "host": r.host,
        "port": r.port,
        "user": r.user,
        "sandbox_list": r.sandbox_list.as_str(),
        "permit_list": r.permit_list.as_str(),
        "ban_list": r.ban_list.as_str(),
        "vpn_pool": r.vpn_pool.map(|p| p.to_string()),
        "trust_router_chat_id": r.trust_router_chat_id,
        "compat": r.compat,
    })
}

pub fn routers_table(routers: &[RouterConfig]) -> Table {
    let mut t = Table::new(&[
        "NAME", "HOST", "PORT", "SANDBOX", "PERMIT", "BAN", "VPN POOL",
    ]);
    for r in routers {
        t.row(vec![
            r.name.to_string(),
            r.host.clone(),
            r.port.to_string(),
            r.sandbox_list.to_string(),
            r.permit_list.to_string(),
            r.ban_list.to_string(),
            or_dash(r.vpn_pool),
        ]);
    }
    t
}

pub fn health_json(h: &RouterHealth) -> Value {
    serde_json::to_value(h).expect("RouterHealth serializes")
}

pub fn health_table(health: &[RouterHealth]) -> Table {
    let mut t = Table::new(&[
        "ROUTER",
        "REACHABLE",
        "LATENCY",
        "SANDBOX",
        "PERMIT",
        "BAN",
        "ERROR",
    ]);
    for h in health {
        t.row(vec![
            h.name.to_string(),
            yes_no(h.reachable),
            or_dash(h.latency_ms.map(|ms| format!("{ms} ms"))),
            or_dash(h.sandbox),
            or_dash(h.permit),
            or_dash(h.ban),
            or_dash(h.error.as_deref()),
        ]);
    }
    t
}

pub fn audit_json(r: &AuditRecord) -> Value {
    json!({
        "id": r.id,
        "at": rfc3339(r.at),
        "actor": r.actor,
        "action": r.action,
        "router": r.router,
        "account": r.account,
        "address": r.address,
        "session_id": r.session_id,
        "detail": r.detail,
    })
}

pub fn audit_table(records: &[AuditRecord]) -> Table {
    let mut t = Table::new(&[
        "ID",
        "TIME (UTC)",
        "ACTOR",
        "ACTION",
        "ROUTER",
        "ACCOUNT",
        "ADDRESS",
        "DETAIL",
    ]);
    for r in records {
        let detail = if r.detail.is_null() {
            "-".to_owned()
        } else {
            r.detail.to_string()
        };
        t.row(vec![
            r.id.to_string(),
            time(r.at),
            r.actor.clone(),
            r.action.clone(),
            or_dash(r.router.as_deref()),
            or_dash(r.account.as_deref()),
            or_dash(r.address.as_deref()),
            detail,
        ]);
    }
    t
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_lines_do_not_trail_spaces() {
        let mut t = Table::new(&["ID", "NAME", "NOTE"]);
        t.row(vec!["1".into(), "alice".into(), "-".into()]);
        t.row(vec!["22".into(), "b".into(), "x".into()]);
        assert_eq!(t.render(), "ID  NAME   NOTE\n1   alice  -\n22  b      x\n");
    }
}
