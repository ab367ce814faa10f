//! Queries on the listening log ([`HistoryRow`], [`Stats`]).

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::log::SkipRule;

/// One play with its track, as `skipless history` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryRow {
    pub play_id: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub track_id: i64,
    pub path: String,
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
    /// Who ended the play when the listener did: `key`, `mpris` or `stdin`.
    pub end_source: Option<String>,
}

/// The newest `limit` plays, newest first.
pub fn history(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<HistoryRow>> {
    let mut stmt = conn.prepare(
        "SELECT p.id, p.started_at, p.ended_at, p.track_id, t.path_text, t.artist, t.title, t.album,
                p.duration_ms, p.played_ms, p.end_reason, p.skipped, p.session_id, p.position, p.source, p.error,
                p.end_source
         FROM plays p JOIN tracks t ON t.id = p.track_id
         ORDER BY p.started_at DESC, p.id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(HistoryRow {
            play_id: r.get(0)?,
            started_at: r.get(1)?,
            ended_at: r.get(2)?,
            track_id: r.get(3)?,
            path: r.get(4)?,
            artist: r.get(5)?,
            title: r.get(6)?,
            album: r.get(7)?,
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
            crate::cli::format_duration(self.listening_ms),
            self.sessions
        )
    }
}

/// SQL truth value of "this play is a listen" under the rule bound to ?1 (fraction) and ?2 (ms).
const IS_LISTEN: &str = "(p.played_ms >= ?2 OR (p.duration_ms > 0 AND p.played_ms >= ?1 * p.duration_ms))";

pub fn stats(conn: &Connection, rule: &SkipRule, top: usize) -> rusqlite::Result<Stats> {
    let rule_params = params![rule.listen_fraction, rule.listen_ms as i64, top as i64];
    let (plays, listens, skips, listening_ms, sessions): (u64, u64, u64, u64, u64) = conn.query_row(
        &format!(
            "SELECT count(*), coalesce(sum({IS_LISTEN}), 0), coalesce(sum(p.skipped), 0),
                    coalesce(sum(p.played_ms), 0), count(DISTINCT p.session_id)
             FROM plays p WHERE p.end_reason IS NOT NULL AND ?3 >= 0"
        ),
        rule_params,
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let ranked_tracks = |filter: &str| -> rusqlite::Result<Vec<RankedTrack>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT t.id, t.artist, t.title, count(*) AS n FROM plays p JOIN tracks t ON t.id = p.track_id
             WHERE p.end_reason IS NOT NULL AND {filter}
             GROUP BY t.id ORDER BY n DESC, t.title LIMIT ?3"
        ))?;
        let rows = stmt.query_map(rule_params, |r| {
            Ok(RankedTrack {
                track_id: r.get(0)?,
                artist: r.get(1)?,
                title: r.get(2)?,
                count: r.get(3)?,
            })
        })?;
        rows.collect()
    };
    let top_tracks = ranked_tracks(IS_LISTEN)?;
    let most_skipped = ranked_tracks("p.skipped = 1 AND ?1 IS NOT NULL AND ?2 IS NOT NULL")?;
    let mut stmt = conn.prepare(&format!(
        "SELECT coalesce(t.artist, 'Unknown artist') AS a, count(*) AS n FROM plays p JOIN tracks t ON t.id = p.track_id
         WHERE p.end_reason IS NOT NULL AND {IS_LISTEN} GROUP BY a ORDER BY n DESC, a LIMIT ?3"
    ))?;
    let top_artists = stmt
        .query_map(rule_params, |r| {
            Ok(RankedArtist {
                artist: r.get(0)?,
                count: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Stats {
        plays,
        listens,
        skips,
        skip_rate: if plays > 0 { skips as f64 / plays as f64 } else { 0.0 },
        listening_ms,
        sessions,
        top_tracks,
        top_artists,
        most_skipped,
    })
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

/// Play counts of every track that has been played.
pub fn plays_per_track(conn: &Connection) -> rusqlite::Result<std::collections::HashMap<i64, TrackPlays>> {
    let mut stmt = conn.prepare(
        "SELECT track_id, count(*), sum(skipped), max(started_at) FROM plays
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
