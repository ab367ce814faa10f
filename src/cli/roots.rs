//! `skipless roots [add PATH... | remove PATH] [--json]`: the library's folders.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;

use crate::app::Context;
use crate::clock::now_ms;
use crate::db::tracks;

/// What `skipless roots` does besides listing.
#[derive(Debug, Subcommand)]
pub enum RootsAction {
    /// Add folders to the library (and scan them now). A library folder inside one added becomes
    /// part of it.
    Add {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Take a folder out of the library: its tracks are gone from the lists and from
    /// recommendations; their plays, likes and bans stay in the log.
    Remove { path: PathBuf },
}

/// Lists the roots with their playable tracks, or adds or removes one.
pub fn run(ctx: &Context, action: Option<&RootsAction>, json: bool) -> anyhow::Result<()> {
    match action {
        Some(RootsAction::Add { paths }) => {
            say_what_is_not_a_new_root(ctx, paths)?;
            super::scan::run(ctx, paths, crate::library::scan::Reread::Changed, json)
        }
        Some(RootsAction::Remove { path }) => remove(ctx, path, json),
        None => list(ctx, json),
    }
}

/// A root is a folder: a file is refused, and a folder inside a root is scanned but said to stay
/// part of that root.
fn say_what_is_not_a_new_root(ctx: &Context, paths: &[PathBuf]) -> anyhow::Result<()> {
    let db = ctx.open_database()?;
    let roots = tracks::roots(db.conn()).map_err(|e| db.err(e))?;
    for path in paths {
        let Some(folder) = tracks::index_path(db.conn(), path).map_err(|e| db.err(e))? else {
            let why = std::fs::metadata(path)
                .err()
                .map_or("not there".into(), |e| e.to_string());
            anyhow::bail!("{}: cannot open: {why}", path.display());
        };
        if !folder.is_dir() {
            anyhow::bail!(
                "{}: a file, not a folder (`skipless scan FILE` indexes a file on its own)",
                path.display()
            );
        }
        if let Some(root) = roots.iter().find(|root| folder.starts_with(root) && folder != **root) {
            eprintln!(
                "skipless: {} is inside the library folder {}: scanned as part of it",
                path.display(),
                root.display()
            );
        }
    }
    Ok(())
}

fn list(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let db = ctx.open_existing_database()?;
    let roots = tracks::roots(db.conn()).map_err(|e| db.err(e))?;
    let library: Vec<crate::track::Track> = tracks::all_tracks(db.conn()).map_err(|e| db.err(e))?;
    for root in &roots {
        let count = library.iter().filter(|t| t.path.starts_with(root)).count();
        if json {
            let row = serde_json::json!({
                "path": root.to_string_lossy(),
                "tracks": count,
                "exists": root.is_dir(),
            });
            outln!("{row}")?;
        } else {
            let missing = if root.is_dir() { "" } else { "  (missing)" };
            outln!(
                "{:>7} {:<6}  {}{missing}",
                count,
                if count == 1 { "track" } else { "tracks" },
                root.display()
            )?;
        }
    }
    if roots.is_empty() && !json {
        outln!("no library folders yet: skipless roots add ~/Music")?;
    }
    Ok(())
}

/// Takes the folder `path` and its tracks out of the library; `json` prints
/// `{"path": path, "tracks": n}`, the tracks that left, as `roots --json` names a folder.
fn remove(ctx: &Context, path: &Path, json: bool) -> anyhow::Result<()> {
    let mut db = ctx.open_database_there()?;
    // A root that no longer exists on disk is named as it was stored.
    let root = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let gone = tracks::remove_root(db.conn_mut(), &root, now_ms())
        .map_err(|e| db.err(e))?
        .with_context(|| format!("{}: not a library folder (see `skipless roots`)", path.display()))?;
    if json {
        outln!(
            "{}",
            serde_json::json!({ "path": root.to_string_lossy(), "tracks": gone })
        )?;
    } else {
        outln!(
            "removed {}: {} left the library",
            root.display(),
            crate::fmt::count(gone as u64, "track")
        )?;
    }
    super::tell_running_player(ctx);
    Ok(())
}
