//! Expiry at the deadline: a session nobody answers expires with nothing
//! but waiting, and an answer racing the deadline has exactly one outcome.

mod common;

use common::{Harness, OWNER, eventually};
use tgate_core::domain::SessionState;
use tgate_core::gate::PressOutcome;

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

    eventually("the session expires", || async {
        h.state(&s).await == SessionState::Expired
    })
    .await;
    eventually("the PPP session is disconnected", || async {
        !h.connected("alice")
    })
    .await;
    eventually("the sandbox entry is gone", || async {
        h.listed("tgate-sandbox", "10.10.0.5").is_none()
    })
    .await;
    let row = h.store().session(s.id).await.unwrap().unwrap();
    assert_eq!(row.decided_by.as_deref(), Some("tgate:deadline"));
    assert!(
        row.decided_at.unwrap() >= row.deadline,
        "never before the deadline"
    );
    assert_eq!(h.audited(&s, "session.expired").await, 1);
    h.stop_worker().await;
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
