//! The gate's side of Telegram: delivering a prompt in the background (its
//! session row is the outbox: a prompt without a message id is not yet
//! delivered), editing it once decided, and the notes and alerts around it.
//! All of it is spawned, so a slow Bot API never holds up a router's answer
//! or a button's toast.

use std::sync::Arc;

use chrono::Utc;
use tracing::{info, warn};

use super::Gate;
use crate::config::FailMode;
use crate::domain::{SessionState, Transition};
use crate::storage::{Account, AuditEntry, Session, Store};
use crate::telegram::Lang;
use crate::telegram::messages::{self, Outcome};

impl Gate {
    /// Delivers the prompt in the owner's `lang` in the background.
    pub(super) fn spawn_prompt(self: &Arc<Self>, session: Session, lang: Lang) {
        if self.telegram.is_none() {
            return;
        }
        let gate = self.clone();
        tokio::spawn(async move { gate.deliver_prompt(session, lang).await });
    }

    async fn deliver_prompt(self: Arc<Self>, session: Session, lang: Lang) {
        let (Some(tg), Some(chat)) = (self.telegram.clone(), session.chat_id) else {
            return;
        };
        let left = (session.deadline - Utc::now()).to_std().unwrap_or_default();
        let until = tokio::time::Instant::now() + left;
        match tg.send_prompt(chat, lang, &session, until).await {
            Ok(message_id) => match self.store().set_message_id(session.id, message_id).await {
                // Decided while the prompt was on its way (expired during a
                // Telegram outage): never leave live buttons behind. A
                // decision stored after the id edits the prompt itself.
                Ok(Some(state)) if state != SessionState::Pending => {
                    if let Ok(Some(now)) = self.store().session(session.id).await {
                        self.spawn_edit(&now, outcome_of(&now));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(session = %session.id, error = %e, "prompt's message id not stored");
                }
            },
            Err(e) => {
                warn!(session = %session.id, error = %e, "prompt not delivered");
                self.audit_quietly(
                    AuditEntry::new("tgate", "prompt.failed")
                        .session(session.id)
                        .detail(serde_json::json!({ "error": e.to_string() })),
                )
                .await;
                if self.config().policy.fail_mode == FailMode::Safe {
                    self.allow_unattended(session).await;
                }
            }
        }
    }

    /// `fail_mode = "safe"`: Telegram could not be reached in time, so the
    /// client is let in and the admins are told.
    async fn allow_unattended(&self, session: Session) {
        let won = match self
            .store()
            .transition(
                session.id,
                Transition::Confirm,
                Utc::now(),
                "tgate:fail-safe",
            )
            .await
        {
            Ok(Some(won)) => won,
            // Decided meanwhile (hung up, expired): nothing to let in.
            Ok(None) => return,
            Err(e) => {
                // Left pending: its expiry decides it.
                warn!(session = %session.id, error = %e, "fail-safe allow not stored");
                return;
            }
        };
        info!(session = %won.id, "allowed without confirmation (fail_mode = safe)");
        self.forget_expiry(won.id);
        self.audit_quietly(AuditEntry::new("tgate:fail-safe", "session.allowed").session(won.id))
            .await;
        if let Ok(router) = self.router(&won.router) {
            self.permit(router, won.remote_address, won.id).await;
        }
        if let Some(tg) = &self.telegram {
            tg.alert_admins(&messages::alert_unattended(&won)).await;
        }
    }

    /// Edits the session's prompt to show `outcome`, buttons removed.
    pub(super) fn spawn_edit(&self, s: &Session, outcome: Outcome) {
        let (Some(tg), Some(chat), Some(message_id)) =
            (self.telegram.clone(), s.chat_id, s.message_id)
        else {
            return;
        };
        let store = self.store().clone();
        let s = s.clone();
        tokio::spawn(async move {
            let lang = session_lang(store.as_ref(), &s).await;
            if let Err(e) = tg
                .edit(chat, message_id, messages::decided(lang, &s, outcome))
                .await
            {
                warn!(session = %s.id, error = %e, "prompt not edited");
            }
        });
    }

    /// Sends `text` to a chat in the background.
    pub(super) fn spawn_note(&self, chat: i64, text: String) {
        if let Some(tg) = self.telegram.clone() {
            tokio::spawn(async move {
                if let Err(e) = tg.send(chat, text).await {
                    warn!(chat, error = %e, "note not delivered");
                }
            });
        }
    }

    pub(super) fn spawn_alert(&self, text: String) {
        if let Some(tg) = self.telegram.clone() {
            tokio::spawn(async move { tg.alert_admins(&text).await });
        }
    }

    pub(super) async fn audit_quietly(&self, entry: AuditEntry) {
        if let Err(e) = self.store().audit(&entry).await {
            warn!(error = %e, "audit write failed");
        }
    }
}

/// The language an account's owner chose (the default when none, or one
/// this build no longer knows).
pub(super) fn owner_lang(account: &Account) -> Lang {
    lang_or_default(account.language.as_deref())
}

/// A stored language code as a language tgate speaks: the default when
/// there is none, or one this build no longer knows.
pub(super) fn lang_or_default(code: Option<&str>) -> Lang {
    known_lang(code).unwrap_or_default()
}

/// A stored language code, if it is one this build speaks.
fn known_lang(code: Option<&str>) -> Option<Lang> {
    code.and_then(|l| l.parse().ok())
}

/// The language the session's prompt was written in. Sessions stored
/// before tgate kept it (or in a language this build no longer has) use
/// their account's owner's, and the default when the account cannot be
/// read.
async fn session_lang(store: &dyn Store, s: &Session) -> Lang {
    if let Some(lang) = known_lang(s.language.as_deref()) {
        return lang;
    }
    match store.account(&s.router, &s.account).await {
        Ok(Some(a)) => owner_lang(&a),
        _ => Lang::default(),
    }
}

/// What a decided session's prompt should say.
pub(super) fn outcome_of(s: &Session) -> Outcome {
    match (s.state, s.decided_by.as_deref()) {
        (SessionState::Confirmed, Some("tgate:fail-safe")) => Outcome::AllowedUnattended,
        (SessionState::Confirmed, _) => Outcome::Allowed,
        (SessionState::Denied, _) => Outcome::Denied,
        // Earlier versions' reconciler expired a pending session whose
        // client was no longer on the router (it now closes it, as the
        // down event does): the client hung up.
        (SessionState::Expired, Some(super::reconcile::RECONCILER)) => Outcome::Disconnected,
        (SessionState::Expired, _) => Outcome::Expired,
        (SessionState::Failed, _) => Outcome::RouterUnreachable,
        // Closed while pending (decided and closed at once), or closed
        // after it had been allowed.
        (SessionState::Closed, _) if s.decided_at.is_some() && s.decided_at != s.closed_at => {
            Outcome::Allowed
        }
        (SessionState::Closed | SessionState::Pending, _) => Outcome::Disconnected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::messages::tests::session;

    /// A pending session the reconciler found gone tells the owner the
    /// client left, as the down event would; a real deadline says so.
    #[test]
    fn a_session_settled_because_its_client_left_says_so() {
        let settled = |by: &str| Session {
            state: SessionState::Expired,
            decided_by: Some(by.to_owned()),
            ..session()
        };
        assert_eq!(
            outcome_of(&settled("tgate:reconciler")),
            Outcome::Disconnected
        );
        assert_eq!(outcome_of(&settled("tgate:deadline")), Outcome::Expired);
    }
}
