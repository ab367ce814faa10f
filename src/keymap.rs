//! Keys to [`Action`]s ([`KeyMap`]): the defaults, overrides from the config's `[keys]`
//! table, and the help screen, generated from the same table so it is never out of date.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Action {
    Play,
    TogglePause,
    Next,
    Previous,
    Stop,
    SeekBack,
    SeekForward,
    VolumeUp,
    VolumeDown,
    Mute,
    Search,
    NextPane,
    PreviousPane,
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Enqueue,
    PlayNext,
    Remove,
    MoveUp,
    MoveDown,
    ClearQueue,
    Shuffle,
    Repeat,
    Autoplay,
    Retrain,
    Export,
    Sort,
    GoToPlaying,
    Like,
    Ban,
    Radio,
    Lyrics,
    LyricsSooner,
    LyricsLater,
    ViewLibrary,
    ViewTracks,
    ViewQueue,
    ViewHistory,
    ViewStats,
    ViewPlaylists,
    SavePlaylist,
    AddToPlaylist,
    RenamePlaylist,
    Help,
    /// Leave the terminal to the shell until `fg`.
    Suspend,
    /// Draw the whole screen again (after another program wrote over it).
    Redraw,
    Quit,
}

impl Action {
    /// Whether the action acts while the help is open: scrolling it, closing it, the terminal's
    /// own (suspend, redraw), quitting.
    pub(crate) fn acts_in_help(self) -> bool {
        matches!(
            self,
            Action::Down
                | Action::Up
                | Action::PageDown
                | Action::PageUp
                | Action::Top
                | Action::Bottom
                | Action::Help
                | Action::Suspend
                | Action::Redraw
                | Action::Quit
        )
    }
}

/// (action, config name, description, default keys), in help order.
const ACTIONS: &[(Action, &str, &str, &[&str])] = &[
    (
        Action::Play,
        "play",
        "play the selection (a track; an album or artist as a queue)",
        &["Enter"],
    ),
    (Action::TogglePause, "pause", "pause / resume", &["Space"]),
    (Action::Next, "next", "next track (logged per the skip rule)", &["n"]),
    (
        Action::Previous,
        "previous",
        "previous track (after 3 s, this one again)",
        &["p"],
    ),
    (Action::Stop, "stop", "stop", &["x"]),
    (Action::SeekBack, "seek_back", "seek back 5 s", &["Left"]),
    (Action::SeekForward, "seek_forward", "seek forward 5 s", &["Right"]),
    (Action::VolumeUp, "volume_up", "volume up", &["+", "="]),
    (Action::VolumeDown, "volume_down", "volume down", &["-"]),
    (Action::Mute, "mute", "mute / unmute", &["M"]),
    (
        Action::Search,
        "search",
        "search title, artist, album, genre, year (Tab: to results; Esc leaves)",
        &["/"],
    ),
    (Action::NextPane, "next_pane", "next pane", &["Tab"]),
    (Action::PreviousPane, "previous_pane", "previous pane", &["BackTab"]),
    (Action::Down, "down", "move down", &["j", "Down"]),
    (Action::Up, "up", "move up", &["k", "Up"]),
    (Action::PageDown, "page_down", "page down", &["PageDown", "ctrl-d"]),
    (Action::PageUp, "page_up", "page up", &["PageUp", "ctrl-u"]),
    (Action::Top, "top", "go to the top", &["g", "Home"]),
    (Action::Bottom, "bottom", "go to the bottom", &["G", "End"]),
    (Action::Enqueue, "enqueue", "add the selection to the queue", &["a"]),
    (
        Action::PlayNext,
        "play_next",
        "play the selection next, before the rest of the queue",
        &["N"],
    ),
    (
        Action::Remove,
        "remove",
        "remove from the queue or a playlist",
        &["d", "Delete"],
    ),
    (Action::MoveUp, "move_up", "move a queue or playlist entry up", &["K"]),
    (
        Action::MoveDown,
        "move_down",
        "move a queue or playlist entry down",
        &["J"],
    ),
    (Action::ClearQueue, "clear_queue", "clear the queue", &["C"]),
    (Action::Shuffle, "shuffle", "shuffle the upcoming tracks", &["s"]),
    (Action::Repeat, "repeat", "repeat mode: off, all, one", &["R"]),
    (Action::Autoplay, "autoplay", "autoplay on / off", &["A"]),
    (Action::Retrain, "retrain", "retrain the recommender now", &["r"]),
    (Action::Export, "export", "export the listening log", &["e"]),
    (Action::Sort, "sort", "change the sort order of the track list", &["o"]),
    (
        Action::GoToPlaying,
        "go_to_playing",
        "select the playing track in this view's list",
        &["i"],
    ),
    (
        Action::Like,
        "like",
        "like / unlike the selected (else playing) track",
        &["f"],
    ),
    (
        Action::Ban,
        "ban",
        "ban / unban it: autoplay never queues it (asks)",
        &["b"],
    ),
    (
        Action::Radio,
        "radio",
        "radio from the selection: it plays, autoplay goes on with more like it",
        &["m"],
    ),
    (
        Action::Lyrics,
        "lyrics",
        "show / hide the lyrics of the playing track",
        &["l"],
    ),
    (
        Action::LyricsSooner,
        "lyrics_sooner",
        "synced lyrics 0.5 s sooner (kept for the track)",
        &["["],
    ),
    (
        Action::LyricsLater,
        "lyrics_later",
        "synced lyrics 0.5 s later (kept for the track)",
        &["]"],
    ),
    (
        Action::ViewLibrary,
        "view_library",
        "library: artists, albums, tracks",
        &["1"],
    ),
    (Action::ViewTracks, "view_tracks", "all tracks, sortable", &["2"]),
    (Action::ViewQueue, "view_queue", "the queue", &["3"]),
    (
        Action::ViewHistory,
        "view_history",
        "recent plays: this session's and all since the player started",
        &["4"],
    ),
    (Action::ViewStats, "view_stats", "statistics", &["5"]),
    (Action::ViewPlaylists, "view_playlists", "saved playlists", &["6"]),
    (
        Action::AddToPlaylist,
        "add_to_playlist",
        "add the selection to a playlist (a new name creates one)",
        &["c"],
    ),
    (
        Action::SavePlaylist,
        "save_playlist",
        "save the queue (in History: the recent listens) as a playlist",
        &["S"],
    ),
    (
        Action::RenamePlaylist,
        "rename_playlist",
        "rename the playlist selected in Playlists (remove deletes it, asks)",
        &["F2"],
    ),
    (Action::Help, "help", "this help", &["?"]),
    (
        Action::Suspend,
        "suspend",
        "suspend to the shell (fg comes back; playback waits)",
        &["ctrl-z"],
    ),
    (Action::Redraw, "redraw", "draw the whole screen again", &["ctrl-l"]),
    (Action::Quit, "quit", "quit", &["q", "ctrl-c"]),
];

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyMapError {
    #[error("[keys]: unknown action `{name}`{hint} (the help screen, ?, names every action)")]
    UnknownAction { name: String, hint: String },
    /// `at` is the action whose line left quit with no key: quit's own `[]`, or one that took its keys.
    #[error("[keys] {at}: {why}, and quit cannot be left without a key: the player could not be left")]
    Unquittable { at: String, why: String },
    #[error("[keys] {action}: unknown key `{key}`")]
    UnknownKey { action: String, key: String },
    #[error("[keys] {taker}: takes `{key}` from {action}, which is left with no key (give {action} a key, or `{action} = []`)")]
    LeftWithoutKey { taker: String, key: String, action: String },
    #[error("[keys]: `{key}` is given to both {first} and {second}; a key does one thing")]
    BoundTwice { key: String, first: String, second: String },
    #[error("[keys] {action}: `{key}` is sent by a terminal as `{lower}` (Ctrl with Shift cannot be told apart); write `{lower}`")]
    CtrlCapital { action: String, key: String, lower: String },
    #[error("[keys] {action}: `{key}` is sent by a terminal as `{sent}`, and arrives as that key; write `{sent}`")]
    SentAsAnother { action: String, key: String, sent: String },
}

/// The key a terminal's byte for `key` is read as, where that is another key: Ctrl-M is Enter,
/// Ctrl-I Tab, Ctrl-[ and Ctrl-3 Esc, Ctrl-? and Ctrl-8 Backspace, Ctrl-@ and Ctrl-2 Ctrl-Space,
/// and the bytes 0x1C to 0x1F of Ctrl-\\, Ctrl-], Ctrl-^ and Ctrl-_ (or Ctrl-/) arrive as Ctrl-4
/// to Ctrl-7. Bound as written, it would never arrive.
fn sent_as_another(key: &KeyEvent) -> Option<&'static str> {
    if key.modifiers != KeyModifiers::CONTROL {
        return None;
    }
    match key.code {
        KeyCode::Char('m') => Some("Enter"),
        KeyCode::Char('i') => Some("Tab"),
        KeyCode::Char('[' | '3') => Some("Esc"),
        KeyCode::Char('?' | '8') => Some("Backspace"),
        KeyCode::Char('@' | '2') => Some("ctrl-space"),
        KeyCode::Char('\\') => Some("ctrl-4"),
        KeyCode::Char(']') => Some("ctrl-5"),
        KeyCode::Char('^') => Some("ctrl-6"),
        KeyCode::Char('_' | '/') => Some("ctrl-7"),
        _ => None,
    }
}

/// The key bindings in force.
#[derive(Debug, Clone)]
pub struct KeyMap {
    bindings: BTreeMap<Action, Vec<KeyEvent>>,
}

impl Default for KeyMap {
    fn default() -> Self {
        let bindings = ACTIONS
            .iter()
            .map(|(action, _, _, keys)| (*action, keys.iter().filter_map(|k| parse_key(k)).collect()))
            .collect();
        Self { bindings }
    }
}

impl KeyMap {
    /// The defaults with the config's overrides (`action = ["key", ...]`) applied.
    pub(crate) fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Self, KeyMapError> {
        let mut map = Self::default();
        let mut taken: BTreeMap<Action, (String, String)> = BTreeMap::new();
        // Which action of the config each key is given to: one key, one action.
        let mut given: Vec<(KeyEvent, &str)> = Vec::new();
        for (name, keys) in overrides {
            let action = ACTIONS
                .iter()
                .find(|(_, n, _, _)| n == name)
                .map(|(a, _, _, _)| *a)
                .ok_or_else(|| KeyMapError::UnknownAction {
                    name: name.clone(),
                    hint: crate::fmt::closest(name, ACTIONS.iter().map(|(_, n, _, _)| *n))
                        .map_or_else(String::new, |n| format!(": did you mean `{n}`?")),
                })?;
            let parsed = keys
                .iter()
                .map(|k| {
                    parse_key(k).ok_or_else(|| KeyMapError::UnknownKey {
                        action: name.clone(),
                        key: k.clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            for (key, text) in parsed.iter().zip(keys) {
                // Checked on the lower-case key too: `ctrl-M` is `ctrl-m`, which is Enter.
                let lower = match key.code {
                    KeyCode::Char(c) => KeyEvent::new(KeyCode::Char(c.to_ascii_lowercase()), key.modifiers),
                    _ => *key,
                };
                if let Some(sent) = sent_as_another(&lower) {
                    return Err(KeyMapError::SentAsAnother {
                        action: name.clone(),
                        key: text.clone(),
                        sent: sent.to_owned(),
                    });
                }
                if let KeyCode::Char(c) = key.code {
                    if key.modifiers.contains(KeyModifiers::CONTROL) && c.is_uppercase() {
                        return Err(KeyMapError::CtrlCapital {
                            action: name.clone(),
                            key: text.clone(),
                            lower: key_name(&KeyEvent::new(KeyCode::Char(c.to_ascii_lowercase()), key.modifiers)),
                        });
                    }
                }
                if let Some((_, first)) = given.iter().find(|(k, other)| k == key && *other != name) {
                    return Err(KeyMapError::BoundTwice {
                        key: key_name(key),
                        first: (*first).to_owned(),
                        second: name.clone(),
                    });
                }
                given.push((*key, name));
            }
            // A key given to this action is taken away from any other one.
            for (other, bound) in map.bindings.iter_mut() {
                if let Some(key) = bound.iter().find(|k| parsed.contains(k)) {
                    taken.insert(*other, (name.clone(), key_name(key)));
                }
                bound.retain(|k| !parsed.contains(k));
            }
            map.bindings.insert(action, parsed);
        }
        if map.bindings.get(&Action::Quit).is_none_or(Vec::is_empty) {
            return Err(match taken.get(&Action::Quit) {
                Some((taker, key)) if !overrides.contains_key("quit") => KeyMapError::Unquittable {
                    at: taker.clone(),
                    why: format!("takes `{key}` from quit"),
                },
                _ => KeyMapError::Unquittable {
                    at: "quit".into(),
                    why: "`quit = []`".into(),
                },
            });
        }
        // An action whose every key was taken, and which the config gives none, could no longer
        // be reached: say so rather than lose it (an explicit `action = []` unbinds it). The
        // terminal's own keys (Ctrl-Z, Ctrl-L) and play-next's `N` give way quietly: configs
        // written before they were bound took them for other actions, and must go on loading.
        for (action, name, _, _) in ACTIONS {
            if matches!(action, Action::Suspend | Action::Redraw | Action::PlayNext) {
                continue;
            }
            let unbound = map.bindings.get(action).is_none_or(Vec::is_empty);
            let unbound_on_purpose = overrides.get(*name).is_some_and(Vec::is_empty);
            if let Some((taker, key)) = taken.get(action).filter(|_| unbound && !unbound_on_purpose) {
                return Err(KeyMapError::LeftWithoutKey {
                    taker: taker.clone(),
                    key: key.clone(),
                    action: (*name).to_owned(),
                });
            }
        }
        Ok(map)
    }

    /// The action bound to a key press, if any.
    pub(crate) fn action(&self, key: KeyEvent) -> Option<Action> {
        let key = normalise(key);
        self.bindings
            .iter()
            .find(|(_, keys)| keys.contains(&key))
            .map(|(action, _)| *action)
    }

    /// (keys, description, the action's name in `[keys]`) for every action, in help order.
    pub fn help(&self) -> Vec<(String, &'static str, &'static str)> {
        ACTIONS
            .iter()
            .map(|(action, name, description, _)| {
                let keys = self
                    .bindings
                    .get(action)
                    .map(|k| k.iter().map(key_name).collect::<Vec<_>>().join(", "));
                (keys.unwrap_or_default(), *description, *name)
            })
            .collect()
    }

    /// "KEY DOES", a hint naming the key of `action`; `None` when `[keys]` left the action
    /// without one, so that no hint names a key that is not there.
    pub(crate) fn hint(&self, action: Action, does: &str) -> Option<String> {
        self.first_key(action).map(|key| format!("{key} {does}"))
    }

    /// The hints of `hints` that have a key, joined by `separator`.
    pub(crate) fn hints(&self, hints: &[(Action, &str)], separator: &str) -> Option<String> {
        let given: Vec<String> = hints
            .iter()
            .filter_map(|&(action, does)| self.hint(action, does))
            .collect();
        (!given.is_empty()).then(|| given.join(separator))
    }

    /// " (KEY DOES)", or nothing when the action has no key.
    pub(crate) fn aside(&self, action: Action, does: &str) -> String {
        self.hint(action, does)
            .map_or_else(String::new, |hint| format!(" ({hint})"))
    }

    /// The first key bound to `action`; `None` when `[keys]` left it without one.
    pub(crate) fn first_key(&self, action: Action) -> Option<String> {
        self.bindings.get(&action).and_then(|k| k.first()).map(key_name)
    }
}

/// Shift is part of the character for printable keys ("G"), so it is dropped there.
fn normalise(key: KeyEvent) -> KeyEvent {
    let mut modifiers = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
    if matches!(key.code, KeyCode::Char(_) | KeyCode::BackTab) {
        modifiers.remove(KeyModifiers::SHIFT);
    }
    KeyEvent::new(key.code, modifiers)
}

/// Parses "n", "G", "Space", "Enter", "ctrl-d", "alt-x", "F5", "PageDown", ...
pub(crate) fn parse_key(text: &str) -> Option<KeyEvent> {
    let mut modifiers = KeyModifiers::NONE;
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        if lower.starts_with("ctrl-") && rest.len() > 5 {
            modifiers |= KeyModifiers::CONTROL;
            rest = &rest[5..];
        } else if lower.starts_with("alt-") && rest.len() > 4 {
            modifiers |= KeyModifiers::ALT;
            rest = &rest[4..];
        } else {
            break;
        }
    }
    let code = match rest.to_ascii_lowercase().as_str() {
        "enter" | "return" => KeyCode::Enter,
        "space" => KeyCode::Char(' '),
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "esc" | "escape" => KeyCode::Esc,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" => KeyCode::PageUp,
        "pagedown" => KeyCode::PageDown,
        "delete" | "del" => KeyCode::Delete,
        "backspace" => KeyCode::Backspace,
        f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok().filter(|n| (1..=24).contains(n))?),
        _ => {
            let mut chars = rest.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            KeyCode::Char(c)
        }
    };
    Some(KeyEvent::new(code, modifiers))
}

/// The name of a key as the help shows it (and as the config accepts it).
pub(crate) fn key_name(key: &KeyEvent) -> String {
    let mut name = String::new();
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        name.push_str("ctrl-");
    }
    if key.modifiers.contains(KeyModifiers::ALT) {
        name.push_str("alt-");
    }
    match key.code {
        KeyCode::Char(' ') => name.push_str("Space"),
        KeyCode::Char(c) => name.push(c),
        KeyCode::F(n) => name.push_str(&format!("F{n}")),
        other => name.push_str(&format!("{other:?}")),
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn default_keys() {
        let map = KeyMap::default();
        assert_eq!(
            map.action(press(KeyCode::Char('n'), KeyModifiers::NONE)),
            Some(Action::Next)
        );
        assert_eq!(
            map.action(press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            map.action(press(KeyCode::Char(' '), KeyModifiers::NONE)),
            Some(Action::TogglePause)
        );
        assert_eq!(
            map.action(press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(map.action(press(KeyCode::Char('z'), KeyModifiers::NONE)), None);
    }

    #[test]
    fn overrides_move_keys_and_reject_nonsense() {
        // `l` is the lyrics' one key: taking it leaves them none, unless the config gives them one.
        let overrides = BTreeMap::from([("next".to_owned(), vec!["ctrl-n".to_owned(), "l".to_owned()])]);
        assert_eq!(
            KeyMap::with_overrides(&overrides).unwrap_err().to_string(),
            "[keys] next: takes `l` from lyrics, which is left with no key (give lyrics a key, or `lyrics = []`)"
        );
        let overrides = BTreeMap::from([
            ("next".to_owned(), vec!["ctrl-n".to_owned(), "l".to_owned()]),
            ("lyrics".to_owned(), vec!["ctrl-l".to_owned()]),
        ]);
        // Ctrl-L was free before it redrew: a config that took it for the lyrics still loads.
        let map = KeyMap::with_overrides(&overrides).unwrap();
        assert_eq!(
            map.action(press(KeyCode::Char('l'), KeyModifiers::CONTROL)),
            Some(Action::Lyrics)
        );
        assert_eq!(
            map.action(press(KeyCode::Char('l'), KeyModifiers::NONE)),
            Some(Action::Next)
        );
        let unbound = BTreeMap::from([("next".to_owned(), vec!["l".to_owned()]), ("lyrics".to_owned(), vec![])]);
        let without_lyrics = KeyMap::with_overrides(&unbound).expect("an explicit [] unbinds");
        // Hints name the keys there are, and leave out an action that has none.
        assert_eq!(without_lyrics.hint(Action::Lyrics, "shows the lyrics"), None);
        assert_eq!(without_lyrics.aside(Action::Lyrics, "shows the lyrics"), "");
        assert_eq!(
            without_lyrics.aside(Action::Next, "plays the next"),
            " (l plays the next)"
        );
        assert_eq!(
            without_lyrics.hints(&[(Action::Lyrics, "shows the lyrics"), (Action::Play, "plays")], ", "),
            Some("Enter plays".into())
        );
        assert_eq!(
            without_lyrics.hints(&[(Action::Lyrics, "shows the lyrics")], ", "),
            None
        );
        // Given a key of its own that another action then takes, it is left with none too.
        let taken_back = BTreeMap::from([
            ("lyrics".to_owned(), vec!["x".to_owned()]),
            ("next".to_owned(), vec!["x".to_owned()]),
        ]);
        assert!(KeyMap::with_overrides(&taken_back).is_err());
        assert_eq!(
            map.action(press(KeyCode::Char('n'), KeyModifiers::CONTROL)),
            Some(Action::Next)
        );
        assert_eq!(map.action(press(KeyCode::Char('n'), KeyModifiers::NONE)), None);
        let bad = BTreeMap::from([("dance".to_owned(), vec!["d".to_owned()])]);
        assert!(KeyMap::with_overrides(&bad).is_err());
        let typo = BTreeMap::from([("nxt".to_owned(), vec!["d".to_owned()])]);
        let said = KeyMap::with_overrides(&typo).unwrap_err().to_string();
        assert!(said.contains("unknown action `nxt`: did you mean `next`?"), "{said}");
        // Without quit's keys, the player could not be left.
        let unquittable = BTreeMap::from([("quit".to_owned(), vec![])]);
        let said = KeyMap::with_overrides(&unquittable).unwrap_err().to_string();
        assert!(
            said.starts_with("[keys] quit: `quit = []`, and quit cannot be left without a key"),
            "{said}"
        );
        // Its keys all taken, the line that took them is named.
        let taken = BTreeMap::from([("next".to_owned(), vec!["q".to_owned(), "ctrl-c".to_owned()])]);
        let said = KeyMap::with_overrides(&taken).unwrap_err().to_string();
        assert!(said.starts_with("[keys] next: takes `"), "{said}");
        let bad = BTreeMap::from([("next".to_owned(), vec!["hyper-x".to_owned()])]);
        assert!(KeyMap::with_overrides(&bad).is_err());
        // One key for two actions of the config is refused, whichever comes first.
        let twice = BTreeMap::from([
            ("next".to_owned(), vec!["N".to_owned(), "n".to_owned()]),
            ("previous".to_owned(), vec!["N".to_owned(), "p".to_owned()]),
        ]);
        assert_eq!(
            KeyMap::with_overrides(&twice).unwrap_err().to_string(),
            "[keys]: `N` is given to both next and previous; a key does one thing"
        );
        // Nor do Ctrl-M, Ctrl-I and Ctrl-[: a terminal sends Enter, Tab and Esc; nor the keys
        // whose bytes crossterm reads as another key.
        for (key, sent) in [
            ("ctrl-m", "Enter"),
            ("ctrl-M", "Enter"),
            ("ctrl-i", "Tab"),
            ("ctrl-[", "Esc"),
            ("ctrl-3", "Esc"),
            ("ctrl-?", "Backspace"),
            ("ctrl-8", "Backspace"),
            ("ctrl-@", "ctrl-space"),
            ("ctrl-2", "ctrl-space"),
            ("ctrl-\\", "ctrl-4"),
            ("ctrl-]", "ctrl-5"),
            ("ctrl-^", "ctrl-6"),
            ("ctrl-_", "ctrl-7"),
            ("ctrl-/", "ctrl-7"),
        ] {
            let bound = BTreeMap::from([("play".to_owned(), vec![key.to_owned()])]);
            assert_eq!(
                KeyMap::with_overrides(&bound).unwrap_err().to_string(),
                format!(
                    "[keys] play: `{key}` is sent by a terminal as `{sent}`, and arrives as that key; write `{sent}`"
                )
            );
        }
        // Ctrl with a capital letter never arrives from a terminal.
        let capital = BTreeMap::from([("next".to_owned(), vec!["ctrl-N".to_owned()])]);
        assert_eq!(
            KeyMap::with_overrides(&capital).unwrap_err().to_string(),
            "[keys] next: `ctrl-N` is sent by a terminal as `ctrl-n` (Ctrl with Shift cannot be told apart); write `ctrl-n`"
        );
    }

    #[test]
    fn help_lists_every_action_with_its_keys() {
        let help = KeyMap::default().help();
        assert_eq!(help.len(), ACTIONS.len());
        assert!(help
            .iter()
            .any(|(keys, d, name)| keys == "n" && d.starts_with("next track") && *name == "next"));
        for (keys, description, _) in &help {
            assert!(!keys.is_empty(), "{description} has no key");
            for key in keys.split(", ") {
                assert!(
                    parse_key(key).is_some(),
                    "help shows `{key}`, which the config would not accept"
                );
            }
        }
    }
}
