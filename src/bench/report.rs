//! The benchmark's results as one JSON document (the keys are a contract:
//! scripts compare runs with them) or as a table for people.

use serde_json::{Value, json};

use super::scenarios::expiry::Expiry;
use super::scenarios::latency::Latency;
use super::scenarios::storm::Storm;
use super::scenarios::sustained::Sustained;
use super::stats::ms;

pub struct Report {
    pub database: &'static str,
    pub latency: Latency,
    pub expiry: Expiry,
    pub sustained: Sustained,
    pub storm: Storm,
    pub peak_rss_mb: Option<f64>,
    pub simulators_rss_mb: Option<f64>,
}

impl Report {
    pub fn json(&self) -> Value {
        let s = &self.storm;
        json!({
            "database": self.database,
            "connect_to_prompt_ms": self.latency.connect_to_prompt.p50_p95_p99(),
            "confirm_to_permit_ms": self.latency.confirm_to_permit.p50_p95_p99(),
            "expiry_lateness_ms": self.expiry.lateness.p50_p99_max(),
            "sustained_events_per_s": self.sustained.events_per_s().round(),
            "storm": {
                "events": s.events,
                "callers": s.callers,
                "accounts": s.accounts,
                "lost": s.lost,
                "prompts_max_per_account": s.prompts_max_per_account,
                "bans_expected": s.bans_expected,
                "bans_applied": s.bans_applied,
                "ban_delay_ms_max": ms(s.ban_delay_ms_max),
            },
            "peak_rss_mb": self.peak_rss_mb,
            "simulators_rss_mb": self.simulators_rss_mb,
        })
    }

    pub fn table(&self) -> String {
        let j = self.json();
        let f = |v: &Value| match v {
            Value::Null => "–".to_owned(),
            v => v.to_string(),
        };
        let row3 = |name: &str, v: &Value| {
            format!(
                "{name:<28} p50 {:>9}  p95 {:>9}  p99 {:>9}  (n = {})\n",
                f(&v["p50"]),
                f(&v["p95"]),
                f(&v["p99"]),
                f(&v["n"])
            )
        };
        let mut out = format!("tgate bench on {}\n\n", self.database);
        out += &row3("connect → prompt (ms)", &j["connect_to_prompt_ms"]);
        out += &row3("confirm → permit (ms)", &j["confirm_to_permit_ms"]);
        let e = &j["expiry_lateness_ms"];
        out += &format!(
            "{:<28} p50 {:>9}  p99 {:>9}  max {:>9}  (n = {})\n",
            "expiry lateness (ms)",
            f(&e["p50"]),
            f(&e["p99"]),
            f(&e["max"]),
            f(&e["n"])
        );
        let l = &self.latency;
        if l.refused + l.unprompted + l.unpermitted + self.expiry.not_expired > 0 {
            out += &format!(
                "  not 202: {}, no prompt: {}, no permit: {}, not expired: {}\n",
                l.refused, l.unprompted, l.unpermitted, self.expiry.not_expired
            );
        }
        out += &format!(
            "\nsustained events/s           {}\n",
            f(&j["sustained_events_per_s"])
        );
        for step in &self.sustained.steps {
            out += &format!(
                "  {:>6}/s (achieved {:>7.0}/s): {} connects, {} not 202, {} no prompt, p99 {} ms  {}\n",
                step.rate,
                step.achieved,
                step.connects,
                step.refused,
                step.unprompted,
                f(&ms(step.p99_ms)),
                if step.passed { "pass" } else { "FAIL" }
            );
        }
        let s = &self.storm;
        let answers: Vec<String> = s.answers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        out += &format!(
            "\nstorm                        {} events, {} callers, {} accounts\n  \
             answers {}\n  \
             lost {}  (unanswered {}), prompts per account at most {}\n  \
             bans expected {}, applied {} (unexpected {}), slowest ban {} ms after its strike\n",
            s.events,
            s.callers,
            s.accounts,
            answers.join(", "),
            s.lost,
            s.unanswered,
            s.prompts_max_per_account,
            s.bans_expected,
            s.bans_applied,
            s.bans_unexpected,
            f(&ms(s.ban_delay_ms_max)),
        );
        out += &format!(
            "\npeak RSS, tgate (api + watcher + worker)   {} MB\n\
             peak RSS, simulators + load driver         {} MB\n",
            f(&j["peak_rss_mb"]),
            f(&j["simulators_rss_mb"])
        );
        out
    }
}
