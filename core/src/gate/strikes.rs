//! Strikes and the bans they lead to (SPEC §5). A strike is an expired,
//! refused or blocked connect, counted per caller address on every router;
//! `max_strikes` of them within `strike_window` ban the caller. The ban row is
//! the truth, the routers' ban lists mirror it, and every live session from
//! the caller is kicked so a ban takes effect at once, not at the next login.

use chrono::Utc;
use tracing::info;

use super::{Gate, GateError};
use crate::config::format_duration;
use crate::domain::{CallerId, SessionId};
use crate::router::PppMatch;
use crate::storage::{
    AuditEntry, Ban, NewStrike, Session, StrikeFacts, StrikeKind, network_banned,
};
use crate::telegram::messages;

/// The actor of everything the ban policy does on its own.
const POLICY: &str = "tgate:policy";

impl Gate {
    /// Records a strike against the session's caller and bans it when it has
    /// `max_strikes` within `strike_window`. Returns the ban this strike led
    /// to, if any. A caller already banned (Not me bans at once) only has its
    /// sessions kicked; a `never_ban` caller is never banned; a PPPoE caller
    /// (a MAC address) locks the account instead.
    pub async fn strike(&self, s: &Session, kind: StrikeKind) -> Result<Option<Ban>, GateError> {
        let now = Utc::now();
        self.store()
            .add_strike(&NewStrike {
                caller_id: s.caller_id,
                router: s.router.clone(),
                account: s.account.clone(),
                session_id: Some(s.id),
                kind,
                at: now,
            })
            .await?;
        self.audit_quietly(
            AuditEntry::new(POLICY, "strike.add")
                .router(&s.router)
                .account(&s.account)
                .address(s.caller_id)
                .session(s.id)
                .detail(serde_json::json!({ "kind": kind.as_str() })),
        )
        .await;

        // From here to the ban, one strike of this caller at a time. The
        // lock is one of a fixed set shared by many callers, so it is let go
        // before any kick: a kick waits its turn behind every other command
        // queued for the router, and another caller's ban would wait too.
        let judging = self.strike_lock(&s.caller_id).lock().await;
        let policy = &self.config().policy;
        let window =
            chrono::Duration::from_std(policy.strike_window).unwrap_or(chrono::Duration::MAX);
        let StrikeFacts { strikes, bans } = self
            .store()
            .strike_facts(&s.caller_id, now - window, now)
            .await?;
        // Every ban read is in force and covers the caller.
        if !bans.is_empty() {
            drop(judging);
            self.kick_caller(s.caller_id, Some(s.id)).await;
            return Ok(None);
        }
        if strikes < i64::from(policy.max_strikes) {
            return Ok(None);
        }
        let reason = format!(
            "{strikes} strikes within {}",
            format_duration(policy.strike_window)
        );
        match s.caller_id {
            CallerId::Ip(_) => {
                let Some(ban) = self.ban_caller(s, &reason, "policy", POLICY).await? else {
                    // A never_ban network.
                    return Ok(None);
                };
                drop(judging);
                info!(caller = %s.caller_id, until = %ban.until, strikes, "caller banned");
                self.kick_caller(s.caller_id, Some(s.id)).await;
                self.spawn_alert(messages::alert_banned(
                    &s.caller_id.to_string(),
                    strikes,
                    &format_duration(policy.strike_window),
                    ban.until,
                ));
                Ok(Some(ban))
            }
            CallerId::Mac(_) => {
                let locked = self
                    .store()
                    .account(&s.router, &s.account)
                    .await?
                    .is_some_and(|a| a.locked);
                if !locked {
                    self.ban_caller(s, &reason, "policy", POLICY).await?;
                    drop(judging);
                    info!(router = %s.router, account = %s.account, caller = %s.caller_id, "account locked");
                    self.kick_caller(s.caller_id, Some(s.id)).await;
                    self.spawn_alert(messages::alert_locked(
                        s.router.as_str(),
                        s.account.as_str(),
                        &s.caller_id.to_string(),
                        strikes,
                    ));
                }
                Ok(None)
            }
        }
    }

    /// [`Gate::strike`] where the decision it follows is already stored and
    /// must stand: a failure is logged, not returned.
    pub(super) async fn record_strike(&self, s: &Session, kind: StrikeKind) {
        if let Err(e) = self.strike(s, kind).await {
            tracing::warn!(session = %s.id, %kind, error = %e, "strike not recorded");
        }
    }

    /// Disconnects every PPP session from `caller` on every router.
    async fn kick_caller(&self, caller: CallerId, id: Option<SessionId>) {
        let target = PppMatch {
            caller_id: Some(caller),
            ..PppMatch::default()
        };
        for router in self.routers() {
            self.apply(
                router,
                "disconnect caller",
                id,
                router.gateway.disconnect(&target),
            )
            .await;
        }
    }

    /// Lifts a ban: the row first, then the entry on every router (unless
    /// another ban still covers the same network). `None` when there is no
    /// such ban in force.
    pub async fn lift_ban(&self, id: i64, by: &str) -> Result<Option<Ban>, GateError> {
        let now = Utc::now();
        let Some(ban) = self.store().lift_ban(id, now, by).await? else {
            return Ok(None);
        };
        info!(ban = ban.id, network = %ban.network, by, "ban lifted");
        self.audit_quietly(
            AuditEntry::new(by, "ban.lift")
                .address(ban.network)
                .detail(serde_json::json!({ "ban": ban.id })),
        )
        .await;
        let still_banned = network_banned(self.store().as_ref(), ban.network, now).await?;
        if !still_banned {
            for router in self.routers() {
                self.apply(
                    router,
                    "ban remove",
                    None,
                    router
                        .gateway
                        .remove_address(&router.config.ban_list, ban.network),
                )
                .await;
            }
        }
        Ok(Some(ban))
    }
}
