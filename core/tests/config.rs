//! The configuration as an operator meets it: a file, maybe some environment
//! variables and secret files, and either a typed `Config` or every problem
//! with its key.

use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;
use tgate_core::config::{
    Config, ConfigErrors, FailMode, RouterAuth, TelegramMode, format_duration, parse_duration,
};

const HOST_KEY: &str = "SHA256:AftHqQDCr0Mc7rZL0GKGe0E1G3wiC7f+KqO9hUc1vxQ";

fn router(name: &str, token: &str) -> String {
    format!(
        r#"
[[routers]]
name = "{name}"
host = "192.0.2.1"
user = "tgate"
password = "router-password-{name}"
host_key = "{HOST_KEY}"
token = "{token}"
"#
    )
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_sources(text, &[], Path::new("."))
}

fn load_env(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    Config::from_sources(text, &env(vars), Path::new("."))
}

/// The problems' keys, for asserting which keys were named.
fn keys(result: Result<Config, ConfigErrors>) -> Vec<String> {
    match result {
        Ok(_) => panic!("expected problems, the config loaded"),
        Err(e) => e.problems.into_iter().map(|p| p.key).collect(),
    }
}

/// The message of the one problem about `key`.
fn message(result: Result<Config, ConfigErrors>, key: &str) -> String {
    let errors = result.expect_err("expected problems, the config loaded");
    let found: Vec<_> = errors.problems.iter().filter(|p| p.key == key).collect();
    assert_eq!(found.len(), 1, "problems about {key} in:\n{errors}");
    found[0].message.clone()
}

#[test]
fn an_empty_file_means_every_default() {
    let c = load("").unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert!(c.server.public_url.is_none());
    assert!(c.server.admin_token.is_none() && c.server.service_token.is_none());
    assert!(c.server.trusted_proxies.is_empty());
    assert_eq!(c.database.url.as_str(), "sqlite://tgate.db");
    assert!(!c.database.url.is_postgres());
    assert!(c.telegram.token.is_none());
    assert_eq!(c.telegram.api_url, "https://api.telegram.org");
    assert!(c.telegram.admins.is_empty());
    assert_eq!(c.telegram.mode, TelegramMode::Polling);
    assert!(c.telegram.callback_key.is_none() && c.telegram.webhook_secret.is_none());
    assert_eq!(c.telegram.webhook_listen.to_string(), "127.0.0.1:8081");
    assert_eq!(c.policy.confirm_timeout, Duration::from_secs(60));
    assert_eq!(c.policy.sandbox_grace, Duration::from_secs(30));
    assert_eq!(c.policy.sandbox_timeout(), Duration::from_secs(90));
    assert_eq!(c.policy.max_session, None);
    assert_eq!(c.policy.max_strikes, 3);
    assert_eq!(c.policy.strike_window, Duration::from_secs(600));
    assert_eq!(c.policy.ban_time, Duration::from_secs(3600));
    assert_eq!(c.policy.ban_time_max, Duration::from_secs(7 * 86_400));
    assert!(c.policy.never_ban.is_empty() && c.policy.trusted_networks.is_empty());
    assert_eq!(c.policy.fail_mode, FailMode::Secure);
    assert_eq!(c.worker.reconcile_interval, Duration::from_secs(300));
    assert!(c.routers.is_empty());
    assert_eq!(
        Config::default().server.listen,
        c.server.listen,
        "Default is the empty file"
    );
}

#[test]
fn a_router_block_gets_its_defaults() {
    let c = load(&router("office", "office-token-0123456789")).unwrap();
    let r = c.router("office").expect("router office");
    assert_eq!(r.port, 22);
    assert_eq!(r.sandbox_list.as_str(), "tgate-sandbox");
    assert_eq!(r.permit_list.as_str(), "tgate-permit");
    assert_eq!(r.ban_list.as_str(), "tgate-ban");
    assert_eq!(r.vpn_pool, None);
    assert_eq!(r.ppp_profile.as_str(), "default-encryption");
    assert!(!r.trust_router_chat_id && !r.compat);
    assert_eq!(r.command_timeout, Duration::from_secs(5));
    assert!(
        matches!(&r.auth, RouterAuth::Password(p) if p.expose_secret() == "router-password-office")
    );
    assert!(c.router("branch").is_none());
    assert!(c.compat_router().is_none());
}

#[test]
fn the_example_config_loads_cleanly() {
    let text = include_str!("../../tgate.example.toml");
    let c = match Config::from_sources(text, &[], Path::new(".")) {
        Ok(c) => c,
        Err(e) => panic!("tgate.example.toml has problems:\n{e}"),
    };
    assert_eq!(c.routers.len(), 1);
    assert_eq!(c.router("office").unwrap().host_key, HOST_KEY);
}

#[test]
fn a_full_file_is_read_key_by_key() {
    let text = format!(
        r#"
[server]
listen = "0.0.0.0:9000"
public_url = "https://gate.example.com/"
admin_token = "admin-token-0123456789"
service_token = "service-token-0123456789"
trusted_proxies = ["127.0.0.1", "10.0.0.0/8", "::1"]

[database]
url = "postgres://tgate:pw@db:5432/tgate"

[telegram]
token = "123:abc"
api_url = "http://127.0.0.1:8081"
admins = [111, 222]
mode = "webhook"
callback_key = "callback-key-0123456789"
webhook_secret = "hook_secret-1"

[policy]
confirm_timeout = "90s"
sandbox_grace = "0s"
max_session = "12h"
max_strikes = 5
strike_window = "15m"
ban_time = "2h"
ban_time_max = "2w"
never_ban = ["192.0.2.0/24"]
trusted_networks = ["198.51.100.0/24", "2001:db8::/32"]
fail_mode = "safe"

[worker]
reconcile_interval = "1m30s"

[[routers]]
name = "office"
host = "router.example.com"
port = 2222
user = "tgate"
password = "office-password"
host_key = "{HOST_KEY}"
token = "office-token-0123456789"
sandbox_list = "sb"
permit_list = "pm"
ban_list = "bn"
vpn_pool = "10.10.0.0/24"
ppp_profile = "vpn-users"
trust_router_chat_id = true
compat = true
command_timeout = "10s"
{}"#,
        router("branch-2", "branch-token-0123456789")
    );
    let c = load(&text).unwrap();
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(
        c.server.public_url.as_deref(),
        Some("https://gate.example.com")
    );
    assert_eq!(
        c.server.admin_token.as_ref().unwrap().expose_secret(),
        "admin-token-0123456789"
    );
    assert_eq!(
        c.server
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    );
    assert!(c.database.url.is_postgres());
    assert_eq!(c.database.url.as_str(), "postgres://tgate:pw@db:5432/tgate");
    assert_eq!(
        c.telegram.token.as_ref().unwrap().expose_secret(),
        "123:abc"
    );
    assert_eq!(c.telegram.api_url, "http://127.0.0.1:8081");
    assert_eq!(c.telegram.admins, [111, 222]);
    assert_eq!(c.telegram.mode, TelegramMode::Webhook);
    assert_eq!(
        c.telegram.webhook_secret.as_ref().unwrap().expose_secret(),
        "hook_secret-1"
    );
    assert_eq!(c.policy.confirm_timeout, Duration::from_secs(90));
    assert_eq!(c.policy.sandbox_timeout(), Duration::from_secs(90));
    assert_eq!(c.policy.max_session, Some(Duration::from_secs(12 * 3600)));
    assert_eq!(c.policy.max_strikes, 5);
    assert_eq!(c.policy.ban_time_max, Duration::from_secs(14 * 86_400));
    assert_eq!(c.policy.trusted_networks.len(), 2);
    assert_eq!(c.policy.fail_mode, FailMode::Safe);
    assert_eq!(c.worker.reconcile_interval, Duration::from_secs(90));
    let office = c.router("office").unwrap();
    assert_eq!(office.host, "router.example.com");
    assert_eq!(office.port, 2222);
    assert_eq!(office.ban_list.as_str(), "bn");
    assert_eq!(office.vpn_pool.unwrap().to_string(), "10.10.0.0/24");
    assert_eq!(office.ppp_profile.as_str(), "vpn-users");
    assert!(office.trust_router_chat_id && office.compat);
    assert_eq!(office.command_timeout, Duration::from_secs(10));
    assert_eq!(c.compat_router().unwrap().name.as_str(), "office");
    assert_eq!(c.router("branch-2").unwrap().port, 22);
}

#[test]
fn every_mistake_in_a_file_is_reported_with_its_key() {
    let text = format!(
        r#"
[server]
listen = "localhost"
trusted_proxies = ["10.0.0.0/33"]
colour = "blue"

[database]
url = "mysql://db/tgate"

[telegram]
admins = ["alice"]
mode = "push"

[policy]
confirm_timeout = 60
max_strikes = 0
ban_time = "2w"
ban_time_max = "1w"
never_ban = ["192.0.2.0/24", "nope"]
fail_mode = "open"
max_strike = 4

[worker]
reconcile_interval = "5 minutes"

[[routers]]
name = "office"
host = "192.0.2.1"
port = 70000
user = "tgate"
password = "pw"
host_key = "SHA256:tooshort"
token = "short"
sandbox_list = "bad list"
compat = true

[[routers]]
name = "bad name!"
host = "192.0.2.2"
user = "tgate"
key_file = "/nonexistent/tgate/key"
password = "pw"
host_key = "{HOST_KEY}"
token = "bad-name-token-0123456789"

[[routers]]
host = "192.0.2.3"
compat = "yes"
{}{}
[extras]
x = 1
"#,
        router("branch", "branch-token-0123456789"),
        router("branch", "branch-token-0123456789"),
    );
    let got = keys(load(&text));
    let want = [
        "server.listen",
        "server.trusted_proxies[0]",
        "server.colour",
        "database.url",
        "telegram.admins[0]",
        "telegram.mode",
        "policy.confirm_timeout",
        "policy.max_strikes",
        "policy.ban_time_max",
        "policy.never_ban[1]",
        "policy.fail_mode",
        "policy.max_strike",
        "worker.reconcile_interval",
        "routers[office].port",
        "routers[office].host_key",
        "routers[office].token",
        "routers[office].sandbox_list",
        "routers[1].name",
        "routers[1].key_file", // cannot be read
        "routers[1].key_file", // and is set together with a password
        "routers[2].compat",
        "routers[2].name",
        "routers[2].user",
        "routers[2].password",
        "routers[2].host_key",
        "routers[2].token",
        "routers[4].name",
        "routers[4].token", // by index: two routers are named "branch"
        "extras",
    ];
    for key in want {
        assert!(
            got.contains(&key.to_owned()),
            "no problem for {key}; got {got:#?}"
        );
    }
    assert_eq!(got.len(), want.len(), "unexpected problems: {got:#?}");
}

#[test]
fn problems_explain_themselves() {
    let m = message(load("[policy]\nmax_strike = 4\n"), "policy.max_strike");
    assert_eq!(m, "unknown key; did you mean \"max_strikes\"?");
    let m = message(load("[polcy]\n"), "polcy");
    assert!(m.contains("did you mean [policy]"), "{m}");
    let m = message(load("listen = \"0.0.0.0:80\"\n"), "listen");
    assert!(m.contains("belongs under [server]"), "{m}");
    let m = message(
        load("[policy]\nconfirm_timeout = 60\n"),
        "policy.confirm_timeout",
    );
    assert!(m.contains("\"60s\""), "{m}");
    let m = message(load("[policy]\nban_time = \"1x\"\n"), "policy.ban_time");
    assert!(m.contains("unknown unit \"x\""), "{m}");
    let m = message(
        load("[policy]\nmax_strikes = \"3\"\n"),
        "policy.max_strikes",
    );
    assert_eq!(m, "expected an integer, found a string");
    let m = message(load("[policy]\nmax_strikes = 0\n"), "policy.max_strikes");
    assert_eq!(m, "must be at least 1, not 0");
    let m = message(
        load("[policy]\nban_time = \"2w\"\nban_time_max = \"1w\"\n"),
        "policy.ban_time_max",
    );
    assert!(m.contains("at least ban_time (2w)"), "{m}");
    let m = message(
        load("[policy]\nnever_ban = [\"192.0.2.1/24\"]\n"),
        "policy.never_ban[0]",
    );
    assert!(m.contains("did you mean \"192.0.2.0/24\""), "{m}");
    let m = message(load("[telegram]\nmode = \"webhook\"\n"), "telegram.mode");
    assert!(m.contains("server.public_url"), "{m}");
    let m = message(
        load("[telegram]\nmode = \"webhook\"\n"),
        "telegram.webhook_secret",
    );
    assert!(m.contains("required in webhook mode"), "{m}");
    let m = message(load("routers = 1\n"), "routers");
    assert!(m.contains("[[routers]]"), "{m}");
    let m = message(load("server = 1\n"), "server");
    assert!(m.contains("expected a table"), "{m}");
}

#[test]
fn list_names_are_refused_with_the_domain_reason() {
    let text = router("office", "office-token-0123456789") + "ban_list = \"tgate ban\"\n";
    let m = message(load(&text), "routers[office].ban_list");
    assert!(m.contains("character ' ' is not allowed"), "{m}");
    let text = router("office", "office-token-0123456789") + "ban_list = \"tgate-sandbox\"\n";
    assert_eq!(keys(load(&text)), ["routers[office].sandbox_list"]);
    // The profile name is sent to the router unquoted, so it is held to the
    // same alphabet.
    let text =
        router("office", "office-token-0123456789") + "ppp_profile = \"vpn\\\"; /system reset\"\n";
    let m = message(load(&text), "routers[office].ppp_profile");
    assert!(m.contains("is not allowed"), "{m}");
}

#[test]
fn routers_must_differ_in_name_token_and_compat() {
    let text = router("office", "same-token-0123456789")
        + "compat = true\n"
        + &router("office", "other-token-0123456789")
        + &router("branch", "same-token-0123456789")
        + "compat = true\n";
    let errors = load(&text).unwrap_err();
    assert_eq!(
        keys(Err(errors.clone())),
        [
            "routers[1].name",
            "routers[branch].token",
            "routers[branch].compat"
        ]
    );
    let text = errors.to_string();
    assert!(text.contains("already the name of routers[0]"), "{text}");
    assert!(text.contains("same as the token of routers[0]"), "{text}");
    assert!(!text.contains("same-token"), "a token leaked: {text}");
}

#[test]
fn host_keys_must_be_sha256_fingerprints() {
    for bad in [
        "SHA256:abc",
        "MD5:d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e",
        "AftHqQDCr0Mc7rZL0GKGe0E1G3wiC7f+KqO9hUc1vxQ",
    ] {
        let text = router("office", "office-token-0123456789").replace(HOST_KEY, bad);
        let m = message(load(&text), "routers[office].host_key");
        assert!(m.contains("43 base64 characters"), "{m}");
    }
}

#[test]
fn router_auth_is_exactly_one_of_password_password_file_key_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("id_ed25519"), "KEY").unwrap();
    std::fs::write(dir.path().join("pass"), "key-pass\n").unwrap();
    let base = router("office", "office-token-0123456789")
        .replace("password = \"router-password-office\"\n", "");
    let with = |extra: &str| Config::from_sources(&(base.clone() + extra), &[], dir.path());

    let c = with("key_file = \"id_ed25519\"\nkey_passphrase_file = \"pass\"\n").unwrap();
    match &c.routers[0].auth {
        RouterAuth::KeyFile { path, passphrase } => {
            assert_eq!(path, &dir.path().join("id_ed25519"));
            assert_eq!(passphrase.as_ref().unwrap().expose_secret(), "key-pass");
        }
        other => panic!("expected a key file, got {other:?}"),
    }
    assert!(with("key_file = \"id_ed25519\"\n").is_ok());
    assert_eq!(keys(with("")), ["routers[office].password"]);
    assert_eq!(
        keys(with("key_file = \"id_ed25519\"\npassword = \"pw\"\n")),
        ["routers[office].key_file"]
    );
    assert_eq!(
        keys(with("password = \"pw\"\nkey_passphrase = \"pp\"\n")),
        ["routers[office].key_passphrase"]
    );
    assert_eq!(
        keys(with("key_file = \"missing_key\"\n")),
        ["routers[office].key_file"]
    );
}

#[test]
fn secrets_can_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/bot"), "123:from-file\n").unwrap();
    std::fs::write(dir.path().join("secrets/router"), "router-pw-from-file\r\n").unwrap();
    let abs_token = dir.path().join("router_token");
    std::fs::write(&abs_token, "router-token-from-file-0123").unwrap();
    let text = format!(
        "[telegram]\ntoken_file = \"secrets/bot\"\n{}",
        router("office", "x")
            .replace(
                "password = \"router-password-office\"",
                "password_file = \"secrets/router\""
            )
            .replace(
                "token = \"x\"",
                &format!("token_file = {:?}", abs_token.to_str().unwrap())
            )
    );
    let c = Config::from_sources(&text, &[], dir.path()).unwrap();
    assert_eq!(c.telegram.token.unwrap().expose_secret(), "123:from-file");
    let r = &c.routers[0];
    assert_eq!(r.token.expose_secret(), "router-token-from-file-0123");
    assert!(
        matches!(&r.auth, RouterAuth::Password(p) if p.expose_secret() == "router-pw-from-file")
    );
}

#[test]
fn secret_files_that_cannot_be_used_are_problems_that_never_show_the_content() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    std::fs::write(dir.path().join("short"), "hunter2\n").unwrap();
    let text = r#"
[server]
admin_token_file = "short"
service_token_file = "missing"
[telegram]
token = "123:abc"
token_file = "empty"
callback_key_file = "empty"
"#;
    let errors = Config::from_sources(text, &[], dir.path()).unwrap_err();
    assert_eq!(
        keys(Err(errors.clone())),
        [
            "server.admin_token",
            "server.service_token_file",
            "telegram.token",
            "telegram.callback_key_file",
        ]
    );
    let text = errors.to_string();
    assert!(text.contains("set together with token_file"), "{text}");
    assert!(text.contains("cannot read"), "{text}");
    assert!(text.contains("is empty"), "{text}");
    assert!(!text.contains("hunter2"), "a secret leaked: {text}");
}

#[test]
fn environment_overrides_strings_numbers_and_lists() {
    let c = load_env(
        &router("office-1.lan", "office-token-0123456789"),
        &[
            ("TGATE_TELEGRAM__TOKEN", "999:from-env"),
            ("TGATE_DATABASE__URL", "postgres://u:p@db/tgate"),
            ("TGATE_POLICY__MAX_STRIKES", "7"),
            ("TGATE_policy__Confirm_Timeout", "2m"),
            ("TGATE_TELEGRAM__ADMINS", "[1, 2]"),
            ("TGATE_SERVER__TRUSTED_PROXIES", "\"10.0.0.1\""),
            ("TGATE_ROUTERS__OFFICE_1_LAN__PORT", "2222"),
            ("TGATE_ROUTERS__office_1_lan__HOST", "198.51.100.1"),
            ("TGATE_ROUTERS__OFFICE_1_LAN__COMPAT", "true"),
            ("TGATE_CONFIG", "/etc/tgate.toml"),
            ("TGATE_TEST_DATABASE__URL", "not even a url"),
        ],
    )
    .unwrap();
    assert_eq!(
        c.telegram.token.as_ref().unwrap().expose_secret(),
        "999:from-env"
    );
    assert!(c.database.url.is_postgres());
    assert_eq!(c.policy.max_strikes, 7);
    assert_eq!(c.policy.confirm_timeout, Duration::from_secs(120));
    assert_eq!(c.telegram.admins, [1, 2]);
    assert_eq!(c.server.trusted_proxies[0].to_string(), "10.0.0.1/32");
    let r = c.router("office-1.lan").unwrap();
    assert_eq!(
        (r.port, r.host.as_str(), r.compat),
        (2222, "198.51.100.1", true)
    );
}

#[test]
fn an_environment_secret_replaces_the_files_secret_file() {
    let text = "[telegram]\ntoken_file = \"/nonexistent/bot\"\n";
    let c = load_env(text, &[("TGATE_TELEGRAM__TOKEN", "1:env")]).unwrap();
    assert_eq!(c.telegram.token.unwrap().expose_secret(), "1:env");
    assert_eq!(
        keys(load_env(
            "",
            &[
                ("TGATE_TELEGRAM__TOKEN", "1:env"),
                ("TGATE_TELEGRAM__TOKEN_FILE", "/x")
            ]
        )),
        ["telegram.token"]
    );
}

#[test]
fn bad_environment_overrides_name_the_variable() {
    let result = load_env(
        &router("office", "office-token-0123456789"),
        &[
            ("TGATE_POLICY__MAX_STRIKES", "three"),
            ("TGATE_POLICY__BAN_TIME", "forever"),
            ("TGATE_TELEGRAM__ADMINS", "[1, \"x\"]"),
            ("TGATE_POLICY__MAX_STRIKE", "3"),
            ("TGATE_POLICE__MAX_STRIKES", "3"),
            ("TGATE_ROUTERS__BRANCH__HOST", "192.0.2.9"),
            ("TGATE_ROUTERS__OFFICE__HOSTT", "192.0.2.9"),
            ("TGATE_ROUTERS__OFFICE__NAME", "other"),
            ("TGATE_ROUTERS__PORT", "22"),
        ],
    );
    let errors = result.unwrap_err();
    let text = errors.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 9, "{text}");
    for expected in [
        "TGATE_POLICY__MAX_STRIKES: not a TOML value for policy.max_strikes",
        "policy.ban_time: \"forever\" is not a duration",
        "(set by TGATE_POLICY__BAN_TIME)",
        "telegram.admins[1]: expected an integer, found a string (set by TGATE_TELEGRAM__ADMINS)",
        "TGATE_POLICY__MAX_STRIKE: unknown key \"max_strike\" in [policy]; did you mean MAX_STRIKES?",
        "TGATE_POLICE__MAX_STRIKES: unknown section \"police\"; did you mean POLICY?",
        "TGATE_ROUTERS__BRANCH__HOST: no router in the config file is named like \"BRANCH\"",
        "TGATE_ROUTERS__OFFICE__HOSTT: unknown key \"hostt\" in [routers]; did you mean HOST?",
        "TGATE_ROUTERS__OFFICE__NAME: a router's name cannot be set from the environment",
        "TGATE_ROUTERS__PORT: expected TGATE_<SECTION>__<KEY> or TGATE_ROUTERS__<NAME>__<KEY>",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn a_syntax_error_is_one_problem_with_its_line() {
    let errors = load("[server]\nlisten = \"127.0.0.1:8080\"\nadmin_token = \n").unwrap_err();
    assert_eq!(errors.problems.len(), 1, "{errors}");
    assert!(errors.problems[0].key.starts_with("line 3,"), "{errors}");
    assert!(
        errors.problems[0].message.starts_with("TOML syntax error"),
        "{errors}"
    );
    let errors = load("[server]\nlisten = 1\n[server]\n").unwrap_err();
    assert_eq!(errors.problems.len(), 1, "{errors}");
}

#[test]
fn debug_output_never_shows_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), "KEY").unwrap();
    let text = format!(
        r#"
[server]
admin_token = "SECRET-admin-0123456789"
service_token = "SECRET-service-0123456789"
[database]
url = "postgres://tgate:SECRET-db@db/tgate"
[telegram]
token = "123:SECRET-bot"
callback_key = "SECRET-callback-0123456789"
webhook_secret = "SECRET-hook"
{}
[[routers]]
name = "branch"
host = "192.0.2.2"
user = "tgate"
key_file = "key"
key_passphrase = "SECRET-passphrase"
host_key = "{HOST_KEY}"
token = "SECRET-branch-token-0123"
"#,
        router("office", "SECRET-office-token-0123")
            .replace("router-password-office", "SECRET-router-password")
    );
    let c = Config::from_sources(&text, &[], dir.path()).unwrap();
    let debug = format!("{c:?}");
    let pretty = format!("{c:#?}");
    for shown in [&debug, &pretty] {
        assert!(!shown.contains("SECRET"), "a secret leaked: {shown}");
    }
    assert!(debug.contains("postgres://tgate:****@db/tgate"), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
    assert!(
        debug.contains("office") && debug.contains("192.0.2.1"),
        "{debug}"
    );
}

#[test]
fn load_reads_the_given_file_and_refuses_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let errors = Config::load(Some(&missing)).unwrap_err();
    assert_eq!(errors.problems.len(), 1);
    assert!(
        errors.problems[0].message.contains("given by --config"),
        "{errors}"
    );

    std::fs::write(dir.path().join("bot"), "42:from-file\n").unwrap();
    let path = dir.path().join("tgate.toml");
    std::fs::write(&path, "[telegram]\ntoken_file = \"bot\"\n").unwrap();
    let c = Config::load(Some(&path)).unwrap();
    assert_eq!(c.telegram.token.unwrap().expose_secret(), "42:from-file");
}

#[test]
fn durations_round_trip() {
    for text in ["500ms", "90s", "10m", "1h", "1d", "1w", "1h30m"] {
        let d = parse_duration(text).unwrap();
        assert_eq!(parse_duration(&format_duration(d)), Ok(d));
    }
    assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    for bad in ["", "10", "1x", "-5s"] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn an_override_matching_two_routers_is_a_problem() {
    let text =
        router("gw-1", "gw-dash-token-0123456789") + &router("gw.1", "gw-dot-token-0123456789");
    let m = message(
        load_env(&text, &[("TGATE_ROUTERS__GW_1__PORT", "2222")]),
        "TGATE_ROUTERS__GW_1__PORT",
    );
    assert!(m.contains("routers[gw-1], routers[gw.1]"), "{m}");
}

/// The example configuration is the reference: every key tgate reads is in
/// it, set or commented out, with its explanation.
#[test]
fn the_example_config_shows_every_key_tgate_reads() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tgate.example.toml"
    ))
    .unwrap();
    let shown = |key: &str| {
        example.lines().any(|line| {
            let line = line.trim_start_matches(['#', ' ']);
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    };
    let keys = tgate_core::config::Config::known_keys();
    assert!(keys["routers"].contains(&"host_key"), "{keys:?}");
    let missing: Vec<String> = keys
        .iter()
        .flat_map(|(section, keys)| keys.iter().map(move |k| (section, k)))
        // The header explains `<secret>_file` once for every secret.
        .filter(|(_, key)| !shown(key) && !key.strip_suffix("_file").is_some_and(shown))
        .map(|(section, key)| format!("{section}.{key}"))
        .collect();
    assert!(missing.is_empty(), "tgate.example.toml lacks {missing:?}");
}
