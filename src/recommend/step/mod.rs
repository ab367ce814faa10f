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
//! Modules: [`kernels`] (matrix products, element-wise helpers and the vectorisable exp, shared
//! with the candle ops of `fused`), [`layer`] (each layer's forward and backward pass), [`loss`]
//! (the history-feature softmax with its not-to-recommend term, the sampled softmax and the
//! skip-contrastive term), [`simd`] (AVX2 dispatch).
//!
//! The model is the same as [`SeqModel`]'s graph, which stays the reference: `tests/it/recommend_fused.rs`
//! checks this step's loss and gradients against it. The trainer holds its own copy of the
//! parameters while training and writes them back with [`Trainer::write_to`].

pub(super) mod kernels;
mod layer;
mod loss;
pub(super) mod simd;

use std::collections::HashMap;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::data::{HostBatch, Vocab};
use super::features::Timeline;
use super::model::{parameter_shapes, sample_candidate_ids, Anchor, DropoutRng, LossConfig, ModelConfig, SeqModel};
use super::RecommendError;
use kernels::*;
use layer::*;
use loss::*;

/// AdamW's settings (candle-nn's defaults for the betas and epsilon).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    pub lr: f64,
    /// The item and side-feature tables' learning rate as a share of `lr`. Under a full softmax
    /// every item receives a gradient at every step, most of them tiny, and Adam scales each to a
    /// full step: over thousands of items that is noise a lower rate keeps small. At 0 the tables
    /// are fixed, yet their gradients are still computed and count in the clipping norm: left out
    /// (tried), the Transformer's stage did worse on validation on both dev histories (NDCG@10,
    /// mean of 3 seeds: .3784 against .3815 and .1141 against .1175). That norm, dominated by
    /// the full softmax's item gradients, clips every step, which makes each step a normalised one.
    pub embedding_lr_scale: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl AdamWConfig {
    pub fn new(lr: f64, weight_decay: f64) -> Self {
        Self {
            lr,
            embedding_lr_scale: 1.0,
            weight_decay,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// The loss and the feature weights' gradient of a history-feature model scored with its
/// features alone (h = 0) at `queries` (sorted by play): the first stage of its training.
pub(crate) fn feature_weights_step(
    queries: &[super::data::QueryAt],
    timeline: &Timeline,
    weights: &[f32],
    loss: &LossConfig,
) -> (f32, Vec<f32>) {
    let listened = queries.iter().filter(|q| !q.skipped).count();
    let skipped = queries.len() - listened;
    let mut dweights = vec![0f32; weights.len()];
    let (rec, ntr) = feature_softmax(
        &FeatureHeadInputs {
            encoder: None,
            queries,
            timeline,
            weights,
            context: &[],
            d: 0,
            rec_scale: 1.0 / listened.max(1) as f32,
            ntr_scale: loss.ntr_lambda / skipped.max(1) as f32,
            finish_prior: loss.finish_prior,
        },
        FeatureHeadGrads {
            dhidden: &mut [],
            ditems: &mut [],
            dweights: &mut dweights,
            dcontext: &mut [],
        },
    );
    (rec + ntr, dweights)
}

/// Loss values of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLoss {
    /// L_rec + cl_lambda * L_cl + ntr_lambda * L_ntr.
    pub total: f32,
    pub rec: f32,
    pub cl: f32,
    /// The not-to-recommend term (history-feature models only).
    pub ntr: f32,
}

/// Where each parameter sits in [`Trainer::params`].
pub(super) struct ParamIndex {
    item: usize,
    position: usize,
    /// artist, album, genre, year.
    side: Option<[usize; 4]>,
    skip: Option<usize>,
    gap: Option<usize>,
    /// The history features' weights and context map.
    feature: Option<[usize; 2]>,
    layers: Vec<LayerIndex>,
    head_w: usize,
    head_b: usize,
}

pub(super) struct LayerIndex {
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
            gap: config.gap_embedding.then(|| at("gap.weight")),
            feature: config
                .history_features
                .then(|| [at("feature.weight"), at("feature.context")]),
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

/// Trains a [`SeqModel`]'s parameters with the fused step.
pub struct Trainer {
    config: ModelConfig,
    #[cfg(feature = "reference")]
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
    /// Where a history-feature model reads its features.
    timeline: Option<Arc<Timeline>>,
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
            #[cfg(feature = "reference")]
            names,
            shapes,
            params,
            steps_taken: 0,
            adamw,
            features: vocab.feature_columns(),
            n_items: vocab.len(),
            timeline: None,
            ws: Workspace::default(),
        })
    }

    /// Gives a history-feature model the timeline of its training plays, whose features its
    /// batches' queries name.
    pub fn with_timeline(mut self, timeline: Arc<Timeline>) -> Self {
        self.timeline = Some(timeline);
        self
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
    #[cfg(feature = "reference")]
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
        let (b1, b2, eps) = (c.beta1 as f32, c.beta2 as f32, c.eps as f32);
        const CHUNK: usize = 1 << 14;
        let mut tables = vec![self.index.item];
        tables.extend(self.index.side.iter().flatten());
        for (i, (((p, g), m), v)) in self
            .params
            .iter_mut()
            .zip(&self.grads)
            .zip(&mut self.first_moment)
            .zip(&mut self.second_moment)
            .enumerate()
        {
            let lr = if tables.contains(&i) {
                c.lr * c.embedding_lr_scale
            } else {
                c.lr
            };
            let decay = (1.0 - lr * c.weight_decay) as f32;
            let lr = lr as f32;
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
        let history = self.index.feature.zip(self.timeline.clone());
        let candidates = match (rec_count > 0, loss.sampled_negatives) {
            _ if history.is_some() => {
                (!batch.queries.is_empty()).then(|| ((1..=self.n_items as u32).collect::<Vec<_>>(), Vec::new()))
            }
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
                if let Some(g) = self.index.gap {
                    let bucket = batch.gaps[i] as usize;
                    add_into(row, &self.params[g][bucket * d..(bucket + 1) * d]);
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
        let mut ntr_value = 0.0;
        if let (Some((ids, _)), Some((feature, timeline))) = (&candidates, &history) {
            let listened = batch.queries.iter().filter(|q| !q.skipped).count();
            let skipped = batch.queries.len() - listened;
            let [dweights, dcontext] = two(&mut self.grads, *feature);
            let (rec, ntr) = feature_softmax(
                &FeatureHeadInputs {
                    encoder: Some((
                        &ws.hidden,
                        &ws.rows[candidate_offset * d..(candidate_offset + ids.len()) * d],
                    )),
                    queries: &batch.queries,
                    timeline,
                    weights: &self.params[feature[0]],
                    context: &self.params[feature[1]],
                    d,
                    rec_scale: 1.0 / listened.max(1) as f32,
                    ntr_scale: loss.ntr_lambda / skipped.max(1) as f32,
                    finish_prior: loss.finish_prior,
                },
                FeatureHeadGrads {
                    dhidden: &mut ws.dhidden,
                    ditems: &mut ws.drows[candidate_offset * d..(candidate_offset + ids.len()) * d],
                    dweights,
                    dcontext,
                },
            );
            rec_value = rec;
            ntr_value = if loss.ntr_lambda > 0.0 {
                ntr / loss.ntr_lambda
            } else {
                0.0
            };
        } else if let Some((ids, targets)) = &candidates {
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
        if let Some(g) = self.index.gap {
            let dgap = &mut self.grads[g];
            for (i, row) in ws.dx.chunks(d).enumerate() {
                let bucket = batch.gaps[i] as usize;
                add_into(&mut dgap[bucket * d..(bucket + 1) * d], row);
            }
        }
        scatter_rows(&ws.drows, &ws.all_ids, &mut self.grads, &self.index, &self.features, d);
        StepLoss {
            total: rec_value + loss.cl_lambda * cl_value + loss.ntr_lambda * ntr_value,
            rec: rec_value,
            cl: cl_value,
            ntr: ntr_value,
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
