//! tgate's worker (SPEC §1, §4–§6): it expires pending sessions at their
//! deadline from an apalis job queue kept in tgate's own database, sweeps up
//! any session whose job was lost, and reconciles every router's address
//! lists with the database at start and every `reconcile_interval`.
//!
//! The API process queues the jobs through [`scheduler`]; the worker process
//! (or the same process, for `tgate serve`) runs them with [`run`].

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use apalis::prelude::{BackendExt, WorkerBuilder, WorkerBuilderExt};
use tgate_core::config::Config;
use tgate_core::gate::Gate;
use tokio::sync::watch;
use tracing::{info, warn};

mod expiry;
mod queue;
mod retry;

pub use expiry::sweep;
pub use queue::{ExpiryJob, JobQueue, QueueScheduler, prune, scheduler};
pub use retry::{RetryingGateway, retrying_gateways};

/// Expiry jobs one worker runs at once. A job only hands its deadline over
/// (see [`expiry::Deadlines`]), so this bounds a burst's hand-offs, not the
/// sessions waiting for their deadlines.
const CONCURRENCY: usize = 1_024;

/// Runs the worker until `shutdown` completes: the expiry jobs, the overdue
/// sweep and the reconciler. `gate` should use [`retrying_gateways`].
pub async fn run(
    gate: Arc<Gate>,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let queue = JobQueue::open(gate.store()).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    // Whatever a crash left behind first, then on a timer.
    match sweep(&gate).await {
        Ok(0) => {}
        Ok(n) => info!(expired = n, "overdue sessions expired at start"),
        Err(e) => warn!(error = %e, "sweep failed"),
    }
    let sweeper = tokio::spawn({
        let gate = gate.clone();
        let stopped = stopped();
        async move {
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(expiry::SWEEP_EVERY) => {}
                }
                if let Err(e) = sweep(&gate).await {
                    warn!(error = %e, "sweep failed");
                }
                match queue::prune(gate.store()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(deleted = n, "finished expiry jobs pruned"),
                    Err(e) => warn!(error = %e, "pruning finished jobs failed"),
                }
            }
        }
    });
    let reconciler = tokio::spawn({
        let gate = gate.clone();
        let every = config.worker.reconcile_interval;
        let stopped = stopped();
        async move {
            tokio::pin!(stopped);
            loop {
                reconcile_all(&gate).await;
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        }
    });

    let name = format!("tgate-worker-{}", uuid::Uuid::now_v7().simple());
    info!(worker = %name, "worker running");
    let until = {
        let stopped = stopped();
        async move {
            stopped.await;
            Ok::<(), std::io::Error>(())
        }
    };
    let (deadlines, timer) = expiry::Deadlines::start(gate.clone(), stopped());
    // The same worker over either backend; the two storage types share no
    // trait a generic function could name without apalis's long bounds.
    macro_rules! run_jobs {
        ($storage:expr) => {
            WorkerBuilder::new(name.as_str())
                .backend($storage.poll_with_strategy(queue::EveryPoll::new()))
                .concurrency(CONCURRENCY)
                .data(deadlines)
                .build(expiry::run_job)
                .run_until(until)
                .await
        };
    }
    let jobs = tokio::spawn(async move {
        match queue {
            JobQueue::Sqlite(storage) => run_jobs!(storage),
            JobQueue::Postgres(storage) => run_jobs!(storage),
        }
    });
    shutdown.await;
    info!("worker stopping");
    let _ = stop_tx.send(true);
    let result = jobs.await.context("expiry jobs task")?;
    let _ = sweeper.await;
    let _ = reconciler.await;
    let _ = timer.await;
    result.context("expiry jobs")?;
    Ok(())
}

/// One reconciliation pass over every router; failures are logged, and the
/// next pass tries again.
pub async fn reconcile_all(gate: &Gate) {
    for router in gate.routers() {
        let name = &router.config.name;
        match gate.reconcile(name).await {
            Ok(report) => tracing::debug!(router = %name, ?report, "reconciled"),
            Err(e) => warn!(router = %name, error = %e, "reconcile failed"),
        }
    }
}

/// The worker on its own, from the configuration alone: opens the database,
/// builds a gate whose router calls retry, and runs until `shutdown`. It
/// sends no Telegram messages (prompts are edited by whoever has the bot);
/// `tgate worker` builds its gate with Telegram and calls [`run`].
pub async fn run_standalone(
    config: Arc<Config>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = tgate_core::storage::open(config.database.url.as_str())
        .await
        .context("open the database")?;
    let names: Vec<_> = config.routers.iter().map(|r| r.name.clone()).collect();
    store.sync_routers(&names).await?;
    let gateways = retrying_gateways(&config, &store);
    let gate = Arc::new(Gate::new(store, config.clone(), gateways));
    run(gate, &config, shutdown).await
}
