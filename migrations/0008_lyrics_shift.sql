-- How much later (positive) or sooner the listener wants a track's synced lyrics, in
-- milliseconds, set with `[` and `]` in the player. A track without a row is not shifted.

CREATE TABLE lyrics_shifts (
    track_id INTEGER PRIMARY KEY REFERENCES tracks (id),
    shift_ms INTEGER NOT NULL
);
