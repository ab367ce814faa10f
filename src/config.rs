//! The TOML configuration file ([`Config`], [`ConfigError`]).
//!
//! A missing file means the defaults in `assets/config.toml`. A broken file is refused with
//! one line naming the file, the line and the key, so nothing starts half-configured.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The commented default configuration, as shipped.
pub(crate) const DEFAULT_CONFIG: &str = include_str!("../assets/config.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {}: {message}", where_in_file(*line, key.as_deref()))]
    Invalid {
        path: PathBuf,
        /// The line (from 1), where one is known.
        line: Option<usize>,
        /// The dotted key the line defines, when it defines one.
        key: Option<String>,
        message: String,
    },
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{link}: a link to {}, which is not there", target.display())]
    DanglingLink { link: PathBuf, target: PathBuf },
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Config {
    pub playback: PlaybackConfig,
    pub log: LogConfig,
    pub recommend: RecommendConfig,
    /// Key overrides: action name -> keys (see the help screen, `?`, for the names).
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
    pub theme: ThemeConfig,
    pub mpris: MprisConfig,
    pub library: LibraryConfig,
    pub lyrics: LyricsConfig,
    pub ui: UiConfig,
}

/// How the screen looks beyond its colours.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    pub album_art: AlbumArt,
    /// Clicks and the wheel act on the screen; off, the terminal keeps the mouse for selecting
    /// text.
    pub mouse: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            album_art: AlbumArt::default(),
            mouse: true,
        }
    }
}

/// How album art is drawn: in the graphics protocol of a terminal known for pictures, else in
/// half blocks (`auto`); in half blocks always (any terminal, tmux too); or not at all.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AlbumArt {
    #[default]
    Auto,
    Halfblocks,
    Off,
}

/// Where lyrics are looked for besides the track's own `.lrc` and tags.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LyricsConfig {
    /// A folder of `.lrc` files named "Artist - Title.lrc" (or "Title.lrc").
    pub folder: Option<PathBuf>,
}

/// `~/x` as the home folder's `x`, as a shell would read it (the config is not read by one).
fn in_home(path: &Path) -> PathBuf {
    let home = directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_path_buf());
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// The running player's eye on its library roots.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LibraryConfig {
    /// Watch the roots and rescan what changes.
    pub watch: bool,
    /// Minutes between rescans of every root when the system cannot watch them all (inotify
    /// watches run out); 0 never rescans then.
    pub rescan_minutes: u64,
}

impl Default for LibraryConfig {
    fn default() -> Self {
        Self {
            watch: true,
            rescan_minutes: 10,
        }
    }
}

/// Desktop control over D-Bus (media keys, desktop widgets, `playerctl`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MprisConfig {
    pub enabled: bool,
}

impl Default for MprisConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Colours: a name ("yellow", "lightblue"), a palette number ("250") or "#rrggbb". `NO_COLOR`,
/// or a `TERM` named monochrome, turns them all off.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ThemeConfig {
    pub accent: String,
    pub selection: String,
    pub dim: String,
    pub skip: String,
    pub autoplay: String,
}

impl Default for ThemeConfig {
    fn default() -> Self {
        Self {
            accent: "cyan".into(),
            selection: "blue".into(),
            dim: "darkgray".into(),
            skip: "red".into(),
            autoplay: "magenta".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AudioOutput {
    Auto,
    Device,
    Null,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReplayGainMode {
    Track,
    Album,
    Off,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PlaybackConfig {
    pub audio: AudioOutput,
    #[serde(deserialize_with = "percent")]
    pub volume: u8,
    pub replaygain: ReplayGainMode,
    pub replaygain_fallback_db: f32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub listen_fraction: f64,
    pub listen_seconds: u64,
    pub session_gap_minutes: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RecommendConfig {
    pub autoplay: bool,
    pub autoplay_queue: usize,
    pub retrain_every: u64,
    pub min_plays: u64,
    pub exclude_recent: usize,
    pub max_per_artist: usize,
    pub temperature: f32,
    /// How strongly the chance that a track is finished, learned from the log's skips, weighs
    /// against how well it fits the session. The model is trained with it at the default.
    pub finish_weight: f32,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        Self {
            audio: AudioOutput::Auto,
            volume: 100,
            replaygain: ReplayGainMode::Track,
            replaygain_fallback_db: 0.0,
        }
    }
}

impl LogConfig {
    /// The session gap in milliseconds: plays further apart start a new session.
    pub(crate) fn session_gap_ms(&self) -> i64 {
        i64::try_from(self.session_gap_minutes)
            .unwrap_or(i64::MAX)
            .saturating_mul(60_000)
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            listen_fraction: 0.5,
            listen_seconds: 240,
            session_gap_minutes: 30,
        }
    }
}

impl Default for RecommendConfig {
    fn default() -> Self {
        Self {
            autoplay: true,
            autoplay_queue: 3,
            retrain_every: 50,
            min_plays: 30,
            exclude_recent: 50,
            max_per_artist: 1,
            temperature: 0.0,
            finish_weight: 2.0,
        }
    }
}

impl Config {
    /// Loads `path`. The default place may hold no file, which gives the defaults; a file named
    /// on the command line (`named`) must exist, so a mistyped `--config` is not run silently
    /// on the defaults. Nor is a config kept elsewhere (a dotfiles checkout) whose link, or its
    /// folder's, points nowhere: that is a config the listener has, not one they left out.
    pub(crate) fn load(path: &Path, named: bool) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {
                let dangling = [Some(path), path.parent()].into_iter().flatten().find_map(|link| {
                    let target = std::fs::read_link(link).ok()?;
                    std::fs::metadata(link).is_err().then(|| (link.to_path_buf(), target))
                });
                match dangling {
                    Some((link, target)) => Err(ConfigError::DanglingLink { link, target }),
                    None => Ok(Self::default()),
                }
            }
            Err(source) => Err(ConfigError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses config text; `path` names the file in errors and places a relative lyrics folder.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| invalid(text, path, &e))?;
        // A relative folder is the config file's neighbour, wherever the player starts.
        let beside = path.parent().unwrap_or(Path::new(""));
        config.lyrics.folder = config.lyrics.folder.map(|folder| beside.join(in_home(&folder)));
        config.validate().map_err(|(key, message)| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of_key(text, &key),
            key: Some(key),
            message,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), (String, String)> {
        // A fraction or a number of seconds of 0 would make every play a listen: no skip would
        // ever be logged, and the recommender learns from skips.
        let fraction = self.log.listen_fraction;
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err((
                "log.listen_fraction".into(),
                format!("{fraction} is not above 0 and at most 1"),
            ));
        }
        if self.log.listen_seconds == 0 {
            return Err((
                "log.listen_seconds".into(),
                "must be 1 or more (0 would make every play a listen; a large value leaves listen_fraction alone)"
                    .into(),
            ));
        }
        if self.log.session_gap_minutes == 0 {
            return Err((
                "log.session_gap_minutes".into(),
                "must be 1 or more (0 would make every play a session of its own)".into(),
            ));
        }
        for (key, value) in [
            ("accent", &self.theme.accent),
            ("selection", &self.theme.selection),
            ("dim", &self.theme.dim),
            ("skip", &self.theme.skip),
            ("autoplay", &self.theme.autoplay),
        ] {
            if value.parse::<ratatui::style::Color>().is_err() {
                return Err((format!("theme.{key}"), format!("`{value}` is not a colour")));
            }
        }
        if let Err(e) = crate::keymap::KeyMap::with_overrides(&self.keys) {
            let key = match &e {
                crate::keymap::KeyMapError::UnknownAction { name, .. } => name.clone(),
                crate::keymap::KeyMapError::Unquittable { at, .. } => at.clone(),
                crate::keymap::KeyMapError::UnknownKey { action, .. } => action.clone(),
                crate::keymap::KeyMapError::LeftWithoutKey { taker, .. } => taker.clone(),
                crate::keymap::KeyMapError::BoundTwice { second, .. } => second.clone(),
                crate::keymap::KeyMapError::CtrlCapital { action, .. } => action.clone(),
                crate::keymap::KeyMapError::SentAsAnother { action, .. } => action.clone(),
            };
            // The line already names `keys.{action}`: the message's own "[keys] action:" goes.
            let message = e.to_string();
            let message = message
                .strip_prefix("[keys]")
                .and_then(|rest| rest.split_once(": "))
                .map_or(message.as_str(), |(_, said)| said);
            return Err((format!("keys.{key}"), message.to_owned()));
        }
        // Infinity would erase every score: a temperature into a shuffle, a finish weight into NaN.
        for (key, value) in [
            ("recommend.temperature", self.recommend.temperature),
            ("recommend.finish_weight", self.recommend.finish_weight),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err((key.into(), format!("{value} is not a finite number, 0 or more")));
            }
        }
        // The player plays gains from -30 to +12 dB: beyond them, a tag error more likely than a
        // master so quiet.
        let fallback = self.playback.replaygain_fallback_db;
        if !(-30.0..=12.0).contains(&fallback) {
            return Err((
                "playback.replaygain_fallback_db".into(),
                format!("{fallback} is not in -30 to 12 (dB)"),
            ));
        }
        if self.lyrics.folder.as_ref().is_some_and(|f| f.as_os_str().is_empty()) {
            return Err((
                "lyrics.folder".into(),
                "is empty: name a folder of .lrc files, or leave the setting out".into(),
            ));
        }
        if self.recommend.autoplay_queue == 0 {
            return Err((
                "recommend.autoplay_queue".into(),
                "must be 1 or more (autoplay = false turns autoplay off)".into(),
            ));
        }
        Ok(())
    }
}

/// Turns a TOML error into one line with the line number and the dotted key.
fn invalid(text: &str, path: &Path, error: &toml::de::Error) -> ConfigError {
    let offset = error.span().map(|s| s.start).unwrap_or(0).min(text.len());
    let line = text[..offset].matches('\n').count() + 1;
    let mut message = plain_types(error.message().lines().next().unwrap_or("invalid"));
    if message == "wanted string or table" {
        if let Some(words) = error.span().and_then(|span| words_of_choice(text, span)) {
            message = format!("expected one of {words}, in quotes");
        }
    }
    let key = key_at_line(text, line);
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line: Some(line),
        key,
        message,
    }
}

/// The words a choice (`audio`, `album_art`) takes, where a value of another type was written
/// at `span`: the parser names them only for a string it does not know, so it is asked with one.
fn words_of_choice(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let asked = format!("{}\"?\"{}", text.get(..span.start)?, text.get(span.end..)?);
    let error = toml::from_str::<Config>(&asked).err()?;
    let words = error
        .message()
        .lines()
        .next()?
        .strip_prefix("unknown variant `?`, expected ")?;
    Some(words.strip_prefix("one of ").unwrap_or(words).to_owned())
}

/// "line N, key `K`", or what of it is known.
fn where_in_file(line: Option<usize>, key: Option<&str>) -> String {
    match (line, key) {
        (Some(line), Some(key)) => format!("line {line}, key `{key}`"),
        (Some(line), None) => format!("line {line}"),
        (None, Some(key)) => format!("key `{key}`"),
        (None, None) => "somewhere".into(),
    }
}

/// The table a header line names (`[log]`, `[log] # a comment`), if it is one.
fn table_header(line: &str) -> Option<String> {
    let line = line.trim();
    if !line.starts_with('[') {
        return None;
    }
    let header = line.split('#').next().unwrap_or_default().trim_end();
    header
        .ends_with(']')
        .then(|| unquoted_key(header.trim_matches(|c| c == '[' || c == ']')))
}

/// A dotted key as written (`"listen_fraction"`, `log . listen_fraction`) as the config names it.
fn unquoted_key(written: &str) -> String {
    written
        .split('.')
        .map(|part| part.trim().trim_matches(|c| c == '"' || c == '\''))
        .collect::<Vec<_>>()
        .join(".")
}

/// A whole number from 0 to 100, or an error that says so (whatever the number given).
fn percent<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let value = i64::deserialize(deserializer)?;
    u8::try_from(value)
        .ok()
        .filter(|v| *v <= 100)
        .ok_or_else(|| serde::de::Error::custom(format!("{value} is not in 0-100")))
}

/// A parser's message with Rust's type names in words: "expected u8" means a whole number
/// from 0 to 255.
fn plain_types(message: &str) -> String {
    let whole = [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number, 0 or more"),
        ("u64", "a whole number, 0 or more"),
        ("usize", "a whole number, 0 or more"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
    ];
    let mut plain = message.to_owned();
    for (name, words) in whole {
        plain = plain.replace(&format!("expected {name}"), &format!("expected {words}"));
    }
    for name in ["f32", "f64"] {
        plain = plain.replace(&format!("expected {name}"), "expected a number");
    }
    // A number past i64's range is read as i128 and refused as a type: it is a size.
    if plain.starts_with("invalid type: integer") && plain.contains(" as i128") {
        plain = plain
            .replacen("invalid type: integer", "out of range: integer", 1)
            .replacen(" as i128", "", 1);
    }
    plain
}

/// The dotted key defined on (1-based) `line`: the enclosing `[table]` plus the key before `=`.
fn key_at_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let current = lines.get(line.checked_sub(1)?)?.trim();
    // A table header names itself (an unknown table is reported on its header).
    if let Some(table) = table_header(current) {
        return Some(table);
    }
    let table = lines[..line - 1].iter().rev().find_map(|l| table_header(l));
    let key = current
        .split('=')
        .next()
        .map(unquoted_key)
        .filter(|k| !k.is_empty() && !current.starts_with('['));
    match (table, key) {
        (Some(table), Some(key)) if current.contains('=') => Some(format!("{table}.{key}")),
        (None, Some(key)) if current.contains('=') => Some(key.to_owned()),
        (Some(table), _) => Some(table),
        _ => None,
    }
}

/// The line on which a dotted key ("playback.volume") is set, or else the nearest table holding
/// it (an inline table, `log = { ... }`), if any is.
fn line_of_key(text: &str, dotted: &str) -> Option<usize> {
    let mut key = dotted;
    loop {
        if let Some(line) = (1..=text.lines().count()).find(|&line| key_at_line(text, line).as_deref() == Some(key)) {
            return Some(line);
        }
        key = &key[..key.rfind('.')?];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_matches_code_defaults() {
        let shipped: Config = toml::from_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn type_error_names_line_and_key() {
        let text = "[playback]\nvolume = 50\nreplaygain = 7\n";
        let err = Config::parse(text, Path::new("c.toml")).unwrap_err().to_string();
        assert!(err.starts_with("c.toml: line 3, key `playback.replaygain`:"), "{err}");
        assert_eq!(err.lines().count(), 1);
    }

    #[test]
    fn a_lyrics_folder_under_the_home_folder_may_start_with_a_tilde() {
        let config = Config::parse("[lyrics]\nfolder = \"~/lyrics\"\n", Path::new("c.toml")).unwrap();
        let home = directories::BaseDirs::new().unwrap().home_dir().to_path_buf();
        assert_eq!(config.lyrics.folder, Some(home.join("lyrics")));
        let config = Config::parse("[lyrics]\nfolder = \"/srv/~x\"\n", Path::new("c.toml")).unwrap();
        assert_eq!(config.lyrics.folder, Some(PathBuf::from("/srv/~x")));
        // A relative one lies beside the config file.
        let config = Config::parse("[lyrics]\nfolder = \"lrc\"\n", Path::new("/etc/skipless/c.toml")).unwrap();
        assert_eq!(config.lyrics.folder, Some(PathBuf::from("/etc/skipless/lrc")));
    }

    #[test]
    fn a_broken_header_and_a_wrong_type_are_said_in_words() {
        let err = Config::parse("[playback\nvolume = 5\n", Path::new("c.toml")).unwrap_err();
        assert_eq!(err.to_string(), "c.toml: line 1: unclosed table, expected `]`");
        let err = Config::parse("[playback]\nvolume = \"loud\"\n", Path::new("c.toml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: line 2, key `playback.volume`: invalid type: string \"loud\", expected a whole number"
        );
    }

    #[test]
    fn a_choice_of_the_wrong_type_names_its_words() {
        let err = Config::parse("[playback]\naudio = 3\n", Path::new("c.toml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: line 2, key `playback.audio`: expected one of `auto`, `device`, `null`, in quotes"
        );
        let err = Config::parse("[ui]\nalbum_art = true\n", Path::new("c.toml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: line 2, key `ui.album_art`: expected one of `auto`, `halfblocks`, `off`, in quotes"
        );
    }

    #[test]
    fn an_unknown_table_is_named_by_its_header() {
        for (text, line) in [
            ("[playback]\nvolume = 50\n\n\n[recomend]\nautoplay = true\n", 5),
            ("[recomend]\nautoplay = true\n", 1),
        ] {
            let err = Config::parse(text, Path::new("c.toml")).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!(
                    "c.toml: line {line}, key `recomend`: unknown field `recomend`"
                )),
                "{err}"
            );
        }
    }

    /// Errors name the line and key a listener wrote, whatever the way they wrote them: a header
    /// with a comment after it, a quoted key, an inline table.
    #[test]
    fn errors_name_the_line_of_a_key_written_any_way_toml_allows() {
        let error = |text: &str| Config::parse(text, Path::new("c.toml")).unwrap_err().to_string();
        assert_eq!(
            error("[playback]\nvolume = 5\n[log] # logging\nlisten_seconds = \"x\"\n"),
            "c.toml: line 4, key `log.listen_seconds`: invalid type: string \"x\", expected a whole number, 0 or more"
        );
        assert_eq!(
            error("[log] # logging\nlisten_fraction = 3.0\n"),
            "c.toml: line 2, key `log.listen_fraction`: 3 is not above 0 and at most 1"
        );
        assert_eq!(
            error("[log]\n\"listen_fraction\" = 2.0\n"),
            "c.toml: line 2, key `log.listen_fraction`: 2 is not above 0 and at most 1"
        );
        assert_eq!(
            error("log = { listen_fraction = 2.0 }\n"),
            "c.toml: line 1, key `log.listen_fraction`: 2 is not above 0 and at most 1"
        );
        assert!(!error("[log]\nlisten_fraction = 2.0\n").contains("line 0"));
    }

    #[test]
    fn unknown_key_and_range_errors() {
        let err = Config::parse("[log]\nsesion_gap = 3\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("log.sesion_gap"), "{err}");
        let err = Config::parse("[playback]\n\nvolume = 300\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("playback.volume"), "{err}");
        for (volume, said) in [
            ("500", "500 is not in 0-100"),
            ("-5", "-5 is not in 0-100"),
            ("101", "101 is not in 0-100"),
        ] {
            let err = Config::parse(&format!("[playback]\nvolume = {volume}\n"), Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.ends_with(said), "{err}");
        }
        let err = Config::parse("[recommend]\nretrain_every = -1\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("expected a whole number, 0 or more"), "{err}");
        for (text, said) in [
            (
                "[playback]\nreplaygain_fallback_db = nan\n",
                "line 2, key `playback.replaygain_fallback_db`: NaN is not in -30 to 12 (dB)",
            ),
            (
                "[playback]\nreplaygain_fallback_db = 1000.0\n",
                "key `playback.replaygain_fallback_db`: 1000 is not in -30 to 12 (dB)",
            ),
            (
                "[recommend]\ntemperature = inf\n",
                "line 2, key `recommend.temperature`: inf is not a finite number, 0 or more",
            ),
            (
                "[recommend]\nfinish_weight = -1.0\n",
                "line 2, key `recommend.finish_weight`: -1 is not a finite number, 0 or more",
            ),
            (
                "[log]\nlisten_seconds = 0\n",
                "line 2, key `log.listen_seconds`: must be 1 or more (0 would make every play a listen; a large value leaves listen_fraction alone)",
            ),
            (
                "[log]\nlisten_fraction = 0.0\n",
                "line 2, key `log.listen_fraction`: 0 is not above 0 and at most 1",
            ),
            (
                "[log]\nsession_gap_minutes = 0\n",
                "line 2, key `log.session_gap_minutes`: must be 1 or more (0 would make every play a session of its own)",
            ),
            (
                "[recommend]\nautoplay_queue = 0\n",
                "line 2, key `recommend.autoplay_queue`: must be 1 or more (autoplay = false turns autoplay off)",
            ),
            (
                "[keys]\nnext = [\"N\"]\nprevious = [\"N\"]\n",
                "line 3, key `keys.previous`: `N` is given to both next and previous; a key does one thing",
            ),
            (
                "[keys]\nnext = [\"bogus-key\"]\n",
                "line 2, key `keys.next`: unknown key `bogus-key`",
            ),
            (
                "[lyrics]\nfolder = \"\"\n",
                "line 2, key `lyrics.folder`: is empty: name a folder of .lrc files, or leave the setting out",
            ),
            (
                "[playback]\nvolume = 99999999999999999999\n",
                "line 2, key `playback.volume`: out of range: integer `99999999999999999999`, expected a whole number",
            ),
        ] {
            let err = Config::parse(text, Path::new("c.toml")).unwrap_err().to_string();
            assert!(err.ends_with(said), "{err}");
            assert_eq!(err.lines().count(), 1);
        }
    }

    #[test]
    fn a_missing_file_in_the_default_place_is_the_defaults_and_a_named_one_an_error() {
        let missing = Path::new("/nonexistent/skipless.toml");
        assert_eq!(Config::load(missing, false).unwrap(), Config::default());
        let err = Config::load(missing, true).unwrap_err().to_string();
        assert_eq!(
            err,
            "/nonexistent/skipless.toml: cannot read: No such file or directory (os error 2)"
        );
    }
}
