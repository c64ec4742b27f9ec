//! The system under measurement: both simulators in this process, and
//! `tgate serve` as a child process on a configuration written for them.
//! tgate runs apart so that its peak memory is its own (`VmHWM` of the
//! child), not mixed with the simulators' and the load driver's.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use tgate_core::domain::{AccountName, RouterName, SessionState};
use tgate_core::gate::EXPIRY_QUEUE;
use tgate_core::storage::{NewBan, Store};
use tgate_sim::{
    ApiCall, BotApiSim, BotApiSimConfig, OnUpHook, RouterSim, RouterSimConfig, TgUser,
};

use super::args::BenchArgs;
use super::database::Database;
use crate::lab::{self, LabOptions};

/// A VPN account of the benchmark and its owner, whose private chat is the
/// owner's id.
#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub owner: TgUser,
}

pub struct System {
    pub router: Arc<RouterSim>,
    pub tg: Arc<BotApiSim>,
    /// The bench's own connection to tgate's database: it enrolls accounts
    /// and reads deadlines.
    pub store: Arc<dyn Store>,
    pub database: Database,
    child: Child,
    /// One wall-clock reading and the monotonic reading taken with it, to
    /// place the router's monotonic timestamps against database deadlines.
    anchor: (Instant, DateTime<Utc>),
    next_tunnel: AtomicU32,
    next_caller: AtomicU32,
    dir: tempfile::TempDir,
}

impl System {
    pub async fn start(args: &BenchArgs) -> anyhow::Result<System> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        let database = Database::create(args.database_url.as_deref(), dir.path()).await?;
        let mut leftover = database.clone();
        match Self::start_on(args, dir, database).await {
            Ok(system) => Ok(system),
            // A run that never got going drops its scratch database too.
            Err(err) => {
                if let Err(also) = leftover.drop_scratch().await {
                    eprintln!("tgate bench: the scratch database is left behind: {also:#}");
                }
                Err(err)
            }
        }
    }

    async fn start_on(
        args: &BenchArgs,
        dir: tempfile::TempDir,
        database: Database,
    ) -> anyhow::Result<System> {
        let store = tgate_core::storage::open(&database.url)
            .await
            .context("opening the bench database")?;
        let router_name: RouterName = lab::ROUTER.parse().expect("the lab's router name");
        store.sync_routers(&[router_name]).await?;

        let port = free_port()?;
        let api = format!("http://127.0.0.1:{port}");
        let router = RouterSim::start(RouterSimConfig {
            hook: Some(OnUpHook::Tgate {
                base_url: api.clone(),
                token: lab::ROUTER_TOKEN.into(),
            }),
            sandbox_list: lab::SANDBOX.into(),
            ..Default::default()
        })
        .await
        .context("starting the RouterOS simulator")?;
        router.set_latency(args.router_latency);
        let tg = BotApiSim::start(BotApiSimConfig {
            latency: args.telegram_latency,
            ..Default::default()
        })
        .await
        .context("starting the Bot API simulator")?;

        let mut options = LabOptions::new(database.url.clone());
        options.server = format!("listen = \"127.0.0.1:{port}\"\nrate_limit = 0");
        options.policy = format!(
            "confirm_timeout = \"{}ms\"\nmax_strikes = {}",
            args.confirm_timeout.as_millis(),
            args.max_strikes
        );
        // A distant router needs room for its round trips.
        options.command_timeout = Duration::from_secs(3) + args.router_latency * 4;
        let config_path = dir.path().join("tgate.toml");
        std::fs::write(&config_path, lab::lab_toml(&options, &api, &router, &tg))
            .context("writing tgate's configuration")?;
        let child = spawn_tgate(&config_path, &dir.path().join("tgate.log"))?;
        let mut system = System {
            router: Arc::new(router),
            tg: Arc::new(tg),
            store,
            database,
            child,
            anchor: (Instant::now(), Utc::now()),
            next_tunnel: AtomicU32::new(0),
            next_caller: AtomicU32::new(0),
            dir,
        };
        system.wait_healthy(&api).await?;
        Ok(system)
    }

    async fn wait_healthy(&mut self, api: &str) -> anyhow::Result<()> {
        let health = format!("{api}/healthz");
        let until = Instant::now() + Duration::from_secs(30);
        // One client for every try: building one loads the system's root
        // certificates, which every 20 ms would starve tgate's start.
        let http = reqwest::Client::new();
        loop {
            // Presses are only heard once the watcher polls; tgate starts it
            // a moment after the API. Its first long poll is open from then
            // on, but answered (and so among the calls) only at its timeout.
            let polling = || self.tg.polls_started() > 0;
            if (http.get(&health).send().await).is_ok_and(|r| r.status().is_success()) && polling()
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "tgate exited ({status}) before serving:\n{}",
                    self.log_tail()
                );
            }
            anyhow::ensure!(
                Instant::now() < until,
                "tgate did not answer {health} within 30 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The end of tgate's log, for errors.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("tgate.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Creates `n` accounts named `{prefix}{i}`, each owned by its own
    /// Telegram user `first_owner + i`.
    pub async fn enroll(
        &self,
        prefix: &str,
        n: u32,
        first_owner: i64,
    ) -> anyhow::Result<Vec<Account>> {
        let accounts: Vec<Account> = (0..n)
            .map(|i| Account {
                name: format!("{prefix}{i}"),
                owner: TgUser::new(first_owner + i64::from(i), "Bench"),
            })
            .collect();
        let router: RouterName = lab::ROUTER.parse().expect("the lab's router name");
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in accounts.chunks(accounts.len().div_ceil(8).max(1)) {
            let (store, router, chunk) = (self.store.clone(), router.clone(), chunk.to_vec());
            tasks.spawn(async move {
                for a in chunk {
                    let name: AccountName = a.name.parse().context("account name")?;
                    store.ensure_account(&router, &name).await?;
                    store
                        .set_account_owner(&router, &name, Some(a.owner.id))
                        .await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.context("enrolling")??;
        }
        Ok(accounts)
    }

    /// Stores `n` bans in force on single addresses of 100.64.0.0/10, which
    /// no caller of the bench uses. They go to tgate's database once tgate
    /// is up; the router's ban list gets them at the reconciler's next
    /// pass, five minutes after tgate started (a run that lasts longer
    /// pushes them to the router while it measures).
    pub async fn ban_bystanders(&self, n: u32) -> anyhow::Result<()> {
        let now = Utc::now();
        let mut tasks = tokio::task::JoinSet::new();
        let all: Vec<u32> = (0..n).collect();
        for chunk in all.chunks(all.len().div_ceil(8).max(1)) {
            let (store, chunk) = (self.store.clone(), chunk.to_vec());
            tasks.spawn(async move {
                for i in chunk {
                    let address = Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + i);
                    store
                        .insert_ban(&NewBan {
                            network: IpNet::from(IpAddr::V4(address)),
                            reason: "bench bystander".into(),
                            source: "admin".into(),
                            created_by: "bench".into(),
                            created_at: now,
                            until: now + chrono::Duration::days(1),
                        })
                        .await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.context("storing bans")??;
        }
        if n > 0 {
            self.database.catch_up("bans").await?;
        }
        Ok(())
    }

    /// A tunnel address no other connect of the run has used.
    pub fn tunnel(&self) -> IpAddr {
        let n = self.next_tunnel.fetch_add(1, Ordering::Relaxed);
        IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 0)) + n))
    }

    /// A caller address no other scenario uses, from the benchmarking
    /// range 198.18.0.0/15 (RFC 2544).
    pub fn caller(&self) -> String {
        let n = self.next_caller.fetch_add(1, Ordering::Relaxed);
        Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 1)) + n).to_string()
    }

    /// A monotonic reading as wall-clock time.
    pub fn wall(&self, at: Instant) -> DateTime<Utc> {
        let (mono, wall) = self.anchor;
        match at.checked_duration_since(mono) {
            Some(after) => wall + chrono::Duration::from_std(after).unwrap_or_default(),
            None => wall - chrono::Duration::from_std(mono - at).unwrap_or_default(),
        }
    }

    /// Successful sendMessage calls from index `from` on, and the index to
    /// read from next time.
    pub fn sent_messages(&self, from: usize) -> (Vec<ApiCall>, usize) {
        let calls = self.tg.calls_since(from);
        let next = from + calls.len();
        let sent = calls
            .into_iter()
            .filter(|c| c.method == "sendMessage" && c.status == 200)
            .collect();
        (sent, next)
    }

    /// Waits until tgate has worked off what the last scenario left it: no
    /// session pending, no expiry job left to run (a session decided in the
    /// last two seconds before its deadline, once a worker has taken its
    /// job, still has it, and it runs at the deadline and finds nothing to
    /// do), and no Bot API call (prompt edits, notes) for half a
    /// second. Each scenario then measures its own load, not the tail of
    /// the one before (the sustained climb ends with a rate tgate could not
    /// keep up with). Gives up after a minute.
    pub async fn settle(&self) -> anyhow::Result<()> {
        const QUIET: Duration = Duration::from_millis(500);
        let start = Instant::now();
        let mut cursor = self.tg.call_count();
        let mut last_call = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let calls = self.tg.calls_since(cursor);
            cursor += calls.len();
            if calls.iter().any(|c| c.method != "getUpdates") {
                last_call = Instant::now();
            }
            if last_call.elapsed() >= QUIET
                && self
                    .store
                    .sessions_in_state(SessionState::Pending, 1)
                    .await?
                    .is_empty()
                && self.store.expiry_jobs(EXPIRY_QUEUE, Utc::now()).await?.0 == 0
            {
                break;
            }
        }
        Ok(())
    }

    /// Peak resident memory of tgate (the child) in MB.
    pub fn tgate_peak_rss_mb(&self) -> Option<f64> {
        vm_hwm_mb(&format!("/proc/{}/status", self.child.id()))
    }

    /// Stops tgate and drops a scratch database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.store);
        self.database.drop_scratch().await
    }
}

/// Peak resident memory of this process (simulators and load driver) in MB.
pub fn own_peak_rss_mb() -> Option<f64> {
    vm_hwm_mb("/proc/self/status")
}

fn vm_hwm_mb(status: &str) -> Option<f64> {
    let text = std::fs::read_to_string(status).ok()?;
    let kb: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
}

fn free_port() -> anyhow::Result<u16> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(probe.local_addr()?.port())
}

/// `tgate --config <file> serve`, this very binary, logging warnings and
/// errors to a file.
fn spawn_tgate(config: &Path, log: &Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("locating the tgate binary")?;
    let log = std::fs::File::create(log).context("creating tgate's log")?;
    let mut command = Command::new(exe);
    command
        .arg("--config")
        .arg(config)
        .arg("serve")
        // The pipe closes when this process ends, however it ends; tgate
        // then stops too instead of outliving the bench.
        .arg("--until-stdin-closes")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log);
    // The generated file is the whole configuration: nothing from the
    // caller's environment may override it.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TGATE_") {
            command.env_remove(key);
        }
    }
    command.spawn().context("starting tgate serve")
}
