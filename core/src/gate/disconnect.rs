//! A disconnect (the router's down event): the session is closed and the
//! tunnel address leaves the permit and sandbox lists (SPEC §4).

use std::net::IpAddr;

use chrono::Utc;
use ipnet::IpNet;
use tracing::info;

use super::{Gate, GateError};
use crate::domain::{AccountName, RouterName, SessionState};
use crate::storage::{AuditEntry, Closed, Session};
use crate::telegram::messages::Outcome;

/// Who closes a session on a down event (its `decided_by` when it was
/// still pending). No decision uses it, as `Store::close_open_session`
/// requires.
pub const ROUTER_CLOSE: &str = "router";

/// A validated down event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    pub router: RouterName,
    pub account: AccountName,
    pub remote_address: IpAddr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DisconnectOutcome {
    /// The session this down event closed, if one was open.
    pub closed: Option<Session>,
    /// The closed session was still waiting for an answer.
    pub was_pending: bool,
}

impl Gate {
    pub async fn disconnect(&self, ev: Disconnect) -> Result<DisconnectOutcome, GateError> {
        let router = self.router(&ev.router)?;
        let store = self.store();
        let mut outcome = DisconnectOutcome {
            closed: None,
            was_pending: false,
        };
        if let Some(Closed {
            session: closed,
            was,
        }) = store
            .close_open_session(
                &ev.router,
                &ev.account,
                ev.remote_address,
                Utc::now(),
                ROUTER_CLOSE,
            )
            .await?
        {
            info!(session = %closed.id, router = %ev.router, account = %ev.account, "session closed");
            store
                .audit(
                    &AuditEntry::new(format!("router:{}", ev.router), "session.closed")
                        .router(&ev.router)
                        .account(&ev.account)
                        .address(ev.remote_address)
                        .session(closed.id)
                        .detail(serde_json::json!({ "was": was })),
                )
                .await?;
            outcome.was_pending = was == SessionState::Pending;
            if outcome.was_pending {
                self.spawn_edit(&closed, Outcome::Disconnected);
                self.forget_expiry(closed.id);
            }
            outcome.closed = Some(closed);
        }
        // Clean up even without a session: the on-up script sandboxes a client
        // before tgate hears of it, and tgate may never have.
        let address = IpNet::from(ev.remote_address);
        let id = outcome.closed.as_ref().map(|s| s.id);
        let (permit, sandbox) = (&router.config.permit_list, &router.config.sandbox_list);
        self.apply_pair(
            router,
            id,
            (
                "permit remove",
                router.gateway.remove_address(permit, address),
            ),
            (
                "sandbox remove",
                router.gateway.remove_address(sandbox, address),
            ),
        )
        .await;
        Ok(outcome)
    }
}
