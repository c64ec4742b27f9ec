//! The simulator's public value types: how a test configures the router and
//! what it gets back when it inspects the router's state.

use std::net::IpAddr;
use std::time::Duration;

pub struct RouterSimConfig {
    /// `/system identity` name, shown in the shell prompt.
    pub identity: String,
    pub users: Vec<SimUser>,
    /// A fixed ed25519 host key, so a test can pin its fingerprint up front.
    pub host_key_seed: Option<[u8; 32]>,
    /// Where simulated PPP connects and disconnects POST.
    pub hook: Option<OnUpHook>,
    /// The list the simulated on-up script puts the tunnel address in.
    pub sandbox_list: String,
}

impl Default for RouterSimConfig {
    fn default() -> Self {
        RouterSimConfig {
            identity: "MikroTik".to_owned(),
            users: vec![
                SimUser {
                    name: "admin".to_owned(),
                    auth: SimAuth::Password("admin".to_owned()),
                    write: true,
                },
                SimUser {
                    name: "reader".to_owned(),
                    auth: SimAuth::Password("reader".to_owned()),
                    write: false,
                },
            ],
            host_key_seed: None,
            hook: None,
            sandbox_list: "tgate-sandbox".to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SimUser {
    pub name: String,
    pub auth: SimAuth,
    /// Whether the user's group has the `write` policy.
    pub write: bool,
}

#[derive(Clone, Debug)]
pub enum SimAuth {
    Password(String),
    /// One OpenSSH public key line, `ssh-ed25519 AAAA… comment`.
    PublicKey(String),
}

#[derive(Clone, Debug)]
pub enum OnUpHook {
    /// tgate's own scripts: POST `{base_url}/v1/events/up` and `/v1/events/down`
    /// with `Authorization: Bearer {token}`.
    Tgate { base_url: String, token: String },
    /// The legacy tik2fa scripts: POST `{base_url}/clients/connect/` and
    /// `/clients/disconnect/`, no auth header.
    Tik2fa { base_url: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookReply {
    pub status: u16,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEntry {
    /// `*1A` style.
    pub id: String,
    pub list: String,
    /// As RouterOS shows it: `10.0.0.5`, `10.0.0.0/24`, `2001:db8::5/128`.
    pub address: String,
    /// Time left before the entry expires.
    pub timeout: Option<Duration>,
    pub comment: Option<String>,
    pub dynamic: bool,
    pub disabled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPppSession {
    pub id: String,
    pub name: String,
    pub service: String,
    pub caller_id: String,
    pub address: IpAddr,
    pub local_address: IpAddr,
    /// `<l2tp-alice>`
    pub interface: String,
    pub uptime: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedCommand {
    pub user: String,
    /// `"exec"` or `"shell"`.
    pub channel: &'static str,
    /// The exact exec request string or shell line received.
    pub text: String,
}

/// A `/ip firewall filter` rule, or any other configuration item, with its
/// properties as RouterOS prints them (`chain`, `action`, `src-address-list`…).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimItem {
    pub id: String,
    pub comment: Option<String>,
    pub disabled: bool,
    pub props: std::collections::BTreeMap<String, String>,
}

impl SimItem {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }
}

/// Something the router did, stamped when it happened, so a benchmark can
/// time tgate's effects on the router without polling for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterChange {
    /// A monotonic clock reading (std, not tokio's: it is never paused).
    pub at: std::time::Instant,
    pub what: Change,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// An entry went into an address list (`address` as RouterOS shows it).
    EntryAdded { list: String, address: String },
    /// A PPP session left `/ppp active` (hung up, or removed by a command).
    PppEnded { name: String, address: IpAddr },
}
