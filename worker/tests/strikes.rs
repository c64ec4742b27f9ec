//! Strikes and bans (SPEC §5) observed on the simulated router: repeat
//! offenders land on its ban list with a timeout, their sessions are
//! kicked, bans double, never_ban callers are left alone.

mod common;

use std::time::Duration;

use common::{Harness, OWNER, eventually};
use tgate_core::domain::SessionState;
use tgate_core::gate::ConnectOutcome;

const POLICY: &str = r#"
confirm_timeout = "1s"
max_strikes = 3
strike_window = "10m"
ban_time = "1h"
ban_time_max = "1w"
never_ban = ["192.0.2.0/24"]
"#;

/// Three unconfirmed connects from `caller`, each left to expire.
async fn three_strikes(h: &Harness, caller: &str, round: u8) {
    let mut sessions = Vec::new();
    for i in 0..3u8 {
        let account = format!("r{round}u{i}");
        h.enroll(&account).await;
        sessions.push(
            h.pending(&account, caller, &format!("10.10.{round}.{}", 10 + i))
                .await,
        );
    }
    for s in &sessions {
        eventually("the session expires", || async {
            h.state(s).await == SessionState::Expired
        })
        .await;
    }
}

fn timeout_near(entry: &tgate_sim::SimEntry, expected: Duration) -> bool {
    let left = entry.timeout.unwrap_or_default();
    left <= expected && left + Duration::from_secs(120) >= expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeat_offenders_are_banned_kicked_and_banned_longer_next_time() {
    let mut h = Harness::new(POLICY, "").await;
    h.start_worker();
    let caller = "203.0.113.7";

    // A session from the same caller that its owner did confirm.
    h.enroll("bob").await;
    let bob = h.pending("bob", caller, "10.10.9.9").await;
    h.gate.confirm(bob.id, OWNER).await.unwrap();
    assert_eq!(h.state(&bob).await, SessionState::Confirmed);

    three_strikes(&h, caller, 1).await;
    eventually("the caller is on the ban list", || async {
        h.listed("tgate-ban", caller).is_some()
    })
    .await;
    let entry = h.listed("tgate-ban", caller).unwrap();
    assert!(timeout_near(&entry, Duration::from_secs(3600)), "{entry:?}");
    assert!(entry.comment.unwrap().starts_with("tgate:ban "));
    eventually("the caller's live session is kicked", || async {
        !h.connected("bob")
    })
    .await;

    h.enroll("carol").await;
    let next = h.connect("carol", caller, "10.10.9.10").await;
    let ConnectOutcome::Banned(ban) = next else {
        panic!("expected Banned, got {next:?}");
    };
    assert!(!h.connected("carol"));

    // Lifted by an admin: gone from the router too.
    h.gate
        .lift_ban(ban.id, "admin:test")
        .await
        .unwrap()
        .unwrap();
    assert!(h.listed("tgate-ban", caller).is_none());

    // The second ban is twice as long.
    three_strikes(&h, caller, 2).await;
    eventually("banned again", || async {
        h.listed("tgate-ban", caller).is_some()
    })
    .await;
    let entry = h.listed("tgate-ban", caller).unwrap();
    assert!(timeout_near(&entry, Duration::from_secs(7200)), "{entry:?}");
    h.stop_worker().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_never_ban_caller_is_never_banned() {
    let mut h = Harness::new(POLICY, "").await;
    h.start_worker();
    let caller = "192.0.2.50";
    three_strikes(&h, caller, 1).await;
    three_strikes(&h, caller, 2).await;
    assert!(h.list("tgate-ban").is_empty());
    assert!(
        h.store()
            .active_bans(chrono::Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    h.enroll("dave").await;
    assert!(matches!(
        h.connect("dave", caller, "10.10.9.11").await,
        ConnectOutcome::Pending(_)
    ));
    h.stop_worker().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocked_connects_count_unless_the_same_caller_redials() {
    let h = Harness::new(POLICY, "").await;
    h.enroll("erin").await;
    let pending = h.pending("erin", "203.0.113.20", "10.10.9.12").await;
    let caller = pending.caller_id;
    // The client redialling on its own: blocked, no strike.
    let again = h.connect("erin", "203.0.113.20", "10.10.9.13").await;
    assert!(matches!(
        again,
        ConnectOutcome::Blocked {
            same_caller: true,
            ..
        }
    ));
    let since = chrono::Utc::now() - chrono::Duration::minutes(1);
    let store = h.store();
    let strikes = |caller| async move {
        let facts = store.strike_facts(&caller, since, chrono::Utc::now()).await;
        facts.unwrap().strikes
    };
    assert_eq!(strikes(caller).await, 0);
    // Somebody else trying the same account: a strike against them.
    let other = h.connect("erin", "198.51.100.4", "10.10.9.14").await;
    assert!(matches!(
        other,
        ConnectOutcome::Blocked {
            same_caller: false,
            ..
        }
    ));
    let attacker = "198.51.100.4".parse().unwrap();
    assert_eq!(strikes(attacker).await, 1);
}

/// Strikes that land together (three sessions from one caller expiring in
/// the same instant) ban the caller once, not once per strike that saw it
/// unbanned.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strikes_landing_together_ban_once() {
    let h = Harness::new(POLICY, "").await;
    let caller = "203.0.113.30";
    let mut sessions = Vec::new();
    for i in 0..3u8 {
        let account = format!("t{i}");
        h.enroll(&account).await;
        sessions.push(h.pending(&account, caller, &format!("10.10.7.{i}")).await);
    }
    let strike = |s| h.gate.strike(s, tgate_core::storage::StrikeKind::Expired);
    let (a, b, c) = tokio::join!(
        strike(&sessions[0]),
        strike(&sessions[1]),
        strike(&sessions[2])
    );
    let banned = [a.unwrap(), b.unwrap(), c.unwrap()]
        .iter()
        .filter(|ban| ban.is_some())
        .count();
    assert_eq!(banned, 1);
    let bans = h.store().active_bans(chrono::Utc::now()).await.unwrap();
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert!(h.listed("tgate-ban", caller).is_some());
}
