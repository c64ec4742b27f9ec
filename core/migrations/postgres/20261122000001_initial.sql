-- tgate's first schema (PostgreSQL). Times are Unix milliseconds (BIGINT) so the
-- same queries run unchanged on SQLite, whose schema mirrors this one.
-- Applied migrations are never edited; changes go in a new file.

-- Routers come from the configuration; a row exists so that accounts,
-- sessions and audit entries can name them and health can be recorded.
CREATE TABLE routers (
    name        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

-- A VPN account (PPP secret) on a router and the Telegram user who owns it.
CREATE TABLE accounts (
    router                 TEXT NOT NULL REFERENCES routers(name),
    name                   TEXT NOT NULL,
    owner_tg_id            BIGINT,
    language               TEXT,
    is_admin               BOOLEAN NOT NULL DEFAULT FALSE,
    locked                 BOOLEAN NOT NULL DEFAULT FALSE,
    unenrolled_alerted_at  BIGINT,
    created_at             BIGINT NOT NULL,
    PRIMARY KEY (router, name)
);
CREATE INDEX accounts_owner ON accounts(owner_tg_id);

-- One-time enrollment codes (t.me deep links).
CREATE TABLE invites (
    code        TEXT PRIMARY KEY,
    router      TEXT NOT NULL,
    account     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    used_by     BIGINT,
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
    chat_id         BIGINT,
    state           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    deadline        BIGINT NOT NULL,
    decided_at      BIGINT,
    decided_by      TEXT,
    closed_at       BIGINT,
    message_id      BIGINT
);
-- At most one prompt pending per account (SPEC §4, MFA bombing); the index
-- makes that hold across processes without a lock.
CREATE UNIQUE INDEX sessions_one_pending ON sessions(router, account) WHERE state = 'pending';
CREATE INDEX sessions_state_deadline ON sessions(state, deadline);
CREATE INDEX sessions_address ON sessions(router, remote_address);

-- A strike: an expired, refused or blocked connect, counted per caller.
CREATE TABLE strikes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    caller_id   TEXT NOT NULL,
    router      TEXT NOT NULL,
    account     TEXT NOT NULL,
    session_id  TEXT,
    kind        TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX strikes_caller_at ON strikes(caller_id, at);

-- Bans. The database is the truth; the routers' ban lists mirror it.
CREATE TABLE bans (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    network     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    until       BIGINT NOT NULL,
    lifted_at   BIGINT,
    lifted_by   TEXT
);
CREATE INDEX bans_active ON bans(until) WHERE lifted_at IS NULL;

-- Append-only record of every event, decision, router command and admin action.
CREATE TABLE audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    router      TEXT,
    account     TEXT,
    address     TEXT,
    session_id  TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_at ON audit(at);
