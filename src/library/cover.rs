//! Finding a track's cover picture ([`find_cover`], [`Cover`]), in one order for the player
//! and MPRIS: the picture embedded in the file (the front cover first), then an image in the
//! track's folder (`cover`, `folder`, `front`, `AlbumArt*`; any case; JPEG or PNG).

use std::path::{Path, PathBuf};

use lofty::config::ParseOptions;
use lofty::file::TaggedFileExt;
use lofty::picture::{Picture, PictureType};
use lofty::probe::Probe;

use super::LibraryError;

/// A cover picture's encoded bytes and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cover {
    /// Embedded in the audio file; `ext` as its MIME type says ("jpg", "png").
    Embedded { data: Vec<u8>, ext: &'static str },
    /// An image file beside the track.
    File(PathBuf),
}

/// The cover of the audio file at `audio`; `None` when it has none. An error says what could
/// not be read (the file's tags, or the folder).
pub fn find_cover(audio: &Path) -> Result<Option<Cover>, LibraryError> {
    if let Some(cover) = embedded(audio)? {
        return Ok(Some(cover));
    }
    Ok(beside(audio).map(Cover::File))
}

fn embedded(audio: &Path) -> Result<Option<Cover>, LibraryError> {
    let read = crate::guard::guarded(|| -> Result<Option<Cover>, LibraryError> {
        let tagged = Probe::open(audio)?
            .options(ParseOptions::new().read_cover_art(true).read_properties(false))
            .guess_file_type()?
            .read()?;
        let pictures: Vec<&Picture> = tagged.tags().iter().flat_map(|t| t.pictures()).collect();
        let picture = pictures
            .iter()
            .find(|p| p.pic_type() == PictureType::CoverFront)
            .or_else(|| pictures.first());
        Ok(picture.map(|p| Cover::Embedded {
            data: p.data().to_vec(),
            ext: match p.mime_type().and_then(|m| m.ext()) {
                Some("png") => "png",
                Some("jpg" | "jpeg") => "jpg",
                Some("gif") => "gif",
                Some("bmp") => "bmp",
                Some("tiff") => "tiff",
                _ => "img",
            },
        }))
    });
    read.unwrap_or_else(|panic| Err(LibraryError::Panicked(panic)))
        .map_err(|source| LibraryError::Cover {
            path: audio.to_owned(),
            source: Box::new(source),
        })
}

/// The cover image in the folder of `audio`, by the names players and rippers use, best first:
/// what stands for the album where the file's own picture is missing or damaged.
pub(crate) fn beside(audio: &Path) -> Option<PathBuf> {
    let dir = audio.parent()?;
    let images: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let ext = path.extension()?.to_str()?.to_ascii_lowercase();
            let name = path.file_stem()?.to_str()?.to_ascii_lowercase();
            ["jpg", "jpeg", "png"].contains(&ext.as_str()).then_some((name, path))
        })
        .collect();
    let named = |wanted: &dyn Fn(&str) -> bool| {
        let mut found: Vec<&PathBuf> = images.iter().filter(|(n, _)| wanted(n)).map(|(_, p)| p).collect();
        found.sort();
        found.first().map(|p| (*p).clone())
    };
    named(&|n| n == "cover")
        .or_else(|| named(&|n| n == "folder"))
        .or_else(|| named(&|n| n == "front"))
        .or_else(|| named(&|n| n.starts_with("albumart")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_picture_comes_first_then_the_folder_image_by_name() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
        let Some(Cover::Embedded { data, ext }) = find_cover(&corpus.join("wz_track3_20s.cover.m4a")).unwrap() else {
            panic!("the corpus's m4a embeds its cover");
        };
        assert!(!data.is_empty() && ["jpg", "png"].contains(&ext));

        let dir = tempfile::tempdir().unwrap();
        let song = dir.path().join("song.ogg");
        std::fs::copy(corpus.join("silence.ogg"), &song).unwrap();
        assert_eq!(find_cover(&song).unwrap(), None);
        for name in ["AlbumArtSmall.JPG", "Front.png", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        assert_eq!(
            find_cover(&song).unwrap(),
            Some(Cover::File(dir.path().join("Front.png")))
        );
        std::fs::write(dir.path().join("Cover.JPG"), b"x").unwrap();
        assert_eq!(
            find_cover(&song).unwrap(),
            Some(Cover::File(dir.path().join("Cover.JPG")))
        );
    }
}
