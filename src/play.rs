//! What a play is: where it came from ([`PlaySource`]), who ended it ([`ControlSource`]), how it
//! ended ([`EndReason`]), when it counts as a listen or a skip ([`SkipRule`]), and a play completed
//! in the log ([`CompletedPlay`]). Plain data shared by the engine, the log, the database and the
//! front ends.

use serde::{Deserialize, Serialize};

use crate::config::LogConfig;

/// Where a play came from; stored with the play in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaySource {
    /// Chosen directly (Enter on a track, `skipless play FILE`).
    User,
    /// Queued by the user ahead of time.
    Queue,
    /// Picked by the recommender.
    Autoplay,
    /// Brought in from another service's history.
    Import,
}

impl PlaySource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PlaySource::User => "user",
            PlaySource::Queue => "queue",
            PlaySource::Autoplay => "autoplay",
            PlaySource::Import => "import",
        }
    }
}

/// Where a listener's command came from: the player's keys, the desktop through MPRIS, a line
/// on the headless player's stdin, or `skipless remote` through the player's socket. The engine carries it from a command that ends a play
/// to that play's [`Event::Ended`], so the log can tell which of them skipped a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlSource {
    Key,
    Mpris,
    Stdin,
    Remote,
}

impl ControlSource {
    /// The name stored in `plays.end_source`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ControlSource::Key => "key",
            ControlSource::Mpris => "mpris",
            ControlSource::Stdin => "stdin",
            ControlSource::Remote => "remote",
        }
    }

    /// The source named `text` in `plays.end_source`.
    pub(crate) fn parse(text: &str) -> Option<ControlSource> {
        [
            ControlSource::Key,
            ControlSource::Mpris,
            ControlSource::Stdin,
            ControlSource::Remote,
        ]
        .into_iter()
        .find(|source| source.as_str() == text)
    }
}

/// A play completed in the log: just now by the recorder, or earlier in the session a player
/// carries on (`db::plays::open_session_plays`).
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedPlay {
    /// Its row; `None` while the database could not take it (it waits in the recorder, to be
    /// written once the database takes writes again).
    pub play_id: Option<i64>,
    pub track_id: i64,
    pub session_id: i64,
    pub played_ms: u64,
    pub end_reason: EndReason,
    pub skipped: bool,
    /// Who ended it, when the listener did.
    pub end_source: Option<ControlSource>,
    /// When it ended (Unix ms): the time a play counts from everywhere, live and reloaded.
    pub ended_at: i64,
}

impl CompletedPlay {
    /// The play as the recommender learns from it.
    pub fn logged(&self) -> LoggedPlay {
        LoggedPlay {
            track_id: self.track_id,
            session_id: self.session_id,
            skipped: self.skipped,
            ts_ms: self.ended_at,
        }
    }
}

/// One finished play of the log, as the recommender learns from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedPlay {
    pub track_id: i64,
    pub session_id: i64,
    pub skipped: bool,
    /// When it ended, in Unix milliseconds.
    pub ts_ms: i64,
}

/// How a play ended: reported by the engine and stored in `plays.end_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    /// Played to its end.
    Finished,
    /// The listener moved on to another track (next, or chose a different one).
    Skipped,
    /// The listener went back to the previous track.
    Previous,
    /// Playback was stopped.
    Stopped,
    /// The program is quitting.
    Quit,
    /// The file could not be opened or decoded.
    Error,
    /// The player died while it played (found open at the next start); never reported by the
    /// engine.
    Interrupted,
}

impl EndReason {
    pub(crate) const ALL: [EndReason; 7] = [
        EndReason::Finished,
        EndReason::Skipped,
        EndReason::Previous,
        EndReason::Stopped,
        EndReason::Quit,
        EndReason::Error,
        EndReason::Interrupted,
    ];

    /// The end reason stored as `text`, or `None` for a value the log does not write.
    pub(crate) fn parse(text: &str) -> Option<EndReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EndReason::Finished => "finished",
            EndReason::Skipped => "skipped",
            EndReason::Previous => "previous",
            EndReason::Stopped => "stopped",
            EndReason::Quit => "quit",
            EndReason::Error => "error",
            EndReason::Interrupted => "interrupted",
        }
    }

    /// How the play ended, for people: a play the listener went on from is "next", since it may
    /// still have counted as a listen (the skip rule, not the key, makes a skip).
    pub(crate) fn word(self) -> &'static str {
        match self {
            EndReason::Skipped => "next",
            other => other.as_str(),
        }
    }
}

/// A play counts as a listen once it has played `listen_fraction` of the track or
/// `listen_ms`, whichever comes first. A play the listener ends (next, previous, another
/// track, stop) before that is a skip, and so is one that finishes because the listener
/// sought through it. Finishing unsought, quitting, errors and crashes are never skips: they say
/// nothing about whether the listener liked the track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SkipRule {
    pub listen_fraction: f64,
    pub listen_ms: u64,
}

impl SkipRule {
    pub(crate) fn from_config(config: &LogConfig) -> Self {
        Self {
            listen_fraction: config.listen_fraction,
            listen_ms: config.listen_seconds.saturating_mul(1000),
        }
    }

    /// Whether `played_ms` of a track of `duration_ms` (if known) is a listen.
    pub(crate) fn is_listen(&self, played_ms: u64, duration_ms: Option<u64>) -> bool {
        if played_ms >= self.listen_ms {
            return true;
        }
        match duration_ms {
            Some(duration) if duration > 0 => played_ms as f64 >= self.listen_fraction * duration as f64,
            _ => false,
        }
    }

    /// Whether a play that ended this way is a skip; `sought` when the listener moved its
    /// position (a track reached its end by seeking forward was not listened to either).
    pub(crate) fn is_skip(&self, reason: EndReason, played_ms: u64, duration_ms: Option<u64>, sought: bool) -> bool {
        let ended_by_listener = match reason {
            EndReason::Skipped | EndReason::Previous | EndReason::Stopped => true,
            EndReason::Finished => sought,
            EndReason::Quit | EndReason::Error | EndReason::Interrupted => false,
        };
        ended_by_listener && !self.is_listen(played_ms, duration_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: SkipRule = SkipRule {
        listen_fraction: 0.5,
        listen_ms: 240_000,
    };

    #[test]
    fn half_the_track_or_four_minutes() {
        assert!(RULE.is_skip(EndReason::Skipped, 2_000, Some(180_000), false));
        assert!(!RULE.is_skip(EndReason::Skipped, 90_000, Some(180_000), false));
        assert!(RULE.is_skip(EndReason::Skipped, 239_999, Some(600_000), false));
        assert!(!RULE.is_skip(EndReason::Skipped, 240_000, Some(600_000), false));
        assert!(RULE.is_skip(EndReason::Previous, 1_000, Some(180_000), false));
        assert!(RULE.is_skip(EndReason::Stopped, 1_000, None, false));
    }

    #[test]
    fn endings_not_chosen_by_the_listener_are_not_skips() {
        for reason in [
            EndReason::Finished,
            EndReason::Quit,
            EndReason::Error,
            EndReason::Interrupted,
        ] {
            assert!(!RULE.is_skip(reason, 1_000, Some(180_000), false), "{reason:?}");
        }
    }

    #[test]
    fn a_track_finished_by_seeking_through_it_is_a_skip_and_one_heard_after_a_seek_is_not() {
        assert!(RULE.is_skip(EndReason::Finished, 5_000, Some(180_000), true));
        assert!(!RULE.is_skip(EndReason::Finished, 170_000, Some(180_000), true));
        assert!(!RULE.is_skip(EndReason::Quit, 5_000, Some(180_000), true));
    }
}
