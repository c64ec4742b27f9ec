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

#[derive(Clone)]
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
    /// first), as a PPP pool's addresses collect sessions over months. One
    /// statement, so a large history takes seconds; then the database is
    /// brought up to date as after the bans.
    pub async fn store_history(&self, per_address: u32, addresses: u32) -> anyhow::Result<()> {
        if per_address == 0 || addresses == 0 {
            return Ok(());
        }
        let rows = u64::from(per_address) * u64::from(addresses);
        let at = chrono::Utc::now().timestamp_millis() - 86_400_000;
        // Only numbers and the lab's constant router name are written into
        // the text. Tunnel n is 10.64.(n / 256).(n % 256) for n below
        // 65,536. Ids are UUIDs (version 7 in form) no real session's can
        // equal: those begin with their time.
        let insert = format!(
            "WITH RECURSIVE k(i) AS \
             (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < {rows}) \
             INSERT INTO sessions (id, router, account, caller_id, remote_address, service, \
             state, created_at, deadline, decided_at, decided_by, closed_at) \
             SELECT '00000000-0000-7000-8000-' || (100000000000 + i), '{router}', 'history', \
             '198.51.100.1', \
             '10.64.' || ((i % {addresses}) / 256) || '.' || ((i % {addresses}) % 256), \
             'l2tp', 'closed', {at}, {at}, {at}, 'bench', {at} FROM k",
            router = crate::lab::ROUTER,
        );
        self.execute(&insert)
            .await
            .context("storing the session history")?;
        self.catch_up("sessions").await
    }

    /// Brings the database up to date after a large change to `table`, as
    /// it would be once it has had the rows for a while, so the first
    /// scenario does not pay for it. SQLite: the log is copied into the
    /// database file now, not by tgate's checkpoints while the scenario
    /// runs. PostgreSQL: the table's statistics are brought up to date, as
    /// autovacuum would within a minute or two; until then its planner may
    /// read every row for a lookup by an index.
    pub async fn catch_up(&self, table: &str) -> anyhow::Result<()> {
        let sql = match self.kind {
            "postgres" => format!("ANALYZE {table}"),
            _ => "PRAGMA wal_checkpoint(TRUNCATE)".to_owned(),
        };
        self.execute(&sql)
            .await
            .with_context(|| format!("bringing the database up to date after {table}"))
    }

    /// Runs `sql`, written by the bench itself with no value from input, on
    /// the run's database over a connection of its own.
    async fn execute(&self, sql: &str) -> anyhow::Result<()> {
        if self.scratch.is_some() {
            execute_on(PgConnectOptions::from_str(&self.url)?, sql).await
        } else {
            execute_on(SqliteConnectOptions::from_str(&self.url)?, sql).await
        }
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

/// Runs the bench's own `sql` over a new connection made with `options`.
async fn execute_on<O>(options: O, sql: &str) -> anyhow::Result<()>
where
    O: ConnectOptions<Connection: Sized>,
    for<'c> &'c mut O::Connection:
        sqlx::Executor<'c, Database = <O::Connection as Connection>::Database>,
{
    let mut conn = options.connect().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?;
    conn.close().await.ok();
    Ok(())
}
