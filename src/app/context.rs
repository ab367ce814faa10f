//! What every front end starts from ([`Context`]): where the files live and the config, plus
//! opening the database and the diagnostic log the way all of them do.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::db::Database;
use crate::paths::{Paths, PathsError};

/// The data dir, config file and the loaded config of one run.
pub(crate) struct Context {
    pub paths: Paths,
    pub config: Config,
}

impl Context {
    /// Refuses `path` as a file to write an export, a recap or a playlist to when it is one the
    /// player keeps its own data in (the database and its journals, what it remembers, its lock,
    /// its log, a saved model, the config file): written over, it would lose the log it was made
    /// from. A file there that its user cannot write is refused too.
    pub(crate) fn check_output(&self, path: &Path) -> Result<(), super::AppError> {
        // Where a path leads, whether or not its file exists yet.
        let resolved = |p: &Path| -> Option<PathBuf> {
            if let Ok(p) = std::fs::canonicalize(p) {
                return Some(p);
            }
            // A link to a file not made yet leads where the write will go, as the writer follows it.
            let followed = crate::atomic_file::link_target(p);
            let p = followed.as_deref().unwrap_or(p);
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            Some(std::fs::canonicalize(dir).ok()?.join(p.file_name()?))
        };
        let Some(target) = resolved(path) else { return Ok(()) };
        let database = self.paths.database().into_os_string();
        let journals = ["", "-wal", "-shm", "-journal", "-kept"].map(|suffix| {
            let mut name = database.clone();
            name.push(suffix);
            PathBuf::from(name)
        });
        let others = [
            self.paths.remembered_file(),
            self.paths.lock_file(),
            self.paths.log_file(),
            self.paths.config_file.clone(),
        ];
        let mut own = journals.iter().chain(&others).filter_map(|p| resolved(p));
        let in_models = resolved(&self.paths.models_dir()).is_some_and(|models| target.starts_with(models));
        if in_models || own.any(|p| p == target) {
            return Err(super::AppError::Refused(format!(
                "{}: the player keeps its own data there; write to another file",
                path.display()
            )));
        }
        // A file its user cannot write (read-only) is refused, as a shell's `>` refuses it,
        // though the folder would let a new file be renamed over it.
        if std::fs::metadata(&target).is_ok_and(|m| m.is_file()) {
            if let Err(e) = std::fs::OpenOptions::new().write(true).open(&target) {
                return Err(super::AppError::Refused(format!(
                    "{}: cannot write: {e}",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// Opens the database in the data dir, creating both if needed.
    pub(crate) fn open_database(&self) -> Result<Database, super::AppError> {
        self.paths.ensure_data_dir()?;
        Ok(Database::open(&self.paths.database())?)
    }

    /// Opens the database for a command that changes what is in it (a like, a playlist renamed,
    /// a model trained on the log): refused where there is none yet, as by
    /// [`Context::open_existing_database`], and opened for writing.
    pub(crate) fn open_database_there(&self) -> Result<Database, super::AppError> {
        self.refuse_no_data()?;
        self.open_database()
    }

    /// A data dir with no database is refused, as a mistyped `--data-dir` most often is. (One
    /// that is a file is refused when it is opened, by name.)
    fn refuse_no_data(&self) -> Result<(), super::AppError> {
        if !self.paths.database().exists() && !self.paths.data_dir.is_file() {
            return Err(super::AppError::NoData(self.paths.data_dir.clone()));
        }
        Ok(())
    }

    /// Opens the database for a command that only reads it (history, stats, an export): a data
    /// dir that is not there is refused, as a mistyped `--data-dir` most often is, rather than
    /// made and read as an empty log. One that cannot be written (a backup, a disk remounted
    /// read-only) is read as it is, so the log can still be looked at and exported.
    pub(crate) fn open_existing_database(&self) -> Result<Database, super::AppError> {
        self.refuse_no_data()?;
        match self.paths.ensure_data_dir() {
            Ok(_) => Ok(Database::open(&self.paths.database())?),
            Err(PathsError::DataDirReadOnly { .. } | PathsError::DatabaseReadOnly { .. }) => {
                Ok(Database::open_read_only(&self.paths.database())?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends the `tracing` lines of a player run (MPRIS on or off, warnings of background
    /// threads) to `skipless.log` in the data dir, appended, so they never write over the screen.
    /// A log that cannot be opened is left out: it is a diagnostic aid, not a reason to refuse to
    /// play.
    pub(crate) fn start_log_file(&self) {
        let path = self.paths.log_file();
        let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).open(path) else {
            return;
        };
        let _ = tracing_subscriber::fmt()
            .with_writer(std::sync::Mutex::new(file))
            .with_max_level(tracing::Level::INFO)
            .with_target(false)
            .try_init();
    }
}
