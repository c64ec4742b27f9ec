//! Running expiry jobs, and the sweep behind them.
//!
//! A job sleeps until its session's deadline, then asks the gate to expire
//! the session. The gate's conditional transition decides: a session already
//! confirmed, denied or closed stays as it is, and of two workers (or a job
//! and the sweep) racing on one session exactly one expires it.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data};
use chrono::Utc;
use tgate_core::gate::Gate;
use tracing::{info, warn};

use crate::queue::ExpiryJob;

/// The sweep expires pending sessions this long past their deadline: their
/// job was lost (a crash between the session's insert and the job's push) or
/// is badly late.
pub(crate) const SWEEP_GRACE: Duration = Duration::from_secs(2);
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(2);
const SWEEP_BATCH: i64 = 200;

/// The apalis handler.
pub(crate) async fn run_job(job: ExpiryJob, gate: Data<Arc<Gate>>) -> Result<(), BoxDynError> {
    let wait = (job.deadline() - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let span = tracing::info_span!("expiry", session = %job.session);
    let _enter = span.enter();
    if let Some(s) = gate.expire(job.session).await? {
        let late = (Utc::now() - s.deadline).num_milliseconds();
        info!(late_ms = late, "session expired at its deadline");
    }
    Ok(())
}

/// Expires every pending session whose deadline passed more than
/// [`SWEEP_GRACE`] ago. Returns how many this call expired.
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
