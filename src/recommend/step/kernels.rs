//! The numeric kernels of the step: matrix products straight to `gemm` over strided views,
//! element-wise helpers, GELU, and the vectorisable exp, row max and sums (which the candle ops
//! of `recommend::fused` use too).

use super::LayerIndex;
use gemm::Parallelism;

/// Resizes `v` to `n` values that the caller overwrites entirely: what it held is left in
/// place, not zeroed (the logits buffer alone is tens of megabytes a step).
pub(super) fn fit_for_overwrite(v: &mut Vec<f32>, n: usize) {
    v.resize(n, 0.0);
}

/// Resizes `v` to `n` zeros.
pub(super) fn fit(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
}

/// Two different parameters' gradient buffers at once.
pub(super) fn two(grads: &mut [Vec<f32>], [a, b]: [usize; 2]) -> [&mut Vec<f32>; 2] {
    // The index lists two different parameters of the model, always.
    grads.get_disjoint_mut([a, b]).expect("two different parameters")
}

/// The q, k and v weights [d, d] side by side as one [d, 3d] matrix, and their biases.
pub(super) fn pack_qkv(w: &mut Vec<f32>, bias: &mut Vec<f32>, p: &[Vec<f32>], li: &LayerIndex, d: usize) {
    fit(w, d * 3 * d);
    fit(bias, 3 * d);
    for part in 0..3 {
        let src = &p[li.qkv_w[part]];
        for (i, row) in w.chunks_mut(3 * d).enumerate() {
            row[part * d..(part + 1) * d].copy_from_slice(&src[i * d..(i + 1) * d]);
        }
        bias[part * d..(part + 1) * d].copy_from_slice(&p[li.qkv_b[part]]);
    }
}

pub(super) fn add_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(a, &b)| *a += b);
}

pub(super) fn mul_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(a, &b)| *a *= b);
}

/// `dst = src`, times the dropout `mask` when there is one (an empty mask: no dropout this step).
pub(super) fn copy_through_mask(dst: &mut Vec<f32>, src: &[f32], mask: &[f32]) {
    dst.clear();
    dst.extend_from_slice(src);
    if !mask.is_empty() {
        mul_into(dst, mask);
    }
}

#[inline(always)]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight lanes so that the sum vectorises (a single accumulator is a serial chain).
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// A matrix view over a slice: element (i, j) is at `i * rs + j * cs`.
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> View<'a> {
    /// Row-major [rows, cols].
    pub(super) fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols)
    }

    /// Row-major [rows, cols] whose rows are `rs` apart.
    pub(super) fn strided(data: &'a [f32], rows: usize, cols: usize, rs: usize) -> Self {
        View {
            data,
            rows,
            cols,
            rs,
            cs: 1,
        }
    }

    pub(super) fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0 || self.cols == 0 || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// Work below which a matrix product runs on one thread.
pub(super) const PARALLEL_FLOPS: usize = 1 << 22;

/// `dst` (row-major, rows `dst_rs` apart) = or += `a` · `b`.
pub(super) fn matmul(dst: &mut [f32], dst_rs: usize, a: View, b: View, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "matmul: inner dimensions differ");
    assert!(a.fits() && b.fits(), "matmul: operand view out of bounds");
    if m == 0 || n == 0 {
        return;
    }
    assert!((m - 1) * dst_rs + n <= dst.len(), "matmul: destination out of bounds");
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_rs).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 && 2 * m * n * k >= PARALLEL_FLOPS && rayon::current_thread_index().is_none() {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the asserts above keep every element gemm touches inside the three slices, and
    // `dst` is borrowed mutably, so it overlaps neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Rows per task of the row-split matrix products: enough that a task's product runs at full
/// speed, few enough that both cores get work.
pub(super) fn rows_per_task(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads()).max(256)
}

pub(super) const SQRT_TWO_OVER_PI: f32 = 0.797_884_6;

/// tanh from the vectorisable exp: 1 - 2 / (e^2x + 1), exact at both ends (e^2x saturates).
#[inline(always)]
pub(super) fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// GELU, tanh approximation (candle's `gelu`).
#[inline(always)]
pub(super) fn gelu(u: f32) -> f32 {
    0.5 * u * (1.0 + tanh(SQRT_TWO_OVER_PI * u * (1.0 + 0.044715 * u * u)))
}

#[inline(always)]
pub(super) fn gelu_grad(u: f32) -> f32 {
    let th = tanh(SQRT_TWO_OVER_PI * u * (1.0 + 0.044715 * u * u));
    0.5 * (1.0 + th) + 0.5 * u * (1.0 - th * th) * SQRT_TWO_OVER_PI * (1.0 + 3.0 * 0.044715 * u * u)
}

/// Elements per task of the element-wise passes.
pub(super) const ELEMENTS_PER_TASK: usize = 1 << 15;

/// exp(x) to about 2 ulp (Cephes' expf), written without branches, libm calls or float-to-int
/// conversions (Rust's saturating `as` blocks vectorisation) so that loops over rows vectorise:
/// libm's scalar `expf` was a tenth of a training step.
#[inline(always)]
pub(in crate::recommend) fn exp(x: f32) -> f32 {
    // Below -87.3 the result would be subnormal; the softmaxes here treat that as 0 anyway.
    let x = x.clamp(-87.3, 88.3);
    // Round x / ln 2 to the nearest integer by adding 1.5 * 2^23: the integer then sits in the
    // low mantissa bits of `shifted`, where integer arithmetic can read it.
    const ROUND: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5e-1;
    let e = p * r * r + r + 1.0;
    let exponent = shifted.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23;
    e * f32::from_bits(exponent)
}

/// The largest value of a row.
///
/// Eight running lanes (here and in the sums below): a single accumulator is a serial chain that
/// the compiler may not reorder, so it would not vectorise.
#[inline(always)]
pub(in crate::recommend) fn row_max(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (m, &v) in lanes.iter_mut().zip(chunk) {
            *m = if v > *m { v } else { *m };
        }
    }
    lanes
        .iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// The sum of a row.
#[inline(always)]
pub(in crate::recommend) fn row_sum(row: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (s, &v) in lanes.iter_mut().zip(chunk) {
            *s += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// log(sum(exp(row))), with the max shifted out.
pub(in crate::recommend) fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row_max(row);
    let chunks = row.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&v| exp(v - max)).sum();
    let mut lanes = [0f32; 8];
    for chunk in chunks {
        for (s, &v) in lanes.iter_mut().zip(chunk) {
            *s += exp(v - max);
        }
    }
    max + (lanes.iter().sum::<f32>() + tail).ln()
}

/// The epsilon of the layer norms (candle-nn's default).
pub(in crate::recommend) const LN_EPS: f32 = 1e-5;

/// Mean and 1/std of one row.
pub(in crate::recommend) fn moments(row: &[f32]) -> (f32, f32) {
    let d = row.len() as f32;
    let mean = row.iter().sum::<f32>() / d;
    let var = row.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / d;
    (mean, 1.0 / (var + LN_EPS).sqrt())
}
