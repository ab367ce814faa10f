//! Entering and leaving the terminal's raw, full-screen mode ([`enter`], [`leave`]), with a
//! panic hook that restores the terminal first, and the input reader thread.

use std::io::Write;

use crossbeam_channel::Receiver;
use crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};

/// Switches to the alternate screen with raw input, mouse reporting and bracketed paste.
///
/// The panic hook installed here restores the terminal first when the UI thread panics, writes
/// the details (with a backtrace) to `panic_log` and prints one line pointing there. A panic on
/// another thread (a worker, the decoder) is caught and reported by that thread's owner, so the
/// hook only appends it to `panic_log`: printing it would scribble over the screen, and
/// restoring the terminal would leave a running UI without one.
pub(crate) fn enter(panic_log: std::path::PathBuf) -> anyhow::Result<ratatui::DefaultTerminal> {
    let ui_thread = std::thread::current().id();
    std::panic::set_hook(Box::new(move |info| {
        if crate::guard::is_guarded() {
            // Caught at a parser boundary and reported as that file's error.
            return;
        }
        let name = std::thread::current().name().unwrap_or("unnamed").to_owned();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let location = info.location().map(|l| format!(" at {l}")).unwrap_or_default();
        let mut entry = format!(
            "{}: thread '{name}' panicked{location}: {message}\n",
            crate::clock::now_ms()
        );
        let ui = std::thread::current().id() == ui_thread;
        if ui {
            leave();
            entry.push_str(&format!("{}\n", std::backtrace::Backtrace::force_capture()));
        }
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(&panic_log) {
            let _ = file.write_all(entry.as_bytes());
        }
        if ui {
            let first = message.lines().next().unwrap_or_default();
            // Not eprintln!, which panics (here: aborts) when the terminal is gone.
            let _ = writeln!(
                std::io::stderr(),
                "skipless: internal error: {first}{location}; details in {}",
                panic_log.display()
            );
        }
    }));
    enable_raw_mode()?;
    // Pasted text arrives as one event (see `App::paste`), not as keys that would run as commands.
    execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    Ok(ratatui::Terminal::new(backend)?)
}

/// Restores the terminal; safe to call more than once.
pub(crate) fn leave() {
    let mut stdout = std::io::stdout();
    let _ = execute!(
        stdout,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = stdout.flush();
}

/// Terminal events, read on their own thread so the UI thread can wait on several channels.
pub(crate) fn input_events() -> Receiver<Event> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let spawned = std::thread::Builder::new().name("input".into()).spawn(move || {
        while let Ok(event) = crossterm::event::read() {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the input thread: {e}");
    }
    rx
}
