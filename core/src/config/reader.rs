//! Walking the parsed TOML by hand. serde would stop at the first wrong
//! value; reading each key with a small helper that records a [`Problem`]
//! and carries on lets one load report every mistake. Each helper also looks
//! for the key's environment override, so the keys are listed once, where
//! they are read, and an override can never name a key that does not exist.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;
use toml::{Table, Value};

use super::duration::parse_duration;
use super::env::{Env, Scope};
use super::problems::{Problem, did_you_mean};
use super::rules::parse_net;

/// State shared by every table's reader during one load.
pub(super) struct Ctx<'a> {
    pub problems: Vec<Problem>,
    pub env: Env,
    pub base_dir: &'a Path,
    /// Keys each section accepts, routers' under `"routers"`; for "did you
    /// mean" on environment variables.
    pub known: BTreeMap<&'static str, Vec<&'static str>>,
}

impl<'a> Ctx<'a> {
    pub fn new(env: Env, base_dir: &'a Path) -> Self {
        Self {
            problems: Vec::new(),
            env,
            base_dir,
            known: BTreeMap::new(),
        }
    }

    pub fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(key, message));
    }
}

/// How an environment variable's text becomes a TOML value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Taken as a string, as is.
    Text,
    /// Parsed as a TOML value: `3`, `true`.
    Scalar,
    /// Parsed as a TOML value; a single value becomes a one-element array.
    Array,
}

/// A value for a key, from the file or from the environment.
struct Found {
    value: Value,
    key: String,
    var: Option<String>,
}

/// Reads one table: each key at most once, then [`Section::finish`] reports
/// whatever is left as unknown.
pub(super) struct Section<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    kind: &'static str,
    path: String,
    table: Table,
    scope: Scope,
    known: Vec<&'static str>,
    present: Vec<&'static str>,
}

impl<'c, 'a> Section<'c, 'a> {
    /// `kind` is the section's name (`"routers"` for every router), `path`
    /// how problems name this table.
    pub fn new(
        ctx: &'c mut Ctx<'a>,
        kind: &'static str,
        path: String,
        value: Option<Value>,
        scope: Scope,
    ) -> Self {
        let table = match value {
            None => Table::new(),
            Some(Value::Table(table)) => table,
            Some(other) => {
                let header = match kind {
                    "routers" => "[[routers]]".to_owned(),
                    section => format!("[{section}]"),
                };
                ctx.problem(
                    &path,
                    format!("expected a table ({header}), found {}", type_name(&other)),
                );
                Table::new()
            }
        };
        Self {
            ctx,
            kind,
            path,
            table,
            scope,
            known: Vec::new(),
            present: Vec::new(),
        }
    }

    pub fn base_dir(&self) -> &'a Path {
        self.ctx.base_dir
    }

    /// Renames the table once its name is known (a router, after `name`).
    pub fn rename(&mut self, path: String, scope: Scope) {
        self.path = path;
        self.scope = scope;
    }

    pub fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        let key = self.key(key);
        self.ctx.problem(key, message);
    }

    pub fn is_present(&self, key: &str) -> bool {
        self.present.contains(&key)
    }

    /// A problem for each of `keys` that was not set.
    pub fn require(&mut self, keys: &[&'static str]) {
        for key in keys {
            if !self.is_present(key) {
                self.problem(key, "is required");
            }
        }
    }

    /// Reports the keys nobody read as unknown.
    pub fn finish(self) {
        let Section {
            ctx,
            kind,
            path,
            table,
            known,
            ..
        } = self;
        for key in table.keys() {
            let mut message = "unknown key".to_owned();
            if let Some(close) = did_you_mean(key, &known) {
                message.push_str(&format!("; did you mean {close:?}?"));
            }
            ctx.problem(format!("{path}.{key}"), message);
        }
        let all = ctx.known.entry(kind).or_default();
        for key in known {
            if !all.contains(&key) {
                all.push(key);
            }
        }
    }

    fn raw(&mut self, key: &'static str, kind: Kind) -> Option<Found> {
        self.known.push(key);
        let from_file = self.table.remove(key);
        let path = self.path.clone();
        let mut hits = self.ctx.env.take(&self.scope, key, &path).into_iter();
        let Some(hit) = hits.next() else {
            let value = from_file?;
            self.present.push(key);
            return Some(Found {
                value,
                key: self.key(key),
                var: None,
            });
        };
        for other in hits {
            self.ctx.problem(
                &other.var,
                format!("sets the same key as {}; keep one of them", hit.var),
            );
        }
        self.present.push(key);
        let value = match kind {
            Kind::Text => Value::String(hit.value),
            Kind::Scalar | Kind::Array => match toml_value(&hit.value, kind == Kind::Array) {
                Ok(value) => value,
                Err(why) => {
                    let message = format!("not a TOML value for {}: {why}", self.key(key));
                    self.ctx.problem(&hit.var, message);
                    return None;
                }
            },
        };
        Some(Found {
            value,
            key: self.key(key),
            var: Some(hit.var),
        })
    }

    /// Records a problem with a found value, saying which variable set it.
    fn bad(&mut self, found: &Found, key: String, message: impl Display) {
        let message = match &found.var {
            Some(var) => format!("{message} (set by {var})"),
            None => message.to_string(),
        };
        self.ctx.problem(key, message);
    }

    fn convert<T>(
        &mut self,
        key: &'static str,
        kind: Kind,
        convert: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let found = self.raw(key, kind)?;
        match convert(&found.value) {
            Ok(value) => Some(value),
            Err(why) => {
                let k = found.key.clone();
                self.bad(&found, k, why);
                None
            }
        }
    }

    /// A string checked and converted by `parse`.
    pub fn parse_with<T>(
        &mut self,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        self.convert(key, Kind::Text, |v| parse(want_str(v)?))
    }

    /// A string parsed with `FromStr`; its error is the message.
    pub fn parsed<T: FromStr>(&mut self, key: &'static str) -> Option<T>
    where
        T::Err: Display,
    {
        self.parse_with(key, |s| s.parse::<T>().map_err(|e| e.to_string()))
    }

    /// One of `choices`, case-insensitively.
    pub fn choice<T: Copy>(&mut self, key: &'static str, choices: &[(&str, T)]) -> Option<T> {
        self.parse_with(key, |s| {
            choices
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(s))
                .map(|(_, value)| *value)
                .ok_or_else(|| {
                    let names: Vec<String> =
                        choices.iter().map(|(n, _)| format!("{n:?}")).collect();
                    format!("{s:?} is not one of {}", names.join(", "))
                })
        })
    }

    /// A duration string such as `"90s"`; `positive` refuses zero.
    pub fn duration(&mut self, key: &'static str, positive: bool) -> Option<Duration> {
        self.convert(key, Kind::Text, |v| {
            if let Value::Integer(n) = v {
                return Err(format!(
                    "expected a duration with a unit, such as \"{n}s\" or \"{n}m\", \
                     found the bare number {n}"
                ));
            }
            let d = parse_duration(want_str(v)?)?;
            if positive && d.is_zero() {
                return Err("must be longer than zero".to_owned());
            }
            Ok(d)
        })
    }

    /// An integer in `T`'s range and at least `min`.
    pub fn int<T: TryFrom<i64> + Display + Copy + Into<i64>>(
        &mut self,
        key: &'static str,
        min: T,
        max: T,
    ) -> Option<T> {
        self.convert(key, Kind::Scalar, |v| {
            let n = want_int(v)?;
            if n < min.into() {
                return Err(format!("must be at least {min}, not {n}"));
            }
            if n > max.into() {
                return Err(format!("must be at most {max}, not {n}"));
            }
            T::try_from(n).map_err(|_| format!("must be at most {max}, not {n}"))
        })
    }

    pub fn bool(&mut self, key: &'static str) -> Option<bool> {
        self.convert(key, Kind::Scalar, |v| {
            v.as_bool()
                .ok_or_else(|| format!("expected true or false, found {}", type_name(v)))
        })
    }

    /// An array of positive integers (Telegram user ids).
    pub fn user_ids(&mut self, key: &'static str) -> Option<Vec<i64>> {
        self.array(key, |v| {
            let n = want_int(v)?;
            if n <= 0 {
                return Err(format!(
                    "{n} is not a Telegram user id (user ids are positive)"
                ));
            }
            Ok(n)
        })
    }

    /// An array of networks; a bare address is a single-host network.
    pub fn networks(&mut self, key: &'static str) -> Option<Vec<IpNet>> {
        self.array(key, |v| parse_net(want_str(v)?))
    }

    /// One network or address.
    pub fn network(&mut self, key: &'static str) -> Option<IpNet> {
        self.parse_with(key, parse_net)
    }

    /// Each element checked alone, so one bad entry is reported as
    /// `key[index]` and the others still are checked.
    fn array<T>(
        &mut self,
        key: &'static str,
        item: impl Fn(&Value) -> Result<T, String>,
    ) -> Option<Vec<T>> {
        let found = self.raw(key, Kind::Array)?;
        let Value::Array(values) = &found.value else {
            let message = format!("expected an array, found {}", type_name(&found.value));
            let k = found.key.clone();
            self.bad(&found, k, message);
            return None;
        };
        let mut out = Vec::new();
        let mut failed = false;
        for (i, value) in values.iter().enumerate() {
            match item(value) {
                Ok(v) => out.push(v),
                Err(why) => {
                    failed = true;
                    let k = format!("{}[{i}]", found.key);
                    self.bad(&found, k, why);
                }
            }
        }
        (!failed).then_some(out)
    }

    /// A secret given either as `key` or as `file_key`, a file holding it
    /// (relative to the config file's directory; a trailing newline is
    /// dropped). An environment override of either replaces both file
    /// keys, so `TGATE_TELEGRAM__TOKEN` wins over `token_file` in the file.
    /// Neither the value nor the file's content ever appears in a problem.
    pub fn secret(&mut self, key: &'static str, file_key: &'static str) -> Option<SecretString> {
        let direct = self.raw(key, Kind::Text);
        let file = self.raw(file_key, Kind::Text);
        let (direct, file) = match (direct, file) {
            (Some(d), Some(f)) if d.var.is_some() && f.var.is_none() => (Some(d), None),
            (Some(d), Some(f)) if d.var.is_none() && f.var.is_some() => (None, Some(f)),
            (Some(d), Some(_)) => {
                let k = d.key.clone();
                self.bad(
                    &d,
                    k,
                    format!("set together with {file_key}; use one of them"),
                );
                return None;
            }
            other => other,
        };
        if file.is_some() && !self.is_present(key) {
            self.present.push(key);
        }
        if let Some(d) = direct {
            return match &d.value {
                Value::String(s) if s.is_empty() => {
                    let k = d.key.clone();
                    self.bad(&d, k, "must not be empty");
                    None
                }
                Value::String(s) => Some(SecretString::from(s.as_str())),
                other => {
                    let message = format!("expected a string, found {}", type_name(other));
                    let k = d.key.clone();
                    self.bad(&d, k, message);
                    None
                }
            };
        }
        let f = file?;
        let path = match want_str(&f.value) {
            Ok(path) => self.base_dir().join(path),
            Err(why) => {
                let k = f.key.clone();
                self.bad(&f, k, why);
                return None;
            }
        };
        let read = std::fs::read_to_string(&path);
        let k = f.key.clone();
        match read {
            Ok(text) => {
                let text = text.trim_end_matches(['\n', '\r']);
                if text.is_empty() {
                    self.bad(&f, k, format!("{} is empty", path.display()));
                    return None;
                }
                Some(SecretString::from(text))
            }
            Err(e) => {
                self.bad(&f, k, format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    }

    /// A path, relative to the config file's directory, that must be a
    /// readable file.
    pub fn file_path(&mut self, key: &'static str) -> Option<PathBuf> {
        let base = self.base_dir();
        self.parse_with(key, |s| {
            let path = base.join(s);
            match std::fs::File::open(&path) {
                Ok(_) => Ok(path),
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            }
        })
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

fn want_str(v: &Value) -> Result<&str, String> {
    match v {
        Value::String(s) if s.is_empty() => Err("must not be empty".to_owned()),
        Value::String(s) => Ok(s),
        other => Err(format!("expected a string, found {}", type_name(other))),
    }
}

fn want_int(v: &Value) -> Result<i64, String> {
    v.as_integer()
        .ok_or_else(|| format!("expected an integer, found {}", type_name(v)))
}

/// Parses an environment variable's text as one TOML value.
fn toml_value(text: &str, as_array: bool) -> Result<Value, String> {
    let parsed: Result<Table, _> = format!("v = {text}").parse();
    let mut table = match parsed {
        Ok(table) => table,
        // One list item written alone need not be quoted:
        // TGATE_SERVER__TRUSTED_PROXIES=172.31.240.10 is one address.
        Err(_) if as_array && !text.trim_start().starts_with('[') => {
            return Ok(Value::Array(vec![Value::String(text.trim().to_owned())]));
        }
        Err(e) => return Err(e.message().trim().to_owned()),
    };
    let value = match table.remove("v") {
        Some(value) if table.is_empty() => value,
        _ => return Err("expected a single value".to_owned()),
    };
    Ok(match value {
        Value::Array(_) => value,
        other if as_array => Value::Array(vec![other]),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_list_item_is_one_string() {
        for text in ["172.31.240.10", "fd00::1", "10.0.0.0/8"] {
            assert_eq!(
                toml_value(text, true),
                Ok(Value::Array(vec![Value::String(text.to_owned())]))
            );
        }
        assert!(toml_value("[1, 2", true).is_err());
        assert!(toml_value("172.31.240.10", false).is_err());
    }

    #[test]
    fn env_text_parses_as_one_toml_value() {
        assert_eq!(toml_value("3", false), Ok(Value::Integer(3)));
        assert_eq!(toml_value("true", false), Ok(Value::Boolean(true)));
        assert_eq!(
            toml_value("111", true),
            Ok(Value::Array(vec![Value::Integer(111)]))
        );
        assert!(toml_value("[1, 2]", false).unwrap().is_array());
        assert!(toml_value("abc", false).is_err());
        assert!(toml_value("3\nx = 4", false).is_err());
    }
}
