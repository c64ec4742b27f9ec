//! The confirm flow end to end (SPEC §4, §7): a PPP client connects, the owner
//! is prompted in Telegram, and the answer moves the router.

mod common;

use common::{ADMIN, BAN, PATIENCE, PERMIT, SANDBOX, System, owner};
use tgate_core::domain::SessionState;
use tgate_sim::{Failure, TgUser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_me_moves_the_address_to_permit_and_edits_the_prompt() {
    let sys = System::start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;

    let (status, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202, "{body}");
    let prompt = sys.prompt(alice.id).await;
    assert!(prompt.text.contains("is this you?"), "{}", prompt.text);
    for part in ["alice", "office", "203.0.113.7", "L2TP"] {
        assert!(
            prompt.text.contains(part),
            "{part} missing: {}",
            prompt.text
        );
    }
    let labels: Vec<_> = prompt.buttons[0].iter().map(|b| b.text.as_str()).collect();
    assert_eq!(labels, ["✅ It's me", "❌ Not me"]);
    assert!(
        prompt.buttons[0]
            .iter()
            .all(|b| b.callback_data.as_ref().unwrap().len() <= 64)
    );

    let press = sys
        .tg
        .user_presses_button(&alice, alice.id, "✅ It's me")
        .expect("button");
    let toast = sys
        .tg
        .wait_for_answer(&press, PATIENCE)
        .await
        .expect("answered");
    assert_eq!(toast.text.as_deref(), Some("Allowed"));

    sys.eventually("address permitted", || sys.list(PERMIT) == ["10.10.0.5"])
        .await;
    assert!(sys.list(SANDBOX).is_empty(), "{:?}", sys.list(SANDBOX));
    let edited = sys.edit_of(&prompt, "prompt edited").await;
    assert!(edited.buttons.is_empty(), "buttons left live");
    assert!(edited.text.contains("✅ Allowed."), "{}", edited.text);
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Confirmed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_me_disconnects_bans_the_caller_and_alerts_the_admins() {
    let sys = System::start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    let (_, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    sys.prompt(alice.id).await;

    let press = sys
        .tg
        .user_presses_button(&alice, alice.id, "❌ Not me")
        .unwrap();
    let toast = sys.tg.wait_for_answer(&press, PATIENCE).await.unwrap();
    assert!(toast.text.unwrap().starts_with("Denied"));

    assert!(sys.router.active_sessions().is_empty(), "session still up");
    let bans = sys.router.address_list(BAN);
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].address, "203.0.113.7");
    let left = bans[0].timeout.expect("ban has a timeout");
    assert!(left.as_secs() > 3500 && left.as_secs() <= 3600, "{left:?}");
    assert!(sys.list(SANDBOX).is_empty());
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Denied
    );

    let alert = sys
        .tg
        .wait_for(ADMIN, PATIENCE, |m| m.text.contains("Not me"))
        .await
        .expect("admin alert");
    assert!(
        alert.text.contains("203.0.113.7") && alert.text.contains("alice"),
        "{}",
        alert.text
    );

    // The caller is now refused at connect.
    let (status, body) = sys.connect("alice", "203.0.113.7", "10.10.0.6").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["state"], "banned");
}

/// The toast a press got; every press must get one.
async fn toast(sys: &System, id: String) -> Option<String> {
    sys.tg
        .wait_for_answer(&id, PATIENCE)
        .await
        .expect("every press is answered")
        .text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_presses_change_nothing_and_are_answered() {
    let sys = System::start().await;
    let alice = owner();
    let mallory = TgUser::new(666, "Mallory");
    sys.enroll("alice", &alice).await;
    let (_, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    let prompt = sys.prompt(alice.id).await;
    let yes = prompt.buttons[0][0].callback_data.clone().unwrap();

    // A bad tag: the last characters changed.
    let mut forged = yes.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let id = sys
        .tg
        .user_presses(&alice, alice.id, prompt.message_id, &forged);
    assert_eq!(toast(&sys, id).await.as_deref(), Some("Invalid button"));
    // Junk that is not tgate's at all.
    let id = sys
        .tg
        .user_presses(&alice, alice.id, prompt.message_id, "y:junk");
    assert_eq!(toast(&sys, id).await.as_deref(), Some("Invalid button"));
    // The right data, pressed by somebody else.
    let id = sys
        .tg
        .user_presses(&mallory, alice.id, prompt.message_id, &yes);
    assert_eq!(toast(&sys, id).await.as_deref(), Some("Not yours"));

    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Pending
    );
    assert!(sys.list(PERMIT).is_empty());

    // The real press, then a replay of it.
    let id = sys
        .tg
        .user_presses(&alice, alice.id, prompt.message_id, &yes);
    assert_eq!(toast(&sys, id).await.as_deref(), Some("Allowed"));
    let id = sys
        .tg
        .user_presses(&alice, alice.id, prompt.message_id, &yes);
    assert_eq!(toast(&sys, id).await.as_deref(), Some("Already handled"));
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Confirmed
    );

    // A press on an old, closed session.
    sys.router.disconnect_ppp("alice").await.unwrap();
    let no = prompt.buttons[0][1].callback_data.clone().unwrap();
    let id = sys
        .tg
        .user_presses(&alice, alice.id, prompt.message_id, &no);
    let text = toast(&sys, id).await.unwrap();
    assert!(
        text == "Already handled" || text == "That session has ended",
        "{text}"
    );
    assert!(
        sys.router.address_list(BAN).is_empty(),
        "a stale Not me banned someone"
    );
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Closed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_delivered_after_the_client_left_loses_its_buttons_at_once() {
    let sys = System::start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    // Telegram is slow to take the prompt; the client hangs up meanwhile,
    // so the close finds no message to edit yet.
    sys.tg.set_latency(std::time::Duration::from_millis(800));
    let (_, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    sys.router.disconnect_ppp("alice").await.unwrap();
    let until = tokio::time::Instant::now() + PATIENCE;
    while sys.session(&body["session"]).await.state != SessionState::Closed {
        assert!(tokio::time::Instant::now() < until, "session not closed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        sys.tg.bot_messages(alice.id).is_empty(),
        "the prompt arrived before the hang-up; the test proves nothing"
    );

    let edited = sys
        .tg
        .wait_for(alice.id, PATIENCE, |m| m.from_bot && m.edited)
        .await
        .expect("the late prompt is edited");
    assert!(edited.buttons.is_empty(), "buttons left live");
    assert!(
        edited.text.contains("disconnected before an answer"),
        "{}",
        edited.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_after_the_client_left_says_the_session_ended() {
    let sys = System::start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    let (_, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    let prompt = sys.prompt(alice.id).await;

    sys.router.disconnect_ppp("alice").await.unwrap();
    let edited = sys
        .edit_of(&prompt, "the prompt says the client left")
        .await;
    assert!(edited.buttons.is_empty());
    assert!(
        edited.text.contains("disconnected before an answer"),
        "{}",
        edited.text
    );

    let id = sys.tg.user_presses(
        &alice,
        alice.id,
        prompt.message_id,
        prompt.buttons[0][0].callback_data.as_ref().unwrap(),
    );
    let toast = sys.tg.wait_for_answer(&id, PATIENCE).await.unwrap();
    assert_eq!(toast.text.as_deref(), Some("That session has ended"));
    assert!(sys.list(PERMIT).is_empty());
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Closed
    );
}

/// A prompt is edited in the language it was written in, even when its
/// owner has chosen another since (the next prompt uses the new one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_is_edited_in_the_language_it_was_written_in() {
    let sys = System::start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    sys.store()
        .set_owner_language(alice.id, "ru")
        .await
        .unwrap();
    sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    let prompt = sys.prompt(alice.id).await;
    assert!(prompt.text.contains("это вы?"), "{}", prompt.text);

    sys.tg.user_sends(&alice, "/language");
    sys.tg
        .wait_for(alice.id, PATIENCE, |m| {
            m.buttons.iter().flatten().any(|b| b.text == "English")
        })
        .await
        .expect("language buttons");
    let press = sys
        .tg
        .user_presses_button(&alice, alice.id, "English")
        .expect("English button");
    sys.tg.wait_for_answer(&press, PATIENCE).await.unwrap();

    sys.router.disconnect_ppp("alice").await.unwrap();
    let edited = sys
        .edit_of(&prompt, "the prompt says the client left")
        .await;
    assert!(
        edited.text.contains("это вы?") && edited.text.contains("Клиент отключился до ответа"),
        "{}",
        edited.text
    );

    sys.connect("alice", "203.0.113.7", "10.10.0.6").await;
    let next = sys
        .tg
        .wait_for(alice.id, PATIENCE, |m| {
            m.from_bot && !m.buttons.is_empty() && m.message_id != prompt.message_id
        })
        .await
        .expect("the next prompt");
    assert!(next.text.contains("is this you?"), "{}", next.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_survives_telegrams_rate_limit() {
    let sys = System::start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    sys.tg.fail_next(
        "sendMessage",
        Failure::TooManyRequests { retry_after: 1 },
        1,
    );
    let (status, _) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202);
    let prompt = sys.prompt(alice.id).await;
    assert!(prompt.text.contains("is this you?"));
    let send_message_statuses = || -> Vec<u16> {
        sys.tg
            .calls()
            .into_iter()
            .filter(|c| c.method == "sendMessage")
            .map(|c| c.status)
            .collect()
    };
    // The simulator logs a call just after it answers it, so the prompt can
    // be seen a moment before its call is in the log.
    sys.eventually("the prompt's sendMessage in the call log", || {
        send_message_statuses().len() >= 2
    })
    .await;
    assert_eq!(
        send_message_statuses(),
        [429, 200],
        "one refusal, then the retry after retry_after"
    );
    assert_eq!(
        sys.tg.bot_messages(alice.id).len(),
        1,
        "one prompt, not two"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connect_while_pending_is_blocked_with_one_note() {
    let sys = System::start().await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    let (status, _) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202);
    sys.prompt(alice.id).await;

    let (status, body) = sys.connect("alice", "198.51.100.66", "10.10.0.6").await;
    assert_eq!(status, 409, "{body}");
    let note = sys
        .tg
        .wait_for(alice.id, PATIENCE, |m| m.text.contains("198.51.100.66"))
        .await
        .expect("a note about the blocked attempt");
    assert!(note.buttons.is_empty(), "a note, not a second prompt");
    let with_buttons = sys
        .tg
        .bot_messages(alice.id)
        .into_iter()
        .filter(|m| !m.buttons.is_empty())
        .count();
    assert_eq!(with_buttons, 1, "exactly one prompt");
    let active: Vec<_> = sys
        .router
        .active_sessions()
        .into_iter()
        .map(|s| s.address)
        .collect();
    assert_eq!(active, [common::ip("10.10.0.5")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_past_the_deadline_disconnects_and_says_so() {
    let sys = System::start_with("confirm_timeout = \"2s\"").await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    let (status, body) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202);
    let prompt = sys.prompt(alice.id).await;

    // Nobody answers; nothing else happens but waiting.
    let edited = sys.edit_of(&prompt, "the prompt says it timed out").await;
    assert!(
        edited.text.contains("⌛ Not confirmed in time"),
        "{}",
        edited.text
    );
    assert!(edited.buttons.is_empty());
    sys.eventually("client disconnected", || {
        sys.router.active_sessions().is_empty()
    })
    .await;
    sys.eventually("sandbox entry dropped", || sys.list(SANDBOX).is_empty())
        .await;
    assert!(sys.list(PERMIT).is_empty());
    assert_eq!(
        sys.session(&body["session"]).await.state,
        SessionState::Expired
    );

    // A late press changes nothing.
    let press = sys.tg.user_presses(
        &alice,
        alice.id,
        prompt.message_id,
        prompt.buttons[0][0].callback_data.as_ref().unwrap(),
    );
    let toast = sys.tg.wait_for_answer(&press, PATIENCE).await.unwrap();
    assert_eq!(toast.text.as_deref(), Some("Expired"));
    assert!(sys.list(PERMIT).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_who_keep_connecting_unconfirmed_are_banned() {
    let sys = System::start_with("confirm_timeout = \"1s\"\nmax_strikes = 2").await;
    let alice = owner();
    sys.enroll("alice", &alice).await;
    for tunnel in ["10.10.0.5", "10.10.0.6"] {
        let (status, body) = sys.connect("alice", "198.51.100.23", tunnel).await;
        assert_eq!(status, 202, "{body}");
        let id = body["session"].clone();
        let until = tokio::time::Instant::now() + PATIENCE;
        while sys.session(&id).await.state == SessionState::Pending {
            assert!(tokio::time::Instant::now() < until, "not expired");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    sys.eventually("caller banned on the router", || {
        sys.list(BAN) == ["198.51.100.23"]
    })
    .await;
    let (status, body) = sys.connect("alice", "198.51.100.23", "10.10.0.7").await;
    assert_eq!((status, body["state"].as_str()), (403, Some("banned")));
    sys.tg
        .wait_for(ADMIN, PATIENCE, |m| m.text.contains("198.51.100.23"))
        .await
        .expect("admins told of the ban");
}
