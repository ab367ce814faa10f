//! Application state and control: the play [`queue`] and the playback [`controller`] that the
//! TUI and the headless player share.

pub mod autoplay;
pub mod controller;
pub mod keymap;
pub mod library;
pub mod queue;
pub mod state;
pub mod tui;
pub mod workers;

use crate::config::Config;
use crate::db::Database;
use crate::log::{Recorder, SystemClock};
use crate::player::{Engine, EngineOptions};
use controller::Controller;

/// Starts the engine and the controller the way both front ends use them.
pub fn start_playback(
    config: &Config,
    db_path: &std::path::Path,
) -> anyhow::Result<(Engine, Controller, Option<String>)> {
    let db = Database::open(db_path)?;
    let mut recorder = Recorder::new(db, &config.log, Box::new(SystemClock));
    let closed = recorder.close_interrupted()?;
    let engine = Engine::start(EngineOptions {
        output: config.playback.audio,
        null_speed: crate::player::null_speed_from_env(),
        volume: config.playback.volume,
        ..EngineOptions::default()
    })?;
    let mut notices: Vec<String> = engine.notice().map(str::to_owned).into_iter().collect();
    if closed > 0 {
        notices.push(format!(
            "closed {closed} play(s) left open by an earlier crash as interrupted"
        ));
    }
    let controller = Controller::new(engine.commands.clone(), recorder, &config.playback);
    Ok((engine, controller, (!notices.is_empty()).then(|| notices.join("; "))))
}
