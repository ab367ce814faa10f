//! The losses of the step, with their gradients: the default model's full softmax over history
//! features and the Transformer's terms with its not-to-recommend term ([`feature_softmax`]), the
//! next-item softmax over sampled candidates computed row block by row block ([`sampled_softmax`]),
//! and the skip-contrastive InfoNCE term ([`contrastive`]).

use rayon::prelude::*;

use super::kernels::*;
use super::simd;
use crate::recommend::data::QueryAt;
use crate::recommend::features::{Timeline, FINISH_PRIOR, N_FEATURES};

/// Most logits held at once by the sampled softmax (64 MB): a step's whole [R, C] block at the
/// usual shapes, row blocks of it on large catalogues.
pub(super) const SOFTMAX_LOGITS: usize = 1 << 24;

/// Mean cross-entropy of `hidden` [R, d] · `items`ᵀ [C, d] against `targets`; its gradient goes
/// into `dhidden` [R, d] and is added into `ditems` [C, d].
///
/// Row blocks run in parallel, each through the whole pipeline on one thread (logits, softmax
/// gradient, both products) with its own share of `ditems`: one task per core keeps both busy
/// without gemm synchronising inside every product. `logits` holds one buffer per task.
#[allow(clippy::too_many_arguments)]
pub(super) fn sampled_softmax(
    hidden: &[f32],
    items: &[f32],
    targets: &[u32],
    dhidden: &mut [f32],
    ditems: &mut [f32],
    logits: &mut Vec<Vec<f32>>,
    d: usize,
) -> f32 {
    let r = targets.len();
    let c = items.len() / d;
    if r == 0 || c == 0 {
        return 0.0;
    }
    let threads = rayon::current_num_threads();
    let scale = 1.0 / r as f32;
    let block = (SOFTMAX_LOGITS / threads / c).max(64).min(r.div_ceil(threads));
    let blocks: Vec<_> = hidden
        .chunks(block * d)
        .zip(dhidden.chunks_mut(block * d))
        .zip(targets.chunks(block))
        .collect();
    let tasks = threads.min(blocks.len());
    logits.resize_with(tasks, Vec::new);
    let per_task = blocks.len().div_ceil(tasks);
    let mut work: Vec<_> = Vec::with_capacity(tasks);
    let mut blocks = blocks.into_iter();
    for buffer in logits.iter_mut() {
        work.push((buffer, blocks.by_ref().take(per_task).collect::<Vec<_>>()));
    }
    let total = if tasks == 1 {
        let (buffer, blocks) = work.remove(0);
        softmax_blocks(blocks, items, buffer, ditems, scale, d)
    } else {
        let results: Vec<(f64, Vec<f32>)> = work
            .into_par_iter()
            .map(|(buffer, blocks)| {
                let mut share = vec![0f32; c * d];
                let total = softmax_blocks(blocks, items, buffer, &mut share, scale, d);
                (total, share)
            })
            .collect();
        let mut total = 0f64;
        for (t, share) in &results {
            total += t;
            add_into(ditems, share);
        }
        total
    };
    (total * f64::from(scale)) as f32
}

/// One task's row blocks of [`sampled_softmax`]: (hidden rows, their gradient, their targets).
pub(super) type SoftmaxBlock<'a> = ((&'a [f32], &'a mut [f32]), &'a [u32]);

/// Runs `blocks` through logits, softmax gradient and both products, adding the item gradient
/// into `ditems`; returns the blocks' summed loss.
pub(super) fn softmax_blocks(
    blocks: Vec<SoftmaxBlock>,
    items: &[f32],
    buffer: &mut Vec<f32>,
    ditems: &mut [f32],
    scale: f32,
    d: usize,
) -> f64 {
    let c = items.len() / d;
    let mut total = 0f64;
    for ((h, dh), tg) in blocks {
        let rows = tg.len();
        fit_for_overwrite(buffer, rows * c);
        matmul(buffer, c, View::new(h, rows, d), View::new(items, c, d).t(), false);
        total += simd::dispatch(
            #[inline(always)]
            || {
                let mut loss = 0f64;
                for (row, &target) in buffer.chunks_mut(c).zip(tg) {
                    loss += softmax_gradient_row(row, target as usize, scale);
                }
                loss
            },
        );
        matmul(dh, d, View::new(buffer, rows, c), View::new(items, c, d), false);
        matmul(ditems, d, View::new(buffer, rows, c).t(), View::new(h, rows, d), true);
    }
    total
}

/// Turns a row of logits into (softmax - onehot(target)) * scale; returns the row's loss,
/// log-sum-exp minus the target's logit.
#[inline(always)]
pub(super) fn softmax_gradient_row(row: &mut [f32], target: usize, scale: f32) -> f64 {
    let picked = row[target];
    let max = row_max(row);
    for v in row.iter_mut() {
        *v = exp(*v - max);
    }
    let sum = row_sum(row);
    let factor = scale / sum;
    for v in row.iter_mut() {
        *v *= factor;
    }
    row[target] -= scale;
    f64::from(max + sum.ln() - picked)
}

/// What the skip-contrastive term reads.
pub(super) struct ContrastiveInputs<'a> {
    /// [B * T, d]
    pub(super) anchors: &'a [f32],
    pub(super) positives: &'a [f32],
    /// [B * K, d]
    pub(super) negatives: &'a [f32],
    /// [B * T, K + 1]
    pub(super) mask: &'a [f32],
    pub(super) valid: &'a [f32],
    pub(super) b: usize,
    pub(super) t: usize,
    pub(super) k: usize,
    pub(super) d: usize,
    pub(super) tau: f32,
    /// lambda / number of valid positions: the weight of each position's term in the total.
    pub(super) weight: f32,
}

pub(super) const NORM_EPS: f32 = 1e-8;

/// Rows of `x` divided by their norms (`sqrt(|row|² + 1e-8)`, as the graph's `normalize`), and the norms.
pub(super) fn normalize_rows(x: &[f32], out: &mut Vec<f32>, norms: &mut Vec<f32>, d: usize) {
    fit(out, x.len());
    fit(norms, x.len() / d);
    for ((row, o), norm) in x.chunks(d).zip(out.chunks_mut(d)).zip(norms.iter_mut()) {
        *norm = (dot(row, row) + NORM_EPS).sqrt();
        o.iter_mut().zip(row).for_each(|(o, &v)| *o = v / *norm);
    }
}

/// Per-task buffers of the contrastive term.
#[derive(Default)]
pub(super) struct ContrastiveScratch {
    pub(super) an: Vec<f32>,
    pub(super) an_norm: Vec<f32>,
    pub(super) pn: Vec<f32>,
    pub(super) pn_norm: Vec<f32>,
    pub(super) nn: Vec<f32>,
    pub(super) nn_norm: Vec<f32>,
    /// Similarities to the negatives [T, K], turned into their gradients.
    pub(super) sims: Vec<f32>,
    pub(super) dan: Vec<f32>,
    pub(super) dpn: Vec<f32>,
    pub(super) dnn: Vec<f32>,
    /// One position's logits: the positive, then the negatives.
    pub(super) z: Vec<f32>,
}

/// The skip-contrastive InfoNCE term of [`super::model::cl_loss`] (its mean over valid
/// positions); gradients are added into the three gradient slices. Per batch row, the
/// similarities to the row's negatives and their gradients are matrix products.
pub(super) fn contrastive(
    x: &ContrastiveInputs,
    danchors: &mut [f32],
    dpositives: &mut [f32],
    dnegatives: &mut [f32],
) -> f32 {
    let (t, k, d) = (x.t, x.k, x.d);
    let inv_tau = 1.0 / x.tau;
    let sum: f64 = danchors
        .par_chunks_mut(t * d)
        .zip(dpositives.par_chunks_mut(t * d))
        .zip(dnegatives.par_chunks_mut(k * d))
        .enumerate()
        .take(x.b)
        .map_init(ContrastiveScratch::default, |s, (r, ((da, dp), dn))| {
            let valid = &x.valid[r * t..(r + 1) * t];
            if valid.iter().all(|&v| v <= 0.0) {
                return 0.0;
            }
            normalize_rows(&x.anchors[r * t * d..(r + 1) * t * d], &mut s.an, &mut s.an_norm, d);
            normalize_rows(&x.positives[r * t * d..(r + 1) * t * d], &mut s.pn, &mut s.pn_norm, d);
            normalize_rows(&x.negatives[r * k * d..(r + 1) * k * d], &mut s.nn, &mut s.nn_norm, d);
            fit(&mut s.sims, t * k);
            matmul(
                &mut s.sims,
                k,
                View::new(&s.an, t, d),
                View::new(&s.nn, k, d).t(),
                false,
            );
            fit(&mut s.dpn, t * d);
            let mut total = 0f64;
            fit(&mut s.z, k + 1);
            for i in 0..t {
                let sims = &mut s.sims[i * k..(i + 1) * k];
                let at = r * t + i;
                if valid[i] <= 0.0 {
                    sims.fill(0.0);
                    continue;
                }
                let mask = &x.mask[at * (k + 1)..(at + 1) * (k + 1)];
                let (an, pn) = (&s.an[i * d..(i + 1) * d], &s.pn[i * d..(i + 1) * d]);
                let positive = dot(an, pn) * inv_tau;
                s.z[0] = positive + mask[0];
                for j in 0..k {
                    s.z[j + 1] = sims[j] * inv_tau + mask[j + 1];
                }
                let lse = log_sum_exp(&s.z);
                total += f64::from(valid[i] * (lse - positive));
                // d(term)/dz_j = softmax_j - [j = 0]; each similarity is divided by tau. Masked
                // negatives get exactly 0.
                let w = x.weight * valid[i] * inv_tau;
                let g0 = (exp(s.z[0] - lse) - 1.0) * w;
                for j in 0..k {
                    sims[j] = if mask[j + 1] == 0.0 {
                        exp(s.z[j + 1] - lse) * w
                    } else {
                        0.0
                    };
                }
                let dpn = &mut s.dpn[i * d..(i + 1) * d];
                dpn.iter_mut().zip(an).for_each(|(o, &v)| *o = g0 * v);
                // The positive's share of d(anchor); the negatives' share comes from the product below.
                normalize_backward(&mut dp[i * d..(i + 1) * d], pn, dpn, s.pn_norm[i]);
                dpn.iter_mut().zip(pn).for_each(|(o, &v)| *o = g0 * v);
            }
            // dpn now holds each anchor's gradient from its positive; add the negatives' share.
            fit(&mut s.dan, t * d);
            s.dan.copy_from_slice(&s.dpn);
            matmul(&mut s.dan, d, View::new(&s.sims, t, k), View::new(&s.nn, k, d), true);
            fit(&mut s.dnn, k * d);
            matmul(
                &mut s.dnn,
                d,
                View::new(&s.sims, t, k).t(),
                View::new(&s.an, t, d),
                false,
            );
            for i in (0..t).filter(|&i| valid[i] > 0.0) {
                let span = i * d..(i + 1) * d;
                normalize_backward(&mut da[span.clone()], &s.an[span.clone()], &s.dan[span], s.an_norm[i]);
            }
            for j in 0..k {
                let span = j * d..(j + 1) * d;
                normalize_backward(&mut dn[span.clone()], &s.nn[span.clone()], &s.dnn[span], s.nn_norm[j]);
            }
            total
        })
        .sum();
    (sum / x.valid.iter().sum::<f32>().max(1.0) as f64) as f32
}

/// Adds the gradient of x through y = x / |x| into `dx`, given y, dL/dy and |x|.
pub(super) fn normalize_backward(dx: &mut [f32], y: &[f32], dy: &[f32], norm: f32) {
    let inner = dot(y, dy);
    for ((dx, &y), &g) in dx.iter_mut().zip(y).zip(dy) {
        *dx += (g - y * inner) / norm;
    }
}

/// What the history-feature head reads at a batch's queries.
pub(crate) struct FeatureHeadInputs<'a> {
    /// The encoder's head outputs [N, d] and the item table [V, d]; `None` scores with the
    /// features alone (h = 0), for fitting their weights before the Transformer joins in.
    pub(crate) encoder: Option<(&'a [f32], &'a [f32])>,
    pub(crate) queries: &'a [QueryAt],
    pub(crate) timeline: &'a Timeline,
    /// w [K] and U [K, d].
    pub(crate) weights: &'a [f32],
    pub(crate) context: &'a [f32],
    pub(crate) d: usize,
    /// Weight of each finished query's cross-entropy, and of each skipped query's
    /// not-to-recommend term.
    pub(crate) rec_scale: f32,
    pub(crate) ntr_scale: f32,
    /// Weight of the fixed finish-prior column ([`FINISH_PRIOR`]) in the logits.
    pub(crate) finish_prior: f32,
}

/// Gradients of the history-feature head.
pub(crate) struct FeatureHeadGrads<'a> {
    /// [N, d], added into; and [V, d], added into.
    pub(crate) dhidden: &'a mut [f32],
    pub(crate) ditems: &'a mut [f32],
    pub(crate) dweights: &'a mut [f32],
    pub(crate) dcontext: &'a mut [f32],
}

/// Per-task results of [`feature_softmax`].
struct HeadShare {
    rec: f64,
    ntr: f64,
    ditems: Vec<f32>,
    dweights: Vec<f32>,
    dcontext: Vec<f32>,
    /// (flat position, gradient of its head output).
    dhidden: Vec<(u32, Vec<f32>)>,
}

/// The full softmax of `h · e_j + Σ_k (w_k + u_k · h) f_kj` over the catalogue at every query:
/// cross-entropy where the next play was finished, `-log(1 - p)` of the skipped track where it
/// was skipped. Returns the next-item and not-to-recommend losses, each summed and multiplied by
/// its scale (so the second includes `ntr_lambda`).
///
/// Queries run one batch row at a time (their features are rebuilt from the timeline together),
/// rows split among the cores, each with its own share of the item and weight gradients.
pub(crate) fn feature_softmax(x: &FeatureHeadInputs, grads: FeatureHeadGrads) -> (f32, f32) {
    let n = x.timeline.n_items();
    let (d, kf) = (x.d, N_FEATURES);
    // Queries whose plays ascend closely share one replay of the timeline (a batch row's do).
    const GROUP: usize = 64;
    let mut groups: Vec<&[QueryAt]> = Vec::new();
    let mut start = 0;
    for i in 1..=x.queries.len() {
        let split = i == x.queries.len()
            || i - start >= GROUP
            || x.queries[i].play <= x.queries[i - 1].play
            || x.queries[i].play - x.queries[i - 1].play > GROUP as u32;
        if split {
            groups.push(&x.queries[start..i]);
            start = i;
        }
    }
    let threads = rayon::current_num_threads().max(1);
    let per_task = groups.len().div_ceil(threads).max(1);
    let shares: Vec<HeadShare> = groups
        .par_chunks(per_task)
        .map(|tasks| {
            let mut share = HeadShare {
                rec: 0.0,
                ntr: 0.0,
                ditems: if x.encoder.is_some() {
                    vec![0f32; n * d]
                } else {
                    Vec::new()
                },
                dweights: vec![0f32; kf],
                dcontext: vec![0f32; kf * d],
                dhidden: Vec::new(),
            };
            let mut features = Vec::new();
            let mut logits = Vec::new();
            let mut h = Vec::new();
            let mut a = Vec::new();
            let mut dh = Vec::new();
            for group in tasks {
                let p = group.len();
                let plays: Vec<u32> = group.iter().map(|q| q.play).collect();
                fit(&mut h, p * d);
                if let Some((hidden, _)) = x.encoder {
                    for (r, q) in group.iter().enumerate() {
                        let at = q.at as usize;
                        h[r * d..(r + 1) * d].copy_from_slice(&hidden[at * d..(at + 1) * d]);
                    }
                }
                fit(&mut logits, p * n);
                if let Some((_, items)) = x.encoder {
                    matmul(&mut logits, n, View::new(&h, p, d), View::new(items, n, d).t(), false);
                }
                fit_for_overwrite(&mut a, p * kf);
                // Each row's features are used up before the next row's are built.
                // Features past `m` are 0, so the sums over the features stop there.
                x.timeline.for_each(&plays, &mut features, |r, f, m| {
                    let q = &group[r];
                    let row = &mut logits[r * n..(r + 1) * n];
                    let hr = &h[r * d..(r + 1) * d];
                    let (rec, ntr) = simd::dispatch(
                        #[inline(always)]
                        || {
                            for k in 0..kf {
                                let c = x.weights[k] + dot(&x.context[k * d..(k + 1) * d], hr);
                                add_scaled(&mut row[..m], &f[k * n..k * n + m], c);
                            }
                            let prior = &f[FINISH_PRIOR * n..FINISH_PRIOR * n + m];
                            add_scaled(&mut row[..m], prior, x.finish_prior);
                            let target = q.target as usize;
                            let terms = if q.skipped {
                                (0.0, not_to_recommend_row(row, target, x.ntr_scale))
                            } else {
                                (
                                    f64::from(x.rec_scale) * softmax_gradient_row(row, target, x.rec_scale),
                                    0.0,
                                )
                            };
                            // a[r, k] = Σ_j g[r, j] f[r, k, j]
                            for k in 0..kf {
                                a[r * kf + k] = dot(&row[..m], &f[k * n..k * n + m]);
                            }
                            terms
                        },
                    );
                    share.rec += rec;
                    share.ntr += ntr;
                });
                for r in 0..p {
                    for k in 0..kf {
                        share.dweights[k] += a[r * kf + k];
                    }
                }
                if let Some((_, items)) = x.encoder {
                    fit_for_overwrite(&mut dh, p * d);
                    matmul(&mut dh, d, View::new(&logits, p, n), View::new(items, n, d), false);
                    matmul(&mut dh, d, View::new(&a, p, kf), View::new(x.context, kf, d), true);
                    matmul(
                        &mut share.ditems,
                        d,
                        View::new(&logits, p, n).t(),
                        View::new(&h, p, d),
                        true,
                    );
                    matmul(
                        &mut share.dcontext,
                        d,
                        View::new(&a, p, kf).t(),
                        View::new(&h, p, d),
                        true,
                    );
                    for (r, q) in group.iter().enumerate() {
                        share.dhidden.push((q.at, dh[r * d..(r + 1) * d].to_vec()));
                    }
                }
            }
            share
        })
        .collect();
    let (mut rec, mut ntr) = (0f64, 0f64);
    for share in shares {
        rec += share.rec;
        ntr += share.ntr;
        add_into(grads.dweights, &share.dweights);
        if x.encoder.is_some() {
            add_into(grads.ditems, &share.ditems);
            add_into(grads.dcontext, &share.dcontext);
            for (at, g) in share.dhidden {
                let at = at as usize;
                add_into(&mut grads.dhidden[at * d..(at + 1) * d], &g);
            }
        }
    }
    (rec as f32, ntr as f32)
}

/// `row += c * values`.
#[inline(always)]
fn add_scaled(row: &mut [f32], values: &[f32], c: f32) {
    if c != 0.0 {
        for (o, &v) in row.iter_mut().zip(values) {
            *o += c * v;
        }
    }
}

/// Turns a row of logits into the gradient of `scale * -log(1 - softmax(row)[target])`;
/// returns that weighted term. `1 - p` is summed from the other items' shares, which stays
/// accurate when p is close to 1.
#[inline(always)]
pub(super) fn not_to_recommend_row(row: &mut [f32], target: usize, scale: f32) -> f64 {
    let max = row_max(row);
    for v in row.iter_mut() {
        *v = exp(*v - max);
    }
    let sum = row_sum(row);
    let others = (sum - row[target]).max(sum * 1e-7);
    let p_target = row[target] / sum;
    let loss = f64::from(sum.ln() - others.ln());
    // d/dz_j = p_s / (1 - p_s) * ([j = s] - p_j)
    let factor = scale * p_target * sum / others;
    for v in row.iter_mut() {
        *v = -factor * *v / sum;
    }
    row[target] += factor;
    f64::from(scale) * loss
}
