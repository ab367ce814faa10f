//! Fused CPU kernels with hand-written backward passes: [`cross_entropy`] (the next-item softmax
//! loss), [`layer_norm`] and [`causal_softmax`] (attention weights).
//!
//! Built from basic tensor ops, each of these allocates several temporaries of its input's size
//! in the forward pass and as many again in the backward pass (zeros-then-add gradient
//! accumulation, broadcast sums). The sampled softmax's logits are tens of megabytes per step, so
//! those temporaries, not the matrix products, dominated a training step. Each kernel here reads
//! its input once forward and once backward.
//!
//! They run only on contiguous f32 CPU tensors ([`applies`]); the model keeps the plain graph for
//! every other case, which is also the reference the kernels are tested against.

#[cfg(feature = "reference")]
use std::sync::Mutex;

#[cfg(feature = "reference")]
use candle_core::CustomOp2;
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

#[cfg(feature = "reference")]
use super::step::kernels::log_sum_exp;
use super::step::kernels::{exp, moments};

/// Rows per parallel task: below this, splitting costs more than it saves.
const ROWS_PER_TASK: usize = 64;

/// Whether the fused kernels handle `x` (f32 on the CPU).
pub(crate) fn applies(x: &Tensor) -> bool {
    x.dtype() == DType::F32 && matches!(x.device(), Device::Cpu)
}

fn f32_data<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("fused kernels take f32 tensors")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("fused kernels take contiguous tensors"),
    }
}

fn last_dim(shape: &Shape) -> Result<usize> {
    match shape.dims().last() {
        Some(&n) if n > 0 => Ok(n),
        _ => bail!("fused kernels need a non-empty last dimension"),
    }
}

#[cfg(feature = "reference")]
/// Mean cross-entropy of the logits `hidden` [N, d] x `items`ᵀ [d, C] against class `targets` [N].
///
/// The [N, C] logits never become a node of the graph: candle would otherwise allocate a zero
/// gradient of their size and add into it. The forward pass keeps them for the backward pass,
/// which turns them into their gradient and returns only the small [N, d] and [C, d] gradients.
pub(crate) fn cross_entropy(hidden: &Tensor, items: &Tensor, targets: &[u32]) -> Result<Tensor> {
    let (n, d) = hidden.dims2()?;
    let (c, d2) = items.dims2()?;
    if d != d2 || n != targets.len() || targets.iter().any(|&t| t as usize >= c) {
        bail!("cross_entropy: {} targets for [{n}, {d}] x [{c}, {d2}]", targets.len());
    }
    hidden.contiguous()?.apply_op2(
        &items.contiguous()?,
        CrossEntropy {
            targets: targets.to_vec(),
            logits: Mutex::new(None),
        },
    )
}

#[cfg(feature = "reference")]
struct CrossEntropy {
    targets: Vec<u32>,
    /// The forward pass's logits [N, C] and their row log-sum-exps [N], taken by the backward pass.
    logits: Mutex<Option<(Tensor, Tensor)>>,
}

#[cfg(feature = "reference")]
fn logits_of(hidden: &Tensor, items: &Tensor) -> Result<Tensor> {
    hidden.detach().matmul(&items.detach().t()?)
}

#[cfg(feature = "reference")]
impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "fused-cross-entropy"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let device = Device::Cpu;
        let hidden = Tensor::from_slice(f32_data(s1, l1)?, l1.shape(), &device)?;
        let items = Tensor::from_slice(f32_data(s2, l2)?, l2.shape(), &device)?;
        let logits = logits_of(&hidden, &items)?;
        let lse = logits.apply_op1_no_bwd(&RowLogSumExp)?;
        let picked = logits
            .gather(&Tensor::new(self.targets.as_slice(), &device)?.unsqueeze(1)?, 1)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let total: f64 = lse
            .to_vec1::<f32>()?
            .iter()
            .zip(&picked)
            .map(|(l, p)| f64::from(l - p))
            .sum();
        if let Ok(mut slot) = self.logits.lock() {
            *slot = Some((logits, lse));
        }
        let mean = (total / self.targets.len().max(1) as f64) as f32;
        Ok((CpuStorage::F32(vec![mean]), Shape::from(())))
    }

    fn bwd(
        &self,
        hidden: &Tensor,
        items: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let cached = self.logits.lock().ok().and_then(|mut slot| slot.take());
        let (logits, lse) = match cached {
            Some(cached) => cached,
            None => {
                let logits = logits_of(hidden, items)?;
                let lse = logits.apply_op1_no_bwd(&RowLogSumExp)?;
                (logits, lse)
            }
        };
        let scale = grad_res.to_dtype(DType::F32)?.to_scalar::<f32>()? / self.targets.len().max(1) as f32;
        let grad = logits.apply_op2_no_bwd(
            &lse,
            &CrossEntropyGrad {
                targets: &self.targets,
                scale,
            },
        )?;
        drop(logits);
        let grad_hidden = grad.matmul(&items.detach())?;
        let grad_items = grad.t()?.matmul(&hidden.detach())?;
        Ok((Some(grad_hidden), Some(grad_items)))
    }
}

#[cfg(feature = "reference")]
/// log(sum(exp(row))) of every row.
struct RowLogSumExp;

#[cfg(feature = "reference")]
impl CustomOp1 for RowLogSumExp {
    fn name(&self) -> &'static str {
        "fused-row-log-sum-exp"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_data(storage, layout)?;
        let c = last_dim(layout.shape())?;
        let lse: Vec<f32> = x.par_chunks(c).with_min_len(ROWS_PER_TASK).map(log_sum_exp).collect();
        let rows = lse.len();
        Ok((CpuStorage::F32(lse), Shape::from(rows)))
    }
}

#[cfg(feature = "reference")]
/// (softmax(row) - onehot(target)) * scale from the logits and their row log-sum-exps: the
/// gradient of the mean cross-entropy.
struct CrossEntropyGrad<'a> {
    targets: &'a [u32],
    scale: f32,
}

#[cfg(feature = "reference")]
impl CustomOp2 for CrossEntropyGrad<'_> {
    fn name(&self) -> &'static str {
        "fused-cross-entropy-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_data(s1, l1)?;
        let lse = f32_data(s2, l2)?;
        let c = last_dim(l1.shape())?;
        let mut grad = vec![0f32; x.len()];
        grad.par_chunks_mut(c)
            .with_min_len(ROWS_PER_TASK)
            .zip(x.par_chunks(c))
            .zip(lse.par_iter().zip(self.targets.par_iter()))
            .for_each(|((g, row), (&lse, &t))| {
                for (g, &v) in g.iter_mut().zip(row) {
                    *g = exp(v - lse) * self.scale;
                }
                g[t as usize] -= self.scale;
            });
        Ok((CpuStorage::F32(grad), l1.shape().clone()))
    }
}

/// Normalisation over the last dimension with variance epsilon 1e-5, then `gain` and `bias` [d].
pub(crate) fn layer_norm(x: &Tensor, gain: &Tensor, bias: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&gain.contiguous()?, &bias.contiguous()?, LayerNormOp)
}

struct LayerNormOp;

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, gain, bias) = (f32_data(s1, l1)?, f32_data(s2, l2)?, f32_data(s3, l3)?);
        let d = last_dim(l1.shape())?;
        if gain.len() != d || bias.len() != d {
            bail!(
                "layer_norm: gain/bias of {} and {} for rows of {d}",
                gain.len(),
                bias.len()
            );
        }
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(d)
            .with_min_len(ROWS_PER_TASK)
            .zip(x.par_chunks(d))
            .for_each(|(y, row)| {
                let (mean, rstd) = moments(row);
                for (((y, &v), &g), &b) in y.iter_mut().zip(row).zip(gain).zip(bias) {
                    *y = (v - mean) * rstd * g + b;
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gain: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = last_dim(x.shape())?;
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let gs = grad_res.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let gain_v = gain.flatten_all()?.to_vec1::<f32>()?;
        let mut dx = vec![0f32; xs.len()];
        // Per task: the partial sums of d(gain) and d(bias), added up after.
        let (dgain, dbias) = dx
            .par_chunks_mut(d)
            .with_min_len(ROWS_PER_TASK)
            .zip(xs.par_chunks(d).zip(gs.par_chunks(d)))
            .fold(
                || (vec![0f32; d], vec![0f32; d]),
                |(mut dgain, mut dbias), (dx, (row, g))| {
                    let (mean, rstd) = moments(row);
                    let (mut sum_gg, mut sum_gg_xhat) = (0f32, 0f32);
                    for k in 0..d {
                        let xhat = (row[k] - mean) * rstd;
                        let gg = g[k] * gain_v[k];
                        dgain[k] += g[k] * xhat;
                        dbias[k] += g[k];
                        sum_gg += gg;
                        sum_gg_xhat += gg * xhat;
                    }
                    let (m1, m2) = (sum_gg / d as f32, sum_gg_xhat / d as f32);
                    for k in 0..d {
                        let xhat = (row[k] - mean) * rstd;
                        dx[k] = rstd * (g[k] * gain_v[k] - m1 - xhat * m2);
                    }
                    (dgain, dbias)
                },
            )
            .reduce(
                || (vec![0f32; d], vec![0f32; d]),
                |(mut a, mut b), (c, e)| {
                    a.iter_mut().zip(&c).for_each(|(a, c)| *a += c);
                    b.iter_mut().zip(&e).for_each(|(b, e)| *b += e);
                    (a, b)
                },
            );
        let device = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), device)?),
            Some(Tensor::from_vec(dgain, d, device)?),
            Some(Tensor::from_vec(dbias, d, device)?),
        ))
    }
}

/// Attention weights: softmax over the last dimension of `scale * scores` [.., T, T], where key
/// j > query i is left out (weight exactly 0).
pub(crate) fn causal_softmax(scores: &Tensor, scale: f32) -> Result<Tensor> {
    let dims = scores.dims();
    if dims.len() < 2 || dims[dims.len() - 1] != dims[dims.len() - 2] {
        bail!("causal_softmax takes square [.., T, T] scores, got {dims:?}");
    }
    scores.contiguous()?.apply_op1(CausalSoftmax { scale })
}

struct CausalSoftmax {
    scale: f32,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "fused-causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_data(storage, layout)?;
        let t = last_dim(layout.shape())?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(t)
            .with_min_len(ROWS_PER_TASK)
            .zip(x.par_chunks(t))
            .enumerate()
            .for_each(|(r, (y, row))| {
                let open = r % t + 1;
                let max = row[..open].iter().copied().fold(f32::NEG_INFINITY, f32::max) * self.scale;
                let mut sum = 0f32;
                for (y, &v) in y[..open].iter_mut().zip(&row[..open]) {
                    *y = exp(v * self.scale - max);
                    sum += *y;
                }
                y[..open].iter_mut().for_each(|y| *y /= sum);
            });
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let t = last_dim(res.shape())?;
        let ys = res.flatten_all()?.to_vec1::<f32>()?;
        let gs = grad_res.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let mut dx = vec![0f32; ys.len()];
        dx.par_chunks_mut(t)
            .with_min_len(ROWS_PER_TASK)
            .zip(ys.par_chunks(t).zip(gs.par_chunks(t)))
            .enumerate()
            .for_each(|(r, (dx, (y, g)))| {
                let open = r % t + 1;
                let dot: f32 = y[..open].iter().zip(&g[..open]).map(|(y, g)| y * g).sum();
                for k in 0..open {
                    dx[k] = self.scale * y[k] * (g[k] - dot);
                }
            });
        Ok(Some(Tensor::from_vec(dx, res.shape(), res.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_libm() {
        let mut worst = 0f32;
        for i in -87_000..=88_000 {
            let x = i as f32 * 1e-3 + 0.000_37;
            let (got, want) = (exp(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 4.0 * f32::EPSILON, "relative error {worst}");
        assert_eq!(exp(-1e9), exp(-87.3), "clamped below");
    }
}
