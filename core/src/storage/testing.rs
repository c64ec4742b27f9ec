//! Test support: a fresh, migrated database per test. SQLite (a temporary
//! file) by default; PostgreSQL when `TGATE_TEST_DATABASE_URL` names a server,
//! in which case each test gets its own database, dropped when it ends. CI runs
//! the whole suite once each way.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::{NewSession, PgStore, SqliteStore, Store};
use crate::domain::{RouterName, SessionId};

/// A new session of `account` on `router` at tunnel address `remote`, from
/// 203.0.113.7 over L2TP, prompting chat 1, due `deadline_in` from now.
pub fn new_session(
    router: RouterName,
    account: &str,
    remote: &str,
    deadline_in: chrono::Duration,
) -> NewSession {
    let now = chrono::Utc::now();
    NewSession {
        id: SessionId::new(),
        router,
        account: account.parse().expect("account name"),
        caller_id: "203.0.113.7".parse().expect("caller"),
        remote_address: remote.parse().expect("tunnel address"),
        local_address: None,
        service: "l2tp".parse().expect("service"),
        interface: None,
        chat_id: Some(1),
        language: None,
        created_at: now,
        deadline: now + deadline_in,
    }
}

/// A database that lives as long as the test holds it.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// A URL other processes of the test can open.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(PgConnectOptions, String)>,
}

impl TestDb {
    pub async fn new() -> TestDb {
        match std::env::var("TGATE_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Self::postgres(&url).await,
            _ => Self::sqlite().await,
        }
    }

    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("tgate.db").display());
        let store = SqliteStore::open(&url).await.expect("open SQLite");
        TestDb {
            store: Arc::new(store),
            url,
            _dir: Some(dir),
            pg: None,
        }
    }

    async fn postgres(admin_url: &str) -> TestDb {
        let admin = PgConnectOptions::from_str(admin_url).expect("TGATE_TEST_DATABASE_URL");
        let name = format!("tgate_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = admin.connect().await.expect("connect to PostgreSQL");
        // The name is ours (a UUID), not input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let store = PgStore::open_with(admin.clone().database(&name))
            .await
            .expect("open PostgreSQL");
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin_url, String::new()),
        };
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        TestDb {
            store: Arc::new(store),
            url: format!("{base}/{name}{query}"),
            _dir: None,
            pg: Some((admin, name)),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which must not block on itself:
        // a short-lived thread with its own runtime drops the database.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = admin.connect().await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        });
        let _ = dropper.join();
    }
}
