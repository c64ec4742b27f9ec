//! Parsing RouterOS's printed output and error wording.
//!
//! RouterOS reports errors as text on stdout and usually exits 0, so the
//! output is the only truth: a write that prints nothing succeeded, a line
//! like `failure: already have such entry` or `not enough permissions (9)` is
//! the outcome. `print terse` writes one record per line as
//! `{index} {flags} key=value …` with values unquoted (a comment or a v7
//! creation time contains spaces), so records are split at ` key=`
//! boundaries. The output may also carry log lines that RouterOS injects into
//! the terminal (`17:20:06 echo: system,error,critical login failure …`);
//! they are skipped wherever they appear.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::{ListedEntry, PppSession, RouterError};
use crate::domain::RouterName;

/// What went wrong, recognised from RouterOS's wording. Each carries the
/// meaningful output lines (log lines removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `failure: already have such entry`: for an add, the goal is reached.
    AlreadyExists(String),
    /// `not enough permissions`: the login's group lacks the policy.
    Permission(String),
    /// Any other error: a syntax error, an unknown command, a bad value, a
    /// `failure:`, or (for a write) any unexpected text at all.
    Rejected(String),
}

impl Problem {
    /// The error to report for `command` (rendered text, which never holds a
    /// secret) on `router`.
    pub fn into_error(self, router: &RouterName, command: &str) -> RouterError {
        match self {
            Problem::Permission(_) => RouterError::Permission {
                router: router.clone(),
                command: command.to_owned(),
            },
            Problem::AlreadyExists(output) | Problem::Rejected(output) => RouterError::Command {
                router: router.clone(),
                command: command.to_owned(),
                output,
            },
        }
    }
}

/// Wording RouterOS uses for a refused command (besides the two handled
/// specially). Matched anywhere in a line, as errors from inside a script come
/// prefixed (`script error: failure: …`).
const ERROR_WORDING: &[&str] = &[
    "no such item",
    "bad command name",
    "syntax error",
    "expected end of command",
    "invalid value for argument",
    "input does not match any value",
    "bad parameter",
    "missing value",
    "ambiguous value",
    "unknown parameter",
    "failure:",
    "script error",
];

fn classify(line: &str) -> Option<Problem> {
    let lower = line.to_ascii_lowercase();
    if lower.contains("already have such entry") {
        Some(Problem::AlreadyExists(line.to_owned()))
    } else if lower.contains("not enough permissions") {
        Some(Problem::Permission(line.to_owned()))
    } else if ERROR_WORDING.iter().any(|w| lower.contains(w)) {
        Some(Problem::Rejected(line.to_owned()))
    } else {
        None
    }
}

/// The lines that mean something: trailing `\r` and spaces trimmed, blank
/// lines and injected log lines dropped.
pub fn meaningful_lines(output: &str) -> impl Iterator<Item = &str> {
    output
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty() && !is_log_line(line))
}

/// A log line RouterOS pushes into the terminal: an optional date
/// (`jan/02`, `jan/02/2025`, `2025-01-02`), then `HH:MM:SS`, then a topic.
fn is_log_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else {
        return false;
    };
    let time = if is_clock(first) {
        Some(first)
    } else if first.contains(['/', '-']) && first.chars().any(|c| c.is_ascii_digit()) {
        words.next().filter(|w| is_clock(w))
    } else {
        None
    };
    time.is_some() && words.next().is_some()
}

fn is_clock(word: &str) -> bool {
    let parts: Vec<&str> = word.split(':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The outcome of a write (`add`, `remove`, `set`): silence is success; a
/// recognised error is that error; any other text is an error too, because
/// RouterOS's writes print nothing when they work.
pub fn check_write(output: &str) -> Result<(), Problem> {
    let lines: Vec<&str> = meaningful_lines(output).collect();
    if lines.is_empty() {
        return Ok(());
    }
    let all = lines.join("\n");
    for line in &lines {
        if let Some(problem) = classify(line) {
            return Err(match problem {
                Problem::AlreadyExists(_) => Problem::AlreadyExists(all),
                Problem::Permission(_) => Problem::Permission(all),
                Problem::Rejected(_) => Problem::Rejected(all),
            });
        }
    }
    Err(Problem::Rejected(all))
}

/// Errors in the output of a print; record lines are not searched, so a
/// comment that happens to say `no such item` is not mistaken for one.
pub fn check_print(output: &str) -> Result<(), Problem> {
    meaningful_lines(output)
        .filter(|line| TerseRecord::parse(line, &[]).is_none())
        .find_map(classify)
        .map_or(Ok(()), Err)
}

/// One `print terse` line, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerseRecord<'a> {
    /// The print index (`13`) or, with `show-ids`, the internal id (`*1A`).
    pub id: &'a str,
    pub flags: String,
    pub fields: Vec<(&'a str, &'a str)>,
}

impl<'a> TerseRecord<'a> {
    /// Splits `line`; `None` if it is not a record (a header, an error, a log
    /// line). A field starts at ` key=`; `known` keys always start one, other
    /// property-like keys too except inside a `comment`, which is free text.
    pub fn parse(line: &'a str, known: &[&str]) -> Option<TerseRecord<'a>> {
        let line = line.trim();
        let (id, mut rest) = line.split_once(' ').unwrap_or((line, ""));
        let is_index = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
        let is_id =
            id.len() > 1 && id.starts_with('*') && id[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !(is_index || is_id) {
            return None;
        }
        let mut flags = String::new();
        loop {
            rest = rest.trim_start();
            let word = rest.split(' ').next().unwrap_or("");
            if word.contains('=') {
                break;
            }
            if word.is_empty() || !word.bytes().all(|b| b.is_ascii_uppercase()) {
                return None;
            }
            flags.push_str(word);
            rest = &rest[word.len()..];
        }
        let mut fields = Vec::new();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            if !is_property_name(key) {
                return None;
            }
            let end = next_field(after, key == "comment", known).unwrap_or(after.len());
            fields.push((key, unquote(after[..end].trim_end())));
            rest = after[end..].trim_start();
        }
        Some(TerseRecord {
            id: id.trim_start_matches(' '),
            flags,
            fields,
        })
    }

    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn flag_or_field(&self, flag: char, key: &str) -> bool {
        self.flags.contains(flag) || matches!(self.get(key), Some("yes" | "true"))
    }
}

/// Where the next field starts in `value…`: at a space followed by `key=`.
fn next_field(text: &str, in_comment: bool, known: &[&str]) -> Option<usize> {
    let mut search = 0;
    while let Some(offset) = text[search..].find(' ') {
        let space = search + offset;
        let candidate = &text[space + 1..];
        if let Some((key, _)) = candidate.split_once('=') {
            let known_key = known.contains(&key);
            if known_key || (!in_comment && is_property_name(key)) {
                return Some(space + 1);
            }
        }
        search = space + 1;
    }
    None
}

fn is_property_name(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_lowercase() || c == '.')
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

const ADDRESS_LIST_KEYS: &[&str] = &[
    "comment",
    "list",
    "address",
    "creation-time",
    "timeout",
    "dynamic",
    "disabled",
];

const PPP_ACTIVE_KEYS: &[&str] = &[
    "name",
    "service",
    "caller-id",
    "address",
    "uptime",
    "encoding",
    "session-id",
    "limit-bytes-in",
    "limit-bytes-out",
    "radius",
];

/// The entries in an address-list `print terse`. Records without a list or
/// with an address that is not an IP network (RouterOS also allows DNS names)
/// are skipped.
pub fn address_list(output: &str) -> Result<Vec<ListedEntry>, Problem> {
    check_print(output)?;
    Ok(meaningful_lines(output)
        .filter_map(|line| TerseRecord::parse(line, ADDRESS_LIST_KEYS))
        .filter_map(|record| {
            Some(ListedEntry {
                id: record.id.to_owned(),
                list: record.get("list")?.to_owned(),
                address: parse_net(record.get("address")?)?,
                timeout: record.get("timeout").and_then(parse_duration),
                comment: record
                    .get("comment")
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
                dynamic: record.flag_or_field('D', "dynamic"),
                disabled: record.flag_or_field('X', "disabled"),
            })
        })
        .collect())
}

/// The sessions in `/ppp active print terse`.
pub fn ppp_active(output: &str) -> Result<Vec<PppSession>, Problem> {
    check_print(output)?;
    Ok(meaningful_lines(output)
        .filter_map(|line| TerseRecord::parse(line, PPP_ACTIVE_KEYS))
        .filter_map(|record| {
            Some(PppSession {
                id: record.id.to_owned(),
                name: record.get("name")?.to_owned(),
                service: record.get("service").unwrap_or_default().to_owned(),
                caller_id: record.get("caller-id").unwrap_or_default().to_owned(),
                address: record.get("address").and_then(|a| a.parse().ok()),
                uptime: record.get("uptime").and_then(parse_duration),
            })
        })
        .collect())
}

/// The name in `/system identity print` (`name: MikroTik`).
pub fn identity(output: &str) -> Result<String, Problem> {
    check_print(output)?;
    meaningful_lines(output)
        .find_map(|line| line.trim().strip_prefix("name:"))
        .map(|name| name.trim().to_owned())
        .ok_or_else(|| Problem::Rejected(meaningful_lines(output).collect::<Vec<_>>().join("\n")))
}

/// `10.0.0.5` (a host), `10.0.0.0/24`, `2001:db8::5/128`.
fn parse_net(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// A RouterOS duration: unit form (`4m52s`, `1w2d3h4m5s`, `59s`, `150ms`),
/// clock form (`00:04:52`), or both (`1w2d03:04:04`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        if rest[digits..].starts_with(':') {
            return Some(total + parse_clock(rest)?);
        }
        let number: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let step = match &tail[..unit_len] {
            "w" => Duration::from_secs(number.checked_mul(604_800)?),
            "d" => Duration::from_secs(number.checked_mul(86_400)?),
            "h" => Duration::from_secs(number.checked_mul(3_600)?),
            "m" => Duration::from_secs(number.checked_mul(60)?),
            "s" | "" => Duration::from_secs(number),
            "ms" => Duration::from_millis(number),
            "us" => Duration::from_micros(number),
            _ => return None,
        };
        total = total.checked_add(step)?;
        rest = &tail[unit_len..];
    }
    Some(total)
}

/// `HH:MM:SS`, optionally with a fraction of a second.
fn parse_clock(text: &str) -> Option<Duration> {
    let mut parts = text.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(h) || !all_digits(m) {
        return None;
    }
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if !all_digits(whole) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs =
        h.parse::<u64>().ok()? * 3_600 + m.parse::<u64>().ok()? * 60 + whole.parse::<u64>().ok()?;
    let nanos = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}")[..9].parse::<u32>().ok()?
    };
    Some(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests;
