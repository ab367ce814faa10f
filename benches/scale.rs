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

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{fill_library, ms, open_app, Opened};
use crossterm::event::{KeyCode, KeyEvent};
use serde::Serialize;
use skipless::config::Config;
use skipless::db::Database;
use skipless::library::scan::{scan, Reread};

/// Plays logged for the trained-model figures: enough for a real model, few enough to train
/// in about a minute.
const PLAYS: usize = 10_000;

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
    autoplay_ready_ms: f64,
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
    let first = scan(&mut db, &roots, Reread::Changed, &|_| {}).expect("first scan");
    figures.scan_files_per_s = n as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let again = scan(&mut db, &roots, Reread::Changed, &|_| {}).expect("rescan");
    figures.unchanged_rescan_s = start.elapsed().as_secs_f64();
    assert_eq!(first.summary.added, n);
    assert_eq!(again.summary.unchanged, n);
}

fn library_figures(n: usize, figures: &mut Figures) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("skipless.db");
    fill_library(&db_path, n, PLAYS);

    let Opened {
        engine,
        mut app,
        mut terminal,
        first_frame,
        browsable,
    } = open_app(&db_path);
    figures.first_frame_ms = ms(first_frame);
    figures.browsable_ms = ms(browsable);
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
    // Ready means the log read, the model loaded and replayed, and every candidate placed,
    // on the recommender's thread; the picks that follow compare identities only.
    let db = Database::open(&db_path).expect("database");
    let t = Instant::now();
    let core = skipless::app::autoplay::AutoplayCore::new(db, dir.path().join("models"), Config::default().recommend)
        .expect("autoplay core");
    figures.autoplay_ready_ms = ms(t.elapsed());
    let mut times = Vec::new();
    for i in 0..30i64 {
        let session = [(i % 50 + 1, false), (i % 50 + 2, i % 3 == 0), (i % 50 + 3, false)];
        let t = Instant::now();
        let (ranker, picks) = core.rank(
            &session,
            &skipless::app::autoplay::NotToPick::default(),
            3,
            skipless::clock::now_ms(),
            None,
        );
        times.push(t.elapsed());
        assert_eq!(picks.len(), 3, "{ranker:?}");
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
    row("autoplay ready after a load (ms)", "", &|f| {
        format!("{:.0}", f.autoplay_ready_ms)
    });
    row("score all candidates p50 (ms)", "", &|f| {
        format!("{:.2}", f.score_all_candidates_p50_ms)
    });
    row("score all candidates p99 (ms)", "< 5 / < 40", &|f| {
        format!("{:.2}", f.score_all_candidates_p99_ms)
    });
    row("database (MB)", "", &|f| format!("{:.1}", f.database_mb));
}
