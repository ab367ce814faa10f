//! The terminal after a panic, in a real terminal: tmux runs a shell, the shell runs skipless with
//! the `SKIPLESS_TEST_PANIC` hook, which panics on purpose after the first frame, in the UI
//! thread or in a worker. Afterwards the shell must be usable: out of the alternate screen, no
//! mouse reporting, `stty` back to canonical mode with echo, and the panic recorded in
//! `skipless.log`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PROMPT: &str = "READY$ ";

struct Shell {
    session: String,
}

impl Shell {
    fn start(name: &str) -> Self {
        let session = format!("skipless-panic-{}-{name}", std::process::id());
        crate::common::tmux_session(
            &session,
            160,
            40,
            &format!("env PS1='{PROMPT}' bash --norc --noprofile -i"),
        );
        let shell = Self { session };
        shell.wait_for(PROMPT);
        shell
    }

    fn type_line(&self, line: &str) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", line])
            .status()
            .unwrap();
        assert!(status.success());
        self.keys(&["Enter"]);
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The visible screen, wrapped lines joined.
    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-J", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn format(&self, what: &str) -> String {
        let out = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.session, what])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "{what} never appeared:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("`{text}`"), |s| s.contains(text))
    }

    /// After skipless has ended: the prompt is back, the screen and the line discipline restored.
    fn assert_restored(&self) {
        let screen = self.wait_until("the prompt after skipless", |s| {
            s.trim_end()
                .lines()
                .last()
                .is_some_and(|l| l.starts_with(PROMPT.trim_end()))
        });
        assert_eq!(
            self.format("#{alternate_on}"),
            "0",
            "still in the alternate screen:\n{screen}"
        );
        assert_eq!(self.format("#{mouse_any_flag}"), "0", "mouse reporting left on");
        self.type_line(
            "clear; stty -a | tr ' ;' '\\n\\n' | grep -E -x -- '-?(icanon|echo)' | tr -d '\\n'; echo ' E''ND'",
        );
        // The marker is split in the typed line, so only the command's output matches it.
        let screen = self.wait_for(" END");
        assert!(
            screen.contains("icanonecho END"),
            "the terminal is not back in cooked mode:\n{screen}"
        );
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

/// Whether the binary under test has the panic hooks: builds with debug assertions have them
/// (`cargo test`); a release build (`cargo test --release`) has none, and says so once here.
/// In CI (`CI` set) a build without them fails, so CI always runs these tests.
fn has_panic_hooks() -> bool {
    if !cfg!(debug_assertions) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the SKIPLESS_TEST_PANIC hooks are only in builds with debug assertions: run `cargo test` without --release"
        );
        eprintln!("skipped: the SKIPLESS_TEST_PANIC hooks are only in builds with debug assertions");
    }
    cfg!(debug_assertions)
}

fn command(data: &Path, panic: &str) -> String {
    format!(
        "SKIPLESS_TEST_PANIC={panic} {} --data-dir {} --config {} --audio null",
        assert_cmd::cargo::cargo_bin("skipless").display(),
        data.display(),
        crate::common::config_file(data).display()
    )
}

#[test]
fn a_panic_in_the_ui_thread_restores_the_terminal_and_says_where_the_details_are() {
    if !crate::common::has_tool("tmux", "tmux") || !has_panic_hooks() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let shell = Shell::start("ui");
    shell.type_line(&command(data.path(), "ui"));
    let log = data.path().join("skipless.log");
    let screen = shell.wait_for("details in");
    let line = screen
        .lines()
        .find(|l| l.contains("skipless: internal error"))
        .unwrap_or_else(|| panic!("no one-line message:\n{screen}"));
    assert!(line.contains("test panic in the UI thread"), "{line}");
    assert!(line.ends_with(&format!("details in {}", log.display())), "{line}");
    assert!(
        !screen.contains("RUST_BACKTRACE"),
        "one line, not the default report:\n{screen}"
    );
    shell.assert_restored();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("panicked") && logged.contains("test panic in the UI thread"),
        "{logged}"
    );
}

#[test]
fn a_panic_in_a_worker_leaves_the_ui_running_and_the_terminal_restored_at_quit() {
    if !crate::common::has_tool("tmux", "tmux") || !has_panic_hooks() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let shell = Shell::start("worker");
    shell.type_line(&command(data.path(), "worker"));
    shell.wait_for("the test worker failed unexpectedly");
    // The UI goes on: it answers keys, then quits normally.
    shell.keys(&["?"]);
    shell.wait_for("? or Esc closes");
    // Esc and a key sent together read as Alt and the key: q goes once the help is closed.
    shell.keys(&["Escape"]);
    shell.wait_until("the help closed", |s| !s.contains("? or Esc closes"));
    shell.keys(&["q"]);
    shell.assert_restored();
    let logged = std::fs::read_to_string(data.path().join("skipless.log")).unwrap();
    assert!(logged.contains("thread 'test' panicked"), "{logged}");
    assert!(logged.contains("test panic in a worker thread"), "{logged}");
}
