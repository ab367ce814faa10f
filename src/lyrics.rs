//! Lyrics as the player shows them ([`Lyrics`], [`LyricLine`]): LRC text parsed leniently
//! (several time stamps per line, `[offset:]`, word stamps dropped, malformed lines skipped),
//! plain text kept as it is, and the bytes of a lyrics file decoded whatever its encoding
//! ([`decode_text`]: UTF-8, UTF-16 with a byte-order mark, else Windows-1252, the usual "Latin-1").

/// One line of lyrics; `at_ms` is when it is sung, for synced lyrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LyricLine {
    pub at_ms: Option<u64>,
    pub text: String,
}

/// A track's lyrics: synced lines in time order, or plain lines in the order written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lyrics {
    pub lines: Vec<LyricLine>,
    /// Where they came from, for people ("cover.lrc", "embedded USLT").
    pub source: String,
    /// The lines of LRC text whose time stamp is broken (`[00:99.00]`): (line number from 1,
    /// the stamp). Beside good stamps they are left out, as they have no time; with none good,
    /// the words are shown as plain lyrics.
    pub bad_stamps: Vec<(usize, String)>,
}

impl Lyrics {
    /// Parses LRC text; text without a single time stamp is plain lyrics, line by line. An
    /// `[offset:+N]` (milliseconds; positive shows the lines sooner) is applied to the stamps.
    pub fn parse(text: &str, source: impl Into<String>) -> Lyrics {
        let mut synced: Vec<LyricLine> = Vec::new();
        let mut offset_ms: i64 = 0;
        let mut bad_stamps = Vec::new();
        for (number, raw) in text.lines().enumerate() {
            let tags = leading_tags(raw.trim());
            if let Some(offset) = tags.offset {
                offset_ms = offset;
            }
            if let Some(bad) = tags.bad_stamp {
                bad_stamps.push((number + 1, format!("[{bad}]")));
            }
            let (stamps, rest) = (tags.stamps, tags.rest);
            let words = strip_word_stamps(rest).trim().to_owned();
            synced.extend(stamps.into_iter().map(|at| LyricLine {
                at_ms: Some(at),
                text: words.clone(),
            }));
        }
        if synced.is_empty() {
            let lines: Vec<LyricLine> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !is_id_tag(l.trim()))
                .map(|(number, l)| {
                    // A broken stamp is no word of the song.
                    let text = match bad_stamps.iter().find(|(at, _)| *at == number + 1) {
                        Some((_, stamp)) => l.trim().strip_prefix(stamp.as_str()).unwrap_or(l).trim(),
                        None => l.trim_end(),
                    };
                    LyricLine {
                        at_ms: None,
                        text: text.to_owned(),
                    }
                })
                .collect();
            let end = lines.iter().rposition(|l| !l.text.is_empty()).map_or(0, |i| i + 1);
            let start = lines.iter().position(|l| !l.text.is_empty()).unwrap_or(end);
            return Lyrics {
                lines: lines[start..end].to_vec(),
                source: source.into(),
                bad_stamps,
            };
        }
        for line in &mut synced {
            line.at_ms = line
                .at_ms
                .map(|at| at.saturating_add_signed(offset_ms.saturating_neg()));
        }
        synced.sort_by_key(|l| l.at_ms);
        Lyrics {
            lines: synced,
            source: source.into(),
            bad_stamps,
        }
    }

    /// What is wrong with the text they were read from, in one line: the broken time stamps,
    /// and what became of their lines.
    pub fn problem(&self) -> Option<String> {
        let (first_line, first_stamp) = self.bad_stamps.first()?;
        let what = if self.is_synced() {
            "left out"
        } else {
            "shown without times"
        };
        let lines = match self.bad_stamps.len() {
            1 => "1 line".to_owned(),
            n => format!("{n} lines"),
        };
        Some(format!(
            "{}: line {first_line}: bad time stamp {first_stamp}; {lines} with a bad stamp {what}",
            self.source
        ))
    }

    /// Lyrics from lines already timed (an ID3 `SYLT` frame).
    pub fn from_timed(lines: Vec<(u64, String)>, source: impl Into<String>) -> Lyrics {
        let mut lines: Vec<LyricLine> = lines
            .into_iter()
            .map(|(at, text)| LyricLine {
                at_ms: Some(at),
                text: text.trim().to_owned(),
            })
            .collect();
        lines.sort_by_key(|l| l.at_ms);
        Lyrics {
            lines,
            source: source.into(),
            bad_stamps: Vec::new(),
        }
    }

    pub fn is_synced(&self) -> bool {
        self.lines.first().is_some_and(|l| l.at_ms.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.text.is_empty())
    }

    /// The line being sung at `position_ms` with the listener's `shift_ms` (positive: the
    /// lines come later): the last one whose time has come; `None` before the first, or for
    /// plain lyrics.
    pub fn current(&self, position_ms: u64, shift_ms: i64) -> Option<usize> {
        let at = position_ms.saturating_add_signed(-shift_ms);
        let after = self.lines.partition_point(|l| l.at_ms.is_some_and(|t| t <= at));
        (self.is_synced() && after > 0).then(|| after - 1)
    }
}

/// What starts an LRC line: its time stamps, an `[offset:]`, and a stamp that is broken.
struct LeadingTags<'a> {
    stamps: Vec<u64>,
    /// The line after its tags.
    rest: &'a str,
    offset: Option<i64>,
    /// A tag that starts like a time stamp (`[00:`) and is none (`[00:99.00]`), first on its line.
    bad_stamp: Option<&'a str>,
}

/// The time stamps and the `[offset:]` at the start of an LRC line, and the rest of it. Other
/// tags (`[ar:]`, `[ti:]`) and broken stamps leave no stamps: the line is skipped.
fn leading_tags(mut line: &str) -> LeadingTags<'_> {
    let mut tags = LeadingTags {
        stamps: Vec::new(),
        rest: "",
        offset: None,
        bad_stamp: None,
    };
    while let Some(rest) = line.strip_prefix('[') {
        let Some((tag, after)) = rest.split_once(']') else {
            break;
        };
        if let Some(ms) = parse_stamp(tag) {
            tags.stamps.push(ms);
        } else if let Some(value) = tag
            .get(..7)
            .filter(|t| t.eq_ignore_ascii_case("offset:"))
            .map(|_| &tag[7..])
        {
            tags.offset = value.trim().trim_start_matches('+').parse::<i64>().ok();
        } else if tags.stamps.is_empty() {
            // A metadata tag such as [ar:...]: nothing to sing; or a stamp that is broken.
            let like_a_stamp = tag.split_once(':').is_some_and(|(minutes, rest)| {
                digits(minutes).is_some() && rest.starts_with(|c: char| c.is_ascii_digit())
            });
            tags.bad_stamp = like_a_stamp.then_some(tag);
            return tags;
        } else {
            break;
        }
        line = after;
    }
    tags.rest = line;
    tags
}

/// An LRC line that is only one of LRC's tags about the song (`[ar:Artist]`, `[ti:Title]`,
/// `[offset:+250]`), not words to show; `[Chorus: Singer]` in lyrics is words.
fn is_id_tag(line: &str) -> bool {
    const LRC_TAGS: [&str; 10] = ["ar", "ti", "al", "au", "by", "offset", "re", "ve", "length", "la"];
    line.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|tag| tag.split_once(':'))
        .is_some_and(|(key, _)| LRC_TAGS.contains(&key.trim().to_ascii_lowercase().as_str()))
}

/// `mm:ss`, `mm:ss.x`, `mm:ss.xx`, `mm:ss.xxx` or `mm:ss:xx`, in milliseconds.
fn parse_stamp(tag: &str) -> Option<u64> {
    let (minutes, rest) = tag.split_once(':')?;
    let minutes: u64 = digits(minutes)?.parse().ok()?;
    let (seconds, fraction) = match rest.split_once(['.', ':']) {
        Some((s, f)) => (s, Some(f)),
        None => (rest, None),
    };
    let seconds: u64 = digits(seconds)?.parse().ok()?;
    if seconds >= 60 {
        return None;
    }
    let fraction_ms = match fraction {
        None => 0,
        Some(f) => {
            let f = digits(f)?;
            if f.len() > 3 {
                return None;
            }
            f.parse::<u64>().ok()? * 10u64.pow(3 - f.len() as u32)
        }
    };
    minutes.checked_mul(60_000)?.checked_add(seconds * 1000 + fraction_ms)
}

fn digits(text: &str) -> Option<&str> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// Drops the word stamps of enhanced LRC (`<00:12.34>`).
fn strip_word_stamps(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else { break };
        let inner = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        if parse_stamp(inner).is_none() {
            out.push_str(&rest[open..=open + close]);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether decoded text is text: binary data holds NUL bytes and decodes (as Windows-1252) into
/// control characters, about one in seven of its letters; a lyrics file has no NUL and few
/// controls but line ends and tabs.
pub fn is_text(text: &str) -> bool {
    let control = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
        .count();
    !text.contains('\0') && control * 10 <= text.chars().count()
}

/// The text of a lyrics file: UTF-8 (a byte-order mark dropped), UTF-16 with a byte-order mark,
/// or, when the bytes are not UTF-8, Windows-1252: what "Latin-1" files mostly are, their
/// curly quotes and dashes in bytes 0x80 to 0x9F, which Latin-1 proper makes control
/// characters.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lyrics: &Lyrics) -> Vec<(Option<u64>, &str)> {
        lyrics.lines.iter().map(|l| (l.at_ms, l.text.as_str())).collect()
    }

    #[test]
    fn lrc_with_several_stamps_an_offset_and_bad_lines() {
        let text = "[ar:Someone]\n[ti:A Song]\n[offset:+500]\n\
                    [00:12.00]First line\n\
                    [00:20.50][01:05.25]Chorus <00:21.00>word\n\
                    [0x:12.00]broken stamp\n\
                    [00:99.00]bad seconds\n\
                    no stamp at all\n\
                    [00:15.5]Second line\n\
                    [00:30:10]Colon fraction\n\
                    [00:40]\n";
        let lyrics = Lyrics::parse(text, "test.lrc");
        assert!(lyrics.is_synced());
        // "[0x:12.00]" could be a tag of anything; "[00:99.00]" is a time stamp, broken.
        assert_eq!(lyrics.bad_stamps, [(7, "[00:99.00]".into())]);
        assert_eq!(
            lyrics.problem().as_deref(),
            Some("test.lrc: line 7: bad time stamp [00:99.00]; 1 line with a bad stamp left out")
        );
        // Plain lyrics with a bracket of words keep it.
        let plain = Lyrics::parse("[2nd verse: Someone]\nla la\n", "embedded USLT");
        assert_eq!(texts(&plain), [(None, "[2nd verse: Someone]"), (None, "la la")]);
        assert_eq!(plain.problem(), None);
        // With no good stamp, the words are lyrics without times, and nothing of the stamps.
        let broken = Lyrics::parse(
            "[ar:Someone]\n[00:99.00]only bad seconds\n[01:75.00] also bad\n",
            "b.lrc",
        );
        assert_eq!(texts(&broken), [(None, "only bad seconds"), (None, "also bad")]);
        assert_eq!(
            broken.problem().as_deref(),
            Some("b.lrc: line 2: bad time stamp [00:99.00]; 2 lines with a bad stamp shown without times")
        );
        assert_eq!(Lyrics::parse("[00:01.00]fine\n", "c.lrc").problem(), None);
        assert_eq!(
            texts(&lyrics),
            [
                (Some(11_500), "First line"),
                (Some(15_000), "Second line"),
                (Some(20_000), "Chorus word"),
                (Some(29_600), "Colon fraction"),
                (Some(39_500), ""),
                (Some(64_750), "Chorus word"),
            ]
        );
        // The line being sung, with the listener's shift (positive: later).
        assert_eq!(lyrics.current(0, 0), None);
        assert_eq!(lyrics.current(11_500, 0), Some(0));
        assert_eq!(lyrics.current(16_000, 0), Some(1));
        assert_eq!(lyrics.current(16_000, 1_500), Some(0));
        assert_eq!(lyrics.current(70_000, 0), Some(5));
        // A negative offset shows the lines later.
        let later = Lyrics::parse("[offset:-250]\n[00:01.00]x", "");
        assert_eq!(later.lines[0].at_ms, Some(1_250));
        // The tag's name in any case, as some editors write it.
        let capital = Lyrics::parse("[Offset: -250]\n[00:01.00]x", "");
        assert_eq!(capital.lines[0].at_ms, Some(1_250));
    }

    #[test]
    fn text_without_stamps_is_plain_lyrics() {
        let lyrics = Lyrics::parse("\n\nVerse one\nline two\n\nVerse two\n\n", "embedded");
        assert!(!lyrics.is_synced());
        assert_eq!(
            texts(&lyrics),
            [(None, "Verse one"), (None, "line two"), (None, ""), (None, "Verse two")]
        );
        assert_eq!(lyrics.current(10_000, 0), None);
        assert!(Lyrics::parse("", "").is_empty());
        // The song's tags of an unsynced LRC are not words to show; a bracket in the words is.
        let tagged = Lyrics::parse("[ar:Someone]\n[ti:Song]\nplain words\n[Chorus: Singer]\n", "x.lrc");
        assert_eq!(texts(&tagged), [(None, "plain words"), (None, "[Chorus: Singer]")]);
        assert!(Lyrics::parse("[ar:Someone]\n[ti:Song]\n", "x.lrc").is_empty());
    }

    #[test]
    fn stamps_and_offsets_too_large_for_a_time_do_not_overflow() {
        let lyrics = Lyrics::parse("[99999999999999999:00]too late\n[00:02]fine\n", "x.lrc");
        assert_eq!(texts(&lyrics), [(Some(2000), "fine")]);
        let early = Lyrics::parse("[offset:-9223372036854775808]\n[00:02]held\n", "x.lrc");
        assert_eq!(texts(&early), [(Some(2000 + i64::MAX as u64), "held")]);
        let late = Lyrics::parse("[offset:9223372036854775807]\n[00:02]held\n", "x.lrc");
        assert_eq!(texts(&late), [(Some(0), "held")]);
    }

    #[test]
    fn files_in_latin1_and_utf16_are_read() {
        assert_eq!(decode_text(b"caf\xe9 cr\xe8me"), "café crème");
        assert_eq!(
            decode_text(b"it\x92s \x93sung\x94 \x96 here"),
            "it\u{2019}s \u{201c}sung\u{201d} \u{2013} here"
        );
        assert_eq!(decode_text("café".as_bytes()), "café");
        assert_eq!(decode_text(b"\xEF\xBB\xBFhi"), "hi");
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("[00:01.00]é".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode_text(&le), "[00:01.00]é");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("ok".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode_text(&be), "ok");
    }
}
