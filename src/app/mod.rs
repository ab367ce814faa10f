//! Application state and control: the play [`queue`] and the playback [`controller`] that the
//! TUI and the headless player share.

pub mod controller;
pub mod keymap;
pub mod library;
pub mod queue;
pub mod state;
pub mod tui;
pub mod workers;
