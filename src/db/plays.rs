//! Queries on the listening log: its rows as the history shows them ([`HistoryRow`]), a play
//! started, ended ([`Ending`]) or read back ([`PlayRow`], [`LogRow`], [`FinishedPlay`]).

use std::path::PathBuf;

use rusqlite::functions::FunctionFlags;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::tracks::{track_from_row, TRACK_COLUMNS};
use crate::play::{CompletedPlay, ControlSource, EndReason, PlaySource, SkipRule};
use crate::summary::{CountedPlay, Counts, PickedBy, Skips, Stats, TrackPlays, WeekSkips, RUNS_SHOWN, WEEKS_SHOWN};
use crate::track::tag_text;

/// One play with its track, as `skipless history` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct HistoryRow {
    /// None for an imported play that waits for its track (so has no track nor path either).
    pub play_id: Option<i64>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub track_id: Option<i64>,
    pub path: Option<String>,
    pub artist: Option<String>,
    pub title: String,
    pub album: Option<String>,
    pub duration_ms: Option<u64>,
    pub played_ms: u64,
    pub end_reason: Option<String>,
    pub skipped: bool,
    pub session_id: i64,
    pub position: i64,
    pub source: String,
    pub error: Option<String>,
    /// Who ended the play when the listener did: `key`, `mpris`, `stdin` or `remote`.
    pub end_source: Option<String>,
}

/// The artist, title and album of a play as they are shown and counted: a track's as its tags
/// were read, and those of an imported play that waits for its track (`track_id` `None`)
/// tidied the same way ([`tag_text`]: one line, no control or hidden characters). The log keeps
/// the export's own text, of which the play's import key is made, so that the same record
/// imported again, or an export of the log imported back, is known.
fn names_shown(
    track_id: Option<i64>,
    artist: Option<String>,
    title: Option<String>,
    album: Option<String>,
) -> (Option<String>, String, Option<String>) {
    let title = title.unwrap_or_default();
    if track_id.is_some() {
        return (artist, title, album);
    }
    (
        artist.as_deref().and_then(tag_text),
        tag_text(&title).unwrap_or_default(),
        album.as_deref().and_then(tag_text),
    )
}

/// The newest `limit` plays, newest first: the log's, and the imported ones that wait for their
/// track (as the exports and the stats count them). Each side's newest are taken first, so a
/// short history of a long log need not sort every play.
pub(crate) fn history(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<HistoryRow>> {
    let mut stmt = conn.prepare(
        "SELECT * FROM (
             SELECT p.id, p.started_at, p.ended_at, p.track_id, t.path_text, t.artist, t.title, t.album,
                    p.duration_ms, p.played_ms, p.end_reason, p.skipped, p.session_id, p.position, p.source,
                    p.error, p.end_source, 1 AS logged, p.id AS n
             FROM plays p JOIN tracks t ON t.id = p.track_id
             ORDER BY p.started_at DESC, p.id DESC LIMIT ?1)
         UNION ALL
         SELECT * FROM (
             SELECT NULL, u.started_at, u.ended_at, NULL, NULL, u.artist, u.title, u.album,
                    NULL, u.played_ms, u.end_reason, u.skipped, u.session_id, u.position, 'import', NULL,
                    NULL, 0, u.id
             FROM unmatched_plays u
             ORDER BY u.started_at DESC, u.id DESC LIMIT ?1)
         ORDER BY 2 DESC, 18 DESC, 19 DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        let track_id: Option<i64> = r.get(3)?;
        let [artist, title, album] = [5, 6, 7].map(|i| r.get::<_, Option<String>>(i));
        let (artist, title, album) = names_shown(track_id, artist?, title?, album?);
        Ok(HistoryRow {
            play_id: r.get(0)?,
            started_at: r.get(1)?,
            ended_at: r.get(2)?,
            track_id,
            path: r.get(4)?,
            artist,
            title,
            album,
            duration_ms: r.get(8)?,
            played_ms: r.get(9)?,
            end_reason: r.get(10)?,
            skipped: r.get(11)?,
            session_id: r.get(12)?,
            position: r.get(13)?,
            source: r.get(14)?,
            error: r.get(15)?,
            end_source: r.get(16)?,
        })
    })?;
    rows.collect()
}

/// A listen: a play the skip rule counts as one ([`SkipRule::is_listen`], registered as the SQL
/// function `is_listen(played_ms, duration_ms)` so the statistics never restate the rule in SQL)
/// that is not a skip. The player's own plays agree on both; an imported play carries its
/// service's skip flag, which can mark a play the rule alone would count (Spotify's skips
/// after half a track), and a play is a listen or a skip, never both.
const IS_LISTEN: &str = "(is_listen(p.played_ms, p.duration_ms) AND NOT p.skipped)";

/// The same of an imported play whose track the library lacks, which has no length to measure
/// it against: one that ran to its end was heard whole (a ListenBrainz listen carries no time
/// played at all).
const IMPORTED_LISTEN: &str = "((u.end_reason = 'finished' OR is_listen(u.played_ms, NULL)) AND NOT u.skipped)";

fn register_is_listen(conn: &Connection, rule: SkipRule) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "is_listen",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let played_ms = ctx.get::<Option<i64>>(0)?.unwrap_or(0).max(0) as u64;
            let duration_ms = ctx.get::<Option<i64>>(1)?.map(|d| d.max(0) as u64);
            Ok(rule.is_listen(played_ms, duration_ms))
        },
    )
}

/// The whole log summed up, with the [`Counts`] the recap sums a range with: the plays of the
/// log and the imported plays waiting for their tracks, counted by artist and title.
pub(crate) fn stats(
    conn: &Connection,
    rule: &SkipRule,
    top: usize,
    tz: &jiff::tz::TimeZone,
) -> rusqlite::Result<Stats> {
    let mut counts = Counts::default();
    let mut weeks = Weeks::new(tz);
    for_each_counted_play(conn, i64::MIN, i64::MAX, rule, |play| {
        counts.add(&play);
        weeks.add(&play);
        Ok::<_, rusqlite::Error>(())
    })?;
    Ok(Stats {
        totals: counts.totals(),
        kinds: counts.kinds(),
        top_tracks: counts.top_tracks(top),
        top_artists: counts.top_artists(top),
        most_skipped: counts.most_skipped(top),
        weekly: weeks.last_weeks(),
        training_runs: super::training::latest(conn, RUNS_SHOWN)?,
    })
}

/// Plays and skips per week, a week from its Monday midnight in the listener's time zone.
struct Weeks<'a> {
    tz: &'a jiff::tz::TimeZone,
    /// Each week with plays by its start, and the week the last play fell in (the plays come
    /// in order of start, so most find their week without a time-zone lookup).
    weeks: Vec<WeekSkips>,
    current_end: i64,
    latest: Option<i64>,
}

impl<'a> Weeks<'a> {
    fn new(tz: &'a jiff::tz::TimeZone) -> Self {
        Self {
            tz,
            weeks: Vec::new(),
            current_end: i64::MIN,
            latest: None,
        }
    }

    fn add(&mut self, play: &CountedPlay) {
        let at = play.started_at_ms;
        self.latest = Some(self.latest.map_or(at, |l| l.max(at)));
        let in_current = self
            .weeks
            .last()
            .is_some_and(|w| w.week_start_ms <= at && at < self.current_end);
        if !in_current {
            let week_start_ms = crate::clock::week_start_ms(at, self.tz);
            // A week is an hour longer or shorter at most: the next one starts in 7 days ± 1 h.
            self.current_end = crate::clock::week_start_ms(week_start_ms + 7 * DAY_MS + HOUR_MS, self.tz);
            self.weeks.push(WeekSkips {
                week_start_ms,
                skips: Skips::default(),
            });
        }
        if let Some(week) = self.weeks.last_mut() {
            week.skips.plays += 1;
            week.skips.skips += u64::from(play.skipped);
        }
    }

    /// The last [`WEEKS_SHOWN`] weeks up to the latest play, oldest first, the weeks without
    /// plays included.
    fn last_weeks(self) -> Vec<WeekSkips> {
        let Some(latest) = self.latest else {
            return Vec::new();
        };
        let mut starts = vec![crate::clock::week_start_ms(latest, self.tz)];
        while starts.len() < WEEKS_SHOWN {
            let oldest_so_far = starts[starts.len() - 1];
            starts.push(crate::clock::week_start_ms(oldest_so_far - 1, self.tz));
        }
        starts.reverse();
        starts
            .into_iter()
            .map(|week_start_ms| {
                let skips = self
                    .weeks
                    .iter()
                    .find(|w| w.week_start_ms == week_start_ms)
                    .map_or_else(Skips::default, |w| w.skips);
                WeekSkips { week_start_ms, skips }
            })
            .collect()
    }
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Every finished play that started in `[since, until)`, with the imported plays still waiting
/// for their track, in order of start.
pub(crate) fn for_each_counted_play<E: From<rusqlite::Error>>(
    conn: &Connection,
    since: i64,
    until: i64,
    rule: &SkipRule,
    mut each: impl FnMut(CountedPlay) -> Result<(), E>,
) -> Result<(), E> {
    register_is_listen(conn, *rule)?;
    let mut stmt = conn.prepare(&format!(
        "SELECT p.started_at, coalesce(p.ended_at, p.started_at + p.played_ms), p.played_ms, p.skipped,
                {IS_LISTEN}, p.source, p.session_id, t.artist, t.album_artist, t.album, t.title, t.id
         FROM plays p JOIN tracks t ON t.id = p.track_id
         WHERE p.end_reason IS NOT NULL AND p.started_at >= ?1 AND p.started_at < ?2
         UNION ALL
         SELECT u.started_at, u.ended_at, u.played_ms, u.skipped, {IMPORTED_LISTEN}, 'import',
                u.session_id, u.artist, NULL, u.album, u.title, NULL
         FROM unmatched_plays u WHERE u.started_at >= ?1 AND u.started_at < ?2
         ORDER BY 1"
    ))?;
    let mut rows = stmt.query(params![since, until])?;
    while let Some(r) = rows.next()? {
        let source: String = r.get(5)?;
        let picked_by = match source.as_str() {
            "autoplay" => PickedBy::Autoplay,
            "import" => PickedBy::Import,
            _ => PickedBy::Listener,
        };
        let track_id: Option<i64> = r.get(11)?;
        let (artist, title, album) = names_shown(track_id, r.get(7)?, r.get(10)?, r.get(9)?);
        each(CountedPlay {
            track_id,
            started_at_ms: r.get(0)?,
            ended_at_ms: r.get(1)?,
            played_ms: r.get::<_, i64>(2)?.max(0) as u64,
            skipped: r.get(3)?,
            listen: r.get(4)?,
            picked_by,
            session_id: r.get(6)?,
            artist,
            album_artist: r.get(8)?,
            album,
            title,
        })?;
    }
    Ok(())
}

/// Play counts of every track that has been played.
pub(crate) fn plays_per_track(conn: &Connection) -> rusqlite::Result<std::collections::HashMap<i64, TrackPlays>> {
    let mut stmt = conn.prepare(
        "SELECT track_id, count(*), sum(skipped), max(coalesce(ended_at, started_at + played_ms)) FROM plays
         WHERE end_reason IS NOT NULL GROUP BY track_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            TrackPlays {
                plays: r.get(1)?,
                skips: r.get(2)?,
                last_played: r.get(3)?,
            },
        ))
    })?;
    rows.collect()
}

/// What a finished play in the log played: a library track, or an imported play whose track is
/// not in the library (yet), known by its artist, title and album.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Played {
    Track(i64),
    Unmatched {
        artist: String,
        title: String,
        album: Option<String>,
    },
}

/// A finished play of the log, as [`finished_plays`] reads it.
pub(crate) struct FinishedPlay {
    pub played: Played,
    pub session_id: i64,
    pub skipped: bool,
    /// When it ended (Unix ms).
    pub at_ms: i64,
    /// The row id of a play logged by a player here (not imported).
    pub live_id: Option<i64>,
}

/// Plays, matched or not, that failed to play (what [`finished_plays`] leaves out as errors).
pub(crate) fn failed_play_count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT (SELECT COUNT(*) FROM plays WHERE end_reason = 'error')
              + (SELECT COUNT(*) FROM unmatched_plays WHERE end_reason = 'error')",
        [],
        |r| r.get(0),
    )
}

/// The finished plays of the log, session by session in the order the sessions began (an import
/// adds sessions of past listening after the newer ones, so ids are no order), each session in
/// its order. Plays in progress and plays that failed to decode are left out; imported plays
/// still waiting for their track are in their place. A play is timed by its end: the convention
/// of live plays and of Spotify's `ts`, so that recency reads the same before and after a
/// restart.
pub(crate) fn finished_plays(conn: &Connection) -> rusqlite::Result<Vec<FinishedPlay>> {
    let mut stmt = conn.prepare(
        "SELECT p.* FROM (
             SELECT track_id, session_id, skipped, COALESCE(ended_at, started_at + played_ms) AS at,
                    NULL AS artist, NULL AS title, NULL AS album, position, 0 AS waiting, id,
                    CASE WHEN source <> 'import' THEN id END AS live_id
             FROM plays WHERE end_reason IS NOT NULL AND end_reason <> 'error'
             UNION ALL
             SELECT NULL, session_id, skipped, ended_at, artist, title, album, position, 1, id, NULL
             FROM unmatched_plays WHERE end_reason <> 'error'
         ) AS p JOIN sessions AS s ON s.id = p.session_id
         ORDER BY s.started_at, p.session_id, p.position, p.waiting, p.id",
    )?;
    let rows = stmt.query_map([], |r| {
        let played = match r.get::<_, Option<i64>>(0)? {
            Some(track) => Played::Track(track),
            None => Played::Unmatched {
                artist: r.get(4)?,
                title: r.get(5)?,
                album: r.get(6)?,
            },
        };
        Ok(FinishedPlay {
            played,
            session_id: r.get(1)?,
            skipped: r.get::<_, i64>(2)? != 0,
            at_ms: r.get(3)?,
            live_id: r.get(10)?,
        })
    })?;
    rows.collect()
}

/// A track whose last play here failed, as [`last_failures`] reads it.
pub(crate) struct Failure {
    pub track_id: i64,
    pub path: PathBuf,
    /// The file could not be opened (gone, or not readable), as against failing to decode: the
    /// player's `PlayerError::Open` says "PATH: cannot open: …".
    pub could_not_open: bool,
}

/// The tracks whose last play logged here (imported plays left out) failed since their file
/// was last read by a scan.
pub(crate) fn last_failures(conn: &Connection) -> rusqlite::Result<Vec<Failure>> {
    let mut stmt = conn.prepare(
        "SELECT t.id, t.path, coalesce(p.error, '') LIKE '%: cannot open: %'
         FROM plays AS p JOIN tracks AS t ON t.id = p.track_id
         WHERE p.end_reason = 'error' AND p.source <> 'import' AND p.started_at >= t.updated_at
           AND p.id = (SELECT id FROM plays WHERE track_id = p.track_id AND source <> 'import'
                       ORDER BY started_at DESC, id DESC LIMIT 1)",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Failure {
            track_id: r.get(0)?,
            path: super::tracks::path_from_blob(r.get(1)?),
            could_not_open: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// A play's row found by its track and start ([`play_started_at`]).
pub(crate) struct PlayRow {
    pub play_id: i64,
    pub session_id: i64,
    /// Ended, and not closed as interrupted by a start after a crash.
    pub completed: bool,
}

/// The play of `track_id` that started at `started_at`, if the log has it.
pub(crate) fn play_started_at(conn: &Connection, track_id: i64, started_at: i64) -> rusqlite::Result<Option<PlayRow>> {
    conn.query_row(
        "SELECT id, session_id, coalesce(end_reason, 'interrupted') != 'interrupted'
         FROM plays WHERE track_id = ?1 AND started_at = ?2 ORDER BY id LIMIT 1",
        [track_id, started_at],
        |r| {
            Ok(PlayRow {
                play_id: r.get(0)?,
                session_id: r.get(1)?,
                completed: r.get(2)?,
            })
        },
    )
    .optional()
}

/// Closes plays left open by a crash as `interrupted` at their last saved position; returns
/// how many.
pub(crate) fn close_interrupted(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE plays SET end_reason = 'interrupted', skipped = 0, ended_at = started_at + played_ms
         WHERE end_reason IS NULL",
        [],
    )
}

/// The session a play started at `now` joins: the one last active, by time (an import adds
/// sessions of past listening after it), if it was active within `gap_ms`; else none, and the
/// play opens a new one.
pub(crate) fn session_to_join(conn: &Connection, now: i64, gap_ms: i64) -> rusqlite::Result<Option<i64>> {
    // Of the sessions begun by `now`: a play written late, with its own time, joins the session
    // it was part of, not one begun after it.
    let last: Option<(i64, i64)> = conn
        .query_row(
            "SELECT id, last_at FROM sessions WHERE started_at <= ?1 ORDER BY last_at DESC, id DESC LIMIT 1",
            [now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(last.filter(|&(_, last_at)| now - last_at <= gap_ms).map(|(id, _)| id))
}

/// Inserts a play starting `now`, in the last session if it was active within `session_gap_ms`
/// or in a new one, all in one transaction; returns (session id, play id).
pub(crate) fn start_play(
    conn: &mut Connection,
    track_id: i64,
    source: PlaySource,
    duration_ms: Option<u64>,
    now: i64,
    session_gap_ms: i64,
) -> rusqlite::Result<(i64, i64)> {
    let tx = conn.transaction()?;
    let session_id = match session_to_join(&tx, now, session_gap_ms)? {
        Some(id) => id,
        None => {
            tx.execute("INSERT INTO sessions (started_at, last_at) VALUES (?1, ?1)", [now])?;
            tx.last_insert_rowid()
        }
    };
    // After every play of the session, imported plays of tracks the library lacks included.
    let position: i64 = tx.query_row(
        "SELECT 1 + max(coalesce((SELECT max(position) FROM plays WHERE session_id = ?1), -1),
                        coalesce((SELECT max(position) FROM unmatched_plays WHERE session_id = ?1), -1))",
        [session_id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO plays (track_id, session_id, position, started_at, duration_ms, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![track_id, session_id, position, now, duration_ms, source.as_str()],
    )?;
    let play_id = tx.last_insert_rowid();
    tx.execute(
        "UPDATE sessions SET last_at = max(last_at, ?2) WHERE id = ?1",
        params![session_id, now],
    )?;
    tx.commit()?;
    Ok((session_id, play_id))
}

/// Moves open play `play_id`, paused past the session gap, into a new session begun `now`, when
/// the listener came back to it: what follows is a new session, as after any other pause that
/// long. Its old session goes if nothing else was in it. Returns the new session.
pub(crate) fn resume_in_new_session(conn: &mut Connection, play_id: i64, now: i64) -> rusqlite::Result<i64> {
    let tx = conn.transaction()?;
    let old: i64 = tx.query_row("SELECT session_id FROM plays WHERE id = ?1", [play_id], |r| r.get(0))?;
    tx.execute("INSERT INTO sessions (started_at, last_at) VALUES (?1, ?1)", [now])?;
    let session_id = tx.last_insert_rowid();
    tx.execute(
        "UPDATE plays SET session_id = ?2, position = 0 WHERE id = ?1",
        params![play_id, session_id],
    )?;
    tx.execute(
        "DELETE FROM sessions WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM plays WHERE session_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM unmatched_plays WHERE session_id = ?1)",
        [old],
    )?;
    tx.commit()?;
    Ok(session_id)
}

/// Saves how much of an open play has been heard, in one transaction with its session's time.
pub(crate) fn save_progress(
    conn: &mut Connection,
    play_id: i64,
    session_id: i64,
    played_ms: u64,
    now: i64,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE plays SET played_ms = ?2 WHERE id = ?1",
        params![play_id, played_ms],
    )?;
    tx.execute(
        "UPDATE sessions SET last_at = max(last_at, ?2) WHERE id = ?1",
        params![session_id, now],
    )?;
    tx.commit()
}

/// The last `limit` plays, in order, of the session a play started at `now` would join
/// ([`session_to_join`]), as (track, skipped) for a ranking: the finished ones, and last the one a
/// running player has open there (not skipped), read in one query.
pub(crate) fn open_session_to_rank(
    conn: &Connection,
    now: i64,
    gap_ms: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, bool)>> {
    let Some(session_id) = session_to_join(conn, now, gap_ms)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare(
        "SELECT track_id, skipped AND end_reason IS NOT NULL FROM plays WHERE session_id = ?1
         ORDER BY position DESC LIMIT ?2",
    )?;
    let mut plays = stmt
        .query_map(params![session_id, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(i64, bool)>>>()?;
    plays.reverse();
    Ok(plays)
}

/// The last `limit` finished plays, in order, of the session a play started at `now` would join
/// ([`session_to_join`], as [`start_play`] decides): what a player started again within the
/// session gap carries on from.
pub(crate) fn open_session_plays(
    conn: &Connection,
    now: i64,
    gap_ms: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(crate::track::Track, CompletedPlay)>> {
    let Some(session_id) = session_to_join(conn, now, gap_ms)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT p.id, p.session_id, p.played_ms, p.end_reason, p.skipped, p.end_source,
                coalesce(p.ended_at, p.started_at + p.played_ms), t.*
         FROM plays p JOIN (SELECT {TRACK_COLUMNS} FROM tracks) t ON t.id = p.track_id
         WHERE p.session_id = ?1 AND p.end_reason IS NOT NULL
         ORDER BY p.position DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![session_id, limit as i64], |r| {
        let reason: String = r.get(3)?;
        let source: Option<String> = r.get(5)?;
        let track = track_from_row(r, 7)?;
        let play = CompletedPlay {
            play_id: r.get(0)?,
            track_id: track.id,
            session_id: r.get(1)?,
            played_ms: r.get(2)?,
            end_reason: EndReason::parse(&reason).unwrap_or(EndReason::Interrupted),
            skipped: r.get(4)?,
            end_source: source.as_deref().and_then(ControlSource::parse),
            ended_at: r.get(6)?,
        };
        Ok((track, play))
    })?;
    let mut plays = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    plays.reverse();
    Ok(plays)
}

/// How an open play ended, as [`complete_play`] writes it.
pub(crate) struct Ending<'a> {
    pub play_id: i64,
    pub session_id: i64,
    pub now: i64,
    pub played_ms: u64,
    pub reason: EndReason,
    pub skipped: bool,
    pub error: Option<&'a str>,
    pub end_source: Option<ControlSource>,
}

/// Completes an open play, in one transaction with its session's time.
pub(crate) fn complete_play(conn: &mut Connection, ending: &Ending) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE plays SET ended_at = ?2, played_ms = ?3, end_reason = ?4, skipped = ?5, error = ?6,
                          end_source = ?7
         WHERE id = ?1",
        params![
            ending.play_id,
            ending.now,
            ending.played_ms,
            ending.reason.as_str(),
            ending.skipped,
            ending.error,
            ending.end_source.map(ControlSource::as_str)
        ],
    )?;
    tx.execute(
        "UPDATE sessions SET last_at = max(last_at, ?2) WHERE id = ?1",
        params![ending.session_id, ending.now],
    )?;
    tx.commit()
}

/// One play with its track and its neighbours, as every format needs it. An imported play
/// whose track the library lacks has no play id, track id or path, and only the artist, title
/// and album it was imported with.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LogRow {
    pub(crate) play_id: Option<i64>,
    pub(crate) session_id: i64,
    pub(crate) position: i64,
    #[serde(serialize_with = "as_time")]
    pub(crate) started_at: i64,
    #[serde(serialize_with = "as_opt_time")]
    pub(crate) ended_at: Option<i64>,
    pub(crate) played_ms: u64,
    pub(crate) duration_ms: Option<u64>,
    pub(crate) end_reason: Option<String>,
    pub(crate) skipped: bool,
    pub(crate) end_source: Option<String>,
    pub(crate) source: String,
    pub(crate) error: Option<String>,
    pub(crate) import_key: Option<String>,
    pub(crate) track_id: Option<i64>,
    pub(crate) path: Option<String>,
    pub(crate) title: String,
    pub(crate) artist: Option<String>,
    pub(crate) album_artist: Option<String>,
    pub(crate) album: Option<String>,
    pub(crate) track_no: Option<u32>,
    pub(crate) disc_no: Option<u32>,
    pub(crate) year: Option<i32>,
    pub(crate) genre: Option<String>,
    pub(crate) track_duration_ms: Option<u64>,
    /// When the listener liked or banned the track (as of the export), if they did.
    #[serde(serialize_with = "as_opt_time")]
    pub(crate) liked_at: Option<i64>,
    #[serde(serialize_with = "as_opt_time")]
    pub(crate) banned_at: Option<i64>,
    #[serde(skip)]
    pub(crate) previous_ended_at: Option<i64>,
    #[serde(skip)]
    pub(crate) previous_end_reason: Option<String>,
    #[serde(skip)]
    pub(crate) session_position: i64,
    #[serde(skip)]
    pub(crate) session_length: i64,
    /// Names the track in formats that need one for every play: the track id, or for a track
    /// the library lacks `i` and a number shared by the plays imported with its artist and title.
    #[serde(skip)]
    pub(crate) track_ref: String,
}

fn as_time<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::fmt::format_time(*ms))
}

fn as_opt_time<S: serde::Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => as_time(ms, s),
        None => s.serialize_none(),
    }
}

/// How many plays started in `since..until` (all, or only ended ones), imported plays still
/// waiting for their track included.
pub(crate) fn count_log_rows(conn: &Connection, since: i64, until: i64, finished_only: bool) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM plays
                 WHERE started_at >= ?1 AND started_at < ?2 AND (?3 = 0 OR end_reason IS NOT NULL))
              + (SELECT count(*) FROM unmatched_plays WHERE started_at >= ?1 AND started_at < ?2)",
        params![since, until, finished_only],
        |r| r.get(0),
    )
}

/// Calls `each` with every play started in `since..until` (all, or only ended ones; imported
/// plays still waiting for their track included), oldest first, streamed from SQLite. Neighbours and session positions are computed over the whole log
/// before the range cuts it, so a period says the same about its plays as the whole log.
pub(crate) fn for_each_log_row<E: From<rusqlite::Error>>(
    conn: &Connection,
    since: i64,
    until: i64,
    finished_only: bool,
    mut each: impl FnMut(&LogRow) -> Result<(), E>,
) -> Result<(), E> {
    // Imported plays whose track the library lacks come with the artist, title and album they
    // were imported with, in their place in their session.
    let mut stmt = conn.prepare(
        "WITH every_play AS (
             SELECT p.id AS play_id, p.session_id, p.position, p.started_at, p.ended_at, p.played_ms,
                    p.duration_ms, p.end_reason, p.skipped, p.source, p.error, p.import_key, p.end_source,
                    p.track_id, NULL AS u_title, NULL AS u_artist, NULL AS u_album, 0 AS tie,
                    CAST(p.track_id AS TEXT) AS track_ref
             FROM plays p WHERE ?3 = 0 OR p.end_reason IS NOT NULL
             UNION ALL
             SELECT NULL, u.session_id, u.position, u.started_at, u.ended_at, u.played_ms,
                    NULL, u.end_reason, u.skipped, 'import', NULL, u.import_key, NULL,
                    NULL, u.title, u.artist, u.album, u.id, 'i' || dense_rank() OVER (ORDER BY u.match_key)
             FROM unmatched_plays u)
         SELECT * FROM (
             SELECT a.play_id, a.session_id, a.position, a.started_at AS started, a.ended_at, a.played_ms,
                    a.duration_ms, a.end_reason, a.skipped, a.source, a.error, a.import_key,
                    t.id, t.path_text, coalesce(t.title, a.u_title), coalesce(t.artist, a.u_artist), t.album_artist,
                    coalesce(t.album, a.u_album), t.track_no, t.disc_no, t.year, t.genre, t.duration_ms,
                    lag(a.ended_at) OVER by_time, lag(a.end_reason) OVER by_time,
                    row_number() OVER (PARTITION BY a.session_id ORDER BY a.position, a.play_id, a.tie),
                    count(*) OVER (PARTITION BY a.session_id), a.end_source, l.liked_at, b.banned_at, a.track_ref,
                    a.tie
             FROM every_play a LEFT JOIN tracks t ON t.id = a.track_id
                  LEFT JOIN likes l ON l.track_id = t.id LEFT JOIN bans b ON b.track_id = t.id
             WINDOW by_time AS (ORDER BY a.started_at, a.play_id, a.tie))
         WHERE started >= ?1 AND started < ?2
         ORDER BY started, play_id, tie",
    )?;
    let mut rows = stmt.query(params![since, until, finished_only])?;
    while let Some(r) = rows.next()? {
        let row = LogRow {
            play_id: r.get(0)?,
            session_id: r.get(1)?,
            position: r.get(2)?,
            started_at: r.get(3)?,
            ended_at: r.get(4)?,
            played_ms: r.get(5)?,
            duration_ms: r.get(6)?,
            end_reason: r.get(7)?,
            skipped: r.get(8)?,
            source: r.get(9)?,
            error: r.get(10)?,
            import_key: r.get(11)?,
            track_id: r.get(12)?,
            path: r.get(13)?,
            title: r.get(14)?,
            artist: r.get(15)?,
            album_artist: r.get(16)?,
            album: r.get(17)?,
            track_no: r.get(18)?,
            disc_no: r.get(19)?,
            year: r.get(20)?,
            genre: r.get(21)?,
            track_duration_ms: r.get(22)?,
            previous_ended_at: r.get(23)?,
            previous_end_reason: r.get(24)?,
            session_position: r.get(25)?,
            session_length: r.get(26)?,
            end_source: r.get(27)?,
            liked_at: r.get(28)?,
            banned_at: r.get(29)?,
            track_ref: r.get(30)?,
        };
        each(&row)?;
    }
    Ok(())
}
