//! What admins do, shared by the admin HTTP API, the admin bot commands and
//! the CLI: ban an address or a network, kick a session, and look at a
//! router's health. Each writes the database first, then makes the routers
//! follow, and audits who did it.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use ipnet::IpNet;
use tracing::info;

use super::{Gate, GateError};
use crate::domain::{AccountName, CallerId, RouterName, SessionId, Transition};
use crate::router::{NewEntry, PppMatch};
use crate::storage::{AuditEntry, Ban, NewBan, Session, SessionFilter};

/// A router as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouterHealth {
    pub name: RouterName,
    pub reachable: bool,
    /// Round trip of `/system identity print`, when reachable.
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
    pub sandbox: Option<usize>,
    pub permit: Option<usize>,
    pub ban: Option<usize>,
}

impl Gate {
    /// Writes a ban row and mirrors it on every router's ban list with a
    /// matching timeout.
    pub(super) async fn add_ban_row(
        &self,
        network: IpNet,
        length: Duration,
        reason: &str,
        source: &str,
        by: &str,
        session: Option<SessionId>,
    ) -> Result<Ban, GateError> {
        let now = Utc::now();
        let ban = self
            .store()
            .insert_ban(&NewBan {
                network,
                reason: reason.to_owned(),
                source: source.to_owned(),
                created_by: by.to_owned(),
                created_at: now,
                until: now + chrono::Duration::from_std(length).unwrap_or(chrono::Duration::MAX),
            })
            .await?;
        // The routers' entries do not wait for the audit record: the ban
        // row is stored, and a caller being banned is still dialling.
        let audit = self.audit_quietly(AuditEntry::new(by, "ban.add").address(network).detail(
            serde_json::json!({ "ban": ban.id, "reason": reason, "source": source, "seconds": length.as_secs() }),
        ));
        let routers = async {
            for router in self.routers() {
                let entry = NewEntry {
                    list: router.config.ban_list.clone(),
                    address: network,
                    timeout: Some(length),
                    comment: Some(
                        format!("tgate:ban {}", ban.id)
                            .parse()
                            .expect("a number fits the comment alphabet"),
                    ),
                };
                self.apply(
                    router,
                    "ban add",
                    session,
                    router.gateway.add_address(&entry),
                )
                .await;
            }
        };
        tokio::join!(audit, routers);
        Ok(ban)
    }

    /// An admin bans an address or a network for `length`: the row, every
    /// router's ban list, and every PPP session calling from inside it.
    pub async fn admin_ban(
        &self,
        network: IpNet,
        length: Duration,
        reason: &str,
        by: &str,
    ) -> Result<Ban, GateError> {
        let network = network.trunc();
        let ban = self
            .add_ban_row(network, length, reason, "admin", by, None)
            .await?;
        info!(ban = ban.id, %network, by, "admin ban");
        for router in self.routers() {
            let sessions = match router.gateway.active_sessions().await {
                Ok(sessions) => sessions,
                // Said in the audit log: the ban is on the router's list (or
                // will be, by the reconciler), but a session already open
                // from inside it was not cut off.
                Err(err) => {
                    self.router_failed(router, "list sessions to kick for a ban", None, &err)
                        .await;
                    continue;
                }
            };
            for s in sessions {
                let inside = s
                    .caller_id
                    .parse::<CallerId>()
                    .ok()
                    .and_then(|c| c.ip())
                    .is_some_and(|ip: IpAddr| network.contains(&ip));
                if inside {
                    let target = PppMatch {
                        name: s.name.parse().ok(),
                        address: s.address,
                        ..PppMatch::default()
                    };
                    self.apply(
                        router,
                        "disconnect banned",
                        None,
                        router.gateway.disconnect(&target),
                    )
                    .await;
                }
            }
        }
        Ok(ban)
    }

    /// An admin ends a session: it is closed, the PPP session disconnected,
    /// and its address leaves the permit and sandbox lists. `None` when the
    /// session does not exist or is already over.
    pub async fn kick(&self, id: SessionId, by: &str) -> Result<Option<Session>, GateError> {
        let Some(closed) = self
            .store()
            .transition(id, Transition::Close, Utc::now(), by)
            .await?
        else {
            return Ok(None);
        };
        info!(session = %id, by, "session kicked");
        self.forget_expiry(id);
        self.audit_quietly(
            AuditEntry::new(by, "session.kick")
                .router(&closed.router)
                .account(&closed.account)
                .address(closed.caller_id)
                .session(id),
        )
        .await;
        let router = self.router(&closed.router)?;
        self.kick_client(router, &closed.account, closed.remote_address, Some(id))
            .await;
        self.apply(
            router,
            "permit remove",
            Some(id),
            router.gateway.remove_address(
                &router.config.permit_list,
                IpNet::from(closed.remote_address),
            ),
        )
        .await;
        Ok(Some(closed))
    }

    /// Locks or unlocks an account. A locked account's connects are refused
    /// (`403 locked`), and locking also ends the sessions it has open, so a
    /// lock takes effect now and not at the next login. `None` when the
    /// account does not exist; otherwise the sessions that were ended.
    pub async fn set_account_locked(
        &self,
        router: &RouterName,
        account: &AccountName,
        locked: bool,
        by: &str,
    ) -> Result<Option<Vec<Session>>, GateError> {
        if !self
            .store()
            .set_account_locked(router, account, locked)
            .await?
        {
            return Ok(None);
        }
        let action = if locked {
            "account.lock"
        } else {
            "account.unlock"
        };
        self.audit_quietly(AuditEntry::new(by, action).router(router).account(account))
            .await;
        let mut ended = Vec::new();
        if locked {
            let open = self
                .store()
                .list_sessions(&SessionFilter {
                    open: true,
                    router: Some(router.clone()),
                    account: Some(account.clone()),
                    limit: 1000,
                    ..SessionFilter::default()
                })
                .await?;
            for s in open {
                if let Some(closed) = self.kick(s.id, by).await? {
                    ended.push(closed);
                }
            }
        }
        Ok(Some(ended))
    }

    /// Reachability, latency and list sizes of one router.
    pub async fn router_health(&self, name: &RouterName) -> Result<RouterHealth, GateError> {
        let router = self.router(name)?;
        let started = Instant::now();
        let mut health = RouterHealth {
            name: name.clone(),
            reachable: false,
            latency_ms: None,
            error: None,
            sandbox: None,
            permit: None,
            ban: None,
        };
        match router.gateway.identity().await {
            Ok(_) => {
                health.reachable = true;
                health.latency_ms = Some(started.elapsed().as_millis() as u64);
            }
            Err(e) => {
                health.error = Some(e.to_string());
                return Ok(health);
            }
        }
        let c = &router.config;
        let count = |list| async move {
            router
                .gateway
                .list_addresses(list)
                .await
                .ok()
                .map(|l| l.len())
        };
        let (sandbox, permit, ban) = tokio::join!(
            count(&c.sandbox_list),
            count(&c.permit_list),
            count(&c.ban_list)
        );
        (health.sandbox, health.permit, health.ban) = (sandbox, permit, ban);
        Ok(health)
    }
}
