//! The thread that owns a router's SSH session. Async callers hand it
//! requests over two channels, one taken before the other; it runs each
//! channel's requests in arrival order on one long-lived session,
//! reconnecting when the session breaks and backing off when the router
//! cannot be reached, so that a dead router costs one connect attempt per
//! backoff step however many calls arrive. Whatever queued up while a
//! command ran goes to the router as one script ([`batch`](super::batch)),
//! so a burst costs one exec rather than one per command.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::SshTarget;
use super::batch::{self, Item, Part};
use super::connection::{Connection, ExecError};
use crate::router::RouterError;

/// RouterOS's answer to an add whose entry exists.
const ALREADY_HAVE: &str = "failure: already have such entry\n";

/// The first wait after a failed connect; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The most commands one exec carries: a batch must finish well within one
/// command's timeout, and a huge script is one huge output to hold.
const MAX_BATCH: usize = 64;

pub(super) struct Request {
    pub text: String,
    /// How the command may run: alone, or in a batch.
    pub mode: Mode,
    pub reply: oneshot::Sender<Result<String, RouterError>>,
    /// The caller's span, entered while the request runs here.
    pub span: tracing::Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mode {
    /// Runs in an exec of its own (bootstrap's changes, whose output is read
    /// whole).
    Alone,
    /// May share an exec with others. `probe` counts an add's entry, to tell
    /// a duplicate from a real failure without running the add again.
    Batched { probe: Option<String> },
}

/// A router's two queues.
pub(super) struct Inbox {
    /// Requests that go ahead of the rest.
    pub first: mpsc::Receiver<Request>,
    pub rest: mpsc::Receiver<Request>,
}

impl Inbox {
    /// The next request, a first one if any is waiting; blocks until one
    /// comes. `None` once both queues are closed and empty.
    fn next(&mut self) -> Option<Request> {
        if let Ok(request) = self.first.try_recv() {
            return Some(request);
        }
        if let Ok(request) = self.rest.try_recv() {
            return Some(request);
        }
        let Inbox { first, rest } = self;
        futures::executor::block_on(async {
            tokio::select! {
                biased;
                Some(request) = first.recv() => Some(request),
                Some(request) = rest.recv() => Some(request),
                else => None,
            }
        })
    }

    /// Adds what is already waiting to `queued`, first ones first, up to
    /// [`MAX_BATCH`].
    fn fill(&mut self, queued: &mut Vec<Request>) {
        for queue in [&mut self.first, &mut self.rest] {
            while queued.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(request) => queued.push(request),
                    Err(_) => break,
                }
            }
        }
    }
}

/// Serves requests until every sender is gone, then closes the session.
pub(super) fn run(target: SshTarget, mut inbox: Inbox) {
    let mut worker = Worker {
        target,
        connection: None,
        backoff: Backoff::default(),
    };
    let mut queued = Vec::with_capacity(MAX_BATCH);
    while let Some(next) = inbox.next() {
        queued.push(next);
        inbox.fill(&mut queued);
        // A caller that gave up while its request was queued gets nothing.
        queued.retain(|r| !r.reply.is_closed());
        worker.serve(std::mem::take(&mut queued));
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
    /// Runs `requests` in order: each run of batchable ones together, the
    /// others alone.
    fn serve(&mut self, requests: Vec<Request>) {
        let mut together = Vec::new();
        for request in requests {
            if request.mode == Mode::Alone {
                self.run_batch(std::mem::take(&mut together));
                self.run_alone(request);
            } else {
                together.push(request);
            }
        }
        self.run_batch(together);
    }

    fn run_alone(&mut self, request: Request) {
        let _entered = request.span.enter();
        let result = self.execute(&request.text);
        let _ = request.reply.send(result);
    }

    fn run_batch(&mut self, mut requests: Vec<Request>) {
        if requests.len() <= 1 {
            if let Some(request) = requests.pop() {
                self.run_alone(request);
            }
            return;
        }
        let marker = batch::marker(rand::random());
        let items: Vec<Item<'_>> = requests
            .iter()
            .map(|r| Item {
                text: &r.text,
                probe: match &r.mode {
                    Mode::Batched { probe } => probe.as_deref(),
                    Mode::Alone => None,
                },
            })
            .collect();
        let script = batch::script(&marker, &items);
        debug!(commands = requests.len(), "running a batch");
        let parts = match self.execute(&script) {
            Ok(output) => batch::split(&marker, requests.len(), &output),
            Err(error) => {
                for request in requests {
                    let _ = request.reply.send(Err(error.clone()));
                }
                return;
            }
        };
        for (request, part) in requests.into_iter().zip(parts) {
            match part {
                Part::Ran(output) => {
                    let _ = request.reply.send(Ok(output));
                }
                // The add failed because the entry is there: what RouterOS
                // says to that add on its own.
                Part::Failed { present: Some(n) } if n > 0 => {
                    let _ = request.reply.send(Ok(ALREADY_HAVE.to_owned()));
                }
                // Run alone, the command shows the router's own words for
                // what went wrong; every tgate command is safe to repeat.
                Part::Failed { .. } | Part::Missing => self.run_alone(request),
            }
        }
    }

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
