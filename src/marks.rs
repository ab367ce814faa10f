//! What the listener said of tracks ([`Marks`], [`Mark`]): likes ("more like this") and bans
//! ("never queue this again"), each with the time it was said.

use std::collections::HashMap;

/// A like or a ban.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Like,
    Ban,
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

    /// Sets or clears `mark` on a track in memory, as [`crate::db::marks::set`] does on disk.
    pub fn set(&mut self, track_id: i64, mark: Mark, on: bool, now_ms: i64) {
        let map = match mark {
            Mark::Like => &mut self.liked,
            Mark::Ban => &mut self.banned,
        };
        if on {
            map.entry(track_id).or_insert(now_ms);
        } else {
            map.remove(&track_id);
        }
    }
}
