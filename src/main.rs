//! The `tgate` binary: the all-in-one server and the admin CLI. It only
//! parses arguments and wires the libraries together.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tgate_core::config::Config;
use tgate_core::gate::{Gate, ssh_gateways};

#[derive(Parser)]
#[command(
    name = "tgate",
    version,
    about = "Telegram second factor for MikroTik VPN logins"
)]
struct Cli {
    /// Configuration file [default: $TGATE_CONFIG, else ./tgate.toml]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run tgate in one process (today: the HTTP API for router events)
    Serve,
    /// Check the configuration and list every problem with its key
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!(
                "tgate: the configuration has {} problem(s):",
                errors.problems.len()
            );
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::CheckConfig => {
            println!(
                "configuration OK: {} router(s), database {}",
                config.routers.len(),
                config.database.url
            );
            ExitCode::SUCCESS
        }
        Command::Serve => {
            init_tracing();
            let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
            match runtime.block_on(serve(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    tracing::error!(error = ?err, "tgate stopped");
                    eprintln!("tgate: {err:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let store = tgate_core::storage::open(config.database.url.expose())
        .await
        .with_context(|| format!("opening database {}", config.database.url))?;
    let names: Vec<_> = config.routers.iter().map(|r| r.name.clone()).collect();
    store
        .sync_routers(&names)
        .await
        .context("recording routers")?;
    let gate = Arc::new(Gate::new(store, config.clone(), ssh_gateways(&config)));
    let state = tgate_api::ApiState::new(gate).await?;
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        routers = config.routers.len(),
        database = %config.database.url,
        "tgate api serving"
    );
    tgate_api::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("tgate stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM (what docker and systemd send).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
