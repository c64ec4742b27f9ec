//! The SSH router client against the RouterOS simulator, over real SSH on a
//! loopback port: what the router ends up holding, what it was sent, and how
//! the client behaves when the router is slow, gone, or not who it claims.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tgate_core::domain::{AddressListName, Comment};
use tgate_core::router::ssh::{SshAuth, SshGateway, SshTarget};
use tgate_core::router::{AddOutcome, Gateway, NewEntry, PppMatch, RouterError};
use tgate_sim::{RouterSim, RouterSimConfig, SimAuth, SimUser};

const SANDBOX: &str = "tgate-sandbox";

async fn start_sim() -> RouterSim {
    RouterSim::start(RouterSimConfig::default())
        .await
        .expect("simulator starts")
}

fn target(sim: &RouterSim, user: &str, auth: SshAuth) -> SshTarget {
    SshTarget {
        router: "office".parse().unwrap(),
        host: sim.addr().ip().to_string(),
        port: sim.addr().port(),
        user: user.into(),
        auth,
        host_key: sim.host_key_fingerprint(),
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(5),
    }
}

fn admin(sim: &RouterSim) -> SshGateway {
    SshGateway::new(target(sim, "admin", SshAuth::Password("admin".into())))
}

fn list(name: &str) -> AddressListName {
    name.parse().unwrap()
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn entry(address: &str, timeout: Option<Duration>, comment: Option<&str>) -> NewEntry {
    NewEntry {
        list: list(SANDBOX),
        address: net(address),
        timeout,
        comment: comment.map(|c| c.parse::<Comment>().unwrap()),
    }
}

/// Alice (L2TP from 203.0.113.7) and Bob (SSTP from 203.0.113.8) connect;
/// returns their tunnel addresses.
async fn alice_and_bob_dial_in(sim: &RouterSim) -> (IpAddr, IpAddr) {
    let alice: IpAddr = "10.10.0.5".parse().unwrap();
    let bob: IpAddr = "10.10.0.6".parse().unwrap();
    sim.connect_ppp("alice", "l2tp", "203.0.113.7", alice)
        .await
        .unwrap();
    sim.connect_ppp("bob", "sstp", "203.0.113.8", bob)
        .await
        .unwrap();
    (alice, bob)
}

/// Adds, lists and removes one entry, checking the router's own view and the
/// client's at each step.
async fn round_trip(sim: &RouterSim, gateway: &SshGateway, address: &str, shown_as: &str) {
    let comment = "tgate session 0190-ab: from 203.0.113.7";
    let added = gateway
        .add_address(&entry(
            address,
            Some(Duration::from_secs(3600)),
            Some(comment),
        ))
        .await
        .unwrap();
    assert_eq!(added, AddOutcome::Added);

    let on_router = sim.address_list(SANDBOX);
    assert_eq!(on_router.len(), 1, "{on_router:?}");
    assert_eq!(on_router[0].address, shown_as);
    assert_eq!(on_router[0].comment.as_deref(), Some(comment));
    let left = on_router[0].timeout.expect("a timeout was set");
    assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3600));
    assert!(on_router[0].dynamic);

    let listed = gateway.list_addresses(&list(SANDBOX)).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].address, net(address));
    assert_eq!(listed[0].list, SANDBOX);
    assert_eq!(listed[0].comment.as_deref(), Some(comment));
    assert!(listed[0].dynamic && !listed[0].disabled);
    let left = listed[0].timeout.expect("the timeout is listed");
    assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3600));

    gateway
        .remove_address(&list(SANDBOX), net(address))
        .await
        .unwrap();
    assert!(sim.address_list(SANDBOX).is_empty());
    assert!(
        gateway
            .list_addresses(&list(SANDBOX))
            .await
            .unwrap()
            .is_empty()
    );
    // Removing what is not there is success.
    gateway
        .remove_address(&list(SANDBOX), net(address))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_entries_round_trip() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    round_trip(&sim, &gateway, "10.10.0.5/32", "10.10.0.5").await;
    round_trip(&sim, &gateway, "10.20.0.0/24", "10.20.0.0/24").await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_entries_round_trip() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    round_trip(&sim, &gateway, "2001:DB8::5/128", "2001:db8::5/128").await;
    round_trip(&sim, &gateway, "2001:db8:1::/48", "2001:db8:1::/48").await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_hold_both_families_and_only_the_asked_list() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    sim.add_entry(SANDBOX, "10.10.0.9", None, Some("Kamera Einfahrt"));
    sim.add_entry("other", "10.10.0.10", None, None);
    gateway
        .add_address(&entry("2001:db8::9/128", None, None))
        .await
        .unwrap();

    let mut listed = gateway.list_addresses(&list(SANDBOX)).await.unwrap();
    listed.sort_by_key(|e| e.address);
    let addresses: Vec<IpNet> = listed.iter().map(|e| e.address).collect();
    assert_eq!(addresses, [net("10.10.0.9/32"), net("2001:db8::9/128")]);
    assert_eq!(listed[0].comment.as_deref(), Some("Kamera Einfahrt"));
    assert!(!listed[1].dynamic, "no timeout, so a static entry");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_add_is_already_present() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    let new = entry("10.10.0.5/32", None, Some("first"));
    assert_eq!(gateway.add_address(&new).await.unwrap(), AddOutcome::Added);
    assert_eq!(
        gateway.add_address(&new).await.unwrap(),
        AddOutcome::AlreadyPresent
    );
    assert_eq!(sim.address_list(SANDBOX).len(), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_user_is_refused_and_changes_nothing() {
    let sim = start_sim().await;
    sim.add_entry(SANDBOX, "10.10.0.7", None, None);
    let reader = SshGateway::new(target(&sim, "reader", SshAuth::Password("reader".into())));

    let added = reader.add_address(&entry("10.10.0.5/32", None, None)).await;
    assert!(
        matches!(added, Err(RouterError::Permission { .. })),
        "{added:?}"
    );
    let removed = reader
        .remove_address(&list(SANDBOX), net("10.10.0.7/32"))
        .await;
    assert!(
        matches!(removed, Err(RouterError::Permission { .. })),
        "{removed:?}"
    );
    let on_router = sim.address_list(SANDBOX);
    assert_eq!(on_router.len(), 1);
    assert_eq!(on_router[0].address, "10.10.0.7");
    // Reading is allowed.
    assert_eq!(
        reader.list_addresses(&list(SANDBOX)).await.unwrap().len(),
        1
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_host_key_is_refused_before_logging_in() {
    let sim = start_sim().await;
    let mut wrong = target(&sim, "admin", SshAuth::Password("admin".into()));
    wrong.host_key = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".into();
    let gateway = SshGateway::new(wrong);

    match gateway.identity().await {
        Err(RouterError::HostKeyMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(
                expected,
                "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
            );
            assert_eq!(actual, sim.host_key_fingerprint());
        }
        other => panic!("{other:?}"),
    }
    // Still refused (from the backoff, without another attempt), and nothing
    // ever ran on the router.
    let again = gateway
        .add_address(&entry("10.10.0.5/32", None, None))
        .await;
    assert!(
        matches!(again, Err(RouterError::HostKeyMismatch { .. })),
        "{again:?}"
    );
    assert!(sim.command_log().is_empty(), "{:?}", sim.command_log());
    assert!(sim.address_list(SANDBOX).is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_an_auth_error() {
    let sim = start_sim().await;
    let gateway = SshGateway::new(target(&sim, "admin", SshAuth::Password("nope".into())));
    let result = gateway.identity().await;
    assert!(
        matches!(result, Err(RouterError::Auth { .. })),
        "{result:?}"
    );
    assert!(sim.command_log().is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_login_reads_the_identity() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    assert_eq!(gateway.identity().await.unwrap(), "MikroTik");
    let log = sim.command_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].user, "admin");
    assert_eq!(log[0].text, "/system identity print");
    sim.shutdown().await;
}

/// Makes an ed25519 key pair with `ssh-keygen`; returns the private key's
/// path and the public key line.
fn key_pair(dir: &std::path::Path, passphrase: &str) -> (std::path::PathBuf, String) {
    let path = dir.join("id_ed25519");
    let status = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-C",
            "tgate-test",
            "-N",
            passphrase,
            "-f",
        ])
        .arg(&path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_owned())
}

async fn key_login(passphrase: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (path, public) = key_pair(dir.path(), passphrase.unwrap_or(""));
    let mut config = RouterSimConfig::default();
    config.users.push(SimUser {
        name: "tgate".into(),
        auth: SimAuth::PublicKey(public),
        write: true,
    });
    let sim = RouterSim::start(config).await.unwrap();
    let auth = SshAuth::KeyFile {
        path,
        passphrase: passphrase.map(Into::into),
    };
    let gateway = SshGateway::new(target(&sim, "tgate", auth));
    assert_eq!(gateway.identity().await.unwrap(), "MikroTik");
    gateway
        .add_address(&entry("10.10.0.5/32", None, None))
        .await
        .unwrap();
    assert_eq!(sim.address_list(SANDBOX).len(), 1);
    assert!(sim.command_log().iter().all(|c| c.user == "tgate"));

    // The same user with another key is refused.
    let other = tempfile::tempdir().unwrap();
    let (stranger, _) = key_pair(other.path(), "");
    let refused = SshGateway::new(target(
        &sim,
        "tgate",
        SshAuth::KeyFile {
            path: stranger,
            passphrase: None,
        },
    ));
    let result = refused.identity().await;
    assert!(
        matches!(result, Err(RouterError::Auth { .. })),
        "{result:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_login() {
    key_login(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_key_file_login() {
    key_login(Some("correct horse battery staple")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_serves_many_calls() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    gateway.identity().await.unwrap();
    // New connections are refused from now on; the open session carries on.
    sim.refuse_connections(true);
    for i in 0..20 {
        let address = format!("10.30.0.{i}/32");
        gateway
            .add_address(&entry(&address, None, None))
            .await
            .unwrap();
    }
    assert_eq!(
        gateway.list_addresses(&list(SANDBOX)).await.unwrap().len(),
        20
    );
    assert_eq!(sim.address_list(SANDBOX).len(), 20);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_replaced_on_the_next_call() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    gateway.identity().await.unwrap();
    sim.drop_connections();
    gateway
        .add_address(&entry("10.10.0.5/32", None, None))
        .await
        .unwrap();
    assert_eq!(sim.address_list(SANDBOX).len(), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_command_is_retried_once() {
    let sim = start_sim().await;
    let gateway = std::sync::Arc::new(admin(&sim));
    gateway.identity().await.unwrap();
    sim.set_latency(Duration::from_millis(500));
    let call = tokio::spawn({
        let gateway = gateway.clone();
        async move {
            gateway
                .add_address(&entry("10.10.0.5/32", None, None))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    sim.drop_connections();
    // The silence of a dead session is not taken for a successful write: the
    // add is sent again on a new session. Whether the first one took effect
    // is unknowable, so the retry may find the entry already there.
    let outcome = call.await.unwrap().unwrap();
    assert!(matches!(
        outcome,
        AddOutcome::Added | AddOutcome::AlreadyPresent
    ));
    assert_eq!(sim.address_list(SANDBOX).len(), 1);
    let adds = sim
        .command_log()
        .iter()
        .filter(|c| c.text.contains(" add "))
        .count();
    assert_eq!(adds, 2, "{:#?}", sim.command_log());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebooted_router_loses_dynamic_entries_and_is_reconnected() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    gateway
        .add_address(&entry("10.10.0.5/32", Some(Duration::from_secs(600)), None))
        .await
        .unwrap();
    gateway
        .add_address(&entry("10.10.0.6/32", None, None))
        .await
        .unwrap();
    sim.reboot();
    let listed = gateway.list_addresses(&list(SANDBOX)).await.unwrap();
    let addresses: Vec<IpNet> = listed.iter().map(|e| e.address).collect();
    assert_eq!(addresses, [net("10.10.0.6/32")]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_the_session() {
    let sim = start_sim().await;
    let gateway = std::sync::Arc::new(admin(&sim));
    gateway.identity().await.unwrap();
    sim.refuse_connections(true);
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let gateway = gateway.clone();
            tokio::spawn(async move {
                let address = format!("10.40.{}.{}/32", i / 10, i % 10);
                gateway.add_address(&entry(&address, None, None)).await
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), AddOutcome::Added);
    }
    assert_eq!(sim.address_list(SANDBOX).len(), 40);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_router_times_out_and_the_next_call_recovers() {
    let sim = start_sim().await;
    let mut quick = target(&sim, "admin", SshAuth::Password("admin".into()));
    quick.command_timeout = Duration::from_millis(300);
    let gateway = SshGateway::new(quick);
    gateway.identity().await.unwrap();

    sim.set_latency(Duration::from_secs(10));
    let started = Instant::now();
    let result = gateway.identity().await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(RouterError::Timeout { .. })),
        "{result:?}"
    );
    assert!(result.unwrap_err().is_transient());
    // Well before the router's 10 s answer.
    assert!(took < Duration::from_secs(5), "took {took:?}");

    sim.set_latency(Duration::ZERO);
    assert_eq!(gateway.identity().await.unwrap(), "MikroTik");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_router_is_unreachable_and_not_hammered() {
    let sim = start_sim().await;
    sim.refuse_connections(true);
    let gateway = admin(&sim);

    let first = gateway.identity().await;
    assert!(
        matches!(first, Err(RouterError::Unreachable { .. })),
        "{first:?}"
    );
    // Calls during the backoff fail without trying the router: the reason
    // says when the next attempt is due.
    for _ in 0..10 {
        let result = gateway.identity().await;
        match result {
            Err(RouterError::Unreachable { reason, .. }) => {
                assert!(reason.contains("next attempt in"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    // Once the router takes connections again, a call after the backoff works.
    sim.refuse_connections(false);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(gateway.identity().await.unwrap(), "MikroTik");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ppp_sessions_are_found_and_disconnected() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    let (alice, bob) = alice_and_bob_dial_in(&sim).await;

    let sessions = gateway.active_sessions().await.unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let by_name = PppMatch {
        name: Some("alice".parse().unwrap()),
        address: None,
        caller_id: None,
    };
    let found = gateway.find_active(&by_name).await.unwrap().unwrap();
    assert_eq!(found.address, Some(alice));
    assert_eq!(found.service, "l2tp");
    assert_eq!(found.caller_id, "203.0.113.7");

    gateway
        .disconnect(&PppMatch {
            name: Some("alice".parse().unwrap()),
            address: Some(alice),
            caller_id: None,
        })
        .await
        .unwrap();
    let left: Vec<String> = sim.active_sessions().into_iter().map(|s| s.name).collect();
    assert_eq!(left, ["bob"]);
    assert_eq!(gateway.find_active(&by_name).await.unwrap(), None);

    // Disconnecting nobody is success; by address alone works too.
    gateway.disconnect(&by_name).await.unwrap();
    gateway
        .disconnect(&PppMatch {
            name: None,
            address: Some(bob),
            caller_id: None,
        })
        .await
        .unwrap();
    assert!(sim.active_sessions().is_empty());
    sim.shutdown().await;
}

/// Every command the router received is one well-formed command: no `;` or
/// newline (a second command), no `[` but tgate's own `[find`, quotes closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_receives_only_well_formed_commands() {
    let sim = start_sim().await;
    let gateway = admin(&sim);
    let ivan: IpAddr = "10.10.0.8".parse().unwrap();
    sim.connect_ppp("Иван Петров", "pppoe", "BC:24:11:81:B1:47", ivan)
        .await
        .unwrap();
    sim.clear_command_log();

    gateway
        .add_address(&entry(
            "10.10.0.8/32",
            Some(Duration::from_secs(90)),
            Some("from 203.0.113.7:1701 via l2tp/ipsec, user@corp+vpn"),
        ))
        .await
        .unwrap();
    gateway
        .add_address(&entry("2001:db8::8/128", None, Some("")))
        .await
        .unwrap();
    gateway.list_addresses(&list(SANDBOX)).await.unwrap();
    gateway
        .remove_address(&list(SANDBOX), net("10.10.0.8/32"))
        .await
        .unwrap();
    let target = PppMatch {
        name: Some("Иван Петров".parse().unwrap()),
        address: Some(ivan),
        caller_id: None,
    };
    assert!(gateway.find_active(&target).await.unwrap().is_some());
    gateway.disconnect(&target).await.unwrap();
    assert!(sim.active_sessions().is_empty());
    gateway.identity().await.unwrap();

    let log = sim.command_log();
    assert_eq!(log.len(), 8, "{log:#?}");
    for logged in &log {
        let text = &logged.text;
        assert!(!text.contains([';', '\n', '\r', '$']), "{text:?}");
        let outside_find = text.replacen("[find ", "", 1).replacen(']', "", 1);
        assert!(!outside_find.contains(['[', ']']), "{text:?}");
        assert_eq!(text.matches('"').count() % 2, 0, "{text:?}");
    }
    sim.shutdown().await;
}

/// Calls that queue while the router is busy go to it as one exec, and each
/// still gets the answer it would have got alone: an add or its duplicate,
/// a remove, a lookup that finds a session and one that finds none, a
/// disconnect; a refused command keeps the router's own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_calls_share_one_exec_and_keep_their_own_answers() {
    let sim = start_sim().await;
    let gateway = std::sync::Arc::new(admin(&sim));
    let (alice, bob) = alice_and_bob_dial_in(&sim).await;
    sim.add_entry("tgate-permit", "10.10.0.9", None, None);
    gateway.identity().await.unwrap();
    sim.clear_command_log();

    // The first call stalls at the router; the rest queue behind it.
    sim.set_latency(Duration::from_millis(400));
    let busy = tokio::spawn({
        let gateway = gateway.clone();
        async move { gateway.identity().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let g = &gateway;
    let by = |name: &str, address: IpAddr| PppMatch {
        name: Some(name.parse().unwrap()),
        address: Some(address),
        caller_id: None,
    };
    let new = entry("10.10.0.20/32", None, Some("new"));
    // The simulated on-up script put alice's address in the sandbox.
    let again = entry("10.10.0.5/32", None, Some("again"));
    let permit = list("tgate-permit");
    let (alice_here, alice_there, bob_here) =
        (by("alice", alice), by("alice", bob), by("bob", bob));
    let (added, duplicate, removed, found, not_found, kicked) = tokio::join!(
        g.add_address(&new),
        g.add_address(&again),
        g.remove_address(&permit, net("10.10.0.9/32")),
        g.find_active(&alice_here),
        g.find_active(&alice_there),
        g.disconnect(&bob_here),
    );
    assert_eq!(busy.await.unwrap().unwrap(), "MikroTik");
    assert_eq!(added.unwrap(), AddOutcome::Added);
    assert_eq!(duplicate.unwrap(), AddOutcome::AlreadyPresent);
    removed.unwrap();
    let found = found.unwrap().expect("alice is connected");
    assert_eq!((found.name.as_str(), found.address), ("alice", Some(alice)));
    assert_eq!(not_found.unwrap(), None);
    kicked.unwrap();

    let sandbox: Vec<String> = sim
        .address_list(SANDBOX)
        .into_iter()
        .map(|e| e.address)
        .collect();
    // Bob's on-down script dropped his own entry.
    assert_eq!(sandbox, ["10.10.0.5", "10.10.0.20"]);
    assert!(sim.address_list("tgate-permit").is_empty());
    let left: Vec<String> = sim.active_sessions().into_iter().map(|s| s.name).collect();
    assert_eq!(left, ["alice"]);
    // The stalled identity, then one exec for the six queued calls.
    let log = sim.command_log();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(log[1].text.matches(":do {").count(), 6, "{}", log[1].text);

    // A read-only user's queued writes are refused with the router's words,
    // found by running each refused command again alone.
    sim.set_latency(Duration::ZERO);
    let reader = std::sync::Arc::new(SshGateway::new(target(
        &sim,
        "reader",
        SshAuth::Password("reader".into()),
    )));
    reader.identity().await.unwrap();
    sim.set_latency(Duration::from_millis(300));
    let busy = tokio::spawn({
        let reader = reader.clone();
        async move { reader.identity().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (another, sandbox) = (entry("10.10.0.21/32", None, None), list(SANDBOX));
    let (add, remove, listed) = tokio::join!(
        reader.add_address(&another),
        reader.remove_address(&sandbox, net("10.10.0.20/32")),
        reader.find_active(&alice_here),
    );
    busy.await.unwrap().unwrap();
    assert!(
        matches!(add, Err(RouterError::Permission { .. })),
        "{add:?}"
    );
    assert!(
        matches!(remove, Err(RouterError::Permission { .. })),
        "{remove:?}"
    );
    assert!(listed.unwrap().is_some());
    assert_eq!(sim.address_list(SANDBOX).len(), 2);
    sim.shutdown().await;
}

/// Calls on the list a gateway puts first (tgate's ban list) go ahead of
/// everything already queued for the router: a ban queued behind 70 kicks
/// leads the very next exec instead of waiting for the kicks' two.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_on_the_first_list_go_ahead_of_the_queue() {
    let sim = start_sim().await;
    let bans = list("tgate-ban");
    let gateway = std::sync::Arc::new(admin(&sim).first(bans.clone()));
    gateway.identity().await.unwrap();
    sim.clear_command_log();

    // The first call stalls at the router; 70 kicks queue behind it, then
    // a ban.
    sim.set_latency(Duration::from_secs(1));
    let busy = tokio::spawn({
        let gateway = gateway.clone();
        async move { gateway.identity().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let kicks: Vec<_> = (0..70)
        .map(|i| {
            let gateway = gateway.clone();
            let caller = format!("198.51.100.{i}").parse().unwrap();
            tokio::spawn(async move {
                let target = PppMatch {
                    caller_id: Some(caller),
                    ..PppMatch::default()
                };
                gateway.disconnect(&target).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ban = NewEntry {
        list: bans,
        address: net("203.0.113.66/32"),
        timeout: None,
        comment: None,
    };
    assert_eq!(gateway.add_address(&ban).await.unwrap(), AddOutcome::Added);
    busy.await.unwrap().unwrap();
    for kick in kicks {
        kick.await.unwrap().unwrap();
    }

    let banned: Vec<String> = sim
        .address_list("tgate-ban")
        .into_iter()
        .map(|e| e.address)
        .collect();
    assert_eq!(banned, ["203.0.113.66"]);
    let log = sim.command_log();
    // The stalled identity, the ban with 63 kicks, the other 7 kicks.
    assert_eq!(log.len(), 3, "{log:#?}");
    let second = &log[1].text;
    let (ban_at, kick_at) = (
        second.find("203.0.113.66"),
        second.find("/ppp active remove"),
    );
    assert!(
        matches!((ban_at, kick_at), (Some(ban), Some(kick)) if ban < kick),
        "the ban leads the second exec:\n{second}"
    );
    let kicked: usize = log
        .iter()
        .map(|c| c.text.matches("/ppp active remove").count())
        .sum();
    assert_eq!(kicked, 70);
}
