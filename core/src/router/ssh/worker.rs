//! The thread that owns a router's SSH session. Async callers hand it
//! requests over a channel; it runs them one at a time on one long-lived
//! session, reconnecting when the session breaks and backing off when the
//! router cannot be reached, so that a dead router costs one connect attempt
//! per backoff step however many calls arrive.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::SshTarget;
use super::connection::{Connection, ExecError};
use crate::router::RouterError;

/// The first wait after a failed connect; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub(super) struct Request {
    pub text: String,
    pub reply: oneshot::Sender<Result<String, RouterError>>,
    /// The caller's span, entered while the request runs here.
    pub span: tracing::Span,
}

/// Serves requests until every sender is gone, then closes the session.
pub(super) fn run(target: SshTarget, mut requests: mpsc::Receiver<Request>) {
    let mut worker = Worker {
        target,
        connection: None,
        backoff: Backoff::default(),
    };
    while let Some(request) = requests.blocking_recv() {
        if request.reply.is_closed() {
            // The caller gave up while the request was queued.
            continue;
        }
        let _entered = request.span.enter();
        let result = worker.execute(&request.text);
        let _ = request.reply.send(result);
    }
    if let Some(connection) = worker.connection.take() {
        connection.close();
    }
}

struct Worker {
    target: SshTarget,
    connection: Option<Connection>,
    backoff: Backoff,
}

impl Worker {
    fn execute(&mut self, text: &str) -> Result<String, RouterError> {
        let mut may_retry = self.connection.is_some();
        loop {
            let connection = match self.connection.take() {
                Some(connection) => connection,
                None => self.connect()?,
            };
            debug!(command = text, "running");
            match connection.exec(text, self.target.command_timeout) {
                Ok(output) => {
                    self.connection = Some(connection);
                    return Ok(output);
                }
                Err(ExecError::Timeout) => {
                    // Whatever the router is doing with the command, this
                    // session is out of step with it.
                    warn!(timeout = ?self.target.command_timeout, "command timed out; dropping the session");
                    return Err(RouterError::Timeout {
                        router: self.target.router.clone(),
                        timeout: self.target.command_timeout,
                    });
                }
                Err(ExecError::Broken(reason)) if may_retry => {
                    // A session that sat idle may have been closed by the
                    // router or a NAT; every tgate command is idempotent, so
                    // one retry on a fresh session is safe.
                    info!(%reason, "session broke; retrying on a new one");
                    may_retry = false;
                }
                Err(ExecError::Broken(reason)) => {
                    warn!(%reason, "session broke");
                    return Err(RouterError::Unreachable {
                        router: self.target.router.clone(),
                        reason,
                    });
                }
            }
        }
    }

    fn connect(&mut self) -> Result<Connection, RouterError> {
        let now = Instant::now();
        if let Some(error) = self.backoff.refusal(now) {
            debug!(%error, "in backoff; not connecting");
            return Err(error);
        }
        let started = Instant::now();
        match Connection::open(&self.target) {
            Ok(connection) => {
                info!(elapsed = ?started.elapsed(), "connected");
                self.backoff = Backoff::default();
                Ok(connection)
            }
            Err(error) => {
                let wait = self.backoff.failed(error.clone(), Instant::now());
                warn!(%error, retry_in = ?wait, "connect failed");
                Err(error)
            }
        }
    }
}

/// Exponential backoff between connect attempts, remembering why the last
/// one failed so that calls during the wait can say so.
#[derive(Default)]
struct Backoff {
    next_wait: Option<Duration>,
    retry_at: Option<Instant>,
    last_error: Option<RouterError>,
}

impl Backoff {
    /// Records a failed attempt; returns how long to wait before the next.
    fn failed(&mut self, error: RouterError, now: Instant) -> Duration {
        let wait = self.next_wait.unwrap_or(FIRST_BACKOFF);
        self.next_wait = Some((wait * 2).min(MAX_BACKOFF));
        self.retry_at = Some(now + wait);
        self.last_error = Some(error);
        wait
    }

    /// The error for a call arriving before the next attempt is due. A wrong
    /// host key or a refused login is repeated as is; anything else is
    /// reported as unreachable.
    fn refusal(&self, now: Instant) -> Option<RouterError> {
        let retry_at = self.retry_at.filter(|at| now < *at)?;
        let left = retry_at - now;
        Some(match self.last_error.clone()? {
            RouterError::Unreachable { router, reason } => RouterError::Unreachable {
                router,
                reason: format!("{reason} (next attempt in {}ms)", left.as_millis()),
            },
            RouterError::Timeout { router, .. } => RouterError::Unreachable {
                router,
                reason: format!("timed out (next attempt in {}ms)", left.as_millis()),
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> RouterError {
        RouterError::Unreachable {
            router: "office".parse().unwrap(),
            reason: "connection refused".into(),
        }
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_refuses_meanwhile() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        assert!(backoff.refusal(start).is_none());
        let waits: Vec<Duration> = (0..12)
            .map(|_| backoff.failed(unreachable(), start))
            .collect();
        assert_eq!(waits[0], Duration::from_millis(200));
        assert_eq!(waits[1], Duration::from_millis(400));
        assert_eq!(waits[2], Duration::from_millis(800));
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF);

        match backoff.refusal(start + Duration::from_secs(1)) {
            Some(RouterError::Unreachable { reason, .. }) => {
                assert!(reason.starts_with("connection refused (next attempt in"));
            }
            other => panic!("{other:?}"),
        }
        assert!(backoff.refusal(start + MAX_BACKOFF).is_none());
    }

    #[test]
    fn a_wrong_host_key_is_repeated_during_backoff() {
        let mut backoff = Backoff::default();
        let now = Instant::now();
        let mismatch = RouterError::HostKeyMismatch {
            router: "office".parse().unwrap(),
            expected: "SHA256:a".into(),
            actual: "SHA256:b".into(),
        };
        backoff.failed(mismatch.clone(), now);
        assert_eq!(backoff.refusal(now), Some(mismatch));
    }
}
