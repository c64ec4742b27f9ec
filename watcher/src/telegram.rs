//! Sending to Telegram from a handler. A reply or a toast that hits the Bot
//! API's flood limit is retried after the `retry_after` Telegram names, so a
//! busy moment does not leave a button spinning; anything else is logged and
//! dropped, because the handler has nothing better to do with it.

use std::time::Duration;

use teloxide::RequestError;
use teloxide::requests::{Output, Request};

/// Tries this many times in all before giving up on one request.
const ATTEMPTS: u32 = 3;
/// A handler does not sit on a permit for minutes for one message.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// After a network error, which may be a blip between us and Telegram.
const NETWORK_PAUSE: Duration = Duration::from_millis(500);

/// Sends `req`, retrying flood-limit and network errors a few times.
pub async fn deliver<R>(what: &'static str, req: R) -> Option<Output<R>>
where
    R: Request<Err = RequestError>,
{
    for attempt in 1..=ATTEMPTS {
        let pause = match req.send_ref().await {
            Ok(out) => return Some(out),
            Err(RequestError::RetryAfter(after)) if attempt < ATTEMPTS => {
                after.duration().min(MAX_WAIT)
            }
            Err(RequestError::Network(e)) if attempt < ATTEMPTS => {
                tracing::debug!(error = %e, what, "network error talking to Telegram; retrying");
                NETWORK_PAUSE
            }
            Err(e) => {
                tracing::warn!(error = %e, what, "Telegram refused a request");
                return None;
            }
        };
        tokio::time::sleep(pause).await;
    }
    None
}
