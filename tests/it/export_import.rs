//! Export and import of listening logs through the real binary, on a slice of a real Spotify
//! history in `tests/fixtures/histories`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::common::{skipless, stdout_of};
use serde_json::{json, Value};

fn mica() -> PathBuf {
    crate::common::histories().join("mica/Streaming_History_Audio_2024_4.json")
}

/// Ctrl-C to a command this test started: its output and what it said on standard error, once
/// it ended with 130.
fn interrupted(child: std::process::Child) -> (std::process::Output, String) {
    // SAFETY: a signal to the child this test started and has not waited for.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(130), "{said}");
    (output, said)
}

/// `n` with its thousands separated, as counts are printed: "3,013".
fn with_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A data dir whose config lets `train` run on a small log.
fn data_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "[recommend]\nmin_plays = 10\n").unwrap();
    dir
}

fn json_of(data_dir: &Path, args: &[&str], paths: &[&Path]) -> Value {
    let mut cmd = skipless(data_dir);
    cmd.args(args).args(paths);
    serde_json::from_str(stdout_of(&mut cmd).trim()).unwrap()
}

fn import_spotify(data_dir: &Path, paths: &[&Path]) -> (u64, u64, u64) {
    let v = json_of(data_dir, &["import", "spotify", "--json"], paths);
    (
        v["matched"].as_u64().unwrap(),
        v["unmatched"].as_u64().unwrap(),
        v["duplicate"].as_u64().unwrap(),
    )
}

/// The music records of an Extended history (those with a track name).
fn music_records(path: &Path) -> Vec<Value> {
    let all: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    all.into_iter()
        .filter(|r| r["master_metadata_track_name"].as_str().is_some_and(|t| !t.is_empty()))
        .collect()
}

fn distinct<T: std::hash::Hash + Eq>(items: impl Iterator<Item = T>) -> usize {
    items.collect::<HashSet<_>>().len()
}

fn field(r: &Value, name: &str) -> String {
    r[name].as_str().unwrap_or("").to_owned()
}

/// The same plays in the basic `StreamingHistory*.json` format.
fn to_basic(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let ts = field(r, "ts");
            serde_json::json!({
                "endTime": format!("{} {}", &ts[..10], &ts[11..16]),
                "artistName": field(r, "master_metadata_album_artist_name"),
                "trackName": field(r, "master_metadata_track_name"),
                "msPlayed": r["ms_played"],
            })
        })
        .collect()
}

/// Spotify's two downloads unpacked into one folder: the Extended history's plays are imported
/// once, and the basic files, whose minute-timed copies of them would be new plays, are left out
/// and said.
#[test]
fn a_folder_with_both_spotify_histories_imports_the_extended_one_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let records = music_records(&mica());
    let folder = tmp.path().join("MyData");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(mica(), folder.join("Streaming_History_Audio_2024_4.json")).unwrap();
    std::fs::write(
        folder.join("StreamingHistory_music_0.json"),
        serde_json::to_vec(&to_basic(&records)).unwrap(),
    )
    .unwrap();
    // The basic download's episodes are no music: left out, and said.
    std::fs::write(
        folder.join("StreamingHistory_podcast_0.json"),
        r#"[{"endTime": "2024-03-18 08:06", "podcastName": "A Show", "episodeName": "One", "msPlayed": 600000}]"#,
    )
    .unwrap();
    let both = data_dir(tmp.path(), "both");
    let counts = json_of(&both, &["import", "spotify", "--json"], &[&folder]);
    let extended_only = data_dir(tmp.path(), "extended");
    let alone = json_of(&extended_only, &["import", "spotify", "--json"], &[&mica()]);
    assert_eq!(counts["unmatched"], alone["unmatched"], "{counts} against {alone}");
    assert_eq!(counts["basic_files_left_out"], 1);
    assert_eq!(counts["podcast_files_left_out"], 1);
    assert_eq!(alone["podcast_files_left_out"], 0);
    let text = stdout_of(
        skipless(&data_dir(tmp.path(), "text"))
            .args(["import", "spotify"])
            .arg(&folder),
    );
    assert!(
        text.trim_end().ends_with(
            "1 basic-history file left out: the Extended history beside them has their plays; \
             1 podcast-history file left out (episodes, not music)"
        ),
        "{text}"
    );
    // The folder Spotify's download unpacks to, the histories one folder down, is found too.
    let download = tmp.path().join("my_spotify_data");
    std::fs::create_dir(&download).unwrap();
    std::fs::rename(&folder, download.join("Spotify Extended Streaming History")).unwrap();
    let unpacked = json_of(
        &data_dir(tmp.path(), "unpacked"),
        &["import", "spotify", "--json"],
        &[&download],
    );
    assert_eq!(unpacked["unmatched"], alone["unmatched"], "{unpacked}");
    let empty = tmp.path().join("nothing");
    std::fs::create_dir_all(empty.join("inside")).unwrap();
    let said = crate::common::stderr_of_failure(
        skipless(&data_dir(tmp.path(), "none"))
            .args(["import", "spotify"])
            .arg(&empty),
    );
    assert!(said.contains("or the folders inside it"), "{said}");
}

/// Spotify's basic history comes weeks before the Extended one, so the two are often imported
/// one after the other: in either order, the second finds the plays logged already, by their
/// minute and their length, and the log holds no more plays than the larger history alone. (The
/// basic history keeps a play two devices reported as two, since timed to the minute they cannot
/// be told from two plays; the Extended one merges them.)
#[test]
fn the_basic_and_extended_histories_imported_one_after_the_other_are_one_log() {
    let tmp = tempfile::tempdir().unwrap();
    let records = music_records(&mica());
    let basic = tmp.path().join("StreamingHistory_music_0.json");
    std::fs::write(&basic, serde_json::to_vec(&to_basic(&records)).unwrap()).unwrap();
    let alone = |name: &str, path: &Path| import_spotify(&data_dir(tmp.path(), name), &[path]).1;
    let most = alone("basic alone", &basic).max(alone("extended alone", &mica()));
    assert!(most > 1_000, "{most}");
    for (name, first, second) in [("basic first", &basic, &mica()), ("extended first", &mica(), &basic)] {
        let dir = data_dir(tmp.path(), name);
        let (_, placed, _) = import_spotify(&dir, &[first]);
        let (_, added, _) = import_spotify(&dir, &[second]);
        assert!(
            placed + added <= most,
            "{name}: {placed} + {added} plays, {most} in the larger history"
        );
    }
}

#[test]
fn each_spotify_format_into_an_empty_library_is_kept_unmatched() {
    let tmp = tempfile::tempdir().unwrap();
    let records = music_records(&mica());
    let extended_keys = distinct(records.iter().map(|r| {
        (
            field(r, "ts"),
            field(r, "master_metadata_album_artist_name"),
            field(r, "master_metadata_track_name"),
        )
    }));
    let endsong = tmp.path().join("endsong_0.json");
    std::fs::copy(mica(), &endsong).unwrap();
    let basic_records = to_basic(&records);
    let basic = tmp.path().join("StreamingHistory0.json");
    std::fs::write(&basic, serde_json::to_vec(&basic_records).unwrap()).unwrap();
    let basic_keys = distinct(basic_records.iter().map(|r| {
        (
            field(r, "endTime"),
            r["msPlayed"].to_string(),
            field(r, "artistName"),
            field(r, "trackName"),
        )
    }));
    let total = records.len() as u64;
    for (name, path, keys) in [
        ("extended", mica().parent().unwrap().to_path_buf(), extended_keys),
        ("endsong", endsong, extended_keys),
        ("basic", basic, basic_keys),
    ] {
        let dir = data_dir(tmp.path(), name);
        let counts = import_spotify(&dir, &[&path]);
        assert_eq!(counts, (0, keys as u64, total - keys as u64), "{name}");
        assert_eq!(import_spotify(&dir, &[&path]), (0, 0, total), "{name}: re-import");
        // The statistics count them as the recap and training do, by artist and title: one
        // count of the whole log.
        let stats = json_of(&dir, &["stats", "--json"], &[]);
        let recap = json_of(&dir, &["recap", "--json"], &[]);
        assert_eq!(stats["plays"], keys as u64, "{name}");
        assert_eq!(stats["unmatched_imports"], keys as u64, "{name}");
        for total in [
            "plays",
            "listens",
            "skips",
            "sessions",
            "tracks",
            "artists",
            "unmatched_imports",
        ] {
            assert_eq!(stats[total], recap["totals"][total], "{name}: {total}");
        }
        for list in ["top_tracks", "top_artists", "most_skipped"] {
            assert_eq!(stats[list], recap[list], "{name}: {list}");
        }
        assert!(!stats["top_tracks"].as_array().unwrap().is_empty(), "{name}");
        assert_eq!(stats["kinds"], recap["kinds"], "{name}");
        let weekly: u64 = stats["weekly"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["plays"].as_u64().unwrap())
            .sum();
        assert!(weekly > 0, "{name}: the weeks count them too");
        let text = stdout_of(skipless(&dir).arg("stats"));
        assert!(
            text.contains(&format!(
                "{},{:03} of the plays are imported ones waiting for their tracks",
                keys / 1000,
                keys % 1000
            )),
            "{name}: {text}"
        );
        // The history lists them too, newest first, as waiting.
        let history = stdout_of(skipless(&dir).args(["history", "--limit", "5"]));
        assert_eq!(history.lines().count(), 5, "{name}: {history}");
        assert!(
            history.lines().all(|l| l.ends_with("(waits for its track)")),
            "{name}: {history}"
        );
        let rows = crate::common::json_lines(&stdout_of(skipless(&dir).args(["history", "--json", "--limit", "3"])));
        assert!(rows
            .iter()
            .all(|r| r["path"].is_null() && r["play_id"].is_null() && r["source"] == "import"));
        assert!(
            rows[0]["started_at"].as_str() >= rows[2]["started_at"].as_str(),
            "{rows:?}"
        );
    }
}

/// Makes one tagged file per track: a copy of the corpus's shortest Ogg Vorbis file with the
/// track's title, artist and album written by lofty.
fn make_library(dir: &Path, tracks: &[(String, String, String)]) {
    use lofty::config::WriteOptions;
    use lofty::prelude::{Accessor, TagExt, TaggedFileExt};
    use lofty::tag::Tag;

    std::fs::create_dir_all(dir).unwrap();
    let source = crate::common::corpus().join("silence.ogg");
    for (i, (artist, title, album)) in tracks.iter().enumerate() {
        let out = dir.join(format!("{i:03}.ogg"));
        std::fs::copy(&source, &out).unwrap();
        let file = lofty::read_from_path(&out).unwrap();
        let mut tag = Tag::new(file.primary_tag_type());
        tag.set_title(title.clone());
        tag.set_artist(artist.clone());
        tag.set_album(album.clone());
        tag.save_to_path(&out, WriteOptions::default()).unwrap();
    }
}

/// The `n` most played (artist, title, album) of a history, most played first.
fn top_tracks(records: &[Value], n: usize) -> Vec<(String, String, String)> {
    let mut counts: HashMap<(String, String), (usize, String)> = HashMap::new();
    for r in records {
        let key = (
            field(r, "master_metadata_album_artist_name"),
            field(r, "master_metadata_track_name"),
        );
        counts
            .entry(key)
            .or_insert((0, field(r, "master_metadata_album_album_name")))
            .0 += 1;
    }
    let mut ranked: Vec<_> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(n)
        .map(|((artist, title), (_, album))| (artist, title, album))
        .collect()
}

#[test]
fn a_library_of_the_most_played_tracks_matches_round_trips_and_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let records = music_records(&mica());
    let top = top_tracks(&records, 200);
    // Tags spelled differently from Spotify's, as local files often are.
    let tagged: Vec<_> = top
        .iter()
        .enumerate()
        .map(|(i, (artist, title, album))| match i % 10 {
            3 => (artist.to_uppercase(), title.to_lowercase(), album.clone()),
            7 => (
                artist.clone(),
                format!("{title} - 2011 Remaster"),
                format!("{album} (Deluxe Edition)"),
            ),
            _ => (artist.clone(), title.clone(), album.clone()),
        })
        .collect();
    let lib = tmp.path().join("lib");
    make_library(&lib, &tagged);
    let wanted: HashSet<(String, String)> = top.iter().map(|(a, t, _)| (a.clone(), t.clone())).collect();
    let exact = distinct(
        records
            .iter()
            .map(|r| {
                (
                    field(r, "ts"),
                    field(r, "master_metadata_album_artist_name"),
                    field(r, "master_metadata_track_name"),
                )
            })
            .filter(|(_, a, t)| wanted.contains(&(a.clone(), t.clone()))),
    ) as u64;

    // Library first, then the history.
    let a = data_dir(tmp.path(), "a");
    crate::common::scan_json(&a, &[&lib]);
    let (matched, unmatched, duplicate) = import_spotify(&a, &[&mica()]);
    eprintln!("library first: matched {matched}, unmatched {unmatched}, duplicate {duplicate}");
    assert!(
        matched >= exact,
        "{matched} matched, {exact} plays of the library's tracks"
    );
    assert_eq!(matched + unmatched + duplicate, records.len() as u64);
    // The records without a track (podcasts) are counted, not imported, and said so.
    let all: Vec<Value> = serde_json::from_slice(&std::fs::read(mica()).unwrap()).unwrap();
    let without_track = all.len() - records.len();
    assert!(without_track > 0);
    let said = stdout_of(
        skipless(&data_dir(tmp.path(), "e"))
            .args(["import", "spotify"])
            .arg(mica()),
    );
    assert!(
        said.trim_end().ends_with(&format!(
            "; {without_track} records without a track (podcasts, audiobooks, unavailable tracks) left out"
        )),
        "{said}"
    );
    // The totals count the plays waiting for their tracks too.
    let stats = json_of(&a, &["stats", "--json"], &[]);
    assert_eq!(stats["plays"].as_u64(), Some(matched + unmatched));
    // A play is a listen or a skip (or neither, stopped early), never both.
    let (listens, skips) = (stats["listens"].as_u64().unwrap(), stats["skips"].as_u64().unwrap());
    assert!(
        listens + skips <= matched + unmatched,
        "{listens} listens and {skips} skips of {} plays",
        matched + unmatched
    );
    // The text says what the JSON says: whose picks are skipped, the weeks, the training runs.
    let text = stdout_of(skipless(&a).arg("stats"));
    for heading in [
        "skipped: your picks",
        "Skips by week",
        "Recommender: the last training runs",
    ] {
        assert!(text.contains(heading), "{heading}: {text}");
    }
    let weeks_with_plays = stats["weekly"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["plays"].as_u64() > Some(0))
        .count();
    let week_lines = text
        .lines()
        .skip_while(|l| !l.starts_with("Skips by week"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .count();
    assert!(weeks_with_plays > 0);
    assert_eq!(week_lines, weeks_with_plays, "{text}");
    let history = crate::common::json_lines(&stdout_of(skipless(&a).args(["history", "--json", "--limit", "5"])));
    assert!(history.iter().all(|p| p["source"] == "import"));

    // Training uses imported plays like local ones, and those of tracks the library lacks too:
    // the model learns from every play, and only the library's tracks are picked. A slice of
    // the history keeps it quick.
    let part = tmp.path().join("Streaming_History_Audio_part.json");
    std::fs::write(&part, serde_json::to_vec(&records[..400]).unwrap()).unwrap();
    let t = data_dir(tmp.path(), "t");
    crate::common::scan_json(&t, &[&lib]);
    let (part_matched, part_unmatched, _) = import_spotify(&t, &[&part]);
    assert!(
        part_matched >= 10 && part_unmatched >= 10,
        "{part_matched} matched, {part_unmatched} not"
    );
    // A log too short to train on is refused in one line that says what it has.
    let empty = data_dir(tmp.path(), "empty");
    crate::common::scan_json(&empty, &[&lib]);
    let refused = skipless(&empty).args(["train"]).output().unwrap();
    assert!(!refused.status.success());
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim_end(),
        "skipless: error: training needs 10 plays in 3 sessions; the log has 0 in 0 (recommend.min_plays)"
    );
    // A play that failed to play teaches nothing; the count says it was left out.
    rusqlite::Connection::open(t.join("skipless.db"))
        .unwrap()
        .execute_batch(
            "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, end_reason, skipped, source)
             SELECT (SELECT MIN(id) FROM tracks), session_id, MAX(position) + 1, MAX(started_at) + 1, NULL, 0, 'error', 0, 'user'
             FROM plays WHERE session_id = (SELECT MAX(session_id) FROM plays)",
        )
        .unwrap();
    let trained = json_of(&t, &["train", "--json"], &[]);
    assert_eq!(trained["plays"].as_u64(), Some(part_matched + part_unmatched));
    assert_eq!(trained["failed_plays"].as_u64(), Some(1));
    // Every run is on the record, saved or not, beside the current model on the same slice.
    let again = json_of(&t, &["train", "--json"], &[]);
    let stats = json_of(&t, &["stats", "--json"], &[]);
    let runs = stats["training_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{stats}");
    assert_eq!(
        (&runs[0]["started_by"], &runs[0]["saved"]),
        (&"cli".into(), &again["saved"])
    );
    assert_eq!(runs[0]["old_ndcg10"], again["previous_ndcg@10"]);
    assert!(runs[0]["old_ndcg10"].is_f64(), "{stats}");
    assert_eq!(
        (&runs[1]["old_ndcg10"], &runs[1]["new_ndcg10"]),
        (&Value::Null, &trained["ndcg@10"])
    );
    let in_part = distinct(records[..400].iter().map(|r| {
        (
            field(r, "master_metadata_album_artist_name").to_lowercase(),
            field(r, "master_metadata_track_name").to_lowercase(),
        )
    })) as u64;
    let library_played = distinct(
        records[..400]
            .iter()
            .map(|r| {
                (
                    field(r, "master_metadata_album_artist_name"),
                    field(r, "master_metadata_track_name"),
                )
            })
            .filter(|k| wanted.contains(k)),
    ) as u64;
    assert!(
        trained["tracks"]
            .as_u64()
            .is_some_and(|n| n > library_played && n + in_part / 20 >= in_part),
        "{trained}: {in_part} tracks in the history, {library_played} of them in the library"
    );
    // In words: the run, whether the Transformer's terms are in the model, the current model
    // on the same slice, and which one is kept.
    let text = stdout_of(skipless(&t).args(["train"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with(&format!(
            "trained on {} plays (1 failed play left out) of ",
            with_thousands(part_matched + part_unmatched)
        )),
        "{text}"
    );
    // A best epoch is named for the Transformer's stage only, never as epoch 0.
    let with_transformer = lines[1] == "the model ranks by the history features and the Transformer's terms";
    assert!(
        with_transformer
            || lines[1]
                == "the model ranks by the history features alone: with the Transformer's terms it ranked no better on validation",
        "{text}"
    );
    assert_eq!(lines[0].contains("(best epoch "), with_transformer, "{text}");
    assert!(!lines[0].contains("best epoch 0"), "{text}");
    assert!(
        lines[2].starts_with("the current model on the same validation slice"),
        "{text}"
    );
    let library_ids: HashSet<i64> = crate::common::library(&t)
        .iter()
        .filter_map(|t| t["id"].as_i64())
        .collect();
    let recommended = json_of(&t, &["recommend", "--json", "-n", "20"], &[]);
    assert_eq!(recommended["source"], "model", "{recommended}");
    let picks = recommended["recommendations"].as_array().unwrap();
    assert!(!picks.is_empty());
    assert!(
        picks
            .iter()
            .all(|p| p["track_id"].as_i64().is_some_and(|id| library_ids.contains(&id))),
        "{recommended}"
    );

    // A scan whose matching of waiting plays fails still stands, and says why they wait.
    let f = data_dir(tmp.path(), "f");
    import_spotify(&f, &[&mica()]);
    rusqlite::Connection::open(f.join("skipless.db"))
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER no_imports BEFORE INSERT ON plays WHEN NEW.source = 'import'
             BEGIN SELECT RAISE(ABORT, 'the disk said no'); END;",
        )
        .unwrap();
    let output = skipless(&f).arg("scan").arg(&lib).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("scanned "));
    assert!(
        stderr.contains("imported plays waiting for their tracks were not matched")
            && stderr.contains("the disk said no"),
        "{stderr}"
    );
    assert!(!crate::common::library(&f).is_empty());

    // History first: the scan matches the waiting plays.
    let b = data_dir(tmp.path(), "b");
    assert_eq!(import_spotify(&b, &[&mica()]), (0, matched + unmatched, duplicate));
    let scanned = stdout_of(skipless(&b).arg("scan").arg(&lib));
    assert!(
        scanned.contains(&format!("{matched} imported plays matched")),
        "{scanned}"
    );
    let history = crate::common::json_lines(&stdout_of(
        skipless(&b).args(["history", "--json", "--limit", "100000"]),
    ));
    let logged = history.iter().filter(|r| !r["play_id"].is_null()).count() as u64;
    assert_eq!((logged, history.len() as u64), (matched, matched + unmatched));
    assert_eq!(import_spotify(&b, &[&mica()]), (0, 0, records.len() as u64));

    // Round trip: export → import into a fresh log with the same library → export. The plays
    // of tracks the library lacks are exported too, with what they were imported with.
    let first = stdout_of(skipless(&a).args(["export", "--format", "spotify"]));
    let exported: Vec<Value> = serde_json::from_str(&first).unwrap();
    assert_eq!(exported.len() as u64, matched + unmatched);
    // Every key of Spotify's own records, in its order: tools made for them index each.
    let spotify_keys = [
        "ts",
        "platform",
        "ms_played",
        "conn_country",
        "ip_addr",
        "master_metadata_track_name",
        "master_metadata_album_artist_name",
        "master_metadata_album_album_name",
        "spotify_track_uri",
        "episode_name",
        "episode_show_name",
        "spotify_episode_uri",
        "audiobook_title",
        "audiobook_uri",
        "audiobook_chapter_uri",
        "audiobook_chapter_title",
        "reason_start",
        "reason_end",
        "shuffle",
        "skipped",
        "offline",
        "offline_timestamp",
        "incognito_mode",
    ];
    for record in &exported {
        let keys: Vec<&str> = record.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = spotify_keys.to_vec();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "{record}");
    }
    assert!(
        first.lines().nth(1).unwrap().starts_with(r#"{"ts":"#) && first.contains(r#""platform":null,"ms_played":"#)
    );
    // What the log does not keep of an imported play is not made up.
    assert!(exported.iter().all(|r| r["platform"].is_null()
        && r["shuffle"].is_null()
        && r["offline"].is_null()
        && r["incognito_mode"].is_null()));
    assert_eq!(stdout_of(skipless(&b).args(["export", "--format", "spotify"])), first);
    let file = tmp.path().join("Streaming_History_Audio_roundtrip.json");
    std::fs::write(&file, &first).unwrap();
    let c = data_dir(tmp.path(), "c");
    crate::common::scan_json(&c, &[&lib]);
    assert_eq!(import_spotify(&c, &[&file]), (matched, unmatched, 0));
    assert_eq!(stdout_of(skipless(&c).args(["export", "--format", "spotify"])), first);

    // The other formats.
    let out = tmp.path().join("log.csv");
    stdout_of(skipless(&a).args(["export", "--format", "csv", "--out"]).arg(&out));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("play_id,session_id,position,started_at"));
    // Written beside and renamed over: nothing else is left.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(".log.csv"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let jsonl = crate::common::json_lines(&stdout_of(skipless(&a).args(["export", "--format", "jsonl"])));
    assert_eq!(jsonl.len() as u64, matched + unmatched);
    assert_eq!(
        jsonl.iter().filter(|p| p["track_id"].is_null()).count() as u64,
        unmatched
    );
    assert!(jsonl.iter().all(|p| p["source"] == "import" && p["title"].is_string()));
    let mssd = stdout_of(skipless(&a).args(["export", "--format", "mssd"]));
    assert_eq!(mssd.lines().count() as u64, matched + unmatched + 1);
    assert!(mssd.starts_with("session_id,session_position,session_length,track_id_clean,skip_1,skip_2,skip_3"));
    let listens = stdout_of(skipless(&a).args(["export", "--format", "listenbrainz"]));
    let listens_file = tmp.path().join("listens.jsonl");
    std::fs::write(&listens_file, &listens).unwrap();
    let d = data_dir(tmp.path(), "d");
    crate::common::scan_json(&d, &[&lib]);
    let lb = json_of(&d, &["import", "listenbrainz", "--json"], &[&listens_file]);
    assert_eq!(
        lb["matched"].as_u64().unwrap() + lb["unmatched"].as_u64().unwrap(),
        listens.lines().count() as u64
    );
    // What ListenBrainz's own check of a listen asks: an artist, and a length only if positive.
    for listen in crate::common::json_lines(&listens) {
        let meta = &listen["track_metadata"];
        assert!(meta["artist_name"].as_str().is_some_and(|a| !a.is_empty()), "{listen}");
        let duration = &meta["additional_info"]["duration_ms"];
        assert!(
            duration.is_null() || duration.as_u64().is_some_and(|d| d > 0),
            "{listen}"
        );
    }

    // A period: only plays that started in it.
    let june = crate::common::json_lines(&stdout_of(skipless(&a).env("TZ", "UTC0").args([
        "export",
        "--format",
        "jsonl",
        "--since",
        "2024-09-01",
        "--until",
        "2024-09-30",
    ])));
    assert!(june.len() < jsonl.len());
    assert!(june
        .iter()
        .all(|p| p["started_at"].as_str().unwrap().starts_with("2024-09")));
}

/// Runs an import expected to fail and returns its stderr.
fn import_fails(data_dir: &Path, args: &[&str], path: &Path) -> String {
    let output = skipless(data_dir).args(args).arg(path).output().unwrap();
    assert!(!output.status.success(), "import of {} succeeded", path.display());
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn malformed_truncated_non_json_and_empty_files_import_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "log");
    let good = r#"{"ts": "2024-01-01T10:00:00Z", "ms_played": 200000, "master_metadata_track_name": "A", "master_metadata_album_artist_name": "X", "skipped": false}"#;
    let good2 = r#"{"ts": "2024-01-01T10:04:00Z", "ms_played": 1000, "master_metadata_track_name": "B", "master_metadata_album_artist_name": "X", "skipped": true}"#;
    let bad = r#"{"ts": "2024-01-01T10:08:00Z", "ms_played": "long", "master_metadata_track_name": "C"}"#;
    let endless = good2.replace("\"ms_played\": 1000", "\"ms_played\": 9223372036854775807");
    let cases: [(&str, String, &str); 6] = [
        (
            "Streaming_History_Audio_bad.json",
            format!("[{good},\n{good2},\n{bad}]"),
            "record 3",
        ),
        (
            "Streaming_History_Audio_cut.json",
            format!("[{good},\n{good2},\n{}", &good[..40]),
            "record 3",
        ),
        (
            "Streaming_History_Audio_text.json",
            "this is not JSON".into(),
            "not a JSON array",
        ),
        (
            "Streaming_History_Audio_empty.json",
            String::new(),
            "this is an empty file, not a listening history",
        ),
        (
            "Streaming_History_Audio_time.json",
            format!("[{good},\n{}]", good2.replace("10:04", "10h04")),
            "record 2",
        ),
        (
            "Streaming_History_Audio_long.json",
            format!("[{good},\n{endless}]"),
            "record 2: ms_played 9223372036854775807 is more than a week",
        ),
    ];
    for (name, text, expected) in &cases {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let stderr = import_fails(&dir, &["import", "spotify"], &path);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(name) && stderr.contains(expected), "{name}: {stderr}");
    }
    // A failing file after a good one: the good one is kept, and the error says so.
    let first = tmp.path().join("Streaming_History_Audio_2023.json");
    std::fs::write(&first, format!("[{}]", good.replace("2024-", "2023-"))).unwrap();
    let output = skipless(&dir)
        .args(["import", "spotify"])
        .arg(&first)
        .arg(tmp.path().join("Streaming_History_Audio_bad.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("record 3")
            && stderr.contains("the file before it was imported: 1 play kept; importing it again adds nothing"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("record 3").count(), 1, "{stderr}");
    assert_eq!(import_spotify(&dir, &[&first]), (0, 0, 1));
    // Nothing from the failed files was kept: the good records are new.
    let valid = tmp.path().join("Streaming_History_Audio_good.json");
    std::fs::write(&valid, format!("[{good},\n{good2}]")).unwrap();
    assert_eq!(import_spotify(&dir, &[&valid]), (0, 2, 0));

    let listens = tmp.path().join("listens.jsonl");
    let listen = r#"{"listened_at": 1700000000, "track_metadata": {"artist_name": "X", "track_name": "A"}}"#;
    std::fs::write(&listens, format!("{listen}\n{{\"listened_at\": \"soon\"}}\n")).unwrap();
    let stderr = import_fails(&dir, &["import", "listenbrainz"], &listens);
    assert!(
        stderr.contains("listens.jsonl") && stderr.contains("record 2"),
        "{stderr}"
    );
    let far = listen.replace("1700000000", "99999999999999999");
    std::fs::write(&listens, format!("{listen}\n{far}\n")).unwrap();
    let stderr = import_fails(&dir, &["import", "listenbrainz"], &listens);
    assert!(
        stderr.contains("record 2: listened_at 99999999999999999 is before 1970 or in the future"),
        "{stderr}"
    );
    // A play timed in the future or before 1970 (a clock set wrong, a file edited by hand) is
    // no play of a history, in either importer.
    let future = listen.replace("1700000000", "32503680000");
    std::fs::write(&listens, format!("{listen}\n{future}\n")).unwrap();
    let stderr = import_fails(&dir, &["import", "listenbrainz"], &listens);
    assert!(
        stderr.contains("record 2: listened_at 32503680000 is before 1970"),
        "{stderr}"
    );
    let history = tmp.path().join("Streaming_History_Audio_times.json");
    for ts in ["2999-01-01T00:00:00Z", "1900-01-01T00:00:00Z"] {
        std::fs::write(
            &history,
            format!("[{good},\n{}]", good2.replace("2024-01-01T10:04:00Z", ts)),
        )
        .unwrap();
        let stderr = import_fails(&dir, &["import", "spotify"], &history);
        assert!(
            stderr.contains(&format!("record 2: time \"{ts}\" is before 1970 or in the future")),
            "{stderr}"
        );
    }
    let long = listen.replace("}}", r#", "additional_info": {"duration_ms": 18446744073709551615}}}"#);
    std::fs::write(&listens, format!("{long}\n")).unwrap();
    let stderr = import_fails(&dir, &["import", "listenbrainz"], &listens);
    assert!(stderr.contains("record 1: a duration of"), "{stderr}");
    for empty in ["", "[]"] {
        std::fs::write(&listens, empty).unwrap();
        let stderr = import_fails(&dir, &["import", "listenbrainz"], &listens);
        assert!(stderr.contains("listens.jsonl: no listens in it"), "{stderr}");
    }
    // The wrong importer says which one the file is for.
    std::fs::write(&listens, format!("[{good},\n{good2}]")).unwrap();
    let stderr = import_fails(&dir, &["import", "listenbrainz"], &listens);
    assert!(
        stderr.contains("a Spotify listening history, not ListenBrainz listens")
            && stderr.contains("skipless import spotify"),
        "{stderr}"
    );
    // A mark dated in the future would stand over every later one: refused, with its entry.
    let far = r#"{"score":-1,"created":4102444800,"track_metadata":{"artist_name":"A","track_name":"B"}}"#;
    std::fs::write(&listens, format!("{far}\n")).unwrap();
    let stderr = import_fails(&dir, &["import", "likes"], &listens);
    assert!(
        stderr.contains("entry 1: created 4102444800 is before 1970 or in the future"),
        "{stderr}"
    );
    std::fs::write(&listens, format!("{listen}\n")).unwrap();
    let stderr = import_fails(&dir, &["import", "likes"], &listens);
    assert!(
        stderr.contains("line 1: ListenBrainz listens, not feedback")
            && stderr.contains("skipless import listenbrainz"),
        "{stderr}"
    );
    // A file that is not there: one line, its cause named once.
    let stderr = import_fails(&dir, &["import", "spotify"], &tmp.path().join("gone.json"));
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
    std::fs::write(&listens, format!("{listen}\n")).unwrap();
    let v = json_of(&dir, &["import", "listenbrainz", "--json"], &[&listens]);
    assert_eq!(v["unmatched"], 1);
}

#[test]
fn one_play_reported_by_two_devices_is_imported_once_with_its_longest_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "log");
    let report = |ms: u32, platform: &str| {
        format!(
            r#"{{"ts": "2024-03-18T08:06:03Z", "ms_played": {ms}, "platform": "{platform}", "master_metadata_track_name": "Sukoon", "master_metadata_album_artist_name": "X", "skipped": null}}"#
        )
    };
    let path = tmp.path().join("Streaming_History_Audio_2024.json");
    std::fs::write(
        &path,
        format!("[{},\n{}]", report(26, "windows"), report(28_530, "android")),
    )
    .unwrap();
    assert_eq!(import_spotify(&dir, &[&path]), (0, 1, 1));
    // Named again, by itself and in its folder, the file is read once.
    assert_eq!(import_spotify(&dir, &[&path, tmp.path(), &path]), (0, 0, 2));
    let conn = rusqlite::Connection::open(dir.join("skipless.db")).unwrap();
    let (played, skipped): (i64, bool) = conn
        .query_row("SELECT played_ms, skipped FROM unmatched_plays", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((played, skipped), (28_530, true));
    // Imported again, in the other order, it is known.
    std::fs::write(
        &path,
        format!("[{},\n{}]", report(28_530, "android"), report(26, "windows")),
    )
    .unwrap();
    assert_eq!(import_spotify(&dir, &[&path]), (0, 0, 2));
}

#[test]
fn imported_names_are_shown_as_scanned_tags_are_and_exported_as_they_came() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "log");
    let path = tmp.path().join("Streaming_History_Audio_2024.json");
    std::fs::write(
        &path,
        r#"[{"ts": "2024-03-18T08:06:03Z", "ms_played": 200000, "master_metadata_track_name": "Two\nLines \u202egnos", "master_metadata_album_artist_name": "  The\tBand ", "master_metadata_album_album_name": "\u200b", "skipped": false}]"#,
    )
    .unwrap();
    assert_eq!(import_spotify(&dir, &[&path]), (0, 1, 0));
    let history = stdout_of(skipless(&dir).args(["history", "--json"]));
    let rows: Vec<Value> = history.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1, "{history}");
    assert_eq!(
        (field(&rows[0], "artist"), field(&rows[0], "title")),
        ("The Band".to_owned(), "Two Lines gnos".to_owned())
    );
    let text = stdout_of(skipless(&dir).arg("history"));
    assert_eq!(
        text.lines().filter(|l| l.contains("Two Lines gnos")).count(),
        1,
        "{text}"
    );
    let stats = stdout_of(skipless(&dir).arg("stats"));
    assert!(stats.contains("The Band – Two Lines gnos"), "{stats}");
    // The same record again is the same play, and so is the log's export of it imported back.
    assert_eq!(import_spotify(&dir, &[&path]), (0, 0, 1));
    let exported = tmp.path().join("Streaming_History_Audio_export.json");
    stdout_of(
        skipless(&dir)
            .args(["export", "--format", "spotify", "--out"])
            .arg(&exported),
    );
    assert_eq!(import_spotify(&dir, &[&exported]), (0, 0, 1));
}

#[test]
fn a_listen_without_a_duration_played_its_whole_track_matched_now_or_after_a_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let listens = tmp.path().join("listens.jsonl");
    std::fs::write(
        &listens,
        r#"{"listened_at": 1700000000, "track_metadata": {"artist_name": "Timothy Pinkham", "track_name": "Defeat"}}"#,
    )
    .unwrap();
    let library_first = data_dir(tmp.path(), "library-first");
    crate::common::scan_json(&library_first, &[&crate::common::corpus()]);
    assert_eq!(
        json_of(&library_first, &["import", "listenbrainz", "--json"], &[&listens])["matched"],
        1
    );
    let listens_first = data_dir(tmp.path(), "listens-first");
    assert_eq!(
        json_of(&listens_first, &["import", "listenbrainz", "--json"], &[&listens])["unmatched"],
        1
    );
    // Waiting for its track, it is a listen already: the recap counts it and the export writes it.
    let waiting = stdout_of(skipless(&listens_first).args(["export", "--format", "listenbrainz"]));
    assert!(waiting.contains("\"listened_at\":1700000000"), "{waiting}");
    let recap = json_of(&listens_first, &["recap", "--json"], &[]);
    assert_eq!(recap["totals"]["listens"], 1, "{recap}");
    crate::common::scan_json(&listens_first, &[&crate::common::corpus()]);
    for dir in [&library_first, &listens_first] {
        let history = crate::common::json_lines(&stdout_of(skipless(dir).args(["history", "--json"])));
        assert_eq!(history.len(), 1, "{history:?}");
        let (played, duration) = (&history[0]["played_ms"], &history[0]["duration_ms"]);
        assert!(
            played.as_u64().is_some_and(|p| p > 8_000) && played == duration,
            "{history:?}"
        );
        let stats = json_of(dir, &["stats", "--json"], &[]);
        assert_eq!((&stats["listens"], &stats["skips"]), (&json!(1), &json!(0)), "{stats}");
        let exported = stdout_of(skipless(dir).args(["export", "--format", "listenbrainz"]));
        assert!(exported.contains("\"listened_at\":1700000000"), "{exported}");
    }
}

/// Writes an Extended history of about `bytes` bytes with distinct plays; returns how many.
fn write_history(path: &Path, bytes: usize) -> u64 {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(b"[\n").unwrap();
    let (mut written, mut n) = (2, 0u64);
    while written < bytes {
        let ts = jiff::Timestamp::from_second(1_600_000_000 + n as i64 * 200).unwrap();
        let record = serde_json::json!({
            "ts": ts.to_string(),
            "platform": "linux", "ms_played": 180_000 + n % 1000,
            "master_metadata_track_name": format!("Track {n}"),
            "master_metadata_album_artist_name": format!("Artist {}", n % 5000),
            "master_metadata_album_album_name": format!("Album {}", n % 9000),
            "spotify_track_uri": "spotify:track:0000000000000000000000", "reason_start": "trackdone",
            "reason_end": "trackdone", "shuffle": false, "skipped": false, "offline": false, "incognito_mode": false,
        });
        let line = format!("{}{record}", if n == 0 { "" } else { ",\n" });
        out.write_all(line.as_bytes()).unwrap();
        written += line.len();
        n += 1;
    }
    out.write_all(b"\n]\n").unwrap();
    n
}

/// Runs the binary to completion and returns its peak resident set in bytes: the `VmHWM` of
/// the child's own `/proc/PID/status`, read while it runs. (`ru_maxrss` of a child started by
/// vfork-style spawning counts the parent's high-water mark too.)
fn peak_rss(cmd: &mut std::process::Command) -> u64 {
    let mut child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    loop {
        // Until the exec, the child shares the test process's memory: only count it after.
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let field = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_owned())
            };
            if field("Name:").as_deref() == Some("skipless") {
                let kb = field("VmHWM:")
                    .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
                    .unwrap_or(0);
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the import failed");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(peak_kb > 0, "the child's memory was never read");
    peak_kb * 1024
}

#[test]
fn a_30_mb_import_runs_in_constant_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for (name, size) in [("small", 3 << 20), ("large", 30 << 20)] {
        let file = tmp.path().join(format!("Streaming_History_Audio_{name}.json"));
        let plays = write_history(&file, size);
        let dir = data_dir(tmp.path(), name);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_skipless"));
        cmd.arg("--data-dir")
            .arg(&dir)
            .arg("--config")
            .arg(crate::common::config_file(&dir));
        cmd.args(["import", "spotify"])
            .arg(&file)
            .env_remove("SKIPLESS_DATA_DIR");
        let peak = peak_rss(&mut cmd);
        eprintln!("{name}: {} bytes, {plays} plays, peak RSS {peak} bytes", size);
        peaks.push(peak);
        // Every play is kept, waiting for its track (the library is empty).
        let stats = json_of(&dir, &["stats", "--json"], &[]);
        assert_eq!(stats["plays"].as_u64(), Some(plays as u64));
        assert_eq!(stats["unmatched_imports"].as_u64(), Some(plays as u64));
    }
    let (small, large) = (peaks[0], peaks[1]);
    assert!(large < 30 << 20, "peak RSS {large} for a 30 MB file");
    assert!(
        large < small + (8 << 20),
        "peak RSS grew from {small} to {large} with the file size"
    );
}

#[test]
fn a_file_given_by_name_is_read_by_its_content_whatever_it_is_called() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let records = music_records(&mica());
    make_library(&lib, &top_tracks(&records, 20));
    let a = data_dir(tmp.path(), "a");
    crate::common::scan_json(&a, &[&lib]);
    let (matched, unmatched, _) = import_spotify(&a, &[&mica()]);
    assert!(matched > 0);
    // `skipless export --format spotify --out my-listens.json`, then import that file.
    let mine = tmp.path().join("my-listens.json");
    stdout_of(skipless(&a).args(["export", "--format", "spotify", "--out"]).arg(&mine));
    let b = data_dir(tmp.path(), "b");
    crate::common::scan_json(&b, &[&lib]);
    assert_eq!(import_spotify(&b, &[&mine]), (matched, unmatched, 0));
    // The same plays in the basic format, under a name Spotify never uses.
    let basic = tmp.path().join("history.txt");
    std::fs::write(&basic, serde_json::to_vec(&to_basic(&records[..50])).unwrap()).unwrap();
    let c = data_dir(tmp.path(), "c");
    let (m, u, d) = import_spotify(&c, &[&basic]);
    assert_eq!(m + u + d, 50);

    // Things that are not listening histories are named.
    let playlist = tmp.path().join("mix.m3u8");
    std::fs::write(&playlist, "#EXTM3U\n#EXTINF:180,A - B\nsong.ogg\n").unwrap();
    let stderr = import_fails(&c, &["import", "spotify"], &playlist);
    assert!(
        stderr.contains("mix.m3u8: this is a playlist (M3U), not a listening history"),
        "{stderr}"
    );
    let listens = tmp.path().join("listens.json");
    stdout_of(
        skipless(&a)
            .args(["export", "--format", "listenbrainz", "--out"])
            .arg(&listens),
    );
    let stderr = import_fails(&c, &["import", "spotify"], &listens);
    assert!(
        stderr.contains("ListenBrainz export") && stderr.contains("skipless import listenbrainz"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn the_logs_own_exports_imported_back_add_nothing() {
    use skipless::play::PlaySource;
    let tmp = tempfile::tempdir().unwrap();
    let a = data_dir(tmp.path(), "a");
    crate::common::scan_json(&a, &[&crate::common::corpus()]);
    let tracks = crate::common::library_tracks(&a);
    let mut log = crate::common::LogWriter::open(&a.join("skipless.db"));
    // Times with milliseconds, which the exports cut to the second.
    let mut at = 1_717_000_000_789;
    for k in 0..9 {
        let skipped = (k % 3 == 0).then_some(4_567);
        at = log.play(&tracks[k % tracks.len()], PlaySource::User, at + 1_234, skipped) + 1_001;
    }
    drop(log);
    let plays = || json_of(&a, &["stats", "--json"], &[])["plays"].as_u64().unwrap();
    assert_eq!(plays(), 9);
    for format in ["spotify", "listenbrainz"] {
        let file = tmp.path().join(format!("mine.{format}"));
        stdout_of(skipless(&a).args(["export", "--format", format, "--out"]).arg(&file));
        let exported = match format {
            "spotify" => serde_json::from_slice::<Vec<Value>>(&std::fs::read(&file).unwrap())
                .unwrap()
                .len(),
            _ => std::fs::read_to_string(&file).unwrap().lines().count(),
        } as u64;
        assert!(exported >= 6, "{format}: {exported} plays exported");
        if format == "spotify" {
            // The player's own plays: on skipless, online, nothing hidden; the shuffle is not kept.
            let records: Vec<Value> = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            assert!(records.iter().all(|r| r["platform"] == "skipless"
                && r["offline"] == false
                && r["incognito_mode"] == false
                && r["shuffle"].is_null()));
        }
        let counts = json_of(&a, &["import", format, "--json"], &[&file]);
        assert_eq!(
            (
                counts["matched"].as_u64(),
                counts["unmatched"].as_u64(),
                counts["duplicate"].as_u64()
            ),
            (Some(0), Some(0), Some(exported)),
            "{format}: {counts}"
        );
        assert_eq!(plays(), 9, "{format}");
    }

    // Plays imported from Spotify, waiting for their tracks, come back from ListenBrainz as the
    // same plays; a fresh log takes them all.
    let b = data_dir(tmp.path(), "b");
    let (_, waiting, _) = import_spotify(&b, &[&mica()]);
    let listens = tmp.path().join("listens.jsonl");
    stdout_of(
        skipless(&b)
            .args(["export", "--format", "listenbrainz", "--out"])
            .arg(&listens),
    );
    let exported = std::fs::read_to_string(&listens).unwrap().lines().count() as u64;
    assert!(exported > 100 && exported <= waiting, "{exported} of {waiting}");
    let again = json_of(&b, &["import", "listenbrainz", "--json"], &[&listens]);
    assert_eq!(again["duplicate"].as_u64(), Some(exported), "{again}");
    let c = data_dir(tmp.path(), "c");
    let fresh = json_of(&c, &["import", "listenbrainz", "--json"], &[&listens]);
    assert_eq!(fresh["unmatched"].as_u64(), Some(exported), "{fresh}");
    // Their listening time comes with them: a play that ran to its end tells its track's length.
    let heard = |dir: &Path| {
        json_of(dir, &["recap", "--json"], &[])["totals"]["listening_ms"]
            .as_u64()
            .unwrap()
    };
    assert!(heard(&c) > heard(&b) / 2, "{} ms of {}", heard(&c), heard(&b));
}

/// A listen without a length ends where it starts: the Spotify play of the same song that ends
/// at that moment is the one before it, not the same play, and is kept.
#[test]
fn a_play_ending_where_a_listen_without_a_length_starts_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "log");
    let listens = tmp.path().join("listens.jsonl");
    let at = 1_700_000_000_i64;
    std::fs::write(
        &listens,
        format!("{{\"listened_at\": {at}, \"track_metadata\": {{\"artist_name\": \"X\", \"track_name\": \"A\"}}}}\n"),
    )
    .unwrap();
    assert_eq!(
        json_of(&dir, &["import", "listenbrainz", "--json"], &[&listens])["unmatched"],
        1
    );
    let ts = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let row = |end_ms: i64| {
        json!({"ts": ts(end_ms), "ms_played": 200_000, "master_metadata_track_name": "A",
               "master_metadata_album_artist_name": "X", "skipped": false, "reason_end": "trackdone"})
    };
    let spotify = tmp.path().join("Streaming_History_Audio_2023.json");
    // One ends as the listen starts (the play before it); one starts with it (the same play).
    let rows = json!([row(at * 1000), row(at * 1000 + 200_000)]);
    std::fs::write(&spotify, rows.to_string()).unwrap();
    assert_eq!(import_spotify(&dir, &[&spotify]), (0, 1, 1));
    // The listen, told again with its length, has it now: two plays of 200 s, in one session.
    let recap = json_of(&dir, &["recap", "--json"], &[]);
    assert_eq!(recap["totals"]["listening_ms"].as_u64(), Some(400_000), "{recap}");
    let history = crate::common::json_lines(&stdout_of(skipless(&dir).args(["history", "--json"])));
    assert_eq!(history.len(), 2);
    assert!(
        history
            .iter()
            .all(|p| p["played_ms"] == 200_000 && p["session_id"] == history[0]["session_id"]),
        "{history:?}"
    );
}

/// A ListenBrainz listen of a library track is logged with the track's length, a guess: the same
/// play from Spotify, left after 3 s, gives it what it was. A listen waiting for its track that
/// gains a length can reach the next session, which then joins its own.
#[test]
fn a_listen_takes_the_length_and_skip_another_source_tells_and_its_session_joins_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    make_library(&lib, &[("X".into(), "A".into(), "B".into())]);
    let dir = data_dir(tmp.path(), "log");
    crate::common::scan_json(&dir, &[&lib]);
    let at = 1_700_000_000_i64;
    let listen = |seconds: i64, title: &str| {
        format!(
            "{{\"listened_at\": {}, \"track_metadata\": {{\"artist_name\": \"X\", \"track_name\": \"{title}\"}}}}\n",
            at + seconds
        )
    };
    // A of the library; Z and then Y, waiting, 31 minutes apart: two sessions.
    let listens = tmp.path().join("listens.jsonl");
    std::fs::write(
        &listens,
        [listen(0, "A"), listen(3_600, "Z"), listen(3_600 + 31 * 60, "Y")].concat(),
    )
    .unwrap();
    let counts = json_of(&dir, &["import", "listenbrainz", "--json"], &[&listens]);
    assert_eq!(
        (counts["matched"].as_u64(), counts["unmatched"].as_u64()),
        (Some(1), Some(2))
    );
    let history = || crate::common::json_lines(&stdout_of(skipless(&dir).args(["history", "--json"])));
    let sessions = |h: &[Value]| {
        h.iter()
            .map(|p| p["session_id"].to_string())
            .collect::<HashSet<_>>()
            .len()
    };
    assert_eq!(sessions(&history()), 3);
    let ts = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let spotify = tmp.path().join("Streaming_History_Audio_2023.json");
    let rows = json!([
        {"ts": ts(at * 1000 + 3_000), "ms_played": 3_000, "master_metadata_track_name": "A",
         "master_metadata_album_artist_name": "X", "skipped": true, "reason_end": "fwdbtn"},
        {"ts": ts((at + 3_600) * 1000 + 200_000), "ms_played": 200_000, "master_metadata_track_name": "Z",
         "master_metadata_album_artist_name": "X", "skipped": false, "reason_end": "trackdone"}
    ]);
    std::fs::write(&spotify, rows.to_string()).unwrap();
    assert_eq!(import_spotify(&dir, &[&spotify]), (0, 0, 2));
    let history = history();
    assert_eq!(history.len(), 3);
    let of = |title: &str| history.iter().find(|p| p["title"] == title).unwrap();
    assert_eq!(
        (&of("A")["played_ms"], &of("A")["skipped"]),
        (&json!(3_000), &json!(true)),
        "{history:?}"
    );
    assert_eq!(of("Z")["played_ms"], 200_000);
    assert_eq!(of("Z")["session_id"], of("Y")["session_id"], "{history:?}");
    assert_eq!(sessions(&history), 2);
}

/// A song left at once and played again starts where the listen after it starts. A service that
/// counts listens only (ListenBrainz) has the listen; the Spotify history has both: the listen is
/// the same play, and the short one is a skip of its own, kept.
#[test]
fn a_song_left_at_once_and_played_again_is_two_plays_beside_a_listen_of_it() {
    let tmp = tempfile::tempdir().unwrap();
    let listens = tmp.path().join("listens.jsonl");
    let at = 1_700_000_000_i64;
    std::fs::write(
        &listens,
        format!(
            "{{\"listened_at\": {at}, \"track_metadata\": {{\"artist_name\": \"X\", \"track_name\": \"A\", \
             \"additional_info\": {{\"duration_ms\": 200000}}}}}}\n"
        ),
    )
    .unwrap();
    let ts = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let row = |end_ms: i64, played: i64, skipped: bool| {
        json!({"ts": ts(end_ms), "ms_played": played, "master_metadata_track_name": "A",
               "master_metadata_album_artist_name": "X", "skipped": skipped,
               "reason_end": if skipped { "backbtn" } else { "trackdone" }})
    };
    let spotify = tmp.path().join("Streaming_History_Audio_2023.json");
    for (played, name) in [(0, "left at once"), (760, "left in under a second")] {
        let dir = data_dir(tmp.path(), name);
        assert_eq!(
            json_of(&dir, &["import", "listenbrainz", "--json"], &[&listens])["unmatched"],
            1
        );
        let rows = json!([
            row(at * 1000 + played, played, true),
            row(at * 1000 + 200_000, 200_000, false)
        ]);
        std::fs::write(&spotify, rows.to_string()).unwrap();
        assert_eq!(
            import_spotify(&dir, &[&spotify]),
            (0, 1, 1),
            "{name}: the skip is new, the listen known"
        );
    }
}

/// Files as editors save them: UTF-8 with a byte order mark imports as without one, UTF-16 is
/// named in the error, and an export of a span with no plays imports nothing, without error.
#[test]
fn a_byte_order_mark_utf_16_and_an_empty_history() {
    let tmp = tempfile::tempdir().unwrap();
    let good = r#"{"ts": "2024-01-01T10:00:00Z", "ms_played": 200000, "master_metadata_track_name": "A", "master_metadata_album_artist_name": "X", "skipped": false}"#;
    let with_bom = tmp.path().join("Streaming_History_Audio_bom.json");
    std::fs::write(&with_bom, format!("\u{feff}[{good}]")).unwrap();
    assert_eq!(import_spotify(&data_dir(tmp.path(), "bom"), &[&with_bom]), (0, 1, 0));

    let listens = tmp.path().join("listens.jsonl");
    std::fs::write(
        &listens,
        "\u{feff}{\"listened_at\": 1700000000, \"track_metadata\": {\"artist_name\": \"X\", \"track_name\": \"A\"}}\n",
    )
    .unwrap();
    let counts = json_of(
        &data_dir(tmp.path(), "lb"),
        &["import", "listenbrainz", "--json"],
        &[&listens],
    );
    assert_eq!(counts["unmatched"], 1, "{counts}");

    let utf16 = tmp.path().join("Streaming_History_Audio_16.json");
    let text: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(format!("[{good}]").encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(&utf16, text).unwrap();
    let stderr = import_fails(&data_dir(tmp.path(), "16"), &["import", "spotify"], &utf16);
    assert!(
        stderr.contains("UTF-16") && stderr.contains("save the file as UTF-8"),
        "{stderr}"
    );

    let empty = tmp.path().join("Streaming_History_Audio_none.json");
    std::fs::write(&empty, "[ ]\n").unwrap();
    assert_eq!(import_spotify(&data_dir(tmp.path(), "none"), &[&empty]), (0, 0, 0));
}

/// The log's own CSV and JSON Lines exports given to an import are named, with what imports
/// back instead, in one line.
#[test]
fn the_logs_csv_and_jsonl_exports_given_to_an_import_say_what_imports_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path(), "log");
    import_spotify(&dir, &[&mica()]);
    for (format, import) in [("csv", "spotify"), ("jsonl", "spotify"), ("jsonl", "listenbrainz")] {
        let out = tmp.path().join(format!("log.{format}"));
        stdout_of(skipless(&dir).args(["export", "--format", format, "--out"]).arg(&out));
        let stderr = import_fails(&data_dir(tmp.path(), "other"), &["import", import], &out);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("a skipless CSV or JSON Lines export") && stderr.contains("--format spotify"),
            "{format} to {import}: {stderr}"
        );
    }
}

/// Writes `files` (name, text) into a zip at `path`, compressed as ListenBrainz compresses its exports.
fn write_zip(path: &Path, files: &[(&str, String)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in files {
        zip.start_file(*name, options).unwrap();
        std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

/// ListenBrainz's export before August 2024 was one JSON array of listens, and until 2022 it kept
/// durations as clients sent them (fractions, numbers in strings): such exports import, and a
/// duration that is no number is no length, not a refusal of the whole export.
#[test]
fn an_older_listenbrainz_export_imports_with_its_durations_as_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let listen = |at: u64, title: &str, info: &str| {
        format!(
            r#"{{"listened_at": {at}, "recording_msid": "m", "user_name": "u", "inserted_at": "Mon, 13 Nov 2023 10:00:00 GMT", "track_metadata": {{"artist_name": "X", "track_name": "{title}", "additional_info": {info}}}}}"#
        )
    };
    let array = tmp.path().join("user_lb-2024-01-01.json");
    std::fs::write(
        &array,
        format!(
            "[{},\n{},\n{},\n{}]",
            listen(1700000000, "A", r#"{"duration": "245"}"#),
            listen(1700000300, "B", r#"{"duration_ms": 200000.0}"#),
            listen(1700000600, "C", r#"{"duration_ms": "n/a"}"#),
            listen(1700000900, "D", r#"{"duration_ms": -5}"#),
        ),
    )
    .unwrap();
    let data = data_dir(tmp.path(), "old");
    let v = json_of(&data, &["import", "listenbrainz", "--json"], &[&array]);
    assert_eq!(v["unmatched"].as_u64(), Some(4), "{v}");
    let exported = crate::common::json_lines(&stdout_of(skipless(&data).args(["export", "--format", "jsonl"])));
    let played: Vec<(String, u64)> = exported
        .iter()
        .map(|p| {
            (
                p["title"].as_str().unwrap().to_owned(),
                p["played_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        played,
        [
            ("A".into(), 245_000),
            ("B".into(), 200_000),
            ("C".into(), 0),
            ("D".into(), 0)
        ],
        "{exported:?}"
    );
    // Saved with a byte order mark, as some editors do, the array is the same listens.
    let marked = tmp.path().join("marked.json");
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend(std::fs::read(&array).unwrap());
    std::fs::write(&marked, bytes).unwrap();
    let v = json_of(&data, &["import", "listenbrainz", "--json"], &[&marked]);
    assert_eq!(v["duplicate"].as_u64(), Some(4), "{v}");
    // The same listens as JSON Lines are the same plays.
    let lines = tmp.path().join("listens.jsonl");
    let text = std::fs::read_to_string(&array).unwrap();
    let text = text.trim_start_matches('[').trim_end_matches(']').replace(",\n", "\n");
    std::fs::write(&lines, text + "\n").unwrap();
    let v = json_of(&data, &["import", "listenbrainz", "--json"], &[&lines]);
    assert_eq!(v["duplicate"].as_u64(), Some(4), "{v}");
    // Exported, a listen of no known length leaves its length out (ListenBrainz refuses 0), and
    // one of no known artist is MusicBrainz's `[unknown]`, read back as none.
    let unknown = tmp.path().join("unknown.jsonl");
    std::fs::write(
        &unknown,
        r#"{"listened_at": 1700001200, "track_metadata": {"artist_name": "[unknown]", "track_name": "E"}}"#.to_owned()
            + "\n",
    )
    .unwrap();
    json_of(&data, &["import", "listenbrainz", "--json"], &[&unknown]);
    let listens = crate::common::json_lines(&stdout_of(skipless(&data).args(["export", "--format", "listenbrainz"])));
    let of = |title: &str| {
        listens
            .iter()
            .find(|l| l["track_metadata"]["track_name"] == title)
            .unwrap()
            .clone()
    };
    assert!(
        of("C")["track_metadata"]["additional_info"]["duration_ms"].is_null(),
        "{listens:?}"
    );
    assert_eq!(of("A")["track_metadata"]["additional_info"]["duration_ms"], 245_000);
    assert_eq!(of("E")["track_metadata"]["artist_name"], "[unknown]");
    let jsonl = crate::common::json_lines(&stdout_of(skipless(&data).args(["export", "--format", "jsonl"])));
    let e = jsonl.iter().find(|p| p["title"] == "E").unwrap();
    assert!(e["artist"].is_null() || e["artist"] == "", "{e}");
    // Given to the Spotify importer, the array is named for what it is.
    let output = skipless(&data)
        .args(["import", "spotify"])
        .arg(&array)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("skipless import listenbrainz"),
        "{stderr}"
    );
}

#[test]
fn a_listenbrainz_export_imports_as_downloaded_as_unpacked_and_as_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    // As ListenBrainz writes a user's export: seconds with a fraction, a file per month, the
    // likes by MusicBrainz id alone beside them.
    let listen = |at: &str, title: &str| {
        format!(
            r#"{{"inserted_at": 1700000100, "listened_at": {at}, "recording_msid": "m", "track_metadata": {{"artist_name": "X", "track_name": "{title}", "release_name": "R", "additional_info": {{"duration_ms": 180000}}, "mbid_mapping": null}}}}"#
        )
    };
    let november = format!("{}\n{}\n", listen("1700000000.0", "A"), listen("1700000200.5", "B"));
    let december = format!("{}\n", listen("1702000000.0", "C"));
    let files = [
        ("user.json", r#"{"user_id": 1, "username": "u"}"#.to_owned()),
        ("listens/2023/11.jsonl", november.clone()),
        ("listens/2023/12.jsonl", december.clone()),
        (
            "feedback.jsonl",
            r#"{"recording_msid": "m", "recording_mbid": null, "score": 1, "created": 1700000300}"#.to_owned() + "\n",
        ),
    ];
    let zipped = tmp.path().join("listenbrainz_u_1700000400.zip");
    write_zip(&zipped, &files);
    let unpacked = tmp.path().join("listenbrainz_u");
    for (name, text) in &files {
        let path = unpacked.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    let from_zip = data_dir(tmp.path(), "zip");
    let v = json_of(&from_zip, &["import", "listenbrainz", "--json"], &[&zipped]);
    assert_eq!(
        (v["unmatched"].as_u64(), v["duplicate"].as_u64()),
        (Some(3), Some(0)),
        "{v}"
    );
    let v = json_of(&from_zip, &["import", "listenbrainz", "--json"], &[&unpacked]);
    assert_eq!(
        (v["unmatched"].as_u64(), v["duplicate"].as_u64()),
        (Some(0), Some(3)),
        "{v}"
    );
    // The same listens timed in whole seconds, as clients and older exports write them, are
    // the same plays.
    let whole = tmp.path().join("whole.jsonl");
    std::fs::write(&whole, november.replace(".0,", ",").replace(".5,", ",")).unwrap();
    let v = json_of(&from_zip, &["import", "listenbrainz", "--json"], &[&whole]);
    assert_eq!(
        (v["unmatched"].as_u64(), v["duplicate"].as_u64()),
        (Some(0), Some(2)),
        "{v}"
    );
    let exported = stdout_of(skipless(&from_zip).args(["export", "--format", "listenbrainz"]));
    assert!(exported.contains(r#""listened_at":1700000200,"#), "{exported}");

    // A file of something else beside the listens is no listens; the listens folder itself
    // may be given too.
    std::fs::write(unpacked.join("notes.jsonl"), "not a listen\n").unwrap();
    let from_folder = data_dir(tmp.path(), "folder");
    let v = json_of(&from_folder, &["import", "listenbrainz", "--json"], &[&unpacked]);
    assert_eq!(v["unmatched"].as_u64(), Some(3), "{v}");
    let v = json_of(
        &from_folder,
        &["import", "listenbrainz", "--json"],
        &[&unpacked.join("listens")],
    );
    assert_eq!(v["duplicate"].as_u64(), Some(3), "{v}");

    // A malformed listen in any month leaves nothing of the export, and says where it is.
    let broken = tmp.path().join("broken.zip");
    let mut bad_files = files.clone();
    bad_files[2].1 = format!("{}\n{{\"listened_at\": \"soon\"}}\n", december.trim());
    write_zip(&broken, &bad_files);
    let fresh = data_dir(tmp.path(), "fresh");
    let stderr = import_fails(&fresh, &["import", "listenbrainz"], &broken);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("{}: record 2", broken.join("listens/2023/12.jsonl").display())),
        "{stderr}"
    );
    let v = json_of(&fresh, &["import", "listenbrainz", "--json"], &[&zipped]);
    assert_eq!(
        v["unmatched"].as_u64(),
        Some(3),
        "nothing of the broken export was kept: {v}"
    );

    // An archive or a folder with no listens in it, and a damaged archive, are each one line.
    let no_listens = tmp.path().join("other.zip");
    write_zip(&no_listens, &files[..1]);
    let stderr = import_fails(&fresh, &["import", "listenbrainz"], &no_listens);
    assert!(stderr.contains("a zip without ListenBrainz listens"), "{stderr}");
    let empty_folder = tmp.path().join("empty");
    std::fs::create_dir_all(&empty_folder).unwrap();
    let stderr = import_fails(&fresh, &["import", "listenbrainz"], &empty_folder);
    assert!(stderr.contains("a folder without ListenBrainz listens"), "{stderr}");
    let cut = tmp.path().join("cut.zip");
    let bytes = std::fs::read(&zipped).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let stderr = import_fails(&fresh, &["import", "listenbrainz"], &cut);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cut.zip: cannot read"), "{stderr}");
}

/// A log whose newest session is skips alone: the validation slice reaches back to sessions
/// with listens, so that models are judged on something, and where the new model ties the
/// current one the tie goes to the new model, trained on the log as it is now, so a model of
/// the first plays is not kept for good.
#[test]
fn a_tie_on_a_validation_slice_of_skips_goes_to_the_new_model() {
    let tmp = tempfile::tempdir().unwrap();
    let day = 86_400i64;
    let mut records = Vec::new();
    for session in 0..10i64 {
        for play in 0..6i64 {
            let skipped = session == 9;
            let at = 1_700_000_000 + session * day + play * 300;
            let ts = jiff::Timestamp::from_second(at).unwrap().to_string();
            records.push(json!({
                "ts": ts,
                "ms_played": if skipped { 2_000 } else { 200_000 },
                "master_metadata_track_name": format!("Song {}", (session + play) % 8),
                "master_metadata_album_artist_name": "Artist",
                "reason_start": "trackdone",
                "reason_end": if skipped { "fwdbtn" } else { "trackdone" },
                "skipped": skipped,
            }));
        }
    }
    let file = tmp.path().join("Streaming_History_Audio_2023.json");
    std::fs::write(&file, serde_json::to_vec(&records).unwrap()).unwrap();
    let data = data_dir(tmp.path(), "skips-last");
    import_spotify(&data, &[&file]);
    let first = json_of(&data, &["train", "--json"], &[]);
    assert_eq!(first["saved"], true, "{first}");
    let trained = json_of(&data, &["train", "--json"], &[]);
    assert!(
        trained["ndcg@10"].as_f64().unwrap() > 0.0,
        "judged on listens: {trained}"
    );
    assert_eq!(trained["ndcg@10"], trained["previous_ndcg@10"], "a tie: {trained}");
    assert_eq!(trained["saved"], true, "{trained}");
}

/// `-` imports what a pipe brings, as a script passes one export on to another data dir; an
/// error names standard input, and a missing file is said before any data dir is made. `--out -`
/// is standard output.
#[test]
fn an_export_piped_into_import_arrives_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let from = data_dir(tmp.path(), "from");
    let (matched, unmatched, _) = import_spotify(&from, &[&mica()]);
    let plays = matched + unmatched;
    assert!(plays > 100);
    // `--out -` is stdout, as tools take it, not a file named `-` (run in a folder of their
    // own, where one would be made).
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let to_stdout = |args: &[&str]| {
        let dashed = stdout_of(skipless(&from).current_dir(&cwd).args(args).args(["--out", "-"]));
        assert_eq!(
            dashed,
            stdout_of(skipless(&from).current_dir(&cwd).args(args)),
            "{args:?}"
        );
    };
    to_stdout(&["export", "--format", "csv"]);
    to_stdout(&["recap"]);
    let m3u = tmp.path().join("mix.m3u");
    std::fs::write(&m3u, format!("{}\n", crate::common::corpus().join("sad.ogg").display())).unwrap();
    stdout_of(skipless(&from).args(["playlist", "import"]).arg(&m3u));
    to_stdout(&["playlist", "export", "mix"]);
    assert_eq!(std::fs::read_dir(&cwd).unwrap().count(), 0, "a file named -");
    for format in ["spotify", "listenbrainz"] {
        let export = stdout_of(skipless(&from).args(["export", "--format", format]));
        // ListenBrainz's listens are the plays heard, not the skips.
        let sent = match format {
            "spotify" => plays,
            _ => export.lines().count() as u64,
        };
        let to = data_dir(tmp.path(), &format!("to-{format}"));
        let out = skipless(&to)
            .args(["import", format, "--json", "-"])
            .write_stdin(export)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let imported = v["matched"].as_u64().unwrap() + v["unmatched"].as_u64().unwrap();
        assert_eq!(imported, sent, "{format}: {v}");
        // The copy of standard input is gone.
        let left: Vec<_> = std::fs::read_dir(&to)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("stdin"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // Likes too (Spotify's YourLibrary.json; the library lacks the song, which is listed).
    let liked = r#"{"tracks": [{"artist": "Nobody", "album": "None", "track": "Nothing"}]}"#;
    let to = data_dir(tmp.path(), "likes");
    let out = skipless(&to)
        .args(["import", "likes", "--json", "-"])
        .write_stdin(liked)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["not_in_library"].as_array().map(Vec::len), Some(1), "{v}");
    // Refusals, each in one line: a malformed history named as standard input; `-` twice; an
    // empty pipe, which makes no log.
    let refused = |args: &[&str], stdin: &str| {
        let to = tmp.path().join(format!("refused-{}", stdin.len()));
        let out = skipless(&to).args(args).write_stdin(stdin).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        stderr
    };
    let stderr = refused(&["import", "spotify", "-"], "[{\"ts\": 5}]");
    assert!(stderr.contains("error: standard input: record 1:"), "{stderr}");
    let stderr = refused(&["import", "spotify", "-", "-"], "[ ]");
    assert!(stderr.contains("standard input (-) can be given once"), "{stderr}");
    let stderr = refused(&["import", "listenbrainz", "-"], "");
    assert!(stderr.contains("standard input: nothing came"), "{stderr}");
    assert!(!tmp.path().join("refused-0/skipless.db").exists());
    let missing = tmp.path().join("typo");
    let out = skipless(&missing)
        .args(["import", "spotify"])
        .arg(tmp.path().join("nowhere.json"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere.json: cannot open"));
    let made = missing.join("skipless.db");
    assert!(!made.exists(), "a log was made for a file that is not there");
}

/// The records of mica's fixture in three files cut where the listener paused for over an hour,
/// oldest first.
fn mica_in_three_parts(dir: &Path) -> Vec<PathBuf> {
    let mut records: Vec<Value> = serde_json::from_slice(&std::fs::read(mica()).unwrap()).unwrap();
    records.sort_by(|a, b| a["ts"].as_str().cmp(&b["ts"].as_str()));
    let time = |r: &Value| {
        r["ts"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
    };
    let pause_after = |from: usize| {
        (from..records.len() - 1)
            .find(|&i| time(&records[i + 1]) - time(&records[i]) > 3600)
            .unwrap()
            + 1
    };
    let first = pause_after(records.len() / 3);
    let second = pause_after(2 * records.len() / 3);
    // Named as Spotify numbers a large export: in byte order, "_9" would come after "_11".
    [(0, first, 9), (first, second, 10), (second, records.len(), 11)]
        .into_iter()
        .map(|(from, to, number)| {
            let path = dir.join(format!("Streaming_History_Audio_2024_{number}.json"));
            std::fs::write(&path, serde_json::to_vec(&records[from..to]).unwrap()).unwrap();
            path
        })
        .collect()
}

#[test]
fn a_history_in_parts_makes_the_same_sessions_whatever_order_its_files_come_in() {
    let sessions = |data: &Path| json_of(data, &["stats", "--json"], &[])["sessions"].as_u64().unwrap();
    let whole = tempfile::tempdir().unwrap();
    import_spotify(whole.path(), &[&mica()]);
    let expected = sessions(whole.path());
    assert!(expected > 50, "{expected}");

    let parts_dir = tempfile::tempdir().unwrap();
    let parts = mica_in_three_parts(parts_dir.path());
    // The export's folder: its files in the order of their numbers.
    let folder = tempfile::tempdir().unwrap();
    import_spotify(folder.path(), &[parts_dir.path()]);
    assert_eq!(sessions(folder.path()), expected);
    // Files named newest first: an older play never joins a newer session.
    let newest_first = tempfile::tempdir().unwrap();
    import_spotify(newest_first.path(), &[&parts[2], &parts[1], &parts[0]]);
    assert_eq!(sessions(newest_first.path()), expected);
}

/// The log's own export imported back while the folder of its tracks is removed finds the
/// player's plays of them in the log, as with the folder there: it adds nothing, and nothing
/// doubles when the folder comes back.
#[test]
fn an_export_imported_back_while_its_tracks_folder_is_removed_adds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    for name in ["sad.ogg", "victory.ogg", "defeat.flac", "menu.opus"] {
        std::fs::copy(crate::common::corpus().join(name), lib.join(name)).unwrap();
    }
    let data = data_dir(tmp.path(), "data");
    crate::common::scan_json(&data, &[&lib]);
    let tracks = crate::common::library_tracks(&data);
    let mut log = crate::common::LogWriter::open(&data.join("skipless.db"));
    let mut at = 1_700_000_000_000;
    for round in 0..3 {
        for (k, track) in tracks.iter().enumerate() {
            let skipped = (round + k) % 3 == 0;
            at = log.play(track, skipless::play::PlaySource::User, at, skipped.then_some(2_000)) + 1_000;
        }
    }
    drop(log);
    let plays = |data: &Path| json_of(data, &["stats", "--json"], &[])["plays"].as_u64().unwrap();
    let before = plays(&data);
    assert_eq!(before, 3 * tracks.len() as u64);
    let export = tmp.path().join("export.json");
    stdout_of(
        skipless(&data)
            .args(["export", "--format", "spotify", "--out"])
            .arg(&export),
    );
    stdout_of(skipless(&data).args(["roots", "remove"]).arg(&lib));
    let again = json_of(&data, &["import", "spotify", "--json"], &[&export]);
    assert_eq!(
        (again["matched"].as_u64(), again["unmatched"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    stdout_of(skipless(&data).args(["roots", "add"]).arg(&lib));
    assert_eq!(plays(&data), before);
}

/// Ctrl-C during `skipless train` ends it between two steps with one line saying the model in
/// use is unchanged: nothing is saved and no run is recorded.
#[test]
fn an_interrupted_training_run_says_so_and_saves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path(), "data");
    import_spotify(&data, &[&mica()]);
    let train = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(crate::common::config_file(&data))
        .env_remove("SKIPLESS_DATA_DIR")
        .args(["train"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once it catches the signal, which it does just before training starts.
    let catches_sigint = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", train.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (libc::SIGINT - 1)) != 0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !catches_sigint() {
        assert!(std::time::Instant::now() < deadline, "train never caught Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let (output, said) = interrupted(train);
    assert_eq!(
        said.trim(),
        "skipless: training interrupted: the model in use is unchanged"
    );
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(!data.join("models/model.safetensors").exists());
    let conn = rusqlite::Connection::open(data.join("skipless.db")).unwrap();
    let runs: i64 = conn
        .query_row("SELECT count(*) FROM training_runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 0);
}

/// Ctrl-C during an import ends it with one line saying what stays; the database is whole, and
/// the same import run again adds what is missing, each play once.
#[test]
fn an_interrupted_import_says_what_it_keeps_and_a_second_run_completes_it() {
    const PLAYS: i64 = 60_000;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("Streaming_History_Audio_2020.json");
    // A play every 3 minutes, sessions of 20 plays an hour apart, 40 songs.
    let records: Vec<serde_json::Value> = (0..PLAYS)
        .map(|i| {
            let ts = jiff::Timestamp::from_second(1_577_836_800 + i * 180 + i / 20 * 3_600).unwrap();
            serde_json::json!({
                "ts": ts.to_string(),
                "ms_played": 170_000,
                "master_metadata_track_name": format!("Song {}", i % 40),
                "master_metadata_album_artist_name": format!("Artist {}", i % 7),
                "master_metadata_album_album_name": "Album",
                "spotify_track_uri": format!("spotify:track:{}", i % 40),
                "reason_start": "trackdone",
                "reason_end": "trackdone",
                "skipped": false,
            })
        })
        .collect();
    std::fs::write(&file, serde_json::to_vec(&records).unwrap()).unwrap();
    let import = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(crate::common::config_file(&data))
        .env_remove("SKIPLESS_DATA_DIR")
        .args(["import", "spotify"])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once its first round is written, well before its last.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let written = || -> Option<i64> {
        let conn =
            rusqlite::Connection::open_with_flags(data.join("skipless.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()?;
        conn.query_row(
            "SELECT (SELECT count(*) FROM plays) + (SELECT count(*) FROM unmatched_plays)",
            [],
            |r| r.get(0),
        )
        .ok()
    };
    while written().unwrap_or(0) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the import wrote nothing in a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (_, said) = interrupted(import);
    assert!(
        said.contains("import interrupted: what was written before it is kept"),
        "{said}"
    );
    let db = data.join("skipless.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let count = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row(
            "SELECT (SELECT count(*) FROM plays) + (SELECT count(*) FROM unmatched_plays)",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let kept = count(&conn);
    assert!(kept < PLAYS, "interrupted before the end: {kept}");
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    crate::common::stdout_of(crate::common::skipless(&data).args(["import", "spotify"]).arg(&file));
    assert_eq!(count(&conn), PLAYS);
    let sessions: i64 = conn
        .query_row(
            "SELECT count(DISTINCT session_id) FROM (SELECT session_id FROM plays UNION ALL SELECT session_id FROM unmatched_plays)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sessions, PLAYS / 20, "sessions as one import would make them");
}

/// The same listening told by two sources (a ListenBrainz export, then the Spotify history
/// it came from) is the one log's sessions: the plays the first lacked join the sessions it
/// made, each in its place in time, rather than making sessions of their own.
#[test]
fn a_second_source_of_the_same_listening_fills_the_sessions_of_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let stats = |data: &Path| json_of(data, &["stats", "--json"], &[]);
    let one = data_dir(tmp.path(), "one");
    import_spotify(&one, &[&mica()]);
    // Every third listen left out of the first source, so the second has plays to add.
    let listens = tmp.path().join("listens.jsonl");
    let exported = stdout_of(skipless(&one).args(["export", "--format", "listenbrainz"]));
    let kept: Vec<&str> = exported
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&listens, kept.join("\n")).unwrap();
    let two = data_dir(tmp.path(), "two");
    stdout_of(skipless(&two).args(["import", "listenbrainz"]).arg(&listens));
    let (matched, unmatched, _) = import_spotify(&two, &[&mica()]);
    assert!(
        matched + unmatched > 0,
        "the second source adds the plays the first lacks"
    );
    let (whole, joined) = (stats(&one), stats(&two));
    assert_eq!(joined["plays"], whole["plays"]);
    assert_eq!(joined["sessions"], whole["sessions"]);
    // Each session's plays in time order.
    let conn = rusqlite::Connection::open(two.join("skipless.db")).unwrap();
    let out_of_order: i64 = conn
        .query_row(
            "SELECT count(*) FROM (
                 SELECT started_at, lag(started_at) OVER (PARTITION BY session_id ORDER BY position) AS before
                 FROM (SELECT session_id, position, started_at FROM plays
                       UNION ALL SELECT session_id, position, started_at FROM unmatched_plays))
             WHERE started_at < before",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(out_of_order, 0);
}

/// An `--out` file is never one the player keeps its data in, whatever the way it is named, and
/// a symbolic link or a named pipe given as one is written through, as a file is.
#[test]
fn an_out_file_is_never_the_players_own_and_links_and_pipes_are_written_through() {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::FileTypeExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let a = data_dir(tmp.path(), "a");
    crate::common::scan_json(&a, &[&crate::common::corpus()]);
    let tracks = crate::common::library_tracks(&a);
    let mut log = crate::common::LogWriter::open(&a.join("skipless.db"));
    let mut at = 1_717_000_000_000;
    for track in &tracks[..3] {
        at = log.play(track, skipless::play::PlaySource::User, at + 1_000, None) + 1_000;
    }
    drop(log);
    std::fs::create_dir_all(a.join("models")).unwrap();
    let link_to_database = tmp.path().join("log-link");
    std::os::unix::fs::symlink(a.join("skipless.db"), &link_to_database).unwrap();
    // A link to one of the player's files not made yet leads there all the same.
    let link_to_kept = tmp.path().join("kept-link");
    assert!(!a.join("skipless.db-kept").exists());
    std::os::unix::fs::symlink(a.join("skipless.db-kept"), &link_to_kept).unwrap();
    let plays = || json_of(&a, &["stats", "--json"], &[])["plays"].as_u64().unwrap();
    assert_eq!(plays(), 3);
    let export = ["export", "--format", "csv"];
    for (command, out) in [
        (&export[..], a.join("skipless.db")),
        (&export[..], a.join("skipless.db-wal")),
        (&export[..], link_to_database.clone()),
        (&export[..], link_to_kept.clone()),
        (&export[..], a.join(".").join("models").join("model.safetensors")),
        (&["recap"][..], a.join("state.json")),
        (&["recap"][..], a.join("skipless.log")),
        (&["playlist", "export", "most finished"][..], a.join("skipless.db")),
    ] {
        let err = crate::common::stderr_of_failure(skipless(&a).args(command).arg("--out").arg(&out));
        assert!(
            err.contains("the player keeps its own data there; write to another file") && err.lines().count() == 1,
            "{command:?} {}: {err}",
            out.display()
        );
    }
    assert_eq!(plays(), 3, "the log is whole");

    // Through a link: the link stays, its target takes the export.
    let target = tmp.path().join("target.csv");
    std::fs::write(&target, "old").unwrap();
    let link = tmp.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    stdout_of(skipless(&a).args(export).arg("--out").arg(&link));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap().lines().count(), 4);
    // A link to a file not made yet makes it.
    let ahead = tmp.path().join("ahead.csv");
    std::os::unix::fs::symlink("made-later.csv", &ahead).unwrap();
    stdout_of(skipless(&a).args(export).arg("--out").arg(&ahead));
    assert!(std::fs::symlink_metadata(&ahead).unwrap().file_type().is_symlink());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("made-later.csv"))
            .unwrap()
            .lines()
            .count(),
        4
    );

    // Into a named pipe: its reader gets the export, and the pipe stays a pipe.
    let pipe = tmp.path().join("pipe");
    let name = std::ffi::CString::new(pipe.as_os_str().as_bytes()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let reader = {
        let pipe = pipe.clone();
        std::thread::spawn(move || std::fs::read_to_string(pipe).unwrap())
    };
    stdout_of(skipless(&a).args(export).arg("--out").arg(&pipe));
    assert_eq!(reader.join().unwrap().lines().count(), 4);
    assert!(std::fs::metadata(&pipe).unwrap().file_type().is_fifo());
}

/// An export over a file keeps what its owner made it: a private one stays private, and one
/// its user cannot write (read-only, as a shell's `>` refuses it) is refused, left as it was.
#[test]
fn an_export_over_a_file_keeps_its_mode_and_a_read_only_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = data_dir(root.path(), "data");
    import_spotify(&data, &[&mica()]);
    let out = root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let private = out.join("private.csv");
    std::fs::write(&private, "old").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    stdout_of(
        skipless(&data)
            .args(["export", "--format", "csv", "--out"])
            .arg(&private),
    );
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&private).unwrap().lines().count() > 100);

    let kept = out.join("kept.csv");
    std::fs::write(&kept, "archived").unwrap();
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o444)).unwrap();
    // Root writes any file, so the export runs as an unprivileged user when we are root.
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap();
    let mut cmd = if is_root && crate::common::has_tool("setpriv", "util-linux") {
        for path in [root.path(), &data, &out] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        for entry in std::fs::read_dir(&data).unwrap() {
            std::fs::set_permissions(entry.unwrap().path(), std::fs::Permissions::from_mode(0o666)).unwrap();
        }
        let mut cmd = assert_cmd::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("skipless"))
            .arg("--data-dir")
            .arg(&data)
            .args(["--config", "/dev/null"]);
        cmd
    } else if is_root {
        return;
    } else {
        skipless(&data)
    };
    let err = crate::common::stderr_of_failure(cmd.args(["export", "--format", "csv", "--out"]).arg(&kept));
    assert!(err.contains("kept.csv") && err.contains("Permission denied"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "archived");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2, "no temporary file is left");
}
