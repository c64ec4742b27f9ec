//! The router's configuration and run-time tables: address lists (v4 and
//! v6), PPP secrets and active PPP sessions. Everything the CLI and the test
//! controls change lives here, behind one mutex that is never held across an
//! `.await`. Dynamic entries carry a deadline and are purged lazily whenever
//! the tables are read, which is indistinguishable from RouterOS's timer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;
use tokio::time::Instant;

use super::items::Items;
use super::tables::{Entries, Secrets, Sessions, secrets, sessions};
use super::types::{Change, RouterChange};

/// Which of the two address-list menus an entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Family {
    V4,
    V6,
}

#[derive(Clone, Debug)]
pub(crate) struct AddrEntry {
    pub id: u32,
    pub family: Family,
    pub list: String,
    pub address: IpNet,
    pub expires: Option<Instant>,
    pub created: String,
    pub comment: Option<String>,
    pub disabled: bool,
}

impl AddrEntry {
    /// The address as RouterOS shows it: v4 hosts bare, everything else as a prefix.
    pub fn address_text(&self) -> String {
        show_address(&self.address)
    }

    pub fn time_left(&self, now: Instant) -> Option<Duration> {
        self.expires.map(|e| e.saturating_duration_since(now))
    }
}

pub(crate) fn show_address(net: &IpNet) -> String {
    match net {
        IpNet::V4(n) if n.prefix_len() == 32 => n.addr().to_string(),
        IpNet::V4(n) => n.to_string(),
        IpNet::V6(n) => n.to_string(),
    }
}

/// Parses an address value for the given menu, normalising `10.0.0.5/24`
/// to its network as the console does; `None` means "invalid value".
pub(crate) fn parse_address(family: Family, text: &str) -> Option<IpNet> {
    let net = match text.parse::<IpNet>() {
        Ok(net) => net.trunc(),
        Err(_) => IpNet::from(text.parse::<IpAddr>().ok()?),
    };
    match (family, net) {
        (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_)) => Some(net),
        _ => None,
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Secret {
    pub id: u32,
    pub name: String,
    pub password: String,
    pub service: String,
    pub profile: String,
    pub comment: Option<String>,
    pub disabled: bool,
}

impl Secret {
    pub fn new(id: u32, name: &str) -> Self {
        Secret {
            id,
            name: name.to_owned(),
            password: String::new(),
            service: "any".to_owned(),
            profile: "default".to_owned(),
            comment: None,
            disabled: false,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Active {
    pub id: u32,
    pub name: String,
    pub service: String,
    pub caller_id: String,
    pub address: IpAddr,
    pub local_address: IpAddr,
    pub started: Instant,
    pub session_id: u32,
}

impl Active {
    pub fn interface(&self) -> String {
        format!("<{}-{}>", self.service, self.name)
    }
}

/// The local (router) end of every simulated tunnel.
pub(crate) fn local_address_for(remote: IpAddr) -> IpAddr {
    match remote {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(10, 10, 0, 1)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::new(0xfd10, 0x10, 0, 0, 0, 0, 0, 1)),
    }
}

#[derive(Debug)]
pub(crate) struct RouterState {
    pub identity: String,
    /// Filter rules, PPP profiles, user groups, users, `/ip ssh`.
    pub items: Items,
    pub entries: Entries,
    pub secrets: Secrets,
    pub active: Sessions,
    /// Timestamped entry additions and PPP session ends, for measurements.
    pub changes: Vec<RouterChange>,
    next_id: u32,
    next_session: u32,
}

/// What an `add` to an address list can fail with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AddError {
    Duplicate,
}

impl RouterState {
    /// `users` are the configured logins as (name, group, password).
    pub fn new(identity: String, users: &[(String, String, Option<String>)]) -> Self {
        // Real routers never start at *1; a few built-in items come first.
        let mut next_id = 0x10;
        let items = Items::new(users, &mut || {
            next_id += 1;
            next_id - 1
        });
        RouterState {
            identity,
            items,
            entries: Entries::default(),
            secrets: secrets(),
            active: sessions(),
            next_id,
            changes: Vec::new(),
            next_session: 0x81A0_0000,
        }
    }

    pub fn next_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Drops entries whose timeout has run out.
    pub fn purge(&mut self) {
        self.entries.purge(Instant::now());
    }

    pub fn add_entry(
        &mut self,
        family: Family,
        list: &str,
        address: IpNet,
        timeout: Option<Duration>,
        comment: Option<String>,
        disabled: bool,
    ) -> Result<u32, AddError> {
        self.purge();
        if (self.entries.at(address)).any(|e| e.family == family && e.list == list) {
            return Err(AddError::Duplicate);
        }
        let id = self.next_id();
        self.changes.push(RouterChange {
            at: std::time::Instant::now(),
            what: Change::EntryAdded {
                list: list.to_owned(),
                address: show_address(&address),
            },
        });
        self.entries.insert(AddrEntry {
            id,
            family,
            list: list.to_owned(),
            address,
            expires: timeout.map(|t| Instant::now() + t),
            created: chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string(),
            comment,
            disabled,
        });
        Ok(id)
    }

    /// Removes the entry for `address` in `list`, whichever family it is.
    pub fn remove_address(&mut self, list: &str, address: &IpNet) -> bool {
        let ids: Vec<u32> = (self.entries.at(*address))
            .filter(|e| e.list == list)
            .map(|e| e.id)
            .collect();
        for id in &ids {
            self.entries.remove(*id);
        }
        !ids.is_empty()
    }

    pub fn set_secret(&mut self, name: &str, comment: Option<&str>) {
        let comment = comment.map(str::to_owned);
        let known = self.secrets.with_key(name).next().map(|s| s.id);
        if let Some(id) = known {
            self.secrets.update(id, |s| s.comment = comment);
            return;
        }
        let id = self.next_id();
        let mut secret = Secret::new(id, name);
        secret.comment = comment;
        self.secrets.insert(secret);
    }

    pub fn connect(
        &mut self,
        name: &str,
        service: &str,
        caller_id: &str,
        address: IpAddr,
    ) -> Active {
        let id = self.next_id();
        let session_id = self.next_session;
        self.next_session += 1;
        let active = Active {
            id,
            name: name.to_owned(),
            service: service.to_owned(),
            caller_id: caller_id.to_owned(),
            address,
            local_address: local_address_for(address),
            started: Instant::now(),
            session_id,
        };
        self.active.insert(active.clone());
        active
    }

    /// Ends sessions by id and runs what the on-down script does to the
    /// sandbox list; returns the sessions that ended.
    pub fn disconnect(&mut self, ids: &[u32], sandbox_list: &str) -> Vec<Active> {
        // In id order, as the sessions are listed; an id named twice is
        // removed once.
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        let gone: Vec<Active> = ids
            .iter()
            .filter_map(|id| self.active.remove(*id))
            .collect();
        let at = std::time::Instant::now();
        for a in &gone {
            self.changes.push(RouterChange {
                at,
                what: Change::PppEnded {
                    name: a.name.clone(),
                    address: a.address,
                },
            });
            self.remove_address(sandbox_list, &IpNet::from(a.address));
        }
        gone
    }

    /// What survives a power cycle: static entries and the secrets.
    pub fn reboot(&mut self) {
        self.entries.retain(|e| e.expires.is_none());
        self.active.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_shown_as_routeros_does() {
        let v4 = parse_address(Family::V4, "10.0.0.5").unwrap();
        assert_eq!(show_address(&v4), "10.0.0.5");
        let net = parse_address(Family::V4, "10.0.0.5/24").unwrap();
        assert_eq!(show_address(&net), "10.0.0.0/24");
        let v6 = parse_address(Family::V6, "2001:DB8::5").unwrap();
        assert_eq!(show_address(&v6), "2001:db8::5/128");
        assert!(parse_address(Family::V4, "2001:db8::5").is_none());
        assert!(parse_address(Family::V4, "10.0.0.999").is_none());
    }

    #[test]
    fn duplicate_add_is_refused_and_reboot_keeps_static_entries() {
        let mut s = RouterState::new("r".into(), &[]);
        let a = parse_address(Family::V4, "10.0.0.5").unwrap();
        let b = parse_address(Family::V4, "10.0.0.6").unwrap();
        s.add_entry(Family::V4, "l", a, None, None, false).unwrap();
        assert_eq!(
            s.add_entry(Family::V4, "l", a, None, None, false),
            Err(AddError::Duplicate)
        );
        s.add_entry(
            Family::V4,
            "l",
            b,
            Some(Duration::from_secs(60)),
            None,
            false,
        )
        .unwrap();
        s.reboot();
        s.purge();
        let left: Vec<String> = s.entries.iter().map(|e| e.address_text()).collect();
        assert_eq!(left, vec!["10.0.0.5"]);
    }
}
