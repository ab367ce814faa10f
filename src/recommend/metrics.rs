//! Ranking metrics of the evaluation protocol ([`Metrics`], [`protocol_rank`]).

use serde::{Deserialize, Serialize};

/// Rank (1-based) of `target` among `scores`: 1 + the items placed ahead of it, ties broken by
/// `popularity` (more first), then by index (earlier first appearance first).
pub fn protocol_rank(scores: &[f32], target: usize, popularity: &[u32]) -> usize {
    let s = scores[target];
    let p = popularity[target];
    let mut ahead = 0;
    for (j, (&sj, &pj)) in scores.iter().zip(popularity).enumerate() {
        if sj > s || (sj == s && (pj > p || (pj == p && j < target))) {
            ahead += 1;
        }
    }
    ahead + 1
}

/// The NDCG@10 of one listened query whose target got `rank`.
pub fn ndcg10_gain(rank: usize) -> f64 {
    if rank <= 10 {
        1.0 / ((rank + 1) as f64).log2()
    } else {
        0.0
    }
}

/// Accumulates HR@10, NDCG@10, MRR over listened positions and the reciprocal rank of skipped ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(rename = "hr@10")]
    pub hr10: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg10: f64,
    pub mrr: f64,
    pub skip_mrr: f64,
    pub listened: usize,
    pub skipped: usize,
}

impl Metrics {
    /// Adds the rank of a listened (not skipped) target.
    pub fn add_listen(&mut self, rank: usize) {
        self.listened += 1;
        if rank <= 10 {
            self.hr10 += 1.0;
            self.ndcg10 += ndcg10_gain(rank);
        }
        self.mrr += 1.0 / rank as f64;
    }

    /// Adds the rank the model gave a track that was then skipped.
    pub fn add_skip(&mut self, rank: usize) {
        self.skipped += 1;
        self.skip_mrr += 1.0 / rank as f64;
    }

    /// Sums turned into means.
    pub fn finish(mut self) -> Metrics {
        let n = self.listened.max(1) as f64;
        self.hr10 /= n;
        self.ndcg10 /= n;
        self.mrr /= n;
        self.skip_mrr /= self.skipped.max(1) as f64;
        self
    }
}
