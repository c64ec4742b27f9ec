-- The open session at a tunnel address (a connect's read, a hang-up's
-- close) and a router's open sessions (the reconciler) are found among the
-- open sessions only. Through sessions_address they were found among every
-- session the address ever had, and a PPP pool hands the same addresses out
-- again and again while closed sessions are kept. Nothing else searched
-- sessions_address, so it goes rather than be written on every change.
CREATE INDEX sessions_open ON sessions(router, remote_address)
    WHERE state IN ('pending', 'confirmed');
DROP INDEX sessions_address;
