//! The split deployment: the API and the worker as separate parts on one
//! database. While no worker runs, expiry jobs pile up and `/metrics` shows
//! them queued and then late; when a worker starts, it drains them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tgate::Shutdown;
use tgate_core::config::Config;
use tgate_core::domain::{AccountName, RouterName};
use tgate_core::storage::testing::TestDb;
use tgate_sim::{OnUpHook, RouterSim, RouterSimConfig};

const TOKEN: &str = "office-token-0123456789";

/// One sample of the scrape, 0 when absent.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(api: &str) -> (f64, f64) {
    let text = reqwest::get(format!("{api}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (
        sample(&text, "tgate_expiry_jobs_queued"),
        sample(&text, "tgate_expiry_jobs_late"),
    )
}

/// A loopback port nothing listens on (the worker binds it from config).
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < give_up, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_show_late_while_no_worker_runs_and_drain_when_one_starts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let router = RouterSim::start(RouterSimConfig {
        hook: Some(OnUpHook::Tgate {
            base_url: api.clone(),
            token: TOKEN.into(),
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let db = TestDb::new().await;
    let toml = format!(
        r#"
[database]
url = "{db}"

[policy]
confirm_timeout = "1s"

[worker]
metrics_listen = "127.0.0.1:{metrics_port}"

[[routers]]
name = "office"
host = "127.0.0.1"
port = {port}
user = "admin"
password = "admin"
host_key = "{fp}"
token = "{TOKEN}"
"#,
        db = db.url,
        port = router.addr().port(),
        fp = router.host_key_fingerprint(),
        metrics_port = free_port(),
    );
    let config = Arc::new(Config::from_sources(&toml, &[], Path::new(".")).unwrap());
    let (stop, shutdown) = Shutdown::new();

    // The API alone.
    let store = tgate::open_store(&config).await.unwrap();
    let gate = tgate::api_gate(config.clone(), store.clone())
        .await
        .unwrap();
    let state = tgate_api::ApiState::new(gate).await.unwrap();
    tokio::spawn(tgate_api::serve(listener, state, shutdown.clone().wait()));
    let office: RouterName = "office".parse().unwrap();
    let alice: AccountName = "alice".parse().unwrap();
    store.ensure_account(&office, &alice).await.unwrap();
    store
        .set_account_owner(&office, &alice, Some(4242))
        .await
        .unwrap();

    let reply = router
        .connect_ppp("alice", "l2tp", "203.0.113.7", "10.10.0.5".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(scrape(&api).await.0, 1.0, "one job queued");
    until("the unrun job shows late", async || {
        scrape(&api).await == (1.0, 1.0)
    })
    .await;
    assert_eq!(router.active_sessions().len(), 1, "nobody expired it");

    // A worker starts and expires the session, late but not lost.
    tokio::spawn(tgate::run_worker(config.clone(), store.clone(), shutdown));
    until("the worker drains the queue", async || {
        scrape(&api).await == (0.0, 0.0)
    })
    .await;
    assert!(
        router.active_sessions().is_empty(),
        "the caller was cut off"
    );
    let _ = stop.send(true);
}
