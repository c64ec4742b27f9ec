//! tgate's watcher: the Telegram bot process. It long-polls Telegram for
//! button presses and messages and turns each into an HTTP call to tgate's
//! API, then tells the user what the API decided. It keeps no database and
//! makes no decisions of its own, so any number of API replicas can sit
//! behind it and a restart loses nothing but in-flight toasts.

use std::sync::Arc;

use secrecy::SecretString;
use tgate_core::telegram::callback::CallbackSigner;

mod admin;
mod api_admin;
mod api_client;
mod callbacks;
mod commands;
mod poll;
mod telegram;
mod texts;

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

/// Runs the bot until `shutdown` completes, then returns soon after: a long
/// poll in progress is abandoned, handlers already running get a moment to
/// answer, and the updates handled so far are acknowledged to Telegram so a
/// restart does not handle them again.
///
/// Telegram or the API being unreachable is logged and retried, never an
/// error; `run` fails only when it cannot start (e.g. an unusable HTTP client).
pub async fn run(
    config: WatcherConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let WatcherConfig {
        bot,
        api_base,
        service_token,
        callback_key,
        admins,
    } = config;
    let api = api_client::ApiClient::new(&api_base, service_token)?;
    let poller = poll::long_poll_bot(&bot)?;
    tracing::info!(
        api = %api_base,
        telegram = %bot.api_url(),
        admins = admins.len(),
        "watcher starting"
    );
    let ctx = Arc::new(Ctx {
        bot,
        api,
        signer: CallbackSigner::new(callback_key),
        admins,
    });
    poll::run(ctx, poller, shutdown).await;
    tracing::info!("watcher stopped");
    Ok(())
}
