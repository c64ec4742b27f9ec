//! The committed nginx configuration, run for real in front of tgate: router
//! events and tik2fa's calls pass only from the allow-listed routers, the
//! client's address reaches tgate in X-Real-IP (and cannot be forged), the
//! admin and internal paths are fenced, and every answer carries the
//! security headers. Needs nginx; see `support/tool.rs` for what happens
//! without it.

mod common;
#[path = "support/nginx.rs"]
mod proxy;
#[path = "support/tool.rs"]
mod tool;

use common::{SANDBOX, System, owner};
use proxy::{AllowLists, Nginx, nginx_or_skip};
use serde_json::{Value, json};
use tgate_core::domain::SessionState;
use tgate_core::storage::SessionFilter;

const ADMIN_TOKEN: &str = "lab-admin-token-0123456789";

/// The lab behind nginx; nginx believes 127.0.0.1 and 127.0.0.3 are routers
/// and 127.0.0.1 an admin. The lab's router (host 127.0.0.1) is the compat
/// router, and tgate trusts nginx (on 127.0.0.1) as its proxy.
async fn start(test: &str) -> Option<(System, Nginx)> {
    let binary = nginx_or_skip(test)?;
    let sys = System::start_configured(|options| {
        options.server = format!(
            "trusted_proxies = [\"127.0.0.1\"]\nrate_limit = 0\nadmin_token = \"{ADMIN_TOKEN}\""
        );
        options.router = "compat = true".into();
    })
    .await;
    let lists = AllowLists {
        routers: &["127.0.0.1", "127.0.0.3"],
        admin: &["127.0.0.1"],
        telegram: &["127.0.0.1"],
    };
    let nginx = Nginx::start(binary, sys.api_addr(), &lists).await;
    Some((sys, nginx))
}

fn up_event(user: &str, tunnel: &str) -> Value {
    json!({"user": user, "caller_id": "203.0.113.7", "remote_address": tunnel,
           "local_address": "10.10.0.1", "service": "l2tp"})
}

fn compat_connect(name: &str, tunnel: &str) -> Value {
    json!({"name": name, "chat_id": owner().id.to_string(), "source_ip": tunnel,
           "destination_ip": "10.10.0.1", "caller_id": "203.0.113.8"})
}

/// Sends `body` to `path` from `from` through nginx; status, headers, JSON.
async fn post(
    nginx: &Nginx,
    from: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = nginx.client(from).post(nginx.url(path)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let reply = request.send().await.expect("an answer through nginx");
    let status = reply.status().as_u16();
    let headers = reply.headers().clone();
    let text = reply.text().await.unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// The sessions tgate stored for `account`.
async fn sessions_of(sys: &System, account: &str) -> Vec<tgate_core::storage::Session> {
    let filter = SessionFilter {
        account: Some(account.parse().unwrap()),
        limit: 100,
        ..Default::default()
    };
    sys.store().list_sessions(&filter).await.unwrap()
}

fn assert_security_headers(headers: &reqwest::header::HeaderMap) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{name} missing: {headers:?}"))
            .to_owned()
    };
    assert!(header("strict-transport-security").starts_with("max-age="));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_events_pass_only_from_allow_listed_routers() {
    let Some((sys, nginx)) = start("router_events_pass_only_from_allow_listed_routers").await
    else {
        return;
    };
    let token = Some(tgate::lab::ROUTER_TOKEN);
    sys.enroll("alice", &owner()).await;
    sys.enroll("bob", &owner()).await;

    let (status, headers, body) = post(
        &nginx,
        "127.0.0.1",
        "/v1/events/up",
        token,
        &up_event("alice", "10.10.0.5"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "pending");
    assert_security_headers(&headers);
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Pending
    );
    sys.eventually("alice's address sandboxed", || {
        sys.list(SANDBOX).contains(&"10.10.0.5".to_owned())
    })
    .await;
    sys.prompt(owner().id).await;

    // Not a router: nginx refuses before tgate sees the token.
    let (status, headers, body) = post(
        &nginx,
        "127.0.0.2",
        "/v1/events/up",
        token,
        &up_event("bob", "10.10.0.6"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body, json!({"error": "forbidden"}));
    assert_security_headers(&headers);
    assert!(sessions_of(&sys, "bob").await.is_empty());
    assert!(!sys.list(SANDBOX).contains(&"10.10.0.6".to_owned()));

    // A router's down event goes through, and closes alice's session.
    let (status, _, body) = post(
        &nginx,
        "127.0.0.1",
        "/v1/events/down",
        token,
        &up_event("alice", "10.10.0.5"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let alice = sessions_of(&sys, "alice").await;
    assert_eq!(alice.len(), 1);
    assert_eq!(alice[0].state, SessionState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_calls_are_believed_only_from_the_routers_own_address() {
    let Some((sys, nginx)) =
        start("compat_calls_are_believed_only_from_the_routers_own_address").await
    else {
        return;
    };
    sys.enroll("carol", &owner()).await;

    // 127.0.0.3 is on nginx's list but is not the compat router's host, and
    // the X-Real-IP it sends is replaced by nginx with its real address.
    let forged = nginx
        .client("127.0.0.3")
        .post(nginx.url("/clients/connect/"))
        .header("X-Real-IP", "127.0.0.1")
        .header("X-Forwarded-For", "127.0.0.1")
        .json(&compat_connect("carol", "10.10.0.7"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    assert!(sessions_of(&sys, "carol").await.is_empty());

    let (status, _, body) = post(
        &nginx,
        "127.0.0.2",
        "/clients/connect/",
        None,
        &compat_connect("carol", "10.10.0.7"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(sessions_of(&sys, "carol").await.is_empty());

    // From the router's own address, as forwarded by nginx.
    let (status, headers, body) = post(
        &nginx,
        "127.0.0.1",
        "/clients/connect/",
        None,
        &compat_connect("carol", "10.10.0.7"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_security_headers(&headers);
    let carol = sessions_of(&sys, "carol").await;
    assert_eq!(carol.len(), 1);
    assert_eq!(carol[0].state, SessionState::Pending);
    assert_eq!(carol[0].remote_address.to_string(), "10.10.0.7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_internal_and_webhook_paths_are_fenced() {
    let Some((_sys, nginx)) = start("admin_internal_and_webhook_paths_are_fenced").await else {
        return;
    };
    let get = |from: &str, path: &str| {
        let request = nginx
            .client(from)
            .get(nginx.url(path))
            .bearer_auth(ADMIN_TOKEN);
        async move { request.send().await.unwrap() }
    };

    assert_eq!(get("127.0.0.2", "/v1/admin/sessions").await.status(), 403);
    assert_eq!(get("127.0.0.1", "/v1/admin/sessions").await.status(), 200);
    assert_eq!(get("127.0.0.2", "/metrics").await.status(), 403);
    assert_eq!(get("127.0.0.1", "/metrics").await.status(), 200);
    // Liveness is for anyone.
    let health = get("127.0.0.2", "/healthz").await;
    assert_eq!(health.status(), 200);
    assert_security_headers(health.headers());

    // The watcher's calls never come through nginx.
    let enroll = post(&nginx, "127.0.0.1", "/v1/enroll", None, &json!({})).await;
    assert_eq!((enroll.0, enroll.2), (404, json!({"error": "not found"})));

    // Webhook calls without Telegram's secret header stop at nginx.
    let (status, _, _) = post(&nginx, "127.0.0.1", "/telegram/webhook", None, &json!({})).await;
    assert_eq!(status, 403);

    // Plain HTTP only redirects.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(nginx.http_url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 301);
    let location = plain.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("https://127.0.0.1"), "{location}");
}

/// Webhook mode behind nginx, as `tgate serve` runs it: `/telegram/` goes to
/// the API's listener, where the watcher's route checks the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_calls_pass_from_telegram_and_count_only_with_the_secret() {
    let Some(binary) = nginx_or_skip("webhook_calls_pass_from_telegram") else {
        return;
    };
    let secret = "nginx-webhook-secret";
    let sys = System::start_configured(|options| {
        options.server = "trusted_proxies = [\"127.0.0.1\"]\nrate_limit = 0".into();
        options.telegram = format!("mode = \"webhook\"\nwebhook_secret = \"{secret}\"");
    })
    .await;
    let lists = AllowLists {
        routers: &["127.0.0.1"],
        admin: &["127.0.0.1"],
        telegram: &["127.0.0.1"],
    };
    let nginx = Nginx::start(binary, sys.api_addr(), &lists).await;
    let alice = owner();
    let help = json!({
        "update_id": 778_001,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": alice.id, "type": "private", "first_name": "Alice"},
            "from": {"id": alice.id, "is_bot": false, "first_name": "Alice"},
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        }
    });
    let send = |from: &str, secret: &str| {
        nginx
            .client(from)
            .post(nginx.url("/telegram/webhook"))
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .json(&help)
            .send()
    };

    // Not from Telegram's networks: nginx refuses, whatever the secret.
    assert_eq!(send("127.0.0.2", secret).await.unwrap().status(), 403);
    // From Telegram's network with another secret: tgate refuses.
    assert_eq!(
        send("127.0.0.1", "not-the-secret").await.unwrap().status(),
        403
    );
    assert!(sys.tg.bot_messages(alice.id).is_empty());

    assert_eq!(send("127.0.0.1", secret).await.unwrap().status(), 200);
    let reply = sys
        .tg
        .wait_for(alice.id, common::PATIENCE, |m| m.from_bot)
        .await
        .expect("the bot answers /help");
    assert!(!reply.text.is_empty());
}
