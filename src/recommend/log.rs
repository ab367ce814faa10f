//! The local listening log as training data ([`ListeningLog`], [`LoggedPlay`]) and training from it
//! ([`train_from_log`], [`LogTraining`]).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use crate::db::Database;

use candle_core::{DType, Device};

use super::checkpoint::{now_rfc3339, Checkpoint, CheckpointMeta, FORMAT_VERSION};
use super::data::{Play, Session, Vocab};
use super::eval::{fit_blend, EvalData};
use super::infer::CandidateTrack;
use super::metrics::Metrics;
use super::model::SeqModel;
use super::train::{evaluate_sessions, listen_counts, train_model, TrainConfig, TrainProgress};
use super::RecommendError;

/// One finished play of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedPlay {
    pub track_id: i64,
    pub session_id: i64,
    pub skipped: bool,
    pub ts_ms: i64,
}

/// Finished plays in session order, and the metadata of the tracks they name.
#[derive(Debug, Clone, Default)]
pub struct ListeningLog {
    pub tracks: HashMap<i64, CandidateTrack>,
    pub plays: Vec<LoggedPlay>,
}

impl ListeningLog {
    /// Reads the finished plays (in-progress and failed plays are left out) and every track.
    pub fn load(db: &Database) -> Result<ListeningLog, RecommendError> {
        let conn = db.conn();
        let mut log = ListeningLog::default();
        // Every track, gone or failed ones included: old plays still name them.
        for track in candidates_where(db, "1")? {
            log.tracks.insert(track.track_id, track);
        }
        let mut stmt = conn
            .prepare(
                "SELECT track_id, session_id, skipped, started_at FROM plays \
                 WHERE end_reason IS NOT NULL AND end_reason <> 'error' ORDER BY session_id, position, id",
            )
            .map_err(|e| db.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LoggedPlay {
                    track_id: r.get(0)?,
                    session_id: r.get(1)?,
                    skipped: r.get::<_, i64>(2)? != 0,
                    ts_ms: r.get(3)?,
                })
            })
            .map_err(|e| db.err(e))?;
        for play in rows {
            log.plays.push(play.map_err(|e| db.err(e))?);
        }
        Ok(log)
    }

    /// Plays grouped by session, in order.
    pub fn sessions(&self) -> Vec<&[LoggedPlay]> {
        self.plays.chunk_by(|a, b| a.session_id == b.session_id).collect()
    }

    /// (listens, skips) per track.
    pub fn counts(&self) -> HashMap<i64, (u32, u32)> {
        let mut counts: HashMap<i64, (u32, u32)> = HashMap::new();
        for play in &self.plays {
            let c = counts.entry(play.track_id).or_default();
            if play.skipped {
                c.1 += 1;
            } else {
                c.0 += 1;
            }
        }
        counts
    }

    /// The last `n` tracks played, most recent last.
    pub fn recent(&self, n: usize) -> Vec<i64> {
        let start = self.plays.len().saturating_sub(n);
        self.plays[start..].iter().map(|p| p.track_id).collect()
    }
}

/// A model trained on the log, and how the model it would replace does on the same validation slice.
pub struct LogTraining {
    pub checkpoint: Checkpoint,
    /// The previous model's metrics on this run's validation slice (`None` without a previous
    /// model of the same shape). Its own stored metrics came from an older, smaller slice, so
    /// only these are comparable with the new model's.
    pub previous_validation: Option<Metrics>,
}

/// Trains a model on the whole log: the newest tenth of the sessions is the validation slice that
/// stops training and chooses the blend weights. Warm-starts from `previous` when its shape matches.
pub fn train_from_log(
    log: &ListeningLog,
    previous: Option<&Checkpoint>,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<LogTraining, RecommendError> {
    let compatible = previous.filter(|p| p.meta.config.model == config.model);
    let mut vocab = compatible.map(|p| p.meta.vocab.clone()).unwrap_or_default();
    let mut sessions = Vec::new();
    for plays in log.sessions() {
        let session = Session {
            plays: plays
                .iter()
                .filter_map(|p| {
                    let track = log.tracks.get(&p.track_id)?;
                    Some(Play {
                        item: vocab.intern(&track.info()),
                        skipped: p.skipped,
                        ts_ms: p.ts_ms,
                    })
                })
                .collect(),
        };
        if !session.plays.is_empty() {
            sessions.push(session);
        }
    }
    if sessions.len() < 3 {
        return Err(RecommendError::NotEnoughData(format!(
            "{} listening sessions; at least 3 are needed",
            sessions.len()
        )));
    }
    let n = sessions.len();
    let val_start = n - (n / 10).max(1);
    let outcome = train_model(
        &vocab,
        &sessions[..val_start],
        &sessions[val_start..],
        config,
        compatible.map(|p| (&p.model, &p.meta.vocab)),
        progress,
        cancel,
    )?;
    let previous_validation = match compatible {
        Some(p) => {
            // The previous model in this run's vocabulary: items new since then score from their
            // side features, as they would if it stayed in use.
            let mut old = SeqModel::new(config.model, &vocab, DType::F32, config.seed, &Device::Cpu)?;
            old.warm_start(&p.model, &p.meta.vocab, &vocab)?;
            let popularity = listen_counts(&vocab, &sessions[..val_start]);
            Some(evaluate_sessions(&old, &sessions[val_start..], &popularity)?)
        }
        None => None,
    };
    let data = EvalData::from_sessions("log", vocab.clone(), sessions, n, val_start);
    let blend = fit_blend(&data, &outcome.model)?;
    let checkpoint = Checkpoint {
        meta: CheckpointMeta {
            format_version: FORMAT_VERSION,
            vocab,
            config: *config,
            blend,
            validation: outcome.validation,
            best_epoch: outcome.best_epoch,
            trained_at: now_rfc3339(),
            plays_seen: log.plays.len() as u64,
        },
        model: outcome.model,
    };
    Ok(LogTraining {
        checkpoint,
        previous_validation,
    })
}

/// The playable tracks of the library, as recommendation candidates.
pub fn library_candidates(db: &Database) -> Result<Vec<CandidateTrack>, RecommendError> {
    candidates_where(db, "status = 'ok'")
}

/// Tracks matching an SQL condition, in id order.
fn candidates_where(db: &Database, condition: &str) -> Result<Vec<CandidateTrack>, RecommendError> {
    let mut stmt = db
        .conn()
        .prepare(&format!(
            "SELECT id, title, artist, album, genre, year FROM tracks WHERE {condition} ORDER BY id"
        ))
        .map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(CandidateTrack {
                track_id: r.get(0)?,
                title: r.get(1)?,
                artist: r.get(2)?,
                album: r.get(3)?,
                genre: r.get(4)?,
                year: r.get(5)?,
            })
        })
        .map_err(|e| db.err(e))?;
    rows.map(|r| r.map_err(|e| db.err(e).into())).collect()
}

/// Display names of the log's tracks, for reasons.
pub fn display_names(log: &ListeningLog, vocab: &Vocab) -> HashMap<u32, String> {
    log.tracks
        .values()
        .filter_map(|t| Some((vocab.id(&t.info().key)?, t.display_name())))
        .collect()
}
