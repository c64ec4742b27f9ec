//! The storage the worker relies on, on whichever database the test
//! environment names: strikes counted per caller within a window, overdue
//! pending sessions, a router's open sessions.

use chrono::{Duration, Utc};
use tgate_core::domain::{CallerId, RouterName, SessionState, Transition};
use tgate_core::storage::testing::TestDb;
use tgate_core::storage::{
    BackendPool, Inserted, NewBan, NewSession, NewStrike, StrikeFacts, StrikeKind,
};

fn office() -> RouterName {
    "office".parse().unwrap()
}

async fn db() -> TestDb {
    let db = TestDb::new().await;
    db.store.sync_routers(&[office()]).await.unwrap();
    db
}

fn session(account: &str, remote: &str, deadline_in: Duration) -> NewSession {
    tgate_core::storage::testing::new_session(office(), account, remote, deadline_in)
}

#[tokio::test]
async fn a_strike_reads_its_callers_strikes_in_the_window_and_bans() {
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
    let facts =
        |who: CallerId, since| async move { store.strike_facts(&who, since, now).await.unwrap() };
    assert_eq!(
        facts(caller, window).await,
        StrikeFacts {
            strikes: 2,
            bans: vec![]
        }
    );
    assert_eq!(facts(other, window).await.strikes, 1);
    let all = now - Duration::hours(1);
    assert_eq!(facts(caller, all).await.strikes, 3);

    // The bans in force covering the caller come with its strikes, one row
    // each; a ban elsewhere, one over, and a caller with no strikes.
    let ban = |network: &str, until: chrono::DateTime<Utc>| NewBan {
        network: network.parse().unwrap(),
        reason: "test".into(),
        source: "admin".into(),
        created_by: "test".into(),
        created_at: now - Duration::hours(2),
        until,
    };
    let host = store
        .insert_ban(&ban("203.0.113.7/32", now + Duration::hours(1)))
        .await
        .unwrap();
    let net = store
        .insert_ban(&ban("203.0.113.0/24", now + Duration::hours(3)))
        .await
        .unwrap();
    store
        .insert_ban(&ban("198.51.100.0/24", now + Duration::hours(1)))
        .await
        .unwrap();
    store
        .insert_ban(&ban("203.0.113.7/32", now - Duration::minutes(1)))
        .await
        .unwrap();
    let mut found = facts(caller, window).await;
    found.bans.sort_by_key(|b| b.id);
    assert_eq!(
        found,
        StrikeFacts {
            strikes: 2,
            bans: vec![host, net]
        }
    );
    let stranger: CallerId = "203.0.113.9".parse().unwrap();
    assert_eq!(facts(stranger, window).await.strikes, 0);
    assert_eq!(
        facts(stranger, window).await.bans.len(),
        1,
        "the /24 covers it"
    );
    // A MAC address is in no network.
    assert_eq!(facts(other, window).await.bans, vec![]);
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
