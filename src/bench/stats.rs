//! Percentiles of measured durations, the way the report states them:
//! nearest-rank on the sorted samples, in milliseconds with three decimals,
//! so a p99 is a value that was actually observed.

use std::time::Duration;

use serde_json::{Value, json};

/// Samples in milliseconds (lateness may be negative: early).
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }

    /// A signed sample: `later` minus `earlier` may be below zero.
    pub fn push_ms(&mut self, ms: f64) {
        self.0.push(ms);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Nearest-rank percentile; `None` without samples.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.clamp(1, sorted.len()) - 1])
    }

    pub fn max(&self) -> Option<f64> {
        self.0.iter().copied().max_by(f64::total_cmp)
    }

    /// `{"p50":…,"p95":…,"p99":…,"n":…}`
    pub fn p50_p95_p99(&self) -> Value {
        json!({
            "p50": ms(self.percentile(50.0)),
            "p95": ms(self.percentile(95.0)),
            "p99": ms(self.percentile(99.0)),
            "n": self.len(),
        })
    }

    /// `{"p50":…,"p99":…,"max":…,"n":…}`
    pub fn p50_p99_max(&self) -> Value {
        json!({
            "p50": ms(self.percentile(50.0)),
            "p99": ms(self.percentile(99.0)),
            "max": ms(self.max()),
            "n": self.len(),
        })
    }
}

/// Milliseconds rounded to microseconds; `null` when nothing was measured.
pub fn ms(value: Option<f64>) -> Value {
    value.map_or(Value::Null, |v| json!((v * 1000.0).round() / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_are_observed_values() {
        let mut s = Samples::default();
        for i in 1..=100 {
            s.push_ms(f64::from(i));
        }
        assert_eq!(s.percentile(50.0), Some(50.0));
        assert_eq!(s.percentile(99.0), Some(99.0));
        assert_eq!(s.percentile(100.0), Some(100.0));
        assert_eq!(s.max(), Some(100.0));
        let mut one = Samples::default();
        one.push_ms(-3.0);
        assert_eq!(one.percentile(99.0), Some(-3.0));
        assert_eq!(Samples::default().percentile(50.0), None);
        assert_eq!(Samples::default().p50_p99_max()["max"], Value::Null);
    }
}
