//! The command line ([`Cli`], [`Command`]) and the subcommands that need no UI.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::db::Database;
use crate::library::scan::{self, ScanProgress};
use crate::paths::Paths;

#[derive(Debug, Parser)]
#[command(
    name = "skipless",
    version,
    about = "A terminal music player that learns from your skips"
)]
pub struct Cli {
    /// Folder for the database and models (default: the platform data dir).
    #[arg(long, global = true, env = "SKIPLESS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (default: config.toml in the platform config dir).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Audio output: auto, device or null (silent, real time; SKIPLESS_NULL_SPEED speeds it up).
    #[arg(long, global = true, value_enum)]
    pub audio: Option<AudioArg>,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Music folders to scan before opening the player.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index music folders (a bare `scan` rescans the known library roots).
    Scan {
        paths: Vec<PathBuf>,
        /// Print one JSON object with the counts.
        #[arg(long)]
        json: bool,
    },
    /// List the indexed tracks.
    Library {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Play files or folders without the UI: line commands on stdin, one line per event on stdout.
    Play {
        /// One JSON object per event.
        #[arg(long)]
        json: bool,
        /// After the given tracks, keep playing recommended tracks (and retrain as the TUI does).
        #[arg(long)]
        autoplay: bool,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Show the listening log, newest first.
    History {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// How many plays to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Totals, top tracks and artists, most-skipped tracks.
    Stats {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Closed-loop test of autoplay against a listener built from a real listening history.
    Simulate {
        /// History files or folders (Spotify exports).
        #[arg(long, required = true, num_args = 1..)]
        history: Vec<PathBuf>,
        /// Simulated plays per policy.
        #[arg(long, default_value_t = 2000)]
        plays: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the recommenders on Spotify listening-history exports (the fixed protocol).
    Eval {
        /// History files or folders (Streaming_History_Audio_*.json, endsong_*.json, StreamingHistory*.json).
        #[arg(long, required = true, num_args = 1..)]
        history: Vec<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Train the recommender on the listening log and save it in the data dir.
    Train {
        /// Print the validation metrics as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Write the listening log in a standard format (to stdout unless --out).
    Export {
        #[arg(long, value_enum)]
        format: crate::logio::ExportFormat,
        /// Write to this file, with a progress bar on a terminal.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Plays started on or after this date (YYYY-MM-DD, UTC) or RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Plays started on or before this date (YYYY-MM-DD, UTC) or before this RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
    },
    /// Bring plays from another service's history into the log.
    Import {
        #[command(subcommand)]
        source: crate::logio::commands::ImportCommand,
    },
    /// Recommend the next tracks for the current or last session.
    Recommend {
        /// How many tracks.
        #[arg(short = 'n', default_value_t = 10)]
        n: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// `--audio` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AudioArg {
    Auto,
    Device,
    Null,
}

impl From<AudioArg> for crate::config::AudioOutput {
    fn from(arg: AudioArg) -> Self {
        match arg {
            AudioArg::Auto => Self::Auto,
            AudioArg::Device => Self::Device,
            AudioArg::Null => Self::Null,
        }
    }
}

/// Everything a subcommand needs from the global options.
pub struct RunContext {
    pub paths: Paths,
    pub config: Config,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let paths = Paths::resolve(cli.data_dir, cli.config)?;
    let mut config = Config::load(&paths.config_file)?;
    if let Some(audio) = cli.audio {
        config.playback.audio = audio.into();
    }
    let ctx = RunContext { paths, config };
    match cli.command {
        Some(Command::Scan { paths, json }) => run_scan(&ctx, &paths, json),
        Some(Command::Library { json }) => run_library(&ctx, json),
        Some(Command::Simulate {
            history,
            plays,
            seed,
            json,
        }) => run_simulate(&ctx, &history, plays, seed, json),
        Some(Command::Eval { history, json }) => crate::recommend::commands::eval(&history, json),
        Some(Command::Train { json }) => crate::recommend::commands::train(&ctx, json),
        Some(Command::Recommend { n, json }) => crate::recommend::commands::recommend(&ctx, n, json),
        Some(Command::Play { json, autoplay, paths }) => crate::headless::run(&ctx, &paths, json, autoplay),
        Some(Command::History { json, limit }) => run_history(&ctx, json, limit),
        Some(Command::Stats { json }) => run_stats(&ctx, json),
        Some(Command::Export {
            format,
            out,
            since,
            until,
        }) => crate::logio::commands::export(&ctx, format, out.as_deref(), since.as_deref(), until.as_deref()),
        Some(Command::Import { source }) => crate::logio::commands::import(&ctx, &source),
        None => crate::app::tui::run(&ctx, cli.paths),
    }
}

/// Sends the `tracing` lines of a player run (MPRIS on or off, warnings of background threads)
/// to `path`, appended, so they never write over the screen. A log that cannot be opened is
/// left out: it is a diagnostic aid, not a reason to refuse to play.
pub fn start_log_file(path: &std::path::Path) {
    let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).open(path) else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .try_init();
}

/// Opens the database in the data dir, creating both if needed.
pub fn open_database(ctx: &RunContext) -> anyhow::Result<Database> {
    ctx.paths.ensure_data_dir()?;
    Ok(Database::open(&ctx.paths.database())?)
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
pub fn progress_bar(len: u64, message: &'static str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    let style = indicatif::ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message);
    bar
}

fn run_scan(ctx: &RunContext, paths: &[PathBuf], json: bool) -> anyhow::Result<()> {
    let mut db = open_database(ctx)?;
    let roots = if paths.is_empty() {
        crate::db::tracks::roots(db.conn()).map_err(|e| db.err(e))?
    } else {
        paths.to_vec()
    };
    if roots.is_empty() {
        anyhow::bail!("no library roots yet: give the folders to scan, e.g. `skipless scan ~/Music`");
    }
    let bar = progress_bar(0, "scanning");
    let report = scan::scan(&mut db, &roots, &|p| match p {
        ScanProgress::Walking { found } => bar.set_message(if found > 0 { "walking" } else { "scanning" }),
        ScanProgress::Reading { done, total } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message("reading");
        }
    })?;
    bar.finish_and_clear();
    let matched = crate::logio::rematch::match_unmatched(&mut db)?;
    for error in &report.walk_errors {
        eprintln!("skipless: warning: {error}");
    }
    for (path, reason) in &report.failed_files {
        eprintln!("skipless: cannot read {}: {reason}", path.display());
    }
    let s = report.summary;
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "scanned {} files: {} added, {} updated, {} unchanged, {} removed, {} failed",
            s.scanned, s.added, s.updated, s.unchanged, s.removed, s.failed
        );
        if matched > 0 {
            println!("{matched} imported plays matched to library tracks");
        }
    }
    Ok(())
}

fn run_library(ctx: &RunContext, json: bool) -> anyhow::Result<()> {
    let db = open_database(ctx)?;
    let tracks = crate::db::tracks::all_tracks(db.conn()).map_err(|e| db.err(e))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for track in &tracks {
        if json {
            serde_json::to_writer(&mut out, track)?;
            writeln!(out)?;
        } else {
            let duration = track.duration_ms.map(format_duration).unwrap_or_else(|| "--:--".into());
            writeln!(
                out,
                "{:>6}  {:<30}  {:<30}  {:<30}  {duration}",
                track.id,
                truncate(track.artist.as_deref().unwrap_or("Unknown artist"), 30),
                truncate(track.album.as_deref().unwrap_or(""), 30),
                truncate(&track.title, 30),
            )?;
        }
    }
    out.flush().context("writing to stdout")?;
    Ok(())
}

/// "m:ss" (or "h:mm:ss") for a duration in milliseconds.
pub fn format_duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Cuts `s` to at most `width` characters, marking the cut with "…".
pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// RFC 3339 UTC time for Unix milliseconds.
pub fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn run_history(ctx: &RunContext, json: bool, limit: usize) -> anyhow::Result<()> {
    let db = open_database(ctx)?;
    let rows = crate::db::plays::history(db.conn(), limit).map_err(|e| db.err(e))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for row in &rows {
        if json {
            let mut value = serde_json::to_value(row)?;
            value["started_at"] = format_time(row.started_at).into();
            value["ended_at"] = row.ended_at.map(format_time).into();
            serde_json::to_writer(&mut out, &value)?;
            writeln!(out)?;
        } else {
            let mark = if row.skipped { "skip" } else { "    " };
            writeln!(
                out,
                "{}  {mark}  {:<11} {:>5}/{:<5}  {} – {}",
                format_time(row.started_at),
                row.end_reason.as_deref().unwrap_or("playing"),
                format_duration(row.played_ms),
                row.duration_ms.map(format_duration).unwrap_or_else(|| "--:--".into()),
                row.artist.as_deref().unwrap_or("Unknown artist"),
                row.title,
            )?;
        }
    }
    out.flush().context("writing to stdout")?;
    Ok(())
}

fn run_stats(ctx: &RunContext, json: bool) -> anyhow::Result<()> {
    let db = open_database(ctx)?;
    let rule = crate::log::SkipRule::from_config(&ctx.config.log);
    let stats = crate::db::plays::stats(db.conn(), &rule, 10).map_err(|e| db.err(e))?;
    if json {
        println!("{}", serde_json::to_string(&stats)?);
        return Ok(());
    }
    println!("{}", stats.summary());
    println!("\nTop tracks (listens):");
    for t in &stats.top_tracks {
        println!("  {:>4}  {}", t.count, t.name());
    }
    println!("\nTop artists (listens):");
    for a in &stats.top_artists {
        println!("  {:>4}  {}", a.count, a.artist);
    }
    println!("\nMost skipped:");
    for t in &stats.most_skipped {
        println!("  {:>4}  {}", t.count, t.name());
    }
    Ok(())
}

fn run_simulate(ctx: &RunContext, history: &[PathBuf], plays: usize, seed: u64, json: bool) -> anyhow::Result<()> {
    let work_dir = std::env::temp_dir().join(format!("skipless-simulate-{}", std::process::id()));
    let bar = progress_bar((plays * 3) as u64, "simulating");
    let mut done_before = 0;
    let mut last_policy = "";
    let result = crate::simulate::run_simulation(history, plays, seed, &ctx.config, &work_dir, &mut |policy, n| {
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
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("{} plays per policy over {} tracks", report.plays, report.tracks);
    println!("{:<10} {:>10} {:>14}  per 100 plays", "policy", "skip rate", "last 500");
    for p in &report.policies {
        let windows: Vec<String> = p.windows.iter().map(|w| format!("{w:.2}")).collect();
        println!(
            "{:<10} {:>10.3} {:>14.3}  {}",
            p.name,
            p.skip_rate,
            p.skip_rate_last_500,
            windows.join(" ")
        );
    }
    Ok(())
}
