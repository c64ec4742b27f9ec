//! Runs parsed scripts the way the RouterOS console does: statement by
//! statement until the first runtime error, whose message ends the output;
//! `:do { } on-error={ }` catches it; `[ … ]` yields the value of its last
//! command. Command bodies live in `commands.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use super::Shared;
use super::ast::{Cond, Expr, Op, Stmt, StrPart};
use super::menu::Menu;
use super::parse;
use super::table::{Row, id_text};

/// A script value. RouterOS has more types; these are the ones tgate meets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Nothing,
    Str(String),
    Ids(Vec<u32>),
    Records(Vec<Vec<(String, String)>>),
}

impl Value {
    pub fn render(&self) -> String {
        match self {
            Value::Nothing => String::new(),
            Value::Str(s) => s.clone(),
            Value::Ids(ids) => ids
                .iter()
                .map(|&i| id_text(i))
                .collect::<Vec<_>>()
                .join(";"),
            Value::Records(recs) => recs
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";"),
        }
    }
}

/// What one console (an exec request or a shell) remembers between commands.
#[derive(Default)]
pub(crate) struct Terminal {
    pub menu: Option<Menu>,
    /// Item numbers from the last `print` in each menu, as `remove 0` uses them.
    pub numbering: HashMap<Menu, Vec<u32>>,
    pub vars: HashMap<String, Value>,
}

impl Terminal {
    pub fn menu(&self) -> Menu {
        self.menu.unwrap_or(Menu::Root)
    }
}

pub(crate) struct Console<'a> {
    pub shared: &'a Arc<Shared>,
    pub write: bool,
    pub term: &'a mut Terminal,
    pub out: Vec<String>,
    /// Inside `[ … ]`; `count-only` returns its number instead of printing it.
    pub depth: usize,
}

pub(crate) type Outcome = Result<Value, String>;

/// Parses and runs one script; returns the console output, one entry per line.
pub(crate) fn run_script(
    shared: &Arc<Shared>,
    write: bool,
    term: &mut Terminal,
    src: &str,
) -> Vec<String> {
    let (stmts, menu) = match parse::parse(src, term.menu()) {
        Ok(parsed) => parsed,
        Err(e) => return vec![e.to_string()],
    };
    term.menu = Some(menu);
    let mut con = Console {
        shared,
        write,
        term,
        out: Vec::new(),
        depth: 0,
    };
    if let Err(message) = con.block(&stmts) {
        con.out.push(message);
    }
    con.out
}

impl Console<'_> {
    pub fn block(&mut self, stmts: &[Stmt]) -> Outcome {
        let mut last = Value::Nothing;
        for stmt in stmts {
            last = self.stmt(stmt)?;
        }
        Ok(last)
    }

    fn stmt(&mut self, stmt: &Stmt) -> Outcome {
        match stmt {
            Stmt::SetMenu => Ok(Value::Nothing),
            Stmt::Command(cmd) => self.command(cmd),
            Stmt::Put(expr) => {
                let value = match expr {
                    Some(e) => self.expr(e)?,
                    None => Value::Nothing,
                };
                // `:put` of several lines prints each one.
                for line in value.render().split('\n') {
                    self.out.push(line.trim_end_matches('\r').to_owned());
                }
                Ok(Value::Nothing)
            }
            Stmt::Do { body, on_error } => match self.block(body) {
                Ok(v) => Ok(v),
                Err(_) => match on_error {
                    Some(handler) => self.block(handler),
                    None => Ok(Value::Nothing),
                },
            },
            Stmt::OnError { var, body, handler } => match self.block(body) {
                Ok(_) => Ok(Value::Str("false".to_owned())),
                Err(message) => {
                    self.term.vars.insert(var.clone(), Value::Str(message));
                    self.block(handler)?;
                    Ok(Value::Str("true".to_owned()))
                }
            },
            Stmt::Assign { name, value } => {
                let v = match value {
                    Some(e) => self.expr(e)?,
                    None => Value::Nothing,
                };
                self.term.vars.insert(name.clone(), v);
                Ok(Value::Nothing)
            }
        }
    }

    pub fn expr(&mut self, expr: &Expr) -> Outcome {
        Ok(match expr {
            Expr::Lit { text, .. } => Value::Str(text.clone()),
            Expr::Str(parts) => Value::Str(
                parts
                    .iter()
                    .map(|p| match p {
                        StrPart::Text(t) => t.clone(),
                        StrPart::Var(v) => self.var(v).render(),
                    })
                    .collect(),
            ),
            Expr::Var(name) => self.var(name),
            Expr::Sub(stmts) => {
                self.depth += 1;
                let v = self.block(stmts);
                self.depth -= 1;
                v?
            }
            Expr::Concat(parts) => {
                let mut s = String::new();
                for p in parts {
                    s.push_str(&self.expr(p)?.render());
                }
                Value::Str(s)
            }
        })
    }

    /// An undefined variable is empty, not an error, as in RouterOS.
    fn var(&self, name: &str) -> Value {
        self.term.vars.get(name).cloned().unwrap_or(Value::Nothing)
    }

    pub fn text(&mut self, expr: &Expr) -> Result<String, String> {
        Ok(self.expr(expr)?.render())
    }

    /// Does a row satisfy a `where`/`find` condition?
    pub fn matches(&mut self, cond: &Cond, row: &Row) -> Result<bool, String> {
        Ok(match cond {
            Cond::All => true,
            Cond::And(a, b) => self.matches(a, row)? && self.matches(b, row)?,
            Cond::Or(a, b) => self.matches(a, row)? || self.matches(b, row)?,
            Cond::Not(c) => !self.matches(c, row)?,
            Cond::Flag(key) => row.value(key) == Some("true"),
            Cond::Cmp { key, op, value } => {
                let have = if key == ".id" {
                    id_text(row.id)
                } else {
                    row.value(key).unwrap_or_default().to_owned()
                };
                // RouterOS types an unquoted `a.b.c.d/n` as a prefix, which
                // then equals no address-list entry; quoted, it is text.
                if let Expr::Lit {
                    text,
                    quoted: false,
                } = value
                    && text.contains('/')
                    && text.parse::<ipnet::Ipv4Net>().is_ok()
                {
                    return Ok(*op == Op::Ne);
                }
                let want = self.text(value)?;
                match op {
                    Op::Eq => same(&have, &want),
                    Op::Ne => !same(&have, &want),
                    Op::Match => regex_match(&want, &have),
                }
            }
        })
    }
}

pub(crate) fn same(have: &str, want: &str) -> bool {
    let boolean = |s: &str| match s {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    };
    match (boolean(have), boolean(want)) {
        (Some(a), Some(b)) => a == b,
        _ => have == want,
    }
}

/// The POSIX-regex subset people put after `~`: `^ $ . * + ?`, `\` escapes.
fn regex_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    if p.first() == Some(&'^') {
        return match_here(&p[1..], &t);
    }
    (0..=t.len()).any(|i| match_here(&p, &t[i..]))
}

fn match_here(p: &[char], t: &[char]) -> bool {
    if p.is_empty() {
        return true;
    }
    if p == ['$'] {
        return t.is_empty();
    }
    let (atom, rest) = if p[0] == '\\' && p.len() > 1 {
        (Some(p[1]), &p[2..])
    } else if p[0] == '.' {
        (None, &p[1..])
    } else {
        (Some(p[0]), &p[1..])
    };
    let hit = |c: &char| atom.is_none_or(|a| a == *c);
    match rest.first() {
        Some('*') | Some('+') | Some('?') => {
            let rest2 = &rest[1..];
            let max = if rest[0] == '?' { 1 } else { usize::MAX };
            let min = usize::from(rest[0] == '+');
            let mut n = 0;
            while n < t.len() && n < max && hit(&t[n]) {
                n += 1;
            }
            (min..=n).rev().any(|k| match_here(rest2, &t[k..]))
        }
        _ => !t.is_empty() && hit(&t[0]) && match_here(rest, &t[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::regex_match;

    #[test]
    fn small_regexes_match_like_posix() {
        assert!(regex_match("tgate", "x-tgate-y"));
        assert!(regex_match("^tgate", "tgate-permit"));
        assert!(!regex_match("^tgate", "x-tgate"));
        assert!(regex_match("^10\\.0\\..*$", "10.0.3.4"));
        assert!(!regex_match("^10\\.0\\.$", "10.0.3.4"));
        assert!(regex_match("a+b?c", "xaac"));
    }
}
