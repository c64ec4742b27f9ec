//! The committed systemd units (deploy/systemd/) as systemd itself reads
//! them: `systemd-analyze verify` must accept each without a single warning
//! (it exits 0 on unknown keys and bad values, printing them, so any output
//! fails the test), and each keeps the hardening the install relies on.
//! Needs systemd-analyze; see `support/tool.rs` for what happens without it.

#[path = "support/tool.rs"]
mod tool;

use std::path::Path;
use std::process::Command;

const UNITS: [&str; 4] = [
    "tgate.service",
    "tgate-api.service",
    "tgate-watcher.service",
    "tgate-worker@.service",
];

fn unit_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/systemd")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn systemd_accepts_every_unit_without_a_warning() {
    let test = "systemd_accepts_every_unit_without_a_warning";
    let Some(analyze) = tool::system_tool("systemd-analyze", "systemd", test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for name in UNITS {
        // verify checks that ExecStart's program exists: point it at the
        // binary this build made instead of the installed path.
        let text = unit_text(name).replace("/usr/local/bin/tgate", env!("CARGO_BIN_EXE_tgate"));
        // A template is verified as an instance, the way it is started.
        let file = dir.path().join(name.replace("@.", "@1."));
        std::fs::write(&file, text).unwrap();
        files.push(file);
    }
    let out = Command::new(analyze)
        .arg("verify")
        .args(&files)
        .output()
        .expect("running systemd-analyze");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify warned: {said}"
    );
}

#[test]
fn every_unit_runs_unprivileged_and_confined() {
    let required = [
        "User=tgate",
        "EnvironmentFile=-/etc/tgate/tgate.env",
        "StateDirectory=tgate",
        "ReadWritePaths=/var/lib/tgate",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "LockPersonality=yes",
        "RestrictNamespaces=yes",
    ];
    for name in UNITS {
        let text = unit_text(name);
        for line in required {
            assert!(text.contains(line), "{name} lacks {line:?}");
        }
    }
}
