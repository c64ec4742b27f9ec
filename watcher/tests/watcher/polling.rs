//! The long-poll loop: the webhook is removed first, Telegram's flood limit
//! and outages are waited out, each update is handled once (also across a
//! restart), and shutdown does not wait out a long poll.

use std::time::Duration;

use tgate_sim::Failure;

use crate::support::*;

fn methods(h: &Harness) -> Vec<String> {
    h.sim.calls().into_iter().map(|c| c.method).collect()
}

#[tokio::test]
async fn the_webhook_is_deleted_before_polling() {
    let h = Harness::start(default_reply).await;
    h.ask(&alice(), "/help").await;
    let methods = methods(&h);
    let delete = methods.iter().position(|m| m == "deleteWebhook");
    let poll = methods.iter().position(|m| m == "getUpdates");
    assert!(delete.is_some() && delete < poll, "{methods:?}");
    assert_eq!(methods.iter().filter(|m| *m == "deleteWebhook").count(), 1);
}

#[tokio::test]
async fn a_429_on_get_updates_is_waited_out_and_the_next_update_still_arrives() {
    let sim = tgate_sim::BotApiSim::start(Default::default())
        .await
        .expect("simulator");
    sim.fail_next("getUpdates", Failure::TooManyRequests { retry_after: 1 }, 1);
    let api = FakeApi::start(default_reply).await;
    let base = api.url().to_owned();
    let h = Harness::with(sim, api, &base);

    let help = h.ask(&alice(), "/help").await;
    assert!(help.contains("/status"), "{help}");
    let calls = h.sim.calls();
    let refused = calls
        .iter()
        .find(|c| c.method == "getUpdates" && c.status == 429)
        .expect("the 429 was served");
    let next = calls
        .iter()
        .find(|c| c.method == "getUpdates" && c.status == 200)
        .expect("polling went on");
    assert!(
        next.at.duration_since(refused.at) >= Duration::from_millis(900),
        "retry_after was honoured"
    );
}

#[tokio::test]
async fn a_server_error_on_get_updates_is_retried() {
    let sim = tgate_sim::BotApiSim::start(Default::default())
        .await
        .expect("simulator");
    sim.fail_next("getUpdates", Failure::ServerError(502), 1);
    let api = FakeApi::start(default_reply).await;
    let base = api.url().to_owned();
    let h = Harness::with(sim, api, &base);

    // teloxide itself pauses 10 s after a 5xx before reporting it.
    let sent = h.sim.user_sends(&alice(), "/help");
    let reply = h
        .sim
        .wait_for(alice().id, Duration::from_secs(20), |m| {
            m.message_id > sent && m.text.contains("/status")
        })
        .await;
    assert!(reply.is_some(), "{:?}", h.sim.calls());
}

#[tokio::test]
async fn each_update_is_handled_once_even_across_a_restart() {
    let mut h = Harness::start(default_reply).await;
    let alice = alice();
    h.ask(&alice, "/help").await;
    h.ask(&alice, "hello").await;
    h.stop().await;

    h.spawn_watcher();
    h.ask(&alice, "/start").await;
    // Time for a wrongly redelivered update to be answered again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let texts: Vec<_> = h
        .sim
        .bot_messages(alice.id)
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts.len(), 3, "{texts:#?}");
    h.stop().await;
}

/// The update handled last is acknowledged at shutdown even when no later
/// poll got through to do it (here Telegram throttles that poll).
#[tokio::test]
async fn the_last_update_is_acknowledged_at_shutdown() {
    let mut h = Harness::start(default_reply).await;
    let alice = alice();
    h.ask(&alice, "/help").await;
    // The long poll now waiting has already arrived; the one after it is
    // refused with a long retry_after.
    h.sim.fail_next(
        "getUpdates",
        Failure::TooManyRequests { retry_after: 600 },
        1,
    );
    h.ask(&alice, "hello").await;
    while !h.sim.calls().iter().any(|c| c.status == 429) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.stop().await;

    h.spawn_watcher();
    h.ask(&alice, "/start").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sim.bot_messages(alice.id).len(), 3);
    h.stop().await;
}

#[tokio::test]
async fn run_returns_promptly_after_shutdown_during_a_long_poll() {
    let mut h = Harness::start(default_reply).await;
    h.ask(&alice(), "/help").await;
    // Now the watcher sits in a 25 s long poll; `stop` allows it 8 s.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    h.stop().await;
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn run_returns_promptly_while_telegram_is_throttling() {
    let sim = tgate_sim::BotApiSim::start(Default::default())
        .await
        .expect("simulator");
    sim.fail_next(
        "getUpdates",
        Failure::TooManyRequests { retry_after: 600 },
        1,
    );
    let api = FakeApi::start(default_reply).await;
    let base = api.url().to_owned();
    let mut h = Harness::with(sim, api, &base);
    while !h.sim.calls().iter().any(|c| c.status == 429) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.stop().await;
}
