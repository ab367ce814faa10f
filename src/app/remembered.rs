//! What the player remembers from one run to the next ([`Remembered`], [`SavedQueue`]): the
//! volume and whether it is muted, the repeat mode, whether autoplay is on and the queue, in `state.json` beside the
//! database. The config's values are those of the first run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::queue::{Queue, QueueEntry, Repeat};
use crate::play::PlaySource;
use crate::track::Track;

/// The player's settings and queue as the listener left them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Remembered {
    /// The volume set, also while muted (the one unmuting goes back to).
    pub volume: u8,
    /// Whether the interactive player was muted (absent in the files of versions that did not
    /// keep it). The headless player keeps it for it and plays unmuted, with nothing on its
    /// screen to say it is muted.
    #[serde(default)]
    pub muted: bool,
    pub repeat: Repeat,
    pub autoplay: bool,
    /// Absent in the files of versions that did not keep the queue.
    #[serde(default)]
    pub queue: SavedQueue,
}

/// The queue by track id: what was played, the entry playing (it starts again from its
/// beginning) and what was up next, autoplay's picks included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedQueue {
    pub entries: Vec<(i64, PlaySource)>,
    pub cursor: Option<usize>,
}

/// How many of the entries played before the current one a saved queue keeps, unless it repeats:
/// enough to go back through an evening, where autoplay's picks would otherwise pile up in
/// `state.json` and in the Queue view run after run.
const PLAYED_KEPT: usize = 100;

impl SavedQueue {
    pub(crate) fn of(queue: &Queue) -> SavedQueue {
        // A repeating queue comes round to every entry again (`n` past the last entry goes back to
        // the first in either mode): all of it is still to play.
        let dropped = match queue.cursor() {
            Some(cursor) if queue.repeat == Repeat::Off => cursor.saturating_sub(PLAYED_KEPT),
            _ => 0,
        };
        SavedQueue {
            entries: queue.entries()[dropped..]
                .iter()
                .map(|e| (e.track.id, e.source))
                .collect(),
            cursor: queue.cursor().map(|cursor| cursor - dropped),
        }
    }

    /// The entries whose tracks the library still has (`track`), and where the cursor falls
    /// among them: on the entry it was on, else on the one that followed it.
    pub(crate) fn entries_in(&self, track: impl Fn(i64) -> Option<Track>) -> (Vec<QueueEntry>, Option<usize>) {
        let mut entries = Vec::new();
        let mut cursor = None;
        for (i, &(id, source)) in self.entries.iter().enumerate() {
            let Some(track) = track(id) else { continue };
            if cursor.is_none() && self.cursor.is_some_and(|c| i >= c) {
                cursor = Some(entries.len());
            }
            entries.push(QueueEntry {
                track,
                source,
                reason: None,
            });
        }
        (entries, cursor)
    }
}

impl Remembered {
    /// The settings saved at `path`; `None` before the first run ends. A file that cannot be
    /// read is noted in the log, and a damaged one moved aside (`state.json.damaged`) before the
    /// next save replaces it: the config's values serve meanwhile.
    pub(crate) fn load(path: &Path) -> Option<Self> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("{}: cannot read: {e}; the config's settings are used", path.display());
                return None;
            }
        };
        match serde_json::from_slice::<Self>(&bytes) {
            Ok(remembered) => Some(Self {
                volume: remembered.volume.min(100),
                ..remembered
            }),
            Err(e) => {
                let aside = path.with_extension("json.damaged");
                let kept = match std::fs::rename(path, &aside) {
                    Ok(()) => format!("moved to {}", aside.display()),
                    Err(e) => format!("it cannot be moved aside: {e}"),
                };
                tracing::warn!(
                    "{}: not the player's settings ({e}; {kept}); the config's are used",
                    path.display()
                );
                None
            }
        }
    }

    /// Writes the settings to `path` whole or not at all.
    pub(crate) fn save(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::atomic_file::write_atomic(path, &json)
    }
}

/// Keeps `state.json` in step with the running player ([`Keeper::keep`] after each change), so
/// a crash or `kill -9` loses at most the last moment's change, not the queue and the volume.
/// A write syncs the disk, so it runs on the keeper's own thread, which writes the latest
/// settings only; [`Keeper::finish`] waits for the last one.
pub(crate) struct Keeper {
    path: PathBuf,
    tx: Option<crossbeam_channel::Sender<Remembered>>,
    thread: Option<std::thread::JoinHandle<()>>,
    last: Option<Remembered>,
}

impl Keeper {
    /// Starts the thread, which writes to `path`; `kept` is what the file holds already.
    pub(crate) fn start(path: PathBuf, kept: Option<Remembered>) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded::<Remembered>();
        let file = path.clone();
        let spawned = std::thread::Builder::new().name("state keeper".into()).spawn(move || {
            while let Ok(mut latest) = rx.recv() {
                // Only the newest of the changes waiting is worth a write.
                while let Ok(newer) = rx.try_recv() {
                    latest = newer;
                }
                save_or_warn(&latest, &file);
            }
        });
        let (tx, thread) = match spawned {
            Ok(thread) => (Some(tx), Some(thread)),
            Err(e) => {
                tracing::warn!("the player's settings are kept at quit only: {e}");
                (None, None)
            }
        };
        Self {
            path,
            tx,
            thread,
            last: kept,
        }
    }

    /// Has `remembered` written if it differs from what was.
    pub(crate) fn keep(&mut self, remembered: Remembered) {
        if self.last.as_ref() == Some(&remembered) {
            return;
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(remembered.clone());
        }
        self.last = Some(remembered);
    }

    /// Has `remembered` written, and waits until it is.
    pub(crate) fn finish(mut self, remembered: Remembered) {
        match self.thread.take() {
            Some(thread) => {
                self.keep(remembered);
                drop(self.tx.take());
                let _ = thread.join();
            }
            None => save_or_warn(&remembered, &self.path),
        }
    }
}

fn save_or_warn(remembered: &Remembered, path: &Path) {
    if let Err(e) = remembered.save(path) {
        tracing::warn!("{}: the player's settings are not saved: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_settings_load_as_they_were_and_a_garbled_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(Remembered::load(&path), None);
        let settings = Remembered {
            volume: 35,
            muted: true,
            repeat: Repeat::One,
            autoplay: false,
            queue: SavedQueue {
                entries: vec![(4, PlaySource::User), (9, PlaySource::Queue), (2, PlaySource::Autoplay)],
                cursor: Some(1),
            },
        };
        settings.save(&path).unwrap();
        assert_eq!(Remembered::load(&path), Some(settings.clone()));
        // A file from before the queue was kept.
        std::fs::write(&path, b"{\"volume\": 35, \"repeat\": \"one\", \"autoplay\": false}").unwrap();
        assert_eq!(Remembered::load(&path).map(|r| r.queue), Some(SavedQueue::default()));
        std::fs::write(&path, b"{\"volume\": 250, \"repeat\": \"all\", \"autoplay\": true}").unwrap();
        assert_eq!(Remembered::load(&path).map(|r| r.volume), Some(100));
        std::fs::write(&path, b"{\"volume\": ").unwrap();
        assert_eq!(Remembered::load(&path), None);
        // The damaged file is kept aside, not overwritten by the next save.
        assert_eq!(
            std::fs::read(dir.path().join("state.json.damaged")).unwrap(),
            b"{\"volume\": "
        );
        assert!(!path.exists());
    }

    fn track(id: i64) -> Track {
        Track {
            id,
            path: format!("/music/{id}.flac").into(),
            ..Track::default()
        }
    }

    #[test]
    fn a_saved_queue_keeps_the_last_hundred_played_entries_unless_it_repeats() {
        let mut queue = Queue::default();
        queue.replace((1..=250).map(track).collect(), 180, PlaySource::User);
        let saved = SavedQueue::of(&queue);
        assert_eq!(saved.entries.len(), 250 - 80);
        assert_eq!(saved.cursor, Some(PLAYED_KEPT));
        assert_eq!(saved.entries[PLAYED_KEPT].0, 181);
        assert_eq!(saved.entries[0].0, 81);
        queue.repeat = Repeat::All;
        assert_eq!(SavedQueue::of(&queue).entries.len(), 250);
        queue.repeat = Repeat::One;
        assert_eq!(SavedQueue::of(&queue).entries.len(), 250);
        queue.repeat = Repeat::Off;
        queue.set_cursor(40);
        assert_eq!(SavedQueue::of(&queue).entries.len(), 250);
    }

    #[test]
    fn a_saved_queue_leaves_out_tracks_gone_from_the_library_and_keeps_its_place() {
        let saved = SavedQueue {
            entries: vec![
                (1, PlaySource::User),
                (2, PlaySource::User),
                (3, PlaySource::Queue),
                (4, PlaySource::Autoplay),
            ],
            cursor: Some(2),
        };
        let ids = |(entries, cursor): (Vec<QueueEntry>, Option<usize>)| {
            (
                entries.iter().map(|e| (e.track.id, e.source)).collect::<Vec<_>>(),
                cursor,
            )
        };
        let all = saved.entries_in(|id| Some(track(id)));
        assert_eq!(ids(all), (saved.entries.clone(), Some(2)));
        // The entry that played went from the library: the cursor goes to the one after it.
        let without_3 = saved.entries_in(|id| (id != 3).then(|| track(id)));
        assert_eq!(
            ids(without_3),
            (
                vec![(1, PlaySource::User), (2, PlaySource::User), (4, PlaySource::Autoplay)],
                Some(2)
            )
        );
        let without_1 = saved.entries_in(|id| (id != 1).then(|| track(id)));
        assert_eq!(ids(without_1).1, Some(1));
        // Nothing after the cursor is left: no entry is current.
        let only_played = saved.entries_in(|id| (id < 3).then(|| track(id)));
        assert_eq!(ids(only_played).1, None);
    }
}
