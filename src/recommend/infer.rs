//! Live recommendation ([`Recommender`], [`Filters`], [`Scored`]) and the
//! cold-start ranking used when there is no model yet ([`fallback_rank`]).
//!
//! [`Recommender::rank`] scores every candidate by the served ranking of [`served_scores`] (the
//! model's score with its history features, plus the chance of a finish), the same function the
//! evaluation's `skipless` row scores by; then the filters, the artist limit and optional sampling.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::config::RecommendConfig;

use super::checkpoint::{Checkpoint, CheckpointMeta};
use super::data::{item_key_of, ItemFeatures, Play, Vocab};
use super::features::{
    ln_finish, HistoryStats, ItemGroups, SessionGroups, FEATURES, FINISH_PRIOR, FOLLOWS, GROUP_COLUMNS, LIKED,
    TIMES_FINISHED, WINDOW,
};
use super::log::{display_names, ListeningLog};
use super::model::Scorer;
use super::rank::{last_plays, served_scores};
use super::train::LIKE_PRIOR;
use super::RecommendError;
use crate::track::{name_key, same_name, Name, Track};

/// What may be recommended, and how many.
#[derive(Debug, Clone, PartialEq)]
pub struct Filters {
    pub limit: usize,
    /// Leave out the session's last track.
    pub exclude_current: bool,
    /// Leave out tracks skipped in this session.
    pub exclude_skipped: bool,
    /// Tracks played lately (e.g. [`ListeningLog::recent`]), oldest first, left out until the
    /// others run short while nothing is queued; then they come back in that order (a track's
    /// last place counts).
    pub recent: Vec<i64>,
    /// Tracks waiting in the queue (the one about to play included), always left out.
    pub queued: Vec<i64>,
    /// The listener's queue entries passed over unheard (a list started from its fifth track):
    /// always left out, but waiting for nothing, so with nothing else queued the tracks played
    /// lately still fill the picks.
    pub passed_over: Vec<i64>,
    /// Artists the listener turned down this session (as [`name_key`]s; see [`turned_down_artists`]):
    /// their tracks wait with the skipped ones, picked only when nothing else is left.
    pub turned_down: Vec<String>,
    /// Other files of the songs playing, skipped this session or queued: always left out, but
    /// not queued (with nothing queued, the tracks played lately still fill the picks).
    pub copies: Vec<i64>,
    /// At most this many tracks per artist (0: no limit).
    pub max_per_artist: usize,
    /// 0 ranks by score; above 0 samples with probabilities softmax(score / temperature).
    pub temperature: f32,
    pub seed: u64,
    /// The moment recency is measured from (Unix ms); the wall clock when `None`.
    pub now_ms: Option<i64>,
    /// Weight of the log-probability that a track is finished rather than skipped.
    pub finish_weight: f32,
    /// A radio from a seed: its tracks get a share of the picks.
    pub radio: Option<Radio>,
}

/// What a radio from a seed favours: the tracks by the seed's artist and the tracks listened to
/// in the same sessions as the seed. At least `share` of the picks, while there are such tracks,
/// are favoured ones, best first; a pick made to keep that share is exempt from the artist
/// limit (so an artist's radio plays that artist), the others keep it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Radio {
    pub favoured: HashSet<i64>,
    /// The favoured tracks by the seed's artist: the one artist a radio plays beyond the
    /// artist limit. Tracks heard with the seed keep the limit, as every other pick does.
    pub by_seed_artist: HashSet<i64>,
    pub share: f32,
}

impl Filters {
    /// The configured filters; `recent` is left for the caller to fill.
    pub(crate) fn from_config(config: &RecommendConfig, limit: usize) -> Filters {
        Filters {
            limit,
            exclude_current: true,
            exclude_skipped: true,
            recent: Vec::new(),
            queued: Vec::new(),
            passed_over: Vec::new(),
            turned_down: Vec::new(),
            copies: Vec::new(),
            max_per_artist: config.max_per_artist,
            temperature: config.temperature,
            seed: 0,
            now_ms: None,
            finish_weight: config.finish_weight,
            radio: None,
        }
    }
}

/// A recommended track, with the signal that put it there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub track_id: i64,
    pub score: f32,
    pub reason: String,
}

/// A loaded model with the listening history it reasons over.
pub struct Recommender {
    checkpoint: Checkpoint,
    scorer: Scorer,
    stats: HistoryStats,
    /// Every play observed, oldest first, in the model's items (plays of tracks it has no item
    /// for are left out): the model's input is the last `max_len` of them, across sessions.
    history: Vec<Play>,
    /// Library track → model item.
    items: HashMap<i64, u32>,
    names: HashMap<u32, String>,
    /// (listens, skips) per library track, including tracks the model has no item for yet.
    plays: HashMap<i64, (u32, u32)>,
    /// When each liked library track was liked, for the tracks the model has no item for.
    liked: HashMap<i64, i64>,
    /// The places of the last candidates ranked, by position, with the track each is for
    /// (see [`Recommender::places_of`]).
    places: RefCell<Vec<(Arc<Track>, Place)>>,
}

/// What [`Place`]s are found from, shareable across threads.
struct PlaceFinder<'a> {
    items: &'a HashMap<i64, u32>,
    vocab: &'a Vocab,
    plays: &'a HashMap<i64, (u32, u32)>,
    liked: &'a HashMap<i64, i64>,
}

impl PlaceFinder<'_> {
    fn place_of(&self, track: &Track) -> Place {
        if let Some(&item) = self.items.get(&track.id) {
            return Place::Item(item);
        }
        match self.vocab.id(&item_key_of(track)) {
            Some(item) => Place::Item(item),
            None => Place::Cold {
                features: self.vocab.features_of(track),
                played: self.plays.contains_key(&track.id),
                liked_at: self.liked.get(&track.id).copied(),
            },
        }
    }
}

/// Where the model places a track: an item of its vocabulary, or side features only (with
/// whether the log has plays of it, and when it was liked).
#[derive(Debug, Clone, Copy)]
enum Place {
    Item(u32),
    Cold {
        features: ItemFeatures,
        played: bool,
        liked_at: Option<i64>,
    },
}

impl Recommender {
    /// Loads the model saved in `models_dir`; `Ok(None)` when none has been trained yet.
    pub(crate) fn load(models_dir: &Path) -> Result<Option<Recommender>, RecommendError> {
        Checkpoint::load(models_dir)?.map(Recommender::new).transpose()
    }

    /// Wraps a checkpoint with an empty history; call [`Recommender::replay`] next.
    pub fn new(checkpoint: Checkpoint) -> Result<Recommender, RecommendError> {
        let stats = HistoryStats::new(ItemGroups::of(&checkpoint.meta.vocab));
        let scorer = Scorer::new(&checkpoint.model)?;
        Ok(Recommender {
            checkpoint,
            scorer,
            stats,
            history: Vec::new(),
            items: HashMap::new(),
            names: HashMap::new(),
            plays: HashMap::new(),
            liked: HashMap::new(),
            places: RefCell::new(Vec::new()),
        })
    }

    pub(crate) fn meta(&self) -> &CheckpointMeta {
        &self.checkpoint.meta
    }

    /// Rebuilds the history from the whole log (plays and likes).
    pub fn replay(&mut self, log: &ListeningLog) {
        let vocab = &self.checkpoint.meta.vocab;
        self.stats = HistoryStats::new(ItemGroups::of(vocab));
        self.history.clear();
        self.items = log
            .tracks
            .iter()
            .filter_map(|t| Some((t.id, vocab.id(&item_key_of(t))?)))
            .collect();
        self.names = display_names(log, vocab);
        self.plays.clear();
        self.liked = log.likes.clone();
        self.places.borrow_mut().clear();
        for (track, &at) in &log.likes {
            if let Some(&item) = self.items.get(track) {
                self.stats.like(item, at);
            }
        }
        for session in log.sessions() {
            let mut before: Vec<(i64, bool)> = Vec::new();
            for play in session {
                if let Some(track) = log.tracks.get(play.track_id) {
                    self.observe(&before, track, play.skipped, play.ts_ms);
                }
                before.push((play.track_id, play.skipped));
            }
        }
    }

    /// Records a finished play live; `session` is the session's plays before it.
    pub(crate) fn observe(&mut self, session: &[(i64, bool)], track: &Track, skipped: bool, ts_ms: i64) {
        let counts = self.plays.entry(track.id).or_default();
        if skipped {
            counts.1 += 1;
        } else {
            counts.0 += 1;
        }
        let item = self.items.get(&track.id).copied().unwrap_or(0);
        if item == 0 {
            // A track the model has no item for now has plays: its cached place says it had none.
            self.places.get_mut().clear();
        }
        // The history counts what follows the session's last few plays only: a replay of a long
        // session looks up those, not the whole session again at every play.
        let mut before: Vec<(u32, bool)> = session
            .iter()
            .rev()
            .filter_map(|&(t, s)| Some((*self.items.get(&t)?, s)))
            .take(WINDOW)
            .collect();
        before.reverse();
        self.stats.observe(&before, item, skipped, ts_ms);
        if item != 0 {
            self.history.push(Play { item, skipped, ts_ms });
        }
    }

    /// Where the model places each candidate: its item, or (a track it has never seen) the side
    /// features it scores by. Autoplay ranks the same library again and again, so the places are
    /// kept by position and only looked up again where the track at a position changed.
    ///
    /// A position is checked by the identity of its shared track, not by reading the track: a
    /// million candidates are a million pointers compared, with no track's memory touched. The
    /// cache holds the tracks it names, so an identity is never reused while it is cached.
    ///
    /// Places found anew are looked up on every core: after a load that is the whole library.
    fn places_of(&self, candidates: &[Arc<Track>]) -> std::cell::Ref<'_, Vec<(Arc<Track>, Place)>> {
        let mut cache = self.places.borrow_mut();
        cache.truncate(candidates.len());
        let changed: Vec<usize> = (0..candidates.len())
            .filter(|&i| {
                cache
                    .get(i)
                    .is_none_or(|(cached, _)| !Arc::ptr_eq(cached, &candidates[i]))
            })
            .collect();
        let finder = PlaceFinder {
            items: &self.items,
            vocab: &self.checkpoint.meta.vocab,
            plays: &self.plays,
            liked: &self.liked,
        };
        let found: Vec<Place> = changed.par_iter().map(|&i| finder.place_of(&candidates[i])).collect();
        for (i, place) in changed.into_iter().zip(found) {
            let entry = (candidates[i].clone(), place);
            if i < cache.len() {
                cache[i] = entry;
            } else {
                cache.push(entry);
            }
        }
        drop(cache);
        self.places.borrow()
    }

    /// Finds where the model places each of `candidates` now, so that the picks that follow
    /// only compare identities: called when the library or the model changes, so that the first
    /// pick after a load costs what every pick does.
    pub fn prepare(&self, candidates: &[Arc<Track>]) {
        drop(self.places_of(candidates));
    }

    fn session_items(&self, session: &[(i64, bool)]) -> Vec<(u32, bool)> {
        session
            .iter()
            .filter_map(|&(t, s)| Some((*self.items.get(&t)?, s)))
            .collect()
    }

    /// Ranks `candidates` for what follows `session` (track id, skipped), best first: the served
    /// score of [`served_scores`] for the candidates the model knows; a candidate it has no item
    /// for scores by its side features' embedding and the history features it has before a first
    /// play ([`cold_columns`]): a like, and its artist's and album's place in the session.
    pub fn rank(
        &self,
        session: &[(i64, bool)],
        candidates: &[Arc<Track>],
        filters: &Filters,
    ) -> Result<Vec<Scored>, RecommendError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let model = &self.checkpoint.model;
        let vocab = &self.checkpoint.meta.vocab;
        let known = self.session_items(session);
        let window = last_plays(&self.history, model.config.max_len);
        let hidden: Vec<f32> = model.hidden_windows(&[window])?.flatten_all()?.to_vec1()?;
        let now_ms = filters.now_ms.unwrap_or_else(crate::clock::now_ms);

        let n = vocab.len();
        let mut served = vec![0f32; n];
        let mut features = Vec::new();
        let normaliser = served_scores(
            &self.scorer,
            &hidden,
            &self.stats,
            &known,
            now_ms,
            filters.finish_weight,
            &mut features,
            &mut served,
        );
        // A track the model has no item for scores by its side features' embedding alone: h
        // times each side-feature row once, then four lookups per track.
        let side = self.scorer.side_logits(&hidden);
        let unplayed_finish = filters.finish_weight * self.stats.ln_finish((0, 0));
        let weights = self.scorer.feature_weights(&hidden);
        let session_groups = SessionGroups::of(self.stats.groups(), &known);
        let places = self.places_of(candidates);
        // Scores are first relative to the model's catalogue; the candidates it has no item for
        // then join the softmax's normaliser, so that every score is a log-probability over the
        // catalogue and these tracks together.
        let mut scores = Vec::with_capacity(candidates.len());
        let mut cold_shift = ColdShift::default();
        for (cand, (_, place)) in candidates.iter().zip(places.iter()) {
            scores.push(match *place {
                Place::Item(item) => served[item as usize - 1],
                Place::Cold {
                    features,
                    played,
                    liked_at,
                } => {
                    // Most such tracks are of an artist and album the model has never seen, and
                    // not liked: they have none of these features, and are left at once.
                    let history = match (features.artist, features.album, liked_at) {
                        (0, 0, None) => 0.0,
                        _ => cold_columns(&session_groups, &features, liked_at, now_ms)
                            .iter()
                            .map(|&(k, value)| weights.get(k).copied().unwrap_or(0.0) * value)
                            .sum(),
                    };
                    let logit = self.scorer.cold_logit(&side, &features) + history - normaliser;
                    cold_shift.add(logit);
                    // Only a track with plays is looked at: the rest score alike, untouched.
                    let counts = if played { self.plays.get(&cand.id) } else { None };
                    let finish = match counts {
                        Some(&counts) => filters.finish_weight * self.stats.ln_finish(counts),
                        None => unplayed_finish,
                    };
                    logit + finish
                }
            });
        }
        let shift = cold_shift.value();
        if shift != 0.0 {
            for score in &mut scores {
                *score -= shift;
            }
        }
        let terms = Terms {
            hidden: &hidden,
            weights: &weights,
            features: &features,
            finish_weight: filters.finish_weight,
        };
        let order = select(&scores, session, candidates, filters);
        Ok(order
            .into_iter()
            .map(|c| {
                let cand: &Track = &candidates[c];
                Scored {
                    track_id: cand.id,
                    score: scores[c],
                    reason: filler_reason(cand, session, filters).unwrap_or_else(|| match places[c].1 {
                        Place::Item(item) => self.reason(cand, item, &known, &terms),
                        Place::Cold { features, liked_at, .. } => self.cold_reason(
                            cand,
                            &cold_columns(&session_groups, &features, liked_at, now_ms),
                            &weights,
                            self.scorer.cold_logit(&side, &features),
                            filters.finish_weight,
                        ),
                    }),
                }
            })
            .collect())
    }

    /// The term of the score that did most for a pick, in words: the largest of the history
    /// features' weighted values (`(w_k + u_k · h) f_k`), the Transformer's `h · e`, and the
    /// finish term's lift over a track never played.
    fn reason(&self, cand: &Track, item: u32, known: &[(u32, bool)], terms: &Terms) -> String {
        let n = self.stats.n_items();
        let j = item as usize - 1;
        let (listens, skips) = self.stats.counts(item);
        #[derive(PartialEq)]
        enum Term {
            Sequence,
            Finish,
            Feature(usize),
        }
        let mut best = (self.scorer.sequence_term(terms.hidden, j), Term::Sequence);
        // The finish column is the finish term less that of a track never played: its lift.
        let finish = terms.finish_weight * terms.features.get(FINISH_PRIOR * n + j).copied().unwrap_or(0.0);
        if finish > best.0 {
            best = (finish, Term::Finish);
        }
        for (k, &w) in terms.weights.iter().enumerate() {
            let contribution = w * terms.features.get(k * n + j).copied().unwrap_or(0.0);
            if contribution > best.0 {
                best = (contribution, Term::Feature(k));
            }
        }
        if best.0 <= 0.0 {
            return if listens > 0 {
                "you have enjoyed it before".into()
            } else {
                "new to you".into()
            };
        }
        match best.1 {
            Term::Sequence => "fits how this session is going".into(),
            Term::Finish | Term::Feature(TIMES_FINISHED) => {
                format!("you finished it {listens} of {} times", listens + skips)
            }
            Term::Feature(FOLLOWS) => match self.stats.follow_score(known, item).1.and_then(|f| self.names.get(&f)) {
                Some(name) => format!("often follows {name} in your sessions"),
                None => "often follows what you just played".into(),
            },
            Term::Feature(k) => self.feature_reason(cand, k, (listens, skips)),
        }
    }

    /// The reason of a pick the model has no item for, as [`Recommender::reason`] finds one: the
    /// term that added most of the Transformer's (`sequence`, its side features' `h · e`), the
    /// finish term's lift over a track never played, and the history features it has before a
    /// first play; else that it is new.
    fn cold_reason(
        &self,
        cand: &Track,
        columns: &[(usize, f32)],
        weights: &[f32],
        sequence: f32,
        finish_weight: f32,
    ) -> String {
        let counts = self.plays.get(&cand.id).copied().unwrap_or_default();
        let finish = finish_weight * (self.stats.ln_finish(counts) - self.stats.ln_finish((0, 0)));
        let feature = columns
            .iter()
            .map(|&(k, value)| (weights.get(k).copied().unwrap_or(0.0) * value, k))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((0.0, LIKED));
        let best = sequence.max(finish).max(feature.0);
        let (listens, skips) = counts;
        if best <= 0.0 {
            return if counts != (0, 0) {
                "new to the model (played since it was trained)".into()
            } else {
                "new to you".into()
            };
        }
        if best == feature.0 {
            self.feature_reason(cand, feature.1, counts)
        } else if best == finish {
            format!("you finished it {listens} of {} times", listens + skips)
        } else {
            "fits how this session is going".into()
        }
    }

    /// A history feature `k` as the reason for `cand`, whose (listens, skips) are `counts`.
    fn feature_reason(&self, cand: &Track, k: usize, (listens, skips): (u32, u32)) -> String {
        match k {
            LIKED => "you liked it".into(),
            k => match FEATURES[k] {
                "listens today" => "you have been playing it today".into(),
                "recent listens" => "you have played it a lot lately".into(),
                "long-term listens" => "a favourite of the last months".into(),
                "finished this session" => "you finished it earlier this session".into(),
                "days since last play" | "plays since last play" => "not played for a while".into(),
                "same album as the last play" => match &cand.album {
                    Some(album) => format!("on {album}, as the last track was"),
                    None => "from the album playing".into(),
                },
                "same artist as the last play" | "artist finished this session" => match &cand.artist {
                    Some(artist) => format!("more from {artist}"),
                    None => "by the artist playing".into(),
                },
                // A term of the track's own history that does not name a reason of its own:
                // say what its history is, never a reason it does not have.
                _ if listens > 0 => "you have enjoyed it before".into(),
                _ if skips > 0 => "you have played it before".into(),
                _ => "new to you".into(),
            },
        }
    }
}

/// The history features a track the model has no item for has, as (column, value): whether it
/// was liked by `now_ms`, and its artist's and album's place in the session. They are the ones a
/// track has before its first play; the rest, its own plays' counts and times, are 0 for an item
/// never played, and the finish term takes this track's plays since.
fn cold_columns(
    session: &SessionGroups,
    features: &ItemFeatures,
    liked_at: Option<i64>,
    now_ms: i64,
) -> [(usize, f32); 5] {
    let liked = if liked_at.is_some_and(|at| at <= now_ms) {
        1.0
    } else {
        0.0
    };
    let [same_artist, artist_finished, artist_skipped, same_album] = session.columns(features.artist, features.album);
    [
        (LIKED, liked),
        (GROUP_COLUMNS[0], same_artist),
        (GROUP_COLUMNS[1], artist_finished),
        (GROUP_COLUMNS[2], artist_skipped),
        (GROUP_COLUMNS[3], same_album),
    ]
}

/// Skips in a row of one artist's tracks in a session after which autoplay leaves the artist
/// out for the rest of the session, until a play of the artist is heard.
pub const TURNED_DOWN_AFTER: usize = 2;

/// The artists (as [`name_key`]s) whose last [`TURNED_DOWN_AFTER`] plays in `session` (track, skipped)
/// were all skipped; `artist_of` names a track's artist. The session's last entry is left out
/// when it is no skip: for the player it is the track playing, neither skipped nor heard yet.
///
/// The model ranks by what listening histories show, and in them a skipped artist's tracks often
/// come next (a listener skips through an album to the song they want). Autoplay's picks are
/// another matter: a listener who skips two of its picks by one artist is turning that artist
/// down, whatever the ranking thinks.
pub(crate) fn turned_down_artists<'a>(
    session: &[(i64, bool)],
    artist_of: impl Fn(i64) -> Option<&'a Name>,
) -> Vec<String> {
    let done = match session.last() {
        Some(&(_, false)) => &session[..session.len() - 1],
        _ => session,
    };
    // Per artist: skips since its last heard play, and whether a heard play ended the count.
    let mut runs: HashMap<String, (usize, bool)> = HashMap::new();
    for &(id, skipped) in done.iter().rev() {
        let Some(artist) = artist_of(id) else { continue };
        let run = runs.entry(name_key(artist)).or_default();
        if run.1 {
            continue;
        }
        if skipped {
            run.0 += 1;
        } else {
            run.1 = true;
        }
    }
    let mut artists: Vec<String> = runs
        .into_iter()
        .filter(|(_, (skips, _))| *skips >= TURNED_DOWN_AFTER)
        .map(|(artist, _)| artist)
        .collect();
    artists.sort_unstable();
    artists
}

/// The tracks whose last play in `session` was skipped: the listener's last word on a track
/// is the one that stands, so a track skipped and later heard through is not held back.
pub(crate) fn skipped_last(session: &[(i64, bool)]) -> HashSet<i64> {
    let mut last_word: HashMap<i64, bool> = HashMap::new();
    for &(id, skipped) in session {
        last_word.insert(id, skipped);
    }
    last_word
        .into_iter()
        .filter(|&(_, skipped)| skipped)
        .map(|(id, _)| id)
        .collect()
}

/// Whether `track` is by an artist of `turned_down`.
pub(crate) fn by_turned_down(track: &Track, turned_down: &[String]) -> bool {
    !turned_down.is_empty()
        && track
            .artist
            .as_ref()
            .is_some_and(|artist| turned_down.contains(&name_key(artist)))
}

/// Why a pick that [`select`] took after every other track is there at all: it was played lately,
/// skipped this session or by an artist turned down in it, and nothing else was left to pick.
fn filler_reason(track: &Track, session: &[(i64, bool)], filters: &Filters) -> Option<String> {
    let id = track.id;
    let why = if filters.recent.contains(&id) {
        "played lately"
    } else if filters.exclude_skipped && skipped_last(session).contains(&id) {
        "skipped earlier this session"
    } else if filters.exclude_skipped && by_turned_down(track, &filters.turned_down) {
        "by an artist skipped this session"
    } else {
        return None;
    };
    Some(format!("{why}; nothing else is left to pick"))
}

/// What a pick's reason is read from: the head output, the feature weights after it, the
/// features, and the finish term's weight.
struct Terms<'a> {
    hidden: &'a [f32],
    weights: &'a [f32],
    features: &'a [f32],
    finish_weight: f32,
}

/// Applies the filters and picks up to `limit` candidates (indices), best first.
/// How much the softmax's normaliser grows when tracks outside the catalogue join it:
/// ln(1 + Σ exp(l)) over their logits `l` taken relative to the catalogue's normaliser, summed
/// stably (a running maximum, as a streaming log-sum-exp).
#[derive(Default)]
struct ColdShift {
    max: f32,
    sum: f32,
}

impl ColdShift {
    fn add(&mut self, logit: f32) {
        // `sum` holds Σ exp(l - max) over the catalogue's share (exp(0 - max)) and the tracks so
        // far; it starts as the catalogue's 1 at a maximum of 0.
        if self.sum == 0.0 {
            self.sum = 1.0;
        }
        if logit > self.max {
            self.sum = self.sum * (self.max - logit).exp() + 1.0;
            self.max = logit;
        } else {
            self.sum += (logit - self.max).exp();
        }
    }

    fn value(&self) -> f32 {
        if self.sum == 0.0 {
            0.0
        } else {
            self.max + self.sum.ln()
        }
    }
}

/// A 64-bit mix (SplitMix64's finaliser): neighbouring inputs give unrelated outputs.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn select<C: Borrow<Track>>(
    scores: &[f32],
    session: &[(i64, bool)],
    candidates: &[C],
    filters: &Filters,
) -> Vec<usize> {
    let current = session.last().map(|p| p.0);
    let skipped_now = skipped_last(session);
    let recent: HashSet<i64> = filters.recent.iter().copied().collect();
    let queued: HashSet<i64> = filters.queued.iter().copied().collect();
    let passed_over: HashSet<i64> = filters.passed_over.iter().copied().collect();
    let copies: HashSet<i64> = filters.copies.iter().copied().collect();
    // Each candidate's sort key: its score, or with a temperature its score/T plus Gumbel noise
    // (Gumbel-max: sorting by it samples without replacement from softmax(score/T)). The noise
    // comes from one stream in candidate order, so every pass over the keys sees the same keys.
    let keyed = || {
        let mut rng = ChaCha8Rng::seed_from_u64(filters.seed);
        scores.iter().copied().enumerate().map(move |(i, s)| {
            if filters.temperature > 0.0 {
                let u: f32 = rng.random::<f32>().clamp(1e-9, 1.0 - 1e-7);
                (i, s / filters.temperature - (-u.ln()).ln())
            } else {
                (i, s)
            }
        })
    };
    // Tracks of one score (the many a log has never played, alike to the history features) in
    // an order drawn once from their ids, not the library's: otherwise autoplay would go through
    // them by artist name. The same order at every ranking, so that up next does not change
    // with every play where nothing tells its tracks apart.
    let shuffled = |i: usize| splitmix64(candidates[i].borrow().id as u64);
    let order = |a: &(usize, f32), b: &(usize, f32)| {
        b.1.total_cmp(&a.1)
            .then_with(|| shuffled(a.0).cmp(&shuffled(b.0)))
            .then(a.0.cmp(&b.0))
    };
    // `beyond_the_artist_limit`: where the limit leaves the picks short, more of each artist,
    // class by class of the tracks (see [`pick_with_artist_limit`]); only over the whole
    // ranking, since a head of it may hold few artists where the library has many.
    let pick = |ranked: &[(usize, f32)],
                exclude_skipped: bool,
                exclude_recent: bool,
                beyond_the_artist_limit: Option<&dyn Fn(usize) -> u8>|
     -> Vec<usize> {
        let eligible: Vec<(usize, f32)> = ranked
            .iter()
            .copied()
            .filter(|&(i, _)| {
                let id = candidates[i].borrow().id;
                let playing = filters.exclude_current && Some(id) == current;
                let skipped = exclude_skipped
                    && (skipped_now.contains(&id) || by_turned_down(candidates[i].borrow(), &filters.turned_down));
                let left_out = queued.contains(&id) || passed_over.contains(&id) || copies.contains(&id);
                !(playing || skipped || (exclude_recent && recent.contains(&id)) || left_out)
            })
            .collect();
        match &filters.radio {
            Some(radio) => radio_mix(&eligible, candidates, filters, radio),
            None => pick_with_artist_limit(&eligible, candidates, filters, beyond_the_artist_limit),
        }
    };
    // Only the best few need sorting and filtering: the filters leave out a handful of tracks and
    // the artist limit rarely reaches far; when the head runs short, everything is sorted. A
    // radio's favoured tracks may rank anywhere, so a radio sorts everything. The head is kept in
    // one pass, with nothing allocated per candidate.
    let head =
        filters.limit * 8 + 64 + skipped_now.len() + recent.len() + queued.len() + passed_over.len() + copies.len() + 1;
    if scores.len() > head && filters.radio.is_none() {
        let best = best_of(keyed(), head, order);
        let chosen = pick(&best, filters.exclude_skipped, true, None);
        if chosen.len() >= filters.limit {
            return chosen;
        }
    }
    let mut ranked: Vec<(usize, f32)> = keyed().collect();
    ranked.sort_by(order);
    let chosen = pick(&ranked, filters.exclude_skipped, true, Some(&|_| 0));
    // A small library runs short: a long session skips its way through it, or every track has
    // played lately. A track skipped earlier is then better than silence, and once nothing is
    // queued, so is one played lately. They come after the picks above, skipped ones first, so
    // that the picks for a smaller limit are the head of these.
    let nothing_queued = queued.iter().all(|&id| Some(id) == current);
    let fill_skipped = filters.exclude_skipped;
    let fill_recent = nothing_queued && !recent.is_empty();
    if chosen.len() < filters.limit && (fill_skipped || fill_recent) {
        // Tracks played lately come back the longest ago first, so that a library played through
        // goes round whole rather than between its two best tracks; one skipped comes back as
        // if it had played half the window later, so skips delay it without keeping it out.
        let last_played: HashMap<i64, usize> = filters.recent.iter().enumerate().map(|(at, &id)| (id, at)).collect();
        let skip_delay = filters.recent.len() / 2;
        let tier = |i: usize| {
            let id = candidates[i].borrow().id;
            let skipped = fill_skipped
                && (skipped_now.contains(&id) || by_turned_down(candidates[i].borrow(), &filters.turned_down));
            match last_played.get(&id).filter(|_| fill_recent) {
                Some(&at) => (2, at + usize::from(skipped) * skip_delay),
                None => (u8::from(skipped), 0),
            }
        };
        ranked.sort_by_key(|&(i, _)| tier(i));
        // A radio mixes its favoured tracks into the fillers too, but never ahead of the picks
        // that needed no filling.
        let fillers = pick(&ranked, false, !fill_recent, Some(&|i| tier(i).0));
        let mut filled = chosen;
        for i in fillers {
            if filled.len() == filters.limit {
                break;
            }
            if !filled.contains(&i) {
                filled.push(i);
            }
        }
        return filled;
    }
    chosen
}

/// The first `k` of `keyed` in `order`, in that order.
fn best_of(
    keyed: impl Iterator<Item = (usize, f32)>,
    k: usize,
    order: impl Fn(&(usize, f32), &(usize, f32)) -> std::cmp::Ordering + Copy,
) -> Vec<(usize, f32)> {
    /// Ordered so that the heap's top is the last of the kept ones.
    struct Kept<F>((usize, f32), F);
    impl<F: Fn(&(usize, f32), &(usize, f32)) -> std::cmp::Ordering> PartialEq for Kept<F> {
        fn eq(&self, other: &Self) -> bool {
            self.cmp(other).is_eq()
        }
    }
    impl<F: Fn(&(usize, f32), &(usize, f32)) -> std::cmp::Ordering> Eq for Kept<F> {}
    impl<F: Fn(&(usize, f32), &(usize, f32)) -> std::cmp::Ordering> PartialOrd for Kept<F> {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl<F: Fn(&(usize, f32), &(usize, f32)) -> std::cmp::Ordering> Ord for Kept<F> {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            (self.1)(&self.0, &other.0)
        }
    }
    let mut kept: std::collections::BinaryHeap<Kept<_>> = std::collections::BinaryHeap::with_capacity(k + 1);
    for entry in keyed {
        if kept.len() < k {
            kept.push(Kept(entry, order));
        } else if kept.peek().is_some_and(|last| order(&entry, &last.0).is_lt()) {
            kept.pop();
            kept.push(Kept(entry, order));
        }
    }
    kept.into_sorted_vec().into_iter().map(|Kept(entry, _)| entry).collect()
}

/// The first `limit` of `ranked`, at most `max_per_artist` per artist.
///
/// With `beyond_the_limit`, a class of each track (`ranked` comes in runs of one class): where
/// the limit leaves a run's picks short (a library of a few artists, or most of them turned
/// down), the rest of the run follows, more of each artist, before the next run: another
/// track of an artist the listener is hearing is better than one they skipped or heard lately.
fn pick_with_artist_limit<C: Borrow<Track>>(
    ranked: &[(usize, f32)],
    candidates: &[C],
    filters: &Filters,
    beyond_the_limit: Option<&dyn Fn(usize) -> u8>,
) -> Vec<usize> {
    let mut limit = PickLimit::new(filters);
    let most = limit.max;
    let mut chosen = Vec::new();
    let take = |run: &[(usize, f32)], limit: &mut PickLimit, chosen: &mut Vec<usize>| {
        for &(i, _) in run {
            if chosen.len() >= filters.limit {
                break;
            }
            if !chosen.contains(&i) && limit.would_admit(candidates[i].borrow()) {
                limit.count(candidates[i].borrow());
                chosen.push(i);
            }
        }
    };
    match beyond_the_limit {
        None => take(ranked, &mut limit, &mut chosen),
        Some(class_of) => {
            for run in ranked.chunk_by(|a, b| class_of(a.0) == class_of(b.0)) {
                limit.max = most;
                take(run, &mut limit, &mut chosen);
                if most > 0 {
                    limit.max = 0;
                    take(run, &mut limit, &mut chosen);
                }
            }
        }
    }
    chosen
}

/// A radio's picks: in ranked order, except that while the favoured picks so far fall short of
/// `share` of the picks, the best favoured track comes next.
fn radio_mix<C: Borrow<Track>>(
    ranked: &[(usize, f32)],
    candidates: &[C],
    filters: &Filters,
    radio: &Radio,
) -> Vec<usize> {
    let is_favoured = |i: usize| radio.favoured.contains(&candidates[i].borrow().id);
    let mut taken = vec![false; ranked.len()];
    let mut limit = PickLimit::new(filters);
    let mut chosen = Vec::new();
    let mut taken_favoured = 0usize;
    while chosen.len() < filters.limit {
        let short = (taken_favoured as f32) < radio.share * (chosen.len() + 1) as f32;
        let for_share = short
            .then(|| {
                (0..ranked.len()).find(|&place| {
                    let track = candidates[ranked[place].0].borrow();
                    !taken[place]
                        && is_favoured(ranked[place].0)
                        && !limit.song_picked(track)
                        && (radio.by_seed_artist.contains(&track.id) || limit.would_admit(track))
                })
            })
            .flatten();
        let place = for_share.or_else(|| {
            (0..ranked.len()).find(|&place| !taken[place] && limit.would_admit(candidates[ranked[place].0].borrow()))
        });
        let Some(place) = place else { break };
        let i = ranked[place].0;
        taken[place] = true;
        limit.count(candidates[i].borrow());
        taken_favoured += usize::from(is_favoured(i));
        chosen.push(i);
    }
    chosen
}

/// What the picks so far admit: at most `max_per_artist` picks per artist (a radio's picks of
/// its seed's artist made for its share aside), and one file of a song (its artist and title), since two files of one
/// song are one song to the listener. A track without an artist is only itself.
struct PickLimit {
    max: usize,
    per_artist: HashMap<String, usize>,
    songs: HashSet<String>,
}

impl PickLimit {
    fn new(filters: &Filters) -> Self {
        Self {
            max: filters.max_per_artist,
            per_artist: HashMap::new(),
            songs: HashSet::new(),
        }
    }

    fn song_picked(&self, track: &Track) -> bool {
        track.artist.is_some() && self.songs.contains(&item_key_of(track))
    }

    fn would_admit(&self, track: &Track) -> bool {
        let artist_full = match track.artist.as_ref().filter(|_| self.max > 0) {
            Some(artist) => self.per_artist.get(&name_key(artist)).copied().unwrap_or(0) >= self.max,
            None => false,
        };
        !artist_full && !self.song_picked(track)
    }

    fn count(&mut self, track: &Track) {
        if let Some(artist) = &track.artist {
            *self.per_artist.entry(name_key(artist)).or_insert(0) += 1;
            self.songs.insert(item_key_of(track));
        }
    }
}

/// Ranking without a model: similarity of metadata to the session's recent listens, then how often
/// the track was finished in the log and whether it is liked, then a seeded shuffle. Only the
/// picks get their reasons in words: scoring a candidate allocates nothing.
pub fn fallback_rank<C: Borrow<Track>>(
    session: &[(i64, bool)],
    candidates: &[C],
    log: &ListeningLog,
    filters: &Filters,
) -> Vec<Scored> {
    /// Why a candidate scored as it did: what it shares with which recent listen, or its count.
    #[derive(Clone, Copy)]
    enum Why {
        Artist(usize),
        Album(usize),
        Genre(usize),
        /// Liked by the listener.
        Liked,
        /// Its own history: (listens, skips).
        History(u32, u32),
    }
    let counts = log.counts();
    let totals = counts
        .values()
        .fold((0u64, 0u64), |(l, s), &(a, b)| (l + u64::from(a), s + u64::from(b)));
    let recent: Vec<&Track> = session
        .iter()
        .rev()
        .filter(|p| !p.1)
        .take(3)
        .filter_map(|p| log.tracks.get(p.0).map(|t| &**t))
        .collect();
    let same = |a: Option<&Name>, b: Option<&Name>| match (a, b) {
        (Some(a), Some(b)) => same_name(a, b),
        _ => false,
    };
    // A track's likeness to the recent listens counts a fifth for each listen of its artist this
    // session past the second: the session moves on to the artists like them, rather than
    // playing one artist (or a few, in turn) through a large library.
    let mut listens_of_artist: HashMap<String, i32> = HashMap::new();
    for artist in session
        .iter()
        .filter(|p| !p.1)
        .filter_map(|p| log.tracks.get(p.0)?.artist.as_ref())
    {
        *listens_of_artist.entry(name_key(artist)).or_default() += 1;
    }
    let pull = |artist: Option<&Name>| {
        let listens = artist
            .and_then(|a| listens_of_artist.get(&name_key(a)))
            .copied()
            .unwrap_or(0);
        0.2f32.powi((listens - 2).max(0))
    };
    let mut rng = ChaCha8Rng::seed_from_u64(filters.seed);
    let mut reasons = Vec::with_capacity(candidates.len());
    let scores: Vec<f32> = candidates
        .iter()
        .map(|c| {
            let c: &Track = c.borrow();
            let mut similarity = 0.0f32;
            let mut why = None;
            for (k, r) in recent.iter().enumerate() {
                let mut s = 0.0;
                if same(c.artist.as_ref(), r.artist.as_ref()) {
                    s += 3.0;
                    why.get_or_insert(Why::Artist(k));
                }
                if same(c.album.as_ref(), r.album.as_ref()) && same(c.album_owner(), r.album_owner()) {
                    s += 2.0;
                    why.get_or_insert(Why::Album(k));
                }
                if same(c.genre.as_ref(), r.genre.as_ref()) {
                    s += 1.0;
                    why.get_or_insert(Why::Genre(k));
                }
                if let (Some(a), Some(b)) = (c.year, r.year) {
                    if (a - b).abs() <= 5 {
                        s += 0.5;
                    }
                }
                similarity = similarity.max(s);
            }
            similarity *= pull(c.artist.as_ref());
            let (listens, skips) = counts.get(&c.id).copied().unwrap_or((0, 0));
            let liked = log
                .likes
                .get(&c.id)
                .is_some_and(|&at| filters.now_ms.is_none_or(|now| at <= now));
            reasons.push(why.unwrap_or(if liked {
                Why::Liked
            } else {
                Why::History(listens, skips)
            }));
            // Similarity dominates, then how likely it is to be finished, how often it was and
            // the like, which weighs what it weighs in a model's logits before training moves it;
            // the random part only breaks ties.
            similarity * 1000.0
                + filters.finish_weight * ln_finish(totals, (listens, skips))
                + (listens as f32).ln_1p()
                + if liked { LIKE_PRIOR } else { 0.0 }
                + rng.random::<f32>() * 0.01
        })
        .collect();
    let mut plain = filters.clone();
    plain.temperature = 0.0;
    select(&scores, session, candidates, &plain)
        .into_iter()
        .map(|i| Scored {
            track_id: candidates[i].borrow().id,
            score: scores[i],
            reason: filler_reason(candidates[i].borrow(), session, filters).unwrap_or_else(|| match reasons[i] {
                Why::Artist(k) => format!("same artist as {}", recent[k].display_name()),
                Why::Album(k) => format!("from the album of {}", recent[k].display_name()),
                Why::Genre(k) => format!("same genre as {}", recent[k].display_name()),
                Why::Liked => "you liked it".into(),
                Why::History(0, 0) => "new to you".into(),
                Why::History(0, _) => "you have played it before".into(),
                Why::History(n, _) => format!("you have finished it {n} times"),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listener's last word on a track stands: one skipped and later heard through may be
    /// picked again, one heard and then skipped may not.
    #[test]
    fn a_track_skipped_and_then_heard_through_is_not_held_back() {
        let candidates: Vec<Track> = (1..=5)
            .map(|id| Track {
                id,
                title: format!("Song {id}"),
                artist: Some(format!("Artist {id}").into()),
                ..Track::default()
            })
            .collect();
        // Track 2 scores best.
        let scores = [0.0, 5.0, 1.0, 1.0, 1.0];
        let filters = Filters::from_config(&crate::config::RecommendConfig::default(), 1);
        let first = |session: &[(i64, bool)]| candidates[select(&scores, session, &candidates, &filters)[0]].id;
        assert_eq!(first(&[(2, true), (3, false), (2, false), (4, false)]), 2);
        assert_ne!(first(&[(2, false), (3, false), (2, true), (4, false)]), 2);
        // Nor is it said to be picked for want of anything else.
        let mut log = ListeningLog::default();
        for track in &candidates {
            log.tracks.insert(Arc::new(track.clone()));
        }
        let all = Filters::from_config(&crate::config::RecommendConfig::default(), 5);
        let picks = fallback_rank(&[(2, true), (2, false), (3, false)], &candidates, &log, &all);
        let two = picks.iter().find(|p| p.track_id == 2).expect("track 2 is picked");
        assert!(!two.reason.contains("nothing else is left"), "{}", two.reason);
    }

    /// Tracks of one score (a log that has never played any of them) come in an order drawn
    /// from their ids, not in the library's order of names, and in the same order at every
    /// ranking.
    #[test]
    fn tracks_of_one_score_are_not_picked_in_library_order() {
        let candidates: Vec<Track> = (1..=40)
            .map(|id| Track {
                id,
                title: format!("Song {id}"),
                artist: Some(format!("Artist {id:02}").into()),
                ..Track::default()
            })
            .collect();
        let scores = vec![0.0f32; candidates.len()];
        let picks = |seed: u64| {
            let filters = Filters {
                seed,
                ..Filters::from_config(&crate::config::RecommendConfig::default(), 5)
            };
            select(&scores, &[], &candidates, &filters)
        };
        assert_ne!(picks(7), [0, 1, 2, 3, 4]);
        assert_eq!(picks(7), picks(8));
        // A better score still comes first.
        let mut better = scores.clone();
        better[39] = 1.0;
        let filters = Filters::from_config(&crate::config::RecommendConfig::default(), 5);
        assert_eq!(select(&better, &[], &candidates, &filters)[0], 39);
    }

    #[test]
    fn the_best_of_one_pass_are_the_head_of_a_full_sort() {
        let order = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // Few distinct values, so that ties are decided by the index.
        let keyed: Vec<(usize, f32)> = (0..5_000).map(|i| (i, rng.random_range(0..40) as f32)).collect();
        let mut sorted = keyed.clone();
        sorted.sort_by(order);
        for k in [0, 1, 7, 100, 4_999, 5_000, 6_000] {
            assert_eq!(
                best_of(keyed.iter().copied(), k, order),
                sorted[..k.min(5_000)],
                "k = {k}"
            );
        }
    }

    #[test]
    fn an_artist_is_turned_down_by_two_skips_of_their_name_in_any_case_and_form() {
        let names = [Name::from("Straße"), Name::from("STRASSE"), Name::from("Other")];
        let artist_of = |id: i64| names.get(id as usize);
        let turned_down = turned_down_artists(&[(2, false), (0, true), (1, true)], artist_of);
        assert_eq!(turned_down, [name_key("Straße")]);
        // A heard play of the artist, in either form, ends the count.
        assert!(turned_down_artists(&[(0, true), (1, false), (0, true)], artist_of).is_empty());
    }
}
