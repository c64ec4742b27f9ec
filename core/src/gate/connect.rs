//! A connect (the router's up event): dedupe, ban check, trusted networks,
//! who can confirm, and the one-pending-prompt-per-account rule (SPEC §3, §4).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use tracing::info;

use super::{Gate, GateError, RouterHandle};
use crate::domain::{
    AccountName, CallerId, InterfaceName, RouterName, Service, SessionId, SessionState, Transition,
};
use crate::router::{NewEntry, PppMatch};
use crate::storage::{AuditEntry, Ban, Inserted, NewSession, Session, StrikeKind, ban_covering};
use crate::telegram::{Lang, messages};

/// Polls `future` once; whether it finished.
async fn poll_once<F: std::future::Future<Output = ()>>(mut future: std::pin::Pin<&mut F>) -> bool {
    std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx).is_ready())).await
}

/// How long after a connect the router may still be retrying its up event.
/// RouterOS's `/tool fetch` gives up within seconds; a minute is generous.
const DUPLICATE_WINDOW: chrono::Duration = chrono::Duration::seconds(60);

/// A validated up event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub router: RouterName,
    pub account: AccountName,
    pub caller_id: CallerId,
    pub remote_address: IpAddr,
    pub local_address: Option<IpAddr>,
    pub service: Service,
    pub interface: Option<InterfaceName>,
    /// The chat id the router sent (tik2fa keeps it in the PPP secret's comment).
    pub chat_id: Option<i64>,
}

impl Connect {
    /// An audit row of this connect, by its router: `action`, with the
    /// router, the account and the caller.
    fn audit_entry(&self, action: &str) -> AuditEntry {
        AuditEntry::new(format!("router:{}", self.router), action)
            .router(&self.router)
            .account(&self.account)
            .address(self.caller_id)
    }

    /// A new session for this connect; `prompt` is the chat its prompt goes
    /// to and the language it is written in, when it has one.
    fn session(
        &self,
        prompt: Option<(i64, Lang)>,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> NewSession {
        NewSession {
            id: SessionId::new(),
            router: self.router.clone(),
            account: self.account.clone(),
            caller_id: self.caller_id,
            remote_address: self.remote_address,
            local_address: self.local_address,
            service: self.service,
            interface: self.interface.clone(),
            chat_id: prompt.map(|(chat, _)| chat),
            language: prompt.map(|(_, lang)| lang.code().to_owned()),
            created_at: now,
            deadline,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConnectOutcome {
    /// A prompt is owed to the owner; the client waits in the sandbox.
    Pending(Session),
    /// The router repeated an event tgate already has; the answer is the
    /// session as it stands.
    Duplicate(Session),
    /// The caller is on a trusted network: permitted without a prompt.
    Allowed(Session),
    /// The caller is banned; the PPP session was disconnected.
    Banned(Ban),
    /// Nobody can confirm for this account; the PPP session was disconnected.
    /// `first_time` is true once per account, when the admins should be told.
    Unenrolled { first_time: bool },
    /// The account is locked by an admin; the PPP session was disconnected.
    Locked,
    /// Another prompt is pending for the account; this connect was
    /// disconnected. `same_caller` means a client redialling on its own.
    Blocked { pending: Session, same_caller: bool },
}

/// A connect being decided, counted in `Gate::deciding` while it lives:
/// until its one statement answers or its facts are read.
struct Deciding<'a> {
    count: &'a AtomicUsize,
    /// No other connect was being decided when this one arrived.
    alone: bool,
}

impl<'a> Deciding<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        let before = count.fetch_add(1, Ordering::Relaxed);
        Deciding {
            count,
            alone: before == 0,
        }
    }
}

impl Drop for Deciding<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Gate {
    pub async fn connect(self: &Arc<Self>, ev: Connect) -> Result<ConnectOutcome, GateError> {
        let router = self.router(&ev.router)?;
        let store = self.store();
        let now = Utc::now();
        let timeout = chrono::Duration::from_std(self.config().policy.confirm_timeout)
            .unwrap_or(chrono::Duration::MAX);
        let trusted = self.trusted(&ev);
        let deciding = Deciding::enter(&self.deciding);
        // Where the prompt goes: the enrolled owner, else (tik2fa) the chat
        // the router named.
        let router_chat = ev.chat_id.filter(|_| router.config.trust_router_chat_id);

        // Most connects are plain: a new PPP session of an owned, unlocked
        // account from a caller nobody banned. One that arrives while no
        // other is being decided has its session inserted by the statement
        // that finds it plain: a round trip before the prompt instead of
        // two. Connects that arrive together are decided below, where
        // their reads and inserts go to the database together; so is every
        // connect that is not plain, from what it finds.
        if !trusted
            && deciding.alone
            && let Some(session) = store
                .insert_plain_pending(&NewSession {
                    chat_id: router_chat,
                    ..ev.session(None, now, now + timeout)
                })
                .await?
        {
            drop(deciding);
            self.plain_inserts.fetch_add(1, Ordering::Relaxed);
            return self.pending(router, &ev, session).await;
        }

        // What decides the connect, read in one go: the session already at
        // this address, the bans covering the caller, and the account.
        let facts = store
            .connect_facts(
                &ev.router,
                &ev.account,
                ev.remote_address,
                ev.caller_id.ip(),
                now,
            )
            .await?;
        // What it does next (router calls, inserts and audit rows of its
        // own) does not keep a connect that arrives now from the one
        // statement.
        drop(deciding);
        let banned = ev
            .caller_id
            .ip()
            .and_then(|ip| ban_covering(&facts.bans, ip).cloned());
        let (existing, account) = (facts.open_session, facts.account);

        // The router retries an up event when it missed our answer: the same
        // tunnel address of the same account from the same caller is the same
        // PPP session, while it is pending or within the retry window.
        if let Some(existing) = existing {
            let retry = existing.state == SessionState::Pending
                || now - existing.created_at < DUPLICATE_WINDOW;
            if retry && existing.caller_id == ev.caller_id {
                return Ok(ConnectOutcome::Duplicate(existing));
            }
            // Otherwise a new PPP session has the address: the old one's down
            // event was lost, and it must not lend the new one its permit.
            if existing.state == SessionState::Confirmed {
                store
                    .transition(existing.id, Transition::Close, now, "tgate:replaced")
                    .await?;
            }
        }

        if let Some(ban) = banned {
            self.kick_client(router, &ev.account, ev.remote_address, None)
                .await;
            self.audit_refusal(&ev, "banned").await?;
            return Ok(ConnectOutcome::Banned(ban));
        }
        if trusted {
            return self.allow_trusted(router, &ev).await;
        }

        let account = match account {
            Some(account) => account,
            None => store.ensure_account(&ev.router, &ev.account).await?,
        };
        if account.locked {
            self.kick_client(router, &ev.account, ev.remote_address, None)
                .await;
            self.audit_refusal(&ev, "locked").await?;
            return Ok(ConnectOutcome::Locked);
        }
        let Some(chat) = account.owner_tg_id.or(router_chat) else {
            self.kick_client(router, &ev.account, ev.remote_address, None)
                .await;
            self.audit_refusal(&ev, "unenrolled").await?;
            let first_time = store
                .mark_unenrolled_alert(&ev.router, &ev.account, now)
                .await?;
            if first_time {
                self.spawn_alert(messages::alert_unenrolled(
                    ev.router.as_str(),
                    ev.account.as_str(),
                    &ev.caller_id.to_string(),
                ));
            }
            return Ok(ConnectOutcome::Unenrolled { first_time });
        };

        let lang = super::telegram::owner_lang(&account);
        let new = ev.session(Some((chat, lang)), now, now + timeout);
        let mut replaced_once = false;
        loop {
            match store.insert_pending(&new).await? {
                Inserted::Created(session) => {
                    return self.pending(router, &ev, session).await;
                }
                Inserted::PendingExists(pending)
                    if pending.remote_address == ev.remote_address
                        && pending.caller_id == ev.caller_id =>
                {
                    return Ok(ConnectOutcome::Duplicate(pending));
                }
                Inserted::PendingExists(pending) => {
                    // A lost down event leaves a pending session whose PPP
                    // session is gone; the new connect replaces it.
                    if !replaced_once && !self.still_connected(router, &pending).await {
                        replaced_once = true;
                        store
                            .transition(pending.id, Transition::Close, now, "tgate:replaced")
                            .await?;
                        self.forget_expiry(pending.id);
                        continue;
                    }
                    self.kick_client(router, &ev.account, ev.remote_address, None)
                        .await;
                    let same_caller = pending.caller_id == ev.caller_id;
                    store
                        .audit(
                            &ev.audit_entry("session.blocked")
                                .session(pending.id)
                                .detail(serde_json::json!({
                                    "remote_address": ev.remote_address,
                                    "same_caller": same_caller,
                                })),
                        )
                        .await?;
                    // A client redialling on its own is neither an offence
                    // nor news to the owner.
                    if !same_caller {
                        let attempt = Session {
                            caller_id: ev.caller_id,
                            remote_address: ev.remote_address,
                            ..pending.clone()
                        };
                        self.record_strike(&attempt, StrikeKind::Blocked).await;
                    }
                    if !same_caller && let Some(chat) = pending.chat_id {
                        self.spawn_note(
                            chat,
                            messages::blocked(lang, ev.account.as_str(), &ev.caller_id.to_string()),
                        );
                    }
                    return Ok(ConnectOutcome::Blocked {
                        pending,
                        same_caller,
                    });
                }
            }
        }
    }

    /// A connect's new pending session: the router holds the client in the
    /// sandbox, and the owner is asked in the language stored with it.
    async fn pending(
        self: &Arc<Self>,
        router: &RouterHandle,
        ev: &Connect,
        session: Session,
    ) -> Result<ConnectOutcome, GateError> {
        let store = self.store();
        let lang = super::telegram::lang_or_default(session.language.as_deref());
        info!(session = %session.id, router = %ev.router, account = %ev.account, "connect pending");
        // A permit entry for this address belongs to an earlier PPP session
        // (a lost down event); it would let this one through unconfirmed,
        // since the firewall accepts permit before it drops sandbox.
        let permit = &router.config.permit_list;
        let address = IpNet::from(ev.remote_address);
        let sandbox = self.sandbox_entry(router, ev.remote_address, session.id);
        let hold = self.apply_pair(
            router,
            Some(session.id),
            (
                "permit remove",
                router.gateway.remove_address(permit, address),
            ),
            ("sandbox add", router.gateway.add_address(&sandbox)),
        );
        let mut hold = std::pin::pin!(hold);
        // Queue those two at the router before the prompt goes out: the
        // router runs commands in order, so the permit of an "It's me" (or
        // of fail_mode = "safe") can never land before them and be undone
        // by them. The owner waits for nothing else; the bookkeeping and
        // the router's answer come after the prompt.
        let held = poll_once(hold.as_mut()).await;
        self.spawn_prompt(session.clone(), lang);
        // On PostgreSQL the session's insert did not wait for the log's
        // flush; this row's commit does, and makes the session durable with
        // it before the router hears 202 (`PgStore::open_with`).
        store
            .audit(
                &ev.audit_entry("session.pending")
                    .session(session.id)
                    .detail(serde_json::json!({
                        "remote_address": ev.remote_address,
                        "service": ev.service,
                    })),
            )
            .await?;
        if let Some(scheduler) = &self.scheduler
            && let Err(e) = scheduler.schedule(session.id, session.deadline).await
        {
            // The worker's sweep of overdue sessions still expires it; this
            // only costs precision.
            tracing::error!(session = %session.id, error = %e, "expiry not scheduled");
        }
        if !held {
            hold.await;
        }
        Ok(ConnectOutcome::Pending(session))
    }

    /// Whether the caller is on a trusted network (`policy.trusted_networks`).
    fn trusted(&self, ev: &Connect) -> bool {
        let trusted = &self.config().policy.trusted_networks;
        ev.caller_id
            .ip()
            .is_some_and(|ip| trusted.iter().any(|n| n.contains(&ip)))
    }

    /// Whether the router still has the session's PPP session. When the
    /// router cannot be asked, assume it does: blocking is the safe answer.
    async fn still_connected(&self, router: &RouterHandle, session: &Session) -> bool {
        let target = PppMatch {
            name: Some(session.account.clone()),
            address: Some(session.remote_address),
            caller_id: None,
        };
        !matches!(router.gateway.find_active(&target).await, Ok(None))
    }

    async fn allow_trusted(
        &self,
        router: &RouterHandle,
        ev: &Connect,
    ) -> Result<ConnectOutcome, GateError> {
        let now = Utc::now();
        let new = ev.session(None, now, now);
        let session = self
            .store()
            .insert_decided(&new, SessionState::Confirmed, "tgate:trusted-network")
            .await?;
        self.store()
            .audit(
                &AuditEntry::new("tgate:trusted-network", "session.allowed")
                    .router(&ev.router)
                    .account(&ev.account)
                    .address(ev.caller_id)
                    .session(session.id),
            )
            .await?;
        self.permit(router, ev.remote_address, session.id).await;
        Ok(ConnectOutcome::Allowed(session))
    }

    /// Moves a tunnel address from the sandbox to the permit list.
    pub(super) async fn permit(&self, router: &RouterHandle, address: IpAddr, id: SessionId) {
        let entry = NewEntry {
            list: router.config.permit_list.clone(),
            address: IpNet::from(address),
            timeout: self.config().policy.max_session,
            comment: Some(super::tag("permit", id)),
        };
        // The add first, so that a working router never leaves the client
        // in neither list.
        let sandbox = &router.config.sandbox_list;
        self.apply_pair(
            router,
            Some(id),
            ("permit add", router.gateway.add_address(&entry)),
            (
                "sandbox remove",
                (router.gateway).remove_address(sandbox, IpNet::from(address)),
            ),
        )
        .await;
    }

    async fn audit_refusal(&self, ev: &Connect, why: &str) -> Result<(), GateError> {
        info!(router = %ev.router, account = %ev.account, caller = %ev.caller_id, why, "connect refused");
        self.store()
            .audit(
                &ev.audit_entry("session.refused").detail(serde_json::json!({
                    "reason": why,
                    "remote_address": ev.remote_address,
                })),
            )
            .await?;
        Ok(())
    }
}
