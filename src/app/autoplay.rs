//! Live recommendations for the player ([`Autoplay`], [`Request`]): a thread that ranks the
//! library for the session as it unfolds, and a low-priority trainer thread that retrains the
//! model every K plays or on request and swaps it in only when it is at least as good.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::controller::{Controller, Outcome};
use super::workers::WorkerMsg;
use crate::config::RecommendConfig;
use crate::db::Database;
use crate::play::EndReason;
use crate::play::LoggedPlay;
use crate::player::Event;
use crate::recommend::checkpoint::Checkpoint;
use crate::recommend::infer::{fallback_rank, Filters, Recommender, Scored};
use crate::recommend::log::{library_candidates, train_from_log, ListeningLog};
use crate::recommend::train::TrainConfig;
use crate::recommend::RecommendError;
use crate::track::Track;

/// What the player asks of the recommendation thread.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// Rank the library for what follows `session` (track, skipped; the playing track last).
    Rank {
        seq: u64,
        session: Vec<(i64, bool)>,
        exclude: Vec<i64>,
        limit: usize,
    },
    /// A play was completed in the log.
    Played(LoggedPlay),
    /// The library or the marks changed (a scan finished, a like, or a ban taken back).
    Reload,
    /// The listener banned this track: it is never picked again.
    Banned(i64),
    /// Retrain now.
    Retrain,
    /// A trainer finished and saved a better model.
    ModelSaved,
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
}

impl Autoplay {
    /// Starts the thread; it reports on `tx` and never blocks the caller.
    pub(crate) fn start(db_path: PathBuf, models_dir: PathBuf, config: RecommendConfig, tx: Sender<WorkerMsg>) -> Self {
        let limit = config.autoplay_queue;
        let (requests, rx) = crossbeam_channel::unbounded();
        let own = requests.clone();
        let spawned = std::thread::Builder::new().name("recommender".into()).spawn(move || {
            let mut worker = match Worker::new(db_path, models_dir, config, tx.clone(), own) {
                Ok(worker) => worker,
                Err(e) => {
                    let _ = tx.send(WorkerMsg::ModelStatus(format!("recommendations off: {e}")));
                    return;
                }
            };
            let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                worker.start();
                worker.run(&rx)
            }))
            .is_err();
            if crashed {
                let _ = tx.send(WorkerMsg::ModelStatus(
                    "recommendations stopped after an internal error".into(),
                ));
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the recommender thread: {e}");
        }
        Self {
            requests,
            seq: 0,
            limit,
        }
    }

    pub(crate) fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }

    /// Tells the thread about the plays an engine event completed (a play that failed to
    /// decode says nothing about the listener); returns whether the picks should be ranked
    /// again, which is after every start and every logged play.
    pub(crate) fn observe(&self, event: &Event, outcomes: &[Outcome]) -> bool {
        let mut rerank = matches!(event, Event::Started { .. });
        for outcome in outcomes {
            if let Outcome::Logged(play) = outcome {
                rerank = true;
                if play.end_reason != EndReason::Error {
                    self.send(Request::Played(LoggedPlay {
                        track_id: play.track_id,
                        session_id: play.session_id,
                        skipped: play.skipped,
                        ts_ms: play.ended_at,
                    }));
                }
            }
        }
        rerank
    }

    /// Asks for a fresh ranking of what follows the controller's session.
    pub(crate) fn request_rank(&mut self, controller: &Controller) {
        let (session, exclude) = controller.autoplay_context();
        self.seq += 1;
        self.send(Request::Rank {
            seq: self.seq,
            session,
            exclude,
            limit: self.limit,
        });
    }

    /// Puts the answer to ranking request `seq` after the listener's own queue entries, unless
    /// a newer request is out; returns whether it was used.
    pub(crate) fn accept(
        &self,
        seq: u64,
        source: &str,
        picks: &[Scored],
        controller: &mut Controller,
        track: impl Fn(i64) -> Option<Track>,
    ) -> bool {
        if seq != self.seq {
            return false;
        }
        controller.set_autoplay_picks(source, picks, track);
        true
    }
}

impl Drop for Autoplay {
    fn drop(&mut self) {
        let _ = self.requests.send(Request::Shutdown);
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
    candidates: Vec<Track>,
    recommender: Option<Recommender>,
    plays_since_model: u64,
    /// Counted from the start of the last training run, kept or not, so that a discarded model
    /// waits for K more plays like a saved one.
    plays_since_training: u64,
    /// The saved model could not be read (an older format, or damaged): a retrain is due now.
    model_refused: bool,
}

impl AutoplayCore {
    pub fn new(db: Database, models_dir: PathBuf, config: RecommendConfig) -> Result<Self, RecommendError> {
        let log = ListeningLog::load(&db)?;
        let candidates = library_candidates(&db)?;
        let mut core = Self {
            db,
            models_dir,
            config,
            log,
            candidates,
            recommender: None,
            plays_since_model: 0,
            plays_since_training: 0,
            model_refused: false,
        };
        match core.load_model() {
            Ok(()) => {}
            // A checkpoint of an older format or a damaged one: rank with the fallback and let a
            // retrain replace it, rather than turning recommendations off.
            Err(e @ RecommendError::Checkpoint { .. }) => {
                tracing::warn!("{e}; autoplay uses the fallback ranking until a retrain replaces the model");
                core.model_refused = true;
            }
            Err(e) => return Err(e),
        }
        Ok(core)
    }

    /// Leaves a banned track out of every ranking from now on.
    pub(crate) fn ban(&mut self, track_id: i64) {
        self.candidates.retain(|t| t.id != track_id);
    }

    /// Whether the saved model was refused at start and the log is long enough to train a new
    /// one now.
    pub(crate) fn retrain_due_at_start(&self) -> bool {
        self.model_refused && self.enough_plays()
    }

    /// Re-reads the library and the log (after a scan).
    pub(crate) fn reload(&mut self) -> Result<(), RecommendError> {
        self.candidates = library_candidates(&self.db)?;
        self.log = ListeningLog::load(&self.db)?;
        if let Some(r) = self.recommender.as_mut() {
            r.replay(&self.log);
        }
        Ok(())
    }

    /// Loads the saved model, if any, and replays the log into it.
    pub fn load_model(&mut self) -> Result<(), RecommendError> {
        self.recommender = None;
        if let Some(mut recommender) = Recommender::load(&self.models_dir)? {
            recommender.replay(&self.log);
            self.plays_since_model = (self.log.plays.len() as u64).saturating_sub(recommender.meta().plays_seen);
            self.plays_since_training = self.plays_since_training.min(self.plays_since_model);
            self.recommender = Some(recommender);
        }
        Ok(())
    }

    /// One line on what feeds autoplay.
    pub(crate) fn describe(&self) -> String {
        match &self.recommender {
            Some(r) if self.enough_plays() => format!(
                "model trained {} on {} plays · {} plays since",
                r.meta()
                    .trained_at
                    .get(..16)
                    .unwrap_or(&r.meta().trained_at)
                    .replace('T', " "),
                r.meta().plays_seen,
                self.plays_since_model
            ),
            _ => format!(
                "fallback: similar tracks, then your most finished (model after {} plays, {} so far)",
                self.config.min_plays,
                self.log.plays.len()
            ),
        }
    }

    pub(crate) fn enough_plays(&self) -> bool {
        self.log.plays.len() as u64 >= self.config.min_plays
    }

    /// The best `limit` tracks to follow `session`, and which ranking produced them.
    pub fn rank(
        &self,
        session: &[(i64, bool)],
        exclude: &[i64],
        limit: usize,
        now_ms: i64,
    ) -> (&'static str, Vec<Scored>) {
        let mut filters = Filters::from_config(&self.config, limit);
        filters.now_ms = Some(now_ms);
        filters.recent = self.log.recent(self.config.exclude_recent);
        filters.recent.extend_from_slice(exclude);
        filters.seed = self.log.plays.len() as u64;
        if let Some(recommender) = self.recommender.as_ref().filter(|_| self.enough_plays()) {
            if let Ok(picks) = recommender.rank(session, &self.candidates, &filters) {
                return ("model", picks);
            }
        }
        (
            "fallback",
            fallback_rank(session, &self.candidates, &self.log, &filters),
        )
    }

    /// Folds a completed play into the signals; returns whether a retrain is due.
    pub(crate) fn played(&mut self, play: LoggedPlay) -> bool {
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
        if let (Some(r), Some(track)) = (self.recommender.as_mut(), self.log.tracks.get(&play.track_id)) {
            r.observe(&before, track, play.skipped, play.ts_ms);
        }
        self.log.plays.push(play);
        self.plays_since_model += 1;
        self.plays_since_training += 1;
        self.config.retrain_every > 0 && self.plays_since_training >= self.config.retrain_every && self.enough_plays()
    }

    /// What a training run needs, to run on another thread; the next one is due K plays from now.
    pub fn start_training(&mut self) -> TrainingJob {
        self.plays_since_training = 0;
        self.model_refused = false;
        TrainingJob {
            log: self.log.clone(),
            models_dir: self.models_dir.clone(),
            train: TrainConfig::default(),
        }
    }
}

/// A training run's inputs: a snapshot of the log, where the model to beat is saved, and how to train.
pub struct TrainingJob {
    log: ListeningLog,
    models_dir: PathBuf,
    pub train: TrainConfig,
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
    pub fn run(&self, progress: &mut (dyn FnMut(usize, usize) + Send), cancel: &AtomicBool) -> TrainingOutcome {
        let previous = Checkpoint::load(&self.models_dir).unwrap_or_default();
        let pool = match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
            Ok(pool) => pool,
            Err(e) => return TrainingOutcome::Kept(format!("cannot start training: {e}")),
        };
        let result = pool.install(|| {
            train_from_log(
                &self.log,
                previous.as_ref(),
                &self.train,
                &mut |p| {
                    let total = (p.steps * p.epochs).max(1);
                    progress((p.epoch.saturating_sub(1)) * p.steps + p.step, total);
                },
                cancel,
            )
        });
        let trained = match result {
            Ok(trained) => trained,
            Err(RecommendError::Cancelled) => return TrainingOutcome::Cancelled,
            Err(e) => return TrainingOutcome::Kept(format!("training failed: {e}")),
        };
        let new = trained.checkpoint.meta.validation.ndcg10;
        match trained.previous_validation.map(|m| m.ndcg10) {
            Some(old) if !trained.improves() => TrainingOutcome::Kept(format!(
                "the new model was discarded: validation NDCG@10 {new:.4} is below the current model's {old:.4}"
            )),
            _ => match trained.checkpoint.save(&self.models_dir) {
                Ok(_) => TrainingOutcome::Saved(format!("new model in use: validation NDCG@10 {new:.4}")),
                Err(e) => TrainingOutcome::Kept(format!("cannot save the model: {e}")),
            },
        }
    }
}

struct Worker {
    core: AutoplayCore,
    tx: Sender<WorkerMsg>,
    own: Sender<Request>,
    training: Option<(JoinHandle<()>, Arc<AtomicBool>)>,
}

impl Worker {
    fn new(
        db_path: PathBuf,
        models_dir: PathBuf,
        config: RecommendConfig,
        tx: Sender<WorkerMsg>,
        own: Sender<Request>,
    ) -> anyhow::Result<Self> {
        let db = Database::open(&db_path)?;
        let core = AutoplayCore::new(db, models_dir, config)?;
        let worker = Self {
            core,
            tx,
            own,
            training: None,
        };
        worker.status(worker.core.describe());
        Ok(worker)
    }

    /// Starts a retrain at once when the saved model was refused at start.
    fn start(&mut self) {
        if self.core.retrain_due_at_start() {
            self.retrain();
        }
    }

    fn run(&mut self, rx: &Receiver<Request>) {
        while let Ok(request) = rx.recv() {
            match request {
                Request::Rank {
                    seq,
                    session,
                    exclude,
                    limit,
                } => {
                    let (source, picks) = self.core.rank(&session, &exclude, limit, crate::clock::now_ms());
                    let _ = self.tx.send(WorkerMsg::Recommendations { seq, source, picks });
                }
                Request::Played(play) => {
                    if self.core.played(play) && self.training.is_none() {
                        self.retrain();
                    } else {
                        self.status(self.core.describe());
                    }
                }
                Request::Banned(track_id) => self.core.ban(track_id),
                Request::Reload => {
                    if let Err(e) = self.core.reload() {
                        self.status(format!("cannot reload the library for recommendations: {e}"));
                    }
                }
                Request::Retrain => self.retrain(),
                Request::ModelSaved => {
                    self.training = None;
                    match self.core.load_model() {
                        Ok(()) => self.status(self.core.describe()),
                        Err(e) => self.status(format!("{e}; using the fallback until the next training")),
                    }
                }
                Request::Shutdown => break,
            }
        }
        if let Some((_, cancel)) = self.training.take() {
            cancel.store(true, Ordering::SeqCst);
        }
    }

    fn status(&self, text: String) {
        let _ = self.tx.send(WorkerMsg::ModelStatus(text));
    }

    fn retrain(&mut self) {
        if self.training.is_some() {
            self.status("already training".into());
            return;
        }
        if !self.core.enough_plays() {
            self.status(format!(
                "training needs {} finished plays; the log has {}",
                self.core.config.min_plays,
                self.core.log.plays.len()
            ));
            return;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let job = self.core.start_training();
        let tx = self.tx.clone();
        let own = self.own.clone();
        let flag = cancel.clone();
        let spawned = std::thread::Builder::new().name("trainer".into()).spawn(move || {
            lower_priority();
            let mut last_percent = usize::MAX;
            let outcome = job.run(
                &mut |done, total| {
                    let percent = done * 100 / total.max(1);
                    if percent != last_percent {
                        last_percent = percent;
                        let _ = tx.send(WorkerMsg::TrainProgress { done, total });
                    }
                },
                &flag,
            );
            // Whatever the outcome, the recommender thread learns that this run is over.
            let _ = own.send(Request::ModelSaved);
            match outcome {
                TrainingOutcome::Saved(message) | TrainingOutcome::Kept(message) => {
                    let _ = tx.send(WorkerMsg::TrainDone(message));
                }
                TrainingOutcome::Cancelled => {}
            }
        });
        match spawned {
            Ok(handle) => {
                self.training = Some((handle, cancel));
                self.status("training…".into());
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
