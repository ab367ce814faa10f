//! `skipless remote` against a real headless player: the commands, the log's `end_source`, the
//! socket's permissions, a stale socket, a player that is not running, and another user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

/// The socket a player of `data_dir` listens on (there is one while it runs).
fn socket_of(data_dir: &Path) -> PathBuf {
    let dir = runtime_dir(data_dir).join("skipless");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "sock"));
        if let Some(found) = found {
            return found;
        }
        assert!(Instant::now() < deadline, "no socket in {}", dir.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn remote(data_dir: &Path, words: &[&str]) -> std::process::Output {
    skipless(data_dir).arg("remote").args(words).output().unwrap()
}

/// Runs `skipless remote WORDS`, which must succeed, and returns what it printed.
fn remote_ok(data_dir: &Path, words: &[&str]) -> String {
    let out = remote(data_dir, words);
    assert!(
        out.status.success(),
        "remote {words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn status(data_dir: &Path) -> Value {
    serde_json::from_str(&remote_ok(data_dir, &["status", "--json"])).unwrap()
}

/// A `next` sent to a stopped player fails with its client, and is not carried out when the
/// player goes on: a script that tries again would otherwise skip twice.
#[test]
fn a_command_given_up_on_is_not_carried_out_later() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let tracks: Vec<PathBuf> = ["menu.opus", "sad.ogg"].iter().map(|f| corpus().join(f)).collect();
    let player = Player::start(data.path(), 1.0, &tracks);
    let first = player.wait("started");
    socket_of(data.path());
    let pid = player.child.id().to_string();
    let signal = |name: &str| {
        assert!(std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap()
            .success())
    };
    signal("-STOP");
    let late = remote(data.path(), &["next"]);
    signal("-CONT");
    assert!(!late.status.success());
    assert!(
        String::from_utf8_lossy(&late.stderr).contains("did not answer"),
        "{}",
        String::from_utf8_lossy(&late.stderr)
    );
    // Time for the player to take what it was sent while stopped, were it to.
    std::thread::sleep(Duration::from_secs(1));
    let now = status(data.path());
    assert_eq!(now["track"]["id"], first["track_id"], "{now}");
}

#[test]
fn remote_drives_a_headless_player_and_its_next_is_logged_as_a_remote_skip() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let tracks: Vec<PathBuf> = ["victory.ogg", "sad.ogg", "defeat.flac"]
        .iter()
        .map(|f| corpus().join(f))
        .collect();
    let player = Player::start(data.path(), 1.0, &tracks);
    let first = player.wait("started");

    let socket = socket_of(data.path());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600, "the socket is its user's only");
    assert_eq!(mode(socket.parent().unwrap()), 0o700);

    let now = status(data.path());
    assert_eq!(now["state"], "playing");
    assert_eq!(now["track"]["id"], first["track_id"]);
    assert!(now["track"]["path"].as_str().unwrap().ends_with("victory.ogg"));
    assert_eq!(now["queue_length"], 2);
    assert_eq!(now["autoplay"], "off");
    assert!(now["position_ms"].is_u64() && now["volume"].is_u64(), "{now}");
    let line = remote_ok(data.path(), &["status"]);
    assert!(line.starts_with("playing ") && line.contains("queue 2"), "{line}");

    remote_ok(data.path(), &["next"]);
    let ended = player.wait("ended");
    assert_eq!(ended["end_reason"], "skipped");
    assert_eq!(ended["skipped"], true);
    assert_eq!(ended["end_source"], "remote");
    let second = player.wait("started");
    assert!(second["path"].as_str().unwrap().ends_with("sad.ogg"));

    remote_ok(data.path(), &["pause"]);
    player.wait("paused");
    assert_eq!(status(data.path())["state"], "paused");
    remote_ok(data.path(), &["play"]);
    player.wait("resumed");
    remote_ok(data.path(), &["vol", "40"]);
    assert_eq!(player.wait("volume")["volume"], 40);
    remote_ok(data.path(), &["vol", "+15"]);
    assert_eq!(player.wait("volume")["volume"], 55);
    remote_ok(data.path(), &["vol", "-20"]);
    assert_eq!(player.wait("volume")["volume"], 35);
    assert_eq!(status(data.path())["repeat"], "off");
    remote_ok(data.path(), &["seek", "+2"]);
    player.wait("seeked");
    // A time past the end is refused, not taken as a skip.
    let past = remote(data.path(), &["seek", "9:00"]);
    assert!(!past.status.success());
    let said = String::from_utf8_lossy(&past.stderr);
    assert!(
        said.contains("9:00 is past the end of ") && said.lines().count() == 1,
        "{said}"
    );
    assert_eq!(status(data.path())["state"], "playing");

    let queued = remote_ok(data.path(), &["queue", corpus().join("menu.opus").to_str().unwrap()]);
    assert_eq!(queued.trim(), "queued: menu");
    assert_eq!(status(data.path())["queue_length"], 2);
    // Each path of a queue is answered on its own line, naming what it queued.
    let sad = corpus().join("sad.ogg");
    let folder = remote_ok(
        data.path(),
        &["queue", corpus().to_str().unwrap(), sad.to_str().unwrap()],
    );
    let lines: Vec<&str> = folder.lines().collect();
    let n = crate::common::library(data.path()).len();
    assert_eq!(
        lines[0],
        format!("queued {n} tracks from {}", corpus().canonicalize().unwrap().display()),
        "{folder}"
    );
    assert!(
        lines[1].starts_with("queued: ") && lines[1].ends_with("Sad"),
        "{folder}"
    );
    assert_eq!(status(data.path())["queue_length"], 2 + n + 1);
    // A path that cannot be opened is refused on its own line; the others are still queued.
    let mixed = remote(
        data.path(),
        &[
            "queue",
            "/nowhere/gone.ogg",
            corpus().join("menu.opus").to_str().unwrap(),
            "/nowhere/lost.ogg",
        ],
    );
    assert!(!mixed.status.success());
    assert_eq!(String::from_utf8_lossy(&mixed.stdout).trim(), "queued: menu");
    let stderr = String::from_utf8_lossy(&mixed.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].contains("/nowhere/gone.ogg: cannot open"), "{stderr}");
    assert!(lines[1].contains("/nowhere/lost.ogg: cannot open"), "{stderr}");
    assert_eq!(status(data.path())["queue_length"], 2 + n + 2);
    let liked = remote_ok(data.path(), &["like"]);
    assert!(liked.starts_with("liked: "), "{liked}");
    let again = remote_ok(data.path(), &["like"]);
    assert!(again.starts_with("already liked: "), "{again}");
    let not_banned = remote_ok(data.path(), &["unban"]);
    assert!(
        not_banned.starts_with("not banned: ") && not_banned.contains("skipless unban PATH"),
        "{not_banned}"
    );
    // A ban skips the track playing, and says so (the one liked above keeps its like).
    let wait_past = |playing: &serde_json::Value| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // Between two tracks none plays: wait for the next one, not for the gap.
        loop {
            let now = status(data.path())["track"]["id"].clone();
            if !now.is_null() && now != *playing {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{playing} still plays");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let liked_track = status(data.path())["track"]["id"].clone();
    remote_ok(data.path(), &["next"]);
    wait_past(&liked_track);
    let playing = status(data.path())["track"]["id"].clone();
    let banned = remote_ok(data.path(), &["ban"]);
    assert!(
        banned.starts_with("banned: ") && banned.trim_end().ends_with("; skipped"),
        "{banned}"
    );
    wait_past(&playing);
    // A ban of a liked track takes its like back, and says so.
    remote_ok(data.path(), &["like"]);
    let playing = status(data.path())["track"]["id"].clone();
    let banned = remote_ok(data.path(), &["ban"]);
    assert!(banned.starts_with("banned (its like taken back): "), "{banned}");
    wait_past(&playing);

    let refused = remote(data.path(), &["dance"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("unknown command: dance") && stderr.lines().count() == 1,
        "{stderr}"
    );
    let missing = remote(data.path(), &["playlist", "No such list"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no playlist named"));

    remote_ok(data.path(), &["quit"]);
    player.finish();
    assert!(!socket.exists(), "the socket is removed when the player ends");

    let rows = json_lines(&stdout_of(skipless(data.path()).args(["history", "--json"])));
    let victory = rows
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("victory.ogg"))
        .unwrap();
    assert_eq!(victory["end_source"], "remote");
    let conn = rusqlite::Connection::open(data.path().join("skipless.db")).unwrap();
    let liked: String = conn
        .query_row(
            "SELECT t.path_text FROM likes l JOIN tracks t ON t.id = l.track_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(liked.ends_with("sad.ogg"), "{liked}");

    let gone = remote(data.path(), &["status"]);
    assert!(!gone.status.success());
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert!(stderr.contains("no skipless player is running"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // A command no player would take is named as such, player or not.
    let bogus = remote(data.path(), &["dance"]);
    let stderr = String::from_utf8_lossy(&bogus.stderr);
    assert_eq!(bogus.status.code(), Some(2), "a command line not understood: {stderr}");
    assert!(stderr.contains("unknown command: dance"), "{stderr}");
    // A line of anything is named by its start, not echoed whole.
    let long = "x".repeat(100_000);
    let bogus = remote(data.path(), &[long.as_str()]);
    let stderr = String::from_utf8_lossy(&bogus.stderr);
    assert!(
        stderr.len() < 400 && stderr.contains("unknown command: xxx"),
        "{}",
        stderr.len()
    );
    // A player's refusal is no misuse: 1.
    assert_eq!(gone.status.code(), Some(1));
}

#[test]
fn a_stale_socket_is_replaced_and_a_playlist_plays_from_the_shell() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let list = data.path().join("two.m3u8");
    std::fs::write(
        &list,
        format!(
            "#EXTM3U\n{}\n{}\n",
            corpus().join("defeat.flac").display(),
            corpus().join("menu.opus").display()
        ),
    )
    .unwrap();
    stdout_of(skipless(data.path()).args(["playlist", "import"]).arg(&list));

    let player = Player::start(data.path(), 1.0, &[corpus().join("victory.ogg")]);
    player.wait("started");
    let socket = socket_of(data.path());
    remote_ok(data.path(), &["quit"]);
    player.finish();
    // What a crashed player leaves: a socket file nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    // `remote` says no player runs, and that the socket is a dead one's, not that there is none.
    let dead = remote(data.path(), &["status"]);
    let stderr = String::from_utf8_lossy(&dead.stderr);
    assert!(!dead.status.success());
    assert!(
        stderr.contains("no skipless player is running") && stderr.contains("is left from one that ended"),
        "{stderr}"
    );

    let player = Player::start(data.path(), 1.0, &[corpus().join("victory.ogg")]);
    player.wait("started");
    let playing = remote_ok(data.path(), &["playlist", "two"]);
    assert!(playing.contains("\"two\" (2 tracks)"), "{playing}");
    let ended = player.wait("ended");
    assert_eq!(ended["end_source"], "remote");
    let started = player.wait("started");
    assert!(started["path"].as_str().unwrap().ends_with("defeat.flac"), "{started}");
    assert_eq!(status(data.path())["queue_length"], 1);
    // A smart playlist plays by its name too, as `play --playlist` plays it.
    let smart = remote_ok(data.path(), &["playlist", "never played"]);
    assert!(smart.contains("playing \"never played\""), "{smart}");
    remote_ok(data.path(), &["quit"]);
    player.finish();
}

#[test]
fn another_user_cannot_drive_the_player() {
    if !is_root("running a second user with setpriv") || !has_tool("setpriv", "util-linux") {
        return;
    }
    // The other user must be able to run the binary and read the config's folder.
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = shared.path().join("skipless");
    std::fs::copy(assert_cmd::cargo::cargo_bin("skipless"), &binary).unwrap();
    let data = tempfile::tempdir().unwrap();
    let data_dir = std::fs::canonicalize(data.path()).unwrap();
    scan_json(&data_dir, &[&corpus()]);
    let player = Player::start(
        &data_dir,
        1.0,
        &[corpus().join("victory.ogg"), corpus().join("sad.ogg")],
    );
    let first = player.wait("started");
    socket_of(&data_dir);

    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--config")
        .arg("/dev/null")
        .args(["remote", "next"])
        .env("XDG_RUNTIME_DIR", runtime_dir(&data_dir))
        .env_remove("SKIPLESS_DATA_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "another user drove the player");
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let now = status(&data_dir);
    assert_eq!(now["track"]["id"], first["track_id"], "nothing was skipped");
    remote_ok(&data_dir, &["quit"]);
    player.finish();
}

/// A client that sends a line without end is answered with an error once the line is over the
/// limit, and the player goes on answering others.
#[test]
fn a_command_line_without_end_is_refused_and_the_player_goes_on() {
    use std::io::{BufRead, Write};
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let player = Player::start(data.path(), 1.0, &[corpus().join("victory.ogg")]);
    player.wait("started");
    let stream = std::os::unix::net::UnixStream::connect(socket_of(data.path())).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    // The player stops reading at its limit and closes: a write past it may fail.
    for _ in 0..20 {
        if writer.write_all(&chunk).is_err() {
            break;
        }
    }
    let mut answer = String::new();
    std::io::BufReader::new(stream).read_line(&mut answer).unwrap();
    assert!(answer.starts_with("error: a command line is at most"), "{answer:?}");
    assert!(status(data.path())["track"].is_object());
    remote_ok(data.path(), &["quit"]);
    player.finish();
}

/// The player serves 32 connections at once and tells the next one so; a client that trickles
/// a line in a byte at a time is closed once the line has taken 10 s, and the player then
/// answers again.
#[test]
fn connections_are_capped_and_a_line_must_arrive_within_its_time() {
    use std::io::{BufRead, Read, Write};
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let player = Player::start(data.path(), 1.0, &[corpus().join("menu.opus")]);
    player.wait("started");
    let socket = socket_of(data.path());
    let mut slow: Vec<std::os::unix::net::UnixStream> = (0..32)
        .map(|_| std::os::unix::net::UnixStream::connect(&socket).unwrap())
        .collect();
    let started = Instant::now();
    // Wait until all 32 are served: one more is refused then.
    let refused = loop {
        for stream in &mut slow {
            let _ = stream.write_all(b"s");
        }
        let extra = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        let mut answer = String::new();
        extra.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = std::io::BufReader::new(extra).read_line(&mut answer);
        if !answer.is_empty() {
            break answer;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no connection was refused");
    };
    assert!(
        refused.starts_with("error: the player serves 32 connections at once already"),
        "{refused:?}"
    );
    // The command line's client says the same, whatever it had still to write.
    let out = remote(data.path(), &["status"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("serves 32 connections at once already"), "{said}");
    // A byte every half second is no line: each is closed 10 s after it was accepted.
    let closed = |stream: &mut std::os::unix::net::UnixStream| {
        stream.set_nonblocking(true).unwrap();
        match stream.read(&mut [0u8; 64]) {
            Ok(0) => true,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !slow.iter_mut().all(&closed) {
        assert!(Instant::now() < deadline, "trickling clients are still served");
        for stream in &mut slow {
            let _ = stream.write_all(b"s");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(started.elapsed() >= Duration::from_secs(9), "closed before their time");
    assert!(status(data.path())["track"].is_object());
    remote_ok(data.path(), &["quit"]);
    player.finish();
}

/// What cannot be queued says why in one line: a pipe is no file a scan would add, a file
/// outside the library is to be scanned first.
#[test]
fn queueing_what_is_not_a_track_of_the_library_says_why() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let player = Player::start(data.path(), 1.0, &[corpus().join("menu.opus")]);
    player.wait("started");
    let pipe = data.path().join("stream.mp3");
    let made = std::process::Command::new("mkfifo").arg(&pipe).status().unwrap();
    assert!(made.success());
    let out = remote(data.path(), &["queue", pipe.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("stream.mp3: not a regular file"), "{said}");
    let outside = data.path().join("outside.ogg");
    std::fs::copy(corpus().join("victory.ogg"), &outside).unwrap();
    let out = remote(data.path(), &["queue", outside.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("outside.ogg: not in the library (scan it first"),
        "{said}"
    );
    remote_ok(data.path(), &["quit"]);
    player.finish();
}

/// `skipless play --idle` starts with nothing, takes what the remote queues, and stays after a
/// `stop` and after its queue ran out, until `quit`; commands that find nothing to act on say so.
#[test]
fn an_idle_player_waits_for_what_the_remote_queues_and_stays_after_a_stop() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let player = Player::start_with(data.path(), 1.0, &[], &["--idle"]);
    socket_of(data.path());
    let now = status(data.path());
    assert_eq!((&now["state"], &now["queue_length"]), (&"stopped".into(), &0.into()));
    for (words, said) in [
        (&["play"][..], "nothing queued"),
        (&["seek", "10"][..], "nothing is playing"),
        (&["pause"][..], "nothing is playing"),
    ] {
        let refused = remote(data.path(), words);
        assert!(!refused.status.success(), "{words:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(said) && stderr.lines().count() == 1,
            "{words:?}: {stderr}"
        );
    }
    assert_eq!(remote_ok(data.path(), &["stop"]).trim(), "nothing was playing");

    let victory = corpus().join("victory.ogg");
    remote_ok(data.path(), &["queue", victory.to_str().unwrap()]);
    remote_ok(data.path(), &["play"]);
    player.wait("started");
    // `next` on the last track of the queue says where that leaves playback.
    assert_eq!(
        remote_ok(data.path(), &["next"]).trim(),
        "end of the queue: playback stopped"
    );
    player.wait("idle");
    assert_eq!(status(data.path())["state"], "stopped");

    let sad = corpus().join("sad.ogg");
    remote_ok(data.path(), &["queue", sad.to_str().unwrap()]);
    remote_ok(data.path(), &["play"]);
    let started = player.wait("started");
    assert!(started["path"].as_str().unwrap().ends_with("sad.ogg"), "{started}");
    assert_eq!(remote_ok(data.path(), &["vol", "30"]).trim(), "volume 30");
    remote_ok(data.path(), &["stop"]);
    player.wait("idle");
    // Still there after the stop: the queue is as it was, and play starts it again.
    assert_eq!(status(data.path())["state"], "stopped");
    remote_ok(data.path(), &["play"]);
    player.wait("started");
    remote_ok(data.path(), &["quit"]);
    player.finish();
}

/// `repeat` sets a mode or moves to the next, `shuffle` reorders what is queued once; both are
/// refused in words where there is nothing to act on.
#[test]
fn the_remote_sets_repeat_and_shuffles_the_queue() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let player = Player::start_with(data.path(), 1.0, &[], &["--idle"]);
    socket_of(data.path());
    let refused = remote(data.path(), &["shuffle"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("nothing to shuffle"));

    assert_eq!(remote_ok(data.path(), &["repeat", "one"]).trim(), "repeat one");
    assert_eq!(status(data.path())["repeat"], "one");
    // A bare `repeat` goes on in the key's order: off, all, one, off.
    assert_eq!(remote_ok(data.path(), &["repeat"]).trim(), "repeat off");
    assert_eq!(remote_ok(data.path(), &["repeat"]).trim(), "repeat all");
    assert_eq!(status(data.path())["repeat"], "all");
    let wrong = remote(data.path(), &["repeat", "sometimes"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("repeat off, all or one"));
    assert_eq!(status(data.path())["repeat"], "all");

    remote_ok(data.path(), &["queue", corpus().to_str().unwrap()]);
    let n = crate::common::library(data.path()).len();
    let shuffled = remote_ok(data.path(), &["shuffle"]);
    assert!(shuffled.starts_with("shuffled the "), "{shuffled}");
    assert_eq!(status(data.path())["queue_length"], n);
    // A config half-way through an edit does not keep the remote from the running player.
    std::fs::write(data.path().join("config.toml"), "[playback]\nvolume = \"loud\"\n").unwrap();
    assert_eq!(status(data.path())["repeat"], "all");
    remote_ok(data.path(), &["quit"]);
    player.finish();
}

/// The headless player starts at the volume the listener left, mutes and unmutes, and keeps a
/// change for the next run, leaving the rest of what the interactive player remembers (its queue) as it was.
#[test]
fn the_headless_player_starts_at_the_volume_left_and_keeps_a_change() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let state = data.path().join("state.json");
    let queue = serde_json::json!({"entries": [[1, "user"]], "cursor": 0});
    std::fs::write(
        &state,
        serde_json::json!({"volume": 20, "repeat": "all", "autoplay": false, "queue": queue}).to_string(),
    )
    .unwrap();
    let player = Player::start_with(data.path(), 1.0, &[], &["--idle"]);
    socket_of(data.path());
    assert_eq!(status(data.path())["volume"], 20);
    remote_ok(data.path(), &["vol", "45"]);
    assert_eq!(
        remote_ok(data.path(), &["mute"]).trim(),
        "muted (volume 45 when unmuted)"
    );
    let muted = status(data.path());
    assert_eq!((&muted["volume"], &muted["muted"]), (&45.into(), &true.into()));
    let said = remote_ok(data.path(), &["status"]);
    assert!(said.contains(" · muted (volume 45 when unmuted) · "), "{said}");
    assert_eq!(remote_ok(data.path(), &["mute"]).trim(), "volume 45");
    remote_ok(data.path(), &["mute"]);
    // Quit muted, the volume kept is the one unmuting goes back to.
    remote_ok(data.path(), &["quit"]);
    player.finish();
    let kept: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(kept["volume"], 45);
    assert_eq!((&kept["repeat"], &kept["queue"]), (&"all".into(), &queue), "{kept}");
}
