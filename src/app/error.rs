//! The app layer's error ([`AppError`]): each failure of its functions and workers, said in one
//! line that names what failed and where.

use std::path::PathBuf;

use crate::db::DbError;
use crate::history::HistoryError;
use crate::logio::LogIoError;
use crate::paths::PathsError;
use crate::player::PlayerError;
use crate::recommend::RecommendError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    Player(#[from] PlayerError),
    #[error(transparent)]
    Recommend(#[from] RecommendError),
    #[error(transparent)]
    LogIo(#[from] LogIoError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("cannot watch the library's folders: {0}")]
    Watch(#[from] notify::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "{}: no skipless data here yet (the player, `skipless scan` or `skipless import` start it; is --data-dir right?)",
        .0.display()
    )]
    NoData(PathBuf),
    /// A request that cannot be carried out as asked: a name taken, a playlist that is not there.
    #[error("{0}")]
    Refused(String),
    /// `skipless remote` (or a command telling a running player) found no player to ask.
    #[error("no skipless player is running with this data dir (no socket at {})", .0.display())]
    NoPlayer(PathBuf),
    /// ... where a player that ended without closing (a `kill -9`, a power cut) left its socket.
    #[error(
        "no skipless player is running with this data dir (the socket at {} is left from one that ended without closing; the next player replaces it)",
        .0.display()
    )]
    StalePlayer(PathBuf),
    #[error("{}: permission denied (the player belongs to another user)", .0.display())]
    PlayerDenied(PathBuf),
    #[error("{}: the player closed the connection without answering", .0.display())]
    NoAnswer(PathBuf),
    #[error("{}: the player did not answer within {} s (is it stopped or hung?)", .0.display(), .1.as_secs())]
    AnswerLate(PathBuf, std::time::Duration),
    /// The closed-loop simulation could not go on.
    #[error("simulation: {0}")]
    Simulation(String),
    /// What was not done, and why.
    #[error("{what}: {source}")]
    NotDone { what: &'static str, source: Box<AppError> },
}

impl AppError {
    /// Reads an I/O error as one on `path`.
    pub(crate) fn io_at(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> AppError + '_ {
        move |source| AppError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// This error as the reason `what` was not done.
    pub(crate) fn not_done(self, what: &'static str) -> AppError {
        AppError::NotDone {
            what,
            source: Box::new(self),
        }
    }
}
