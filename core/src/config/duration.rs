//! Durations as operators write them in `tgate.toml`: `90s`, `10m`, `1h`,
//! `1w`, `500ms`, or compounds like `1h30m`. A bare number is refused on
//! purpose: `timeout = 10` could mean seconds or minutes, and guessing wrong
//! silently would change who gets banned and for how long.

use std::time::Duration;

/// Units from largest to smallest, with their length in milliseconds.
const UNITS: [(&str, u64); 6] = [
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses `90s`, `10m`, `1h`, `1d`, `1w`, `500ms` and compounds such as
/// `1h30m` (units largest first, each at most once). Refuses an empty
/// string, a number without a unit, an unknown unit, signs and fractions.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const HINT: &str = "write a number with a unit: ms, s, m, h, d, w (e.g. \"90s\", \"1h30m\")";
    let text = s.trim();
    if text.is_empty() {
        return Err(format!("empty duration; {HINT}"));
    }
    let mut rest = text;
    let mut total: u64 = 0;
    // Index into UNITS of the last unit seen, so `30m1h` and `1h1h` are refused.
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!("{text:?} is not a duration; {HINT}"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() && rest.is_empty() {
            return Err(format!("{text:?} has no unit; {HINT}"));
        }
        if unit.is_empty() {
            return Err(format!("{text:?} is not a duration; {HINT}"));
        }
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!("unknown unit {unit:?} in {text:?}; {HINT}"));
        };
        if last_unit.is_some_and(|last| index <= last) {
            return Err(format!(
                "units in {text:?} must go from largest to smallest, each once (e.g. \"1h30m\")"
            ));
        }
        last_unit = Some(index);
        total = number
            .checked_mul(UNITS[index].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("{text:?} is too large"))?;
    }
    Ok(Duration::from_millis(total))
}

/// The inverse of [`parse_duration`] for whole milliseconds: 5400 s is
/// `"1h30m"`, zero is `"0s"`. Anything below a millisecond is dropped.
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (name, len) in UNITS {
        let count = ms / len;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(name);
            ms -= count * len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit_and_compounds() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("90s", Duration::from_secs(90)),
            ("10m", Duration::from_secs(600)),
            ("1h", Duration::from_secs(3600)),
            ("1d", Duration::from_secs(86_400)),
            ("1w", Duration::from_secs(604_800)),
            ("1h30m", Duration::from_secs(5400)),
            ("1w2d3h4m5s6ms", Duration::from_millis(788_645_006)),
            ("0s", Duration::ZERO),
            (" 60s ", Duration::from_secs(60)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in [
            "",
            "  ",
            "10",
            "1x",
            "-1s",
            "+1s",
            "1.5h",
            "h",
            "1h 30m",
            "30m1h",
            "1h1h",
            "s10",
            "1sms",
            "99999999999999999999s",
            "99999999999999w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn errors_say_what_to_write() {
        let err = parse_duration("10").unwrap_err();
        assert!(err.contains("no unit"), "{err}");
        let err = parse_duration("1x").unwrap_err();
        assert!(err.contains("unknown unit \"x\""), "{err}");
    }

    #[test]
    fn format_is_the_inverse_of_parse() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(format_duration(Duration::from_secs(604_800)), "1w");
        for text in ["500ms", "1m30s", "1h30m", "1w2d3h4m5s6ms", "3d", "0s"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(format_duration(parsed), text);
            assert_eq!(parse_duration(&format_duration(parsed)), Ok(parsed));
        }
        for ms in [1, 59_999, 60_000, 3_600_001, 987_654_321] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
