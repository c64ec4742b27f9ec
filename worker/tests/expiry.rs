//! Expiry at the deadline: a session nobody answers expires with nothing
//! but waiting, and an answer racing the deadline has exactly one outcome.

mod common;

use common::{Harness, OWNER, eventually};
use tgate_core::domain::SessionState;
use tgate_core::gate::{Disconnect, EXPIRY_QUEUE, PressOutcome};
use tgate_core::storage::{BackendPool, Session};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_nobody_confirms_expires_at_its_deadline() {
    let mut h = Harness::new(r#"confirm_timeout = "1s""#, "").await;
    h.start_worker();
    h.enroll("alice").await;
    let s = h.pending("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(
        h.listed("tgate-sandbox", "10.10.0.5").map(|e| e.address),
        Some("10.10.0.5".into())
    );
    assert!(h.connected("alice"));

    expires_at_its_deadline(&h, &s).await;
    h.stop_worker().await;
}

/// A job hands its session's deadline to the worker and is finished: while
/// the session waits, the queue holds no running job for it (and the worker
/// none of apalis's tasks), and the session still expires at its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_session_leaves_no_job_running() {
    let mut h = Harness::new(r#"confirm_timeout = "3s""#, "").await;
    h.start_worker();
    h.enroll("alice").await;
    let s = h.pending("alice", "203.0.113.7", "10.10.0.5").await;

    // Due two or three seconds early, the job is taken and finished at once.
    every_job_finished(&h).await;
    assert_eq!(job_rows(&h).await, 1, "the session's job, finished");
    assert!(
        chrono::Utc::now() < s.deadline,
        "the job finished before the deadline"
    );
    assert_eq!(h.state(&s).await, SessionState::Pending);
    assert!(h.connected("alice"));
    assert!(h.listed("tgate-sandbox", "10.10.0.5").is_some());

    expires_at_its_deadline(&h, &s).await;
    h.stop_worker().await;
}

/// What expiry at the deadline shows: the session expired by the deadline
/// and never before it, audited once, its PPP session disconnected and its
/// sandbox entry gone.
async fn expires_at_its_deadline(h: &Harness, s: &Session) {
    eventually("the session expires", || async {
        h.state(s).await == SessionState::Expired
    })
    .await;
    eventually("the PPP session is disconnected", || async {
        !h.connected(s.account.as_str())
    })
    .await;
    let address = s.remote_address.to_string();
    eventually("the sandbox entry is gone", || async {
        h.listed("tgate-sandbox", &address).is_none()
    })
    .await;
    let row = h.store().session(s.id).await.unwrap().unwrap();
    assert_eq!(row.decided_by.as_deref(), Some("tgate:deadline"));
    assert!(
        row.decided_at.unwrap() >= row.deadline,
        "never before the deadline"
    );
    assert_eq!(h.audited(s, "session.expired").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn confirm_racing_the_deadline_has_exactly_one_outcome() {
    let mut h = Harness::new(r#"confirm_timeout = "1s""#, "").await;
    h.start_worker();
    for i in 0..6 {
        let account = format!("user{i}");
        h.enroll(&account).await;
        let s = h
            .pending(
                &account,
                &format!("203.0.113.{}", 10 + i),
                &format!("10.10.0.{}", 10 + i),
            )
            .await;
        // Press It's me right around the deadline, while the worker's job
        // and a direct expire go for it too.
        let left = (s.deadline - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        tokio::time::sleep(left.saturating_sub(std::time::Duration::from_millis(20 * i))).await;
        let (press, expired) = tokio::join!(h.gate.confirm(s.id, OWNER), h.gate.expire(s.id));
        let press = press.unwrap();
        let expired = expired.unwrap();
        // The transition decides; its audit record follows a moment later,
        // written by whichever of the racers won.
        eventually("the outcome is audited", || async {
            h.audited(&s, "session.confirmed").await + h.audited(&s, "session.expired").await > 0
        })
        .await;
        let state = h.state(&s).await;
        let confirmed = h.audited(&s, "session.confirmed").await;
        let expired_audits = h.audited(&s, "session.expired").await;
        assert_eq!(
            confirmed + expired_audits,
            1,
            "one outcome for {account}: {state}"
        );
        match state {
            SessionState::Confirmed => {
                assert!(matches!(press, PressOutcome::Allowed(_)), "{press:?}");
                assert!(expired.is_none());
                assert!(
                    h.listed("tgate-permit", &s.remote_address.to_string())
                        .is_some()
                );
            }
            SessionState::Expired => {
                assert!(!matches!(press, PressOutcome::Allowed(_)), "{press:?}");
                assert!(
                    h.listed("tgate-permit", &s.remote_address.to_string())
                        .is_none()
                );
            }
            other => panic!("unexpected state {other}"),
        }
    }
    h.stop_worker().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_expires_a_session_whose_job_was_lost() {
    let h = Harness::new(r#"confirm_timeout = "1s""#, "").await;
    h.enroll("alice").await;
    let s = h.pending("alice", "203.0.113.7", "10.10.0.5").await;
    // No worker ran the job; a worker starting later sweeps it up.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    assert_eq!(h.state(&s).await, SessionState::Pending);
    assert_eq!(tgate_worker::sweep(&h.gate).await.unwrap(), 1);
    assert_eq!(h.state(&s).await, SessionState::Expired);
    assert!(!h.connected("alice"));
    assert_eq!(tgate_worker::sweep(&h.gate).await.unwrap(), 0);
}

/// A session answered, refused, hung up or found gone by the reconciler
/// before its deadline takes its expiry job with it: the queue keeps
/// nothing a worker would fetch, run and acknowledge only to find the
/// session decided. A session still waiting keeps its job.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_decided_early_drops_its_waiting_job() {
    let h = Harness::new(r#"confirm_timeout = "60s""#, "").await;
    for account in ["alice", "bob", "carol", "dave", "erin"] {
        h.enroll(account).await;
    }
    let confirmed = h.pending("alice", "203.0.113.7", "10.10.0.5").await;
    let denied = h.pending("bob", "203.0.113.8", "10.10.0.6").await;
    let hung_up = h.pending("carol", "203.0.113.9", "10.10.0.7").await;
    let waiting = h.pending("dave", "203.0.113.10", "10.10.0.8").await;
    let vanished = h.pending("erin", "203.0.113.11", "10.10.0.9").await;
    let mut all =
        [confirmed.id, denied.id, hung_up.id, waiting.id, vanished.id].map(|id| id.to_string());
    all.sort();
    assert_eq!(
        waiting_jobs(&h).await,
        all,
        "a job for every pending session"
    );

    let press = h.gate.confirm(confirmed.id, OWNER).await.unwrap();
    assert!(matches!(press, PressOutcome::Allowed(_)), "{press:?}");
    assert!(h.listed("tgate-permit", "10.10.0.5").is_some());
    let press = h.gate.deny(denied.id, OWNER).await.unwrap();
    assert!(matches!(press, PressOutcome::Denied(_)), "{press:?}");
    h.sim.disconnect_ppp("carol").await.unwrap();
    let down = h
        .gate
        .disconnect(Disconnect {
            router: common::office(),
            account: "carol".parse().unwrap(),
            remote_address: "10.10.0.7".parse().unwrap(),
        })
        .await
        .unwrap();
    assert!(down.was_pending);
    // erin's down event is lost; the reconciler finds her gone.
    h.sim.disconnect_ppp("erin").await.unwrap();
    let report = h.gate.reconcile(&common::office()).await.unwrap();
    assert_eq!(report.closed, 1, "{report:?}");
    assert_eq!(h.state(&vanished).await, SessionState::Closed);

    eventually("only the waiting session keeps its job", || async {
        waiting_jobs(&h).await == [waiting.id.to_string()]
    })
    .await;
    assert_eq!(job_rows(&h).await, 1);
    assert_eq!(h.state(&waiting).await, SessionState::Pending);
}

/// The sessions whose expiry jobs no worker has taken yet, in order.
async fn waiting_jobs(h: &Harness) -> Vec<String> {
    let mut keys: Vec<String> = match h.store().jobs_pool() {
        BackendPool::Sqlite(pool) => {
            sqlx::query_scalar("SELECT idempotency_key FROM Jobs WHERE status = 'Pending'")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
        BackendPool::Postgres(pool) => {
            sqlx::query_scalar("SELECT idempotency_key FROM apalis.jobs WHERE status = 'Pending'")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    keys.sort();
    keys
}

/// Rows in the job queue's table, finished or not.
async fn job_rows(h: &Harness) -> i64 {
    match h.store().jobs_pool() {
        BackendPool::Sqlite(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM Jobs")
            .fetch_one(&pool)
            .await
            .unwrap(),
        BackendPool::Postgres(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM apalis.jobs")
            .fetch_one(&pool)
            .await
            .unwrap(),
    }
}

/// Waits until the worker has recorded every job as finished (a session
/// expires a moment before its job is acknowledged).
async fn every_job_finished(h: &Harness) {
    eventually("every job is recorded as finished", || async {
        let (unfinished, _) = h
            .store()
            .expiry_jobs(EXPIRY_QUEUE, chrono::Utc::now())
            .await
            .unwrap();
        unfinished == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn finished_jobs_are_pruned_and_waiting_ones_kept() {
    let mut h = Harness::new(r#"confirm_timeout = "1s""#, "").await;
    h.start_worker();
    h.enroll("alice").await;
    h.enroll("bob").await;
    let alice = h.pending("alice", "203.0.113.7", "10.10.0.5").await;
    eventually("alice's session expires", || async {
        h.state(&alice).await == SessionState::Expired
    })
    .await;
    every_job_finished(&h).await;
    // No worker takes bob's job for now.
    h.stop_worker().await;
    let bob = h.pending("bob", "203.0.113.8", "10.10.0.6").await;

    // Everything finished until a minute from now: alice's job, not bob's,
    // which is still waiting.
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let pruned = h
        .store()
        .prune_finished_jobs(EXPIRY_QUEUE, later, 100)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert_eq!(job_rows(&h).await, 1, "bob's job stays");
    let (unfinished, _) = h
        .store()
        .expiry_jobs(EXPIRY_QUEUE, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(unfinished, 1);

    // The worker's own pruning keeps a job that finished within the last
    // minute.
    h.start_worker();
    eventually("bob's session expires", || async {
        h.state(&bob).await == SessionState::Expired
    })
    .await;
    every_job_finished(&h).await;
    assert_eq!(tgate_worker::prune(h.store()).await.unwrap(), 0);
    assert_eq!(job_rows(&h).await, 1);
    h.stop_worker().await;
}

/// SQLite plans apalis's acknowledgement (an `UPDATE … FROM json_each(?)`
/// limited to the worker's jobs) as a look-up per acknowledged task, not a
/// walk over every job the worker ever ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledges_jobs_by_id() {
    let h = Harness::new("", "").await;
    let BackendPool::Sqlite(pool) = h.store().jobs_pool() else {
        return; // PostgreSQL plans from its own statistics.
    };
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN \
         WITH j AS (SELECT value ->> 'task_id' AS task_id, value ->> 'status' AS status \
                    FROM json_each(?1)) \
         UPDATE Jobs SET status = j.status FROM j \
         WHERE Jobs.id = j.task_id AND Jobs.lock_by = ?2",
    )
    .bind("[]")
    .bind("worker")
    .fetch_all(&pool)
    .await
    .unwrap();
    let steps: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[0].starts_with("SCAN json_each"), "{steps:?}");
    assert!(
        steps[1].starts_with("SEARCH Jobs USING INDEX sqlite_autoindex_Jobs_1 (id=?)"),
        "{steps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pruning_deletes_at_most_its_limit_per_statement() {
    let mut h = Harness::new(r#"confirm_timeout = "1s""#, "").await;
    h.start_worker();
    let mut sessions = Vec::new();
    for (i, account) in ["alice", "bob", "carol"].into_iter().enumerate() {
        h.enroll(account).await;
        let caller = format!("203.0.113.{}", 20 + i);
        let remote = format!("10.10.0.{}", 20 + i);
        sessions.push(h.pending(account, &caller, &remote).await);
    }
    for s in &sessions {
        eventually("the session expires", || async {
            h.state(s).await == SessionState::Expired
        })
        .await;
    }
    every_job_finished(&h).await;
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    for (deleted, left) in [(2, 1), (1, 0)] {
        let n = h
            .store()
            .prune_finished_jobs(EXPIRY_QUEUE, later, 2)
            .await
            .unwrap();
        assert_eq!((n, job_rows(&h).await), (deleted, left));
    }
    h.stop_worker().await;
}
