//! Router health as the admins see it. Every call to a router tells whether
//! the router answered; when that differs from what was last seen, the
//! change is recorded in the database with a conditional UPDATE, and only
//! the process whose UPDATE won alerts the admins and audits it. So a router
//! going away is reported once per transition (not once per failed call, nor
//! once per process), and its return once, with how long it was away.
//!
//! A call counts as "not answered" when the router could not be reached, did
//! not answer in time, or refused tgate's login or host key: all of them
//! mean tgate cannot act on that router. A command the router answered with
//! an error means it is up. The SSH client has already reconnected and
//! retried once before it reports a router unreachable, so a single dropped
//! connection does not raise an alert.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use async_trait::async_trait;
use chrono::Utc;
use ipnet::IpNet;
use tracing::{info, warn};

use crate::config::format_duration;
use crate::domain::{AddressListName, RouterName};
use crate::router::{
    AddOutcome, Gateway, ListedEntry, NewEntry, PppMatch, PppSession, RouterError,
};
use crate::storage::{AuditEntry, HealthChange, Store};
use crate::telegram::{Notifier, messages};

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// A router client that notices its router going away and coming back.
pub struct HealthWatch {
    inner: Arc<dyn Gateway>,
    store: Arc<dyn Store>,
    notifier: Option<Arc<Notifier>>,
    /// What this process last recorded: the fast path compares with it, so
    /// the database is touched only on a change.
    seen: AtomicU8,
    /// Serialises recording, so two changes in quick succession are
    /// recorded in the order they were seen.
    recording: tokio::sync::Mutex<()>,
}

impl HealthWatch {
    pub fn new(
        inner: Arc<dyn Gateway>,
        store: Arc<dyn Store>,
        notifier: Option<Arc<Notifier>>,
    ) -> HealthWatch {
        HealthWatch {
            inner,
            store,
            notifier,
            seen: AtomicU8::new(UNKNOWN),
            recording: tokio::sync::Mutex::new(()),
        }
    }

    async fn observe<T>(&self, result: Result<T, RouterError>) -> Result<T, RouterError> {
        let up = match &result {
            Ok(_) => true,
            Err(
                RouterError::Unreachable { .. }
                | RouterError::Timeout { .. }
                | RouterError::Auth { .. }
                | RouterError::HostKeyMismatch { .. },
            ) => false,
            Err(RouterError::Permission { .. } | RouterError::Command { .. }) => true,
            // Refused before anything was sent: says nothing about the router.
            Err(RouterError::Invalid(_)) => return result,
        };
        let now = if up { UP } else { DOWN };
        if self.seen.load(Ordering::Acquire) != now {
            let reason = result.as_ref().err().map(ToString::to_string);
            self.record(up, reason).await;
        }
        result
    }

    async fn record(&self, up: bool, reason: Option<String>) {
        let _one_at_a_time = self.recording.lock().await;
        let now = if up { UP } else { DOWN };
        if self.seen.load(Ordering::Acquire) == now {
            return;
        }
        let router = self.inner.router().clone();
        match self
            .store
            .record_router_health(&router, up, Utc::now())
            .await
        {
            Ok(change) => {
                self.seen.store(now, Ordering::Release);
                if let Some(change) = change {
                    self.report(&router, up, reason, change).await;
                }
            }
            // Not marked as seen, so the next call tries again.
            Err(e) => warn!(%router, error = %e, "router health not recorded"),
        }
    }

    async fn report(
        &self,
        router: &RouterName,
        up: bool,
        reason: Option<String>,
        change: HealthChange,
    ) {
        let away = change
            .since
            .and_then(|since| (Utc::now() - since).to_std().ok());
        let text = match (up, change.was_up) {
            (false, _) => {
                let reason = reason.as_deref().unwrap_or_default();
                warn!(%router, %reason, "router unreachable");
                messages::alert_router_down(router.as_str(), reason)
            }
            (true, Some(false)) => {
                info!(%router, "router reachable again");
                messages::alert_router_back(router.as_str(), away.map(format_duration).as_deref())
            }
            // The first answer since installation is not news.
            (true, _) => return,
        };
        let entry = AuditEntry::new("tgate", if up { "router.up" } else { "router.down" })
            .router(router)
            .detail(serde_json::json!({
                "reason": reason,
                "away_ms": if up { away.map(|d| d.as_millis() as u64) } else { None },
            }));
        if let Err(e) = self.store.audit(&entry).await {
            warn!(%router, error = %e, "router health change not audited");
        }
        if let Some(tg) = self.notifier.clone() {
            // A slow Bot API must not hold up the router call that noticed.
            tokio::spawn(async move { tg.alert_admins(&text).await });
        }
    }
}

#[async_trait]
impl Gateway for HealthWatch {
    fn router(&self) -> &RouterName {
        self.inner.router()
    }

    async fn add_address(&self, entry: &NewEntry) -> Result<AddOutcome, RouterError> {
        self.observe(self.inner.add_address(entry).await).await
    }

    async fn remove_address(
        &self,
        list: &AddressListName,
        address: IpNet,
    ) -> Result<(), RouterError> {
        self.observe(self.inner.remove_address(list, address).await)
            .await
    }

    async fn list_addresses(
        &self,
        list: &AddressListName,
    ) -> Result<Vec<ListedEntry>, RouterError> {
        self.observe(self.inner.list_addresses(list).await).await
    }

    async fn active_sessions(&self) -> Result<Vec<PppSession>, RouterError> {
        self.observe(self.inner.active_sessions().await).await
    }

    async fn find_active(&self, target: &PppMatch) -> Result<Option<PppSession>, RouterError> {
        self.observe(self.inner.find_active(target).await).await
    }

    async fn disconnect(&self, target: &PppMatch) -> Result<(), RouterError> {
        self.observe(self.inner.disconnect(target).await).await
    }

    async fn identity(&self) -> Result<String, RouterError> {
        self.observe(self.inner.identity().await).await
    }
}

/// Every router client wrapped in a [`HealthWatch`].
pub fn watch_health(
    gateways: &std::collections::HashMap<RouterName, Arc<dyn Gateway>>,
    store: &Arc<dyn Store>,
    notifier: &Option<Arc<Notifier>>,
) -> std::collections::HashMap<RouterName, Arc<dyn Gateway>> {
    gateways
        .iter()
        .map(|(name, gw)| {
            let gw: Arc<dyn Gateway> = Arc::new(HealthWatch::new(
                gw.clone(),
                store.clone(),
                notifier.clone(),
            ));
            (name.clone(), gw)
        })
        .collect()
}
