//! One authenticated `ssh2` session to a router, and running one command on
//! it. Everything here blocks; it runs only on the router's own thread.

use std::io::{ErrorKind, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use secrecy::ExposeSecret;
use ssh2::{ErrorCode, HashType, MethodType, Session};

use super::{SshAuth, SshTarget};
use crate::router::RouterError;

/// libssh2's `LIBSSH2_ERROR_TIMEOUT`: a blocking call outlived
/// [`Session::set_timeout`].
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

/// Why a command did not complete.
#[derive(Debug)]
pub(super) enum ExecError {
    /// The command outlived its timeout; the session's state is unknown.
    Timeout,
    /// The session is unusable (closed, reset, channel refused).
    Broken(String),
}

pub(super) struct Connection {
    session: Session,
}

impl Connection {
    /// Connects, checks the pinned host key before anything else, and logs in.
    pub fn open(target: &SshTarget) -> Result<Connection, RouterError> {
        let unreachable = |reason: String| RouterError::Unreachable {
            router: target.router.clone(),
            reason,
        };
        let stream =
            tcp_connect(&target.host, target.port, target.connect_timeout).map_err(unreachable)?;
        let _ = stream.set_nodelay(true);

        let mut session =
            Session::new().map_err(|e| unreachable(format!("cannot start ssh: {e}")))?;
        session.set_tcp_stream(stream);
        session.set_timeout(millis(target.connect_timeout));
        prefer_aes_gcm(&session).map_err(|e| unreachable(format!("cannot start ssh: {e}")))?;
        session
            .handshake()
            .map_err(|e| unreachable(format!("ssh handshake failed: {e}")))?;

        let actual = fingerprint(&session)
            .ok_or_else(|| unreachable("the server sent no host key".into()))?;
        if !same_fingerprint(&actual, &target.host_key) {
            let _ = session.disconnect(None, "host key mismatch", None);
            return Err(RouterError::HostKeyMismatch {
                router: target.router.clone(),
                expected: target.host_key.clone(),
                actual,
            });
        }

        let login = match &target.auth {
            SshAuth::Password(password) => {
                session.userauth_password(&target.user, password.expose_secret())
            }
            SshAuth::KeyFile { path, passphrase } => session.userauth_pubkey_file(
                &target.user,
                None,
                path,
                passphrase.as_ref().map(|p| p.expose_secret()),
            ),
        };
        let auth_failed = |reason: String| RouterError::Auth {
            router: target.router.clone(),
            reason,
        };
        match login {
            Ok(()) if session.authenticated() => Ok(Connection { session }),
            Ok(()) => Err(auth_failed(format!("user {} not accepted", target.user))),
            Err(e) if is_timeout(&e) => Err(unreachable("login timed out".into())),
            Err(e) => Err(auth_failed(format!(
                "user {}: {}",
                target.user,
                e.message()
            ))),
        }
    }

    /// Runs `command` in a fresh exec channel and reads its output (stdout,
    /// then stderr) to the end, all within `timeout`.
    pub fn exec(&self, command: &str, timeout: Duration) -> Result<String, ExecError> {
        let deadline = Instant::now() + timeout;
        self.arm(deadline)?;
        let mut channel = self.session.channel_session().map_err(ssh_error)?;
        self.arm(deadline)?;
        channel.exec(command).map_err(ssh_error)?;

        let mut out = Vec::new();
        self.read_to_end(&mut channel, &mut out, deadline)?;
        let mut stderr = channel.stderr();
        let mut err = Vec::new();
        self.read_to_end(&mut stderr, &mut err, deadline)?;
        if !err.is_empty() {
            if !out.is_empty() && !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            out.extend_from_slice(&err);
        }

        // Only a channel the router closed cleanly proves the output is
        // complete: a session dying mid-command also ends the reads, and its
        // silence must not pass for a successful write. RouterOS's exit status
        // is unreliable, so it is not read.
        self.arm(deadline)?;
        channel.wait_close().map_err(ssh_error)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Says goodbye; failure does not matter, the session is being dropped.
    pub fn close(self) {
        self.session.set_timeout(500);
        let _ = self.session.disconnect(None, "tgate closing", None);
    }

    /// Sets libssh2's per-call timeout to what is left before `deadline`.
    fn arm(&self, deadline: Instant) -> Result<(), ExecError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ExecError::Timeout);
        }
        self.session.set_timeout(millis(left));
        Ok(())
    }

    fn read_to_end(
        &self,
        reader: &mut impl Read,
        out: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<(), ExecError> {
        let mut buf = [0u8; 8192];
        loop {
            self.arm(deadline)?;
            match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::TimedOut => return Err(ExecError::Timeout),
                Err(e) => return Err(ExecError::Broken(format!("reading output: {e}"))),
            }
        }
    }
}

fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// The host key's fingerprint as OpenSSH prints it: `SHA256:` and the
/// unpadded standard base64 of the SHA-256 digest.
fn fingerprint(session: &Session) -> Option<String> {
    let hash = session.host_key_hash(HashType::Sha256)?;
    Some(format!("SHA256:{}", STANDARD_NO_PAD.encode(hash)))
}

/// Tolerates a pin written with base64 padding or without the `SHA256:`
/// prefix; the digest itself must match exactly.
fn same_fingerprint(actual: &str, pinned: &str) -> bool {
    let digest = |s: &str| {
        let s = s.trim();
        s.strip_prefix("SHA256:")
            .unwrap_or(s)
            .trim_end_matches('=')
            .to_owned()
    };
    !pinned.trim().is_empty() && digest(actual) == digest(pinned)
}

fn is_timeout(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT)
}

fn ssh_error(e: ssh2::Error) -> ExecError {
    if is_timeout(&e) {
        ExecError::Timeout
    } else {
        ExecError::Broken(e.to_string())
    }
}

/// AES-GCM first for both directions, then every other cipher libssh2
/// offers, in its own order. libssh2's first choice, chacha20-poly1305, is
/// its own portable C, while AES runs on the processor's AES instructions
/// through OpenSSL; the router's SSH thread encrypts every command and
/// reads every answer. The set offered is unchanged, so a router without
/// AES-GCM still agrees on what it agreed on before.
fn prefer_aes_gcm(session: &Session) -> Result<(), ssh2::Error> {
    const FIRST: [&str; 2] = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"];
    for direction in [MethodType::CryptCs, MethodType::CryptSc] {
        let offered = session.supported_algs(direction)?;
        let first = FIRST.iter().filter(|c| offered.contains(c));
        let rest = offered.iter().filter(|c| !FIRST.contains(c));
        let order: Vec<&str> = first.chain(rest).copied().collect();
        session.method_pref(direction, &order.join(","))?;
    }
    Ok(())
}

/// libssh2 takes milliseconds, and reads 0 as "wait forever".
fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_compare_by_digest() {
        let actual = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
        assert!(same_fingerprint(actual, actual));
        assert!(same_fingerprint(
            actual,
            "uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s="
        ));
        assert!(!same_fingerprint(
            actual,
            "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2t"
        ));
        assert!(!same_fingerprint(actual, ""));
    }

    /// Against the simulator, which offers chacha20-poly1305 and AES-GCM
    /// as OpenSSH does, the session settles on AES-GCM rather than
    /// libssh2's own first choice.
    #[tokio::test]
    async fn the_session_encrypts_with_aes_gcm_when_the_router_offers_it() {
        let sim = tgate_sim::RouterSim::start(tgate_sim::RouterSimConfig::default())
            .await
            .expect("simulator starts");
        let target = SshTarget {
            router: "office".parse().unwrap(),
            host: sim.addr().ip().to_string(),
            port: sim.addr().port(),
            user: "admin".into(),
            auth: SshAuth::Password("admin".into()),
            host_key: sim.host_key_fingerprint(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
        };
        let conn = tokio::task::spawn_blocking(move || Connection::open(&target))
            .await
            .unwrap()
            .expect("connects");
        for direction in [MethodType::CryptCs, MethodType::CryptSc] {
            let cipher = conn.session.methods(direction).unwrap_or_default();
            assert!(cipher.ends_with("-gcm@openssh.com"), "{cipher}");
        }
    }

    #[test]
    fn timeouts_never_mean_forever() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_millis(300)), 300);
        assert_eq!(millis(Duration::from_secs(u64::MAX)), u32::MAX);
    }
}
