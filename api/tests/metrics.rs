//! `GET /metrics` end to end: the text parses as Prometheus's exposition
//! format, and the series move when routers, owners and clients do things.
//! Each harness has its own API series, so those deltas are exact; router
//! and Telegram series are process-wide, so for them a test only asserts
//! that they grew.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use common::{Harness, Options, up_body};
use serde_json::json;

use common::SERVICE_TOKEN;
const METRICS_TOKEN: &str = "metrics-token-0123456789";

/// One scrape: every sample by name and label set.
#[derive(Debug)]
struct Scrape {
    samples: HashMap<(String, BTreeMap<String, String>), f64>,
}

impl Scrape {
    /// The sample `name` with exactly these labels; 0 when absent.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .get(&(name.to_owned(), labels))
            .copied()
            .unwrap_or(0.0)
    }

    /// The sum of `name` over the samples that carry these labels.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((n, l), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

/// Parses the text exposition format strictly: every line is a `# HELP`, a
/// `# TYPE` or a sample `name{labels} value`, and every sample belongs to a
/// family announced with both HELP and TYPE before it.
fn parse(text: &str) -> Scrape {
    let mut help = HashSet::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, doc) = rest.split_once(' ').expect(line);
            assert!(valid_name(name) && !doc.is_empty(), "bad HELP: {line}");
            assert!(help.insert(name.to_owned()), "HELP twice: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect(line);
            assert!(valid_name(name), "bad TYPE: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad TYPE: {line}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (name, labels, value) = sample(line);
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                let base = name.strip_suffix(suffix)?;
                (types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
            })
            .unwrap_or(&name)
            .to_owned();
        assert!(
            types.contains_key(&family) && help.contains(&family),
            "sample without HELP and TYPE before it: {line}"
        );
        if types[&family] == "histogram" && name.ends_with("_bucket") {
            assert!(labels.contains_key("le"), "bucket without le: {line}");
        }
        assert!(
            samples.insert((name, labels), value).is_none(),
            "sample twice: {line}"
        );
    }
    Scrape { samples }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let name_end = line.find(['{', ' ']).expect(line);
    let name = &line[..name_end];
    assert!(valid_name(name), "bad metric name: {line}");
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        loop {
            // label name
            let start = chars.peek().expect(line).0;
            let mut end = start;
            for (i, c) in chars.by_ref() {
                if c == '=' {
                    end = i;
                    break;
                }
            }
            let key = &inner[start..end];
            assert!(valid_name(key), "bad label name in {line}");
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
            let mut value = String::new();
            loop {
                match chars.next().expect(line).1 {
                    '"' => break,
                    '\\' => match chars.next().expect(line).1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        c => panic!("bad escape \\{c} in {line}"),
                    },
                    c => value.push(c),
                }
            }
            assert!(labels.insert(key.to_owned(), value).is_none(), "{line}");
            match chars.next().expect(line) {
                (_, ',') => continue,
                (i, '}') => {
                    rest = &inner[i + 1..];
                    break;
                }
                (_, c) => panic!("unexpected {c:?} in {line}"),
            }
        }
    }
    let value = rest.strip_prefix(' ').expect(line);
    let value = value.split(' ').next().unwrap();
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("bad value: {line}")),
    };
    (name.to_owned(), labels, value)
}

async fn scrape(h: &Harness) -> Scrape {
    let resp = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    parse(&resp.text().await.unwrap())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_every_family_described() {
    let h = Harness::start(Options::default()).await;
    let (status, _) = h.post("/v1/events/up", json!({})).await;
    assert_eq!(status, 422);
    let m = scrape(&h).await;
    assert_eq!(
        m.get(
            "tgate_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // Fixed label sets are there from the start, at zero.
    assert_eq!(
        m.get(
            "tgate_presses_total",
            &[("action", "deny"), ("outcome", "not_owner")]
        ),
        0.0
    );
    assert_eq!(
        m.get(
            "tgate_router_events_total",
            &[("kind", "up"), ("outcome", "invalid")]
        ),
        1.0
    );
    assert_eq!(
        m.get("tgate_decision_seconds_bucket", &[("le", "+Inf")]),
        0.0
    );
    // A histogram's buckets are cumulative and end at its count.
    let inf = m.get(
        "tgate_router_command_seconds_bucket",
        &[
            ("router", "office"),
            ("command", "identity"),
            ("le", "+Inf"),
        ],
    );
    let count = m.get(
        "tgate_router_command_seconds_count",
        &[("router", "office"), ("command", "identity")],
    );
    assert_eq!(inf, count);
}

#[tokio::test]
async fn counters_move_when_routers_report_events() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    let before = scrape(&h).await;
    let router_calls = |m: &Scrape| {
        m.sum(
            "tgate_router_command_seconds_count",
            &[("router", "office")],
        )
    };

    let (status, body) = h
        .post(
            "/v1/events/up",
            up_body("alice", "203.0.113.7", "10.10.0.5"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, _) = h
        .post_raw(
            "/v1/events/up",
            Some("not-the-router-token-000"),
            up_body("alice", "203.0.113.7", "10.10.0.5").to_string(),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = h.post("/v1/no/such/route", json!({})).await;
    assert_eq!(status, 404);

    let after = scrape(&h).await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let events = "tgate_router_events_total";
    assert_eq!(
        delta(events, &[("kind", "up"), ("outcome", "pending")]),
        1.0
    );
    assert_eq!(
        delta(events, &[("kind", "up"), ("outcome", "unauthorized")]),
        1.0
    );
    assert_eq!(delta(events, &[("kind", "up"), ("outcome", "banned")]), 0.0);
    let http = "tgate_http_requests_total";
    assert_eq!(
        delta(http, &[("route", "/v1/events/up"), ("status", "202")]),
        1.0
    );
    assert_eq!(
        delta(http, &[("route", "/v1/events/up"), ("status", "401")]),
        1.0
    );
    // The raw path never becomes a label.
    assert_eq!(
        delta(http, &[("route", "unmatched"), ("status", "404")]),
        1.0
    );
    assert_eq!(after.sum(http, &[("route", "/v1/no/such/route")]), 0.0);
    assert!(
        router_calls(&after) > router_calls(&before),
        "the sandbox add was a router command"
    );

    // A down event closes the session.
    let (status, _) = h
        .post(
            "/v1/events/down",
            json!({"user": "alice", "remote_address": "10.10.0.5"}),
        )
        .await;
    assert_eq!(status, 200);
    let later = scrape(&h).await;
    assert_eq!(
        later.get(events, &[("kind", "down"), ("outcome", "closed")]),
        1.0
    );
}

#[tokio::test]
async fn a_press_is_counted_and_its_decision_time_observed() {
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
    let id = serde_json::from_str::<serde_json::Value>(&reply.body).unwrap()["session"]
        .as_str()
        .unwrap()
        .to_owned();

    let before = scrape(&h).await;
    let press = |who: i64| {
        h.http
            .post(format!("{}/v1/sessions/{id}/confirm", h.base))
            .bearer_auth(SERVICE_TOKEN)
            .json(&json!({ "telegram_user_id": who }))
            .send()
    };
    assert_eq!(press(999).await.unwrap().status(), 403);
    let resp = press(4242).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["outcome"],
        "allowed"
    );
    assert_eq!(press(4242).await.unwrap().status(), 409);

    let after = scrape(&h).await;
    let presses = |m: &Scrape, outcome| {
        m.get(
            "tgate_presses_total",
            &[("action", "confirm"), ("outcome", outcome)],
        )
    };
    for (outcome, n) in [("allowed", 1.0), ("not_owner", 1.0), ("not_pending", 1.0)] {
        assert_eq!(
            presses(&after, outcome) - presses(&before, outcome),
            n,
            "{outcome}"
        );
    }
    let decisions = |m: &Scrape| m.get("tgate_decision_seconds_count", &[]);
    assert_eq!(decisions(&after) - decisions(&before), 1.0);
    // Answered within the test's few seconds.
    let within_5s = |m: &Scrape| m.get("tgate_decision_seconds_bucket", &[("le", "5")]);
    assert_eq!(within_5s(&after) - within_5s(&before), 1.0);
}

#[tokio::test]
async fn a_metrics_token_guards_the_scrape() {
    let h = Harness::start(Options {
        server: r#"metrics_token = "metrics-token-0123456789""#,
        ..Default::default()
    })
    .await;
    let get = |token: Option<&str>| {
        let mut req = h.http.get(format!("{}/metrics", h.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    for token in [None, Some("wrong-token-0123456789")] {
        let resp = get(token).await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
    }
    let resp = get(Some(METRICS_TOKEN)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let m = parse(&resp.text().await.unwrap());
    // The refusals were counted like any answer.
    assert_eq!(
        m.get(
            "tgate_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ),
        2.0
    );
}

#[tokio::test]
async fn gauges_show_sessions_by_state_and_bans_in_force() {
    let h = Harness::start(Options::default()).await;
    h.enroll("alice", 4242).await;
    let m = scrape(&h).await;
    assert_eq!(m.get("tgate_sessions", &[("state", "pending")]), 0.0);
    assert_eq!(m.get("tgate_bans_active", &[]), 0.0);

    let (status, _) = h
        .post(
            "/v1/events/up",
            common::up_body("alice", "203.0.113.7", "10.10.0.5"),
        )
        .await;
    assert_eq!(status, 202);
    let now = chrono::Utc::now();
    h.store()
        .insert_ban(&tgate_core::storage::NewBan {
            network: "198.51.100.0/24".parse().unwrap(),
            reason: "test".into(),
            source: "admin".into(),
            created_by: "test".into(),
            created_at: now,
            until: now + chrono::Duration::hours(1),
        })
        .await
        .unwrap();
    let m = scrape(&h).await;
    assert_eq!(m.get("tgate_sessions", &[("state", "pending")]), 1.0);
    assert_eq!(m.get("tgate_sessions", &[("state", "confirmed")]), 0.0);
    assert_eq!(m.get("tgate_bans_active", &[]), 1.0);
}
