//! The bodies of the menu commands (`add`, `remove`, `set`, `print`, `find`,
//! `get`, `enable`, `disable`) with RouterOS's error wording. Removing a PPP
//! session here does what the profile's on-down script does on a router:
//! drop the sandbox entry and POST the down event, without waiting for it.

use std::time::Duration;

use super::ast::{Command, Cond, Expr};
use super::duration;
use super::eval::{Console, Outcome, Value};
use super::hook;
use super::items::is_item_menu;
use super::menu::{Cmd, Menu};
use super::state::{AddError, Family, Secret, parse_address};
use super::table::{self, Hint, Row};

const NO_SUCH_ITEM: &str = "no such item";
const NO_PERMISSION: &str = "not enough permissions (9)";

impl Console<'_> {
    pub fn command(&mut self, c: &Command) -> Outcome {
        if c.cmd.writes() && !self.write {
            return Err(NO_PERMISSION.to_owned());
        }
        if c.menu == Menu::SystemIdentity {
            return self.identity(c);
        }
        if c.menu == Menu::IpSsh {
            return self.ssh_settings(c);
        }
        match c.cmd {
            Cmd::Print => self.print(c),
            Cmd::Find => {
                let rows = self.select(c.menu, c.cond.as_ref().unwrap_or(&Cond::All))?;
                Ok(Value::Ids(rows.iter().map(|r| r.id).collect()))
            }
            Cmd::Get => self.get(c),
            Cmd::Remove => self.remove(c),
            Cmd::Add => self.add(c),
            Cmd::Set | Cmd::Enable | Cmd::Disable => self.set(c),
        }
    }

    fn rows(&mut self, menu: Menu, hint: &Hint) -> Vec<Row> {
        let mut state = self.shared.state.lock().expect("router state");
        table::view_where(&mut state, menu, hint)
            .map(|v| v.rows)
            .unwrap_or_default()
    }

    fn select(&mut self, menu: Menu, cond: &Cond) -> Result<Vec<Row>, String> {
        let mut out = Vec::new();
        for row in self.rows(menu, &Hint::of(cond)) {
            if self.matches(cond, &row)? {
                out.push(row);
            }
        }
        Ok(out)
    }

    fn print(&mut self, c: &Command) -> Outcome {
        let view = {
            let hint = c.cond.as_ref().map(Hint::of).unwrap_or_default();
            let mut state = self.shared.state.lock().expect("router state");
            table::view_where(&mut state, c.menu, &hint)
        };
        let Some(mut view) = view else {
            return Ok(Value::Nothing);
        };
        let mut rows = Vec::new();
        for row in std::mem::take(&mut view.rows) {
            if self.matches(c.cond.as_ref().unwrap_or(&Cond::All), &row)? {
                rows.push(row);
            }
        }
        self.term
            .numbering
            .insert(c.menu, rows.iter().map(|r| r.id).collect());
        let proplist: Option<Vec<String>> = match c.named.iter().find(|(k, _)| k == "proplist") {
            Some((_, e)) => Some(self.text(e)?.split(',').map(str::to_owned).collect()),
            None => None,
        };
        let wanted = |k: &str| proplist.as_ref().is_none_or(|p| p.iter().any(|w| w == k));
        for row in &mut rows {
            row.shown.retain(|(k, _)| wanted(k));
        }
        let flag = |f: &str| c.flags.iter().any(|x| x == f);
        if flag("as-value") {
            // Bare `print as-value` shows nothing; the value is for `:put [ ]`.
            let records = rows
                .iter()
                .map(|r| r.record().into_iter().filter(|(k, _)| wanted(k)).collect())
                .collect();
            return Ok(Value::Records(records));
        }
        if flag("count-only") {
            let n = rows.len().to_string();
            if self.depth > 0 {
                return Ok(Value::Str(n));
            }
            self.out.push(n);
            return Ok(Value::Nothing);
        }
        let lines = if flag("terse") {
            table::terse(&rows)
        } else if flag("detail") {
            table::detail(&view, &rows)
        } else {
            table::plain(&view, &rows)
        };
        self.out.extend(lines);
        Ok(Value::Nothing)
    }

    /// Resolves `*1A,*1B`, print numbers or a `[find]` value to item ids,
    /// all of which must exist in `menu`.
    fn ids(&mut self, menu: Menu, expr: Option<&Expr>) -> Result<Vec<u32>, String> {
        let Some(expr) = expr else {
            return Err("missing value(s) of argument(s) numbers".to_owned());
        };
        let value = self.expr(expr)?;
        let mut ids = Vec::new();
        match value {
            Value::Nothing => {}
            Value::Ids(found) => ids = found,
            Value::Records(_) => return Err(NO_SUCH_ITEM.to_owned()),
            Value::Str(s) => {
                for part in s.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
                    let id = if let Some(hex) = part.strip_prefix('*') {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        let n: Option<usize> = part.parse().ok();
                        n.and_then(|n| self.term.numbering.get(&menu)?.get(n).copied())
                    };
                    ids.push(id.ok_or_else(|| NO_SUCH_ITEM.to_owned())?);
                }
            }
        }
        let all_there = {
            let mut state = self.shared.state.lock().expect("router state");
            table::has_items(&mut state, menu, &ids)
        };
        if !all_there {
            return Err(NO_SUCH_ITEM.to_owned());
        }
        Ok(ids)
    }

    fn get(&mut self, c: &Command) -> Outcome {
        let ids = self.ids(c.menu, c.positional.first())?;
        let Some(&id) = ids.first() else {
            return Err(NO_SUCH_ITEM.to_owned());
        };
        let row = self
            .rows(c.menu, &Hint::default())
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| NO_SUCH_ITEM.to_owned())?;
        let Some(prop) = c.positional.get(1) else {
            return Ok(Value::Records(vec![row.record()]));
        };
        let prop = self.text(prop)?;
        if prop == ".id" {
            return Ok(Value::Ids(vec![row.id]));
        }
        if !c.menu.properties().contains(&prop.as_str()) {
            return Err("input does not match any value of value-name".to_owned());
        }
        Ok(Value::Str(row.value(&prop).unwrap_or_default().to_owned()))
    }

    fn remove(&mut self, c: &Command) -> Outcome {
        let ids = self.ids(c.menu, c.positional.first())?;
        let shared = self.shared.clone();
        let mut state = shared.state.lock().expect("router state");
        match c.menu {
            Menu::AddressList(_) => {
                for id in &ids {
                    state.entries.remove(*id);
                }
            }
            Menu::PppSecret => {
                for id in &ids {
                    state.secrets.remove(*id);
                }
            }
            m if is_item_menu(m) => state.items.remove(m, &ids),
            Menu::PppActive | Menu::ServerInterface(_) => {
                for gone in state.disconnect(&ids, &shared.sandbox_list) {
                    hook::spawn_down(&shared, gone, &state);
                }
            }
            _ => {}
        }
        Ok(Value::Nothing)
    }

    /// Evaluates the named arguments of `add`/`set` to text.
    fn named(&mut self, c: &Command) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for (k, e) in &c.named {
            out.push((k.clone(), self.text(e)?));
        }
        Ok(out)
    }

    fn add(&mut self, c: &Command) -> Outcome {
        let args = self.named(c)?;
        let arg = |k: &str| args.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let disabled = arg("disabled")
            .map(|v| yes_no(&v, "disabled"))
            .transpose()?;
        let mut state = self.shared.state.lock().expect("router state");
        match c.menu {
            Menu::AddressList(family) => {
                let list = arg("list").ok_or("failure: list not set")?;
                let address = arg("address").ok_or("failure: address not set")?;
                let address =
                    parse_address(family, &address).ok_or("invalid value for argument address")?;
                let timeout = arg("timeout").map(|t| timeout(&t)).transpose()?.flatten();
                let comment = arg("comment").filter(|c| !c.is_empty());
                match state.add_entry(
                    family,
                    &list,
                    address,
                    timeout,
                    comment,
                    disabled == Some(true),
                ) {
                    Ok(id) => Ok(Value::Ids(vec![id])),
                    Err(AddError::Duplicate) => Err("failure: already have such entry".to_owned()),
                }
            }
            Menu::PppSecret => {
                let name = arg("name").ok_or("failure: name not set")?;
                if state.secrets.with_key(name.as_str()).next().is_some() {
                    return Err("failure: secret with the same name already exists".to_owned());
                }
                let id = state.next_id();
                let mut secret = Secret::new(id, &name);
                apply_secret(&mut secret, &args);
                secret.disabled = disabled == Some(true);
                state.secrets.insert(secret);
                Ok(Value::Ids(vec![id]))
            }
            m if is_item_menu(m) => {
                let args = state.items.validate(m, &args)?;
                let id = state.next_id();
                state.items.add(m, id, args)?;
                Ok(Value::Ids(vec![id]))
            }
            _ => Ok(Value::Nothing),
        }
    }

    fn set(&mut self, c: &Command) -> Outcome {
        let ids = self.ids(c.menu, c.positional.first())?;
        let mut args = self.named(c)?;
        match c.cmd {
            Cmd::Enable => args.push(("disabled".into(), "no".into())),
            Cmd::Disable => args.push(("disabled".into(), "yes".into())),
            _ => {}
        }
        if is_item_menu(c.menu) {
            let mut state = self.shared.state.lock().expect("router state");
            let args = state.items.validate(c.menu, &args)?;
            state.items.set(c.menu, &ids, &args);
            return Ok(Value::Nothing);
        }
        let family = match c.menu {
            Menu::AddressList(f) => Some(f),
            _ => None,
        };
        // Validate everything before changing anything, as RouterOS does.
        let mut timeout_value = None;
        let mut address = None;
        let mut disabled = None;
        for (k, v) in &args {
            match k.as_str() {
                "timeout" => timeout_value = Some(timeout(v)?),
                "disabled" => disabled = Some(yes_no(v, "disabled")?),
                "address" => {
                    address = Some(
                        parse_address(family.unwrap_or(Family::V4), v)
                            .ok_or("invalid value for argument address")?,
                    )
                }
                _ => {}
            }
        }
        let mut state = self.shared.state.lock().expect("router state");
        let now = tokio::time::Instant::now();
        if family.is_some() {
            for id in &ids {
                state.entries.update(*id, |e| {
                    for (k, v) in &args {
                        match k.as_str() {
                            "list" => e.list = v.clone(),
                            "comment" => e.comment = Some(v.clone()).filter(|c| !c.is_empty()),
                            _ => {}
                        }
                    }
                    if let Some(t) = timeout_value {
                        e.expires = t.map(|t| now + t);
                    }
                    if let Some(a) = address {
                        e.address = a;
                    }
                    if let Some(d) = disabled {
                        e.disabled = d;
                    }
                });
            }
        } else if c.menu == Menu::PppSecret {
            for id in &ids {
                state.secrets.update(*id, |s| {
                    apply_secret(s, &args);
                    if let Some(d) = disabled {
                        s.disabled = d;
                    }
                });
            }
        }
        Ok(Value::Nothing)
    }

    fn identity(&mut self, c: &Command) -> Outcome {
        let args = self.named(c)?;
        let mut state = self.shared.state.lock().expect("router state");
        match c.cmd {
            Cmd::Print => {
                let line = format!("  name: {}", state.identity);
                drop(state);
                self.out.push(line);
                Ok(Value::Nothing)
            }
            Cmd::Set => {
                if let Some((_, name)) = args.iter().find(|(k, _)| k == "name") {
                    state.identity = name.clone();
                }
                Ok(Value::Nothing)
            }
            _ => {
                drop(state);
                match c
                    .positional
                    .first()
                    .map(|p| self.text(p))
                    .transpose()?
                    .as_deref()
                {
                    Some("name") => Ok(Value::Str(
                        self.shared
                            .state
                            .lock()
                            .expect("router state")
                            .identity
                            .clone(),
                    )),
                    _ => Err("input does not match any value of value-name".to_owned()),
                }
            }
        }
    }
}

impl Console<'_> {
    /// `/ip ssh`: a settings menu like `/system identity`, printed as
    /// `name: value` lines.
    fn ssh_settings(&mut self, c: &Command) -> Outcome {
        let args = self.named(c)?;
        let mut state = self.shared.state.lock().expect("router state");
        match c.cmd {
            Cmd::Print => {
                let strong = state.items.strong_crypto;
                drop(state);
                self.out.extend([
                    "  forwarding-enabled: no".to_owned(),
                    "  always-allow-password-login: no".to_owned(),
                    format!("  strong-crypto: {}", if strong { "yes" } else { "no" }),
                    "  allow-none-crypto: no".to_owned(),
                    "  host-key-size: 2048".to_owned(),
                    "  host-key-type: rsa".to_owned(),
                ]);
                Ok(Value::Nothing)
            }
            Cmd::Set => {
                let mut strong = None;
                for (k, v) in &args {
                    if k == "strong-crypto" {
                        strong = Some(yes_no(v, "strong-crypto")?);
                    }
                }
                if let Some(strong) = strong {
                    state.items.strong_crypto = strong;
                }
                Ok(Value::Nothing)
            }
            _ => {
                let strong = state.items.strong_crypto;
                drop(state);
                match c
                    .positional
                    .first()
                    .map(|p| self.text(p))
                    .transpose()?
                    .as_deref()
                {
                    Some("strong-crypto") => Ok(Value::Str(strong.to_string())),
                    _ => Err("input does not match any value of value-name".to_owned()),
                }
            }
        }
    }
}

fn apply_secret(s: &mut Secret, args: &[(String, String)]) {
    for (k, v) in args {
        match k.as_str() {
            "name" => s.name = v.clone(),
            "password" => s.password = v.clone(),
            "service" => s.service = v.clone(),
            "profile" => s.profile = v.clone(),
            "comment" => s.comment = Some(v.clone()).filter(|c| !c.is_empty()),
            _ => {}
        }
    }
}

fn yes_no(v: &str, arg: &str) -> Result<bool, String> {
    match v {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("invalid value for argument {arg}")),
    }
}

/// `timeout=` value; zero/`none` means "no timeout".
fn timeout(v: &str) -> Result<Option<Duration>, String> {
    let d = duration::parse(v).ok_or("invalid value for argument timeout")?;
    Ok((!d.is_zero()).then_some(d))
}
