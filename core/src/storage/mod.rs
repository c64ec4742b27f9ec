//! Storage: one [`Store`] trait with a SQLite backend (the embedded default)
//! and a PostgreSQL backend (production), chosen by the URL scheme. Both run
//! the same SQL text (the private `sql` module), so they behave the same;
//! each has its own embedded migrations, applied at open.
//!
//! Session transitions are single conditional UPDATEs on the expected current
//! state, and "one pending prompt per account" is a partial unique index, so
//! racing API replicas and workers agree without any lock of tgate's own.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ipnet::IpNet;

use crate::domain::{
    AccountName, CallerId, InterfaceName, RouterName, Service, SessionId, SessionState, Transition,
};

#[cfg(test)]
mod batch_tests;
pub mod group;
mod postgres;
mod sql;
mod sqlite;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Why storage failed. The text may name tables and constraints, so it is
/// logged, never shown to API clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("row {0} holds a value tgate cannot read: {1}")]
    Corrupt(String, String),
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
}

/// The pool where the worker's job queue keeps its tables: on PostgreSQL the
/// store's own database, on SQLite a file beside it (`tgate.db-jobs` beside
/// `tgate.db`).
#[derive(Debug, Clone)]
pub enum BackendPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl From<sqlx::SqlitePool> for BackendPool {
    fn from(pool: sqlx::SqlitePool) -> Self {
        BackendPool::Sqlite(pool)
    }
}

impl From<sqlx::PgPool> for BackendPool {
    fn from(pool: sqlx::PgPool) -> Self {
        BackendPool::Postgres(pool)
    }
}

/// Opens the database the URL names, creating and migrating it as needed.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// A connect as the router reported it, about to become a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id: SessionId,
    pub router: RouterName,
    pub account: AccountName,
    pub caller_id: CallerId,
    pub remote_address: IpAddr,
    pub local_address: Option<IpAddr>,
    pub service: Service,
    pub interface: Option<InterfaceName>,
    pub chat_id: Option<i64>,
    /// The language code the prompt is written in (the owner's choice when
    /// the session was opened); `None` when there is no prompt.
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub router: RouterName,
    pub account: AccountName,
    pub caller_id: CallerId,
    pub remote_address: IpAddr,
    pub local_address: Option<IpAddr>,
    pub service: Service,
    pub interface: Option<InterfaceName>,
    pub chat_id: Option<i64>,
    /// The language code the prompt was written in; `None` for sessions
    /// without a prompt and those stored before tgate kept it.
    pub language: Option<String>,
    pub state: SessionState,
    pub created_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub message_id: Option<i64>,
}

/// What inserting a pending session did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    Created(Session),
    /// The account already has a pending session; nothing was written.
    PendingExists(Session),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub router: RouterName,
    pub name: AccountName,
    pub owner_tg_id: Option<i64>,
    pub language: Option<String>,
    pub is_admin: bool,
    pub locked: bool,
    pub unenrolled_alerted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A session [`Store::close_open_session`] closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub session: Session,
    /// Its state before the close: pending or confirmed.
    pub was: SessionState,
}

/// What [`Store::connect_facts`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectFacts {
    pub open_session: Option<Session>,
    /// Every ban in force covering the caller; [`ban_covering`] picks the
    /// one that counts.
    pub bans: Vec<Ban>,
    pub account: Option<Account>,
}

/// What [`Store::strike_facts`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrikeFacts {
    /// Strikes against the caller since the window's start, on every router.
    pub strikes: i64,
    /// Every ban in force covering the caller (none for a MAC address);
    /// [`ban_covering`] picks the one that counts.
    pub bans: Vec<Ban>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub id: i64,
    pub network: IpNet,
    pub reason: String,
    pub source: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBan {
    pub network: IpNet,
    pub reason: String,
    pub source: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// A one-time enrollment code for an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub code: String,
    pub router: RouterName,
    pub account: AccountName,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_by: Option<i64>,
}

/// What presenting an invite code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteUse {
    /// The presenter now owns the account.
    Enrolled(Invite),
    Unknown,
    AlreadyUsed,
    Expired,
}

/// What a strike was for (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrikeKind {
    /// Not confirmed before the deadline.
    Expired,
    /// The owner pressed Not me.
    Denied,
    /// Another connect while a prompt was pending.
    Blocked,
}

impl StrikeKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            StrikeKind::Expired => "expired",
            StrikeKind::Denied => "denied",
            StrikeKind::Blocked => "blocked",
        }
    }
}

impl std::fmt::Display for StrikeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strike to record against a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStrike {
    pub caller_id: CallerId,
    pub router: RouterName,
    pub account: AccountName,
    pub session_id: Option<SessionId>,
    pub kind: StrikeKind,
    pub at: DateTime<Utc>,
}

/// One audit record: who did what to which router, account, address or session.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub router: Option<String>,
    pub account: Option<String>,
    pub address: Option<String>,
    pub session_id: Option<String>,
    pub detail: serde_json::Value,
}

/// An audit record to append; `AuditEntry::new(actor, action)` then the
/// builder methods for what it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub router: Option<String>,
    pub account: Option<String>,
    pub address: Option<String>,
    pub session_id: Option<String>,
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(actor: impl Into<String>, action: impl Into<String>) -> Self {
        AuditEntry {
            at: Utc::now(),
            actor: actor.into(),
            action: action.into(),
            router: None,
            account: None,
            address: None,
            session_id: None,
            detail: serde_json::Value::Null,
        }
    }
    pub fn router(mut self, router: &RouterName) -> Self {
        self.router = Some(router.to_string());
        self
    }
    pub fn account(mut self, account: &AccountName) -> Self {
        self.account = Some(account.to_string());
        self
    }
    /// The address or network concerned, as [`audit_address`] writes it.
    pub fn address(mut self, address: impl ToString) -> Self {
        self.address = Some(audit_address(&address.to_string()));
        self
    }
    pub fn session(mut self, id: SessionId) -> Self {
        self.session_id = Some(id.to_string());
        self
    }
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// How the audit log writes an address: a single host bare (`203.0.113.7`,
/// never `203.0.113.7/32`), a wider network truncated in CIDR, anything else
/// (a PPPoE caller's MAC) as given. One spelling per address, so a filter on
/// `address` is a plain equality.
pub fn audit_address(raw: &str) -> String {
    let raw = raw.trim();
    match (raw.parse::<IpAddr>(), raw.parse::<IpNet>()) {
        (Ok(ip), _) => ip.to_string(),
        (_, Ok(net)) if net.prefix_len() == net.max_prefix_len() => net.addr().to_string(),
        (_, Ok(net)) => net.trunc().to_string(),
        _ => raw.to_owned(),
    }
}

/// Which audit records to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub session_id: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub account: Option<String>,
    pub address: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only records older than this id (the next page of a newest-first read).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Which sessions to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub state: Option<SessionState>,
    pub router: Option<RouterName>,
    pub account: Option<AccountName>,
    /// Only pending and confirmed sessions: the ones a kick can end.
    pub open: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Which bans to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct BanFilter {
    /// Only bans in force at this time.
    pub active_at: Option<DateTime<Utc>>,
    pub network: Option<BanMatch>,
    pub limit: i64,
    pub offset: i64,
}

/// Which networks a listed ban may be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanMatch {
    /// Every ban whose network contains this address.
    Covering(IpAddr),
    /// Bans on exactly this network.
    Exact(IpNet),
}

impl BanMatch {
    /// The networks a matching ban may be on, each as the store writes it.
    /// An address has one covering network per prefix length (33 for IPv4,
    /// 129 for IPv6), so "contains" becomes a lookup of those names in the
    /// index on `bans.network`, which both backends run alike without IP
    /// types of their own, and whose cost does not grow with the bans in
    /// force.
    pub fn candidates(&self) -> Vec<String> {
        match *self {
            BanMatch::Exact(net) => vec![net.trunc().to_string()],
            BanMatch::Covering(ip) => {
                let max = IpNet::from(ip).max_prefix_len();
                (0..=max)
                    .filter_map(|len| IpNet::new(ip, len).ok())
                    .map(|n| n.trunc().to_string())
                    .collect()
            }
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The connection pool of the job queue's database.
    fn jobs_pool(&self) -> BackendPool;

    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Makes sure a row exists for each configured router.
    async fn sync_routers(&self, routers: &[RouterName]) -> Result<(), StoreError>;

    // Accounts.
    /// Creates the account if it is new; returns it either way.
    async fn ensure_account(
        &self,
        router: &RouterName,
        name: &AccountName,
    ) -> Result<Account, StoreError>;
    async fn account(
        &self,
        router: &RouterName,
        name: &AccountName,
    ) -> Result<Option<Account>, StoreError>;
    async fn set_account_owner(
        &self,
        router: &RouterName,
        name: &AccountName,
        owner_tg_id: Option<i64>,
    ) -> Result<bool, StoreError>;
    async fn set_account_locked(
        &self,
        router: &RouterName,
        name: &AccountName,
        locked: bool,
    ) -> Result<bool, StoreError>;
    /// Sets the language of every account the Telegram user owns.
    async fn set_owner_language(&self, owner_tg_id: i64, language: &str)
    -> Result<u64, StoreError>;
    async fn accounts_of_owner(&self, owner_tg_id: i64) -> Result<Vec<Account>, StoreError>;
    /// Records that admins were told the account is unenrolled; true only for
    /// the first call, so they are told once.
    async fn mark_unenrolled_alert(
        &self,
        router: &RouterName,
        name: &AccountName,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    // Sessions.
    /// Inserts a `pending` session unless the account already has one.
    async fn insert_pending(&self, session: &NewSession) -> Result<Inserted, StoreError>;
    /// Inserts `session` as pending, prompting the account's owner in the
    /// owner's language (`session`'s own chat only when the account has no
    /// owner: the router's; its language never), when its connect is
    /// plain: no open session of the account at the tunnel address, no ban
    /// in force covering the caller, the account there, unlocked, with an
    /// owner or that chat, and no other session of it pending. One
    /// statement, where [`Store::connect_facts`] and
    /// [`Store::insert_pending`] take two. `None` when the connect is not
    /// plain: nothing was inserted.
    async fn insert_plain_pending(
        &self,
        session: &NewSession,
    ) -> Result<Option<Session>, StoreError>;
    /// Inserts a session that is decided at once (a trusted caller network).
    async fn insert_decided(
        &self,
        session: &NewSession,
        state: SessionState,
        decided_by: &str,
    ) -> Result<Session, StoreError>;
    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError>;
    /// The session with its account's owner (`None` when the account has
    /// none, or is gone), read in one statement: what a button press is
    /// judged on.
    async fn session_with_owner(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, Option<i64>)>, StoreError>;
    async fn pending_for_account(
        &self,
        router: &RouterName,
        account: &AccountName,
    ) -> Result<Option<Session>, StoreError>;
    /// What decides a connect, read together in one statement: the
    /// account's newest open session at the tunnel address (the one
    /// [`Store::close_open_session`] would close), every ban in force at
    /// `at` covering `caller` (none when the caller is not an address), and
    /// the account.
    async fn connect_facts(
        &self,
        router: &RouterName,
        account: &AccountName,
        remote_address: IpAddr,
        caller: Option<IpAddr>,
        at: DateTime<Utc>,
    ) -> Result<ConnectFacts, StoreError>;
    /// Closes the newest open (pending or confirmed) session of the account
    /// on the given tunnel address, in one statement, and tells what it was.
    /// `actor` must be one no decision uses (the gate's is `router`): a
    /// session this close decided at `at` by `actor` was still pending.
    async fn close_open_session(
        &self,
        router: &RouterName,
        account: &AccountName,
        remote_address: IpAddr,
        at: DateTime<Utc>,
        actor: &str,
    ) -> Result<Option<Closed>, StoreError>;
    /// Applies `transition` if the session is in one of its source states.
    /// Returns the updated session when this call won, `None` when the session
    /// had already moved on (or does not exist).
    async fn transition(
        &self,
        id: SessionId,
        transition: Transition,
        at: DateTime<Utc>,
        actor: &str,
    ) -> Result<Option<Session>, StoreError>;
    /// [`transition`](Self::transition) with [`Transition::Expire`], for a
    /// session whose deadline has come. Expiries that arrive while one is
    /// being written are written together, by one statement: deadlines fall
    /// due at the rate sessions were opened, and most find their session
    /// already answered.
    async fn expire_due(
        &self,
        id: SessionId,
        at: DateTime<Utc>,
        actor: &str,
    ) -> Result<Option<Session>, StoreError>;
    /// Records the prompt's Telegram message, so it can be edited later.
    /// Answers the session's state as it was when the id was written, or
    /// `None` when there is no such session.
    async fn set_message_id(
        &self,
        id: SessionId,
        message_id: i64,
    ) -> Result<Option<SessionState>, StoreError>;
    /// Pending and confirmed sessions of every account the user owns.
    async fn open_sessions_of_owner(&self, owner_tg_id: i64) -> Result<Vec<Session>, StoreError>;
    async fn sessions_in_state(
        &self,
        state: SessionState,
        limit: i64,
    ) -> Result<Vec<Session>, StoreError>;

    /// Pending sessions whose deadline is before `before`, oldest deadline
    /// first: the worker's sweep for expiry jobs that never ran.
    async fn pending_due(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Session>, StoreError>;
    /// Pending and confirmed sessions on one router, for the reconciler.
    async fn open_sessions_of_router(
        &self,
        router: &RouterName,
    ) -> Result<Vec<Session>, StoreError>;

    // Strikes.
    async fn add_strike(&self, strike: &NewStrike) -> Result<(), StoreError>;
    /// What judges a strike, read together in one statement: the strikes
    /// against the caller at or after `since`, on every router, and every
    /// ban in force at `at` covering it (none when the caller is a MAC
    /// address). Few ban rows: an address lies in 33 networks, 129 for
    /// IPv6, so no page is asked for.
    async fn strike_facts(
        &self,
        caller_id: &CallerId,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<StrikeFacts, StoreError>;

    // Bans.
    async fn insert_ban(&self, ban: &NewBan) -> Result<Ban, StoreError>;
    /// Bans in force at `now`.
    async fn active_bans(&self, now: DateTime<Utc>) -> Result<Vec<Ban>, StoreError>;
    async fn lift_ban(
        &self,
        id: i64,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<Option<Ban>, StoreError>;

    /// How many bans, lifted or not, this exact network has had.
    async fn count_bans(&self, network: IpNet) -> Result<i64, StoreError>;

    // Enrollment.
    async fn insert_invite(&self, invite: &Invite) -> Result<(), StoreError>;
    /// Uses the code once: on success the presenter becomes the account's
    /// owner, in the same transaction.
    async fn use_invite(
        &self,
        code: &str,
        presenter: i64,
        language: &str,
        at: DateTime<Utc>,
    ) -> Result<InviteUse, StoreError>;

    // Listings for admins.
    /// Bans, newest first; only those in force at `active_at` when given.
    async fn list_bans(
        &self,
        active_at: Option<DateTime<Utc>>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Ban>, StoreError>;
    async fn ban(&self, id: i64) -> Result<Option<Ban>, StoreError>;
    /// Bans the filter selects, newest first, one page.
    async fn find_bans(&self, filter: &BanFilter) -> Result<Vec<Ban>, StoreError>;
    /// How many bans the filter selects on every page together.
    async fn count_found_bans(&self, filter: &BanFilter) -> Result<i64, StoreError>;
    async fn list_sessions(&self, filter: &SessionFilter) -> Result<Vec<Session>, StoreError>;
    /// How many sessions the filter selects on every page together.
    async fn count_sessions(&self, filter: &SessionFilter) -> Result<i64, StoreError>;
    async fn list_accounts(&self, router: Option<&RouterName>) -> Result<Vec<Account>, StoreError>;
    /// One page of [`Store::list_accounts`], by router then name.
    async fn account_page(
        &self,
        router: Option<&RouterName>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Account>, StoreError>;
    async fn count_accounts(&self, router: Option<&RouterName>) -> Result<i64, StoreError>;
    /// Records whether `router` answered a call. Returns the change when
    /// this call is the first, in any process, to see the router's state
    /// differ from the recorded one; `None` when nothing changed (or another
    /// process recorded it first), so a transition is reported once.
    async fn record_router_health(
        &self,
        router: &RouterName,
        up: bool,
        at: DateTime<Utc>,
    ) -> Result<Option<HealthChange>, StoreError>;
    /// The job queue `queue` in this database: jobs not yet finished, and of
    /// those the ones due before `due_before` (late).
    async fn expiry_jobs(
        &self,
        queue: &str,
        due_before: DateTime<Utc>,
    ) -> Result<(i64, i64), StoreError>;
    /// Deletes up to `limit` jobs of `queue` that finished (ran, were
    /// killed, or used up their attempts) before `finished_before`; returns
    /// how many.
    async fn prune_finished_jobs(
        &self,
        queue: &str,
        finished_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<u64, StoreError>;
    /// How many sessions are in each state (states with none are left out).
    async fn count_sessions_by_state(&self) -> Result<Vec<(SessionState, i64)>, StoreError>;

    // Audit.
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;
}

/// A router's recorded health before a change [`Store::record_router_health`]
/// reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// `None`: never recorded before (the first call after installation).
    pub was_up: Option<bool>,
    /// When the previous state began.
    pub since: Option<DateTime<Utc>>,
}

/// Whether a ban on exactly `network` is in force at `now`.
pub async fn network_banned(
    store: &dyn Store,
    network: IpNet,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let filter = BanFilter {
        active_at: Some(now),
        network: Some(BanMatch::Exact(network)),
        limit: 1,
        offset: 0,
    };
    Ok(store.count_found_bans(&filter).await? > 0)
}

/// The ban in force for `address` among `bans`; the longest-lasting wins.
pub fn ban_covering(bans: &[Ban], address: IpAddr) -> Option<&Ban> {
    bans.iter()
        .filter(|b| b.network.contains(&address))
        .max_by_key(|b| b.until)
}
