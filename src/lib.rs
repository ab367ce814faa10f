//! skipless: a terminal music player that learns from your skips.
//!
//! The library holds every part; `main.rs` only parses the command line and calls [`cli`].

pub mod cli;
pub mod config;
pub mod db;
pub mod history;
pub mod library;
pub mod paths;
pub mod player;
pub mod recommend;
