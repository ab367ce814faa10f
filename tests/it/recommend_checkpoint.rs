//! Checkpoints (round trip, corrupt and foreign-version files refused, warm start), the metrics on
//! a hand-computed case, and live ranking with its filters.

use candle_core::{DType, Device};
use skipless::play::LoggedPlay;
use skipless::recommend::checkpoint::{Checkpoint, CheckpointMeta, FORMAT_VERSION, MODEL_FILE};
use skipless::recommend::data::{item_key_of, Vocab};
use skipless::recommend::infer::{fallback_rank, Filters, Recommender};
use skipless::recommend::log::ListeningLog;
use skipless::recommend::metrics::{protocol_rank, Metrics};
use skipless::recommend::model::{ModelConfig, SeqModel};
use skipless::recommend::train::TrainConfig;
use skipless::recommend::RecommendError;
use skipless::track::Track;

fn track(id: i64, artist: &str) -> Track {
    Track {
        id,
        title: format!("song {id}"),
        artist: Some(artist.into()),
        album: Some(format!("{artist} album").into()),
        year: Some(2000),
        ..Track::default()
    }
}

fn library() -> Vec<Track> {
    (1..=8).map(|i| track(i, if i <= 4 { "A" } else { "B" })).collect()
}

fn checkpoint(tracks: &[Track]) -> Checkpoint {
    let mut vocab = Vocab::default();
    for t in tracks {
        vocab.intern(&item_key_of(t), t);
    }
    let config = TrainConfig {
        model: ModelConfig {
            d: 8,
            layers: 1,
            heads: 2,
            ffn: 8,
            max_len: 5,
            dropout: 0.0,
            ..ModelConfig::default()
        },
        ..TrainConfig::default()
    };
    let model = SeqModel::new(config.model, &vocab, DType::F32, 9, &Device::Cpu).unwrap();
    Checkpoint {
        meta: CheckpointMeta {
            format_version: FORMAT_VERSION,
            vocab,
            config,
            validation: Metrics::default(),
            best_epoch: 1,
            transformer_kept: true,
            trained_at: "2025-01-01T00:00:00Z".into(),
            plays_seen: 42,
        },
        model,
    }
}

#[test]
fn checkpoint_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let original = checkpoint(&library());
    original.save(dir.path()).unwrap();
    let loaded = Checkpoint::load(dir.path()).unwrap().unwrap();
    assert_eq!(loaded.meta, original.meta);
    for ((n1, t1), (n2, t2)) in original.model.named_tensors().zip(loaded.model.named_tensors()) {
        assert_eq!(n1, n2);
        let diff = (t1 - t2)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(diff, 0.0, "{n1}");
    }
    assert!(dir.path().join("model.json").exists());
    assert!(Checkpoint::load(&dir.path().join("none")).unwrap().is_none());
}

#[test]
fn corrupt_and_foreign_checkpoints_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(MODEL_FILE),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json",
    )
    .unwrap();
    let err = Checkpoint::load(dir.path()).err().unwrap();
    assert!(matches!(err, RecommendError::Checkpoint { .. }), "{err}");
    assert_eq!(err.to_string().lines().count(), 1);

    let mut foreign = checkpoint(&library());
    foreign.meta.format_version = FORMAT_VERSION + 1;
    foreign.save(dir.path()).unwrap();
    let err = Checkpoint::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("format version"), "{err}");

    // Truncation, as after a crash without the atomic rename.
    let good = checkpoint(&library());
    good.save(dir.path()).unwrap();
    let bytes = std::fs::read(dir.path().join(MODEL_FILE)).unwrap();
    std::fs::write(dir.path().join(MODEL_FILE), &bytes[..bytes.len() / 2]).unwrap();
    assert!(Checkpoint::load(dir.path()).is_err());
}

/// Sizes the tensors' shapes do not pin down (the head count, feature ids) would otherwise load
/// and panic at the first pick: they are refused at load time, in one line.
#[test]
fn a_checkpoint_whose_metadata_contradicts_its_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut headless = checkpoint(&library());
    headless.meta.config.model.heads = 0;
    headless.save(dir.path()).unwrap();
    let err = Checkpoint::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("width 8 does not split into 0 attention heads"), "{err}");
    assert_eq!(err.lines().count(), 1);

    let mut uneven = checkpoint(&library());
    uneven.meta.config.model.heads = 3;
    uneven.save(dir.path()).unwrap();
    let err = Checkpoint::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("width 8 does not split into 3 attention heads"), "{err}");

    let mut stray = checkpoint(&library());
    stray.meta.vocab.items[2].features.artist = u32::MAX;
    stray.save(dir.path()).unwrap();
    let err = Checkpoint::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains(&format!("item 3's artist id {} is past its 3 rows", u32::MAX)),
        "{err}"
    );

    checkpoint(&library()).save(dir.path()).unwrap();
    assert!(Checkpoint::load(dir.path()).unwrap().is_some());
}

#[test]
fn warm_start_keeps_known_rows_and_seeds_new_ones_from_features() {
    let tracks = library();
    let old = checkpoint(&tracks[..6]);
    let mut vocab = old.meta.vocab.clone();
    vocab.intern(&item_key_of(&tracks[6]), &tracks[6]);
    vocab.intern(
        "new artist\u{1f}x",
        &Track {
            title: "x".into(),
            artist: Some("new artist".into()),
            ..Track::default()
        },
    );
    let mut grown = SeqModel::new(old.meta.config.model, &vocab, DType::F32, 1, &Device::Cpu).unwrap();
    grown.warm_start(&old.model, &old.meta.vocab, &vocab).unwrap();
    let old_items: Vec<Vec<f32>> = old.model.named_tensors().next().unwrap().1.to_vec2().unwrap();
    let new_items: Vec<Vec<f32>> = grown.named_tensors().next().unwrap().1.to_vec2().unwrap();
    assert_eq!(&new_items[..7], &old_items[..7]);
    assert!(new_items[7].iter().all(|&x| x == 0.0));
    // The new track of a known artist starts from that artist's vector.
    let table: Vec<Vec<f32>> = grown.item_table().unwrap().to_vec2().unwrap();
    assert!(table[7].iter().any(|&x| x != 0.0));
}

#[test]
fn metrics_on_a_hand_computed_case() {
    // Scores of 5 items; ties broken by popularity, then by index.
    let scores = [0.5f32, 0.9, 0.5, 0.1, 0.5];
    let popularity = [3u32, 0, 3, 9, 1];
    assert_eq!(protocol_rank(&scores, 1, &popularity), 1);
    assert_eq!(protocol_rank(&scores, 0, &popularity), 2);
    assert_eq!(protocol_rank(&scores, 2, &popularity), 3);
    assert_eq!(protocol_rank(&scores, 4, &popularity), 4);
    assert_eq!(protocol_rank(&scores, 3, &popularity), 5);
    let mut m = Metrics::default();
    m.add_listen(1);
    m.add_listen(3);
    m.add_listen(20);
    m.add_skip(2);
    m.add_skip(4);
    let m = m.finish();
    assert!((m.hr10 - 2.0 / 3.0).abs() < 1e-12);
    assert!((m.ndcg10 - (1.0 + 0.5) / 3.0).abs() < 1e-12);
    assert!((m.mrr - (1.0 + 1.0 / 3.0 + 1.0 / 20.0) / 3.0).abs() < 1e-12);
    assert!((m.skip_mrr - (0.5 + 0.25) / 2.0).abs() < 1e-12);
}

fn log(tracks: &[Track]) -> ListeningLog {
    let mut log = ListeningLog::default();
    for t in tracks {
        log.tracks.insert(std::sync::Arc::new(t.clone()));
    }
    for (session, ids) in [[1, 2, 3], [1, 2, 5], [1, 2, 3]].iter().enumerate() {
        for (k, &id) in ids.iter().enumerate() {
            log.plays.push(LoggedPlay {
                track_id: id,
                session_id: session as i64 + 1,
                skipped: id == 5,
                ts_ms: (session * 10_000_000 + k * 200_000) as i64,
            });
        }
    }
    log
}

/// Scores are log-probabilities over the model's catalogue and the tracks it has no item for,
/// together: with every one of them a candidate, their probabilities sum to 1, and none is
/// above 1 however the unseen tracks' side features score.
#[test]
fn scores_are_log_probabilities_over_the_catalogue_and_the_unseen_tracks() {
    let tracks = library();
    let mut recommender = Recommender::new(checkpoint(&tracks)).unwrap();
    recommender.replay(&log(&tracks));
    let filters = Filters {
        exclude_current: false,
        exclude_skipped: false,
        finish_weight: 0.0,
        ..picks(100)
    };
    let mut all = crate::common::shared(&tracks);
    // Unseen tracks of a known artist (their side features score) and of a new one.
    all.extend((9..=12).map(|id| std::sync::Arc::new(track(id, "A"))));
    all.extend((13..=14).map(|id| std::sync::Arc::new(track(id, "C"))));
    let ranked = recommender.rank(&[(1, false), (2, false)], &all, &filters).unwrap();
    assert_eq!(ranked.len(), all.len());
    let total: f64 = ranked.iter().map(|s| f64::from(s.score).exp()).sum();
    assert!((total - 1.0).abs() < 1e-4, "{total}: {ranked:?}");
    assert!(ranked.iter().all(|s| s.score < 0.0), "{ranked:?}");
}

#[test]
fn rank_applies_filters_and_gives_reasons() {
    let tracks = library();
    let mut recommender = Recommender::new(checkpoint(&tracks)).unwrap();
    recommender.replay(&log(&tracks));
    let session = [(1, false), (6, true)];
    let filters = Filters {
        limit: 7,
        exclude_current: true,
        exclude_skipped: true,
        recent: vec![4],
        queued: Vec::new(),
        passed_over: Vec::new(),
        turned_down: Vec::new(),
        copies: Vec::new(),
        max_per_artist: 2,
        temperature: 0.0,
        seed: 0,
        now_ms: None,
        finish_weight: 2.0,
        radio: None,
    };
    let mut extra = crate::common::shared(&tracks);
    extra.push(std::sync::Arc::new(track(9, "C")));
    let ranked = recommender.rank(&session, &extra, &filters).unwrap();
    let ids: Vec<i64> = ranked.iter().map(|s| s.track_id).collect();
    assert!(!ids.contains(&6) && !ids.contains(&4), "{ids:?}");
    assert!(ids.contains(&9), "unseen tracks are scored from their features");
    // Two of each artist first; then, the list short of its seven, the rest of theirs.
    assert_eq!(ids.len(), 7, "{ids:?}");
    let a = ids[..5].iter().filter(|&&i| i <= 4).count();
    let b = ids[..5].iter().filter(|&&i| (5..=8).contains(&i)).count();
    assert!(a <= 2 && b <= 2, "{ids:?}");
    assert!(ranked[..5].windows(2).all(|w| w[0].score >= w[1].score));
    assert!(ranked[5..].windows(2).all(|w| w[0].score >= w[1].score));
    assert!(ranked.iter().all(|s| !s.reason.is_empty()));
    // Of an artist and album the model has never seen, track 9 scores by its year's embedding
    // alone, the Transformer's term: its reason, as an item's would be.
    let nine = ranked.iter().find(|s| s.track_id == 9).unwrap();
    assert_eq!(nine.reason, "fits how this session is going");

    // Sampling is reproducible for a seed.
    let sampled = Filters {
        temperature: 1.0,
        seed: 5,
        now_ms: None,
        ..filters.clone()
    };
    assert_eq!(
        recommender.rank(&session, &extra, &sampled).unwrap(),
        recommender.rank(&session, &extra, &sampled).unwrap()
    );
}

/// Replaces each of the checkpoint model's parameters with `with(name, tensor)`.
fn replace_tensors(checkpoint: &mut Checkpoint, with: impl Fn(&str, &candle_core::Tensor) -> candle_core::Tensor) {
    let tensors = checkpoint
        .model
        .named_tensors()
        .map(|(n, t)| (n.to_owned(), with(n, t)))
        .collect();
    checkpoint.model = SeqModel::from_tensors(
        checkpoint.meta.config.model,
        &checkpoint.meta.vocab,
        tensors,
        &Device::Cpu,
    )
    .unwrap();
}

/// A track the model has no item for (never played when it was trained) still has the history
/// features a track has before its first play: a like lifts it, and so does being by the artist
/// or on the album of the last play, by the weights the model gives them; the reason says which.
#[test]
fn a_track_the_model_has_no_item_for_is_lifted_by_a_like_and_the_session_s_artist_and_album() {
    let tracks = library();
    let mut checkpoint = checkpoint(&tracks);
    // h is 0, so the side features' embedding adds nothing; the liked, same-artist and
    // same-album features weigh 1, 2 and 0.5, the others nothing.
    let mut weights = [0f32; skipless::recommend::features::N_FEATURES];
    let column = |name: &str| {
        skipless::recommend::features::FEATURES
            .iter()
            .position(|&f| f == name)
            .unwrap()
    };
    weights[column("liked")] = 1.0;
    weights[column("same artist as the last play")] = 2.0;
    weights[column("same album as the last play")] = 0.5;
    replace_tensors(&mut checkpoint, |n, t| match n {
        "feature.weight" => candle_core::Tensor::new(&weights[..], &Device::Cpu).unwrap(),
        _ if n.starts_with("head.") || n == "feature.context" => t.zeros_like().unwrap(),
        _ => t.clone(),
    });
    let mut recommender = Recommender::new(checkpoint).unwrap();
    let mut log = log(&tracks);
    // 9 and 10 by A (the last play's artist, on its album), 11 and 12 by an artist never heard;
    // 10 and 12 liked.
    let unseen = [(9, "A"), (10, "A"), (11, "C"), (12, "C")].map(|(id, artist)| std::sync::Arc::new(track(id, artist)));
    for t in &unseen {
        log.tracks.insert(t.clone());
    }
    log.likes.insert(10, 0);
    log.likes.insert(12, 0);
    recommender.replay(&log);
    let filters = Filters {
        exclude_current: false,
        exclude_skipped: false,
        finish_weight: 0.0,
        ..picks(100)
    };
    let ranked = recommender.rank(&[(1, false)], &unseen, &filters).unwrap();
    let of = |id: i64| ranked.iter().find(|s| s.track_id == id).unwrap();
    let above_11 = |id: i64| of(id).score - of(11).score;
    assert!((above_11(9) - 2.5).abs() < 1e-5, "{ranked:?}");
    assert!((above_11(10) - 3.5).abs() < 1e-5, "{ranked:?}");
    assert!((above_11(12) - 1.0).abs() < 1e-5, "{ranked:?}");
    assert_eq!(of(10).reason, "more from A");
    assert_eq!(of(12).reason, "you liked it");
    assert_eq!(of(11).reason, "new to you");
    // After the session moves to another artist, 9 is one more unheard track.
    let moved = recommender.rank(&[(1, false), (5, false)], &unseen, &filters).unwrap();
    let of = |id: i64| moved.iter().find(|s| s.track_id == id).unwrap();
    assert!((of(9).score - of(11).score).abs() < 1e-5, "{moved:?}");
}

#[test]
fn tracks_finished_more_often_rank_higher() {
    let tracks = library();
    let mut checkpoint = checkpoint(&tracks);
    // Nothing but the finish rate separates the tracks: the head output is zero (so is h · e)
    // and the feature weights are zero.
    replace_tensors(&mut checkpoint, |n, t| {
        if n.starts_with("head.") || n.starts_with("feature.") {
            t.zeros_like().unwrap()
        } else {
            t.clone()
        }
    });
    let mut recommender = Recommender::new(checkpoint).unwrap();
    let mut log = ListeningLog::default();
    for t in &tracks {
        log.tracks.insert(std::sync::Arc::new(t.clone()));
    }
    for session in 0..3i64 {
        for (k, (id, skipped)) in [(6, true), (7, false)].into_iter().enumerate() {
            log.plays.push(LoggedPlay {
                track_id: id,
                session_id: session + 1,
                skipped,
                ts_ms: session * 10_000_000 + k as i64 * 200_000,
            });
        }
    }
    recommender.replay(&log);
    let filters = Filters {
        exclude_current: false,
        exclude_skipped: false,
        seed: 0,
        finish_weight: 1.0,
        ..picks(8)
    };
    let ranked = recommender
        .rank(&[], &crate::common::shared(&tracks), &filters)
        .unwrap();
    let ids: Vec<i64> = ranked.iter().map(|s| s.track_id).collect();
    assert_eq!(ids.first(), Some(&7), "{ids:?}");
    assert_eq!(ids.last(), Some(&6), "{ids:?}");
    assert_eq!(ranked[0].reason, "you finished it 3 of 3 times");

    // Without the finish term every track scores the same.
    let plain = Filters {
        finish_weight: 0.0,
        ..filters
    };
    let ranked = recommender.rank(&[], &crate::common::shared(&tracks), &plain).unwrap();
    assert!(
        ranked.windows(2).all(|w| (w[0].score - w[1].score).abs() < 1e-6),
        "{ranked:?}"
    );
}

/// The first `limit` picks, leaving out the playing and skipped tracks, with no other filter.
fn picks(limit: usize) -> Filters {
    Filters {
        limit,
        exclude_current: true,
        exclude_skipped: true,
        recent: vec![],
        queued: Vec::new(),
        passed_over: Vec::new(),
        turned_down: Vec::new(),
        copies: Vec::new(),
        max_per_artist: 0,
        temperature: 0.0,
        seed: 1,
        now_ms: None,
        finish_weight: 2.0,
        radio: None,
    }
}

#[test]
fn fallback_prefers_similar_then_popular() {
    let tracks = library();
    let log = log(&tracks);
    let filters = picks(3);
    let ranked = fallback_rank(&[(1, false)], &tracks, &log, &filters);
    assert_eq!(ranked.len(), 3);
    assert!(ranked.iter().all(|s| s.track_id != 1 && s.track_id <= 4), "{ranked:?}");
    assert_eq!(ranked[0].track_id, 2, "most listened among the same artist's tracks");
}

/// Without a model a like still counts: among tracks of the same likeness to the session, the
/// liked one comes first and says so, and a like from after the moment ranked does not count.
#[test]
fn without_a_model_a_liked_track_comes_before_its_equals() {
    let tracks: Vec<Track> = (1..=6).map(|i| track(i, &format!("Artist {i}"))).collect();
    let mut log = ListeningLog::default();
    for t in &tracks {
        log.tracks.insert(std::sync::Arc::new(t.clone()));
    }
    log.likes.insert(5, 1_000);
    let at = |now_ms| Filters {
        now_ms: Some(now_ms),
        ..picks(6)
    };
    let ranked = fallback_rank(&[(1, false)], &tracks, &log, &at(2_000));
    assert_eq!(ranked[0].track_id, 5, "{ranked:?}");
    assert_eq!(ranked[0].reason, "you liked it");
    let before_the_like = fallback_rank(&[(1, false)], &tracks, &log, &at(500));
    assert!(
        before_the_like.iter().all(|s| s.reason != "you liked it"),
        "{before_the_like:?}"
    );
    // Likeness to the session still comes first.
    let same_artist = track(7, "Artist 1");
    let mut tracks = tracks;
    tracks.push(same_artist.clone());
    log.tracks.insert(std::sync::Arc::new(same_artist));
    let ranked = fallback_rank(&[(1, false)], &tracks, &log, &at(2_000));
    assert_eq!(
        ranked.iter().map(|s| s.track_id).take(2).collect::<Vec<_>>(),
        vec![7, 5],
        "{ranked:?}"
    );
}

#[test]
fn without_a_model_a_session_moves_on_from_an_artist_played_three_times() {
    let in_genre = |id: i64, artist: &str, genre: &str| Track {
        genre: Some(genre.into()),
        ..track(id, artist)
    };
    let tracks: Vec<Track> = (1..=8)
        .map(|id| in_genre(id, "A", "rock"))
        .chain((9..=11).map(|id| in_genre(id, "B", "rock")))
        .chain((12..=14).map(|id| in_genre(id, "C", "jazz")))
        .collect();
    let mut log = ListeningLog::default();
    for t in &tracks {
        log.tracks.insert(std::sync::Arc::new(t.clone()));
    }
    let artist_of = |id: i64| tracks[id as usize - 1].artist.as_deref().unwrap().to_owned();
    let first_pick = |session: &[(i64, bool)]| {
        let ranked = fallback_rank(session, &tracks, &log, &picks(1));
        (artist_of(ranked[0].track_id), ranked[0].reason.clone())
    };
    // Two of A's tracks listened to: more of A, from its album.
    assert_eq!(first_pick(&[(1, false), (2, false)]).0, "A");
    // A third, and the session goes on to the artist of the same genre; skipped ones do not count.
    assert_eq!(first_pick(&[(1, true), (2, false), (3, false)]).0, "A");
    let (artist, reason) = first_pick(&[(1, false), (2, false), (3, false)]);
    assert_eq!((artist.as_str(), reason.as_str()), ("B", "same genre as A – song 3"));
}

#[test]
fn picks_for_a_smaller_limit_are_the_head_of_the_picks_when_skipped_tracks_must_fill_in() {
    let tracks = library();
    let log = log(&tracks);
    // Artist A's most played tracks were skipped this session and its fourth plays: B's four
    // tracks come first, then the skipped ones, however similar to the playing track they are.
    let session = [(1, true), (2, true), (3, true), (4, false)];
    let ids = |limit| -> Vec<i64> {
        fallback_rank(&session, &tracks, &log, &picks(limit))
            .iter()
            .map(|s| s.track_id)
            .collect()
    };
    let all = ids(tracks.len());
    assert_eq!(all.len(), tracks.len() - 1, "every track but the playing one");
    for limit in 1..all.len() {
        assert_eq!(ids(limit), all[..limit], "limit {limit}");
    }
    assert!(all[..4].iter().all(|&id| id >= 5), "{all:?}");
}

#[test]
fn without_a_model_one_album_title_of_two_artists_is_two_albums_and_a_compilation_is_one() {
    let on = |id: i64, artist: &str, album: &str, album_artist: Option<&str>| Track {
        id,
        title: format!("song {id}"),
        artist: Some(artist.into()),
        album: Some(album.into()),
        album_artist: album_artist.map(Into::into),
        ..Track::default()
    };
    let tracks = [
        on(1, "X", "Greatest Hits", None),
        on(2, "Y", "Greatest Hits", None),
        on(3, "Z", "Now 99", Some("Various Artists")),
        on(4, "W", "Now 99", Some("Various Artists")),
    ];
    let mut log = ListeningLog::default();
    for t in &tracks {
        log.tracks.insert(std::sync::Arc::new(t.clone()));
    }
    let filters = picks(4);
    let reason_of = |session: i64, id: i64| {
        fallback_rank(&[(session, false)], &tracks, &log, &filters)
            .into_iter()
            .find(|s| s.track_id == id)
            .map(|s| s.reason)
            .unwrap()
    };
    assert_eq!(reason_of(1, 2), "new to you", "another artist's Greatest Hits");
    assert_eq!(reason_of(3, 4), "from the album of Z – song 3", "one compilation");
}

/// A recommender over `tracks` in which only `feature` counts, with weight 3: the head output is
/// zero (so is h · e), and so is every other weight.
fn one_feature_recommender(tracks: &[Track], feature: &str) -> Recommender {
    use skipless::recommend::features::FEATURES;
    let mut checkpoint = checkpoint(tracks);
    let weights: Vec<f32> = FEATURES.iter().map(|&f| if f == feature { 3.0 } else { 0.0 }).collect();
    replace_tensors(&mut checkpoint, |n, t| match n {
        "feature.weight" => candle_core::Tensor::new(weights.as_slice(), &Device::Cpu).unwrap(),
        _ if n.starts_with("head.") || n.starts_with("feature.") => t.zeros_like().unwrap(),
        _ => t.clone(),
    });
    Recommender::new(checkpoint).unwrap()
}

#[test]
fn the_artist_and_album_playing_lift_their_tracks_never_played_and_say_so() {
    let tracks = library();
    for (feature, reason) in [
        ("same artist as the last play", "more from B"),
        ("same album as the last play", "on B album, as the last track was"),
    ] {
        let mut recommender = one_feature_recommender(&tracks, feature);
        let mut log = ListeningLog::default();
        for t in &tracks {
            log.tracks.insert(std::sync::Arc::new(t.clone()));
        }
        // Track 5, by B, is the only track ever played.
        log.plays.push(LoggedPlay {
            track_id: 5,
            session_id: 1,
            skipped: false,
            ts_ms: 1_700_000_000_000,
        });
        recommender.replay(&log);
        let filters = Filters {
            limit: 3,
            exclude_current: true,
            exclude_skipped: false,
            recent: vec![],
            queued: Vec::new(),
            passed_over: Vec::new(),
            turned_down: Vec::new(),
            copies: Vec::new(),
            max_per_artist: 0,
            temperature: 0.0,
            seed: 0,
            now_ms: Some(1_700_000_100_000),
            finish_weight: 0.0,
            radio: None,
        };
        let ranked = recommender
            .rank(&[(5, false)], &crate::common::shared(&tracks), &filters)
            .unwrap();
        let mut ids: Vec<i64> = ranked.iter().map(|s| s.track_id).collect();
        ids.sort();
        assert_eq!(ids, [6, 7, 8], "{feature}: {ranked:?}");
        assert!(ranked.iter().all(|s| s.reason == reason), "{feature}: {ranked:?}");
    }
}

/// A track lifted by a term of its own history that names no reason (here "times skipped") is
/// said to have been played before, never "more from" its artist.
#[test]
fn a_track_only_ever_skipped_is_not_said_to_be_more_from_its_artist() {
    let tracks = library();
    let mut recommender = one_feature_recommender(&tracks, "times skipped");
    let mut log = ListeningLog::default();
    for t in &tracks {
        log.tracks.insert(std::sync::Arc::new(t.clone()));
    }
    // Track 6 was only ever skipped; track 5 was listened to.
    for (track_id, skipped, at) in [(6, true, 0), (6, true, 1), (5, false, 2)] {
        log.plays.push(LoggedPlay {
            track_id,
            session_id: 1,
            skipped,
            ts_ms: 1_700_000_000_000 + at * 60_000,
        });
    }
    recommender.replay(&log);
    let filters = Filters {
        exclude_skipped: false,
        seed: 0,
        now_ms: Some(1_700_000_300_000),
        finish_weight: 0.0,
        ..picks(1)
    };
    let ranked = recommender
        .rank(
            &[(6, true), (6, true), (5, false)],
            &crate::common::shared(&tracks),
            &filters,
        )
        .unwrap();
    assert_eq!(ranked[0].track_id, 6, "{ranked:?}");
    assert_eq!(ranked[0].reason, "you have played it before", "{ranked:?}");
}

/// The fallback says what a track's own history is, as the model does: a track only ever
/// skipped was played before, not new.
#[test]
fn the_fallback_tells_a_track_only_skipped_from_one_never_played() {
    let tracks = library();
    let log = log(&tracks);
    let ranked = fallback_rank(&[], &tracks, &log, &picks(8));
    let reason = |id: i64| {
        ranked
            .iter()
            .find(|s| s.track_id == id)
            .map(|s| s.reason.as_str())
            .unwrap()
    };
    assert_eq!(reason(5), "you have played it before", "{ranked:?}");
    assert_eq!(reason(8), "new to you", "{ranked:?}");
    assert_eq!(reason(1), "you have finished it 3 times", "{ranked:?}");
}

/// A library played through comes round whole: once every track has played lately, the one
/// played the longest ago comes back first, whatever its score, so autoplay never bounces
/// between its two best tracks.
#[test]
fn once_everything_played_lately_the_longest_ago_comes_back_first() {
    let tracks = library();
    let log = log(&tracks);
    let filters = Filters {
        recent: vec![1, 2, 3, 5, 6, 7, 4, 8],
        ..picks(3)
    };
    // By score, 5, 6 and 7 would come first: by B, as the playing track 8 is.
    let ranked = fallback_rank(&[(8, false)], &tracks, &log, &filters);
    let ids: Vec<i64> = ranked.iter().map(|s| s.track_id).collect();
    assert_eq!(ids, [1, 2, 3], "{ranked:?}");
    assert!(ranked
        .iter()
        .all(|s| s.reason == "played lately; nothing else is left to pick"));
}
