//! Matching waiting imported plays once their track is in the library ([`match_unmatched`]).
//!
//! Kept apart from the scanner, which knows files and tags only: `app::scan::scan_library` calls
//! it after every scan.

use super::matching::Matcher;
use super::LogIoError;
use crate::db::{imports, Database};

/// Moves every unmatched imported play whose track the library now has into `plays`, in the
/// session and at the position it was imported with. Returns how many moved.
pub(crate) fn match_unmatched(db: &mut Database) -> Result<usize, LogIoError> {
    // Most scans follow no import: the library's match keys are built only when plays wait.
    if !imports::any_waiting(db.conn())? {
        return Ok(0);
    }
    let matcher = Matcher::load(db.conn())?;
    Ok(imports::match_waiting(db.conn_mut(), |key, album| {
        matcher.find(key, album).map(|t| (t.track_id, t.duration_ms))
    })?)
}
