//! Crash safety (SPEC §11): the worker runs as its own OS process; killed
//! with SIGKILL while sessions wait and restarted, it still expires every
//! one of them, each exactly once.

mod common;

use std::process::{Child, Command, Stdio};

use common::{Harness, eventually};
use tgate_core::domain::SessionState;

/// The worker process, killed with SIGKILL when dropped (also when a test
/// fails).
struct WorkerProcess(Child);

impl WorkerProcess {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_worker(config: &std::path::Path) -> WorkerProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_tgate-worker"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start tgate-worker");
    WorkerProcess(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_worker_restarts_and_loses_nothing() {
    let h = Harness::new(r#"confirm_timeout = "3s""#, "").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tgate.toml");
    std::fs::write(&path, &h.toml).unwrap();

    let mut worker = spawn_worker(&path);
    let mut sessions = Vec::new();
    for i in 0..5u8 {
        let account = format!("early{i}");
        h.enroll(&account).await;
        sessions.push(
            h.pending(
                &account,
                &format!("203.0.113.{}", 10 + i),
                &format!("10.10.1.{}", 10 + i),
            )
            .await,
        );
    }
    // Killed mid-flight: its jobs may be fetched and waiting for their
    // deadlines.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    worker.kill();

    // Sessions created while no worker runs.
    for i in 0..5u8 {
        let account = format!("late{i}");
        h.enroll(&account).await;
        sessions.push(
            h.pending(
                &account,
                &format!("203.0.113.{}", 20 + i),
                &format!("10.10.2.{}", 10 + i),
            )
            .await,
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let mut worker = spawn_worker(&path);
    for s in &sessions {
        eventually("every session expires", || async {
            h.state(s).await == SessionState::Expired
        })
        .await;
    }
    for s in &sessions {
        eventually("every PPP session is disconnected", || async {
            !h.connected(s.account.as_str())
        })
        .await;
    }
    // Give a duplicate every chance to show up before counting.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    for s in &sessions {
        assert_eq!(h.audited(s, "session.expired").await, 1, "{}", s.account);
        assert_eq!(h.audited(s, "strike.add").await, 1, "{}", s.account);
    }
    worker.kill();
}
