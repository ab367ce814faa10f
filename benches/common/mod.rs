//! What the benches share: a library of generated tracks with a log of plays over part of it
//! ([`fill_library`]), and the player UI opened on it, timed to its first frame and to a
//! browsable library ([`open_app`]).

use std::path::Path;
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use rusqlite::params;
use skipless::config::{AudioOutput, Config};
use skipless::db::Database;
use skipless::player::Engine;
use skipless::tui::App;

/// How many of the first tracks the generated log plays.
pub const PLAYED_TRACKS: usize = 3_000;

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The library of `n` generated tracks (100 an artist, 10 an album, distinct titles), and a
/// log of `plays` plays in sessions of ten over the first [`PLAYED_TRACKS`].
pub fn fill_library(db_path: &Path, n: usize, plays: usize) {
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
        let start = skipless::clock::now_ms() - plays as i64 * 400_000;
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for s in 0..plays / 10 {
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

/// The player UI on `db_path` (null output), drawn once, then with its library loaded.
pub struct Opened {
    pub engine: Engine,
    pub app: App,
    pub terminal: Terminal<TestBackend>,
    pub first_frame: Duration,
    pub browsable: Duration,
}

pub fn open_app(db_path: &Path) -> Opened {
    let mut config = Config::default();
    config.playback.audio = AudioOutput::Null;
    let start = Instant::now();
    let (engine, controller, _) = skipless::app::start_playback(&config, db_path).expect("engine");
    let mut app = App::new(config, db_path.to_path_buf(), controller).expect("app");
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    terminal.draw(|f| skipless::tui::draw(f, &app)).expect("draw");
    let first_frame = start.elapsed();
    app.load_library();
    let msg = app
        .worker_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("library loads");
    app.handle_worker(msg);
    terminal.draw(|f| skipless::tui::draw(f, &app)).expect("draw");
    Opened {
        engine,
        app,
        terminal,
        first_frame,
        browsable: start.elapsed(),
    }
}
