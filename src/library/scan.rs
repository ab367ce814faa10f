//! Incremental, parallel library scan ([`scan`], [`ScanSummary`], [`ScanProgress`]).
//!
//! Files whose size and mtime match the index are not opened again; changed files are
//! updated in place (same id); vanished files are marked gone so their plays keep a track.
//! Unreadable folders, symlink loops and unreadable files are reported, never fatal.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::clock::now_ms;
use crate::db::tracks::{self, FileState, Fingerprint, ScannedFile};
use crate::db::{Database, DbError};
use crate::library::{is_audio_file, tags};

/// Counts printed after a scan (`--json` prints exactly this object).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    pub scanned: usize,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Files found at a new path that are a gone track (same size, duration and tags): the
    /// track moved, keeping its id, plays, likes and playlist entries.
    pub moved: usize,
    pub failed: usize,
}

/// Everything a scan found besides the counts.
#[derive(Debug, Default)]
pub struct ScanReport {
    pub summary: ScanSummary,
    /// Files that could not be read, with the reason.
    pub failed_files: Vec<(PathBuf, String)>,
    /// Folders or links that could not be walked (permissions, symlink loops, missing roots).
    pub walk_errors: Vec<String>,
}

/// Progress of the tag-reading phase, for a bar or a gauge.
#[derive(Debug, Clone, Copy)]
pub enum ScanProgress {
    /// Walking folders; files found so far.
    Walking { found: usize },
    /// Reading tags of new or changed files.
    Reading { done: usize, total: usize },
}

/// Which files a scan opens and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reread {
    /// New files and those whose size or modification time changed; the rest are only stat'ed.
    #[default]
    Changed,
    /// Every file (`skipless scan --full`): for tags rewritten by a tool that kept the mtime.
    All,
}

/// A file the walk found: its path, size and modification time.
type Found = (PathBuf, u64, i64);

/// Scans `roots` (remembering them as library roots, unless inside one) and updates the index.
///
/// The files found and the files indexed are both sorted by path bytes (SQLite's order of the
/// path column) and walked side by side once: no table keyed by path is built.
pub fn scan(
    db: &mut Database,
    roots: &[PathBuf],
    reread: Reread,
    progress: &(dyn Fn(ScanProgress) + Sync),
) -> Result<ScanReport, DbError> {
    let mut report = ScanReport::default();
    let now = now_ms();
    let mut found: Vec<Found> = Vec::new();
    let mut known: Vec<(PathBuf, FileState)> = Vec::new();
    // Folders that could not be read: files indexed beneath them are not declared gone.
    let mut unreadable: Vec<PathBuf> = Vec::new();
    let mut single_files: HashSet<PathBuf> = HashSet::new();

    let known_roots = tracks::roots(db.conn()).map_err(|e| db.err(e))?;
    for root in roots {
        let root = match std::fs::canonicalize(root) {
            Ok(root) => root,
            Err(e) => {
                report.walk_errors.push(format!("{}: {e}", root.display()));
                continue;
            }
        };
        if root.is_file() {
            if let Some(state) = tracks::file_state(db.conn(), &root).map_err(|e| db.err(e))? {
                known.push((root.clone(), state));
            }
            if let Ok(meta) = std::fs::metadata(&root) {
                found.push((root.clone(), meta.len(), mtime_ns(&meta)));
            }
            single_files.insert(root);
            continue;
        }
        // A folder inside a root is rescanned as part of it, not remembered as a root of its own.
        if !known_roots.iter().any(|known| root.starts_with(known)) {
            tracks::add_root(db.conn(), &root, now).map_err(|e| db.err(e))?;
        }
        known.extend(tracks::file_states_under(db.conn(), &root).map_err(|e| db.err(e))?);
        walk(&root, &mut found, &mut unreadable, &mut report.walk_errors, progress);
    }
    found.par_sort_unstable_by(|a, b| path_bytes(&a.0).cmp(path_bytes(&b.0)));
    found.dedup_by(|a, b| a.0 == b.0);
    // Roots may overlap or come in any order.
    known.par_sort_by(|a, b| path_bytes(&a.0).cmp(path_bytes(&b.0)));
    known.dedup_by(|a, b| a.0 == b.0);
    report.summary.scanned = found.len();

    // One pass over both: what to read (with what the index knew of it), and what vanished.
    let mut to_read: Vec<(&Found, Option<&FileState>)> = Vec::new();
    let mut vanished_states: Vec<(&Path, &FileState)> = Vec::new();
    let mut indexed = known.iter().peekable();
    for file in &found {
        let mut state = None;
        while let Some((path, known_state)) = indexed.peek() {
            match path_bytes(path).cmp(path_bytes(&file.0)) {
                std::cmp::Ordering::Less => vanished_states.push((path, known_state)),
                std::cmp::Ordering::Equal => state = Some(known_state),
                std::cmp::Ordering::Greater => break,
            }
            indexed.next();
        }
        let unchanged = state.is_some_and(|s| !s.gone && s.size == file.1 && s.mtime_ns == file.2);
        if !unchanged || reread == Reread::All {
            to_read.push((file, state));
        }
    }
    vanished_states.extend(indexed.map(|(path, state)| (path.as_path(), state)));
    report.summary.unchanged = found.len() - to_read.len();

    let total = to_read.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    progress(ScanProgress::Reading { done: 0, total });
    let results: Vec<ScannedFile> = to_read
        .par_iter()
        .map(|((path, _, _), _)| {
            let scanned = match tags::read_tags(path) {
                Ok(tags) => ScannedFile::Ok(Box::new(tags)),
                Err(error) => ScannedFile::Failed {
                    title: tags::title_from_file_name(path),
                    error,
                },
            };
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_multiple_of(64) || n == total {
                progress(ScanProgress::Reading { done: n, total });
            }
            scanned
        })
        .collect();

    let db_path = db.path().to_path_buf();
    let tx = db.conn_mut().transaction().map_err(|e| DbError::Sqlite {
        path: PathBuf::new(),
        source: e,
    })?;
    // Vanished files are marked gone first, so that a file found at a new path can be one of
    // them: moved or renamed, it keeps its track.
    let mut vanished: HashSet<i64> = HashSet::new();
    for (path, state) in vanished_states {
        let beneath_unreadable = unreadable.iter().any(|dir| path.starts_with(dir));
        if !state.gone && !beneath_unreadable && !single_files.contains(path) {
            tracks::mark_gone(&tx, state.id, now).map_err(|e| sqlite_err(path, e))?;
            vanished.insert(state.id);
        }
    }
    let any_new = to_read
        .iter()
        .zip(&results)
        .any(|((_, state), scanned)| matches!(scanned, ScannedFile::Ok(_)) && state.is_none());
    let mut gone = if any_new {
        tracks::gone_by_fingerprint(&tx).map_err(|e| sqlite_err(&db_path, e))?
    } else {
        HashMap::new()
    };
    for (((path, size, mtime), state), scanned) in to_read.iter().zip(&results) {
        let moved_from = match scanned {
            ScannedFile::Ok(track) if state.is_none() => gone
                .get_mut(&Fingerprint::of(*size, track))
                .and_then(|candidates| candidates.pop()),
            _ => None,
        };
        if let Some((id, from)) = &moved_from {
            tracks::move_track(&tx, *id, from, path).map_err(|e| sqlite_err(path, e))?;
            vanished.remove(id);
        }
        tracks::upsert_file(&tx, path, *size, *mtime, scanned, now).map_err(|e| sqlite_err(path, e))?;
        match scanned {
            ScannedFile::Failed { error, .. } => {
                report.summary.failed += 1;
                report.failed_files.push((path.clone(), error.clone()));
            }
            ScannedFile::Ok(_) if moved_from.is_some() => report.summary.moved += 1,
            ScannedFile::Ok(_) if state.is_some_and(|s| !s.gone) => report.summary.updated += 1,
            ScannedFile::Ok(_) => report.summary.added += 1,
        }
    }
    report.summary.removed = vanished.len();
    tx.commit().map_err(|e| sqlite_err(db.path(), e))?;
    Ok(report)
}

/// A path as the index stores and orders it.
fn path_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

fn sqlite_err(path: &Path, source: rusqlite::Error) -> DbError {
    DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Walks one root, following symlinks (walkdir detects loops), collecting audio files.
fn walk(
    root: &Path,
    found: &mut Vec<Found>,
    unreadable: &mut Vec<PathBuf>,
    errors: &mut Vec<String>,
    progress: &(dyn Fn(ScanProgress) + Sync),
) {
    for entry in walkdir::WalkDir::new(root).follow_links(true) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                if let Some(path) = e.path() {
                    unreadable.push(path.to_path_buf());
                }
                errors.push(walk_error_text(&e));
                continue;
            }
        };
        if !entry.file_type().is_file() || !is_audio_file(entry.path()) {
            continue;
        }
        match entry.metadata() {
            Ok(meta) => {
                found.push((entry.into_path(), meta.len(), mtime_ns(&meta)));
                if found.len().is_multiple_of(256) {
                    progress(ScanProgress::Walking { found: found.len() });
                }
            }
            Err(e) => errors.push(walk_error_text(&e)),
        }
    }
}

fn walk_error_text(e: &walkdir::Error) -> String {
    let path = e.path().map(|p| p.display().to_string()).unwrap_or_default();
    if let Some(ancestor) = e.loop_ancestor() {
        return format!("{path}: symlink loop back to {}", ancestor.display());
    }
    match e.io_error() {
        Some(io) => format!("{path}: {io}"),
        None => format!("{path}: {e}"),
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}
