//! Signals from the listening log that need no neural model ([`HistoryStats`], [`SessionState`],
//! [`FEATURES`]): session co-occurrence, how recently and how often a track was finished or
//! skipped, popularity. The `skipless` ranking blends them with the sequence model; the cold-start
//! fallback ranks with them alone.
//!
//! The stats are updated play by play, so at any moment they describe exactly the history before it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// How many earlier plays of a session a play is linked to, with weight 1/distance.
pub(crate) const WINDOW: usize = 5;
const DAY_MS: f64 = 86_400_000.0;
const SHORT_HALF_LIFE_DAYS: f64 = 7.0;
const LONG_HALF_LIFE_DAYS: f64 = 90.0;

/// The blended features, in the order of [`BlendWeights::weights`].
pub const FEATURES: [&str; 8] = [
    "sequence model",
    "follows recent plays",
    "recent listens",
    "long-term listens",
    "recent skips",
    "finished this session",
    "skipped this session",
    "popularity",
];

/// A value that halves every `half_life` days.
#[derive(Debug, Clone, Copy, Default)]
struct Decayed {
    value: f64,
    at_ms: i64,
}

impl Decayed {
    fn at(&self, now_ms: i64, half_life_days: f64) -> f64 {
        let age_days = (now_ms - self.at_ms).max(0) as f64 / DAY_MS;
        self.value * (-age_days / half_life_days * std::f64::consts::LN_2).exp()
    }

    fn bump(&mut self, now_ms: i64, half_life_days: f64) {
        self.value = self.at(now_ms, half_life_days) + 1.0;
        self.at_ms = now_ms.max(self.at_ms);
    }
}

/// Per-item history, indexed by item id - 1.
#[derive(Debug, Clone, Default)]
pub(crate) struct HistoryStats {
    /// follows[a][b]: how often b was finished shortly after a in a session (weighted 1/distance).
    follows: Vec<HashMap<u32, f32>>,
    short_listens: Vec<Decayed>,
    long_listens: Vec<Decayed>,
    short_skips: Vec<Decayed>,
    pub listens: Vec<u32>,
    pub skips: Vec<u32>,
    /// Non-skipped plays per item, frozen popularity used for ranking ties and the popularity feature.
    pub popularity: Vec<u32>,
}

/// Fixed weights of the blended score, one per entry of [`FEATURES`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendWeights {
    pub weights: Vec<f32>,
}

impl Default for BlendWeights {
    fn default() -> Self {
        Self {
            weights: vec![1.0, 1.0, 1.0, 0.5, -0.5, 0.0, -2.0, 0.1],
        }
    }
}

impl HistoryStats {
    pub(crate) fn new(n_items: usize) -> Self {
        let mut stats = HistoryStats::default();
        stats.grow(n_items);
        stats
    }

    /// Makes room for items added to the vocabulary.
    pub(crate) fn grow(&mut self, n_items: usize) {
        self.follows.resize_with(n_items, HashMap::new);
        self.short_listens.resize(n_items, Decayed::default());
        self.long_listens.resize(n_items, Decayed::default());
        self.short_skips.resize(n_items, Decayed::default());
        self.listens.resize(n_items, 0);
        self.skips.resize(n_items, 0);
        self.popularity.resize(n_items, 0);
    }

    pub(crate) fn n_items(&self) -> usize {
        self.listens.len()
    }

    /// Records a play that followed `session` (the earlier plays of its session).
    pub(crate) fn observe(&mut self, session: &[(u32, bool)], item: u32, skipped: bool, ts_ms: i64) {
        let Some(j) = (item as usize).checked_sub(1).filter(|&j| j < self.n_items()) else {
            return;
        };
        if skipped {
            self.skips[j] += 1;
            self.short_skips[j].bump(ts_ms, SHORT_HALF_LIFE_DAYS);
            return;
        }
        self.listens[j] += 1;
        self.short_listens[j].bump(ts_ms, SHORT_HALF_LIFE_DAYS);
        self.long_listens[j].bump(ts_ms, LONG_HALF_LIFE_DAYS);
        for (k, &(earlier, _)) in session.iter().rev().take(WINDOW).enumerate() {
            if let Some(row) = (earlier as usize).checked_sub(1).and_then(|a| self.follows.get_mut(a)) {
                *row.entry(item).or_insert(0.0) += 1.0 / (k + 1) as f32;
            }
        }
    }

    /// How strongly `item` follows the session's last plays; the largest contributor is returned too.
    pub(crate) fn follow_score(&self, session: &[(u32, bool)], item: u32) -> (f32, Option<u32>) {
        let mut total = 0.0;
        let mut best: (f32, Option<u32>) = (0.0, None);
        for (k, &(earlier, _)) in session.iter().rev().take(WINDOW).enumerate() {
            let Some(row) = (earlier as usize).checked_sub(1).and_then(|a| self.follows.get(a)) else {
                continue;
            };
            let s = row.get(&item).copied().unwrap_or(0.0) / (k + 1) as f32;
            total += s;
            if s > best.0 {
                best = (s, Some(earlier));
            }
        }
        (total, best.1)
    }

    /// Fills `out` ([`FEATURES`] × n_items, feature-major) for the moment after `session`, at `now_ms`.
    /// The sequence-model feature (row 0) is left to the caller.
    pub(crate) fn features(&self, session: &[(u32, bool)], now_ms: i64, out: &mut [f32]) {
        let n = self.n_items();
        out[n..].fill(0.0);
        for (k, &(earlier, _)) in session.iter().rev().take(WINDOW).enumerate() {
            let Some(row) = (earlier as usize).checked_sub(1).and_then(|a| self.follows.get(a)) else {
                continue;
            };
            for (&b, &w) in row {
                if let Some(slot) = out.get_mut(n + b as usize - 1) {
                    *slot += w / (k + 1) as f32;
                }
            }
        }
        for j in 0..n {
            out[n + j] = out[n + j].ln_1p();
            out[2 * n + j] = self.short_listens[j].at(now_ms, SHORT_HALF_LIFE_DAYS).ln_1p() as f32;
            out[3 * n + j] = self.long_listens[j].at(now_ms, LONG_HALF_LIFE_DAYS).ln_1p() as f32;
            out[4 * n + j] = self.short_skips[j].at(now_ms, SHORT_HALF_LIFE_DAYS).ln_1p() as f32;
            out[7 * n + j] = (self.popularity[j] as f32).ln_1p();
        }
        for &(item, skipped) in session {
            if let Some(j) = (item as usize).checked_sub(1).filter(|&j| j < n) {
                out[if skipped { 6 } else { 5 } * n + j] = 1.0;
            }
        }
    }
}

/// The blended score of every item: `features` as filled by [`HistoryStats::features`].
pub(crate) fn blend(features: &[f32], weights: &BlendWeights, out: &mut [f32]) {
    let n = out.len();
    out.fill(0.0);
    for (f, &w) in weights.weights.iter().enumerate() {
        if w == 0.0 {
            continue;
        }
        for (o, &x) in out.iter_mut().zip(&features[f * n..(f + 1) * n]) {
            *o += w * x;
        }
    }
}

/// log-softmax of a score row, so that the sequence feature is on a log-probability scale.
pub(crate) fn log_softmax(row: &[f32], out: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max + row.iter().map(|&x| (x - max).exp()).sum::<f32>().ln();
    for (o, &x) in out.iter_mut().zip(row) {
        *o = x - lse;
    }
}
