//! Likes and bans on disk: set or clear one, read them all.

use rusqlite::{params, Connection};

use crate::marks::{Mark, Marks};

fn table(mark: Mark) -> (&'static str, &'static str) {
    match mark {
        Mark::Like => ("likes", "liked_at"),
        Mark::Ban => ("bans", "banned_at"),
    }
}

/// Sets (keeping the first time it was set) or clears `mark` on a track.
pub(crate) fn set(conn: &Connection, track_id: i64, mark: Mark, on: bool, now_ms: i64) -> rusqlite::Result<()> {
    let (table, column) = table(mark);
    if on {
        conn.execute(
            &format!("INSERT OR IGNORE INTO {table} (track_id, {column}) VALUES (?1, ?2)"),
            params![track_id, now_ms],
        )?;
    } else {
        conn.execute(&format!("DELETE FROM {table} WHERE track_id = ?1"), [track_id])?;
    }
    Ok(())
}

/// Every like and ban.
pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Marks> {
    let read = |sql: &str| -> rusqlite::Result<_> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    };
    Ok(Marks {
        liked: read("SELECT track_id, liked_at FROM likes")?,
        banned: read("SELECT track_id, banned_at FROM bans")?,
    })
}
