//! Readers of listening-history exports ([`HistoryPlay`], [`HistoryError`], [`read_paths`]).
//!
//! Three formats are understood: Spotify's Extended Streaming History
//! (`Streaming_History_Audio_*.json`, `endsong_*.json`), the basic `StreamingHistory*.json`, and the
//! session CSV of Spotify's Music Streaming Sessions Dataset (MSSD). Only music rows (rows with a
//! track name) are returned. Files are read in name order and rows stably sorted by timestamp, as
//! the evaluation protocol requires. A malformed file is refused with one line naming the file
//! and the record number.

mod json;

pub(crate) use json::stream_array;
mod mssd;

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One play of a music track, whatever the export format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPlay {
    /// Unix milliseconds (UTC); the end of the play in Spotify exports.
    pub ts_ms: i64,
    /// Empty when the format has no artist (MSSD).
    pub artist: String,
    pub track: String,
    pub album: Option<String>,
    pub ms_played: u64,
    /// `None` where the export has no skip flag (basic format, null fields).
    pub skipped: Option<bool>,
    pub reason_start: Option<String>,
    pub reason_end: Option<String>,
    pub shuffle: Option<bool>,
    /// The export's own session id, where it has one (MSSD).
    pub session: Option<String>,
}

/// The longest a play can last, in ms (a week): a history record beyond it is malformed.
pub(crate) const MAX_PLAY_MS: u64 = 7 * 24 * 3600 * 1000;

impl HistoryPlay {
    /// The protocol's skip rule: the export's flag, or less than 30 s played where it has none.
    pub fn is_skip(&self) -> bool {
        self.skipped.unwrap_or(self.ms_played < 30_000)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: record {record}: {message}")]
    Record {
        path: PathBuf,
        record: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error(
        "{path}: not a listening history (expected Spotify's JSON history, Extended or basic; `skipless eval` and `simulate` also read an MSSD .csv)"
    )]
    UnknownFormat { path: PathBuf },
    #[error("{path}: this is {what}, not a listening history")]
    NotAHistory { path: PathBuf, what: &'static str },
    #[error("no listening history files found in {paths}")]
    Empty { paths: String },
}

/// The export formats [`read_file`] recognises: by content for a file given by name, by name
/// for the files of a folder (Spotify's export folders also hold `Playlist1.json`,
/// `YourLibrary.json` and others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Extended,
    Basic,
    Mssd,
}

/// Whether `path` is a basic export's podcast history: since 2023 the basic export splits music
/// from podcasts (`StreamingHistory_music_0.json`, `StreamingHistory_podcast_0.json`), and
/// episodes are no plays of the library's tracks.
pub(crate) fn is_podcast_history(path: &Path) -> bool {
    path.file_name()
        .map(|name| name.to_string_lossy().to_lowercase())
        .is_some_and(|name| name.starts_with("streaminghistory_podcast") && name.ends_with(".json"))
}

impl Format {
    /// Guesses the format from the file name; `None` for files that are not histories.
    pub(crate) fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_lowercase();
        if name.ends_with(".json") {
            if name.starts_with("streaming_history_audio") || name.starts_with("endsong") {
                return Some(Format::Extended);
            }
            if name.starts_with("streaminghistory") && !is_podcast_history(path) {
                return Some(Format::Basic);
            }
        }
        if name.ends_with(".csv") {
            return Some(Format::Mssd);
        }
        None
    }

    /// The format of a file given by name, told from its first bytes whatever it is called (an
    /// export written by `skipless export --format spotify` to `my-listens.json` is a history).
    /// Content that is no history but a known other thing (a playlist, a ListenBrainz export,
    /// Spotify's library of liked songs) is named in the error; content too damaged to tell
    /// falls back to the name, so the parser can say what is wrong with it.
    pub(crate) fn detect(path: &Path) -> Result<Format, HistoryError> {
        use std::io::Read;
        let io = |source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut head = Vec::with_capacity(8192);
        std::fs::File::open(path)
            .map_err(io)?
            .take(8192)
            .read_to_end(&mut head)
            .map_err(io)?;
        let text = String::from_utf8_lossy(&head);
        let text = text.trim_start_matches('\u{feff}').trim_start();
        let has_key = |key: &str| text.contains(&format!("\"{key}\""));
        let not_a_history = |what| HistoryError::NotAHistory {
            path: path.to_path_buf(),
            what,
        };
        if head.starts_with(b"\xff\xfe") || head.starts_with(b"\xfe\xff") {
            return Err(not_a_history(
                "UTF-16 text; skipless reads UTF-8 (save the file as UTF-8)",
            ));
        }
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if text.is_empty() {
            return Err(not_a_history("an empty file"));
        }
        if text.starts_with("#EXTM3U") || extension == "m3u" || extension == "m3u8" {
            return Err(not_a_history("a playlist (M3U)"));
        }
        if let Some(inside) = text.strip_prefix('[') {
            // An export of a span with no plays: a history, empty.
            if inside.trim_start().starts_with(']') {
                return Ok(Format::Extended);
            }
            if has_key("ts") || has_key("ms_played") || has_key("master_metadata_track_name") {
                return Ok(Format::Extended);
            }
            if has_key("listened_at") {
                return Err(not_a_history(
                    "a ListenBrainz export (import it with `skipless import listenbrainz`)",
                ));
            }
            if has_key("podcastName") && !has_key("artistName") {
                return Err(not_a_history(
                    "Spotify's podcast history (episodes; skipless reads the music files beside it)",
                ));
            }
            if has_key("endTime") || has_key("msPlayed") {
                return Ok(Format::Basic);
            }
        }
        if text.starts_with('{') {
            if has_key("play_id") && has_key("end_reason") {
                return Err(not_a_history(SKIPLESS_EXPORT));
            }
            if has_key("listened_at") {
                return Err(not_a_history(
                    "a ListenBrainz export (import it with `skipless import listenbrainz`)",
                ));
            }
            if has_key("tracks") && (has_key("albums") || has_key("artists") || has_key("bannedTracks")) {
                return Err(not_a_history("Spotify's library of saved tracks (YourLibrary.json)"));
            }
        }
        let first_line = text.lines().next().unwrap_or_default();
        if first_line.starts_with("play_id,session_id,") {
            return Err(not_a_history(SKIPLESS_EXPORT));
        }
        if first_line.contains("session_id") && first_line.contains("skip_") {
            return Ok(Format::Mssd);
        }
        Format::of(path).ok_or_else(|| HistoryError::UnknownFormat {
            path: path.to_path_buf(),
        })
    }
}

/// Reads every history file given (directories: the history files directly inside), files in name
/// order, and returns the music plays stably sorted by timestamp.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<HistoryPlay>, HistoryError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| HistoryError::Io {
                path: path.clone(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| HistoryError::Io {
                    path: path.clone(),
                    source,
                })?;
                let file = entry.path();
                if file.is_file() && Format::of(&file).is_some() {
                    files.push(file);
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        let paths = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(HistoryError::Empty { paths });
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()).then_with(|| a.cmp(b)));
    let mut plays = Vec::new();
    for file in &files {
        plays.extend(read_file(file)?);
    }
    plays.sort_by_key(|p| p.ts_ms);
    Ok(plays)
}

/// What a `csv` or `jsonl` export of skipless is to an import, and what imports back instead.
pub(crate) const SKIPLESS_EXPORT: &str =
    "a skipless CSV or JSON Lines export (a log imports back from its Spotify export, skips and end reasons with it: `skipless export --format spotify`)";

/// UTF-8's byte order mark.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Streams the records of one Spotify JSON history (Extended, `endsong_*.json` or basic) in file
/// order, with their 1-based record numbers: the play of each, or `None` for a record with no
/// track (a podcast episode, an audiobook, a track no longer available). The file is read piece by piece, so memory stays
/// flat whatever its size; an error from `each` stops the read and is returned as is.
pub(crate) fn stream_spotify<E: From<HistoryError>>(
    path: &Path,
    each: &mut dyn FnMut(usize, Option<HistoryPlay>) -> Result<(), E>,
) -> Result<(), E> {
    let format = Format::detect(path)?;
    let file = std::fs::File::open(path).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    skip_bom(&mut reader).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match format {
        Format::Extended => json::stream_extended(reader, path, each),
        Format::Basic => json::stream_basic(reader, path, each),
        Format::Mssd => Err(HistoryError::File {
            path: path.to_path_buf(),
            message: "an MSSD session log has no artists or times to import; give a Spotify JSON history".into(),
        }
        .into()),
    }
}

/// Parses the bytes of a history file of `format`; `path` only names it in errors.
pub fn parse_bytes(format: Format, bytes: &[u8], path: &Path) -> Result<Vec<HistoryPlay>, HistoryError> {
    let bytes = without_bom(bytes);
    match format {
        Format::Extended => json::parse_extended(bytes, path),
        Format::Basic => json::parse_basic(bytes, path),
        Format::Mssd => mssd::parse(bytes, path),
    }
}

/// Reads one history file, in file order.
pub fn read_file(path: &Path) -> Result<Vec<HistoryPlay>, HistoryError> {
    let bytes = std::fs::read(path).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let format = Format::detect(path)?;
    parse_bytes(format, &bytes, path)
}

/// `bytes` without a byte order mark at their start (some editors save UTF-8 with one).
pub(crate) fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// Moves `reader` past a byte order mark at its start: some editors save UTF-8 with one, and it
/// is no part of the JSON.
pub(crate) fn skip_bom(reader: &mut impl std::io::BufRead) -> std::io::Result<()> {
    if reader.fill_buf()?.starts_with(UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    }
    Ok(())
}
