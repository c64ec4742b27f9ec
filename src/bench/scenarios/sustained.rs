//! The highest connect rate tgate keeps up with: rates are tried in turn,
//! each held for a step, and a rate passes when every connect is answered
//! `202 pending`, every prompt is sent, and the p99 connect → prompt stays
//! under the bar. The first failing rate ends the climb.

use std::collections::HashMap;
use std::time::Duration;

use super::{achieved_rate, dials_for, fire, wait_until};
use crate::bench::args::BenchArgs;
use crate::bench::stats::Samples;
use crate::bench::system::System;

/// One rate tried.
#[derive(Debug)]
pub struct Step {
    pub rate: u32,
    /// What the driver actually managed.
    pub achieved: f64,
    pub connects: usize,
    pub refused: usize,
    pub unprompted: usize,
    pub p99_ms: Option<f64>,
    pub passed: bool,
}

#[derive(Debug, Default)]
pub struct Sustained {
    pub steps: Vec<Step>,
}

impl Sustained {
    /// Events per second of the highest passing step (the rate reached, not
    /// asked for, when the driver fell short).
    pub fn events_per_s(&self) -> f64 {
        self.steps
            .iter()
            .filter(|s| s.passed)
            .map(|s| s.achieved.min(f64::from(s.rate)))
            .fold(0.0, f64::max)
    }
}

pub async fn run(system: &System, args: &BenchArgs) -> anyhow::Result<Sustained> {
    let pool = system
        .enroll("sus-", args.sustained_accounts(), 3_000_000)
        .await?;
    let mut out = Sustained::default();
    for &rate in &args.sustained_rates {
        let n = ((f64::from(rate) * args.step.as_secs_f64()).ceil() as usize).clamp(1, pool.len());
        let accounts = &pool[..n];
        let (_, mut cursor) = system.sent_messages(0);
        let fired = fire(&system.router, dials_for(system, accounts), f64::from(rate)).await;

        let owners: HashMap<i64, usize> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.owner.id, i))
            .collect();
        let mut prompted = vec![None; n];
        wait_until(Duration::from_secs(5), || {
            let (sent, next) = system.sent_messages(cursor);
            cursor = next;
            for call in sent {
                if let Some(&i) = call.chat_id.as_ref().and_then(|c| owners.get(c)) {
                    prompted[i].get_or_insert(call.at);
                }
            }
            prompted.iter().all(Option::is_some)
        })
        .await;

        let mut latency = Samples::default();
        for (f, at) in fired.iter().zip(&prompted) {
            if let Some(at) = at {
                latency.push(at.saturating_duration_since(f.sent));
            }
        }
        let refused = fired.iter().filter(|f| f.status != Some(202)).count();
        let p99_ms = latency.percentile(99.0);
        let step = Step {
            rate,
            achieved: achieved_rate(&fired),
            connects: n,
            refused,
            unprompted: n - latency.len(),
            p99_ms,
            passed: refused == 0
                && latency.len() == n
                && p99_ms.is_some_and(|p| p < args.sustained_p99.as_secs_f64() * 1000.0),
        };
        let passed = step.passed;
        out.steps.push(step);
        hang_up(system, accounts.iter().map(|a| a.name.clone()).collect()).await;
        if !passed {
            break;
        }
        // The next step starts once tgate has worked off this one (its
        // down events, the edits of the closed prompts), as each scenario
        // does: a step measures its own rate, not what the one before left
        // behind, and a rate's verdict does not hang on which rates came
        // before it.
        system.settle().await?;
    }
    Ok(out)
}

/// Every client of the step hangs up (down events), so the accounts are
/// free for the next step. A session that already expired is gone; that is
/// fine.
async fn hang_up(system: &System, names: Vec<String>) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in names.chunks(names.len().div_ceil(32).max(1)) {
        let (router, chunk) = (system.router.clone(), chunk.to_vec());
        tasks.spawn(async move {
            for name in chunk {
                let _ = router.disconnect_ppp(&name).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
