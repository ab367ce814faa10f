//! The two JSON exports: Extended Streaming History and the basic `StreamingHistory*.json`.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{HistoryError, HistoryPlay};

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

pub(super) fn parse_extended(bytes: &[u8], path: &Path) -> Result<Vec<HistoryPlay>, HistoryError> {
    let records: Vec<ExtendedRecord> = parse_array(bytes, path)?;
    let mut plays = Vec::with_capacity(records.len());
    for (index, r) in records.into_iter().enumerate() {
        let Some(track) = r.master_metadata_track_name.filter(|t| !t.is_empty()) else {
            continue; // podcasts, audiobooks and unavailable tracks have no track name
        };
        let ts = OffsetDateTime::parse(&r.ts, &Rfc3339).map_err(|e| HistoryError::Record {
            path: path.to_path_buf(),
            record: index + 1,
            message: format!("bad timestamp {:?}: {e}", r.ts),
        })?;
        plays.push(HistoryPlay {
            ts_ms: (ts.unix_timestamp_nanos() / 1_000_000) as i64,
            artist: r.master_metadata_album_artist_name.unwrap_or_default(),
            track,
            album: r.master_metadata_album_album_name,
            ms_played: r.ms_played,
            skipped: r.skipped,
            reason_start: r.reason_start,
            reason_end: r.reason_end,
            shuffle: r.shuffle,
            session: None,
        });
    }
    Ok(plays)
}

pub(super) fn parse_basic(bytes: &[u8], path: &Path) -> Result<Vec<HistoryPlay>, HistoryError> {
    let records: Vec<BasicRecord> = parse_array(bytes, path)?;
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let mut plays = Vec::with_capacity(records.len());
    for (index, r) in records.into_iter().enumerate() {
        if r.track_name.is_empty() {
            continue;
        }
        let ts = PrimitiveDateTime::parse(&r.end_time, &format).map_err(|e| HistoryError::Record {
            path: path.to_path_buf(),
            record: index + 1,
            message: format!("bad endTime {:?}: {e}", r.end_time),
        })?;
        plays.push(HistoryPlay {
            ts_ms: (ts.assume_utc().unix_timestamp_nanos() / 1_000_000) as i64,
            artist: r.artist_name,
            track: r.track_name,
            album: None,
            ms_played: r.ms_played,
            skipped: None,
            reason_start: None,
            reason_end: None,
            shuffle: None,
            session: None,
        });
    }
    Ok(plays)
}

/// Parses a top-level JSON array of `T`, naming the (1-based) record that fails.
fn parse_array<T: DeserializeOwned>(bytes: &[u8], path: &Path) -> Result<Vec<T>, HistoryError> {
    let current = Cell::new(0usize);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = de
        .deserialize_seq(CountingVisitor::<T> {
            current: &current,
            marker: PhantomData,
        })
        .and_then(|records| de.end().map(|()| records));
    result.map_err(|e| {
        let message = e.to_string();
        match current.get() {
            0 => HistoryError::File {
                path: path.to_path_buf(),
                message: format!("not a JSON array of plays: {message}"),
            },
            record => HistoryError::Record {
                path: path.to_path_buf(),
                record,
                message,
            },
        }
    })
}

struct CountingVisitor<'a, T> {
    current: &'a Cell<usize>,
    marker: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> Visitor<'de> for CountingVisitor<'_, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of plays")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            self.current.set(out.len() + 1);
            match seq.next_element()? {
                Some(record) => out.push(record),
                None => break,
            }
        }
        // Errors after the closing bracket concern the file, not a record.
        self.current.set(0);
        Ok(out)
    }
}
