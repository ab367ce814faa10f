//! The library at scale: 10,000, 100,000 and 1,000,000 tracks. Per size it prints the scan
//! rate (first scan, warm page cache) and an unchanged rescan (files: hard links of the corpus);
//! then, on a library of generated rows with distinct artists, albums and titles: the time to
//! the first frame and until the library is browsable, search time per keystroke, the time to
//! score every candidate for one autoplay pick with a trained model, the player's resident
//! memory after load (the real binary in tmux) without and with that model, and the database's
//! size.
//!
//! `cargo bench --bench scale` prints a table; `cargo bench --bench scale -- --json` one JSON
//! object per size. `SKIPLESS_SCALE_SIZES=10000,100000` picks the sizes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use rusqlite::params;
use serde::Serialize;
use skipless::config::{AudioOutput, Config};
use skipless::db::Database;
use skipless::library::scan::scan;
use skipless::tui::App;

/// Plays logged for the trained-model figures: enough for a real model, few enough to train
/// in about a minute.
const PLAYS: usize = 10_000;
const PLAYED_TRACKS: usize = 3_000;

#[derive(Debug, Default, Serialize)]
struct Figures {
    tracks: usize,
    scan_files_per_s: f64,
    unchanged_rescan_s: f64,
    first_frame_ms: f64,
    browsable_ms: f64,
    search_keystroke_p50_ms: f64,
    search_keystroke_p99_ms: f64,
    rss_after_load_mb: f64,
    rss_with_model_mb: f64,
    score_all_candidates_p50_ms: f64,
    score_all_candidates_p99_ms: f64,
    database_mb: f64,
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let sizes: Vec<usize> = std::env::var("SKIPLESS_SCALE_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    let mut all = Vec::new();
    for &n in &sizes {
        let mut figures = Figures {
            tracks: n,
            ..Figures::default()
        };
        scan_figures(n, &mut figures);
        library_figures(n, &mut figures);
        if json {
            println!("{}", serde_json::to_string(&figures).expect("figures as JSON"));
        } else {
            eprintln!("{}", serde_json::to_string(&figures).expect("figures as JSON"));
        }
        all.push(figures);
    }
    if !json {
        print_table(&all);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(times: &mut [Duration], p: usize) -> f64 {
    times.sort();
    ms(times[(times.len() * p / 100).min(times.len() - 1)])
}

/// A first scan of `n` hard links to the corpus (page cache warm) and an unchanged rescan.
fn scan_figures(n: usize, figures: &mut Figures) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("the corpus is at tests/fixtures/corpus")
        .map(|e| e.expect("readable corpus").path())
        .collect();
    sources.sort();
    let dir = tempfile::tempdir().expect("a temp dir");
    let music = dir.path().join("music");
    // A file takes at most 65,000 links (ext4): each 60,000 rounds of the corpus link to a
    // fresh copy of it.
    const LINKS_PER_COPY: usize = 60_000;
    let mut copies: Vec<PathBuf> = Vec::new();
    for i in 0..n {
        let round = i / sources.len() / LINKS_PER_COPY;
        let source = if round == 0 {
            sources[i % sources.len()].clone()
        } else {
            let copy = dir.path().join(format!("copies/{round}/{}", i % sources.len()));
            if !copies.contains(&copy) {
                std::fs::create_dir_all(copy.parent().expect("copy folder")).expect("copy folder");
                std::fs::copy(&sources[i % sources.len()], &copy).expect("copy a corpus file");
                copies.push(copy.clone());
            }
            copy
        };
        // 100 files a folder, 100 folders a parent: a collector's tree.
        let folder = music.join(format!("{:04}/{:06}", i / 10_000, i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&folder).expect("create folder");
        }
        let ext = sources[i % sources.len()]
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("ogg");
        std::fs::hard_link(&source, folder.join(format!("track{i:07}.{ext}"))).expect("hard link");
    }
    for source in &sources {
        let _ = std::fs::read(source);
    }
    let mut db = Database::open(&dir.path().join("skipless.db")).expect("open database");
    let roots = vec![music];
    let start = Instant::now();
    let first = scan(&mut db, &roots, &|_| {}).expect("first scan");
    figures.scan_files_per_s = n as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let again = scan(&mut db, &roots, &|_| {}).expect("rescan");
    figures.unchanged_rescan_s = start.elapsed().as_secs_f64();
    assert_eq!(first.summary.added, n);
    assert_eq!(again.summary.unchanged, n);
}

/// The library of `n` generated tracks (100 an artist, 10 an album), and a log of [`PLAYS`]
/// plays in sessions of ten over the first [`PLAYED_TRACKS`].
fn fill_library(db_path: &Path, n: usize) {
    let mut db = Database::open(db_path).expect("database");
    let tx = db.conn_mut().transaction().expect("transaction");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO tracks (path, path_text, size, mtime_ns, status, title, artist, album, track_no,
                     year, genre, duration_ms, added_at, updated_at)
                 VALUES (?1, ?2, 1, 1, 'ok', ?3, ?4, ?5, ?6, ?7, ?8, 200000, 0, 0)",
            )
            .expect("prepare");
        const WORDS: [&str; 12] = [
            "blue", "night", "river", "echo", "glass", "summer", "paper", "gold", "static", "north", "velvet", "ghost",
        ];
        for i in 0..n {
            let artist = format!("Artist {:06} {}", i / 100, WORDS[i / 100 % 12]);
            let album = format!("{} {} {:02}", WORDS[i / 10 % 12], WORDS[i / 7 % 12], i / 10 % 10);
            let title = format!("{} {} {i}", WORDS[i % 12], WORDS[(i / 12) % 12]);
            let path = format!("/music/{artist}/{album}/{:02} {title}.flac", i % 10 + 1);
            insert
                .execute(params![
                    path.as_bytes(),
                    path,
                    title,
                    artist,
                    album,
                    (i % 10 + 1) as i64,
                    1990 + (i % 30) as i64,
                    ["Rock", "Jazz", "Folk", "Electronic"][i % 4]
                ])
                .expect("insert track");
        }
        let mut session = tx
            .prepare("INSERT INTO sessions (started_at, last_at) VALUES (?1, ?2)")
            .expect("prepare");
        let mut play = tx
            .prepare(
                "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, duration_ms,
                     end_reason, skipped, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 200000, ?7, ?8, 'user')",
            )
            .expect("prepare");
        let played = PLAYED_TRACKS.min(n);
        let start = skipless::clock::now_ms() - PLAYS as i64 * 400_000;
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for s in 0..PLAYS / 10 {
            let at = start + s as i64 * 4_000_000;
            session.execute(params![at, at + 2_000_000]).expect("session");
            let session_id = tx.last_insert_rowid();
            // Each session stays near one part of the played tracks, as listening does.
            let base = (s * 37) % played;
            for k in 0..10 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let track = (base + (state % 40) as usize) % played + 1;
                let skipped = state.is_multiple_of(5);
                let begin = at + k as i64 * 200_000;
                let length = if skipped { 8_000 } else { 200_000 };
                play.execute(params![
                    track as i64,
                    session_id,
                    k as i64,
                    begin,
                    begin + length,
                    length,
                    if skipped { "skipped" } else { "finished" },
                    skipped
                ])
                .expect("play");
            }
        }
    }
    tx.commit().expect("commit");
}

fn library_figures(n: usize, figures: &mut Figures) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("skipless.db");
    fill_library(&db_path, n);

    let mut config = Config::default();
    config.playback.audio = AudioOutput::Null;
    let start = Instant::now();
    let (engine, controller, _) = skipless::app::start_playback(&config, &db_path).expect("engine");
    let mut app = App::new(config.clone(), db_path.clone(), controller).expect("app");
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    terminal.draw(|f| skipless::tui::draw(f, &app)).expect("draw");
    figures.first_frame_ms = ms(start.elapsed());
    app.load_library();
    let msg = app
        .worker_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("library loads");
    app.handle_worker(msg);
    terminal.draw(|f| skipless::tui::draw(f, &app)).expect("draw");
    figures.browsable_ms = ms(start.elapsed());
    assert_eq!(app.state.library.tracks.len(), n);

    // A query typed a key at a time in the tracks view, each key drawn.
    app.handle_key(KeyEvent::from(KeyCode::Char('2')));
    app.handle_key(KeyEvent::from(KeyCode::Char('/')));
    let mut times = Vec::new();
    for c in "velvet ghost 4"
        .chars()
        .chain(std::iter::repeat_n('\u{8}', 6))
        .chain("echo".chars())
    {
        let key = if c == '\u{8}' {
            KeyEvent::from(KeyCode::Backspace)
        } else {
            KeyEvent::from(KeyCode::Char(c))
        };
        let t = Instant::now();
        app.handle_key(key);
        terminal.draw(|f| skipless::tui::draw(f, &app)).expect("draw");
        times.push(t.elapsed());
    }
    figures.search_keystroke_p50_ms = percentile(&mut times, 50);
    figures.search_keystroke_p99_ms = percentile(&mut times, 99);
    drop(app);
    drop(engine);

    figures.database_mb = std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    figures.rss_after_load_mb = player_rss(dir.path(), n);
    let trained = std::process::Command::new(env!("CARGO_BIN_EXE_skipless"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["train", "--json", "--force"])
        .output()
        .expect("train runs");
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    figures.rss_with_model_mb = player_rss(dir.path(), n);

    // Scoring every candidate for one pick, with the model, as autoplay does it.
    let db = Database::open(&db_path).expect("database");
    let core = skipless::app::autoplay::AutoplayCore::new(db, dir.path().join("models"), config.recommend)
        .expect("autoplay core");
    let mut times = Vec::new();
    for i in 0..30i64 {
        let session = [(i % 50 + 1, false), (i % 50 + 2, i % 3 == 0), (i % 50 + 3, false)];
        let t = Instant::now();
        let (ranker, picks) = core.rank(&session, &[], 3, skipless::clock::now_ms(), None);
        times.push(t.elapsed());
        assert_eq!(picks.len(), 3, "{ranker}");
    }
    figures.score_all_candidates_p50_ms = percentile(&mut times, 50);
    figures.score_all_candidates_p99_ms = percentile(&mut times, 99);
}

/// The resident memory of the real player (the UI in tmux, null output) once its library
/// view shows the first artist, with the data dir's model if it has one.
fn player_rss(data: &Path, n: usize) -> f64 {
    let session = format!("skipless-scale-{}-{n}", std::process::id());
    let command = format!(
        "{} --data-dir {} --audio null",
        env!("CARGO_BIN_EXE_skipless"),
        data.display()
    );
    let started = std::process::Command::new("tmux")
        .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "40", &command])
        .status()
        .is_ok_and(|s| s.success());
    assert!(started, "tmux is needed for the memory figures (apt-get install tmux)");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let pane = std::process::Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &session])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if pane.contains("Artist 000000") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the player never showed its library:\n{pane}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The recommender loads its model and candidates beside the UI: let it settle.
    std::thread::sleep(Duration::from_secs(3));
    let pid = std::process::Command::new("tmux")
        .args(["list-panes", "-t", &session, "-F", "#{pane_pid}"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok())
        .expect("the player's pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the player's status");
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    // Output, not status: once the player has quit, tmux says its server is gone.
    let _ = std::process::Command::new("tmux")
        .args(["send-keys", "-t", &session, "q"])
        .output();
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::process::Command::new("tmux")
        .args(["kill-session", "-t", &session])
        .output();
    rss_kb / 1000.0
}

fn print_table(all: &[Figures]) {
    let row = |name: &str, target: &str, value: &dyn Fn(&Figures) -> String| {
        let mut line = format!("  {name:<34}");
        for f in all {
            line.push_str(&format!("{:>14}", value(f)));
        }
        println!("{line}   {target}");
    };
    let mut head = format!(
        "scale bench, {} threads\n  {:<34}",
        rayon::current_num_threads(),
        "tracks"
    );
    for f in all {
        head.push_str(&format!("{:>14}", f.tracks));
    }
    println!("{head}   target (100k / 1M)");
    row("scan, first (files/s)", "", &|f| format!("{:.0}", f.scan_files_per_s));
    row("unchanged rescan (s)", "< 1 / < 10", &|f| {
        format!("{:.2}", f.unchanged_rescan_s)
    });
    row("first frame (ms)", "< 100 / < 200", &|f| {
        format!("{:.1}", f.first_frame_ms)
    });
    row("library browsable (ms)", "< 500 / < 3000", &|f| {
        format!("{:.0}", f.browsable_ms)
    });
    row("search keystroke p50 (ms)", "", &|f| {
        format!("{:.2}", f.search_keystroke_p50_ms)
    });
    row("search keystroke p99 (ms)", "< 16 / < 50", &|f| {
        format!("{:.2}", f.search_keystroke_p99_ms)
    });
    row("player RSS after load (MB)", "<= 60 / <= 400", &|f| {
        format!("{:.1}", f.rss_after_load_mb)
    });
    row("player RSS with a model (MB)", "", &|f| {
        format!("{:.1}", f.rss_with_model_mb)
    });
    row("score all candidates p50 (ms)", "", &|f| {
        format!("{:.2}", f.score_all_candidates_p50_ms)
    });
    row("score all candidates p99 (ms)", "< 5 / < 40", &|f| {
        format!("{:.2}", f.score_all_candidates_p99_ms)
    });
    row("database (MB)", "", &|f| format!("{:.1}", f.database_mb));
}
