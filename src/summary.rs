//! Summaries of the listening log that the screens show: totals and rankings ([`Stats`]),
//! per-track counts ([`TrackPlays`]), and the plays a summary counts one by one
//! ([`CountedPlay`]). `db` computes and reads them; nothing here reads a table.

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

/// How many plays were skipped, of some kind or in some week.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Skips {
    pub plays: u64,
    pub skips: u64,
}

impl Skips {
    /// The share of the plays skipped, 0 without plays.
    pub fn rate(self) -> f64 {
        if self.plays == 0 {
            0.0
        } else {
            self.skips as f64 / self.plays as f64
        }
    }
}

/// The plays and skips of one week, from its Monday midnight in the listener's time zone.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct WeekSkips {
    pub week_start_ms: i64,
    #[serde(flatten)]
    pub skips: Skips,
}

/// How many weeks the weekly skip rates go back.
pub const WEEKS_SHOWN: usize = 26;

/// One training run of the recommender, as `db::training` keeps it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrainingRun {
    pub finished_at_ms: i64,
    pub plays_seen: u64,
    /// The new model's served NDCG@10 on the run's validation slice.
    pub new_ndcg10: f64,
    /// The current model's on the same slice; `None` when there was none.
    pub old_ndcg10: Option<f64>,
    pub transformer_kept: bool,
    /// Whether the new model replaced the current one.
    pub saved: bool,
    pub train_ms: u64,
    /// "player" or "cli".
    pub started_by: String,
}

/// How many training runs the statistics list.
pub const RUNS_SHOWN: usize = 5;

/// Totals over the whole log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub plays: u64,
    pub listens: u64,
    pub skips: u64,
    pub skip_rate: f64,
    pub listening_ms: u64,
    pub sessions: u64,
    /// Of the plays, those imported for tracks the library lacks: counted in the totals and the
    /// artists (they teach the recommender too), not in the track lists.
    pub waiting: u64,
    pub top_tracks: Vec<RankedTrack>,
    pub top_artists: Vec<RankedArtist>,
    pub most_skipped: Vec<RankedTrack>,
    /// The last [`WEEKS_SHOWN`] weeks up to the latest play, oldest first; weeks without plays
    /// are there with none.
    pub weekly: Vec<WeekSkips>,
    /// Tracks the listener chose (played at once or queued).
    pub own_picks: Skips,
    /// Tracks autoplay chose.
    pub autoplay_picks: Skips,
    /// The last [`RUNS_SHOWN`] training runs, newest first.
    pub training_runs: Vec<TrainingRun>,
}

impl TrainingRun {
    /// The run in one line: when (to the minute, in local time), whether its model was saved, how it
    /// ranked against the model before and on how many plays.
    pub fn line(&self) -> String {
        let against = self
            .old_ndcg10
            .map(|old| format!(" (the model before: {old:.4})"))
            .unwrap_or_default();
        // "2026-12-03 07:56:50" to the minute.
        let when = crate::fmt::local_time(self.finished_at_ms);
        format!(
            "{} {} · NDCG@10 {:.4}{against} · {} plays{}",
            when.get(..16).unwrap_or(&when),
            if self.saved { "saved" } else { "discarded" },
            self.new_ndcg10,
            self.plays_seen,
            if self.transformer_kept {
                ""
            } else {
                " · history features alone"
            }
        )
    }
}

impl Skips {
    /// "12% of 340", or "no plays".
    pub fn share_line(self) -> String {
        if self.plays == 0 {
            "no plays".to_owned()
        } else {
            format!("{:.0}% of {}", self.rate() * 100.0, self.plays)
        }
    }
}

impl Stats {
    /// Who skips more: the listener's own picks or autoplay's, in one line.
    pub fn picks_line(&self) -> String {
        format!(
            "skipped: your picks {} · autoplay's picks {}",
            self.own_picks.share_line(),
            self.autoplay_picks.share_line()
        )
    }

    /// What the waiting imported plays are, when there are any.
    pub fn waiting_line(&self) -> Option<String> {
        (self.waiting > 0).then(|| {
            format!(
                "{} of the plays are imported ones waiting for their tracks (counted above and in the artists, \
                 not in the track lists): a scan of the folder that holds them matches them",
                self.waiting
            )
        })
    }

    /// The totals in one line.
    pub fn summary(&self) -> String {
        format!(
            "{} · {} · {} ({:.0}%) · {} listened · {}",
            crate::fmt::count(self.plays, "play"),
            crate::fmt::count(self.listens, "listen"),
            crate::fmt::count(self.skips, "skip"),
            self.skip_rate * 100.0,
            crate::fmt::format_duration(self.listening_ms),
            crate::fmt::count(self.sessions, "session")
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

/// Who chose a track that was played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PickedBy {
    /// The listener: played at once or queued.
    Listener,
    /// Autoplay.
    Autoplay,
    /// Nobody here: the play came from another service's history.
    Import,
}

/// One finished play as a summary counts it: a play of the log, or an imported play that is
/// still waiting for its track (then only its artist, title and album are known).
#[derive(Debug, Clone, PartialEq)]
pub struct CountedPlay {
    /// `None` for an imported play whose track the library lacks.
    pub track_id: Option<i64>,
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    pub played_ms: u64,
    pub skipped: bool,
    /// Long enough to count as a listen by the skip rule.
    pub listen: bool,
    pub picked_by: PickedBy,
    pub session_id: i64,
    pub artist: Option<String>,
    pub album_artist: Option<String>,
    pub album: Option<String>,
    pub title: String,
}
