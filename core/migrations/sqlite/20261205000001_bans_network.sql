-- A connect looks its caller up among the bans by the names of the
-- networks that cover it (one per prefix length); this index answers that
-- without reading every ban in force. It replaces bans_active, on the end
-- of bans in force: with statistics that lagged behind a burst of new bans,
-- PostgreSQL chose it for that lookup and then read every ban in force.
-- Otherwise only the reconciler's read of all bans in force, every few
-- minutes, used it.
DROP INDEX bans_active;
CREATE INDEX bans_network ON bans(network);
