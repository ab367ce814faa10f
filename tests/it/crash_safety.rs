//! `kill -9` at random moments: 20 times the headless player is killed while it plays and logs,
//! then started again. After every kill, no committed play is lost or changed, the play that was
//! open is closed as `interrupted` at its last saved position by the next start, and SQLite's
//! integrity check passes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rusqlite::{Connection, OpenFlags};

/// Every column of a play row, as text, by play id.
type Rows = BTreeMap<i64, Vec<String>>;

fn rows(db: &Path) -> Rows {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, track_id, session_id, position, started_at, coalesce(ended_at, 'NULL'), played_ms,
                    coalesce(duration_ms, 'NULL'), coalesce(end_reason, 'NULL'), skipped, source,
                    coalesce(error, 'NULL')
             FROM plays ORDER BY id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let mut v = Vec::new();
            for i in 0..12 {
                let value: rusqlite::types::Value = r.get(i)?;
                v.push(format!("{value:?}"));
            }
            Ok((r.get::<_, i64>(0)?, v))
        })
        .unwrap()
        .collect::<Result<Rows, _>>()
        .unwrap();
    rows
}

fn integrity(db: &Path) -> String {
    let conn = Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

const END_REASON: usize = 8;
const PLAYED_MS: usize = 6;

fn start(data: &Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("skipless"))
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg("/dev/null")
        .args(["--audio", "null", "play", "--json"])
        .arg(crate::common::corpus())
        .env("SKIPLESS_NULL_SPEED", "80")
        .env_remove("SKIPLESS_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn twenty_kill_9s_lose_no_play_and_leave_an_intact_database() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("skipless.db");
    // Index the corpus first, so that every start goes straight to playback.
    crate::common::scan_json(data.path(), &[&crate::common::corpus()]);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
    let mut killed_open = std::collections::BTreeSet::new();
    let mut after_kill: Rows = Rows::new();
    for kill in 0..20 {
        let mut player = start(data.path());
        let delay = rng.random_range(150..2_500);
        std::thread::sleep(Duration::from_millis(delay));
        // What is committed just before the kill: the player may commit more before it dies.
        let before = rows(&db);
        player.kill().unwrap(); // SIGKILL
        player.wait().unwrap();

        // This start closed the plays the previous kill left open, and changed nothing else.
        let now = rows(&db);
        for (id, row) in &after_kill {
            let again = &now[id];
            if row[END_REASON] == "Text(\"NULL\")" {
                // Closed as interrupted; or still open when this kill came before the start got to it.
                assert!(
                    ["Text(\"interrupted\")", "Text(\"NULL\")"].contains(&again[END_REASON].as_str()),
                    "kill {kill}: play {id}: {again:?}"
                );
                assert_eq!(
                    again[PLAYED_MS], row[PLAYED_MS],
                    "kill {kill}: play {id} closed at its saved position"
                );
            } else {
                assert_eq!(again, row, "kill {kill}: play {id} changed");
            }
        }
        // Nothing committed before the kill is lost; completed rows are unchanged by it.
        for (id, row) in &before {
            let after = now.get(id).unwrap_or_else(|| panic!("kill {kill}: play {id} lost"));
            if row[END_REASON] != "Text(\"NULL\")" {
                assert_eq!(after, row, "kill {kill}: completed play {id} changed");
            }
        }
        let open: Vec<i64> = now
            .iter()
            .filter(|(_, r)| r[END_REASON] == "Text(\"NULL\")")
            .map(|(id, _)| *id)
            .collect();
        assert!(open.len() <= 1, "kill {kill}: open plays {open:?}");
        killed_open.extend(open);
        assert_eq!(integrity(&db), "ok", "kill {kill}");
        after_kill = now;
    }

    // A last start closes the last open play; a clean quit logs its own as `quit`.
    let mut player = start(data.path());
    std::thread::sleep(Duration::from_millis(500));
    {
        use std::io::Write;
        let stdin = player.stdin.as_mut().unwrap();
        writeln!(stdin, "quit").unwrap();
    }
    assert!(player.wait().unwrap().success());
    let last = rows(&db);
    for (id, row) in &after_kill {
        if row[END_REASON] == "Text(\"NULL\")" {
            assert_eq!(last[id][END_REASON], "Text(\"interrupted\")");
        } else {
            assert_eq!(&last[id], row);
        }
    }
    assert!(
        last.values().all(|r| r[END_REASON] != "Text(\"NULL\")"),
        "an open play is left"
    );
    let interrupted = last
        .values()
        .filter(|r| r[END_REASON] == "Text(\"interrupted\")")
        .count();
    assert_eq!(
        interrupted,
        killed_open.len(),
        "every play open at a kill is closed as interrupted"
    );
    assert!(
        killed_open.len() >= 12,
        "most kills hit a play in progress: {} of 20",
        killed_open.len()
    );
    let finished = last.values().filter(|r| r[END_REASON] == "Text(\"finished\")").count();
    assert!(finished >= 20, "plays completed between the kills: {finished}");
    assert_eq!(integrity(&db), "ok");
    eprintln!(
        "20 kills survived: {} plays logged ({finished} finished, {interrupted} interrupted), none lost or changed",
        last.len()
    );
}

/// A player on the corpus, playing, and another connection holding the database's write lock.
fn playing_under_a_held_lock(data: &Path) -> (crate::common::Player, std::path::PathBuf, Connection) {
    crate::common::scan_json(data, &[&crate::common::corpus()]);
    let player = crate::common::Player::start(data, 1.0, &[crate::common::corpus()]);
    player.wait("started");
    let db = data.join("skipless.db");
    let other = Connection::open(&db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    (player, db, other)
}

/// Another program holding the database's write lock past the busy timeout (here for 8 s) does
/// not cost the plays made meanwhile: each is kept, said once a write fails, and written in
/// order, with its own times, once the lock goes.
#[test]
fn plays_made_while_another_program_holds_the_lock_are_written_after() {
    let data = tempfile::tempdir().unwrap();
    let (mut player, db, other) = playing_under_a_held_lock(data.path());
    let (mut started, mut failures) = (1, Vec::new());
    for _ in 0..4 {
        player.send("next");
        loop {
            let event = player.lines.recv_timeout(Duration::from_secs(30)).expect("an event");
            match event["event"].as_str() {
                Some("log_failed") => failures.push(event["message"].to_string()),
                Some("started") => break,
                _ => {}
            }
        }
        started += 1;
        std::thread::sleep(Duration::from_millis(1500));
    }
    other.execute_batch("COMMIT").unwrap();
    assert!(
        !failures.is_empty() && failures.iter().all(|f| f.contains("kept, to be written")),
        "{failures:?}"
    );
    // The next try comes at an event at least 10 s after the last one failed.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while rows(&db).len() < started && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    let written = rows(&db);
    assert_eq!(written.len(), started, "{written:?}");
    player.quit();
    let rows = rows(&db);
    assert_eq!(rows.len(), started);
    assert!(rows.values().all(|r| r[END_REASON] != "Text(\"NULL\")"), "{rows:?}");
    let starts: Vec<&String> = rows.values().map(|r| &r[4]).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "in order: {starts:?}");
    assert_eq!(integrity(&db), "ok");
}

/// A lock still held when the player quits: the plays it could not write are kept in a file
/// beside the database (nothing lost), and the next start writes them, in order, at their own
/// times, and says so.
#[test]
fn plays_refused_until_the_player_quits_are_written_at_the_next_start() {
    let data = tempfile::tempdir().unwrap();
    let (mut player, db, other) = playing_under_a_held_lock(data.path());
    for _ in 0..2 {
        player.send("next");
        player.wait("started");
        std::thread::sleep(Duration::from_millis(1500));
    }
    player.quit();
    let kept = std::fs::read_to_string(data.path().join("skipless.db-kept")).unwrap();
    assert_eq!(kept.lines().count(), 3, "{kept}");
    other.execute_batch("COMMIT").unwrap();
    drop(other);
    assert_eq!(rows(&db).len(), 1, "only the start of the play begun before the lock");

    let player = crate::common::Player::start(data.path(), 1.0, &[crate::common::corpus()]);
    player.wait("started");
    let said = player.quit();
    assert!(said.contains("wrote 3 plays the database could not take"), "{said}");
    assert!(!data.path().join("skipless.db-kept").exists());
    let rows = rows(&db);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.values().all(|r| r[END_REASON] != "Text(\"NULL\")"), "{rows:?}");
    let starts: Vec<&String> = rows.values().map(|r| &r[4]).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "in order: {starts:?}");
    let reasons: Vec<&String> = rows.values().take(3).map(|r| &r[END_REASON]).collect();
    assert_eq!(
        reasons,
        ["Text(\"skipped\")", "Text(\"skipped\")", "Text(\"quit\")"],
        "{rows:?}"
    );
    assert_eq!(integrity(&db), "ok");
}

/// A player quitting with autoplay on waits for the recommender's thread to close its database
/// connection, so that SQLite folds its write-ahead log back and removes it: nothing is left
/// beside the database for another program to recover.
#[test]
fn a_player_quitting_with_autoplay_leaves_no_write_ahead_log() {
    let data = tempfile::tempdir().unwrap();
    let player = crate::common::Player::start_with(data.path(), 5.0, &[crate::common::corpus()], &["--autoplay"]);
    player.wait("started");
    std::thread::sleep(Duration::from_secs(2));
    player.quit();
    for leftover in ["skipless.db-wal", "skipless.db-shm"] {
        assert!(!data.path().join(leftover).exists(), "{leftover} left behind");
    }
}

/// A data dir deleted while the player runs (by mistake, by a clean-up script) loses no play:
/// SQLite goes on writing into the deleted file, the player says so at the next play's end, and
/// writes the database back, with the plays from before and after, when it quits.
#[test]
fn a_database_deleted_while_the_player_runs_is_written_back_with_its_plays_at_quit() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let mut player = crate::common::Player::start(&dir, 1.0, &[crate::common::corpus()]);
    player.wait("started");
    std::thread::sleep(Duration::from_millis(1500));
    player.send("next");
    player.wait("started");
    std::fs::remove_dir_all(&dir).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    player.send("next");
    let said = player.wait("log_failed");
    assert!(
        said["message"]
            .as_str()
            .is_some_and(|m| m.contains("deleted or replaced while the player runs")),
        "{said}"
    );
    player.wait("started");
    player.quit();
    let db = dir.join("skipless.db");
    let rows = rows(&db);
    let reasons: Vec<&String> = rows.values().map(|r| &r[END_REASON]).collect();
    assert_eq!(
        reasons,
        ["Text(\"skipped\")", "Text(\"skipped\")", "Text(\"quit\")"],
        "{rows:?}"
    );
    assert_eq!(integrity(&db), "ok");
    // The next start opens it as its own.
    let player = crate::common::Player::start(&dir, 1.0, &[crate::common::corpus()]);
    player.wait("started");
    player.quit();
    let history = crate::common::stdout_of(crate::common::skipless(&dir).args(["history", "--json"]));
    assert_eq!(crate::common::json_lines(&history).len(), 4, "{history}");
}

/// A data dir deleted while the player runs and made again by another program (a scan here)
/// keeps the new database as it is: the player's is written back beside it, as
/// `skipless.db.recovered-TIME`, with every play.
#[test]
fn a_database_replaced_while_the_player_runs_is_written_back_beside_the_new_one() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let mut player = crate::common::Player::start(&dir, 1.0, &[crate::common::corpus()]);
    player.wait("started");
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::remove_dir_all(&dir).unwrap();
    let nothing = data.path().join("empty");
    std::fs::create_dir(&nothing).unwrap();
    crate::common::stdout_of(crate::common::skipless(&dir).arg("scan").arg(&nothing));
    player.send("next");
    let said = player.wait("log_failed");
    assert!(
        said["message"]
            .as_str()
            .is_some_and(|m| m.contains("deleted or replaced")),
        "{said}"
    );
    player.wait("started");
    player.quit();
    assert!(
        rows(&dir.join("skipless.db")).is_empty(),
        "the new database is left as it was"
    );
    let recovered: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("skipless.db.recovered-"))
        .collect();
    let [recovered] = recovered.as_slice() else {
        panic!("one recovered database: {recovered:?}")
    };
    assert_eq!(rows(recovered).len(), 2);
    assert_eq!(integrity(recovered), "ok");
}
