//! The whole of tgate, as `tgate serve` runs it, against both simulators: a
//! RouterOS router over real SSH and the Telegram Bot API over real HTTP, on a
//! real database (SQLite, or PostgreSQL with `TGATE_TEST_DATABASE_URL`).

#![allow(dead_code)]

use std::net::IpAddr;
use std::time::Duration;

use tgate::Shutdown;
use tgate_core::config::Config;
use tgate_core::domain::{AccountName, RouterName, SessionId};
use tgate_core::storage::testing::TestDb;
use tgate_core::storage::{Session, Store};
use tgate_sim::{
    BotApiSim, BotApiSimConfig, OnUpHook, RouterSim, RouterSimConfig, SimMessage, TgUser,
};

pub const TOKEN: &str = "office-token-0123456789";
pub const ADMIN: i64 = 9000;
pub const SANDBOX: &str = "tgate-sandbox";
pub const PERMIT: &str = "tgate-permit";
pub const BAN: &str = "tgate-ban";
/// Long enough that nothing expires during a test unless it wants to.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub fn owner() -> TgUser {
    TgUser::new(4242, "Alice")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn office() -> RouterName {
    "office".parse().unwrap()
}

pub struct System {
    pub router: RouterSim,
    pub tg: BotApiSim,
    pub db: TestDb,
    pub api: String,
    stop: tokio::sync::watch::Sender<bool>,
}

impl System {
    pub async fn start() -> System {
        Self::start_with("").await
    }

    /// `policy` is extra TOML for the `[policy]` table.
    pub async fn start_with(policy: &str) -> System {
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
        let tg = BotApiSim::start(BotApiSimConfig::default()).await.unwrap();
        let db = TestDb::new().await;
        let toml = format!(
            r#"
[database]
url = "{db_url}"

[telegram]
token = "{tg_token}"
api_url = "{tg_url}"
admins = [{ADMIN}]

[policy]
{policy}

[[routers]]
name = "office"
host = "127.0.0.1"
port = {port}
user = "admin"
password = "admin"
host_key = "{fp}"
token = "{TOKEN}"
command_timeout = "3s"
"#,
            db_url = db.url,
            tg_token = tg.token(),
            tg_url = tg.url(),
            port = router.addr().port(),
            fp = router.host_key_fingerprint(),
        );
        let config = Config::from_sources(&toml, &[], std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("test config: {e}"));
        db.store.sync_routers(&[office()]).await.unwrap();
        let (stop, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            // At the end of a test the runtime cancels tasks mid-flight.
            if let Err(e) = tgate::serve(config, listener, shutdown).await {
                eprintln!("tgate serve stopped: {e:#}");
            }
        });
        let health = format!("{api}/healthz");
        let until = tokio::time::Instant::now() + PATIENCE;
        while reqwest::get(&health).await.is_err() {
            assert!(tokio::time::Instant::now() < until, "tgate did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        System {
            router,
            tg,
            db,
            api,
            stop,
        }
    }

    pub fn store(&self) -> &std::sync::Arc<dyn Store> {
        &self.db.store
    }

    /// Makes `owner` the account's owner directly, for tests about other things.
    pub async fn enroll(&self, account: &str, owner: &TgUser) {
        let name: AccountName = account.parse().unwrap();
        self.store().ensure_account(&office(), &name).await.unwrap();
        self.store()
            .set_account_owner(&office(), &name, Some(owner.id))
            .await
            .unwrap();
    }

    /// A PPP client connects; returns the session tgate answered with.
    pub async fn connect(
        &self,
        user: &str,
        caller: &str,
        tunnel: &str,
    ) -> (u16, serde_json::Value) {
        let reply = self
            .router
            .connect_ppp(user, "l2tp", caller, ip(tunnel))
            .await
            .unwrap()
            .expect("hook reply");
        (
            reply.status,
            serde_json::from_str(&reply.body).unwrap_or_default(),
        )
    }

    pub async fn session(&self, id: &serde_json::Value) -> Session {
        let id: SessionId = id.as_str().expect("session id").parse().unwrap();
        self.store()
            .session(id)
            .await
            .unwrap()
            .expect("session row")
    }

    /// The prompt in the owner's chat with live buttons.
    pub async fn prompt(&self, chat: i64) -> SimMessage {
        self.tg
            .wait_for(chat, PATIENCE, |m| m.from_bot && !m.buttons.is_empty())
            .await
            .expect("a prompt with buttons")
    }

    /// Waits until `check` holds, or fails the test after `PATIENCE`.
    pub async fn eventually<F: Fn() -> bool>(&self, what: &str, check: F) {
        let until = tokio::time::Instant::now() + PATIENCE;
        while !check() {
            assert!(
                tokio::time::Instant::now() < until,
                "timed out waiting: {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn list(&self, list: &str) -> Vec<String> {
        self.router
            .address_list(list)
            .into_iter()
            .map(|e| e.address)
            .collect()
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
