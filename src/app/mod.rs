//! What the front ends (the TUI, the headless player, the command line) share: the run's
//! [`Context`], the playback [`controller`] and its play [`queue`], live recommendations
//! ([`autoplay`]), the in-memory [`library`] index, background [`workers`], scanning
//! ([`scan`]) and watching the roots ([`watch`], [`watch::Rescans`]), search off the UI thread
//! ([`search::Searcher`]), covers ([`art::ArtCache`]), what the player keeps across runs
//! ([`remembered::Remembered`], [`remembered::Keeper`]), desktop requests ([`mpris_bridge`]),
//! line commands from stdin or a shell ([`commands`], over the player's socket: [`remote`]) and
//! the closed-loop simulation ([`simulate`]); their one error type, [`AppError`].

pub mod art;
pub mod autoplay;
pub(crate) mod commands;
mod context;
pub(crate) mod controller;
mod error;
pub mod library;
pub mod mpris_bridge;
pub(crate) mod queue;
pub(crate) mod remembered;
pub(crate) mod remote;
pub(crate) mod scan;
pub mod search;
pub(crate) mod simulate;
pub(crate) mod watch;
pub(crate) mod workers;

pub(crate) use context::Context;
pub use error::AppError;

use crate::config::Config;
use crate::db::Database;
use crate::log::{Recorder, SystemClock};
use crate::player::{Engine, EngineOptions};
use controller::Controller;

/// Starts the engine and the controller the way both front ends use them.
pub fn start_playback(
    config: &Config,
    db_path: &std::path::Path,
) -> Result<(Engine, Controller, Option<String>), AppError> {
    let db = Database::open(db_path)?;
    let mut recorder = Recorder::new(db, &config.log, Box::new(SystemClock));
    let kept = recorder.write_kept();
    let closed = recorder.close_interrupted()?;
    let engine = Engine::start(EngineOptions {
        output: config.playback.audio,
        null_speed: crate::player::null_speed_from_env(),
        volume: config.playback.volume,
        ..EngineOptions::default()
    })?;
    let mut notices: Vec<String> = engine.notice().map(str::to_owned).into_iter().chain(kept).collect();
    if closed > 0 {
        notices.push(format!(
            "closed {} left open by an earlier crash as interrupted",
            crate::fmt::count(closed as u64, "play")
        ));
    }
    let carried = recorder.session_so_far(controller::HISTORY_KEPT)?;
    let mut controller = Controller::new(engine.commands.clone(), recorder, &config.playback);
    controller.history = carried;
    Ok((engine, controller, (!notices.is_empty()).then(|| notices.join("; "))))
}

/// SIGINT, SIGTERM, SIGHUP and SIGQUIT, as they arrive: both players end on them as on a quit (the
/// current play logged as `quit`, the terminal restored), where the default action would leave
/// the play open and the terminal raw.
pub(crate) fn termination_signals() -> std::io::Result<crossbeam_channel::Receiver<i32>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    signals_on_a_channel("signals", &[SIGINT, SIGTERM, SIGHUP, SIGQUIT])
}

/// `signals`, caught from now on and sent, as they arrive, by a thread named `name` to the
/// channel returned.
pub(crate) fn signals_on_a_channel(name: &str, signals: &[i32]) -> std::io::Result<crossbeam_channel::Receiver<i32>> {
    let mut caught = signal_hook::iterator::Signals::new(signals)?;
    let (tx, rx) = crossbeam_channel::bounded(signals.len());
    std::thread::Builder::new().name(name.into()).spawn(move || {
        for signal in caught.forever() {
            if tx.send(signal).is_err() {
                break;
            }
        }
    })?;
    Ok(rx)
}
