//! Matching waiting imported plays once their track is in the library ([`match_unmatched`]).
//!
//! Kept apart from the scanner, which knows files and tags only: the scan command and the TUI's
//! scan worker call it after a scan.

use rusqlite::params;

use super::matching::Matcher;
use super::LogIoError;
use crate::db::Database;

/// Moves every unmatched imported play whose track the library now has into `plays`, in the
/// session and at the position it was imported with. Returns how many moved.
pub(crate) fn match_unmatched(db: &mut Database) -> Result<usize, LogIoError> {
    let tx = db.conn_mut().transaction()?;
    let waiting: i64 = tx.query_row("SELECT count(*) FROM unmatched_plays", [], |r| r.get(0))?;
    if waiting == 0 {
        return Ok(0);
    }
    let matcher = Matcher::load(&tx)?;
    let mut found = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT id, match_key, album FROM unmatched_plays ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let key: String = row.get(1)?;
            let album: Option<String> = row.get(2)?;
            if let Some(track) = matcher.find(&key, album.as_deref()) {
                found.push((row.get::<_, i64>(0)?, track));
            }
        }
    }
    {
        let mut insert = tx.prepare(
            "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                                end_reason, skipped, source, import_key)
             SELECT ?2, session_id, position, started_at, ended_at, played_ms, ?3, end_reason, skipped, 'import',
                    import_key
             FROM unmatched_plays WHERE id = ?1",
        )?;
        let mut delete = tx.prepare("DELETE FROM unmatched_plays WHERE id = ?1")?;
        for (id, track) in &found {
            insert.execute(params![id, track.track_id, track.duration_ms.map(|d| d as i64)])?;
            delete.execute([id])?;
        }
    }
    tx.commit()?;
    Ok(found.len())
}
