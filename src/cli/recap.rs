//! `skipless recap`: the listening log over a time range as one HTML page, or its numbers as
//! JSON.

use std::path::Path;

use crate::app::Context;
use crate::clock::TimeRange;
use crate::play::SkipRule;
use crate::recap::{self, RecapError};

/// `skipless recap [--out FILE] [--json] [--since DATE] [--until DATE]`.
pub(crate) fn run(
    ctx: &Context,
    out: Option<&Path>,
    json: bool,
    since: Option<&str>,
    until: Option<&str>,
) -> anyhow::Result<()> {
    let tz = jiff::tz::TimeZone::system();
    let range = TimeRange::parse(since, until, &tz)?;
    if let Some(path) = out {
        super::claim_out_file(ctx, "recap", path)?;
    }
    let db = ctx.open_existing_database()?;
    let rule = SkipRule::from_config(&ctx.config.log);
    let started = std::time::Instant::now();
    let recap = recap::build(&db, &rule, range, &tz)?;
    let text = if json {
        let mut text = serde_json::to_string(&recap)?;
        text.push('\n');
        text
    } else {
        recap::render(&recap, &tz)
    };
    match out {
        Some(path) => {
            crate::atomic_file::write_atomic(path, text.as_bytes()).map_err(|source| RecapError::Write {
                path: path.to_path_buf(),
                source,
            })?;
            eprintln!(
                "recap of {} ({}) written to {} in {:.2} s",
                crate::fmt::count(recap.totals.plays, "play"),
                recap.time_zone,
                path.display(),
                started.elapsed().as_secs_f64()
            );
        }
        None => out!("{text}")?,
    }
    Ok(())
}
