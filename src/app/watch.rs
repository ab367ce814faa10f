//! Watching the library roots while the player runs ([`spawn_watch`], [`Rescans`]).
//!
//! File-system events (inotify, through `notify`) name what changed; once the roots have been
//! quiet for a moment, the folders that hold the changes are rescanned on this thread by the
//! folder-scoped scan `skipless scan FOLDER` runs, and reported like any scan (the gauge, the
//! outcome, the reloaded library). When the system cannot watch every folder (its inotify
//! watches run out), the watches are dropped and every root is rescanned on a timer instead,
//! with one line in `skipless.log`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{after, never, select, Receiver, Sender};
use notify::event::{AccessKind, AccessMode, RemoveKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::workers::{scan_and_report, WorkerMsg};
use super::AppError;
use crate::config::LibraryConfig;
use crate::db::{tracks, Database};
use crate::library::is_audio_file;

/// How long the roots must be quiet before a rescan, so that copying an album is one rescan.
const QUIET: Duration = Duration::from_millis(700);
/// A rescan starts this long after the first change even while changes go on.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// How often roots that are not there (an unplugged disk, a folder deleted) are looked for.
const LOOK_FOR_MISSING: Duration = Duration::from_secs(3);

/// Tells the watch thread that the library's roots changed in another process (`skipless roots
/// add|remove`, `skipless scan NEW_FOLDER`): it reads them again.
pub(crate) struct RootsChanged;

/// Starts the watch thread for the library roots and the folders in `extra` (given on the
/// command line, perhaps not yet remembered as roots). It reports over `tx`, reads the roots
/// again on the returned channel's word, and ends when the player does. `None` when watching is
/// off.
pub(crate) fn spawn_watch(
    db_path: PathBuf,
    extra: Vec<PathBuf>,
    config: LibraryConfig,
    tx: Sender<WorkerMsg>,
) -> Option<Sender<RootsChanged>> {
    if !config.watch {
        return None;
    }
    let (changed_tx, changed) = crossbeam_channel::unbounded();
    let spawned = std::thread::Builder::new().name("watch".into()).spawn(move || {
        if let Err(e) = watch(&db_path, &extra, &config, &tx, changed) {
            tracing::warn!("library watching stopped: {e:#}");
        }
    });
    match spawned {
        Ok(_) => Some(changed_tx),
        Err(e) => {
            tracing::error!("cannot start the library watch thread: {e}");
            None
        }
    }
}

/// The remembered roots and the folders of `extra` that exist.
fn read_roots(db_path: &Path, extra: &[PathBuf]) -> Result<Vec<PathBuf>, AppError> {
    let db = Database::open(db_path)?;
    let mut roots = tracks::roots(db.conn()).map_err(|e| db.err(e))?;
    roots.extend(
        extra
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .filter(|p| p.is_dir()),
    );
    roots.sort();
    roots.dedup();
    Ok(roots)
}

/// The watches on the roots, and the roots that are not there now.
struct Watches {
    /// `None` once the system's inotify watches ran out: a timer rescans instead.
    watcher: Option<RecommendedWatcher>,
    watched: BTreeSet<PathBuf>,
    missing: BTreeSet<PathBuf>,
}

impl Watches {
    /// Watches `roots`, and lets go of roots no longer among them.
    fn follow(&mut self, roots: &[PathBuf], config: &LibraryConfig) {
        let wanted: BTreeSet<PathBuf> = roots.iter().cloned().collect();
        for gone in self.watched.difference(&wanted).cloned().collect::<Vec<_>>() {
            if let Some(watcher) = self.watcher.as_mut() {
                let _ = watcher.unwatch(&gone);
            }
            self.watched.remove(&gone);
        }
        self.missing.retain(|root| wanted.contains(root));
        for root in wanted.difference(&self.watched).cloned().collect::<Vec<_>>() {
            if !self.missing.contains(&root) {
                self.add(root, config);
            }
        }
    }

    /// Watches `root`, or notes it missing; returns whether it is watched.
    fn add(&mut self, root: PathBuf, config: &LibraryConfig) -> bool {
        let Some(watcher) = self.watcher.as_mut() else {
            return false;
        };
        if !root.is_dir() {
            self.missing.insert(root);
            return false;
        }
        match watcher.watch(&root, RecursiveMode::Recursive) {
            Ok(()) => {
                self.missing.remove(&root);
                self.watched.insert(root);
                true
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                self.give_up(config);
                false
            }
            Err(e) => {
                tracing::warn!("cannot watch {}: {e}", root.display());
                false
            }
        }
    }

    /// The system's inotify watches ran out. Dropping the watcher frees the watches it holds:
    /// with some folders unwatched, only a timer sees every change.
    fn give_up(&mut self, config: &LibraryConfig) {
        self.watcher = None;
        self.watched.clear();
        log_fallback(config);
    }

    /// Watched roots that went (their watch went with them) are looked for from now on.
    fn note_gone(&mut self) {
        let gone: Vec<PathBuf> = self.watched.iter().filter(|r| !r.is_dir()).cloned().collect();
        for root in gone {
            tracing::info!("library root {} is gone; watching for it to come back", root.display());
            self.watched.remove(&root);
            self.missing.insert(root);
        }
    }

    /// Missing roots that are back, now watched again.
    fn found_again(&mut self, config: &LibraryConfig) -> Vec<PathBuf> {
        let back: Vec<PathBuf> = self.missing.iter().filter(|r| r.is_dir()).cloned().collect();
        back.into_iter().filter(|root| self.add(root.clone(), config)).collect()
    }
}

fn watch(
    db_path: &Path,
    extra: &[PathBuf],
    config: &LibraryConfig,
    tx: &Sender<WorkerMsg>,
    mut changed: Receiver<RootsChanged>,
) -> Result<(), AppError> {
    let mut roots = read_roots(db_path, extra)?;
    let (raw_tx, raw_rx) = crossbeam_channel::unbounded();
    let mut watches = Watches {
        watcher: Some(notify::recommended_watcher(move |event| {
            let _ = raw_tx.send(event);
        })?),
        watched: BTreeSet::new(),
        missing: BTreeSet::new(),
    };
    watches.follow(&roots, config);
    if watches.watcher.is_some() {
        tracing::info!("watching {} library roots", watches.watched.len());
    }
    let mut events: Receiver<notify::Result<notify::Event>> = raw_rx;
    let mut watching = true;
    let poll_every = (config.rescan_minutes > 0).then(|| Duration::from_secs(config.rescan_minutes * 60));
    let mut rescans = Rescans::new(roots.clone());
    let mut look_at: Option<Instant> = None;

    loop {
        // The watches ran out (at the start, as a root was added or came back, or as folders
        // were made): the watcher and its events are gone, and every root is rescanned now
        // and, with `rescan_minutes`, on the timer.
        if watching && watches.watcher.is_none() {
            watching = false;
            events = never();
            rescans.all(Instant::now());
        }
        let wake = match (rescans.due(), &watches.watcher, poll_every) {
            (Some(at), _, _) => after(at.saturating_duration_since(Instant::now())),
            (None, None, Some(every)) => after(every),
            (None, _, _) => never(),
        };
        // Missing roots are looked for every few seconds, whatever else comes meanwhile.
        if watches.missing.is_empty() || !watching {
            look_at = None;
        } else if look_at.is_none() {
            look_at = Some(Instant::now() + LOOK_FOR_MISSING);
        }
        let look = look_at.map_or_else(never, |at| after(at.saturating_duration_since(Instant::now())));
        select! {
            recv(events) -> event => match event {
                Ok(Ok(event)) => {
                    rescans.note(&event, Instant::now());
                    if matches!(event.kind, EventKind::Remove(_)) {
                        watches.note_gone();
                    }
                }
                Ok(Err(e)) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => watches.give_up(config),
                Ok(Err(e)) => tracing::warn!("library watch: {e}"),
                Err(_) => return Ok(()),
            },
            recv(changed) -> word => match word {
                Ok(RootsChanged) => {
                    roots = read_roots(db_path, extra)?;
                    watches.follow(&roots, config);
                    rescans.set_roots(roots.clone());
                }
                // The player is ending.
                Err(_) => changed = never(),
            },
            recv(look) -> _ => {
                look_at = None;
                for root in watches.found_again(config) {
                    tracing::info!("library root {} is back: rescanning it", root.display());
                    rescans.folder(root, Instant::now());
                }
            }
            recv(wake) -> _ => {
                let folders = rescans.take().unwrap_or_else(|| roots.clone());
                if tx.send(WorkerMsg::ScanProgress { done: 0, total: 0 }).is_err() {
                    return Ok(());
                }
                if let Err(e) = scan_and_report(db_path, &folders, tx) {
                    let _ = tx.send(WorkerMsg::ScanFailed(format!("{e:#}")));
                }
            }
        }
    }
}

fn log_fallback(config: &LibraryConfig) {
    let then = match config.rescan_minutes {
        0 => "changes are seen at the next `skipless scan` (rescan_minutes = 0)".to_owned(),
        n => format!("rescanning every root every {n} minutes instead"),
    };
    tracing::warn!(
        "cannot watch every library folder: the system's inotify watches ran out \
         (raise fs.inotify.max_user_watches); {then}"
    );
}

/// The folders waiting for a rescan, and when it is due.
pub(crate) struct Rescans {
    roots: Vec<PathBuf>,
    folders: BTreeSet<PathBuf>,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Rescans {
    pub(crate) fn new(roots: Vec<PathBuf>) -> Self {
        Rescans {
            roots,
            folders: BTreeSet::new(),
            first: None,
            last: None,
        }
    }

    /// Notes the folders an event touches (opening or reading a file changes nothing).
    pub(crate) fn note(&mut self, event: &notify::Event, now: Instant) {
        if matches!(event.kind, EventKind::Access(kind) if kind != AccessKind::Close(AccessMode::Write)) {
            return;
        }
        let mut noted = false;
        for path in &event.paths {
            // Covers, lyrics and playlists beside the music are not the library's business; a
            // path that no longer exists may have been a folder, so it always counts.
            let is_other_file = path.is_file() && !is_audio_file(path);
            if is_other_file && !matches!(event.kind, EventKind::Remove(RemoveKind::Folder)) {
                continue;
            }
            if let Some(folder) = path.parent().and_then(|p| self.existing_within_root(p)) {
                self.folders.insert(folder);
                noted = true;
            }
        }
        if noted {
            self.first.get_or_insert(now);
            self.last = Some(now);
        }
    }

    /// Asks for a rescan of every root at once.
    pub(crate) fn all(&mut self, now: Instant) {
        for root in self.roots.clone() {
            self.folder(root, now);
        }
    }

    /// Asks for a rescan of `folder`.
    fn folder(&mut self, folder: PathBuf, now: Instant) {
        self.folders.insert(folder);
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// The roots changed: changes are noted within these from now on, and a rescan waiting for
    /// a folder of a root taken out is dropped (it would add the root back).
    fn set_roots(&mut self, roots: Vec<PathBuf>) {
        self.folders
            .retain(|folder| roots.iter().any(|root| folder.starts_with(root)));
        self.roots = roots;
    }

    /// When the waiting rescan is due: the roots quiet for [`QUIET`], or [`LONGEST_WAIT`] after
    /// the first change.
    pub(crate) fn due(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + QUIET).min(first + LONGEST_WAIT))
    }

    /// The folders to rescan, none inside another, and clears them.
    pub(crate) fn take(&mut self) -> Option<Vec<PathBuf>> {
        self.first = None;
        self.last = None;
        let folders = std::mem::take(&mut self.folders);
        let mut outermost: Vec<PathBuf> = Vec::new();
        // In sorted order a folder comes right after any folder that contains it.
        for folder in folders {
            if !outermost.last().is_some_and(|above| folder.starts_with(above)) {
                outermost.push(folder);
            }
        }
        (!outermost.is_empty()).then_some(outermost)
    }

    /// `folder`, or its nearest ancestor that still exists, as long as it is within a root.
    fn existing_within_root(&self, folder: &Path) -> Option<PathBuf> {
        let root = self.roots.iter().find(|root| folder.starts_with(root))?;
        let existing = folder.ancestors().find(|dir| dir.is_dir())?;
        Some(if existing.starts_with(root) { existing } else { root }.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RenameMode};

    fn event(kind: EventKind, path: &Path) -> notify::Event {
        notify::Event::new(kind).add_path(path.to_path_buf())
    }

    #[test]
    fn changes_become_the_outermost_existing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("music");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join("c")).unwrap();
        std::fs::write(root.join("c/cover.jpg"), b"").unwrap();
        std::fs::write(root.join("c/song.ogg"), b"").unwrap();
        let mut rescans = Rescans::new(vec![root.clone()]);
        let t0 = Instant::now();
        assert_eq!(rescans.due(), None);

        // Reading a file is no change; a cover beside the music is not the library's.
        rescans.note(
            &event(
                EventKind::Access(AccessKind::Open(AccessMode::Read)),
                &root.join("c/song.ogg"),
            ),
            t0,
        );
        rescans.note(
            &event(EventKind::Create(CreateKind::File), &root.join("c/cover.jpg")),
            t0,
        );
        assert_eq!(rescans.due(), None);

        rescans.note(
            &event(EventKind::Create(CreateKind::File), &root.join("a/b/new.flac")),
            t0,
        );
        // A folder removed with everything in it: its nearest existing ancestor is rescanned.
        rescans.note(
            &event(EventKind::Remove(RemoveKind::Folder), &root.join("a/gone/deeper")),
            t0,
        );
        rescans.note(
            &event(
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                &root.join("c/song.ogg"),
            ),
            t0 + Duration::from_millis(300),
        );
        // Outside every root: ignored.
        rescans.note(
            &event(EventKind::Create(CreateKind::File), &dir.path().join("x.ogg")),
            t0,
        );
        assert_eq!(rescans.due(), Some(t0 + Duration::from_millis(300) + QUIET));
        assert_eq!(rescans.take(), Some(vec![root.join("a"), root.join("c")]));
        assert_eq!(rescans.due(), None);
        assert_eq!(rescans.take(), None);

        // Changes that go on still get a rescan after the longest wait.
        for ms in (0..10_000).step_by(500) {
            rescans.note(
                &event(EventKind::Create(CreateKind::File), &root.join("c/song.ogg")),
                t0 + Duration::from_millis(ms),
            );
        }
        assert_eq!(rescans.due(), Some(t0 + LONGEST_WAIT));
        rescans.all(t0);
        assert_eq!(rescans.take(), Some(vec![root.clone()]));
    }
}
