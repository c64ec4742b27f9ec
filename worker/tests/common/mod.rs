//! A gate wired to a RouterOS simulator over real SSH and a real database
//! (SQLite, or PostgreSQL when `TGATE_TEST_DATABASE_URL` is set), with the
//! worker running beside it as `tgate serve` would run it, or in another
//! process.

#![allow(dead_code)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tgate_core::config::Config;
use tgate_core::domain::{AccountName, RouterName, Service, SessionState};
use tgate_core::gate::{Connect, ConnectOutcome, Gate};
use tgate_core::storage::testing::TestDb;
use tgate_core::storage::{AuditFilter, Session, Store};
use tgate_sim::{RouterSim, RouterSimConfig, SimEntry};

pub const OWNER: i64 = 4242;

pub struct Harness {
    pub sim: RouterSim,
    pub db: TestDb,
    pub config: Arc<Config>,
    /// The config file's text, for a worker in another process.
    pub toml: String,
    pub gate: Arc<Gate>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    worker: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Harness {
    /// The gate and the simulator; `policy` and `worker` are extra TOML for
    /// those sections.
    pub async fn new(policy: &str, worker: &str) -> Harness {
        let sim = RouterSim::start(RouterSimConfig::default())
            .await
            .expect("simulator");
        let db = TestDb::new().await;
        let toml = format!(
            r#"
[database]
url = "{url}"

[policy]
{policy}

[worker]
{worker}

[[routers]]
name = "office"
host = "127.0.0.1"
port = {port}
user = "admin"
password = "admin"
host_key = "{fp}"
token = "office-token-0123456789"
command_timeout = "3s"
"#,
            url = db.url,
            port = sim.addr().port(),
            fp = sim.host_key_fingerprint(),
        );
        let config = Arc::new(
            Config::from_sources(&toml, &[], std::path::Path::new("."))
                .unwrap_or_else(|e| panic!("test config: {e}")),
        );
        db.store.sync_routers(&[office()]).await.unwrap();
        let scheduler = tgate_worker::scheduler(&db.store).await.expect("scheduler");
        let gate = Arc::new(
            Gate::new(
                db.store.clone(),
                config.clone(),
                tgate_worker::retrying_gateways(&config, &db.store),
            )
            .with_scheduler(scheduler),
        );
        Harness {
            sim,
            db,
            config,
            toml,
            gate,
            stop: None,
            worker: None,
        }
    }

    /// Runs the worker in this process, on the same gate.
    pub fn start_worker(&mut self) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let gate = self.gate.clone();
        let config = self.config.clone();
        self.worker = Some(tokio::spawn(async move {
            tgate_worker::run(gate, &config, async move {
                let _ = rx.await;
            })
            .await
        }));
        self.stop = Some(tx);
    }

    pub async fn stop_worker(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(w) = self.worker.take() {
            w.await.unwrap().unwrap();
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.db.store
    }

    pub async fn enroll(&self, account: &str) {
        let name: AccountName = account.parse().unwrap();
        self.store().ensure_account(&office(), &name).await.unwrap();
        self.store()
            .set_account_owner(&office(), &name, Some(OWNER))
            .await
            .unwrap();
    }

    /// A PPP client connects: the simulator holds it in the sandbox, and the
    /// up event reaches the gate.
    pub async fn connect(&self, account: &str, caller: &str, remote: &str) -> ConnectOutcome {
        let remote: IpAddr = remote.parse().unwrap();
        self.sim
            .connect_ppp(account, "l2tp", caller, remote)
            .await
            .unwrap();
        self.gate
            .connect(Connect {
                router: office(),
                account: account.parse().unwrap(),
                caller_id: caller.parse().unwrap(),
                remote_address: remote,
                local_address: Some("10.10.0.1".parse().unwrap()),
                service: Service::L2tp,
                interface: None,
                chat_id: None,
            })
            .await
            .unwrap()
    }

    /// Connects and expects a pending session.
    pub async fn pending(&self, account: &str, caller: &str, remote: &str) -> Session {
        match self.connect(account, caller, remote).await {
            ConnectOutcome::Pending(s) => s,
            other => panic!("expected a pending session, got {other:?}"),
        }
    }

    pub async fn state(&self, s: &Session) -> SessionState {
        self.store().session(s.id).await.unwrap().unwrap().state
    }

    pub fn list(&self, list: &str) -> Vec<SimEntry> {
        self.sim.address_list(list)
    }

    pub fn listed(&self, list: &str, address: &str) -> Option<SimEntry> {
        self.list(list).into_iter().find(|e| e.address == address)
    }

    pub fn connected(&self, account: &str) -> bool {
        self.sim.active_sessions().iter().any(|s| s.name == account)
    }

    /// How many audit records carry this action, whatever they are about.
    pub async fn audits(&self, action: &str) -> usize {
        self.count_audits(action, None).await
    }

    /// The commands the router received from index `from` of its log on
    /// that contain `needle`, in order.
    pub fn commands_since(&self, from: usize, needle: &str) -> Vec<String> {
        self.sim.command_log()[from..]
            .iter()
            .filter(|c| c.text.contains(needle))
            .map(|c| c.text.clone())
            .collect()
    }

    /// Audit records with this action about this session.
    pub async fn audited(&self, s: &Session, action: &str) -> usize {
        self.count_audits(action, Some(s.id.to_string())).await
    }

    async fn count_audits(&self, action: &str, session_id: Option<String>) -> usize {
        self.store()
            .audit_log(&AuditFilter {
                session_id,
                action: Some(action.into()),
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    }
}

pub fn office() -> RouterName {
    "office".parse().unwrap()
}

/// Polls `check` until it holds; panics with `what` after a generous bound.
/// Never a timing assertion: the bound only stops a broken test.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < give_up {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting: {what}");
}
