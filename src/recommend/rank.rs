//! The served ranking ([`served_scores`], [`ServedRanks`]): what autoplay, `recommend`,
//! `simulate`, the background retrain's keep-or-discard decision and the evaluation's `skipless`
//! row all score by.
//!
//! A served score is the model's score of every track (see [`Scorer`]) turned into a
//! log-probability, plus `finish_weight` times the log-probability that the track is finished
//! rather than skipped ([`HistoryStats::ln_finish`]). Training puts the same term in its logits
//! at [`FINISH_WEIGHT`] ([`super::model::LossConfig::finish_prior`]), so at the default weight
//! the served ranking is the softmax the model was trained as.
//!
//! [`model_ranks`] walks a slice of sessions and ranks every position the way a model is used:
//! the served ranking for a history-feature model, the session so far for a plain sequence model
//! (the evaluation's SASRec rows). Validation, the retrain's comparison and the evaluation's test
//! rows all rank through it, over [`walk_ranks`].

use std::ops::Range;

use rayon::prelude::*;

use super::data::{Play, Session, Window};
use std::sync::Arc;

use super::features::{log_softmax, HistoryStats, ItemGroups, FINISH_PRIOR, N_COLUMNS};
use super::metrics::{protocol_rank, Metrics};
use super::model::{Scorer, SeqModel};
use super::RecommendError;

/// The finish term's weight where it is not configured (the evaluation, training's validation,
/// and the training logits): the default of `[recommend] finish_weight`.
pub const FINISH_WEIGHT: f32 = 2.0;

/// Fills `out` (one score per item) with the served score after the head output `hidden`,
/// the session so far `session` and the history in `stats`, at `now_ms`; `features` is left
/// holding the features. Returns the log-softmax's normaliser, so that a track outside the
/// catalogue can be scored on the same scale.
#[allow(clippy::too_many_arguments)]
pub(crate) fn served_scores(
    scorer: &Scorer,
    hidden: &[f32],
    stats: &HistoryStats,
    session: &[(u32, bool)],
    now_ms: i64,
    finish_weight: f32,
    features: &mut Vec<f32>,
    out: &mut [f32],
) -> f32 {
    let n = out.len();
    features.resize(N_COLUMNS * n, 0.0);
    stats.features(session, now_ms, features);
    let mut logits = vec![0f32; n];
    scorer.score(hidden, features, &mut logits);
    let normaliser = log_softmax(&logits, out);
    if finish_weight != 0.0 {
        // The finish column is the finish term less that of a track never played.
        let unplayed = stats.ln_finish((0, 0));
        let lifts = &features[FINISH_PRIOR * n..(FINISH_PRIOR + 1) * n];
        for (o, &lift) in out.iter_mut().zip(lifts) {
            *o += finish_weight * (lift + unplayed);
        }
    }
    normaliser
}

/// How one query was ranked: its session (an index into the walked sessions), whether the play
/// there was skipped, and the rank the play got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub session: usize,
    pub skipped: bool,
    pub rank: usize,
}

/// The protocol's metrics of a list of ranked queries.
pub fn metrics_of(ranked: &[Ranked]) -> Metrics {
    let mut m = Metrics::default();
    for r in ranked {
        if r.skipped {
            m.add_skip(r.rank);
        } else {
            m.add_listen(r.rank);
        }
    }
    m.finish()
}

/// What a query sees: the session so far, the history stats and the moment (the last play's time).
pub(crate) struct QueryView<'a> {
    pub session: &'a [(u32, bool)],
    pub stats: &'a HistoryStats,
    pub now_ms: i64,
}

/// A ranker walked over a history by [`walk_ranks`].
pub(crate) trait SessionRanker {
    /// Called once per ranked session before its queries: `histories[i]` is every play before
    /// query i's next play, all sessions, oldest first (a model runs them as one batch here).
    fn begin_session(&mut self, histories: &[&[Play]]) -> Result<(), RecommendError>;
    /// Scores every item at query `i` of the session.
    fn score(&mut self, i: usize, view: &QueryView, out: &mut [f32]);
}

/// Walks `sessions` in order, keeping [`HistoryStats`] current (with `likes`: item, liked at),
/// and ranks every item at every position i >= 1 of the sessions in `range`; ties are broken by
/// `popularity`.
///
/// The ranked sessions are cut into parts of about equal work that run on every core, each
/// with its own ranker from `make_ranker` and its own copy of the stats as they were where the
/// part begins; every query sees exactly what a walk in one pass would give it.
pub(crate) fn walk_ranks<R: SessionRanker + Send>(
    sessions: &[Session],
    groups: &Arc<ItemGroups>,
    range: Range<usize>,
    likes: &[(u32, i64)],
    popularity: &[u32],
    make_ranker: &(dyn Fn() -> R + Sync),
) -> Result<Vec<Ranked>, RecommendError> {
    // One thread (the background retrain's) gains nothing from parts but their copies of the stats.
    let part_count = match rayon::current_num_threads() {
        1 => 1,
        threads => threads * PARTS_PER_THREAD,
    };
    let sessions = &sessions[..range.end];
    let history: Vec<Play> = sessions.iter().flat_map(|s| s.plays.iter().copied()).collect();
    let mut offsets = Vec::with_capacity(sessions.len());
    let mut offset = 0;
    for session in sessions {
        offsets.push(offset);
        offset += session.plays.len();
    }

    let n_items = groups.len();
    let mut stats = HistoryStats::new(groups.clone());
    for &(item, at) in likes {
        stats.like(item, at);
    }
    let parts = balanced_parts(sessions, range, part_count);
    let mut starts = Vec::with_capacity(parts.len());
    let mut next = 0;
    for part in &parts {
        for session in &sessions[next..part.start] {
            observe_session(&mut stats, session);
        }
        next = part.start;
        starts.push(stats.clone());
    }
    let walked: Vec<Result<Vec<Ranked>, RecommendError>> = parts
        .into_par_iter()
        .zip(starts)
        .map(|(part, mut stats)| {
            let mut ranker = make_ranker();
            let mut ranked = Vec::new();
            let mut row = vec![0f32; n_items];
            for index in part {
                let session = &sessions[index];
                let pairs: Vec<(u32, bool)> = session.plays.iter().map(|p| (p.item, p.skipped)).collect();
                if pairs.len() >= 2 {
                    let offset = offsets[index];
                    let histories: Vec<&[Play]> = (1..pairs.len()).map(|i| &history[..offset + i]).collect();
                    ranker.begin_session(&histories)?;
                }
                for (i, play) in session.plays.iter().enumerate() {
                    if i >= 1 {
                        let view = QueryView {
                            session: &pairs[..i],
                            stats: &stats,
                            now_ms: session.plays[i - 1].ts_ms,
                        };
                        ranker.score(i - 1, &view, &mut row);
                        ranked.push(Ranked {
                            session: index,
                            skipped: play.skipped,
                            rank: protocol_rank(&row, play.item as usize - 1, popularity),
                        });
                    }
                    stats.observe(&pairs[..i], play.item, play.skipped, play.ts_ms);
                }
            }
            Ok(ranked)
        })
        .collect();
    let mut ranked = Vec::new();
    for part in walked {
        ranked.extend(part?);
    }
    Ok(ranked)
}

/// Parts per core in [`walk_ranks`]: a few, so that one slow part does not leave a core idle.
const PARTS_PER_THREAD: usize = 4;

/// Cuts the sessions in `range` into at most `parts` runs holding about equal numbers of queries.
fn balanced_parts(sessions: &[Session], range: Range<usize>, parts: usize) -> Vec<Range<usize>> {
    let queries = |s: &Session| s.plays.len().saturating_sub(1);
    let total: usize = sessions[range.clone()].iter().map(queries).sum();
    let per_part = total.div_ceil(parts.max(1)).max(1);
    let mut cut = Vec::new();
    let (mut start, mut held) = (range.start, 0);
    for index in range.clone() {
        held += queries(&sessions[index]);
        if held >= per_part {
            cut.push(start..index + 1);
            (start, held) = (index + 1, 0);
        }
    }
    if start < range.end || cut.is_empty() {
        cut.push(start..range.end);
    }
    cut
}

/// Records every play of `session` in `stats`.
fn observe_session(stats: &mut HistoryStats, session: &Session) {
    let pairs: Vec<(u32, bool)> = session.plays.iter().map(|p| (p.item, p.skipped)).collect();
    for (i, play) in session.plays.iter().enumerate() {
        stats.observe(&pairs[..i], play.item, play.skipped, play.ts_ms);
    }
}

/// Ranks every position i >= 1 of the sessions in `range` by what `model` is used with: a
/// history-feature model by its served score ([`ServedRanks`]), a plain sequence model (SASRec)
/// by the session so far, its protocol input. Training's validation, the retrain's comparison
/// and the evaluation's test rows all rank a model through here.
pub fn model_ranks(
    model: &SeqModel,
    sessions: &[Session],
    groups: &Arc<ItemGroups>,
    range: Range<usize>,
    likes: &[(u32, i64)],
    popularity: &[u32],
) -> Result<Vec<Ranked>, RecommendError> {
    if model.config.history_features {
        let served = ServedRanks::new(model, FINISH_WEIGHT)?;
        walk_ranks(sessions, groups, range, likes, popularity, &|| served.session_ranker())
    } else {
        walk_ranks(sessions, groups, range, likes, popularity, &|| SessionPrefixRanks {
            model,
            rows: Vec::new(),
        })
    }
}

/// Ranks by a model without history features over the session so far (at most its window),
/// each session's queries in one batch.
struct SessionPrefixRanks<'a> {
    model: &'a SeqModel,
    rows: Vec<Vec<f32>>,
}

impl SessionRanker for SessionPrefixRanks<'_> {
    fn begin_session(&mut self, histories: &[&[Play]]) -> Result<(), RecommendError> {
        let t = self.model.config.max_len;
        let Some(last) = histories.last() else { return Ok(()) };
        let start = last.len() - histories.len();
        let windows: Vec<Window> = (1..=histories.len())
            .map(|i| {
                let from = (start + i).saturating_sub(t).max(start);
                Window::of(&last[from..start + i], None)
            })
            .collect();
        self.rows = self.model.score_windows(&windows)?.to_vec2()?;
        Ok(())
    }

    fn score(&mut self, i: usize, _: &QueryView, out: &mut [f32]) {
        out.copy_from_slice(&self.rows[i]);
    }
}

/// The served ranking of a history-feature model ([`served_scores`]).
pub struct ServedRanks<'a> {
    model: &'a SeqModel,
    scorer: Scorer,
    finish_weight: f32,
}

impl<'a> ServedRanks<'a> {
    pub fn new(model: &'a SeqModel, finish_weight: f32) -> Result<Self, RecommendError> {
        Ok(ServedRanks {
            model,
            scorer: Scorer::new(model)?,
            finish_weight,
        })
    }

    fn session_ranker(&self) -> ServedSession<'_> {
        ServedSession {
            served: self,
            hidden: Vec::new(),
            features: Vec::new(),
        }
    }
}

/// One part of a [`ServedRanks`] walk: the head outputs of the session being ranked.
struct ServedSession<'a> {
    served: &'a ServedRanks<'a>,
    hidden: Vec<Vec<f32>>,
    features: Vec<f32>,
}

impl SessionRanker for ServedSession<'_> {
    fn begin_session(&mut self, histories: &[&[Play]]) -> Result<(), RecommendError> {
        let t = self.served.model.config.max_len;
        let windows: Vec<Window> = histories.iter().map(|h| last_plays(h, t)).collect();
        self.hidden = self.served.model.hidden_windows(&windows)?.to_vec2()?;
        Ok(())
    }

    fn score(&mut self, i: usize, view: &QueryView, out: &mut [f32]) {
        served_scores(
            &self.served.scorer,
            &self.hidden[i],
            view.stats,
            view.session,
            view.now_ms,
            self.served.finish_weight,
            &mut self.features,
            out,
        );
    }
}

/// The model's input for a query: the last `t` plays of the history, across sessions.
pub(crate) fn last_plays(history: &[Play], t: usize) -> Window {
    let start = history.len().saturating_sub(t);
    Window::of(&history[start..], start.checked_sub(1).map(|i| &history[i]))
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    use super::*;
    use crate::play::LoggedPlay;
    use crate::recommend::checkpoint::{Checkpoint, CheckpointMeta, FORMAT_VERSION};
    use crate::recommend::data::{item_key_of, Vocab};
    use crate::recommend::features::N_FEATURES;
    use crate::recommend::infer::{Filters, Recommender};
    use crate::recommend::log::ListeningLog;
    use crate::recommend::train::TrainConfig;
    use crate::track::Track;

    /// Records the score rows [`ServedRanks`] gives.
    struct Recording<'a> {
        served: ServedSession<'a>,
        rows: &'a std::sync::Mutex<Vec<Vec<f32>>>,
    }

    impl SessionRanker for Recording<'_> {
        fn begin_session(&mut self, histories: &[&[Play]]) -> Result<(), RecommendError> {
            self.served.begin_session(histories)
        }

        fn score(&mut self, i: usize, view: &QueryView, out: &mut [f32]) {
            self.served.score(i, view, out);
            self.rows.lock().unwrap().push(out.to_vec());
        }
    }

    /// Twelve tracks, four artists, and their vocabulary.
    fn catalogue() -> (Vec<Track>, Vocab) {
        let tracks: Vec<Track> = (1..=12)
            .map(|i| Track {
                id: 100 + i,
                title: format!("song {i}"),
                artist: Some(format!("artist {}", i % 4).into()),
                ..Track::default()
            })
            .collect();
        let mut vocab = Vocab::default();
        for t in &tracks {
            vocab.intern(&item_key_of(t), t);
        }
        (tracks, vocab)
    }

    /// The default model with random weights everywhere, feature weights included, so that
    /// every term counts.
    fn random_model(vocab: &Vocab) -> SeqModel {
        let config = TrainConfig::default();
        let model = SeqModel::new(config.model, vocab, DType::F32, 3, &Device::Cpu).unwrap();
        let weights: Vec<f32> = (0..N_FEATURES).map(|k| (k as f32 * 0.37).sin()).collect();
        let context = (crate::recommend::model::normal(
            &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1),
            &[N_FEATURES, config.model.d],
            0.3,
            &Device::Cpu,
        ))
        .unwrap();
        replaced(&model, vocab, |n, t| match n {
            "feature.weight" => Tensor::new(weights.as_slice(), &Device::Cpu).unwrap(),
            "feature.context" => context.clone(),
            _ => t.clone(),
        })
    }

    /// `model` with each parameter replaced by `with(name, tensor)`.
    fn replaced(model: &SeqModel, vocab: &Vocab, with: impl Fn(&str, &Tensor) -> Tensor) -> SeqModel {
        let tensors = model.named_tensors().map(|(n, t)| (n.to_owned(), with(n, t))).collect();
        SeqModel::from_tensors(model.config, vocab, tensors, &Device::Cpu).unwrap()
    }

    #[test]
    fn a_walk_in_parts_ranks_every_query_as_one_pass_does() {
        let (_, vocab) = catalogue();
        let model = random_model(&vocab);
        // Sessions of 1 to 9 plays, hours apart, some skipped: 40 sessions, the last 30 ranked.
        let sessions: Vec<Session> = (0..40i64)
            .map(|s| Session {
                plays: (0..1 + s % 9)
                    .map(|k| Play {
                        item: ((s * 5 + k * 7) % 12 + 1) as u32,
                        skipped: (s + k) % 3 == 0,
                        ts_ms: 1_700_000_000_000 + s * 7_200_000 + k * 200_000,
                    })
                    .collect(),
            })
            .collect();
        let served = ServedRanks::new(&model, FINISH_WEIGHT).unwrap();
        let popularity: Vec<u32> = (0..12).map(|j| (j * 7) % 5).collect();
        let likes = [(4u32, 1_700_000_000_000i64 + 20 * 7_200_000)];
        // The parts follow the threads: 1 part on one thread, 4 a thread beyond.
        let walk = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                walk_ranks(&sessions, &ItemGroups::of(&vocab), 10..40, &likes, &popularity, &|| {
                    served.session_ranker()
                })
                .unwrap()
            })
        };
        let one_pass = walk(1);
        assert_eq!(one_pass.len(), (10..40).map(|s| s % 9).sum::<usize>());
        for threads in [2, 3, 8] {
            assert_eq!(walk(threads), one_pass, "{threads} threads");
        }
        assert_eq!(balanced_parts(&sessions, 10..40, 7).len(), 7);
    }

    #[test]
    fn a_head_at_zero_gives_the_zero_outputs_of_a_forward_pass_without_one() {
        let (_, vocab) = catalogue();
        let random = random_model(&vocab);
        let plays: Vec<Play> = (0..9i64)
            .map(|k| Play {
                item: (k * 5 % 12 + 1) as u32,
                skipped: k % 4 == 1,
                ts_ms: 1_700_000_000_000 + k * 200_000,
            })
            .collect();
        let windows: Vec<Window> = (1..plays.len()).map(|i| last_plays(&plays[..i], 50)).collect();
        let ids: Vec<u32> = plays.iter().map(|p| p.item).collect();
        let ids = Tensor::from_vec(ids, (1, plays.len()), &Device::Cpu).unwrap();
        let zeros = ids.zeros_like().unwrap();

        let zero_head = replaced(&random, &vocab, |n, t| {
            if n.starts_with("head.") {
                t.zeros_like().unwrap()
            } else {
                t.clone()
            }
        });
        let shortcut: Vec<Vec<f32>> = zero_head.hidden_windows(&windows).unwrap().to_vec2().unwrap();
        assert_eq!(shortcut.len(), windows.len());
        assert!(shortcut.iter().flatten().all(|&h| h == 0.0));
        // The whole forward pass agrees: GELU(0 · x + 0) is 0 whatever the encoder gives.
        let full = zero_head.forward(&ids, &zeros, &zeros, None).unwrap().hidden;
        assert!(full
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .all(|&h| h == 0.0));

        // A head with only a bias is no zero head.
        let bias_only = replaced(&random, &vocab, |n, t| match n {
            "head.bias" => t.ones_like().unwrap(),
            "head.weight" => t.zeros_like().unwrap(),
            _ => t.clone(),
        });
        let hidden: Vec<Vec<f32>> = bias_only.hidden_windows(&windows).unwrap().to_vec2().unwrap();
        assert!(hidden.iter().flatten().all(|&h| h > 0.8), "GELU(1) is about 0.84");
        // And the random model's outputs vary with the window.
        let hidden: Vec<Vec<f32>> = random.hidden_windows(&windows).unwrap().to_vec2().unwrap();
        assert_ne!(hidden[0], hidden[1]);
    }

    #[test]
    fn the_last_position_pass_gives_what_a_full_forward_pass_gives_at_each_windows_end() {
        let (_, vocab) = catalogue();
        let model = random_model(&vocab);
        let plays: Vec<Play> = (0..12i64)
            .map(|k| Play {
                item: (k * 7 % 12 + 1) as u32,
                skipped: k % 3 == 1,
                ts_ms: 1_700_000_000_000 + k * k * 400_000,
            })
            .collect();
        // Windows of every length up to 8 in one batch: the shorter ones are padded after their
        // end, which their last position must not see.
        let windows: Vec<Window> = (1..plays.len()).map(|i| last_plays(&plays[..i], 8)).collect();
        let batched: Vec<Vec<f32>> = model.hidden_windows(&windows).unwrap().to_vec2().unwrap();
        for (w, got) in windows.iter().zip(&batched) {
            let n = w.ids.len();
            let tensor = |v: Vec<u32>| Tensor::from_vec(v, (1, n), &Device::Cpu).unwrap();
            let skips = w.skips.iter().map(|&s| u32::from(s)).collect();
            let full = model
                .forward(&tensor(w.ids.clone()), &tensor(skips), &tensor(w.gaps.clone()), None)
                .unwrap()
                .hidden;
            let want: Vec<f32> = full.get(0).unwrap().get(n - 1).unwrap().to_vec1().unwrap();
            assert!(want.iter().any(|&h| h != 0.0));
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "window of {n}: {a} against {b}");
            }
        }
    }

    /// A session longer than one inference batch (a day of autoplay) is run in parts, each
    /// part's graph let go before the next: the rows are those of each window alone.
    #[test]
    fn a_long_session_runs_in_parts_with_the_rows_of_each_window_alone() {
        let (_, vocab) = catalogue();
        let model = random_model(&vocab);
        let plays: Vec<Play> = (0..300i64)
            .map(|k| Play {
                item: (k * 7 % 12 + 1) as u32,
                skipped: k % 3 == 1,
                ts_ms: 1_700_000_000_000 + k * 200_000,
            })
            .collect();
        let windows: Vec<Window> = (1..plays.len()).map(|i| last_plays(&plays[..i], 50)).collect();
        let rows: Vec<Vec<f32>> = model.hidden_windows(&windows).unwrap().to_vec2().unwrap();
        assert_eq!(rows.len(), windows.len());
        for i in [0, 127, 128, 200, windows.len() - 1] {
            let alone: Vec<Vec<f32>> = model.hidden_windows(&windows[i..=i]).unwrap().to_vec2().unwrap();
            for (a, b) in rows[i].iter().zip(&alone[0]) {
                assert!((a - b).abs() < 1e-5, "window {i}: {a} against {b}");
            }
        }
    }

    #[test]
    fn the_evaluation_scores_exactly_what_autoplay_serves() {
        let (tracks, vocab) = catalogue();
        let config = TrainConfig::default();
        let model = random_model(&vocab);

        // Four sessions a day apart; the query is after the second play of the last one.
        let mut sessions = Vec::new();
        let mut log = ListeningLog::default();
        for t in &tracks {
            log.tracks.insert(std::sync::Arc::new(t.clone()));
        }
        for s in 0..4i64 {
            let len = if s == 3 { 3 } else { 8 };
            let plays: Vec<Play> = (0..len)
                .map(|k| Play {
                    item: ((s * 5 + k * 7) % 12 + 1) as u32,
                    skipped: (s + k) % 3 == 0,
                    ts_ms: 1_700_000_000_000 + s * 86_400_000 + k * 200_000,
                })
                .collect();
            for p in plays.iter().take(if s == 3 { 2 } else { len as usize }) {
                log.plays.push(LoggedPlay {
                    track_id: 100 + i64::from(p.item),
                    session_id: s + 1,
                    skipped: p.skipped,
                    ts_ms: p.ts_ms,
                });
            }
            sessions.push(Session { plays });
        }

        let served = ServedRanks::new(&model, FINISH_WEIGHT).unwrap();
        let rows = std::sync::Mutex::new(Vec::new());
        let recording = || Recording {
            served: served.session_ranker(),
            rows: &rows,
        };
        walk_ranks(&sessions, &ItemGroups::of(&vocab), 3..4, &[], &[0; 12], &recording).unwrap();
        let rows = rows.into_inner().unwrap();
        let eval_row = &rows[1];

        let checkpoint = Checkpoint {
            meta: CheckpointMeta {
                format_version: FORMAT_VERSION,
                vocab,
                config,
                validation: Default::default(),
                best_epoch: 1,
                transformer_kept: true,
                trained_at: String::new(),
                plays_seen: 0,
            },
            model,
        };
        let mut recommender = Recommender::new(checkpoint).unwrap();
        recommender.replay(&log);
        let session: Vec<(i64, bool)> = log.plays[log.plays.len() - 2..]
            .iter()
            .map(|p| (p.track_id, p.skipped))
            .collect();
        let filters = Filters {
            limit: 12,
            exclude_current: false,
            exclude_skipped: false,
            recent: Vec::new(),
            queued: Vec::new(),
            passed_over: Vec::new(),
            turned_down: Vec::new(),
            copies: Vec::new(),
            max_per_artist: 0,
            temperature: 0.0,
            seed: 0,
            now_ms: Some(log.plays[log.plays.len() - 1].ts_ms),
            finish_weight: FINISH_WEIGHT,
            radio: None,
        };
        let candidates: Vec<_> = tracks.iter().cloned().map(std::sync::Arc::new).collect();
        let picks = recommender.rank(&session, &candidates, &filters).unwrap();
        assert_eq!(picks.len(), 12);
        for pick in &picks {
            let item = (pick.track_id - 100) as usize;
            assert!(
                (pick.score - eval_row[item - 1]).abs() < 1e-5,
                "track {item}: autoplay {} vs eval {}",
                pick.score,
                eval_row[item - 1]
            );
        }
        // And so the same order.
        let mut by_eval: Vec<usize> = (0..12).collect();
        by_eval.sort_by(|&a, &b| eval_row[b].total_cmp(&eval_row[a]).then(a.cmp(&b)));
        let by_autoplay: Vec<usize> = picks.iter().map(|p| (p.track_id - 101) as usize).collect();
        assert_eq!(by_autoplay, by_eval);
    }
}
