//! Writes engine events into the `plays` and `sessions` tables ([`Recorder`], [`Clock`]).

use rusqlite::{params, OptionalExtension};

use super::skip_rule::{EndReason, SkipRule};
use crate::config::LogConfig;
use crate::db::{Database, DbError};
use crate::player::{ControlSource, Event, PlayItem};

/// Progress of an open play is saved at least this often (wall time).
const SAVE_EVERY_MS: i64 = 5_000;

/// The time source of the log; tests inject their own to cross session gaps without sleeping.
pub trait Clock: Send {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::db::now_ms()
    }
}

/// A play that has just been completed in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedPlay {
    pub play_id: i64,
    pub track_id: i64,
    pub session_id: i64,
    pub played_ms: u64,
    pub end_reason: EndReason,
    pub skipped: bool,
    /// Who ended it, when the listener did.
    pub end_source: Option<ControlSource>,
}

struct OpenPlay {
    play_id: i64,
    track_id: i64,
    session_id: i64,
    duration_ms: Option<u64>,
    played_ms: u64,
    saved_at: i64,
}

/// Turns engine [`Event`]s into rows.
pub struct Recorder {
    db: Database,
    rule: SkipRule,
    session_gap_ms: i64,
    clock: Box<dyn Clock>,
    open: Option<OpenPlay>,
}

impl Recorder {
    /// A recorder over `db`. Call [`Recorder::close_interrupted`] once before the first play.
    pub fn new(db: Database, config: &LogConfig, clock: Box<dyn Clock>) -> Self {
        Self {
            db,
            rule: SkipRule::from_config(config),
            session_gap_ms: (config.session_gap_minutes as i64).saturating_mul(60_000),
            clock,
            open: None,
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn rule(&self) -> SkipRule {
        self.rule
    }

    /// Closes plays left open by a crash as `interrupted` at their last saved position.
    pub fn close_interrupted(&mut self) -> Result<usize, DbError> {
        self.db
            .conn()
            .execute(
                "UPDATE plays SET end_reason = 'interrupted', skipped = 0, ended_at = started_at + played_ms
                 WHERE end_reason IS NULL",
                [],
            )
            .map_err(|e| self.db.err(e))
    }

    /// The session of the play in progress, or of the last play.
    pub fn current_session(&self) -> Option<i64> {
        self.open.as_ref().map(|p| p.session_id)
    }

    /// Records one engine event; returns the play it completed, if any.
    pub fn record(&mut self, event: &Event) -> Result<Option<CompletedPlay>, DbError> {
        match event {
            Event::Started { item, duration_ms } => {
                // A Started without the Ended of the previous play cannot come from the engine,
                // but if it did, the earlier play must not stay open.
                let closed = match self.open.as_ref().map(|open| open.played_ms) {
                    Some(played) => self.complete(EndReason::Interrupted, played, None, None)?,
                    None => None,
                };
                self.start(item, duration_ms.or(item.duration_ms))?;
                Ok(closed)
            }
            Event::Position {
                track_id, played_ms, ..
            } => {
                if let Some(open) = self.open.as_mut().filter(|o| o.track_id == *track_id) {
                    open.played_ms = *played_ms;
                    if self.clock.now_ms() - open.saved_at >= SAVE_EVERY_MS {
                        self.save_progress()?;
                    }
                }
                Ok(None)
            }
            Event::Paused { .. } => {
                self.save_progress()?;
                Ok(None)
            }
            Event::Ended {
                item,
                cause,
                played_ms,
                error,
                by,
                ..
            } => {
                if self.open.as_ref().is_none_or(|o| o.track_id != item.track_id) {
                    return Ok(None);
                }
                self.complete(EndReason::from_cause(*cause), *played_ms, error.as_deref(), *by)
            }
            Event::Resumed { .. } | Event::Seeked { .. } | Event::Volume(_) | Event::Idle => Ok(None),
        }
    }

    fn start(&mut self, item: &PlayItem, duration_ms: Option<u64>) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        let gap = self.session_gap_ms;
        let tx = self.db.conn_mut().transaction().map_err(sqlite)?;
        let last: Option<(i64, i64)> = tx
            .query_row("SELECT id, last_at FROM sessions ORDER BY id DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(sqlite)?;
        let session_id = match last {
            Some((id, last_at)) if now - last_at <= gap => id,
            _ => {
                tx.execute("INSERT INTO sessions (started_at, last_at) VALUES (?1, ?1)", [now])
                    .map_err(sqlite)?;
                tx.last_insert_rowid()
            }
        };
        let position: i64 = tx
            .query_row("SELECT count(*) FROM plays WHERE session_id = ?1", [session_id], |r| {
                r.get(0)
            })
            .map_err(sqlite)?;
        tx.execute(
            "INSERT INTO plays (track_id, session_id, position, started_at, duration_ms, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                item.track_id,
                session_id,
                position,
                now,
                duration_ms,
                item.source.as_str()
            ],
        )
        .map_err(sqlite)?;
        let play_id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE sessions SET last_at = ?2 WHERE id = ?1",
            params![session_id, now],
        )
        .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        self.open = Some(OpenPlay {
            play_id,
            track_id: item.track_id,
            session_id,
            duration_ms,
            played_ms: 0,
            saved_at: now,
        });
        Ok(())
    }

    fn save_progress(&mut self) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        let Some(open) = self.open.as_mut() else { return Ok(()) };
        open.saved_at = now;
        let tx = self.db.conn_mut().transaction().map_err(sqlite)?;
        tx.execute(
            "UPDATE plays SET played_ms = ?2 WHERE id = ?1",
            params![open.play_id, open.played_ms],
        )
        .map_err(sqlite)?;
        tx.execute(
            "UPDATE sessions SET last_at = ?2 WHERE id = ?1",
            params![open.session_id, now],
        )
        .map_err(sqlite)?;
        tx.commit().map_err(sqlite)
    }

    fn complete(
        &mut self,
        reason: EndReason,
        played_ms: u64,
        error: Option<&str>,
        end_source: Option<ControlSource>,
    ) -> Result<Option<CompletedPlay>, DbError> {
        let Some(open) = self.open.take() else { return Ok(None) };
        let now = self.clock.now_ms();
        let skipped = self.rule.is_skip(reason, played_ms, open.duration_ms);
        let tx = self.db.conn_mut().transaction().map_err(sqlite)?;
        tx.execute(
            "UPDATE plays SET ended_at = ?2, played_ms = ?3, end_reason = ?4, skipped = ?5, error = ?6,
                              end_source = ?7
             WHERE id = ?1",
            params![
                open.play_id,
                now,
                played_ms,
                reason.as_str(),
                skipped,
                error,
                end_source.map(ControlSource::as_str)
            ],
        )
        .map_err(sqlite)?;
        tx.execute(
            "UPDATE sessions SET last_at = ?2 WHERE id = ?1",
            params![open.session_id, now],
        )
        .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        Ok(Some(CompletedPlay {
            play_id: open.play_id,
            track_id: open.track_id,
            session_id: open.session_id,
            played_ms,
            end_reason: reason,
            skipped,
            end_source,
        }))
    }
}

fn sqlite(source: rusqlite::Error) -> DbError {
    DbError::Sqlite {
        path: "listening log".into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::player::{EndCause, PlaySource};

    #[derive(Clone)]
    struct FakeClock(Arc<AtomicI64>);

    impl Clock for FakeClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn item(track_id: i64) -> PlayItem {
        PlayItem {
            track_id,
            path: format!("/m/{track_id}.ogg").into(),
            duration_ms: Some(200_000),
            gain_db: 0.0,
            source: PlaySource::User,
        }
    }

    fn setup() -> (Recorder, Arc<AtomicI64>) {
        let db = Database::open_in_memory().unwrap();
        for id in 1..=3 {
            db.conn()
                .execute(
                    "INSERT INTO tracks (id, path, path_text, size, mtime_ns, status, title, added_at, updated_at)
                     VALUES (?1, CAST(?1 AS BLOB), ?1, 1, 1, 'ok', 't', 0, 0)",
                    [id],
                )
                .unwrap();
        }
        let now = Arc::new(AtomicI64::new(1_000_000));
        let recorder = Recorder::new(db, &LogConfig::default(), Box::new(FakeClock(now.clone())));
        (recorder, now)
    }

    fn play(recorder: &mut Recorder, now: &AtomicI64, track: i64, ms: u64, cause: EndCause) -> CompletedPlay {
        recorder
            .record(&Event::Started {
                item: item(track),
                duration_ms: Some(200_000),
            })
            .unwrap();
        now.fetch_add(ms as i64, Ordering::SeqCst);
        let ended = Event::Ended {
            item: item(track),
            cause,
            position_ms: ms,
            played_ms: ms,
            error: None,
            by: (cause == EndCause::Skipped).then_some(ControlSource::Key),
        };
        recorder.record(&ended).unwrap().unwrap()
    }

    #[test]
    fn sessions_split_at_the_configured_gap() {
        let (mut recorder, now) = setup();
        let a = play(&mut recorder, &now, 1, 200_000, EndCause::Finished);
        now.fetch_add(29 * 60_000, Ordering::SeqCst);
        let b = play(&mut recorder, &now, 2, 5_000, EndCause::Skipped);
        now.fetch_add(30 * 60_000 + 1, Ordering::SeqCst);
        let c = play(&mut recorder, &now, 3, 1_000, EndCause::Quit);
        assert_eq!(a.session_id, b.session_id, "29 minutes apart: same session");
        assert_ne!(b.session_id, c.session_id, "over 30 minutes apart: new session");
        assert!(b.skipped && !a.skipped && !c.skipped);
        assert_eq!(
            (a.end_source, b.end_source, c.end_source),
            (None, Some(ControlSource::Key), None)
        );
        let positions: Vec<i64> = recorder
            .database()
            .conn()
            .prepare("SELECT position FROM plays ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(positions, [0, 1, 0]);
    }

    #[test]
    fn progress_is_saved_and_an_open_play_is_closed_as_interrupted() {
        let (mut recorder, now) = setup();
        recorder
            .record(&Event::Started {
                item: item(1),
                duration_ms: Some(200_000),
            })
            .unwrap();
        for second in 1..=12u64 {
            now.fetch_add(1_000, Ordering::SeqCst);
            let position = Event::Position {
                track_id: 1,
                position_ms: second * 1000,
                played_ms: second * 1000,
            };
            recorder.record(&position).unwrap();
        }
        let saved: i64 = recorder
            .database()
            .conn()
            .query_row("SELECT played_ms FROM plays", [], |r| r.get(0))
            .unwrap();
        assert_eq!(saved, 10_000, "saved every 5 s of wall time");
        assert_eq!(recorder.close_interrupted().unwrap(), 1);
        let (reason, ended, skipped): (String, i64, bool) = recorder
            .database()
            .conn()
            .query_row(
                "SELECT end_reason, ended_at - started_at, skipped FROM plays",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((reason.as_str(), ended, skipped), ("interrupted", 10_000, false));
    }
}
