//! Where a benchmark run keeps its data: a temporary SQLite file, or a
//! scratch PostgreSQL database created beside the one the user named and
//! dropped at the end. A run must start empty: bans and strikes left by an
//! earlier run would turn this run's connects into refusals.

use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

pub struct Database {
    /// The URL tgate and the bench open.
    pub url: String,
    /// "sqlite" or "postgres".
    pub kind: &'static str,
    scratch: Option<(PgConnectOptions, String)>,
}

impl Database {
    /// `url` is a PostgreSQL server (any database on it the user may
    /// connect to); `None` means SQLite in `dir`.
    pub async fn create(url: Option<&str>, dir: &Path) -> anyhow::Result<Database> {
        let Some(url) = url else {
            return Ok(Database {
                url: format!("sqlite://{}", dir.join("tgate.db").display()),
                kind: "sqlite",
                scratch: None,
            });
        };
        anyhow::ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "--database-url must be a postgres:// URL (SQLite is the default)"
        );
        let admin = PgConnectOptions::from_str(url).context("--database-url")?;
        let name = format!("tgate_bench_{}", uuid::Uuid::now_v7().simple());
        let mut conn = admin
            .connect()
            .await
            .with_context(|| format!("connecting to {}", redacted(url)))?;
        // The name is made here from a UUID, not taken from input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .context("creating the scratch database")?;
        conn.close().await.ok();
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (url, String::new()),
        };
        let server = base.rsplit_once('/').map_or(base, |(b, _)| b);
        Ok(Database {
            url: format!("{server}/{name}{query}"),
            kind: "postgres",
            scratch: Some((admin, name)),
        })
    }

    /// Stores `per_address` closed sessions of another account at each of
    /// the tunnel addresses 10.64.0.0 + 0 … `addresses` − 1 (the ones the
    /// bench hands out first, to the connect → prompt scenario, which runs
    /// first), as a PPP pool's addresses collect sessions
    /// over months; then brings PostgreSQL's statistics up to date, as for
    /// the bans. One statement, so a large history takes seconds.
    pub async fn store_history(&self, per_address: u32, addresses: u32) -> anyhow::Result<()> {
        if per_address == 0 || addresses == 0 {
            return Ok(());
        }
        let rows = i64::from(per_address) * i64::from(addresses);
        // Tunnel n is 10.64.(n / 256).(n % 256) for n below 65,536.
        // Ids are UUIDs (version 7 in form) no real session's can equal:
        // those begin with their time.
        let sql = "WITH RECURSIVE k(i) AS \
                   (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < $1) \
                   INSERT INTO sessions (id, router, account, caller_id, remote_address, service, \
                   state, created_at, deadline, decided_at, decided_by, closed_at) \
                   SELECT '00000000-0000-7000-8000-' || (100000000000 + i), $2, 'history', \
                   '198.51.100.1', \
                   '10.64.' || ((i % $3) / 256) || '.' || ((i % $3) % 256), 'l2tp', 'closed', \
                   $4, $4, $4, 'bench', $4 FROM k";
        let at = chrono::Utc::now().timestamp_millis() - 86_400_000;
        let router = crate::lab::ROUTER;
        let addresses = i64::from(addresses);
        if self.scratch.is_none() {
            let mut conn = SqliteConnectOptions::from_str(&self.url)?.connect().await?;
            sqlx::query(sql)
                .bind(rows)
                .bind(router)
                .bind(addresses)
                .bind(at)
                .execute(&mut conn)
                .await
                .context("storing the session history")?;
            // Copied into the database file now, not by tgate's checkpoints
            // while the first scenario runs.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await
                .context("checkpointing the session history")?;
            conn.close().await.ok();
            return Ok(());
        }
        let mut conn = PgConnectOptions::from_str(&self.url)?.connect().await?;
        sqlx::query(sql)
            .bind(rows)
            .bind(router)
            .bind(addresses)
            .bind(at)
            .execute(&mut conn)
            .await
            .context("storing the session history")?;
        sqlx::query("ANALYZE sessions")
            .execute(&mut conn)
            .await
            .context("analyzing the sessions")?;
        conn.close().await.ok();
        Ok(())
    }

    /// Brings PostgreSQL's statistics of the bans up to date, as its
    /// autovacuum would within a minute or two of a large change: bans the
    /// bench stored all at once are then planned for as on a server that
    /// has had them for a while. (Until then its planner may read every
    /// ban for a lookup by network.) SQLite keeps no statistics of the bans
    /// to bring up to date.
    pub async fn analyze_bans(&self) -> anyhow::Result<()> {
        if self.scratch.is_none() {
            return Ok(());
        }
        let mut conn = PgConnectOptions::from_str(&self.url)?.connect().await?;
        sqlx::query("ANALYZE bans")
            .execute(&mut conn)
            .await
            .context("analyzing the bans")?;
        conn.close().await.ok();
        Ok(())
    }

    pub async fn drop_scratch(&mut self) -> anyhow::Result<()> {
        let Some((admin, name)) = self.scratch.take() else {
            return Ok(());
        };
        let mut conn = admin.connect().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .context("dropping the scratch database")?;
        Ok(())
    }
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
