-- Plays brought in from other services' histories.
-- `import_key` identifies an imported play (format, time, artist, title) so that importing
-- the same file twice adds nothing; local plays leave it NULL.

ALTER TABLE plays ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX plays_import_key ON plays (import_key) WHERE import_key IS NOT NULL;

-- Imported plays whose track is not (yet) in the library; matched when a scan adds it.
CREATE TABLE unmatched_plays (
    id          INTEGER PRIMARY KEY,
    import_key  TEXT    NOT NULL UNIQUE,
    format      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER NOT NULL,
    played_ms   INTEGER NOT NULL,
    artist      TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    album       TEXT,
    match_key   TEXT    NOT NULL,
    skipped     INTEGER NOT NULL,
    end_reason  TEXT    NOT NULL
);
CREATE INDEX unmatched_match_key ON unmatched_plays (match_key);
