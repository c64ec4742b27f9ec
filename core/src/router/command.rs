//! RouterOS commands rendered from typed values.
//!
//! A [`Command`] holds only validated types ([`AddressListName`], [`IpNet`],
//! [`AccountName`](crate::domain::AccountName),
//! [`Comment`](crate::domain::Comment), [`Duration`]); [`Command::render`]
//! is the one place that turns them into CLI text. Every string value goes
//! through [`quote`], which escapes RouterOS's string syntax even though the
//! types already refuse it, so a value can never end a command (`;`,
//! newline), open a sub-command (`[`), or interpolate a variable (`$`).

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
    /// `/ppp active print terse where …`: the sessions matching, found by
    /// the router rather than by reading every session. Refuses an empty
    /// match, like [`Command::RemovePppActive`].
    FindPppActive(PppMatch),
    /// `/ppp active remove [find …]`; refuses an empty match, which would
    /// disconnect everybody.
    RemovePppActive(PppMatch),
    /// `/system identity print`.
    Identity,
}

impl Command {
    /// The address list the command reads or changes, if any.
    pub fn address_list(&self) -> Option<&AddressListName> {
        match self {
            Command::AddAddress(entry) => Some(&entry.list),
            Command::RemoveAddress { list, .. } | Command::PrintList { list, .. } => Some(list),
            Command::PrintPppActive
            | Command::FindPppActive(_)
            | Command::RemovePppActive(_)
            | Command::Identity => None,
        }
    }

    /// A short name for logs and tracing spans.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::AddAddress(_) => "add-address",
            Command::RemoveAddress { .. } => "remove-address",
            Command::PrintList { .. } => "print-list",
            Command::PrintPppActive => "print-ppp-active",
            Command::FindPppActive(_) => "find-ppp-active",
            Command::RemovePppActive(_) => "remove-ppp-active",
            Command::Identity => "identity",
        }
    }

    /// For an add: the query that counts its entry (`print count-only where
    /// list=… and address=…`), to tell a duplicate add from a failed one.
    pub fn presence_probe(&self) -> Option<String> {
        let Command::AddAddress(entry) = self else {
            return None;
        };
        let address = canonical(entry.address);
        Some(format!(
            "{} print count-only where list={} and address={}",
            Family::of(&address).menu(),
            quote(entry.list.as_str()),
            render_address(&address)
        ))
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
                let conditions = ppp_conditions(target)?.join(" ");
                let _ = write!(out, "/ppp active remove [find {conditions}]");
            }
            Command::FindPppActive(target) => {
                let conditions = ppp_conditions(target)?.join(" and ");
                let _ = write!(out, "/ppp active print terse where {conditions}");
            }
            Command::Identity => out.push_str("/system identity print"),
        }
        Ok(out)
    }
}

/// The conditions naming the PPP sessions `target` matches; at least one,
/// since an empty match would be every session.
fn ppp_conditions(target: &PppMatch) -> Result<Vec<String>, RouterError> {
    let mut conditions = Vec::new();
    if let Some(name) = &target.name {
        conditions.push(format!("name={}", quote(name.as_str())));
    }
    if let Some(address) = target.address {
        conditions.push(format!("address={}", render_ip(address)));
    }
    if let Some(caller) = target.caller_id {
        // RouterOS prints a MAC caller id in upper case, as `CallerId`
        // does, so the exact match holds.
        conditions.push(format!("caller-id={}", quote(&caller.to_string())));
    }
    if conditions.is_empty() {
        return Err(RouterError::Invalid(
            "a PPP match needs an account name, an address or a caller id".into(),
        ));
    }
    Ok(conditions)
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
mod tests;
