//! Incremental, parallel library scan ([`scan`], [`ScanSummary`], [`ScanProgress`]).
//!
//! Files whose size and mtime match the index are not opened again; changed files are
//! updated in place (same id); vanished files are marked gone so their plays keep a track.
//! Unreadable folders, symlink loops and unreadable files are reported, never fatal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::clock::now_ms;
use crate::db::tracks::{self, FileState, Fingerprint, ScannedFile};
use crate::db::{Database, DbError};
use crate::library::{is_audio_file, tags, unplayable_audio};

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
    /// Audio files in formats the player cannot decode (WavPack, APE, WMA, ...), left out.
    pub unplayable: usize,
}

/// Everything a scan found besides the counts.
#[derive(Debug, Default)]
pub struct ScanReport {
    pub summary: ScanSummary,
    /// Files that could not be read, with the reason.
    pub failed_files: Vec<(PathBuf, String)>,
    /// Folders or links that could not be walked (permissions, symlink loops, missing roots),
    /// and paths named to scan that are no music.
    pub walk_errors: Vec<String>,
    /// The files of [`ScanSummary::unplayable`], counted by extension (lower case).
    pub unplayable: BTreeMap<String, usize>,
    /// Library folders that a folder holding them, added by this scan, took in: each is now
    /// part of that folder, `(inner, outer)`.
    pub merged_roots: Vec<(PathBuf, PathBuf)>,
    /// Library folders gone with nothing of them left in the library (every track found
    /// elsewhere): no longer roots.
    pub dropped_roots: Vec<PathBuf>,
}

impl ScanReport {
    /// Each library folder taken in by another, or dropped, in a line: changes to the roots, not
    /// problems.
    pub fn roots_said(&self) -> impl Iterator<Item = String> + '_ {
        let merged = self.merged_roots.iter().map(|(inner, outer)| {
            format!(
                "the library folder {} is now part of {}",
                inner.display(),
                outer.display()
            )
        });
        let dropped = self.dropped_roots.iter().map(|root| {
            format!(
                "library root {} is gone and nothing of it is left in the library: no longer a root",
                root.display()
            )
        });
        merged.chain(dropped)
    }

    /// What the scan could not do: files not read, folders not walked (symbolic link loops
    /// included), roots missing, paths named that are no music.
    pub fn problems(&self) -> usize {
        self.walk_errors.len() + self.failed_files.len()
    }
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

/// Files read per round: their tags are read on every core, then written, so a first scan of a
/// million files never holds a million tracks.
const READ_ROUND: usize = 4096;

/// What differs between the folders and the index: all a scan keeps of a walk, so a rescan of an
/// unchanged library holds nothing per file.
#[derive(Default)]
struct Differences {
    /// Files to read, with what the index knew of each (none for a new file).
    to_read: Vec<(Found, Option<FileState>)>,
    /// Indexed files the walk did not find.
    missing: Vec<(PathBuf, FileState)>,
    /// Folders that could not be read: files indexed beneath them are not declared gone.
    unreadable: Vec<PathBuf>,
    /// Audio files in formats the player cannot decode, by extension.
    unplayable: BTreeMap<String, usize>,
    found: usize,
}

impl Differences {
    fn compare(&mut self, file: Found, state: Option<FileState>, reread: Reread) {
        self.found += 1;
        // A file that failed is read again: each scan says which files it cannot read, and a
        // newer decoder may read it now.
        let unchanged = state.is_some_and(|s| !s.gone && !s.failed && s.size == file.1 && s.mtime_ns == file.2);
        if !unchanged || reread == Reread::All {
            self.to_read.push((file, state));
        }
    }
}

/// Scans `roots` (remembering them as library roots, unless inside one) and updates the index.
///
/// Each folder is walked in the order of the index's path column (bytes), beside a cursor over
/// the files indexed under it, so only the differences are kept.
pub fn scan(
    db: &mut Database,
    roots: &[PathBuf],
    reread: Reread,
    progress: &(dyn Fn(ScanProgress) + Sync),
) -> Result<ScanReport, DbError> {
    // A scan commits round by round, so two in one process (the player's, and a watched folder's
    // rescan) run one after the other: each compares the folders with what the last one wrote.
    static SCANNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _scanning = SCANNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut report = ScanReport::default();
    let now = now_ms();
    let mut differences = Differences::default();
    let mut single_files: HashSet<PathBuf> = HashSet::new();
    let mut folders: Vec<PathBuf> = Vec::new();

    let known_roots = tracks::roots(db.conn()).map_err(|e| db.err(e))?;
    let mut library_roots = known_roots.clone();
    // Roots that are not there: an unplugged disk keeps its tracks; a renamed or moved folder's
    // tracks follow its files when this scan finds them elsewhere.
    let missing_roots: Vec<PathBuf> = known_roots
        .iter()
        .filter(|root| std::fs::metadata(root).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound))
        .cloned()
        .collect();
    for root in roots {
        if missing_roots.contains(root) {
            continue;
        }
        let Some(root) = tracks::index_path_among(&known_roots, root) else {
            let e = std::fs::metadata(root)
                .err()
                .unwrap_or_else(|| std::io::ErrorKind::NotFound.into());
            report.walk_errors.push(format!("{}: {e}", root.display()));
            continue;
        };
        if root.is_file() {
            // As in a folder, only audio files are tracks: a cover or a text file named here is
            // said, not indexed as a track that fails.
            if is_audio_file(&root) {
                single_files.insert(root);
            } else {
                report
                    .walk_errors
                    .push(format!("{}: {}", root.display(), super::not_audio(&root)));
            }
            continue;
        }
        // A folder inside a root is rescanned as part of it, not remembered as a root of its own.
        if !library_roots.iter().any(|known| root.starts_with(known)) {
            tracks::add_root(db.conn(), &root, now).map_err(|e| db.err(e))?;
            library_roots.push(root.clone());
        }
        folders.push(root);
    }
    // A root inside another (added after it, or kept so by an older version) becomes part of it,
    // so that no track is counted under two roots.
    // One named inside another in this same scan was never a library folder to say this of.
    for inner in &library_roots {
        if let Some(outer) = library_roots
            .iter()
            .find(|other| *other != inner && inner.starts_with(other))
        {
            tracks::forget_root(db.conn(), inner).map_err(|e| db.err(e))?;
            if known_roots.contains(inner) {
                report.merged_roots.push((inner.clone(), outer.clone()));
            }
        }
    }
    // A folder inside another of this scan's is walked once, as part of the outer one.
    folders.sort();
    folders.dedup();
    let outermost: Vec<&PathBuf> = folders
        .iter()
        .filter(|f| !folders.iter().any(|other| *f != other && f.starts_with(other)))
        .collect();
    for folder in &outermost {
        compare_folder(db, folder, reread, &mut differences, &mut report.walk_errors, progress)?;
    }
    // A file given on its own is compared once, and not again when a folder of this scan holds it.
    for file in single_files
        .iter()
        .filter(|f| !outermost.iter().any(|folder| f.starts_with(folder)))
    {
        let state = tracks::file_state(db.conn(), file).map_err(|e| db.err(e))?;
        if let Ok(meta) = std::fs::metadata(file) {
            differences.compare((file.clone(), meta.len(), mtime_ns(&meta)), state, reread);
        }
    }
    let Differences {
        to_read,
        missing,
        unreadable,
        unplayable,
        found,
    } = differences;
    report.summary.scanned = found;
    report.summary.unplayable = unplayable.values().sum();
    report.unplayable = unplayable;
    report.summary.unchanged = found - to_read.len();

    let db_path = db.path().to_path_buf();
    // Each round writes in a transaction of its own, taken only once its tags are read: the
    // player logs plays into this database while a scan runs, and waits for its write lock.
    // Vanished files are marked gone in the first one, so that a file found at a new path can be
    // one of them: moved or renamed, it keeps its track (also in a later scan, if this one stops).
    let mut to_mark: Vec<i64> = missing
        .iter()
        .filter(|(path, state)| {
            let beneath_unreadable = unreadable.iter().any(|dir| path.starts_with(dir));
            !state.gone && !beneath_unreadable && !single_files.contains(path)
        })
        .map(|(_, state)| state.id)
        .collect();
    let mut vanished: HashSet<i64> = to_mark.iter().copied().collect();
    let mark_gone = |tx: &rusqlite::Transaction, ids: &[i64]| -> Result<(), DbError> {
        for &id in ids {
            tracks::mark_gone(tx, id, now).map_err(|e| sqlite_err(&db_path, e))?;
        }
        Ok(())
    };
    // The gone tracks by fingerprint, read at the first new file.
    let mut gone: Option<HashMap<Fingerprint, Vec<(i64, PathBuf)>>> = None;
    let total = to_read.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    progress(ScanProgress::Reading { done: 0, total });
    for round in to_read.chunks(READ_ROUND) {
        let results: Vec<ScannedFile> = round
            .par_iter()
            .map(|((path, _, _), _)| {
                let scanned = match tags::read_tags(path) {
                    Ok(tags) => ScannedFile::Ok(Box::new(tags)),
                    Err(error) => ScannedFile::Failed {
                        title: tags::title_from_file_name(path),
                        error: error.to_string(),
                    },
                };
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if n.is_multiple_of(64) || n == total {
                    progress(ScanProgress::Reading { done: n, total });
                }
                scanned
            })
            .collect();
        let tx = db.conn_mut().transaction().map_err(|e| sqlite_err(&db_path, e))?;
        mark_gone(&tx, &std::mem::take(&mut to_mark))?;
        for (((path, size, mtime), state), scanned) in round.iter().zip(&results) {
            let moved_from = match scanned {
                ScannedFile::Ok(track) if state.is_none() => {
                    let gone = match &mut gone {
                        Some(gone) => gone,
                        None => gone.insert(
                            tracks::gone_by_fingerprint(&tx, &missing_roots).map_err(|e| sqlite_err(&db_path, e))?,
                        ),
                    };
                    gone.get_mut(&Fingerprint::of(*size, track)).and_then(|candidates| {
                        let at = candidates
                            .iter()
                            .rposition(|(_, old)| moved_with_its_root(old, path, &missing_roots, &outermost))?;
                        Some(candidates.remove(at))
                    })
                }
                _ => None,
            };
            if let Some((id, from)) = &moved_from {
                tracks::move_track(&tx, *id, from, path).map_err(|e| sqlite_err(&db_path, e))?;
                vanished.remove(id);
            }
            let changed =
                tracks::upsert_file(&tx, path, *size, *mtime, scanned, now).map_err(|e| sqlite_err(&db_path, e))?;
            match scanned {
                ScannedFile::Failed { error, .. } => {
                    report.summary.failed += 1;
                    report.failed_files.push((path.clone(), error.clone()));
                }
                ScannedFile::Ok(_) if moved_from.is_some() => report.summary.moved += 1,
                // Read again by `--full` and found as it was.
                ScannedFile::Ok(_) if !changed => report.summary.unchanged += 1,
                ScannedFile::Ok(_) if state.is_some_and(|s| !s.gone) => report.summary.updated += 1,
                ScannedFile::Ok(_) => report.summary.added += 1,
            }
        }
        tx.commit().map_err(|e| sqlite_err(&db_path, e))?;
    }
    // No file to read: the vanished ones are all the scan writes.
    if !to_mark.is_empty() {
        let tx = db.conn_mut().transaction().map_err(|e| sqlite_err(&db_path, e))?;
        mark_gone(&tx, &to_mark)?;
        tx.commit().map_err(|e| sqlite_err(&db_path, e))?;
    }
    report.summary.removed = vanished.len();
    for root in &missing_roots {
        if report.merged_roots.iter().any(|(inner, _)| inner == root) {
            continue;
        }
        let left = tracks::count_under(db.conn(), root).map_err(|e| db.err(e))?;
        if left == 0 {
            // Every track it had was found elsewhere (or it had none): nothing is left to keep.
            tracks::remove_root(db.conn_mut(), root, now).map_err(|e| db.err(e))?;
            report.dropped_roots.push(root.clone());
        } else if roots.contains(root) {
            // Said when it is scanned, not at every rescan of another root.
            report.walk_errors.push(format!(
                "library root {} is missing: not scanned, its {} kept (an unplugged disk?); if the folder moved, scan its new place and they follow their files",
                root.display(),
                crate::fmt::count(left as u64, "track")
            ));
        }
    }
    Ok(report)
}

/// Whether a track at `old` may have moved to `new`: a gone track may be anywhere now; one under
/// a root that is not there only where its root's renamed copy would hold it, at the same path
/// within a root of this scan. A copy of an album taken from an unplugged disk is elsewhere in
/// its root, and stays a track of its own.
fn moved_with_its_root(old: &Path, new: &Path, missing_roots: &[PathBuf], scanned: &[&PathBuf]) -> bool {
    let Some(within_old) = missing_roots.iter().find_map(|root| old.strip_prefix(root).ok()) else {
        return true;
    };
    scanned
        .iter()
        .filter_map(|root| new.strip_prefix(root).ok())
        .any(|within_new| within_new == within_old)
}

/// Walks `folder` beside the index's files under it, both in path-byte order, keeping what
/// differs.
fn compare_folder(
    db: &Database,
    folder: &Path,
    reread: Reread,
    differences: &mut Differences,
    errors: &mut Vec<String>,
    progress: &(dyn Fn(ScanProgress) + Sync),
) -> Result<(), DbError> {
    let mut unreadable = Vec::new();
    let mut unplayable = BTreeMap::new();
    let mut files = Walk {
        entries: walkdir::WalkDir::new(folder)
            .follow_links(true)
            .sort_by(|a, b| order_key(a).cmp(&order_key(b)))
            .into_iter(),
        unreadable: &mut unreadable,
        unplayable: &mut unplayable,
        errors,
        found: 0,
        progress,
    }
    .peekable();
    tracks::each_file_state_under(db.conn(), folder, |path, state| {
        // Files walked before this indexed one are new to the index.
        while let Some(file) = files.next_if(|f| path_bytes(&f.0) < path_bytes(&path)) {
            differences.compare(file, None, reread);
        }
        match files.next_if(|f| f.0 == path) {
            Some(file) => differences.compare(file, Some(state), reread),
            None => differences.missing.push((path, state)),
        }
    })
    .map_err(|e| db.err(e))?;
    for file in files {
        differences.compare(file, None, reread);
    }
    differences.unreadable.append(&mut unreadable);
    for (extension, count) in unplayable {
        *differences.unplayable.entry(extension).or_default() += count;
    }
    Ok(())
}

/// A path as the index stores and orders it.
fn path_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// Sorting each folder's entries by this walks a tree in the byte order of the full paths: a
/// folder's files all start with its name and a '/', so it sorts as that.
fn order_key(entry: &walkdir::DirEntry) -> Vec<u8> {
    let mut key = entry.file_name().as_bytes().to_vec();
    if entry.file_type().is_dir() {
        key.push(b'/');
    }
    key
}

/// A failed statement of the scan's transaction, named by the database it ran on.
fn sqlite_err(path: &Path, source: rusqlite::Error) -> DbError {
    DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// The audio files under a folder, following symlinks (walkdir detects loops), with their size
/// and modification time; what cannot be walked is noted, never fatal.
struct Walk<'a> {
    entries: walkdir::IntoIter,
    unreadable: &'a mut Vec<PathBuf>,
    unplayable: &'a mut BTreeMap<String, usize>,
    errors: &'a mut Vec<String>,
    found: usize,
    progress: &'a (dyn Fn(ScanProgress) + Sync),
}

impl Iterator for Walk<'_> {
    type Item = Found;

    fn next(&mut self) -> Option<Found> {
        for entry in self.entries.by_ref() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    if let Some(path) = e.path() {
                        self.unreadable.push(path.to_path_buf());
                    }
                    self.errors.push(walk_error_text(&e));
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            if !is_audio_file(entry.path()) {
                if let Some(extension) = unplayable_audio(entry.path()) {
                    *self.unplayable.entry(extension).or_default() += 1;
                }
                continue;
            }
            match entry.metadata() {
                Ok(meta) => {
                    self.found += 1;
                    if self.found.is_multiple_of(256) {
                        (self.progress)(ScanProgress::Walking { found: self.found });
                    }
                    return Some((entry.into_path(), meta.len(), mtime_ns(&meta)));
                }
                Err(e) => self.errors.push(walk_error_text(&e)),
            }
        }
        None
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Names whose bytes sort differently from their folders' order in a plain walk: ' ', '-',
    /// '.' and '0' fall on both sides of '/'.
    fn tricky_tree(root: &Path) -> Vec<PathBuf> {
        let files = [
            "a/x.ogg",
            "a b/x.ogg",
            "a-c/y/z.ogg",
            "a.ogg",
            "a0.ogg",
            "a/b/c.ogg",
            "a/b c.ogg",
            "ab/x.ogg",
            "Z.ogg",
            "é/x.ogg",
        ];
        files
            .iter()
            .map(|f| {
                let path = root.join(f);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, b"not audio").unwrap();
                path
            })
            .collect()
    }

    #[test]
    fn a_folder_is_walked_in_the_byte_order_of_its_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = tricky_tree(dir.path());
        expected.sort_by(|a, b| path_bytes(a).cmp(path_bytes(b)));
        let (mut unreadable, mut errors, mut unplayable) = (Vec::new(), Vec::new(), BTreeMap::new());
        let walked: Vec<PathBuf> = Walk {
            entries: walkdir::WalkDir::new(dir.path())
                .sort_by(|a, b| order_key(a).cmp(&order_key(b)))
                .into_iter(),
            unreadable: &mut unreadable,
            unplayable: &mut unplayable,
            errors: &mut errors,
            found: 0,
            progress: &|_| {},
        }
        .map(|f| f.0)
        .collect();
        assert_eq!(walked, expected);
    }

    #[test]
    fn a_rescan_of_an_unchanged_tree_finds_every_file_where_the_index_has_it() {
        let dir = tempfile::tempdir().unwrap();
        let music = dir.path().join("music");
        let files = tricky_tree(&music);
        let mut db = Database::open(&dir.path().join("skipless.db")).unwrap();
        let first = scan(&mut db, std::slice::from_ref(&music), Reread::Changed, &|_| {}).unwrap();
        assert_eq!(
            (first.summary.scanned, first.summary.failed),
            (files.len(), files.len())
        );
        let again = scan(&mut db, std::slice::from_ref(&music), Reread::Changed, &|_| {}).unwrap();
        // Each file fails again (they are not audio, and failed files are read again), and
        // none is taken for a new, moved or vanished one.
        assert_eq!(
            again.summary,
            ScanSummary {
                scanned: files.len(),
                failed: files.len(),
                ..ScanSummary::default()
            }
        );
        // The same folder given twice, a folder inside it and a file inside it: each file once.
        let inner = music.join("a");
        let overlapping = scan(
            &mut db,
            &[music.clone(), inner, music.clone(), files[0].clone()],
            Reread::Changed,
            &|_| {},
        )
        .unwrap();
        assert_eq!(overlapping.summary, again.summary);
        std::fs::remove_file(&files[4]).unwrap();
        let after_removal = scan(&mut db, &[music], Reread::Changed, &|_| {}).unwrap();
        assert_eq!(
            (after_removal.summary.removed, after_removal.summary.failed),
            (1, files.len() - 1)
        );
    }
}
