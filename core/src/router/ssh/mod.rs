//! The SSH implementation of [`Gateway`]: RouterOS's CLI over one long-lived
//! `ssh2` session per router.
//!
//! `ssh2` blocks, so each [`SshGateway`] owns a dedicated OS thread that owns
//! the session (the private `worker` module); async callers send it a
//! request and await the reply on a oneshot, and the executor never blocks.
//! The thread connects on the first call, checks the pinned host key before
//! logging in, runs each command in its own exec channel with a timeout, and
//! reconnects (once per call, then with exponential backoff) when the
//! session breaks.

mod batch;
mod connection;
mod worker;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ipnet::IpNet;
use secrecy::SecretString;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;

use super::command::{Command, Family};
use super::parse::{self, Problem};
use super::setup::read::Rendered;
use super::{AddOutcome, Gateway, ListedEntry, NewEntry, PppMatch, PppSession, RouterError};
use crate::domain::{AddressListName, RouterName};
use crate::metrics::{self, RouterMetrics};

/// How tgate logs in to a router.
#[derive(Clone)]
pub enum SshAuth {
    Password(SecretString),
    /// A private key file (OpenSSH or PEM format), optionally encrypted.
    KeyFile {
        path: PathBuf,
        passphrase: Option<SecretString>,
    },
}

impl fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshAuth::Password(_) => f.write_str("Password(<redacted>)"),
            SshAuth::KeyFile { path, passphrase } => f
                .debug_struct("KeyFile")
                .field("path", path)
                .field("passphrase", &passphrase.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// Where and how to reach one router.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub router: RouterName,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: SshAuth,
    /// The pinned host key: `SHA256:<base64 without padding>`, as
    /// `ssh-keygen -lf` prints it. Any other key is refused before login.
    pub host_key: String,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

/// How many calls may wait for a router's thread, in each of its two
/// queues, before callers wait to queue.
const QUEUE: usize = 256;

/// A [`Gateway`] to one RouterOS router over SSH.
pub struct SshGateway {
    router: RouterName,
    /// Calls on [`Self::first`], which the router's thread takes before any
    /// other.
    urgent: mpsc::Sender<worker::Request>,
    requests: mpsc::Sender<worker::Request>,
    /// The address list whose calls go ahead of the others.
    first: Option<AddressListName>,
    metrics: Arc<RouterMetrics>,
}

impl SshGateway {
    /// Starts the router's thread. Nothing connects until the first call.
    pub fn new(target: SshTarget) -> SshGateway {
        let router = target.router.clone();
        let (urgent, first) = mpsc::channel(QUEUE);
        let (requests, rest) = mpsc::channel(QUEUE);
        let inbox = worker::Inbox { first, rest };
        let spawned = std::thread::Builder::new()
            .name(format!("tgate-ssh-{router}"))
            .spawn(move || worker::run(target, inbox));
        if let Err(error) = spawned {
            // The receiver was dropped with the closure, so every call will
            // report the router unreachable instead of hanging.
            tracing::error!(%router, %error, "cannot start the router's ssh thread");
        }
        let metrics = metrics::global().router(&router);
        SshGateway {
            router,
            urgent,
            requests,
            first: None,
            metrics,
        }
    }

    /// Has reads and changes of `list` go ahead of every other call queued
    /// for the router (each still in its own order). For the ban list: a ban
    /// should stop a caller at once, not after the kicks its own storm of
    /// connects queued.
    pub fn first(mut self, list: AddressListName) -> SshGateway {
        self.first = Some(list);
        self
    }

    /// Runs `command` on the router's thread; returns the rendered text (for
    /// error messages) and the router's output. The round trip, queueing
    /// included, is what the command metric observes.
    async fn run(&self, command: &Command) -> Result<(String, String), RouterError> {
        let mode = worker::Mode::Batched {
            probe: command.presence_probe(),
        };
        let urgent =
            (self.first.as_ref()).is_some_and(|first| command.address_list() == Some(first));
        self.run_text(command.kind(), command.render()?, mode, urgent)
            .await
    }

    /// Runs one bootstrap query or change (rendered by
    /// [`setup`](crate::router::setup) from typed values) and returns the
    /// router's output as it is: the caller knows how to read it.
    pub async fn exec_setup(&self, command: &Rendered) -> Result<String, RouterError> {
        let (_, output) = self
            .run_text(
                "bootstrap",
                command.text().to_owned(),
                worker::Mode::Alone,
                false,
            )
            .await?;
        Ok(output)
    }

    async fn run_text(
        &self,
        kind: &'static str,
        text: String,
        mode: worker::Mode,
        urgent: bool,
    ) -> Result<(String, String), RouterError> {
        let span = tracing::info_span!("router_call", router = %self.router, command = kind);
        let (reply, answer) = oneshot::channel();
        let request = worker::Request {
            text: text.clone(),
            mode,
            reply,
            span: span.clone(),
        };
        let stopped = || RouterError::Unreachable {
            router: self.router.clone(),
            reason: "the router's ssh thread has stopped".into(),
        };
        let started = Instant::now();
        let result = async {
            let queue = if urgent { &self.urgent } else { &self.requests };
            queue.send(request).await.map_err(|_| stopped())?;
            let output = answer.await.map_err(|_| stopped())?;
            if let Err(error) = &output {
                tracing::debug!(%error, "router call failed");
            }
            output
        }
        .instrument(span)
        .await;
        self.metrics.observe(kind, started.elapsed());
        match result {
            Ok(output) => Ok((text, output)),
            Err(error) => {
                self.metrics.error(&error);
                Err(error)
            }
        }
    }

    /// The error for output in which the router refused `text`, counted.
    fn refused(&self, problem: Problem, text: &str) -> RouterError {
        let error = problem.into_error(&self.router, text);
        self.metrics.error(&error);
        error
    }

    /// Runs a write: silence from the router is success.
    async fn write(&self, command: &Command) -> Result<(), RouterError> {
        let (text, output) = self.run(command).await?;
        parse::check_write(&output).map_err(|problem| self.refused(problem, &text))
    }
}

#[async_trait]
impl Gateway for SshGateway {
    fn router(&self) -> &RouterName {
        &self.router
    }

    async fn add_address(&self, entry: &NewEntry) -> Result<AddOutcome, RouterError> {
        let (text, output) = self.run(&Command::AddAddress(entry.clone())).await?;
        match parse::check_write(&output) {
            Ok(()) => Ok(AddOutcome::Added),
            Err(Problem::AlreadyExists(_)) => Ok(AddOutcome::AlreadyPresent),
            Err(problem) => Err(self.refused(problem, &text)),
        }
    }

    async fn remove_address(
        &self,
        list: &AddressListName,
        address: IpNet,
    ) -> Result<(), RouterError> {
        self.write(&Command::RemoveAddress {
            list: list.clone(),
            address,
        })
        .await
    }

    async fn list_addresses(
        &self,
        list: &AddressListName,
    ) -> Result<Vec<ListedEntry>, RouterError> {
        let mut entries = Vec::new();
        for family in Family::BOTH {
            let command = Command::PrintList {
                family,
                list: list.clone(),
            };
            let (text, output) = self.run(&command).await?;
            let parsed =
                parse::address_list(&output).map_err(|problem| self.refused(problem, &text))?;
            entries.extend(
                parsed
                    .into_iter()
                    .filter(|e| e.list == list.as_str() && Family::of(&e.address) == family),
            );
        }
        Ok(entries)
    }

    async fn active_sessions(&self) -> Result<Vec<PppSession>, RouterError> {
        let (text, output) = self.run(&Command::PrintPppActive).await?;
        parse::ppp_active(&output).map_err(|problem| self.refused(problem, &text))
    }

    /// Asks the router for the matching sessions alone: reading every
    /// session would grow with the router's load on every press.
    async fn find_active(&self, target: &PppMatch) -> Result<Option<PppSession>, RouterError> {
        let (text, output) = self.run(&Command::FindPppActive(target.clone())).await?;
        let sessions =
            parse::ppp_active(&output).map_err(|problem| self.refused(problem, &text))?;
        Ok(sessions.into_iter().find(|s| target.matches(s)))
    }

    async fn disconnect(&self, target: &PppMatch) -> Result<(), RouterError> {
        self.write(&Command::RemovePppActive(target.clone())).await
    }

    async fn identity(&self) -> Result<String, RouterError> {
        let (text, output) = self.run(&Command::Identity).await?;
        parse::identity(&output).map_err(|problem| self.refused(problem, &text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let target = SshTarget {
            router: "office".parse().unwrap(),
            host: "192.0.2.1".into(),
            port: 22,
            user: "tgate".into(),
            auth: SshAuth::Password("hunter2-password".into()),
            host_key: "SHA256:abc".into(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(10),
        };
        let shown = format!("{target:?} {target:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Password(<redacted>)"));

        let key = SshAuth::KeyFile {
            path: "/etc/tgate/id_ed25519".into(),
            passphrase: Some("correct horse battery".into()),
        };
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.contains("horse"), "{shown}");
        assert!(shown.contains("id_ed25519") && shown.contains("<redacted>"));
    }

    #[tokio::test]
    async fn an_empty_disconnect_never_reaches_the_router() {
        let gateway = SshGateway::new(SshTarget {
            router: "office".parse().unwrap(),
            host: "192.0.2.1".into(),
            port: 22,
            user: "tgate".into(),
            auth: SshAuth::Password("x".into()),
            host_key: "SHA256:abc".into(),
            connect_timeout: Duration::from_millis(10),
            command_timeout: Duration::from_millis(10),
        });
        let result = gateway.disconnect(&PppMatch::default()).await;
        assert!(matches!(result, Err(RouterError::Invalid(_))), "{result:?}");
    }

    #[tokio::test]
    async fn a_failed_command_is_timed_and_counted_by_kind() {
        // Nothing listens on port 1; the name is this test's own.
        let router: RouterName = "metrics-unreachable".parse().unwrap();
        let gateway = SshGateway::new(SshTarget {
            router: router.clone(),
            host: "127.0.0.1".into(),
            port: 1,
            user: "tgate".into(),
            auth: SshAuth::Password("x".into()),
            host_key: "SHA256:abc".into(),
            connect_timeout: Duration::from_millis(500),
            command_timeout: Duration::from_millis(500),
        });
        let result = gateway.identity().await;
        assert!(
            matches!(result, Err(RouterError::Unreachable { .. })),
            "{result:?}"
        );
        let _ = gateway.disconnect(&PppMatch::default()).await;

        let mut out = metrics::Exposition::default();
        metrics::global().render(&mut out);
        let text = out.finish();
        let line = |l: &str| assert!(text.lines().any(|x| x == l), "{l} in\n{text}");
        line(
            "tgate_router_command_seconds_count{router=\"metrics-unreachable\",command=\"identity\"} 1",
        );
        line(
            "tgate_router_command_errors_total{router=\"metrics-unreachable\",kind=\"unreachable\"} 1",
        );
        // The refused disconnect never reached the router.
        line(
            "tgate_router_command_seconds_count{router=\"metrics-unreachable\",command=\"remove-ppp-active\"} 0",
        );
        line(
            "tgate_router_command_errors_total{router=\"metrics-unreachable\",kind=\"command\"} 0",
        );
    }
}
