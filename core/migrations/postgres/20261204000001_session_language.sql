-- The language a session's prompt was written in, so the prompt is edited
-- in the same language once decided without reading the account again.
-- NULL for sessions stored before this column (their edit reads the
-- account, as it used to) and for sessions that never had a prompt.
ALTER TABLE sessions ADD COLUMN language TEXT;
