//! Test and demo doubles: a RouterOS router over real SSH and a Telegram Bot API server.

pub mod router;
pub mod telegram;

pub use router::{
    Change, HookReply, LoggedCommand, OnUpHook, RouterChange, RouterSim, RouterSimConfig, SimAuth,
    SimEntry, SimPppSession, SimUser,
};
pub use telegram::{
    ApiCall, BotApiSim, BotApiSimConfig, CallbackAnswer, Failure, SimButton, SimMessage, TgUser,
};
