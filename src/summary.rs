//! Summaries of the listening log that the screens show: the plays a summary counts one by one
//! ([`CountedPlay`], which `db` reads), summed up one way ([`Counts`]: the totals, who chose
//! the tracks, and the top artists, tracks and albums) for the statistics ([`Stats`]) and the
//! recap alike, and per-track counts ([`TrackPlays`]). Nothing here reads a table.

use std::collections::HashMap;

use serde::Serialize;

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

/// The whole log summed up: the statistics view and `skipless stats`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    #[serde(flatten)]
    pub totals: Totals,
    /// Plays and skips by who chose the track.
    pub kinds: Kinds,
    pub top_tracks: Vec<TopTrack>,
    pub top_artists: Vec<TopArtist>,
    pub most_skipped: Vec<TopTrack>,
    /// The last [`WEEKS_SHOWN`] weeks up to the latest play, oldest first; weeks without plays
    /// are there with none.
    pub weekly: Vec<WeekSkips>,
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
            "{} {} · NDCG@10 {:.4}{against} · {}{}",
            when.get(..16).unwrap_or(&when),
            if self.saved { "saved" } else { "discarded" },
            self.new_ndcg10,
            crate::fmt::count(self.plays_seen, "play"),
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
            self.kinds.own.share_line(),
            self.kinds.autoplay.share_line()
        )
    }

    /// What the waiting imported plays are, when there are any.
    pub fn waiting_line(&self) -> Option<String> {
        let waiting = self.totals.unmatched_imports;
        (waiting > 0).then(|| {
            let (are, their_tracks, them) = match waiting {
                1 => ("is an imported one", "its track", "it"),
                _ => ("are imported ones", "their tracks", "them"),
            };
            format!(
                "{} of the plays {are} waiting for {their_tracks} (counted by artist and title): \
                 a scan of the folder that holds {them} matches {them}",
                crate::fmt::group_digits(waiting)
            )
        })
    }

    /// The totals in one line.
    pub fn summary(&self) -> String {
        let t = &self.totals;
        format!(
            "{} · {} · {} ({:.0}%) · {} listened · {}",
            crate::fmt::count(t.plays, "play"),
            crate::fmt::count(t.listens, "listen"),
            crate::fmt::count(t.skips, "skip"),
            t.skip_rate * 100.0,
            crate::fmt::format_duration(t.listening_ms),
            crate::fmt::count(t.sessions, "session")
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

/// Counts over the whole log or a range of it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Totals {
    pub plays: u64,
    pub listens: u64,
    pub skips: u64,
    pub skip_rate: f64,
    pub listening_ms: u64,
    pub sessions: u64,
    /// Different tracks (by artist and title) and artists played.
    pub tracks: u64,
    pub artists: u64,
    /// Imported plays whose track the library does not have (counted everywhere, by their
    /// artist and title).
    pub unmatched_imports: u64,
}

/// Plays and skips of the listener's own picks, autoplay's picks and imported plays.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Kinds {
    pub own: Skips,
    pub autoplay: Skips,
    pub imported: Skips,
}

impl Kinds {
    pub fn add(&mut self, play: &CountedPlay) {
        let kind = match play.picked_by {
            PickedBy::Listener => &mut self.own,
            PickedBy::Autoplay => &mut self.autoplay,
            PickedBy::Import => &mut self.imported,
        };
        kind.plays += 1;
        kind.skips += u64::from(play.skipped);
    }
}

/// Plays of one artist, track or album.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Tally {
    pub plays: u64,
    pub listens: u64,
    pub skips: u64,
    pub listening_ms: u64,
}

impl Tally {
    pub fn add(&mut self, play: &CountedPlay) {
        self.plays += 1;
        self.listens += u64::from(play.listen);
        self.skips += u64::from(play.skipped);
        self.listening_ms += play.played_ms;
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopArtist {
    pub artist: String,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopTrack {
    pub artist: String,
    pub title: String,
    #[serde(flatten)]
    pub tally: Tally,
}

impl TopTrack {
    /// "Artist – Title".
    pub fn name(&self) -> String {
        format!("{} – {}", self.artist, self.title)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopAlbum {
    /// The album artist, else the track artist.
    pub artist: String,
    pub album: String,
    #[serde(flatten)]
    pub tally: Tally,
}

/// A track's or an artist's name as the key that groups its plays: the same song tagged
/// "The Cure" in one file and "the cure" in a Spotify history is one, and so are two files of
/// one song.
fn key(text: &str) -> String {
    crate::track::name_key(text)
}

/// The sums every summary of plays shares, as plays come in.
#[derive(Debug, Default)]
pub struct Counts {
    totals: Tally,
    kinds: Kinds,
    /// Each session's first start and last end.
    sessions: HashMap<i64, (i64, i64)>,
    artists: HashMap<String, (String, Tally)>,
    tracks: HashMap<(String, String), (String, String, Tally)>,
    albums: HashMap<(String, String), (String, String, Tally)>,
    unmatched: u64,
}

impl Counts {
    pub fn add(&mut self, play: &CountedPlay) {
        self.totals.add(play);
        self.kinds.add(play);
        let ended = play.ended_at_ms.max(play.started_at_ms);
        let session = self
            .sessions
            .entry(play.session_id)
            .or_insert((play.started_at_ms, ended));
        session.0 = session.0.min(play.started_at_ms);
        session.1 = session.1.max(ended);
        let artist = play.artist.as_deref().unwrap_or(crate::track::UNKNOWN_ARTIST);
        self.artists
            .entry(key(artist))
            .or_insert_with(|| (artist.to_owned(), Tally::default()))
            .1
            .add(play);
        self.tracks
            .entry((key(artist), key(&play.title)))
            .or_insert_with(|| (artist.to_owned(), play.title.clone(), Tally::default()))
            .2
            .add(play);
        if let Some(album) = play.album.as_deref().filter(|a| !a.trim().is_empty()) {
            let album_artist = play.album_artist.as_deref().unwrap_or(artist);
            self.albums
                .entry((key(album_artist), key(album)))
                .or_insert_with(|| (album_artist.to_owned(), album.to_owned(), Tally::default()))
                .2
                .add(play);
        }
        self.unmatched += u64::from(play.track_id.is_none());
    }

    pub fn totals(&self) -> Totals {
        Totals {
            plays: self.totals.plays,
            listens: self.totals.listens,
            skips: self.totals.skips,
            skip_rate: Skips {
                plays: self.totals.plays,
                skips: self.totals.skips,
            }
            .rate(),
            listening_ms: self.totals.listening_ms,
            sessions: self.sessions.len() as u64,
            tracks: self.tracks.len() as u64,
            artists: self.artists.len() as u64,
            unmatched_imports: self.unmatched,
        }
    }

    pub fn kinds(&self) -> Kinds {
        self.kinds
    }

    /// Each session's length in milliseconds, from its first start to its last end.
    pub fn session_lengths_ms(&self) -> impl Iterator<Item = i64> + '_ {
        self.sessions.values().map(|(start, end)| (end - start).max(0))
    }

    /// The `n` artists listened to most (none only ever skipped or cut short).
    pub fn top_artists(&self, n: usize) -> Vec<TopArtist> {
        let mut artists: Vec<TopArtist> = self
            .artists
            .values()
            .filter(|(_, tally)| tally.listens > 0)
            .map(|(artist, tally)| TopArtist {
                artist: artist.clone(),
                tally: *tally,
            })
            .collect();
        artists.sort_by(|a, b| by_listens(&a.tally, &b.tally).then_with(|| a.artist.cmp(&b.artist)));
        artists.truncate(n);
        artists
    }

    fn tracks(&self) -> impl Iterator<Item = TopTrack> + '_ {
        self.tracks.values().map(|(artist, title, tally)| TopTrack {
            artist: artist.clone(),
            title: title.clone(),
            tally: *tally,
        })
    }

    /// The `n` tracks listened to most (none only ever skipped or cut short).
    pub fn top_tracks(&self, n: usize) -> Vec<TopTrack> {
        let mut tracks: Vec<TopTrack> = self.tracks().filter(|t| t.tally.listens > 0).collect();
        tracks.sort_by(|a, b| by_listens(&a.tally, &b.tally).then_with(|| by_name(a, b)));
        tracks.truncate(n);
        tracks
    }

    /// The `n` tracks skipped most often; of two skipped as often, the one played less first.
    pub fn most_skipped(&self, n: usize) -> Vec<TopTrack> {
        let mut tracks: Vec<TopTrack> = self.tracks().filter(|t| t.tally.skips > 0).collect();
        tracks.sort_by(|a, b| {
            b.tally
                .skips
                .cmp(&a.tally.skips)
                .then(a.tally.plays.cmp(&b.tally.plays))
                .then_with(|| by_name(a, b))
        });
        tracks.truncate(n);
        tracks
    }

    /// The `n` albums listened to most (none only ever skipped or cut short).
    pub fn top_albums(&self, n: usize) -> Vec<TopAlbum> {
        let mut albums: Vec<TopAlbum> = self
            .albums
            .values()
            .filter(|(.., tally)| tally.listens > 0)
            .map(|(artist, album, tally)| TopAlbum {
                artist: artist.clone(),
                album: album.clone(),
                tally: *tally,
            })
            .collect();
        albums.sort_by(|a, b| {
            by_listens(&a.tally, &b.tally)
                .then_with(|| a.album.cmp(&b.album))
                .then_with(|| a.artist.cmp(&b.artist))
        });
        albums.truncate(n);
        albums
    }
}

fn by_listens(a: &Tally, b: &Tally) -> std::cmp::Ordering {
    b.listens.cmp(&a.listens).then(b.plays.cmp(&a.plays))
}

fn by_name(a: &TopTrack, b: &TopTrack) -> std::cmp::Ordering {
    a.artist.cmp(&b.artist).then_with(|| a.title.cmp(&b.title))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A top list is of what was listened to: an artist, album or track only ever skipped is not
    /// on it with 0 listens.
    #[test]
    fn what_was_only_ever_skipped_is_in_no_top_list() {
        let play = |artist: &str, title: &str, listen: bool| CountedPlay {
            track_id: None,
            started_at_ms: 0,
            ended_at_ms: 1,
            played_ms: 1,
            skipped: !listen,
            listen,
            picked_by: PickedBy::Listener,
            session_id: 1,
            artist: Some(artist.into()),
            album_artist: None,
            album: Some(format!("{title} album")),
            title: title.into(),
        };
        let mut counts = Counts::default();
        counts.add(&play("Heard", "Song", true));
        counts.add(&play("Skipped", "Other", false));
        let names: Vec<String> = counts.top_artists(10).into_iter().map(|a| a.artist).collect();
        assert_eq!(names, ["Heard"]);
        assert_eq!(counts.top_tracks(10).len(), 1);
        assert_eq!(counts.top_albums(10).len(), 1);
        assert_eq!(counts.most_skipped(10)[0].artist, "Skipped");
    }
}
