-- Whether each router answered its last call ('up' or 'down', NULL before the
-- first call) and since when. Every process that talks to routers records
-- what it sees with a conditional UPDATE, so of several processes exactly one
-- wins each transition and the admins are alerted once.
ALTER TABLE routers ADD COLUMN health TEXT;
ALTER TABLE routers ADD COLUMN health_since BIGINT;
