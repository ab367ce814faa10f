//! `skipless import`: plays from another service's history into the log.

use std::path::PathBuf;

use clap::Subcommand;

use crate::app::Context;
use crate::clock::now_ms;
use crate::logio::import::{self, ImportCounts, ImportProgress};
use crate::logio::likes;

/// `skipless import` sources.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Spotify histories: Streaming_History_Audio_*.json, endsong_*.json, StreamingHistory*.json, or folders of them;
    /// `-` reads one from standard input.
    Spotify {
        #[arg(required = true, value_name = "FILE_OR_DIR")]
        paths: Vec<PathBuf>,
        /// Print one JSON object with the counts.
        #[arg(long)]
        json: bool,
    },
    /// Liked songs: Spotify's YourLibrary.json, or ListenBrainz loved recordings (feedback with
    /// track metadata). Songs the library has become likes; the others are listed. `-` reads the
    /// file from standard input.
    Likes {
        file: PathBuf,
        /// Print one JSON object with the counts.
        #[arg(long)]
        json: bool,
    },
    /// A ListenBrainz export: the zip ListenBrainz gives, the folder it unpacks to, or a file of
    /// listens (one JSON object per line); `-` reads it from standard input.
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
    let given = match command {
        ImportCommand::Spotify { paths, .. } => paths.as_slice(),
        ImportCommand::Listenbrainz { file, .. } | ImportCommand::Likes { file, .. } => std::slice::from_ref(file),
    };
    // What cannot be read is said before a data dir is made for it: a mistyped `--data-dir`
    // beside a mistyped file would otherwise be left holding an empty log.
    for path in given.iter().filter(|p| !super::is_dash(p)) {
        super::check_openable(path)?;
    }
    let stdin = match given.iter().filter(|p| super::is_dash(p)).count() {
        0 => None,
        1 => Some(StdinCopy::read()?),
        _ => anyhow::bail!("standard input (-) can be given once"),
    };
    let mut db = ctx.open_database()?;
    db.check_intact()?;
    say_what_an_interrupt_keeps(ctx.paths.remote_socket())?;
    let named = |path: &PathBuf| match &stdin {
        Some(copy) if super::is_dash(path) => copy.path(),
        _ => path.clone(),
    };
    let gap_ms = ctx.config.log.session_gap_ms();
    // The records read, counted, then the plays placed of each file, on a bar.
    let bar = super::PhasedBar::new("reading", "placing");
    let progress = |p| match p {
        ImportProgress::Reading { read } => bar.count(read),
        ImportProgress::Placing { done, total } => bar.advance(done, total),
    };
    let imported = match command {
        ImportCommand::Spotify { paths, json } => {
            let paths: Vec<PathBuf> = paths.iter().map(named).collect();
            let counts = import::import_spotify(&mut db, &paths, gap_ms, &progress);
            bar.finish();
            counts.map(|counts| print_plays(&counts, *json))
        }
        ImportCommand::Listenbrainz { file, json } => {
            let counts = import::import_listenbrainz(&mut db, &named(file), gap_ms, &progress);
            bar.finish();
            counts.map(|counts| print_plays(&counts, *json))
        }
        ImportCommand::Likes { file, json } => {
            likes::import_likes(&mut db, &named(file), now_ms()).map(|counts| print_likes(&counts, *json))
        }
    }
    .map_err(|e| e.in_database(&db));
    // Also after a failure: earlier files, or rounds of the failed one, may have been kept.
    super::tell_running_player(ctx);
    match (imported, &stdin) {
        // An error names the copy by a path of this process: it is standard input.
        (Err(e), Some(copy)) => {
            let copy = copy.path().display().to_string();
            Err(anyhow::anyhow!("{}", e.to_string().replace(&copy, "standard input")))
        }
        (imported, _) => imported?,
    }
}

/// Ctrl-C (or SIGTERM, SIGHUP) during an import ends it with a line saying what stays: an import
/// writes file by file and round by round, each round whole or not at all, so what was written
/// is kept, and the same import run again adds only what is missing. A running player is told
/// to read the log again, as after an import that failed part way.
fn say_what_an_interrupt_keeps(socket: PathBuf) -> anyhow::Result<()> {
    super::on_interrupt(move |signal| {
        super::say_interrupted(
            "import interrupted: what was written before it is kept; the same import run again adds only what is missing",
        );
        let _ = crate::app::remote::tell_reload(&socket);
        std::process::exit(128 + signal);
    })
}

/// What standard input brings, kept in a file with no name in the temporary folder: a history
/// is read more than once (its kind from its start, then its records; a zip from its end),
/// which a pipe cannot be, and a file with no name is gone however the import ends.
struct StdinCopy(std::fs::File);

impl StdinCopy {
    fn read() -> anyhow::Result<Self> {
        use std::io::{IsTerminal, Read, Write};
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            anyhow::bail!("standard input (-) is the terminal: pipe a history into it, e.g. `skipless export --format spotify | skipless --data-dir OTHER import spotify -`");
        }
        let temp = std::env::temp_dir();
        let cannot_write =
            |e: std::io::Error| anyhow::anyhow!("{}: cannot keep a copy of standard input: {e}", temp.display());
        let mut file = tempfile::tempfile().map_err(cannot_write)?;
        let mut reader = stdin.lock();
        let mut chunk = vec![0; 1 << 16];
        let mut total = 0;
        loop {
            let read = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => anyhow::bail!("standard input: cannot read: {e}"),
            };
            file.write_all(&chunk[..read]).map_err(cannot_write)?;
            total += read;
        }
        if total == 0 {
            anyhow::bail!("standard input: nothing came (an empty pipe)");
        }
        Ok(Self(file))
    }

    /// A path that opens the copy afresh, from its start, as the importers open a file.
    fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", self.0.as_raw_fd()))
    }
}

fn print_plays(counts: &ImportCounts, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string(counts)?)?;
    } else {
        let without_track = match counts.without_track {
            0 => String::new(),
            n => format!(
                "; {} without a track (podcasts, audiobooks, unavailable tracks) left out",
                crate::fmt::count(n as u64, "record")
            ),
        };
        let basic = match counts.basic_files_left_out {
            0 => String::new(),
            n => format!(
                "; {} left out: the Extended history beside them has their plays",
                crate::fmt::count(n as u64, "basic-history file")
            ),
        };
        let podcasts = match counts.podcast_files_left_out {
            0 => String::new(),
            n => format!(
                "; {} left out (episodes, not music)",
                crate::fmt::count(n as u64, "podcast-history file")
            ),
        };
        let waiting = match counts.unmatched {
            0 => String::new(),
            _ => " (matched when a scan adds their tracks)".to_owned(),
        };
        outln!(
            "imported {}: {} matched, {} unmatched{waiting}, {}{without_track}{basic}{podcasts}",
            crate::fmt::count((counts.matched + counts.unmatched) as u64, "play"),
            crate::fmt::group_digits(counts.matched as u64),
            crate::fmt::group_digits(counts.unmatched as u64),
            crate::fmt::count(counts.duplicate as u64, "duplicate")
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
        let already = match counts.already_marked {
            0 => String::new(),
            n => format!(
                ", {} left as marked (so already, or the other way since)",
                crate::fmt::count(n as u64, "song")
            ),
        };
        outln!(
            "liked {}{banned}{already}{kept}; {} not in the library",
            crate::fmt::count(counts.liked as u64, "track"),
            match counts.not_in_library.len() {
                1 => "1 of the songs is".to_owned(),
                n => format!("{} of the songs are", crate::fmt::group_digits(n as u64)),
            }
        )?;
        for song in &counts.not_in_library {
            // As the export wrote it, shown as a tag is: a line break would split the line.
            outln!(
                "  not in the library: {}",
                crate::track::tag_text(&song.to_string()).unwrap_or_default()
            )?;
        }
    }
    Ok(())
}
