//! The fused f32 kernels against the plain candle graph: the whole model's loss and every
//! parameter's gradient, computed once in f32 (fused layer norm, causal softmax and
//! cross-entropy) and once in f64 (the same model built from basic tensor ops).
//!
//! Tolerance: the loss within 1e-4 relative; each gradient tensor within
//! 1e-6 + 1e-3 * (its largest reference entry) in every entry, which allows for f32 rounding
//! but not for a wrong term.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use skipless::recommend::data::{rows_from_sessions, Batch, Play, Session, TrackInfo, Vocab};
use skipless::recommend::model::{DropoutRng, LossConfig, ModelConfig, SeqModel};

fn vocab(n: usize) -> Vocab {
    let mut v = Vocab::default();
    for i in 0..n {
        v.intern(&TrackInfo {
            key: format!("track{i}"),
            artist: Some(format!("artist{}", i % 7)),
            album: Some(format!("album{}", i % 11)),
            genre: Some(format!("genre{}", i % 3)),
            year: Some(1970 + i as i32),
        });
    }
    v
}

fn loss_and_grads(model: &SeqModel, batch: &Batch, loss: &LossConfig) -> (f64, HashMap<String, Vec<f64>>) {
    let mut dropout = DropoutRng::new(7);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (total, _, _) = model.loss(batch, loss, Some(&mut dropout), &mut rng).unwrap();
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
        layers: 2,
        heads: 2,
        ffn: 16,
        max_len: 12,
        dropout: 0.2,
        skip_embedding: true,
        side_features: true,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let sessions: Vec<Session> = (0..6)
        .map(|s| Session {
            plays: (0..8 + 2 * s as i64)
                .map(|k| Play {
                    item: rng.random_range(1..=items as u32),
                    skipped: rng.random_bool(0.4),
                    ts_ms: k,
                })
                .collect(),
        })
        .collect();
    let indexed: Vec<(usize, &Session)> = sessions.iter().enumerate().collect();
    let rows = rows_from_sessions(&indexed, config.max_len);
    let refs: Vec<_> = rows.iter().collect();
    let batch = Batch::new(&refs, false, &Device::Cpu).unwrap();

    let fused = SeqModel::new(config, &v, DType::F32, 5, &Device::Cpu).unwrap();
    let as_f64: HashMap<String, Tensor> = fused
        .named_tensors()
        .map(|(n, t)| (n.to_owned(), t.to_dtype(DType::F64).unwrap()))
        .collect();
    let plain = SeqModel::from_tensors(config, &v, as_f64, &Device::Cpu).unwrap();

    for sampled_negatives in [None, Some(8)] {
        let loss = LossConfig {
            sampled_negatives,
            ..LossConfig::default()
        };
        let (l32, g32) = loss_and_grads(&fused, &batch, &loss);
        let (l64, g64) = loss_and_grads(&plain, &batch, &loss);
        assert!(
            (l32 - l64).abs() <= 1e-4 * l64.abs().max(1.0),
            "loss {l32} (fused f32) vs {l64} (plain f64), sampled {sampled_negatives:?}"
        );
        for (name, reference) in &g64 {
            let got = &g32[name];
            let scale = reference.iter().fold(0f64, |m, g| m.max(g.abs()));
            let worst = got
                .iter()
                .zip(reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0f64, f64::max);
            assert!(
                worst <= 1e-6 + 1e-3 * scale,
                "{name}: largest difference {worst} against largest entry {scale}, sampled {sampled_negatives:?}"
            );
        }
    }
}
