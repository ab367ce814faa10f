//! The default model on synthetic histories where the answer is known: one where only the order
//! of plays (and whether the last one was skipped) tells the next track, which the Transformer
//! must learn and the features alone cannot; one where repeats decide, which the features learn;
//! and one where liked tracks are played more once liked: the like feature is learned, and served
//! a like counts from its moment on, never before.

use std::sync::atomic::AtomicBool;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use skipless::play::LoggedPlay;
use skipless::recommend::checkpoint::{Checkpoint, CheckpointMeta, FORMAT_VERSION};
use skipless::recommend::data::{item_key_of, Play, Session, Vocab};
use skipless::recommend::features::ItemGroups;
use skipless::recommend::infer::{Filters, Recommender};
use skipless::recommend::log::ListeningLog;
use skipless::recommend::metrics::Metrics;
use skipless::recommend::model::{LossConfig, ModelConfig, SeqModel};
use skipless::recommend::rank::{metrics_of, model_ranks, Ranked, FINISH_WEIGHT};
use skipless::recommend::train::{train_model, TrainConfig, TrainData, TrainOutcome, LIKE_PRIOR};
use skipless::track::Track;

fn vocab(n: usize) -> Vocab {
    let mut v = Vocab::default();
    for i in 0..n {
        let track = Track {
            title: format!("t{i}"),
            artist: Some(format!("a{i}").into()),
            ..Track::default()
        };
        v.intern(&item_key_of(&track), &track);
    }
    v
}

/// Sessions of `len` plays two hours apart, plays three minutes apart; `next` picks each play
/// from the ones before it in the session (the first from `first`).
fn sessions(
    count: usize,
    len: usize,
    seed: u64,
    mut first: impl FnMut(&mut ChaCha8Rng) -> u32,
    mut next: impl FnMut(&mut ChaCha8Rng, &[Play]) -> (u32, bool),
) -> Vec<Session> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|s| {
            let mut plays: Vec<Play> = Vec::new();
            for k in 0..len {
                let (item, skipped) = if k == 0 {
                    (first(&mut rng), rng.random_bool(0.5))
                } else {
                    next(&mut rng, &plays)
                };
                plays.push(Play {
                    item,
                    skipped,
                    ts_ms: s as i64 * 7_200_000 + k as i64 * 180_000,
                });
            }
            Session { plays }
        })
        .collect()
}

fn train(v: &Vocab, sessions: &[Session], val_start: usize, transformer: bool) -> TrainOutcome {
    train_from(v, sessions, val_start, transformer, None)
}

/// [`train`], starting from `init` (a previous model and its vocabulary) when given.
fn train_from(
    v: &Vocab,
    sessions: &[Session],
    val_start: usize,
    transformer: bool,
    init: Option<(&SeqModel, &Vocab)>,
) -> TrainOutcome {
    let config = TrainConfig {
        model: ModelConfig {
            d: 32,
            layers: 1,
            heads: 1,
            ffn: 32,
            max_len: 8,
            dropout: 0.0,
            side_features: false,
            ..ModelConfig::default()
        },
        // Skips here are coin flips, so the not-to-recommend term would only hold the right next
        // track back; this history tests the order, not the negatives.
        loss: LossConfig {
            ntr_lambda: 0.0,
            ..LossConfig::default()
        },
        lr: 1e-2,
        // A 16-track catalogue: no need to slow the item embeddings down.
        embedding_lr_scale: 1.0,
        batch_size: 8,
        max_epochs: 100,
        patience: 20,
        min_steps: 0,
        transformer,
        ..TrainConfig::default()
    };
    let data = TrainData {
        vocab: v,
        sessions: &sessions[..val_start + (sessions.len() - val_start) / 2],
        val_start,
        likes: &[],
    };
    train_model(data, &config, init, &mut |_| {}, &AtomicBool::new(false)).unwrap()
}

/// `model`'s weight of feature `k`.
fn feature_weight(model: &SeqModel, k: usize) -> f32 {
    let (_, weights) = model.named_tensors().find(|(n, _)| *n == "feature.weight").unwrap();
    weights.flatten_all().unwrap().to_vec1::<f32>().unwrap()[k]
}

/// HR@1 of the served ranking over the listened positions of the last half of the held-out sessions.
fn hit_rate_at_1(
    outcome: &TrainOutcome,
    vocab: &Vocab,
    sessions: &[Session],
    test_start: usize,
    popularity: &[u32],
) -> f64 {
    let ranked: Vec<Ranked> = model_ranks(
        &outcome.model,
        sessions,
        &ItemGroups::of(vocab),
        test_start..sessions.len(),
        &[],
        popularity,
    )
    .unwrap();
    let listened: Vec<&Ranked> = ranked.iter().filter(|r| !r.skipped).collect();
    listened.iter().filter(|r| r.rank == 1).count() as f64 / listened.len() as f64
}

#[test]
fn an_order_pattern_is_learned_by_the_transformer_and_not_by_the_features() {
    // After a skipped track the listener goes one step on, after a finished one two steps: the
    // same item is followed equally often by both, so only the order with its skip flags tells.
    let n = 16u32;
    let v = vocab(n as usize);
    let all = sessions(
        160,
        10,
        1,
        |rng| rng.random_range(1..=n),
        |rng, before| {
            let last = before[before.len() - 1];
            let step = if last.skipped { 1 } else { 2 };
            ((last.item - 1 + step) % n + 1, rng.random_bool(0.5))
        },
    );
    let popularity = vec![0u32; n as usize];
    let joint = train(&v, &all, 120, true);
    assert!(
        joint.transformer_kept,
        "the Transformer should beat the features on validation"
    );
    let hr = hit_rate_at_1(&joint, &v, &all, 140, &popularity);
    assert!(hr >= 0.9, "HR@1 with the Transformer {hr}");
    let features_only = train(&v, &all, 120, false);
    let hr_features = hit_rate_at_1(&features_only, &v, &all, 140, &popularity);
    assert!(hr_features < 0.7, "HR@1 of the features alone {hr_features}");

    // A retrain from the joint model made as one from before the like had a prior (its weight
    // 0), on a log without likes, gives the like its prior back.
    let mut tensors: std::collections::HashMap<String, candle_core::Tensor> = joint
        .model
        .named_tensors()
        .map(|(n, t)| (n.to_owned(), t.copy().unwrap()))
        .collect();
    let weights = &tensors["feature.weight"];
    let mut values = weights.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values[12] = 0.0;
    let zeroed = candle_core::Tensor::from_vec(values, weights.shape(), weights.device()).unwrap();
    tensors.insert("feature.weight".into(), zeroed);
    let old = SeqModel::from_tensors(joint.model.config, &v, tensors, &candle_core::Device::Cpu).unwrap();
    assert_eq!(feature_weight(&old, 12), 0.0);
    let again = train_from(&v, &all, 120, true, Some((&old, &v)));
    assert!(again.transformer_kept);
    let liked = feature_weight(&again.model, 12);
    assert!(liked > 0.5 * LIKE_PRIOR, "the like's weight after the retrain {liked}");
}

#[test]
fn repeats_are_learned_by_the_features() {
    // 200 tracks; nine plays in ten come from the same ten favourites, in random order.
    let n = 200u32;
    let v = vocab(n as usize);
    let pick = |rng: &mut ChaCha8Rng| {
        if rng.random_bool(0.9) {
            rng.random_range(1..=10)
        } else {
            rng.random_range(11..=n)
        }
    };
    let all = sessions(120, 10, 2, pick, |rng, _| (pick(rng), rng.random_bool(0.2)));
    let features_only = train(&v, &all, 90, false);
    let ranked = model_ranks(
        &features_only.model,
        &all,
        &ItemGroups::of(&v),
        105..all.len(),
        &[],
        &vec![0; n as usize],
    )
    .unwrap();
    let m = metrics_of(&ranked);
    // A favourite is next 90% of the time and the ten favourites fill the top ten.
    assert!(m.hr10 >= 0.85, "HR@10 of the features {}", m.hr10);
}

#[test]
fn a_like_is_a_feature_from_its_moment_on_and_liked_tracks_rank_higher() {
    // 80 tracks; from session 30 on the listener has liked tracks 1-8 and half the plays are of
    // them; before, plays are uniform.
    let n = 80u32;
    let v = vocab(n as usize);
    let liked_at = 30 * 7_200_000 - 1;
    let mut count = 0usize;
    let all = sessions(
        120,
        10,
        3,
        |rng| rng.random_range(1..=n),
        |rng, before| {
            count += 1;
            let after_like = before[0].ts_ms > liked_at;
            let item = if after_like && rng.random_bool(0.5) {
                rng.random_range(1..=8)
            } else {
                rng.random_range(1..=n)
            };
            (item, rng.random_bool(0.2))
        },
    );
    assert!(count > 0);
    let likes: Vec<(u32, i64)> = (1..=8).map(|i| (i, liked_at)).collect();
    let config = TrainConfig {
        model: ModelConfig {
            d: 16,
            layers: 1,
            heads: 1,
            ffn: 16,
            max_len: 8,
            side_features: false,
            ..ModelConfig::default()
        },
        transformer: false,
        ..TrainConfig::default()
    };
    let fit = |likes: &[(u32, i64)]| {
        let data = TrainData {
            vocab: &v,
            sessions: &all[..105],
            val_start: 90,
            likes,
        };
        let outcome = train_model(data, &config, None, &mut |_| {}, &AtomicBool::new(false)).unwrap();
        let ranked = model_ranks(
            &outcome.model,
            &all,
            &ItemGroups::of(&v),
            105..all.len(),
            likes,
            &vec![0; n as usize],
        )
        .unwrap();
        (outcome, metrics_of(&ranked))
    };
    let (with_likes, ranked) = fit(&likes);
    let liked_weight = with_likes.features_only.as_ref().unwrap().weights[12];
    assert!(liked_weight > 0.1, "weight of the like feature {liked_weight}");
    assert!(ranked.hr10 > 0.3, "{ranked:?}");
    // A log without likes leaves the like's weight where it starts, so a like given after
    // training counts at once.
    let (without_likes, _) = fit(&[]);
    let weights = &without_likes.features_only.as_ref().unwrap().weights;
    assert_eq!(weights[12], LIKE_PRIOR, "{weights:?}");

    // Served: a track liked before the moment scores higher than the same track unliked; a like
    // given after the moment changes nothing.
    let tracks: Vec<Track> = (1..=n)
        .map(|i| Track {
            id: i64::from(i),
            title: format!("t{}", i - 1),
            artist: Some(format!("a{}", i - 1).into()),
            ..Track::default()
        })
        .collect();
    let mut log = ListeningLog::default();
    for t in &tracks {
        log.tracks.insert(std::sync::Arc::new(t.clone()));
    }
    for (s, session) in all.iter().enumerate() {
        for p in &session.plays {
            log.plays.push(LoggedPlay {
                track_id: i64::from(p.item),
                session_id: s as i64 + 1,
                skipped: p.skipped,
                ts_ms: p.ts_ms,
            });
        }
    }
    let now = log.plays.last().unwrap().ts_ms + 60_000;
    let score_of = |outcome: &TrainOutcome, liked: Option<i64>| {
        let checkpoint = Checkpoint {
            meta: CheckpointMeta {
                format_version: FORMAT_VERSION,
                vocab: v.clone(),
                config,
                validation: Metrics::default(),
                best_epoch: 1,
                transformer_kept: false,
                trained_at: String::new(),
                plays_seen: 0,
            },
            model: features_model(outcome),
        };
        let mut recommender = Recommender::new(checkpoint).unwrap();
        let mut log = log.clone();
        log.likes.extend(likes.iter().map(|&(i, at)| (i64::from(i), at)));
        if let Some(at) = liked {
            log.likes.insert(60, at);
        }
        recommender.replay(&log);
        let filters = Filters {
            limit: n as usize,
            exclude_current: false,
            exclude_skipped: false,
            recent: Vec::new(),
            queued: Vec::new(),
            passed_over: Vec::new(),
            turned_down: Vec::new(),
            copies: Vec::new(),
            max_per_artist: 0,
            temperature: 0.0,
            seed: 0,
            now_ms: Some(now),
            finish_weight: FINISH_WEIGHT,
            radio: None,
        };
        let picks = recommender
            .rank(&[], &crate::common::shared(&tracks), &filters)
            .unwrap();
        picks.iter().find(|p| p.track_id == 60).unwrap().score
    };
    let unliked = score_of(&with_likes, None);
    assert!(
        score_of(&with_likes, Some(now - 1)) > unliked + 0.05,
        "a like before the moment counts"
    );
    assert!(
        (score_of(&with_likes, Some(now + 3_600_000)) - unliked).abs() < 1e-5,
        "a like from the future does not"
    );
    // A like given after a model trained on a log without likes lifts its track at once.
    let unliked = score_of(&without_likes, None);
    let lift = score_of(&without_likes, Some(now - 1)) - unliked;
    // Scores are log-probabilities: the liked track's own larger share of the normaliser takes
    // a little off.
    assert!((lift - LIKE_PRIOR).abs() < 0.01, "a like lifts its track by {lift}");
}

/// The trained model's weights in a model of its own (checkpoints own their model).
fn features_model(outcome: &TrainOutcome) -> SeqModel {
    let tensors = outcome
        .model
        .named_tensors()
        .map(|(n, t)| (n.to_owned(), t.copy().unwrap()))
        .collect();
    SeqModel::from_tensors(outcome.model.config, &vocab(80), tensors, &candle_core::Device::Cpu).unwrap()
}
