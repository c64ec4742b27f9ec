//! The parsed form of a RouterOS script. RouterOS compiles a whole script
//! before running any of it, so a typo anywhere means nothing runs; keeping
//! parsing and running apart gives the simulator the same behaviour.

use super::menu::{Cmd, Menu};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Stmt {
    /// A line that is only a menu path: later commands run there.
    SetMenu,
    Command(Command),
    Put(Option<Expr>),
    Do {
        body: Vec<Stmt>,
        on_error: Option<Vec<Stmt>>,
    },
    /// `:onerror e in={ … } do={ … }` (v7.13+): the handler sees the message in `$e`.
    OnError {
        var: String,
        body: Vec<Stmt>,
        handler: Vec<Stmt>,
    },
    /// `:local`, `:global` and `:set` all just bind a name here.
    Assign {
        name: String,
        value: Option<Expr>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub menu: Menu,
    pub cmd: Cmd,
    pub named: Vec<(String, Expr)>,
    pub flags: Vec<String>,
    pub positional: Vec<Expr>,
    /// `where …` for print, the whole argument list for find.
    pub cond: Option<Cond>,
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// A bare word; `quoted` matters for RouterOS's typed comparisons.
    Lit {
        text: String,
        quoted: bool,
    },
    /// A `"…"` string with `$var` parts.
    Str(Vec<StrPart>),
    Var(String),
    Sub(Vec<Stmt>),
    Concat(Vec<Expr>),
}

#[derive(Debug, Clone)]
pub(crate) enum StrPart {
    Text(String),
    Var(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Match,
}

#[derive(Debug, Clone)]
pub(crate) enum Cond {
    All,
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    /// A bare boolean property (`where dynamic`).
    Flag(String),
    Cmp {
        key: String,
        op: Op,
        value: Expr,
    },
}

/// A compile-time error, worded as RouterOS words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    Syntax(Pos),
    BadCommand(String, Pos),
    ExpectedEnd(Pos),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Syntax(p) => write!(f, "syntax error (line {} column {})", p.line, p.col),
            ParseError::BadCommand(w, p) => {
                write!(f, "bad command name {w} (line {} column {})", p.line, p.col)
            }
            ParseError::ExpectedEnd(p) => {
                write!(
                    f,
                    "expected end of command (line {} column {})",
                    p.line, p.col
                )
            }
        }
    }
}
