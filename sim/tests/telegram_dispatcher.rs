//! A whole teloxide bot (Dispatcher, default long polling, handlers) run
//! against the simulator the way tgate's bot runs: a user's /start gets a
//! prompt with buttons, a press gets its toast and the prompt is edited
//! with its buttons gone.

mod telegram_support;

use std::time::Duration;

use telegram_support::{alice, prompt_keyboard, start};
use teloxide::prelude::*;

#[tokio::test]
async fn a_dispatcher_serves_a_user_end_to_end() {
    let (sim, bot) = start().await;
    let handler = dptree::entry()
        .branch(
            Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
                if msg.text() == Some("/start") {
                    bot.send_message(msg.chat.id, "Login as alice?")
                        .reply_markup(prompt_keyboard())
                        .await?;
                }
                respond(())
            }),
        )
        .branch(Update::filter_callback_query().endpoint(
            |bot: Bot, q: CallbackQuery| async move {
                bot.answer_callback_query(q.id.clone())
                    .text("Allowed")
                    .await?;
                if let Some(m) = q.regular_message() {
                    let text = format!("{} Allowed.", m.text().unwrap_or_default());
                    bot.edit_message_text(m.chat.id, m.id, text).await?;
                }
                respond(())
            },
        ));
    let mut dispatcher = Dispatcher::builder(bot, handler).build();
    let running = tokio::spawn(async move { dispatcher.dispatch().await });

    sim.user_sends(&alice(), "/start");
    let prompt = sim
        .wait_for(1001, Duration::from_secs(10), |m| !m.buttons.is_empty())
        .await
        .expect("prompt sent");
    assert_eq!(prompt.text, "Login as alice?");

    let query_id = sim
        .user_presses_button(&alice(), 1001, "It's me")
        .expect("button shows");
    let answer = sim
        .wait_for_answer(&query_id, Duration::from_secs(10))
        .await
        .expect("press answered");
    assert_eq!(answer.text.as_deref(), Some("Allowed"));
    let decided = sim
        .wait_for(1001, Duration::from_secs(10), |m| m.edited)
        .await
        .expect("prompt edited");
    assert_eq!(decided.text, "Login as alice? Allowed.");
    assert!(decided.buttons.is_empty());
    assert_eq!(sim.user_presses_button(&alice(), 1001, "It's me"), None);

    let methods: Vec<String> = sim.calls().into_iter().map(|c| c.method).collect();
    // teloxide looks for a webhook before it starts polling.
    assert_eq!(methods[0], "getWebhookInfo", "{methods:?}");
    assert!(methods.contains(&"getUpdates".to_owned()));
    assert!(sim.calls().iter().all(|c| c.status == 200));
    running.abort();
}
