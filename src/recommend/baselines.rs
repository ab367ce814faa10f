//! The non-neural baselines of the evaluation ([`Popularity`], [`SessionKnn`]).

use std::collections::HashMap;

use super::data::Session;

/// Count of non-skipped training plays.
pub(crate) struct Popularity {
    pub counts: Vec<u32>,
}

impl Popularity {
    pub(crate) fn score(&self, out: &mut [f32]) {
        for (o, &c) in out.iter_mut().zip(&self.counts) {
            *o = c as f32;
        }
    }
}

/// Session item-kNN: items are similar when they are finished in the same sessions (cosine of
/// their session sets); a query scores items by their similarity to its last plays, the k-th most
/// recent weighted 1/k.
pub(crate) struct SessionKnn {
    neighbours: Vec<Vec<(u32, f32)>>,
    pub window: usize,
}

impl SessionKnn {
    pub(crate) fn fit(sessions: &[Session], n_items: usize, window: usize) -> Self {
        let mut occurrences = vec![0u32; n_items];
        let mut pairs: Vec<HashMap<u32, u32>> = vec![HashMap::new(); n_items];
        for session in sessions {
            let mut items: Vec<u32> = session.plays.iter().filter(|p| !p.skipped).map(|p| p.item).collect();
            items.sort_unstable();
            items.dedup();
            for &a in &items {
                occurrences[a as usize - 1] += 1;
                for &b in &items {
                    if a != b {
                        *pairs[a as usize - 1].entry(b).or_insert(0) += 1;
                    }
                }
            }
        }
        let neighbours = pairs
            .into_iter()
            .enumerate()
            .map(|(a, row)| {
                let mut row: Vec<(u32, f32)> = row
                    .into_iter()
                    .map(|(b, n)| {
                        let norm = (occurrences[a] as f32 * occurrences[b as usize - 1] as f32).sqrt();
                        (b, n as f32 / norm)
                    })
                    .collect();
                row.sort_unstable_by_key(|&(b, _)| b);
                row
            })
            .collect();
        SessionKnn { neighbours, window }
    }

    /// Scores every item after the session `prefix` (item ids, most recent last).
    pub(crate) fn score(&self, prefix: &[u32], out: &mut [f32]) {
        out.fill(0.0);
        for (k, &a) in prefix.iter().rev().take(self.window).enumerate() {
            let Some(row) = (a as usize).checked_sub(1).and_then(|a| self.neighbours.get(a)) else {
                continue;
            };
            let w = 1.0 / (k + 1) as f32;
            for &(b, s) in row {
                out[b as usize - 1] += w * s;
            }
        }
    }
}
