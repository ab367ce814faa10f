//! The engine end to end through the null output, on the corpus in `tests/fixtures`: plays, skips, pauses,
//! seeks, gapless joins and broken files, checked on the events the engine reports.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skipless::config::AudioOutput;
use skipless::play::{ControlSource, EndReason, PlaySource};
use skipless::player::{Command, Engine, EngineOptions, Event, PlayItem, SeekTo};

fn corpus(name: &str) -> PathBuf {
    crate::common::corpus().join(name)
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus(""))
        .expect("corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn item(path: &Path, track_id: i64) -> PlayItem {
    PlayItem {
        track_id,
        path: path.to_path_buf(),
        duration_ms: None,
        gain_db: 0.0,
        source: PlaySource::User,
    }
}

fn engine(speed: f64) -> Engine {
    Engine::start(EngineOptions {
        output: AudioOutput::Null,
        null_speed: speed,
        volume: 100,
        position_interval: Duration::from_millis(50),
    })
    .expect("engine starts")
}

fn play(engine: &Engine, item: PlayItem) {
    engine.send(Command::Play {
        item,
        ended_by: EndReason::Skipped,
        by: Some(ControlSource::Key),
        seen_starts: None,
    });
}

/// Collects events until one matches `done`; panics after `timeout`.
fn until(engine: &Engine, timeout: Duration, done: impl Fn(&Event) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match engine.events.recv_timeout(left) {
            Ok(e) => {
                let stop = done(&e);
                seen.push(e);
                if stop {
                    return seen;
                }
            }
            Err(_) => panic!("timed out; events so far: {seen:#?}"),
        }
    }
}

fn is_started(e: &Event) -> bool {
    matches!(e, Event::Started { .. })
}

fn ended(events: &[Event]) -> (EndReason, u64, u64, Option<String>) {
    events
        .iter()
        .find_map(|e| match e {
            Event::Ended {
                cause,
                position_ms,
                played_ms,
                error,
                ..
            } => Some((*cause, *position_ms, *played_ms, error.clone())),
            _ => None,
        })
        .expect("an Ended event")
}

#[test]
fn every_corpus_file_plays_to_its_end() {
    let handles: Vec<_> = corpus_files()
        .into_iter()
        .map(|path| {
            std::thread::spawn(move || {
                let engine = engine(40.0);
                play(&engine, item(&path, 1));
                let events = until(&engine, Duration::from_secs(50), |e| matches!(e, Event::Idle));
                let duration = events
                    .iter()
                    .find_map(|e| match e {
                        Event::Started { duration_ms, .. } => Some(*duration_ms),
                        _ => None,
                    })
                    .expect("Started")
                    .unwrap_or_else(|| panic!("{}: no duration", path.display()));
                let (cause, position, played, error) = ended(&events);
                assert_eq!(cause, EndReason::Finished, "{}: {error:?}", path.display());
                assert!(
                    played.abs_diff(duration) <= 50 + duration / 100,
                    "{}: played {played} ms of {duration} ms",
                    path.display()
                );
                assert!(position.abs_diff(duration) <= 50 + duration / 100, "{}", path.display());
                assert!(
                    events.iter().any(|e| matches!(e, Event::Position { .. })),
                    "{}",
                    path.display()
                );
            })
        })
        .collect();
    for h in handles {
        h.join().expect("file played");
    }
}

/// Whether `played` ms is what the null output, which keeps real time, can have counted in a
/// play of about two seconds that took `heard` here: not less than the sleeps allow, not more
/// than the time it really had (a loaded machine makes the round trips slower, never shorter).
fn within_real_time(played: u64, heard: Duration) -> bool {
    (1_700..=heard.as_millis() as u64 + 300).contains(&played)
}

#[test]
fn skip_after_two_seconds_reports_what_was_heard() {
    let engine = engine(1.0);
    play(&engine, item(&corpus("sad.ogg"), 1));
    until(&engine, Duration::from_secs(10), is_started);
    let heard = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    play(&engine, item(&corpus("victory.wav"), 2));
    let heard = heard.elapsed();
    let events = until(&engine, Duration::from_secs(10), is_started);
    let (cause, _, played, _) = ended(&events);
    assert_eq!(cause, EndReason::Skipped);
    assert!(within_real_time(played, heard), "played {played} ms in {heard:?}");
}

#[test]
fn pauses_do_not_count_as_played() {
    let engine = engine(1.0);
    play(&engine, item(&corpus("sad.ogg"), 1));
    until(&engine, Duration::from_secs(10), is_started);
    let before_pause = Instant::now();
    std::thread::sleep(Duration::from_millis(1000));
    engine.send(Command::Pause);
    let before_pause = before_pause.elapsed();
    until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Paused { .. }));
    std::thread::sleep(Duration::from_millis(1000));
    engine.send(Command::Resume);
    let during_pause = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Resumed { .. }));
    let after_pause = Instant::now();
    assert!(
        !during_pause.iter().any(|e| matches!(e, Event::Position { .. })),
        "no position events while paused: {during_pause:?}"
    );
    std::thread::sleep(Duration::from_millis(1000));
    engine.send(Command::Stop {
        ended_by: EndReason::Stopped,
        by: Some(ControlSource::Mpris),
    });
    let heard = before_pause + after_pause.elapsed();
    let events = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Idle));
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Ended {
                by: Some(ControlSource::Mpris),
                ..
            }
        )),
        "the Ended of a stopped play names who stopped it: {events:?}"
    );
    let (cause, position, played, _) = ended(&events);
    assert_eq!(cause, EndReason::Stopped);
    assert!(within_real_time(played, heard), "played {played} ms in {heard:?}");
    assert!(position.abs_diff(played) <= 100);
}

#[test]
fn a_pause_before_the_play_is_heard_takes_effect_when_it_starts() {
    let engine = engine(1.0);
    play(&engine, item(&corpus("menu.opus"), 1));
    engine.send(Command::Pause);
    let events = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Paused { .. }));
    assert!(
        events.iter().any(is_started),
        "the play starts, then pauses: {events:?}"
    );
    let quiet_until = Instant::now() + Duration::from_millis(700);
    let quiet: Vec<Event> = std::iter::from_fn(|| engine.events.recv_deadline(quiet_until).ok()).collect();
    assert!(
        !quiet.iter().any(|e| matches!(e, Event::Position { .. })),
        "nothing plays while paused: {quiet:?}"
    );
    // A play that fails at once, with a pause waiting for its start, leaves the next one free.
    play(&engine, item(Path::new("/nonexistent/gone.ogg"), 3));
    engine.send(Command::Pause);
    until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Idle));
    play(&engine, item(&corpus("sad.ogg"), 4));
    until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Position { .. }));
    // A pause asked for and taken back before the start leaves the play playing.
    play(&engine, item(&corpus("sad.ogg"), 2));
    engine.send(Command::Pause);
    engine.send(Command::Toggle);
    let events = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Position { .. }));
    assert!(
        events.iter().any(is_started) && !events.iter().any(|e| matches!(e, Event::Paused { .. })),
        "{events:?}"
    );
}

/// A seek past the end of a paused play stands at the end, and the next seek back counts from
/// there, not from the overshoot.
#[test]
fn a_seek_past_the_end_while_paused_stands_at_the_end() {
    let engine = engine(1.0);
    play(&engine, item(&corpus("menu.opus"), 1));
    let started = until(&engine, Duration::from_secs(10), is_started);
    let Some(&Event::Started {
        duration_ms: Some(duration_ms),
        ..
    }) = started.last()
    else {
        panic!("no length: {started:?}")
    };
    engine.send(Command::Pause);
    until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Paused { .. }));
    engine.send(Command::Seek {
        track_id: 1,
        to: SeekTo::Forward(Duration::from_secs(600)),
    });
    let events = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Seeked { .. }));
    assert!(
        matches!(events.last(), Some(&Event::Seeked { position_ms, .. }) if position_ms == duration_ms),
        "{events:?}"
    );
    engine.send(Command::Seek {
        track_id: 1,
        to: SeekTo::Backward(Duration::from_secs(5)),
    });
    let events = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Seeked { .. }));
    assert!(
        matches!(events.last(), Some(&Event::Seeked { position_ms, .. }) if position_ms == duration_ms - 5_000),
        "{events:?}"
    );
}

/// A seek past the end of a playing track ends it, in every format; a `Seeked` before the end,
/// if any, says where the play ended, never where it was before the seek.
#[test]
fn a_seek_past_the_end_while_playing_ends_the_play_and_reports_no_stale_position() {
    for name in [
        "transience.id3v24.mp3",
        "elf-land.ogg",
        "menu.opus",
        "defeat.flac",
        "victory.wav",
    ] {
        let engine = engine(1.0);
        play(&engine, item(&corpus(name), 1));
        until(&engine, Duration::from_secs(10), |e| {
            matches!(e, Event::Position { .. })
        });
        engine.send(Command::Seek {
            track_id: 1,
            to: SeekTo::Forward(Duration::from_secs(600)),
        });
        let events = until(&engine, Duration::from_secs(10), |e| matches!(e, Event::Ended { .. }));
        let Some(&Event::Ended { position_ms: end, .. }) = events.last() else {
            panic!("{name}: {events:?}")
        };
        assert!(
            events.iter().all(|e| match e {
                Event::Seeked { position_ms, .. } => position_ms.abs_diff(end) <= 1_000,
                _ => true,
            }),
            "{name}: {events:?}"
        );
    }
}

#[test]
fn seeks_in_a_row_add_up_while_paused_and_playing() {
    let engine = engine(1.0);
    play(&engine, item(&corpus("menu.opus"), 1));
    until(&engine, Duration::from_secs(10), is_started);
    std::thread::sleep(Duration::from_millis(500));
    engine.send(Command::Pause);
    let events = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Paused { .. }));
    let Some(&Event::Paused {
        position_ms: paused_at, ..
    }) = events.last()
    else {
        unreachable!()
    };
    for _ in 0..2 {
        engine.send(Command::Seek {
            track_id: 1,
            to: SeekTo::Forward(Duration::from_secs(3)),
        });
    }
    // While paused, each seek is reported where the play will resume.
    let events = until(
        &engine,
        Duration::from_secs(5),
        |e| matches!(e, Event::Seeked { position_ms, .. } if *position_ms == paused_at + 6_000),
    );
    assert!(!events.is_empty());
    engine.send(Command::Resume);
    // Resumed, the output reaches the place, and says where it landed.
    let events = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Seeked { .. }));
    let Some(&Event::Seeked { position_ms, .. }) = events.last() else {
        unreachable!()
    };
    assert!(
        position_ms.abs_diff(paused_at + 6_000) <= 600,
        "paused at {paused_at}, two seeks of 3 s, resumed at {position_ms}"
    );
    assert!(
        events.iter().all(|e| match e {
            Event::Resumed { position_ms, .. } | Event::Position { position_ms, .. } =>
                position_ms.abs_diff(paused_at + 6_000) <= 600,
            _ => true,
        }),
        "nothing reports the place before the seeks: {events:?}"
    );
    // Playing, a burst of seeks faster than the output takes them adds up too: the output
    // lands once, 20 s on.
    for _ in 0..4 {
        engine.send(Command::Seek {
            track_id: 1,
            to: SeekTo::Forward(Duration::from_secs(5)),
        });
    }
    let events = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Seeked { .. }));
    let Some(&Event::Seeked { position_ms: after, .. }) = events.last() else {
        unreachable!()
    };
    assert!(
        after.abs_diff(position_ms + 20_000) <= 1_000,
        "four seeks of 5 s from {position_ms} landed at {after}"
    );
}

#[test]
fn seeks_land_within_100_ms_in_every_format() {
    for name in [
        "transience.id3v24.mp3",
        "defeat.flac",
        "elf-land.m4a",
        "elf-land.ogg",
        "menu.opus",
        "victory.wav",
    ] {
        let engine = engine(4.0);
        play(&engine, item(&corpus(name), 1));
        let started = until(&engine, Duration::from_secs(10), is_started);
        let Some(Event::Started {
            duration_ms: Some(duration),
            ..
        }) = started.last()
        else {
            panic!("{name}: no duration")
        };
        let target = duration / 2;
        engine.send(Command::Seek {
            track_id: 1,
            to: SeekTo::Absolute(Duration::from_millis(target)),
        });
        let events = until(&engine, Duration::from_secs(10), |e| matches!(e, Event::Seeked { .. }));
        let Some(Event::Seeked { position_ms, .. }) = events.last() else {
            unreachable!()
        };
        assert!(
            position_ms.abs_diff(target) <= 100,
            "{name}: seek to {target} landed at {position_ms}"
        );
        // Playing on from there: positions follow from the target, played time does not jump.
        let events = until(&engine, Duration::from_secs(10), |e| {
            matches!(e, Event::Position { .. })
        });
        let Some(Event::Position {
            position_ms, played_ms, ..
        }) = events.last()
        else {
            unreachable!()
        };
        assert!(
            *position_ms >= target.saturating_sub(100),
            "{name}: position {position_ms} after seek to {target}"
        );
        assert!(
            *position_ms <= target + 1500,
            "{name}: position {position_ms} after seek to {target}"
        );
        assert!(*played_ms < 3000, "{name}: played {played_ms} ms includes the jump");
        engine.send(Command::Seek {
            track_id: 1,
            to: SeekTo::Backward(Duration::from_secs(2)),
        });
        let events = until(&engine, Duration::from_secs(10), |e| matches!(e, Event::Seeked { .. }));
        let Some(Event::Seeked { position_ms: back, .. }) = events.last() else {
            unreachable!()
        };
        assert!(
            *back + 2000 <= position_ms + 600 && *back + 2000 >= position_ms.saturating_sub(100),
            "{name}: back to {back} from {position_ms}"
        );
    }
}

/// The engine's events as words, positions and resumes left out: "started 2", "ended 1
/// Finished", "Idle".
fn event_kinds(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| !matches!(e, Event::Position { .. } | Event::Resumed { .. }))
        .map(|e| match e {
            Event::Started { item, .. } => format!("started {}", item.track_id),
            Event::Ended { item, cause, .. } => format!("ended {} {cause:?}", item.track_id),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Plays track 1 with track 2 set next, until track 2 has begun gaplessly: the events so far,
/// and track 2's item.
fn into_a_gapless_second_track(engine: &Engine) -> (Vec<Event>, PlayItem) {
    let first = item(&corpus("victory.wav"), 1);
    let second = item(&corpus("victory.ogg"), 2);
    play(engine, first);
    engine.send(Command::SetNext(Some(second.clone())));
    let events = until(
        engine,
        Duration::from_secs(20),
        |e| matches!(e, Event::Started { item, .. } if item.track_id == 2),
    );
    (events, second)
}

#[test]
fn gapless_join_inserts_no_silence() {
    let engine = engine(10.0);
    let first = item(&corpus("victory.wav"), 1);
    let second = item(&corpus("victory.ogg"), 2);
    play(&engine, first);
    engine.send(Command::SetNext(Some(second)));
    let events = until(&engine, Duration::from_secs(20), |e| matches!(e, Event::Idle));
    assert_eq!(
        event_kinds(&events),
        ["started 1", "ended 1 Finished", "started 2", "ended 2 Finished", "Idle"]
    );
    let stats = engine.output_stats();
    assert_eq!(stats.silence_frames, 0, "silence inserted: {stats:?}");
    assert_eq!(stats.frames, 2 * 240_640, "{stats:?}");
}

/// A `next` sent as a track ends, by a sender that has not yet seen the engine go on gaplessly
/// to the track it asks for, is carried out by that play: the track is neither ended as skipped
/// at once nor played again. Sent knowing of that play, the same command replays it.
#[test]
fn a_next_that_crosses_the_gapless_start_of_its_track_does_not_replay_it() {
    for (seen_starts, replayed) in [(1, false), (2, true)] {
        let engine = engine(10.0);
        let (mut events, second) = into_a_gapless_second_track(&engine);
        engine.send(Command::Play {
            item: second,
            ended_by: EndReason::Skipped,
            by: Some(ControlSource::Key),
            seen_starts: Some(seen_starts),
        });
        events.extend(until(&engine, Duration::from_secs(20), |e| matches!(e, Event::Idle)));
        let expected: &[&str] = if replayed {
            &[
                "started 1",
                "ended 1 Finished",
                "started 2",
                "ended 2 Skipped",
                "started 2",
                "ended 2 Finished",
                "Idle",
            ]
        } else {
            &["started 1", "ended 1 Finished", "started 2", "ended 2 Finished", "Idle"]
        };
        assert_eq!(event_kinds(&events), expected, "seen_starts {seen_starts}");
    }
}

/// A track that began gaplessly after another is heard: asked for next again (repeat one, or
/// the playing track queued to play next), it plays once more, where a follow-up not yet reached
/// would be kept as it is.
#[test]
fn the_track_that_began_gaplessly_asked_for_next_plays_again() {
    let engine = engine(10.0);
    let (mut events, second) = into_a_gapless_second_track(&engine);
    engine.send(Command::SetNext(Some(second)));
    events.extend(until(&engine, Duration::from_secs(20), |e| matches!(e, Event::Idle)));
    assert_eq!(
        event_kinds(&events),
        [
            "started 1",
            "ended 1 Finished",
            "started 2",
            "ended 2 Finished",
            "started 2",
            "ended 2 Finished",
            "Idle"
        ]
    );
}

#[test]
fn broken_files_end_in_error_and_the_next_one_plays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let noise = dir.path().join("noise.mp3");
    std::fs::write(&noise, crate::common::noise_bytes(200_000)).expect("write");
    let truncated = dir.path().join("truncated.mp3");
    let whole = std::fs::read(corpus("transience.id3v24.mp3")).expect("read");
    std::fs::write(&truncated, &whole[..whole.len() / 3]).expect("write");
    let empty = dir.path().join("empty.flac");
    std::fs::write(&empty, b"").expect("write");
    let deleted = dir.path().join("deleted.wav");
    std::fs::copy(corpus("victory.wav"), &deleted).expect("copy");
    std::fs::remove_file(&deleted).expect("remove");

    for (broken, what) in [
        (&noise, "not a playable audio file: it ends before any audio was found"),
        (&truncated, "truncated"),
        (
            &empty,
            "not a playable audio file: its content is no audio format the player knows",
        ),
        (&deleted, "cannot open"),
    ] {
        let engine = engine(20.0);
        play(&engine, item(broken, 1));
        engine.send(Command::SetNext(Some(item(&corpus("victory.wav"), 2))));
        let events = until(&engine, Duration::from_secs(20), |e| matches!(e, Event::Idle));
        let (cause, _, _, error) = ended(&events);
        assert_eq!(cause, EndReason::Error, "{}: {events:?}", broken.display());
        let error = error.expect("an error message");
        assert!(error.contains(&*broken.to_string_lossy()), "{error}");
        assert!(error.contains(what), "{error}");
        assert!(!error.contains('\n'), "{error}");
        let mut next: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Ended { item, cause, .. } => Some((item.track_id, *cause)),
                _ => None,
            })
            .collect();
        // A file that fails at once may beat the follow-up to the output, which then goes idle
        // before `SetNext` arrives; the player's controller answers that idle by playing the
        // next entry itself, and so does this test.
        if next == [(1, EndReason::Error)] {
            play(&engine, item(&corpus("victory.wav"), 2));
            let more = until(&engine, Duration::from_secs(20), |e| matches!(e, Event::Idle));
            next.extend(more.iter().filter_map(|e| match e {
                Event::Ended { item, cause, .. } => Some((item.track_id, *cause)),
                _ => None,
            }));
        }
        assert_eq!(
            next,
            [(1, EndReason::Error), (2, EndReason::Finished)],
            "{}",
            broken.display()
        );
    }
}

#[test]
fn shutdown_ends_the_play_as_quit() {
    let engine = engine(1.0);
    play(&engine, item(&corpus("sad.ogg"), 1));
    until(&engine, Duration::from_secs(10), is_started);
    let events = engine.events.clone();
    drop(engine);
    let rest: Vec<Event> = events.try_iter().collect();
    let (cause, _, _, _) = ended(&rest);
    assert_eq!(cause, EndReason::Quit);
}

#[test]
fn volume_scales_the_samples() {
    let engine = engine(20.0);
    engine.send(Command::Volume(0));
    play(&engine, item(&corpus("victory.wav"), 1));
    until(&engine, Duration::from_secs(10), |e| matches!(e, Event::Idle));
    assert_eq!(engine.output_stats().peak, 0.0);
    engine.send(Command::Volume(100));
    play(&engine, item(&corpus("victory.wav"), 1));
    until(&engine, Duration::from_secs(10), |e| matches!(e, Event::Idle));
    assert!(engine.output_stats().peak > 0.1);
}

#[test]
fn auto_output_falls_back_to_null_with_a_notice() {
    let engine = Engine::start(EngineOptions {
        output: AudioOutput::Auto,
        ..Default::default()
    })
    .expect("auto never fails");
    if engine.output() == skipless::player::OutputKind::Null {
        let notice = engine.notice().expect("a notice when falling back");
        assert!(notice.starts_with("no audio device"), "{notice}");
        assert!(notice.ends_with("playing silently through the null output"), "{notice}");
        assert!(!notice.contains('\n'));
    }
}

/// A seek meant for another track (the one it was meant for has ended, by itself or by an
/// earlier seek past its end) is dropped: the track playing stays where it is.
#[test]
fn a_seek_meant_for_another_track_is_dropped() {
    let engine = engine(1.0);
    play(&engine, item(&corpus("menu.opus"), 1));
    until(&engine, Duration::from_secs(10), is_started);
    engine.send(Command::Seek {
        track_id: 2,
        to: SeekTo::Absolute(Duration::from_secs(60)),
    });
    engine.send(Command::Seek {
        track_id: 1,
        to: SeekTo::Forward(Duration::from_secs(10)),
    });
    let events = until(&engine, Duration::from_secs(5), |e| matches!(e, Event::Seeked { .. }));
    let Some(&Event::Seeked { position_ms, .. }) = events.last() else {
        unreachable!()
    };
    assert!(
        (9_000..=12_000).contains(&position_ms),
        "the seek for track 2 moved track 1: it landed at {position_ms}"
    );
}
