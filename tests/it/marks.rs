//! Likes and bans from the command line: stored with their time, shown in the exports, and a
//! banned track is never recommended.

use serde_json::Value;

use crate::common::{corpus, json_lines, scan_json, scan_json_with_problems, skipless, stderr_of_failure, stdout_of};

fn recommended(data: &std::path::Path) -> Vec<i64> {
    let out = stdout_of(skipless(data).args(["recommend", "-n", "50", "--json"]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    v["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["track_id"].as_i64().unwrap())
        .collect()
}

#[test]
fn like_and_ban_through_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    // Tracks played by this test stay recommendable, so only the ban can leave one out.
    std::fs::write(
        data.path().join("config.toml"),
        "[recommend]\nexclude_recent = 0\nmax_per_artist = 0\n",
    )
    .unwrap();
    scan_json(data.path(), &[&corpus()]);
    let sad = corpus().join("sad.ogg");
    let victory = corpus().join("victory.ogg");
    let id_of = |path: &std::path::Path| -> i64 {
        crate::common::library(data.path())
            .iter()
            .find(|t| t["path"].as_str() == Some(path.canonicalize().unwrap().to_str().unwrap()))
            .and_then(|t| t["id"].as_i64())
            .unwrap()
    };
    let defeat = corpus().join("defeat.flac");
    let (sad_id, victory_id, defeat_id) = (id_of(&sad), id_of(&victory), id_of(&defeat));
    assert!(recommended(data.path()).contains(&defeat_id));

    let out = stdout_of(skipless(data.path()).arg("like").arg(&sad));
    assert!(out.starts_with("liked: "), "{out}");
    let out = stdout_of(skipless(data.path()).arg("ban").arg(&victory));
    assert!(out.starts_with("banned"), "{out}");
    stdout_of(skipless(data.path()).arg("ban").arg(&defeat));
    // The library's listing marks them.
    let listing = stdout_of(skipless(data.path()).arg("library"));
    let row_of = |id: i64| {
        listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&id.to_string()))
            .unwrap()
            .to_owned()
    };
    assert!(row_of(sad_id).contains(&format!("{sad_id} ♥ ")), "{listing}");
    assert!(row_of(victory_id).contains(&format!("{victory_id} ⊘ ")), "{listing}");
    let marks_of = |id: i64| {
        let track = crate::common::library(data.path())
            .into_iter()
            .find(|t| t["id"] == id)
            .unwrap();
        (track["liked"].as_bool(), track["banned"].as_bool())
    };
    assert_eq!(marks_of(sad_id), (Some(true), Some(false)));
    assert_eq!(marks_of(victory_id), (Some(false), Some(true)));
    let picks = recommended(data.path());
    assert!(
        !picks.contains(&victory_id) && !picks.contains(&defeat_id),
        "a banned track was recommended"
    );

    // The exports carry when a played track was liked or banned.
    let mut player = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"));
    player
        .arg("--data-dir")
        .arg(data.path())
        .arg("--config")
        .arg(crate::common::config_file(data.path()))
        .args(["--audio", "null", "play"])
        .arg(&sad)
        .arg(&victory)
        .env("SKIPLESS_NULL_SPEED", "400")
        .env_remove("SKIPLESS_DATA_DIR");
    assert!(player.output().unwrap().status.success());
    let rows = json_lines(&stdout_of(skipless(data.path()).args(["export", "--format", "jsonl"])));
    let row = |id: i64| rows.iter().find(|r| r["track_id"] == id).unwrap().clone();
    assert!(row(sad_id)["liked_at"].is_string() && row(sad_id)["banned_at"].is_null());
    assert!(row(victory_id)["banned_at"].is_string() && row(victory_id)["liked_at"].is_null());
    let csv = stdout_of(skipless(data.path()).args(["export", "--format", "csv"]));
    assert!(csv.lines().next().unwrap().ends_with(",liked_at,banned_at"));

    // Taking them back.
    stdout_of(skipless(data.path()).arg("unlike").arg(&sad));
    stdout_of(skipless(data.path()).arg("unban").arg(&victory));
    // A like takes a ban back: a track is liked or banned, not both.
    stdout_of(skipless(data.path()).arg("like").arg(&defeat));
    assert!(recommended(data.path()).contains(&defeat_id));
    let out = stdout_of(skipless(data.path()).arg("unban").arg(&defeat));
    assert!(out.starts_with("not banned: "), "the like took the ban back: {out}");
    let out = stdout_of(skipless(data.path()).arg("like").arg(&defeat));
    assert!(out.starts_with("already liked: "), "{out}");
    stdout_of(skipless(data.path()).arg("unlike").arg(&defeat));
    let rows = json_lines(&stdout_of(skipless(data.path()).args(["export", "--format", "jsonl"])));
    assert!(rows.iter().all(|r| r["liked_at"].is_null() && r["banned_at"].is_null()));
}

/// Likes and bans leave as ListenBrainz feedback (a like loved, a ban hated) and come back
/// through `import likes` into another log with the same library, with their times to the
/// second. Only what changes a mark is counted.
#[test]
fn likes_and_bans_export_as_feedback_and_import_back() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    scan_json(a.path(), &[&corpus()]);
    scan_json(b.path(), &[&corpus()]);
    stdout_of(skipless(a.path()).arg("like").arg(corpus().join("sad.ogg")));
    stdout_of(skipless(a.path()).arg("ban").arg(corpus().join("victory.ogg")));
    let exported = stdout_of(skipless(a.path()).args(["export", "--format", "feedback"]));
    let lines = json_lines(&exported);
    assert_eq!(lines.len(), 2, "{exported}");
    assert_eq!(
        (
            lines[0]["score"].as_i64(),
            lines[0]["track_metadata"]["track_name"].as_str()
        ),
        (Some(1), Some("Sad"))
    );
    assert_eq!(
        (
            lines[1]["score"].as_i64(),
            lines[1]["track_metadata"]["track_name"].as_str()
        ),
        (Some(-1), Some("Victory"))
    );
    let file = a.path().join("feedback.jsonl");
    std::fs::write(&file, &exported).unwrap();
    let counts: Value =
        serde_json::from_str(stdout_of(skipless(b.path()).args(["import", "likes", "--json"]).arg(&file)).trim())
            .unwrap();
    assert_eq!(
        (counts["liked"].as_u64(), counts["banned"].as_u64()),
        (Some(1), Some(1)),
        "{counts}"
    );
    assert_eq!(
        stdout_of(skipless(b.path()).args(["export", "--format", "feedback"])),
        exported
    );
    let again = stdout_of(skipless(b.path()).args(["import", "likes"]).arg(&file));
    assert!(
        again.starts_with("liked 0 tracks, 2 songs left as marked (so already, or the other way since); 0 of the songs are not in the library"),
        "{again}"
    );
    // A ban older than the track's like (last year's feedback) is dropped, and not counted.
    let old_ban = a.path().join("old.jsonl");
    let mut feedback: Value = serde_json::from_str(exported.lines().next().unwrap()).unwrap();
    feedback["score"] = (-1).into();
    feedback["created"] = 1_000_000_000.into();
    std::fs::write(&old_ban, feedback.to_string()).unwrap();
    let counts = stdout_of(skipless(b.path()).args(["import", "likes"]).arg(&old_ban));
    assert!(
        counts.starts_with("liked 0 tracks, 1 song left as marked (so already, or the other way since); 0 of"),
        "{counts}"
    );
    // An export of nothing is refused as an import, as an empty history is.
    let nothing = stdout_of(skipless(b.path()).args(["export", "--format", "feedback", "--until", "2000-01-01"]));
    assert_eq!(nothing, "");
    let empty = a.path().join("empty.jsonl");
    std::fs::write(&empty, nothing).unwrap();
    let stderr = stderr_of_failure(skipless(b.path()).args(["import", "likes"]).arg(&empty));
    assert!(stderr.contains("no liked songs in it"), "{stderr}");
}

#[test]
fn a_file_not_in_the_library_is_refused_in_one_line() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus().join("victory.ogg")]);
    let output = skipless(data.path())
        .arg("like")
        .arg(corpus().join("sad.ogg"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("sad.ogg: not in the library"), "{stderr}");
}

#[test]
fn liked_songs_import_from_spotify_and_listenbrainz() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let library = crate::common::library(data.path());
    let named = |title: &str| library.iter().find(|t| t["title"] == title).unwrap().clone();
    let (sad, victory) = (named("Sad"), named("Victory"));
    let artist = |t: &Value| t["artist"].as_str().unwrap().to_owned();

    let spotify = data.path().join("YourLibrary.json");
    std::fs::write(
        &spotify,
        serde_json::json!({
            "tracks": [
                {"artist": artist(&sad).to_uppercase(), "album": "x", "track": "Sad", "uri": "spotify:track:1"},
                {"artist": "Nobody Here", "album": "y", "track": "Elsewhere", "uri": "spotify:track:2"},
            ],
            "albums": [], "shows": [], "episodes": [], "bannedTracks": [], "artists": [], "bannedArtists": [], "other": []
        })
        .to_string(),
    )
    .unwrap();
    let out = stdout_of(skipless(data.path()).args(["import", "likes", "--json"]).arg(&spotify));
    let counts: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(counts["liked"], 1, "{counts}");
    assert_eq!(
        counts["not_in_library"],
        serde_json::json!([{"artist": "Nobody Here", "title": "Elsewhere"}])
    );
    // Again: the song liked is counted as liked already, and a file with no songs is refused.
    let out = stdout_of(skipless(data.path()).args(["import", "likes"]).arg(&spotify));
    assert!(
        out.starts_with("liked 0 tracks, 1 song left as marked (so already, or the other way since); 1 of the songs is not in the library"),
        "{out}"
    );
    for empty in ["", "[]", "{\"feedback\": []}"] {
        let file = data.path().join("empty.json");
        std::fs::write(&file, empty).unwrap();
        let stderr = stderr_of_failure(skipless(data.path()).args(["import", "likes"]).arg(&file));
        assert!(stderr.contains("empty.json: no liked songs in it"), "{empty}: {stderr}");
    }

    // ListenBrainz feedback, one per line: score 1 is a like, with its own time (-1 would be a
    // ban; this one names a song the library lacks).
    let listenbrainz = data.path().join("feedback.jsonl");
    let line = |score: i32, title: &str| {
        serde_json::json!({"created": 1_700_000_000, "recording_mbid": "m", "score": score,
            "track_metadata": {"artist_name": artist(&victory), "track_name": title}})
        .to_string()
    };
    std::fs::write(&listenbrainz, format!("{}\n{}\n", line(1, "Victory"), line(-1, "Sad"))).unwrap();
    let out = stdout_of(
        skipless(data.path())
            .args(["import", "likes", "--json"])
            .arg(&listenbrainz),
    );
    let counts: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(counts["liked"], 1, "{counts}");

    let conn = rusqlite::Connection::open(data.path().join("skipless.db")).unwrap();
    // The corpus holds each of these songs twice (two formats); either file may be the match.
    let liked: Vec<(String, i64)> = conn
        .prepare("SELECT t.title, l.liked_at FROM likes l JOIN tracks t ON t.id = l.track_id ORDER BY t.title")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(liked.len(), 2, "{liked:?}");
    assert_eq!(liked[0].0, "Sad");
    assert_eq!(liked[1], ("Victory".to_owned(), 1_700_000_000_000), "{liked:?}");

    // A song banned here stays banned: Spotify's liked songs carry no time, so none of them is
    // the later word. The ban's time is now, well after the ListenBrainz like above.
    let sad_path = sad["path"].as_str().unwrap();
    stdout_of(skipless(data.path()).arg("ban").arg(sad_path));
    let out = stdout_of(skipless(data.path()).args(["import", "likes", "--json"]).arg(&spotify));
    let counts: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (counts["liked"].as_u64(), counts["kept_as_marked"].as_u64()),
        (Some(0), Some(1)),
        "{counts}"
    );
    let out = stdout_of(skipless(data.path()).args(["import", "likes"]).arg(&spotify));
    assert!(
        out.starts_with("liked 0 tracks; 1 song you marked the other way here left so"),
        "{out}"
    );
    let banned: i64 = conn
        .query_row(
            "SELECT count(*) FROM bans WHERE track_id = ?1",
            [sad["id"].as_i64()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(banned, 1);

    // Something else is refused in one line.
    let junk = data.path().join("junk.json");
    std::fs::write(&junk, "[1, 2, 3]").unwrap();
    let output = skipless(data.path())
        .args(["import", "likes"])
        .arg(&junk)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("junk.json"), "{stderr}");
}

/// A list shorter than asked says why, not a failure. The artist limit (one each by default)
/// spreads the picks over the artists first, then gives way: more of an artist is better than
/// a short list.
#[test]
fn a_short_list_of_recommendations_says_why() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let text = stdout_of(skipless(data.path()).args(["recommend", "-n", "50"]));
    let lines: Vec<&str> = text.lines().collect();
    let picks = lines.len() - 1;
    assert!(picks > 1, "{text}");
    assert_eq!(
        lines[picks],
        format!("only {picks} of 50: the others are other files of songs picked, or the track last played")
    );
    let tracks = crate::common::library(data.path());
    let artist_of = |id: i64| {
        tracks
            .iter()
            .find(|t| t["id"].as_i64() == Some(id))
            .map(|t| t["artist"].to_string())
            .unwrap()
    };
    let spread = recommended(data.path());
    let artists: std::collections::HashSet<String> = tracks.iter().map(|t| t["artist"].to_string()).collect();
    let first: std::collections::HashSet<String> = spread[..artists.len()].iter().map(|&id| artist_of(id)).collect();
    assert_eq!(
        first.len(),
        artists.len(),
        "one of each artist before a second of any: {spread:?}"
    );
    // Without the limit, every song of the library too, each by one of its files (the corpus
    // has three songs in two formats each).
    std::fs::write(data.path().join("config.toml"), "[recommend]\nmax_per_artist = 0\n").unwrap();
    assert_eq!(recommended(data.path()).len(), spread.len());
    let songs: std::collections::HashSet<(String, String)> = tracks
        .iter()
        .map(|t| (t["artist"].to_string(), t["title"].to_string()))
        .collect();
    assert_eq!(recommended(data.path()).len(), songs.len());
    assert_eq!(songs.len(), tracks.len() - 3);
}

/// `recommend` ranks as a player started now would: for the last session while it is within
/// the session gap, for a new one after it (what was played two days ago is no reason now).
#[test]
fn recommend_ranks_for_the_last_session_only_within_the_session_gap() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let tracks = crate::common::library_tracks(data.path());
    let victory = tracks.iter().find(|t| t.title == "Victory").unwrap();
    let reasons = || -> Vec<String> {
        let out: serde_json::Value =
            serde_json::from_str(&stdout_of(skipless(data.path()).args(["recommend", "--json"]))).unwrap();
        out["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reason"].as_str().unwrap().to_owned())
            .collect()
    };
    let from_victory = |reasons: &[String]| reasons.iter().any(|r| r.contains("Victory"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut log = crate::common::LogWriter::open(&data.path().join("skipless.db"));
    log.play(victory, skipless::play::PlaySource::User, now - 2 * 86_400_000, None);
    let old = reasons();
    assert!(!from_victory(&old), "a session of two days ago: {old:?}");
    log.play(victory, skipless::play::PlaySource::User, now - 60_000, None);
    let current = reasons();
    assert!(from_victory(&current), "the session going on: {current:?}");
}

/// A track that ranks only because nothing else was left (played lately) says so, rather than
/// a reason it would have had otherwise.
#[test]
fn a_pick_that_only_fills_in_says_why_it_is_there() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    std::fs::write(data.path().join("config.toml"), "[recommend]\nmax_per_artist = 0\n").unwrap();
    let tracks = crate::common::library_tracks(data.path());
    let track = |title: &str| tracks.iter().find(|t| t.title == title).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut log = crate::common::LogWriter::open(&data.path().join("skipless.db"));
    let sad = log.play(track("Sad"), skipless::play::PlaySource::User, now - 120_000, None);
    log.play(track("Victory"), skipless::play::PlaySource::User, sad + 1_000, None);
    let out: Value = serde_json::from_str(&stdout_of(skipless(data.path()).args([
        "recommend",
        "-n",
        "50",
        "--json",
    ])))
    .unwrap();
    let picks = out["recommendations"].as_array().unwrap();
    // Each pick names its file, which `remote queue` and `play` take.
    assert!(
        picks
            .iter()
            .all(|p| std::path::Path::new(p["path"].as_str().unwrap()).starts_with(corpus())),
        "{out}"
    );
    let (fillers, others): (Vec<&Value>, Vec<&Value>) = picks
        .iter()
        .partition(|p| p["reason"] == "played lately; nothing else is left to pick");
    assert!(!fillers.is_empty(), "{out}");
    assert!(
        fillers.iter().all(|p| p["title"].as_str().unwrap().starts_with("Sad")),
        "{out}"
    );
    assert!(others.iter().all(|p| p["title"] != "Sad"), "{out}");
    assert_eq!(
        picks.last().unwrap()["title"],
        fillers.last().unwrap()["title"],
        "they come last"
    );
}

/// The track a running player is playing is the session's last for `recommend`, as for the
/// player: it is never the first pick.
#[test]
fn recommend_leaves_out_the_track_a_running_player_plays() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    std::fs::write(data.path().join("config.toml"), "[recommend]\nmax_per_artist = 0\n").unwrap();
    let player = crate::common::Player::start(data.path(), 1.0, &[corpus().join("menu.opus")]);
    let started = player.wait("started");
    let playing = started["track_id"].as_i64().unwrap();
    assert!(recommended(data.path()).len() > 1);
    assert!(!recommended(data.path()).contains(&playing), "{playing}");
    player.quit();
}

/// A folder linked into a library root is indexed under the link's name; every command that
/// takes a path finds its files by that name, and none indexes them a second time.
#[test]
fn files_behind_a_link_inside_a_root_are_found_by_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (root, elsewhere) = (tmp.path().join("music"), tmp.path().join("elsewhere/Album"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    for name in ["sad.ogg", "victory.ogg"] {
        std::fs::copy(corpus().join(name), elsewhere.join(name)).unwrap();
    }
    std::fs::write(elsewhere.join("sad.lrc"), "[00:01.00]a line beside the file\n").unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("Album")).unwrap();
    scan_json(&data, &[&root]);
    let tracks_now = || crate::common::library(&data).len();
    assert_eq!(tracks_now(), 2);
    let linked = root.join("Album");

    let out = stdout_of(skipless(&data).arg("like").arg(linked.join("sad.ogg")));
    assert!(out.starts_with("liked: "), "{out}");
    let out = stdout_of(skipless(&data).arg("lyrics").arg(linked.join("sad.ogg")));
    assert!(out.contains("a line beside the file"), "{out}");

    let list = root.join("list.m3u");
    std::fs::write(&list, "Album/sad.ogg\nAlbum/../Album/victory.ogg\n").unwrap();
    let out = stdout_of(skipless(&data).args(["playlist", "import"]).arg(&list));
    assert!(out.contains("2 in the library"), "{out}");

    // A playlist linked from elsewhere reads its entries from its own folder.
    let lists = tmp.path().join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::write(lists.join("real.m3u"), "../music/Album/sad.ogg\n").unwrap();
    std::os::unix::fs::symlink(lists.join("real.m3u"), tmp.path().join("linked.m3u")).unwrap();
    let out = stdout_of(
        skipless(&data)
            .args(["playlist", "import"])
            .arg(tmp.path().join("linked.m3u")),
    );
    assert!(out.contains("1 entry, 1 in the library"), "{out}");
    // One linked to a playlist in the linked folder reads its entries from there, as named.
    std::fs::write(elsewhere.join("here.m3u"), "victory.ogg\n").unwrap();
    std::os::unix::fs::symlink(linked.join("here.m3u"), tmp.path().join("here.m3u")).unwrap();
    let out = stdout_of(
        skipless(&data)
            .args(["playlist", "import"])
            .arg(tmp.path().join("here.m3u")),
    );
    assert!(out.contains("1 entry, 1 in the library"), "{out}");

    // Played by the link's name, the file is the indexed track, not a new one; so is a queued one.
    let mut player = crate::common::Player::start(&data, 50.0, &[linked.join("sad.ogg")]);
    player.send(&format!("queue {}", linked.join("victory.ogg").display()));
    let first = player.wait("started");
    let second = player.wait("started");
    player.quit();
    assert_eq!(tracks_now(), 2, "{first} {second}");
    let liked = crate::common::library(&data)
        .into_iter()
        .find(|t| t["title"] == first["title"])
        .unwrap();
    assert_eq!(first["track_id"], liked["id"], "{first}");
    assert_eq!(second["path"].as_str(), linked.join("victory.ogg").to_str(), "{second}");
    // A `..` after the link goes where the link leads, as the system reads the path: there,
    // outside the root, no file of the library is, though the root has one of that name.
    std::fs::copy(corpus().join("victory.ogg"), tmp.path().join("elsewhere/sad.ogg")).unwrap();
    std::fs::copy(corpus().join("defeat.flac"), root.join("sad.ogg")).unwrap();
    scan_json(&data, &[&root]);
    let refused = skipless(&data)
        .arg("like")
        .arg(linked.join("../sad.ogg"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("not in the library"),
        "{stderr}"
    );
}

/// `skipless ban PATH` from a shell, of the track a player is playing, skips it there, as a ban
/// in the player does; a track banned before it started plays on (it was chosen on purpose).
#[test]
fn a_ban_from_the_shell_of_the_track_playing_skips_it() {
    let data = tempfile::tempdir().unwrap();
    scan_json(data.path(), &[&corpus()]);
    let (sad, victory) = (corpus().join("sad.ogg"), corpus().join("victory.ogg"));
    stdout_of(skipless(data.path()).arg("ban").arg(&victory));
    let mut player = crate::common::Player::start(data.path(), 1.0, &[victory.clone(), sad.clone()]);
    let first = player.wait("started");
    assert!(first["path"].as_str().unwrap().ends_with("victory.ogg"), "{first}");
    // Anything that makes the player read the library again leaves it playing.
    stdout_of(skipless(data.path()).arg("like").arg(&sad));
    std::thread::sleep(std::time::Duration::from_millis(500));
    player.send("status");
    let status = player.wait("status");
    assert!(
        status["track"]["path"].as_str().unwrap().ends_with("victory.ogg"),
        "{status}"
    );
    // Skipped to sad.ogg, which a ban from the shell now skips in turn.
    player.send("next");
    let second = player.wait("started");
    assert!(second["path"].as_str().unwrap().ends_with("sad.ogg"), "{second}");
    stdout_of(skipless(data.path()).arg("ban").arg(&sad));
    let ended = loop {
        let ended = player.wait("ended");
        if ended["track_id"] == second["track_id"] {
            break ended;
        }
    };
    assert_eq!(
        (ended["end_source"].as_str(), ended["skipped"].as_bool()),
        (Some("remote"), Some(true)),
        "{ended}"
    );
    player.finish();
}

/// A file the scan could not read can be liked (it keeps its marks, as it keeps its plays, for
/// when it reads again), and the like says it does not play until then.
#[test]
fn a_like_of_a_file_that_did_not_read_says_so() {
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::copy(corpus().join("sad.ogg"), music.join("sad.ogg")).unwrap();
    std::fs::write(music.join("noise.mp3"), vec![0x55u8; 20_000]).unwrap();
    scan_json_with_problems(data.path(), &[&music], 1);
    let out = stdout_of(skipless(data.path()).arg("like").arg(music.join("noise.mp3")));
    assert!(
        out.starts_with("liked (its file did not read at the last scan: it plays once a scan reads it): noise"),
        "{out}"
    );
    let out = stdout_of(skipless(data.path()).arg("like").arg(music.join("sad.ogg")));
    assert!(out.starts_with("liked: ") && !out.contains("did not read"), "{out}");
    let out = stdout_of(skipless(data.path()).arg("unlike").arg(music.join("noise.mp3")));
    assert!(!out.contains("did not read"), "{out}");
    let out = stdout_of(skipless(data.path()).arg("ban").arg(music.join("noise.mp3")));
    assert_eq!(out.trim(), "banned (never queued by autoplay): noise", "{out}");
}

/// Several tracks are marked at once, each said on its line; a path that is no indexed track
/// marks none and is named. A file deleted from the disk, and then from the library by a
/// scan, can still have its like and its ban taken back by the path it had.
#[test]
fn several_tracks_at_once_and_a_gone_file_unmarked() {
    let (data, music) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    crate::common::copy_corpus(music.path());
    scan_json(data.path(), &[music.path()]);
    let (sad, victory) = (music.path().join("sad.ogg"), music.path().join("victory.ogg"));
    let typo = music.path().join("sadd.ogg");

    let err = stderr_of_failure(skipless(data.path()).arg("like").arg(&sad).arg(&typo));
    assert!(err.contains("sadd.ogg: cannot open"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let rows = json_lines(&stdout_of(skipless(data.path()).args(["export", "--format", "jsonl"])));
    assert!(rows.iter().all(|r| r["liked_at"].is_null()), "nothing liked: {rows:?}");

    let out = stdout_of(skipless(data.path()).arg("like").arg(&sad).arg(&victory).arg(&sad));
    let said: Vec<&str> = out.lines().collect();
    assert_eq!(said.len(), 2, "one line a track, the same file once: {out}");
    assert!(said.iter().all(|l| l.starts_with("liked: ")), "{out}");
    stdout_of(skipless(data.path()).arg("ban").arg(music.path().join("defeat.flac")));

    std::fs::remove_file(&sad).unwrap();
    let out = stdout_of(skipless(data.path()).arg("unlike").arg(&sad));
    assert!(out.starts_with("unliked: "), "{out}");
    std::fs::remove_file(music.path().join("defeat.flac")).unwrap();
    scan_json(data.path(), &[music.path()]);
    let out = stdout_of(skipless(data.path()).arg("unban").arg(music.path().join("defeat.flac")));
    assert!(out.starts_with("unbanned: "), "{out}");
    let feedback = stdout_of(skipless(data.path()).args(["export", "--format", "feedback"]));
    let lines = json_lines(&feedback);
    assert_eq!(lines.len(), 1, "only Victory's like is left: {feedback}");
    assert_eq!(lines[0]["track_metadata"]["track_name"].as_str(), Some("Victory"));
    // A like is not given to a file that is not there.
    let err = stderr_of_failure(skipless(data.path()).arg("like").arg(&sad));
    assert!(err.contains("sad.ogg: cannot open"), "{err}");
}
