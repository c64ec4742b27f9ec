//! The reconciler against the simulated router: entries a reboot or a hand
//! dropped come back, entries nothing justifies go, an operator's own
//! entries are never touched, and lost down events are settled.

mod common;

use std::time::Duration;

use common::{Harness, OWNER, eventually, office};
use tgate_core::domain::SessionState;
use tgate_core::gate::Disconnect;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reconciler_repairs_drift_and_leaves_foreign_entries_alone() {
    let h = Harness::new(r#"confirm_timeout = "1h""#, "").await;
    // alice is confirmed (permit), bob waits (sandbox), mallory was refused
    // with Not me (ban).
    for a in ["alice", "bob", "mallory"] {
        h.enroll(a).await;
    }
    let alice = h.pending("alice", "203.0.113.7", "10.10.0.5").await;
    h.gate.confirm(alice.id, OWNER).await.unwrap();
    let bob = h.pending("bob", "203.0.113.8", "10.10.0.6").await;
    let mallory = h.pending("mallory", "198.51.100.9", "10.10.0.7").await;
    h.gate.deny(mallory.id, OWNER).await.unwrap();
    assert!(h.listed("tgate-ban", "198.51.100.9").is_some());
    assert!(h.listed("tgate-permit", "10.10.0.5").is_some());

    // Drift: a permit and a sandbox entry removed by hand, a ban entry lost,
    // a stale tgate entry, and an operator's own entries.
    h.sim.remove_entry("tgate-permit", "10.10.0.5");
    h.sim.remove_entry("tgate-sandbox", "10.10.0.6");
    h.sim.remove_entry("tgate-ban", "198.51.100.9");
    h.sim.add_entry(
        "tgate-permit",
        "10.99.0.2",
        None,
        Some("tgate:permit 0190a0e0-0000-7000-8000-000000000000"),
    );
    h.sim
        .add_entry("tgate-permit", "10.99.0.1", None, Some("office printer"));
    h.sim.add_entry("tgate-ban", "192.0.2.99", None, None);

    let report = h.gate.reconcile(&office()).await.unwrap();
    assert_eq!((report.added, report.removed), (3, 1), "{report:?}");
    let permit = h.listed("tgate-permit", "10.10.0.5").unwrap();
    assert_eq!(
        permit.comment.as_deref(),
        Some(&*format!("tgate:permit {}", alice.id))
    );
    let sandbox = h.listed("tgate-sandbox", "10.10.0.6").unwrap();
    assert!(sandbox.timeout.is_some());
    let ban = h.listed("tgate-ban", "198.51.100.9").unwrap();
    let left = ban.timeout.unwrap();
    assert!(
        left > Duration::from_secs(3000) && left <= Duration::from_secs(3600),
        "{ban:?}"
    );
    assert!(
        h.listed("tgate-permit", "10.99.0.2").is_none(),
        "stale tgate entry removed"
    );
    assert!(
        h.listed("tgate-permit", "10.99.0.1").is_some(),
        "foreign entry kept"
    );
    assert!(
        h.listed("tgate-ban", "192.0.2.99").is_some(),
        "foreign entry kept"
    );

    // A second pass has nothing to do.
    let again = h.gate.reconcile(&office()).await.unwrap();
    assert_eq!(again, Default::default());

    // A reboot: dynamic entries and PPP sessions vanish. The ban comes back;
    // the sessions whose PPP sessions are gone are settled, and nothing
    // stays permitted for them.
    h.sim.reboot();
    assert!(h.listed("tgate-ban", "198.51.100.9").is_none());
    let report = h.gate.reconcile(&office()).await.unwrap();
    assert!(h.listed("tgate-ban", "198.51.100.9").is_some());
    assert_eq!(report.closed, 2, "{report:?}");
    assert_eq!(h.state(&alice).await, SessionState::Closed);
    assert_eq!(h.state(&bob).await, SessionState::Closed);
    assert!(h.listed("tgate-permit", "10.10.0.5").is_none());
    assert!(
        h.listed("tgate-permit", "10.99.0.1").is_some(),
        "foreign entry kept"
    );

    assert_eq!(h.audits("reconcile.add").await, 4);
    assert_eq!(h.audits("reconcile.remove").await, 2);
    assert_eq!(h.audits("reconcile.closed").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_worker_reconciles_at_start_and_on_its_interval() {
    let mut h = Harness::new(r#"confirm_timeout = "1h""#, r#"reconcile_interval = "1s""#).await;
    h.enroll("alice").await;
    let alice = h.pending("alice", "203.0.113.7", "10.10.0.5").await;
    h.gate.confirm(alice.id, OWNER).await.unwrap();
    h.sim.remove_entry("tgate-permit", "10.10.0.5");
    h.start_worker();
    eventually("the permit is back", || async {
        h.listed("tgate-permit", "10.10.0.5").is_some()
    })
    .await;
    h.sim.remove_entry("tgate-permit", "10.10.0.5");
    eventually("the permit is back again", || async {
        h.listed("tgate-permit", "10.10.0.5").is_some()
    })
    .await;
    h.stop_worker().await;
}

/// A session that ends while the reconciler is putting its lost permit
/// back: the down event's removal reaches the router before the
/// reconciler's add does, yet no permit outlives the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permit_put_back_as_its_session_ends_does_not_stay() {
    let h = Harness::new(r#"confirm_timeout = "1h""#, "").await;
    let clients = [("alice", "10.10.0.5"), ("bob", "10.10.0.6")];
    for (n, (account, tunnel)) in clients.iter().enumerate() {
        h.enroll(account).await;
        let s = h
            .pending(account, &format!("203.0.113.{}", n + 7), tunnel)
            .await;
        h.gate.confirm(s.id, OWNER).await.unwrap();
    }
    // Both permits lost; the router takes a second over each command, so
    // the reconciler puts them back one after the other, slowly.
    for (_, tunnel) in clients {
        h.sim.remove_entry("tgate-permit", tunnel);
    }
    h.sim.set_latency(Duration::from_secs(1));
    let seen = h.sim.command_log().len();
    let permit_adds = || h.commands_since(seen, r#"address-list add list="tgate-permit""#);
    let gate = h.gate.clone();
    let pass = tokio::spawn(async move { gate.reconcile(&office()).await });
    eventually("the reconciler puts the first permit back", || async {
        !permit_adds().is_empty()
    })
    .await;

    // The other client hangs up while the first add runs: its permit's
    // removal queues behind that add, ahead of the reconciler's add of its
    // permit.
    let first = permit_adds().remove(0);
    let (gone, tunnel) = *clients
        .iter()
        .find(|(_, tunnel)| !first.contains(&format!("address={tunnel} ")))
        .expect("one of the two goes first");
    h.sim.disconnect_ppp(gone).await.unwrap();
    let down = h
        .gate
        .disconnect(Disconnect {
            router: office(),
            account: gone.parse().unwrap(),
            remote_address: tunnel.parse().unwrap(),
        })
        .await
        .unwrap();
    let report = pass.await.unwrap().unwrap();
    h.sim.set_latency(Duration::ZERO);

    assert!(down.closed.is_some(), "{gone}'s session closed");
    assert!(
        h.listed("tgate-permit", tunnel).is_none(),
        "{gone}'s closed session kept its permit: {report:?}"
    );
    assert_eq!(
        h.list("tgate-permit").len(),
        1,
        "the other one's permit is back"
    );
    // Both were put back, and the closed one's taken off again.
    assert_eq!(permit_adds().len(), 2, "{:?}", permit_adds());
    assert_eq!((report.added, report.removed), (2, 1), "{report:?}");
}

/// A client who dials in while a pass reads the router is the connect's
/// business: the pass, whose list reads predate the client's sandbox entry,
/// does not add it a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_dialling_in_during_a_pass_is_left_to_its_connect() {
    let h = Harness::new(r#"confirm_timeout = "1h""#, "").await;
    h.enroll("alice").await;
    h.sim.set_latency(Duration::from_millis(500));
    let seen = h.sim.command_log().len();
    let gate = h.gate.clone();
    let pass = tokio::spawn(async move { gate.reconcile(&office()).await });
    eventually("the pass has read the lists", || async {
        !h.commands_since(seen, "/ppp active print").is_empty()
    })
    .await;
    let alice = h.pending("alice", "203.0.113.7", "10.10.0.5").await;
    let report = pass.await.unwrap().unwrap();
    h.sim.set_latency(Duration::ZERO);

    let sandbox_adds = h.commands_since(seen, r#"address-list add list="tgate-sandbox""#);
    assert_eq!(sandbox_adds.len(), 1, "only the connect's own add");
    assert_eq!(report, Default::default());
    assert_eq!(h.audits("reconcile.add").await, 0);
    assert_eq!(h.state(&alice).await, SessionState::Pending);
    assert!(h.listed("tgate-sandbox", "10.10.0.5").is_some());
}

/// A client who dials in on an address whose stale sandbox entry a pass is
/// taking off: the pass's removal reaches the router after the client's
/// own sandbox entry, yet the client is held in the sandbox afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_dialling_in_as_its_stale_entry_goes_stays_sandboxed() {
    let h = Harness::new(r#"confirm_timeout = "1h""#, "").await;
    h.enroll("alice").await;
    // Two sandbox entries nothing wants, from sessions long gone.
    let tunnels = ["10.10.0.5", "10.10.0.6"];
    for tunnel in tunnels {
        h.sim.add_entry(
            "tgate-sandbox",
            tunnel,
            None,
            Some("tgate:sandbox 0190a0e0-0000-7000-8000-000000000000"),
        );
    }
    h.sim.set_latency(Duration::from_secs(1));
    let seen = h.sim.command_log().len();
    let removals = || h.commands_since(seen, r#"address-list remove [find list="tgate-sandbox""#);
    let gate = h.gate.clone();
    let pass = tokio::spawn(async move { gate.reconcile(&office()).await });
    eventually("the pass takes the first stale entry off", || async {
        !removals().is_empty()
    })
    .await;

    // alice dials in on the other address while that removal runs: her
    // sandbox entry is in place before the pass's removal of it arrives.
    let first = removals().remove(0);
    let tunnel = *tunnels
        .iter()
        .find(|t| !first.contains(&format!("address={t}]")))
        .expect("one of the two goes first");
    let alice = h.pending("alice", "203.0.113.7", tunnel).await;
    let report = pass.await.unwrap().unwrap();
    h.sim.set_latency(Duration::ZERO);

    assert_eq!(h.state(&alice).await, SessionState::Pending);
    let entry = h
        .listed("tgate-sandbox", tunnel)
        .unwrap_or_else(|| panic!("alice is out of the sandbox: {report:?}"));
    assert_eq!(
        entry.comment.as_deref(),
        Some(&*format!("tgate:sandbox {}", alice.id))
    );
    assert_eq!(
        h.list("tgate-sandbox").len(),
        1,
        "the other stale entry is gone"
    );
    // Both stale entries taken off, and alice's put back.
    assert_eq!(removals().len(), 2, "{:?}", removals());
    assert_eq!((report.added, report.removed), (1, 2), "{report:?}");
    assert_eq!(h.audits("reconcile.add").await, 1);
}
