//! When a play is a listen and when it is a skip ([`SkipRule`], [`EndReason`]).

use crate::config::LogConfig;
use crate::player::EndCause;

/// How a play ended, as stored in `plays.end_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    Finished,
    Skipped,
    Previous,
    Stopped,
    Quit,
    Error,
    Interrupted,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
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

    pub fn from_cause(cause: EndCause) -> Self {
        match cause {
            EndCause::Finished => EndReason::Finished,
            EndCause::Skipped => EndReason::Skipped,
            EndCause::Previous => EndReason::Previous,
            EndCause::Stopped => EndReason::Stopped,
            EndCause::Quit => EndReason::Quit,
            EndCause::Error => EndReason::Error,
        }
    }
}

/// A play counts as a listen once it has played `listen_fraction` of the track or
/// `listen_ms`, whichever comes first. A play the listener ends (next, previous, another
/// track, stop) before that is a skip. Finishing, quitting, errors and crashes are never skips:
/// they say nothing about whether the listener liked the track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkipRule {
    pub listen_fraction: f64,
    pub listen_ms: u64,
}

impl SkipRule {
    pub fn from_config(config: &LogConfig) -> Self {
        Self {
            listen_fraction: config.listen_fraction,
            listen_ms: config.listen_seconds.saturating_mul(1000),
        }
    }

    /// Whether `played_ms` of a track of `duration_ms` (if known) is a listen.
    pub fn is_listen(&self, played_ms: u64, duration_ms: Option<u64>) -> bool {
        if played_ms >= self.listen_ms {
            return true;
        }
        match duration_ms {
            Some(duration) if duration > 0 => played_ms as f64 >= self.listen_fraction * duration as f64,
            _ => false,
        }
    }

    /// Whether a play that ended this way is a skip.
    pub fn is_skip(&self, reason: EndReason, played_ms: u64, duration_ms: Option<u64>) -> bool {
        let ended_by_listener = matches!(reason, EndReason::Skipped | EndReason::Previous | EndReason::Stopped);
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
        assert!(RULE.is_skip(EndReason::Skipped, 2_000, Some(180_000)));
        assert!(!RULE.is_skip(EndReason::Skipped, 90_000, Some(180_000)));
        assert!(RULE.is_skip(EndReason::Skipped, 239_999, Some(600_000)));
        assert!(!RULE.is_skip(EndReason::Skipped, 240_000, Some(600_000)));
        assert!(RULE.is_skip(EndReason::Previous, 1_000, Some(180_000)));
        assert!(RULE.is_skip(EndReason::Stopped, 1_000, None));
    }

    #[test]
    fn endings_not_chosen_by_the_listener_are_not_skips() {
        for reason in [
            EndReason::Finished,
            EndReason::Quit,
            EndReason::Error,
            EndReason::Interrupted,
        ] {
            assert!(!RULE.is_skip(reason, 1_000, Some(180_000)), "{reason:?}");
        }
    }
}
