//! The expiry job queue: apalis storage beside tgate's own (apalis-sqlite in
//! a file next to the SQLite database, apalis-postgres in the PostgreSQL
//! database), so a job is as durable as the session it expires and any
//! worker replica can run it.
//!
//! apalis keeps a job's due time in whole seconds, which alone would make
//! expiry up to a second late or early. So a job is made due a little
//! before the deadline ([`LEAD`]), fetched by the worker's frequent poll, and
//! then timed in process to the deadline's millisecond.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use anyhow::Context;
use apalis::prelude::{PollSnapshot, PollStrategy};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tgate_core::domain::SessionId;
use tgate_core::gate::ExpiryScheduler;
use tgate_core::storage::group::{self, Group};
use tgate_core::storage::{BackendPool, Store};

/// Expire this session at this deadline (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryJob {
    pub session: SessionId,
    pub deadline_ms: i64,
}

pub(crate) use tgate_core::gate::{EXPIRY_LEAD as LEAD, EXPIRY_QUEUE as QUEUE};
/// How often a worker asks for due jobs. Anything under [`LEAD`] keeps
/// expiry on time; shorter only costs queries.
pub(crate) const POLL: Duration = Duration::from_millis(100);
/// Jobs one poll takes: one poll must keep up with a burst of connects
/// (a thousand a second needs a hundred per poll).
const BATCH: usize = 512;
/// A job whose worker stopped sending heartbeats for twice this long is
/// handed to another worker.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a finished job stays in the queue's table before the worker
/// deletes it. apalis never deletes jobs, so without this the table grows by
/// a row per connect for as long as tgate runs; the audit log, not the queue,
/// is the record of what happened.
pub(crate) const KEEP_FINISHED: Duration = Duration::from_secs(60);
/// Tries of a job whose hand-over failed (its worker was stopping); a
/// session's expiry is decided by its transition, so a repeat is harmless.
const MAX_ATTEMPTS: usize = 5;

/// Asks for due jobs every [`POLL`]. apalis's own interval strategy replaces
/// its timer when it fires without arming the new one, so a worker with no
/// job in flight (nothing else to wake it) could miss its polls until the
/// next heartbeat, seconds later; this one keeps its timer armed.
pub(crate) struct EveryPoll(tokio::time::Interval);

impl EveryPoll {
    pub(crate) fn new() -> Self {
        let mut ticks = tokio::time::interval(POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self(ticks)
    }
}

impl PollStrategy for EveryPoll {
    fn poll_drive(
        &mut self,
        cx: &mut std::task::Context<'_>,
        _: &PollSnapshot,
    ) -> Poll<Option<()>> {
        // Ticks until one is pending, which arms the timer for `cx`.
        let mut ticked = false;
        while self.0.poll_tick(cx).is_ready() {
            ticked = true;
        }
        if ticked {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

/// The job queue over the database a store uses.
#[derive(Clone)]
pub enum JobQueue {
    Sqlite(SqliteStorage<ExpiryJob>),
    Postgres(PostgresStorage<ExpiryJob>),
}

impl JobQueue {
    /// The queue in the store's job database, its tables created or migrated.
    pub async fn open(store: &Arc<dyn Store>) -> anyhow::Result<JobQueue> {
        match store.jobs_pool() {
            BackendPool::Sqlite(pool) => {
                // apalis's setup() would also turn off fsync for the
                // pool; only its migrations are wanted.
                SqliteStorage::migrations()
                    .run(&pool)
                    .await
                    .context("job queue migrations (SQLite)")?;
                describe_sqlite_jobs(&pool)
                    .await
                    .context("job queue statistics (SQLite)")?;
                let config = apalis_sqlite::Config::default()
                    .queue(QUEUE)
                    .batch_size(BATCH)
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(2);
                Ok(JobQueue::Sqlite(
                    SqliteStorage::new(&pool).with_config(config),
                ))
            }
            BackendPool::Postgres(pool) => {
                // apalis keeps its tables and migration history in its own
                // `apalis` schema.
                PostgresStorage::setup(&pool)
                    .await
                    .context("job queue migrations (PostgreSQL)")?;
                let config = apalis_postgres::Config::default()
                    .queue(QUEUE)
                    .batch_size(BATCH)
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(2);
                Ok(JobQueue::Postgres(
                    PostgresStorage::new(&pool).with_config(config),
                ))
            }
        }
    }

    /// Queues the expiry of each session at its deadline: on SQLite one
    /// statement per thousand jobs, on PostgreSQL one statement. Pushing
    /// the same session twice queues one job.
    pub async fn push_many(&self, expiries: &[(SessionId, DateTime<Utc>)]) -> anyhow::Result<()> {
        match self {
            // Through the job file's one writing connection.
            JobQueue::Sqlite(s) => push_sqlite(s.pool(), expiries).await,
            JobQueue::Postgres(s) => push_postgres(s.pool(), expiries).await,
        }
        .context("queue expiry")
    }

    /// Deletes the jobs of these sessions that no worker has taken yet
    /// (still `Pending`), in one statement. A job a
    /// worker is fetching at the same moment is either deleted first or
    /// taken first, never both: the fetch moves it out of `Pending` under
    /// the row's lock (PostgreSQL) or the database's (SQLite).
    pub async fn drop_waiting(&self, sessions: &[SessionId]) -> anyhow::Result<()> {
        let keys: Vec<String> = sessions.iter().map(ToString::to_string).collect();
        match self {
            // `+status`: the look-up goes by the unique (job type, session)
            // index, even where the planner has no statistics and would
            // otherwise walk every waiting job by status.
            JobQueue::Sqlite(s) => {
                sqlx::query(
                    "DELETE FROM Jobs WHERE job_type = ?1 AND +status = 'Pending' \
                     AND idempotency_key IN (SELECT value FROM json_each(?2))",
                )
                .bind(QUEUE)
                .bind(serde_json::to_string(&keys)?)
                .execute(s.pool())
                .await?;
            }
            JobQueue::Postgres(s) => {
                sqlx::query(
                    "DELETE FROM apalis.jobs WHERE job_type = $1 AND status = 'Pending' \
                     AND idempotency_key = ANY($2::text[])",
                )
                .bind(QUEUE)
                .bind(keys)
                .execute(s.pool())
                .await?;
            }
        }
        Ok(())
    }
}

/// When the job for `deadline` is due, in the queue's whole seconds.
fn due(deadline: DateTime<Utc>) -> i64 {
    (deadline - chrono::Duration::from_std(LEAD).unwrap_or_default()).timestamp()
}

/// The most jobs one statement carries: ten values each, well within
/// SQLite's limit on bound values.
const JOBS_PER_STATEMENT: usize = 1000;

/// Writes expiry jobs to apalis's SQLite table as one statement. apalis's
/// own sink writes a statement per job inside a transaction, so a handful
/// of jobs held the queue's one connection for several round trips to its
/// thread, with the next connects' jobs and the worker's fetch waiting
/// behind them.
/// The rows are the ones that sink writes (apalis-sqlite 1.0's
/// `queries/task/sink.sql`), which
/// `sqlite_jobs_are_the_rows_apalis_writes` checks against apalis itself.
async fn push_sqlite(
    pool: &sqlx::SqlitePool,
    expiries: &[(SessionId, DateTime<Utc>)],
) -> anyhow::Result<()> {
    for chunk in expiries.chunks(JOBS_PER_STATEMENT) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, \
             priority, metadata, idempotency_key) ",
        );
        let mut rows = Vec::with_capacity(chunk.len());
        for &(session, deadline) in chunk {
            let job = serde_json::to_vec(&ExpiryJob {
                session,
                deadline_ms: deadline.timestamp_millis(),
            })?;
            rows.push((job, session, due(deadline)));
        }
        insert.push_values(rows, |mut row, (job, session, due)| {
            row.push_bind(job)
                .push_bind(ulid::Ulid::generate().to_string())
                .push_bind(QUEUE)
                .push_bind("Pending")
                .push_bind(0_i64)
                .push_bind(MAX_ATTEMPTS as i64)
                .push_bind(due)
                .push_bind(0_i64)
                .push_bind("{}")
                .push_bind(session.to_string());
        });
        insert.push(" ON CONFLICT (job_type, idempotency_key) DO NOTHING");
        insert
            .build()
            .persistent(group::keep_prepared(chunk.len()))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Writes expiry jobs to apalis's PostgreSQL table as one statement,
/// committed on its own. apalis's own sink runs the same insert inside a
/// transaction (BEGIN, INSERT, COMMIT): three round trips to the server
/// for every connect where one does. The rows are the ones that sink
/// writes (apalis-postgres 1.0's `queries/task/sink.sql`), which
/// `postgres_jobs_are_the_rows_apalis_writes` checks against apalis itself.
async fn push_postgres(
    pool: &sqlx::PgPool,
    expiries: &[(SessionId, DateTime<Utc>)],
) -> anyhow::Result<()> {
    let mut ids = Vec::with_capacity(expiries.len());
    let mut jobs = Vec::with_capacity(expiries.len());
    let mut run_at = Vec::with_capacity(expiries.len());
    let mut keys = Vec::with_capacity(expiries.len());
    for &(session, deadline) in expiries {
        ids.push(ulid::Ulid::generate().to_string());
        jobs.push(serde_json::to_vec(&ExpiryJob {
            session,
            deadline_ms: deadline.timestamp_millis(),
        })?);
        run_at.push(due(deadline));
        keys.push(session.to_string());
    }
    sqlx::query(
        "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, \
         run_at, priority, metadata, idempotency_key) \
         SELECT unnest($1::text[]), $2, unnest($3::bytea[]), 'Pending', 0, $4, \
         to_timestamp(unnest($5::bigint[])), 0, ''::hstore, unnest($6::text[]) \
         ON CONFLICT (job_type, idempotency_key) DO NOTHING",
    )
    .bind(ids)
    .bind(QUEUE)
    .bind(jobs)
    .bind(MAX_ATTEMPTS as i32)
    .bind(run_at)
    .bind(keys)
    .persistent(true)
    .execute(pool)
    .await?;
    Ok(())
}

/// What `ANALYZE` finds in a busy queue (20,000 jobs, a fifth of them
/// waiting, the rest run by one worker), for SQLite's query planner.
///
/// Without statistics SQLite guesses that `lock_by = ?` matches a handful of
/// rows, and so runs apalis's acknowledgement (`UPDATE Jobs … FROM
/// json_each(?)` over the worker's finished tasks, `WHERE lock_by = ?`) as a
/// walk over every job the worker ever ran, parsing the whole JSON batch
/// again for each one: a 200-task acknowledgement over 16,000 run jobs took
/// 2 s instead of 3 ms, and the cost grew with every expiry. With these
/// figures it looks each task up by id instead. They describe the table's
/// shape, not its size, so they stay true as it grows; a real `ANALYZE`
/// an operator runs replaces them.
const SQLITE_JOBS_STATS: &[(&str, &str)] = &[
    ("sqlite_autoindex_Jobs_1", "20000 1"),
    ("LIdx", "20000 10000"),
    ("idx_jobs_status_run_at", "20000 10000 1"),
    ("idx_jobs_job_type_status_run_at", "20000 20000 10000 1"),
    ("idx_jobs_idempotency_key", "20000 20000 1"),
    ("idx_jobs_pending", "4000 4000 4000 1 1"),
    ("idx_jobs_claimable", "4000 4000 4000"),
];

/// Records [`SQLITE_JOBS_STATS`] unless the database already has statistics
/// for the job table, and has this connection (the queue's one connection,
/// which runs every queue statement) load them.
async fn describe_sqlite_jobs(pool: &sqlx::SqlitePool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    // Creates sqlite_stat1 if this database has never been analysed; the
    // worker table holds a row per worker, so this costs nothing.
    sqlx::query("ANALYZE Workers").execute(&mut *conn).await?;
    let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'Jobs'")
        .fetch_one(&mut *conn)
        .await?;
    if known == 0 {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for (index, stat) in SQLITE_JOBS_STATS {
            sqlx::query("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('Jobs', ?, ?)")
                .bind(index)
                .bind(stat)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    sqlx::query("ANALYZE sqlite_schema")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Finished jobs one statement deletes: a backlog (a database from before
/// tgate pruned, or a worker that was down) goes in statements short enough
/// that connects' writes interleave with them.
const PRUNE_CHUNK: i64 = 2_000;

/// Deletes the jobs that finished more than `KEEP_FINISHED` (a minute) ago,
/// a chunk at a time; returns how many.
pub async fn prune(store: &Arc<dyn Store>) -> anyhow::Result<u64> {
    let before = Utc::now() - chrono::Duration::from_std(KEEP_FINISHED).unwrap_or_default();
    let mut deleted = 0;
    loop {
        let n = store
            .prune_finished_jobs(QUEUE, before, PRUNE_CHUNK)
            .await?;
        deleted += n;
        if n < PRUNE_CHUNK as u64 {
            return Ok(deleted);
        }
        tokio::task::yield_now().await;
    }
}

/// The gate's [`ExpiryScheduler`]: every pending session gets a job, and
/// loses it again when it is decided first. The jobs of connects that
/// arrive together are pushed in one statement (each connect still waits
/// until its own job is stored), and the jobs of sessions decided together
/// are dropped in one.
pub struct QueueScheduler {
    jobs: Group<(SessionId, DateTime<Utc>), (), anyhow::Error>,
    drops: Group<SessionId, (), anyhow::Error>,
}

impl QueueScheduler {
    /// Must be called within the runtime that will run the pushes.
    pub fn new(queue: JobQueue) -> Self {
        let pushes = queue.clone();
        QueueScheduler {
            jobs: Group::start(move |expiries: Arc<Vec<(SessionId, DateTime<Utc>)>>| {
                let queue = pushes.clone();
                async move {
                    queue.push_many(&expiries).await?;
                    Ok(vec![(); expiries.len()])
                }
            }),
            drops: Group::start(move |sessions: Arc<Vec<SessionId>>| {
                let queue = queue.clone();
                async move {
                    queue.drop_waiting(&sessions).await?;
                    Ok(vec![(); sessions.len()])
                }
            }),
        }
    }
}

#[async_trait::async_trait]
impl ExpiryScheduler for QueueScheduler {
    async fn schedule(&self, id: SessionId, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.jobs.append((id, at)).await
    }

    async fn cancel(&self, id: SessionId) -> anyhow::Result<()> {
        self.drops.append(id).await
    }
}

/// The scheduler a process that creates sessions (the API) hands to
/// `Gate::with_scheduler`; the jobs land in the store's database.
pub async fn scheduler(store: &Arc<dyn Store>) -> anyhow::Result<Arc<dyn ExpiryScheduler>> {
    Ok(Arc::new(QueueScheduler::new(JobQueue::open(store).await?)))
}

#[cfg(test)]
mod tests {
    use apalis::prelude::{TaskBuilder, TaskSink};

    use super::*;

    /// The deadline of the jobs the row tests push.
    const DEADLINE_MS: i64 = 1_900_000_000_123;

    /// The expiry jobs as apalis's own sink takes them (what tgate's inserts
    /// are checked against): due `LEAD` before the deadline, one per session.
    fn tasks(
        expiries: &[(SessionId, DateTime<Utc>)],
    ) -> futures::stream::Iter<std::vec::IntoIter<apalis::prelude::Task<ExpiryJob>>> {
        let tasks: Vec<_> = expiries
            .iter()
            .map(|&(session, deadline)| {
                let job = ExpiryJob {
                    session,
                    deadline_ms: deadline.timestamp_millis(),
                };
                TaskBuilder::new(job)
                    .run_at_timestamp(u64::try_from(due(deadline)).unwrap_or_default())
                    .idempotency_key(session.to_string())
                    .max_attempts(MAX_ATTEMPTS)
                    .build()
            })
            .collect();
        futures::stream::iter(tasks)
    }

    /// A worker with no job in flight is polled again only when something
    /// wakes it; its poll timer must, on every tick.
    #[tokio::test(start_paused = true)]
    async fn the_poll_timer_wakes_an_idle_worker_on_every_tick() {
        let mut strategy = EveryPoll::new();
        let mut ticks = 0;
        let idle_worker = std::future::poll_fn(|cx| {
            if strategy.poll_drive(cx, &PollSnapshot::default()).is_ready() {
                ticks += 1;
            }
            Poll::<()>::Pending
        });
        let _ = tokio::time::timeout(POLL * 10 + POLL / 2, idle_worker).await;
        assert!(ticks >= 10, "{ticks} polls in ten intervals");
    }

    /// The jobs [`push_sqlite`] writes are, column for column, the ones
    /// apalis's own sink writes for the same expiry (ids apart), so
    /// apalis's worker takes them as its own.
    #[tokio::test]
    async fn sqlite_jobs_are_the_rows_apalis_writes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        let store = tgate_core::storage::open(&url).await.unwrap();
        let queue = JobQueue::open(&store).await.unwrap();
        let JobQueue::Sqlite(storage) = &queue else {
            panic!("a SQLite queue");
        };
        let pool = storage.pool();
        let (ours, theirs) = push_ours_and_theirs(&queue, storage.clone()).await;

        type Row = (
            Vec<u8>,
            String,
            String,
            i64,
            i64,
            i64,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            i64,
            Option<String>,
        );
        let row = |session: SessionId| {
            sqlx::query_as::<_, Row>(
                "SELECT job, job_type, status, attempts, max_attempts, run_at, last_result, \
                 lock_at, lock_by, done_at, priority, metadata FROM Jobs \
                 WHERE idempotency_key = ?",
            )
            .bind(session.to_string())
            .fetch_all(pool)
        };
        let ids = sqlx::query_scalar("SELECT id FROM Jobs").fetch_all(pool);
        assert_rows_alike(
            (ours, row(ours).await.unwrap()),
            (theirs, row(theirs).await.unwrap()),
            |row| &mut row.0,
            ids.await.unwrap(),
        );
    }

    /// As [`sqlite_jobs_are_the_rows_apalis_writes`], for [`push_postgres`].
    /// Runs where the suite runs on PostgreSQL (`TGATE_TEST_DATABASE_URL`).
    #[tokio::test]
    async fn postgres_jobs_are_the_rows_apalis_writes() {
        let db = tgate_core::storage::testing::TestDb::new().await;
        let queue = JobQueue::open(&db.store).await.unwrap();
        let JobQueue::Postgres(storage) = &queue else {
            return; // the suite runs on SQLite
        };
        let pool = storage.pool();
        let (ours, theirs) = push_ours_and_theirs(&queue, storage.clone()).await;

        type Row = (
            Vec<u8>,
            String,
            String,
            i32,
            i32,
            i64,
            Option<serde_json::Value>,
            bool,
            Option<String>,
            bool,
            Option<i32>,
            String,
        );
        let row = |session: SessionId| {
            sqlx::query_as::<_, Row>(
                "SELECT job, job_type, status, attempts, max_attempts, \
                 EXTRACT(EPOCH FROM run_at)::bigint, last_result, lock_at IS NULL, lock_by, \
                 done_at IS NULL, priority, metadata::text FROM apalis.jobs \
                 WHERE idempotency_key = $1",
            )
            .bind(session.to_string())
            .fetch_all(pool)
        };
        let ids = sqlx::query_scalar("SELECT id FROM apalis.jobs").fetch_all(pool);
        assert_rows_alike(
            (ours, row(ours).await.unwrap()),
            (theirs, row(theirs).await.unwrap()),
            |row| &mut row.0,
            ids.await.unwrap(),
        );
    }

    /// Queues an expiry due at [`DEADLINE_MS`] for a session of ours
    /// through `queue` (twice: the second push must add nothing) and for
    /// another session through apalis's own `sink`; returns the two.
    async fn push_ours_and_theirs<S, Kind>(queue: &JobQueue, mut sink: S) -> (SessionId, SessionId)
    where
        S: TaskSink<ExpiryJob, Kind>,
    {
        let deadline = DateTime::from_timestamp_millis(DEADLINE_MS).unwrap();
        let (ours, theirs) = (SessionId::new(), SessionId::new());
        queue.push_many(&[(ours, deadline)]).await.unwrap();
        sink.push_all(tasks(&[(theirs, deadline)])).await.unwrap();
        queue.push_many(&[(ours, deadline)]).await.unwrap();
        (ours, theirs)
    }

    /// The job rows tgate wrote for `ours` and apalis's sink for `theirs`,
    /// one each: alike but for the session in the payload (`payload` finds
    /// it in a row), which is `ours` due at [`DEADLINE_MS`]. And every job
    /// id in the queue (`ids`) is a ULID, as apalis's are.
    fn assert_rows_alike<R: PartialEq + std::fmt::Debug>(
        (ours, mut ours_rows): (SessionId, Vec<R>),
        (theirs, theirs_rows): (SessionId, Vec<R>),
        payload: impl Fn(&mut R) -> &mut Vec<u8>,
        ids: Vec<String>,
    ) {
        assert_eq!((ours_rows.len(), theirs_rows.len()), (1, 1));
        let ours_payload = payload(&mut ours_rows[0]);
        let job: ExpiryJob = serde_json::from_slice(ours_payload).unwrap();
        assert_eq!(
            job,
            ExpiryJob {
                session: ours,
                deadline_ms: DEADLINE_MS
            }
        );
        *ours_payload = serde_json::to_vec(&ExpiryJob {
            session: theirs,
            ..job
        })
        .unwrap();
        assert_eq!(ours_rows, theirs_rows);
        for id in ids {
            id.parse::<ulid::Ulid>()
                .expect("a ULID, as apalis's ids are");
        }
    }
}
