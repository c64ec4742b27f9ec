//! The stage the stories play on: the lab (tgate serve with both
//! simulators), the people in it, and the few moves they make (a PPP client
//! connects, a user presses a button, an admin types a command). Every
//! "did it work?" question is answered here from what a user could observe:
//! the router's lists and sessions, the chat messages, the database rows.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tgate_core::domain::{CallerId, SessionId, SessionState};
use tgate_core::storage::{Session, Store};
use tgate_sim::{SimEntry, SimMessage, TgUser};
use tokio::time::Instant;

use super::narrate::Narrator;
use crate::lab::{ADMIN, Lab};

/// How long any one expected thing may take before the story is called
/// failed; far above what a step takes, well below the demo's budget.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// What the router answered for the on-up script's POST.
pub struct Reply {
    pub status: u16,
    pub state: String,
    pub session: Option<SessionId>,
}

pub struct Scene {
    pub lab: Lab,
    /// The same database tgate uses, to show the rows behind the story.
    pub store: Arc<dyn Store>,
    pub say: Narrator,
    pub alice: TgUser,
    pub bob: TgUser,
    pub admin: TgUser,
}

impl Scene {
    pub async fn new(lab: Lab) -> anyhow::Result<Scene> {
        let store = tgate_core::storage::open(lab.config.database.url.expose())
            .await
            .context("opening the demo's database")?;
        Ok(Scene {
            lab,
            store,
            say: Narrator,
            alice: TgUser::new(4242, "Alice").lang("en"),
            bob: TgUser::new(5151, "Bob").lang("en"),
            admin: TgUser::new(ADMIN, "Admin").lang("en"),
        })
    }

    /// A PPP client logs in as `account`; the simulated router runs the
    /// on-up script (sandbox entry, then the POST to tgate).
    pub async fn connect(
        &self,
        account: &str,
        caller: &str,
        tunnel: &str,
    ) -> anyhow::Result<Reply> {
        let tunnel: IpAddr = tunnel.parse().context("tunnel address")?;
        let reply = self
            .lab
            .router
            .connect_ppp(account, "l2tp", caller, tunnel)
            .await
            .context("the simulated router's on-up POST")?
            .context("the simulated router has no on-up hook")?;
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
        let session = body["session"].as_str().and_then(|s| s.parse().ok());
        Ok(Reply {
            status: reply.status,
            state: body["state"].as_str().unwrap_or("?").to_owned(),
            session,
        })
    }

    /// The PPP client hangs up; the router runs the on-down script.
    pub async fn hang_up(&self, account: &str) -> anyhow::Result<()> {
        self.lab
            .router
            .disconnect_ppp(account)
            .await
            .with_context(|| format!("hanging up {account}"))?;
        Ok(())
    }

    pub fn list(&self, name: &str) -> Vec<SimEntry> {
        self.lab.router.address_list(name)
    }

    pub fn addresses(&self, name: &str) -> Vec<String> {
        self.list(name).into_iter().map(|e| e.address).collect()
    }

    /// The account names in `/ppp active`.
    pub fn online(&self) -> Vec<String> {
        let sessions = self.lab.router.active_sessions();
        sessions.into_iter().map(|s| s.name).collect()
    }

    /// Waits until `check` holds; fails with what was expected otherwise.
    pub async fn until(
        &self,
        expected: &str,
        mut check: impl FnMut() -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + PATIENCE;
        while !check() {
            if Instant::now() >= deadline {
                bail!("expected {expected} within {} s", PATIENCE.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Like [`Scene::until`], for a question the database answers.
    async fn until_async<F, Fut>(&self, expected: &str, mut check: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<bool>>,
    {
        let deadline = Instant::now() + PATIENCE;
        while !check().await? {
            if Instant::now() >= deadline {
                bail!("expected {expected} within {} s", PATIENCE.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Waits for the newest bot message in `chat` that passes `pred`.
    pub async fn message(
        &self,
        chat: i64,
        expected: &str,
        pred: impl Fn(&SimMessage) -> bool,
    ) -> anyhow::Result<SimMessage> {
        self.lab
            .tg
            .wait_for(chat, PATIENCE, pred)
            .await
            .with_context(|| {
                format!(
                    "expected {expected} in chat {chat}; it shows {:?}",
                    self.texts(chat)
                )
            })
    }

    /// The owner's prompt for a session: a message with live buttons.
    pub async fn prompt(&self, owner: &TgUser) -> anyhow::Result<SimMessage> {
        let expected = format!("a prompt with buttons in {}'s chat", owner.first_name);
        self.message(owner.id, &expected, |m| !m.buttons.is_empty())
            .await
    }

    /// The same message once the bot has edited it (its buttons gone).
    pub async fn edited(&self, chat: i64, prompt: &SimMessage) -> anyhow::Result<SimMessage> {
        self.message(chat, "the prompt edited, its buttons removed", |m| {
            m.message_id == prompt.message_id && m.edited && m.buttons.is_empty()
        })
        .await
    }

    /// `user` presses the button labelled `label` on their newest prompt;
    /// returns the toast Telegram showed them.
    pub async fn press(&self, user: &TgUser, label: &str) -> anyhow::Result<String> {
        let id = self
            .lab
            .tg
            .user_presses_button(user, user.id, label)
            .with_context(|| {
                format!(
                    "expected a \"{label}\" button in {}'s chat",
                    user.first_name
                )
            })?;
        let answer = self
            .lab
            .tg
            .wait_for_answer(&id, PATIENCE)
            .await
            .with_context(|| format!("expected the \"{label}\" press to be answered"))?;
        Ok(answer.text.unwrap_or_default())
    }

    /// `user` sends `text` to the bot; returns the bot's first new message
    /// in that chat starting with `start` (an alert may arrive in between).
    pub async fn ask(&self, user: &TgUser, text: &str, start: &str) -> anyhow::Result<SimMessage> {
        let before = self.lab.tg.bot_messages(user.id).len();
        self.lab.tg.user_sends(user, text);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found = self
                .lab
                .tg
                .bot_messages(user.id)
                .into_iter()
                .skip(before)
                .find(|m| m.text.starts_with(start));
            if let Some(m) = found {
                return Ok(m);
            }
            if Instant::now() >= deadline {
                bail!(
                    "expected a reply to {text:?} starting {start:?}; the chat shows {:?}",
                    self.texts(user.id)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn texts(&self, chat: i64) -> Vec<String> {
        let messages = self.lab.tg.bot_messages(chat);
        messages.into_iter().map(|m| m.text).collect()
    }

    pub async fn session(&self, id: Option<SessionId>) -> anyhow::Result<Session> {
        let id = id.context("expected a session id in tgate's answer")?;
        self.store
            .session(id)
            .await?
            .with_context(|| format!("expected a row for session {id}"))
    }

    /// Waits until the session's row is in `state`.
    pub async fn settled(&self, id: Option<SessionId>, state: SessionState) -> anyhow::Result<()> {
        let expected = format!("the session's row in state {state}");
        self.until_async(&expected, || async {
            Ok(self.session(id).await?.state == state)
        })
        .await
    }

    /// Waits until the caller has `n` strikes in the policy's window.
    pub async fn strikes(&self, caller: &str, n: i64) -> anyhow::Result<()> {
        let caller: CallerId = caller.parse().context("caller address")?;
        let window = chrono::Duration::from_std(self.lab.config.policy.strike_window)?;
        let expected = format!("{n} strike(s) recorded against {caller}");
        self.until_async(&expected, || async {
            let now = chrono::Utc::now();
            let facts = self.store.strike_facts(&caller, now - window, now).await?;
            Ok(facts.strikes == n)
        })
        .await
    }
}
