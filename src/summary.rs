//! Summaries of the listening log that the screens show: totals and rankings ([`Stats`]) and
//! per-track counts ([`TrackPlays`]). `db::plays` computes them; nothing here reads a table.

use serde::Serialize;

/// A ranked track in the statistics.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RankedTrack {
    pub track_id: i64,
    pub artist: Option<String>,
    pub title: String,
    pub count: u64,
}

impl RankedTrack {
    /// "Artist – Title".
    pub fn name(&self) -> String {
        format!(
            "{} – {}",
            self.artist.as_deref().unwrap_or("Unknown artist"),
            self.title
        )
    }
}

/// A ranked artist in the statistics.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RankedArtist {
    pub artist: String,
    pub count: u64,
}

/// Totals over the whole log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub plays: u64,
    pub listens: u64,
    pub skips: u64,
    pub skip_rate: f64,
    pub listening_ms: u64,
    pub sessions: u64,
    pub top_tracks: Vec<RankedTrack>,
    pub top_artists: Vec<RankedArtist>,
    pub most_skipped: Vec<RankedTrack>,
}

impl Stats {
    /// The totals in one line.
    pub fn summary(&self) -> String {
        format!(
            "{} plays · {} listens · {} skips ({:.0}%) · {} listened · {} sessions",
            self.plays,
            self.listens,
            self.skips,
            self.skip_rate * 100.0,
            crate::fmt::format_duration(self.listening_ms),
            self.sessions
        )
    }
}

/// Per-track play counts for sorting and display.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrackPlays {
    pub plays: u32,
    pub skips: u32,
    pub last_played: Option<i64>,
}

impl TrackPlays {
    pub fn skip_rate(&self) -> f64 {
        if self.plays == 0 {
            0.0
        } else {
            f64::from(self.skips) / f64::from(self.plays)
        }
    }
}
