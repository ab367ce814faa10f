//! Training-step and scoring speed.
//!
//! Train steps at d=64, 2 layers, batch 128, 128 sampled negatives plus the contrastive term: 1
//! and 2 heads at T=50 over 10k items, and 2 heads at T=200 over 100k items (SASRec's step); the
//! default model's step (history features, full softmax, not-to-recommend term). Then one autoplay
//! pick's served ranking of 100k library tracks (most never played) by the default model. `benches/torch_reference.py`
//! prints the same lines for the same model in PyTorch.
//!
//! Wall time is noisy on a shared machine, so each line also gives the process CPU time per step
//! (all threads). `SKIPLESS_BENCH_STEPS` sets the number of measured steps (default 10).

use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use skipless::play::LoggedPlay;
use skipless::recommend::checkpoint::{Checkpoint, CheckpointMeta, FORMAT_VERSION};
use skipless::recommend::data::{
    item_key_of, rows_from_history, rows_from_sessions, Batch, HostBatch, Play, Session, Vocab,
};
use skipless::recommend::features::{ItemGroups, Timeline};
use skipless::recommend::infer::{Filters, Recommender};
use skipless::recommend::log::ListeningLog;
use skipless::recommend::metrics::Metrics;
use skipless::recommend::model::{DropoutRng, LossConfig, ModelConfig, SeqModel};
use skipless::recommend::step::{AdamWConfig, Trainer};
use skipless::recommend::train::TrainConfig;
use skipless::track::Track;

fn vocab(n: usize) -> Vocab {
    let mut v = Vocab::default();
    for i in 0..n {
        v.intern(
            &format!("t{i}"),
            &Track {
                title: format!("t{i}"),
                artist: Some(format!("a{}", i / 10).into()),
                album: Some(format!("b{}", i / 12).into()),
                genre: Some(format!("g{}", i % 20).into()),
                year: Some(1960 + (i % 60) as i16),
                ..Track::default()
            },
        );
    }
    v
}

/// CPU time of the whole process (user + system, all threads), in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn config(heads: usize, max_len: usize) -> ModelConfig {
    ModelConfig {
        d: 64,
        layers: 2,
        heads,
        ffn: 64,
        max_len,
        dropout: 0.2,
        skip_embedding: true,
        side_features: true,
        ..ModelConfig::sasrec()
    }
}

const SCORE_LABEL: &str = "score 100k tracks for one autoplay pick (served ranking)";

/// Which implementation of the training step a line measures.
#[derive(Clone, Copy)]
enum Engine {
    /// The fused step training uses (`recommend::step::Trainer`).
    Step,
    /// The candle graph it is checked against, with candle-nn's AdamW.
    Graph,
}

fn train_label(engine: Engine, heads: usize, t: usize, items: usize) -> String {
    let name = match engine {
        Engine::Step => "step",
        Engine::Graph => "graph",
    };
    format!("train[{name}] d=64 layers=2 heads={heads} T={t} B=128 items={items} neg=128+CL")
}

fn train_steps(engine: Engine, heads: usize, t: usize, items: usize, steps: usize) -> candle_core::Result<()> {
    let device = Device::Cpu;
    let loss = LossConfig {
        sampled_negatives: Some(128),
        ..LossConfig::sasrec(1.0)
    };
    let v = vocab(items);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let sessions: Vec<Session> = (0..128)
        .map(|_| Session {
            plays: (0..=t as i64)
                .map(|k| Play {
                    item: rng.random_range(1..=items as u32),
                    skipped: rng.random_bool(0.4),
                    ts_ms: k,
                })
                .collect(),
        })
        .collect();
    let indexed: Vec<(usize, &Session)> = sessions.iter().enumerate().collect();
    let rows = rows_from_sessions(&indexed, t);
    let refs: Vec<_> = rows.iter().take(128).collect();
    let model = SeqModel::new(config(heads, t), &v, DType::F32, 1, &device)?;
    let mut optimizer = candle_nn::AdamW::new_lr(model.vars().to_vec(), 1e-3)?;
    let mut trainer = Trainer::new(&model, &v, AdamWConfig::new(1e-3, 0.01)).map_err(candle_core::Error::wrap)?;
    let mut dropout = DropoutRng::new(2);
    let (mut wall, mut cpu, mut phases) = (Vec::new(), Vec::new(), Vec::new());
    for step in 0..steps + 2 {
        let (start, start_cpu) = (Instant::now(), cpu_seconds());
        let batch = Batch::new(&refs, false, false, &device)?;
        let gradients_done = match engine {
            Engine::Step => {
                trainer.loss_and_grads(&batch.host, &loss, Some(&mut dropout), &mut rng);
                let done = Instant::now();
                trainer.clip_gradients(1.0);
                trainer.adamw_step();
                done
            }
            Engine::Graph => {
                let (total, _, _, _) = model.loss(&batch, &loss, Some(&mut dropout), &mut rng)?;
                let grads = total.backward()?;
                let done = Instant::now();
                candle_nn::Optimizer::step(&mut optimizer, &grads)?;
                done
            }
        };
        // The first steps warm up allocator and thread pools.
        if step >= 2 {
            wall.push(start.elapsed().as_secs_f64());
            cpu.push(cpu_seconds() - start_cpu);
            phases.push([
                (gradients_done - start).as_secs_f64(),
                gradients_done.elapsed().as_secs_f64(),
            ]);
        }
    }
    let phase = |k: usize| median(phases.iter().map(|p: &[f64; 2]| p[k]).collect()) * 1e3;
    println!(
        "{}: {:.1} ms/step wall, {:.1} ms/step cpu (median of {steps}; loss and gradients {:.1} ms, optimiser {:.1} ms)",
        train_label(engine, heads, t, items),
        median(wall) * 1e3,
        median(cpu) * 1e3,
        phase(0),
        phase(1)
    );
    Ok(())
}

const DEFAULT_LABEL: &str =
    "train[step] default model d=64 layers=2 heads=2 T=50 B=16 items=4517 full softmax+17 features+finish prior+NTR";

/// The default model's training step: cross-session rows of a synthetic history whose tracks
/// repeat (a few hundred favourites among 4,517, a khushi-sized catalogue), every query's 17
/// history features and finish prior rebuilt from the timeline inside the step, the full softmax over the
/// catalogue, the not-to-recommend term at skipped next plays.
fn train_default_steps(steps: usize) -> candle_core::Result<()> {
    let items = 4_517usize;
    let v = vocab(items);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let sessions: Vec<Session> = (0..400)
        .map(|s| Session {
            plays: (0..12i64)
                .map(|k| Play {
                    item: if rng.random_bool(0.7) {
                        rng.random_range(1..=300)
                    } else {
                        rng.random_range(1..=items as u32)
                    },
                    skipped: rng.random_bool(0.45),
                    ts_ms: 1_700_000_000_000 + s * 20_000_000 + k * 200_000,
                })
                .collect(),
        })
        .collect();
    let timeline = Arc::new(Timeline::new(&sessions, ItemGroups::of(&v), &[]));
    let rows = rows_from_history(&sessions, 50);
    let refs: Vec<_> = rows.iter().rev().take(16).collect();
    let config = TrainConfig::default();
    let model = SeqModel::new(config.model, &v, DType::F32, 1, &Device::Cpu)?;
    // The Transformer's stage as `skipless train` runs it: its learning rate, the tables fixed.
    let adamw = AdamWConfig {
        embedding_lr_scale: config.embedding_lr_scale,
        ..AdamWConfig::new(config.lr, config.weight_decay)
    };
    let mut trainer = Trainer::new(&model, &v, adamw)
        .map_err(candle_core::Error::wrap)?
        .with_timeline(timeline);
    let batch = HostBatch::new(&refs, false, true);
    let mut dropout = DropoutRng::new(2);
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for step in 0..steps + 2 {
        let (start, start_cpu) = (Instant::now(), cpu_seconds());
        trainer.step(&batch, &config.loss, Some(&mut dropout), &mut rng, 1.0);
        if step >= 2 {
            wall.push(start.elapsed().as_secs_f64());
            cpu.push(cpu_seconds() - start_cpu);
        }
    }
    println!(
        "{DEFAULT_LABEL}: {:.1} ms/step wall, {:.1} ms/step cpu (median of {steps}; {} queries)",
        median(wall) * 1e3,
        median(cpu) * 1e3,
        batch.queries.len()
    );
    Ok(())
}

fn main() -> candle_core::Result<()> {
    let steps = std::env::var("SKIPLESS_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10usize)
        .max(1);
    // `cargo bench --bench train -- step T=200` runs only the lines whose label contains every word.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |label: &str| filter.iter().all(|f| label.contains(f.as_str()));
    for engine in [Engine::Step, Engine::Graph] {
        for (heads, t, items, steps) in [
            (2, 50, 10_000, steps),
            (1, 50, 10_000, steps),
            (2, 200, 100_000, steps.div_ceil(3)),
        ] {
            if wanted(&train_label(engine, heads, t, items)) {
                train_steps(engine, heads, t, items, steps)?;
            }
        }
    }
    if wanted(DEFAULT_LABEL) {
        train_default_steps(steps)?;
    }
    if !wanted(SCORE_LABEL) {
        return Ok(());
    }

    // The served ranking of the default model (history features, finish term) over 100k library
    // tracks, 2,000 of them played (the model's vocabulary), the rest new to it: the work of one
    // autoplay pick.
    let tracks: Vec<Track> = (0..100_000)
        .map(|i| Track {
            id: i as i64 + 1,
            title: format!("t{i}"),
            artist: Some(format!("a{}", i / 10).into()),
            album: Some(format!("b{}", i / 12).into()),
            genre: Some(format!("g{}", i % 20).into()),
            year: Some(1960 + (i % 60) as i16),
            ..Track::default()
        })
        .collect();
    let mut big = Vocab::default();
    for t in &tracks[..2_000] {
        big.intern(&item_key_of(t), t);
    }
    let config = TrainConfig::default();
    let model = SeqModel::new(config.model, &big, DType::F32, 1, &Device::Cpu)?;
    let checkpoint = Checkpoint {
        meta: CheckpointMeta {
            format_version: FORMAT_VERSION,
            vocab: big,
            config,
            validation: Metrics::default(),
            best_epoch: 1,
            transformer_kept: true,
            trained_at: String::new(),
            plays_seen: 0,
        },
        model,
    };
    let mut log = ListeningLog::default();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (k, t) in tracks.iter().enumerate() {
        log.tracks.insert(std::sync::Arc::new(t.clone()));
        if k < 2_000 {
            log.plays.push(LoggedPlay {
                track_id: rng.random_range(1..=2_000),
                session_id: k as i64 / 20,
                skipped: rng.random_bool(0.3),
                ts_ms: k as i64 * 200_000,
            });
        }
    }
    let mut recommender = Recommender::new(checkpoint).map_err(candle_core::Error::wrap)?;
    recommender.replay(&log);
    let session: Vec<(i64, bool)> = log.plays[log.plays.len() - 20..]
        .iter()
        .map(|p| (p.track_id, p.skipped))
        .collect();
    let filters = Filters {
        limit: 10,
        exclude_current: true,
        exclude_skipped: true,
        recent: Vec::new(),
        queued: Vec::new(),
        passed_over: Vec::new(),
        turned_down: Vec::new(),
        copies: Vec::new(),
        max_per_artist: 2,
        temperature: 0.0,
        seed: 0,
        now_ms: Some(2_000 * 200_000),
        finish_weight: 2.0,
        radio: None,
    };
    let candidates: Vec<_> = tracks.iter().cloned().map(std::sync::Arc::new).collect();
    let mut timings = Vec::new();
    for _ in 0..9 {
        let start = Instant::now();
        let picks = recommender
            .rank(&session, &candidates, &filters)
            .map_err(candle_core::Error::wrap)?;
        assert_eq!(picks.len(), 10);
        timings.push(start.elapsed().as_secs_f64());
    }
    println!("{SCORE_LABEL}: {:.2} ms wall (median of 9)", median(timings) * 1e3);
    Ok(())
}
