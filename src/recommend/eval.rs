//! The offline evaluation protocol of `docs/method.md` ([`EvalData`], [`EvalReport`],
//! [`run_eval`]): a listening history split by time into training and test sessions, every
//! catalogue item ranked at every test position, the same split for every model.

use std::ops::Range;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use crate::history::HistoryPlay;

use super::baselines::{Popularity, SessionKnn};
use super::data::{sessionize, Play, Session, Vocab};
use super::metrics::{protocol_rank, Metrics};
use super::model::SeqModel;
use super::signals::{blend, log_softmax, BlendWeights, HistoryStats, FEATURES};
use super::train::{listen_counts, train_model, TrainConfig, TrainProgress};
use super::RecommendError;
use crate::track::Track;

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
                item: vocab.intern(
                    &format!("{}\u{1f}{}", h.artist, h.track),
                    &Track {
                        title: h.track.clone(),
                        artist: Some(h.artist.clone()),
                        album: h.album.clone(),
                        ..Track::default()
                    },
                ),
                skipped: h.is_skip(),
                ts_ms: h.ts_ms,
            })
            .collect();
        let sessions = sessionize(&plays, SESSION_GAP_MS);
        let n_train = sessions.len() * 8 / 10;
        let val_start = n_train - (n_train / 10).max(1).min(n_train);
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
    pub train_s: f64,
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
    pub models: Vec<ModelRow>,
    /// Notes on the trained models (validation metrics, epochs, blend weights).
    pub notes: Vec<String>,
}

/// Options of [`run_eval`]: the sequence models' training configurations.
#[derive(Debug, Clone)]
pub(crate) struct EvalOptions {
    pub sasrec: TrainConfig,
    pub sasrec_cl: TrainConfig,
    /// The sequence model inside `skipless`.
    pub skipless: TrainConfig,
}

impl Default for EvalOptions {
    fn default() -> Self {
        let base = TrainConfig::default();
        let mut sasrec = base;
        sasrec.loss.cl_lambda = 0.0;
        let mut skipless = base;
        skipless.model.skip_embedding = true;
        EvalOptions {
            sasrec,
            sasrec_cl: base,
            skipless,
        }
    }
}

/// What a ranker sees at one query.
struct Query<'a> {
    /// The session so far: (item, skipped).
    prefix: &'a [(u32, bool)],
    /// Time of the last play before the query.
    now_ms: i64,
    stats: &'a HistoryStats,
    /// The sequence model's scores, when the ranker uses one.
    seq: Option<&'a [f32]>,
}

/// Walks all sessions in order, keeping [`HistoryStats`] current, and ranks the catalogue at every
/// position i >= 1 of the sessions in `range`. `visit` receives each query's scores, target and skip flag.
fn walk(
    data: &EvalData,
    range: Range<usize>,
    seq: Option<&SeqModel>,
    score: &mut dyn FnMut(&Query, &mut [f32]),
    visit: &mut dyn FnMut(&[f32], &Query, Play),
) -> Result<(), RecommendError> {
    let n = data.vocab.len();
    let mut stats = HistoryStats::new(n);
    stats.popularity = data.popularity.clone();
    let mut scores = vec![0f32; n];
    for (index, session) in data.sessions[..range.end].iter().enumerate() {
        let pairs: Vec<(u32, bool)> = session.plays.iter().map(|p| (p.item, p.skipped)).collect();
        let seq_rows: Option<Vec<Vec<f32>>> = match seq {
            Some(model) if range.contains(&index) && pairs.len() > 1 => {
                let t = model.config.max_len;
                let windows: Vec<_> = (1..pairs.len())
                    .map(|i| {
                        let w = &pairs[i.saturating_sub(t)..i];
                        (w.iter().map(|p| p.0).collect(), w.iter().map(|p| p.1).collect())
                    })
                    .collect();
                Some(model.score_windows(&windows)?.to_vec2()?)
            }
            _ => None,
        };
        for (i, play) in session.plays.iter().enumerate() {
            if i >= 1 && range.contains(&index) {
                let query = Query {
                    prefix: &pairs[..i],
                    now_ms: session.plays[i - 1].ts_ms,
                    stats: &stats,
                    seq: seq_rows.as_ref().map(|rows| rows[i - 1].as_slice()),
                };
                score(&query, &mut scores);
                visit(&scores, &query, *play);
            }
            stats.observe(&pairs[..i], play.item, play.skipped, play.ts_ms);
        }
    }
    Ok(())
}

/// The protocol's metrics of one ranker on the test sessions.
fn test_metrics(
    data: &EvalData,
    seq: Option<&SeqModel>,
    score: &mut dyn FnMut(&Query, &mut [f32]),
) -> Result<Metrics, RecommendError> {
    let mut metrics = Metrics::default();
    walk(
        data,
        data.n_train..data.sessions.len(),
        seq,
        score,
        &mut |scores, _, play| {
            let rank = protocol_rank(scores, play.item as usize - 1, &data.popularity);
            if play.skipped {
                metrics.add_skip(rank);
            } else {
                metrics.add_listen(rank);
            }
        },
    )?;
    Ok(metrics.finish())
}

fn row(name: &str, m: &Metrics, train_s: f64) -> ModelRow {
    ModelRow {
        name: name.to_owned(),
        hr10: m.hr10,
        ndcg10: m.ndcg10,
        mrr: m.mrr,
        skip_mrr: m.skip_mrr,
        train_s,
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
    let mut models = Vec::new();
    let mut notes = Vec::new();

    let start = Instant::now();
    let popularity = Popularity {
        counts: data.popularity.clone(),
    };
    let fit_s = start.elapsed().as_secs_f64();
    let m = test_metrics(data, None, &mut |_, out| popularity.score(out))?;
    models.push(row("popularity", &m, fit_s));
    let (test_listened, test_skipped) = (m.listened, m.skipped);

    let start = Instant::now();
    let knn = SessionKnn::fit(&data.sessions[..data.n_train], data.vocab.len(), 5);
    let fit_s = start.elapsed().as_secs_f64();
    let m = test_metrics(data, None, &mut |q, out| {
        let prefix: Vec<u32> = q.prefix.iter().map(|p| p.0).collect();
        knn.score(&prefix, out)
    })?;
    models.push(row("cooccurrence", &m, fit_s));

    let train = &data.sessions[..data.val_start];
    let validation = &data.sessions[data.val_start..data.n_train];
    let cancel = AtomicBool::new(false);
    let mut seq_models = Vec::new();
    for (name, config) in [
        ("sasrec", &options.sasrec),
        ("sasrec+cl", &options.sasrec_cl),
        ("skipless", &options.skipless),
    ] {
        let start = Instant::now();
        let outcome = train_model(
            &data.vocab,
            train,
            validation,
            config,
            None,
            &mut |p| progress(name, p),
            &cancel,
        )?;
        let train_s = start.elapsed().as_secs_f64();
        notes.push(format!(
            "{name}: best epoch {} of {}, validation ndcg@10 {:.4}, skip-mrr {:.4}",
            outcome.best_epoch, outcome.epochs_run, outcome.validation.ndcg10, outcome.validation.skip_mrr
        ));
        seq_models.push((name, outcome, train_s));
    }
    for (name, outcome, train_s) in &seq_models[..2] {
        let m = test_metrics(data, Some(&outcome.model), &mut |q, out| {
            out.copy_from_slice(q.seq.unwrap_or(&[]));
        })?;
        models.push(row(name, &m, *train_s));
    }

    // skipless: the sequence model blended with history signals; weights fitted on validation only.
    let (_, outcome, seq_s) = &seq_models[2];
    let alone = test_metrics(data, Some(&outcome.model), &mut |q, out| {
        out.copy_from_slice(q.seq.unwrap_or(&[]));
    })?;
    notes.push(format!(
        "skipless sequence model alone (sasrec+cl with the skipped-input embedding): hr@10 {:.4}, ndcg@10 {:.4}, mrr {:.4}, skip-mrr {:.4}",
        alone.hr10, alone.ndcg10, alone.mrr, alone.skip_mrr
    ));
    let start = Instant::now();
    let weights = fit_blend(data, &outcome.model)?;
    let fit_s = start.elapsed().as_secs_f64();
    notes.push(format!(
        "skipless blend weights: {}",
        FEATURES
            .iter()
            .zip(&weights.weights)
            .map(|(f, w)| format!("{f} {w}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let n = data.vocab.len();
    let mut features = vec![0f32; FEATURES.len() * n];
    let m = test_metrics(data, Some(&outcome.model), &mut |q, out| {
        q.stats.features(q.prefix, q.now_ms, &mut features);
        log_softmax(q.seq.unwrap_or(&[]), &mut features[..n]);
        blend(&features, &weights, out);
    })?;
    models.push(row("skipless", &m, seq_s + fit_s));

    Ok(EvalReport {
        dataset: data.name.clone(),
        plays: data.plays,
        sessions: data.sessions.len(),
        tracks: data.vocab.len(),
        train_sessions: data.n_train,
        test_listened,
        test_skipped,
        models,
        notes,
    })
}

/// Most validation queries kept for fitting the blend (evenly spaced), to bound memory.
const MAX_FIT_QUERIES: usize = 600;

/// Chooses blend weights by coordinate ascent on NDCG@10 over the validation slice.
pub(crate) fn fit_blend(data: &EvalData, model: &SeqModel) -> Result<BlendWeights, RecommendError> {
    let n = data.vocab.len();
    let f = FEATURES.len();
    let mut all: Vec<(Vec<f32>, usize)> = Vec::new();
    let mut features = vec![0f32; f * n];
    let mut count = 0usize;
    let total: usize = data.sessions[data.val_start..data.n_train]
        .iter()
        .map(|s| s.plays.iter().skip(1).filter(|p| !p.skipped).count())
        .sum();
    let stride = total.div_ceil(MAX_FIT_QUERIES).max(1);
    walk(
        data,
        data.val_start..data.n_train,
        Some(model),
        &mut |_, _| {},
        &mut |_, q, play| {
            if play.skipped {
                return;
            }
            count += 1;
            if !count.is_multiple_of(stride) {
                return;
            }
            q.stats.features(q.prefix, q.now_ms, &mut features);
            log_softmax(q.seq.unwrap_or(&[]), &mut features[..n]);
            all.push((features.clone(), play.item as usize - 1));
        },
    )?;
    let mut weights = BlendWeights::default();
    if all.is_empty() {
        return Ok(weights);
    }
    let mut scores = vec![0f32; n];
    let mut objective = |w: &BlendWeights| {
        let mut m = Metrics::default();
        for (feat, target) in &all {
            blend(feat, w, &mut scores);
            m.add_listen(protocol_rank(&scores, *target, &data.popularity));
        }
        m.finish().ndcg10
    };
    let grid = [-4.0, -2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0];
    let mut best = objective(&weights);
    for _ in 0..3 {
        let mut changed = false;
        for i in 0..f {
            for &g in &grid {
                let mut trial = weights.clone();
                trial.weights[i] = g;
                let value = objective(&trial);
                if value > best + 1e-9 {
                    best = value;
                    weights = trial;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    Ok(weights)
}
