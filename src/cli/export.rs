//! `skipless export`: the listening log in a standard format, to stdout or a file.

use std::path::Path;

use super::progress_bar;
use crate::app::Context;
use crate::clock::TimeRange;
use crate::logio::export::{self, ExportFormat, ExportOptions};

/// `skipless export --format F [--out FILE] [--since DATE] [--until DATE]`.
pub(crate) fn export(
    ctx: &Context,
    format: ExportFormat,
    out: Option<&Path>,
    since: Option<&str>,
    until: Option<&str>,
) -> anyhow::Result<()> {
    let range = TimeRange::parse(since, until, &jiff::tz::TimeZone::system())?;
    let options = ExportOptions::from_config(&ctx.config, format, range);
    let db = ctx.open_existing_database()?;
    match out {
        Some(path) => {
            super::claim_out_file(ctx, "export", path)?;
            let bar = progress_bar(super::bar_style(), "export", 0, 0);
            let written = export::export_to_file(db.conn(), &options, path, &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .map_err(|e| e.in_database(&db))?;
            bar.finish_and_clear();
            let what = if format == ExportFormat::Feedback {
                let n = crate::fmt::group_digits(written);
                if written == 1 {
                    format!("{n} like or ban")
                } else {
                    format!("{n} likes and bans")
                }
            } else {
                crate::fmt::count(written, "play")
            };
            eprintln!("exported {what} to {}", path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            export::export(db.conn(), &options, &mut out, &|_| {}).map_err(|e| e.in_database(&db))?;
        }
    }
    Ok(())
}
