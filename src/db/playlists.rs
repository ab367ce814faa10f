//! Saved playlists: create one with its entries, list them, read one, delete one.

use rusqlite::{params, Connection, OptionalExtension};

use super::tracks::{path_blob, path_from_blob};
use crate::playlist::Entry;

/// A playlist as listed: its name, how many entries, how many of them the library has now.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct PlaylistSummary {
    pub name: String,
    pub entries: usize,
    pub in_library: usize,
}

/// Creates playlist `name` with `entries`, in one transaction; `None` when the name is taken.
pub(crate) fn create(conn: &mut Connection, name: &str, entries: &[Entry], now: i64) -> rusqlite::Result<Option<i64>> {
    let tx = conn.transaction()?;
    let taken = tx
        .query_row("SELECT 1 FROM playlists WHERE name = ?1", [name], |_| Ok(()))
        .optional()?
        .is_some();
    if taken {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO playlists (name, created_at, updated_at) VALUES (?1, ?2, ?2)",
        params![name, now],
    )?;
    let id = tx.last_insert_rowid();
    {
        let mut insert = tx.prepare(
            "INSERT INTO playlist_entries (playlist_id, position, path, title, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (position, entry) in entries.iter().enumerate() {
            insert.execute(params![
                id,
                position as i64,
                path_blob(&entry.path),
                entry.title,
                entry.duration_ms.map(|d| d as i64)
            ])?;
        }
    }
    tx.commit()?;
    Ok(Some(id))
}

/// Every playlist, by name.
pub(crate) fn list(conn: &Connection) -> rusqlite::Result<Vec<PlaylistSummary>> {
    let mut stmt = conn.prepare(
        "SELECT p.name, count(e.position),
                count(t.id)
         FROM playlists p
              LEFT JOIN playlist_entries e ON e.playlist_id = p.id
              LEFT JOIN tracks t ON t.path = e.path AND t.status = 'ok'
         GROUP BY p.id ORDER BY p.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PlaylistSummary {
            name: r.get(0)?,
            entries: r.get::<_, i64>(1)? as usize,
            in_library: r.get::<_, i64>(2)? as usize,
        })
    })?;
    rows.collect()
}

/// The entries of playlist `name` in order, or `None` when there is no such playlist.
pub(crate) fn entries(conn: &Connection, name: &str) -> rusqlite::Result<Option<Vec<Entry>>> {
    let Some(id) = conn
        .query_row("SELECT id FROM playlists WHERE name = ?1", [name], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare("SELECT path, title, duration_ms FROM playlist_entries WHERE playlist_id = ?1 ORDER BY position")?;
    let rows = stmt.query_map([id], |r| {
        Ok(Entry {
            path: path_from_blob(r.get(0)?),
            line: 0,
            title: r.get(1)?,
            duration_ms: r.get::<_, Option<i64>>(2)?.map(|d| d.max(0) as u64),
        })
    })?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map(Some)
}
