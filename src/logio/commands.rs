//! `skipless export` and `skipless import` ([`export`], [`import`], [`ImportCommand`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use super::export::{self, ExportFormat, ExportOptions, TimeRange};
use super::import::{self, ImportCounts};
use crate::cli::{open_database, progress_bar, RunContext};
use crate::log::SkipRule;

/// `skipless import` sources.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Spotify histories: Streaming_History_Audio_*.json, endsong_*.json, StreamingHistory*.json, or folders of them.
    Spotify {
        #[arg(required = true, value_name = "FILE_OR_DIR")]
        paths: Vec<PathBuf>,
        /// Print one JSON object with the counts.
        #[arg(long)]
        json: bool,
    },
    /// A ListenBrainz export: one listen (JSON object) per line.
    Listenbrainz {
        file: PathBuf,
        /// Print one JSON object with the counts.
        #[arg(long)]
        json: bool,
    },
}

fn gap_ms(ctx: &RunContext) -> i64 {
    (ctx.config.log.session_gap_minutes as i64).saturating_mul(60_000)
}

/// The options of an export of the whole log or of `since..until`.
pub fn options(
    ctx_config: &crate::config::Config,
    format: ExportFormat,
    since: Option<&str>,
    until: Option<&str>,
) -> anyhow::Result<ExportOptions> {
    let mut range = TimeRange::default();
    if let Some(since) = since {
        range.since = export::parse_time(since, false)?;
    }
    if let Some(until) = until {
        range.until = export::parse_time(until, true)?;
    }
    Ok(ExportOptions {
        format,
        range,
        rule: SkipRule::from_config(&ctx_config.log),
        session_gap_ms: (ctx_config.log.session_gap_minutes as i64).saturating_mul(60_000),
    })
}

/// Writes the export to `path`, with a progress bar when stderr is a terminal. Returns the plays written.
pub fn export_to_file(
    conn: &rusqlite::Connection,
    options: &ExportOptions,
    path: &Path,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<u64> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    bar.set_length(export::count(conn, options)?);
    let written = export::export(conn, options, &mut out, &|n| bar.set_position(n))
        .with_context(|| format!("exporting to {}", path.display()))?;
    out.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(written)
}

/// `skipless export --format F [--out FILE] [--since DATE] [--until DATE]`.
pub fn export(
    ctx: &RunContext,
    format: ExportFormat,
    out: Option<&Path>,
    since: Option<&str>,
    until: Option<&str>,
) -> anyhow::Result<()> {
    let options = options(&ctx.config, format, since, until)?;
    let db = open_database(ctx)?;
    match out {
        Some(path) => {
            let bar = progress_bar(0, "export");
            let written = export_to_file(db.conn(), &options, path, &bar)?;
            bar.finish_and_clear();
            eprintln!("exported {written} plays to {}", path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            export::export(db.conn(), &options, &mut out, &|_| {})?;
        }
    }
    Ok(())
}

/// `skipless import spotify|listenbrainz ... [--json]`.
pub fn import(ctx: &RunContext, command: &ImportCommand) -> anyhow::Result<()> {
    let mut db = open_database(ctx)?;
    let (counts, json): (ImportCounts, bool) = match command {
        ImportCommand::Spotify { paths, json } => (import::import_spotify(&mut db, paths, gap_ms(ctx))?, *json),
        ImportCommand::Listenbrainz { file, json } => (import::import_listenbrainz(&mut db, file, gap_ms(ctx))?, *json),
    };
    if json {
        println!("{}", serde_json::to_string(&counts)?);
    } else {
        println!(
            "imported {} plays: {} matched, {} unmatched (matched when a scan adds their tracks), {} duplicates",
            counts.matched + counts.unmatched,
            counts.matched,
            counts.unmatched,
            counts.duplicate
        );
    }
    Ok(())
}
