//! Training ([`TrainConfig`], [`train_model`], [`TrainProgress`], [`TrainOutcome`]): the fused
//! step of [`super::step`] (AdamW, global gradient clipping), early stopping on a validation
//! slice, seeded throughout so that the same data and seed give the same model.
//!
//! A model with history features trains in two stages. First the feature weights alone are fitted
//! (the head output is held at zero, so the score is `Σ_k w_k f_k`); then the Transformer joins
//! in, starting from those weights with its own terms at exactly zero (the head's weights and
//! the context map are zero), so training begins at the features' ranking and moves only where
//! the sequence helps. The joint model is kept only if its served ranking beats the features'
//! alone on the validation slice by more than chance (see [`gains_beyond_noise`]). One validation slice early-stops both stages and makes that
//! choice; nothing is fitted on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::data::{rows_from_history, rows_from_sessions, HostBatch, QueryAt, Row, Session, Vocab};
use super::features::{ItemGroups, Timeline, LIKED, N_FEATURES};
use super::metrics::{ndcg10_gain, Metrics};
use super::model::{DropoutRng, LossConfig, ModelConfig, SeqModel};
use super::rank::{metrics_of, model_ranks, Ranked};
use super::step::{feature_weights_step, AdamWConfig, Trainer};
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
    /// The same for the Transformer's stage of a history-feature model, which starts from the
    /// features' ranking with its own terms at zero: a log of a few thousand plays makes one or
    /// two steps an epoch, and patience alone would stop it before the Transformer has moved.
    pub transformer_min_steps: usize,
    /// Largest global gradient norm.
    pub clip: f64,
    pub seed: u64,
    /// With history features: train the Transformer after fitting the feature weights (`false`
    /// stops after the first stage, the `skipless-no-transformer` ablation).
    pub transformer: bool,
    /// The item and side-feature tables' learning rate as a share of `lr` (see
    /// [`AdamWConfig::embedding_lr_scale`]). The default model keeps them at their random start
    /// (0): tables learnt from one listener's plays over thousands of tracks overfit, while fixed
    /// random rows still tell every track, artist and album apart for the Transformer, whose part
    /// is the context; what is learnt per track is in the history features.
    pub embedding_lr_scale: f64,
    /// Adam's learning rate for the feature weights in the first stage.
    pub feature_lr: f64,
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
            transformer_min_steps: 100,
            clip: 1.0,
            seed: 42,
            transformer: true,
            embedding_lr_scale: 0.0,
            feature_lr: 0.05,
        }
    }
}

impl TrainConfig {
    /// The paper's SASRec (`cl_lambda` 0) or SASRec with the contrastive term.
    pub fn sasrec(cl_lambda: f32) -> Self {
        TrainConfig {
            model: ModelConfig::sasrec(),
            loss: LossConfig::sasrec(cl_lambda),
            lr: 3e-3,
            embedding_lr_scale: 1.0,
            ..TrainConfig::default()
        }
    }
}

/// Which part of a model is being trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainStage {
    /// The history features' weights, the first of a history-feature model's two stages.
    Features,
    /// The Transformer with the features, the second stage.
    Transformer,
    /// A sequence model without history features (the `sasrec` baselines): one stage.
    Sequence,
}

impl TrainStage {
    /// What is being trained, for a progress bar: "history features (1 of 2)".
    pub fn label(self) -> &'static str {
        match self {
            TrainStage::Features => "history features (1 of 2)",
            TrainStage::Transformer => "the Transformer (2 of 2)",
            TrainStage::Sequence => "the sequence model",
        }
    }
}

/// Reported after every step and at the end of every epoch. `epochs` is the most the stage
/// runs: early stopping may end it sooner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainProgress {
    pub stage: TrainStage,
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
    /// With history features: the first stage (see [`features_model`]), and whether the joint
    /// model beat it and was kept.
    pub features_only: Option<FeatureStage>,
    pub transformer_kept: bool,
}

/// The first stage of a history-feature model: the feature weights alone.
pub struct FeatureStage {
    pub weights: Vec<f32>,
    pub validation: Metrics,
    /// From the start of training to the end of this stage: what the features model alone costs.
    pub seconds: f64,
}

/// Listened plays after a session's first (the queries NDCG@10 is measured on) a validation
/// slice holds at least, where the sessions allow: a slice with none judges every model 0.
const MIN_VALIDATION_LISTENS: usize = 10;

/// Where the validation slice of the time-ordered `sessions` starts: the newest tenth, at least
/// one session (none when there are none), and further back until it holds
/// [`MIN_VALIDATION_LISTENS`] listened queries, never more than half of the sessions (and never
/// the first).
pub(crate) fn validation_start(sessions: &[Session]) -> usize {
    let n = sessions.len();
    let mut start = n - (n / 10).max(1).min(n);
    let mut held = listened_queries(&sessions[start..]);
    while held < MIN_VALIDATION_LISTENS && start > (n / 2).max(1) {
        start -= 1;
        held += listened_queries(&sessions[start..=start]);
    }
    start
}

/// The queries of `sessions` NDCG@10 is measured on: plays after a session's first, listened to.
pub(crate) fn listened_queries(sessions: &[Session]) -> usize {
    sessions
        .iter()
        .flat_map(|s| s.plays.iter().skip(1))
        .filter(|p| !p.skipped)
        .count()
}

/// `model`'s ranks of the validation sessions of `data` (see [`model_ranks`]): what early
/// stopping, the Transformer's keep rule and the retrain's old-against-new comparison read.
pub(crate) fn validation_ranks(
    model: &SeqModel,
    data: TrainData,
    groups: &Arc<ItemGroups>,
    popularity: &[u32],
) -> Result<Vec<Ranked>, RecommendError> {
    model_ranks(
        model,
        data.sessions,
        groups,
        data.val_start..data.sessions.len(),
        data.likes,
        popularity,
    )
}

/// The sessions a model trains on: `sessions[..val_start]` train, `sessions[val_start..]`
/// validate (they follow the training sessions in time), and the likes (item, liked at).
#[derive(Clone, Copy)]
pub struct TrainData<'a> {
    pub vocab: &'a Vocab,
    pub sessions: &'a [Session],
    pub val_start: usize,
    pub likes: &'a [(u32, i64)],
}

/// Trains on the data's training sessions, early-stopping on its validation sessions.
///
/// `init` warm-starts from an earlier model (see [`SeqModel::warm_start`]). `cancel` is checked
/// between steps; a cancelled run returns [`RecommendError::Cancelled`].
pub fn train_model(
    data: TrainData,
    config: &TrainConfig,
    init: Option<(&SeqModel, &Vocab)>,
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<TrainOutcome, RecommendError> {
    let train = &data.sessions[..data.val_start];
    let popularity = listen_counts(data.vocab, train);
    if config.model.history_features {
        return train_history_model(data, config, init, &popularity, progress, cancel);
    }
    let indexed: Vec<(usize, &Session)> = train.iter().enumerate().collect();
    let rows = rows_from_sessions(&indexed, config.model.max_len);
    let groups = ItemGroups::of(data.vocab);
    let mut model = SeqModel::new(config.model, data.vocab, DType::F32, config.seed, &Device::Cpu)?;
    let mut min_steps = config.min_steps;
    if let Some((old, old_vocab)) = init {
        model.warm_start(old, old_vocab, data.vocab)?;
        min_steps = 0;
    }
    let trainer = Trainer::new(&model, data.vocab, AdamWConfig::new(config.lr, config.weight_decay))?;
    let mut score = |m: &SeqModel| -> Result<Metrics, RecommendError> {
        Ok(metrics_of(&validation_ranks(m, data, &groups, &popularity)?))
    };
    let fit = fit_epochs(
        &model,
        trainer,
        &rows,
        config,
        TrainStage::Sequence,
        min_steps,
        &mut score,
        progress,
        cancel,
    )?;
    Ok(TrainOutcome {
        model,
        validation: fit.validation,
        best_epoch: fit.best_epoch,
        epochs_run: fit.epochs_run,
        features_only: None,
        transformer_kept: false,
    })
}

/// The two stages of a history-feature model (see the module's description).
fn train_history_model(
    data: TrainData,
    config: &TrainConfig,
    init: Option<(&SeqModel, &Vocab)>,
    popularity: &[u32],
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<TrainOutcome, RecommendError> {
    let start = Instant::now();
    let train = &data.sessions[..data.val_start];
    let groups = ItemGroups::of(data.vocab);
    let timeline = Arc::new(Timeline::new(train, groups.clone(), data.likes));
    let rows = rows_from_history(train, config.model.max_len);
    if rows.is_empty() {
        return Err(RecommendError::NotEnoughData(
            "no session has two plays to learn a transition from".into(),
        ));
    }
    let ranks = |m: &SeqModel| validation_ranks(m, data, &groups, popularity);
    let mut served = |m: &SeqModel| -> Result<Metrics, RecommendError> { Ok(metrics_of(&ranks(m)?)) };

    // Stage 1: the feature weights alone.
    let features_model = features_model(config, data.vocab, &[0.0; N_FEATURES])?;
    let with_skipped = config.loss.ntr_lambda > 0.0;
    let queries: Vec<QueryAt> = HostBatch::new(&rows.iter().collect::<Vec<_>>(), false, with_skipped).queries;
    let (weights, features_only, stage1_epochs) = fit_feature_weights(
        &features_model,
        &timeline,
        &queries,
        config,
        &mut served,
        progress,
        cancel,
    )?;
    set_param(&features_model, "feature.weight", &weights)?;
    let stage1 = FeatureStage {
        weights,
        validation: features_only,
        seconds: start.elapsed().as_secs_f64(),
    };
    if !config.transformer {
        return Ok(TrainOutcome {
            model: features_model,
            validation: features_only,
            best_epoch: stage1_epochs,
            epochs_run: stage1_epochs,
            features_only: Some(stage1),
            transformer_kept: false,
        });
    }

    // Stage 2: the Transformer joins in, from the features' ranking (or from the previous model,
    // which patience alone stops).
    let mut model = SeqModel::new(config.model, data.vocab, DType::F32, config.seed, &Device::Cpu)?;
    let min_steps = match init {
        Some((old, old_vocab)) => {
            model.warm_start(old, old_vocab, data.vocab)?;
            // Likes that taught the fit nothing (its weight is where it started) leave the
            // like's weight at the prior, also in a model from before there was one.
            if stage1.weights[LIKED] == LIKE_PRIOR {
                let mut weights = param(&model, "feature.weight")?;
                weights[LIKED] = LIKE_PRIOR;
                set_param(&model, "feature.weight", &weights)?;
            }
            0
        }
        None => {
            zero_transformer_terms(&model)?;
            set_param(&model, "feature.weight", &stage1.weights)?;
            config.transformer_min_steps
        }
    };
    let adamw = AdamWConfig {
        embedding_lr_scale: config.embedding_lr_scale,
        ..AdamWConfig::new(config.lr, config.weight_decay)
    };
    let trainer = Trainer::new(&model, data.vocab, adamw)?.with_timeline(timeline);
    let fit = fit_epochs(
        &model,
        trainer,
        &rows,
        config,
        TrainStage::Transformer,
        min_steps,
        &mut served,
        progress,
        cancel,
    )?;
    if gains_beyond_noise(&ranks(&model)?, &ranks(&features_model)?) {
        Ok(TrainOutcome {
            model,
            validation: fit.validation,
            best_epoch: fit.best_epoch,
            epochs_run: fit.epochs_run,
            features_only: Some(stage1),
            transformer_kept: true,
        })
    } else {
        Ok(TrainOutcome {
            model: features_model,
            validation: features_only,
            best_epoch: 0,
            epochs_run: fit.epochs_run,
            features_only: Some(stage1),
            transformer_kept: false,
        })
    }
}

/// Whether the ranking `joint` beats `features` on the same validation queries by more than
/// chance: its mean NDCG@10 gain over the listened queries exceeds the one-sided 95% threshold,
/// sessions taken as the independent units, since a session's queries rise and fall together.
/// The joint model is the best of many epochs on this same slice, so a plain "higher" would keep
/// a Transformer that only fits the slice's noise, as on a small log it does. With G sessions
/// the standard error is the cluster one with the small-sample factor G/(G-1), against Student's
/// t with G-1 degrees of freedom, as for any mean of few clusters: one session cannot tell a
/// gain from chance, and a few need a larger one.
fn gains_beyond_noise(joint: &[Ranked], features: &[Ranked]) -> bool {
    let mut sessions: Vec<(f64, f64)> = Vec::new();
    let mut current = None;
    for (j, f) in joint.iter().zip(features).filter(|(j, _)| !j.skipped) {
        if current != Some(j.session) {
            current = Some(j.session);
            sessions.push((0.0, 0.0));
        }
        if let Some(last) = sessions.last_mut() {
            last.0 += ndcg10_gain(j.rank) - ndcg10_gain(f.rank);
            last.1 += 1.0;
        }
    }
    let queries: f64 = sessions.iter().map(|s| s.1).sum();
    let g = sessions.len();
    if g < 2 {
        return false;
    }
    let mean = sessions.iter().map(|s| s.0).sum::<f64>() / queries;
    let spread: f64 = sessions.iter().map(|&(gain, n)| (gain - mean * n).powi(2)).sum();
    let standard_error = (spread * g as f64 / (g - 1) as f64).sqrt() / queries;
    mean > t_95(g - 1) * standard_error
}

/// The one-sided 95% quantile of Student's t with `df` degrees of freedom (at least 1): exact for
/// 1 and 2, else the Cornish-Fisher series in 1/df (Abramowitz and Stegun 26.7.5, four terms),
/// within 0.0011 of the exact value at 3, 0.0003 at 4 and 0.0001 from 5 on.
fn t_95(df: usize) -> f64 {
    const Z: f64 = 1.644_853_626_951_472_2;
    match df {
        0 | 1 => 6.313_751_514_675_04,
        2 => 2.919_985_580_353_725,
        _ => {
            let v = df as f64;
            let z2 = Z * Z;
            let g1 = (z2 + 1.0) * Z / 4.0;
            let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * Z / 96.0;
            let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * Z / 384.0;
            let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * Z / 92160.0;
            Z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
        }
    }
}

/// The first stage's model: the feature weights `weights` with the Transformer's terms at zero,
/// so that it scores `Σ_k w_k f_k`.
pub(crate) fn features_model(config: &TrainConfig, vocab: &Vocab, weights: &[f32]) -> Result<SeqModel, RecommendError> {
    let model = SeqModel::new(config.model, vocab, DType::F32, config.seed, &Device::Cpu)?;
    zero_transformer_terms(&model)?;
    set_param(&model, "feature.weight", weights)?;
    Ok(model)
}

/// Sets the head and the feature context map to zero: the head output h is then exactly 0, and
/// the score is `Σ_k w_k f_k`.
fn zero_transformer_terms(model: &SeqModel) -> Result<(), RecommendError> {
    for (name, tensor) in model.named_tensors() {
        if name.starts_with("head.") || name == "feature.context" {
            let zeros = tensor.zeros_like()?;
            set_param(model, name, &zeros.flatten_all()?.to_vec1::<f32>()?)?;
        }
    }
    Ok(())
}

fn param(model: &SeqModel, name: &str) -> Result<Vec<f32>, RecommendError> {
    let (_, tensor) = model
        .named_tensors()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| RecommendError::NotEnoughData(format!("the model has no parameter {name}")))?;
    Ok(tensor.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
}

fn set_param(model: &SeqModel, name: &str, values: &[f32]) -> Result<(), RecommendError> {
    let index = model
        .named_tensors()
        .position(|(n, _)| n == name)
        .ok_or_else(|| RecommendError::NotEnoughData(format!("the model has no parameter {name}")))?;
    let var = &model.vars()[index];
    var.set(&Tensor::from_slice(values, var.shape(), var.device())?.to_dtype(var.dtype())?)?;
    Ok(())
}

/// Where the weight of the "liked" feature starts: the odds of a liked track times e. A log
/// without likes before its queries gives that weight no gradient, so it stays here, and a like
/// given after training lifts its track at once rather than only after a retrain has seen plays
/// after it; a log with likes moves it where they say.
pub const LIKE_PRIOR: f32 = 1.0;

/// Queries per step of the feature-weight fit.
const FEATURE_BATCH: usize = 128;
const FEATURE_EPOCHS: usize = 20;
const FEATURE_PATIENCE: usize = 3;

/// Fits the feature weights by Adam on the full-softmax loss with h = 0, early-stopped on the
/// served validation NDCG@10. Returns the weights, their validation metrics and the epochs run.
fn fit_feature_weights(
    model: &SeqModel,
    timeline: &Arc<Timeline>,
    queries: &[QueryAt],
    config: &TrainConfig,
    served: &mut dyn FnMut(&SeqModel) -> Result<Metrics, RecommendError>,
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<(Vec<f32>, Metrics, usize), RecommendError> {
    let mut weights = vec![0f32; N_FEATURES];
    weights[LIKED] = LIKE_PRIOR;
    let mut adam = AdamState::new(N_FEATURES);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0xfea7);
    let mut order: Vec<usize> = (0..queries.len()).collect();
    let steps = queries.len().div_ceil(FEATURE_BATCH);
    let mut best: Option<(Metrics, Vec<f32>, usize)> = None;
    let mut epochs = 0;
    for epoch in 1..=FEATURE_EPOCHS {
        order.shuffle(&mut rng);
        for (step, chunk) in order.chunks(FEATURE_BATCH).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(RecommendError::Cancelled);
            }
            let mut batch: Vec<QueryAt> = chunk.iter().map(|&i| queries[i]).collect();
            batch.sort_by_key(|q| q.play);
            let (loss, grad) = feature_weights_step(&batch, timeline, &weights, &config.loss);
            adam.step(&mut weights, &grad, config.feature_lr);
            progress(&TrainProgress {
                stage: TrainStage::Features,
                epoch,
                epochs: FEATURE_EPOCHS,
                step: step + 1,
                steps,
                loss,
                val_ndcg: None,
            });
        }
        epochs = epoch;
        set_param(model, "feature.weight", &weights)?;
        let metrics = served(model)?;
        progress(&TrainProgress {
            stage: TrainStage::Features,
            epoch,
            epochs: FEATURE_EPOCHS,
            step: steps,
            steps,
            loss: f32::NAN,
            val_ndcg: Some(metrics.ndcg10),
        });
        if best.as_ref().is_none_or(|(m, ..)| metrics.ndcg10 > m.ndcg10) {
            best = Some((metrics, weights.clone(), epoch));
        } else if best.as_ref().is_some_and(|(_, _, e)| epoch - e >= FEATURE_PATIENCE) {
            break;
        }
    }
    let (metrics, weights, _) = best.ok_or_else(|| RecommendError::NotEnoughData("no training epoch ran".into()))?;
    Ok((weights, metrics, epochs))
}

/// Adam over a handful of parameters.
struct AdamState {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl AdamState {
    fn new(n: usize) -> Self {
        AdamState {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn step(&mut self, params: &mut [f32], grad: &[f32], lr: f64) {
        self.t += 1;
        let (b1, b2) = (0.9f32, 0.999f32);
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for i in 0..params.len() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * grad[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * grad[i] * grad[i];
            params[i] -= lr as f32 * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
        }
    }
}

/// The best epoch of [`fit_epochs`].
struct Fit {
    validation: Metrics,
    best_epoch: usize,
    epochs_run: usize,
}

/// Trains `model` through `trainer` on `rows`, one epoch at a time, keeping the weights of the
/// epoch whose `score` on validation is best.
#[allow(clippy::too_many_arguments)]
fn fit_epochs(
    model: &SeqModel,
    mut trainer: Trainer,
    rows: &[Row],
    config: &TrainConfig,
    stage: TrainStage,
    min_steps: usize,
    score: &mut dyn FnMut(&SeqModel) -> Result<Metrics, RecommendError>,
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<Fit, RecommendError> {
    if rows.is_empty() {
        return Err(RecommendError::NotEnoughData(
            "no session has two plays to learn a transition from".into(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed);
    let mut dropout = DropoutRng::new(config.seed ^ 0xd209);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let steps = rows.len().div_ceil(config.batch_size);
    let with_skipped = config.loss.ntr_lambda > 0.0;
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
            let batch = HostBatch::new(&batch_rows, config.loss.rec_on_skipped, with_skipped);
            if batch.rec_positions.is_empty() && batch.queries.is_empty() && batch.cl_count() == 0 {
                continue;
            }
            let loss = trainer.step(&batch, &config.loss, Some(&mut dropout), &mut rng, config.clip);
            progress(&TrainProgress {
                stage,
                epoch,
                epochs: config.max_epochs,
                step: step + 1,
                steps,
                loss: loss.total,
                val_ndcg: None,
            });
        }
        epochs_run = epoch;
        trainer.write_to(model)?;
        let metrics = score(model)?;
        progress(&TrainProgress {
            stage,
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
    Ok(Fit {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::data::Play;

    /// Queries of `sessions` sessions, four listened and one skipped each, ranked by `rank(session, query)`.
    fn ranked(sessions: usize, rank: impl Fn(usize, usize) -> usize) -> Vec<Ranked> {
        (0..sessions)
            .flat_map(|s| {
                (0..5).map(move |q| (s, q)).map(|(s, q)| Ranked {
                    session: s,
                    skipped: q == 4,
                    rank: if q == 4 { 1 } else { rank(s, q) },
                })
            })
            .collect()
    }

    #[test]
    fn the_transformer_is_kept_only_for_a_gain_beyond_the_sessions_noise() {
        let features = ranked(30, |_, _| 3);
        // No gain: not kept.
        assert!(!gains_beyond_noise(&features, &features));
        // One rank better at every listened query of every session: kept.
        assert!(gains_beyond_noise(&ranked(30, |_, _| 2), &features));
        // A higher mean that comes from three sessions, the rest a little worse: chance, not kept.
        let lucky = ranked(30, |s, q| match (s < 3, q) {
            (true, _) => 1,
            (false, 0) => 4,
            (false, _) => 3,
        });
        let mean = |r: &[Ranked]| metrics_of(r).ndcg10;
        assert!(mean(&lucky) > mean(&features));
        assert!(!gains_beyond_noise(&lucky, &features));
        // The skipped queries do not count: a better rank for them alone is no gain.
        let skips_only: Vec<Ranked> = features
            .iter()
            .map(|r| Ranked {
                rank: if r.skipped { 50 } else { r.rank },
                ..*r
            })
            .collect();
        assert!(!gains_beyond_noise(&skips_only, &features));
        // One session: a gain at every query of it cannot be told from chance.
        assert!(!gains_beyond_noise(&ranked(1, |_, _| 1), &ranked(1, |_, _| 3)));
        // A gain in 4 sessions of 5 is 1.88 standard errors of the plain cluster estimate (which
        // the normal's 1.645 would keep), 1.68 of the corrected one: short of Student's t with 4
        // degrees of freedom (2.13). The same pattern over 100 sessions is kept.
        let few = ranked(5, |s, _| if s == 0 { 5 } else { 2 });
        let baseline = ranked(5, |_, _| 3);
        let many = ranked(100, |s, _| if s % 5 == 0 { 5 } else { 2 });
        assert!(!gains_beyond_noise(&few, &baseline));
        assert!(gains_beyond_noise(&many, &ranked(100, |_, _| 3)));
    }

    fn sessions_of(lengths: &[usize]) -> Vec<Session> {
        lengths
            .iter()
            .map(|&n| Session {
                plays: (0..n)
                    .map(|k| Play {
                        item: k as u32 + 1,
                        skipped: false,
                        ts_ms: 0,
                    })
                    .collect(),
            })
            .collect()
    }

    /// The newest tenth validates, unless it holds too few listened queries to judge a model:
    /// then older sessions join it, up to half of them.
    #[test]
    fn the_validation_slice_holds_queries_to_judge_a_model_on() {
        // A session of one play has no query: the one before it joins the slice.
        assert_eq!(validation_start(&sessions_of(&[20, 15, 1])), 1);
        // Enough in the newest tenth: it alone.
        let long: Vec<usize> = std::iter::repeat_n(12, 40).collect();
        assert_eq!(validation_start(&sessions_of(&long)), 36);
        // Short sessions: as many as it takes, never more than half.
        assert_eq!(validation_start(&sessions_of(&[3; 10])), 5);
        assert_eq!(validation_start(&sessions_of(&[2; 40])), 30);
        assert_eq!(listened_queries(&sessions_of(&[2; 40])[30..]), 10);
    }

    #[test]
    fn the_t_quantiles_are_students() {
        // Exact values (R's qt(0.95, df)).
        for (df, exact) in [
            (1, 6.313_752),
            (2, 2.919_986),
            (3, 2.353_363),
            (4, 2.131_847),
            (5, 2.015_048),
            (10, 1.812_461),
            (27, 1.703_288),
            (100, 1.660_234),
        ] {
            let tolerance = match df {
                3 => 1.2e-3,
                4 => 3e-4,
                _ => 1e-4,
            };
            assert!(
                (t_95(df) - exact).abs() < tolerance,
                "{df}: {} against {exact}",
                t_95(df)
            );
        }
    }
}
