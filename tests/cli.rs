//! The admin CLI as an operator runs it: the real `tgate` binary, a config
//! file, a real database (SQLite, or PostgreSQL with
//! `TGATE_TEST_DATABASE_URL`) and the RouterOS simulator over SSH. Each test
//! asserts what the operator would see (stdout, stderr, the exit code) and
//! what changed: rows in the database, entries on the router.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tgate_core::domain::{AccountName, RouterName, Service, SessionId, SessionState};
use tgate_core::storage::testing::TestDb;
use tgate_core::storage::{AuditFilter, Inserted, NewSession, Store};
use tgate_sim::{RouterSim, RouterSimConfig};

const BAN: &str = "tgate-ban";

struct Env {
    sim: RouterSim,
    db: TestDb,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

/// What one run of `tgate` printed and how it exited.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        assert_eq!(self.code, 0, "tgate failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "tgate failed: {}", self.stderr);
        &self.stdout
    }
}

fn office() -> RouterName {
    "office".parse().unwrap()
}

fn account(name: &str) -> AccountName {
    name.parse().unwrap()
}

impl Env {
    async fn start() -> Env {
        let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
        let db = TestDb::new().await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tgate.toml");
        let toml = format!(
            r#"
[database]
url = "{db_url}"

[policy]
never_ban = ["192.0.2.0/24"]

[[routers]]
name = "office"
host = "127.0.0.1"
port = {port}
user = "admin"
password = "admin"
host_key = "{fp}"
token = "office-token-0123456789"
command_timeout = "3s"
"#,
            db_url = db.url,
            port = sim.addr().port(),
            fp = sim.host_key_fingerprint(),
        );
        std::fs::write(&config, toml).unwrap();
        db.store.sync_routers(&[office()]).await.unwrap();
        Env {
            sim,
            db,
            config,
            _dir: dir,
        }
    }

    fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    /// Runs `tgate --config <file> <args>` as user `tester`.
    async fn tgate(&self, args: &[&str]) -> Run {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tgate"));
        command.arg("--config").arg(&self.config).args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TGATE_") {
                command.env_remove(key);
            }
        }
        let Output {
            status,
            stdout,
            stderr,
        } = command
            .env("USER", "tester")
            .env_remove("RUST_LOG")
            .kill_on_drop(true)
            .output()
            .await
            .expect("run tgate");
        let run = Run {
            code: status.code().expect("tgate exited, not killed"),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        };
        // A target directory shared by several checkouts may hold another
        // branch's binary by the time it runs; say so rather than fail oddly.
        assert!(
            !run.stderr.contains("unrecognized subcommand"),
            "{} is not this branch's build: {}",
            env!("CARGO_BIN_EXE_tgate"),
            run.stderr
        );
        run
    }

    fn ban_list(&self) -> Vec<String> {
        self.sim
            .address_list(BAN)
            .into_iter()
            .map(|e| e.address)
            .collect()
    }

    /// The CLI's audit records, newest first.
    async fn cli_audit(&self) -> Vec<String> {
        self.store()
            .audit_log(&AuditFilter {
                actor: Some("cli:tester".into()),
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect()
    }

    /// A pending session of `name` on the office router, as if it had connected.
    async fn pending(&self, name: &str, caller: &str, tunnel: &str) -> SessionId {
        let name = account(name);
        self.store().ensure_account(&office(), &name).await.unwrap();
        let now = Utc::now();
        let session = NewSession {
            id: SessionId::new(),
            router: office(),
            account: name,
            caller_id: caller.parse().unwrap(),
            remote_address: tunnel.parse().unwrap(),
            local_address: None,
            service: Service::L2tp,
            interface: None,
            chat_id: None,
            language: None,
            created_at: now,
            deadline: now + chrono::Duration::minutes(5),
        };
        match self.store().insert_pending(&session).await.unwrap() {
            Inserted::Created(s) => s.id,
            Inserted::PendingExists(_) => panic!("a pending session already exists"),
        }
    }
}

#[tokio::test]
async fn bans_are_added_listed_and_lifted_on_the_database_and_the_router() {
    let env = Env::start().await;

    let run = env
        .tgate(&[
            "bans",
            "add",
            "203.0.113.0/24",
            "--for",
            "2h",
            "--reason",
            "x",
            "--json",
        ])
        .await;
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let added = run.json();
    assert_eq!(added["network"], "203.0.113.0/24");
    assert_eq!(added["reason"], "x");
    assert_eq!(added["created_by"], "cli:tester");
    assert_eq!(added["active"], true);
    let id = added["id"].as_i64().expect("ban id");

    let row = env.store().ban(id).await.unwrap().expect("ban row");
    assert_eq!(row.network.to_string(), "203.0.113.0/24");
    assert!(row.lifted_at.is_none());
    let left = row.until - Utc::now();
    assert!(left > chrono::Duration::minutes(119) && left <= chrono::Duration::hours(2));

    let entries = env.sim.address_list(BAN);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].address, "203.0.113.0/24");
    let timeout = entries[0].timeout.expect("the ban entry has a timeout");
    assert!(
        timeout > Duration::from_secs(2 * 3600 - 60) && timeout <= Duration::from_secs(2 * 3600),
        "timeout {timeout:?}"
    );

    let listed = env.tgate(&["bans", "list", "--json"]).await.json();
    let listed = listed.as_array().expect("an array");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id);
    let covering = env
        .tgate(&["bans", "list", "--address", "203.0.113.9", "--json"])
        .await
        .json();
    assert_eq!(covering.as_array().unwrap().len(), 1);
    let elsewhere = env
        .tgate(&["bans", "list", "--address", "198.51.100.1", "--json"])
        .await
        .json();
    assert_eq!(elsewhere, Value::Array(vec![]));

    let table = env.tgate(&["bans", "list"]).await;
    let header = table.ok().lines().next().expect("a header line");
    for column in ["ID", "NETWORK", "UNTIL", "REASON"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.stdout.contains("203.0.113.0/24"));

    // By id.
    let lifted = env
        .tgate(&["bans", "rm", &id.to_string(), "--json"])
        .await
        .json();
    assert_eq!(lifted[0]["id"], id);
    assert_eq!(lifted[0]["active"], false);
    let row = env.store().ban(id).await.unwrap().unwrap();
    assert_eq!(row.lifted_by.as_deref(), Some("cli:tester"));
    assert!(env.ban_list().is_empty(), "{:?}", env.ban_list());
    assert_eq!(
        env.tgate(&["bans", "list", "--json"]).await.json(),
        Value::Array(vec![])
    );
    let all = env.tgate(&["bans", "list", "--all", "--json"]).await.json();
    assert_eq!(all.as_array().unwrap().len(), 1);

    // Lifting it again finds nothing in force.
    let again = env.tgate(&["bans", "rm", &id.to_string()]).await;
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains(&format!("no active ban {id}")));
    let missing = env.tgate(&["bans", "rm", "999"]).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no active ban 999"),
        "{}",
        missing.stderr
    );
    assert!(!missing.stderr.contains("panicked"));

    // By address: every active ban on exactly that network, and no other.
    env.tgate(&["bans", "add", "198.51.100.7", "--for", "1h"])
        .await
        .ok();
    env.tgate(&["bans", "add", "198.51.100.7", "--for", "3h"])
        .await
        .ok();
    env.tgate(&["bans", "add", "198.51.100.0/24", "--for", "1h"])
        .await
        .ok();
    assert_eq!(env.ban_list().len(), 2, "{:?}", env.ban_list());
    let lifted = env
        .tgate(&["bans", "rm", "198.51.100.7", "--json"])
        .await
        .json();
    assert_eq!(lifted.as_array().unwrap().len(), 2);
    assert_eq!(env.ban_list(), vec!["198.51.100.0/24".to_owned()]);
    let active = env.store().active_bans(Utc::now()).await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].network.to_string(), "198.51.100.0/24");
    let none = env.tgate(&["bans", "rm", "198.51.100.7"]).await;
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("no active ban on 198.51.100.7"));
}

#[tokio::test]
async fn bad_input_exits_2_names_the_argument_and_changes_nothing() {
    let env = Env::start().await;
    let cases: &[(&[&str], &str)] = &[
        (&["bans", "add", "nope"], "<IP|CIDR>"),
        (&["bans", "add", "203.0.113.0/33"], "<IP|CIDR>"),
        (&["bans", "add", "203.0.113.7", "--for", "soon"], "--for"),
        (&["bans", "add", "203.0.113.7", "--for", "0s"], "--for"),
        (&["bans", "add", "0.0.0.0/0"], "<IP|CIDR>"),
        (&["bans", "add", "192.0.2.10"], "never_ban"),
        (
            &["bans", "add", "203.0.113.7", "--reason", "a\nb"],
            "--reason",
        ),
        (&["bans", "rm", "x.y"], "<ID|IP|CIDR>"),
        (&["bans", "list", "--limit", "0"], "--limit"),
        (&["accounts", "add", "nowhere", "alice"], "nowhere"),
        (&["accounts", "add", "office", "bad;name"], "<ACCOUNT>"),
        (&["accounts", "lock", "nowhere", "alice"], "<ROUTER>"),
        (&["accounts", "invite", "nowhere", "alice"], "nowhere"),
        (&["sessions", "list", "--router", "nowhere"], "--router"),
        (&["sessions", "list", "--state", "asleep"], "--state"),
        (&["sessions", "kick", "not-a-uuid"], "<SESSION_ID>"),
        (&["routers", "check", "nowhere"], "<ROUTER>"),
        (&["audit", "--since", "yesterday"], "--since"),
    ];
    for (args, named) in cases {
        let run = env.tgate(args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(named), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }

    let missing_config = env
        .tgate(&["--config", "/nonexistent/tgate.toml", "bans", "list"])
        .await;
    assert_eq!(missing_config.code, 2, "{}", missing_config.stderr);

    assert!(
        env.store()
            .list_bans(None, 100, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(env.store().list_accounts(None).await.unwrap().is_empty());
    assert!(env.ban_list().is_empty());
    assert!(env.cli_audit().await.is_empty());
}

#[tokio::test]
async fn accounts_are_added_locked_unlocked_and_disowned() {
    let env = Env::start().await;

    let added = env
        .tgate(&["accounts", "add", "office", "alice", "--json"])
        .await
        .json();
    assert_eq!(added["router"], "office");
    assert_eq!(added["account"], "alice");
    assert_eq!(added["locked"], false);
    assert_eq!(added["owner_tg_id"], Value::Null);
    // Adding twice is no error and no second account.
    env.tgate(&["accounts", "add", "office", "alice"])
        .await
        .ok();
    env.tgate(&["accounts", "add", "office", "bob"]).await.ok();

    let listed = env
        .tgate(&["accounts", "list", "--router", "office", "--json"])
        .await
        .json();
    let names: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"alice".to_owned()) && names.contains(&"bob".to_owned()));
    let table = env.tgate(&["accounts", "list"]).await;
    let header = table.ok().lines().next().unwrap();
    for column in ["ROUTER", "ACCOUNT", "OWNER", "LOCKED"] {
        assert!(header.contains(column), "{header}");
    }

    let locked = env
        .tgate(&["accounts", "lock", "office", "alice", "--json"])
        .await
        .json();
    assert_eq!(locked["locked"], true);
    let row = env
        .store()
        .account(&office(), &account("alice"))
        .await
        .unwrap()
        .unwrap();
    assert!(row.locked);
    let unlocked = env
        .tgate(&["accounts", "unlock", "office", "alice", "--json"])
        .await
        .json();
    assert_eq!(unlocked["locked"], false);
    let row = env
        .store()
        .account(&office(), &account("alice"))
        .await
        .unwrap()
        .unwrap();
    assert!(!row.locked);

    // Enrolled in Telegram, then disowned from the CLI.
    env.store()
        .set_account_owner(&office(), &account("alice"), Some(4242))
        .await
        .unwrap();
    let disowned = env
        .tgate(&["accounts", "disown", "office", "alice", "--json"])
        .await
        .json();
    assert_eq!(disowned["owner_tg_id"], Value::Null);
    let row = env
        .store()
        .account(&office(), &account("alice"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.owner_tg_id, None);

    let unknown = env.tgate(&["accounts", "lock", "office", "carol"]).await;
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("carol"), "{}", unknown.stderr);

    let invite = env
        .tgate(&[
            "accounts", "invite", "office", "bob", "--ttl", "1h", "--json",
        ])
        .await
        .json();
    assert!(invite["code"].as_str().is_some_and(|c| !c.is_empty()));
    let plain = env.tgate(&["accounts", "invite", "office", "bob"]).await;
    assert!(!plain.ok().trim().is_empty());

    let actions = env.cli_audit().await;
    for action in [
        "account.add",
        "account.lock",
        "account.unlock",
        "account.disown",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|a| *a == "account.add").count(),
        2,
        "alice once, bob once: {actions:?}"
    );
}

#[tokio::test]
async fn sessions_are_listed_and_kicked() {
    let env = Env::start().await;
    let tunnel: IpAddr = "10.10.0.5".parse().unwrap();
    env.sim
        .connect_ppp("alice", "l2tp", "198.51.100.20", tunnel)
        .await
        .unwrap();
    let alice = env.pending("alice", "198.51.100.20", "10.10.0.5").await;
    let bob = env.pending("bob", "198.51.100.21", "10.10.0.6").await;
    env.store()
        .transition(
            bob,
            tgate_core::domain::Transition::Close,
            Utc::now(),
            "test",
        )
        .await
        .unwrap()
        .expect("bob's session closes");

    let all = env.tgate(&["sessions", "list", "--json"]).await.json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let pending = env
        .tgate(&["sessions", "list", "--state", "pending", "--json"])
        .await
        .json();
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], alice.to_string());
    assert_eq!(pending[0]["account"], "alice");
    assert_eq!(pending[0]["remote_address"], "10.10.0.5");
    let of_bob = env
        .tgate(&[
            "sessions",
            "list",
            "--account",
            "bob",
            "--router",
            "office",
            "--json",
        ])
        .await
        .json();
    assert_eq!(of_bob.as_array().unwrap().len(), 1);
    assert_eq!(of_bob[0]["state"], "closed");
    let limited = env
        .tgate(&["sessions", "list", "--limit", "1", "--json"])
        .await
        .json();
    assert_eq!(limited.as_array().unwrap().len(), 1);
    let table = env.tgate(&["sessions", "list"]).await;
    let header = table.ok().lines().next().unwrap();
    for column in ["ID", "ROUTER", "ACCOUNT", "STATE"] {
        assert!(header.contains(column), "{header}");
    }

    assert_eq!(env.sim.active_sessions().len(), 1);
    let kicked = env
        .tgate(&["sessions", "kick", &alice.to_string(), "--json"])
        .await
        .json();
    assert_eq!(kicked["state"], "closed");
    let row = env.store().session(alice).await.unwrap().unwrap();
    assert_eq!(row.state, SessionState::Closed);
    assert!(env.sim.active_sessions().is_empty());

    let again = env.tgate(&["sessions", "kick", &alice.to_string()]).await;
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already closed"), "{}", again.stderr);
    let nobody = env
        .tgate(&["sessions", "kick", &SessionId::new().to_string()])
        .await;
    assert_eq!(nobody.code, 1);
    assert!(nobody.stderr.contains("no session"), "{}", nobody.stderr);
    assert!(env.cli_audit().await.contains(&"session.kick".to_owned()));
}

#[tokio::test]
async fn routers_are_listed_and_checked_live() {
    let env = Env::start().await;

    let listed = env.tgate(&["routers", "list", "--json"]).await.json();
    assert_eq!(listed[0]["name"], "office");
    assert_eq!(listed[0]["host"], "127.0.0.1");
    assert_eq!(listed[0]["port"], env.sim.addr().port());
    assert_eq!(listed[0]["ban_list"], BAN);
    let table = env.tgate(&["routers", "list"]).await;
    let header = table.ok().lines().next().unwrap();
    for column in ["NAME", "HOST", "PORT", "BAN"] {
        assert!(header.contains(column), "{header}");
    }

    env.sim.add_entry(BAN, "203.0.113.5", None, Some("by hand"));
    let checked = env.tgate(&["routers", "check", "--json"]).await.json();
    assert_eq!(checked[0]["name"], "office");
    assert_eq!(checked[0]["reachable"], true);
    assert!(checked[0]["latency_ms"].as_u64().is_some());
    assert_eq!(checked[0]["ban"], 1);
    env.tgate(&["routers", "check", "office"]).await.ok();

    env.sim.refuse_connections(true);
    env.sim.drop_connections();
    let down = env.tgate(&["routers", "check", "--json"]).await;
    assert_eq!(down.code, 1, "{}", down.stderr);
    let report: Value = serde_json::from_str(&down.stdout).expect("JSON even when down");
    assert_eq!(report[0]["reachable"], false);
    assert!(report[0]["error"].as_str().is_some());
    assert!(
        down.stderr.contains("unreachable: office"),
        "{}",
        down.stderr
    );
    let table = env.tgate(&["routers", "check"]).await;
    assert_eq!(table.code, 1);
    assert!(table.stdout.lines().next().unwrap().contains("REACHABLE"));
}

#[tokio::test]
async fn the_audit_log_shows_what_the_cli_did() {
    let env = Env::start().await;
    env.tgate(&["bans", "add", "203.0.113.0/24", "--for", "1h"])
        .await
        .ok();
    env.tgate(&["bans", "rm", "203.0.113.0/24"]).await.ok();
    env.tgate(&["accounts", "add", "office", "alice"])
        .await
        .ok();
    env.tgate(&["accounts", "lock", "office", "alice"])
        .await
        .ok();

    let log = env.tgate(&["audit", "--json"]).await.json();
    let log = log.as_array().unwrap();
    let by_cli: Vec<_> = log
        .iter()
        .filter(|r| r["actor"].as_str().unwrap().starts_with("cli:"))
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for action in ["ban.add", "ban.lift", "account.add", "account.lock"] {
        assert!(by_cli.contains(&action), "{action}: {by_cli:?}");
    }

    let bans = env
        .tgate(&["audit", "--action", "ban.add", "--json"])
        .await
        .json();
    let bans = bans.as_array().unwrap();
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0]["actor"], "cli:tester");
    assert_eq!(bans[0]["address"], "203.0.113.0/24");
    let by_network = env
        .tgate(&["audit", "--address", "203.0.113.0/24", "--json"])
        .await
        .json();
    assert_eq!(by_network.as_array().unwrap().len(), 2, "{by_network}");
    let of_alice = env
        .tgate(&[
            "audit",
            "--account",
            "alice",
            "--actor",
            "cli:tester",
            "--json",
        ])
        .await
        .json();
    assert_eq!(of_alice.as_array().unwrap().len(), 2);
    let recent = env
        .tgate(&["audit", "--since", "1h", "--json"])
        .await
        .json();
    assert_eq!(recent.as_array().unwrap().len(), log.len());
    let future = env
        .tgate(&["audit", "--since", "2999-01-01T00:00:00Z", "--json"])
        .await
        .json();
    assert_eq!(future, Value::Array(vec![]));
    let one = env.tgate(&["audit", "--limit", "1", "--json"]).await.json();
    assert_eq!(one.as_array().unwrap().len(), 1);

    let table = env.tgate(&["audit"]).await;
    let header = table.ok().lines().next().unwrap();
    for column in ["TIME", "ACTOR", "ACTION"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.stdout.contains("cli:tester"));
}

#[tokio::test]
async fn a_ban_is_kept_when_the_router_is_down_and_the_admin_is_told() {
    let env = Env::start().await;
    env.sim.refuse_connections(true);
    let run = env
        .tgate(&["bans", "add", "203.0.113.0/24", "--json"])
        .await;
    let ban = run.json();
    assert!(
        run.stderr.contains("router office did not follow"),
        "{}",
        run.stderr
    );
    // policy.ban_time, 1 h by default.
    let row = env
        .store()
        .ban(ban["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    let left = row.until - Utc::now();
    assert!(left > chrono::Duration::minutes(59) && left <= chrono::Duration::hours(1));
    assert_eq!(env.store().active_bans(Utc::now()).await.unwrap().len(), 1);
    assert!(env.ban_list().is_empty());

    env.sim.refuse_connections(false);
    let lifted = env.tgate(&["bans", "rm", "203.0.113.0/24"]).await;
    assert!(lifted.ok().contains("lifted"));
    assert!(
        !lifted.stderr.contains("did not follow"),
        "{}",
        lifted.stderr
    );
}

#[tokio::test]
async fn locking_an_account_ends_its_open_session_on_the_router() {
    let env = Env::start().await;
    let tunnel: IpAddr = "10.10.0.5".parse().unwrap();
    env.sim
        .connect_ppp("alice", "l2tp", "198.51.100.20", tunnel)
        .await
        .unwrap();
    let alice = env.pending("alice", "198.51.100.20", "10.10.0.5").await;
    env.sim
        .connect_ppp("bob", "l2tp", "198.51.100.21", "10.10.0.6".parse().unwrap())
        .await
        .unwrap();
    let bob = env.pending("bob", "198.51.100.21", "10.10.0.6").await;

    let run = env.tgate(&["accounts", "lock", "office", "alice"]).await;
    assert!(
        run.ok().contains("1 open session(s) ended"),
        "{}",
        run.stdout
    );
    let row = env.store().session(alice).await.unwrap().unwrap();
    assert_eq!(row.state, SessionState::Closed);
    let online: Vec<String> = env
        .sim
        .active_sessions()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(online, ["bob"], "alice is cut off, bob is not");
    let bobs = env.store().session(bob).await.unwrap().unwrap();
    assert_eq!(bobs.state, SessionState::Pending);
    let actions = env.cli_audit().await;
    assert!(actions.contains(&"account.lock".to_owned()), "{actions:?}");
    assert!(actions.contains(&"session.kick".to_owned()), "{actions:?}");
}
