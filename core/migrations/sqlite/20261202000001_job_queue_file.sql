-- The job queue keeps its tables in a file of its own beside this one
-- (tgate.db-jobs beside tgate.db). Jobs an earlier version left here are
-- not run: the worker's sweep expires their sessions once 2 s overdue.
DROP TABLE IF EXISTS Jobs;
DROP TABLE IF EXISTS Workers;
