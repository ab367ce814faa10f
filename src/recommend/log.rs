//! The local listening log as training data ([`ListeningLog`]) and training from it
//! ([`train_from_log`], [`LogTraining`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::db::tracks::TrackRows;
use crate::db::{marks, plays, tracks, Database, DbError};
use crate::play::LoggedPlay;
use crate::summary::TrainingRun;
use crate::track::{Name, Track, TracksById};

use candle_core::{DType, Device};

use super::checkpoint::{now_rfc3339, Checkpoint, CheckpointMeta, ModelsLock, FORMAT_VERSION};
use super::data::{item_key, item_key_of, Play, Session, Vocab};
use super::features::ItemGroups;
use super::metrics::Metrics;
use super::model::SeqModel;
use super::rank::metrics_of;
use super::train::{
    listen_counts, listened_queries, train_model, validation_ranks, validation_start, TrainConfig, TrainData,
    TrainProgress,
};
use super::RecommendError;

/// Finished plays in session order, and the metadata of the tracks they name.
#[derive(Debug, Clone, Default)]
pub struct ListeningLog {
    /// Shared with the candidates autoplay ranks, so the library is held once.
    pub tracks: TracksById,
    pub plays: Vec<LoggedPlay>,
    /// Liked tracks and when they were liked (Unix ms).
    pub likes: HashMap<i64, i64>,
    /// The highest row id of a play logged here (not imported) that the load read. A player
    /// logs one play at a time, so a play it reports later with an id at or below this one is
    /// in the log already: it was committed before the load read it.
    pub last_live_play: i64,
}

/// Plays that failed to play, which [`ListeningLog::load`] leaves out: they say nothing of what
/// the listener wants, and a count of plays that silently differed from the log's would read as
/// lost. Read only where a count is said (`skipless train`), not at every load.
pub(crate) fn failed_play_count(db: &Database) -> Result<u64, RecommendError> {
    Ok(plays::failed_play_count(db.conn()).map_err(|e| db.err(e))?)
}

impl ListeningLog {
    /// Reads the finished plays (in-progress and failed plays are left out) and every track.
    ///
    /// Imported plays whose track is not in the library still teach the model what the listener
    /// plays: each distinct (artist, title) becomes a track with a negative id, which the model
    /// learns from but which is never a candidate (candidates come from the library).
    ///
    /// The tracks of `library` (the player's, when it holds one) are shared, not read again.
    pub(crate) fn load(db: &Database, library: &[Arc<Track>]) -> Result<ListeningLog, RecommendError> {
        let conn = db.conn();
        let mut tracks: Vec<Arc<Track>> = library.to_vec();
        // The rest of the index, gone and failed tracks included (old plays still name them); the
        // playable rows are the library's when it was given.
        let rows = if library.is_empty() {
            TrackRows::All
        } else {
            TrackRows::NotPlayable
        };
        tracks::each_track_in_id_order(conn, rows, |t| tracks.push(Arc::new(t))).map_err(|e| db.err(e))?;
        let mut outside: HashMap<String, i64> = HashMap::new();
        let mut plays = Vec::new();
        let mut last_live_play = 0;
        for finished in plays::finished_plays(conn).map_err(|e| db.err(e))? {
            last_live_play = last_live_play.max(finished.live_id.unwrap_or(0));
            let track_id = match finished.played {
                plays::Played::Track(id) => id,
                plays::Played::Unmatched { artist, title, album } => {
                    let key = item_key(&artist, &title);
                    let next = -(outside.len() as i64) - 1;
                    let id = *outside.entry(key).or_insert(next);
                    if id == next {
                        tracks.push(Arc::new(Track {
                            id,
                            title,
                            artist: Some(artist.into()),
                            album: album.map(Name::from),
                            ..Track::default()
                        }));
                    }
                    id
                }
            };
            plays.push(LoggedPlay {
                track_id,
                session_id: finished.session_id,
                skipped: finished.skipped,
                ts_ms: finished.at_ms,
            });
        }
        let likes = marks::load(conn).map_err(|e| db.err(e))?.liked;
        Ok(ListeningLog {
            tracks: tracks.into_iter().collect(),
            plays,
            likes,
            last_live_play,
        })
    }

    /// Plays grouped by session, in order.
    pub(crate) fn sessions(&self) -> Vec<&[LoggedPlay]> {
        self.plays.chunk_by(|a, b| a.session_id == b.session_id).collect()
    }

    /// Why the log is too short to train on, when it has fewer than `min_plays` plays or fewer
    /// sessions than the training split needs; `None` when it is long enough.
    pub(crate) fn too_short_to_train(&self, min_plays: u64) -> Option<String> {
        let (plays, sessions) = (self.plays.len(), self.sessions().len());
        if plays as u64 >= min_plays && sessions >= MIN_TRAINING_SESSIONS {
            return None;
        }
        Some(format!(
            "training needs {min_plays} plays in {MIN_TRAINING_SESSIONS} sessions; the log has {plays} in {sessions}"
        ))
    }

    /// (listens, skips) per track.
    pub(crate) fn counts(&self) -> HashMap<i64, (u32, u32)> {
        let mut counts: HashMap<i64, (u32, u32)> = HashMap::new();
        for play in &self.plays {
            let c = counts.entry(play.track_id).or_default();
            if play.skipped {
                c.1 += 1;
            } else {
                c.0 += 1;
            }
        }
        counts
    }

    /// The tracks listened to (not skipped) in a session where one of `seeds` was listened to,
    /// the session `leave_out` aside.
    pub(crate) fn co_listened(&self, seeds: &HashSet<i64>, leave_out: Option<i64>) -> HashSet<i64> {
        let mut found = HashSet::new();
        for session in self.sessions() {
            if session.first().is_some_and(|p| Some(p.session_id) == leave_out) {
                continue;
            }
            if session.iter().any(|p| !p.skipped && seeds.contains(&p.track_id)) {
                found.extend(session.iter().filter(|p| !p.skipped).map(|p| p.track_id));
            }
        }
        found
    }

    /// The last `n` tracks played, most recent last.
    pub(crate) fn recent(&self, n: usize) -> Vec<i64> {
        let start = self.plays.len().saturating_sub(n);
        self.plays[start..].iter().map(|p| p.track_id).collect()
    }
}

/// What [`LogTraining::settle`] did with the models folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Settled {
    /// The new model replaced the current one, saved at this path.
    Saved(PathBuf),
    /// The current model stays, saved again as it was judged (in the new run's vocabulary).
    KeptAsJudged,
    /// The current model stays as it was on file.
    Kept,
}

impl Settled {
    /// Whether the new model is the one in use now.
    pub(crate) fn replaced(&self) -> bool {
        matches!(self, Settled::Saved(_))
    }

    /// Whether the file changed, so that a running player should read it again.
    pub(crate) fn wrote(&self) -> bool {
        !matches!(self, Settled::Kept)
    }
}

/// A model trained on the log, and how the model it would replace does on the same validation slice.
pub(crate) struct LogTraining {
    pub checkpoint: Checkpoint,
    /// The previous model's served metrics on this run's validation slice (`None` without a
    /// previous model of the same shape). Its own stored metrics came from an older, smaller
    /// slice, so only these are comparable with the new model's.
    pub previous_validation: Option<Metrics>,
    /// When the model judged as the previous one was trained (`None`: there was none), to tell
    /// whether another run saved one since.
    previous_trained_at: Option<String>,
    /// The previous model as it was judged: in this run's vocabulary, where the tracks played
    /// since it was trained have items and history features. Kept, it is saved so, so that the
    /// model served is the one judged; its training time and plays stay its own.
    previous_judged: Option<Checkpoint>,
    /// The sessions and likes of this run, to judge a model saved by another run meanwhile on
    /// the same slice.
    sessions: Vec<Session>,
    likes: Vec<(u32, i64)>,
    val_start: usize,
}

impl LogTraining {
    /// Whether the new model should replace the previous one: its served ranking is at least as
    /// good on the same validation slice. A tie goes to the new model, which was trained on the
    /// log as it is now; that includes a slice of skips alone, where any model reads 0 (keeping
    /// the older model there held `simulate`'s listener to a model of its first plays).
    fn improves(&self) -> bool {
        self.previous_validation
            .is_none_or(|old| self.checkpoint.meta.validation.ndcg10 >= old.ndcg10)
    }

    /// Saves the new model under `models_dir` when it [`improves`](Self::improves) on the
    /// model saved there, or when `force`d. The one that stays is saved again as it was judged,
    /// in this run's vocabulary, where that holds every item of the file's and more (another run
    /// may have saved it so already): the tracks played since it was trained then have their
    /// items and history features, as when it was compared. Runs of the player and of `skipless
    /// train` settle one at a time; one that finds a model saved by another while it trained
    /// judges that one on its own slice before comparing.
    pub(crate) fn settle(&mut self, models_dir: &Path, force: bool) -> Result<Settled, RecommendError> {
        let _one_at_a_time = ModelsLock::take(models_dir);
        // One that cannot be read is replaced, as at the start of a run.
        let current = Checkpoint::load(models_dir).ok().flatten();
        if current.as_ref().map(|c| &c.meta.trained_at) != self.previous_trained_at.as_ref() {
            self.previous_trained_at = current.as_ref().map(|c| c.meta.trained_at.clone());
            self.previous_judged = match current.as_ref() {
                Some(current) => self.judged(current)?,
                None => None,
            };
            self.previous_validation = self.previous_judged.as_ref().map(|p| p.meta.validation);
        }
        if force || self.improves() {
            return self.checkpoint.save(models_dir).map(Settled::Saved);
        }
        let grows = |judged: &&Checkpoint| {
            current.as_ref().is_none_or(|file| {
                let vocab = &judged.meta.vocab;
                vocab.len() > file.meta.vocab.len() && file.meta.vocab.items.iter().all(|i| vocab.id(&i.key).is_some())
            })
        };
        match self.previous_judged.as_ref().filter(grows) {
            // The model stays in use either way: a folder that cannot be written keeps it as it was.
            Some(previous) => match previous.save(models_dir) {
                Ok(_) => Ok(Settled::KeptAsJudged),
                Err(e) => {
                    tracing::warn!("the current model stays as it was saved: {e}");
                    Ok(Settled::Kept)
                }
            },
            None => Ok(Settled::Kept),
        }
    }

    /// `previous` in this run's vocabulary (items new since it was trained score from their side
    /// features, as they would if it stayed in use), with its served metrics on this run's
    /// validation slice; `None` for a model of another shape, which the new one replaces.
    fn judged(&self, previous: &Checkpoint) -> Result<Option<Checkpoint>, RecommendError> {
        let config = &self.checkpoint.meta.config;
        if previous.meta.config.model != config.model {
            return Ok(None);
        }
        let vocab = &self.checkpoint.meta.vocab;
        let mut old = SeqModel::new(config.model, vocab, DType::F32, config.seed, &Device::Cpu)?;
        old.warm_start(&previous.model, &previous.meta.vocab, vocab)?;
        let data = TrainData {
            vocab,
            sessions: &self.sessions,
            val_start: self.val_start,
            likes: &self.likes,
        };
        let popularity = listen_counts(vocab, &self.sessions[..self.val_start]);
        let validation = validation_metrics(&old, data, &popularity)?;
        Ok(Some(Checkpoint {
            meta: CheckpointMeta {
                vocab: vocab.clone(),
                validation,
                ..previous.meta.clone()
            },
            model: old,
        }))
    }

    /// Adds this run to the record of training runs in `db`: `saved` if the new model replaced
    /// the current one, after `train_ms`, started by the "player" or the "cli".
    pub(crate) fn record(&self, db: &Database, saved: bool, train_ms: u64, started_by: &str) -> Result<(), DbError> {
        let run = TrainingRun {
            finished_at_ms: crate::clock::now_ms(),
            plays_seen: self.checkpoint.meta.plays_seen,
            new_ndcg10: self.checkpoint.meta.validation.ndcg10,
            old_ndcg10: self.previous_validation.map(|m| m.ndcg10),
            transformer_kept: self.checkpoint.meta.transformer_kept,
            saved,
            train_ms,
            started_by: started_by.to_owned(),
        };
        crate::db::training::record(db.conn(), &run).map_err(|e| db.err(e))
    }
}

/// The log's sessions as training data, in the vocabulary `vocab` (new items are added), and the
/// likes as (item, liked at).
pub(crate) fn log_sessions(log: &ListeningLog, vocab: &mut Vocab) -> (Vec<Session>, Vec<(u32, i64)>) {
    let mut sessions = Vec::new();
    for plays in log.sessions() {
        let session = Session {
            plays: plays
                .iter()
                .filter_map(|p| {
                    let track = log.tracks.get(p.track_id)?;
                    Some(Play {
                        item: vocab.intern(&item_key_of(track), track),
                        skipped: p.skipped,
                        ts_ms: p.ts_ms,
                    })
                })
                .collect(),
        };
        if !session.plays.is_empty() {
            sessions.push(session);
        }
    }
    let likes = log
        .likes
        .iter()
        .filter_map(|(track, &at)| Some((vocab.id(&item_key_of(log.tracks.get(*track)?))?, at)))
        .collect();
    (sessions, likes)
}

/// The fewest sessions a log can be trained on: fewer leave no newer session to validate on.
pub(crate) const MIN_TRAINING_SESSIONS: usize = 3;

/// Trains a model on the whole log: the newest tenth of the sessions is the validation slice that
/// stops training and on which the new and the previous model are compared. Warm-starts from
/// `previous` when its shape matches.
pub(crate) fn train_from_log(
    log: &ListeningLog,
    previous: Option<&Checkpoint>,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&TrainProgress),
    cancel: &AtomicBool,
) -> Result<LogTraining, RecommendError> {
    let compatible = previous.filter(|p| p.meta.config.model == config.model);
    let mut vocab = compatible.map(|p| p.meta.vocab.clone()).unwrap_or_default();
    let (sessions, likes) = log_sessions(log, &mut vocab);
    if sessions.len() < MIN_TRAINING_SESSIONS {
        return Err(RecommendError::NotEnoughData(format!(
            "{} listening sessions; at least {MIN_TRAINING_SESSIONS} are needed",
            sessions.len()
        )));
    }
    let val_start = validation_start(&sessions);
    if listened_queries(&sessions[val_start..]) == 0 {
        return Err(RecommendError::NotEnoughData(
            "the newest sessions hold no play listened to after a session's first, to judge a model on; \
             a few more plays will"
                .into(),
        ));
    }
    let data = TrainData {
        vocab: &vocab,
        sessions: &sessions,
        val_start,
        likes: &likes,
    };
    let outcome = train_model(
        data,
        config,
        compatible.map(|p| (&p.model, &p.meta.vocab)),
        progress,
        cancel,
    )?;
    let checkpoint = Checkpoint {
        meta: CheckpointMeta {
            format_version: FORMAT_VERSION,
            vocab,
            config: *config,
            validation: outcome.validation,
            best_epoch: outcome.best_epoch,
            transformer_kept: outcome.transformer_kept,
            trained_at: now_rfc3339(),
            plays_seen: log.plays.len() as u64,
        },
        model: outcome.model,
    };
    let mut trained = LogTraining {
        checkpoint,
        previous_validation: None,
        previous_trained_at: previous.map(|p| p.meta.trained_at.clone()),
        previous_judged: None,
        sessions,
        likes,
        val_start,
    };
    if let Some(previous) = previous {
        trained.previous_judged = trained.judged(previous)?;
        trained.previous_validation = trained.previous_judged.as_ref().map(|p| p.meta.validation);
    }
    Ok(trained)
}

/// A model's metrics on the validation slice of `data`, by the ranking it would serve.
fn validation_metrics(model: &SeqModel, data: TrainData, popularity: &[u32]) -> Result<Metrics, RecommendError> {
    let ranked = validation_ranks(model, data, &ItemGroups::of(data.vocab), popularity)?;
    Ok(metrics_of(&ranked))
}

/// The playable tracks of the library that the listener has not banned and that do not keep
/// failing to play: what may be recommended, in id order, shared with `log` (a track added since `log` was read waits for
/// the next reload).
pub(crate) fn library_candidates(db: &Database, log: &ListeningLog) -> Result<Vec<Arc<Track>>, RecommendError> {
    let banned = marks::load(db.conn()).map_err(|e| db.err(e))?.banned;
    // A track whose last play failed keeps failing, and its failures are no plays: a damaged
    // file is left out until a scan reads it again (or a play of it goes well), a file that
    // could not be opened while it still cannot be (a folder gone, a disk unplugged).
    let failing: HashSet<i64> = plays::last_failures(db.conn())
        .map_err(|e| db.err(e))?
        .into_iter()
        .filter(|f| !f.could_not_open || std::fs::File::open(&f.path).is_err())
        .map(|f| f.track_id)
        .collect();
    // A ban is of the song: its other files are left out with the one banned (a track without
    // an artist is only itself: an untagged "Intro" is no other's).
    let banned_songs: HashSet<String> = banned
        .keys()
        .filter_map(|&id| log.tracks.get(id))
        .filter(|track| track.artist.is_some())
        .map(|track| item_key_of(track))
        .collect();
    let ids = tracks::playable_ids(db.conn()).map_err(|e| db.err(e))?;
    Ok(ids
        .into_iter()
        .filter(|id| !failing.contains(id))
        .filter_map(|id| log.tracks.get(id).cloned())
        .filter(|track| !banned.contains_key(&track.id) && !banned_songs.contains(&item_key_of(track)))
        .collect())
}

/// Display names of the log's tracks, for reasons.
pub(crate) fn display_names(log: &ListeningLog, vocab: &Vocab) -> HashMap<u32, String> {
    log.tracks
        .iter()
        .filter_map(|t| Some((vocab.id(&item_key_of(t))?, t.display_name())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_are_timed_by_their_end_and_imported_plays_the_library_lacks_are_kept() {
        let mut db = Database::open_in_memory().unwrap();
        let track = Track {
            id: 1,
            path: "/music/a.ogg".into(),
            title: "A".into(),
            artist: Some("X".into()),
            ..Track::default()
        };
        tracks::insert_tracks(db.conn_mut(), &[track]).unwrap();
        let conn = db.conn();
        conn.execute_batch(
            "INSERT INTO sessions (id, started_at, last_at) VALUES (1, 1000000, 2000000);
             INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, end_reason, skipped, source)
               VALUES (1, 1, 0, 1000000, 1180000, 180000, 'finished', 0, 'user');
             INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, end_reason, skipped, source)
               VALUES (1, 1, 2, 1400000, NULL, 5000, 'interrupted', 0, 'user');
             INSERT INTO unmatched_plays (import_key, format, started_at, ended_at, played_ms, artist, title, album,
                                          match_key, skipped, end_reason, session_id, position)
               VALUES ('k1', 'spotify', 1190000, 1390000, 200000, 'Y', 'B', NULL, 'y b', 1, 'skipped', 1, 1);",
        )
        .unwrap();
        let log = ListeningLog::load(&db, &[]).unwrap();
        let ts: Vec<i64> = log.plays.iter().map(|p| p.ts_ms).collect();
        // The end of each play; a play with no end is timed by its start plus what was played.
        assert_eq!(ts, [1_180_000, 1_390_000, 1_405_000]);
        let outside = log.plays[1].track_id;
        assert!(
            outside < 0,
            "an imported play of a track the library lacks keeps its place"
        );
        assert_eq!(log.tracks.get(outside).unwrap().title, "B");
        assert!(log.plays[1].skipped);
    }

    #[test]
    fn sessions_come_in_the_order_they_began_whatever_their_ids() {
        let mut db = Database::open_in_memory().unwrap();
        let track = |id: i64| Track {
            id,
            path: format!("/music/{id}.ogg").into(),
            title: format!("{id}"),
            ..Track::default()
        };
        tracks::insert_tracks(db.conn_mut(), &[track(1), track(2)]).unwrap();
        // Session 1 is this week's listening; session 2, imported after it, was last year's.
        // A play that failed to decode teaches nothing, imported or not.
        db.conn()
            .execute_batch(
                "INSERT INTO sessions (id, started_at, last_at) VALUES (1, 9000000, 9200000), (2, 1000000, 1400000);
                 INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, end_reason, skipped, source)
                   VALUES (1, 1, 0, 9000000, 9180000, 180000, 'finished', 0, 'user');
                 INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, end_reason, skipped, source, import_key)
                   VALUES (2, 2, 1, 1200000, 1380000, 180000, 'finished', 0, 'import', 'k2');
                 INSERT INTO unmatched_plays (import_key, format, started_at, ended_at, played_ms, artist, title, album,
                                              match_key, skipped, end_reason, session_id, position)
                   VALUES ('k1', 'spotify', 1000000, 1190000, 190000, 'Y', 'B', NULL, 'y b', 0, 'finished', 2, 0),
                          ('k3', 'spotify', 1390000, 1400000, 10000, 'Y', 'C', NULL, 'y c', 1, 'error', 2, 2);",
            )
            .unwrap();
        let log = ListeningLog::load(&db, &[]).unwrap();
        let ts: Vec<i64> = log.plays.iter().map(|p| p.ts_ms).collect();
        assert_eq!(ts, [1_190_000, 1_380_000, 9_180_000]);
        assert_eq!(log.sessions().len(), 2);
    }

    /// A log of `sessions` sessions of `tracks` tracks, each session 6 plays in turn from its
    /// number on, every third skipped.
    fn log_of(tracks: i64, sessions: i64) -> ListeningLog {
        let mut db = Database::open_in_memory().unwrap();
        let track = |id: i64| Track {
            id,
            path: format!("/music/{id}.ogg").into(),
            title: format!("{id}"),
            artist: Some(format!("artist {}", id % 3).into()),
            ..Track::default()
        };
        tracks::insert_tracks(db.conn_mut(), &(1..=tracks).map(track).collect::<Vec<_>>()).unwrap();
        let mut sql = String::new();
        for session in 0..sessions {
            let start = 10_000_000 * (session + 1);
            sql += &format!(
                "INSERT INTO sessions (id, started_at, last_at) VALUES ({}, {start}, {});",
                session + 1,
                start + 6 * 200_000
            );
            for position in 0..6 {
                let track_id = (session + position) % tracks + 1;
                let skipped = i64::from(position % 3 == 2);
                let at = start + position * 200_000;
                sql += &format!(
                    "INSERT INTO plays (track_id, session_id, position, started_at, ended_at, played_ms, end_reason, skipped, source)
                     VALUES ({track_id}, {}, {position}, {at}, {}, 180000, '{}', {skipped}, 'user');",
                    session + 1,
                    at + 180_000,
                    if skipped == 1 { "skipped" } else { "finished" }
                );
            }
        }
        db.conn().execute_batch(&sql).unwrap();
        ListeningLog::load(&db, &[]).unwrap()
    }

    /// A retrain that keeps the current model saves it as it was judged: in the new run's
    /// vocabulary, so that the tracks played since it was trained are ranked with their history
    /// features, as they were when it was compared, and not as tracks new to it.
    #[test]
    fn a_kept_model_is_saved_as_it_was_judged() {
        let config = TrainConfig {
            max_epochs: 2,
            min_steps: 0,
            transformer_min_steps: 0,
            ..TrainConfig::default()
        };
        let models = tempfile::tempdir().unwrap();
        let cancel = AtomicBool::new(false);
        let first = train_from_log(&log_of(6, 12), None, &config, &mut |_| {}, &cancel).unwrap();
        let first_trained_at = first.checkpoint.meta.trained_at.clone();
        first.checkpoint.save(models.path()).unwrap();
        let previous = Checkpoint::load(models.path()).unwrap().unwrap();
        assert_eq!(previous.meta.vocab.len(), 6);

        // Four tracks more, played since; the new run is made to lose the comparison.
        let longer = log_of(10, 16);
        let mut second = train_from_log(&longer, Some(&previous), &config, &mut |_| {}, &cancel).unwrap();
        let judged = second.previous_validation.unwrap();
        second.checkpoint.meta.validation.ndcg10 = judged.ndcg10 - 0.1;
        assert_eq!(second.settle(models.path(), false).unwrap(), Settled::KeptAsJudged);
        let kept = Checkpoint::load(models.path()).unwrap().unwrap();
        assert_eq!(kept.meta.trained_at, first_trained_at, "the same model");
        assert_eq!(kept.meta.vocab.len(), 10, "in the vocabulary it was judged in");
        assert_eq!(kept.meta.validation, judged);
        assert_eq!(
            kept.meta.plays_seen, previous.meta.plays_seen,
            "the plays it was trained on"
        );
        // A run on the shorter log that loses too leaves the file in the larger vocabulary.
        let mut stale = train_from_log(&log_of(6, 12), Some(&previous), &config, &mut |_| {}, &cancel).unwrap();
        stale.checkpoint.meta.validation.ndcg10 = -1.0;
        assert_eq!(stale.settle(models.path(), false).unwrap(), Settled::Kept);
        assert_eq!(Checkpoint::load(models.path()).unwrap().unwrap().meta.vocab.len(), 10);
        // Judged again, it reads what it was judged at.
        let mut third = train_from_log(&longer, Some(&kept), &config, &mut |_| {}, &cancel).unwrap();
        assert_eq!(third.previous_validation, Some(judged));
        third.checkpoint.meta.validation.ndcg10 = judged.ndcg10 + 0.1;
        assert!(third.settle(models.path(), false).unwrap().replaced());
    }
}
