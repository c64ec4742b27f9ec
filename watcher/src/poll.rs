//! The long-poll loop. Telegram hands out each update until a later
//! `getUpdates` acknowledges it with a higher offset, so the loop advances
//! the offset only once an update has been handed to a handler; handlers run
//! concurrently under a semaphore, so one slow API call does not hold up other
//! users while a flood of presses cannot spawn without bound.
//!
//! Failures of `getUpdates` never end the loop: a 429 waits the `retry_after`
//! Telegram names, anything else backs off exponentially. Every wait also
//! watches the shutdown signal, so stopping never waits out a 25 s poll.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::prelude::*;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::Ctx;
use crate::dispatch::{self, ALLOWED_UPDATES};

/// Telegram holds a `getUpdates` open this long when there is nothing new.
const POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// The HTTP client's own timeout must outlast the poll, or every quiet poll
/// would end as a network error.
const POLL_HTTP_TIMEOUT: Duration = Duration::from_secs(40);
/// Handlers running at once; more updates wait for a free slot.
pub(crate) const MAX_IN_FLIGHT: usize = 64;
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// After shutdown, how long running handlers may take to answer their user.
const DRAIN_GRACE: Duration = Duration::from_secs(3);
/// After shutdown, how long acknowledging the last offset may take.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// A copy of `bot` (same token and server) whose HTTP client waits for a
/// long poll; the caller's bot keeps its short timeouts for everything else.
pub(crate) fn long_poll_bot(bot: &Bot) -> anyhow::Result<Bot> {
    let client = tgate_core::http::client(
        teloxide::net::default_reqwest_settings().timeout(POLL_HTTP_TIMEOUT),
    )?;
    Ok(Bot::with_client(bot.token(), client).set_api_url(bot.api_url()))
}

pub(crate) async fn run(
    ctx: Arc<Ctx>,
    poller: Bot,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut shutdown = pin!(shutdown);
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut handlers = JoinSet::new();
    // The next update id wanted, and the last one Telegram has been told of.
    let mut offset: Option<i32> = None;
    let mut acknowledged: Option<i32> = None;
    let mut webhook_deleted = false;
    let mut failures: u32 = 0;

    'poll: loop {
        while handlers.try_join_next().is_some() {}

        let result = if webhook_deleted {
            let mut req = poller
                .get_updates()
                .timeout(POLL_TIMEOUT.as_secs() as u32)
                .allowed_updates(ALLOWED_UPDATES);
            req.offset = offset;
            tokio::select! {
                biased;
                () = &mut shutdown => break 'poll,
                r = req.send() => r,
            }
        } else {
            // A webhook left set (e.g. by webhook mode) makes getUpdates fail.
            tokio::select! {
                biased;
                () = &mut shutdown => break 'poll,
                r = poller.delete_webhook().send() => r.map(|_| {
                    webhook_deleted = true;
                    Vec::new()
                }),
            }
        };

        let updates = match result {
            Ok(updates) => {
                failures = 0;
                acknowledged = offset;
                updates
            }
            Err(e) => {
                failures += 1;
                let pause = backoff(&e, failures);
                tracing::warn!(error = %e, retry_in = ?pause, "polling Telegram failed");
                tokio::select! {
                    biased;
                    () = &mut shutdown => break 'poll,
                    () = tokio::time::sleep(pause) => continue 'poll,
                }
            }
        };

        for update in updates {
            let permit = tokio::select! {
                biased;
                () = &mut shutdown => break 'poll,
                p = Arc::clone(&permits).acquire_owned() => p.expect("the semaphore is never closed"),
            };
            let next = i32::try_from(update.id.0).map_or(i32::MAX, |id| id.saturating_add(1));
            offset = Some(offset.map_or(next, |o| o.max(next)));
            let span = dispatch::update_span(&update);
            let ctx = Arc::clone(&ctx);
            handlers.spawn(
                async move {
                    dispatch::handle(&ctx, update).await;
                    drop(permit);
                }
                .instrument(span),
            );
        }
    }

    if offset != acknowledged {
        acknowledge(&poller, offset).await;
    }
    drain(handlers).await;
}

pub(crate) fn backoff(error: &RequestError, failures: u32) -> Duration {
    if let RequestError::RetryAfter(after) = error {
        return after.duration();
    }
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    BACKOFF_START.saturating_mul(factor).min(BACKOFF_MAX)
}

/// Tells Telegram the updates handled so far are done: a `getUpdates` with
/// the new offset and no wait. The updates it returns stay unacknowledged and
/// come again after a restart.
async fn acknowledge(poller: &Bot, offset: Option<i32>) {
    let mut req = poller.get_updates().timeout(0).limit(1);
    req.offset = offset;
    match tokio::time::timeout(ACK_TIMEOUT, req.send()).await {
        Ok(Ok(_)) => tracing::debug!(?offset, "acknowledged handled updates"),
        Ok(Err(e)) => tracing::warn!(error = %e, "could not acknowledge the last updates"),
        Err(_) => tracing::warn!("acknowledging the last updates timed out"),
    }
}

/// Lets running handlers finish answering their users, up to a bound.
pub(crate) async fn drain(mut handlers: JoinSet<()>) {
    let all_done = async { while handlers.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_GRACE, all_done).await.is_err() {
        tracing::warn!(
            left = handlers.len(),
            "handlers still running at shutdown were stopped"
        );
        handlers.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::Seconds;

    #[test]
    fn backoff_doubles_to_a_cap_and_honours_retry_after() {
        let net = RequestError::Io(Arc::new(std::io::Error::other("down")));
        assert_eq!(backoff(&net, 1), Duration::from_millis(500));
        assert_eq!(backoff(&net, 2), Duration::from_secs(1));
        assert_eq!(backoff(&net, 4), Duration::from_secs(4));
        assert_eq!(backoff(&net, 100), BACKOFF_MAX);
        let flood = RequestError::RetryAfter(Seconds::from_seconds(7));
        assert_eq!(backoff(&flood, 5), Duration::from_secs(7));
    }
}
