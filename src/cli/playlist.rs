//! `skipless playlist list|import|export|rename|delete`: saved playlists and M3U files.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;

use crate::app::library::{delete_playlist, entry_of, playlist_entries, rename_playlist};
use crate::app::Context;
use crate::clock::now_ms;
use crate::db::{playlists, tracks, Database};
use crate::playlist::{checked_name, parse_m3u, write_m3u, Entry, M3u, Smart};

/// `skipless playlist` actions.
#[derive(Debug, Subcommand)]
pub enum PlaylistCommand {
    /// The saved playlists, with how many of their entries the library has.
    List {
        /// One JSON object per playlist.
        #[arg(long)]
        json: bool,
    },
    /// Save an M3U or M3U8 file as a playlist (named after the file unless --name). Entries
    /// the library lacks are reported by line and kept: they play once a scan adds them.
    Import {
        /// The playlist file, or - for standard input (relative entries then start in the
        /// current folder, and --name is needed).
        file: PathBuf,
        /// The playlist's name (default: the file's name without its extension).
        #[arg(long)]
        name: Option<String>,
    },
    /// Give a saved playlist another name.
    Rename { from: String, to: String },
    /// Delete a saved playlist (the tracks stay in the library).
    Delete { name: String },
    /// Write a playlist as M3U8 (to stdout unless --out, or with --out -).
    Export {
        name: String,
        /// The file to write (replaced whole once written; - for standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub fn run(ctx: &Context, command: &PlaylistCommand) -> anyhow::Result<()> {
    // Only an import starts a data dir; the rest read or change playlists that must be there.
    let mut db = match command {
        PlaylistCommand::Import { file, name } => {
            if super::is_dash(file) {
                anyhow::ensure!(name.is_some(), "-: give the playlist read from standard input a --name");
            } else {
                super::check_openable(file)?;
            }
            ctx.open_database()?
        }
        PlaylistCommand::Export { out, .. } => {
            if let Some(path) = super::file_or_stdout(out) {
                super::claim_out_file(ctx, "playlist export", path)?;
            }
            ctx.open_existing_database()?
        }
        PlaylistCommand::List { .. } => ctx.open_existing_database()?,
        _ => ctx.open_database_there()?,
    };
    match command {
        PlaylistCommand::List { json } => return list(&db, *json),
        PlaylistCommand::Export { name, out } => return export(&db, name, super::file_or_stdout(out)),
        PlaylistCommand::Import { file, name } => import(&mut db, file, name.as_deref())?,
        PlaylistCommand::Rename { from, to } => rename(&db, from, to)?,
        PlaylistCommand::Delete { name } => delete(&db, name)?,
    }
    // A running player's playlists view shows the change.
    super::tell_running_player(ctx);
    Ok(())
}

fn list(db: &Database, json: bool) -> anyhow::Result<()> {
    // (entries, in the library, smart, name) of the saved playlists, then of the smart ones.
    let mut rows: Vec<(usize, usize, bool, String)> = playlists::list(db.conn())
        .map_err(|e| db.err(e))?
        .into_iter()
        .map(|p| (p.entries, p.in_library, false, p.name))
        .collect();
    for smart in Smart::ALL {
        let count = playlists::smart_tracks(db.conn(), smart, now_ms())
            .map_err(|e| db.err(e))?
            .len();
        rows.push((count, count, true, smart.name().to_owned()));
    }
    if json {
        for (entries, in_library, smart, name) in rows {
            let row = serde_json::json!({"name": name, "entries": entries, "in_library": in_library, "smart": smart});
            outln!("{row}")?;
        }
        return Ok(());
    }
    // Columns as wide as their widest cell, the name last, where its length does not matter.
    let cells: Vec<[String; 3]> = rows
        .into_iter()
        .map(|(entries, in_library, smart, name)| {
            let where_from = if smart {
                "smart, from the log".to_owned()
            } else {
                format!("{} in the library", crate::fmt::group_digits(in_library as u64))
            };
            [entries_count(entries), where_from, name]
        })
        .collect();
    let width = |column: usize| cells.iter().map(|c| crate::fmt::width(&c[column])).max().unwrap_or(0);
    let (entries_width, from_width) = (width(0), width(1));
    let pad = |text: &str, width: usize| " ".repeat(width.saturating_sub(crate::fmt::width(text)));
    for [entries, from, name] in cells {
        outln!(
            "{}{entries}  {from}{}  {name}",
            pad(&entries, entries_width),
            pad(&from, from_width)
        )?;
    }
    Ok(())
}

fn import(db: &mut Database, file: &Path, name: Option<&str>) -> anyhow::Result<()> {
    let bytes = if super::is_dash(file) {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).context("standard input: cannot read")?;
        bytes
    } else {
        std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))?
    };
    // Relative entries start where the file is (standard input's: the current folder): a
    // playlist linked from elsewhere, in its target's folder; one in a folder reached through a
    // link, in that folder as named (only the file's own links are followed, as the system does
    // for a relative link's target).
    let mut located = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&located) else {
            break;
        };
        located = located.parent().map_or(target.clone(), |dir| dir.join(&target));
    }
    let dir = located.parent().map(Path::to_path_buf).unwrap_or_default();
    let M3u { mut entries, skipped } = parse_m3u(&bytes, &dir).with_context(|| file.display().to_string())?;
    if entries.is_empty() {
        let why = match skipped.first() {
            None => "it is empty".to_owned(),
            Some(first) => format!("line {}: {}", first.line, first.message),
        };
        anyhow::bail!("{}: no file to play in it ({why})", file.display());
    }
    let name = match name {
        Some(name) => name.to_owned(),
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .with_context(|| format!("{}: give the playlist a --name", file.display()))?,
    };
    let name = checked_name(&name)
        .map_err(anyhow::Error::msg)
        .context("give it another --name")?;
    // As the index knows each file; an entry whose file is not there stays as written.
    let roots = tracks::roots(db.conn()).map_err(|e| db.err(e))?;
    for entry in &mut entries {
        if let Some(known) = tracks::index_path_among(&roots, &entry.path) {
            entry.path = known;
        }
    }
    let missing: Vec<(usize, String)> = playlists::resolve(db.conn(), entries.clone())
        .map_err(|e| db.err(e))?
        .into_iter()
        .filter(|(_, track)| track.is_none())
        .map(|(entry, _)| {
            let said = format!(
                "  line {}: {} is not a playable file of the library (kept: it plays once a scan reads it)",
                entry.line,
                entry.path.display()
            );
            (entry.line, said)
        })
        .collect();
    playlists::create(db.conn_mut(), name, &entries, now_ms())
        .map_err(|e| db.err(e))?
        .with_context(|| format!("a playlist named {name:?} exists already"))?;
    let left_out = match skipped.len() {
        0 => String::new(),
        n => format!("; {} left out", crate::fmt::count(n as u64, "line")),
    };
    outln!(
        "saved playlist {name:?}: {}, {} in the library{left_out}",
        entries_count(entries.len()),
        entries.len() - missing.len()
    )?;
    let left_out_lines = skipped
        .iter()
        .map(|problem| (problem.line, format!("  {problem} (left out)")));
    let mut problems: Vec<(usize, String)> = missing.into_iter().chain(left_out_lines).collect();
    problems.sort_by_key(|(line, _)| *line);
    for (_, said) in problems {
        outln!("{said}")?;
    }
    Ok(())
}

fn rename(db: &Database, from: &str, to: &str) -> anyhow::Result<()> {
    let to = rename_playlist(db, from, to)?;
    outln!("renamed {from:?} to {to:?}")?;
    Ok(())
}

fn delete(db: &Database, name: &str) -> anyhow::Result<()> {
    delete_playlist(db, name)?;
    outln!("deleted playlist {name:?}")?;
    Ok(())
}

fn entries_count(n: usize) -> String {
    format!(
        "{} {}",
        crate::fmt::group_digits(n as u64),
        if n == 1 { "entry" } else { "entries" }
    )
}

fn export(db: &Database, name: &str, out: Option<&Path>) -> anyhow::Result<()> {
    // The library's tags for what it has, what the M3U said for the rest.
    let entries: Vec<Entry> = playlist_entries(db, name)?
        .into_iter()
        .map(|(entry, track)| match track {
            Some(track) => Entry {
                line: entry.line,
                duration_ms: track.duration_ms.or(entry.duration_ms),
                ..entry_of(&track)
            },
            None => entry,
        })
        .collect();
    match out {
        Some(path) => {
            // Whole or not at all: a full disk leaves an earlier export as it was.
            crate::atomic_file::write_atomic_with(path, |out| write_m3u(out, &entries))
                .with_context(|| format!("{}: cannot write", path.display()))?;
            eprintln!("exported {} to {}", entries_count(entries.len()), path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut writer = stdout.lock();
            write_m3u(&mut writer, &entries).context("writing to stdout")?;
            writer.flush().context("writing to stdout")?;
        }
    }
    Ok(())
}

/// The files of playlist `name` that the library has, in order, for `skipless play --playlist`.
pub fn playable_paths(ctx: &Context, name: &str) -> anyhow::Result<Vec<PathBuf>> {
    let db = ctx.open_existing_database()?;
    let entries = playlist_entries(&db, name)?;
    let all = entries.len();
    let paths: Vec<PathBuf> = entries
        .into_iter()
        .filter(|(_, track)| track.is_some())
        .map(|(entry, _)| entry.path)
        .collect();
    anyhow::ensure!(
        !paths.is_empty(),
        "playlist {name:?}: none of its files is playable from the library"
    );
    // Said as `remote playlist` says it: what the queue lacks is no surprise.
    if paths.len() < all {
        eprintln!(
            "skipless: warning: playlist {name:?}: {} of {} not playable from the library, left out",
            all - paths.len(),
            entries_count(all)
        );
    }
    Ok(paths)
}
