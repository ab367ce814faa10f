//! The play queue: a list of tracks with a cursor ([`Queue`], [`QueueEntry`], [`Repeat`]).
//!
//! Entries before the cursor are what was played (for "previous"); the cursor is the track
//! playing now; entries after it are up next. Autoplay entries always sit after the ones the
//! listener queued, and only they are ever replaced by a re-ranking.

use crate::play::PlaySource;
use crate::track::Track;

#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    pub track: Track,
    pub source: PlaySource,
    /// Why the recommender picked it, for autoplay entries.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Repeat {
    #[default]
    Off,
    All,
    One,
}

impl Repeat {
    pub(crate) fn cycle(self) -> Self {
        match self {
            Repeat::Off => Repeat::All,
            Repeat::All => Repeat::One,
            Repeat::One => Repeat::Off,
        }
    }

    /// What setting this mode says, with autoplay on or off: a repeating queue takes no picks.
    pub(crate) fn said(self, autoplay: bool) -> String {
        match (self, autoplay) {
            (Repeat::Off, true) => "repeat off: autoplay picks what follows again".to_owned(),
            (_, true) => format!("repeat {}: autoplay adds nothing while the queue repeats", self.label()),
            (_, false) => format!("repeat {}", self.label()),
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Repeat::Off => "off",
            Repeat::All => "all",
            Repeat::One => "one",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Queue {
    entries: Vec<QueueEntry>,
    cursor: Option<usize>,
    /// Counts the times the whole queue was replaced: a cursor means nothing across them.
    generation: u64,
    pub repeat: Repeat,
}

impl Queue {
    pub fn entries(&self) -> &[QueueEntry] {
        &self.entries
    }

    pub(crate) fn cursor(&self) -> Option<usize> {
        self.cursor
    }

    /// Which queue this is: it changes when the whole queue is replaced or restored, not when
    /// entries are added, moved or removed.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn current(&self) -> Option<&QueueEntry> {
        self.cursor.and_then(|i| self.entries.get(i))
    }

    /// Replaces the queue with `tracks`, positioned on `start` (one of them); the entries the
    /// listener queued and has not heard yet follow `start`, but for those `tracks` play from
    /// `start` on.
    pub(crate) fn replace(&mut self, tracks: Vec<Track>, start: usize, source: PlaySource) {
        // What the listener queued one by one and has not heard yet is a wish of its own, not
        // part of the list being replaced: it stays, to play after the list's first track,
        // unless the list plays it anyway.
        let coming = tracks.get(start..).unwrap_or_default();
        let queued: Vec<QueueEntry> = self
            .upcoming()
            .iter()
            .filter(|e| e.source == PlaySource::Queue && !coming.iter().any(|t| t.id == e.track.id))
            .cloned()
            .collect();
        self.generation += 1;
        self.entries = tracks
            .into_iter()
            .map(|track| QueueEntry {
                track,
                source,
                reason: None,
            })
            .collect();
        self.cursor = (start < self.entries.len()).then_some(start);
        if self.cursor.is_some() {
            self.entries.splice(start + 1..start + 1, queued);
        }
    }

    /// Takes `entries` back as they were at the end of the last run, the cursor on `cursor`.
    pub(crate) fn restore(&mut self, entries: Vec<QueueEntry>, cursor: Option<usize>) {
        self.generation += 1;
        self.cursor = cursor.filter(|&c| c < entries.len());
        self.entries = entries;
    }

    /// Adds tracks, in order, after the listener's queued entries (before autoplay picks), in
    /// one splice however many they are.
    pub(crate) fn enqueue(&mut self, tracks: impl IntoIterator<Item = Track>) {
        let at = self.first_autoplay_after_cursor().unwrap_or(self.entries.len());
        let entries = tracks.into_iter().map(|track| QueueEntry {
            track,
            source: PlaySource::Queue,
            reason: None,
        });
        self.entries.splice(at..at, entries);
    }

    /// Adds tracks, in order, right after the current entry: they play next.
    pub(crate) fn enqueue_next(&mut self, tracks: impl IntoIterator<Item = Track>) {
        let at = self.cursor.map_or(0, |c| c + 1).min(self.entries.len());
        let entries = tracks.into_iter().map(|track| QueueEntry {
            track,
            source: PlaySource::Queue,
            reason: None,
        });
        self.entries.splice(at..at, entries);
    }

    /// The upcoming entries (after the cursor).
    pub fn upcoming(&self) -> &[QueueEntry] {
        let from = self.cursor.map_or(0, |c| c + 1).min(self.entries.len());
        &self.entries[from..]
    }

    /// Index of the entry that follows the current one, honouring repeat.
    pub(crate) fn next_index(&self) -> Option<usize> {
        let len = self.entries.len();
        match (self.cursor, self.repeat) {
            (Some(c), Repeat::One) => Some(c),
            (Some(c), _) if c + 1 < len => Some(c + 1),
            (Some(_), Repeat::All) if len > 0 => Some(0),
            (None, _) if len > 0 => Some(0),
            _ => None,
        }
    }

    /// Index of the entry the listener moves on to with "next": like [`Queue::next_index`], but
    /// repeat-one does not hold them on the same track.
    pub(crate) fn skip_index(&self) -> Option<usize> {
        match (self.cursor, self.repeat) {
            (Some(c), Repeat::One) if c + 1 >= self.entries.len() => Some(0),
            (Some(c), Repeat::One) => Some(c + 1),
            _ => self.next_index(),
        }
    }

    /// Index of the entry before the current one (the current one again at the start).
    pub(crate) fn previous_index(&self) -> Option<usize> {
        match self.cursor {
            Some(0) => Some(0),
            Some(c) => Some(c - 1),
            None => self.entries.len().checked_sub(1),
        }
    }

    pub(crate) fn set_cursor(&mut self, index: usize) {
        if index < self.entries.len() {
            self.cursor = Some(index);
        }
    }

    /// Moves the cursor to the entry holding `track_id`, searching forward from the cursor first.
    pub(crate) fn sync_to(&mut self, track_id: i64) -> bool {
        let start = self.cursor.unwrap_or(0);
        let found = (start..self.entries.len())
            .chain(0..start)
            .find(|&i| self.entries[i].track.id == track_id);
        if let Some(i) = found {
            self.cursor = Some(i);
        }
        found.is_some()
    }

    /// Puts `entry` right after the cursor (first when nothing is current); returns its index.
    pub(crate) fn insert_next(&mut self, entry: QueueEntry) -> usize {
        let at = self.cursor.map_or(0, |c| c + 1).min(self.entries.len());
        self.entries.insert(at, entry);
        at
    }

    /// Puts `entry`, which is playing, right after the cursor and moves the cursor onto it.
    pub(crate) fn insert_playing(&mut self, entry: QueueEntry) {
        let at = self.insert_next(entry);
        self.cursor = Some(at);
    }

    /// Removes the entry at `index` (not the one playing).
    pub(crate) fn remove(&mut self, index: usize) -> Option<QueueEntry> {
        if index >= self.entries.len() || Some(index) == self.cursor {
            return None;
        }
        if let Some(c) = self.cursor.as_mut() {
            if index < *c {
                *c -= 1;
            }
        }
        Some(self.entries.remove(index))
    }

    /// Swaps the entry at `index` with its neighbour `delta` (-1 up, +1 down) among the upcoming
    /// ones. An autoplay pick moved past one of the listener's entries (or that one past it) is
    /// the listener's from then on: they placed it, so the next ranking keeps it, and what they
    /// queue later goes after it.
    pub(crate) fn move_entry(&mut self, index: usize, delta: isize) -> Option<usize> {
        let target = index.checked_add_signed(delta)?;
        let first_movable = self.cursor.map_or(0, |c| c + 1);
        let len = self.entries.len();
        if index < first_movable || target < first_movable || index >= len || target >= len {
            return None;
        }
        self.entries.swap(index, target);
        let picks = [index, target].map(|i| self.entries[i].source == PlaySource::Autoplay);
        if picks[0] != picks[1] {
            for i in [index, target] {
                let entry = &mut self.entries[i];
                if entry.source == PlaySource::Autoplay {
                    entry.source = PlaySource::Queue;
                    entry.reason = None;
                }
            }
        }
        Some(target)
    }

    /// Removes everything except the entry playing now.
    pub(crate) fn clear_upcoming(&mut self) -> Vec<QueueEntry> {
        let from = self.cursor.map_or(0, |c| c + 1);
        self.entries.split_off(from)
    }

    /// Replaces the autoplay entries after the cursor with `picks`; the listener's entries stay.
    pub(crate) fn set_autoplay(&mut self, picks: Vec<QueueEntry>) {
        let from = self.cursor.map_or(0, |c| c + 1);
        let mut kept: Vec<QueueEntry> = self
            .entries
            .drain(from..)
            .filter(|e| e.source != PlaySource::Autoplay)
            .collect();
        self.entries.append(&mut kept);
        self.entries.extend(picks);
    }

    /// Follows a rescan of the library: an entry whose track moved gets the new path (and tags),
    /// and an upcoming entry whose file is gone from the library and the disk is removed.
    /// Returns the removed tracks.
    pub(crate) fn follow_library<'a>(&mut self, track: impl Fn(i64) -> Option<&'a Track>) -> Vec<Track> {
        for entry in &mut self.entries {
            if let Some(now) = track(entry.track.id).filter(|t| **t != entry.track) {
                entry.track = now.clone();
            }
        }
        let from = self.cursor.map_or(0, |c| c + 1).min(self.entries.len());
        let (kept, removed): (Vec<QueueEntry>, Vec<QueueEntry>) = self
            .entries
            .split_off(from)
            .into_iter()
            .partition(|e| track(e.track.id).is_some() || e.track.path.exists());
        self.entries.extend(kept);
        removed.into_iter().map(|e| e.track).collect()
    }

    /// Removes every upcoming autoplay pick of a track `drop` names (a ban takes effect at
    /// once); the listener's own entries stay.
    pub(crate) fn drop_autoplay_picks(&mut self, drop: impl Fn(&Track) -> bool) {
        let from = self.cursor.map_or(0, |c| c + 1).min(self.entries.len());
        let upcoming = self.entries.split_off(from);
        self.entries.extend(
            upcoming
                .into_iter()
                .filter(|e| !(e.source == PlaySource::Autoplay && drop(&e.track))),
        );
    }

    /// Shuffles the listener's upcoming entries with `seed` (Fisher-Yates with a small
    /// xorshift). Autoplay's picks stay after them in their ranked order: the next ranking
    /// replaces them anyway. Returns how many entries were shuffled.
    pub(crate) fn shuffle_upcoming(&mut self, seed: u64) -> usize {
        let from = self.cursor.map_or(0, |c| c + 1).min(self.entries.len());
        let to = self.first_autoplay_after_cursor().unwrap_or(self.entries.len());
        let upcoming = &mut self.entries[from..to];
        let mut state = seed | 1;
        for i in (1..upcoming.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            upcoming.swap(i, (state % (i as u64 + 1)) as usize);
        }
        upcoming.len()
    }

    /// The queue's tracks but autoplay's picks still to come, which are a guess, not a choice:
    /// what saving the queue keeps.
    pub(crate) fn chosen_tracks(&self) -> Vec<Track> {
        let coming = self.cursor.map_or(0, |c| c + 1);
        self.entries
            .iter()
            .enumerate()
            .filter(|(i, e)| *i < coming || e.source != PlaySource::Autoplay)
            .map(|(_, e)| e.track.clone())
            .collect()
    }

    fn first_autoplay_after_cursor(&self) -> Option<usize> {
        let from = self.cursor.map_or(0, |c| c + 1);
        (from..self.entries.len()).find(|&i| self.entries[i].source == PlaySource::Autoplay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: i64) -> Track {
        Track::placeholder(id)
    }

    fn ids(q: &Queue) -> Vec<i64> {
        q.entries().iter().map(|e| e.track.id).collect()
    }

    /// Saving the queue keeps the listener's tracks and autoplay's picks already reached, not
    /// the ones still to come.
    #[test]
    fn the_chosen_tracks_leave_out_autoplays_coming_picks() {
        let mut q = Queue::default();
        q.replace(vec![track(1)], 0, PlaySource::User);
        let pick = |id| QueueEntry {
            track: track(id),
            source: PlaySource::Autoplay,
            reason: None,
        };
        q.set_autoplay(vec![pick(5), pick(6)]);
        q.set_cursor(1);
        q.enqueue([track(2)]);
        assert_eq!(ids(&q), [1, 5, 2, 6]);
        let chosen: Vec<i64> = q.chosen_tracks().iter().map(|t| t.id).collect();
        assert_eq!(chosen, [1, 5, 2], "the pick reached stays, the one to come goes");
    }

    /// Playing a list keeps what the listener queued and has not heard, right after the list's
    /// first track; autoplay's picks and the list played before go.
    #[test]
    fn playing_a_list_keeps_the_tracks_queued_and_not_heard_yet() {
        let mut q = Queue::default();
        q.replace((1..=3).map(track).collect(), 0, PlaySource::User);
        q.enqueue([track(10), track(11)]);
        q.set_autoplay(vec![QueueEntry {
            track: track(20),
            source: PlaySource::Autoplay,
            reason: None,
        }]);
        q.replace((30..=33).map(track).collect(), 2, PlaySource::User);
        assert_eq!(ids(&q), [30, 31, 32, 10, 11, 33]);
        assert_eq!(q.current().map(|e| e.track.id), Some(32));
        // A queued track the list plays from its start on is not played twice; one before the
        // start is.
        q.replace([11, 10, 12].map(track).to_vec(), 1, PlaySource::User);
        assert_eq!(ids(&q), [11, 10, 11, 12]);
        // Once heard, a queued track is not carried on.
        q.set_cursor(2);
        q.replace(vec![track(40)], 0, PlaySource::User);
        assert_eq!(ids(&q), [40]);
    }

    /// An autoplay pick moved past the listener's entries becomes theirs: a later ranking keeps
    /// it, and tracks queued later go after it.
    #[test]
    fn a_pick_moved_among_the_listeners_entries_is_theirs() {
        let mut q = Queue::default();
        q.replace(vec![track(1)], 0, PlaySource::User);
        q.enqueue([track(2), track(3)]);
        let pick = |id| QueueEntry {
            track: track(id),
            source: PlaySource::Autoplay,
            reason: Some("new to you".into()),
        };
        q.set_autoplay(vec![pick(5), pick(6)]);
        assert_eq!(q.move_entry(3, -1), Some(2));
        assert_eq!(ids(&q), [1, 2, 5, 3, 6]);
        assert_eq!(q.entries()[2].source, PlaySource::Queue);
        assert_eq!(q.entries()[2].reason, None);
        q.enqueue([track(7)]);
        assert_eq!(ids(&q), [1, 2, 5, 3, 7, 6]);
        q.set_autoplay(vec![pick(8)]);
        assert_eq!(ids(&q), [1, 2, 5, 3, 7, 8]);
    }

    #[test]
    fn a_ban_drops_the_upcoming_autoplay_picks_of_the_track_but_not_the_listeners_own() {
        let mut q = Queue::default();
        q.replace(vec![track(1)], 0, PlaySource::User);
        q.enqueue([track(2)]);
        q.set_autoplay(
            [2, 3, 2]
                .into_iter()
                .map(|id| QueueEntry {
                    track: track(id),
                    source: PlaySource::Autoplay,
                    reason: None,
                })
                .collect(),
        );
        q.drop_autoplay_picks(|t| t.id == 2);
        assert_eq!(ids(&q), [1, 2, 3]);
        assert_eq!(q.entries()[1].source, PlaySource::Queue);
    }

    #[test]
    fn a_shuffle_mixes_the_listeners_upcoming_entries_and_leaves_autoplays_picks_after_them() {
        let mut q = Queue::default();
        q.replace((1..=2).map(track).collect(), 1, PlaySource::User);
        q.enqueue((3..=20).map(track));
        q.set_autoplay(
            (100..105)
                .map(|id| QueueEntry {
                    track: track(id),
                    source: PlaySource::Autoplay,
                    reason: None,
                })
                .collect(),
        );
        q.shuffle_upcoming(7);
        let after = ids(&q);
        assert_eq!(after[..2], [1, 2], "what played and what plays stay");
        let mut listeners = after[2..20].to_vec();
        assert_ne!(listeners, (3..=20).collect::<Vec<_>>(), "mixed");
        listeners.sort_unstable();
        assert_eq!(listeners, (3..=20).collect::<Vec<_>>());
        assert_eq!(after[20..], [100, 101, 102, 103, 104]);
    }

    #[test]
    fn queued_tracks_go_before_autoplay_and_survive_reranking() {
        let mut q = Queue::default();
        q.replace(vec![track(1)], 0, PlaySource::User);
        q.set_autoplay(vec![QueueEntry {
            track: track(10),
            source: PlaySource::Autoplay,
            reason: None,
        }]);
        q.enqueue([track(2)]);
        assert_eq!(ids(&q), [1, 2, 10]);
        q.set_autoplay(vec![QueueEntry {
            track: track(11),
            source: PlaySource::Autoplay,
            reason: None,
        }]);
        assert_eq!(ids(&q), [1, 2, 11]);
        // Many at once keep their order, after the queued one and before the pick.
        q.enqueue([3, 4, 5].map(track));
        assert_eq!(ids(&q), [1, 2, 3, 4, 5, 11]);
    }

    /// "Play next" puts the tracks right after the playing one, before the listener's queued
    /// tracks and autoplay's picks, which keep them when they are picked again.
    #[test]
    fn tracks_played_next_go_before_everything_queued() {
        let mut q = Queue::default();
        q.replace(vec![track(1)], 0, PlaySource::User);
        q.enqueue([track(2)]);
        let pick = |id| QueueEntry {
            track: track(id),
            source: PlaySource::Autoplay,
            reason: None,
        };
        q.set_autoplay(vec![pick(10)]);
        q.enqueue_next([7, 8].map(track));
        assert_eq!(ids(&q), [1, 7, 8, 2, 10]);
        q.set_autoplay(vec![pick(11)]);
        assert_eq!(ids(&q), [1, 7, 8, 2, 11]);
        let mut empty = Queue::default();
        empty.enqueue_next([track(3)]);
        assert_eq!(ids(&empty), [3]);
    }

    #[test]
    fn cursor_moves_and_repeat() {
        let mut q = Queue::default();
        q.replace(vec![track(1), track(2), track(3)], 0, PlaySource::User);
        assert_eq!(q.next_index(), Some(1));
        q.set_cursor(2);
        assert_eq!(q.next_index(), None);
        q.repeat = Repeat::All;
        assert_eq!(q.next_index(), Some(0));
        q.repeat = Repeat::One;
        assert_eq!(q.next_index(), Some(2));
        assert_eq!(q.skip_index(), Some(0), "next moves on even under repeat-one");
        q.repeat = Repeat::Off;
        assert_eq!(q.skip_index(), None);
        q.repeat = Repeat::One;
        assert_eq!(q.previous_index(), Some(1));
        q.sync_to(1);
        assert_eq!(q.cursor(), Some(0));
        assert_eq!(q.remove(0), None, "the playing entry stays");
        assert_eq!(q.remove(2).map(|e| e.track.id), Some(3));
        assert_eq!(q.move_entry(1, -1), None, "nothing moves above the playing entry");
    }
}
