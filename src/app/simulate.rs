//! `skipless simulate`: the whole autoplay loop — choice, listener, log, retraining, next
//! choice — against a listener built from a real listening history, on a virtual clock
//! ([`run_simulation`], [`SimulationReport`], [`Policy`]).
//!
//! The catalogue is the history's tracks (artist + title). A track with p plays and s skips in
//! the history is skipped with chance (s + 1) / (p + 2) when offered, and with at least 0.9 when
//! it was offered within the last 20 plays. A finished track plays its median real duration, a
//! skipped one 10 s. Sessions are 20 plays long. The `skipless` policy is the player's own
//! [`AutoplayCore`], logging through the player's [`Recorder`] and retraining as the player does.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::app::autoplay::{AutoplayCore, TrainingOutcome};
use crate::app::AppError;
use crate::config::Config;
use crate::db::{tracks, Database};
use crate::log::{Clock, Recorder};
use crate::play::{EndReason, PlaySource};
use crate::player::{Event, PlayItem};
use crate::track::{Name, Track};

const SESSION_LENGTH: usize = 20;
const REPEAT_WINDOW: usize = 20;
const SKIPPED_MS: u64 = 10_000;
const WINDOW: usize = 100;

/// Who chooses the next track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Uniformly random, no repeats within the last 20.
    Shuffle,
    /// The player's autoplay.
    Skipless,
    /// The lowest skip chance not played within the last 20.
    Oracle,
}

impl Policy {
    pub(crate) const ALL: [Policy; 3] = [Policy::Shuffle, Policy::Skipless, Policy::Oracle];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Policy::Shuffle => "shuffle",
            Policy::Skipless => "skipless",
            Policy::Oracle => "oracle",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct PolicyReport {
    pub name: &'static str,
    pub skip_rate: f64,
    pub skip_rate_last_500: f64,
    /// Skip rate of each window of 100 plays.
    pub windows: Vec<f64>,
    /// Share of the plays that were of a track the listener had never played before.
    pub never_played_share: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct SimulationReport {
    pub plays: usize,
    pub tracks: usize,
    pub policies: Vec<PolicyReport>,
}

/// One track of the virtual library.
struct SimTrack {
    artist: String,
    title: String,
    album: Option<String>,
    skip_chance: f64,
    duration_ms: u64,
}

#[derive(Clone)]
struct VirtualClock(Arc<AtomicI64>);

impl Clock for VirtualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Runs every policy from the same empty start and seed.
pub(crate) fn run_simulation(
    history: &[PathBuf],
    plays: usize,
    seed: u64,
    config: &Config,
    work_dir: &Path,
    progress: &mut dyn FnMut(&'static str, usize),
) -> Result<SimulationReport, AppError> {
    let catalogue = catalogue(history)?;
    if catalogue.is_empty() {
        return Err(AppError::Simulation(format!(
            "{}: no music plays in this history",
            crate::fmt::paths(history)
        )));
    }
    let mut policies = Vec::new();
    for policy in Policy::ALL {
        let dir = work_dir.join(policy.name());
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(AppError::io_at(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(AppError::io_at(&dir))?;
        let (skipped, new) = simulate_policy(policy, &catalogue, plays, seed, config, &dir, &mut |n| {
            progress(policy.name(), n)
        })?;
        std::fs::remove_dir_all(&dir).map_err(AppError::io_at(&dir))?;
        policies.push(report(policy.name(), &skipped, &new));
    }
    Ok(SimulationReport {
        plays,
        tracks: catalogue.len(),
        policies,
    })
}

fn report(name: &'static str, skipped: &[bool], new: &[bool]) -> PolicyReport {
    let rate = |s: &[bool]| {
        if s.is_empty() {
            0.0
        } else {
            s.iter().filter(|&&x| x).count() as f64 / s.len() as f64
        }
    };
    PolicyReport {
        name,
        skip_rate: rate(skipped),
        skip_rate_last_500: rate(&skipped[skipped.len().saturating_sub(500)..]),
        windows: skipped.chunks(WINDOW).map(rate).collect(),
        never_played_share: rate(new),
    }
}

/// The history's tracks with their skip chance and median listened duration.
fn catalogue(history: &[PathBuf]) -> Result<Vec<SimTrack>, AppError> {
    struct Tally<'a> {
        play: &'a crate::history::HistoryPlay,
        plays: u32,
        skips: u32,
        listened_ms: Vec<u64>,
    }
    let plays = crate::history::read_paths(history)?;
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut tallies: Vec<Tally> = Vec::new();
    for play in &plays {
        let i = *index
            .entry((play.artist.as_str(), play.track.as_str()))
            .or_insert_with(|| {
                tallies.push(Tally {
                    play,
                    plays: 0,
                    skips: 0,
                    listened_ms: Vec::new(),
                });
                tallies.len() - 1
            });
        let tally = &mut tallies[i];
        tally.plays += 1;
        if play.is_skip() {
            tally.skips += 1;
        } else {
            tally.listened_ms.push(play.ms_played);
        }
    }
    Ok(tallies
        .into_iter()
        .map(|mut t| {
            t.listened_ms.sort_unstable();
            let median = t.listened_ms.get(t.listened_ms.len() / 2).copied();
            SimTrack {
                artist: t.play.artist.clone(),
                title: t.play.track.clone(),
                album: t.play.album.clone(),
                skip_chance: f64::from(t.skips + 1) / f64::from(t.plays + 2),
                duration_ms: median.unwrap_or(180_000).max(SKIPPED_MS + 1),
            }
        })
        .collect())
}

/// Plays `plays` tracks chosen by `policy`; returns whether each was skipped.
fn simulate_policy(
    policy: Policy,
    catalogue: &[SimTrack],
    plays: usize,
    seed: u64,
    config: &Config,
    dir: &Path,
    progress: &mut dyn FnMut(usize),
) -> Result<(Vec<bool>, Vec<bool>), AppError> {
    let db_path = dir.join("skipless.db");
    let mut db = Database::open(&db_path)?;
    let tracks: Vec<Track> = catalogue
        .iter()
        .enumerate()
        .map(|(i, t)| Track {
            id: i as i64 + 1,
            path: format!("sim://{i}").into(),
            title: t.title.clone(),
            artist: Some(t.artist.as_str().into()),
            album: t.album.as_deref().map(Name::from),
            duration_ms: Some(t.duration_ms),
            ..Track::default()
        })
        .collect();
    tracks::insert_tracks(db.conn_mut(), &tracks).map_err(|e| db.err(e))?;
    let clock = VirtualClock(Arc::new(AtomicI64::new(1_700_000_000_000)));
    let mut recorder = Recorder::new(db, &config.log, Box::new(clock.clone()));
    let mut core = match policy {
        Policy::Skipless => Some(AutoplayCore::new(
            Database::open(&db_path)?,
            dir.join("models"),
            config.recommend.clone(),
        )?),
        _ => None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut oracle_order: Vec<usize> = (0..catalogue.len()).collect();
    oracle_order.sort_by(|&a, &b| {
        catalogue[a]
            .skip_chance
            .total_cmp(&catalogue[b].skip_chance)
            .then(a.cmp(&b))
    });
    let mut recent: VecDeque<usize> = VecDeque::with_capacity(REPEAT_WINDOW + 1);
    let mut session: Vec<(i64, bool)> = Vec::new();
    let mut skipped_log = Vec::with_capacity(plays);
    let mut new_log = Vec::with_capacity(plays);
    let mut played_ever = vec![false; catalogue.len()];
    let never = AtomicBool::new(false);

    for n in 0..plays {
        if n % SESSION_LENGTH == 0 {
            // Sessions are separated by far more than the session gap.
            clock.0.fetch_add(6 * 3_600_000, Ordering::SeqCst);
            session.clear();
        }
        let pick = match (policy, core.as_ref()) {
            (Policy::Oracle, _) => oracle_order.iter().copied().find(|i| !recent.contains(i)),
            (Policy::Skipless, Some(core)) => {
                let (_, picks) = core.rank(
                    &session,
                    &crate::app::autoplay::NotToPick::default(),
                    1,
                    clock.now_ms(),
                    None,
                );
                picks.first().map(|p| (p.track_id - 1) as usize)
            }
            _ => None,
        };
        let track = match pick.filter(|&i| i < catalogue.len()) {
            Some(i) => i,
            None => random_unplayed(&mut rng, catalogue.len(), &recent),
        };
        let offered_recently = recent.contains(&track);
        let mut chance = catalogue[track].skip_chance;
        if offered_recently {
            chance = chance.max(0.9);
        }
        let skipped = rng.random::<f64>() < chance;
        let played_ms = if skipped {
            SKIPPED_MS
        } else {
            catalogue[track].duration_ms
        };

        let track_id = track as i64 + 1;
        let item = PlayItem {
            track_id,
            path: PathBuf::from(format!("sim://{track}")),
            duration_ms: Some(catalogue[track].duration_ms),
            gain_db: 0.0,
            source: PlaySource::Autoplay,
        };
        recorder
            .record(&Event::Started {
                item: item.clone(),
                duration_ms: Some(catalogue[track].duration_ms),
            })
            .into_result()?;
        clock.0.fetch_add(played_ms as i64, Ordering::SeqCst);
        let cause = if skipped {
            EndReason::Skipped
        } else {
            EndReason::Finished
        };
        let ended = Event::Ended {
            item,
            cause,
            position_ms: played_ms,
            played_ms,
            error: None,
            by: skipped.then_some(crate::play::ControlSource::Key),
        };
        let completed = recorder
            .record(&ended)
            .into_result()?
            .ok_or_else(|| AppError::Simulation(format!("play {n} was not logged")))?;

        if let Some(core) = core.as_mut() {
            if core.played(completed.logged(), completed.play_id) {
                match core.start_training().run(&mut |_, _, _| {}, &never) {
                    TrainingOutcome::Saved(_) => core.load_model()?,
                    TrainingOutcome::Kept(_) | TrainingOutcome::Cancelled => {}
                }
            }
        }
        session.push((track_id, completed.skipped));
        recent.push_back(track);
        if recent.len() > REPEAT_WINDOW {
            recent.pop_front();
        }
        skipped_log.push(completed.skipped);
        new_log.push(!std::mem::replace(&mut played_ever[track], true));
        progress(n + 1);
    }
    Ok((skipped_log, new_log))
}

/// A uniformly random track not among the recent ones (any track if all are recent).
fn random_unplayed(rng: &mut ChaCha8Rng, n: usize, recent: &VecDeque<usize>) -> usize {
    if recent.len() >= n {
        return rng.random_range(0..n);
    }
    loop {
        let i = rng.random_range(0..n);
        if !recent.contains(&i) {
            return i;
        }
    }
}
