//! Writes engine events into the `plays` and `sessions` tables ([`Recorder`], [`Clock`]).

use std::path::PathBuf;

use super::kept::{self, KeptPlay};
use crate::config::LogConfig;
use crate::db::{plays, tracks, Database, DbError};
use crate::play::{CompletedPlay, ControlSource, EndReason, PlaySource, SkipRule};
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

/// A play the database has: its row and its session's.
#[derive(Debug, Clone, Copy)]
struct Written {
    play_id: i64,
    session_id: i64,
}

struct OpenPlay {
    /// `None` while the database could not take its start (locked by another program, or the
    /// disk full): it is written once the database takes writes again.
    written: Option<Written>,
    track_id: i64,
    path: PathBuf,
    source: PlaySource,
    started_at: i64,
    /// Its session: as written, or while it waits, the one it is expected to join (an unwritten
    /// new session has the placeholder `-started_at`, which no row has).
    session_id: i64,
    duration_ms: Option<u64>,
    played_ms: u64,
    saved_at: i64,
    /// When the listener paused it, while paused.
    paused_at: Option<i64>,
    /// The listener moved the position (see [`SkipRule::is_skip`]).
    sought: bool,
}

/// How a play ended, kept with a play that waits to be written.
struct Ended {
    at: i64,
    played_ms: u64,
    reason: EndReason,
    skipped: bool,
    error: Option<String>,
    end_source: Option<ControlSource>,
}

/// What [`Recorder::record`] did: the play an event completed, and a write that failed. A play
/// the database could not take is kept, in order, and written at a later event.
#[derive(Debug, Default)]
pub struct Recorded {
    pub completed: Option<CompletedPlay>,
    pub error: Option<DbError>,
}

impl Recorded {
    /// The completed play, or the failed write, for callers that stop at a failure.
    pub fn into_result(self) -> Result<Option<CompletedPlay>, DbError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.completed),
        }
    }
}

/// While plays wait, a write is tried again at most this often.
const RETRY_EVERY_MS: i64 = 10_000;

/// How long a try waits for another program's write lock once a write was refused: tries run on
/// the thread that drives the player, which must not stall for the database's full busy timeout
/// at every one while the lock stays held. The plays wait in order meanwhile.
const RETRY_LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Turns engine [`Event`]s into rows.
pub struct Recorder {
    db: Database,
    rule: SkipRule,
    session_gap_ms: i64,
    clock: Box<dyn Clock>,
    open: Option<OpenPlay>,
    /// Finished plays the database has not taken yet, oldest first.
    waiting: Vec<(OpenPlay, Ended)>,
    /// No write is tried before this time while plays wait.
    retry_at: i64,
    /// A write was refused and none has been taken since: tries wait [`RETRY_LOCK_WAIT`].
    retrying: bool,
    /// The database's file was found deleted (and said once).
    deleted: bool,
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
            waiting: Vec::new(),
            retry_at: 0,
            retrying: false,
            deleted: false,
        }
    }

    /// A write was refused at `now`: the next try waits [`RETRY_EVERY_MS`], and then waits for a
    /// lock only briefly.
    fn refused(&mut self, now: i64) {
        self.retry_at = now + RETRY_EVERY_MS;
        self.retrying = true;
    }

    /// Runs `write`, one of the tries that follow a refusal: while they are refused, each waits
    /// for a lock only [`RETRY_LOCK_WAIT`]. Every other write (a play's start or end, a like
    /// through this connection, the last try at quit) waits the database's busy timeout.
    fn try_write(&mut self, now: i64, write: impl FnOnce(&mut Self) -> Result<(), DbError>) -> Result<(), DbError> {
        if self.retrying {
            self.db.set_lock_wait(RETRY_LOCK_WAIT);
        }
        let written = write(self);
        self.db.set_lock_wait(crate::db::BUSY_TIMEOUT);
        match written {
            Ok(()) => self.retrying = false,
            Err(_) => self.refused(now),
        }
        written
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

    /// Plays not yet in the database (finished ones, and the open one if its start is not):
    /// they are written, in order, once it takes writes again.
    pub fn unwritten(&self) -> usize {
        self.waiting.len() + usize::from(self.open.as_ref().is_some_and(|o| o.written.is_none()))
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

    /// Writes the plays an earlier run kept in [`kept::file_for`] when the database would not
    /// take them, each at its own time; call it before [`Recorder::close_interrupted`]. Returns
    /// what to tell the listener. It never stops a start: damaged lines are moved aside, and
    /// plays that cannot be written yet stay in the file for the next start.
    ///
    /// Writing a play twice is harmless: one the log has already (written by the last try, or
    /// before a crash while this ran) is left as it is, and its row completed if it is still open
    /// or was closed as interrupted. A play of a track the library no longer has stays in the file.
    pub(crate) fn write_kept(&mut self) -> Option<String> {
        let file = kept::file_for(self.db.path());
        let (plays, damaged) = match kept::read(&file) {
            Ok(kept) => (kept.plays, kept.damaged),
            // Left as it is, for the next start.
            Err(e) => return Some(format!("{}: cannot be read: {e}", file.display())),
        };
        let set_aside = match damaged.first() {
            None => None,
            Some(first) => match kept::set_aside(&file, &damaged, self.clock.now_ms()) {
                Ok(aside) => Some(format!(
                    "{}: {} not a kept play (line {}: {}); moved to {}",
                    file.display(),
                    crate::fmt::count(damaged.len() as u64, "line"),
                    first.number,
                    first.error,
                    aside.display()
                )),
                Err(e) => {
                    return Some(format!(
                        "{}: line {} is not a kept play, and cannot be moved aside: {e}; the file is left as it is",
                        file.display(),
                        first.number
                    ))
                }
            },
        };
        if plays.is_empty() && set_aside.is_none() {
            return None;
        }
        let mut left = Vec::new();
        let mut written = 0;
        let mut failed = None;
        for play in plays {
            if failed.is_some() {
                left.push(play);
                continue;
            }
            match self.write_kept_play(&play) {
                Ok(true) => written += 1,
                Ok(false) => left.push(play),
                Err(e) => {
                    failed = Some(e);
                    left.push(play);
                }
            }
        }
        if let Err(e) = kept::replace(&file, &left) {
            return Some(format!("{}: cannot be rewritten: {e}", file.display()));
        }
        let said = said_of_kept(&file, &left, written, failed);
        match (set_aside, said) {
            (Some(aside), Some(said)) => Some(format!("{said}; {aside}")),
            (aside, said) => aside.or(said),
        }
    }

    /// Writes one kept play; `false` when the library has no track for it.
    fn write_kept_play(&mut self, play: &KeptPlay) -> Result<bool, DbError> {
        let conn = self.db.conn();
        let err = |e| self.db.err(e);
        // Its id names its track unless the database is another one (rebuilt after damage):
        // then the track at its path is the one. A track that moved keeps its id.
        let by_id = tracks::track_by_id(conn, play.track_id).map_err(err)?;
        let track_id = match by_id {
            Some(track) if track.path.to_string_lossy() == play.path => Some(play.track_id),
            by_id => tracks::track_by_path_any(conn, std::path::Path::new(&play.path))
                .map_err(err)?
                .map(|track| track.id)
                // A track moved is as long, to a second (its length may have been read again);
                // another track under its id rarely is.
                .or(by_id
                    .filter(|track| match (track.duration_ms, play.duration_ms) {
                        (Some(now), Some(then)) => now.abs_diff(then) <= 1_000,
                        _ => false,
                    })
                    .map(|_| play.track_id)),
        };
        let Some(track_id) = track_id else { return Ok(false) };
        let at = match plays::play_started_at(conn, track_id, play.started_at).map_err(err)? {
            Some(row) if row.completed => return Ok(true),
            Some(row) => Written {
                play_id: row.play_id,
                session_id: row.session_id,
            },
            None => {
                let (session_id, play_id) = plays::start_play(
                    self.db.conn_mut(),
                    track_id,
                    play.source,
                    play.duration_ms,
                    play.started_at,
                    self.session_gap_ms,
                )
                .map_err(|e| self.db.err(e))?;
                Written { play_id, session_id }
            }
        };
        let ended = Ended {
            at: play.ended_at,
            played_ms: play.played_ms,
            reason: EndReason::parse(&play.end_reason).unwrap_or(EndReason::Interrupted),
            skipped: play.skipped,
            error: play.error.clone(),
            end_source: play.end_source.as_deref().and_then(ControlSource::parse),
        };
        write_end(&mut self.db, at, &ended)?;
        Ok(true)
    }

    /// The plays not yet in the database, as [`kept`] keeps them: the finished ones that wait,
    /// and the open play, as interrupted where it got to (its start may be written, its
    /// progress not).
    fn to_keep(&self) -> Vec<KeptPlay> {
        let open = self.open.iter().map(|open| {
            let ended = Ended {
                at: open.started_at + open.played_ms as i64,
                played_ms: open.played_ms,
                reason: EndReason::Interrupted,
                skipped: false,
                error: None,
                end_source: None,
            };
            kept_play(open, &ended)
        });
        self.waiting
            .iter()
            .map(|(play, ended)| kept_play(play, ended))
            .chain(open)
            .collect()
    }

    /// Closes plays left open by a crash as `interrupted` at their last saved position.
    pub(crate) fn close_interrupted(&mut self) -> Result<usize, DbError> {
        plays::close_interrupted(self.db.conn()).map_err(|e| self.db.err(e))
    }

    /// Records one engine event: the play it completed, and a write that failed (the event's
    /// own, else that of the plays waiting). Plays that wait to be written are tried first, so
    /// that the log keeps their order.
    pub fn record(&mut self, event: &Event) -> Recorded {
        let caught_up = self.catch_up();
        let mut recorded = self.apply(event);
        if recorded.error.is_none() {
            recorded.error = caught_up.err();
        }
        recorded
    }

    fn apply(&mut self, event: &Event) -> Recorded {
        match event {
            Event::Started { item, duration_ms } => {
                // A Started without the Ended of the previous play cannot come from the engine,
                // but if it did, the earlier play must not stay open.
                let closed = match self.open.as_ref().map(|open| open.played_ms) {
                    Some(played) => self.complete(EndReason::Interrupted, played, None, None),
                    None => Recorded::default(),
                };
                let started = self.start(item, duration_ms.or(item.duration_ms));
                Recorded {
                    completed: closed.completed,
                    error: closed.error.or(started.err()),
                }
            }
            Event::Position {
                track_id, played_ms, ..
            } => {
                let mut recorded = Recorded::default();
                if let Some(open) = self.open.as_mut().filter(|o| o.track_id == *track_id) {
                    open.played_ms = *played_ms;
                    if self.clock.now_ms() - open.saved_at >= SAVE_EVERY_MS {
                        recorded.error = self.save_progress().err();
                    }
                }
                recorded
            }
            Event::Paused { .. } => {
                if let Some(open) = self.open.as_mut() {
                    open.paused_at = Some(self.clock.now_ms());
                }
                Recorded {
                    completed: None,
                    error: self.save_progress().err(),
                }
            }
            Event::Resumed { .. } => Recorded {
                completed: None,
                error: self.resume().err(),
            },
            Event::Ended {
                item,
                cause,
                played_ms,
                error,
                by,
                ..
            } => {
                if self.open.as_ref().is_none_or(|o| o.track_id != item.track_id) {
                    return Recorded::default();
                }
                self.complete(*cause, *played_ms, error.as_deref(), *by)
            }
            Event::Seeked { track_id, .. } => {
                if let Some(open) = self.open.as_mut().filter(|o| o.track_id == *track_id) {
                    open.sought = true;
                }
                Recorded::default()
            }
            Event::Volume(_) | Event::Idle => Recorded::default(),
        }
    }

    /// Writes the plays that wait, oldest first, then the open play's start; at most once per
    /// [`RETRY_EVERY_MS`] while a write fails.
    fn catch_up(&mut self) -> Result<(), DbError> {
        if self.unwritten() == 0 {
            return Ok(());
        }
        let now = self.clock.now_ms();
        if now < self.retry_at {
            return Ok(());
        }
        self.try_write(now, Self::write_waiting)
    }

    fn write_waiting(&mut self) -> Result<(), DbError> {
        let gap = self.session_gap_ms;
        while let Some((play, ended)) = self.waiting.first_mut() {
            let at = match play.written {
                Some(at) => at,
                None => *play.written.insert(write_start(&mut self.db, play, gap)?),
            };
            write_end(&mut self.db, at, ended)?;
            self.waiting.remove(0);
        }
        if let Some(open) = self.open.as_mut().filter(|o| o.written.is_none()) {
            let at = write_start(&mut self.db, open, gap)?;
            open.written = Some(at);
            open.session_id = at.session_id;
            if open.played_ms > 0 {
                plays::save_progress(
                    self.db.conn_mut(),
                    at.play_id,
                    at.session_id,
                    open.played_ms,
                    open.saved_at,
                )
                .map_err(|e| self.db.err(e))?;
            }
        }
        Ok(())
    }

    fn start(&mut self, item: &PlayItem, duration_ms: Option<u64>) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        let mut open = OpenPlay {
            written: None,
            track_id: item.track_id,
            path: item.path.clone(),
            source: item.source,
            started_at: now,
            session_id: -now,
            duration_ms,
            played_ms: 0,
            saved_at: now,
            paused_at: None,
            sought: false,
        };
        if !self.waiting.is_empty() {
            // After the plays that wait, in order: its session is the last one's, within the gap.
            if let Some((last, ended)) = self.waiting.last() {
                if now - ended.at <= self.session_gap_ms {
                    open.session_id = last.session_id;
                }
            }
            self.open = Some(open);
            return Ok(());
        }
        let written = write_start(&mut self.db, &open, self.session_gap_ms);
        match &written {
            Ok(at) => {
                open.written = Some(*at);
                open.session_id = at.session_id;
                self.retrying = false;
            }
            Err(_) => {
                self.refused(now);
                if let Ok(Some(session)) = plays::session_to_join(self.db.conn(), now, self.session_gap_ms) {
                    open.session_id = session;
                }
            }
        }
        self.open = Some(open);
        written.map(drop)
    }

    /// A play paused for longer than the session gap is part of a new session from its resume
    /// (or from its end, ended while paused), as the play after such a pause would be.
    fn resume(&mut self) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        let Some(open) = self.open.as_mut() else { return Ok(()) };
        let away = open.paused_at.take().map(|at| now - at);
        if away.is_none_or(|away| away <= self.session_gap_ms) {
            return Ok(());
        }
        // A play the database has not taken yet is written later in the session of its start.
        let Some(at) = open.written.as_mut().filter(|_| self.waiting.is_empty()) else {
            return Ok(());
        };
        let session_id =
            plays::resume_in_new_session(self.db.conn_mut(), at.play_id, now).map_err(|e| self.db.err(e))?;
        at.session_id = session_id;
        open.session_id = session_id;
        Ok(())
    }

    fn save_progress(&mut self) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        let Some(open) = self.open.as_mut() else { return Ok(()) };
        open.saved_at = now;
        // An open play that waits is written with its progress when the database takes it; after
        // a failed write, progress waits for the retry time like the rest.
        let Some(at) = open.written.filter(|_| self.waiting.is_empty() && now >= self.retry_at) else {
            return Ok(());
        };
        let played_ms = open.played_ms;
        self.try_write(now, |recorder| {
            plays::save_progress(recorder.db.conn_mut(), at.play_id, at.session_id, played_ms, now)
                .map_err(|e| recorder.db.err(e))
        })
    }

    fn complete(
        &mut self,
        reason: EndReason,
        played_ms: u64,
        error: Option<&str>,
        end_source: Option<ControlSource>,
    ) -> Recorded {
        let moved = self.resume().err();
        let Some(open) = self.open.take() else {
            return Recorded::default();
        };
        let now = self.clock.now_ms();
        let skipped = self.rule.is_skip(reason, played_ms, open.duration_ms, open.sought);
        let ended = Ended {
            at: now,
            played_ms,
            reason,
            skipped,
            error: error.map(str::to_owned),
            end_source,
        };
        let completed = CompletedPlay {
            play_id: open.written.map(|at| at.play_id),
            track_id: open.track_id,
            session_id: open.session_id,
            played_ms,
            end_reason: reason,
            skipped,
            end_source,
            ended_at: now,
        };
        let failed = match open.written.filter(|_| self.waiting.is_empty()) {
            Some(at) => write_end(&mut self.db, at, &ended).err(),
            None => None,
        };
        if open.written.is_some() && self.waiting.is_empty() && failed.is_none() {
            self.retrying = false;
        }
        if open.written.is_none() || !self.waiting.is_empty() || failed.is_some() {
            if failed.is_some() {
                self.refused(now);
            }
            self.waiting.push((open, ended));
        }
        // Looked for at each play's end: a file gone is said once (at an end with no other
        // error to say), and written back at quit.
        let error = moved.or(failed);
        let deleted = (error.is_none() && !self.deleted && self.db.is_deleted()).then(|| {
            self.deleted = true;
            DbError::Deleted {
                path: self.db.path().to_path_buf(),
            }
        });
        Recorded {
            completed: Some(completed),
            error: error.or(deleted),
        }
    }
}

impl Drop for Recorder {
    /// A last try for the plays that wait, whatever the retry time: the player is going. What the
    /// database still refuses is kept in a file beside it, for the next start to write.
    /// A database deleted while the player ran is written back first, with every play.
    fn drop(&mut self) {
        // The last try waits out the busy timeout: quitting can wait, the plays cannot.
        let last_try = match self.unwritten() {
            0 => Ok(()),
            _ => self.write_waiting(),
        };
        if self.db.is_deleted() {
            match self.db.write_back() {
                Ok(to) => tracing::warn!(
                    "{} was deleted or replaced while the player ran; written back with its plays to {}",
                    self.db.path().display(),
                    to.display()
                ),
                Err(e) => tracing::error!("{e}"),
            }
        }
        let Err(e) = last_try else { return };
        let plays = self.to_keep();
        let count = crate::fmt::count(plays.len() as u64, "play");
        if self.db.path() == std::path::Path::new(":memory:") {
            tracing::error!("{count} could not be written to the listening log and are lost: {e}");
            return;
        }
        let file = kept::file_for(self.db.path());
        match kept::append(&file, &plays) {
            Ok(()) => tracing::warn!(
                "{count} could not be written to the listening log ({e}); kept in {}, to be written at the next start",
                file.display()
            ),
            Err(kept_error) => tracing::error!(
                "{count} could not be written to the listening log ({e}) nor kept in {} ({kept_error}), and are lost",
                file.display()
            ),
        }
    }
}

/// What [`Recorder::write_kept`] tells of the plays it wrote (`written`) and `left` in `file`.
fn said_of_kept(file: &std::path::Path, left: &[KeptPlay], written: usize, failed: Option<DbError>) -> Option<String> {
    let left_said = || {
        format!(
            "{} of tracks the library does not have {} in {}",
            crate::fmt::count(left.len() as u64, "play"),
            if left.len() == 1 { "stays" } else { "stay" },
            file.display()
        )
    };
    match (failed, written) {
        (Some(e), _) => Some(format!(
            "the plays kept in {} could not be written yet ({e}); they stay there",
            file.display()
        )),
        (None, 0) if left.is_empty() => None,
        // Nothing changed since the last start: said once, in the diagnostic log.
        (None, 0) => {
            tracing::warn!("{}", left_said());
            None
        }
        (None, written) => {
            let mut said = format!(
                "wrote {} the database could not take when the player last quit",
                crate::fmt::count(written as u64, "play")
            );
            if !left.is_empty() {
                said.push_str(&format!("; {}", left_said()));
            }
            Some(said)
        }
    }
}

/// `play` with how it `ended`, as [`kept`] keeps it.
fn kept_play(play: &OpenPlay, ended: &Ended) -> KeptPlay {
    KeptPlay {
        track_id: play.track_id,
        path: play.path.to_string_lossy().into_owned(),
        source: play.source,
        started_at: play.started_at,
        duration_ms: play.duration_ms,
        ended_at: ended.at,
        played_ms: ended.played_ms,
        end_reason: ended.reason.as_str().to_owned(),
        skipped: ended.skipped,
        error: ended.error.clone(),
        end_source: ended.end_source.map(|s| s.as_str().to_owned()),
    }
}

/// Inserts `play`'s start at its own time, in the session the log would put it in then.
fn write_start(db: &mut Database, play: &OpenPlay, session_gap_ms: i64) -> Result<Written, DbError> {
    let (session_id, play_id) = plays::start_play(
        db.conn_mut(),
        play.track_id,
        play.source,
        play.duration_ms,
        play.started_at,
        session_gap_ms,
    )
    .map_err(|e| db.err(e))?;
    Ok(Written { play_id, session_id })
}

fn write_end(db: &mut Database, at: Written, ended: &Ended) -> Result<(), DbError> {
    plays::complete_play(
        db.conn_mut(),
        &plays::Ending {
            play_id: at.play_id,
            session_id: at.session_id,
            now: ended.at,
            played_ms: ended.played_ms,
            reason: ended.reason,
            skipped: ended.skipped,
            error: ended.error.as_deref(),
            end_source: ended.end_source,
        },
    )
    .map_err(|e| db.err(e))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::play::{ControlSource, EndReason, PlaySource};

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

    /// Triggers that make the database refuse a play's end or start, as a full disk would.
    const REFUSE_ENDINGS: &str = "CREATE TRIGGER refuse_endings BEFORE UPDATE OF ended_at ON plays
         WHEN NEW.ended_at IS NOT NULL BEGIN SELECT RAISE(ABORT, 'disk full'); END;";
    const REFUSE_STARTS: &str =
        "CREATE TRIGGER refuse_starts BEFORE INSERT ON plays BEGIN SELECT RAISE(ABORT, 'disk full'); END;";

    fn refuse(recorder: &Recorder, triggers: &str) {
        recorder.database().conn().execute_batch(triggers).unwrap();
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
            .into_result()
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
        recorder.record(&ended).into_result().unwrap().unwrap()
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

    /// Plays the database cannot take (a full disk, here a trigger that refuses endings) are
    /// kept, each with its own times, and written in order once it takes writes again; no write
    /// is tried in between more often than every [`RETRY_EVERY_MS`].
    #[test]
    fn plays_the_database_refuses_wait_and_are_written_in_order_later() {
        let (mut recorder, now) = setup();
        let started = |track| Event::Started {
            item: item(track),
            duration_ms: Some(200_000),
        };
        recorder.record(&started(1)).into_result().unwrap();
        refuse(&recorder, REFUSE_ENDINGS);
        now.fetch_add(3_000, Ordering::SeqCst);
        // A stray `Started` closes the open play as interrupted: refused, kept.
        let refused = recorder.record(&started(2));
        assert!(refused.error.is_some());
        assert_eq!(refused.completed.as_ref().map(|p| p.play_id), Some(Some(1)));
        assert_eq!(recorder.unwritten(), 2, "the first play's end, and the second play");
        now.fetch_add(5_000, Ordering::SeqCst);
        let ended = Event::Ended {
            item: item(2),
            cause: EndReason::Finished,
            position_ms: 5_000,
            played_ms: 5_000,
            error: None,
            by: None,
        };
        let second = recorder.record(&ended);
        assert!(second.error.is_none(), "no write tried before the retry time");
        let second = second.completed.unwrap();
        assert_eq!(second.play_id, None);
        assert_eq!(second.session_id, refused.completed.unwrap().session_id);
        recorder
            .database()
            .conn()
            .execute_batch("DROP TRIGGER refuse_endings")
            .unwrap();
        now.fetch_add(RETRY_EVERY_MS, Ordering::SeqCst);
        recorder.record(&Event::Idle).into_result().unwrap();
        assert_eq!(recorder.unwritten(), 0);
        let rows: Vec<(i64, i64, i64, Option<String>, i64)> = recorder
            .database()
            .conn()
            .prepare("SELECT track_id, position, started_at, end_reason, ended_at FROM plays ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, 0, 1_000_000, Some("interrupted".into()), 1_003_000),
                (2, 1, 1_003_000, Some("finished".into()), 1_008_000)
            ]
        );
    }

    /// A real lock: another connection holds the write lock past the busy timeout while a play
    /// starts and ends. The play is kept and written once the lock goes.
    #[test]
    fn a_play_made_while_another_program_holds_the_lock_is_written_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("skipless.db");
        let db = Database::open(&path).unwrap();
        db.conn()
            .execute_batch(
                "INSERT INTO tracks (id, path, path_text, size, mtime_ns, status, title, added_at, updated_at)
                 VALUES (1, X'2f61', '/a', 1, 1, 'ok', 't', 0, 0)",
            )
            .unwrap();
        let now = Arc::new(AtomicI64::new(1_000_000));
        let mut recorder = Recorder::new(db, &LogConfig::default(), Box::new(FakeClock(now.clone())));
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let started = recorder.record(&Event::Started {
            item: item(1),
            duration_ms: Some(200_000),
        });
        assert!(started.error.is_some_and(|e| e.to_string().contains("locked")));
        now.fetch_add(200_000, Ordering::SeqCst);
        let ended = recorder.record(&Event::Ended {
            item: item(1),
            cause: EndReason::Finished,
            position_ms: 200_000,
            played_ms: 200_000,
            error: None,
            by: None,
        });
        assert_eq!(ended.completed.map(|p| p.play_id), Some(None));
        // While the lock stays, each try waits for it only briefly: the player's thread runs on.
        let lock_wait = |recorder: &Recorder| -> i64 {
            recorder
                .database()
                .conn()
                .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
                .unwrap()
        };
        now.fetch_add(RETRY_EVERY_MS, Ordering::SeqCst);
        // (A bound fifty times the short wait, and half the long one: a loaded machine can be
        // slow, not that slow.)
        let tried = std::time::Instant::now();
        assert!(recorder.record(&Event::Idle).error.is_some());
        assert!(tried.elapsed() < crate::db::BUSY_TIMEOUT / 2, "{:?}", tried.elapsed());
        assert_eq!(recorder.unwritten(), 1);
        // Other writes through the connection (a like, the last try at quit) wait in full.
        assert_eq!(lock_wait(&recorder), crate::db::BUSY_TIMEOUT.as_millis() as i64);
        other.execute_batch("COMMIT").unwrap();
        now.fetch_add(RETRY_EVERY_MS, Ordering::SeqCst);
        recorder.record(&Event::Idle).into_result().unwrap();
        let row: (i64, i64, String) = recorder
            .database()
            .conn()
            .query_row("SELECT started_at, ended_at, end_reason FROM plays", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(row, (1_000_000, 1_200_000, "finished".into()));
    }

    /// Plays the database still refuses when the player goes are kept in a file beside it and
    /// written at the next start, each at its own time: a play whose start was written is
    /// completed in its row, one whose start was not gets one; a play of a track the library no
    /// longer has stays in the file.
    #[test]
    fn plays_refused_at_quit_are_kept_and_written_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("skipless.db");
        let db = Database::open(&path).unwrap();
        for id in 1..=3 {
            db.conn()
                .execute(
                    "INSERT INTO tracks (id, path, path_text, size, mtime_ns, status, title, added_at, updated_at)
                     VALUES (?1, CAST(?2 AS BLOB), ?2, 1, 1, 'ok', 't', 0, 0)",
                    rusqlite::params![id, format!("/m/{id}.ogg")],
                )
                .unwrap();
        }
        let now = Arc::new(AtomicI64::new(1_000_000));
        let mut recorder = Recorder::new(db, &LogConfig::default(), Box::new(FakeClock(now.clone())));
        let started = |track| Event::Started {
            item: item(track),
            duration_ms: Some(200_000),
        };
        let ended = |track, played_ms| Event::Ended {
            item: item(track),
            cause: EndReason::Finished,
            position_ms: played_ms,
            played_ms,
            error: None,
            by: Some(ControlSource::Key),
        };
        recorder.record(&started(1)).into_result().unwrap();
        refuse(&recorder, &format!("{REFUSE_ENDINGS} {REFUSE_STARTS}"));
        now.fetch_add(200_000, Ordering::SeqCst);
        assert!(recorder.record(&ended(1, 200_000)).error.is_some());
        // Each write tried meanwhile fails too.
        recorder.record(&started(2));
        now.fetch_add(30_000, Ordering::SeqCst);
        recorder.record(&ended(2, 30_000));
        recorder.record(&started(3));
        recorder.record(&Event::Position {
            track_id: 3,
            position_ms: 12_000,
            played_ms: 12_000,
        });
        assert_eq!(recorder.unwritten(), 3);
        drop(recorder);

        let file = kept::file_for(&path);
        let kept = kept::read(&file).unwrap().plays;
        assert_eq!(
            kept.iter()
                .map(|p| (p.track_id, p.end_reason.as_str()))
                .collect::<Vec<_>>(),
            [(1, "finished"), (2, "finished"), (3, "interrupted")]
        );
        let db = Database::open(&path).unwrap();
        db.conn()
            .execute_batch("DROP TRIGGER refuse_endings; DROP TRIGGER refuse_starts; DELETE FROM tracks WHERE id = 3")
            .unwrap();
        let mut recorder = Recorder::new(db, &LogConfig::default(), Box::new(FakeClock(now.clone())));
        let said = recorder.write_kept().unwrap();
        assert!(said.starts_with("wrote 2 plays"), "{said}");
        assert!(
            said.contains("1 play of tracks the library does not have stays in"),
            "{said}"
        );
        assert_eq!(
            recorder.close_interrupted().unwrap(),
            0,
            "the kept play's open row was completed"
        );
        let rows: Vec<(i64, i64, i64, String, i64, Option<String>)> = recorder
            .database()
            .conn()
            .prepare("SELECT track_id, started_at, ended_at, end_reason, session_id, end_source FROM plays ORDER BY id")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = Some("key".to_owned());
        assert_eq!(
            rows,
            [
                (1, 1_000_000, 1_200_000, "finished".into(), 1, key.clone()),
                (2, 1_200_000, 1_230_000, "finished".into(), 1, key)
            ]
        );
        assert_eq!(
            kept::read(&file).unwrap().plays.len(),
            1,
            "the play of the track gone stays"
        );
        assert_eq!(recorder.write_kept(), None, "nothing new to say");

        // A crash before the file was rewritten leaves plays written already in it: written
        // again, they change nothing.
        kept::append(&file, &kept[..2]).unwrap();
        recorder.write_kept();
        let count: i64 = recorder
            .database()
            .conn()
            .query_row("SELECT count(*) FROM plays", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 2);
        assert_eq!(kept::read(&file).unwrap().plays.len(), 1);

        // A line cut short by a crash is moved aside alone: the plays before it are written,
        // and the player starts.
        std::fs::remove_file(&file).unwrap();
        recorder
            .database()
            .conn()
            .execute("DELETE FROM plays WHERE track_id = 2", [])
            .unwrap();
        kept::append(&file, &kept[1..2]).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"track_id\": 1,"))
            .unwrap();
        let said = recorder.write_kept().unwrap();
        assert!(
            said.starts_with("wrote 1 play ")
                && said.contains("1 line not a kept play (line 2: ")
                && said.contains("moved to"),
            "{said}"
        );
        assert!(!file.exists());
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("skipless.db-kept.damaged-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
    }

    /// A play paused for longer than the session gap is part of a new session from its resume,
    /// and so is what follows; a shorter pause changes nothing.
    #[test]
    fn a_pause_longer_than_the_session_gap_begins_a_new_session() {
        let (mut recorder, now) = setup();
        let gap = LogConfig::default().session_gap_ms();
        let started = |track| Event::Started {
            item: item(track),
            duration_ms: Some(200_000),
        };
        let ended = |track| Event::Ended {
            item: item(track),
            cause: EndReason::Finished,
            position_ms: 200_000,
            played_ms: 200_000,
            error: None,
            by: None,
        };
        let pause_for = |recorder: &mut Recorder, ms: i64| {
            recorder
                .record(&Event::Paused {
                    track_id: 1,
                    position_ms: 1_000,
                })
                .into_result()
                .unwrap();
            now.fetch_add(ms, Ordering::SeqCst);
            recorder
                .record(&Event::Resumed {
                    track_id: 1,
                    position_ms: 1_000,
                })
                .into_result()
                .unwrap();
        };
        recorder.record(&started(2)).into_result().unwrap();
        recorder.record(&ended(2)).into_result().unwrap();
        recorder.record(&started(1)).into_result().unwrap();
        pause_for(&mut recorder, gap / 2);
        assert_eq!(
            recorder.session_now().unwrap(),
            Some(1),
            "a short pause: the same session"
        );
        pause_for(&mut recorder, gap + 1);
        let first = recorder.record(&ended(1)).into_result().unwrap().unwrap();
        assert_eq!(first.session_id, 2, "the paused play is in the new session");
        recorder.record(&started(3)).into_result().unwrap();
        let rows: Vec<(i64, i64, i64)> = recorder
            .database()
            .conn()
            .prepare("SELECT track_id, session_id, position FROM plays ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(2, 1, 0), (1, 2, 0), (3, 2, 1)]);

        // Paused past the gap and ended without a resume (next, in the morning): the same.
        recorder
            .record(&Event::Paused {
                track_id: 3,
                position_ms: 1_000,
            })
            .into_result()
            .unwrap();
        now.fetch_add(gap + 1, Ordering::SeqCst);
        let third = recorder.record(&ended(3)).into_result().unwrap().unwrap();
        assert_eq!(third.session_id, 3);
        assert_eq!(recorder.session_now().unwrap(), Some(3), "the next play joins it");
    }

    #[test]
    fn progress_is_saved_and_an_open_play_is_closed_as_interrupted() {
        let (mut recorder, now) = setup();
        recorder
            .record(&Event::Started {
                item: item(1),
                duration_ms: Some(200_000),
            })
            .into_result()
            .unwrap();
        for second in 1..=12u64 {
            now.fetch_add(1_000, Ordering::SeqCst);
            let position = Event::Position {
                track_id: 1,
                position_ms: second * 1000,
                played_ms: second * 1000,
            };
            recorder.record(&position).into_result().unwrap();
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
