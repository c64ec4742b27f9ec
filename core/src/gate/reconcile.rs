//! The reconciler (SPEC §6): brings one router's address lists in line with
//! the database, which is the truth. A reboot drops dynamic entries (bans,
//! timed permits, sandbox holds), someone removes an entry by hand, a down
//! event is lost: each pass repairs what it finds and audits every repair.
//!
//! Only entries tgate owns are ever removed: those whose comment starts with
//! `tgate:`. An operator's own entries are left alone, even on tgate's lists.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use ipnet::IpNet;
use tracing::info;

use super::telegram::outcome_of;
use super::{Gate, GateError, RouterHandle, tag};
use crate::domain::{AddressListName, Comment, RouterName, SessionState, Transition};
use crate::router::{AddOutcome, ListedEntry, NewEntry, RouterError};
use crate::storage::{AuditEntry, Ban, Session, StoreError};

/// The actor of every repair.
pub(super) const RECONCILER: &str = "tgate:reconciler";

/// What one pass changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Entries put back.
    pub added: usize,
    /// tgate entries nothing justified.
    pub removed: usize,
    /// Open sessions whose PPP session was gone, closed as their lost down
    /// event would have closed them.
    pub closed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error(transparent)]
    Router(#[from] RouterError),
}

impl From<crate::storage::StoreError> for ReconcileError {
    fn from(e: crate::storage::StoreError) -> Self {
        ReconcileError::Gate(e.into())
    }
}

/// An entry the database says should be on a list.
struct Wanted {
    address: IpNet,
    timeout: Option<Duration>,
    comment: Comment,
    /// When its row came to want it: a ban's creation, a session's
    /// creation (sandbox) or decision (permit).
    since: DateTime<Utc>,
}

/// One of the three lists tgate keeps on a router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Bans,
    Permits,
    Sandbox,
}

impl Held {
    fn list(self, router: &RouterHandle) -> &AddressListName {
        match self {
            Held::Bans => &router.config.ban_list,
            Held::Permits => &router.config.permit_list,
            Held::Sandbox => &router.config.sandbox_list,
        }
    }
}

impl Gate {
    /// One reconciliation pass over `router`.
    pub async fn reconcile(&self, router: &RouterName) -> Result<ReconcileReport, ReconcileError> {
        let handle = self.router(router)?;
        let gw = &handle.gateway;
        let mut report = ReconcileReport::default();

        // Read the router first: the lists, then /ppp active. A client is
        // in /ppp active before its on-up script adds its sandbox entry, so
        // every entry listed here whose client is still up is in the active
        // read after it, and is kept; read the other way round, a client
        // dialling in between the two reads lost its fresh sandbox entry.
        // A PPP session is in /ppp active before its up event is sent, so a
        // session created before the active read and missing from it is
        // gone; one created after may just be new.
        //
        // A row that changed once these reads began is the business of the
        // call that changed it, whose own router change may have landed
        // after them: it is not repaired in this pass, the next sees it.
        let snapshot_at = Utc::now().trunc_subsecs(3);
        let sandbox = gw.list_addresses(&handle.config.sandbox_list).await?;
        let permit = gw.list_addresses(&handle.config.permit_list).await?;
        let banned = gw.list_addresses(&handle.config.ban_list).await?;
        let read_at = Utc::now();
        let active = gw.active_sessions().await?;
        let sessions = self.store().open_sessions_of_router(router).await?;
        let bans = self.store().active_bans(Utc::now()).await?;

        let live: HashSet<(String, std::net::IpAddr)> = active
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.address?)))
            .collect();
        let mut open = Vec::new();
        for s in sessions {
            let seen = live.contains(&(s.account.to_string(), s.remote_address))
                || s.created_at >= read_at;
            if seen {
                open.push(s);
            } else if self.settle_gone(&s).await? {
                report.closed += 1;
            }
        }

        // Sandbox entries only hold a client back, so one is kept while its
        // address is still connected: its up event may be on its way.
        let connected: HashSet<IpNet> = active
            .iter()
            .filter_map(|s| s.address.map(IpNet::from))
            .collect();
        let lists = [
            (Held::Bans, banned, HashSet::new()),
            (Held::Permits, permit, HashSet::new()),
            (Held::Sandbox, sandbox, connected),
        ];
        for (held, present, keep) in lists {
            let repair = Repair {
                router: handle,
                held,
                snapshot_at,
                keep: &keep,
            };
            let wanted = self.wanted_in(held, &open, &bans);
            self.repair_list(&repair, present, wanted, &mut report)
                .await?;
        }
        if report != ReconcileReport::default() {
            info!(router = %router, ?report, "router reconciled");
        }
        Ok(report)
    }

    /// What the database wants on `held`'s list now, read again.
    async fn wanted(&self, router: &RouterHandle, held: Held) -> Result<Vec<Wanted>, StoreError> {
        Ok(if held == Held::Bans {
            let bans = self.store().active_bans(Utc::now()).await?;
            self.wanted_in(held, &[], &bans)
        } else {
            let sessions = self
                .store()
                .open_sessions_of_router(&router.config.name)
                .await?;
            self.wanted_in(held, &sessions, &[])
        })
    }

    /// What `sessions` (open ones) and `bans` (in force) want on `held`'s
    /// list.
    fn wanted_in(&self, held: Held, sessions: &[Session], bans: &[Ban]) -> Vec<Wanted> {
        let now = Utc::now();
        let policy = &self.config().policy;
        let left = |until: DateTime<Utc>| (until - now).to_std().ok().filter(|d| !d.is_zero());
        if held == Held::Bans {
            return bans
                .iter()
                .filter_map(|b| {
                    Some(Wanted {
                        address: b.network,
                        timeout: Some(left(b.until)?),
                        comment: format!("tgate:ban {}", b.id)
                            .parse()
                            .expect("a number fits the comment alphabet"),
                        since: b.created_at,
                    })
                })
                .collect();
        }
        let grace = chrono::Duration::from_std(policy.sandbox_grace).unwrap_or_default();
        sessions
            .iter()
            .filter_map(|s| match (held, s.state) {
                (Held::Permits, SessionState::Confirmed) => {
                    let since = s.decided_at.unwrap_or(s.created_at);
                    let timeout = match policy.max_session {
                        None => None,
                        Some(max) => Some(left(since + chrono::Duration::from_std(max).ok()?)?),
                    };
                    Some(Wanted {
                        address: IpNet::from(s.remote_address),
                        timeout,
                        comment: tag("permit", s.id),
                        since,
                    })
                }
                (Held::Sandbox, SessionState::Pending) => Some(Wanted {
                    address: IpNet::from(s.remote_address),
                    timeout: Some(left(s.deadline + grace)?),
                    comment: tag("sandbox", s.id),
                    since: s.created_at,
                }),
                _ => None,
            })
            .collect()
    }

    /// A session whose PPP session is no longer on the router: its down
    /// event was lost, or is still on its way. It is closed, as that down
    /// event closes it (no strike: the client hung up, it did not fail to
    /// answer), so whichever of the two lands first, the owner and the
    /// database see the same outcome. True when this call decided it.
    async fn settle_gone(&self, s: &Session) -> Result<bool, GateError> {
        let Some(won) = self
            .store()
            .transition(s.id, Transition::Close, Utc::now(), RECONCILER)
            .await?
        else {
            return Ok(false);
        };
        self.audit_quietly(
            AuditEntry::new(RECONCILER, format!("reconcile.{}", won.state))
                .router(&won.router)
                .account(&won.account)
                .address(won.caller_id)
                .session(won.id)
                .detail(serde_json::json!({ "was": s.state, "why": "not in /ppp active" })),
        )
        .await;
        if s.state == SessionState::Pending {
            self.spawn_edit(&won, outcome_of(&won));
            self.forget_expiry(won.id);
        }
        Ok(true)
    }

    /// Adds what is wanted and missing; removes tgate's entries that nothing
    /// wants (unless their address is in `keep`).
    ///
    /// Decisions go on meanwhile: a session closed or a ban lifted while its
    /// entry was being put back, a client dialling in on an address whose
    /// stale entry is being taken off. Their own router change may reach the
    /// router before the pass's does and be undone by it. So once the pass
    /// has changed the list, the database is read again, and every address
    /// the pass touched is brought in line with it: an entry added that is
    /// no longer wanted comes off, one removed that is now wanted goes back.
    /// A decision stored after that read reaches the router after the pass's
    /// changes and has the last word. A few rounds at most; what still
    /// moves after them is the next pass's.
    async fn repair_list(
        &self,
        repair: &Repair<'_>,
        present: Vec<ListedEntry>,
        wanted: Vec<Wanted>,
        report: &mut ReconcileReport,
    ) -> Result<(), StoreError> {
        let router = repair.router;
        let mut on_router: HashMap<IpNet, Vec<&ListedEntry>> = HashMap::new();
        for e in present.iter().filter(|e| !e.disabled) {
            on_router.entry(e.address.trunc()).or_default().push(e);
        }
        let wanted_addresses: HashSet<IpNet> = wanted.iter().map(|w| w.address.trunc()).collect();
        let mut to_remove: Vec<(IpNet, Option<String>, &str)> = on_router
            .iter()
            .filter(|(address, entries)| {
                entries.iter().all(|e| is_ours(e))
                    && !wanted_addresses.contains(address)
                    && !repair.keep.contains(address)
            })
            .map(|(address, entries)| (*address, entries[0].comment.clone(), "nothing wants it"))
            .collect();
        let mut to_add: Vec<Wanted> = wanted
            .into_iter()
            .filter(|w| w.since < repair.snapshot_at && !on_router.contains_key(&w.address.trunc()))
            .collect();
        // Addresses whose last change by this pass was an add, or a removal.
        let (mut placed, mut cleared) = (HashSet::new(), HashSet::new());
        for _ in 0..REPAIR_ROUNDS {
            for w in to_add {
                let address = w.address.trunc();
                if self.put_back(repair, w, report).await {
                    placed.insert(address);
                    cleared.remove(&address);
                }
            }
            for (address, comment, why) in to_remove {
                if self.take_off(repair, address, comment, why, report).await {
                    cleared.insert(address);
                    placed.remove(&address);
                }
            }
            if placed.is_empty() && cleared.is_empty() {
                break;
            }
            let mut now: HashMap<IpNet, Wanted> = self
                .wanted(router, repair.held)
                .await?
                .into_iter()
                .map(|w| (w.address.trunc(), w))
                .collect();
            to_add = cleared.iter().filter_map(|a| now.remove(a)).collect();
            to_remove = placed
                .iter()
                .filter(|a| !now.contains_key(a) && !repair.keep.contains(a))
                .map(|a| (*a, None, "decided while it was repaired"))
                .collect();
            if to_add.is_empty() && to_remove.is_empty() {
                break;
            }
        }
        Ok(())
    }

    /// Adds `w`'s entry; true when it is on the router afterwards.
    async fn put_back(&self, repair: &Repair<'_>, w: Wanted, report: &mut ReconcileReport) -> bool {
        let (router, list) = (repair.router, repair.held.list(repair.router));
        let entry = NewEntry {
            list: list.clone(),
            address: w.address,
            timeout: w.timeout,
            comment: Some(w.comment),
        };
        match router.gateway.add_address(&entry).await {
            Ok(AddOutcome::Added) => {
                report.added += 1;
                self.audit_repair(router, "reconcile.add", list, w.address, &entry.comment)
                    .await;
                true
            }
            // Put there since the router was read.
            Ok(AddOutcome::AlreadyPresent) => true,
            Err(e) => {
                self.audit_failure(router, list, w.address, &e).await;
                false
            }
        }
    }

    /// Removes `address` from the list; true when it is gone.
    async fn take_off(
        &self,
        repair: &Repair<'_>,
        address: IpNet,
        comment: Option<String>,
        why: &str,
        report: &mut ReconcileReport,
    ) -> bool {
        let (router, list) = (repair.router, repair.held.list(repair.router));
        match router.gateway.remove_address(list, address).await {
            Ok(()) => {
                report.removed += 1;
                self.audit_quietly(
                    AuditEntry::new(RECONCILER, "reconcile.remove")
                        .router(&router.config.name)
                        .address(address)
                        .detail(serde_json::json!({
                            "list": list.as_str(),
                            "comment": comment,
                            "why": why,
                        })),
                )
                .await;
                true
            }
            Err(e) => {
                self.audit_failure(router, list, address, &e).await;
                false
            }
        }
    }

    async fn audit_repair(
        &self,
        router: &RouterHandle,
        action: &str,
        list: &AddressListName,
        address: IpNet,
        comment: &Option<Comment>,
    ) {
        self.audit_quietly(
            AuditEntry::new(RECONCILER, action)
                .router(&router.config.name)
                .address(address)
                .detail(serde_json::json!({
                    "list": list.as_str(),
                    "comment": comment.as_ref().map(|c| c.as_str()),
                })),
        )
        .await;
    }

    async fn audit_failure(
        &self,
        router: &RouterHandle,
        list: &AddressListName,
        address: IpNet,
        err: &RouterError,
    ) {
        self.audit_quietly(
            AuditEntry::new(RECONCILER, "reconcile.error")
                .router(&router.config.name)
                .address(address)
                .detail(serde_json::json!({ "list": list.as_str(), "error": err.to_string() })),
        )
        .await;
    }
}

/// How many times a list's repair reads the database again to settle what
/// decisions changed while it ran.
const REPAIR_ROUNDS: usize = 4;

/// One list's repair in a pass.
struct Repair<'a> {
    router: &'a RouterHandle,
    held: Held,
    /// When the router's lists were read, in whole milliseconds as rows
    /// keep their times: rows that changed from then on are left alone.
    snapshot_at: DateTime<Utc>,
    /// Addresses whose entries stay even if nothing wants them.
    keep: &'a HashSet<IpNet>,
}

/// Whether tgate wrote the entry: its comment starts with `tgate:`.
fn is_ours(e: &ListedEntry) -> bool {
    e.comment
        .as_deref()
        .is_some_and(|c| c.starts_with("tgate:"))
}
