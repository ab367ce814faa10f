//! The one track type ([`Track`]): a music file and what its tags and audio properties say,
//! as the scanner reads it, the index stores it and every other part shows, plays, recommends
//! and publishes it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

/// ReplayGain values in dB (gain) and linear amplitude (peak).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ReplayGain {
    #[serde(rename = "rg_track_gain")]
    pub track_gain: Option<f32>,
    #[serde(skip)]
    pub track_peak: Option<f32>,
    #[serde(rename = "rg_album_gain")]
    pub album_gain: Option<f32>,
    #[serde(skip)]
    pub album_peak: Option<f32>,
}

/// What the lists call a track's artist and album when its tags give none.
pub const UNKNOWN_ARTIST: &str = "Unknown artist";
pub const UNKNOWN_ALBUM: &str = "Unknown album";
/// The album artist of a compilation whose tags flag it as one and name no album artist.
pub const VARIOUS_ARTISTS: &str = "Various Artists";

/// An artist, album or genre name. Read from the index through [`Names`], each distinct name
/// is held once, however many tracks carry it.
pub type Name = Arc<str>;

/// The longest tag text kept, in characters. lofty reads text fields of any size (a damaged or
/// hostile file can carry a 1 MB title); the index, the screen and the recommender keep this much.
pub const MAX_TAG_CHARS: usize = 1_000;

/// A tag's text as the index keeps it, or `None` when nothing visible is left (a tag of
/// spaces, NULs or invisible characters). One line, in Unicode's composed form (NFC: an "é"
/// written as "e" and an accent is the same name as the one character), each run of white space
/// (line breaks and tabs too) one space, without control characters or the invisible ones that
/// reorder or hide text (bidirectional overrides, zero-width spaces, byte-order marks), and
/// clipped to [`MAX_TAG_CHARS`] characters with "…". Joiners stay: emoji sequences and several
/// scripts need them. U+0080 to U+009F, control characters in Unicode, are what a Latin-1 tag
/// written by Windows software holds for its punctuation (’ – … “ ”): they are read as such.
pub fn tag_text(raw: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let mut text = String::with_capacity(raw.len());
    let mut space = false;
    let windows_1252 = raw.chars().map(|c| match c {
        '\u{80}'..='\u{9f}' => {
            let byte = [c as u8];
            let (decoded, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
            decoded.chars().next().filter(|d| !d.is_control()).unwrap_or(' ')
        }
        c => c,
    });
    // NUL separates the values of a tag in some formats.
    for c in windows_1252.nfc() {
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
    if text.chars().all(is_invisible) {
        return None;
    }
    Some(match text.char_indices().nth(MAX_TAG_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    })
}

/// Characters that show nothing and change how the rest reads: bidirectional embeddings,
/// overrides and isolates, zero-width spaces and byte-order marks.
fn is_hidden(c: char) -> bool {
    matches!(c, '\u{200b}' | '\u{202a}'..='\u{202e}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Characters that show nothing on their own: joiners, direction marks, soft hyphens, invisible
/// operators, variation selectors, Hangul fillers and tag characters. Kept inside a name, but no
/// name alone.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{115f}'
            | '\u{180e}'
            | '\u{200c}'..='\u{200f}'
            | '\u{2061}'..='\u{2064}'
            | '\u{061c}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{ffa0}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// The order of names in the lists: letters first as their base letters in any case ("É" with
/// "E", full-width "ＡＢ" with "AB"), then as written in any case, so that an artist spelled with
/// and without accents makes two neighbouring groups and "ÉLAN" and "élan" one.
pub fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    // Most comparisons in a sorted library are of one artist's or album's name with itself.
    if a == b {
        return std::cmp::Ordering::Equal;
    }
    if a.is_ascii() && b.is_ascii() {
        return a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()));
    }
    base_letters(a)
        .cmp(base_letters(b))
        .then_with(|| any_case(a).cmp(any_case(b)))
}

/// Whether two names are one in the lists: equal in any case (see [`name_order`]).
pub fn same_name(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    any_case(a).eq(any_case(b))
}

/// Whether `text` begins with `prefix`, compared as [`same_name`] compares names.
pub(crate) fn starts_with_name(text: &str, prefix: &str) -> bool {
    let mut text = any_case(text);
    any_case(prefix).all(|c| text.next() == Some(c))
}

/// The letters of `s` composed (an "e" and a combining accent as the one "é" a keyboard types:
/// names typed or pasted need not come composed, as tags are kept), in lower case, folded.
fn any_case(s: &str) -> impl Iterator<Item = char> + '_ {
    use unicode_normalization::UnicodeNormalization;
    s.nfc().flat_map(char::to_lowercase).flat_map(folded)
}

/// The letters a lower-case letter compares as: a final sigma as a sigma ("ΦΩΣ" is "Φως"), "ß"
/// as "ss" ("STRASSE" is "Straße").
fn folded(c: char) -> impl Iterator<Item = char> {
    let (first, second) = match c {
        'ς' => ('σ', None),
        'ß' => ('s', Some('s')),
        c => (c, None),
    };
    std::iter::once(first).chain(second)
}

/// A name as the key of a map that must group what [`same_name`] calls one name.
pub fn name_key(s: &str) -> String {
    any_case(s.trim()).collect()
}

/// Compatibility forms unfolded (full-width letters, ligatures), the combining diacritics
/// dropped (only that block: the vowel signs of Indic scripts are marks too, and make other
/// words), in any case.
pub fn base_letters(s: &str) -> impl Iterator<Item = char> + '_ {
    use unicode_normalization::UnicodeNormalization;
    s.nfkd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .flat_map(char::to_lowercase)
        .flat_map(folded)
}

/// Hands out one shared copy of each distinct name it is given.
#[derive(Debug, Default)]
pub struct Names(HashSet<Name>);

impl Names {
    pub fn intern(&mut self, name: &str) -> Name {
        if let Some(known) = self.0.get(name) {
            return known.clone();
        }
        let name: Name = Arc::from(name);
        self.0.insert(name.clone());
        name
    }
}

/// Shared tracks found by id: kept sorted by id, a pointer a track where a hash map takes
/// three times that.
#[derive(Debug, Clone, Default)]
pub struct TracksById(Vec<Arc<Track>>);

impl TracksById {
    pub fn get(&self, id: i64) -> Option<&Arc<Track>> {
        let at = self.0.binary_search_by_key(&id, |t| t.id).ok()?;
        self.0.get(at)
    }

    /// Adds `track`, or replaces the one with its id.
    pub fn insert(&mut self, track: Arc<Track>) {
        match self.0.binary_search_by_key(&track.id, |t| t.id) {
            Ok(at) => self.0[at] = track,
            Err(at) => self.0.insert(at, track),
        }
    }

    /// In id order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Track>> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Arc<Track>> for TracksById {
    /// Where two tracks share an id, the first is kept.
    fn from_iter<I: IntoIterator<Item = Arc<Track>>>(tracks: I) -> Self {
        let mut tracks: Vec<Arc<Track>> = tracks.into_iter().collect();
        tracks.sort_by_key(|t| t.id);
        tracks.dedup_by_key(|t| t.id);
        tracks.shrink_to_fit();
        TracksById(tracks)
    }
}

/// One music file. `id` is its row in the index, 0 for a file not stored there (a file just
/// read by the scanner, or a play known only by its tags, as in a listening-history export).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Track {
    pub id: i64,
    #[serde(serialize_with = "serialize_path")]
    pub path: PathBuf,
    pub title: String,
    pub artist: Option<Name>,
    pub album: Option<Name>,
    pub album_artist: Option<Name>,
    pub track_no: Option<u16>,
    pub disc_no: Option<u16>,
    pub year: Option<i16>,
    pub genre: Option<Name>,
    pub duration_ms: Option<u64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
    pub bitrate_kbps: Option<u32>,
    /// The file embeds a picture.
    pub has_cover: bool,
    #[serde(flatten)]
    pub replay_gain: ReplayGain,
}

fn serialize_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

impl Track {
    /// A track with only an id, a path and a title, for the tests of what holds tracks.
    #[cfg(test)]
    pub(crate) fn placeholder(id: i64) -> Track {
        Track {
            id,
            path: format!("/m/{id}.ogg").into(),
            title: format!("t{id}"),
            ..Track::default()
        }
    }

    /// "Artist – Title", or the title alone.
    pub fn display_name(&self) -> String {
        match &self.artist {
            Some(artist) => format!("{artist} – {}", self.title),
            None => self.title.clone(),
        }
    }

    /// Whom the track's album is filed under: its album artist, or else its own artist. Two
    /// tracks are on one album when the album title and this agree: a "Greatest Hits" of one
    /// artist is not another's, while a compilation's tracks share it across their artists.
    pub fn album_owner(&self) -> Option<&Name> {
        self.album_artist.as_ref().or(self.artist.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: i64, title: &str) -> Arc<Track> {
        Arc::new(Track {
            id,
            title: title.into(),
            ..Track::default()
        })
    }

    #[test]
    fn tracks_are_found_by_id_whatever_order_they_came_in() {
        let mut by_id: TracksById = [track(7, "g"), track(-2, "outside"), track(3, "c"), track(7, "second g")]
            .into_iter()
            .collect();
        assert_eq!(by_id.iter().map(|t| t.id).collect::<Vec<_>>(), [-2, 3, 7]);
        assert_eq!(
            by_id.get(7).map(|t| t.title.as_str()),
            Some("g"),
            "the first of two with one id is kept"
        );
        assert!(by_id.get(4).is_none());
        by_id.insert(track(4, "d"));
        by_id.insert(track(3, "new c"));
        assert_eq!(
            by_id.iter().map(|t| (t.id, t.title.as_str())).collect::<Vec<_>>(),
            [(-2, "outside"), (3, "new c"), (4, "d"), (7, "g")]
        );
    }

    #[test]
    fn a_name_is_interned_once() {
        let mut names = Names::default();
        let a = names.intern("Nina Simone");
        let b = names.intern("Nina Simone");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(
            !Arc::ptr_eq(&a, &names.intern("nina simone")),
            "names are kept as written"
        );
    }

    #[test]
    fn names_equal_in_any_case_are_one_in_every_script() {
        assert!(same_name("ΦΩΣ", "Φως") && name_key("ΦΩΣ") == name_key(" Φως "));
        assert!(same_name("STRASSE", "Straße") && name_order("STRASSE", "Straße").is_eq());
        // A name typed so far is the start of one as the two compare whole.
        assert!(starts_with_name("Straße 12", "STRASS") && starts_with_name("Φως", "ΦΩ"));
        assert!(!starts_with_name("Strand", "STRASS") && starts_with_name("abc", ""));
    }

    #[test]
    fn names_sort_by_their_base_letters_then_in_any_case() {
        let mut names = vec![
            "Zed",
            "élan",
            "Elan",
            "ÉLAN",
            "Ezra",
            "Ｅｌａｎ",
            "abba",
            "Ábba",
            "ABBA",
            "Åsa",
        ];
        names.sort_by(|a, b| name_order(a, b));
        // "É" sorts with "E", not after "Z"; names equal in any case stay neighbours, so the lists
        // group them as one.
        assert_eq!(
            names,
            [
                "abba",
                "ABBA",
                "Ábba",
                "Åsa",
                "Elan",
                "élan",
                "ÉLAN",
                "Ｅｌａｎ",
                "Ezra",
                "Zed"
            ]
        );
        assert!(same_name("élan", "ÉLAN") && same_name("abba", "ABBA"));
        assert!(!same_name("Elan", "élan") && !same_name("Ábba", "abba"));
        // An accent typed as a letter and a combining mark is the one letter.
        assert!(same_name("E\u{301}lan", "élan") && name_order("E\u{301}lan", "ÉLAN").is_eq());
        // Grouping follows the order: the same name, and only it, compares equal.
        for a in &names {
            for b in &names {
                assert_eq!(same_name(a, b), name_order(a, b).is_eq(), "{a} {b}");
            }
        }
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
        assert_eq!(tag_text("abc\u{202e}dcba").as_deref(), Some("abcdcba"));
        // A Latin-1 tag written by Windows software: its punctuation is read as such; a byte
        // Windows-1252 leaves undefined separates words.
        assert_eq!(
            tag_text("Don\u{92}t Stop \u{96} Rock\u{85}\u{81}Roll").as_deref(),
            Some("Don’t Stop – Rock… Roll")
        );
        assert_eq!(tag_text("\u{feff}Title\u{200b}").as_deref(), Some("Title"));
        assert_eq!(tag_text("One\0Two\0").as_deref(), Some("One Two"));
        // Joiners make emoji and words in several scripts: kept inside, no name alone.
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        assert_eq!(tag_text(family).as_deref(), Some(family));
        for nothing in [
            "",
            " \t\n",
            "\u{200b}\u{200b}",
            "\u{200d}",
            "\0\0",
            "\u{202e}",
            "\u{ad}\u{fe0f}",
            "\u{3164}",
        ] {
            assert_eq!(tag_text(nothing), None, "{nothing:?}");
        }
    }
}
