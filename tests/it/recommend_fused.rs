//! The optimised training paths against the plain candle graph in f64 (the model built from basic
//! tensor ops: [`SeqModel::loss`] on an f64 model):
//!
//! - the fused candle kernels (layer norm, causal softmax, cross-entropy) inside the f32 graph;
//! - the fused training step ([`Trainer`]), with the same dropout masks and sampled candidates
//!   (both drawn from generators with the same seeds in the same order), and its AdamW.
//!
//! Tolerance: the loss within 1e-4 relative; each gradient tensor within 1e-6 + 1e-3 * (its
//! largest reference entry) in every entry, which allows for f32 rounding but not for a wrong or
//! missing term. After several optimiser steps, every parameter within 1e-4 of candle-nn's AdamW
//! run on the graph.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use skipless::recommend::data::{rows_from_history, rows_from_sessions, Batch, Play, Session, Vocab};
use skipless::recommend::features::{ItemGroups, Timeline, FEATURES, N_COLUMNS, N_FEATURES};
use skipless::recommend::model::{Anchor, DropoutRng, LossConfig, ModelConfig, SeqModel};
use skipless::recommend::step::{AdamWConfig, Trainer};
use skipless::track::Track;

fn vocab(n: usize) -> Vocab {
    let mut v = Vocab::default();
    for i in 0..n {
        v.intern(
            &format!("track{i}"),
            &Track {
                title: format!("track{i}"),
                artist: Some(format!("artist{}", i % 7).into()),
                album: Some(format!("album{}", i % 11).into()),
                genre: Some(format!("genre{}", i % 3).into()),
                year: Some(1970 + i as i16),
                ..Track::default()
            },
        );
    }
    v
}

/// Random sessions an hour or more apart, plays a few minutes apart.
fn sessions(items: usize, sessions: usize, seed: u64) -> Vec<Session> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..sessions)
        .map(|s| Session {
            plays: (0..6 + 3 * s as i64)
                .map(|k| Play {
                    item: rng.random_range(1..=items as u32),
                    skipped: rng.random_bool(0.4),
                    ts_ms: s as i64 * 7_200_000 + k * rng.random_range(20_000..400_000),
                })
                .collect(),
        })
        .collect()
}

fn batch(items: usize, max_len: usize, count: usize, rec_on_skipped: bool, seed: u64) -> Batch {
    let sessions = sessions(items, count, seed);
    let indexed: Vec<(usize, &Session)> = sessions.iter().enumerate().collect();
    let rows = rows_from_sessions(&indexed, max_len);
    let refs: Vec<_> = rows.iter().collect();
    Batch::new(&refs, rec_on_skipped, false, &Device::Cpu).unwrap()
}

/// A batch of cross-session rows of the history-feature model, its queries' features read from
/// the timeline it returns.
fn history_batch(vocab: &Vocab, max_len: usize, count: usize, seed: u64) -> (Batch, Arc<Timeline>) {
    let sessions = sessions(vocab.len(), count, seed);
    let timeline = Timeline::new(&sessions, ItemGroups::of(vocab), &[(3, 3 * 7_200_000)]);
    let rows = rows_from_history(&sessions, max_len);
    let refs: Vec<_> = rows.iter().collect();
    let batch = Batch::new(&refs, false, true, &Device::Cpu)
        .unwrap()
        .with_features(&timeline)
        .unwrap();
    (batch, Arc::new(timeline))
}

/// A fresh f32 model (seed 5) and its copy in f64, which runs the plain graph.
fn f32_and_f64_models(config: ModelConfig, vocab: &Vocab) -> (SeqModel, SeqModel) {
    let f32_model = SeqModel::new(config, vocab, DType::F32, 5, &Device::Cpu).unwrap();
    let as_f64: HashMap<String, Tensor> = f32_model
        .named_tensors()
        .map(|(n, t)| (n.to_owned(), t.to_dtype(DType::F64).unwrap()))
        .collect();
    let f64_model = SeqModel::from_tensors(config, vocab, as_f64, &Device::Cpu).unwrap();
    (f32_model, f64_model)
}

fn f64_model(config: ModelConfig, vocab: &Vocab) -> SeqModel {
    f32_and_f64_models(config, vocab).1
}

fn assert_close(name: &str, got: &[f64], reference: &[f64], case: &str) {
    assert_eq!(got.len(), reference.len(), "{name}: length, {case}");
    let scale = reference.iter().fold(0f64, |m, g| m.max(g.abs()));
    let worst = got
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0f64, f64::max);
    assert!(
        worst <= 1e-6 + 1e-3 * scale,
        "{name}: largest difference {worst} against largest entry {scale}, {case}"
    );
}

fn compare(config: ModelConfig, loss: LossConfig, rec_on_skipped: bool, dropout: bool, case: &str) {
    let items = 40;
    let v = vocab(items);
    let batch = batch(items, config.max_len, 7, rec_on_skipped, 3);
    let model = f64_model(config, &v);
    compare_on(&model, &v, &batch, None, loss, dropout, case);
}

fn compare_on(
    model: &SeqModel,
    v: &Vocab,
    batch: &Batch,
    timeline: Option<Arc<Timeline>>,
    loss: LossConfig,
    dropout: bool,
    case: &str,
) {
    let mut graph_dropout = DropoutRng::new(7);
    let mut graph_rng = ChaCha8Rng::seed_from_u64(11);
    let (total, rec, cl, ntr) = model
        .loss(batch, &loss, dropout.then_some(&mut graph_dropout), &mut graph_rng)
        .unwrap();
    let reference_loss = total.to_scalar::<f64>().unwrap();
    let grads = total.backward().unwrap();

    let mut trainer = Trainer::new(model, v, AdamWConfig::new(1e-3, 0.01)).unwrap();
    if let Some(timeline) = timeline {
        trainer = trainer.with_timeline(timeline);
    }
    let mut step_dropout = DropoutRng::new(7);
    let mut step_rng = ChaCha8Rng::seed_from_u64(11);
    let value = trainer.loss_and_grads(&batch.host, &loss, dropout.then_some(&mut step_dropout), &mut step_rng);
    assert!(
        (f64::from(value.total) - reference_loss).abs() <= 1e-4 * reference_loss.abs().max(1.0),
        "loss {} (step) vs {reference_loss} (graph), {case}",
        value.total
    );
    for (part, step, graph) in [("rec", value.rec, rec), ("cl", value.cl, cl), ("ntr", value.ntr, ntr)] {
        assert!(
            (step - graph).abs() <= 1e-4 * graph.abs().max(1.0),
            "{part} {step} (step) vs {graph} (graph), {case}"
        );
    }
    let step_grads: HashMap<&str, &[f32]> = trainer.gradients().collect();
    for (name, tensor) in model.named_tensors() {
        let reference: Vec<f64> = match grads.get(tensor) {
            Some(g) => g.flatten_all().unwrap().to_vec1().unwrap(),
            None => vec![0.0; tensor.elem_count()],
        };
        let got: Vec<f64> = step_grads[name].iter().map(|&g| f64::from(g)).collect();
        assert_close(name, &got, &reference, case);
    }
}

fn small_config() -> ModelConfig {
    ModelConfig {
        d: 16,
        layers: 2,
        heads: 2,
        ffn: 24,
        max_len: 10,
        dropout: 0.2,
        skip_embedding: true,
        side_features: true,
        ..ModelConfig::sasrec()
    }
}

/// The history-feature model: a fresh f64 model whose feature weights and context map are set to
/// non-zero values (they start at zero), so that every term has a gradient to check.
fn history_model(config: ModelConfig, v: &Vocab) -> SeqModel {
    let base = SeqModel::new(config, v, DType::F64, 5, &Device::Cpu).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let tensors: HashMap<String, Tensor> = base
        .named_tensors()
        .map(|(n, t)| {
            let t = if n.starts_with("feature.") {
                let values: Vec<f64> = (0..t.elem_count()).map(|_| rng.random_range(-0.5..0.5)).collect();
                Tensor::from_vec(values, t.shape(), &Device::Cpu).unwrap()
            } else {
                t.clone()
            };
            (n.to_owned(), t)
        })
        .collect();
    SeqModel::from_tensors(config, v, tensors, &Device::Cpu).unwrap()
}

#[test]
fn the_step_matches_the_graph_with_history_features_and_negative_feedback() {
    let items = 30;
    let v = vocab(items);
    for (gap_embedding, ntr_lambda, cl_lambda, finish_prior, dropout) in
        [(true, 0.7, 0.0, 2.0, true), (false, 0.0, 0.5, 0.0, false)]
    {
        let config = ModelConfig {
            gap_embedding,
            history_features: true,
            ..small_config()
        };
        let (batch, timeline) = history_batch(&v, config.max_len, 6, 4);
        assert!(batch.host.queries.iter().any(|q| q.skipped) && batch.host.queries.iter().any(|q| !q.skipped));
        let features = batch.features.as_ref().unwrap();
        assert_eq!(features.dims(), &[batch.host.queries.len(), N_COLUMNS, items]);
        // The finish prior varies by track, so a step that left it out of the logits would differ.
        let prior = features
            .narrow(1, N_FEATURES, 1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(prior.iter().any(|&p| p > 0.01) && prior.iter().any(|&p| p < -0.01));
        // Every learned feature is exercised: nonzero at some query's track.
        for (k, name) in FEATURES.iter().enumerate() {
            let column = features
                .narrow(1, k, 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            assert!(column.iter().any(|&f| f != 0.0), "{name} is 0 throughout");
        }
        let loss = LossConfig {
            ntr_lambda,
            cl_lambda,
            finish_prior,
            ..LossConfig::default()
        };
        let model = history_model(config, &v);
        let case = format!(
            "history features, gap {gap_embedding}, ntr {ntr_lambda}, cl {cl_lambda}, finish prior {finish_prior}"
        );
        compare_on(&model, &v, &batch, Some(timeline), loss, dropout, &case);
    }
}

#[test]
fn the_step_matches_the_graph_with_dropout_and_sampled_negatives() {
    let loss = LossConfig {
        sampled_negatives: Some(8),
        ..LossConfig::sasrec(1.0)
    };
    compare(
        small_config(),
        loss,
        false,
        true,
        "sampled softmax, hidden anchor, dropout",
    );
}

#[test]
fn the_step_matches_the_graph_with_full_softmax_and_input_anchors() {
    let config = ModelConfig {
        heads: 1,
        skip_embedding: false,
        side_features: false,
        ..small_config()
    };
    let loss = LossConfig {
        anchor: Anchor::Input,
        cl_tau: 0.3,
        cl_lambda: 0.5,
        rec_on_skipped: true,
        ..LossConfig::sasrec(1.0)
    };
    compare(config, loss, true, false, "full softmax, input anchor, no dropout");
}

#[test]
fn the_step_matches_the_graph_without_the_contrastive_term() {
    let loss = LossConfig {
        sampled_negatives: Some(5),
        ..LossConfig::sasrec(0.0)
    };
    let config = ModelConfig {
        heads: 4,
        ..small_config()
    };
    compare(config, loss, false, true, "next-item loss only, 4 heads");
}

/// Several AdamW steps (with and without clipping) land on the same parameters as candle-nn's
/// AdamW driving the graph.
#[test]
fn optimiser_steps_match_candle_adamw() {
    let items = 40;
    let v = vocab(items);
    let config = small_config();
    let loss = LossConfig {
        sampled_negatives: Some(8),
        ..LossConfig::sasrec(1.0)
    };
    for clip in [1e9, 0.05] {
        let graph = f64_model(config, &v);
        let mut trainer = Trainer::new(&graph, &v, AdamWConfig::new(1e-2, 0.1)).unwrap();
        let mut optimizer = AdamW::new(
            graph.vars().to_vec(),
            ParamsAdamW {
                lr: 1e-2,
                weight_decay: 0.1,
                ..Default::default()
            },
        )
        .unwrap();
        let (mut graph_dropout, mut step_dropout) = (DropoutRng::new(1), DropoutRng::new(1));
        let (mut graph_rng, mut step_rng) = (ChaCha8Rng::seed_from_u64(2), ChaCha8Rng::seed_from_u64(2));
        for step in 0..4 {
            let batch = batch(items, config.max_len, 5, false, 100 + step);
            let (total, _, _, _) = graph
                .loss(&batch, &loss, Some(&mut graph_dropout), &mut graph_rng)
                .unwrap();
            let mut grads = total.backward().unwrap();
            let norm: f64 = graph
                .vars()
                .iter()
                .filter_map(|var| grads.get(var.as_tensor()))
                .map(|g| g.sqr().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap())
                .sum::<f64>()
                .sqrt();
            if norm > clip {
                for var in graph.vars() {
                    if let Some(g) = grads.remove(var.as_tensor()) {
                        grads.insert(var.as_tensor(), (g * (clip / norm)).unwrap());
                    }
                }
            }
            optimizer.step(&grads).unwrap();
            trainer.step(&batch.host, &loss, Some(&mut step_dropout), &mut step_rng, clip);
        }
        let trained = f64_model(config, &v);
        trainer.write_to(&trained).unwrap();
        for ((name, reference), (_, got)) in graph.named_tensors().zip(trained.named_tensors()) {
            let reference: Vec<f64> = reference.flatten_all().unwrap().to_vec1().unwrap();
            let got: Vec<f64> = got.flatten_all().unwrap().to_vec1().unwrap();
            let worst = got
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0f64, f64::max);
            assert!(
                worst <= 1e-4,
                "{name}: parameters differ by {worst} after 4 steps, clip {clip}"
            );
        }
    }
}

/// The graph's loss and gradients by parameter name, with fixed dropout and sampling seeds.
fn graph_loss_and_grads(model: &SeqModel, batch: &Batch, loss: &LossConfig) -> (f64, HashMap<String, Vec<f64>>) {
    let mut dropout = DropoutRng::new(7);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (total, _, _, _) = model.loss(batch, loss, Some(&mut dropout), &mut rng).unwrap();
    let grads = total.backward().unwrap();
    let value = total.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
    let grads = model
        .named_tensors()
        .map(|(name, t)| {
            let g = grads.get(t).unwrap_or_else(|| panic!("{name} has no gradient"));
            let g = g
                .to_dtype(DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            (name.to_owned(), g)
        })
        .collect();
    (value, grads)
}

#[test]
fn fused_kernels_match_the_plain_graph() {
    let items = 40;
    let v = vocab(items);
    let config = ModelConfig {
        d: 16,
        ffn: 16,
        max_len: 12,
        ..small_config()
    };
    let batch = batch(items, config.max_len, 6, false, 3);
    let (fused, plain) = f32_and_f64_models(config, &v);
    for sampled_negatives in [None, Some(8)] {
        let loss = LossConfig {
            sampled_negatives,
            ..LossConfig::sasrec(1.0)
        };
        let case = format!("fused kernels, sampled {sampled_negatives:?}");
        let (l32, g32) = graph_loss_and_grads(&fused, &batch, &loss);
        let (l64, g64) = graph_loss_and_grads(&plain, &batch, &loss);
        assert!(
            (l32 - l64).abs() <= 1e-4 * l64.abs().max(1.0),
            "loss {l32} (fused f32) vs {l64} (plain f64), {case}"
        );
        for (name, reference) in &g64 {
            assert_close(name, &g32[name], reference, &case);
        }
    }
}

/// A step with the tables' learning rate at 0 leaves them bit for bit as they were, while the
/// rest of the model moves: the default model's tables stay at their random start.
#[test]
fn a_step_with_fixed_tables_leaves_them_as_they_were() {
    const TABLES: [&str; 5] = [
        "item.weight",
        "artist.weight",
        "album.weight",
        "genre.weight",
        "year.weight",
    ];
    let items = 30;
    let v = vocab(items);
    let config = ModelConfig {
        gap_embedding: true,
        history_features: true,
        ..small_config()
    };
    let (batch, timeline) = history_batch(&v, config.max_len, 6, 4);
    let model = history_model(config, &v);
    let model = SeqModel::from_tensors(
        config,
        &v,
        model
            .named_tensors()
            .map(|(n, t)| (n.to_owned(), t.to_dtype(DType::F32).unwrap()))
            .collect(),
        &Device::Cpu,
    )
    .unwrap();
    let values = |m: &SeqModel| -> HashMap<String, Vec<f32>> {
        m.named_tensors()
            .map(|(n, t)| (n.to_owned(), t.flatten_all().unwrap().to_vec1().unwrap()))
            .collect()
    };
    let before = values(&model);
    let adamw = AdamWConfig {
        embedding_lr_scale: 0.0,
        ..AdamWConfig::new(1e-2, 0.1)
    };
    let mut trainer = Trainer::new(&model, &v, adamw).unwrap().with_timeline(timeline);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..3 {
        trainer.step(&batch.host, &LossConfig::default(), None, &mut rng, 0.1);
    }
    // The tables had gradients to follow: a step that ignored the share would move them.
    assert!(trainer
        .gradients()
        .filter(|(name, _)| TABLES.contains(name))
        .all(|(_, g)| g.iter().any(|&v| v != 0.0)));
    trainer.write_to(&model).unwrap();
    let after = values(&model);
    for (name, old) in &before {
        let moved = after[name] != *old;
        assert_eq!(moved, !TABLES.contains(&name.as_str()), "{name} moved: {moved}");
    }
}
