//! `tgate router script` and `tgate router bootstrap` as an operator runs
//! them: the real binary against the RouterOS simulator over SSH. The tests
//! look at what the router ends up with (filter rules, the profile's
//! scripts, the group, the login) and at the simulator's command log.

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;

use tgate_core::config::Config;
use tgate_core::router::setup::Setup;
use tgate_sim::{RouterSim, RouterSimConfig};

struct Env {
    sim: RouterSim,
    config: PathBuf,
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Env {
    /// A router whose tgate login does not exist yet: bootstrap logs in as
    /// the simulator's admin. `extra` is more TOML for the router.
    async fn start(public_url: &str, extra: &str) -> Env {
        let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tgate.toml");
        let toml = format!(
            r#"
[server]
public_url = "{public_url}"

[[routers]]
name = "office"
host = "127.0.0.1"
port = {port}
user = "tgate"
password = "tgate-login-password"
host_key = "{fp}"
token = "office-token-0123456789"
vpn_pool = "10.10.0.0/24"
command_timeout = "3s"
{extra}
"#,
            port = sim.addr().port(),
            fp = sim.host_key_fingerprint(),
        );
        std::fs::write(&config, toml).unwrap();
        Env { sim, config, dir }
    }

    fn setup(&self) -> Setup {
        let config = Config::load(Some(&self.config)).unwrap();
        Setup::from_config(&config.server, &config.routers[0]).unwrap()
    }

    async fn tgate(&self, args: &[&str]) -> Run {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tgate"));
        command.arg("--config").arg(&self.config).args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TGATE_") {
                command.env_remove(key);
            }
        }
        let out = command
            .env("TGATE_BOOTSTRAP_PASSWORD", "admin")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .kill_on_drop(true)
            .output()
            .await
            .expect("run tgate");
        Run {
            code: out.status.code().expect("exited"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// The commands the router received, as text.
    fn log(&self) -> Vec<String> {
        self.sim.command_log().into_iter().map(|c| c.text).collect()
    }

    /// Runs `script` over SSH as the simulator's admin, as someone pasting
    /// it into a terminal would; returns what the router printed.
    async fn paste(&self, script: String) -> String {
        let addr = self.sim.addr();
        tokio::task::spawn_blocking(move || {
            let mut session = ssh2::Session::new().unwrap();
            session.set_tcp_stream(TcpStream::connect(addr).unwrap());
            session.handshake().unwrap();
            session.userauth_password("admin", "admin").unwrap();
            let mut channel = session.channel_session().unwrap();
            channel.exec(&script).unwrap();
            let mut out = String::new();
            channel.read_to_string(&mut out).unwrap();
            channel.wait_close().unwrap();
            out
        })
        .await
        .unwrap()
    }
}

const BOOTSTRAP: &[&str] = &["router", "bootstrap", "office", "--admin-user", "admin"];

fn is_write(text: &str) -> bool {
    [" add ", " set ", " remove "]
        .iter()
        .any(|w| text.contains(w))
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_sets_up_a_fresh_router_and_a_second_run_changes_nothing() {
    let env = Env::start("https://gate.example.com", "").await;
    let setup = env.setup();

    // --dry-run reads, prints the commands, and sends none of them.
    let mut args = BOOTSTRAP.to_vec();
    args.push("--dry-run");
    let dry = env.tgate(&args).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains("9 change(s) would be sent"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("/ip firewall filter add chain=input action=drop")
    );
    assert!(dry.stdout.contains("password=<redacted>"), "{}", dry.stdout);
    assert!(!dry.stdout.contains("tgate-login-password"));
    assert!(env.log().iter().all(|c| !is_write(c)), "{:?}", env.log());
    assert!(env.sim.firewall_filters().is_empty());
    assert!(
        !env.sim
            .user_groups()
            .iter()
            .any(|g| g.get("name") == Some("tgate"))
    );

    // The real run sends exactly the commands the dry run printed.
    env.sim.clear_command_log();
    let run = env.tgate(BOOTSTRAP).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("9 change(s) applied"), "{}", run.stdout);
    let writes: Vec<String> = env.log().into_iter().filter(|c| is_write(c)).collect();
    let printed: Vec<&str> = dry.stdout.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(writes.len(), printed.len());
    for (sent, shown) in writes.iter().zip(&printed) {
        if shown.contains("password=<redacted>") {
            assert!(
                sent.ends_with("password=\"tgate-login-password\""),
                "{sent}"
            );
        } else {
            assert_eq!(sent, shown);
        }
    }

    let rules = env.sim.firewall_filters();
    let summary: Vec<String> = rules
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.get("chain").unwrap(),
                r.get("action").unwrap(),
                r.get("src-address").unwrap_or("-"),
                r.get("src-address-list").unwrap()
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "input drop - tgate-ban",
            "input drop - tgate-ban",
            "forward accept - tgate-permit",
            "forward drop - tgate-sandbox",
            "forward drop 10.10.0.0/24 !tgate-permit",
        ]
    );
    assert!(
        rules
            .iter()
            .all(|r| r.comment.as_deref().unwrap().starts_with("tgate: "))
    );
    assert_eq!(rules[0].get("dst-port"), Some("500,1701,4500"));
    let profile = env.sim.ppp_profile("default-encryption").unwrap();
    assert_eq!(profile.get("on-up"), Some(setup.on_up().as_str()));
    assert_eq!(profile.get("on-down"), Some(setup.on_down().as_str()));
    let group = env
        .sim
        .user_groups()
        .into_iter()
        .find(|g| g.get("name") == Some("tgate"))
        .expect("group tgate");
    assert!(
        group
            .get("policy")
            .unwrap()
            .starts_with("ssh,read,write,!local,"),
        "{group:?}"
    );
    let user = env
        .sim
        .users()
        .into_iter()
        .find(|u| u.get("name") == Some("tgate"));
    assert_eq!(user.unwrap().get("group"), Some("tgate"));
    assert!(env.sim.ssh_strong_crypto());

    // tgate's new login works, with the group's rights.
    let check = env.tgate(&["routers", "check", "office"]).await;
    assert_eq!(check.code, 0, "{} {}", check.stdout, check.stderr);

    // A second run reads, finds everything in place, and sends nothing.
    env.sim.clear_command_log();
    let again = env.tgate(BOOTSTRAP).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("already set up; nothing to change"),
        "{}",
        again.stdout
    );
    assert!(env.log().iter().all(|c| !is_write(c)), "{:?}", env.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_repairs_only_what_was_changed_by_hand() {
    let env = Env::start("https://gate.example.com", "").await;
    assert_eq!(env.tgate(BOOTSTRAP).await.code, 0);
    env.paste(
        "/ip firewall filter set [find comment=\"tgate: hold unconfirmed clients\"] disabled=yes\n\
         /ip ssh set strong-crypto=no"
            .to_owned(),
    )
    .await;
    env.sim.clear_command_log();
    let run = env.tgate(BOOTSTRAP).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("2 change(s) applied"), "{}", run.stdout);
    let writes: Vec<String> = env.log().into_iter().filter(|c| is_write(c)).collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(env.sim.firewall_filters().iter().all(|r| !r.disabled));
    assert!(env.sim.ssh_strong_crypto());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pasted_script_and_bootstrap_agree() {
    let env = Env::start("https://gate.example.com", "").await;
    let script = env.tgate(&["router", "script", "office"]).await;
    assert_eq!(script.code, 0, "{}", script.stderr);
    let setup = env.setup();
    assert!(script.stdout.contains(&setup.on_up()));
    let printed = env.paste(setup.setup_script()).await;
    assert_eq!(printed, "", "the router refused part of setup.rsc");

    // What the pasted script cannot do is create tgate's login (its
    // password is the operator's choice); everything else is in place.
    let mut args = BOOTSTRAP.to_vec();
    args.push("--dry-run");
    let dry = env.tgate(&args).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains("1 change(s) would be sent"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("# add user tgate in group tgate"),
        "{}",
        dry.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_values_are_refused_before_anything_is_sent() {
    // The configuration accepts this URL (it is a URL), but it cannot be put
    // in a RouterOS string.
    let env = Env::start(
        "https://gate.example.com/x\\\"; /system reset-configuration",
        "",
    )
    .await;
    let run = env.tgate(BOOTSTRAP).await;
    assert_eq!(run.code, 2, "{} {}", run.stdout, run.stderr);
    assert!(run.stderr.contains("server.public_url"), "{}", run.stderr);
    let script = env.tgate(&["router", "script", "office"]).await;
    assert_eq!(script.code, 2);
    assert!(env.log().is_empty(), "{:?}", env.log());

    // A profile name with RouterOS syntax in it never loads.
    let env = Env::start(
        "https://gate.example.com",
        "ppp_profile = \"x]; /user remove admin\"",
    )
    .await;
    let run = env.tgate(BOOTSTRAP).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("ppp_profile"), "{}", run.stderr);
    assert!(env.log().is_empty(), "{:?}", env.log());

    // A profile the router does not have is named, and nothing is written.
    let env = Env::start("https://gate.example.com", "ppp_profile = \"vpn-users\"").await;
    let run = env.tgate(BOOTSTRAP).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no PPP profile named \"vpn-users\""),
        "{}",
        run.stderr
    );
    assert!(env.log().iter().all(|c| !is_write(c)), "{:?}", env.log());
    assert!(env.sim.firewall_filters().is_empty());
}
