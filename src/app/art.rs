//! Album art for the player ([`ArtCache`], [`Picture`], [`art_for`]): a track's cover, found
//! as MPRIS finds it (`library::cover`), decoded within size limits, shrunk, cached per album
//! within a byte budget, and turned into a terminal picture (`ratatui-image`: Kitty, Sixel,
//! iTerm2 or half blocks) of a given size in cells. All of it runs on a worker thread.

use std::collections::VecDeque;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use image::DynamicImage;
use ratatui::layout::Size;
use ratatui_image::picker::Picker;
use ratatui_image::protocol::Protocol;
use ratatui_image::Resize;

use crate::library::cover::{beside, find_cover, Cover};
use crate::track::Track;

/// The memory the decoded covers may take (32 MB): about a hundred albums.
pub(crate) const CACHE_BYTES: usize = 32 << 20;
/// Decoded covers are shrunk to this many pixels on their longer side.
const LONGEST_SIDE: u32 = 512;
/// A picture wider or taller than this is refused before it is decoded.
const MAX_SIDE: u32 = 8192;
/// What decoding one picture may allocate.
const MAX_ALLOC: u64 = 256 << 20;

/// A terminal picture ready to draw.
#[derive(Clone)]
pub struct Picture(pub Protocol);

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Picture")
    }
}

/// Most entries the cache remembers: albums' covers, and tracks without one.
const MOST_ENTRIES: usize = 512;

/// Decoded covers by album, the least recently used dropped first once over the budget. A
/// track without a usable cover is remembered too, so a broken picture is read (and logged)
/// once. (A track without one shows its album's cover once another track of the album has
/// shown it; until then, none.)
#[derive(Debug)]
pub struct ArtCache {
    entries: VecDeque<(String, Option<Arc<DynamicImage>>)>,
    bytes: usize,
    budget: usize,
}

impl ArtCache {
    pub fn new(budget: usize) -> Self {
        ArtCache {
            entries: VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    fn get(&mut self, key: &str) -> Option<Option<Arc<DynamicImage>>> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        let entry = self.entries.remove(at)?;
        let image = entry.1.clone();
        self.entries.push_back(entry);
        Some(image)
    }

    fn insert(&mut self, key: String, image: Option<Arc<DynamicImage>>) {
        self.bytes += bytes_of(&image);
        self.entries.push_back((key, image));
        // Tracks without a cover take no bytes: the count bounds them (a folder changed keys its
        // album afresh, so old keys go this way too).
        while (self.bytes > self.budget || self.entries.len() > MOST_ENTRIES) && self.entries.len() > 1 {
            if let Some((_, dropped)) = self.entries.pop_front() {
                self.bytes -= bytes_of(&dropped);
            }
        }
    }
}

fn bytes_of(image: &Option<Arc<DynamicImage>>) -> usize {
    image.as_deref().map_or(0, |i| i.as_bytes().len())
}

/// The tracks of one album share a cover: the folder and the album tag name it. A track with no
/// album tag is a single of its own, whose embedded picture is its own: its path names it. The
/// folder's modification time is part of the key, and a single's own: a cover file added to the
/// folder, or a picture written into a single, is looked up afresh. A cover missing is
/// remembered per track ([`single_key`]), so it never hides the picture of another track of
/// the album.
fn album_key(track: &Track) -> String {
    let folder = track.path.parent().unwrap_or(Path::new(""));
    match track.album.as_deref() {
        Some(album) => format!("{}\u{1f}{album}\u{1f}{}", folder.display(), modified_ns(folder)),
        None => single_key(track),
    }
}

/// The key of one track's own cover: its path, its own modification time and its folder's.
fn single_key(track: &Track) -> String {
    let folder = track.path.parent().unwrap_or(Path::new(""));
    format!(
        "{}\u{1f}{}\u{1f}{}",
        track.path.display(),
        modified_ns(&track.path),
        modified_ns(folder)
    )
}

fn modified_ns(path: &Path) -> u128 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// The cover of `track` as a picture of `size` cells for `picker`; `None` when it has none or
/// it cannot be used (logged once per track).
pub fn art_for(track: &Track, size: Size, picker: &Picker, cache: &std::sync::Mutex<ArtCache>) -> Option<Picture> {
    // A cover found stands for the album; a cover missing, for the track alone: another track
    // of the album may carry one in its tags.
    let (key, without) = (album_key(track), single_key(track));
    let cached = cache
        .lock()
        .ok()
        .and_then(|mut c| c.get(&key).filter(Option::is_some).or_else(|| c.get(&without)));
    let image = match cached {
        Some(image) => image,
        None => {
            let image = match load(&track.path) {
                Ok(image) => image.map(Arc::new),
                Err(e) => {
                    tracing::warn!("album art: {e}");
                    None
                }
            };
            if let Ok(mut cache) = cache.lock() {
                cache.insert(if image.is_some() { key } else { without }, image.clone());
            }
            image
        }
    }?;
    let fitted = picker.new_protocol((*image).clone(), size, Resize::Fit(None));
    match fitted {
        Ok(protocol) => Some(Picture(protocol)),
        Err(e) => {
            tracing::warn!("album art of {}: {e}", track.path.display());
            None
        }
    }
}

/// The cover of the audio file at `audio`, decoded and shrunk; `None` when it has none.
pub fn load(audio: &Path) -> Result<Option<DynamicImage>, String> {
    let from_file = |file: &Path| -> Result<DynamicImage, String> {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        decode(&bytes).map_err(|e| format!("{}: {e}", file.display()))
    };
    match find_cover(audio).map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(Cover::File(file)) => from_file(&file).map(Some),
        // A damaged embedded picture gives way to the folder's image, where there is one.
        Some(Cover::Embedded { data, .. }) => match decode(&data) {
            Ok(image) => Ok(Some(image)),
            Err(e) => {
                let damaged = format!("{} (embedded): {e}", audio.display());
                match beside(audio) {
                    Some(file) => {
                        tracing::warn!("album art: {damaged}; the folder's image is shown");
                        from_file(&file).map(Some)
                    }
                    None => Err(damaged),
                }
            }
        },
    }
}

/// Decodes a JPEG or PNG within the limits and shrinks it to [`LONGEST_SIDE`].
fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| format!("not a usable picture: {e}"))?;
    Ok(image.thumbnail(LONGEST_SIDE, LONGEST_SIDE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_album_shares_one_cover_and_each_untagged_single_has_its_own() {
        let track = |path: &str, album: Option<&str>| Track {
            path: path.into(),
            album: album.map(Into::into),
            ..Track::default()
        };
        let a = album_key(&track("/m/x/1.mp3", Some("Album")));
        assert_eq!(a, album_key(&track("/m/x/2.mp3", Some("Album"))));
        assert_ne!(a, album_key(&track("/m/y/1.mp3", Some("Album"))));
        assert_ne!(
            album_key(&track("/m/x/single1.mp3", None)),
            album_key(&track("/m/x/single2.mp3", None))
        );
        // A cover file added to the folder makes a new key, for an album and for a single.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("1.mp3");
        std::fs::write(&file, b"x").unwrap();
        let in_album = track(file.to_str().unwrap(), Some("Album"));
        let single = track(file.to_str().unwrap(), None);
        let before = (album_key(&in_album), album_key(&single));
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(dir.path().join("cover.jpg"), b"jpeg").unwrap();
        assert_ne!(album_key(&in_album), before.0);
        assert_ne!(album_key(&single), before.1);
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(width, height);
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    /// The CRC of a PNG chunk (type and data), so that the edited header is a valid one.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn covers_are_shrunk_and_corrupt_or_huge_ones_refused() {
        let image = decode(&png(1200, 600)).unwrap();
        assert_eq!((image.width(), image.height()), (512, 256));
        assert!(decode(b"\x89PNG\r\n\x1a\nnot really").is_err());
        // A PNG whose header says 10,000 x 10,000: refused from the header, nothing allocated.
        let mut huge = png(1, 1);
        huge[16..20].copy_from_slice(&10_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&10_000u32.to_be_bytes());
        let crc = crc32(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        let error = decode(&huge).unwrap_err();
        assert!(error.contains("limit"), "{error}");
    }

    #[test]
    fn the_cache_keeps_the_most_recent_albums_within_its_budget() {
        let one = Arc::new(DynamicImage::new_rgba8(100, 100)); // 40,000 bytes
        let mut cache = ArtCache::new(100_000);
        cache.insert("a".into(), Some(one.clone()));
        cache.insert("b".into(), Some(one.clone()));
        cache.insert("none".into(), None);
        assert!(cache.get("a").is_some());
        cache.insert("c".into(), Some(one));
        assert_eq!(cache.bytes, 80_000);
        assert!(cache.get("b").is_none(), "the least recently used album went");
        assert_eq!(cache.get("none"), Some(None));
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
    }
}
