//! Each layer's forward and backward pass over plain buffers: linear, layer norm, causal
//! attention, GELU, and the embedding gather and scatter.

use rayon::prelude::*;

use super::kernels::*;
use super::simd;
use super::ParamIndex;

/// y [N, out] = x [N, inp] · w [inp, out] + bias.
///
/// Split by rows, one single-threaded product per task: at these widths (d = 64) gemm's own
/// threading costs more than it gains.
pub(super) fn linear_forward(y: &mut [f32], x: &[f32], w: &[f32], bias: &[f32], inp: usize, out: usize) {
    let rows = rows_per_task(x.len() / inp);
    y.par_chunks_mut(rows * out)
        .zip(x.par_chunks(rows * inp))
        .for_each(|(y, x)| {
            for row in y.chunks_mut(out) {
                row.copy_from_slice(bias);
            }
            matmul(y, out, View::new(x, x.len() / inp, inp), View::new(w, inp, out), true);
        });
}

/// Gradients of y = x · w + bias: dw += xᵀ dy, db += column sums of dy, dx (=, or += when
/// `accumulate`) dy · wᵀ. Split by rows like [`linear_forward`]; each task sums its own share of
/// dw and db.
#[allow(clippy::too_many_arguments)]
pub(super) fn linear_backward(
    x: &[f32],
    dy: &[f32],
    w: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: &mut [f32],
    inp: usize,
    out: usize,
    accumulate: bool,
) {
    let rows = rows_per_task(x.len() / inp);
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(rows * inp)
        .zip(x.par_chunks(rows * inp).zip(dy.par_chunks(rows * out)))
        .map(|(dx, (x, dy))| {
            let n = x.len() / inp;
            let mut dw = vec![0f32; inp * out];
            matmul(&mut dw, out, View::new(x, n, inp).t(), View::new(dy, n, out), false);
            let mut db = vec![0f32; out];
            for row in dy.chunks(out) {
                add_into(&mut db, row);
            }
            matmul(dx, inp, View::new(dy, n, out), View::new(w, inp, out).t(), accumulate);
            (dw, db)
        })
        .collect();
    for (pw, pb) in &partials {
        add_into(dw, pw);
        add_into(db, pb);
    }
}

/// Layer norm of each row of `x`, keeping the normalised rows and 1/std for the backward pass.
pub(super) fn layer_norm_forward(
    x: &[f32],
    gain: &[f32],
    bias: &[f32],
    y: &mut [f32],
    xhat: &mut [f32],
    rstd: &mut [f32],
    d: usize,
) {
    y.par_chunks_mut(d)
        .zip(xhat.par_chunks_mut(d))
        .zip(x.par_chunks(d).zip(rstd.par_iter_mut()))
        .with_min_len(256)
        .for_each(|((y, xh), (row, rs))| {
            let (mean, r) = moments(row);
            *rs = r;
            for k in 0..d {
                xh[k] = (row[k] - mean) * r;
                y[k] = xh[k] * gain[k] + bias[k];
            }
        });
}

/// Turns `dy` (gradient of the layer norm's output) into the gradient of its input, in place,
/// adding the gain and bias gradients.
pub(super) fn layer_norm_backward(
    dy: &mut [f32],
    xhat: &[f32],
    rstd: &[f32],
    gain: &[f32],
    dgain: &mut [f32],
    dbias: &mut [f32],
    d: usize,
) {
    // Per task: its rows' shares of d(gain) and d(bias), added up after.
    let rows = rows_per_task(rstd.len());
    let shares: Vec<(Vec<f32>, Vec<f32>)> = dy
        .par_chunks(rows * d)
        .zip(xhat.par_chunks(rows * d))
        .map(|(dy, xhat)| {
            let (mut dg, mut db) = (vec![0f32; d], vec![0f32; d]);
            for (g, xh) in dy.chunks(d).zip(xhat.chunks(d)) {
                for k in 0..d {
                    dg[k] += g[k] * xh[k];
                    db[k] += g[k];
                }
            }
            (dg, db)
        })
        .collect();
    for (dg, db) in &shares {
        add_into(dgain, dg);
        add_into(dbias, db);
    }
    dy.par_chunks_mut(d)
        .zip(xhat.par_chunks(d).zip(rstd.par_iter()))
        .with_min_len(256)
        .for_each(|(g, (xh, &r))| {
            let (mut m1, mut m2) = (0f32, 0f32);
            for k in 0..d {
                let gg = g[k] * gain[k];
                m1 += gg;
                m2 += gg * xh[k];
            }
            let (m1, m2) = (m1 / d as f32, m2 / d as f32);
            for k in 0..d {
                g[k] = r * (g[k] * gain[k] - m1 - xh[k] * m2);
            }
        });
}

/// Causal multi-head attention of every batch row: `probs` [B, h, T, T], `att` [N, d].
pub(super) fn attention_forward(qkv: &[f32], probs: &mut [f32], att: &mut [f32], t: usize, d: usize, h: usize) {
    let dh = d / h;
    let scale = 1.0 / (dh as f32).sqrt();
    probs
        .par_chunks_mut(h * t * t)
        .zip(att.par_chunks_mut(t * d))
        .enumerate()
        .for_each(|(r, (probs, att))| {
            let rows = &qkv[r * t * 3 * d..(r + 1) * t * 3 * d];
            for head in 0..h {
                let q = View::strided(&rows[head * dh..], t, dh, 3 * d);
                let k = View::strided(&rows[d + head * dh..], t, dh, 3 * d);
                let v = View::strided(&rows[2 * d + head * dh..], t, dh, 3 * d);
                let p = &mut probs[head * t * t..(head + 1) * t * t];
                matmul(p, t, q, k.t(), false);
                for (i, row) in p.chunks_mut(t).enumerate() {
                    let open = &mut row[..=i];
                    let max = open.iter().copied().fold(f32::NEG_INFINITY, f32::max) * scale;
                    let mut sum = 0f32;
                    for v in open.iter_mut() {
                        *v = exp(*v * scale - max);
                        sum += *v;
                    }
                    open.iter_mut().for_each(|v| *v /= sum);
                    row[i + 1..].fill(0.0);
                }
                matmul(&mut att[head * dh..], d, View::new(p, t, t), v, false);
            }
        });
}

/// Gradients of the attention of [`attention_forward`] with respect to q, k and v, into `dqkv`.
#[allow(clippy::too_many_arguments)]
pub(super) fn attention_backward(
    qkv: &[f32],
    probs: &[f32],
    datt: &[f32],
    dqkv: &mut [f32],
    b: usize,
    t: usize,
    d: usize,
    h: usize,
) {
    let dh = d / h;
    let scale = 1.0 / (dh as f32).sqrt();
    dqkv.par_chunks_mut(t * 3 * d).enumerate().take(b).for_each_init(
        || vec![0f32; t * t],
        |dp, (r, dqkv)| {
            let rows = &qkv[r * t * 3 * d..(r + 1) * t * 3 * d];
            let dout = &datt[r * t * d..(r + 1) * t * d];
            for head in 0..h {
                let q = View::strided(&rows[head * dh..], t, dh, 3 * d);
                let k = View::strided(&rows[d + head * dh..], t, dh, 3 * d);
                let v = View::strided(&rows[2 * d + head * dh..], t, dh, 3 * d);
                let dout = View::strided(&dout[head * dh..], t, dh, d);
                let p = &probs[(r * h + head) * t * t..(r * h + head + 1) * t * t];
                // dV = Pᵀ dO; dP = dO Vᵀ.
                matmul(
                    &mut dqkv[2 * d + head * dh..],
                    3 * d,
                    View::new(p, t, t).t(),
                    dout,
                    false,
                );
                matmul(dp, t, dout, v.t(), false);
                // Softmax backward, scaled: dS = scale * P ⊙ (dP - rowsum(P ⊙ dP)).
                for (i, (ds, pr)) in dp.chunks_mut(t).zip(p.chunks(t)).enumerate() {
                    let inner = dot(&pr[..=i], &ds[..=i]);
                    for j in 0..=i {
                        ds[j] = scale * pr[j] * (ds[j] - inner);
                    }
                    ds[i + 1..].fill(0.0);
                }
                // dQ = dS K; dK = dSᵀ Q.
                matmul(&mut dqkv[head * dh..], 3 * d, View::new(dp, t, t), k, false);
                matmul(&mut dqkv[d + head * dh..], 3 * d, View::new(dp, t, t).t(), q, false);
            }
        },
    );
}

/// `out[i] = gelu(pre[i])`.
pub(super) fn gelu_forward(out: &mut [f32], pre: &[f32]) {
    out.par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(pre.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|(out, pre)| {
            simd::dispatch(
                #[inline(always)]
                || {
                    for (o, &u) in out.iter_mut().zip(pre) {
                        *o = gelu(u);
                    }
                },
            )
        });
}

/// `grad[i] *= gelu'(pre[i])`.
pub(super) fn gelu_backward(grad: &mut [f32], pre: &[f32]) {
    grad.par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(pre.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|(grad, pre)| {
            simd::dispatch(
                #[inline(always)]
                || {
                    for (g, &u) in grad.iter_mut().zip(pre) {
                        *g *= gelu_grad(u);
                    }
                },
            )
        });
}

/// Embedding rows of `ids`: the item's row plus its side features' rows.
pub(super) fn gather_rows(
    rows: &mut Vec<f32>,
    ids: &[u32],
    params: &[Vec<f32>],
    index: &ParamIndex,
    features: &[Vec<u32>; 4],
    d: usize,
) {
    fit_for_overwrite(rows, ids.len() * d);
    let item = &params[index.item];
    rows.par_chunks_mut(d)
        .zip(ids.par_iter())
        .with_min_len(512)
        .for_each(|(row, &id)| {
            let id = id as usize;
            row.copy_from_slice(&item[id * d..(id + 1) * d]);
            if let Some(side) = index.side {
                for (table, feature) in side.iter().zip(features) {
                    let f = feature[id] as usize;
                    add_into(row, &params[*table][f * d..(f + 1) * d]);
                }
            }
        });
}

/// Adds each row's gradient into its item's row and its side features' rows; one task per table.
pub(super) fn scatter_rows(
    drows: &[f32],
    ids: &[u32],
    grads: &mut [Vec<f32>],
    index: &ParamIndex,
    features: &[Vec<u32>; 4],
    d: usize,
) {
    let mut tables: Vec<(usize, Option<&[u32]>)> = vec![(index.item, None)];
    if let Some(side) = index.side {
        tables.extend(side.iter().zip(features).map(|(&t, f)| (t, Some(f.as_slice()))));
    }
    let mut targets: Vec<(&mut Vec<f32>, Option<&[u32]>)> = Vec::new();
    for (i, g) in grads.iter_mut().enumerate() {
        if let Some(&(_, feature)) = tables.iter().find(|(t, _)| *t == i) {
            targets.push((g, feature));
        }
    }
    targets.into_par_iter().for_each(|(grad, feature)| {
        for (row, &id) in drows.chunks(d).zip(ids) {
            let at = match feature {
                Some(f) => f[id as usize] as usize,
                None => id as usize,
            };
            add_into(&mut grad[at * d..(at + 1) * d], row);
        }
    });
}
