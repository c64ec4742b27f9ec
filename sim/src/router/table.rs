//! Every menu's items as rows of properties, and the four ways RouterOS
//! prints them (plain v7 table, `terse`, `detail`, `as-value`). tgate's
//! router client parses `terse` and `as-value`, so those follow RouterOS
//! byte for byte; the plain table is for people and only needs to look right.

use std::net::IpAddr;

use ipnet::IpNet;

use super::ast::{Cond, Expr, Op, StrPart};
use super::duration;
use super::eval::same;
use super::items;
use super::menu::Menu;
use super::state::{Active, AddrEntry, RouterState, show_address};

pub(crate) struct Row {
    pub id: u32,
    /// Flag letters set on this item, in legend order (`XD`).
    pub flags: String,
    pub comment: Option<String>,
    /// Properties in `terse`/`detail` order, values as `print` shows them.
    pub shown: Vec<(&'static str, String)>,
    /// Properties as `as-value`/`get` return them (clock durations, true/false).
    pub values: Vec<(&'static str, String)>,
}

impl Row {
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// One `as-value` record, `.id` first then alphabetical, as RouterOS returns it.
    pub fn record(&self) -> Vec<(String, String)> {
        let mut rec: Vec<(String, String)> = self
            .values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        rec.push((".id".to_owned(), id_text(self.id)));
        rec.sort();
        rec
    }
}

pub(crate) struct View {
    pub legend: &'static [(char, &'static str)],
    /// (header, key in `shown`)
    pub columns: &'static [(&'static str, &'static str)],
    pub rows: Vec<Row>,
}

pub(crate) fn id_text(id: u32) -> String {
    format!("*{id:X}")
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn true_false(b: bool) -> String {
    b.to_string()
}

fn flags(pairs: &[(char, bool)]) -> String {
    pairs
        .iter()
        .filter(|(_, on)| *on)
        .map(|(c, _)| *c)
        .collect()
}

/// Equalities every row of a `find` or `print where` must satisfy, taken
/// from its condition: rows that fail one are skipped before they are built,
/// which keeps a lookup in a table of thousands of entries cheap. It only
/// narrows; the full condition is still matched on what is left.
#[derive(Default)]
pub(crate) struct Hint(Vec<Want>);

/// One `key=value` a row must have, with the value read as an address
/// once, when it is one in the form RouterOS shows.
struct Want {
    key: String,
    text: String,
    /// As an address-list entry shows it (`10.0.0.5`, `10.0.0.0/24`).
    net: Option<IpNet>,
    /// As a PPP session shows its address.
    ip: Option<IpAddr>,
}

impl Want {
    fn new(key: &str, text: String) -> Want {
        // Only a value in the one form the router prints can be compared
        // typed: `show_address` and `Display` are one-to-one.
        let net = (text.parse::<IpNet>().ok())
            .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
            .filter(|net| show_address(net) == text);
        let ip = (text.parse::<IpAddr>().ok()).filter(|ip| ip.to_string() == text);
        Want {
            key: key.to_owned(),
            text,
            net,
            ip,
        }
    }
}

impl Hint {
    pub fn of(cond: &Cond) -> Hint {
        let mut out = Vec::new();
        collect(cond, &mut out);
        Hint(out)
    }

    fn wants<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Want> {
        self.0.iter().filter(move |w| w.key == key)
    }

    /// The address an address-list entry's `key` must be, when the
    /// condition names one: only the entries at it need be looked at.
    fn net(&self, key: &str) -> Option<IpNet> {
        self.wants(key).find_map(|w| w.net)
    }

    /// [`Hint::net`] for a PPP session's address.
    fn ip(&self, key: &str) -> Option<IpAddr> {
        self.wants(key).find_map(|w| w.ip)
    }

    /// Whether an item whose property `key` reads `have` may match.
    fn allows(&self, key: &str, have: &str) -> bool {
        self.wants(key).all(|w| same(have, &w.text))
    }

    /// [`Hint::allows`] for an entry's address, compared as an address so
    /// that thousands of entries are not formatted for one lookup.
    fn allows_net(&self, key: &str, have: IpNet) -> bool {
        self.wants(key).all(|w| match w.net {
            Some(net) => net == have,
            None => same(&show_address(&have), &w.text),
        })
    }

    /// [`Hint::allows_net`] for a PPP session's address.
    fn allows_ip(&self, key: &str, have: IpAddr) -> bool {
        self.wants(key).all(|w| match w.ip {
            Some(ip) => ip == have,
            None => same(&have.to_string(), &w.text),
        })
    }
}

fn collect(cond: &Cond, out: &mut Vec<Want>) {
    match cond {
        Cond::And(a, b) => {
            collect(a, out);
            collect(b, out);
        }
        // A `"…"` string without variables is a plain text too; it is how
        // tgate quotes names and caller ids.
        Cond::Cmp {
            key,
            op: Op::Eq,
            value: Expr::Str(parts),
        } => {
            let text: Option<String> = parts
                .iter()
                .map(|p| match p {
                    StrPart::Text(t) => Some(t.as_str()),
                    StrPart::Var(_) => None,
                })
                .collect();
            if let Some(text) = text {
                out.push(Want::new(key, text));
            }
        }
        // A plain literal compares as text; an unquoted prefix is a
        // special case the full match knows (it equals nothing).
        Cond::Cmp {
            key,
            op: Op::Eq,
            value: Expr::Lit { text, quoted },
        } if *quoted || !text.contains('/') => out.push(Want::new(key, text.clone())),
        _ => {}
    }
}

/// Whether every one of `ids` is an item of `menu`. The address lists and
/// PPP sessions, which hold thousands, are searched without building a row
/// or a set of every id: a `remove` names one or two of them.
pub(crate) fn has_items(state: &mut RouterState, menu: Menu, ids: &[u32]) -> bool {
    match menu {
        Menu::AddressList(family) => {
            state.purge();
            let entries = &state.entries;
            ids.iter()
                .all(|id| entries.get(*id).is_some_and(|e| e.family == family))
        }
        Menu::PppActive => ids.iter().all(|id| state.active.get(*id).is_some()),
        _ => {
            let rows = view(state, menu).map(|v| v.rows).unwrap_or_default();
            ids.iter().all(|id| rows.iter().any(|r| r.id == *id))
        }
    }
}

/// The rows of a menu that has items; `None` for menus without a table.
pub(crate) fn view(state: &mut RouterState, menu: Menu) -> Option<View> {
    view_where(state, menu, &Hint::default())
}

/// [`view`] without the rows `hint` rules out.
pub(crate) fn view_where(state: &mut RouterState, menu: Menu, hint: &Hint) -> Option<View> {
    let now = tokio::time::Instant::now();
    match menu {
        Menu::AddressList(family) => {
            state.purge();
            let entries: Box<dyn Iterator<Item = &AddrEntry>> = match hint.net("address") {
                Some(net) => Box::new(state.entries.at(net)),
                None => Box::new(state.entries.iter()),
            };
            let rows = entries
                .filter(|e| {
                    e.family == family
                        && hint.allows("list", &e.list)
                        && hint.allows_net("address", e.address)
                })
                .map(|e| {
                    let left = e.time_left(now);
                    let mut shown = Vec::new();
                    let mut values = Vec::new();
                    if let Some(c) = &e.comment {
                        shown.push(("comment", c.clone()));
                        values.push(("comment", c.clone()));
                    }
                    shown.push(("list", e.list.clone()));
                    shown.push(("address", e.address_text()));
                    shown.push(("creation-time", e.created.clone()));
                    if let Some(left) = left {
                        shown.push(("timeout", duration::compact(left)));
                        values.push(("timeout", duration::clock(left)));
                    }
                    shown.push(("dynamic", yes_no(left.is_some())));
                    values.extend([
                        ("list", e.list.clone()),
                        ("address", e.address_text()),
                        ("creation-time", e.created.clone()),
                        ("dynamic", true_false(left.is_some())),
                        ("disabled", true_false(e.disabled)),
                    ]);
                    Row {
                        id: e.id,
                        flags: flags(&[('X', e.disabled), ('D', left.is_some())]),
                        comment: e.comment.clone(),
                        shown,
                        values,
                    }
                })
                .collect();
            Some(View {
                legend: &[('X', "DISABLED"), ('D', "DYNAMIC")],
                columns: &[
                    ("LIST", "list"),
                    ("ADDRESS", "address"),
                    ("CREATION-TIME", "creation-time"),
                    ("TIMEOUT", "timeout"),
                ],
                rows,
            })
        }
        Menu::PppActive | Menu::ServerInterface(_) => {
            let service = match menu {
                Menu::ServerInterface(s) => Some(s.name()),
                _ => None,
            };
            let sessions: Box<dyn Iterator<Item = &Active>> = match hint.ip("address") {
                Some(ip) => Box::new(state.active.with_key(&ip)),
                None => Box::new(state.active.iter()),
            };
            let rows = sessions
                .filter(|a| {
                    service.is_none_or(|s| s == a.service)
                        && hint.allows("name", &a.name)
                        && hint.allows("caller-id", &a.caller_id)
                        && hint.allows_ip("address", a.address)
                })
                .map(|a| {
                    let up = now.saturating_duration_since(a.started);
                    if service.is_some() {
                        interface_row(a, up)
                    } else {
                        active_row(a, up)
                    }
                })
                .collect();
            Some(if service.is_some() {
                View {
                    legend: &[('D', "DYNAMIC"), ('R', "RUNNING")],
                    columns: &[
                        ("NAME", "name"),
                        ("USER", "user"),
                        ("MTU", "mtu"),
                        ("CLIENT-ADDRESS", "client-address"),
                        ("UPTIME", "uptime"),
                        ("ENCODING", "encoding"),
                    ],
                    rows,
                }
            } else {
                View {
                    legend: &[('R', "RADIUS")],
                    columns: &[
                        ("NAME", "name"),
                        ("SERVICE", "service"),
                        ("CALLER-ID", "caller-id"),
                        ("ADDRESS", "address"),
                        ("UPTIME", "uptime"),
                        ("ENCODING", "encoding"),
                    ],
                    rows,
                }
            })
        }
        Menu::PppSecret => {
            let rows = state
                .secrets
                .iter()
                .map(|s| {
                    let mut shown = Vec::new();
                    if let Some(c) = &s.comment {
                        shown.push(("comment", c.clone()));
                    }
                    let common = [
                        ("name", s.name.clone()),
                        ("service", s.service.clone()),
                        ("caller-id", String::new()),
                        ("password", s.password.clone()),
                        ("profile", s.profile.clone()),
                        ("local-address", String::new()),
                        ("remote-address", String::new()),
                    ];
                    shown.extend(common.iter().cloned());
                    let mut values: Vec<_> = common.to_vec();
                    values.push(("disabled", true_false(s.disabled)));
                    if let Some(c) = &s.comment {
                        values.push(("comment", c.clone()));
                    }
                    Row {
                        id: s.id,
                        flags: flags(&[('X', s.disabled)]),
                        comment: s.comment.clone(),
                        shown,
                        values,
                    }
                })
                .collect();
            Some(View {
                legend: &[('X', "DISABLED")],
                columns: &[
                    ("NAME", "name"),
                    ("SERVICE", "service"),
                    ("CALLER-ID", "caller-id"),
                    ("PASSWORD", "password"),
                    ("PROFILE", "profile"),
                    ("REMOTE-ADDRESS", "remote-address"),
                ],
                rows,
            })
        }
        m if items::is_item_menu(m) => Some(View {
            legend: &[('X', "DISABLED")],
            columns: match m {
                Menu::FirewallFilter => &[
                    ("CHAIN", "chain"),
                    ("ACTION", "action"),
                    ("PROTOCOL", "protocol"),
                    ("SRC-ADDRESS", "src-address"),
                    ("SRC-ADDRESS-LIST", "src-address-list"),
                    ("DST-PORT", "dst-port"),
                ],
                Menu::PppProfile => &[
                    ("NAME", "name"),
                    ("LOCAL-ADDRESS", "local-address"),
                    ("REMOTE-ADDRESS", "remote-address"),
                ],
                Menu::UserGroup => &[("NAME", "name"), ("POLICY", "policy")],
                _ => &[("NAME", "name"), ("GROUP", "group"), ("ADDRESS", "address")],
            },
            rows: state.items.rows(m),
        }),
        _ => None,
    }
}

fn active_row(a: &super::state::Active, up: std::time::Duration) -> Row {
    let session = format!("0x{:X}", a.session_id);
    Row {
        id: a.id,
        flags: String::new(),
        comment: None,
        shown: vec![
            ("name", a.name.clone()),
            ("service", a.service.clone()),
            ("caller-id", a.caller_id.clone()),
            ("address", a.address.to_string()),
            ("uptime", duration::compact(up)),
            ("encoding", String::new()),
            ("session-id", session.clone()),
            ("limit-bytes-in", "0".to_owned()),
            ("limit-bytes-out", "0".to_owned()),
            ("radius", "no".to_owned()),
        ],
        values: vec![
            ("name", a.name.clone()),
            ("service", a.service.clone()),
            ("caller-id", a.caller_id.clone()),
            ("address", a.address.to_string()),
            ("uptime", duration::clock(up)),
            ("encoding", String::new()),
            ("session-id", session),
            ("limit-bytes-in", "0".to_owned()),
            ("limit-bytes-out", "0".to_owned()),
            ("radius", "false".to_owned()),
        ],
    }
}

fn interface_row(a: &super::state::Active, up: std::time::Duration) -> Row {
    let common = |uptime: String| {
        vec![
            ("name", a.interface()),
            ("user", a.name.clone()),
            ("mtu", "1450".to_owned()),
            ("client-address", a.address.to_string()),
            ("uptime", uptime),
            ("encoding", String::new()),
        ]
    };
    let mut values = common(duration::clock(up));
    values.extend([
        ("dynamic", "true".to_owned()),
        ("running", "true".to_owned()),
    ]);
    Row {
        id: a.id,
        flags: "DR".to_owned(),
        comment: None,
        shown: common(duration::compact(up)),
        values,
    }
}

fn flag_width(rows: &[Row]) -> usize {
    rows.iter().map(|r| r.flags.len()).max().unwrap_or(0)
}

/// `print terse`: ` 0 D list=x address=10.0.0.5 …`, values never quoted.
pub(crate) fn terse(rows: &[Row]) -> Vec<String> {
    let fw = flag_width(rows).max(1);
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let pairs: Vec<String> = r.shown.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{i:>2} {:<fw$} {}", r.flags, pairs.join(" "))
        })
        .collect()
}

/// `detail` shows an empty value as `""`; v7 leaves the rest unquoted,
/// even `creation-time=2024-10-22 21:20:36`.
fn quote(v: &str) -> String {
    if v.is_empty() {
        "\"\"".to_owned()
    } else {
        v.to_owned()
    }
}

fn legend_line(view: &View, rows: &[Row]) -> Option<String> {
    let used: Vec<String> = view
        .legend
        .iter()
        .filter(|(c, _)| rows.iter().any(|r| r.flags.contains(*c)))
        .map(|(c, name)| format!("{c} - {name}"))
        .collect();
    (!used.is_empty()).then(|| format!("Flags: {}", used.join("; ")))
}

/// `print detail`: one block per item, the comment as a `;;;` line.
pub(crate) fn detail(view: &View, rows: &[Row]) -> Vec<String> {
    let mut out: Vec<String> = legend_line(view, rows).into_iter().collect();
    let fw = flag_width(rows).max(1);
    for (i, r) in rows.iter().enumerate() {
        let prefix = format!("{i:>2} {:<fw$} ", r.flags);
        let pairs: Vec<String> = r
            .shown
            .iter()
            .filter(|(k, _)| *k != "comment")
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        match &r.comment {
            Some(c) => {
                out.push(format!("{prefix};;; {c}"));
                out.push(format!("{}{}", " ".repeat(prefix.len()), pairs.join(" ")));
            }
            None => out.push(format!("{prefix}{}", pairs.join(" "))),
        }
        out.push(String::new());
    }
    out
}

/// The v7 table: legend, `Columns:`, a `#` header, `;;;` comment lines.
pub(crate) fn plain(view: &View, rows: &[Row]) -> Vec<String> {
    if rows.is_empty() {
        return Vec::new();
    }
    let cell = |r: &Row, key: &str| {
        r.shown
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // v7 leaves out columns no item has a value for.
    let columns: Vec<(&str, &str, usize)> = view
        .columns
        .iter()
        .filter(|(_, key)| rows.iter().any(|r| !cell(r, key).is_empty()))
        .map(|(head, key)| {
            let width = rows.iter().map(|r| cell(r, key).len()).max().unwrap_or(0);
            (*head, *key, width.max(head.len()))
        })
        .collect();
    let iw = rows.len().saturating_sub(1).to_string().len();
    let fw = flag_width(rows);
    let lead = |idx: &str, flags: &str| {
        if fw == 0 {
            format!("{idx:>iw$} ")
        } else {
            format!("{idx:>iw$} {flags:<fw$} ")
        }
    };
    let mut out: Vec<String> = legend_line(view, rows).into_iter().collect();
    let heads: Vec<&str> = columns.iter().map(|(h, _, _)| *h).collect();
    out.push(format!("Columns: {}", heads.join(", ")));
    let header: Vec<String> = columns.iter().map(|(h, _, w)| format!("{h:<w$}")).collect();
    let hash = if fw == 0 {
        format!("{:<iw$} ", "#")
    } else {
        format!("{:<iw$} {:fw$} ", "#", "")
    };
    out.push(format!("{hash}{}", header.join("  ")));
    for (i, r) in rows.iter().enumerate() {
        if let Some(c) = &r.comment {
            out.push(format!(";;; {c}"));
        }
        let cells: Vec<String> = columns
            .iter()
            .map(|(_, key, w)| format!("{:<w$}", cell(r, key)))
            .collect();
        out.push(format!(
            "{}{}",
            lead(&i.to_string(), &r.flags),
            cells.join("  ")
        ));
    }
    out
}
