//! The `eval`, `train` and `recommend` subcommands: argument handling and output only.

use std::io::IsTerminal;
use std::path::PathBuf;

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::cli::{open_database, progress_bar, truncate, RunContext};

use super::checkpoint::Checkpoint;
use super::eval::{run_eval, EvalData, EvalOptions, EvalReport};
use super::infer::{fallback_rank, CandidateTrack, Filters, Recommender};
use super::log::{library_candidates, train_from_log, ListeningLog};
use super::train::TrainConfig;

/// `skipless eval --history FILE_OR_DIR... [--json]`.
pub fn eval(paths: &[PathBuf], json: bool) -> anyhow::Result<()> {
    let plays = crate::history::read_paths(paths)?;
    let name = paths
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string())
        })
        .collect::<Vec<_>>()
        .join("+");
    let data = EvalData::from_plays(&name, &plays);
    let bar = progress_bar(0, "training");
    let report = run_eval(&data, &EvalOptions::default(), &mut |model, p| {
        if p.val_ndcg.is_none() {
            bar.set_length((p.steps * p.epochs) as u64);
            bar.set_position(((p.epoch - 1) * p.steps + p.step) as u64);
        }
        if let Some(v) = p.val_ndcg.filter(|_| std::env::var_os("SKIPLESS_TRACE").is_some()) {
            eprintln!("{model} epoch {} val ndcg@10 {v:.4}", p.epoch);
        }
        if std::io::stderr().is_terminal() {
            bar.set_message(format!("{model} e{}", p.epoch));
        }
    })?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &EvalReport) {
    println!(
        "{}: {} plays, {} sessions ({} train), {} tracks; test positions: {} listened, {} skipped",
        r.dataset, r.plays, r.sessions, r.train_sessions, r.tracks, r.test_listened, r.test_skipped
    );
    println!(
        "{:<14} {:>7} {:>8} {:>7} {:>9} {:>8}",
        "model", "HR@10", "NDCG@10", "MRR", "skip-MRR", "train s"
    );
    for m in &r.models {
        println!(
            "{:<14} {:>7.4} {:>8.4} {:>7.4} {:>9.4} {:>8.1}",
            m.name, m.hr10, m.ndcg10, m.mrr, m.skip_mrr, m.train_s
        );
    }
    for note in &r.notes {
        println!("  {note}");
    }
}

/// `skipless train [--json]`: trains on the local log and saves the model under `models/`.
pub fn train(ctx: &RunContext, json: bool) -> anyhow::Result<()> {
    let db = open_database(ctx)?;
    let log = ListeningLog::load(&db)?;
    let min_plays = ctx.config.recommend.min_plays;
    if (log.plays.len() as u64) < min_plays {
        anyhow::bail!(
            "{} finished plays in the log; training needs at least {min_plays} (recommend.min_plays)",
            log.plays.len()
        );
    }
    let models_dir = ctx.paths.models_dir();
    let previous = match Checkpoint::load(&models_dir) {
        Ok(previous) => previous,
        Err(e) => {
            eprintln!("skipless: warning: {e}; training from scratch");
            None
        }
    };
    let bar = progress_bar(0, "training");
    let cancel = AtomicBool::new(false);
    let start = Instant::now();
    let checkpoint = train_from_log(
        &log,
        previous.as_ref(),
        &TrainConfig::default(),
        &mut |p| {
            if p.val_ndcg.is_none() {
                bar.set_length((p.steps * p.epochs) as u64);
                bar.set_position(((p.epoch - 1) * p.steps + p.step) as u64);
            }
        },
        &cancel,
    )?
    .checkpoint;
    bar.finish_and_clear();
    let path = checkpoint.save(&models_dir)?;
    let v = checkpoint.meta.validation;
    if json {
        let out = serde_json::json!({
            "model": path.display().to_string(),
            "plays": checkpoint.meta.plays_seen,
            "tracks": checkpoint.meta.vocab.len(),
            "best_epoch": checkpoint.meta.best_epoch,
            "hr@10": v.hr10,
            "ndcg@10": v.ndcg10,
            "mrr": v.mrr,
            "skip_mrr": v.skip_mrr,
            "train_s": start.elapsed().as_secs_f64(),
        });
        println!("{out}");
    } else {
        println!(
            "trained on {} plays of {} tracks in {:.1} s (best epoch {}); validation: HR@10 {:.4}, NDCG@10 {:.4}, MRR {:.4}, skip-MRR {:.4}",
            checkpoint.meta.plays_seen,
            checkpoint.meta.vocab.len(),
            start.elapsed().as_secs_f64(),
            checkpoint.meta.best_epoch,
            v.hr10,
            v.ndcg10,
            v.mrr,
            v.skip_mrr
        );
        println!("saved {}", path.display());
    }
    Ok(())
}

/// `skipless recommend [-n N] [--json]`: the next tracks for the current or last session.
pub fn recommend(ctx: &RunContext, n: usize, json: bool) -> anyhow::Result<()> {
    let db = open_database(ctx)?;
    let log = ListeningLog::load(&db)?;
    let candidates = library_candidates(&db)?;
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
    let by_id: std::collections::HashMap<i64, &CandidateTrack> = candidates.iter().map(|c| (c.track_id, c)).collect();
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
        println!("{}", serde_json::json!({ "source": source, "recommendations": items }));
    } else {
        if ranked.is_empty() {
            println!("nothing to recommend: the library is empty or everything is filtered out");
        }
        for (i, s) in ranked.iter().enumerate() {
            let name = by_id.get(&s.track_id).map(|c| c.display_name()).unwrap_or_default();
            println!(
                "{:>3}. {:>8.3}  {}  ({})",
                i + 1,
                s.score,
                truncate(&name, 60),
                s.reason
            );
        }
    }
    Ok(())
}
