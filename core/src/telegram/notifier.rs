//! The Bot API client on the API side: sends prompts with their two buttons,
//! edits them when decided, sends notes and admin alerts. teloxide's `Bot`
//! does the HTTP; this adds the retries the Bot API's limits call for — a 429
//! waits its `retry_after`, network errors and server errors back off — each
//! within a deadline, so a prompt is retried until its session's deadline and
//! never silently dropped.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::requests::{JsonRequest, Payload};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::Lang;
use super::callback::{Action, CallbackSigner};
use super::messages;
use crate::metrics::{self, TelegramOutcome};
use crate::storage::Session;

/// Why a Telegram call gave up.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("Telegram refused {method}: {error}")]
    Refused { method: &'static str, error: String },
    #[error("Telegram could not be reached for {method} before the deadline: {last}")]
    Unreachable { method: &'static str, last: String },
}

pub struct Notifier {
    bot: Bot,
    signer: CallbackSigner,
    admins: Vec<i64>,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long an edit, a note or an alert keeps trying.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(60);

impl Notifier {
    pub fn new(bot: Bot, signer: CallbackSigner, admins: Vec<i64>) -> Self {
        Notifier {
            bot,
            signer,
            admins,
        }
    }

    pub fn signer(&self) -> &CallbackSigner {
        &self.signer
    }

    /// The Bot API client it sends with. A clone shares its connections and
    /// its TLS set-up (each new client loads the system's root
    /// certificates again, about a quarter of a megabyte).
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// Sends the prompt for `session` to `chat`; returns its message id.
    pub async fn send_prompt(
        &self,
        chat: i64,
        lang: Lang,
        session: &Session,
        until: Instant,
    ) -> Result<i64, TelegramError> {
        let (yes, no) = messages::buttons(lang);
        let keyboard = InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback(yes, self.signer.encode(Action::Confirm, session.id)),
            InlineKeyboardButton::callback(no, self.signer.encode(Action::Deny, session.id)),
        ]]);
        let prompt = SendText {
            chat_id: chat,
            text: messages::prompt(lang, session),
            reply_markup: Some(keyboard),
        };
        let sent = retrying("sendMessage", until, || {
            JsonRequest::new(self.bot.clone(), prompt.clone()).send()
        })
        .await?;
        Ok(i64::from(sent.message_id))
    }

    /// Replaces a prompt's text; the buttons go, since editMessageText
    /// without a keyboard removes it.
    pub async fn edit(
        &self,
        chat: i64,
        message_id: i64,
        text: String,
    ) -> Result<(), TelegramError> {
        let edit = EditText {
            chat_id: chat,
            message_id: i32::try_from(message_id).unwrap_or(i32::MAX),
            text,
        };
        let until = Instant::now() + DEFAULT_PATIENCE;
        match retrying("editMessageText", until, || {
            JsonRequest::new(self.bot.clone(), edit.clone()).send()
        })
        .await
        {
            Ok(_) => Ok(()),
            // Already says this: the edit happened before (a retry, a race).
            Err(TelegramError::Refused { error, .. }) if error.contains("not modified") => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn send(&self, chat: i64, text: String) -> Result<i64, TelegramError> {
        let until = Instant::now() + DEFAULT_PATIENCE;
        let note = SendText {
            chat_id: chat,
            text,
            reply_markup: None,
        };
        let sent = retrying("sendMessage", until, || {
            JsonRequest::new(self.bot.clone(), note.clone()).send()
        })
        .await?;
        Ok(i64::from(sent.message_id))
    }

    /// Tells every admin; a failure for one admin does not stop the others.
    pub async fn alert_admins(&self, text: &str) {
        for admin in &self.admins {
            if let Err(e) = self.send(*admin, text.to_owned()).await {
                warn!(admin, error = %e, "admin alert not delivered");
            }
        }
    }

    /// `getMe`: the bot's username, for invite links.
    pub async fn username(&self) -> Result<String, TelegramError> {
        let until = Instant::now() + Duration::from_secs(10);
        let me = retrying("getMe", until, || self.bot.get_me().into_future()).await?;
        Ok(me.username().to_owned())
    }
}

/// `sendMessage` with plain text and, for a prompt, its buttons: the same
/// request teloxide's `send_message` makes. teloxide's own payload reads
/// Telegram's answer into a whole `Message`, whose content is an untagged
/// enum tried variant by variant (a parse error built and dropped for
/// each; docs/benchmarks-history.md, change 36). tgate keeps only the message id.
#[derive(Debug, Clone, Serialize)]
struct SendText {
    chat_id: i64,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_markup: Option<InlineKeyboardMarkup>,
}

/// What tgate reads of a sent message.
#[derive(Debug, Deserialize)]
struct Sent {
    message_id: i32,
}

impl Payload for SendText {
    type Output = Sent;
    const NAME: &'static str = <teloxide::payloads::SendMessage as Payload>::NAME;
}

/// `editMessageText` without a keyboard, which removes the buttons. Its
/// answer (the edited message) is not read.
#[derive(Debug, Clone, Serialize)]
struct EditText {
    chat_id: i64,
    message_id: i32,
    text: String,
}

impl Payload for EditText {
    type Output = serde::de::IgnoredAny;
    const NAME: &'static str = <teloxide::payloads::EditMessageText as Payload>::NAME;
}

/// How an attempt's failure is counted.
fn outcome(err: &RequestError) -> TelegramOutcome {
    match err {
        RequestError::RetryAfter(_) => TelegramOutcome::RetryAfter,
        RequestError::Network(_) | RequestError::Io(_) => TelegramOutcome::Network,
        RequestError::InvalidJson { .. } | RequestError::Api(ApiError::Unknown(_)) => {
            TelegramOutcome::Server
        }
        RequestError::Api(_) | RequestError::MigrateToChatId(_) => TelegramOutcome::Refused,
    }
}

/// Whether an error is worth another try, and after how long at least.
fn retry_after(err: &RequestError) -> Option<Option<Duration>> {
    match err {
        RequestError::RetryAfter(secs) => Some(Some(secs.duration())),
        RequestError::Network(_) | RequestError::InvalidJson { .. } | RequestError::Io(_) => {
            Some(None)
        }
        // teloxide reports a 5xx (after its own pause) as an unknown API
        // error; the known ones are definite refusals.
        RequestError::Api(ApiError::Unknown(_)) => Some(None),
        RequestError::Api(_) | RequestError::MigrateToChatId(_) => None,
    }
}

async fn retrying<T, F, Fut>(
    method: &'static str,
    until: Instant,
    call: F,
) -> Result<T, TelegramError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        let result = call().await;
        let counted = result
            .as_ref()
            .map_or_else(outcome, |_| TelegramOutcome::Ok);
        metrics::global().telegram_call(method, started.elapsed(), counted);
        let err = match result {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let Some(wait) = retry_after(&err) else {
            return Err(TelegramError::Refused {
                method,
                error: err.to_string(),
            });
        };
        let wait = wait.unwrap_or(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
        if Instant::now() + wait > until {
            return Err(TelegramError::Unreachable {
                method,
                last: err.to_string(),
            });
        }
        debug!(method, error = %err, wait_ms = wait.as_millis() as u64, "Telegram call retried");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Exposition;

    fn sample(line_start: &str) -> u64 {
        let mut out = Exposition::default();
        metrics::global().render(&mut out);
        let text = out.finish();
        text.lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line_start} in\n{text}"))
    }

    /// The requests tgate writes itself are the ones teloxide's methods
    /// would have sent.
    #[test]
    fn prompts_notes_and_edits_are_the_requests_teloxide_would_send() {
        use teloxide::payloads::{EditMessageText, SendMessage, SendMessageSetters};
        use teloxide::types::{ChatId, MessageId};
        fn json(v: &impl Serialize) -> serde_json::Value {
            serde_json::to_value(v).expect("serialisable")
        }
        let keyboard = InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback("✅ It's me", "c:yes"),
            InlineKeyboardButton::callback("⛔ Not me", "c:no"),
        ]]);
        let prompt = SendText {
            chat_id: -1001,
            text: "Is this you?".into(),
            reply_markup: Some(keyboard.clone()),
        };
        let theirs = SendMessage::new(ChatId(-1001), "Is this you?").reply_markup(keyboard);
        assert_eq!(json(&prompt), json(&theirs));

        let note = SendText {
            chat_id: 7,
            text: "blocked".into(),
            reply_markup: None,
        };
        assert_eq!(json(&note), json(&SendMessage::new(ChatId(7), "blocked")));

        let edit = EditText {
            chat_id: 7,
            message_id: 99,
            text: "Confirmed".into(),
        };
        let theirs = EditMessageText::new(ChatId(7), MessageId(99), "Confirmed");
        assert_eq!(json(&edit), json(&theirs));
    }

    #[test]
    fn only_the_message_id_is_read_of_a_sent_message() {
        let answer = serde_json::json!({
            "message_id": 321, "date": 0, "chat": {"id": 7, "type": "private"},
            "text": "Is this you?", "reply_markup": {"inline_keyboard": []}
        });
        let sent: Sent = serde_json::from_value(answer).unwrap();
        assert_eq!(sent.message_id, 321);
    }

    #[tokio::test]
    async fn every_attempt_is_timed_and_each_failure_counted_by_kind() {
        let calls = "tgate_telegram_call_seconds_count{method=\"getMe\"}";
        let server = "tgate_telegram_errors_total{method=\"getMe\",kind=\"server\"}";
        let refused = "tgate_telegram_errors_total{method=\"getMe\",kind=\"refused\"}";
        let (calls0, server0, refused0) = (sample(calls), sample(server), sample(refused));

        let tries = std::sync::atomic::AtomicU32::new(0);
        let until = Instant::now() + Duration::from_secs(10);
        let got = retrying("getMe", until, || {
            let n = tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                match n {
                    0 => Err(RequestError::Api(ApiError::Unknown("Bad Gateway".into()))),
                    _ => Ok(n),
                }
            }
        })
        .await;
        assert_eq!(got.unwrap(), 1);
        let refusal = retrying("getMe", until, || async {
            Err::<(), _>(RequestError::Api(ApiError::BotBlocked))
        })
        .await;
        assert!(matches!(refusal, Err(TelegramError::Refused { .. })));

        // Other tests in this process may call getMe too, hence "at least".
        assert!(sample(calls) >= calls0 + 3);
        assert!(sample(server) > server0);
        assert!(sample(refused) > refused0);
    }
}
