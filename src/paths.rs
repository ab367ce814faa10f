//! Where skipless keeps its files ([`Paths`], [`PathsError`]): the data dir (database, models)
//! and the config.

use std::path::{Path, PathBuf};

/// Why the data dir cannot be used, in one line that names it.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("no home directory: pass --data-dir DIR")]
    NoHome,
    #[error("{0}: not a folder; the data directory must be one")]
    NotAFolder(PathBuf),
    #[error("{path}: cannot create the data directory: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot write to the data directory ({source}); skipless keeps its database there")]
    DataDirReadOnly { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot write to the database ({source})")]
    DatabaseReadOnly { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot open the lock file: {source}")]
    LockFile { path: PathBuf, source: std::io::Error },
    #[error("{0}: another skipless player is already running with this data dir")]
    Locked(PathBuf),
    #[error("{path}: cannot lock: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
}

/// Resolved locations for one run.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    /// Files that can be made again (cover pictures for MPRIS): the platform cache dir, or
    /// `cache/` inside a data dir given with `--data-dir`, so such a run leaves nothing elsewhere.
    pub cache_dir: PathBuf,
}

impl Paths {
    /// Uses the given overrides, or the platform's directories (XDG on Linux).
    pub(crate) fn resolve(data_dir: Option<PathBuf>, config_file: Option<PathBuf>) -> Result<Self, PathsError> {
        // Paths made from the data dir leave the process (a cover's `file://` URI for the
        // desktop), so a relative one is made absolute once, here.
        let data_dir = data_dir.map(|dir| std::path::absolute(&dir).unwrap_or(dir));
        let dirs = directories::ProjectDirs::from("", "", "skipless");
        let cache_dir = match (&data_dir, &dirs) {
            (None, Some(dirs)) => dirs.cache_dir().to_path_buf(),
            (Some(dir), _) => dir.join("cache"),
            (None, None) => PathBuf::new(),
        };
        let data_dir = match (data_dir, &dirs) {
            (Some(dir), _) => dir,
            (None, Some(dirs)) => dirs.data_dir().to_path_buf(),
            (None, None) => return Err(PathsError::NoHome),
        };
        let config_file = match (config_file, &dirs) {
            (Some(file), _) => file,
            (None, Some(dirs)) => dirs.config_dir().join("config.toml"),
            (None, None) => data_dir.join("config.toml"),
        };
        Ok(Self {
            data_dir,
            config_file,
            cache_dir,
        })
    }

    pub(crate) fn database(&self) -> PathBuf {
        self.data_dir.join("skipless.db")
    }

    /// What the player remembers between runs (`app::remembered`).
    pub(crate) fn remembered_file(&self) -> PathBuf {
        self.data_dir.join("state.json")
    }

    /// The file a running player holds its lock on ([`Paths::lock_instance`]).
    pub(crate) fn lock_file(&self) -> PathBuf {
        self.data_dir.join("skipless.lock")
    }

    pub(crate) fn models_dir(&self) -> PathBuf {
        self.data_dir.join("models")
    }

    /// The Unix socket a running player listens on for `skipless remote`: in the user's
    /// runtime dir (`$XDG_RUNTIME_DIR/skipless`, or `/tmp/skipless-UID` without one), named
    /// after the data dir, so players with different data dirs each have their own.
    pub(crate) fn remote_socket(&self) -> PathBuf {
        let dir = directories::BaseDirs::new()
            .and_then(|dirs| dirs.runtime_dir().map(|d| d.join("skipless")))
            .unwrap_or_else(|| {
                // SAFETY: geteuid has no preconditions and cannot fail.
                PathBuf::from(format!("/tmp/skipless-{}", unsafe { libc::geteuid() }))
            });
        let data_dir = std::fs::canonicalize(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
        dir.join(format!(
            "player-{:016x}.sock",
            fnv1a(data_dir.as_os_str().as_encoded_bytes())
        ))
    }

    /// The player's log file (MPRIS on or off, panics of background threads).
    pub(crate) fn log_file(&self) -> PathBuf {
        self.data_dir.join("skipless.log")
    }

    /// Creates the data dir if needed and checks that skipless can write there (the database,
    /// its write-ahead log and the lock live in it), with a one-line error naming it.
    pub(crate) fn ensure_data_dir(&self) -> Result<&Path, PathsError> {
        let path = || self.data_dir.clone();
        if self.data_dir.exists() && !self.data_dir.is_dir() {
            return Err(PathsError::NotAFolder(path()));
        }
        std::fs::create_dir_all(&self.data_dir).map_err(|source| PathsError::Create { path: path(), source })?;
        writable(&self.data_dir).map_err(|source| PathsError::DataDirReadOnly { path: path(), source })?;
        let database = self.database();
        if database.exists() {
            writable(&database).map_err(|source| PathsError::DatabaseReadOnly { path: database, source })?;
        }
        Ok(&self.data_dir)
    }
}

/// FNV-1a, 64 bits: for file names that stay the same across builds (std's hasher may change).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether this process may write to `path` (a read-only mount says so even to root).
fn writable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Holds the data dir's instance lock while alive: one player per data dir writes the log.
#[derive(Debug)]
pub(crate) struct InstanceLock {
    _file: std::fs::File,
}

impl Paths {
    /// Takes the exclusive player lock of the data dir, or says who holds it.
    pub(crate) fn lock_instance(&self) -> Result<InstanceLock, PathsError> {
        let path = self.lock_file();
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path);
        let file = match opened {
            Ok(file) => file,
            Err(source) => return Err(PathsError::LockFile { path, source }),
        };
        match file.try_lock() {
            Ok(()) => Ok(InstanceLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(PathsError::Locked(self.data_dir.clone())),
            Err(std::fs::TryLockError::Error(source)) => Err(PathsError::Lock { path, source }),
        }
    }
}
