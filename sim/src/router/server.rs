//! The SSH side: a russh server that authenticates the configured users and
//! runs exec requests and interactive shells through the script
//! interpreter. Each TCP connection is relayed through an in-memory pipe by
//! a task of our own, so aborting that task closes the socket at once —
//! which is how a crashed or rebooted router looks to the client.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Handle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::eval::{Terminal, run_script};
use super::menu::Menu;
use super::{Shared, SimAuth, SimUser};

pub(crate) enum Credential {
    Password(String),
    Key(PublicKey),
}

pub(crate) struct User {
    name: String,
    credential: Credential,
    write: bool,
}

impl User {
    pub fn from_config(u: &SimUser) -> anyhow::Result<User> {
        let credential = match &u.auth {
            SimAuth::Password(p) => Credential::Password(p.clone()),
            SimAuth::PublicKey(line) => Credential::Key(
                PublicKey::from_openssh(line.trim())
                    .with_context(|| format!("public key of {}", u.name))?,
            ),
        };
        Ok(User {
            name: u.name.clone(),
            credential,
            write: u.write,
        })
    }
}

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, key: PrivateKey) {
    let config = Arc::new(russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-ROSSSH".into()),
        keys: vec![key],
        auth_rejection_time: std::time::Duration::from_millis(50),
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    });
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        if shared.refuse.load(Ordering::SeqCst) {
            drop(tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
        let (ours, theirs) = tokio::io::duplex(256 * 1024);
        let relay_shared = shared.clone();
        let relay = tokio::spawn(async move {
            let (mut tcp, mut theirs) = (tcp, theirs);
            let _ = tokio::io::copy_bidirectional(&mut tcp, &mut theirs).await;
            relay_shared
                .connections
                .lock()
                .expect("connections")
                .remove(&id);
        });
        shared
            .connections
            .lock()
            .expect("connections")
            .insert(id, relay.abort_handle());
        let handler = Connection {
            id,
            shared: shared.clone(),
            user: None,
            shells: HashMap::new(),
        };
        let config = config.clone();
        tokio::spawn(async move {
            match russh::server::run_stream(config, ours, handler).await {
                Ok(session) => {
                    if let Err(e) = session.await {
                        tracing::debug!(error = %e, "simulated router connection ended");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "simulated router handshake failed"),
            }
        });
    }
}

struct Connection {
    id: u64,
    shared: Arc<Shared>,
    /// (name, may write) once authenticated.
    user: Option<(String, bool)>,
    shells: HashMap<ChannelId, mpsc::UnboundedSender<Vec<u8>>>,
}

impl Connection {
    fn find(&self, name: &str) -> impl Iterator<Item = &User> {
        self.shared.users.iter().filter(move |u| u.name == name)
    }

    fn accept(&mut self, name: &str, write: bool) -> Auth {
        self.user = Some((name.to_owned(), write));
        Auth::Accept
    }

    fn has_key(&self, name: &str, key: &PublicKey) -> Option<bool> {
        self.find(name).find_map(|u| match &u.credential {
            Credential::Key(k) if k.key_data() == key.key_data() => Some(u.write),
            _ => None,
        })
    }

    /// A user added over the CLI (`/user add`): it may log in over SSH if its
    /// group has the `ssh` policy, and write if the group has `write`.
    fn added_user(&self, name: &str, password: &str) -> Option<bool> {
        if self.find(name).next().is_some() {
            return None;
        }
        let state = self.shared.state.lock().expect("router state");
        let items = &state.items;
        let user = items.users.iter().find(|u| u.get("name") == Some(name))?;
        let ok = !user.disabled
            && !password.is_empty()
            && user.get("password") == Some(password)
            && items.user_has(name, "ssh");
        ok.then(|| items.user_has(name, "write"))
    }

    fn who(&self) -> (String, bool) {
        self.user.clone().unwrap_or_default()
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let write = self
            .find(user)
            .find_map(|u| match &u.credential {
                Credential::Password(p) if p == password => Some(u.write),
                _ => None,
            })
            .or_else(|| self.added_user(user, password));
        Ok(match write {
            Some(w) => self.accept(user, w),
            None => Auth::reject(),
        })
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(match self.has_key(user, offer.public_key) {
            Some(_) => Auth::Accept,
            None => Auth::reject(),
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(match self.has_key(user, key.public_key) {
            Some(w) => self.accept(user, w),
            None => Auth::reject(),
        })
    }

    async fn channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let text = String::from_utf8_lossy(data).into_owned();
        let (user, write) = self.who();
        // Logged on receipt, so the log keeps the order commands arrived in.
        self.shared.record(&user, "exec", &text);
        let shared = self.shared.clone();
        let handle = session.handle();
        let id = self.id;
        tokio::spawn(async move {
            shared.stall().await;
            // A command whose connection died while the router stalled never runs.
            if !shared.is_live(id) {
                return;
            }
            let lines = run_script(&shared, write, &mut Terminal::default(), &text);
            let mut out = String::new();
            for line in lines {
                out.push_str(&line);
                out.push_str("\r\n");
            }
            if !out.is_empty() {
                let _ = handle.data(channel, out.into_bytes()).await;
            }
            // RouterOS's exit status is unreliable; 0 even after errors is typical.
            let _ = handle.exit_status_request(channel, 0).await;
            let _ = handle.eof(channel).await;
            let _ = handle.close(channel).await;
        });
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.shells.insert(channel, tx);
        let (user, write) = self.who();
        tokio::spawn(shell(
            self.shared.clone(),
            session.handle(),
            channel,
            user,
            write,
            rx,
        ));
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(tx) = self.shells.get(&channel) {
            let _ = tx.send(data.to_vec());
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.shells.remove(&channel);
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.shells.remove(&channel);
        Ok(())
    }
}

fn prompt(shared: &Shared, user: &str, menu: Menu) -> String {
    let identity = shared.state.lock().expect("router state").identity.clone();
    match menu {
        Menu::Root => format!("[{user}@{identity}] > "),
        m => format!("[{user}@{identity}] {}> ", m.path()),
    }
}

/// An interactive console: echo what is typed, run each line, prompt again.
async fn shell(
    shared: Arc<Shared>,
    handle: Handle,
    channel: ChannelId,
    user: String,
    write: bool,
    mut input: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut term = Terminal::default();
    let _ = handle
        .data(channel, prompt(&shared, &user, term.menu()).into_bytes())
        .await;
    let mut line: Vec<u8> = Vec::new();
    let mut after_cr = false;
    while let Some(chunk) = input.recv().await {
        let mut echo: Vec<u8> = Vec::new();
        for byte in chunk {
            let was_cr = std::mem::replace(&mut after_cr, byte == b'\r');
            match byte {
                b'\n' if was_cr => {}
                b'\r' | b'\n' => {
                    echo.extend_from_slice(b"\r\n");
                    let _ = handle.data(channel, std::mem::take(&mut echo)).await;
                    let text = String::from_utf8_lossy(&std::mem::take(&mut line)).into_owned();
                    shared.record(&user, "shell", &text);
                    if text.trim() == "quit" {
                        let _ = handle.data(channel, b"interrupted\r\n".to_vec()).await;
                        let _ = handle.exit_status_request(channel, 0).await;
                        let _ = handle.eof(channel).await;
                        let _ = handle.close(channel).await;
                        return;
                    }
                    shared.stall().await;
                    let mut out = String::new();
                    if !text.trim().is_empty() {
                        for l in run_script(&shared, write, &mut term, &text) {
                            out.push_str(&l);
                            out.push_str("\r\n");
                        }
                    }
                    out.push_str(&prompt(&shared, &user, term.menu()));
                    let _ = handle.data(channel, out.into_bytes()).await;
                }
                0x7f | 0x08 => {
                    if line.pop().is_some() {
                        echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                0x03 => {
                    line.clear();
                    echo.extend_from_slice(b"\r\n");
                    echo.extend_from_slice(prompt(&shared, &user, term.menu()).as_bytes());
                }
                _ => {
                    line.push(byte);
                    echo.push(byte);
                }
            }
        }
        if !echo.is_empty() {
            let _ = handle.data(channel, echo).await;
        }
    }
    let _ = handle.close(channel).await;
}
