//! The model and its losses: gradients against finite differences, the same-session negatives
//! rule, gradients reaching every parameter, and learning a synthetic sequential pattern.

use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use skipless::recommend::data::{rows_from_sessions, Batch, Play, Session, Vocab, Window, MASKED};
use skipless::recommend::model::{cl_loss, normal, rec_loss, Anchor, LossConfig, ModelConfig, SeqModel};
use skipless::recommend::train::{train_model, TrainConfig, TrainData};
use skipless::track::Track;

fn vocab(n: usize) -> Vocab {
    let mut v = Vocab::default();
    for i in 0..n {
        v.intern(
            &format!("track{i}"),
            &Track {
                title: format!("track{i}"),
                artist: Some(format!("artist{}", i % 3).into()),
                album: Some(format!("album{}", i % 5).into()),
                genre: Some("rock".into()),
                year: Some(1990 + i as i16),
                ..Track::default()
            },
        );
    }
    v
}

fn session(items: &[(u32, bool)]) -> Session {
    Session {
        plays: items
            .iter()
            .enumerate()
            .map(|(i, &(item, skipped))| Play {
                item,
                skipped,
                ts_ms: i as i64 * 1000,
            })
            .collect(),
    }
}

/// Compares the gradient of `f` at `var` with central differences, entry by entry.
fn check_gradient(var: &Var, f: &dyn Fn() -> Tensor) {
    let grads = f().backward().unwrap();
    let analytic: Vec<f64> = grads
        .get(var.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let base: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
    let shape = var.as_tensor().shape().clone();
    let eps = 1e-6;
    for i in 0..base.len() {
        let mut plus = base.clone();
        plus[i] += eps;
        var.set(&Tensor::from_vec(plus, &shape, &Device::Cpu).unwrap()).unwrap();
        let up = f().to_scalar::<f64>().unwrap();
        let mut minus = base.clone();
        minus[i] -= eps;
        var.set(&Tensor::from_vec(minus, &shape, &Device::Cpu).unwrap())
            .unwrap();
        let down = f().to_scalar::<f64>().unwrap();
        var.set(&Tensor::from_vec(base.clone(), &shape, &Device::Cpu).unwrap())
            .unwrap();
        let numeric = (up - down) / (2.0 * eps);
        assert!(
            (numeric - analytic[i]).abs() <= 1e-6 + 1e-4 * numeric.abs(),
            "entry {i}: numeric {numeric}, analytic {}",
            analytic[i]
        );
    }
}

fn random_var(rng: &mut ChaCha8Rng, shape: &[usize]) -> Var {
    Var::from_tensor(
        &normal(rng, shape, 1.0, &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn rec_loss_gradient_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let hidden = random_var(&mut rng, &[3, 4]);
    let items = random_var(&mut rng, &[5, 4]);
    let targets = Tensor::new(&[0u32, 3, 4], &Device::Cpu).unwrap();
    let f = || rec_loss(hidden.as_tensor(), items.as_tensor(), &targets).unwrap();
    check_gradient(&hidden, &f);
    check_gradient(&items, &f);
}

#[test]
fn cl_loss_gradient_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (b, t, k, d) = (2, 3, 2, 4);
    let anchors = random_var(&mut rng, &[b, t, d]);
    let positives = random_var(&mut rng, &[b, t, d]);
    let negatives = random_var(&mut rng, &[b, k, d]);
    // Row 1 has a single usable negative; position (0, 2) and (1, 0) do not contribute.
    let mut mask = vec![0f64; b * t * (k + 1)];
    for pos in 0..t {
        mask[(t + pos) * (k + 1) + 2] = MASKED as f64;
    }
    let mask = Tensor::from_vec(mask, (b, t, k + 1), &Device::Cpu).unwrap();
    let valid = Tensor::new(&[[1f64, 1., 0.], [0., 1., 1.]], &Device::Cpu).unwrap();
    let f = || {
        cl_loss(
            anchors.as_tensor(),
            positives.as_tensor(),
            negatives.as_tensor(),
            &mask,
            &valid,
            0.5,
        )
        .unwrap()
    };
    check_gradient(&anchors, &f);
    check_gradient(&positives, &f);
    check_gradient(&negatives, &f);
}

fn tiny_config() -> ModelConfig {
    ModelConfig {
        d: 8,
        layers: 2,
        heads: 2,
        ffn: 8,
        max_len: 6,
        dropout: 0.1,
        skip_embedding: true,
        side_features: true,
        ..ModelConfig::sasrec()
    }
}

#[test]
fn negatives_come_from_the_same_session_only() {
    let a = session(&[(1, false), (2, true), (3, false), (4, false)]);
    let b = session(&[(5, false), (6, true), (7, true), (8, false)]);
    let c = session(&[(5, false), (9, true), (10, true), (8, false)]);
    let sessions = [a.clone(), b, c];
    let indexed: Vec<(usize, &Session)> = sessions.iter().enumerate().collect();
    let rows = rows_from_sessions(&indexed, 6);
    for row in &rows {
        let skipped: Vec<u32> = sessions[row.sessions[0] as usize]
            .plays
            .iter()
            .filter(|p| p.skipped)
            .map(|p| p.item)
            .collect();
        assert!(row.negatives.iter().all(|n| skipped.contains(n)), "{row:?}");
    }

    // Session a's contrastive loss must not move when another session in the batch skips other tracks.
    let v = vocab(10);
    let model = SeqModel::new(tiny_config(), &v, DType::F32, 3, &Device::Cpu).unwrap();
    let loss = LossConfig {
        cl_lambda: 1.0,
        cl_tau: 0.1,
        anchor: Anchor::Hidden,
        sampled_negatives: None,
        rec_on_skipped: false,
        ntr_lambda: 0.0,
        finish_prior: 0.0,
    };
    let only_first_row = |batch: &Batch| -> f32 {
        let out = model.forward(&batch.ids, &batch.skips, &batch.gaps, None).unwrap();
        let (bsz, t) = batch.ids.dims2().unwrap();
        let k = batch.negatives.dim(1).unwrap();
        let table = &model.item_table().unwrap();
        let pos = table
            .index_select(&batch.positives.flatten_all().unwrap(), 0)
            .unwrap()
            .reshape((bsz, t, 8))
            .unwrap();
        let neg = table
            .index_select(&batch.negatives.flatten_all().unwrap(), 0)
            .unwrap()
            .reshape((bsz, k, 8))
            .unwrap();
        let keep = Tensor::new(&[1f32, 0.], &Device::Cpu).unwrap().unsqueeze(1).unwrap();
        let valid = batch.cl_valid.broadcast_mul(&keep).unwrap();
        cl_loss(&out.hidden, &pos, &neg, &batch.cl_mask, &valid, 0.1)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let rows_ab: Vec<_> = rows.iter().filter(|r| r.sessions[0] != 2).collect();
    let rows_ac: Vec<_> = rows.iter().filter(|r| r.sessions[0] != 1).collect();
    let with_b = only_first_row(&Batch::new(&rows_ab, false, false, &Device::Cpu).unwrap());
    let with_c = only_first_row(&Batch::new(&rows_ac, false, false, &Device::Cpu).unwrap());
    assert!(with_b > 0.0);
    assert_eq!(with_b, with_c, "negatives leaked across sessions");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let batch = Batch::new(&rows_ab, false, false, &Device::Cpu).unwrap();
    assert!(model.loss(&batch, &loss, None, &mut rng).unwrap().2 > 0.0);
}

#[test]
fn every_parameter_receives_a_gradient() {
    let v = vocab(10);
    for anchor in [Anchor::Hidden, Anchor::Input] {
        let model = SeqModel::new(tiny_config(), &v, DType::F32, 4, &Device::Cpu).unwrap();
        let sessions = [
            session(&[(1, false), (2, true), (3, false), (4, false), (2, false)]),
            session(&[(5, true), (6, false), (7, true), (8, false), (9, false)]),
        ];
        let indexed: Vec<(usize, &Session)> = sessions.iter().enumerate().collect();
        let rows = rows_from_sessions(&indexed, 6);
        let refs: Vec<_> = rows.iter().collect();
        let batch = Batch::new(&refs, false, false, &Device::Cpu).unwrap();
        let loss = LossConfig {
            anchor,
            ..LossConfig::sasrec(1.0)
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut dropout = skipless::recommend::model::DropoutRng::new(1);
        let (total, _, _, _) = model.loss(&batch, &loss, Some(&mut dropout), &mut rng).unwrap();
        let grads = total.backward().unwrap();
        for (name, tensor) in model.named_tensors() {
            let g = grads.get(tensor).unwrap_or_else(|| panic!("{name} has no gradient"));
            let norm = g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(norm > 0.0, "{name} has a zero gradient");
        }
    }
}

#[test]
fn learns_a_sequential_pattern() {
    let n = 12u32;
    let v = vocab(n as usize);
    let mut rng_state = 7u32;
    let mut sessions = Vec::new();
    for _ in 0..80 {
        rng_state = rng_state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let start = (rng_state >> 16) % n;
        let plays: Vec<(u32, bool)> = (0..6).map(|k| ((start + k) % n + 1, false)).collect();
        sessions.push(session(&plays));
    }
    let config = TrainConfig {
        model: ModelConfig {
            d: 16,
            layers: 1,
            heads: 1,
            ffn: 16,
            max_len: 6,
            dropout: 0.0,
            side_features: false,
            ..ModelConfig::sasrec()
        },
        loss: LossConfig::sasrec(0.0),
        lr: 1e-2,
        batch_size: 16,
        max_epochs: 40,
        patience: 40,
        ..TrainConfig::default()
    };
    let data = TrainData {
        vocab: &v,
        sessions: &sessions,
        val_start: 64,
        likes: &[],
    };
    let outcome = train_model(data, &config, None, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let mut hits = 0;
    let mut total = 0;
    for s in &sessions[64..] {
        for i in 1..s.plays.len() {
            let ids: Vec<u32> = s.plays[..i].iter().map(|p| p.item).collect();
            let scores: Vec<Vec<f32>> = outcome
                .model
                .score_windows(&[Window {
                    skips: vec![false; i],
                    gaps: vec![0; i],
                    ids,
                }])
                .unwrap()
                .to_vec2()
                .unwrap();
            let best = scores[0]
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            hits += usize::from(best as u32 + 1 == s.plays[i].item);
            total += 1;
        }
    }
    let hr1 = hits as f64 / total as f64;
    assert!(hr1 >= 0.95, "HR@1 {hr1}");
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let v = vocab(10);
    let sessions: Vec<Session> = (0..20)
        .map(|s| {
            session(
                &(0..5)
                    .map(|k| ((s + k * 3) % 10 + 1, (s + k) % 4 == 0))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let config = TrainConfig {
        model: tiny_config(),
        batch_size: 4,
        max_epochs: 3,
        min_steps: 0,
        ..TrainConfig::default()
    };
    let run = || {
        let data = TrainData {
            vocab: &v,
            sessions: &sessions,
            val_start: 16,
            likes: &[],
        };
        let out = train_model(data, &config, None, &mut |_| {}, &AtomicBool::new(false)).unwrap();
        out.model
            .named_tensors()
            .map(|(_, t)| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}
