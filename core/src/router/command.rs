//! RouterOS commands rendered from typed values.
//!
//! A [`Command`] holds only validated types ([`AddressListName`], [`IpNet`],
//! [`AccountName`], [`Comment`], [`Duration`]); [`Command::render`] is the one
//! place that turns them into CLI text. Every string value goes through
//! [`quote`], which escapes RouterOS's string syntax even though the types
//! already refuse it, so a value can never end a command (`;`, newline), open a
//! sub-command (`[`), or interpolate a variable (`$`).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::{NewEntry, PppMatch, RouterError};
use crate::domain::AddressListName;

/// Which address-list menu an entry lives in: RouterOS keeps IPv4 and IPv6
/// lists apart (`/ip firewall address-list`, `/ipv6 firewall address-list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(address: &IpNet) -> Family {
        match address {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    fn menu(self) -> &'static str {
        match self {
            Family::V4 => "/ip firewall address-list",
            Family::V6 => "/ipv6 firewall address-list",
        }
    }
}

/// One thing tgate asks a router to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `add list=… address=… [timeout=…] [comment=…]` in the entry's family.
    AddAddress(NewEntry),
    /// `remove [find list=… address=…]`; nothing to remove is success.
    RemoveAddress {
        list: AddressListName,
        address: IpNet,
    },
    /// `print terse where list=…` in one family.
    PrintList {
        family: Family,
        list: AddressListName,
    },
    /// `/ppp active print terse`.
    PrintPppActive,
    /// `/ppp active remove [find …]`; refuses an empty match, which would
    /// disconnect everybody.
    RemovePppActive(PppMatch),
    /// `/system identity print`.
    Identity,
}

impl Command {
    /// A short name for logs and tracing spans.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::AddAddress(_) => "add-address",
            Command::RemoveAddress { .. } => "remove-address",
            Command::PrintList { .. } => "print-list",
            Command::PrintPppActive => "print-ppp-active",
            Command::RemovePppActive(_) => "remove-ppp-active",
            Command::Identity => "identity",
        }
    }

    /// The CLI text sent to the router.
    pub fn render(&self) -> Result<String, RouterError> {
        let mut out = String::new();
        match self {
            Command::AddAddress(entry) => {
                let address = canonical(entry.address);
                let _ = write!(
                    out,
                    "{} add list={} address={}",
                    Family::of(&address).menu(),
                    quote(entry.list.as_str()),
                    render_address(&address)
                );
                if let Some(timeout) = entry.timeout {
                    if timeout.is_zero() {
                        return Err(RouterError::Invalid(
                            "an entry timeout must be longer than zero".into(),
                        ));
                    }
                    let _ = write!(out, " timeout={}", format_duration(timeout));
                }
                if let Some(comment) = &entry.comment {
                    let _ = write!(out, " comment={}", quote(comment.as_str()));
                }
            }
            Command::RemoveAddress { list, address } => {
                let address = canonical(*address);
                let _ = write!(
                    out,
                    "{} remove [find list={} address={}]",
                    Family::of(&address).menu(),
                    quote(list.as_str()),
                    render_address(&address)
                );
            }
            Command::PrintList { family, list } => {
                let _ = write!(
                    out,
                    "{} print terse where list={}",
                    family.menu(),
                    quote(list.as_str())
                );
            }
            Command::PrintPppActive => out.push_str("/ppp active print terse"),
            Command::RemovePppActive(target) => {
                let mut conditions = Vec::new();
                if let Some(name) = &target.name {
                    conditions.push(format!("name={}", quote(name.as_str())));
                }
                if let Some(address) = target.address {
                    conditions.push(format!("address={}", render_ip(address)));
                }
                if conditions.is_empty() {
                    return Err(RouterError::Invalid(
                        "a PPP disconnect needs an account name or an address".into(),
                    ));
                }
                let _ = write!(out, "/ppp active remove [find {}]", conditions.join(" "));
            }
            Command::Identity => out.push_str("/system identity print"),
        }
        Ok(out)
    }
}

/// The form RouterOS stores: host bits cleared, so that a later
/// `find address=…` matches what `add` wrote.
fn canonical(address: IpNet) -> IpNet {
    address.trunc()
}

/// IPv4 hosts as a bare address (RouterOS prints them that way); networks and
/// every IPv6 value with the prefix (RouterOS stores `2001:db8::5/128`).
/// `Ipv6Addr`'s `Display` is already lowercase and compressed.
fn render_address(address: &IpNet) -> String {
    let text = match address {
        IpNet::V4(net) if net.prefix_len() == 32 => net.addr().to_string(),
        other => other.to_string(),
    };
    quote_if_needed(&text)
}

/// A PPP session's address is a plain host address in both families.
fn render_ip(address: IpAddr) -> String {
    quote_if_needed(&address.to_string())
}

/// Unquoted, RouterOS reads `:` and `/` as syntax (`where address=1.2.3.0/24`
/// silently matches nothing), so such values are quoted.
fn quote_if_needed(text: &str) -> String {
    if text.contains([':', '/']) {
        quote(text)
    } else {
        text.to_owned()
    }
}

/// A RouterOS string literal. `\`, `"` and `$` are backslash-escaped; control
/// characters and the command syntax characters `;`, `[`, `]`, `{`, `}` are
/// written as `\XX` hex escapes, so the literal never contains them raw.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() || ";[]{}".contains(c) => {
                // Every control character outside ASCII is encoded byte by
                // byte, as RouterOS's `\XX` escape works on bytes.
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\{byte:02X}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A duration as RouterOS writes it: `1w2d3h4m5s`, `59s`. Fractions of a second
/// round up, so an entry never expires earlier than asked.
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= size {
            let _ = write!(out, "{}{unit}", secs / size);
            secs %= size;
        }
    }
    if secs > 0 {
        let _ = write!(out, "{secs}s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountName, Comment};

    fn list(name: &str) -> AddressListName {
        name.parse().unwrap()
    }

    fn add(address: &str, timeout: Option<u64>, comment: Option<&str>) -> String {
        Command::AddAddress(NewEntry {
            list: list("tgate-sandbox"),
            address: address.parse().unwrap(),
            timeout: timeout.map(Duration::from_secs),
            comment: comment.map(|c| c.parse().unwrap()),
        })
        .render()
        .unwrap()
    }

    #[test]
    fn adds_pick_the_menu_by_family_and_write_hosts_bare() {
        assert_eq!(
            add("10.0.0.5/32", Some(3723), Some("tgate session 42")),
            r#"/ip firewall address-list add list="tgate-sandbox" address=10.0.0.5 timeout=1h2m3s comment="tgate session 42""#
        );
        assert_eq!(
            add("10.0.0.0/24", None, None),
            r#"/ip firewall address-list add list="tgate-sandbox" address="10.0.0.0/24""#
        );
        assert_eq!(
            add("2001:DB8:0:0::5/128", Some(59), None),
            r#"/ipv6 firewall address-list add list="tgate-sandbox" address="2001:db8::5/128" timeout=59s"#
        );
        // Host bits are cleared, as RouterOS would store the network.
        assert_eq!(
            add("10.0.0.7/24", None, None),
            r#"/ip firewall address-list add list="tgate-sandbox" address="10.0.0.0/24""#
        );
    }

    #[test]
    fn comments_with_colons_and_slashes_stay_inside_quotes() {
        assert!(
            add(
                "10.0.0.5/32",
                None,
                Some("from 203.0.113.7:1701 via l2tp/ipsec")
            )
            .ends_with(r#" comment="from 203.0.113.7:1701 via l2tp/ipsec""#)
        );
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let cmd = Command::AddAddress(NewEntry {
            list: list("x"),
            address: "10.0.0.5/32".parse().unwrap(),
            timeout: Some(Duration::ZERO),
            comment: None,
        });
        assert!(matches!(cmd.render(), Err(RouterError::Invalid(_))));
    }

    #[test]
    fn removes_and_prints_filter_by_list() {
        let remove = Command::RemoveAddress {
            list: list("tgate-permit"),
            address: "2001:db8::5/128".parse().unwrap(),
        };
        assert_eq!(
            remove.render().unwrap(),
            r#"/ipv6 firewall address-list remove [find list="tgate-permit" address="2001:db8::5/128"]"#
        );
        let remove = Command::RemoveAddress {
            list: list("tgate-permit"),
            address: "10.0.0.5/32".parse().unwrap(),
        };
        assert_eq!(
            remove.render().unwrap(),
            r#"/ip firewall address-list remove [find list="tgate-permit" address=10.0.0.5]"#
        );
        for (family, menu) in [(Family::V4, "/ip"), (Family::V6, "/ipv6")] {
            let print = Command::PrintList {
                family,
                list: list("ban"),
            };
            assert_eq!(
                print.render().unwrap(),
                format!(r#"{menu} firewall address-list print terse where list="ban""#)
            );
        }
    }

    #[test]
    fn ppp_and_identity_commands() {
        assert_eq!(
            Command::PrintPppActive.render().unwrap(),
            "/ppp active print terse"
        );
        assert_eq!(
            Command::Identity.render().unwrap(),
            "/system identity print"
        );
        let both = PppMatch {
            name: Some("alice".parse().unwrap()),
            address: Some("10.10.0.5".parse().unwrap()),
        };
        assert_eq!(
            Command::RemovePppActive(both).render().unwrap(),
            r#"/ppp active remove [find name="alice" address=10.10.0.5]"#
        );
        let v6 = PppMatch {
            name: None,
            address: Some("2001:db8::9".parse().unwrap()),
        };
        assert_eq!(
            Command::RemovePppActive(v6).render().unwrap(),
            r#"/ppp active remove [find address="2001:db8::9"]"#
        );
        assert!(matches!(
            Command::RemovePppActive(PppMatch::default()).render(),
            Err(RouterError::Invalid(_))
        ));
    }

    #[test]
    fn durations_use_routeros_units() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3723, "1h2m3s"),
            (86_400, "1d"),
            (604_800 + 86_400 + 4 * 3_600, "1w1d4h"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_duration(Duration::from_secs(secs)), text);
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "2s");
    }

    #[test]
    fn quote_escapes_routeros_string_syntax() {
        assert_eq!(quote(r#"a"b\c$d"#), r#""a\"b\\c\$d""#);
        assert_eq!(quote("a;b\n[c]"), r#""a\3Bb\0A\5Bc\5D""#);
        assert_eq!(quote("Иван"), "\"Иван\"");
    }

    const NASTY: &[&str] = &[
        "x\" ; /system reset-configuration",
        "x\"; /user add name=evil group=full; :put \"",
        "a\nb",
        "a\r\n/system reboot",
        "[/system reboot]",
        "$(/system reboot)",
        "${x}",
        "\\",
        "\\\"",
        "\"",
        "\\\\\"]",
        "a\u{0}b",
        "a\u{85}b",
        "};{",
        "x\u{2028}y",
        "comment with spaces",
        "Иван Петров",
        "alice@corp+vpn",
        "10.0.0.5/32",
        "2001:db8::5/128",
        "a\tb",
    ];

    /// No raw syntax character outside a quoted literal, and every literal
    /// closes: walk the text the way RouterOS's tokenizer would.
    fn assert_well_formed(text: &str) {
        for bad in [';', '\n', '\r', '[', ']'] {
            // `[`/`]` are allowed only as the `[find …]` brackets tgate writes.
            let raw = text.replace("[find ", "").replace(']', "");
            if bad == '[' || bad == ']' {
                assert!(!raw.contains(bad), "{bad:?} in {text:?}");
            } else {
                assert!(!text.contains(bad), "{bad:?} in {text:?}");
            }
        }
        assert_eq!(
            text.matches("[find ").count(),
            text.matches(']').count(),
            "{text:?}"
        );
        let mut in_string = false;
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => in_string = !in_string,
                '\\' if in_string => {
                    chars.next();
                }
                '$' => assert!(in_string, "bare $ in {text:?}"),
                _ => {}
            }
        }
        assert!(!in_string, "unbalanced quote in {text:?}");
    }

    #[test]
    fn no_value_can_break_out_of_a_command() {
        for nasty in NASTY {
            // The quoting alone is enough, even for values the types refuse.
            let quoted = quote(nasty);
            assert_well_formed(&quoted);
            assert!(!quoted[1..quoted.len() - 1].contains(['[', ']', ';']));

            // And whatever the types accept renders into well-formed commands.
            let comment = nasty.parse::<Comment>().ok();
            let name = nasty.parse::<AccountName>().ok();
            let list_name = nasty.parse::<AddressListName>().ok();
            let mut commands = vec![Command::AddAddress(NewEntry {
                list: list_name.clone().unwrap_or_else(|| list("x")),
                address: "2001:db8::5/128".parse().unwrap(),
                timeout: Some(Duration::from_secs(90)),
                comment,
            })];
            if let Some(list_name) = list_name {
                commands.push(Command::RemoveAddress {
                    list: list_name.clone(),
                    address: "10.0.0.0/8".parse().unwrap(),
                });
                commands.push(Command::PrintList {
                    family: Family::V6,
                    list: list_name,
                });
            }
            if let Some(name) = name {
                commands.push(Command::RemovePppActive(PppMatch {
                    name: Some(name),
                    address: Some("fe80::1".parse().unwrap()),
                }));
            }
            for command in commands {
                assert_well_formed(&command.render().unwrap());
            }
        }
    }
}
