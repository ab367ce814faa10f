//! Live recommendation ([`Recommender`], [`Track`], [`Filters`], [`Scored`]) and the
//! cold-start ranking used when there is no model yet ([`fallback_rank`]).
//!
//! [`Recommender::rank`] scores every candidate in one batched pass: the sequence model's score
//! for the session so far, blended with the history signals of [`HistoryStats`] using the weights
//! chosen at training time; then the filters, the artist limit and optional sampling.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::config::RecommendConfig;

use super::checkpoint::{Checkpoint, CheckpointMeta};
use super::data::item_key_of;
use super::log::{display_names, ListeningLog};
use super::signals::{blend, log_softmax, HistoryStats, FEATURES};
use super::RecommendError;
use crate::track::Track;

/// What may be recommended, and how many.
#[derive(Debug, Clone, PartialEq)]
pub struct Filters {
    pub limit: usize,
    /// Leave out the session's last track.
    pub exclude_current: bool,
    /// Leave out tracks skipped in this session.
    pub exclude_skipped: bool,
    /// Tracks played lately (e.g. [`ListeningLog::recent`]), left out.
    pub recent: Vec<i64>,
    /// At most this many tracks per artist (0: no limit).
    pub max_per_artist: usize,
    /// 0 ranks by score; above 0 samples with probabilities softmax(score / temperature).
    pub temperature: f32,
    pub seed: u64,
    /// The moment recency is measured from (Unix ms); the wall clock when `None`.
    pub now_ms: Option<i64>,
    /// Weight of the log-probability that a track is finished rather than skipped.
    pub finish_weight: f32,
}

impl Filters {
    /// The configured filters; `recent` is left for the caller to fill.
    pub(crate) fn from_config(config: &RecommendConfig, limit: usize) -> Filters {
        Filters {
            limit,
            exclude_current: true,
            exclude_skipped: true,
            recent: Vec::new(),
            max_per_artist: config.max_per_artist,
            temperature: config.temperature,
            seed: 0,
            now_ms: None,
            finish_weight: config.finish_weight,
        }
    }
}

/// A recommended track, with the signal that put it there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub track_id: i64,
    pub score: f32,
    pub reason: String,
}

/// A loaded model with the listening history it reasons over.
pub struct Recommender {
    checkpoint: Checkpoint,
    stats: HistoryStats,
    /// Library track → model item.
    items: HashMap<i64, u32>,
    names: HashMap<u32, String>,
    /// (listens, skips) per artist, lower-cased.
    artists: HashMap<String, (u32, u32)>,
    /// (listens, skips) per library track, including tracks the model has no item for yet.
    plays: HashMap<i64, (u32, u32)>,
    /// The model's item table (side features summed in, padding row 0), built once: rebuilding
    /// it per ranking costs more than scoring the whole catalogue.
    table: Tensor,
}

impl Recommender {
    /// Loads the model saved in `models_dir`; `Ok(None)` when none has been trained yet.
    pub(crate) fn load(models_dir: &Path) -> Result<Option<Recommender>, RecommendError> {
        Checkpoint::load(models_dir)?.map(Recommender::new).transpose()
    }

    /// Wraps a checkpoint with an empty history; call [`Recommender::replay`] next.
    pub fn new(checkpoint: Checkpoint) -> Result<Recommender, RecommendError> {
        let n = checkpoint.meta.vocab.len();
        let table = checkpoint.model.item_table()?;
        Ok(Recommender {
            checkpoint,
            stats: HistoryStats::new(n),
            items: HashMap::new(),
            names: HashMap::new(),
            artists: HashMap::new(),
            plays: HashMap::new(),
            table,
        })
    }

    pub(crate) fn meta(&self) -> &CheckpointMeta {
        &self.checkpoint.meta
    }

    /// Rebuilds the history signals from the whole log.
    pub fn replay(&mut self, log: &ListeningLog) {
        let vocab = &self.checkpoint.meta.vocab;
        self.stats = HistoryStats::new(vocab.len());
        self.items = log
            .tracks
            .values()
            .filter_map(|t| Some((t.id, vocab.id(&item_key_of(t))?)))
            .collect();
        self.names = display_names(log, vocab);
        self.artists.clear();
        self.plays.clear();
        for session in log.sessions() {
            let mut before: Vec<(i64, bool)> = Vec::new();
            for play in session {
                if let Some(track) = log.tracks.get(&play.track_id) {
                    self.observe(&before, track, play.skipped, play.ts_ms);
                }
                before.push((play.track_id, play.skipped));
            }
        }
        for (j, p) in self.stats.popularity.iter_mut().enumerate() {
            *p = self.stats.listens[j];
        }
    }

    /// Records a finished play live; `session` is the session's plays before it.
    pub(crate) fn observe(&mut self, session: &[(i64, bool)], track: &Track, skipped: bool, ts_ms: i64) {
        let counts = self.plays.entry(track.id).or_default();
        if skipped {
            counts.1 += 1;
        } else {
            counts.0 += 1;
        }
        if let Some(artist) = &track.artist {
            let c = self.artists.entry(artist.to_lowercase()).or_default();
            if skipped {
                c.1 += 1;
            } else {
                c.0 += 1;
            }
        }
        let Some(&item) = self.items.get(&track.id) else {
            return;
        };
        let before = self.session_items(session);
        self.stats.observe(&before, item, skipped, ts_ms);
    }

    fn session_items(&self, session: &[(i64, bool)]) -> Vec<(u32, bool)> {
        session
            .iter()
            .filter_map(|&(t, s)| Some((*self.items.get(&t)?, s)))
            .collect()
    }

    /// Ranks `candidates` for what follows `session` (track id, skipped), best first.
    pub fn rank(
        &self,
        session: &[(i64, bool)],
        candidates: &[Track],
        filters: &Filters,
    ) -> Result<Vec<Scored>, RecommendError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let meta = &self.checkpoint.meta;
        let model = &self.checkpoint.model;
        let vocab = &meta.vocab;
        let mut items = self.items.clone();
        for c in candidates {
            if let Some(id) = vocab.id(&item_key_of(c)) {
                items.entry(c.id).or_insert(id);
            }
        }
        let known: Vec<(u32, bool)> = session
            .iter()
            .filter_map(|&(t, s)| Some((*items.get(&t)?, s)))
            .collect();
        let t = model.config.max_len;
        let window = &known[known.len().saturating_sub(t)..];

        // One pass: every candidate's embedding (its row of the cached table, or its side features
        // when unseen) times the session state.
        let n_c = candidates.len();
        let mut seq = vec![0f32; n_c];
        if !window.is_empty() {
            let ids: Vec<u32> = window.iter().map(|p| p.0).collect();
            let skips: Vec<bool> = window.iter().map(|p| p.1).collect();
            let hidden = model.hidden_after(&ids, &skips)?.unsqueeze(1)?;
            let rows: Vec<u32> = candidates
                .iter()
                .map(|c| items.get(&c.id).copied().unwrap_or(0))
                .collect();
            let embeddings = self
                .table
                .index_select(&Tensor::from_vec(rows, n_c, self.table.device())?, 0)?;
            let mut raw: Vec<f32> = embeddings.matmul(&hidden)?.squeeze(1)?.to_vec1()?;
            for (c, cand) in candidates.iter().enumerate() {
                if !items.contains_key(&cand.id) {
                    let cold = model.cold_embedding(&vocab.features_of(cand))?;
                    raw[c] = cold.unsqueeze(0)?.matmul(&hidden)?.flatten_all()?.to_vec1::<f32>()?[0];
                }
            }
            log_softmax(&raw, &mut seq);
        }

        let n = vocab.len();
        let mut all = vec![0f32; FEATURES.len() * n];
        self.stats
            .features(&known, filters.now_ms.unwrap_or_else(crate::clock::now_ms), &mut all);
        let mut features = vec![0f32; FEATURES.len() * n_c];
        features[..n_c].copy_from_slice(&seq);
        for (c, cand) in candidates.iter().enumerate() {
            if let Some(&id) = items.get(&cand.id) {
                for f in 1..FEATURES.len() {
                    features[f * n_c + c] = all[f * n + id as usize - 1];
                }
            }
        }
        let mut blended = vec![0f32; n_c];
        blend(&features, &meta.blend, &mut blended);
        // The blend says what is likely to come next; autoplay wants what is likely to come next
        // *and be finished*, so the blend becomes log-probabilities over the candidates and the
        // log-probability of finishing each one is added.
        let mut scores = vec![0f32; n_c];
        log_softmax(&blended, &mut scores);
        let rates = FinishRates::new(self.plays.values().copied());
        for (c, cand) in candidates.iter().enumerate() {
            let counts = self.plays.get(&cand.id).copied().unwrap_or_default();
            scores[c] += filters.finish_weight * rates.ln_finish(counts);
        }
        let order = select(&scores, session, candidates, filters);
        Ok(order
            .into_iter()
            .map(|c| {
                let cand = &candidates[c];
                Scored {
                    track_id: cand.id,
                    score: scores[c],
                    reason: self.reason(cand, items.get(&cand.id).copied(), &known, seq[c], &seq),
                }
            })
            .collect())
    }

    /// The strongest real signal behind a recommendation, in words.
    fn reason(&self, cand: &Track, item: Option<u32>, known: &[(u32, bool)], seq: f32, all_seq: &[f32]) -> String {
        let Some(item) = item else {
            return "new to you".into();
        };
        let (follow, from) = self.stats.follow_score(known, item);
        if follow >= 1.0 {
            if let Some(name) = from.and_then(|f| self.names.get(&f)) {
                return format!("often follows {name} in your sessions");
            }
        }
        let j = item as usize - 1;
        if self.stats.listens.get(j).copied().unwrap_or(0) + self.stats.skips.get(j).copied().unwrap_or(0) == 0 {
            return "new to you".into();
        }
        if let Some(&(listens, skips)) = self.plays.get(&cand.id) {
            if listens >= 2 && listens >= 3 * skips {
                return format!("you finished it {listens} of {} times", listens + skips);
            }
        }
        if let Some(artist) = &cand.artist {
            if let Some(&(listens, skips)) = self.artists.get(&artist.to_lowercase()) {
                if listens >= 3 && listens >= 2 * skips {
                    return format!("you finish most of {artist}'s tracks");
                }
            }
        }
        let better = all_seq.iter().filter(|&&s| s > seq).count();
        if better < 10 && !known.is_empty() {
            return "fits how this session is going".into();
        }
        "you have enjoyed it before".into()
    }
}

/// How likely a track is to be finished when it plays, from its listens and skips in the log:
/// the posterior mean under a prior centred on the log's overall finish rate, so that a track
/// never played counts as average, one finished more often than average as better.
struct FinishRates {
    overall: f32,
}

impl FinishRates {
    /// Weight of the prior, in plays.
    const PRIOR_PLAYS: f32 = 2.0;

    fn new(counts: impl Iterator<Item = (u32, u32)>) -> Self {
        let (listens, skips) = counts.fold((0u64, 0u64), |(l, s), (a, b)| (l + u64::from(a), s + u64::from(b)));
        FinishRates {
            overall: (listens as f32 + 1.0) / ((listens + skips) as f32 + 2.0),
        }
    }

    fn ln_finish(&self, (listens, skips): (u32, u32)) -> f32 {
        let p = (listens as f32 + Self::PRIOR_PLAYS * self.overall) / ((listens + skips) as f32 + Self::PRIOR_PLAYS);
        p.ln()
    }
}

/// Applies the filters and picks up to `limit` candidates (indices), best first.
fn select(scores: &[f32], session: &[(i64, bool)], candidates: &[Track], filters: &Filters) -> Vec<usize> {
    let current = session.last().map(|p| p.0);
    let skipped_now: std::collections::HashSet<i64> = session.iter().filter(|p| p.1).map(|p| p.0).collect();
    let eligible_when = |exclude_skipped: bool| -> Vec<(usize, f32)> {
        candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| !(filters.exclude_current && Some(c.id) == current))
            .filter(|(_, c)| !(exclude_skipped && skipped_now.contains(&c.id)))
            .filter(|(_, c)| !filters.recent.contains(&c.id))
            .map(|(i, _)| (i, scores[i]))
            .collect()
    };
    let mut eligible = eligible_when(filters.exclude_skipped);
    if eligible.len() < filters.limit && filters.exclude_skipped {
        // A long session can skip its way through a small library; a track skipped earlier
        // (which the score already holds against it) is then better than silence.
        eligible = eligible_when(false);
    }
    if filters.temperature > 0.0 {
        // Gumbel-max: sorting by score/T + Gumbel noise samples without replacement from softmax(score/T).
        let mut rng = ChaCha8Rng::seed_from_u64(filters.seed);
        for (_, s) in eligible.iter_mut() {
            let u: f32 = rng.random::<f32>().clamp(1e-9, 1.0 - 1e-7);
            *s = *s / filters.temperature - (-u.ln()).ln();
        }
    }
    eligible.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut per_artist: HashMap<String, usize> = HashMap::new();
    let mut chosen = Vec::new();
    for (i, _) in eligible {
        if chosen.len() >= filters.limit {
            break;
        }
        if filters.max_per_artist > 0 {
            if let Some(artist) = &candidates[i].artist {
                let n = per_artist.entry(artist.to_lowercase()).or_insert(0);
                if *n >= filters.max_per_artist {
                    continue;
                }
                *n += 1;
            }
        }
        chosen.push(i);
    }
    chosen
}

/// Ranking without a model: similarity of metadata to the session's recent listens, then how often
/// the track was finished in the log, then a seeded shuffle.
pub fn fallback_rank(
    session: &[(i64, bool)],
    candidates: &[Track],
    log: &ListeningLog,
    filters: &Filters,
) -> Vec<Scored> {
    let counts = log.counts();
    let rates = FinishRates::new(counts.values().copied());
    let recent: Vec<&Track> = session
        .iter()
        .rev()
        .filter(|p| !p.1)
        .take(3)
        .filter_map(|p| log.tracks.get(&p.0))
        .collect();
    let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(filters.seed);
    let mut reasons = Vec::with_capacity(candidates.len());
    let scores: Vec<f32> = candidates
        .iter()
        .map(|c| {
            let mut similarity = 0.0f32;
            let mut reason = None;
            for r in &recent {
                let mut s = 0.0;
                if same(&c.artist, &r.artist) {
                    s += 3.0;
                    reason.get_or_insert_with(|| format!("same artist as {}", r.display_name()));
                }
                if same(&c.album, &r.album) {
                    s += 2.0;
                    reason.get_or_insert_with(|| format!("from the album of {}", r.display_name()));
                }
                if same(&c.genre, &r.genre) {
                    s += 1.0;
                    reason.get_or_insert_with(|| format!("same genre as {}", r.display_name()));
                }
                if let (Some(a), Some(b)) = (c.year, r.year) {
                    if (a - b).abs() <= 5 {
                        s += 0.5;
                    }
                }
                similarity = similarity.max(s);
            }
            let (listens, skips) = counts.get(&c.id).copied().unwrap_or((0, 0));
            let reason = reason.unwrap_or_else(|| match listens {
                0 => "new to you".into(),
                n => format!("you have finished it {n} times"),
            });
            reasons.push(reason);
            // Similarity dominates, then how likely it is to be finished and how often it was;
            // the random part only breaks ties.
            similarity * 1000.0
                + filters.finish_weight * rates.ln_finish((listens, skips))
                + (listens as f32).ln_1p()
                + rng.random::<f32>() * 0.01
        })
        .collect();
    let mut plain = filters.clone();
    plain.temperature = 0.0;
    select(&scores, session, candidates, &plain)
        .into_iter()
        .map(|i| Scored {
            track_id: candidates[i].id,
            score: scores[i],
            reason: reasons[i].clone(),
        })
        .collect()
}
