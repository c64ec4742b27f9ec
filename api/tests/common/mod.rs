//! A running tgate API wired to a RouterOS simulator over real SSH and a real
//! database (SQLite, or PostgreSQL when `TGATE_TEST_DATABASE_URL` is set).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use tgate_api::ApiState;
use tgate_core::config::Config;
use tgate_core::domain::{AccountName, RouterName};
use tgate_core::gate::{Gate, ssh_gateways};
use tgate_core::storage::Store;
use tgate_core::storage::testing::TestDb;
use tgate_sim::{OnUpHook, RouterSim, RouterSimConfig};

pub const TOKEN: &str = "office-token-0123456789";
pub const ADMIN_TOKEN: &str = "admin-token-0123456789";
pub const SERVICE_TOKEN: &str = "service-token-0123456789";
/// The Telegram user the API knows as an admin (`telegram.admins`).
pub const ADMIN_TG: i64 = 777;

pub struct Options {
    pub compat: bool,
    pub trust_router_chat_id: bool,
    /// Extra TOML for `[policy]`.
    pub policy: &'static str,
    /// `trusted_proxies` value, TOML.
    pub trusted_proxies: &'static str,
    /// Extra TOML for `[server]`.
    pub server: &'static str,
    /// Leave `server.admin_token` out, which turns the admin API off.
    pub no_admin_token: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            compat: false,
            trust_router_chat_id: false,
            policy: "",
            trusted_proxies: "[]",
            server: "",
            no_admin_token: false,
        }
    }
}

pub struct Harness {
    pub sim: RouterSim,
    pub db: TestDb,
    pub base: String,
    pub http: reqwest::Client,
    pub addr: SocketAddr,
    /// The gate the API decides events with.
    pub gate: Arc<Gate>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Harness {
    pub async fn start(opts: Options) -> Harness {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let hook = if opts.compat {
            OnUpHook::Tik2fa {
                base_url: base.clone(),
            }
        } else {
            OnUpHook::Tgate {
                base_url: base.clone(),
                token: TOKEN.into(),
            }
        };
        let sim = RouterSim::start(RouterSimConfig {
            hook: Some(hook),
            ..Default::default()
        })
        .await
        .expect("simulator");
        let db = TestDb::new().await;
        let toml = format!(
            r#"
[server]
trusted_proxies = {proxies}
{server}
service_token = "{SERVICE_TOKEN}"
{admin}

[database]
url = "sqlite://unused.db"

[policy]
{policy}

[telegram]
admins = [{ADMIN_TG}]

[[routers]]
name = "office"
host = "127.0.0.1"
port = {port}
user = "admin"
password = "admin"
host_key = "{fp}"
token = "{TOKEN}"
compat = {compat}
trust_router_chat_id = {trust}
command_timeout = "3s"
"#,
            proxies = opts.trusted_proxies,
            server = opts.server,
            admin = if opts.no_admin_token {
                String::new()
            } else {
                format!("admin_token = \"{ADMIN_TOKEN}\"")
            },
            policy = opts.policy,
            port = sim.addr().port(),
            fp = sim.host_key_fingerprint(),
            compat = opts.compat,
            trust = opts.trust_router_chat_id,
        );
        let config = Config::from_sources(&toml, &[], std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("test config: {e}"));
        let config = Arc::new(config);
        db.store.sync_routers(&[office()]).await.unwrap();
        let gate = Arc::new(Gate::new(
            db.store.clone(),
            config.clone(),
            ssh_gateways(&config),
        ));
        let state = ApiState::new(gate.clone()).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(tgate_api::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Harness {
            sim,
            db,
            base,
            http: reqwest::Client::new(),
            addr,
            gate,
            _shutdown: tx,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.db.store
    }

    /// Makes `tg_id` the owner of the account, as enrollment will.
    pub async fn enroll(&self, account: &str, tg_id: i64) {
        let name: AccountName = account.parse().unwrap();
        self.store().ensure_account(&office(), &name).await.unwrap();
        assert!(
            self.store()
                .set_account_owner(&office(), &name, Some(tg_id))
                .await
                .unwrap()
        );
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.post_raw(path, Some(TOKEN), body.to_string()).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: String,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let json = resp.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// An admin API call with the admin token; `body` None sends no body.
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.call(method, path, Some(ADMIN_TOKEN), body).await
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method: reqwest::Method = method.parse().unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let json = resp.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// Addresses on a list of the simulated router.
    pub fn list(&self, list: &str) -> Vec<String> {
        self.sim
            .address_list(list)
            .into_iter()
            .map(|e| e.address)
            .collect()
    }
}

pub fn office() -> RouterName {
    "office".parse().unwrap()
}

pub fn up_body(user: &str, caller: &str, remote: &str) -> serde_json::Value {
    serde_json::json!({
        "user": user, "caller_id": caller, "remote_address": remote,
        "local_address": "10.10.0.1", "service": "l2tp", "interface": format!("<l2tp-{user}>"),
    })
}
