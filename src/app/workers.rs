//! Background jobs of the players ([`WorkerMsg`], [`spawn_scan`], [`spawn_load`]): they open their
//! own database connection, do the slow part, and report back over a channel.

use std::path::{Path, PathBuf};

use crossbeam_channel::Sender;

use super::art::{art_for, ArtCache, Picture};
use super::library::{delete_playlist, entry_of, rename_playlist, LibraryIndex, SavedPlaylist};
use super::scan::scan_library;
use super::AppError;
use crate::clock::now_ms;
use crate::clock::TimeRange;
use crate::db::playlists;
use crate::db::Database;
use crate::library::lyrics::{find_lyrics, sidecar_problem};
use crate::library::scan::{Reread, ScanProgress};
use crate::logio::export::{export_to_file, ExportFormat, ExportOptions};
use crate::lyrics::Lyrics;
use crate::play::SkipRule;
use crate::playlist::{checked_name, Entry};
use crate::summary::Stats;
use crate::track::Track;

/// A report from a worker to the UI thread.
#[derive(Debug)]
pub enum WorkerMsg {
    ScanProgress {
        done: usize,
        total: usize,
    },
    ScanDone {
        summary: String,
        problems: usize,
    },
    Library(LibraryIndex),
    /// The statistics view, or why it could not be read.
    Stats(Result<Stats, String>),
    /// A one-off job failed: what to tell the listener.
    Error(String),
    /// A scan failed: what to tell the listener; its gauge goes.
    ScanFailed(String),
    /// Ranked tracks for the request numbered `seq`, from the model or the fallback.
    Recommendations {
        seq: u64,
        source: super::autoplay::RankedBy,
        picks: Vec<crate::recommend::infer::Scored>,
    },
    /// What feeds autoplay, for the status line.
    ModelStatus(String),
    /// The model, the log or the marks the picks were ranked by changed (a retrain, a reload,
    /// a like): the picks waiting in the queue are asked for again.
    RankingChanged,
    /// The recommendation thread could not start or stopped: autoplay picks nothing more (why,
    /// for the status line).
    RecommenderOff(String),
    /// Steps of the training stage named, of the most it may run (early stopping may end it
    /// sooner).
    TrainProgress {
        stage: &'static str,
        done: usize,
        total: usize,
    },
    TrainDone(String),
    /// A retrain was asked for and cannot start: why (already training, too little listening).
    RetrainRefused(String),
    /// The whole log was exported to this file.
    ExportDone(PathBuf),
    /// The saved playlists, read afresh.
    Playlists(Vec<SavedPlaylist>),
    /// A playlist was saved or grew: what to tell the listener.
    PlaylistSaved(String),
    /// The cover of a track as a picture of `size` cells (`None`: it has none).
    Art {
        track_id: i64,
        size: ratatui::layout::Size,
        picture: Option<Picture>,
    },
    /// Track indices matching the search numbered `generation`, best first; `complete` is
    /// false while the search thread is still going through the library.
    SearchResults {
        generation: u64,
        results: Vec<usize>,
        complete: bool,
    },
    /// The lyrics of a track (`None`: it has none), the listener's timing shift for them, and
    /// what is wrong with its lyrics file (broken time stamps, a `.lrc` that holds no lyrics).
    Lyrics {
        track_id: i64,
        lyrics: Option<Lyrics>,
        shift_ms: i64,
        problem: Option<String>,
    },
}

/// Runs `job` on a thread named `name`; its error, or a panic, is reported as `failed` says (a
/// job the screen waits on answers it in its own words, so that nothing stays "on its way").
/// Returns whether the thread started.
fn run_worker(
    name: &str,
    failed: impl FnOnce(String) -> WorkerMsg + Send + 'static,
    tx: Sender<WorkerMsg>,
    job: impl FnOnce(&Sender<WorkerMsg>) -> Result<(), AppError> + Send + 'static,
) -> bool {
    let name = name.to_owned();
    let spawned = std::thread::Builder::new().name(name.clone()).spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&tx)));
        let message = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("the {name} worker failed unexpectedly (details in skipless.log)"),
        };
        let _ = tx.send(failed(message));
    });
    if let Err(e) = &spawned {
        tracing::error!("cannot start a worker thread: {e}");
    }
    spawned.is_ok()
}

/// Test hook (`SKIPLESS_TEST_PANIC=worker`, in builds with debug assertions): a worker that
/// panics, to show that the UI goes on.
#[cfg(debug_assertions)]
pub(crate) fn spawn_test_panic(tx: Sender<WorkerMsg>) {
    run_worker("test", WorkerMsg::Error, tx, |_| {
        panic!("test panic in a worker thread (SKIPLESS_TEST_PANIC=worker)")
    });
}

/// Scans `roots`, then reloads the library.
pub(crate) fn spawn_scan(db_path: PathBuf, roots: Vec<PathBuf>, tx: Sender<WorkerMsg>) {
    run_worker("scan", WorkerMsg::ScanFailed, tx, move |tx| {
        scan_and_report(&db_path, &roots, tx)
    });
}

/// Scans `roots` (folders in a root are rescanned as part of it), reporting progress, the
/// outcome and the reloaded library to `tx`.
pub(crate) fn scan_and_report(db_path: &Path, roots: &[PathBuf], tx: &Sender<WorkerMsg>) -> Result<(), AppError> {
    let mut db = Database::open(db_path)?;
    let outcome = scan_library(&mut db, roots, Reread::Changed, &|p| {
        if let ScanProgress::Reading { done, total } = p {
            let _ = tx.send(WorkerMsg::ScanProgress { done, total });
        }
    })?;
    let _ = tx.send(WorkerMsg::ScanDone {
        summary: outcome.status_line(),
        problems: outcome.report.problems(),
    });
    send_library(&db, tx)
}

/// Loads the library index.
pub(crate) fn spawn_load(db_path: PathBuf, tx: Sender<WorkerMsg>) {
    run_worker("library", WorkerMsg::Error, tx, move |tx| {
        let db = Database::open(&db_path)?;
        send_library(&db, tx)
    });
}

/// Reads the library and sends it, one reader at a time, so that copies arrive in the order
/// they were read: a load begun before a scan committed never lands after the scan's own copy
/// and empties the screen of what the scan found.
fn send_library(db: &Database, tx: &Sender<WorkerMsg>) -> Result<(), AppError> {
    static READING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _in_order = READING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = tx.send(WorkerMsg::Library(LibraryIndex::load(db)?));
    Ok(())
}

/// Exports the whole log as CSV to a timestamped file in `dir`.
pub(crate) fn spawn_export(db_path: PathBuf, dir: PathBuf, config: crate::config::Config, tx: Sender<WorkerMsg>) {
    run_worker("export", WorkerMsg::Error, tx, move |tx| {
        let db = Database::open(&db_path)?;
        // Named by the listener's clock, as the rest of what they see is.
        let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S");
        let path = dir.join(format!("skipless-export-{stamp}.csv"));
        let options = ExportOptions::from_config(&config, ExportFormat::Csv, TimeRange::default());
        export_to_file(db.conn(), &options, &path, &|_, _| {}).map_err(|e| e.in_database(&db))?;
        let _ = tx.send(WorkerMsg::ExportDone(path));
        Ok(())
    });
}

/// Held by each playlist worker from its first read to its last report: the lists they send
/// arrive in the order they were read, so a load begun before an edit never lands after it.
static PLAYLIST_WORK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn playlist_turn() -> std::sync::MutexGuard<'static, ()> {
    PLAYLIST_WORK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the saved playlists.
pub(crate) fn spawn_playlists(db_path: PathBuf, tx: Sender<WorkerMsg>) {
    run_worker("playlists", WorkerMsg::Error, tx, move |tx| {
        let _turn = playlist_turn();
        let db = Database::open(&db_path)?;
        let _ = tx.send(WorkerMsg::Playlists(SavedPlaylist::load_all(&db)?));
        Ok(())
    });
}

/// How [`spawn_save_playlist`] saves: as a new playlist (the words say what was saved), or
/// appended to the playlist named (created when new).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaveAs {
    New(&'static str),
    Append,
}

/// Saves `tracks` as playlist `name` as `save` says (a new one is refused when the name is
/// taken); then reads the playlists again.
pub(crate) fn spawn_save_playlist(
    db_path: PathBuf,
    name: String,
    tracks: Vec<Track>,
    save: SaveAs,
    tx: Sender<WorkerMsg>,
) {
    run_worker("playlists", WorkerMsg::Error, tx, move |tx| {
        let name = checked_name(&name).map_err(|why| AppError::Refused(why).not_done("not saved"))?;
        let _turn = playlist_turn();
        let mut db = Database::open(&db_path)?;
        let entries: Vec<Entry> = tracks.iter().map(entry_of).collect();
        match save {
            SaveAs::Append => {
                playlists::append(db.conn_mut(), name, &entries, now_ms()).map_err(|e| db.err(e))?;
                let n = entries.len();
                let _ = tx.send(WorkerMsg::PlaylistSaved(format!(
                    "added {} to playlist {name:?}",
                    crate::fmt::count(n as u64, "track")
                )));
            }
            SaveAs::New(what) => {
                let saved = playlists::create(db.conn_mut(), name, &entries, now_ms()).map_err(|e| db.err(e))?;
                if saved.is_none() {
                    return Err(AppError::Refused(format!("a playlist named {name:?} exists already")));
                }
                let _ = tx.send(WorkerMsg::PlaylistSaved(format!("saved {what} as playlist {name:?}")));
            }
        }
        let _ = tx.send(WorkerMsg::Playlists(SavedPlaylist::load_all(&db)?));
        Ok(())
    });
}

/// A change to a saved playlist made from the player.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlaylistChange {
    Rename { from: String, to: String },
    Delete(String),
}

/// Renames or deletes a saved playlist, in one statement each, then reads the playlists again.
pub(crate) fn spawn_change_playlist(db_path: PathBuf, change: PlaylistChange, tx: Sender<WorkerMsg>) {
    run_worker("playlists", WorkerMsg::Error, tx, move |tx| {
        let _turn = playlist_turn();
        let db = Database::open(&db_path)?;
        let message = match &change {
            PlaylistChange::Rename { from, to } => {
                let to = rename_playlist(&db, from, to).map_err(|e| e.not_done("not renamed"))?;
                format!("renamed playlist {from:?} to {to:?}")
            }
            PlaylistChange::Delete(name) => {
                delete_playlist(&db, name).map_err(|e| e.not_done("not deleted"))?;
                format!("deleted playlist {name:?}")
            }
        };
        let _ = tx.send(WorkerMsg::PlaylistSaved(message));
        let _ = tx.send(WorkerMsg::Playlists(SavedPlaylist::load_all(&db)?));
        Ok(())
    });
}

/// Finds, decodes (through `cache`) and draws the cover of `track` as a picture of `size` cells.
pub(crate) fn spawn_art(
    track: Track,
    size: ratatui::layout::Size,
    picker: ratatui_image::picker::Picker,
    cache: std::sync::Arc<std::sync::Mutex<ArtCache>>,
    tx: Sender<WorkerMsg>,
) {
    let track_id = track.id;
    let no_picture = move |_| WorkerMsg::Art {
        track_id,
        size,
        picture: None,
    };
    run_worker("art", no_picture, tx, move |tx| {
        let picture = art_for(&track, size, &picker, &cache);
        let _ = tx.send(WorkerMsg::Art {
            track_id: track.id,
            size,
            picture,
        });
        Ok(())
    });
}

/// Finds the lyrics of `track` (its `.lrc`, its tags, then `folder`) and the listener's
/// timing shift for them.
pub(crate) fn spawn_lyrics(db_path: PathBuf, track: Track, folder: Option<PathBuf>, tx: Sender<WorkerMsg>) {
    let track_id = track.id;
    let none_found = move |why| WorkerMsg::Lyrics {
        track_id,
        lyrics: None,
        shift_ms: 0,
        problem: Some(why),
    };
    run_worker("lyrics", none_found, tx, move |tx| {
        let lyrics = find_lyrics(&track, folder.as_deref());
        // The lyrics are shown whatever happens to their timing: the screen asks once a track.
        let shift_ms = Database::open(&db_path)
            .and_then(|db| crate::db::lyrics::shift(db.conn(), track.id).map_err(|e| db.err(e)))
            .unwrap_or_else(|e| {
                tracing::warn!("the lyrics' timing shift is not read: {e}");
                0
            });
        let problem = match &lyrics {
            Some(lyrics) => lyrics.problem(),
            None => sidecar_problem(&track.path),
        };
        let _ = tx.send(WorkerMsg::Lyrics {
            track_id: track.id,
            lyrics,
            shift_ms,
            problem,
        });
        Ok(())
    });
}

/// Computes the statistics view; once started (it returns whether it did), it always answers,
/// also with an error or a panic, so that the UI knows the read has ended.
pub(crate) fn spawn_stats(db_path: PathBuf, rule: SkipRule, tx: Sender<WorkerMsg>) -> bool {
    run_worker("stats", WorkerMsg::Error, tx, move |tx| {
        let read = || -> Result<Stats, AppError> {
            let db = Database::open(&db_path)?;
            let tz = jiff::tz::TimeZone::system();
            let stats = crate::db::plays::stats(db.conn(), &rule, 10, &tz).map_err(|e| db.err(e))?;
            Ok(stats)
        };
        let stats = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
            Ok(read) => read.map_err(|e| e.to_string()),
            Err(_) => Err("the stats worker failed unexpectedly (details in skipless.log)".to_owned()),
        };
        let _ = tx.send(WorkerMsg::Stats(stats));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that panics still answers, in the words its caller gave for a failure.
    #[test]
    fn a_worker_that_panics_answers_as_its_caller_said() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let answer = |why| WorkerMsg::Lyrics {
            track_id: 7,
            lyrics: None,
            shift_ms: 0,
            problem: Some(why),
        };
        assert!(run_worker("lyrics", answer, tx, |_| panic!("on purpose")));
        match rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(WorkerMsg::Lyrics {
                track_id: 7,
                lyrics: None,
                problem: Some(why),
                ..
            }) => assert_eq!(why, "the lyrics worker failed unexpectedly (details in skipless.log)"),
            other => panic!("{other:?}"),
        }
    }
}
