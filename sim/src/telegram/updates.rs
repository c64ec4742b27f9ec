//! How updates reach the bot: by long polling (getUpdates, which answers
//! the moment an update arrives and is confirmed by the next call's
//! `offset`) or, while a webhook is set, pushed as JSON POSTs carrying the
//! secret header. Telegram allows one of the two at a time and one poller
//! at a time; both rules are kept, because a bot that breaks them fails in
//! production.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::methods::allowed_updates;
use super::params::Params;
use super::reply::{Outcome, TgError};
use super::state::State;
use super::{Shared, now};

/// Delivery attempts per update before it is given up, and the first pause.
const WEBHOOK_ATTEMPTS: u32 = 4;
const WEBHOOK_BACKOFF: Duration = Duration::from_millis(50);

/// Removes the updates an `offset` confirms: below it when positive; when
/// negative, all but the last `-offset`.
fn confirm(st: &mut State, offset: i64) {
    if offset > 0 {
        st.updates.retain(|u| i64::from(u.id) >= offset);
    } else if offset < 0 {
        let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
        let excess = st.updates.len().saturating_sub(keep);
        st.updates.drain(..excess);
    }
}

pub(crate) async fn get_updates(shared: &Arc<Shared>, p: &Params) -> Outcome {
    let bad = |name: &str| TgError::bad_request(format!("wrong parameter {name}"));
    let offset = p.int("offset").map_err(|()| bad("offset"))?.unwrap_or(0);
    let limit = p
        .int("limit")
        .map_err(|()| bad("limit"))?
        .unwrap_or(100)
        .clamp(1, 100);
    let timeout = p.int("timeout").map_err(|()| bad("timeout"))?.unwrap_or(0);
    let allowed = allowed_updates(p)?;
    let deadline = Instant::now() + Duration::from_secs(timeout.clamp(0, 3600) as u64);

    let generation = {
        let mut st = shared.lock();
        if st.webhook.is_some() {
            return Err(TgError::webhook_active());
        }
        confirm(&mut st, offset);
        if let Some(allowed) = allowed {
            st.allowed_updates = allowed;
        }
        st.poll_generation += 1;
        st.poll_generation
    };
    // An older poll still waiting must learn it has been replaced.
    shared.changed.notify_waiters();

    loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        {
            let mut st = shared.lock();
            if st.poll_generation != generation {
                return Err(TgError::terminated_by_other_poll());
            }
            if st.webhook.is_some() {
                return Err(TgError::webhook_active());
            }
            st.drop_unwanted_updates();
            let batch: Vec<Value> = st
                .updates
                .iter()
                .take(limit as usize)
                .map(|u| u.json.clone())
                .collect();
            if !batch.is_empty() || Instant::now() >= deadline {
                return Ok(Value::Array(batch).into());
            }
        }
        tokio::select! {
            () = &mut changed => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Runs for the simulator's life: while a webhook is set, POSTs each
/// pending update in order, one at a time, retrying a failed delivery a
/// few times before giving it up and noting the error for getWebhookInfo.
pub(crate) async fn deliver_to_webhook(shared: Arc<Shared>) {
    loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let next = {
            let mut st = shared.lock();
            st.drop_unwanted_updates();
            match (&st.webhook, st.updates.front()) {
                (Some(hook), Some(update)) => {
                    Some((hook.url.clone(), hook.secret.clone(), update.clone()))
                }
                _ => None,
            }
        };
        let Some((url, secret, update)) = next else {
            changed.await;
            continue;
        };
        let result = post(&shared.http, &url, secret.as_deref(), &update.json).await;
        let mut st = shared.lock();
        st.updates.retain(|u| u.id != update.id);
        if let (Err(message), Some(hook)) = (result, st.webhook.as_mut()) {
            hook.last_error = Some((now(), message));
        }
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    update: &Value,
) -> Result<(), String> {
    let mut pause = WEBHOOK_BACKOFF;
    let mut last_error = String::new();
    for attempt in 1..=WEBHOOK_ATTEMPTS {
        let mut request = http.post(url).json(update);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                last_error = format!("Wrong response from the webhook: {}", response.status());
            }
            Err(err) if err.is_connect() => last_error = "Connection refused".to_owned(),
            Err(err) if err.is_timeout() => last_error = "Read timeout expired".to_owned(),
            Err(err) => last_error = err.to_string(),
        }
        if attempt < WEBHOOK_ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    Err(last_error)
}
