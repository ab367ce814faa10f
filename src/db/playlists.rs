//! Saved playlists ([`PlaylistSummary`]): create one with its entries, list them, read one,
//! append to one, rename one, remove or reorder its entries, delete one; and the smart ones'
//! tracks ([`smart_tracks`]).

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;

use rusqlite::{params, Connection, OptionalExtension};

use super::tracks::{each_track_in_id_order, path_blob, path_from_blob, playable_track_at, TrackRows};
use crate::playlist::{Entry, Smart};
use crate::track::{name_key, same_name, Track};

/// A playlist as listed: its name, how many entries, how many of them the library has now.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct PlaylistSummary {
    pub name: String,
    pub entries: usize,
    pub in_library: usize,
}

/// The saved playlists' names that are `name` in any case ([`same_name`]), the one written so
/// first.
fn names_like(conn: &Connection, name: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM playlists ORDER BY name = ?1 DESC, name")?;
    let names = stmt.query_map([name], |r| r.get::<_, String>(0))?;
    let mut like = Vec::new();
    for saved in names {
        let saved = saved?;
        if same_name(&saved, name) {
            like.push(saved);
        }
    }
    Ok(like)
}

/// The name, as saved, of the playlist `name` names: the one of that name, else the only one
/// whose name differs from it in case ("road trip" for "Road Trip"); `None` when there is none,
/// or more than one (saved before names were one in any case).
pub(crate) fn saved_name(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    let like = names_like(conn, name)?;
    Ok(match &like[..] {
        [exact, ..] if exact == name => Some(exact.clone()),
        [only] => Some(only.clone()),
        _ => None,
    })
}

/// A saved playlist other than `except` whose name is `name` in any case, if one is: two names
/// that differ only in case would be one list to the listener.
pub(crate) fn name_taken(conn: &Connection, name: &str, except: Option<&str>) -> rusqlite::Result<Option<String>> {
    Ok(names_like(conn, name)?
        .into_iter()
        .find(|saved| Some(saved.as_str()) != except))
}

/// Creates playlist `name` with `entries`, in one transaction; `None` when the name is taken
/// (in any case).
pub(crate) fn create(conn: &mut Connection, name: &str, entries: &[Entry], now: i64) -> rusqlite::Result<Option<i64>> {
    let tx = conn.transaction()?;
    if name_taken(&tx, name, None)?.is_some() {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO playlists (name, created_at, updated_at) VALUES (?1, ?2, ?2)",
        params![name, now],
    )?;
    let id = tx.last_insert_rowid();
    insert_entries(&tx, id, 0, entries)?;
    tx.commit()?;
    Ok(Some(id))
}

/// Writes `entries` into playlist `id` from position `first` on.
fn insert_entries(conn: &Connection, id: i64, first: i64, entries: &[Entry]) -> rusqlite::Result<()> {
    let mut insert = conn.prepare(
        "INSERT INTO playlist_entries (playlist_id, position, path, title, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (offset, entry) in entries.iter().enumerate() {
        insert.execute(params![
            id,
            first + offset as i64,
            path_blob(&entry.path),
            entry.title,
            entry.duration_ms.map(|d| d as i64)
        ])?;
    }
    Ok(())
}

/// Adds `entries` to the end of playlist `name` (see [`saved_name`]), creating it when new, in
/// one transaction.
pub(crate) fn append(conn: &mut Connection, name: &str, entries: &[Entry], now: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let name = saved_name(&tx, name)?.unwrap_or_else(|| name.to_owned());
    let name = name.as_str();
    tx.execute(
        "INSERT INTO playlists (name, created_at, updated_at) VALUES (?1, ?2, ?2)
         ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
        params![name, now],
    )?;
    let id: i64 = tx.query_row("SELECT id FROM playlists WHERE name = ?1", [name], |r| r.get(0))?;
    let next: i64 = tx.query_row(
        "SELECT coalesce(max(position) + 1, 0) FROM playlist_entries WHERE playlist_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    insert_entries(&tx, id, next, entries)?;
    tx.commit()
}

/// Renames playlist `from` to `to`: `Ok(false)` when there is no `from`; an error when `to` is
/// taken (the UNIQUE name).
pub(crate) fn rename(conn: &Connection, from: &str, to: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE playlists SET name = ?2, updated_at = ?3 WHERE name = ?1",
        params![from, to, now],
    )? > 0)
}

/// Deletes playlist `name` and its entries; false when there is none.
pub(crate) fn delete(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM playlists WHERE name = ?1", [name])? > 0)
}

/// Removes the `index`-th entry (0-based, in order) of playlist `name`; false when there is
/// no such entry. The others keep their order (positions may have gaps).
pub(crate) fn remove_entry(conn: &mut Connection, name: &str, index: usize, now: i64) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let Some((id, position)) = entry_at(&tx, name, index)? else {
        return Ok(false);
    };
    tx.execute(
        "DELETE FROM playlist_entries WHERE playlist_id = ?1 AND position = ?2",
        params![id, position],
    )?;
    touch(&tx, id, now)?;
    tx.commit()?;
    Ok(true)
}

/// Swaps the `a`-th and `b`-th entries of playlist `name`; false when either is missing.
pub(crate) fn swap_entries(conn: &mut Connection, name: &str, a: usize, b: usize, now: i64) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let (Some((id, pa)), Some((_, pb))) = (entry_at(&tx, name, a)?, entry_at(&tx, name, b)?) else {
        return Ok(false);
    };
    // Through a free position, as (playlist_id, position) is the key.
    let mut set = tx.prepare("UPDATE playlist_entries SET position = ?3 WHERE playlist_id = ?1 AND position = ?2")?;
    set.execute(params![id, pa, -1])?;
    set.execute(params![id, pb, pa])?;
    set.execute(params![id, -1, pb])?;
    drop(set);
    touch(&tx, id, now)?;
    tx.commit()?;
    Ok(true)
}

/// The playlist id and the stored position of the `index`-th entry of playlist `name`.
fn entry_at(conn: &Connection, name: &str, index: usize) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.query_row(
        "SELECT p.id, e.position FROM playlists p JOIN playlist_entries e ON e.playlist_id = p.id
         WHERE p.name = ?1 ORDER BY e.position LIMIT 1 OFFSET ?2",
        params![name, index as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

fn touch(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE playlists SET updated_at = ?2 WHERE id = ?1", params![id, now])?;
    Ok(())
}

/// Every playlist, by name as the lists order names (accents and case aside).
pub(crate) fn list(conn: &Connection) -> rusqlite::Result<Vec<PlaylistSummary>> {
    let mut stmt = conn.prepare(
        "SELECT p.name, count(e.position),
                count(t.id)
         FROM playlists p
              LEFT JOIN playlist_entries e ON e.playlist_id = p.id
              LEFT JOIN tracks t ON t.path = e.path AND t.status = 'ok'
         GROUP BY p.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PlaylistSummary {
            name: r.get(0)?,
            entries: r.get::<_, i64>(1)? as usize,
            in_library: r.get::<_, i64>(2)? as usize,
        })
    })?;
    let mut all = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    all.sort_by(|a, b| crate::track::name_order(&a.name, &b.name).then_with(|| a.name.cmp(&b.name)));
    Ok(all)
}

/// The library tracks of a smart playlist, in its order, from the log as it is at `now_ms`.
/// Each ranking keeps the 100 first; "liked" and "never played" keep every such track.
pub(crate) fn smart_tracks(conn: &Connection, smart: Smart, now_ms: i64) -> rusqlite::Result<Vec<i64>> {
    const DAY_MS: i64 = 86_400_000;
    let ranked = |having: &str, count: &str| {
        format!(
            "SELECT t.id FROM plays p JOIN tracks t ON t.id = p.track_id
             WHERE t.status = 'ok' AND p.end_reason IS NOT NULL
             GROUP BY t.id HAVING {having}
             ORDER BY {count} DESC, max(p.started_at) DESC, t.id LIMIT 100"
        )
    };
    let sql = match smart {
        Smart::MostFinished => ranked(
            "sum(p.end_reason = 'finished' AND NOT p.skipped) > 0",
            "sum(p.end_reason = 'finished' AND NOT p.skipped)",
        ),
        Smart::MostSkipped => ranked("sum(p.skipped) > 0", "sum(p.skipped)"),
        Smart::SkippedEarly => ranked(
            "sum(p.skipped AND p.played_ms < 10000) > 0",
            "sum(p.skipped AND p.played_ms < 10000)",
        ),
        Smart::Rediscover => ranked(
            &format!(
                "sum(p.end_reason = 'finished' AND NOT p.skipped) >= 3 AND max(p.started_at) < {}",
                now_ms.saturating_sub(90 * DAY_MS)
            ),
            "sum(p.end_reason = 'finished' AND NOT p.skipped)",
        ),
        Smart::NeverPlayed => return never_played(conn),
        Smart::Liked => "SELECT t.id FROM likes l JOIN tracks t ON t.id = l.track_id
                         WHERE t.status = 'ok'
                         ORDER BY l.liked_at DESC, t.id"
            .to_owned(),
    };
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// The playable tracks of songs never played and not banned, by path: a song is its artist and
/// title (in any case), so a second file of a song heard is no new song, and a ban of one file
/// is of the song; a track without an artist is only itself.
fn never_played(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let ids = |sql: &str| -> rusqlite::Result<HashSet<i64>> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect()
    };
    let played = ids("SELECT DISTINCT track_id FROM plays")?;
    let banned = ids("SELECT track_id FROM bans")?;
    let song = |track: &Track| {
        track
            .artist
            .as_deref()
            .map(|artist| (name_key(artist), name_key(&track.title)))
    };
    let mut heard_or_banned = HashSet::new();
    let mut unheard = Vec::new();
    for rows in [TrackRows::Playable, TrackRows::NotPlayable] {
        each_track_in_id_order(conn, rows, |track| {
            if played.contains(&track.id) || banned.contains(&track.id) {
                heard_or_banned.extend(song(&track));
            } else if rows == TrackRows::Playable {
                unheard.push(track);
            }
        })?;
    }
    let mut never: Vec<Track> = unheard
        .into_iter()
        .filter(|t| song(t).is_none_or(|song| !heard_or_banned.contains(&song)))
        .collect();
    never.sort_by(|a, b| a.path.as_os_str().as_bytes().cmp(b.path.as_os_str().as_bytes()));
    Ok(never.into_iter().map(|t| t.id).collect())
}

/// Each entry with the playable library track it names (`None` for a file the library does not
/// have, or could not read at its last scan: it would only fail when it came up).
pub(crate) fn resolve(conn: &Connection, entries: Vec<Entry>) -> rusqlite::Result<Vec<(Entry, Option<Track>)>> {
    entries
        .into_iter()
        .map(|entry| {
            let track = playable_track_at(conn, &entry.path)?;
            Ok((entry, track))
        })
        .collect()
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
