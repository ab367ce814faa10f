//! What the screen shows, apart from playback ([`State`], [`View`], [`Pane`], [`Search`]).
//! Pure data: the UI renders it, actions change it.

use std::ops::Range;

use crate::app::art::Picture;
use crate::app::library::{LibraryIndex, SavedEntry, SavedPlaylist, SortKey};
use crate::keymap::Action;
use crate::lyrics::Lyrics;
use crate::summary::Stats;
use crate::track::Track;

/// Screens narrower than this many columns have no side column (up next, the art), but the
/// lyrics while shown.
pub(crate) const NARROW_BELOW: u16 = 70;

/// Screens shorter than this many rows have no room for up next: the tab row, the now-playing
/// lines (3 on a short screen) and the status line leave the side column fewer than the three
/// rows of up next's frame and one entry.
pub(crate) const SHORT_BELOW: u16 = 8;

/// The main views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Library,
    Tracks,
    Queue,
    History,
    Stats,
    Playlists,
}

impl View {
    pub(crate) const ALL: [View; 6] = [
        View::Library,
        View::Tracks,
        View::Queue,
        View::History,
        View::Stats,
        View::Playlists,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            View::Library => "Library",
            View::Tracks => "Tracks",
            View::Queue => "Queue",
            View::History => "History",
            View::Stats => "Stats",
            View::Playlists => "Playlists",
        }
    }

    /// The action that opens the view, whose key the tab bar shows.
    pub(crate) fn action(self) -> Action {
        match self {
            View::Library => Action::ViewLibrary,
            View::Tracks => Action::ViewTracks,
            View::Queue => Action::ViewQueue,
            View::History => Action::ViewHistory,
            View::Stats => Action::ViewStats,
            View::Playlists => Action::ViewPlaylists,
        }
    }
}

/// The cover of one track as drawn for a size in cells (`picture: None`: it has none).
#[derive(Debug, Clone)]
pub struct ShownArt {
    pub track_id: i64,
    pub size: ratatui::layout::Size,
    pub picture: Option<Picture>,
}

/// The lyrics of one track (`None`: it has none) and the listener's timing shift for them.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackLyrics {
    pub track_id: i64,
    pub lyrics: Option<Lyrics>,
    pub shift_ms: i64,
}

/// What a playlist name is being typed for.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaylistTarget {
    /// Save the queue as a new playlist: these tracks, the queue without autoplay's picks still
    /// to come (a guess, not a choice).
    SaveQueue(Vec<Track>),
    /// Save the recent listens (view 4's plays not skipped, in play order) as a
    /// new playlist.
    SaveHistory(Vec<Track>),
    /// Add these tracks to the playlist named (a new name creates it).
    Add(Vec<Track>),
    /// Give the saved playlist of this name a new one.
    Rename(String),
}

/// The playlist name prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistPrompt {
    pub target: PlaylistTarget,
    pub name: String,
}

impl PlaylistPrompt {
    /// The saved playlists whose names start with what is typed, in any case as names are one
    /// in any case.
    pub fn matches<'a>(&self, playlists: &'a [SavedPlaylist]) -> Vec<&'a str> {
        playlists
            .iter()
            .filter(|p| !p.smart && crate::track::starts_with_name(&p.name, &self.name))
            .map(|p| p.name.as_str())
            .collect()
    }
}

/// Which list has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    Artists,
    Albums,
    /// The track list of the current view (library column, flat list, history, queue view).
    #[default]
    Main,
    /// The entries of the playlist selected in the Playlists view.
    Entries,
    /// The lyrics of the playing track, in place of the up-next pane while shown.
    Lyrics,
    /// The up-next pane on the right.
    UpNext,
}

/// Incremental search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search {
    pub query: String,
    /// Indices into the library's tracks, best match first.
    pub results: Vec<usize>,
    pub selected: usize,
    /// The number of the query the search thread was last asked, whose answer is awaited.
    pub generation: u64,
    /// The search thread is still going through the library for this query.
    pub searching: bool,
    /// Enter was pressed before the search thread answered: play the best match when it does.
    pub play_when_found: bool,
    /// The keys act on the selected result through the key map (like, queue, add to a
    /// playlist...) instead of typing.
    pub in_results: bool,
}

/// Progress of a background job shown as a gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub label: String,
    pub done: usize,
    pub total: usize,
}

/// The gauges of the background jobs that report progress: a scan's and a training run's, which
/// can run at once (a folder changed during a retrain) and end apart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    pub scan: Option<Progress>,
    pub training: Option<Progress>,
}

impl Gauges {
    /// The gauges to draw, the scan's first.
    pub fn shown(&self) -> impl Iterator<Item = &Progress> {
        self.scan.iter().chain(&self.training)
    }

    pub fn is_empty(&self) -> bool {
        self.scan.is_none() && self.training.is_none()
    }
}

#[derive(Debug, Default)]
pub struct State {
    pub view: View,
    pub pane: Pane,
    pub library: LibraryIndex,
    pub library_loaded: bool,
    pub artist: usize,
    pub album: usize,
    /// Selection in the library's track column.
    pub album_track: usize,
    pub sort: SortKey,
    /// The flat track list in the current sort order.
    pub sorted: Vec<usize>,
    pub track: usize,
    pub queue: usize,
    pub up_next: usize,
    pub history: usize,
    pub search: Option<Search>,
    pub help: bool,
    pub help_scroll: usize,
    /// The help's rows: one per action of the key map.
    pub help_rows: usize,
    /// The rows the list with the keyboard shows at a time, as the screen last laid it out:
    /// how far a page key moves.
    pub page_rows: usize,
    pub stats: Option<Stats>,
    /// The first line of the stats' lists shown (the view scrolls, it has nothing to select).
    pub stats_scroll: usize,
    /// The last line the stats' lists scroll to, as the screen last laid them out: the one that
    /// shows their end.
    pub stats_scroll_end: usize,
    /// The status line's message: set with [`State::say`], cleared with `None`.
    pub status: Option<String>,
    /// How many messages were said: one said again with the same text is still a new one.
    pub said: u64,
    pub gauges: Gauges,
    /// What feeds autoplay and the state of the model, for the status line.
    pub model_status: String,
    pub autoplay: bool,
    pub quitting: bool,
    /// What the event loop is to do with the terminal itself before the next frame.
    pub terminal_request: Option<TerminalRequest>,
    /// A ban waiting for the listener's yes (`y`); any other key cancels it.
    pub confirm_ban: Option<Track>,
    /// A saved playlist waiting for `y` to be deleted.
    pub confirm_delete: Option<String>,
    /// The saved playlists, as a worker last read them.
    pub playlists: Vec<SavedPlaylist>,
    /// The new name of a playlist being renamed, to select once the list is read again.
    pub renamed_playlist: Option<String>,
    pub playlist: usize,
    /// The selected entry of that playlist.
    pub playlist_entry: usize,
    /// The playing track's cover, once a worker has drawn it.
    pub art: Option<ShownArt>,
    /// Whether the lyrics pane is shown (`l`).
    pub show_lyrics: bool,
    /// The screen is too narrow for the side column ([`NARROW_BELOW`]) or too short for up next
    /// ([`SHORT_BELOW`]): up next is not drawn, so the keys cannot be on it.
    pub no_up_next: bool,
    /// The lyrics of a track as a worker last read them.
    pub lyrics: Option<TrackLyrics>,
    /// The first line shown of plain lyrics, scrolled by hand.
    pub lyrics_scroll: usize,
    /// The last line plain lyrics scroll to, as the screen last laid them out: the one that
    /// shows their end (scrolling further would move nothing).
    pub lyrics_scroll_end: usize,
    /// The playlist name being typed (Enter goes ahead, Esc cancels).
    pub naming_playlist: Option<PlaylistPrompt>,
}

impl State {
    /// Whether the status line asks a question the next key answers (a ban, a deletion).
    pub fn awaiting_answer(&self) -> bool {
        self.confirm_ban.is_some() || self.confirm_delete.is_some()
    }

    /// Shows `message` on the status line, for its while from now.
    pub(crate) fn say(&mut self, message: impl Into<String>) {
        self.status = Some(message.into());
        self.said += 1;
    }

    /// Installs a freshly loaded library. The selected artist, album and tracks stay selected
    /// where the new library still has them (files added by the watcher move the rows under
    /// them), else the selections stay in range.
    pub fn set_library(&mut self, library: LibraryIndex) {
        let artist = self.library.artists.get(self.artist).map(|a| a.name.clone());
        let album = self.album_selected().map(|al| al.name.clone());
        let album_track = self.track_id_at(self.album_tracks().nth(self.album_track));
        let track = self.track_id_at(self.sorted.get(self.track).copied());
        self.sorted = library.sorted(self.sort);
        self.library = library;
        self.library_loaded = true;
        if let Some(at) = artist.and_then(|name| self.library.artists.iter().position(|a| a.name == name)) {
            self.artist = at;
            self.album = album
                .and_then(|name| self.library.artists[at].albums.iter().position(|al| al.name == name))
                .unwrap_or(0);
            self.album_track = self.row_of(album_track, self.album_tracks()).unwrap_or(0);
        }
        if let Some(row) = self.row_of(track, self.sorted.iter().copied()) {
            self.track = row;
        }
        self.clamp();
    }

    /// Orders the track list by the next key; the selected track stays selected.
    pub(crate) fn cycle_sort(&mut self) {
        let track = self.track_id_at(self.sorted.get(self.track).copied());
        self.sort = self.sort.cycle();
        self.sorted = self.library.sorted(self.sort);
        self.track = self.row_of(track, self.sorted.iter().copied()).unwrap_or(0);
    }

    fn album_selected(&self) -> Option<&crate::app::library::Album> {
        self.library.artists.get(self.artist)?.albums.get(self.album)
    }

    /// The id of the track at `index` in the library.
    fn track_id_at(&self, index: Option<usize>) -> Option<i64> {
        index.and_then(|i| self.library.tracks.get(i)).map(|t| t.id)
    }

    /// The row of track `id` in a list of library indices.
    fn row_of(&self, id: Option<i64>, rows: impl Iterator<Item = usize>) -> Option<usize> {
        let at = self.library.position(id?)?;
        rows.into_iter().position(|i| i == at)
    }

    /// Track indices of the selected artist.
    pub(crate) fn artist_tracks(&self) -> Vec<usize> {
        self.library
            .artists
            .get(self.artist)
            .map(|a| a.albums.iter().flat_map(|al| al.tracks.clone()).collect())
            .unwrap_or_default()
    }

    /// Track indices of the selected album.
    pub(crate) fn album_tracks(&self) -> Range<usize> {
        self.library
            .artists
            .get(self.artist)
            .and_then(|a| a.albums.get(self.album))
            .map_or(0..0, |al| al.tracks.clone())
    }

    /// Moves the selection of the list with the keyboard by `delta` (clamped).
    pub(crate) fn move_selection(&mut self, delta: isize, queue_len: usize, history_len: usize) {
        let (selected, len) = self.selection_mut(queue_len, history_len);
        if len == 0 {
            *selected = 0;
            return;
        }
        *selected = selected.saturating_add_signed(delta).min(len - 1);
        self.after_selection_change();
    }

    /// Puts the selection at the top (`false`) or bottom (`true`) of its list.
    pub(crate) fn jump(&mut self, bottom: bool, queue_len: usize, history_len: usize) {
        let (selected, len) = self.selection_mut(queue_len, history_len);
        *selected = if bottom { len.saturating_sub(1) } else { 0 };
        self.after_selection_change();
    }

    /// The selection and length of the list that has the keyboard.
    pub(crate) fn selection_mut(&mut self, queue_len: usize, history_len: usize) -> (&mut usize, usize) {
        let len = self.selection_len(queue_len, history_len);
        let selected = if self.help {
            &mut self.help_scroll
        } else if let Some(search) = self.search.as_mut() {
            &mut search.selected
        } else {
            match (self.pane, self.view) {
                (Pane::UpNext, _) => &mut self.up_next,
                (Pane::Entries, _) => &mut self.playlist_entry,
                (Pane::Lyrics, _) => &mut self.lyrics_scroll,
                (Pane::Artists, _) => &mut self.artist,
                (Pane::Albums, _) => &mut self.album,
                (Pane::Main, View::Library) => &mut self.album_track,
                (Pane::Main, View::Tracks) => &mut self.track,
                (Pane::Main, View::Queue) => &mut self.queue,
                (Pane::Main, View::History) => &mut self.history,
                (Pane::Main, View::Stats) => &mut self.stats_scroll,
                (Pane::Main, View::Playlists) => &mut self.playlist,
            }
        };
        (selected, len)
    }

    fn selection_len(&self, queue_len: usize, history_len: usize) -> usize {
        if self.help {
            return self.help_rows;
        }
        if let Some(search) = &self.search {
            return search.results.len();
        }
        match (self.pane, self.view) {
            (Pane::UpNext, _) => queue_len,
            (Pane::Entries, _) => self.playlists.get(self.playlist).map_or(0, |p| p.entries.len()),
            (Pane::Lyrics, _) => self
                .lyrics
                .as_ref()
                .and_then(|l| l.lyrics.as_ref())
                .map_or(0, |l| l.lines.len().min(self.lyrics_scroll_end + 1)),
            (Pane::Artists, _) => self.library.artists.len(),
            (Pane::Albums, _) => self.library.artists.get(self.artist).map_or(0, |a| a.albums.len()),
            (Pane::Main, View::Library) => self.album_tracks().len(),
            (Pane::Main, View::Tracks) => self.sorted.len(),
            (Pane::Main, View::Queue) => queue_len,
            (Pane::Main, View::History) => history_len,
            (Pane::Main, View::Stats) => self
                .stats
                .as_ref()
                .map_or(0, |stats| stats_list_lines(stats).min(self.stats_scroll_end + 1)),
            (Pane::Main, View::Playlists) => self.playlists.len(),
        }
    }

    /// The panes that Tab cycles through in the current view; the lyrics, while shown, take
    /// the up-next pane's place, and a narrow screen has no up-next pane.
    pub(crate) fn panes(&self) -> &'static [Pane] {
        match (self.view, self.show_lyrics, self.no_up_next) {
            (View::Library, false, false) => &[Pane::Artists, Pane::Albums, Pane::Main, Pane::UpNext],
            (View::Library, false, true) => &[Pane::Artists, Pane::Albums, Pane::Main],
            (View::Library, true, _) => &[Pane::Artists, Pane::Albums, Pane::Main, Pane::Lyrics],
            (View::Playlists, false, false) => &[Pane::Main, Pane::Entries, Pane::UpNext],
            (View::Playlists, false, true) => &[Pane::Main, Pane::Entries],
            (View::Playlists, true, _) => &[Pane::Main, Pane::Entries, Pane::Lyrics],
            (_, false, false) => &[Pane::Main, Pane::UpNext],
            (_, false, true) => &[Pane::Main],
            (_, true, _) => &[Pane::Main, Pane::Lyrics],
        }
    }

    /// Takes the screen's size (before each frame): a resize that hides the pane with the keys
    /// gives them to the main list.
    pub(crate) fn set_screen_size(&mut self, width: u16, height: u16) {
        self.no_up_next = width < NARROW_BELOW || height < SHORT_BELOW;
        if !self.panes().contains(&self.pane) {
            self.pane = Pane::Main;
        }
    }

    /// Shows or hides the lyrics pane, keeping the keyboard on a pane that is there.
    pub(crate) fn toggle_lyrics(&mut self) {
        self.show_lyrics = !self.show_lyrics;
        if !self.panes().contains(&self.pane) {
            self.pane = Pane::Main;
        }
    }

    pub(crate) fn cycle_pane(&mut self, forward: bool) {
        let panes = self.panes();
        let at = panes.iter().position(|p| *p == self.pane).unwrap_or(0);
        let next = if forward {
            (at + 1) % panes.len()
        } else {
            (at + panes.len() - 1) % panes.len()
        };
        self.pane = panes[next];
    }

    /// Shows `view`. Another view takes the keys to its own lists, off the up-next or lyrics pane
    /// beside them: the keys of a view just opened act on what it shows.
    pub(crate) fn set_view(&mut self, view: View) {
        let another = self.view != view;
        self.view = view;
        self.search = None;
        let beside = matches!(self.pane, Pane::UpNext | Pane::Lyrics);
        if (another && beside) || !self.panes().contains(&self.pane) {
            self.pane = Pane::Main;
        }
        if view == View::Library && self.pane == Pane::Main && self.album_tracks().is_empty() {
            self.pane = Pane::Artists;
        }
        // Plays went on while it was not shown: it opens on the newest.
        if another && view == View::History {
            self.history = 0;
        }
    }

    /// Resets what depends on the moved selection: the albums under a new artist, the tracks
    /// under a new album, the entries of a new playlist. Moving in the search results or the
    /// help moves none of those.
    fn after_selection_change(&mut self) {
        if self.search.is_some() || self.help {
            return;
        }
        match self.pane {
            Pane::Artists => {
                self.album = 0;
                self.album_track = 0;
            }
            Pane::Albums => self.album_track = 0,
            Pane::Main if self.view == View::Playlists => self.playlist_entry = 0,
            _ => {}
        }
    }

    /// Selects the playing track (`track_id`, at `cursor` in the queue) in the list of the current
    /// view: its row in the library's panes, the track list, the queue, a search's results or
    /// the selected playlist. Says why not when nothing plays or the view does not list it.
    pub(crate) fn select_playing(&mut self, track_id: Option<i64>, cursor: Option<usize>) -> Result<(), &'static str> {
        let Some(track_id) = track_id else {
            return Err("nothing is playing");
        };
        let place = self.library.position(track_id);
        if let Some(search) = self.search.as_mut() {
            let at = place.and_then(|place| search.results.iter().position(|&i| i == place));
            search.selected = at.ok_or("the playing track is not among the results")?;
            return Ok(());
        }
        match self.view {
            View::Library => {
                let place = place.ok_or("the playing track is not in the library")?;
                for (a, artist) in self.library.artists.iter().enumerate() {
                    if let Some(b) = artist.albums.iter().position(|album| album.tracks.contains(&place)) {
                        self.artist = a;
                        self.album = b;
                        self.album_track = place - artist.albums[b].tracks.start;
                        self.pane = Pane::Main;
                        return Ok(());
                    }
                }
                Err("the playing track is not in the library")
            }
            View::Tracks => {
                let place = place.ok_or("the playing track is not in the library")?;
                self.track = self
                    .sorted
                    .iter()
                    .position(|&i| i == place)
                    .ok_or("the playing track is not in the library")?;
                self.pane = Pane::Main;
                Ok(())
            }
            View::Queue => {
                self.queue = cursor.ok_or("the playing track is not in the queue")?;
                self.pane = Pane::Main;
                Ok(())
            }
            View::Playlists => {
                let playlist = self.playlists.get(self.playlist).ok_or("no playlist is selected")?;
                self.playlist_entry = playlist
                    .entries
                    .iter()
                    .position(|entry| *entry == SavedEntry::Track(track_id))
                    .ok_or("the playing track is not in this playlist")?;
                self.pane = Pane::Entries;
                Ok(())
            }
            View::History | View::Stats => Err("this view does not list the playing track (views 1, 2, 3 and 6 do)"),
        }
    }

    /// Keeps the selections of up next, the queue view and the history on a row after the lists
    /// changed under them (a track ended, autoplay's picks arrived, an entry was removed).
    pub(crate) fn follow_lists(&mut self, upcoming: usize, entries: usize, history: usize) {
        self.up_next = self.up_next.min(upcoming.saturating_sub(1));
        self.queue = self.queue.min(entries.saturating_sub(1));
        self.history = self.history.min(history.saturating_sub(1));
    }

    fn clamp(&mut self) {
        let artists = self.library.artists.len();
        self.artist = self.artist.min(artists.saturating_sub(1));
        let albums = self.library.artists.get(self.artist).map_or(0, |a| a.albums.len());
        self.album = self.album.min(albums.saturating_sub(1));
        self.album_track = self.album_track.min(self.album_tracks().len().saturating_sub(1));
        self.track = self.track.min(self.sorted.len().saturating_sub(1));
    }
}

/// The lines of the stats view's lists: a heading and the rows of each of top tracks, top
/// artists and most skipped, then the training runs (or the line saying there are none).
pub(crate) fn stats_list_lines(stats: &Stats) -> usize {
    4 + stats.top_tracks.len() + stats.top_artists.len() + stats.most_skipped.len() + stats.training_runs.len().max(1)
}

/// Work on the terminal that only the event loop, which holds it, can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalRequest {
    /// Give the terminal back to the shell and stop until continued (`fg`).
    Suspend,
    /// Clear the screen and draw every cell again.
    Redraw,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Below the width of the side column, up next is not drawn: Tab passes it by, and a resize
    /// that hides it while it has the keys gives them to the main list (a `d` there would remove
    /// a track no one sees).
    #[test]
    fn a_narrow_screen_keeps_the_keys_off_the_up_next_pane_it_does_not_draw() {
        let mut state = State::default();
        state.set_view(View::Queue);
        state.set_screen_size(100, 30);
        state.cycle_pane(true);
        assert_eq!(state.pane, Pane::UpNext);
        state.set_screen_size(60, 30);
        assert_eq!(state.pane, Pane::Main);
        state.cycle_pane(true);
        assert_eq!(state.pane, Pane::Main);
        // The lyrics are drawn on a narrow screen, at half its width.
        state.toggle_lyrics();
        state.cycle_pane(true);
        assert_eq!(state.pane, Pane::Lyrics);
        state.toggle_lyrics();
        state.set_screen_size(NARROW_BELOW, 30);
        state.cycle_pane(true);
        assert_eq!(state.pane, Pane::UpNext);
        // A short screen does the same.
        state.set_screen_size(100, SHORT_BELOW - 1);
        assert_eq!(state.pane, Pane::Main);
        state.cycle_pane(true);
        assert_eq!(state.pane, Pane::Main);
    }
}
