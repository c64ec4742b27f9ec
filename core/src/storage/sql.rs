//! The SQL both backends run, and the macro that implements [`Store`] for a
//! backend from it. Placeholders are `$N`, which PostgreSQL and sqlx's SQLite
//! driver both accept, so the text is written once and the two backends cannot
//! drift apart.
//!
//! [`Store`]: super::Store

use chrono::{DateTime, Utc};

use super::{Account, AuditRecord, Ban, Invite, NewSession, Session, StoreError};

/// The columns of `sessions`, as a literal so queries stay `&'static str`
/// (sqlx refuses SQL built at run time).
macro_rules! session_columns {
    () => {
        "id, router, account, caller_id, remote_address, local_address, service, interface, \
         chat_id, language, state, created_at, deadline, decided_at, decided_by, closed_at, \
         message_id"
    };
}
pub(super) use session_columns;

/// The columns a new session is inserted with, up to its deadline: every
/// insert into `sessions` names these first.
macro_rules! new_session_columns {
    () => {
        "id, router, account, caller_id, remote_address, local_address, service, interface, \
         chat_id, language, state, created_at, deadline"
    };
}
pub(super) use new_session_columns;

/// The WHERE clause of a ban lookup: `$1` in force at (ms, or NULL for
/// every ban); then, when `networks` is some, that many parameters from `$2`
/// on, the candidate networks of [`super::BanMatch::candidates`], one of
/// which a ban's network must be (none: any network).
pub(super) fn ban_filter(networks: Option<usize>) -> String {
    let mut sql = String::from("($1 IS NULL OR (lifted_at IS NULL AND until > $1))");
    if let Some(n) = networks {
        sql.push_str(" AND ");
        sql.push_str(&network_in(2, n));
    }
    sql
}

/// `network IN ($first, …)` over `n` parameters; with none, it matches no
/// row. A list of names, not a pattern, so the index on `bans.network`
/// answers it.
fn network_in(first: usize, n: usize) -> String {
    if n == 0 {
        return "FALSE".to_owned();
    }
    let list: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    format!("network IN ({})", list.join(", "))
}

/// The networks whose bans cover `caller`, bound as a lookup's last values
/// ([`super::BanMatch::candidates`]); none when the caller is no address.
pub(super) fn caller_networks(caller: Option<std::net::IpAddr>) -> Vec<String> {
    caller
        .map(|ip| super::BanMatch::Covering(ip).candidates())
        .unwrap_or_default()
}

/// A lookup's statement for each kind of caller, IPv4, IPv6 and no address,
/// written by `text` from the number of the caller's networks (33, 129, 0).
fn texts_per_caller(text: impl Fn(usize) -> String) -> [String; 3] {
    let v4 = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    let v6 = std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
    [Some(v4), Some(v6), None].map(|caller| text(caller_networks(caller).len()))
}

/// The one of [`texts_per_caller`]'s statements that serves `caller`.
fn text_for(texts: &'static [String; 3], caller: Option<std::net::IpAddr>) -> &'static str {
    match caller {
        Some(std::net::IpAddr::V4(_)) => &texts[0],
        Some(std::net::IpAddr::V6(_)) => &texts[1],
        None => &texts[2],
    }
}

/// [`Store::connect_facts`](super::Store::connect_facts) as one statement:
/// `$1` router, `$2` tunnel address, `$3` account, `$4` now (ms), and from
/// `$5` on the caller's candidate networks ([`super::BanMatch::candidates`],
/// none when the caller is no address). It answers one row per covering
/// ban, or one row without a ban; the session's columns
/// ([`session_columns`] order) come first, then the account's, then the
/// ban's, each NULL when there is none. No bound LIMIT: SQLite plans such a
/// statement again on every run. One text per kind of caller, written once.
pub(super) fn connect_facts_sql(caller: Option<std::net::IpAddr>) -> &'static str {
    static TEXTS: std::sync::LazyLock<[String; 3]> =
        std::sync::LazyLock::new(|| texts_per_caller(connect_facts_text));
    text_for(&TEXTS, caller)
}

fn connect_facts_text(networks: usize) -> String {
    connect_lookup(
        "(SELECT 1 AS one) AS one",
        ["$1", "$2", "$3", "$4"],
        &network_in(5, networks),
        None,
    )
}

/// [`connect_facts_sql`] with `ask`'s values bound.
pub(super) fn connect_facts_query<'a, DB>(
    ask: &ConnectAsk,
) -> sqlx::query::Query<'a, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let query = sqlx::query(connect_facts_sql(ask.caller))
        .bind(ask.router.to_string())
        .bind(ask.remote_address.to_string())
        .bind(ask.account.to_string())
        .bind(ms(ask.at));
    bind_networks(query, ask.caller)
}

/// `query` with `caller`'s candidate networks ([`caller_networks`]) bound
/// as its last values, as a lookup of the bans covering it takes them.
pub(super) fn bind_networks<'a, DB>(
    mut query: sqlx::query::Query<'a, DB, <DB as sqlx::Database>::Arguments>,
    caller: Option<std::net::IpAddr>,
) -> sqlx::query::Query<'a, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    for network in caller_networks(caller) {
        query = query.bind(network);
    }
    query
}

/// [`connect_facts_sql`] for many connects at once (PostgreSQL only): `$1`
/// routers, `$2` tunnel addresses, `$3` accounts, `$4` times (ms) and `$5`
/// the callers' candidate networks, space-separated ([`networks_text`]),
/// one element per connect. Each row is one of [`connect_facts_sql`]'s with
/// the connect's position (from 1) after it.
pub(super) fn connect_facts_many_sql() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        connect_lookup(
            "unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[]) \
             WITH ORDINALITY AS q(router, remote_address, account, at, networks, i)",
            ["q.router", "q.remote_address", "q.account", "q.at"],
            // An index condition: each connect looks up only its own.
            "network = ANY (string_to_array(q.networks, ' '))",
            Some("q.i"),
        )
    });
    &TEXT
}

/// A caller's candidate networks ([`caller_networks`]) as one
/// space-separated text, for [`connect_facts_many_sql`].
pub(super) fn networks_text(caller: Option<std::net::IpAddr>) -> String {
    caller_networks(caller).join(" ")
}

/// The open session at an address, the account, and the bans in force
/// covering the caller, for what `from` names: `keys` are the router, the
/// tunnel address, the account and the time (ms) as `from` gives them, and
/// `covering` is the bans' network condition. With a `position`, `from`
/// has many rows (the lookups join each of them, LATERAL, which SQLite
/// lacks), and every answer ends with the position.
fn connect_lookup(from: &str, keys: [&str; 4], covering: &str, position: Option<&str>) -> String {
    let [router, address, account, at] = keys;
    let join = if position.is_some() {
        "LEFT JOIN LATERAL"
    } else {
        "LEFT JOIN"
    };
    let select = position.map_or(String::new(), |p| format!(", {p}"));
    format!(
        "SELECT s.*, a.*, b.*{select} FROM {from} \
         {join} (SELECT {} FROM sessions WHERE {} \
         ORDER BY created_at DESC LIMIT 1) AS s ON TRUE \
         {join} (SELECT router, name, owner_tg_id, language, is_admin, locked, \
         unenrolled_alerted_at, created_at FROM accounts \
         WHERE router = {router} AND name = {account}) AS a ON TRUE \
         {join} (SELECT id, network, reason, source, created_by, created_at, until, \
         lifted_at, lifted_by FROM bans WHERE {}) AS b ON TRUE",
        session_columns!(),
        open_session_at(router, address, account),
        bans_in_force(at, covering),
    )
}

/// The condition on `sessions` of a connect's open session: the account's
/// pending or confirmed session at the tunnel address.
fn open_session_at(router: &str, address: &str, account: &str) -> String {
    format!(
        "router = {router} AND remote_address = {address} AND account = {account} \
         AND state IN ('pending', 'confirmed')"
    )
}

/// The condition on `bans` of the bans in force at `at` (ms) whose network
/// meets `covering`.
fn bans_in_force(at: &str, covering: &str) -> String {
    format!("lifted_at IS NULL AND until > {at} AND {covering}")
}

/// [`Store::insert_plain_pending`](super::Store::insert_plain_pending) as
/// one statement: `$1` id, `$2` router, `$3` account, `$4` caller, `$5`
/// tunnel address, `$6` local address, `$7` service, `$8` interface, `$9`
/// created (ms), `$10` deadline (ms), `$11` the chat the router named, and
/// from `$12` on the caller's candidate networks. It inserts the pending
/// session, prompting the account's owner (else the router's chat) in the
/// owner's language, only where [`connect_lookup`] would find no open
/// session and no ban, and an account that is unlocked; and, as every
/// pending insert, only if the account has no pending session. It answers
/// the row inserted, if any. One text per kind of caller, written once.
pub(super) fn plain_pending_sql(caller: Option<std::net::IpAddr>) -> &'static str {
    static TEXTS: std::sync::LazyLock<[String; 3]> =
        std::sync::LazyLock::new(|| texts_per_caller(plain_pending_text));
    text_for(&TEXTS, caller)
}

fn plain_pending_text(networks: usize) -> String {
    use crate::telegram::Lang;
    // The owner's language as `owner_lang` reads it: a code tgate speaks,
    // in any ASCII case (every spelling listed, as SQL's `lower` may fold
    // more than ASCII), else the default.
    let known: Vec<String> = Lang::ALL
        .iter()
        .map(|l| {
            let spellings: Vec<String> = ascii_cases(l.code())
                .iter()
                .map(|c| format!("'{c}'"))
                .collect();
            format!(
                "WHEN a.language IN ({}) THEN '{}'",
                spellings.join(", "),
                l.code()
            )
        })
        .collect();
    format!(
        "INSERT INTO sessions ({}) \
         SELECT $1, a.router, a.name, $4, $5, $6, $7, $8, COALESCE(a.owner_tg_id, $11), \
         CASE {} ELSE '{}' END, 'pending', $9, $10 \
         FROM accounts AS a WHERE a.router = $2 AND a.name = $3 \
         AND NOT a.locked AND COALESCE(a.owner_tg_id, $11) IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM sessions WHERE {}) \
         AND NOT EXISTS (SELECT 1 FROM bans WHERE {}) \
         ON CONFLICT DO NOTHING RETURNING {}",
        new_session_columns!(),
        known.join(" "),
        Lang::default().code(),
        open_session_at("$2", "$5", "$3"),
        bans_in_force("$9", &network_in(12, networks)),
        session_columns!(),
    )
}

/// Every spelling of the ASCII word `word` in upper and lower case.
fn ascii_cases(word: &str) -> Vec<String> {
    word.chars().fold(vec![String::new()], |spellings, c| {
        let cases = [c.to_ascii_lowercase(), c.to_ascii_uppercase()];
        let cases = if cases[0] == cases[1] {
            &cases[..1]
        } else {
            &cases[..]
        };
        spellings
            .iter()
            .flat_map(|s| cases.iter().map(move |c| format!("{s}{c}")))
            .collect()
    })
}

/// [`plain_pending_sql`] with `s`'s values bound (its chat only counts
/// for an account without an owner; its language not at all).
pub(super) fn plain_pending_query<'a, DB>(
    s: &NewSession,
) -> sqlx::query::Query<'a, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    Option<String>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    Option<i64>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let caller = s.caller_id.ip();
    let query = sqlx::query(plain_pending_sql(caller))
        .bind(s.id.to_string())
        .bind(s.router.to_string())
        .bind(s.account.to_string())
        .bind(s.caller_id.to_string())
        .bind(s.remote_address.to_string())
        .bind(s.local_address.map(|a| a.to_string()))
        .bind(s.service.as_str().to_owned())
        .bind(s.interface.as_ref().map(|i| i.to_string()))
        .bind(ms(s.created_at))
        .bind(ms(s.deadline))
        .bind(s.chat_id);
    bind_networks(query, caller)
}

/// [`Store::strike_facts`](super::Store::strike_facts) as one statement:
/// `$1` the caller, `$2` the window's start (ms), `$3` now (ms), and from
/// `$4` on the caller's candidate networks ([`super::BanMatch::candidates`],
/// none when the caller is a MAC address). It answers one row per covering
/// ban, or one row without a ban; the strike count comes first, then the
/// ban's columns, NULL when there is none. One text per kind of caller,
/// written once.
pub(super) fn strike_facts_sql(caller: Option<std::net::IpAddr>) -> &'static str {
    static TEXTS: std::sync::LazyLock<[String; 3]> =
        std::sync::LazyLock::new(|| texts_per_caller(strike_facts_text));
    text_for(&TEXTS, caller)
}

fn strike_facts_text(networks: usize) -> String {
    format!(
        "SELECT c.strikes, b.* FROM \
         (SELECT COUNT(*) AS strikes FROM strikes \
         WHERE caller_id = $1 AND at >= $2) AS c \
         LEFT JOIN (SELECT id, network, reason, source, created_by, created_at, \
         until, lifted_at, lifted_by FROM bans WHERE {}) AS b ON TRUE",
        bans_in_force("$3", &network_in(4, networks))
    )
}

/// The WHERE clause of a session listing: `$1` state, `$2` router, `$3`
/// account, `$4` true for open sessions only; each NULL for any.
macro_rules! session_filter {
    () => {
        "($1 IS NULL OR state = $1) AND ($2 IS NULL OR router = $2) \
         AND ($3 IS NULL OR account = $3) \
         AND ($4 IS NULL OR state IN ('pending', 'confirmed'))"
    };
}
pub(super) use session_filter;

/// What a grouped write returned, handed back one per asked id, in order:
/// the session returned for it, or `None` when none was. An id asked twice
/// gets the session only the first time, as if the second had come after.
pub(super) fn sessions_for(
    asked: impl Iterator<Item = crate::domain::SessionId>,
    returned: Vec<SessionRow>,
) -> Result<Vec<Option<Session>>, StoreError> {
    let mut returned = returned
        .into_iter()
        .map(|row| Session::try_from(row).map(|s| (s.id, s)))
        .collect::<Result<std::collections::HashMap<_, _>, StoreError>>()?;
    Ok(asked.map(|id| returned.remove(&id)).collect())
}

pub(super) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn time(row: &str, ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(row.into(), format!("time {ms} out of range")))
}

pub(super) fn parsed<T: std::str::FromStr>(
    row: &str,
    what: &str,
    text: &str,
) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(row.into(), format!("{what} {text:?}")))
}

fn opt_parsed<T: std::str::FromStr>(
    row: &str,
    what: &str,
    text: Option<String>,
) -> Result<Option<T>, StoreError> {
    text.map(|t| parsed(row, what, &t)).transpose()
}

/// Reads a row struct from consecutive columns of `row`, from `*$at` on, in
/// the order its fields are named, and moves `*$at` past them; `None` when
/// its first column is NULL (an outer join that found nothing).
macro_rules! row_at {
    ($row:expr, $at:expr, $ty:ident { $first:ident $(, $field:ident)* $(,)? }) => {{
        let (row, at): (_, &mut usize) = ($row, $at);
        let mut i = *at;
        *at += 1 $(+ { let _ = stringify!($field); 1 })*;
        let first: Option<_> = sqlx::Row::try_get(row, i)?;
        match first {
            None => None,
            Some($first) => Some($ty {
                $first,
                $($field: {
                    i += 1;
                    sqlx::Row::try_get(row, i)?
                },)*
            }),
        }
    }};
}

/// One connect's question to [`Store::connect_facts`](super::Store::connect_facts),
/// for a backend that asks many at once ([`connect_facts_many_sql`]).
#[derive(Debug, Clone)]
pub struct ConnectAsk {
    pub router: crate::domain::RouterName,
    pub account: crate::domain::AccountName,
    pub remote_address: std::net::IpAddr,
    pub caller: Option<std::net::IpAddr>,
    pub at: DateTime<Utc>,
}

/// Decodes the rows of [`connect_facts_sql`]: the session and the account
/// repeat on every row, the ban differs.
pub(super) fn connect_facts<R>(rows: Vec<R>) -> Result<super::ConnectFacts, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut facts = super::ConnectFacts::default();
    let mut bans_from = 0;
    if let Some(row) = rows.first() {
        let session = row_at!(
            row,
            &mut bans_from,
            SessionRow {
                id,
                router,
                account,
                caller_id,
                remote_address,
                local_address,
                service,
                interface,
                chat_id,
                language,
                state,
                created_at,
                deadline,
                decided_at,
                decided_by,
                closed_at,
                message_id,
            }
        );
        facts.open_session = session.map(Session::try_from).transpose()?;
        let account = row_at!(
            row,
            &mut bans_from,
            AccountRow {
                router,
                name,
                owner_tg_id,
                language,
                is_admin,
                locked,
                unenrolled_alerted_at,
                created_at,
            }
        );
        facts.account = account.map(Account::try_from).transpose()?;
    }
    facts.bans = bans_at(&rows, bans_from)?;
    Ok(facts)
}

/// The bans in a lookup's rows: each row's ban columns from index `first`
/// on, all NULL in a row without a ban.
fn bans_at<R>(rows: &[R], first: usize) -> Result<Vec<Ban>, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut bans = Vec::new();
    for row in rows {
        let mut at = first;
        let ban = row_at!(
            row,
            &mut at,
            BanRow {
                id,
                network,
                reason,
                source,
                created_by,
                created_at,
                until,
                lifted_at,
                lifted_by,
            }
        );
        if let Some(ban) = ban {
            bans.push(Ban::try_from(ban)?);
        }
    }
    Ok(bans)
}

/// Decodes the rows of [`strike_facts_sql`]: the count repeats on every
/// row, the ban differs.
pub(super) fn strike_facts<R>(rows: Vec<R>) -> Result<super::StrikeFacts, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut facts = super::StrikeFacts::default();
    if let Some(row) = rows.first() {
        facts.strikes = sqlx::Row::try_get(row, 0)?;
    }
    facts.bans = bans_at(&rows, 1)?;
    Ok(facts)
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id: String,
    router: String,
    account: String,
    caller_id: String,
    remote_address: String,
    local_address: Option<String>,
    service: String,
    interface: Option<String>,
    chat_id: Option<i64>,
    language: Option<String>,
    state: String,
    created_at: i64,
    deadline: i64,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    closed_at: Option<i64>,
    message_id: Option<i64>,
}

/// A session and its account's owner, as
/// [`Store::session_with_owner`](super::Store::session_with_owner) reads them.
#[derive(sqlx::FromRow)]
pub(super) struct SessionOwnerRow {
    #[sqlx(flatten)]
    pub(super) session: SessionRow,
    pub(super) owner: Option<i64>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        let row = format!("sessions/{}", r.id);
        let row = row.as_str();
        Ok(Session {
            id: parsed(row, "id", &r.id)?,
            router: parsed(row, "router", &r.router)?,
            account: parsed(row, "account", &r.account)?,
            caller_id: parsed(row, "caller_id", &r.caller_id)?,
            remote_address: parsed(row, "remote_address", &r.remote_address)?,
            local_address: opt_parsed(row, "local_address", r.local_address)?,
            service: parsed(row, "service", &r.service)?,
            interface: opt_parsed(row, "interface", r.interface)?,
            chat_id: r.chat_id,
            language: r.language,
            state: parsed(row, "state", &r.state)?,
            created_at: time(row, r.created_at)?,
            deadline: time(row, r.deadline)?,
            decided_at: r.decided_at.map(|t| time(row, t)).transpose()?,
            decided_by: r.decided_by,
            closed_at: r.closed_at.map(|t| time(row, t)).transpose()?,
            message_id: r.message_id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    router: String,
    name: String,
    owner_tg_id: Option<i64>,
    language: Option<String>,
    is_admin: bool,
    locked: bool,
    unenrolled_alerted_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(r: AccountRow) -> Result<Self, StoreError> {
        let row = format!("accounts/{}/{}", r.router, r.name);
        let row = row.as_str();
        Ok(Account {
            router: parsed(row, "router", &r.router)?,
            name: parsed(row, "name", &r.name)?,
            owner_tg_id: r.owner_tg_id,
            language: r.language,
            is_admin: r.is_admin,
            locked: r.locked,
            unenrolled_alerted_at: r.unenrolled_alerted_at.map(|t| time(row, t)).transpose()?,
            created_at: time(row, r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct BanRow {
    id: i64,
    network: String,
    reason: String,
    source: String,
    created_by: String,
    created_at: i64,
    until: i64,
    lifted_at: Option<i64>,
    lifted_by: Option<String>,
}

impl TryFrom<BanRow> for Ban {
    type Error = StoreError;
    fn try_from(r: BanRow) -> Result<Self, StoreError> {
        let row = format!("bans/{}", r.id);
        let row = row.as_str();
        Ok(Ban {
            id: r.id,
            network: parsed(row, "network", &r.network)?,
            reason: r.reason,
            source: r.source,
            created_by: r.created_by,
            created_at: time(row, r.created_at)?,
            until: time(row, r.until)?,
            lifted_at: r.lifted_at.map(|t| time(row, t)).transpose()?,
            lifted_by: r.lifted_by,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct InviteRow {
    code: String,
    router: String,
    account: String,
    created_by: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    used_by: Option<i64>,
}

impl TryFrom<InviteRow> for Invite {
    type Error = StoreError;
    fn try_from(r: InviteRow) -> Result<Self, StoreError> {
        let row = "invites/…";
        Ok(Invite {
            code: r.code,
            router: parsed(row, "router", &r.router)?,
            account: parsed(row, "account", &r.account)?,
            created_by: r.created_by,
            created_at: time(row, r.created_at)?,
            expires_at: time(row, r.expires_at)?,
            used_at: r.used_at.map(|t| time(row, t)).transpose()?,
            used_by: r.used_by,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    router: Option<String>,
    account: Option<String>,
    address: Option<String>,
    session_id: Option<String>,
    detail: String,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        let row = format!("audit/{}", r.id);
        Ok(AuditRecord {
            id: r.id,
            at: time(&row, r.at)?,
            actor: r.actor,
            action: r.action,
            router: r.router,
            account: r.account,
            address: r.address,
            session_id: r.session_id,
            detail: serde_json::from_str(&r.detail)
                .map_err(|e| StoreError::Corrupt(row.clone(), format!("detail: {e}")))?,
        })
    }
}

/// A [`Group`](super::group::Group) over a pool of database `$db` that
/// appends rows of type `$row` to a table: the rows that arrive together
/// are stored by one multi-row `$insert … VALUES`, each row's values bound
/// by `$bind` (given the row's `Separated` and the item).
macro_rules! insert_group {
    ($db:ty, $pool:expr, $row:ty, $insert:literal, $bind:expr) => {{
        let pool = $pool.clone();
        $crate::storage::group::Group::start(move |rows: std::sync::Arc<Vec<$row>>| {
            let pool = pool.clone();
            async move {
                let mut insert = sqlx::QueryBuilder::<$db>::new($insert);
                insert.push_values(rows.iter(), $bind);
                insert
                    .build()
                    .persistent($crate::storage::group::keep_prepared(rows.len()))
                    .execute(&pool)
                    .await?;
                Ok(vec![(); rows.len()])
            }
        })
    }};
}
pub(super) use insert_group;

/// The audit log's group writer.
macro_rules! audit_group {
    ($db:ty, $pool:expr) => {
        $crate::storage::sql::insert_group!(
            $db,
            $pool,
            AuditEntry,
            "INSERT INTO audit (at, actor, action, router, account, address, session_id, detail) ",
            |mut row, e: &AuditEntry| {
                row.push_bind($crate::storage::sql::ms(e.at))
                    .push_bind(e.actor.clone())
                    .push_bind(e.action.clone())
                    .push_bind(e.router.clone())
                    .push_bind(e.account.clone())
                    .push_bind(e.address.clone())
                    .push_bind(e.session_id.clone())
                    .push_bind(e.detail.to_string());
            }
        )
    };
}
pub(super) use audit_group;

/// The strikes' group writer (a storm's blocked connects arrive together).
macro_rules! strike_group {
    ($db:ty, $pool:expr) => {
        $crate::storage::sql::insert_group!(
            $db,
            $pool,
            $crate::storage::NewStrike,
            "INSERT INTO strikes (caller_id, router, account, session_id, kind, at) ",
            |mut row, strike: &$crate::storage::NewStrike| {
                row.push_bind(strike.caller_id.to_string())
                    .push_bind(strike.router.to_string())
                    .push_bind(strike.account.to_string())
                    .push_bind(strike.session_id.map(|id| id.to_string()))
                    .push_bind(strike.kind.as_str())
                    .push_bind($crate::storage::sql::ms(strike.at));
            }
        )
    };
}
pub(super) use strike_group;

/// `INSERT INTO sessions … VALUES …` for `$rows` (new sessions) in `$state`,
/// decided by `$decided_by` (an `Option<&str>`: `None` for pending); the
/// caller adds what follows the values.
macro_rules! insert_sessions {
    ($db:ty, $rows:expr, $state:expr, $decided_by:expr) => {{
        let mut insert = sqlx::QueryBuilder::<$db>::new(concat!(
            "INSERT INTO sessions (",
            $crate::storage::sql::new_session_columns!(),
            ", decided_at, decided_by) "
        ));
        let (state, decided_by): (SessionState, Option<&str>) = ($state, $decided_by);
        insert.push_values($rows, |mut row, s: &NewSession| {
            row.push_bind(s.id.to_string())
                .push_bind(s.router.to_string())
                .push_bind(s.account.to_string())
                .push_bind(s.caller_id.to_string())
                .push_bind(s.remote_address.to_string())
                .push_bind(s.local_address.map(|a| a.to_string()))
                .push_bind(s.service.as_str())
                .push_bind(s.interface.as_ref().map(|i| i.to_string()))
                .push_bind(s.chat_id)
                .push_bind(s.language.clone())
                .push_bind(state.as_str())
                .push_bind($crate::storage::sql::ms(s.created_at))
                .push_bind($crate::storage::sql::ms(s.deadline))
                .push_bind(decided_by.map(|_| $crate::storage::sql::ms(s.created_at)))
                .push_bind(decided_by.map(str::to_owned));
        });
        insert
    }};
}
pub(super) use insert_sessions;

/// A [`Group`](super::group::Group) that inserts new pending sessions: one
/// multi-row `INSERT … ON CONFLICT DO NOTHING`, so a row that collides with
/// the account's pending session (the one-pending-prompt index) is skipped
/// rather than failing the others. Each caller gets its session as stored,
/// or `None` when its row was skipped.
macro_rules! pending_group {
    ($db:ty, $pool:expr) => {{
        let pool = $pool.clone();
        $crate::storage::group::Group::start(move |rows: std::sync::Arc<Vec<NewSession>>| {
            let pool = pool.clone();
            async move {
                let mut insert = $crate::storage::sql::insert_sessions!(
                    $db,
                    rows.iter(),
                    SessionState::Pending,
                    None
                );
                insert.push(concat!(
                    " ON CONFLICT DO NOTHING RETURNING ",
                    session_columns!()
                ));
                let stored: Vec<SessionRow> = insert
                    .build_query_as()
                    .persistent($crate::storage::group::keep_prepared(rows.len()))
                    .fetch_all(&pool)
                    .await?;
                $crate::storage::sql::sessions_for(rows.iter().map(|s| s.id), stored)
            }
        })
    }};
}
pub(super) use pending_group;

/// How long a prompt's message id waits for others to share its write. The
/// prompt is out already; a decision that comes first finds no message id
/// and is shown by the id's write instead (it sees the session decided and
/// edits the prompt), so the owner sees the same prompt and edit either way.
pub(super) const MESSAGE_ID_LINGER: std::time::Duration = std::time::Duration::from_millis(10);

/// A [`Group`](super::group::Group) that records prompts' message ids: one
/// `UPDATE … FROM (VALUES …)` for the ids that arrive within
/// [`MESSAGE_ID_LINGER`] of each other.
/// Each caller learns its session's state as the update found it, or `None`
/// when the session was not there to update.
macro_rules! message_id_group {
    ($db:ty, $pool:expr) => {{
        let pool = $pool.clone();
        $crate::storage::group::Group::start_lingering(
            $crate::storage::sql::MESSAGE_ID_LINGER,
            move |rows: std::sync::Arc<Vec<(SessionId, i64)>>| {
                let pool = pool.clone();
                async move {
                    let mut update = sqlx::QueryBuilder::<$db>::new(
                        "UPDATE sessions SET message_id = v.column2 FROM (",
                    );
                    update.push_values(rows.iter(), |mut row, (id, message_id)| {
                        row.push_bind(id.to_string()).push_bind(*message_id);
                    });
                    update.push(
                        ") AS v WHERE sessions.id = v.column1 \
                         RETURNING sessions.id, sessions.state",
                    );
                    let updated: Vec<(String, String)> = update
                        .build_query_as()
                        .persistent($crate::storage::group::keep_prepared(rows.len()))
                        .fetch_all(&pool)
                        .await?;
                    let mut updated: std::collections::HashMap<String, SessionState> = updated
                        .into_iter()
                        .map(|(id, state)| match state.parse() {
                            Ok(state) => Ok((id, state)),
                            Err(_) => Err(StoreError::Corrupt(
                                format!("sessions/{id}"),
                                format!("state {state:?}"),
                            )),
                        })
                        .collect::<Result<_, StoreError>>()?;
                    Ok(rows
                        .iter()
                        .map(|(id, _)| updated.remove(&id.to_string()))
                        .collect())
                }
            },
        )
    }};
}
pub(super) use message_id_group;

/// A [`Group`](super::group::Group) that expires sessions whose deadline
/// has come: one `UPDATE … FROM (VALUES …)` for the deadlines that fall due
/// together, applied only to sessions still pending. Each caller gets its
/// session as expired, or `None` when the session had moved on or does not
/// exist, as [`transition`](super::Store::transition) answers. A session
/// named twice in one write is expired once; its first caller hears so and
/// the other `None`, as if they had come one after the other.
macro_rules! expiry_group {
    ($db:ty, $pool:expr) => {{
        let pool = $pool.clone();
        $crate::storage::group::Group::start(
            move |rows: std::sync::Arc<Vec<(SessionId, DateTime<Utc>, String)>>| {
                let pool = pool.clone();
                async move {
                    let mut update = sqlx::QueryBuilder::<$db>::new(
                        "UPDATE sessions SET state = 'expired', \
                         decided_at = COALESCE(sessions.decided_at, v.column2), \
                         decided_by = COALESCE(sessions.decided_by, v.column3) FROM (",
                    );
                    update.push_values(rows.iter(), |mut row, (id, at, actor)| {
                        row.push_bind(id.to_string())
                            .push_bind($crate::storage::sql::ms(*at))
                            .push_bind(actor.as_str());
                    });
                    update.push(concat!(
                        ") AS v WHERE sessions.id = v.column1 AND sessions.state = 'pending' \
                         RETURNING ",
                        session_columns!()
                    ));
                    let expired: Vec<SessionRow> = update
                        .build_query_as()
                        .persistent($crate::storage::group::keep_prepared(rows.len()))
                        .fetch_all(&pool)
                        .await?;
                    $crate::storage::sql::sessions_for(rows.iter().map(|(id, _, _)| *id), expired)
                }
            },
        )
    }};
}
pub(super) use expiry_group;

/// Implements [`super::Store`] for a struct with `pool`, `reads` and `jobs`
/// fields of a concrete sqlx pool type and an `audits` [`audit_group`]:
/// writes (and anything that must see its own writes at once) go to `pool`,
/// plain reads to `reads`, which may be the same pool, and the job queue's
/// tables are reached through `jobs`. The body is the same for every backend; only the pool's type
/// differs, which is exactly what sqlx's generics need to see.
macro_rules! impl_store {
    ($store:ty, $backend:literal, jobs_sql = $jobs_sql:literal, prune_jobs_sql = $prune_jobs_sql:literal) => {
        #[async_trait::async_trait]
        impl $crate::storage::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            fn jobs_pool(&self) -> $crate::storage::BackendPool {
                $crate::storage::BackendPool::from(self.jobs.clone())
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn sync_routers(&self, routers: &[RouterName]) -> Result<(), StoreError> {
                let now = ms(Utc::now());
                for router in routers {
                    sqlx::query(
                        "INSERT INTO routers (name, created_at) VALUES ($1, $2) \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(router.as_str())
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                }
                Ok(())
            }

            async fn ensure_account(
                &self,
                router: &RouterName,
                name: &AccountName,
            ) -> Result<Account, StoreError> {
                // Every connect asks; only the first for an account writes.
                if let Some(account) = self.account(router, name).await? {
                    return Ok(account);
                }
                sqlx::query(
                    "INSERT INTO accounts (router, name, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (router, name) DO NOTHING",
                )
                .bind(router.as_str())
                .bind(name.as_str())
                .bind(ms(Utc::now()))
                .execute(&self.pool)
                .await?;
                self.account(router, name).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("accounts/{router}/{name}"), "vanished".into())
                })
            }

            async fn account(
                &self,
                router: &RouterName,
                name: &AccountName,
            ) -> Result<Option<Account>, StoreError> {
                let row: Option<AccountRow> = sqlx::query_as(
                    "SELECT router, name, owner_tg_id, language, is_admin, locked, \
                     unenrolled_alerted_at, created_at FROM accounts \
                     WHERE router = $1 AND name = $2",
                )
                .bind(router.as_str())
                .bind(name.as_str())
                .fetch_optional(&self.reads)
                .await?;
                row.map(Account::try_from).transpose()
            }

            async fn set_account_owner(
                &self,
                router: &RouterName,
                name: &AccountName,
                owner_tg_id: Option<i64>,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE accounts SET owner_tg_id = $3 WHERE router = $1 AND name = $2",
                )
                .bind(router.as_str())
                .bind(name.as_str())
                .bind(owner_tg_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_account_locked(
                &self,
                router: &RouterName,
                name: &AccountName,
                locked: bool,
            ) -> Result<bool, StoreError> {
                let done =
                    sqlx::query("UPDATE accounts SET locked = $3 WHERE router = $1 AND name = $2")
                        .bind(router.as_str())
                        .bind(name.as_str())
                        .bind(locked)
                        .execute(&self.pool)
                        .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_owner_language(
                &self,
                owner_tg_id: i64,
                language: &str,
            ) -> Result<u64, StoreError> {
                let done = sqlx::query("UPDATE accounts SET language = $2 WHERE owner_tg_id = $1")
                    .bind(owner_tg_id)
                    .bind(language)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn accounts_of_owner(&self, owner_tg_id: i64) -> Result<Vec<Account>, StoreError> {
                let rows: Vec<AccountRow> = sqlx::query_as(
                    "SELECT router, name, owner_tg_id, language, is_admin, locked, \
                     unenrolled_alerted_at, created_at FROM accounts \
                     WHERE owner_tg_id = $1 ORDER BY router, name",
                )
                .bind(owner_tg_id)
                .fetch_all(&self.reads)
                .await?;
                rows.into_iter().map(Account::try_from).collect()
            }

            async fn mark_unenrolled_alert(
                &self,
                router: &RouterName,
                name: &AccountName,
                at: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE accounts SET unenrolled_alerted_at = $3 \
                     WHERE router = $1 AND name = $2 AND unenrolled_alerted_at IS NULL",
                )
                .bind(router.as_str())
                .bind(name.as_str())
                .bind(ms(at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_pending(&self, s: &NewSession) -> Result<Inserted, StoreError> {
                // The pending session that blocked us may be decided between
                // our insert and our look-up; then the insert can succeed.
                for _ in 0..3 {
                    if let Some(session) = self.pending_inserts.append(s.clone()).await? {
                        return Ok(Inserted::Created(session));
                    }
                    if let Some(existing) = self.pending_for_account(&s.router, &s.account).await? {
                        return Ok(Inserted::PendingExists(existing));
                    }
                }
                Err(StoreError::Corrupt(
                    format!("sessions/{}", s.id),
                    "pending slot kept changing".into(),
                ))
            }

            async fn insert_decided(
                &self,
                s: &NewSession,
                state: SessionState,
                decided_by: &str,
            ) -> Result<Session, StoreError> {
                let mut insert = $crate::storage::sql::insert_sessions!(
                    <$store as $crate::storage::sql::Backend>::Db,
                    std::iter::once(s),
                    state,
                    Some(decided_by)
                );
                insert.push(concat!(" RETURNING ", session_columns!()));
                let row: SessionRow = insert.build_query_as().fetch_one(&self.pool).await?;
                Session::try_from(row)
            }

            async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE id = $1"
                );
                let row: Option<SessionRow> = sqlx::query_as(sql)
                    .bind(id.to_string())
                    .fetch_optional(&self.reads)
                    .await?;
                row.map(Session::try_from).transpose()
            }

            async fn session_with_owner(
                &self,
                id: SessionId,
            ) -> Result<Option<(Session, Option<i64>)>, StoreError> {
                let sql = concat!(
                    "SELECT s.*, (SELECT owner_tg_id FROM accounts \
                     WHERE router = s.router AND name = s.account) AS owner \
                     FROM (SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE id = $1) AS s"
                );
                let row: Option<$crate::storage::sql::SessionOwnerRow> = sqlx::query_as(sql)
                    .bind(id.to_string())
                    .fetch_optional(&self.reads)
                    .await?;
                row.map(|r| Ok((Session::try_from(r.session)?, r.owner)))
                    .transpose()
            }

            async fn pending_for_account(
                &self,
                router: &RouterName,
                account: &AccountName,
            ) -> Result<Option<Session>, StoreError> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions \
                     WHERE router = $1 AND account = $2 AND state = 'pending'"
                );
                let row: Option<SessionRow> = sqlx::query_as(sql)
                    .bind(router.as_str())
                    .bind(account.as_str())
                    .fetch_optional(&self.reads)
                    .await?;
                row.map(Session::try_from).transpose()
            }

            async fn insert_plain_pending(
                &self,
                s: &NewSession,
            ) -> Result<Option<Session>, StoreError> {
                let pool = $crate::storage::sql::Backend::plain_pending_pool(self);
                let row = $crate::storage::sql::plain_pending_query(s)
                    .fetch_optional(pool)
                    .await?;
                row.map(|row| Session::try_from(<SessionRow as sqlx::FromRow<_>>::from_row(&row)?))
                    .transpose()
            }

            async fn connect_facts(
                &self,
                router: &RouterName,
                account: &AccountName,
                remote_address: std::net::IpAddr,
                caller: Option<std::net::IpAddr>,
                at: DateTime<Utc>,
            ) -> Result<$crate::storage::ConnectFacts, StoreError> {
                let ask = $crate::storage::sql::ConnectAsk {
                    router: router.clone(),
                    account: account.clone(),
                    remote_address,
                    caller,
                    at,
                };
                if let Some(reads) = $crate::storage::sql::Backend::connect_reads(self) {
                    return reads.append(ask).await;
                }
                let rows = $crate::storage::sql::connect_facts_query(&ask)
                    .fetch_all(&self.reads)
                    .await?;
                $crate::storage::sql::connect_facts(rows)
            }

            async fn close_open_session(
                &self,
                router: &RouterName,
                account: &AccountName,
                remote_address: std::net::IpAddr,
                at: DateTime<Utc>,
                actor: &str,
            ) -> Result<Option<$crate::storage::Closed>, StoreError> {
                let sql = concat!(
                    "UPDATE sessions SET state = 'closed', \
                     decided_at = COALESCE(decided_at, $4), \
                     decided_by = COALESCE(decided_by, $5), closed_at = $4 \
                     WHERE id = (SELECT id FROM sessions \
                     WHERE router = $1 AND remote_address = $2 AND account = $3 \
                     AND state IN ('pending', 'confirmed') \
                     ORDER BY created_at DESC LIMIT 1) \
                     AND state IN ('pending', 'confirmed') \
                     RETURNING ",
                    session_columns!()
                );
                let row: Option<SessionRow> = sqlx::query_as(sql)
                    .bind(router.as_str())
                    .bind(remote_address.to_string())
                    .bind(account.as_str())
                    .bind(ms(at))
                    .bind(actor)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(session) = row.map(Session::try_from).transpose()? else {
                    return Ok(None);
                };
                // This close decided the session (its time and actor) only
                // when nothing had before: it was still pending.
                let decided_here = session.decided_at.map(ms) == Some(ms(at))
                    && session.decided_by.as_deref() == Some(actor);
                let was = if decided_here {
                    SessionState::Pending
                } else {
                    SessionState::Confirmed
                };
                Ok(Some($crate::storage::Closed { session, was }))
            }

            async fn transition(
                &self,
                id: SessionId,
                transition: Transition,
                at: DateTime<Utc>,
                actor: &str,
            ) -> Result<Option<Session>, StoreError> {
                let sources = transition.sources();
                let sql = concat!(
                    "UPDATE sessions SET state = $1, \
                     decided_at = COALESCE(decided_at, $2), \
                     decided_by = COALESCE(decided_by, $3), \
                     closed_at = CASE WHEN $1 = 'closed' THEN $2 ELSE closed_at END \
                     WHERE id = $4 AND (state = $5 OR state = $6) \
                     RETURNING ",
                    session_columns!()
                );
                let row: Option<SessionRow> = sqlx::query_as(sql)
                    .bind(transition.target().as_str())
                    .bind(ms(at))
                    .bind(actor)
                    .bind(id.to_string())
                    .bind(sources[0].as_str())
                    .bind(sources[sources.len() - 1].as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(Session::try_from).transpose()
            }

            async fn expire_due(
                &self,
                id: SessionId,
                at: DateTime<Utc>,
                actor: &str,
            ) -> Result<Option<Session>, StoreError> {
                self.expiries.append((id, at, actor.to_owned())).await
            }

            async fn set_message_id(
                &self,
                id: SessionId,
                message_id: i64,
            ) -> Result<Option<SessionState>, StoreError> {
                self.message_ids.append((id, message_id)).await
            }

            async fn open_sessions_of_owner(
                &self,
                owner_tg_id: i64,
            ) -> Result<Vec<Session>, StoreError> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE state IN ('pending', 'confirmed') \
                     AND (router, account) IN \
                     (SELECT router, name FROM accounts WHERE owner_tg_id = $1) \
                     ORDER BY created_at"
                );
                let rows: Vec<SessionRow> = sqlx::query_as(sql)
                    .bind(owner_tg_id)
                    .fetch_all(&self.reads)
                    .await?;
                rows.into_iter().map(Session::try_from).collect()
            }

            async fn sessions_in_state(
                &self,
                state: SessionState,
                limit: i64,
            ) -> Result<Vec<Session>, StoreError> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE state = $1 \
                     ORDER BY created_at LIMIT $2"
                );
                let rows: Vec<SessionRow> = sqlx::query_as(sql)
                    .bind(state.as_str())
                    .bind(limit)
                    .fetch_all(&self.reads)
                    .await?;
                rows.into_iter().map(Session::try_from).collect()
            }

            async fn pending_due(
                &self,
                before: DateTime<Utc>,
                limit: i64,
            ) -> Result<Vec<Session>, StoreError> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE state = 'pending' AND deadline < $1 \
                     ORDER BY deadline LIMIT $2"
                );
                let rows: Vec<SessionRow> = sqlx::query_as(sql)
                    .bind(ms(before))
                    .bind(limit)
                    .fetch_all(&self.reads)
                    .await?;
                rows.into_iter().map(Session::try_from).collect()
            }

            async fn open_sessions_of_router(
                &self,
                router: &RouterName,
            ) -> Result<Vec<Session>, StoreError> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE router = $1 \
                     AND state IN ('pending', 'confirmed') ORDER BY created_at"
                );
                let rows: Vec<SessionRow> = sqlx::query_as(sql)
                    .bind(router.as_str())
                    .fetch_all(&self.reads)
                    .await?;
                rows.into_iter().map(Session::try_from).collect()
            }

            async fn add_strike(
                &self,
                strike: &$crate::storage::NewStrike,
            ) -> Result<(), StoreError> {
                self.strikes.append(strike.clone()).await
            }

            async fn strike_facts(
                &self,
                caller_id: &$crate::domain::CallerId,
                since: DateTime<Utc>,
                at: DateTime<Utc>,
            ) -> Result<$crate::storage::StrikeFacts, StoreError> {
                let ip = caller_id.ip();
                let query = sqlx::query($crate::storage::sql::strike_facts_sql(ip))
                    .bind(caller_id.to_string())
                    .bind(ms(since))
                    .bind(ms(at));
                let rows = $crate::storage::sql::bind_networks(query, ip)
                    .fetch_all(&self.reads)
                    .await?;
                $crate::storage::sql::strike_facts(rows)
            }

            async fn insert_ban(&self, ban: &NewBan) -> Result<Ban, StoreError> {
                let row: BanRow = sqlx::query_as(
                    "INSERT INTO bans (network, reason, source, created_by, created_at, until) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     RETURNING id, network, reason, source, created_by, created_at, until, \
                     lifted_at, lifted_by",
                )
                .bind(ban.network.to_string())
                .bind(&ban.reason)
                .bind(&ban.source)
                .bind(&ban.created_by)
                .bind(ms(ban.created_at))
                .bind(ms(ban.until))
                .fetch_one(&self.pool)
                .await?;
                Ban::try_from(row)
            }

            async fn active_bans(&self, now: DateTime<Utc>) -> Result<Vec<Ban>, StoreError> {
                let rows: Vec<BanRow> = sqlx::query_as(
                    "SELECT id, network, reason, source, created_by, created_at, until, \
                     lifted_at, lifted_by FROM bans \
                     WHERE lifted_at IS NULL AND until > $1 ORDER BY id",
                )
                .bind(ms(now))
                .fetch_all(&self.reads)
                .await?;
                rows.into_iter().map(Ban::try_from).collect()
            }

            async fn lift_ban(
                &self,
                id: i64,
                at: DateTime<Utc>,
                by: &str,
            ) -> Result<Option<Ban>, StoreError> {
                let row: Option<BanRow> = sqlx::query_as(
                    "UPDATE bans SET lifted_at = $2, lifted_by = $3 \
                     WHERE id = $1 AND lifted_at IS NULL \
                     RETURNING id, network, reason, source, created_by, created_at, until, \
                     lifted_at, lifted_by",
                )
                .bind(id)
                .bind(ms(at))
                .bind(by)
                .fetch_optional(&self.pool)
                .await?;
                row.map(Ban::try_from).transpose()
            }

            async fn count_bans(&self, network: ipnet::IpNet) -> Result<i64, StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM bans WHERE network = $1")
                    .bind(network.to_string())
                    .fetch_one(&self.reads)
                    .await?;
                Ok(n)
            }

            async fn insert_invite(&self, i: &Invite) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO invites (code, router, account, created_by, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&i.code)
                .bind(i.router.as_str())
                .bind(i.account.as_str())
                .bind(&i.created_by)
                .bind(ms(i.created_at))
                .bind(ms(i.expires_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn use_invite(
                &self,
                code: &str,
                presenter: i64,
                language: &str,
                at: DateTime<Utc>,
            ) -> Result<InviteUse, StoreError> {
                let mut tx = self.pool.begin().await?;
                let used: Option<InviteRow> = sqlx::query_as(
                    "UPDATE invites SET used_at = $3, used_by = $2 \
                     WHERE code = $1 AND used_at IS NULL AND expires_at > $3 \
                     RETURNING code, router, account, created_by, created_at, expires_at, \
                     used_at, used_by",
                )
                .bind(code)
                .bind(presenter)
                .bind(ms(at))
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = used else {
                    tx.rollback().await?;
                    let found: Option<(Option<i64>,)> =
                        sqlx::query_as("SELECT used_at FROM invites WHERE code = $1")
                            .bind(code)
                            .fetch_optional(&self.pool)
                            .await?;
                    return Ok(match found {
                        None => InviteUse::Unknown,
                        Some((Some(_),)) => InviteUse::AlreadyUsed,
                        Some((None,)) => InviteUse::Expired,
                    });
                };
                let invite = Invite::try_from(row)?;
                sqlx::query(
                    "UPDATE accounts SET owner_tg_id = $3, language = $4, \
                     unenrolled_alerted_at = NULL WHERE router = $1 AND name = $2",
                )
                .bind(invite.router.as_str())
                .bind(invite.account.as_str())
                .bind(presenter)
                .bind(language)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(InviteUse::Enrolled(invite))
            }

            async fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
                self.audits.append(e.clone()).await
            }

            async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, at, actor, action, router, account, address, session_id, detail \
                     FROM audit \
                     WHERE ($1 IS NULL OR session_id = $1) AND ($2 IS NULL OR action = $2) \
                     AND ($3 IS NULL OR actor = $3) AND ($4 IS NULL OR account = $4) \
                     AND ($5 IS NULL OR address = $5) AND ($6 IS NULL OR at >= $6) \
                     AND ($7 IS NULL OR at < $7) AND ($8 IS NULL OR id < $8) \
                     ORDER BY id DESC LIMIT $9",
                )
                .bind(&f.session_id)
                .bind(&f.action)
                .bind(&f.actor)
                .bind(&f.account)
                .bind(&f.address)
                .bind(f.since.map(ms))
                .bind(f.until.map(ms))
                .bind(f.before_id)
                .bind(if f.limit > 0 { f.limit } else { 100 })
                .fetch_all(&self.reads)
                .await?;
                rows.into_iter().map(AuditRecord::try_from).collect()
            }

            async fn list_bans(
                &self,
                active_at: Option<DateTime<Utc>>,
                limit: i64,
                offset: i64,
            ) -> Result<Vec<Ban>, StoreError> {
                self.find_bans(&BanFilter {
                    active_at,
                    network: None,
                    limit,
                    offset,
                })
                .await
            }

            async fn find_bans(&self, f: &BanFilter) -> Result<Vec<Ban>, StoreError> {
                let networks = f.network.map(|m| m.candidates());
                let first_after = 2 + networks.as_ref().map_or(0, Vec::len);
                let sql = format!(
                    "SELECT id, network, reason, source, created_by, created_at, until, \
                     lifted_at, lifted_by FROM bans WHERE {} \
                     ORDER BY id DESC LIMIT ${} OFFSET ${}",
                    $crate::storage::sql::ban_filter(networks.as_ref().map(Vec::len)),
                    first_after,
                    first_after + 1
                );
                // Only placeholders' numbers are written into the text;
                // every value is bound.
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(f.active_at.map(ms));
                for network in networks.into_iter().flatten() {
                    query = query.bind(network);
                }
                let rows: Vec<BanRow> = query
                    .bind(if f.limit > 0 { f.limit } else { 100 })
                    .bind(f.offset.max(0))
                    .fetch_all(&self.reads)
                    .await?;
                rows.into_iter().map(Ban::try_from).collect()
            }

            async fn count_found_bans(&self, f: &BanFilter) -> Result<i64, StoreError> {
                let networks = f.network.map(|m| m.candidates());
                let sql = format!(
                    "SELECT COUNT(*) FROM bans WHERE {}",
                    $crate::storage::sql::ban_filter(networks.as_ref().map(Vec::len))
                );
                // As in find_bans: only placeholders' numbers in the text.
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(f.active_at.map(ms));
                for network in networks.into_iter().flatten() {
                    query = query.bind(network);
                }
                let (n,): (i64,) = query.fetch_one(&self.reads).await?;
                Ok(n)
            }

            async fn ban(&self, id: i64) -> Result<Option<Ban>, StoreError> {
                let row: Option<BanRow> = sqlx::query_as(
                    "SELECT id, network, reason, source, created_by, created_at, until, \
                     lifted_at, lifted_by FROM bans WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.reads)
                .await?;
                row.map(Ban::try_from).transpose()
            }

            async fn list_sessions(&self, f: &SessionFilter) -> Result<Vec<Session>, StoreError> {
                let sql = concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE ",
                    session_filter!(),
                    " ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6"
                );
                let rows: Vec<SessionRow> = sqlx::query_as(sql)
                    .bind(f.state.map(|s| s.as_str()))
                    .bind(f.router.as_ref().map(|r| r.as_str()))
                    .bind(f.account.as_ref().map(|a| a.as_str()))
                    .bind(f.open.then_some(true))
                    .bind(if f.limit > 0 { f.limit } else { 100 })
                    .bind(f.offset.max(0))
                    .fetch_all(&self.reads)
                    .await?;
                rows.into_iter().map(Session::try_from).collect()
            }

            async fn count_sessions(&self, f: &SessionFilter) -> Result<i64, StoreError> {
                let sql = concat!("SELECT COUNT(*) FROM sessions WHERE ", session_filter!());
                let (n,): (i64,) = sqlx::query_as(sql)
                    .bind(f.state.map(|s| s.as_str()))
                    .bind(f.router.as_ref().map(|r| r.as_str()))
                    .bind(f.account.as_ref().map(|a| a.as_str()))
                    .bind(f.open.then_some(true))
                    .fetch_one(&self.reads)
                    .await?;
                Ok(n)
            }

            async fn list_accounts(
                &self,
                router: Option<&RouterName>,
            ) -> Result<Vec<Account>, StoreError> {
                self.account_page(router, i64::MAX, 0).await
            }

            async fn account_page(
                &self,
                router: Option<&RouterName>,
                limit: i64,
                offset: i64,
            ) -> Result<Vec<Account>, StoreError> {
                let rows: Vec<AccountRow> = sqlx::query_as(
                    "SELECT router, name, owner_tg_id, language, is_admin, locked, \
                     unenrolled_alerted_at, created_at FROM accounts \
                     WHERE ($1 IS NULL OR router = $1) ORDER BY router, name LIMIT $2 OFFSET $3",
                )
                .bind(router.map(|r| r.as_str()))
                .bind(limit.max(0))
                .bind(offset.max(0))
                .fetch_all(&self.reads)
                .await?;
                rows.into_iter().map(Account::try_from).collect()
            }

            async fn count_accounts(&self, router: Option<&RouterName>) -> Result<i64, StoreError> {
                let (n,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM accounts WHERE ($1 IS NULL OR router = $1)")
                        .bind(router.map(|r| r.as_str()))
                        .fetch_one(&self.reads)
                        .await?;
                Ok(n)
            }

            async fn record_router_health(
                &self,
                router: &RouterName,
                up: bool,
                at: DateTime<Utc>,
            ) -> Result<Option<$crate::storage::HealthChange>, StoreError> {
                let seen: Option<(Option<String>, Option<i64>)> =
                    sqlx::query_as("SELECT health, health_since FROM routers WHERE name = $1")
                        .bind(router.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                let Some((health, since)) = seen else {
                    return Ok(None);
                };
                let now = if up { "up" } else { "down" };
                if health.as_deref() == Some(now) {
                    return Ok(None);
                }
                // Only the process whose UPDATE still finds the old state
                // reports the change.
                let done = sqlx::query(
                    "UPDATE routers SET health = $2, health_since = $3 \
                     WHERE name = $1 AND COALESCE(health, '') = COALESCE($4, '')",
                )
                .bind(router.as_str())
                .bind(now)
                .bind(ms(at))
                .bind(health.as_deref())
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                Ok(Some($crate::storage::HealthChange {
                    was_up: health.map(|h| h == "up"),
                    since: since.and_then(DateTime::from_timestamp_millis),
                }))
            }

            async fn expiry_jobs(
                &self,
                queue: &str,
                due_before: DateTime<Utc>,
            ) -> Result<(i64, i64), StoreError> {
                let (queued, late): (i64, i64) = sqlx::query_as($jobs_sql)
                    .bind(queue)
                    .bind(due_before.timestamp())
                    .fetch_one(&self.jobs)
                    .await?;
                Ok((queued, late))
            }

            async fn prune_finished_jobs(
                &self,
                queue: &str,
                finished_before: DateTime<Utc>,
                limit: i64,
            ) -> Result<u64, StoreError> {
                let done = sqlx::query($prune_jobs_sql)
                    .bind(queue)
                    .bind(finished_before.timestamp())
                    .bind(limit)
                    .execute(&self.jobs)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn count_sessions_by_state(&self) -> Result<Vec<(SessionState, i64)>, StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT state, COUNT(*) FROM sessions GROUP BY state ORDER BY state")
                        .fetch_all(&self.reads)
                        .await?;
                rows.into_iter()
                    .map(|(state, n)| Ok((parsed("sessions", "state", &state)?, n)))
                    .collect()
            }
        }
    };
}

pub(super) use impl_store;

/// Names the sqlx database type behind a store, for the macro's helpers,
/// and what a backend does its own way.
pub trait Backend {
    type Db: sqlx::Database;

    /// The group that asks connects' facts together, for a backend whose
    /// every statement is a round trip; none (the default) reads each
    /// connect's alone.
    fn connect_reads(&self) -> Option<&super::group::Group<ConnectAsk, super::ConnectFacts>> {
        None
    }

    /// The connection a connect's pending session is inserted on alone
    /// ([`super::Store::insert_plain_pending`]): one whose commit does not
    /// wait for more than the backend's pending inserts wait for.
    fn plain_pending_pool(&self) -> &sqlx::Pool<Self::Db>;
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_word_is_spelled_in_every_ascii_case() {
        assert_eq!(super::ascii_cases("en"), ["en", "eN", "En", "EN"]);
        assert_eq!(super::ascii_cases("r1"), ["r1", "R1"]);
    }
}
