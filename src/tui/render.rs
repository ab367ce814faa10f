//! Rendering only: [`draw`] paints the whole screen from the [`App`]'s state, and [`layout`]
//! tells where each list is (the mouse handler uses the same geometry). [`Theme`] holds the
//! colours.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::Frame;

use super::state::{Pane, State, View};
use super::views;
use super::App;
use crate::config::ThemeConfig;

/// Colours and styles of the screen.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub accent: Style,
    pub selection: Style,
    pub dim: Style,
    pub skip: Style,
    pub autoplay: Style,
}

impl Theme {
    /// The configured colours, or plain text attributes only when `no_color`.
    pub fn from_config(config: &ThemeConfig, no_color: bool) -> Self {
        if no_color {
            return Self {
                accent: Style::new().add_modifier(Modifier::BOLD),
                selection: Style::new().add_modifier(Modifier::REVERSED),
                dim: Style::new(),
                skip: Style::new().add_modifier(Modifier::ITALIC),
                autoplay: Style::new().add_modifier(Modifier::ITALIC),
            };
        }
        let color = |s: &str| s.parse::<Color>().unwrap_or(Color::Reset);
        Self {
            accent: Style::new().fg(color(&config.accent)).add_modifier(Modifier::BOLD),
            selection: Style::new()
                .bg(color(&config.selection))
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            dim: Style::new().fg(color(&config.dim)),
            skip: Style::new().fg(color(&config.skip)),
            autoplay: Style::new().fg(color(&config.autoplay)),
        }
    }
}

/// Where things are on screen.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScreenLayout {
    pub tabs: Rect,
    pub main: Rect,
    pub side: Rect,
    /// The cover above the side pane (empty without one).
    pub art: Rect,
    /// The side column as it is with a one-row status line: what the cover's size is chosen
    /// for, so that a message taking more rows for a while does not change the cover.
    pub art_column: Rect,
    pub now_playing: Rect,
    pub status: Rect,
    /// Each list with its bordered area, for mouse hit-testing.
    pub lists: Vec<(Pane, Rect)>,
}

impl ScreenLayout {
    /// The bordered area of the list `pane` (empty when this screen has none).
    pub(crate) fn area_of(&self, pane: Pane) -> Rect {
        self.lists
            .iter()
            .find(|(p, _)| *p == pane)
            .map(|(_, r)| *r)
            .unwrap_or_default()
    }
}

/// Splits the screen; narrow terminals drop the side pane, short ones shrink "now playing".
pub(crate) fn layout(area: Rect, state: &State) -> ScreenLayout {
    let now_height = if area.height >= 16 {
        5
    } else {
        3.min(area.height.saturating_sub(2))
    };
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(now_height),
            Constraint::Length(status_rows(state, area)),
        ])
        .split(area);
    let side_width = if area.width >= 70 {
        (area.width / 3).clamp(24, 48)
    } else if state.show_lyrics {
        area.width / 2
    } else {
        0
    };
    let columns = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Min(0), Constraint::Length(side_width)])
        .split(rows[1]);
    let (main, column) = (columns[0], columns[1]);
    let art_column = Rect {
        height: column.height + rows[3].height.saturating_sub(1),
        ..column
    };
    let art_rows = state
        .art
        .as_ref()
        .filter(|a| a.picture.is_some() && art_size(art_column).is_some_and(|s| s == a.size))
        .map_or(0, |a| a.size.height);
    let [art, side] = Layout::vertical([Constraint::Length(art_rows), Constraint::Min(0)]).areas(column);
    let mut lists = Vec::new();
    if state.view == View::Library && state.search.is_none() {
        let parts = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([
                Constraint::Percentage(30),
                Constraint::Percentage(30),
                Constraint::Percentage(40),
            ])
            .split(main);
        lists.extend([
            (Pane::Artists, parts[0]),
            (Pane::Albums, parts[1]),
            (Pane::Main, parts[2]),
        ]);
    } else if state.view == View::Playlists && state.search.is_none() {
        let parts = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(40), Constraint::Percentage(60)])
            .split(main);
        lists.extend([(Pane::Main, parts[0]), (Pane::Entries, parts[1])]);
    } else if state.search.is_some() {
        let [_, results] = search_areas(main);
        lists.push((Pane::Main, results));
    } else {
        lists.push((Pane::Main, main));
    }
    if side.width > 0 && state.show_lyrics {
        lists.push((Pane::Lyrics, side));
    } else if side.width > 0 {
        lists.push((Pane::UpNext, up_next_areas(side)[0]));
    }
    ScreenLayout {
        tabs: rows[0],
        main,
        side,
        art,
        art_column,
        now_playing: rows[2],
        status: rows[3],
        lists,
    }
}

/// The status line's rows: a message wrapped at word breaks, on up to three rows where the
/// screen has room (16 rows or more), else one; a prompt or a progress gauge takes one.
fn status_rows(state: &State, area: Rect) -> u16 {
    let most = if area.height >= 16 { 3 } else { 1 };
    match &state.status {
        Some(text) if state.naming_playlist.is_none() && state.progress.is_none() => {
            (textwrap::wrap(text, area.width.max(1) as usize).len().clamp(1, most)) as u16
        }
        _ => 1,
    }
}

/// Rows of the side column the cover leaves to the lists below it: the recommendations' box and
/// four entries of up next with their borders.
const SIDE_ROWS_KEPT: u16 = 7 + 6;

/// The size in cells of the cover drawn above a side column `column`: as wide as the column
/// (up to 40 cells) and half as tall, a cell being about twice as tall as wide, and no taller
/// than leaves [`SIDE_ROWS_KEPT`] rows below it; `None` when the column is too small for one.
pub(crate) fn art_size(column: Rect) -> Option<ratatui::layout::Size> {
    let height = (column.width.min(40) / 2)
        .min(column.height / 2)
        .min(column.height.saturating_sub(SIDE_ROWS_KEPT));
    let width = column.width.min(40).min(height * 2);
    (width >= 8 && height >= 4).then_some(ratatui::layout::Size::new(width, height))
}

/// The side column of a screen of `area`, where the cover goes: what [`layout`] computes.
pub(crate) fn side_column(area: Rect, state: &State) -> Rect {
    layout(area, state).art_column
}

/// The first visible row of a list of `len` rows, `height` tall, keeping `selected` in view
/// (centred once the list scrolls). A pure function, so a click maps back to the same row.
pub(crate) fn scroll_offset(selected: usize, len: usize, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    selected.saturating_sub(height / 2).min(len - height)
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < 20 || area.height < 5 {
        let message = ratatui::widgets::Paragraph::new("skipless: terminal too small")
            .wrap(ratatui::widgets::Wrap { trim: true });
        frame.render_widget(message, area);
        return;
    }
    let layout = layout(area, &app.state);
    views::tabs(frame, layout.tabs, app);
    views::main(frame, &layout, app);
    views::art(frame, layout.art, app);
    if app.state.show_lyrics {
        views::lyrics(frame, layout.side, app);
    } else if layout.side.width > 0 {
        views::up_next(frame, layout.side, app);
    }
    views::now_playing(frame, layout.now_playing, app);
    views::status_line(frame, layout.status, app);
    if app.state.help {
        views::help(frame, area, app);
    }
}

/// Up next's list and, below it, the box of what autoplay says, in the side column.
pub(crate) fn up_next_areas(side: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Min(0), Constraint::Length(7)]).areas(side)
}

/// Where the help covers a screen of `area`.
pub(crate) fn help_area(area: Rect) -> Rect {
    let width = area.width.saturating_sub(4).min(110);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + 1,
        width,
        height: area.height.saturating_sub(2),
    }
}

/// The search box and, below it, its results, in the main area.
/// The search box and the results under it. In a short main area the box is its one line of
/// text, without a frame, so that the results keep rows to show.
pub(crate) fn search_areas(main: Rect) -> [Rect; 2] {
    let framed = main.height >= SEARCH_FRAMED_FROM;
    Layout::vertical([Constraint::Length(if framed { 3 } else { 1 }), Constraint::Min(0)]).areas(main)
}

/// The main area's height from which the search box has its frame and title.
const SEARCH_FRAMED_FROM: u16 = 10;

#[cfg(test)]
mod tests {
    use ratatui::layout::{Rect, Size};

    use super::*;

    #[test]
    fn the_cover_leaves_the_side_column_room_for_up_next_and_the_recommendations() {
        // 80x24's side column: a small cover, where one as wide as the column left up next no row.
        assert_eq!(art_size(Rect::new(0, 0, 26, 17)), Some(Size::new(8, 4)));
        // A tall column gets the full cover.
        assert_eq!(art_size(Rect::new(0, 0, 48, 60)), Some(Size::new(40, 20)));
        assert_eq!(art_size(Rect::new(0, 0, 26, 15)), None);
        for (width, height) in [(80, 24), (100, 30), (120, 40), (200, 60)] {
            let column = side_column(Rect::new(0, 0, width, height), &State::default());
            if let Some(size) = art_size(column) {
                assert!(
                    column.height - size.height >= SIDE_ROWS_KEPT,
                    "{width}x{height}: {size:?}"
                );
                assert!(size.width <= 2 * size.height, "{width}x{height}: {size:?}");
            }
        }
    }
}
