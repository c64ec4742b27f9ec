//! How the parts are put together: [`serve`] runs the API, the watcher and
//! the worker in one process on one configuration, which is how a small
//! installation runs and what the end-to-end tests start. The `tgate`
//! binary only parses arguments and calls in here.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use tgate_core::config::{Config, TelegramMode};
use tgate_core::domain::RouterName;
use tgate_core::gate::{ExpiryScheduler, Gate, ssh_gateways, watch_health};
use tgate_core::router::Gateway;
use tgate_core::storage::Store;
use tgate_core::telegram::Notifier;
use tgate_core::telegram::callback::CallbackSigner;
use tgate_worker::RetryingGateway;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub mod bench;
pub mod demo;
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
    // teloxide's own settings, and its TELOXIDE_PROXY, as `Bot::new`
    // would take them; the TLS set-up is the process's shared one.
    let mut settings = teloxide::net::default_reqwest_settings();
    if let Ok(proxy) = std::env::var("TELOXIDE_PROXY") {
        // Not the URL itself in the error: it may carry a password.
        let proxy = reqwest::Proxy::all(&proxy)
            .map_err(|_| anyhow::anyhow!("TELOXIDE_PROXY is not a proxy URL"))?;
        settings = settings.proxy(proxy);
    }
    let client = tgate_core::http::client(settings)?;
    Ok(Some(
        teloxide::Bot::with_client(token.expose_secret(), client).set_api_url(url),
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
/// an expiry scheduler: the API's queues a job for each pending session,
/// and every process's drops the jobs of the sessions it decides early.
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

/// One SSH client per configured router, each watched so that the admins
/// hear once when a router goes away and once when it is back.
pub fn routers(
    config: &Config,
    store: &Arc<dyn Store>,
    notifier: &Option<Arc<Notifier>>,
) -> Gateways {
    watch_health(&ssh_gateways(config), store, notifier)
}

/// The API's gate: plain router clients, expiry jobs queued in the database.
pub async fn api_gate(config: Arc<Config>, store: Arc<dyn Store>) -> anyhow::Result<Arc<Gate>> {
    let scheduler = tgate_worker::scheduler(&store).await?;
    let notifier = notifier(&config)?;
    let routers = routers(&config, &store, &notifier);
    Ok(gate(config, store, routers, notifier, Some(scheduler)))
}

/// Runs only the worker until `shutdown`.
pub async fn run_worker(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    if let Some(addr) = config.worker.metrics_listen {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding worker.metrics_listen {addr}"))?;
        tracing::info!(listen = %addr, "worker metrics serving");
        let token = config.server.metrics_token.clone();
        let stop = shutdown.clone().wait();
        tokio::spawn(async move {
            if let Err(e) = tgate_api::serve_process_metrics(listener, token, stop).await {
                tracing::error!(error = %e, "worker metrics stopped");
            }
        });
    }
    let notifier = notifier(&config)?;
    let gateways = retrying(&routers(&config, &store, &notifier), &store);
    // It creates no sessions; the scheduler drops the jobs of sessions the
    // reconciler closes.
    let scheduler = tgate_worker::scheduler(&store).await?;
    let gate = gate(config.clone(), store, gateways, notifier, Some(scheduler));
    tgate_worker::run(gate, &config, shutdown.wait()).await
}

/// The watcher's configuration: polling, or in webhook mode the public URL
/// (`server.public_url` + [`tgate_watcher::WEBHOOK_PATH`]) and the secret.
pub fn watcher_config(
    config: &Config,
    bot: teloxide::Bot,
    api_base: String,
    service_token: SecretString,
    callback_key: SecretString,
) -> anyhow::Result<tgate_watcher::WatcherConfig> {
    let webhook = match config.telegram.mode {
        TelegramMode::Polling => None,
        TelegramMode::Webhook => {
            // The configuration refuses webhook mode without these.
            let public = (config.server.public_url.as_deref())
                .context("webhook mode needs server.public_url")?;
            let secret = (config.telegram.webhook_secret.clone())
                .context("webhook mode needs telegram.webhook_secret")?;
            Some(tgate_watcher::Webhook {
                url: format!(
                    "{}{}",
                    public.trim_end_matches('/'),
                    tgate_watcher::WEBHOOK_PATH
                ),
                secret,
            })
        }
    };
    Ok(tgate_watcher::WatcherConfig {
        bot,
        api_base,
        service_token,
        callback_key,
        admins: config.telegram.admins.clone(),
        webhook,
    })
}

/// How long the other parts may take to stop once one has: the watcher's
/// drain of running handlers and its last acknowledgement fit in it.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(6);

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
/// one Bot API client. When one part stops (on `shutdown`, or on its own)
/// the others are stopped too and waited for; the result is the first's.
pub async fn serve(
    mut config: Config,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    fill_generated_secrets(&mut config);
    let config = Arc::new(config);
    let store = open_store(&config).await?;
    let notifier = notifier(&config)?;
    let ssh = routers(&config, &store, &notifier);
    let scheduler = tgate_worker::scheduler(&store).await?;
    let api_gate = gate(
        config.clone(),
        store.clone(),
        ssh.clone(),
        notifier.clone(),
        Some(scheduler.clone()),
    );
    // The watcher answers through the notifier's client.
    let watcher_bot = notifier.as_ref().map(|n| n.bot().clone());
    // The worker's gate creates no sessions; its scheduler only drops the
    // jobs of sessions the reconciler closes.
    let worker_gate = gate(
        config.clone(),
        store.clone(),
        retrying(&ssh, &store),
        notifier,
        Some(scheduler),
    );
    let api_url = local_url(listener.local_addr()?);
    let state = tgate_api::ApiState::new(api_gate).await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        routers = config.routers.len(),
        database = %config.database.url,
        "tgate serving"
    );
    // The parts stop together, on `shutdown` or as soon as one stops on its
    // own, and are waited for: cut off, the watcher would leave presses in
    // flight unanswered and its last updates unacknowledged (Telegram would
    // deliver them again).
    let (stop_parts, parts) = Shutdown::new();
    let stop_parts = Arc::new(stop_parts);
    tokio::spawn({
        let stop_parts = stop_parts.clone();
        async move {
            shutdown.wait().await;
            let _ = stop_parts.send(true);
        }
    });
    // In webhook mode Telegram's calls come to the API's own listener, so
    // one process needs one port and nginx sends `/telegram/` to it.
    let watcher = match watcher_bot {
        Some(bot) => Some(tgate_watcher::Watcher::new(watcher_config(
            &config,
            bot,
            api_url,
            config.server.service_token.clone().expect("filled above"),
            config.telegram.callback_key.clone().expect("filled above"),
        )?)?),
        None => None,
    };
    let webhook = watcher.as_ref().and_then(|w| w.webhook_routes());
    let mut running = tokio::task::JoinSet::new();
    {
        let parts = parts.clone();
        running.spawn(async move {
            let routes = webhook.unwrap_or_default();
            let done = tgate_api::serve_with(listener, state, routes, parts.wait()).await;
            ("api", done.map_err(anyhow::Error::from))
        });
    }
    {
        let (config, parts) = (config.clone(), parts.clone());
        running.spawn(async move {
            let done = tgate_worker::run(worker_gate, &config, parts.wait()).await;
            ("worker", done)
        });
    }
    if let Some(watcher) = watcher {
        running.spawn(async move {
            watcher.run(parts.wait()).await;
            ("watcher", Ok(()))
        });
    }
    let (first, done) = running
        .join_next()
        .await
        .expect("at least the API and the worker run")
        .context("a part of tgate panicked")?;
    tracing::info!("{first} stopped");
    let _ = stop_parts.send(true);
    let rest = tokio::time::timeout(STOP_GRACE, async {
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok((part, Ok(()))) => tracing::info!("{part} stopped"),
                Ok((part, Err(e))) => tracing::error!(error = ?e, "{part} stopped"),
                Err(e) => tracing::error!(error = %e, "a part of tgate panicked"),
            }
        }
    });
    if rest.await.is_err() {
        tracing::warn!(grace = ?STOP_GRACE, "not every part stopped in time; leaving them");
    }
    done.context(first)
}
