//! Playlists from M3U files through the real binary: relative paths, `file://` URIs, non-UTF-8
//! names and entries the library lacks; the export reads back as the same list; a playlist plays
//! headless in its order.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::common::{corpus, json_lines, scan_json, scan_json_with_problems, skipless, stderr_of_failure, stdout_of};

#[test]
fn an_m3u_imports_exports_round_trips_and_plays() {
    let data = tempfile::tempdir().unwrap();
    let lib = data.path().join("lib");
    std::fs::create_dir_all(lib.join("sub")).unwrap();
    std::fs::copy(corpus().join("sad.ogg"), lib.join("sub/sad.ogg")).unwrap();
    std::fs::copy(corpus().join("victory.ogg"), lib.join("Victory Song.ogg")).unwrap();
    let latin1 = lib.join(OsStr::from_bytes(b"caf\xe9.ogg"));
    std::fs::copy(corpus().join("silence.ogg"), &latin1).unwrap();
    scan_json(data.path(), &[&lib]);
    let lib = lib.canonicalize().unwrap();

    let mut m3u = b"#EXTM3U\n#EXTINF:45,Tyler Johnson - Sad\nsub/sad.ogg\n".to_vec();
    m3u.extend(format!("file://{}/Victory%20Song.ogg\n", lib.display()).as_bytes());
    m3u.extend(b"#EXTINF:200,Someone - Not Here\n/nowhere/missing.flac\ncaf\xe9.ogg\n");
    let file = lib.join("mix.m3u8");
    std::fs::write(&file, &m3u).unwrap();

    let out = stdout_of(skipless(data.path()).args(["playlist", "import"]).arg(&file));
    assert!(
        out.starts_with("saved playlist \"mix\": 4 entries, 3 in the library"),
        "{out}"
    );
    assert!(
        out.contains("line 6: /nowhere/missing.flac is not a playable file of the library"),
        "{out}"
    );
    // The same file on standard input: relative entries start in the current folder, and the
    // playlist needs a name.
    let unnamed = stderr_of_failure(skipless(data.path()).args(["playlist", "import", "-"]));
    assert!(unnamed.contains("--name"), "{unnamed}");
    let piped = skipless(data.path())
        .args(["playlist", "import", "-", "--name", "piped"])
        .current_dir(&lib)
        .pipe_stdin(&file)
        .unwrap()
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&piped.stdout);
    assert!(
        said.starts_with("saved playlist \"piped\": 4 entries, 3 in the library"),
        "{said} {}",
        String::from_utf8_lossy(&piped.stderr)
    );
    stdout_of(skipless(data.path()).args(["playlist", "delete", "piped"]));
    // A file with nothing to play is no playlist.
    for (text, why) in [
        ("", "(it is empty)"),
        ("#EXTM3U\nhttp://radio.example/stream\n", "(line 2: "),
    ] {
        let empty = lib.join("empty.m3u");
        std::fs::write(&empty, text).unwrap();
        let stderr = stderr_of_failure(skipless(data.path()).args(["playlist", "import"]).arg(&empty));
        assert!(
            stderr.contains("empty.m3u: no file to play in it ") && stderr.contains(why),
            "{stderr}"
        );
    }
    let listed = json_lines(&stdout_of(skipless(data.path()).args(["playlist", "list", "--json"])));
    assert_eq!(
        listed[0],
        serde_json::json!({"name": "mix", "entries": 4, "in_library": 3, "smart": false})
    );
    assert_eq!(listed.iter().filter(|p| p["smart"] == true).count(), 6);

    // Export, import the export under another name, export that: the same list, byte for byte.
    let exported = data.path().join("out.m3u8");
    stdout_of(
        skipless(data.path())
            .args(["playlist", "export", "mix", "--out"])
            .arg(&exported),
    );
    let bytes = std::fs::read(&exported).unwrap();
    assert!(
        bytes.starts_with(b"#EXTM3U\n#EXTINF:44,Tyler Johnson - Sad\n"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    // The name that is not UTF-8 is written as a file:// URI, so the M3U8 is UTF-8.
    let text = String::from_utf8(bytes.clone()).expect("an M3U8 is UTF-8");
    let name = latin1.file_name().unwrap().as_bytes();
    let encoded: String = name
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b".-_~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    assert!(
        text.lines()
            .any(|l| l.starts_with("file:///") && l.ends_with(&format!("/{encoded}"))),
        "{text}"
    );
    assert!(bytes.windows(21).any(|w| w == b"/nowhere/missing.flac"));
    stdout_of(
        skipless(data.path())
            .args(["playlist", "import", "--name", "again"])
            .arg(&exported),
    );
    let again = skipless(data.path())
        .args(["playlist", "export", "again"])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(again.stdout, bytes);

    // A name that exists is refused in one line, and nothing changes.
    let output = skipless(data.path())
        .args(["playlist", "import"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.trim(),
        "skipless: error: a playlist named \"mix\" exists already"
    );
    assert_eq!(
        json_lines(&stdout_of(skipless(data.path()).args(["playlist", "list", "--json"])))
            .iter()
            .filter(|p| p["smart"] == false)
            .count(),
        2
    );

    // Played headless, in the playlist's order, the missing entry left out, and said so.
    let output = skipless(data.path())
        .args(["--audio", "null", "play", "--json", "--playlist", "mix"])
        .env("SKIPLESS_NULL_SPEED", "400")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("playlist \"mix\": 1 of 4 entries not playable from the library, left out"),
        "{stderr}"
    );
    let played = String::from_utf8(output.stdout).unwrap();
    let started: Vec<String> = json_lines(&played)
        .iter()
        .filter(|e| e["event"] == "started")
        .map(|e| e["path"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(started.len(), 3, "{played}");
    assert!(
        started[0].ends_with("sub/sad.ogg") && started[1].ends_with("Victory Song.ogg"),
        "{started:?}"
    );
}

#[test]
fn malformed_and_stream_lines_are_left_out_by_line_and_relative_entries_match_after_a_scan() {
    let data = tempfile::tempdir().unwrap();
    let lists = data.path().join("lists");
    let music = data.path().join("music");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::create_dir_all(&music).unwrap();
    let file = lists.join("mixed.m3u");
    std::fs::write(
        &file,
        "#EXTM3U\n#EXTINF:soon,A - B\n../music/later.ogg\nhttps://radio.example/stream\n./here.ogg\n",
    )
    .unwrap();
    let out = stdout_of(skipless(data.path()).args(["playlist", "import"]).arg(&file));
    assert!(
        out.starts_with("saved playlist \"mixed\": 2 entries, 0 in the library; 2 lines left out"),
        "{out}"
    );
    assert!(
        out.contains("line 2: malformed #EXTINF: #EXTINF:soon,A - B (left out)"),
        "{out}"
    );
    assert!(
        out.contains("line 4: not a local file: https://radio.example/stream (left out)"),
        "{out}"
    );
    // Entries not in the library and lines left out are told together, in line order.
    let told: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.trim_start().split(':').next().unwrap())
        .collect();
    assert_eq!(told, ["line 2", "line 3", "line 4", "line 5"], "{out}");
    // A file that is no M3U is refused, naming it and what it is, and saves nothing.
    let history = lists.join("listens.json");
    std::fs::write(&history, "[{\"ts\":\"2024-05-29T16:26:46Z\"}]").unwrap();
    let refused = skipless(data.path())
        .args(["playlist", "import"])
        .arg(&history)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("listens.json: line 1: JSON data, not an M3U playlist") && stderr.trim().lines().count() == 1,
        "{stderr}"
    );
    let listed = stdout_of(skipless(data.path()).args(["playlist", "list"]));
    assert!(!listed.contains("listens"), "{listed}");
    // Its columns line up: every name starts in one column, saved and smart lists alike.
    let name_columns: std::collections::HashSet<usize> = listed
        .lines()
        .map(|row| row.rfind("  ").unwrap_or_else(|| panic!("{row:?}")))
        .collect();
    assert_eq!(name_columns.len(), 1, "{listed}");
    // The files arrive; a scan attaches both entries, written with `..` and `.` as they were.
    std::fs::copy(corpus().join("sad.ogg"), music.join("later.ogg")).unwrap();
    std::fs::copy(corpus().join("victory.ogg"), lists.join("here.ogg")).unwrap();
    scan_json(data.path(), &[&music, &lists]);
    let exported = stdout_of(skipless(data.path()).args(["playlist", "export", "mixed"]));
    let paths: Vec<&str> = exported.lines().filter(|l| !l.starts_with('#')).collect();
    let canonical = |p: std::path::PathBuf| std::fs::canonicalize(p).unwrap().display().to_string();
    assert_eq!(
        paths,
        [canonical(music.join("later.ogg")), canonical(lists.join("here.ogg"))]
    );
}

#[test]
fn a_playlist_name_with_control_characters_is_refused_and_one_with_spaces_trimmed() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("a.m3u");
    std::fs::write(&file, "a.ogg\n").unwrap();
    let output = skipless(data.path())
        .args(["playlist", "import", "--name", "new\nline"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("control characters"), "{stderr}");
    let out = stdout_of(
        skipless(data.path())
            .args(["playlist", "import", "--name", "  padded  "])
            .arg(&file),
    );
    assert!(out.starts_with("saved playlist \"padded\""), "{out}");
}

#[test]
fn smart_playlists_come_from_the_log() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let conn = rusqlite::Connection::open(data.path().join("skipless.db")).unwrap();
    let id = |title: &str| -> i64 {
        conn.query_row("SELECT min(id) FROM tracks WHERE title = ?1", [title], |r| r.get(0))
            .unwrap()
    };
    let (sad, victory, defeat, menu) = (id("Sad"), id("Victory"), id("Defeat"), id("menu"));
    let now = skipless::clock::now_ms();
    let long_ago = now - 200 * 86_400_000;
    conn.execute(
        "INSERT INTO sessions (id, started_at, last_at) VALUES (1, ?1, ?1)",
        [long_ago],
    )
    .unwrap();
    // (track, started, played ms, end reason, skipped)
    let plays = [
        (sad, long_ago, 40_000, "finished", false),
        (sad, long_ago + 1, 40_000, "finished", false),
        (sad, long_ago + 2, 40_000, "finished", false),
        (victory, now - 1_000, 5_000, "finished", false),
        (defeat, now - 900, 3_000, "skipped", true),
        (defeat, now - 800, 4_000, "skipped", true),
        (menu, now - 700, 30_000, "skipped", true),
    ];
    for (position, (track, started, played, reason, skipped)) in plays.iter().enumerate() {
        conn.execute(
            "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, end_reason,
                                skipped, source)
             VALUES (?1, 1, ?2, ?3, ?3 + ?4, ?4, ?5, ?6, 'user')",
            (track, position as i64, started, played, reason, skipped),
        )
        .unwrap();
    }
    let titles = |name: &str| -> Vec<String> {
        let m3u = stdout_of(skipless(data.path()).args(["playlist", "export", name]));
        m3u.lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .filter_map(|l| l.split_once(','))
            .map(|(_, name)| name.split_once(" - ").map_or(name, |(_, title)| title).to_owned())
            .collect()
    };
    assert_eq!(titles("most finished"), ["Sad", "Victory"]);
    assert_eq!(titles("most skipped"), ["Defeat", "menu"]);
    assert_eq!(titles("skipped in the first 10 s"), ["Defeat"]);
    assert_eq!(titles("rediscover"), ["Sad"]);
    // The liked tracks, the last liked first; a ban takes a like back.
    assert!(titles("liked").is_empty());
    for title in ["Victory", "Defeat", "Sad"] {
        let path: String = conn
            .query_row("SELECT path_text FROM tracks WHERE id = ?1", [id(title)], |r| r.get(0))
            .unwrap();
        stdout_of(skipless(data.path()).arg("like").arg(&path));
        std::thread::sleep(std::time::Duration::from_millis(5));
        if title == "Sad" {
            stdout_of(skipless(data.path()).arg("ban").arg(&path));
            assert_eq!(titles("liked"), ["Defeat", "Victory"]);
            stdout_of(skipless(data.path()).arg("unban").arg(&path));
        }
    }
    // A song is never played when no file of it was played: the other files of Sad, Victory,
    // Defeat and menu are not in it, nor a banned track.
    let ocean = corpus().join("hr-savino-ocean.ogg");
    stdout_of(skipless(data.path()).arg("ban").arg(&ocean));
    let ocean_title: String = conn
        .query_row(
            "SELECT title FROM tracks WHERE id = (SELECT track_id FROM bans)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let unheard = titles("never played");
    assert!(unheard.len() >= 3, "{unheard:?}");
    for heard_or_banned in ["Sad", "Victory", "Defeat", "menu", ocean_title.as_str()] {
        assert!(
            !unheard.iter().any(|t| t == heard_or_banned),
            "{heard_or_banned}: {unheard:?}"
        );
    }
    let never = json_lines(&stdout_of(skipless(data.path()).args(["playlist", "list", "--json"])))
        .into_iter()
        .find(|p| p["name"] == "never played")
        .unwrap();
    assert_eq!(never["entries"], unheard.len());
    // A smart name cannot be taken by a saved playlist.
    let file = data.path().join("x.m3u");
    std::fs::write(&file, "a.ogg\n").unwrap();
    let output = skipless(data.path())
        .args(["playlist", "import", "--name", "rediscover"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
}

#[test]
fn playlists_are_renamed_and_deleted_with_their_entries() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let file = data.path().join("two.m3u");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            corpus().join("sad.ogg").display(),
            corpus().join("victory.ogg").display()
        ),
    )
    .unwrap();
    stdout_of(
        skipless(data.path())
            .args(["playlist", "import", "--name", "a"])
            .arg(&file),
    );
    stdout_of(
        skipless(data.path())
            .args(["playlist", "import", "--name", "b"])
            .arg(&file),
    );
    let refused = |args: &[&str]| {
        let output = skipless(data.path()).args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        stderr
    };
    assert!(refused(&["playlist", "rename", "a", "b"]).contains("exists already"));
    assert!(refused(&["playlist", "rename", "nope", "c"]).contains("no playlist named \"nope\""));
    assert!(refused(&["playlist", "delete", "rediscover"]).contains("computed from the log: it cannot be deleted"));
    assert!(refused(&["playlist", "rename", "a", "B"]).contains("a playlist named \"b\" exists already"));
    let out = stdout_of(skipless(data.path()).args(["playlist", "rename", "a", "road trip"]));
    assert_eq!(out.trim(), "renamed \"a\" to \"road trip\"");
    // A name is one list in any case: not taken again, and found as written otherwise.
    let taken = refused(&["playlist", "import", "--name", "Road Trip", file.to_str().unwrap()]);
    assert!(taken.contains("exists already"), "{taken}");
    // Nor in another Unicode form: an accent typed as a combining mark is the same name.
    stdout_of(
        skipless(data.path())
            .args(["playlist", "import", "--name", "Café"])
            .arg(&file),
    );
    let taken = refused(&["playlist", "import", "--name", "Cafe\u{301}", file.to_str().unwrap()]);
    assert!(taken.contains("exists already"), "{taken}");
    stdout_of(skipless(data.path()).args(["playlist", "delete", "CAFE\u{301}"]));
    let exported = stdout_of(skipless(data.path()).args(["playlist", "export", "ROAD TRIP"]));
    assert_eq!(
        exported.lines().filter(|l| !l.starts_with('#')).count(),
        2,
        "{exported}"
    );
    let out = stdout_of(skipless(data.path()).args(["playlist", "rename", "road trip", "Road Trip"]));
    assert_eq!(out.trim(), "renamed \"road trip\" to \"Road Trip\"");
    let out = stdout_of(skipless(data.path()).args(["playlist", "rename", "road TRIP", "road trip"]));
    assert_eq!(out.trim(), "renamed \"road TRIP\" to \"road trip\"");
    stdout_of(skipless(data.path()).args(["playlist", "delete", "B"]));
    let saved: Vec<String> = json_lines(&stdout_of(skipless(data.path()).args(["playlist", "list", "--json"])))
        .iter()
        .filter(|p| p["smart"] == false)
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(saved, ["road trip"]);
    let conn = rusqlite::Connection::open(data.path().join("skipless.db")).unwrap();
    let entries: i64 = conn
        .query_row("SELECT count(*) FROM playlist_entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(entries, 2, "the deleted playlist's entries went with it");
}

/// A playlist entry whose file the scan could not read is not counted as playable, and a
/// playlist played headless leaves it out rather than failing on it.
#[test]
fn an_entry_the_scan_could_not_read_is_not_playable() {
    let data = tempfile::tempdir().unwrap();
    let lib = data.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::copy(corpus().join("victory.ogg"), lib.join("victory.ogg")).unwrap();
    std::fs::write(lib.join("noise.mp3"), vec![0x55u8; 20_000]).unwrap();
    scan_json_with_problems(data.path(), &[&lib], 1);
    let file = lib.join("two.m3u");
    std::fs::write(&file, "noise.mp3\nvictory.ogg\n").unwrap();
    let out = stdout_of(skipless(data.path()).args(["playlist", "import"]).arg(&file));
    assert!(
        out.starts_with("saved playlist \"two\": 2 entries, 1 in the library"),
        "{out}"
    );
    assert!(out.contains("noise.mp3 is not a playable file of the library"), "{out}");
    let played = crate::common::Player::start_with(data.path(), 20.0, &[], &["--playlist", "two"]);
    let started = played.wait("started");
    assert!(started["path"].as_str().unwrap().ends_with("victory.ogg"), "{started}");
    played.finish();
}
