//! Every word the watcher says, in each language tgate speaks. Kept in one
//! place so a translation is reviewed as a whole and no handler grows its own
//! wording. Everything here is plain text (no parse mode): account and router
//! names come from operators and are shown as they are, never interpreted as
//! markup.

use tgate_core::telegram::Lang;

use crate::api_client::{Decision, SessionInfo, UserStatus};

/// The toast shown for a prompt button's outcome.
pub fn decision_toast(lang: Lang, decision: Decision) -> &'static str {
    use Decision::*;
    match (lang, decision) {
        (Lang::En, Allowed) => "Allowed",
        (Lang::Ru, Allowed) => "Доступ разрешён",
        (Lang::En, Denied) => "Denied, the session was disconnected",
        (Lang::Ru, Denied) => "Отклонено, сессия разорвана",
        (Lang::En, Gone) => "That session has ended",
        (Lang::Ru, Gone) => "Эта сессия уже завершена",
        (Lang::En, RouterUnreachable) => "Router unreachable, please reconnect",
        (Lang::Ru, RouterUnreachable) => "Роутер недоступен, переподключитесь",
        (Lang::En, AlreadyHandled) => "Already handled",
        (Lang::Ru, AlreadyHandled) => "Уже обработано",
        (Lang::En, Expired) => "Expired",
        (Lang::Ru, Expired) => "Время истекло",
        (Lang::En, NotOwner) => "Not yours",
        (Lang::Ru, NotOwner) => "Это не ваша сессия",
        (Lang::En, UnknownSession) => "Unknown session",
        (Lang::Ru, UnknownSession) => "Неизвестная сессия",
    }
}

pub fn invalid_button(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Invalid button",
        Lang::Ru => "Недействительная кнопка",
    }
}

/// When the API cannot be reached or fails: the user may simply try again.
pub fn unavailable(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Temporarily unavailable, try again",
        Lang::Ru => "Временно недоступно, попробуйте ещё раз",
    }
}

/// Both the toast and the edited keyboard message after choosing a language;
/// written in the language just chosen.
pub fn language_set(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Language: English",
        Lang::Ru => "Язык: русский",
    }
}

pub fn choose_language(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Choose your language:",
        Lang::Ru => "Выберите язык:",
    }
}

/// A language's own name, for its button: a reader finds their language
/// whatever the bot currently speaks.
pub fn language_name(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "English",
        Lang::Ru => "Русский",
    }
}

pub fn enrolled(lang: Lang, account: &str, router: &str) -> String {
    match lang {
        Lang::En => format!("✅ You now confirm VPN logins for {account} on {router}."),
        Lang::Ru => format!("✅ Теперь вы подтверждаете входы в VPN для {account} на {router}."),
    }
}

pub fn invite_unknown(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "This invite link is not valid.",
        Lang::Ru => "Эта ссылка-приглашение недействительна.",
    }
}

pub fn invite_used(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "This invite link was already used.",
        Lang::Ru => "Эта ссылка-приглашение уже использована.",
    }
}

pub fn invite_expired(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "This invite link has expired. Ask your admin for a new one.",
        Lang::Ru => "Срок действия ссылки-приглашения истёк. Попросите администратора о новой.",
    }
}

pub fn welcome(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "Hello! This is tgate, a second factor for your company's VPN.\n\n\
             When someone logs in to the VPN with your account, I ask you here \
             whether it is you. \"It's me\" lets the connection in; \"Not me\" \
             disconnects it at once.\n\n\
             To start, open the invite link your admin gave you. /help lists \
             what else I can do."
        }
        Lang::Ru => {
            "Здравствуйте! Это tgate — второй фактор для VPN вашей компании.\n\n\
             Когда кто-то входит в VPN под вашей учётной записью, я спрошу здесь, \
             вы ли это. «Это я» пропускает подключение, «Не я» сразу его разрывает.\n\n\
             Чтобы начать, откройте ссылку-приглашение от администратора. \
             /help — что ещё я умею."
        }
    }
}

pub fn help(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "tgate asks you to confirm each login to the VPN with your account.\n\n\
             When a prompt arrives, press \"It's me\" if you are connecting, or \
             \"Not me\" if you are not: the connection is dropped and the admins \
             are told.\n\n\
             Commands:\n\
             /status: your VPN accounts and current sessions\n\
             /language: choose English or Russian\n\
             /help: this message\n\n\
             To link a VPN account, open the invite link from your admin."
        }
        Lang::Ru => {
            "tgate просит подтверждать каждый вход в VPN под вашей учётной записью.\n\n\
             Когда придёт запрос, нажмите «Это я», если подключаетесь вы, или \
             «Не я», если нет: подключение будет разорвано, а администраторы \
             получат сообщение.\n\n\
             Команды:\n\
             /status — ваши учётные записи VPN и текущие сессии\n\
             /language — выбрать русский или английский\n\
             /help — эта справка\n\n\
             Чтобы привязать учётную запись VPN, откройте ссылку-приглашение от администратора."
        }
    }
}

pub fn unknown_input(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "I don't understand that. /help lists what I can do.",
        Lang::Ru => "Не понимаю. /help — список того, что я умею.",
    }
}

/// The `/status` reply: accounts first, then live sessions.
pub fn status(lang: Lang, status: &UserStatus) -> String {
    if status.accounts.is_empty() && status.sessions.is_empty() {
        return match lang {
            Lang::En => "You have no VPN accounts yet.".into(),
            Lang::Ru => "У вас пока нет учётных записей VPN.".into(),
        };
    }
    let mut out = String::from(match lang {
        Lang::En => "Your VPN accounts:",
        Lang::Ru => "Ваши учётные записи VPN:",
    });
    for a in &status.accounts {
        out.push_str(&format!("\n• {}/{}", a.router, a.account));
    }
    out.push_str("\n\n");
    if status.sessions.is_empty() {
        out.push_str(match lang {
            Lang::En => "No live sessions.",
            Lang::Ru => "Активных сессий нет.",
        });
    } else {
        out.push_str(match lang {
            Lang::En => "Live sessions:",
            Lang::Ru => "Активные сессии:",
        });
        for s in &status.sessions {
            out.push_str("\n• ");
            out.push_str(&session_line(lang, s));
        }
    }
    out
}

fn session_line(lang: Lang, s: &SessionInfo) -> String {
    let from = s
        .caller_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .or(s.remote_address.as_deref())
        .unwrap_or("?");
    let since = since(&s.created_at);
    let state = state_name(lang, &s.state);
    match lang {
        Lang::En => format!(
            "{}/{} from {from}: {state}, since {since}",
            s.router, s.account
        ),
        Lang::Ru => format!("{}/{} с {from}: {state}, с {since}", s.router, s.account),
    }
}

/// RFC 3339 from the API, shown to the minute in UTC; anything unparsable is
/// shown as it came rather than hidden.
pub(crate) fn since(created_at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(created_at)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| created_at.to_owned())
}

pub(crate) fn state_name(lang: Lang, state: &str) -> String {
    let name = match (lang, state) {
        (Lang::En, "pending") => "waiting for confirmation",
        (Lang::Ru, "pending") => "ждёт подтверждения",
        (Lang::En, "confirmed") => "allowed",
        (Lang::Ru, "confirmed") => "разрешена",
        (Lang::En, "denied") => "denied",
        (Lang::Ru, "denied") => "отклонена",
        (Lang::En, "expired") => "expired",
        (Lang::Ru, "expired") => "истекла",
        (Lang::En, "closed") => "ended",
        (Lang::Ru, "closed") => "завершена",
        (Lang::En, "failed") => "failed",
        (Lang::Ru, "failed") => "ошибка",
        // A state added to the API later still reads as something.
        (_, other) => other,
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_client::AccountInfo;

    #[test]
    fn status_lists_accounts_and_sessions() {
        let st = UserStatus {
            language: None,
            accounts: vec![AccountInfo {
                router: "office".into(),
                account: "alice".into(),
            }],
            sessions: vec![SessionInfo {
                id: "s1".into(),
                router: "office".into(),
                account: "alice".into(),
                state: "confirmed".into(),
                caller_id: Some("203.0.113.7".into()),
                remote_address: Some("10.8.0.2".into()),
                created_at: "2025-03-01T10:15:30+03:00".into(),
            }],
        };
        let text = status(Lang::En, &st);
        assert!(text.contains("• office/alice"), "{text}");
        assert!(
            text.contains("office/alice from 203.0.113.7: allowed, since 2025-03-01 07:15 UTC"),
            "{text}"
        );
        let ru = status(Lang::Ru, &st);
        assert!(ru.contains("разрешена"), "{ru}");
    }

    #[test]
    fn empty_status_says_so() {
        let empty = UserStatus::default();
        assert_eq!(status(Lang::En, &empty), "You have no VPN accounts yet.");
    }

    #[test]
    fn odd_timestamps_and_states_are_shown_not_hidden() {
        assert_eq!(since("yesterday"), "yesterday");
        assert_eq!(state_name(Lang::En, "paused"), "paused");
    }
}
