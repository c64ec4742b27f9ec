//! Admin commands in the private chat: `/bans`, `/ban`, `/unban`,
//! `/sessions`, `/kick`, `/invite`, `/accounts`, `/routers`, and the ◀ / ▶
//! buttons that page through long lists by editing the same message.
//!
//! Only Telegram users in `telegram.admins` get past the first check, both
//! for commands and for page buttons; anyone else is refused before any call
//! to the API (which checks the same list again). Arguments are checked here
//! so a typo gets a usage line, not a round trip.

mod parse;
mod texts;

use teloxide::prelude::*;
use teloxide::types::{CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, User};
use tgate_core::telegram::Lang;

use crate::Ctx;
use crate::api_admin::{AdminError, Listed, Listing};
use crate::callbacks::log_api_error;
use crate::telegram::deliver;

pub(crate) use parse::AdminName;
use parse::{AdminCommand, parse};

/// Rows on one page of a list.
pub(crate) const PAGE_SIZE: usize = 10;
/// Page buttons' callback data: `p:<list>:<page>`, pages counted from 1.
pub(crate) const PAGE_PREFIX: &str = "p:";

pub(crate) fn is_admin(ctx: &Ctx, user: &User) -> bool {
    ctx.admins.contains(&ChatId::from(user.id).0)
}

/// Appended to `/help` for admins.
pub(crate) fn help(lang: Lang) -> &'static str {
    texts::help(lang)
}

/// The refusal non-admins get, in their Telegram's language: asking the API
/// for their saved one would be a call on their behalf.
pub(crate) async fn command(ctx: &Ctx, chat: ChatId, from: &User, name: AdminName, args: &str) {
    let telegram_lang = Lang::from_telegram(from.language_code.as_deref());
    if !is_admin(ctx, from) {
        tracing::info!(command = ?name, "admin command from a non-admin refused");
        return send(ctx, chat, texts::refused(telegram_lang), None).await;
    }
    let lang = crate::commands::preferred(ctx, from, telegram_lang).await;
    let command = match parse(name, args) {
        Ok(c) => c,
        Err(bad) => return send(ctx, chat, &texts::bad_args(lang, name, &bad), None).await,
    };
    let admin = ChatId::from(from.id).0;
    let api = &ctx.api;
    let (text, keyboard) = match command {
        AdminCommand::Bans => listing(ctx, admin, lang, Listing::Bans, 1).await,
        AdminCommand::Sessions => listing(ctx, admin, lang, Listing::Sessions, 1).await,
        AdminCommand::Accounts => listing(ctx, admin, lang, Listing::Accounts, 1).await,
        AdminCommand::Routers => (
            answer(lang, api.admin_routers(admin).await, |r| {
                texts::routers(lang, &r)
            }),
            None,
        ),
        AdminCommand::Ban {
            network,
            duration,
            reason,
        } => {
            let result = api
                .admin_ban(admin, &network, duration.as_deref(), reason.as_deref())
                .await;
            (answer(lang, result, |b| texts::banned(lang, &b)), None)
        }
        AdminCommand::Unban(target) => {
            let text = match api.admin_unban(admin, &target).await {
                Err(AdminError::NotFound) => texts::no_such_ban(lang).to_owned(),
                other => answer(lang, other, |lifted| texts::unbanned(lang, &lifted)),
            };
            (text, None)
        }
        AdminCommand::Kick(target) => {
            let text = match api.admin_kick(admin, &target).await {
                Err(AdminError::NotFound) => texts::nothing_to_kick(lang, &target),
                Err(AdminError::Ambiguous(candidates)) => {
                    texts::ambiguous(lang, &target, &candidates)
                }
                other => answer(lang, other, |kicked| texts::kicked(lang, &kicked)),
            };
            (text, None)
        }
        AdminCommand::Invite { router, account } => {
            let result = api.admin_invite(admin, &router, &account).await;
            (answer(lang, result, |i| texts::invite(lang, &i)), None)
        }
    };
    send(ctx, chat, &text, keyboard).await;
}

/// A ◀ / ▶ press: the presser must be an admin too, since anyone can press
/// a button in a message forwarded to them, or forge the data.
pub(crate) async fn page_press(ctx: &Ctx, q: &CallbackQuery, data: &str) {
    let lang = Lang::from_telegram(q.from.language_code.as_deref());
    if !is_admin(ctx, &q.from) {
        tracing::info!("page button from a non-admin refused");
        return toast(ctx, q, Some(texts::refused(lang))).await;
    }
    let parsed = data.split_once(':').and_then(|(list, page)| {
        let page: usize = page.parse().ok().filter(|p| *p >= 1)?;
        Some((Listing::from_name(list)?, page))
    });
    let Some((list, page)) = parsed else {
        return toast(ctx, q, Some(crate::texts::invalid_button(lang))).await;
    };
    let admin = ChatId::from(q.from.id).0;
    let (text, keyboard) = listing(ctx, admin, lang, list, page).await;
    toast(ctx, q, None).await;
    if let Some(message) = &q.message {
        let mut edit = ctx
            .bot
            .edit_message_text(message.chat().id, message.id(), text);
        edit.reply_markup = keyboard;
        deliver("editMessageText", edit).await;
    }
}

/// Page `page` of a list, and its ◀ / ▶ buttons when there is more.
async fn listing(
    ctx: &Ctx,
    admin: i64,
    lang: Lang,
    list: Listing,
    page: usize,
) -> (String, Option<InlineKeyboardMarkup>) {
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let result = ctx.api.admin_list(admin, list, offset, PAGE_SIZE).await;
    let mut keyboard = None;
    let text = answer(lang, result, |listed| {
        let (text, shown, total) = match &listed {
            Listed::Bans(p) => (texts::bans(lang, p), p.items.len(), p.total),
            Listed::Sessions(p) => (texts::sessions(lang, p), p.items.len(), p.total),
            Listed::Accounts(p) => (texts::accounts(lang, p), p.items.len(), p.total),
        };
        keyboard = page_buttons(list, page, offset + shown < total);
        text
    });
    (text, keyboard)
}

fn page_buttons(list: Listing, page: usize, more: bool) -> Option<InlineKeyboardMarkup> {
    let button = |label: &str, to: usize| {
        InlineKeyboardButton::callback(label, format!("{PAGE_PREFIX}{}:{to}", list.name()))
    };
    let mut row = Vec::new();
    if page > 1 {
        row.push(button("◀", page - 1));
    }
    if more {
        row.push(button("▶", page + 1));
    }
    (!row.is_empty()).then(|| InlineKeyboardMarkup::new([row]))
}

/// The reply for a call's result: `done` on success, else what went wrong.
fn answer<T>(lang: Lang, result: Result<T, AdminError>, done: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(v) => done(v),
        Err(AdminError::Forbidden) => texts::api_refused(lang).to_owned(),
        Err(AdminError::Invalid { field, reason }) => texts::invalid(lang, &field, &reason),
        Err(AdminError::NotFound) => texts::invalid(lang, "target", "not found"),
        Err(AdminError::Ambiguous(_)) => texts::invalid(lang, "target", "ambiguous"),
        Err(AdminError::Api(e)) => {
            log_api_error(&e);
            crate::texts::unavailable(lang).to_owned()
        }
    }
}

async fn send(ctx: &Ctx, chat: ChatId, text: &str, keyboard: Option<InlineKeyboardMarkup>) {
    let mut req = ctx.bot.send_message(chat, text);
    req.reply_markup = keyboard.map(Into::into);
    deliver("sendMessage", req).await;
}

async fn toast(ctx: &Ctx, q: &CallbackQuery, text: Option<&str>) {
    let mut req = ctx.bot.answer_callback_query(q.id.clone());
    req.text = text.map(str::to_owned);
    deliver("answerCallbackQuery", req).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(k: &InlineKeyboardMarkup) -> Vec<(String, String)> {
        k.inline_keyboard
            .iter()
            .flatten()
            .map(|b| {
                let data = match &b.kind {
                    teloxide::types::InlineKeyboardButtonKind::CallbackData(d) => d.clone(),
                    _ => String::new(),
                };
                (b.text.clone(), data)
            })
            .collect()
    }

    #[test]
    fn page_buttons_go_back_and_forth_only_where_there_is_more() {
        assert!(page_buttons(Listing::Bans, 1, false).is_none());
        let first = page_buttons(Listing::Bans, 1, true).unwrap();
        assert_eq!(data(&first), [("▶".to_owned(), "p:bans:2".to_owned())]);
        let middle = page_buttons(Listing::Sessions, 2, true).unwrap();
        assert_eq!(
            data(&middle),
            [
                ("◀".to_owned(), "p:sessions:1".to_owned()),
                ("▶".to_owned(), "p:sessions:3".to_owned())
            ]
        );
        let last = page_buttons(Listing::Accounts, 3, false).unwrap();
        assert_eq!(data(&last), [("◀".to_owned(), "p:accounts:2".to_owned())]);
    }
}
