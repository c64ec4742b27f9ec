//! The admin commands' words, in English and Russian. Plain text like the
//! rest of the bot: networks, reasons and names are shown as they are.

use tgate_core::telegram::Lang;

use super::parse::{AdminName, BadArgs};
use crate::api_admin::{AccountRow, BanInfo, InviteLink, Page, RouterRow};
use crate::api_client::SessionInfo;
use crate::texts::{since, state_name};

pub fn refused(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "This command is for admins.",
        Lang::Ru => "Эта команда только для администраторов.",
    }
}

/// The API's admin list disagrees with the watcher's.
pub fn api_refused(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "tgate's API does not list you as an admin; check telegram.admins.",
        Lang::Ru => "API tgate не считает вас администратором; проверьте telegram.admins.",
    }
}

pub fn usage(name: AdminName) -> &'static str {
    match name {
        AdminName::Bans => "/bans",
        AdminName::Ban => "/ban <ip|cidr> [duration, default 1h] [reason…]",
        AdminName::Unban => "/unban <ip|cidr|ban id>",
        AdminName::Sessions => "/sessions",
        AdminName::Kick => "/kick <session id | account>",
        AdminName::Invite => "/invite <router> <account>",
        AdminName::Accounts => "/accounts",
        AdminName::Routers => "/routers",
    }
}

pub fn bad_args(lang: Lang, name: AdminName, bad: &BadArgs) -> String {
    let problem = match (lang, bad) {
        (Lang::En, BadArgs::Missing) => "missing arguments".to_owned(),
        (Lang::Ru, BadArgs::Missing) => "не хватает аргументов".to_owned(),
        (Lang::En, BadArgs::TooMany) => "too many arguments".to_owned(),
        (Lang::Ru, BadArgs::TooMany) => "слишком много аргументов".to_owned(),
        (Lang::En, BadArgs::NotNetwork(s)) => format!("not an IP address or network: {s}"),
        (Lang::Ru, BadArgs::NotNetwork(s)) => format!("это не IP-адрес и не сеть: {s}"),
        (Lang::En, BadArgs::NotDuration(s)) => {
            format!("not a duration: {s} (e.g. 30m, 2h, 7d)")
        }
        (Lang::Ru, BadArgs::NotDuration(s)) => {
            format!("это не длительность: {s} (например 30m, 2h, 7d)")
        }
        (Lang::En, BadArgs::NotRouter(s)) => format!("not a router name: {s}"),
        (Lang::Ru, BadArgs::NotRouter(s)) => format!("это не имя роутера: {s}"),
        (Lang::En, BadArgs::NotAccount(s)) => format!("not an account name: {s}"),
        (Lang::Ru, BadArgs::NotAccount(s)) => format!("это не имя учётной записи: {s}"),
    };
    let label = match lang {
        Lang::En => "Usage",
        Lang::Ru => "Использование",
    };
    format!("{problem}\n{label}: {}", usage(name))
}

/// The API refused a field (e.g. an unknown router).
pub fn invalid(lang: Lang, field: &str, reason: &str) -> String {
    match lang {
        Lang::En => format!("Refused: {field}: {reason}"),
        Lang::Ru => format!("Отказано: {field}: {reason}"),
    }
}

/// "(11–20 of 25)", or nothing when everything fits on one page.
fn range<T>(lang: Lang, page: &Page<T>) -> String {
    if page.offset == 0 && page.items.len() >= page.total {
        return String::new();
    }
    let (from, to) = (page.offset + 1, page.offset + page.items.len());
    match lang {
        Lang::En => format!(" ({from}–{to} of {})", page.total),
        Lang::Ru => format!(" ({from}–{to} из {})", page.total),
    }
}

pub fn bans(lang: Lang, page: &Page<BanInfo>) -> String {
    if page.total == 0 {
        return match lang {
            Lang::En => "No active bans.".into(),
            Lang::Ru => "Активных банов нет.".into(),
        };
    }
    let mut out = match lang {
        Lang::En => format!("Active bans{}:", range(lang, page)),
        Lang::Ru => format!("Активные баны{}:", range(lang, page)),
    };
    for b in &page.items {
        out.push_str(&format!("\n• {}", ban_line(lang, b)));
    }
    out
}

fn ban_line(lang: Lang, b: &BanInfo) -> String {
    let until = since(&b.until);
    match lang {
        Lang::En => format!("{} until {until}: {} (#{})", b.network, b.reason, b.id),
        Lang::Ru => format!("{} до {until}: {} (#{})", b.network, b.reason, b.id),
    }
}

pub fn banned(lang: Lang, b: &BanInfo) -> String {
    match lang {
        Lang::En => format!("⛔ Banned {}", ban_line(lang, b)),
        Lang::Ru => format!("⛔ Забанено: {}", ban_line(lang, b)),
    }
}

pub fn unbanned(lang: Lang, lifted: &[BanInfo]) -> String {
    let mut out = match lang {
        Lang::En => "✅ Lifted:".to_owned(),
        Lang::Ru => "✅ Снято:".to_owned(),
    };
    for b in lifted {
        out.push_str(&format!("\n• {} (#{})", b.network, b.id));
    }
    out
}

pub fn no_such_ban(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "No active ban matches that.",
        Lang::Ru => "Такого активного бана нет.",
    }
}

pub fn sessions(lang: Lang, page: &Page<SessionInfo>) -> String {
    if page.total == 0 {
        return match lang {
            Lang::En => "No open sessions.".into(),
            Lang::Ru => "Открытых сессий нет.".into(),
        };
    }
    let mut out = match lang {
        Lang::En => format!("Open sessions{}:", range(lang, page)),
        Lang::Ru => format!("Открытые сессии{}:", range(lang, page)),
    };
    for s in &page.items {
        out.push_str(&format!("\n• {}", session_line(lang, s)));
    }
    out
}

/// `account@router`, caller, state, since, and the id `/kick` takes.
fn session_line(lang: Lang, s: &SessionInfo) -> String {
    let caller = s
        .caller_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .unwrap_or("?");
    let state = state_name(lang, &s.state);
    let since = since(&s.created_at);
    match lang {
        Lang::En => format!(
            "{}@{} from {caller}: {state}, since {since}\n  {}",
            s.account, s.router, s.id
        ),
        Lang::Ru => format!(
            "{}@{} с {caller}: {state}, с {since}\n  {}",
            s.account, s.router, s.id
        ),
    }
}

pub fn kicked(lang: Lang, kicked: &[SessionInfo]) -> String {
    let mut out = match lang {
        Lang::En => "✅ Disconnected:".to_owned(),
        Lang::Ru => "✅ Отключено:".to_owned(),
    };
    for s in kicked {
        let caller = s.caller_id.as_deref().unwrap_or("?");
        out.push_str(&format!("\n• {}@{} ({caller})", s.account, s.router));
    }
    out
}

pub fn nothing_to_kick(lang: Lang, target: &str) -> String {
    match lang {
        Lang::En => format!("No open session matches {target}."),
        Lang::Ru => format!("Нет открытых сессий для {target}."),
    }
}

pub fn ambiguous(lang: Lang, target: &str, candidates: &[SessionInfo]) -> String {
    let mut out = match lang {
        Lang::En => format!("{target} is ambiguous; it matches:"),
        Lang::Ru => format!("{target} неоднозначно, подходят:"),
    };
    for s in candidates {
        out.push_str(&format!("\n• {}", session_line(lang, s)));
    }
    out.push_str(match lang {
        Lang::En => "\nUse the full session id.",
        Lang::Ru => "\nУкажите полный id сессии.",
    });
    out
}

pub fn invite(lang: Lang, i: &InviteLink) -> String {
    match lang {
        Lang::En => format!(
            "Invite for {}@{} (single use, expires in 24 h):\n{}",
            i.account, i.router, i.link
        ),
        Lang::Ru => format!(
            "Приглашение для {}@{} (одноразовое, действует 24 ч):\n{}",
            i.account, i.router, i.link
        ),
    }
}

pub fn accounts(lang: Lang, page: &Page<AccountRow>) -> String {
    if page.total == 0 {
        return match lang {
            Lang::En => "No accounts yet.".into(),
            Lang::Ru => "Учётных записей пока нет.".into(),
        };
    }
    let mut out = match lang {
        Lang::En => format!("Accounts{}:", range(lang, page)),
        Lang::Ru => format!("Учётные записи{}:", range(lang, page)),
    };
    for a in &page.items {
        let owner = match (lang, a.owner) {
            (Lang::En, Some(id)) => format!("owner {id}"),
            (Lang::Ru, Some(id)) => format!("владелец {id}"),
            (Lang::En, None) => "no owner".to_owned(),
            (Lang::Ru, None) => "без владельца".to_owned(),
        };
        let locked = match (lang, a.locked) {
            (_, false) => "",
            (Lang::En, true) => ", locked",
            (Lang::Ru, true) => ", заблокирована",
        };
        out.push_str(&format!("\n• {}/{}: {owner}{locked}", a.router, a.account));
    }
    out
}

pub fn routers(lang: Lang, routers: &[RouterRow]) -> String {
    if routers.is_empty() {
        return match lang {
            Lang::En => "No routers configured.".into(),
            Lang::Ru => "Роутеры не настроены.".into(),
        };
    }
    let mut out = String::from(match lang {
        Lang::En => "Routers:",
        Lang::Ru => "Роутеры:",
    });
    let n = |v: Option<usize>| v.map_or("?".to_owned(), |v| v.to_string());
    for r in routers {
        let line = match (lang, r.reachable) {
            (Lang::En, true) => format!(
                "{}: reachable, {} ms; sandbox {}, permit {}, ban {}",
                r.name,
                r.latency_ms.unwrap_or(0),
                n(r.sandbox),
                n(r.permit),
                n(r.ban)
            ),
            (Lang::Ru, true) => format!(
                "{}: доступен, {} мс; sandbox {}, permit {}, ban {}",
                r.name,
                r.latency_ms.unwrap_or(0),
                n(r.sandbox),
                n(r.permit),
                n(r.ban)
            ),
            (Lang::En, false) => format!(
                "{}: UNREACHABLE ({})",
                r.name,
                r.error.as_deref().unwrap_or("no answer")
            ),
            (Lang::Ru, false) => format!(
                "{}: НЕДОСТУПЕН ({})",
                r.name,
                r.error.as_deref().unwrap_or("нет ответа")
            ),
        };
        out.push_str(&format!("\n• {line}"));
    }
    out
}

/// Appended to `/help` for admins.
pub fn help(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "Admin commands:\n\
             /bans: active bans\n\
             /ban <ip|cidr> [duration] [reason]: ban (default 1h)\n\
             /unban <ip|cidr|ban id>: lift a ban\n\
             /sessions: open sessions\n\
             /kick <session id | account>: disconnect\n\
             /invite <router> <account>: invite link for an account's owner\n\
             /accounts: accounts and their owners\n\
             /routers: router health"
        }
        Lang::Ru => {
            "Команды администратора:\n\
             /bans — активные баны\n\
             /ban <ip|cidr> [срок] [причина] — забанить (по умолчанию 1h)\n\
             /unban <ip|cidr|id бана> — снять бан\n\
             /sessions — открытые сессии\n\
             /kick <id сессии | учётная запись> — отключить\n\
             /invite <роутер> <учётная запись> — ссылка-приглашение владельцу\n\
             /accounts — учётные записи и их владельцы\n\
             /routers — состояние роутеров"
        }
    }
}
