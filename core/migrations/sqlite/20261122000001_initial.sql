-- tgate's first schema (SQLite). Times are Unix milliseconds (INTEGER) so the
-- same queries run unchanged on PostgreSQL, whose schema mirrors this one.
-- Applied migrations are never edited; changes go in a new file.

-- Routers come from the configuration; a row exists so that accounts,
-- sessions and audit entries can name them and health can be recorded.
CREATE TABLE routers (
    name        TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);

-- A VPN account (PPP secret) on a router and the Telegram user who owns it.
CREATE TABLE accounts (
    router                 TEXT NOT NULL REFERENCES routers(name),
    name                   TEXT NOT NULL,
    owner_tg_id            INTEGER,
    language               TEXT,
    is_admin               INTEGER NOT NULL DEFAULT 0,
    locked                 INTEGER NOT NULL DEFAULT 0,
    unenrolled_alerted_at  INTEGER,
    created_at             INTEGER NOT NULL,
    PRIMARY KEY (router, name)
);
CREATE INDEX accounts_owner ON accounts(owner_tg_id);

-- One-time enrollment codes (t.me deep links).
CREATE TABLE invites (
    code        TEXT PRIMARY KEY,
    router      TEXT NOT NULL,
    account     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    used_by     INTEGER,
    FOREIGN KEY (router, account) REFERENCES accounts(router, name)
);

-- A VPN connect and what became of it.
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    router          TEXT NOT NULL REFERENCES routers(name),
    account         TEXT NOT NULL,
    caller_id       TEXT NOT NULL,
    remote_address  TEXT NOT NULL,
    local_address   TEXT,
    service         TEXT NOT NULL,
    interface       TEXT,
    chat_id         INTEGER,
    state           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    deadline        INTEGER NOT NULL,
    decided_at      INTEGER,
    decided_by      TEXT,
    closed_at       INTEGER,
    message_id      INTEGER
);
-- At most one prompt pending per account (SPEC §4, MFA bombing); the index
-- makes that hold across processes without a lock.
CREATE UNIQUE INDEX sessions_one_pending ON sessions(router, account) WHERE state = 'pending';
CREATE INDEX sessions_state_deadline ON sessions(state, deadline);
CREATE INDEX sessions_address ON sessions(router, remote_address);

-- A strike: an expired, refused or blocked connect, counted per caller.
CREATE TABLE strikes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    caller_id   TEXT NOT NULL,
    router      TEXT NOT NULL,
    account     TEXT NOT NULL,
    session_id  TEXT,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX strikes_caller_at ON strikes(caller_id, at);

-- Bans. The database is the truth; the routers' ban lists mirror it.
CREATE TABLE bans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    network     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    until       INTEGER NOT NULL,
    lifted_at   INTEGER,
    lifted_by   TEXT
);
CREATE INDEX bans_active ON bans(until) WHERE lifted_at IS NULL;

-- Append-only record of every event, decision, router command and admin action.
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    router      TEXT,
    account     TEXT,
    address     TEXT,
    session_id  TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_at ON audit(at);
