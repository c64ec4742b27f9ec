//! Webhook mode: teloxide sets the webhook (as multipart, as it does in
//! production), polling is refused with Telegram's 409, and updates are
//! POSTed to a small receiver with the secret token header.

mod telegram_support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use telegram_support::{alice, prompt_keyboard, start};
use teloxide::prelude::*;
use teloxide::types::UpdateKind;
use teloxide::{ApiError, RequestError};
use tokio::sync::mpsc;

/// What the receiver saw: the secret header and the raw body.
type Delivery = (Option<String>, String);

struct Receiver {
    tx: mpsc::UnboundedSender<Delivery>,
    status: StatusCode,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: String) -> StatusCode {
    let secret = headers
        .get("X-Telegram-Bot-Api-Secret-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = r.tx.send((secret, body));
    r.status
}

/// A webhook endpoint answering `status`; returns its URL and what it got.
async fn receiver(status: StatusCode) -> (String, mpsc::UnboundedReceiver<Delivery>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::new(Receiver { tx, status }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}

#[tokio::test]
async fn a_press_is_posted_with_the_secret_and_polling_is_refused() {
    let (sim, bot) = start().await;
    let (url, mut deliveries) = receiver(StatusCode::OK).await;
    bot.set_webhook(url.parse().expect("url"))
        .secret_token("s3cret_token-1".to_owned())
        .await
        .expect("setWebhook");
    assert_eq!(
        sim.webhook(),
        Some((url.clone(), Some("s3cret_token-1".into())))
    );

    let polled = bot.get_updates().await;
    let Err(RequestError::Api(ApiError::Unknown(description))) = polled else {
        panic!("expected a 409, got {polled:?}");
    };
    assert_eq!(
        description,
        "Conflict: can't use getUpdates method while webhook is active; \
         use deleteWebhook to delete the webhook first"
    );
    assert_eq!(sim.calls().last().expect("call").status, 409);

    bot.send_message(ChatId(1001), "Login as alice?")
        .reply_markup(prompt_keyboard())
        .await
        .expect("send");
    let query_id = sim
        .user_presses_button(&alice(), 1001, "Not me")
        .expect("button");
    let (secret, body) = tokio::time::timeout(Duration::from_secs(5), deliveries.recv())
        .await
        .expect("delivered in time")
        .expect("delivery");
    assert_eq!(secret.as_deref(), Some("s3cret_token-1"));
    // Parsed from the text, as teloxide's own webhook listener does.
    let update: teloxide::types::Update = serde_json::from_str(&body).expect("an Update");
    let UpdateKind::CallbackQuery(q) = update.kind else {
        panic!("expected a callback query, got {:?}", update.kind);
    };
    assert_eq!(q.id.0, query_id);
    assert_eq!(q.data.as_deref(), Some("no:42:tag"));

    let info = bot.get_webhook_info().await.expect("getWebhookInfo");
    assert_eq!(info.url.map(|u| u.to_string()), Some(url));
    assert_eq!(info.pending_update_count, 0);
    assert!(info.last_error_message.is_none());
}

#[tokio::test]
async fn deleting_the_webhook_brings_polling_back() {
    let (sim, bot) = start().await;
    let (url, mut deliveries) = receiver(StatusCode::OK).await;
    bot.set_webhook(url.parse().expect("url"))
        .await
        .expect("setWebhook");
    sim.user_sends(&alice(), "/help");
    let (secret, _) = tokio::time::timeout(Duration::from_secs(5), deliveries.recv())
        .await
        .expect("delivered in time")
        .expect("delivery");
    assert_eq!(secret, None, "no secret set, no header");

    bot.delete_webhook().await.expect("deleteWebhook");
    assert_eq!(sim.webhook(), None);
    sim.user_sends(&alice(), "/status");
    let updates = bot.get_updates().await.expect("polling again");
    assert_eq!(updates.len(), 1, "the delivered /help is not repeated");
    assert!(matches!(&updates[0].kind, UpdateKind::Message(m) if m.text() == Some("/status")));
}

#[tokio::test]
async fn a_failing_webhook_is_retried_then_reported() {
    let (sim, bot) = start().await;
    let (url, mut deliveries) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    bot.set_webhook(url.parse().expect("url"))
        .await
        .expect("setWebhook");
    sim.user_sends(&alice(), "/start");
    let mut attempts = 0;
    while tokio::time::timeout(Duration::from_secs(2), deliveries.recv())
        .await
        .is_ok_and(|d| d.is_some())
    {
        attempts += 1;
    }
    assert!(attempts > 1, "retried: {attempts} attempts");
    let info = bot.get_webhook_info().await.expect("getWebhookInfo");
    assert_eq!(
        info.last_error_message.as_deref(),
        Some("Wrong response from the webhook: 500 Internal Server Error")
    );
    assert!(info.last_error_date.is_some());
}
