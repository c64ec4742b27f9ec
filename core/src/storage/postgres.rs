//! The PostgreSQL backend, for production: several API and worker replicas
//! share one database and agree through its row-level atomicity.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};

use super::group::Group;
use super::sql::{
    AccountRow, AuditRow, BanRow, ConnectAsk, InviteRow, SessionRow, audit_group, connect_facts,
    connect_facts_many_sql, connect_facts_query, expiry_group, impl_store, message_id_group, ms,
    networks_text, parsed, pending_group, session_columns, session_filter, strike_group,
};
use super::{
    Account, AuditEntry, AuditFilter, AuditRecord, Ban, BanFilter, ConnectFacts, Inserted, Invite,
    InviteUse, NewBan, NewSession, NewStrike, Session, SessionFilter, StoreError,
};
use crate::domain::{AccountName, RouterName, SessionId, SessionState, Transition};

/// Connections to the server, opened at start.
const POOL: u32 = 8;

/// The pending inserts' own connection (see [`PgStore::open_with`]).
const UNFLUSHED: u32 = 1;

/// The connects' reads' own connection (see [`connect_reads`]).
const CONNECT_READS: u32 = 1;

/// A connection idle this long is checked with a round trip before it is
/// used again: the server may have closed it meanwhile (a restart, an idle
/// timeout on the way).
const RECHECK_IDLE: Duration = Duration::from_secs(1);

pub struct PgStore {
    pool: PgPool,
    /// The same pool: PostgreSQL serves reads beside writes itself.
    reads: PgPool,
    /// The same pool again: the job queue's tables are in the same
    /// database, in apalis's schema.
    jobs: PgPool,
    /// The pending inserts' connection, which does not wait for the log's
    /// flush (see [`PgStore::open_with`]).
    unflushed: PgPool,
    /// Connects' reads, asked together ([`connect_reads`]).
    connects: Group<ConnectAsk, ConnectFacts>,
    audits: Group<AuditEntry>,
    /// New pending sessions, inserted together on a connection of their
    /// own that does not wait for the log's flush (see
    /// [`PgStore::open_with`]).
    pub(super) pending_inserts: Group<NewSession, Option<Session>>,
    /// Prompts' message ids, recorded together.
    pub(super) message_ids: Group<(SessionId, i64), Option<SessionState>>,
    /// Strikes, stored together.
    pub(super) strikes: Group<NewStrike>,
    /// Sessions expired at their deadline, together.
    pub(super) expiries: Group<(SessionId, DateTime<Utc>, String), Option<Session>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the `postgres://` URL and applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(PgConnectOptions::from_str(url)?).await
    }

    pub async fn open_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        // Connections are kept open from the start: opening one costs a
        // server process and a handshake, which a burst of connects right
        // after start would otherwise wait for. Eight, not more: statements
        // are short and the grouped writes carry many rows each, while every
        // connection is a server process competing for the same cores and
        // WAL lock. On the two-core bench machine 16 connections gave a
        // connect → prompt p99 of 105–336 ms at 200/s, 32 gave 0.5–1.1 s,
        // and 8 gave 5 ms.
        //
        // sqlx checks a connection with a round trip each time it goes back
        // to the pool and, by default, again each time it is taken out: two
        // round trips on top of every statement, one of them in the
        // statement's own wait. The check on the way out is kept only for a
        // connection that sat idle long enough to have been closed by the
        // server meanwhile; under load connections come back within
        // milliseconds, checked on their way in.
        let pool = pool_of(POOL).connect_with(options.clone()).await?;
        // A new pending session is what the owner's prompt waits for. Its
        // insert commits on a connection of its own without waiting for
        // the server to flush its log (`synchronous_commit = off`): the row
        // is visible to every other connection at once, so a press finds
        // it, and it becomes durable with the next commit that does wait,
        // because the server flushes its log in order. The connect's audit
        // row is that commit, and the router hears 202 only after it
        // (`Gate::connect`). Only a crash of the database server in between
        // loses the row (its log writer flushes it within a fraction of a
        // second anyway): a session the router was never told of, whose
        // prompt's buttons then answer "Unknown session". One connection:
        // the group writes one batch at a time.
        // A connect's plain pending session is inserted there too, by a
        // statement with a plan of its own, made once
        // ([`Store::insert_plain_pending`](super::Store::insert_plain_pending)).
        let unflushed = pool_of(UNFLUSHED)
            .connect_with(options.clone().options([
                ("synchronous_commit", "off"),
                ("plan_cache_mode", "force_generic_plan"),
            ]))
            .await?;
        // Connects' reads, asked together, on a connection of their own
        // that plans their statement once ([`connect_reads`]). One
        // connection: the group asks one batch at a time.
        let connect_reads_pool = pool_of(CONNECT_READS)
            .connect_with(options.options([("plan_cache_mode", "force_generic_plan")]))
            .await?;
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        // The job queue keeps its own migrations in the same database.
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        Ok(PgStore {
            reads: pool.clone(),
            jobs: pool.clone(),
            connects: connect_reads(connect_reads_pool),
            audits: audit_group!(sqlx::Postgres, pool),
            pending_inserts: pending_group!(sqlx::Postgres, unflushed),
            unflushed,
            message_ids: message_id_group!(sqlx::Postgres, pool),
            strikes: strike_group!(sqlx::Postgres, pool),
            expiries: expiry_group!(sqlx::Postgres, pool),
            pool,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A [`Group`] that answers [`Store::connect_facts`](super::Store::connect_facts)
/// for the connects that arrive together, in one statement
/// ([`connect_facts_many_sql`]) on `pool`, whose connection must plan it
/// once for all (`plan_cache_mode = force_generic_plan`). Left to choose,
/// the server plans it afresh on every run: a plan for arrays of unknown
/// length looks dearer than one made for the arrays at hand, though both
/// look each connect up by the same indexes. A connect that asks alone
/// runs [`connect_facts_sql`](super::sql::connect_facts_sql), whose plan
/// is simpler to run.
fn connect_reads(pool: PgPool) -> Group<ConnectAsk, ConnectFacts> {
    Group::start(move |asks: Arc<Vec<ConnectAsk>>| {
        let pool = pool.clone();
        async move {
            if let [ask] = asks.as_slice() {
                let rows = connect_facts_query(ask).fetch_all(&pool).await?;
                return Ok(vec![connect_facts(rows)?]);
            }
            let column =
                |value: fn(&ConnectAsk) -> String| asks.iter().map(value).collect::<Vec<_>>();
            let rows = sqlx::query(connect_facts_many_sql())
                .bind(column(|a| a.router.to_string()))
                .bind(column(|a| a.remote_address.to_string()))
                .bind(column(|a| a.account.to_string()))
                .bind(asks.iter().map(|a| ms(a.at)).collect::<Vec<_>>())
                .bind(column(|a| networks_text(a.caller)))
                .fetch_all(&pool)
                .await?;
            // Each connect's rows, by the position each row ends with.
            let mut answers: Vec<Vec<PgRow>> = asks.iter().map(|_| Vec::new()).collect();
            for row in rows {
                let position: i64 = row.try_get(row.len() - 1)?;
                let slot = usize::try_from(position - 1)
                    .ok()
                    .and_then(|i| answers.get_mut(i))
                    .ok_or_else(|| {
                        StoreError::Corrupt("connect facts".into(), format!("position {position}"))
                    })?;
                slot.push(row);
            }
            answers.into_iter().map(connect_facts).collect()
        }
    })
}

/// `size` connections opened at start, each checked before use only when
/// it sat idle (see [`PgStore::open_with`]).
fn pool_of(size: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .min_connections(size)
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= RECHECK_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

impl super::sql::Backend for PgStore {
    type Db = sqlx::Postgres;

    /// Connects' reads go to the server together: a statement costs the
    /// server far more than one more row of answer.
    fn connect_reads(&self) -> Option<&Group<ConnectAsk, ConnectFacts>> {
        Some(&self.connects)
    }

    /// The pending inserts' own connection: it does not wait for the log's
    /// flush either.
    fn plain_pending_pool(&self) -> &PgPool {
        &self.unflushed
    }
}

// apalis-postgres's table, in its own schema; `run_at` is a timestamptz.
impl_store!(
    PgStore,
    "postgres",
    jobs_sql = "SELECT COUNT(*), COUNT(*) FILTER (WHERE run_at < to_timestamp($2::bigint)) \
                FROM apalis.jobs WHERE job_type = $1 AND status IN ('Pending', 'Queued', 'Running')",
    prune_jobs_sql = "DELETE FROM apalis.jobs WHERE id IN (SELECT id FROM apalis.jobs \
                      WHERE job_type = $1 AND done_at < to_timestamp($2::bigint) \
                      AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts)) \
                      LIMIT $3)"
);

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;
    use crate::storage::Store;
    use crate::storage::testing::{TestDb, new_session};

    /// The server closes every connection of the pools while they sit idle
    /// (as a restart would): once they have been idle past
    /// [`RECHECK_IDLE`], each is found closed before use and replaced, so
    /// no caller sees the closed ones, the own connections of the pending
    /// inserts and of the connects' reads included. Runs where the suite
    /// runs on PostgreSQL (`TGATE_TEST_DATABASE_URL`).
    #[tokio::test]
    async fn connections_the_server_closed_while_idle_are_replaced_before_use() {
        let db = TestDb::new().await;
        if db.store.backend() != "postgres" {
            return; // the suite runs on SQLite
        }
        let store = db.store.clone();
        let router: RouterName = "office".parse().unwrap();
        store
            .sync_routers(std::slice::from_ref(&router))
            .await
            .unwrap();
        let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
        // The pool opens its connections in the background after the first.
        for _ in 0..100 {
            let open: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .fetch_one(&mut admin)
            .await
            .unwrap();
            if open >= i64::from(POOL + UNFLUSHED + CONNECT_READS) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let closed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert_eq!(
            closed.len(),
            (POOL + UNFLUSHED + CONNECT_READS) as usize,
            "every pooled connection was open"
        );
        tokio::time::sleep(RECHECK_IDLE + Duration::from_millis(200)).await;

        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..2 * POOL {
            let store = store.clone();
            calls.spawn(async move { store.audit_log(&AuditFilter::default()).await });
        }
        for result in calls.join_all().await {
            assert!(result.is_ok(), "{result:?}");
        }
        let new = new_session(router, "alice", "10.10.0.5", chrono::Duration::seconds(60));
        let inserted = store.insert_pending(&new).await.unwrap();
        assert!(matches!(inserted, Inserted::Created(_)), "{inserted:?}");
        let facts = store
            .connect_facts(
                &new.router,
                &new.account,
                new.remote_address,
                new.caller_id.ip(),
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(facts.open_session.map(|s| s.id), Some(new.id));
    }

    /// Connects that ask at once share a statement, and each hears its own
    /// account. Runs where the suite runs on PostgreSQL.
    #[tokio::test]
    async fn connects_asking_at_once_are_read_together() {
        let db = TestDb::new().await;
        if db.store.backend() != "postgres" {
            return; // the suite runs on SQLite
        }
        let store = PgStore::open(&db.url).await.unwrap();
        let router: RouterName = "office".parse().unwrap();
        store
            .sync_routers(std::slice::from_ref(&router))
            .await
            .unwrap();
        let accounts: Vec<AccountName> = (0..10)
            .map(|i| format!("user{i}").parse().unwrap())
            .collect();
        for (owner, account) in (100..).zip(&accounts) {
            store.ensure_account(&router, account).await.unwrap();
            store
                .set_account_owner(&router, account, Some(owner))
                .await
                .unwrap();
        }
        let now = Utc::now();
        let caller = Some("203.0.113.7".parse().unwrap());
        let asked = accounts.iter().zip(1..).map(|(account, host)| {
            let tunnel = std::net::IpAddr::from([10, 10, 0, host]);
            store.connect_facts(&router, account, tunnel, caller, now)
        });
        let answers = futures::future::join_all(asked).await;
        for ((answer, account), owner) in answers.into_iter().zip(&accounts).zip(100..) {
            let account_row = answer.unwrap().account.expect("the account's row");
            assert_eq!(
                (&account_row.name, account_row.owner_tg_id),
                (account, Some(owner))
            );
        }
        let together = store
            .connects
            .tally()
            .together
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(together > 0, "every connect was read alone");
    }
}
