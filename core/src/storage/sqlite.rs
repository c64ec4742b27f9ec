//! The SQLite backend: the embedded default, a file in WAL mode (and a
//! second beside it for the job queue), so a small installation needs no
//! database server.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqlitePool};

use super::group::Group;
use super::sql::{
    AccountRow, AuditRow, BanRow, InviteRow, SessionRow, audit_group, expiry_group, impl_store,
    message_id_group, ms, parsed, pending_group, session_columns, session_filter, strike_group,
};
use super::{
    Account, AuditEntry, AuditFilter, AuditRecord, Ban, BanFilter, Inserted, Invite, InviteUse,
    NewBan, NewSession, NewStrike, Session, SessionFilter, StoreError,
};
use crate::domain::{AccountName, RouterName, SessionId, SessionState, Transition};

/// Connections serving reads at once.
const READERS: u32 = 4;

/// How often the write-ahead log is copied back into the database file;
/// the log grows by about this much time's writes before its pages are
/// reused.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

pub struct SqliteStore {
    /// The one connection that writes.
    pool: SqlitePool,
    /// Connections that only read: in WAL mode they never wait for the
    /// writer, nor it for them.
    reads: SqlitePool,
    /// The job queue's database, a file of its own ([`beside`]) with its
    /// own writing connection.
    jobs: SqlitePool,
    audits: Group<AuditEntry>,
    /// New pending sessions, inserted together.
    pub(super) pending_inserts: Group<NewSession, Option<Session>>,
    /// Prompts' message ids, recorded together.
    pub(super) message_ids: Group<(SessionId, i64), Option<SessionState>>,
    /// Strikes, stored together.
    pub(super) strikes: Group<NewStrike>,
    /// Sessions expired at their deadline, together.
    pub(super) expiries: Group<(SessionId, DateTime<Utc>, String), Option<Session>>,
    /// Copies the write-ahead log into the database file; stopped with the
    /// store.
    checkpoints: tokio::task::JoinHandle<()>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpoints.abort();
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the file the `sqlite://` URL names and
    /// applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL is durable across a process crash; only a power
            // loss can drop the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // One writing connection: SQLite runs one writer at a time anyway,
        // and a second connection waiting for the write lock sleeps in
        // SQLite's busy handler (1 ms, then 2, 5, 10 …) instead of queueing
        // in order, which under a burst of connects turned sub-millisecond
        // writes into waits of hundreds of milliseconds. Reads go to their
        // own connections, so they neither wait behind writes nor hold them
        // up. Other processes on the same file wait through `busy_timeout`.
        //
        // SQLite's own checkpoints run in the connection whose commit filled
        // the log, which would make that writer copy pages and wait for two
        // or three fsyncs (5–10 ms here, about once a second under load)
        // while every write queued behind it waits too. The writer leaves
        // them to a connection of their own instead.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        // Databases from before the job queue had a file of its own also
        // hold the queue's migration history.
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        let reads = SqlitePoolOptions::new()
            .max_connections(READERS)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        // The checkpointer never waits for a lock: a checkpoint that would
        // wait gives up and the next one tries.
        let checkpointer =
            sqlx::SqliteConnection::connect_with(&options.clone().busy_timeout(Duration::ZERO))
                .await?;
        // The job queue writes on every connect (the expiry job) and every
        // tenth of a second (the worker's fetch, lock and acknowledgement).
        // In the same file those writes took turns with the session inserts
        // on the one writing connection, and were the inserts' longest
        // waits; in a file of their own each side has its own write lock.
        // Its one connection also checkpoints its own log: a pause there
        // holds up only the queue.
        let jobs = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(
                options
                    .clone()
                    .filename(beside(options.get_filename(), "-jobs")),
            )
            .await?;
        Ok(SqliteStore {
            checkpoints: tokio::spawn(checkpoints(
                checkpointer,
                beside(options.get_filename(), "-wal"),
            )),
            audits: audit_group!(sqlx::Sqlite, pool),
            pending_inserts: pending_group!(sqlx::Sqlite, pool),
            message_ids: message_id_group!(sqlx::Sqlite, pool),
            strikes: strike_group!(sqlx::Sqlite, pool),
            expiries: expiry_group!(sqlx::Sqlite, pool),
            pool,
            reads,
            jobs,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The file beside `database` whose name is the database's with `suffix`
/// appended: the write-ahead log (`-wal`) and the job queue (`-jobs`,
/// `tgate.db-jobs` beside `tgate.db`). An in-memory database's queue is
/// in memory too, under the same rule.
fn beside(database: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// The log's size past which a quiet moment cuts it back to nothing.
const WAL_KEPT: u64 = 64 * 1024 * 1024;

/// Checkpoints the write-ahead log every [`CHECKPOINT_EVERY`], without
/// waiting for readers or the writer (`PASSIVE`): what one checkpoint leaves
/// behind, the next takes.
///
/// Under steady writes the log only grows: the writer starts it over only
/// when a checkpoint has copied all of it between two commits. So once a
/// whole interval has passed without a write and the log is all copied, a
/// log file over [`WAL_KEPT`] is cut to nothing (`TRUNCATE`); smaller ones
/// are kept for the next burst to write over. The cut holds the log's locks
/// while the file's blocks are freed, so it waits for a quiet interval
/// rather than run inside the writer's commits (`journal_size_limit`); why,
/// with figures, is in docs/decisions.md (Storage). The checkpointer's
/// connection never waits for a lock, so a reader still busy only puts the
/// cut off to the next quiet interval.
async fn checkpoints(mut connection: sqlx::SqliteConnection, wal: std::path::PathBuf) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The log's length at the previous tick's checkpoint; `None` when that
    // one was held up or failed.
    let mut last = None;
    loop {
        every.tick().await;
        let frames = match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut connection)
            .await
        {
            Ok((0, log, copied)) => Some((log, copied)),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "SQLite checkpoint failed; the write-ahead log grows until one succeeds");
                None
            }
        };
        let quiet = frames.is_some_and(|(log, copied)| log == copied && last == Some(log));
        if quiet
            && std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_KEPT)
            && let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut connection)
                .await
        {
            tracing::warn!(error = %e, "SQLite's write-ahead log not cut back; the next quiet moment tries again");
        }
        last = frames.map(|(log, _)| log);
    }
}

impl super::sql::Backend for SqliteStore {
    type Db = sqlx::Sqlite;

    /// The writer, as every insert.
    fn plain_pending_pool(&self) -> &SqlitePool {
        &self.pool
    }
}

// apalis-sqlite's table; `run_at` is in Unix seconds.
impl_store!(
    SqliteStore,
    "sqlite",
    jobs_sql = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN run_at < $2 THEN 1 ELSE 0 END), 0) \
                FROM Jobs WHERE job_type = $1 AND status IN ('Pending', 'Queued', 'Running')",
    prune_jobs_sql = "DELETE FROM Jobs WHERE rowid IN (SELECT rowid FROM Jobs \
                      WHERE job_type = $1 AND done_at < $2 \
                      AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts)) \
                      LIMIT $3)"
);

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use sqlx::ConnectOptions;

    use super::*;
    use crate::storage::{BackendPool, Store};

    /// Counts the accounts in the database file alone, without its log: what
    /// has been checkpointed. `None` while a checkpoint is half-copied.
    async fn accounts_in_file(path: &std::path::Path) -> Option<i64> {
        let copy = path.with_extension("copy");
        std::fs::copy(path, &copy).ok()?;
        let mut conn = SqliteConnectOptions::new()
            .filename(&copy)
            .immutable(true)
            .connect()
            .await
            .ok()?;
        sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&mut conn)
            .await
            .ok()
    }

    /// A store on the database file at `path`.
    async fn open_file(path: &std::path::Path) -> SqliteStore {
        SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap()
    }

    /// The tables in a database file, read straight from the file.
    async fn tables_in(path: &std::path::Path) -> Vec<String> {
        let mut conn = SqliteConnectOptions::new()
            .filename(path)
            .connect()
            .await
            .unwrap();
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    }

    /// The job queue's tables go in `<database>-jobs`, and an earlier
    /// version's queue tables in the database itself are dropped.
    #[tokio::test]
    async fn the_job_queue_has_a_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tgate.db");
        let mut old = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE Jobs (id TEXT PRIMARY KEY)")
            .execute(&mut old)
            .await
            .unwrap();
        drop(old);

        let store = open_file(&path).await;
        let BackendPool::Sqlite(jobs) = store.jobs_pool() else {
            panic!("a SQLite store's queue is on SQLite");
        };
        sqlx::query("CREATE TABLE queue_probe (n INTEGER)")
            .execute(&jobs)
            .await
            .unwrap();

        assert_eq!(
            tables_in(&dir.path().join("tgate.db-jobs")).await,
            ["queue_probe"]
        );
        let tables = tables_in(&path).await;
        assert!(tables.contains(&"sessions".to_owned()), "{tables:?}");
        assert!(!tables.contains(&"queue_probe".to_owned()), "{tables:?}");
        assert!(!tables.contains(&"Jobs".to_owned()), "{tables:?}");
    }

    /// SQLite's plan for a read of a connect's facts or of a caller's bans
    /// (`EXPLAIN QUERY PLAN`), one line per step, with `leading` bound
    /// first, then a time, then the caller's candidate networks.
    async fn lookup_plan(
        store: &SqliteStore,
        sql: &str,
        leading: &[&str],
        caller: std::net::IpAddr,
    ) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(explain));
        for value in leading {
            query = query.bind(*value);
        }
        query = query.bind(0_i64);
        for network in crate::storage::sql::caller_networks(Some(caller)) {
            query = query.bind(network);
        }
        let steps = query.fetch_all(&store.reads).await.unwrap();
        steps.into_iter().map(|(.., step)| step).collect()
    }

    /// A connect's read, and a strike's read of its caller's strikes and
    /// bans, search the index on the bans' networks for either
    /// family instead of reading the bans one by one; so their cost does
    /// not grow with the bans in force.
    #[tokio::test]
    async fn bans_covering_a_caller_are_found_through_the_index() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        for text in ["198.51.100.7", "2001:db8::7"] {
            let caller: std::net::IpAddr = text.parse().unwrap();
            for (sql, leading) in [
                (
                    crate::storage::sql::connect_facts_sql(Some(caller)),
                    &["office", "10.64.0.2", "alice"][..],
                ),
                (
                    crate::storage::sql::strike_facts_sql(Some(caller)),
                    &[text, "0"][..],
                ),
            ] {
                let plan = lookup_plan(&store, sql, leading, caller).await;
                assert!(
                    plan.iter().any(|step| step.contains("INDEX bans_network")),
                    "{caller}: {plan:?}"
                );
                // "SCAN bans", or "SCAN TABLE bans" in older SQLite.
                let scans_bans = |step: &String| {
                    step.starts_with("SCAN") && step.split_whitespace().any(|w| w == "bans")
                };
                assert!(!plan.iter().any(scans_bans), "{caller}: {plan:?}");
            }
        }
    }

    /// A connect finds the open session at its tunnel address among the
    /// open sessions only, not among every session the address ever had (a
    /// PPP pool hands the same addresses out again and again).
    #[tokio::test]
    async fn a_connect_reads_the_open_sessions_at_its_address_only() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let caller: std::net::IpAddr = "198.51.100.7".parse().unwrap();
        let plan = lookup_plan(
            &store,
            crate::storage::sql::connect_facts_sql(Some(caller)),
            &["office", "10.64.0.2", "alice"],
            caller,
        )
        .await;
        let sessions: Vec<&String> = plan.iter().filter(|s| s.contains(" sessions ")).collect();
        assert_eq!(sessions.len(), 1, "{plan:?}");
        assert!(sessions[0].contains("INDEX sessions_open"), "{plan:?}");
    }

    /// An in-memory database works, and its queue is a second in-memory
    /// database, not a file.
    #[tokio::test]
    async fn an_in_memory_database_keeps_its_queue_apart_in_memory() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let router: RouterName = "office".parse().unwrap();
        store
            .sync_routers(std::slice::from_ref(&router))
            .await
            .unwrap();
        let account = store
            .ensure_account(&router, &"alice".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(
            store.account(&router, &account.name).await.unwrap(),
            Some(account),
            "the readers see the writer's database"
        );
        let BackendPool::Sqlite(jobs) = store.jobs_pool() else {
            panic!("a SQLite store's queue is on SQLite");
        };
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'table'")
                .fetch_all(&jobs)
                .await
                .unwrap();
        assert!(
            tables.is_empty(),
            "the queue's database is apart: {tables:?}"
        );
        let in_memory: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&jobs)
            .await
            .unwrap();
        assert_eq!(in_memory, "memory");
    }

    /// The SQLite built in keeps a statement's plan whatever is bound to it
    /// (.cargo/config.toml), so the job queue's fetch, with its bound LIMIT,
    /// is not planned again on every poll.
    #[tokio::test]
    async fn sqlite_is_built_with_stable_query_plans() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "{options:?}");
    }

    /// A log a burst grew past [`WAL_KEPT`] is cut to nothing once a
    /// checkpoint interval passes without writes; a smaller one is kept.
    #[tokio::test]
    async fn a_quiet_moment_cuts_the_write_ahead_log_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tgate.db");
        let store = open_file(&path).await;
        let wal = dir.path().join("tgate.db-wal");
        let wal_size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        sqlx::query("CREATE TABLE burst (b TEXT)")
            .execute(store.pool())
            .await
            .unwrap();
        // A log under the limit is kept for the next writes to reuse.
        sqlx::query("INSERT INTO burst VALUES (hex(randomblob(500000)))")
            .execute(store.pool())
            .await
            .unwrap();
        tokio::time::sleep(CHECKPOINT_EVERY * 3).await;
        assert!(
            wal_size() > 1_000_000,
            "a small log was cut: {} bytes",
            wal_size()
        );

        // 80 MB in one commit.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO burst SELECT hex(randomblob(20000)) FROM n",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let grown = wal_size();
        assert!(grown > WAL_KEPT, "the burst's log: {grown} bytes");

        let deadline = Instant::now() + CHECKPOINT_EVERY * 10;
        while wal_size() > 0 {
            assert!(
                Instant::now() < deadline,
                "the log is still {} bytes after the writes stopped",
                wal_size()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM burst")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 2001, "the rows are in the database file");
    }

    /// The writer never checkpoints, yet a write reaches the database file
    /// within a checkpoint or two, though one account is far from filling
    /// the log.
    #[tokio::test]
    async fn writes_reach_the_database_file_by_the_next_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tgate.db");
        let store = open_file(&path).await;
        let router: RouterName = "office".parse().unwrap();
        store
            .sync_routers(std::slice::from_ref(&router))
            .await
            .unwrap();
        store
            .ensure_account(&router, &"alice".parse().unwrap())
            .await
            .unwrap();
        let writer: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(writer, 0, "the writer checkpoints in its own commits");
        let deadline = Instant::now() + CHECKPOINT_EVERY * 10;
        while accounts_in_file(&path).await != Some(1) {
            assert!(
                Instant::now() < deadline,
                "the account is still only in the write-ahead log"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
