//! A RouterOS v7 router reachable over real SSH on loopback, so that tgate's
//! router client, tests, benchmark and demo run against the same protocol,
//! CLI wording and output formats as production, with no hardware. The
//! handle also plays the roles a test needs: the PPP client that connects
//! (and triggers the on-up hook), the admin who edits lists by hand, and
//! the network that stalls, drops or refuses connections.

mod ast;
mod commands;
mod duration;
mod eval;
mod hook;
mod items;
mod menu;
mod parse;
mod server;
mod state;
mod table;
mod tables;
mod types;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use ipnet::IpNet;
use sha2::Digest;
use tokio::task::{AbortHandle, JoinHandle};

pub use types::{
    Change, HookReply, LoggedCommand, OnUpHook, RouterChange, RouterSimConfig, SimAuth, SimEntry,
    SimItem, SimPppSession, SimUser,
};

use state::{Family, RouterState, parse_address};
use table::id_text;

/// Everything the SSH connections and the handle share.
pub(crate) struct Shared {
    pub state: Mutex<RouterState>,
    pub users: Vec<server::User>,
    pub sandbox_list: String,
    pub hook: Option<OnUpHook>,
    pub http: reqwest::Client,
    latency: Mutex<Duration>,
    refuse: AtomicBool,
    connections: Mutex<HashMap<u64, AbortHandle>>,
    next_connection: AtomicU64,
    log: Mutex<Vec<LoggedCommand>>,
}

impl Shared {
    pub fn latency(&self) -> Duration {
        *self.latency.lock().expect("latency")
    }

    /// Waits the configured latency. None configured is no wait at all: a
    /// zero sleep still waits for the timer's next tick (up to a
    /// millisecond), which would be the simulator's cost, not tgate's.
    pub async fn stall(&self) {
        let latency = self.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }

    pub fn record(&self, user: &str, channel: &'static str, text: &str) {
        self.log.lock().expect("command log").push(LoggedCommand {
            user: user.to_owned(),
            channel,
            text: text.to_owned(),
        });
    }

    pub fn is_live(&self, connection: u64) -> bool {
        self.connections
            .lock()
            .expect("connections")
            .contains_key(&connection)
    }

    fn drop_connections(&self) {
        for (_, conn) in self.connections.lock().expect("connections").drain() {
            conn.abort();
        }
    }
}

/// A running simulated router; dropping it stops the server.
pub struct RouterSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    fingerprint: String,
    accept: JoinHandle<()>,
}

impl RouterSim {
    /// Starts the SSH server on `127.0.0.1:0`.
    pub async fn start(config: RouterSimConfig) -> anyhow::Result<RouterSim> {
        let seed = config.host_key_seed.unwrap_or_else(rand::random);
        let key = russh::keys::PrivateKey::from(
            russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed),
        );
        let blob = key.public_key().to_bytes().context("encode host key")?;
        let fingerprint = format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(&blob))
        );
        let logins: Vec<(String, String, Option<String>)> = config
            .users
            .iter()
            .map(|u| {
                let group = if u.write { "full" } else { "read" };
                let password = match &u.auth {
                    SimAuth::Password(p) => Some(p.clone()),
                    SimAuth::PublicKey(_) => None,
                };
                (u.name.clone(), group.to_owned(), password)
            })
            .collect();
        let users = config
            .users
            .iter()
            .map(server::User::from_config)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(RouterState::new(config.identity, &logins)),
            users,
            sandbox_list: config.sandbox_list,
            hook: config.hook,
            // Each `/tool fetch` of the router's hooks is its own HTTP
            // connection, closed when the fetch ends; a pool of idle ones
            // kept open would make the server under test hold thousands of
            // connections no router would leave it.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(0)
                .build()
                .context("HTTP client for hooks")?,
            latency: Mutex::new(Duration::ZERO),
            refuse: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind simulator")?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(server::serve(listener, shared.clone(), key));
        Ok(RouterSim {
            shared,
            addr,
            fingerprint,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `SHA256:…` exactly as `ssh-keygen -lf` prints it.
    pub fn host_key_fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RouterState> {
        self.shared.state.lock().expect("router state")
    }

    /// The live entries of `list`, v4 and v6 together, oldest first.
    pub fn address_list(&self, list: &str) -> Vec<SimEntry> {
        let mut state = self.state();
        state.purge();
        let now = tokio::time::Instant::now();
        state
            .entries
            .iter()
            .filter(|e| e.list == list)
            .map(|e| SimEntry {
                id: id_text(e.id),
                list: e.list.clone(),
                address: e.address_text(),
                timeout: e.time_left(now),
                comment: e.comment.clone(),
                dynamic: e.expires.is_some(),
                disabled: e.disabled,
            })
            .collect()
    }

    pub fn active_sessions(&self) -> Vec<SimPppSession> {
        let now = tokio::time::Instant::now();
        self.state()
            .active
            .iter()
            .map(|a| SimPppSession {
                id: id_text(a.id),
                name: a.name.clone(),
                service: a.service.clone(),
                caller_id: a.caller_id.clone(),
                address: a.address,
                local_address: a.local_address,
                interface: a.interface(),
                uptime: now.saturating_duration_since(a.started),
            })
            .collect()
    }

    /// `/ip firewall filter`, in rule order.
    pub fn firewall_filters(&self) -> Vec<SimItem> {
        self.items(menu::Menu::FirewallFilter)
    }

    /// The PPP profile named `name` (its `on-up` and `on-down` scripts among
    /// its properties).
    pub fn ppp_profile(&self, name: &str) -> Option<SimItem> {
        self.items(menu::Menu::PppProfile)
            .into_iter()
            .find(|p| p.get("name") == Some(name))
    }

    /// `/user group`, each with its normalised `policy`.
    pub fn user_groups(&self) -> Vec<SimItem> {
        self.items(menu::Menu::UserGroup)
    }

    /// `/user`, without passwords.
    pub fn users(&self) -> Vec<SimItem> {
        let mut users = self.items(menu::Menu::User);
        for u in &mut users {
            u.props.remove("password");
        }
        users
    }

    /// `/ip ssh strong-crypto`.
    pub fn ssh_strong_crypto(&self) -> bool {
        self.state().items.strong_crypto
    }

    fn items(&self, menu: menu::Menu) -> Vec<SimItem> {
        let state = self.state();
        state
            .items
            .table(menu)
            .map(|t| {
                t.iter()
                    .map(|i| SimItem {
                        id: id_text(i.id),
                        comment: i.comment.clone(),
                        disabled: i.disabled,
                        props: i.props.clone().into_iter().collect(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds an entry as an admin would; an existing identical entry is left alone.
    /// Panics on an address RouterOS would not accept (a broken test).
    pub fn add_entry(
        &self,
        list: &str,
        address: &str,
        timeout: Option<Duration>,
        comment: Option<&str>,
    ) {
        let net = parse_any(address).unwrap_or_else(|| panic!("not an address: {address}"));
        let family = family_of(&net);
        let _ = self.state().add_entry(
            family,
            list,
            net,
            timeout,
            comment.map(str::to_owned),
            false,
        );
    }

    /// "Someone removed it by hand."
    pub fn remove_entry(&self, list: &str, address: &str) {
        if let Some(net) = parse_any(address) {
            self.state().remove_address(list, &net);
        }
    }

    /// Creates or updates a `/ppp secret` (the comment is tik2fa's chat id).
    pub fn set_secret(&self, name: &str, comment: Option<&str>) {
        self.state().set_secret(name, comment);
    }

    /// A PPP client connects: the session appears in `/ppp active`, the
    /// on-up script sandboxes its tunnel address and POSTs the up event.
    pub async fn connect_ppp(
        &self,
        user: &str,
        service: &str,
        caller_id: &str,
        remote_address: IpAddr,
    ) -> anyhow::Result<Option<HookReply>> {
        let (active, chat) = {
            let mut state = self.state();
            let active = state.connect(user, service, caller_id, remote_address);
            let net = IpNet::from(remote_address);
            let _ = state.add_entry(
                family_of(&net),
                &self.shared.sandbox_list,
                net,
                None,
                Some("tgate: held".to_owned()),
                false,
            );
            (active, hook::chat_id(&state, user))
        };
        match &self.shared.hook {
            None => Ok(None),
            Some(h) => hook::post(&self.shared.http, h, hook::Event::Up, &active, chat)
                .await
                .map(Some),
        }
    }

    /// The client named `user` hangs up: its session and sandbox entry go,
    /// and the on-down script POSTs the down event.
    pub async fn disconnect_ppp(&self, user: &str) -> anyhow::Result<Option<HookReply>> {
        let (active, chat) = {
            let mut state = self.state();
            let id = state
                .active
                .iter()
                .find(|a| a.name == user)
                .map(|a| a.id)
                .with_context(|| format!("no active PPP session for {user}"))?;
            let sandbox = self.shared.sandbox_list.clone();
            let gone = state.disconnect(&[id], &sandbox).remove(0);
            let chat = hook::chat_id(&state, user);
            (gone, chat)
        };
        match &self.shared.hook {
            None => Ok(None),
            Some(h) => hook::post(&self.shared.http, h, hook::Event::Down, &active, chat)
                .await
                .map(Some),
        }
    }

    /// Wait this long before answering each command.
    pub fn set_latency(&self, latency: Duration) {
        *self.shared.latency.lock().expect("latency") = latency;
    }

    /// Abruptly closes every live SSH connection.
    pub fn drop_connections(&self) {
        self.shared.drop_connections();
    }

    /// While set, new TCP connections are closed as soon as they are accepted.
    pub fn refuse_connections(&self, refuse: bool) {
        self.shared.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Dynamic entries and PPP sessions vanish; connections drop.
    pub fn reboot(&self) {
        self.state().reboot();
        self.drop_connections();
    }

    pub fn command_log(&self) -> Vec<LoggedCommand> {
        self.shared.log.lock().expect("command log").clone()
    }

    pub fn clear_command_log(&self) {
        self.shared.log.lock().expect("command log").clear();
    }

    /// The changes recorded from index `from` on (entries added, PPP
    /// sessions ended), oldest first; pass the count already read to get
    /// only what is new.
    pub fn changes_since(&self, from: usize) -> Vec<RouterChange> {
        let state = self.state();
        state.changes.get(from..).unwrap_or_default().to_vec()
    }

    pub async fn shutdown(self) {
        drop(self);
        tokio::task::yield_now().await;
    }
}

impl Drop for RouterSim {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.drop_connections();
    }
}

fn parse_any(address: &str) -> Option<IpNet> {
    parse_address(Family::V4, address).or_else(|| parse_address(Family::V6, address))
}

fn family_of(net: &IpNet) -> Family {
    match net {
        IpNet::V4(_) => Family::V4,
        IpNet::V6(_) => Family::V6,
    }
}

#[cfg(test)]
mod tests {
    /// Tests share one simulator across tasks and threads.
    #[test]
    fn the_handle_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::RouterSim>();
    }
}
