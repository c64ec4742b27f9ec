//! Button presses. A prompt button's data is checked against its HMAC tag
//! before anything else, so a forged press never reaches the API; the API
//! then decides and the presser gets a toast saying what happened. Every
//! press is answered exactly once, on every path, so the client's spinner
//! always stops. The prompt message itself is edited by the API, not here.
//!
//! The `/language` keyboard's buttons (`l:en`, `l:ru`) are not signed: they
//! only change the presser's own preference, which they could do by typing
//! anyway. The admin lists' ◀ / ▶ buttons (`p:bans:2`) are not signed
//! either: they only show a page, and only to an admin.

use teloxide::prelude::*;
use teloxide::types::{CallbackQuery, CallbackQueryId};
use tgate_core::telegram::Lang;

use crate::Ctx;
use crate::admin;
use crate::api_client::ApiError;
use crate::telegram::deliver;
use crate::texts;

/// The prefix of the `/language` keyboard's callback data.
pub(crate) const LANGUAGE_PREFIX: &str = "l:";

pub(crate) async fn handle(ctx: &Ctx, q: CallbackQuery) {
    let lang = Lang::from_telegram(q.from.language_code.as_deref());
    let user = ChatId::from(q.from.id).0;
    let data = q.data.as_deref().unwrap_or_default();

    if let Some(code) = data.strip_prefix(LANGUAGE_PREFIX) {
        return choose_language(ctx, &q, user, lang, code).await;
    }
    if let Some(page) = data.strip_prefix(admin::PAGE_PREFIX) {
        return admin::page_press(ctx, &q, page).await;
    }

    let toast = match ctx.signer.decode(data) {
        Err(e) => {
            // The data itself is not logged: it may carry a valid tag.
            tracing::info!(reason = %e, "press with invalid callback data");
            texts::invalid_button(lang)
        }
        Ok((action, session)) => {
            tracing::Span::current().record("session", tracing::field::display(session));
            match ctx.api.decide(action, session, user).await {
                Ok(decision) => {
                    tracing::info!(?action, ?decision, "press decided");
                    texts::decision_toast(lang, decision)
                }
                Err(e) => {
                    log_api_error(&e);
                    texts::unavailable(lang)
                }
            }
        }
    };
    answer(ctx, &q.id, toast).await;
}

async fn choose_language(ctx: &Ctx, q: &CallbackQuery, user: i64, lang: Lang, code: &str) {
    let Ok(chosen) = code.parse::<Lang>() else {
        return answer(ctx, &q.id, texts::invalid_button(lang)).await;
    };
    if let Err(e) = ctx.api.set_language(user, chosen).await {
        log_api_error(&e);
        return answer(ctx, &q.id, texts::unavailable(lang)).await;
    }
    let done = texts::language_set(chosen);
    answer(ctx, &q.id, done).await;
    // Replacing the keyboard with the result shows the choice took, and
    // leaves no live buttons behind.
    if let Some(message) = &q.message {
        let edit = ctx
            .bot
            .edit_message_text(message.chat().id, message.id(), done);
        deliver("editMessageText", edit).await;
    }
}

async fn answer(ctx: &Ctx, id: &CallbackQueryId, text: &str) {
    let req = ctx.bot.answer_callback_query(id.clone()).text(text);
    deliver("answerCallbackQuery", req).await;
}

/// A refused token is an operator's mistake and worth an error; the API
/// being briefly away is not.
pub(crate) fn log_api_error(e: &ApiError) {
    match e {
        ApiError::Unauthorized | ApiError::BadAnswer { .. } => tracing::error!(error = %e),
        _ => tracing::warn!(error = %e),
    }
}
