//! The admin API end to end: HTTP in with the admin token, real SSH to the
//! RouterOS simulator, rows in a real database. Each endpoint is tried with
//! good input, a bad token, bad input and, where it applies, a missing thing.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{ADMIN_TOKEN, Harness, Options};
use serde_json::{Value, json};

const BAN: &str = "tgate-ban";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn field(body: &Value) -> &str {
    body["detail"]["field"].as_str().unwrap_or("<none>")
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// Every admin endpoint, with a body where it takes one.
fn endpoints() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("GET", "/v1/admin/bans", None),
        (
            "POST",
            "/v1/admin/bans",
            Some(json!({"address": "203.0.113.7", "duration": "1h", "reason": "x"})),
        ),
        ("DELETE", "/v1/admin/bans/1", None),
        ("GET", "/v1/admin/sessions", None),
        (
            "POST",
            "/v1/admin/sessions/0190b5a0-0000-7000-8000-000000000000/kick",
            None,
        ),
        ("GET", "/v1/admin/accounts", None),
        (
            "POST",
            "/v1/admin/accounts",
            Some(json!({"router": "office", "account": "alice"})),
        ),
        ("POST", "/v1/admin/accounts/office/alice/invite", None),
        ("DELETE", "/v1/admin/accounts/office/alice/owner", None),
        ("POST", "/v1/admin/accounts/office/alice/lock", None),
        ("POST", "/v1/admin/accounts/office/alice/unlock", None),
        ("GET", "/v1/admin/routers", None),
        ("GET", "/v1/admin/audit", None),
    ]
}

#[tokio::test]
async fn every_admin_endpoint_wants_the_admin_token() {
    let h = Harness::start(Options::default()).await;
    for (method, path, body) in endpoints() {
        for token in [None, Some("wrong-token-0123456789"), Some(common::TOKEN)] {
            let (status, reply) = h.call(method, path, token, body.clone()).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {reply}");
            assert_eq!(reply["error"], "unauthorized");
        }
    }
    // Nothing was written by the refused calls.
    assert!(h.list(BAN).is_empty());
    assert!(h.store().list_accounts(None).await.unwrap().is_empty());

    // With no admin token configured the admin API is off, whatever is sent.
    let off = Harness::start(Options {
        no_admin_token: true,
        ..Default::default()
    })
    .await;
    for (method, path, body) in endpoints() {
        let (status, _) = off.call(method, path, Some(ADMIN_TOKEN), body).await;
        assert_eq!(status, 401, "{method} {path}");
    }
}

#[tokio::test]
async fn a_ban_from_the_api_is_on_the_router_with_its_timeout_until_lifted() {
    let h = Harness::start(Options::default()).await;
    let (status, ban) = h
        .admin(
            "POST",
            "/v1/admin/bans",
            Some(json!({"address": "203.0.113.7", "duration": "1h", "reason": "port scan"})),
        )
        .await;
    assert_eq!(status, 201, "{ban}");
    assert_eq!(ban["network"], "203.0.113.7/32");
    assert_eq!(ban["reason"], "port scan");
    assert_eq!(ban["source"], "admin");
    assert_eq!(ban["created_by"], "admin-api");
    assert_eq!(ban["active"], true);
    let length = time(&ban["until"]) - time(&ban["created_at"]);
    assert_eq!(length.num_seconds(), 3600);

    let entries = h.sim.address_list(BAN);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].address, "203.0.113.7");
    let left = entries[0].timeout.expect("ban entry has a timeout");
    assert!(
        left > Duration::from_secs(3590) && left <= Duration::from_secs(3600),
        "{left:?}"
    );

    // Listed, and found by an address it covers only.
    let (status, list) = h.admin("GET", "/v1/admin/bans", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["bans"].as_array().unwrap().len(), 1);
    assert_eq!(list["bans"][0]["id"], ban["id"]);
    let (_, found) = h
        .admin("GET", "/v1/admin/bans?address=203.0.113.7", None)
        .await;
    assert_eq!(found["bans"].as_array().unwrap().len(), 1);
    let (_, other) = h
        .admin("GET", "/v1/admin/bans?address=203.0.113.8", None)
        .await;
    assert!(other["bans"].as_array().unwrap().is_empty());

    // Lifted: off the router, no longer listed as active, still in the history.
    let id = ban["id"].as_i64().unwrap();
    let (status, lifted) = h
        .admin("DELETE", &format!("/v1/admin/bans/{id}"), None)
        .await;
    assert_eq!(status, 200, "{lifted}");
    assert_eq!(lifted["active"], false);
    assert_eq!(lifted["lifted_by"], "admin-api");
    assert!(h.list(BAN).is_empty());
    let (_, active) = h.admin("GET", "/v1/admin/bans", None).await;
    assert!(active["bans"].as_array().unwrap().is_empty());
    let (_, all) = h.admin("GET", "/v1/admin/bans?active=false", None).await;
    assert_eq!(all["bans"].as_array().unwrap().len(), 1);

    // Lifting again, or an id that never was: not found.
    for path in [
        format!("/v1/admin/bans/{id}"),
        "/v1/admin/bans/999999".into(),
    ] {
        let (status, body) = h.admin("DELETE", &path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, body) = h.admin("DELETE", "/v1/admin/bans/abc", None).await;
    assert_eq!((status, field(&body)), (422, "id"));
}

#[tokio::test]
async fn bad_ban_input_is_refused_naming_the_field_and_changes_nothing() {
    let h = Harness::start(Options {
        policy: "never_ban = [\"192.0.2.0/24\"]",
        ..Default::default()
    })
    .await;
    let long = "x".repeat(201);
    let cases = [
        (
            json!({"address": "nope", "duration": "1h", "reason": "r"}),
            "address",
        ),
        (
            json!({"address": "10.0.0.0/33", "duration": "1h", "reason": "r"}),
            "address",
        ),
        (
            json!({"address": "192.0.2.9", "duration": "1h", "reason": "r"}),
            "address",
        ),
        (json!({"duration": "1h", "reason": "r"}), "address"),
        (
            json!({"address": 7, "duration": "1h", "reason": "r"}),
            "address",
        ),
        (
            json!({"address": "203.0.113.7", "duration": "soon", "reason": "r"}),
            "duration",
        ),
        (
            json!({"address": "203.0.113.7", "duration": "0s", "reason": "r"}),
            "duration",
        ),
        (
            json!({"address": "203.0.113.7", "duration": "9999d", "reason": "r"}),
            "duration",
        ),
        (
            json!({"address": "203.0.113.7", "duration": "1h"}),
            "reason",
        ),
        (
            json!({"address": "203.0.113.7", "duration": "1h", "reason": " "}),
            "reason",
        ),
        (
            json!({"address": "203.0.113.7", "duration": "1h", "reason": long}),
            "reason",
        ),
        (
            json!({"address": "203.0.113.7", "duration": "1h", "reason": "a\u{7}b"}),
            "reason",
        ),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, name) in cases {
        let (status, reply) = h.admin("POST", "/v1/admin/bans", Some(body.clone())).await;
        assert_eq!((status, field(&reply)), (422, name), "{body}: {reply}");
    }
    for (query, name) in [
        ("active=maybe", "active"),
        ("address=nope", "address"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ] {
        let (status, reply) = h
            .admin("GET", &format!("/v1/admin/bans?{query}"), None)
            .await;
        assert_eq!((status, field(&reply)), (422, name), "{query}: {reply}");
    }
    assert!(h.list(BAN).is_empty());
    let (_, all) = h.admin("GET", "/v1/admin/bans?active=false", None).await;
    assert!(all["bans"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_ban_on_a_network_kicks_the_clients_calling_from_inside_it() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    h.enroll("bob", 4343).await;
    h.sim
        .connect_ppp("alice", "l2tp", "198.51.100.23", ip("10.10.0.5"))
        .await
        .unwrap();
    h.sim
        .connect_ppp("bob", "l2tp", "192.0.2.5", ip("10.10.0.6"))
        .await
        .unwrap();
    assert_eq!(h.sim.active_sessions().len(), 2);

    let (status, ban) = h
        .admin(
            "POST",
            "/v1/admin/bans",
            Some(json!({"address": "198.51.100.0/24", "duration": "2h", "reason": "botnet"})),
        )
        .await;
    assert_eq!(status, 201, "{ban}");
    assert_eq!(ban["network"], "198.51.100.0/24");
    let left: Vec<String> = h
        .sim
        .active_sessions()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(left, vec!["bob".to_string()]);
    let entries = h.sim.address_list(BAN);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].address, "198.51.100.0/24");
    let t = entries[0].timeout.unwrap();
    assert!(
        t > Duration::from_secs(7190) && t <= Duration::from_secs(7200),
        "{t:?}"
    );
}

#[tokio::test]
async fn a_kick_closes_the_session_and_the_ppp_session() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    h.sim
        .connect_ppp("alice", "l2tp", "203.0.113.7", ip("10.10.0.5"))
        .await
        .unwrap();
    let (status, list) = h
        .admin(
            "GET",
            "/v1/admin/sessions?state=pending&router=office&account=alice",
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s["caller_id"], "203.0.113.7");
    assert_eq!(s["remote_address"], "10.10.0.5");
    assert_eq!(s["service"], "l2tp");
    let id = s["id"].as_str().unwrap().to_owned();

    let (status, closed) = h
        .admin("POST", &format!("/v1/admin/sessions/{id}/kick"), None)
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["decided_by"], "admin-api");
    assert!(h.sim.active_sessions().is_empty());
    let row = h
        .store()
        .session(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state.as_str(), "closed");
    let (_, closed_list) = h
        .admin("GET", "/v1/admin/sessions?state=closed", None)
        .await;
    assert_eq!(closed_list["sessions"][0]["id"], id.as_str());
    let (_, none) = h
        .admin("GET", "/v1/admin/sessions?state=pending", None)
        .await;
    assert!(none["sessions"].as_array().unwrap().is_empty());

    // Already over, or never was.
    for path in [
        format!("/v1/admin/sessions/{id}/kick"),
        "/v1/admin/sessions/0190b5a0-0000-7000-8000-000000000000/kick".into(),
    ] {
        let (status, _) = h.admin("POST", &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, body) = h.admin("POST", "/v1/admin/sessions/nope/kick", None).await;
    assert_eq!((status, field(&body)), (422, "id"));
    for (query, name) in [
        ("state=bogus", "state"),
        ("router=no%20such", "router"),
        ("account=a%3Bb", "account"),
        ("limit=-5", "limit"),
    ] {
        let (status, body) = h
            .admin("GET", &format!("/v1/admin/sessions?{query}"), None)
            .await;
        assert_eq!((status, field(&body)), (422, name), "{query}: {body}");
    }
}

#[tokio::test]
async fn accounts_are_created_invited_locked_and_unlinked() {
    let h = Harness::start(Options::default()).await;
    let (status, created) = h
        .admin(
            "POST",
            "/v1/admin/accounts",
            Some(json!({"router": "office", "account": "alice"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["account"], "alice");
    assert_eq!(created["owner_tg_id"], Value::Null);
    assert_eq!(created["locked"], false);
    let (status, _) = h
        .admin(
            "POST",
            "/v1/admin/accounts",
            Some(json!({"router": "office", "account": "alice"})),
        )
        .await;
    assert_eq!(status, 200, "an existing account is returned as is");
    for (body, name) in [
        (json!({"router": "branch", "account": "alice"}), "router"),
        (json!({"router": "bad name", "account": "alice"}), "router"),
        (json!({"router": "office", "account": "al\"ice"}), "account"),
        (json!({"router": "office"}), "account"),
        (json!({"account": "alice"}), "router"),
    ] {
        let (status, reply) = h
            .admin("POST", "/v1/admin/accounts", Some(body.clone()))
            .await;
        assert_eq!((status, field(&reply)), (422, name), "{body}: {reply}");
    }

    let (status, list) = h
        .admin("GET", "/v1/admin/accounts?router=office", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["accounts"][0]["account"], "alice");
    let (status, body) = h
        .admin("GET", "/v1/admin/accounts?router=a%20b", None)
        .await;
    assert_eq!((status, field(&body)), (422, "router"));

    // Invites: the default day, or what was asked; no bot here, so no link.
    let (status, invite) = h
        .admin("POST", "/v1/admin/accounts/office/alice/invite", None)
        .await;
    assert_eq!(status, 201, "{invite}");
    assert_eq!(invite["code"].as_str().unwrap().len(), 22);
    assert_eq!(invite["link"], Value::Null);
    let ttl = time(&invite["expires_at"]) - Utc::now();
    assert!(
        ttl.num_minutes() > 23 * 60 && ttl.num_minutes() <= 24 * 60,
        "{ttl}"
    );
    let (status, invite) = h
        .admin(
            "POST",
            "/v1/admin/accounts/office/bob/invite",
            Some(json!({"ttl": "1h"})),
        )
        .await;
    assert_eq!(status, 201, "{invite}");
    let ttl = time(&invite["expires_at"]) - Utc::now();
    assert!(ttl.num_minutes() > 58 && ttl.num_minutes() <= 60, "{ttl}");
    let (status, body) = h
        .admin(
            "POST",
            "/v1/admin/accounts/office/alice/invite",
            Some(json!({"ttl": "forever"})),
        )
        .await;
    assert_eq!((status, field(&body)), (422, "ttl"));
    let (status, _) = h
        .admin("POST", "/v1/admin/accounts/branch/alice/invite", None)
        .await;
    assert_eq!(status, 404);

    // Lock and unlock; the flag is what the gate reads.
    let (status, locked) = h
        .admin("POST", "/v1/admin/accounts/office/alice/lock", None)
        .await;
    assert_eq!((status, &locked["locked"]), (200, &json!(true)), "{locked}");
    let row = h
        .store()
        .account(&common::office(), &"alice".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(row.locked);
    let (status, unlocked) = h
        .admin("POST", "/v1/admin/accounts/office/alice/unlock", None)
        .await;
    assert_eq!((status, &unlocked["locked"]), (200, &json!(false)));

    // Dropping the owner.
    h.enroll("alice", 4242).await;
    let (status, account) = h
        .admin("DELETE", "/v1/admin/accounts/office/alice/owner", None)
        .await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["owner_tg_id"], Value::Null);

    // Accounts that do not exist, and names that cannot.
    for (method, path) in [
        ("POST", "/v1/admin/accounts/office/nobody/lock"),
        ("POST", "/v1/admin/accounts/office/nobody/unlock"),
        ("DELETE", "/v1/admin/accounts/office/nobody/owner"),
        ("POST", "/v1/admin/accounts/branch/alice/lock"),
    ] {
        let (status, _) = h.admin(method, path, None).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    let (status, body) = h
        .admin("POST", "/v1/admin/accounts/office/a%24b/lock", None)
        .await;
    assert_eq!((status, field(&body)), (422, "account"));
}

#[tokio::test]
async fn routers_report_their_health() {
    let h = Harness::start(Options::default()).await;
    h.sim.add_entry(BAN, "192.0.2.1", None, None);
    let (status, body) = h.admin("GET", "/v1/admin/routers", None).await;
    assert_eq!(status, 200, "{body}");
    let r = &body["routers"][0];
    assert_eq!(r["name"], "office");
    assert_eq!(r["reachable"], true);
    assert_eq!(r["ban"], 1);
    assert_eq!(r["error"], Value::Null);

    h.sim.refuse_connections(true);
    h.sim.drop_connections();
    let (status, body) = h.admin("GET", "/v1/admin/routers", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["routers"][0]["reachable"], false);
    assert!(body["routers"][0]["error"].is_string());
}

#[tokio::test]
async fn the_audit_log_names_the_admin_api_and_pages_by_id() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    h.sim
        .connect_ppp("alice", "l2tp", "203.0.113.7", ip("10.10.0.5"))
        .await
        .unwrap();
    let (_, ban) = h
        .admin(
            "POST",
            "/v1/admin/bans",
            Some(json!({"address": "203.0.113.7", "duration": "1h", "reason": "test"})),
        )
        .await;
    h.admin("DELETE", &format!("/v1/admin/bans/{}", ban["id"]), None)
        .await;
    h.admin("POST", "/v1/admin/accounts/office/alice/lock", None)
        .await;
    h.admin("POST", "/v1/admin/accounts/office/alice/unlock", None)
        .await;
    h.admin("POST", "/v1/admin/accounts/office/alice/invite", None)
        .await;
    h.admin("DELETE", "/v1/admin/accounts/office/alice/owner", None)
        .await;
    h.admin(
        "POST",
        "/v1/admin/accounts",
        Some(json!({"router": "office", "account": "carol"})),
    )
    .await;

    let (status, log) = h
        .admin("GET", "/v1/admin/audit?actor=admin-api", None)
        .await;
    assert_eq!(status, 200, "{log}");
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in [
        "ban.add",
        "ban.lift",
        "account.lock",
        "account.unlock",
        "invite.create",
        "account.owner_removed",
        "account.create",
    ] {
        assert!(actions.contains(&wanted), "{wanted} not in {actions:?}");
    }
    assert!(
        log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == "admin-api")
    );
    assert_eq!(log["next"], Value::Null);

    // The ban's records by the address it banned.
    let (_, by_address) = h
        .admin(
            "GET",
            "/v1/admin/audit?address=203.0.113.7&actor=admin-api",
            None,
        )
        .await;
    let found: Vec<&str> = by_address["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        found.contains(&"ban.add") && found.contains(&"ban.lift"),
        "{found:?}"
    );

    // Pages of two, following `next`, give the whole log once, newest first.
    let (_, whole) = h.admin("GET", "/v1/admin/audit", None).await;
    let all: Vec<i64> = whole["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(all.len() > 4, "{all:?}");
    let mut paged = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            None => "/v1/admin/audit?limit=2".to_string(),
            Some(b) => format!("/v1/admin/audit?limit=2&before={b}"),
        };
        let (status, page) = h.admin("GET", &path, None).await;
        assert_eq!(status, 200);
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 2);
        paged.extend(entries.iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next"].as_i64() {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    assert_eq!(paged, all);

    // Time windows.
    let future = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (_, none) = h
        .admin(
            "GET",
            &format!("/v1/admin/audit?since={}", future.replace('+', "%2B")),
            None,
        )
        .await;
    assert!(none["entries"].as_array().unwrap().is_empty(), "{none}");

    for (query, name) in [
        ("since=yesterday", "since"),
        ("until=2024-13-01T00:00:00Z", "until"),
        ("before=x", "before"),
        ("session=nope", "session"),
        ("address=nope", "address"),
        ("limit=5000", "limit"),
        ("actor=a%00b", "actor"),
    ] {
        let (status, body) = h
            .admin("GET", &format!("/v1/admin/audit?{query}"), None)
            .await;
        assert_eq!((status, field(&body)), (422, name), "{query}: {body}");
    }
}
