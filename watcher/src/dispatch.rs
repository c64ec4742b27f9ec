//! What an update turns into, however it arrived: long polling and the
//! webhook hand every update to [`handle`], so a button press or a command
//! behaves the same in both modes.

use teloxide::types::{AllowedUpdate, Update, UpdateKind};
use tracing::field;

use crate::{Ctx, callbacks, commands};

/// The update kinds the watcher acts on; Telegram is asked for these only,
/// by `getUpdates` and by `setWebhook` alike.
pub(crate) const ALLOWED_UPDATES: [AllowedUpdate; 2] =
    [AllowedUpdate::Message, AllowedUpdate::CallbackQuery];

/// One span per update, so every line a handler logs names the user (and,
/// once decoded, the session).
pub(crate) fn update_span(update: &Update) -> tracing::Span {
    let span = tracing::info_span!(
        "update",
        update_id = update.id.0,
        user_id = field::Empty,
        session = field::Empty,
    );
    if let Some(user) = update.from() {
        span.record("user_id", user.id.0);
    }
    span
}

pub(crate) async fn handle(ctx: &Ctx, update: Update) {
    match update.kind {
        UpdateKind::CallbackQuery(q) => callbacks::handle(ctx, q).await,
        UpdateKind::Message(m) => commands::handle(ctx, m).await,
        // Asked only for these two; anything else is skipped (when polling,
        // its offset still advances).
        _ => tracing::debug!("ignored update"),
    }
}
