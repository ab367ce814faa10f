//! Playback control shared by the TUI and the headless player ([`Controller`], [`NowPlaying`]).
//!
//! The controller owns the [`Queue`] and the [`Recorder`], turns the listener's intents
//! (next, previous, play this) into engine [`Command`]s, and folds engine [`Event`]s back into
//! its state and the log. It never touches audio itself.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::autoplay::{NotToPick, RadioSeed};
use super::library::{EntryEdit, LibraryIndex};
use super::queue::{Queue, QueueEntry, Repeat};
use crate::clock::now_ms;
use crate::config::{PlaybackConfig, ReplayGainMode};
use crate::db::{marks, playlists, DbError};
use crate::log::Recorder;
use crate::marks::{Mark, MarkChange};
use crate::play::{CompletedPlay, ControlSource, EndReason, PlaySource};
use crate::player::{Command, Event, PlayItem, SeekTo};
use crate::recommend::infer::{by_turned_down, turned_down_artists, Scored};
use crate::track::{Name, Track};

/// How many completed plays [`Controller::history`] keeps at least.
pub(crate) const HISTORY_KEPT: usize = 1_000;

/// What is playing now.
#[derive(Debug, Clone, PartialEq)]
pub struct NowPlaying {
    pub entry: QueueEntry,
    pub position_ms: u64,
    pub duration_ms: Option<u64>,
    pub paused: bool,
    /// When it started (Unix ms): a ban given since, from anywhere, is a ban of this play.
    pub started_ms: i64,
}

/// Something the caller may want to show or act on after an engine event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// A play was completed in the log.
    Logged(CompletedPlay),
    /// A track could not be played; playback went on with the next one.
    TrackError(String),
    /// Playback is over: the queue ran out (or `next` went past its end), or it was `stopped`
    /// on request (a key, a command, the desktop).
    Stopped { stopped: bool },
    /// The event could not be written to the log (the database's error, in one line); playback
    /// state followed it all the same.
    LogFailed(String),
}

/// How many of the entries sent as next since the last `Started` are kept.
const NEXT_SENT_KEPT: usize = 8;

/// The longest line commands wait for a track switched to to start: an output starts one in
/// milliseconds.
const SWITCH_WAIT: Duration = Duration::from_secs(2);

pub struct Controller {
    commands: Sender<Command>,
    recorder: Recorder,
    replaygain: ReplayGainMode,
    fallback_gain_db: f32,
    pub queue: Queue,
    pub now: Option<NowPlaying>,
    pub volume: u8,
    /// Muted, the volume to come back to.
    pub muted_at: Option<u8>,
    /// Plays completed since this controller started, after those of the session it carried on
    /// (a restart within the session gap), oldest first; the last
    /// [`HISTORY_KEPT`] to [`HISTORY_KEPT`] × 2 of them, so that a player running for days
    /// does not grow with every play (the log has them all).
    pub history: Vec<(Track, CompletedPlay)>,
    /// The radio playing: autoplay favours its seed until the listener plays something else.
    pub radio: Option<RadioSeed>,
    /// How the last play ended, for the `Idle` after it. After an error, or after a track that
    /// ended before the engine was told what follows it (a file of a few milliseconds, or a
    /// damaged one that decodes to almost nothing), the queue moves on by itself.
    last_end: Option<EndReason>,
    /// Why the listener stopped the engine, until the `Idle` that follows (or, with nothing
    /// playing, until the next play): it outlives the `Started` of a play the engine began
    /// before it took the stop, which would otherwise make the stop read as the queue running
    /// out.
    stopping: Option<EndReason>,
    /// Playback last ended because the queue ran out (not on a stop): a press of play then goes
    /// on to whatever was queued since, rather than playing the last track again.
    ran_out: bool,
    /// The entries the engine was told follow the current one since the last `Started`: it may
    /// have gone on to any of them, gaplessly, before hearing of the next. Kept in case the
    /// queue lets go of one before its `Started` arrives.
    next_sent: Vec<QueueEntry>,
    /// A `Play` was sent whose `Started` has not come: the next `Started` is taken for the entry
    /// the cursor was put on. (A gapless `Started` already on its way when the `Play` was sent
    /// takes the flag instead; it is then found by track id, as before the flag.)
    play_sent: bool,
    /// When the last play was sent.
    play_sent_at: Option<Instant>,
    /// The engine's `Started`s handled so far, sent with each `Play` so that the engine can tell
    /// a `next` aimed at a play that has just ended from one aimed at the play after it.
    starts_seen: u64,
    /// The engine has a play: from a `Play` sent until its `Idle`. `now` alone would say
    /// "stopped" while a play is on its way, and between two plays joined gaplessly.
    engine_busy: bool,
    /// Tracks the listener took out of the queue, with the session they were taken out in:
    /// "not now", so autoplay does not bring them back in that session. The last
    /// [`REMOVED_KEPT`].
    removed: Vec<(i64, Option<i64>)>,
}

/// How many tracks taken out of the queue are remembered.
const REMOVED_KEPT: usize = 256;

/// Past this far into a track, "previous" restarts it rather than going back.
const RESTART_AFTER_MS: u64 = 3_000;

impl Controller {
    pub(crate) fn new(commands: Sender<Command>, recorder: Recorder, playback: &PlaybackConfig) -> Self {
        Self {
            commands,
            recorder,
            replaygain: playback.replaygain,
            fallback_gain_db: playback.replaygain_fallback_db,
            queue: Queue::default(),
            now: None,
            volume: playback.volume,
            muted_at: None,
            history: Vec::new(),
            radio: None,
            last_end: None,
            stopping: None,
            ran_out: false,
            next_sent: Vec::new(),
            play_sent: false,
            play_sent_at: None,
            starts_seen: 0,
            engine_busy: false,
            removed: Vec::new(),
        }
    }

    pub(crate) fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Removes or swaps entries of the saved playlist `name`: one small transaction on this
    /// thread, like a like, so that edits land in the order the keys were pressed. False when
    /// the playlist or an entry is missing.
    pub(crate) fn edit_playlist(&mut self, name: &str, edit: EntryEdit) -> Result<bool, DbError> {
        let db = self.recorder.database_mut();
        let now = now_ms();
        let done = match edit {
            EntryEdit::Remove(at) => playlists::remove_entry(db.conn_mut(), name, at, now),
            EntryEdit::Swap(a, b) => playlists::swap_entries(db.conn_mut(), name, a, b, now),
        };
        done.map_err(|e| db.err(e))
    }

    /// Keeps the listener's timing shift of a track's synced lyrics (a small write, like a like).
    pub(crate) fn shift_lyrics(&mut self, track_id: i64, shift_ms: i64) -> Result<(), DbError> {
        let db = self.recorder.database();
        crate::db::lyrics::set_shift(db.conn(), track_id, shift_ms).map_err(|e| db.err(e))
    }

    /// Likes, unlikes, bans or unbans a track: written to the log's database at once. A ban
    /// also drops the track's upcoming autoplay picks and, when it is playing, skips it (logged
    /// by the skip rule like any skip).
    pub(crate) fn mark(
        &mut self,
        track_id: i64,
        mark: Mark,
        on: bool,
        by: ControlSource,
    ) -> Result<MarkChange, DbError> {
        let db = self.recorder.database();
        let change = marks::set(db.conn(), track_id, mark, on, now_ms()).map_err(|e| db.err(e))?;
        if mark == Mark::Ban && on {
            self.queue.drop_autoplay_picks(|t| t.id == track_id);
            if self.now.as_ref().is_some_and(|n| n.entry.track.id == track_id) {
                self.next(by);
            } else {
                self.refresh_next();
            }
        }
        Ok(change)
    }

    // Every intent that can end the play in progress names who asked (`by`): the engine hands
    // it back with the play's `Ended`, so the log records where a skip came from.

    /// Replaces the queue with `tracks` and plays `start`; a radio playing ends.
    pub(crate) fn play_tracks(&mut self, tracks: Vec<Track>, start: usize, source: PlaySource, by: ControlSource) {
        // Nothing at `start` (a playlist entry whose file and every one after it are gone)
        // plays nothing, and leaves the queue as it is.
        if start >= tracks.len() {
            return;
        }
        self.radio = None;
        self.queue.replace(tracks, start, source);
        if self.queue.current().is_some() {
            self.jump(start, EndReason::Skipped, Some(by));
        }
    }

    /// Starts a radio: `first` plays in place of the queue (the tracks the listener queued and has
    /// not heard yet follow it, see [`Queue::replace`]), and autoplay goes on from `seed`.
    /// A radio goes on to new tracks, so a repeat mode (which would loop `first` and hold
    /// autoplay back) is turned off; returns the one turned off, for the listener to be told.
    pub(crate) fn start_radio(&mut self, seed: RadioSeed, first: Track, by: ControlSource) -> Option<Repeat> {
        let repeat = std::mem::replace(&mut self.queue.repeat, Repeat::Off);
        self.play_tracks(vec![first], 0, PlaySource::User, by);
        self.radio = Some(seed);
        (repeat != Repeat::Off).then_some(repeat)
    }

    /// Plays the queue entry at `index` now.
    pub(crate) fn play_index(&mut self, index: usize, by: ControlSource) {
        self.jump(index, EndReason::Skipped, Some(by));
    }

    /// Plays `track` now, put right after the current entry: the rest of the queue stays to
    /// follow it (a search's pick, where the other matches are no list to play on through).
    pub(crate) fn play_now(&mut self, track: Track, by: ControlSource) {
        self.radio = None;
        let at = self.queue.insert_next(QueueEntry {
            track,
            source: PlaySource::User,
            reason: None,
        });
        self.jump(at, EndReason::Skipped, Some(by));
    }

    /// Starts playing while stopped: the current queue entry again, or the first one; after the
    /// queue ran out, the first entry queued since, if any.
    pub(crate) fn start(&mut self, by: ControlSource) {
        if let Some(index) = self.start_index() {
            self.play_index(index, by);
        }
    }

    /// The queue entry [`Controller::start`] would play, which the screen names while stopped.
    pub(crate) fn start_index(&self) -> Option<usize> {
        let queued_since = self.ran_out.then(|| self.queue.next_index()).flatten();
        queued_since
            .or(self.queue.cursor())
            .or((!self.queue.entries().is_empty()).then_some(0))
    }

    /// Moves on to the next entry; the current play ends as a skip (per the skip rule). Where
    /// that skip turns its artist down for the session (see [`turned_down_artists`]), autoplay's
    /// upcoming picks by that artist leave the queue first: they were ranked before the skip.
    pub(crate) fn next(&mut self, by: ControlSource) {
        self.drop_picks_turned_down_by_a_skip();
        match self.queue.skip_index() {
            Some(index) => self.jump(index, EndReason::Skipped, Some(by)),
            None => self.send_stop(EndReason::Skipped, by),
        }
    }

    fn drop_picks_turned_down_by_a_skip(&mut self) {
        let Some(now) = &self.now else { return };
        let rule = self.recorder.skip_rule();
        if !rule.is_skip(EndReason::Skipped, now.position_ms, now.duration_ms, false) {
            return;
        }
        let (mut session, _) = self.autoplay_context();
        if let Some(last) = session.last_mut() {
            last.1 = true;
        }
        let artists: HashMap<i64, &Name> = self
            .history
            .iter()
            .map(|(track, _)| track)
            .chain([&now.entry.track])
            .filter_map(|track| Some((track.id, track.artist.as_ref()?)))
            .collect();
        let turned_down = turned_down_artists(&session, |id| artists.get(&id).copied());
        if turned_down.is_empty() {
            return;
        }
        self.queue
            .drop_autoplay_picks(|track| by_turned_down(track, &turned_down));
        self.refresh_next();
    }

    /// Goes back to the previous entry; past the first seconds of a track, or on the first
    /// entry, restarts the track instead, as one play (a replay is no skip).
    pub(crate) fn previous(&mut self, by: ControlSource) {
        let restart = self.now.as_ref().is_some_and(|now| now.position_ms > RESTART_AFTER_MS)
            || (self.now.is_some() && self.queue.previous_index() == self.queue.cursor());
        if restart {
            self.seek(SeekTo::Absolute(Duration::ZERO));
        } else if let Some(index) = self.queue.previous_index() {
            self.jump(index, EndReason::Previous, Some(by));
        }
    }

    pub(crate) fn stop(&mut self, by: ControlSource) {
        self.send_stop(EndReason::Stopped, by);
    }

    /// Whether the listener stopped playback since the last play ended (a stop with nothing
    /// playing reaches the engine as no event at all).
    pub(crate) fn stopped_by_listener(&self) -> bool {
        !self.has_play() && self.stopping == Some(EndReason::Stopped)
    }

    /// A stop pressed with nothing playing (which no engine event answers) is forgotten: the
    /// listener asked to play since.
    pub(crate) fn forget_stop(&mut self) {
        if !self.has_play() {
            self.stopping = None;
        }
    }

    /// Until when line commands wait for a play sent to the engine to start, so that a `status`
    /// or a `seek` sent after a `next` is about the track `next` went to; `None` when none is
    /// on its way. The wait is bounded ([`SWITCH_WAIT`]): an output that stalls must not hold
    /// back `quit`.
    pub(crate) fn switching_until(&self) -> Option<Instant> {
        self.play_sent_at
            .filter(|_| self.play_sent && self.engine_busy)
            .map(|sent| sent + SWITCH_WAIT)
            .filter(|&until| Instant::now() < until)
    }

    /// Whether the engine plays or is about to (paused counts).
    pub(crate) fn has_play(&self) -> bool {
        self.engine_busy || self.now.is_some()
    }

    /// Pauses or resumes; while stopped, starts playing (see [`Controller::start`]).
    pub(crate) fn toggle(&mut self, by: ControlSource) {
        if self.has_play() {
            self.send(Command::Toggle);
        } else {
            self.start(by);
        }
    }

    pub(crate) fn pause(&mut self) {
        self.send(Command::Pause);
    }

    /// Resumes a paused play; while stopped, starts playing (see [`Controller::start`]).
    pub(crate) fn resume(&mut self, by: ControlSource) {
        if self.has_play() {
            self.send(Command::Resume);
        } else {
            self.start(by);
        }
    }

    /// Seeks; the position shown moves at once (a status asked for next reads it), and the
    /// engine's `Seeked` sets where it landed.
    pub(crate) fn seek(&mut self, to: SeekTo) {
        let Some(now) = self.now.as_mut() else { return };
        let target = to.target_ms(now.position_ms);
        now.position_ms = now.duration_ms.map_or(target, |d| target.min(d));
        let track_id = now.entry.track.id;
        self.send(Command::Seek { track_id, to });
    }

    /// Sets the volume; a muted player is unmuted by it.
    pub(crate) fn set_volume(&mut self, volume: u8) {
        self.muted_at = None;
        self.volume = volume.min(100);
        self.send(Command::Volume(self.volume));
    }

    /// Mutes, or unmutes back to the volume before; says which, in the player's words.
    pub(crate) fn toggle_mute(&mut self) -> String {
        match self.muted_at {
            Some(level) => {
                self.set_volume(level);
                format!("volume {level}")
            }
            None => {
                let level = self.volume;
                self.set_volume(0);
                self.muted_at = Some(level);
                format!("muted (volume {level} when unmuted)")
            }
        }
    }

    /// The volume the listener has set: while muted, the one unmuting goes back to.
    pub(crate) fn set_level(&self) -> u8 {
        self.muted_at.unwrap_or(self.volume)
    }

    /// Asks the engine to end; the play in progress is logged as `quit` when its `Ended` arrives.
    pub(crate) fn shutdown(&mut self) {
        self.send(Command::Shutdown);
    }

    /// What autoplay ranks for: the session so far (track, skipped) with the playing track last,
    /// and the tracks it must not pick ([`Controller::not_to_pick`]). The session is the one the
    /// log puts the playing or next play in ([`Recorder::session_now`]), so a player left idle
    /// past the session gap ranks for a new session, not for the one it carried on at start.
    pub(crate) fn autoplay_context(&self) -> (Vec<(i64, bool)>, NotToPick) {
        // A log that cannot be read now ranks for the session last seen, as before it failed.
        let session_now = self.session_now();
        let mut session: Vec<(i64, bool)> = self
            .history
            .iter()
            .filter(|(_, p)| Some(p.session_id) == session_now)
            .map(|(t, p)| (t.id, p.skipped))
            .collect();
        if let Some(now) = &self.now {
            session.push((now.entry.track.id, false));
        }
        let mut not_to_pick = self.not_to_pick();
        not_to_pick.passed_over.extend(
            self.removed
                .iter()
                .filter(|(_, session)| *session == session_now)
                .map(|&(track, _)| track),
        );
        (session, not_to_pick)
    }

    /// The current session as the log has it, or as last seen when it cannot be read.
    fn session_now(&self) -> Option<i64> {
        let last_session = self.history.last().map(|(_, p)| p.session_id);
        self.recorder.session_now().unwrap_or(last_session)
    }

    /// Takes entry `index` out of the queue (not the playing one), and remembers its track as
    /// turned away for this session.
    pub(crate) fn remove_from_queue(&mut self, index: usize) -> Option<QueueEntry> {
        let removed = self.queue.remove(index)?;
        self.turned_away(&[removed.track.id]);
        self.refresh_next();
        Some(removed)
    }

    /// Takes every entry after the playing one out of the queue. Autoplay's picks among them are
    /// remembered as [`Controller::remove_from_queue`] remembers one, so that autoplay does not
    /// bring them straight back; the listener's own entries are not, for clearing a list they
    /// queued says nothing against its tracks. How many were taken out.
    pub(crate) fn clear_upcoming(&mut self) -> usize {
        let cleared = self.queue.clear_upcoming();
        let picks: Vec<i64> = cleared
            .iter()
            .filter(|e| e.source == PlaySource::Autoplay)
            .map(|e| e.track.id)
            .collect();
        self.turned_away(&picks);
        self.refresh_next();
        cleared.len()
    }

    /// Remembers `track_ids` as taken out of the queue in this session, the last
    /// [`REMOVED_KEPT`] of all kept.
    fn turned_away(&mut self, track_ids: &[i64]) {
        let session = self.session_now();
        let newest = &track_ids[track_ids.len().saturating_sub(REMOVED_KEPT)..];
        let excess = (self.removed.len() + newest.len()).saturating_sub(REMOVED_KEPT);
        self.removed.drain(..excess);
        self.removed.extend(newest.iter().map(|&id| (id, session)));
    }

    /// The tracks autoplay must not pick: the ones the listener queued, those of their entries
    /// passed over unheard (a list started from its fifth track), and the queue's current
    /// entry, which between a skip and the engine's `Started` is the one about to play while
    /// `now` still names the old one (the old one is the session's last).
    fn not_to_pick(&self) -> NotToPick {
        let heard: HashSet<i64> = self.history.iter().map(|(track, _)| track.id).collect();
        let cursor = self.queue.cursor();
        let mut not_to_pick = NotToPick::default();
        for (i, e) in self.queue.entries().iter().enumerate() {
            let before_cursor = cursor.is_some_and(|c| i < c);
            if e.source == PlaySource::Autoplay || Some(i) == cursor {
                continue;
            }
            if !before_cursor {
                not_to_pick.waiting.push(e.track.id);
            } else if !heard.contains(&e.track.id) {
                not_to_pick.passed_over.push(e.track.id);
            }
        }
        not_to_pick
            .waiting
            .extend(self.queue.current().map(|current| current.track.id));
        not_to_pick
    }

    /// Replaces the autoplay part of the queue with `picks`, each with its reason (the ranking
    /// they come from is said once, in the model's status), looking their tracks up with
    /// `track`, and tells the engine what now comes next.
    ///
    /// Picks ranked before a skip arrive after it, when the queue has moved on: a pick that is
    /// now the queue's current entry, the playing track or a listener-queued one is left out,
    /// so that a skipped track never plays again at once. While the queue repeats, autoplay
    /// adds nothing: its picks would keep the queue from ever coming round again.
    pub(crate) fn set_autoplay_picks(&mut self, picks: &[Scored], track: impl Fn(i64) -> Option<Track>) {
        if self.queue.repeat != Repeat::Off {
            return;
        }
        let not_to_pick = self.not_to_pick();
        let mut taken: Vec<i64> = not_to_pick.waiting.into_iter().chain(not_to_pick.passed_over).collect();
        taken.extend(self.now.as_ref().map(|now| now.entry.track.id));
        let entries = picks
            .iter()
            .filter(|pick| !taken.contains(&pick.track_id))
            .filter_map(|pick| {
                Some(QueueEntry {
                    track: track(pick.track_id)?,
                    source: PlaySource::Autoplay,
                    reason: Some(pick.reason.clone()),
                })
            })
            .collect();
        self.queue.set_autoplay(entries);
        self.refresh_next();
    }

    /// Sets the repeat mode. Repeating, the queue is the listener's alone: autoplay's upcoming
    /// picks leave it (see [`Controller::set_autoplay_picks`]).
    pub(crate) fn set_repeat(&mut self, repeat: Repeat) {
        self.queue.repeat = repeat;
        if repeat != Repeat::Off {
            self.queue.set_autoplay(Vec::new());
        }
        self.refresh_next();
    }

    /// Puts the upcoming tracks in a new order: a one-off reordering of what is queued, not a
    /// mode (tracks queued later keep their place, and nothing shows a "shuffle on" that nothing
    /// would follow). Says what it did, or why it did nothing.
    pub(crate) fn shuffle_upcoming(&mut self) -> Result<String, String> {
        let shuffled = self.queue.shuffle_upcoming(now_ms() as u64);
        self.refresh_next();
        let picks = self.queue.upcoming().iter().any(|e| e.source == PlaySource::Autoplay);
        match (shuffled > 1, picks) {
            (true, _) => Ok(format!("shuffled the {shuffled} upcoming tracks")),
            (false, false) => Err("nothing to shuffle: fewer than two tracks are queued after this one".to_owned()),
            (false, true) => Err(
                "nothing to shuffle: fewer than two of your tracks are queued after this one \
                 (autoplay's picks keep their ranked order)"
                    .to_owned(),
            ),
        }
    }

    /// Follows a new copy of the library (see [`Queue::follow_library`]), and drops the autoplay
    /// picks of tracks it has banned (a ban made in another process); says what it removed.
    pub(crate) fn follow_library(&mut self, library: &LibraryIndex) -> Option<String> {
        let removed = self.queue.follow_library(|id| library.track(id));
        self.queue.drop_autoplay_picks(|t| library.marks.is_banned(t.id));
        // A ban given from a shell (`skipless ban PATH`) to the track playing skips it, as one
        // given here does. One older than the play stands for a track played on purpose.
        let banned_while_playing = self.now.as_ref().is_some_and(|now| {
            library
                .marks
                .banned
                .get(&now.entry.track.id)
                .is_some_and(|&at| at >= now.started_ms)
        });
        if banned_while_playing {
            self.next(ControlSource::Remote);
        }
        self.refresh_next();
        let first = removed.first()?;
        let more = match removed.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        Some(format!(
            "removed from the queue, the file is gone: {}{more}",
            first.path.display()
        ))
    }

    /// Adds `tracks` to the queue, before autoplay's picks; returns how many.
    pub(crate) fn enqueue(&mut self, tracks: Vec<Track>) -> usize {
        let n = tracks.len();
        self.queue.enqueue(tracks);
        self.refresh_next();
        n
    }

    /// Queues `tracks` to play right after the current one, before everything queued.
    pub(crate) fn enqueue_next(&mut self, tracks: Vec<Track>) -> usize {
        let n = tracks.len();
        self.queue.enqueue_next(tracks);
        self.refresh_next();
        n
    }

    /// Tells the engine what follows the current entry, for gapless playback.
    pub(crate) fn refresh_next(&mut self) {
        let next = self
            .queue
            .next_index()
            .and_then(|i| self.queue.entries().get(i))
            .cloned();
        let item = next.as_ref().map(|entry| self.item(entry));
        if let Some(entry) = next {
            // Without a `Started` (stopped, the queue edited over and over) only the last few
            // can matter.
            if self.next_sent.len() == NEXT_SENT_KEPT {
                self.next_sent.remove(0);
            }
            self.next_sent.push(entry);
        }
        self.send(Command::SetNext(item));
    }

    /// Moves the queue onto the entry the engine started. That may be the entry it was told
    /// follows, which the queue no longer holds: autoplay's new picks replace the upcoming ones,
    /// and they can arrive after the engine already went on to the old first pick but before
    /// its `Started`. That entry is put back where it plays, so that the screen, `status` and
    /// the session's history name the track that is heard.
    fn follow_engine_to(&mut self, track_id: i64) {
        let sent = std::mem::take(&mut self.next_sent);
        // Gone on by itself, the engine plays the entry after the cursor, even when that is the
        // same track again (queued twice, or a playlist that repeats it).
        let went_on = !std::mem::take(&mut self.play_sent);
        let next = self.queue.next_index();
        if let Some(next) = next.filter(|&i| went_on && self.queue.entries()[i].track.id == track_id) {
            self.queue.set_cursor(next);
            return;
        }
        // Gone on to the entry it was told follows, which new picks put further down: it plays
        // next, and the picks it would pass stay to come rather than count as heard. (An entry
        // the listener chose further down was not told to follow: the entries before it are
        // passed over, below.)
        let told = sent.iter().any(|e| e.track.id == track_id);
        let upcoming = self.queue.cursor().map_or(0, |c| c + 1)..self.queue.entries().len();
        let further = upcoming
            .filter(|_| went_on && told)
            .find(|&i| self.queue.entries()[i].track.id == track_id);
        if let Some(entry) = further.and_then(|i| self.queue.remove(i)) {
            self.queue.insert_playing(entry);
            return;
        }
        if self.queue.sync_to(track_id) {
            return;
        }
        if let Some(entry) = sent.into_iter().rev().find(|e| e.track.id == track_id) {
            self.queue.insert_playing(entry);
            self.queue.drop_autoplay_picks(|t| t.id == track_id);
        }
    }

    /// Folds an engine event into the state and the log.
    pub(crate) fn handle(&mut self, event: &Event) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        // A failed write does not stop the state from following the engine: otherwise the
        // queue would stay on the old entry and play it again.
        let recorded = self.recorder.record(event);
        if let Some(e) = recorded.error {
            let waiting = match self.recorder.unwritten() {
                0 => String::new(),
                n => format!(
                    " ({} kept, to be written when the database takes them)",
                    crate::fmt::count(n as u64, "play")
                ),
            };
            outcomes.push(Outcome::LogFailed(format!("{e}{waiting}")));
        }
        if let Some(completed) = recorded.completed {
            // Tracks taken out before the session had a play are taken out of the one it began.
            for (_, session) in self.removed.iter_mut().filter(|(_, s)| s.is_none()) {
                *session = Some(completed.session_id);
            }
            if let Some(now) = self.now.take().filter(|n| n.entry.track.id == completed.track_id) {
                self.history.push((now.entry.track, completed.clone()));
                if self.history.len() >= 2 * HISTORY_KEPT {
                    self.history.drain(..HISTORY_KEPT);
                }
            }
            outcomes.push(Outcome::Logged(completed));
        }
        match event {
            Event::Started { item, duration_ms } => {
                self.starts_seen += 1;
                self.last_end = None;
                self.follow_engine_to(item.track_id);
                if let Some(entry) = self.queue.current().cloned() {
                    let duration_ms = duration_ms.or(entry.track.duration_ms);
                    self.now = Some(NowPlaying {
                        entry,
                        position_ms: 0,
                        duration_ms,
                        paused: false,
                        started_ms: now_ms(),
                    });
                }
                self.refresh_next();
            }
            Event::Position {
                track_id, position_ms, ..
            }
            | Event::Seeked { track_id, position_ms } => {
                if let Some(now) = self.now.as_mut().filter(|n| n.entry.track.id == *track_id) {
                    now.position_ms = *position_ms;
                }
            }
            Event::Paused { position_ms, .. } | Event::Resumed { position_ms, .. } => {
                if let Some(now) = self.now.as_mut() {
                    now.paused = matches!(event, Event::Paused { .. });
                    now.position_ms = *position_ms;
                }
            }
            Event::Ended {
                cause: EndReason::Error,
                error,
                item,
                ..
            } => {
                let reason = if item.path.exists() {
                    error.clone().unwrap_or_else(|| "cannot play this file".into())
                } else {
                    "the file is gone (moved or deleted): skipped".into()
                };
                let reason = if reason.contains(&*item.path.to_string_lossy()) {
                    reason
                } else {
                    format!("{}: {reason}", item.path.display())
                };
                outcomes.push(Outcome::TrackError(reason));
                self.last_end = Some(EndReason::Error);
            }
            Event::Ended { cause, .. } => self.last_end = Some(*cause),
            // The engine's echo of a volume set here: in a burst of changes, the late echoes of
            // the first ones must not move it back (nor have the last run's volume saved).
            Event::Volume(_) => {}
            Event::Idle => {
                self.now = None;
                self.engine_busy = false;
                let last_end = self.stopping.take().or(self.last_end.take());
                let next = match last_end {
                    Some(EndReason::Error) => self.queue.skip_index(),
                    Some(EndReason::Finished) => self.queue.next_index(),
                    _ => None,
                };
                match next {
                    Some(index) => self.jump(index, EndReason::Finished, None),
                    None => {
                        let stopped = last_end == Some(EndReason::Stopped);
                        self.ran_out = !stopped;
                        outcomes.push(Outcome::Stopped { stopped });
                    }
                }
            }
        }
        outcomes
    }

    /// The engine item for a queue entry, with the configured ReplayGain.
    pub(crate) fn item(&self, entry: &QueueEntry) -> PlayItem {
        let track = &entry.track;
        let rg = &track.replay_gain;
        let tagged = match self.replaygain {
            ReplayGainMode::Track => rg
                .track_gain
                .map(|g| (g, rg.track_peak))
                .or(rg.album_gain.map(|g| (g, rg.album_peak))),
            ReplayGainMode::Album => rg
                .album_gain
                .map(|g| (g, rg.album_peak))
                .or(rg.track_gain.map(|g| (g, rg.track_peak))),
            ReplayGainMode::Off => Some((0.0, None)),
        };
        // The gain may lift the loudest sample to full scale, no further: the tagged peak caps it,
        // as the ReplayGain specification has players do, rather than clipping.
        let gain_db = match tagged {
            Some((gain, Some(peak))) if peak > 0.0 => gain.min(-20.0 * peak.log10()),
            Some((gain, _)) => gain,
            None => self.fallback_gain_db,
        };
        PlayItem {
            track_id: track.id,
            path: track.path.clone(),
            duration_ms: track.duration_ms,
            gain_db,
            source: entry.source,
        }
    }

    fn jump(&mut self, index: usize, ended_by: EndReason, by: Option<ControlSource>) {
        let Some(entry) = self.queue.entries().get(index).cloned() else {
            return;
        };
        self.queue.set_cursor(index);
        self.stopping = None;
        // The engine drops whatever it had as next for this play.
        self.next_sent.clear();
        self.play_sent = true;
        self.play_sent_at = Some(Instant::now());
        self.engine_busy = true;
        self.send(Command::Play {
            item: self.item(&entry),
            ended_by,
            by,
            seen_starts: Some(self.starts_seen),
        });
    }

    /// Stops the engine: once it takes this, it has no play, whatever it still reports.
    fn send_stop(&mut self, ended_by: EndReason, by: ControlSource) {
        self.engine_busy = false;
        // A play stopped before its `Started` ends with no `Ended`: the `Idle` that follows
        // must still know why playback is over.
        self.stopping = Some(ended_by);
        self.send(Command::Stop { ended_by, by: Some(by) });
    }

    fn send(&self, command: Command) {
        // The engine thread only goes away at shutdown; a command sent after that has nothing to do.
        let _ = self.commands.send(command);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LogConfig;
    use crate::db::Database;
    use crate::log::SystemClock;

    fn track(id: i64) -> Track {
        Track::placeholder(id)
    }

    fn controller() -> (Controller, crossbeam_channel::Receiver<Command>) {
        let db = Database::in_memory_with_tracks(1..=4);
        let recorder = Recorder::new(db, &LogConfig::default(), Box::new(SystemClock));
        let (tx, rx) = crossbeam_channel::unbounded();
        (Controller::new(tx, recorder, &PlaybackConfig::default()), rx)
    }

    fn pick(track_id: i64) -> Scored {
        Scored {
            track_id,
            score: 1.0,
            reason: String::new(),
        }
    }

    fn ended(item: PlayItem) -> Event {
        Event::Ended {
            item,
            cause: EndReason::Finished,
            position_ms: 1_000,
            played_ms: 1_000,
            error: None,
            by: None,
        }
    }

    fn carried(track_id: i64, session_id: i64, ended_ago_minutes: i64) -> (Track, CompletedPlay) {
        let play = CompletedPlay {
            play_id: Some(track_id),
            track_id,
            session_id,
            played_ms: 1_000,
            end_reason: EndReason::Finished,
            skipped: track_id == 2,
            end_source: None,
            ended_at: crate::clock::now_ms() - ended_ago_minutes * 60_000,
        };
        (track(track_id), play)
    }

    /// The session autoplay ranks for is the one the next play joins: the carried session while
    /// its last play ended within the gap, a new one after, and the playing play's own.
    #[test]
    fn autoplay_ranks_for_the_session_the_next_play_joins() {
        let (mut c, _commands) = controller();
        let session_ended = |c: &Controller, ago_minutes: i64| {
            let last_at = crate::clock::now_ms() - ago_minutes * 60_000;
            let conn = c.recorder.database().conn();
            conn.execute("DELETE FROM sessions", []).unwrap();
            conn.execute(
                "INSERT INTO sessions (id, started_at, last_at) VALUES (7, ?1, ?1)",
                [last_at],
            )
            .unwrap();
        };
        session_ended(&c, 10);
        c.history = vec![carried(1, 7, 50), carried(2, 7, 10)];
        assert_eq!(
            c.autoplay_context().0,
            [(1, false), (2, true)],
            "within the gap: carried on"
        );

        session_ended(&c, 45);
        c.history = vec![carried(1, 7, 90), carried(2, 7, 45)];
        assert!(c.autoplay_context().0.is_empty(), "idle past the gap: a new session");

        c.play_tracks(vec![track(3)], 0, PlaySource::User, ControlSource::Key);
        let item = c.item(&c.queue.entries()[0].clone());
        c.handle(&Event::Started {
            item,
            duration_ms: Some(60_000),
        });
        assert_eq!(
            c.autoplay_context().0,
            [(3, false)],
            "the playing track starts the new session"
        );
    }

    /// Autoplay picks none of the listener's entries: those to come, the current one, and those
    /// passed over unheard (a list started from its third track); a track heard earlier may
    /// come back.
    #[test]
    fn autoplay_picks_none_of_the_listeners_entries_passed_over_or_to_come() {
        let (mut c, _commands) = controller();
        c.history = vec![carried(1, 7, 5)];
        c.play_tracks((1..=4).map(track).collect(), 2, PlaySource::User, ControlSource::Key);
        let not_to_pick = c.autoplay_context().1;
        assert_eq!(not_to_pick.passed_over, [2], "passed over, waiting for nothing");
        let mut taken: Vec<i64> = not_to_pick.waiting.into_iter().chain(not_to_pick.passed_over).collect();
        taken.sort_unstable();
        taken.dedup();
        assert_eq!(taken, [2, 3, 4], "1 was heard; 2 passed over, 3 current, 4 to come");
    }

    /// A track taken out of the queue is not brought back by autoplay in that session; in the
    /// next one it may come again.
    #[test]
    fn a_track_taken_out_of_the_queue_is_not_picked_again_that_session() {
        let (mut c, _commands) = controller();
        c.history = vec![carried(1, 7, 5)];
        c.play_tracks((1..=3).map(track).collect(), 0, PlaySource::User, ControlSource::Key);
        let removed = c.remove_from_queue(2).map(|e| e.track.id);
        assert_eq!(removed, Some(3));
        assert!(c.autoplay_context().1.passed_over.contains(&3));
        assert!(c.remove_from_queue(0).is_none(), "the playing entry stays");
        c.removed[0].1 = Some(6);
        assert!(!c.autoplay_context().1.passed_over.contains(&3), "an earlier session's");
    }

    /// Clearing the queue turns away autoplay's picks for the session, not the tracks the
    /// listener queued: clearing a list says nothing against its tracks.
    #[test]
    fn clearing_the_queue_turns_away_autoplays_picks_only() {
        let (mut c, _commands) = controller();
        c.history = vec![carried(1, 7, 5)];
        c.play_tracks((1..=3).map(track).collect(), 0, PlaySource::User, ControlSource::Key);
        let picks = (5..=6)
            .map(|id| QueueEntry {
                track: track(id),
                source: PlaySource::Autoplay,
                reason: None,
            })
            .collect();
        c.queue.set_autoplay(picks);
        assert_eq!(c.clear_upcoming(), 4);
        let mut passed_over = c.autoplay_context().1.passed_over;
        passed_over.sort_unstable();
        assert_eq!(passed_over, [5, 6]);
    }

    /// A radio under a repeat mode would loop its first track: starting one turns repeat off
    /// and says which mode it was.
    #[test]
    fn a_radio_turns_repeat_off_and_says_so() {
        let (mut c, _commands) = controller();
        c.queue.repeat = Repeat::One;
        let seed = RadioSeed::of_track(&track(2));
        assert_eq!(
            c.start_radio(seed.clone(), track(2), ControlSource::Key),
            Some(Repeat::One)
        );
        assert_eq!(c.queue.repeat, Repeat::Off);
        assert_eq!(c.radio, Some(seed.clone()));
        assert_eq!(c.start_radio(seed, track(3), ControlSource::Key), None);
    }

    /// Line commands wait for a play on its way, for a bounded while, and not once it started.
    #[test]
    fn line_commands_wait_for_a_play_on_its_way_for_a_while_at_most() {
        let (mut c, _commands) = controller();
        assert_eq!(c.switching_until(), None);
        c.play_tracks(vec![track(1)], 0, PlaySource::User, ControlSource::Key);
        let until = c.switching_until().expect("a play on its way");
        assert!(until <= Instant::now() + SWITCH_WAIT);
        let item = c.item(&c.queue.entries()[0].clone());
        c.handle(&Event::Started {
            item,
            duration_ms: None,
        });
        assert_eq!(c.switching_until(), None);
    }

    /// The engine's echoes of a burst of volume changes, arriving late, leave the last one.
    #[test]
    fn late_echoes_of_a_burst_of_volume_changes_leave_the_last_one() {
        let (mut c, _commands) = controller();
        for volume in [95, 90, 85] {
            c.set_volume(volume);
        }
        for echo in [95, 90] {
            c.handle(&Event::Volume(echo));
        }
        assert_eq!(c.volume, 85);
    }

    /// A list played from a place it does not have (every entry from there gone from the
    /// library) plays nothing and leaves the queue, and what the listener queued, as it was.
    #[test]
    fn a_list_played_from_past_its_end_leaves_the_queue_alone() {
        let (mut c, commands) = controller();
        c.play_tracks(vec![track(1)], 0, PlaySource::User, ControlSource::Key);
        c.enqueue(vec![track(2)]);
        let _ = commands.try_iter().count();
        c.play_tracks(vec![track(3)], 1, PlaySource::User, ControlSource::Key);
        let ids: Vec<i64> = c.queue.entries().iter().map(|e| e.track.id).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(commands.try_iter().count(), 0, "nothing sent to the engine");
    }

    /// A stop that lands before the play's `Started` (the engine then reports no `Ended`) is a
    /// stop; `next` past the end of the queue is the queue running out.
    #[test]
    fn a_stop_before_the_play_started_is_told_from_the_queue_running_out() {
        let (mut c, _commands) = controller();
        c.play_tracks(vec![track(1)], 0, PlaySource::User, ControlSource::Key);
        c.stop(ControlSource::Mpris);
        assert_eq!(c.handle(&Event::Idle), [Outcome::Stopped { stopped: true }]);
        c.play_tracks(vec![track(1)], 0, PlaySource::User, ControlSource::Key);
        c.next(ControlSource::Stdin);
        assert_eq!(c.handle(&Event::Idle), [Outcome::Stopped { stopped: false }]);
    }

    #[test]
    fn toggle_starts_the_queue_only_when_the_engine_has_no_play() {
        let (mut c, commands) = controller();
        c.play_tracks(vec![track(1)], 0, PlaySource::User, ControlSource::Key);
        let sent = |commands: &crossbeam_channel::Receiver<Command>| commands.try_iter().collect::<Vec<_>>();
        assert!(matches!(sent(&commands)[..], [.., Command::Play { .. }]));
        // The play is on its way (no `Started` yet): a toggle pauses it, it does not play it again.
        c.toggle(ControlSource::Key);
        assert!(matches!(sent(&commands)[..], [Command::Toggle]));
        c.handle(&Event::Idle);
        c.toggle(ControlSource::Key);
        assert!(matches!(sent(&commands)[..], [.., Command::Play { .. }]));
    }

    /// "Previous" past the first seconds, or on the first entry, restarts the track within its
    /// play (a replay is no skip); early in a later entry it goes back one.
    #[test]
    fn previous_restarts_a_track_under_way_and_goes_back_from_its_start() {
        let (mut c, commands) = controller();
        c.play_tracks(vec![track(1), track(2)], 1, PlaySource::User, ControlSource::Key);
        let second = c.item(&c.queue.entries()[1].clone());
        c.handle(&Event::Started {
            item: second,
            duration_ms: Some(200_000),
        });
        let sent = || commands.try_iter().collect::<Vec<_>>();
        drop(sent());
        if let Some(now) = c.now.as_mut() {
            now.position_ms = 10_000;
        }
        c.previous(ControlSource::Key);
        assert!(
            matches!(
                sent()[..],
                [Command::Seek {
                    track_id: 2,
                    to: SeekTo::Absolute(Duration::ZERO)
                }]
            ),
            "restarted"
        );
        if let Some(now) = c.now.as_mut() {
            now.position_ms = 1_000;
        }
        c.previous(ControlSource::Key);
        let played = sent();
        assert!(
            matches!(&played[..], [Command::Play { item, ended_by: EndReason::Previous, .. }] if item.track_id == 1),
            "{played:?}"
        );
        // On the first entry, early or not, it restarts.
        let first = c.item(&c.queue.entries()[0].clone());
        c.handle(&Event::Started {
            item: first,
            duration_ms: Some(200_000),
        });
        c.previous(ControlSource::Key);
        let restarted = sent();
        assert!(
            matches!(restarted[..], [.., Command::Seek { track_id: 1, .. }]),
            "{restarted:?}"
        );
    }

    /// ReplayGain lifts a track only as far as its tagged peak allows: full scale, no clipping.
    #[test]
    fn the_tagged_peak_caps_the_replaygain() {
        let (c, _commands) = controller();
        let mut loud = track(1);
        loud.replay_gain.track_gain = Some(10.0);
        loud.replay_gain.track_peak = Some(0.95);
        let entry = |track: Track| QueueEntry {
            track,
            source: PlaySource::User,
            reason: None,
        };
        let capped = c.item(&entry(loud.clone())).gain_db;
        assert!((capped - 0.4455).abs() < 1e-3, "{capped}");
        loud.replay_gain.track_peak = Some(0.1);
        assert_eq!(c.item(&entry(loud.clone())).gain_db, 10.0, "room below the peak");
        loud.replay_gain.track_peak = None;
        assert_eq!(c.item(&entry(loud)).gain_db, 10.0, "no peak tagged");
    }

    /// A skip that turns an artist down for the session (two of theirs skipped in a row) drops
    /// autoplay's upcoming picks by them before the next one plays: they were ranked before it.
    #[test]
    fn a_skip_that_turns_an_artist_down_drops_their_picks_before_the_next_plays() {
        let by = |id: i64, artist: &str| Track {
            artist: Some(artist.into()),
            ..track(id)
        };
        for first_skipped in [true, false] {
            let (mut c, _commands) = controller();
            c.play_tracks(vec![by(1, "A"), by(2, "A")], 0, PlaySource::User, ControlSource::Key);
            let first = c.item(&c.queue.entries()[0].clone());
            c.handle(&Event::Started {
                item: first.clone(),
                duration_ms: Some(200_000),
            });
            if first_skipped {
                c.next(ControlSource::Key);
            }
            c.handle(&Event::Ended {
                item: first,
                cause: if first_skipped {
                    EndReason::Skipped
                } else {
                    EndReason::Finished
                },
                position_ms: if first_skipped { 1_000 } else { 200_000 },
                played_ms: if first_skipped { 1_000 } else { 200_000 },
                error: None,
                by: None,
            });
            let second = c.item(&c.queue.entries()[1].clone());
            c.handle(&Event::Started {
                item: second,
                duration_ms: Some(200_000),
            });
            let artist = |id: i64| if id == 3 { by(3, "a") } else { by(4, "B") };
            c.set_autoplay_picks(&[pick(3), pick(4)], |id| Some(artist(id)));
            c.next(ControlSource::Key);
            let upcoming: Vec<i64> = c.queue.entries()[2..].iter().map(|e| e.track.id).collect();
            let next = c.queue.current().map(|e| e.track.id);
            if first_skipped {
                assert_eq!((upcoming, next), (vec![4], Some(4)), "A turned down");
            } else {
                assert_eq!((upcoming, next), (vec![3, 4], Some(3)), "one skip of A only");
            }
        }
    }

    /// The engine goes on gaplessly from track 1 to the first autoplay pick (2); `new_picks`
    /// replace the upcoming ones after that, before the engine's `Started` for 2 is handled.
    /// The controller after it, the play of 2, and the engine's end of the commands.
    fn gone_on_to_the_old_first_pick(
        new_picks: &[i64],
    ) -> (Controller, PlayItem, crossbeam_channel::Receiver<Command>) {
        let (mut c, commands) = controller();
        c.play_tracks(vec![track(1)], 0, PlaySource::User, ControlSource::Key);
        let first = c.item(&c.queue.entries()[0].clone());
        c.handle(&Event::Started {
            item: first.clone(),
            duration_ms: None,
        });
        c.set_autoplay_picks(&[pick(2)], |id| Some(track(id)));
        let gapless = c.item(&c.queue.entries()[1].clone());
        c.handle(&ended(first));
        let picks: Vec<_> = new_picks.iter().map(|&id| pick(id)).collect();
        c.set_autoplay_picks(&picks, |id| Some(track(id)));
        c.handle(&Event::Started {
            item: gapless.clone(),
            duration_ms: None,
        });
        (c, gapless, commands)
    }

    /// New picks (3, 4) without the track the engine went on to: it is put back, playing.
    #[test]
    fn new_picks_that_arrive_as_the_engine_goes_on_to_the_old_first_pick_leave_it_playing() {
        let (mut c, gapless, _commands) = gone_on_to_the_old_first_pick(&[3, 4]);
        let now = c.now.as_ref().map(|n| n.entry.track.id);
        assert_eq!(now, Some(2), "the track heard is the one playing");
        let ids: Vec<i64> = c.queue.entries().iter().map(|e| e.track.id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(c.queue.current().map(|e| e.track.id), Some(2));
        c.handle(&ended(gapless));
        let history: Vec<i64> = c.history.iter().map(|(t, _)| t.id).collect();
        assert_eq!(history, [1, 2], "both plays are in the session's history");
    }

    /// New picks that hold the track the engine went on to further down (3, 2, 4): it plays
    /// next, and the pick before it stays to come, not counted as heard.
    #[test]
    fn new_picks_that_move_the_track_the_engine_went_on_to_leave_the_others_to_come() {
        let (c, _, _commands) = gone_on_to_the_old_first_pick(&[3, 2, 4]);
        let ids: Vec<i64> = c.queue.entries().iter().map(|e| e.track.id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(c.queue.current().map(|e| e.track.id), Some(2));
    }

    /// The listener chooses entry 4 as the engine goes on by itself to 2: the engine's `Started`
    /// for 2 comes first, then the one for 4. Entry 4 plays where it is, and 3, passed over by
    /// the listener's choice, does not come back after it.
    #[test]
    fn an_entry_chosen_further_down_as_the_engine_goes_on_passes_over_the_ones_before_it() {
        let (mut c, _commands) = controller();
        c.play_tracks(
            vec![track(1), track(2), track(3), track(4)],
            0,
            PlaySource::User,
            ControlSource::Key,
        );
        let first = c.item(&c.queue.entries()[0].clone());
        c.handle(&Event::Started {
            item: first.clone(),
            duration_ms: None,
        });
        let gapless = c.item(&c.queue.entries()[1].clone());
        c.play_index(3, ControlSource::Key);
        c.handle(&ended(first));
        c.handle(&Event::Started {
            item: gapless.clone(),
            duration_ms: None,
        });
        c.handle(&ended(gapless));
        let chosen = c.item(&c.queue.entries()[3].clone());
        c.handle(&Event::Started {
            item: chosen,
            duration_ms: None,
        });
        let ids: Vec<i64> = c.queue.entries().iter().map(|e| e.track.id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(c.queue.current().map(|e| e.track.id), Some(4));
    }

    /// A log that cannot be written (here: the database refuses writes) is reported, and the
    /// playback state follows the engine all the same.
    #[test]
    fn a_failed_log_write_is_an_outcome_and_the_state_follows_the_engine() {
        let (mut c, _commands) = controller();
        c.play_tracks(vec![track(1), track(2)], 0, PlaySource::User, ControlSource::Key);
        c.recorder()
            .database()
            .conn()
            .execute_batch("PRAGMA query_only = ON")
            .unwrap();
        let first = c.item(&c.queue.entries()[0].clone());
        let outcomes = c.handle(&Event::Started {
            item: first,
            duration_ms: None,
        });
        assert!(
            matches!(&outcomes[..], [Outcome::LogFailed(message)] if message.contains("readonly")),
            "{outcomes:?}"
        );
        assert_eq!(c.now.as_ref().map(|n| n.entry.track.id), Some(1));
        let gapless = c.item(&c.queue.entries()[1].clone());
        c.handle(&Event::Started {
            item: gapless,
            duration_ms: None,
        });
        assert_eq!(
            c.queue.current().map(|e| e.track.id),
            Some(2),
            "the queue went on with the engine"
        );
    }

    /// A track queued twice in a row plays twice, then the queue goes on: the gapless `Started`
    /// of the second copy moves the cursor onto it, not back onto the first.
    #[test]
    fn the_same_track_twice_in_a_row_plays_twice_and_the_queue_goes_on() {
        let (mut c, _commands) = controller();
        c.play_tracks(
            vec![track(1), track(1), track(2)],
            0,
            PlaySource::User,
            ControlSource::Key,
        );
        let started = |c: &mut Controller, index: usize| {
            let item = c.item(&c.queue.entries()[index].clone());
            c.handle(&Event::Started {
                item,
                duration_ms: None,
            });
        };
        started(&mut c, 0);
        assert_eq!(c.queue.cursor(), Some(0));
        started(&mut c, 1);
        assert_eq!(c.queue.cursor(), Some(1), "the second copy is playing");
        started(&mut c, 2);
        assert_eq!(c.queue.cursor(), Some(2));
        // A skip back onto a copy: the `Started` of that play is the entry skipped to.
        c.play_index(0, ControlSource::Key);
        started(&mut c, 0);
        assert_eq!(c.queue.cursor(), Some(0));
    }

    /// A `next` pressed as 1 ends, before the controller hears that the engine went on to 2:
    /// the `Play` of 2 says how many starts the controller had seen, so that the engine carries
    /// it out with the play of 2 it began; that play's `Started` then takes the cursor to 2 and
    /// 1 is logged as finished.
    #[test]
    fn a_next_crossing_the_gapless_start_says_what_the_controller_had_seen() {
        let (mut c, commands) = controller();
        c.play_tracks(
            vec![track(1), track(2), track(3)],
            0,
            PlaySource::User,
            ControlSource::Key,
        );
        let item = |c: &Controller, index: usize| c.item(&c.queue.entries()[index].clone());
        let first = item(&c, 0);
        c.handle(&Event::Started {
            item: first.clone(),
            duration_ms: None,
        });
        commands.try_iter().for_each(drop);
        c.next(ControlSource::Key);
        let sent: Vec<Command> = commands.try_iter().collect();
        assert!(
            matches!(&sent[..], [Command::Play { item, seen_starts: Some(1), .. }] if item.track_id == 2),
            "{sent:?}"
        );
        c.handle(&ended(first));
        let second = item(&c, 1);
        c.handle(&Event::Started {
            item: second,
            duration_ms: None,
        });
        assert_eq!(c.queue.cursor(), Some(1));
        assert!(
            !commands.try_iter().any(|cmd| matches!(cmd, Command::Play { .. })),
            "nothing played again"
        );
        assert_eq!(
            c.history.iter().map(|(t, p)| (t.id, p.end_reason)).collect::<Vec<_>>(),
            [(1, EndReason::Finished)]
        );
    }

    /// Picks ranked while 1 played arrive after the listener skipped to 2, the old first pick:
    /// 2 must not follow itself, nor 1, still playing until the engine's `Ended`.
    #[test]
    fn picks_ranked_before_a_skip_do_not_repeat_the_entry_the_skip_went_to() {
        let (mut c, _commands) = controller();
        c.play_tracks(vec![track(1)], 0, PlaySource::User, ControlSource::Key);
        let first = c.item(&c.queue.entries()[0].clone());
        c.handle(&Event::Started {
            item: first,
            duration_ms: None,
        });
        c.set_autoplay_picks(&[pick(2), pick(3)], |id| Some(track(id)));
        c.next(ControlSource::Key);
        assert_eq!(c.queue.current().map(|e| e.track.id), Some(2));
        c.set_autoplay_picks(&[pick(2), pick(1), pick(3), pick(4)], |id| Some(track(id)));
        let upcoming: Vec<i64> = c.queue.upcoming().iter().map(|e| e.track.id).collect();
        assert_eq!(upcoming, [3, 4]);
    }
}
