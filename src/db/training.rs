//! The record of the recommender's training runs ([`TrainingRun`]): add one, read the latest or
//! those of a time range.

use rusqlite::{params, Connection};

use crate::summary::TrainingRun;

/// Adds a finished training run to the record.
pub(crate) fn record(conn: &Connection, run: &TrainingRun) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO training_runs (finished_at, plays_seen, new_ndcg10, old_ndcg10, transformer_kept, saved,
             train_ms, started_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            run.finished_at_ms,
            run.plays_seen as i64,
            run.new_ndcg10,
            run.old_ndcg10,
            run.transformer_kept,
            run.saved,
            run.train_ms as i64,
            run.started_by
        ],
    )?;
    Ok(())
}

/// The last `n` training runs, newest first.
pub(crate) fn latest(conn: &Connection, n: usize) -> rusqlite::Result<Vec<TrainingRun>> {
    runs(conn, "ORDER BY finished_at DESC, id DESC LIMIT ?1", params![n as i64])
}

/// The training runs that finished in `[since, until)`, oldest first.
pub(crate) fn between(conn: &Connection, since: i64, until: i64) -> rusqlite::Result<Vec<TrainingRun>> {
    runs(
        conn,
        "WHERE finished_at >= ?1 AND finished_at < ?2 ORDER BY finished_at, id",
        params![since, until],
    )
}

fn runs(conn: &Connection, filter: &str, params: impl rusqlite::Params) -> rusqlite::Result<Vec<TrainingRun>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT finished_at, plays_seen, new_ndcg10, old_ndcg10, transformer_kept, saved, train_ms, started_by
         FROM training_runs {filter}"
    ))?;
    let rows = stmt.query_map(params, |r| {
        Ok(TrainingRun {
            finished_at_ms: r.get(0)?,
            plays_seen: r.get::<_, i64>(1)?.max(0) as u64,
            new_ndcg10: r.get(2)?,
            old_ndcg10: r.get(3)?,
            transformer_kept: r.get(4)?,
            saved: r.get(5)?,
            train_ms: r.get::<_, i64>(6)?.max(0) as u64,
            started_by: r.get(7)?,
        })
    })?;
    rows.collect()
}
