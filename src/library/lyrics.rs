//! Finding a track's lyrics on disk ([`find_lyrics`], and [`sidecar_problem`] when a `.lrc` is
//! there but of no use): a `.lrc` beside the file (same stem),
//! then the lyrics in its tags (ID3 `SYLT` and `USLT`, Vorbis `LYRICS` and `UNSYNCEDLYRICS`,
//! MP4 `©lyr`, read by lofty), then `Artist - Title.lrc` in the configured lyrics folder.
//! Nothing here uses the network.

use std::path::{Path, PathBuf};

use lofty::config::ParseOptions;
use lofty::file::TaggedFileExt;
use lofty::id3::v2::{Frame, SynchronizedTextFrame, TimestampFormat};
use lofty::tag::ItemKey;

use super::LibraryError;
use crate::lyrics::{decode_text, is_text, Lyrics};
use crate::track::Track;

/// The first lyrics found for `track`, looking in `folder` last; `None` when there are none.
/// A file that cannot be read or parsed is logged (once per call) and passed over.
pub fn find_lyrics(track: &Track, folder: Option<&Path>) -> Option<Lyrics> {
    let words = |lyrics: &Lyrics| !lyrics.is_empty();
    sidecar(&track.path)
        .filter(words)
        .or_else(|| embedded(&track.path).filter(words))
        .or_else(|| folder.and_then(|dir| in_folder(dir, track)).filter(words))
}

/// `song.lrc` beside `song.flac`, its extension in any case (`.LRC`, `.Lrc`).
fn sidecar_path(path: &Path) -> Option<PathBuf> {
    let common = ["lrc", "LRC"]
        .into_iter()
        .map(|ext| path.with_extension(ext))
        .find(|p| p.exists());
    common.or_else(|| {
        let stem = path.file_stem()?;
        std::fs::read_dir(path.parent()?)
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .find(|p| p.file_stem() == Some(stem) && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("lrc")))
    })
}

fn sidecar(path: &Path) -> Option<Lyrics> {
    sidecar_path(path).filter(|p| p.is_file()).and_then(|p| read_lrc(&p))
}

/// Why the `.lrc` beside `path` gave no lyrics, when there is one: it is a folder, cannot be
/// read, or holds no words.
pub fn sidecar_problem(path: &Path) -> Option<String> {
    let lrc = sidecar_path(path)?;
    if lrc.is_dir() {
        return Some(format!("{} is a folder, not a .lrc file", lrc.display()));
    }
    match std::fs::read(&lrc) {
        Err(e) => Some(format!("cannot read {}: {e}", lrc.display())),
        Ok(bytes) if !is_text(&decode_text(&bytes)) => Some(format!("{} is not text (binary data)", lrc.display())),
        Ok(bytes) if Lyrics::parse(&decode_text(&bytes), "").is_empty() => {
            Some(format!("{} holds no lyrics", lrc.display()))
        }
        Ok(_) => None,
    }
}

/// A lyrics file's name as compared: one line in one form, lower case, with each letter a file name cannot hold here
/// or on Windows (`AC/DC`, `Why?`) as `_`, as lyrics tools save them, on either side.
fn comparable(name: &str) -> String {
    // In the form tags are kept in (`tag_text`), as the names of the tags it is compared with.
    crate::track::tag_text(name)
        .unwrap_or_default()
        .to_lowercase()
        .chars()
        .map(|c| if "/\\:*?\"<>|".contains(c) { '_' } else { c })
        .collect()
}

/// `Artist - Title.lrc` (case-insensitive), else `Title.lrc`, in `dir`.
fn in_folder(dir: &Path, track: &Track) -> Option<Lyrics> {
    let mut wanted: Vec<String> = Vec::new();
    if let Some(artist) = &track.artist {
        wanted.push(comparable(&format!("{artist} - {}.lrc", track.title)));
    }
    wanted.push(comparable(&format!("{}.lrc", track.title)));
    let names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| tracing::warn!("lyrics folder {}: {e}", dir.display()))
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    wanted.iter().find_map(|name| {
        names
            .iter()
            .find(|p| p.file_name().is_some_and(|f| comparable(&f.to_string_lossy()) == *name))
            .and_then(|p| read_lrc(p))
    })
}

fn read_lrc(path: &Path) -> Option<Lyrics> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = decode_text(&bytes);
            if !is_text(&text) {
                tracing::warn!("lyrics {}: not text (binary data)", path.display());
                return None;
            }
            Some(Lyrics::parse(&text, name))
        }
        Err(e) => {
            tracing::warn!("lyrics {}: {e}", path.display());
            None
        }
    }
}

/// The lyrics in the file's tags: a millisecond-timed `SYLT` frame first (MP3), then the text
/// tags, which may hold LRC themselves.
fn embedded(path: &Path) -> Option<Lyrics> {
    let read = crate::guard::guarded(|| -> Result<Option<Lyrics>, LibraryError> {
        let is_mp3 = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp3"));
        if is_mp3 {
            if let Some(lyrics) = sylt(path)? {
                return Ok(Some(lyrics));
            }
        }
        let tagged = lofty::read_from_path(path)?;
        for tag in tagged.tags() {
            for (key, name) in [(ItemKey::Lyrics, "lyrics"), (ItemKey::UnsyncLyrics, "unsynced lyrics")] {
                if let Some(text) = tag.get_string(key).filter(|t| !t.trim().is_empty()) {
                    return Ok(Some(Lyrics::parse(text, format!("embedded {name}"))));
                }
            }
        }
        Ok(None)
    })
    .unwrap_or_else(|panic| Err(LibraryError::Panicked(panic)));
    read.unwrap_or_else(|e| {
        tracing::warn!("lyrics in {}: {e}", path.display());
        None
    })
}

/// The first `SYLT` frame of an MP3's ID3v2 tag whose times are in milliseconds.
fn sylt(path: &Path) -> Result<Option<Lyrics>, LibraryError> {
    let mut file = std::fs::File::open(path)?;
    let mpeg = <lofty::mpeg::MpegFile as lofty::file::AudioFile>::read_from(&mut file, ParseOptions::new())?;
    let Some(id3) = mpeg.id3v2() else {
        return Ok(None);
    };
    for frame in id3 {
        let Frame::Binary(binary) = frame else { continue };
        if binary.id().as_str() != "SYLT" {
            continue;
        }
        match SynchronizedTextFrame::parse(&binary.data, binary.flags()) {
            Ok(sylt) if sylt.timestamp_format == TimestampFormat::MS => {
                let lines = sylt
                    .content
                    .into_iter()
                    .map(|(at, text)| (u64::from(at), text))
                    .collect();
                return Ok(Some(Lyrics::from_timed(lines, "embedded SYLT")));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("lyrics in {}: SYLT frame: {e}", path.display()),
        }
    }
    Ok(None)
}
