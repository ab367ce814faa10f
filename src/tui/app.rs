//! The player's state and what changes it ([`App`]): an [`Action`] from the key map updates the
//! [`State`] or calls the [`Controller`]; engine events, worker reports and desktop requests are
//! folded in here too. Rendering reads it, never changes it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use ratatui::layout::{Rect, Size};
use ratatui_image::picker::Picker;

use super::render::{art_size, side_column};
use super::render::{ColourDepth, Theme};
use super::state::{
    Pane, PlaylistPrompt, PlaylistTarget, Progress, Search, ShownArt, State, TerminalRequest, TrackLyrics, View,
};
use crate::app::art::{self, ArtCache};
use crate::app::autoplay::{repeat_set, Autoplay, FromNothing, Picked, RadioSeed, Request};
use crate::app::commands::{self, LineCommand, VolumeTo};
use crate::app::controller::{Controller, Outcome};
use crate::app::library::{EntryEdit, SavedEntry};
use crate::app::mpris_bridge::{self, Applied};
use crate::app::queue::{QueueEntry, Repeat};
use crate::app::remembered::{Remembered, SavedQueue};
use crate::app::search::{self, Searcher};
use crate::app::watch::RootsChanged;
use crate::app::workers::{self, PlaylistChange, SaveAs, WorkerMsg};
use crate::clock::now_ms;
use crate::config::Config;
use crate::fmt::format_shift;
use crate::keymap::{Action, KeyMap};
use crate::marks::Mark;
use crate::play::{ControlSource, PlaySource};
use crate::player::{Event, SeekTo};
use crate::summary::Stats;
use crate::track::Track;

const SEEK_STEP: Duration = Duration::from_secs(5);
const VOLUME_STEP: u8 = 5;
/// How far `[` and `]` move synced lyrics.
const LYRICS_STEP_MS: i64 = 500;
/// How many tracks of a long list are queued when one of them is played.
const QUEUE_FROM_LIST: usize = 500;

/// The whole interactive application: UI state plus playback.
pub struct App {
    pub state: State,
    pub controller: Controller,
    pub keys: KeyMap,
    pub theme: Theme,
    db_path: PathBuf,
    config: Config,
    pub(super) worker_tx: Sender<WorkerMsg>,
    pub worker_rx: Receiver<WorkerMsg>,
    autoplay: Option<Autoplay>,
    /// The track whose lyrics a worker is reading, so that they are asked for once.
    lyrics_requested: Option<i64>,
    /// How album art is drawn in this terminal; `None`: it is not.
    pub art_picker: Option<Picker>,
    art_cache: Arc<Mutex<ArtCache>>,
    /// The cover a worker is drawing (track and size), so that it is asked for once.
    art_requested: Option<(i64, Size)>,
    /// The last run's queue, taken back once the library is loaded.
    saved_queue: Option<SavedQueue>,
    /// Whether a worker is reading the statistics, and whether the log has grown since it
    /// started: one read at a time, so that an older read never lands over a newer one.
    stats_reading: StatsReading,
    /// Searches a large library off this thread.
    searcher: Searcher,
    /// The number of the last query given to the searcher.
    search_generation: u64,
    /// Tells the watch thread to read the library's roots again, when it runs.
    pub(super) roots_changed: Option<Sender<RootsChanged>>,
}

/// Where the statistics view's read stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatsReading {
    Idle,
    Reading,
    /// Reading, and the log has grown since the read started.
    ReadingStale,
}

impl App {
    /// What the status line says to a key the help does not take.
    pub(crate) fn help_closing_hint(&self) -> String {
        match self.keys.first_key(Action::Help) {
            Some(key) => format!("{key} or Esc closes the help"),
            None => "Esc closes the help".into(),
        }
    }

    /// Closes the help, and with it the hint on how to close it.
    pub(crate) fn close_help(&mut self) {
        self.state.help = false;
        if self.state.status.as_deref() == Some(self.help_closing_hint().as_str()) {
            self.state.status = None;
        }
    }

    /// Builds the app around a running engine's command channel and a recorder.
    pub fn new(config: Config, db_path: PathBuf, controller: Controller) -> anyhow::Result<Self> {
        let keys = KeyMap::with_overrides(&config.keys)?;
        let theme = Theme::from_config(&config.theme, ColourDepth::of_terminal());
        let (worker_tx, worker_rx) = crossbeam_channel::unbounded();
        let searcher = Searcher::start(worker_tx.clone());
        let state = State {
            autoplay: config.recommend.autoplay,
            pane: Pane::Artists,
            model_status: "no recommendations yet".into(),
            help_rows: keys.help().len(),
            page_rows: 1,
            ..State::default()
        };
        Ok(Self {
            state,
            controller,
            keys,
            theme,
            db_path,
            config,
            worker_tx,
            roots_changed: None,
            worker_rx,
            autoplay: None,
            lyrics_requested: None,
            art_picker: None,
            art_cache: Arc::new(Mutex::new(ArtCache::new(art::CACHE_BYTES))),
            art_requested: None,
            saved_queue: None,
            searcher,
            search_generation: 0,
            stats_reading: StatsReading::Idle,
        })
    }

    /// Runs the search box's query: here for a small library, else on the search thread,
    /// whose answers arrive as `WorkerMsg::SearchResults` and replace the results shown.
    pub(super) fn run_search(&mut self) {
        let Some(search_box) = self.state.search.as_mut() else {
            return;
        };
        search_box.play_when_found = false;
        // Every search is a new generation, also one answered here: an answer the search thread
        // still owes for an earlier (larger) library must not land on this one's results.
        self.search_generation += 1;
        search_box.generation = self.search_generation;
        let tracks = &self.state.library.tracks;
        if tracks.len() <= search::INLINE_LIMIT {
            search_box.results = search::search(tracks, &search_box.query, search::RESULTS);
            search_box.searching = false;
        } else {
            search_box.searching = true;
            self.searcher
                .ask(self.search_generation, &search_box.query, tracks.clone());
        }
        search_box.selected = search_box.selected.min(search_box.results.len().saturating_sub(1));
    }

    /// Starts live recommendations (the ranking thread and, when due, the trainer).
    /// The thread shares the library's tracks: it waits for the first library load.
    pub fn start_autoplay(&mut self, models_dir: PathBuf) {
        let autoplay = Autoplay::start(
            self.db_path.clone(),
            models_dir,
            self.config.recommend.clone(),
            self.worker_tx.clone(),
        );
        if self.state.library_loaded {
            autoplay.send(Request::Reload(Some(self.state.library.tracks.clone())));
        }
        self.autoplay = Some(autoplay);
    }

    /// Whether autoplay picks: its switch is on (`A` switches it off without stopping the
    /// recommender, which likes and bans still reach) and the library it picks from is loaded
    /// and has tracks.
    fn picking(&self) -> bool {
        self.state.autoplay && self.state.library_loaded && !self.state.library.tracks.is_empty()
    }

    /// Asks for a fresh ranking of what follows the current session.
    fn request_rank(&mut self) {
        if let Some(autoplay) = self.autoplay.as_mut().filter(|_| self.state.autoplay) {
            autoplay.request_rank(&self.controller);
        }
    }

    pub fn load_library(&self) {
        workers::spawn_load(self.db_path.clone(), self.worker_tx.clone());
    }

    pub(crate) fn scan(&mut self, roots: Vec<PathBuf>) {
        self.state.gauges.scan = Some(Progress {
            label: "scanning".into(),
            done: 0,
            total: 0,
        });
        workers::spawn_scan(self.db_path.clone(), roots, self.worker_tx.clone());
    }

    /// Takes the settings the listener left at the end of the last run; the queue comes back
    /// when the library is loaded.
    pub(crate) fn remember(&mut self, remembered: Remembered) {
        self.controller.set_volume(remembered.volume);
        if remembered.muted {
            self.controller.toggle_mute();
        }
        self.controller.set_repeat(remembered.repeat);
        self.state.autoplay = remembered.autoplay;
        self.saved_queue = Some(remembered.queue);
    }

    /// The settings and the queue to take into the next run.
    pub(crate) fn remembered(&self) -> Remembered {
        Remembered {
            volume: self.controller.set_level(),
            muted: self.controller.muted_at.is_some(),
            repeat: self.controller.queue.repeat,
            autoplay: self.state.autoplay,
            // Quit before the library came, the last run's queue is still the one to keep.
            queue: match &self.saved_queue {
                Some(waiting) if self.controller.queue.entries().is_empty() => waiting.clone(),
                _ => SavedQueue::of(&self.controller.queue),
            },
        }
    }

    /// Puts the last run's queue back, with the tracks the library still has, unless something
    /// was queued meanwhile. Nothing plays until the listener says so. Whether it did.
    fn restore_queue(&mut self) -> bool {
        let Some(saved) = self.saved_queue.take() else {
            return false;
        };
        if !self.controller.queue.entries().is_empty() {
            return false;
        }
        let library = &self.state.library;
        let (entries, cursor) = saved.entries_in(|id| library.track(id).cloned());
        if entries.is_empty() {
            return false;
        }
        let (n, left_out) = (entries.len(), saved.entries.len() - entries.len());
        self.controller.queue.restore(entries, cursor);
        let gone = match left_out {
            0 => String::new(),
            n => format!(" ({n} no longer in the library)"),
        };
        // The whole queue, played entries included, with what is still to come (what "Up next"
        // counts).
        let plays = self
            .keys
            .hint(Action::TogglePause, "plays")
            .map_or_else(String::new, |hint| format!("; {hint}"));
        let back = format!(
            "the queue of the last run is back: {}, {} up next{gone}{plays}",
            crate::fmt::count(n as u64, "track"),
            self.controller.queue.upcoming().len(),
        );
        // After what the start had to say (no sound card, plays closed as interrupted), not over it.
        let message = match self.state.status.take() {
            Some(earlier) => format!("{earlier} · {back}"),
            None => back,
        };
        self.state.say(message);
        true
    }

    /// Applies one action to the state or to playback.
    pub(crate) fn update(&mut self, action: Action) {
        let before = self.playback_mark();
        self.apply(action);
        self.follow_playback(before);
    }

    /// Where playback stands, for [`App::follow_playback`]: the queue's cursor and the newest
    /// play of the history.
    fn playback_mark(&self) -> PlaybackMark {
        PlaybackMark {
            queue: self.controller.queue.generation(),
            cursor: self.controller.queue.cursor(),
            newest_play: self
                .controller
                .history
                .last()
                .map(|(track, play)| (track.id, play.ended_at)),
        }
    }

    /// Up next lists the entries after the playing one, so its selection is an offset from it:
    /// when playback moves on or back by some entries (a track ended, one was chosen further
    /// down, `p`), the selection moves the other way by as many, and stays on its entry; a queue
    /// replaced (a list played) opens on what plays next. The history is shown newest first, so
    /// while it is shown each play added above the selection moves it down one.
    fn follow_playback(&mut self, before: PlaybackMark) {
        if before.queue != self.controller.queue.generation() {
            self.state.up_next = 0;
        } else {
            let first_upcoming = |cursor: Option<usize>| cursor.map_or(0, |c| c + 1);
            let (from, to) = (
                first_upcoming(before.cursor),
                first_upcoming(self.controller.queue.cursor()),
            );
            self.state.up_next = (self.state.up_next + from).saturating_sub(to);
        }
        let history = &self.controller.history;
        let added = match before.newest_play {
            None => history.len(),
            Some(newest) => history
                .iter()
                .rev()
                .position(|(track, play)| (track.id, play.ended_at) == newest)
                .unwrap_or(0),
        };
        // Only under the listener's eyes: the view opens on the newest play.
        if added > 0 && !history.is_empty() && self.state.view == View::History {
            self.state.history = (self.state.history + added).min(history.len() - 1);
        }
    }

    fn apply(&mut self, action: Action) {
        let queue_len = self.controller.queue.upcoming().len();
        let history_len = self.controller.history.len();
        let queue_view_len = self.controller.queue.entries().len();
        self.state.follow_lists(queue_len, queue_view_len, history_len);
        let list_len = if self.state.view == View::Queue && self.state.pane == Pane::Main {
            queue_view_len
        } else {
            queue_len
        };
        match action {
            Action::Down => self.state.move_selection(1, list_len, history_len),
            Action::Up => self.state.move_selection(-1, list_len, history_len),
            Action::PageDown => self
                .state
                .move_selection(self.state.page_rows as isize, list_len, history_len),
            Action::PageUp => self
                .state
                .move_selection(-(self.state.page_rows as isize), list_len, history_len),
            Action::Top => self.state.jump(false, list_len, history_len),
            Action::Bottom => self.state.jump(true, list_len, history_len),
            Action::NextPane => self.state.cycle_pane(true),
            Action::PreviousPane => self.state.cycle_pane(false),
            Action::Play => self.play_selection(),
            Action::Enqueue | Action::PlayNext => match self.unplayable_selection() {
                Some(why) => self.state.say(why),
                None if self.selected_tracks().is_empty() => self.state.say("nothing selected to queue"),
                None if action == Action::Enqueue => {
                    let n = self.controller.enqueue(self.selected_tracks());
                    self.state
                        .say(format!("queued {}", crate::fmt::count(n as u64, "track")));
                }
                None => {
                    let n = self.controller.enqueue_next(self.selected_tracks());
                    self.state
                        .say(format!("{} to play next", crate::fmt::count(n as u64, "track")));
                }
            },
            Action::Remove if self.state.view == View::Playlists && self.state.pane == Pane::Main => {
                if let Some(name) = self.selected_saved_playlist() {
                    self.state
                        .say(format!("y deletes playlist {name:?}; any other key keeps it"));
                    self.state.confirm_delete = Some(name);
                }
            }
            Action::Remove => self.remove_selected(),
            Action::RenamePlaylist => {
                if self.state.view != View::Playlists {
                    let view = self
                        .keys
                        .first_key(Action::ViewPlaylists)
                        .map_or_else(String::new, |key| format!(" ({key})"));
                    self.state
                        .say(format!("select a playlist in Playlists{view} to rename it"));
                } else if let Some(name) = self.selected_saved_playlist() {
                    self.state.naming_playlist = Some(PlaylistPrompt {
                        target: PlaylistTarget::Rename(name.clone()),
                        name,
                    });
                }
            }
            Action::MoveUp | Action::MoveDown => self.move_selected(if action == Action::MoveUp { -1 } else { 1 }),
            Action::ClearQueue => {
                let cleared = self.controller.clear_upcoming();
                // With autoplay on, music goes on after the playing track: new picks now, not
                // when it has ended.
                self.request_rank();
                self.state.say(if cleared == 0 {
                    "nothing queued after the playing track".to_owned()
                } else {
                    format!("queue cleared: {}", crate::fmt::count(cleared as u64, "track"))
                });
            }
            Action::TogglePause | Action::Next => {
                let picking = self.picking();
                match FromNothing::press(&mut self.controller, self.autoplay.as_mut(), picking) {
                    FromNothing::NotEmpty if action == Action::Next => self.controller.next(ControlSource::Key),
                    FromNothing::NotEmpty => self.controller.toggle(ControlSource::Key),
                    FromNothing::Picking => self.state.say(FromNothing::PICKING),
                    FromNothing::NothingQueued => self.state.say(
                        match self.keys.hints(
                            &[
                                (Action::Play, "plays the selected track"),
                                (Action::Enqueue, "queues it"),
                            ],
                            ", ",
                        ) {
                            Some(hints) => format!("nothing queued: {hints}"),
                            None => "nothing queued".into(),
                        },
                    ),
                }
            }
            Action::Previous => self.controller.previous(ControlSource::Key),
            Action::Stop => self.controller.stop(ControlSource::Key),
            Action::SeekBack => self.controller.seek(SeekTo::Backward(SEEK_STEP)),
            Action::SeekForward => self.controller.seek(SeekTo::Forward(SEEK_STEP)),
            // A step while muted is a step from the volume unmuting goes back to.
            Action::VolumeUp | Action::VolumeDown => {
                let was_muted = self.controller.muted_at.is_some();
                let step = match action {
                    Action::VolumeUp => VolumeTo::Up(VOLUME_STEP),
                    _ => VolumeTo::Down(VOLUME_STEP),
                };
                self.controller.set_volume(step.from(self.controller.set_level()));
                // The mute said on the status line is over.
                if was_muted {
                    self.state.say(format!("unmuted: volume {}", self.controller.volume));
                }
            }
            Action::Mute => {
                let said = self.controller.toggle_mute();
                self.state.say(said);
            }
            Action::Search => self.state.search = Some(Search::default()),
            Action::Shuffle => self
                .state
                .say(self.controller.shuffle_upcoming().unwrap_or_else(|why| why)),
            Action::Repeat => self.set_repeat(self.controller.queue.repeat.cycle()),
            Action::Autoplay => {
                self.state.autoplay = !self.state.autoplay;
                self.state
                    .say(format!("autoplay {}", if self.state.autoplay { "on" } else { "off" }));
                if self.state.autoplay {
                    self.request_rank();
                } else {
                    self.controller.queue.set_autoplay(Vec::new());
                    self.controller.refresh_next();
                    if let Some(autoplay) = self.autoplay.as_mut() {
                        autoplay.stop_waiting();
                    }
                }
            }
            Action::Retrain => match &self.autoplay {
                Some(autoplay) => autoplay.send(Request::Retrain),
                None => self.state.say("recommendations are off"),
            },
            Action::Like => self.toggle_like(),
            Action::Ban => self.ask_ban(),
            Action::Radio => self.start_radio(),
            Action::Lyrics => {
                self.state.toggle_lyrics();
                // Read afresh each time the pane opens: a .lrc written or changed since shows. A
                // read still on its way is that fresh read already.
                let playing = self.controller.now.as_ref().map(|n| n.entry.track.id);
                if self.state.show_lyrics && self.lyrics_requested != playing {
                    self.state.lyrics = None;
                    self.lyrics_requested = None;
                }
                self.load_lyrics();
            }
            Action::LyricsSooner => self.shift_lyrics(-LYRICS_STEP_MS),
            Action::LyricsLater => self.shift_lyrics(LYRICS_STEP_MS),
            Action::Export => {
                let dir = self.db_path.parent().map(Path::to_path_buf).unwrap_or_default();
                workers::spawn_export(self.db_path.clone(), dir, self.config.clone(), self.worker_tx.clone());
                self.state.say("exporting the log…");
            }
            Action::Sort => {
                self.state.cycle_sort();
                self.state.say(format!("sorted by {}", self.state.sort.label()));
            }
            Action::GoToPlaying => {
                let playing = self.controller.now.as_ref().map(|now| now.entry.track.id);
                let cursor = self.controller.queue.cursor();
                if let Err(why) = self.state.select_playing(playing, cursor) {
                    self.state.say(why);
                }
            }
            Action::ViewLibrary => self.state.set_view(View::Library),
            Action::ViewTracks => self.state.set_view(View::Tracks),
            Action::ViewQueue => self.state.set_view(View::Queue),
            Action::ViewHistory => self.state.set_view(View::History),
            Action::ViewStats => {
                self.state.set_view(View::Stats);
                self.refresh_stats();
            }
            Action::ViewPlaylists => {
                self.state.set_view(View::Playlists);
                workers::spawn_playlists(self.db_path.clone(), self.worker_tx.clone());
            }
            Action::SavePlaylist if self.state.view == View::History => {
                // The listens, as the log counts them: not the plays that failed or were cut short;
                // a track heard twice is in the list once, where it was first heard.
                let rule = crate::play::SkipRule::from_config(&self.config.log);
                let mut listed = std::collections::HashSet::new();
                let tracks: Vec<Track> = self
                    .controller
                    .history
                    .iter()
                    .filter(|(track, play)| !play.skipped && rule.is_listen(play.played_ms, track.duration_ms))
                    .filter(|(track, _)| listed.insert(track.id))
                    .map(|(track, _)| track.clone())
                    .collect();
                if tracks.is_empty() {
                    self.state.say("no recent play was a listen: nothing to save");
                } else {
                    self.state.naming_playlist = Some(PlaylistPrompt {
                        target: PlaylistTarget::SaveHistory(tracks),
                        name: String::new(),
                    });
                }
            }
            Action::SavePlaylist => {
                let tracks = self.controller.queue.chosen_tracks();
                if tracks.is_empty() {
                    self.state.say("the queue holds none of your picks: nothing to save");
                } else {
                    self.state.naming_playlist = Some(PlaylistPrompt {
                        target: PlaylistTarget::SaveQueue(tracks),
                        name: String::new(),
                    });
                }
            }
            Action::AddToPlaylist => {
                let tracks = self.selected_tracks();
                if tracks.is_empty() {
                    self.state.say("select a track, album or artist to add");
                } else {
                    // The picker lists the saved playlists as the name is typed.
                    workers::spawn_playlists(self.db_path.clone(), self.worker_tx.clone());
                    self.state.naming_playlist = Some(PlaylistPrompt {
                        target: PlaylistTarget::Add(tracks),
                        name: String::new(),
                    });
                }
            }
            Action::Help if self.state.help => self.close_help(),
            Action::Help => {
                self.state.help = true;
                self.state.help_scroll = 0;
            }
            Action::Suspend => self.state.terminal_request = Some(TerminalRequest::Suspend),
            Action::Redraw => self.state.terminal_request = Some(TerminalRequest::Redraw),
            Action::Quit => {
                self.state.quitting = true;
                self.controller.shutdown();
            }
        }
    }

    /// Saves the queue or the recent listens as the new playlist `name`, or adds tracks to
    /// `name` (creating it), on a worker.
    pub(super) fn finish_playlist_prompt(&mut self, prompt: PlaylistPrompt) {
        let (tracks, save) = match prompt.target {
            PlaylistTarget::SaveQueue(tracks) => (tracks, SaveAs::New("the queue")),
            PlaylistTarget::SaveHistory(tracks) => (tracks, SaveAs::New("the recent listens")),
            PlaylistTarget::Add(tracks) => (tracks, SaveAs::Append),
            PlaylistTarget::Rename(from) => {
                self.state.renamed_playlist = Some(prompt.name.clone());
                self.change_playlist(PlaylistChange::Rename { from, to: prompt.name });
                return;
            }
        };
        // "apple" typed adds to the playlist "Apple": names that differ in case alone would be
        // one playlist to the listener, and two in the list.
        let name = match save {
            SaveAs::Append => {
                let saved = || self.state.playlists.iter().filter(|p| !p.smart);
                saved()
                    .find(|p| p.name == prompt.name)
                    .or_else(|| saved().find(|p| crate::track::same_name(&p.name, &prompt.name)))
                    .map_or(prompt.name, |p| p.name.clone())
            }
            _ => prompt.name,
        };
        workers::spawn_save_playlist(self.db_path.clone(), name, tracks, save, self.worker_tx.clone());
    }

    /// Renames or deletes a saved playlist on a worker, which then reads the playlists again.
    pub(super) fn change_playlist(&mut self, change: PlaylistChange) {
        workers::spawn_change_playlist(self.db_path.clone(), change, self.worker_tx.clone());
    }

    /// The saved playlist selected in view 6, or a line saying why there is none to change.
    fn selected_saved_playlist(&mut self) -> Option<String> {
        let playlist = self.state.playlists.get(self.state.playlist);
        match playlist {
            Some(p) if !p.smart => Some(p.name.clone()),
            Some(p) => {
                self.state
                    .say(format!("{} is computed from the log: it cannot be changed", p.name));
                None
            }
            None => None,
        }
    }

    /// The track a like, ban or radio is about: the one selected in a list of tracks (the
    /// library's, the queue, up next, the history, a playlist's entries), else the one playing.
    fn mark_target(&self) -> Option<Track> {
        let in_a_track_list = self.state.search.is_some()
            || !matches!(
                (self.state.pane, self.state.view),
                (Pane::Artists | Pane::Albums | Pane::Lyrics, _) | (Pane::Main, View::Stats | View::Playlists)
            );
        if in_a_track_list {
            if let [one] = self.selected_tracks().as_slice() {
                return Some(one.clone());
            }
        }
        self.controller.now.as_ref().map(|n| n.entry.track.clone())
    }

    /// Sets or clears a mark through the controller, tells the recommender and keeps the
    /// screen's copy in step; says what it did on the status line.
    fn set_mark(&mut self, track: &Track, mark: Mark, on: bool) {
        match self.controller.mark(track.id, mark, on, ControlSource::Key) {
            Ok(change) => {
                let picking = self.picking();
                if let Some(autoplay) = self.autoplay.as_mut() {
                    autoplay.marked(&self.controller, track.id, mark, on, picking);
                }
                self.state.library.marks.set(track.id, mark, on, now_ms());
                self.state
                    .say(format!("{}: {}", mark.outcome(on, change), track.display_name()));
            }
            Err(e) => {
                self.state.say(format!(
                    "cannot save the {}: {e}",
                    if mark == Mark::Like { "like" } else { "ban" }
                ));
            }
        }
    }

    fn toggle_like(&mut self) {
        let Some(track) = self.mark_target() else {
            self.state.say("nothing selected or playing to like");
            return;
        };
        let like = !self.state.library.marks.is_liked(track.id);
        self.set_mark(&track, Mark::Like, like);
    }

    /// A ban asks first (the next key: `y` bans); taking a ban back does not.
    fn ask_ban(&mut self) {
        let Some(track) = self.mark_target() else {
            self.state.say("nothing selected or playing to ban");
            return;
        };
        if self.state.library.marks.is_banned(track.id) {
            self.set_mark(&track, Mark::Ban, false);
            return;
        }
        // The answer's keys first: a short screen's one status row cuts the end.
        self.state.say(format!(
            "y bans {} (autoplay never queues it again); any other key keeps it",
            track.display_name()
        ));
        self.state.confirm_ban = Some(track);
    }

    /// Bans `track`: out of autoplay at once (picks already queued included), skipped if playing.
    pub(super) fn ban(&mut self, track: &Track) {
        self.set_mark(track, Mark::Ban, true);
    }

    /// "More like this": the selected artist, album or track (else the playing one) seeds a
    /// radio; its first track plays and autoplay goes on from it.
    fn start_radio(&mut self) {
        let s = &self.state;
        let in_tree = s.search.is_none() && matches!(s.pane, Pane::Artists | Pane::Albums);
        let (tracks, name) = if in_tree {
            let tracks = self.selected_tracks();
            let name = match s.pane {
                Pane::Artists => s.library.artists.get(s.artist).map(|a| a.name.to_string()),
                // An album's title alone often names no one ("Greatest Hits"): its artist too.
                _ => s
                    .library
                    .artists
                    .get(s.artist)
                    .and_then(|artist| Some(format!("{} by {}", artist.albums.get(s.album)?.name, artist.name))),
            };
            (tracks, name.unwrap_or_default())
        } else {
            match self.mark_target() {
                Some(track) => {
                    let name = track.display_name();
                    (vec![track], name)
                }
                None => (Vec::new(), String::new()),
            }
        };
        // An artist's or album's radio opens on a track the listener has not banned; a track
        // chosen by itself opens its own radio, as the listener may still play a banned track.
        let marks = &self.state.library.marks;
        let radio = if in_tree {
            RadioSeed::of_group(&tracks, name.clone(), |id| marks.is_banned(id))
        } else {
            tracks.first().map(|track| (RadioSeed::of_track(track), track.clone()))
        };
        let Some((seed, first)) = radio else {
            self.state.say(if tracks.is_empty() {
                "nothing selected or playing to start a radio from".into()
            } else {
                format!("every track of {name} is banned")
            });
            return;
        };
        if !self.state.autoplay || self.autoplay.is_none() {
            self.state.say("a radio needs autoplay: turn it on first");
            return;
        }
        self.state.search = None;
        let repeat = self.controller.start_radio(seed, first, ControlSource::Key);
        self.state.say(match repeat {
            Some(mode) => format!(
                "radio from {name} (repeat {} is off: a radio goes on to new tracks)",
                mode.label()
            ),
            None => format!("radio from {name}"),
        });
    }

    /// The tracks the selection stands for (an artist's, an album's, or one track of a list).
    fn selected_tracks(&self) -> Vec<Track> {
        let s = &self.state;
        let lib = &s.library.tracks;
        let indices: Vec<usize> = if let Some(search) = &s.search {
            search.results.get(search.selected).copied().into_iter().collect()
        } else {
            match (s.pane, s.view) {
                (Pane::Artists, _) => s.artist_tracks(),
                (Pane::Albums, _) => s.album_tracks().collect(),
                (Pane::Main, View::Library) => s.album_tracks().nth(s.album_track).into_iter().collect(),
                (Pane::Main, View::Tracks) => s.sorted.get(s.track).copied().into_iter().collect(),
                (Pane::UpNext, _) | (Pane::Main, View::Queue) => {
                    let queue = &self.controller.queue;
                    let entry = if s.pane == Pane::UpNext {
                        queue.upcoming().get(s.up_next)
                    } else {
                        queue.entries().get(s.queue)
                    };
                    return entry.map(|e| e.track.clone()).into_iter().collect();
                }
                (Pane::Main, View::History) => {
                    // The history is shown newest first.
                    let history = &self.controller.history;
                    return history
                        .len()
                        .checked_sub(s.history + 1)
                        .and_then(|i| history.get(i))
                        .map(|(t, _)| t.clone())
                        .into_iter()
                        .collect();
                }
                (Pane::Entries, _) => {
                    let entry = s
                        .playlists
                        .get(s.playlist)
                        .and_then(|p| p.entries.get(s.playlist_entry));
                    return match entry {
                        Some(SavedEntry::Track(id)) => s.library.track(*id).cloned().into_iter().collect(),
                        _ => Vec::new(),
                    };
                }
                (Pane::Main, View::Playlists) => {
                    return s
                        .playlists
                        .get(s.playlist)
                        .map(|p| p.track_ids().filter_map(|id| s.library.track(id).cloned()).collect())
                        .unwrap_or_default();
                }
                _ => Vec::new(),
            }
        };
        indices
            .into_iter()
            .filter_map(|i| lib.get(i).map(|t| Track::clone(t)))
            .collect()
    }

    /// Why the selected saved playlist, or entry of one, has nothing to play or queue; `None`
    /// for any other selection, and for one that has.
    fn unplayable_selection(&self) -> Option<String> {
        let s = &self.state;
        if s.search.is_some() || s.view != View::Playlists {
            return None;
        }
        let playlist = s.playlists.get(s.playlist)?;
        match s.pane {
            Pane::Entries => match playlist.entries.get(s.playlist_entry)? {
                SavedEntry::Missing(path) => Some(format!("not a playable file of the library: {path}")),
                SavedEntry::Track(id) if s.library.track(*id).is_none() => {
                    Some("this entry's track is no longer in the library".into())
                }
                SavedEntry::Track(_) => None,
            },
            Pane::Main if playlist.entries.is_empty() => Some(format!("{:?} is empty", playlist.name)),
            Pane::Main if playlist.track_ids().all(|id| s.library.track(id).is_none()) => Some(format!(
                "{:?}: none of its files is playable from the library",
                playlist.name
            )),
            _ => None,
        }
    }

    fn play_selection(&mut self) {
        if let Some(why) = self.unplayable_selection() {
            self.state.say(why);
            return;
        }
        // Enter typed before the search thread has answered plays the best match once it has, as
        // it would have in a small library.
        if let Some(search) = self
            .state
            .search
            .as_mut()
            .filter(|s| s.searching && s.results.is_empty())
        {
            search.play_when_found = true;
            return;
        }
        let s = &self.state;
        let lib = s.library.tracks.clone();
        let pick = |list: &[usize], at: usize| -> (Vec<Track>, usize) {
            let end = (at + QUEUE_FROM_LIST).min(list.len());
            (
                list[at.min(end)..end]
                    .iter()
                    .filter_map(|&i| lib.get(i).map(|t| Track::clone(t)))
                    .collect(),
                0,
            )
        };
        let (tracks, start) = if let Some(search) = &s.search {
            let chosen = search.results.get(search.selected).and_then(|&i| lib.get(i));
            if let Some(track) = chosen {
                self.controller.play_now(Track::clone(track), ControlSource::Key);
            }
            return;
        } else {
            match (s.pane, s.view) {
                (Pane::UpNext, _) => {
                    let index = self.controller.queue.cursor().map_or(0, |c| c + 1) + s.up_next;
                    self.controller.play_index(index, ControlSource::Key);
                    return;
                }
                (Pane::Main, View::Queue) => {
                    self.controller.play_index(s.queue, ControlSource::Key);
                    return;
                }
                // A track of the history plays again, as a search's result does.
                (Pane::Main, View::History) => {
                    if let Some(track) = self.selected_tracks().into_iter().next() {
                        self.controller.play_now(track, ControlSource::Key);
                    }
                    return;
                }
                (Pane::Artists, _) => (
                    s.artist_tracks()
                        .iter()
                        .filter_map(|&i| lib.get(i).map(|t| Track::clone(t)))
                        .collect(),
                    0,
                ),
                (Pane::Albums, _) => (
                    s.album_tracks()
                        .filter_map(|i| lib.get(i).map(|t| Track::clone(t)))
                        .collect(),
                    0,
                ),
                (Pane::Main, View::Library) => (
                    s.album_tracks()
                        .filter_map(|i| lib.get(i).map(|t| Track::clone(t)))
                        .collect(),
                    s.album_track,
                ),
                (Pane::Main, View::Tracks) => pick(&s.sorted, s.track),
                (Pane::Main | Pane::Entries, View::Playlists) => match s.playlists.get(s.playlist) {
                    Some(playlist) => {
                        let tracks: Vec<Track> = playlist
                            .track_ids()
                            .filter_map(|id| s.library.track(id).cloned())
                            .collect();
                        // From the selected entry: the tracks before it are left out of the count.
                        let start = if s.pane == Pane::Entries {
                            let before = &playlist.entries[..s.playlist_entry.min(playlist.entries.len())];
                            before
                                .iter()
                                .filter(|e| matches!(e, SavedEntry::Track(id) if s.library.track(*id).is_some()))
                                .count()
                        } else {
                            0
                        };
                        (tracks, start)
                    }
                    None => return,
                },
                _ => return,
            }
        };
        if tracks.is_empty() {
            return;
        }
        self.state.search = None;
        self.controller
            .play_tracks(tracks, start, PlaySource::User, ControlSource::Key);
    }

    fn remove_selected(&mut self) {
        if self.state.pane == Pane::Entries {
            let at = self.state.playlist_entry;
            self.edit_selected_playlist(EntryEdit::Remove(at));
            return;
        }
        let index = match (self.state.pane, self.state.view) {
            (Pane::UpNext, _) => self.controller.queue.cursor().map_or(0, |c| c + 1) + self.state.up_next,
            (Pane::Main, View::Queue) => self.state.queue,
            _ => return,
        };
        match self.controller.remove_from_queue(index) {
            Some(removed) => {
                self.state
                    .say(format!("removed from the queue: {}", removed.track.display_name()));
                // Autoplay keeps its picks filled; the one taken out is turned away.
                if removed.source == PlaySource::Autoplay || self.controller.queue.upcoming().is_empty() {
                    self.request_rank();
                }
            }
            None if self.controller.queue.cursor() == Some(index) => {
                self.state.say(format!(
                    "the playing track stays in the queue{}",
                    self.keys.aside(Action::Next, "plays the next")
                ));
            }
            None => {}
        }
    }

    fn move_selected(&mut self, delta: isize) {
        if self.state.pane == Pane::Entries {
            let at = self.state.playlist_entry;
            if let Some(to) = at.checked_add_signed(delta) {
                if self.edit_selected_playlist(EntryEdit::Swap(at, to)) {
                    self.state.playlist_entry = to;
                }
            }
            return;
        }
        let base = self.controller.queue.cursor().map_or(0, |c| c + 1);
        let (index, selection) = match (self.state.pane, self.state.view) {
            (Pane::UpNext, _) => (base + self.state.up_next, &mut self.state.up_next),
            (Pane::Main, View::Queue) => (self.state.queue, &mut self.state.queue),
            _ => return,
        };
        let len = self.controller.queue.entries().len();
        if let Some(moved) = self.controller.queue.move_entry(index, delta) {
            *selection = if self.state.pane == Pane::UpNext {
                moved - base
            } else {
                moved
            };
            self.controller.refresh_next();
        } else if index < len && (index < base || index.checked_add_signed(delta).is_some_and(|to| to < base)) {
            // The end of the list says itself; the playing track and those played do not.
            self.state.say("only the tracks after the playing one move");
        }
    }

    /// Removes or moves an entry of the playlist selected in view 6, in the database and on
    /// screen; smart playlists are refused with a line saying why.
    fn edit_selected_playlist(&mut self, edit: EntryEdit) -> bool {
        let Some(name) = self.selected_saved_playlist() else {
            return false;
        };
        match self.controller.edit_playlist(&name, edit) {
            Ok(true) => {
                if let Some(playlist) = self.state.playlists.get_mut(self.state.playlist) {
                    playlist.apply(edit);
                    let last = playlist.entries.len().saturating_sub(1);
                    self.state.playlist_entry = self.state.playlist_entry.min(last);
                }
                if let EntryEdit::Remove(_) = edit {
                    self.state.say(format!("removed an entry from playlist {name:?}"));
                }
                true
            }
            Ok(false) => false,
            Err(e) => {
                self.state.say(format!("cannot change playlist {name:?}: {e}"));
                false
            }
        }
    }

    /// Reads the statistics again while they are on screen: a play logged or a training run
    /// recorded changes them.
    fn refresh_stats(&mut self) {
        if self.state.view != View::Stats {
            return;
        }
        match self.stats_reading {
            StatsReading::Idle => {
                let rule = crate::play::SkipRule::from_config(&self.config.log);
                if workers::spawn_stats(self.db_path.clone(), rule, self.worker_tx.clone()) {
                    self.stats_reading = StatsReading::Reading;
                }
            }
            StatsReading::Reading | StatsReading::ReadingStale => self.stats_reading = StatsReading::ReadingStale,
        }
    }

    /// Takes a finished read of the statistics, and reads again if the log grew meanwhile.
    fn stats_read(&mut self, stats: Result<Stats, String>) {
        match stats {
            Ok(stats) => self.state.stats = Some(stats),
            Err(message) => self.state.say(message),
        }
        let stale = self.stats_reading == StatsReading::ReadingStale;
        self.stats_reading = StatsReading::Idle;
        if stale {
            self.refresh_stats();
        }
    }

    /// Folds an engine event into playback state and the log.
    pub fn handle_engine(&mut self, event: &Event) {
        let before = self.playback_mark();
        let outcomes = self.controller.handle(event);
        self.follow_playback(before);
        for outcome in &outcomes {
            match outcome {
                Outcome::TrackError(message) => self.state.say(message.clone()),
                Outcome::LogFailed(message) => {
                    self.state.say(format!("cannot write the listening log: {message}"));
                }
                Outcome::Logged(play) => {
                    self.state
                        .library
                        .count_play(play.track_id, play.skipped, play.ended_at);
                    self.refresh_stats();
                }
                // With autoplay on, its picks carry on; off, the silence is said.
                Outcome::Stopped { stopped: false } if !self.state.autoplay => {
                    self.state.say(format!(
                        "end of the queue{}",
                        self.keys.aside(Action::Autoplay, "turns autoplay on")
                    ));
                }
                _ => {}
            }
        }
        let picking = self.state.autoplay;
        if self
            .autoplay
            .as_mut()
            .is_some_and(|a| a.observe(event, &outcomes, picking))
        {
            self.request_rank();
        }
        if matches!(event, Event::Started { .. }) {
            self.load_lyrics();
        }
        // A stopped player shows no cover, and keeps no room for one. Between two tracks, and
        // until the new one's is drawn, the room stays, so that the column does not jump.
        if outcomes.iter().any(|o| matches!(o, Outcome::Stopped { .. })) {
            self.state.art = None;
        }
    }

    /// Asks a worker for the playing track's cover, drawn for the side column of a screen of
    /// `area`, unless it is there or on its way. The event loop calls it before each frame.
    pub fn want_art(&mut self, area: Rect) {
        let (Some(picker), Some(track)) = (&self.art_picker, self.controller.now.as_ref().map(|n| &n.entry.track))
        else {
            return;
        };
        let Some(size) = art_size(side_column(area, &self.state)) else {
            return;
        };
        let wanted = (track.id, size);
        let have = self.state.art.as_ref().is_some_and(|a| (a.track_id, a.size) == wanted);
        if have || self.art_requested == Some(wanted) {
            return;
        }
        self.art_requested = Some(wanted);
        workers::spawn_art(
            track.clone(),
            size,
            picker.clone(),
            self.art_cache.clone(),
            self.worker_tx.clone(),
        );
    }

    /// Asks a worker for the playing track's lyrics while the lyrics pane is shown, unless they
    /// are there or on their way.
    fn load_lyrics(&mut self) {
        let Some(track) = self.controller.now.as_ref().map(|n| &n.entry.track) else {
            return;
        };
        let have = self.state.lyrics.as_ref().is_some_and(|l| l.track_id == track.id);
        if !self.state.show_lyrics || have || self.lyrics_requested == Some(track.id) {
            return;
        }
        self.lyrics_requested = Some(track.id);
        workers::spawn_lyrics(
            self.db_path.clone(),
            track.clone(),
            self.config.lyrics.folder.clone(),
            self.worker_tx.clone(),
        );
    }

    /// Moves the playing track's synced lyrics by `delta_ms` (kept in the database).
    fn shift_lyrics(&mut self, delta_ms: i64) {
        let playing = self.controller.now.as_ref().map(|n| n.entry.track.id);
        let Some(shown) = self
            .state
            .lyrics
            .as_mut()
            .filter(|l| Some(l.track_id) == playing && l.lyrics.as_ref().is_some_and(|l| l.is_synced()))
        else {
            let show = self.keys.aside(Action::Lyrics, "shows the lyrics");
            self.state.say(format!("no synced lyrics to shift{show}"));
            return;
        };
        shown.shift_ms += delta_ms;
        let (track_id, shift_ms) = (shown.track_id, shown.shift_ms);
        self.state.say(match self.controller.shift_lyrics(track_id, shift_ms) {
            Ok(()) => format!("lyrics {}", format_shift(shift_ms)),
            Err(e) => format!("cannot keep the lyrics timing: {e}"),
        });
    }

    /// Sets the repeat mode from a key.
    fn set_repeat(&mut self, repeat: Repeat) {
        self.controller.set_repeat(repeat);
        self.repeat_set(repeat);
    }

    /// Says what a repeat mode just set (from a key or the desktop) means for autoplay, and
    /// has autoplay pick again once the queue no longer repeats.
    fn repeat_set(&mut self, repeat: Repeat) {
        // Said each time, so that what the last change said never outlives it.
        let autoplay = self.autoplay.as_mut().filter(|_| self.state.autoplay);
        let said = repeat_set(repeat, &self.controller, autoplay);
        self.state.say(said);
    }

    /// Carries out a request from the desktop (media keys, widgets) through the controller.
    pub fn handle_mpris(&mut self, request: crate::mpris::Request) {
        let picking = self.picking();
        let before = self.playback_mark();
        let applied = mpris_bridge::apply(&mut self.controller, self.autoplay.as_mut(), picking, request);
        self.follow_playback(before);
        match applied {
            Applied::Quit => self.update(Action::Quit),
            Applied::Notice(message) => self.state.say(message),
            Applied::Repeat(repeat) => self.repeat_set(repeat),
            Applied::Done => {}
        }
    }

    /// Carries out a command from `skipless remote` through the controller, as its key would;
    /// returns the line to answer with.
    pub(crate) fn handle_remote(&mut self, command: LineCommand) -> String {
        let picking = self.picking();
        let before = self.playback_mark();
        let reply = commands::apply(
            &mut self.controller,
            self.autoplay.as_mut(),
            picking,
            command,
            ControlSource::Remote,
        );
        self.follow_playback(before);
        if let Some((track_id, mark, on)) = reply.marked {
            self.state.library.marks.set(track_id, mark, on, now_ms());
        }
        // A reload (`skipless scan`, `roots add`, `import`, `playlist import` in another
        // process) reads the library, the saved playlists and the roots to watch again.
        if reply.reload {
            self.load_library();
            workers::spawn_playlists(self.db_path.clone(), self.worker_tx.clone());
            if let Some(watch) = &self.roots_changed {
                let _ = watch.send(RootsChanged);
            }
        }
        if let commands::Said::Done(done) = &reply.said {
            if !done.is_empty() {
                self.state.say(format!("remote: {done}"));
            }
        }
        if reply.quit {
            self.update(Action::Quit);
        }
        reply.line()
    }

    pub fn handle_worker(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::ScanProgress { done, total } => {
                self.state.gauges.scan = Some(Progress {
                    label: "scanning".into(),
                    done,
                    total,
                });
            }
            WorkerMsg::ScanDone { summary, problems } => {
                self.state.gauges.scan = None;
                let more = if problems > 0 {
                    format!(" ({problems} problems: see `skipless scan`)")
                } else {
                    String::new()
                };
                self.state.say(format!("{summary}{more}"));
            }
            WorkerMsg::Library(library) => {
                if let Some(message) = self.controller.follow_library(&library) {
                    self.state.say(message);
                }
                let shared = library.tracks.clone();
                self.state.set_library(library);
                let restored = self.restore_queue();
                // Results are places in the library they were found in: kept while a large one
                // is searched again, they would name other tracks of the new one.
                if let Some(search) = self.state.search.as_mut() {
                    search.results.clear();
                }
                self.run_search();
                // The playlists shown count their entries against the library.
                if self.state.view == View::Playlists {
                    workers::spawn_playlists(self.db_path.clone(), self.worker_tx.clone());
                }
                if let Some(autoplay) = &self.autoplay {
                    autoplay.send(Request::Reload(Some(shared)));
                }
                // Picks follow a queue brought back from the last run, as they follow a play.
                if restored {
                    self.request_rank();
                }
            }
            WorkerMsg::Recommendations { seq, source, picks } => {
                let (Some(autoplay), true) = (self.autoplay.as_mut(), self.state.autoplay) else {
                    return;
                };
                let library = &self.state.library;
                let selected = (&mut self.state.queue, &mut self.state.up_next);
                let picked = keeping_queue_selection(selected, &mut self.controller, |controller| {
                    autoplay.accept(
                        seq,
                        source,
                        &picks,
                        controller,
                        |id| library.track(id).cloned(),
                        ControlSource::Key,
                    )
                });
                if picked == Picked::NothingLeft {
                    self.state.say("autoplay has nothing left to pick: playback stopped");
                }
            }
            WorkerMsg::ModelStatus(status) => self.state.model_status = status,
            WorkerMsg::RankingChanged => self.request_rank(),
            // No picks will come: the player goes on as without autoplay.
            WorkerMsg::RecommenderOff(status) => {
                self.autoplay = None;
                self.state.model_status = status;
            }
            WorkerMsg::RetrainRefused(why) => self.state.say(why),
            WorkerMsg::TrainProgress { stage, done, total } => {
                self.state.gauges.training = Some(Progress {
                    label: format!("training {stage}"),
                    done,
                    total,
                });
            }
            WorkerMsg::TrainDone(message) => {
                self.state.gauges.training = None;
                self.state.say(message);
                self.refresh_stats();
            }
            WorkerMsg::ExportDone(path) => self.state.say(format!("exported the log to {}", path.display())),
            WorkerMsg::Stats(stats) => self.stats_read(stats),
            WorkerMsg::Playlists(playlists) => {
                // The selection stays on its playlist (by its new name once a rename shows) as
                // the sorted list changes around it.
                let position = |name: &str| playlists.iter().position(|p| p.name == name);
                let renamed = self.state.renamed_playlist.as_deref().and_then(position);
                if renamed.is_some() {
                    self.state.renamed_playlist = None;
                }
                let selected = self.state.playlists.get(self.state.playlist);
                self.state.playlist = renamed
                    .or_else(|| selected.and_then(|p| position(&p.name)))
                    .unwrap_or(self.state.playlist)
                    .min(playlists.len().saturating_sub(1));
                self.state.playlists = playlists;
            }
            WorkerMsg::PlaylistSaved(message) => self.state.say(message),
            WorkerMsg::Art {
                track_id,
                size,
                picture,
            } => {
                if self.art_requested == Some((track_id, size)) {
                    self.art_requested = None;
                }
                if self
                    .controller
                    .now
                    .as_ref()
                    .is_some_and(|n| n.entry.track.id == track_id)
                {
                    self.state.art = Some(ShownArt {
                        track_id,
                        size,
                        picture,
                    });
                }
            }
            WorkerMsg::SearchResults {
                generation,
                results,
                complete,
            } => {
                if let Some(search) = self.state.search.as_mut().filter(|s| s.generation == generation) {
                    search.results = results;
                    search.searching = !complete;
                    search.selected = search.selected.min(search.results.len().saturating_sub(1));
                    if search.play_when_found && complete {
                        search.play_when_found = false;
                        self.play_selection();
                    }
                }
            }
            WorkerMsg::Lyrics {
                track_id,
                lyrics,
                shift_ms,
                problem,
            } => {
                // The answer for a track skipped while its lyrics were read would stand in for
                // those of the track playing, which are on their way.
                if self.lyrics_requested != Some(track_id) {
                    return;
                }
                self.lyrics_requested = None;
                self.state.lyrics_scroll = 0;
                self.state.lyrics = Some(TrackLyrics {
                    track_id,
                    lyrics,
                    shift_ms,
                });
                if let Some(problem) = problem {
                    self.state.say(problem);
                }
            }
            WorkerMsg::ScanFailed(message) => {
                self.state.gauges.scan = None;
                self.state.say(message);
            }
            WorkerMsg::Error(message) => {
                // A rename that failed will not show its new name.
                self.state.renamed_playlist = None;
                self.state.say(message);
            }
        }
    }
}

/// Where playback stood before an action or an engine event: see [`App::follow_playback`].
struct PlaybackMark {
    /// The queue's [`generation`](crate::app::Queue::generation).
    queue: u64,
    cursor: Option<usize>,
    /// The newest play of the history: its track and when it ended.
    newest_play: Option<(i64, i64)>,
}

/// Runs `change` on the queue, keeping the Queue view's and up next's selections on the entry
/// they were on (its track, at the row nearest the old one) where the entry's row moved:
/// autoplay re-ranks its picks under a listener who may be reading them.
/// `selected` is (the Queue view's row, up next's row).
fn keeping_queue_selection<R>(
    selected: (&mut usize, &mut usize),
    controller: &mut Controller,
    change: impl FnOnce(&mut Controller) -> R,
) -> R {
    let (in_queue, up_next) = selected;
    let held = |entries: &[QueueEntry], row: usize| entries.get(row).map(|e| e.track.id);
    let held_in_queue = held(controller.queue.entries(), *in_queue);
    let held_up_next = held(controller.queue.upcoming(), *up_next);
    let changed = change(controller);
    let nearest = |entries: &[QueueEntry], id: i64, near: usize| {
        (0..entries.len())
            .filter(|&row| entries[row].track.id == id)
            .min_by_key(|&row| row.abs_diff(near))
    };
    if let Some(row) = held_in_queue.and_then(|id| nearest(controller.queue.entries(), id, *in_queue)) {
        *in_queue = row;
    }
    if let Some(row) = held_up_next.and_then(|id| nearest(controller.queue.upcoming(), id, *up_next)) {
        *up_next = row;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::library::LibraryIndex;
    use crate::config::AudioOutput;
    use std::time::{Duration, Instant};

    /// The app on a fresh database in `dir`, playing to the null output, with the engine that
    /// must outlive it.
    fn app_in(dir: &std::path::Path) -> (crate::player::Engine, App) {
        let db_path = dir.join("skipless.db");
        let mut config = Config::default();
        config.playback.audio = AudioOutput::Null;
        let (engine, controller, _) = crate::app::start_playback(&config, &db_path).unwrap();
        (engine, App::new(config, db_path, controller).unwrap())
    }

    fn library_of(size: usize) -> LibraryIndex {
        let tracks = (1..=size as i64)
            .map(|id| {
                let mut track = Track::placeholder(id);
                track.title = format!("velvet {id}");
                Arc::new(track)
            })
            .collect();
        LibraryIndex::new(tracks, std::collections::HashMap::new())
    }

    /// Autoplay re-ranks its picks while the listener reads them: the selection stays on the
    /// track it was on, in the Queue view and in up next, and where the track left the picks,
    /// on its row.
    #[test]
    fn a_reranking_of_autoplays_picks_leaves_the_selection_on_its_track() {
        let dir = tempfile::tempdir().unwrap();
        let (_engine, mut app) = app_in(dir.path());
        app.state.set_library(library_of(8));
        let library = app.state.library.clone();
        let rank = |app: &mut App, ids: &[i64]| {
            let picks = ids
                .iter()
                .filter_map(|&id| library.track(id).cloned())
                .map(|track| QueueEntry {
                    track,
                    source: PlaySource::Autoplay,
                    reason: None,
                })
                .collect();
            let selected = (&mut app.state.queue, &mut app.state.up_next);
            keeping_queue_selection(selected, &mut app.controller, |controller| {
                controller.queue.set_autoplay(picks);
            });
        };
        let selected = |app: &App| {
            let queue = &app.controller.queue;
            (
                queue.entries()[app.state.queue].track.id,
                queue.upcoming()[app.state.up_next].track.id,
            )
        };
        rank(&mut app, &[1, 2, 3, 4, 5]);
        (app.state.queue, app.state.up_next) = (2, 3);
        assert_eq!(selected(&app), (3, 4));
        rank(&mut app, &[5, 4, 6, 3, 1]);
        assert_eq!((app.state.queue, app.state.up_next), (3, 1));
        assert_eq!(selected(&app), (3, 4));
        rank(&mut app, &[7, 8, 6, 2, 1]);
        assert_eq!(
            (app.state.queue, app.state.up_next),
            (3, 1),
            "gone from the picks: the rows stay"
        );
    }

    /// A search the search thread still answers for a large library must not land on the
    /// results of the smaller library a rescan left (searched on this thread at once): its
    /// places would be past that library's end, and drawing them would panic.
    #[test]
    fn a_late_answer_for_a_larger_library_does_not_land_on_the_smaller_one() {
        let dir = tempfile::tempdir().unwrap();
        let (_engine, mut app) = app_in(dir.path());
        app.state.set_library(library_of(search::INLINE_LIMIT + 5_000));
        app.state.search = Some(crate::tui::state::Search {
            query: "velvet".into(),
            ..crate::tui::state::Search::default()
        });
        app.run_search();
        assert!(
            app.state.search.as_ref().unwrap().searching,
            "asked of the search thread"
        );

        app.handle_worker(WorkerMsg::Library(library_of(5)));
        let deadline = Instant::now() + Duration::from_secs(3);
        while let Ok(message) = app.worker_rx.recv_deadline(deadline) {
            app.handle_worker(message);
        }
        let library = app.state.library.tracks.len();
        let results = &app.state.search.as_ref().unwrap().results;
        assert_eq!(library, 5);
        assert_eq!(results.len(), 5, "the smaller library's own matches");
        assert!(
            results.iter().all(|&i| i < library),
            "{results:?} in a library of {library}"
        );
    }

    /// A scan and a training run report apart: each one's end, or a worker's error, clears its
    /// own gauge and leaves the other's.
    #[test]
    fn each_job_clears_its_own_gauge() {
        let dir = tempfile::tempdir().unwrap();
        let (_engine, mut app) = app_in(dir.path());
        app.handle_worker(WorkerMsg::TrainProgress {
            stage: "the Transformer (2 of 2)",
            done: 4,
            total: 10,
        });
        app.handle_worker(WorkerMsg::ScanProgress { done: 1, total: 3 });
        assert_eq!(app.state.gauges.shown().count(), 2);
        app.handle_worker(WorkerMsg::ScanDone {
            summary: "scanned 3".into(),
            problems: 0,
        });
        assert!(app.state.gauges.scan.is_none() && app.state.gauges.training.is_some());
        app.handle_worker(WorkerMsg::ScanProgress { done: 0, total: 0 });
        // Another job's error leaves the scan's gauge; the scan's own takes it away.
        app.handle_worker(WorkerMsg::Error("the cover could not be read".into()));
        assert!(app.state.gauges.scan.is_some());
        app.handle_worker(WorkerMsg::ScanFailed("a folder could not be read".into()));
        assert!(app.state.gauges.scan.is_none() && app.state.gauges.training.is_some());
        app.handle_worker(WorkerMsg::ScanProgress { done: 2, total: 3 });
        app.handle_worker(WorkerMsg::TrainDone("new model in use".into()));
        assert!(app.state.gauges.scan.is_some() && app.state.gauges.training.is_none());
    }
}
