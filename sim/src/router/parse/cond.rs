//! `where` and `find` conditions: `key=value`, `key!=value`, `key~"regex"`,
//! bare boolean properties, `!`, parentheses, `and`/`or` (also `&&`/`||`),
//! and juxtaposed terms, which RouterOS reads as "and". Property names are
//! checked against the menu, so a typo fails as it would on a router.

use super::super::ast::{Cond, Op, ParseError};
use super::super::menu::Menu;
use super::{Parser, is_word};

impl Parser {
    pub(super) fn cond(&mut self, menu: Menu) -> Result<Cond, ParseError> {
        self.blanks();
        if self.at_stmt_end() || self.peek() == Some(')') {
            return Ok(Cond::All);
        }
        self.or(menu)
    }

    fn keyword(&mut self, words: &[&str]) -> bool {
        self.blanks();
        for w in words {
            let n = w.chars().count();
            let here: String = self.chars[self.at..(self.at + n).min(self.chars.len())]
                .iter()
                .collect();
            let boundary = self
                .peek_at(n)
                .is_none_or(|c| !is_word(c) || !w.starts_with(char::is_alphabetic));
            if here == *w && boundary {
                self.at += n;
                return true;
            }
        }
        false
    }

    fn or(&mut self, menu: Menu) -> Result<Cond, ParseError> {
        let mut left = self.and(menu)?;
        while self.keyword(&["or", "||"]) {
            let right = self.and(menu)?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, menu: Menu) -> Result<Cond, ParseError> {
        let mut left = self.unary(menu)?;
        loop {
            let save = self.at;
            if self.keyword(&["and", "&&"]) {
                let right = self.unary(menu)?;
                left = Cond::And(Box::new(left), Box::new(right));
                continue;
            }
            self.at = save;
            self.blanks();
            // Juxtaposed terms (`find list=x address=y`) also mean "and".
            let save = self.at;
            if self.at_stmt_end() || self.peek() == Some(')') || self.keyword(&["or", "||"]) {
                self.at = save;
                return Ok(left);
            }
            let right = self.unary(menu)?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self, menu: Menu) -> Result<Cond, ParseError> {
        self.blanks();
        match self.peek() {
            Some('!') => {
                self.at += 1;
                Ok(Cond::Not(Box::new(self.unary(menu)?)))
            }
            Some('(') => {
                self.at += 1;
                let inner = self.cond(menu)?;
                self.blanks();
                if self.peek() != Some(')') {
                    return Err(self.syntax());
                }
                self.at += 1;
                Ok(inner)
            }
            _ => self.term(menu),
        }
    }

    fn term(&mut self, menu: Menu) -> Result<Cond, ParseError> {
        let start = self.at;
        let key = self.word();
        if key.is_empty() {
            return Err(self.syntax());
        }
        if !menu.properties().contains(&key.as_str()) {
            return Err(ParseError::ExpectedEnd(self.pos_of(start)));
        }
        let op = match (self.peek(), self.peek_at(1)) {
            (Some('!'), Some('=')) => {
                self.at += 2;
                Op::Ne
            }
            (Some('='), _) => {
                self.at += 1;
                Op::Eq
            }
            (Some('~'), _) => {
                self.at += 1;
                Op::Match
            }
            _ => return Ok(Cond::Flag(key)),
        };
        let value = self.value(menu)?;
        Ok(Cond::Cmp { key, op, value })
    }
}
