//! `file://` URIs for paths and back ([`file_uri`], [`path_of_file_uri`]), as MPRIS uses them in
//! `xesam:url`, `mpris:artUrl` and `OpenUri`, and playlists for paths a line cannot hold.
//!
//! Paths are bytes on Unix, so each byte outside the unreserved set is percent-encoded; a
//! non-UTF-8 file name survives the round trip.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// `file:///music/A%20B.flac` for `/music/A B.flac`.
pub(crate) fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// The absolute path of a `file:` URI (`file:///x`, `file://localhost/x`, or `file:/x` as RFC
/// 8089 allows, the scheme in any case); `None` for any other scheme, a remote host, a relative
/// path or a broken escape.
pub(crate) fn path_of_file_uri(uri: &[u8]) -> Option<PathBuf> {
    let rest = uri.get(5..).filter(|_| uri[..5].eq_ignore_ascii_case(b"file:"))?;
    let rest = match rest.strip_prefix(b"//") {
        Some(authority) => authority.strip_prefix(b"localhost").unwrap_or(authority),
        None => rest,
    };
    if !rest.starts_with(b"/") {
        return None;
    }
    percent_decoded(rest).map(|decoded| PathBuf::from(OsString::from_vec(decoded)))
}

/// `text` with its `%XX` escapes decoded; `None` for a broken escape.
pub(crate) fn percent_decoded(text: &[u8]) -> Option<Vec<u8>> {
    let hex = |byte: u8| char::from(byte).to_digit(16);
    let mut decoded = Vec::with_capacity(text.len());
    let mut bytes = text.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let (high, low) = (hex(bytes.next()?)?, hex(bytes.next()?)?);
            decoded.push((high * 16 + low) as u8);
        } else {
            decoded.push(byte);
        }
    }
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_spaces_unicode_and_raw_bytes() {
        let names: [&[u8]; 3] = [
            b"/m/A B/c#1.flac",
            "/m/Bj\u{f6}rk/\u{2014}.ogg".as_bytes(),
            b"/m/\xff%.mp3",
        ];
        for name in names {
            let path = PathBuf::from(OsString::from_vec(name.to_vec()));
            let uri = file_uri(&path);
            assert!(uri.is_ascii() && !uri.contains(' '), "{uri}");
            assert_eq!(path_of_file_uri(uri.as_bytes()), Some(path));
        }
        assert_eq!(file_uri(Path::new("/m/A B.flac")), "file:///m/A%20B.flac");
    }

    #[test]
    fn other_schemes_and_broken_escapes_are_refused() {
        let path = |uri: &str| path_of_file_uri(uri.as_bytes());
        assert_eq!(path("file:/m/A%20B.flac"), Some(PathBuf::from("/m/A B.flac")));
        assert_eq!(path("file:m/a.flac"), None);
        assert_eq!(path("file://localhost/a%20b"), Some(PathBuf::from("/a b")));
        assert_eq!(path("FILE:///a%2fb"), Some(PathBuf::from("/a/b")));
        assert_eq!(path("http://example.org/a.mp3"), None);
        assert_eq!(path("file://host/a.mp3"), None);
        assert_eq!(path("file:///a%2"), None);
        assert_eq!(path("file:///a%zz"), None);
        assert_eq!(path("file:///a%+f"), None);
    }
}
