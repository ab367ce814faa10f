//! The listening recap (`skipless recap`): the log over a time range summed up by the
//! listener's local day, week and hour ([`Recap`], built by [`build`] from the
//! [`CountedPlay`]s `db` reads), and drawn as one self-contained HTML page with inline SVG
//! charts (`page::render`, with the charts of `chart`).
//!
//! Local time comes from the system's time-zone database through jiff (`TZ` when set), which
//! is safe to read in a threaded program.

mod chart;
mod page;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::clock::{monday_of, TimeRange};
use crate::db::Database;
use crate::play::SkipRule;
use crate::summary::{CountedPlay, Counts, Kinds, Tally, TopAlbum, TopArtist, TopTrack, Totals, TrainingRun};

pub(crate) use page::render;

/// Why a recap could not be made; one line for the listener.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecapError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("{}: cannot write the recap: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// How many artists, tracks and albums the top lists show.
const TOP: usize = 10;

/// Seconds played before a skip, in bins of this many seconds up to [`SKIP_BINS`] bins; the
/// last bin holds everything longer.
const SKIP_BIN_S: u32 = 10;
const SKIP_BINS: u32 = 19;

/// Session lengths in minutes: each bucket from its bound up to the next.
const SESSION_BOUNDS_MIN: [u32; 7] = [0, 5, 15, 30, 60, 120, 240];

/// The recap of the plays that started in a time range.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Recap {
    /// The time zone days, weeks and hours are counted in.
    pub time_zone: String,
    /// The range asked for (`--since`, `--until`), Unix milliseconds.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub first_play_ms: Option<i64>,
    pub last_play_ms: Option<i64>,
    pub totals: Totals,
    /// Plays and skips by who chose the track.
    pub kinds: Kinds,
    /// Every local day from the first play to the last, the days without plays included.
    pub days: Vec<Day>,
    /// Every local week (Monday on) from the first play to the last.
    pub weeks: Vec<Week>,
    /// How long skipped plays ran before the skip.
    pub skip_seconds: Vec<SkipBin>,
    pub top_artists: Vec<TopArtist>,
    pub top_tracks: Vec<TopTrack>,
    pub top_albums: Vec<TopAlbum>,
    /// The tracks skipped most often.
    pub most_skipped: Vec<TopTrack>,
    /// Plays by local weekday (Monday first) and hour of the day.
    pub hour_weekday: Vec<[u64; 24]>,
    pub sessions_by_length: Vec<SessionBin>,
    /// The recommender's training runs that finished in the range, oldest first.
    pub training_runs: Vec<TrainingRun>,
}

/// One local day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub plays: u64,
    pub skips: u64,
    pub listening_ms: u64,
}

/// One local week, Monday on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Week {
    /// The Monday, `YYYY-MM-DD`.
    pub start: String,
    pub plays: u64,
    pub skips: u64,
    pub listening_ms: u64,
    pub kinds: Kinds,
}

/// Skipped plays that ran `from_s` up to `to_s` seconds (no bound for the last bin).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct SkipBin {
    pub from_s: u32,
    pub to_s: Option<u32>,
    pub skips: u64,
}

/// Sessions that lasted `from_min` up to `to_min` minutes (no bound for the last bin).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct SessionBin {
    pub from_min: u32,
    pub to_min: Option<u32>,
    pub sessions: u64,
}

/// The time zone's name for people: its IANA name, else its offset now.
pub(crate) fn zone_name(tz: &TimeZone) -> String {
    match tz.iana_name() {
        Some(name) => name.to_owned(),
        None => format!("UTC{}", tz.to_offset(Timestamp::now())),
    }
}

/// The recap of the plays in `range`, days and hours counted in `tz`.
pub(crate) fn build(db: &Database, rule: &SkipRule, range: TimeRange, tz: &TimeZone) -> Result<Recap, RecapError> {
    let (since, until) = range.bounds();
    let mut tally = Tallies::new(tz.clone());
    crate::db::plays::for_each_counted_play(db.conn(), since, until, rule, |play| {
        tally.add(&play);
        Ok::<_, rusqlite::Error>(())
    })
    .map_err(|e| db.err(e))?;
    let runs = crate::db::training::between(db.conn(), since, until).map_err(|e| db.err(e))?;
    Ok(tally.finish(range, zone_name(tz), runs))
}

#[derive(Default)]
struct WeekTally {
    tally: Tally,
    kinds: Kinds,
}

/// The sums as plays come in, in order of start: the [`Counts`] every summary shares, and what
/// the recap adds by local time.
struct Tallies {
    tz: TimeZone,
    counts: Counts,
    first: Option<i64>,
    last: Option<i64>,
    days: BTreeMap<Date, Tally>,
    weeks: BTreeMap<Date, WeekTally>,
    skip_bins: [u64; SKIP_BINS as usize],
    hour_weekday: [[u64; 24]; 7],
}

impl Tallies {
    fn new(tz: TimeZone) -> Self {
        Self {
            tz,
            counts: Counts::default(),
            first: None,
            last: None,
            days: BTreeMap::new(),
            weeks: BTreeMap::new(),
            skip_bins: [0; SKIP_BINS as usize],
            hour_weekday: [[0; 24]; 7],
        }
    }

    fn local(&self, ms: i64) -> DateTime {
        let time = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        self.tz.to_datetime(time)
    }

    fn add(&mut self, play: &CountedPlay) {
        self.counts.add(play);
        self.first = Some(self.first.map_or(play.started_at_ms, |f| f.min(play.started_at_ms)));
        self.last = Some(self.last.map_or(play.started_at_ms, |l| l.max(play.started_at_ms)));
        let local = self.local(play.started_at_ms);
        self.days.entry(local.date()).or_default().add(play);
        let week = self.weeks.entry(monday_of(local.date())).or_default();
        week.tally.add(play);
        week.kinds.add(play);
        let weekday = local.weekday().to_monday_zero_offset() as usize;
        self.hour_weekday[weekday][local.hour() as usize] += 1;
        if play.skipped {
            let bin = (play.played_ms / (u64::from(SKIP_BIN_S) * 1000)).min(u64::from(SKIP_BINS) - 1);
            self.skip_bins[bin as usize] += 1;
        }
    }

    fn finish(self, range: TimeRange, time_zone: String, training_runs: Vec<TrainingRun>) -> Recap {
        let days = match (self.days.keys().next(), self.days.keys().next_back()) {
            (Some(&first), Some(&last)) => every_day(first, last, 1)
                .map(|date| {
                    let t = self.days.get(&date).copied().unwrap_or_default();
                    Day {
                        date: date.to_string(),
                        plays: t.plays,
                        skips: t.skips,
                        listening_ms: t.listening_ms,
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        let weeks = match (self.weeks.keys().next(), self.weeks.keys().next_back()) {
            (Some(&first), Some(&last)) => every_day(first, last, 7)
                .map(|monday| {
                    let w = self.weeks.get(&monday);
                    let t = w.map(|w| w.tally).unwrap_or_default();
                    Week {
                        start: monday.to_string(),
                        plays: t.plays,
                        skips: t.skips,
                        listening_ms: t.listening_ms,
                        kinds: w.map(|w| w.kinds).unwrap_or_default(),
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        let skip_seconds = (0..SKIP_BINS)
            .map(|bin| SkipBin {
                from_s: bin * SKIP_BIN_S,
                to_s: (bin + 1 < SKIP_BINS).then_some((bin + 1) * SKIP_BIN_S),
                skips: self.skip_bins[bin as usize],
            })
            .collect();
        let mut session_counts = [0u64; SESSION_BOUNDS_MIN.len()];
        for length_ms in self.counts.session_lengths_ms() {
            let minutes = (length_ms / 60_000) as u32;
            let bin = SESSION_BOUNDS_MIN.iter().rposition(|&b| minutes >= b).unwrap_or(0);
            session_counts[bin] += 1;
        }
        let sessions_by_length = SESSION_BOUNDS_MIN
            .iter()
            .enumerate()
            .map(|(i, &from_min)| SessionBin {
                from_min,
                to_min: SESSION_BOUNDS_MIN.get(i + 1).copied(),
                sessions: session_counts[i],
            })
            .collect();

        Recap {
            time_zone,
            since_ms: range.since_ms,
            until_ms: range.until_ms,
            first_play_ms: self.first,
            last_play_ms: self.last,
            totals: self.counts.totals(),
            kinds: self.counts.kinds(),
            days,
            weeks,
            skip_seconds,
            top_artists: self.counts.top_artists(TOP),
            top_tracks: self.counts.top_tracks(TOP),
            top_albums: self.counts.top_albums(TOP),
            most_skipped: self.counts.most_skipped(TOP),
            hour_weekday: self.hour_weekday.to_vec(),
            sessions_by_length,
            training_runs,
        }
    }
}

/// `first`, then every `step` days up to `last`.
fn every_day(first: Date, last: Date, step: i64) -> impl Iterator<Item = Date> {
    std::iter::successors(Some(first), move |d| d.checked_add(step.days()).ok()).take_while(move |d| *d <= last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::PickedBy;

    fn at(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn play(start: &str, artist: &str, title: &str, played_s: u64, skipped: bool, session: i64) -> CountedPlay {
        CountedPlay {
            track_id: Some(1),
            started_at_ms: at(start),
            ended_at_ms: at(start) + played_s as i64 * 1000,
            played_ms: played_s * 1000,
            skipped,
            listen: !skipped,
            picked_by: PickedBy::Listener,
            session_id: session,
            artist: Some(artist.to_owned()),
            album_artist: None,
            album: Some("Disintegration".to_owned()),
            title: title.to_owned(),
        }
    }

    fn recap_of(plays: &[CountedPlay]) -> Recap {
        let tz = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        let mut tallies = Tallies::new(tz.clone());
        for p in plays {
            tallies.add(p);
        }
        tallies.finish(TimeRange::default(), zone_name(&tz), Vec::new())
    }

    #[test]
    fn days_follow_daylight_saving_and_names_group_whatever_their_case() {
        // New York left daylight saving on 3 November 2024: 04:30 UTC was 00:30 EDT on the 2nd
        // the day before, 05:30 UTC on the 4th is 00:30 EST.
        let recap = recap_of(&[
            play("2024-11-02T04:30:00Z", "The Cure", "Pictures of You", 300, false, 1),
            play("2024-11-04T05:30:00Z", "the cure ", "pictures of you", 20, true, 2),
            play("2024-11-04T05:40:00Z", "Unknown", "Lullaby", 10, true, 2),
        ]);
        let days: Vec<(&str, u64)> = recap.days.iter().map(|d| (d.date.as_str(), d.plays)).collect();
        assert_eq!(days, [("2024-11-02", 1), ("2024-11-03", 0), ("2024-11-04", 2)]);
        assert_eq!((recap.hour_weekday[5][0], recap.hour_weekday[0][0]), (1, 2));
        let weeks: Vec<&str> = recap.weeks.iter().map(|w| w.start.as_str()).collect();
        assert_eq!(weeks, ["2024-10-28", "2024-11-04"]);
        assert_eq!(recap.totals.tracks, 2);
        assert_eq!(recap.totals.artists, 2);
        let cure = &recap.top_tracks[0];
        assert_eq!(
            (cure.title.as_str(), cure.tally.plays, cure.tally.skips),
            ("Pictures of You", 2, 1)
        );
        assert_eq!(
            (recap.top_albums[0].tally.plays, recap.top_albums.len()),
            (2, 1),
            "the album only skipped is no top album"
        );
        // Skipped once each: the track played less often first.
        let skipped: Vec<&str> = recap.most_skipped.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(skipped, ["Lullaby", "Pictures of You"]);
        let bins: Vec<u64> = recap.skip_seconds.iter().map(|b| b.skips).collect();
        assert_eq!((bins[1], bins[2], bins.iter().sum::<u64>()), (1, 1, 2));
        // Session 1 lasted 5 min (5-15), session 2 from 05:30 to 05:40:10 (5-15 too).
        assert_eq!(recap.sessions_by_length[1].sessions, 2);
        assert_eq!(recap.totals.sessions, 2);
        assert_eq!(
            recap.time_zone,
            format!(
                "UTC{}",
                TimeZone::posix("EST5EDT,M3.2.0,M11.1.0")
                    .unwrap()
                    .to_offset(Timestamp::now())
            )
        );
    }
}
