//! What is wrong with a configuration. Loading never stops at the first
//! mistake: every problem is collected with the key it concerns, so one run
//! of `tgate check-config` shows an operator everything to fix.

use std::fmt;

/// One mistake, tied to the key it concerns: a dotted path such as
/// `policy.confirm_timeout`, `routers[office].host_key` (a router with a valid
/// name) or `routers[1].name` (zero-based index, when the name itself is
/// unusable), or the environment variable that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found in one configuration. Displays one `key: message`
/// line per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub problems: Vec<Problem>,
}

impl ConfigErrors {
    /// Whether some problem concerns exactly this key.
    pub fn has(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.key == key)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<Vec<Problem>> for ConfigErrors {
    fn from(problems: Vec<Problem>) -> Self {
        Self { problems }
    }
}

/// The known word closest to `word`, if it is close enough to be a likely
/// typo (`confirm-timeout`, `max_strike`, `sandbox_lst`).
pub(super) fn did_you_mean<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let word = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&word, k), *k))
        .filter(|(distance, k)| *distance <= (k.len() / 3).clamp(1, 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            row.push(substitute.min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let known = ["confirm_timeout", "max_strikes", "ban_time", "ban_time_max"];
        assert_eq!(
            did_you_mean("confirm-timeout", &known),
            Some("confirm_timeout")
        );
        assert_eq!(did_you_mean("max_strike", &known), Some("max_strikes"));
        assert_eq!(did_you_mean("ban_tim", &known), Some("ban_time"));
        assert_eq!(did_you_mean("listen", &known), None);
    }

    #[test]
    fn displays_one_line_per_problem() {
        let errors = ConfigErrors::from(vec![
            Problem::new("policy.max_strikes", "must be at least 1"),
            Problem::new(
                "routers[office].port",
                "expected an integer, found a string",
            ),
        ]);
        assert_eq!(
            errors.to_string(),
            "policy.max_strikes: must be at least 1\n\
             routers[office].port: expected an integer, found a string"
        );
        assert!(errors.has("policy.max_strikes"));
    }
}
