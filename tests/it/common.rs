//! Helpers shared by the integration tests: the real binary, the fixtures in
//! `tests/fixtures`, the tools a test drives, temp dirs.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

/// The 12-track corpus in `tests/fixtures/corpus`.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

/// Slices of the real listening histories in `tests/fixtures/histories`.
pub fn histories() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/histories")
}

/// Whether the tests run in CI, where nothing may be skipped.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Skips the calling test with one line saying what it lacks, or fails it in CI, where every
/// test must run.
pub fn skip_or_fail(what: &str) {
    if in_ci() {
        panic!("CI must run this test, but {what}");
    }
    eprintln!("skipped: {what}");
}

/// Whether `program` can be run; if not, the test skips (or fails in CI) naming the package.
pub fn has_tool(program: &str, package: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file()))
    });
    if !found {
        skip_or_fail(&format!("`{program}` is not installed (Debian package `{package}`)"));
    }
    found
}

/// Whether the test runs as root (for mounts and dropping privileges); if not, it skips (or
/// fails in CI).
pub fn is_root(why: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        skip_or_fail(&format!("{why} needs root"));
    }
    root
}

/// Starts a detached tmux session `session` of `width`×`height` running `command`. The tmux
/// server all tests share may be ending just then (its last session killed by another test): a
/// new-session that finds it going away is tried again.
pub fn tmux_session(session: &str, width: u16, height: u16, command: &str) {
    let started = (0..5).any(|attempt| {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        std::process::Command::new("tmux")
            .args(["new-session", "-d", "-s", session])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(command)
            .status()
            .expect("tmux is installed (apt-get install tmux)")
            .success()
    });
    assert!(started, "tmux new-session {session} failed five times");
}

/// The real `skipless` binary with its own data dir and no user config.
pub fn skipless(data_dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("skipless").expect("the skipless binary is built");
    cmd.arg("--data-dir").arg(data_dir);
    cmd.arg("--config").arg(config_file(data_dir));
    cmd.env_remove("SKIPLESS_DATA_DIR");
    cmd.env("XDG_RUNTIME_DIR", runtime_dir(data_dir));
    cmd
}

/// The config file of a test's data dir: empty (the defaults) unless the test wrote one. It
/// exists, as a file named with `--config` must.
pub fn config_file(data_dir: &Path) -> PathBuf {
    let file = data_dir.join("config.toml");
    if !file.exists() {
        std::fs::create_dir_all(data_dir).expect("the test's data dir can be made");
        std::fs::write(&file, "").expect("the test's config file can be made");
    }
    file
}

/// The runtime dir (where a player's socket is) of the players and commands of one data dir.
pub fn runtime_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("run")
}

/// Copies the corpus into `dir` (so tests may change files).
pub fn copy_corpus(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let entry = entry.unwrap();
        let to = dir.join(entry.file_name());
        std::fs::copy(entry.path(), &to).unwrap();
        let mut perms = std::fs::metadata(&to).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&to, perms).unwrap();
    }
}

/// Runs a command expected to succeed and returns its stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `cmd`, which must fail, and returns its stderr.
pub fn stderr_of_failure(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    assert!(
        !output.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Parses JSON lines.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `skipless scan --json PATHS` parsed, of paths whose every file it reads.
pub fn scan_json(data_dir: &Path, paths: &[&Path]) -> serde_json::Value {
    scan_json_with_problems(data_dir, paths, 0)
}

/// `skipless scan --json PATHS` parsed, of paths where it meets `problems` (files it cannot
/// read, folders it cannot walk): it says its counts all the same, and exits 1 when there are any.
pub fn scan_json_with_problems(data_dir: &Path, paths: &[&Path], problems: u64) -> serde_json::Value {
    let output = skipless(data_dir)
        .arg("scan")
        .arg("--json")
        .args(paths)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    if problems == 0 {
        assert!(output.status.success(), "{stderr}");
    } else {
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let plural = if problems == 1 { "" } else { "s" };
        let said = format!("skipless: error: not all was scanned: {problems} problem{plural}, each said above");
        assert_eq!(stderr.lines().last(), Some(said.as_str()), "{stderr}");
    }
    summary
}

/// `len` bytes of binary noise: a fixed pseudo-random sequence, so that a failure reproduces.
pub fn noise_bytes(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `skipless library --json` parsed.
pub fn library(data_dir: &Path) -> Vec<serde_json::Value> {
    json_lines(&stdout_of(skipless(data_dir).args(["library", "--json"])))
}

/// The library's tracks as the player logs them (id, path, title, length).
pub fn library_tracks(data_dir: &Path) -> Vec<skipless::track::Track> {
    library(data_dir)
        .iter()
        .map(|t| skipless::track::Track {
            id: t["id"].as_i64().unwrap(),
            path: PathBuf::from(t["path"].as_str().unwrap()),
            title: t["title"].as_str().unwrap().to_owned(),
            duration_ms: t["duration_ms"].as_u64(),
            ..skipless::track::Track::default()
        })
        .collect()
}

/// A running `skipless play --json`, its stdout read line by line.
pub struct Player {
    pub child: Child,
    stdin: ChildStdin,
    pub lines: std::sync::mpsc::Receiver<Value>,
}

impl Player {
    pub fn start(data_dir: &Path, speed: f64, paths: &[PathBuf]) -> Self {
        Self::start_with(data_dir, speed, paths, &[])
    }

    pub fn start_with(data_dir: &Path, speed: f64, paths: &[PathBuf], options: &[&str]) -> Self {
        Self::spawn(Self::command(data_dir, speed, paths, options))
    }

    /// The command [`Player::start_with`] runs, for a test to change (its environment) first.
    pub fn command(data_dir: &Path, speed: f64, paths: &[PathBuf], options: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--config")
            .arg(config_file(data_dir))
            .args(["--audio", "null", "play", "--json"])
            .args(options)
            .args(paths)
            .env("SKIPLESS_NULL_SPEED", speed.to_string())
            .env("XDG_RUNTIME_DIR", runtime_dir(data_dir))
            .env_remove("SKIPLESS_DATA_DIR");
        command
    }

    /// Starts `command` with its stdout read line by line as JSON events.
    pub fn spawn(mut command: std::process::Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        Self { child, stdin, lines }
    }

    /// Waits for the next event named `name` and returns it.
    pub fn wait(&self, name: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{name}` event"));
            if event["event"] == name {
                return event;
            }
        }
    }

    pub fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends `quit`, waits for the player to end well, and returns its stderr.
    pub fn quit(mut self) -> String {
        let _ = writeln!(self.stdin, "quit");
        self.finish()
    }

    /// Waits for the player to end with status 0, and returns its stderr.
    pub fn finish(self) -> String {
        self.finish_with(0)
    }

    /// Waits for the player to end with exit status `code`, and returns its stderr.
    pub fn finish_with(self, code: i32) -> String {
        let output = self.child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        stderr
    }
}

/// Writes plays into a database's log through the real `Recorder`, at times the test chooses.
pub struct LogWriter {
    recorder: skipless::log::Recorder,
    now: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// A clock the test sets: the log's times are the test's.
struct SetClock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl skipless::log::Clock for SetClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl LogWriter {
    pub fn open(database: &Path) -> Self {
        let now = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let db = skipless::db::Database::open(database).unwrap();
        let config = skipless::config::Config::default();
        let recorder = skipless::log::Recorder::new(db, &config.log, Box::new(SetClock(now.clone())));
        Self { recorder, now }
    }

    /// Logs a play of `track` chosen by `source` that starts at `start_ms`: skipped with the
    /// keys after `skipped_after_ms`, or played to its end. Returns when it ended.
    pub fn play(
        &mut self,
        track: &skipless::track::Track,
        source: skipless::play::PlaySource,
        start_ms: i64,
        skipped_after_ms: Option<u64>,
    ) -> i64 {
        use skipless::play::{ControlSource, EndReason};
        use skipless::player::{Event, PlayItem};
        use std::sync::atomic::Ordering;
        self.now.store(start_ms, Ordering::SeqCst);
        let item = PlayItem {
            track_id: track.id,
            path: track.path.clone(),
            duration_ms: track.duration_ms,
            gain_db: 0.0,
            source,
        };
        self.recorder
            .record(&Event::Started {
                item: item.clone(),
                duration_ms: track.duration_ms,
            })
            .into_result()
            .unwrap();
        let played = skipped_after_ms.unwrap_or(track.duration_ms.unwrap_or(10_000));
        let end = start_ms + played as i64;
        self.now.store(end, Ordering::SeqCst);
        self.recorder
            .record(&Event::Ended {
                item,
                cause: if skipped_after_ms.is_some() {
                    EndReason::Skipped
                } else {
                    EndReason::Finished
                },
                position_ms: played,
                played_ms: played,
                error: None,
                by: skipped_after_ms.map(|_| ControlSource::Key),
            })
            .into_result()
            .unwrap();
        end
    }
}

/// Tracks as the player holds them: each shared, so the recommender and the screen hold one copy.
pub fn shared(tracks: &[skipless::track::Track]) -> Vec<std::sync::Arc<skipless::track::Track>> {
    tracks.iter().cloned().map(std::sync::Arc::new).collect()
}
