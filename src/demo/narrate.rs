//! How the demo talks: one line per step with the time the step took, the
//! chat messages a user would see quoted beneath it, and the router's lists
//! as RouterOS would show them. Kept apart from the stories so they read as
//! what happens, not as formatting.

use std::time::Duration;

use tgate_sim::{SimEntry, SimMessage};

/// Prints to standard output; the narration is the demo's output.
#[derive(Default)]
pub struct Narrator;

impl Narrator {
    pub fn title(&self, text: &str) {
        println!("{text}");
    }

    /// A story's heading.
    pub fn story(&self, number: usize, title: &str) {
        println!();
        println!("── Story {number}: {title} ──");
    }

    /// One step and how long it took, from the action to what was observed.
    pub fn step(&self, took: Duration, text: &str) {
        println!("[{:>8}] {text}", elapsed(took));
    }

    /// A line about the setting, with no time of its own.
    pub fn note(&self, text: &str) {
        println!("{:10} {text}", "");
    }

    /// A chat message as the user sees it, buttons included.
    pub fn message(&self, m: &SimMessage) {
        for line in m.text.lines() {
            println!("{}", format!("{:12}│ {line}", "").trim_end());
        }
        for row in &m.buttons {
            let labels: Vec<_> = row.iter().map(|b| format!("[ {} ]", b.text)).collect();
            println!("{:12}│ {}", "", labels.join(" "));
        }
    }

    /// The story ended as expected.
    pub fn outcome(&self, text: &str) {
        println!("{:10} ✔ {text}", "");
    }
}

/// `12 ms` below a second, `3.04 s` above.
pub fn elapsed(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// A list's entries as `/ip firewall address-list print` would sum them up:
/// the address and, for a dynamic entry, the time it has left.
pub fn list(entries: &[SimEntry]) -> String {
    if entries.is_empty() {
        return "(empty)".to_owned();
    }
    let shown: Vec<_> = entries
        .iter()
        .map(|e| match e.timeout {
            Some(left) => format!("{} (timeout {})", e.address, clock(left)),
            None => e.address.clone(),
        })
        .collect();
    shown.join(", ")
}

/// RouterOS's way of writing a time left: `59m59s`, `1h`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_naturally() {
        assert_eq!(elapsed(Duration::from_millis(12)), "12 ms");
        assert_eq!(elapsed(Duration::from_millis(3041)), "3.04 s");
        assert_eq!(clock(Duration::from_secs(3599)), "59m59s");
        assert_eq!(clock(Duration::from_secs(3600)), "1h");
        assert_eq!(clock(Duration::ZERO), "0s");
    }
}
