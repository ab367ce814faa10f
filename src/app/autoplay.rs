//! Live recommendations for the player ([`Autoplay`], [`Request`]): a thread that ranks the
//! library for the session as it unfolds, and a low-priority trainer thread that retrains the
//! model every K plays or on request and swaps it in only when it is at least as good.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::workers::WorkerMsg;
use crate::config::RecommendConfig;
use crate::db::Database;
use crate::recommend::checkpoint::Checkpoint;
use crate::recommend::infer::{fallback_rank, CandidateTrack, Filters, Recommender, Scored};
use crate::recommend::log::{library_candidates, train_from_log, ListeningLog, LoggedPlay};
use crate::recommend::train::TrainConfig;
use crate::recommend::RecommendError;

/// What the player asks of the recommendation thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Rank the library for what follows `session` (track, skipped; the playing track last).
    Rank {
        seq: u64,
        session: Vec<(i64, bool)>,
        exclude: Vec<i64>,
        limit: usize,
    },
    /// A play was completed in the log.
    Played(LoggedPlay),
    /// The library changed (a scan finished).
    Reload,
    /// Retrain now.
    Retrain,
    /// A trainer finished and saved a better model.
    ModelSaved,
    Shutdown,
}

/// The player's handle on the recommendation thread.
pub struct Autoplay {
    pub requests: Sender<Request>,
}

impl Autoplay {
    /// Starts the thread; it reports on `tx` and never blocks the caller.
    pub fn start(db_path: PathBuf, models_dir: PathBuf, config: RecommendConfig, tx: Sender<WorkerMsg>) -> Self {
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
            worker.run(&rx);
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the recommender thread: {e}");
        }
        Self { requests }
    }

    pub fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }
}

impl Drop for Autoplay {
    fn drop(&mut self) {
        let _ = self.requests.send(Request::Shutdown);
    }
}

struct Worker {
    db: Database,
    models_dir: PathBuf,
    config: RecommendConfig,
    tx: Sender<WorkerMsg>,
    own: Sender<Request>,
    log: ListeningLog,
    candidates: Vec<CandidateTrack>,
    recommender: Option<Recommender>,
    plays_since_model: u64,
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
        let log = ListeningLog::load(&db)?;
        let candidates = library_candidates(&db)?;
        let mut worker = Self {
            db,
            models_dir,
            config,
            tx,
            own,
            log,
            candidates,
            recommender: None,
            plays_since_model: 0,
            training: None,
        };
        worker.load_model();
        Ok(worker)
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
                    let (source, picks) = self.rank(&session, &exclude, limit);
                    let _ = self.tx.send(WorkerMsg::Recommendations { seq, source, picks });
                }
                Request::Played(play) => self.played(play),
                Request::Reload => {
                    match library_candidates(&self.db).and_then(|c| Ok((c, ListeningLog::load(&self.db)?))) {
                        Ok((candidates, log)) => {
                            self.candidates = candidates;
                            self.log = log;
                            if let Some(r) = self.recommender.as_mut() {
                                r.replay(&self.log);
                            }
                        }
                        Err(e) => self.status(format!("cannot reload the library for recommendations: {e}")),
                    }
                }
                Request::Retrain => self.retrain(),
                Request::ModelSaved => {
                    self.training = None;
                    self.load_model();
                }
                Request::Shutdown => break,
            }
        }
        if let Some((_, cancel)) = self.training.take() {
            cancel.store(true, Ordering::SeqCst);
        }
    }

    fn load_model(&mut self) {
        match Recommender::load(&self.models_dir) {
            Ok(Some(mut recommender)) => {
                recommender.replay(&self.log);
                self.plays_since_model = (self.log.plays.len() as u64).saturating_sub(recommender.meta().plays_seen);
                self.recommender = Some(recommender);
            }
            Ok(None) => self.recommender = None,
            Err(e) => {
                self.recommender = None;
                self.status(format!("{e}; using the fallback until the next training"));
                return;
            }
        }
        self.status(self.describe());
    }

    fn describe(&self) -> String {
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

    fn enough_plays(&self) -> bool {
        self.log.plays.len() as u64 >= self.config.min_plays
    }

    fn status(&self, text: String) {
        let _ = self.tx.send(WorkerMsg::ModelStatus(text));
    }

    fn rank(&self, session: &[(i64, bool)], exclude: &[i64], limit: usize) -> (&'static str, Vec<Scored>) {
        let mut filters = Filters::from_config(&self.config, limit);
        filters.recent = self.log.recent(self.config.exclude_recent);
        filters.recent.extend_from_slice(exclude);
        filters.seed = self.log.plays.len() as u64;
        if let Some(recommender) = self.recommender.as_ref().filter(|_| self.enough_plays()) {
            match recommender.rank(session, &self.candidates, &filters) {
                Ok(picks) => return ("model", picks),
                Err(e) => self.status(format!("the model failed to rank ({e}); using the fallback")),
            }
        }
        (
            "fallback",
            fallback_rank(session, &self.candidates, &self.log, &filters),
        )
    }

    fn played(&mut self, play: LoggedPlay) {
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
        let due = self.config.retrain_every > 0 && self.plays_since_model >= self.config.retrain_every;
        if due && self.enough_plays() && self.training.is_none() {
            self.retrain();
        } else {
            self.status(self.describe());
        }
    }

    fn retrain(&mut self) {
        if self.training.is_some() {
            self.status("already training".into());
            return;
        }
        if !self.enough_plays() {
            self.status(format!(
                "training needs {} finished plays; the log has {}",
                self.config.min_plays,
                self.log.plays.len()
            ));
            return;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let log = self.log.clone();
        let models_dir = self.models_dir.clone();
        let tx = self.tx.clone();
        let own = self.own.clone();
        let flag = cancel.clone();
        let current = self.recommender.as_ref().map(|r| r.meta().validation.ndcg10);
        let spawned = std::thread::Builder::new().name("trainer".into()).spawn(move || {
            lower_priority();
            let outcome = train_in_background(&log, &models_dir, current, &tx, &flag);
            let message = match outcome {
                Ok(Some(message)) => {
                    let _ = own.send(Request::ModelSaved);
                    message
                }
                Ok(None) => return,
                Err(message) => {
                    // Tell the recommendation thread that this run is over.
                    let _ = own.send(Request::ModelSaved);
                    message
                }
            };
            let _ = tx.send(WorkerMsg::TrainDone(message));
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

/// Trains on one thread (the other core keeps decoding and the UI) and saves the model when it
/// is at least as good as the current one on validation NDCG@10. `Ok(None)`: cancelled.
fn train_in_background(
    log: &ListeningLog,
    models_dir: &std::path::Path,
    current_ndcg: Option<f64>,
    tx: &Sender<WorkerMsg>,
    cancel: &AtomicBool,
) -> Result<Option<String>, String> {
    let previous = Checkpoint::load(models_dir).unwrap_or_default();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| e.to_string())?;
    let mut last_percent = u64::MAX;
    let result = pool.install(|| {
        train_from_log(
            log,
            previous.as_ref(),
            &TrainConfig::default(),
            &mut |p| {
                let total = (p.steps * p.epochs).max(1) as u64;
                let done = ((p.epoch.saturating_sub(1)) * p.steps + p.step) as u64;
                let percent = done * 100 / total;
                if percent != last_percent {
                    last_percent = percent;
                    let _ = tx.send(WorkerMsg::TrainProgress {
                        done: done as usize,
                        total: total as usize,
                    });
                }
            },
            cancel,
        )
    });
    let checkpoint = match result {
        Ok(checkpoint) => checkpoint,
        Err(RecommendError::Cancelled) => return Ok(None),
        Err(e) => return Err(format!("training failed: {e}")),
    };
    let new = checkpoint.meta.validation.ndcg10;
    match current_ndcg {
        Some(old) if new < old => Err(format!(
            "the new model was discarded: validation NDCG@10 {new:.4} is below the current model's {old:.4}"
        )),
        _ => {
            checkpoint
                .save(models_dir)
                .map_err(|e| format!("cannot save the model: {e}"))?;
            Ok(Some(format!("new model in use: validation NDCG@10 {new:.4}")))
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
