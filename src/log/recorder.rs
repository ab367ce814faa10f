//! Writes engine events into the `plays` and `sessions` tables ([`Recorder`], [`Clock`]).

use crate::config::LogConfig;
use crate::db::{plays, Database, DbError};
use crate::play::{CompletedPlay, ControlSource, EndReason, SkipRule};
use crate::player::{Event, PlayItem};
use crate::track::Track;

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
        crate::clock::now_ms()
    }
}

struct OpenPlay {
    play_id: i64,
    track_id: i64,
    session_id: i64,
    duration_ms: Option<u64>,
    played_ms: u64,
    saved_at: i64,
    /// The listener moved the position (see [`SkipRule::is_skip`]).
    sought: bool,
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
            session_gap_ms: config.session_gap_ms(),
            clock,
            open: None,
        }
    }

    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// The rule that tells a skip from a listen.
    pub(crate) fn skip_rule(&self) -> SkipRule {
        self.rule
    }

    pub(crate) fn database_mut(&mut self) -> &mut Database {
        &mut self.db
    }

    /// The last `limit` plays of the session the next play would join, with their tracks: a
    /// player started again within the session gap carries on that session (its in-session
    /// signals, its history), as the log does.
    pub(crate) fn session_so_far(&self, limit: usize) -> Result<Vec<(Track, CompletedPlay)>, DbError> {
        plays::open_session_plays(self.db.conn(), self.clock.now_ms(), self.session_gap_ms, limit)
            .map_err(|e| self.db.err(e))
    }

    /// The session a play starting now is in, as the log writes it: the open play's, else the
    /// one [`plays::session_to_join`] names (`None`: a new one). A player left idle past the gap
    /// starts afresh, whatever session it carried on at start.
    pub(crate) fn session_now(&self) -> Result<Option<i64>, DbError> {
        match &self.open {
            Some(open) => Ok(Some(open.session_id)),
            None => plays::session_to_join(self.db.conn(), self.clock.now_ms(), self.session_gap_ms)
                .map_err(|e| self.db.err(e)),
        }
    }

    /// Closes plays left open by a crash as `interrupted` at their last saved position.
    pub(crate) fn close_interrupted(&mut self) -> Result<usize, DbError> {
        plays::close_interrupted(self.db.conn()).map_err(|e| self.db.err(e))
    }

    /// Records one engine event; returns the play it completed, if any.
    pub fn record(&mut self, event: &Event) -> Result<Option<CompletedPlay>, DbError> {
        match event {
            Event::Started { item, duration_ms } => {
                // A Started without the Ended of the previous play cannot come from the engine,
                // but if it did, the earlier play must not stay open.
                // The new play is logged even when closing that one fails (it then stays open in
                // the database, for the next start to close as interrupted).
                let closed = match self.open.as_ref().map(|open| open.played_ms) {
                    Some(played) => self.complete(EndReason::Interrupted, played, None, None),
                    None => Ok(None),
                };
                let started = self.start(item, duration_ms.or(item.duration_ms));
                let closed = closed?;
                started?;
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
                self.complete(*cause, *played_ms, error.as_deref(), *by)
            }
            Event::Seeked { track_id, .. } => {
                if let Some(open) = self.open.as_mut().filter(|o| o.track_id == *track_id) {
                    open.sought = true;
                }
                Ok(None)
            }
            Event::Resumed { .. } | Event::Volume(_) | Event::Idle => Ok(None),
        }
    }

    fn start(&mut self, item: &PlayItem, duration_ms: Option<u64>) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        let (session_id, play_id) = plays::start_play(
            self.db.conn_mut(),
            item.track_id,
            item.source,
            duration_ms,
            now,
            self.session_gap_ms,
        )
        .map_err(|e| self.db.err(e))?;
        self.open = Some(OpenPlay {
            play_id,
            track_id: item.track_id,
            session_id,
            duration_ms,
            played_ms: 0,
            saved_at: now,
            sought: false,
        });
        Ok(())
    }

    fn save_progress(&mut self) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        let Some(open) = self.open.as_mut() else { return Ok(()) };
        open.saved_at = now;
        plays::save_progress(self.db.conn_mut(), open.play_id, open.session_id, open.played_ms, now)
            .map_err(|e| self.db.err(e))
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
        let skipped = self.rule.is_skip(reason, played_ms, open.duration_ms, open.sought);
        plays::complete_play(
            self.db.conn_mut(),
            &plays::Ending {
                play_id: open.play_id,
                session_id: open.session_id,
                now,
                played_ms,
                reason,
                skipped,
                error,
                end_source,
            },
        )
        .map_err(|e| self.db.err(e))?;
        Ok(Some(CompletedPlay {
            play_id: open.play_id,
            track_id: open.track_id,
            session_id: open.session_id,
            played_ms,
            end_reason: reason,
            skipped,
            end_source,
            ended_at: now,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::play::{EndReason, PlaySource};

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
        let db = Database::in_memory_with_tracks(1..=3);
        let now = Arc::new(AtomicI64::new(1_000_000));
        let recorder = Recorder::new(db, &LogConfig::default(), Box::new(FakeClock(now.clone())));
        (recorder, now)
    }

    fn play(recorder: &mut Recorder, now: &AtomicI64, track: i64, ms: u64, cause: EndReason) -> CompletedPlay {
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
            by: (cause == EndReason::Skipped).then_some(ControlSource::Key),
        };
        recorder.record(&ended).unwrap().unwrap()
    }

    #[test]
    fn sessions_split_at_the_configured_gap() {
        let (mut recorder, now) = setup();
        let a = play(&mut recorder, &now, 1, 200_000, EndReason::Finished);
        now.fetch_add(29 * 60_000, Ordering::SeqCst);
        let b = play(&mut recorder, &now, 2, 5_000, EndReason::Skipped);
        now.fetch_add(30 * 60_000 + 1, Ordering::SeqCst);
        let c = play(&mut recorder, &now, 3, 1_000, EndReason::Quit);
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

    /// A player started again within the session gap carries on the session: its plays so far,
    /// with their tracks; past the gap, a new session has none.
    #[test]
    fn the_session_so_far_is_carried_over_a_restart_within_the_gap() {
        let (mut recorder, now) = setup();
        play(&mut recorder, &now, 1, 200_000, EndReason::Finished);
        now.fetch_add(60 * 60_000, Ordering::SeqCst);
        let first = play(&mut recorder, &now, 2, 5_000, EndReason::Skipped);
        let second = play(&mut recorder, &now, 3, 200_000, EndReason::Finished);
        now.fetch_add(20 * 60_000, Ordering::SeqCst);
        let carried = recorder.session_so_far(10).unwrap();
        let plays: Vec<&CompletedPlay> = carried.iter().map(|(_, p)| p).collect();
        assert_eq!(plays, [&first, &second], "the last session's plays, in order");
        assert_eq!(carried[1].0.id, 3);
        assert_eq!(recorder.session_so_far(1).unwrap()[0].1, second, "the last ones");
        now.fetch_add(11 * 60_000, Ordering::SeqCst);
        assert!(
            recorder.session_so_far(10).unwrap().is_empty(),
            "past the gap: a new session"
        );
    }

    /// An import adds sessions of past listening, with newer ids and older times: the next play
    /// goes on in the session last active, after every play of it, imported ones included.
    #[test]
    fn a_play_after_an_import_goes_on_in_the_session_that_was_active() {
        let (mut recorder, now) = setup();
        let first = play(&mut recorder, &now, 1, 200_000, EndReason::Finished);
        let conn = recorder.database().conn();
        conn.execute_batch(
            "INSERT INTO sessions (started_at, last_at) VALUES (1000, 2000);
             INSERT INTO unmatched_plays (import_key, format, started_at, ended_at, played_ms, artist, title,
                                          match_key, skipped, end_reason, session_id, position)
             VALUES ('k', 'spotify', 1000, 2000, 1000, 'a', 't', 'a t', 0, 'finished', 1, 4);",
        )
        .unwrap();
        now.fetch_add(60_000, Ordering::SeqCst);
        let second = play(&mut recorder, &now, 2, 200_000, EndReason::Finished);
        assert_eq!(second.session_id, first.session_id);
        let position: i64 = recorder
            .database()
            .conn()
            .query_row("SELECT position FROM plays WHERE id = ?1", [second.play_id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(position, 5);
    }

    /// A `Started` that finds a play still open closes it; when that write fails, the new play
    /// is still logged, and the failure reported.
    #[test]
    fn a_failed_close_of_a_stray_open_play_does_not_lose_the_next_one() {
        let (mut recorder, _now) = setup();
        let started = |track| Event::Started {
            item: item(track),
            duration_ms: Some(200_000),
        };
        recorder.record(&started(1)).unwrap();
        recorder
            .database()
            .conn()
            .execute_batch(
                "CREATE TRIGGER refuse_endings BEFORE UPDATE OF ended_at ON plays
                 WHEN NEW.ended_at IS NOT NULL BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
        assert!(recorder.record(&started(2)).is_err());
        let tracks: Vec<i64> = recorder
            .database()
            .conn()
            .prepare("SELECT track_id FROM plays ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(tracks, [1, 2], "the second play was not logged");
        assert_eq!(recorder.open.as_ref().map(|o| o.track_id), Some(2));
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
