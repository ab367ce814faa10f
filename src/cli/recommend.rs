//! `skipless recommend`: what would play next, with scores and reasons.

use crate::app::Context;
use crate::fmt::truncate;
use crate::recommend::infer::{fallback_rank, Filters, Recommender};
use crate::recommend::log::{library_candidates, ListeningLog};
use crate::track::Track;

/// `skipless recommend [-n N] [--json]`: the next tracks for the current or last session.
pub(crate) fn recommend(ctx: &Context, n: usize, json: bool) -> anyhow::Result<()> {
    let db = ctx.open_database()?;
    let log = ListeningLog::load(&db, &[])?;
    let candidates = library_candidates(&db, &log)?;
    let session: Vec<(i64, bool)> = log
        .sessions()
        .last()
        .map(|s| s.iter().map(|p| (p.track_id, p.skipped)).collect())
        .unwrap_or_default();
    let mut filters = Filters::from_config(&ctx.config.recommend, n);
    filters.recent = log.recent(ctx.config.recommend.exclude_recent);
    let recommender = match Recommender::load(&ctx.paths.models_dir()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipless: warning: {e}; using the fallback ranking");
            None
        }
    };
    let (source, ranked) = match recommender {
        Some(mut r) => {
            r.replay(&log);
            ("model", r.rank(&session, &candidates, &filters)?)
        }
        None => ("fallback", fallback_rank(&session, &candidates, &log, &filters)),
    };
    let by_id: std::collections::HashMap<i64, &Track> = candidates.iter().map(|c| (c.id, &**c)).collect();
    if json {
        let items: Vec<_> = ranked
            .iter()
            .map(|s| {
                let c = by_id.get(&s.track_id);
                serde_json::json!({
                    "track_id": s.track_id,
                    "artist": c.and_then(|c| c.artist.clone()),
                    "title": c.map(|c| c.title.clone()),
                    "score": s.score,
                    "reason": s.reason,
                })
            })
            .collect();
        // Picks of tracks the listener has never played: a ranking that only repeats shows as 0.
        let counts = log.counts();
        let never_played = ranked.iter().filter(|s| !counts.contains_key(&s.track_id)).count();
        let share = never_played as f64 / ranked.len().max(1) as f64;
        outln!(
            "{}",
            serde_json::json!({ "source": source, "recommendations": items, "never_played_share": share })
        )?;
    } else {
        if ranked.is_empty() {
            outln!("nothing to recommend: the library is empty or everything is filtered out")?;
        }
        for (i, s) in ranked.iter().enumerate() {
            let name = by_id.get(&s.track_id).map(|c| c.display_name()).unwrap_or_default();
            outln!(
                "{:>3}. {:>8.3}  {}  ({})",
                i + 1,
                s.score,
                truncate(&name, 60),
                s.reason
            )?;
        }
    }
    Ok(())
}
