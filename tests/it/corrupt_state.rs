//! Damaged or unusable state through the real binary: a truncated database, a garbled header, a
//! truncated model checkpoint, a read-only data dir and a full disk. Each gives one clear line on
//! stderr, never a panic, and leaves the existing data as it was. (A garbage or foreign database,
//! a newer schema and a config type error are in `database.rs`; two players on one data dir in
//! `playback.rs`.)

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;
use rusqlite::Connection;

/// A data dir with the corpus indexed and two plays logged.
fn data_with_plays(dir: &Path) {
    scan_json(dir, &[&corpus()]);
    let output = skipless(dir)
        .args(["--audio", "null", "play"])
        .arg(corpus().join("victory.ogg"))
        .arg(corpus().join("victory.wav"))
        .env("SKIPLESS_NULL_SPEED", "50")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

fn plays(db: &Path) -> Vec<(i64, String, i64)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, coalesce(end_reason, ''), played_ms FROM plays ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Asserts a refusal: a failure, exactly one line on stderr containing every `needle`, no panic.
fn assert_one_line_refusal(output: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "succeeded: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "no `{needle}` in: {stderr}");
    }
    stderr
}

fn every_command(data: &Path) -> Vec<(&'static str, Output)> {
    vec![
        ("library", skipless(data).args(["library"]).output().unwrap()),
        ("scan", skipless(data).args(["scan"]).arg(corpus()).output().unwrap()),
        ("history", skipless(data).args(["history"]).output().unwrap()),
        (
            "play",
            skipless(data)
                .args(["--audio", "null", "play"])
                .arg(corpus().join("victory.ogg"))
                .env("SKIPLESS_NULL_SPEED", "50")
                .output()
                .unwrap(),
        ),
    ]
}

#[test]
fn a_truncated_database_is_refused_byte_for_byte_untouched() {
    let data = tempfile::tempdir().unwrap();
    data_with_plays(data.path());
    let db = data.path().join("skipless.db");
    assert!(
        !data.path().join("skipless.db-wal").exists()
            || std::fs::metadata(data.path().join("skipless.db-wal")).unwrap().len() == 0
    );
    let whole = std::fs::read(&db).unwrap();
    assert!(whole.len() > 8192);
    let cut = &whole[..whole.len() / 2];
    std::fs::write(&db, cut).unwrap();
    for (command, output) in every_command(data.path()) {
        let line = assert_one_line_refusal(&output, &["skipless.db", "truncated"]);
        assert_eq!(std::fs::read(&db).unwrap(), cut, "{command} changed the file: {line}");
    }
    assert!(!data.path().join("skipless.db-wal").exists());
}

#[test]
fn a_garbled_header_is_refused_byte_for_byte_untouched() {
    let data = tempfile::tempdir().unwrap();
    data_with_plays(data.path());
    let db = data.path().join("skipless.db");
    let mut bytes = std::fs::read(&db).unwrap();
    for (i, b) in bytes[..100].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    std::fs::write(&db, &bytes).unwrap();
    for (command, output) in every_command(data.path()) {
        let line = assert_one_line_refusal(&output, &["skipless.db", "not a skipless database"]);
        assert_eq!(std::fs::read(&db).unwrap(), bytes, "{command} changed the file: {line}");
    }
}

#[test]
fn a_checkpoint_truncated_mid_file_is_a_warning_and_is_left_alone() {
    let data = tempfile::tempdir().unwrap();
    data_with_plays(data.path());
    let models = data.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    // A checkpoint cut in the middle of its weights: a valid header, then not enough bytes.
    let header = br#"{"__metadata__":{"skipless":"{\"format_version\":1}"},"w":{"dtype":"F32","shape":[64,64],"data_offsets":[0,16384]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend(std::iter::repeat_n(0u8, 5000));
    let model = models.join("model.safetensors");
    std::fs::write(&model, &bytes).unwrap();
    let output = skipless(data.path()).args(["recommend", "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("model.safetensors") && stderr.contains("fallback"),
        "{stderr}"
    );
    assert!(!output.stdout.is_empty(), "recommendations from the fallback");
    assert_eq!(std::fs::read(&model).unwrap(), bytes);

    // A model that cannot be read at all (a folder in its place) is the same warning.
    std::fs::remove_file(&model).unwrap();
    std::fs::create_dir(&model).unwrap();
    let output = skipless(data.path()).args(["recommend", "--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("model.safetensors") && stderr.contains("fallback"),
        "{stderr}"
    );
}

/// A mount that is undone when dropped.
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str], at: &Path) -> bool {
        std::process::Command::new("mount")
            .args(args)
            .arg(at)
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_read_only_data_dir_is_read_and_refuses_writes_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    data_with_plays(&data);
    let db = data.join("skipless.db");
    let before = plays(&db);
    let bytes = std::fs::read(&db).unwrap();
    // root ignores permission bits: a read-only bind mount makes the directory truly read-only.
    let _mount = if is_root() {
        let bound = Mount::run(&["--bind", data.to_str().unwrap()], &data);
        assert!(bound, "cannot bind-mount {}", data.display());
        let mount = Mount(data.clone());
        assert!(
            Mount::run(&["-o", "remount,ro,bind"], &data),
            "cannot remount read-only"
        );
        Some(mount)
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
        None
    };
    for (command, output) in every_command(&data) {
        if matches!(command, "library" | "history") {
            // What only reads the log reads it as it stands: a backup can still be looked at.
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{command}: {stderr}");
            continue;
        }
        let line = assert_one_line_refusal(&output, &["cannot write to the data directory", "data"]);
        assert!(!line.contains("panicked"), "{command}: {line}");
    }
    let history = skipless(&data).args(["history", "--json"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&history.stdout).lines().count(), before.len());
    for format in ["csv", "spotify", "listenbrainz"] {
        let export = skipless(&data).args(["export", "--format", format]).output().unwrap();
        assert!(
            export.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&export.stderr)
        );
    }
    let stats = skipless(&data).args(["stats", "--json"]).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["plays"], before.len() as u64);
    drop(_mount);
    if !is_root() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
    assert_eq!(plays(&db), before);
}

#[test]
fn a_full_disk_gives_one_line_and_loses_nothing() {
    if !crate::common::is_root("mounting a small tmpfs") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("disk");
    std::fs::create_dir_all(&mnt).unwrap();
    assert!(
        Mount::run(&["-t", "tmpfs", "-o", "size=4m", "tmpfs"], &mnt),
        "cannot mount a tmpfs"
    );
    let _mount = Mount(mnt.clone());
    let data = mnt.join("data");
    data_with_plays(&data);
    let db = data.join("skipless.db");
    let before = plays(&db);
    assert_eq!(before.len(), 2);

    // Fill the disk to the last byte.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
    }
    for (command, output) in every_command(&data) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        if output.status.success() {
            continue; // nothing to write (a rescan of unchanged files, a read)
        }
        assert_one_line_refusal(&output, &["full"]);
    }
    // Once there is room again, everything logged before is there and the database is sound.
    std::fs::remove_file(&filler).unwrap();
    let conn = Connection::open(&db).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let after = plays(&db);
    assert_eq!(&after[..before.len()], &before[..]);
    let output = skipless(&data)
        .args(["--audio", "null", "play"])
        .arg(corpus().join("victory.ogg"))
        .env("SKIPLESS_NULL_SPEED", "50")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(plays(&db).len(), after.len() + 1);
}
