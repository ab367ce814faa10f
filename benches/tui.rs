//! TUI speed with a 100,000-track library: time to the first frame and to a loaded library,
//! render time of the library and track views (p50/p99), and the CPU an idle-but-playing
//! player uses in a real terminal (tmux, null output, real time).
//!
//! `cargo bench --bench tui` (SKIPLESS_BENCH_TRACKS changes the library size).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{fill_library, ms, open_app, Opened};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use skipless::config::{AudioOutput, Config};
use skipless::db::Database;
use skipless::tui::App;

fn main() {
    let n: usize = std::env::var("SKIPLESS_BENCH_TRACKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("skipless.db");
    fill_library(&db_path, n, 0);
    let Opened {
        engine,
        mut app,
        mut terminal,
        first_frame,
        browsable,
    } = open_app(&db_path);
    assert_eq!(app.state.library.tracks.len(), n);

    let mut report = |name: &str, keys: &str, app: &mut App| {
        for c in keys.chars() {
            app.handle_key(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c)));
        }
        let mut times = Vec::new();
        for i in 0..300 {
            let key = if i % 2 == 0 { 'j' } else { 'G' };
            app.handle_key(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(key)));
            let t = Instant::now();
            terminal.draw(|f| skipless::tui::draw(f, app)).expect("draw");
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "  render {name:<14} p50 {:>7.3} ms   p99 {:>7.3} ms   (target p99 < 10 ms)",
            ms(times[times.len() / 2]),
            ms(times[times.len() * 99 / 100])
        );
    };
    println!("tui bench: {n} tracks");
    println!("  first frame        {:>8.1} ms   (target < 200 ms)", ms(first_frame));
    println!("  library loaded     {:>8.1} ms", ms(browsable));
    report("library view", "1\t\t", &mut app);
    report("tracks view", "2", &mut app);
    drop(engine);
    art_frames();
    rerank_time(&db_path);
    idle_cpu(&db_path);
}

/// Render time with the corpus's embedded cover shown in half blocks, and how long the art
/// worker takes to have it ready (find, decode, shrink, draw as cells).
fn art_frames() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("skipless.db");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut db = Database::open(&db_path).expect("database");
    skipless::library::scan::scan(&mut db, &[corpus], skipless::library::scan::Reread::Changed, &|_| {}).expect("scan");
    let mut config = Config::default();
    config.playback.audio = AudioOutput::Null;
    let (engine, controller, _) = skipless::app::start_playback(&config, &db_path).expect("engine");
    let mut app = App::new(config, db_path, controller).expect("app");
    app.art_picker = Some(ratatui_image::picker::Picker::halfblocks());
    app.state
        .set_library(skipless::app::library::LibraryIndex::load(&db).expect("library"));
    for c in "2jj\n".chars() {
        let code = match c {
            '\n' => crossterm::event::KeyCode::Enter,
            c => crossterm::event::KeyCode::Char(c),
        };
        app.handle_key(crossterm::event::KeyEvent::from(code));
    }
    while app.controller.now.is_none() {
        let event = engine
            .events
            .recv_timeout(Duration::from_secs(10))
            .expect("playback starts");
        app.handle_engine(&event);
    }
    let area = ratatui::layout::Rect::new(0, 0, 120, 40);
    let asked = Instant::now();
    app.want_art(area);
    while app.state.art.is_none() {
        let msg = app
            .worker_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the art worker answers");
        app.handle_worker(msg);
    }
    let ready = asked.elapsed();
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let mut times = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        terminal.draw(|f| skipless::tui::draw(f, &app)).expect("draw");
        times.push(t.elapsed());
    }
    times.sort();
    println!("  art ready (worker) {:>8.1} ms", ms(ready));
    println!(
        "  render {:<14} p50 {:>7.3} ms   p99 {:>7.3} ms   (target p99 < 10 ms)",
        "with art",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 99 / 100])
    );
}

/// CPU of the real binary playing a long track through the null output in tmux for 10 s.
fn idle_cpu(db_path: &Path) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus/menu.opus");
    let data = db_path.parent().expect("data dir");
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/skipless");
    if !bin.exists() {
        println!("  idle CPU: build target/release/skipless first (cargo build --release)");
        return;
    }
    let session = format!("skipless-bench-{}", std::process::id());
    let command = format!(
        "{} --data-dir {} --audio null {}",
        bin.display(),
        data.display(),
        corpus.display()
    );
    let ok = std::process::Command::new("tmux")
        .args(["new-session", "-d", "-s", &session, "-x", "120", "-y", "40", &command])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("  idle CPU: tmux is needed");
        return;
    }
    std::thread::sleep(Duration::from_secs(3));
    let _ = std::process::Command::new("tmux")
        .args(["send-keys", "-t", &session, "/", "menu", "Enter"])
        .status();
    std::thread::sleep(Duration::from_secs(2));
    let pid = std::process::Command::new("pgrep")
        .args(["-n", "-f", &command])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok());
    if let Some(pid) = pid {
        let ticks = |pid: u32| -> Option<u64> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        };
        let before = ticks(pid);
        std::thread::sleep(Duration::from_secs(10));
        let after = ticks(pid);
        if let (Some(b), Some(a)) = (before, after) {
            // Clock ticks are 1/100 s on Linux.
            println!(
                "  CPU while playing  {:>8.2} % of one core over 10 s   (target < 2%)",
                (a - b) as f64 / 10.0
            );
        }
    }
    let _ = std::process::Command::new("tmux")
        .args(["kill-session", "-t", &session])
        .status();
}

/// Time the autoplay core takes to re-rank after a skip (no model: the cold-start path).
fn rerank_time(db_path: &Path) {
    let db = Database::open(db_path).expect("database");
    let models = db_path.with_file_name("models");
    let core = skipless::app::autoplay::AutoplayCore::new(db, models, Config::default().recommend).expect("core");
    let mut times = Vec::new();
    for i in 0..50i64 {
        let session = [(i + 1, true), (i + 2, false)];
        let t = Instant::now();
        let (_, picks) = core.rank(
            &session,
            &skipless::app::autoplay::NotToPick::default(),
            3,
            skipless::clock::now_ms(),
            None,
        );
        times.push(t.elapsed());
        assert_eq!(picks.len(), 3);
    }
    times.sort();
    println!(
        "  re-rank after skip p50 {:>7.1} ms   p99 {:>7.1} ms   (fallback ranking; target < 100 ms)",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 99 / 100])
    );
}
