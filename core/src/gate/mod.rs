//! The gate: what tgate does when a router reports a connect or a
//! disconnect, and (later) when the owner answers or the deadline passes. It
//! ties storage, the routers and the policy together; the HTTP API, the
//! watcher and the worker call it and only translate its outcomes.
//!
//! The database is the truth. Router changes follow a decision that has
//! already been stored, and every router change is idempotent, so a retry or
//! the reconciler can repeat any of them safely.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tracing::warn;

use crate::config::{Config, RouterAuth, RouterConfig};
use crate::domain::{AccountName, CallerId, Comment, RouterName, SessionId};
use crate::router::ssh::{SshAuth, SshGateway, SshTarget};
use crate::router::{Gateway, NewEntry, PppMatch, RouterError};
use crate::storage::{AuditEntry, Store, StoreError};
use crate::telegram::Notifier;

mod admin;
mod connect;
mod decide;
mod disconnect;
mod health;
mod reconcile;
mod strikes;
mod telegram;

pub use admin::RouterHealth;
pub use connect::{Connect, ConnectOutcome};
pub use decide::PressOutcome;
pub use disconnect::{Disconnect, DisconnectOutcome};
pub use health::{HealthWatch, watch_health};
pub use reconcile::{ReconcileError, ReconcileReport};

/// A configured router and the client that reaches it.
#[derive(Clone)]
pub struct RouterHandle {
    pub config: RouterConfig,
    pub gateway: Arc<dyn Gateway>,
}

/// The expiry job queue's name in the job tables.
pub const EXPIRY_QUEUE: &str = "tgate::expiry";
/// How long before its deadline an expiry job becomes due: the job queue
/// keeps due times in whole seconds, so the worker fetches a job early and
/// times it to the millisecond itself.
pub const EXPIRY_LEAD: Duration = Duration::from_secs(2);

/// Schedules a pending session's expiry at its deadline. The worker's job
/// queue implements it; the gate calls it before answering the router, so a
/// session accepted is a session whose deadline will be kept.
#[async_trait::async_trait]
pub trait ExpiryScheduler: Send + Sync + 'static {
    async fn schedule(
        &self,
        id: SessionId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<()>;

    /// The session was decided or closed before its deadline: its job is
    /// dropped unless a worker has already taken it. Without this every
    /// answered prompt's job would still be fetched, run and acknowledged
    /// at the deadline, only to find nothing to do. A job that stays (taken
    /// already, or the drop failed) runs and finds the session decided, as
    /// it did before.
    async fn cancel(&self, id: SessionId) -> anyhow::Result<()>;
}

pub struct Gate {
    store: Arc<dyn Store>,
    config: Arc<Config>,
    routers: HashMap<RouterName, RouterHandle>,
    /// `None` when no bot token is configured: sessions then wait, sandboxed,
    /// until they expire.
    telegram: Option<Arc<Notifier>>,
    scheduler: Option<Arc<dyn ExpiryScheduler>>,
    /// Strikes from one caller are judged one at a time (a caller hashes to
    /// one of these), so that two strikes landing together cannot both find
    /// the caller unbanned and ban it twice. Enough of them that callers
    /// rarely share one: a judgement holds its lock across the ban's router
    /// commands, and a storm's thousand callers must not queue behind each
    /// other.
    strike_locks: [tokio::sync::Mutex<()>; STRIKE_LOCKS],
    /// Connects between their arrival and the answer of their first
    /// statement (see [`Gate::connect`]).
    deciding: std::sync::atomic::AtomicUsize,
    /// Connects whose session the one statement inserted (see
    /// [`Gate::connect`]).
    plain_inserts: std::sync::atomic::AtomicU64,
}

const STRIKE_LOCKS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("unknown router {0}")]
    UnknownRouter(RouterName),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Gate {
    /// `gateways` must hold one client per configured router.
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        gateways: HashMap<RouterName, Arc<dyn Gateway>>,
    ) -> Self {
        let routers = config
            .routers
            .iter()
            .filter_map(|r| {
                let gateway = gateways.get(&r.name)?.clone();
                Some((
                    r.name.clone(),
                    RouterHandle {
                        config: r.clone(),
                        gateway,
                    },
                ))
            })
            .collect();
        Gate {
            store,
            config,
            routers,
            telegram: None,
            scheduler: None,
            strike_locks: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            deciding: std::sync::atomic::AtomicUsize::new(0),
            plain_inserts: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many connects so far had their pending session inserted by the
    /// one statement that found them plain, rather than read and decided
    /// the whole way ([`Gate::connect`]).
    pub fn plain_inserts(&self) -> u64 {
        self.plain_inserts
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Prompts, notes and alerts go through `notifier`.
    pub fn with_telegram(mut self, notifier: Arc<Notifier>) -> Self {
        self.telegram = Some(notifier);
        self
    }

    /// Pending sessions get an expiry job through `scheduler`.
    pub fn with_scheduler(mut self, scheduler: Arc<dyn ExpiryScheduler>) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    pub fn telegram(&self) -> Option<&Arc<Notifier>> {
        self.telegram.as_ref()
    }

    /// Drops the expiry job of a session that left `pending` before its
    /// deadline ([`ExpiryScheduler::cancel`]), in the background: nobody
    /// waits for it, and a job left behind is harmless.
    pub(crate) fn forget_expiry(&self, id: SessionId) {
        let Some(scheduler) = self.scheduler.clone() else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = scheduler.cancel(id).await {
                tracing::debug!(session = %id, error = %e, "expiry job left to run");
            }
        });
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn router(&self, name: &RouterName) -> Result<&RouterHandle, GateError> {
        self.routers
            .get(name)
            .ok_or_else(|| GateError::UnknownRouter(name.clone()))
    }

    /// The lock that orders the strikes of `caller`.
    fn strike_lock(&self, caller: &CallerId) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        caller.hash(&mut hasher);
        &self.strike_locks[(hasher.finish() % STRIKE_LOCKS as u64) as usize]
    }

    pub fn routers(&self) -> impl Iterator<Item = &RouterHandle> {
        self.routers.values()
    }

    /// Runs one router change; a failure is logged and audited, not returned,
    /// because the decision it follows is already stored and the reconciler
    /// will bring the router in line.
    async fn apply<F, T>(
        &self,
        router: &RouterHandle,
        what: &str,
        session: Option<SessionId>,
        call: F,
    ) where
        F: std::future::Future<Output = Result<T, RouterError>>,
    {
        if let Err(err) = call.await {
            self.router_failed(router, what, session, &err).await;
        }
    }

    /// Runs two router changes side by side: queued together, they reach
    /// the router in one exec, `first` before `second`. Each failure is
    /// handled as [`Gate::apply`] handles it.
    async fn apply_pair<A, B, TA, TB>(
        &self,
        router: &RouterHandle,
        session: Option<SessionId>,
        first: (&str, A),
        second: (&str, B),
    ) where
        A: std::future::Future<Output = Result<TA, RouterError>>,
        B: std::future::Future<Output = Result<TB, RouterError>>,
    {
        tokio::join!(
            self.apply(router, first.0, session, first.1),
            self.apply(router, second.0, session, second.1),
        );
    }

    /// Logs and audits a router call that failed, for the operator to see.
    async fn router_failed(
        &self,
        router: &RouterHandle,
        what: &str,
        session: Option<SessionId>,
        err: &RouterError,
    ) {
        warn!(router = %router.config.name, what, error = %err, "router change failed");
        let mut entry = AuditEntry::new("tgate", "router.error")
            .router(&router.config.name)
            .detail(serde_json::json!({ "operation": what, "error": err.to_string() }));
        if let Some(id) = session {
            entry = entry.session(id);
        }
        if let Err(e) = self.store.audit(&entry).await {
            warn!(error = %e, "audit write failed");
        }
    }

    /// The sandbox entry that holds a pending session's client.
    fn sandbox_entry(&self, router: &RouterHandle, address: IpAddr, id: SessionId) -> NewEntry {
        NewEntry {
            list: router.config.sandbox_list.clone(),
            address: IpNet::from(address),
            timeout: Some(self.config.policy.sandbox_timeout()),
            comment: Some(tag("sandbox", id)),
        }
    }

    /// Disconnects the PPP session and lets go of its sandbox entry.
    async fn kick_client(
        &self,
        router: &RouterHandle,
        account: &AccountName,
        address: IpAddr,
        id: Option<SessionId>,
    ) {
        let target = PppMatch {
            name: Some(account.clone()),
            address: Some(address),
            caller_id: None,
        };
        let sandbox = &router.config.sandbox_list;
        self.apply_pair(
            router,
            id,
            ("disconnect", router.gateway.disconnect(&target)),
            (
                "sandbox remove",
                (router.gateway).remove_address(sandbox, IpNet::from(address)),
            ),
        )
        .await;
    }
}

/// One SSH client per configured router.
pub fn ssh_gateways(config: &Config) -> HashMap<RouterName, Arc<dyn Gateway>> {
    config
        .routers
        .iter()
        .map(|r| {
            let auth = match &r.auth {
                RouterAuth::Password(p) => SshAuth::Password(p.clone()),
                RouterAuth::KeyFile { path, passphrase } => SshAuth::KeyFile {
                    path: path.clone(),
                    passphrase: passphrase.clone(),
                },
            };
            let gateway: Arc<dyn Gateway> = Arc::new(
                SshGateway::new(SshTarget {
                    router: r.name.clone(),
                    host: r.host.clone(),
                    port: r.port,
                    user: r.user.clone(),
                    auth,
                    host_key: r.host_key.clone(),
                    connect_timeout: CONNECT_TIMEOUT,
                    command_timeout: r.command_timeout,
                })
                .first(r.ban_list.clone()),
            );
            (r.name.clone(), gateway)
        })
        .collect()
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The comment tgate writes on its router entries. The `tgate:` prefix is how
/// the reconciler tells tgate's entries from an operator's own.
pub fn tag(kind: &str, id: SessionId) -> Comment {
    format!("tgate:{kind} {id}")
        .parse()
        .expect("kind and a UUID fit the comment alphabet")
}
