-- Imported plays keep their place in the imported session while they wait for their track, so a
-- later match lands in the right session at the right position. Nothing wrote `unmatched_plays`
-- before this version, so the table is recreated rather than altered.

DROP TABLE unmatched_plays;
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
    end_reason  TEXT    NOT NULL,
    session_id  INTEGER NOT NULL REFERENCES sessions (id),
    position    INTEGER NOT NULL
);
CREATE INDEX unmatched_match_key ON unmatched_plays (match_key);
