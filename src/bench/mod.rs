//! `tgate bench`: the whole product (api, watcher and worker as one child
//! process) against both simulators on loopback, driven through the
//! scenarios that matter to an operator — how fast a prompt comes, how fast
//! "It's me" lets the client in, how punctually silence cuts it off, how
//! many connects per second it keeps up with, and whether a storm of
//! connects loses anything or bans the wrong callers — with tgate's own
//! peak memory reported apart from the simulators'.

mod args;
mod database;
mod report;
mod scenarios;
mod stats;
mod system;

use std::process::ExitCode;

use anyhow::Context;

pub use args::BenchArgs;
use report::Report;
use system::System;

/// Runs the benchmark and prints the report (JSON with `json`).
pub fn main(args: BenchArgs, json: bool) -> ExitCode {
    let outcome = args.check().and_then(|()| {
        tokio::runtime::Runtime::new()
            .context("starting the async runtime")?
            .block_on(run(&args))
    });
    match outcome {
        Ok(report) => {
            if json {
                println!("{}", report.json());
            } else {
                print!("{}", report.table());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tgate bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let system = System::start(args).await?;
    let measured = measure(&system, args).await;
    let peak_rss_mb = system.tgate_peak_rss_mb();
    let log = system.log_tail();
    let database = system.database.kind;
    system.stop().await?;
    let (latency, expiry, sustained, storm) =
        measured.with_context(|| format!("tgate's log ends:\n{log}"))?;
    Ok(Report {
        database,
        latency,
        expiry,
        sustained,
        storm,
        peak_rss_mb,
        simulators_rss_mb: system::own_peak_rss_mb(),
    })
}

type Measured = (
    scenarios::latency::Latency,
    scenarios::expiry::Expiry,
    scenarios::sustained::Sustained,
    scenarios::storm::Storm,
);

/// The scenarios in turn; each uses its own accounts and callers, so what
/// one leaves behind (pending sessions, strikes) does not touch the next,
/// and each starts once tgate has worked off the one before.
async fn measure(system: &System, args: &BenchArgs) -> anyhow::Result<Measured> {
    system.ban_bystanders(args.bans).await?;
    system
        .database
        .store_history(args.history, args.connects)
        .await?;
    let latency = scenarios::latency::run(system, args)
        .await
        .context("connect → prompt and confirm → permit")?;
    system.settle().await?;
    let expiry = scenarios::expiry::run(system, args)
        .await
        .context("expiry")?;
    system.settle().await?;
    let sustained = scenarios::sustained::run(system, args)
        .await
        .context("sustained rate")?;
    system.settle().await?;
    let storm = scenarios::storm::run(system, args).await.context("storm")?;
    Ok((latency, expiry, sustained, storm))
}
