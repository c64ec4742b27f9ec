//! The storage the worker relies on, on whichever database the test
//! environment names: strikes counted per caller within a window, overdue
//! pending sessions, a router's open sessions.

use chrono::{Duration, Utc};
use tgate_core::domain::{CallerId, RouterName, SessionId, SessionState, Transition};
use tgate_core::storage::testing::TestDb;
use tgate_core::storage::{BackendPool, Inserted, NewSession, NewStrike, StrikeKind};

fn office() -> RouterName {
    "office".parse().unwrap()
}

async fn db() -> TestDb {
    let db = TestDb::new().await;
    db.store.sync_routers(&[office()]).await.unwrap();
    db
}

fn session(account: &str, remote: &str, deadline_in: Duration) -> NewSession {
    let now = Utc::now();
    NewSession {
        id: SessionId::new(),
        router: office(),
        account: account.parse().unwrap(),
        caller_id: "203.0.113.7".parse().unwrap(),
        remote_address: remote.parse().unwrap(),
        local_address: None,
        service: "l2tp".parse().unwrap(),
        interface: None,
        chat_id: Some(1),
        language: None,
        created_at: now,
        deadline: now + deadline_in,
    }
}

#[tokio::test]
async fn strikes_are_counted_per_caller_within_the_window() {
    let db = db().await;
    let store = &db.store;
    let caller: CallerId = "203.0.113.7".parse().unwrap();
    let other: CallerId = "bc:24:11:81:b1:47".parse().unwrap();
    let now = Utc::now();
    for (who, ago, kind) in [
        (caller, 20, StrikeKind::Expired),
        (caller, 5, StrikeKind::Blocked),
        (caller, 1, StrikeKind::Denied),
        (other, 1, StrikeKind::Expired),
    ] {
        store
            .add_strike(&NewStrike {
                caller_id: who,
                router: office(),
                account: "alice".parse().unwrap(),
                session_id: None,
                kind,
                at: now - Duration::minutes(ago),
            })
            .await
            .unwrap();
    }
    let window = now - Duration::minutes(10);
    assert_eq!(store.count_strikes(&caller, window).await.unwrap(), 2);
    assert_eq!(store.count_strikes(&other, window).await.unwrap(), 1);
    let all = now - Duration::hours(1);
    assert_eq!(store.count_strikes(&caller, all).await.unwrap(), 3);
}

#[tokio::test]
async fn overdue_pending_sessions_and_a_routers_open_sessions() {
    let db = db().await;
    let store = &db.store;
    for a in ["alice", "bob", "carol"] {
        store
            .ensure_account(&office(), &a.parse().unwrap())
            .await
            .unwrap();
    }
    let created = |n: NewSession| async move {
        match store.insert_pending(&n).await.unwrap() {
            Inserted::Created(s) => s,
            other => panic!("{other:?}"),
        }
    };
    let late = created(session("alice", "10.10.0.5", Duration::seconds(-30))).await;
    let waiting = created(session("bob", "10.10.0.6", Duration::seconds(60))).await;
    let confirmed = created(session("carol", "10.10.0.7", Duration::seconds(-30))).await;
    store
        .transition(confirmed.id, Transition::Confirm, Utc::now(), "test")
        .await
        .unwrap()
        .unwrap();

    let due = store.pending_due(Utc::now(), 10).await.unwrap();
    assert_eq!(due.iter().map(|s| s.id).collect::<Vec<_>>(), [late.id]);

    let open = store.open_sessions_of_router(&office()).await.unwrap();
    let mut states: Vec<_> = open
        .iter()
        .map(|s| (s.account.to_string(), s.state))
        .collect();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        states,
        [
            ("alice".to_string(), SessionState::Pending),
            ("bob".to_string(), SessionState::Pending),
            ("carol".to_string(), SessionState::Confirmed),
        ]
    );
    assert!(waiting.deadline > Utc::now());
    let pool_matches = matches!(
        (store.backend(), store.jobs_pool()),
        ("sqlite", BackendPool::Sqlite(_)) | ("postgres", BackendPool::Postgres(_))
    );
    assert!(pool_matches);
}
