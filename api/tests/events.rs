//! Router events end to end: HTTP in, real SSH to the RouterOS simulator,
//! rows in a real database. Each test asserts what a user would observe.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use common::{Harness, Options, TOKEN, up_body};
use serde_json::json;
use tgate_core::domain::SessionState;
use tgate_core::storage::{AuditFilter, NewBan};

const SANDBOX: &str = "tgate-sandbox";
const PERMIT: &str = "tgate-permit";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn pending_count(h: &Harness) -> usize {
    h.store()
        .sessions_in_state(SessionState::Pending, 1000)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn an_up_event_holds_the_address_in_the_sandbox_and_records_a_pending_session() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;

    let (status, body) = h
        .post(
            "/v1/events/up",
            up_body("alice", "203.0.113.7", "10.10.0.5"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "pending");
    let id = body["session"].as_str().unwrap().parse().unwrap();

    let entries = h.sim.address_list(SANDBOX);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry.address, "10.10.0.5");
    assert!(
        entry
            .comment
            .as_deref()
            .unwrap()
            .starts_with("tgate:sandbox ")
    );
    // confirm_timeout 60s + grace 30s, counting down.
    let left = entry.timeout.expect("sandbox entry has a timeout");
    assert!(
        left > Duration::from_secs(80) && left <= Duration::from_secs(90),
        "{left:?}"
    );

    let row = h.store().session(id).await.unwrap().expect("row");
    assert_eq!(row.state, SessionState::Pending);
    assert_eq!(row.account.as_str(), "alice");
    assert_eq!(row.remote_address, ip("10.10.0.5"));
    assert_eq!(row.caller_id.to_string(), "203.0.113.7");
    assert_eq!(row.service.as_str(), "l2tp");
}

#[tokio::test]
async fn a_simulated_client_connects_and_disconnects() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;

    let reply = h
        .sim
        .connect_ppp("alice", "l2tp", "203.0.113.7", ip("10.10.0.5"))
        .await
        .unwrap()
        .expect("hook reply");
    assert_eq!(reply.status, 202, "{}", reply.body);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let id = body["session"].as_str().unwrap().parse().unwrap();
    assert_eq!(h.list(SANDBOX), ["10.10.0.5"]);
    assert_eq!(
        h.store().session(id).await.unwrap().unwrap().state,
        SessionState::Pending
    );

    // A permit entry left from an earlier session must go too.
    h.sim
        .add_entry(PERMIT, "10.10.0.5", None, Some("tgate:permit old"));
    let reply = h
        .sim
        .disconnect_ppp("alice")
        .await
        .unwrap()
        .expect("hook reply");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(h.list(SANDBOX).is_empty());
    assert!(h.list(PERMIT).is_empty());
    let row = h.store().session(id).await.unwrap().unwrap();
    assert_eq!(row.state, SessionState::Closed);
    assert!(row.closed_at.is_some());
}

#[tokio::test]
async fn a_repeated_up_event_gets_the_same_answer_and_one_session() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    let body = up_body("alice", "203.0.113.7", "10.10.0.5");
    let (s1, b1) = h.post("/v1/events/up", body.clone()).await;
    let (s2, b2) = h.post("/v1/events/up", body.clone()).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(b1["session"], b2["session"]);
    assert_eq!(pending_count(&h).await, 1);

    // Concurrent duplicates too.
    h.enroll("bob", 77).await;
    let dup = up_body("bob", "198.51.100.4", "10.10.0.9");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (http, base, dup) = (h.http.clone(), h.base.clone(), dup.clone());
            tokio::spawn(async move {
                let r = http
                    .post(format!("{base}/v1/events/up"))
                    .bearer_auth(TOKEN)
                    .json(&dup)
                    .send()
                    .await
                    .unwrap();
                (
                    r.status().as_u16(),
                    r.json::<serde_json::Value>().await.unwrap(),
                )
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let ids: std::collections::HashSet<_> = answers
        .iter()
        .map(|(s, b)| (*s, b["session"].clone()))
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(pending_count(&h).await, 2);
}

#[tokio::test]
async fn malformed_events_are_refused_naming_the_field_and_change_nothing() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    // Let the API's first readiness-free contact settle, then watch the log.
    h.sim.clear_command_log();

    let base = up_body("alice", "203.0.113.7", "10.10.0.5");
    let with = |key: &str, value: serde_json::Value| {
        let mut b = base.clone();
        b[key] = value;
        b.to_string()
    };
    let without = |key: &str| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove(key);
        b.to_string()
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (
            with(
                "remote_address",
                json!("10.0.0.5 ; /system reset-configuration"),
            ),
            "remote_address",
            "not an IP address",
        ),
        (
            with("remote_address", json!("10.0.0.5\n/system reset")),
            "remote_address",
            "broke out of its string",
        ),
        (
            with("remote_address", json!(167772165)),
            "remote_address",
            "must be a string",
        ),
        (
            with("caller_id", json!("evil\"]; /user add")),
            "caller_id",
            "broke out of its string",
        ),
        (
            with("caller_id", json!("evil]; /user add")),
            "caller_id",
            "not an IP address or a MAC address",
        ),
        (
            with("local_address", json!("abc")),
            "local_address",
            "not an IP address",
        ),
        (
            with(
                "user",
                json!("alice\"] ; /system reset-configuration ; [\""),
            ),
            "user",
            "broke out of its string",
        ),
        (with("user", json!("al$ice")), "user", "not allowed"),
        (
            with("user", json!("x".repeat(300))),
            "user",
            "longer than 256",
        ),
        (
            with("user", json!("x".repeat(65))),
            "user",
            "longer than 64",
        ),
        (
            with("service", json!("telnet")),
            "service",
            "unknown service",
        ),
        // A quote can only arrive escaped, and a router's script never
        // escapes: the value broke out of its string.
        (
            with("interface", json!("<l2tp-\"x>")),
            "interface",
            "broke out of its string",
        ),
        (
            with("interface", json!("<l2tp-x;y>")),
            "interface",
            "not allowed",
        ),
        (
            with("chat_id", json!("12ab")),
            "chat_id",
            "not a Telegram chat id",
        ),
        (without("user"), "user", "missing"),
        (without("remote_address"), "remote_address", "missing"),
        (without("caller_id"), "caller_id", "missing"),
        ("not json".into(), "body", "not valid JSON"),
        ("[1,2]".into(), "body", "JSON object"),
    ];
    for (body, field, reason) in cases {
        let (status, json) = h.post_raw("/v1/events/up", Some(TOKEN), body.clone()).await;
        assert_eq!(status, 422, "{body}: {json}");
        assert_eq!(json["error"], "invalid field", "{body}: {json}");
        assert_eq!(json["detail"]["field"], field, "{body}: {json}");
        let got = json["detail"]["reason"].as_str().unwrap();
        assert!(
            got.contains(reason),
            "{body}: reason {got:?} lacks {reason:?}"
        );
    }
    let (status, json) = h
        .post_raw(
            "/v1/events/down",
            Some(TOKEN),
            json!({"user": "alice", "remote_address": "1.2.3"}).to_string(),
        )
        .await;
    assert_eq!(
        (status, json["detail"]["field"].as_str()),
        (422, Some("remote_address"))
    );

    let huge = json!({"user": "alice", "pad": "x".repeat(20_000)}).to_string();
    let (status, json) = h.post_raw("/v1/events/up", Some(TOKEN), huge).await;
    assert_eq!(status, 413, "{json}");

    assert_eq!(pending_count(&h).await, 0, "no session written");
    assert!(h.sim.address_list(SANDBOX).is_empty());
    assert!(
        h.sim.command_log().is_empty(),
        "sent: {:?}",
        h.sim.command_log()
    );
}

#[tokio::test]
async fn events_without_a_known_router_token_are_unauthorized() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    let body = up_body("alice", "203.0.113.7", "10.10.0.5").to_string();
    for token in [
        None,
        Some("wrong-token-0123456789"),
        Some(""),
        Some(&TOKEN[..TOKEN.len() - 1]),
    ] {
        let (status, json) = h.post_raw("/v1/events/up", token, body.clone()).await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(json["error"], "unauthorized");
        let (status, _) = h.post_raw("/v1/events/down", token, body.clone()).await;
        assert_eq!(status, 401);
    }
    // The router token does not open the compatibility endpoints of a
    // router that is not compat.
    let (status, _) = h.post_raw("/clients/connect/", Some(TOKEN), body).await;
    assert_eq!(status, 401);
    assert_eq!(pending_count(&h).await, 0);
    assert!(h.sim.command_log().is_empty());
}

#[tokio::test]
async fn a_banned_caller_is_refused_and_disconnected() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    let now = Utc::now();
    h.store()
        .insert_ban(&NewBan {
            network: "203.0.113.0/24".parse().unwrap(),
            reason: "test".into(),
            source: "admin".into(),
            created_by: "test".into(),
            created_at: now,
            until: now + chrono::Duration::hours(1),
        })
        .await
        .unwrap();
    let reply = h
        .sim
        .connect_ppp("alice", "l2tp", "203.0.113.7", ip("10.10.0.5"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 403, "{}", reply.body);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["state"], "banned");
    assert!(
        h.sim.active_sessions().is_empty(),
        "banned session still up"
    );
    assert!(h.list(SANDBOX).is_empty());
    assert_eq!(pending_count(&h).await, 0);
}

#[tokio::test]
async fn an_account_nobody_can_confirm_is_refused_and_disconnected() {
    let h = Harness::start(Options::default()).await;
    for _ in 0..2 {
        let reply = h
            .sim
            .connect_ppp("mallory", "sstp", "198.51.100.9", ip("10.10.0.8"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert!(reply.body.contains("\"unenrolled\""));
        assert!(h.sim.active_sessions().is_empty());
    }
    assert_eq!(pending_count(&h).await, 0);
    let account = h
        .store()
        .account(&common::office(), &"mallory".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        account.unenrolled_alerted_at.is_some(),
        "admins are told once"
    );
}

#[tokio::test]
async fn a_router_chat_id_counts_only_when_the_router_is_trusted_with_it() {
    let h = Harness::start(Options {
        trust_router_chat_id: true,
        ..Default::default()
    })
    .await;
    h.sim.set_secret("carol", Some("5551234"));
    let reply = h
        .sim
        .connect_ppp("carol", "pptp", "192.0.2.55", ip("10.10.0.20"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 202, "{}", reply.body);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let row = h
        .store()
        .session(body["session"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.chat_id, Some(5551234));

    let h = Harness::start(Options::default()).await;
    h.sim.set_secret("carol", Some("5551234"));
    let reply = h
        .sim
        .connect_ppp("carol", "pptp", "192.0.2.55", ip("10.10.0.20"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 403, "{}", reply.body);
}

#[tokio::test]
async fn a_second_connect_while_a_prompt_is_pending_is_blocked() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    let first = h
        .sim
        .connect_ppp("alice", "l2tp", "203.0.113.7", ip("10.10.0.5"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.status, 202);
    let second = h
        .sim
        .connect_ppp("alice", "l2tp", "198.51.100.66", ip("10.10.0.6"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(second.body.contains("\"blocked\""));
    let active: Vec<_> = h
        .sim
        .active_sessions()
        .into_iter()
        .map(|s| s.address)
        .collect();
    assert_eq!(
        active,
        [ip("10.10.0.5")],
        "the second session is disconnected, the first stays"
    );
    assert_eq!(pending_count(&h).await, 1);
    let blocked = h
        .store()
        .audit_log(&AuditFilter {
            action: Some("session.blocked".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].address.as_deref(), Some("198.51.100.66"));
}

#[tokio::test]
async fn connects_arriving_alone_or_together_each_get_their_own_answer() {
    let h = Harness::start(Options::default()).await;
    let accounts = ["alice", "bob", "carol", "dave"];
    for (i, account) in accounts.iter().enumerate() {
        h.enroll(account, 5001 + i as i64).await;
    }
    let dial = |account: &'static str, caller: &'static str, tunnel: &'static str| {
        h.sim.connect_ppp(account, "l2tp", caller, ip(tunnel))
    };
    let status = |answer: anyhow::Result<Option<tgate_sim::router::HookReply>>| {
        answer.unwrap().unwrap().status
    };

    // Alone and plain: its session is inserted by the statement that
    // finds it plain. Alone but not plain (alice's prompt is pending): it
    // is read and decided the whole way, and blocked.
    assert_eq!(status(dial("alice", "203.0.113.1", "10.10.0.1").await), 202);
    assert_eq!(h.gate.plain_inserts(), 1);
    assert_eq!(
        status(dial("alice", "198.51.100.1", "10.10.0.11").await),
        409
    );
    assert_eq!(h.gate.plain_inserts(), 1);

    // Together: the first to arrive may be decided alone, the others are
    // decided together (their reads and inserts grouped). Every account
    // still gets one 202 and one 409.
    let answers = tokio::join!(
        dial("bob", "203.0.113.2", "10.10.0.2"),
        dial("carol", "203.0.113.3", "10.10.0.3"),
        dial("dave", "203.0.113.4", "10.10.0.4"),
        dial("bob", "198.51.100.2", "10.10.0.12"),
        dial("carol", "198.51.100.3", "10.10.0.13"),
        dial("dave", "198.51.100.4", "10.10.0.14"),
    );
    let statuses = [
        answers.0, answers.1, answers.2, answers.3, answers.4, answers.5,
    ]
    .map(status);
    for (i, account) in accounts[1..].iter().enumerate() {
        let mut pair = [statuses[i], statuses[i + 3]];
        pair.sort();
        assert_eq!(pair, [202, 409], "{account}: {statuses:?}");
    }

    // Each account's prompt is pending for the connect that got 202, held
    // in the sandbox, and the blocked connects were disconnected.
    let pending = h
        .store()
        .sessions_in_state(SessionState::Pending, 100)
        .await
        .unwrap();
    let mut owners: Vec<_> = pending
        .iter()
        .map(|s| (s.account.to_string(), s.chat_id))
        .collect();
    owners.sort();
    assert_eq!(
        owners,
        [
            ("alice".to_owned(), Some(5001)),
            ("bob".to_owned(), Some(5002)),
            ("carol".to_owned(), Some(5003)),
            ("dave".to_owned(), Some(5004)),
        ]
    );
    let mut held: Vec<IpAddr> = pending.iter().map(|s| s.remote_address).collect();
    held.sort();
    let mut sandbox: Vec<IpAddr> = h
        .sim
        .address_list(SANDBOX)
        .into_iter()
        .map(|e| ip(&e.address))
        .collect();
    sandbox.sort();
    assert_eq!(sandbox, held);
    let mut active: Vec<IpAddr> = h
        .sim
        .active_sessions()
        .into_iter()
        .map(|s| s.address)
        .collect();
    active.sort();
    assert_eq!(active, held);
}

#[tokio::test]
async fn a_pending_session_whose_client_is_gone_is_replaced() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    let (status, first) = h
        .post(
            "/v1/events/up",
            up_body("alice", "203.0.113.7", "10.10.0.5"),
        )
        .await;
    assert_eq!(status, 202);
    // No such PPP session on the router (its down event was lost), so the
    // next connect replaces the stale prompt.
    let reply = h
        .sim
        .connect_ppp("alice", "l2tp", "203.0.113.7", ip("10.10.0.7"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 202, "{}", reply.body);
    let old = h
        .store()
        .session(first["session"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.state, SessionState::Closed);
    assert_eq!(pending_count(&h).await, 1);
}

#[tokio::test]
async fn a_trusted_network_is_permitted_without_a_prompt() {
    let h = Harness::start(Options {
        policy: "trusted_networks = [\"192.0.2.0/24\"]",
        ..Default::default()
    })
    .await;
    h.enroll("alice", 4242).await;
    let reply = h
        .sim
        .connect_ppp("alice", "l2tp", "192.0.2.10", ip("10.10.0.5"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("\"allowed\""));
    assert_eq!(h.list(PERMIT), ["10.10.0.5"]);
    assert!(h.list(SANDBOX).is_empty());
    assert_eq!(pending_count(&h).await, 0);
}

#[tokio::test]
async fn tik2fa_scripts_work_unchanged_from_the_compat_router() {
    let h = Harness::start(Options {
        compat: true,
        trust_router_chat_id: true,
        ..Default::default()
    })
    .await;
    h.sim.set_secret("dave", Some("777"));
    let reply = h
        .sim
        .connect_ppp("dave", "l2tp", "203.0.113.9", ip("10.10.0.30"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 202, "{}", reply.body);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let id = body["session"].as_str().unwrap().parse().unwrap();
    let row = h.store().session(id).await.unwrap().unwrap();
    assert_eq!((row.state, row.chat_id), (SessionState::Pending, Some(777)));
    assert_eq!(row.remote_address, ip("10.10.0.30"));
    assert_eq!(row.caller_id.to_string(), "203.0.113.9");
    assert_eq!(h.list(SANDBOX), ["10.10.0.30"]);

    let reply = h.sim.disconnect_ppp("dave").await.unwrap().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        h.store().session(id).await.unwrap().unwrap().state,
        SessionState::Closed
    );
    assert!(h.list(SANDBOX).is_empty());
}

/// A client bound to another loopback address, so the API sees another peer.
fn client_from(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip(local))
        .build()
        .unwrap()
}

#[tokio::test]
async fn compat_endpoints_answer_only_the_routers_own_address() {
    let h = Harness::start(Options {
        compat: true,
        trust_router_chat_id: true,
        trusted_proxies: "[\"127.0.0.3\"]",
        ..Default::default()
    })
    .await;
    let body = json!({"name": "dave", "chat_id": "777", "source_ip": "10.10.0.30",
                      "destination_ip": "10.10.0.1", "caller_id": "203.0.113.9"});
    let url = format!("{}/clients/connect/", h.base);

    // Another host, even one claiming to be the router, is refused.
    let resp = client_from("127.0.0.2")
        .post(&url)
        .json(&body)
        .header("x-real-ip", "127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(pending_count(&h).await, 0);

    // Through a trusted proxy, the forwarded address is believed.
    let resp = client_from("127.0.0.3")
        .post(&url)
        .json(&body)
        .header("x-real-ip", "198.51.100.1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "forwarded address is not the router's");
    let resp = client_from("127.0.0.3")
        .post(&url)
        .json(&body)
        .header("x-forwarded-for", "198.51.100.1, 127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(pending_count(&h).await, 1);
}

#[tokio::test]
async fn health_and_readiness() {
    let h = Harness::start(Options::default()).await;
    let get = |path: &'static str| {
        let url = format!("{}{path}", h.base);
        let http = h.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["routers"]["office"], "ok");
    assert_eq!(body["database"], "ok");

    h.sim.refuse_connections(true);
    h.sim.drop_connections();
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_ne!(body["routers"]["office"], "ok");

    let (status, body) = get("/nope").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not found")));
}

#[tokio::test]
async fn a_leftover_permit_entry_never_lets_a_new_connect_through() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    // An earlier session's permit, its down event lost.
    h.sim
        .add_entry(PERMIT, "10.10.0.5", None, Some("tgate:permit old"));
    let (status, _) = h
        .post(
            "/v1/events/up",
            up_body("alice", "203.0.113.7", "10.10.0.5"),
        )
        .await;
    assert_eq!(status, 202);
    assert!(
        h.list(PERMIT).is_empty(),
        "stale permit kept: {:?}",
        h.list(PERMIT)
    );
    assert_eq!(h.list(SANDBOX), ["10.10.0.5"]);
}

#[tokio::test]
async fn a_confirmed_session_whose_down_was_lost_is_not_a_duplicate() {
    use tgate_core::storage::NewSession;
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    // Confirmed five minutes ago; the router never reported its end.
    let then = Utc::now() - chrono::Duration::minutes(5);
    let old = h
        .store()
        .insert_decided(
            &NewSession {
                id: tgate_core::domain::SessionId::new(),
                router: common::office(),
                account: "alice".parse().unwrap(),
                caller_id: "203.0.113.7".parse().unwrap(),
                remote_address: ip("10.10.0.5"),
                local_address: None,
                service: "l2tp".parse().unwrap(),
                interface: None,
                chat_id: Some(4242),
                language: None,
                created_at: then,
                deadline: then + chrono::Duration::seconds(60),
            },
            SessionState::Confirmed,
            "tg:4242",
        )
        .await
        .unwrap();
    h.sim
        .add_entry(PERMIT, "10.10.0.5", None, Some("tgate:permit old"));

    // The same caller, the same address: a new login, so a new prompt.
    let (status, body) = h
        .post(
            "/v1/events/up",
            up_body("alice", "203.0.113.7", "10.10.0.5"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_ne!(body["session"], serde_json::json!(old.id));
    assert_eq!(
        h.store().session(old.id).await.unwrap().unwrap().state,
        SessionState::Closed
    );
    assert!(h.list(PERMIT).is_empty());
    assert_eq!(pending_count(&h).await, 1);
}

/// Sends `request` on a new connection and reads until the server closes it.
async fn exchange(h: &Harness, request: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection after its answer")
        .unwrap();
    String::from_utf8(answer).unwrap()
}

/// A router's fetch makes one request per connection; tgate closes it with
/// the answer rather than holding it open until the router hangs up.
#[tokio::test]
async fn a_router_event_is_answered_and_its_connection_closed() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    let body = up_body("alice", "203.0.113.7", "10.10.0.5").to_string();
    let answer = exchange(
        &h,
        format!(
            "POST /v1/events/up HTTP/1.1\r\nhost: tgate\r\nauthorization: Bearer {TOKEN}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    assert_eq!(pending_count(&h).await, 1);

    // Other callers keep their connection for the next request: two
    // requests on one connection get two answers.
    let health = "GET /healthz HTTP/1.1\r\nhost: tgate\r\n\r\n";
    let answer = exchange(
        &h,
        format!("{health}GET /healthz HTTP/1.1\r\nhost: tgate\r\nconnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
}
