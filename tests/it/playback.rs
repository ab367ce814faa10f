//! Headless playback through the real binary and the null output: every format to its end,
//! skips timed in real time, pauses, errors, and `kill -9` in the middle of a play.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

fn history(data_dir: &Path) -> Vec<Value> {
    let mut rows = json_lines(&stdout_of(
        skipless(data_dir).args(["history", "--json", "--limit", "1000"]),
    ));
    rows.reverse();
    rows
}

#[test]
fn every_format_plays_to_its_end() {
    let data = tempfile::tempdir().unwrap();
    let player = Player::start(data.path(), 50.0, &[corpus()]);
    player.finish();
    let rows = history(data.path());
    assert_eq!(rows.len(), 12, "{rows:#?}");
    for row in &rows {
        assert_eq!(row["end_reason"], "finished", "{row}");
        assert_eq!(row["skipped"], false);
        assert_eq!(row["source"], "user");
        let played = row["played_ms"].as_i64().unwrap();
        let duration = row["duration_ms"].as_i64().unwrap();
        assert!(
            (played - duration).abs() <= 300.max(duration / 100),
            "{}: played {played} of {duration}",
            row["path"]
        );
    }
    let sessions: std::collections::HashSet<_> = rows.iter().map(|r| r["session_id"].clone()).collect();
    assert_eq!(sessions.len(), 1);

    let stats: Value = serde_json::from_str(&stdout_of(skipless(data.path()).args(["stats", "--json"]))).unwrap();
    assert_eq!(
        (
            stats["plays"].as_u64(),
            stats["listens"].as_u64(),
            stats["skips"].as_u64()
        ),
        (Some(12), Some(12), Some(0))
    );
    assert_eq!(stats["sessions"], 1);
    let total: i64 = rows.iter().map(|r| r["played_ms"].as_i64().unwrap()).sum();
    assert_eq!(stats["listening_ms"].as_i64(), Some(total));
    assert_eq!(stats["top_artists"][0]["artist"], "Aleksi Aubry-Carlson");
    assert_eq!(stats["top_artists"][0]["listens"], 3);
    let limited = json_lines(&stdout_of(
        skipless(data.path()).args(["history", "--json", "--limit", "2"]),
    ));
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0]["title"], rows[11]["title"], "newest first");
}

#[test]
fn next_after_two_seconds_is_a_timed_skip_and_pauses_do_not_count() {
    let data = tempfile::tempdir().unwrap();
    let mut player = Player::start(
        data.path(),
        1.0,
        &[corpus().join("sad.ogg"), corpus().join("hr-savino-ocean.ogg")],
    );
    // The null output keeps real time, so what counts as played is bounded by the time each
    // leg took here, however slow a loaded machine makes the round trips.
    player.wait("started");
    let first = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    player.send("next");
    let first = first.elapsed();
    player.wait("ended");
    player.wait("started");
    let before_pause = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    player.send("pause");
    let before_pause = before_pause.elapsed();
    player.wait("paused");
    std::thread::sleep(Duration::from_secs(2));
    player.send("resume");
    player.wait("resumed");
    let after_pause = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    player.send("seek 30");
    player.wait("seeked");
    player.send("quit");
    player.finish();
    let after_pause = after_pause.elapsed();
    let at_most = |legs: Duration| legs.as_millis() as i64 + 300;
    let rows = history(data.path());
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["end_reason"].as_str(), rows[0]["skipped"].as_bool()),
        (Some("skipped"), Some(true))
    );
    let played = rows[0]["played_ms"].as_i64().unwrap();
    assert!(
        (1_700..=at_most(first)).contains(&played),
        "played {played} ms of a 2 s skip ({first:?} here)"
    );
    // In words the key is "next"; the skip rule's verdict is the mark before it.
    let text = stdout_of(skipless(data.path()).arg("history"));
    let line = text.lines().last().unwrap();
    assert!(
        line.contains("  skip  next  ") && line.ends_with("Tyler Johnson – Sad"),
        "{text}"
    );
    assert_eq!(
        (rows[1]["end_reason"].as_str(), rows[1]["skipped"].as_bool()),
        (Some("quit"), Some(false))
    );
    let played = rows[1]["played_ms"].as_i64().unwrap();
    let legs = before_pause + after_pause;
    assert!(
        (1_700..=at_most(legs)).contains(&played),
        "2 s played around a 2 s pause, got {played} ms ({legs:?} here)"
    );
}

/// A file that cannot be read at all is refused when queued, saying why; one that breaks while
/// it plays (cut short) and one gone since the scan are errors, and playback goes on.
#[test]
fn broken_and_missing_files_are_errors_and_playback_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let noise: Vec<u8> = (0..40_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(music.join("noise.mp3"), noise).unwrap();
    let whole = std::fs::read(corpus().join("transience.id3v24.mp3")).unwrap();
    std::fs::write(music.join("cut.mp3"), &whole[..whole.len() / 3]).unwrap();
    std::fs::copy(corpus().join("victory.ogg"), music.join("victory.ogg")).unwrap();
    std::fs::copy(corpus().join("defeat.flac"), music.join("defeat.flac")).unwrap();
    scan_json_with_problems(data.path(), &[&music], 1);
    std::fs::remove_file(music.join("defeat.flac")).unwrap();
    let player = Player::start(
        data.path(),
        20.0,
        &[
            music.join("noise.mp3"),
            music.join("cut.mp3"),
            music.join("defeat.flac"),
            music.join("victory.ogg"),
        ],
    );
    let error = player.wait("error");
    assert!(error["message"].as_str().unwrap().contains("cut.mp3"), "{error}");
    // The rest played; the status says that not all that was named did.
    let stderr = player.finish_with(1);
    assert!(
        stderr.contains("cannot read") && stderr.contains("noise.mp3: ") && stderr.contains("; left out"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().last(),
        Some("skipless: error: not all was played: 2 paths left out at the start, each said there"),
        "{stderr}"
    );
    assert!(
        stderr.contains("defeat.flac") && stderr.contains("No such file"),
        "{stderr}"
    );
    let rows = history(data.path());
    let summary: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["title"].as_str().unwrap(), r["end_reason"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [("Transience", "error"), ("Victory", "finished")]);
    assert!(rows[0]["error"].as_str().is_some_and(|e| e.contains("cut.mp3")));
}

#[test]
fn kill_9_loses_nothing_and_the_open_play_is_closed_as_interrupted() {
    let data = tempfile::tempdir().unwrap();
    let mut player = Player::start(
        data.path(),
        1.0,
        &[corpus().join("victory.wav"), corpus().join("hr-savino-ocean.ogg")],
    );
    player.wait("started");
    player.send("next");
    player.wait("started");
    std::thread::sleep(Duration::from_millis(6_500));
    player.child.kill().unwrap(); // SIGKILL
    player.child.wait().unwrap();

    // The next start closes the open play at its last saved position.
    let mut again = Player::start(data.path(), 20.0, &[corpus().join("victory.ogg")]);
    again.wait("started");
    again.send("quit");
    let stderr = again.finish();
    assert!(stderr.contains("interrupted"), "{stderr}");
    let rows = history(data.path());
    let reasons: Vec<&str> = rows.iter().map(|r| r["end_reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["skipped", "interrupted", "quit"]);
    let saved = rows[1]["played_ms"].as_i64().unwrap();
    assert!((4_500..=6_600).contains(&saved), "last saved position {saved} ms");
    let conn = rusqlite::Connection::open(data.path().join("skipless.db")).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

/// `skipless play --json … | head -1`: once its output is closed, the player quits as on `quit`
/// and logs the play in progress, rather than leaving it open.
#[test]
fn a_player_whose_output_is_closed_quits_and_logs_its_play() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Player::command(data.path(), 1.0, &[corpus().join("menu.opus")], &[])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(first.contains("\"started\""), "{first}");
    drop(stdout);
    // The answer to `status` is the first write after the reader went.
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"status\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the player went on with no one reading it");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let rows = history(data.path());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["end_reason"], "quit", "{rows:?}");
}

#[test]
fn a_second_player_on_the_same_data_dir_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let mut first = Player::start(data.path(), 1.0, &[corpus().join("sad.ogg")]);
    first.wait("started");
    let output = skipless(data.path())
        .args(["--audio", "null", "play"])
        .arg(corpus().join("victory.ogg"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another skipless player is already running"),
        "{stderr}"
    );
    first.send("quit");
    first.finish();
    assert_eq!(history(data.path()).len(), 1);
}

#[test]
fn autoplay_goes_on_after_the_given_track_with_new_picks_after_each_skip() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let first = corpus().join("sad.ogg");
    let mut player = Player::start_with(data.path(), 50.0, &[first], &["--autoplay"]);
    let started = player.wait("started");
    assert_eq!(started["source"], "user");
    let mut picks = vec![started["track_id"].as_i64().unwrap()];
    for _ in 0..4 {
        let started = player.wait("started");
        assert_eq!(started["source"], "autoplay", "{started}");
        picks.push(started["track_id"].as_i64().unwrap());
        player.send("next");
    }
    player.send("quit");
    player.finish();

    let mut distinct = picks.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        picks.len(),
        "a skipped or played track came back: {picks:?}"
    );
    let rows = history(data.path());
    let autoplayed: Vec<&Value> = rows.iter().filter(|r| r["source"] == "autoplay").collect();
    assert!(autoplayed.len() >= 4, "{rows:?}");
    assert!(
        autoplayed
            .iter()
            .take(4)
            .all(|r| r["skipped"] == true && r["end_source"] == "stdin"),
        "{autoplayed:?}"
    );
}

#[test]
fn an_older_saved_model_is_refused_in_one_line_autoplay_goes_on_and_a_retrain_replaces_it() {
    let data = tempfile::tempdir().unwrap();
    // A 12-track library whose every track was played lately: nothing is left out as recent.
    std::fs::write(
        data.path().join("config.toml"),
        "[recommend]\nmin_plays = 20\nexclude_recent = 0\n",
    )
    .unwrap();
    scan_json(data.path(), &[&corpus()]);
    // 40 finished plays over four sessions, enough to train on.
    let conn = rusqlite::Connection::open(data.path().join("skipless.db")).unwrap();
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM tracks WHERE status = 'ok' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for session in 0..4i64 {
        let start = 1_700_000_000_000 + session * 86_400_000;
        conn.execute(
            "INSERT INTO sessions (id, started_at, last_at) VALUES (?1, ?2, ?2 + 3600000)",
            (session + 1, start),
        )
        .unwrap();
        for position in 0..10i64 {
            let track = ids[((session * 3 + position * 5) as usize) % ids.len()];
            let skipped = (position + session) % 4 == 0;
            conn.execute(
                "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, end_reason,
                                    skipped, source)
                 VALUES (?1, ?2, ?3, ?4, ?4 + 60000, 60000, ?5, ?6, 'user')",
                (
                    track,
                    session + 1,
                    position,
                    start + position * 60_000,
                    if skipped { "skipped" } else { "finished" },
                    skipped,
                ),
            )
            .unwrap();
        }
    }
    drop(conn);
    let model = data
        .path()
        .join("models")
        .join(skipless::recommend::checkpoint::MODEL_FILE);
    std::fs::create_dir_all(model.parent().unwrap()).unwrap();
    // A readable checkpoint of format version 1 (the blend-era model), which this build refuses.
    let header = br#"{"__metadata__":{"skipless":"{\"format_version\":1}"},"item.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend([0u8; 16]);
    std::fs::write(&model, &bytes).unwrap();

    let mut player = Player::start_with(data.path(), 50.0, &[corpus().join("sad.ogg")], &["--autoplay"]);
    // Autoplay goes on (with the fallback ranking until the refused model is replaced), and the
    // retrain starts at once and saves its model.
    let (mut sources, mut models) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(90);
    while (models.is_empty() || sources.len() < 2) && Instant::now() < deadline {
        let Ok(event) = player.lines.recv_timeout(Duration::from_secs(5)) else {
            continue;
        };
        match event["event"].as_str() {
            Some("started") => sources.push(event["source"].as_str().unwrap_or_default().to_owned()),
            Some("model") => models.push(event["message"].as_str().unwrap_or_default().to_owned()),
            _ => {}
        }
    }
    assert_eq!(sources[..2], ["user", "autoplay"], "{sources:?}");
    assert!(
        models.first().is_some_and(|m| m.starts_with("new model in use")),
        "{models:?}"
    );
    player.send("quit");
    player.finish();

    let log = std::fs::read_to_string(data.path().join("skipless.log")).unwrap();
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains("checkpoint refused")).collect();
    assert_eq!(refusals.len(), 1, "{log}");
    assert!(refusals[0].contains("fallback ranking"), "{log}");
    assert!(refusals[0].contains("format version 1"), "{log}");
    let saved = skipless::recommend::checkpoint::Checkpoint::load(&data.path().join("models")).unwrap();
    assert!(saved.is_some_and(|c| c.meta.plays_seen >= 40));
}

#[test]
fn a_radio_from_an_artist_plays_that_artist_first_and_keeps_going() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let artist_of = |path: &str| -> Option<String> {
        library(data.path())
            .into_iter()
            .find(|t| t["path"] == path)
            .and_then(|t| t["artist"].as_str().map(str::to_owned))
    };
    let mut player = Player::start_with(data.path(), 50.0, &[], &["--radio-artist", "timothy pinkham"]);
    let mut started = Vec::new();
    for _ in 0..5 {
        let event = player.wait("started");
        started.push((event["path"].as_str().unwrap().to_owned(), event["source"].clone()));
    }
    player.send("quit");
    player.finish();

    let artists: Vec<Option<String>> = started.iter().map(|(path, _)| artist_of(path)).collect();
    // The corpus has three files by the artist but two songs (Victory in two formats): the
    // seed and the other song come first, and the seed's other file is the same song, not next.
    assert!(
        artists[..2].iter().all(|a| a.as_deref() == Some("Timothy Pinkham")),
        "{started:?} {artists:?}"
    );
    let stem = |path: &str| path.rsplit('/').next().unwrap().split('.').next().unwrap().to_owned();
    assert_ne!(stem(&started[0].0), stem(&started[1].0), "{started:?}");
    assert!(
        artists[2..].iter().all(|a| a.as_deref() != Some("Timothy Pinkham")),
        "the radio goes on past the artist: {artists:?}"
    );
    assert_eq!(started[0].1, "user");
    assert!(
        started[1..].iter().all(|(_, source)| source == "autoplay"),
        "{started:?}"
    );

    let unknown = skipless(data.path())
        .args(["--audio", "null", "play", "--radio-artist", "Nobody At All"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no tracks by \"Nobody At All\""), "{stderr}");

    // A ban on the track it opened with: the radio opens on another of the artist's.
    stdout_of(skipless(data.path()).args(["ban", &started[0].0]));
    let mut player = Player::start_with(data.path(), 50.0, &[], &["--radio-artist", "timothy pinkham"]);
    let first = player.wait("started");
    player.send("quit");
    player.finish();
    let first = first["path"].as_str().unwrap();
    assert_ne!(first, started[0].0);
    assert_eq!(artist_of(first).as_deref(), Some("Timothy Pinkham"));
    // With every one of them banned, it says so.
    let theirs: Vec<String> = library(data.path())
        .into_iter()
        .filter(|t| t["artist"] == "Timothy Pinkham")
        .filter_map(|t| t["path"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(theirs.len(), 3);
    for path in &theirs {
        stdout_of(skipless(data.path()).args(["ban", path]));
    }
    let all_banned = skipless(data.path())
        .args(["--audio", "null", "play", "--radio-artist", "timothy pinkham"])
        .output()
        .unwrap();
    assert!(!all_banned.status.success());
    let stderr = String::from_utf8_lossy(&all_banned.stderr);
    assert!(
        stderr.contains("every track by \"timothy pinkham\" is banned"),
        "{stderr}"
    );
}

#[test]
fn a_headless_player_follows_its_roots_and_drops_a_queued_file_that_is_deleted() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("config.toml"), "").unwrap();
    let music = data.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::copy(corpus().join("menu.opus"), music.join("menu.opus")).unwrap();
    std::fs::copy(corpus().join("victory.ogg"), music.join("victory.ogg")).unwrap();
    scan_json(data.path(), &[&music]);
    // Real time: "menu" (3:00) plays while the files change.
    let player = Player::start(data.path(), 1.0, &[music.join("menu.opus"), music.join("victory.ogg")]);
    player.wait("started");
    std::thread::sleep(Duration::from_millis(500));
    std::fs::copy(corpus().join("sad.ogg"), music.join("sad.ogg")).unwrap();
    let scanned = player.wait("scanned");
    assert!(scanned["summary"].as_str().unwrap().contains("1 added"), "{scanned}");
    assert_eq!(library(data.path()).len(), 3);

    std::fs::remove_file(music.join("victory.ogg")).unwrap();
    let scanned = player.wait("scanned");
    assert!(scanned["summary"].as_str().unwrap().contains("1 removed"), "{scanned}");
    // The queue lost the deleted file: "next" ends the queue instead of playing it.
    let mut player = player;
    player.send("status --json");
    let status = loop {
        let line = player.lines.recv_timeout(Duration::from_secs(10)).unwrap();
        if line.get("queue_length").is_some() {
            break line;
        }
    };
    assert_eq!(status["queue_length"], 0, "{status}");
    player.send("next");
    player.wait("idle");
    let stderr = player.finish();
    assert!(
        stderr.contains("removed from the queue, the file is gone:") && stderr.contains("victory.ogg"),
        "{stderr}"
    );
}

/// A track reached by seeking to its end after a few seconds was not listened to: it is logged
/// as finished and counted as a skip; one heard on after a short seek forward is a listen.
#[test]
fn a_track_finished_by_seeking_to_its_end_is_a_skip() {
    let data = tempfile::tempdir().unwrap();
    let tracks = [
        corpus().join("menu.opus"),
        corpus().join("menu.opus"),
        corpus().join("sad.ogg"),
    ];
    let mut player = Player::start(data.path(), 20.0, &tracks);
    let first = player.wait("started");
    let duration_s = first["duration_ms"].as_u64().unwrap() / 1000;
    player.send(&format!("seek {}", duration_s - 2));
    player.wait("started");
    player.send("seek +10");
    player.wait("seeked");
    player.wait("started");
    player.send("quit");
    player.finish();
    let rows = history(data.path());
    assert_eq!(rows.len(), 3, "{rows:#?}");
    assert_eq!(
        (&rows[0]["end_reason"], &rows[0]["skipped"]),
        (&"finished".into(), &true.into()),
        "{:#}",
        rows[0]
    );
    assert_eq!(
        (&rows[1]["end_reason"], &rows[1]["skipped"]),
        (&"finished".into(), &false.into()),
        "{:#}",
        rows[1]
    );
    // The dataset export agrees: the first is no finished play there either.
    let mssd = stdout_of(skipless(data.path()).args(["export", "--format", "mssd"]));
    let not_skipped: Vec<&str> = mssd.lines().skip(1).filter_map(|l| l.split(',').nth(7)).collect();
    assert_eq!(not_skipped[..2], ["False", "True"], "{mssd}");
}

/// In a JSON stream every stdout line is JSON: the status is a `status` event, and a command
/// that fails (a file the scan could not read, a word the player does not know) a
/// `command_error` event.
#[test]
fn in_a_json_stream_the_status_and_refused_commands_are_events_too() {
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::write(music.join("noise.mp3"), vec![0x55u8; 20_000]).unwrap();
    std::fs::copy(corpus().join("victory.ogg"), music.join("victory.ogg")).unwrap();
    scan_json_with_problems(data.path(), &[&music], 1);
    let mut player = Player::start(data.path(), 1.0, &[music.join("victory.ogg")]);
    player.wait("started");
    player.send("status");
    let status = player.wait("status");
    assert_eq!(status["state"], "playing", "{status}");
    assert!(
        status["track"]["path"].as_str().unwrap().ends_with("victory.ogg"),
        "{status}"
    );
    player.send(&format!("queue {}", music.join("noise.mp3").display()));
    let refused = player.wait("command_error");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .ends_with("noise.mp3: not playable: it could not be read at the last scan"),
        "{refused}"
    );
    let list = music.join("list.m3u");
    std::fs::write(&list, "victory.ogg\n").unwrap();
    player.send(&format!("queue {}", list.display()));
    let refused = player.wait("command_error");
    assert!(
        refused["message"].as_str().unwrap().ends_with(
            "list.m3u: a playlist, not an audio file (`skipless playlist import FILE` saves it to play by name)"
        ),
        "{refused}"
    );
    player.send("dance");
    let unknown = player.wait("command_error");
    assert!(unknown["message"].as_str().unwrap().contains("dance"), "{unknown}");
    // A command that did something says what, without its "ok".
    player.send("like");
    let liked = player.wait("reply");
    assert_eq!(
        liked["text"].as_str(),
        Some("liked: Timothy Pinkham – Victory"),
        "{liked}"
    );
    player.send(&format!("queue {}", music.join("victory.ogg").display()));
    let queued = player.wait("reply");
    assert_eq!(
        queued["text"].as_str(),
        Some("queued: Timothy Pinkham – Victory"),
        "{queued}"
    );
    player.quit();
}

/// Commands sent together wait for a switch of track to land: a `status` or a `seek` after a
/// `next` is about the track `next` went to, not the one it left.
#[test]
fn a_command_after_next_acts_on_the_track_next_went_to() {
    let data = tempfile::tempdir().unwrap();
    let mut player = Player::start(
        data.path(),
        1.0,
        &[corpus().join("menu.opus"), corpus().join("sad.ogg")],
    );
    player.wait("started");
    player.send("next\nseek 3\nstatus");
    let status = player.wait("status");
    let path = status["track"]["path"].as_str().unwrap_or_default();
    assert!(path.ends_with("sad.ogg"), "{status}");
    assert!(status["position_ms"].as_u64().is_some_and(|p| p >= 2_500), "{status}");
    player.quit();
    let rows = history(data.path());
    assert_eq!(rows[0]["end_reason"], "skipped", "{rows:?}");
}

/// `history` names an untagged track as the player's lists do: by its title alone.
#[test]
fn history_names_an_untagged_track_by_its_title() {
    let data = tempfile::tempdir().unwrap();
    let player = Player::start(data.path(), 400.0, &[corpus().join("menu.opus")]);
    player.finish();
    let text = stdout_of(skipless(data.path()).arg("history"));
    let line = text.lines().last().unwrap();
    assert!(line.ends_with("  menu") && !line.contains("Unknown artist"), "{text}");
}
