//! A Telegram Bot API server on loopback, so that tgate's bot, its prompt
//! sender, the tests, the benchmark and the demo speak real HTTP with the
//! real method paths, JSON shapes and error wording instead of reaching
//! api.telegram.org. The handle also plays the people on the other side:
//! users who write to the bot and press its buttons, and the network or
//! Telegram itself when it throttles, fails or slows down.

mod markup;
mod methods;
mod params;
mod reply;
mod server;
mod shapes;
mod state;
mod types;
mod updates;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use types::{ApiCall, BotApiSimConfig, CallbackAnswer, Failure, SimButton, SimMessage, TgUser};

use shapes::BotIdentity;
use state::{State, Stored};

/// How often the `wait_for*` helpers look again.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// Everything the HTTP handlers, the webhook sender and the handle share.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub bot: BotIdentity,
    pub token: String,
    /// Woken on a new update, a webhook change or a newer long poll.
    pub changed: Notify,
    pub http: reqwest::Client,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("bot api state")
    }
}

/// A running simulated Bot API; dropping it stops the server.
pub struct BotApiSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
    webhook_sender: JoinHandle<()>,
}

impl BotApiSim {
    /// Starts the HTTP server on `127.0.0.1:0`.
    pub async fn start(config: BotApiSimConfig) -> anyhow::Result<BotApiSim> {
        let id = config
            .token
            .split_once(':')
            .and_then(|(id, _)| id.parse::<i64>().ok())
            .context("a bot token starts with the bot's numeric id and ':'")?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                latency: config.latency,
                commands: json!([]),
                ..State::default()
            }),
            bot: BotIdentity {
                id,
                username: config.username,
            },
            token: config.token,
            changed: Notify::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("HTTP client for webhooks")?,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind Bot API simulator")?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(server::serve(listener, shared.clone()));
        let webhook_sender = tokio::spawn(updates::deliver_to_webhook(shared.clone()));
        Ok(BotApiSim {
            shared,
            addr,
            server,
            webhook_sender,
        })
    }

    /// What tgate's `telegram.api_url` is set to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The user writes `text` in their private chat with the bot; returns
    /// the message id. A leading `/command` gets its bot_command entity.
    pub fn user_sends(&self, from: &TgUser, text: &str) -> i64 {
        let mut st = self.shared.lock();
        st.users.insert(from.id, from.clone());
        let stored = st.push_message(Stored {
            chat_id: from.id,
            message_id: 0,
            from: Some(from.id),
            date: now(),
            edit_date: None,
            text: text.to_owned(),
            parse_mode: None,
            entities: shapes::command_entities(text),
            markup: None,
            deleted: false,
        });
        let body = shapes::message(&stored, &self.shared.bot, &st);
        st.push_update("message", body);
        drop(st);
        self.shared.changed.notify_waiters();
        stored.message_id
    }

    /// The user presses a button carrying `callback_data` under message
    /// `message_id` of `chat_id`; returns the callback query id. Nothing
    /// checks that such a button exists, so tests can forge presses.
    pub fn user_presses(
        &self,
        from: &TgUser,
        chat_id: i64,
        message_id: i64,
        callback_data: &str,
    ) -> String {
        let mut st = self.shared.lock();
        st.users.insert(from.id, from.clone());
        let message = match st.message(chat_id, message_id) {
            Some(m) if !m.deleted => shapes::message(m, &self.shared.bot, &st),
            _ => shapes::inaccessible(chat_id, message_id, &st),
        };
        let id = st.new_query_id(from.id);
        let body = json!({
            "id": id,
            "from": shapes::user(from),
            "message": message,
            "chat_instance": shapes::chat_instance(chat_id),
            "data": callback_data,
        });
        st.push_update("callback_query", body);
        drop(st);
        self.shared.changed.notify_waiters();
        id
    }

    /// Presses the button labelled `button_text` on the newest live bot
    /// message of the chat that has one; `None` when no such button shows.
    pub fn user_presses_button(
        &self,
        from: &TgUser,
        chat_id: i64,
        button_text: &str,
    ) -> Option<String> {
        let (message_id, data) = self
            .bot_messages(chat_id)
            .into_iter()
            .rev()
            .filter(|m| !m.deleted)
            .find_map(|m| {
                let data = m
                    .buttons
                    .iter()
                    .flatten()
                    .find(|b| b.text == button_text)?
                    .callback_data
                    .clone()?;
                Some((m.message_id, data))
            })?;
        Some(self.user_presses(from, chat_id, message_id, &data))
    }

    /// Every message of the chat, oldest first, as it currently reads.
    pub fn chat(&self, chat_id: i64) -> Vec<SimMessage> {
        self.shared
            .lock()
            .chats
            .get(&chat_id)
            .map(|c| c.messages.iter().map(Stored::view).collect())
            .unwrap_or_default()
    }

    pub fn bot_messages(&self, chat_id: i64) -> Vec<SimMessage> {
        self.chat(chat_id)
            .into_iter()
            .filter(|m| m.from_bot)
            .collect()
    }

    /// Waits until a bot message of the chat matches; returns the newest
    /// matching one, or `None` at the timeout.
    pub async fn wait_for(
        &self,
        chat_id: i64,
        timeout: Duration,
        pred: impl Fn(&SimMessage) -> bool,
    ) -> Option<SimMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = self.bot_messages(chat_id).into_iter().rev().find(&pred);
            if found.is_some() || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Every answerCallbackQuery accepted, in order.
    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.shared.lock().answers.clone()
    }

    pub async fn wait_for_answer(
        &self,
        callback_query_id: &str,
        timeout: Duration,
    ) -> Option<CallbackAnswer> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = self
                .callback_answers()
                .into_iter()
                .find(|a| a.callback_query_id == callback_query_id);
            if found.is_some() || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Every call answered so far, in the order the answers went out.
    pub fn calls(&self) -> Vec<ApiCall> {
        self.shared.lock().calls.clone()
    }

    /// How many `getUpdates` calls have begun. A long poll is in
    /// [`calls`](Self::calls) only once it answers, up to its timeout later;
    /// this counts it from the moment it starts waiting.
    pub fn polls_started(&self) -> u64 {
        self.shared.lock().poll_generation
    }

    /// How many calls have been answered so far.
    pub fn call_count(&self) -> usize {
        self.shared.lock().calls.len()
    }

    /// The calls answered from index `from` on; pass the count already
    /// read to get only what is new.
    pub fn calls_since(&self, from: usize) -> Vec<ApiCall> {
        let st = self.shared.lock();
        st.calls.get(from..).unwrap_or_default().to_vec()
    }

    /// The webhook URL and secret token, while one is set.
    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        let st = self.shared.lock();
        let hook = st.webhook.as_ref()?;
        Some((hook.url.clone(), hook.secret.clone()))
    }

    /// The next `times` calls of `method` (any letter case, as Telegram's
    /// method names are) are answered with `failure` instead.
    pub fn fail_next(&self, method: &str, failure: Failure, times: u32) {
        let mut st = self.shared.lock();
        let queue = st.failures.entry(method.to_ascii_lowercase()).or_default();
        queue.extend((0..times).map(|_| failure.clone()));
    }

    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Stops serving: open connections are cut, as in an outage.
    pub async fn shutdown(mut self) {
        self.server.abort();
        self.webhook_sender.abort();
        let _ = (&mut self.server).await;
        let _ = (&mut self.webhook_sender).await;
    }
}

impl Drop for BotApiSim {
    fn drop(&mut self) {
        self.server.abort();
        self.webhook_sender.abort();
    }
}

/// Unix seconds, as every Bot API date is.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
