//! How the parts are put together: [`serve`] runs the API, the watcher and
//! the worker in one process on one configuration, which is how a small
//! installation runs and what the end-to-end tests start. The `tgate`
//! binary only parses arguments and calls in here.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use tgate_core::config::Config;
use tgate_core::domain::RouterName;
use tgate_core::gate::{ExpiryScheduler, Gate, ssh_gateways};
use tgate_core::router::Gateway;
use tgate_core::storage::Store;
use tgate_core::telegram::Notifier;
use tgate_core::telegram::callback::CallbackSigner;
use tgate_worker::RetryingGateway;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub mod bench;
pub mod lab;

/// One router client per configured router.
pub type Gateways = std::collections::HashMap<RouterName, Arc<dyn Gateway>>;

/// A shutdown signal many tasks can wait for.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    pub async fn wait(mut self) {
        while !*self.0.borrow_and_update() {
            if self.0.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Secrets the one-process server may make up when the configuration has
/// none: the watcher and the API share them in memory, so nothing else needs
/// to know them. Separate processes must be configured with them.
pub fn fill_generated_secrets(config: &mut Config) {
    let random = || SecretString::from(tgate_core::enroll::new_code());
    if config.server.service_token.is_none() {
        config.server.service_token = Some(random());
    }
    if config.telegram.callback_key.is_none() {
        config.telegram.callback_key = Some(random());
    }
}

/// The Bot API client of the configuration, if it has a bot token.
pub fn bot(config: &Config) -> anyhow::Result<Option<teloxide::Bot>> {
    use secrecy::ExposeSecret;
    let Some(token) = &config.telegram.token else {
        return Ok(None);
    };
    let url = config
        .telegram
        .api_url
        .parse()
        .with_context(|| format!("telegram.api_url {}", config.telegram.api_url))?;
    Ok(Some(
        teloxide::Bot::new(token.expose_secret()).set_api_url(url),
    ))
}

/// Opens the database and records the configured routers.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = tgate_core::storage::open(config.database.url.expose())
        .await
        .with_context(|| format!("opening database {}", config.database.url))?;
    let names: Vec<_> = config.routers.iter().map(|r| r.name.clone()).collect();
    store
        .sync_routers(&names)
        .await
        .context("recording routers")?;
    Ok(store)
}

/// The Bot API client for prompts, notes and alerts, if there is a bot token.
pub fn notifier(config: &Config) -> anyhow::Result<Option<Arc<Notifier>>> {
    let Some(bot) = bot(config)? else {
        tracing::warn!("no telegram.token: prompts are not sent; sessions wait sandboxed");
        return Ok(None);
    };
    let key = config
        .telegram
        .callback_key
        .clone()
        .context("telegram.callback_key is required with a bot token")?;
    Ok(Some(Arc::new(Notifier::new(
        bot,
        CallbackSigner::new(key),
        config.telegram.admins.clone(),
    ))))
}

/// A gate over the given router clients, with Telegram when configured and
/// an expiry scheduler for the process that accepts connects.
pub fn gate(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    gateways: Gateways,
    notifier: Option<Arc<Notifier>>,
    scheduler: Option<Arc<dyn ExpiryScheduler>>,
) -> Arc<Gate> {
    let mut gate = Gate::new(store, config, gateways);
    if let Some(n) = notifier {
        gate = gate.with_telegram(n);
    }
    if let Some(s) = scheduler {
        gate = gate.with_scheduler(s);
    }
    Arc::new(gate)
}

/// Router clients for the worker: the same SSH sessions, retried on failures
/// that may pass, since a job has time the API's caller does not.
pub fn retrying(gateways: &Gateways, store: &Arc<dyn Store>) -> Gateways {
    gateways
        .iter()
        .map(|(name, gw)| {
            let gw: Arc<dyn Gateway> = Arc::new(RetryingGateway::new(gw.clone(), store.clone()));
            (name.clone(), gw)
        })
        .collect()
}

/// The API's gate: plain router clients, expiry jobs queued in the database.
pub async fn api_gate(config: Arc<Config>, store: Arc<dyn Store>) -> anyhow::Result<Arc<Gate>> {
    let scheduler = tgate_worker::scheduler(&store).await?;
    Ok(gate(
        config.clone(),
        store,
        ssh_gateways(&config),
        notifier(&config)?,
        Some(scheduler),
    ))
}

/// Runs only the worker until `shutdown`.
pub async fn run_worker(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let gateways = retrying(&ssh_gateways(&config), &store);
    let gate = gate(config.clone(), store, gateways, notifier(&config)?, None);
    tgate_worker::run(gate, &config, shutdown.wait()).await
}

/// The address the watcher reaches the API on, from the one it listens on.
fn local_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Runs everything in this process until `shutdown`: the API, the watcher
/// and the worker, sharing one database pool, one SSH session per router and
/// one Bot API client. Returns when the first part stops (and says which).
pub async fn serve(
    mut config: Config,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    fill_generated_secrets(&mut config);
    let config = Arc::new(config);
    let store = open_store(&config).await?;
    let ssh = ssh_gateways(&config);
    let notifier = notifier(&config)?;
    let scheduler = tgate_worker::scheduler(&store).await?;
    let api_gate = gate(
        config.clone(),
        store.clone(),
        ssh.clone(),
        notifier.clone(),
        Some(scheduler),
    );
    let worker_gate = gate(
        config.clone(),
        store.clone(),
        retrying(&ssh, &store),
        notifier,
        None,
    );
    let api_url = local_url(listener.local_addr()?);
    let state = tgate_api::ApiState::new(api_gate).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        routers = config.routers.len(),
        database = %config.database.url,
        "tgate serving"
    );
    let api = tokio::spawn(tgate_api::serve(listener, state, shutdown.clone().wait()));
    let worker = {
        let (config, shutdown) = (config.clone(), shutdown.clone());
        tokio::spawn(async move { tgate_worker::run(worker_gate, &config, shutdown.wait()).await })
    };
    let watcher = match bot(&config)? {
        Some(bot) => {
            let watcher_config = tgate_watcher::WatcherConfig {
                bot,
                api_base: api_url,
                service_token: config.server.service_token.clone().expect("filled above"),
                callback_key: config.telegram.callback_key.clone().expect("filled above"),
                admins: config.telegram.admins.clone(),
            };
            tokio::spawn(tgate_watcher::run(watcher_config, shutdown.clone().wait()))
        }
        None => tokio::spawn(async move {
            shutdown.wait().await;
            Ok(())
        }),
    };
    tokio::select! {
        done = api => {
            done.context("api task")?.context("api")?;
            tracing::info!("api stopped");
        }
        done = watcher => {
            done.context("watcher task")?.context("watcher")?;
            tracing::info!("watcher stopped");
        }
        done = worker => {
            done.context("worker task")?.context("worker")?;
            tracing::info!("worker stopped");
        }
    }
    Ok(())
}
