//! Every text tgate sends from the API side, in English and Russian: the
//! prompt, what it becomes after the decision, notes to the owner and alerts
//! to admins. Plain text (no parse mode), so nothing from a router or a user
//! needs escaping.

use chrono::{DateTime, Utc};

use super::Lang;
use crate::storage::Session;

/// How a prompt ended; appended to the prompt's text when its buttons go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
    Expired,
    /// The client disconnected before an answer.
    Disconnected,
    /// It's me was pressed but the router could not be reached.
    RouterUnreachable,
    /// Telegram could not be reached in time and `fail_mode = "safe"` let
    /// the client in.
    AllowedUnattended,
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn prompt(lang: Lang, s: &Session) -> String {
    let (title, account, router, from, service, at, by) = match lang {
        Lang::En => (
            "🔐 VPN login: is this you?",
            "Account",
            "Router",
            "From",
            "Service",
            "Time",
            "Answer by",
        ),
        Lang::Ru => (
            "🔐 Вход в VPN: это вы?",
            "Учётная запись",
            "Роутер",
            "Откуда",
            "Сервис",
            "Время",
            "Ответьте до",
        ),
    };
    format!(
        "{title}\n\n{account}: {}\n{router}: {}\n{from}: {}\n{service}: {}\n{at}: {}\n{by}: {}",
        s.account,
        s.router,
        s.caller_id,
        s.service.as_str().to_uppercase(),
        time(s.created_at),
        time(s.deadline),
    )
}

/// The two button labels: It's me, Not me.
pub fn buttons(lang: Lang) -> (&'static str, &'static str) {
    match lang {
        Lang::En => ("✅ It's me", "❌ Not me"),
        Lang::Ru => ("✅ Это я", "❌ Не я"),
    }
}

/// The prompt's text after the decision: the original, then the outcome.
pub fn decided(lang: Lang, s: &Session, outcome: Outcome) -> String {
    let line = match (lang, outcome) {
        (Lang::En, Outcome::Allowed) => "✅ Allowed.",
        (Lang::Ru, Outcome::Allowed) => "✅ Доступ разрешён.",
        (Lang::En, Outcome::Denied) => {
            "❌ Denied: the session was disconnected and the caller banned. The admins were told."
        }
        (Lang::Ru, Outcome::Denied) => {
            "❌ Отклонено: сессия разорвана, адрес заблокирован. Администраторы уведомлены."
        }
        (Lang::En, Outcome::Expired) => "⌛ Not confirmed in time; the session was disconnected.",
        (Lang::Ru, Outcome::Expired) => "⌛ Не подтверждено вовремя; сессия разорвана.",
        (Lang::En, Outcome::Disconnected) => "🔌 The client disconnected before an answer.",
        (Lang::Ru, Outcome::Disconnected) => "🔌 Клиент отключился до ответа.",
        (Lang::En, Outcome::RouterUnreachable) => {
            "⚠️ The router could not be reached. Please reconnect and try again."
        }
        (Lang::Ru, Outcome::RouterUnreachable) => {
            "⚠️ Роутер недоступен. Переподключитесь и попробуйте ещё раз."
        }
        (Lang::En, Outcome::AllowedUnattended) => {
            "✅ Allowed without confirmation: Telegram was unreachable (fail-safe mode)."
        }
        (Lang::Ru, Outcome::AllowedUnattended) => {
            "✅ Разрешено без подтверждения: Telegram был недоступен (режим fail-safe)."
        }
    };
    format!("{}\n\n{line}", prompt(lang, s))
}

/// To the owner: a second connect while a prompt is pending was blocked.
pub fn blocked(lang: Lang, account: &str, caller: &str) -> String {
    match lang {
        Lang::En => format!(
            "⚠️ Another attempt to log in as {account} from {caller} was blocked while your answer is pending."
        ),
        Lang::Ru => format!(
            "⚠️ Ещё одна попытка входа под {account} с адреса {caller} заблокирована, пока ждём вашего ответа."
        ),
    }
}

/// To admins (in English: admin chats are operators' chats).
pub fn alert_denied(s: &Session, by: i64, banned_until: Option<DateTime<Utc>>) -> String {
    let ban = match banned_until {
        Some(until) => format!("banned until {}", time(until)),
        None => "not banned (never_ban network or PPPoE caller)".to_string(),
    };
    format!(
        "🚨 \"Not me\" from the owner (Telegram id {by}) of {} on {}: caller {} was disconnected and {ban}.",
        s.account, s.router, s.caller_id
    )
}

/// A caller banned by the strike policy (SPEC §5).
pub fn alert_banned(caller: &str, strikes: i64, window: &str, until: DateTime<Utc>) -> String {
    format!(
        "⛔ {caller} was banned until {}: {strikes} unconfirmed or refused connects within {window}. Its sessions were disconnected.",
        time(until)
    )
}

/// A PPPoE caller (a MAC address) cannot be banned on the ban list, so the
/// account it uses is locked instead.
pub fn alert_locked(router: &str, account: &str, caller: &str, strikes: i64) -> String {
    format!(
        "🔒 {account} on {router} was locked: {strikes} unconfirmed or refused connects from {caller}. Unlock it when the owner has checked."
    )
}

pub fn alert_unenrolled(router: &str, account: &str, caller: &str) -> String {
    format!(
        "ℹ️ {account} on {router} connected from {caller}, but nobody can confirm for this account, so it was disconnected. Enroll its owner with: tgate accounts invite {router} {account}"
    )
}

pub fn alert_unattended(s: &Session) -> String {
    format!(
        "⚠️ Telegram was unreachable, so {} on {} (caller {}) was allowed without confirmation (fail_mode = \"safe\").",
        s.account, s.router, s.caller_id
    )
}

/// A router stopped answering tgate: confirmations on it fail (the clients
/// stay sandboxed) until it is back.
pub fn alert_router_down(router: &str, reason: &str) -> String {
    format!(
        "🔌 Router {router} is unreachable ({reason}). Until it is back, \"It's me\" cannot let anyone in there; clients stay sandboxed."
    )
}

/// A router answers again; `away` is how long it did not, when known.
pub fn alert_router_back(router: &str, away: Option<&str>) -> String {
    match away {
        Some(away) => format!("✅ Router {router} is reachable again (it was away for {away})."),
        None => format!("✅ Router {router} is reachable again."),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{SessionId, SessionState};

    pub(crate) fn session() -> Session {
        let at = DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        Session {
            id: SessionId::new(),
            router: "office".parse().unwrap(),
            account: "alice".parse().unwrap(),
            caller_id: "203.0.113.7".parse().unwrap(),
            remote_address: "10.10.0.5".parse().unwrap(),
            local_address: None,
            service: "l2tp".parse().unwrap(),
            interface: None,
            chat_id: Some(42),
            language: Some("en".to_owned()),
            state: SessionState::Pending,
            created_at: at,
            deadline: at + chrono::Duration::seconds(60),
            decided_at: None,
            decided_by: None,
            closed_at: None,
            message_id: None,
        }
    }

    #[test]
    fn the_prompt_names_everything_the_owner_needs() {
        let s = session();
        let (at, by) = (time(s.created_at), time(s.deadline));
        for lang in Lang::ALL {
            let text = prompt(lang, &s);
            for part in [
                "alice",
                "office",
                "203.0.113.7",
                "L2TP",
                at.as_str(),
                by.as_str(),
            ] {
                assert!(text.contains(part), "{lang}: {part} missing from {text}");
            }
        }
        assert!(prompt(Lang::Ru, &session()).contains("это вы?"));
    }

    #[test]
    fn a_decided_prompt_keeps_its_text_and_says_the_outcome() {
        let s = session();
        let text = decided(Lang::En, &s, Outcome::Expired);
        assert!(text.starts_with(&prompt(Lang::En, &s)));
        assert!(text.ends_with("⌛ Not confirmed in time; the session was disconnected."));
    }
}
