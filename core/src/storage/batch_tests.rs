//! The grouped session, expiry and strike writes on a real database (SQLite, or PostgreSQL
//! when `TGATE_TEST_DATABASE_URL` is set): rows that arrive together are
//! stored by one statement, and each caller still hears its own row's
//! outcome. One test is SQLite's alone: which statements its one writing
//! connection keeps prepared.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use chrono::Utc;

use super::group::{PREPARED_ROWS, Tally};
use super::testing::TestDb;
use super::{Inserted, NewSession, NewStrike, PgStore, SessionId, SqliteStore, Store, StrikeKind};
use crate::domain::{RouterName, SessionState, Transition};

/// The backend's own store over the test database, so the groups' tallies
/// can be read.
enum Concrete {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Concrete {
    async fn open(db: &TestDb) -> Concrete {
        if db.url.starts_with("sqlite:") {
            Concrete::Sqlite(SqliteStore::open(&db.url).await.unwrap())
        } else {
            Concrete::Postgres(PgStore::open(&db.url).await.unwrap())
        }
    }

    fn store(&self) -> &dyn Store {
        match self {
            Concrete::Sqlite(s) => s,
            Concrete::Postgres(s) => s,
        }
    }

    fn tallies(&self) -> [&Tally; 4] {
        match self {
            Concrete::Sqlite(s) => [
                s.pending_inserts.tally(),
                s.message_ids.tally(),
                s.expiries.tally(),
                s.strikes.tally(),
            ],
            Concrete::Postgres(s) => [
                s.pending_inserts.tally(),
                s.message_ids.tally(),
                s.expiries.tally(),
                s.strikes.tally(),
            ],
        }
    }
}

fn router() -> RouterName {
    "office".parse().unwrap()
}

/// A connect of `account` from a caller of its own.
fn connect(account: usize, attempt: usize) -> NewSession {
    let now = Utc::now();
    NewSession {
        id: SessionId::new(),
        router: router(),
        account: format!("user{account}").parse().unwrap(),
        caller_id: format!("203.0.{attempt}.{}", account % 250 + 1)
            .parse()
            .unwrap(),
        remote_address: format!("10.{attempt}.{}.{}", account / 250, account % 250 + 1)
            .parse()
            .unwrap(),
        local_address: None,
        service: "l2tp".parse().unwrap(),
        interface: None,
        chat_id: Some(1000 + account as i64),
        language: None,
        created_at: now,
        deadline: now + chrono::Duration::seconds(60),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_arriving_together_each_get_their_own_outcome() {
    let db = TestDb::new().await;
    let concrete = Concrete::open(&db).await;
    let store = &concrete;
    store.store().sync_routers(&[router()]).await.unwrap();

    // 200 accounts, each dialled twice at once: one of each pair gets the
    // pending session, the other is told of it, whichever batch each
    // lands in.
    let accounts = 200;
    let inserts = (0..accounts).flat_map(|a| [connect(a, 1), connect(a, 2)]);
    let results = futures::future::join_all(
        inserts
            .map(|s| async move { (s.clone(), store.store().insert_pending(&s).await.unwrap()) }),
    )
    .await;
    let mut created = Vec::new();
    for (new, result) in &results {
        match result {
            Inserted::Created(s) => {
                assert_eq!(s.id, new.id);
                assert_eq!(s.account, new.account);
                assert_eq!(s.chat_id, new.chat_id);
                assert_eq!(s.state, SessionState::Pending);
                created.push(s.clone());
            }
            Inserted::PendingExists(s) => {
                assert_eq!(s.account, new.account);
                assert_ne!(s.id, new.id);
            }
        }
    }
    assert_eq!(created.len(), accounts, "one pending session per account");
    let stored = store
        .store()
        .sessions_in_state(SessionState::Pending, 1000)
        .await
        .unwrap();
    let stored: HashSet<SessionId> = stored.iter().map(|s| s.id).collect();
    let created_ids: HashSet<SessionId> = created.iter().map(|s| s.id).collect();
    assert_eq!(stored, created_ids);

    // Their prompts' message ids, recorded at once, plus one for a session
    // that does not exist.
    let missing = SessionId::new();
    let ids = created
        .iter()
        .map(|s| (s.id, 5000 + s.chat_id.unwrap()))
        .chain([(missing, 1)]);
    let updated = futures::future::join_all(ids.map(|(id, message_id)| async move {
        (
            id,
            store.store().set_message_id(id, message_id).await.unwrap(),
        )
    }))
    .await;
    for (id, found) in updated {
        let expected = (id != missing).then_some(SessionState::Pending);
        assert_eq!(found, expected, "{id}");
    }
    for s in &created {
        let read = store.store().session(s.id).await.unwrap().unwrap();
        assert_eq!(read.message_id, Some(5000 + s.chat_id.unwrap()), "{}", s.id);
    }

    // Their deadlines come, all at once. A quarter of the sessions were
    // answered first; every session's expiry is asked for twice (its job
    // and the sweep, say), plus one for a session that does not exist.
    // Each pending session is expired by exactly one of its two callers.
    let answered: HashSet<SessionId> = created.iter().step_by(4).map(|s| s.id).collect();
    for &id in &answered {
        let confirmed = store
            .store()
            .transition(id, Transition::Confirm, Utc::now(), "owner")
            .await
            .unwrap();
        assert!(confirmed.is_some(), "{id}");
    }
    let asks = created.iter().flat_map(|s| [s.id, s.id]).chain([missing]);
    let expired = futures::future::join_all(asks.map(|id| async move {
        let outcome = store.store().expire_due(id, Utc::now(), "tgate:deadline");
        (id, outcome.await.unwrap())
    }))
    .await;
    let mut won: HashMap<SessionId, usize> = HashMap::new();
    for (id, outcome) in &expired {
        if let Some(s) = outcome {
            assert_eq!(s.id, *id);
            assert_eq!(s.state, SessionState::Expired, "{id}");
            assert_eq!(s.decided_by.as_deref(), Some("tgate:deadline"), "{id}");
            *won.entry(*id).or_default() += 1;
        }
    }
    assert!(!won.contains_key(&missing));
    for s in &created {
        let (wins, state) = if answered.contains(&s.id) {
            (0, SessionState::Confirmed)
        } else {
            (1, SessionState::Expired)
        };
        assert_eq!(won.get(&s.id).copied().unwrap_or(0), wins, "{}", s.id);
        let read = store.store().session(s.id).await.unwrap().unwrap();
        assert_eq!(read.state, state, "{}", s.id);
    }

    // Each account's second caller strikes three times, all at once.
    let strikes = results
        .iter()
        .filter(|(_, r)| matches!(r, Inserted::PendingExists(_)))
        .flat_map(|(new, _)| {
            (0..3).map(move |i| NewStrike {
                caller_id: new.caller_id,
                router: new.router.clone(),
                account: new.account.clone(),
                session_id: None,
                kind: StrikeKind::Blocked,
                at: new.created_at + chrono::Duration::milliseconds(i),
            })
        });
    futures::future::join_all(strikes.map(|strike| async move {
        store.store().add_strike(&strike).await.unwrap();
    }))
    .await;
    for (new, result) in &results {
        let expected = match result {
            Inserted::PendingExists(_) => 3,
            Inserted::Created(_) => 0,
        };
        let since = new.created_at - chrono::Duration::seconds(1);
        let counted = store
            .store()
            .strike_facts(&new.caller_id, since, chrono::Utc::now())
            .await
            .unwrap()
            .strikes;
        assert_eq!(counted, expected, "{}", new.caller_id);
    }

    let names = ["inserts", "message ids", "expiries", "strikes"];
    for (name, tally) in names.iter().zip(store.tallies()) {
        assert_eq!(tally.failed_batches.load(Ordering::Relaxed), 0, "{name}");
        assert!(
            tally.together.load(Ordering::Relaxed) > 0,
            "{name}: no rows were written together"
        );
    }
}

/// A burst's writes of many rows are not kept prepared (each row count is
/// a statement of its own, which the writer's cache would hold on to);
/// a write of one row, which light load repeats, is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bursts_large_writes_leave_no_prepared_statement_behind() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tgate.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    store.sync_routers(&[router()]).await.unwrap();

    // One connect alone: a one-row write, kept.
    let writer = store.pool().acquire().await.unwrap();
    let before = writer.cached_statements_size();
    drop(writer);
    store.insert_pending(&connect(0, 1)).await.unwrap();
    let writer = store.pool().acquire().await.unwrap();
    assert_eq!(writer.cached_statements_size(), before + 1);

    // 300 connects queue while the one writing connection is busy, so they
    // are written as two or three large groups once it is free.
    let sessions = (1..=300).map(|a| connect(a, 1)).collect::<Vec<_>>();
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(writer);
    };
    let (results, ()) = tokio::join!(
        futures::future::join_all(sessions.iter().map(|s| store.insert_pending(s))),
        release
    );
    for (s, result) in sessions.iter().zip(results) {
        assert!(matches!(result.unwrap(), Inserted::Created(c) if c.id == s.id));
    }
    let together = store
        .pending_inserts
        .tally()
        .together
        .load(Ordering::Relaxed);
    assert!(
        together > PREPARED_ROWS as u64,
        "the burst was not written in groups: {together} rows together"
    );

    let writer = store.pool().acquire().await.unwrap();
    assert!(
        writer.cached_statements_size() <= before + 2,
        "{} statements cached, {before} before the burst",
        writer.cached_statements_size()
    );
}
