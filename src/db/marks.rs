//! Likes and bans on disk: set or clear one, read them all.

use rusqlite::{params, Connection};

use crate::marks::{Mark, MarkChange, Marks};

fn table(mark: Mark) -> (&'static str, &'static str) {
    match mark {
        Mark::Like => ("likes", "liked_at"),
        Mark::Ban => ("bans", "banned_at"),
    }
}

/// Sets (keeping the first time it was set) or clears `mark` on a track; says whether that
/// changed anything, and whether it took the other mark back (migration 0011's triggers: a mark
/// older than the other mark of the track is dropped, a newer one takes the other back).
pub(crate) fn set(conn: &Connection, track_id: i64, mark: Mark, on: bool, now_ms: i64) -> rusqlite::Result<MarkChange> {
    let (table, column) = table(mark);
    let before = conn.total_changes();
    let changed = if on {
        conn.execute(
            &format!("INSERT OR IGNORE INTO {table} (track_id, {column}) VALUES (?1, ?2)"),
            params![track_id, now_ms],
        )?
    } else {
        conn.execute(&format!("DELETE FROM {table} WHERE track_id = ?1"), [track_id])?
    };
    // The rows a trigger deleted count in the connection's total, not in the statement's own.
    let by_triggers = conn.total_changes() - before - changed as u64;
    Ok(MarkChange {
        changed: changed > 0,
        took_back_other: by_triggers > 0,
    })
}

/// A like or ban with the tags of its track, as an export writes it.
pub(crate) struct MarkedTrack {
    pub mark: Mark,
    pub at_ms: i64,
    /// The track's artist, else its album artist, as tracks are matched by.
    pub artist: Option<String>,
    pub title: String,
    pub album: Option<String>,
}

/// The likes and bans given in `[since, until)` (Unix ms), oldest first.
pub(crate) fn marked_tracks(conn: &Connection, since: i64, until: i64) -> rusqlite::Result<Vec<MarkedTrack>> {
    let mut stmt = conn.prepare(
        "SELECT m.mark, m.at, coalesce(t.artist, t.album_artist), t.title, t.album FROM (
             SELECT track_id, 'like' AS mark, liked_at AS at FROM likes
             UNION ALL
             SELECT track_id, 'ban', banned_at FROM bans
         ) AS m JOIN tracks AS t ON t.id = m.track_id
         WHERE m.at >= ?1 AND m.at < ?2
         ORDER BY m.at, t.id",
    )?;
    let rows = stmt.query_map(params![since, until], |r| {
        Ok(MarkedTrack {
            mark: if r.get::<_, String>(0)? == "like" {
                Mark::Like
            } else {
                Mark::Ban
            },
            at_ms: r.get(1)?,
            artist: r.get(2)?,
            title: r.get(3)?,
            album: r.get(4)?,
        })
    })?;
    rows.collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Database;

    /// Adds a track to the library and returns its id.
    fn track(db: &Database, n: i64) -> i64 {
        db.conn()
            .execute(
                "INSERT INTO tracks (path, path_text, size, mtime_ns, status, title, added_at, updated_at) \
                 VALUES (?1, ?1, 1, 1, 'ok', 't', 0, 0)",
                [format!("/m/{n}.ogg")],
            )
            .unwrap();
        db.conn().last_insert_rowid()
    }

    #[test]
    fn a_track_is_liked_or_banned_and_the_mark_said_last_stands_on_disk_and_in_memory() {
        let db = Database::open_in_memory().unwrap();
        let (a, b, c) = (track(&db, 1), track(&db, 2), track(&db, 3));
        let mut memory = Marks::default();
        let mut both = |track_id, mark, at| {
            memory.set(track_id, mark, true, at);
            set(db.conn(), track_id, mark, true, at).unwrap()
        };
        let (set_alone, took_back, unchanged) = (
            MarkChange {
                changed: true,
                took_back_other: false,
            },
            MarkChange {
                changed: true,
                took_back_other: true,
            },
            MarkChange::default(),
        );
        // A ban takes a like back, and a like a ban, and each says so.
        assert_eq!(both(a, Mark::Like, 100), set_alone);
        assert_eq!(both(a, Mark::Ban, 200), took_back);
        assert_eq!(both(a, Mark::Ban, 250), unchanged);
        assert_eq!(both(b, Mark::Ban, 100), set_alone);
        assert_eq!(both(b, Mark::Like, 200), took_back);
        // A like older than the ban (an import of last year's likes) is dropped.
        assert_eq!(both(c, Mark::Ban, 300), set_alone);
        assert_eq!(both(c, Mark::Like, 50), unchanged);
        let disk = load(db.conn()).unwrap();
        assert_eq!(disk, memory);
        assert_eq!(disk.banned, [(a, 200), (c, 300)].into_iter().collect());
        assert_eq!(disk.liked, [(b, 200)].into_iter().collect());
    }

    #[test]
    fn marks_that_disagree_before_the_rule_keep_the_later_one() {
        let db = Database::open_in_memory().unwrap();
        let (a, b) = (track(&db, 1), track(&db, 2));
        db.conn()
            .execute_batch(&format!(
                "DROP TRIGGER a_like_takes_back_the_ban; DROP TRIGGER a_ban_takes_back_the_like;
                 DROP TRIGGER a_like_older_than_its_ban_is_dropped;
                 DROP TRIGGER a_ban_older_than_its_like_is_dropped;
                 INSERT INTO likes VALUES ({a}, 100), ({b}, 300);
                 INSERT INTO bans VALUES ({a}, 200), ({b}, 100);"
            ))
            .unwrap();
        db.conn()
            .execute_batch(
                include_str!("../../migrations/0011_like_or_ban.sql")
                    .split("CREATE TRIGGER")
                    .next()
                    .unwrap(),
            )
            .unwrap();
        let marks = load(db.conn()).unwrap();
        assert_eq!(marks.banned, [(a, 200)].into_iter().collect());
        assert_eq!(marks.liked, [(b, 300)].into_iter().collect());
    }
}
