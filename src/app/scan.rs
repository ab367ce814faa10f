//! Scanning folders the one way every front end does it ([`scan_library`], [`ScanOutcome`]):
//! the scan, then the imported plays that were waiting for the tracks it added.

use std::path::PathBuf;

use crate::db::Database;
pub(crate) use crate::library::scan::Reread;
use crate::library::scan::{self, ScanProgress, ScanReport};

/// What a scan found, and how many waiting imported plays it matched.
#[derive(Debug)]
pub(crate) struct ScanOutcome {
    pub report: ScanReport,
    pub matched: usize,
}

impl ScanOutcome {
    /// Files that could not be read plus folders that could not be walked.
    pub(crate) fn problems(&self) -> usize {
        self.report.walk_errors.len() + self.report.failed_files.len()
    }

    /// The counts in one short line, for a status bar.
    pub(crate) fn status_line(&self) -> String {
        let s = &self.report.summary;
        let matched = if self.matched > 0 {
            format!("; {} imported plays matched", self.matched)
        } else {
            String::new()
        };
        format!(
            "scanned {}: {} added, {} updated, {} moved, {} removed, {} failed{matched}",
            s.scanned, s.added, s.updated, s.moved, s.removed, s.failed
        )
    }
}

/// Scans `roots` into the index, then matches waiting imported plays to the tracks now there.
pub(crate) fn scan_library(
    db: &mut Database,
    roots: &[PathBuf],
    reread: Reread,
    progress: &(dyn Fn(ScanProgress) + Sync),
) -> anyhow::Result<ScanOutcome> {
    let report = scan::scan(db, roots, reread, progress)?;
    let matched = crate::logio::rematch::match_unmatched(db)?;
    Ok(ScanOutcome { report, matched })
}
