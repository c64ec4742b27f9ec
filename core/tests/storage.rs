//! The storage suite. Every test runs on SQLite by default and on PostgreSQL
//! when `TGATE_TEST_DATABASE_URL` is set (CI runs it both ways).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tgate_core::domain::{AccountName, RouterName, SessionId, SessionState, Transition};
use tgate_core::storage::testing::TestDb;
use tgate_core::storage::{
    AuditEntry, AuditFilter, Inserted, NewBan, NewSession, Store, ban_covering,
};

fn router() -> RouterName {
    "office".parse().unwrap()
}

fn pending(account: &str, remote: &str, caller: &str) -> NewSession {
    let now = Utc::now();
    NewSession {
        id: SessionId::new(),
        router: router(),
        account: account.parse().unwrap(),
        caller_id: caller.parse().unwrap(),
        remote_address: remote.parse().unwrap(),
        local_address: Some("10.10.0.1".parse().unwrap()),
        service: "l2tp".parse().unwrap(),
        interface: Some("<l2tp-alice>".parse().unwrap()),
        chat_id: None,
        language: None,
        created_at: now,
        deadline: now + Duration::seconds(60),
    }
}

async fn db() -> TestDb {
    let db = TestDb::new().await;
    db.store.sync_routers(&[router()]).await.unwrap();
    db
}

/// What a button press is judged on: the session and its account's owner,
/// read together.
#[tokio::test]
async fn a_press_reads_the_session_and_its_owner_at_once() {
    let db = db().await;
    let store = &db.store;
    let alice = pending("alice", "10.10.0.5", "203.0.113.7");
    let bob = pending("bob", "10.10.0.6", "203.0.113.8");
    for s in [&alice, &bob] {
        store.insert_pending(s).await.unwrap();
    }
    store
        .ensure_account(&router(), &alice.account)
        .await
        .unwrap();
    store
        .set_account_owner(&router(), &alice.account, Some(4242))
        .await
        .unwrap();

    let (read, owner) = store.session_with_owner(alice.id).await.unwrap().unwrap();
    assert_eq!(Some(read), store.session(alice.id).await.unwrap());
    assert_eq!(owner, Some(4242));
    // No account row at all, then one nobody owns.
    let (read, owner) = store.session_with_owner(bob.id).await.unwrap().unwrap();
    assert_eq!((read.account, owner), (bob.account.clone(), None));
    store.ensure_account(&router(), &bob.account).await.unwrap();
    let (_, owner) = store.session_with_owner(bob.id).await.unwrap().unwrap();
    assert_eq!(owner, None);
    assert_eq!(
        store.session_with_owner(SessionId::new()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_pending_session_round_trips_every_field() {
    let db = db().await;
    let mut new = pending("Иван Петров", "2001:db8::5", "BC:24:11:81:B1:47");
    new.chat_id = Some(-100123);
    new.language = Some("ru".to_owned());
    let Inserted::Created(created) = db.store.insert_pending(&new).await.unwrap() else {
        panic!("not created");
    };
    let read = db.store.session(new.id).await.unwrap().expect("row");
    assert_eq!(read, created);
    assert_eq!(read.state, SessionState::Pending);
    assert_eq!(read.account.as_str(), "Иван Петров");
    assert_eq!(
        read.remote_address,
        "2001:db8::5".parse::<IpAddr>().unwrap()
    );
    assert_eq!(read.caller_id.to_string(), "BC:24:11:81:B1:47");
    assert_eq!(read.chat_id, Some(-100123));
    assert_eq!(read.language.as_deref(), Some("ru"));
    assert_eq!(
        read.deadline.timestamp_millis(),
        new.deadline.timestamp_millis()
    );
    assert!(read.decided_at.is_none());
}

#[tokio::test]
async fn one_pending_session_per_account() {
    let db = db().await;
    let first = pending("alice", "10.10.0.5", "203.0.113.7");
    let second = pending("alice", "10.10.0.6", "198.51.100.9");
    assert!(matches!(
        db.store.insert_pending(&first).await.unwrap(),
        Inserted::Created(_)
    ));
    match db.store.insert_pending(&second).await.unwrap() {
        Inserted::PendingExists(existing) => assert_eq!(existing.id, first.id),
        other => panic!("expected PendingExists, got {other:?}"),
    }
    assert!(
        db.store.session(second.id).await.unwrap().is_none(),
        "second row written"
    );

    // Another account is independent.
    let bob = pending("bob", "10.10.0.7", "203.0.113.7");
    assert!(matches!(
        db.store.insert_pending(&bob).await.unwrap(),
        Inserted::Created(_)
    ));

    // Once the first is decided, the account may be asked again.
    db.store
        .transition(first.id, Transition::Expire, Utc::now(), "worker")
        .await
        .unwrap()
        .expect("expire wins");
    assert!(matches!(
        db.store.insert_pending(&second).await.unwrap(),
        Inserted::Created(_)
    ));
}

#[tokio::test]
async fn transitions_follow_the_state_machine() {
    let db = db().await;
    let s = pending("alice", "10.10.0.5", "203.0.113.7");
    db.store.insert_pending(&s).await.unwrap();

    let confirmed = db
        .store
        .transition(s.id, Transition::Confirm, Utc::now(), "tg:42")
        .await
        .unwrap()
        .expect("confirm wins");
    assert_eq!(confirmed.state, SessionState::Confirmed);
    assert_eq!(confirmed.decided_by.as_deref(), Some("tg:42"));
    assert!(confirmed.decided_at.is_some());

    for t in [
        Transition::Confirm,
        Transition::Deny,
        Transition::Expire,
        Transition::Fail,
    ] {
        assert!(
            db.store
                .transition(s.id, t, Utc::now(), "x")
                .await
                .unwrap()
                .is_none(),
            "{t:?} after confirm"
        );
    }
    let closed = db
        .store
        .transition(s.id, Transition::Close, Utc::now(), "router")
        .await
        .unwrap()
        .expect("close after confirm");
    assert_eq!(closed.state, SessionState::Closed);
    assert_eq!(
        closed.decided_by.as_deref(),
        Some("tg:42"),
        "who decided is kept"
    );
    assert!(closed.closed_at.is_some());
    assert!(
        db.store
            .transition(s.id, Transition::Close, Utc::now(), "router")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.store
            .transition(SessionId::new(), Transition::Close, Utc::now(), "x")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_fifty_racing_decisions_exactly_one_wins() {
    let db = db().await;
    let s = pending("alice", "10.10.0.5", "203.0.113.7");
    db.store.insert_pending(&s).await.unwrap();
    // Confirm, expire and close, as the watcher, the worker and a down event
    // would send them at once; deny and fail for good measure.
    let kinds = [
        Transition::Confirm,
        Transition::Expire,
        Transition::Close,
        Transition::Deny,
        Transition::Fail,
    ];

    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store: Arc<dyn Store> = db.store.clone();
            let barrier = barrier.clone();
            let t = kinds[i % kinds.len()];
            tokio::spawn(async move {
                barrier.wait().await;
                let won = store
                    .transition(s.id, t, Utc::now(), &format!("racer-{i}"))
                    .await
                    .expect("transition");
                won.map(|row| (i, t, row))
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(w) = task.await.unwrap() {
            winners.push(w);
        }
    }
    // Exactly one racer takes the session out of `pending`. The state machine
    // lets a confirmed session be closed afterwards, so a close may follow a
    // confirm, and nothing else may follow anything.
    // The decision is the winner the row names as its decider; winners are
    // listed in spawn order, not in the order they committed.
    let stored = db.store.session(s.id).await.unwrap().unwrap();
    let decider = stored.decided_by.clone().expect("decided");
    let (decisions, rest): (Vec<_>, Vec<_>) = winners
        .iter()
        .cloned()
        .partition(|(i, _, _)| format!("racer-{i}") == decider);
    assert_eq!(decisions.len(), 1, "{winners:?}");
    let (_, t, _) = &decisions[0];
    match rest.as_slice() {
        [] => assert_eq!(stored.state, t.target()),
        [(_, Transition::Close, closed)] => {
            assert_eq!(
                *t,
                Transition::Confirm,
                "only a confirmed session may be closed after: {winners:?}"
            );
            assert_eq!(stored.state, SessionState::Closed);
            assert_eq!(&stored, closed);
        }
        _ => panic!("more than one decision: {winners:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_connects_leave_one_pending_session() {
    let db = db().await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move {
                store
                    .insert_pending(&pending(
                        "alice",
                        &format!("10.10.0.{}", i + 2),
                        "203.0.113.7",
                    ))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    let mut ids = HashSet::new();
    for task in tasks {
        match task.await.unwrap() {
            Inserted::Created(s) => {
                created += 1;
                ids.insert(s.id);
            }
            Inserted::PendingExists(s) => {
                ids.insert(s.id);
            }
        }
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1, "everyone saw the same pending session");
    assert_eq!(
        db.store
            .sessions_in_state(SessionState::Pending, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_down_event_closes_the_newest_open_session_at_its_tunnel_address() {
    let db = db().await;
    let alice: AccountName = "alice".parse().unwrap();
    let close = |address: &str, at: DateTime<Utc>| {
        let store = db.store.clone();
        let (alice, address) = (alice.clone(), address.parse().unwrap());
        async move {
            store
                .close_open_session(&router(), &alice, address, at, "router")
                .await
                .unwrap()
        }
    };
    // A pending session: closed, and it was pending.
    let s = pending("alice", "10.10.0.5", "203.0.113.7");
    db.store.insert_pending(&s).await.unwrap();
    assert!(close("10.10.0.9", Utc::now()).await.is_none());
    let at = Utc::now();
    let closed = close("10.10.0.5", at).await.unwrap();
    assert_eq!(closed.session.id, s.id);
    assert_eq!(closed.was, SessionState::Pending);
    assert_eq!(closed.session.state, SessionState::Closed);
    assert_eq!(closed.session.decided_by.as_deref(), Some("router"));
    assert_eq!(closed.session.closed_at, closed.session.decided_at);
    assert!(close("10.10.0.5", Utc::now()).await.is_none());

    // A confirmed one keeps its decision, even one made in the same
    // millisecond as the close.
    let t = pending("alice", "10.10.0.5", "203.0.113.7");
    db.store.insert_pending(&t).await.unwrap();
    let at = Utc::now();
    db.store
        .transition(t.id, Transition::Confirm, at, "telegram:4242")
        .await
        .unwrap()
        .unwrap();
    let closed = close("10.10.0.5", at).await.unwrap();
    assert_eq!(closed.session.id, t.id);
    assert_eq!(closed.was, SessionState::Confirmed);
    assert_eq!(closed.session.decided_by.as_deref(), Some("telegram:4242"));
    let stored = db.store.session(t.id).await.unwrap().unwrap();
    assert_eq!(stored.state, SessionState::Closed);
    assert_eq!(stored.closed_at, closed.session.closed_at);
    assert!(close("10.10.0.5", Utc::now()).await.is_none());
}

#[tokio::test]
async fn accounts_and_the_once_only_unenrolled_alert() {
    let db = db().await;
    let alice: AccountName = "alice".parse().unwrap();
    let a = db.store.ensure_account(&router(), &alice).await.unwrap();
    assert_eq!(a.owner_tg_id, None);
    assert!(!a.locked);
    assert_eq!(
        db.store.ensure_account(&router(), &alice).await.unwrap(),
        a,
        "idempotent"
    );
    assert!(
        db.store
            .mark_unenrolled_alert(&router(), &alice, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .mark_unenrolled_alert(&router(), &alice, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        db.store
            .set_account_owner(&router(), &alice, Some(4242))
            .await
            .unwrap()
    );
    let a = db.store.account(&router(), &alice).await.unwrap().unwrap();
    assert_eq!(a.owner_tg_id, Some(4242));
    assert!(a.unenrolled_alerted_at.is_some());
}

#[tokio::test]
async fn bans_cover_addresses_until_they_end_or_are_lifted() {
    let db = db().await;
    let now = Utc::now();
    let net = db
        .store
        .insert_ban(&NewBan {
            network: "198.51.100.0/24".parse().unwrap(),
            reason: "scanner".into(),
            source: "admin".into(),
            created_by: "tg:1".into(),
            created_at: now,
            until: now + Duration::hours(1),
        })
        .await
        .unwrap();
    db.store
        .insert_ban(&NewBan {
            network: "203.0.113.7/32".parse().unwrap(),
            reason: "old".into(),
            source: "policy".into(),
            created_by: "tgate".into(),
            created_at: now - Duration::hours(2),
            until: now - Duration::hours(1),
        })
        .await
        .unwrap();
    let active = db.store.active_bans(now).await.unwrap();
    assert_eq!(active.len(), 1, "expired ban is not active");
    assert_eq!(
        ban_covering(&active, "198.51.100.77".parse().unwrap()).map(|b| b.id),
        Some(net.id)
    );
    assert!(ban_covering(&active, "203.0.113.7".parse().unwrap()).is_none());

    let lifted = db
        .store
        .lift_ban(net.id, now, "tg:1")
        .await
        .unwrap()
        .expect("lifted");
    assert_eq!(lifted.lifted_by.as_deref(), Some("tg:1"));
    assert!(
        db.store
            .lift_ban(net.id, now, "tg:1")
            .await
            .unwrap()
            .is_none(),
        "lifted twice"
    );
    assert!(db.store.active_bans(now).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_audit_log_is_read_newest_first_and_filtered() {
    let db = db().await;
    let id = SessionId::new();
    db.store
        .audit(
            &AuditEntry::new("router:office", "event.up")
                .router(&router())
                .session(id)
                .address("10.10.0.5"),
        )
        .await
        .unwrap();
    db.store
        .audit(
            &AuditEntry::new("tg:42", "session.confirm")
                .session(id)
                .detail(serde_json::json!({"ok": true})),
        )
        .await
        .unwrap();
    db.store
        .audit(&AuditEntry::new("admin", "ban.add"))
        .await
        .unwrap();

    let for_session = db
        .store
        .audit_log(&AuditFilter {
            session_id: Some(id.to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = for_session.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["session.confirm", "event.up"]);
    assert_eq!(for_session[0].detail, serde_json::json!({"ok": true}));
    assert_eq!(for_session[1].address.as_deref(), Some("10.10.0.5"));
    let bans = db
        .store
        .audit_log(&AuditFilter {
            action: Some("ban.add".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(bans.len(), 1);
}

#[tokio::test]
async fn an_invite_enrolls_its_presenter_once_and_not_after_it_expires() {
    use tgate_core::storage::{Invite, InviteUse};
    let db = db().await;
    let alice: AccountName = "alice".parse().unwrap();
    db.store.ensure_account(&router(), &alice).await.unwrap();
    db.store
        .mark_unenrolled_alert(&router(), &alice, Utc::now())
        .await
        .unwrap();
    let now = Utc::now();
    let invite = |code: &str, expires| Invite {
        code: code.into(),
        router: router(),
        account: alice.clone(),
        created_by: "cli".into(),
        created_at: now,
        expires_at: expires,
        used_at: None,
        used_by: None,
    };
    db.store
        .insert_invite(&invite("good", now + Duration::hours(24)))
        .await
        .unwrap();
    db.store
        .insert_invite(&invite("stale", now - Duration::seconds(1)))
        .await
        .unwrap();

    match db.store.use_invite("good", 4242, "ru", now).await.unwrap() {
        InviteUse::Enrolled(i) => assert_eq!((i.account, i.used_by), (alice.clone(), Some(4242))),
        other => panic!("{other:?}"),
    }
    let a = db.store.account(&router(), &alice).await.unwrap().unwrap();
    assert_eq!(
        (a.owner_tg_id, a.language.as_deref()),
        (Some(4242), Some("ru"))
    );
    assert!(
        a.unenrolled_alerted_at.is_none(),
        "a later unenrolled spell alerts again"
    );

    assert_eq!(
        db.store.use_invite("good", 666, "en", now).await.unwrap(),
        InviteUse::AlreadyUsed
    );
    assert_eq!(
        db.store.use_invite("stale", 666, "en", now).await.unwrap(),
        InviteUse::Expired
    );
    assert_eq!(
        db.store.use_invite("nope", 666, "en", now).await.unwrap(),
        InviteUse::Unknown
    );
    let a = db.store.account(&router(), &alice).await.unwrap().unwrap();
    assert_eq!(a.owner_tg_id, Some(4242), "failed uses change nothing");
}

#[tokio::test]
async fn owners_see_their_accounts_and_open_sessions() {
    let db = db().await;
    for (name, owner) in [("alice", 1), ("alice2", 1), ("bob", 2)] {
        let n: AccountName = name.parse().unwrap();
        db.store.ensure_account(&router(), &n).await.unwrap();
        db.store
            .set_account_owner(&router(), &n, Some(owner))
            .await
            .unwrap();
    }
    let s1 = pending("alice", "10.10.0.5", "203.0.113.7");
    let s2 = pending("bob", "10.10.0.6", "203.0.113.8");
    let s3 = pending("alice2", "10.10.0.7", "203.0.113.9");
    for s in [&s1, &s2, &s3] {
        db.store.insert_pending(s).await.unwrap();
    }
    db.store
        .transition(s3.id, Transition::Expire, Utc::now(), "worker")
        .await
        .unwrap();
    assert_eq!(
        db.store.set_message_id(s1.id, 99).await.unwrap(),
        Some(SessionState::Pending)
    );
    assert_eq!(
        db.store.set_message_id(s3.id, 98).await.unwrap(),
        Some(SessionState::Expired)
    );
    assert_eq!(
        db.store.set_message_id(SessionId::new(), 97).await.unwrap(),
        None
    );
    assert_eq!(
        db.store.session(s1.id).await.unwrap().unwrap().message_id,
        Some(99)
    );

    let mine: Vec<_> = db
        .store
        .open_sessions_of_owner(1)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(mine, [s1.id]);
    let accounts: Vec<_> = db
        .store
        .accounts_of_owner(1)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name.to_string())
        .collect();
    assert_eq!(accounts, ["alice", "alice2"]);
    assert_eq!(db.store.set_owner_language(1, "ru").await.unwrap(), 2);
    let alice = db
        .store
        .account(&router(), &"alice".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alice.language.as_deref(), Some("ru"));
    assert!(
        db.store
            .set_account_locked(&router(), &alice.name, true)
            .await
            .unwrap()
    );
    assert!(
        db.store
            .account(&router(), &alice.name)
            .await
            .unwrap()
            .unwrap()
            .locked
    );
}

#[tokio::test]
async fn bans_are_counted_per_network() {
    let db = db().await;
    let now = Utc::now();
    let net: ipnet::IpNet = "203.0.113.7/32".parse().unwrap();
    assert_eq!(db.store.count_bans(net).await.unwrap(), 0);
    for _ in 0..2 {
        db.store
            .insert_ban(&NewBan {
                network: net,
                reason: "r".into(),
                source: "policy".into(),
                created_by: "tgate".into(),
                created_at: now,
                until: now + Duration::hours(1),
            })
            .await
            .unwrap();
    }
    assert_eq!(db.store.count_bans(net).await.unwrap(), 2);
    assert_eq!(
        db.store
            .count_bans("203.0.113.8/32".parse().unwrap())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn admins_list_sessions_accounts_bans_and_audit_with_filters() {
    use tgate_core::storage::SessionFilter;
    let db = db().await;
    let a = pending("alice", "10.10.0.5", "203.0.113.7");
    let b = pending("bob", "10.10.0.6", "203.0.113.8");
    for s in [&a, &b] {
        db.store.insert_pending(s).await.unwrap();
        db.store
            .ensure_account(&router(), &s.account)
            .await
            .unwrap();
    }
    db.store
        .transition(b.id, Transition::Confirm, Utc::now(), "tg:1")
        .await
        .unwrap();

    let all = db
        .store
        .list_sessions(&SessionFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|s| s.id).collect::<Vec<_>>(),
        [b.id, a.id],
        "newest first"
    );
    let pending_only = db
        .store
        .list_sessions(&SessionFilter {
            state: Some(SessionState::Pending),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        pending_only.iter().map(|s| s.id).collect::<Vec<_>>(),
        [a.id]
    );
    let bobs = db
        .store
        .list_sessions(&SessionFilter {
            account: Some("bob".parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(bobs.len(), 1);
    let paged = db
        .store
        .list_sessions(&SessionFilter {
            limit: 1,
            offset: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(paged.iter().map(|s| s.id).collect::<Vec<_>>(), [a.id]);
    let mut counts = db.store.count_sessions_by_state().await.unwrap();
    counts.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(
        counts,
        [(SessionState::Confirmed, 1), (SessionState::Pending, 1)]
    );

    let names: Vec<_> = db
        .store
        .list_accounts(Some(&router()))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name.to_string())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(
        db.store
            .list_accounts(Some(&"elsewhere".parse().unwrap()))
            .await
            .unwrap()
            .is_empty()
    );

    let now = Utc::now();
    let ban = |net: &str, until| NewBan {
        network: net.parse().unwrap(),
        reason: "r".into(),
        source: "admin".into(),
        created_by: "t".into(),
        created_at: now,
        until,
    };
    let live = db
        .store
        .insert_ban(&ban("198.51.100.0/24", now + Duration::hours(1)))
        .await
        .unwrap();
    let over = db
        .store
        .insert_ban(&ban("192.0.2.1/32", now - Duration::hours(1)))
        .await
        .unwrap();
    let active: Vec<_> = db
        .store
        .list_bans(Some(now), 10, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(active, [live.id]);
    let every: Vec<_> = db
        .store
        .list_bans(None, 10, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(every, [over.id, live.id]);
    assert_eq!(db.store.ban(live.id).await.unwrap(), Some(live));
    assert_eq!(db.store.ban(99_999).await.unwrap(), None);

    for (actor, action) in [
        ("cli:root", "ban.add"),
        ("tg:1", "ban.lift"),
        ("cli:root", "session.kick"),
    ] {
        db.store
            .audit(&AuditEntry::new(actor, action).address("198.51.100.0/24"))
            .await
            .unwrap();
    }
    let by_cli = db
        .store
        .audit_log(&AuditFilter {
            actor: Some("cli:root".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_cli.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["session.kick", "ban.add"]
    );
    let page1 = db
        .store
        .audit_log(&AuditFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let page2 = db
        .store
        .audit_log(&AuditFilter {
            limit: 2,
            before_id: Some(page1[1].id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page1.len(), 2);
    assert_eq!(page2.len(), 1);
    assert!(page2[0].id < page1[1].id);
    let future = db
        .store
        .audit_log(&AuditFilter {
            since: Some(now + Duration::hours(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(future.is_empty());
}

#[tokio::test]
async fn a_router_health_change_is_reported_once_among_racers() {
    let db = db().await;
    let store = db.store.clone();
    let t0 = Utc::now();
    // First sighting: recorded, reported as "never recorded before".
    let first = store
        .record_router_health(&router(), true, t0)
        .await
        .unwrap();
    assert_eq!(first.map(|c| c.was_up), Some(None));
    assert_eq!(
        store
            .record_router_health(&router(), true, t0)
            .await
            .unwrap(),
        None,
        "no change, nothing to report"
    );

    // Ten processes see it go down at once: one of them reports it.
    let down_at = t0 + Duration::seconds(5);
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        racers.spawn(async move { store.record_router_health(&router(), false, down_at).await });
    }
    let reports: Vec<_> = racers
        .join_all()
        .await
        .into_iter()
        .filter_map(|r| r.unwrap())
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].was_up, Some(true));

    let back = store
        .record_router_health(&router(), true, down_at + Duration::seconds(60))
        .await
        .unwrap()
        .expect("back is a change");
    assert_eq!(back.was_up, Some(false));
    assert_eq!(
        back.since.map(|s| s.timestamp_millis()),
        Some(down_at.timestamp_millis())
    );
    // An unknown router has nothing to record.
    let nowhere: RouterName = "nowhere".parse().unwrap();
    assert_eq!(
        store
            .record_router_health(&nowhere, false, t0)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn bans_are_found_by_an_address_they_cover_or_their_exact_network() {
    use tgate_core::storage::{BanFilter, BanMatch};
    let db = db().await;
    let now = Utc::now();
    let mut ids = std::collections::HashMap::new();
    for (net, until) in [
        ("203.0.113.0/24", now + Duration::hours(1)),
        ("203.0.113.7/32", now + Duration::hours(1)),
        ("203.0.0.0/16", now - Duration::hours(1)),
        ("203.0.113.8/32", now + Duration::hours(1)),
        ("198.51.100.0/24", now + Duration::hours(1)),
        ("2001:db8::/32", now + Duration::hours(1)),
        ("2001:db8:0:1::/64", now + Duration::hours(1)),
    ] {
        let ban = db
            .store
            .insert_ban(&NewBan {
                network: net.parse().unwrap(),
                reason: "r".into(),
                source: "admin".into(),
                created_by: "t".into(),
                created_at: now,
                until,
            })
            .await
            .unwrap();
        ids.insert(net, ban.id);
    }
    let find = |network, active_at, limit, offset| {
        let filter = BanFilter {
            active_at,
            network: Some(network),
            limit,
            offset,
        };
        let store = db.store.clone();
        async move {
            let found: Vec<i64> = store
                .find_bans(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|b| b.id)
                .collect();
            (found, store.count_found_bans(&filter).await.unwrap())
        }
    };
    let covering = BanMatch::Covering("203.0.113.7".parse().unwrap());
    // Newest first; the expired /16 only when every ban is asked for.
    assert_eq!(
        find(covering, None, 10, 0).await,
        (
            vec![
                ids["203.0.0.0/16"],
                ids["203.0.113.7/32"],
                ids["203.0.113.0/24"]
            ],
            3
        )
    );
    assert_eq!(
        find(covering, Some(now), 10, 0).await,
        (vec![ids["203.0.113.7/32"], ids["203.0.113.0/24"]], 2)
    );
    // Paged in the database; the count is of every page.
    assert_eq!(
        find(covering, None, 1, 1).await,
        (vec![ids["203.0.113.7/32"]], 3)
    );
    assert_eq!(
        find(
            BanMatch::Covering("2001:db8:0:1::5".parse().unwrap()),
            Some(now),
            10,
            0
        )
        .await,
        (vec![ids["2001:db8:0:1::/64"], ids["2001:db8::/32"]], 2)
    );
    assert_eq!(
        find(
            BanMatch::Covering("192.0.2.1".parse().unwrap()),
            None,
            10,
            0
        )
        .await,
        (vec![], 0)
    );
    // An exact network is that network only, not the bans inside or around it.
    assert_eq!(
        find(
            BanMatch::Exact("203.0.113.0/24".parse().unwrap()),
            Some(now),
            10,
            0
        )
        .await,
        (vec![ids["203.0.113.0/24"]], 1)
    );
    assert_eq!(
        find(
            BanMatch::Exact("203.0.113.7/32".parse().unwrap()),
            Some(now),
            10,
            0
        )
        .await,
        (vec![ids["203.0.113.7/32"]], 1)
    );
    // No network filter: every ban in force.
    let all = BanFilter {
        active_at: Some(now),
        network: None,
        limit: 100,
        offset: 0,
    };
    assert_eq!(db.store.count_found_bans(&all).await.unwrap(), 6);
}

#[tokio::test]
async fn open_sessions_and_accounts_are_paged_and_counted() {
    use tgate_core::storage::SessionFilter;
    let db = db().await;
    let mut open = Vec::new();
    for (i, name) in ["alice", "bob", "carol"].iter().enumerate() {
        let s = pending(name, &format!("10.10.0.{}", i + 5), "203.0.113.7");
        db.store.insert_pending(&s).await.unwrap();
        db.store
            .ensure_account(&router(), &s.account)
            .await
            .unwrap();
        open.push(s.id);
    }
    db.store
        .transition(open[0], Transition::Confirm, Utc::now(), "tg:1")
        .await
        .unwrap()
        .unwrap();
    db.store
        .transition(open[1], Transition::Deny, Utc::now(), "tg:1")
        .await
        .unwrap()
        .unwrap();
    let filter = SessionFilter {
        open: true,
        limit: 10,
        ..Default::default()
    };
    let mut listed: Vec<SessionId> = db
        .store
        .list_sessions(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    listed.sort_by_key(|id| id.to_string());
    let mut want = vec![open[0], open[2]];
    want.sort_by_key(|id| id.to_string());
    assert_eq!(listed, want, "pending and confirmed, not denied");
    assert_eq!(db.store.count_sessions(&filter).await.unwrap(), 2);
    assert_eq!(
        db.store
            .count_sessions(&SessionFilter::default())
            .await
            .unwrap(),
        3
    );

    let names = |accounts: Vec<tgate_core::storage::Account>| -> Vec<String> {
        accounts.into_iter().map(|a| a.name.to_string()).collect()
    };
    assert_eq!(
        names(db.store.account_page(None, 2, 1).await.unwrap()),
        ["bob", "carol"]
    );
    assert_eq!(
        names(db.store.account_page(Some(&router()), 1, 0).await.unwrap()),
        ["alice"]
    );
    assert_eq!(db.store.count_accounts(None).await.unwrap(), 3);
    assert_eq!(
        db.store
            .count_accounts(Some(&"elsewhere".parse().unwrap()))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn the_audit_log_writes_a_single_address_bare() {
    let db = db().await;
    for address in ["203.0.113.7/32", "2001:db8::1/128", "198.51.100.9/24"] {
        db.store
            .audit(&AuditEntry::new("t", "ban.add").address(address))
            .await
            .unwrap();
    }
    let addresses: Vec<Option<String>> = db
        .store
        .audit_log(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.address)
        .collect();
    assert_eq!(
        addresses,
        [
            Some("198.51.100.0/24".to_owned()),
            Some("2001:db8::1".to_owned()),
            Some("203.0.113.7".to_owned())
        ]
    );
}

/// An admin's ban on `network`, two hours old at `now` and over `hours`
/// after it (already over when negative).
fn admin_ban(network: &str, now: chrono::DateTime<Utc>, hours: i64) -> NewBan {
    NewBan {
        network: network.parse().unwrap(),
        reason: "test".into(),
        source: "admin".into(),
        created_by: "test".into(),
        created_at: now - Duration::hours(2),
        until: now + Duration::hours(hours),
    }
}

#[tokio::test]
async fn a_connects_facts_are_the_session_the_bans_and_the_account_read_at_once() {
    let db = db().await;
    let store = db.store.as_ref();
    let now = Utc::now();
    let alice: AccountName = "alice".parse().unwrap();
    let tunnel: IpAddr = "10.10.0.5".parse().unwrap();
    let caller: IpAddr = "203.0.113.7".parse().unwrap();
    let facts = |account: &AccountName, tunnel: IpAddr, caller: Option<IpAddr>| {
        let account = account.clone();
        async move {
            store
                .connect_facts(&router(), &account, tunnel, caller, now)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        facts(&alice, tunnel, Some(caller)).await,
        tgate_core::storage::ConnectFacts::default()
    );

    store.ensure_account(&router(), &alice).await.unwrap();
    store
        .set_account_owner(&router(), &alice, Some(4242))
        .await
        .unwrap();
    let s = pending("alice", "10.10.0.5", "203.0.113.7");
    store.insert_pending(&s).await.unwrap();
    let ban = |network: &str, hours: i64| admin_ban(network, now, hours);
    store.insert_ban(&ban("203.0.113.7/32", -1)).await.unwrap(); // over
    let lifted = store.insert_ban(&ban("203.0.113.0/24", 5)).await.unwrap();
    store.lift_ban(lifted.id, now, "test").await.unwrap();
    store.insert_ban(&ban("198.51.100.0/24", 9)).await.unwrap(); // elsewhere
    let host = store.insert_ban(&ban("203.0.113.7/32", 1)).await.unwrap();
    let net = store.insert_ban(&ban("203.0.112.0/23", 3)).await.unwrap();

    // Every column as the single-purpose reads give it.
    let found = facts(&alice, tunnel, Some(caller)).await;
    let session = store.session(s.id).await.unwrap();
    assert_eq!(found.open_session.as_ref().map(|f| f.id), Some(s.id));
    assert_eq!(found.open_session, session);
    let account = store.account(&router(), &alice).await.unwrap();
    assert_eq!(
        found.account.as_ref().and_then(|a| a.owner_tg_id),
        Some(4242)
    );
    assert_eq!(found.account, account);
    let mut bans = found.bans.clone();
    bans.sort_by_key(|b| b.id);
    assert_eq!(bans, [host.clone(), net.clone()]);
    assert_eq!(
        ban_covering(&found.bans, caller).map(|b| b.id),
        Some(net.id),
        "the /23 lasts longer"
    );

    // Each part on its own.
    let elsewhere = facts(&alice, "10.10.0.9".parse().unwrap(), Some(caller)).await;
    assert_eq!(elsewhere.open_session, None);
    assert_eq!(elsewhere.account, account);
    assert_eq!(elsewhere.bans.len(), 2);
    let no_address = facts(&alice, tunnel, None).await;
    assert_eq!(no_address.open_session, session);
    assert_eq!(no_address.bans, []);
    let unbanned = facts(&alice, tunnel, Some("192.0.2.1".parse().unwrap())).await;
    assert_eq!(unbanned.bans, []);
    assert_eq!(unbanned.account, account);
    let bob = facts(&"bob".parse().unwrap(), tunnel, Some(caller)).await;
    assert_eq!(
        (bob.open_session, bob.account, bob.bans.len()),
        (None, None, 2)
    );

    // An IPv6 caller: its covering networks run to /128.
    let v6: IpAddr = "2001:db8:0:7::5".parse().unwrap();
    let v6_net = store.insert_ban(&ban("2001:db8::/48", 2)).await.unwrap();
    store.insert_ban(&ban("2001:db9::/32", 2)).await.unwrap(); // elsewhere
    let v6_host = store
        .insert_ban(&ban("2001:db8:0:7::5/128", 1))
        .await
        .unwrap();
    let mut v6_bans = facts(&alice, tunnel, Some(v6)).await.bans;
    v6_bans.sort_by_key(|b| b.id);
    assert_eq!(v6_bans, [v6_net, v6_host]);

    // Asked at once (PostgreSQL answers such connects in one statement),
    // each connect hears what it hears alone.
    let bob: AccountName = "bob".parse().unwrap();
    let asked = [
        (&alice, tunnel, Some(caller)),
        (&bob, tunnel, Some(caller)),
        (&alice, "10.10.0.9".parse().unwrap(), Some(caller)),
        (&alice, tunnel, None),
        (&alice, tunnel, Some(v6)),
        (&alice, tunnel, Some("192.0.2.1".parse().unwrap())),
    ];
    let by_id = |mut facts: tgate_core::storage::ConnectFacts| {
        facts.bans.sort_by_key(|b| b.id);
        facts
    };
    let mut alone = Vec::new();
    for (account, tunnel, caller) in asked {
        alone.push(by_id(facts(account, tunnel, caller).await));
    }
    let together = futures::future::join_all(
        asked.map(|(account, tunnel, caller)| facts(account, tunnel, caller)),
    )
    .await;
    assert_eq!(together.into_iter().map(by_id).collect::<Vec<_>>(), alone);
}

#[tokio::test]
async fn a_plain_connect_inserts_its_pending_session_for_the_owner_in_one_statement() {
    let db = db().await;
    let store = db.store.as_ref();
    let now = Utc::now();
    let stored = || async { store.count_sessions(&Default::default()).await.unwrap() };
    let close = |id| async move {
        store
            .transition(id, Transition::Close, now, "test")
            .await
            .unwrap()
            .expect("an open session to close")
    };
    // An account owned by chat `owner`, who reads `language`.
    let owned = |name: &'static str, owner: i64, language: Option<&'static str>| async move {
        let name: AccountName = name.parse().unwrap();
        store.ensure_account(&router(), &name).await.unwrap();
        store
            .set_account_owner(&router(), &name, Some(owner))
            .await
            .unwrap();
        if let Some(language) = language {
            store.set_owner_language(owner, language).await.unwrap();
        }
    };

    // Not plain: no account, then an account nobody owns and no chat the
    // router named.
    let alice = pending("alice", "10.10.0.5", "203.0.113.7");
    assert_eq!(store.insert_plain_pending(&alice).await.unwrap(), None);
    store
        .ensure_account(&router(), &"alice".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(store.insert_plain_pending(&alice).await.unwrap(), None);
    assert_eq!(stored().await, 0);
    // Nobody owns it, but the router (trusted with it) named a chat
    // (tik2fa): that chat is asked, in the default language.
    let named = NewSession {
        chat_id: Some(77),
        ..pending("alice", "10.10.0.99", "203.0.113.7")
    };
    let asked = store.insert_plain_pending(&named).await.unwrap().unwrap();
    assert_eq!(
        (asked.chat_id, asked.language.as_deref()),
        (Some(77), Some("en"))
    );
    close(named.id).await;

    // Plain: the session as given, prompting the owner in the default
    // language, not the chat the router named nor the language given.
    owned("alice", 4242, None).await;
    let given = NewSession {
        chat_id: Some(7),
        language: Some("ru".into()),
        ..alice.clone()
    };
    let inserted = store.insert_plain_pending(&given).await.unwrap().unwrap();
    assert_eq!(
        Some(&inserted),
        store.session(alice.id).await.unwrap().as_ref()
    );
    assert_eq!(
        (
            inserted.id,
            inserted.state,
            inserted.chat_id,
            inserted.language.as_deref()
        ),
        (alice.id, SessionState::Pending, Some(4242), Some("en"))
    );
    assert_eq!(
        (&inserted.router, &inserted.account, inserted.decided_at),
        (&alice.router, &alice.account, None)
    );
    assert_eq!(
        (
            inserted.caller_id,
            inserted.remote_address,
            inserted.local_address,
            inserted.service,
            inserted.interface.clone(),
        ),
        (
            alice.caller_id,
            alice.remote_address,
            alice.local_address,
            alice.service,
            alice.interface.clone(),
        )
    );
    assert_eq!(
        (
            inserted.created_at.timestamp_millis(),
            inserted.deadline.timestamp_millis()
        ),
        (
            alice.created_at.timestamp_millis(),
            alice.deadline.timestamp_millis()
        )
    );

    // Not plain: the account's session pending elsewhere, or open at the
    // address; then the address held by a confirmed session.
    let elsewhere = pending("alice", "10.10.0.9", "198.51.100.4");
    assert_eq!(store.insert_plain_pending(&elsewhere).await.unwrap(), None);
    store
        .transition(alice.id, Transition::Confirm, now, "test")
        .await
        .unwrap()
        .unwrap();
    let again = pending("alice", "10.10.0.5", "198.51.100.4");
    assert_eq!(store.insert_plain_pending(&again).await.unwrap(), None);
    assert_eq!(stored().await, 2);
    // Once it is closed, the address is free again.
    close(alice.id).await;
    assert!(store.insert_plain_pending(&again).await.unwrap().is_some());

    // The owner's language as prompts read it: any case, else the default.
    // Bob's tunnel address is the one alice's pending session holds: an
    // open session of another account there does not count.
    owned("bob", 5001, Some("RU")).await;
    owned("carol", 5002, Some("de")).await;
    let bob = store
        .insert_plain_pending(&pending("bob", "10.10.0.5", "203.0.113.7"))
        .await
        .unwrap()
        .unwrap();
    let carol = store
        .insert_plain_pending(&pending("carol", "10.10.0.7", "203.0.113.7"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (bob.language.as_deref(), carol.language.as_deref()),
        (Some("ru"), Some("en"))
    );
    assert_eq!((bob.account.as_str(), bob.chat_id), ("bob", Some(5001)));

    // Not plain: a locked account; a caller inside a ban in force.
    owned("dave", 5003, None).await;
    store
        .set_account_locked(&router(), &"dave".parse().unwrap(), true)
        .await
        .unwrap();
    let dave = pending("dave", "10.10.0.8", "203.0.113.7");
    assert_eq!(store.insert_plain_pending(&dave).await.unwrap(), None);
    owned("erin", 5004, None).await;
    let ban = |network: &str, hours: i64| admin_ban(network, now, hours);
    store.insert_ban(&ban("192.0.2.0/24", -1)).await.unwrap(); // over
    store.insert_ban(&ban("192.0.2.128/25", 1)).await.unwrap();
    let banned = pending("erin", "10.10.0.10", "192.0.2.200");
    assert_eq!(store.insert_plain_pending(&banned).await.unwrap(), None);
    let v6_ban = store.insert_ban(&ban("2001:db8::/32", 1)).await.unwrap();
    let banned_v6 = pending("erin", "10.10.0.10", "2001:db8::5");
    assert_eq!(store.insert_plain_pending(&banned_v6).await.unwrap(), None);
    assert_eq!(stored().await, 5);
    // Outside the bans, or lifted, or a caller that is no address.
    let free = pending("erin", "10.10.0.10", "192.0.2.100");
    assert!(store.insert_plain_pending(&free).await.unwrap().is_some());
    close(free.id).await;
    store.lift_ban(v6_ban.id, now, "test").await.unwrap();
    assert!(
        store
            .insert_plain_pending(&banned_v6)
            .await
            .unwrap()
            .is_some()
    );
    close(banned_v6.id).await;
    let mac = pending("erin", "10.10.0.10", "AA:BB:CC:DD:EE:FF");
    assert!(store.insert_plain_pending(&mac).await.unwrap().is_some());
    assert_eq!(stored().await, 8);
}

#[tokio::test]
async fn the_ban_in_force_for_an_address_is_the_longest_covering_one() {
    let db = db().await;
    let store = db.store.as_ref();
    let now = Utc::now();
    let ban = |network: &str, hours: i64| admin_ban(network, now, hours);
    // What a strike reads: the covering bans, of which the longest counts.
    let in_force = |ip: IpAddr| async move {
        let caller = tgate_core::domain::CallerId::Ip(ip);
        let facts = store.strike_facts(&caller, now, now).await.unwrap();
        tgate_core::storage::ban_covering(&facts.bans, ip).cloned()
    };
    let ip: IpAddr = "203.0.113.7".parse().unwrap();
    assert_eq!(in_force(ip).await, None);

    store.insert_ban(&ban("203.0.113.7/32", -1)).await.unwrap(); // over
    let lifted = store.insert_ban(&ban("203.0.113.7/32", 5)).await.unwrap();
    store.lift_ban(lifted.id, now, "test").await.unwrap();
    store.insert_ban(&ban("198.51.100.0/24", 9)).await.unwrap(); // elsewhere
    assert_eq!(in_force(ip).await, None);

    let host = store.insert_ban(&ban("203.0.113.7/32", 1)).await.unwrap();
    let net = store.insert_ban(&ban("203.0.113.0/24", 3)).await.unwrap();
    let found = in_force(ip).await;
    assert_eq!(found.map(|b| b.id), Some(net.id), "the /24 lasts longer");

    let exact = |n: &str| tgate_core::storage::network_banned(store, n.parse().unwrap(), now);
    assert!(exact("203.0.113.7/32").await.unwrap());
    assert!(exact("203.0.113.0/24").await.unwrap());
    assert!(!exact("203.0.112.0/23").await.unwrap());
    store.lift_ban(host.id, now, "test").await.unwrap();
    assert!(!exact("203.0.113.7/32").await.unwrap());

    let v6: IpAddr = "2001:db8::7".parse().unwrap();
    store.insert_ban(&ban("2001:db8::/32", 2)).await.unwrap();
    let v6_host = store.insert_ban(&ban("2001:db8::7/128", 4)).await.unwrap();
    let found = in_force(v6).await;
    assert_eq!(
        found.map(|b| b.id),
        Some(v6_host.id),
        "the /128 lasts longer"
    );
    assert!(exact("2001:db8::/32").await.unwrap());
}
