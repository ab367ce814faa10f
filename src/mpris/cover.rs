//! Cover pictures as files for `mpris:artUrl` ([`cover_file`]), found where the player finds
//! them (`library::cover::find_cover`: the embedded picture, then the folder's image).
//!
//! Desktop widgets want a URL, not bytes, so an embedded picture is written to a file once. The
//! file is named after a hash of the picture, so the tracks of an album share one file and a
//! retagged track gets a new one. A folder's image is its own file.

use std::path::{Path, PathBuf};

use super::MprisError;
use crate::atomic_file::write_atomic;
use crate::library::cover::{find_cover, Cover};

/// The cover of `audio` as a file: an embedded picture written under `cache_dir/covers/`, or
/// the folder's image; `None` when there is neither.
pub(crate) fn cover_file(audio: &Path, cache_dir: &Path) -> Result<Option<PathBuf>, MprisError> {
    let (data, ext) = match find_cover(audio)? {
        None => return Ok(None),
        Some(Cover::File(file)) => return Ok(Some(file)),
        Some(Cover::Embedded { data, ext }) => (data, ext),
    };
    let dir = cache_dir.join("covers");
    // Named by a hash that is stable across builds, so cached names stay valid.
    let file = dir.join(format!("{:016x}.{ext}", crate::paths::fnv1a(&data)));
    if file.exists() {
        return Ok(Some(file));
    }
    let write_error = |source| MprisError::WriteCover {
        path: file.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(write_error)?;
    // Written whole and renamed, so a client never reads half a picture.
    write_atomic(&file, &data).map_err(write_error)?;
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_cover_is_written_once_and_a_coverless_file_has_none() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = cache_dir.path();
        let first = cover_file(&corpus.join("wz_track3_20s.cover.m4a"), cache)
            .unwrap()
            .expect("the file embeds a cover");
        let bytes = std::fs::read(&first).unwrap();
        assert!(
            bytes.starts_with(&[0xFF, 0xD8]) || bytes.starts_with(b"\x89PNG"),
            "a JPEG or PNG"
        );
        let again = cover_file(&corpus.join("wz_track3_20s.cover.m4a"), cache).unwrap();
        assert_eq!(again, Some(first));
        assert_eq!(cover_file(&corpus.join("victory.wav"), cache).unwrap(), None);
    }
}
