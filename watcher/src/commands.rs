//! Messages users type in their private chat with the bot: `/start [code]`,
//! `/status`, `/help`, `/language`, the admin commands (handed to
//! [`crate::admin`]), and a hint for anything else. Group
//! chats are ignored: prompts and answers about someone's VPN logins belong
//! in a private chat only.
//!
//! Replies use the language the user chose with `/language` when the API can
//! say so quickly, and otherwise the one their Telegram app reports.

use std::time::Duration;

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, User};
use tgate_core::telegram::Lang;

use crate::Ctx;
use crate::admin::{self, AdminName};
use crate::api_client::Enrollment;
use crate::callbacks::{LANGUAGE_PREFIX, log_api_error};
use crate::telegram::deliver;
use crate::texts;

/// How long a reply waits for the user's saved language before settling for
/// Telegram's: a slow API should not make `/help` slow.
const PREFERENCE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Command<'a> {
    Start(Option<&'a str>),
    Status,
    Help,
    Language,
    Admin(AdminName, &'a str),
    Other,
}

impl Command<'_> {
    fn name(&self) -> &'static str {
        match self {
            Command::Start(_) => "start",
            Command::Status => "status",
            Command::Help => "help",
            Command::Language => "language",
            Command::Admin(..) => "admin",
            Command::Other => "other",
        }
    }
}

/// `/cmd@botname args`: the bot's name is accepted whatever it is, since in a
/// private chat every command is addressed to us.
fn parse(text: &str) -> Command<'_> {
    let text = text.trim();
    let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let Some(name) = head.strip_prefix('/') else {
        return Command::Other;
    };
    let name = name.split_once('@').map_or(name, |(n, _)| n);
    let arg = Some(rest.trim()).filter(|a| !a.is_empty());
    match name.to_ascii_lowercase().as_str() {
        "start" => Command::Start(arg),
        "status" => Command::Status,
        "help" => Command::Help,
        "language" | "lang" => Command::Language,
        other => AdminName::from_command(other).map_or(Command::Other, |admin| {
            Command::Admin(admin, arg.unwrap_or_default())
        }),
    }
}

pub(crate) async fn handle(ctx: &Ctx, msg: Message) {
    if !msg.chat.is_private() {
        return;
    }
    let Some(from) = msg.from.as_ref() else {
        return;
    };
    let chat = msg.chat.id;
    let telegram_lang = Lang::from_telegram(from.language_code.as_deref());
    let command = msg.text().map_or(Command::Other, parse);
    // By name only: an invite code is as good as a password until used.
    tracing::debug!(command = command.name(), "message");

    match command {
        Command::Start(Some(code)) => enroll(ctx, chat, from, code, telegram_lang).await,
        Command::Status => status(ctx, chat, from, telegram_lang).await,
        Command::Start(None) => {
            let lang = preferred(ctx, from, telegram_lang).await;
            send(ctx, chat, texts::welcome(lang)).await;
        }
        Command::Help => {
            let lang = preferred(ctx, from, telegram_lang).await;
            if admin::is_admin(ctx, from) {
                let text = format!("{}\n\n{}", texts::help(lang), admin::help(lang));
                send(ctx, chat, &text).await;
            } else {
                send(ctx, chat, texts::help(lang)).await;
            }
        }
        Command::Admin(name, args) => admin::command(ctx, chat, from, name, args).await,
        Command::Language => {
            let lang = preferred(ctx, from, telegram_lang).await;
            let buttons = Lang::ALL.map(|l| {
                InlineKeyboardButton::callback(
                    texts::language_name(l),
                    format!("{LANGUAGE_PREFIX}{}", l.code()),
                )
            });
            let req = ctx
                .bot
                .send_message(chat, texts::choose_language(lang))
                .reply_markup(InlineKeyboardMarkup::new([buttons]));
            deliver("sendMessage", req).await;
        }
        Command::Other => {
            let lang = preferred(ctx, from, telegram_lang).await;
            send(ctx, chat, texts::unknown_input(lang)).await;
        }
    }
}

async fn enroll(ctx: &Ctx, chat: ChatId, from: &User, code: &str, lang: Lang) {
    let user = ChatId::from(from.id).0;
    let text = match ctx.api.enroll(code, user, lang).await {
        Ok(Enrollment::Enrolled { router, account }) => {
            tracing::info!(%router, %account, "enrolled");
            texts::enrolled(lang, &account, &router)
        }
        Ok(Enrollment::Unknown) => texts::invite_unknown(lang).to_owned(),
        Ok(Enrollment::Used) => texts::invite_used(lang).to_owned(),
        Ok(Enrollment::Expired) => texts::invite_expired(lang).to_owned(),
        Err(e) => {
            log_api_error(&e);
            texts::unavailable(lang).to_owned()
        }
    };
    send(ctx, chat, &text).await;
}

async fn status(ctx: &Ctx, chat: ChatId, from: &User, telegram_lang: Lang) {
    let text = match ctx.api.user_status(ChatId::from(from.id).0).await {
        Ok(status) => texts::status(status.language.unwrap_or(telegram_lang), &status),
        Err(e) => {
            log_api_error(&e);
            texts::unavailable(telegram_lang).to_owned()
        }
    };
    send(ctx, chat, &text).await;
}

/// The language saved with `/language`, else Telegram's.
pub(crate) async fn preferred(ctx: &Ctx, from: &User, telegram_lang: Lang) -> Lang {
    let lookup = ctx.api.user_status(ChatId::from(from.id).0);
    match tokio::time::timeout(PREFERENCE_WAIT, lookup).await {
        Ok(Ok(status)) => status.language.unwrap_or(telegram_lang),
        Ok(Err(e)) => {
            log_api_error(&e);
            telegram_lang
        }
        Err(_) => telegram_lang,
    }
}

async fn send(ctx: &Ctx, chat: ChatId, text: &str) {
    deliver("sendMessage", ctx.bot.send_message(chat, text)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_and_without_bot_name_and_argument() {
        assert_eq!(parse("/start"), Command::Start(None));
        assert_eq!(parse("/start   "), Command::Start(None));
        assert_eq!(parse("/start abc-123"), Command::Start(Some("abc-123")));
        assert_eq!(parse("/start@tgate_bot abc"), Command::Start(Some("abc")));
        assert_eq!(parse(" /status "), Command::Status);
        assert_eq!(parse("/Help"), Command::Help);
        assert_eq!(parse("/language"), Command::Language);
        assert_eq!(parse("/bans"), Command::Admin(AdminName::Bans, ""));
        assert_eq!(
            parse("/ban@tgate_bot 1.2.3.4  2h spam"),
            Command::Admin(AdminName::Ban, "1.2.3.4  2h spam")
        );
        assert_eq!(parse("/banana"), Command::Other);
        assert_eq!(parse("hello"), Command::Other);
        assert_eq!(parse(""), Command::Other);
    }
}
