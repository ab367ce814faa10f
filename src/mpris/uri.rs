//! `file://` URIs for paths and back ([`file_uri`], [`path_of_file_uri`]), as MPRIS uses them in
//! `xesam:url`, `mpris:artUrl` and `OpenUri`.
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

/// The absolute path of a `file://` URI (`file:///x` or `file://localhost/x`); `None` for any
/// other scheme, a remote host, a relative path or a broken escape.
pub(crate) fn path_of_file_uri(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    Some(PathBuf::from(OsString::from_vec(decoded)))
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
            assert_eq!(path_of_file_uri(&uri), Some(path));
        }
        assert_eq!(file_uri(Path::new("/m/A B.flac")), "file:///m/A%20B.flac");
    }

    #[test]
    fn other_schemes_and_broken_escapes_are_refused() {
        assert_eq!(path_of_file_uri("file://localhost/a%20b"), Some(PathBuf::from("/a b")));
        assert_eq!(path_of_file_uri("http://example.org/a.mp3"), None);
        assert_eq!(path_of_file_uri("file://host/a.mp3"), None);
        assert_eq!(path_of_file_uri("file:///a%2"), None);
        assert_eq!(path_of_file_uri("file:///a%zz"), None);
    }
}
