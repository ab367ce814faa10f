//! `skipless eval`: the fixed evaluation protocol on listening-history exports.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::progress_bar;
use crate::recommend::eval::{run_eval, EvalData, EvalOptions, EvalReport};

/// `skipless eval --history FILE_OR_DIR... [--json] [--seeds 0,1,2]`.
pub(crate) fn eval(paths: &[PathBuf], json: bool, seeds: Vec<u64>) -> anyhow::Result<()> {
    if seeds.is_empty() {
        anyhow::bail!("--seeds: give at least one seed");
    }
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
    let bar = progress_bar(super::bar_style(), "training", 0, 0);
    let options = EvalOptions {
        seeds,
        ..EvalOptions::default()
    };
    let report = run_eval(&data, &options, &mut |model, p| {
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
        outln!("{}", serde_json::to_string(&report)?)?;
    } else {
        print_report(&report)?;
    }
    Ok(())
}

fn print_report(r: &EvalReport) -> Result<(), super::StdoutError> {
    outln!(
        "{}: {} plays, {} sessions ({} train), {} tracks; test positions: {} listened, {} skipped",
        r.dataset,
        r.plays,
        r.sessions,
        r.train_sessions,
        r.tracks,
        r.test_listened,
        r.test_skipped
    )?;
    outln!(
        "learned rows: mean of seeds {:?}; sd: their standard deviation",
        r.seeds
    )?;
    outln!(
        "{:<24} {:>7} {:>8} {:>7} {:>9} {:>8}  train s",
        "model",
        "HR@10",
        "NDCG@10",
        "sd",
        "MRR",
        "skip-MRR"
    )?;
    for m in &r.models {
        outln!(
            "{:<24} {:>7.4} {:>8.4} {:>7.4} {:>9.4} {:>8.4}  {:.1}",
            m.name,
            m.hr10,
            m.ndcg10,
            m.ndcg10_sd,
            m.mrr,
            m.skip_mrr,
            m.train_s
        )?;
    }
    for m in &r.models {
        if let Some(ci) = &m.ci95 {
            outln!(
                "skipless - {}: NDCG@10 95% interval [{:+.4}, {:+.4}], skip-MRR [{:+.4}, {:+.4}] (paired bootstrap over test sessions)",
                m.name, ci.ndcg10[0], ci.ndcg10[1], ci.skip_mrr[0], ci.skip_mrr[1]
            )?;
        }
    }
    for note in &r.notes {
        outln!("  {note}")?;
    }
    Ok(())
}
