//! The listener's timing shift of a track's synced lyrics: read one, set one.

use rusqlite::{params, Connection, OptionalExtension};

/// The shift of track `track_id`'s lyrics in milliseconds (0 when never set).
pub(crate) fn shift(conn: &Connection, track_id: i64) -> rusqlite::Result<i64> {
    Ok(conn
        .query_row(
            "SELECT shift_ms FROM lyrics_shifts WHERE track_id = ?1",
            [track_id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Sets the shift of track `track_id`'s lyrics (0 removes it).
pub(crate) fn set_shift(conn: &Connection, track_id: i64, shift_ms: i64) -> rusqlite::Result<()> {
    if shift_ms == 0 {
        conn.execute("DELETE FROM lyrics_shifts WHERE track_id = ?1", [track_id])?;
    } else {
        conn.execute(
            "INSERT INTO lyrics_shifts (track_id, shift_ms) VALUES (?1, ?2)
             ON CONFLICT (track_id) DO UPDATE SET shift_ms = excluded.shift_ms",
            params![track_id, shift_ms],
        )?;
    }
    Ok(())
}
