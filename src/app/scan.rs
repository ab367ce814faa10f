//! Scanning folders the one way every front end does it ([`scan_library`], [`ScanOutcome`]):
//! the scan, then the imported plays that were waiting for the tracks it added.

use std::path::PathBuf;

use crate::db::Database;
use crate::library::scan::{self, Reread, ScanProgress, ScanReport};

/// What a scan found, and how many waiting imported plays it matched.
#[derive(Debug)]
pub(crate) struct ScanOutcome {
    pub report: ScanReport,
    pub matched: usize,
    /// Why matching the waiting plays failed: the scan stands (it is committed), the plays wait
    /// for the next scan.
    pub match_error: Option<String>,
}

impl ScanOutcome {
    /// The counts in one short line, for a status bar.
    pub(crate) fn status_line(&self) -> String {
        let s = &self.report.summary;
        let matched = match (&self.match_error, self.matched) {
            (Some(error), _) => format!("; imported plays not matched: {error}"),
            (None, 0) => String::new(),
            (None, matched) => format!("; {matched} imported plays matched"),
        };
        let unplayable = crate::library::unplayable_said(&self.report.unplayable)
            .map(|said| format!("; {said}"))
            .unwrap_or_default();
        let roots: String = self.report.roots_said().map(|said| format!("; {said}")).collect();
        format!(
            "scanned {}: {} added, {} updated, {} moved, {} removed, {} failed{unplayable}{roots}{matched}",
            s.scanned, s.added, s.updated, s.moved, s.removed, s.failed
        )
    }
}

/// [`scan_library`] of the files changed since the last scan, without progress: what a player
/// started on files or folders does before it plays them.
pub(crate) fn scan_changed(db: &mut Database, roots: &[PathBuf]) -> Result<ScanOutcome, crate::db::DbError> {
    scan_library(db, roots, Reread::Changed, &|_| {})
}

/// Scans `roots` into the index, then matches waiting imported plays to the tracks now there. A
/// failed match does not fail the scan, which is committed: it is told in the outcome.
pub(crate) fn scan_library(
    db: &mut Database,
    roots: &[PathBuf],
    reread: Reread,
    progress: &(dyn Fn(ScanProgress) + Sync),
) -> Result<ScanOutcome, crate::db::DbError> {
    let report = scan::scan(db, roots, reread, progress)?;
    let (matched, match_error) = match crate::logio::rematch::match_unmatched(db) {
        Ok(matched) => (matched, None),
        Err(e) => (0, Some(e.in_database(db).to_string())),
    };
    Ok(ScanOutcome {
        report,
        matched,
        match_error,
    })
}
