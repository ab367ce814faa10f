//! Matching imported plays to library tracks ([`Matcher`], [`match_key`]).
//!
//! Other services spell the same track differently from local tags: case, accents, punctuation,
//! "feat." credits, several artists in one field, "(Remastered 2011)" or "- 2011 Remaster" suffixes,
//! "(Deluxe Edition)" albums. Both sides are reduced to the same key: the main artist and the
//! title, folded to lower-case letters and digits without accents. The album only breaks ties
//! between library tracks with the same key.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::db::tracks;
use crate::track::{base_letters, Track};
use unicode_normalization::char::is_combining_mark;

/// Separates the artist and title parts of a key; never left in a folded string.
const SEP: char = '\u{1f}';

/// The key an imported play and a library track share when they are the same recording.
pub(crate) fn match_key(artist: &str, title: &str) -> String {
    format!("{}{SEP}{}", artist_key(artist), title_key(title))
}

/// The main artist: credits after "feat." and further artists of a list dropped.
pub(crate) fn artist_key(artist: &str) -> String {
    let folded = fold(artist);
    let main = strip_featuring(&folded);
    let main = [", ", "; ", " & ", " x ", " / ", " vs. ", " vs "]
        .iter()
        .filter_map(|sep| main.find(sep))
        .min()
        .map_or(main, |at| &main[..at]);
    words(main)
}

/// The title without featured artists or remaster notes.
pub(crate) fn title_key(title: &str) -> String {
    let folded = fold(title);
    let bare = strip_suffixes(strip_featuring(&folded), &["remaster"]);
    words(&bare)
}

/// The album without remaster or edition notes.
pub(crate) fn album_key(album: &str) -> String {
    let folded = fold(album);
    let bare = strip_suffixes(
        &folded,
        &["remaster", "deluxe", "edition", "expanded", "anniversary", "bonus"],
    );
    words(&bare)
}

/// Lower case, compatibility forms unfolded, accents removed ([`base_letters`]).
fn fold(s: &str) -> String {
    base_letters(s).collect()
}

/// Cuts a folded string at its first featuring credit.
fn strip_featuring(s: &str) -> &str {
    const MARKS: [&str; 17] = [
        "(feat.",
        "(feat ",
        "[feat.",
        "[feat ",
        "(ft.",
        "(ft ",
        "[ft.",
        "[ft ",
        "(featuring ",
        "[featuring ",
        "(with ",
        " feat. ",
        " feat ",
        " ft. ",
        " ft ",
        " featuring ",
        " w/ ",
    ];
    MARKS
        .iter()
        .filter_map(|mark| s.find(mark))
        .min()
        .map_or(s, |at| &s[..at])
}

/// Drops trailing "(...)", "[...]" and " - ..." parts that mention one of `notes`.
fn strip_suffixes(s: &str, notes: &[&str]) -> String {
    let mut s = s.trim_end();
    loop {
        let mentions = |part: &str| notes.iter().any(|note| part.contains(note));
        let cut = if let Some(open) = s.strip_suffix(')').and_then(|rest| rest.rfind('(')) {
            mentions(&s[open..]).then_some(open)
        } else if let Some(open) = s.strip_suffix(']').and_then(|rest| rest.rfind('[')) {
            mentions(&s[open..]).then_some(open)
        } else {
            s.rfind(" - ").filter(|&at| mentions(&s[at..]))
        };
        match cut {
            Some(at) if at > 0 => s = s[..at].trim_end(),
            _ => return s.to_owned(),
        }
    }
}

/// Letters and digits, one space between words; apostrophes join ("don't" = "dont"), "&" = "and".
fn words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_alphanumeric() || is_combining_mark(c) {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        } else if c == '&' {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str("and");
            space = true;
        } else if !matches!(c, '\'' | '\u{2019}' | '`' | '\u{b4}') {
            space = true;
        }
    }
    if out.is_empty() {
        // A title of punctuation alone still needs a key of its own.
        return s.trim().to_owned();
    }
    out
}

/// A library track a key can point to.
#[derive(Debug, Clone)]
struct Candidate {
    track_id: i64,
    album: String,
    duration_ms: Option<u64>,
}

/// A matched library track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MatchedTrack {
    pub track_id: i64,
    pub duration_ms: Option<u64>,
}

/// The library's playable tracks by match key, and every track the index has ever held (gone
/// and failed ones too), which plays in the log may name.
#[derive(Debug, Default)]
pub(crate) struct Matcher {
    by_key: HashMap<String, Vec<Candidate>>,
    not_playable: HashMap<String, Vec<i64>>,
}

impl Matcher {
    /// Indexes the library's tracks under their artist and, when different, their album artist.
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Matcher> {
        let mut matcher = Matcher::of(&tracks::tracks_in_id_order(conn)?);
        tracks::each_track_in_id_order(conn, tracks::TrackRows::NotPlayable, |track| {
            for key in keys_of(&track) {
                matcher.not_playable.entry(key).or_default().push(track.id);
            }
        })?;
        Ok(matcher)
    }

    /// Indexes the playable `tracks` (in their order) under their artist and, when different,
    /// their album artist.
    fn of(tracks: &[Track]) -> Matcher {
        let mut matcher = Matcher::default();
        for track in tracks {
            let candidate = Candidate {
                track_id: track.id,
                album: track.album.as_deref().map(album_key).unwrap_or_default(),
                duration_ms: track.duration_ms,
            };
            for key in keys_of(track) {
                matcher.by_key.entry(key).or_default().push(candidate.clone());
            }
        }
        matcher
    }

    /// Every track of `key` ([`match_key`]) that plays in the log may name: several files can
    /// hold one song, and a track whose folder was removed or whose file went keeps its plays.
    pub(crate) fn tracks_of(&self, key: &str) -> Vec<i64> {
        let playable = self.by_key.get(key).into_iter().flatten().map(|c| c.track_id);
        let not_playable = self.not_playable.get(key).into_iter().flatten().copied();
        playable.chain(not_playable).collect()
    }

    /// The track for `key` ([`match_key`]); among several, the one on `album`, else the first indexed.
    pub(crate) fn find(&self, key: &str, album: Option<&str>) -> Option<MatchedTrack> {
        let candidates = self.by_key.get(key)?;
        let on_album = album
            .map(album_key)
            .and_then(|album| candidates.iter().find(|c| !album.is_empty() && c.album == album));
        let best = on_album.or_else(|| candidates.first())?;
        Some(MatchedTrack {
            track_id: best.track_id,
            duration_ms: best.duration_ms,
        })
    }
}

/// The match keys `track` is found under: its artist's (or album artist's, without one) and,
/// when different, its album artist's.
fn keys_of(track: &Track) -> Vec<String> {
    let main = track.artist.as_deref().or(track.album_artist.as_deref()).unwrap_or("");
    let key = match_key(main, &track.title);
    let mut keys = vec![key];
    if let Some(album_artist) = track.album_artist.as_deref() {
        let other = match_key(album_artist, &track.title);
        if other != keys[0] {
            keys.push(other);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_track_share_a_key() {
        let key = match_key("Beyoncé", "Halo");
        assert_eq!(match_key("BEYONCE", "halo"), key);
        assert_eq!(match_key("Beyoncé feat. Jay-Z", "Halo (feat. Someone)"), key);
        assert_eq!(match_key("Beyonce, Jay-Z", "Halo - 2011 Remaster"), key);
        assert_eq!(match_key("Beyoncé & Jay-Z", "Halo (Remastered 2011)"), key);
        assert_eq!(match_key("beyoncé", "Halo [2009 Remaster]"), key);
        assert_ne!(match_key("Beyoncé", "Halo (Live)"), key);
        assert_ne!(match_key("Someone Else", "Halo"), key);
    }

    #[test]
    fn punctuation_and_apostrophes() {
        assert_eq!(title_key("Don't Stop Me Now"), title_key("Dont Stop Me Now!"));
        assert_eq!(title_key("Rock & Roll"), title_key("rock and roll"));
        assert_eq!(title_key("Mr. Brightside"), "mr brightside");
        assert_eq!(title_key("Ｆｕｌｌ Width"), "full width");
        assert_eq!(title_key("?"), "?");
        assert_eq!(title_key("ये प्यार नहीं"), "ये प्यार नहीं");
        assert_ne!(title_key("नहीं"), title_key("नह"));
    }

    #[test]
    fn album_notes_are_dropped() {
        assert_eq!(album_key("Abbey Road (Remastered 2009)"), "abbey road");
        assert_eq!(album_key("1989 (Deluxe Edition)"), "1989");
        assert_eq!(album_key("Help! - Remastered"), "help");
    }
}
