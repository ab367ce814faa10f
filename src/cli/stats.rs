//! `skipless stats`: totals, top tracks and artists, most-skipped tracks.

use crate::app::Context;
use crate::play::SkipRule;

/// `skipless stats [--json]`.
pub(crate) fn run(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let db = ctx.open_existing_database()?;
    let rule = SkipRule::from_config(&ctx.config.log);
    let tz = jiff::tz::TimeZone::system();
    let stats = crate::db::plays::stats(db.conn(), &rule, 10, &tz).map_err(|e| db.err(e))?;
    if json {
        outln!("{}", serde_json::to_string(&stats)?)?;
        return Ok(());
    }
    outln!("{}", stats.summary())?;
    outln!("{}", stats.picks_line())?;
    if let Some(line) = stats.waiting_line() {
        outln!("{line}")?;
    }
    outln!("\nTop tracks (listens):")?;
    for t in &stats.top_tracks {
        outln!("  {:>4}  {}", t.tally.listens, t.name())?;
    }
    outln!("\nTop artists (listens):")?;
    for a in &stats.top_artists {
        outln!("  {:>4}  {}", a.tally.listens, a.artist)?;
    }
    outln!("\nMost skipped:")?;
    for t in &stats.most_skipped {
        outln!("  {:>4}  {}", t.tally.skips, t.name())?;
    }
    // The weeks that had plays; the JSON has every week.
    outln!("\nSkips by week (the week from):")?;
    for week in stats.weekly.iter().filter(|w| w.skips.plays > 0) {
        let start = jiff::Timestamp::from_millisecond(week.week_start_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        outln!("  {}  {}", tz.to_datetime(start).date(), week.skips.share_line())?;
    }
    outln!("\nRecommender: the last training runs")?;
    if stats.training_runs.is_empty() {
        outln!("  none yet (skipless train)")?;
    }
    for run in &stats.training_runs {
        outln!("  {}", run.line())?;
    }
    Ok(())
}
