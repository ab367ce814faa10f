//! The local listening log as training data ([`ListeningLog`]) and training from it
//! ([`train_from_log`], [`LogTraining`]).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use crate::db::{marks, plays, tracks, Database};
use crate::play::LoggedPlay;
use crate::track::Track;

use candle_core::{DType, Device};

use super::checkpoint::{now_rfc3339, Checkpoint, CheckpointMeta, FORMAT_VERSION};
use super::data::{item_key_of, Play, Session, Vocab};
use super::eval::{fit_blend, EvalData};
use super::metrics::Metrics;
use super::model::SeqModel;
use super::train::{evaluate_sessions, listen_counts, train_model, TrainConfig, TrainProgress};
use super::RecommendError;

/// Finished plays in session order, and the metadata of the tracks they name.
#[derive(Debug, Clone, Default)]
pub struct ListeningLog {
    pub tracks: HashMap<i64, Track>,
    pub plays: Vec<LoggedPlay>,
}

impl ListeningLog {
    /// Reads the finished plays (in-progress and failed plays are left out) and every track.
    pub(crate) fn load(db: &Database) -> Result<ListeningLog, RecommendError> {
        let conn = db.conn();
        // Every track, gone or failed ones included: old plays still name them.
        let tracks = tracks::tracks_in_id_order(conn, false).map_err(|e| db.err(e))?;
        let plays = plays::finished_plays(conn).map_err(|e| db.err(e))?;
        Ok(ListeningLog {
            tracks: tracks.into_iter().map(|t| (t.id, t)).collect(),
            plays,
        })
    }

    /// Plays grouped by session, in order.
    pub(crate) fn sessions(&self) -> Vec<&[LoggedPlay]> {
        self.plays.chunk_by(|a, b| a.session_id == b.session_id).collect()
    }

    /// (listens, skips) per track.
    pub(crate) fn counts(&self) -> HashMap<i64, (u32, u32)> {
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
    pub(crate) fn recent(&self, n: usize) -> Vec<i64> {
        let start = self.plays.len().saturating_sub(n);
        self.plays[start..].iter().map(|p| p.track_id).collect()
    }
}

/// A model trained on the log, and how the model it would replace does on the same validation slice.
pub(crate) struct LogTraining {
    pub checkpoint: Checkpoint,
    /// The previous model's metrics on this run's validation slice (`None` without a previous
    /// model of the same shape). Its own stored metrics came from an older, smaller slice, so
    /// only these are comparable with the new model's.
    pub previous_validation: Option<Metrics>,
}

/// Trains a model on the whole log: the newest tenth of the sessions is the validation slice that
/// stops training and chooses the blend weights. Warm-starts from `previous` when its shape matches.
pub(crate) fn train_from_log(
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
                        item: vocab.intern(&item_key_of(track), track),
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

/// The playable tracks of the library that the listener has not banned: what may be
/// recommended, in id order.
pub(crate) fn library_candidates(db: &Database) -> Result<Vec<Track>, RecommendError> {
    let banned = marks::load(db.conn()).map_err(|e| db.err(e))?.banned;
    let mut candidates = tracks::tracks_in_id_order(db.conn(), true).map_err(|e| db.err(e))?;
    candidates.retain(|t| !banned.contains_key(&t.id));
    Ok(candidates)
}

/// Display names of the log's tracks, for reasons.
pub(crate) fn display_names(log: &ListeningLog, vocab: &Vocab) -> HashMap<u32, String> {
    log.tracks
        .values()
        .filter_map(|t| Some((vocab.id(&item_key_of(t))?, t.display_name())))
        .collect()
}
