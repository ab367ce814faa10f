//! What the listener said of tracks ([`Marks`], [`Mark`], [`MarkChange`]): likes ("more like this") and bans
//! ("never queue this again"), each with the time it was said.

use std::collections::HashMap;

/// A like or a ban.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Like,
    Ban,
}

impl Mark {
    /// The verb: `like` or `ban`.
    pub fn word(self) -> &'static str {
        match self {
            Mark::Like => "like",
            Mark::Ban => "ban",
        }
    }

    /// What setting (`on`) or clearing the mark did, in the words the player answers with: a
    /// mark that was already so is said to have been, and the other mark it took back is named.
    pub fn outcome(self, on: bool, change: MarkChange) -> String {
        let taken_back = match self {
            _ if !change.took_back_other => "",
            Mark::Like => " (its ban taken back)",
            Mark::Ban => " (its like taken back)",
        };
        format!("{}{taken_back}", self.said(on, change.changed))
    }

    fn said(self, on: bool, changed: bool) -> &'static str {
        match (self, on, changed) {
            (Mark::Like, true, true) => "liked",
            (Mark::Like, true, false) => "already liked",
            (Mark::Like, false, true) => "unliked",
            (Mark::Like, false, false) => "not liked",
            (Mark::Ban, true, true) => "banned",
            (Mark::Ban, true, false) => "already banned",
            (Mark::Ban, false, true) => "unbanned",
            (Mark::Ban, false, false) => "not banned",
        }
    }
}

/// What setting or clearing a mark did on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MarkChange {
    /// The mark was not so before.
    pub changed: bool,
    /// Setting it took the track's other mark back: a track is liked or banned, not both.
    pub took_back_other: bool,
}

/// Every track's like and ban, as times in Unix milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Marks {
    pub liked: HashMap<i64, i64>,
    pub banned: HashMap<i64, i64>,
}

impl Marks {
    pub fn is_liked(&self, track_id: i64) -> bool {
        self.liked.contains_key(&track_id)
    }

    pub fn is_banned(&self, track_id: i64) -> bool {
        self.banned.contains_key(&track_id)
    }

    /// Sets or clears `mark` on a track in memory, as [`crate::db::marks::set`] and the
    /// database's triggers do on disk: a track is liked or banned, not both, and of the two the
    /// one said last stands.
    pub fn set(&mut self, track_id: i64, mark: Mark, on: bool, now_ms: i64) {
        let (map, other) = match mark {
            Mark::Like => (&mut self.liked, &mut self.banned),
            Mark::Ban => (&mut self.banned, &mut self.liked),
        };
        if !on {
            map.remove(&track_id);
            return;
        }
        if map.contains_key(&track_id) || other.get(&track_id).is_some_and(|&at| at > now_ms) {
            return;
        }
        map.insert(track_id, now_ms);
        other.remove(&track_id);
    }
}
