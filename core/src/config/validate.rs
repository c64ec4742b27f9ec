//! Checks that concern more than one key: what each key allows alone is
//! checked where it is read, in `sections`.

use secrecy::{ExposeSecret, SecretString};

use super::reader::Ctx;
use super::{ServerConfig, TelegramConfig, TelegramMode};
use crate::domain::RouterName;

/// What the cross-router checks need from each router, kept even when the
/// router has other problems, so a duplicate is reported in the same run.
pub(super) struct RouterDraft {
    pub index: usize,
    pub name: Option<RouterName>,
    pub token: Option<SecretString>,
    pub compat: bool,
    pub config: Option<super::RouterConfig>,
}

impl RouterDraft {
    /// `routers[<name>]`, or `routers[<index>]` when the name is missing or
    /// shared with another router and so would not say which one is meant.
    fn path(&self, all: &[RouterDraft]) -> String {
        match &self.name {
            Some(name) if all.iter().filter(|r| r.name.as_ref() == Some(name)).count() == 1 => {
                format!("routers[{name}]")
            }
            _ => format!("routers[{}]", self.index),
        }
    }
}

pub(super) fn check(
    ctx: &mut Ctx<'_>,
    server: &ServerConfig,
    telegram: &TelegramConfig,
    routers: &[RouterDraft],
) {
    if telegram.mode == TelegramMode::Webhook && server.public_url.is_none() {
        ctx.problem(
            "telegram.mode",
            "webhook mode needs server.public_url, the address Telegram will call",
        );
    }
    if telegram.mode == TelegramMode::Webhook && telegram.webhook_secret.is_none() {
        ctx.problem(
            "telegram.webhook_secret",
            "is required in webhook mode: Telegram sends it with every call, which Telegram sends with every \
             call so that tgate can tell its calls from anyone else's",
        );
    }
    for (i, later) in routers.iter().enumerate() {
        let earlier = &routers[..i];
        if let Some(name) = &later.name
            && let Some(first) = earlier.iter().find(|r| r.name.as_ref() == Some(name))
        {
            ctx.problem(
                format!("routers[{}].name", later.index),
                format!(
                    "{:?} is already the name of routers[{}]; router names must be unique",
                    name.as_str(),
                    first.index
                ),
            );
        }
        if let Some(token) = &later.token {
            let same = |r: &&RouterDraft| {
                r.token
                    .as_ref()
                    .is_some_and(|t| t.expose_secret() == token.expose_secret())
            };
            if let Some(first) = earlier.iter().find(same) {
                ctx.problem(
                    format!("{}.token", later.path(routers)),
                    format!(
                        "is the same as the token of {}; each router needs its own, because \
                         the token tells tgate which router sent an event",
                        first.path(routers)
                    ),
                );
            }
        }
        if later.compat
            && let Some(first) = earlier.iter().find(|r| r.compat)
        {
            ctx.problem(
                format!("{}.compat", later.path(routers)),
                format!(
                    "only one router can serve tik2fa's endpoints, and {} already does",
                    first.path(routers)
                ),
            );
        }
    }
}
