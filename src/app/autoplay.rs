//! Live recommendations for the player ([`Autoplay`], [`Request`]): a thread that ranks the
//! library for the session as it unfolds, and a low-priority trainer thread that retrains the
//! model every K plays or on request and swaps it in only when it is at least as good.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::controller::{Controller, Outcome};
use super::library::SharedLibrary;
use super::queue::Repeat;
use super::workers::WorkerMsg;
use crate::config::RecommendConfig;
use crate::db::Database;
use crate::marks::Mark;
use crate::play::{ControlSource, EndReason, LoggedPlay};
use crate::player::Event;
use crate::recommend::checkpoint::Checkpoint;
use crate::recommend::data::item_key_of;
use crate::recommend::infer::{fallback_rank, skipped_last, turned_down_artists, Filters, Radio, Recommender, Scored};
use crate::recommend::log::{library_candidates, train_from_log, ListeningLog, MIN_TRAINING_SESSIONS};
use crate::recommend::train::{TrainConfig, TrainStage};
use crate::recommend::RecommendError;
use crate::track::{name_key, same_name, Name, Track, VARIOUS_ARTISTS};

/// The ranking autoplay's picks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankedBy {
    /// The trained model, whose scores are log-probabilities.
    Model,
    /// The ranking without a model: its scores order the picks and mean nothing on their own.
    Fallback,
}

impl RankedBy {
    /// The word `recommend --json` and `remote status --json` name the ranking by.
    pub fn as_str(self) -> &'static str {
        match self {
            RankedBy::Model => "model",
            RankedBy::Fallback => "fallback",
        }
    }
}

/// The share of a radio's picks that are its favoured tracks, before any of them is skipped.
const RADIO_SHARE: f32 = 0.7;

/// A radio as the listener started it: the seed's tracks (a track, an album, or an artist's),
/// its artist, and a name for the reasons shown with its picks.
#[derive(Debug, Clone, PartialEq)]
pub struct RadioSeed {
    pub tracks: Vec<i64>,
    pub artist: Option<Name>,
    pub name: String,
}

impl RadioSeed {
    /// A radio from one track, which opens it (banned or not: the listener chose it).
    pub(crate) fn of_track(track: &Track) -> RadioSeed {
        RadioSeed {
            tracks: vec![track.id],
            artist: track.artist.clone(),
            name: track.display_name(),
        }
    }

    /// A radio from a group of tracks (an album, an artist's) called `name`, and the track it
    /// opens on: the first one not `banned`; `None` when every one is. Its artist is the one
    /// who made more than half of the group, by the tracks' artists or else their album
    /// artists; a compilation is none of its artists'.
    pub(crate) fn of_group(tracks: &[Track], name: String, banned: impl Fn(i64) -> bool) -> Option<(RadioSeed, Track)> {
        let first = tracks.iter().find(|t| !banned(t.id))?.clone();
        let most = |name: fn(&Track) -> Option<&Name>| {
            let mut made: HashMap<String, (usize, &Name)> = HashMap::new();
            for artist in tracks.iter().filter_map(name) {
                made.entry(name_key(artist)).or_insert((0, artist)).0 += 1;
            }
            made.into_values()
                .max_by_key(|&(count, _)| count)
                .filter(|&(count, _)| 2 * count > tracks.len())
                .map(|(_, artist)| artist.clone())
        };
        // Tracks of "Band feat. Guest" mostly are still Band's, by their album artist; the
        // "Various Artists" a compilation is filed under is nobody's.
        let artist = most(|t| t.artist.as_ref())
            .or_else(|| most(|t| t.album_artist.as_ref()))
            .filter(|artist| !same_name(artist, VARIOUS_ARTISTS));
        let seed = RadioSeed {
            tracks: tracks.iter().map(|t| t.id).collect(),
            artist,
            name,
        };
        Some((seed, first))
    }
}

/// What the player asks of the recommendation thread.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// Rank the library for what follows `session` (track, skipped; the playing track last).
    Rank {
        seq: u64,
        session: Vec<(i64, bool)>,
        not_to_pick: NotToPick,
        limit: usize,
        /// The radio playing, if one is.
        radio: Option<RadioSeed>,
    },
    /// A play was completed in the log, as row `play_id`.
    Played {
        play: LoggedPlay,
        play_id: Option<i64>,
    },
    /// Another process may have saved a model (`skipless train`): load the saved one.
    ReloadModel,
    /// The library or the marks changed (a scan finished, a like, or a ban taken back): the log
    /// is read again. With the player's library, its tracks are shared rather than read again.
    Reload(Option<SharedLibrary>),
    /// The listener banned this track: it is never picked again.
    Banned(i64),
    /// This track failed to play (a damaged file, a folder gone): it is not picked again until
    /// a rescan reads its file again, or its file is back (see
    /// [`crate::recommend::log::library_candidates`]).
    Failed(i64),
    /// Retrain now.
    Retrain,
    /// A training run is over, whatever came of it: the saved model (a new one, or the one kept)
    /// is loaded again.
    TrainingOver,
    Shutdown,
}

/// The player's handle on the recommendation thread, the same for the TUI and the headless
/// player: it tells the thread about completed plays, asks for rankings (numbered, so a stale
/// answer is dropped), and puts the picks into the controller's queue.
pub(crate) struct Autoplay {
    requests: Sender<Request>,
    /// Number of the latest ranking request; older answers are stale.
    seq: u64,
    /// How many picks to keep queued.
    limit: usize,
    /// What ranked the picks in the queue (the model, or the fallback), once some arrived.
    source: Option<RankedBy>,
    /// The queue ran out before the picks came (skips faster than the rankings): the next picks
    /// to come play at once.
    play_when_picked: bool,
    /// Disconnected when the thread has ended (its sender goes with it).
    ended: Receiver<()>,
}

/// How long a player going waits for the recommender thread to end: long enough for it to let a
/// training run go and close its database connection, which leaves no write-ahead log behind.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// What became of a ranking's picks ([`Autoplay::accept`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Picked {
    /// A newer ranking is on its way: these were dropped.
    Stale,
    /// Queued after the listener's own entries.
    Queued,
    /// The queue had run out: the first pick plays.
    Playing,
    /// The queue had run out and there is nothing to pick: playback is over.
    NothingLeft,
}

impl Autoplay {
    /// Starts the thread; it reports on `tx` and never blocks the caller.
    /// The thread reads nothing until the first request, which is the player's library to share
    /// (`Request::Reload(Some(_))`), so the library is never held twice; any other first request
    /// starts it from the database alone.
    pub(crate) fn start(db_path: PathBuf, models_dir: PathBuf, config: RecommendConfig, tx: Sender<WorkerMsg>) -> Self {
        let limit = config.autoplay_queue;
        let (requests, rx) = crossbeam_channel::unbounded();
        let own = requests.clone();
        let (ending, ended) = crossbeam_channel::bounded::<()>(0);
        let off = tx.clone();
        let spawned = std::thread::Builder::new().name("recommender".into()).spawn(move || {
            let _ending = ending;
            let Ok(first) = rx.recv() else {
                return;
            };
            let (library, first) = match first {
                Request::Reload(Some(library)) => (Some(library), None),
                other => (None, Some(other)),
            };
            let mut worker = match Worker::new(db_path, models_dir, config, library, tx.clone(), own) {
                Ok(worker) => worker,
                Err(e) => {
                    let _ = tx.send(WorkerMsg::RecommenderOff(format!("recommendations off: {e}")));
                    return;
                }
            };
            let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                worker.start();
                if first.is_none_or(|request| worker.handle(request)) {
                    worker.run(&rx);
                }
                worker.stop_training();
            }))
            .is_err();
            if crashed {
                let _ = tx.send(WorkerMsg::RecommenderOff(
                    "recommendations stopped after an internal error".into(),
                ));
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the recommender thread: {e}");
            let _ = off.send(WorkerMsg::RecommenderOff(format!(
                "recommendations off: cannot start their thread: {e}"
            )));
        }
        Self {
            requests,
            seq: 0,
            limit,
            source: None,
            play_when_picked: false,
            ended,
        }
    }

    pub(crate) fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }

    /// Tells the thread about the plays an engine event completed (a play that failed to
    /// decode says nothing about the listener); returns whether the picks should be ranked
    /// again, which is after every start and every logged play. When the queue ran out (not
    /// stopped by the listener) while autoplay is `picking`, the next picks play as they come.
    pub(crate) fn observe(&mut self, event: &Event, outcomes: &[Outcome], picking: bool) -> bool {
        let mut rerank = matches!(event, Event::Started { .. });
        if rerank {
            self.play_when_picked = false;
        }
        for outcome in outcomes {
            match outcome {
                Outcome::Logged(play) => {
                    rerank = true;
                    self.send(if play.end_reason == EndReason::Error {
                        Request::Failed(play.track_id)
                    } else {
                        Request::Played {
                            play: play.logged(),
                            play_id: play.play_id,
                        }
                    });
                }
                Outcome::Stopped { stopped } => {
                    self.play_when_picked = picking && !stopped;
                    rerank |= self.play_when_picked;
                }
                _ => {}
            }
        }
        rerank
    }

    /// The listener asked to play with nothing queued and nothing playing: autoplay's next picks
    /// play as they come, ranked for the session so far (one carried over a restart included).
    /// The ask is newer than any stop pressed before it.
    fn play_picks(&mut self, controller: &mut Controller) {
        controller.forget_stop();
        self.play_when_picked = true;
        self.request_rank(controller);
    }

    /// Whether the queue ran out and waits for the next picks to play.
    pub(crate) fn waiting_for_picks(&self) -> bool {
        self.play_when_picked
    }

    /// Autoplay was switched off: picks that come later do not start playing.
    pub(crate) fn stop_waiting(&mut self) {
        self.play_when_picked = false;
    }

    /// Asks for a fresh ranking of what follows the controller's session.
    pub(crate) fn request_rank(&mut self, controller: &Controller) {
        let (session, not_to_pick) = controller.autoplay_context();
        self.seq += 1;
        self.send(Request::Rank {
            seq: self.seq,
            session,
            not_to_pick,
            limit: self.limit,
            radio: controller.radio.clone(),
        });
    }

    /// Puts the answer to ranking request `seq` after the listener's own queue entries, unless
    /// a newer request is out; if the queue had run out waiting for them, the first pick plays
    /// (for `by`, though no play is ended: nothing is playing).
    pub(crate) fn accept(
        &mut self,
        seq: u64,
        source: RankedBy,
        picks: &[Scored],
        controller: &mut Controller,
        track: impl Fn(i64) -> Option<Track>,
        by: ControlSource,
    ) -> Picked {
        if seq != self.seq {
            return Picked::Stale;
        }
        controller.set_autoplay_picks(picks, track);
        self.source = Some(source);
        // A stop while the picks were on their way is the listener's last word.
        if !std::mem::take(&mut self.play_when_picked) || controller.stopped_by_listener() {
            return Picked::Queued;
        }
        match controller.queue.next_index() {
            Some(index) => {
                controller.play_index(index, by);
                Picked::Playing
            }
            None => Picked::NothingLeft,
        }
    }

    /// Loads the saved model again (see [`Request::ReloadModel`]).
    pub(crate) fn reload_model(&self) {
        self.send(Request::ReloadModel);
    }

    /// What ranked the autoplay picks in the queue, once some arrived.
    pub(crate) fn source(&self) -> Option<RankedBy> {
        self.source
    }

    /// Tells the thread about a like or a ban the controller wrote: a ban takes the track out of
    /// every ranking at once; a like, or a ban taken back, changes the history features from
    /// this moment on, so the log is read again.
    /// After a ban, when autoplay picks, a fresh ranking refills the picks the ban dropped.
    pub(crate) fn marked(&mut self, controller: &Controller, track_id: i64, mark: Mark, on: bool, picking: bool) {
        if mark == Mark::Ban && on {
            self.send(Request::Banned(track_id));
            if picking {
                self.request_rank(controller);
            }
        } else {
            self.send(Request::Reload(None));
        }
    }
}

impl Drop for Autoplay {
    fn drop(&mut self) {
        let _ = self.requests.send(Request::Shutdown);
        let _ = self.ended.recv_timeout(SHUTDOWN_WAIT);
    }
}

/// What of the queue autoplay must not pick ([`Controller::autoplay_context`]): the entries
/// waiting in it (the current one included), and the listener's entries passed over unheard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotToPick {
    pub waiting: Vec<i64>,
    pub passed_over: Vec<i64>,
}

/// What a repeat mode just set means for autoplay, in the player's words; once the queue no
/// longer repeats, `autoplay` (given when it picks) ranks again. The one path of the keys, the
/// remote and the desktop.
pub(crate) fn repeat_set(repeat: Repeat, controller: &Controller, autoplay: Option<&mut Autoplay>) -> String {
    let said = repeat.said(autoplay.is_some());
    if let Some(autoplay) = autoplay.filter(|_| repeat == Repeat::Off) {
        autoplay.request_rank(controller);
    }
    said
}

/// What a press of play (a key, the remote, stdin, a media key) finds with nothing playing and
/// nothing queued, and has done about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FromNothing {
    /// Something is playing or queued: the press acts as usual.
    NotEmpty,
    /// Autoplay's next picks play as they come.
    Picking,
    /// Nothing to play: autoplay is off (or cannot pick yet, or repeat is on).
    NothingQueued,
}

impl FromNothing {
    /// What the listener is told when the picks are on their way.
    pub(crate) const PICKING: &'static str = "autoplay chooses what to play";

    /// Carries out a press of play: with nothing playing or queued, autoplay's picks are asked to
    /// play when `picking` (autoplay on, its library there) and repeat is off. The one path every
    /// front end and the media keys take.
    pub(crate) fn press(controller: &mut Controller, autoplay: Option<&mut Autoplay>, picking: bool) -> FromNothing {
        if controller.now.is_some() || !controller.queue.entries().is_empty() {
            return FromNothing::NotEmpty;
        }
        match autoplay.filter(|_| picking && controller.queue.repeat == Repeat::Off) {
            Some(autoplay) => {
                autoplay.play_picks(controller);
                FromNothing::Picking
            }
            None => FromNothing::NothingQueued,
        }
    }
}

/// The recommendation logic of autoplay without its thread: what to play next for a session,
/// what a completed play changes, and when to retrain. The player runs it on the recommender
/// thread; `skipless simulate` drives the very same code synchronously.
pub struct AutoplayCore {
    db: Database,
    models_dir: PathBuf,
    config: RecommendConfig,
    log: ListeningLog,
    /// The player's library, whose tracks the log and the candidates share.
    library: Option<SharedLibrary>,
    candidates: Vec<Arc<Track>>,
    /// For each candidate that is one of several files of a song (the same artist and title),
    /// the others: what leaves one out of a ranking leaves them out too.
    copies: HashMap<i64, Vec<i64>>,
    recommender: Option<Recommender>,
    plays_since_model: u64,
    /// The log's length when the last training run started, kept or not: the plays since, the
    /// player's and any an import added, count toward the next run, so that a discarded model
    /// waits for K more plays like a saved one.
    plays_at_training: u64,
    /// Why the saved model could not be read (an older format, or damaged): a retrain is due now.
    model_refused: Option<String>,
    /// A training run has started since this core was made: with no model yet, the first one is
    /// due as soon as the log is long enough, but only once (a run that saves nothing, or
    /// fails, waits for the play counter like any other).
    trained_once: bool,
}

/// What the picks are ranked from, in brief: a digest of the log's plays, the likes, the
/// candidates and the model in use. A reload or a model load that leaves it as it was (a rescan
/// that found nothing new, a retrain that kept the model as it was) leaves the picks as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RankedFrom {
    plays: u64,
    likes: u64,
    candidates: u64,
    /// When it was trained, and the items it has (a kept model saved again has more).
    model: Option<(String, usize)>,
}

impl AutoplayCore {
    fn ranked_from(&self) -> RankedFrom {
        use std::hash::{Hash, Hasher};
        let digest = |each: &mut dyn FnMut(&mut std::collections::hash_map::DefaultHasher)| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            each(&mut hasher);
            hasher.finish()
        };
        RankedFrom {
            plays: digest(&mut |h| {
                for p in &self.log.plays {
                    (p.track_id, p.session_id, p.ts_ms, p.skipped).hash(h);
                }
            }),
            // The likes are a map, whose order differs between two reads of the same likes.
            likes: self.log.likes.iter().fold(0u64, |sum, (&id, &at)| {
                sum.wrapping_add((id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ at as u64)
            }),
            candidates: digest(&mut |h| {
                for t in &self.candidates {
                    (t.id, &t.artist, &t.title, &t.album).hash(h);
                }
            }),
            model: self
                .recommender
                .as_ref()
                .map(|r| (r.meta().trained_at.clone(), r.meta().vocab.len())),
        }
    }

    pub fn new(db: Database, models_dir: PathBuf, config: RecommendConfig) -> Result<Self, RecommendError> {
        Self::sharing(db, models_dir, config, None)
    }

    /// [`AutoplayCore::new`], holding the tracks of `library` rather than copies of them.
    pub(crate) fn sharing(
        db: Database,
        models_dir: PathBuf,
        config: RecommendConfig,
        library: Option<SharedLibrary>,
    ) -> Result<Self, RecommendError> {
        let log = ListeningLog::load(&db, library.as_deref().map_or(&[], |l| l.as_slice()))?;
        let candidates = library_candidates(&db, &log)?;
        let mut core = Self {
            db,
            models_dir,
            config,
            log,
            library,
            copies: copies_of(&candidates),
            candidates,
            recommender: None,
            plays_since_model: 0,
            plays_at_training: 0,
            model_refused: None,
            trained_once: false,
        };
        // A checkpoint of an older format, a damaged or an unreadable one: rank with the
        // fallback and let a retrain replace it, rather than turning recommendations off.
        if let Err(e) = core.load_model() {
            tracing::warn!("{e}; autoplay uses the fallback ranking until a retrain replaces the model");
            core.model_refused = Some(e.to_string());
        }
        // The plays since the last training run, kept or not, carry over from earlier runs of
        // the player: a listener who quits before `retrain_every` plays still gets retrains.
        let plays = core.log.plays.len() as u64;
        core.plays_at_training = match crate::db::training::latest(core.db.conn(), 1)
            .map_err(|e| core.db.err(e))?
            .first()
        {
            Some(run) => run.plays_seen,
            None => plays.saturating_sub(core.plays_since_model),
        };
        Ok(core)
    }

    /// The listening log the rankings read.
    pub(crate) fn log(&self) -> &ListeningLog {
        &self.log
    }

    /// The tracks a ranking chooses from (the library's, banned ones and ones that failed to
    /// play left out).
    pub(crate) fn candidates(&self) -> &[Arc<Track>] {
        &self.candidates
    }

    /// Why the saved model could not be read (an older format, or damaged), if it could not.
    pub(crate) fn model_refused(&self) -> Option<&str> {
        self.model_refused.as_deref()
    }

    /// Leaves a file that failed to play out of every ranking from now on.
    pub(crate) fn leave_out(&mut self, track_id: i64) {
        self.candidates.retain(|t| t.id != track_id);
        self.prepare_places();
    }

    /// Leaves a banned track out of every ranking from now on, with its song's other files: a
    /// ban is of the song, as [`library_candidates`] reads it at the next load. A track without
    /// an artist is only itself (an untagged "Intro" is no other's).
    pub(crate) fn ban(&mut self, track_id: i64) {
        let has_artist = self.log.tracks.get(track_id).is_some_and(|t| t.artist.is_some());
        let copies = if has_artist {
            self.other_files([track_id])
        } else {
            Vec::new()
        };
        let song: HashSet<i64> = copies.into_iter().chain([track_id]).collect();
        self.candidates.retain(|t| !song.contains(&t.id));
        self.prepare_places();
    }

    /// Where the model places each candidate, found now rather than at the next pick.
    fn prepare_places(&self) {
        if let Some(r) = &self.recommender {
            r.prepare(&self.candidates);
        }
    }

    /// Plays since the last training run started (see `plays_at_training`).
    fn plays_since_training(&self) -> u64 {
        (self.log.plays.len() as u64).saturating_sub(self.plays_at_training)
    }

    /// Whether a training run is due: every `retrain_every` plays, and at once where there is no
    /// model to rank with (the saved one was refused, or none was trained yet and periodic
    /// training is on), once the log is long enough to train on.
    pub(crate) fn retrain_due(&self) -> bool {
        let periodic = self.config.retrain_every > 0;
        let every_k = periodic && self.plays_since_training() >= self.config.retrain_every;
        let first = periodic && self.recommender.is_none() && !self.trained_once;
        (every_k || first || self.model_refused.is_some()) && self.enough_plays()
    }

    /// Re-reads the log and the candidates (after a scan, a like, a ban taken back), sharing
    /// the tracks of `library` when given, else of the library shared before.
    pub(crate) fn reload(&mut self, library: Option<SharedLibrary>) -> Result<(), RecommendError> {
        if library.is_some() {
            self.library = library;
        }
        // The old copies go first, so a reload never holds the library twice.
        self.candidates = Vec::new();
        self.log = ListeningLog::default();
        self.log = ListeningLog::load(&self.db, self.library.as_deref().map_or(&[], |l| l.as_slice()))?;
        self.candidates = library_candidates(&self.db, &self.log)?;
        let before = std::mem::replace(&mut self.copies, copies_of(&self.candidates));
        // A file that left the library (deleted while it plays) is still its song for the
        // session: its other files stay barred after it, as they were.
        let ids: HashSet<i64> = self.candidates.iter().map(|t| t.id).collect();
        for (gone, others) in before.into_iter().filter(|(id, _)| !ids.contains(id)) {
            let others: Vec<i64> = others.into_iter().filter(|id| ids.contains(id)).collect();
            if !others.is_empty() {
                self.copies.insert(gone, others);
            }
        }
        // Plays an import (or another player) added count as plays since the model, as plays of
        // this player do (and toward the next retrain: `plays_since_training`).
        if let Some(r) = self.recommender.as_mut() {
            r.replay(&self.log);
            self.plays_since_model = (self.log.plays.len() as u64).saturating_sub(r.meta().plays_seen);
        }
        self.prepare_places();
        Ok(())
    }

    /// Loads the saved model, if any, and replays the log into it.
    pub fn load_model(&mut self) -> Result<(), RecommendError> {
        self.recommender = None;
        if let Some(mut recommender) = Recommender::load(&self.models_dir)? {
            recommender.replay(&self.log);
            self.plays_since_model = (self.log.plays.len() as u64).saturating_sub(recommender.meta().plays_seen);
            self.plays_at_training = self.plays_at_training.max(recommender.meta().plays_seen);
            self.recommender = Some(recommender);
        }
        self.prepare_places();
        Ok(())
    }

    /// One line on what feeds autoplay.
    pub(crate) fn describe(&self) -> String {
        match &self.recommender {
            Some(r) if self.enough_plays() => format!(
                "model trained {} on {} · {} since",
                crate::fmt::local_minute(&r.meta().trained_at),
                crate::fmt::count(r.meta().plays_seen, "play"),
                crate::fmt::count(self.plays_since_model, "play")
            ),
            None if self.enough_plays() => {
                "fallback: similar tracks, then your most finished and liked (no model trained yet)".to_owned()
            }
            _ => format!(
                "fallback: similar tracks, then your most finished and liked (model after {} plays in {MIN_TRAINING_SESSIONS} sessions; {} in {} so far)",
                self.config.min_plays,
                crate::fmt::count(self.log.plays.len() as u64, "play"),
                crate::fmt::count(self.log.sessions().len() as u64, "session")
            ),
        }
    }

    /// Whether the log is long enough to train on: `min_plays` plays, in as many sessions as
    /// the training split needs.
    pub(crate) fn enough_plays(&self) -> bool {
        self.log.too_short_to_train(self.config.min_plays).is_none()
    }

    /// The other files of the songs of the tracks `ids`.
    fn other_files(&self, ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
        ids.into_iter()
            .filter_map(|id| self.copies.get(&id))
            .flatten()
            .copied()
            .collect()
    }

    /// The tracks of the log's last `exclude_recent` plays, oldest first, each followed by the
    /// other files of its song: played when it was, they come back in its place when a library
    /// played through goes round again, not after every other track.
    fn recent_with_other_files(&self) -> Vec<i64> {
        let recent = self.log.recent(self.config.exclude_recent);
        recent
            .into_iter()
            .flat_map(|id| std::iter::once(id).chain(self.other_files([id])))
            .collect()
    }

    /// The best `limit` tracks to follow `session`, and which ranking produced them.
    pub fn rank(
        &self,
        session: &[(i64, bool)],
        not_to_pick: &NotToPick,
        limit: usize,
        now_ms: i64,
        radio: Option<&RadioSeed>,
    ) -> (RankedBy, Vec<Scored>) {
        let mut filters = Filters::from_config(&self.config, limit);
        filters.now_ms = Some(now_ms);
        filters.recent = self.recent_with_other_files();
        filters.queued = not_to_pick.waiting.clone();
        filters.passed_over = not_to_pick.passed_over.clone();
        let exclude = not_to_pick.waiting.iter().chain(&not_to_pick.passed_over).copied();
        // Another file of a song is that song: the copies of the playing track, of the tracks
        // skipped this session and of the queued ones are never picked (those of recent tracks
        // wait with them: `recent_with_other_files`).
        let skipped_or_playing = skipped_last(session).into_iter().chain(session.last().map(|p| p.0));
        filters.copies = self.other_files(skipped_or_playing.chain(exclude));
        filters.turned_down = turned_down_artists(session, |id| {
            self.log.tracks.get(id).and_then(|track| track.artist.as_ref())
        });
        filters.seed = self.log.plays.len() as u64;
        filters.radio = radio.map(|seed| self.radio(seed, session));
        let (source, mut picks) = match self.recommender.as_ref().filter(|_| self.enough_plays()) {
            Some(recommender) => match recommender.rank(session, &self.candidates, &filters) {
                Ok(picks) => (RankedBy::Model, picks),
                Err(e) => {
                    tracing::warn!("the model could not rank ({e}): the fallback ranks this time");
                    (
                        RankedBy::Fallback,
                        fallback_rank(session, &self.candidates, &self.log, &filters),
                    )
                }
            },
            None => (
                RankedBy::Fallback,
                fallback_rank(session, &self.candidates, &self.log, &filters),
            ),
        };
        if let (Some(radio), Some(seed)) = (&filters.radio, radio) {
            for pick in picks.iter_mut().filter(|p| radio.favoured.contains(&p.track_id)) {
                pick.reason = format!("radio from {} · {}", seed.name, pick.reason);
            }
        }
        (source, picks)
    }

    /// What a radio from `seed` favours now: the seed artist's tracks and the tracks listened
    /// to with the seed, with a share of the picks that halves with each of them skipped in this
    /// session, so that skips steer the radio away from its seed.
    fn radio(&self, seed: &RadioSeed, session: &[(i64, bool)]) -> Radio {
        let artist = seed.artist.as_deref();
        let by_seed_artist: HashSet<i64> = self
            .candidates
            .iter()
            .filter(|t| {
                artist
                    .zip(t.artist.as_deref())
                    .is_some_and(|(seed, theirs)| crate::track::same_name(seed, theirs))
            })
            .map(|t| t.id)
            .collect();
        // What was heard this session before the radio began is no sign of what goes with its
        // seed: the session in progress is left out, known by the log's last play being one of
        // its tracks (a failed play is in the session and not in the log).
        let in_progress = self
            .log
            .plays
            .last()
            .filter(|last| session.iter().any(|p| p.0 == last.track_id))
            .map(|last| last.session_id);
        let mut favoured = self
            .log
            .co_listened(&seed.tracks.iter().copied().collect(), in_progress);
        favoured.extend(&by_seed_artist);
        let skipped = session
            .iter()
            .filter(|&&(id, skipped)| skipped && favoured.contains(&id))
            .count();
        Radio {
            favoured,
            by_seed_artist,
            share: RADIO_SHARE * 0.5f32.powi(skipped.min(30) as i32),
        }
    }

    /// Folds a completed play, row `play_id` of the log (`None`: one the database has not
    /// taken yet), into the signals; returns whether a retrain is due. A play the last reload
    /// read already (it was committed before the reload, which came first) is not folded twice.
    pub(crate) fn played(&mut self, play: LoggedPlay, play_id: Option<i64>) -> bool {
        if play_id.is_some_and(|id| id <= self.log.last_live_play) {
            return false;
        }
        let before: Vec<(i64, bool)> = self
            .log
            .plays
            .iter()
            .rev()
            .take_while(|p| p.session_id == play.session_id)
            .map(|p| (p.track_id, p.skipped))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if let (Some(r), Some(track)) = (self.recommender.as_mut(), self.log.tracks.get(play.track_id)) {
            r.observe(&before, track, play.skipped, play.ts_ms);
        }
        self.log.plays.push(play);
        self.plays_since_model += 1;
        self.retrain_due()
    }

    /// What a training run needs, to run on another thread; the next one is due K plays from now.
    pub fn start_training(&mut self) -> TrainingJob {
        self.plays_at_training = self.log.plays.len() as u64;
        self.model_refused = None;
        self.trained_once = true;
        TrainingJob {
            log: self.log.clone(),
            models_dir: self.models_dir.clone(),
            db_path: self.db.path().to_path_buf(),
            train: TrainConfig::default(),
        }
    }
}

/// The other files of each song that has several among `candidates`, by track id.
fn copies_of(candidates: &[Arc<Track>]) -> HashMap<i64, Vec<i64>> {
    let mut songs: HashMap<String, Vec<i64>> = HashMap::new();
    for track in candidates {
        songs.entry(item_key_of(track)).or_default().push(track.id);
    }
    let mut copies = HashMap::new();
    for ids in songs.into_values().filter(|ids| ids.len() > 1) {
        for &id in &ids {
            copies.insert(id, ids.iter().copied().filter(|&other| other != id).collect());
        }
    }
    copies
}

/// A training run's inputs: a snapshot of the log, where the model to beat is saved, and how to train.
pub struct TrainingJob {
    log: ListeningLog,
    models_dir: PathBuf,
    /// Where the run is recorded (`db::training`).
    db_path: PathBuf,
    pub train: TrainConfig,
}

/// The trainer thread's work: runs `train`, reports its progress and outcome, and tells the
/// recommender thread (`own`) that the run is over whatever happened, a panic included: else it
/// would refuse every later retrain as "already training".
fn train_and_report(
    train: impl FnOnce(&mut (dyn FnMut(TrainStage, usize, usize) + Send)) -> TrainingOutcome,
    tx: &Sender<WorkerMsg>,
    own: &Sender<Request>,
) {
    let mut last = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train(&mut |stage, done, total| {
            let percent = done * 100 / total.max(1);
            if last != Some((stage, percent)) {
                last = Some((stage, percent));
                let _ = tx.send(WorkerMsg::TrainProgress {
                    stage: stage.label(),
                    done,
                    total,
                });
            }
        })
    }))
    .unwrap_or_else(|_| {
        TrainingOutcome::Kept("training stopped after an internal error (details in skipless.log)".into())
    });
    let _ = own.send(Request::TrainingOver);
    match outcome {
        TrainingOutcome::Saved(message) | TrainingOutcome::Kept(message) => {
            let _ = tx.send(WorkerMsg::TrainDone(message));
        }
        TrainingOutcome::Cancelled => {}
    }
}

/// How a training run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingOutcome {
    /// Saved and to be loaded: the message says how good it is.
    Saved(String),
    /// Trained but worse than the current model, or failed.
    Kept(String),
    Cancelled,
}

impl TrainingJob {
    /// Trains on one thread (the other core keeps decoding and the UI) and saves the model when
    /// it is at least as good as the current one on validation NDCG@10, both measured on this
    /// run's validation slice.
    pub fn run(
        &self,
        progress: &mut (dyn FnMut(TrainStage, usize, usize) + Send),
        cancel: &AtomicBool,
    ) -> TrainingOutcome {
        let previous = Checkpoint::load(&self.models_dir).unwrap_or_default();
        let pool = match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
            Ok(pool) => pool,
            Err(e) => return TrainingOutcome::Kept(format!("cannot start training: {e}")),
        };
        let started = std::time::Instant::now();
        let result = pool.install(|| {
            train_from_log(
                &self.log,
                previous.as_ref(),
                &self.train,
                &mut |p| {
                    let total = (p.steps * p.epochs).max(1);
                    progress(p.stage, (p.epoch.saturating_sub(1)) * p.steps + p.step, total);
                },
                cancel,
            )
        });
        let mut trained = match result {
            Ok(trained) => trained,
            Err(RecommendError::Cancelled) => return TrainingOutcome::Cancelled,
            Err(e) => return TrainingOutcome::Kept(format!("training failed: {e}")),
        };
        let new = trained.checkpoint.meta.validation.ndcg10;
        // On the run's one thread too: judging a model another run saved meanwhile is work.
        let outcome = match pool.install(|| trained.settle(&self.models_dir, false)) {
            Ok(settled) if settled.replaced() => {
                TrainingOutcome::Saved(format!("new model in use: validation NDCG@10 {new:.4}"))
            }
            Ok(_) => TrainingOutcome::Kept(format!(
                "the new model was discarded: validation NDCG@10 {new:.4} is below the current model's {:.4}",
                trained.previous_validation.map_or(0.0, |m| m.ndcg10)
            )),
            Err(e) => TrainingOutcome::Kept(format!("cannot save the model: {e}")),
        };
        let saved = matches!(outcome, TrainingOutcome::Saved(_));
        let train_ms = started.elapsed().as_millis() as u64;
        let recorded = Database::open(&self.db_path).map_err(|e| e.to_string()).and_then(|db| {
            trained
                .record(&db, saved, train_ms, "player")
                .map_err(|e| e.to_string())
        });
        if let Err(e) = recorded {
            tracing::warn!("the training run is not in the record: {e}");
        }
        outcome
    }
}

/// Returns to the system the memory the last library and log, or a training run, left free. A
/// reload (after every like, ban, scan or `train` from a shell) builds the new ones before the
/// old go, on two threads, and a training run allocates on its own: glibc's per-thread heaps keep
/// the freed pages, and the player's resident memory doubled over 20 reloads, and grew by about
/// 100 MB with each retrain on a log of 32k plays, without it.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The recommendation thread's requests, in order, less the rankings already asked again: the
/// player drops every answer but the latest request's, so ranking the ones before it (a held
/// `n`, a burst of remote `next`s) would only keep the thread busy.
struct Inbox<'a> {
    rx: &'a Receiver<Request>,
    waiting: VecDeque<Request>,
}

impl<'a> Inbox<'a> {
    fn new(rx: &'a Receiver<Request>) -> Self {
        Inbox {
            rx,
            waiting: VecDeque::new(),
        }
    }

    /// The next request to answer; none once every sender is gone.
    fn next(&mut self) -> Option<Request> {
        loop {
            let request = match self.waiting.pop_front() {
                Some(request) => request,
                None => self.rx.recv().ok()?,
            };
            self.waiting.extend(self.rx.try_iter());
            let asked_again = matches!(request, Request::Rank { .. })
                && self.waiting.iter().any(|later| matches!(later, Request::Rank { .. }));
            if !asked_again {
                return Some(request);
            }
        }
    }
}

struct Worker {
    core: AutoplayCore,
    tx: Sender<WorkerMsg>,
    own: Sender<Request>,
    /// The cancel flag of the training run in progress. The run is not waited for at quit: its
    /// checkpoint is written whole or not at all, and its record in one transaction.
    training: Option<Arc<AtomicBool>>,
}

impl Worker {
    fn new(
        db_path: PathBuf,
        models_dir: PathBuf,
        config: RecommendConfig,
        library: Option<SharedLibrary>,
        tx: Sender<WorkerMsg>,
        own: Sender<Request>,
    ) -> Result<Self, super::AppError> {
        let db = Database::open(&db_path)?;
        let core = AutoplayCore::sharing(db, models_dir, config, library)?;
        let worker = Self {
            core,
            tx,
            own,
            training: None,
        };
        worker.status(worker.describe());
        Ok(worker)
    }

    /// Starts a retrain at once when there is no model to rank with (see
    /// [`AutoplayCore::retrain_due`]).
    fn start(&mut self) {
        if self.core.retrain_due() {
            self.retrain();
        }
    }

    fn run(&mut self, rx: &Receiver<Request>) {
        let mut inbox = Inbox::new(rx);
        while let Some(request) = inbox.next() {
            if !self.handle(request) {
                break;
            }
        }
    }

    /// Answers one request; false when it was the last (shutdown).
    fn handle(&mut self, request: Request) -> bool {
        match request {
            Request::Rank {
                seq,
                session,
                not_to_pick,
                limit,
                radio,
            } => {
                let (source, picks) =
                    self.core
                        .rank(&session, &not_to_pick, limit, crate::clock::now_ms(), radio.as_ref());
                let _ = self.tx.send(WorkerMsg::Recommendations { seq, source, picks });
            }
            Request::Played { play, play_id } => {
                if self.core.played(play, play_id) && self.training.is_none() {
                    self.retrain();
                } else {
                    self.status(self.describe());
                }
            }
            Request::Banned(track_id) => self.core.ban(track_id),
            Request::Failed(track_id) => self.core.leave_out(track_id),
            Request::Reload(library) => {
                let before = self.core.ranked_from();
                let reloaded = self.core.reload(library);
                give_back_freed_memory();
                match reloaded {
                    Ok(()) => {
                        // An import may have made the log long enough for a first model.
                        if self.core.retrain_due() && self.training.is_none() {
                            self.retrain();
                        } else {
                            // The plays since the model may have changed (an import).
                            self.status(self.describe());
                        }
                        self.say_if_changed(before);
                    }
                    Err(e) => self.status(format!("cannot reload the library for recommendations: {e}")),
                }
            }
            Request::ReloadModel => self.load_saved_model(),
            Request::Retrain => self.retrain(),
            Request::TrainingOver => {
                self.training = None;
                self.load_saved_model();
                give_back_freed_memory();
            }
            Request::Shutdown => return false,
        }
        true
    }

    /// Loads the saved model and says what now ranks, or why the fallback does; the picks are
    /// asked for again if it changed.
    fn load_saved_model(&mut self) {
        let before = self.core.ranked_from();
        match self.core.load_model() {
            Ok(()) => self.status(self.describe()),
            Err(e) => self.status(format!("{e}; using the fallback until the next training")),
        }
        self.say_if_changed(before);
    }

    /// Has the front end ask for the picks again when what they are ranked from changed.
    fn say_if_changed(&self, before: RankedFrom) {
        if self.core.ranked_from() != before {
            let _ = self.tx.send(WorkerMsg::RankingChanged);
        }
    }

    /// Cancels a training run in progress (the player is quitting).
    fn stop_training(&mut self) {
        if let Some(cancel) = self.training.take() {
            cancel.store(true, Ordering::SeqCst);
        }
    }

    fn status(&self, text: String) {
        let _ = self.tx.send(WorkerMsg::ModelStatus(text));
    }

    /// What ranks, and that a training run is going on while one is: a play finished during
    /// the run does not hide it.
    fn describe(&self) -> String {
        match self.training {
            Some(_) => format!("{} · training…", self.core.describe()),
            None => self.core.describe(),
        }
    }

    fn retrain(&mut self) {
        // The listener asked (or the play counter did): a refusal is said where they look.
        let refuse = |why: String| {
            let _ = self.tx.send(WorkerMsg::RetrainRefused(why));
        };
        if self.training.is_some() {
            refuse("already training".into());
            return;
        }
        if let Some(why) = self.core.log.too_short_to_train(self.core.config.min_plays) {
            refuse(why);
            return;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let job = self.core.start_training();
        let tx = self.tx.clone();
        let own = self.own.clone();
        let flag = cancel.clone();
        let spawned = std::thread::Builder::new().name("trainer".into()).spawn(move || {
            lower_priority();
            train_and_report(|progress| job.run(progress, &flag), &tx, &own);
        });
        match spawned {
            Ok(_) => {
                self.training = Some(cancel);
                self.status(self.describe());
            }
            Err(e) => self.status(format!("cannot start training: {e}")),
        }
    }
}

/// Training is background work: let decoding and the UI go first.
fn lower_priority() {
    // SAFETY: setpriority on the calling thread (who = 0 means the caller on Linux) has no
    // memory effects; failure only leaves the priority unchanged.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tracks::insert_tracks;
    use crate::summary::TrainingRun;

    fn waiting(ids: Vec<i64>) -> NotToPick {
        NotToPick {
            waiting: ids,
            passed_over: Vec::new(),
        }
    }
    use rusqlite::params;

    const SEED_ARTIST: &str = "Seed Artist";

    /// Rankings asked again before the thread came to them are answered once, for the latest;
    /// every other request is answered, in order.
    #[test]
    fn a_ranking_asked_again_is_answered_for_the_latest_only() {
        let rank = |seq| Request::Rank {
            seq,
            session: vec![(1, false)],
            not_to_pick: NotToPick::default(),
            limit: 5,
            radio: None,
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        for request in [rank(1), Request::Banned(7), rank(2), rank(3), Request::Retrain] {
            tx.send(request).unwrap();
        }
        let mut inbox = Inbox::new(&rx);
        assert_eq!(inbox.next(), Some(Request::Banned(7)));
        assert_eq!(inbox.next(), Some(rank(3)));
        assert_eq!(inbox.next(), Some(Request::Retrain));
        // One asked alone is answered.
        tx.send(rank(4)).unwrap();
        assert_eq!(inbox.next(), Some(rank(4)));
        drop(tx);
        assert_eq!(inbox.next(), None);
    }

    /// A training run that panics still ends: the recommender thread hears that it is over (so
    /// the next retrain is not refused as "already training"), and the listener why.
    #[test]
    fn a_training_run_that_panics_is_over_and_says_so() {
        let (tx, reports) = crossbeam_channel::unbounded();
        let (own, requests) = crossbeam_channel::unbounded();
        train_and_report(
            |progress| {
                progress(TrainStage::Features, 1, 4);
                panic!("a bug in training");
            },
            &tx,
            &own,
        );
        assert!(matches!(requests.try_recv(), Ok(Request::TrainingOver)));
        let reports: Vec<WorkerMsg> = reports.try_iter().collect();
        assert!(
            matches!(&reports[..], [WorkerMsg::TrainProgress { stage: "history features (1 of 2)", done: 1, total: 4 }, WorkerMsg::TrainDone(why)]
                if why.starts_with("training stopped after an internal error")),
            "{reports:?}"
        );
    }

    /// 60 tracks: 1-8 by the seed's artist, the rest each by its own artist. The log finishes
    /// tracks 9-30 again and again, and track 1 once, in a session with 40, 41 and 42.
    fn core() -> AutoplayCore {
        core_with(0)
    }

    /// [`core`] with `exclude_recent` set.
    fn core_with(exclude_recent: usize) -> AutoplayCore {
        let mut db = Database::open_in_memory().unwrap();
        let tracks: Vec<Track> = (1..=60)
            .map(|id| Track {
                id,
                path: PathBuf::from(format!("/music/{id}.ogg")),
                title: format!("Song {id}"),
                artist: Some(if id <= 8 {
                    SEED_ARTIST.into()
                } else {
                    format!("Artist {id}").into()
                }),
                duration_ms: Some(200_000),
                ..Track::default()
            })
            .collect();
        insert_tracks(db.conn_mut(), &tracks).unwrap();
        let mut sessions: Vec<Vec<i64>> = (0..30)
            .map(|s| (9..=30).filter(|t| (t + s) % 3 != 0).collect())
            .collect();
        sessions.push(vec![40, 1, 41, 42]);
        let conn = db.conn();
        let mut ts = 1_000_000_000_000i64;
        for (s, plays) in sessions.iter().enumerate() {
            conn.execute(
                "INSERT INTO sessions (id, started_at, last_at) VALUES (?1, ?2, ?2)",
                params![s as i64 + 1, ts],
            )
            .unwrap();
            for (position, track) in plays.iter().enumerate() {
                conn.execute(
                    "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                                        end_reason, skipped, source)
                     VALUES (?1, ?2, ?3, ?4, ?4 + 200000, 200000, 200000, 'finished', 0, 'user')",
                    params![track, s as i64 + 1, position as i64, ts],
                )
                .unwrap();
                ts += 200_000;
            }
            ts += 86_400_000;
        }
        let config = RecommendConfig {
            exclude_recent,
            ..RecommendConfig::default()
        };
        AutoplayCore::new(db, PathBuf::from("/nonexistent/models"), config).unwrap()
    }

    fn favoured_among(picks: &[Scored]) -> usize {
        picks
            .iter()
            .filter(|p| p.track_id <= 8 || (40..=42).contains(&p.track_id))
            .count()
    }

    /// A track whose last play failed is not picked: a damaged file until a play of it goes
    /// well, a file that could not be opened until it is there again; a failure before its
    /// file was last read does not count.
    #[test]
    fn a_track_that_keeps_failing_to_play_is_not_a_candidate() {
        let mut core = core();
        let dir = tempfile::tempdir().unwrap();
        let back = dir.path().join("back.ogg");
        let candidate = |core: &AutoplayCore, id: i64| core.candidates().iter().any(|t| t.id == id);
        let play =
            |core: &AutoplayCore, track: i64, position: i64, at: i64, error: Option<&str>| {
                core.db
                .conn()
                .execute(
                    "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                                        end_reason, skipped, source, error)
                     VALUES (?1, 31, ?2, ?3, ?3 + 1000, 1000, 200000, ?4, 0, 'user', ?5)",
                    params![track, position, at, if error.is_some() { "error" } else { "finished" }, error],
                )
                .unwrap();
            };
        let now = crate::clock::now_ms() + 60_000;
        play(
            &core,
            50,
            4,
            now,
            Some("decoding failed: file ends at 1.9 s of 8.5 s (truncated?)"),
        );
        play(&core, 51, 5, 1_000, Some("decoding failed"));
        core.db
            .conn()
            .execute("UPDATE tracks SET updated_at = 5000 WHERE id = 51", [])
            .unwrap();
        core.db
            .conn()
            .execute(
                "UPDATE tracks SET path = ?1 WHERE id = 53",
                [back.as_os_str().as_encoded_bytes()],
            )
            .unwrap();
        let cannot_open = format!(
            "{}: cannot open: No such file or directory (os error 2)",
            back.display()
        );
        play(&core, 53, 6, now, Some(&cannot_open));
        core.reload(None).unwrap();
        assert!(!candidate(&core, 50), "failed to decode since its file was read");
        assert!(candidate(&core, 51), "failed before its file was read again");
        assert!(!candidate(&core, 53), "its file cannot be found");
        std::fs::write(&back, b"back").unwrap();
        play(&core, 50, 7, now + 10_000, None);
        core.reload(None).unwrap();
        assert!(candidate(&core, 50), "played well since");
        assert!(candidate(&core, 53), "its file is back");
        core.leave_out(52);
        assert!(!candidate(&core, 52));
    }

    /// A recommender thread's worker over [`core`] with a training run going on (so that no
    /// request starts one), what it reports and the requests it sends itself.
    fn worker_while_training() -> (Worker, Receiver<WorkerMsg>, Receiver<Request>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (own, requests) = crossbeam_channel::unbounded();
        let worker = Worker {
            core: core(),
            tx,
            own,
            training: Some(Arc::new(AtomicBool::new(false))),
        };
        (worker, rx, requests)
    }

    /// A play finished while a training run goes on keeps the status saying that it does.
    #[test]
    fn a_play_finished_during_training_leaves_the_status_saying_so() {
        let (mut worker, rx, _requests) = worker_while_training();
        let play = LoggedPlay {
            track_id: 9,
            session_id: 1_000,
            skipped: false,
            ts_ms: crate::clock::now_ms(),
        };
        let said = || -> Vec<String> {
            rx.try_iter()
                .filter_map(|m| match m {
                    WorkerMsg::ModelStatus(status) => Some(status),
                    _ => None,
                })
                .collect()
        };
        worker.handle(Request::Played {
            play,
            play_id: Some(i64::MAX),
        });
        let during = said();
        assert!(
            matches!(&during[..], [one] if one.ends_with(" · training…")),
            "{during:?}"
        );
        worker.handle(Request::TrainingOver);
        let after = said();
        assert!(after.iter().all(|s| !s.contains("training…")), "{after:?}");
    }

    /// What the picks are ranked from changing (a like read with the log) has the front end
    /// ask for them again; a reload that changed nothing, a play or a ban does not (the next
    /// track asks, and a ban asks itself).
    #[test]
    fn a_reload_that_changed_what_ranks_asks_for_the_picks_again() {
        let (mut worker, rx, _requests) = worker_while_training();
        let asked_again = || rx.try_iter().filter(|m| matches!(m, WorkerMsg::RankingChanged)).count();
        // Nothing changed: the picks stand.
        worker.handle(Request::Reload(None));
        worker.handle(Request::ReloadModel);
        assert_eq!(asked_again(), 0);
        let like = "INSERT INTO likes (track_id, liked_at) VALUES (9, 1000)";
        worker.core.db.conn().execute(like, []).unwrap();
        worker.handle(Request::Reload(None));
        assert_eq!(asked_again(), 1);
        worker.handle(Request::Banned(9));
        worker.handle(Request::Played {
            play: LoggedPlay {
                track_id: 9,
                session_id: 1_000,
                skipped: false,
                ts_ms: crate::clock::now_ms(),
            },
            play_id: Some(i64::MAX),
        });
        assert_eq!(asked_again(), 0);
    }

    /// A log long enough to train on with no model (a history just imported) trains at once,
    /// once; after that the play counter decides, and with periodic training off nothing does.
    #[test]
    fn with_no_model_a_long_enough_log_trains_at_once_and_only_once() {
        let mut core = core();
        assert!(core.enough_plays() && core.recommender.is_none());
        assert!(core.retrain_due(), "no model yet");
        assert!(core.describe().contains("no model trained yet"), "{}", core.describe());
        let _job = core.start_training();
        assert!(
            !core.retrain_due(),
            "the first run was started; the counter decides now"
        );
        core.plays_at_training = core.log.plays.len() as u64 - core.config.retrain_every;
        assert!(core.retrain_due(), "K plays since");

        let mut off = core_with(0);
        off.config.retrain_every = 0;
        assert!(!off.retrain_due(), "periodic training is off");
        off.model_refused = Some("an older format".into());
        assert!(off.retrain_due(), "a refused model is replaced whatever the setting");
    }

    /// Entries the listener passed over unheard are never picked, but wait for nothing: when
    /// every other track has played lately, those tracks fill the picks rather than none.
    #[test]
    fn entries_passed_over_do_not_hold_back_the_tracks_played_lately() {
        let core = core_with(1_000);
        let played: HashSet<i64> = core.log.plays.iter().map(|p| p.track_id).collect();
        let unplayed: Vec<i64> = (1..=60).filter(|id| !played.contains(id)).collect();
        let not_to_pick = NotToPick {
            waiting: vec![40],
            passed_over: unplayed.clone(),
        };
        let (_, picks) = core.rank(&[(40, false)], &not_to_pick, 5, 2_000_000_000_000, None);
        let ids: Vec<i64> = picks.iter().map(|p| p.track_id).collect();
        assert_eq!(ids.len(), 5, "{ids:?}");
        assert!(ids.iter().all(|id| played.contains(id) && *id != 40), "{ids:?}");
    }

    /// The plays since the last training run, kept or discarded, are counted from the log at
    /// a start, so that a player quit before `retrain_every` plays still retrains in time.
    #[test]
    fn the_plays_since_the_last_training_run_carry_over_to_the_next_start() {
        let core = core();
        let plays = core.log.plays.len() as u64;
        assert_eq!(core.plays_since_training(), 0, "no run yet and no model");
        let run = TrainingRun {
            finished_at_ms: 0,
            plays_seen: plays - 7,
            new_ndcg10: 0.5,
            old_ndcg10: None,
            transformer_kept: false,
            saved: false,
            train_ms: 1,
            started_by: "player".into(),
        };
        crate::db::training::record(core.db.conn(), &run).unwrap();
        let restarted = AutoplayCore::new(core.db, core.models_dir, core.config).unwrap();
        assert_eq!(restarted.plays_since_training(), 7);
    }

    /// The player commits a play, then a reload queued before its report reads the log: the
    /// report that follows does not add the play a second time.
    #[test]
    fn a_play_the_reload_read_already_is_not_folded_in_twice() {
        let mut core = core();
        let plays = core.log.plays.len();
        let log_play = |db: &Database, position: i64| {
            db.conn()
                .execute(
                    "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                                        end_reason, skipped, source)
                     VALUES (12, 31, ?1, 2000000000000, 2000000200000, 200000, 200000, 'finished', 0, 'user')",
                    [position],
                )
                .unwrap();
            db.conn().last_insert_rowid()
        };
        let first = log_play(&core.db, 4);
        let play = LoggedPlay {
            track_id: 12,
            session_id: 31,
            skipped: false,
            ts_ms: 2_000_000_200_000,
        };
        core.reload(None).unwrap();
        assert_eq!(core.log.plays.len(), plays + 1);
        core.played(play, Some(first));
        assert_eq!(core.log.plays.len(), plays + 1, "the reload had read it");
        let second = log_play(&core.db, 5);
        core.played(play, Some(second));
        assert_eq!(core.log.plays.len(), plays + 2);
    }

    /// Plays another program added (an import) count toward the next retrain as the player's
    /// own do, and a reload that read nothing new counts none.
    #[test]
    fn plays_a_reload_finds_count_toward_the_next_retrain() {
        let mut core = core();
        let _job = core.start_training();
        assert!(!core.retrain_due());
        let every = core.config.retrain_every;
        let conn = core.db.conn();
        for position in 0..every {
            conn.execute(
                "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                                    end_reason, skipped, source)
                 VALUES (12, 31, ?1, 2000000000000 + ?1 * 300000, 2000000200000 + ?1 * 300000, 200000, 200000,
                         'finished', 0, 'import')",
                [position as i64 + 4],
            )
            .unwrap();
        }
        core.reload(None).unwrap();
        assert_eq!(core.plays_since_training(), every);
        assert!(core.retrain_due(), "an import of retrain_every plays");
        let _job = core.start_training();
        core.reload(None).unwrap();
        assert_eq!(core.plays_since_training(), 0, "nothing new");
    }

    /// A long run of autoplay over 60 tracks, each pick heard to its end: with the default
    /// window no track comes back within 50 plays, rather than going round the 22 favourites the
    /// log leans to (what a window of 20 did).
    #[test]
    fn a_long_autoplay_run_goes_round_the_library_rather_than_its_favourites() {
        let mut core = core_with(RecommendConfig::default().exclude_recent);
        let mut now = 2_000_000_000_000;
        let mut session: Vec<(i64, bool)> = Vec::new();
        for _ in 0..150 {
            let (_, picks) = core.rank(&session, &NotToPick::default(), 1, now, None);
            let track_id = picks[0].track_id;
            now += 200_000;
            let play = LoggedPlay {
                track_id,
                session_id: 32,
                skipped: false,
                ts_ms: now,
            };
            core.played(play, None);
            session.push((track_id, false));
        }
        let heard: Vec<i64> = session.iter().map(|p| p.0).collect();
        for (at, track) in heard.iter().enumerate() {
            let since = &heard[at.saturating_sub(50)..at];
            assert!(
                !since.contains(track),
                "{track} again at {at} within 50 plays: {heard:?}"
            );
        }
    }

    /// A listener who skips every track but two, in a session long enough to play the library
    /// through many times: the skipped tracks come back later rather than never, so the two
    /// are not all that plays.
    #[test]
    fn a_session_of_skips_through_a_small_library_does_not_alternate_two_tracks() {
        let mut core = core_with(100);
        let mut now = 2_000_000_000_000;
        let mut session: Vec<(i64, bool)> = Vec::new();
        let mut kept: Vec<i64> = Vec::new();
        for _ in 0..200 {
            let (_, picks) = core.rank(&session, &NotToPick::default(), 1, now, None);
            let track_id = picks[0].track_id;
            if kept.len() < 2 && !kept.contains(&track_id) {
                kept.push(track_id);
            }
            let skipped = !kept.contains(&track_id);
            now += 200_000;
            let play = LoggedPlay {
                track_id,
                session_id: 33,
                skipped,
                ts_ms: now,
            };
            core.played(play, None);
            session.push((track_id, skipped));
        }
        let last_100 = &session[100..];
        let of_the_two = last_100.iter().filter(|p| kept.contains(&p.0)).count();
        assert!(of_the_two <= 50, "{of_the_two} of the last 100: {last_100:?}");
    }

    #[test]
    fn a_radio_fills_at_least_half_the_picks_with_its_seed_and_skips_loosen_it() {
        let core = core();
        let now = 2_000_000_000_000;
        let seed = RadioSeed {
            tracks: vec![1],
            artist: Some(SEED_ARTIST.into()),
            name: "Song 1".into(),
        };
        let (_, plain) = core.rank(&[(1, false)], &NotToPick::default(), 10, now, None);
        let (_, radio) = core.rank(&[(1, false)], &NotToPick::default(), 10, now, Some(&seed));
        assert!(favoured_among(&plain) < 3, "{plain:?}");
        assert!(favoured_among(&radio) >= 5, "{radio:?}");
        assert!(radio
            .iter()
            .filter(|p| p.track_id <= 8 || (40..=42).contains(&p.track_id))
            .all(|p| p.reason.starts_with("radio from Song 1")));
        // A track radio keeps the artist limit for everyone but the seed's artist.
        let by_seed_artist = radio.iter().filter(|p| p.track_id <= 8).count();
        assert!(by_seed_artist >= 2, "{radio:?}");
        let mut one_band = core;
        one_band
            .db
            .conn()
            .execute("UPDATE tracks SET artist = 'Other Band' WHERE id IN (40, 41, 42)", [])
            .unwrap();
        one_band.reload(None).unwrap();
        let (_, radio) = one_band.rank(&[(1, false)], &NotToPick::default(), 10, now, Some(&seed));
        let heard_with_seed = radio.iter().filter(|p| (40..=42).contains(&p.track_id)).count();
        assert!(
            heard_with_seed <= RecommendConfig::default().max_per_artist,
            "{radio:?}"
        );
        let core = core_with(0);

        let skipping = [(1, false), (2, true), (3, true)];
        let (_, steered) = core.rank(&skipping, &NotToPick::default(), 10, now, Some(&seed));
        assert!(
            favoured_among(&steered) < favoured_among(&radio),
            "two skipped seed tracks loosen the radio: {steered:?}"
        );
    }

    /// A group's radio favours the artist who made most of it, not whoever made its first
    /// track; a compilation favours no artist.
    #[test]
    fn a_group_radio_is_of_the_artist_who_made_most_of_it() {
        let by = |id: i64, artist: &str| Track {
            id,
            title: format!("Song {id}"),
            artist: Some(artist.into()),
            ..Track::default()
        };
        let album = [by(1, "Guest"), by(2, "Band"), by(3, "band"), by(4, "Band")];
        let (seed, first) = RadioSeed::of_group(&album, "Album".into(), |_| false).unwrap();
        assert_eq!((seed.artist.as_deref(), first.id), (Some("Band"), 1));
        let compilation = [by(1, "A"), by(2, "B"), by(3, "C"), by(4, "A")];
        let (seed, _) = RadioSeed::of_group(&compilation, "Hits".into(), |_| false).unwrap();
        assert_eq!(seed.artist, None);
        let filed = compilation.map(|t| Track {
            album_artist: Some(VARIOUS_ARTISTS.into()),
            ..t
        });
        let (seed, _) = RadioSeed::of_group(&filed, "Hits".into(), |_| false).unwrap();
        assert_eq!(seed.artist, None);
        let featuring = [by(1, "Band feat. A"), by(2, "Band feat. B"), by(3, "Band")].map(|t| Track {
            album_artist: Some("Band".into()),
            ..t
        });
        let (seed, _) = RadioSeed::of_group(&featuring, "Album".into(), |_| false).unwrap();
        assert_eq!(seed.artist.as_deref(), Some("Band"));
        assert!(RadioSeed::of_group(&album, "Album".into(), |_| true).is_none());
    }

    /// [`core`] with a second file of "Song 9" by "Artist 9", track 61.
    fn core_with_a_second_file_of_song_9() -> AutoplayCore {
        let mut core = core();
        let copy = Track {
            id: 61,
            path: PathBuf::from("/music/copies/9.flac"),
            title: "Song 9".into(),
            artist: Some("Artist 9".into()),
            duration_ms: Some(200_000),
            ..Track::default()
        };
        insert_tracks(core.db.conn_mut(), &[copy]).unwrap();
        core.reload(None).unwrap();
        core
    }

    /// A second file of a song (61, "Song 9" by "Artist 9" again) is that song: it does not
    /// follow the first one playing, nor one skipped, though the first is its closest match.
    #[test]
    fn another_file_of_the_playing_or_a_skipped_song_is_not_picked() {
        let mut core = core_with_a_second_file_of_song_9();
        let now = 2_000_000_000_000;
        for session in [vec![(9, false)], vec![(9, true), (12, false)]] {
            let (_, picks) = core.rank(&session, &waiting(vec![session[session.len() - 1].0]), 20, now, None);
            let ids: Vec<i64> = picks.iter().map(|p| p.track_id).collect();
            assert!(!ids.contains(&61), "{session:?}: {ids:?}");
            assert!(!ids.is_empty());
        }
        // A song neither playing nor skipped may still be picked, by one of its files only,
        // even with no artist limit and room for every track.
        core.config.max_per_artist = 0;
        let (_, picks) = core.rank(&[(12, false)], &waiting(vec![12]), 60, now, None);
        let files_of_song_9 = picks.iter().filter(|p| [9, 61].contains(&p.track_id)).count();
        assert_eq!(files_of_song_9, 1, "{picks:?}");
    }

    /// A file deleted while it plays leaves the library at the rescan, and is still its song:
    /// its other file does not follow it.
    #[test]
    fn the_other_file_of_a_song_whose_playing_file_left_the_library_is_not_picked() {
        let mut core = core_with_a_second_file_of_song_9();
        let now = 2_000_000_000_000;
        crate::db::tracks::mark_gone(core.db.conn(), 9, now).unwrap();
        core.reload(None).unwrap();
        assert!(core.candidates().iter().all(|t| t.id != 9));
        let (_, picks) = core.rank(&[(9, false)], &waiting(vec![9]), 20, now, None);
        let ids: Vec<i64> = picks.iter().map(|p| p.track_id).collect();
        assert!(!ids.is_empty() && !ids.contains(&61), "{ids:?}");
    }

    /// A song's other file waits among the tracks played lately where the song played, so a
    /// library played through comes round in the order it was heard, two-file songs too.
    #[test]
    fn another_file_of_a_song_played_lately_waits_in_its_place() {
        let mut core = core_with(1_000);
        let copy = Track {
            id: 61,
            path: PathBuf::from("/music/copies/9.flac"),
            ..core.candidates().iter().find(|t| t.id == 9).unwrap().as_ref().clone()
        };
        insert_tracks(core.db.conn_mut(), &[copy]).unwrap();
        core.reload(None).unwrap();
        let recent = core.recent_with_other_files();
        let last_of = |id: i64| recent.iter().rposition(|&r| r == id).unwrap();
        assert_eq!(last_of(61), last_of(9) + 1, "{recent:?}");
        assert!(last_of(61) < last_of(12), "{recent:?}");
        assert_eq!(
            recent.len(),
            core.log.recent(core.config.exclude_recent).len() + recent.iter().filter(|&&r| r == 61).count()
        );
    }

    /// A ban is of the song: its other file (61, "Song 9" again) is never picked either, from the
    /// ban on and after a reload.
    #[test]
    fn a_banned_songs_other_files_are_never_picked() {
        let mut core = core_with_a_second_file_of_song_9();
        core.config.max_per_artist = 0;
        let now = 2_000_000_000_000;
        let picked = |core: &AutoplayCore| -> Vec<i64> {
            let (_, picks) = core.rank(&[(12, false)], &waiting(vec![12]), 60, now, None);
            picks.iter().map(|p| p.track_id).collect()
        };
        assert!(picked(&core).contains(&61) != picked(&core).contains(&9));
        crate::db::marks::set(core.db.conn(), 9, Mark::Ban, true, now).unwrap();
        core.ban(9);
        let ids = picked(&core);
        assert!(!ids.contains(&9) && !ids.contains(&61), "{ids:?}");
        core.reload(None).unwrap();
        let ids = picked(&core);
        assert!(!ids.contains(&9) && !ids.contains(&61), "after a reload: {ids:?}");
    }

    #[test]
    fn a_library_that_runs_out_of_tracks_not_played_lately_goes_on_with_recent_ones() {
        // Every played track is recent. 28 others may be picked one per artist (one of the seed
        // artist's), then the seed artist's 6 others beyond the limit: 34, fewer than the 40
        // asked for.
        let core = core_with(1_000);
        let now = 2_000_000_000_000;
        let played = |id: &i64| *id == 1 || (9..=30).contains(id) || (40..=42).contains(id);
        let (_, picks) = core.rank(&[(40, false)], &waiting(vec![40]), 40, now, None);
        let ids: Vec<i64> = picks.iter().map(|p| p.track_id).collect();
        assert_eq!(ids.len(), 40, "{ids:?}");
        assert!(ids[..34].iter().all(|id| !played(id)), "the others first: {ids:?}");
        assert_eq!(
            ids[..28].iter().filter(|&&id| id <= 8).count(),
            1,
            "one per artist first: {ids:?}"
        );
        assert!(
            ids[28..34].iter().all(|&id| id <= 8),
            "then more of the artist: {ids:?}"
        );
        assert!(ids[34..].iter().all(played), "then recent ones: {ids:?}");
        assert!(!ids.contains(&40), "not the playing track");
        // While the listener has something queued, recent tracks wait.
        let (_, picks) = core.rank(&[(40, false)], &waiting(vec![40, 31]), 40, now, None);
        assert_eq!(picks.len(), 33, "{picks:?}");
        assert!(picks.iter().all(|p| !played(&p.track_id)), "{picks:?}");
    }

    /// The playing song's second file is left out, and is no queue: with nothing queued, tracks
    /// played lately still fill the picks (they ran dry, and playback stopped).
    #[test]
    fn a_playing_song_with_a_second_file_still_goes_on_with_recent_tracks() {
        let mut core = core_with(1_000);
        let playing = core.candidates().iter().find(|t| t.id == 40).unwrap().as_ref().clone();
        let copy = Track {
            id: 61,
            path: PathBuf::from("/music/copies/40.flac"),
            ..playing
        };
        insert_tracks(core.db.conn_mut(), &[copy]).unwrap();
        core.reload(None).unwrap();
        let (_, picks) = core.rank(&[(40, false)], &waiting(vec![40]), 40, 2_000_000_000_000, None);
        let ids: Vec<i64> = picks.iter().map(|p| p.track_id).collect();
        assert_eq!(ids.len(), 40, "{ids:?}");
        assert!(!ids.contains(&61) && !ids.contains(&40), "{ids:?}");
    }

    /// Two picks of one artist skipped in a row turn the artist down for the session: its tracks
    /// wait until nothing else is left, and a play of it heard takes it back. One skip, or a
    /// skip followed by the artist's track now playing, is not yet a no.
    #[test]
    fn an_artist_skipped_twice_in_a_row_is_left_out_until_one_of_theirs_is_heard() {
        let mut core = core();
        core.config.max_per_artist = 0;
        let now = 2_000_000_000_000;
        let theirs = |session: &[(i64, bool)], limit: usize| -> Vec<(usize, String)> {
            let (_, picks) = core.rank(session, &NotToPick::default(), limit, now, None);
            picks
                .iter()
                .enumerate()
                .filter(|(_, p)| p.track_id <= 8)
                .map(|(at, p)| (at, p.reason.clone()))
                .collect()
        };
        // Finished, the seed artist's track 1 makes the others by that artist the best picks.
        assert_eq!(theirs(&[(1, false), (12, false)], 5).len(), 5);
        assert!(!theirs(&[(1, false), (2, true), (12, false)], 5).is_empty(), "one skip");
        assert!(
            !theirs(&[(1, false), (2, true), (3, false)], 5).is_empty(),
            "one skip, 3 playing"
        );
        let turned_down = [(1, false), (2, true), (3, true), (12, false)];
        assert_eq!(theirs(&turned_down, 10), [], "two skips in a row");
        assert_eq!(
            theirs(&[(1, false), (2, true), (3, true)], 10),
            [],
            "the second skip last"
        );
        // With every track asked for, theirs come last, and say why.
        let all = theirs(&turned_down, 60);
        assert!(!all.is_empty());
        let (first, _) = all[0];
        assert!(first >= 60 - 8 - 4, "{all:?}");
        let count = |why: &str| all.iter().filter(|(_, reason)| reason.starts_with(why)).count();
        assert_eq!(count("skipped earlier this session; nothing else"), 2, "{all:?}");
        assert_eq!(count("by an artist skipped this session; nothing else"), 6, "{all:?}");
        // A track of theirs heard after the skips takes the artist back.
        assert!(!theirs(&[(1, false), (2, true), (3, true), (4, false), (12, false)], 5).is_empty());
    }

    #[test]
    fn an_artist_radio_plays_that_artist_beyond_the_artist_limit() {
        let core = core();
        let seed = RadioSeed {
            tracks: (1..=8).collect(),
            artist: Some(SEED_ARTIST.into()),
            name: SEED_ARTIST.into(),
        };
        let (_, picks) = core.rank(&[(1, false)], &NotToPick::default(), 10, 2_000_000_000_000, Some(&seed));
        let theirs = picks.iter().filter(|p| p.track_id <= 8).count();
        assert!(theirs >= 5, "{picks:?}");
        assert_eq!(picks.len(), 10);
    }
}
