-- An imported play joins the logged session it falls in or beside, found by the sessions that
-- start before it ends, newest first: without this index every lookup read the whole table.
CREATE INDEX IF NOT EXISTS sessions_started_at ON sessions (started_at);
