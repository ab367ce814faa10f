//! The training step as one fused kernel ([`Trainer`]): forward pass, hand-written backward pass,
//! gradient clipping and AdamW over plain `f32` buffers.
//!
//! Candle's graph allocates a tensor per operation and, in the backward pass, a zero gradient per
//! node that is then added into; the broadcast bias adds cost a reduction each. At this model's
//! size (d = 64) that bookkeeping, not arithmetic, was most of a step. Here every activation and
//! gradient lives in a buffer that is reused from step to step, matrix products go straight to
//! `gemm` (accumulating in place where a gradient has several sources), the next-item softmax is
//! computed and differentiated block by block without ever holding all its logits, and AdamW
//! updates the parameters in place.
//!
//! The model is the same as [`SeqModel`]'s graph, which stays the reference: `tests/recommend_fused.rs`
//! checks this step's loss and gradients against it. The trainer holds its own copy of the
//! parameters while training and writes them back with [`Trainer::write_to`].

use std::collections::HashMap;

use gemm::Parallelism;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::data::{HostBatch, Vocab};
use super::fused::{exp, log_sum_exp, moments, row_max, row_sum};
use super::model::{parameter_shapes, sample_candidate_ids, Anchor, DropoutRng, LossConfig, ModelConfig, SeqModel};
use super::RecommendError;

/// AdamW's settings (candle-nn's defaults for the betas and epsilon).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    pub lr: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl AdamWConfig {
    pub fn new(lr: f64, weight_decay: f64) -> Self {
        Self {
            lr,
            weight_decay,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Loss values of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLoss {
    /// L_rec + lambda * L_cl.
    pub total: f32,
    pub rec: f32,
    pub cl: f32,
}

/// Where each parameter sits in [`Trainer::params`].
struct ParamIndex {
    item: usize,
    position: usize,
    /// artist, album, genre, year.
    side: Option<[usize; 4]>,
    skip: Option<usize>,
    layers: Vec<LayerIndex>,
    head_w: usize,
    head_b: usize,
}

struct LayerIndex {
    qkv_w: [usize; 3],
    qkv_b: [usize; 3],
    o_w: usize,
    o_b: usize,
    ln1: [usize; 2],
    ffn1_w: usize,
    ffn1_b: usize,
    ffn2_w: usize,
    ffn2_b: usize,
    ln2: [usize; 2],
}

impl ParamIndex {
    fn new(names: &HashMap<String, usize>, config: &ModelConfig) -> Self {
        // Every name asked for here is produced by `parameter_shapes` for the same config.
        let at = |name: &str| names[name];
        let layers = (0..config.layers)
            .map(|l| {
                let p = |n: &str| at(&format!("block{l}.{n}"));
                LayerIndex {
                    qkv_w: [p("q.weight"), p("k.weight"), p("v.weight")],
                    qkv_b: [p("q.bias"), p("k.bias"), p("v.bias")],
                    o_w: p("o.weight"),
                    o_b: p("o.bias"),
                    ln1: [p("ln1.gain"), p("ln1.bias")],
                    ffn1_w: p("ffn1.weight"),
                    ffn1_b: p("ffn1.bias"),
                    ffn2_w: p("ffn2.weight"),
                    ffn2_b: p("ffn2.bias"),
                    ln2: [p("ln2.gain"), p("ln2.bias")],
                }
            })
            .collect();
        ParamIndex {
            item: at("item.weight"),
            position: at("position.weight"),
            side: config.side_features.then(|| {
                [
                    at("artist.weight"),
                    at("album.weight"),
                    at("genre.weight"),
                    at("year.weight"),
                ]
            }),
            skip: config.skip_embedding.then(|| at("skip.weight")),
            layers,
            head_w: at("head.weight"),
            head_b: at("head.bias"),
        }
    }
}

/// What the backward pass needs from one layer's forward pass.
#[derive(Default)]
struct LayerActs {
    /// Layer input [N, d].
    x: Vec<f32>,
    /// The q, k and v weights side by side [d, 3d] and their biases [3d].
    wqkv: Vec<f32>,
    bqkv: Vec<f32>,
    /// Queries, keys and values side by side [N, 3d].
    qkv: Vec<f32>,
    /// Attention weights [B, h, T, T].
    probs: Vec<f32>,
    /// Attention output before the projection [N, d].
    att: Vec<f32>,
    mask_a: Vec<f32>,
    /// Normalised rows and 1/std of the first and second layer norms.
    xhat1: Vec<f32>,
    rstd1: Vec<f32>,
    /// Output of the first layer norm [N, d].
    x1: Vec<f32>,
    /// ReLU output of the feed-forward's first layer [N, F].
    f1: Vec<f32>,
    mask_f: Vec<f32>,
    xhat2: Vec<f32>,
    rstd2: Vec<f32>,
}

/// Buffers reused from step to step.
#[derive(Default)]
struct Workspace {
    /// Ids of every embedding row the step needs: inputs, positives, negatives, candidates.
    all_ids: Vec<u32>,
    rows: Vec<f32>,
    drows: Vec<f32>,
    mask0: Vec<f32>,
    layers: Vec<LayerActs>,
    /// Input to the head [N, d], the head's pre-activation and its output.
    x_last: Vec<f32>,
    head_pre: Vec<f32>,
    hidden: Vec<f32>,
    dhidden: Vec<f32>,
    /// Gradients of the q, k, v weights side by side [d, 3d] and of their biases [3d].
    dwqkv: Vec<f32>,
    dbqkv: Vec<f32>,
    /// Backward temporaries.
    dx: Vec<f32>,
    dtmp: Vec<f32>,
    dqkv: Vec<f32>,
    datt: Vec<f32>,
    df1: Vec<f32>,
    rec_hidden: Vec<f32>,
    drec_hidden: Vec<f32>,
    /// The sampled softmax's logits, then their gradients, one buffer per task.
    logits: Vec<Vec<f32>>,
}

/// Resizes `v` to `n` values that the caller overwrites entirely: what it held is left in
/// place, not zeroed (the logits buffer alone is tens of megabytes a step).
fn fit_for_overwrite(v: &mut Vec<f32>, n: usize) {
    v.resize(n, 0.0);
}

/// Resizes `v` to `n` zeros.
fn fit(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
}

/// Trains a [`SeqModel`]'s parameters with the fused step.
pub struct Trainer {
    config: ModelConfig,
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    params: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    first_moment: Vec<Vec<f32>>,
    second_moment: Vec<Vec<f32>>,
    steps_taken: i32,
    adamw: AdamWConfig,
    index: ParamIndex,
    /// Per item (padding row included): artist, album, genre and year ids.
    features: [Vec<u32>; 4],
    n_items: usize,
    ws: Workspace,
}

impl Trainer {
    /// A trainer starting from `model`'s weights (which must be f32), with fresh AdamW moments.
    pub fn new(model: &SeqModel, vocab: &Vocab, adamw: AdamWConfig) -> Result<Self, RecommendError> {
        let config = model.config;
        let mut names = Vec::new();
        let mut shapes = Vec::new();
        let mut params = Vec::new();
        for ((name, shape), (model_name, tensor)) in
            parameter_shapes(&config, vocab).into_iter().zip(model.named_tensors())
        {
            if name != model_name || tensor.dims() != shape.as_slice() {
                return Err(candle_core::Error::Msg(format!(
                    "model parameter {model_name} does not match the vocabulary's {name} {shape:?}"
                ))
                .into());
            }
            params.push(
                tensor
                    .flatten_all()?
                    .to_dtype(candle_core::DType::F32)?
                    .to_vec1::<f32>()?,
            );
            names.push(name);
            shapes.push(shape);
        }
        let lookup: HashMap<String, usize> = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let zeros = || params.iter().map(|p| vec![0f32; p.len()]).collect::<Vec<_>>();
        Ok(Trainer {
            index: ParamIndex::new(&lookup, &config),
            grads: zeros(),
            first_moment: zeros(),
            second_moment: zeros(),
            config,
            names,
            shapes,
            params,
            steps_taken: 0,
            adamw,
            features: vocab.feature_columns(),
            n_items: vocab.len(),
            ws: Workspace::default(),
        })
    }

    /// Copies the trained parameters into `model`'s variables.
    pub fn write_to(&self, model: &SeqModel) -> Result<(), RecommendError> {
        for ((var, param), shape) in model.vars().iter().zip(&self.params).zip(&self.shapes) {
            let tensor = candle_core::Tensor::from_slice(param, shape.as_slice(), model.device())?;
            var.set(&tensor.to_dtype(var.dtype())?)?;
        }
        Ok(())
    }

    /// The gradients of the last [`Trainer::loss_and_grads`], by parameter name.
    pub fn gradients(&self) -> impl Iterator<Item = (&str, &[f32])> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.grads.iter().map(Vec::as_slice))
    }

    /// One training step: loss and gradients, clipping to global norm `clip`, then AdamW.
    pub fn step(
        &mut self,
        batch: &HostBatch,
        loss: &LossConfig,
        dropout: Option<&mut DropoutRng>,
        sample_rng: &mut ChaCha8Rng,
        clip: f64,
    ) -> StepLoss {
        let value = self.loss_and_grads(batch, loss, dropout, sample_rng);
        self.clip_gradients(clip);
        self.adamw_step();
        value
    }

    /// Scales all gradients down together when their global norm exceeds `max_norm`.
    pub fn clip_gradients(&mut self, max_norm: f64) {
        let total: f64 = self
            .grads
            .par_iter()
            .map(|g| g.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>())
            .sum();
        let norm = total.sqrt();
        if norm > max_norm && norm.is_finite() {
            let factor = (max_norm / norm) as f32;
            self.grads
                .par_iter_mut()
                .for_each(|g| g.iter_mut().for_each(|v| *v *= factor));
        }
    }

    /// AdamW with decoupled weight decay, in place (the same update as candle-nn's `AdamW`).
    pub fn adamw_step(&mut self) {
        self.steps_taken += 1;
        let c = self.adamw;
        let scale_m = (1.0 / (1.0 - c.beta1.powi(self.steps_taken))) as f32;
        let scale_v = (1.0 / (1.0 - c.beta2.powi(self.steps_taken))) as f32;
        let decay = (1.0 - c.lr * c.weight_decay) as f32;
        let (b1, b2, lr, eps) = (c.beta1 as f32, c.beta2 as f32, c.lr as f32, c.eps as f32);
        const CHUNK: usize = 1 << 14;
        for (((p, g), m), v) in self
            .params
            .iter_mut()
            .zip(&self.grads)
            .zip(&mut self.first_moment)
            .zip(&mut self.second_moment)
        {
            p.par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK)))
                .for_each(|((p, g), (m, v))| {
                    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                        *m = *m * b1 + g * (1.0 - b1);
                        *v = *v * b2 + g * g * (1.0 - b2);
                        let m_hat = *m * scale_m;
                        let v_hat = *v * scale_v;
                        *p = *p * decay - m_hat / (v_hat.sqrt() + eps) * lr;
                    }
                });
        }
    }

    /// Runs the forward and backward pass of `batch`, leaving the gradients in the trainer.
    pub fn loss_and_grads(
        &mut self,
        batch: &HostBatch,
        loss: &LossConfig,
        mut dropout: Option<&mut DropoutRng>,
        sample_rng: &mut ChaCha8Rng,
    ) -> StepLoss {
        let c = self.config;
        let (b, t, k, d) = (batch.b, batch.t, batch.k, c.d);
        let n = b * t;
        let p_drop = if dropout.is_some() { c.dropout } else { 0.0 };
        let cl_count = batch.cl_count();
        let use_cl = loss.cl_lambda > 0.0 && cl_count > 0;
        let rec_count = batch.rec_positions.len();
        // The same candidates, drawn from the same generator, as the graph's loss.
        let candidates = match (rec_count > 0, loss.sampled_negatives) {
            (false, _) => None,
            (true, None) => Some(((1..=self.n_items as u32).collect::<Vec<_>>(), batch.rec_targets.clone())),
            (true, Some(count)) => Some(sample_candidate_ids(
                &batch.rec_targets,
                count,
                self.n_items,
                sample_rng,
            )),
        };
        self.grads.par_iter_mut().for_each(|g| g.fill(0.0));

        let ws = &mut self.ws;
        ws.all_ids.clear();
        ws.all_ids.extend_from_slice(&batch.ids);
        if use_cl {
            ws.all_ids.extend_from_slice(&batch.positives);
            ws.all_ids.extend_from_slice(&batch.negatives);
        }
        let candidate_offset = ws.all_ids.len();
        if let Some((ids, _)) = &candidates {
            ws.all_ids.extend_from_slice(ids);
        }
        let n_rows = ws.all_ids.len();
        gather_rows(&mut ws.rows, &ws.all_ids, &self.params, &self.index, &self.features, d);

        // Encoder input: item rows + positions (+ skip flags), then dropout.
        let pos = &self.params[self.index.position];
        if ws.layers.len() != c.layers {
            ws.layers.resize_with(c.layers, LayerActs::default);
        }
        {
            let x = &mut ws.layers[0].x;
            fit_for_overwrite(x, n * d);
            x.copy_from_slice(&ws.rows[..n * d]);
            for (i, row) in x.chunks_mut(d).enumerate() {
                add_into(row, &pos[(i % t) * d..(i % t + 1) * d]);
                if let Some(s) = self.index.skip {
                    let flag = batch.skips[i] as usize;
                    add_into(row, &self.params[s][flag * d..(flag + 1) * d]);
                }
            }
            if let Some(rng) = dropout.as_deref_mut().filter(|_| p_drop > 0.0) {
                rng.fill_mask(&mut ws.mask0, n * d, p_drop);
                mul_into(x, &ws.mask0);
            }
        }

        if p_drop <= 0.0 {
            self.ws.mask0.clear();
        }
        for l in 0..c.layers {
            // Each layer writes into the next layer's input buffer (or the head's).
            let mut next = match self.ws.layers.get_mut(l + 1) {
                Some(layer) => std::mem::take(&mut layer.x),
                None => std::mem::take(&mut self.ws.x_last),
            };
            self.forward_layer(l, b, t, dropout.as_deref_mut(), p_drop, &mut next);
            match self.ws.layers.get_mut(l + 1) {
                Some(layer) => layer.x = next,
                None => self.ws.x_last = next,
            }
        }
        let ws = &mut self.ws;
        let head_w = &self.params[self.index.head_w];
        let head_b = &self.params[self.index.head_b];
        fit_for_overwrite(&mut ws.head_pre, n * d);
        linear_forward(&mut ws.head_pre, &ws.x_last, head_w, head_b, d, d);
        fit_for_overwrite(&mut ws.hidden, n * d);
        gelu_forward(&mut ws.hidden, &ws.head_pre);

        // Losses and the gradients they send back: into the head output and the item rows.
        fit(&mut ws.dhidden, n * d);
        fit(&mut ws.drows, n_rows * d);
        let mut rec_value = 0.0;
        if let Some((ids, targets)) = &candidates {
            let positions = &batch.rec_positions;
            fit_for_overwrite(&mut ws.rec_hidden, rec_count * d);
            for (r, &p) in positions.iter().enumerate() {
                let p = p as usize;
                ws.rec_hidden[r * d..(r + 1) * d].copy_from_slice(&ws.hidden[p * d..(p + 1) * d]);
            }
            let items = &ws.rows[candidate_offset * d..(candidate_offset + ids.len()) * d];
            fit_for_overwrite(&mut ws.drec_hidden, rec_count * d);
            let ditems = &mut ws.drows[candidate_offset * d..(candidate_offset + ids.len()) * d];
            rec_value = sampled_softmax(
                &ws.rec_hidden,
                items,
                targets,
                &mut ws.drec_hidden,
                ditems,
                &mut ws.logits,
                d,
            );
            for (r, &p) in positions.iter().enumerate() {
                let p = p as usize;
                add_into(&mut ws.dhidden[p * d..(p + 1) * d], &ws.drec_hidden[r * d..(r + 1) * d]);
            }
        }
        let mut cl_value = 0.0;
        if use_cl {
            let (input_rows, rest) = ws.drows.split_at_mut(n * d);
            let (dpositives, rest) = rest.split_at_mut(n * d);
            let dnegatives = &mut rest[..b * k * d];
            let (anchors, danchors) = match loss.anchor {
                Anchor::Hidden => (&ws.hidden[..], &mut ws.dhidden[..]),
                Anchor::Input => (&ws.rows[..n * d], input_rows),
            };
            cl_value = contrastive(
                &ContrastiveInputs {
                    anchors,
                    positives: &ws.rows[n * d..2 * n * d],
                    negatives: &ws.rows[2 * n * d..(2 * n + b * k) * d],
                    mask: &batch.cl_mask,
                    valid: &batch.cl_valid,
                    b,
                    t,
                    k,
                    d,
                    tau: loss.cl_tau,
                    weight: loss.cl_lambda / cl_count as f32,
                },
                danchors,
                dpositives,
                dnegatives,
            );
        }

        // Head backward.
        let ws = &mut self.ws;
        gelu_backward(&mut ws.dhidden, &ws.head_pre);
        {
            let [dw, db] = two(&mut self.grads, [self.index.head_w, self.index.head_b]);
            fit_for_overwrite(&mut ws.dx, n * d);
            linear_backward(&ws.x_last, &ws.dhidden, head_w, dw, db, &mut ws.dx, d, d, false);
        }
        for l in (0..c.layers).rev() {
            self.backward_layer(l, b, t);
        }

        // Encoder input backward: dropout, positions, skip flags, item rows.
        let ws = &mut self.ws;
        if !ws.mask0.is_empty() {
            mul_into(&mut ws.dx, &ws.mask0);
        }
        add_into(&mut ws.drows[..n * d], &ws.dx);
        {
            let dpos = &mut self.grads[self.index.position];
            for (i, row) in ws.dx.chunks(d).enumerate() {
                add_into(&mut dpos[(i % t) * d..(i % t + 1) * d], row);
            }
        }
        if let Some(s) = self.index.skip {
            let dskip = &mut self.grads[s];
            for (i, row) in ws.dx.chunks(d).enumerate() {
                let flag = batch.skips[i] as usize;
                add_into(&mut dskip[flag * d..(flag + 1) * d], row);
            }
        }
        scatter_rows(&ws.drows, &ws.all_ids, &mut self.grads, &self.index, &self.features, d);
        StepLoss {
            total: rec_value + loss.cl_lambda * cl_value,
            rec: rec_value,
            cl: cl_value,
        }
    }

    /// One Transformer block forward into `next`, keeping what the backward pass needs.
    fn forward_layer(
        &mut self,
        l: usize,
        b: usize,
        t: usize,
        dropout: Option<&mut DropoutRng>,
        p_drop: f32,
        next: &mut Vec<f32>,
    ) {
        let c = self.config;
        let (d, h, f) = (c.d, c.heads, c.ffn);
        let n = b * t;
        let li = &self.index.layers[l];
        let ws = &mut self.ws;
        let p = &self.params;
        let acts = &mut ws.layers[l];
        pack_qkv(&mut acts.wqkv, &mut acts.bqkv, p, li, d);
        fit_for_overwrite(&mut acts.qkv, n * 3 * d);
        linear_forward(&mut acts.qkv, &acts.x, &acts.wqkv, &acts.bqkv, d, 3 * d);
        fit_for_overwrite(&mut acts.probs, b * h * t * t);
        fit_for_overwrite(&mut acts.att, n * d);
        attention_forward(&acts.qkv, &mut acts.probs, &mut acts.att, t, d, h);
        let mut out = std::mem::take(&mut ws.dtmp);
        fit_for_overwrite(&mut out, n * d);
        linear_forward(&mut out, &acts.att, &p[li.o_w], &p[li.o_b], d, d);
        let mut dropout = dropout.filter(|_| p_drop > 0.0);
        if dropout.is_none() {
            acts.mask_a.clear();
            acts.mask_f.clear();
        }
        if let Some(rng) = dropout.as_deref_mut() {
            rng.fill_mask(&mut acts.mask_a, n * d, p_drop);
            mul_into(&mut out, &acts.mask_a);
        }
        add_into(&mut out, &acts.x);
        fit_for_overwrite(&mut acts.x1, n * d);
        fit_for_overwrite(&mut acts.xhat1, n * d);
        fit_for_overwrite(&mut acts.rstd1, n);
        layer_norm_forward(
            &out,
            &p[li.ln1[0]],
            &p[li.ln1[1]],
            &mut acts.x1,
            &mut acts.xhat1,
            &mut acts.rstd1,
            d,
        );
        fit_for_overwrite(&mut acts.f1, n * f);
        linear_forward(&mut acts.f1, &acts.x1, &p[li.ffn1_w], &p[li.ffn1_b], d, f);
        acts.f1.iter_mut().for_each(|v| *v = v.max(0.0));
        linear_forward(&mut out, &acts.f1, &p[li.ffn2_w], &p[li.ffn2_b], f, d);
        if let Some(rng) = dropout {
            rng.fill_mask(&mut acts.mask_f, n * d, p_drop);
            mul_into(&mut out, &acts.mask_f);
        }
        add_into(&mut out, &acts.x1);
        fit_for_overwrite(next, n * d);
        fit_for_overwrite(&mut acts.xhat2, n * d);
        fit_for_overwrite(&mut acts.rstd2, n);
        layer_norm_forward(
            &out,
            &p[li.ln2[0]],
            &p[li.ln2[1]],
            next,
            &mut acts.xhat2,
            &mut acts.rstd2,
            d,
        );
        ws.dtmp = out;
    }

    /// One Transformer block backward: `ws.dx` holds the gradient of its output on entry and of
    /// its input on return; parameter gradients are added into `grads`.
    fn backward_layer(&mut self, l: usize, b: usize, t: usize) {
        let c = self.config;
        let (d, h, f) = (c.d, c.heads, c.ffn);
        let n = b * t;
        let li = &self.index.layers[l];
        let ws = &mut self.ws;
        let p = &self.params;
        let acts = &ws.layers[l];

        // Second layer norm: ws.dx becomes the gradient of x1 + ffn.
        {
            let [dgain, dbias] = two(&mut self.grads, li.ln2);
            layer_norm_backward(&mut ws.dx, &acts.xhat2, &acts.rstd2, &p[li.ln2[0]], dgain, dbias, d);
        }
        // Feed-forward: dtmp = d(ffn out) before dropout.
        copy_through_mask(&mut ws.dtmp, &ws.dx, &acts.mask_f);
        fit_for_overwrite(&mut ws.df1, n * f);
        {
            let [dw, db] = two(&mut self.grads, [li.ffn2_w, li.ffn2_b]);
            linear_backward(&acts.f1, &ws.dtmp, &p[li.ffn2_w], dw, db, &mut ws.df1, f, d, false);
        }
        for (g, &v) in ws.df1.iter_mut().zip(&acts.f1) {
            if v <= 0.0 {
                *g = 0.0;
            }
        }
        {
            let [dw, db] = two(&mut self.grads, [li.ffn1_w, li.ffn1_b]);
            linear_backward(&acts.x1, &ws.df1, &p[li.ffn1_w], dw, db, &mut ws.dx, d, f, true);
        }
        // First layer norm: ws.dx becomes the gradient of x + attention.
        {
            let [dgain, dbias] = two(&mut self.grads, li.ln1);
            layer_norm_backward(&mut ws.dx, &acts.xhat1, &acts.rstd1, &p[li.ln1[0]], dgain, dbias, d);
        }
        copy_through_mask(&mut ws.dtmp, &ws.dx, &acts.mask_a);
        fit_for_overwrite(&mut ws.datt, n * d);
        {
            let [dw, db] = two(&mut self.grads, [li.o_w, li.o_b]);
            linear_backward(&acts.att, &ws.dtmp, &p[li.o_w], dw, db, &mut ws.datt, d, d, false);
        }
        fit_for_overwrite(&mut ws.dqkv, n * 3 * d);
        attention_backward(&acts.qkv, &acts.probs, &ws.datt, &mut ws.dqkv, b, t, d, h);
        fit(&mut ws.dwqkv, d * 3 * d);
        fit(&mut ws.dbqkv, 3 * d);
        linear_backward(
            &acts.x,
            &ws.dqkv,
            &acts.wqkv,
            &mut ws.dwqkv,
            &mut ws.dbqkv,
            &mut ws.dx,
            d,
            3 * d,
            true,
        );
        for part in 0..3 {
            let dw = &mut self.grads[li.qkv_w[part]];
            for (i, row) in dw.chunks_mut(d).enumerate() {
                add_into(row, &ws.dwqkv[i * 3 * d + part * d..i * 3 * d + (part + 1) * d]);
            }
            add_into(&mut self.grads[li.qkv_b[part]], &ws.dbqkv[part * d..(part + 1) * d]);
        }
    }
}

/// Two different parameters' gradient buffers at once.
fn two(grads: &mut [Vec<f32>], [a, b]: [usize; 2]) -> [&mut Vec<f32>; 2] {
    // The index lists two different parameters of the model, always.
    grads.get_disjoint_mut([a, b]).expect("two different parameters")
}

/// The q, k and v weights [d, d] side by side as one [d, 3d] matrix, and their biases.
fn pack_qkv(w: &mut Vec<f32>, bias: &mut Vec<f32>, p: &[Vec<f32>], li: &LayerIndex, d: usize) {
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

fn add_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(a, &b)| *a += b);
}

fn mul_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(a, &b)| *a *= b);
}

/// `dst = src`, times the dropout `mask` when there is one (an empty mask: no dropout this step).
fn copy_through_mask(dst: &mut Vec<f32>, src: &[f32], mask: &[f32]) {
    dst.clear();
    dst.extend_from_slice(src);
    if !mask.is_empty() {
        mul_into(dst, mask);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
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
struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> View<'a> {
    /// Row-major [rows, cols].
    fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols)
    }

    /// Row-major [rows, cols] whose rows are `rs` apart.
    fn strided(data: &'a [f32], rows: usize, cols: usize, rs: usize) -> Self {
        View {
            data,
            rows,
            cols,
            rs,
            cs: 1,
        }
    }

    fn t(self) -> Self {
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
const PARALLEL_FLOPS: usize = 1 << 22;

/// `dst` (row-major, rows `dst_rs` apart) = or += `a` · `b`.
fn matmul(dst: &mut [f32], dst_rs: usize, a: View, b: View, accumulate: bool) {
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
fn rows_per_task(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads()).max(256)
}

/// y [N, out] = x [N, inp] · w [inp, out] + bias.
///
/// Split by rows, one single-threaded product per task: at these widths (d = 64) gemm's own
/// threading costs more than it gains.
fn linear_forward(y: &mut [f32], x: &[f32], w: &[f32], bias: &[f32], inp: usize, out: usize) {
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
fn linear_backward(
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
fn layer_norm_forward(
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
fn layer_norm_backward(
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
fn attention_forward(qkv: &[f32], probs: &mut [f32], att: &mut [f32], t: usize, d: usize, h: usize) {
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
fn attention_backward(
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

const SQRT_TWO_OVER_PI: f32 = 0.797_884_6;

/// tanh from the vectorisable exp: 1 - 2 / (e^2x + 1), exact at both ends (e^2x saturates).
#[inline(always)]
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// GELU, tanh approximation (candle's `gelu`).
#[inline(always)]
fn gelu(u: f32) -> f32 {
    0.5 * u * (1.0 + tanh(SQRT_TWO_OVER_PI * u * (1.0 + 0.044715 * u * u)))
}

#[inline(always)]
fn gelu_grad(u: f32) -> f32 {
    let th = tanh(SQRT_TWO_OVER_PI * u * (1.0 + 0.044715 * u * u));
    0.5 * (1.0 + th) + 0.5 * u * (1.0 - th * th) * SQRT_TWO_OVER_PI * (1.0 + 3.0 * 0.044715 * u * u)
}

/// Elements per task of the element-wise passes.
const ELEMENTS_PER_TASK: usize = 1 << 15;

/// `out[i] = gelu(pre[i])`.
fn gelu_forward(out: &mut [f32], pre: &[f32]) {
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
fn gelu_backward(grad: &mut [f32], pre: &[f32]) {
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
fn gather_rows(
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
fn scatter_rows(
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

/// Most logits held at once by the sampled softmax (64 MB): a step's whole [R, C] block at the
/// usual shapes, row blocks of it on large catalogues.
const SOFTMAX_LOGITS: usize = 1 << 24;

/// Mean cross-entropy of `hidden` [R, d] · `items`ᵀ [C, d] against `targets`; its gradient goes
/// into `dhidden` [R, d] and is added into `ditems` [C, d].
///
/// Row blocks run in parallel, each through the whole pipeline on one thread (logits, softmax
/// gradient, both products) with its own share of `ditems`: one task per core keeps both busy
/// without gemm synchronising inside every product. `logits` holds one buffer per task.
#[allow(clippy::too_many_arguments)]
fn sampled_softmax(
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
type SoftmaxBlock<'a> = ((&'a [f32], &'a mut [f32]), &'a [u32]);

/// Runs `blocks` through logits, softmax gradient and both products, adding the item gradient
/// into `ditems`; returns the blocks' summed loss.
fn softmax_blocks(
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
fn softmax_gradient_row(row: &mut [f32], target: usize, scale: f32) -> f64 {
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
struct ContrastiveInputs<'a> {
    /// [B * T, d]
    anchors: &'a [f32],
    positives: &'a [f32],
    /// [B * K, d]
    negatives: &'a [f32],
    /// [B * T, K + 1]
    mask: &'a [f32],
    valid: &'a [f32],
    b: usize,
    t: usize,
    k: usize,
    d: usize,
    tau: f32,
    /// lambda / number of valid positions: the weight of each position's term in the total.
    weight: f32,
}

const NORM_EPS: f32 = 1e-8;

/// Rows of `x` divided by their norms (`sqrt(|row|² + 1e-8)`, as the graph's `normalize`), and the norms.
fn normalize_rows(x: &[f32], out: &mut Vec<f32>, norms: &mut Vec<f32>, d: usize) {
    fit(out, x.len());
    fit(norms, x.len() / d);
    for ((row, o), norm) in x.chunks(d).zip(out.chunks_mut(d)).zip(norms.iter_mut()) {
        *norm = (dot(row, row) + NORM_EPS).sqrt();
        o.iter_mut().zip(row).for_each(|(o, &v)| *o = v / *norm);
    }
}

/// Per-task buffers of the contrastive term.
#[derive(Default)]
struct ContrastiveScratch {
    an: Vec<f32>,
    an_norm: Vec<f32>,
    pn: Vec<f32>,
    pn_norm: Vec<f32>,
    nn: Vec<f32>,
    nn_norm: Vec<f32>,
    /// Similarities to the negatives [T, K], turned into their gradients.
    sims: Vec<f32>,
    dan: Vec<f32>,
    dpn: Vec<f32>,
    dnn: Vec<f32>,
    /// One position's logits: the positive, then the negatives.
    z: Vec<f32>,
}

/// The skip-contrastive InfoNCE term of [`super::model::cl_loss`] (its mean over valid
/// positions); gradients are added into the three gradient slices. Per batch row, the
/// similarities to the row's negatives and their gradients are matrix products.
fn contrastive(x: &ContrastiveInputs, danchors: &mut [f32], dpositives: &mut [f32], dnegatives: &mut [f32]) -> f32 {
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
fn normalize_backward(dx: &mut [f32], y: &[f32], dy: &[f32], norm: f32) {
    let inner = dot(y, dy);
    for ((dx, &y), &g) in dx.iter_mut().zip(y).zip(dy) {
        *dx += (g - y * inner) / norm;
    }
}

/// Runs element-wise kernels compiled for AVX2 and FMA when the CPU has them: the build targets
/// baseline x86-64, whose 4-wide SSE halves the speed of the exp-heavy loops. Only code inlined
/// into the kernel gets the features: kernels use plain `for` loops over `#[inline(always)]`
/// helpers, since adapters like `for_each` or `sum` can stay out-of-line, compiled for SSE.
mod simd {
    /// Calls `kernel`, inlined into a function compiled with AVX2 and FMA if this CPU has both.
    #[inline(always)]
    pub fn dispatch<R>(kernel: impl FnOnce() -> R) -> R {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features `with_avx2` is compiled for.
                return unsafe { with_avx2(kernel) };
            }
        }
        kernel()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn with_avx2<R>(kernel: impl FnOnce() -> R) -> R {
        kernel()
    }
}
