//! Enrollment end to end (SPEC §2): an admin's invite link, opened in
//! Telegram, makes the opener the account's owner, once.

mod common;

use std::time::Duration;

use common::{PATIENCE, System, office, owner};
use tgate_core::domain::AccountName;
use tgate_core::enroll::create_invite;
use tgate_sim::TgUser;

async fn reply_to(sys: &System, user: &TgUser, text: &str) -> String {
    let before = sys.tg.bot_messages(user.id).len();
    sys.tg.user_sends(user, text);
    let until = tokio::time::Instant::now() + PATIENCE;
    loop {
        let msgs = sys.tg.bot_messages(user.id);
        if msgs.len() > before {
            return msgs[before].text.clone();
        }
        assert!(tokio::time::Instant::now() < until, "no reply to {text:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_link_enrolls_its_opener_once() {
    let sys = System::start().await;
    let bob: AccountName = "bob".parse().unwrap();
    let invite = create_invite(
        sys.store().as_ref(),
        &office(),
        &bob,
        "test",
        Duration::from_secs(3600),
    )
    .await
    .unwrap();

    let alice = owner().lang("ru");
    let reply = reply_to(&sys, &alice, &format!("/start {}", invite.code)).await;
    assert!(reply.contains("bob") && reply.contains("office"), "{reply}");
    let account = sys.store().account(&office(), &bob).await.unwrap().unwrap();
    assert_eq!(account.owner_tg_id, Some(alice.id));
    assert_eq!(
        account.language.as_deref(),
        Some("ru"),
        "the opener's language is kept"
    );

    // The link works once.
    let mallory = TgUser::new(666, "Mallory");
    let reply = reply_to(&sys, &mallory, &format!("/start {}", invite.code)).await;
    assert_eq!(reply, "This invite link was already used.");
    let account = sys.store().account(&office(), &bob).await.unwrap().unwrap();
    assert_eq!(account.owner_tg_id, Some(alice.id));

    // The new owner is asked at the next connect, in Russian.
    let (status, _) = sys.connect("bob", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202);
    let prompt = sys.prompt(alice.id).await;
    assert!(prompt.text.contains("это вы?"), "{}", prompt.text);
    assert_eq!(prompt.buttons[0][0].text, "✅ Это я");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_unknown_invites_are_refused_clearly() {
    let sys = System::start().await;
    let carol: AccountName = "carol".parse().unwrap();
    let stale = create_invite(
        sys.store().as_ref(),
        &office(),
        &carol,
        "test",
        Duration::ZERO,
    )
    .await
    .unwrap();
    let user = owner();
    let reply = reply_to(&sys, &user, &format!("/start {}", stale.code)).await;
    assert_eq!(
        reply,
        "This invite link has expired. Ask your admin for a new one."
    );
    let reply = reply_to(&sys, &user, "/start notarealcode123").await;
    assert_eq!(reply, "This invite link is not valid.");
    let account = sys
        .store()
        .account(&office(), &carol)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.owner_tg_id, None);

    // An unenrolled account is refused at connect; the admins hear once.
    let (status, body) = sys.connect("carol", "203.0.113.7", "10.10.0.5").await;
    assert_eq!((status, body["state"].as_str()), (403, Some("unenrolled")));
    let alert = sys
        .tg
        .wait_for(common::ADMIN, PATIENCE, |m| m.text.contains("carol"))
        .await
        .expect("admins told");
    assert!(
        alert.text.contains("tgate accounts invite office carol"),
        "{}",
        alert.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_language_work_against_the_real_api() {
    let sys = System::start().await;
    let alice = owner();
    let reply = reply_to(&sys, &alice, "/status").await;
    assert_eq!(reply, "You have no VPN accounts yet.");

    sys.enroll("alice", &alice).await;
    let (status, _) = sys.connect("alice", "203.0.113.7", "10.10.0.5").await;
    assert_eq!(status, 202);
    sys.prompt(alice.id).await;
    let reply = reply_to(&sys, &alice, "/status").await;
    assert!(
        reply.contains("alice") && reply.contains("office"),
        "{reply}"
    );
    assert!(
        reply.contains("203.0.113.7"),
        "the live session is listed: {reply}"
    );

    reply_to(&sys, &alice, "/language").await;
    let press = sys
        .tg
        .user_presses_button(&alice, alice.id, "Русский")
        .expect("language buttons");
    let toast = sys.tg.wait_for_answer(&press, PATIENCE).await.unwrap();
    assert_eq!(toast.text.as_deref(), Some("Язык: русский"));
    let account = sys
        .store()
        .account(&office(), &"alice".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.language.as_deref(), Some("ru"));
}
