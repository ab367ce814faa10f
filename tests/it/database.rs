//! Opening databases and config files through the real binary: migration, refusal, no damage.

use crate::common::*;
use rusqlite::Connection;

const V1_SCHEMA: &str = include_str!("../../migrations/0001_init.sql");

#[test]
fn an_older_database_is_migrated_and_keeps_its_rows() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("skipless.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(V1_SCHEMA).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA application_id = {}; PRAGMA user_version = 1;",
            skipless::db::APPLICATION_ID
        ))
        .unwrap();
        conn.execute(
            "INSERT INTO tracks (path, path_text, size, mtime_ns, status, title, added_at, updated_at)
             VALUES (CAST('/old/song.ogg' AS BLOB), '/old/song.ogg', 1, 1, 'ok', 'Old Song', 0, 0)",
            [],
        )
        .unwrap();
    }
    let tracks = library(data.path());
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0]["title"], "Old Song");
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, skipless::db::SCHEMA_VERSION);
    conn.query_row("SELECT count(*) FROM unmatched_plays", [], |r| r.get::<_, i64>(0))
        .unwrap();
}

/// "liked" became a smart playlist's name: saved playlists of that name keep their entries
/// under another, and the name plays the liked tracks.
#[test]
fn saved_playlists_named_liked_are_renamed_and_keep_their_entries() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("skipless.db");
    {
        let conn = Connection::open(&path).unwrap();
        for sql in [
            include_str!("../../migrations/0001_init.sql"),
            include_str!("../../migrations/0002_imports.sql"),
            include_str!("../../migrations/0003_unmatched_sessions.sql"),
            include_str!("../../migrations/0004_end_source.sql"),
            include_str!("../../migrations/0005_likes_bans.sql"),
            include_str!("../../migrations/0006_playlists.sql"),
            include_str!("../../migrations/0007_remote_end_source.sql"),
            include_str!("../../migrations/0008_lyrics_shift.sql"),
            include_str!("../../migrations/0009_training_runs.sql"),
            include_str!("../../migrations/0010_session_lookup.sql"),
            include_str!("../../migrations/0011_like_or_ban.sql"),
            include_str!("../../migrations/0012_tags_read_again.sql"),
            include_str!("../../migrations/0013_opus_gains_read.sql"),
            include_str!("../../migrations/0014_mp4_lengths_read.sql"),
            include_str!("../../migrations/0015_several_names_read.sql"),
            include_str!("../../migrations/0016_session_starts.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA application_id = {}; PRAGMA user_version = 16;
             INSERT INTO playlists (id, name, created_at, updated_at)
             VALUES (1, 'liked', 0, 0), (2, 'Liked', 0, 0), (3, 'LIKED', 0, 0);
             INSERT INTO playlist_entries (playlist_id, position, path) VALUES (1, 0, CAST('/m/a.ogg' AS BLOB));",
            skipless::db::APPLICATION_ID
        ))
        .unwrap();
    }
    let listed = json_lines(&stdout_of(skipless(data.path()).args(["playlist", "list", "--json"])));
    let entries = |name: &str| listed.iter().find(|p| p["name"] == name).map(|p| p["entries"].clone());
    assert_eq!(entries("liked (saved 1)"), Some(1.into()), "{listed:?}");
    assert_eq!(entries("Liked (saved 2)"), Some(0.into()));
    assert_eq!(entries("LIKED (saved 3)"), Some(0.into()));
    let liked: Vec<_> = listed.iter().filter(|p| p["name"] == "liked").collect();
    assert_eq!(liked.len(), 1, "{listed:?}");
    assert_eq!(liked[0]["smart"], true);
}

#[test]
fn a_version_3_log_is_migrated_and_its_plays_have_no_end_source() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("skipless.db");
    {
        let conn = Connection::open(&path).unwrap();
        for schema in [
            V1_SCHEMA,
            include_str!("../../migrations/0002_imports.sql"),
            include_str!("../../migrations/0003_unmatched_sessions.sql"),
        ] {
            conn.execute_batch(schema).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA application_id = {}; PRAGMA user_version = 3;
             INSERT INTO tracks (id, path, path_text, size, mtime_ns, status, title, added_at, updated_at)
             VALUES (1, CAST('/old/song.ogg' AS BLOB), '/old/song.ogg', 1, 1, 'ok', 'Old Song', 0, 0);
             INSERT INTO sessions (id, started_at, last_at) VALUES (1, 0, 1000);
             INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms,
                                end_reason, skipped, source)
             VALUES (1, 1, 0, 0, 1000, 1000, 'skipped', 1, 'user');",
            skipless::db::APPLICATION_ID
        ))
        .unwrap();
    }
    let rows = json_lines(&stdout_of(skipless(data.path()).args(["history", "--json"])));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["title"], "Old Song");
    assert_eq!(rows[0]["end_reason"], "skipped");
    assert_eq!(rows[0]["end_source"], serde_json::Value::Null);
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, skipless::db::SCHEMA_VERSION);
    let refused = conn.execute("UPDATE plays SET end_source = 'telepathy'", []);
    assert!(refused.is_err(), "end_source takes only the known sources");
}

#[test]
fn a_newer_database_is_refused_untouched() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("skipless.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA application_id = {}; PRAGMA user_version = 99;",
            skipless::db::APPLICATION_ID
        ))
        .unwrap();
        conn.execute_batch("CREATE TABLE future (x)").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let output = skipless(data.path()).args(["library"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("newer skipless") && stderr.contains("skipless.db"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn garbage_and_foreign_databases_are_refused_byte_for_byte_untouched() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("skipless.db");
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i.wrapping_mul(40_503) >> 7) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let output = skipless(data.path()).args(["scan"]).arg(corpus()).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a skipless database"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    assert!(!data.path().join("skipless.db-wal").exists());

    std::fs::remove_file(&path).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let output = skipless(data.path()).args(["history"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("another application"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_broken_config_names_the_line_and_key() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("config.toml"),
        "[playback]\nvolume = 80\n\n[log]\nsession_gap_minutes = \"half an hour\"\n",
    )
    .unwrap();
    let output = skipless(data.path()).args(["library"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("config.toml: line 5, key `log.session_gap_minutes`"),
        "{stderr}"
    );
}

#[test]
fn a_config_file_named_on_the_command_line_that_does_not_exist_is_refused_in_one_line() {
    let data = tempfile::tempdir().unwrap();
    let missing = data.path().join("confg.toml");
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"))
        .arg("--data-dir")
        .arg(data.path())
        .arg("--config")
        .arg(&missing)
        .arg("library")
        .env_remove("SKIPLESS_DATA_DIR")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("{}: cannot read: No such file", missing.display())),
        "{stderr}"
    );
}

/// A config at the default place that is a link (or in a folder that is a link) to nothing, as a
/// dotfiles checkout not made yet leaves it, is said, not run on the defaults.
#[test]
fn a_config_link_to_nothing_is_refused_in_one_line() {
    let data = tempfile::tempdir().unwrap();
    let config_home = data.path().join("config");
    let missing = data.path().join("dotfiles");
    for (link, target) in [
        (
            config_home.join("skipless").join("config.toml"),
            missing.join("config.toml"),
        ),
        (config_home.join("skipless"), missing.join("skipless")),
    ] {
        let _ = std::fs::remove_dir_all(config_home.join("skipless"));
        let _ = std::fs::remove_file(config_home.join("skipless"));
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"))
            .arg("--data-dir")
            .arg(data.path())
            .arg("library")
            .env_remove("SKIPLESS_DATA_DIR")
            .env("XDG_CONFIG_HOME", &config_home)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{}: a link to {}, which is not there",
                link.display(),
                target.display()
            )),
            "{stderr}"
        );
    }
}

#[test]
fn the_remote_end_source_migration_rebuilds_a_100k_play_log_with_every_row_kept() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("skipless.db");
    let fingerprint = "SELECT count(*), sum(id), sum(track_id * 7 + session_id * 13 + position), sum(played_ms),
                              sum(length(end_reason) * skipped), sum(length(coalesce(end_source, 'x'))),
                              sum(length(coalesce(import_key, ''))), sum(coalesce(ended_at, 0) % 1000003)
                       FROM plays";
    let before: Vec<i64> = {
        let conn = Connection::open(&path).unwrap();
        for schema in [
            V1_SCHEMA,
            include_str!("../../migrations/0002_imports.sql"),
            include_str!("../../migrations/0003_unmatched_sessions.sql"),
            include_str!("../../migrations/0004_end_source.sql"),
            include_str!("../../migrations/0005_likes_bans.sql"),
            include_str!("../../migrations/0006_playlists.sql"),
        ] {
            conn.execute_batch(schema).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA application_id = {}; PRAGMA user_version = 6;
             BEGIN;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
             INSERT INTO tracks (id, path, path_text, size, mtime_ns, status, title, added_at, updated_at)
             SELECT i, CAST('/m/' || i || '.ogg' AS BLOB), '/m/' || i || '.ogg', 1, 1, 'ok', 'Song ' || i, 0, 0 FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5001)
             INSERT INTO sessions (id, started_at, last_at) SELECT i, i * 100000, i * 100000 + 5000 FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
             INSERT INTO plays (id, track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                                end_reason, skipped, source, error, import_key, end_source)
             SELECT i, 1 + i % 500, 1 + i / 20, i % 20, i * 5000, CASE WHEN i % 997 = 0 THEN NULL ELSE i * 5000 + 4000 END,
                    i % 4000, 200000,
                    CASE i % 3 WHEN 0 THEN 'finished' WHEN 1 THEN 'skipped' ELSE 'quit' END, i % 3 = 1,
                    CASE WHEN i % 5 = 0 THEN 'import' ELSE 'user' END, NULL,
                    CASE WHEN i % 5 = 0 THEN 'k' || i END,
                    CASE i % 4 WHEN 0 THEN 'key' WHEN 1 THEN 'mpris' WHEN 2 THEN 'stdin' END
             FROM n;
             COMMIT;",
            skipless::db::APPLICATION_ID
        ))
        .unwrap();
        conn.query_row(fingerprint, [], |r| (0..8).map(|i| r.get(i)).collect())
            .unwrap()
    };
    assert_eq!(before[0], 100_000);

    let rows = json_lines(&stdout_of(
        skipless(data.path()).args(["history", "--json", "--limit", "3"]),
    ));
    assert_eq!(rows.len(), 3);

    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, skipless::db::SCHEMA_VERSION);
    let after: Vec<i64> = conn
        .query_row(fingerprint, [], |r| (0..8).map(|i| r.get(i)).collect())
        .unwrap();
    assert_eq!(before, after, "every play kept, field for field");
    let indexes: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'plays' AND sql IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 5, "the plays indexes are rebuilt");
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    conn.execute("UPDATE plays SET end_source = 'remote' WHERE id = 1", [])
        .unwrap();
    assert!(conn
        .execute("UPDATE plays SET end_source = 'telepathy' WHERE id = 2", [])
        .is_err());
}

/// The player opens the database on several threads while its first connection stays open.
/// SQLite's locks belong to the process, and a second connection coming and going must leave
/// the first one's lock on the file: without it, another program that reads the database (a
/// `skipless` command, `sqlite3`, a backup) deletes the write-ahead log from under the player.
#[test]
fn a_connection_that_comes_and_goes_leaves_the_open_ones_locked_and_their_writes_kept() {
    use std::os::unix::fs::MetadataExt;
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("skipless.db");
    let mut kept = skipless::db::Database::open(&path).unwrap();
    let insert = |db: &mut skipless::db::Database, name: &str| {
        db.conn_mut()
            .execute(
                "INSERT INTO playlists (name, created_at, updated_at) VALUES (?1, 0, 0)",
                [name],
            )
            .unwrap();
    };
    insert(&mut kept, "before");
    // Lines of /proc/locks: "1: POSIX  ADVISORY  READ PID MAJOR:MINOR:INODE START END".
    let inode = std::fs::metadata(&path).unwrap().ino();
    let locks_on_the_file = || {
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.get(4) == Some(&std::process::id().to_string().as_str())
                    && fields.get(5).is_some_and(|f| f.ends_with(&format!(":{inode}")))
            })
            .count()
    };
    assert!(locks_on_the_file() > 0, "an open connection locks the file");
    drop(skipless::db::Database::open(&path).unwrap());
    assert!(locks_on_the_file() > 0, "the open connection lost its lock");

    stdout_of(skipless(data.path()).args(["playlist", "list"]));
    insert(&mut kept, "after");
    let names = |conn: &Connection| -> Vec<String> {
        conn.prepare("SELECT name FROM playlists ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    // A worker's connection, opened now, sees the write; and so does the next run.
    let mut worker = skipless::db::Database::open(&path).unwrap();
    assert_eq!(names(worker.conn_mut()), ["after", "before"]);
    drop(kept);
    drop(worker);
    assert_eq!(names(&Connection::open(&path).unwrap()), ["after", "before"]);
}

/// A transaction that reads and then writes (as starting a play does) waits for another
/// connection's write to end, as a scan's round holds it, instead of failing at once.
#[test]
fn a_transaction_that_reads_then_writes_waits_for_another_connections_write() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("skipless.db");
    let mut writer = skipless::db::Database::open(&path).unwrap();
    let mut player = skipless::db::Database::open(&path).unwrap();
    let (held, release) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let tx = writer.conn_mut().transaction().unwrap();
        tx.execute(
            "INSERT INTO playlists (name, created_at, updated_at) VALUES ('scan', 0, 0)",
            [],
        )
        .unwrap();
        held.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        tx.commit().unwrap();
    });
    release.recv().unwrap();
    let tx = player.conn_mut().transaction().unwrap();
    let before: i64 = tx
        .query_row("SELECT count(*) FROM playlists", [], |r| r.get(0))
        .unwrap();
    tx.execute(
        "INSERT INTO playlists (name, created_at, updated_at) VALUES ('play', 0, 0)",
        [],
    )
    .expect("the write waits for the other one");
    tx.commit().unwrap();
    holder.join().unwrap();
    assert_eq!(before, 1, "it began once the other write had committed");
    let count: i64 = player
        .conn_mut()
        .query_row("SELECT count(*) FROM playlists", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2);
}

/// Processes that open a new database at the same moment (three scans started together, a
/// player and a command after an upgrade) each find it migrated: one migrates, the others wait
/// for it and find nothing left to do.
#[test]
fn databases_opened_together_are_migrated_once() {
    for round in 0..20 {
        let data = tempfile::tempdir().unwrap();
        let path = data.path().join("skipless.db");
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    skipless::db::Database::open(&path).map(drop).map_err(|e| e.to_string())
                })
            })
            .collect();
        for open in opened {
            open.join().unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, skipless::db::SCHEMA_VERSION);
    }
}

/// An empty `SKIPLESS_DATA_DIR` means the default data dir, not a `--data-dir` with no value.
#[test]
fn an_empty_data_dir_variable_means_the_default() {
    let home = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"))
        .arg("library")
        .env("SKIPLESS_DATA_DIR", "")
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    let default = home.path().join(".local/share/skipless");
    assert!(stderr.contains(&default.display().to_string()), "{stderr}");
    assert!(!stderr.contains("a value is required"), "{stderr}");
}

/// A command that fails on its input before it has anything to keep (a bare scan with no
/// roots, a file that is not there) makes no log at a mistyped `--data-dir`, which the next
/// command would otherwise read as an empty one.
#[test]
fn a_command_failing_on_its_input_makes_no_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("typo");
    let nowhere = dir.path().join("nowhere");
    for args in [
        vec!["scan".to_owned()],
        vec!["scan".to_owned(), nowhere.display().to_string()],
        vec![
            "playlist".to_owned(),
            "import".to_owned(),
            nowhere.display().to_string(),
        ],
        vec!["import".to_owned(), "likes".to_owned(), nowhere.display().to_string()],
    ] {
        let output = crate::common::skipless(&data).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(!data.join("skipless.db").exists(), "{args:?} made a log");
    }
}

/// A database damaged inside (its header whole) is said alike by every command, imports and
/// exports too: the file, and that it is damaged, in one line.
#[test]
fn a_damaged_database_is_named_as_such_by_imports_and_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    scan_json(&data, &[&corpus()]);
    let tracks = library_tracks(&data);
    let db = data.join("skipless.db");
    let mut log = LogWriter::open(&db);
    let mut at = 1_717_000_000_000;
    for k in 0..600 {
        at = log.play(
            &tracks[k % tracks.len()],
            skipless::play::PlaySource::User,
            at + 1_000,
            None,
        ) + 1_000;
    }
    drop(log);
    let listens = tmp.path().join("listens.jsonl");
    stdout_of(
        skipless(&data)
            .args(["export", "--format", "listenbrainz", "--out"])
            .arg(&listens),
    );
    // The plays table's root page turned to noise: the database opens, its plays cannot be read.
    let (page, root): (usize, usize) = {
        let conn = Connection::open(&db).unwrap();
        (
            conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap(),
            conn.query_row("SELECT rootpage FROM sqlite_master WHERE name = 'plays'", [], |r| {
                r.get(0)
            })
            .unwrap(),
        )
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let at = (root - 1) * page;
    bytes[at..at + page].copy_from_slice(&noise_bytes(page));
    std::fs::write(&db, &bytes).unwrap();
    stdout_of(skipless(&data).arg("roots"));
    for args in [
        &["export", "--format", "jsonl", "--out", "x.jsonl"][..],
        &["export", "--format", "csv"][..],
        &["import", "listenbrainz", listens.to_str().unwrap()][..],
    ] {
        let err = stderr_of_failure(skipless(&data).current_dir(tmp.path()).args(args));
        assert!(
            err.contains(&format!("{}: the database is damaged", db.display())) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

/// A file damaged inside, whose header still reads, is refused by the commands that write much
/// (an import, a scan) before they write: it is left byte for byte as it was.
#[test]
fn a_database_damaged_inside_is_not_written_on_by_an_import_or_a_scan() {
    let data = tempfile::tempdir().unwrap();
    let history = histories().join("mica/Streaming_History_Audio_2024_4.json");
    stdout_of(skipless(data.path()).args(["import", "spotify"]).arg(&history));
    let path = data.path().join("skipless.db");
    // Everything in the file itself, its write-ahead log empty.
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 64 * 1024, "{}", bytes.len());
    let middle = bytes.len() / 2 / 4096 * 4096;
    bytes[middle..middle + 8192].fill(0x5a);
    std::fs::write(&path, &bytes).unwrap();

    for args in [
        vec!["import", "spotify", history.to_str().unwrap()],
        vec!["scan", corpus().to_str().unwrap()],
    ] {
        let err = stderr_of_failure(skipless(data.path()).args(&args));
        assert!(
            err.contains("the database is damaged") && err.contains("left untouched"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            std::fs::read(&path).unwrap() == bytes,
            "{args:?} wrote on the damaged file"
        );
    }
    // A version to migrate from (the header's user_version, big-endian at 60): the player, which
    // does not check every page at each start, does before a migration rewrites its tables.
    let older = skipless::db::SCHEMA_VERSION as u32 - 1;
    bytes[60..64].copy_from_slice(&older.to_be_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = stderr_of_failure(skipless(data.path()).arg("history"));
    assert!(err.contains("the database is damaged"), "{err}");
    assert!(
        std::fs::read(&path).unwrap() == bytes,
        "the migration wrote on the damaged file"
    );
}
