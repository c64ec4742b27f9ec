//! The JSON objects of the Bot API (User, Chat, Message, CallbackQuery) in
//! the shapes api.telegram.org sends. teloxide-core deserializes them with
//! required fields (`Me.has_main_web_app`, `Message.date`, a private chat's
//! `type`, `CallbackQuery.chat_instance`), so a field missing here is a
//! parse failure in the bot, not a cosmetic difference.

use serde_json::{Value, json};

use super::state::{State, Stored};
use super::types::TgUser;

/// Who the bot is, from its token and configured username.
#[derive(Clone, Debug)]
pub(crate) struct BotIdentity {
    pub id: i64,
    pub username: String,
}

impl BotIdentity {
    pub fn user(&self) -> Value {
        json!({
            "id": self.id,
            "is_bot": true,
            "first_name": self.first_name(),
            "username": self.username,
        })
    }

    /// getMe's answer: the User plus the bot-only capability flags.
    pub fn me(&self) -> Value {
        let mut me = self.user();
        for (flag, value) in [
            ("can_join_groups", true),
            ("can_read_all_group_messages", false),
            ("supports_inline_queries", false),
            ("can_connect_to_business", false),
            ("has_main_web_app", false),
        ] {
            me[flag] = json!(value);
        }
        me
    }

    fn first_name(&self) -> String {
        let name = self
            .username
            .trim_end_matches("_bot")
            .trim_end_matches("bot");
        if name.is_empty() {
            self.username.clone()
        } else {
            name.replace('_', " ")
        }
    }
}

pub(crate) fn user(u: &TgUser) -> Value {
    let mut v = json!({ "id": u.id, "is_bot": false, "first_name": u.first_name });
    if let Some(username) = &u.username {
        v["username"] = json!(username);
    }
    if let Some(lang) = &u.language_code {
        v["language_code"] = json!(lang);
    }
    v
}

/// A private chat; names are known only once the user has written.
pub(crate) fn chat(chat_id: i64, state: &State) -> Value {
    let mut v = json!({ "id": chat_id, "type": "private" });
    if let Some(u) = state.users.get(&chat_id) {
        v["first_name"] = json!(u.first_name);
        if let Some(username) = &u.username {
            v["username"] = json!(username);
        }
    }
    v
}

pub(crate) fn message(m: &Stored, bot: &BotIdentity, state: &State) -> Value {
    let from = match m.from.and_then(|id| state.users.get(&id)) {
        Some(u) => user(u),
        None if m.from.is_none() => bot.user(),
        None => json!({ "id": m.from, "is_bot": false, "first_name": "" }),
    };
    let mut v = json!({
        "message_id": m.message_id,
        "from": from,
        "chat": chat(m.chat_id, state),
        "date": m.date,
        "text": m.text,
    });
    if let Some(edit_date) = m.edit_date {
        v["edit_date"] = json!(edit_date);
    }
    if !m.entities.is_empty() {
        v["entities"] = json!(m.entities);
    }
    if let Some(markup) = &m.markup {
        v["reply_markup"] = markup.clone();
    }
    v
}

/// What a callback query carries for a message the bot can no longer see
/// (deleted, or never existed): Telegram's InaccessibleMessage, `date` 0.
pub(crate) fn inaccessible(chat_id: i64, message_id: i64, state: &State) -> Value {
    json!({ "chat": chat(chat_id, state), "message_id": message_id, "date": 0 })
}

/// Stable per chat, as Telegram's opaque `chat_instance` is.
pub(crate) fn chat_instance(chat_id: i64) -> String {
    let mixed = (chat_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1;
    format!("-{mixed}")
}

/// The `bot_command` entity Telegram attaches to text starting with `/`;
/// offsets and lengths count UTF-16 code units.
pub(crate) fn command_entities(text: &str) -> Vec<Value> {
    if !text.starts_with('/') {
        return Vec::new();
    }
    let command: String = text[1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '@')
        .collect();
    if command.is_empty() {
        return Vec::new();
    }
    let length = 1 + command.encode_utf16().count();
    vec![json!({ "type": "bot_command", "offset": 0, "length": length })]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_entity_covers_the_command_and_bot_name_only() {
        assert_eq!(
            command_entities("/start@tgate_test_bot abc"),
            vec![json!({"type": "bot_command", "offset": 0, "length": 21})]
        );
        assert!(command_entities("hello /start").is_empty());
        assert!(command_entities("/ alone").is_empty());
    }

    #[test]
    fn bot_name_comes_from_username() {
        let bot = BotIdentity {
            id: 1,
            username: "tgate_test_bot".into(),
        };
        assert_eq!(bot.me()["first_name"], "tgate test");
        assert_eq!(bot.me()["has_main_web_app"], false);
    }
}
