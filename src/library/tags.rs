//! Reading a file's tags and audio properties with lofty into a [`Track`].
//!
//! Numbers in tags are whatever a tagger wrote: "3/12", "-1", "99999999", "2011-03-04".
//! Each is parsed leniently and anything out of range becomes "unknown" rather than an error.

use std::io::{Read, Seek};
use std::path::Path;

use lofty::config::ParseOptions;
use lofty::file::{AudioFile, TaggedFile, TaggedFileExt};
use lofty::probe::Probe;
use lofty::tag::{ItemKey, Tag};

use super::LibraryError;
use crate::track::{same_name, tag_text, Name, ReplayGain, Track, VARIOUS_ARTISTS};

/// Reads tags and properties; a file without a title is named after its file stem.
pub(crate) fn read_tags(path: &Path) -> Result<Track, LibraryError> {
    // lofty can panic on a damaged file; that file fails with the reason, the scan goes on.
    let file = std::fs::File::open(path)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    read_guarded(std::io::BufReader::new(file), len, path)
}

/// [`read_tags`] for a file's bytes (the format is told from its content); `path` names the
/// file for a title from its name.
pub fn read_tags_from_bytes(bytes: &[u8], path: &Path) -> Result<Track, LibraryError> {
    read_guarded(std::io::Cursor::new(bytes), bytes.len() as u64, path)
}

/// lofty on `reader` (a file of `len` bytes), with its panics caught and its reads budgeted:
/// on some damaged ADTS streams lofty's frame search never ends, seeking and reading in a loop.
fn read_guarded<R: Read + Seek>(reader: R, len: u64, path: &Path) -> Result<Track, LibraryError> {
    let exhausted = std::rc::Rc::new(std::cell::Cell::new(false));
    let reader = Budgeted {
        inner: reader,
        calls_left: 200_000 + len / 16,
        exhausted: exhausted.clone(),
    };
    let tagged = crate::guard::guarded(|| {
        Ok::<_, LibraryError>(Probe::new(reader).options(parse_options()).guess_file_type()?.read()?)
    })
    .unwrap_or_else(|panic| Err(LibraryError::Panicked(panic)));
    match tagged {
        Ok(tagged) => Ok(tags_of(&tagged, path)),
        Err(_) if exhausted.get() => Err(LibraryError::Endless),
        Err(e) => Err(e),
    }
}

/// A reader that fails once it has been read or sought more often than a file of its size can
/// need.
struct Budgeted<R> {
    inner: R,
    calls_left: u64,
    exhausted: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R> Budgeted<R> {
    fn spend(&mut self) -> std::io::Result<()> {
        if self.calls_left == 0 {
            self.exhausted.set(true);
            return Err(std::io::Error::other("read budget exhausted"));
        }
        self.calls_left -= 1;
        Ok(())
    }
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.spend()?;
        self.inner.read(buf)
    }
}

impl<R: Seek> Seek for Budgeted<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.spend()?;
        self.inner.seek(pos)
    }
}

fn parse_options() -> ParseOptions {
    ParseOptions::new().read_cover_art(true)
}

/// The tag-to-track mapping: what the index keeps of a file's tags and properties. This is
/// skipless's own code, outside the guard: it must not panic whatever the tags hold.
pub(crate) fn tags_of(tagged: &TaggedFile, path: &Path) -> Track {
    let props = tagged.properties();
    let duration = props.duration();
    // A primary tag first, then any other tag the file carries (ID3v1 beside ID3v2, ...).
    let mut tags: Vec<&Tag> = Vec::new();
    if let Some(primary) = tagged.primary_tag() {
        tags.push(primary);
    }
    tags.extend(
        tagged
            .tags()
            .iter()
            .filter(|t| Some(t.tag_type()) != tagged.primary_tag().map(|p| p.tag_type())),
    );
    let text = |key: ItemKey| -> Option<String> { tags.iter().filter_map(|t| t.get_string(key)).find_map(tag_text) };
    // Names a tag may hold several of (two artists, two genres): every value of the first tag
    // that has one, each once, joined as players show them ("Simon; Garfunkel").
    let names = |key: ItemKey| -> Option<Name> {
        tags.iter().find_map(|t| {
            let mut values: Vec<String> = Vec::new();
            for value in t.get_strings(key).flat_map(|v| v.split('\0')).filter_map(tag_text) {
                if !values.iter().any(|seen| same_name(seen, &value)) {
                    values.push(value);
                }
            }
            (!values.is_empty()).then(|| Name::from(values.join("; ")))
        })
    };
    // A compilation flagged as one (iTunes' `cpil`, ID3's TCMP) without an album artist is filed
    // under "Various Artists", as iTunes files it, so that its tracks stay one album.
    let compilation = text(ItemKey::FlagCompilation)
        .is_some_and(|flag| flag.eq_ignore_ascii_case("true") || flag.trim().parse::<u32>().is_ok_and(|n| n > 0));
    let title = text(ItemKey::TrackTitle).unwrap_or_else(|| title_from_file_name(path));
    let year = text(ItemKey::Year)
        .or_else(|| text(ItemKey::RecordingDate))
        .or_else(|| text(ItemKey::OriginalReleaseDate))
        .and_then(|s| parse_year(&s));
    let gain = |key: ItemKey| text(key).and_then(|s| parse_decibels(&s));
    // Opus files carry their gain as R128_TRACK_GAIN / R128_ALBUM_GAIN (RFC 7845): a Q7.8 number
    // of dB to EBU R128's -23 LUFS, 5 dB below ReplayGain's reference of -18 LUFS.
    let r128 = |key: ItemKey| {
        text(key)
            .and_then(|s| s.trim().parse::<i16>().ok())
            .map(|q78| f32::from(q78) / 256.0 + 5.0)
    };
    Track {
        id: 0,
        path: path.to_path_buf(),
        title,
        artist: names(ItemKey::TrackArtist),
        album_artist: names(ItemKey::AlbumArtist).or_else(|| compilation.then(|| Name::from(VARIOUS_ARTISTS))),
        album: text(ItemKey::AlbumTitle).map(Name::from),
        track_no: text(ItemKey::TrackNumber).and_then(|s| parse_index(&s)),
        disc_no: text(ItemKey::DiscNumber).and_then(|s| parse_index(&s)),
        year,
        genre: names(ItemKey::Genre),
        // An MP4's own length counts its encoder's priming and padding; its edit list says
        // what plays, as the decoder cuts it.
        duration_ms: (tagged.file_type() == lofty::file::FileType::Mp4)
            .then(|| crate::mp4_trim::read(path))
            .flatten()
            .filter(|trim| Some(trim.scale) == props.sample_rate() && trim.frames > 0)
            .map(|trim| trim.duration_ms())
            .or((!duration.is_zero()).then_some(duration.as_millis() as u64)),
        sample_rate: props.sample_rate().filter(|&r| r > 0),
        channels: props.channels().filter(|&c| c > 0),
        bitrate_kbps: props.audio_bitrate().or(props.overall_bitrate()).filter(|&b| b > 0),
        has_cover: tags.iter().any(|t| !t.pictures().is_empty()),
        replay_gain: ReplayGain {
            track_gain: gain(ItemKey::ReplayGainTrackGain).or_else(|| r128(ItemKey::R128TrackGain)),
            track_peak: gain(ItemKey::ReplayGainTrackPeak),
            album_gain: gain(ItemKey::ReplayGainAlbumGain).or_else(|| r128(ItemKey::R128AlbumGain)),
            album_peak: gain(ItemKey::ReplayGainAlbumPeak),
        },
    }
}

/// "03 - Some_Song.flac" -> "03 - Some Song"; the whole path where the name has nothing to show.
pub(crate) fn title_from_file_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().replace('_', " "))
        .unwrap_or_default();
    tag_text(&stem)
        .or_else(|| tag_text(&path.to_string_lossy()))
        .unwrap_or_default()
}

/// Track or disc number: "3", "03", "3/12". Zero, negative or absurd values are unknown.
pub(crate) fn parse_index(s: &str) -> Option<u16> {
    let head = s.split('/').next()?.trim();
    let n: u16 = head.parse().ok()?;
    (1..=9_999).contains(&n).then_some(n)
}

/// The year in "2011", "2011-03-04", "2011-03-04T10:00:00"; plausible years only.
pub(crate) fn parse_year(s: &str) -> Option<i16> {
    let digits: String = s.trim().chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.len() != 4 {
        return None;
    }
    let year: i16 = digits.parse().ok()?;
    (1000..=2999).contains(&year).then_some(year)
}

/// "-6.50 dB", "+1.2", "0.98765" -> a finite number.
pub(crate) fn parse_decibels(s: &str) -> Option<f32> {
    let number = s
        .trim()
        .trim_end_matches(|c: char| c.is_alphabetic() || c.is_whitespace());
    let value: f32 = number.trim_start_matches('+').parse().ok()?;
    (value.is_finite() && value.abs() < 100.0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_numbers() {
        assert_eq!(parse_index("3/12"), Some(3));
        assert_eq!(parse_index("07"), Some(7));
        assert_eq!(parse_index("-1"), None);
        assert_eq!(parse_index("0"), None);
        assert_eq!(parse_index("4294967296"), None);
        assert_eq!(parse_index("99999"), None);
        assert_eq!(parse_year("2011-03-04"), Some(2011));
        assert_eq!(parse_year("20110"), None);
        assert_eq!(parse_year("-2011"), None);
        assert_eq!(parse_decibels("-6.50 dB"), Some(-6.5));
        assert_eq!(parse_decibels("+1.25 dB"), Some(1.25));
        assert_eq!(parse_decibels("NaN"), None);
    }

    /// Every value of a name tag is kept, each once, in every format; a file flagged as part of
    /// a compilation without an album artist is filed under "Various Artists".
    #[test]
    fn several_artists_and_genres_are_kept_and_a_flagged_compilation_is_various_artists() {
        use lofty::file::{AudioFile, TaggedFileExt};
        use lofty::tag::{ItemValue, TagItem};
        let dir = tempfile::tempdir().unwrap();
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
        for name in ["sad.ogg", "defeat.flac", "transience.id3v24.mp3", "elf-land.m4a"] {
            let path = dir.path().join(name);
            std::fs::copy(corpus.join(name), &path).unwrap();
            let mut file = lofty::read_from_path(&path).unwrap();
            let tag = file.primary_tag_mut().unwrap();
            tag.remove_key(ItemKey::TrackArtist);
            tag.remove_key(ItemKey::AlbumArtist);
            tag.remove_key(ItemKey::Genre);
            for (key, value) in [
                (ItemKey::TrackArtist, "Simon"),
                (ItemKey::TrackArtist, "Garfunkel"),
                (ItemKey::TrackArtist, "simon"),
                (ItemKey::Genre, "Folk"),
                (ItemKey::Genre, "Rock"),
                (ItemKey::FlagCompilation, "1"),
            ] {
                tag.push(TagItem::new(key, ItemValue::Text(value.into())));
            }
            file.save_to_path(&path, lofty::config::WriteOptions::default())
                .unwrap();
            let track = read_tags(&path).unwrap();
            assert_eq!(track.artist.as_deref(), Some("Simon; Garfunkel"), "{name}");
            assert_eq!(track.genre.as_deref(), Some("Folk; Rock"), "{name}");
            assert_eq!(track.album_artist.as_deref(), Some(VARIOUS_ARTISTS), "{name}");
        }
    }

    #[test]
    fn opus_gains_in_r128_tags_are_read_as_replaygain() {
        use lofty::file::{AudioFile, TaggedFileExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r128.opus");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus/menu.opus"),
            &path,
        )
        .unwrap();
        let mut file = lofty::read_from_path(&path).unwrap();
        let tag = file.primary_tag_mut().unwrap();
        tag.insert_text(ItemKey::R128TrackGain, "-2432".into());
        tag.insert_text(ItemKey::R128AlbumGain, "256".into());
        file.save_to_path(&path, lofty::config::WriteOptions::default())
            .unwrap();
        let gains = read_tags(&path).unwrap().replay_gain;
        // -2432/256 = -9.5 dB to -23 LUFS: -4.5 dB to ReplayGain's -18 LUFS.
        assert_eq!((gains.track_gain, gains.album_gain), (Some(-4.5), Some(6.0)));
    }

    #[test]
    fn huge_text_is_clipped_on_a_character_boundary() {
        let huge = "é".repeat(1 << 20);
        let clipped = tag_text(&huge).unwrap();
        assert_eq!(clipped.chars().count(), crate::track::MAX_TAG_CHARS + 1);
        assert!(clipped.ends_with('…'));
        assert_eq!(tag_text("short").as_deref(), Some("short"));
    }

    #[test]
    fn title_from_name() {
        assert_eq!(title_from_file_name(Path::new("/m/03_Some_Song.flac")), "03 Some Song");
        assert_eq!(title_from_file_name(Path::new("/m/new\nline\t.ogg")), "new line");
        // A name with nothing to show gives the path.
        assert_eq!(title_from_file_name(Path::new("/m/\u{200b}.ogg")), "/m/.ogg");
    }
}
