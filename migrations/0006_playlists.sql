-- Saved playlists. An entry names its file as raw path bytes, so it survives a rescan and an entry
-- whose file is not in the library yet is kept: it plays once a scan adds the file.

CREATE TABLE playlists (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE playlist_entries (
    playlist_id INTEGER NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    path        BLOB    NOT NULL,
    -- What an M3U's #EXTINF said of the entry, kept for files the library does not have.
    title       TEXT,
    duration_ms INTEGER,
    PRIMARY KEY (playlist_id, position)
);
