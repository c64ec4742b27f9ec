//! Webhook mode: Telegram POSTs each update to tgate instead of tgate
//! polling for it. The route checks the `X-Telegram-Bot-Api-Secret-Token`
//! header against `telegram.webhook_secret` before reading anything, so a
//! stranger who finds the URL cannot press buttons on anyone's behalf; then
//! it hands the update to the same handlers polling uses and answers 200 at
//! once, because Telegram waits for the answer before sending the next
//! update and retries one that is not answered in time.
//!
//! Telegram delivers an update again when it did not see our 200 (a lost
//! answer, a timeout), so the ids of recent updates are remembered and a
//! repeat is answered 200 without being handled twice: a press would only
//! earn a second toast, but an admin's `/ban` must not be applied twice.

use std::collections::{HashSet, VecDeque};
use std::pin::pin;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use teloxide::prelude::*;
use teloxide::types::Update;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::Ctx;
use crate::dispatch::{self, ALLOWED_UPDATES};
use crate::poll::{MAX_IN_FLIGHT, backoff, drain};

/// Where Telegram's calls arrive; the URL given to `setWebhook` is
/// `server.public_url` followed by this. nginx passes `/telegram/` on.
pub const WEBHOOK_PATH: &str = "/telegram/webhook";
/// The header Telegram puts the `secret_token` of `setWebhook` in.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// How many recent update ids are remembered to spot a redelivery. Telegram
/// redelivers soon after a failed attempt, so a short memory is enough.
const REMEMBERED: usize = 4096;
/// A message of 4096 characters with its entities and a quoted reply fits
/// well within this; anything larger is not an update.
const MAX_UPDATE: usize = 1 << 20;

/// The route's shared state.
pub(crate) struct Inbox {
    ctx: Arc<Ctx>,
    secret: SecretString,
    permits: Arc<Semaphore>,
    seen: Mutex<Seen>,
    handlers: Mutex<JoinSet<()>>,
}

impl Inbox {
    pub(crate) fn new(ctx: Arc<Ctx>, secret: SecretString) -> Arc<Inbox> {
        Arc::new(Inbox {
            ctx,
            secret,
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            seen: Mutex::new(Seen::default()),
            handlers: Mutex::new(JoinSet::new()),
        })
    }

    /// Compared in constant time, so the answer's timing does not reveal how
    /// much of a guess was right.
    fn authentic(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers.get(SECRET_HEADER) else {
            return false;
        };
        let expected = self.secret.expose_secret().as_bytes();
        bool::from(given.as_bytes().ct_eq(expected))
    }
}

/// The route Telegram calls, to be served on whatever listener nginx
/// forwards `/telegram/` to.
pub(crate) fn routes(inbox: Arc<Inbox>) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .layer(DefaultBodyLimit::max(MAX_UPDATE))
        .with_state(inbox)
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !inbox.authentic(&headers) {
        tracing::warn!("webhook call without the right secret token refused");
        return StatusCode::FORBIDDEN;
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => {
            tracing::warn!(error = %e, "webhook call whose body is not an update");
            return StatusCode::BAD_REQUEST;
        }
    };
    // Waiting for a slot holds Telegram's next delivery back, which is the
    // back-pressure polling gets by not asking for more.
    let Ok(permit) = Arc::clone(&inbox.permits).acquire_owned().await else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    if !inbox
        .seen
        .lock()
        .expect("never poisoned")
        .first_time(update.id.0)
    {
        tracing::info!(
            update_id = update.id.0,
            "update delivered again; already handled"
        );
        return StatusCode::OK;
    }
    let span = dispatch::update_span(&update);
    let ctx = Arc::clone(&inbox.ctx);
    let mut handlers = inbox.handlers.lock().expect("never poisoned");
    while handlers.try_join_next().is_some() {}
    handlers.spawn(
        async move {
            dispatch::handle(&ctx, update).await;
            drop(permit);
        }
        .instrument(span),
    );
    StatusCode::OK
}

/// Tells Telegram where to deliver, retrying until it agrees or `shutdown`
/// comes; then waits for `shutdown` and lets running handlers finish.
///
/// The webhook stays set when the watcher stops: Telegram keeps the updates
/// that arrive meanwhile and delivers them once tgate is back.
pub(crate) async fn run(
    inbox: Arc<Inbox>,
    url: reqwest::Url,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut shutdown = pin!(shutdown);
    let mut failures: u32 = 0;
    loop {
        let req = inbox
            .ctx
            .bot
            .set_webhook(url.clone())
            .secret_token(inbox.secret.expose_secret())
            .allowed_updates(ALLOWED_UPDATES);
        let result = tokio::select! {
            biased;
            () = &mut shutdown => return stop(&inbox).await,
            r = req.send() => r,
        };
        let pause = match result {
            Ok(_) => break,
            Err(e) => {
                failures += 1;
                let pause = backoff(&e, failures);
                tracing::error!(error = %e, retry_in = ?pause, "Telegram did not set the webhook");
                pause
            }
        };
        tokio::select! {
            biased;
            () = &mut shutdown => return stop(&inbox).await,
            () = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!(%url, "webhook set; Telegram delivers updates there");
    shutdown.await;
    stop(&inbox).await;
}

async fn stop(inbox: &Inbox) {
    let handlers = std::mem::take(&mut *inbox.handlers.lock().expect("never poisoned"));
    drain(handlers).await;
}

/// The ids of the last [`REMEMBERED`] updates handled.
#[derive(Default)]
struct Seen {
    order: VecDeque<u32>,
    ids: HashSet<u32>,
}

impl Seen {
    /// Remembers `id`; false when it was already remembered.
    fn first_time(&mut self, id: u32) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_is_seen_and_old_ones_are_forgotten() {
        let mut seen = Seen::default();
        assert!(seen.first_time(7));
        assert!(!seen.first_time(7));
        for id in 100..100 + REMEMBERED as u32 {
            assert!(seen.first_time(id));
        }
        assert!(seen.first_time(7), "7 fell out of the memory");
        assert_eq!(seen.ids.len(), REMEMBERED);
    }
}
