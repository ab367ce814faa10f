//! `skipless lyrics PATH`: print a track's lyrics, synced lines with their times.

use std::path::Path;

use anyhow::Context as _;

use crate::app::Context;
use crate::library::lyrics::{find_lyrics, sidecar_problem};
use crate::library::tags::read_tags;

pub fn run(ctx: &Context, path: &Path) -> anyhow::Result<()> {
    // As named, links kept, where that is the same file: a sidecar lies beside the file where
    // the listener reached it, as for a file behind a link inside a library root.
    let file = std::fs::canonicalize(path).with_context(|| format!("{}: cannot open", path.display()))?;
    anyhow::ensure!(!file.is_dir(), "{}: a folder, not a track", path.display());
    let file = crate::playlist::as_given(path).unwrap_or(file);
    let mut track = read_tags(&file).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    track.path = file;
    let folder = ctx.config.lyrics.folder.as_deref();
    let Some(lyrics) = find_lyrics(&track, folder) else {
        if let Some(problem) = sidecar_problem(&track.path) {
            anyhow::bail!("{}: no lyrics: {problem}", path.display());
        }
        let also = folder
            .map(|f| match std::fs::metadata(f) {
                Ok(kind) if kind.is_dir() => format!(", none in {}", f.display()),
                Ok(_) => format!("; the [lyrics] folder {} is a file, not a folder", f.display()),
                Err(e) => format!("; the [lyrics] folder {} cannot be read: {e}", f.display()),
            })
            .unwrap_or_default();
        anyhow::bail!(
            "{}: no lyrics (no .lrc beside it, none in its tags{also})",
            path.display()
        );
    };
    let mut out = String::new();
    for line in &lyrics.lines {
        match line.at_ms {
            Some(at) => out.push_str(&format!(
                "[{:02}:{:02}.{:02}] {}\n",
                at / 60_000,
                at / 1000 % 60,
                at % 1000 / 10,
                line.text
            )),
            None => out.push_str(&format!("{}\n", line.text)),
        }
    }
    out!("{out}")?;
    if let Some(problem) = lyrics.problem() {
        eprintln!("skipless: {problem}");
    }
    Ok(())
}
