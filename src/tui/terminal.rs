//! Entering and leaving the terminal's raw, full-screen mode ([`enter`], [`leave`]), with a
//! panic hook that restores the terminal first, and the input reader thread.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Receiver;
use crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, Event};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{execute, Command};

/// Switches to the alternate screen with raw input, mouse reporting and bracketed paste.
///
/// The panic hook installed here restores the terminal first when the UI thread panics, writes
/// the details (with a backtrace) to `panic_log` and prints one line pointing there. A panic on
/// another thread (a worker, the decoder) is caught and reported by that thread's owner, so the
/// hook only appends it to `panic_log`: printing it would scribble over the screen, and
/// restoring the terminal would leave a running UI without one.
pub(crate) fn enter(panic_log: std::path::PathBuf, mouse: bool) -> anyhow::Result<ratatui::DefaultTerminal> {
    MOUSE.store(mouse, Ordering::Relaxed);
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
    take_over()?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut terminal = ratatui::Terminal::new(backend)?;
    // A terminal that ignores the alternate screen (GNU screen's default) still shows the shell's
    // text: frames write only the cells that change, so every cell starts blank.
    redraw_all(&mut terminal)?;
    Ok(terminal)
}

/// Blanks the screen and has the next frame written whole. Not `Terminal::clear`, which asks
/// the terminal where its cursor is: the input thread would take the answer.
pub(crate) fn redraw_all(terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
    execute!(std::io::stdout(), Clear(ClearType::All))?;
    // After a frame, the buffer compared against holds that frame: swapped once more, both are
    // blank, and every cell of the next frame is written.
    terminal.swap_buffers();
    Ok(())
}

/// Whether the mouse is the player's (`[ui] mouse`), for each time it takes the terminal.
static MOUSE: AtomicBool = AtomicBool::new(true);

/// Raw input, the alternate screen, mouse reporting and bracketed paste.
fn take_over() -> std::io::Result<()> {
    enable_raw_mode()?;
    // Pasted text arrives as one event (see `App::paste`), not as keys that would run as commands.
    execute!(std::io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
    if MOUSE.load(Ordering::Relaxed) {
        execute!(std::io::stdout(), ClicksAndWheel)?;
    }
    Ok(())
}

/// Mouse reporting of buttons and the wheel only, in SGR coordinates (any column). Not
/// crossterm's `EnableMouseCapture`, which also reports every movement: a stream of events the
/// player has no use for, each one a wake-up.
struct ClicksAndWheel;

impl Command for ClicksAndWheel {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str("\x1b[?1000h\x1b[?1006h")
    }
}

/// Gives the terminal back to the shell and stops the process, as Ctrl-Z does to a program in
/// cooked mode; once continued (`fg`), takes the terminal again and draws every cell anew.
///
/// The stop is `SIGTSTP` with its default action, not `SIGSTOP`: with no shell to come back to
/// (a terminal that runs the player itself, `sh -c`), the kernel discards it, and the player
/// takes the terminal straight back instead of stopping where nothing can continue it. It goes
/// to the whole process group, as the terminal sends Ctrl-Z: a script that started the player
/// stops with it, and its shell takes the terminal back.
pub(crate) fn suspend(terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
    leave();
    tracing::info!("suspended: the terminal is the shell's until the player is continued");
    // SAFETY: sigaction is given a valid action and a place for the old one, which is put back
    // as it was (the handler that turns a `kill -TSTP` into this suspend); kill to the own
    // group has no preconditions. Linux gives a signal sent to the process to its main thread
    // when that does not block it, and this is the main thread: the stop comes before kill
    // returns, so it returns once the process is continued or the stop is discarded.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        let mut caught: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGTSTP, &default, &mut caught) == 0 {
            libc::kill(0, libc::SIGTSTP);
            libc::sigaction(libc::SIGTSTP, &caught, std::ptr::null_mut());
        }
    }
    tracing::info!("continued: the terminal is the player's again");
    take_over()?;
    redraw_all(terminal)
}

/// Restores the terminal; safe to call more than once.
pub(crate) fn leave() {
    let mut stdout = std::io::stdout();
    // The screen is cleared before it is left: a terminal without an alternate screen (GNU
    // screen's default) would keep the player's last frame, with the shell's prompt in it.
    let _ = execute!(
        stdout,
        DisableBracketedPaste,
        DisableMouseCapture,
        Clear(ClearType::All),
        crossterm::cursor::MoveTo(0, 0),
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
