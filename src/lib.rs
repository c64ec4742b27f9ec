//! How the parts are put together: [`serve`] runs the API and the watcher
//! (and, next, the worker) in one process on one configuration, which is how a
//! small installation runs and what the end-to-end tests start. The `tgate`
//! binary only parses arguments and calls in here.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use tgate_core::config::Config;
use tgate_core::gate::{Gate, ssh_gateways};
use tgate_core::storage::Store;
use tgate_core::telegram::Notifier;
use tgate_core::telegram::callback::CallbackSigner;
use tokio::net::TcpListener;
use tokio::sync::watch;

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

/// The gate for this configuration: store, routers over SSH, Telegram.
pub fn gate(config: Arc<Config>, store: Arc<dyn Store>) -> anyhow::Result<Arc<Gate>> {
    let mut gate = Gate::new(store, config.clone(), ssh_gateways(&config));
    if let Some(bot) = bot(&config)? {
        let key = config
            .telegram
            .callback_key
            .clone()
            .context("telegram.callback_key is required with a bot token")?;
        gate = gate.with_telegram(Arc::new(Notifier::new(
            bot,
            CallbackSigner::new(key),
            config.telegram.admins.clone(),
        )));
    } else {
        tracing::warn!("no telegram.token: prompts are not sent; sessions wait sandboxed");
    }
    Ok(Arc::new(gate))
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

/// Runs everything in this process until `shutdown`; returns when the first
/// part stops (and says which).
pub async fn serve(
    mut config: Config,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    fill_generated_secrets(&mut config);
    let config = Arc::new(config);
    let store = open_store(&config).await?;
    let gate = gate(config.clone(), store)?;
    let api_url = local_url(listener.local_addr()?);
    let state = tgate_api::ApiState::new(gate).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        routers = config.routers.len(),
        database = %config.database.url,
        "tgate serving"
    );
    let api = tokio::spawn(tgate_api::serve(listener, state, shutdown.clone().wait()));
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
    }
    Ok(())
}
