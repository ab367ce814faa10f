//! `skipless import`: plays from another service's history into the log.

use std::path::PathBuf;

use clap::Subcommand;

use crate::app::Context;
use crate::logio::import::{self, ImportCounts};

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

/// `skipless import spotify|listenbrainz ... [--json]`.
pub(crate) fn import(ctx: &Context, command: &ImportCommand) -> anyhow::Result<()> {
    let mut db = ctx.open_database()?;
    let (counts, json): (ImportCounts, bool) = match command {
        ImportCommand::Spotify { paths, json } => (
            import::import_spotify(&mut db, paths, ctx.config.log.session_gap_ms())?,
            *json,
        ),
        ImportCommand::Listenbrainz { file, json } => (
            import::import_listenbrainz(&mut db, file, ctx.config.log.session_gap_ms())?,
            *json,
        ),
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
