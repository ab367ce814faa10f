//! `skipless import`: plays from another service's history into the log.

use std::path::PathBuf;

use clap::Subcommand;

use crate::app::Context;
use crate::clock::now_ms;
use crate::logio::import::{self, ImportCounts};
use crate::logio::likes;

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
    /// Liked songs: Spotify's YourLibrary.json, or ListenBrainz loved recordings (feedback with
    /// track metadata). Songs the library has become likes; the others are listed.
    Likes {
        file: PathBuf,
        /// Print one JSON object with the counts.
        #[arg(long)]
        json: bool,
    },
    /// A ListenBrainz export: the zip ListenBrainz gives, the folder it unpacks to, or a file of
    /// listens (one JSON object per line).
    Listenbrainz {
        #[arg(value_name = "EXPORT")]
        file: PathBuf,
        /// Print one JSON object with the counts.
        #[arg(long)]
        json: bool,
    },
}

/// `skipless import spotify|listenbrainz|likes ... [--json]`.
pub(crate) fn import(ctx: &Context, command: &ImportCommand) -> anyhow::Result<()> {
    let mut db = ctx.open_database()?;
    let gap_ms = ctx.config.log.session_gap_ms();
    let imported = match command {
        ImportCommand::Spotify { paths, json } => {
            import::import_spotify(&mut db, paths, gap_ms).map(|counts| print_plays(&counts, *json))
        }
        ImportCommand::Listenbrainz { file, json } => {
            import::import_listenbrainz(&mut db, file, gap_ms).map(|counts| print_plays(&counts, *json))
        }
        ImportCommand::Likes { file, json } => {
            likes::import_likes(&mut db, file, now_ms()).map(|counts| print_likes(&counts, *json))
        }
    };
    // Also after a failure: earlier files, or rounds of the failed one, may have been kept.
    super::tell_running_player(ctx);
    imported?
}

fn print_plays(counts: &ImportCounts, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string(counts)?)?;
    } else {
        let without_track = match counts.without_track {
            0 => String::new(),
            n => format!("; {n} records without a track (podcasts, audiobooks, unavailable tracks) left out"),
        };
        let basic = match counts.basic_files_left_out {
            0 => String::new(),
            n => format!("; {n} basic-history files left out: the Extended history beside them has their plays"),
        };
        outln!(
            "imported {} plays: {} matched, {} unmatched (matched when a scan adds their tracks), {} duplicates{without_track}{basic}",
            counts.matched + counts.unmatched,
            counts.matched,
            counts.unmatched,
            counts.duplicate
        )?;
    }
    Ok(())
}

fn print_likes(counts: &likes::LikeCounts, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string(counts)?)?;
    } else {
        let banned = match counts.banned {
            0 => String::new(),
            n => format!(", banned {n}"),
        };
        let kept = match counts.kept_as_marked {
            0 => String::new(),
            n => format!(
                "; {} you marked the other way here left so (undated, they cannot be the later word)",
                crate::fmt::count(n as u64, "song")
            ),
        };
        outln!(
            "liked {}{banned}{kept}; {} not in the library",
            crate::fmt::count(counts.liked as u64, "track"),
            match counts.not_in_library.len() {
                1 => "1 of the songs is".to_owned(),
                n => format!("{n} of the songs are"),
            }
        )?;
        for song in &counts.not_in_library {
            outln!("  not in the library: {song}")?;
        }
    }
    Ok(())
}
