//! Admin commands: who may use them, what the API is asked (with the
//! admin's Telegram id), the words for each answer, and the ◀ / ▶ pages.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// Calls to the admin endpoints only (replies also look up a language).
fn admin_calls(h: &Harness) -> Vec<ApiRequest> {
    h.api.calls_to("/v1/bot/")
}

/// A query parameter of a recorded call.
fn param(req: &ApiRequest, name: &str) -> Option<usize> {
    req.query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.parse().ok())?
    })
}

/// 25 active bans, served a page at a time as the API would.
fn many_bans(req: &ApiRequest) -> Reply {
    if req.method == "GET" && req.path == "/v1/bot/bans" {
        let offset = param(req, "offset").unwrap_or(0);
        let limit = param(req, "limit").unwrap_or(10);
        let bans: Vec<Value> = (0..25)
            .rev()
            .map(|i| {
                json!({
                    "id": i + 1,
                    "network": format!("198.51.100.{i}/32"),
                    "reason": "scan",
                    "until": "2030-01-01T10:00:00Z",
                })
            })
            .skip(offset)
            .take(limit)
            .collect();
        return Reply::json(
            200,
            json!({"bans": bans, "total": 25, "offset": offset, "limit": limit}),
        );
    }
    default_reply(req)
}

#[tokio::test]
async fn non_admins_are_refused_without_any_call_to_the_api() {
    let h = Harness::start(default_reply).await;
    for command in [
        "/bans",
        "/ban 203.0.113.0/24 2h scanner",
        "/unban 203.0.113.0/24",
        "/sessions",
        "/kick alice",
        "/invite office bob",
        "/accounts",
        "/routers",
    ] {
        assert_eq!(
            h.ask(&alice(), command).await,
            "This command is for admins.",
            "{command}"
        );
    }
    assert_eq!(
        h.ask(&boris(), "/ban 1.2.3.4").await,
        "Эта команда только для администраторов."
    );
    // Not even a language lookup: nothing is asked on a non-admin's behalf.
    assert!(h.api.calls().is_empty(), "{:?}", h.api.calls());

    // A page button pressed (or forged) by a non-admin is refused too.
    let press = h.press(&alice(), "p:bans:2");
    assert_eq!(h.toast(&press).await, "This command is for admins.");
    assert!(h.api.calls().is_empty(), "{:?}", h.api.calls());
}

#[tokio::test]
async fn ban_sends_network_duration_and_reason_for_the_admin_and_confirms() {
    let h = Harness::start(|req| {
        if req.method == "POST" && req.path == "/v1/bot/bans" {
            Reply::json(
                201,
                json!({"ban": {
                    "id": 7, "network": "203.0.113.0/24", "reason": "scanner",
                    "source": "admin", "created_by": "tg:1",
                    "created_at": "2030-01-01T08:00:00Z", "until": "2030-01-01T10:00:00Z",
                }}),
            )
        } else {
            default_reply(req)
        }
    })
    .await;
    let text = h.ask(&admin(), "/ban 203.0.113.0/24 2h scanner").await;
    assert_eq!(
        text,
        "⛔ Banned 203.0.113.0/24 until 2030-01-01 10:00 UTC: scanner (#7)"
    );
    let calls = admin_calls(&h);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].body,
        json!({"network": "203.0.113.0/24", "duration": "2h", "reason": "scanner"})
    );
    assert_eq!(calls[0].telegram_user.as_deref(), Some("1"));
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some(format!("Bearer {SERVICE_TOKEN}").as_str())
    );
}

#[tokio::test]
async fn bad_arguments_get_a_usage_line_and_no_admin_call() {
    let h = Harness::start(default_reply).await;
    let admin = admin();
    assert_eq!(
        h.ask(&admin, "/ban 1.2.3").await,
        "not an IP address or network: 1.2.3\n\
         Usage: /ban <ip|cidr> [duration, default 1h] [reason…]"
    );
    assert_eq!(
        h.ask(&admin, "/ban 1.2.3.4 2x").await,
        "not a duration: 2x (e.g. 30m, 2h, 7d)\n\
         Usage: /ban <ip|cidr> [duration, default 1h] [reason…]"
    );
    assert_eq!(
        h.ask(&admin, "/unban").await,
        "missing arguments\nUsage: /unban <ip|cidr|ban id>"
    );
    assert_eq!(
        h.ask(&admin, "/invite office").await,
        "missing arguments\nUsage: /invite <router> <account>"
    );
    assert!(admin_calls(&h).is_empty(), "{:?}", admin_calls(&h));
}

#[tokio::test]
async fn unban_kick_and_invite_word_every_answer() {
    let h = Harness::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("DELETE", "/v1/bot/bans") if req.query == "id=99" => {
            Reply::json(404, json!({"error": "not found", "detail": null}))
        }
        ("DELETE", "/v1/bot/bans") => Reply::json(
            200,
            json!({"lifted": [{"id": 3, "network": "203.0.113.0/24", "reason": "x", "until": "2030-01-01T10:00:00Z"}]}),
        ),
        ("POST", "/v1/bot/kick") => match req.body["target"].as_str() {
            Some("alice") => Reply::json(
                200,
                json!({"kicked": [{"id": "s1", "router": "office", "account": "alice",
                    "state": "closed", "caller_id": "203.0.113.7", "created_at": "2030-01-01T08:00:00Z"}]}),
            ),
            Some("0190") => Reply::json(
                409,
                json!({"error": "ambiguous target", "state": "ambiguous", "detail": {"candidates": [
                    {"id": "0190aaaa-0000-7000-8000-000000000001", "router": "office", "account": "alice",
                     "state": "pending", "caller_id": "203.0.113.7", "created_at": "2030-01-01T08:00:00Z"},
                    {"id": "0190bbbb-0000-7000-8000-000000000002", "router": "office", "account": "bob",
                     "state": "confirmed", "caller_id": "203.0.113.8", "created_at": "2030-01-01T08:01:00Z"}
                ]}}),
            ),
            _ => Reply::json(404, json!({"error": "not found", "detail": null})),
        },
        ("POST", "/v1/bot/invites") if req.body["router"] == "lab" => Reply::json(
            422,
            json!({"error": "invalid field", "detail": {"field": "router", "reason": "no router named lab"}}),
        ),
        ("POST", "/v1/bot/invites") => Reply::json(
            201,
            json!({"router": "office", "account": "bob", "link": "https://t.me/tgate_bot?start=abc",
                   "expires_at": "2030-01-02T08:00:00Z"}),
        ),
        ("GET", "/v1/bot/routers") => Reply::json(403, json!({"error": "not an admin", "detail": null})),
        _ => default_reply(req),
    })
    .await;
    let admin = admin();

    assert_eq!(
        h.ask(&admin, "/unban 203.0.113.0/24").await,
        "✅ Lifted:\n• 203.0.113.0/24 (#3)"
    );
    assert_eq!(
        admin_calls(&h)[0].query,
        "network=203.0.113.0%2F24",
        "the network travels in the query"
    );
    assert_eq!(
        h.ask(&admin, "/unban 99").await,
        "No active ban matches that."
    );
    assert_eq!(
        h.ask(&admin, "/kick alice").await,
        "✅ Disconnected:\n• alice@office (203.0.113.7)"
    );
    assert_eq!(
        h.ask(&admin, "/kick carol").await,
        "No open session matches carol."
    );
    let ambiguous = h.ask(&admin, "/kick 0190").await;
    assert!(ambiguous.starts_with("0190 is ambiguous"), "{ambiguous}");
    assert!(ambiguous.contains("alice@office") && ambiguous.contains("bob@office"));
    assert!(
        ambiguous.ends_with("Use the full session id."),
        "{ambiguous}"
    );
    assert_eq!(
        h.ask(&admin, "/invite office bob").await,
        "Invite for bob@office (single use, expires in 24 h):\nhttps://t.me/tgate_bot?start=abc"
    );
    assert_eq!(
        h.ask(&admin, "/invite lab bob").await,
        "Refused: router: no router named lab"
    );
    // The API's own admin list is the last word.
    assert!(
        h.ask(&admin, "/routers")
            .await
            .contains("does not list you as an admin")
    );
}

#[tokio::test]
async fn long_lists_page_with_buttons_that_edit_the_same_message() {
    let h = Harness::start(many_bans).await;
    let admin = admin();

    let first = h.ask(&admin, "/bans").await;
    assert!(first.starts_with("Active bans (1–10 of 25):"), "{first}");
    assert!(first.contains("198.51.100.24/32"), "{first}");
    let list = h.sim.bot_messages(admin.id).pop().expect("the list");
    let labels: Vec<_> = list
        .buttons
        .iter()
        .flatten()
        .map(|b| b.text.as_str())
        .collect();
    assert_eq!(labels, ["▶"]);
    assert_eq!(
        list.buttons[0][0].callback_data.as_deref(),
        Some("p:bans:2")
    );

    let press = h
        .sim
        .user_presses_button(&admin, admin.id, "▶")
        .expect("a ▶ button");
    let edited = h
        .sim
        .wait_for(admin.id, WAIT, |m| {
            m.message_id == list.message_id && m.edited
        })
        .await
        .expect("the list is edited in place");
    assert!(
        edited.text.starts_with("Active bans (11–20 of 25):"),
        "{}",
        edited.text
    );
    let labels: Vec<_> = edited
        .buttons
        .iter()
        .flatten()
        .map(|b| b.text.as_str())
        .collect();
    assert_eq!(labels, ["◀", "▶"]);
    assert_eq!(h.toast(&press).await, "");
    let pages: Vec<_> = admin_calls(&h)
        .iter()
        .map(|c| (param(c, "offset"), param(c, "limit")))
        .collect();
    assert_eq!(pages, [(Some(0), Some(10)), (Some(10), Some(10))]);
    assert_eq!(h.sim.bot_messages(admin.id).len(), 1, "no new message");

    // The last page has only ◀.
    h.sim
        .user_presses(&admin, admin.id, list.message_id, "p:bans:3");
    let last = h
        .sim
        .wait_for(admin.id, WAIT, |m| m.text.starts_with("Active bans (21–25"))
        .await
        .expect("page 3");
    let labels: Vec<_> = last
        .buttons
        .iter()
        .flatten()
        .map(|b| b.text.as_str())
        .collect();
    assert_eq!(labels, ["◀"]);
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn help_shows_admin_commands_to_admins_only() {
    let h = Harness::start(default_reply).await;
    let help = h.ask(&admin(), "/help").await;
    for c in [
        "/bans",
        "/ban ",
        "/unban",
        "/sessions",
        "/kick",
        "/invite",
        "/accounts",
        "/routers",
    ] {
        assert!(help.contains(c), "{c} in {help}");
    }
    assert!(!h.ask(&alice(), "/help").await.contains("/bans"));
}
