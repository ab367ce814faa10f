//! The integration tests, one test crate so the suite links once: each module drives the real
//! binary or the library on real files, a real SQLite database and real terminals.

mod architecture;
mod cli;
mod common;
mod corrupt_state;
mod crash_safety;
mod database;
mod device_output;
mod engine;
mod engine_decode;
mod eval;
mod export_import;
mod fuzz_regressions;
mod history_parsers;
mod lyrics;
mod marks;
mod mpris;
mod mutated_audio;
mod playback;
mod playlists;
mod recap;
mod recommend_checkpoint;
mod recommend_fused;
mod recommend_history;
mod recommend_model;
mod remote;
mod scan;
mod simulate;
mod tui;
mod tui_panic;
mod tui_tmux;
