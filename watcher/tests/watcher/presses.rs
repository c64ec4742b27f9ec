//! Prompt button presses: what the API is asked, and the toast the presser
//! sees for each of its answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tgate_core::domain::SessionId;
use tgate_core::telegram::callback::{Action, CallbackSigner};

use crate::support::*;

#[tokio::test]
async fn a_valid_confirm_press_asks_the_api_for_the_presser_and_toasts_allowed() {
    let session = SessionId::new();
    let h = Harness::start(|req| {
        if req.path.ends_with("/confirm") {
            Reply::json(
                200,
                json!({"session": req.path, "state": "confirmed", "outcome": "allowed"}),
            )
        } else {
            default_reply(req)
        }
    })
    .await;

    let press = h.press(&alice(), &button(Action::Confirm, session));
    assert_eq!(h.toast(&press).await, "Allowed");

    let calls = h.api.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, format!("/v1/sessions/{session}/confirm"));
    assert_eq!(call.body, json!({"telegram_user_id": alice().id}));
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bearer {SERVICE_TOKEN}").as_str())
    );
    assert_eq!(h.answers_to(&press), 1);
}

/// Each row: the button, the API's status and body, the toast in English and
/// in Russian.
fn answers() -> Vec<(Action, u16, Value, &'static str, &'static str)> {
    vec![
        (
            Action::Confirm,
            200,
            json!({"state": "confirmed", "outcome": "allowed"}),
            "Allowed",
            "Доступ разрешён",
        ),
        (
            Action::Deny,
            200,
            json!({"state": "denied", "outcome": "denied"}),
            "Denied, the session was disconnected",
            "Отклонено, сессия разорвана",
        ),
        (
            Action::Confirm,
            200,
            json!({"state": "closed", "outcome": "gone"}),
            "That session has ended",
            "Эта сессия уже завершена",
        ),
        (
            Action::Confirm,
            200,
            json!({"state": "failed", "outcome": "router_unreachable"}),
            "Router unreachable, please reconnect",
            "Роутер недоступен, переподключитесь",
        ),
        (
            Action::Confirm,
            409,
            json!({"error": "session is not pending", "state": "confirmed"}),
            "Already handled",
            "Уже обработано",
        ),
        (
            Action::Deny,
            409,
            json!({"error": "session is not pending", "state": "expired"}),
            "Expired",
            "Время истекло",
        ),
        (
            Action::Confirm,
            409,
            json!({"error": "session is not pending", "state": "closed"}),
            "That session has ended",
            "Эта сессия уже завершена",
        ),
        (
            Action::Confirm,
            403,
            json!({"error": "not the owner"}),
            "Not yours",
            "Это не ваша сессия",
        ),
        (
            Action::Deny,
            404,
            json!({"error": "not found"}),
            "Unknown session",
            "Неизвестная сессия",
        ),
        (
            Action::Confirm,
            500,
            json!({"error": "internal error"}),
            "Temporarily unavailable, try again",
            "Временно недоступно, попробуйте ещё раз",
        ),
        (
            Action::Confirm,
            503,
            json!({}),
            "Temporarily unavailable, try again",
            "Временно недоступно, попробуйте ещё раз",
        ),
        // A misconfigured service token: logged as an error, and the user can
        // only be told to try later.
        (
            Action::Deny,
            401,
            json!({"error": "unauthorized"}),
            "Temporarily unavailable, try again",
            "Временно недоступно, попробуйте ещё раз",
        ),
        // A bare 404 is a wrong api_base, not the API saying "unknown".
        (
            Action::Confirm,
            404,
            Value::Null,
            "Temporarily unavailable, try again",
            "Временно недоступно, попробуйте ещё раз",
        ),
    ]
}

#[tokio::test]
async fn every_api_answer_maps_to_its_toast_in_the_pressers_language() {
    // Each press names its own session; the fake answers by session id.
    let mut script: HashMap<String, (u16, Value)> = HashMap::new();
    let mut expected = Vec::new();
    for (action, status, body, en, ru) in answers() {
        for (user, toast) in [(alice(), en), (boris(), ru)] {
            let session = SessionId::new();
            script.insert(session.to_string(), (status, body.clone()));
            expected.push((user, button(action, session), toast));
        }
    }
    let script = Arc::new(script);
    let h = Harness::start(move |req| {
        let id = req.path.split('/').nth(3).unwrap_or_default();
        match script.get(id) {
            Some((status, body)) => Reply::json(*status, body.clone()),
            None => default_reply(req),
        }
    })
    .await;

    let presses: Vec<_> = expected
        .iter()
        .map(|(user, data, toast)| (h.press(user, data), *toast))
        .collect();
    for (press, toast) in &presses {
        assert_eq!(&h.toast(press).await, toast);
    }
    assert_eq!(h.api.calls().len(), presses.len());
    for (press, _) in &presses {
        assert_eq!(h.answers_to(press), 1, "press {press}");
    }
}

#[tokio::test]
async fn a_forged_or_malformed_button_is_refused_without_asking_the_api() {
    let h = Harness::start(default_reply).await;
    let session = SessionId::new();
    let forged = CallbackSigner::new("someone-elses-key-0123456789".to_owned().into())
        .encode(Action::Confirm, session);
    let genuine_deny = button(Action::Deny, session);
    let flipped = format!("y{}", &genuine_deny[1..]);

    for (user, data, toast) in [
        (alice(), forged.as_str(), "Invalid button"),
        (alice(), flipped.as_str(), "Invalid button"),
        (alice(), "garbage", "Invalid button"),
        (alice(), "", "Invalid button"),
        (alice(), "l:de", "Invalid button"),
        (boris(), forged.as_str(), "Недействительная кнопка"),
    ] {
        let press = h.press(&user, data);
        assert_eq!(h.toast(&press).await, toast, "data {data:?}");
    }
    assert!(h.api.calls().is_empty(), "{:?}", h.api.calls());
}

#[tokio::test]
async fn every_press_is_answered_once_when_the_api_is_down() {
    let sim = tgate_sim::BotApiSim::start(Default::default())
        .await
        .expect("simulator");
    let api = FakeApi::start(default_reply).await;
    let h = Harness::with(sim, api, &dead_port().await);

    let presses: Vec<_> = [
        (alice(), Action::Confirm),
        (alice(), Action::Deny),
        (boris(), Action::Confirm),
    ]
    .into_iter()
    .map(|(user, action)| {
        let id = h.press(&user, &button(action, SessionId::new()));
        (id, user)
    })
    .collect();
    let language = h.press(&alice(), "l:ru");

    for (press, user) in &presses {
        let expected = if user.id == boris().id {
            "Временно недоступно, попробуйте ещё раз"
        } else {
            "Temporarily unavailable, try again"
        };
        assert_eq!(&h.toast(press).await, expected);
    }
    assert_eq!(
        h.toast(&language).await,
        "Temporarily unavailable, try again"
    );
    // Give a duplicate answer time to show up, should there be one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (press, _) in &presses {
        assert_eq!(h.answers_to(press), 1, "press {press}");
    }
    assert_eq!(h.answers_to(&language), 1);
}

#[tokio::test]
async fn a_slow_decision_does_not_hold_up_other_users() {
    let slow = SessionId::new();
    let slow_id = slow.to_string();
    let h = Harness::start(move |req| {
        let outcome = json!({"state": "confirmed", "outcome": "allowed"});
        if req.path.contains(&slow_id) {
            Reply::json(200, outcome).after(Duration::from_secs(3))
        } else if req.path.ends_with("/confirm") {
            Reply::json(200, outcome)
        } else {
            default_reply(req)
        }
    })
    .await;

    let first = h.press(&alice(), &button(Action::Confirm, slow));
    // Wait until the slow call is in the API's hands.
    while h.api.calls().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = h.press(&boris(), &button(Action::Confirm, SessionId::new()));
    assert_eq!(h.toast(&second).await, "Доступ разрешён");
    assert_eq!(
        h.answers_to(&first),
        0,
        "the slow press is still with the API"
    );
    assert_eq!(h.toast(&first).await, "Allowed");
}
