//! `skipless simulate`: autoplay against a listener built from a real history.

use std::path::PathBuf;

use super::progress_bar;
use crate::app::simulate::run_simulation;
use crate::app::Context;

/// `skipless simulate --history FILE_OR_DIR... [--plays N] [--seed S] [--json]`.
pub(crate) fn run(ctx: &Context, history: &[PathBuf], plays: usize, seed: u64, json: bool) -> anyhow::Result<()> {
    let work_dir = std::env::temp_dir().join(format!("skipless-simulate-{}", std::process::id()));
    // The simulated listeners' data dirs go with an interrupt too.
    let left_behind = work_dir.clone();
    super::on_interrupt(move |signal| {
        // The run goes on writing there meanwhile: a removal that meets a new file tries again.
        for _ in 0..20 {
            if std::fs::remove_dir_all(&left_behind).is_ok() || !left_behind.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        super::say_interrupted("simulation interrupted: nothing of it is kept");
        std::process::exit(128 + signal);
    })?;
    let bar = progress_bar(super::bar_style(), "simulating", 0, (plays * 3) as u64);
    let mut done_before = 0;
    let mut last_policy = "";
    let result = run_simulation(history, plays, seed, &ctx.config, &work_dir, &mut |policy, n| {
        if policy != last_policy {
            if !last_policy.is_empty() {
                done_before += plays;
            }
            last_policy = policy;
            bar.set_message(policy);
        }
        bar.set_position((done_before + n) as u64);
    });
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&work_dir);
    let report = result?;
    if json {
        outln!("{}", serde_json::to_string(&report)?)?;
        return Ok(());
    }
    outln!("{} plays per policy over {} tracks", report.plays, report.tracks)?;
    outln!(
        "{:<10} {:>10} {:>9} {:>13}  skip rate per 100 plays",
        "policy",
        "skip rate",
        // The last 500 plays, or all of a shorter run.
        format!("last {}", report.plays.min(500)),
        "never played"
    )?;
    for p in &report.policies {
        let windows: Vec<String> = p.windows.iter().map(|w| format!("{w:.2}")).collect();
        outln!(
            "{:<10} {:>10.3} {:>9.3} {:>13.3}  {}",
            p.name,
            p.skip_rate,
            p.skip_rate_last_500,
            p.never_played_share,
            windows.join(" ")
        )?;
    }
    Ok(())
}
