//! Terminal input: keys through the key map to an [`Action`], typing in the search box, and
//! mouse clicks and scrolling hit-tested against the same layout the renderer draws.

use crossterm::event::{
    Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;

use super::render::{help_area, layout, scroll_offset, ScreenLayout};
use super::state::{Pane, View};
use super::views;
use super::App;
use crate::app::workers::PlaylistChange;
use crate::keymap::Action;
use crate::player::SeekTo;

impl App {
    /// Where things are on a screen of `area`, as [`super::render::draw`] lays them out.
    fn screen_layout(&self, area: Rect) -> ScreenLayout {
        layout(area, &self.state, &super::views::recommended_notes(self))
    }

    /// Handles a terminal event; returns whether the screen needs redrawing.
    pub fn handle_terminal(&mut self, event: TermEvent, area: Rect) -> bool {
        match event {
            TermEvent::Key(key) if key.kind != KeyEventKind::Release => {
                self.note_layout(area);
                self.handle_key(key);
                true
            }
            TermEvent::Mouse(mouse) => {
                self.note_layout(area);
                self.handle_mouse(mouse, area)
            }
            TermEvent::Paste(text) => {
                self.paste(&text);
                true
            }
            TermEvent::Resize(..) => true,
            _ => false,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) {
        // Suspending and redrawing act wherever the keys are, leaving a question unanswered and
        // a line being typed as it was: they are Control keys, which no line takes as text.
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            if let Some(action @ (Action::Suspend | Action::Redraw)) = self.keys.action(key) {
                self.update(action);
                return;
            }
        }
        if let Some(track) = self.state.confirm_ban.take() {
            if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                self.ban(&track);
            } else {
                self.state.say(format!("not banned: {}", track.display_name()));
            }
            return;
        }
        if let Some(name) = self.state.confirm_delete.take() {
            if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                self.change_playlist(PlaylistChange::Delete(name));
            } else {
                self.state.say(format!("kept playlist {name:?}"));
            }
            return;
        }
        if self.state.naming_playlist.is_some() {
            self.naming_input(key);
            return;
        }
        // The help, opened from the search's results, covers the search: it takes the keys first.
        if self.state.help && key.code == KeyCode::Esc {
            self.close_help();
            return;
        }
        let action = self.keys.action(key);
        if self.state.help && !action.is_some_and(Action::acts_in_help) {
            // The help covers the screen: a key must not stop playback or clear a list unseen.
            self.state.say(self.help_closing_hint());
            return;
        }
        if !self.state.help && self.state.search.is_some() && self.search_input(key) {
            return;
        }
        if let Some(action) = action {
            self.update(action);
        }
    }

    /// Pasted text goes into the line being typed (the search box, a playlist's name), on one
    /// line; anywhere else it is refused, so that its letters never run as keys. A paste while
    /// the keys are on the search's results goes on the query, with the keys back in the box;
    /// one while the help covers the screen is refused, as the help keeps the keys.
    fn paste(&mut self, text: &str) {
        let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if self.state.help && self.state.naming_playlist.is_none() {
            self.state.say(self.help_closing_hint());
        } else if let Some(prompt) = self.state.naming_playlist.as_mut() {
            prompt.name.push_str(&line);
        } else if let Some(search) = self.state.search.as_mut() {
            search.in_results = false;
            search.query.push_str(&line);
            search.selected = 0;
            self.run_search();
        } else {
            self.state.say(format!(
                "pasted text goes into the search box{}",
                self.keys.aside(Action::Search, "opens it")
            ));
        }
    }

    /// Typing a playlist name: Tab completes to the first saved playlist that starts with it,
    /// Enter goes ahead, Esc gives up.
    fn naming_input(&mut self, key: KeyEvent) {
        let Some(prompt) = self.state.naming_playlist.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.state.naming_playlist = None,
            KeyCode::Tab => {
                if let Some(first) = prompt.matches(&self.state.playlists).first() {
                    prompt.name = (*first).to_owned();
                }
            }
            KeyCode::Enter => {
                let Some(mut prompt) = self.state.naming_playlist.take() else {
                    return;
                };
                prompt.name = prompt.name.trim().to_owned();
                if prompt.name.is_empty() {
                    self.state.say("a playlist needs a name: nothing saved");
                } else {
                    self.finish_playlist_prompt(prompt);
                }
            }
            _ if edit_line(&mut prompt.name, key) => {}
            // Ctrl-C quits from here too, as from the search box and the lists (a yes-or-no
            // question takes any other key as no).
            _ if key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL)
                && self.keys.action(key) == Some(Action::Quit) =>
            {
                self.state.naming_playlist = None;
                self.update(Action::Quit);
            }
            _ => {}
        }
    }

    /// Typing in the search box; returns false for keys that act as usual (arrows, Enter). Tab
    /// moves the keys to the results, where they act through the key map, and back.
    fn search_input(&mut self, key: KeyEvent) -> bool {
        let Some(search) = self.state.search.as_mut() else {
            return false;
        };
        // Edits of a list (remove, move, clear, rename) would reach the one hidden behind the
        // search.
        let edits_a_list = matches!(
            self.keys.action(key),
            Some(Action::Remove | Action::MoveUp | Action::MoveDown | Action::ClearQueue | Action::RenamePlaylist)
        );
        if search.in_results {
            match key.code {
                KeyCode::Esc => self.state.search = None,
                KeyCode::Tab | KeyCode::BackTab => search.in_results = false,
                _ => return edits_a_list,
            }
            return true;
        }
        match key.code {
            KeyCode::Esc => self.state.search = None,
            KeyCode::Tab | KeyCode::BackTab => search.in_results = !search.results.is_empty(),
            _ if edit_line(&mut search.query, key) => {
                search.selected = 0;
                self.run_search();
            }
            // In a line being typed, Left, Right and Delete are the line's keys (which has no
            // cursor to move), not seeks and removals behind it.
            KeyCode::Left | KeyCode::Right | KeyCode::Delete => {}
            _ if edits_a_list => {}
            _ => return false,
        }
        true
    }

    fn handle_mouse(&mut self, mouse: MouseEvent, area: Rect) -> bool {
        let layout = self.screen_layout(area);
        let click = mouse.kind == MouseEventKind::Down(MouseButton::Left);
        // The help covers the screen: the wheel scrolls it, and nothing behind it takes a click.
        if self.state.help {
            let delta = match mouse.kind {
                MouseEventKind::ScrollDown => 3,
                MouseEventKind::ScrollUp => -3,
                _ => return false,
            };
            self.state
                .move_selection(delta, self.list_len_for(self.state.pane), self.controller.history.len());
            return true;
        }
        // A question or a name being typed waits for its keys; the lists below still take clicks.
        let answering = self.state.naming_playlist.is_some()
            || self.state.confirm_ban.is_some()
            || self.state.confirm_delete.is_some();
        if click && !answering && mouse.row == layout.tabs.y {
            return match views::tab_at(layout.tabs, mouse.column, self) {
                Some(action) => {
                    self.update(action);
                    true
                }
                None => false,
            };
        }
        if click && !answering {
            if let Some(to) = views::progress_at(layout.now_playing, mouse.column, mouse.row, self) {
                self.controller.seek(SeekTo::Absolute(to));
                return true;
            }
        }
        let hit = |rect: Rect| {
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
                let offset = scroll_offset(*selected, len, rect.height.saturating_sub(2) as usize);
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

    /// Keeps what moving a selection needs of the screen's layout: a page's rows, and the lines
    /// plain lyrics and the stats view end at.
    fn note_layout(&mut self, area: Rect) {
        let layout = self.screen_layout(area);
        self.state.page_rows = self.page_rows(&layout, area);
        let pane = layout.area_of(Pane::Lyrics);
        // Only plain lyrics on the screen scroll by hand: the others are not wrapped for it.
        let plain = self
            .state
            .lyrics
            .as_ref()
            .and_then(|l| l.lyrics.as_ref())
            .filter(|l| !l.is_synced() && !pane.is_empty());
        self.state.lyrics_scroll_end = plain.map_or(0, |lyrics| {
            super::views::lyrics_scroll_end(
                &lyrics.lines,
                pane.width.saturating_sub(2) as usize,
                pane.height.saturating_sub(2) as usize,
            )
        });
        // A pane grown since (a larger window) ends sooner: the first key back up moves.
        self.state.lyrics_scroll = self.state.lyrics_scroll.min(self.state.lyrics_scroll_end);
        self.state.stats_scroll_end = self
            .state
            .stats
            .as_ref()
            .map_or(0, |stats| super::views::stats_scroll_end(stats, layout.main));
        self.state.stats_scroll = self.state.stats_scroll.min(self.state.stats_scroll_end);
    }

    /// The rows the list with the keyboard shows on a screen of `area`: the search results', the
    /// help's, or the focused pane's (at least one).
    fn page_rows(&self, layout: &ScreenLayout, area: Rect) -> usize {
        // In the order `State::selection_mut` picks the list with the keyboard; while searching,
        // the layout's main list is the results.
        let list = if self.state.help {
            help_area(area)
        } else if self.state.search.is_some() {
            layout.area_of(Pane::Main)
        } else {
            layout.area_of(self.state.pane)
        };
        (list.height.saturating_sub(2) as usize).max(1)
    }

    fn list_len_for(&self, pane: Pane) -> usize {
        if pane == Pane::Main && self.state.view == View::Queue {
            self.controller.queue.entries().len()
        } else {
            self.controller.queue.upcoming().len()
        }
    }
}

/// One key's edit of a line being typed (the search box, a playlist's name), as in a shell:
/// Backspace deletes a letter, Ctrl-W a word, Ctrl-U the line; a letter is added. Returns
/// whether the key was such an edit.
fn edit_line(text: &mut String, key: KeyEvent) -> bool {
    let control = key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(crossterm::event::KeyModifiers::ALT);
    match key.code {
        KeyCode::Backspace if alt => delete_word(text),
        // Ctrl-H is the Backspace of terminals that send ^H for it.
        KeyCode::Backspace => delete_character(text),
        KeyCode::Char('h') if control => delete_character(text),
        KeyCode::Char('u') if control => text.clear(),
        KeyCode::Char('w') if control => delete_word(text),
        // Alt with a letter is a key of the key map, not text.
        KeyCode::Char(c) if !control && !alt => text.push(c),
        _ => return false,
    }
    true
}

/// Deletes the last character of `text` as the listener sees it: a flag, an emoji with its
/// joiners or a letter with its accents goes whole.
fn delete_character(text: &mut String) {
    use unicode_segmentation::UnicodeSegmentation;
    let kept = text.grapheme_indices(true).next_back().map_or(0, |(at, _)| at);
    text.truncate(kept);
}

/// Deletes the last word of `text` and the blanks after it, as Ctrl-W does in a shell.
fn delete_word(text: &mut String) {
    let kept = text
        .trim_end()
        .char_indices()
        .rfind(|(_, c)| c.is_whitespace())
        .map_or(0, |(at, space)| at + space.len_utf8());
    text.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    #[test]
    fn a_line_is_edited_as_in_a_shell() {
        let mut text = String::new();
        let type_key = |text: &mut String, code, modifiers| edit_line(text, KeyEvent::new(code, modifiers));
        for c in "bjork  song 10".chars() {
            assert!(type_key(&mut text, KeyCode::Char(c), KeyModifiers::NONE));
        }
        type_key(&mut text, KeyCode::Char('w'), KeyModifiers::CONTROL);
        assert_eq!(text, "bjork  song ");
        type_key(&mut text, KeyCode::Char('w'), KeyModifiers::CONTROL);
        assert_eq!(text, "bjork  ");
        type_key(&mut text, KeyCode::Backspace, KeyModifiers::NONE);
        assert_eq!(text, "bjork ");
        type_key(&mut text, KeyCode::Char('h'), KeyModifiers::CONTROL);
        assert_eq!(text, "bjork", "^H, as some terminals send Backspace");
        text.push_str(" song");
        type_key(&mut text, KeyCode::Backspace, KeyModifiers::ALT);
        assert_eq!(text, "bjork ", "Alt-Backspace deletes a word");
        type_key(&mut text, KeyCode::Char('u'), KeyModifiers::CONTROL);
        assert_eq!(text, "");
        // Spaces of more than one byte (no-break, ideographic) end a word too.
        text.push_str("坂本\u{3000}龍一\u{a0}song");
        type_key(&mut text, KeyCode::Char('w'), KeyModifiers::CONTROL);
        assert_eq!(text, "坂本\u{3000}龍一\u{a0}");
        type_key(&mut text, KeyCode::Char('w'), KeyModifiers::CONTROL);
        assert_eq!(text, "坂本\u{3000}");
        // Backspace takes what shows as one character: a flag, a family, an accented letter.
        text.push_str("\u{1f1ef}\u{1f1f5}e\u{301}\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}");
        type_key(&mut text, KeyCode::Backspace, KeyModifiers::NONE);
        assert_eq!(text, "坂本\u{3000}\u{1f1ef}\u{1f1f5}e\u{301}");
        type_key(&mut text, KeyCode::Backspace, KeyModifiers::NONE);
        assert_eq!(text, "坂本\u{3000}\u{1f1ef}\u{1f1f5}");
        type_key(&mut text, KeyCode::Backspace, KeyModifiers::NONE);
        assert_eq!(text, "坂本\u{3000}");
        assert!(
            !type_key(&mut text, KeyCode::Char('c'), KeyModifiers::CONTROL),
            "Ctrl-C is no edit"
        );
        assert!(
            !type_key(&mut text, KeyCode::Char('n'), KeyModifiers::ALT),
            "Alt-N is a key, no text"
        );
        assert_eq!(text, "坂本\u{3000}");
        assert!(!type_key(&mut text, KeyCode::Enter, KeyModifiers::NONE));
    }
}
