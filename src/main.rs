//! The `tgate` binary: the all-in-one server, each part alone, and the admin
//! CLI. It parses arguments and calls the library; nothing else.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tgate::Shutdown;
use tgate_core::config::Config;

mod cli;

#[derive(Parser)]
#[command(
    name = "tgate",
    version,
    about = "Telegram second factor for MikroTik VPN logins",
    after_help = "Exit codes:\n  \
                  0  done\n  \
                  1  the operation failed or found nothing to act on \
                  (`bans rm 999` with no such ban, an unreachable router)\n  \
                  2  bad configuration or bad arguments; nothing was changed"
)]
struct Cli {
    /// Configuration file [default: $TGATE_CONFIG, else ./tgate.toml]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Print one JSON document (an array or an object) instead of a table
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything in one process: the HTTP API, the Telegram watcher and the worker
    Serve {
        /// Also stop when standard input closes. `tgate bench` starts its
        /// tgate this way, so a bench killed by any signal takes it along.
        #[arg(long, hide = true)]
        until_stdin_closes: bool,
    },
    /// Run only the HTTP API (several replicas may share a PostgreSQL database)
    Api,
    /// Run only the Telegram watcher (one per bot); it calls the API over HTTP
    Watcher {
        /// The API's base URL
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api_url: String,
    },
    /// Run only the worker: expiry at the deadline, the reconciler (replicas allowed)
    Worker,
    /// Check the configuration and list every problem with its key
    CheckConfig,
    /// Show the whole product at work against a simulated router and Telegram
    /// (no configuration needed)
    Demo,
    /// Measure tgate against the simulators (needs no configuration file)
    Bench(tgate::bench::BenchArgs),
    #[command(flatten)]
    Admin(cli::Admin),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo and the bench bring their own configuration.
    match cli.command {
        Command::Demo => return demo(),
        Command::Bench(args) => return tgate::bench::main(args, cli.json),
        _ => {}
    }
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
    if let Command::CheckConfig = cli.command {
        println!(
            "configuration OK: {} router(s), database {}",
            config.routers.len(),
            config.database.url
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Admin(admin) = cli.command {
        // The commands say themselves what went wrong; logs only on request.
        init_tracing("error");
        let ctx = cli::Ctx::new(config, cli.json);
        return match runtime.block_on(cli::run(&ctx, admin)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("tgate: {err:#}");
                cli::exit_code(&err)
            }
        };
    }
    init_tracing("info");
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = ?err, "tgate stopped");
            eprintln!("tgate: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn demo() -> ExitCode {
    // The narration is the output; logs only for warnings and on request.
    init_tracing("warn");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(tgate::demo::run());
    // A router call still blocked on its socket must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => {
            eprintln!("tgate demo: {failed}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::CheckConfig => unreachable!("handled before the runtime starts"),
        Command::Demo | Command::Bench(_) => {
            unreachable!("handled before the configuration is loaded")
        }
        Command::Serve { until_stdin_closes } => {
            let listener = bind(&config).await?;
            let shutdown = if until_stdin_closes {
                on_signal_or(stdin_closed())
            } else {
                on_signal()
            };
            tgate::serve(config, listener, shutdown).await
        }
        Command::Api => {
            let listener = bind(&config).await?;
            let config = Arc::new(config);
            let store = tgate::open_store(&config).await?;
            let state = tgate_api::ApiState::new(tgate::api_gate(config, store).await?).await?;
            tracing::info!(listen = %listener.local_addr()?, "tgate api serving");
            tgate_api::serve(listener, state, on_signal().wait()).await?;
            Ok(())
        }
        Command::Worker => {
            let config = Arc::new(config);
            let store = tgate::open_store(&config).await?;
            tracing::info!(routers = config.routers.len(), "tgate worker running");
            tgate::run_worker(config, store, on_signal()).await
        }
        Command::Watcher { api_url } => {
            let bot = tgate::bot(&config)?.context("telegram.token is required")?;
            let service_token = (config.server.service_token.clone())
                .context("server.service_token is required (the API must have the same)")?;
            let callback_key = (config.telegram.callback_key.clone())
                .context("telegram.callback_key is required (the API must have the same)")?;
            let api_base = api_url.trim_end_matches('/').to_owned();
            let watcher =
                tgate::watcher_config(&config, bot, api_base, service_token, callback_key)?;
            let listener = match watcher.webhook {
                Some(_) => Some(
                    tokio::net::TcpListener::bind(config.telegram.webhook_listen)
                        .await
                        .with_context(|| {
                            format!(
                                "binding telegram.webhook_listen {}",
                                config.telegram.webhook_listen
                            )
                        })?,
                ),
                None => None,
            };
            tgate_watcher::run(watcher, listener, on_signal().wait()).await
        }
        Command::Admin(_) => unreachable!("admin commands run in cli::run"),
    }
}

async fn bind(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))
}

/// Shuts down on Ctrl-C or SIGTERM (what docker and systemd send).
fn on_signal() -> Shutdown {
    on_signal_or(std::future::pending())
}

/// Shuts down on Ctrl-C, SIGTERM or when `also` completes.
fn on_signal_or(also: impl std::future::Future<Output = ()> + Send + 'static) -> Shutdown {
    let (tx, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = also => {}
        }
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    shutdown
}

/// Completes when standard input reaches its end (or fails). Read on a
/// thread of its own: a blocking read in tokio's pool would hold up the
/// runtime's exit when tgate stops for another reason.
fn stdin_closed() -> impl std::future::Future<Output = ()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        drop(tx);
    });
    async move {
        let _ = rx.await;
    }
}
