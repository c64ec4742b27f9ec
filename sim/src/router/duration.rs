//! RouterOS time values. The console accepts several spellings for the same
//! duration (`1w2d3h4m5s`, `00:30:00`, `1w2d03:04:05`) and prints them two
//! ways: compact (`4m52s`) in `print`, clock style (`00:04:52`) in `as-value`
//! and `get`. tgate must handle both, so the simulator must produce both.

use std::time::Duration;

/// Parses a RouterOS time value; `None` when RouterOS would reject it.
pub(crate) fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text == "none" || text == "never" {
        return Some(Duration::ZERO);
    }
    // The clock part (`HH:MM:SS`) may follow unit parts (`1w2d03:04:05`).
    let (units, clock) = match text.find(':') {
        Some(colon) => {
            let start = text[..colon]
                .rfind(|c: char| !c.is_ascii_digit())
                .map_or(0, |i| i + 1);
            (&text[..start], Some(&text[start..]))
        }
        None => (text, None),
    };
    let mut secs: u64 = 0;
    let mut number = String::new();
    for c in units.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        secs += n * match c {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
    }
    if !number.is_empty() {
        // A bare number is seconds, as in `timeout=30`.
        if clock.is_some() {
            return None;
        }
        secs += number.parse::<u64>().ok()?;
    }
    if let Some(clock) = clock {
        let parts: Vec<&str> = clock.split(':').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let h: u64 = parts[0].parse().ok()?;
        let m: u64 = parts[1].parse().ok()?;
        let s: u64 = parts[2].parse().ok()?;
        if m >= 60 || s >= 60 {
            return None;
        }
        secs += h * 3_600 + m * 60 + s;
    }
    Some(Duration::from_secs(secs))
}

/// `print` style: `1w2d3h4m5s`, `4m52s`, `0s`.
pub(crate) fn compact(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ('w', 604_800),
        ('d', 86_400),
        ('h', 3_600),
        ('m', 60),
        ('s', 1),
    ] {
        let n = secs / size;
        secs %= size;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

/// `as-value` / `get` style: `00:04:52`, `1w00:00:00`, `2d03:04:05`.
pub(crate) fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    let (w, rest) = (secs / 604_800, secs % 604_800);
    let (days, rest) = (rest / 86_400, rest % 86_400);
    let mut out = String::new();
    if w > 0 {
        out.push_str(&format!("{w}w"));
    }
    if days > 0 {
        out.push_str(&format!("{days}d"));
    }
    out.push_str(&format!(
        "{:02}:{:02}:{:02}",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    #[test]
    fn parses_every_documented_spelling() {
        assert_eq!(parse("30s"), secs(30));
        assert_eq!(parse("10m"), secs(600));
        assert_eq!(parse("1h"), secs(3_600));
        assert_eq!(parse("1d"), secs(86_400));
        assert_eq!(
            parse("1w2d3h4m5s"),
            secs(604_800 + 2 * 86_400 + 3 * 3_600 + 245)
        );
        assert_eq!(parse("00:30:00"), secs(1_800));
        assert_eq!(
            parse("1w2d03:04:04"),
            secs(604_800 + 2 * 86_400 + 3 * 3_600 + 244)
        );
        assert_eq!(parse("45"), secs(45));
        assert_eq!(parse("5x"), None);
        assert_eq!(parse("1:2"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn prints_both_styles() {
        assert_eq!(compact(Duration::from_secs(292)), "4m52s");
        assert_eq!(compact(Duration::from_secs(604_800)), "1w");
        assert_eq!(compact(Duration::ZERO), "0s");
        assert_eq!(clock(Duration::from_secs(15)), "00:00:15");
        assert_eq!(clock(Duration::from_secs(604_800)), "1w00:00:00");
        assert_eq!(
            clock(Duration::from_secs(2 * 86_400 + 3 * 3_600 + 245)),
            "2d03:04:05"
        );
    }
}
