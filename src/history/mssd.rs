//! The session CSV of Spotify's Music Streaming Sessions Dataset.
//!
//! It has no artist or absolute time: the track id is the title, the artist is empty, and the
//! timestamp is the date plus the hour, with the session position added in milliseconds so that
//! plays keep their order. A play is skipped when `skip_2` is true (left early), as in the method.

use std::collections::HashMap;
use std::path::Path;

use super::{HistoryError, HistoryPlay};

const REQUIRED: [&str; 6] = [
    "session_id",
    "session_position",
    "track_id_clean",
    "skip_2",
    "hour_of_day",
    "date",
];

pub(super) fn parse(bytes: &[u8], path: &Path) -> Result<Vec<HistoryPlay>, HistoryError> {
    let text = std::str::from_utf8(bytes).map_err(|e| HistoryError::File {
        path: path.to_path_buf(),
        message: format!("not UTF-8 text: {e}"),
    })?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').map(str::trim).collect();
    let column: HashMap<&str, usize> = header.iter().enumerate().map(|(i, name)| (*name, i)).collect();
    let mut index = [0usize; REQUIRED.len()];
    for (slot, name) in index.iter_mut().zip(REQUIRED) {
        *slot = *column.get(name).ok_or_else(|| HistoryError::File {
            path: path.to_path_buf(),
            message: format!("not an MSSD session log: no `{name}` column"),
        })?;
    }
    let [session, position, track, skip2, hour, date] = index;
    let col = |name: &str| column.get(name).copied();
    let (reason_start, reason_end, shuffle) = (
        col("hist_user_behavior_reason_start"),
        col("hist_user_behavior_reason_end"),
        col("hist_user_behavior_is_shuffle"),
    );
    let mut plays = Vec::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let record = n + 1;
        let bad = |message: String| HistoryError::Record {
            path: path.to_path_buf(),
            record,
            message,
        };
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != header.len() {
            return Err(bad(format!("{} fields, the header has {}", fields.len(), header.len())));
        }
        let parse_bool = |i: usize| match fields[i] {
            "True" | "true" | "1" => Ok(true),
            "False" | "false" | "0" => Ok(false),
            other => Err(bad(format!("`{}` is not a boolean: {other:?}", header[i]))),
        };
        let parse_u64 = |i: usize| {
            fields[i]
                .parse::<u64>()
                .map_err(|_| bad(format!("`{}` is not a number: {:?}", header[i], fields[i])))
        };
        // This sample writes dates as DD-MM-YY ("15-07-18" is 2018-07-15, the dataset's period).
        let day = parse_date(fields[date]).ok_or_else(|| bad(format!("bad date {:?}", fields[date])))?;
        let hour_ms = parse_u64(hour)?
            .checked_mul(3_600_000)
            .filter(|&ms| ms < 86_400_000)
            .ok_or_else(|| {
                bad(format!(
                    "`{}` is not an hour of the day: {:?}",
                    header[hour], fields[hour]
                ))
            })?;
        let position_ms = parse_u64(position)?;
        let midnight = day.to_zoned(jiff::tz::TimeZone::UTC).map_err(|e| bad(e.to_string()))?;
        let ts_ms = midnight
            .timestamp()
            .as_millisecond()
            .checked_add_unsigned(hour_ms + position_ms.min(u64::from(u32::MAX)))
            .ok_or_else(|| {
                bad(format!(
                    "`{}` is out of range: {:?}",
                    header[position], fields[position]
                ))
            })?;
        if fields[track].is_empty() {
            return Err(bad("empty track_id_clean".into()));
        }
        plays.push(HistoryPlay {
            ts_ms,
            artist: String::new(),
            track: fields[track].to_owned(),
            album: None,
            ms_played: 0,
            skipped: Some(parse_bool(skip2)?),
            reason_start: reason_start.map(|i| fields[i].to_owned()),
            reason_end: reason_end.map(|i| fields[i].to_owned()),
            shuffle: shuffle.map(parse_bool).transpose()?,
            session: Some(fields[session].to_owned()),
        });
    }
    Ok(plays)
}

/// "DD-MM-YY", the years being 20YY.
fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    let mut parts = text.split('-').map(|p| p.parse::<u8>().ok());
    let (day, month, year) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() {
        return None;
    }
    let as_i8 = |n: u8| i8::try_from(n).ok();
    jiff::civil::Date::new(2000 + i16::from(year), as_i8(month)?, as_i8(day)?).ok()
}
