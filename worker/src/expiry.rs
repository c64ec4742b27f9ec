//! Running expiry jobs, and the sweep behind them.
//!
//! A job hands its session and deadline to the worker's [`Deadlines`] and is
//! finished; at the deadline the gate is asked to expire the session. The
//! gate's conditional transition decides: a session already confirmed,
//! denied or closed stays as it is, and of two workers (or a job and the
//! sweep) racing on one session exactly one expires it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data};
use chrono::Utc;
use tgate_core::domain::SessionId;
use tgate_core::gate::Gate;
use tokio::sync::mpsc;
use tracing::{Instrument as _, info, warn};

use crate::queue::ExpiryJob;

/// The sweep expires pending sessions this long past their deadline: their
/// job was lost (a crash between the session's insert and the job's push) or
/// is badly late.
pub(crate) const SWEEP_GRACE: Duration = Duration::from_secs(2);
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(2);
const SWEEP_BATCH: i64 = 200;

/// The apalis handler: the job's deadline is this worker's to keep now.
pub(crate) async fn run_job(job: ExpiryJob, deadlines: Data<Deadlines>) -> Result<(), BoxDynError> {
    deadlines.hold(&job)
}

/// The sessions this worker will expire, each at its deadline.
///
/// A job falls due [`EXPIRY_LEAD`](tgate_core::gate::EXPIRY_LEAD) before its
/// deadline, because the queue keeps due times in whole seconds. Waiting
/// those seconds inside the job kept one of apalis's running tasks alive per
/// session, about 3 kB each: thousands at once under load, and the largest
/// part of tgate's memory at its peak. Held here a session costs a deadline
/// and an id. A worker that dies holds them only in memory; the sweep
/// expires what it held, [`SWEEP_GRACE`] after each deadline, as it does for
/// a job that was never queued.
#[derive(Clone)]
pub(crate) struct Deadlines(mpsc::UnboundedSender<(i64, SessionId)>);

impl Deadlines {
    /// Starts timing; it stops, dropping what it holds, when `stopped` completes.
    pub(crate) fn start(
        gate: Arc<Gate>,
        stopped: impl Future<Output = ()> + Send + 'static,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(tx), tokio::spawn(keep_deadlines(gate, rx, stopped)))
    }

    /// Takes over `job`. Fails only once the worker is stopping, so the job
    /// stays in the queue for the next one.
    fn hold(&self, job: &ExpiryJob) -> Result<(), BoxDynError> {
        self.0
            .send((job.deadline_ms, job.session))
            .map_err(|_| "the worker is stopping".into())
    }
}

/// Sessions taken from the channel at once.
const TAKE: usize = 256;

/// Deadlines are kept on a grid of this step: the sessions whose deadlines
/// fall in one step are expired together at its end, so a steady stream of
/// deadlines costs a timer wake-up and a few grouped writes per step
/// rather than one of each per session. No session expires early, and none
/// more than a step late for the grid's sake.
const EXPIRY_STEP_MS: i64 = 10;

/// When the session with `deadline` (ms) is expired: the end of its step.
fn expires_at(deadline: i64) -> i64 {
    deadline + (EXPIRY_STEP_MS - deadline.rem_euclid(EXPIRY_STEP_MS)) % EXPIRY_STEP_MS
}

async fn keep_deadlines(
    gate: Arc<Gate>,
    mut jobs: mpsc::UnboundedReceiver<(i64, SessionId)>,
    stopped: impl Future<Output = ()>,
) {
    let mut waiting: BinaryHeap<Reverse<(i64, SessionId)>> = BinaryHeap::new();
    let mut taken = Vec::with_capacity(TAKE);
    tokio::pin!(stopped);
    loop {
        // Until the end of the earliest deadline's step, if any.
        let wait = waiting.peek().map(|Reverse((deadline, _))| {
            let left = expires_at(*deadline) - Utc::now().timestamp_millis();
            Duration::from_millis(left.max(0) as u64)
        });
        tokio::select! {
            _ = &mut stopped => return,
            n = jobs.recv_many(&mut taken, TAKE) => {
                if n == 0 {
                    return;
                }
                waiting.extend(taken.drain(..).map(Reverse));
            }
            _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {
                let now = Utc::now().timestamp_millis();
                while let Some(&Reverse((deadline, session))) = waiting.peek() {
                    if deadline > now {
                        break;
                    }
                    waiting.pop();
                    tokio::spawn(expire(gate.clone(), session));
                }
            }
        }
    }
}

/// Expires `session`, whose deadline has come. A failure is left to the
/// sweep, which tries again [`SWEEP_GRACE`] after the deadline.
async fn expire(gate: Arc<Gate>, session: SessionId) {
    let span = tracing::info_span!("expiry", session = %session);
    async move {
        match gate.expire(session).await {
            Ok(Some(s)) => {
                let late = (Utc::now() - s.deadline).num_milliseconds();
                info!(late_ms = late, "session expired at its deadline");
            }
            Ok(None) => {}
            Err(e) => warn!(error = %e, "expiry failed; the sweep will try again"),
        }
    }
    .instrument(span)
    .await
}

/// Expires every pending session whose deadline passed more than
/// `SWEEP_GRACE` (2 s) ago. Returns how many this call expired.
pub async fn sweep(gate: &Arc<Gate>) -> anyhow::Result<usize> {
    let before = Utc::now() - chrono::Duration::from_std(SWEEP_GRACE).unwrap_or_default();
    let mut expired = 0;
    loop {
        let due = gate.store().pending_due(before, SWEEP_BATCH).await?;
        let full = due.len() as i64 == SWEEP_BATCH;
        for s in due {
            match gate.expire(s.id).await {
                Ok(Some(_)) => {
                    expired += 1;
                    warn!(session = %s.id, deadline = %s.deadline, "overdue session expired by the sweep");
                }
                Ok(None) => {}
                Err(e) => warn!(session = %s.id, error = %e, "sweep could not expire"),
            }
        }
        if !full {
            return Ok(expired);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_in_one_step_expire_together_and_none_early() {
        let step = EXPIRY_STEP_MS;
        let start = 1_795_000_000_000 - 1_795_000_000_000 % step;
        // On the grid: not delayed.
        assert_eq!(expires_at(start), start);
        // Within one step: together, at its end.
        for deadline in start + 1..start + step {
            assert_eq!(expires_at(deadline), start + step, "deadline {deadline}");
        }
        assert_eq!(expires_at(start + step + 1), start + 2 * step);
        // Never before the deadline, never a step or more after it.
        for deadline in start - 3 * step..start + 3 * step {
            let at = expires_at(deadline);
            assert!(
                at >= deadline && at - deadline < step,
                "deadline {deadline} at {at}"
            );
        }
    }
}
