//! `skipless train`: trains the recommender on the listening log and saves the model.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::progress_bar;
use crate::app::Context;
use crate::recommend::checkpoint::Checkpoint;
use crate::recommend::log::{failed_play_count, train_from_log, ListeningLog, Settled};
use crate::recommend::train::{TrainConfig, TrainStage};
use crate::recommend::RecommendError;

/// What an interrupted training run leaves.
const INTERRUPTED: &str = "training interrupted: the model in use is unchanged";

/// `skipless train [--json] [--force]`: trains on the local log and saves the model under
/// `models/` when its served ranking is at least as good as the current model's on the same
/// validation slice (or with `--force`).
pub(crate) fn train(ctx: &Context, json: bool, force: bool) -> anyhow::Result<()> {
    // An interrupt ends training between two steps, before anything is saved; before the first
    // step (the log read, the features built), nothing is under way to end cleanly: it ends at
    // once.
    let cancel = Arc::new(AtomicBool::new(false));
    let stepping = Arc::new(AtomicBool::new(false));
    let interrupted_by = Arc::new(AtomicI32::new(0));
    super::on_interrupt({
        let (cancel, stepping, interrupted_by) = (cancel.clone(), stepping.clone(), interrupted_by.clone());
        move |signal| {
            interrupted_by.store(signal, Ordering::SeqCst);
            cancel.store(true, Ordering::SeqCst);
            if !stepping.load(Ordering::SeqCst) {
                super::say_interrupted(INTERRUPTED);
                std::process::exit(128 + signal);
            }
        }
    })?;
    // Until the first step's bar, a spinner: reading a long log and building its features take
    // a while.
    let preparing = super::progress_bar(
        indicatif::ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        "reading the listening log",
        0,
        0,
    )
    .with_finish(indicatif::ProgressFinish::AndClear);
    preparing.enable_steady_tick(std::time::Duration::from_millis(120));
    let db = ctx.open_database_there()?;
    let log = ListeningLog::load(&db, &[])?;
    preparing.set_message("building the history features");
    let failed_plays = failed_play_count(&db)?;
    if let Some(why) = log.too_short_to_train(ctx.config.recommend.min_plays) {
        anyhow::bail!("{why} (recommend.min_plays)");
    }
    let models_dir = ctx.paths.models_dir();
    let previous = match Checkpoint::load(&models_dir) {
        Ok(previous) => previous,
        Err(e) => {
            preparing.suspend(|| eprintln!("skipless: warning: {e}; training from scratch"));
            None
        }
    };
    // Early stopping ends a stage before its last epoch: the bar counts steps of the most a
    // stage may take, with no time left that it could not keep to.
    let style = indicatif::ProgressStyle::with_template("training {msg} [{bar:20}] {pos}/{len} steps at most")
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| super::bar_style());
    // One bar per stage, drawn first with the stage's name and count.
    let mut bar: Option<(TrainStage, indicatif::ProgressBar)> = None;
    let start = Instant::now();
    let trained = train_from_log(
        &log,
        previous.as_ref(),
        &TrainConfig::default(),
        &mut |p| {
            if !stepping.swap(true, Ordering::SeqCst) {
                preparing.finish_and_clear();
            }
            if p.val_ndcg.is_some() {
                return;
            }
            let (len, position) = ((p.steps * p.epochs) as u64, ((p.epoch - 1) * p.steps + p.step) as u64);
            match &bar {
                Some((stage, bar)) if *stage == p.stage => {
                    bar.set_length(len);
                    bar.set_position(position);
                }
                _ => {
                    if let Some((_, old)) = bar.take() {
                        old.finish_and_clear();
                    }
                    bar = Some((p.stage, progress_bar(style.clone(), p.stage.label(), position, len)));
                }
            }
        },
        &cancel,
    );
    preparing.finish_and_clear();
    if let Some((_, bar)) = bar {
        bar.finish_and_clear();
    }
    // An interrupt after the last step, while the run is judged, still saves nothing.
    let mut trained = match trained {
        Err(RecommendError::Cancelled) => None,
        _ if cancel.load(Ordering::SeqCst) => None,
        trained => Some(trained?),
    }
    .unwrap_or_else(|| {
        super::say_interrupted(INTERRUPTED);
        std::process::exit(128 + interrupted_by.load(Ordering::SeqCst));
    });
    let settled = trained.settle(&models_dir, force)?;
    // A running player reads the file whenever it changed: a new model, or the current one
    // saved again as it was judged; before the run is recorded, which can fail apart.
    if settled.wrote() {
        super::tell_running_player(ctx);
    }
    let path = match settled {
        Settled::Saved(path) => Some(path),
        Settled::KeptAsJudged | Settled::Kept => None,
    };
    let keep = path.is_some();
    let checkpoint = &trained.checkpoint;
    trained.record(&db, keep, start.elapsed().as_millis() as u64, "cli")?;
    let v = checkpoint.meta.validation;
    let old = trained.previous_validation;
    if json {
        let out = serde_json::json!({
            "model": path.as_ref().map(|p| p.display().to_string()),
            "saved": keep,
            "previous_ndcg@10": old.map(|m| m.ndcg10),
            "transformer_kept": checkpoint.meta.transformer_kept,
            "plays": checkpoint.meta.plays_seen,
            "failed_plays": failed_plays,
            "tracks": checkpoint.meta.vocab.len(),
            "best_epoch": checkpoint.meta.best_epoch,
            "hr@10": v.hr10,
            "ndcg@10": v.ndcg10,
            "mrr": v.mrr,
            "skip_mrr": v.skip_mrr,
            "train_s": start.elapsed().as_secs_f64(),
        });
        outln!("{out}")?;
    } else {
        // The best epoch is the Transformer stage's: a model of the features alone kept none of it.
        let best_epoch = match checkpoint.meta.transformer_kept {
            true => format!(" (best epoch {})", checkpoint.meta.best_epoch),
            false => String::new(),
        };
        let failed = match failed_plays {
            0 => String::new(),
            n => format!(" ({} left out)", crate::fmt::count(n, "failed play")),
        };
        outln!(
            "trained on {}{failed} of {} in {:.1} s{best_epoch}; validation: HR@10 {:.4}, NDCG@10 {:.4}, MRR {:.4}, skip-MRR {:.4}",
            crate::fmt::count(checkpoint.meta.plays_seen, "play"),
            crate::fmt::count(checkpoint.meta.vocab.len() as u64, "track"),
            start.elapsed().as_secs_f64(),
            v.hr10,
            v.ndcg10,
            v.mrr,
            v.skip_mrr
        )?;
        outln!(
            "{}",
            if checkpoint.meta.transformer_kept {
                "the model ranks by the history features and the Transformer's terms"
            } else {
                "the model ranks by the history features alone: with the Transformer's terms it ranked no better on validation"
            }
        )?;
        if let Some(old) = old {
            outln!(
                "the current model on the same validation slice: HR@10 {:.4}, NDCG@10 {:.4}, MRR {:.4}, skip-MRR {:.4}",
                old.hr10,
                old.ndcg10,
                old.mrr,
                old.skip_mrr
            )?;
        }
        match &path {
            Some(path) => outln!("saved {}", path.display())?,
            None => outln!("kept the current model: it ranks better on validation (--force saves the new one)")?,
        }
    }
    Ok(())
}
