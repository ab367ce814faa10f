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
    /// The whole log was exported to this file.
    ExportDone(PathBuf),
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
            Err(_) => format!("the {name} worker failed unexpectedly (details in skipless.log)"),
        };
        let _ = tx.send(WorkerMsg::Error(message));
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start a worker thread: {e}");
    }
}

/// Test hook (`SKIPLESS_TEST_PANIC=worker`): a worker that panics, to show that the UI goes on.
pub fn spawn_test_panic(tx: Sender<WorkerMsg>) {
    run_worker("test", tx, |_| {
        panic!("test panic in a worker thread (SKIPLESS_TEST_PANIC=worker)")
    });
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
        let matched = crate::logio::rematch::match_unmatched(&mut db)?;
        let s = report.summary;
        let _ = tx.send(WorkerMsg::ScanDone {
            summary: format!(
                "scanned {}: {} added, {} updated, {} removed, {} failed{}",
                s.scanned,
                s.added,
                s.updated,
                s.removed,
                s.failed,
                if matched > 0 {
                    format!("; {matched} imported plays matched")
                } else {
                    String::new()
                }
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

/// Exports the whole log as CSV to a timestamped file in `dir`.
pub fn spawn_export(db_path: PathBuf, dir: PathBuf, config: crate::config::Config, tx: Sender<WorkerMsg>) {
    run_worker("export", tx, move |tx| {
        let db = Database::open(&db_path)?;
        let stamp = time::OffsetDateTime::now_utc().format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))?;
        let path = dir.join(format!("skipless-export-{stamp}.csv"));
        let options = crate::logio::commands::options(&config, crate::logio::ExportFormat::Csv, None, None)?;
        crate::logio::commands::export_to_file(db.conn(), &options, &path, &indicatif::ProgressBar::hidden())?;
        let _ = tx.send(WorkerMsg::ExportDone(path));
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
