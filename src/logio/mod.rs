//! Export and import of the listening log ([`LogIoError`]).
//!
//! - [`export`]: writes the log as CSV, JSON lines, ListenBrainz listens, Spotify Extended
//!   Streaming History or the MSSD session CSV, streaming rows from SQLite ([`ExportFormat`]).
//! - [`import`]: brings Spotify and ListenBrainz histories into the log ([`import::ImportCounts`]).
//! - [`likes`]: liked songs of Spotify and ListenBrainz into the likes ([`likes::LikeCounts`]).
//! - [`matching`]: normalised artist/title keys and the library lookup ([`matching::Matcher`]).
//! - [`rematch`]: moves waiting imported plays into the log once a scan adds their track.

pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod likes;
pub(crate) mod matching;
pub(crate) mod rematch;

use std::path::PathBuf;

pub(crate) use export::ExportFormat;

use crate::db::DbError;
use crate::history::HistoryError;

#[derive(Debug, thiserror::Error)]
pub enum LogIoError {
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("{path}: record {record}: {message}")]
    Record {
        path: PathBuf,
        record: usize,
        message: String,
    },
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// An export's file could not be made, written or put in place.
    #[error("{path}: cannot write the export: {source}")]
    WriteFile { path: PathBuf, source: std::io::Error },
    #[error("writing the export: {0}")]
    Write(#[source] std::io::Error),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "no Spotify history files (Streaming_History_Audio_*.json, endsong_*.json, StreamingHistory*.json) in {0} or the folders inside it"
    )]
    NoFiles(String),
    /// A file failed after earlier ones of the same import were committed; says what was kept,
    /// so that a rerun's duplicates are no surprise. (A file that cannot be read adds nothing:
    /// its plays are written only once all of it was read. One that fails while they are
    /// written, a full disk, keeps the rounds written, and a rerun places the rest.)
    #[error(
        "{source} ({}: {} kept; importing {} again adds nothing)",
        files_before(*.files),
        crate::fmt::count(*.plays as u64, "play"),
        if *.files == 1 { "it" } else { "them" }
    )]
    AfterSome {
        source: Box<LogIoError>,
        files: usize,
        plays: usize,
    },
}

/// The files of an import before the one that failed, said as such: "the file before it was
/// imported", "the 3 files before it were imported".
fn files_before(files: usize) -> String {
    match files {
        1 => "the file before it was imported".into(),
        n => format!("the {} before it were imported", crate::fmt::count(n as u64, "file")),
    }
}

impl LogIoError {
    /// The error with a failure of SQLite said as the database's own errors say it: the file's
    /// path, and what the failure means (a damaged file, a full disk, a lock held too long).
    pub(crate) fn in_database(self, db: &crate::db::Database) -> Self {
        match self {
            LogIoError::Sqlite(e) => LogIoError::Db(db.err(e)),
            LogIoError::AfterSome { source, files, plays } => LogIoError::AfterSome {
                source: Box::new(source.in_database(db)),
                files,
                plays,
            },
            other => other,
        }
    }
}
