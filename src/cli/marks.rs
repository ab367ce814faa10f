//! `skipless like|unlike|ban|unban PATH...`: mark indexed tracks.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::app::Context;
use crate::clock::now_ms;
use crate::db::{marks, tracks, Database};
use crate::marks::Mark;
use crate::track::Track;

/// Sets (`on`) or clears `mark` on the indexed tracks at `paths`, a line for each. Every path is
/// checked before any is marked, so a typo in the fifth marks none and says which.
pub fn run(ctx: &Context, paths: &[PathBuf], mark: Mark, on: bool) -> anyhow::Result<()> {
    // What no database can mend is said first, data dir or not. A path not there is kept with
    // why, for a mark taken back from the path a track had.
    let mut missing = Vec::with_capacity(paths.len());
    for path in paths {
        match std::fs::metadata(path) {
            Ok(kind) if kind.is_dir() => anyhow::bail!("{}: a folder, not a track", path.display()),
            Ok(_) if !crate::library::is_audio_file(path) => {
                anyhow::bail!("{}: {}", path.display(), crate::library::not_audio(path))
            }
            Ok(_) => missing.push(None),
            Err(e) if on => return Err(anyhow::Error::new(e).context(format!("{}: cannot open", path.display()))),
            Err(e) => missing.push(Some(e)),
        }
    }
    let db = ctx.open_database_there()?;
    let mut marked: Vec<Track> = Vec::with_capacity(paths.len());
    let mut seen = std::collections::HashSet::new();
    for (path, missing) in paths.iter().zip(missing) {
        let track = indexed_track(&db, path, missing)?;
        // The same file named twice (or by two links) is marked and said once.
        if seen.insert(track.id) {
            marked.push(track);
        }
    }
    // One transaction: a database that fails halfway marks none.
    let tx = db.conn().unchecked_transaction().map_err(|e| db.err(e))?;
    let mut lines = Vec::with_capacity(marked.len());
    for track in &marked {
        let change = marks::set(&tx, track.id, mark, on, now_ms()).map_err(|e| db.err(e))?;
        let said = mark.outcome(on, change);
        // A file that did not read at its last scan keeps its marks, as it keeps its plays, for
        // when it reads again; until then nothing plays it, so a like of it waits (a ban says
        // what it says of any track).
        let readable = tracks::playable_track_at(&tx, &track.path)
            .map_err(|e| db.err(e))?
            .is_some();
        let note = if !readable && on && mark == Mark::Like {
            " (its file did not read at the last scan: it plays once a scan reads it)"
        } else if change.changed && mark == Mark::Ban && on {
            " (never queued by autoplay)"
        } else {
            ""
        };
        lines.push(format!("{said}{note}: {}", track.display_name()));
    }
    tx.commit().map_err(|e| db.err(e))?;
    for line in lines {
        outln!("{line}")?;
    }
    super::tell_running_player(ctx);
    Ok(())
}

/// The indexed track at `path`, which [`run`] found to be an audio file, or not there (`missing`
/// says why). A mark can be taken back from a file that is gone from the disk, even from the
/// library, by the path it had: its like or ban would otherwise stay in the log and its exports
/// for good.
fn indexed_track(db: &Database, path: &Path, missing: Option<std::io::Error>) -> anyhow::Result<Track> {
    if let Some(e) = missing {
        let named = std::path::absolute(path).map(|p| crate::playlist::lexically_normal(&p));
        return named
            .ok()
            .map(|named| tracks::track_by_path_ever(db.conn(), &named))
            .transpose()
            .map_err(|e| db.err(e))?
            .flatten()
            .ok_or_else(|| anyhow::Error::new(e).context(format!("{}: cannot open", path.display())));
    }
    tracks::index_path(db.conn(), path)
        .and_then(|file| file.map_or(Ok(None), |file| tracks::track_by_path_any(db.conn(), &file)))
        .map_err(|e| db.err(e))?
        .with_context(|| {
            format!(
                "{}: not in the library; index its folder first (skipless scan DIR)",
                path.display()
            )
        })
}
