//! The whole product on one machine: `tgate serve` in this process against a
//! simulated RouterOS router (real SSH on loopback) and a simulated Telegram
//! Bot API (real HTTP on loopback). `tgate demo`, `tgate bench` and the
//! end-to-end tests all start it the same way, so what they show is what the
//! tests prove.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tgate_core::config::Config;
use tgate_sim::{BotApiSim, BotApiSimConfig, OnUpHook, RouterSim, RouterSimConfig};

use crate::Shutdown;

/// The router's name in the lab's configuration.
pub const ROUTER: &str = "office";
/// The token the simulated router's on-up script sends.
pub const ROUTER_TOKEN: &str = "office-token-0123456789";
/// The admin the lab's configuration names.
pub const ADMIN: i64 = 9000;
pub const SANDBOX: &str = "tgate-sandbox";
pub const PERMIT: &str = "tgate-permit";
pub const BAN: &str = "tgate-ban";

/// How to build the lab.
#[derive(Clone, Debug)]
pub struct LabOptions {
    /// `sqlite://…` or `postgres://…`; the database must exist.
    pub database_url: String,
    /// Extra TOML lines for the `[policy]` table (`confirm_timeout = "2s"`).
    pub policy: String,
    /// Extra TOML lines for the `[server]` table (`rate_limit = 0`).
    pub server: String,
    /// Extra TOML lines for the router's `[[routers]]` entry (`compat = true`).
    pub router: String,
    /// Extra TOML lines for the `[telegram]` table (`mode = "webhook"`).
    pub telegram: String,
    /// Added before every answer of the simulated router.
    pub router_latency: Duration,
    /// Added before every answer of the simulated Bot API.
    pub telegram_latency: Duration,
    /// Per router command, as `[[routers]].command_timeout`.
    pub command_timeout: Duration,
}

impl LabOptions {
    pub fn new(database_url: impl Into<String>) -> LabOptions {
        LabOptions {
            database_url: database_url.into(),
            policy: String::new(),
            server: String::new(),
            router: String::new(),
            telegram: String::new(),
            router_latency: Duration::ZERO,
            telegram_latency: Duration::ZERO,
            command_timeout: Duration::from_secs(3),
        }
    }
}

/// A running lab; dropping it stops tgate (the simulators stop with it).
pub struct Lab {
    pub router: RouterSim,
    pub tg: BotApiSim,
    /// `http://127.0.0.1:<port>`
    pub api: String,
    pub config: Config,
    stop: tokio::sync::watch::Sender<bool>,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Lab {
    /// Starts both simulators and `tgate serve`, and waits until the API
    /// answers `/healthz`.
    pub async fn start(options: LabOptions) -> anyhow::Result<Lab> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the API on loopback")?;
        let api = format!("http://{}", listener.local_addr()?);
        let router = RouterSim::start(RouterSimConfig {
            hook: Some(OnUpHook::Tgate {
                base_url: api.clone(),
                token: ROUTER_TOKEN.into(),
            }),
            sandbox_list: SANDBOX.into(),
            ..Default::default()
        })
        .await
        .context("starting the RouterOS simulator")?;
        router.set_latency(options.router_latency);
        let tg = BotApiSim::start(BotApiSimConfig {
            latency: options.telegram_latency,
            ..Default::default()
        })
        .await
        .context("starting the Bot API simulator")?;
        let config = lab_config(&options, &api, &router, &tg)?;
        let (stop, shutdown) = Shutdown::new();
        let served = tokio::spawn(crate::serve(config.clone(), listener, shutdown));
        wait_healthy(&api).await?;
        Ok(Lab {
            router,
            tg,
            api,
            config,
            stop,
            served,
        })
    }

    /// The API's address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api
            .trim_start_matches("http://")
            .parse()
            .expect("the lab's own URL")
    }

    /// Stops tgate and waits for it to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        (&mut self.served).await.context("tgate task")?
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn lab_config(
    options: &LabOptions,
    api: &str,
    router: &RouterSim,
    tg: &BotApiSim,
) -> anyhow::Result<Config> {
    let toml = lab_toml(options, api, router, tg);
    Config::from_sources(&toml, &[], Path::new(".")).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The lab's configuration as TOML text, also for a tgate started as a
/// separate process (the benchmark measures tgate's memory apart from the
/// simulators'). `api` is tgate's URL: the lab's public one too, since
/// webhook mode tells the Bot API simulator to call it. `[server]` gets
/// `options.server` only: a separate process's caller adds `listen`.
pub fn lab_toml(options: &LabOptions, api: &str, router: &RouterSim, tg: &BotApiSim) -> String {
    format!(
        r#"
[server]
public_url = "{api}"
{server}

[database]
url = "{db_url}"

[telegram]
token = "{tg_token}"
api_url = "{tg_url}"
admins = [{ADMIN}]
{telegram}

[policy]
{policy}

[[routers]]
name = "{ROUTER}"
host = "127.0.0.1"
port = {port}
user = "admin"
password = "admin"
host_key = "{fp}"
token = "{ROUTER_TOKEN}"
sandbox_list = "{SANDBOX}"
permit_list = "{PERMIT}"
ban_list = "{BAN}"
command_timeout = "{timeout}ms"
{router}
"#,
        server = options.server,
        db_url = options.database_url,
        tg_token = tg.token(),
        tg_url = tg.url(),
        policy = options.policy,
        telegram = options.telegram,
        port = router.addr().port(),
        fp = router.host_key_fingerprint(),
        timeout = options.command_timeout.as_millis(),
        router = options.router,
    )
}

async fn wait_healthy(api: &str) -> anyhow::Result<()> {
    let health = format!("{api}/healthz");
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    // The demo runs tgate in this process: the same TLS set-up as its
    // clients, and one client for every try.
    let http = tgate_core::http::client(reqwest::Client::builder())?;
    loop {
        if http.get(&health).send().await.is_ok() {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < until,
            "tgate did not answer {health} within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
