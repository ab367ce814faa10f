//! `skipless recommend`: what would play next, with scores and reasons.

use crate::app::autoplay::{AutoplayCore, RankedBy};
use crate::app::controller::HISTORY_KEPT;
use crate::app::Context;
use crate::fmt::truncate;
use crate::track::Track;

/// `skipless recommend [-n N] [--json]`: the next tracks, ranked by autoplay's own ranking, as a
/// player started now would queue them: for the session it would carry on (the last one, if it
/// was active within the session gap), else for a new session.
pub(crate) fn recommend(ctx: &Context, n: usize, json: bool) -> anyhow::Result<()> {
    let db = ctx.open_existing_database()?;
    let now = crate::clock::now_ms();
    // A running player's track is the session's last, as the player ranks (and never picks it).
    let session = crate::db::plays::open_session_to_rank(db.conn(), now, ctx.config.log.session_gap_ms(), HISTORY_KEPT)
        .map_err(|e| db.err(e))?;
    let config = &ctx.config.recommend;
    let core = AutoplayCore::new(db, ctx.paths.models_dir(), config.clone())?;
    if let Some(why) = core.model_refused() {
        eprintln!("skipless: warning: {why}; using the fallback ranking until skipless train replaces the model");
    }
    let log = core.log();
    let (source, ranked) = core.rank(&session, &crate::app::autoplay::NotToPick::default(), n, now, None);
    let by_id: std::collections::HashMap<i64, &Track> = core.candidates().iter().map(|c| (c.id, &**c)).collect();
    if json {
        let items: Vec<_> = ranked
            .iter()
            .map(|s| {
                let c = by_id.get(&s.track_id);
                serde_json::json!({
                    "track_id": s.track_id,
                    "artist": c.and_then(|c| c.artist.clone()),
                    "title": c.map(|c| c.title.clone()),
                    // What `remote queue` and `play` take.
                    "path": c.map(|c| c.path.to_string_lossy()),
                    // The fallback's scores only order its picks: none is given for them.
                    "score": (source == RankedBy::Model).then_some(s.score),
                    "reason": s.reason,
                })
            })
            .collect();
        // Picks of songs the listener has never played (through any of their files): a ranking
        // that only repeats shows as 0, and no picks as none.
        let played: std::collections::HashSet<String> = log
            .counts()
            .keys()
            .filter_map(|&id| log.tracks.get(id))
            .map(|t| crate::recommend::data::item_key_of(t))
            .collect();
        let never_played = ranked
            .iter()
            .filter(|s| {
                by_id
                    .get(&s.track_id)
                    .is_none_or(|t| !played.contains(&crate::recommend::data::item_key_of(t)))
            })
            .count();
        let share = (!ranked.is_empty()).then(|| never_played as f64 / ranked.len() as f64);
        outln!(
            "{}",
            serde_json::json!({ "source": source.as_str(), "recommendations": items, "never_played_share": share })
        )?;
    } else {
        if ranked.is_empty() {
            outln!("nothing to recommend: the library is empty or everything is filtered out")?;
        }
        for (i, s) in ranked.iter().enumerate() {
            let name = by_id.get(&s.track_id).map(|c| c.display_name()).unwrap_or_default();
            // The fallback's scores only order its picks: no number is shown for them.
            let score = match source {
                RankedBy::Model => format!("{:>8.3}", s.score),
                RankedBy::Fallback => format!("{:>8}", "·"),
            };
            outln!("{:>3}. {score}  {}  ({})", i + 1, truncate(&name, 60), s.reason)?;
        }
        if (1..n).contains(&ranked.len()) {
            // Banned tracks are no candidates; the track last played is never picked.
            let candidates = core.candidates().len();
            // The artist limit spreads the picks, and gives way once every artist had its turn.
            let why = if candidates <= ranked.len() + 1 {
                format!(
                    "the library has {} to pick from, banned ones left out",
                    crate::fmt::count(candidates as u64, "track")
                )
            } else {
                "the others are other files of songs picked, or the track last played".to_owned()
            };
            outln!("only {} of {n}: {why}", ranked.len())?;
        }
    }
    Ok(())
}
