//! Playlists as files ([`Entry`], [`parse_m3u`], [`write_m3u`]): M3U and M3U8 read and written
//! byte for byte, so non-UTF-8 paths survive. Relative paths are taken from the playlist's own
//! folder, `file://` URIs are percent-decoded, and `#EXTINF` gives an entry's length and title.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A read-only playlist computed from the log whenever it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smart {
    /// The tracks liked, the last liked first.
    Liked,
    /// The tracks finished most often.
    MostFinished,
    /// The tracks skipped most often.
    MostSkipped,
    /// Playable tracks of songs never played (no file of the song), banned ones left out.
    NeverPlayed,
    /// Finished at least three times, but not played for 90 days.
    Rediscover,
    /// Skipped within the first 10 seconds, most often first.
    SkippedEarly,
}

impl Smart {
    pub const ALL: [Smart; 6] = [
        Smart::Liked,
        Smart::MostFinished,
        Smart::MostSkipped,
        Smart::NeverPlayed,
        Smart::Rediscover,
        Smart::SkippedEarly,
    ];

    /// The name it is shown and played by.
    pub fn name(self) -> &'static str {
        match self {
            Smart::Liked => "liked",
            Smart::MostFinished => "most finished",
            Smart::MostSkipped => "most skipped",
            Smart::NeverPlayed => "never played",
            Smart::Rediscover => "rediscover",
            Smart::SkippedEarly => "skipped in the first 10 s",
        }
    }

    /// The smart playlist of `name`, in any case.
    pub fn named(name: &str) -> Option<Smart> {
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// One playlist entry: its file, and what `#EXTINF` said of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub path: PathBuf,
    /// The line of the playlist file it came from (1-based; 0 for entries made otherwise).
    pub line: usize,
    pub title: Option<String>,
    pub duration_ms: Option<u64>,
}

/// Why an M3U could not be read: the line and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct M3uError {
    pub line: usize,
    pub message: String,
}

/// What an M3U file holds: its entries, and the lines left out (a stream URL, a malformed
/// `#EXTINF`), each with why, so that one such line costs the listener that line only.
#[derive(Debug, Default)]
pub struct M3u {
    pub entries: Vec<Entry>,
    pub skipped: Vec<M3uError>,
}

/// The entries of an M3U or M3U8 file's bytes; `dir` is the folder relative paths start from.
/// Only a file that is not a playlist at all (binary data) is an error.
pub fn parse_m3u(bytes: &[u8], dir: &Path) -> Result<M3u, M3uError> {
    // A UTF-16 file (as Windows tools save "Unicode" text) says so by its byte order mark.
    let decoded: Vec<u8>;
    let bytes = match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom)) if encoding != encoding_rs::UTF_8 => {
            decoded = encoding
                .decode_without_bom_handling(&bytes[bom..])
                .0
                .into_owned()
                .into_bytes();
            &decoded[..]
        }
        _ => bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes),
    };
    if let Some(other) = other_format(bytes) {
        let line = 1 + bytes
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .filter(|&&b| b == b'\n')
            .count();
        return Err(M3uError {
            line,
            message: format!("{other}, not an M3U playlist"),
        });
    }
    let mut m3u = M3u::default();
    let mut info: Option<(Option<u64>, Option<String>)> = None;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix(b"#EXTINF:") {
            info = extinf(rest);
            if info.is_none() {
                m3u.skipped.push(M3uError {
                    line,
                    message: format!("malformed #EXTINF: {}", String::from_utf8_lossy(trimmed)),
                });
            }
            continue;
        }
        if trimmed.starts_with(b"#") {
            continue;
        }
        // A path never holds a NUL byte; a line that does is binary data, not a playlist.
        if trimmed.contains(&0) {
            return Err(M3uError {
                line,
                message: "binary data: not an M3U playlist".into(),
            });
        }
        let (duration_ms, title) = info.take().unwrap_or((None, None));
        let path = match entry_path(trimmed, dir) {
            Ok(path) => path,
            Err(message) => {
                m3u.skipped.push(M3uError { line, message });
                continue;
            }
        };
        m3u.entries.push(Entry {
            path,
            line,
            title,
            duration_ms,
        });
    }
    Ok(m3u)
}

/// What a file that is not an M3U is, told by how it starts: a JSON document (a listening
/// history), XML (an XSPF playlist), a PLS playlist. A file name may start with `[`, `{` or
/// `<` too (`[FLAC] Album/01.flac`), so it takes what follows them to say so.
fn other_format(bytes: &[u8]) -> Option<&'static str> {
    let start = bytes.trim_ascii_start();
    let after = |open: usize| start.get(open..).map(<[u8]>::trim_ascii_start).and_then(<[u8]>::first);
    let xml = [b"<?xml".as_slice(), b"<!DOCTYPE", b"<playlist", b"<html"];
    match start.first()? {
        b'[' if start.len() >= 10 && start[..10].eq_ignore_ascii_case(b"[playlist]") => Some("a PLS playlist"),
        // A history is an array of objects; `[1999] Album/01.flac` is a name.
        b'[' if after(1).is_some_and(|b| b"{[\"]".contains(b)) => Some("JSON data"),
        b'{' if after(1).is_some_and(|b| b"\"}".contains(b)) => Some("JSON data"),
        b'<' if xml
            .iter()
            .any(|x| start.len() >= x.len() && start[..x.len()].eq_ignore_ascii_case(x)) =>
        {
            Some("XML (an XSPF playlist or another document)")
        }
        _ => None,
    }
}

/// `#EXTINF:<seconds>[ attributes],<title>`: (length, title); -1 seconds means unknown.
fn extinf(rest: &[u8]) -> Option<(Option<u64>, Option<String>)> {
    // An `.m3u` is in the writer's legacy encoding, most often Windows-1252 (Latin-1's superset).
    let text = match std::str::from_utf8(rest) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(rest).0,
    };
    // The title follows the first comma outside the attributes' quotes (`tvg-name="a, b"`).
    let mut quoted = false;
    let comma = text.char_indices().find(|&(_, c)| {
        quoted ^= c == '"';
        c == ',' && !quoted
    });
    let (head, title) = match comma {
        Some((at, _)) => (&text[..at], &text[at + 1..]),
        None => (&*text, ""),
    };
    let seconds = head.split_whitespace().next()?;
    let seconds: f64 = seconds.parse().ok()?;
    let duration_ms = (seconds >= 0.0 && seconds.is_finite()).then(|| (seconds * 1000.0).round() as u64);
    let title = title.trim();
    Some((duration_ms, (!title.is_empty()).then(|| title.to_owned())))
}

/// An entry line as a path: a `file://` URI percent-decoded, an absolute path as is, a relative
/// one from `dir`; written on Windows (backslashes and no slash), with its backslashes read as
/// separators. Other URIs (`http://`) are refused.
fn entry_path(line: &[u8], dir: &Path) -> Result<PathBuf, String> {
    let path = written_path(line, dir)?;
    if path.is_dir() {
        return Err(format!(
            "{}: a folder, not a file (a playlist lists files)",
            lexically_normal(&path).display()
        ));
    }
    // As written where no file is; where one is, as joined, for the library to find it by its
    // own rule (`db::tracks::index_path`: a `..` after a symlinked folder goes where the link
    // leads, and a file reached through a link inside a root is known by the link's name).
    Ok(if path.exists() { path } else { lexically_normal(&path) })
}

/// The path an entry line names, before it is checked (see [`entry_path`]).
fn written_path(line: &[u8], dir: &Path) -> Result<PathBuf, String> {
    if line.len() >= 6 && line[..6].eq_ignore_ascii_case(b"file:/") {
        return crate::uri::path_of_file_uri(line)
            .ok_or_else(|| format!("not a local file URI: {}", String::from_utf8_lossy(line)));
    }
    // `C:\Music\a.flac` or `C:/Music/a.flac`: a drive of the Windows machine that wrote the list.
    if line.len() >= 3 && line[0].is_ascii_alphabetic() && line[1] == b':' && matches!(line[2], b'\\' | b'/') {
        return Err(format!(
            "{}: a Windows path, not a file of this machine",
            String::from_utf8_lossy(line)
        ));
    }
    if line
        .windows(3)
        .position(|w| w == b"://")
        .is_some_and(|at| line[..at].iter().all(u8::is_ascii_alphanumeric))
    {
        return Err(format!("not a local file: {}", String::from_utf8_lossy(line)));
    }
    let mut line = std::borrow::Cow::Borrowed(line);
    let mut path = dir.join(Path::new(OsStr::from_bytes(&line)));
    // A legacy M3U from Windows names files in its code page: where the bytes as written name
    // no file and are not UTF-8, they are read as Windows-1252 (`caf\xe9.ogg` is `café.ogg`).
    if !path.exists() && std::str::from_utf8(&line).is_err() {
        let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&line);
        let as_1252 = dir.join(text.as_ref());
        if as_1252.exists() || text.contains('\\') {
            line = std::borrow::Cow::Owned(text.into_owned().into_bytes());
            path = as_1252;
        }
    }
    // VLC writes an entry inside the playlist's folder as the tail of its URI, percent-encoded
    // (`Bj%C3%B6rk/01%20Song.ogg`): where no file has the name as written, the decoded one may.
    // Where neither exists yet, a name as VLC writes one (ASCII, no space; once decoded UTF-8,
    // with no NUL, which no file name holds, and no `/` VLC would have left as it is) is kept
    // decoded, the name a later scan will find the file by.
    if !path.exists() && line.contains(&b'%') {
        if let Some(decoded) = crate::uri::percent_decoded(&line) {
            let as_decoded = dir.join(Path::new(OsStr::from_bytes(&decoded)));
            let written_as_vlc = line.iter().all(|b| b.is_ascii_graphic())
                && std::str::from_utf8(&decoded).is_ok()
                && !decoded.contains(&0)
                && decoded.iter().filter(|&&b| b == b'/').count() == line.iter().filter(|&&b| b == b'/').count();
            if as_decoded.exists() || written_as_vlc {
                return Ok(as_decoded);
            }
        }
    }
    // A backslash is a letter of a Linux file name (`AC\DC - Song.mp3`): only where no file has
    // the name as written is it read as a Windows separator.
    if line.contains(&b'\\') && !line.contains(&b'/') && !path.exists() {
        let separated: Vec<u8> = line.iter().map(|&b| if b == b'\\' { b'/' } else { b }).collect();
        path = dir.join(Path::new(OsStr::from_bytes(&separated)));
    }
    Ok(path)
}

/// `path` as given, made absolute and without `.` and `..`, where that names the very file
/// `path` does (a `..` after a symbolic link goes where the link leads, and then it does not):
/// the name a file reached through a link is known by. `None` otherwise.
pub(crate) fn as_given(path: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let named = lexically_normal(&std::path::absolute(path).ok()?);
    let (a, b) = (std::fs::metadata(path).ok()?, std::fs::metadata(&named).ok()?);
    (a.dev() == b.dev() && a.ino() == b.ino()).then_some(named)
}

/// `path` without `.` and with each `..` taking off the name before it, as written: an entry
/// whose file does not exist yet cannot be resolved on disk, and must still name the path a
/// later scan will index.
pub(crate) fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                // Above the root is the root; a relative path keeps a leading `..`.
                if !normal.pop() && !normal.has_root() {
                    normal.push(component);
                }
            }
            other => normal.push(other),
        }
    }
    normal
}

/// A playlist name as given, trimmed; why not when it is empty, holds a control character (it
/// could not be typed back, or printed safely) or is a smart playlist's.
pub fn checked_name(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a playlist needs a name".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!("a playlist name cannot hold control characters: {name:?}"));
    }
    // In any case: "Most Skipped" beside the smart "most skipped" would be two lists no one
    // could tell apart in view 6.
    if Smart::named(name).is_some() {
        return Err(format!("{name:?} is the name of a smart playlist: choose another name"));
    }
    Ok(name)
}

/// Writes `entries` as an extended M3U: `#EXTINF` with length and title where known, then the
/// path as its bytes, or, for a path that is not UTF-8 (which an M3U8 must be), holds a control
/// character (a line break) or starts or ends with a space, as a `file://` URI with its bytes
/// percent-encoded.
pub fn write_m3u(out: &mut dyn Write, entries: &[Entry]) -> std::io::Result<()> {
    out.write_all(b"#EXTM3U\n")?;
    for entry in entries {
        if entry.title.is_some() || entry.duration_ms.is_some() {
            let seconds = entry.duration_ms.map_or(-1, |ms| ((ms + 500) / 1000) as i64);
            let title = entry.title.as_deref().unwrap_or("").replace(['\n', '\r'], " ");
            writeln!(out, "#EXTINF:{seconds},{title}")?;
        }
        let bytes = entry.path.as_os_str().as_bytes();
        // A line holds a path only if it is UTF-8 (an M3U8 must be), breaks no line and keeps
        // its ends (a line is read trimmed); any other is written as a URI.
        let holds =
            std::str::from_utf8(bytes).is_ok_and(|text| !text.chars().any(char::is_control) && text.trim() == text);
        if holds {
            out.write_all(bytes)?;
        } else {
            out.write_all(crate::uri::file_uri(&entry.path).as_bytes())?;
        }
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_data_is_not_a_playlist() {
        let ogg = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\n\x01vorbis";
        let error = parse_m3u(ogg, Path::new("/music")).unwrap_err();
        assert_eq!(error.to_string(), "line 1: binary data: not an M3U playlist");
    }

    #[test]
    fn json_xml_and_pls_files_are_not_m3u_playlists() {
        let said = |bytes: &[u8]| parse_m3u(bytes, Path::new("/music")).unwrap_err().to_string();
        let history = b"[\n{\"ts\":\"2024-05-29T16:26:46Z\",\"ms_played\":4567}\n]\n";
        assert_eq!(said(history), "line 1: JSON data, not an M3U playlist");
        assert_eq!(
            said(b"\n\n  {\"listened_at\": 1}"),
            "line 3: JSON data, not an M3U playlist"
        );
        assert_eq!(
            said(b"\xef\xbb\xbf<?xml version=\"1.0\"?><playlist/>"),
            "line 1: XML (an XSPF playlist or another document), not an M3U playlist"
        );
        assert_eq!(
            said(b"[playlist]\nFile1=a.ogg\n"),
            "line 1: a PLS playlist, not an M3U playlist"
        );
        // A playlist's first entry may be a plain name, or one that starts with a bracket.
        for first in [
            b"song.ogg\n".as_slice(),
            b"[FLAC] Album/01.flac\n",
            b"[1999] Album/01.flac\n",
            b"[01] Song.mp3\n",
            b"{live} 02.ogg\n",
            b"<untitled>.mp3\n",
        ] {
            assert_eq!(
                parse_m3u(first, Path::new("/music")).unwrap().entries.len(),
                1,
                "{first:?}"
            );
        }
    }

    #[test]
    fn relative_absolute_uri_extinf_and_non_utf8_entries() {
        let text = b"#EXTM3U\r\n#EXTINF:183,Artist - Song\r\nsub/a.ogg\r\n\n/abs/b.flac\n# a comment\n\
file:///music/Caf%C3%A9%20Song.mp3\nfile://localhost/m/x%20y.opus\ncaf\xe9.ogg\n";
        let entries = parse_m3u(text, Path::new("/lists")).unwrap().entries;
        let paths: Vec<&[u8]> = entries.iter().map(|e| e.path.as_os_str().as_bytes()).collect();
        assert_eq!(
            paths,
            [
                &b"/lists/sub/a.ogg"[..],
                b"/abs/b.flac",
                "/music/Café Song.mp3".as_bytes(),
                b"/m/x y.opus",
                b"/lists/caf\xe9.ogg"
            ]
        );
        assert_eq!(entries[0].duration_ms, Some(183_000));
        assert_eq!(entries[0].title.as_deref(), Some("Artist - Song"));
        assert_eq!(entries[0].line, 3);
        assert_eq!(entries[1].title, None);
    }

    /// What other players write: VLC's percent-encoded names inside the playlist's folder, RFC
    /// 8089's `file:/x`, quoted attributes holding commas; a Windows drive is said to be one.
    #[test]
    fn entries_as_vlc_and_iptv_lists_write_them() {
        let dir = tempfile::tempdir().unwrap();
        let album = dir.path().join("Bj\u{f6}rk/Album 1");
        std::fs::create_dir_all(&album).unwrap();
        std::fs::write(album.join("01 - Song.ogg"), b"").unwrap();
        let text = "#EXTM3U\n\
#EXTINF:95 tvg-name=\"a, b\" group-title=\"x\",Artist - Title, with comma\n\
Bj%C3%B6rk/Album%201/01%20-%20Song.ogg\n\
Bj%C3%B6rk/Album%201/02%20-%20Not%20Yet%20Copied.ogg\n\
100%.ogg\n\
a%00b.ogg\n\
x%2F..%2Fy.ogg\n\
file:/m/A%20B.flac\n\
Z:\\Music\\Bj\u{f6}rk\\06.flac\n\
C:/Music/07.flac\n";
        let m3u = parse_m3u(text.as_bytes(), dir.path()).unwrap();
        let paths: Vec<PathBuf> = m3u.entries.iter().map(|e| e.path.clone()).collect();
        // A file not there yet keeps the name it will have once decoded; a `%` that starts no
        // escape is a letter.
        assert_eq!(
            paths,
            [
                album.join("01 - Song.ogg"),
                album.join("02 - Not Yet Copied.ogg"),
                dir.path().join("100%.ogg"),
                dir.path().join("a%00b.ogg"),
                dir.path().join("x%2F..%2Fy.ogg"),
                PathBuf::from("/m/A B.flac")
            ]
        );
        assert_eq!(m3u.entries[0].title.as_deref(), Some("Artist - Title, with comma"));
        assert_eq!(m3u.entries[0].duration_ms, Some(95_000));
        let skipped: Vec<String> = m3u.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            skipped,
            [
                "line 9: Z:\\Music\\Bj\u{f6}rk\\06.flac: a Windows path, not a file of this machine",
                "line 10: C:/Music/07.flac: a Windows path, not a file of this machine",
            ]
        );
    }

    #[test]
    fn malformed_lines_and_streams_are_left_out_by_their_line_and_the_rest_kept() {
        let m3u = parse_m3u(
            b"#EXTM3U\n#EXTINF:long,x\na.ogg\nhttp://radio.example/stream\nb.ogg\n",
            Path::new("/"),
        )
        .unwrap();
        let paths: Vec<&Path> = m3u.entries.iter().map(|e| e.path.as_path()).collect();
        assert_eq!(paths, [Path::new("/a.ogg"), Path::new("/b.ogg")]);
        let skipped: Vec<String> = m3u.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            skipped,
            [
                "line 2: malformed #EXTINF: #EXTINF:long,x",
                "line 4: not a local file: http://radio.example/stream"
            ]
        );
    }

    #[test]
    fn relative_entries_are_normal_paths_whether_or_not_their_files_exist() {
        let m3u = parse_m3u(
            b"../lib/a.ogg\n./b.ogg\nsub/../c.ogg\n../../../d.ogg\n",
            Path::new("/m/lists"),
        )
        .unwrap();
        let paths: Vec<&Path> = m3u.entries.iter().map(|e| e.path.as_path()).collect();
        assert_eq!(
            paths,
            [
                Path::new("/m/lib/a.ogg"),
                Path::new("/m/lists/b.ogg"),
                Path::new("/m/lists/c.ogg"),
                Path::new("/d.ogg")
            ]
        );
    }

    #[test]
    fn playlist_names_are_trimmed_and_refused_when_blank_smart_or_holding_controls() {
        assert_eq!(checked_name("  morning  "), Ok("morning"));
        assert!(checked_name("  ").is_err());
        assert!(checked_name("new\nline").is_err());
        assert!(checked_name("\x1b[31mred").is_err());
        assert!(checked_name("most finished").unwrap_err().contains("smart playlist"));
        assert!(checked_name("Most Finished").unwrap_err().contains("smart playlist"));
    }

    #[test]
    fn written_playlists_read_back_the_same() {
        let entries = vec![
            Entry {
                path: PathBuf::from(OsStr::from_bytes(b"/m/caf\xe9 1.ogg")),
                line: 0,
                title: Some("A - B".into()),
                duration_ms: Some(61_000),
            },
            Entry {
                path: "/m/2.flac".into(),
                line: 0,
                title: None,
                duration_ms: None,
            },
        ];
        let mut out = Vec::new();
        write_m3u(&mut out, &entries).unwrap();
        let back = parse_m3u(&out, Path::new("/")).unwrap().entries;
        assert_eq!(
            back.iter().map(|e| &e.path).collect::<Vec<_>>(),
            entries.iter().map(|e| &e.path).collect::<Vec<_>>()
        );
        assert_eq!(back[0].title, entries[0].title);
        assert_eq!(back[0].duration_ms, entries[0].duration_ms);
        // An M3U8 is UTF-8: the path that is not is written as a URI.
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\nfile:///m/caf%E9%201.ogg\n"), "{text}");
    }

    /// A path a line cannot hold as it is (a line break in a file name, a space at its end) is
    /// written as a URI and read back whole.
    #[test]
    fn paths_with_line_breaks_or_spaces_at_their_ends_come_back_whole() {
        let entries: Vec<Entry> = [
            "/m/new\nline.ogg",
            "/m/cr\r.ogg",
            "/m/ends with a space .ogg",
            "/m/tab\there.ogg",
        ]
        .into_iter()
        .map(|path| Entry {
            path: PathBuf::from(path),
            line: 0,
            title: None,
            duration_ms: None,
        })
        .collect();
        let mut out = Vec::new();
        write_m3u(&mut out, &entries).unwrap();
        let back = parse_m3u(&out, Path::new("/")).unwrap().entries;
        let paths = |entries: &[Entry]| entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>();
        assert_eq!(paths(&back), paths(&entries), "{}", String::from_utf8_lossy(&out));
        assert!(String::from_utf8_lossy(&out).contains("\nfile:///m/new%0Aline.ogg\n"));
    }

    #[test]
    fn windows_separators_latin_1_titles_and_an_upper_case_scheme() {
        let text = b"#EXTINF:100,Caf\xe9 Artist - Song\r\n..\\music\\sad.ogg\r\nFILE:///m/a.ogg\n";
        let m3u = parse_m3u(text, Path::new("/lists")).unwrap();
        assert!(m3u.skipped.is_empty(), "{:?}", m3u.skipped);
        assert_eq!(m3u.entries[0].path, Path::new("/music/sad.ogg"));
        assert_eq!(m3u.entries[0].title.as_deref(), Some("Café Artist - Song"));
        assert_eq!(m3u.entries[1].path, Path::new("/m/a.ogg"));
        // A backslash in a Linux name whose file is there stays a letter.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("AC\\DC - Song.mp3"), b"").unwrap();
        let m3u = parse_m3u(b"AC\\DC - Song.mp3\n", dir.path()).unwrap();
        assert_eq!(
            m3u.entries[0].path,
            dir.path().canonicalize().unwrap().join("AC\\DC - Song.mp3")
        );
    }

    #[test]
    fn windows_1252_names_utf_16_files_and_folders_as_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("enc")).unwrap();
        std::fs::write(dir.path().join("enc/café.ogg"), b"").unwrap();
        // A name in Windows-1252, with Windows separators, names the UTF-8 file.
        let m3u = parse_m3u(b"enc\\caf\xe9.ogg\r\n", dir.path()).unwrap();
        assert!(m3u.skipped.is_empty(), "{:?}", m3u.skipped);
        assert_eq!(m3u.entries[0].path, dir.path().join("enc/café.ogg"));
        // A UTF-16 file with its byte order mark, as Windows saves "Unicode" text.
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("#EXTM3U\r\nenc/café.ogg\r\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let m3u = parse_m3u(&utf16, dir.path()).unwrap();
        assert_eq!(m3u.entries.len(), 1, "{:?}", m3u.skipped);
        assert_eq!(m3u.entries[0].path, dir.path().join("enc/café.ogg"));
        // A folder is no entry: a playlist lists files.
        let m3u = parse_m3u(b"enc\nenc/caf\xc3\xa9.ogg\n", dir.path()).unwrap();
        assert_eq!(m3u.entries.len(), 1);
        assert_eq!(
            (
                m3u.skipped[0].line,
                m3u.skipped[0].message.contains("a folder, not a file")
            ),
            (1, true)
        );
    }
}
