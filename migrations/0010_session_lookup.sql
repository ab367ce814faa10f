-- A play starting joins the session last active (imports add sessions with older times and
-- newer ids) at the position after every play of it, imported ones of tracks the library lacks
-- included: both are looked up once per play.
CREATE INDEX sessions_last_at ON sessions (last_at);
CREATE INDEX unmatched_session_position ON unmatched_plays (session_id, position);
