//! The SQLite database: opening, identity checks and migrations ([`Database`], [`DbError`]).
//!
//! The schema lives in `migrations/*.sql`, embedded in the binary and applied in order. The
//! applied version is `PRAGMA user_version`; `PRAGMA application_id` marks the file as ours, so
//! a foreign SQLite file or a database written by a newer skipless is refused untouched.

pub(crate) mod imports;
pub(crate) mod lyrics;
pub(crate) mod marks;
pub(crate) mod playlists;
pub(crate) mod plays;
pub(crate) mod tracks;
pub(crate) mod training;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

/// "SKPL" in ASCII: marks a SQLite file as a skipless database.
pub const APPLICATION_ID: i32 = 0x534B_504C;

/// The embedded migrations, in order; migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init.sql", include_str!("../../migrations/0001_init.sql")),
    ("0002_imports.sql", include_str!("../../migrations/0002_imports.sql")),
    (
        "0003_unmatched_sessions.sql",
        include_str!("../../migrations/0003_unmatched_sessions.sql"),
    ),
    (
        "0004_end_source.sql",
        include_str!("../../migrations/0004_end_source.sql"),
    ),
    (
        "0005_likes_bans.sql",
        include_str!("../../migrations/0005_likes_bans.sql"),
    ),
    (
        "0006_playlists.sql",
        include_str!("../../migrations/0006_playlists.sql"),
    ),
    (
        "0007_remote_end_source.sql",
        include_str!("../../migrations/0007_remote_end_source.sql"),
    ),
    (
        "0008_lyrics_shift.sql",
        include_str!("../../migrations/0008_lyrics_shift.sql"),
    ),
    (
        "0009_training_runs.sql",
        include_str!("../../migrations/0009_training_runs.sql"),
    ),
    (
        "0010_session_lookup.sql",
        include_str!("../../migrations/0010_session_lookup.sql"),
    ),
    (
        "0011_like_or_ban.sql",
        include_str!("../../migrations/0011_like_or_ban.sql"),
    ),
    (
        "0012_tags_read_again.sql",
        include_str!("../../migrations/0012_tags_read_again.sql"),
    ),
    (
        "0013_opus_gains_read.sql",
        include_str!("../../migrations/0013_opus_gains_read.sql"),
    ),
    (
        "0014_mp4_lengths_read.sql",
        include_str!("../../migrations/0014_mp4_lengths_read.sql"),
    ),
    (
        "0015_several_names_read.sql",
        include_str!("../../migrations/0015_several_names_read.sql"),
    ),
    (
        "0016_session_starts.sql",
        include_str!("../../migrations/0016_session_starts.sql"),
    ),
    (
        "0017_liked_playlist.sql",
        include_str!("../../migrations/0017_liked_playlist.sql"),
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a connection waits for another's write lock before it gives up.
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{path}: not a skipless database ({why}); it was left untouched")]
    Foreign { path: PathBuf, why: String },
    #[error("{path}: written by a newer skipless (schema {found}, this build knows up to {SCHEMA_VERSION}); it was left untouched")]
    TooNew { path: PathBuf, found: i64 },
    #[error("{path}: {}", describe_sqlite(.source))]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("{path}: the file is truncated ({have} of {want} bytes); it was left untouched")]
    Truncated { path: PathBuf, have: u64, want: u64 },
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: written by an older skipless (schema {found}); open it once where it can be written to bring it up to date")]
    OlderReadOnly { path: PathBuf, found: i64 },
    #[error("{path}: migration {name} failed: {source}")]
    Migration {
        path: PathBuf,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("{path}: deleted or replaced while the player runs; it is written back, with the plays since, when the player quits (beside the file there then, if another program made one)")]
    Deleted { path: PathBuf },
    #[error("{path}: deleted while the player ran, and cannot be written back: {why}")]
    WriteBack { path: PathBuf, why: String },
    #[error(
        "{path}: the database is damaged ({why}); it was left untouched (`sqlite3 FILE .recover | sqlite3 recovered.db` saves what it can)"
    )]
    Damaged { path: PathBuf, why: String },
}

/// An open, migrated skipless database.
pub struct Database {
    conn: Connection,
    path: PathBuf,
    /// The file opened, by device and inode: the path may come to name another one.
    file: Option<(u64, u64)>,
    /// Declared after `conn`, so that the connection is closed before it is no longer counted.
    _counted: Option<OpenFile>,
}

/// The database files this process has connections to, each with how many.
///
/// SQLite's locks are POSIX locks, which belong to the process: closing any descriptor of the
/// file drops all of them. The header check reads the file through a descriptor of its own; if
/// it closed that while a connection was open (the player opens one per worker), the open
/// connection would lose its lock, and another program reading the database (a `skipless`
/// command, `sqlite3`, a backup) would find no one else there and delete the write-ahead log
/// from under it. So the header is checked only while the process has no connection to it.
static OPEN_FILES: Mutex<Vec<(PathBuf, usize)>> = Mutex::new(Vec::new());

/// One connection counted in [`OPEN_FILES`] until dropped.
struct OpenFile(PathBuf);

impl OpenFile {
    /// Counts a connection to `path` about to be opened, running `check` first when it is the
    /// process's only one.
    fn count(path: &Path, check: impl FnOnce() -> Result<(), DbError>) -> Result<OpenFile, DbError> {
        let key = file_key(path);
        let mut open = OPEN_FILES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match open.iter_mut().find(|(file, _)| *file == key) {
            Some((_, n)) => *n += 1,
            None => {
                check()?;
                open.push((key.clone(), 1));
            }
        }
        Ok(OpenFile(key))
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        let mut open = OPEN_FILES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(at) = open.iter().position(|(file, _)| *file == self.0) {
            open[at].1 -= 1;
            if open[at].1 == 0 {
                open.swap_remove(at);
            }
        }
    }
}

/// One name for a database file, the same before and after the file exists: its folder's
/// canonical path and its own name (a symlink is not followed, so its name does not change
/// when its target comes to exist).
fn file_key(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(dir), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

impl Database {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let counted = OpenFile::count(path, || check_header(path))?;
        let _ = DATABASE_DIR.set(path.parent().unwrap_or(Path::new(".")).to_path_buf());
        let sqlite = |source| DbError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        // Every transaction here writes. A deferred one that reads first and then writes fails at
        // once, without waiting out the busy timeout, when another connection writes meanwhile:
        // one that takes the write lock at its start waits its turn instead.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let mut db = Database {
            conn,
            path: path.to_path_buf(),
            file: None,
            _counted: Some(counted),
        };
        db.check_identity()?;
        db.file = file_id(path);
        db.use_write_ahead_log().map_err(sqlite)?;
        db.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(sqlite)?;
        db.migrate()?;
        Ok(db)
    }

    /// Checks every page of the file (SQLite's `quick_check`), before a command that writes much:
    /// a file damaged inside, whose header still reads, is refused rather than written on.
    /// Reads the whole file, so the player does not run it at every start.
    pub(crate) fn check_intact(&self) -> Result<(), DbError> {
        let verdict: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |row| row.get(0))
            .map_err(|e| self.err(e))?;
        if verdict == "ok" {
            return Ok(());
        }
        // "*** in database main ***\nTree 14 page 70: ...": the page, on one line.
        let why = verdict
            .lines()
            .filter(|l| !l.starts_with("***"))
            .collect::<Vec<_>>()
            .join("; ");
        Err(DbError::Damaged {
            path: self.path.clone(),
            why,
        })
    }

    /// Opens the database at `path` to read only, for a folder that cannot be written (a backup
    /// on read-only media, a disk the kernel remounted read-only): nothing is migrated or
    /// written. Without a write-ahead log the file is all there is, read as it stands
    /// (`immutable`: SQLite needs no lock files then); with one, SQLite reads through it, which
    /// needs its index (`-shm`) beside it.
    pub(crate) fn open_read_only(path: &Path) -> Result<Self, DbError> {
        let counted = OpenFile::count(path, || check_header(path))?;
        let io = |source| DbError::Io {
            path: path.to_path_buf(),
            source,
        };
        let sqlite = |source| DbError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let absolute = std::path::absolute(path).map_err(io)?;
        let mut log = absolute.clone().into_os_string();
        log.push("-wal");
        let has_log = std::fs::metadata(&log).is_ok_and(|m| m.len() > 0);
        let uri = format!(
            "{}?{}",
            crate::uri::file_uri(&absolute),
            if has_log { "mode=ro" } else { "immutable=1" }
        );
        let conn = Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        let db = Database {
            conn,
            path: path.to_path_buf(),
            file: None,
            _counted: Some(counted),
        };
        db.check_identity()?;
        let found: i64 = db
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite)?;
        if found < SCHEMA_VERSION {
            return Err(DbError::OlderReadOnly {
                path: path.to_path_buf(),
                found,
            });
        }
        Ok(db)
    }

    /// An in-memory database holding placeholder tracks with the ids `ids`, for the tests of
    /// what refers to tracks (plays, the log).
    #[cfg(test)]
    pub(crate) fn in_memory_with_tracks(ids: std::ops::RangeInclusive<i64>) -> Self {
        let db = Self::open_in_memory().expect("an in-memory database");
        for id in ids {
            db.conn()
                .execute(
                    "INSERT INTO tracks (id, path, path_text, size, mtime_ns, status, title, added_at, updated_at)
                     VALUES (?1, CAST(?1 AS BLOB), ?1, 1, 1, 'ok', 't', 0, 0)",
                    [id],
                )
                .expect("a placeholder track");
        }
        db
    }

    /// An in-memory database with the full schema, for unit tests.
    #[cfg(test)]
    pub(crate) fn open_in_memory() -> Result<Self, DbError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| DbError::Sqlite {
            path: path.clone(),
            source,
        })?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(|source| DbError::Sqlite {
                path: path.clone(),
                source,
            })?;
        let mut db = Database {
            conn,
            path,
            file: None,
            _counted: None,
        };
        db.migrate()?;
        Ok(db)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// How long this connection waits for another's write lock (at most [`BUSY_TIMEOUT`] unless
    /// set here). Setting it cannot fail but on a closed connection, where every write fails
    /// anyway and says why.
    pub(crate) fn set_lock_wait(&self, wait: std::time::Duration) {
        let _ = self.conn.busy_timeout(wait);
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the database's file was deleted, or its folder with it, while this connection
    /// holds it, or its path now names another file (one a program made after the deletion):
    /// what is written goes on into a file no path names, which is gone when the process ends,
    /// unless it is written back ([`Database::write_back`]).
    pub(crate) fn is_deleted(&self) -> bool {
        self.file.is_some_and(|opened| match std::fs::metadata(&self.path) {
            Ok(_) => file_id(&self.path) != Some(opened),
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        })
    }

    /// Writes the database this connection holds, deleted or replaced ([`Database::is_deleted`]),
    /// back as a new file: at its path, or beside the file that is there by then, as
    /// `NAME.recovered-UNIXMS`, which is left alone. Returns where. The connection goes on with
    /// the deleted file: a second connection to the new one, in this process, would lose its
    /// write-ahead log when the last connection to the deleted file closes, as SQLite then
    /// removes the log by its name.
    pub(crate) fn write_back(&self) -> Result<PathBuf, DbError> {
        let failed = |why: String| DbError::WriteBack {
            path: self.path.clone(),
            why,
        };
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
        let target = match self.path.exists() {
            false => self.path.clone(),
            true => {
                let mut name = self.path.clone().into_os_string();
                name.push(format!(".recovered-{}", crate::clock::now_ms()));
                PathBuf::from(name)
            }
        };
        let written = target
            .to_str()
            .ok_or_else(|| failed("its path is not UTF-8, which SQLite's VACUUM INTO needs".into()))?;
        // Fails when a file is there: nothing is overwritten.
        self.conn
            .execute("VACUUM INTO ?1", [written])
            .map_err(|e| failed(describe_sqlite(&e)))?;
        [target.as_path(), dir]
            .into_iter()
            .try_for_each(|synced| std::fs::File::open(synced)?.sync_all())
            .map_err(|e| failed(e.to_string()))?;
        Ok(target)
    }

    /// Wraps a query error with the database path.
    pub(crate) fn err(&self, source: rusqlite::Error) -> DbError {
        DbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Puts the file in write-ahead-log mode (it stays so). Two processes creating the file at
    /// once may both try: SQLite answers the later one "busy" at once, without its busy handler,
    /// so it tries again for as long as the busy timeout would have waited.
    fn use_write_ahead_log(&self) -> rusqlite::Result<()> {
        let until = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match self.conn.execute_batch("PRAGMA journal_mode = WAL;") {
                Err(e)
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                        && std::time::Instant::now() < until =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                done => return done,
            }
        }
    }

    fn check_identity(&self) -> Result<(), DbError> {
        // One statement, so one read: another process may migrate the file between two.
        let (app_id, version, objects): (i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT (SELECT application_id FROM pragma_application_id()),
                        (SELECT user_version FROM pragma_user_version()),
                        (SELECT count(*) FROM sqlite_master)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|source| self.foreign_or_sqlite(source))?;
        if app_id == i64::from(APPLICATION_ID) {
            if version > SCHEMA_VERSION {
                return Err(DbError::TooNew {
                    path: self.path.clone(),
                    found: version,
                });
            }
            return Ok(());
        }
        if app_id == 0 && version == 0 && objects == 0 {
            return Ok(()); // a new, empty file
        }
        Err(DbError::Foreign {
            path: self.path.clone(),
            why: format!("a SQLite database of another application (application_id {app_id:#x}, {objects} objects)"),
        })
    }

    fn foreign_or_sqlite(&self, source: rusqlite::Error) -> DbError {
        match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => DbError::Foreign {
                path: self.path.clone(),
                why: "not a SQLite database".into(),
            },
            _ => DbError::Sqlite {
                path: self.path.clone(),
                source,
            },
        }
    }

    fn migrate(&mut self) -> Result<(), DbError> {
        let current: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        // A migration rewrites tables: one damaged inside is refused before it spreads the damage.
        // (Once a version, so the read of the whole file is paid rarely.)
        if current > 0 && (current as usize) < MIGRATIONS.len() {
            self.check_intact()?;
        }
        for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
            let to = index as i64 + 1;
            let path = self.path.clone();
            let fail = |source| DbError::Migration {
                path: path.clone(),
                name,
                source,
            };
            let tx = self.conn.transaction().map_err(fail)?;
            // Another process opening the database at the same time may have migrated it since
            // the version was read: under the write lock, the version read again decides.
            let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(fail)?;
            if now > SCHEMA_VERSION {
                return Err(DbError::TooNew {
                    path: self.path.clone(),
                    found: now,
                });
            }
            if now >= to {
                continue;
            }
            tx.execute_batch(sql).map_err(fail)?;
            tx.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {to};"
            ))
            .map_err(fail)?;
            tx.commit().map_err(fail)?;
        }
        Ok(())
    }
}

/// Refuses, before SQLite touches it, a non-empty file that does not start with the SQLite
/// header, and a file shorter than its header says (cut off by a copy or a full disk): SQLite
/// would read the missing pages as zeros and could write over what is left.
fn check_header(path: &Path) -> Result<(), DbError> {
    let io = |source| DbError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(io(source)),
    };
    let mut header = [0u8; 100];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(source) => return Err(io(source)),
        }
    }
    if read == 0 {
        return Ok(());
    }
    if read < 16 || &header[..16] != b"SQLite format 3\0" {
        return Err(DbError::Foreign {
            path: path.to_path_buf(),
            why: "not a SQLite database".into(),
        });
    }
    if read < header.len() {
        return Err(DbError::Truncated {
            path: path.to_path_buf(),
            have: read as u64,
            want: header.len() as u64,
        });
    }
    // The page count in the header is valid when the "version valid for" field matches the
    // change counter. A write-ahead log may hold pages a checkpoint had not yet copied over, so
    // with one present SQLite is left to recover.
    let be32 = |at: usize| u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    let pages = u64::from(be32(28));
    let wal = path.with_extension("db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    if be32(24) == be32(92) && pages > 0 && wal_len == 0 {
        let have = file.metadata().map_err(io)?.len();
        let want = pages * page_size;
        if have < want {
            return Err(DbError::Truncated {
                path: path.to_path_buf(),
                have,
                want,
            });
        }
    }
    Ok(())
}

/// The folder of the first database opened by this process, to tell a full disk from other
/// I/O errors.
static DATABASE_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// SQLite's message, made plain for the errors a listener can do something about. A full disk
/// can show as a short write (`SQLITE_FULL`) or, when the shared-memory index cannot grow, as a
/// plain I/O error; either way SQLite rolled the transaction back.
/// The device and inode of the file at `path`.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn describe_sqlite(error: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode;
    let full = "the disk is full; the change was not saved (the log is as it was)".to_owned();
    match error.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => full,
        Some(ErrorCode::SystemIoFailure) if DATABASE_DIR.get().is_some_and(|d| disk_is_full(d)) => full,
        Some(ErrorCode::DatabaseCorrupt) => format!("the database is damaged ({error})"),
        Some(ErrorCode::DatabaseBusy) => "the database is locked: another program holds its write lock".to_owned(),
        _ => error.to_string(),
    }
}

/// Whether the filesystem holding `dir` has no space left.
fn disk_is_full(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs only writes into `stat`, which is sized for it; `c_path` is NUL-terminated.
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c_path.as_ptr(), &mut stat) == 0 && stat.f_bavail == 0
    }
}
