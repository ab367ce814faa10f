//! The two JSON exports: Extended Streaming History and the basic `StreamingHistory*.json`.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{HistoryError, HistoryPlay, MAX_PLAY_MS};

#[derive(Deserialize)]
struct ExtendedRecord {
    ts: String,
    ms_played: u64,
    #[serde(default)]
    master_metadata_track_name: Option<String>,
    #[serde(default)]
    master_metadata_album_artist_name: Option<String>,
    #[serde(default)]
    master_metadata_album_album_name: Option<String>,
    #[serde(default)]
    reason_start: Option<String>,
    #[serde(default)]
    reason_end: Option<String>,
    #[serde(default)]
    shuffle: Option<bool>,
    #[serde(default)]
    skipped: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BasicRecord {
    end_time: String,
    artist_name: String,
    track_name: String,
    ms_played: u64,
}

/// The play of one Extended record; `None` for podcasts, audiobooks and unavailable tracks, which
/// have no track name.
fn extended_play(r: ExtendedRecord, record: usize, path: &Path) -> Result<Option<HistoryPlay>, HistoryError> {
    let Some(track) = r.master_metadata_track_name.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    check_ms_played(r.ms_played, record, path)?;
    let ts: jiff::Timestamp = r.ts.parse().map_err(|e: jiff::Error| HistoryError::Record {
        path: path.to_path_buf(),
        record,
        message: format!("bad timestamp {:?}: {e}", r.ts),
    })?;
    check_time(ts, &r.ts, record, path)?;
    Ok(Some(HistoryPlay {
        ts_ms: ts.as_millisecond(),
        artist: r.master_metadata_album_artist_name.unwrap_or_default(),
        track,
        album: r.master_metadata_album_album_name,
        ms_played: r.ms_played,
        skipped: r.skipped,
        reason_start: r.reason_start,
        reason_end: r.reason_end,
        shuffle: r.shuffle,
        session: None,
    }))
}

fn basic_play(r: BasicRecord, record: usize, path: &Path) -> Result<Option<HistoryPlay>, HistoryError> {
    if r.track_name.is_empty() {
        return Ok(None);
    }
    check_ms_played(r.ms_played, record, path)?;
    // Basic histories write the minute in UTC.
    let ts = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", &r.end_time)
        .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
        .map(|t| t.timestamp())
        .map_err(|e| HistoryError::Record {
            path: path.to_path_buf(),
            record,
            message: format!("bad endTime {:?}: {e}", r.end_time),
        })?;
    check_time(ts, &r.end_time, record, path)?;
    Ok(Some(HistoryPlay {
        ts_ms: ts.as_millisecond(),
        artist: r.artist_name,
        track: r.track_name,
        album: None,
        ms_played: r.ms_played,
        skipped: None,
        reason_start: None,
        reason_end: None,
        shuffle: None,
        session: None,
    }))
}

/// Refuses a time no play of a history can have: before 1970, or more than a day from now (a
/// clock set wrong, a file edited by hand). One such play would stand first in the history and
/// stretch every weekly chart to its year.
fn check_time(ts: jiff::Timestamp, written: &str, record: usize, path: &Path) -> Result<(), HistoryError> {
    let latest = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    if ts < jiff::Timestamp::UNIX_EPOCH || ts > latest {
        return Err(HistoryError::Record {
            path: path.to_path_buf(),
            record,
            message: format!("time {written:?} is before 1970 or in the future"),
        });
    }
    Ok(())
}

/// Refuses a play time no play can have ([`MAX_PLAY_MS`]): it would put the play's start
/// before the epoch and its length in every total.
fn check_ms_played(ms_played: u64, record: usize, path: &Path) -> Result<(), HistoryError> {
    if ms_played > MAX_PLAY_MS {
        return Err(HistoryError::Record {
            path: path.to_path_buf(),
            record,
            message: format!("ms_played {ms_played} is more than a week"),
        });
    }
    Ok(())
}

/// Streams the music plays of an Extended history with their 1-based record numbers.
pub(super) fn stream_extended<E: From<HistoryError>>(
    reader: impl Read,
    path: &Path,
    each: &mut dyn FnMut(usize, Option<HistoryPlay>) -> Result<(), E>,
) -> Result<(), E> {
    stream_array(reader, path, &mut |record, r: ExtendedRecord| {
        each(record, extended_play(r, record, path)?)
    })
}

/// Streams the records of a basic history with their 1-based record numbers: the play of each,
/// or `None` for one with no track name.
pub(super) fn stream_basic<E: From<HistoryError>>(
    reader: impl Read,
    path: &Path,
    each: &mut dyn FnMut(usize, Option<HistoryPlay>) -> Result<(), E>,
) -> Result<(), E> {
    stream_array(reader, path, &mut |record, r: BasicRecord| {
        each(record, basic_play(r, record, path)?)
    })
}

pub(super) fn parse_extended(bytes: &[u8], path: &Path) -> Result<Vec<HistoryPlay>, HistoryError> {
    let mut plays = Vec::new();
    stream_extended(bytes, path, &mut |_, play| {
        plays.extend(play);
        Ok::<_, HistoryError>(())
    })?;
    Ok(plays)
}

pub(super) fn parse_basic(bytes: &[u8], path: &Path) -> Result<Vec<HistoryPlay>, HistoryError> {
    let mut plays = Vec::new();
    stream_basic(bytes, path, &mut |_, play| {
        plays.extend(play);
        Ok::<_, HistoryError>(())
    })?;
    Ok(plays)
}

/// Reads a top-level JSON array of `T` one element at a time, handing each to `each` with its
/// (1-based) number; a parse error names the record that fails. An error from `each` stops the
/// read and is returned as is.
pub(crate) fn stream_array<T: DeserializeOwned, E: From<HistoryError>>(
    reader: impl Read,
    path: &Path,
    each: &mut dyn FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E> {
    let current = Cell::new(0usize);
    let mut stopped: Option<E> = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = de
        .deserialize_seq(StreamingVisitor {
            current: &current,
            each,
            stopped: &mut stopped,
            marker: PhantomData,
        })
        .and_then(|()| de.end());
    if let Some(e) = stopped {
        return Err(e);
    }
    result.map_err(|e| {
        let message = e.to_string();
        let error = match current.get() {
            0 => HistoryError::File {
                path: path.to_path_buf(),
                message: format!("not a JSON array of plays: {message}"),
            },
            record => HistoryError::Record {
                path: path.to_path_buf(),
                record,
                message,
            },
        };
        E::from(error)
    })
}

struct StreamingVisitor<'a, T, E> {
    current: &'a Cell<usize>,
    each: &'a mut dyn FnMut(usize, T) -> Result<(), E>,
    stopped: &'a mut Option<E>,
    marker: PhantomData<T>,
}

impl<'de, T: DeserializeOwned, E> Visitor<'de> for StreamingVisitor<'_, T, E> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of plays")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut record = 0;
        loop {
            record += 1;
            self.current.set(record);
            match seq.next_element()? {
                Some(element) => {
                    if let Err(e) = (self.each)(record, element) {
                        *self.stopped = Some(e);
                        // The caller returns the stored error; this one only unwinds the parser.
                        return Err(serde::de::Error::custom("stopped"));
                    }
                }
                None => break,
            }
        }
        // Errors after the closing bracket concern the file, not a record.
        self.current.set(0);
        Ok(())
    }
}
