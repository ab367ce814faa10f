//! Training of the sequence model ([`TrainConfig`], [`train_model`], [`TrainProgress`],
//! [`TrainOutcome`]): the fused step of [`super::step`] (AdamW, global gradient clipping), early
//! stopping on a validation slice, seeded throughout so that the same data and seed give the
//! same model.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{DType, Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::data::{rows_from_sessions, HostBatch, Session, Vocab};
use super::metrics::{protocol_rank, Metrics};
use super::model::{DropoutRng, LossConfig, ModelConfig, SeqModel};
use super::step::{AdamWConfig, Trainer};
use super::RecommendError;

/// Everything that decides a training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: ModelConfig,
    pub loss: LossConfig,
    pub lr: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Epochs without a better validation NDCG@10 before stopping.
    pub patience: usize,
    /// Steps always taken before early stopping may end training (small logs have few steps per
    /// epoch). A warm-started run, which begins from a trained model, stops on patience alone.
    pub min_steps: usize,
    /// Largest global gradient norm.
    pub clip: f64,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            loss: LossConfig::default(),
            lr: 3e-3,
            weight_decay: 0.01,
            batch_size: 64,
            max_epochs: 100,
            patience: 5,
            min_steps: 400,
            clip: 1.0,
            seed: 42,
        }
    }
}

/// Reported after every step and at the end of every epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainProgress {
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps: usize,
    pub loss: f32,
    /// Set at the end of an epoch.
    pub val_ndcg: Option<f64>,
}

/// A trained model with its validation metrics (of the best epoch, whose weights it holds).
pub struct TrainOutcome {
    pub model: SeqModel,
    pub validation: Metrics,
    pub best_epoch: usize,
    pub epochs_run: usize,
}

/// Trains on `train` sessions, early-stopping on `validation` sessions.
///
/// `init` warm-starts from an earlier model (see [`SeqModel::warm_start`]). `cancel` is checked
/// between steps; a cancelled run returns [`RecommendError::Cancelled`].
pub fn train_model(
    vocab: &Vocab,
    train: &[Session],
    validation: &[Session],
    config: &TrainConfig,
    init: Option<(&SeqModel, &Vocab)>,
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<TrainOutcome, RecommendError> {
    let device = Device::Cpu;
    let mut model = SeqModel::new(config.model, vocab, DType::F32, config.seed, &device)?;
    let mut min_steps = config.min_steps;
    if let Some((old, old_vocab)) = init {
        model.warm_start(old, old_vocab, vocab)?;
        min_steps = 0;
    }
    let indexed: Vec<(usize, &Session)> = train.iter().enumerate().collect();
    let rows = rows_from_sessions(&indexed, config.model.max_len);
    if rows.is_empty() {
        return Err(RecommendError::NotEnoughData(
            "no session has two plays to learn a transition from".into(),
        ));
    }
    let popularity = listen_counts(vocab, train);
    let mut trainer = Trainer::new(&model, vocab, AdamWConfig::new(config.lr, config.weight_decay))?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed);
    let mut dropout = DropoutRng::new(config.seed ^ 0xd209);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let steps = rows.len().div_ceil(config.batch_size);
    let mut best: Option<(f64, usize, Vec<Tensor>, Metrics)> = None;
    let mut epochs_run = 0;
    for epoch in 1..=config.max_epochs {
        order.shuffle(&mut rng);
        // Rows of similar length share a batch so that little of it is padding; batches still vary by epoch.
        for group in order.chunks_mut(config.batch_size * 8) {
            group.sort_by_key(|&i| rows[i].ids.len());
        }
        let mut batches: Vec<&[usize]> = order.chunks(config.batch_size).collect();
        batches.shuffle(&mut rng);
        for (step, chunk) in batches.into_iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(RecommendError::Cancelled);
            }
            let batch_rows: Vec<_> = chunk.iter().map(|&i| &rows[i]).collect();
            let batch = HostBatch::new(&batch_rows, config.loss.rec_on_skipped);
            if batch.rec_positions.is_empty() && batch.cl_count() == 0 {
                continue;
            }
            let loss = trainer.step(&batch, &config.loss, Some(&mut dropout), &mut rng, config.clip);
            progress(&TrainProgress {
                epoch,
                epochs: config.max_epochs,
                step: step + 1,
                steps,
                loss: loss.total,
                val_ndcg: None,
            });
        }
        epochs_run = epoch;
        trainer.write_to(&model)?;
        let metrics = evaluate_sessions(&model, validation, &popularity)?;
        progress(&TrainProgress {
            epoch,
            epochs: config.max_epochs,
            step: steps,
            steps,
            loss: f32::NAN,
            val_ndcg: Some(metrics.ndcg10),
        });
        let improved = best.as_ref().is_none_or(|(score, ..)| metrics.ndcg10 > *score);
        if improved {
            let snapshot = model
                .vars()
                .iter()
                .map(|v| v.as_tensor().copy())
                .collect::<Result<_, _>>()?;
            best = Some((metrics.ndcg10, epoch, snapshot, metrics));
        } else if epoch * steps >= min_steps && best.as_ref().is_some_and(|(_, e, ..)| epoch - e >= config.patience) {
            break;
        }
    }
    let Some((_, best_epoch, weights, validation)) = best else {
        return Err(RecommendError::NotEnoughData("no training epoch ran".into()));
    };
    for (var, weight) in model.vars().iter().zip(&weights) {
        var.set(weight)?;
    }
    Ok(TrainOutcome {
        model,
        validation,
        best_epoch,
        epochs_run,
    })
}

/// Non-skipped plays per item (index j is item j + 1).
pub(crate) fn listen_counts(vocab: &Vocab, sessions: &[Session]) -> Vec<u32> {
    let mut counts = vec![0u32; vocab.len()];
    for play in sessions.iter().flat_map(|s| &s.plays).filter(|p| !p.skipped) {
        if let Some(c) = counts.get_mut(play.item as usize - 1) {
            *c += 1;
        }
    }
    counts
}

/// The protocol's metrics of the model alone on `sessions` (each position i >= 1, session prefix only).
pub(crate) fn evaluate_sessions(
    model: &SeqModel,
    sessions: &[Session],
    popularity: &[u32],
) -> Result<Metrics, RecommendError> {
    let t = model.config.max_len;
    let mut queries = Vec::new();
    for session in sessions {
        for i in 1..session.plays.len() {
            let window = &session.plays[i.saturating_sub(t)..i];
            queries.push((
                (
                    window.iter().map(|p| p.item).collect::<Vec<_>>(),
                    window.iter().map(|p| p.skipped).collect::<Vec<_>>(),
                ),
                session.plays[i],
            ));
        }
    }
    let mut metrics = Metrics::default();
    for chunk in queries.chunks(256) {
        let windows: Vec<_> = chunk.iter().map(|(w, _)| w.clone()).collect();
        let scores: Vec<Vec<f32>> = model.score_windows(&windows)?.to_vec2()?;
        for (row, (_, play)) in scores.iter().zip(chunk) {
            let rank = protocol_rank(row, play.item as usize - 1, popularity);
            if play.skipped {
                metrics.add_skip(rank);
            } else {
                metrics.add_listen(rank);
            }
        }
    }
    Ok(metrics.finish())
}
