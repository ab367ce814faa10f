-- Library roots, the track index, and the listening log.
-- Times are Unix milliseconds (UTC). Paths are stored as raw OS bytes so that
-- non-UTF-8 file names round-trip; `path_text` is the lossy form for display.

CREATE TABLE roots (
    id        INTEGER PRIMARY KEY,
    path      BLOB    NOT NULL UNIQUE,
    path_text TEXT    NOT NULL,
    added_at  INTEGER NOT NULL
);

CREATE TABLE tracks (
    id            INTEGER PRIMARY KEY,
    path          BLOB    NOT NULL UNIQUE,
    path_text     TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL,
    -- ok: indexed and playable; failed: could not be read (see error); gone: vanished from disk.
    status        TEXT    NOT NULL CHECK (status IN ('ok', 'failed', 'gone')),
    error         TEXT,
    title         TEXT    NOT NULL,
    artist        TEXT,
    album_artist  TEXT,
    album         TEXT,
    track_no      INTEGER,
    disc_no       INTEGER,
    year          INTEGER,
    genre         TEXT,
    duration_ms   INTEGER,
    sample_rate   INTEGER,
    channels      INTEGER,
    bitrate_kbps  INTEGER,
    has_cover     INTEGER NOT NULL DEFAULT 0,
    rg_track_gain REAL,
    rg_track_peak REAL,
    rg_album_gain REAL,
    rg_album_peak REAL,
    added_at      INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX tracks_status ON tracks (status);

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    started_at INTEGER NOT NULL,
    -- time of the last playback activity; a new session starts after the configured gap
    last_at    INTEGER NOT NULL
);

CREATE TABLE plays (
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
    error       TEXT
);
CREATE INDEX plays_started ON plays (started_at);
CREATE INDEX plays_track ON plays (track_id);
CREATE INDEX plays_session ON plays (session_id, position);
CREATE INDEX plays_open ON plays (id) WHERE end_reason IS NULL;
