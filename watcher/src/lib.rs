//! tgate's watcher: the Telegram bot process. It receives button presses and
//! messages from Telegram, by long polling or (webhook mode) as Telegram's
//! POSTs to [`WEBHOOK_PATH`], turns each into an HTTP call to tgate's API,
//! then tells the user what the API decided. It keeps no database and
//! makes no decisions of its own, so any number of API replicas can sit
//! behind it and a restart loses nothing but in-flight toasts.

use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use tgate_core::telegram::callback::CallbackSigner;
use tokio::net::TcpListener;

mod admin;
mod api_admin;
mod api_client;
mod callbacks;
mod commands;
mod dispatch;
mod poll;
mod telegram;
mod texts;
mod webhook;

pub use webhook::WEBHOOK_PATH;

/// The teloxide this crate is built with, so callers build the [`teloxide::Bot`]
/// in [`WatcherConfig`] from the same version.
pub use teloxide;

/// Everything the watcher needs; the caller owns configuration loading.
pub struct WatcherConfig {
    /// Already pointed at the right `api_url` and token.
    pub bot: teloxide::Bot,
    /// tgate's API, e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub api_base: String,
    /// Bearer token for the API's internal endpoints.
    pub service_token: SecretString,
    /// HMAC key for the prompt buttons' callback data.
    pub callback_key: SecretString,
    /// Telegram user ids of admins.
    pub admins: Vec<i64>,
    /// Webhook mode when set; long polling when not.
    pub webhook: Option<Webhook>,
}

/// What webhook mode needs besides a place to serve [`Watcher::webhook_routes`].
pub struct Webhook {
    /// The public URL Telegram is to call: `server.public_url` followed by
    /// [`WEBHOOK_PATH`].
    pub url: String,
    /// `telegram.webhook_secret`, which Telegram sends back in every call.
    pub secret: SecretString,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("secret", &self.secret)
            .finish()
    }
}

// `Bot`'s own Debug prints its token.
impl std::fmt::Debug for WatcherConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatcherConfig")
            .field("bot_api_url", &self.bot.api_url().as_str())
            .field("api_base", &self.api_base)
            .field("service_token", &self.service_token)
            .field("callback_key", &self.callback_key)
            .field("admins", &self.admins)
            .field("webhook", &self.webhook)
            .finish()
    }
}

/// What every handler shares.
pub(crate) struct Ctx {
    pub(crate) bot: teloxide::Bot,
    pub(crate) api: api_client::ApiClient,
    pub(crate) signer: CallbackSigner,
    pub(crate) admins: Vec<i64>,
}

/// How updates reach a built watcher.
enum Delivery {
    Polling(Arc<Ctx>, teloxide::Bot),
    Webhook(Arc<webhook::Inbox>, reqwest::Url),
}

/// A watcher built from its configuration, not yet running. Built first so
/// that in webhook mode its route can be served by the caller (on the API's
/// listener under `tgate serve`) before [`Watcher::run`] registers it.
pub struct Watcher {
    api_base: String,
    telegram: String,
    admins: usize,
    delivery: Delivery,
}

impl Watcher {
    /// Fails only when it cannot be built: an unusable HTTP client or a
    /// webhook URL that is not a URL.
    pub fn new(config: WatcherConfig) -> anyhow::Result<Watcher> {
        let WatcherConfig {
            bot,
            api_base,
            service_token,
            callback_key,
            admins,
            webhook,
        } = config;
        let api = api_client::ApiClient::new(&api_base, service_token)?;
        let telegram = bot.api_url().to_string();
        let admin_count = admins.len();
        let ctx = Arc::new(Ctx {
            bot,
            api,
            signer: CallbackSigner::new(callback_key),
            admins,
        });
        let delivery = match webhook {
            Some(hook) => {
                let url = hook
                    .url
                    .parse()
                    .map_err(|e| anyhow::anyhow!("webhook URL {:?}: {e}", hook.url))?;
                Delivery::Webhook(webhook::Inbox::new(ctx, hook.secret), url)
            }
            None => {
                let poller = poll::long_poll_bot(&ctx.bot)?;
                Delivery::Polling(ctx, poller)
            }
        };
        Ok(Watcher {
            api_base,
            telegram,
            admins: admin_count,
            delivery,
        })
    }

    /// In webhook mode, the route Telegram's calls arrive at
    /// ([`WEBHOOK_PATH`]); serve it where nginx forwards `/telegram/`.
    pub fn webhook_routes(&self) -> Option<axum::Router> {
        match &self.delivery {
            Delivery::Webhook(inbox, _) => Some(webhook::routes(Arc::clone(inbox))),
            Delivery::Polling(..) => None,
        }
    }

    /// Runs the bot until `shutdown` completes, then returns soon after:
    /// handlers already running get a moment to answer. Polling, a long poll
    /// in progress is abandoned and the updates handled so far are
    /// acknowledged to Telegram so a restart does not handle them again; in
    /// webhook mode the webhook is set at start and left set at the end.
    ///
    /// Telegram or the API being unreachable is logged and retried, never an
    /// error.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        tracing::info!(
            api = %self.api_base,
            telegram = %self.telegram,
            admins = self.admins,
            webhook = matches!(self.delivery, Delivery::Webhook(..)),
            "watcher starting"
        );
        match self.delivery {
            Delivery::Polling(ctx, poller) => poll::run(ctx, poller, shutdown).await,
            Delivery::Webhook(inbox, url) => webhook::run(inbox, url, shutdown).await,
        }
        tracing::info!("watcher stopped");
    }
}

/// Runs a watcher on its own (`tgate watcher`): polling, or in webhook mode
/// serving Telegram's calls on `webhook_listener`, until `shutdown`.
///
/// Fails only when it cannot start: an unusable HTTP client, or webhook mode
/// without a listener.
pub async fn run(
    config: WatcherConfig,
    webhook_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let watcher = Watcher::new(config)?;
    let Some(routes) = watcher.webhook_routes() else {
        watcher.run(shutdown).await;
        return Ok(());
    };
    let listener =
        webhook_listener.context("webhook mode needs a listener for Telegram's calls")?;
    tracing::info!(listen = %listener.local_addr()?, path = WEBHOOK_PATH, "webhook listening");
    // Both the server and the bot stop on the one signal.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let server = tokio::spawn(
        axum::serve(listener, routes)
            .with_graceful_shutdown(wait(stopped.clone()))
            .into_future(),
    );
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    watcher.run(wait(stopped)).await;
    server
        .await
        .context("the webhook server panicked")?
        .context("serving the webhook")
}
