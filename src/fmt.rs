//! Text for people: durations, times, cut-to-width and terminal-safe strings ([`printable`]),
//! shared by every front end.

/// "m:ss" (or "h:mm:ss") for a duration in milliseconds.
pub(crate) fn format_duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `text` safe to print on a terminal. C0 control characters (an escape sequence in a tag, a
/// lyric or a playlist name would move the cursor or retitle the window) become "�"; line breaks
/// and tabs stay. C1 control characters (U+0080 to U+009F, which some terminals also take as the
/// start of a sequence) and bidirectional overrides and isolates (which would reverse the rest of
/// a row, its times included) are written as JSON escapes them, `\u009b`, `\u202e`: JSON escapes
/// C0 itself and writes the others as they are, so a JSON line passes through as the same JSON.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| is_c0(c) || is_c1(c) || is_bidi_control(c)) {
        return text.into();
    }
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        if is_c0(c) {
            safe.push('\u{fffd}');
        } else if is_c1(c) || is_bidi_control(c) {
            safe.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            safe.push(c);
        }
    }
    safe.into()
}

fn is_c0(c: char) -> bool {
    c < ' ' && c != '\n' && c != '\t'
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// The columns `s` takes on a terminal: two for a CJK character or an emoji, none for a
/// combining mark.
pub(crate) fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `n` (its thousands separated) and a noun that takes an "s" in the plural: "1 play",
/// "31,778 plays".
pub(crate) fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", group_digits(n), if n == 1 { "" } else { "s" })
}

/// Paths named in a message, comma-separated.
pub(crate) fn paths(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one of `names` most like `word`, if one is close enough to be a likely typo.
pub(crate) fn closest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .map(|name| (strsim::jaro_winkler(word, name), name))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// Cuts `s` to at most `width` columns, marking the cut with "…".
pub(crate) fn truncate(s: &str, width: usize) -> String {
    if self::width(s) <= width {
        return s.to_owned();
    }
    // The cut is measured whole, as the check above measures `s`: a character's width can
    // depend on the one after it (an emoji's variation selector).
    let room = width.saturating_sub(1);
    let mut cut = String::new();
    for c in s.chars() {
        cut.push(c);
        if self::width(&cut) > room {
            cut.pop();
            break;
        }
    }
    // "most…", not "most …": the mark stands for what was cut, not after a space.
    cut.truncate(cut.trim_end().len());
    if width > 0 {
        cut.push('…');
    }
    cut
}

/// `s` cut to `width` columns (see [`truncate`]) and padded with spaces to take exactly that
/// many: a column of a table, whatever the width of its characters (`{:<30}` counts
/// characters, and a wide one takes two columns).
pub(crate) fn column(s: &str, width: usize) -> String {
    let cut = truncate(s, width);
    let pad = width.saturating_sub(self::width(&cut));
    format!("{cut}{}", " ".repeat(pad))
}

/// RFC 3339 UTC time for Unix milliseconds.
pub(crate) fn format_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// Unix milliseconds as the listener's wall-clock time (the system time zone, `TZ`), to the
/// second: "2024-05-29 18:26:46", for text a person reads (JSON keeps [`format_time`]'s UTC).
pub(crate) fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| ms.to_string())
}

/// An RFC 3339 moment (as a checkpoint records when it was trained) in local time, to the
/// minute: "2026-12-03 07:56"; as written, its `T` a space, if it does not read.
pub(crate) fn local_minute(rfc3339: &str) -> String {
    let local = match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) => local_time(t.as_millisecond()),
        Err(_) => rfc3339.replace('T', " "),
    };
    local.get(..16).unwrap_or(&local).to_owned()
}

/// A timing shift in milliseconds as "0.5 s later", "1.0 s sooner" or "on time".
pub(crate) fn format_shift(ms: i64) -> String {
    let seconds = ms.unsigned_abs() as f64 / 1000.0;
    match ms.signum() {
        1 => format!("{seconds:.1} s later"),
        -1 => format!("{seconds:.1} s sooner"),
        _ => "on time".to_owned(),
    }
}

/// A count with thousands separated by commas: "31,778".
pub(crate) fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A long span of listening as "1,327 h", "31 h 5 min", "45 min" or "20 s" (minutes go once
/// the hours reach a hundred).
pub(crate) fn format_listening(ms: u64) -> String {
    let minutes = ms / 60_000;
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{} s", ms / 1000),
        (0, m) => format!("{m} min"),
        (h, _) if h >= 100 => format!("{} h", group_digits(h)),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint's training time is shown in the listener's time zone, as every other time
    /// is, and as written when it does not read as a time.
    #[test]
    fn a_recorded_moment_is_shown_in_local_time_to_the_minute() {
        let at: jiff::Timestamp = "2026-12-03T07:56:50Z".parse().unwrap();
        let local = local_time(at.as_millisecond());
        assert_eq!(local_minute("2026-12-03T07:56:50Z"), local[..16]);
        assert_eq!(local_minute("2026-12-03T07:56:50+00:00"), local[..16]);
        assert_eq!(local_minute("yesterday"), "yesterday");
    }

    #[test]
    fn a_count_of_one_is_singular() {
        assert_eq!(count(1, "play"), "1 play");
        assert_eq!(count(31_778, "play"), "31,778 plays");
        assert_eq!(
            (count(0, "session"), count(2, "track")),
            ("0 sessions".into(), "2 tracks".into())
        );
    }

    #[test]
    fn control_characters_are_not_printed_but_line_breaks_and_tabs_are() {
        assert_eq!(printable("a\tb\nc"), "a\tb\nc");
        assert_eq!(printable("\x1b[31mred\x07"), "\u{fffd}[31mred\u{fffd}");
        assert_eq!(printable("abc\u{202e}cba 3:10"), "abc\\u202ecba 3:10");
        // A C1 control (a cp1252 quote read as U+0092, or CSI) is written as a JSON escape; DEL
        // is no control to a terminal.
        assert_eq!(printable("it\u{92}s\x7f \u{9b}2J"), "it\\u0092s\x7f \\u009b2J");
        let json = serde_json::json!({"title": "a\u{9b}b\u{1b}c\u{202e}d"}).to_string();
        let printed: serde_json::Value = serde_json::from_str(&printable(&json)).unwrap();
        assert_eq!(printed["title"], "a\u{9b}b\u{1b}c\u{202e}d", "the same JSON");
    }

    #[test]
    fn wide_characters_count_as_the_columns_they_take() {
        assert_eq!(width("日本語の歌 🎵"), 13);
        assert_eq!(truncate("日本語の歌", 10), "日本語の歌");
        assert_eq!(truncate("日本語の歌", 9), "日本語の…");
        assert_eq!(truncate("日本語の歌", 8), "日本語…");
        // A cut after a space leaves the space out.
        assert_eq!(truncate("日本語の歌 🎵 and more", 12), "日本語の歌…");
        assert_eq!(truncate("plain text", 6), "plain…");
        assert_eq!(truncate("plain", 0), "");
        assert_eq!(column("日本語", 8), "日本語  ");
        assert_eq!(width(&column("日本語の歌とその他", 8)), 8);
        assert_eq!(column("abc", 5), "abc  ");
        let hearts = truncate("❤️❤️❤️❤️❤️❤️❤️❤️ love song", 10);
        assert!(width(&hearts) <= 10, "{hearts}: {}", width(&hearts));
    }

    #[test]
    fn counts_and_listening_time_read_well() {
        assert_eq!(
            [0, 7, 999, 1000, 31_778, 1_234_567].map(group_digits),
            ["0", "7", "999", "1,000", "31,778", "1,234,567"]
        );
        assert_eq!(
            [
                20_000,
                45 * 60_000,
                31 * 3_600_000 + 5 * 60_000,
                1_327 * 3_600_000 + 5 * 60_000
            ]
            .map(format_listening),
            ["20 s", "45 min", "31 h 5 min", "1,327 h"]
        );
    }
}
