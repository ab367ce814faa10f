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
use crate::track::{Name, ReplayGain, Track};

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
    let title = text(ItemKey::TrackTitle).unwrap_or_else(|| title_from_file_name(path));
    let year = text(ItemKey::Year)
        .or_else(|| text(ItemKey::RecordingDate))
        .or_else(|| text(ItemKey::OriginalReleaseDate))
        .and_then(|s| parse_year(&s));
    let gain = |key: ItemKey| text(key).and_then(|s| parse_decibels(&s));
    Track {
        id: 0,
        path: path.to_path_buf(),
        title,
        artist: text(ItemKey::TrackArtist).map(Name::from),
        album_artist: text(ItemKey::AlbumArtist).map(Name::from),
        album: text(ItemKey::AlbumTitle).map(Name::from),
        track_no: text(ItemKey::TrackNumber).and_then(|s| parse_index(&s)),
        disc_no: text(ItemKey::DiscNumber).and_then(|s| parse_index(&s)),
        year,
        genre: text(ItemKey::Genre).map(Name::from),
        duration_ms: (!duration.is_zero()).then_some(duration.as_millis() as u64),
        sample_rate: props.sample_rate().filter(|&r| r > 0),
        channels: props.channels().filter(|&c| c > 0),
        bitrate_kbps: props.audio_bitrate().or(props.overall_bitrate()).filter(|&b| b > 0),
        has_cover: tags.iter().any(|t| !t.pictures().is_empty()),
        replay_gain: ReplayGain {
            track_gain: gain(ItemKey::ReplayGainTrackGain),
            track_peak: gain(ItemKey::ReplayGainTrackPeak),
            album_gain: gain(ItemKey::ReplayGainAlbumGain),
            album_peak: gain(ItemKey::ReplayGainAlbumPeak),
        },
    }
}

/// The longest tag text kept, in characters. lofty reads text fields of any size (a damaged or
/// hostile file can carry a 1 MB title); the index, the screen and the recommender keep this much.
pub(crate) const MAX_TAG_CHARS: usize = 1_000;

/// `text` cut to [`MAX_TAG_CHARS`] characters, with "…" where it was cut.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_TAG_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A tag's text as the index keeps it, or `None` when nothing visible is left (a tag of
/// spaces, NULs or zero-width characters). One line, in Unicode's composed form (NFC: an "é"
/// written as "e" and an accent is the same name as the one character), each run of white space
/// (line breaks and tabs too) one space, without control characters or the invisible ones that
/// reorder or hide text (bidirectional overrides, zero-width spaces, byte-order marks), and
/// clipped to [`MAX_TAG_CHARS`]. Joiners stay: emoji sequences and several scripts need them.
pub(crate) fn tag_text(raw: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let mut text = String::with_capacity(raw.len());
    let mut space = false;
    for c in raw.nfc() {
        // NUL separates the values of a tag in some formats.
        if c.is_whitespace() || c == '\0' {
            space = true;
        } else if !(c.is_control() || is_hidden(c)) {
            if space && !text.is_empty() {
                text.push(' ');
            }
            space = false;
            text.push(c);
        }
    }
    text.chars().any(|c| !is_joiner(c)).then(|| clip(&text))
}

/// Characters that show nothing and change how the rest reads: bidirectional embeddings,
/// overrides and isolates, zero-width spaces and byte-order marks.
fn is_hidden(c: char) -> bool {
    matches!(c, '\u{200b}' | '\u{202a}'..='\u{202e}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Zero-width joiners and direction marks: kept inside a name, but no name on their own.
fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200c}'..='\u{200f}')
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

    #[test]
    fn huge_text_is_clipped_on_a_character_boundary() {
        let huge = "é".repeat(1 << 20);
        let clipped = clip(&huge);
        assert_eq!(clipped.chars().count(), MAX_TAG_CHARS + 1);
        assert!(clipped.ends_with('…'));
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn title_from_name() {
        assert_eq!(title_from_file_name(Path::new("/m/03_Some_Song.flac")), "03 Some Song");
        assert_eq!(title_from_file_name(Path::new("/m/new\nline\t.ogg")), "new line");
        // A name with nothing to show gives the path.
        assert_eq!(title_from_file_name(Path::new("/m/\u{200b}.ogg")), "/m/.ogg");
    }

    #[test]
    fn tag_text_is_one_line_in_one_form_without_hidden_characters() {
        // An "é" written as "e" and a combining accent is the one character.
        assert_eq!(tag_text("Beyonce\u{301}").as_deref(), Some("Beyoncé"));
        assert_eq!(
            tag_text("  Line one\r\n\tLine two  ").as_deref(),
            Some("Line one Line two")
        );
        assert_eq!(
            tag_text("Evil\x1b]0;pwned\x07\x1b[2J").as_deref(),
            Some("Evil]0;pwned[2J")
        );
        assert_eq!(tag_text("abc\u{202e}dcba\u{9b}").as_deref(), Some("abcdcba"));
        assert_eq!(tag_text("\u{feff}Title\u{200b}").as_deref(), Some("Title"));
        assert_eq!(tag_text("One\0Two\0").as_deref(), Some("One Two"));
        // Joiners make emoji and words in several scripts: kept inside, no name alone.
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        assert_eq!(tag_text(family).as_deref(), Some(family));
        for nothing in ["", " \t\n", "\u{200b}\u{200b}", "\u{200d}", "\0\0", "\u{202e}"] {
            assert_eq!(tag_text(nothing), None, "{nothing:?}");
        }
    }
}
