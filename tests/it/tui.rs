//! The whole app on ratatui's TestBackend, driven by key events through the real key map,
//! with the real engine (null output), a real database and the real corpus.

use std::time::{Duration, Instant};

use crate::common::LogWriter;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use skipless::app::library::LibraryIndex;
use skipless::config::{AudioOutput, Config};
use skipless::db::Database;
use skipless::tui::state::TerminalRequest;
use skipless::tui::App;

struct Harness {
    app: App,
    engine: skipless::player::Engine,
    terminal: Terminal<TestBackend>,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new(width: u16, height: u16) -> Self {
        Self::on(&crate::common::corpus(), width, height)
    }

    /// The app on a library of the files in `music`.
    fn on(music: &std::path::Path, width: u16, height: u16) -> Self {
        Self::configured(music, width, height, |_| {})
    }

    /// [`Harness::on`] with the default config changed by `change`.
    fn configured(music: &std::path::Path, width: u16, height: u16, change: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("skipless.db");
        let mut db = Database::open(&db_path).unwrap();
        skipless::library::scan::scan(
            &mut db,
            &[music.to_path_buf()],
            skipless::library::scan::Reread::Changed,
            &|_| {},
        )
        .unwrap();
        let mut config = Config::default();
        config.playback.audio = AudioOutput::Null;
        change(&mut config);
        let (engine, controller, _) = skipless::app::start_playback(&config, &db_path).unwrap();
        let mut app = App::new(config, db_path, controller).unwrap();
        app.theme = skipless::tui::Theme::from_config(&Default::default(), skipless::tui::ColourDepth::None);
        app.state.set_library(LibraryIndex::load(&db).unwrap());
        let terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        Self {
            app,
            engine,
            terminal,
            _dir: dir,
        }
    }

    /// A harness whose autoplay runs, on the fallback (no model yet).
    fn with_fallback_autoplay() -> Self {
        let mut h = Harness::new(100, 30);
        h.app.start_autoplay(h._dir.path().join("models"));
        h.pump_until("the fallback status", |app| {
            app.state.model_status.starts_with("fallback")
        });
        h
    }

    fn keys(&mut self, keys: &str) -> &mut Self {
        for c in keys.chars() {
            let code = match c {
                '\t' => KeyCode::Tab,
                '\n' => KeyCode::Enter,
                '\x1b' => KeyCode::Esc,
                c => KeyCode::Char(c),
            };
            self.key(KeyEvent::new(code, KeyModifiers::NONE));
        }
        self
    }

    /// One key, as the terminal delivers it: with the screen's size, as the event loop does.
    fn key(&mut self, key: KeyEvent) -> &mut Self {
        let size = self.terminal.size().unwrap();
        self.app
            .handle_terminal(TermEvent::Key(key), Rect::new(0, 0, size.width, size.height));
        self
    }

    fn screen(&mut self) -> String {
        self.terminal.draw(|f| skipless::tui::draw(f, &self.app)).unwrap();
        self.terminal.backend().to_string()
    }

    /// Feeds engine events and worker reports to the app until `done` holds.
    fn pump_until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&self.app) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            crossbeam_channel::select! {
                recv(self.engine.events) -> e => { if let Ok(e) = e { self.app.handle_engine(&e) } }
                recv(self.app.worker_rx) -> m => { if let Ok(m) = m { self.app.handle_worker(m) } }
                default(Duration::from_millis(50)) => {}
            }
        }
    }

    /// Feeds engine events alone until `done` holds: worker reports wait in their channel.
    fn pump_engine_until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&self.app) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            if let Ok(e) = self.engine.events.recv_timeout(Duration::from_millis(50)) {
                self.app.handle_engine(&e);
            }
        }
    }
}

/// The autoplay picks waiting in the queue, in order.
fn autoplay_picks(app: &App) -> Vec<i64> {
    app.controller
        .queue
        .upcoming()
        .iter()
        .filter(|e| e.source == skipless::play::PlaySource::Autoplay)
        .map(|e| e.track.id)
        .collect()
}

#[test]
fn library_view_browses_artists_albums_tracks() {
    let mut h = Harness::new(80, 24);
    insta::assert_snapshot!("library_start", h.screen());
    h.keys("jj\t");
    insta::assert_snapshot!("library_artist_album", h.screen());
    // A like of the album's first track shows beside it there.
    h.keys("\tf");
    let screen = h.screen();
    let liked = screen.lines().filter(|l| l.contains("♥")).count();
    assert_eq!(liked, 1, "{screen}");
}

/// A copy of the corpus's `sad.ogg` at `path` with its artist, album, title, disc, track and
/// date tags replaced by `tags`.
fn copy_tagged(path: &std::path::Path, tags: &[(lofty::tag::ItemKey, &str)]) {
    use lofty::file::{AudioFile, TaggedFileExt};
    use lofty::tag::{ItemKey, ItemValue, TagItem};
    std::fs::copy(crate::common::corpus().join("sad.ogg"), path).unwrap();
    let mut file = lofty::read_from_path(path).unwrap();
    let tag = file.primary_tag_mut().unwrap();
    for key in [
        ItemKey::TrackArtist,
        ItemKey::AlbumArtist,
        ItemKey::AlbumTitle,
        ItemKey::TrackTitle,
        ItemKey::DiscNumber,
        ItemKey::TrackNumber,
        ItemKey::RecordingDate,
        ItemKey::Year,
    ] {
        tag.remove_key(key);
    }
    for (key, value) in tags {
        tag.push(TagItem::new(*key, ItemValue::Text((*value).to_owned())));
    }
    file.save_to_path(path, lofty::config::WriteOptions::default()).unwrap();
}

/// An album of two discs numbers its tracks by disc, and a compilation's tracks name their own
/// artists, which the artist pane ("Various Artists") does not.
#[test]
fn a_compilation_of_two_discs_shows_each_tracks_disc_and_artist() {
    use lofty::tag::ItemKey;
    let music = tempfile::tempdir().unwrap();
    for (name, disc, track, artist) in [
        ("a", "1", "1", "Alpha"),
        ("b", "1", "2", "Beta"),
        ("c", "2", "1", "Gamma"),
    ] {
        copy_tagged(
            &music.path().join(format!("{name}.ogg")),
            &[
                (ItemKey::TrackArtist, artist),
                (ItemKey::AlbumArtist, "Various Artists"),
                (ItemKey::AlbumTitle, "Two Discs"),
                (ItemKey::TrackTitle, &format!("Song {name}")),
                (ItemKey::DiscNumber, disc),
                (ItemKey::TrackNumber, track),
            ],
        );
    }
    let mut h = Harness::on(music.path(), 140, 24);
    h.keys("\t\t");
    let screen = h.screen();
    for row in ["1- 1. Song a – Alpha", "1- 2. Song b – Beta", "2- 1. Song c – Gamma"] {
        assert!(screen.contains(row), "{row}:\n{screen}");
    }
}

/// An artist's albums read as a discography: in the order they came out, each with its year,
/// an album without one after them.
#[test]
fn an_artists_albums_are_in_the_order_they_came_out() {
    use lofty::tag::ItemKey;
    let music = tempfile::tempdir().unwrap();
    for (name, album, year) in [
        ("a", "Abbey Road", Some("1969")),
        ("b", "Bootlegs", None),
        ("c", "Help!", Some("1965")),
        ("d", "Let It Be", Some("1970")),
    ] {
        let mut items = vec![(ItemKey::TrackArtist, "The Band"), (ItemKey::AlbumTitle, album)];
        items.extend(year.map(|year| (ItemKey::RecordingDate, year)));
        copy_tagged(&music.path().join(format!("{name}.ogg")), &items);
    }
    let mut h = Harness::on(music.path(), 120, 24);
    let screen = h.keys("\t").screen();
    let albums: Vec<&str> = ["1965 Help!", "1969 Abbey Road", "1970 Let It Be", "Bootlegs"]
        .into_iter()
        .filter(|album| screen.contains(album))
        .collect();
    assert_eq!(albums.len(), 4, "{screen}");
    let at = |album: &str| screen.find(album).unwrap();
    assert!(albums.windows(2).all(|w| at(w[0]) < at(w[1])), "{screen}");
}

#[test]
fn tracks_view_sorts() {
    let mut h = Harness::new(80, 24);
    h.keys("2");
    insta::assert_snapshot!("tracks_by_album", h.screen());
    h.keys("o");
    insta::assert_snapshot!("tracks_by_title", h.screen());
}

#[test]
fn search_is_incremental_and_esc_leaves() {
    let mut h = Harness::new(80, 24);
    h.keys("/elf");
    insta::assert_snapshot!("search_elf", h.screen());
    h.keys("\x1b");
    assert!(!h.screen().contains("Search"));
}

#[test]
fn queue_add_reorder_remove() {
    let mut h = Harness::new(80, 24);
    h.keys("2aja").keys("3");
    insta::assert_snapshot!("queue_two", h.screen());
    h.keys("jK");
    let screen = h.screen();
    let first = screen.find("silence").unwrap();
    let second = screen.find("menu").unwrap();
    assert!(first < second, "K moved silence above menu:\n{screen}");
    h.keys("d");
    assert!(h
        .app
        .controller
        .queue
        .entries()
        .iter()
        .all(|e| e.track.title != "silence"));
    assert_eq!(h.app.state.status.as_deref(), Some("removed from the queue: silence"));
    // Shuffling is a one-off that says what it did; there is no mode to show.
    h.keys("s");
    assert_eq!(
        h.app.state.status.as_deref(),
        Some("nothing to shuffle: fewer than two tracks are queued after this one")
    );
    h.keys("2ajajaja3s");
    assert_eq!(h.app.state.status.as_deref(), Some("shuffled the 5 upcoming tracks"));
    assert!(!h.screen().contains("shuffle o"));
}

/// Up next shrinks under its selection when the queue moves on: the selection follows it, and a
/// move acts on the last entry rather than past it.
#[test]
fn a_move_after_up_next_shrank_under_the_selection_acts_on_its_last_entry() {
    let mut h = Harness::new(80, 24);
    h.keys("2ajajaja ");
    h.pump_until("the first track to start", |app| app.controller.now.is_some());
    h.keys("\tjj");
    let upcoming = |h: &Harness| -> Vec<i64> { h.app.controller.queue.upcoming().iter().map(|e| e.track.id).collect() };
    let before = upcoming(&h);
    assert_eq!(before.len(), 3, "{before:?}");
    h.keys("n");
    assert_eq!(upcoming(&h), before[1..]);
    h.keys("K");
    assert_eq!(upcoming(&h), [before[2], before[1]]);
    assert_eq!(h.app.state.up_next, 0);
}

#[test]
fn help_lists_every_key_from_the_key_map() {
    let mut h = Harness::new(130, 56);
    h.keys("?");
    let screen = h.screen();
    // With each action's name, the word a `[keys]` line of the config takes.
    for (keys, description, name) in h.app.keys.help() {
        assert!(
            screen.contains(&keys) && screen.contains(description) && screen.contains(name),
            "help misses {keys}: {description} ({name})"
        );
    }
    insta::assert_snapshot!("help", screen);
    // At 80 columns a long description wraps beside its keys and name: no word of it is cut.
    let mut narrow = Harness::new(80, 90);
    narrow.keys("?");
    let screen = narrow.screen();
    let help = narrow.app.keys.help();
    let keys_width = help.iter().map(|(keys, _, _)| keys.chars().count()).max().unwrap();
    let width = help.iter().map(|(_, _, name)| name.len()).max().unwrap();
    for (keys, description, name) in &help {
        let row = format!("{keys:>keys_width$}  {name:<width$}  ");
        assert!(screen.contains(&row), "{name} cut:\n{screen}");
        for word in description.split_whitespace() {
            assert!(screen.contains(word), "{name}: {word:?} cut:\n{screen}");
        }
    }
    assert!(screen.contains("? or Esc closes, j/k scroll"), "{screen}");
    // On a short screen, G scrolls to the last screenful: the end of the list.
    let mut h = Harness::new(100, 16);
    h.keys("?G");
    let screen = h.screen();
    let help = h.app.keys.help();
    let width = help.iter().map(|(_, _, name)| name.len()).max().unwrap();
    for (keys, _, name) in &help[help.len() - 8..] {
        assert!(
            screen.contains(&format!("{keys:>keys_width$}  {name:<width$}  ")),
            "{keys}: {name} not shown after G:\n{screen}"
        );
    }
    // Rows left under the last entry: fewer than the next entry up would take (two).
    let blank = format!("│{}│", " ".repeat(94));
    let rows: Vec<&str> = screen.lines().collect();
    assert!(
        rows.iter().filter(|row| row.contains(&blank)).count() <= 1,
        "the last screenful leaves rows unused:\n{screen}"
    );
}

#[test]
fn the_screen_names_the_keys_of_the_config_not_the_defaults() {
    let music = crate::common::corpus();
    let mut h = Harness::configured(&music, 200, 30, |config| {
        for (action, keys) in [
            ("view_library", vec!["F1"]),
            ("view_stats", vec![]),
            ("view_playlists", vec!["F6"]),
            ("play", vec!["ctrl-p"]),
            ("save_playlist", vec!["W"]),
        ] {
            config
                .keys
                .insert(action.to_owned(), keys.into_iter().map(str::to_owned).collect());
        }
    });
    let tabs = h.screen().lines().next().unwrap().to_owned();
    assert!(
        tabs.contains(" F1 Library ") && tabs.contains(" 2 Tracks ") && tabs.contains(" F6 Playlists "),
        "{tabs}"
    );
    // A view left without a key is named, with no number that would not open it.
    assert!(tabs.contains(" Stats ") && !tabs.contains('5'), "{tabs}");
    h.key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE));
    assert_eq!(
        h.app.state.status.as_deref(),
        Some("select a playlist in Playlists (F6) to rename it")
    );
    h.key(KeyEvent::new(KeyCode::F(6), KeyModifiers::NONE));
    let screen = h.screen();
    assert!(
        screen.contains("Playlists (0) · ctrl-p plays · W saves the queue"),
        "{screen}"
    );
    // Narrow, the other views keep their keys alone.
    let mut narrow = Harness::configured(&music, 40, 20, |config| {
        config.keys.insert("view_library".to_owned(), vec!["F1".to_owned()]);
    });
    narrow.keys("2");
    let tabs = narrow.screen().lines().next().unwrap().to_owned();
    assert!(tabs.contains(" F1 ") && tabs.contains(" 2 Tracks "), "{tabs}");
}

#[test]
fn a_short_terminal_still_shows_where_the_track_is() {
    let mut h = Harness::new(100, 12);
    h.keys("2\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    let screen = h.screen();
    assert!(screen.contains(" / "), "no position shown: {screen}");
    assert!(screen.contains("autoplay"), "{screen}");
}

#[test]
fn a_long_artist_and_album_are_cut_with_an_ellipsis_in_the_now_playing_line() {
    let mut h = Harness::new(50, 20);
    h.keys("/transience\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    let screen = h.screen();
    let line = screen.lines().find(|l| l.contains("▶")).unwrap().to_owned();
    // "▶ Transience — Aleksi Aubry-Carlson · The Battle for Wesnoth OST" is 64 columns.
    assert!(
        line.contains("│▶ Transience — Aleksi Aubry-Carlson · The Battl…│"),
        "{line}"
    );
}

#[test]
fn small_terminals_degrade_without_panicking() {
    for (w, h) in [(80, 24), (60, 15), (40, 10), (20, 5), (10, 3), (1, 1)] {
        let mut harness = Harness::new(w, h);
        harness.keys("2j/a");
        harness.screen();
        harness.keys("\x1b3?");
        harness.screen();
    }
    // Too small to draw: the reason is shown whole, wrapped.
    let screen = Harness::new(19, 5).screen();
    let words = screen
        .replace('"', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(words.contains("skipless: terminal too small"), "{screen}");
}

/// In a short terminal the search box is one line without a frame, and the results show.
#[test]
fn a_short_terminal_shows_the_search_results() {
    let mut h = Harness::new(40, 10);
    h.keys("/sad");
    h.pump_until("the search results", |app| {
        app.state
            .search
            .as_ref()
            .is_some_and(|s| !s.searching && !s.results.is_empty())
    });
    let screen = h.screen();
    assert!(screen.contains("/sad"), "{screen}");
    assert!(screen.lines().filter(|l| l.contains("Sad")).count() >= 2, "{screen}");
}

/// The stats view follows the log while it is shown: a play logged meanwhile is counted without
/// leaving the view.
#[test]
fn the_stats_view_counts_a_play_logged_while_it_is_shown() {
    let mut h = Harness::new(80, 24);
    h.keys("2ajajaja ");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    h.keys("5");
    h.pump_until("stats", |app| app.state.stats.is_some());
    assert!(!h.screen().contains("1 play ·"), "{}", h.screen());
    h.app.state.stats = None;
    h.keys("n");
    h.pump_until("the play to be logged", |app| !app.controller.history.is_empty());
    h.pump_until("the stats again", |app| app.state.stats.is_some());
    let screen = h.screen();
    assert!(screen.contains("1 play · 0 listens · 1 skip (100%)"), "{screen}");
    // A play logged while the read of the one before has not been taken in: the view still
    // ends at the last count. Worker reports wait until both plays are logged, the first read's
    // answer (two plays) among them.
    for logged in [2, 3] {
        h.pump_engine_until("the next track to start", |app| {
            let last = app.controller.history.last().map(|(_, play)| play.track_id);
            app.controller
                .now
                .as_ref()
                .is_some_and(|n| Some(n.entry.track.id) != last)
        });
        h.keys("n");
        h.pump_engine_until("one more play logged", |app| app.controller.history.len() == logged);
        if logged == 2 {
            h.pump_engine_until("the read of two plays", |app| !app.worker_rx.is_empty());
        }
    }
    h.pump_until("the stats of all three", |app| {
        app.state.stats.as_ref().is_some_and(|s| s.totals.plays == 3)
    });
    let screen = h.screen();
    assert!(screen.contains("3 plays · 0 listens · 3 skips (100%)"), "{screen}");
}

/// Pasted text is text: into the search box on one line, and nowhere else, where its letters
/// would run as commands (n skips, x stops, e exports). Keys typed in the search box stay there:
/// Delete removes nothing from the list behind it.
#[test]
fn pasted_text_and_keys_in_the_search_box_never_act_on_the_lists() {
    let mut h = Harness::new(100, 30);
    let area = Rect::new(0, 0, 100, 30);
    h.keys("2aaa3");
    let queued = h.app.controller.queue.entries().len();
    assert_eq!(queued, 3);
    h.app.handle_terminal(TermEvent::Paste("nonsense text".into()), area);
    assert_eq!(h.app.controller.queue.entries().len(), queued);
    assert!(h.app.controller.now.is_none() && h.app.controller.history.is_empty());
    assert_eq!(
        h.app.state.status.as_deref(),
        Some("pasted text goes into the search box (/ opens it)")
    );
    h.keys("/");
    h.app.handle_terminal(TermEvent::Paste("sad\nxq".into()), area);
    assert_eq!(h.app.state.search.as_ref().map(|s| s.query.as_str()), Some("sad xq"));
    assert!(h.app.controller.now.is_none() && !h.app.state.quitting);
    // With the keys on the results, a paste still goes on the query, and the keys go back to
    // the box.
    h.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    h.app.handle_terminal(TermEvent::Paste("Sa".into()), area);
    h.pump_until("the search's results", |app| {
        app.state.search.as_ref().is_some_and(|s| !s.results.is_empty())
    });
    h.key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert!(h.app.state.search.as_ref().is_some_and(|s| s.in_results));
    // Under the help, which keeps the keys, a paste is refused, `j` scrolls the help and not
    // the results below it, and Esc closes the help, not the search.
    assert!(h.app.state.search.as_ref().is_some_and(|s| s.results.len() > 1));
    h.keys("?");
    h.keys("j");
    assert_eq!(h.app.state.search.as_ref().map(|s| s.selected), Some(0));
    h.app.handle_terminal(TermEvent::Paste("x".into()), area);
    assert_eq!(h.app.state.search.as_ref().map(|s| s.query.as_str()), Some("Sa"));
    assert_eq!(h.app.state.status.as_deref(), Some("? or Esc closes the help"));
    h.key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert!(!h.app.state.help && h.app.state.search.as_ref().is_some_and(|s| s.in_results));
    h.app.handle_terminal(TermEvent::Paste("d".into()), area);
    let search = h.app.state.search.as_ref().expect("the search box stays open");
    assert_eq!((search.query.as_str(), search.in_results), ("Sad", false));
    assert_eq!(h.app.controller.queue.entries().len(), queued);
    h.key(KeyEvent::new(KeyCode::Delete, KeyModifiers::NONE));
    h.key(KeyEvent::new(KeyCode::Right, KeyModifiers::NONE));
    assert_eq!(
        h.app.controller.queue.entries().len(),
        queued,
        "Delete in the search box"
    );
}

#[test]
fn playing_pausing_and_history() {
    let mut h = Harness::new(80, 24);
    // Library -> "Martin Severn" -> Enter plays the artist.
    h.keys("j\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    h.keys(" ");
    h.pump_until("pause", |app| app.controller.now.as_ref().is_some_and(|n| n.paused));
    let screen = h.screen();
    assert!(
        screen.contains("⏸ Track 3 — Martin Severn · Warzone 2100 OST"),
        "{screen}"
    );
    assert!(screen.contains("/ 0:20"), "{screen}");
    h.keys("n");
    h.pump_until("the play to be logged", |app| !app.controller.history.is_empty());
    assert_eq!(
        h.app.controller.history[0].1.end_source,
        Some(skipless::play::ControlSource::Key)
    );
    h.keys("4");
    let screen = h.screen();
    assert!(screen.contains("skip") && screen.contains("Track 3"), "{screen}");
    h.keys("5");
    h.pump_until("stats", |app| app.state.stats.is_some());
    assert!(h.screen().contains("1 play · 0 listens · 1 skip (100%)"));
    // The track lists count the play at once, as a restart would.
    let skipped = h.app.controller.history[0].1.track_id;
    let counts = h.app.state.library.plays.get(&skipped).copied().unwrap_or_default();
    assert_eq!((counts.plays, counts.skips), (1, 1));
    assert!(counts.last_played.is_some());
    // Enter on a row of the history plays its track again.
    let selected_play = |app: &App| {
        let history = &app.controller.history;
        let (track, play) = &history[history.len() - 1 - app.state.history];
        (track.id, play.ended_at)
    };
    h.keys("4");
    let chosen = selected_play(&h.app);
    h.keys("\n");
    h.pump_until("the history's track to play again", |app| {
        app.controller.now.as_ref().is_some_and(|n| n.entry.track.id == skipped)
    });
    // Plays added above it (the replay, skipped) leave the selection on the play chosen.
    let logged = h.app.controller.history.len();
    h.keys("n");
    h.pump_until("the replay's skip to be logged", |app| {
        app.controller.history.len() > logged
    });
    assert_eq!(selected_play(&h.app), chosen, "{}", h.screen());
    assert!(h.app.state.history >= 1);
}

#[test]
fn desktop_requests_drive_the_player_like_its_keys() {
    use skipless::app::mpris_bridge as bridge;
    use skipless::mpris::{Request, Status};
    let mut h = Harness::new(80, 24);
    let shown = |h: &Harness| {
        assert!(!bridge::between_tracks(&h.app.controller), "a track is on its way");
        bridge::state_of(&h.app.controller)
    };
    assert_eq!(shown(&h).status, Status::Stopped);
    // Library -> "Martin Severn" -> Enter plays the artist's one track; then the first album.
    h.keys("j\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    h.app.handle_mpris(Request::Pause);
    h.pump_until("pause", |app| app.controller.now.as_ref().is_some_and(|n| n.paused));
    let state = shown(&h);
    assert_eq!(state.status, Status::Paused);
    assert_eq!(state.track.map(|t| t.title), Some("Track 3".to_owned()));
    h.app.handle_mpris(Request::PlayPause);
    h.pump_until("resume", |app| app.controller.now.as_ref().is_some_and(|n| !n.paused));
    h.app.handle_mpris(Request::Volume(40));
    h.pump_until("the volume", |app| app.controller.volume == 40);
    h.app.handle_mpris(Request::Loop(skipless::mpris::Loop::Track));
    assert_eq!(shown(&h).loop_status, skipless::mpris::Loop::Track);
    assert!(h.screen().contains("repeat one"), "{}", h.screen());
    h.app.handle_mpris(Request::Loop(skipless::mpris::Loop::None));
    h.app.handle_mpris(Request::Stop);
    h.pump_until("the play to be logged", |app| !app.controller.history.is_empty());
    let (_, play) = &h.app.controller.history[0];
    assert_eq!(play.end_reason, skipless::play::EndReason::Stopped);
    assert_eq!(play.end_source, Some(skipless::play::ControlSource::Mpris));
    assert!(play.skipped);
    h.pump_until("the player to stop", |app| app.controller.now.is_none());
    // Play while stopped starts the queue again.
    h.app.handle_mpris(Request::Play);
    h.pump_until("the track to start again", |app| app.controller.now.is_some());
    h.app.handle_mpris(Request::Quit);
    assert!(h.app.state.quitting);
}

fn autoplay_pick_playing(app: &App) -> bool {
    app.controller
        .now
        .as_ref()
        .is_some_and(|n| n.entry.source == skipless::play::PlaySource::Autoplay)
}

/// Play with nothing queued: autoplay's picks play, or, with autoplay off, the status says how
/// to give the player something.
#[test]
fn play_with_nothing_queued_plays_autoplays_picks() {
    let mut h = Harness::with_fallback_autoplay();
    let says_nothing_queued = |h: &Harness| {
        let status = h.app.state.status.as_deref().unwrap_or_default();
        assert!(status.starts_with("nothing queued"), "{status}");
    };
    h.keys("A ");
    assert!(h.app.controller.now.is_none());
    says_nothing_queued(&h);
    // Repeat on: autoplay adds nothing, so nothing is promised.
    h.keys("AR ");
    says_nothing_queued(&h);
    // A stop pressed with nothing playing is older than the play pressed after it.
    h.keys("RRx ");
    assert_eq!(h.app.state.status.as_deref(), Some("autoplay chooses what to play"));
    h.pump_until("an autoplay pick to play", autoplay_pick_playing);
}

/// A media key's play with nothing queued takes the keys' path to autoplay's picks.
#[test]
fn a_media_keys_play_with_nothing_queued_plays_autoplays_picks() {
    let mut h = Harness::with_fallback_autoplay();
    h.app.handle_mpris(skipless::mpris::Request::Play);
    assert_eq!(h.app.state.status.as_deref(), Some("autoplay chooses what to play"));
    h.pump_until("an autoplay pick to play", autoplay_pick_playing);
}

#[test]
fn autoplay_fills_up_next_from_the_fallback_and_reranks_after_a_skip() {
    let mut h = Harness::with_fallback_autoplay();
    // Play the one track of "Martin Severn": autoplay queues three more after it.
    h.keys("j\n");
    h.pump_until("three autoplay picks", |app| autoplay_picks(app).len() == 3);
    let screen = h.screen();
    assert!(screen.contains("autoplay") && screen.contains("fallback"), "{screen}");
    // The ranking is named once, in the status; each pick shows only why it is there.
    assert!(
        h.app.state.model_status.starts_with("fallback"),
        "{}",
        h.app.state.model_status
    );
    let reasons: Vec<String> = h
        .app
        .controller
        .queue
        .upcoming()
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|r| !r.is_empty() && !r.contains("fallback") && !r.contains(" · ")),
        "{reasons:?}"
    );
    let first_picks = autoplay_picks(&h.app);
    // Skip into the first pick, then skip it too: it must not come back, and the picks are
    // re-ranked for the new session context.
    h.keys("n");
    h.pump_until("the first pick to play", |app| {
        app.controller
            .now
            .as_ref()
            .is_some_and(|n| n.entry.track.id == first_picks[0])
    });
    h.keys("n");
    h.pump_until("two skips logged", |app| app.controller.history.len() == 2);
    h.pump_until("a re-ranked up next", |app| {
        let ids = autoplay_picks(app);
        ids.len() == 3 && !ids.contains(&first_picks[0])
    });
    assert!(h.app.controller.history.iter().all(|(_, p)| p.skipped));
    // `C` clears up next; autoplay fills it again while the track plays on. (Once the playing
    // track is under way, so that its start, which also asks for picks, is behind us.)
    h.pump_until("the next pick to be under way", |app| {
        app.controller.now.as_ref().is_some_and(|n| n.position_ms >= 1_000)
    });
    let cleared = autoplay_picks(&h.app);
    h.keys("C");
    assert!(h.app.controller.queue.upcoming().is_empty());
    assert_eq!(h.app.state.status.as_deref(), Some("queue cleared: 3 tracks"));
    h.pump_until("new picks after the clear", |app| autoplay_picks(app).len() == 3);
    assert_eq!(h.app.controller.history.len(), 2, "the playing track went on");
    let picks = autoplay_picks(&h.app);
    assert!(
        picks.iter().all(|id| !cleared.contains(id)),
        "the cleared picks do not come back: {cleared:?} then {picks:?}"
    );
}

/// With autoplay on, its picks would keep a repeating queue from ever coming round: while the
/// queue repeats they leave it and no new ones come, and they are back once repeat is off.
#[test]
fn a_repeating_queue_gets_no_autoplay_picks_until_repeat_is_off() {
    let mut h = Harness::with_fallback_autoplay();
    h.keys("j\n");
    h.pump_until("three autoplay picks", |app| autoplay_picks(app).len() == 3);
    h.keys("R");
    assert!(h.screen().contains("repeat all"));
    assert_eq!(autoplay_picks(&h.app).len(), 0);
    assert_eq!(
        h.app.state.status.as_deref(),
        Some("repeat all: autoplay adds nothing while the queue repeats")
    );
    // A skip asks autoplay for picks; its answer is not taken.
    h.keys("n");
    h.pump_until("the skip logged", |app| app.controller.history.len() == 1);
    let until = Instant::now() + Duration::from_millis(1500);
    h.pump_until("a while", |_| Instant::now() >= until);
    assert_eq!(autoplay_picks(&h.app).len(), 0);
    h.keys("RR");
    assert!(h.screen().contains("repeat off"));
    assert_eq!(
        h.app.state.status.as_deref(),
        Some("repeat off: autoplay picks what follows again"),
        "the message of the last press, not of an earlier one"
    );
    h.pump_until("picks again", |app| autoplay_picks(app).len() == 3);
}

/// A ban of one of autoplay's upcoming picks drops it, and a fresh ranking fills its place.
#[test]
fn a_banned_pick_leaves_the_queue_and_autoplay_fills_its_place() {
    let mut h = Harness::with_fallback_autoplay();
    h.keys("j\n");
    h.pump_until("three autoplay picks", |app| autoplay_picks(app).len() == 3);
    let first_pick = autoplay_picks(&h.app)[0];
    h.keys("3");
    h.pump_until("the queue view", |app| {
        app.state.view == skipless::tui::state::View::Queue
    });
    // The queue view opens on the playing entry: the next row is the first pick.
    h.keys("jb");
    h.keys("y");
    h.pump_until("the ban", |app| app.state.library.marks.is_banned(first_pick));
    h.pump_until("three picks again, the banned one not among them", |app| {
        let now = autoplay_picks(app);
        now.len() == 3 && !now.contains(&first_pick)
    });
}

/// Skips faster than autoplay can rank (keys that arrive together) run the queue out: the
/// next picks play as they come, and playback goes on.
#[test]
fn skips_that_outrun_autoplay_go_on_with_its_next_picks() {
    let mut h = Harness::with_fallback_autoplay();
    h.keys("j\n");
    h.pump_until("three autoplay picks", |app| app.controller.queue.upcoming().len() == 3);
    h.keys("nnnnnn");
    let playing = |app: &App| {
        app.controller
            .now
            .as_ref()
            .is_some_and(|now| now.entry.source == skipless::play::PlaySource::Autoplay)
    };
    h.pump_until("an autoplay pick playing after the burst", |app| {
        playing(app) && app.controller.queue.upcoming().len() == 3
    });
    assert!(h.screen().contains("│▶ "), "{}", h.screen());

    // A stop while the picks are on their way is the last word: they do not start playing.
    h.keys("nnnnnnx");
    let picks_back = |app: &App| app.controller.queue.upcoming().len() == 3;
    h.pump_until("the picks after the stop", picks_back);
    let until = Instant::now() + Duration::from_millis(500);
    h.pump_until("a while", |_| Instant::now() >= until);
    assert!(h.app.controller.now.is_none(), "{}", h.screen());
}

#[test]
fn mouse_clicks_select_and_the_wheel_scrolls() {
    use crossterm::event::{Event, MouseButton, MouseEvent, MouseEventKind};
    let mut h = Harness::new(80, 24);
    h.screen();
    let area = ratatui::layout::Rect::new(0, 0, 80, 24);
    let mouse = |kind, column, row| {
        Event::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // The artists column starts at x=0, its first row at y=2 (tabs, then the border).
    assert!(h
        .app
        .handle_terminal(mouse(MouseEventKind::Down(MouseButton::Left), 3, 4), area));
    assert_eq!(
        (h.app.state.pane, h.app.state.artist),
        (skipless::tui::state::Pane::Artists, 2)
    );
    h.app.handle_terminal(mouse(MouseEventKind::ScrollDown, 3, 4), area);
    assert_eq!(h.app.state.artist, 4, "the wheel moves by three, clamped to the list");
    h.app.handle_terminal(mouse(MouseEventKind::ScrollUp, 3, 4), area);
    assert_eq!(h.app.state.artist, 1);

    // Search results start under the search box (tabs, the box's three rows, the border).
    h.keys("/e");
    h.pump_until("the search results", |app| {
        app.state
            .search
            .as_ref()
            .is_some_and(|s| !s.searching && s.results.len() > 3)
    });
    h.screen();
    h.app
        .handle_terminal(mouse(MouseEventKind::Down(MouseButton::Left), 3, 5), area);
    assert_eq!(
        h.app.state.search.as_ref().map(|s| s.selected),
        Some(0),
        "the first result"
    );
    h.app
        .handle_terminal(mouse(MouseEventKind::Down(MouseButton::Left), 3, 6), area);
    assert_eq!(
        h.app.state.search.as_ref().map(|s| s.selected),
        Some(1),
        "the second result"
    );
}

/// A click on a tab opens its view, one on the help hint opens the help, whose cover takes no
/// clicks (the wheel scrolls it), and one on the progress bar seeks there.
#[test]
fn clicks_open_views_and_the_help_and_seek_in_the_track() {
    use crossterm::event::{Event, MouseButton, MouseEvent, MouseEventKind};
    use skipless::tui::state::View;
    let mut h = Harness::new(80, 24);
    let area = ratatui::layout::Rect::new(0, 0, 80, 24);
    let mouse = |kind, column: usize, row: usize| {
        Event::Mouse(MouseEvent {
            kind,
            column: column as u16,
            row: row as u16,
            modifiers: KeyModifiers::NONE,
        })
    };
    let click = |column, row| mouse(MouseEventKind::Down(MouseButton::Left), column, row);
    let tabs = h.screen().lines().next().unwrap().trim_matches('"').to_owned();
    // The tab bar is ASCII: a byte offset is a column.
    let column_of = |text: &str| tabs.find(text).unwrap();
    h.app.handle_terminal(click(column_of("3 Queue") + 2, 0), area);
    assert_eq!(h.app.state.view, View::Queue);
    h.app.handle_terminal(click(column_of("2 Tracks") + 2, 0), area);
    assert_eq!(h.app.state.view, View::Tracks);

    h.app.handle_terminal(click(column_of("? help") + 1, 0), area);
    assert!(h.app.state.help, "the help hint opens the help");
    let selected = h.app.state.track;
    h.app.handle_terminal(click(3, 6), area);
    h.app.handle_terminal(click(column_of("1 Library") + 1, 0), area);
    assert_eq!(
        (h.app.state.view, h.app.state.track),
        (View::Tracks, selected),
        "a click behind the help acts on nothing"
    );
    h.app.handle_terminal(mouse(MouseEventKind::ScrollDown, 3, 6), area);
    assert_eq!(h.app.state.help_scroll, 3, "the wheel scrolls the help");
    h.keys("\x1b");

    // menu is 3:00 long; the bar is the now-playing box's second inner row.
    h.keys("/menu\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    let screen = h.screen();
    let lines: Vec<&str> = screen.lines().collect();
    let bar_row = lines.iter().position(|l| l.contains(" / 3:00")).unwrap();
    let bar = lines[bar_row].trim_matches('"');
    // The box's border, then the bar, then the time after it.
    let label_at = bar.find(" 0:").unwrap();
    let bar_width = bar[..label_at].chars().count() - 1;
    h.app.handle_terminal(click(1 + bar_width / 2, bar_row), area);
    let position = h.app.controller.now.as_ref().unwrap().position_ms;
    assert!(
        (80_000..=100_000).contains(&position),
        "a click halfway along the bar seeks near 1:30, not to {position} ms"
    );
}

/// The selected row is drawn in the selection's colours whole: its dim counts and album too,
/// which in their own colour on the selection's background could not be read.
#[test]
fn every_piece_of_the_selected_row_takes_the_selection_colours() {
    use ratatui::style::Color;
    let mut h = Harness::new(100, 24);
    h.app.theme = skipless::tui::Theme::from_config(&Default::default(), skipless::tui::ColourDepth::TrueColour);
    h.keys("2");
    let screen = h.screen();
    // The first track is selected: the list's first row, under the tabs and the border.
    let row = 2;
    let first = screen.lines().nth(row).unwrap();
    assert!(first.contains("0×"), "the counts, drawn dim elsewhere: {first}");
    let buffer = h.terminal.backend().buffer().clone();
    let cells: Vec<_> = (1..100)
        .map(|x| &buffer[(x, row as u16)])
        .take_while(|c| c.symbol() != "│")
        .filter(|c| c.symbol() != " ")
        .collect();
    assert!(cells.len() > 10, "{screen}");
    for cell in cells {
        assert_eq!(
            (cell.fg, cell.bg),
            (Color::White, Color::Blue),
            "{:?} on row {row}: {screen}",
            cell.symbol()
        );
    }
}

#[test]
fn m_mutes_and_unmutes_back_to_the_volume_before() {
    let mut h = Harness::new(80, 24);
    h.keys("-");
    let before = h.app.controller.volume;
    h.keys("M");
    assert_eq!(h.app.controller.volume, 0);
    assert!(h.screen().contains(&format!("muted ({before}%)")));
    h.keys("M");
    assert_eq!(h.app.controller.volume, before);
    assert!(h.screen().contains(&format!("vol {before}%")));
    // A volume key unmutes, a step from the volume before the mute, as a volume set anywhere does.
    h.keys("M-");
    assert_eq!(h.app.controller.muted_at, None);
    assert!(h.app.controller.volume > 0 && h.app.controller.volume < before);
    // The status line no longer says it is muted.
    let volume = h.app.controller.volume;
    assert_eq!(
        h.app.state.status.as_deref(),
        Some(format!("unmuted: volume {volume}").as_str())
    );
}

/// Logs `sessions` sessions of plays over the corpus (every third one skipped) in the harness's
/// database, as the player would.
fn seed_log(h: &Harness, sessions: usize) {
    let mut log = LogWriter::open(&h._dir.path().join("skipless.db"));
    let mut now = skipless::clock::now_ms() - 86_400_000;
    let tracks = h.app.state.library.tracks.clone();
    for s in 0..sessions {
        now += 3_600_000;
        for k in 0..10 {
            let skipped = (s + k) % 3 == 0;
            now = log.play(
                &tracks[(s * 3 + k) % tracks.len()],
                skipless::play::PlaySource::User,
                now,
                skipped.then_some(1_000),
            );
        }
    }
}

/// A player started again within the session gap carries on the session: view 4 (and what
/// autoplay ranks for) has its plays so far.
#[test]
fn a_player_started_again_within_the_session_gap_carries_on_its_session() {
    let mut h = Harness::new(100, 30);
    let database = h._dir.path().join("skipless.db");
    let tracks = h.app.state.library.tracks.clone();
    let mut log = LogWriter::open(&database);
    let mut at = skipless::clock::now_ms() - 10 * 60_000;
    for k in 0..3 {
        let skipped = (k == 1).then_some(1_000);
        at = log.play(&tracks[k], skipless::play::PlaySource::User, at, skipped) + 500;
    }
    drop(log);
    let mut config = Config::default();
    config.playback.audio = AudioOutput::Null;
    let (engine, controller, _) = skipless::app::start_playback(&config, &database).unwrap();
    h.engine = engine;
    h.app = App::new(config, database.clone(), controller).unwrap();
    assert_eq!(h.app.controller.history.len(), 3);
    h.app
        .state
        .set_library(LibraryIndex::load(&Database::open(&database).unwrap()).unwrap());
    h.keys("4");
    let screen = h.screen();
    assert!(
        screen.contains("History: recent plays (3 plays, 1 skipped)"),
        "{screen}"
    );
}

fn small_model_config() -> skipless::config::RecommendConfig {
    let mut config = Config::default().recommend;
    config.min_plays = 20;
    // The corpus has 12 tracks, all played lately: keep the recent-play filter short.
    config.exclude_recent = 2;
    config
}

#[test]
fn a_trained_model_drives_autoplay_and_a_skip_reranks_it() {
    use skipless::app::autoplay::{AutoplayCore, TrainingOutcome};
    let mut h = Harness::new(100, 30);
    seed_log(&h, 6);
    let models = h._dir.path().join("models");
    let db = Database::open(&h._dir.path().join("skipless.db")).unwrap();
    let mut core = AutoplayCore::new(db, models.clone(), small_model_config()).unwrap();
    let outcome = core
        .start_training()
        .run(&mut |_, _, _| {}, &std::sync::atomic::AtomicBool::new(false));
    assert!(matches!(outcome, TrainingOutcome::Saved(_)), "{outcome:?}");

    let mut config = Config::default();
    config.playback.audio = AudioOutput::Null;
    config.recommend = small_model_config();
    let (engine, controller, _) = skipless::app::start_playback(&config, &h._dir.path().join("skipless.db")).unwrap();
    h.engine = engine;
    h.app = App::new(config, h._dir.path().join("skipless.db"), controller).unwrap();
    h.app
        .state
        .set_library(LibraryIndex::load(&Database::open(&h._dir.path().join("skipless.db")).unwrap()).unwrap());
    h.app.start_autoplay(models);
    h.pump_until("the model to load", |app| {
        app.state.model_status.starts_with("model trained")
    });
    h.keys("j\n");
    let picks = |app: &App| -> Vec<(i64, String)> {
        app.controller
            .queue
            .upcoming()
            .iter()
            .filter(|e| e.source == skipless::play::PlaySource::Autoplay)
            .map(|e| (e.track.id, e.reason.clone().unwrap_or_default()))
            .collect()
    };
    h.pump_until("model picks", |app| picks(app).len() == 3);
    // The status names the ranking; each pick shows only why it is there.
    assert!(h.app.state.model_status.starts_with("model trained"));
    assert!(
        picks(&h.app)
            .iter()
            .all(|(_, reason)| !reason.is_empty() && !reason.starts_with("model")),
        "{:?}",
        picks(&h.app)
    );
    let before = picks(&h.app);
    // Skip the playing track: the picks are re-ranked with the skip in the session.
    h.keys("n");
    h.pump_until("the skip to be logged", |app| app.controller.history.len() == 1);
    h.pump_until("re-ranked picks", |app| picks(app).len() == 3 && picks(app) != before);
    assert!(h.app.controller.history[0].1.skipped);
}

#[test]
fn a_run_that_ends_after_another_saved_a_model_is_judged_against_that_model() {
    use skipless::app::autoplay::{AutoplayCore, TrainingOutcome};
    let h = Harness::new(120, 60);
    seed_log(&h, 6);
    let models = h._dir.path().join("models");
    let open = || Database::open(&h._dir.path().join("skipless.db")).unwrap();
    let mut core = AutoplayCore::new(open(), models.clone(), small_model_config()).unwrap();
    let never = std::sync::atomic::AtomicBool::new(false);
    // Two runs start with no model saved: a wreck (its learning rates climb the loss) and a
    // sound one. The wreck waits in its first step until the sound one has saved its model.
    let mut wreck = core.start_training();
    wreck.train.lr = -0.01;
    wreck.train.feature_lr = -0.05;
    wreck.train.max_epochs = 1;
    wreck.train.min_steps = 0;
    let sound = core.start_training();
    let (started_tx, started) = crossbeam_channel::bounded(1);
    let (go_on, go) = crossbeam_channel::bounded::<()>(1);
    let wrecked = std::thread::scope(|scope| {
        let never = &never;
        let waiting = scope.spawn(move || {
            let mut first = true;
            wreck.run(
                &mut |_, _, _| {
                    if std::mem::take(&mut first) {
                        started_tx.send(()).unwrap();
                        go.recv().unwrap();
                    }
                },
                never,
            )
        });
        started.recv().unwrap();
        let saved = sound.run(&mut |_, _, _| {}, never);
        assert!(matches!(saved, TrainingOutcome::Saved(_)), "{saved:?}");
        go_on.send(()).unwrap();
        waiting.join().unwrap()
    });
    let checkpoint = skipless::recommend::checkpoint::Checkpoint::path(&models);
    let saved = std::fs::read(&checkpoint).unwrap();
    match wrecked {
        TrainingOutcome::Kept(message) => assert!(message.contains("discarded"), "{message}"),
        other => panic!("the wreck replaced the model saved while it trained: {other:?}"),
    }
    assert_eq!(std::fs::read(&checkpoint).unwrap(), saved);
}

#[test]
fn a_worse_model_is_not_swapped_in() {
    use skipless::app::autoplay::{AutoplayCore, TrainingOutcome};
    let mut h = Harness::new(120, 60);
    seed_log(&h, 6);
    let models = h._dir.path().join("models");
    let db = Database::open(&h._dir.path().join("skipless.db")).unwrap();
    let mut core = AutoplayCore::new(db, models.clone(), small_model_config()).unwrap();
    let never = std::sync::atomic::AtomicBool::new(false);
    let first = core.start_training().run(&mut |_, _, _| {}, &never);
    assert!(matches!(first, TrainingOutcome::Saved(_)), "{first:?}");
    core.load_model().unwrap();
    let checkpoint = skipless::recommend::checkpoint::Checkpoint::path(&models);
    let saved = std::fs::read(&checkpoint).unwrap();

    // Negative learning rates climb the loss instead of descending it, which wrecks the feature
    // weights and the warm-started model: both models are judged on the same validation slice,
    // and the wreck is thrown away.
    let mut job = core.start_training();
    job.train.lr = -0.01;
    job.train.feature_lr = -0.05;
    job.train.max_epochs = 1;
    job.train.min_steps = 0;
    match job.run(&mut |_, _, _| {}, &never) {
        TrainingOutcome::Kept(message) => assert!(message.contains("discarded"), "{message}"),
        other => panic!("expected the model to be discarded, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&checkpoint).unwrap(),
        saved,
        "the saved model is untouched"
    );
    // Both runs are on the record, newest first, and the Stats view lists them.
    h.keys("5");
    h.pump_until("the stats", |app| app.state.stats.is_some());
    let runs = &h.app.state.stats.as_ref().unwrap().training_runs;
    let summary: Vec<(bool, bool, &str)> = runs
        .iter()
        .map(|r| (r.saved, r.old_ndcg10.is_some(), r.started_by.as_str()))
        .collect();
    assert_eq!(summary, [(false, true, "player"), (true, false, "player")]);
    assert!(runs[0].new_ndcg10 < runs[0].old_ndcg10.unwrap());
    let screen = h.screen();
    assert!(screen.contains("Recommender: the last training runs"), "{screen}");
    assert!(screen.contains("discarded"), "{screen}");
}

#[test]
fn like_marks_the_selected_track_and_a_ban_asks_first_then_skips_the_playing_track() {
    let mut h = Harness::new(100, 24);
    // Tracks view, first track: `f` likes it, and the list shows it.
    h.keys("2");
    let first = h.app.state.library.tracks[h.app.state.sorted[0]].clone();
    h.keys("f");
    assert!(h.app.state.library.marks.is_liked(first.id));
    let screen = h.screen();
    assert!(screen.contains(&format!("♥ {}", first.display_name())), "{screen}");
    assert!(screen.contains("liked:"), "{screen}");
    // A ban of the second track (not playing) asks, then marks it.
    h.keys("jby");
    insta::assert_snapshot!("tracks_liked_and_banned", h.screen());
    h.keys("kjb");
    assert!(
        h.screen().contains("unbanned"),
        "`b` on a banned track takes the ban back at once"
    );
    h.keys("k");
    h.keys("f");
    assert!(
        !h.app.state.library.marks.is_liked(first.id),
        "a second `f` takes the like back"
    );

    // Play the first track; a ban asks, and any key but `y` keeps it.
    h.keys("\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    let playing = h.app.controller.now.as_ref().unwrap().entry.track.clone();
    // A like shows on the now-playing line too.
    h.keys("f");
    assert!(h.screen().contains(&format!("▶ ♥ {}", playing.title)), "{}", h.screen());
    h.keys("f");
    h.keys("1");
    h.keys("b");
    assert!(
        h.screen().contains(&format!("y bans {}", playing.display_name())),
        "{}",
        h.screen()
    );
    h.keys("n");
    assert!(!h.app.state.library.marks.is_banned(playing.id));
    assert!(h.screen().contains("not banned"));
    // `y` bans the playing track: it is skipped at once, and the skip is logged. A Ctrl-L
    // meanwhile redraws and leaves the question waiting.
    h.keys("b");
    h.key(KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL));
    assert_eq!(h.app.state.terminal_request.take(), Some(TerminalRequest::Redraw));
    h.keys("y");
    assert!(h.app.state.library.marks.is_banned(playing.id));
    h.pump_until("the banned track's play to be logged", |app| {
        !app.controller.history.is_empty()
    });
    let (track, play) = &h.app.controller.history[0];
    assert_eq!(track.id, playing.id);
    assert_eq!(play.end_reason, skipless::play::EndReason::Skipped);
    assert!(play.skipped);
    // The database has both marks' history: the like is gone, the ban stays.
    let conn = rusqlite::Connection::open(h._dir.path().join("skipless.db")).unwrap();
    let likes: i64 = conn.query_row("SELECT count(*) FROM likes", [], |r| r.get(0)).unwrap();
    let banned: i64 = conn.query_row("SELECT track_id FROM bans", [], |r| r.get(0)).unwrap();
    assert_eq!((likes, banned), (0, playing.id));
}

#[test]
fn the_queue_is_saved_as_a_playlist_shown_in_view_6_and_played_from_there() {
    let mut h = Harness::new(100, 24);
    // Queue two tracks from the Tracks view, then `S` and a name.
    h.keys("2aja");
    assert_eq!(h.app.controller.queue.entries().len(), 2);
    h.keys("S");
    assert!(
        h.screen().contains("save the queue's 2 tracks as playlist:"),
        "{}",
        h.screen()
    );
    h.keys("evening\n");
    h.pump_until("the playlist to be saved", |app| !app.state.playlists.is_empty());
    assert!(h.screen().contains("saved the queue as playlist \"evening\""));
    // View 6 lists it; Enter plays it in order.
    h.keys("6");
    h.pump_until("the playlists to load", |app| app.state.playlists.len() == 7);
    let screen = h.screen();
    assert!(
        screen.contains("Playlists (7)") && screen.contains("evening          2 tracks"),
        "{screen}"
    );
    insta::assert_snapshot!("playlists", screen);
    let queued: Vec<i64> = h.app.controller.queue.entries().iter().map(|e| e.track.id).collect();
    h.keys("\n");
    h.pump_until("the playlist to start", |app| app.controller.now.is_some());
    let playing: Vec<i64> = h.app.controller.queue.entries().iter().map(|e| e.track.id).collect();
    assert_eq!(playing, queued);
    // A second save under the same name is refused in the status line.
    h.keys("Sevening\n");
    h.pump_until("the refusal", |app| {
        app.state
            .status
            .as_deref()
            .is_some_and(|s| s.contains("exists already"))
    });
    // Ctrl-C quits from the name prompt too, as the help says it does everywhere.
    h.keys("Sq");
    assert!(h.app.state.naming_playlist.is_some() && !h.app.state.quitting);
    // Ctrl-Z and Ctrl-L act from the prompt and leave it as it was.
    for (key, request) in [('z', TerminalRequest::Suspend), ('l', TerminalRequest::Redraw)] {
        h.key(KeyEvent::new(KeyCode::Char(key), KeyModifiers::CONTROL));
        assert_eq!(h.app.state.terminal_request.take(), Some(request));
        let name = h.app.state.naming_playlist.as_ref().map(|p| p.name.as_str());
        assert_eq!(name, Some("q"));
    }
    h.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(h.app.state.quitting && h.app.state.naming_playlist.is_none());
}

#[test]
fn a_saved_playlist_is_renamed_with_f2_and_deleted_with_d_after_a_yes() {
    let mut h = Harness::new(100, 24);
    h.keys("2aS");
    h.keys("evening\n");
    h.pump_until("the playlist to be saved", |app| !app.state.playlists.is_empty());
    h.keys("S");
    h.keys("morning\n");
    h.pump_until("the second playlist", |app| {
        app.state.playlists.iter().any(|p| p.name == "morning")
    });
    h.keys("6");
    h.pump_until("the playlists to load", |app| app.state.playlists.len() == 8);
    let index = h.app.state.playlists.iter().position(|p| p.name == "morning").unwrap();
    h.keys(&"j".repeat(index));
    // F2 offers the name to edit; Enter renames.
    h.key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE));
    assert!(
        h.screen().contains("rename playlist \"morning\" to: morning"),
        "{}",
        h.screen()
    );
    // Backspace takes a character, Ctrl-U the whole line.
    h.key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
    assert!(h.screen().contains("to: mornin"), "{}", h.screen());
    h.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    h.keys("dawn\n");
    h.pump_until("the rename", |app| app.state.playlists.iter().any(|p| p.name == "dawn"));
    assert!(h.screen().contains("renamed playlist \"morning\" to \"dawn\""));
    // The selection follows the playlist to its new place (before "evening" now).
    let names: Vec<&str> = h.app.state.playlists.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names[h.app.state.playlist], "dawn", "{names:?}");
    // `d` asks; any key but `y` keeps it; `y` deletes it.
    h.keys("d");
    assert!(
        h.screen()
            .contains("y deletes playlist \"dawn\"; any other key keeps it"),
        "{}",
        h.screen()
    );
    h.keys("n");
    assert!(h.screen().contains("kept playlist \"dawn\""));
    h.keys("dy");
    h.pump_until("the delete", |app| app.state.playlists.iter().all(|p| p.name != "dawn"));
    assert!(h.screen().contains("deleted playlist \"dawn\""));
    // A smart playlist cannot be renamed or deleted.
    h.keys("G");
    h.keys("d");
    assert!(h.screen().contains("computed from the log"), "{}", h.screen());
}

#[test]
fn s_in_the_history_view_saves_this_sessions_listens_as_a_playlist() {
    let mut h = Harness::new(100, 24);
    h.keys("4S");
    assert!(h.screen().contains("no recent play was a listen"), "{}", h.screen());
    // Play a 5-second track to its end twice, then skip the one playing after it.
    let listens_of_victory = |app: &App| {
        app.controller
            .history
            .iter()
            .filter(|(t, p)| !p.skipped && t.title == "Victory")
            .count()
    };
    for heard in 1..=2 {
        h.keys("/victory\n\x1b");
        h.pump_until("a listen of victory", |app| listens_of_victory(app) >= heard);
    }
    h.keys("/defeat\n\x1b");
    // Skipped once it is under way.
    h.pump_until("defeat to play", |app| {
        app.controller
            .now
            .as_ref()
            .is_some_and(|n| n.entry.track.path.ends_with("defeat.flac") && n.position_ms > 0)
    });
    h.keys("n");
    h.pump_until("the skip to be logged", |app| {
        app.controller
            .history
            .last()
            .is_some_and(|(t, p)| p.skipped && t.path.ends_with("defeat.flac"))
    });
    // Each track once, where it was first heard.
    let mut kept: Vec<i64> = Vec::new();
    for (track, play) in &h.app.controller.history {
        if !play.skipped && !kept.contains(&track.id) {
            kept.push(track.id);
        }
    }
    assert!(!kept.is_empty());
    h.keys("4S");
    let prompt = format!(
        "save the {} recent listen{} as playlist:",
        kept.len(),
        if kept.len() == 1 { "" } else { "s" }
    );
    assert!(h.screen().contains(&prompt), "{}", h.screen());
    h.keys("night\n");
    h.pump_until("the playlist to be saved", |app| {
        app.state.status.as_deref() == Some("saved the recent listens as playlist \"night\"")
    });
    h.pump_until("the playlists to load", |app| {
        app.state.playlists.iter().any(|p| p.name == "night")
    });
    let night = h.app.state.playlists.iter().find(|p| p.name == "night").unwrap();
    assert_eq!(night.track_ids().collect::<Vec<_>>(), kept);
}

#[test]
fn c_adds_the_selection_to_a_playlist_picked_by_name() {
    let mut h = Harness::new(100, 24);
    h.keys("2");
    // A new name creates the playlist with the selected track.
    h.keys("croad");
    assert!(h.screen().contains("add 1 track to playlist: road"));
    h.keys("\n");
    h.pump_until("the playlist to be created", |app| {
        app.state.status.as_deref() == Some("added 1 track to playlist \"road\"")
    });
    h.pump_until("the playlists to load", |app| {
        app.state.playlists.iter().any(|p| p.name == "road")
    });
    // Tab completes a saved name; the track goes to its end.
    h.keys("jcro");
    assert!(h.screen().contains("[road]"));
    h.keys("\t\n");
    h.pump_until("the track to be added", |app| {
        app.state
            .playlists
            .iter()
            .any(|p| p.name == "road" && p.entries.len() == 2)
    });
    let road = h.app.state.playlists.iter().find(|p| p.name == "road").unwrap();
    let first_two: Vec<i64> = h.app.state.sorted[..2]
        .iter()
        .map(|&i| h.app.state.library.tracks[i].id)
        .collect();
    assert_eq!(road.track_ids().collect::<Vec<_>>(), first_two);
    // A name typed in another case is that playlist, not a second one beside it.
    h.keys("jcROAD\n");
    h.pump_until("the track to be added", |app| {
        app.state
            .playlists
            .iter()
            .any(|p| p.name == "road" && p.entries.len() == 3)
    });
    assert!(!h.app.state.playlists.iter().any(|p| p.name == "ROAD"));
}

#[test]
fn m_starts_a_radio_from_the_selected_artist_that_autoplay_goes_on_from() {
    let mut h = Harness::with_fallback_autoplay();
    let artist = "Timothy Pinkham";
    let index = h
        .app
        .state
        .library
        .artists
        .iter()
        .position(|a| *a.name == *artist)
        .unwrap();
    h.keys(&"j".repeat(index));
    h.keys("m");
    h.pump_until("the seed to play", |app| app.controller.now.is_some());
    let seed = h.app.controller.now.as_ref().unwrap().entry.track.clone();
    assert_eq!(seed.artist.as_deref(), Some(artist));
    assert!(h.screen().contains(&format!("radio from {artist}")), "{}", h.screen());
    let picks = |app: &App| -> Vec<(Option<String>, String)> {
        app.controller
            .queue
            .upcoming()
            .iter()
            .filter(|e| e.source == skipless::play::PlaySource::Autoplay)
            .map(|e| {
                (
                    e.track.artist.as_deref().map(str::to_string),
                    e.reason.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    h.pump_until("three radio picks", |app| picks(app).len() == 3);
    // The artist has two more files but one more song (the seed's song is in two formats): it
    // comes next, and the seed's other file does not come at all.
    let queued = picks(&h.app);
    assert!(
        queued[..1]
            .iter()
            .all(|(a, reason)| a.as_deref() == Some(artist) && reason.contains(&format!("radio from {artist}"))),
        "{queued:?}"
    );
    assert!(
        !h.app
            .controller
            .queue
            .upcoming()
            .iter()
            .any(|e| e.track.title == seed.title),
        "{queued:?}"
    );
    // Playing something else ends the radio.
    h.keys("2\n");
    h.pump_until("the radio to end", |app| app.controller.radio.is_none());
    // An album's radio names its artist too: an album's title alone often names no one.
    h.keys("1");
    for _ in 0..5 {
        if h.app.state.pane == skipless::tui::state::Pane::Albums {
            break;
        }
        h.keys("\t");
    }
    h.keys("m");
    let album = {
        let state = &h.app.state;
        let artist = &state.library.artists[state.artist];
        format!("radio from {} by {}", artist.albums[state.album].name, artist.name)
    };
    h.pump_until("the album's radio", |app| app.controller.radio.is_some());
    assert_eq!(h.app.state.status.as_deref(), Some(album.as_str()));
}

#[test]
fn a_playlists_entries_are_reordered_removed_and_played_from_view_6() {
    let mut h = Harness::new(100, 24);
    h.keys("2ajaja");
    let queued: Vec<i64> = h.app.controller.queue.entries().iter().map(|e| e.track.id).collect();
    assert_eq!(queued.len(), 3);
    h.keys("Strio\n");
    h.pump_until("the playlist to be saved", |app| !app.state.playlists.is_empty());
    h.app.state.playlists.clear();
    h.keys("6");
    h.pump_until("the playlists to load", |app| app.state.playlists.len() == 7);
    assert_eq!(h.app.state.playlists[0].name, "trio");
    // Tab goes to the entries; J moves the first one down, d removes the last.
    h.keys("\t");
    let screen = h.screen();
    assert!(screen.contains("trio · d removes · K/J move"), "{screen}");
    insta::assert_snapshot!("playlist_entries", screen);
    h.keys("J");
    assert_eq!(h.app.state.playlist_entry, 1);
    h.keys("jd");
    assert!(h.screen().contains("removed an entry from playlist \"trio\""));
    let expected = vec![queued[1], queued[0]];
    assert_eq!(h.app.state.playlists[0].track_ids().collect::<Vec<_>>(), expected);
    // The database says the same: read afresh.
    h.app.state.playlists.clear();
    h.keys("6");
    h.pump_until("the playlists to load", |app| app.state.playlists.len() == 7);
    assert_eq!(h.app.state.playlists[0].track_ids().collect::<Vec<_>>(), expected);
    // Enter on an entry plays the playlist from there (the entries keep the keyboard).
    assert_eq!(h.app.state.pane, skipless::tui::state::Pane::Entries);
    h.keys("gj\n");
    h.pump_until("the playlist to start", |app| app.controller.now.is_some());
    assert_eq!(h.app.controller.now.as_ref().unwrap().entry.track.id, queued[0]);
    // The tracks queued and not heard yet follow, but for the one the playlist plays from here.
    let playing: Vec<i64> = h.app.controller.queue.entries().iter().map(|e| e.track.id).collect();
    assert_eq!(playing, [queued[1], queued[0], queued[1], queued[2]]);
    // A smart playlist's entries cannot be changed.
    h.keys("\t\tjjjj\tJ");
    assert!(h.screen().contains("never played (read-only)"), "{}", h.screen());
    assert!(h.screen().contains("computed from the log"), "{}", h.screen());
}

/// The text of the rows of the right-hand column drawn in bold (the line being sung).
fn bold_rows_on_the_right(h: &mut Harness) -> Vec<String> {
    h.screen();
    let buffer = h.terminal.backend().buffer().clone();
    let area = buffer.area;
    let from = area.width - area.width / 3 + 1;
    (1..area.height)
        .filter(|&y| {
            (from..area.width - 1).any(|x| {
                let cell = &buffer[(x, y)];
                cell.modifier.contains(ratatui::style::Modifier::BOLD) && !cell.symbol().trim().is_empty()
            })
        })
        .map(|y| {
            (from..area.width - 1)
                .map(|x| buffer[(x, y)].symbol().to_owned())
                .collect::<String>()
                .trim()
                .to_owned()
        })
        .collect()
}

#[test]
fn synced_lyrics_follow_playback_and_seeks_and_their_timing_is_kept() {
    let music = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::common::corpus().join("menu.opus"),
        music.path().join("menu.opus"),
    )
    .unwrap();
    let lrc = crate::common::corpus().join("../lyrics/menu.lrc");
    std::fs::copy(lrc, music.path().join("menu.lrc")).unwrap();
    let mut h = Harness::on(music.path(), 100, 24);
    // "menu" (3:00), with menu.lrc beside it.
    h.keys("2\n");
    h.pump_until("menu to start", |app| app.controller.now.is_some());
    h.keys("l");
    h.pump_until("the lyrics", |app| app.state.lyrics.is_some());
    let screen = h.screen();
    assert!(screen.contains("Lyrics · menu.lrc"), "{screen}");
    assert!(!screen.contains("no stamp"), "{screen}");
    assert_eq!(bold_rows_on_the_right(&mut h), ["Open the menu, pick a song"]);

    // Five seeks of 5 s: the line sung at 25 s, a stamp the chorus shares with 5 s.
    for step in 1..=5u64 {
        h.key(KeyEvent::new(KeyCode::Right, KeyModifiers::NONE));
        h.pump_until("a seek", |app| {
            app.controller
                .now
                .as_ref()
                .is_some_and(|n| n.position_ms >= step * 5_000)
        });
    }
    assert_eq!(bold_rows_on_the_right(&mut h), ["Skip the ones that run too long"]);
    assert_eq!(
        h.app
            .state
            .lyrics
            .as_ref()
            .unwrap()
            .lyrics
            .as_ref()
            .unwrap()
            .current(25_100, 0),
        Some(5)
    );

    // `]` twice: the lines come 1 s later, so the empty line at 20 s is the one being sung.
    h.keys("]]");
    assert!(h.screen().contains("lyrics 1.0 s later"), "{}", h.screen());
    assert!(bold_rows_on_the_right(&mut h).is_empty());
    assert!(h.screen().contains("Lyrics · 1.0 s later · menu.lrc"));
    // Opened again, the pane reads the file again (here changed meanwhile), and the shift is
    // kept with it.
    std::fs::write(music.path().join("menu.lrc"), "[00:01.00]a line written since\n").unwrap();
    h.keys("ll");
    h.pump_until("the lyrics again", |app| app.state.lyrics.is_some());
    assert_eq!(h.app.state.lyrics.as_ref().unwrap().shift_ms, 1_000);
    assert!(h.screen().contains("a line written since"), "{}", h.screen());
    // `l` hides them; the up-next pane is back.
    h.keys("l");
    assert!(h.screen().contains("Up next"), "{}", h.screen());
}

/// Plain lyrics scroll by hand down to the view of their end, and the first key back up moves
/// them: scrolling past the end moves nothing, and is not kept to be undone.
#[test]
fn plain_lyrics_scroll_back_from_their_end_at_the_first_key() {
    let music = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::common::corpus().join("menu.opus"),
        music.path().join("menu.opus"),
    )
    .unwrap();
    let verses: Vec<String> = (1..=80).map(|n| format!("verse {n:02}")).collect();
    std::fs::write(music.path().join("menu.lrc"), verses.join("\n")).unwrap();
    let mut h = Harness::on(music.path(), 100, 24);
    h.keys("2\n");
    h.pump_until("menu to start", |app| app.controller.now.is_some());
    h.keys("l");
    h.pump_until("the lyrics", |app| app.state.lyrics.is_some());
    h.keys("\t");
    assert!(h.screen().contains("verse 01"), "{}", h.screen());
    h.keys("G");
    let screen = h.screen();
    assert!(screen.contains("verse 80") && !screen.contains("verse 01"), "{screen}");
    h.keys("jjj");
    assert!(h.screen().contains("verse 80"), "{}", h.screen());
    h.keys("k");
    assert!(!h.screen().contains("verse 80"), "{}", h.screen());
    h.keys("g");
    assert!(h.screen().contains("verse 01"), "{}", h.screen());
}

/// The app with album art in half blocks, playing the `n`-th track of the Tracks view, once
/// its cover (or the word that it has none) is back from the worker.
fn playing_with_art(h: &mut Harness, n: usize) {
    h.app.art_picker = Some(ratatui_image::picker::Picker::halfblocks());
    h.keys("2");
    h.keys(&"j".repeat(n));
    h.keys("\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    let area = ratatui::layout::Rect::new(0, 0, 100, 30);
    h.app.want_art(area);
    h.pump_until("the art", |app| app.state.art.is_some());
}

#[test]
fn the_embedded_cover_is_drawn_in_half_blocks_above_up_next() {
    let mut h = Harness::new(100, 30);
    playing_with_art(&mut h, 2);
    let now = h.app.controller.now.as_ref().unwrap();
    assert!(now.entry.track.path.ends_with("wz_track3_20s.cover.m4a"));
    assert!(h.app.state.art.as_ref().unwrap().picture.is_some());
    let screen = h.screen();
    assert!(screen.contains('▀') || screen.contains('▄'), "{screen}");
    insta::assert_snapshot!("album_art", screen);

    // A track without a cover shows none, quietly.
    h.keys("gj\n");
    h.pump_until("silence to start", |app| {
        app.controller
            .now
            .as_ref()
            .is_some_and(|n| n.entry.track.path.ends_with("silence.ogg"))
    });
    h.app.want_art(ratatui::layout::Rect::new(0, 0, 100, 30));
    h.pump_until("no art", |app| {
        app.state.art.as_ref().is_some_and(|a| a.picture.is_none())
    });
    let screen = h.screen();
    assert!(!screen.contains('▀') && !screen.contains('▄'), "{screen}");
    assert!(screen.contains("┌Up next"), "{screen}");
}

#[test]
fn a_folder_cover_is_found_and_a_corrupt_one_is_no_art() {
    let music = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::common::corpus().join("silence.ogg"),
        music.path().join("silence.ogg"),
    )
    .unwrap();
    let red = image::RgbImage::from_pixel(64, 64, image::Rgb([200, 20, 20]));
    red.save(music.path().join("Cover.JPG")).unwrap();
    let mut h = Harness::on(music.path(), 100, 30);
    playing_with_art(&mut h, 0);
    assert!(h.app.state.art.as_ref().unwrap().picture.is_some());
    // One colour is drawn as coloured cells; up next moves down below them.
    let up_next_row = |screen: &str| screen.lines().position(|l| l.contains("┌Up next")).unwrap();
    assert!(up_next_row(&h.screen()) > 10, "{}", h.screen());
    // Stopped, nothing is playing: no cover, and no room kept for one.
    h.keys("x");
    h.pump_until("the stop, and its cover gone", |app| {
        app.controller.now.is_none() && app.state.art.is_none()
    });
    assert_eq!(up_next_row(&h.screen()), 1, "{}", h.screen());

    let broken = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::common::corpus().join("silence.ogg"),
        broken.path().join("silence.ogg"),
    )
    .unwrap();
    std::fs::write(broken.path().join("folder.jpg"), b"\xFF\xD8\xFF\xE0 not a JPEG").unwrap();
    let mut h = Harness::on(broken.path(), 100, 30);
    playing_with_art(&mut h, 0);
    assert!(h.app.state.art.as_ref().unwrap().picture.is_none());
    assert_eq!(up_next_row(&h.screen()), 1, "{}", h.screen());
}

/// Copies the corpus's `silence.ogg` to `path` tagged as `title` of album "Pictures", with
/// `picture` embedded as its front cover.
fn tagged_copy(path: &std::path::Path, title: &str, picture: Option<Vec<u8>>) {
    use lofty::file::{AudioFile, TaggedFileExt};
    use lofty::picture::{MimeType, Picture, PictureType};
    use lofty::tag::Accessor;
    std::fs::copy(crate::common::corpus().join("silence.ogg"), path).unwrap();
    let mut file = lofty::read_from_path(path).unwrap();
    let tag = file.primary_tag_mut().unwrap();
    tag.set_title(title.into());
    tag.set_album("Pictures".into());
    if let Some(data) = picture {
        tag.push_picture(
            Picture::unchecked(data)
                .pic_type(PictureType::CoverFront)
                .mime_type(MimeType::Png)
                .build(),
        );
    }
    file.save_to_path(path, lofty::config::WriteOptions::default()).unwrap();
}

#[test]
fn a_track_without_a_cover_hides_no_other_tracks_and_a_damaged_one_gives_way_to_the_folders() {
    let png = |colour: [u8; 3]| {
        let mut out = Vec::new();
        image::RgbImage::from_pixel(32, 32, image::Rgb(colour))
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let music = tempfile::tempdir().unwrap();
    tagged_copy(&music.path().join("1.ogg"), "One", None);
    tagged_copy(&music.path().join("2.ogg"), "Two", Some(png([20, 200, 20])));
    let mut h = Harness::on(music.path(), 100, 30);
    let position = |h: &Harness, title: &str| {
        h.app
            .state
            .sorted
            .iter()
            .position(|&i| h.app.state.library.tracks[i].title == title)
            .unwrap()
    };
    let one = position(&h, "One");
    playing_with_art(&mut h, one);
    assert!(h.app.state.art.as_ref().unwrap().picture.is_none());
    let two = position(&h, "Two");
    h.keys("g");
    h.keys(&"j".repeat(two));
    h.keys("\n");
    h.pump_until("Two to start", |app| {
        app.controller
            .now
            .as_ref()
            .is_some_and(|n| n.entry.track.title == "Two")
    });
    h.app.want_art(Rect::new(0, 0, 100, 30));
    h.pump_until("Two's own cover", |app| {
        app.state.art.as_ref().is_some_and(|a| a.picture.is_some())
    });

    let damaged = tempfile::tempdir().unwrap();
    tagged_copy(
        &damaged.path().join("3.ogg"),
        "Three",
        Some(b"\x89PNG\r\n\x1a\n damaged".to_vec()),
    );
    image::RgbImage::from_pixel(32, 32, image::Rgb([200, 20, 20]))
        .save(damaged.path().join("cover.jpg"))
        .unwrap();
    let mut h = Harness::on(damaged.path(), 100, 30);
    playing_with_art(&mut h, 0);
    assert!(h.app.state.art.as_ref().unwrap().picture.is_some());
}

#[test]
fn a_cover_that_never_arrives_blocks_no_frame() {
    let music = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::common::corpus().join("silence.ogg"),
        music.path().join("silence.ogg"),
    )
    .unwrap();
    // A FIFO named like a cover: reading it blocks until something writes to it.
    let fifo = music.path().join("cover.jpg");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let mut h = Harness::on(music.path(), 100, 30);
    h.app.art_picker = Some(ratatui_image::picker::Picker::halfblocks());
    h.keys("2\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    h.app.want_art(ratatui::layout::Rect::new(0, 0, 100, 30));
    // The worker is stuck on the FIFO; the UI goes on drawing and answering keys.
    for _ in 0..20 {
        h.keys("3");
        assert!(h.screen().contains("Queue (1)"));
        h.keys("2");
        assert!(h.screen().contains("Tracks (1)"));
    }
    h.pump_until("a second of playback", |app| {
        app.controller.now.as_ref().is_some_and(|n| n.position_ms >= 1_000)
    });
    assert!(h.app.state.art.is_none());
    // Something writes a picture at last: it is drawn.
    let mut jpeg = Vec::new();
    image::RgbImage::from_pixel(16, 16, image::Rgb([0, 0, 255]))
        .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    std::fs::write(&fifo, &jpeg).unwrap();
    h.pump_until("the art", |app| {
        app.state.art.as_ref().is_some_and(|a| a.picture.is_some())
    });
}

#[test]
fn the_stats_view_shows_skip_rates_by_week_and_by_who_picked() {
    use skipless::play::PlaySource;
    let mut h = Harness::new(100, 30);
    let mut log = LogWriter::open(&h._dir.path().join("skipless.db"));
    let track = h.app.state.library.tracks[0].clone();
    let day = 86_400_000;
    // A Thursday noon of last week, so that no run of plays crosses a Monday midnight whatever
    // day the test runs on.
    let last_week = skipless::clock::now_ms() - 7 * day;
    let latest = skipless::clock::week_start_ms(last_week, &jiff::tz::TimeZone::system()) + 3 * day + day / 2;
    // Two weeks before the last one: four of the listener's picks, two skipped; the last week:
    // four of autoplay's, one skipped.
    for (start, source, skips) in [
        (latest - 14 * day, PlaySource::User, 2),
        (latest, PlaySource::Autoplay, 1),
    ] {
        let mut now = start;
        for k in 0..4 {
            now = log.play(&track, source, now, (k < skips).then_some(1_000));
        }
    }
    h.keys("5");
    h.pump_until("the stats", |app| app.state.stats.is_some());
    let stats = h.app.state.stats.clone().unwrap();
    assert_eq!(stats.weekly.len(), skipless::summary::WEEKS_SHOWN);
    let last_three: Vec<(u64, u64)> = stats.weekly[23..]
        .iter()
        .map(|w| (w.skips.plays, w.skips.skips))
        .collect();
    assert_eq!(last_three, [(4, 2), (0, 0), (4, 1)]);
    assert!(stats
        .weekly
        .windows(2)
        .all(|w| (w[1].week_start_ms - w[0].week_start_ms).abs_diff(7 * day) <= 3_600_000));
    let screen = h.screen();
    assert!(
        screen.contains("skipped: your picks 50% of 4 · autoplay's picks 25% of 4"),
        "{screen}"
    );
    assert!(
        screen.contains("skip rate by week, the 26 weeks to the last play:"),
        "{screen}"
    );
    // The bars: 50% is twice as tall as 25%, and the empty week between them draws nothing.
    let rows: Vec<&str> = screen.lines().collect();
    let bar_rows = &rows[5..8];
    assert!(bar_rows.iter().any(|r| r.contains('█')), "{screen}");
}

/// The search as it would run on the UI thread: every track's "title artist album" scored in
/// one pass, best first (a title that is the query, then one beginning with it, the words as
/// written in the title, then anywhere, then the letters in order), ties in library order.
fn search_in_one_pass(tracks: &[std::sync::Arc<skipless::track::Track>], query: &str) -> Vec<usize> {
    use nucleo_matcher::pattern::{AtomKind, CaseMatching, Normalization, Pattern};
    let pattern = |kind| Pattern::new(query, CaseMatching::Ignore, Normalization::Smart, kind);
    let (fuzzy, as_written) = (pattern(AtomKind::Fuzzy), pattern(AtomKind::Substring));
    let mut matcher = nucleo_matcher::Matcher::new(nucleo_matcher::Config::DEFAULT);
    let mut buf = Vec::new();
    let mut scored: Vec<(u8, u32, usize)> = tracks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let hay = format!(
                "{} {} {}",
                t.title,
                t.artist.as_deref().unwrap_or(""),
                t.album.as_deref().unwrap_or("")
            );
            let mut holds =
                |text: &str, p: &Pattern| p.score(nucleo_matcher::Utf32Str::new(text, &mut buf), &mut matcher);
            let score = holds(&hay, &fuzzy)?;
            let (title, typed) = (t.title.to_lowercase(), query.trim().to_lowercase());
            let tier = match (
                holds(&hay, &as_written).is_some(),
                holds(&t.title, &as_written).is_some(),
            ) {
                (false, _) => 0,
                _ if title == typed => 4,
                _ if title.starts_with(&typed) => 3,
                (true, false) => 1,
                (true, true) => 2,
            };
            Some((tier, score, i))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    scored.into_iter().take(1000).map(|(.., i)| i).collect()
}

#[test]
fn a_search_of_a_large_library_runs_off_the_ui_thread_and_finds_what_one_pass_finds() {
    let mut h = Harness::new(100, 30);
    let mut db = Database::open(&h._dir.path().join("skipless.db")).unwrap();
    let tx = db.conn_mut().transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO tracks (path, path_text, size, mtime_ns, status, title, artist, album, duration_ms,
                     added_at, updated_at)
                 VALUES (?1, ?2, 1, 1, 'ok', ?3, ?4, ?5, 200000, 0, 0)",
            )
            .unwrap();
        let words = ["blue", "night", "river", "echo", "glass", "velvet", "ghost"];
        for i in 0..200_000usize {
            let path = format!("/generated/{i}.flac");
            insert
                .execute(rusqlite::params![
                    path.as_bytes(),
                    path,
                    format!("{} {} {i}", words[i % 7], words[i / 7 % 7]),
                    format!("Artist {} {}", i / 100, words[i / 49 % 7]),
                    format!("{} {}", words[i / 10 % 7], words[i / 343 % 7]),
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    h.app.state.set_library(LibraryIndex::load(&db).unwrap());
    assert_eq!(h.app.state.library.tracks.len(), 200_012);

    h.keys("2/velvet gh");
    // The query went to the search thread and the key returned at once: the results are not in.
    let search = h.app.state.search.as_ref().unwrap();
    assert!(search.searching, "{search:?}");
    // A key typed while it runs is taken at once, and its query replaces the stale one.
    h.keys("o");
    assert_eq!(h.app.state.search.as_ref().unwrap().query, "velvet gho");
    assert!(h.screen().contains("searching…"));
    h.pump_until("the search's answer", |app| {
        app.state.search.as_ref().is_some_and(|s| !s.searching)
    });
    let results = &h.app.state.search.as_ref().unwrap().results;
    let expected = search_in_one_pass(&h.app.state.library.tracks, "velvet gho");
    assert!(expected.len() > 100, "{}", expected.len());
    assert_eq!(results, &expected);
    assert!(h.screen().contains(&format!("{} matches", expected.len())));

    // Enter typed before the answer plays the best match once it comes.
    h.keys("\x1b/glass ri\n");
    assert!(h.app.controller.now.is_none());
    h.pump_until("the best match playing", |app| app.controller.now.is_some());
    let best = search_in_one_pass(&h.app.state.library.tracks, "glass ri")[0];
    let playing = &h.app.controller.now.as_ref().unwrap().entry.track;
    assert_eq!(playing.id, h.app.state.library.tracks[best].id);
}

#[test]
fn space_while_stopped_plays_the_queue() {
    let mut h = Harness::new(100, 30);
    // With nothing queued, Space and n say how to start.
    for key in [" ", "n"] {
        h.app.state.status = None;
        h.keys(key);
        assert!(h
            .screen()
            .contains("nothing queued: Enter plays the selected track, a queues it"));
    }
    h.keys("2a");
    assert!(h.app.controller.now.is_none());
    h.keys(" ");
    h.pump_until("the queued track to start", |app| app.controller.now.is_some());
    let screen = h.screen();
    assert!(screen.contains("▶ menu"), "{screen}");
}

/// On a short screen the status line has one row: a question still shows the key that answers
/// it.
#[test]
fn a_question_on_a_short_screen_shows_the_key_that_answers_it() {
    let mut h = Harness::new(50, 15);
    h.keys("2b");
    let screen = h.screen();
    assert!(screen.contains("y bans "), "{screen}");
}

/// Once the queue ran out, the screen names the track Space plays: the one queued since, not the
/// last one heard.
#[test]
fn after_the_queue_ran_out_the_screen_names_what_space_plays() {
    let mut h = Harness::new(100, 30);
    h.keys("A2G\n");
    assert!(!h.app.state.autoplay);
    h.pump_until("the last track to play", |app| app.controller.now.is_some());
    let last = h.app.controller.now.as_ref().unwrap().entry.track.id;
    h.keys("n");
    h.pump_until("the queue to run out", |app| {
        app.state
            .status
            .as_deref()
            .is_some_and(|s| s.starts_with("end of the queue"))
    });
    h.keys("ga");
    let first = &h.app.state.library.tracks[0];
    let (first_id, first_name) = (first.id, first.display_name());
    assert_ne!(first_id, last);
    let screen = h.screen();
    assert!(
        screen.contains(&format!("Stopped · Space plays {first_name}")),
        "{screen}"
    );
    h.keys(" ");
    h.pump_until("the queued track to play", |app| app.controller.now.is_some());
    assert_eq!(h.app.controller.now.as_ref().unwrap().entry.track.id, first_id);
}

#[test]
fn scrolling_the_help_leaves_the_library_selection_alone() {
    use skipless::tui::state::Pane;
    let mut h = Harness::new(100, 30);
    // The first album's second track, then back to the albums.
    h.keys("\t\tj");
    assert_eq!((h.app.state.pane, h.app.state.album_track), (Pane::Main, 1));
    h.key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(h.app.state.pane, Pane::Albums);
    h.keys("?jjG\x1b");
    assert_eq!(h.app.state.album_track, 1, "the help's scroll reset the album's track");
    h.keys("/e");
    h.keys("j\x1b");
    assert_eq!(
        h.app.state.album_track, 1,
        "the search's selection reset the album's track"
    );
}

#[test]
fn keys_other_than_scrolling_and_closing_do_nothing_behind_the_help() {
    let mut h = Harness::new(100, 30);
    h.keys("2");
    h.keys("aj");
    h.keys("a");
    assert_eq!(h.app.controller.queue.upcoming().len(), 2);
    h.keys("?C3x");
    assert_eq!(
        h.app.controller.queue.upcoming().len(),
        2,
        "C cleared the queue behind the help"
    );
    assert!(h.app.state.help);
    assert_eq!(h.app.state.status.as_deref(), Some("? or Esc closes the help"));
    h.keys("j?");
    assert!(!h.app.state.help);
    // Closed, the help takes its hint with it.
    assert_eq!(h.app.state.status, None);
    h.keys("C");
    assert_eq!(h.app.controller.queue.upcoming().len(), 0);
    h.keys("?x\x1b");
    assert!(!h.app.state.help && h.app.state.status.is_none(), "Esc too");
}

#[test]
fn the_help_scrolls_to_its_last_row_and_back_one_row_a_key() {
    let mut h = Harness::new(100, 30);
    h.keys("?G");
    let rows = h.app.keys.help();
    let last = &rows[rows.len() - 1];
    let screen = h.screen();
    assert!(screen.contains(last.1), "{screen}");
    // Each `k` after `G` shows one more row: none is spent under the end.
    h.keys("k");
    let screen = h.screen();
    assert!(screen.contains(rows[rows.len() - 2].1), "{screen}");
}

#[test]
fn the_stats_view_scrolls_to_its_last_line() {
    let mut h = Harness::new(100, 24);
    seed_log(&h, 20);
    h.keys("5");
    h.pump_until("the stats", |app| app.state.stats.is_some());
    let screen = h.screen();
    assert!(
        screen.contains("Top tracks") && !screen.contains("Recommender"),
        "{screen}"
    );
    h.keys("G");
    let bottom = h.screen();
    assert!(
        bottom.contains("Recommender: the last training runs") && bottom.contains("none yet"),
        "{bottom}"
    );
    // Each key up from the bottom scrolls a line: none is spent on lines past the end.
    h.keys("k");
    let up_one = h.screen();
    assert_ne!(up_one, bottom, "k at the bottom moved nothing");
    h.keys("j");
    assert_eq!(h.screen(), bottom);
    h.keys("g");
    assert!(h.screen().contains("Top tracks"));
}

#[test]
fn likes_bans_and_adds_act_on_the_row_selected_in_the_queue_up_next_and_history() {
    use skipless::tui::state::Pane;
    let mut h = Harness::new(100, 30);
    // Queue three tracks from the tracks view and play the first.
    h.keys("2ajaja");
    h.keys("3\n");
    h.pump_until("the first track to start", |app| app.controller.now.is_some());
    let playing = h.app.controller.now.as_ref().unwrap().entry.track.clone();
    let queued: Vec<_> = h
        .app
        .controller
        .queue
        .entries()
        .iter()
        .map(|e| e.track.clone())
        .collect();
    assert_eq!(queued.len(), 3);
    // The queue view, last row: `f` likes that track, not the one playing.
    h.keys("Gf");
    assert!(h.app.state.library.marks.is_liked(queued[2].id), "{}", h.screen());
    assert!(!h.app.state.library.marks.is_liked(playing.id));
    // Up next, its first row (the queue's second track): `b` asks about that track.
    h.keys("\t");
    assert_eq!(h.app.state.pane, Pane::UpNext);
    h.keys("gb");
    assert!(
        h.screen().contains(&format!("y bans {}", queued[1].display_name())),
        "{}",
        h.screen()
    );
    h.keys("y");
    assert!(h.app.state.library.marks.is_banned(queued[1].id));
    assert!(!h.app.state.library.marks.is_banned(playing.id));
    // After a skip, the history's row is the skipped track: `a` queues it again.
    h.keys("n");
    h.pump_until("the skip to be logged", |app| !app.controller.history.is_empty());
    // A view opened from up next takes the keys to its own list.
    h.keys("4");
    assert_eq!(h.app.state.pane, Pane::Main);
    let before = h.app.controller.queue.entries().len();
    h.keys("a");
    let entries = h.app.controller.queue.entries();
    assert_eq!(entries.len(), before + 1, "{}", h.screen());
    let times_queued = entries.iter().filter(|e| e.track.id == playing.id).count();
    assert_eq!(times_queued, 2, "{}", h.screen());
}

#[test]
fn a_retrain_that_cannot_start_says_why_on_the_status_line() {
    let mut h = Harness::with_fallback_autoplay();
    // The lyrics pane hides the recommender's box: the answer must reach the status line.
    h.keys("lr");
    h.pump_until("the refusal", |app| {
        app.state
            .status
            .as_deref()
            .is_some_and(|s| s.starts_with("training needs"))
    });
    let screen = h.screen();
    assert!(screen.contains("the log has 0 in 0"), "{screen}");
}

#[test]
fn tab_in_a_search_lets_the_keys_act_on_the_selected_result() {
    let mut h = Harness::new(60, 24);
    h.keys("/victory");
    h.pump_until("the results", |app| {
        app.state.search.as_ref().is_some_and(|s| !s.results.is_empty())
    });
    let first = {
        let search = h.app.state.search.as_ref().unwrap();
        h.app.state.library.tracks[search.results[0]].clone()
    };
    // Tab: `f` likes the result and `a` queues it, instead of being typed.
    h.keys("\tfa");
    assert_eq!(h.app.state.search.as_ref().map(|s| s.query.as_str()), Some("victory"));
    assert!(h.app.state.library.marks.is_liked(first.id));
    assert_eq!(h.app.controller.queue.entries().len(), 1);
    // Tab again: typing goes on.
    h.keys("\tx");
    assert_eq!(h.app.state.search.as_ref().map(|s| s.query.as_str()), Some("victoryx"));
    // A query longer than the box shows its end.
    h.keys(&"y".repeat(80));
    let screen = h.screen();
    assert!(screen.contains("yyyy▏"), "{screen}");
}

/// A message wider than the screen wraps at word breaks onto up to three rows where the screen
/// has room; what still does not fit ends with "…", so a cut is never taken for the whole.
#[test]
fn a_long_message_wraps_and_what_does_not_fit_is_marked_as_cut() {
    let long = "closed 1 play left open by an earlier crash as interrupted · the queue of the last run \
                is back: 20 tracks (1 no longer in the library); Space plays";
    let bottom = |h: &mut Harness, rows: usize| -> Vec<String> {
        let screen = h.screen();
        let lines: Vec<String> = screen
            .lines()
            .map(|l| l.trim_matches('"').trim_end().to_owned())
            .collect();
        lines[lines.len() - rows..].to_vec()
    };
    let mut tall = Harness::new(80, 24);
    tall.app.state.status = Some(long.into());
    let rows = bottom(&mut tall, 2);
    assert!(rows[0].starts_with("closed 1 play"), "{rows:?}");
    assert!(
        rows[1].ends_with("20 tracks (1 no longer in the library); Space plays"),
        "{rows:?}"
    );
    assert!(
        bottom(&mut tall, 3)[0].starts_with('└'),
        "the box above keeps its border"
    );

    let mut short = Harness::new(80, 12);
    short.app.state.status = Some(long.into());
    let row = &bottom(&mut short, 1)[0];
    assert!(row.starts_with("closed 1 play") && row.ends_with('…'), "{row}");
    assert!(!row.contains("20"), "{row}");
}

/// Hints name the keys in force, not the defaults: the help's title, and what removing the
/// playing track says to press.
#[test]
fn hints_name_the_keys_the_config_binds() {
    let mut h = Harness::configured(&crate::common::corpus(), 120, 30, |config| {
        config.keys.insert("help".into(), vec!["F1".into()]);
        config.keys.insert("next".into(), vec!["L".into()]);
    });
    h.key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE));
    let screen = h.screen();
    assert!(screen.contains("F1 or Esc closes"), "{screen}");
    h.keys("\x1b2\n3d");
    assert_eq!(
        h.app.state.status.as_deref(),
        Some("the playing track stays in the queue (L plays the next)")
    );
}

/// On a narrow screen the tabs give way to the help hint: the other views keep their numbers,
/// the one shown keeps its name, and the hint is never run into.
#[test]
fn narrow_tabs_keep_their_numbers_and_leave_the_help_hint_alone() {
    let top = |width: u16| -> String {
        let mut h = Harness::new(width, 20);
        h.keys("2");
        let screen = h.screen();
        let top = screen.lines().next().unwrap().trim_matches('"').to_owned();
        top.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(top(40), "1 2 Tracks 3 4 5 6 ? help");
    assert_eq!(top(60), "skipless 1 2 Tracks 3 4 5 6 ? help");
    assert_eq!(
        top(80),
        "skipless 1 Library 2 Tracks 3 Queue 4 History 5 Stats 6 Playlists ? help"
    );
}

/// An empty library says why: no folder yet, or a first scan still running (not "no folder").
#[test]
fn an_empty_library_says_whether_it_has_a_folder_or_is_being_scanned() {
    let empty = tempfile::tempdir().unwrap();
    let mut h = Harness::on(empty.path(), 80, 24);
    assert!(h.screen().contains("No tracks yet"), "a folder with no audio in it");
    h.app.state.gauges.scan = Some(skipless::tui::state::Progress {
        label: "scanning".into(),
        done: 0,
        total: 10,
    });
    assert!(h.screen().contains("Scanning the library…"));
}

/// A scan during a retrain: both gauges show, side by side, and each goes when its job ends.
#[test]
fn a_scan_and_a_training_run_show_a_gauge_each() {
    let mut h = Harness::new(100, 30);
    h.app.state.gauges.training = Some(skipless::tui::state::Progress {
        label: "training the Transformer (2 of 2)".into(),
        done: 40,
        total: 100,
    });
    h.app.state.gauges.scan = Some(skipless::tui::state::Progress {
        label: "scanning".into(),
        done: 3,
        total: 12,
    });
    let screen = h.screen();
    let row = screen
        .lines()
        .rev()
        .find(|l| l.contains("scanning"))
        .unwrap_or_default();
    assert!(
        row.contains("scanning 3/12") && row.contains("training the Tra… 40/100"),
        "{screen}"
    );
    h.app.state.gauges.scan = None;
    let screen = h.screen();
    assert!(
        screen.contains("training the Transformer (2 of 2) 40/100") && !screen.contains("scanning"),
        "{screen}"
    );
}

/// View 5 says, as `skipless stats` does, how many of its plays are imported ones waiting for
/// their tracks (counted in the totals, not in the track lists).
#[test]
fn the_stats_view_says_how_many_plays_wait_for_their_tracks() {
    let mut h = Harness::new(100, 40);
    let imported = crate::common::skipless(h._dir.path())
        .args(["import", "spotify"])
        .arg(crate::common::histories().join("mica"))
        .output()
        .unwrap();
    assert!(imported.status.success());
    h.keys("5");
    h.pump_until("the stats", |app| app.state.stats.is_some());
    let screen = h.screen();
    assert!(
        screen.contains("of the plays are imported ones waiting for their"),
        "{screen}"
    );
}

/// Enter on a search result plays that track now and keeps the queue to follow it: the other
/// matches are no list to play on through (a fuzzy search matches letters across words).
#[test]
fn enter_on_a_search_result_plays_it_and_keeps_the_queue() {
    let mut h = Harness::new(100, 30);
    h.keys("2aja");
    let titles = |h: &Harness| -> Vec<String> {
        h.app
            .controller
            .queue
            .entries()
            .iter()
            .map(|e| e.track.title.clone())
            .collect()
    };
    let queued = titles(&h);
    assert_eq!(queued.len(), 2);
    h.keys("/sad\n");
    h.pump_until("the search's pick playing", |app| app.controller.now.is_some());
    let now = h.app.controller.now.as_ref().unwrap().entry.track.title.clone();
    assert_eq!(now, "Sad");

    assert_eq!(
        titles(&h),
        [vec![now], queued].concat(),
        "the pick first, then the queue as it was"
    );
}

/// `n` past the end of the queue with autoplay off stops, and says why the music stopped.
#[test]
fn the_end_of_the_queue_is_said_when_autoplay_is_off() {
    let mut h = Harness::new(100, 30);
    h.app.state.autoplay = false;
    h.keys("2a ");
    h.pump_until("the queued track to start", |app| app.controller.now.is_some());
    h.keys("n");
    h.pump_until("the end of the queue said", |app| {
        app.state.status.as_deref() == Some("end of the queue (A turns autoplay on)")
    });
}

/// `i` selects the playing track wherever the view lists it: its artist, album and row in the
/// library, its row in the track list and in the queue; a view without it says so.
#[test]
fn i_selects_the_playing_track_in_each_view() {
    let mut h = Harness::new(80, 24);
    h.keys("i");
    assert_eq!(h.app.state.status.as_deref(), Some("nothing is playing"));
    h.keys("2jjjjj\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    let playing = h.app.controller.now.as_ref().unwrap().entry.track.id;
    let place = h.app.state.library.tracks.iter().position(|t| t.id == playing).unwrap();
    h.keys("gk");
    assert_eq!(h.app.state.track, 0);
    h.keys("i");
    assert_eq!(h.app.state.sorted[h.app.state.track], place);

    h.keys("1").keys("\tg\tg");
    h.keys("i");
    let state = &h.app.state;
    let album = &state.library.artists[state.artist].albums[state.album];
    assert_eq!(album.tracks.start + state.album_track, place);
    assert_eq!(state.pane, skipless::tui::state::Pane::Main);

    h.keys("3Gi");
    assert_eq!(h.app.controller.queue.entries()[h.app.state.queue].track.id, playing);

    h.keys("4i");
    assert_eq!(
        h.app.state.status.as_deref(),
        Some("this view does not list the playing track (views 1, 2, 3 and 6 do)")
    );

    // Among search results, when it is one.
    let title = h.app.controller.now.as_ref().unwrap().entry.track.title.clone();
    h.keys("/").keys(&title).keys("\t").keys("gi");
    let search = h.app.state.search.as_ref().unwrap();
    assert_eq!(search.results[search.selected], place);
    h.keys("\x1b");

    // In a playlist holding it, its entry.
    h.keys("2gaja").keys(&"j".repeat(5)).keys("a3").keys("S").keys("mix\n");
    h.pump_until("the playlist to be saved", |app| {
        app.state.playlists.iter().any(|p| p.name == "mix")
    });
    h.keys("6");
    h.pump_until("the playlists to load", |app| {
        app.state.playlists.iter().any(|p| p.name == "mix")
    });
    let at = h.app.state.playlists.iter().position(|p| p.name == "mix").unwrap();
    h.app.state.playlist = at;
    h.keys("i");
    assert_eq!(h.app.state.pane, skipless::tui::state::Pane::Entries);
    assert_eq!(
        h.app.state.playlists[at].entries[h.app.state.playlist_entry],
        skipless::app::library::SavedEntry::Track(playing)
    );
}

/// A page key moves by the rows the list shows: after PageDown the selection is on the first
/// row the screen did not show, at any height.
#[test]
fn a_page_key_moves_by_the_rows_the_list_shows() {
    for (width, height) in [(60, 15), (80, 24), (120, 40)] {
        let mut h = Harness::new(width, height);
        h.keys("2\n3g");
        let entries: Vec<String> = h
            .app
            .controller
            .queue
            .entries()
            .iter()
            .map(|e| e.track.display_name())
            .collect();
        let first = h.screen();
        let shown = (0..entries.len())
            .take_while(|&i| first.lines().filter(|l| l.contains(&entries[i])).count() > 0)
            .count();
        h.key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE));
        let expected = shown.min(entries.len() - 1);
        assert_eq!(h.app.state.queue, expected, "{width}x{height}:\n{first}");
        h.key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE));
        assert_eq!(h.app.state.queue, 0, "{width}x{height}");
    }
}

/// A playlist's name typed past the row's end shows its end, where the typing is, and the
/// first-run screen keeps each command it suggests on a line of its own at 80 columns.
#[test]
fn a_long_name_being_typed_shows_its_end_on_a_narrow_screen() {
    let mut h = Harness::new(60, 15);
    h.keys("2aS").keys("my very long playlist name for the evening drive");
    let screen = h.screen();
    let prompt = screen.lines().find(|l| l.contains("as playlist:")).unwrap();
    assert!(prompt.contains("for the evening drive▏"), "{screen}");

    let empty = tempfile::tempdir().unwrap();
    let mut h = Harness::on(empty.path(), 80, 24);
    h.app.state.library.roots.clear();
    let screen = h.screen();
    assert!(screen.contains("  skipless ~/Music "), "{screen}");
    assert!(screen.contains("  skipless roots add ~/Music "), "{screen}");
}

#[test]
fn a_on_a_playlist_queues_its_tracks_and_one_with_nothing_to_play_says_so() {
    let mut h = Harness::new(100, 24);
    h.keys("2ajaja");
    h.keys("Strio\n");
    h.pump_until("the playlist to be saved", |app| !app.state.playlists.is_empty());
    h.app.state.playlists.clear();
    h.keys("6");
    h.pump_until("the playlists to load", |app| app.state.playlists.len() == 7);
    let before = h.app.controller.queue.entries().len();
    h.keys("a");
    assert_eq!(h.app.controller.queue.entries().len(), before + 3);
    assert!(h.screen().contains("queued 3 tracks"), "{}", h.screen());
    // Nothing has been skipped yet: the smart playlist of the most skipped holds nothing, and
    // Enter and `a` say so rather than doing nothing.
    let empty = h
        .app
        .state
        .playlists
        .iter()
        .position(|p| p.name == "most skipped")
        .unwrap();
    assert!(h.app.state.playlists[empty].entries.is_empty());
    h.app.state.playlist = empty;
    h.keys("a");
    assert!(h.screen().contains("\"most skipped\" is empty"), "{}", h.screen());
    assert_eq!(h.app.controller.queue.entries().len(), before + 3);
    h.app.state.status = None;
    h.keys("\n");
    assert!(h.screen().contains("\"most skipped\" is empty"), "{}", h.screen());
    assert!(h.app.controller.now.is_none());
}

/// Files the watcher adds move the rows under the selections: the selected artist, album and
/// track stay selected, and so does the track row through a change of sort.
#[test]
fn selections_follow_their_items_through_a_library_reload_and_a_sort() {
    let mut h = Harness::new(100, 30);
    let selected_track = |h: &Harness| {
        let state = &h.app.state;
        state.library.tracks[state.sorted[state.track]].id
    };
    // The last artist, their last album, a track of it.
    h.keys("G\tG\tj");
    let state = &h.app.state;
    let (artist, album) = (state.library.artists[state.artist].name.clone(), state.album);
    let album_track = state.library.tracks
        [state.library.artists[state.artist].albums[state.album].tracks.start + state.album_track]
        .id;
    assert!(state.artist > 0, "{:?}", state.pane);
    h.keys("2Gk");
    let track = selected_track(&h);

    let mut db = Database::open(&h._dir.path().join("skipless.db")).unwrap();
    db.conn_mut()
        .execute_batch(
            "INSERT INTO tracks (path, path_text, size, mtime_ns, status, title, artist, album, duration_ms,
                 added_at, updated_at)
             VALUES (CAST('/new/a.ogg' AS BLOB), '/new/a.ogg', 1, 1, 'ok', 'AAA first', 'Aardvark', 'Aa', 1000, 0, 0),
                    (CAST('/new/b.ogg' AS BLOB), '/new/b.ogg', 1, 1, 'ok', 'AAB first', 'Aardvark', 'Ab', 1000, 0, 0);",
        )
        .unwrap();
    h.app.state.set_library(LibraryIndex::load(&db).unwrap());
    let state = &h.app.state;
    let new_artist = state.library.artists.iter().position(|a| a.name.as_ref() == "Aardvark");
    assert!(
        new_artist.unwrap() < state.artist,
        "the new rows come before the selections"
    );
    assert_eq!(state.library.artists[state.artist].name, artist);
    assert_eq!(state.album, album);
    let album_track_id = state.library.tracks
        [state.library.artists[state.artist].albums[state.album].tracks.start + state.album_track]
        .id;
    assert_eq!(album_track_id, album_track);
    assert_eq!(selected_track(&h), track);

    h.keys("2o");
    assert_eq!(selected_track(&h), track, "the sort keeps the track selected");
}

/// A key that cannot do what it names says why: a move onto the playing track, a queue of
/// nothing selected, a shuffle of autoplay's picks.
#[test]
fn queue_keys_that_do_nothing_say_why() {
    let empty = tempfile::tempdir().unwrap();
    let mut h = Harness::on(empty.path(), 100, 30);
    h.keys("2a");
    assert_eq!(h.app.state.status.as_deref(), Some("nothing selected to queue"));
    h.keys("N");
    assert_eq!(h.app.state.status.as_deref(), Some("nothing selected to queue"));

    let mut h = Harness::new(100, 30);
    h.keys("2\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    h.keys("3jK");
    assert_eq!(
        h.app.state.status.as_deref(),
        Some("only the tracks after the playing one move")
    );

    let mut h = Harness::with_fallback_autoplay();
    h.keys("j\n");
    h.pump_until("three autoplay picks", |app| autoplay_picks(app).len() == 3);
    h.keys("s");
    assert!(
        h.app
            .state
            .status
            .as_deref()
            .is_some_and(|s| s.contains("autoplay's picks keep their ranked order")),
        "{:?}",
        h.app.state.status
    );
}

/// The row selected in up next stays on its track when playback moves on past the one playing.
#[test]
fn the_up_next_selection_stays_on_its_track_when_a_track_ends() {
    let mut h = Harness::new(100, 30);
    h.keys("2\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    h.keys("\tjj");
    assert_eq!(h.app.state.pane, skipless::tui::state::Pane::UpNext);
    let selected = |h: &Harness| h.app.controller.queue.upcoming()[h.app.state.up_next].track.id;
    let chosen = selected(&h);
    let playing = h.app.controller.now.as_ref().unwrap().entry.track.id;
    h.keys("n");
    h.pump_until("the next track", |app| {
        app.controller.now.as_ref().is_some_and(|n| n.entry.track.id != playing)
    });
    assert_eq!(h.app.state.up_next, 1);
    assert_eq!(selected(&h), chosen);
}

/// A list played anew replaces the queue: up next opens on what plays next, however far the
/// old queue had gone.
#[test]
fn up_next_opens_on_what_plays_next_when_a_list_is_played_anew() {
    let mut h = Harness::new(100, 30);
    h.keys("2\n");
    h.pump_until("the track to start", |app| app.controller.now.is_some());
    for _ in 0..8 {
        let playing = h.app.controller.now.as_ref().unwrap().entry.track.id;
        h.keys("n");
        h.pump_until("the next track", |app| {
            app.controller.now.as_ref().is_some_and(|n| n.entry.track.id != playing)
        });
    }
    let fourth = h.app.controller.queue.entries()[3].track.id;
    let playing = |app: &App| app.controller.now.as_ref().map(|n| n.entry.track.id);
    assert_eq!(playing(&h.app), Some(h.app.controller.queue.entries()[8].track.id));
    h.keys("gjjj\n");
    h.pump_until("the chosen track", |app| playing(app) == Some(fourth));
    assert_eq!(h.app.state.up_next, 0);
    let shown = h.screen();
    let next = &h.app.controller.queue.upcoming()[0].track;
    let first_row = shown
        .lines()
        .skip_while(|line| !line.contains("Up next"))
        .nth(1)
        .unwrap_or_default();
    assert!(first_row.contains(next.title.as_str()), "{shown}");
}

/// A file a saved playlist names, added to the library while view 6 is shown, is counted there
/// as soon as the library is read again (as after the folder watcher's rescan).
#[test]
fn the_playlists_view_follows_a_library_reloaded_under_it() {
    let music = tempfile::tempdir().unwrap();
    std::fs::copy(crate::common::corpus().join("sad.ogg"), music.path().join("sad.ogg")).unwrap();
    let mut h = Harness::on(music.path(), 100, 24);
    let list = music.path().join("evening.m3u");
    std::fs::write(&list, "sad.ogg\nvictory.ogg\n").unwrap();
    crate::common::stdout_of(
        crate::common::skipless(h._dir.path())
            .args(["playlist", "import"])
            .arg(&list),
    );
    let missing = |app: &App| {
        app.state.playlists.iter().find(|p| p.name == "evening").map(|p| {
            p.entries
                .iter()
                .filter(|e| matches!(e, skipless::app::library::SavedEntry::Missing(_)))
                .count()
        })
    };
    h.keys("6");
    h.pump_until("the playlists to load", |app| missing(app) == Some(1));
    std::fs::copy(
        crate::common::corpus().join("victory.ogg"),
        music.path().join("victory.ogg"),
    )
    .unwrap();
    crate::common::scan_json(h._dir.path(), &[music.path()]);
    h.app.load_library();
    h.pump_until("the playlist to find its file", |app| missing(app) == Some(0));
    assert!(h.screen().contains("2 tracks"), "{}", h.screen());
}

/// A pick taken out of up next with `d` is replaced at once by another, never by itself: up
/// next keeps its three picks without waiting for the next track.
#[test]
fn a_pick_taken_out_with_d_is_replaced_by_another() {
    let mut h = Harness::with_fallback_autoplay();
    h.keys("j\n");
    h.pump_until("three autoplay picks", |app| autoplay_picks(app).len() == 3);
    let picks = autoplay_picks(&h.app);
    let playing = h.app.controller.now.as_ref().map(|n| n.entry.track.id);
    h.keys("2\td");
    assert!(
        h.app
            .state
            .status
            .as_deref()
            .is_some_and(|s| s.starts_with("removed from the queue")),
        "{:?} {:?}",
        h.app.state.status,
        h.app.state.pane
    );
    h.pump_until("three picks again", |app| autoplay_picks(app).len() == 3);
    let now = autoplay_picks(&h.app);
    assert!(!now.contains(&picks[0]), "{picks:?} then {now:?}");
    // Still the same track playing: the picks came without a play ending.
    assert_eq!(h.app.controller.now.as_ref().map(|n| n.entry.track.id), playing);
}
