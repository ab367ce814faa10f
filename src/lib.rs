//! skipless: a terminal music player that learns from your skips.
//!
//! The library holds every part; `main.rs` only parses the command line and calls [`cli`].

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod guard;
pub mod headless;
pub mod history;
pub mod library;
pub mod log;
pub mod logio;
pub mod mpris;
pub mod paths;
pub mod player;
pub mod recommend;
pub mod simulate;
pub mod ui;
