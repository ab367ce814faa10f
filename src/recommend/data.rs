//! Training data: the vocabulary ([`Vocab`], [`ItemMeta`]), sessions ([`Session`], [`Play`]) and
//! the padded rows and batches the model trains on ([`Row`], [`HostBatch`]).
//!
//! Item ids are dense and start at 1; 0 is padding. Side features (artist, album, genre, year
//! bucket) have their own small vocabularies where 0 means unknown.

use std::collections::HashMap;

#[cfg(feature = "reference")]
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::track::Track;

/// Side features of one item, as indices into the [`Vocab`]'s feature lists (0 = unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ItemFeatures {
    pub artist: u32,
    pub album: u32,
    pub genre: u32,
    pub year: u32,
}

/// One catalogue item: its stable key (see [`item_key`]) and side features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemMeta {
    pub key: String,
    pub features: ItemFeatures,
}

/// The dense id spaces of a model: items and side features, each in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vocab {
    /// `items[i]` is item id `i + 1`.
    pub items: Vec<ItemMeta>,
    /// Feature names; index `i` is feature id `i + 1`.
    pub artists: Vec<String>,
    pub albums: Vec<String>,
    pub genres: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
    #[serde(skip)]
    feature_index: [HashMap<String, u32>; 3],
}

/// Year buckets: unknown, then five-year spans from 1950 (earlier years share the first).
pub(crate) const YEAR_BUCKETS: usize = 1 + 17;

fn year_bucket(year: Option<i16>) -> u32 {
    match year {
        None => 0,
        Some(y) => 1 + ((y.clamp(1950, 2034) - 1950) / 5) as u32,
    }
}

/// The key that identifies a track across exports and the library: "artist\u{1f}title", lower-cased.
pub(crate) fn item_key(artist: &str, title: &str) -> String {
    format!("{}\u{1f}{}", artist.trim().to_lowercase(), title.trim().to_lowercase())
}

/// The name an album is known by among the features: its owner's ([`Track::album_owner`]) and
/// its own, since albums of different artists often share a title ("Greatest Hits"), while a
/// compilation's tracks of many artists are one album. Imported plays of tracks the library
/// lacks name no album artist, so a compilation heard only there is one album per artist.
fn album_key(track: &Track) -> Option<String> {
    track.album.as_deref().map(|a| {
        let owner = track.album_owner().map_or("", |n| n.trim());
        format!("{owner}\u{1f}{}", a.trim())
    })
}

/// The [`item_key`] of a library track.
pub fn item_key_of(track: &Track) -> String {
    item_key(track.artist.as_deref().unwrap_or(""), &track.title)
}

impl Vocab {
    /// Rebuilds the lookup tables after deserialising.
    pub(crate) fn reindex(&mut self) {
        self.index = self
            .items
            .iter()
            .enumerate()
            .map(|(i, m)| (m.key.clone(), i as u32 + 1))
            .collect();
        for (slot, names) in self
            .feature_index
            .iter_mut()
            .zip([&self.artists, &self.albums, &self.genres])
        {
            *slot = names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i as u32 + 1))
                .collect();
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn id(&self, key: &str) -> Option<u32> {
        self.index.get(key).copied()
    }

    /// The id of the item `key`, adding it (and the unseen features of `track`) when new.
    pub fn intern(&mut self, key: &str, track: &Track) -> u32 {
        if let Some(id) = self.id(key) {
            return id;
        }
        let features = self.features_adding(track);
        self.items.push(ItemMeta {
            key: key.to_owned(),
            features,
        });
        let id = self.items.len() as u32;
        self.index.insert(key.to_owned(), id);
        id
    }

    /// Feature ids of `info` without adding anything: unseen names map to 0 (unknown).
    pub(crate) fn features_of(&self, info: &Track) -> ItemFeatures {
        let look = |slot: usize, name: Option<&str>| {
            name.and_then(|n| self.feature_index[slot].get(&n.trim().to_lowercase()).copied())
                .unwrap_or(0)
        };
        ItemFeatures {
            artist: look(0, info.artist.as_deref()),
            album: look(1, album_key(info).as_deref()),
            genre: look(2, info.genre.as_deref()),
            year: year_bucket(info.year),
        }
    }

    fn features_adding(&mut self, info: &Track) -> ItemFeatures {
        let artist = self.feature_adding(0, info.artist.as_deref());
        let album = self.feature_adding(1, album_key(info).as_deref());
        let genre = self.feature_adding(2, info.genre.as_deref());
        ItemFeatures {
            artist,
            album,
            genre,
            year: year_bucket(info.year),
        }
    }

    fn feature_adding(&mut self, slot: usize, name: Option<&str>) -> u32 {
        let Some(name) = name.map(|n| n.trim().to_lowercase()).filter(|n| !n.is_empty()) else {
            return 0;
        };
        if let Some(&id) = self.feature_index[slot].get(&name) {
            return id;
        }
        let names = match slot {
            0 => &mut self.artists,
            1 => &mut self.albums,
            _ => &mut self.genres,
        };
        names.push(name.clone());
        let id = names.len() as u32;
        self.feature_index[slot].insert(name, id);
        id
    }

    /// Per item id, padding row 0 included: the artist, album, genre and year-bucket ids.
    pub(crate) fn feature_columns(&self) -> [Vec<u32>; 4] {
        let column = |f: fn(&ItemFeatures) -> u32| -> Vec<u32> {
            std::iter::once(0)
                .chain(self.items.iter().map(|m| f(&m.features)))
                .collect()
        };
        [
            column(|f| f.artist),
            column(|f| f.album),
            column(|f| f.genre),
            column(|f| f.year),
        ]
    }

    /// The first item whose artist, album, genre or year id is past its table, as "item N's
    /// FEATURE id": what a hand-edited or damaged vocabulary would make the model index out of.
    pub(crate) fn feature_out_of_range(&self) -> Option<String> {
        let sizes = self.feature_sizes();
        self.items.iter().enumerate().find_map(|(i, m)| {
            let f = &m.features;
            [
                ("artist", f.artist),
                ("album", f.album),
                ("genre", f.genre),
                ("year", f.year),
            ]
            .into_iter()
            .zip(sizes)
            .find(|&((_, id), size)| id as usize >= size)
            .map(|((name, id), size)| format!("item {}'s {name} id {id} is past its {size} rows", i + 1))
        })
    }

    /// Sizes of the feature tables, padding/unknown row included.
    pub(crate) fn feature_sizes(&self) -> [usize; 4] {
        [
            self.artists.len() + 1,
            self.albums.len() + 1,
            self.genres.len() + 1,
            YEAR_BUCKETS,
        ]
    }
}

/// One play inside a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Play {
    pub item: u32,
    pub skipped: bool,
    pub ts_ms: i64,
}

/// The plays of one listening session, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    pub plays: Vec<Play>,
}

/// Splits time-ordered plays into sessions wherever two consecutive plays are more than `gap_ms` apart.
pub(crate) fn sessionize(plays: &[Play], gap_ms: i64) -> Vec<Session> {
    let mut sessions: Vec<Session> = Vec::new();
    let mut last: Option<i64> = None;
    for play in plays {
        match (last, sessions.last_mut()) {
            (Some(prev), Some(session)) if play.ts_ms - prev <= gap_ms => session.plays.push(*play),
            _ => sessions.push(Session { plays: vec![*play] }),
        }
        last = Some(play.ts_ms);
    }
    sessions
}

/// Buckets of the time gap before a play: none (the first play known), then up to 1 minute,
/// 5 minutes, 30 minutes (the same session), 6 hours, a day, a week, and longer.
pub const GAP_BUCKETS: usize = 8;

/// The [`GAP_BUCKETS`] bucket of the gap between a play at `ts_ms` and the one before it.
pub fn gap_bucket(previous_ms: Option<i64>, ts_ms: i64) -> u32 {
    const MINUTE: i64 = 60_000;
    let Some(previous) = previous_ms else { return 0 };
    let gap = ts_ms - previous;
    [
        MINUTE,
        5 * MINUTE,
        30 * MINUTE,
        360 * MINUTE,
        1440 * MINUTE,
        7 * 1440 * MINUTE,
    ]
    .iter()
    .position(|&limit| gap <= limit)
    .map_or(GAP_BUCKETS as u32 - 1, |i| i as u32 + 1)
}

/// The model's input for one query: the last plays (item, skipped, gap bucket), oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub ids: Vec<u32>,
    pub skips: Vec<bool>,
    pub gaps: Vec<u32>,
}

impl Window {
    /// The window over `plays` (consecutive, oldest first); the first play's gap is measured from
    /// `before`, the play preceding them, when there is one.
    pub fn of(plays: &[Play], before: Option<&Play>) -> Window {
        let mut previous = before.map(|p| p.ts_ms);
        let mut gaps = Vec::with_capacity(plays.len());
        for p in plays {
            gaps.push(gap_bucket(previous, p.ts_ms));
            previous = Some(p.ts_ms);
        }
        Window {
            ids: plays.iter().map(|p| p.item).collect(),
            skips: plays.iter().map(|p| p.skipped).collect(),
            gaps,
        }
    }
}

/// One training row: a window of consecutive plays, right-padded to the batch length.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub ids: Vec<u32>,
    pub skips: Vec<bool>,
    pub gaps: Vec<u32>,
    /// Each input's number in the plays the rows were cut from (what history features are
    /// computed after): across all sessions for [`rows_from_history`], within each session for
    /// [`rows_from_sessions`].
    pub plays: Vec<u32>,
    /// Each input's session (an index into the sessions the rows were cut from).
    pub sessions: Vec<u32>,
    /// The next item of the same session at each position (0: none).
    pub targets: Vec<u32>,
    pub target_skipped: Vec<bool>,
    /// The next non-skipped item of the same session after each non-skipped position (0: no
    /// contrastive term here).
    pub positives: Vec<u32>,
    /// The distinct items skipped in the row's sessions, and the session of each.
    pub negatives: Vec<u32>,
    pub negative_sessions: Vec<u32>,
}

/// Most negatives kept per row; sessions rarely skip more distinct tracks than this.
pub(crate) const MAX_NEGATIVES: usize = 64;

/// Cuts each session into windows of at most `max_len` inputs, newest window first aligned to
/// the end: the session-only input of SASRec.
pub fn rows_from_sessions(sessions: &[(usize, &Session)], max_len: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for &(index, session) in sessions {
        rows.extend(rows_of(&[(index, session)], max_len));
    }
    rows
}

/// Cuts the whole history (all sessions, in order) into windows of at most `max_len` inputs that
/// cross session boundaries, newest window aligned to the end; targets stay within a session.
pub fn rows_from_history(sessions: &[Session], max_len: usize) -> Vec<Row> {
    let indexed: Vec<(usize, &Session)> = sessions.iter().enumerate().collect();
    rows_of(&indexed, max_len)
}

fn rows_of(sessions: &[(usize, &Session)], max_len: usize) -> Vec<Row> {
    struct At {
        play: Play,
        number: u32,
        session: u32,
        next: Option<Play>,
        next_listen: u32,
    }
    let mut all: Vec<At> = Vec::new();
    let mut skipped_in: Vec<Vec<u32>> = Vec::new();
    let mut number = 0u32;
    for (s, &(_, session)) in sessions.iter().enumerate() {
        let p = &session.plays;
        let mut negatives: Vec<u32> = Vec::new();
        for play in p.iter().filter(|p| p.skipped) {
            if !negatives.contains(&play.item) && negatives.len() < MAX_NEGATIVES {
                negatives.push(play.item);
            }
        }
        skipped_in.push(negatives);
        let mut upcoming = 0u32;
        let mut next_listen = vec![0u32; p.len()];
        for g in (0..p.len()).rev() {
            next_listen[g] = upcoming;
            if !p[g].skipped {
                upcoming = p[g].item;
            }
        }
        for (g, play) in p.iter().enumerate() {
            all.push(At {
                play: *play,
                number,
                session: s as u32,
                next: p.get(g + 1).copied(),
                next_listen: if play.skipped { 0 } else { next_listen[g] },
            });
            number += 1;
        }
    }
    let index_of: Vec<u32> = sessions.iter().map(|&(i, _)| i as u32).collect();
    // A row ends at the last play that has a next play in its session.
    let mut rows = Vec::new();
    let mut end = all.len();
    while end > 0 && all[end - 1].next.is_none() {
        end -= 1;
    }
    while end > 0 {
        let start = end.saturating_sub(max_len);
        let span = &all[start..end];
        let previous = start.checked_sub(1).map(|i| &all[i].play);
        let window = Window::of(&span.iter().map(|a| a.play).collect::<Vec<_>>(), previous);
        let mut negatives = Vec::new();
        let mut negative_sessions = Vec::new();
        let mut seen_sessions: Vec<u32> = span.iter().map(|a| a.session).collect();
        seen_sessions.dedup();
        for s in seen_sessions {
            for &item in &skipped_in[s as usize] {
                if negatives.len() < MAX_NEGATIVES {
                    negatives.push(item);
                    negative_sessions.push(index_of[s as usize]);
                }
            }
        }
        rows.push(Row {
            ids: window.ids,
            skips: window.skips,
            gaps: window.gaps,
            plays: span.iter().map(|a| a.number).collect(),
            sessions: span.iter().map(|a| index_of[a.session as usize]).collect(),
            targets: span.iter().map(|a| a.next.map_or(0, |n| n.item)).collect(),
            target_skipped: span.iter().map(|a| a.next.is_some_and(|n| n.skipped)).collect(),
            positives: span.iter().map(|a| a.next_listen).collect(),
            negatives,
            negative_sessions,
        });
        end = start;
    }
    rows
}

/// A position the history-feature model is trained at: the flat index of its input in the
/// batch, the play it follows (for the features), the next item (0-based) and whether that next
/// play was skipped (the not-to-recommend term) or finished (the next-item term).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryAt {
    pub at: u32,
    pub play: u32,
    pub target: u32,
    pub skipped: bool,
}

/// Rows stacked into flat vectors, padded to the longest row: what [`Batch`] holds as tensors,
/// for the fused training step ([`super::step`]), which works on plain buffers.
#[derive(Debug, Clone, Default)]
pub struct HostBatch {
    /// Rows B, positions T and negatives per row K.
    pub b: usize,
    pub t: usize,
    pub k: usize,
    pub ids: Vec<u32>,
    pub skips: Vec<u32>,
    pub gaps: Vec<u32>,
    pub rec_positions: Vec<u32>,
    pub rec_targets: Vec<u32>,
    /// The history-feature model's positions, row by row (see [`QueryAt`]).
    pub queries: Vec<QueryAt>,
    pub positives: Vec<u32>,
    pub negatives: Vec<u32>,
    /// [B * T, K + 1], 0 or [`MASKED`].
    pub cl_mask: Vec<f32>,
    pub cl_valid: Vec<f32>,
}

#[cfg(feature = "reference")]
/// Rows stacked into tensors, padded to the longest row.
pub struct Batch {
    pub ids: Tensor,
    pub skips: Tensor,
    pub gaps: Tensor,
    /// Flat indices (into `B * T`) of positions with a next-item target, and those targets (0-based).
    pub rec_positions: Tensor,
    pub rec_targets: Tensor,
    pub rec_count: usize,
    /// Positive ids per position (0 where the contrastive term is off).
    pub positives: Tensor,
    /// Negative ids per row, padded with 0.
    pub negatives: Tensor,
    /// Additive mask over [positive, negatives...] per position: 0 or a large negative.
    pub cl_mask: Tensor,
    /// 1 where the contrastive term applies.
    pub cl_valid: Tensor,
    pub cl_count: usize,
    pub len: usize,
    pub host: HostBatch,
    /// The history features of each query ([Q, K, V]), for a model that has them.
    pub features: Option<Tensor>,
}

/// Large negative used for masking; finite so that fully masked rows stay finite.
pub const MASKED: f32 = -1e9;

impl HostBatch {
    /// Positions where the contrastive term applies.
    pub(crate) fn cl_count(&self) -> usize {
        self.cl_valid.iter().filter(|&&v| v > 0.0).count()
    }

    /// Stacks rows; `rec_on_skipped` keeps skipped next tracks as next-item targets;
    /// `skipped_queries` keeps positions whose next play was skipped among the queries.
    pub fn new(rows: &[&Row], rec_on_skipped: bool, skipped_queries: bool) -> HostBatch {
        let b = rows.len();
        let t = rows.iter().map(|r| r.ids.len()).max().unwrap_or(1).max(1);
        let k = rows.iter().map(|r| r.negatives.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0u32; b * t];
        let mut skips = vec![0u32; b * t];
        let mut gaps = vec![0u32; b * t];
        let mut positives = vec![0u32; b * t];
        let mut negatives = vec![0u32; b * k];
        let mut cl_mask = vec![MASKED; b * t * (k + 1)];
        let mut cl_valid = vec![0f32; b * t];
        let (mut rec_positions, mut rec_targets) = (Vec::new(), Vec::new());
        let mut queries = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            negatives[r * k..r * k + row.negatives.len()].copy_from_slice(&row.negatives);
            for (i, &id) in row.ids.iter().enumerate() {
                let at = r * t + i;
                ids[at] = id;
                skips[at] = u32::from(row.skips[i]);
                gaps[at] = row.gaps[i];
                let target = row.targets[i];
                if target != 0 && (rec_on_skipped || !row.target_skipped[i]) {
                    rec_positions.push(at as u32);
                    rec_targets.push(target - 1);
                }
                if target != 0 && (skipped_queries || !row.target_skipped[i]) {
                    queries.push(QueryAt {
                        at: at as u32,
                        play: row.plays[i],
                        target: target - 1,
                        skipped: row.target_skipped[i],
                    });
                }
                let positive = row.positives[i];
                // Negatives only from the position's own session, never the positive itself.
                let usable: Vec<usize> = (0..row.negatives.len())
                    .filter(|&n| row.negatives[n] != positive && row.negative_sessions[n] == row.sessions[i])
                    .collect();
                if positive != 0 && !usable.is_empty() {
                    positives[at] = positive;
                    cl_valid[at] = 1.0;
                    let mask = &mut cl_mask[at * (k + 1)..(at + 1) * (k + 1)];
                    mask[0] = 0.0;
                    for n in usable {
                        mask[1 + n] = 0.0;
                    }
                }
            }
        }
        HostBatch {
            b,
            t,
            k,
            ids,
            skips,
            gaps,
            rec_positions,
            rec_targets,
            queries,
            positives,
            negatives,
            cl_mask,
            cl_valid,
        }
    }
}

#[cfg(feature = "reference")]
impl Batch {
    /// Stacks rows; `rec_on_skipped` keeps skipped next tracks as next-item targets.
    pub fn new(
        rows: &[&Row],
        rec_on_skipped: bool,
        skipped_queries: bool,
        device: &Device,
    ) -> candle_core::Result<Batch> {
        let host = HostBatch::new(rows, rec_on_skipped, skipped_queries);
        let (b, t, k) = (host.b, host.t, host.k);
        let rec_count = host.rec_positions.len();
        let cl_count = host.cl_count();
        Ok(Batch {
            ids: Tensor::from_slice(&host.ids, (b, t), device)?,
            skips: Tensor::from_slice(&host.skips, (b, t), device)?,
            gaps: Tensor::from_slice(&host.gaps, (b, t), device)?,
            rec_positions: Tensor::from_slice(&host.rec_positions, rec_count, device)?,
            rec_targets: Tensor::from_slice(&host.rec_targets, rec_count, device)?,
            rec_count,
            positives: Tensor::from_slice(&host.positives, (b, t), device)?,
            negatives: Tensor::from_slice(&host.negatives, (b, k), device)?,
            cl_mask: Tensor::from_slice(&host.cl_mask, (b, t, k + 1), device)?,
            cl_valid: Tensor::from_slice(&host.cl_valid, (b, t), device)?,
            cl_count,
            len: t,
            host,
            features: None,
        })
    }

    /// Adds the history features of every query, read from `timeline`.
    #[cfg(feature = "reference")]
    pub fn with_features(mut self, timeline: &super::features::Timeline) -> candle_core::Result<Batch> {
        let n = timeline.n_items();
        let block = super::features::N_COLUMNS * n;
        let mut values = vec![0f32; self.host.queries.len() * block];
        for (query, out) in self.host.queries.iter().zip(values.chunks_mut(block)) {
            timeline.fill(&[query.play], out);
        }
        let q = self.host.queries.len();
        self.features = Some(Tensor::from_vec(
            values,
            (q, super::features::N_COLUMNS, n),
            self.ids.device(),
        )?);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(title: &str, artist: &str, album: &str) -> Track {
        Track {
            title: title.to_owned(),
            artist: Some(artist.into()),
            album: Some(album.into()),
            genre: Some("Folk".into()),
            year: Some(1999),
            ..Track::default()
        }
    }

    #[test]
    fn a_track_never_played_finds_the_features_its_album_and_artist_were_learned_under() {
        let mut vocab = Vocab::default();
        let played = track("One", "Low", "Things We Lost in the Fire");
        let id = vocab.intern(&item_key_of(&played), &played);
        let learned = vocab.items[id as usize - 1].features;
        assert_eq!(vocab.features_of(&played), learned);
        // Another song of that album, never played: same artist, album, genre and era.
        let cold = vocab.features_of(&track("Sunflower", "LOW ", "things we lost in the fire"));
        assert_eq!(cold, learned);
        assert!(learned.album > 0 && learned.artist > 0);
        // The same album title by someone else is another album.
        assert_eq!(
            vocab
                .features_of(&track("X", "Other", "Things We Lost in the Fire"))
                .album,
            0
        );
    }

    #[test]
    fn a_compilations_tracks_of_many_artists_are_one_album() {
        let mut vocab = Vocab::default();
        let on_compilation = |title: &str, artist: &str| Track {
            album_artist: Some("Various Artists".into()),
            ..track(title, artist, "Kompakt Total 3")
        };
        let first = on_compilation("Can", "Superpitcher");
        let id = vocab.intern(&item_key_of(&first), &first);
        let album = vocab.items[id as usize - 1].features.album;
        assert!(album > 0);
        assert_eq!(
            vocab.features_of(&on_compilation("Tuning", "Jürgen Paape")).album,
            album
        );
        // Without the album artist, the track is filed under its own artist's album of that title.
        assert_eq!(
            vocab
                .features_of(&track("Tuning", "Jürgen Paape", "Kompakt Total 3"))
                .album,
            0
        );
    }
}
