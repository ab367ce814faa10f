//! Makes mutated copies of the corpus and plays them through the real binary.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example mutate -- OUT_DIR [--count 1000] [--seed 1] [--run]
//! ```
//!
//! Without `--run` it only writes the files (and `OUT_DIR/manifest.tsv`). With `--run` it then
//! scans them all with `skipless scan` and plays each one with `skipless play --audio null`
//! followed by a good track, with a time limit per file, and prints the figures: files tried,
//! crashes, hangs, panics, bad files not logged with a reason, plays after which playback did not
//! go on. It exits non-zero when any of those is not zero.
//!
//! Other options: `--corpus DIR` (default `tests/fixtures/corpus`), `--bin PATH` (default the
//! `skipless` beside this example's build), `--speed N` (null output speed, default 500),
//! `--time-limit SECS` (per file, default 20), `--batch N` (files per player process, default 1).

mod driver;
mod mutations;

use std::path::PathBuf;
use std::time::Duration;

fn main() {
    if let Err(e) = run() {
        eprintln!("mutate: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut out: Option<PathBuf> = None;
    let mut count = 1000usize;
    let mut seed = 1u64;
    let mut run = false;
    let mut corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut bin: Option<PathBuf> = None;
    let mut speed = 500.0;
    let mut time_limit = 20.0;
    let mut batch = 1usize;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| v.parse::<f64>().map_err(|_| format!("{name}: not a number: {v}"));
        match arg.as_str() {
            "--count" => count = number("--count", value("--count")?)? as usize,
            "--seed" => seed = number("--seed", value("--seed")?)? as u64,
            "--run" => run = true,
            "--corpus" => corpus = PathBuf::from(value("--corpus")?),
            "--bin" => bin = Some(PathBuf::from(value("--bin")?)),
            "--speed" => speed = number("--speed", value("--speed")?)?,
            "--time-limit" => time_limit = number("--time-limit", value("--time-limit")?)?,
            "--batch" => batch = number("--batch", value("--batch")?)? as usize,
            "-h" | "--help" => {
                println!("usage: mutate OUT_DIR [--count N] [--seed S] [--run] [--corpus DIR] [--bin PATH] [--speed N] [--time-limit SECS] [--batch N]");
                return Ok(());
            }
            a if a.starts_with('-') => return Err(format!("unknown option {a}")),
            a => out = Some(PathBuf::from(a)),
        }
    }
    let out = out.ok_or("give the output folder: mutate OUT_DIR")?;
    let files = out.join("files");
    if files.exists() {
        std::fs::remove_dir_all(&files).map_err(|e| format!("{}: {e}", files.display()))?;
    }
    let mutants =
        mutations::generate(&corpus, &files, count, seed).map_err(|e| format!("{}: {e}", corpus.display()))?;
    println!("wrote {} mutated files to {}", mutants.len(), files.display());
    if !run {
        return Ok(());
    }
    let bin = match bin {
        Some(bin) => bin,
        None => {
            // target/<profile>/examples/mutate -> target/<profile>/skipless
            let me = std::env::current_exe().map_err(|e| e.to_string())?;
            me.parent()
                .and_then(|p| p.parent())
                .map(|p| p.join("skipless"))
                .ok_or("cannot find the skipless binary: pass --bin")?
        }
    };
    if !bin.exists() {
        return Err(format!(
            "{}: no such binary (cargo build --release first)",
            bin.display()
        ));
    }
    let data_dir = out.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    }
    let options = driver::Options {
        bin,
        data_dir,
        sentinel: corpus.join("victory.ogg"),
        speed,
        time_limit: Duration::from_secs_f64(time_limit),
        batch,
        verbose: true,
    };
    let started = std::time::Instant::now();
    let report = driver::run(&options, &files, &mutants).map_err(|e| e.to_string())?;
    println!("{}", report.summary());
    println!("took {:.0} s", started.elapsed().as_secs_f64());
    if !report.is_clean() {
        std::process::exit(1);
    }
    Ok(())
}
