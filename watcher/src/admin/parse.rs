//! Reading an admin command's arguments. Everything is checked here, before
//! any call to the API, so a typo gets a usage line naming what is wrong and
//! the API only ever sees well-formed requests (it checks them again).

use std::net::IpAddr;

use tgate_core::config::parse_duration;
use tgate_core::domain::{AccountName, RouterName};

use crate::api_admin::Unban;

/// The admin commands, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminName {
    Bans,
    Ban,
    Unban,
    Sessions,
    Kick,
    Invite,
    Accounts,
    Routers,
}

impl AdminName {
    pub fn from_command(name: &str) -> Option<AdminName> {
        Some(match name {
            "bans" => AdminName::Bans,
            "ban" => AdminName::Ban,
            "unban" => AdminName::Unban,
            "sessions" => AdminName::Sessions,
            "kick" => AdminName::Kick,
            "invite" => AdminName::Invite,
            "accounts" => AdminName::Accounts,
            "routers" => AdminName::Routers,
            _ => return None,
        })
    }
}

/// An admin command with its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    Bans,
    Ban {
        network: String,
        duration: Option<String>,
        reason: Option<String>,
    },
    Unban(Unban),
    Sessions,
    Kick(String),
    Invite {
        router: String,
        account: String,
    },
    Accounts,
    Routers,
}

/// What is wrong with the arguments; shown above the command's usage line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadArgs {
    Missing,
    TooMany,
    NotNetwork(String),
    NotDuration(String),
    NotRouter(String),
    NotAccount(String),
}

pub fn parse(name: AdminName, args: &str) -> Result<AdminCommand, BadArgs> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let none = |cmd| {
        if words.is_empty() {
            Ok(cmd)
        } else {
            Err(BadArgs::TooMany)
        }
    };
    match name {
        AdminName::Bans => none(AdminCommand::Bans),
        AdminName::Sessions => none(AdminCommand::Sessions),
        AdminName::Accounts => none(AdminCommand::Accounts),
        AdminName::Routers => none(AdminCommand::Routers),
        AdminName::Ban => ban(&words),
        AdminName::Unban => match words.as_slice() {
            [] => Err(BadArgs::Missing),
            [one] if one.chars().all(|c| c.is_ascii_digit()) => one
                .parse()
                .map(|id| AdminCommand::Unban(Unban::Id(id)))
                .map_err(|_| BadArgs::NotNetwork((*one).to_owned())),
            [one] => Ok(AdminCommand::Unban(Unban::Network(network(one)?))),
            _ => Err(BadArgs::TooMany),
        },
        AdminName::Kick => match words.as_slice() {
            [] => Err(BadArgs::Missing),
            [one] => Ok(AdminCommand::Kick((*one).to_owned())),
            _ => Err(BadArgs::TooMany),
        },
        AdminName::Invite => match words.as_slice() {
            [router, account] => {
                router
                    .parse::<RouterName>()
                    .map_err(|_| BadArgs::NotRouter((*router).to_owned()))?;
                account
                    .parse::<AccountName>()
                    .map_err(|_| BadArgs::NotAccount((*account).to_owned()))?;
                Ok(AdminCommand::Invite {
                    router: (*router).to_owned(),
                    account: (*account).to_owned(),
                })
            }
            [] | [_] => Err(BadArgs::Missing),
            _ => Err(BadArgs::TooMany),
        },
    }
}

/// `/ban <ip|cidr> [duration] [reason…]`: a second word that starts with a
/// digit is meant as a duration, so `2x` is a typo to point out rather than
/// a reason to record.
fn ban(words: &[&str]) -> Result<AdminCommand, BadArgs> {
    let Some((first, rest)) = words.split_first() else {
        return Err(BadArgs::Missing);
    };
    let network = network(first)?;
    let (duration, reason) = match rest.split_first() {
        Some((d, reason)) if d.starts_with(|c: char| c.is_ascii_digit()) => {
            parse_duration(d).map_err(|_| BadArgs::NotDuration((*d).to_owned()))?;
            (Some((*d).to_owned()), reason)
        }
        _ => (None, rest),
    };
    let reason = Some(reason.join(" ")).filter(|r| !r.is_empty());
    Ok(AdminCommand::Ban {
        network,
        duration,
        reason,
    })
}

/// An address or a network, as the API will read it.
fn network(raw: &str) -> Result<String, BadArgs> {
    let bad = || BadArgs::NotNetwork(raw.to_owned());
    let (addr, prefix) = match raw.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (raw, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    if let Some(p) = prefix {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        match p.parse::<u8>() {
            Ok(len) if len <= max && p.chars().all(|c| c.is_ascii_digit()) => {}
            _ => return Err(bad()),
        }
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban_of(args: &str) -> Result<AdminCommand, BadArgs> {
        parse(AdminName::Ban, args)
    }

    #[test]
    fn ban_takes_a_network_an_optional_duration_and_a_reason() {
        assert_eq!(
            ban_of("203.0.113.0/24 2h scanner from abroad"),
            Ok(AdminCommand::Ban {
                network: "203.0.113.0/24".into(),
                duration: Some("2h".into()),
                reason: Some("scanner from abroad".into()),
            })
        );
        assert_eq!(
            ban_of("203.0.113.7"),
            Ok(AdminCommand::Ban {
                network: "203.0.113.7".into(),
                duration: None,
                reason: None,
            })
        );
        assert_eq!(
            ban_of("2001:db8::/32 spam"),
            Ok(AdminCommand::Ban {
                network: "2001:db8::/32".into(),
                duration: None,
                reason: Some("spam".into()),
            })
        );
        assert_eq!(ban_of(""), Err(BadArgs::Missing));
        assert_eq!(ban_of("1.2.3"), Err(BadArgs::NotNetwork("1.2.3".into())));
        assert_eq!(
            ban_of("1.2.3.4/33"),
            Err(BadArgs::NotNetwork("1.2.3.4/33".into()))
        );
        assert_eq!(
            ban_of("1.2.3.4/+8"),
            Err(BadArgs::NotNetwork("1.2.3.4/+8".into()))
        );
        assert_eq!(ban_of("1.2.3.4 2x"), Err(BadArgs::NotDuration("2x".into())));
    }

    #[test]
    fn unban_takes_a_network_or_a_ban_id() {
        let unban = |a| parse(AdminName::Unban, a);
        assert_eq!(
            unban("203.0.113.0/24"),
            Ok(AdminCommand::Unban(Unban::Network("203.0.113.0/24".into())))
        );
        assert_eq!(unban("17"), Ok(AdminCommand::Unban(Unban::Id(17))));
        assert_eq!(unban(""), Err(BadArgs::Missing));
        assert_eq!(unban("1.2.3"), Err(BadArgs::NotNetwork("1.2.3".into())));
        assert_eq!(unban("1.2.3.4 5.6.7.8"), Err(BadArgs::TooMany));
    }

    #[test]
    fn kick_invite_and_the_listings() {
        assert_eq!(
            parse(AdminName::Kick, " alice "),
            Ok(AdminCommand::Kick("alice".into()))
        );
        assert_eq!(parse(AdminName::Kick, ""), Err(BadArgs::Missing));
        assert_eq!(
            parse(AdminName::Invite, "office bob"),
            Ok(AdminCommand::Invite {
                router: "office".into(),
                account: "bob".into()
            })
        );
        assert_eq!(parse(AdminName::Invite, "office"), Err(BadArgs::Missing));
        assert_eq!(
            parse(AdminName::Invite, "off;ce bob"),
            Err(BadArgs::NotRouter("off;ce".into()))
        );
        assert_eq!(parse(AdminName::Bans, ""), Ok(AdminCommand::Bans));
        assert_eq!(parse(AdminName::Routers, "now"), Err(BadArgs::TooMany));
        assert_eq!(
            AdminName::from_command("sessions"),
            Some(AdminName::Sessions)
        );
        assert_eq!(AdminName::from_command("status"), None);
    }
}
