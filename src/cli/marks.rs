//! `skipless like|unlike|ban|unban PATH`: mark an indexed track.

use std::path::Path;

use anyhow::Context as _;

use crate::app::Context;
use crate::clock::now_ms;
use crate::db::{marks, tracks};
use crate::marks::Mark;

/// Sets (`on`) or clears `mark` on the indexed track at `path`.
pub fn run(ctx: &Context, path: &Path, mark: Mark, on: bool) -> anyhow::Result<()> {
    let kind = std::fs::metadata(path).with_context(|| format!("{}: cannot open", path.display()))?;
    if kind.is_dir() {
        anyhow::bail!("{}: a folder, not a track", path.display());
    }
    if !crate::library::is_audio_file(path) {
        anyhow::bail!("{}: {}", path.display(), crate::library::not_audio(path));
    }
    let db = ctx.open_database_there()?;
    let track = tracks::index_path(db.conn(), path)
        .and_then(|file| file.map_or(Ok(None), |file| tracks::track_by_path_any(db.conn(), &file)))
        .map_err(|e| db.err(e))?
        .with_context(|| {
            format!(
                "{}: not in the library; index its folder first (skipless scan DIR)",
                path.display()
            )
        })?;
    let change = marks::set(db.conn(), track.id, mark, on, now_ms()).map_err(|e| db.err(e))?;
    let said = mark.outcome(on, change);
    // A file that did not read at its last scan keeps its marks, as it keeps its plays, for
    // when it reads again; until then nothing plays it, so a like of it waits (a ban says what
    // it says of any track).
    let readable = tracks::playable_track_at(db.conn(), &track.path)
        .map_err(|e| db.err(e))?
        .is_some();
    let note = if !readable && on && mark == Mark::Like {
        " (its file did not read at the last scan: it plays once a scan reads it)"
    } else if change.changed && mark == Mark::Ban && on {
        " (never queued by autoplay)"
    } else {
        ""
    };
    outln!("{said}{note}: {}", track.display_name())?;
    super::tell_running_player(ctx);
    Ok(())
}
