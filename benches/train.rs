//! Training-step and scoring speed: one step at d=64, T=50, batch 128, 10k items, 128 sampled
//! negatives plus the contrastive term; and scoring 100k tracks after a session.

use std::time::Instant;

use candle_core::{DType, Device};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use skipless::recommend::data::{rows_from_sessions, Batch, Play, Session, TrackInfo, Vocab};
use skipless::recommend::model::{DropoutRng, LossConfig, ModelConfig, SeqModel};

fn vocab(n: usize) -> Vocab {
    let mut v = Vocab::default();
    for i in 0..n {
        v.intern(&TrackInfo {
            key: format!("t{i}"),
            artist: Some(format!("a{}", i / 10)),
            album: Some(format!("b{}", i / 12)),
            genre: Some(format!("g{}", i % 20)),
            year: Some(1960 + (i % 60) as i32),
        });
    }
    v
}

fn main() -> candle_core::Result<()> {
    let device = Device::Cpu;
    let config = ModelConfig {
        d: 64,
        layers: 2,
        heads: 2,
        ffn: 64,
        max_len: 50,
        dropout: 0.2,
        skip_embedding: true,
        side_features: true,
    };
    let loss = LossConfig {
        sampled_negatives: Some(128),
        ..LossConfig::default()
    };
    let items = 10_000;
    let v = vocab(items);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let sessions: Vec<Session> = (0..128)
        .map(|_| Session {
            plays: (0..51)
                .map(|k| Play {
                    item: rng.random_range(1..=items as u32),
                    skipped: rng.random_bool(0.4),
                    ts_ms: k,
                })
                .collect(),
        })
        .collect();
    let indexed: Vec<(usize, &Session)> = sessions.iter().enumerate().collect();
    let rows = rows_from_sessions(&indexed, 50);
    let refs: Vec<_> = rows.iter().take(128).collect();
    let model = SeqModel::new(config, &v, DType::F32, 1, &device)?;
    let mut optimizer = candle_nn::AdamW::new_lr(model.vars().to_vec(), 1e-3)?;
    let mut dropout = DropoutRng::new(2);
    let steps = 10;
    let mut timings = Vec::new();
    for _ in 0..steps + 2 {
        let start = Instant::now();
        let batch = Batch::new(&refs, false, &device)?;
        let (total, _, _) = model.loss(&batch, &loss, Some(&mut dropout), &mut rng)?;
        candle_nn::Optimizer::backward_step(&mut optimizer, &total)?;
        timings.push(start.elapsed().as_secs_f64());
    }
    let mut measured = timings[2..].to_vec();
    measured.sort_by(f64::total_cmp);
    println!(
        "train step (d=64, T=50, B=128, 10k items, 128 sampled negatives + CL): median {:.1} ms, min {:.1} ms over {steps} steps",
        measured[steps / 2] * 1e3,
        measured[0] * 1e3
    );

    let big = vocab(100_000);
    let model = SeqModel::new(config, &big, DType::F32, 1, &device)?;
    let window: Vec<u32> = (0..50).map(|_| rng.random_range(1..=100_000u32)).collect();
    let skips = vec![false; 50];
    let mut timings = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let scores = model.score_windows(&[(window.clone(), skips.clone())])?;
        let _: Vec<Vec<f32>> = scores.to_vec2()?;
        timings.push(start.elapsed().as_secs_f64());
    }
    timings.sort_by(f64::total_cmp);
    println!(
        "score 100k tracks after a 50-play session: median {:.1} ms, min {:.1} ms",
        timings[3] * 1e3,
        timings[0] * 1e3
    );
    Ok(())
}
