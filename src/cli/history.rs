//! `skipless history`: the listening log, newest first.

use std::io::Write;

use crate::app::Context;
use crate::fmt::{format_duration, format_time, local_time, printable};
use crate::play::EndReason;

/// `skipless history [--json] [--limit N]`.
pub(crate) fn run(ctx: &Context, json: bool, limit: usize) -> anyhow::Result<()> {
    let db = ctx.open_existing_database()?;
    let rows = crate::db::plays::history(db.conn(), limit).map_err(|e| db.err(e))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for row in &rows {
        if json {
            let mut value = serde_json::to_value(row)?;
            value["started_at"] = format_time(row.started_at).into();
            value["ended_at"] = row.ended_at.map(format_time).into();
            writeln!(out, "{}", printable(&serde_json::to_string(&value)?)).map_err(super::StdoutError)?;
        } else {
            let mark = if row.skipped { "skip" } else { "    " };
            let ended: &str = match row.end_reason.as_deref() {
                None => "playing",
                Some(reason) => match EndReason::parse(reason) {
                    Some(known) => known.word(),
                    None => reason,
                },
            };
            let waiting = if row.path.is_none() {
                "  (waits for its track)"
            } else {
                ""
            };
            // Named as the player's lists name it: an untagged track by its title alone.
            let name = match row.artist.as_deref() {
                Some(artist) => format!("{artist} – {}", row.title),
                None => row.title.clone(),
            };
            let line = format!(
                "{}  {mark}  {:<11} {:>5}/{:<5}  {name}{waiting}",
                local_time(row.started_at),
                ended,
                format_duration(row.played_ms),
                row.duration_ms.map(format_duration).unwrap_or_else(|| "--:--".into()),
            );
            writeln!(out, "{}", printable(&line)).map_err(super::StdoutError)?;
        }
    }
    out.flush().map_err(super::StdoutError)?;
    Ok(())
}
