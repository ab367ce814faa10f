-- What the listener said of a track, and when: a like ("more like this") and a ban ("never
-- queue this again"). An unlike or unban deletes the row.

CREATE TABLE likes (
    track_id INTEGER PRIMARY KEY REFERENCES tracks (id),
    liked_at INTEGER NOT NULL
);

CREATE TABLE bans (
    track_id INTEGER PRIMARY KEY REFERENCES tracks (id),
    banned_at INTEGER NOT NULL
);
