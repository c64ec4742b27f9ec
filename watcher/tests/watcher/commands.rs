//! What users type: `/start` with and without an invite code, `/status`,
//! `/help`, `/language` and anything else, in English and Russian.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

/// Scripts `/v1/enroll` by code, like the API would.
fn enroll_api(req: &ApiRequest) -> Reply {
    if req.path != "/v1/enroll" {
        return default_reply(req);
    }
    match req.body["code"].as_str().unwrap_or_default() {
        "good" => Reply::json(200, json!({"router": "office", "account": "alice"})),
        "used" => Reply::json(
            410,
            json!({"error": "invite no longer valid", "reason": "used"}),
        ),
        "old" => Reply::json(
            410,
            json!({"error": "invite no longer valid", "reason": "expired"}),
        ),
        "bad!" => Reply::json(422, json!({"error": "malformed code"})),
        "down" => Reply::json(502, json!({})),
        _ => Reply::json(404, json!({"error": "unknown code"})),
    }
}

#[tokio::test]
async fn start_with_a_code_enrolls_and_says_what_happened() {
    let h = Harness::start(enroll_api).await;
    let alice = alice();

    assert_eq!(
        h.ask(&alice, "/start good").await,
        "✅ You now confirm VPN logins for alice on office."
    );
    let calls = h.api.calls_to("/v1/enroll");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    assert_eq!(
        calls[0].body,
        json!({"code": "good", "telegram_user_id": alice.id, "language": "en"})
    );
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some(format!("Bearer {SERVICE_TOKEN}").as_str())
    );

    for (code, reply) in [
        ("nope", "This invite link is not valid."),
        ("bad!", "This invite link is not valid."),
        ("used", "This invite link was already used."),
        (
            "old",
            "This invite link has expired. Ask your admin for a new one.",
        ),
        ("down", "Temporarily unavailable, try again"),
    ] {
        assert_eq!(h.ask(&alice, &format!("/start {code}")).await, reply);
    }
}

#[tokio::test]
async fn a_russian_user_is_enrolled_and_answered_in_russian() {
    let h = Harness::start(enroll_api).await;
    let boris = boris();

    assert_eq!(
        h.ask(&boris, "/start good").await,
        "✅ Теперь вы подтверждаете входы в VPN для alice на office."
    );
    assert_eq!(
        h.api.calls_to("/v1/enroll")[0].body["language"],
        json!("ru")
    );
    assert_eq!(
        h.ask(&boris, "/start used").await,
        "Эта ссылка-приглашение уже использована."
    );
    assert_eq!(
        h.ask(&boris, "/start old").await,
        "Срок действия ссылки-приглашения истёк. Попросите администратора о новой."
    );
    assert_eq!(
        h.ask(&boris, "/start nope").await,
        "Эта ссылка-приглашение недействительна."
    );
    assert!(h.ask(&boris, "/help").await.contains("/status"));
    assert!(h.ask(&boris, "/help").await.starts_with("tgate просит"));
}

#[tokio::test]
async fn start_without_a_code_welcomes_and_points_at_the_invite_link() {
    let h = Harness::start(default_reply).await;
    let text = h.ask(&alice(), "/start").await;
    assert!(text.contains("tgate"), "{text}");
    assert!(text.contains("invite link"), "{text}");
    assert!(h.api.calls_to("/v1/enroll").is_empty());
}

#[tokio::test]
async fn status_lists_accounts_and_live_sessions() {
    let h = Harness::start(|req| {
        if req.path == "/v1/users/1001" {
            Reply::json(
                200,
                json!({
                    "language": null,
                    "accounts": [
                        {"router": "office", "account": "alice"},
                        {"router": "lab", "account": "alice-lab"}
                    ],
                    "sessions": [{
                        "id": "0190f4c1-0000-7000-8000-000000000001",
                        "router": "office",
                        "account": "alice",
                        "state": "pending",
                        "caller_id": "203.0.113.9",
                        "remote_address": "10.0.0.5",
                        "created_at": "2025-06-01T09:30:00Z"
                    }]
                }),
            )
        } else {
            default_reply(req)
        }
    })
    .await;

    let text = h.ask(&alice(), "/status").await;
    assert_eq!(
        text,
        "Your VPN accounts:\n\
         • office/alice\n\
         • lab/alice-lab\n\n\
         Live sessions:\n\
         • office/alice from 203.0.113.9: waiting for confirmation, since 2025-06-01 09:30 UTC"
    );
    let calls = h.api.calls_to("/v1/users/");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "GET");

    // Someone with nothing enrolled.
    assert_eq!(
        h.ask(&boris(), "/status").await,
        "У вас пока нет учётных записей VPN."
    );
}

#[tokio::test]
async fn status_uses_the_language_saved_with_the_api() {
    let h = Harness::start(|req| {
        if req.method == "GET" && req.path.starts_with("/v1/users/") {
            Reply::json(
                200,
                json!({"language": "ru", "accounts": [], "sessions": []}),
            )
        } else {
            default_reply(req)
        }
    })
    .await;
    // Alice's Telegram is English, but she chose Russian.
    assert_eq!(
        h.ask(&alice(), "/status").await,
        "У вас пока нет учётных записей VPN."
    );
    assert!(h.ask(&alice(), "/help").await.starts_with("tgate просит"));
}

#[tokio::test]
async fn help_and_anything_else() {
    let h = Harness::start(default_reply).await;
    let help = h.ask(&alice(), "/help").await;
    for command in ["/status", "/language", "/help"] {
        assert!(help.contains(command), "{help}");
    }
    assert_eq!(
        h.ask(&alice(), "hello?").await,
        "I don't understand that. /help lists what I can do."
    );
    assert_eq!(
        h.ask(&alice(), "/banana").await,
        "I don't understand that. /help lists what I can do."
    );
    assert!(
        !help.contains("/bans"),
        "admin commands only for admins: {help}"
    );
}

#[tokio::test]
async fn language_buttons_save_the_choice_and_confirm_it() {
    let h = Harness::start(|req| {
        if req.path.ends_with("/language") {
            Reply::json(200, json!({"language": req.body["language"]}))
        } else {
            default_reply(req)
        }
    })
    .await;
    let alice = alice();

    assert_eq!(h.ask(&alice, "/language").await, "Choose your language:");
    let keyboard = h.sim.bot_messages(alice.id).pop().expect("keyboard");
    let buttons: Vec<_> = keyboard
        .buttons
        .iter()
        .flatten()
        .map(|b| (b.text.as_str(), b.callback_data.as_deref()))
        .collect();
    assert_eq!(
        buttons,
        [("English", Some("l:en")), ("Русский", Some("l:ru"))]
    );

    let press = h
        .sim
        .user_presses_button(&alice, alice.id, "Русский")
        .expect("the Русский button");
    assert_eq!(h.toast(&press).await, "Язык: русский");
    let calls = h.api.calls_to("/v1/users/1001/language");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].body, json!({"language": "ru"}));

    let edited = h
        .sim
        .wait_for(alice.id, WAIT, |m| {
            m.message_id == keyboard.message_id && m.edited
        })
        .await
        .expect("the keyboard message is edited");
    assert_eq!(edited.text, "Язык: русский");
    assert!(edited.buttons.is_empty(), "{edited:?}");

    // And back to English.
    let press = h.press(&alice, "l:en");
    assert_eq!(h.toast(&press).await, "Language: English");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.answers_to(&press), 1);
}
