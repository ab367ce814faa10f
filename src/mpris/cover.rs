//! Embedded cover pictures written to the cache dir for `mpris:artUrl` ([`extract_cover`]).
//!
//! Desktop widgets want a URL, not bytes, so the picture is written to a file once. The file is
//! named after a hash of the picture, so the tracks of an album share one file and a retagged
//! track gets a new one.

use std::io::Write;
use std::path::{Path, PathBuf};

use lofty::config::ParseOptions;
use lofty::file::TaggedFileExt;
use lofty::picture::{Picture, PictureType};
use lofty::probe::Probe;

/// Why a cover could not be extracted; logged, and the track is shown without one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CoverError {
    #[error("{}: cannot read the cover: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: cannot write the cover: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Writes the front cover (or else the first picture) of `audio` under `cache_dir/covers/`
/// and returns the file; `None` when the file embeds no picture.
pub(crate) fn extract_cover(audio: &Path, cache_dir: &Path) -> Result<Option<PathBuf>, CoverError> {
    let read_error = |message: String| CoverError::Read {
        path: audio.to_path_buf(),
        message,
    };
    let tagged = Probe::open(audio)
        .map_err(|e| read_error(e.to_string()))?
        .options(ParseOptions::new().read_cover_art(true).read_properties(false))
        .guess_file_type()
        .map_err(|e| read_error(e.to_string()))?
        .read()
        .map_err(|e| read_error(e.to_string()))?;
    let pictures: Vec<&Picture> = tagged.tags().iter().flat_map(|t| t.pictures()).collect();
    let Some(picture) = pictures
        .iter()
        .find(|p| p.pic_type() == PictureType::CoverFront)
        .or_else(|| pictures.first())
    else {
        return Ok(None);
    };
    let ext = picture.mime_type().and_then(|m| m.ext()).unwrap_or("img");
    let dir = cache_dir.join("covers");
    let file = dir.join(format!("{:016x}.{ext}", fnv1a(picture.data())));
    if file.exists() {
        return Ok(Some(file));
    }
    let write_error = |source| CoverError::Write {
        path: file.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(write_error)?;
    // Written under a temporary name and renamed, so a client never reads half a picture.
    let partial = dir.join(format!(".{}.partial", std::process::id()));
    let mut out = std::fs::File::create(&partial).map_err(write_error)?;
    out.write_all(picture.data()).map_err(write_error)?;
    drop(out);
    std::fs::rename(&partial, &file).map_err(write_error)?;
    Ok(Some(file))
}

/// FNV-1a, 64 bits: stable across builds (unlike `DefaultHasher`), so cached names stay valid.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_cover_is_written_once_and_a_coverless_file_has_none() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = cache_dir.path();
        let first = extract_cover(&corpus.join("wz_track3_20s.cover.m4a"), cache)
            .unwrap()
            .expect("the file embeds a cover");
        let bytes = std::fs::read(&first).unwrap();
        assert!(
            bytes.starts_with(&[0xFF, 0xD8]) || bytes.starts_with(b"\x89PNG"),
            "a JPEG or PNG"
        );
        let again = extract_cover(&corpus.join("wz_track3_20s.cover.m4a"), cache).unwrap();
        assert_eq!(again, Some(first));
        assert_eq!(extract_cover(&corpus.join("victory.wav"), cache).unwrap(), None);
    }
}
