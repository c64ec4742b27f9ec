//! Shared setup for the Bot API simulator tests: a simulator and a real
//! teloxide `Bot` pointed at it, so every answer is parsed by the same
//! types tgate's bot uses.

#![allow(dead_code)]

use teloxide::Bot;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use tgate_sim::{BotApiSim, BotApiSimConfig, TgUser};

pub async fn start() -> (BotApiSim, Bot) {
    let sim = BotApiSim::start(BotApiSimConfig::default())
        .await
        .expect("start simulator");
    let bot = bot_for(&sim, sim.token());
    (sim, bot)
}

pub fn bot_for(sim: &BotApiSim, token: &str) -> Bot {
    Bot::new(token).set_api_url(sim.url().parse().expect("simulator url"))
}

pub fn alice() -> TgUser {
    TgUser::new(1001, "Alice").lang("ru")
}

/// The prompt's keyboard: two callback buttons and a link.
pub fn prompt_keyboard() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(vec![
        vec![
            InlineKeyboardButton::callback("It's me", "ok:42:tag"),
            InlineKeyboardButton::callback("Not me", "no:42:tag"),
        ],
        vec![InlineKeyboardButton::url(
            "Help",
            "https://example.org/help".parse().expect("url"),
        )],
    ])
}
