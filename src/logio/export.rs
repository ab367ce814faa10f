//! Writing the listening log in standard formats ([`export`], [`ExportFormat`], [`ExportOptions`]).
//!
//! Rows are read from SQLite one at a time and written as they come, so memory stays flat
//! whatever the size of the log.

use std::io::Write;

use rusqlite::Connection;
use serde::Serialize;

use super::LogIoError;
use crate::clock::TimeRange;
use crate::db::marks;
use crate::db::plays::{self, LogRow};
use crate::marks::Mark;
use crate::play::{EndReason, SkipRule};

/// `skipless export --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Every log field and the track's tags, one play per row.
    Csv,
    /// The same fields as `csv`, one JSON object per line.
    Jsonl,
    /// ListenBrainz listens, one per line (listens only, per the skip rule).
    Listenbrainz,
    /// Spotify Extended Streaming History (a JSON array).
    Spotify,
    /// The session CSV of Spotify's Music Streaming Sessions Dataset.
    Mssd,
    /// Likes and bans as ListenBrainz feedback, one per line (score 1 a like, -1 a ban), given
    /// in the range: what `skipless import likes` reads back.
    Feedback,
}

/// What an export needs besides the format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExportOptions {
    pub format: ExportFormat,
    pub range: TimeRange,
    /// Decides which plays ListenBrainz gets.
    pub rule: SkipRule,
    /// Plays further apart than this start afresh (`reason_start = playbtn`).
    pub session_gap_ms: i64,
}

impl ExportOptions {
    /// The options of an export of the plays in `range`, with the config's skip rule and
    /// session gap.
    pub(crate) fn from_config(config: &crate::config::Config, format: ExportFormat, range: TimeRange) -> Self {
        Self {
            format,
            range,
            rule: SkipRule::from_config(&config.log),
            session_gap_ms: config.log.session_gap_ms(),
        }
    }
}

/// Writes the export to `path`, reporting `(done, total)` plays as it goes. Returns the plays
/// written.
pub(crate) fn export_to_file(
    conn: &Connection,
    options: &ExportOptions,
    path: &std::path::Path,
    progress: &dyn Fn(u64, u64),
) -> Result<u64, LogIoError> {
    /// What stopped the export: the file system (creating, syncing, renaming) or the export.
    enum Failed {
        File(std::io::Error),
        Export(LogIoError),
    }
    impl From<std::io::Error> for Failed {
        fn from(e: std::io::Error) -> Self {
            Failed::File(e)
        }
    }
    // Written beside `path` and renamed over it once whole: a failed export leaves no partial
    // file, and an earlier export at `path` stays as it was.
    crate::atomic_file::write_atomic_with(path, |out| {
        let total = count(conn, options).map_err(Failed::Export)?;
        progress(0, total);
        export(conn, options, out, &|n| progress(n, total)).map_err(Failed::Export)
    })
    .map_err(|failed| match failed {
        Failed::File(source) | Failed::Export(LogIoError::Write(source)) => LogIoError::WriteFile {
            path: path.to_path_buf(),
            source,
        },
        Failed::Export(e) => e,
    })
}

/// How many plays (or, for feedback, marks) [`export`] will consider.
pub(crate) fn count(conn: &Connection, options: &ExportOptions) -> Result<u64, LogIoError> {
    let (since, until) = options.range.bounds();
    if options.format == ExportFormat::Feedback {
        return Ok(marks::marked_tracks(conn, since, until)?.len() as u64);
    }
    Ok(plays::count_log_rows(
        conn,
        since,
        until,
        options.format.finished_only(),
    )?)
}

impl ExportFormat {
    /// Only `csv` and `jsonl` carry plays still in progress; the other formats describe ended plays.
    fn finished_only(self) -> bool {
        !matches!(self, ExportFormat::Csv | ExportFormat::Jsonl)
    }
}

const CSV_HEADER: &str = "play_id,session_id,position,started_at,ended_at,played_ms,duration_ms,end_reason,skipped,\
end_source,source,error,import_key,track_id,path,title,artist,album_artist,album,track_no,disc_no,year,genre,track_duration_ms,\
liked_at,banned_at";

const MSSD_HEADER: &str = "session_id,session_position,session_length,track_id_clean,skip_1,skip_2,skip_3,not_skipped,\
context_switch,no_pause_before_play,short_pause_before_play,long_pause_before_play,hist_user_behavior_n_seekfwd,\
hist_user_behavior_n_seekback,hist_user_behavior_is_shuffle,hour_of_day,date,premium,context_type,\
hist_user_behavior_reason_start,hist_user_behavior_reason_end";

/// Writes the plays in `options.range`, oldest first; `progress` gets the number of plays read so
/// far. Returns how many were written.
pub(crate) fn export(
    conn: &Connection,
    options: &ExportOptions,
    out: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> Result<u64, LogIoError> {
    let write = |r: std::io::Result<()>| r.map_err(LogIoError::Write);
    let gap_ms = options.session_gap_ms;
    // Each format's header, and how it writes a play (`first`: no play written before it).
    type WriteRow<'a> = Box<dyn Fn(&mut dyn Write, &LogRow, bool) -> WriteResult + 'a>;
    let write_row: WriteRow = match options.format {
        ExportFormat::Feedback => return export_feedback(conn, options, out, progress),
        ExportFormat::Csv => {
            write(writeln!(out, "{CSV_HEADER}"))?;
            Box::new(|out, row, _| write_csv(out, row))
        }
        ExportFormat::Mssd => {
            write(writeln!(out, "{MSSD_HEADER}"))?;
            Box::new(move |out, row, _| write_mssd(out, row, gap_ms))
        }
        ExportFormat::Spotify => {
            write(out.write_all(b"["))?;
            Box::new(move |out, row, first| write_spotify(out, row, first, gap_ms))
        }
        ExportFormat::Jsonl => Box::new(|out, row, _| write_json_line(out, row)),
        ExportFormat::Listenbrainz => Box::new(|out, row, _| write_listen(out, row, &options.rule)),
    };
    let (mut read, mut written) = (0u64, 0u64);
    let (since, until) = options.range.bounds();
    plays::for_each_log_row(conn, since, until, options.format.finished_only(), |row| {
        read += 1;
        progress(read);
        let wrote = write_row(out, row, written == 0).map_err(LogIoError::Write)?;
        written += u64::from(wrote);
        Ok::<(), LogIoError>(())
    })?;
    if options.format == ExportFormat::Spotify {
        write(out.write_all(if written == 0 { b"]\n" } else { b"\n]\n" }))?;
    }
    write(out.flush())?;
    Ok(written)
}

/// Whether the play was written (ListenBrainz leaves out skips).
type WriteResult = std::io::Result<bool>;

/// A CSV field, quoted when it holds a separator, a quote or a line break.
fn csv_field(out: &mut dyn Write, text: &str) -> std::io::Result<()> {
    if text.contains([',', '"', '\n', '\r']) {
        write!(out, "\"{}\"", text.replace('"', "\"\""))
    } else {
        out.write_all(text.as_bytes())
    }
}

fn write_csv(out: &mut dyn Write, row: &LogRow) -> WriteResult {
    fn opt<T: ToString>(v: &Option<T>) -> String {
        v.as_ref().map(T::to_string).unwrap_or_default()
    }
    let fields = [
        opt(&row.play_id),
        row.session_id.to_string(),
        row.position.to_string(),
        crate::fmt::format_time(row.started_at),
        row.ended_at.map(crate::fmt::format_time).unwrap_or_default(),
        row.played_ms.to_string(),
        opt(&row.duration_ms),
        opt(&row.end_reason),
        row.skipped.to_string(),
        opt(&row.end_source),
        row.source.clone(),
        opt(&row.error),
        opt(&row.import_key),
        opt(&row.track_id),
        opt(&row.path),
        row.title.clone(),
        opt(&row.artist),
        opt(&row.album_artist),
        opt(&row.album),
        opt(&row.track_no),
        opt(&row.disc_no),
        opt(&row.year),
        opt(&row.genre),
        opt(&row.track_duration_ms),
        row.liked_at.map(crate::fmt::format_time).unwrap_or_default(),
        row.banned_at.map(crate::fmt::format_time).unwrap_or_default(),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        csv_field(out, field)?;
    }
    out.write_all(b"\n")?;
    Ok(true)
}

fn write_json_line(out: &mut dyn Write, row: &LogRow) -> WriteResult {
    serde_json::to_writer(&mut *out, row)?;
    out.write_all(b"\n")?;
    Ok(true)
}

#[derive(Serialize)]
struct Listen<'a> {
    listened_at: i64,
    track_metadata: ListenMetadata<'a>,
}

#[derive(Serialize)]
struct ListenMetadata<'a> {
    artist_name: &'a str,
    track_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    release_name: Option<&'a str>,
    additional_info: ListenInfo,
}

#[derive(Serialize)]
struct ListenInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    media_player: &'static str,
    submission_client: &'static str,
    submission_client_version: &'static str,
}

/// The artist name MusicBrainz and ListenBrainz give a recording whose artist is not known.
pub(crate) const UNKNOWN_ARTIST: &str = "[unknown]";

fn write_listen(out: &mut dyn Write, row: &LogRow, rule: &SkipRule) -> WriteResult {
    // A listen as the statistics count one (`db::plays::IS_LISTEN`, `IMPORTED_LISTEN`): an
    // imported play of a track the library lacks that ran to its end was heard whole.
    let heard = match row.track_id {
        None => row.end_reason.as_deref() == Some("finished") || rule.is_listen(row.played_ms, None),
        Some(_) => rule.is_listen(row.played_ms, row.duration_ms),
    };
    let listened = heard && !row.skipped;
    if !listened {
        return Ok(false);
    }
    let listen = Listen {
        listened_at: row.started_at.div_euclid(1000),
        track_metadata: ListenMetadata {
            // ListenBrainz refuses a listen without an artist; MusicBrainz names the unknown
            // one `[unknown]`, which the importer reads back as none.
            artist_name: row
                .artist
                .as_deref()
                .or(row.album_artist.as_deref())
                .filter(|a| !a.is_empty())
                .unwrap_or(UNKNOWN_ARTIST),
            track_name: &row.title,
            release_name: row.album.as_deref(),
            additional_info: ListenInfo {
                // The track's length; of a track the library lacks, a play that ran to its end
                // tells it (an imported history keeps its listening time through the round trip).
                // ListenBrainz refuses a length that is not positive: an unknown one is left out.
                duration_ms: row
                    .track_duration_ms
                    .or(row.duration_ms)
                    .or_else(|| (row.end_reason.as_deref() == Some("finished")).then_some(row.played_ms))
                    .filter(|&ms| ms > 0),
                media_player: "skipless",
                submission_client: "skipless",
                submission_client_version: env!("CARGO_PKG_VERSION"),
            },
        },
    };
    serde_json::to_writer(&mut *out, &listen)?;
    out.write_all(b"\n")?;
    Ok(true)
}

/// One ListenBrainz feedback: a loved (1) or hated (-1) recording, by its metadata.
#[derive(Serialize)]
struct FeedbackOut<'a> {
    score: i8,
    created: i64,
    track_metadata: FeedbackMetadata<'a>,
}

#[derive(Serialize)]
struct FeedbackMetadata<'a> {
    artist_name: &'a str,
    track_name: &'a str,
    release_name: Option<&'a str>,
}

/// Writes the likes and bans given in `options.range`, oldest first, as ListenBrainz feedback
/// lines; returns how many.
fn export_feedback(
    conn: &Connection,
    options: &ExportOptions,
    out: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> Result<u64, LogIoError> {
    let (since, until) = options.range.bounds();
    let marked = marks::marked_tracks(conn, since, until)?;
    for (n, track) in marked.iter().enumerate() {
        let feedback = FeedbackOut {
            score: if track.mark == Mark::Like { 1 } else { -1 },
            created: track.at_ms.div_euclid(1000),
            track_metadata: FeedbackMetadata {
                artist_name: track.artist.as_deref().unwrap_or(""),
                track_name: &track.title,
                release_name: track.album.as_deref(),
            },
        };
        serde_json::to_writer(&mut *out, &feedback).map_err(|e| LogIoError::Write(e.into()))?;
        out.write_all(b"\n").map_err(LogIoError::Write)?;
        progress(n as u64 + 1);
    }
    out.flush().map_err(LogIoError::Write)?;
    Ok(marked.len() as u64)
}

/// Spotify's `reason_end` for an end reason; the inverse of [`super::import::end_reason_of`].
pub(crate) fn spotify_reason_end(reason: Option<EndReason>) -> &'static str {
    match reason {
        Some(EndReason::Finished) => "trackdone",
        Some(EndReason::Skipped) => "fwdbtn",
        Some(EndReason::Previous) => "backbtn",
        Some(EndReason::Stopped) => "endplay",
        Some(EndReason::Quit) => "logout",
        Some(EndReason::Error) => "trackerror",
        Some(EndReason::Interrupted) => "unexpected-exit",
        None => "unknown",
    }
}

/// Spotify's `reason_start`: a track picked by hand is `clickrow`; one that follows the previous
/// play within the session gap starts the way that play ended (`trackdone`, `fwdbtn`, `backbtn`);
/// anything else starts playback afresh (`playbtn`). It depends only on exported plays, so
/// exporting an imported export gives the same value.
fn spotify_reason_start(row: &LogRow, gap_ms: i64) -> &'static str {
    if row.source == "user" {
        return "clickrow";
    }
    let follows = row.previous_ended_at.is_some_and(|end| row.started_at - end <= gap_ms);
    match row.previous_end_reason.as_deref().and_then(EndReason::parse) {
        Some(reason @ (EndReason::Finished | EndReason::Skipped | EndReason::Previous)) if follows => {
            spotify_reason_end(Some(reason))
        }
        _ => "playbtn",
    }
}

/// An Extended Streaming History record, with every key Spotify writes, in its order: tools
/// made for these exports index them directly. What the log cannot know (the country, the
/// Spotify ids, whether the queue was shuffled; for an imported play also the platform and
/// whether it was offline or incognito, which its source's log had) is `null`, as Spotify
/// writes it for a field it lacks.
#[derive(Serialize)]
struct SpotifyRecord<'a> {
    ts: String,
    platform: Option<&'static str>,
    ms_played: u64,
    conn_country: Option<&'static str>,
    ip_addr: Option<&'static str>,
    master_metadata_track_name: &'a str,
    master_metadata_album_artist_name: Option<&'a str>,
    master_metadata_album_album_name: Option<&'a str>,
    spotify_track_uri: Option<&'static str>,
    episode_name: Option<&'static str>,
    episode_show_name: Option<&'static str>,
    spotify_episode_uri: Option<&'static str>,
    audiobook_title: Option<&'static str>,
    audiobook_uri: Option<&'static str>,
    audiobook_chapter_uri: Option<&'static str>,
    audiobook_chapter_title: Option<&'static str>,
    reason_start: &'static str,
    reason_end: &'static str,
    shuffle: Option<bool>,
    skipped: bool,
    offline: Option<bool>,
    offline_timestamp: Option<i64>,
    incognito_mode: Option<bool>,
}

/// Spotify writes whole seconds in UTC.
fn spotify_ts(ms: i64) -> String {
    jiff::Timestamp::from_second(ms.div_euclid(1000))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn write_spotify(out: &mut dyn Write, row: &LogRow, first: bool, gap_ms: i64) -> WriteResult {
    // Of its own plays the player knows it played them, online, with nothing hidden.
    let own = row.source != "import";
    let record = SpotifyRecord {
        ts: spotify_ts(row.ended_at.unwrap_or(row.started_at + row.played_ms as i64)),
        platform: own.then_some("skipless"),
        ms_played: row.played_ms,
        conn_country: None,
        ip_addr: None,
        master_metadata_track_name: &row.title,
        master_metadata_album_artist_name: row.artist.as_deref().or(row.album_artist.as_deref()),
        master_metadata_album_album_name: row.album.as_deref(),
        spotify_track_uri: None,
        episode_name: None,
        episode_show_name: None,
        spotify_episode_uri: None,
        audiobook_title: None,
        audiobook_uri: None,
        audiobook_chapter_uri: None,
        audiobook_chapter_title: None,
        reason_start: spotify_reason_start(row, gap_ms),
        reason_end: spotify_reason_end(row.end_reason.as_deref().and_then(EndReason::parse)),
        shuffle: None,
        skipped: row.skipped,
        offline: own.then_some(false),
        offline_timestamp: None,
        incognito_mode: own.then_some(false),
    };
    out.write_all(if first { b"\n" } else { b",\n" })?;
    serde_json::to_writer(&mut *out, &record)?;
    Ok(true)
}

/// MSSD's skip columns for a play. The dataset's flags nest: `skip_1` (played very briefly)
/// implies `skip_2` (played briefly), which implies `skip_3` (ended before the end, however
/// late); `not_skipped` is its opposite.
///
/// - `skip_2`, the dataset's prediction target, is the log's own skip flag (skipless's skip rule,
///   or the imported history's), so that the export agrees with `stats`;
/// - `skip_1`: a skip under 10% of the track (under 10 s when its duration is unknown);
/// - `skip_3`: a skip, or a play the listener ended before 95% of the track. A play the listener
///   did not end (a quit, a crash, an error) is no skip at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MssdSkips {
    pub skip_1: bool,
    pub skip_2: bool,
    pub skip_3: bool,
    pub not_skipped: bool,
}

pub(crate) fn mssd_skips(
    played_ms: u64,
    duration_ms: Option<u64>,
    reason: Option<EndReason>,
    skipped: bool,
) -> MssdSkips {
    let fraction = duration_ms.filter(|d| *d > 0).map(|d| played_ms as f64 / d as f64);
    let very_brief = fraction.map_or(played_ms < 10_000, |f| f < 0.1);
    let ended_early_by_listener = matches!(
        reason,
        Some(EndReason::Skipped | EndReason::Previous | EndReason::Stopped)
    ) && fraction.is_none_or(|f| f < 0.95);
    let skip_3 = skipped || ended_early_by_listener;
    MssdSkips {
        skip_1: skipped && very_brief,
        skip_2: skipped,
        skip_3,
        not_skipped: !skip_3,
    }
}

fn write_mssd(out: &mut dyn Write, row: &LogRow, gap_ms: i64) -> WriteResult {
    let reason = row.end_reason.as_deref().and_then(EndReason::parse);
    let skips = mssd_skips(
        row.played_ms,
        row.track_duration_ms.or(row.duration_ms),
        reason,
        row.skipped,
    );
    let pause = row
        .previous_ended_at
        .filter(|_| row.session_position > 1)
        .map(|end| row.started_at - end);
    let (no_pause, short_pause, long_pause) = match pause {
        Some(p) if p < 1_000 => (1, 0, 0),
        Some(p) if p < 60_000 => (0, 1, 0),
        Some(_) => (0, 0, 1),
        None => (0, 0, 0),
    };
    let start = jiff::Timestamp::from_second(row.started_at.div_euclid(1000))
        .map_err(std::io::Error::other)?
        .to_zoned(jiff::tz::TimeZone::UTC);
    let b = |v: bool| if v { "True" } else { "False" };
    writeln!(
        out,
        "{},{},{},t_{},{},{},{},{},0,{no_pause},{short_pause},{long_pause},0,0,False,{},{:02}-{:02}-{:02},True,\
         user_collection,{},{}",
        row.session_id,
        row.session_position,
        row.session_length,
        row.track_ref,
        b(skips.skip_1),
        b(skips.skip_2),
        b(skips.skip_3),
        b(skips.not_skipped),
        start.hour(),
        start.day(),
        start.month(),
        start.year().rem_euclid(100),
        spotify_reason_start(row, gap_ms),
        spotify_reason_end(reason),
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mssd_flags_nest_and_skip_2_is_the_logs_skip() {
        let flags = |s: MssdSkips| (s.skip_1, s.skip_2, s.skip_3, s.not_skipped);
        let skipped = Some(EndReason::Skipped);
        assert_eq!(
            flags(mssd_skips(5_000, Some(200_000), skipped, true)),
            (true, true, true, false)
        );
        assert_eq!(
            flags(mssd_skips(60_000, Some(200_000), skipped, true)),
            (false, true, true, false)
        );
        // Ended by the listener before 95 %, not a skip by the log's rule: skip_3 only.
        assert_eq!(
            flags(mssd_skips(150_000, Some(200_000), skipped, false)),
            (false, false, true, false)
        );
        assert_eq!(
            flags(mssd_skips(195_000, Some(200_000), skipped, false)),
            (false, false, false, true)
        );
        assert_eq!(
            flags(mssd_skips(1_000, Some(200_000), Some(EndReason::Finished), false)),
            (false, false, false, true)
        );
        assert_eq!(flags(mssd_skips(3_000, None, skipped, true)), (true, true, true, false));
        // Nobody skipped a play cut short by a quit, a crash or an error.
        for reason in [EndReason::Quit, EndReason::Interrupted, EndReason::Error] {
            assert_eq!(
                flags(mssd_skips(5_000, Some(180_000), Some(reason), false)),
                (false, false, false, true)
            );
        }
    }

    #[test]
    fn csv_quoting() {
        let mut out = Vec::new();
        csv_field(&mut out, "a, \"b\"").unwrap();
        assert_eq!(out, b"\"a, \"\"b\"\"\"");
    }
}
