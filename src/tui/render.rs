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

/// The colours a terminal shows: none (`NO_COLOR`, a monochrome `TERM`), the 256 of its palette, or any (24-bit,
/// where `COLORTERM` says so). A 24-bit colour sent to a terminal that does not read it is
/// misread (GNU screen 4 turns it into stray attributes), so one is sent only where it is said
/// to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourDepth {
    None,
    Palette,
    TrueColour,
}

impl ColourDepth {
    /// The terminal's, from its environment: none under `NO_COLOR` or for a terminal type
    /// named monochrome (terminfo's `-m` and `-mono` endings, as `xterm-mono`).
    pub fn of_terminal() -> Self {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let term = var("TERM");
        if !var("NO_COLOR").is_empty() || term.ends_with("-mono") || term.ends_with("-m") {
            ColourDepth::None
        } else if matches!(var("COLORTERM").as_str(), "truecolor" | "24bit") {
            ColourDepth::TrueColour
        } else {
            ColourDepth::Palette
        }
    }

    /// `colour` as this terminal can show it: a 24-bit one as the nearest of the 256.
    pub fn shown(self, colour: Color) -> Color {
        match (self, colour) {
            (ColourDepth::Palette, Color::Rgb(r, g, b)) => Color::Indexed(nearest_of_256(r, g, b)),
            _ => colour,
        }
    }
}

/// The levels of each channel in the xterm palette's 6×6×6 colour cube (colours 16 to 231).
const CUBE_LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// The level of the palette's grey `step` (0 to 23: colours 232 to 255).
fn grey_of(step: u8) -> u8 {
    8 + 10 * step
}

/// The nearest colour of the xterm 256-colour palette: of its 6×6×6 cube and its 24 greys.
fn nearest_of_256(r: u8, g: u8, b: u8) -> u8 {
    let level = |v: u8| {
        (0..6)
            .min_by_key(|&i| (i32::from(CUBE_LEVELS[i]) - i32::from(v)).abs())
            .unwrap_or(0)
    };
    let (ri, gi, bi) = (level(r), level(g), level(b));
    let distance = |(x, y, z): (u8, u8, u8)| {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        d(x, r) + d(y, g) + d(z, b)
    };
    let cube = (CUBE_LEVELS[ri], CUBE_LEVELS[gi], CUBE_LEVELS[bi]);
    let mean = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
    let grey_step = ((mean.saturating_sub(3)) / 10).min(23) as u8;
    let grey_level = grey_of(grey_step);
    if distance((grey_level, grey_level, grey_level)) < distance(cube) {
        232 + grey_step
    } else {
        16 + 36 * ri as u8 + 6 * gi as u8 + bi as u8
    }
}

/// Black or white, whichever reads better on `background` (the larger WCAG contrast ratio); white
/// on a colour whose shade is not known (the terminal's own).
fn text_on(background: Color) -> Color {
    let Some((r, g, b)) = rgb_of(background) else {
        return Color::White;
    };
    let linear = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    // Contrast with black, (L + 0.05) / 0.05, exceeds contrast with white, 1.05 / (L + 0.05).
    if (luminance + 0.05).powi(2) > 0.05 * 1.05 {
        Color::Black
    } else {
        Color::White
    }
}

/// The shade of `colour` in xterm's default palette, where it has one.
fn rgb_of(colour: Color) -> Option<(u8, u8, u8)> {
    const BASIC: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    let index = match colour {
        Color::Rgb(r, g, b) => return Some((r, g, b)),
        Color::Reset => return None,
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
        Color::Indexed(i) => i,
    };
    Some(match index {
        0..=15 => BASIC[usize::from(index)],
        16..=231 => {
            let i = index - 16;
            let level = |v: u8| CUBE_LEVELS[usize::from(v)];
            (level(i / 36), level(i / 6 % 6), level(i % 6))
        }
        _ => {
            let grey = grey_of(index - 232);
            (grey, grey, grey)
        }
    })
}

/// Colours and styles of the screen.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub accent: Style,
    pub selection: Style,
    pub dim: Style,
    pub skip: Style,
    pub autoplay: Style,
    /// What the terminal shows, for colours that do not come from here (album art).
    pub depth: ColourDepth,
}

impl Theme {
    /// The configured colours as a terminal of `depth` shows them; plain text attributes only
    /// without colours.
    pub fn from_config(config: &ThemeConfig, depth: ColourDepth) -> Self {
        if depth == ColourDepth::None {
            return Self {
                accent: Style::new().add_modifier(Modifier::BOLD),
                selection: Style::new().add_modifier(Modifier::REVERSED),
                dim: Style::new(),
                skip: Style::new().add_modifier(Modifier::ITALIC),
                autoplay: Style::new().add_modifier(Modifier::ITALIC),
                depth,
            };
        }
        let color = |s: &str| depth.shown(s.parse::<Color>().unwrap_or(Color::Reset));
        let selection = color(&config.selection);
        Self {
            depth,
            accent: Style::new().fg(color(&config.accent)).add_modifier(Modifier::BOLD),
            selection: Style::new()
                .bg(selection)
                .fg(text_on(selection))
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
    /// Up next's list and the box of what autoplay says below it, in the side pane (empty
    /// while lyrics take the pane or the screen has none).
    pub up_next: Rect,
    pub recommended: Rect,
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
/// `notes` are the texts of the recommendations' box ([`super::views::recommended_notes`]),
/// which is as tall as they need, up to two fifths of the side pane.
pub(crate) fn layout(area: Rect, state: &State, notes: &[String]) -> ScreenLayout {
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
    let side_width = if area.width >= super::state::NARROW_BELOW {
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
    let [mut up_next, mut recommended] = [Rect::default(); 2];
    if side.width > 0 && state.show_lyrics {
        lists.push((Pane::Lyrics, side));
    } else if side.width > 0 && side.height >= UP_NEXT_ROWS_LEAST {
        [up_next, recommended] = up_next_areas(side, notes);
        lists.push((Pane::UpNext, up_next));
    }
    ScreenLayout {
        tabs: rows[0],
        main,
        side,
        art,
        art_column,
        now_playing: rows[2],
        status: rows[3],
        up_next,
        recommended,
        lists,
    }
}

/// The status line's rows: a message wrapped at word breaks, on up to three rows where the
/// screen has room (16 rows or more), else one; a prompt or a progress gauge takes one.
fn status_rows(state: &State, area: Rect) -> u16 {
    let most = if area.height >= 16 { 3 } else { 1 };
    match &state.status {
        Some(text) if state.naming_playlist.is_none() && state.gauges.is_empty() => {
            (textwrap::wrap(text, area.width.max(1) as usize).len().clamp(1, most)) as u16
        }
        _ => 1,
    }
}

/// Rows of the side column the cover leaves to the lists below it: the recommendations' box with
/// a status and four reasons, and four entries of up next, with their borders.
const SIDE_ROWS_KEPT: u16 = BOX_ROWS_KEPT + UP_NEXT_ROWS_KEPT;
const BOX_ROWS_KEPT: u16 = 7;
const UP_NEXT_ROWS_KEPT: u16 = 6;
/// Up next's frame and one entry.
const UP_NEXT_ROWS_LEAST: u16 = 3;

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

/// The side column of a screen of `area`, where the cover goes: what [`layout`] computes
/// (the recommendations' box is below the cover and does not change its column).
pub(crate) fn side_column(area: Rect, state: &State) -> Rect {
    layout(area, state, &[]).art_column
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
    let notes = views::recommended_notes(app);
    let layout = layout(area, &app.state, &notes);
    views::tabs(frame, layout.tabs, app);
    views::main(frame, &layout, app);
    views::art(frame, layout.art, app);
    if app.state.show_lyrics {
        views::lyrics(frame, layout.side, app);
    } else if layout.side.width > 0 {
        views::up_next(frame, &layout, &notes, app);
    }
    views::now_playing(frame, layout.now_playing, app);
    views::status_line(frame, layout.status, app);
    if app.state.help {
        views::help(frame, area, app);
    }
}

/// Up next's list and, below it, the box of what autoplay says, in the side pane (below the
/// cover): as tall as `notes` wrapped to its width need, so that a tall screen shows every
/// pick's reason, and at most two fifths of the pane, or more, up to [`BOX_ROWS_KEPT`], as long
/// as up next keeps [`UP_NEXT_ROWS_KEPT`]; at least the box's frame and one row, or, where up
/// next would have fewer than [`UP_NEXT_ROWS_LEAST`] rows, no box at all.
fn up_next_areas(side: Rect, notes: &[String]) -> [Rect; 2] {
    let width = side.width.saturating_sub(2).max(1) as usize;
    let wanted: usize = notes.iter().map(|note| textwrap::wrap(note, width).len().max(1)).sum();
    let kept = BOX_ROWS_KEPT.min(side.height.saturating_sub(UP_NEXT_ROWS_KEPT));
    let most = (side.height * 2 / 5).max(kept).max(3);
    let height = (wanted.max(1) + 2).min(most as usize) as u16;
    // Up next keeps its frame and one entry before the box has a row: the keys may be on it.
    let height = height.min(side.height.saturating_sub(UP_NEXT_ROWS_LEAST));
    let height = if height < 3 { 0 } else { height };
    Layout::vertical([Constraint::Min(0), Constraint::Length(height)]).areas(side)
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

    /// The screen draws up next, with at least its frame and one entry, exactly where the
    /// keys may go to it; the notes' box gives way first.
    #[test]
    fn up_next_is_drawn_with_a_row_on_every_screen_the_keys_may_reach_it_on() {
        let notes = vec!["a reason long enough to want several rows of the box".to_owned(); 6];
        for height in 1..40 {
            for width in [40, 69, 70, 100, 200] {
                let mut state = State::default();
                state.set_screen_size(width, height);
                let screen = layout(Rect::new(0, 0, width, height), &state, &notes);
                let drawn = screen.lists.iter().any(|(p, _)| *p == Pane::UpNext);
                assert_eq!(drawn, !state.no_up_next, "{width}x{height}");
                if drawn {
                    assert!(screen.up_next.height >= UP_NEXT_ROWS_LEAST, "{width}x{height}");
                    assert!(screen.recommended.height == 0 || screen.recommended.height >= 3);
                }
            }
        }
    }

    #[test]
    fn a_24_bit_colour_is_shown_as_the_nearest_of_the_palette_where_it_would_be_misread() {
        let palette = ColourDepth::Palette;
        assert_eq!(palette.shown(Color::Rgb(0, 0, 0)), Color::Indexed(16));
        assert_eq!(palette.shown(Color::Rgb(255, 255, 255)), Color::Indexed(231));
        assert_eq!(palette.shown(Color::Rgb(209, 69, 38)), Color::Indexed(166));
        assert_eq!(palette.shown(Color::Rgb(128, 128, 128)), Color::Indexed(244));
        assert_eq!(palette.shown(Color::Blue), Color::Blue);
        assert_eq!(ColourDepth::TrueColour.shown(Color::Rgb(1, 2, 3)), Color::Rgb(1, 2, 3));
    }

    #[test]
    fn the_selected_row_is_written_in_black_or_white_whichever_reads_on_its_colour() {
        let selected = |colour: &str, depth| {
            let config = ThemeConfig {
                selection: colour.into(),
                ..ThemeConfig::default()
            };
            (
                Theme::from_config(&config, depth).selection.fg,
                Theme::from_config(&config, depth).selection.bg,
            )
        };
        // A light theme's cream, as the palette shows it and as a 24-bit terminal does.
        assert_eq!(
            selected("#fdf6e3", ColourDepth::Palette),
            (Some(Color::Black), Some(Color::Indexed(230)))
        );
        assert_eq!(selected("#fdf6e3", ColourDepth::TrueColour).0, Some(Color::Black));
        assert_eq!(selected("blue", ColourDepth::Palette).0, Some(Color::White));
        assert_eq!(selected("lightyellow", ColourDepth::Palette).0, Some(Color::Black));
        assert_eq!(selected("#073642", ColourDepth::TrueColour).0, Some(Color::White));
        assert_eq!(selected("250", ColourDepth::Palette).0, Some(Color::Black));
        assert_eq!(selected("238", ColourDepth::Palette).0, Some(Color::White));
        assert_eq!(selected("reset", ColourDepth::Palette).0, Some(Color::White));
    }

    #[test]
    fn the_recommendations_box_is_as_tall_as_its_notes_up_to_two_fifths_of_the_column() {
        let notes = |n: usize| -> Vec<String> { (0..n).map(|i| format!("pick {i}: heard often")).collect() };
        let boxed = |height: u16, notes: &[String]| up_next_areas(Rect::new(0, 0, 30, height), notes)[1].height;
        // A status and six reasons on a tall column: every one shown, up next takes the rest.
        assert_eq!(boxed(40, &notes(7)), 9);
        // "autoplay off" alone: its frame and one row.
        assert_eq!(boxed(40, &notes(1)), 3);
        // Below a cover, the rows kept for the box: a status and four reasons.
        assert_eq!(boxed(SIDE_ROWS_KEPT, &notes(7)), 7);
        // A short column keeps the queue's 6 rows, or three fifths.
        assert_eq!(boxed(11, &notes(7)), 5);
        assert_eq!(boxed(10, &notes(7)), 4);
        assert_eq!(boxed(6, &notes(7)), 3);
        // A note wider than the box takes the rows it wraps to.
        let long = vec!["a status that wraps onto a second row of the box".to_owned()];
        assert_eq!(boxed(40, &long), 4);
    }

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
