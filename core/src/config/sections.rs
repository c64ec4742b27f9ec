//! The sections of `tgate.toml`, read key by key. Each key's default sits
//! beside the line that reads it.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use toml::{Table, Value};

use super::env::{Scope, router_env_name};
use super::problems::did_you_mean;
use super::reader::{Ctx, Section};
use super::rules::{
    at_least_16, check_bot_token, check_host, check_host_key, check_token, check_user,
    check_webhook_secret, http_url,
};
use super::validate::{self, RouterDraft};
use super::{
    Config, DatabaseConfig, DatabaseUrl, FailMode, PolicyConfig, RouterAuth, RouterConfig,
    ServerConfig, TelegramConfig, TelegramMode, WorkerConfig,
};
use crate::domain::{AddressListName, RouterName};

const SECTIONS: [&str; 6] = [
    "server", "database", "telegram", "policy", "worker", "routers",
];

/// Reads the whole file; `None` when some router could not be built (its
/// problems are in `ctx`).
pub(super) fn read(ctx: &mut Ctx<'_>, mut table: Table) -> Option<Config> {
    let server = server(ctx, table.remove("server"));
    let database = database(ctx, table.remove("database"));
    let telegram = telegram(ctx, table.remove("telegram"));
    let policy = policy(ctx, table.remove("policy"));
    let worker = worker(ctx, table.remove("worker"));
    let drafts = routers(ctx, table.remove("routers"));

    for key in table.keys() {
        let mut message = "unknown section".to_owned();
        if let Some(section) = did_you_mean(key, &SECTIONS) {
            message.push_str(&format!("; did you mean [{section}]?"));
        } else if let Some((section, _)) = ctx
            .known
            .iter()
            .find(|(_, keys)| keys.contains(&key.as_str()))
        {
            message = format!("unknown top-level key; it belongs under [{section}]");
        }
        ctx.problem(key.clone(), message);
    }

    validate::check(ctx, &server, &telegram, &drafts);
    let names: Vec<String> = drafts
        .iter()
        .filter_map(|d| d.name.as_ref().map(|n| router_env_name(n.as_str())))
        .collect();
    let env_problems = ctx.env.leftovers(&ctx.known, &names);
    ctx.problems.extend(env_problems);

    let routers = drafts
        .into_iter()
        .map(|d| d.config)
        .collect::<Option<Vec<_>>>()?;
    Some(Config {
        server,
        database,
        telegram,
        policy,
        worker,
        routers,
    })
}

fn server(ctx: &mut Ctx<'_>, value: Option<Value>) -> ServerConfig {
    let mut s = Section::new(
        ctx,
        "server",
        "server".into(),
        value,
        Scope::Section("server"),
    );
    let listen = s
        .parse_with("listen", |t| {
            t.parse::<SocketAddr>().map_err(|_| {
                format!(
                    "{t:?} is not an address and port such as \"127.0.0.1:8080\" or \"[::1]:8080\""
                )
            })
        })
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
    let public_url = s.parse_with("public_url", http_url);
    let admin_token = s.secret("admin_token", "admin_token_file");
    let admin_token = checked(&mut s, "admin_token", admin_token, check_token);
    let service_token = s.secret("service_token", "service_token_file");
    let service_token = checked(&mut s, "service_token", service_token, check_token);
    let trusted_proxies = s.networks("trusted_proxies").unwrap_or_default();
    let metrics_token = s.secret("metrics_token", "metrics_token_file");
    let metrics_token = checked(&mut s, "metrics_token", metrics_token, check_token);
    let rate_limit = s.int("rate_limit", 0u32, 1_000_000).unwrap_or(50);
    let rate_burst = s.int("rate_burst", 1u32, 1_000_000).unwrap_or(100);
    s.finish();
    ServerConfig {
        listen,
        public_url,
        admin_token,
        service_token,
        trusted_proxies,
        metrics_token,
        rate_limit,
        rate_burst,
    }
}

fn database(ctx: &mut Ctx<'_>, value: Option<Value>) -> DatabaseConfig {
    let mut s = Section::new(
        ctx,
        "database",
        "database".into(),
        value,
        Scope::Section("database"),
    );
    let url = s.parse_with("url", DatabaseUrl::parse).unwrap_or_default();
    s.finish();
    DatabaseConfig { url }
}

fn telegram(ctx: &mut Ctx<'_>, value: Option<Value>) -> TelegramConfig {
    let mut s = Section::new(
        ctx,
        "telegram",
        "telegram".into(),
        value,
        Scope::Section("telegram"),
    );
    let token = s.secret("token", "token_file");
    let token = checked(&mut s, "token", token, check_bot_token);
    let api_url = s
        .parse_with("api_url", http_url)
        .unwrap_or_else(|| "https://api.telegram.org".to_owned());
    let admins = s.user_ids("admins").unwrap_or_default();
    let mode = s
        .choice(
            "mode",
            &[
                ("polling", TelegramMode::Polling),
                ("webhook", TelegramMode::Webhook),
            ],
        )
        .unwrap_or_default();
    let callback_key = s.secret("callback_key", "callback_key_file");
    let callback_key = checked(&mut s, "callback_key", callback_key, |k| {
        at_least_16(k.chars().count())
    });
    let webhook_secret = s.secret("webhook_secret", "webhook_secret_file");
    let webhook_secret = checked(
        &mut s,
        "webhook_secret",
        webhook_secret,
        check_webhook_secret,
    );
    let webhook_listen = s
        .parse_with("webhook_listen", socket_addr)
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8081)));
    s.finish();
    TelegramConfig {
        token,
        api_url,
        admins,
        mode,
        callback_key,
        webhook_secret,
        webhook_listen,
    }
}

fn policy(ctx: &mut Ctx<'_>, value: Option<Value>) -> PolicyConfig {
    let mut s = Section::new(
        ctx,
        "policy",
        "policy".into(),
        value,
        Scope::Section("policy"),
    );
    let confirm_timeout = s
        .duration("confirm_timeout", true)
        .unwrap_or(Duration::from_secs(60));
    let sandbox_grace = s
        .duration("sandbox_grace", false)
        .unwrap_or(Duration::from_secs(30));
    let max_session = s.duration("max_session", true);
    let max_strikes = s.int("max_strikes", 1u32, u32::MAX).unwrap_or(3);
    let strike_window = s
        .duration("strike_window", true)
        .unwrap_or(Duration::from_secs(600));
    let ban_time = s
        .duration("ban_time", true)
        .unwrap_or(Duration::from_secs(3600));
    let ban_time_max = s
        .duration("ban_time_max", true)
        .unwrap_or(Duration::from_secs(7 * 24 * 3600));
    if ban_time_max < ban_time {
        s.problem(
            "ban_time_max",
            format!(
                "must be at least ban_time ({}), but is {}",
                super::format_duration(ban_time),
                super::format_duration(ban_time_max)
            ),
        );
    }
    let never_ban = s.networks("never_ban").unwrap_or_default();
    let trusted_networks = s.networks("trusted_networks").unwrap_or_default();
    let fail_mode = s
        .choice(
            "fail_mode",
            &[("secure", FailMode::Secure), ("safe", FailMode::Safe)],
        )
        .unwrap_or_default();
    s.finish();
    PolicyConfig {
        confirm_timeout,
        sandbox_grace,
        max_session,
        max_strikes,
        strike_window,
        ban_time,
        ban_time_max,
        never_ban,
        trusted_networks,
        fail_mode,
    }
}

fn worker(ctx: &mut Ctx<'_>, value: Option<Value>) -> WorkerConfig {
    let mut s = Section::new(
        ctx,
        "worker",
        "worker".into(),
        value,
        Scope::Section("worker"),
    );
    let reconcile_interval = s
        .duration("reconcile_interval", true)
        .unwrap_or(Duration::from_secs(300));
    let metrics_listen = s.parse_with("metrics_listen", socket_addr);
    s.finish();
    WorkerConfig {
        reconcile_interval,
        metrics_listen,
    }
}

fn socket_addr(t: &str) -> Result<SocketAddr, String> {
    t.parse::<SocketAddr>()
        .map_err(|_| format!("{t:?} is not an address and port such as \"127.0.0.1:9091\""))
}

fn routers(ctx: &mut Ctx<'_>, value: Option<Value>) -> Vec<RouterDraft> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| router(ctx, index, item))
            .collect(),
        Some(_) => {
            ctx.problem(
                "routers",
                "expected an array of tables: write each router as a [[routers]] block",
            );
            Vec::new()
        }
    }
}

fn router(ctx: &mut Ctx<'_>, index: usize, value: Value) -> RouterDraft {
    let mut s = Section::new(
        ctx,
        "routers",
        format!("routers[{index}]"),
        Some(value),
        Scope::Nowhere,
    );
    let name: Option<RouterName> = s.parsed("name");
    if let Some(name) = &name {
        s.rename(
            format!("routers[{name}]"),
            Scope::Router(router_env_name(name.as_str())),
        );
    }
    let host = s.parse_with("host", check_host);
    let port = s.int("port", 1u16, u16::MAX).unwrap_or(22);
    let user = s.parse_with("user", check_user);
    let auth = router_auth(&mut s);
    let host_key = s.parse_with("host_key", check_host_key);
    let token = s.secret("token", "token_file");
    let token = checked(&mut s, "token", token, check_token);
    let sandbox_list = list(&mut s, "sandbox_list", "tgate-sandbox");
    let permit_list = list(&mut s, "permit_list", "tgate-permit");
    let ban_list = list(&mut s, "ban_list", "tgate-ban");
    let vpn_pool = s.network("vpn_pool");
    let ppp_profile = match s.parsed("ppp_profile") {
        Some(name) => Some(name),
        None if s.is_present("ppp_profile") => None,
        None => "default-encryption".parse().ok(),
    };
    let trust_router_chat_id = s.bool("trust_router_chat_id").unwrap_or(false);
    let compat = s.bool("compat").unwrap_or(false);
    let command_timeout = s
        .duration("command_timeout", true)
        .unwrap_or(Duration::from_secs(5));
    s.require(&["name", "host", "user", "host_key", "token"]);
    if let (Some(sandbox), Some(permit), Some(ban)) = (&sandbox_list, &permit_list, &ban_list) {
        if sandbox == permit || sandbox == ban {
            s.problem("sandbox_list", "must differ from permit_list and ban_list");
        } else if permit == ban {
            s.problem("permit_list", "must differ from ban_list");
        }
    }
    s.finish();

    let config = (|| {
        Some(RouterConfig {
            name: name.clone()?,
            host: host?,
            port,
            user: user?,
            auth: auth?,
            host_key: host_key?,
            token: token.clone()?,
            sandbox_list: sandbox_list?,
            permit_list: permit_list?,
            ban_list: ban_list?,
            vpn_pool,
            ppp_profile: ppp_profile?,
            trust_router_chat_id,
            compat,
            command_timeout,
        })
    })();
    RouterDraft {
        index,
        name,
        token,
        compat,
        config,
    }
}

/// Exactly one of `password`, `password_file` or `key_file`; a passphrase
/// only with `key_file`.
fn router_auth(s: &mut Section<'_, '_>) -> Option<RouterAuth> {
    let password = s.secret("password", "password_file");
    let key_file = s.file_path("key_file");
    let passphrase = s.secret("key_passphrase", "key_passphrase_file");
    let has_password = s.is_present("password");
    let has_key = s.is_present("key_file");
    if s.is_present("key_passphrase") && !has_key {
        s.problem("key_passphrase", "is only used with key_file");
    }
    match (has_password, has_key) {
        (true, true) => {
            s.problem(
                "key_file",
                "set together with a password; use one of password, password_file or key_file",
            );
            None
        }
        (false, false) => {
            s.problem(
                "password",
                "is required: set one of password, password_file or key_file",
            );
            None
        }
        (true, false) => password.map(RouterAuth::Password),
        (false, true) => key_file.map(|path| RouterAuth::KeyFile { path, passphrase }),
    }
}

fn list(s: &mut Section<'_, '_>, key: &'static str, default: &str) -> Option<AddressListName> {
    if let Some(name) = s.parsed(key) {
        return Some(name);
    }
    if s.is_present(key) {
        return None;
    }
    default.parse().ok()
}

/// Applies a rule to a secret that was read; the problem never shows it.
fn checked(
    s: &mut Section<'_, '_>,
    key: &str,
    secret: Option<SecretString>,
    rule: impl Fn(&str) -> Result<(), String>,
) -> Option<SecretString> {
    let secret = secret?;
    match rule(secret.expose_secret()) {
        Ok(()) => Some(secret),
        Err(why) => {
            s.problem(key, why);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use secrecy::ExposeSecret;

    use crate::config::{Config, ConfigErrors};

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_sources(toml, &env, Path::new("."))
    }

    fn problems(toml: &str) -> Vec<(String, String)> {
        load(toml, &[])
            .expect_err("expected problems")
            .problems
            .into_iter()
            .map(|p| (p.key, p.message))
            .collect()
    }

    #[test]
    fn rate_limits_and_metrics_token_default_to_open_and_fifty_per_second() {
        let c = load("", &[]).unwrap();
        assert_eq!((c.server.rate_limit, c.server.rate_burst), (50, 100));
        assert!(c.server.metrics_token.is_none());

        let c = load(
            "[server]\nrate_limit = 0\nrate_burst = 1\nmetrics_token = \"scrape-token-0123456789\"",
            &[("TGATE_SERVER__RATE_LIMIT", "7")],
        )
        .unwrap();
        assert_eq!((c.server.rate_limit, c.server.rate_burst), (7, 1));
        assert_eq!(
            c.server.metrics_token.unwrap().expose_secret(),
            "scrape-token-0123456789"
        );
    }

    #[test]
    fn bad_rate_limits_and_metrics_token_are_named() {
        let found =
            problems("[server]\nrate_limit = -1\nrate_burst = 0\nmetrics_token = \"short\"");
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.metrics_token",
                "server.rate_limit",
                "server.rate_burst"
            ],
            "{found:?}"
        );
        assert!(found[1].1.contains("at least 0"), "{found:?}");
        assert!(found[2].1.contains("at least 1"), "{found:?}");

        let found = problems("[server]\nrate_limit = \"fast\"");
        assert_eq!(found[0].0, "server.rate_limit");
        assert!(found[0].1.contains("expected an integer"), "{found:?}");
    }
}
