//! The Bot API methods tgate calls, with the checks api.telegram.org makes
//! before it acts (empty or oversized text, bad callback data, editing to
//! the same content, answering a query twice), so a bot that gets away with
//! something here would also get away with it in production.

use std::sync::Arc;

use serde_json::{Value, json};

use super::params::Params;
use super::reply::{Done, Outcome, TgError};
use super::state::Stored;
use super::state::Webhook;
use super::{Shared, markup, now, shapes, updates};

/// Telegram's limits on message text and callback data.
const MAX_TEXT: usize = 4096;
const MAX_CALLBACK_DATA: usize = 64;

/// The methods served; names match case-insensitively, as Telegram's do.
const METHODS: &[&str] = &[
    "getMe",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "deleteMessage",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "setMyCommands",
    "deleteMyCommands",
    "getMyCommands",
    "sendChatAction",
];

pub(crate) fn canonical(method: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(method))
}

pub(crate) async fn call(shared: &Arc<Shared>, method: &'static str, p: Params) -> Outcome {
    match method {
        "getMe" => Ok(shared.bot.me().into()),
        "getUpdates" => updates::get_updates(shared, &p).await,
        "sendMessage" => send_message(shared, &p),
        "editMessageText" => edit(shared, &p, true),
        "editMessageReplyMarkup" => edit(shared, &p, false),
        "answerCallbackQuery" => answer_callback_query(shared, &p),
        "deleteMessage" => delete_message(shared, &p),
        "setWebhook" => set_webhook(shared, &p),
        "deleteWebhook" => delete_webhook(shared, &p),
        "getWebhookInfo" => Ok(webhook_info(shared).into()),
        "setMyCommands" => {
            let commands = p
                .json("commands")
                .ok()
                .flatten()
                .filter(Value::is_array)
                .ok_or_else(|| TgError::bad_request("can't parse commands JSON object"))?;
            shared.lock().commands = commands;
            Ok(json!(true).into())
        }
        "deleteMyCommands" => {
            shared.lock().commands = json!([]);
            Ok(json!(true).into())
        }
        "getMyCommands" => Ok(shared.lock().commands.clone().into()),
        "sendChatAction" => chat_id(&p).map(|_| json!(true).into()),
        _ => Err(TgError::not_found()),
    }
}

/// Only private chats (positive ids) exist here; anything else, `@names`
/// included, is a chat Telegram would not find.
fn chat_id(p: &Params) -> Result<i64, TgError> {
    match p.int("chat_id") {
        Ok(Some(id)) if id > 0 => Ok(id),
        Ok(None) => Err(TgError::bad_request("chat_id is empty")),
        _ => Err(TgError::chat_not_found()),
    }
}

/// The text and its parse mode, checked as Telegram checks them: not
/// blank, well formed, and at most 4096 UTF-16 code units as displayed.
/// Sending and editing word "too long" differently, as Telegram does.
fn text_and_mode(p: &Params, too_long: &str) -> Result<(String, Option<String>), TgError> {
    let text = p.text("text").unwrap_or_default();
    if text.trim().is_empty() {
        return Err(TgError::empty_text());
    }
    let mode = parse_mode(p)?;
    match markup::displayed_len(&text, mode.as_deref())? {
        0 => Err(TgError::empty_text()),
        n if n > MAX_TEXT => Err(TgError::bad_request(too_long)),
        _ => Ok((text, mode)),
    }
}

/// Named in any letter case, as the Bot API server lowercases it; kept in
/// its canonical spelling.
fn parse_mode(p: &Params) -> Result<Option<String>, TgError> {
    let Some(mode) = p.text("parse_mode").filter(|m| !m.is_empty()) else {
        return Ok(None);
    };
    ["Markdown", "MarkdownV2", "HTML"]
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(&mode))
        .map(|known| Some(known.to_owned()))
        .ok_or_else(|| TgError::bad_request("unsupported parse_mode"))
}

/// The inline keyboard to show, validated as Telegram does. Reply
/// keyboards are accepted but, as in Telegram, not echoed on the message;
/// an empty inline keyboard means none.
fn inline_markup(p: &Params) -> Result<Option<Value>, TgError> {
    let markup = p
        .json("reply_markup")
        .map_err(|()| TgError::bad_request("can't parse reply keyboard markup JSON object"))?;
    let Some(markup) = markup else {
        return Ok(None);
    };
    let Some(rows) = markup.get("inline_keyboard") else {
        return Ok(None);
    };
    let bad =
        |why: &str| TgError::bad_request(format!("can't parse inline keyboard button: {why}"));
    let rows = rows
        .as_array()
        .ok_or_else(|| bad("InlineKeyboardMarkup must be an Array"))?;
    let mut kept = Vec::new();
    for row in rows {
        let row = row
            .as_array()
            .ok_or_else(|| bad("InlineKeyboardButton row must be an Array"))?;
        for button in row {
            check_button(button)?;
        }
        if !row.is_empty() {
            kept.push(Value::Array(row.clone()));
        }
    }
    Ok((!kept.is_empty()).then(|| json!({ "inline_keyboard": kept })))
}

fn check_button(button: &Value) -> Result<(), TgError> {
    let bad =
        |why: &str| TgError::bad_request(format!("can't parse inline keyboard button: {why}"));
    if !button.get("text").is_some_and(Value::is_string) {
        return Err(bad("Field \"text\" must be of type String"));
    }
    if let Some(data) = button.get("callback_data") {
        let len = data.as_str().map_or(0, str::len);
        if len == 0 || len > MAX_CALLBACK_DATA {
            return Err(TgError::bad_request("BUTTON_DATA_INVALID"));
        }
        return Ok(());
    }
    if let Some(url) = button.get("url") {
        let url = url.as_str().unwrap_or("");
        let ok = ["http://", "https://", "tg://"]
            .iter()
            .any(|s| url.starts_with(s) && url.len() > s.len());
        return if ok {
            Ok(())
        } else {
            Err(TgError::bad_request("BUTTON_URL_INVALID"))
        };
    }
    const OTHER_KINDS: &[&str] = &[
        "login_url",
        "web_app",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    ];
    if OTHER_KINDS.iter().any(|k| button.get(*k).is_some()) {
        Ok(())
    } else {
        Err(bad("Text buttons are unallowed in the inline keyboard"))
    }
}

fn send_message(shared: &Shared, p: &Params) -> Outcome {
    let chat_id = chat_id(p)?;
    let (text, parse_mode) = text_and_mode(p, "message is too long")?;
    let markup = inline_markup(p)?;
    let mut st = shared.lock();
    let stored = st.push_message(Stored {
        chat_id,
        message_id: 0,
        from: None,
        date: now(),
        edit_date: None,
        text,
        parse_mode,
        entities: Vec::new(),
        markup,
        deleted: false,
    });
    Ok(shapes::message(&stored, &shared.bot, &st).into())
}

/// The message an edit or delete names; inline messages do not exist here.
fn target(p: &Params, missing: fn() -> TgError) -> Result<(i64, i64), TgError> {
    if p.text("inline_message_id").is_some() {
        return Err(missing());
    }
    let chat_id = chat_id(p)?;
    match p.int("message_id") {
        Ok(Some(id)) => Ok((chat_id, id)),
        _ => Err(missing()),
    }
}

/// editMessageText (`with_text`) and editMessageReplyMarkup. Leaving
/// `reply_markup` out removes the keyboard, as Telegram does.
fn edit(shared: &Shared, p: &Params, with_text: bool) -> Outcome {
    let (chat_id, message_id) = target(p, TgError::edit_not_found)?;
    let text = if with_text {
        Some(text_and_mode(p, "MESSAGE_TOO_LONG")?)
    } else {
        None
    };
    let markup = inline_markup(p)?;
    let mut st = shared.lock();
    let m = st
        .message_mut(chat_id, message_id)
        .filter(|m| !m.deleted)
        .ok_or_else(TgError::edit_not_found)?;
    if m.from.is_some() {
        return Err(TgError::bad_request("message can't be edited"));
    }
    let same_text = text
        .as_ref()
        .is_none_or(|(t, mode)| *t == m.text && *mode == m.parse_mode);
    if same_text && markup == m.markup {
        return Err(TgError::not_modified());
    }
    if let Some((text, mode)) = text {
        m.text = text;
        m.parse_mode = mode;
    }
    m.markup = markup;
    m.edit_date = Some(now());
    let edited = m.clone();
    Ok(shapes::message(&edited, &shared.bot, &st).into())
}

fn delete_message(shared: &Shared, p: &Params) -> Outcome {
    let missing = || TgError::bad_request("message to delete not found");
    let (chat_id, message_id) = target(p, missing)?;
    let mut st = shared.lock();
    let m = st
        .message_mut(chat_id, message_id)
        .filter(|m| !m.deleted)
        .ok_or_else(missing)?;
    m.deleted = true;
    Ok(json!(true).into())
}

fn answer_callback_query(shared: &Shared, p: &Params) -> Outcome {
    let id = p.text("callback_query_id").unwrap_or_default();
    let mut st = shared.lock();
    match st.queries.get_mut(&id) {
        Some(answered @ false) => *answered = true,
        _ => return Err(TgError::query_invalid()),
    }
    st.answers.push(super::CallbackAnswer {
        callback_query_id: id,
        text: p.text("text").filter(|t| !t.is_empty()),
        show_alert: p.flag("show_alert"),
    });
    Ok(json!(true).into())
}

/// Plain `http://` is accepted (Telegram insists on HTTPS) because the
/// bot's webhook listens on loopback in tests.
fn set_webhook(shared: &Arc<Shared>, p: &Params) -> Outcome {
    let url = p.text("url").unwrap_or_default();
    if url.is_empty() {
        return delete_webhook(shared, p);
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(TgError::bad_request(
            "bad webhook: An HTTPS URL must be provided for webhook",
        ));
    }
    let secret = p.text("secret_token").filter(|s| !s.is_empty());
    let secret_ok = |s: &String| {
        s.len() <= 256
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if secret.as_ref().is_some_and(|s| !secret_ok(s)) {
        return Err(TgError::bad_request(
            "secret token contains unallowed characters",
        ));
    }
    let allowed = allowed_updates(p)?;
    let mut st = shared.lock();
    if p.flag("drop_pending_updates") {
        st.updates.clear();
    }
    if let Some(allowed) = allowed {
        st.allowed_updates = allowed;
    }
    let unchanged = st
        .webhook
        .as_ref()
        .is_some_and(|w| w.url == url && w.secret == secret);
    st.webhook = Some(Webhook {
        url,
        secret,
        last_error: None,
    });
    drop(st);
    shared.changed.notify_waiters();
    Ok(Done {
        result: json!(true),
        description: Some(if unchanged {
            "Webhook is already set"
        } else {
            "Webhook was set"
        }),
    })
}

fn delete_webhook(shared: &Arc<Shared>, p: &Params) -> Outcome {
    let mut st = shared.lock();
    if p.flag("drop_pending_updates") {
        st.updates.clear();
    }
    let was_set = st.webhook.take().is_some();
    drop(st);
    shared.changed.notify_waiters();
    Ok(Done {
        result: json!(true),
        description: Some(if was_set {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        }),
    })
}

fn webhook_info(shared: &Shared) -> Value {
    let mut st = shared.lock();
    st.drop_unwanted_updates();
    let mut info = json!({
        "url": "",
        "has_custom_certificate": false,
        "pending_update_count": st.updates.len(),
    });
    if let Some(hook) = &st.webhook {
        info["url"] = json!(hook.url);
        info["max_connections"] = json!(40);
        info["ip_address"] = json!("127.0.0.1");
        if let Some((date, message)) = &hook.last_error {
            info["last_error_date"] = json!(date);
            info["last_error_message"] = json!(message);
        }
    }
    if !st.allowed_updates.is_empty() {
        info["allowed_updates"] = json!(st.allowed_updates);
    }
    info
}

/// `allowed_updates` when given: a list of update kinds.
pub(crate) fn allowed_updates(p: &Params) -> Result<Option<Vec<String>>, TgError> {
    let bad = || TgError::bad_request("can't parse allowed updates");
    let Some(list) = p.json("allowed_updates").map_err(|()| bad())? else {
        return Ok(None);
    };
    list.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
