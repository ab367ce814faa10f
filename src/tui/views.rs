//! The panes of the screen, each drawn from the app's state.

use std::time::Duration;

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, Paragraph, Wrap};
use ratatui::Frame;

use super::render::{help_area, scroll_offset, ScreenLayout, Theme};
use super::state::{Pane, PlaylistTarget, Progress, View};
use super::App;
use crate::app::library::SavedEntry;
use crate::fmt::{format_duration, format_shift, truncate, width as text_width};
use crate::keymap::Action;
use crate::lyrics::LyricLine;
use crate::marks::Marks;
use crate::play::{EndReason, PlaySource};
use crate::track::{same_name, Track};

pub(crate) fn tabs(frame: &mut Frame, area: Rect, app: &App) {
    let (help, [left, right]) = tab_bar_areas(area, app);
    let spans: Vec<Span> = tab_spans(left.width, app).into_iter().map(|(_, span)| span).collect();
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(
        Paragraph::new(help).style(app.theme.dim).alignment(Alignment::Right),
        right,
    );
}

/// The help hint at the right of the tab bar, and the bar's two parts: the views, the hint.
fn tab_bar_areas(area: Rect, app: &App) -> (String, [Rect; 2]) {
    let help = app.keys.hint(Action::Help, "help ").unwrap_or_default();
    let width = text_width(&help) as u16;
    (
        help,
        Layout::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(area),
    )
}

/// What a click on the tab bar at `column` asks for: a view, or the help (`Action::Help`).
pub(crate) fn tab_at(area: Rect, column: u16, app: &App) -> Option<Action> {
    let (_, [left, right]) = tab_bar_areas(area, app);
    if column >= right.x {
        return Some(Action::Help);
    }
    let mut x = left.x;
    for (view, span) in tab_spans(left.width, app) {
        x += span.width() as u16;
        if column < x {
            return view.map(|v| v.action());
        }
    }
    None
}

/// The tab bar's pieces in a room of `room` columns, each with the view it opens (none for the
/// program's name).
fn tab_spans(room: u16, app: &App) -> Vec<(Option<View>, Span<'static>)> {
    let theme = &app.theme;
    // Each view shows the key that opens it. Where the names do not all fit beside the help
    // hint, the other views keep only their keys; a view left without a key keeps its name.
    let label = |view: &View, named: bool| match (app.keys.first_key(view.action()), named) {
        (Some(key), true) => format!(" {key} {} ", view.title()),
        (Some(key), false) => format!(" {key} "),
        (None, _) => format!(" {} ", view.title()),
    };
    let widths = |name_all: bool| -> usize {
        View::ALL
            .iter()
            .map(|v| text_width(&label(v, name_all || *v == app.state.view)))
            .sum()
    };
    const BRAND: &str = " skipless ";
    let room = room as usize;
    let name_all = BRAND.len() + widths(true) <= room;
    // The program's name goes first when even the numbers leave it no room.
    let mut spans = if BRAND.len() + widths(name_all) <= room {
        vec![(None, Span::styled(BRAND, theme.accent))]
    } else {
        Vec::new()
    };
    for view in View::ALL {
        let current = view == app.state.view;
        let style = if current { theme.selection } else { Style::new() };
        spans.push((Some(view), Span::styled(label(&view, name_all || current), style)));
    }
    spans
}

fn block<'a>(title: String, focused: bool, app: &App) -> Block<'a> {
    let style = if focused { app.theme.accent } else { app.theme.dim };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(title, style))
}

/// A bordered list drawn a window at a time: its title, whether it has the keyboard, its length and the
/// selected row.
struct ListWindow {
    title: String,
    focused: bool,
    len: usize,
    selected: usize,
}

fn windowed_list(frame: &mut Frame, area: Rect, list: ListWindow, row: impl Fn(usize) -> Line<'static>, app: &App) {
    let ListWindow {
        title,
        focused,
        len,
        selected,
    } = list;
    let height = area.height.saturating_sub(2) as usize;
    let offset = scroll_offset(selected, len, height);
    let items: Vec<ListItem> = (offset..len.min(offset + height))
        .map(|i| {
            let line = row(i);
            if i == selected && focused {
                // Every piece of the row takes the selection's colours: a dim album or a red
                // "skip" kept on the selection's background would be unreadable.
                let spans = line.spans.into_iter().map(|span| {
                    let style = span.style.patch(app.theme.selection);
                    span.style(style)
                });
                ListItem::new(Line::from(spans.collect::<Vec<_>>())).style(app.theme.selection)
            } else if i == selected {
                ListItem::new(line).style(Style::new().add_modifier(Modifier::BOLD))
            } else {
                ListItem::new(line)
            }
        })
        .collect();
    frame.render_widget(List::new(items).block(block(title, focused, app)), area);
}
/// "♥ " before a liked track, "⊘ " before a banned one.
fn mark_of(track_id: i64, marks: &Marks) -> &'static str {
    if marks.is_banned(track_id) {
        "⊘ "
    } else if marks.is_liked(track_id) {
        "♥ "
    } else {
        ""
    }
}

/// The end of `text` that fits in `width` columns: where a line being typed grows.
fn tail(text: &str, width: usize) -> String {
    let mut start = text.len();
    for (at, _) in text.char_indices().rev() {
        if text_width(&text[at..]) > width {
            break;
        }
        start = at;
    }
    text[start..].to_owned()
}

/// How a list draws its tracks: the marks beside them, the playing one in the accent.
struct TrackRows<'a> {
    marks: &'a Marks,
    playing: Option<i64>,
    theme: &'a Theme,
}

/// Below this many columns for the name and the album together, a row shows no album.
const ALBUM_FROM_WIDTH: usize = 30;

/// The fewest columns an album is shown in, " · " and "…" included.
const ALBUM_SHOWN_FROM: usize = 7;

impl<'a> TrackRows<'a> {
    fn of(app: &'a App) -> Self {
        TrackRows {
            marks: &app.state.library.marks,
            playing: app.controller.now.as_ref().map(|now| now.entry.track.id),
            theme: &app.theme,
        }
    }

    /// The playing track's name in the accent, the others plain.
    fn name_style(&self, track: &Track) -> Style {
        if self.playing == Some(track.id) {
            self.theme.accent
        } else {
            Style::new()
        }
    }

    /// "Artist – Title · Album" and the length in the row's last columns, `width` in all. The
    /// album tells two songs of one title apart. The name comes first: the album has the room it
    /// leaves, when that is a few columns; each cut is marked with "…". A name too long for the
    /// row cuts its artist first, so that the title, which tells the song, keeps at least three
    /// fifths of the row.
    fn line(&self, track: &Track, width: usize) -> Line<'static> {
        let name = match &track.artist {
            Some(artist) => {
                let room = self.name_room(track, width);
                let title_room = text_width(&track.title).min(room * 3 / 5);
                let artist = truncate(artist, room.saturating_sub(title_room + 3).max(1));
                format!("{artist} – {}", track.title)
            }
            None => track.title.clone(),
        };
        self.row(track, &name, track.album.as_deref(), width)
    }

    /// The columns a row `width` wide leaves for `track`'s name: those before its length and its
    /// mark.
    fn name_room(&self, track: &Track, width: usize) -> usize {
        let duration = track.duration_ms.map(format_duration).unwrap_or_default();
        width.saturating_sub(duration.len() + 1 + text_width(mark_of(track.id, self.marks)))
    }

    /// "Title – Artist" and the length, for the narrow side column: a cut there leaves the title,
    /// which tells the song, where "Artist – Ti…" would leave a column of artists.
    fn title_first(&self, track: &Track, width: usize) -> Line<'static> {
        let name = match &track.artist {
            Some(artist) => format!("{} – {artist}", track.title),
            None => track.title.clone(),
        };
        self.row(track, &name, None, width)
    }

    /// A row of `track` named `name`, with `album` where it fits (see [`TrackRows::line`]).
    fn row(&self, track: &Track, name: &str, album: Option<&str>, width: usize) -> Line<'static> {
        let duration = track.duration_ms.map(format_duration).unwrap_or_default();
        let room = width.saturating_sub(duration.len() + 1);
        let name = format!("{}{name}", mark_of(track.id, self.marks));
        let left = room.saturating_sub(text_width(&name) + 3);
        let album = match album {
            Some(album) if room >= ALBUM_FROM_WIDTH && left + 3 >= ALBUM_SHOWN_FROM => {
                Some(format!(" · {}", truncate(album, left)))
            }
            _ => None,
        };
        let name = truncate(&name, room);
        let used = text_width(&name) + album.as_deref().map_or(0, text_width);
        let pad = width.saturating_sub(used + duration.len());
        let mut spans = vec![Span::styled(name, self.name_style(track))];
        if let Some(album) = album {
            spans.push(Span::styled(album, self.theme.dim));
        }
        spans.push(Span::raw(format!("{}{duration}", " ".repeat(pad))));
        Line::from(spans)
    }
}

/// The main area: the search results, a loading or empty-library notice, or the current view.
pub(crate) fn main(frame: &mut Frame, layout: &ScreenLayout, app: &App) {
    let s = &app.state;
    let lib = &s.library;
    if let Some(search) = &s.search {
        let [input, results] = super::render::search_areas(layout.main);
        // A query longer than the box shows its end, where the typing is.
        let shown = tail(&search.query, (input.width as usize).saturating_sub(4));
        let text = Line::from(vec![
            Span::styled("/", app.theme.accent),
            Span::raw(shown),
            Span::raw(if search.in_results { "" } else { "▏" }),
        ]);
        let title = if search.in_results {
            "Search · keys act on the result (Tab: type, Esc: leave)"
        } else {
            "Search (Tab: act on the results, Esc: leave)"
        };
        let paragraph = Paragraph::new(text);
        frame.render_widget(
            if input.height >= 3 {
                paragraph.block(block(title.into(), !search.in_results, app))
            } else {
                paragraph
            },
            input,
        );
        let width = results.width.saturating_sub(2) as usize;
        let rows = TrackRows::of(app);
        let found = match search.results.len() {
            1 => "1 match".to_owned(),
            n => format!("{n} matches"),
        };
        let title = if search.searching {
            format!("{found} so far, searching…")
        } else {
            found
        };
        windowed_list(
            frame,
            results,
            ListWindow {
                title,
                focused: true,
                len: search.results.len(),
                selected: search.selected,
            },
            |i| rows.line(&lib.tracks[search.results[i]], width),
            app,
        );
        return;
    }
    if !s.library_loaded {
        frame.render_widget(
            Paragraph::new("Loading the library…").block(block(s.view.title().into(), true, app)),
            layout.main,
        );
        return;
    }
    if lib.tracks.is_empty() && matches!(s.view, View::Library | View::Tracks) {
        let text = if s.gauges.scan.is_some() {
            "Scanning the library…"
        } else if lib.roots.is_empty() {
            "No library folders yet.\n\nStart skipless with a music folder:\n  skipless ~/Music\nor add one with:\n  skipless roots add ~/Music"
        } else {
            "No tracks yet: the library's folders hold no MP3, FLAC, Ogg, Opus, M4A, WAV or AIFF files.\n\nStart skipless with a music folder:\n  skipless ~/Music\nor index one with:\n  skipless scan ~/Music"
        };
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .block(block(s.view.title().into(), true, app)),
            layout.main,
        );
        return;
    }
    match s.view {
        View::Library => library_view(frame, layout, app),
        View::Tracks => tracks_view(frame, layout, app),
        View::Queue => queue_view(frame, layout, app),
        View::History => history_view(frame, layout, app),
        View::Stats => stats(frame, layout.main, app),
        View::Playlists => playlists_view(frame, layout, app),
    }
}

/// The Playlists view: every saved playlist, with how many of its files the library has, and
/// the entries of the selected one.
fn playlists_view(frame: &mut Frame, layout: &ScreenLayout, app: &App) {
    let s = &app.state;
    let list_width = layout.area_of(Pane::Main).width.saturating_sub(2) as usize;
    let keys = [(Action::Play, "plays"), (Action::SavePlaylist, "saves the queue")]
        .into_iter()
        .filter_map(|(action, does)| app.keys.hint(action, does));
    let title = fitting_title(format!("Playlists ({})", s.playlists.len()), keys, list_width);
    windowed_list(
        frame,
        layout.area_of(Pane::Main),
        ListWindow {
            title,
            focused: s.pane == Pane::Main,
            len: s.playlists.len(),
            selected: s.playlist,
        },
        |i| {
            let playlist = &s.playlists[i];
            let missing = playlist
                .entries
                .iter()
                .filter(|e| matches!(e, SavedEntry::Missing(_)))
                .count();
            let total = playlist.entries.len() as u64;
            let tracks = crate::fmt::count(total, "track");
            let counts = if missing > 0 {
                [
                    format!(" {tracks}, {missing} missing"),
                    format!(" {total}, {missing} missing"),
                ]
            } else {
                [format!(" {tracks}"), format!(" {total}")]
            };
            let (name, smart, count) = playlist_row(&playlist.name, playlist.smart, counts, list_width);
            let pad = list_width.saturating_sub(text_width(&name) + smart.len() + text_width(&count));
            Line::from(vec![
                Span::raw(name),
                Span::styled(smart, app.theme.accent),
                Span::raw(" ".repeat(pad)),
                Span::styled(count, app.theme.dim),
            ])
        },
        app,
    );

    let area = layout.area_of(Pane::Entries);
    let width = area.width.saturating_sub(2) as usize;
    let rows = TrackRows::of(app);
    let entries = s
        .playlists
        .get(s.playlist)
        .map(|p| p.entries.as_slice())
        .unwrap_or_default();
    let title = match s.playlists.get(s.playlist) {
        Some(p) if p.smart => format!("{} (read-only)", p.name),
        Some(p) => {
            let moves = match (app.keys.first_key(Action::MoveUp), app.keys.first_key(Action::MoveDown)) {
                (Some(up), Some(down)) => Some(format!("{up}/{down} move")),
                (up, down) => up.or(down).map(|key| format!("{key} moves")),
            };
            let keys = app.keys.hint(Action::Remove, "removes").into_iter().chain(moves);
            fitting_title(p.name.clone(), keys, width)
        }
        None => "Entries".into(),
    };
    windowed_list(
        frame,
        area,
        ListWindow {
            title,
            focused: s.pane == Pane::Entries,
            len: entries.len(),
            selected: s.playlist_entry,
        },
        |i| match &entries[i] {
            SavedEntry::Track(id) => match s.library.track(*id) {
                Some(t) => rows.line(t, width),
                None => Line::styled(format!("track {id}"), app.theme.dim),
            },
            SavedEntry::Missing(label) => {
                Line::styled(truncate(&format!("{label} (not in the library)"), width), app.theme.dim)
            }
        },
        app,
    );
}

/// A pane's title: `name`, then `hints` in their order for as long as each fits whole in `width`
/// columns, so that a narrow pane shows whole hints (the help has them all), not one cut in the
/// middle, and never a later hint without the ones before it.
fn fitting_title(name: String, hints: impl IntoIterator<Item = String>, width: usize) -> String {
    let mut title = name;
    for hint in hints {
        if text_width(&title) + 3 + text_width(&hint) > width {
            break;
        }
        title = format!("{title} · {hint}");
    }
    title
}

/// The Library view: artists, their albums, the album's tracks.
fn library_view(frame: &mut Frame, layout: &ScreenLayout, app: &App) {
    let s = &app.state;
    let lib = &s.library;
    let artists = &lib.artists;
    let inner_width = |pane| layout.area_of(pane).width.saturating_sub(2) as usize;
    let (artist_width, album_width) = (inner_width(Pane::Artists), inner_width(Pane::Albums));
    windowed_list(
        frame,
        layout.area_of(Pane::Artists),
        ListWindow {
            title: format!("Artists ({})", artists.len()),
            focused: s.pane == Pane::Artists,
            len: artists.len(),
            selected: s.artist,
        },
        |i| Line::from(truncate(&artists[i].name, artist_width)),
        app,
    );
    let albums = artists.get(s.artist).map(|a| a.albums.as_slice()).unwrap_or_default();
    windowed_list(
        frame,
        layout.area_of(Pane::Albums),
        ListWindow {
            title: "Albums".into(),
            focused: s.pane == Pane::Albums,
            len: albums.len(),
            selected: s.album,
        },
        // The year first, so a discography reads down one column.
        |i| {
            let album = &albums[i];
            Line::from(match album.year {
                Some(year) => truncate(&format!("{year} {}", album.name), album_width),
                None => truncate(&album.name, album_width),
            })
        },
        app,
    );
    let tracks = s.album_tracks();
    let album = &lib.tracks[tracks.clone()];
    // An album of several discs numbers its tracks by disc ("2- 1."), and a compilation names
    // each track's artist, which the artist pane beside it does not.
    let several_discs = album.first().is_some_and(|first| {
        album
            .iter()
            .any(|t| t.disc_no.unwrap_or(1) != first.disc_no.unwrap_or(1))
    });
    let rows = TrackRows::of(app);
    let area = layout.area_of(Pane::Main);
    let width = area.width.saturating_sub(2) as usize;
    windowed_list(
        frame,
        area,
        ListWindow {
            title: "Tracks".into(),
            focused: s.pane == Pane::Main,
            len: tracks.len(),
            selected: s.album_track,
        },
        |i| {
            let t = &album[i];
            let number = match (t.track_no, several_discs) {
                (Some(n), true) => format!("{}-{n:>2}. ", t.disc_no.unwrap_or(1)),
                (Some(n), false) => format!("{n:>2}. "),
                (None, _) => String::new(),
            };
            let by_another = t.artist.as_deref().filter(|artist| {
                t.album_artist
                    .as_deref()
                    .is_some_and(|album_artist| !same_name(album_artist, artist))
            });
            let name = match by_another {
                Some(artist) => format!("{number}{} – {artist}", t.title),
                None => format!("{number}{}", t.title),
            };
            // The album is the pane beside it.
            rows.row(t, &name, None, width)
        },
        app,
    );
}

/// The Tracks view: every track, sorted, with its plays and skip rate.
fn tracks_view(frame: &mut Frame, layout: &ScreenLayout, app: &App) {
    let s = &app.state;
    let lib = &s.library;
    let width = layout.main.width.saturating_sub(2) as usize;
    let rows = TrackRows::of(app);
    let sort_key = app
        .keys
        .first_key(Action::Sort)
        .map_or_else(String::new, |key| format!(" ({key})"));
    let title = format!("Tracks ({}) · sorted by {}{sort_key}", s.sorted.len(), s.sort.label());
    windowed_list(
        frame,
        layout.main,
        ListWindow {
            title,
            focused: s.pane == Pane::Main,
            len: s.sorted.len(),
            selected: s.track,
        },
        |i| {
            let t = &lib.tracks[s.sorted[i]];
            let plays = lib.plays_of(t.id);
            // A track never played has no skip rate, which 0 % would claim.
            let stats = match plays.plays {
                0 => format!(" {:>3}× {:>4}⤼", 0, "—"),
                n => format!(" {n:>3}× {:>3.0}%⤼", plays.skip_rate() * 100.0),
            };
            let mut line = rows.line(t, width.saturating_sub(text_width(&stats)));
            line.spans.push(Span::styled(stats, app.theme.dim));
            line
        },
        app,
    );
}

/// Columns a playlist's name keeps before its count gives way to it.
const PLAYLIST_NAME_ROOM: usize = 12;

/// A Playlists row in `width` columns: (name, " (smart)" or "", count). The name comes first,
/// then "(smart)", then the count in the row's last columns, in the first of its forms (`counts`,
/// long then short) that fits. "(smart)" gives way first; then the long count to the short one;
/// then the name is cut with "…" to keep a count, down to [`PLAYLIST_NAME_ROOM`] columns; in a
/// narrower row the count gives way too. Nothing is cut into another.
fn playlist_row(name: &str, smart: bool, counts: [String; 2], width: usize) -> (String, &'static str, String) {
    let name_width = text_width(name);
    let smart = if smart { " (smart)" } else { "" };
    let [long, short] = counts.map(|count| (text_width(&count), count));
    if name_width + smart.len() + long.0 <= width {
        return (name.to_owned(), smart, long.1);
    }
    for (count_width, count) in [&long, &short] {
        if name_width + count_width <= width {
            return (name.to_owned(), "", count.clone());
        }
    }
    for (count_width, count) in [long, short] {
        if width >= PLAYLIST_NAME_ROOM + count_width {
            return (truncate(name, width - count_width), "", count);
        }
    }
    (truncate(name, width), "", String::new())
}

/// The Queue view: every entry, the playing one marked, each with its source.
fn queue_view(frame: &mut Frame, layout: &ScreenLayout, app: &App) {
    let s = &app.state;
    let entries = app.controller.queue.entries();
    let cursor = app.controller.queue.cursor();
    let width = layout.main.width.saturating_sub(2) as usize;
    let rows = TrackRows::of(app);
    let source_width = label_width(source_label, app);
    windowed_list(
        frame,
        layout.main,
        ListWindow {
            title: format!("Queue ({})", entries.len()),
            focused: s.pane == Pane::Main,
            len: entries.len(),
            selected: s.queue,
        },
        |i| {
            let e = &entries[i];
            let mark = if Some(i) == cursor { "▶ " } else { "  " };
            let (source, style) = source_label(e.source, app);
            let mut line = rows.line(&e.track, width.saturating_sub(source_width + 3));
            line.spans.insert(0, Span::raw(mark));
            line.spans
                .push(Span::styled(format!(" {source:<source_width$}"), style));
            line
        },
        app,
    );
}

/// The History view: the recent plays (this session's, carried over a restart within the session
/// gap, and every one since the player started), newest first (`skipless history` has
/// them all).
fn history_view(frame: &mut Frame, layout: &ScreenLayout, app: &App) {
    let s = &app.state;
    let history = &app.controller.history;
    let width = layout.main.width.saturating_sub(2) as usize;
    let rows = TrackRows::of(app);
    // Every row's end word in one column, so that the lengths before it line up.
    let word_width = EndReason::ALL.iter().map(|r| r.word().len()).max().unwrap_or(0);
    let title = format!(
        "History: recent plays ({}, {} skipped)",
        crate::fmt::count(history.len() as u64, "play"),
        crate::fmt::group_digits(history.iter().filter(|(_, p)| p.skipped).count() as u64)
    );
    windowed_list(
        frame,
        layout.main,
        ListWindow {
            title,
            focused: s.pane == Pane::Main,
            len: history.len(),
            selected: s.history,
        },
        |i| {
            let (track, play) = &history[history.len() - 1 - i];
            let mark = if play.skipped {
                Span::styled("skip ", app.theme.skip)
            } else {
                Span::raw("     ")
            };
            let detail = format!(
                " {:<word_width$} {:>5}",
                play.end_reason.word(),
                format_duration(play.played_ms)
            );
            let mut line = rows.line(track, width.saturating_sub(text_width(&detail) + 5));
            line.spans.insert(0, mark);
            line.spans.push(Span::styled(detail, app.theme.dim));
            line
        },
        app,
    );
}

/// Who chose an entry, in the narrow up-next pane.
fn short_source_label(source: PlaySource, app: &App) -> (&'static str, Style) {
    match source {
        PlaySource::Autoplay => ("auto", app.theme.autoplay),
        other => source_label(other, app),
    }
}

/// Who can choose a queue entry (an imported play is never queued).
const QUEUE_SOURCES: [PlaySource; 3] = [PlaySource::User, PlaySource::Queue, PlaySource::Autoplay];

/// The columns of the longest word `label` gives a queue entry, so that the lengths before it
/// line up.
fn label_width(label: fn(PlaySource, &App) -> (&'static str, Style), app: &App) -> usize {
    QUEUE_SOURCES.iter().map(|&s| label(s, app).0.len()).max().unwrap_or(0)
}

fn source_label(source: PlaySource, app: &App) -> (&'static str, Style) {
    match source {
        PlaySource::Autoplay => ("autoplay", app.theme.autoplay),
        PlaySource::Queue => ("you", app.theme.dim),
        PlaySource::User => ("you", app.theme.dim),
        PlaySource::Import => ("import", app.theme.dim),
    }
}

/// The lines above the stats view's chart, each wrapped to `width`, the chart's title last.
fn stats_head(stats: &crate::summary::Stats, width: u16) -> Vec<String> {
    let mut said = vec![stats.summary(), stats.picks_line()];
    said.extend(stats.waiting_line());
    let mut lines: Vec<String> = said
        .iter()
        .flat_map(|line| textwrap::wrap(line, width.max(1) as usize))
        .map(std::borrow::Cow::into_owned)
        .collect();
    lines.push(match stats.weekly.len() {
        0 => "skip rate by week: nothing played yet".to_owned(),
        1 => "skip rate by week, the one week to the last play:".to_owned(),
        n => format!("skip rate by week, the {n} weeks to the last play:"),
    });
    lines
}

/// The stats view inside its frame: the head of `head_lines` rows, the chart, and the list below.
fn stats_areas(head_lines: usize, inner: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(head_lines as u16),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .areas(inner)
}

/// The last line the stats view's list may start at in `area` (its frame included): the one that
/// puts its end at the bottom, so that no key scrolls past where the screen can go.
pub(super) fn stats_scroll_end(stats: &crate::summary::Stats, area: Rect) -> usize {
    let inner = Block::bordered().inner(area);
    let [_, _, rest] = stats_areas(stats_head(stats, inner.width).len(), inner);
    crate::tui::state::stats_list_lines(stats).saturating_sub(rest.height as usize)
}

fn stats(frame: &mut Frame, area: Rect, app: &App) {
    let Some(stats) = &app.state.stats else {
        frame.render_widget(
            Paragraph::new("Counting…").block(block("Stats".into(), true, app)),
            area,
        );
        return;
    };
    let outer = block("Stats".into(), true, app);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let mut lines: Vec<Line> = stats_head(stats, inner.width).into_iter().map(Line::from).collect();
    if let Some(chart) = lines.last_mut() {
        chart.style = app.theme.accent;
    }
    let [head, spark, rest] = stats_areas(lines.len(), inner);
    frame.render_widget(Paragraph::new(lines), head);
    // Percent per week; a week without plays is left empty rather than drawn as 0%.
    let bars: Vec<ratatui::widgets::SparklineBar> = stats
        .weekly
        .iter()
        .map(|w| {
            let value = (w.skips.plays > 0).then(|| (w.skips.rate() * 100.0).round() as u64);
            ratatui::widgets::SparklineBar::from(value)
        })
        .collect();
    frame.render_widget(
        ratatui::widgets::Sparkline::default()
            .data(bars)
            .max(100)
            .style(app.theme.skip),
        spark,
    );
    let mut lines = vec![Line::styled("Top tracks", app.theme.accent)];
    lines.extend(
        stats
            .top_tracks
            .iter()
            .map(|t| Line::from(format!("{:>4}  {}", t.tally.listens, t.name()))),
    );
    lines.push(Line::styled("Top artists", app.theme.accent));
    lines.extend(
        stats
            .top_artists
            .iter()
            .map(|a| Line::from(format!("{:>4}  {}", a.tally.listens, a.artist))),
    );
    lines.push(Line::styled("Most skipped", app.theme.accent));
    lines.extend(
        stats
            .most_skipped
            .iter()
            .map(|t| Line::from(format!("{:>4}  {}", t.tally.skips, t.name()))),
    );
    lines.push(Line::styled("Recommender: the last training runs", app.theme.accent));
    if stats.training_runs.is_empty() {
        let retrain = app.keys.aside(Action::Retrain, "retrains");
        lines.push(Line::styled(format!("  none yet{retrain}"), app.theme.dim));
    }
    lines.extend(
        stats
            .training_runs
            .iter()
            .map(|run| Line::from(format!("  {}", run.line()))),
    );
    debug_assert_eq!(lines.len(), crate::tui::state::stats_list_lines(stats));
    // The scroll is the first line shown, up to the last screenful.
    let top = app
        .state
        .stats_scroll
        .min(lines.len().saturating_sub(rest.height as usize));
    frame.render_widget(Paragraph::new(lines).scroll((top as u16, 0)), rest);
}

/// The playing track's cover, when it has one and a worker has drawn it.
pub(crate) fn art(frame: &mut Frame, area: Rect, app: &App) {
    let playing = app.controller.now.as_ref().map(|n| n.entry.track.id);
    let shown = app.state.art.as_ref().filter(|a| Some(a.track_id) == playing);
    if let Some(picture) = shown.and_then(|a| a.picture.as_ref()).filter(|_| area.height > 0) {
        frame.render_widget(ratatui_image::Image::new(&picture.0), area);
        // Half blocks are drawn in 24-bit colours, which a terminal that does not read them
        // misreads; there they are drawn in the palette's nearest.
        let buffer = frame.buffer_mut();
        for position in area.positions() {
            if let Some(cell) = buffer.cell_mut(position) {
                cell.fg = app.theme.depth.shown(cell.fg);
                cell.bg = app.theme.depth.shown(cell.bg);
            }
        }
    }
}

/// The lyrics pane: synced lyrics follow playback with the line being sung highlighted and
/// kept in the middle; plain lyrics scroll by hand.
pub(crate) fn lyrics(frame: &mut Frame, area: Rect, app: &App) {
    let s = &app.state;
    let focused = s.pane == Pane::Lyrics && s.search.is_none();
    let playing = app.controller.now.as_ref();
    let shown = s
        .lyrics
        .as_ref()
        .filter(|l| playing.is_some_and(|n| n.entry.track.id == l.track_id));
    let Some((lyrics, shift_ms)) = shown.and_then(|l| l.lyrics.as_ref().map(|lyrics| (lyrics, l.shift_ms))) else {
        let message = match (playing, shown) {
            (None, _) => "nothing playing",
            (Some(_), None) => "…",
            (Some(_), Some(_)) => "no lyrics for this track",
        };
        frame.render_widget(
            Paragraph::new(Span::styled(message, app.theme.dim)).block(block("Lyrics".into(), focused, app)),
            area,
        );
        return;
    };
    let width = area.width.saturating_sub(2) as usize;
    let height = area.height.saturating_sub(2) as usize;
    let rows = lyric_rows(&lyrics.lines, width);
    let first_row_of = |line: usize| rows.iter().position(|(i, _)| *i >= line).unwrap_or(rows.len());
    // Synced lyrics follow the song, the line being sung in the middle; plain ones scroll by
    // hand, the line scrolled to at the top.
    let current = lyrics
        .is_synced()
        .then(|| lyrics.current(playing.map_or(0, |n| n.position_ms), shift_ms))
        .flatten();
    let offset = if lyrics.is_synced() {
        scroll_offset(current.map_or(0, first_row_of), rows.len(), height)
    } else {
        first_row_of(s.lyrics_scroll).min(rows.len().saturating_sub(height))
    };
    let items: Vec<ListItem> = rows
        .iter()
        .skip(offset)
        .take(height)
        .map(|(i, text)| {
            let text = text.clone();
            match current {
                Some(c) if c == *i => ListItem::new(Line::styled(text, app.theme.accent.add_modifier(Modifier::BOLD))),
                Some(c) if *i < c => ListItem::new(Line::styled(text, app.theme.dim)),
                _ => ListItem::new(Line::from(text)),
            }
        })
        .collect();
    let timing = if shift_ms == 0 {
        String::new()
    } else {
        format!(" · {}", format_shift(shift_ms))
    };
    let title = format!("Lyrics{timing} · {}", lyrics.source);
    frame.render_widget(List::new(items).block(block(title, focused, app)), area);
}

/// The first line of plain lyrics that shows their end in a pane `width` by `height` inside its
/// border: scrolled there or further, the pane shows the last `height` rows.
pub(super) fn lyrics_scroll_end(lines: &[LyricLine], width: usize, height: usize) -> usize {
    let rows = lyric_rows(lines, width);
    let end_row = rows.len().saturating_sub(height);
    // The line whose first row is the end row, else the next: a line cut at the top shows from
    // its start only by scrolling up.
    rows.iter()
        .enumerate()
        .find(|&(row, &(line, _))| row >= end_row && rows[..row].last().is_none_or(|(before, _)| *before != line))
        .map_or(lines.len().saturating_sub(1), |(_, &(line, _))| line)
}

/// Each lyric line in rows of at most `width` columns, cut at word breaks (a word wider than
/// the pane is broken): (the line's index, one row). An empty line keeps its row.
fn lyric_rows(lines: &[LyricLine], width: usize) -> Vec<(usize, String)> {
    lines
        .iter()
        .enumerate()
        .flat_map(|(i, line)| {
            let rows = textwrap::wrap(&line.text, width.max(1));
            let rows: Vec<String> = if rows.is_empty() {
                vec![String::new()]
            } else {
                rows.into_iter().map(|row| row.into_owned()).collect()
            };
            rows.into_iter().map(move |row| (i, row))
        })
        .collect()
}

/// What the recommendations' box says: the status that names the ranking, then why each
/// recommended track is there.
pub(crate) fn recommended_notes(app: &App) -> Vec<String> {
    let status = if app.state.autoplay {
        app.state.model_status.clone()
    } else {
        "autoplay off".to_owned()
    };
    let reasons = app
        .controller
        .queue
        .upcoming()
        .iter()
        .filter_map(|e| Some((e.track.title.as_str(), e.reason.as_deref()?)))
        .map(|(title, reason)| format!("{}: {reason}", truncate(title, 12)));
    std::iter::once(status).chain(reasons).collect()
}

pub(crate) fn up_next(frame: &mut Frame, layout: &ScreenLayout, notes: &[String], app: &App) {
    let upcoming = app.controller.queue.upcoming();
    let focused = app.state.pane == Pane::UpNext && app.state.search.is_none();
    let (list, note) = (layout.up_next, layout.recommended);
    let width = list.width.saturating_sub(2) as usize;
    let rows = TrackRows::of(app);
    let source_width = label_width(short_source_label, app);
    windowed_list(
        frame,
        list,
        ListWindow {
            title: format!("Up next ({})", upcoming.len()),
            focused,
            len: upcoming.len(),
            selected: app.state.up_next,
        },
        |i| {
            let e = &upcoming[i];
            let (source, style) = short_source_label(e.source, app);
            let mut line = rows.title_first(&e.track, width.saturating_sub(source_width + 1));
            line.spans
                .push(Span::styled(format!(" {source:>source_width$}"), style));
            line
        },
        app,
    );
    let box_inner = (
        note.width.saturating_sub(2) as usize,
        note.height.saturating_sub(2) as usize,
    );
    let rows = fit_rows(notes.iter().cloned(), box_inner.0, box_inner.1);
    frame.render_widget(
        Paragraph::new(rows.into_iter().map(Line::from).collect::<Vec<_>>())
            .style(app.theme.dim)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(app.theme.dim)
                    .title("Recommended"),
            ),
        note,
    );
}

/// `texts` wrapped at word breaks into `width` columns, each from a row of its own, in at most
/// `height` rows. When they do not all fit, every text keeps at least its first row (a pick's
/// reason is not pushed out by a long status), the rows left go to the first texts, and what
/// is cut ends with "…", never silently (a cut number would read as another); with more texts
/// than rows, the last row holds the rest.
fn fit_rows(texts: impl IntoIterator<Item = String>, width: usize, height: usize) -> Vec<String> {
    let width = width.max(1);
    let wrapped: Vec<Vec<String>> = texts
        .into_iter()
        .map(|text| {
            textwrap::wrap(&text, width)
                .into_iter()
                .map(|row| row.into_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    if wrapped.iter().map(Vec::len).sum::<usize>() <= height {
        return wrapped.into_iter().flatten().collect();
    }
    // Rows of `text` in `rows` rows at most, the last one holding the rest, cut.
    let cut = |text: &[String], rows: usize| -> Vec<String> {
        if text.len() <= rows {
            return text.to_vec();
        }
        let mut kept = text[..rows - 1].to_vec();
        kept.push(truncate(&text[rows - 1..].join(" "), width));
        kept
    };
    if wrapped.len() >= height {
        let mut rows: Vec<String> = wrapped[..height.saturating_sub(1)]
            .iter()
            .map(|t| cut(t, 1).remove(0))
            .collect();
        if height > 0 {
            let rest: Vec<String> = wrapped[height - 1..].iter().flatten().cloned().collect();
            rows.extend(cut(&rest, 1));
        }
        return rows;
    }
    let mut spare = height - wrapped.len();
    let mut rows = Vec::with_capacity(height);
    for text in &wrapped {
        let extra = text.len().saturating_sub(1).min(spare);
        spare -= extra;
        rows.extend(cut(text, 1 + extra));
    }
    rows
}

pub(crate) fn now_playing(frame: &mut Frame, area: Rect, app: &App) {
    let c = &app.controller;
    let volume = match c.muted_at {
        Some(level) => format!("muted ({level}%)"),
        None => format!("vol {}%", c.volume),
    };
    let modes = format!(
        "{volume}  repeat {}  autoplay {}",
        c.queue.repeat.label(),
        if app.state.autoplay { "on" } else { "off" }
    );
    let (outer, [top, gauge_row, bottom]) = now_playing_rows(area, app);
    frame.render_widget(outer, area);
    let Some(now) = &c.now else {
        // What play would start: a restored queue says where it stands, and one that ran out
        // names what was queued since.
        let next = c.start_index().and_then(|i| c.queue.entries().get(i));
        let stopped = match next {
            Some(entry) => match app.keys.first_key(Action::TogglePause) {
                Some(key) => Line::from(vec![
                    Span::raw("Stopped · "),
                    Span::styled(key, app.theme.accent),
                    Span::raw(format!(" plays {}", entry.track.display_name())),
                ]),
                None => Line::from(format!("Stopped · next: {}", entry.track.display_name())),
            },
            None => Line::from("Stopped"),
        };
        frame.render_widget(Paragraph::new(stopped), top);
        frame.render_widget(Paragraph::new(modes).style(app.theme.dim), bottom);
        return;
    };
    let t = &now.entry.track;
    let state = if now.paused { "⏸" } else { "▶" };
    let album = t.album.as_deref().map(|a| format!(" · {a}")).unwrap_or_default();
    let by = format!(
        " — {}{album}",
        t.artist.as_deref().unwrap_or(crate::track::UNKNOWN_ARTIST)
    );
    // A long title leaves the artist in sight: it keeps at most what the rest leaves it, or half.
    let room = top.width as usize;
    let title_room = room.saturating_sub(text_width(&by)).max(room / 2);
    let title = truncate(
        &format!("{state} {}{}", mark_of(t.id, &app.state.library.marks), t.title),
        title_room,
    );
    // The artist and album get the rest, cut with "…" like the title.
    let by = truncate(&by, room.saturating_sub(text_width(&title)));
    let title = Line::from(vec![Span::styled(title, app.theme.accent), Span::raw(by)]);
    frame.render_widget(Paragraph::new(title), top);
    let total = now.duration_ms.unwrap_or(0);
    let ratio = if total > 0 {
        (now.position_ms as f64 / total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    gauge(frame, gauge_row, ratio, progress_label(now.position_ms, total), app);
    frame.render_widget(Paragraph::new(modes).style(app.theme.dim), bottom);
}

/// The now-playing box's frame and its three rows: the track, its progress, the modes. A short
/// terminal gives it no frame (a title would take the progress's row).
fn now_playing_rows(area: Rect, app: &App) -> (Block<'static>, [Rect; 3]) {
    let outer = if area.height >= 5 {
        Block::default()
            .borders(Borders::ALL)
            .border_style(app.theme.dim)
            .title("Now playing")
    } else {
        Block::default()
    };
    let rows = Layout::vertical([Constraint::Length(1); 3]).areas(outer.inner(area));
    (outer, rows)
}

fn progress_label(position_ms: u64, total_ms: u64) -> String {
    let total = if total_ms > 0 {
        format_duration(total_ms)
    } else {
        "--:--".into()
    };
    format!("{} / {total}", format_duration(position_ms))
}

/// Where in the playing track a click on its progress bar at `column` (on the bar's row) asks
/// to go; `None` off the bar, or with nothing playing whose length is known.
pub(crate) fn progress_at(area: Rect, column: u16, row: u16, app: &App) -> Option<Duration> {
    let now = app.controller.now.as_ref()?;
    let total = now.duration_ms.filter(|&d| d > 0)?;
    let (_, [_, gauge_row, _]) = now_playing_rows(area, app);
    let [bar, _] = gauge_areas(gauge_row, &progress_label(now.position_ms, total));
    let on_bar = bar.height > 0 && row == bar.y && column >= bar.x && column < bar.x + bar.width;
    let fraction = on_bar.then(|| f64::from(column - bar.x) / f64::from(bar.width))?;
    Some(Duration::from_millis((fraction * total as f64) as u64))
}

/// A bar of `width` cells filled to `ratio`, to an eighth of a cell.
fn bar_of(ratio: f64, width: u16) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = (ratio.clamp(0.0, 1.0) * f64::from(width) * 8.0).round() as usize;
    "█".repeat(eighths / 8) + PARTS[eighths % 8]
}

/// A gauge's bar and, after it, its label's place. The label comes first (a time cut short
/// says nothing); the bar keeps a quarter of the width, up to 8 cells, to show that it is one.
fn gauge_areas(area: Rect, label: &str) -> [Rect; 2] {
    let bar_least = (area.width / 4).min(8);
    let label_width = (text_width(label) as u16 + 1).min(area.width - bar_least);
    Layout::horizontal([Constraint::Min(0), Constraint::Length(label_width)]).areas(area)
}

/// A bar filled to `ratio` with `label` after it. The label is not drawn over the bar: there it
/// would be the terminal's own text colour on the accent colour, unreadable on many palettes, and
/// without colours a hole in the bar. The bar is block characters in the accent colour, drawn
/// here: ratatui's `Gauge` leaves a cell for its label in the middle even when it is empty.
fn gauge(frame: &mut Frame, area: Rect, ratio: f64, label: String, app: &App) {
    let [bar, text] = gauge_areas(area, &label);
    let label_width = text.width;
    frame.render_widget(Paragraph::new(bar_of(ratio, bar.width)).style(app.theme.accent), bar);
    frame.render_widget(
        Paragraph::new(truncate(&label, label_width.saturating_sub(1) as usize)).alignment(Alignment::Right),
        text,
    );
}

pub(crate) fn status_line(frame: &mut Frame, area: Rect, app: &App) {
    let s = &app.state;
    if let Some(prompt) = &s.naming_playlist {
        let (label, hint) = match &prompt.target {
            PlaylistTarget::SaveQueue(tracks) => (
                format!(
                    "save the queue's {} as playlist: ",
                    crate::fmt::count(tracks.len() as u64, "track")
                ),
                "(autoplay's coming picks left out; Enter saves, Esc cancels)",
            ),
            PlaylistTarget::SaveHistory(tracks) => (
                format!(
                    "save the {} as playlist: ",
                    crate::fmt::count(tracks.len() as u64, "recent listen")
                ),
                "(Enter saves, Esc cancels)",
            ),
            PlaylistTarget::Add(tracks) => (
                format!("add {} to playlist: ", crate::fmt::count(tracks.len() as u64, "track")),
                "(Tab completes, a new name creates one, Esc cancels)",
            ),
            PlaylistTarget::Rename(from) => (format!("rename playlist {from:?} to: "), "(Enter renames, Esc cancels)"),
        };
        let matches = prompt.matches(&s.playlists);
        let shown = if matches.is_empty() || !matches!(prompt.target, PlaylistTarget::Add(_)) {
            String::new()
        } else {
            format!("  [{}]", matches.join(", "))
        };
        // A name longer than the row shows its end, where the typing is; the hint and the
        // matching names take what is left.
        let room = (area.width as usize).saturating_sub(text_width(&label) + 1);
        let name = tail(&prompt.name, room);
        let left = room.saturating_sub(text_width(&name));
        let hint = truncate(&format!(" {hint}"), left);
        let shown = truncate(&shown, left.saturating_sub(text_width(&hint)));
        let line = Line::from(vec![
            Span::styled(label, app.theme.accent),
            Span::raw(name),
            Span::raw("▏"),
            Span::raw(hint),
            Span::styled(shown, app.theme.dim),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    if !s.gauges.is_empty() {
        // Side by side when a scan and a training run go on at once.
        let shown: Vec<&Progress> = s.gauges.shown().collect();
        let columns = Layout::horizontal(vec![Constraint::Ratio(1, shown.len() as u32); shown.len()]).split(area);
        for (progress, column) in shown.into_iter().zip(columns.iter()) {
            let ratio = if progress.total > 0 {
                progress.done as f64 / progress.total as f64
            } else {
                0.0
            };
            // The counts stay whole; the job's name gives way (a label takes half its gauge).
            let counts = format!("{}/{}", progress.done, progress.total);
            let room = (column.width as usize / 2).saturating_sub(text_width(&counts) + 2);
            let label = format!("{} {counts}", truncate(&progress.label, room));
            gauge(frame, *column, ratio.clamp(0.0, 1.0), label, app);
        }
        return;
    }
    let text = s.status.clone().unwrap_or_default();
    let rows = fit_rows([text], area.width as usize, area.height.max(1) as usize);
    frame.render_widget(
        Paragraph::new(rows.into_iter().map(Line::from).collect::<Vec<_>>()),
        area,
    );
}

pub(crate) fn help(frame: &mut Frame, area: Rect, app: &App) {
    let popup = help_area(area);
    let height = popup.height;
    let rows = app.keys.help();
    let shown = height.saturating_sub(2) as usize;
    let entries = help_entries(&rows, popup.width.saturating_sub(2) as usize);
    // Scrolled no further than the last screenful, so `G` shows the end of the list, not one
    // entry: the last entries whose rows fit on the screen.
    let mut last_screen = entries.len();
    let mut rows_left = shown;
    while let Some(entry) = last_screen.checked_sub(1).map(|i| &entries[i]) {
        if entry.len() > rows_left {
            break;
        }
        rows_left -= entry.len();
        last_screen -= 1;
    }
    let lines: Vec<Line> = entries
        .into_iter()
        .skip(app.state.help_scroll.min(last_screen))
        .flatten()
        .map(|(keys, name, description)| {
            Line::from(vec![
                Span::styled(keys, app.theme.accent),
                Span::styled(name, app.theme.dim),
                Span::raw(description),
            ])
        })
        .collect();
    let closes = match app.keys.first_key(Action::Help) {
        Some(key) => format!("{key} or Esc closes"),
        None => "Esc closes".into(),
    };
    let scroll = match (app.keys.first_key(Action::Down), app.keys.first_key(Action::Up)) {
        (Some(down), Some(up)) => format!(", {down}/{up} scroll"),
        (down, up) => down.or(up).map_or_else(String::new, |key| format!(", {key} scrolls")),
    };
    let title = format!("{closes}{scroll} · keys, their names in [keys], what they do");
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block(title, true, app)), popup);
}

/// Below this many columns for a description beside the keys and the name, descriptions go on
/// rows of their own under them.
const HELP_DESCRIPTION_ROOM: usize = 24;

/// The help's entries in `width` columns, each as its rows of (keys, name, description): the
/// keys right-aligned in a column as wide as the widest, the names in a column of their own (a
/// `[keys]` line needs them whole), and the descriptions wrapped at word breaks beside them,
/// or under them where the screen is narrow.
fn help_entries(rows: &[(String, &str, &str)], width: usize) -> Vec<Vec<(String, String, String)>> {
    let keys_width = rows.iter().map(|(keys, _, _)| text_width(keys)).max().unwrap_or(0);
    let name_width = rows.iter().map(|(_, _, name)| name.len()).max().unwrap_or(0);
    let beside = width.saturating_sub(keys_width + 2 + name_width + 2);
    rows.iter()
        .map(|(keys, description, name)| {
            // Padded by columns, not characters: a key may be a wide character.
            let pad = " ".repeat(keys_width - text_width(keys));
            let head = (format!("{pad}{keys}  "), format!("{name:<name_width$}  "));
            if beside >= HELP_DESCRIPTION_ROOM {
                let indent = " ".repeat(keys_width + 2 + name_width + 2);
                textwrap::wrap(description, beside)
                    .into_iter()
                    .enumerate()
                    .map(|(i, row)| match i {
                        0 => (head.0.clone(), head.1.clone(), row.into_owned()),
                        _ => (indent.clone(), String::new(), row.into_owned()),
                    })
                    .collect()
            } else {
                // Narrow: the keys and the name, then the description indented under them.
                let head = (format!("{keys}  "), (*name).to_owned(), String::new());
                std::iter::once(head)
                    .chain(
                        textwrap::wrap(description, width.saturating_sub(4).max(1))
                            .into_iter()
                            .map(|row| ("    ".to_owned(), String::new(), row.into_owned())),
                    )
                    .collect()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::render::ColourDepth;

    /// A narrow screen shows the whole time beside a shorter bar.
    #[test]
    fn a_gauges_label_is_cut_only_when_the_bar_is_down_to_its_least() {
        let label = "0:17 / 0:20";
        for (width, label_width, bar_width) in [(80, 12, 68), (20, 12, 8), (14, 11, 3), (4, 3, 1)] {
            let [bar, shown] = gauge_areas(Rect::new(0, 0, width, 1), label);
            assert_eq!((shown.width, bar.width), (label_width, bar_width), "width {width}");
        }
    }

    #[test]
    fn a_title_keeps_the_hints_that_fit_whole() {
        let hints = || ["Enter plays".to_owned(), "S saves the queue".to_owned()];
        assert_eq!(fitting_title("Playlists (6)".into(), hints(), 24), "Playlists (6)");
        assert_eq!(
            fitting_title("Playlists (6)".into(), hints(), 27),
            "Playlists (6) · Enter plays"
        );
        assert_eq!(
            fitting_title("Playlists (6)".into(), hints(), 60),
            "Playlists (6) · Enter plays · S saves the queue"
        );
    }

    /// Every word of every description is on the help screen, at 80 columns and at 40: long
    /// ones wrap beside their keys, or under them on a narrow screen.
    #[test]
    fn the_help_wraps_descriptions_and_cuts_none() {
        let rows = crate::keymap::KeyMap::default().help();
        for width in [106, 76, 36] {
            let entries = help_entries(&rows, width);
            assert_eq!(entries.len(), rows.len());
            for (entry, (keys, description, name)) in entries.iter().zip(&rows) {
                let text: Vec<String> = entry.iter().map(|(k, n, d)| format!("{k}{n}{d}")).collect();
                assert!(text.iter().all(|row| text_width(row) <= width), "{width}: {text:?}");
                let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
                let shown = words(&entry.iter().map(|(_, _, d)| d.as_str()).collect::<Vec<_>>().join(" "));
                assert_eq!(shown, words(description), "{width}: {name}");
                assert!(
                    text[0].contains(keys.as_str()) && text[0].contains(name),
                    "{width}: {text:?}"
                );
            }
        }
        // At 36 columns the descriptions have rows of their own.
        assert!(help_entries(&rows, 36).iter().all(|entry| entry.len() >= 2));
    }

    /// The bar is whole however far it is filled: no cell in it is left empty (ratatui's
    /// `Gauge` left one in the middle for its label, a hole without colours).
    #[test]
    fn a_bar_is_filled_without_a_hole_to_an_eighth_of_a_cell() {
        assert_eq!(bar_of(0.0, 10), "");
        assert_eq!(bar_of(1.0, 10), "█".repeat(10));
        assert_eq!(bar_of(0.55, 10), "█████▌");
        assert_eq!(bar_of(7.0, 4), "████", "past the end is full");
        for ratio in (0..=100).map(|n| f64::from(n) / 100.0) {
            let bar = bar_of(ratio, 60);
            assert!(!bar.contains(' '), "{ratio}: {bar:?}");
            assert!(bar.chars().count() <= 60);
        }
    }

    #[test]
    fn a_long_lyric_line_wraps_at_word_breaks_and_an_empty_one_keeps_its_row() {
        let line = |text: &str| LyricLine {
            at_ms: None,
            text: text.into(),
        };
        let lines = [
            line("I walked the length of the longest road"),
            line(""),
            line("雨の日も風の日も"),
        ];
        let rows = lyric_rows(&lines, 12);
        let texts: Vec<(usize, &str)> = rows.iter().map(|(i, row)| (*i, row.as_str())).collect();
        assert_eq!(
            texts,
            [
                (0, "I walked the"),
                (0, "length of"),
                (0, "the longest"),
                (0, "road"),
                (1, ""),
                (2, "雨の日も風の"),
                (2, "日も"),
            ]
        );
        assert!(rows.iter().all(|(_, row)| text_width(row) <= 12));
    }

    fn text_of(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn texts_cut_to_their_rows_end_with_an_ellipsis() {
        let texts = [
            "fallback: similar tracks, then your most finished".to_owned(),
            "Sad: 0.91".to_owned(),
        ];
        assert_eq!(
            fit_rows(texts.clone(), 24, 4),
            ["fallback: similar", "tracks, then your most", "finished", "Sad: 0.91"]
        );
        assert_eq!(
            fit_rows(texts.clone(), 24, 2),
            ["fallback: similar track…", "Sad: 0.91"]
        );
        assert_eq!(
            fit_rows(texts.clone(), 24, 3),
            ["fallback: similar", "tracks, then your most…", "Sad: 0.91"]
        );
        let three = [texts[0].clone(), texts[1].clone(), "Song: 0.5".to_owned()];
        assert_eq!(
            fit_rows(three, 24, 2),
            ["fallback: similar track…", "Sad: 0.91 Song: 0.5"]
        );
        assert!(fit_rows(["anything".to_owned()], 10, 0).is_empty());
    }

    #[test]
    fn a_long_playlist_name_is_cut_to_keep_its_count_where_there_is_room() {
        let row = |name: &str, smart: bool, width: usize| {
            let counts = [" 12 tracks".into(), " 12".into()];
            let (name, smart, count) = playlist_row(name, smart, counts, width);
            format!("{name}|{smart}|{count}")
        };
        assert_eq!(row("Most skipped", true, 40), "Most skipped| (smart)| 12 tracks");
        assert_eq!(row("Most skipped", true, 25), "Most skipped|| 12 tracks");
        assert_eq!(
            row("Finished most this month", true, 28),
            "Finished most this month|| 12"
        );
        assert_eq!(
            row("Finished most this month", true, 26),
            "Finished most t…|| 12 tracks"
        );
        assert_eq!(row("Finished most this month", true, 22), "Finished mo…|| 12 tracks");
        assert_eq!(row("Finished most this month", false, 18), "Finished most…|| 12");
        assert_eq!(row("Finished most this month", false, 14), "Finished most…||");
        // A count with its missing files keeps them in its short form before the name is cut.
        let counts = [" 13 tracks, 1 missing".to_owned(), " 13, 1 missing".to_owned()];
        let (name, _, count) = playlist_row("Night drive", false, counts, 28);
        assert_eq!(format!("{name}|{count}"), "Night drive| 13, 1 missing");
    }

    #[test]
    fn a_line_being_typed_shows_its_end_in_the_room_there_is() {
        assert_eq!(tail("my very long playlist name", 9), "list name");
        assert_eq!(tail("short", 9), "short");
        // A wide character is shown whole or not at all.
        assert_eq!(tail("歌の歌詞", 5), "歌詞");
        assert_eq!(tail("anything", 0), "");
    }

    #[test]
    fn a_row_shows_the_album_in_the_room_the_name_leaves() {
        let theme = Theme::from_config(&Default::default(), ColourDepth::None);
        let marks = Marks::default();
        let rows = TrackRows {
            marks: &marks,
            playing: Some(2),
            theme: &theme,
        };
        let song = |id, album: &str| Track {
            id,
            title: "Intro".into(),
            artist: Some("Dup Artist".into()),
            album: Some(album.into()),
            duration_ms: Some(180_000),
            ..Track::default()
        };
        let (first, second) = (song(1, "First Album"), song(2, "Second Album (Deluxe Edition)"));
        assert_eq!(
            text_of(&rows.line(&first, 50)),
            "Dup Artist – Intro · First Album              3:00"
        );
        assert_eq!(
            text_of(&rows.line(&second, 40)),
            "Dup Artist – Intro · Second Album…  3:00"
        );
        // The playing track's name is in the accent.
        assert_eq!(rows.line(&second, 40).spans[0].style, theme.accent);
        assert_eq!(rows.line(&first, 40).spans[0].style, Style::new());
        // Too narrow for the album to say anything: the name alone, never cut for it.
        assert_eq!(text_of(&rows.line(&first, 30)), "Dup Artist – Intro        3:00");
        let long = Track {
            title: "A Title Long Enough to Fill the Row".into(),
            ..first.clone()
        };
        assert_eq!(
            text_of(&rows.line(&long, 50)),
            "Dup Artist – A Title Long Enough to Fill the… 3:00"
        );
        // A long artist is cut for the title, which tells the song.
        let long_artist = Track {
            artist: Some("Very Long Artist Name That Goes On And On And On Forever".into()),
            title: "Tab Title".into(),
            ..first.clone()
        };
        assert_eq!(
            text_of(&rows.line(&long_artist, 40)),
            "Very Long Artist Name… – Tab Title  3:00"
        );
    }

    #[test]
    fn a_track_line_with_wide_characters_keeps_its_duration_in_the_last_columns() {
        for title in ["日本語の歌 🎵", "a title far too long for the space given to it"] {
            let track = Track {
                id: 1,
                title: title.into(),
                duration_ms: Some(5_000),
                ..Track::default()
            };
            let theme = Theme::from_config(&Default::default(), ColourDepth::None);
            let rows = TrackRows {
                marks: &Marks::default(),
                playing: None,
                theme: &theme,
            };
            let line = rows.line(&track, 30);
            let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
            assert_eq!(text_width(&text), 30, "{text:?}");
            assert!(text.ends_with(" 0:05"), "{text:?}");
        }
    }
}
