//! The ban policy's arithmetic (SPEC §5), kept pure so it is tested alone.

use std::time::Duration;

/// How long a ban lasts when the address has been banned `previous` times
/// before: `base`, doubling for each earlier ban, never more than `max`.
pub fn ban_length(base: Duration, max: Duration, previous: i64) -> Duration {
    let doublings = u32::try_from(previous.max(0)).unwrap_or(u32::MAX).min(63);
    base.checked_mul(1u32.checked_shl(doublings).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_double_per_repeat_up_to_the_maximum() {
        let hour = Duration::from_secs(3600);
        let week = Duration::from_secs(7 * 24 * 3600);
        let lengths: Vec<u64> = (0..10)
            .map(|n| ban_length(hour, week, n).as_secs() / 3600)
            .collect();
        assert_eq!(lengths, [1, 2, 4, 8, 16, 32, 64, 128, 168, 168]);
        assert_eq!(ban_length(hour, week, i64::MAX), week);
        assert_eq!(ban_length(hour, week, -1), hour);
    }
}
