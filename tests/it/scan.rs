//! The scanner and `library` through the real binary, on the real corpus.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::common::*;
use serde_json::{json, Value};

fn by_file<'a>(tracks: &'a [Value], name: &str) -> &'a Value {
    tracks
        .iter()
        .find(|t| t["path"].as_str().unwrap().ends_with(&format!("/{name}")))
        .unwrap_or_else(|| panic!("{name} not indexed"))
}

#[test]
fn corpus_is_indexed_with_its_real_tags() {
    let data = tempfile::tempdir().unwrap();
    let summary = scan_json(data.path(), &[&corpus()]);
    assert_eq!(
        summary,
        json!({"scanned":12,"added":12,"updated":0,"unchanged":0,"moved":0,"removed":0,"failed":0,"unplayable":0})
    );
    let tracks = library(data.path());
    assert_eq!(tracks.len(), 12);

    // Values as ffprobe / vorbiscomment report them.
    let mp3 = by_file(&tracks, "transience.id3v24.mp3");
    assert_eq!(mp3["title"], "Transience");
    assert_eq!(mp3["artist"], "Aleksi Aubry-Carlson");
    assert_eq!(mp3["album"], "The Battle for Wesnoth OST");
    assert_eq!(mp3["album_artist"], "Wesnoth Project");
    assert_eq!((mp3["track_no"].as_u64(), mp3["disc_no"].as_u64()), (Some(17), Some(2)));
    assert_eq!(mp3["year"], 2004);
    assert_eq!(mp3["genre"], "Romantic Classical");

    let ogg = by_file(&tracks, "sad.ogg");
    assert_eq!(
        (ogg["title"].as_str(), ogg["artist"].as_str()),
        (Some("Sad"), Some("Tyler Johnson"))
    );
    assert_eq!((ogg["track_no"].as_u64(), ogg["disc_no"].as_u64()), (Some(14), Some(2)));
    let m4a = by_file(&tracks, "elf-land.m4a");
    assert_eq!((m4a["track_no"].as_u64(), m4a["disc_no"].as_u64()), (Some(5), Some(1)));
    let opus = by_file(&tracks, "sad.opus");
    assert_eq!(opus["title"], "Sad");
    assert_eq!(opus["sample_rate"], 48000);
    let flac = by_file(&tracks, "defeat.flac");
    assert_eq!(
        (flac["title"].as_str(), flac["year"].as_i64()),
        (Some("Defeat"), Some(2005))
    );
    let wav = by_file(&tracks, "victory.wav");
    assert_eq!(wav["title"], "Victory");
    assert!((5400..5500).contains(&wav["duration_ms"].as_u64().unwrap()));

    let untagged = by_file(&tracks, "silence.ogg");
    assert_eq!(untagged["title"], "silence");
    assert_eq!(untagged["artist"], Value::Null);

    let covered = by_file(&tracks, "wz_track3_20s.cover.m4a");
    assert_eq!(covered["has_cover"], true);
    assert_eq!(covered["artist"], "Martin Severn");
    for t in tracks
        .iter()
        .filter(|t| !t["path"].as_str().unwrap().ends_with(".cover.m4a"))
    {
        assert_eq!(t["has_cover"], false, "{}", t["path"]);
    }
}

#[test]
fn rescans_are_incremental_and_keep_ids() {
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    copy_corpus(&music);
    scan_json(data.path(), &[&music]);
    let before = library(data.path());

    // A bare scan rescans the remembered roots and opens nothing.
    let again = scan_json(data.path(), &[]);
    assert_eq!(
        again,
        json!({"scanned":12,"added":0,"updated":0,"unchanged":12,"moved":0,"removed":0,"failed":0,"unplayable":0})
    );
    assert_eq!(library(data.path()), before);

    // A file only touched is read again and found as it was; a retagged one is updated in place.
    let touched = music.join("victory.ogg");
    let file = std::fs::OpenOptions::new().write(true).open(&touched).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(file);
    let summary = scan_json(data.path(), &[]);
    assert_eq!(
        (summary["updated"].as_u64(), summary["unchanged"].as_u64()),
        (Some(0), Some(12))
    );
    assert_eq!(library(data.path()), before);
    retitled(&touched, "Victory Again");
    assert_eq!(scan_json(data.path(), &[])["updated"], 1);
    let id_of = |tracks: &[Value]| by_file(tracks, "victory.ogg")["id"].clone();
    assert_eq!(id_of(&library(data.path())), id_of(&before));
    assert_eq!(by_file(&library(data.path()), "victory.ogg")["title"], "Victory Again");

    // A vanished file is marked gone, not forgotten.
    std::fs::remove_file(music.join("defeat.flac")).unwrap();
    let summary = scan_json(data.path(), &[]);
    assert_eq!(
        (summary["removed"].as_u64(), summary["unchanged"].as_u64()),
        (Some(1), Some(11))
    );
    assert_eq!(library(data.path()).len(), 11);

    // Broken files are recorded with a reason and do not stop the scan.
    let whole = std::fs::read(music.join("sad.ogg")).unwrap();
    std::fs::write(music.join("truncated.ogg"), &whole[..300]).unwrap();
    let noise: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(music.join("noise.mp3"), noise).unwrap();
    // A file that failed is read again and said again at every scan, so a plain `skipless
    // scan` always lists what the library cannot play.
    for _ in 0..2 {
        // Not all of the library was read: the status says so, after the summary.
        let output = skipless(data.path()).args(["scan", "--json"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            (summary["failed"].as_u64(), summary["unchanged"].as_u64()),
            (Some(2), Some(11))
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.lines().last(),
            Some("skipless: error: not all was scanned: 2 problems, each said above"),
            "{stderr}"
        );
        let line = |name: &str| stderr.lines().find(|l| l.contains(name)).unwrap_or_default().to_owned();
        // What is wrong with each, in words: the tag reader's own are kept as the reasons.
        assert!(
            line("truncated.ogg").contains("cannot read") && line("truncated.ogg").contains(": damaged: "),
            "{stderr}"
        );
        assert!(
            line("noise.mp3").ends_with("noise.mp3: not audio in any format skipless reads (damaged, or another kind of file under an audio name)"),
            "{stderr}"
        );
        assert_eq!(library(data.path()).len(), 11);
    }
}

/// A bare `skipless scan --json` of `data` under strace: its counts and the open calls of
/// audio files.
fn rescan_traced(data: &Path) -> (Value, Vec<String>) {
    let trace = data.join("trace");
    let output = std::process::Command::new("strace")
        .args(["-f", "-e", "trace=open,openat,openat2", "-o"])
        .arg(&trace)
        .arg(assert_cmd::cargo::cargo_bin("skipless"))
        .arg("--data-dir")
        .arg(data)
        .args(["--config", "/dev/null", "scan", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let audio = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| {
            [".ogg\"", ".mp3\"", ".flac\"", ".opus\"", ".m4a\"", ".wav\""]
                .iter()
                .any(|e| l.contains(e))
        })
        .map(str::to_owned)
        .collect();
    (serde_json::from_slice(&output.stdout).unwrap(), audio)
}

#[test]
fn unchanged_rescan_opens_no_audio_file() {
    if !has_tool("strace", "strace") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let (summary, audio) = rescan_traced(data.path());
    assert_eq!(summary["unchanged"], 12);
    assert!(audio.is_empty(), "rescan opened audio files: {audio:#?}");
}

#[test]
fn a_rescan_after_one_file_changed_among_many_folders_opens_that_file_alone() {
    if !has_tool("strace", "strace") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    for folder in ["a", "b", "c", "d"] {
        copy_corpus(&music.join(folder));
    }
    assert_eq!(scan_json(data.path(), &[&music])["added"], 48);
    let changed = music.join("c/sad.ogg");
    let file = std::fs::OpenOptions::new().write(true).open(&changed).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(file);
    let (summary, audio) = rescan_traced(data.path());
    assert_eq!(
        (summary["updated"].as_u64(), summary["unchanged"].as_u64()),
        (Some(0), Some(48)),
        "touched, not changed"
    );
    assert!(!audio.is_empty(), "the changed file is read");
    assert!(
        audio.iter().all(|l| l.contains("/music/c/sad.ogg\"")),
        "only the changed file is opened: {audio:#?}"
    );
}

#[test]
fn odd_names_loops_and_unreadable_folders() {
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir_all(music.join("sub")).unwrap();
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.ogg");
    std::fs::copy(corpus().join("victory.ogg"), music.join(latin1)).unwrap();
    std::fs::copy(corpus().join("sad.ogg"), music.join("sub/sad.ogg")).unwrap();
    std::os::unix::fs::symlink("..", music.join("sub/loop")).unwrap();
    let locked = music.join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::copy(corpus().join("defeat.flac"), locked.join("defeat.flac")).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    // Root reads any folder, so run the scan as an unprivileged user when we are root.
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap();
    let mut cmd = if is_root {
        for dir in [data.path(), &music, &music.join("sub")] {
            std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        }
        let mut cmd = assert_cmd::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("skipless"));
        cmd
    } else {
        assert_cmd::Command::cargo_bin("skipless").unwrap()
    };
    let output = cmd
        .arg("--data-dir")
        .arg(data.path())
        .arg("--config")
        .arg("/dev/null")
        .args(["scan", "--json"])
        .arg(&music)
        .output()
        .unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // A folder not walked is part of the library not scanned: the status says so.
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (summary["added"].as_u64(), summary["failed"].as_u64()),
        (Some(2), Some(0)),
        "{stderr}"
    );
    assert!(
        stderr.contains("locked") && stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert!(stderr.contains("symlink loop"), "{stderr}");
    let tracks = library(data.path());
    assert!(tracks
        .iter()
        .any(|t| t["path"].as_str().unwrap().ends_with("caf\u{FFFD}.ogg")));
}

#[test]
fn scanning_a_missing_folder_is_an_error_that_scans_nothing() {
    let data = tempfile::tempdir().unwrap();
    let output = skipless(data.path())
        .args(["scan", "--json"])
        .arg(corpus())
        .arg("/nonexistent/music")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "skipless: error: /nonexistent/music: cannot open: No such file or directory (os error 2)"
    );
    // Nothing scanned, and no log made for it.
    assert!(!data.path().join("skipless.db").exists());
}

#[test]
fn a_file_named_that_is_not_audio_is_said_and_not_indexed() {
    let data = tempfile::tempdir().unwrap();
    let cover = data.path().join("cover.jpg");
    std::fs::write(&cover, b"not music").unwrap();
    let output = skipless(data.path())
        .arg("scan")
        .arg(&cover)
        .arg(corpus().join("sad.ogg"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "skipless: warning: {}: not an audio file (MP3, FLAC, Ogg, Opus, M4A, WAV or AIFF)\n\
             skipless: error: not all was scanned: 1 problem, each said above",
            cover.display()
        )
    );
    let tracks = library(data.path());
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0]["title"], "Sad");
}

#[test]
fn roots_are_listed_added_and_removed() {
    let data = tempfile::tempdir().unwrap();
    let (a, b) = (data.path().join("a"), data.path().join("b"));
    copy_corpus(&a);
    // A file the scan cannot read is no track of the folder's, in its count or when it goes.
    std::fs::write(a.join("noise.mp3"), vec![0x55u8; 20_000]).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(corpus().join("sad.ogg"), b.join("sad.ogg")).unwrap();
    let added = skipless(data.path())
        .args(["roots", "add"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&added.stderr);
    assert_eq!(added.status.code(), Some(1), "{said}");
    assert!(
        said.ends_with("skipless: error: not all was scanned: 1 problem, each said above\n"),
        "{said}"
    );
    // A root is a folder: a file is refused, and a folder inside a root stays part of it.
    let file = skipless(data.path())
        .args(["roots", "add"])
        .arg(b.join("sad.ogg"))
        .output()
        .unwrap();
    assert!(!file.status.success());
    let said = String::from_utf8(file.stderr).unwrap();
    assert!(said.contains("sad.ogg: a file, not a folder"), "{said}");
    std::fs::create_dir_all(a.join("inner")).unwrap();
    let inner = skipless(data.path())
        .args(["roots", "add"])
        .arg(a.join("inner"))
        .output()
        .unwrap();
    assert!(inner.status.success());
    let said = String::from_utf8(inner.stderr).unwrap();
    assert!(
        said.contains("is inside the library folder") && said.contains("scanned as part of it"),
        "{said}"
    );
    let listed = json_lines(&stdout_of(skipless(data.path()).args(["roots", "--json"])));
    let counts: Vec<(String, u64)> = listed
        .iter()
        .map(|r| (r["path"].as_str().unwrap().to_owned(), r["tracks"].as_u64().unwrap()))
        .collect();
    let (a, b) = (a.canonicalize().unwrap(), b.canonicalize().unwrap());
    assert_eq!(counts, [(a.display().to_string(), 12), (b.display().to_string(), 1)]);

    let out = stdout_of(skipless(data.path()).args(["roots", "remove"]).arg(&a));
    assert!(out.contains("12 tracks left the library"), "{out}");
    assert_eq!(library(data.path()).len(), 1);
    // For a script, the same in JSON.
    let added = skipless(data.path())
        .args(["roots", "add", "--json"])
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(added.status.code(), Some(1), "the unreadable file is said again");
    let listed = json_lines(&String::from_utf8(added.stdout).unwrap());
    assert_eq!(listed.len(), 1);
    let removed = json_lines(&stdout_of(
        skipless(data.path()).args(["roots", "remove", "--json"]).arg(&a),
    ));
    assert_eq!(
        removed,
        [serde_json::json!({ "path": a.display().to_string(), "tracks": 12 })]
    );
    assert_eq!(library(data.path()).len(), 1);
    let listed = json_lines(&stdout_of(skipless(data.path()).args(["roots", "--json"])));
    assert_eq!(listed.len(), 1);
    // A rescan of the remaining roots does not bring the removed folder back.
    scan_json(data.path(), &[]);
    assert_eq!(library(data.path()).len(), 1);

    let output = skipless(data.path())
        .args(["roots", "remove"])
        .arg(&a)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a library folder"), "{stderr}");
}

/// A folder added around library folders takes them in: each track is under one root, counted
/// once, and removing the outer folder takes them all. Roots nested by an older version are
/// taken in at the next scan.
#[test]
fn a_folder_added_around_library_folders_takes_them_in() {
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    let (jazz, rock) = (music.join("jazz"), music.join("rock"));
    for (folder, file) in [(&jazz, "sad.ogg"), (&rock, "victory.ogg"), (&music, "defeat.flac")] {
        std::fs::create_dir_all(folder).unwrap();
        std::fs::copy(corpus().join(file), folder.join(file)).unwrap();
    }
    let roots = || -> Vec<(String, u64)> {
        json_lines(&stdout_of(skipless(data.path()).args(["roots", "--json"])))
            .iter()
            .map(|r| (r["path"].as_str().unwrap().to_owned(), r["tracks"].as_u64().unwrap()))
            .collect()
    };
    // Named in one command before the folder around it, an inner folder is no root of its own,
    // and nothing is said of it.
    let once = data.path().join("once");
    let added = skipless(&once)
        .args(["roots", "add"])
        .arg(&jazz)
        .arg(&music)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&added.stderr);
    assert!(added.status.success() && !said.contains("now part of"), "{said}");
    let listed = json_lines(&stdout_of(skipless(&once).args(["roots", "--json"])));
    let canonical = music.canonicalize().unwrap().display().to_string();
    assert_eq!(
        listed,
        [serde_json::json!({"path": canonical, "tracks": 3, "exists": true})]
    );
    // Two library folders, then one around them: each is taken in.
    let added = skipless(data.path())
        .args(["roots", "add"])
        .arg(&rock)
        .arg(&jazz)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let outer = skipless(data.path())
        .args(["roots", "add"])
        .arg(&music)
        .output()
        .unwrap();
    assert!(outer.status.success());
    let said = String::from_utf8(outer.stderr).unwrap();
    let (music, jazz, rock) = (
        music.canonicalize().unwrap(),
        jazz.canonicalize().unwrap(),
        rock.canonicalize().unwrap(),
    );
    for inner in [&jazz, &rock] {
        let line = format!(
            "skipless: the library folder {} is now part of {}",
            inner.display(),
            music.display()
        );
        assert!(said.lines().any(|l| l == line), "{said}");
    }
    assert_eq!(roots(), [(music.display().to_string(), 3)]);
    // A root kept inside another by an older version is taken in at the next scan.
    let conn = rusqlite::Connection::open(data.path().join("skipless.db")).unwrap();
    conn.execute(
        "INSERT INTO roots (path, path_text, added_at) VALUES (?1, ?2, 0)",
        rusqlite::params![jazz.as_os_str().as_encoded_bytes(), jazz.display().to_string()],
    )
    .unwrap();
    assert_eq!(roots().len(), 2);
    let rescan = skipless(data.path()).arg("scan").output().unwrap();
    assert!(rescan.status.success());
    assert!(
        String::from_utf8_lossy(&rescan.stderr).contains("is now part of"),
        "{}",
        String::from_utf8_lossy(&rescan.stderr)
    );
    assert_eq!(roots(), [(music.display().to_string(), 3)]);
    let out = stdout_of(skipless(data.path()).args(["roots", "remove"]).arg(&music));
    assert!(out.contains("3 tracks left the library"), "{out}");
    assert!(roots().is_empty());
    assert_eq!(library(data.path()).len(), 0);
}

#[test]
fn a_moved_or_renamed_file_keeps_its_track() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("config.toml"), "").unwrap();
    let music = data.path().join("music");
    copy_corpus(&music);
    scan_json(data.path(), &[&music]);
    let music = music.canonicalize().unwrap();
    let old = music.join("sad.ogg");
    let id = by_file(&library(data.path()), "sad.ogg")["id"].as_i64().unwrap();

    // A play, a like and a playlist entry for the file at its old path.
    let mut player = crate::common::Player::command(data.path(), 400.0, std::slice::from_ref(&old), &[]);
    assert!(player.output().unwrap().status.success());
    stdout_of(skipless(data.path()).arg("like").arg(&old));
    let m3u = data.path().join("keep.m3u8");
    std::fs::write(&m3u, format!("{}\n", old.display())).unwrap();
    stdout_of(skipless(data.path()).args(["playlist", "import"]).arg(&m3u));

    // Renamed into another folder: the same content at a new path is the same track.
    std::fs::create_dir(music.join("moved")).unwrap();
    let new = music.join("moved/Tyler Johnson - Sad.ogg");
    std::fs::rename(&old, &new).unwrap();
    // A copy of another file is a new track, not a move: its original is still there.
    std::fs::copy(music.join("victory.ogg"), music.join("moved/victory copy.ogg")).unwrap();
    let summary = scan_json(data.path(), &[]);
    assert_eq!(
        (
            summary["moved"].as_u64(),
            summary["added"].as_u64(),
            summary["removed"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{summary}"
    );
    let tracks = library(data.path());
    assert_eq!(by_file(&tracks, "Tyler Johnson - Sad.ogg")["id"].as_i64(), Some(id));
    assert!(tracks
        .iter()
        .all(|t| !t["path"].as_str().unwrap().ends_with("/sad.ogg")));

    let rows = json_lines(&stdout_of(skipless(data.path()).args(["export", "--format", "jsonl"])));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["track_id"].as_i64(), Some(id));
    assert_eq!(rows[0]["path"].as_str(), new.to_str());
    assert!(rows[0]["liked_at"].is_string(), "{}", rows[0]);
    let exported = stdout_of(skipless(data.path()).args(["playlist", "export", "keep"]));
    assert!(exported.contains(new.to_str().unwrap()), "{exported}");

    // The whole root renamed: a bare scan says it is missing and keeps its tracks (it may be an
    // unplugged disk); a scan of its new place finds them there, and the old root goes.
    let renamed = data.path().join("renamed music");
    std::fs::rename(&music, &renamed).unwrap();
    let count = library(data.path()).len();
    let bare = skipless(data.path()).args(["scan", "--json"]).output().unwrap();
    let warned = String::from_utf8_lossy(&bare.stderr);
    assert_eq!(bare.status.code(), Some(1), "a root not scanned: {warned}");
    assert!(
        warned.contains(&format!(
            "library root {} is missing: not scanned, its {count} tracks kept",
            music.display()
        )),
        "{warned}"
    );
    assert_eq!(library(data.path()).len(), count);
    let found = skipless(data.path())
        .args(["scan", "--json"])
        .arg(&renamed)
        .output()
        .unwrap();
    // The old root dropped is a change to the roots, not a problem of the scan.
    assert!(found.status.success(), "{}", String::from_utf8_lossy(&found.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(
        (summary["moved"].as_u64(), summary["added"].as_u64()),
        (Some(count as u64), Some(0)),
        "{summary}"
    );
    assert!(
        String::from_utf8_lossy(&found.stderr)
            .contains("is gone and nothing of it is left in the library: no longer a root"),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
    let renamed = renamed.canonicalize().unwrap();
    let tracks = library(data.path());
    assert_eq!(tracks.len(), count);
    assert!(tracks
        .iter()
        .all(|t| t["path"].as_str().unwrap().starts_with(renamed.to_str().unwrap())));
    assert_eq!(by_file(&tracks, "Tyler Johnson - Sad.ogg")["id"].as_i64(), Some(id));
    let exported = stdout_of(skipless(data.path()).args(["playlist", "export", "keep"]));
    assert!(exported.contains(renamed.to_str().unwrap()), "{exported}");
    let roots = stdout_of(skipless(data.path()).args(["roots"]));
    assert!(!roots.contains("(missing)"), "{roots}");

    // The disk unplugged, and a copy of one of its files scanned elsewhere, at another place in
    // its root: that copy is a track of its own; the disk's track keeps its history.
    let unplugged = data.path().join("unplugged");
    std::fs::rename(&renamed, &unplugged).unwrap();
    let elsewhere = data.path().join("elsewhere/a copy");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(
        unplugged.join("moved/Tyler Johnson - Sad.ogg"),
        elsewhere.join("sad.ogg"),
    )
    .unwrap();
    let summary = scan_json(data.path(), &[&data.path().join("elsewhere")]);
    assert_eq!(
        (summary["moved"].as_u64(), summary["added"].as_u64()),
        (Some(0), Some(1)),
        "{summary}"
    );
    let tracks = library(data.path());
    assert_eq!(tracks.len(), count + 1);
    assert!(tracks
        .iter()
        .any(|t| t["id"].as_i64() == Some(id) && t["path"].as_str().unwrap().starts_with(renamed.to_str().unwrap())));
}

#[test]
fn a_file_retagged_with_its_mtime_kept_is_read_again_only_by_a_full_scan() {
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    copy_corpus(&music);
    scan_json(data.path(), &[&music]);
    let ids = || {
        let mut ids: Vec<u64> = library(data.path()).iter().map(|t| t["id"].as_u64().unwrap()).collect();
        ids.sort_unstable();
        ids
    };
    let ids_before = ids();
    let title = |name: &str| by_file(&library(data.path()), name)["title"].clone();
    assert_eq!(title("victory.wav"), "Victory");

    // The title rewritten in place, same size, and the modification time put back.
    let wav = music.join("victory.wav");
    let mtime = std::fs::metadata(&wav).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&wav).unwrap();
    let at = bytes.windows(7).position(|w| w == b"Victory").expect("the INAM tag");
    bytes[at..at + 7].copy_from_slice(b"Vandals");
    std::fs::write(&wav, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&wav)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let plain = scan_json(data.path(), &[]);
    assert_eq!(
        (plain["unchanged"].as_u64(), plain["updated"].as_u64()),
        (Some(12), Some(0))
    );
    assert_eq!(
        title("victory.wav"),
        "Victory",
        "a plain scan only stats an unchanged file"
    );

    let output = skipless(data.path())
        .args(["scan", "--full", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let full: Value = serde_json::from_slice(&output.stdout).unwrap();
    // Every file is read again; only the one whose tags changed is counted as updated.
    assert_eq!(
        full,
        json!({"scanned":12,"added":0,"updated":1,"unchanged":11,"moved":0,"removed":0,"failed":0,"unplayable":0})
    );
    assert_eq!(title("victory.wav"), "Vandals");
    assert_eq!(ids(), ids_before, "read again, every file keeps its track");
}

/// Copies the corpus's untagged `silence.ogg` to `music/name`, its artist and title tagged.
fn tagged(music: &Path, name: &str, artist: &str, title: &str) {
    use lofty::tag::Accessor;
    let path = music.join(name);
    std::fs::copy(corpus().join("silence.ogg"), &path).unwrap();
    retag(&path, |tag| {
        tag.set_artist(artist.into());
        tag.set_title(title.into());
    });
}

fn retitled(path: &Path, title: &str) {
    use lofty::tag::Accessor;
    retag(path, |tag| tag.set_title(title.into()));
}

/// Changes the primary tag of the file at `path` with `change`, with lofty.
fn retag(path: &Path, change: impl FnOnce(&mut lofty::tag::Tag)) {
    use lofty::file::TaggedFileExt;
    let mut file = lofty::read_from_path(path).unwrap();
    change(file.primary_tag_mut().unwrap());
    lofty::file::AudioFile::save_to_path(&file, path, lofty::config::WriteOptions::default()).unwrap();
}

#[test]
fn tags_are_kept_as_one_line_in_one_form_and_names_sort_by_their_letters() {
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir(&music).unwrap();
    tagged(&music, "nfd.ogg", "Beyonce\u{301}", "Crazy");
    tagged(&music, "nfc.ogg", "Beyoncé", "Line one\nLine\ttwo\x1b[2J");
    tagged(&music, "hidden.ogg", "\u{200b}", "\u{202e}abc");
    tagged(&music, "upper.ogg", "ÉLAN", "Upper");
    tagged(&music, "plain.ogg", "Elan", "Plain");
    tagged(&music, "zed.ogg", "Zed", "Last");
    scan_json(data.path(), &[&music]);
    let tracks = library(data.path());
    let row = |t: &Value| {
        (
            t["artist"].as_str().map(str::to_owned),
            t["title"].as_str().unwrap().to_owned(),
        )
    };
    let rows: Vec<_> = tracks.iter().map(row).collect();
    let named = |artist: &str, title: &str| (Some(artist.to_owned()), title.to_owned());
    assert_eq!(
        rows,
        [
            (None, "abc".to_owned()),
            named("Beyoncé", "Crazy"),
            named("Beyoncé", "Line one Line two[2J"),
            named("Elan", "Plain"),
            named("ÉLAN", "Upper"),
            named("Zed", "Last"),
        ],
        "one form of each name, in the order of their letters ({})",
        "É with E, not after Z"
    );

    // An index written before tags were kept so is read again once, at the next scan.
    let db = data.path().join("skipless.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "UPDATE tracks SET title = 'old' || char(10) || 'title' WHERE title = 'Plain';
             PRAGMA user_version = 11;",
        )
        .unwrap();
    }
    let again = scan_json(data.path(), &[]);
    assert_eq!(
        (again["updated"].as_u64(), again["unchanged"].as_u64()),
        (Some(1), Some(5)),
        "{again}"
    );
    assert!(library(data.path()).iter().any(|t| t["title"] == "Plain"));
    assert_eq!(
        scan_json(data.path(), &[])["unchanged"].as_u64(),
        Some(6),
        "read again once"
    );

    // A file moved before that first scan keeps its track, though the index still holds its
    // tags as they were written before.
    let id_of = |title: &str| {
        library(data.path())
            .iter()
            .find(|t| t["title"] == title)
            .map(|t| t["id"].clone())
    };
    let zed = id_of("Last").unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "UPDATE tracks SET artist = 'Zed' || char(8203) WHERE artist = 'Zed';
             PRAGMA user_version = 11;",
        )
        .unwrap();
    }
    std::fs::rename(music.join("zed.ogg"), music.join("zed, moved.ogg")).unwrap();
    let moved = scan_json(data.path(), &[]);
    assert_eq!(moved["moved"].as_u64(), Some(1), "{moved}");
    assert_eq!(id_of("Last"), Some(zed));
}

/// An AIFF file is a track like any other: indexed with its tags and played to its end. Audio
/// files in formats the player cannot decode are counted and said, not left out without a word.
#[test]
fn aiff_is_played_and_formats_it_cannot_play_are_said() {
    if !has_tool("ffmpeg", "ffmpeg") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir(&music).unwrap();
    let aiff = music.join("victory.aiff");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(corpus().join("victory.wav"))
        .args(["-metadata", "title=Victory in AIFF", "-write_id3v2", "1"])
        .arg(&aiff)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::write(music.join("a.wv"), b"wvpk").unwrap();
    std::fs::write(music.join("b.WV"), b"wvpk").unwrap();
    std::fs::write(music.join("c.ape"), b"MAC ").unwrap();
    let output = skipless(data.path()).arg("scan").arg(&music).output().unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "skipless: warning: left out 3 audio files in formats skipless cannot play: 1 .ape, 2 .wv"
    );
    let summary = scan_json(data.path(), &[&music]);
    assert_eq!(
        (summary["scanned"].as_u64(), summary["unplayable"].as_u64()),
        (Some(1), Some(3))
    );
    let tracks = library(data.path());
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0]["title"], "Victory in AIFF");
    assert!(
        (5400..5500).contains(&tracks[0]["duration_ms"].as_u64().unwrap()),
        "{}",
        tracks[0]
    );

    let player = Player::start(data.path(), 20.0, &[aiff]);
    player.wait("started");
    let ended = player.wait("ended");
    assert_eq!(ended["end_reason"], "finished", "{ended}");
    assert!(ended["played_ms"].as_u64().unwrap() > 5_000, "{ended}");
    player.quit();
}
