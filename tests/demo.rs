//! `tgate demo` end to end (SPEC §14): the real binary, with no
//! configuration file anywhere, tells the five stories and exits 0. The demo
//! checks each outcome itself against the simulators and the database; this
//! test checks that a newcomer is shown each of them.

use std::process::Command;

#[test]
fn the_demo_tells_all_five_stories_without_a_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tgate"))
        .arg("demo")
        .current_dir(dir.path())
        // Were the demo to read a configuration, this one would fail it.
        .env("TGATE_CONFIG", dir.path().join("missing.toml"))
        .env_remove("RUST_LOG")
        .output()
        .expect("running tgate demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tgate demo failed ({}):\n{stdout}\n{stderr}",
        output.status
    );

    let expected = [
        // Enrollment through the bot.
        "Alice opens the link → \"✅ You now confirm VPN logins for alice on office.\"",
        // 1: confirmed.
        "🔐 VPN login: is this you?",
        "Alice presses \"✅ It's me\" → toast \"Allowed\"; permit: 10.10.0.5; sandbox: (empty)",
        "the prompt loses its buttons and ends \"✅ Allowed.\"",
        "✔ confirmed:",
        // 2: Not me.
        "bob's PPP session disconnected; ban: 203.0.113.66 (timeout ",
        "🚨 \"Not me\" from the owner (Telegram id 5151) of bob on office: caller 203.0.113.66",
        "203.0.113.66 tries again → 403 banned",
        "✔ refused:",
        // 3: timed out.
        "the prompt ends \"⌛ Not confirmed in time; the session was disconnected.\"",
        "✔ timed out: session expired; strike 1 against 198.51.100.23",
        // 4: banned after strikes.
        "strike 3 of 3 against 198.51.100.23",
        "198.51.100.23 (timeout ",
        "⛔ 198.51.100.23 was banned until ",
        "alice connects once more → 403 banned",
        "✔ banned:",
        // 5: lifted by an admin in Telegram.
        "the admin sends /unban 198.51.100.23 → \"✅ Lifted: • 198.51.100.23/32",
        "Alice presses \"✅ It's me\" → toast \"Allowed\"; permit: 10.10.0.11",
        "✔ lifted:",
        "All five stories ended as expected",
    ];
    for line in expected {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    let order: Vec<_> = (1..=5)
        .map(|n| {
            stdout
                .find(&format!("── Story {n}:"))
                .unwrap_or_else(|| panic!("no story {n} in:\n{stdout}"))
        })
        .collect();
    assert!(order.is_sorted(), "stories out of order:\n{stdout}");
}
