//! Simulated PPP clients: what the on-up/on-down scripts do (sandbox entry,
//! HTTP POST with the exact JSON), and the CLI that lists and kicks sessions.

mod common;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use common::exec;
use serde_json::{Value, json};
use tgate_sim::{OnUpHook, RouterSim, RouterSimConfig};

#[derive(Debug, Clone, PartialEq)]
struct Call {
    path: String,
    auth: Option<String>,
    body: Value,
}

type Calls = Arc<Mutex<Vec<Call>>>;

/// A stand-in for tgate's API that records every POST and answers 202.
async fn receiver() -> (String, Calls) {
    let calls: Calls = Arc::default();
    async fn record(
        State(calls): State<Calls>,
        uri: Uri,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> (StatusCode, &'static str) {
        calls.lock().unwrap().push(Call {
            path: uri.path().to_owned(),
            auth: headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned()),
            body,
        });
        (
            StatusCode::ACCEPTED,
            r#"{"session":"s1","state":"pending"}"#,
        )
    }
    let app = axum::Router::new()
        .route("/{*path}", post(record))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, calls)
}

async fn wait_for(calls: &Calls, n: usize) -> Vec<Call> {
    for _ in 0..100 {
        if calls.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    calls.lock().unwrap().clone()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tgate_hook_up_then_cli_remove_posts_down() {
    let (base, calls) = receiver().await;
    let sim = RouterSim::start(RouterSimConfig {
        hook: Some(OnUpHook::Tgate {
            base_url: base,
            token: "tok".into(),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    sim.set_secret("alice", Some("12345"));

    let reply = sim
        .connect_ppp("alice", "l2tp", "203.0.113.7", ip("10.10.0.5"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 202);
    assert_eq!(reply.body, r#"{"session":"s1","state":"pending"}"#);
    let body = json!({
        "user": "alice", "caller_id": "203.0.113.7", "remote_address": "10.10.0.5",
        "local_address": "10.10.0.1", "service": "l2tp", "interface": "<l2tp-alice>",
        "chat_id": "12345",
    });
    assert_eq!(
        calls.lock().unwrap().clone(),
        [Call {
            path: "/v1/events/up".into(),
            auth: Some("Bearer tok".into()),
            body: body.clone(),
        }]
    );
    let sandbox = sim.address_list("tgate-sandbox");
    assert_eq!(sandbox.len(), 1);
    assert_eq!(sandbox[0].address, "10.10.0.5");
    assert_eq!(sandbox[0].comment.as_deref(), Some("tgate: held"));
    assert!(!sandbox[0].dynamic && sandbox[0].timeout.is_none());
    let sessions = sim.active_sessions();
    assert_eq!(sessions[0].interface, "<l2tp-alice>");
    assert_eq!(sessions[0].local_address, ip("10.10.0.1"));

    let addr = sim.addr();
    let out = exec(addr, "/ppp active print terse").await;
    let uptime = out
        .split("uptime=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    assert!(uptime == "0s" || uptime == "1s", "{out}");
    assert_eq!(
        out.replace(&format!("uptime={uptime} "), "uptime=<U> "),
        " 0   name=alice service=l2tp caller-id=203.0.113.7 address=10.10.0.5 uptime=<U> \
         encoding= session-id=0x81A00000 limit-bytes-in=0 limit-bytes-out=0 radius=no\r\n"
    );

    assert_eq!(
        exec(addr, "/ppp active remove [find name=\"alice\"]").await,
        ""
    );
    let seen = wait_for(&calls, 2).await;
    assert_eq!(
        seen[1],
        Call {
            path: "/v1/events/down".into(),
            auth: Some("Bearer tok".into()),
            body,
        }
    );
    assert!(sim.active_sessions().is_empty());
    assert!(sim.address_list("tgate-sandbox").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn tik2fa_hook_posts_its_legacy_json() {
    let (base, calls) = receiver().await;
    let sim = RouterSim::start(RouterSimConfig {
        hook: Some(OnUpHook::Tik2fa { base_url: base }),
        sandbox_list: "sandboxed".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    sim.connect_ppp("bob", "sstp", "198.51.100.9", ip("10.10.0.8"))
        .await
        .unwrap();
    assert_eq!(sim.address_list("sandboxed").len(), 1);
    let reply = sim.disconnect_ppp("bob").await.unwrap().unwrap();
    assert_eq!(reply.status, 202);
    let body = json!({
        "name": "bob", "chat_id": "", "source_ip": "10.10.0.8",
        "destination_ip": "10.10.0.1", "caller_id": "198.51.100.9",
    });
    let seen = calls.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            Call {
                path: "/clients/connect/".into(),
                auth: None,
                body: body.clone()
            },
            Call {
                path: "/clients/disconnect/".into(),
                auth: None,
                body
            },
        ]
    );
    assert!(sim.address_list("sandboxed").is_empty());
    assert!(sim.disconnect_ppp("bob").await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn tgate_hook_omits_chat_id_without_a_secret_comment() {
    let (base, calls) = receiver().await;
    let sim = RouterSim::start(RouterSimConfig {
        hook: Some(OnUpHook::Tgate {
            base_url: format!("{base}/"),
            token: "t".into(),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    sim.connect_ppp("carol", "ovpn", "192.0.2.1", ip("2001:db8:10::5"))
        .await
        .unwrap();
    let seen = calls.lock().unwrap().clone();
    assert_eq!(seen[0].path, "/v1/events/up");
    assert_eq!(
        seen[0].body,
        json!({
            "user": "carol", "caller_id": "192.0.2.1", "remote_address": "2001:db8:10::5",
            "local_address": "fd10:10::1", "service": "ovpn", "interface": "<ovpn-carol>",
        })
    );
    assert_eq!(
        sim.address_list("tgate-sandbox")[0].address,
        "2001:db8:10::5/128"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_hook_request_is_an_error_but_the_client_is_held() {
    let sim = RouterSim::start(RouterSimConfig {
        hook: Some(OnUpHook::Tgate {
            // Nothing listens on the discard port.
            base_url: "http://127.0.0.1:9".into(),
            token: "t".into(),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let result = sim
        .connect_ppp("dave", "l2tp", "192.0.2.2", ip("10.10.0.9"))
        .await;
    assert!(result.is_err());
    assert_eq!(sim.active_sessions().len(), 1);
    assert_eq!(sim.address_list("tgate-sandbox").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_and_server_interfaces() {
    let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
    let addr = sim.addr();
    sim.set_secret("alice", Some("12345"));
    sim.set_secret("bob", None);
    assert_eq!(
        exec(addr, ":put [/ppp secret get [find name=alice] comment]").await,
        "12345\r\n"
    );
    assert_eq!(
        exec(addr, ":put [/ppp secret get [find name=bob] comment]").await,
        "\r\n"
    );
    assert_eq!(
        exec(addr, ":put [/ppp secret get [find name=nobody] comment]").await,
        "no such item\r\n"
    );

    assert!(
        sim.connect_ppp("alice", "l2tp", "203.0.113.7", ip("10.10.0.5"))
            .await
            .unwrap()
            .is_none()
    );
    sim.connect_ppp("bob", "sstp", "203.0.113.8", ip("10.10.0.6"))
        .await
        .unwrap();
    assert_eq!(
        exec(addr, "/interface l2tp-server print count-only").await,
        "1\r\n"
    );
    // The sstp menu does not see alice's l2tp session.
    assert_eq!(
        exec(addr, "/interface sstp-server remove [find user=alice]").await,
        ""
    );
    assert_eq!(sim.active_sessions().len(), 2);
    assert_eq!(
        exec(addr, "/interface l2tp-server remove [find user=alice]").await,
        ""
    );
    let names: Vec<String> = sim.active_sessions().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["bob"]);
    let sandbox: Vec<String> = sim
        .address_list("tgate-sandbox")
        .into_iter()
        .map(|e| e.address)
        .collect();
    assert_eq!(sandbox, ["10.10.0.6"]);
    assert_eq!(
        exec(
            addr,
            "/ppp active print count-only where caller-id=203.0.113.8 and service=sstp"
        )
        .await,
        "1\r\n"
    );
    assert_eq!(
        exec(addr, "/ppp active remove [find address=10.10.0.6]").await,
        ""
    );
    assert!(sim.active_sessions().is_empty());
    assert_eq!(
        exec_reader(addr, "/ppp active remove [find]").await,
        "not enough permissions (9)\r\n"
    );
}

async fn exec_reader(addr: std::net::SocketAddr, command: &str) -> String {
    common::exec_as(addr, common::Login::Password("reader", "reader"), command).await
}
