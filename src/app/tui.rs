//! The interactive player ([`App`], [`run`]): key map -> [`Action`] -> state update -> render.
//!
//! One UI thread owns the [`App`] and blocks on three channels: terminal input, engine events
//! and worker reports. It redraws only after one of them delivered something, so an idle
//! player sleeps.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::{select, Receiver, Sender};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};

use super::autoplay::{Autoplay, Request};
use super::controller::{Controller, Outcome};
use super::keymap::{Action, KeyMap};
use super::state::{Pane, Progress, Search, State, View};
use super::workers::{self, WorkerMsg};
use crate::cli::RunContext;
use crate::config::Config;
use crate::db::tracks::Track;
use crate::log::EndReason;
use crate::mpris::bridge::{self, Applied};
use crate::mpris::Mpris;
use crate::player::{ControlSource, Engine, Event, PlaySource, SeekTo};
use crate::recommend::log::LoggedPlay;
use crate::ui;

const SEEK_STEP: Duration = Duration::from_secs(5);
const VOLUME_STEP: u8 = 5;
/// How many tracks of a long list are queued when one of them is played.
const QUEUE_FROM_LIST: usize = 500;

/// The whole interactive application: UI state plus playback.
pub struct App {
    pub state: State,
    pub controller: Controller,
    pub keys: KeyMap,
    pub theme: ui::Theme,
    db_path: PathBuf,
    config: Config,
    worker_tx: Sender<WorkerMsg>,
    pub worker_rx: Receiver<WorkerMsg>,
    autoplay: Option<Autoplay>,
    /// Number of the latest ranking request; older answers are stale.
    rank_seq: u64,
}

impl App {
    /// Builds the app around a running engine's command channel and a recorder.
    pub fn new(config: Config, db_path: PathBuf, controller: Controller) -> anyhow::Result<Self> {
        let keys = KeyMap::with_overrides(&config.keys)?;
        let theme = ui::Theme::from_config(
            &config.theme,
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        );
        let (worker_tx, worker_rx) = crossbeam_channel::unbounded();
        let state = State {
            autoplay: config.recommend.autoplay,
            pane: Pane::Artists,
            model_status: "no recommendations yet".into(),
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
            worker_rx,
            autoplay: None,
            rank_seq: 0,
        })
    }

    /// Starts live recommendations (the ranking thread and, when due, the trainer).
    pub fn start_autoplay(&mut self, models_dir: PathBuf) {
        self.autoplay = Some(Autoplay::start(
            self.db_path.clone(),
            models_dir,
            self.config.recommend.clone(),
            self.worker_tx.clone(),
        ));
    }

    /// Asks for a fresh ranking of what follows the current session.
    fn request_rank(&mut self) {
        let Some(autoplay) = self.autoplay.as_ref().filter(|_| self.state.autoplay) else {
            return;
        };
        let (session, exclude) = self.controller.autoplay_context();
        self.rank_seq += 1;
        autoplay.send(Request::Rank {
            seq: self.rank_seq,
            session,
            exclude,
            limit: self.config.recommend.autoplay_queue,
        });
    }

    pub fn load_library(&self) {
        workers::spawn_load(self.db_path.clone(), self.worker_tx.clone());
    }

    pub fn scan(&mut self, roots: Vec<PathBuf>) {
        self.state.progress = Some(Progress {
            label: "scanning".into(),
            done: 0,
            total: 0,
        });
        workers::spawn_scan(self.db_path.clone(), roots, self.worker_tx.clone());
    }

    /// Handles a terminal event; returns whether the screen needs redrawing.
    pub fn handle_terminal(&mut self, event: TermEvent, area: ratatui::layout::Rect) -> bool {
        match event {
            TermEvent::Key(key) if key.kind != KeyEventKind::Release => {
                self.handle_key(key);
                true
            }
            TermEvent::Mouse(mouse) => self.handle_mouse(mouse, area),
            TermEvent::Resize(..) => true,
            _ => false,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) {
        if self.state.search.is_some() && self.search_input(key) {
            return;
        }
        if self.state.help && key.code == KeyCode::Esc {
            self.state.help = false;
            return;
        }
        if let Some(action) = self.keys.action(key) {
            self.update(action);
        }
    }

    /// Typing in the search box; returns false for keys that act as usual (arrows, Enter).
    fn search_input(&mut self, key: KeyEvent) -> bool {
        let Some(search) = self.state.search.as_mut() else {
            return false;
        };
        match key.code {
            KeyCode::Esc => self.state.search = None,
            KeyCode::Backspace => {
                search.query.pop();
                search.results = self.state.library.search(&search.query, 1000);
                search.selected = 0;
            }
            KeyCode::Char(c) if !key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL) => {
                search.query.push(c);
                search.results = self.state.library.search(&search.query, 1000);
                search.selected = 0;
            }
            _ => return false,
        }
        true
    }

    /// Applies one action to the state or to playback.
    pub fn update(&mut self, action: Action) {
        let queue_len = self.controller.queue.upcoming().len();
        let history_len = self.controller.history.len();
        let queue_view_len = self.controller.queue.entries().len();
        let list_len = if self.state.view == View::Queue && self.state.pane == Pane::Main {
            queue_view_len
        } else {
            queue_len
        };
        match action {
            Action::Down => self.state.move_selection(1, list_len, history_len),
            Action::Up => self.state.move_selection(-1, list_len, history_len),
            Action::PageDown => self.state.move_selection(10, list_len, history_len),
            Action::PageUp => self.state.move_selection(-10, list_len, history_len),
            Action::Top => self.state.jump(false, list_len, history_len),
            Action::Bottom => self.state.jump(true, list_len, history_len),
            Action::NextPane => self.state.cycle_pane(true),
            Action::PreviousPane => self.state.cycle_pane(false),
            Action::Play => self.play_selection(),
            Action::Enqueue => {
                let tracks = self.selected_tracks();
                let n = tracks.len();
                for track in tracks {
                    self.controller.queue.enqueue(track);
                }
                self.controller.refresh_next();
                self.state.status = Some(format!("queued {n} track{}", if n == 1 { "" } else { "s" }));
            }
            Action::Remove => self.remove_selected(),
            Action::MoveUp | Action::MoveDown => self.move_selected(if action == Action::MoveUp { -1 } else { 1 }),
            Action::ClearQueue => {
                self.controller.queue.clear_upcoming();
                self.controller.refresh_next();
                self.state.status = Some("queue cleared".into());
            }
            Action::TogglePause => self.controller.toggle(),
            Action::Next => self.controller.next(ControlSource::Key),
            Action::Previous => self.controller.previous(ControlSource::Key),
            Action::Stop => self.controller.stop(ControlSource::Key),
            Action::SeekBack => self.controller.seek(SeekTo::Backward(SEEK_STEP)),
            Action::SeekForward => self.controller.seek(SeekTo::Forward(SEEK_STEP)),
            Action::VolumeUp => self
                .controller
                .set_volume(self.controller.volume.saturating_add(VOLUME_STEP).min(100)),
            Action::VolumeDown => self
                .controller
                .set_volume(self.controller.volume.saturating_sub(VOLUME_STEP)),
            Action::Search => self.state.search = Some(Search::default()),
            Action::Shuffle => {
                self.state.shuffle = !self.state.shuffle;
                if self.state.shuffle {
                    self.controller.queue.shuffle_upcoming(crate::db::now_ms() as u64);
                    self.controller.refresh_next();
                }
            }
            Action::Repeat => {
                self.controller.queue.repeat = self.controller.queue.repeat.cycle();
                self.controller.refresh_next();
            }
            Action::Autoplay => {
                self.state.autoplay = !self.state.autoplay;
                self.state.status = Some(format!("autoplay {}", if self.state.autoplay { "on" } else { "off" }));
                if self.state.autoplay {
                    self.request_rank();
                } else {
                    self.controller.queue.set_autoplay(Vec::new());
                    self.controller.refresh_next();
                }
            }
            Action::Retrain => match &self.autoplay {
                Some(autoplay) => autoplay.send(Request::Retrain),
                None => self.state.status = Some("recommendations are off".into()),
            },
            Action::Export => {
                let dir = self.db_path.parent().map(Path::to_path_buf).unwrap_or_default();
                workers::spawn_export(self.db_path.clone(), dir, self.config.clone(), self.worker_tx.clone());
                self.state.status = Some("exporting the log…".into());
            }
            Action::Sort => {
                self.state.cycle_sort();
                self.state.status = Some(format!("sorted by {}", self.state.sort.label()));
            }
            Action::ViewLibrary => self.state.set_view(View::Library),
            Action::ViewTracks => self.state.set_view(View::Tracks),
            Action::ViewQueue => self.state.set_view(View::Queue),
            Action::ViewHistory => self.state.set_view(View::History),
            Action::ViewStats => {
                self.state.set_view(View::Stats);
                let rule = crate::log::SkipRule::from_config(&self.config.log);
                workers::spawn_stats(self.db_path.clone(), rule, self.worker_tx.clone());
            }
            Action::Help => {
                self.state.help = !self.state.help;
                self.state.help_scroll = 0;
            }
            Action::Quit => {
                self.state.quitting = true;
                self.controller.shutdown();
            }
        }
    }

    /// The tracks the selection stands for (an artist's, an album's, or one track).
    fn selected_tracks(&self) -> Vec<Track> {
        let s = &self.state;
        let lib = &s.library.tracks;
        let indices: Vec<usize> = if let Some(search) = &s.search {
            search.results.get(search.selected).copied().into_iter().collect()
        } else {
            match (s.pane, s.view) {
                (Pane::Artists, _) => s.artist_tracks(),
                (Pane::Albums, _) => s.album_tracks().to_vec(),
                (Pane::Main, View::Library) => s.album_tracks().get(s.album_track).copied().into_iter().collect(),
                (Pane::Main, View::Tracks) => s.sorted.get(s.track).copied().into_iter().collect(),
                _ => Vec::new(),
            }
        };
        indices.into_iter().filter_map(|i| lib.get(i).cloned()).collect()
    }

    fn play_selection(&mut self) {
        let s = &self.state;
        let lib = s.library.tracks.clone();
        let pick = |list: &[usize], at: usize| -> (Vec<Track>, usize) {
            let end = (at + QUEUE_FROM_LIST).min(list.len());
            (
                list[at.min(end)..end]
                    .iter()
                    .filter_map(|&i| lib.get(i).cloned())
                    .collect(),
                0,
            )
        };
        let (tracks, start) = if let Some(search) = &s.search {
            pick(&search.results, search.selected)
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
                (Pane::Artists, _) => (
                    s.artist_tracks().iter().filter_map(|&i| lib.get(i).cloned()).collect(),
                    0,
                ),
                (Pane::Albums, _) => (
                    s.album_tracks().iter().filter_map(|&i| lib.get(i).cloned()).collect(),
                    0,
                ),
                (Pane::Main, View::Library) => (
                    s.album_tracks().iter().filter_map(|&i| lib.get(i).cloned()).collect(),
                    s.album_track,
                ),
                (Pane::Main, View::Tracks) => pick(&s.sorted, s.track),
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
        let index = match (self.state.pane, self.state.view) {
            (Pane::UpNext, _) => self.controller.queue.cursor().map_or(0, |c| c + 1) + self.state.up_next,
            (Pane::Main, View::Queue) => self.state.queue,
            _ => return,
        };
        if self.controller.queue.remove(index).is_some() {
            self.controller.refresh_next();
        }
    }

    fn move_selected(&mut self, delta: isize) {
        let base = self.controller.queue.cursor().map_or(0, |c| c + 1);
        let (index, selection) = match (self.state.pane, self.state.view) {
            (Pane::UpNext, _) => (base + self.state.up_next, &mut self.state.up_next),
            (Pane::Main, View::Queue) => (self.state.queue, &mut self.state.queue),
            _ => return,
        };
        if let Some(moved) = self.controller.queue.move_entry(index, delta) {
            *selection = if self.state.pane == Pane::UpNext {
                moved - base
            } else {
                moved
            };
            self.controller.refresh_next();
        }
    }

    fn handle_mouse(&mut self, mouse: MouseEvent, area: ratatui::layout::Rect) -> bool {
        let layout = ui::layout(area, &self.state);
        let hit = |rect: ratatui::layout::Rect| {
            rect.width > 0
                && mouse.column >= rect.x
                && mouse.column < rect.x + rect.width
                && mouse.row > rect.y
                && mouse.row + 1 < rect.y + rect.height
        };
        let Some((pane, rect)) = layout.lists.iter().find(|(_, rect)| hit(*rect)).copied() else {
            return false;
        };
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.state.pane = pane;
                let queue_len = self.list_len_for(pane);
                let history_len = self.controller.history.len();
                let (selected, len) = self.state.selection_mut(queue_len, history_len);
                let offset = ui::scroll_offset(*selected, len, rect.height.saturating_sub(2) as usize);
                let row = offset + (mouse.row - rect.y - 1) as usize;
                if row < len {
                    let delta = row as isize - *selected as isize;
                    self.state.move_selection(delta, queue_len, history_len);
                }
                true
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                self.state.pane = pane;
                let delta = if mouse.kind == MouseEventKind::ScrollDown {
                    3
                } else {
                    -3
                };
                self.state
                    .move_selection(delta, self.list_len_for(pane), self.controller.history.len());
                true
            }
            _ => false,
        }
    }

    fn list_len_for(&self, pane: Pane) -> usize {
        if pane == Pane::Main && self.state.view == View::Queue {
            self.controller.queue.entries().len()
        } else {
            self.controller.queue.upcoming().len()
        }
    }

    /// Folds an engine event into playback state and the log.
    pub fn handle_engine(&mut self, event: &Event) {
        match self.controller.handle(event) {
            Ok(outcomes) => {
                for outcome in outcomes {
                    match outcome {
                        Outcome::TrackError(message) => self.state.status = Some(message),
                        Outcome::Logged(play) => {
                            if let (Some(autoplay), true) = (&self.autoplay, play.end_reason != EndReason::Error) {
                                autoplay.send(Request::Played(LoggedPlay {
                                    track_id: play.track_id,
                                    session_id: play.session_id,
                                    skipped: play.skipped,
                                    ts_ms: crate::db::now_ms(),
                                }));
                            }
                            self.request_rank();
                        }
                        Outcome::Stopped => {}
                    }
                }
            }
            Err(e) => self.state.status = Some(format!("cannot write the listening log: {e}")),
        }
        if matches!(event, Event::Started { .. }) {
            self.request_rank();
        }
    }

    /// Carries out a request from the desktop (media keys, widgets) through the controller.
    pub fn handle_mpris(&mut self, request: crate::mpris::Request) {
        match bridge::apply(&mut self.controller, request) {
            Applied::Quit => self.update(Action::Quit),
            Applied::Notice(message) => self.state.status = Some(message),
            Applied::Done => {}
        }
    }

    pub fn handle_worker(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::ScanProgress { done, total } => {
                self.state.progress = Some(Progress {
                    label: "scanning".into(),
                    done,
                    total,
                });
            }
            WorkerMsg::ScanDone { summary, problems } => {
                self.state.progress = None;
                let more = if problems > 0 {
                    format!(" ({problems} problems: see `skipless scan`)")
                } else {
                    String::new()
                };
                self.state.status = Some(format!("{summary}{more}"));
            }
            WorkerMsg::Library(library) => {
                self.state.set_library(library);
                if let Some(autoplay) = &self.autoplay {
                    autoplay.send(Request::Reload);
                }
            }
            WorkerMsg::Recommendations { seq, source, picks } => {
                if seq != self.rank_seq || !self.state.autoplay {
                    return;
                }
                let library = &self.state.library;
                self.controller
                    .set_autoplay_picks(source, &picks, |id| library.track(id).cloned());
            }
            WorkerMsg::ModelStatus(status) => self.state.model_status = status,
            WorkerMsg::TrainProgress { done, total } => {
                self.state.progress = Some(Progress {
                    label: "training".into(),
                    done,
                    total,
                });
            }
            WorkerMsg::TrainDone(message) => {
                self.state.progress = None;
                self.state.status = Some(message);
                self.request_rank();
            }
            WorkerMsg::ExportDone(path) => self.state.status = Some(format!("exported the log to {}", path.display())),
            WorkerMsg::Stats(stats) => self.state.stats = Some(stats),
            WorkerMsg::Error(message) => {
                self.state.progress = None;
                self.state.status = Some(message);
            }
        }
    }
}

/// `skipless [PATH...]`: the interactive player.
pub fn run(ctx: &RunContext, paths: Vec<PathBuf>) -> anyhow::Result<()> {
    ctx.paths.ensure_data_dir()?;
    let _lock = ctx.paths.lock_instance()?;
    let db_path = ctx.paths.database();
    let (engine, controller, notice) = super::start_playback(&ctx.config, &db_path)?;
    let mut app = App::new(ctx.config.clone(), db_path, controller)?;
    app.state.status = notice;
    app.load_library();
    app.start_autoplay(ctx.paths.models_dir());
    if !paths.is_empty() {
        app.scan(paths);
    }

    crate::cli::start_log_file(&ctx.paths.log_file());
    let mpris = Mpris::start(ctx.config.mpris.enabled, ctx.paths.cache_dir.clone());
    let mut terminal = ui::terminal::enter(ctx.paths.log_file())?;
    let input = ui::terminal::input_events();
    // Test hook: `SKIPLESS_TEST_PANIC=ui` or `=worker` panics on purpose after the first frame,
    // for the tests that check the terminal is restored. Nothing else reads it.
    let test_panic = std::env::var("SKIPLESS_TEST_PANIC").ok();
    if test_panic.as_deref() == Some("worker") {
        super::workers::spawn_test_panic(app.worker_tx.clone());
    }
    let result = event_loop(
        &mut terminal,
        &mut app,
        &engine,
        &input,
        mpris,
        test_panic.as_deref() == Some("ui"),
    );
    ui::terminal::leave();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    engine: &Engine,
    input: &Receiver<TermEvent>,
    mut mpris: Option<Mpris>,
    test_panic: bool,
) -> anyhow::Result<()> {
    let mut mpris_requests = mpris.as_ref().map_or_else(crossbeam_channel::never, Mpris::requests);
    let mut dirty = true;
    loop {
        if let Some(mpris) = mpris.as_mut() {
            mpris.publish(bridge::state_of(&app.controller));
        }
        if dirty {
            terminal.draw(|frame| ui::draw(frame, app))?;
            dirty = false;
            if test_panic {
                panic!("test panic in the UI thread (SKIPLESS_TEST_PANIC=ui)");
            }
        }
        // After quit, wait (briefly) for the engine to report the last play so it is logged.
        let deadline = if app.state.quitting {
            crossbeam_channel::after(Duration::from_secs(3))
        } else {
            crossbeam_channel::never()
        };
        // The D-Bus thread ends when there is no session bus; its channel then stays ready, so
        // it is swapped for one that never delivers.
        let mut mpris_gone = false;
        select! {
            recv(input) -> event => {
                let Ok(event) = event else { return Ok(()) };
                let area = terminal.get_frame().area();
                dirty = app.handle_terminal(event, area);
            }
            recv(engine.events) -> event => match event {
                Ok(event) => {
                    if let (Some(mpris), Event::Seeked { position_ms, .. }) = (&mpris, &event) {
                        mpris.seeked(*position_ms);
                    }
                    app.handle_engine(&event);
                    dirty = true;
                }
                // The engine thread has ended: after quit, that is the end.
                Err(_) => return Ok(()),
            },
            recv(app.worker_rx) -> msg => {
                if let Ok(msg) = msg {
                    app.handle_worker(msg);
                    dirty = true;
                }
            }
            recv(mpris_requests) -> request => match request {
                Ok(request) => {
                    app.handle_mpris(request);
                    dirty = true;
                }
                Err(_) => mpris_gone = true,
            },
            recv(deadline) -> _ => return Ok(()),
        }
        if mpris_gone {
            mpris = None;
            mpris_requests = crossbeam_channel::never();
        }
    }
}
