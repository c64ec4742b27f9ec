//! tgate's configuration: `tgate.toml`, environment overrides and secrets,
//! read into one typed [`Config`]. The keys are a contract operators rely
//! on; `tgate.example.toml` at the repository root documents every one.
//!
//! Loading reports every problem at once, each with the key it concerns
//! ([`ConfigErrors`]), so `tgate check-config` shows all there is to fix.
//! Secrets are [`SecretString`]s and the database URL masks its password, so
//! `{:?}` of a whole `Config` is safe to log.
//!
//! Precedence, lowest first: built-in defaults, the file (where a secret may
//! be given as `<key>_file`, a file holding it), then environment overrides:
//! `TGATE_<SECTION>__<KEY>`, and `TGATE_ROUTERS__<NAME>__<KEY>` for the router
//! whose [`router_env_name`] is `<NAME>` (its name upper-cased, with `-` and
//! `.` written as `_`). Sections, keys and router names in a variable match
//! case-insensitively; numbers, booleans and lists are written as TOML
//! values (`3`, `true`, `[1, 2]`). A variable that matches no key, or a
//! router not in the file, is a problem.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;
use toml::Table;

use crate::domain::{AddressListName, ItemName, RouterName};

mod database_url;
mod duration;
mod env;
mod problems;
mod reader;
mod rules;
mod sections;
mod validate;

pub use database_url::DatabaseUrl;
pub use duration::{format_duration, parse_duration};
pub use env::router_env_name;
pub use problems::{ConfigErrors, Problem};

/// The file read when neither `--config` nor `TGATE_CONFIG` names one.
pub const DEFAULT_PATH: &str = "tgate.toml";

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub telegram: TelegramConfig,
    pub policy: PolicyConfig,
    pub worker: WorkerConfig,
    pub routers: Vec<RouterConfig>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// What router scripts call, `http://` or `https://`, without a
    /// trailing `/`.
    pub public_url: Option<String>,
    /// Bearer token of the admin API; at least 16 characters.
    pub admin_token: Option<SecretString>,
    /// Bearer token the watcher uses with the API; at least 16 characters.
    pub service_token: Option<SecretString>,
    /// Proxies whose `X-Forwarded-For` / `X-Real-IP` are believed; a bare
    /// address in the file is a /32 or /128.
    pub trusted_proxies: Vec<IpNet>,
    /// When set, `GET /metrics` wants it as a bearer token; at least 16
    /// characters.
    pub metrics_token: Option<SecretString>,
    /// Requests per second each client address may make to the public
    /// endpoints (router events, health, metrics). Default 50; 0 turns the
    /// limit off.
    pub rate_limit: u32,
    /// How many requests a client address may make at once before the rate
    /// applies. Default 100, at least 1.
    pub rate_burst: u32,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Default `sqlite://tgate.db`.
    pub url: DatabaseUrl,
}

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub token: Option<SecretString>,
    /// Default `https://api.telegram.org`, without a trailing `/`.
    pub api_url: String,
    /// Telegram user ids of the admins.
    pub admins: Vec<i64>,
    pub mode: TelegramMode,
    /// HMAC key for callback data.
    pub callback_key: Option<SecretString>,
    /// Checked against the `X-Telegram-Bot-Api-Secret-Token` header in
    /// webhook mode: 1 to 256 of `A-Z a-z 0-9 _ -`, as Telegram allows.
    pub webhook_secret: Option<SecretString>,
    /// Where a separate `tgate watcher` listens for Telegram's webhook calls
    /// (behind nginx). `tgate serve` ignores it: there the calls come to the
    /// API's own listener. Default `127.0.0.1:8081`.
    pub webhook_listen: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TelegramMode {
    #[default]
    Polling,
    Webhook,
}

#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// How long the owner has to answer a prompt. Default 60 s.
    pub confirm_timeout: Duration,
    /// The sandbox entry's timeout is `confirm_timeout + sandbox_grace`, so
    /// the router lets go of a client by itself if tgate never does.
    /// Default 30 s.
    pub sandbox_grace: Duration,
    /// Timeout of the permit entry; `None` (default) keeps it until the
    /// session ends.
    pub max_session: Option<Duration>,
    /// Strikes within `strike_window` that ban a caller. Default 3, at least 1.
    pub max_strikes: u32,
    /// Default 10 min.
    pub strike_window: Duration,
    /// First ban's length, doubling per repeat. Default 1 h.
    pub ban_time: Duration,
    /// The longest ban. Default 1 week, at least `ban_time`.
    pub ban_time_max: Duration,
    pub never_ban: Vec<IpNet>,
    /// Callers allowed without a prompt.
    pub trusted_networks: Vec<IpNet>,
    pub fail_mode: FailMode,
}

/// What a new session does when Telegram cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Stay sandboxed and expire.
    #[default]
    Secure,
    /// Allow, and alert the admins when Telegram is back.
    Safe,
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Default 5 min.
    pub reconcile_interval: Duration,
    /// Where `tgate worker` serves its own `/metrics` (router commands and
    /// Telegram calls it makes); unset, it serves none. `tgate serve` and
    /// `tgate api` serve them on the API's `/metrics`.
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct RouterConfig {
    pub name: RouterName,
    /// Host name or IP address.
    pub host: String,
    /// SSH port, default 22.
    pub port: u16,
    pub user: String,
    pub auth: RouterAuth,
    /// Pinned SSH host key fingerprint, `SHA256:` and 43 base64 characters,
    /// as `ssh-keygen -lf` prints it.
    pub host_key: String,
    /// Bearer token of the router's scripts: at least 16 of
    /// `A-Z a-z 0-9 - _ . ~ + / =`, because it is pasted into RouterOS
    /// scripts.
    pub token: SecretString,
    pub sandbox_list: AddressListName,
    pub permit_list: AddressListName,
    pub ban_list: AddressListName,
    pub vpn_pool: Option<IpNet>,
    /// The PPP profile whose on-up/on-down scripts bootstrap sets. Default
    /// `default-encryption`, the profile RouterOS's L2TP, SSTP, PPTP and
    /// OpenVPN servers use unless told otherwise.
    pub ppp_profile: ItemName,
    pub trust_router_chat_id: bool,
    /// Serves tik2fa's `/clients/…` endpoints; at most one router.
    pub compat: bool,
    /// Limit on each command sent to the router. Default 5 s.
    pub command_timeout: Duration,
}

/// How tgate logs in to a router.
#[derive(Debug, Clone)]
pub enum RouterAuth {
    /// From `password` or `password_file`.
    Password(SecretString),
    /// From `key_file` (relative to the config file's directory) and an
    /// optional `key_passphrase` or `key_passphrase_file`.
    KeyFile {
        path: PathBuf,
        passphrase: Option<SecretString>,
    },
}

impl Config {
    /// Reads the file at `path`, else at `$TGATE_CONFIG`, else
    /// `./tgate.toml`, and applies the process's environment. A missing file
    /// at a path that was given is an error; a missing `./tgate.toml` means
    /// "all defaults" (plus the environment).
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigErrors> {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let k = k.into_string().ok()?;
                k.starts_with("TGATE_")
                    .then(|| (k, v.to_string_lossy().into_owned()))
            })
            .collect();
        let from_env = env
            .iter()
            .find(|(k, _)| k == "TGATE_CONFIG")
            .map(|(_, v)| PathBuf::from(v));
        let (path, given_by) = match (path, from_env) {
            (Some(path), _) => (path.to_path_buf(), Some("--config")),
            (None, Some(path)) => (path, Some("TGATE_CONFIG")),
            (None, None) => (PathBuf::from(DEFAULT_PATH), None),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if given_by.is_none() && e.kind() == std::io::ErrorKind::NotFound => {
                String::new()
            }
            Err(e) => {
                let by = given_by
                    .map(|b| format!(" (given by {b})"))
                    .unwrap_or_default();
                return Err(ConfigErrors::from(vec![Problem::new(
                    path.display().to_string(),
                    format!("cannot read the config file{by}: {e}"),
                )]));
            }
        };
        let base_dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        Self::from_sources(&text, &env, base_dir)
    }

    /// Builds the configuration from a file's text and an explicit
    /// environment; never reads the process's environment. `base_dir` is
    /// where `*_file` and `key_file` paths are relative to.
    pub fn from_sources(
        toml_text: &str,
        env: &[(String, String)],
        base_dir: &Path,
    ) -> Result<Config, ConfigErrors> {
        let table: Table = match toml_text.parse() {
            Ok(table) => table,
            Err(e) => return Err(ConfigErrors::from(vec![syntax_problem(toml_text, &e)])),
        };
        let mut ctx = reader::Ctx::new(env::Env::new(env), base_dir);
        let config = sections::read(&mut ctx, table);
        if ctx.problems.is_empty()
            && let Some(config) = config
        {
            return Ok(config);
        }
        Err(ConfigErrors::from(ctx.problems))
    }

    /// Every key tgate reads, by section (a router's under `"routers"`):
    /// what the example configuration must show. Learnt by reading a
    /// configuration with one router, so it cannot fall behind the reader.
    pub fn known_keys() -> std::collections::BTreeMap<&'static str, Vec<&'static str>> {
        let table: Table = "[[routers]]\nname = \"r\""
            .parse()
            .expect("a literal table");
        let mut ctx = reader::Ctx::new(env::Env::new(&[]), Path::new("."));
        let _ = sections::read(&mut ctx, table);
        ctx.known
    }

    /// The router with this name.
    pub fn router(&self, name: &str) -> Option<&RouterConfig> {
        self.routers.iter().find(|r| r.name.as_str() == name)
    }

    /// The one router whose scripts are tik2fa's (`compat = true`).
    pub fn compat_router(&self) -> Option<&RouterConfig> {
        self.routers.iter().find(|r| r.compat)
    }
}

impl Default for Config {
    /// What an empty file gives: every default, no routers.
    fn default() -> Self {
        Self::from_sources("", &[], Path::new(".")).expect("the defaults are valid")
    }
}

impl PolicyConfig {
    /// The sandbox entry's timeout: `confirm_timeout + sandbox_grace`.
    pub fn sandbox_timeout(&self) -> Duration {
        self.confirm_timeout + self.sandbox_grace
    }
}

fn syntax_problem(text: &str, e: &toml::de::Error) -> Problem {
    let key = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
            format!("line {line}, column {column}")
        }
        None => "syntax".to_owned(),
    };
    Problem::new(key, format!("TOML syntax error: {}", e.message().trim()))
}
