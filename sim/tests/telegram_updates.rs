//! Users acting on the bot and the bot hearing about it: messages and
//! button presses reaching teloxide through getUpdates long polling, the
//! answers to presses, and the rules Telegram enforces on pollers.

mod telegram_support;

use std::time::{Duration, Instant};

use telegram_support::{alice, prompt_keyboard, start};
use teloxide::prelude::*;
use teloxide::types::{MessageEntityKind, UpdateKind};
use teloxide::{ApiError, RequestError};
use tgate_sim::TgUser;

#[tokio::test]
async fn a_command_arrives_with_its_entity() {
    let (sim, bot) = start().await;
    let sent_id = sim.user_sends(&alice(), "/start ABC123");
    let updates = bot.get_updates().await.expect("getUpdates");
    assert_eq!(updates.len(), 1);
    let UpdateKind::Message(m) = &updates[0].kind else {
        panic!("expected a message, got {:?}", updates[0].kind);
    };
    assert_eq!(i64::from(m.id.0), sent_id);
    assert_eq!(m.text(), Some("/start ABC123"));
    let entity = &m.entities().expect("entities")[0];
    assert_eq!(entity.kind, MessageEntityKind::BotCommand);
    assert_eq!((entity.offset, entity.length), (0, 6));
    let from = m.from.as_ref().expect("from");
    assert_eq!(from.id.0, 1001);
    assert_eq!(from.language_code.as_deref(), Some("ru"));
    assert!(m.chat.is_private());
    assert_eq!(m.chat.first_name(), Some("Alice"));

    // Plain text has no entity.
    sim.user_sends(&alice(), "hello");
    let next = bot
        .get_updates()
        .offset(updates[0].id.0 as i32 + 1)
        .await
        .expect("getUpdates");
    let UpdateKind::Message(m) = &next[0].kind else {
        panic!("expected a message");
    };
    assert!(m.entities().is_none_or(<[_]>::is_empty));
}

#[tokio::test]
async fn a_long_poll_counts_as_started_while_it_waits() {
    let (sim, bot) = start().await;
    assert_eq!(sim.polls_started(), 0);
    let poll = tokio::spawn(async move { bot.get_updates().timeout(10).await });
    let until = Instant::now() + Duration::from_secs(5);
    while sim.polls_started() == 0 {
        assert!(Instant::now() < until, "the poll never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        sim.calls().iter().all(|c| c.method != "getUpdates"),
        "a waiting poll is not an answered call yet"
    );
    sim.user_sends(&alice(), "/status");
    poll.await.expect("join").expect("getUpdates");
    assert_eq!(sim.polls_started(), 1);
    assert!(sim.calls().iter().any(|c| c.method == "getUpdates"));
}

#[tokio::test]
async fn offset_confirms_and_update_ids_increase() {
    let (sim, bot) = start().await;
    sim.user_sends(&alice(), "one");
    sim.user_sends(&alice(), "two");
    let first = bot.get_updates().limit(1).await.expect("getUpdates");
    assert_eq!(first.len(), 1);
    let all = bot.get_updates().await.expect("getUpdates");
    assert_eq!(all.len(), 2, "nothing confirmed yet");
    assert!(all[1].id.0 > all[0].id.0);
    let after = bot
        .get_updates()
        .offset(all[1].id.0 as i32 + 1)
        .await
        .expect("getUpdates");
    assert!(after.is_empty());
}

#[tokio::test]
async fn a_waiting_long_poll_returns_when_the_message_arrives() {
    let (sim, bot) = start().await;
    let started = Instant::now();
    let poll = tokio::spawn(async move { bot.get_updates().timeout(10).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.user_sends(&alice(), "/status");
    let updates = poll.await.expect("join").expect("getUpdates");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "returned early");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert!(matches!(&updates[0].kind, UpdateKind::Message(m) if m.text() == Some("/status")));
}

#[tokio::test]
async fn an_empty_long_poll_waits_out_its_timeout() {
    let (_sim, bot) = start().await;
    let started = Instant::now();
    let updates = bot.get_updates().timeout(1).await.expect("getUpdates");
    assert!(updates.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_second_poller_terminates_the_first() {
    let (sim, bot) = start().await;
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(10).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = bot.get_updates().timeout(0).await.expect("second poll");
    assert!(second.is_empty());
    match first.await.expect("join") {
        Err(RequestError::Api(ApiError::TerminatedByOtherGetUpdates)) => {}
        other => panic!("expected a 409 conflict, got {other:?}"),
    }
    assert!(sim.calls().iter().any(|c| c.status == 409));
}

#[tokio::test]
async fn a_press_reaches_the_bot_and_is_answered_once() {
    let (sim, bot) = start().await;
    let sent = bot
        .send_message(ChatId(1001), "Login as alice?")
        .reply_markup(prompt_keyboard())
        .await
        .expect("sendMessage");
    let query_id = sim
        .user_presses_button(&alice(), 1001, "It's me")
        .expect("button shows");
    let updates = bot.get_updates().await.expect("getUpdates");
    let UpdateKind::CallbackQuery(q) = &updates[0].kind else {
        panic!("expected a callback query, got {:?}", updates[0].kind);
    };
    assert_eq!(q.id.0, query_id);
    assert_eq!(q.data.as_deref(), Some("ok:42:tag"));
    assert_eq!(q.from.id.0, 1001);
    assert!(!q.chat_instance.is_empty());
    let message = q.regular_message().expect("the prompt itself");
    assert_eq!(message.id, sent.id);
    assert_eq!(message.text(), Some("Login as alice?"));
    assert!(message.reply_markup().is_some());

    bot.answer_callback_query(q.id.clone())
        .text("Allowed")
        .await
        .expect("answer");
    let answer = sim
        .wait_for_answer(&query_id, Duration::from_secs(1))
        .await
        .expect("recorded");
    assert_eq!(answer.text.as_deref(), Some("Allowed"));
    assert!(!answer.show_alert);

    let twice = bot.answer_callback_query(q.id.clone()).await;
    let Err(RequestError::Api(ApiError::Unknown(description))) = twice else {
        panic!("expected Telegram's 400, got {twice:?}");
    };
    assert_eq!(
        description,
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    );
    let unknown = bot.answer_callback_query("nope".to_owned().into()).await;
    assert!(unknown.is_err());
    assert_eq!(sim.callback_answers().len(), 1);
}

#[tokio::test]
async fn presses_on_gone_or_foreign_messages_still_arrive() {
    let (sim, bot) = start().await;
    let sent = bot
        .send_message(ChatId(1001), "Login as alice?")
        .reply_markup(prompt_keyboard())
        .await
        .expect("sendMessage");
    bot.delete_message(ChatId(1001), sent.id)
        .await
        .expect("delete");
    assert_eq!(sim.user_presses_button(&alice(), 1001, "It's me"), None);

    // Mallory forges a press on Alice's (deleted) prompt.
    let mallory = TgUser::new(6666, "Mallory");
    sim.user_presses(&mallory, 1001, i64::from(sent.id.0), "ok:42:forged");
    let updates = bot.get_updates().await.expect("getUpdates");
    let UpdateKind::CallbackQuery(q) = &updates[0].kind else {
        panic!("expected a callback query, got {:?}", updates[0].kind);
    };
    assert_eq!(q.from.id.0, 6666);
    assert_eq!(q.data.as_deref(), Some("ok:42:forged"));
    let message = q.message.as_ref().expect("message reference");
    assert!(
        message.regular_message().is_none(),
        "deleted → inaccessible"
    );
    assert_eq!(message.id(), sent.id);
    assert_eq!(message.chat().id, ChatId(1001));
}

#[tokio::test]
async fn wait_for_sees_a_later_edit() {
    let (sim, bot) = start().await;
    let sent = bot
        .send_message(ChatId(1001), "Login as alice?")
        .reply_markup(prompt_keyboard())
        .await
        .expect("sendMessage");
    let editor = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        bot.edit_message_text(ChatId(1001), sent.id, "Login as alice? Denied")
            .await
    });
    let seen = sim
        .wait_for(1001, Duration::from_secs(5), |m| m.text.ends_with("Denied"))
        .await
        .expect("edited");
    assert!(seen.edited && seen.buttons.is_empty());
    editor.await.expect("join").expect("edit");
    let never = sim
        .wait_for(1001, Duration::from_millis(50), |m| m.text == "nope")
        .await;
    assert!(never.is_none());
}
