//! History features ([`HistoryStats`], [`FEATURES`], [`Timeline`], [`ItemGroups`]): what the
//! listening log says about every track at a given moment, with no neural model. Session
//! co-occurrence with the last plays, how recently and how often a track was finished or skipped,
//! whether it was finished or skipped in this session, how long ago it last played, whether it
//! was liked by then, and whether its artist or album is the one playing.
//!
//! The default model scores a track as `Σ_k w_k(h) · f_k + h · e` (see [`super::model`]): these
//! are the `f_k`. They are computed by one function, [`fill_features`], at serving time (over the
//! whole log) and at training time (over the log as it was at each training position, rebuilt
//! by [`Timeline`] from snapshots), so the model trains on exactly what it is served.

use std::sync::Arc;

use super::data::{Play, Session, Vocab};

/// How many earlier plays of a session a play is linked to, with weight 1/distance.
pub(crate) const WINDOW: usize = 5;
const DAY_MS: f64 = 86_400_000.0;
const DAY_HALF_LIFE_DAYS: f32 = 1.0;
const SHORT_HALF_LIFE_DAYS: f32 = 7.0;
const LONG_HALF_LIFE_DAYS: f32 = 90.0;
/// Plays between two snapshots of the per-track state kept by a [`Timeline`].
const SNAPSHOT_EVERY: usize = 256;

/// The history features, in the order of the model's feature weights. Reasons name them.
pub const FEATURES: [&str; 17] = [
    "follows recent plays",
    "listens today",
    "recent listens",
    "long-term listens",
    "recent skips",
    "finished this session",
    "skipped this session",
    "times finished",
    "times skipped",
    "played before",
    "days since last play",
    "plays since last play",
    "liked",
    "same artist as the last play",
    "artist finished this session",
    "artist skipped this session",
    "same album as the last play",
];
pub const N_FEATURES: usize = FEATURES.len();
/// The column after the learned features: the finish prior, `ln_finish` of a track's counts less
/// that of a track never played. It has no learned weight: training adds it to the logits with
/// the weight serving adds it with, so that the model learns what the served score lacks
/// (see [`super::rank::served_scores`]).
pub(crate) const FINISH_PRIOR: usize = N_FEATURES;
/// Columns [`fill_features`] writes per track: the features, then the finish prior.
pub const N_COLUMNS: usize = N_FEATURES + 1;
pub(crate) const FOLLOWS: usize = 0;
pub(crate) const TIMES_FINISHED: usize = 7;
pub(crate) const LIKED: usize = 12;

/// The artist and the album of every item (item id - 1 at index; 0 when unknown): what the
/// session's artist and album features compare. Music is heard by the album and the artist, so
/// what plays next is often the next track of the same record, or more of the same artist,
/// including tracks never played before.
#[derive(Debug, Clone, Default)]
pub struct ItemGroups {
    artist: Vec<u32>,
    album: Vec<u32>,
    /// Per artist id and per album id: one past the highest index of an item of it, so that
    /// the features' mark covers every track the session's artists and albums have.
    artist_end: Vec<u32>,
    album_end: Vec<u32>,
}

impl ItemGroups {
    pub fn of(vocab: &Vocab) -> Arc<ItemGroups> {
        Arc::new(Self::new(
            vocab.items.iter().map(|i| i.features.artist).collect(),
            vocab.items.iter().map(|i| i.features.album).collect(),
        ))
    }

    /// `n` items of no known artist or album.
    #[cfg(test)]
    pub fn unknown(n: usize) -> Arc<ItemGroups> {
        Arc::new(Self::new(vec![0; n], vec![0; n]))
    }

    fn new(artist: Vec<u32>, album: Vec<u32>) -> ItemGroups {
        let ends = |ids: &[u32]| {
            let mut end = vec![0u32; ids.iter().max().map_or(0, |&m| m as usize + 1)];
            for (j, &id) in ids.iter().enumerate() {
                end[id as usize] = j as u32 + 1;
            }
            end
        };
        ItemGroups {
            artist_end: ends(&artist),
            album_end: ends(&album),
            artist,
            album,
        }
    }

    /// One past the highest item index that shares an artist with a play of `session` or the
    /// album of its last play (0 when none is known).
    fn end_of(&self, session: &[(u32, bool)]) -> usize {
        let end = |ends: &[u32], id: u32| {
            if id == 0 {
                0
            } else {
                ends.get(id as usize).copied().unwrap_or(0) as usize
            }
        };
        let artists = session
            .iter()
            .map(|&(item, _)| end(&self.artist_end, self.of_item(item).0));
        let album = session
            .last()
            .map_or(0, |&(item, _)| end(&self.album_end, self.of_item(item).1));
        artists.max().unwrap_or(0).max(album)
    }

    pub fn len(&self) -> usize {
        self.artist.len()
    }

    pub fn is_empty(&self) -> bool {
        self.artist.is_empty()
    }

    /// (artist, album) of item `item`; (0, 0) outside the items.
    fn of_item(&self, item: u32) -> (u32, u32) {
        (item as usize)
            .checked_sub(1)
            .and_then(|j| Some((*self.artist.get(j)?, *self.album.get(j)?)))
            .unwrap_or((0, 0))
    }
}

/// Days since 2000-01-01 as f32: about 90 s of resolution over this century, plenty for decays
/// measured in weeks, and plain f32 so that the feature loop vectorises.
fn day_of(ts_ms: i64) -> f32 {
    const EPOCH_2000_MS: i64 = 946_684_800_000;
    ((ts_ms - EPOCH_2000_MS) as f64 / DAY_MS) as f32
}

/// "Never" as a day: far enough in the past that every decay from it is 0.
const NEVER: f32 = -1.0e7;
/// "Not liked" as a day.
const NOT_LIKED: f32 = f32::MAX;

/// What the log says about every track so far, one array per field (indexed by item id - 1) so
/// that [`fill_features`] runs over them in vector lanes. Decayed values are stored as of the
/// day they last changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemStates {
    listens: Vec<u32>,
    skips: Vec<u32>,
    /// ln(1 + listens), ln(1 + skips) and ln(listens + skips + PRIOR_PLAYS): the logarithms that
    /// depend on a track's counts alone, worked out when they change rather than for every track
    /// at every position (they were a quarter of the features' cost).
    ln_listens: Vec<f32>,
    ln_skips: Vec<f32>,
    ln_plays_and_prior: Vec<f32>,
    day_listens: Vec<f32>,
    short_listens: Vec<f32>,
    long_listens: Vec<f32>,
    /// The day of the last listen (both listen decays are bumped together), of the last skip,
    /// and of the last play of either kind; [`NEVER`] before the first.
    listen_day: Vec<f32>,
    short_skips: Vec<f32>,
    skip_day: Vec<f32>,
    last_day: Vec<f32>,
    /// The number of the last play of the track in the log (plays counted from 1), 0 before it.
    last_play: Vec<u32>,
    /// [`NOT_LIKED`] when not liked.
    liked_day: Vec<f32>,
    /// One past the highest index of an item played or liked so far: every feature of the items
    /// from here on is 0.
    touched: usize,
    listens_total: u64,
    skips_total: u64,
}

/// `value` decayed over `age_days` with the given half-life.
#[inline(always)]
fn decayed(value: f32, age_days: f32, half_life_days: f32) -> f32 {
    value * super::step::kernels::exp(-age_days.max(0.0) * (std::f32::consts::LN_2 / half_life_days))
}

impl ItemStates {
    fn len(&self) -> usize {
        self.listens.len()
    }

    fn resize(&mut self, n: usize) {
        self.listens.resize(n, 0);
        self.skips.resize(n, 0);
        self.ln_listens.resize(n, ln_1p(0.0));
        self.ln_skips.resize(n, ln_1p(0.0));
        self.ln_plays_and_prior.resize(n, fast_ln(PRIOR_PLAYS));
        self.day_listens.resize(n, 0.0);
        self.short_listens.resize(n, 0.0);
        self.long_listens.resize(n, 0.0);
        self.listen_day.resize(n, NEVER);
        self.short_skips.resize(n, 0.0);
        self.skip_day.resize(n, NEVER);
        self.last_day.resize(n, NEVER);
        self.last_play.resize(n, 0);
        self.liked_day.resize(n, NOT_LIKED);
    }

    /// Records play number `play` (counted from 1) of item j + 1.
    fn observe(&mut self, j: usize, play: u32, skipped: bool, ts_ms: i64) {
        let day = day_of(ts_ms);
        self.touched = self.touched.max(j + 1);
        self.last_play[j] = play;
        if skipped {
            self.skips_total += 1;
            self.skips[j] += 1;
            self.short_skips[j] = decayed(self.short_skips[j], day - self.skip_day[j], SHORT_HALF_LIFE_DAYS) + 1.0;
            self.skip_day[j] = day.max(self.skip_day[j]);
        } else {
            self.listens_total += 1;
            self.listens[j] += 1;
            let age = day - self.listen_day[j];
            self.day_listens[j] = decayed(self.day_listens[j], age, DAY_HALF_LIFE_DAYS) + 1.0;
            self.short_listens[j] = decayed(self.short_listens[j], age, SHORT_HALF_LIFE_DAYS) + 1.0;
            self.long_listens[j] = decayed(self.long_listens[j], age, LONG_HALF_LIFE_DAYS) + 1.0;
            self.listen_day[j] = day.max(self.listen_day[j]);
        }
        let (listens, skips) = (self.listens[j] as f32, self.skips[j] as f32);
        self.ln_listens[j] = ln_1p(listens);
        self.ln_skips[j] = ln_1p(skips);
        self.ln_plays_and_prior[j] = fast_ln(listens + skips + PRIOR_PLAYS);
        self.last_day[j] = day.max(self.last_day[j]);
    }
}

/// b finished shortly after a in a session: the play's number in the log, b, and 1/distance.
#[derive(Debug, Clone, Copy)]
struct Follow {
    play: u32,
    next: u32,
    weight: f32,
}

/// Per-item history, indexed by item id - 1, as of the plays observed so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct HistoryStats {
    items: ItemStates,
    /// `follows[a]`, in play order: what followed item a + 1. Kept as events (not sums) so that a
    /// [`Timeline`] can read co-occurrence as it was at any earlier play.
    follows: Vec<Vec<Follow>>,
    plays_seen: u32,
    groups: Arc<ItemGroups>,
}

impl HistoryStats {
    pub(crate) fn new(groups: Arc<ItemGroups>) -> Self {
        let n_items = groups.len();
        let mut stats = HistoryStats {
            groups,
            ..HistoryStats::default()
        };
        stats.items.resize(n_items);
        stats.follows.resize_with(n_items, Vec::new);
        stats
    }

    pub(crate) fn n_items(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn groups(&self) -> &ItemGroups {
        &self.groups
    }

    /// (listens, skips) of item `item` so far.
    pub(crate) fn counts(&self, item: u32) -> (u32, u32) {
        match (item as usize).checked_sub(1).filter(|&j| j < self.n_items()) {
            Some(j) => (self.items.listens[j], self.items.skips[j]),
            None => (0, 0),
        }
    }

    /// Marks `item` liked from `at_ms` on (a like is a feature only after it was given).
    pub(crate) fn like(&mut self, item: u32, at_ms: i64) {
        if let Some(j) = (item as usize).checked_sub(1).filter(|&j| j < self.n_items()) {
            self.items.liked_day[j] = day_of(at_ms);
            self.items.touched = self.items.touched.max(j + 1);
        }
    }

    /// Records a play that followed `session` (the earlier plays of its session). Plays of items
    /// outside the vocabulary (id 0) still count as plays, so play numbers match the log's.
    pub(crate) fn observe(&mut self, session: &[(u32, bool)], item: u32, skipped: bool, ts_ms: i64) {
        let play = self.plays_seen;
        self.plays_seen += 1;
        let Some(j) = (item as usize).checked_sub(1).filter(|&j| j < self.n_items()) else {
            return;
        };
        self.items.observe(j, play + 1, skipped, ts_ms);
        if skipped {
            return;
        }
        for (k, &(earlier, _)) in session.iter().rev().take(WINDOW).enumerate() {
            if let Some(row) = (earlier as usize).checked_sub(1).and_then(|a| self.follows.get_mut(a)) {
                row.push(Follow {
                    play,
                    next: item,
                    weight: 1.0 / (k + 1) as f32,
                });
            }
        }
    }

    /// How strongly `item` follows the session's last plays; the largest contributor is returned too.
    pub(crate) fn follow_score(&self, session: &[(u32, bool)], item: u32) -> (f32, Option<u32>) {
        let mut best: (f32, Option<u32>) = (0.0, None);
        let mut total = 0.0;
        for (k, &(earlier, _)) in session.iter().rev().take(WINDOW).enumerate() {
            let Some(row) = (earlier as usize).checked_sub(1).and_then(|a| self.follows.get(a)) else {
                continue;
            };
            let s: f32 = row.iter().filter(|f| f.next == item).map(|f| f.weight).sum::<f32>() / (k + 1) as f32;
            total += s;
            if s > best.0 {
                best = (s, Some(earlier));
            }
        }
        (total, best.1)
    }

    /// The log-probability that each of `counts` ((listens, skips) per candidate) is finished
    /// rather than skipped: the posterior mean under a prior centred on the log's overall finish
    /// rate, so that a track never played counts as average.
    pub(crate) fn ln_finish(&self, counts: (u32, u32)) -> f32 {
        ln_finish((self.items.listens_total, self.items.skips_total), counts)
    }

    /// Fills `out` ([`N_COLUMNS`] × n_items, feature-major) for the moment after `session`, at `now_ms`.
    pub(crate) fn features(&self, session: &[(u32, bool)], now_ms: i64, out: &mut [f32]) {
        fill_features(
            &self.items,
            &self.follows,
            &self.groups,
            self.plays_seen,
            session,
            now_ms,
            out,
        );
    }
}

/// The log-probability that a track with `(listens, skips)` is finished when it plays, given the
/// log's total listens and skips (see [`HistoryStats::ln_finish`]).
pub(crate) fn ln_finish(totals: (u64, u64), (listens, skips): (u32, u32)) -> f32 {
    ln_finish_after(prior_listens(totals), listens as f32, skips as f32)
}

/// [`ln_finish`] given the prior's listens ([`prior_listens`]): the one formula, which the
/// features' kernel runs for every track.
#[inline(always)]
fn ln_finish_after(prior: f32, listens: f32, skips: f32) -> f32 {
    fast_ln(listens + prior) - fast_ln(listens + skips + PRIOR_PLAYS)
}

/// Plays a track's finish rate is shrunk with, towards the log's overall rate.
const PRIOR_PLAYS: f32 = 2.0;

/// The prior's share of listens in [`PRIOR_PLAYS`]: the log's overall finish rate (from totals
/// of listens and skips), smoothed.
fn prior_listens((all_listens, all_skips): (u64, u64)) -> f32 {
    let overall = (all_listens as f32 + 1.0) / ((all_listens + all_skips) as f32 + 2.0);
    PRIOR_PLAYS * overall
}

/// The one computation of the features: per-track state `items` after `upto` plays (so
/// co-occurrence events from plays before number `upto`), the session so far and the moment
/// `now_ms`. It runs for every track at every training and validation position: most of a
/// retrain, so it is compiled for AVX2 where the CPU has it (the same results, twice the lanes).
///
/// Returns a multiple of 8 (or the item count) from which on every feature is 0: the tracks
/// never played or liked yet, which a training position early in the log has many of.
fn fill_features(
    items: &ItemStates,
    follows: &[Vec<Follow>],
    groups: &ItemGroups,
    upto: u32,
    session: &[(u32, bool)],
    now_ms: i64,
    out: &mut [f32],
) -> usize {
    super::step::simd::dispatch(
        #[inline(always)]
        || fill_features_kernel(items, follows, groups, upto, session, now_ms, out),
    )
}

#[inline(always)]
fn fill_features_kernel(
    items: &ItemStates,
    follows: &[Vec<Follow>],
    groups: &ItemGroups,
    upto: u32,
    session: &[(u32, bool)],
    now_ms: i64,
    out: &mut [f32],
) -> usize {
    let n = items.len();
    // Items from `m` on were never played or liked, nor are in the session: all their features
    // are 0. A multiple of 8 keeps sums over the first `m` in the same lanes as over all n.
    let in_session = session
        .iter()
        .map(|&(item, _)| item as usize)
        .filter(|&item| item <= n)
        .max();
    // The session's artists and album give their tracks features, played or not.
    let m = items
        .touched
        .max(in_session.unwrap_or(0))
        .max(groups.end_of(session))
        .next_multiple_of(8)
        .min(n);
    for column in out.chunks_mut(n) {
        column[m..].fill(0.0);
    }
    let (follow, rest) = out.split_at_mut(n);
    follow[..m].fill(0.0);
    for (k, &(earlier, _)) in session.iter().rev().take(WINDOW).enumerate() {
        let Some(row) = (earlier as usize).checked_sub(1).and_then(|a| follows.get(a)) else {
            continue;
        };
        let scale = 1.0 / (k + 1) as f32;
        for f in row.iter().take_while(|f| f.play < upto) {
            if let Some(slot) = follow.get_mut(f.next as usize - 1) {
                *slot += f.weight * scale;
            }
        }
    }
    for v in follow[..m].iter_mut() {
        *v = ln_1p(*v);
    }
    let mut columns = rest.chunks_mut(n);
    let mut next = || columns.next().unwrap_or_default();
    let (day_l, short_l, long_l, short_s, finished, skipped) = (next(), next(), next(), next(), next(), next());
    let (times_l, times_s, played, since, plays_since, liked) = (next(), next(), next(), next(), next(), next());
    let (same_artist, artist_finished, artist_skipped, same_album) = (next(), next(), next(), next());
    let finish_prior = next();
    let today = day_of(now_ms);
    // One pass per group of columns, over plain f32 arrays cut to one length first, so that no
    // bounds check stays in a loop and each loop vectorises.
    let (day_l, short_l, long_l, short_s) = (&mut day_l[..m], &mut short_l[..m], &mut long_l[..m], &mut short_s[..m]);
    let (listen_day, skip_day) = (&items.listen_day[..m], &items.skip_day[..m]);
    let (day_listens, short_listens) = (&items.day_listens[..m], &items.short_listens[..m]);
    let (long_listens, short_skips) = (&items.long_listens[..m], &items.short_skips[..m]);
    for j in 0..m {
        let age = today - listen_day[j];
        day_l[j] = ln_1p(decayed(day_listens[j], age, DAY_HALF_LIFE_DAYS));
        short_l[j] = ln_1p(decayed(short_listens[j], age, SHORT_HALF_LIFE_DAYS));
        long_l[j] = ln_1p(decayed(long_listens[j], age, LONG_HALF_LIFE_DAYS));
        short_s[j] = ln_1p(decayed(short_skips[j], today - skip_day[j], SHORT_HALF_LIFE_DAYS));
    }
    times_l[..m].copy_from_slice(&items.ln_listens[..m]);
    times_s[..m].copy_from_slice(&items.ln_skips[..m]);
    let (listens, ln_plays_and_prior) = (&items.listens[..m], &items.ln_plays_and_prior[..m]);
    let finish_prior = &mut finish_prior[..m];
    let prior = prior_listens((items.listens_total, items.skips_total));
    let unplayed = ln_finish_after(prior, 0.0, 0.0);
    for j in 0..m {
        // ln_finish_after(prior, l, s), its second logarithm kept per track.
        finish_prior[j] = (fast_ln(listens[j] as f32 + prior) - ln_plays_and_prior[j]) - unplayed;
    }
    let (played, since, plays_since, liked) = (
        &mut played[..m],
        &mut since[..m],
        &mut plays_since[..m],
        &mut liked[..m],
    );
    let (last_day, last_play, liked_day) = (&items.last_day[..m], &items.last_play[..m], &items.liked_day[..m]);
    for j in 0..m {
        let ever = last_day[j] > NEVER;
        played[j] = if ever { 1.0 } else { 0.0 };
        since[j] = if ever { ln_1p(today - last_day[j]) } else { 0.0 };
        let last = last_play[j];
        plays_since[j] = if last > 0 {
            ln_1p(upto.saturating_sub(last) as f32)
        } else {
            0.0
        };
        liked[j] = if liked_day[j] <= today { 1.0 } else { 0.0 };
    }
    finished[..m].fill(0.0);
    skipped[..m].fill(0.0);
    for &(item, was_skipped) in session {
        if let Some(j) = (item as usize).checked_sub(1).filter(|&j| j < n) {
            if was_skipped {
                skipped[j] = 1.0;
            } else {
                finished[j] = 1.0;
            }
        }
    }
    fill_group_features(
        groups,
        session,
        [
            &mut same_artist[..m],
            &mut artist_finished[..m],
            &mut artist_skipped[..m],
            &mut same_album[..m],
        ],
    );
    m
}

/// The columns of the session's artists and album, in their order: whether a track is by the
/// last play's artist, ln(1 + the session's finished and skipped plays of its artist), whether
/// it is on the last play's album.
pub(crate) const GROUP_COLUMNS: [usize; 4] = [13, 14, 15, 16];

/// What the session says of artists and albums: its last play's artist and album, and the
/// finished and skipped plays of each of its artists (ids of the vocabulary's tables, 0 unknown).
pub(crate) struct SessionGroups {
    last_artist: u32,
    last_album: u32,
    /// (artist, ln(1 + finished), ln(1 + skipped)): a few artists.
    artists: Vec<(u32, f32, f32)>,
}

impl SessionGroups {
    pub(crate) fn of(groups: &ItemGroups, session: &[(u32, bool)]) -> SessionGroups {
        let (last_artist, last_album) = session.last().map_or((0, 0), |&(item, _)| groups.of_item(item));
        let mut counts: Vec<(u32, f32, f32)> = Vec::new();
        for &(item, skipped) in session {
            let (a, _) = groups.of_item(item);
            if a == 0 {
                continue;
            }
            let slot = match counts.iter().position(|c| c.0 == a) {
                Some(i) => i,
                None => {
                    counts.push((a, 0.0, 0.0));
                    counts.len() - 1
                }
            };
            if skipped {
                counts[slot].2 += 1.0;
            } else {
                counts[slot].1 += 1.0;
            }
        }
        SessionGroups {
            last_artist,
            last_album,
            artists: counts.into_iter().map(|(a, f, s)| (a, ln_1p(f), ln_1p(s))).collect(),
        }
    }

    /// The [`GROUP_COLUMNS`] of a track of `artist` and `album` that is no item of the model:
    /// what [`fill_group_features`] gives an item of them.
    pub(crate) fn columns(&self, artist: u32, album: u32) -> [f32; 4] {
        // Most tracks the model has no item for are of artists it has never seen (id 0).
        if artist == 0 && album == 0 {
            return [0.0; 4];
        }
        let (finished, skipped) = match artist {
            0 => (0.0, 0.0),
            _ => self
                .artists
                .iter()
                .find(|c| c.0 == artist)
                .map_or((0.0, 0.0), |c| (c.1, c.2)),
        };
        let flag = |hit: bool| if hit { 1.0 } else { 0.0 };
        [
            flag(artist != 0 && artist == self.last_artist),
            finished,
            skipped,
            flag(album != 0 && album == self.last_album),
        ]
    }
}

/// The artist and album columns over the first m tracks (every track of the session's artists
/// and its last album is among them): whether a track is by the last play's artist or on its
/// album, and ln(1 + the session's finished and skipped plays of its artist).
#[inline(always)]
fn fill_group_features(groups: &ItemGroups, session: &[(u32, bool)], columns: [&mut [f32]; 4]) {
    let [same_artist, artist_finished, artist_skipped, same_album] = columns;
    let m = same_artist.len();
    let (artist, album) = (
        &groups.artist[..m.min(groups.len())],
        &groups.album[..m.min(groups.len())],
    );
    for column in [
        &mut *same_artist,
        &mut *artist_finished,
        &mut *artist_skipped,
        &mut *same_album,
    ] {
        column.fill(0.0);
    }
    if artist.len() < m {
        return;
    }
    let said = SessionGroups::of(groups, session);
    if said.last_artist != 0 {
        for j in 0..m {
            same_artist[j] = if artist[j] == said.last_artist { 1.0 } else { 0.0 };
        }
    }
    if said.last_album != 0 {
        for j in 0..m {
            same_album[j] = if album[j] == said.last_album { 1.0 } else { 0.0 };
        }
    }
    // A few artists, each one pass over the tracks.
    for &(a, f, s) in &said.artists {
        for j in 0..m {
            let hit = artist[j] == a;
            artist_finished[j] += if hit { f } else { 0.0 };
            artist_skipped[j] += if hit { s } else { 0.0 };
        }
    }
}

/// ln(1 + x) for x >= 0, to about 1e-6, without libm: it runs for every track at every
/// training position, where libm's `log1pf` was most of the time.
#[inline(always)]
fn ln_1p(x: f32) -> f32 {
    fast_ln(1.0 + x.max(0.0))
}

/// ln y for a normal, positive y, to about 1e-6 (see [`ln_1p`]).
#[inline(always)]
fn fast_ln(y: f32) -> f32 {
    let bits = y.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // ln m = 2 atanh((m - 1) / (m + 1)), with |s| <= 1/3 for m in [1, 2).
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = s * (2.0 + s2 * (2.0 / 3.0 + s2 * (0.4 + s2 * (2.0 / 7.0 + s2 * (2.0 / 9.0 + s2 * (2.0 / 11.0))))));
    exponent as f32 * std::f32::consts::LN_2 + series
}

/// The history as it was at every play of a training slice: features at any position, rebuilt
/// from a snapshot of the per-track state and the plays since.
pub struct Timeline {
    plays: Vec<Play>,
    /// Per play, the index of its session's first play.
    session_start: Vec<u32>,
    /// The per-track state before play `i * SNAPSHOT_EVERY`.
    snapshots: Vec<ItemStates>,
    follows: Vec<Vec<Follow>>,
    groups: Arc<ItemGroups>,
}

impl Timeline {
    /// The timeline of `sessions` (in order) over the items of `groups`; `likes` are (item, liked at).
    pub fn new(sessions: &[Session], groups: Arc<ItemGroups>, likes: &[(u32, i64)]) -> Timeline {
        let mut stats = HistoryStats::new(groups);
        for &(item, at) in likes {
            stats.like(item, at);
        }
        let mut plays = Vec::new();
        let mut session_start = Vec::new();
        let mut snapshots = Vec::new();
        for session in sessions {
            let start = plays.len() as u32;
            let mut prefix: Vec<(u32, bool)> = Vec::with_capacity(session.plays.len());
            for play in &session.plays {
                if plays.len().is_multiple_of(SNAPSHOT_EVERY) {
                    snapshots.push(stats.items.clone());
                }
                stats.observe(&prefix, play.item, play.skipped, play.ts_ms);
                prefix.push((play.item, play.skipped));
                plays.push(*play);
                session_start.push(start);
            }
        }
        Timeline {
            plays,
            session_start,
            snapshots,
            follows: stats.follows,
            groups: stats.groups,
        }
    }

    pub fn n_items(&self) -> usize {
        self.follows.len()
    }

    /// Fills `out` ([positions.len(), N_COLUMNS, n_items]) with the features after each play
    /// number in `positions` (ascending), as [`HistoryStats::features`] gave them at that moment.
    pub fn fill(&self, positions: &[u32], out: &mut [f32]) {
        let block = N_COLUMNS * self.n_items();
        let mut rows = out.chunks_mut(block);
        let mut features = Vec::new();
        self.for_each(positions, &mut features, |_, f, _| {
            if let Some(row) = rows.next() {
                row.copy_from_slice(f);
            }
        });
    }

    /// Calls `visit(r, features, m)` with the features ([N_COLUMNS, n_items]) after each play
    /// number `positions[r]` (ascending), in order, built one at a time in `buffer`: a consumer
    /// that uses each before the next reads them while they are still in cache. Every feature
    /// of the items from `m` on is 0.
    pub fn for_each(&self, positions: &[u32], buffer: &mut Vec<f32>, mut visit: impl FnMut(usize, &[f32], usize)) {
        let Some(&first) = positions.first() else {
            return;
        };
        let n = self.n_items();
        buffer.resize(N_COLUMNS * n, 0.0);
        let snapshot = ((first as usize + 1) / SNAPSHOT_EVERY).min(self.snapshots.len().saturating_sub(1));
        let mut items: ItemStates = self.snapshots.get(snapshot).cloned().unwrap_or_else(|| {
            let mut empty = ItemStates::default();
            empty.resize(n);
            empty
        });
        let mut next = snapshot * SNAPSHOT_EVERY;
        let mut prefix: Vec<(u32, bool)> = Vec::new();
        for (r, &g) in positions.iter().enumerate() {
            let g = g as usize;
            while next <= g {
                let play = self.plays[next];
                if let Some(j) = (play.item as usize).checked_sub(1).filter(|&j| j < n) {
                    items.observe(j, next as u32 + 1, play.skipped, play.ts_ms);
                }
                next += 1;
            }
            prefix.clear();
            prefix.extend(
                self.plays[self.session_start[g] as usize..=g]
                    .iter()
                    .map(|p| (p.item, p.skipped)),
            );
            let m = fill_features(
                &items,
                &self.follows,
                &self.groups,
                g as u32 + 1,
                &prefix,
                self.plays[g].ts_ms,
                buffer,
            );
            visit(r, buffer, m);
        }
    }
}

/// log-softmax of a score row; returns the normaliser (the row's log-sum-exp).
pub(crate) fn log_softmax(row: &[f32], out: &mut [f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max + row.iter().map(|&x| (x - max).exp()).sum::<f32>().ln();
    for (o, &x) in out.iter_mut().zip(row) {
        *o = x - lse;
    }
    lse
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_1p_matches_libm() {
        for x in [0.0f32, 1e-6, 0.3, 1.0, 2.5, 10.0, 1234.5, 1e7] {
            assert!((ln_1p(x) - x.ln_1p()).abs() < 2e-6 * (1.0 + x.ln_1p()), "{x}");
        }
    }

    fn play(item: u32, skipped: bool, minute: i64) -> Play {
        Play {
            item,
            skipped,
            ts_ms: minute * 60_000,
        }
    }

    #[test]
    fn the_timeline_gives_the_features_the_live_stats_gave() {
        let sessions: Vec<Session> = (0..40)
            .map(|s| Session {
                plays: (0..12)
                    .map(|i| {
                        play(
                            1 + (s * 7 + i * 3) as u32 % 9,
                            (s + i) % 4 == 0,
                            s as i64 * 600 + i as i64 * 4,
                        )
                    })
                    .collect(),
            })
            .collect();
        let likes = [(3u32, 100 * 60_000i64)];
        // Three artists, two albums, one track of neither: the session's artist and album columns too.
        let groups = Arc::new(ItemGroups::new(
            vec![1, 1, 2, 2, 3, 3, 1, 2, 0],
            vec![1, 1, 0, 2, 2, 0, 1, 0, 0],
        ));
        let timeline = Timeline::new(&sessions, groups.clone(), &likes);
        let mut stats = HistoryStats::new(groups);
        stats.like(3, 100 * 60_000);
        let mut live = vec![0f32; N_COLUMNS * 9];
        let mut replayed = vec![0f32; N_COLUMNS * 9 * 3];
        let mut g = 0u32;
        let mut checked = 0;
        for session in &sessions {
            let mut prefix = Vec::new();
            for p in &session.plays {
                stats.observe(&prefix, p.item, p.skipped, p.ts_ms);
                prefix.push((p.item, p.skipped));
                if g % 37 == 5 {
                    stats.features(&prefix, p.ts_ms, &mut live);
                    timeline.fill(&[g, g + 1, g + 2], &mut replayed);
                    assert_eq!(&replayed[..live.len()], &live[..], "after play {g}");
                    checked += 1;
                }
                g += 1;
            }
        }
        assert!(checked > 10);
    }

    #[test]
    fn the_artist_and_album_columns_follow_the_session_to_tracks_never_played() {
        // 20 items: 1, 2 and 10 by artist 1, 3 by artist 2; 1 and 10 on album 1; 10 never played.
        let mut artist = vec![0; 20];
        let mut album = vec![0; 20];
        (artist[0], artist[1], artist[2], artist[9]) = (1, 1, 2, 1);
        (album[0], album[9]) = (1, 1);
        let mut stats = HistoryStats::new(Arc::new(ItemGroups::new(artist, album)));
        let session = [(2, false), (3, true), (1, false)];
        for (i, &(item, skipped)) in session.iter().enumerate() {
            stats.observe(&session[..i], item, skipped, i as i64 * 60_000);
        }
        let mut columns = vec![0f32; N_COLUMNS * 20];
        let m = fill_features(
            &stats.items,
            &stats.follows,
            &stats.groups,
            stats.plays_seen,
            &session,
            3 * 60_000,
            &mut columns,
        );
        assert_eq!(m, 16, "the mark covers item 10, by the artist playing");
        let column = |name: &str| {
            let k = FEATURES.iter().position(|&f| f == name).unwrap();
            columns[k * 20..(k + 1) * 20].to_vec()
        };
        let mut expected = vec![0f32; 20];
        (expected[0], expected[1], expected[9]) = (1.0, 1.0, 1.0);
        assert_eq!(column("same artist as the last play"), expected);
        (expected[0], expected[1], expected[9]) = (3f32.ln(), 3f32.ln(), 3f32.ln());
        let finished = column("artist finished this session");
        assert!(
            finished.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-5),
            "{finished:?}"
        );
        let skipped = column("artist skipped this session");
        assert!((skipped[2] - 2f32.ln()).abs() < 1e-5 && skipped.iter().filter(|&&s| s != 0.0).count() == 1);
        let mut on_album = vec![0f32; 20];
        (on_album[0], on_album[9]) = (1.0, 1.0);
        assert_eq!(column("same album as the last play"), on_album);
        // A track the model has no item for gets the same columns from its artist and album.
        let names = GROUP_COLUMNS.map(|k| FEATURES[k]);
        let said = SessionGroups::of(&stats.groups, &session);
        for (j, (&a, &b)) in stats.groups.artist.iter().zip(&stats.groups.album).enumerate() {
            let as_item = names.map(|name| column(name)[j]);
            assert_eq!(said.columns(a, b), as_item, "item {}", j + 1);
        }
        assert_eq!(said.columns(0, 0), [0.0; 4]);
    }

    #[test]
    fn the_finish_prior_column_is_the_served_finish_term_less_an_unplayed_tracks() {
        let mut stats = HistoryStats::new(ItemGroups::unknown(4));
        let plays = [
            (1, false),
            (1, false),
            (2, true),
            (2, true),
            (2, false),
            (3, true),
            (1, false),
        ];
        for (i, &(item, skipped)) in plays.iter().enumerate() {
            stats.observe(&[], item, skipped, i as i64 * 60_000);
        }
        let mut columns = vec![0f32; N_COLUMNS * 4];
        stats.features(&[], 10 * 60_000, &mut columns);
        let prior = &columns[FINISH_PRIOR * 4..];
        for item in 1..=4u32 {
            let expected = stats.ln_finish(stats.counts(item)) - stats.ln_finish((0, 0));
            assert!((prior[item as usize - 1] - expected).abs() < 1e-6, "item {item}");
        }
        // Finished more than average ranks above a track never played; skipped more, below.
        assert!(
            prior[0] > 0.1 && prior[1] < -0.1 && prior[2] < -0.1 && prior[3] == 0.0,
            "{prior:?}"
        );
        // 4 listens and 3 skips: an overall finish rate of (4 + 1) / (7 + 2), two plays' worth.
        let prior_listens = 2.0 * 5.0 / 9.0f32;
        let exact = ((3.0 + prior_listens) / 5.0f32).ln() - (prior_listens / 2.0).ln();
        assert!((prior[0] - exact).abs() < 1e-5, "{} against {exact}", prior[0]);
    }

    #[test]
    fn the_features_of_tracks_never_played_or_liked_are_zero_past_the_mark() {
        // 40 items first played one a session, in id order, except item 30 liked up front:
        // early positions have most items untouched.
        let sessions: Vec<Session> = (0..40u32)
            .map(|s| Session {
                plays: (0..4)
                    .map(|i| {
                        play(
                            1 + (s.saturating_sub(i) % 40),
                            i == 2,
                            i64::from(s) * 600 + i64::from(i) * 4,
                        )
                    })
                    .collect(),
            })
            .collect();
        let timeline = Timeline::new(&sessions, ItemGroups::unknown(40), &[(30, 0)]);
        let positions: Vec<u32> = (0..160).step_by(7).collect();
        let mut whole = vec![0f32; N_COLUMNS * 40 * positions.len()];
        timeline.fill(&positions, &mut whole);
        let mut marks = Vec::new();
        timeline.for_each(&positions, &mut Vec::new(), |r, features, m| {
            assert_eq!(features, &whole[r * N_COLUMNS * 40..(r + 1) * N_COLUMNS * 40]);
            for column in features.chunks(40) {
                assert!(
                    column[m..].iter().all(|&v| v == 0.0),
                    "position {}: past {m}",
                    positions[r]
                );
            }
            // The liked item 30 counts from the first position; the mark is a multiple of 8.
            assert!(m >= 30 && (m % 8 == 0 || m == 40), "{m}");
            marks.push(m);
        });
        assert_eq!(marks.first(), Some(&32));
        assert_eq!(marks.last(), Some(&40));
        // Untouched items have all-zero features wherever the mark falls short of all 40.
        assert!(marks.iter().filter(|&&m| m < 40).count() >= 5);
    }
}
