//! The address lists and the PPP sessions, kept in id order (the order
//! `print` shows them in, since ids only grow) and indexed by address. A
//! load run holds tens of thousands of entries, and every router command
//! tgate sends names one address: without the index each command scanned
//! every entry, and the simulator, not tgate, set the pace of a run on a
//! shared machine.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use tokio::time::Instant;

use super::state::{Active, AddrEntry, Secret};

/// An item of a router table: it carries its own id.
pub(crate) trait Item {
    fn id(&self) -> u32;
}

impl Item for AddrEntry {
    fn id(&self) -> u32 {
        self.id
    }
}

impl Item for Secret {
    fn id(&self) -> u32 {
        self.id
    }
}

impl Item for Active {
    fn id(&self) -> u32 {
        self.id
    }
}

/// A table of items with an id, indexed by one key of theirs.
#[derive(Debug)]
pub(crate) struct Indexed<T, K> {
    by_id: BTreeMap<u32, T>,
    by_key: HashMap<K, Vec<u32>>,
    key: fn(&T) -> K,
}

impl<T: Item, K: std::hash::Hash + Eq + Clone> Indexed<T, K> {
    pub fn new(key: fn(&T) -> K) -> Self {
        Indexed {
            by_id: BTreeMap::new(),
            by_key: HashMap::new(),
            key,
        }
    }

    /// Every item, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.by_id.values()
    }

    /// The items whose key is `key`, oldest first.
    pub fn with_key<'a, Q>(&'a self, key: &Q) -> impl Iterator<Item = &'a T> + use<'a, T, K, Q>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let ids = self.by_key.get(key).map(Vec::as_slice).unwrap_or_default();
        ids.iter().filter_map(|id| self.by_id.get(id))
    }

    pub fn get(&self, id: u32) -> Option<&T> {
        self.by_id.get(&id)
    }

    /// Adds `item`; returns the item it replaces, if one had its id.
    pub fn insert(&mut self, item: T) -> Option<T> {
        let id = item.id();
        let old = self.remove(id);
        self.by_key.entry((self.key)(&item)).or_default().push(id);
        self.by_id.insert(id, item);
        old
    }

    pub fn remove(&mut self, id: u32) -> Option<T> {
        let item = self.by_id.remove(&id)?;
        self.unindex(id, (self.key)(&item));
        Some(item)
    }

    /// Changes the item `id` with `change`, keeping the index true.
    pub fn update(&mut self, id: u32, change: impl FnOnce(&mut T)) {
        let Some(item) = self.by_id.get_mut(&id) else {
            return;
        };
        let before = (self.key)(item);
        change(item);
        let after = (self.key)(item);
        if before != after {
            self.unindex(id, before);
            self.by_key.entry(after).or_default().push(id);
        }
    }

    /// Keeps only the items `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let gone: Vec<u32> = (self.by_id.iter())
            .filter(|(_, item)| !keep(item))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.remove(id);
        }
    }

    pub fn clear(&mut self) {
        self.by_id.clear();
        self.by_key.clear();
    }

    fn unindex(&mut self, id: u32, key: K) {
        if let Some(ids) = self.by_key.get_mut(&key) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.by_key.remove(&key);
            }
        }
    }
}

/// Both address lists, indexed by address, with the dynamic entries in the
/// order they run out.
#[derive(Debug)]
pub(crate) struct Entries {
    table: Indexed<AddrEntry, IpNet>,
    expiring: BTreeSet<(Instant, u32)>,
}

impl Default for Entries {
    fn default() -> Self {
        Entries {
            table: Indexed::new(|e: &AddrEntry| e.address),
            expiring: BTreeSet::new(),
        }
    }
}

impl Entries {
    pub fn iter(&self) -> impl Iterator<Item = &AddrEntry> {
        self.table.iter()
    }

    /// The entries for exactly `address`, in any list.
    pub fn at(&self, address: IpNet) -> impl Iterator<Item = &AddrEntry> {
        self.table.with_key(&address)
    }

    pub fn get(&self, id: u32) -> Option<&AddrEntry> {
        self.table.get(id)
    }

    pub fn insert(&mut self, entry: AddrEntry) {
        let expiry = entry.expires.map(|t| (t, entry.id));
        if let Some(old) = self.table.insert(entry) {
            self.forget_expiry(&old);
        }
        self.expiring.extend(expiry);
    }

    pub fn remove(&mut self, id: u32) -> Option<AddrEntry> {
        let entry = self.table.remove(id)?;
        self.forget_expiry(&entry);
        Some(entry)
    }

    fn forget_expiry(&mut self, entry: &AddrEntry) {
        if let Some(t) = entry.expires {
            self.expiring.remove(&(t, entry.id));
        }
    }

    /// Changes entry `id`, keeping the indexes true.
    pub fn update(&mut self, id: u32, change: impl FnOnce(&mut AddrEntry)) {
        let expiring = &mut self.expiring;
        self.table.update(id, |e| {
            if let Some(t) = e.expires {
                expiring.remove(&(t, id));
            }
            change(e);
            if let Some(t) = e.expires {
                expiring.insert((t, id));
            }
        });
    }

    /// Drops the entries whose timeout has run out by `now`.
    pub fn purge(&mut self, now: Instant) {
        while let Some(&(t, id)) = self.expiring.first() {
            if t > now {
                break;
            }
            self.expiring.pop_first();
            self.table.remove(id);
        }
    }

    pub fn retain(&mut self, keep: impl FnMut(&AddrEntry) -> bool) {
        self.table.retain(keep);
        let table = &self.table;
        self.expiring.retain(|(_, id)| table.get(*id).is_some());
    }
}

/// The PPP secrets, indexed by name.
pub(crate) type Secrets = Indexed<Secret, String>;

pub(crate) fn secrets() -> Secrets {
    Indexed::new(|s: &Secret| s.name.clone())
}

/// The active PPP sessions, indexed by the client's tunnel address.
pub(crate) type Sessions = Indexed<Active, IpAddr>;

pub(crate) fn sessions() -> Sessions {
    Indexed::new(|a: &Active| a.address)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::router::state::Family;

    fn entry(id: u32, address: &str, expires: Option<Instant>) -> AddrEntry {
        AddrEntry {
            id,
            family: Family::V4,
            list: "l".into(),
            address: address.parse().unwrap(),
            expires,
            created: String::new(),
            comment: None,
            disabled: false,
        }
    }

    fn ids<'a>(entries: impl Iterator<Item = &'a AddrEntry>) -> Vec<u32> {
        entries.map(|e| e.id).collect()
    }

    #[test]
    fn the_index_follows_inserts_changes_and_removals() {
        let mut t = Entries::default();
        let a: IpNet = "10.0.0.1/32".parse().unwrap();
        let b: IpNet = "10.0.0.2/32".parse().unwrap();
        t.insert(entry(3, "10.0.0.1/32", None));
        t.insert(entry(1, "10.0.0.2/32", None));
        t.insert(entry(2, "10.0.0.1/32", None));
        assert_eq!(ids(t.iter()), [1, 2, 3], "id order");
        assert_eq!(ids(t.at(a)), [3, 2]);
        t.update(3, |e| e.address = b);
        assert_eq!(ids(t.at(a)), [2]);
        assert_eq!(ids(t.at(b)), [1, 3]);
        t.remove(1);
        assert_eq!(ids(t.at(b)), [3]);
        t.insert(entry(2, "10.0.0.1/32", None));
        assert_eq!(
            ids(t.at(a)),
            [2],
            "an item put again under its id is indexed once"
        );
        t.retain(|e| e.id != 3);
        assert_eq!(ids(t.at(b)), Vec::<u32>::new());
        assert_eq!(ids(t.iter()), [2]);
    }

    #[test]
    fn entries_run_out_in_deadline_order_even_after_a_new_timeout() {
        let now = Instant::now();
        let mut t = Entries::default();
        t.insert(entry(1, "10.0.0.1/32", Some(now + Duration::from_secs(5))));
        t.insert(entry(2, "10.0.0.2/32", Some(now + Duration::from_secs(1))));
        t.insert(entry(3, "10.0.0.3/32", None));
        let soon = Some(now + Duration::from_secs(2));
        t.insert(entry(4, "10.0.0.4/32", soon));
        t.insert(entry(4, "10.0.0.4/32", soon));
        t.update(2, |e| e.expires = Some(now + Duration::from_secs(10)));
        t.purge(now + Duration::from_secs(6));
        assert_eq!(ids(t.iter()), [2, 3]);
        t.update(2, |e| e.expires = None);
        t.purge(now + Duration::from_secs(60));
        assert_eq!(ids(t.iter()), [2, 3]);
    }
}
