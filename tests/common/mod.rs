//! The whole of tgate, as `tgate serve` runs it, against both simulators: a
//! RouterOS router over real SSH and the Telegram Bot API over real HTTP, on a
//! real database (SQLite, or PostgreSQL with `TGATE_TEST_DATABASE_URL`).

#![allow(dead_code, unused_imports)]

use std::net::IpAddr;
use std::time::Duration;

use tgate::lab::{Lab, LabOptions};
use tgate_core::domain::{AccountName, RouterName, SessionId};
use tgate_core::storage::testing::TestDb;
use tgate_core::storage::{Session, Store};
use tgate_sim::{SimMessage, TgUser};

pub use tgate::lab::{ADMIN, BAN, PERMIT, SANDBOX};
/// Long enough that nothing expires during a test unless it wants to.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// tgate's log goes to the test's stderr, which the test runner shows only
/// when the test fails: what tgate did is then beside the assertion.
fn show_logs_on_failure() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn owner() -> TgUser {
    TgUser::new(4242, "Alice")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn office() -> RouterName {
    tgate::lab::ROUTER.parse().unwrap()
}

/// The lab (`sys.router`, `sys.tg`, `sys.api` through `Deref`) on the test's
/// own database.
pub struct System {
    lab: Lab,
    pub db: TestDb,
}

impl std::ops::Deref for System {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        &self.lab
    }
}

impl System {
    pub async fn start() -> System {
        Self::start_with("").await
    }

    /// `policy` is extra TOML for the `[policy]` table.
    pub async fn start_with(policy: &str) -> System {
        Self::start_configured(|options| options.policy = policy.to_owned()).await
    }

    /// `configure` may add `[server]`, `[policy]` or router lines.
    pub async fn start_configured(configure: impl FnOnce(&mut LabOptions)) -> System {
        show_logs_on_failure();
        let db = TestDb::new().await;
        let mut options = LabOptions::new(db.url.clone());
        configure(&mut options);
        let lab = Lab::start(options)
            .await
            .unwrap_or_else(|e| panic!("starting the lab: {e:#}"));
        System { lab, db }
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

    /// `prompt` as edited, once it is; fails the test saying what the edit
    /// was waited for (`what`) after `PATIENCE`.
    pub async fn edit_of(&self, prompt: &SimMessage, what: &str) -> SimMessage {
        self.tg
            .wait_for(prompt.chat_id, PATIENCE, |m| {
                m.message_id == prompt.message_id && m.edited
            })
            .await
            .unwrap_or_else(|| panic!("{what}"))
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
