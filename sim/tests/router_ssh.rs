//! The SSH side of the simulator as libssh2 (tgate's client) sees it: host
//! key pinning, password and key logins, the interactive shell, and the
//! network faults a test can inject.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Login, connect, exec, exec_on};
use russh::keys::PrivateKey;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use tgate_sim::{RouterSim, RouterSimConfig, SimAuth, SimUser};

#[tokio::test(flavor = "multi_thread")]
async fn host_key_fingerprint_matches_what_the_client_sees() {
    let config = RouterSimConfig {
        host_key_seed: Some([9; 32]),
        ..Default::default()
    };
    let sim = RouterSim::start(config).await.unwrap();
    let addr = sim.addr();
    let seen = tokio::task::spawn_blocking(move || {
        let sess = connect(addr, &Login::Password("admin", "admin")).unwrap();
        let hash = sess.host_key_hash(ssh2::HashType::Sha256).unwrap().to_vec();
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash)
        )
    })
    .await
    .unwrap();
    assert_eq!(seen, sim.host_key_fingerprint());

    // The same seed gives the same key; another seed another one.
    let again = RouterSim::start(RouterSimConfig {
        host_key_seed: Some([9; 32]),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(again.host_key_fingerprint(), sim.host_key_fingerprint());
    let other = RouterSim::start(RouterSimConfig::default()).await.unwrap();
    assert_ne!(other.host_key_fingerprint(), sim.host_key_fingerprint());
}

#[tokio::test(flavor = "multi_thread")]
async fn password_and_public_key_logins() {
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&[3; 32]));
    let other = PrivateKey::from(Ed25519Keypair::from_seed(&[4; 32]));
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("id_ed25519");
    let bad = dir.path().join("id_other");
    std::fs::write(&good, key.to_openssh(LineEnding::LF).unwrap().as_bytes()).unwrap();
    std::fs::write(&bad, other.to_openssh(LineEnding::LF).unwrap().as_bytes()).unwrap();

    let mut config = RouterSimConfig::default();
    config.users.push(SimUser {
        name: "tgate".into(),
        auth: SimAuth::PublicKey(key.public_key().to_openssh().unwrap()),
        write: true,
    });
    let sim = RouterSim::start(config).await.unwrap();
    let addr = sim.addr();

    let out = common::exec_as(
        addr,
        Login::Key("tgate", good.clone()),
        "/system identity print",
    )
    .await;
    assert_eq!(out, "  name: MikroTik\r\n");
    assert_eq!(sim.command_log().last().unwrap().user, "tgate");

    let results = tokio::task::spawn_blocking(move || {
        [
            connect(addr, &Login::Key("tgate", bad)).is_err(),
            connect(addr, &Login::Key("admin", good)).is_err(),
            connect(addr, &Login::Password("admin", "wrong")).is_err(),
            connect(addr, &Login::Password("nobody", "admin")).is_err(),
            connect(addr, &Login::Password("reader", "reader")).is_ok(),
        ]
    })
    .await
    .unwrap();
    assert_eq!(results, [true; 5]);
}

/// Reads from a shell channel until the output ends with `suffix`.
fn read_until(channel: &mut ssh2::Channel, suffix: &str) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).ends_with(suffix) {
        let n = channel.read(&mut buf).expect("shell read");
        assert!(
            n > 0,
            "shell closed; got {:?}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn interactive_shell_prompts_echoes_and_runs_lines() {
    let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
    let addr = sim.addr();
    let transcript = tokio::task::spawn_blocking(move || {
        let sess = connect(addr, &Login::Password("admin", "admin")).unwrap();
        let mut ch = sess.channel_session().unwrap();
        ch.request_pty("xterm", None, None).unwrap();
        ch.shell().unwrap();
        let mut t = read_until(&mut ch, "] > ");
        ch.write_all(b"/ip firewall address-list\r").unwrap();
        t += &read_until(&mut ch, "/ip firewall address-list> ");
        ch.write_all(b"add list=s address=10.0.0.9\r").unwrap();
        t += &read_until(&mut ch, "address-list> ");
        ch.write_all(b"print count-only\r").unwrap();
        t += &read_until(&mut ch, "address-list> ");
        ch.write_all(b"quit\r").unwrap();
        let mut rest = String::new();
        let _ = ch.read_to_string(&mut rest);
        ch.wait_close().unwrap();
        t
    })
    .await
    .unwrap();
    assert_eq!(
        transcript,
        "[admin@MikroTik] > /ip firewall address-list\r\n\
         [admin@MikroTik] /ip firewall address-list> add list=s address=10.0.0.9\r\n\
         [admin@MikroTik] /ip firewall address-list> print count-only\r\n\
         1\r\n\
         [admin@MikroTik] /ip firewall address-list> "
    );
    assert_eq!(sim.address_list("s")[0].address, "10.0.0.9");
    let lines: Vec<(&str, String)> = sim
        .command_log()
        .into_iter()
        .map(|c| (c.channel, c.text))
        .collect();
    assert_eq!(
        lines,
        [
            ("shell", "/ip firewall address-list".to_owned()),
            ("shell", "add list=s address=10.0.0.9".to_owned()),
            ("shell", "print count-only".to_owned()),
            ("shell", "quit".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_connections_fail_and_new_ones_work() {
    let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
    let addr = sim.addr();
    let sess = tokio::task::spawn_blocking(move || {
        let sess = connect(addr, &Login::Password("admin", "admin")).unwrap();
        assert_eq!(exec_on(&sess, ":put hi").unwrap().0, "hi\r\n");
        sess
    })
    .await
    .unwrap();
    sim.drop_connections();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let failed = tokio::task::spawn_blocking(move || exec_on(&sess, ":put hi").is_err())
        .await
        .unwrap();
    assert!(failed, "a command on a dropped connection must fail");
    assert_eq!(exec(addr, ":put again").await, "again\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_connections_fail_until_allowed_again() {
    let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
    let addr = sim.addr();
    sim.refuse_connections(true);
    let refused = tokio::task::spawn_blocking(move || {
        connect(addr, &Login::Password("admin", "admin")).is_err()
    })
    .await
    .unwrap();
    assert!(refused);
    sim.refuse_connections(false);
    assert_eq!(exec(addr, ":put open").await, "open\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn reboot_keeps_static_entries_only() {
    let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
    let addr = sim.addr();
    sim.add_entry("tgate-permit", "10.0.0.5", None, None);
    sim.add_entry(
        "tgate-permit",
        "10.0.0.6",
        Some(Duration::from_secs(3600)),
        None,
    );
    sim.add_entry(
        "tgate-ban",
        "2001:db8::1",
        Some(Duration::from_secs(3600)),
        None,
    );
    sim.connect_ppp("alice", "l2tp", "203.0.113.7", "10.10.0.5".parse().unwrap())
        .await
        .unwrap();
    let sess = tokio::task::spawn_blocking(move || {
        connect(addr, &Login::Password("admin", "admin")).unwrap()
    })
    .await
    .unwrap();

    sim.reboot();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let permit: Vec<String> = sim
        .address_list("tgate-permit")
        .into_iter()
        .map(|e| e.address)
        .collect();
    assert_eq!(permit, ["10.0.0.5"]);
    assert!(sim.address_list("tgate-ban").is_empty());
    assert!(sim.active_sessions().is_empty());
    // The sandbox entry the on-up script added is static, so it survives.
    assert_eq!(sim.address_list("tgate-sandbox").len(), 1);
    let failed = tokio::task::spawn_blocking(move || exec_on(&sess, ":put x").is_err())
        .await
        .unwrap();
    assert!(failed);
    assert_eq!(exec(addr, "/ppp active print count-only").await, "0\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_delays_every_answer() {
    let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
    let addr = sim.addr();
    sim.set_latency(Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(exec(addr, ":put slow").await, "slow\r\n");
    assert!(started.elapsed() >= Duration::from_millis(400));
    sim.set_latency(Duration::ZERO);
    let started = Instant::now();
    assert_eq!(exec(addr, ":put fast").await, "fast\r\n");
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_stalled_on_a_dropped_connection_never_runs() {
    let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
    let addr = sim.addr();
    sim.set_latency(Duration::from_secs(1));
    let pending = tokio::task::spawn_blocking(move || {
        let sess = connect(addr, &Login::Password("admin", "admin")).unwrap();
        exec_on(
            &sess,
            "/ip firewall address-list add list=late address=10.0.0.5",
        )
        .is_err()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.command_log().len(), 1);
    sim.drop_connections();
    assert!(pending.await.unwrap(), "the client sees the connection die");
    sim.set_latency(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(sim.address_list("late").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_session_serves_many_execs_and_errors_still_exit_zero() {
    let sim = RouterSim::start(RouterSimConfig::default()).await.unwrap();
    let addr = sim.addr();
    let results = tokio::task::spawn_blocking(move || {
        let sess = connect(addr, &Login::Password("admin", "admin")).unwrap();
        let mut results = Vec::new();
        for i in 0..20 {
            let cmd = format!("/ip firewall address-list add list=many address=10.1.0.{i}");
            results.push(exec_on(&sess, &cmd).unwrap());
        }
        results.push(
            exec_on(
                &sess,
                "/ip firewall address-list add list=many address=10.1.0.0",
            )
            .unwrap(),
        );
        results.push(exec_on(&sess, "/nosuch").unwrap());
        results
    })
    .await
    .unwrap();
    assert!(results[..20].iter().all(|r| *r == (String::new(), 0)));
    assert_eq!(
        results[20],
        ("failure: already have such entry\r\n".to_owned(), 0)
    );
    assert_eq!(
        results[21],
        (
            "bad command name nosuch (line 1 column 2)\r\n".to_owned(),
            0
        )
    );
    assert_eq!(sim.address_list("many").len(), 20);
}
