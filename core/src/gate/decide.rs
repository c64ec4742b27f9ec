//! Deciding a pending session (SPEC §4): the owner's It's me or Not me, and
//! the deadline. Each is one conditional transition in the database; only the
//! caller that wins it touches the router and the prompt.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ipnet::IpNet;
use tracing::info;

use super::{Gate, GateError, RouterHandle};
use crate::domain::{CallerId, SessionId, SessionState, Transition, ban_length};
use crate::router::{PppMatch, PppSession, RouterError};
use crate::storage::{AuditEntry, Ban, Session, StrikeKind};
use crate::telegram::messages::{self, Outcome};

/// What a button press came to.
#[derive(Debug, Clone, PartialEq)]
pub enum PressOutcome {
    Allowed(Session),
    Denied(Session),
    /// The client disconnected before the answer.
    Gone(Session),
    /// The router could not be asked; the client stays sandboxed.
    RouterUnreachable(Session),
    /// The session was already decided; its state now.
    NotPending(SessionState),
    NotOwner,
    NotFound,
}

/// Tries for "is it still connected?" before the session is failed.
const LIVENESS_TRIES: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(300),
    Duration::from_millis(1000),
];

impl Gate {
    /// The session, if `by` may answer for it: the account's owner, or for an
    /// account without one, the chat the router named.
    async fn answerable(
        &self,
        id: SessionId,
        by: i64,
    ) -> Result<Result<Session, PressOutcome>, GateError> {
        let Some((s, owner)) = self.store().session_with_owner(id).await? else {
            return Ok(Err(PressOutcome::NotFound));
        };
        let allowed = match owner {
            Some(owner) => owner == by,
            None => s.chat_id == Some(by),
        };
        if !allowed {
            return Ok(Err(PressOutcome::NotOwner));
        }
        if s.state != SessionState::Pending {
            return Ok(Err(PressOutcome::NotPending(s.state)));
        }
        Ok(Ok(s))
    }

    /// It's me.
    pub async fn confirm(
        self: &Arc<Self>,
        id: SessionId,
        by: i64,
    ) -> Result<PressOutcome, GateError> {
        let s = match self.answerable(id, by).await? {
            Ok(s) => s,
            Err(outcome) => return Ok(outcome),
        };
        let router = self.router(&s.router)?;
        let actor = format!("tg:{by}");
        let (transition, outcome) = match self.live_session(router, &s).await {
            Ok(Some(_)) => (Transition::Confirm, Outcome::Allowed),
            Ok(None) => (Transition::Close, Outcome::Disconnected),
            Err(_) => (Transition::Fail, Outcome::RouterUnreachable),
        };
        let Some(won) = self
            .store()
            .transition(s.id, transition, Utc::now(), &actor)
            .await?
        else {
            return Ok(PressOutcome::NotPending(self.current_state(s.id).await?));
        };
        info!(session = %won.id, state = %won.state, by, "owner pressed It's me");
        // The owner is waiting at the door: the router first, the audit row
        // after (the decision itself is already stored).
        if transition == Transition::Confirm {
            self.permit(router, won.remote_address, won.id).await;
        }
        self.audit_quietly(
            AuditEntry::new(&actor, format!("session.{}", won.state))
                .router(&won.router)
                .account(&won.account)
                .address(won.caller_id)
                .session(won.id),
        )
        .await;
        self.spawn_edit(&won, outcome);
        self.forget_expiry(won.id);
        Ok(match transition {
            Transition::Confirm => PressOutcome::Allowed(won),
            Transition::Close => PressOutcome::Gone(won),
            _ => PressOutcome::RouterUnreachable(won),
        })
    }

    /// Not me: disconnect, ban the caller at once, tell the admins.
    pub async fn deny(self: &Arc<Self>, id: SessionId, by: i64) -> Result<PressOutcome, GateError> {
        let s = match self.answerable(id, by).await? {
            Ok(s) => s,
            Err(outcome) => return Ok(outcome),
        };
        let actor = format!("tg:{by}");
        let Some(won) = self
            .store()
            .transition(s.id, Transition::Deny, Utc::now(), &actor)
            .await?
        else {
            return Ok(PressOutcome::NotPending(self.current_state(s.id).await?));
        };
        info!(session = %won.id, by, "owner pressed Not me");
        self.forget_expiry(won.id);
        self.audit_quietly(
            AuditEntry::new(&actor, "session.denied")
                .router(&won.router)
                .account(&won.account)
                .address(won.caller_id)
                .session(won.id),
        )
        .await;
        let router = self.router(&won.router)?;
        self.kick_client(router, &won.account, won.remote_address, Some(won.id))
            .await;
        let ban = self
            .ban_caller(&won, "reported by the owner (Not me)", "owner", &actor)
            .await?;
        self.record_strike(&won, StrikeKind::Denied).await;
        self.spawn_edit(&won, Outcome::Denied);
        self.spawn_alert(messages::alert_denied(&won, by, ban.map(|b| b.until)));
        Ok(PressOutcome::Denied(won))
    }

    /// The deadline passed without an answer. Returns the session when this
    /// call expired it, `None` when it had already been decided.
    pub async fn expire(self: &Arc<Self>, id: SessionId) -> Result<Option<Session>, GateError> {
        let Some(won) = self
            .store()
            .expire_due(id, Utc::now(), "tgate:deadline")
            .await?
        else {
            return Ok(None);
        };
        info!(session = %won.id, "not confirmed in time");
        self.audit_quietly(
            AuditEntry::new("tgate:deadline", "session.expired")
                .router(&won.router)
                .account(&won.account)
                .address(won.caller_id)
                .session(won.id),
        )
        .await;
        let router = self.router(&won.router)?;
        self.kick_client(router, &won.account, won.remote_address, Some(won.id))
            .await;
        self.spawn_edit(&won, Outcome::Expired);
        self.record_strike(&won, StrikeKind::Expired).await;
        Ok(Some(won))
    }

    async fn current_state(&self, id: SessionId) -> Result<SessionState, GateError> {
        Ok(self
            .store()
            .session(id)
            .await?
            .map_or(SessionState::Closed, |s| s.state))
    }

    /// Is the session's PPP session still on the router? Asked a few times
    /// before giving up, since one dropped SSH connection is common.
    async fn live_session(
        &self,
        router: &RouterHandle,
        s: &Session,
    ) -> Result<Option<PppSession>, RouterError> {
        let target = PppMatch {
            name: Some(s.account.clone()),
            address: Some(s.remote_address),
            caller_id: None,
        };
        let mut last = None;
        for wait in LIVENESS_TRIES {
            tokio::time::sleep(wait).await;
            match router.gateway.find_active(&target).await {
                Ok(found) => return Ok(found),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one try"))
    }

    /// Bans the session's caller on every router, for the policy's length
    /// (doubling per earlier ban). A PPPoE caller (a MAC address) locks the
    /// account instead; a `never_ban` caller is left alone.
    pub(super) async fn ban_caller(
        &self,
        s: &Session,
        reason: &str,
        source: &str,
        by: &str,
    ) -> Result<Option<Ban>, GateError> {
        let policy = &self.config().policy;
        let ip = match s.caller_id {
            CallerId::Ip(ip) => ip,
            CallerId::Mac(_) => {
                self.store()
                    .set_account_locked(&s.router, &s.account, true)
                    .await?;
                self.audit_quietly(
                    AuditEntry::new(by, "account.locked")
                        .router(&s.router)
                        .account(&s.account)
                        .address(s.caller_id)
                        .detail(serde_json::json!({ "reason": reason })),
                )
                .await;
                return Ok(None);
            }
        };
        if policy.never_ban.iter().any(|n| n.contains(&ip)) {
            return Ok(None);
        }
        let network = IpNet::from(ip);
        let previous = self.store().count_bans(network).await?;
        let length = ban_length(policy.ban_time, policy.ban_time_max, previous);
        let ban = self
            .add_ban_row(network, length, reason, source, by, Some(s.id))
            .await?;
        Ok(Some(ban))
    }
}
