//! Telegram misbehaving on demand (flood control, server errors, latency,
//! an outage) and the raw HTTP surface: form and query parameters, unknown
//! methods and paths, answered as api.telegram.org answers them.

mod telegram_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use telegram_support::{prompt_keyboard, start};
use teloxide::RequestError;
use teloxide::prelude::*;
use tgate_sim::Failure;

#[tokio::test]
async fn too_many_requests_carries_retry_after_then_passes() {
    let (sim, bot) = start().await;
    sim.fail_next(
        "sendMessage",
        Failure::TooManyRequests { retry_after: 1 },
        1,
    );
    let throttled = bot.send_message(ChatId(1001), "Login as alice?").await;
    match throttled {
        Err(RequestError::RetryAfter(after)) => {
            assert_eq!(after.duration(), Duration::from_secs(1))
        }
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    assert!(sim.chat(1001).is_empty(), "a throttled message is not sent");
    bot.send_message(ChatId(1001), "Login as alice?")
        .await
        .expect("the next call passes");
    assert_eq!(sim.bot_messages(1001).len(), 1);
    let calls: Vec<(String, u16)> = sim
        .calls()
        .into_iter()
        .map(|c| (c.method, c.status))
        .collect();
    assert_eq!(
        calls,
        [("sendMessage".into(), 429), ("sendMessage".into(), 200)]
    );
}

#[tokio::test]
async fn faults_count_down_and_touch_only_their_method() {
    let (sim, bot) = start().await;
    // Method names match in any case, as Telegram's do.
    sim.fail_next(
        "SENDMESSAGE",
        Failure::TooManyRequests { retry_after: 3 },
        2,
    );
    bot.get_me().await.expect("other methods unaffected");
    for _ in 0..2 {
        let r = bot.send_message(ChatId(1001), "x").await;
        assert!(matches!(r, Err(RequestError::RetryAfter(s)) if s.seconds() == 3));
    }
    bot.send_message(ChatId(1001), "x")
        .await
        .expect("third passes");
}

#[tokio::test]
async fn a_server_error_has_its_status_and_envelope() {
    let (sim, _) = start().await;
    sim.fail_next("sendMessage", Failure::ServerError(502), 1);
    let url = format!("{}/bot{}/sendMessage", sim.url(), sim.token());
    let response = reqwest::Client::new()
        .post(&url)
        .json(&json!({"chat_id": 1001, "text": "x"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 502, "description": "Bad Gateway"})
    );
    assert!(sim.chat(1001).is_empty());
}

/// teloxide itself pauses 10 s after any 5xx before it reports the error;
/// tgate's retry logic meets the same pause in production.
#[tokio::test]
async fn teloxide_sees_a_server_error_as_an_error() {
    let (sim, bot) = start().await;
    sim.fail_next("editMessageText", Failure::ServerError(500), 1);
    let sent = bot
        .send_message(ChatId(1001), "Login as alice?")
        .reply_markup(prompt_keyboard())
        .await
        .expect("send");
    let failed = bot
        .edit_message_text(ChatId(1001), sent.id, "Allowed")
        .await;
    assert!(failed.is_err(), "got {failed:?}");
    assert_eq!(sim.bot_messages(1001)[0].text, "Login as alice?");
    assert_eq!(sim.calls().last().expect("call").status, 500);
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let (sim, bot) = start().await;
    sim.set_latency(Duration::from_millis(300));
    let started = Instant::now();
    bot.get_me().await.expect("getMe");
    assert!(started.elapsed() >= Duration::from_millis(300));
    sim.set_latency(Duration::ZERO);
    let started = Instant::now();
    bot.get_me().await.expect("getMe");
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn form_and_query_parameters_work_like_json() {
    let (sim, _) = start().await;
    let http = reqwest::Client::new();
    let base = format!("{}/bot{}", sim.url(), sim.token());
    let markup = json!({"inline_keyboard": [[{"text": "It's me", "callback_data": "ok:1"}]]});
    let form: Value = http
        .post(format!("{base}/sendMessage"))
        .form(&[
            ("chat_id", "1001"),
            ("text", "via form"),
            ("reply_markup", &markup.to_string()),
        ])
        .send()
        .await
        .expect("form")
        .json()
        .await
        .expect("json");
    assert_eq!(form["ok"], true);
    assert_eq!(form["result"]["reply_markup"], markup);

    let query: Value = http
        .get(format!("{base}/sendmessage?chat_id=1001&text=via%20query"))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    assert_eq!(query["result"]["message_id"], 2);

    let texts: Vec<String> = sim.chat(1001).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["via form", "via query"]);
    assert_eq!(sim.chat(1001)[0].buttons[0][0].text, "It's me");
}

#[tokio::test]
async fn unknown_methods_and_paths_are_not_found() {
    let (sim, _) = start().await;
    let http = reqwest::Client::new();
    for path in [format!("/bot{}/noSuchMethod", sim.token()), "/".to_owned()] {
        let response = http
            .post(format!("{}{path}", sim.url()))
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body,
            json!({"ok": false, "error_code": 404, "description": "Not Found"})
        );
    }
}

#[tokio::test]
async fn shutdown_cuts_even_kept_alive_connections() {
    let (sim, bot) = start().await;
    bot.get_me().await.expect("up");
    sim.shutdown().await;
    let down = tokio::time::timeout(Duration::from_secs(5), bot.get_me())
        .await
        .expect("fails fast");
    assert!(matches!(down, Err(RequestError::Network(_))), "{down:?}");
}
