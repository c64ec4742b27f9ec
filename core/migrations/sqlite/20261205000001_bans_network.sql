-- A connect looks its caller up among the bans by the names of the
-- networks that cover it (one per prefix length); this index answers that
-- without reading every ban in force. It replaces bans_active, on the end
-- of bans in force: while its statistics lag behind new bans (in a storm,
-- or after many bans are added at once), PostgreSQL chose that index for
-- the lookup and read every ban in force; a PostgreSQL storm's slowest ban
-- came 410-480 ms after its strike with both indexes, 250-340 ms with this
-- one alone. What used it besides (the reconciler's read of the bans in
-- force, every few minutes, and the gauge of bans in force) reads the
-- table instead.
DROP INDEX bans_active;
CREATE INDEX bans_network ON bans(network);
