//! `tgate bench` end to end, scaled down: the real binary starts tgate as a
//! child process against both simulators, runs every scenario and prints
//! the JSON report. Only what the report says is checked, never how fast
//! anything was: timings belong in docs/benchmarks.md, not in assertions.
//!
//! It always runs on SQLite: the bench makes its own scratch database, and
//! a PostgreSQL run is the documented `--database-url` one.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `tgate bench --json` at tiny sizes (10 timed connects, 5 expiries,
/// one short climb step, a storm of 60 connects from 12 callers against 6
/// accounts) with `extra` flags, and returns its report once it succeeded.
fn small_bench(extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tgate"))
        .args(["bench", "--json"])
        .args(["--connects", "10", "--rate", "50"])
        .args(["--expiries", "5", "--expiry-rate", "50"])
        .args(["--sustained-rates", "50", "--step", "200ms"])
        .args(["--storm-events", "60", "--storm-callers", "12"])
        .args(["--storm-accounts", "6", "--storm-duration", "300ms"])
        .args(["--confirm-timeout", "1s"])
        .args(extra)
        .env_remove("TGATE_TEST_DATABASE_URL")
        .output()
        .expect("run tgate bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tgate bench failed:\n{stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{stderr}"))
}

#[test]
fn a_small_bench_reports_every_figure_and_loses_nothing() {
    // Bans in force on other addresses: none may refuse a caller; closed
    // sessions of another account at the tunnel addresses: none may pass
    // for the connect's own.
    let report = small_bench(&["--bans", "20", "--history", "3"]);

    let mut keys: Vec<&str> = report
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "confirm_to_permit_ms",
            "connect_to_prompt_ms",
            "database",
            "expiry_lateness_ms",
            "peak_rss_mb",
            "simulators_rss_mb",
            "storm",
            "sustained_events_per_s",
        ]
    );
    assert_eq!(report["database"], "sqlite");
    for figure in ["connect_to_prompt_ms", "confirm_to_permit_ms"] {
        for key in ["p50", "p95", "p99"] {
            assert!(report[figure][key].is_number(), "{figure}.{key}: {report}");
        }
        // Every connect was prompted and every "It's me" let its client in.
        assert_eq!(report[figure]["n"], 10, "{figure}: {report}");
    }
    for key in ["p50", "p99", "max"] {
        assert!(report["expiry_lateness_ms"][key].is_number(), "{report}");
    }
    assert_eq!(report["expiry_lateness_ms"]["n"], 5, "{report}");
    assert!(report["sustained_events_per_s"].is_number(), "{report}");

    let storm = &report["storm"];
    assert_eq!(storm["events"], 60);
    assert_eq!(storm["callers"], 12);
    assert_eq!(storm["accounts"], 6);
    assert_eq!(storm["lost"], 0, "{report}");
    for key in [
        "prompts_max_per_account",
        "bans_expected",
        "bans_applied",
        "ban_delay_ms_max",
    ] {
        assert!(storm.get(key).is_some(), "storm.{key}: {report}");
    }
    // Five connects from each caller against six accounts, one pending
    // prompt per account: most are blocked, so callers do get banned.
    assert!(storm["bans_expected"].as_u64() > Some(0), "{report}");
    assert_eq!(storm["bans_applied"], storm["bans_expected"], "{report}");
    assert!(report["peak_rss_mb"].as_f64() > Some(0.0), "{report}");
    assert!(report["simulators_rss_mb"].as_f64() > Some(0.0), "{report}");
}

/// A router and a Bot API far away (`--router-latency`, `--telegram-latency`)
/// still lose nothing, and the distance shows where it must: the simulated
/// router waits before it runs each exec, so no permit can be in place
/// sooner than that after its press, nor any expired client cut off sooner
/// after its deadline. These are floors the simulators set, not timings of
/// tgate: a bench that ignored the flags would come in under them.
#[test]
fn a_distant_router_is_modelled_and_still_loses_nothing() {
    const ROUTER_MS: f64 = 30.0;
    let report = small_bench(&["--router-latency", "30ms", "--telegram-latency", "20ms"]);

    for figure in ["connect_to_prompt_ms", "confirm_to_permit_ms"] {
        assert_eq!(report[figure]["n"], 10, "{figure}: {report}");
    }
    assert_eq!(report["expiry_lateness_ms"]["n"], 5, "{report}");
    let permit_p50 = report["confirm_to_permit_ms"]["p50"].as_f64();
    assert!(permit_p50 >= Some(ROUTER_MS), "{report}");
    let expiry_p50 = report["expiry_lateness_ms"]["p50"].as_f64();
    assert!(expiry_p50 >= Some(ROUTER_MS), "{report}");
    let storm = &report["storm"];
    assert_eq!(storm["lost"], 0, "{report}");
    assert!(storm["bans_expected"].as_u64() > Some(0), "{report}");
    assert_eq!(storm["bans_applied"], storm["bans_expected"], "{report}");
}

/// Sizes the scenarios cannot be built from are refused before anything
/// starts, with the flag named.
#[test]
fn sizes_the_bench_cannot_build_are_refused() {
    for (args, reason) in [
        (["--bans", "4194305"], "--bans must not exceed 4194304"),
        (
            ["--history", "10001"],
            "--history × --connects must not exceed",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tgate"))
            .arg("bench")
            .args(args)
            .env_remove("TGATE_TEST_DATABASE_URL")
            .output()
            .expect("run tgate bench");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
}

/// However the bench ends (here SIGKILL, which it cannot catch or pass on),
/// the tgate it started does not outlive it.
#[test]
fn a_killed_bench_takes_its_tgate_along() {
    let mut bench = Command::new(env!("CARGO_BIN_EXE_tgate"))
        // Long enough to be killed mid-run.
        .args(["bench", "--json", "--connects", "100000", "--rate", "50"])
        .env_remove("TGATE_TEST_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tgate bench");
    let tgate =
        wait_for(|| children(bench.id()).into_iter().next()).expect("the bench starts tgate");
    bench.kill().unwrap();
    bench.wait().unwrap();
    if wait_for(|| (!running(tgate)).then_some(())).is_none() {
        let _ = Command::new("kill").arg(tgate.to_string()).status();
        panic!("tgate {tgate} still ran a minute after its bench was killed");
    }
}

/// Polls `check` until it gives a value, for a generous bound (not a timing
/// assertion: it only stops a broken test).
fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let give_up = Instant::now() + Duration::from_secs(60);
    while Instant::now() < give_up {
        if let Some(value) = check() {
            return Some(value);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// The processes `pid` started that are still its children.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether `pid` is a live process (not gone, not a zombie waiting to be
/// reaped by whoever inherited it).
fn running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses.
    let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
    !matches!(state, Some(Some('Z' | 'X')) | None)
}
