//! The music library on disk: walking folders ([`scan`]), reading tags ([`tags`]), and finding
//! lyrics ([`lyrics`]) and cover pictures ([`cover`]); why a file's tags could not be read
//! ([`LibraryError`]).

pub mod cover;
pub mod lyrics;
pub mod scan;
pub mod tags;

/// Why a file's tags (its title, its cover, its lyrics) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{}", unreadable(.0))]
    Tags(#[from] lofty::error::FileParseError),
    #[error("the tag reader failed on damaged data ({0})")]
    Panicked(String),
    #[error("the tag reader went round in circles on damaged data; gave up")]
    Endless,
    #[error("{}: cannot read the cover: {source}", path.display())]
    Cover {
        path: std::path::PathBuf,
        source: Box<LibraryError>,
    },
}

/// The tag reader's error in words for the listener: what it found wrong, with its reasons.
fn unreadable(error: &lofty::error::FileParseError) -> String {
    if error.is_unknown_format() {
        return "not audio in any format skipless reads (damaged, or another kind of file under an audio name)".into();
    }
    let mut reasons = Vec::new();
    let mut cause = std::error::Error::source(error);
    while let Some(reason) = cause {
        reasons.push(reason.to_string());
        cause = reason.source();
    }
    match reasons.is_empty() {
        true => format!("damaged: {error}"),
        false => format!("damaged: {error} ({})", reasons.join(": ")),
    }
}

/// File extensions the scanner indexes and the player decodes.
pub(crate) const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "ogg", "oga", "opus", "m4a", "m4b", "mp4", "aac", "wav", "wave", "aiff", "aif", "aifc",
];

/// Why `path`, which has none of the [`AUDIO_EXTENSIONS`], is not a track, for a message after
/// its name; a playlist file is pointed to the command that reads it.
pub(crate) fn not_audio(path: &std::path::Path) -> &'static str {
    let is_playlist = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("m3u") || e.eq_ignore_ascii_case("m3u8"));
    if is_playlist {
        "a playlist, not an audio file (`skipless playlist import FILE` saves it to play by name)"
    } else {
        "not an audio file (MP3, FLAC, Ogg, Opus, M4A, WAV or AIFF)"
    }
}

/// Extensions of audio formats the player cannot decode: a scan counts them and says so, so that
/// a part of a collection is not left out without a word.
const UNPLAYABLE_AUDIO_EXTENSIONS: &[&str] = &[
    "wv", "ape", "wma", "mpc", "tta", "tak", "dsf", "dff", "mka", "ac3", "dts", "ra", "shn",
];

/// The extension (lower case) of a path in one of the [`UNPLAYABLE_AUDIO_EXTENSIONS`].
pub(crate) fn unplayable_audio(path: &std::path::Path) -> Option<String> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    UNPLAYABLE_AUDIO_EXTENSIONS
        .contains(&extension.as_str())
        .then_some(extension)
}

/// What a scan left out for its format, as one line ("left out 3 audio files in formats skipless
/// cannot play: 2 .wv, 1 .ape"); `None` when it left out none.
pub fn unplayable_said(unplayable: &std::collections::BTreeMap<String, usize>) -> Option<String> {
    let total: usize = unplayable.values().sum();
    let kinds: Vec<String> = unplayable
        .iter()
        .map(|(extension, n)| format!("{n} .{extension}"))
        .collect();
    (total > 0).then(|| {
        format!(
            "left out {} in formats skipless cannot play: {}",
            crate::fmt::count(total as u64, "audio file"),
            kinds.join(", ")
        )
    })
}

/// Whether a path has one of the [`AUDIO_EXTENSIONS`], whatever its case.
pub(crate) fn is_audio_file(path: &std::path::Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|known| known.eq_ignore_ascii_case(e)))
}
