//! Telegram: the texts tgate sends (in the owner's language), the signed
//! callback data behind the prompt's buttons, and the Bot API client that
//! sends and edits prompts with retries within the Bot API's limits.

pub mod callback;
mod lang;
pub mod messages;
mod notifier;

pub use notifier::{DEFAULT_PATIENCE, Notifier, TelegramError};

pub use lang::Lang;
