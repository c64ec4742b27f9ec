//! Test and demo doubles: a RouterOS router over real SSH and a Telegram Bot API server.

pub mod router;
pub mod telegram;

pub use router::{
    HookReply, LoggedCommand, OnUpHook, RouterSim, RouterSimConfig, SimAuth, SimEntry,
    SimPppSession, SimUser,
};
pub use telegram::{
    ApiCall, BotApiSim, BotApiSimConfig, CallbackAnswer, Failure, SimButton, SimMessage, TgUser,
};
