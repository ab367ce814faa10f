//! `skipless library`: the indexed tracks, as a table or JSON lines.

use std::io::Write;

use anyhow::Context as _;

use crate::app::Context;
use crate::fmt::{column, format_duration, printable};

/// `skipless library [--json]`.
pub(crate) fn run(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let db = ctx.open_existing_database()?;
    let tracks: Vec<crate::track::Track> = crate::db::tracks::all_tracks(db.conn()).map_err(|e| db.err(e))?;
    let marks = crate::db::marks::load(db.conn()).map_err(|e| db.err(e))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for track in &tracks {
        if json {
            let mut object = serde_json::to_value(track)?;
            if let Some(fields) = object.as_object_mut() {
                fields.insert("liked".into(), marks.is_liked(track.id).into());
                fields.insert("banned".into(), marks.is_banned(track.id).into());
            }
            writeln!(out, "{}", printable(&object.to_string()))?;
        } else {
            let duration = track.duration_ms.map(format_duration).unwrap_or_else(|| "--:--".into());
            let mark = if marks.is_banned(track.id) {
                "⊘"
            } else if marks.is_liked(track.id) {
                "♥"
            } else {
                " "
            };
            let line = format!(
                "{:>6} {mark} {}  {}  {}  {duration}",
                track.id,
                column(
                    &printable(track.artist.as_deref().unwrap_or(crate::track::UNKNOWN_ARTIST)),
                    30
                ),
                column(&printable(track.album.as_deref().unwrap_or("")), 30),
                column(&printable(&track.title), 30),
            );
            writeln!(out, "{line}")?;
        }
    }
    out.flush().context("writing to stdout")?;
    Ok(())
}
