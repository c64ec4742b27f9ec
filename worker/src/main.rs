//! `tgate-worker [--config PATH]`: the worker alone, as its own process. It
//! reads the configuration like `tgate` does and runs until SIGTERM or
//! Ctrl-C. Everything else is in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let path = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--config"), Some(path)) => Some(PathBuf::from(path)),
        _ => {
            eprintln!("usage: tgate-worker [--config PATH]");
            return ExitCode::from(2);
        }
    };
    let config = match tgate_core::config::Config::load(path.as_deref()) {
        Ok(config) => Arc::new(config),
        Err(errors) => {
            eprintln!("tgate-worker: the configuration has problems:\n{errors}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(tgate_worker::run_standalone(config, shutdown())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tgate-worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
