//! The real binary in a real terminal: tmux runs `skipless --audio null` on the corpus, keys
//! go in with `send-keys`, the screen comes back with `capture-pane`, the log with `history`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    fn start(data_dir: &Path, args: &str) -> Self {
        let name = data_dir.file_name().unwrap().to_string_lossy().replace(['.', ':'], "_");
        let session = format!("skipless-test-{}-{name}", std::process::id());
        let bin = assert_cmd::cargo::cargo_bin("skipless");
        let command = format!(
            "{} --data-dir {} --config {} {args}; sleep 30",
            bin.display(),
            data_dir.display(),
            data_dir.join("none.toml").display()
        );
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "100", "-y", "30"])
            .arg(command)
            .status()
            .expect("tmux is installed (apt-get install tmux)");
        assert!(status.success());
        Self { session }
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "`{text}` never appeared on screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

#[test]
fn navigate_play_skip_listen_quit() {
    let data = tempfile::tempdir().unwrap();
    let corpus = common::corpus();
    let tmux = Tmux::start(data.path(), &format!("--audio null {}", corpus.display()));
    tmux.wait_for("scanned 12: 12 added");
    // The flat track list, first entry ("menu", 3:00), played with Enter.
    tmux.keys(&["2"]);
    tmux.wait_for("Tracks (12)");
    tmux.keys(&["Enter"]);
    tmux.wait_for("▶ menu");
    std::thread::sleep(Duration::from_secs(3));
    tmux.keys(&["n"]);
    // "silence" (10 s) plays to its end, then "Track 3" starts.
    tmux.wait_for("▶ silence");
    let screen = tmux.wait_for("▶ Track 3 — Martin Severn");
    assert!(screen.contains("Up next (9)"), "{screen}");
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tmux.screen().contains('$') && !tmux.screen().trim().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }

    let history = common::json_lines(&common::stdout_of(
        common::skipless(data.path()).args(["history", "--json"]),
    ));
    let rows: Vec<(&str, &str, bool, u64)> = history
        .iter()
        .rev()
        .map(|r| {
            (
                r["title"].as_str().unwrap(),
                r["end_reason"].as_str().unwrap_or("open"),
                r["skipped"].as_bool().unwrap(),
                r["played_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!((rows[0].0, rows[0].1, rows[0].2), ("menu", "skipped", true), "{rows:?}");
    assert!((2_500..4_500).contains(&rows[0].3), "menu played about 3 s: {rows:?}");
    assert_eq!(
        (rows[1].0, rows[1].1, rows[1].2),
        ("silence", "finished", false),
        "{rows:?}"
    );
    assert!((9_500..10_500).contains(&rows[1].3), "{rows:?}");
    assert_eq!(
        (rows[2].0, rows[2].1, rows[2].2),
        ("Track 3", "quit", false),
        "{rows:?}"
    );
}
