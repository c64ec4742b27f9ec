//! Webhook mode end to end (SPEC §7): `tgate serve` registers its webhook
//! with the Bot API simulator, which then POSTs every update to the API's
//! listener with the secret header, as Telegram does. A press delivered that
//! way moves the router like a polled one; a call without the secret is
//! refused and moves nothing; an update delivered twice is handled once.

mod common;

use common::{PATIENCE, PERMIT, SANDBOX, System, owner};
use serde_json::{Value, json};
use tgate_core::domain::SessionState;

const SECRET: &str = "lab-webhook_secret-0123";

async fn start() -> System {
    let sys = System::start_configured(|options| {
        options.telegram = format!("mode = \"webhook\"\nwebhook_secret = \"{SECRET}\"");
    })
    .await;
    let expected = (format!("{}/telegram/webhook", sys.api), Some(SECRET.into()));
    sys.eventually("webhook set", || {
        sys.tg.webhook().as_ref() == Some(&expected)
    })
    .await;
    sys
}

/// POSTs `update` to the webhook as Telegram would, with `secret` (if any)
/// in Telegram's header; the status answered.
async fn deliver(sys: &System, secret: Option<&str>, update: &Value) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("{}/telegram/webhook", sys.api))
        .json(update);
    if let Some(secret) = secret {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    request.send().await.expect("an answer").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_me_delivered_to_the_webhook_permits_the_address() {
    let sys = start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;

    let (status, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202, "{body}");
    let prompt = sys.prompt(alice.id).await;
    let press = sys
        .tg
        .user_presses_button(&alice, alice.id, "✅ It's me")
        .expect("button");
    let toast = sys
        .tg
        .wait_for_answer(&press, PATIENCE)
        .await
        .expect("answered");
    assert_eq!(toast.text.as_deref(), Some("Allowed"));

    sys.eventually("address permitted", || sys.list(PERMIT) == ["10.10.0.5"])
        .await;
    assert!(sys.list(SANDBOX).is_empty(), "{:?}", sys.list(SANDBOX));
    let edited = sys.edit_of(&prompt, "prompt edited").await;
    assert!(edited.buttons.is_empty(), "buttons left live");
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Confirmed
    );
    // Telegram refuses getUpdates while a webhook is set; the watcher must
    // not have tried.
    assert!(
        sys.tg.calls().iter().all(|c| c.method != "getUpdates"),
        "polled in webhook mode"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_the_secret_is_refused_and_moves_nothing() {
    let sys = start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    let (_, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    let prompt = sys.prompt(alice.id).await;
    let its_me = prompt.buttons[0][0].callback_data.clone().expect("data");

    // The prompt's own, validly signed button data: only the secret stands
    // between whoever knows the URL and the owner's answer.
    let forged = json!({
        "update_id": 777_001,
        "callback_query": {
            "id": "forged-press",
            "from": {"id": alice.id, "is_bot": false, "first_name": "Alice"},
            "chat_instance": "-1",
            "data": its_me,
        }
    });
    assert_eq!(deliver(&sys, Some("wrong-secret"), &forged).await, 403);
    assert_eq!(deliver(&sys, None, &forged).await, 403);
    assert_eq!(deliver(&sys, Some(&SECRET[1..]), &forged).await, 403);

    assert_eq!(sys.list(SANDBOX), ["10.10.0.5"]);
    assert!(sys.list(PERMIT).is_empty(), "{:?}", sys.list(PERMIT));
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Pending
    );
    assert!(
        sys.tg.callback_answers().is_empty(),
        "a refused call was answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_delivered_twice_is_handled_once() {
    let sys = start().await;
    let alice = owner();
    let replies = || sys.tg.bot_messages(alice.id).len();
    sys.tg.user_sends(&alice, "/help");
    sys.eventually("first reply", || replies() == 1).await;

    let help = json!({
        "update_id": 777_002,
        "message": {
            "message_id": 50,
            "date": 1_700_000_000,
            "chat": {"id": alice.id, "type": "private", "first_name": "Alice"},
            "from": {"id": alice.id, "is_bot": false, "first_name": "Alice"},
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        }
    });
    assert_eq!(deliver(&sys, Some(SECRET), &help).await, 200);
    sys.eventually("reply to the delivery", || replies() == 2)
        .await;
    // Telegram sends an update again when it missed the 200.
    assert_eq!(deliver(&sys, Some(SECRET), &help).await, 200);

    // A later update's reply is the marker: by then a second handling of
    // the repeat would have answered too.
    sys.tg.user_sends(&alice, "/help");
    sys.eventually("reply to the later update", || replies() >= 3)
        .await;
    assert_eq!(replies(), 3, "the repeated update was handled again");
}
