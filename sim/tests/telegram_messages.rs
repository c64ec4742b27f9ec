//! The bot's side of a chat through teloxide: getMe, sending a prompt with
//! buttons, editing it, deleting it, and the errors Telegram gives for
//! each misuse, all parsed by teloxide-core's own types.

mod telegram_support;

use telegram_support::{alice, bot_for, prompt_keyboard, start};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButtonKind, MessageId, ParseMode};
use teloxide::{ApiError, RequestError};
use tgate_sim::SimButton;

fn api_error(result: Result<impl std::fmt::Debug, RequestError>) -> ApiError {
    match result {
        Err(RequestError::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn get_me_parses_as_teloxide_me() {
    let (sim, bot) = start().await;
    let me = bot.get_me().await.expect("getMe");
    assert_eq!(me.username(), "tgate_test_bot");
    assert!(me.is_bot);
    assert_eq!(me.id.0, 123456);
    assert!(!me.has_main_web_app);
    assert_eq!(sim.calls()[0].method, "getMe");
    assert_eq!(sim.calls()[0].status, 200);
}

#[tokio::test]
async fn sent_prompt_shows_text_and_buttons() {
    let (sim, bot) = start().await;
    let sent = bot
        .send_message(
            ChatId(alice().id),
            "Login as *alice* from 203\\.0\\.113\\.7?",
        )
        .parse_mode(ParseMode::MarkdownV2)
        .reply_markup(prompt_keyboard())
        .await
        .expect("sendMessage");
    assert_eq!(sent.id, MessageId(1));
    assert_eq!(sent.chat.id, ChatId(1001));
    assert!(sent.chat.is_private());
    assert!(sent.from.as_ref().expect("from").is_bot);
    let echoed = sent.reply_markup().expect("reply_markup echoed");
    assert_eq!(echoed.inline_keyboard[0].len(), 2);
    assert_eq!(
        echoed.inline_keyboard[0][1].kind,
        InlineKeyboardButtonKind::CallbackData("no:42:tag".into())
    );

    let chat = sim.chat(1001);
    assert_eq!(chat.len(), 1);
    let m = &chat[0];
    assert!(m.from_bot && !m.edited && !m.deleted);
    assert_eq!(m.text, "Login as *alice* from 203\\.0\\.113\\.7?");
    assert_eq!(m.parse_mode.as_deref(), Some("MarkdownV2"));
    assert_eq!(
        m.buttons[0][0],
        SimButton {
            text: "It's me".into(),
            callback_data: Some("ok:42:tag".into()),
            url: None
        }
    );
    assert_eq!(
        m.buttons[1][0].url.as_deref(),
        Some("https://example.org/help")
    );
}

#[tokio::test]
async fn editing_text_without_markup_removes_the_buttons() {
    let (sim, bot) = start().await;
    let chat = ChatId(alice().id);
    let sent = bot
        .send_message(chat, "Login as alice?")
        .reply_markup(prompt_keyboard())
        .await
        .expect("sendMessage");
    let edited = bot
        .edit_message_text(chat, sent.id, "Login as alice? — allowed")
        .await
        .expect("editMessageText");
    assert!(edited.reply_markup().is_none());
    assert!(edited.edit_date().is_some());

    let now = &sim.bot_messages(1001)[0];
    assert_eq!(now.text, "Login as alice? — allowed");
    assert!(now.buttons.is_empty());
    assert!(now.edited);

    // The same content again is refused, as Telegram refuses it.
    let again = bot
        .edit_message_text(chat, sent.id, "Login as alice? — allowed")
        .await;
    assert_eq!(api_error(again), ApiError::MessageNotModified);
}

#[tokio::test]
async fn reply_markup_edits_and_deletes() {
    let (sim, bot) = start().await;
    let chat = ChatId(alice().id);
    let sent = bot
        .send_message(chat, "Pending")
        .await
        .expect("sendMessage");
    let with_keyboard = bot
        .edit_message_reply_markup(chat, sent.id)
        .reply_markup(prompt_keyboard())
        .await
        .expect("add keyboard");
    assert!(with_keyboard.reply_markup().is_some());
    assert_eq!(sim.bot_messages(1001)[0].buttons.len(), 2);

    bot.edit_message_reply_markup(chat, sent.id)
        .await
        .expect("remove keyboard");
    assert!(sim.bot_messages(1001)[0].buttons.is_empty());
    // Removing it twice changes nothing, which Telegram reports.
    let twice = bot.edit_message_reply_markup(chat, sent.id).await;
    assert_eq!(api_error(twice), ApiError::MessageNotModified);

    bot.delete_message(chat, sent.id).await.expect("delete");
    assert!(sim.chat(1001)[0].deleted);
    let gone = bot.edit_message_text(chat, sent.id, "late").await;
    assert_eq!(api_error(gone), ApiError::MessageToEditNotFound);
    let missing = bot.edit_message_text(chat, MessageId(99), "x").await;
    assert_eq!(api_error(missing), ApiError::MessageToEditNotFound);
}

#[tokio::test]
async fn message_ids_count_per_chat_and_include_user_messages() {
    let (sim, bot) = start().await;
    assert_eq!(sim.user_sends(&alice(), "/start"), 1);
    let second = bot.send_message(ChatId(1001), "Hello").await.expect("send");
    let other = bot
        .send_message(ChatId(2002), "Hi")
        .await
        .expect("send to a chat that never wrote");
    assert_eq!(second.id, MessageId(2));
    assert_eq!(other.id, MessageId(1));
    let chat = sim.chat(1001);
    assert_eq!(chat.len(), 2);
    assert!(!chat[0].from_bot);
    assert_eq!(chat[0].text, "/start");
    assert_eq!(sim.bot_messages(1001).len(), 1);
}

#[tokio::test]
async fn misuse_gets_telegrams_errors() {
    let (sim, bot) = start().await;
    let no_chat = bot.send_message(ChatId(0), "x").await;
    assert_eq!(api_error(no_chat), ApiError::ChatNotFound);

    let empty = bot.send_message(ChatId(1001), "  ").await;
    assert_eq!(api_error(empty), ApiError::MessageTextIsEmpty);

    let long = bot.send_message(ChatId(1001), "я".repeat(4097)).await;
    assert_eq!(api_error(long), ApiError::MessageIsTooLong);
    bot.send_message(ChatId(1001), "я".repeat(4096))
        .await
        .expect("4096 characters fit");

    let data = "x".repeat(65);
    let keyboard = teloxide::types::InlineKeyboardMarkup::new(vec![vec![
        teloxide::types::InlineKeyboardButton::callback("It's me", data),
    ]]);
    let bad_button = bot
        .send_message(ChatId(1001), "x")
        .reply_markup(keyboard)
        .await;
    assert_eq!(api_error(bad_button), ApiError::ButtonDataInvalid);

    // Only the one good message landed.
    assert_eq!(sim.bot_messages(1001).len(), 1);
    let statuses: Vec<u16> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [400, 400, 400, 200, 400]);
}

#[tokio::test]
async fn wrong_token_is_unauthorized() {
    let (sim, _) = start().await;
    let stranger = bot_for(&sim, "123456:WRONG-token_abcdefghijklmnopqrstuv");
    let result = stranger.get_me().await;
    assert_eq!(api_error(result), ApiError::InvalidToken);
    let call = &sim.calls()[0];
    assert_eq!((call.method.as_str(), call.status), ("getMe", 401));
}

#[tokio::test]
async fn badly_formatted_text_is_refused_as_telegram_refuses_it() {
    let (sim, bot) = start().await;
    let unescaped = bot
        .send_message(ChatId(1001), "Login from 203.0.113.7")
        .parse_mode(ParseMode::MarkdownV2)
        .await;
    assert_eq!(
        api_error(unescaped),
        ApiError::CantParseEntities(
            "Bad Request: can't parse entities: Character '.' is reserved and must be \
             escaped with the preceding '\\'"
                .into()
        )
    );
    let unknown_tag = bot
        .send_message(ChatId(1001), "<div>alice</div>")
        .parse_mode(ParseMode::Html)
        .await;
    assert!(matches!(
        api_error(unknown_tag),
        ApiError::CantParseEntities(s) if s.contains("Unsupported start tag \"div\"")
    ));
    bot.send_message(ChatId(1001), "<b>alice</b> from 203.0.113.7 &amp; more")
        .parse_mode(ParseMode::Html)
        .await
        .expect("well-formed HTML");

    // The limit applies to the text as shown, markup excluded.
    let bold_4096 = format!("<b>{}</b>", "x".repeat(4096));
    bot.send_message(ChatId(1001), bold_4096)
        .parse_mode(ParseMode::Html)
        .await
        .expect("4096 shown characters fit");
    assert_eq!(sim.bot_messages(1001).len(), 2);
}
