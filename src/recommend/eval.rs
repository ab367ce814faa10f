//! The fixed offline evaluation protocol ([`EvalData`], [`EvalReport`], [`run_eval`]): the music
//! rows of a listening history, an item per (artist, track name) pair as the history spells it,
//! sessions cut at gaps over 30 minutes, the first 80% of sessions to train (their newest tenth
//! to validate) and the rest to test; every catalogue item ranked at every test position, ties
//! broken by training popularity, the same split for every model.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::history::HistoryPlay;

use super::baselines::{Popularity, SessionKnn};
use super::data::{sessionize, Play, Session, Vocab};
use super::features::{ItemGroups, FEATURES};
use super::metrics::{ndcg10_gain, Metrics};
use super::model::SeqModel;
use super::rank::{metrics_of, model_ranks, walk_ranks, QueryView, Ranked, SessionRanker};
use super::train::{
    features_model, listen_counts, train_model, validation_start, TrainConfig, TrainData, TrainOutcome, TrainProgress,
};
use super::RecommendError;
use crate::track::{Name, Track};

/// The protocol's session gap: a new session after more than 30 minutes.
pub(crate) const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// A history prepared for evaluation: catalogue, sessions and the split.
pub(crate) struct EvalData {
    pub name: String,
    pub vocab: Vocab,
    pub sessions: Vec<Session>,
    pub plays: usize,
    /// Sessions `..n_train` train, the rest test.
    pub n_train: usize,
    /// Training sessions `val_start..n_train` are the validation slice.
    pub val_start: usize,
    /// Non-skipped training plays per item.
    pub popularity: Vec<u32>,
}

impl EvalData {
    /// Builds the catalogue (items in first-appearance order) and the split from time-ordered plays.
    pub(crate) fn from_plays(name: &str, history: &[HistoryPlay]) -> EvalData {
        let mut vocab = Vocab::default();
        let plays: Vec<Play> = history
            .iter()
            .map(|h| Play {
                // The protocol's item is the pair exactly as the history spells it, not the
                // player's case-folded key: its catalogue sizes are fixed by that (folding case
                // would merge 5 of khushi's 4,517 pairs).
                item: vocab.intern(
                    &format!("{}\u{1f}{}", h.artist, h.track),
                    &Track {
                        title: h.track.clone(),
                        artist: Some(h.artist.as_str().into()),
                        album: h.album.as_deref().map(Name::from),
                        ..Track::default()
                    },
                ),
                skipped: h.is_skip(),
                ts_ms: h.ts_ms,
            })
            .collect();
        let sessions = sessionize(&plays, SESSION_GAP_MS);
        let n_train = sessions.len() * 8 / 10;
        let val_start = validation_start(&sessions[..n_train]);
        EvalData::from_sessions(name, vocab, sessions, n_train, val_start)
    }

    /// Wraps sessions that are already split.
    pub(crate) fn from_sessions(
        name: &str,
        vocab: Vocab,
        sessions: Vec<Session>,
        n_train: usize,
        val_start: usize,
    ) -> EvalData {
        let popularity = listen_counts(&vocab, &sessions[..n_train]);
        EvalData {
            name: name.to_owned(),
            plays: sessions.iter().map(|s| s.plays.len()).sum(),
            vocab,
            sessions,
            n_train,
            val_start,
            popularity,
        }
    }
}

/// One model's row of the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ModelRow {
    pub name: String,
    #[serde(rename = "hr@10")]
    pub hr10: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg10: f64,
    pub mrr: f64,
    pub skip_mrr: f64,
    /// Mean training time per seed.
    pub train_s: f64,
    /// Standard deviation of NDCG@10 over the seeds (0 for rows that learn nothing).
    #[serde(rename = "ndcg@10_sd")]
    pub ndcg10_sd: f64,
    /// On an ablation row: the paired bootstrap 95% interval of `skipless` minus this row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci95: Option<Interval>,
}

/// Paired bootstrap 95% intervals of a difference in NDCG@10 and in skip-MRR.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Interval {
    #[serde(rename = "ndcg@10")]
    pub ndcg10: [f64; 2],
    pub skip_mrr: [f64; 2],
}

/// The evaluation's output (`skipless eval --json`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EvalReport {
    pub dataset: String,
    pub plays: usize,
    pub sessions: usize,
    pub tracks: usize,
    pub train_sessions: usize,
    pub test_listened: usize,
    pub test_skipped: usize,
    pub seeds: Vec<u64>,
    pub models: Vec<ModelRow>,
    /// Notes on the trained models (validation metrics, epochs, feature weights).
    pub notes: Vec<String>,
}

/// Options of [`run_eval`]: the seeds and the training configurations.
#[derive(Debug, Clone)]
pub(crate) struct EvalOptions {
    pub seeds: Vec<u64>,
    pub sasrec: TrainConfig,
    pub sasrec_cl: TrainConfig,
    /// The default model: `skipless`, and with parts removed, its ablations.
    pub skipless: TrainConfig,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            seeds: vec![0, 1, 2],
            sasrec: TrainConfig::sasrec(0.0),
            sasrec_cl: TrainConfig::sasrec(1.0),
            skipless: TrainConfig::default(),
        }
    }
}

impl EvalOptions {
    /// `skipless` without skip inputs and without the negative-feedback loss terms.
    fn no_negatives(&self) -> TrainConfig {
        let mut c = self.skipless;
        c.model.skip_embedding = false;
        c.loss.ntr_lambda = 0.0;
        c.loss.cl_lambda = 0.0;
        c
    }
}

/// Ranks with a function of the session so far.
struct PrefixRanks<F: FnMut(&[(u32, bool)], &mut [f32])>(F);

impl<F: FnMut(&[(u32, bool)], &mut [f32])> SessionRanker for PrefixRanks<F> {
    fn begin_session(&mut self, _: &[&[Play]]) -> Result<(), RecommendError> {
        Ok(())
    }

    fn score(&mut self, _: usize, view: &QueryView, out: &mut [f32]) {
        (self.0)(view.session, out)
    }
}

/// One learned model's test results over the seeds.
struct SeedRuns {
    name: String,
    ranked: Vec<Vec<Ranked>>,
    train_s: Vec<f64>,
}

impl SeedRuns {
    fn new(name: &str) -> Self {
        SeedRuns {
            name: name.to_owned(),
            ranked: Vec::new(),
            train_s: Vec::new(),
        }
    }

    fn row(&self) -> ModelRow {
        let metrics: Vec<Metrics> = self.ranked.iter().map(|r| metrics_of(r)).collect();
        let k = metrics.len().max(1) as f64;
        let mean = |f: fn(&Metrics) -> f64| metrics.iter().map(f).sum::<f64>() / k;
        let ndcg = mean(|m| m.ndcg10);
        let var = metrics.iter().map(|m| (m.ndcg10 - ndcg).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
        ModelRow {
            name: self.name.clone(),
            hr10: mean(|m| m.hr10),
            ndcg10: ndcg,
            mrr: mean(|m| m.mrr),
            skip_mrr: mean(|m| m.skip_mrr),
            train_s: self.train_s.iter().sum::<f64>() / self.train_s.len().max(1) as f64,
            ndcg10_sd: var.sqrt(),
            ci95: None,
        }
    }

    /// Per position, the seeds' mean of NDCG@10 (listened positions) or reciprocal rank
    /// (skipped positions).
    fn per_position(&self) -> Vec<(usize, bool, f64)> {
        let k = self.ranked.len().max(1) as f64;
        let first = self.ranked.first().map(Vec::as_slice).unwrap_or_default();
        first
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let value = self
                    .ranked
                    .iter()
                    .map(|seed| {
                        let rank = seed[i].rank;
                        if r.skipped {
                            1.0 / rank as f64
                        } else {
                            ndcg10_gain(rank)
                        }
                    })
                    .sum::<f64>()
                    / k;
                (r.session, r.skipped, value)
            })
            .collect()
    }
}

/// Resamples of the paired bootstrap, and its seed.
const BOOTSTRAP_RESAMPLES: usize = 2000;
const BOOTSTRAP_SEED: u64 = 2023;

/// The paired bootstrap 95% interval of `a` minus `b` over test sessions: sessions are drawn
/// with replacement (positions within a session are correlated), and the mean differences of
/// NDCG@10 over listened positions and of reciprocal rank over skipped positions recomputed.
fn paired_interval(a: &SeedRuns, b: &SeedRuns) -> Interval {
    let (pa, pb) = (a.per_position(), b.per_position());
    // Per session: (sum of NDCG differences, listened, sum of RR differences, skipped).
    let mut sessions: Vec<(usize, [f64; 4])> = Vec::new();
    for ((session, skipped, x), (_, _, y)) in pa.iter().zip(&pb) {
        if sessions.last().is_none_or(|(s, _)| s != session) {
            sessions.push((*session, [0.0; 4]));
        }
        if let Some((_, sums)) = sessions.last_mut() {
            if *skipped {
                sums[2] += x - y;
                sums[3] += 1.0;
            } else {
                sums[0] += x - y;
                sums[1] += 1.0;
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    let (mut ndcg, mut skip) = (
        Vec::with_capacity(BOOTSTRAP_RESAMPLES),
        Vec::with_capacity(BOOTSTRAP_RESAMPLES),
    );
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let mut total = [0.0; 4];
        for _ in 0..sessions.len() {
            let (_, sums) = sessions[rng.random_range(0..sessions.len())];
            for (t, s) in total.iter_mut().zip(sums) {
                *t += s;
            }
        }
        ndcg.push(total[0] / total[1].max(1.0));
        skip.push(total[2] / total[3].max(1.0));
    }
    Interval {
        ndcg10: percentiles(&mut ndcg),
        skip_mrr: percentiles(&mut skip),
    }
}

fn percentiles(values: &mut [f64]) -> [f64; 2] {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    [at(0.025), at(0.975)]
}

fn fixed_row(name: &str, m: &Metrics, train_s: f64) -> ModelRow {
    ModelRow {
        name: name.to_owned(),
        hr10: m.hr10,
        ndcg10: m.ndcg10,
        mrr: m.mrr,
        skip_mrr: m.skip_mrr,
        train_s,
        ndcg10_sd: 0.0,
        ci95: None,
    }
}

/// Runs the protocol: every model trained on the same split and scored on the same test positions.
pub(crate) fn run_eval(
    data: &EvalData,
    options: &EvalOptions,
    progress: &mut dyn FnMut(&str, &TrainProgress),
) -> Result<EvalReport, RecommendError> {
    if data.n_train < 2 || data.n_train == data.sessions.len() {
        return Err(RecommendError::NotEnoughData(format!(
            "{} sessions are too few to split into training and test",
            data.sessions.len()
        )));
    }
    let n = data.vocab.len();
    let mut models = Vec::new();
    let mut notes = Vec::new();

    let popularity = Popularity {
        counts: data.popularity.clone(),
    };
    let ranked = test_ranks(data, &|| {
        PrefixRanks(|_: &[(u32, bool)], out: &mut [f32]| popularity.score(out))
    })?;
    let m = metrics_of(&ranked);
    models.push(fixed_row("popularity", &m, 0.0));
    let (test_listened, test_skipped) = (m.listened, m.skipped);

    let start = Instant::now();
    let knn = SessionKnn::fit(&data.sessions[..data.n_train], n, 5);
    let fit_s = start.elapsed().as_secs_f64();
    let ranked = test_ranks(data, &|| {
        PrefixRanks(|prefix: &[(u32, bool)], out: &mut [f32]| {
            let items: Vec<u32> = prefix.iter().map(|p| p.0).collect();
            knn.score(&items, out)
        })
    })?;
    models.push(fixed_row("cooccurrence", &metrics_of(&ranked), fit_s));

    let cancel = AtomicBool::new(false);
    let train_data = TrainData {
        vocab: &data.vocab,
        sessions: &data.sessions[..data.n_train],
        val_start: data.val_start,
        likes: &[],
    };
    let mut train = |name: &str, config: &TrainConfig, seed: u64| -> Result<(TrainOutcome, f64), RecommendError> {
        let mut config = *config;
        config.seed = seed;
        let start = Instant::now();
        let outcome = train_model(train_data, &config, None, &mut |p| progress(name, p), &cancel)?;
        let train_s = start.elapsed().as_secs_f64();
        notes.push(format!(
            "{name} seed {seed}: best epoch {} of {}, validation ndcg@10 {:.4}, skip-mrr {:.4}{}",
            outcome.best_epoch,
            outcome.epochs_run,
            outcome.validation.ndcg10,
            outcome.validation.skip_mrr,
            match &outcome.features_only {
                Some(stage) => format!(
                    "; features alone {:.4} ({}); transformer {}",
                    stage.validation.ndcg10,
                    FEATURES
                        .iter()
                        .zip(&stage.weights)
                        .map(|(f, w)| format!("{f} {w:.2}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if outcome.transformer_kept {
                        "kept"
                    } else {
                        "not kept: no better on validation beyond chance"
                    }
                ),
                None => String::new(),
            }
        ));
        Ok((outcome, train_s))
    };

    let mut learned = Vec::new();
    for (name, config) in [("sasrec", &options.sasrec), ("sasrec+cl", &options.sasrec_cl)] {
        let mut runs = SeedRuns::new(name);
        for &seed in &options.seeds {
            let (outcome, train_s) = train(name, config, seed)?;
            runs.ranked.push(model_test_ranks(data, &outcome.model)?);
            runs.train_s.push(train_s);
        }
        learned.push(runs);
    }

    let mut skipless = SeedRuns::new("skipless");
    let mut no_transformer = SeedRuns::new("skipless-no-transformer");
    for &seed in &options.seeds {
        let (outcome, train_s) = train("skipless", &options.skipless, seed)?;
        skipless.ranked.push(model_test_ranks(data, &outcome.model)?);
        skipless.train_s.push(train_s);
        if let Some(stage) = &outcome.features_only {
            let mut config = options.skipless;
            config.seed = seed;
            let model = features_model(&config, &data.vocab, &stage.weights)?;
            no_transformer.ranked.push(model_test_ranks(data, &model)?);
            no_transformer.train_s.push(stage.seconds);
        }
    }
    let mut no_negatives = SeedRuns::new("skipless-no-negatives");
    for &seed in &options.seeds {
        let (outcome, train_s) = train("skipless-no-negatives", &options.no_negatives(), seed)?;
        no_negatives.ranked.push(model_test_ranks(data, &outcome.model)?);
        no_negatives.train_s.push(train_s);
    }

    for runs in &learned {
        models.push(runs.row());
    }
    models.push(skipless.row());
    for ablation in [&no_transformer, &no_negatives] {
        let mut row = ablation.row();
        row.ci95 = Some(paired_interval(&skipless, ablation));
        models.push(row);
    }

    Ok(EvalReport {
        dataset: data.name.clone(),
        plays: data.plays,
        sessions: data.sessions.len(),
        tracks: n,
        train_sessions: data.n_train,
        test_listened,
        test_skipped,
        seeds: options.seeds.clone(),
        models,
        notes,
    })
}

/// The ranks a ranker from `make_ranker` gives on the test sessions.
fn test_ranks<R: SessionRanker + Send>(
    data: &EvalData,
    make_ranker: &(dyn Fn() -> R + Sync),
) -> Result<Vec<Ranked>, RecommendError> {
    walk_ranks(
        &data.sessions,
        &ItemGroups::of(&data.vocab),
        data.n_train..data.sessions.len(),
        &[],
        &data.popularity,
        make_ranker,
    )
}

/// `model`'s ranks of the test sessions, as training validates it: `skipless` and its
/// ablations by the served score (what autoplay scores by), SASRec by the session so far.
fn model_test_ranks(data: &EvalData, model: &SeqModel) -> Result<Vec<Ranked>, RecommendError> {
    model_ranks(
        model,
        &data.sessions,
        &ItemGroups::of(&data.vocab),
        data.n_train..data.sessions.len(),
        &[],
        &data.popularity,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skipless_row_is_the_default_model_the_player_trains() {
        assert_eq!(EvalOptions::default().skipless, TrainConfig::default());
        assert_eq!(EvalOptions::default().seeds, [0, 1, 2]);
    }
}
