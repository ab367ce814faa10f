//! The sequence model ([`SeqModel`], [`ModelConfig`]), its training objective ([`LossConfig`])
//! and its scoring of every track ([`Scorer`]).
//!
//! A SASRec-style causal Transformer (post-LayerNorm, ReLU FFN) over item embeddings that are
//! the sum of an id embedding and side-feature embeddings (artist, album, genre, year bucket).
//! The head (Linear + GELU) is scored against the same item table (tied weights).
//!
//! Training runs in the fused step of [`super::step`]. The candle graph here is its forward pass
//! for validation, evaluation and autoplay, and, with the `reference` feature, the loss
//! (`SeqModel::loss`, `rec_loss`, `cl_loss`) that the step's gradients are checked against in
//! f64. On f32 CPU tensors, layer norm and the attention softmax run as the fused kernels of
//! [`super::fused`]; elsewhere they are built from basic tensor ops.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var, D};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "reference")]
use super::data::Batch;
use super::data::{Vocab, Window, GAP_BUCKETS, MASKED};
use super::features::N_FEATURES;
use super::fused;

/// Shape and input options of the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub d: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    /// Longest input window T.
    pub max_len: usize,
    pub dropout: f32,
    /// Adds a learned "was skipped" embedding to input positions.
    pub skip_embedding: bool,
    /// Adds a learned embedding of the time gap before each input position (see
    /// [`super::data::gap_bucket`]), so that the model tells a new session from a continuing one.
    pub gap_embedding: bool,
    /// Sums artist/album/genre/year embeddings into item embeddings.
    pub side_features: bool,
    /// Scores `Σ_k (w_k + u_k · h) f_k + h · e` over the history features `f` of
    /// [`super::features`] instead of `h · e` alone.
    pub history_features: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            d: 64,
            layers: 2,
            heads: 2,
            ffn: 64,
            max_len: 50,
            dropout: 0.2,
            skip_embedding: true,
            gap_embedding: true,
            side_features: true,
            history_features: true,
        }
    }
}

impl ModelConfig {
    /// SASRec as the paper has it: item ids (and side features) only, no skip or gap inputs and
    /// no history features.
    pub fn sasrec() -> Self {
        ModelConfig {
            skip_embedding: false,
            gap_embedding: false,
            history_features: false,
            ..ModelConfig::default()
        }
    }

    /// Why a model of this shape cannot run, if it cannot: the sizes a saved model's metadata
    /// carries, which its tensors' shapes do not all pin down.
    pub(crate) fn invalid(&self) -> Option<String> {
        if self.d == 0 || self.heads == 0 || !self.d.is_multiple_of(self.heads) {
            Some(format!(
                "width {} does not split into {} attention heads",
                self.d, self.heads
            ))
        } else if self.max_len == 0 {
            Some("an input window of 0 plays".into())
        } else {
            None
        }
    }
}

/// Which vector anchors the contrastive term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anchor {
    /// The head output x_t (the paper's choice).
    Hidden,
    /// The input embedding of the track at t.
    Input,
}

/// The training objective: L_rec + lambda * L_cl.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossConfig {
    /// 0 turns the contrastive term off (plain SASRec).
    pub cl_lambda: f32,
    pub cl_tau: f32,
    pub anchor: Anchor,
    /// Sampled softmax with this many random negatives (the paper's SASRec); `None`: full softmax
    /// over the catalogue, which the default model uses at every catalogue size (see the README).
    pub sampled_negatives: Option<usize>,
    /// Also train to predict next tracks that were skipped.
    pub rec_on_skipped: bool,
    /// Weight of the not-to-recommend term: at a position whose next play was skipped,
    /// `-log(1 - p(skipped track))` under the ranking's own softmax. 0 turns it off.
    pub ntr_lambda: f32,
    /// With history features: the weight of the finish prior in the training logits. The served
    /// score adds the finish term with weight [`super::rank::FINISH_WEIGHT`]; training under the
    /// same prior makes the model learn the rest of the ranking around it, not twice over.
    pub finish_prior: f32,
}

impl LossConfig {
    /// The paper's SASRec + contrastive loss (`cl_lambda` 0: plain SASRec).
    pub fn sasrec(cl_lambda: f32) -> Self {
        LossConfig {
            cl_lambda,
            ntr_lambda: 0.0,
            finish_prior: 0.0,
            ..LossConfig::default()
        }
    }
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            cl_lambda: 0.0,
            cl_tau: 0.1,
            anchor: Anchor::Hidden,
            sampled_negatives: None,
            rec_on_skipped: false,
            ntr_lambda: 0.5,
            finish_prior: super::rank::FINISH_WEIGHT,
        }
    }
}

/// Windows run through the model at once outside training (see [`SeqModel::hidden_windows`]).
const INFERENCE_BATCH: usize = 128;

/// The model's parameters, by name, in a fixed order.
pub struct SeqModel {
    pub config: ModelConfig,
    names: Vec<String>,
    vars: Vec<Var>,
    index: HashMap<String, usize>,
    /// Per item (padding row included): artist, album, genre and year ids.
    features: [Tensor; 4],
    n_items: usize,
    device: Device,
}

/// Which keys each query of an attention layer sees.
#[derive(Clone, Copy)]
enum Visible<'a> {
    /// The queries are the keys; each sees itself and those before it ([T, T] additive mask).
    Causal(&'a Tensor),
    /// An additive mask broadcast to [B, heads, Tq, T].
    Masked(&'a Tensor),
}

/// The outputs of one forward pass.
pub struct Forward {
    /// Head outputs x_t, [B, T, d].
    pub hidden: Tensor,
    /// Input item embeddings (before positions), [B, T, d].
    pub inputs: Tensor,
}

/// Draws dropout masks from a seeded generator so that training is reproducible.
pub struct DropoutRng(ChaCha8Rng);

impl DropoutRng {
    pub fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    fn apply(&mut self, x: &Tensor, p: f32) -> candle_core::Result<Tensor> {
        if p <= 0.0 {
            return Ok(x.clone());
        }
        let mut mask = Vec::new();
        self.fill_mask(&mut mask, x.elem_count(), p);
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x.mul(&mask)
    }

    /// The next `n` mask values for dropout rate `p`: 0 or 1 / (1 - p). The graph and the fused
    /// step draw their masks here in the same order, so both see the same masks.
    pub(super) fn fill_mask(&mut self, mask: &mut Vec<f32>, n: usize, p: f32) {
        const CHUNK: usize = 1 << 14;
        let keep = 1.0 / (1.0 - p);
        // A value is dropped when its random word falls below p * 2^32. Each chunk of the mask
        // has its own ChaCha stream under one key drawn from this generator, so chunks fill in
        // parallel and the masks do not depend on the number of threads.
        let threshold = (f64::from(p) * 4_294_967_296.0) as u64;
        let key: u64 = self.0.random();
        mask.clear();
        mask.resize(n, 0.0);
        mask.par_chunks_mut(CHUNK).enumerate().for_each(|(i, chunk)| {
            let mut stream = ChaCha8Rng::seed_from_u64(key);
            stream.set_stream(i as u64);
            let mut words = [0u32; 1024];
            for part in chunk.chunks_mut(1024) {
                let words = &mut words[..part.len()];
                stream.fill(words);
                for (m, &w) in part.iter_mut().zip(words.iter()) {
                    *m = if u64::from(w) < threshold { 0.0 } else { keep };
                }
            }
        });
    }
}

impl SeqModel {
    /// A freshly initialised model for `vocab` (normal(0, 0.02) weights, unit LayerNorm gains).
    pub fn new(
        config: ModelConfig,
        vocab: &Vocab,
        dtype: DType,
        seed: u64,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut model = SeqModel::empty(config, vocab, device)?;
        for (name, shape) in parameter_shapes(&config, vocab) {
            let init = if name.ends_with(".gain") {
                Tensor::ones(shape.as_slice(), dtype, device)?
            } else if name.ends_with(".bias") || name.starts_with("feature.") {
                Tensor::zeros(shape.as_slice(), dtype, device)?
            } else {
                normal(&mut rng, &shape, 0.02, device)?.to_dtype(dtype)?
            };
            model.push(name, Var::from_tensor(&init)?);
        }
        Ok(model)
    }

    /// A model with the given parameter tensors (checkpoint loading); every expected name must be
    /// present with its shape, and the sizes no shape pins down (heads, window, feature ids) must
    /// be ones the model can run with.
    pub fn from_tensors(
        config: ModelConfig,
        vocab: &Vocab,
        mut tensors: HashMap<String, Tensor>,
        device: &Device,
    ) -> Result<Self, String> {
        if let Some(reason) = config.invalid().or_else(|| vocab.feature_out_of_range()) {
            return Err(format!("metadata is inconsistent: {reason}"));
        }
        let mut model = SeqModel::empty(config, vocab, device).map_err(|e| e.to_string())?;
        for (name, shape) in parameter_shapes(&config, vocab) {
            let tensor = tensors.remove(&name).ok_or_else(|| format!("missing tensor {name}"))?;
            if tensor.dims() != shape.as_slice() {
                return Err(format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    tensor.dims()
                ));
            }
            model.push(name, Var::from_tensor(&tensor).map_err(|e| e.to_string())?);
        }
        Ok(model)
    }

    fn empty(config: ModelConfig, vocab: &Vocab, device: &Device) -> candle_core::Result<Self> {
        let [artist, album, genre, year] = vocab.feature_columns();
        let column = |ids: Vec<u32>| Tensor::from_vec(ids, vocab.len() + 1, device);
        Ok(SeqModel {
            config,
            names: Vec::new(),
            vars: Vec::new(),
            index: HashMap::new(),
            features: [column(artist)?, column(album)?, column(genre)?, column(year)?],
            n_items: vocab.len(),
            device: device.clone(),
        })
    }

    fn push(&mut self, name: String, var: Var) {
        self.index.insert(name.clone(), self.vars.len());
        self.names.push(name);
        self.vars.push(var);
    }

    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    pub fn named_tensors(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.vars.iter().map(|v| v.as_tensor()))
    }

    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    fn p(&self, name: &str) -> &Tensor {
        // Names come from `parameter_shapes`, which every constructor goes through.
        self.vars[self.index[name]].as_tensor()
    }

    /// Copies the weights of `old` (trained on `old_vocab`) into this model built for `new_vocab`.
    ///
    /// Rows are matched by name: known items and features keep their vectors; new item rows start
    /// at zero so that a new track's embedding is its side features; new feature rows keep their
    /// fresh initialisation. Tensors whose shape changed for another reason are left fresh.
    pub fn warm_start(&mut self, old: &SeqModel, old_vocab: &Vocab, new_vocab: &Vocab) -> candle_core::Result<()> {
        let old_names = |names: &[String]| -> HashMap<String, u32> {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i as u32 + 1))
                .collect()
        };
        let item_map: Vec<Option<u32>> = std::iter::once(Some(0))
            .chain(new_vocab.items.iter().map(|m| old_vocab.id(&m.key)))
            .collect();
        let feature_map = |old_list: &[String], new_list: &[String]| -> Vec<Option<u32>> {
            let old = old_names(old_list);
            std::iter::once(Some(0))
                .chain(new_list.iter().map(|n| old.get(n).copied()))
                .collect()
        };
        for (name, var) in self.names.iter().zip(&self.vars) {
            let Some(&j) = old.index.get(name) else { continue };
            let previous = old.vars[j].as_tensor();
            let map = match name.as_str() {
                "item.weight" => Some((item_map.clone(), true)),
                "artist.weight" => Some((feature_map(&old_vocab.artists, &new_vocab.artists), false)),
                "album.weight" => Some((feature_map(&old_vocab.albums, &new_vocab.albums), false)),
                "genre.weight" => Some((feature_map(&old_vocab.genres, &new_vocab.genres), false)),
                _ => None,
            };
            match map {
                None if previous.dims() == var.dims() => var.set(previous)?,
                None => {}
                Some(_) if previous.dim(1)? != var.dim(1)? => {}
                Some((map, zero_new)) => {
                    let device = &self.device;
                    let rows: Vec<u32> = map.iter().map(|m| m.unwrap_or(0)).collect();
                    let known: Vec<f32> = map.iter().map(|m| f32::from(u8::from(m.is_some()))).collect();
                    let n = rows.len();
                    let copied = previous.index_select(&Tensor::from_vec(rows, n, device)?, 0)?;
                    let known = Tensor::from_vec(known, (n, 1), device)?.to_dtype(copied.dtype())?;
                    let fresh = if zero_new {
                        var.as_tensor().zeros_like()?
                    } else {
                        var.as_tensor().clone()
                    };
                    let merged = copied
                        .broadcast_mul(&known)?
                        .add(&fresh.broadcast_mul(&(1.0 - &known)?)?)?;
                    var.set(&merged)?;
                }
            }
        }
        Ok(())
    }

    /// Embeddings of every item (row 0 is padding), side features summed in.
    pub fn item_table(&self) -> candle_core::Result<Tensor> {
        let mut table = self.p("item.weight").clone();
        if self.config.side_features {
            for (name, ids) in ["artist.weight", "album.weight", "genre.weight", "year.weight"]
                .iter()
                .zip(&self.features)
            {
                table = table.add(&self.p(name).index_select(ids, 0)?)?;
            }
        }
        Ok(table)
    }

    /// Embeddings of the items `ids` (any shape, 0 is padding), side features summed in, [.., d].
    ///
    /// Only the rows asked for are gathered: a training step touches a few thousand of the
    /// catalogue's items, and building the whole table would cost a full-size temporary forward
    /// and several more in the backward pass.
    pub(crate) fn embed(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let mut dims = ids.dims().to_vec();
        dims.push(self.config.d);
        let flat = ids.flatten_all()?;
        let mut rows = self.p("item.weight").index_select(&flat, 0)?;
        if self.config.side_features {
            for (name, ids_of) in ["artist.weight", "album.weight", "genre.weight", "year.weight"]
                .iter()
                .zip(&self.features)
            {
                rows = rows.add(&self.p(name).index_select(&ids_of.index_select(&flat, 0)?, 0)?)?;
            }
        }
        rows.reshape(dims)
    }

    /// Runs the encoder on ids/skips/gap buckets [B, T]; dropout only when `dropout` is given.
    #[cfg(any(test, feature = "reference"))]
    pub fn forward(
        &self,
        ids: &Tensor,
        skips: &Tensor,
        gaps: &Tensor,
        dropout: Option<&mut DropoutRng>,
    ) -> candle_core::Result<Forward> {
        let inputs = self.embed(ids)?;
        self.encode(inputs, skips, gaps, dropout)
    }

    /// The encoder over input embeddings [B, T, d] (from [`SeqModel::embed`]).
    #[cfg(any(test, feature = "reference"))]
    fn encode(
        &self,
        inputs: Tensor,
        skips: &Tensor,
        gaps: &Tensor,
        mut dropout: Option<&mut DropoutRng>,
    ) -> candle_core::Result<Forward> {
        let (_, t, _) = inputs.dims3()?;
        let mut x = self.encoder_inputs(&inputs, skips, gaps, dropout.as_deref_mut())?;
        let mask = causal_mask(t, x.dtype(), &self.device)?;
        for l in 0..self.config.layers {
            x = self.block(&x, &x, l, Visible::Causal(&mask), dropout.as_deref_mut())?;
        }
        let hidden = self.head(&x)?;
        Ok(Forward { hidden, inputs })
    }

    /// The head outputs at one position per window, [B, d]: row r at position `last[r]` of
    /// inputs [B, T, d], as [`SeqModel::encode`] gives them there. Nothing after the last
    /// position reaches it, and only the keys and values of the final layer are needed at the
    /// others, so the final layer's queries, feed-forward and head run on the B rows alone
    /// instead of B · T: validation and eval score thousands of windows for their last position.
    fn encode_last(
        &self,
        inputs: &Tensor,
        skips: &Tensor,
        gaps: &Tensor,
        last: &[usize],
    ) -> candle_core::Result<Tensor> {
        let (b, t, d) = inputs.dims3()?;
        let mut x = self.encoder_inputs(inputs, skips, gaps, None)?;
        let mask = causal_mask(t, x.dtype(), &self.device)?;
        let final_layer = self.config.layers.saturating_sub(1);
        for l in 0..final_layer {
            x = self.block(&x, &x, l, Visible::Causal(&mask), None)?;
        }
        let flat: Vec<u32> = last.iter().enumerate().map(|(r, &p)| (r * t + p) as u32).collect();
        let mut rows = x
            .reshape((b * t, d))?
            .index_select(&Tensor::from_vec(flat, b, &self.device)?, 0)?
            .reshape((b, 1, d))?;
        if self.config.layers > 0 {
            // Row r's query sees the keys up to its own position, as in the causal mask.
            let visible: Vec<f32> = last
                .iter()
                .flat_map(|&p| (0..t).map(move |j| if j > p { MASKED } else { 0.0 }))
                .collect();
            let mask = Tensor::from_vec(visible, (b, 1, 1, t), &self.device)?.to_dtype(x.dtype())?;
            rows = self.block(&rows, &x, final_layer, Visible::Masked(&mask), None)?;
        }
        self.head(&rows)?.reshape((b, d))
    }

    /// Item embeddings plus the position, skip and gap embeddings, with input dropout.
    fn encoder_inputs(
        &self,
        inputs: &Tensor,
        skips: &Tensor,
        gaps: &Tensor,
        dropout: Option<&mut DropoutRng>,
    ) -> candle_core::Result<Tensor> {
        let (b, t, d) = inputs.dims3()?;
        let c = &self.config;
        let mut x = inputs.broadcast_add(&self.p("position.weight").narrow(0, 0, t)?)?;
        if c.skip_embedding {
            let s = self
                .p("skip.weight")
                .index_select(&skips.flatten_all()?, 0)?
                .reshape((b, t, d))?;
            x = x.add(&s)?;
        }
        if c.gap_embedding {
            let g = self
                .p("gap.weight")
                .index_select(&gaps.flatten_all()?, 0)?
                .reshape((b, t, d))?;
            x = x.add(&g)?;
        }
        match dropout {
            Some(rng) => rng.apply(&x, c.dropout),
            None => Ok(x),
        }
    }

    /// Transformer block `l` at `queries` [B, Tq, d], attending over `keys` [B, T, d] as far as
    /// `visible` lets each query see.
    fn block(
        &self,
        queries: &Tensor,
        keys: &Tensor,
        l: usize,
        visible: Visible,
        mut dropout: Option<&mut DropoutRng>,
    ) -> candle_core::Result<Tensor> {
        let a = self.attention(queries, keys, l, visible)?;
        let a = match dropout.as_deref_mut() {
            Some(rng) => rng.apply(&a, self.config.dropout)?,
            None => a,
        };
        let x = layer_norm(
            &queries.add(&a)?,
            self.p(&format!("block{l}.ln1.gain")),
            self.p(&format!("block{l}.ln1.bias")),
        )?;
        let f = linear(
            &x,
            self.p(&format!("block{l}.ffn1.weight")),
            self.p(&format!("block{l}.ffn1.bias")),
        )?
        .relu()?;
        let f = linear(
            &f,
            self.p(&format!("block{l}.ffn2.weight")),
            self.p(&format!("block{l}.ffn2.bias")),
        )?;
        let f = match dropout {
            Some(rng) => rng.apply(&f, self.config.dropout)?,
            None => f,
        };
        layer_norm(
            &x.add(&f)?,
            self.p(&format!("block{l}.ln2.gain")),
            self.p(&format!("block{l}.ln2.bias")),
        )
    }

    fn head(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        linear(x, self.p("head.weight"), self.p("head.bias"))?.gelu()
    }

    fn attention(&self, queries: &Tensor, keys: &Tensor, l: usize, visible: Visible) -> candle_core::Result<Tensor> {
        let h = self.config.heads;
        let dh = self.config.d / h;
        let split = |x: &Tensor, name: &str| -> candle_core::Result<Tensor> {
            let (b, t, _) = x.dims3()?;
            linear(
                x,
                self.p(&format!("block{l}.{name}.weight")),
                self.p(&format!("block{l}.{name}.bias")),
            )?
            .reshape((b, t, h, dh))?
            .transpose(1, 2)?
            .contiguous()
        };
        let (q, k, v) = (split(queries, "q")?, split(keys, "k")?, split(keys, "v")?);
        let raw = q.matmul(&k.t()?)?;
        let weights = match visible {
            Visible::Causal(_) if fused::applies(&raw) => fused::causal_softmax(&raw, 1.0 / (dh as f32).sqrt())?,
            Visible::Causal(mask) | Visible::Masked(mask) => {
                softmax(&(raw / (dh as f64).sqrt())?.broadcast_add(mask)?)?
            }
        };
        let (b, tq, d) = queries.dims3()?;
        let out = weights.matmul(&v)?;
        let out = out.transpose(1, 2)?.contiguous()?.reshape((b, tq, d))?;
        linear(
            &out,
            self.p(&format!("block{l}.o.weight")),
            self.p(&format!("block{l}.o.bias")),
        )
    }

    #[cfg(feature = "reference")]
    /// The training loss of one batch: (total, L_rec, L_cl, L_ntr). With history features the
    /// next-item and not-to-recommend terms are taken at the batch's queries, scored with the
    /// features in `batch.features`.
    pub fn loss(
        &self,
        batch: &Batch,
        loss: &LossConfig,
        dropout: Option<&mut DropoutRng>,
        sample_rng: &mut ChaCha8Rng,
    ) -> candle_core::Result<(Tensor, f32, f32, f32)> {
        let d = self.config.d;
        let (b, t) = batch.ids.dims2()?;
        let use_cl = loss.cl_lambda > 0.0 && batch.cl_count > 0;
        if self.config.history_features {
            return self.feature_loss(batch, loss, dropout);
        }
        // Every item row the step needs, gathered once: inputs, then the contrastive positives
        // and negatives, then the softmax candidates (item j + 1 is candidate j).
        let candidates = match (batch.rec_count > 0, loss.sampled_negatives) {
            (false, _) => None,
            (true, None) => Some((Tensor::arange(1u32, self.n_items as u32 + 1, &self.device)?, None)),
            (true, Some(n)) => {
                let (candidates, targets) =
                    sample_candidates(&batch.rec_targets, n, self.n_items, sample_rng, &self.device)?;
                Some((candidates, Some(targets)))
            }
        };
        let mut parts = vec![batch.ids.flatten_all()?];
        if use_cl {
            parts.push(batch.positives.flatten_all()?);
            parts.push(batch.negatives.flatten_all()?);
        }
        if let Some((ids, _)) = &candidates {
            parts.push(ids.clone());
        }
        let rows = self.embed(&Tensor::cat(&parts, 0)?)?;
        let inputs = rows.narrow(0, 0, b * t)?.reshape((b, t, d))?;
        let out = self.encode(inputs, &batch.skips, &batch.gaps, dropout)?;
        let dtype = out.hidden.dtype();
        let flat = out.hidden.reshape(((), d))?;
        let mut total = Tensor::zeros((), dtype, &self.device)?;
        let mut rec_value = 0.0;
        if let Some((ids, sampled_targets)) = &candidates {
            let h = flat.index_select(&batch.rec_positions, 0)?;
            let n = ids.dim(0)?;
            let items = rows.narrow(0, rows.dim(0)? - n, n)?;
            let rec = rec_loss(&h, &items, sampled_targets.as_ref().unwrap_or(&batch.rec_targets))?;
            rec_value = rec.to_dtype(DType::F32)?.to_scalar::<f32>()?;
            total = total.add(&rec)?;
        }
        let mut cl_value = 0.0;
        if use_cl {
            let (cl, value) = self.cl_term(&out, &rows, batch, loss)?;
            cl_value = value;
            total = total.add(&cl)?;
        }
        Ok((total, rec_value, cl_value, 0.0))
    }

    #[cfg(feature = "reference")]
    /// [`SeqModel::loss`] of the history-feature model: full softmax over the catalogue of
    /// `h · e_j + Σ_k (w_k + u_k · h) f_kj` plus the finish prior at every query.
    fn feature_loss(
        &self,
        batch: &Batch,
        loss: &LossConfig,
        dropout: Option<&mut DropoutRng>,
    ) -> candle_core::Result<(Tensor, f32, f32, f32)> {
        let d = self.config.d;
        let (b, t) = batch.ids.dims2()?;
        let use_cl = loss.cl_lambda > 0.0 && batch.cl_count > 0;
        let mut parts = vec![batch.ids.flatten_all()?];
        if use_cl {
            parts.push(batch.positives.flatten_all()?);
            parts.push(batch.negatives.flatten_all()?);
        }
        parts.push(Tensor::arange(1u32, self.n_items as u32 + 1, &self.device)?);
        let rows = self.embed(&Tensor::cat(&parts, 0)?)?;
        let inputs = rows.narrow(0, 0, b * t)?.reshape((b, t, d))?;
        let out = self.encode(inputs, &batch.skips, &batch.gaps, dropout)?;
        let dtype = out.hidden.dtype();
        let mut total = Tensor::zeros((), dtype, &self.device)?;
        let (mut rec_value, mut ntr_value, mut cl_value) = (0.0, 0.0, 0.0);
        let host = &batch.host;
        if let (Some(features), false) = (&batch.features, host.queries.is_empty()) {
            let q = host.queries.len();
            let at: Vec<u32> = host.queries.iter().map(|x| x.at).collect();
            let targets: Vec<u32> = host.queries.iter().map(|x| x.target).collect();
            let h = out
                .hidden
                .reshape(((), d))?
                .index_select(&Tensor::from_vec(at, q, &self.device)?, 0)?;
            let items = rows.narrow(0, rows.dim(0)? - self.n_items, self.n_items)?;
            let context = h
                .matmul(&self.p("feature.context").t()?)?
                .broadcast_add(self.p("feature.weight"))?;
            let features = features.to_dtype(dtype)?;
            let learned = features.narrow(1, 0, N_FEATURES)?;
            let prior = features.narrow(1, N_FEATURES, 1)?.squeeze(1)?;
            let feature_term = context
                .unsqueeze(1)?
                .matmul(&learned.contiguous()?)?
                .squeeze(1)?
                .add(&prior.affine(f64::from(loss.finish_prior), 0.0)?)?;
            let logits = h.matmul(&items.t()?)?.add(&feature_term)?;
            let lse = log_sum_exp(&logits)?.squeeze(1)?;
            let picked = logits
                .gather(&Tensor::from_vec(targets, (q, 1), &self.device)?, 1)?
                .squeeze(1)?;
            let nll = lse.sub(&picked)?;
            let mask = |skipped: bool| -> candle_core::Result<(Tensor, f64)> {
                let values: Vec<f32> = host
                    .queries
                    .iter()
                    .map(|x| f32::from(u8::from(x.skipped == skipped)))
                    .collect();
                let count = values.iter().sum::<f32>() as f64;
                Ok((Tensor::from_vec(values, q, &self.device)?.to_dtype(dtype)?, count))
            };
            let (listened, n_listened) = mask(false)?;
            if n_listened > 0.0 {
                let rec = (nll.mul(&listened)?.sum_all()? / n_listened)?;
                rec_value = rec.to_dtype(DType::F32)?.to_scalar::<f32>()?;
                total = total.add(&rec)?;
            }
            let (skipped, n_skipped) = mask(true)?;
            if loss.ntr_lambda > 0.0 && n_skipped > 0.0 {
                // -log(1 - p) with p = exp(-nll), as -log(1 - exp(-nll)).
                let p = nll.neg()?.exp()?;
                let ntr = (p.neg()? + 1.0)?.log()?.neg()?;
                let ntr = (ntr.mul(&skipped)?.sum_all()? / n_skipped)?;
                ntr_value = ntr.to_dtype(DType::F32)?.to_scalar::<f32>()?;
                total = total.add(&(ntr * loss.ntr_lambda as f64)?)?;
            }
        }
        if use_cl {
            let (cl, value) = self.cl_term(&out, &rows, batch, loss)?;
            cl_value = value;
            total = total.add(&cl)?;
        }
        Ok((total, rec_value, cl_value, ntr_value))
    }

    #[cfg(feature = "reference")]
    /// The skip-contrastive term of [`SeqModel::loss`], weighted by `cl_lambda`, and its
    /// unweighted value; `rows` holds the batch's input rows, then its positives and negatives.
    fn cl_term(
        &self,
        out: &Forward,
        rows: &Tensor,
        batch: &Batch,
        loss: &LossConfig,
    ) -> candle_core::Result<(Tensor, f32)> {
        let d = self.config.d;
        let (b, t) = batch.ids.dims2()?;
        let k = batch.negatives.dim(1)?;
        let dtype = out.hidden.dtype();
        let anchors = match loss.anchor {
            Anchor::Hidden => &out.hidden,
            Anchor::Input => &out.inputs,
        };
        let positives = rows.narrow(0, b * t, b * t)?.reshape((b, t, d))?;
        let negatives = rows.narrow(0, 2 * b * t, b * k)?.reshape((b, k, d))?;
        let cl = cl_loss(
            anchors,
            &positives,
            &negatives,
            &batch.cl_mask.to_dtype(dtype)?,
            &batch.cl_valid.to_dtype(dtype)?,
            loss.cl_tau as f64,
        )?;
        let value = cl.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        Ok(((cl * loss.cl_lambda as f64)?, value))
    }

    /// The head output h after each window, [N, d]: read at each window's last position.
    ///
    /// Run [`INFERENCE_BATCH`] windows at a time: the parameters are tracked for training, so a
    /// pass keeps every intermediate tensor until its output goes (about 0.6 MB a window), and
    /// a session of a thousand plays in one pass took 600 MB.
    pub fn hidden_windows(&self, windows: &[Window]) -> candle_core::Result<Tensor> {
        let n = windows.len();
        if self.head_is_zero()? {
            // The head outputs GELU(0) = 0 whatever the encoder says: a features-only model (the
            // first stage, or a model whose Transformer was not kept) needs no forward pass.
            return Tensor::zeros((n, self.config.d), self.p("head.bias").dtype(), &self.device);
        }
        let parts = windows
            .chunks(INFERENCE_BATCH)
            .map(|part| self.hidden_batch(part).map(|h| h.detach()))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Tensor::cat(&parts, 0)
    }

    /// [`SeqModel::hidden_windows`] in one pass.
    fn hidden_batch(&self, windows: &[Window]) -> candle_core::Result<Tensor> {
        let n = windows.len();
        let t = windows.iter().map(|w| w.ids.len()).max().unwrap_or(1).max(1);
        let mut ids = vec![0u32; n * t];
        let mut skips = vec![0u32; n * t];
        let mut gaps = vec![0u32; n * t];
        let mut last = Vec::with_capacity(n);
        for (r, w) in windows.iter().enumerate() {
            for i in 0..w.ids.len() {
                ids[r * t + i] = w.ids[i];
                skips[r * t + i] = u32::from(w.skips[i]);
                gaps[r * t + i] = w.gaps[i];
            }
            last.push(w.ids.len().max(1) - 1);
        }
        let ids = Tensor::from_vec(ids, (n, t), &self.device)?;
        let skips = Tensor::from_vec(skips, (n, t), &self.device)?;
        let gaps = Tensor::from_vec(gaps, (n, t), &self.device)?;
        self.encode_last(&self.embed(&ids)?, &skips, &gaps, &last)
    }

    /// Whether the head's weights and bias are all exactly zero, so that every head output is 0.
    fn head_is_zero(&self) -> candle_core::Result<bool> {
        for name in ["head.weight", "head.bias"] {
            let values: Vec<f32> = self.p(name).flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
            if values.iter().any(|&v| v != 0.0) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// h · e of every item (0-based: column j is item j + 1) after each window, [N, V]: the
    /// whole score of a model without history features.
    pub fn score_windows(&self, windows: &[Window]) -> candle_core::Result<Tensor> {
        let items = self.item_table()?.narrow(0, 1, self.n_items)?;
        self.hidden_windows(windows)?.matmul(&items.t()?)
    }
}

/// The model's scoring of the catalogue over plain buffers, built once per loaded model: the
/// item table, and the feature weights `w` and context map `U` when it has history features.
///
/// `score(j) = h · e_j + Σ_k (w_k + u_k · h) f_kj`; this one function scores for autoplay,
/// `recommend`, `simulate` and the evaluation.
pub struct Scorer {
    d: usize,
    /// [V, d], item j + 1 in row j.
    items: Vec<f32>,
    /// The artist, album, genre and year tables ([rows, d] each), which embed a track the model
    /// has no item for (empty without side features).
    side: Vec<Vec<f32>>,
    weights: Vec<f32>,
    /// [K, d]
    context: Vec<f32>,
}

impl Scorer {
    pub fn new(model: &SeqModel) -> candle_core::Result<Scorer> {
        let items = model.item_table()?.narrow(0, 1, model.n_items)?;
        let flat = |t: &Tensor| -> candle_core::Result<Vec<f32>> { t.flatten_all()?.to_dtype(DType::F32)?.to_vec1() };
        let (weights, context) = if model.config.history_features {
            (flat(model.p("feature.weight"))?, flat(model.p("feature.context"))?)
        } else {
            (Vec::new(), Vec::new())
        };
        let side = if model.config.side_features {
            ["artist.weight", "album.weight", "genre.weight", "year.weight"]
                .iter()
                .map(|name| flat(model.p(name)))
                .collect::<candle_core::Result<_>>()?
        } else {
            Vec::new()
        };
        Ok(Scorer {
            d: model.config.d,
            items: flat(&items)?,
            side,
            weights,
            context,
        })
    }

    /// The weight of each feature after the head output `hidden`: `w + U h` (empty without
    /// history features).
    pub fn feature_weights(&self, hidden: &[f32]) -> Vec<f32> {
        self.weights
            .iter()
            .zip(self.context.chunks(self.d.max(1)))
            .map(|(&w, u)| w + u.iter().zip(hidden).map(|(a, b)| a * b).sum::<f32>())
            .collect()
    }

    /// `h` times every row of each side-feature table, for [`Scorer::cold_logit`].
    pub(crate) fn side_logits(&self, hidden: &[f32]) -> Vec<Vec<f32>> {
        self.side
            .iter()
            .map(|table| {
                table
                    .chunks(self.d)
                    .map(|row| row.iter().zip(hidden).map(|(a, b)| a * b).sum())
                    .collect()
            })
            .collect()
    }

    /// `h · e` of a track the model has no item for: its embedding is the sum of its side
    /// features' rows, so the score is the sum of their entries in `side` ([`Scorer::side_logits`]).
    pub(crate) fn cold_logit(&self, side: &[Vec<f32>], features: &super::data::ItemFeatures) -> f32 {
        [features.artist, features.album, features.genre, features.year]
            .iter()
            .zip(side)
            .map(|(&id, table)| table.get(id as usize).copied().unwrap_or(0.0))
            .sum()
    }

    /// The Transformer's own term `h · e_j` of item j + 1.
    pub fn sequence_term(&self, hidden: &[f32], j: usize) -> f32 {
        self.items[j * self.d..(j + 1) * self.d]
            .iter()
            .zip(hidden)
            .map(|(a, b)| a * b)
            .sum()
    }

    /// Every item's score after `hidden` [d], with `features` ([K, V], feature-major) when the
    /// model has history features.
    pub fn score(&self, hidden: &[f32], features: &[f32], out: &mut [f32]) {
        let d = self.d;
        if hidden.iter().all(|&h| h == 0.0) {
            out.fill(0.0);
        } else {
            for (o, e) in out.iter_mut().zip(self.items.chunks(d)) {
                *o = e.iter().zip(hidden).map(|(a, b)| a * b).sum();
            }
        }
        let n = out.len();
        for (k, c) in self.feature_weights(hidden).into_iter().enumerate() {
            if c != 0.0 {
                for (o, &f) in out.iter_mut().zip(&features[k * n..(k + 1) * n]) {
                    *o += c * f;
                }
            }
        }
    }
}

/// Every parameter's name and shape, in the order they are created and saved.
pub(crate) fn parameter_shapes(c: &ModelConfig, vocab: &Vocab) -> Vec<(String, Vec<usize>)> {
    let d = c.d;
    let [artists, albums, genres, years] = vocab.feature_sizes();
    let mut shapes = vec![
        ("item.weight".to_owned(), vec![vocab.len() + 1, d]),
        ("position.weight".to_owned(), vec![c.max_len, d]),
    ];
    if c.side_features {
        shapes.push(("artist.weight".into(), vec![artists, d]));
        shapes.push(("album.weight".into(), vec![albums, d]));
        shapes.push(("genre.weight".into(), vec![genres, d]));
        shapes.push(("year.weight".into(), vec![years, d]));
    }
    if c.skip_embedding {
        shapes.push(("skip.weight".into(), vec![2, d]));
    }
    if c.gap_embedding {
        shapes.push(("gap.weight".into(), vec![GAP_BUCKETS, d]));
    }
    if c.history_features {
        shapes.push(("feature.weight".into(), vec![N_FEATURES]));
        shapes.push(("feature.context".into(), vec![N_FEATURES, d]));
    }
    for l in 0..c.layers {
        for name in ["q", "k", "v", "o"] {
            shapes.push((format!("block{l}.{name}.weight"), vec![d, d]));
            shapes.push((format!("block{l}.{name}.bias"), vec![d]));
        }
        shapes.push((format!("block{l}.ln1.gain"), vec![d]));
        shapes.push((format!("block{l}.ln1.bias"), vec![d]));
        shapes.push((format!("block{l}.ffn1.weight"), vec![d, c.ffn]));
        shapes.push((format!("block{l}.ffn1.bias"), vec![c.ffn]));
        shapes.push((format!("block{l}.ffn2.weight"), vec![c.ffn, d]));
        shapes.push((format!("block{l}.ffn2.bias"), vec![d]));
        shapes.push((format!("block{l}.ln2.gain"), vec![d]));
        shapes.push((format!("block{l}.ln2.bias"), vec![d]));
    }
    shapes.push(("head.weight".into(), vec![d, d]));
    shapes.push(("head.bias".into(), vec![d]));
    shapes
}

/// Normal(0, std) values from a seeded generator (Box-Muller).
pub fn normal(rng: &mut ChaCha8Rng, shape: &[usize], std: f64, device: &Device) -> candle_core::Result<Tensor> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| {
            let u1: f64 = rng.random::<f64>().max(1e-12);
            let u2: f64 = rng.random::<f64>();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
        })
        .collect();
    Tensor::from_vec(values, shape, device)
}

/// x W + b for x of any rank, W [in, out].
fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let (inner, outer) = (dims[dims.len() - 1], w.dim(1)?);
    let mut out_dims = dims;
    let last = out_dims.len() - 1;
    out_dims[last] = outer;
    x.reshape(((), inner))?.matmul(w)?.broadcast_add(b)?.reshape(out_dims)
}

/// Layer normalisation over the last dimension, from basic ops.
pub(crate) fn layer_norm(x: &Tensor, gain: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
    if fused::applies(x) {
        return fused::layer_norm(x, gain, bias);
    }
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    centred
        .broadcast_div(&(var + 1e-5)?.sqrt()?)?
        .broadcast_mul(gain)?
        .broadcast_add(bias)
}

/// Softmax over the last dimension, from basic ops. The max is a constant shift, so it is detached.
pub(crate) fn softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// log(sum(exp(x))) over the last dimension, keeping it.
#[cfg(feature = "reference")]
pub(crate) fn log_sum_exp(x: &Tensor) -> candle_core::Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    x.broadcast_sub(&max)?
        .exp()?
        .sum_keepdim(D::Minus1)?
        .log()?
        .broadcast_add(&max)
}

fn causal_mask(t: usize, dtype: DType, device: &Device) -> candle_core::Result<Tensor> {
    let values: Vec<f32> = (0..t * t).map(|i| if i % t > i / t { MASKED } else { 0.0 }).collect();
    Tensor::from_vec(values, (t, t), device)?.to_dtype(dtype)
}

#[cfg(feature = "reference")]
/// Next-item cross-entropy: `hidden` [N, d] against `items` [C, d], `targets` [N] indexing `items`.
pub fn rec_loss(hidden: &Tensor, items: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    if fused::applies(hidden) {
        return fused::cross_entropy(hidden, items, &targets.to_vec1::<u32>()?);
    }
    let logits = hidden.matmul(&items.t()?)?;
    let lse = log_sum_exp(&logits)?.squeeze(1)?;
    let picked = logits.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?;
    lse.sub(&picked)?.mean_all()
}

#[cfg(feature = "reference")]
/// The skip-contrastive InfoNCE term.
///
/// `anchors`, `positives` [B, T, d]; `negatives` [B, K, d] are the skipped tracks of each row's
/// own session, so a position only ever meets negatives of its session. `mask` [B, T, K + 1] is
/// 0 for the positive and usable negatives and [`MASKED`] elsewhere; `valid` [B, T] selects the
/// positions that contribute. Similarities are cosines divided by `tau`.
pub fn cl_loss(
    anchors: &Tensor,
    positives: &Tensor,
    negatives: &Tensor,
    mask: &Tensor,
    valid: &Tensor,
    tau: f64,
) -> candle_core::Result<Tensor> {
    let a = normalize(anchors)?;
    let p = normalize(positives)?;
    let n = normalize(negatives)?;
    let pos = a.mul(&p)?.sum_keepdim(D::Minus1)?;
    let neg = a.matmul(&n.transpose(1, 2)?.contiguous()?)?;
    let logits = (Tensor::cat(&[&pos, &neg], D::Minus1)? / tau)?.add(mask)?;
    let per_position = log_sum_exp(&logits)?.sub(&(pos / tau)?)?.squeeze(D::Minus1)?;
    let count = valid.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?.max(1.0);
    per_position.mul(valid)?.sum_all()? / count
}

#[cfg(feature = "reference")]
fn normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    x.broadcast_div(&(x.sqr()?.sum_keepdim(D::Minus1)? + 1e-8)?.sqrt()?)
}

#[cfg(feature = "reference")]
/// Candidates for a sampled softmax, as item ids: the batch's distinct targets plus `n` random
/// items; and the targets re-indexed into them.
fn sample_candidates(
    targets: &Tensor,
    n: usize,
    n_items: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let targets: Vec<u32> = targets.to_vec1()?;
    let (candidates, remapped) = sample_candidate_ids(&targets, n, n_items, rng);
    let (c, r) = (candidates.len(), remapped.len());
    Ok((
        Tensor::from_vec(candidates, c, device)?,
        Tensor::from_vec(remapped, r, device)?,
    ))
}

/// [`sample_candidates`] on plain ids: candidate item ids (1-based) and the 0-based `targets`
/// re-indexed into them.
pub(super) fn sample_candidate_ids(
    targets: &[u32],
    n: usize,
    n_items: usize,
    rng: &mut ChaCha8Rng,
) -> (Vec<u32>, Vec<u32>) {
    let mut candidates: Vec<u32> = Vec::new();
    let mut slot: HashMap<u32, u32> = HashMap::new();
    for &t in targets {
        slot.entry(t).or_insert_with(|| {
            candidates.push(t);
            candidates.len() as u32 - 1
        });
    }
    for _ in 0..n {
        let j = rng.random_range(0..n_items as u32);
        if let std::collections::hash_map::Entry::Vacant(e) = slot.entry(j) {
            e.insert(candidates.len() as u32);
            candidates.push(j);
        }
    }
    let remapped: Vec<u32> = targets.iter().map(|t| slot[t]).collect();
    (candidates.iter().map(|c| c + 1).collect(), remapped)
}
