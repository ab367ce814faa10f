//! `skipless scan`: index music folders, with a progress bar on a terminal.

use std::path::PathBuf;

use crate::app::scan::scan_library;
use crate::app::Context;
use crate::library::scan::{Reread, ScanProgress};

/// `skipless scan [--full] [--json] [PATH...]`.
pub(crate) fn run(ctx: &Context, paths: &[PathBuf], reread: Reread, json: bool) -> anyhow::Result<()> {
    // A folder named here that cannot be opened is a mistake to report, not a root to keep:
    // a known root that is gone for now (an unplugged disk) only warns, and keeps its tracks.
    // Both mistakes are said before a data dir is made for them.
    for path in paths {
        super::check_openable(path)?;
    }
    let no_roots = || anyhow::anyhow!("no library roots yet: give the folders to scan, e.g. `skipless scan ~/Music`");
    // (A data dir that is a file is said as such when it is opened.)
    if paths.is_empty() && !ctx.paths.database().exists() && !ctx.paths.data_dir.is_file() {
        return Err(no_roots());
    }
    let mut db = ctx.open_database()?;
    db.check_intact()?;
    let roots = if paths.is_empty() {
        crate::db::tracks::roots(db.conn()).map_err(|e| db.err(e))?
    } else {
        paths.to_vec()
    };
    if roots.is_empty() {
        return Err(no_roots());
    }
    let bar = super::PhasedBar::new("walking", "reading");
    let scanned = scan_library(&mut db, &roots, reread, &|p| match p {
        ScanProgress::Walking { found } => bar.count(found as u64),
        ScanProgress::Reading { done, total } => bar.advance(done as u64, total as u64),
    });
    bar.finish();
    // A scan commits round by round: one that fails may have changed the library already. One
    // that changed nothing (no track, no waiting play, no root) leaves a running player alone.
    let changed = scanned.as_ref().map_or(true, |outcome| {
        let s = outcome.report.summary;
        s.added + s.updated + s.moved + s.removed + outcome.matched > 0
            || !paths.is_empty()
            || !outcome.report.dropped_roots.is_empty()
    });
    if changed {
        super::tell_running_player(ctx);
    }
    let outcome = scanned?;
    let (report, matched) = (outcome.report, outcome.matched);
    if let Some(error) = &outcome.match_error {
        eprintln!("skipless: warning: imported plays waiting for their tracks were not matched: {error}");
    }
    for said in report.roots_said() {
        eprintln!("skipless: {said}");
    }
    for error in &report.walk_errors {
        eprintln!("skipless: warning: {error}");
    }
    if let Some(said) = crate::library::unplayable_said(&report.unplayable) {
        eprintln!("skipless: warning: {said}");
    }
    for (path, reason) in &report.failed_files {
        eprintln!(
            "skipless: cannot read {}: {reason}",
            crate::fmt::printable(&path.display().to_string())
        );
    }
    let s = report.summary;
    if json {
        outln!("{}", serde_json::to_string(&s)?)?;
    } else {
        let n = |count: usize| crate::fmt::group_digits(count as u64);
        outln!(
            "scanned {}: {} added, {} updated, {} unchanged, {} moved, {} removed, {} failed",
            crate::fmt::count(s.scanned as u64, "file"),
            n(s.added),
            n(s.updated),
            n(s.unchanged),
            n(s.moved),
            n(s.removed),
            n(s.failed)
        )?;
        if matched > 0 {
            outln!("{matched} imported plays matched to library tracks")?;
        }
    }
    // What was scanned is kept; the status tells a script that not all of it was.
    let problems = report.problems();
    anyhow::ensure!(
        problems == 0,
        "not all was scanned: {}, each said above",
        crate::fmt::count(problems as u64, "problem")
    );
    Ok(())
}
