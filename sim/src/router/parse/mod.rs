//! A recursive-descent parser for the RouterOS scripting subset tgate and
//! tik2fa send: menu paths in space and slash form, `key=value` arguments,
//! `"…"` strings with escapes and `$var`, `[ … ]` sub-expressions,
//! `where`/`find` conditions, `:put`, `:do { } on-error={ }`, `:local`.
//! It reports the first error with RouterOS's wording and 1-based position.

mod cond;

use super::ast::{Command, Expr, ParseError, Pos, Stmt, StrPart};
use super::menu::{Cmd, Menu, arg_spec};

/// Parses a whole script starting in `menu`; returns the statements and the
/// menu a trailing path-only line left the console in.
pub(crate) fn parse(src: &str, menu: Menu) -> Result<(Vec<Stmt>, Menu), ParseError> {
    let mut p = Parser {
        chars: src.chars().collect(),
        at: 0,
    };
    let mut menu = menu;
    let stmts = p.stmts(&mut menu, None)?;
    Ok((stmts, menu))
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn is_upper_hex(c: char) -> bool {
    c.is_ascii_digit() || ('A'..='F').contains(&c)
}

fn hex_byte(high: char, low: char) -> u8 {
    let digit = |c: char| c.to_digit(16).unwrap_or(0) as u8;
    digit(high) * 16 + digit(low)
}

fn ends_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, ';' | '[' | ']' | '{' | '}' | '(' | ')' | '"')
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.at + n).copied()
    }

    fn pos(&self) -> Pos {
        self.pos_of(self.at)
    }

    fn pos_of(&self, at: usize) -> Pos {
        let before = &self.chars[..at.min(self.chars.len())];
        let line = before.iter().filter(|&&c| c == '\n').count() + 1;
        let col = at - before.iter().rposition(|&c| c == '\n').map_or(0, |i| i + 1) + 1;
        Pos { line, col }
    }

    fn syntax(&self) -> ParseError {
        ParseError::Syntax(self.pos())
    }

    /// Skips blanks and `\`-newline continuations, not statement ends.
    fn blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t') => self.at += 1,
                Some('\\') if matches!(self.peek_at(1), Some('\n' | '\r')) => {
                    self.at += 2;
                    if self.peek_at(0) == Some('\n') && self.chars[self.at - 1] == '\r' {
                        self.at += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// True at `;`, a newline, the end, or a closing bracket.
    fn at_stmt_end(&self) -> bool {
        matches!(self.peek(), None | Some(';' | '\n' | '\r' | ']' | '}'))
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while self.peek().is_some_and(is_word) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn stmts(&mut self, menu: &mut Menu, close: Option<char>) -> Result<Vec<Stmt>, ParseError> {
        let mut out = Vec::new();
        loop {
            self.blanks();
            match self.peek() {
                None if close.is_some() => return Err(self.syntax()),
                None => return Ok(out),
                Some(c) if Some(c) == close => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(']' | '}') => return Err(self.syntax()),
                Some(';' | '\n' | '\r') => self.at += 1,
                Some('#') => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.at += 1;
                    }
                }
                Some(_) => {
                    out.push(self.stmt(menu)?);
                    self.blanks();
                    if !self.at_stmt_end() {
                        return Err(ParseError::ExpectedEnd(self.pos()));
                    }
                }
            }
        }
    }

    fn stmt(&mut self, menu: &mut Menu) -> Result<Stmt, ParseError> {
        if self.peek() == Some(':') {
            self.at += 1;
            return self.global(menu);
        }
        let mut m = *menu;
        if self.peek() == Some('/') {
            self.at += 1;
            m = Menu::Root;
        }
        loop {
            self.blanks();
            if self.at_stmt_end() {
                *menu = m;
                return Ok(Stmt::SetMenu);
            }
            let start = self.at;
            let word = self.word();
            if word.is_empty() {
                return Err(self.syntax());
            }
            if word == ".." {
                m = m.parent();
            } else if let Some(child) = m.child(&word) {
                m = child;
            } else if let Some(cmd) = m.command(&word) {
                if !self
                    .peek()
                    .is_none_or(|c| c.is_whitespace() || ends_value(c))
                {
                    return Err(self.syntax());
                }
                return self.command(m, cmd).map(Stmt::Command);
            } else {
                return Err(ParseError::BadCommand(word, self.pos_of(start)));
            }
            match self.peek() {
                Some('/') => self.at += 1,
                Some(c) if !c.is_whitespace() && !ends_value(c) => return Err(self.syntax()),
                _ => {}
            }
        }
    }

    fn global(&mut self, menu: &mut Menu) -> Result<Stmt, ParseError> {
        let start = self.at;
        let name = self.word();
        match name.as_str() {
            "put" => {
                self.blanks();
                if self.at_stmt_end() {
                    return Ok(Stmt::Put(None));
                }
                Ok(Stmt::Put(Some(self.value(*menu)?)))
            }
            "do" => {
                self.blanks();
                let body = self.block(*menu)?;
                self.blanks();
                let mut on_error = None;
                if self.peek() == Some('o') {
                    self.keyword_arg("on-error")?;
                    on_error = Some(self.block(*menu)?);
                }
                Ok(Stmt::Do { body, on_error })
            }
            "onerror" => {
                self.blanks();
                let var = self.word();
                if var.is_empty() {
                    return Err(self.syntax());
                }
                self.blanks();
                self.keyword_arg("in")?;
                let body = self.block(*menu)?;
                self.blanks();
                self.keyword_arg("do")?;
                let handler = self.block(*menu)?;
                Ok(Stmt::OnError { var, body, handler })
            }
            "local" | "global" | "set" => {
                self.blanks();
                let name = self.word();
                if name.is_empty() {
                    return Err(self.syntax());
                }
                self.blanks();
                let value = if self.at_stmt_end() {
                    None
                } else {
                    Some(self.value(*menu)?)
                };
                Ok(Stmt::Assign { name, value })
            }
            "" => Err(self.syntax()),
            _ => Err(ParseError::BadCommand(name, self.pos_of(start))),
        }
    }

    /// Consumes `name=` where a construct requires that argument.
    fn keyword_arg(&mut self, name: &str) -> Result<(), ParseError> {
        let at = self.at;
        if self.word() != name || self.peek() != Some('=') {
            return Err(ParseError::ExpectedEnd(self.pos_of(at)));
        }
        self.at += 1;
        Ok(())
    }

    fn block(&mut self, menu: Menu) -> Result<Vec<Stmt>, ParseError> {
        if self.peek() != Some('{') {
            return Err(self.syntax());
        }
        self.at += 1;
        let mut inner = menu;
        self.stmts(&mut inner, Some('}'))
    }

    fn command(&mut self, menu: Menu, cmd: Cmd) -> Result<Command, ParseError> {
        let spec = arg_spec(menu, cmd);
        let mut c = Command {
            menu,
            cmd,
            named: Vec::new(),
            flags: Vec::new(),
            positional: Vec::new(),
            cond: None,
        };
        if cmd == Cmd::Find {
            self.blanks();
            let save = self.at;
            if self.word() != "where" {
                self.at = save;
            }
            c.cond = Some(self.cond(menu)?);
            return Ok(c);
        }
        loop {
            self.blanks();
            if self.at_stmt_end() {
                return Ok(c);
            }
            let start = self.at;
            let word = self.word();
            if !word.is_empty() && self.peek() == Some('=') {
                // `numbers=` is the long spelling of the first positional argument.
                if word == "numbers" && spec.positional > 0 && c.positional.is_empty() {
                    self.at += 1;
                    let value = self.value(menu)?;
                    c.positional.push(value);
                    continue;
                }
                if !spec.named.contains(&word.as_str()) {
                    return Err(ParseError::ExpectedEnd(self.pos_of(start)));
                }
                self.at += 1;
                let value = self.value(menu)?;
                c.named.push((word, value));
                continue;
            }
            if spec.where_clause && word == "where" {
                c.cond = Some(self.cond(menu)?);
                return Ok(c);
            }
            let whole = !word.is_empty() && self.peek().is_none_or(ends_value);
            if whole && spec.flags.contains(&word.as_str()) {
                c.flags.push(word);
                continue;
            }
            self.at = start;
            if c.positional.len() >= spec.positional {
                return Err(ParseError::ExpectedEnd(self.pos_of(start)));
            }
            let value = self.value(menu)?;
            c.positional.push(value);
        }
    }

    /// One value: `"…"`, `[…]`, `(…)`, `$name`, or a bare word.
    fn value(&mut self, menu: Menu) -> Result<Expr, ParseError> {
        match self.peek() {
            Some('"') => self.string(),
            Some('[') => {
                self.at += 1;
                let mut inner = menu;
                Ok(Expr::Sub(self.stmts(&mut inner, Some(']'))?))
            }
            Some('(') => {
                self.at += 1;
                let mut parts = Vec::new();
                loop {
                    self.blanks();
                    parts.push(self.value(menu)?);
                    self.blanks();
                    match self.peek() {
                        Some(')') => {
                            self.at += 1;
                            break;
                        }
                        Some('.') => self.at += 1,
                        _ => return Err(self.syntax()),
                    }
                }
                Ok(if parts.len() == 1 {
                    parts.remove(0)
                } else {
                    Expr::Concat(parts)
                })
            }
            Some('$') => {
                self.at += 1;
                Ok(Expr::Var(self.var_name()?))
            }
            _ => {
                let start = self.at;
                while self.peek().is_some_and(|c| !ends_value(c)) {
                    self.at += 1;
                }
                Ok(Expr::Lit {
                    text: self.chars[start..self.at].iter().collect(),
                    quoted: false,
                })
            }
        }
    }

    fn var_name(&mut self) -> Result<String, ParseError> {
        if self.peek() == Some('"') {
            self.at += 1;
            let start = self.at;
            while self.peek().is_some_and(|c| c != '"') {
                self.at += 1;
            }
            if self.peek().is_none() {
                return Err(self.syntax());
            }
            let name = self.chars[start..self.at].iter().collect();
            self.at += 1;
            return Ok(name);
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(self.syntax());
        }
        Ok(self.chars[start..self.at].iter().collect())
    }

    fn string(&mut self) -> Result<Expr, ParseError> {
        self.at += 1;
        let mut parts = Vec::new();
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.syntax());
            };
            self.at += 1;
            match c {
                '"' => break,
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.syntax());
                    };
                    self.at += 1;
                    match e {
                        '"' | '\\' | '$' | '?' => text.push(e),
                        'n' => text.push('\n'),
                        'r' => text.push('\r'),
                        't' => text.push('\t'),
                        '_' => text.push(' '),
                        '\n' => {}
                        // `\XX`: one byte in upper-case hex; bytes of a
                        // multi-byte character come in a row.
                        h if is_upper_hex(h) && self.peek().is_some_and(is_upper_hex) => {
                            let mut bytes = vec![hex_byte(h, self.chars[self.at])];
                            self.at += 1;
                            while self.peek() == Some('\\')
                                && self.peek_at(1).is_some_and(is_upper_hex)
                                && self.peek_at(2).is_some_and(is_upper_hex)
                                && std::str::from_utf8(&bytes).is_err()
                            {
                                bytes.push(hex_byte(
                                    self.chars[self.at + 1],
                                    self.chars[self.at + 2],
                                ));
                                self.at += 3;
                            }
                            text.push_str(&String::from_utf8_lossy(&bytes));
                        }
                        _ => return Err(ParseError::Syntax(self.pos_of(self.at - 1))),
                    }
                }
                '$' => {
                    if !text.is_empty() {
                        parts.push(StrPart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(StrPart::Var(self.var_name()?));
                }
                _ => text.push(c),
            }
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(StrPart::Text(text));
        }
        Ok(Expr::Str(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        parse(src, Menu::Root).unwrap_err().to_string()
    }

    #[test]
    fn reports_routeros_errors_with_positions() {
        assert_eq!(err("/nosuch"), "bad command name nosuch (line 1 column 2)");
        assert_eq!(
            err("/ip firewall address-list add list=x foo=1"),
            "expected end of command (line 1 column 38)"
        );
        assert_eq!(err(":put \"abc"), "syntax error (line 1 column 10)");
        assert_eq!(
            err(":put 1\n/ip firewall nosuch"),
            "bad command name nosuch (line 2 column 14)"
        );
        assert_eq!(
            err(
                "/ip firewall address-list add list=x address=10.0.0.5 ; /system reset-configuration"
            ),
            "bad command name reset-configuration (line 1 column 65)"
        );
    }

    #[test]
    fn accepts_both_path_forms_and_nesting() {
        for src in [
            "/ip firewall address-list add list=x address=10.0.0.5",
            "/ip/firewall/address-list/add list=x address=10.0.0.5",
            "/ip firewall address-list\nadd list=x address=10.0.0.5",
            ":do { /ip firewall address-list add list=x address=1.2.3.4 } on-error={}",
            ":put [/ip firewall address-list print as-value where list=x and address=\"10.0.0.0/24\"]",
            "/ppp active remove [find name=\"alice\"]",
            ":put [/ppp secret get [find name=alice] comment]",
            ":local a \"x\\\"y\\$z\"; :put $a",
            ":put \"a\\3Bb\\0A\\7B\\D0\\B8\"",
        ] {
            assert!(parse(src, Menu::Root).is_ok(), "{src}");
        }
    }

    #[test]
    fn a_path_only_line_changes_the_menu() {
        let (_, menu) = parse("/ppp active", Menu::Root).unwrap();
        assert_eq!(menu, Menu::PppActive);
        let (_, menu) = parse("..", Menu::PppActive).unwrap();
        assert_eq!(menu, Menu::Ppp);
    }
}
