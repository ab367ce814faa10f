//! The real binary in a real terminal: tmux runs `skipless --audio null` on the corpus, keys
//! go in with `send-keys`, the screen comes back with `capture-pane`, the log with `history`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    fn start(data_dir: &Path, args: &str) -> Self {
        Self::start_with(data_dir, args, "")
    }

    fn start_with(data_dir: &Path, args: &str, env: &str) -> Self {
        // A restart in the same test gets a session name of its own.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let nth = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = data_dir.file_name().unwrap().to_string_lossy().replace(['.', ':'], "_");
        let session = format!("skipless-test-{}-{name}-{nth}", std::process::id());
        let bin = assert_cmd::cargo::cargo_bin("skipless");
        let command = format!(
            "{env} {} --data-dir {} --config {} {args}; sleep 30",
            bin.display(),
            data_dir.display(),
            crate::common::config_file(data_dir).display()
        );
        crate::common::tmux_session(&session, 100, 30, &command);
        Self { session }
    }

    /// The player on the corpus, once its first scan is done.
    fn on_corpus(data_dir: &Path) -> Self {
        Self::on_corpus_with(data_dir, "")
    }

    /// [`Tmux::on_corpus`], its remote-control socket where `skipless` commands run with the
    /// same data dir look for it.
    fn on_corpus_with_socket(data_dir: &Path) -> Self {
        let runtime = format!("XDG_RUNTIME_DIR={}", crate::common::runtime_dir(data_dir).display());
        Self::on_corpus_with(data_dir, &runtime)
    }

    /// [`Tmux::on_corpus`] with these variables (`NAME=value ...`) in the player's environment.
    fn on_corpus_with(data_dir: &Path, env: &str) -> Self {
        let tmux = Self::start_with(
            data_dir,
            &format!("--audio null {}", crate::common::corpus().display()),
            env,
        );
        tmux.wait_for("scanned 12: 12 added");
        tmux
    }

    /// Plays the flat track list's first entry ("menu", 3:00) with Enter.
    fn play_the_first_track(&self) {
        self.keys(&["2"]);
        self.wait_for("Tracks (12)");
        self.keys(&["Enter"]);
        self.wait_for("▶ menu");
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Pastes `text` as the terminal does when the program asked for bracketed paste.
    fn paste(&self, text: &str) {
        let buffer = format!("{}-paste", self.session);
        for args in [
            vec!["set-buffer", "-b", &buffer, text],
            vec!["paste-buffer", "-p", "-d", "-b", &buffer, "-t", &self.session],
        ] {
            assert!(Command::new("tmux").args(&args).status().unwrap().success(), "{args:?}");
        }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_for_within(text, Duration::from_secs(30))
    }

    /// [`Tmux::wait_for`] with room for slower work than a key's answer (a whole training run).
    fn wait_for_within(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
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
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::on_corpus(data.path());
    tmux.play_the_first_track();
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

    let history = crate::common::json_lines(&crate::common::stdout_of(
        crate::common::skipless(data.path()).args(["history", "--json"]),
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

#[test]
fn retraining_in_the_background_while_playing() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    // A retrain every 3 plays, so training starts within seconds of playing.
    std::fs::write(
        data.path().join("config.toml"),
        "[recommend]\nmin_plays = 3\nretrain_every = 3\nexclude_recent = 2\n",
    )
    .unwrap();
    let corpus = crate::common::corpus();
    // An earlier listening history: six sessions of ten plays yesterday, every third one skipped.
    crate::common::scan_json(data.path(), &[&corpus]);
    let ids: Vec<i64> = crate::common::library(data.path())
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    let conn = rusqlite::Connection::open(data.path().join("skipless.db")).unwrap();
    let day_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 86_400_000;
    for s in 0..6i64 {
        let start = day_ago + s * 3_600_000;
        conn.execute(
            "INSERT INTO sessions (id, started_at, last_at) VALUES (?1, ?2, ?2)",
            [s + 1, start],
        )
        .unwrap();
        for k in 0..10i64 {
            let track = ids[((s * 3 + k) as usize) % ids.len()];
            let skipped = (s + k) % 3 == 0;
            conn.execute(
                "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, end_reason, skipped, source)
                 VALUES (?1, ?2, ?3, ?4, ?4 + 5000, 5000, ?5, ?6, 'user')",
                rusqlite::params![track, s + 1, k, start + k * 60_000, if skipped { "skipped" } else { "finished" }, skipped],
            )
            .unwrap();
        }
    }
    drop(conn);
    let tmux = Tmux::start_with(
        data.path(),
        &format!("--audio null {}", corpus.display()),
        "SKIPLESS_NULL_SPEED=10",
    );
    // A log long enough to train on and no model yet (a history just imported): the first
    // model trains at once, with no key pressed.
    tmux.wait_for_within("new model in use", Duration::from_secs(120));
    tmux.wait_for("model trained");
    let runs = || -> i64 {
        let conn = rusqlite::Connection::open(data.path().join("skipless.db")).unwrap();
        conn.query_row("SELECT count(*) FROM training_runs", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(runs(), 1);
    tmux.keys(&["2"]);
    tmux.wait_for("Tracks (12)");
    // From the first "Victory" on: short tracks, three plays in about two seconds.
    tmux.keys(&["j", "j", "j", "Enter"]);
    tmux.wait_for("▶ Victory");
    // Three plays later a retrain runs in the background while playback goes on.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while runs() < 2 {
        assert!(std::time::Instant::now() < deadline, "no retrain after three plays");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The model feeds up next, and playback is still going.
    let later = tmux.wait_for("model trained");
    assert!(later.contains(" auto"), "{later}");
    assert!(later.contains("▶ ") || later.contains("⏸"), "{later}");
    tmux.keys(&["q"]);
    std::thread::sleep(Duration::from_millis(500));
    let models = data.path().join("models");
    assert!(skipless::recommend::checkpoint::Checkpoint::load(&models)
        .unwrap()
        .is_some());
    let history = crate::common::json_lines(&crate::common::stdout_of(
        crate::common::skipless(data.path()).args(["history", "--json"]),
    ));
    assert!(
        history.len() >= 4,
        "playback continued past the retrain: {} plays",
        history.len()
    );
}

#[test]
fn like_and_ban_in_a_real_terminal_are_kept_after_a_restart() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    {
        let tmux = Tmux::on_corpus(data.path());
        tmux.keys(&["2"]);
        tmux.wait_for("Tracks (12)");
        // Like the first track ("menu"), ban the second ("silence") after the question.
        tmux.keys(&["f"]);
        tmux.wait_for("♥ menu");
        tmux.keys(&["j", "b"]);
        tmux.wait_for("autoplay never queues it again");
        tmux.keys(&["y"]);
        tmux.wait_for("⊘ silence");
        tmux.keys(&["q"]);
        std::thread::sleep(Duration::from_secs(1));
    }
    // A new player shows the same marks, read from the database.
    let tmux = Tmux::start(data.path(), "--audio null");
    tmux.keys(&["2"]);
    let screen = tmux.wait_for("⊘ silence");
    assert!(screen.contains("♥ menu"), "{screen}");
}

#[test]
fn a_playlist_made_from_the_queue_is_there_after_a_restart_and_plays() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    {
        let tmux = Tmux::on_corpus(data.path());
        // Queue the second and third tracks of the flat list, save the queue as "drive".
        tmux.keys(&["2"]);
        tmux.wait_for("Tracks (12)");
        tmux.keys(&["j", "a", "j", "a", "S"]);
        tmux.wait_for("save the queue's 2 tracks as playlist:");
        tmux.keys(&["d", "r", "i", "v", "e", "Enter"]);
        tmux.wait_for("saved the queue as playlist \"drive\"");
        tmux.keys(&["q"]);
        std::thread::sleep(Duration::from_secs(1));
    }
    let tmux = Tmux::start(data.path(), "--audio null");
    tmux.keys(&["6"]);
    let screen = tmux.wait_for(" 2 tracks");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("│drive ") && l.contains(" 2 tracks│")),
        "{screen}"
    );
    tmux.keys(&["Enter"]);
    // The playlist's first entry is the flat list's second track, "silence".
    tmux.wait_for("▶ silence");
}

/// The volume, the repeat mode and the autoplay switch are as the listener left them at the
/// last quit.
#[test]
fn the_volume_repeat_mode_and_autoplay_switch_are_kept_from_one_run_to_the_next() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    {
        let tmux = Tmux::on_corpus(data.path());
        tmux.wait_for("vol 100%  repeat off  autoplay on");
        tmux.keys(&["-", "-", "-", "R", "A"]);
        tmux.wait_for("vol 85%  repeat all  autoplay off");
        tmux.keys(&["M"]);
        tmux.wait_for("muted (85%)  repeat all  autoplay off");
        let pid = player_pid(data.path()).expect("the player runs");
        tmux.keys(&["q"]);
        wait_for_exit(pid, "the player");
    }
    let tmux = Tmux::start(data.path(), "--audio null");
    tmux.wait_for("muted (85%)  repeat all  autoplay off");
    // Unmuted, the volume is the one set.
    tmux.keys(&["M"]);
    tmux.wait_for("vol 85%  repeat all  autoplay off");
}

#[test]
fn the_queue_is_back_at_the_next_run_on_the_track_that_was_playing() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    // The queue's rows, without the mark of the playing entry.
    let queue_view = |tmux: &Tmux| -> Vec<String> {
        tmux.keys(&["3"]);
        let screen = tmux.wait_for("Queue (6)");
        screen
            .lines()
            .filter(|l| l.starts_with('│') && l.contains(" you "))
            .map(|l| l.replace('▶', " "))
            .collect()
    };
    let before = {
        let tmux = Tmux::on_corpus(data.path());
        // Autoplay off, so that no new picks replace the queue's while it is compared. Enter on
        // the flat track list's seventh entry queues it and the five after it; two skips later
        // "Sad" (0:44) plays.
        tmux.keys(&["A", "2"]);
        tmux.wait_for("Tracks (12)");
        tmux.keys(&["j", "j", "j", "j", "j", "j", "Enter"]);
        tmux.wait_for("▶ Elf Land");
        tmux.keys(&["n", "n"]);
        tmux.wait_for("▶ Sad");
        let before = queue_view(&tmux);
        let pid = player_pid(data.path()).expect("the player runs");
        tmux.keys(&["q"]);
        wait_for_exit(pid, "the player");
        before
    };
    assert_eq!(before.len(), 6, "{before:?}");
    let tmux = Tmux::start(data.path(), "--audio null");
    tmux.wait_for("the queue of the last run is back: 6 tracks, 3 up next; Space plays");
    assert_eq!(queue_view(&tmux), before);
    tmux.keys(&["Space"]);
    tmux.wait_for("▶ Sad");
}

/// A queue brought back from the last run gets autoplay's picks after it at once, as a play
/// would bring them, not only when its first track ends.
#[test]
fn autoplay_picks_follow_the_queue_brought_back() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    crate::common::scan_json(data.path(), &[&crate::common::corpus()]);
    // The last run left two of the listener's tracks queued, no pick, and autoplay on.
    let queue = serde_json::json!({"entries": [[1, "user"], [2, "user"]], "cursor": 0});
    std::fs::write(
        data.path().join("state.json"),
        serde_json::json!({"volume": 100, "repeat": "off", "autoplay": true, "queue": queue}).to_string(),
    )
    .unwrap();
    let tmux = Tmux::start(data.path(), "--audio null");
    tmux.wait_for("the queue of the last run is back: 2 tracks, 1 up next");
    let screen = tmux.wait_for(" auto│");
    assert!(!screen.contains("▶"), "nothing plays until asked: {screen}");
}

/// In a terminal known for pictures (here one that says it is kitty, and answers nothing), the
/// keyboard is the player's from the start: choosing the art's protocol asks the terminal
/// nothing, so no reader is left to put the terminal back in line mode or to take a key.
#[test]
fn keys_work_at_once_in_a_terminal_known_for_pictures() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::on_corpus_with(data.path(), "TMUX= KITTY_WINDOW_ID=1 TERM=xterm-kitty");
    tmux.keys(&["2"]);
    tmux.wait_for("Tracks (12)");
    tmux.keys(&["Enter"]);
    tmux.wait_for("▶ menu");
}

/// A real terminal's paste: outside the search box its letters run nothing (here `n`, `x` and
/// `e` would skip, stop and export); in the box it is the query.
#[test]
fn a_paste_is_text_not_keys() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::on_corpus(data.path());
    tmux.play_the_first_track();
    tmux.paste("nxe");
    tmux.wait_for("pasted text goes into the search box (/ opens it)");
    assert!(tmux.screen().contains("▶ menu"), "{}", tmux.screen());
    tmux.keys(&["/"]);
    tmux.paste("sad");
    tmux.wait_for("sad▏");
}

/// The state letter of process `pid` in /proc (`T` when stopped).
fn process_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .unwrap_or('?')
}

/// An interactive shell in the pane, as a listener has, and the player started from it by the
/// command line `run` makes of the player's own: playing its first track. Returns the pane
/// and the player's process id.
fn playing_from_a_shell(data: &Path, run: impl Fn(String) -> String) -> (Tmux, u32) {
    let tmux = Tmux::start_with(data, "", "true; exec env PS1='shell$ ' bash --norc -i #");
    tmux.wait_for("shell$");
    let player = format!(
        "{} --data-dir {} --config {} --audio null {}",
        assert_cmd::cargo::cargo_bin("skipless").display(),
        data.display(),
        crate::common::config_file(data).display(),
        crate::common::corpus().display()
    );
    tmux.keys(&[&run(player), "Enter"]);
    tmux.wait_for("scanned 12: 12 added");
    tmux.play_the_first_track();
    let pid = player_pid(data).expect("the player runs");
    (tmux, pid)
}

/// In a shell with job control, Ctrl-Z and a `kill -TSTP` from outside give the terminal back
/// and stop the player; `fg` brings it back whole, taking keys. Ctrl-L draws over what another
/// program wrote.
#[test]
fn ctrl_z_suspends_to_the_shell_and_fg_brings_the_player_back_whole() {
    if !crate::common::has_tool("tmux", "tmux") || !crate::common::has_tool("bash", "bash") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (tmux, pid) = playing_from_a_shell(data.path(), |player| player);
    let suspended = |how: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while process_state(pid) != 'T' {
            assert!(Instant::now() < deadline, "{how} did not stop the player");
            std::thread::sleep(Duration::from_millis(20));
        }
        let screen = tmux.wait_for("Stopped");
        assert!(!screen.contains("Now playing"), "{how}:\n{screen}");
        tmux.keys(&["fg", "Enter"]);
        tmux.wait_for("▶ menu");
    };
    tmux.keys(&["C-z"]);
    suspended("Ctrl-Z");
    tmux.keys(&["3"]);
    tmux.wait_for("Queue (");
    let tstp = Command::new("kill").args(["-TSTP", &pid.to_string()]).status().unwrap();
    assert!(tstp.success());
    suspended("kill -TSTP");
    // Text written over the screen by another program goes with Ctrl-L.
    let tty = std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&tty)
        .and_then(|mut t| std::io::Write::write_all(&mut t, b"\x1b[5;5HGARBAGE FROM ELSEWHERE"))
        .unwrap();
    tmux.wait_for("GARBAGE FROM ELSEWHERE");
    tmux.keys(&["C-l"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.screen().contains("GARBAGE") {
        assert!(Instant::now() < deadline, "Ctrl-L left it:\n{}", tmux.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.keys(&["q"]);
    wait_for_exit(pid, "the player");
}

/// Started by a script, the player stops with it on Ctrl-Z, and the shell that ran the script
/// takes the terminal back: `fg` continues both.
#[test]
fn ctrl_z_stops_the_script_that_started_the_player_too() {
    if !crate::common::has_tool("tmux", "tmux") || !crate::common::has_tool("bash", "bash") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (tmux, pid) = playing_from_a_shell(data.path(), |player| format!("sh -c '{player}; echo script-went-on'"));
    tmux.keys(&["C-z"]);
    let screen = tmux.wait_for("Stopped");
    assert_eq!(process_state(pid), 'T', "{screen}");
    tmux.keys(&["fg", "Enter"]);
    tmux.wait_for("▶ menu");
    tmux.keys(&["q"]);
    wait_for_exit(pid, "the player");
    tmux.wait_for("script-went-on");
}

/// With no shell to come back to (the player run by `sh -c`, as a terminal or a launcher runs
/// it), Ctrl-Z cannot stop it for good: the stop is discarded and the player goes on.
#[test]
fn ctrl_z_with_no_shell_to_return_to_leaves_the_player_running() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::on_corpus(data.path());
    tmux.play_the_first_track();
    let pid = player_pid(data.path()).expect("the player runs");
    tmux.keys(&["C-z"]);
    let log = data.path().join("skipless.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("continued: the terminal")
    {
        assert!(Instant::now() < deadline, "Ctrl-Z did not suspend");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ne!(process_state(pid), 'T', "stopped with nothing to continue it");
    tmux.keys(&["3"]);
    tmux.wait_for("Queue (");
    tmux.wait_for("▶ menu");
}

#[test]
fn the_queue_and_the_volume_survive_a_kill_9() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let killed = Tmux::on_corpus(data.path());
    killed.keys(&["A", "2"]);
    killed.wait_for("Tracks (12)");
    killed.keys(&["j", "j", "j", "j", "j", "j", "Enter"]);
    killed.wait_for("▶ Elf Land");
    killed.keys(&["-", "-"]);
    killed.wait_for("vol 90%");
    // Kept while the player runs: there is no quit to save it.
    let state = data.path().join("state.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&state).is_ok_and(|s| s.contains("\"volume\": 90")) {
        assert!(
            Instant::now() < deadline,
            "state.json was not kept while the player ran"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = player_pid(data.path()).expect("the player runs");
    // SAFETY: kill has no memory preconditions; the pid is the player's, found just now.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    wait_for_exit(pid, "the killed player");
    // The first session stays until the second runs: the tmux server ends with its last one.
    let tmux = Tmux::start(data.path(), "--audio null");
    drop(killed);
    tmux.wait_for("closed 1 play left open by an earlier crash");
    tmux.keys(&["3"]);
    let screen = tmux.wait_for("Queue (6)");
    assert!(
        screen.contains("vol 90%") && screen.contains("autoplay off"),
        "{screen}"
    );
}

/// Waits up to 10 s for the player `pid` ([`player_pid`], read before it was told to end) to
/// end; `who` names it if it does not. Its command line goes, and its main thread is a zombie, before its last thread ends and its
/// files close (its lock with them): it has ended once its shell has reaped it.
fn wait_for_exit(pid: u32, who: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "{who} is still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of the `skipless` process run with `data_dir`, found in /proc.
fn player_pid(data_dir: &Path) -> Option<u32> {
    let wanted = data_dir.as_os_str().as_encoded_bytes();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let holds = cmdline.windows(wanted.len()).any(|w| w == wanted);
        (comm.trim() == "skipless" && holds).then_some(pid)
    })
}

#[test]
fn a_player_ended_by_a_signal_restores_the_terminal_and_logs_its_play() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    for (signal, number) in [("TERM", libc::SIGTERM), ("HUP", libc::SIGHUP), ("QUIT", libc::SIGQUIT)] {
        let data = tempfile::tempdir().unwrap();
        let tmux = Tmux::on_corpus(data.path());
        tmux.play_the_first_track();
        let pid = player_pid(data.path()).expect("the player runs");
        let pane = |format: &str| -> String {
            let out = Command::new("tmux")
                .args(["display-message", "-p", "-t", &tmux.session, format])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        // Clicks and the wheel are reported while it runs, not every movement of the mouse.
        assert_eq!(pane("#{mouse_standard_flag} #{mouse_all_flag}"), "1 0");
        // SAFETY: kill has no memory preconditions; the pid is the player this test started.
        let killed = unsafe { libc::kill(pid as libc::pid_t, number) };
        assert_eq!(killed, 0, "SIG{signal}: {}", std::io::Error::last_os_error());
        wait_for_exit(pid, &format!("SIG{signal}: the player"));
        // Off the alternate screen, mouse reporting off, the cursor shown.
        assert_eq!(
            pane("#{alternate_on} #{mouse_any_flag} #{cursor_flag}"),
            "0 0 1",
            "SIG{signal}: the terminal was left as the player had set it"
        );
        let history = crate::common::json_lines(&crate::common::stdout_of(
            crate::common::skipless(data.path()).args(["history", "--json"]),
        ));
        assert_eq!(history.len(), 1, "{history:?}");
        assert_eq!(
            (&history[0]["title"], &history[0]["end_reason"]),
            (&serde_json::json!("menu"), &serde_json::json!("quit")),
            "SIG{signal}: {history:?}"
        );
    }
}

/// Closing the terminal window (here its tmux pane) hangs up on the player: it logs its play and
/// ends without an internal error, though the terminal it would restore is gone.
#[test]
fn a_player_whose_terminal_is_closed_logs_its_play_and_ends_cleanly() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::on_corpus(data.path());
    tmux.play_the_first_track();
    let pid = player_pid(data.path()).expect("the player runs");
    let closed = Command::new("tmux")
        .args(["kill-pane", "-t", &tmux.session])
        .status()
        .unwrap();
    assert!(closed.success());
    wait_for_exit(pid, "the player");
    let history = crate::common::json_lines(&crate::common::stdout_of(
        crate::common::skipless(data.path()).args(["history", "--json"]),
    ));
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["end_reason"], "quit", "{history:?}");
    let log = std::fs::read_to_string(data.path().join("skipless.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}

/// A like or a ban made with `skipless like|ban PATH` while the player runs shows in it at once.
#[test]
fn likes_and_bans_from_the_command_line_reach_the_running_player() {
    use crate::common::{corpus, skipless, stdout_of};
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::on_corpus_with_socket(data.path());
    tmux.keys(&["2"]);
    tmux.wait_for("Tracks (12)");
    stdout_of(skipless(data.path()).args(["like", corpus().join("menu.opus").to_str().unwrap()]));
    tmux.wait_for("♥ menu");
    stdout_of(skipless(data.path()).args(["ban", corpus().join("silence.ogg").to_str().unwrap()]));
    tmux.wait_for("⊘ silence");
}

/// A playlist imported, renamed or deleted from another shell shows in the running player's
/// playlists view at once.
#[test]
fn playlists_changed_from_the_command_line_reach_the_running_player() {
    use crate::common::{corpus, skipless, stdout_of};
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::on_corpus_with_socket(data.path());
    tmux.keys(&["6"]);
    tmux.wait_for("Playlists (");
    let list = data.path().join("road trip.m3u8");
    std::fs::write(&list, format!("#EXTM3U\n{}\n", corpus().join("menu.opus").display())).unwrap();
    stdout_of(skipless(data.path()).args(["playlist", "import"]).arg(&list));
    tmux.wait_for("road trip");
    stdout_of(skipless(data.path()).args(["playlist", "rename", "road trip", "night drive"]));
    tmux.wait_for("night drive");
    stdout_of(skipless(data.path()).args(["playlist", "delete", "night drive"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tmux.screen().contains("night drive") {
        assert!(std::time::Instant::now() < deadline, "{}", tmux.screen());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A folder scanned from another shell reaches a player started with none, which then watches
/// it, also after it was deleted and came back (a disk unplugged and plugged in again).
#[test]
fn a_folder_scanned_from_the_command_line_is_shown_and_watched_by_the_running_player() {
    use crate::common::{corpus, skipless, stdout_of};
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let music = tempfile::tempdir().unwrap();
    let folder = music.path().join("music");
    std::fs::create_dir(&folder).unwrap();
    for name in ["sad.ogg", "menu.opus"] {
        std::fs::copy(corpus().join(name), folder.join(name)).unwrap();
    }
    let tmux = Tmux::start_with(
        data.path(),
        "--audio null",
        &format!("XDG_RUNTIME_DIR={}", crate::common::runtime_dir(data.path()).display()),
    );
    // No folder yet: it says how to give one.
    tmux.wait_for("No library folders yet");
    stdout_of(skipless(data.path()).arg("scan").arg(&folder));
    tmux.keys(&["2"]);
    tmux.wait_for("Tracks (2)");
    std::fs::copy(corpus().join("victory.ogg"), folder.join("victory.ogg")).unwrap();
    tmux.wait_for("Tracks (3)");
    // Gone and back: what it holds when it is back is found.
    std::fs::remove_dir_all(&folder).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::create_dir(&folder).unwrap();
    for name in ["sad.ogg", "menu.opus", "victory.ogg", "defeat.flac"] {
        std::fs::copy(corpus().join(name), folder.join(name)).unwrap();
    }
    tmux.wait_for("Tracks (4)");
}

#[test]
fn skipless_remote_drives_the_player_in_a_real_terminal() {
    use crate::common::{corpus, json_lines, skipless, stdout_of};
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::on_corpus_with_socket(data.path());
    let remote = |words: &[&str]| -> String {
        let out = skipless(data.path()).arg("remote").args(words).output().unwrap();
        assert!(
            out.status.success(),
            "{words:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // Nothing queued, nothing to play and autoplay off: said, not silently done.
    tmux.keys(&["A"]);
    tmux.wait_for("autoplay off");
    let nothing = skipless(data.path()).args(["remote", "play"]).output().unwrap();
    assert!(!nothing.status.success());
    assert!(
        String::from_utf8_lossy(&nothing.stderr).contains("nothing queued"),
        "{}",
        String::from_utf8_lossy(&nothing.stderr)
    );
    tmux.keys(&["A"]);
    tmux.wait_for("autoplay on");
    remote(&["queue", corpus().join("sad.ogg").to_str().unwrap()]);
    tmux.wait_for("remote: queued: ");
    remote(&["play"]);
    tmux.wait_for("▶ Sad");
    let status: serde_json::Value = serde_json::from_str(&remote(&["status", "--json"])).unwrap();
    assert_eq!(status["state"], "playing");
    assert_eq!(status["track"]["title"], "Sad");
    // A status right after a seek tells where it went.
    remote(&["seek", "20"]);
    let status: serde_json::Value = serde_json::from_str(&remote(&["status", "--json"])).unwrap();
    assert!(status["position_ms"].as_u64().unwrap() >= 20_000, "{status}");
    remote(&["like"]);
    tmux.wait_for("remote: liked: Tyler Johnson – Sad");
    tmux.keys(&["A"]);
    tmux.wait_for("autoplay off");
    let status: serde_json::Value = serde_json::from_str(&remote(&["status", "--json"])).unwrap();
    assert_eq!(status["autoplay"], "off", "{status}");
    remote(&["next"]);
    remote(&["quit"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let sad = loop {
        let rows = json_lines(&stdout_of(skipless(data.path()).args(["history", "--json"])));
        if let Some(row) = rows
            .into_iter()
            .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with("sad.ogg")) && !r["end_reason"].is_null())
        {
            break row;
        }
        assert!(Instant::now() < deadline, "the play never reached the log");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(sad["end_source"], "remote", "{sad}");
}

#[test]
fn the_library_follows_its_folders_while_the_player_runs() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for name in ["menu.opus", "sad.ogg", "victory.ogg"] {
        std::fs::copy(crate::common::corpus().join(name), music.join(name)).unwrap();
    }
    let tmux = Tmux::start(data.path(), &format!("--audio null {}", music.display()));
    tmux.wait_for("scanned 3: 3 added");
    tmux.keys(&["2"]);
    tmux.wait_for("Tracks (3)");

    // A file added to a watched root appears without a restart.
    std::fs::create_dir(music.join("new album")).unwrap();
    std::fs::copy(
        crate::common::corpus().join("defeat.flac"),
        music.join("new album/defeat.flac"),
    )
    .unwrap();
    tmux.wait_for("1 added");
    tmux.wait_for("Tracks (4)");

    // Renamed, it is the same track.
    std::fs::rename(
        music.join("new album/defeat.flac"),
        music.join("new album/01 Defeat.flac"),
    )
    .unwrap();
    tmux.wait_for("1 moved");
    let screen = tmux.wait_for("Tracks (4)");
    assert!(screen.contains("Defeat"), "{screen}");

    // A queued file that is deleted leaves the queue with a message.
    tmux.keys(&["g", "Enter"]);
    let screen = tmux.wait_for("Up next (3)");
    std::fs::remove_file(music.join("victory.ogg")).unwrap();
    let after = tmux.wait_for("removed from the queue, the file is gone");
    assert!(
        after.contains("victory.ogg") && after.contains("Up next (2)"),
        "{screen}\n{after}"
    );
    tmux.wait_for("Tracks (3)");
    tmux.keys(&["q"]);
}

#[test]
fn without_inotify_watches_the_player_says_so_in_its_log_and_keeps_playing() {
    if !crate::common::has_tool("tmux", "tmux") || !crate::common::has_tool("unshare", "util-linux") {
        return;
    }
    // A user namespace of its own gets its own inotify limit, here one watch for two folders.
    let limited = "sh -c 'echo 1 > /proc/sys/user/max_inotify_watches'";
    let ok = Command::new("unshare")
        .args(["-U", "-r", "sh", "-c", limited])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        crate::common::skip_or_fail("user namespaces with their own inotify limit (unshare -U -r) are not available");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir_all(music.join("sub")).unwrap();
    std::fs::copy(crate::common::corpus().join("sad.ogg"), music.join("sub/sad.ogg")).unwrap();
    let tmux = Tmux::start_with(
        data.path(),
        &format!("--audio null {}", music.display()),
        "unshare -U -r sh -c 'echo 1 > /proc/sys/user/max_inotify_watches; exec \"$0\" \"$@\"'",
    );
    tmux.wait_for("scanned 1: 1 added");
    let log = data.path().join("skipless.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("inotify watches ran out") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("inotify watches ran out")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("rescanning every root every 10 minutes"),
        "{}",
        lines[0]
    );
    tmux.keys(&["2"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("▶ Sad");
    tmux.keys(&["q"]);
}

#[test]
fn the_cover_is_drawn_in_half_blocks_inside_tmux() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::on_corpus(data.path());
    // The third entry of the Tracks view is the file with an embedded cover.
    tmux.keys(&["2", "j", "j", "Enter"]);
    tmux.wait_for("▶ Track 3 — Martin Severn");
    let screen = tmux.wait_for("▀");
    assert!(screen.contains("Up next"), "{screen}");
    tmux.keys(&["q"]);
}

/// Under `NO_COLOR`, or in a terminal type named monochrome, half blocks would draw the cover as
/// colourless noise: there is none, also where the config asks for half blocks.
#[test]
fn no_cover_in_half_blocks_without_colours() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    for env in ["NO_COLOR=1", "TERM=xterm-mono"] {
        for album_art in ["auto", "halfblocks"] {
            let data = tempfile::tempdir().unwrap();
            std::fs::write(
                data.path().join("config.toml"),
                format!("[ui]\nalbum_art = \"{album_art}\"\n"),
            )
            .unwrap();
            let tmux = Tmux::on_corpus_with(data.path(), env);
            tmux.keys(&["2", "j", "j", "Enter"]);
            tmux.wait_for("▶ Track 3 — Martin Severn");
            std::thread::sleep(Duration::from_millis(500));
            let screen = tmux.screen();
            assert!(
                !screen.contains('▀') && !screen.contains('▄'),
                "{env}, {album_art}: {screen}"
            );
            let log = std::fs::read_to_string(data.path().join("skipless.log")).unwrap_or_default();
            assert!(
                log.contains("no album art in half blocks: the terminal shows no colours"),
                "{env}, {album_art}: {log}"
            );
            tmux.keys(&["q"]);
        }
    }
}

/// A `skipless scan` that changed nothing leaves a running player alone; one that changed a
/// track tells it to read the library again.
#[test]
fn a_scan_that_changed_nothing_does_not_reload_the_player() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let music = data.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for name in ["sad.ogg", "victory.ogg"] {
        std::fs::copy(crate::common::corpus().join(name), music.join(name)).unwrap();
    }
    crate::common::scan_json(data.path(), &[&music]);
    let tmux = Tmux::start_with(
        data.path(),
        "--audio null",
        &format!("XDG_RUNTIME_DIR={}", crate::common::runtime_dir(data.path()).display()),
    );
    tmux.keys(&["2"]);
    tmux.wait_for("Tracks (2)");
    let unchanged = crate::common::stdout_of(crate::common::skipless(data.path()).arg("scan"));
    assert!(unchanged.contains("0 added, 0 updated, 2 unchanged"), "{unchanged}");
    std::thread::sleep(Duration::from_millis(1000));
    let screen = tmux.screen();
    assert!(!screen.contains("remote: reading"), "{screen}");
    std::fs::copy(crate::common::corpus().join("menu.opus"), music.join("menu.opus")).unwrap();
    crate::common::stdout_of(crate::common::skipless(data.path()).arg("scan"));
    tmux.wait_for("remote: reading");
    tmux.wait_for("Tracks (3)");
}

/// `import … -` in a terminal, with nothing piped in, says how to pipe a history instead of
/// waiting for one typed.
#[test]
fn an_import_from_standard_input_in_a_terminal_says_to_pipe_one() {
    if !crate::common::has_tool("tmux", "tmux") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(data.path(), "import spotify -");
    tmux.wait_for("standard input (-) is the terminal: pipe a history into it");
    assert!(!data.path().join("skipless.db").exists());
}
