//! Background jobs of the TUI ([`WorkerMsg`], [`spawn_scan`], [`spawn_load`]): they open their
//! own database connection, do the slow part, and report back over a channel.

use std::path::PathBuf;

use crossbeam_channel::Sender;

use super::library::LibraryIndex;
use crate::db::plays::Stats;
use crate::db::Database;
use crate::library::scan::{self, ScanProgress};
use crate::log::SkipRule;

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
    Stats(Stats),
    Error(String),
    /// Ranked tracks for the request numbered `seq`, from the model or the fallback.
    Recommendations {
        seq: u64,
        source: &'static str,
        picks: Vec<crate::recommend::infer::Scored>,
    },
    /// What feeds autoplay, for the status line.
    ModelStatus(String),
    TrainProgress {
        done: usize,
        total: usize,
    },
    TrainDone(String),
}

fn run_worker(
    name: &str,
    tx: Sender<WorkerMsg>,
    job: impl FnOnce(&Sender<WorkerMsg>) -> anyhow::Result<()> + Send + 'static,
) {
    let name = name.to_owned();
    let spawned = std::thread::Builder::new().name(name.clone()).spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&tx)));
        let message = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => format!("the {name} worker failed unexpectedly"),
        };
        let _ = tx.send(WorkerMsg::Error(message));
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start a worker thread: {e}");
    }
}

/// Scans `roots`, then reloads the library.
pub fn spawn_scan(db_path: PathBuf, roots: Vec<PathBuf>, tx: Sender<WorkerMsg>) {
    run_worker("scan", tx, move |tx| {
        let mut db = Database::open(&db_path)?;
        let report = scan::scan(&mut db, &roots, &|p| {
            if let ScanProgress::Reading { done, total } = p {
                let _ = tx.send(WorkerMsg::ScanProgress { done, total });
            }
        })?;
        let s = report.summary;
        let _ = tx.send(WorkerMsg::ScanDone {
            summary: format!(
                "scanned {}: {} added, {} updated, {} removed, {} failed",
                s.scanned, s.added, s.updated, s.removed, s.failed
            ),
            problems: report.walk_errors.len() + report.failed_files.len(),
        });
        let _ = tx.send(WorkerMsg::Library(LibraryIndex::load(&db)?));
        Ok(())
    });
}

/// Loads the library index.
pub fn spawn_load(db_path: PathBuf, tx: Sender<WorkerMsg>) {
    run_worker("library", tx, move |tx| {
        let db = Database::open(&db_path)?;
        let _ = tx.send(WorkerMsg::Library(LibraryIndex::load(&db)?));
        Ok(())
    });
}

/// Computes the statistics view.
pub fn spawn_stats(db_path: PathBuf, rule: SkipRule, tx: Sender<WorkerMsg>) {
    run_worker("stats", tx, move |tx| {
        let db = Database::open(&db_path)?;
        let stats = crate::db::plays::stats(db.conn(), &rule, 10).map_err(|e| db.err(e))?;
        let _ = tx.send(WorkerMsg::Stats(stats));
        Ok(())
    });
}
