//! The interactive player: key map -> [`Action`](crate::keymap::Action) -> state update ->
//! render.
//!
//! - [`app`]: [`App`], the state and what changes it;
//! - [`input`]: keys, the search box and the mouse;
//! - [`render`] and [`views`]: drawing, a pure function of the [`App`] ([`draw`], [`Theme`]);
//! - [`state`]: what the screen shows apart from playback ([`State`]);
//! - [`terminal`]: raw mode, the alternate screen, the panic hook and the input thread.
//!
//! One UI thread owns the [`App`] and blocks on its channels: terminal input, engine events,
//! worker reports, desktop requests, commands from `skipless remote` and the termination
//! signals (which quit as `q` does). It redraws only after one of them delivered something,
//! so an idle player sleeps.

mod app;
mod input;
mod render;
pub mod state;
mod terminal;
mod views;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use crossterm::event::Event as TermEvent;
use ratatui::layout::Rect;
use ratatui_image::picker::{Picker, ProtocolType};

pub use app::App;
pub use render::{draw, ColourDepth, Theme};

use crate::app::mpris_bridge;
use crate::app::remembered::{Keeper, Remembered};
use crate::app::remote::{RemoteRequest, Server};
use crate::app::Context;
use crate::config::AlbumArt;
use crate::keymap::Action;
use crate::mpris::Mpris;
use crate::player::{Engine, Event};
use state::{State, TerminalRequest};

/// `skipless [PATH...]`: the interactive player.
pub(crate) fn run(ctx: &Context, paths: Vec<PathBuf>) -> anyhow::Result<()> {
    ctx.paths.ensure_data_dir()?;
    let _lock = ctx.paths.lock_instance()?;
    // First: what starting says (plays kept from the last run, a test's playback speed) is in it.
    ctx.start_log_file();
    let db_path = ctx.paths.database();
    let (engine, controller, notice) = crate::app::start_playback(&ctx.config, &db_path)?;
    let mut app = App::new(ctx.config.clone(), db_path, controller)?;
    let remembered_file = ctx.paths.remembered_file();
    let remembered = Remembered::load(&remembered_file);
    if let Some(remembered) = remembered.clone() {
        app.remember(remembered);
    }
    let mut keeper = Keeper::start(remembered_file, remembered);
    app.state.status = notice;
    app.load_library();
    app.start_autoplay(ctx.paths.models_dir());
    if !paths.is_empty() {
        app.scan(paths.clone());
    }

    app.roots_changed = crate::app::watch::spawn_watch(
        ctx.paths.database(),
        paths,
        ctx.config.library.clone(),
        app.worker_tx.clone(),
    );
    let mpris = Mpris::start(ctx.config.mpris.enabled, ctx.paths.cache_dir.clone());
    let remote = match Server::start(&ctx.paths.remote_socket()) {
        Ok(server) => Some(server),
        Err(message) => {
            tracing::warn!("remote control off: {message}");
            app.state.say(format!("remote control off: {message}"));
            None
        }
    };
    app.art_picker = art_picker(ctx.config.ui.album_art, app.theme.depth);
    let signals = crate::app::termination_signals()?;
    let stops = stop_signals()?;
    let mut terminal = terminal::enter(ctx.paths.log_file(), ctx.config.ui.mouse)?;
    let input = terminal::input_events();
    // Test hook: `SKIPLESS_TEST_PANIC=ui` or `=worker` panics on purpose after the first frame,
    // for the tests that check the terminal is restored. Only builds with debug assertions (as
    // `cargo test` makes) have it: a release build reads no such variable.
    #[cfg(debug_assertions)]
    let test_panic = std::env::var("SKIPLESS_TEST_PANIC").ok();
    #[cfg(not(debug_assertions))]
    let test_panic: Option<String> = None;
    #[cfg(debug_assertions)]
    if test_panic.as_deref() == Some("worker") {
        crate::app::workers::spawn_test_panic(app.worker_tx.clone());
    }
    let outside = Outside {
        input: &input,
        signals: &signals,
        stops: &stops,
        remote: remote.as_ref(),
    };
    let result = event_loop(
        &mut terminal,
        &mut app,
        &engine,
        &outside,
        mpris,
        &mut keeper,
        test_panic.as_deref() == Some("ui"),
    );
    keeper.finish(app.remembered());
    // ratatui's Terminal prints to stderr when it cannot show the cursor as it is dropped, and
    // printing panics once the terminal is gone (a hang-up): the cursor is shown here, and a
    // terminal that cannot take it is not dropped.
    if terminal.show_cursor().is_err() {
        std::mem::forget(terminal);
    }
    terminal::leave();
    result
}

/// How album art is drawn: for `auto`, in a terminal known for pictures (kitty, WezTerm,
/// iTerm2, foot, ghostty, Konsole) and not inside a multiplexer, with the graphics protocol that
/// terminal is known for, sized by the cell size the kernel's window size reports; elsewhere,
/// or where the size has no pixels, in half blocks. Half blocks are a picture in colours, so a
/// terminal of no colours (`NO_COLOR`, a monochrome `TERM`) gets none: they would be noise.
///
/// The terminal is not asked: a query's reader thread (ratatui-image's) puts the terminal's
/// modes back after it has answered, that is after the player has switched to raw mode, and
/// left the keyboard in line mode; on a slow answer it also kept reading the keyboard.
fn art_picker(mode: AlbumArt, depth: ColourDepth) -> Option<Picker> {
    let blocks = || {
        if depth == ColourDepth::None {
            tracing::info!("no album art in half blocks: the terminal shows no colours");
            None
        } else {
            Some(Picker::halfblocks())
        }
    };
    match mode {
        AlbumArt::Off => None,
        AlbumArt::Halfblocks => blocks(),
        AlbumArt::Auto => {
            let env = |name: &str| std::env::var(name).unwrap_or_default();
            let protocol = known_protocol(&env).filter(|_| std::io::stdout().is_terminal());
            let picker = match (protocol, cell_pixels()) {
                (Some(protocol), Some(cell)) => {
                    // Deprecated in favour of the query, which is what is avoided here.
                    #[allow(deprecated)]
                    let mut picker = Picker::from_fontsize(cell);
                    picker.set_protocol_type(protocol);
                    picker
                }
                _ => blocks()?,
            };
            tracing::info!("album art as {:?}", picker.protocol_type());
            Some(picker)
        }
    }
}

/// The graphics protocol of a terminal known for pictures, told by the variables it sets.
///
/// Every terminal sets `TERM`; the other variables are inherited by a terminal started from
/// another's shell, which would be sent pictures it prints as text. So `KITTY_WINDOW_ID` is not
/// read at all, and `TERM_PROGRAM` and `KONSOLE_VERSION` only where `TERM` is the generic xterm
/// one that iTerm2, WezTerm and Konsole set and no xterm or VTE terminal (GNOME Terminal and
/// others) says it is itself. A multiplexer (tmux, GNU screen, zellij) passes no pictures through.
fn known_protocol(env: &dyn Fn(&str) -> String) -> Option<ProtocolType> {
    let set = |name: &str| !env(name).is_empty();
    let term = env("TERM");
    let multiplexed = ["TMUX", "STY", "ZELLIJ"].iter().any(|name| set(name))
        || ["screen", "tmux"].iter().any(|name| term.starts_with(name));
    let told_by_term_only = !term.starts_with("xterm") || set("VTE_VERSION") || set("XTERM_VERSION");
    let program = if told_by_term_only {
        String::new()
    } else {
        env("TERM_PROGRAM")
    };
    // Konsole draws Sixel from 22.04 on; it sets no `TERM_PROGRAM`, so one that is set names
    // another terminal started from Konsole's shell.
    let konsole_sixel = !told_by_term_only
        && program.is_empty()
        && env("KONSOLE_VERSION")
            .parse::<u32>()
            .is_ok_and(|version| version >= 220_400);
    if multiplexed {
        None
    } else if term.contains("kitty") || term.contains("ghostty") || program == "ghostty" {
        Some(ProtocolType::Kitty)
    } else if term.contains("wezterm") || ["iTerm.app", "WezTerm"].contains(&program.as_str()) {
        Some(ProtocolType::Iterm2)
    } else if term.starts_with("foot") || konsole_sixel {
        Some(ProtocolType::Sixel)
    } else {
        None
    }
}

/// A character cell's size in pixels, from the window size the terminal gives the kernel;
/// `None` where it gives no pixels.
fn cell_pixels() -> Option<ratatui_image::FontSize> {
    // SAFETY: TIOCGWINSZ fills the winsize it is given and reads nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let read = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (read == 0 && size.ws_col > 0 && size.ws_row > 0 && size.ws_xpixel > 0 && size.ws_ypixel > 0)
        .then(|| ratatui_image::FontSize::new(size.ws_xpixel / size.ws_col, size.ws_ypixel / size.ws_row))
}

/// `SIGTSTP` as it arrives: caught, so that the terminal is given back before the process stops.
fn stop_signals() -> std::io::Result<Receiver<i32>> {
    crate::app::signals_on_a_channel("stop-signal", &[signal_hook::consts::SIGTSTP])
}

/// What the player hears from outside its process: the terminal's keys and mouse, the
/// termination signals and `skipless remote`'s commands (when the socket could be opened).
struct Outside<'a> {
    input: &'a Receiver<TermEvent>,
    signals: &'a Receiver<i32>,
    /// `SIGTSTP`, which the terminal's raw mode leaves to `kill` alone.
    stops: &'a Receiver<i32>,
    remote: Option<&'a Server>,
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    engine: &Engine,
    outside: &Outside,
    mut mpris: Option<Mpris>,
    keeper: &mut Keeper,
    test_panic: bool,
) -> anyhow::Result<()> {
    let Outside {
        signals, stops, remote, ..
    } = *outside;
    let mut input = outside.input.clone();
    let mut mpris_requests = mpris.as_ref().map_or_else(crossbeam_channel::never, Mpris::requests);
    let remote_requests = remote.map_or_else(crossbeam_channel::never, Server::requests);
    let mut dirty = true;
    // Set once quitting begins: however many messages come meanwhile, the wait ends then.
    let mut quit_deadline: Option<crossbeam_channel::Receiver<Instant>> = None;
    let mut status_timer = StatusTimer::new(STATUS_SHOWN_FOR);
    // Whether the last message could have changed what `state.json` keeps: a position tick
    // (four a second while playing), a progress report or a message that expired cannot, and
    // the whole queue is not compared for them.
    let mut settings_touched = true;
    loop {
        if let Some(mpris) = mpris.as_mut() {
            let between_tracks = mpris_bridge::between_tracks(&app.controller);
            mpris.publish(mpris_bridge::state_of(&app.controller), between_tracks);
        }
        if std::mem::take(&mut settings_touched) {
            keeper.keep(app.remembered());
        }
        if let Some(request) = app.state.terminal_request.take() {
            let done = match request {
                TerminalRequest::Suspend => terminal::suspend(terminal),
                TerminalRequest::Redraw => terminal::redraw_all(terminal),
            };
            if let Err(e) = done {
                tracing::warn!("the terminal cannot be taken back ({e}): quitting");
                app.update(Action::Quit);
            }
            dirty = true;
        }
        // Once quitting, the terminal may be gone (a hang-up): nothing is drawn while the
        // engine reports the last play.
        if dirty && !app.state.quitting {
            let drawn = terminal.size().and_then(|size| {
                app.state.set_screen_size(size.width, size.height);
                app.want_art(Rect::new(0, 0, size.width, size.height));
                terminal.draw(|frame| draw(frame, app)).map(|_| ())
            });
            if let Err(e) = drawn {
                // As when the terminal hangs up: quit, so that the last play is logged.
                tracing::warn!("the terminal cannot be drawn on ({e}): quitting");
                app.update(Action::Quit);
            }
            dirty = false;
            if test_panic {
                panic!("test panic in the UI thread (SKIPLESS_TEST_PANIC=ui)");
            }
        }
        // After quit, wait (briefly) for the engine to report the last play so it is logged.
        let deadline = if app.state.quitting {
            quit_deadline
                .get_or_insert_with(|| crossbeam_channel::after(Duration::from_secs(3)))
                .clone()
        } else {
            crossbeam_channel::never()
        };
        let status_expiry = status_timer.expiry(&app.state);
        // The D-Bus thread ends when there is no session bus; its channel then stays ready, so
        // it is swapped for one that never delivers.
        let mut mpris_gone = false;
        settings_touched = true;
        // A remote command waits while a track is switched to, to act on the one switched to,
        // for a while at most.
        let switching = app.controller.switching_until();
        let remote_commands = if switching.is_some() {
            crossbeam_channel::never()
        } else {
            remote_requests.clone()
        };
        let switch_wait = switching.map_or_else(crossbeam_channel::never, crossbeam_channel::at);
        select! {
            recv(input) -> event => match event {
                Ok(event) => {
                    let area = terminal.get_frame().area();
                    dirty = app.handle_terminal(event, area);
                }
                // The terminal is gone: quit as on `q`, so that the last play is logged.
                Err(_) => {
                    input = crossbeam_channel::never();
                    if !app.state.quitting {
                        app.update(Action::Quit);
                    }
                }
            },
            recv(engine.events) -> event => match event {
                Ok(event) => {
                    if let (Some(mpris), Event::Seeked { position_ms, .. }) = (&mpris, &event) {
                        mpris.seeked(*position_ms);
                    }
                    settings_touched = !matches!(event, Event::Position { .. });
                    app.handle_engine(&event);
                    dirty = true;
                }
                // The engine thread has ended: after quit, that is the end.
                Err(_) => return Ok(()),
            },
            recv(app.worker_rx) -> msg => {
                if let Ok(msg) = msg {
                    settings_touched = !matches!(
                        msg,
                        crate::app::workers::WorkerMsg::ScanProgress { .. } | crate::app::workers::WorkerMsg::TrainProgress { .. }
                    );
                    app.handle_worker(msg);
                    dirty = true;
                }
            }
            recv(mpris_requests) -> request => match request {
                Ok(request) => {
                    app.handle_mpris(request);
                    dirty = true;
                }
                Err(_) => mpris_gone = true,
            },
            recv(remote_commands) -> request => {
                if let Some((command, reply)) = request.ok().and_then(RemoteRequest::in_time) {
                    let _ = reply.send(app.handle_remote(command));
                    dirty = true;
                }
            }
            recv(signals) -> signal => {
                if signal.is_ok() && !app.state.quitting {
                    app.update(Action::Quit);
                    dirty = true;
                }
            }
            // `kill -TSTP` (a job control stop from outside): as Ctrl-Z.
            recv(stops) -> stop => {
                if stop.is_ok() {
                    app.update(Action::Suspend);
                }
            }
            recv(status_expiry) -> _ => {
                app.state.status = None;
                settings_touched = false;
                dirty = true;
            }
            recv(switch_wait) -> _ => {}
            recv(deadline) -> _ => return Ok(()),
        }
        if mpris_gone {
            mpris = None;
            mpris_requests = crossbeam_channel::never();
        }
    }
}

/// How long a message stays on the status line.
const STATUS_SHOWN_FOR: Duration = Duration::from_secs(10);

/// When the status line's message goes: a while after it appeared, as in other players, so an
/// old "liked: …" does not read as news; a question stays until it is answered.
pub(crate) struct StatusTimer {
    shown_for: Duration,
    /// The message timed: its text and its count ([`State::said`]).
    message: (Option<String>, u64),
    since: Instant,
}

impl StatusTimer {
    pub(crate) fn new(shown_for: Duration) -> Self {
        Self {
            shown_for,
            message: (None, 0),
            since: Instant::now(),
        }
    }

    /// A channel that delivers when the message `state` shows is due to go (never when there is
    /// none, or it asks a question). A new message starts its own while, also one said again.
    pub(crate) fn expiry(&mut self, state: &State) -> Receiver<Instant> {
        if (state.status.as_ref(), state.said) != (self.message.0.as_ref(), self.message.1) {
            self.message = (state.status.clone(), state.said);
            self.since = Instant::now();
        }
        if self.message.0.is_some() && !state.awaiting_answer() {
            crossbeam_channel::at(self.since + self.shown_for)
        } else {
            crossbeam_channel::never()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::Track;

    #[test]
    fn terminals_known_for_pictures_are_told_by_their_variables() {
        type Variables = &'static [(&'static str, &'static str)];
        let cases: &[(Variables, Option<ProtocolType>)] = &[
            (
                &[("TERM", "xterm-kitty"), ("KITTY_WINDOW_ID", "1")],
                Some(ProtocolType::Kitty),
            ),
            (&[("TERM", "xterm-ghostty")], Some(ProtocolType::Kitty)),
            (
                &[("TERM", "xterm-256color"), ("TERM_PROGRAM", "ghostty")],
                Some(ProtocolType::Kitty),
            ),
            (
                &[("TERM", "xterm-256color"), ("TERM_PROGRAM", "iTerm.app")],
                Some(ProtocolType::Iterm2),
            ),
            (
                &[("TERM", "xterm-256color"), ("TERM_PROGRAM", "WezTerm")],
                Some(ProtocolType::Iterm2),
            ),
            (&[("TERM", "foot")], Some(ProtocolType::Sixel)),
            (
                &[("TERM", "xterm-256color"), ("KONSOLE_VERSION", "240802")],
                Some(ProtocolType::Sixel),
            ),
            (&[("TERM", "xterm-256color")], None),
            // Konsole before 22.04 draws no Sixel.
            (&[("TERM", "xterm-256color"), ("KONSOLE_VERSION", "211201")], None),
            // Alacritty started from a kitty or Konsole shell inherits their variables.
            (&[("TERM", "alacritty"), ("KITTY_WINDOW_ID", "1")], None),
            (
                &[
                    ("TERM", "xterm-256color"),
                    ("TERM_PROGRAM", "vscode"),
                    ("KONSOLE_VERSION", "240802"),
                ],
                None,
            ),
            // Nor do other terminals' variables, where TERM or the terminal's own say it is
            // another.
            (&[("TERM", "alacritty"), ("TERM_PROGRAM", "ghostty")], None),
            (&[("TERM", "alacritty"), ("TERM_PROGRAM", "WezTerm")], None),
            (
                &[
                    ("TERM", "xterm-256color"),
                    ("VTE_VERSION", "7600"),
                    ("TERM_PROGRAM", "WezTerm"),
                ],
                None,
            ),
            (
                &[
                    ("TERM", "xterm"),
                    ("XTERM_VERSION", "XTerm(390)"),
                    ("KONSOLE_VERSION", "240802"),
                ],
                None,
            ),
            (
                &[
                    ("TERM", "xterm-256color"),
                    ("VTE_VERSION", "7600"),
                    ("KONSOLE_VERSION", "240802"),
                ],
                None,
            ),
            // Multiplexers pass no pictures through.
            (&[("TERM", "xterm-kitty"), ("TMUX", "/tmp/tmux-1000/default,1,0")], None),
            (&[("TERM", "xterm-kitty"), ("STY", "1.pts-0.host")], None),
            (&[("TERM", "xterm-kitty"), ("ZELLIJ", "0")], None),
            (&[("TERM", "screen-256color"), ("KONSOLE_VERSION", "240802")], None),
        ];
        for (vars, protocol) in cases {
            let env = |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
                    .unwrap_or_default()
            };
            assert_eq!(known_protocol(&env), *protocol, "{vars:?}");
        }
    }

    #[test]
    fn a_message_goes_after_its_while_and_a_question_stays_until_answered() {
        let shown_for = Duration::from_millis(50);
        let mut timer = StatusTimer::new(shown_for);
        let mut state = State::default();
        assert!(timer.expiry(&state).recv_timeout(shown_for * 4).is_err());

        state.say("liked: a song");
        let expiry = timer.expiry(&state);
        assert!(expiry.recv_timeout(Duration::from_secs(5)).is_ok());

        // The same message said again a while later has its own while from then.
        std::thread::sleep(shown_for);
        state.say("liked: a song");
        let said_again = Instant::now();
        let expiry = timer.expiry(&state);
        let due = expiry.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(due >= said_again + shown_for, "it kept the first one's while");

        state.say("y bans a song (autoplay never queues it again); any other key keeps it");
        state.confirm_ban = Some(Track::default());
        assert!(timer.expiry(&state).recv_timeout(shown_for * 4).is_err());
    }
}
