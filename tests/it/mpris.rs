//! MPRIS through the real binary: a private `dbus-daemon`, the headless player on the null
//! output, and `dbus-send` as the desktop. Next is logged as a skip from `mpris`, the metadata
//! follows the queue, pause/seek/volume reach the engine, and without a bus the player plays on.
//!
//! The tests that need a bus are skipped (with a printed reason) only when `dbus-daemon` is not
//! installed; `.ci/run` installs it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

const NAME: &str = "org.mpris.MediaPlayer2.skipless";
const PATH: &str = "/org/mpris/MediaPlayer2";
const PLAYER: &str = "org.mpris.MediaPlayer2.Player";

/// A private session bus, ended when dropped.
struct Bus {
    daemon: Child,
    address: String,
}

impl Bus {
    /// Starts `dbus-daemon`, or returns `None` when it is not installed (the test skips, or fails in
    /// CI).
    fn start(dir: &Path) -> Option<Bus> {
        if !crate::common::has_tool("dbus-daemon", "dbus") {
            return None;
        }
        let socket = dir.join("bus");
        let spawned = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut daemon = match spawned {
            Ok(child) => child,
            Err(e) => panic!("cannot start dbus-daemon: {e}"),
        };
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon printed {address:?}");
        Some(Bus { daemon, address })
    }

    /// `dbus-send --session --print-reply ARGS` on this bus; the reply, or the error text.
    fn send(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["--session", "--print-reply", "--reply-timeout=5000"])
            .args(args)
            .output()
            .expect("dbus-send runs");
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    fn has_owner(&self, name: &str) -> bool {
        let reply = self
            .send(&[
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                &format!("string:{name}"),
            ])
            .expect("the bus answers");
        reply.contains("boolean true")
    }

    /// Calls a method of the player interface.
    fn call(&self, method: &str, args: &[&str]) -> String {
        let dest = format!("--dest={NAME}");
        let member = format!("{PLAYER}.{method}");
        let mut all = vec![dest.as_str(), PATH, member.as_str()];
        all.extend_from_slice(args);
        self.send(&all).unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Reads a property of the player interface (the reply text of `Properties.Get`).
    fn get(&self, property: &str) -> String {
        let dest = format!("--dest={NAME}");
        let interface = format!("string:{PLAYER}");
        let property = format!("string:{property}");
        self.send(&[
            &dest,
            PATH,
            "org.freedesktop.DBus.Properties.Get",
            &interface,
            &property,
        ])
        .unwrap_or_else(|e| panic!("Get {property}: {e}"))
    }

    fn set(&self, property: &str, value: &str) {
        let dest = format!("--dest={NAME}");
        let interface = format!("string:{PLAYER}");
        let property = format!("string:{property}");
        self.send(&[
            &dest,
            PATH,
            "org.freedesktop.DBus.Properties.Set",
            &interface,
            &property,
            value,
        ])
        .unwrap_or_else(|e| panic!("Set {property}: {e}"));
    }

    fn status(&self) -> String {
        first_value(&self.get("PlaybackStatus"))
    }

    fn metadata(&self) -> HashMap<String, String> {
        parse_metadata(&self.get("Metadata"))
    }

    /// A client connection of its own, for watching signals.
    fn client(&self) -> zbus::blocking::Connection {
        zbus::blocking::connection::Builder::address(self.address.as_str())
            .unwrap()
            .build()
            .unwrap()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The value of a one-value reply: `variant string "Playing"` → `Playing`, `variant double 0.5`
/// → `0.5`.
fn first_value(reply: &str) -> String {
    let line = reply
        .lines()
        .find(|l| l.trim_start().starts_with("variant"))
        .unwrap_or_else(|| panic!("no value in {reply}"));
    value_of_line(line)
}

fn value_of_line(line: &str) -> String {
    match (line.find('"'), line.rfind('"')) {
        (Some(a), Some(b)) if b > a => line[a + 1..b].to_owned(),
        _ => line.split_whitespace().last().unwrap_or_default().to_owned(),
    }
}

/// `dbus-send`'s print of an `a{sv}`: each `dict entry(` holds `string "key"` and then the value,
/// possibly inside `array [ … ]` (the first element is taken).
fn parse_metadata(reply: &str) -> HashMap<String, String> {
    let lines: Vec<&str> = reply.lines().map(str::trim).collect();
    let mut map = HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        if *line != "dict entry(" {
            continue;
        }
        let key = value_of_line(lines[i + 1]);
        let value_line = lines[i + 2..]
            .iter()
            .find(|l| !l.ends_with('[') || l.contains('"'))
            .copied()
            .unwrap_or_default();
        map.insert(key, value_of_line(value_line));
    }
    map
}

/// Polls `check` for up to 10 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A player on the null output in real time, on the bus at `bus_address`, or with no session
/// bus to be found when `None`.
fn start_player(data_dir: &Path, bus_address: Option<&str>, paths: &[PathBuf]) -> Player {
    let mut command = Player::command(data_dir, 1.0, paths, &[]);
    match bus_address {
        Some(address) => command.env("DBUS_SESSION_BUS_ADDRESS", address),
        // zbus then looks for $XDG_RUNTIME_DIR/bus, which the test's runtime dir does not have:
        // a desktop session around the test run is not found either.
        None => command.env_remove("DBUS_SESSION_BUS_ADDRESS"),
    };
    Player::spawn(command)
}

/// Starts a bus and a player on it, and waits until the player holds its MPRIS name.
fn player_on_a_bus(data_dir: &Path, tracks: &[&str]) -> Option<(Bus, Player)> {
    let bus = Bus::start(data_dir)?;
    let paths: Vec<PathBuf> = tracks.iter().map(|t| corpus().join(t)).collect();
    let player = start_player(data_dir, Some(&bus.address), &paths);
    player.wait("started");
    eventually("the player's MPRIS name", || bus.has_owner(NAME));
    Some((bus, player))
}

fn history(data_dir: &Path) -> Vec<Value> {
    let mut rows = json_lines(&stdout_of(
        skipless(data_dir).args(["history", "--json", "--limit", "100"]),
    ));
    rows.reverse();
    rows
}

#[test]
fn next_from_mpris_is_a_logged_skip_and_the_metadata_follows_the_queue() {
    let data = tempfile::tempdir().unwrap();
    let Some((bus, mut player)) = player_on_a_bus(data.path(), &["elf-land.ogg", "wz_track3_20s.cover.m4a", "sad.ogg"])
    else {
        return;
    };
    assert_eq!(bus.status(), "Playing");
    assert!(bus.get("CanGoNext").contains("boolean true"));
    std::thread::sleep(Duration::from_millis(1200));

    bus.call("Next", &[]);
    let started = player.wait("started");
    let track_id = started["track_id"].as_i64().unwrap();
    let trackid = format!("/org/skipless/track/{track_id}");
    eventually("the metadata of the next track", || {
        bus.metadata().get("mpris:trackid") == Some(&trackid)
    });
    assert_eq!(bus.status(), "Playing");

    let library = library(data.path());
    let tags = library
        .iter()
        .find(|t| t["id"] == track_id)
        .expect("the next track is in the library");
    assert!(tags["path"].as_str().unwrap().ends_with("wz_track3_20s.cover.m4a"));
    let metadata = bus.metadata();
    for (key, tag) in [
        ("xesam:title", "title"),
        ("xesam:artist", "artist"),
        ("xesam:album", "album"),
    ] {
        let expected = tags[tag]
            .as_str()
            .unwrap_or_else(|| panic!("the corpus track has a {tag}"));
        assert_eq!(
            metadata.get(key).map(String::as_str),
            Some(expected),
            "{key}: {metadata:?}"
        );
    }
    let length_us: i64 = metadata["mpris:length"].parse().unwrap();
    assert_eq!(length_us, tags["duration_ms"].as_i64().unwrap() * 1000);
    let art_url = &metadata["mpris:artUrl"];
    let art_file = art_url.strip_prefix("file://").expect("a file URL");
    assert!(
        art_file.starts_with(data.path().to_str().unwrap()),
        "the cover is in the data dir's cache: {art_file}"
    );
    let picture = std::fs::read(art_file).unwrap();
    assert!(picture.starts_with(&[0xFF, 0xD8]) || picture.starts_with(b"\x89PNG"));

    // The same skip from stdin is told apart from the desktop's.
    std::thread::sleep(Duration::from_millis(1200));
    player.send("next");
    player.wait("started");
    let stderr = player.quit();
    assert!(!stderr.contains("MPRIS"), "nothing about MPRIS on screen: {stderr}");

    let rows = history(data.path());
    assert_eq!(rows.len(), 3, "{rows:#?}");
    assert_eq!(
        (&rows[0]["end_reason"], &rows[0]["skipped"], &rows[0]["end_source"]),
        (&"skipped".into(), &true.into(), &"mpris".into()),
        "{:#}",
        rows[0]
    );
    assert_eq!(rows[1]["end_source"], "stdin", "{:#}", rows[1]);
    assert_eq!(rows[1]["skipped"], true);
    assert_eq!(rows[2]["end_reason"], "quit");
    assert_eq!(rows[2]["end_source"], Value::Null);
}

/// With autoplay, a queue that runs out waits for its picks; a Stop from the desktop ends the
/// play session as a `stop` on stdin does, and nothing starts again when the picks arrive.
#[test]
fn a_stop_from_the_desktop_ends_an_autoplay_session_that_a_queue_running_out_would_go_on_from() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let Some(bus) = Bus::start(data.path()) else {
        return;
    };
    let mut command = Player::command(data.path(), 1.0, &[corpus().join("sad.ogg")], &["--autoplay"]);
    command.env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let mut player = Player::spawn(command);
    player.wait("started");
    eventually("the player's MPRIS name", || bus.has_owner(NAME));
    bus.call("Stop", &[]);
    player.wait("idle");
    eventually("the player to end", || player.child.try_wait().unwrap().is_some());
    // Every line the player wrote, read to the end of its output.
    let rest: Vec<Value> = std::iter::from_fn(|| player.lines.recv_timeout(Duration::from_secs(5)).ok()).collect();
    assert!(
        rest.iter().all(|event| event["event"] != "started"),
        "something started after the stop: {rest:?}"
    );
    let rows = history(data.path());
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        (&rows[0]["end_reason"], &rows[0]["end_source"]),
        (&"stopped".into(), &"mpris".into())
    );
}

#[test]
fn pause_and_play_change_the_status_and_signal_it() {
    let data = tempfile::tempdir().unwrap();
    let Some((bus, player)) = player_on_a_bus(data.path(), &["hr-savino-ocean.ogg"]) else {
        return;
    };
    let client = bus.client();
    let properties = zbus::blocking::fdo::PropertiesProxy::builder(&client)
        .destination(NAME)
        .unwrap()
        .path(PATH)
        .unwrap()
        .build()
        .unwrap();
    let mut changes = properties.receive_properties_changed().unwrap();

    bus.call("Pause", &[]);
    player.wait("paused");
    eventually("Paused", || bus.status() == "Paused");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for signal in &mut changes {
            let args = signal.args().unwrap();
            let status = args.changed_properties().get("PlaybackStatus").map(|v| v.to_string());
            if tx.send((args.interface_name().to_string(), status)).is_err() {
                break;
            }
        }
    });
    let signalled = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a PropertiesChanged signal");
    assert_eq!(signalled, (PLAYER.to_owned(), Some("\"Paused\"".to_owned())));

    bus.call("PlayPause", &[]);
    player.wait("resumed");
    eventually("Playing", || bus.status() == "Playing");
    let signalled = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a PropertiesChanged signal");
    assert_eq!(signalled.1.as_deref(), Some("\"Playing\""));
    player.quit();
}

/// A track that ends and the next that starts are one change for the desktop: the status stays
/// Playing and the metadata goes from one track to the next, with no "Stopped" and no empty
/// metadata in between (status bars hide or flicker on those).
#[test]
fn going_on_to_the_next_track_shows_no_stop_in_between() {
    let data = tempfile::tempdir().unwrap();
    let Some(bus) = Bus::start(data.path()) else {
        return;
    };
    let paths = [
        corpus().join("victory.ogg"),
        corpus().join("silence.ogg"),
        corpus().join("elf-land.ogg"),
    ];
    let mut command = Player::command(data.path(), 4.0, &paths, &[]);
    command.env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let player = Player::spawn(command);
    player.wait("started");
    eventually("the player's MPRIS name", || bus.has_owner(NAME));
    let client = bus.client();
    let properties = zbus::blocking::fdo::PropertiesProxy::builder(&client)
        .destination(NAME)
        .unwrap()
        .path(PATH)
        .unwrap()
        .build()
        .unwrap();
    let mut changes = properties.receive_properties_changed().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for signal in &mut changes {
            let args = signal.args().unwrap();
            let changed = args.changed_properties();
            let status = changed.get("PlaybackStatus").map(|v| v.to_string());
            let trackid = changed
                .get("Metadata")
                .map(|m| format!("{m:?}"))
                .map(|m| m.contains("NoTrack"));
            if tx.send((status, trackid)).is_err() {
                break;
            }
        }
    });
    // The first track ends by itself; the second is skipped from the desktop.
    player.wait("started");
    bus.call("Next", &[]);
    player.wait("started");
    std::thread::sleep(Duration::from_millis(500));
    let signals: Vec<_> = rx.try_iter().collect();
    assert!(
        signals.iter().any(|(_, trackid)| trackid.is_some()),
        "the metadata changed: {signals:?}"
    );
    for (status, no_track) in &signals {
        assert_ne!(status.as_deref(), Some("\"Stopped\""), "{signals:?}");
        assert_ne!(*no_track, Some(true), "no empty metadata between tracks: {signals:?}");
    }
    assert_eq!(bus.status(), "Playing");
    player.quit();
}

/// A data dir given as a relative path still gives the desktop a cover it can open: an absolute
/// `file:///` URI (a relative one reads as a host name).
#[test]
fn a_relative_data_dir_gives_an_absolute_cover_url() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(bus) = Bus::start(dir.path()) else {
        return;
    };
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"));
    command
        .current_dir(dir.path())
        .args(["--data-dir", "data", "--config"])
        .arg(config_file(&data))
        .args(["--audio", "null", "play", "--json"])
        .arg(corpus().join("wz_track3_20s.cover.m4a"))
        .env("XDG_RUNTIME_DIR", runtime_dir(&data))
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env_remove("SKIPLESS_DATA_DIR");
    let player = Player::spawn(command);
    player.wait("started");
    eventually("the player's MPRIS name", || bus.has_owner(NAME));
    eventually("the cover's URL", || bus.metadata().contains_key("mpris:artUrl"));
    let art_url = &bus.metadata()["mpris:artUrl"];
    let art_file = art_url.strip_prefix("file://").expect("a file URL");
    assert!(
        art_file.starts_with(data.to_str().unwrap()),
        "an absolute path in the data dir: {art_url}"
    );
    assert!(Path::new(art_file).is_file(), "{art_url}");
    player.quit();
}

#[test]
fn seek_and_set_position_move_the_position() {
    let data = tempfile::tempdir().unwrap();
    let Some((bus, player)) = player_on_a_bus(data.path(), &["hr-savino-ocean.ogg"]) else {
        return;
    };
    let position_us = || -> i64 { first_value(&bus.get("Position")).parse().unwrap() };

    bus.call("Seek", &["int64:5000000"]);
    let seeked = player.wait("seeked");
    assert!(seeked["position_ms"].as_u64().unwrap() >= 5_000, "{seeked}");
    eventually("the position after the seek", || position_us() >= 5_000_000);

    let trackid = bus.metadata()["mpris:trackid"].clone();
    bus.call("SetPosition", &[&format!("objpath:{trackid}"), "int64:20000000"]);
    let seeked = player.wait("seeked");
    assert!(
        seeked["position_ms"].as_u64().unwrap().abs_diff(20_000) <= 100,
        "{seeked}"
    );
    eventually("the position after SetPosition", || {
        (20_000_000..22_000_000).contains(&position_us())
    });

    // A SetPosition about another track is stale and ignored.
    bus.call("SetPosition", &["objpath:/org/skipless/track/999999", "int64:0"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(position_us() >= 20_000_000);
    player.quit();
}

#[test]
fn the_volume_is_read_and_set() {
    let data = tempfile::tempdir().unwrap();
    let Some((bus, player)) = player_on_a_bus(data.path(), &["hr-savino-ocean.ogg"]) else {
        return;
    };
    assert_eq!(first_value(&bus.get("Volume")), "1");
    bus.set("Volume", "variant:double:0.5");
    let volume = player.wait("volume");
    assert_eq!(volume["volume"], 50);
    eventually("the new volume", || first_value(&bus.get("Volume")) == "0.5");
    player.quit();
}

/// `LoopStatus` is the repeat mode: read, set from the desktop (it stays set while the player
/// goes on publishing its state), and a status that is none of the three is refused.
#[test]
fn the_loop_status_is_the_repeat_mode() {
    let data = tempfile::tempdir().unwrap();
    let Some((bus, player)) = player_on_a_bus(data.path(), &["hr-savino-ocean.ogg"]) else {
        return;
    };
    assert_eq!(first_value(&bus.get("LoopStatus")), "None");
    for status in ["Track", "Playlist", "None"] {
        bus.set("LoopStatus", &format!("variant:string:{status}"));
        // Four position reports a second republish the player's state: what it shows after a
        // second is the player's mode, not the value the call set.
        std::thread::sleep(Duration::from_millis(1200));
        assert_eq!(first_value(&bus.get("LoopStatus")), status);
    }
    let dest = format!("--dest={NAME}");
    let refused = bus.send(&[
        &dest,
        PATH,
        "org.freedesktop.DBus.Properties.Set",
        &format!("string:{PLAYER}"),
        "string:LoopStatus",
        "variant:string:Forever",
    ]);
    assert!(refused.is_err_and(|e| e.contains("None, Track or Playlist")));
    player.quit();
}

#[test]
fn the_config_switch_keeps_the_player_off_the_bus() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("config.toml"), "[mpris]\nenabled = false\n").unwrap();
    let Some(bus) = Bus::start(data.path()) else {
        return;
    };
    let player = start_player(data.path(), Some(&bus.address), &[corpus().join("sad.ogg")]);
    player.wait("position");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!bus.has_owner(NAME));
    player.quit();
    let log = std::fs::read_to_string(data.path().join("skipless.log")).unwrap();
    assert!(log.contains("MPRIS is off: disabled in the config"), "{log}");
}

#[test]
fn without_a_session_bus_the_player_plays_and_logs_one_line() {
    for address in [None, Some("unix:path=/nonexistent/skipless-test-bus")] {
        let data = tempfile::tempdir().unwrap();
        let mut player = start_player(
            data.path(),
            address,
            &[corpus().join("sad.ogg"), corpus().join("victory.ogg")],
        );
        player.wait("started");
        if address.is_none() {
            // No bus named: nothing of the D-Bus library runs (its thread would wake twice a
            // second for the rest of the run).
            let tasks = format!("/proc/{}/task", player.child.id());
            let names: Vec<String> = std::fs::read_dir(&tasks)
                .unwrap()
                .flatten()
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .collect();
            assert!(!names.iter().any(|n| n.starts_with("blocking")), "{names:?}");
        }
        player.send("next");
        player.wait("started");
        let stderr = player.quit();
        assert!(stderr.trim().is_empty(), "nothing on screen: {stderr}");
        let rows = history(data.path());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["end_source"], "stdin");
        let log = std::fs::read_to_string(data.path().join("skipless.log")).unwrap();
        let mpris_lines: Vec<&str> = log.lines().filter(|l| l.contains("MPRIS")).collect();
        assert_eq!(mpris_lines.len(), 1, "{log}");
        assert!(mpris_lines[0].contains("MPRIS is off: no session bus"), "{log}");
        assert!(!mpris_lines[0].contains("ERROR"), "{log}");
    }
}
