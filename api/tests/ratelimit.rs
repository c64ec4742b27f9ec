//! Per-source rate limits and body limits end to end: real sockets from
//! distinct loopback addresses, a trusted proxy's forwarded addresses, and a
//! body too large for any route.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{Harness, Options, up_body};
use serde_json::{Value, json};
use tgate_core::domain::SessionState;

use common::SERVICE_TOKEN;
const LIMITED: &str = r#"
rate_limit = 2
rate_burst = 2
"#;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A client whose requests come from `local`, a loopback address.
fn client_from(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip(local))
        .build()
        .unwrap()
}

/// The 429 answer: `Retry-After` in whole seconds and the JSON error.
async fn assert_limited(resp: reqwest::Response) -> u64 {
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("whole seconds");
    assert!(retry_after >= 1);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": "rate limited", "detail": { "retry_after": retry_after } })
    );
    retry_after
}

#[tokio::test]
async fn a_source_over_its_rate_waits_while_others_and_the_watcher_pass() {
    let h = Harness::start(Options {
        server: LIMITED,
        ..Default::default()
    })
    .await;
    let url = |path: &str| format!("{}{path}", h.base);

    // Health, compat and router events share the source's bucket.
    let resp = h.http.get(url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = h
        .http
        .post(url("/clients/connect/"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = h
        .http
        .post(url("/v1/events/up"))
        .bearer_auth(common::TOKEN)
        .json(&up_body("alice", "203.0.113.7", "10.10.0.5"))
        .send()
        .await
        .unwrap();
    let retry_after = assert_limited(resp).await;
    assert!(
        h.store()
            .sessions_in_state(SessionState::Pending, 10)
            .await
            .unwrap()
            .is_empty(),
        "a refused event does nothing"
    );

    // Another source has its own bucket.
    let other = client_from("127.0.0.2");
    let resp = other.get(url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // The watcher's calls carry a token and are not limited per source.
    for _ in 0..5 {
        let resp = h
            .http
            .get(url("/v1/users/4242"))
            .bearer_auth(SERVICE_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    // Counted by route; scraped from a third source.
    let text = client_from("127.0.0.3")
        .get(url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "tgate_rate_limited_total{route=\"/v1/events/up\"} 1",
        "tgate_http_requests_total{route=\"/v1/events/up\",status=\"429\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let resp = h.http.get(url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_a_source() {
    let h = Harness::start(Options {
        server: LIMITED,
        trusted_proxies: r#"["127.0.0.1"]"#,
        ..Default::default()
    })
    .await;
    let healthz = format!("{}/healthz", h.base);
    let via_proxy = |header: &'static str, client: &'static str| {
        h.http.get(&healthz).header(header, client).send()
    };

    for _ in 0..2 {
        assert_eq!(
            via_proxy("x-real-ip", "192.0.2.1").await.unwrap().status(),
            200
        );
    }
    assert_limited(via_proxy("x-real-ip", "192.0.2.1").await.unwrap()).await;
    assert_eq!(
        via_proxy("x-real-ip", "192.0.2.2").await.unwrap().status(),
        200
    );
    assert_eq!(
        via_proxy("x-forwarded-for", "192.0.2.3")
            .await
            .unwrap()
            .status(),
        200
    );

    // From a peer that is not a trusted proxy the headers are not believed,
    // so changing them does not buy a fresh bucket.
    let stranger = client_from("127.0.0.2");
    for (n, client) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .enumerate()
    {
        let resp = stranger
            .get(&healthz)
            .header("x-real-ip", *client)
            .send()
            .await
            .unwrap();
        if n < 2 {
            assert_eq!(resp.status(), 200);
        } else {
            assert_limited(resp).await;
        }
    }
}

#[tokio::test]
async fn a_zero_rate_limit_turns_limiting_off() {
    let h = Harness::start(Options {
        server: "rate_limit = 0\nrate_burst = 1",
        ..Default::default()
    })
    .await;
    for _ in 0..10 {
        let resp = h
            .http
            .get(format!("{}/healthz", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn a_megabyte_press_gets_413_and_changes_nothing() {
    let h = Harness::start(Options {
        ..Default::default()
    })
    .await;
    h.enroll("alice", 4242).await;
    let reply = h
        .sim
        .connect_ppp("alice", "l2tp", "203.0.113.7", ip("10.10.0.5"))
        .await
        .unwrap()
        .expect("hook reply");
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id: String = serde_json::from_str::<Value>(&reply.body).unwrap()["session"]
        .as_str()
        .unwrap()
        .to_owned();

    // A valid press, padded to a mebibyte.
    let padding = "x".repeat(1024 * 1024);
    let body = json!({ "telegram_user_id": 4242, "padding": padding }).to_string();
    let resp = h
        .http
        .post(format!("{}/v1/sessions/{id}/confirm", h.base))
        .bearer_auth(SERVICE_TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["error"], "request body too large");
    assert_eq!(answer["detail"]["max_bytes"], 16 * 1024);

    let session = h
        .store()
        .session(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.state, SessionState::Pending);
    assert_eq!(h.list("tgate-sandbox"), ["10.10.0.5"]);
    assert!(h.list("tgate-permit").is_empty());
}
