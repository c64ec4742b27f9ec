//! When a part is down (SPEC §4, §7): the router when the owner answers, or
//! Telegram when the prompt is due. tgate fails secure unless told otherwise.

mod common;

use common::{ADMIN, PATIENCE, PERMIT, SANDBOX, System, owner};
use tgate_core::domain::SessionState;
use tgate_core::storage::AuditFilter;
use tgate_sim::Failure;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_me_with_the_router_unreachable_fails_and_keeps_the_client_sandboxed() {
    let sys = System::start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    let (_, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    let prompt = sys.prompt(alice.id).await;

    sys.router.refuse_connections(true);
    sys.router.drop_connections();
    let press = sys
        .tg
        .user_presses_button(&alice, alice.id, "✅ It's me")
        .unwrap();
    let toast = sys.tg.wait_for_answer(&press, PATIENCE).await.unwrap();
    assert_eq!(
        toast.text.as_deref(),
        Some("Router unreachable, please reconnect")
    );
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Failed
    );

    let edited = sys.edit_of(&prompt, "prompt edited").await;
    assert!(
        edited.text.contains("could not be reached"),
        "{}",
        edited.text
    );
    assert!(edited.buttons.is_empty());
    assert_eq!(sys.list(SANDBOX), ["10.10.0.5"], "still held");
    assert!(sys.list(PERMIT).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_secure_keeps_the_client_waiting_when_telegram_is_down() {
    let sys = System::start_with("confirm_timeout = \"2s\"").await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    // Telegram asks to wait longer than the deadline leaves.
    sys.tg.fail_next(
        "sendMessage",
        Failure::TooManyRequests { retry_after: 30 },
        1,
    );
    let (status, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202);
    let id = body["session"].as_str().unwrap().to_owned();
    let store = sys.store().clone();
    let failed = || {
        let (store, id) = (store.clone(), id.clone());
        async move {
            let filter = AuditFilter {
                session_id: Some(id),
                action: Some("prompt.failed".into()),
                limit: 5,
                ..Default::default()
            };
            !store.audit_log(&filter).await.unwrap().is_empty()
        }
    };
    let until = tokio::time::Instant::now() + PATIENCE;
    while !failed().await {
        assert!(
            tokio::time::Instant::now() < until,
            "prompt failure not recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(sys.tg.bot_messages(alice.id).is_empty());
    assert!(sys.list(PERMIT).is_empty(), "fail-secure must not permit");
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Pending
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_safe_lets_the_client_in_and_tells_the_admins() {
    let sys = System::start_with("confirm_timeout = \"2s\"\nfail_mode = \"safe\"").await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    sys.tg.fail_next(
        "sendMessage",
        Failure::TooManyRequests { retry_after: 30 },
        1,
    );
    let (status, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202);

    // Permit is added before the sandbox entry goes, so wait for both.
    sys.eventually(
        "permitted without an answer, and out of the sandbox",
        || sys.list(PERMIT) == ["10.10.0.5"] && sys.list(SANDBOX).is_empty(),
    )
    .await;
    let row = sys.session(&body["session"]).await;
    assert_eq!(
        (row.state, row.decided_by.as_deref()),
        (SessionState::Confirmed, Some("tgate:fail-safe"))
    );
    let alert = sys
        .tg
        .wait_for(ADMIN, PATIENCE, |m| m.text.contains("without confirmation"))
        .await
        .expect("admins told");
    assert!(alert.text.contains("alice"), "{}", alert.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_hear_once_when_a_router_goes_away_and_once_when_it_is_back() {
    let sys = System::start().await;
    let ready = || async {
        reqwest::get(format!("{}/readyz", sys.api))
            .await
            .unwrap()
            .status()
    };
    let from_bot = |needle: &'static str| {
        let chat = sys.tg.bot_messages(ADMIN);
        chat.iter().filter(|m| m.text.contains(needle)).count()
    };
    // The first answer since installation is recorded, not announced.
    assert_eq!(ready().await, 200);

    sys.router.refuse_connections(true);
    sys.router.drop_connections();
    for _ in 0..3 {
        assert_eq!(ready().await, 503);
    }
    sys.tg
        .wait_for(ADMIN, PATIENCE, |m| {
            m.text.contains("office is unreachable")
        })
        .await
        .expect("admins told the router is away");

    sys.router.refuse_connections(false);
    // The client waits out its reconnect backoff before it tries again.
    let give_up = tokio::time::Instant::now() + PATIENCE;
    while ready().await != 200 {
        assert!(tokio::time::Instant::now() < give_up, "never ready again");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for _ in 0..2 {
        assert_eq!(ready().await, 200);
    }
    sys.tg
        .wait_for(ADMIN, PATIENCE, |m| {
            m.text.contains("office is reachable again")
        })
        .await
        .expect("admins told the router is back");
    // Three failed checks and three good ones: one alert each way.
    assert_eq!(from_bot("is unreachable"), 1);
    assert_eq!(from_bot("reachable again"), 1);

    let store = sys.store();
    let audited = |action: &'static str| async move {
        let filter = AuditFilter {
            action: Some(action.into()),
            limit: 10,
            ..Default::default()
        };
        store.audit_log(&filter).await.unwrap().len()
    };
    assert_eq!(audited("router.down").await, 1);
    assert_eq!(audited("router.up").await, 1);
}
