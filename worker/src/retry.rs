//! Router calls retried with backoff. The worker's jobs run unattended, so a
//! router that drops one SSH connection or reboots should not turn an expiry
//! into a half-done one: transient failures (unreachable, timeout) are tried
//! again a bounded number of times, and the outcome of every retried call is
//! in the audit log. Refused commands fail at once; retrying cannot help.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ipnet::IpNet;
use tgate_core::config::Config;
use tgate_core::domain::{AddressListName, RouterName};
use tgate_core::router::{
    AddOutcome, Gateway, ListedEntry, NewEntry, PppMatch, PppSession, RouterError,
};
use tgate_core::storage::{AuditEntry, Store};
use tracing::warn;

/// Waits before each retry: four tries within about three seconds.
const BACKOFF: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_millis(800),
    Duration::from_secs(2),
];

/// A [`Gateway`] that retries transient failures of another.
pub struct RetryingGateway {
    inner: Arc<dyn Gateway>,
    store: Arc<dyn Store>,
}

impl RetryingGateway {
    pub fn new(inner: Arc<dyn Gateway>, store: Arc<dyn Store>) -> Self {
        RetryingGateway { inner, store }
    }

    async fn retry<T, F, Fut>(&self, operation: &str, call: F) -> Result<T, RouterError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, RouterError>>,
    {
        let mut result = call().await;
        let mut attempts = 1;
        for wait in BACKOFF {
            match &result {
                Err(e) if e.is_transient() => {
                    warn!(router = %self.inner.router(), operation, error = %e, ?wait, "router call failed; retrying");
                    tokio::time::sleep(wait).await;
                    result = call().await;
                    attempts += 1;
                }
                _ => break,
            }
        }
        if attempts > 1 {
            let outcome = match &result {
                Ok(_) => {
                    serde_json::json!({ "operation": operation, "attempts": attempts, "outcome": "ok" })
                }
                Err(e) => serde_json::json!({
                    "operation": operation, "attempts": attempts, "outcome": "failed", "error": e.to_string(),
                }),
            };
            let entry = AuditEntry::new("tgate:worker", "router.retry")
                .router(self.inner.router())
                .detail(outcome);
            if let Err(e) = self.store.audit(&entry).await {
                warn!(error = %e, "audit write failed");
            }
        }
        result
    }
}

#[async_trait]
impl Gateway for RetryingGateway {
    fn router(&self) -> &RouterName {
        self.inner.router()
    }

    async fn add_address(&self, entry: &NewEntry) -> Result<AddOutcome, RouterError> {
        self.retry("add address", || self.inner.add_address(entry))
            .await
    }

    async fn remove_address(
        &self,
        list: &AddressListName,
        address: IpNet,
    ) -> Result<(), RouterError> {
        self.retry("remove address", || {
            self.inner.remove_address(list, address)
        })
        .await
    }

    async fn list_addresses(
        &self,
        list: &AddressListName,
    ) -> Result<Vec<ListedEntry>, RouterError> {
        self.retry("list addresses", || self.inner.list_addresses(list))
            .await
    }

    async fn active_sessions(&self) -> Result<Vec<PppSession>, RouterError> {
        self.retry("ppp active", || self.inner.active_sessions())
            .await
    }

    async fn find_active(&self, target: &PppMatch) -> Result<Option<PppSession>, RouterError> {
        self.retry("find ppp active", || self.inner.find_active(target))
            .await
    }

    async fn disconnect(&self, target: &PppMatch) -> Result<(), RouterError> {
        self.retry("disconnect", || self.inner.disconnect(target))
            .await
    }

    async fn identity(&self) -> Result<String, RouterError> {
        self.inner.identity().await
    }
}

/// One SSH client per configured router, each retrying transient failures:
/// what the worker's gate should use.
pub fn retrying_gateways(
    config: &Config,
    store: &Arc<dyn Store>,
) -> HashMap<RouterName, Arc<dyn Gateway>> {
    tgate_core::gate::ssh_gateways(config)
        .into_iter()
        .map(|(name, gw)| {
            let gw: Arc<dyn Gateway> = Arc::new(RetryingGateway::new(gw, store.clone()));
            (name, gw)
        })
        .collect()
}
