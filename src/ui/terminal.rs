//! Entering and leaving the terminal's raw, full-screen mode ([`enter`], [`leave`]), with a
//! panic hook that restores the terminal first, and the input reader thread.

use std::io::Write;

use crossbeam_channel::Receiver;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};

/// Switches to the alternate screen with raw input and mouse reporting. The panic hook
/// installed here restores the terminal before the panic message is printed.
pub fn enter() -> anyhow::Result<ratatui::DefaultTerminal> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave();
        previous(info);
    }));
    enable_raw_mode()?;
    execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    Ok(ratatui::Terminal::new(backend)?)
}

/// Restores the terminal; safe to call more than once.
pub fn leave() {
    let mut stdout = std::io::stdout();
    let _ = execute!(
        stdout,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = stdout.flush();
}

/// Terminal events, read on their own thread so the UI thread can wait on several channels.
pub fn input_events() -> Receiver<Event> {
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
