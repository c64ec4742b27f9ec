//! The values tests hand to and read back from the Bot API simulator: who
//! the users are, what each chat shows, which toasts were answered and
//! which faults to inject. They are plain data so assertions stay simple.

use std::time::{Duration, Instant};

/// How a simulated bot presents itself.
#[derive(Clone, Debug)]
pub struct BotApiSimConfig {
    /// The token the bot must put in `/bot<token>/<method>`; its digits
    /// before `:` are the bot's user id, as with real tokens.
    pub token: String,
    /// The bot's `@username`, without the `@`.
    pub username: String,
    /// Added before every answer, to look like a distant data centre.
    pub latency: Duration,
}

impl Default for BotApiSimConfig {
    fn default() -> Self {
        BotApiSimConfig {
            token: "123456:TEST-token_abcdefghijklmnopqrstuv".to_owned(),
            username: "tgate_test_bot".to_owned(),
            latency: Duration::ZERO,
        }
    }
}

/// A Telegram user talking to the bot; their private chat id is their id.
#[derive(Clone, Debug)]
pub struct TgUser {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl TgUser {
    pub fn new(id: i64, first_name: &str) -> TgUser {
        TgUser {
            id,
            first_name: first_name.to_owned(),
            username: None,
            language_code: None,
        }
    }

    /// The IETF tag Telegram reports from the user's app language ("ru", "en").
    pub fn lang(mut self, code: &str) -> TgUser {
        self.language_code = Some(code.to_owned());
        self
    }
}

/// One inline keyboard button as the user sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimButton {
    pub text: String,
    pub callback_data: Option<String>,
    pub url: Option<String>,
}

/// A message as the chat currently shows it (after any edit).
#[derive(Clone, Debug, PartialEq)]
pub struct SimMessage {
    pub chat_id: i64,
    pub message_id: i64,
    pub from_bot: bool,
    /// The text exactly as the bot sent it, markup included.
    pub text: String,
    /// Rows of the inline keyboard; empty when there is none.
    pub buttons: Vec<Vec<SimButton>>,
    pub edited: bool,
    pub deleted: bool,
    pub parse_mode: Option<String>,
}

/// What the bot answered to a button press (the toast or alert).
#[derive(Clone, Debug, PartialEq)]
pub struct CallbackAnswer {
    pub callback_query_id: String,
    pub text: Option<String>,
    pub show_alert: bool,
}

/// A fault the simulator answers with instead of doing the call.
#[derive(Clone, Debug)]
pub enum Failure {
    /// 429 with `parameters.retry_after`, as flood control does.
    TooManyRequests { retry_after: u32 },
    /// A 5xx status (500, 502…) with Telegram's JSON error envelope.
    ServerError(u16),
}

/// One Bot API call the simulator answered.
#[derive(Clone, Debug)]
pub struct ApiCall {
    /// The method's canonical name ("sendMessage"), or the path's last
    /// segment when the method is unknown.
    pub method: String,
    /// When the request arrived.
    pub at: Instant,
    /// The HTTP status answered.
    pub status: u16,
    /// The chat of the message a successful call sent or edited.
    pub chat_id: Option<i64>,
}
