//! skipless: a terminal music player that learns from your skips.
//!
//! The library holds every part; `main.rs` only parses the command line and calls [`cli`].
//! Modules import one way, from the front ends down (the allowed arrows are listed in
//! `ARCHITECTURE.md` and checked by a test):
//!
//! - front ends: [`cli`], [`tui`], [`headless`];
//! - [`app`]: what the front ends share (controller, queue, autoplay, workers);
//! - the parts: [`library`], [`player`], [`log`], [`recommend`], [`logio`], [`recap`], [`mpris`];
//! - [`db`]: the schema, every SQL statement, the migrations;
//! - plain data and helpers: [`track`], [`play`], [`marks`], [`summary`], [`clock`], [`fmt`], [`config`],
//!   [`keymap`], [`paths`], [`history`], [`guard`], [`lyrics`], [`playlist`], [`uri`], [`atomic_file`],
//!   [`mp4_trim`].
//!
//! Items are `pub(crate)` unless something outside the crate needs them, so the compiler reports
//! dead code. The `pub` API is what the integration tests (`tests/it`), the benches, the fuzz
//! targets and the examples drive: the engine ([`player::Engine`]) and decoder, the database and
//! scanner, the recorder, the history readers, the recommender's model, step and checkpoints
//! (the candle graph of the loss only with the `reference` feature), the controller and
//! autoplay, and the player UI ([`tui::App`], [`tui::draw`]).

pub mod app;
pub mod atomic_file;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod fmt;
pub mod guard;
pub mod headless;
pub mod history;
pub mod keymap;
pub mod library;
pub mod log;
pub mod logio;
pub mod lyrics;
pub mod marks;
pub(crate) mod mp4_trim;
pub mod mpris;
pub mod paths;
pub mod play;
pub mod player;
pub mod playlist;
pub mod recap;
pub mod recommend;
pub mod summary;
pub mod track;
pub mod tui;
pub mod uri;
