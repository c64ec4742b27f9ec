//! What the simulated Telegram remembers: every chat's messages in their
//! current form, the queue of updates the bot has not yet confirmed, the
//! open callback queries and their answers, the webhook, the injected
//! faults and the log of calls. One lock guards it all; it is never held
//! across an await.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde_json::Value;

use super::types::{ApiCall, CallbackAnswer, Failure, SimButton, SimMessage, TgUser};

/// A message as stored: what [`SimMessage`] shows plus what the JSON needs.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub chat_id: i64,
    pub message_id: i64,
    /// `None` for the bot.
    pub from: Option<i64>,
    pub date: i64,
    pub edit_date: Option<i64>,
    pub text: String,
    pub parse_mode: Option<String>,
    /// Telegram's own entities (the `/command` of a user's message).
    pub entities: Vec<Value>,
    /// The `inline_keyboard` markup as Telegram echoes it.
    pub markup: Option<Value>,
    pub deleted: bool,
}

impl Stored {
    pub fn view(&self) -> SimMessage {
        SimMessage {
            chat_id: self.chat_id,
            message_id: self.message_id,
            from_bot: self.from.is_none(),
            text: self.text.clone(),
            buttons: buttons(self.markup.as_ref()),
            edited: self.edit_date.is_some(),
            deleted: self.deleted,
            parse_mode: self.parse_mode.clone(),
        }
    }
}

fn buttons(markup: Option<&Value>) -> Vec<Vec<SimButton>> {
    let Some(rows) = markup.and_then(|m| m["inline_keyboard"].as_array()) else {
        return Vec::new();
    };
    let field = |b: &Value, k: &str| b[k].as_str().map(str::to_owned);
    rows.iter()
        .map(|row| {
            row.as_array()
                .into_iter()
                .flatten()
                .map(|b| SimButton {
                    text: field(b, "text").unwrap_or_default(),
                    callback_data: field(b, "callback_data"),
                    url: field(b, "url"),
                })
                .collect()
        })
        .collect()
}

#[derive(Default)]
pub(crate) struct Chat {
    pub messages: Vec<Stored>,
}

/// An update waiting for the bot, already in its JSON form.
#[derive(Clone, Debug)]
pub(crate) struct Update {
    pub id: u32,
    /// "message", "callback_query": what `allowed_updates` filters on.
    pub kind: &'static str,
    pub json: Value,
}

pub(crate) struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    pub last_error: Option<(i64, String)>,
}

#[derive(Default)]
pub(crate) struct State {
    pub chats: BTreeMap<i64, Chat>,
    pub users: HashMap<i64, TgUser>,
    pub updates: VecDeque<Update>,
    /// The last update id handed out; Telegram's never go back.
    pub last_update_id: u32,
    /// Open callback queries: id → answered yet.
    pub queries: HashMap<String, bool>,
    pub next_query: u64,
    pub answers: Vec<CallbackAnswer>,
    pub webhook: Option<Webhook>,
    /// As last given to getUpdates or setWebhook; empty means the default set.
    pub allowed_updates: Vec<String>,
    /// Bumped by every getUpdates so an older long poll knows it was replaced.
    pub poll_generation: u64,
    pub failures: HashMap<String, VecDeque<Failure>>,
    pub calls: Vec<ApiCall>,
    pub latency: Duration,
    pub commands: Value,
}

impl State {
    pub fn chat_mut(&mut self, chat_id: i64) -> &mut Chat {
        self.chats.entry(chat_id).or_default()
    }

    pub fn message(&self, chat_id: i64, message_id: i64) -> Option<&Stored> {
        self.chats
            .get(&chat_id)?
            .messages
            .iter()
            .find(|m| m.message_id == message_id)
    }

    pub fn message_mut(&mut self, chat_id: i64, message_id: i64) -> Option<&mut Stored> {
        self.chats
            .get_mut(&chat_id)?
            .messages
            .iter_mut()
            .find(|m| m.message_id == message_id)
    }

    /// Appends a message with the chat's next id (ids count from 1 per chat
    /// and are never reused, deleted messages included).
    pub fn push_message(&mut self, mut message: Stored) -> Stored {
        let chat = self.chat_mut(message.chat_id);
        message.message_id = chat.messages.last().map_or(1, |m| m.message_id + 1);
        chat.messages.push(message.clone());
        message
    }

    pub fn push_update(&mut self, kind: &'static str, body: Value) -> u32 {
        self.last_update_id += 1;
        let id = self.last_update_id;
        let mut json = serde_json::json!({ "update_id": id });
        json[kind] = body;
        self.updates.push_back(Update { id, kind, json });
        id
    }

    /// Updates the bot has asked not to receive are dropped, as Telegram
    /// never stores them.
    pub fn drop_unwanted_updates(&mut self) {
        if self.allowed_updates.is_empty() {
            return;
        }
        let allowed = &self.allowed_updates;
        self.updates
            .retain(|u| allowed.iter().any(|a| a.as_str() == u.kind));
    }

    pub fn take_failure(&mut self, method: &str) -> Option<Failure> {
        let queue = self.failures.get_mut(&method.to_ascii_lowercase())?;
        let failure = queue.pop_front();
        if queue.is_empty() {
            self.failures.remove(&method.to_ascii_lowercase());
        }
        failure
    }

    pub fn new_query_id(&mut self, user_id: i64) -> String {
        self.next_query += 1;
        // Real ids are long decimal strings derived from the user; only
        // uniqueness matters to a bot.
        let id = format!("{}{:06}", user_id.unsigned_abs(), self.next_query);
        self.queries.insert(id.clone(), false);
        id
    }
}
