//! The playback engine: a thread driven by [`Command`]s that reports [`Event`]s.
//!
//! The engine only knows audio: the track playing now and the one to follow it without a gap.
//! Queues, skip rules and logging live elsewhere; they talk to the engine only through the
//! two channels of [`Engine`].
//!
//! Modules: `engine` (the command thread, [`Engine`], [`EngineOptions`]), `decoder` (the thread
//! that decodes ahead), [`decode`] (files to samples), `opus` (Ogg Opus), `output` (the queue and
//! the null output), `device` (rodio).

pub mod decode;
mod decoder;
mod device;
mod engine;
mod opus;
mod output;

use std::path::PathBuf;
use std::time::Duration;

use crate::play::{ControlSource, EndReason, PlaySource};
pub use engine::{null_speed_from_env, Engine, EngineOptions, OutputKind};

/// Why the engine could not start, or a file could not be played. Each message is one line and
/// names the file.
#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    #[error("{}: cannot open: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{}: not a playable audio file: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{}: decoding failed: {message}", path.display())]
    Decode { path: PathBuf, message: String },
    #[error("{}: cannot seek: {message}", path.display())]
    Seek { path: PathBuf, message: String },
    #[error("no audio device ({0})")]
    Device(String),
    #[error("cannot start the playback thread: {0}")]
    Thread(std::io::Error),
}

/// A track handed to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayItem {
    pub track_id: i64,
    pub path: PathBuf,
    /// Duration from the index, if known; the decoder's own figure wins when it has one.
    pub duration_ms: Option<u64>,
    /// Gain to apply in dB (ReplayGain, already chosen per the config).
    pub gain_db: f32,
    pub source: PlaySource,
}

/// A seek target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeekTo {
    Absolute(Duration),
    Forward(Duration),
    Backward(Duration),
}

impl SeekTo {
    /// Where the seek goes from `position_ms` (not bounded by the track's end).
    pub fn target_ms(self, position_ms: u64) -> u64 {
        match self {
            SeekTo::Absolute(to) => to.as_millis() as u64,
            SeekTo::Forward(by) => position_ms.saturating_add(by.as_millis() as u64),
            SeekTo::Backward(by) => position_ms.saturating_sub(by.as_millis() as u64),
        }
    }
}

/// What the engine is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Play `item` now; a play in progress ends with `ended_by`, at the request of `by`.
    Play {
        item: PlayItem,
        ended_by: EndReason,
        by: Option<ControlSource>,
        /// How many [`Event::Started`] the sender had handled when it sent this (`None`: it
        /// means whatever plays). A `next` sent as a track ends may find the engine already
        /// gone on, gaplessly, to the very item it asks for: that play was never heard by the
        /// sender, so it is not ended as skipped and played again; the command is carried out.
        /// (So is a play of the same entry asked for just then, which is the one playing.)
        seen_starts: Option<u64>,
    },
    /// The track that follows the current one without a gap (`None`: stop after it).
    SetNext(Option<PlayItem>),
    Pause,
    Resume,
    Toggle,
    /// Stop playing; a play in progress ends with `ended_by`, at the request of `by`.
    Stop {
        ended_by: EndReason,
        by: Option<ControlSource>,
    },
    /// Seek in the play of `track_id`; a seek that arrives once another track plays (the one it
    /// was meant for ended, by itself or by an earlier seek past its end) is dropped.
    Seek {
        track_id: i64,
        to: SeekTo,
    },
    /// Volume in percent, 0-100.
    Volume(u8),
    /// End the engine thread; a play in progress ends as [`EndReason::Quit`].
    Shutdown,
}

/// What the engine reports. Every `Started` is followed by exactly one `Ended` for that item.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `item` became audible (for a gapless follow-up: at its first sample).
    Started {
        item: PlayItem,
        duration_ms: Option<u64>,
    },
    /// Progress, a few times a second while playing. `played_ms` counts audio actually output
    /// for this play (pauses and skipped-over ranges excluded); `position_ms` is the position
    /// in the track.
    Position {
        track_id: i64,
        position_ms: u64,
        played_ms: u64,
    },
    Paused {
        track_id: i64,
        position_ms: u64,
    },
    Resumed {
        track_id: i64,
        position_ms: u64,
    },
    /// A seek landed.
    Seeked {
        track_id: i64,
        position_ms: u64,
    },
    /// The play of `item` ended. `error` is set when `cause` is [`EndReason::Error`]; `by` is
    /// the source of the command that ended it (none when it finished, failed or the engine quit).
    Ended {
        item: PlayItem,
        cause: EndReason,
        position_ms: u64,
        played_ms: u64,
        error: Option<String>,
        by: Option<ControlSource>,
    },
    /// Volume changed.
    Volume(u8),
    /// Nothing is playing and nothing is queued in the engine.
    Idle,
}
