-- A play can be ended from a shell through `skipless remote`: `end_source` gains 'remote'.
-- SQLite cannot change a CHECK constraint, so `plays` is rebuilt with every row and index as it
-- was; the migration runs in one transaction, so a failure leaves the old table whole.

CREATE TABLE plays_new (
    id          INTEGER PRIMARY KEY,
    track_id    INTEGER NOT NULL REFERENCES tracks (id),
    session_id  INTEGER NOT NULL REFERENCES sessions (id),
    position    INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    played_ms   INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER,
    -- NULL while the play is in progress
    end_reason  TEXT CHECK (end_reason IN
                  ('finished', 'skipped', 'previous', 'stopped', 'quit', 'error', 'interrupted')),
    skipped     INTEGER NOT NULL DEFAULT 0,
    source      TEXT    NOT NULL CHECK (source IN ('user', 'queue', 'autoplay', 'import')),
    error       TEXT,
    import_key  TEXT,
    -- Who ended a play the listener ended: the player's keys, the desktop (MPRIS), the headless
    -- player's stdin, or `skipless remote`. NULL for plays that ended by themselves.
    end_source  TEXT CHECK (end_source IN ('key', 'mpris', 'stdin', 'remote'))
);

INSERT INTO plays_new (id, track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                       end_reason, skipped, source, error, import_key, end_source)
SELECT id, track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
       end_reason, skipped, source, error, import_key, end_source
FROM plays;

DROP TABLE plays;
ALTER TABLE plays_new RENAME TO plays;

CREATE INDEX plays_started ON plays (started_at);
CREATE INDEX plays_track ON plays (track_id);
CREATE INDEX plays_session ON plays (session_id, position);
CREATE INDEX plays_open ON plays (id) WHERE end_reason IS NULL;
CREATE UNIQUE INDEX plays_import_key ON plays (import_key) WHERE import_key IS NOT NULL;
