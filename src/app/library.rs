//! The library as the UI browses it ([`LibraryIndex`], [`SortKey`]): tracks grouped by
//! artist and album, and play counts per track. Built off the UI thread; `search` searches it.

use std::collections::HashMap;

use std::ops::Range;
use std::sync::Arc;

use super::AppError;
use crate::clock::now_ms;
use crate::db::tracks;
use crate::db::{marks, playlists, plays};
use crate::db::{Database, DbError};
use crate::marks::Marks;
use crate::playlist::{checked_name, Entry, Smart};
use crate::summary::TrackPlays;
use crate::track::{same_name, Name, Track};

/// An album of one artist: its tracks are a run of [`LibraryIndex::tracks`], which is in
/// artist and album order.
#[derive(Debug, Clone, PartialEq)]
pub struct Album {
    pub name: Name,
    /// The earliest year its tracks give.
    pub year: Option<i16>,
    pub tracks: Range<usize>,
}

/// An artist with their albums.
#[derive(Debug, Clone, PartialEq)]
pub struct Artist {
    pub name: Name,
    pub albums: Vec<Album>,
}

/// Orders of the flat track list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Album,
    Title,
    PlayCount,
    SkipRate,
    LastPlayed,
}

impl SortKey {
    pub(crate) fn cycle(self) -> Self {
        match self {
            SortKey::Album => SortKey::Title,
            SortKey::Title => SortKey::PlayCount,
            SortKey::PlayCount => SortKey::SkipRate,
            SortKey::SkipRate => SortKey::LastPlayed,
            SortKey::LastPlayed => SortKey::Album,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            SortKey::Album => "artist/album/track",
            SortKey::Title => "title",
            SortKey::PlayCount => "play count",
            SortKey::SkipRate => "skip rate",
            SortKey::LastPlayed => "last played",
        }
    }
}

/// A saved playlist as the screen shows it: its name and its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedPlaylist {
    pub name: String,
    pub entries: Vec<SavedEntry>,
    /// Computed from the log when opened (read-only), not saved.
    pub smart: bool,
}

/// One entry of a [`SavedPlaylist`]: the library track it names, or for a file the library
/// does not have (yet) what the playlist says of it.
#[derive(Debug, Clone, PartialEq)]
pub enum SavedEntry {
    Track(i64),
    Missing(String),
}

/// A change to the entries of a saved playlist, by their place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryEdit {
    Remove(usize),
    Swap(usize, usize),
}

/// The entries of the saved or smart playlist `name`, each with the library track it names:
/// what the command line exports and plays, and what the remote plays.
pub(crate) fn playlist_entries(db: &Database, name: &str) -> Result<Vec<(Entry, Option<Track>)>, AppError> {
    if let Some(smart) = Smart::named(name) {
        let ids = playlists::smart_tracks(db.conn(), smart, now_ms()).map_err(|e| db.err(e))?;
        let mut by_id: HashMap<i64, Track> = tracks::tracks_in_id_order(db.conn())
            .map_err(|e| db.err(e))?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        return Ok(ids
            .iter()
            .filter_map(|id| by_id.remove(id))
            .map(|track| (entry_of(&track), Some(track)))
            .collect());
    }
    let saved = playlists::saved_name(db.conn(), name).map_err(|e| db.err(e))?;
    let entries = saved
        .map(|saved| playlists::entries(db.conn(), &saved))
        .transpose()
        .map_err(|e| db.err(e))?
        .flatten()
        .ok_or_else(|| AppError::Refused(format!("no playlist named {name:?} (see `skipless playlist list`)")))?;
    Ok(playlists::resolve(db.conn(), entries).map_err(|e| db.err(e))?)
}

/// The tracks of the artist `name` (in any case) as the Artists pane lists them, by album
/// artist, else artist: their album's track with a guest is theirs, their track on a compilation
/// is the compilation's.
pub(crate) fn tracks_of_artist(tracks: Vec<Track>, name: &str) -> Vec<Track> {
    let name = name.trim();
    tracks
        .into_iter()
        .filter(|track| track.album_owner().is_some_and(|owner| same_name(owner, name)))
        .collect()
}

/// The library's playable tracks at `path`: the file's track, or every track under the folder in
/// the order a folder plays in (by disc and track number, each subfolder in turn); none when the path is not in the library, does not exist (a file gone since the
/// last scan is not played) or failed to read at its last scan. The one way every front end turns
/// a path it was given into tracks.
pub(crate) fn tracks_at(db: &Database, path: &std::path::Path) -> Result<Vec<Track>, DbError> {
    let Some(path) = tracks::index_path(db.conn(), path).map_err(|e| db.err(e))? else {
        return Ok(Vec::new());
    };
    let found = if path.is_dir() {
        tracks::tracks_under(db.conn(), &path)
    } else {
        tracks::playable_track_at(db.conn(), &path).map(|t| t.into_iter().collect())
    };
    found.map_err(|e| db.err(e))
}

/// Why [`tracks_at`] found nothing at `path`, as one line for the listener.
pub(crate) fn nothing_at(db: &Database, path: &std::path::Path) -> Result<String, DbError> {
    let known = tracks::index_path(db.conn(), path).map_err(|e| db.err(e))?;
    let found = std::fs::metadata(path).map(|m| (m.file_type(), known));
    let said = match found {
        Ok((kind, _)) if !kind.is_dir() && !kind.is_file() => {
            format!("{}: not a regular file (a device, a pipe or a socket)", path.display())
        }
        Ok((kind, _)) if kind.is_dir() => format!(
            "{}: no playable file of the library in it (a folder not scanned yet: skipless scan PATH)",
            path.display()
        ),
        Ok(_) if !crate::library::is_audio_file(path) => {
            format!("{}: {}", path.display(), crate::library::not_audio(path))
        }
        Ok((_, Some(file)))
            if tracks::track_by_path_any(db.conn(), &file)
                .map_err(|e| db.err(e))?
                .is_some() =>
        {
            format!(
                "{}: not playable: it could not be read at the last scan",
                path.display()
            )
        }
        _ => format!(
            "{}: not in the library (scan it first: skipless scan PATH)",
            path.display()
        ),
    };
    Ok(said)
}

/// A library track as a playlist entry: its file, and the length and "Artist - Title" an M3U's
/// `#EXTINF` gives.
pub(crate) fn entry_of(track: &Track) -> Entry {
    Entry {
        path: track.path.clone(),
        line: 0,
        title: Some(match &track.artist {
            Some(artist) => format!("{artist} - {}", track.title),
            None => track.title.clone(),
        }),
        duration_ms: track.duration_ms,
    }
}

/// Deletes the saved playlist `name`, or says why not: it is smart or unknown. The command line
/// and the player delete through this.
pub(crate) fn delete_playlist(db: &Database, name: &str) -> Result<(), AppError> {
    if Smart::named(name).is_some() {
        return Err(AppError::Refused(format!(
            "{name:?} is computed from the log: it cannot be deleted"
        )));
    }
    let saved = playlists::saved_name(db.conn(), name).map_err(|e| db.err(e))?;
    let deleted = match saved {
        Some(saved) => playlists::delete(db.conn(), &saved).map_err(|e| db.err(e))?,
        None => false,
    };
    if !deleted {
        return Err(AppError::Refused(format!(
            "no playlist named {name:?} (see `skipless playlist list`)"
        )));
    }
    Ok(())
}

/// Renames the saved playlist `from` to `to` (trimmed); the name it now has, or why not: `from`
/// is smart or unknown, `to` is no good name (see [`checked_name`]) or is taken. The command
/// line and the player rename through this.
pub(crate) fn rename_playlist(db: &Database, from: &str, to: &str) -> Result<String, AppError> {
    let refused = |why: String| Err(AppError::Refused(why));
    if Smart::named(from).is_some() {
        return refused(format!("{from:?} is computed from the log: it cannot be renamed"));
    }
    let to = checked_name(to).map_err(AppError::Refused)?;
    let Some(from) = playlists::saved_name(db.conn(), from).map_err(|e| db.err(e))? else {
        return refused(format!("no playlist named {from:?}"));
    };
    if from == to {
        return Ok(to.to_owned());
    }
    // A new spelling of its own name ("road trip" to "Road Trip") takes nothing.
    if let Some(taken) = playlists::name_taken(db.conn(), to, Some(&from)).map_err(|e| db.err(e))? {
        return refused(format!("a playlist named {taken:?} exists already"));
    }
    if !playlists::rename(db.conn(), &from, to, now_ms()).map_err(|e| db.err(e))? {
        return refused(format!("no playlist named {from:?}"));
    }
    Ok(to.to_owned())
}

impl SavedPlaylist {
    /// The library tracks of the playlist, in its order.
    pub fn track_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.entries.iter().filter_map(|e| match e {
            SavedEntry::Track(id) => Some(*id),
            SavedEntry::Missing(_) => None,
        })
    }

    /// Applies `edit` as [`playlists::remove_entry`] and [`playlists::swap_entries`] do to
    /// the stored playlist; false when an entry is missing.
    pub(crate) fn apply(&mut self, edit: EntryEdit) -> bool {
        match edit {
            EntryEdit::Remove(at) if at < self.entries.len() => {
                self.entries.remove(at);
                true
            }
            EntryEdit::Swap(a, b) if a.max(b) < self.entries.len() => {
                self.entries.swap(a, b);
                true
            }
            _ => false,
        }
    }

    /// Every saved playlist, its entries resolved to library tracks, then the smart playlists
    /// computed from the log now.
    pub(crate) fn load_all(db: &Database) -> Result<Vec<SavedPlaylist>, DbError> {
        let conn = db.conn();
        let mut all = Vec::new();
        for summary in playlists::list(conn).map_err(|e| db.err(e))? {
            let entries = playlists::entries(conn, &summary.name)
                .map_err(|e| db.err(e))?
                .unwrap_or_default();
            let entries = playlists::resolve(conn, entries)
                .map_err(|e| db.err(e))?
                .into_iter()
                .map(|(entry, track)| match track {
                    Some(track) => SavedEntry::Track(track.id),
                    None => SavedEntry::Missing(entry.title.unwrap_or_else(|| entry.path.display().to_string())),
                })
                .collect();
            all.push(SavedPlaylist {
                name: summary.name,
                entries,
                smart: false,
            });
        }
        for smart in Smart::ALL {
            let tracks = playlists::smart_tracks(conn, smart, now_ms()).map_err(|e| db.err(e))?;
            all.push(SavedPlaylist {
                name: smart.name().to_owned(),
                entries: tracks.into_iter().map(SavedEntry::Track).collect(),
                smart: true,
            });
        }
        Ok(all)
    }
}

/// The library's tracks in the order the screen lists them, each held once in the process and
/// shared by the screen, the search thread and the recommender.
pub type SharedLibrary = Arc<Vec<Arc<Track>>>;

#[derive(Debug, Clone, Default)]
pub struct LibraryIndex {
    /// In artist / album / disc / track order; each track shared with the recommender.
    pub tracks: SharedLibrary,
    pub artists: Vec<Artist>,
    pub plays: HashMap<i64, TrackPlays>,
    /// Likes and bans, kept in step with the database as the listener changes them.
    pub marks: Marks,
    /// The library's folders: with none, an empty library is one with no folder yet.
    pub roots: Vec<std::path::PathBuf>,
    /// Places in `tracks`, sorted by the track's id: four bytes a track where a hash map of ids
    /// takes six times that.
    by_id: Vec<u32>,
}

impl LibraryIndex {
    /// Reads the playable tracks and their play counts.
    pub fn load(db: &Database) -> Result<Self, DbError> {
        let tracks: Vec<Arc<Track>> = tracks::all_tracks(db.conn()).map_err(|e| db.err(e))?;
        let plays = plays::plays_per_track(db.conn()).map_err(|e| db.err(e))?;
        let marks = marks::load(db.conn()).map_err(|e| db.err(e))?;
        let roots = tracks::roots(db.conn()).map_err(|e| db.err(e))?;
        Ok(Self {
            marks,
            roots,
            ..Self::new(tracks, plays)
        })
    }

    pub(crate) fn new(tracks: Vec<Arc<Track>>, plays: HashMap<i64, TrackPlays>) -> Self {
        let mut artists: Vec<Artist> = Vec::new();
        let unknown_artist: Name = crate::track::UNKNOWN_ARTIST.into();
        let unknown_album: Name = crate::track::UNKNOWN_ALBUM.into();
        for (i, track) in tracks.iter().enumerate() {
            let artist_name = track.album_owner().cloned().unwrap_or_else(|| unknown_artist.clone());
            let album_name = track.album.clone().unwrap_or_else(|| unknown_album.clone());
            // Tracks arrive grouped by artist and album, so only the last group can match. The
            // order ignores case (`name_order`), so the groups do too: "The Beatles" and "the
            // Beatles" interleave there, and are one artist under its first spelling.
            if artists.last().is_none_or(|a| !same_name(&a.name, &artist_name)) {
                artists.push(Artist {
                    name: artist_name,
                    albums: Vec::new(),
                });
            }
            let Some(artist) = artists.last_mut() else { continue };
            if artist.albums.last().is_none_or(|a| !same_name(&a.name, &album_name)) {
                artist.albums.push(Album {
                    name: album_name,
                    year: None,
                    tracks: i..i,
                });
            }
            if let Some(album) = artist.albums.last_mut() {
                album.tracks.end = i + 1;
                album.year = album.year.into_iter().chain(track.year).min();
            }
        }
        let mut by_id: Vec<u32> = (0..tracks.len() as u32).collect();
        by_id.sort_unstable_by_key(|&i| tracks[i as usize].id);
        Self {
            tracks: Arc::new(tracks),
            artists,
            plays,
            marks: Marks::default(),
            roots: Vec::new(),
            by_id,
        }
    }

    pub(crate) fn track(&self, id: i64) -> Option<&Track> {
        Some(&self.tracks[self.position(id)?])
    }

    /// The place of track `id` in `tracks`.
    pub(crate) fn position(&self, id: i64) -> Option<usize> {
        let at = self
            .by_id
            .binary_search_by_key(&id, |&i| self.tracks[i as usize].id)
            .ok()?;
        Some(self.by_id[at] as usize)
    }

    pub(crate) fn plays_of(&self, track_id: i64) -> TrackPlays {
        self.plays.get(&track_id).copied().unwrap_or_default()
    }

    /// Counts a play just logged, as a reload from the log would count it.
    pub(crate) fn count_play(&mut self, track_id: i64, skipped: bool, ended_at: i64) {
        let counts = self.plays.entry(track_id).or_default();
        counts.plays += 1;
        counts.skips += u32::from(skipped);
        counts.last_played = counts.last_played.max(Some(ended_at));
    }

    /// Track indices in the given order.
    pub(crate) fn sorted(&self, key: SortKey) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.tracks.len()).collect();
        let t = &self.tracks;
        match key {
            SortKey::Album => {}
            SortKey::Title => order.sort_by(|&a, &b| crate::track::name_order(&t[a].title, &t[b].title)),
            SortKey::PlayCount => order.sort_by_key(|&i| std::cmp::Reverse(self.plays_of(t[i].id).plays)),
            // The most skipped first, the more plays first at one rate; never-played tracks
            // have no rate and come last, not among those never skipped.
            SortKey::SkipRate => order.sort_by(|&a, &b| {
                let (a, b) = (self.plays_of(t[a].id), self.plays_of(t[b].id));
                (a.plays == 0)
                    .cmp(&(b.plays == 0))
                    .then(b.skip_rate().total_cmp(&a.skip_rate()))
                    .then(b.plays.cmp(&a.plays))
            }),
            SortKey::LastPlayed => order.sort_by_key(|&i| std::cmp::Reverse(self.plays_of(t[i].id).last_played)),
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_artists_tracks_are_those_the_artists_pane_files_under_them() {
        let track = |id, artist: &str, album_artist: Option<&str>| Track {
            id,
            artist: Some(artist.into()),
            album_artist: album_artist.map(Into::into),
            ..Track::default()
        };
        let tracks = vec![
            track(1, "Band", None),
            track(2, "Band feat. Guest", Some("Band")),
            track(3, "band", Some("Various Artists")),
            track(4, "Other", None),
            track(5, "Other", Some("Various Artists")),
        ];
        let theirs: Vec<i64> = tracks_of_artist(tracks, " BAND ").iter().map(|t| t.id).collect();
        assert_eq!(theirs, [1, 2]);
    }

    #[test]
    fn by_skip_rate_the_most_skipped_come_first_and_the_never_played_last() {
        let tracks: Vec<Arc<Track>> = (1..=5)
            .map(|id| {
                Arc::new(Track {
                    id,
                    title: format!("t{id}"),
                    ..Track::default()
                })
            })
            .collect();
        let mut index = LibraryIndex::new(tracks, HashMap::new());
        // 1 and 4 never played; 2 played once, finished; 3 skipped once of two; 5 finished twice.
        index.count_play(2, false, 1);
        index.count_play(3, true, 2);
        index.count_play(3, false, 3);
        index.count_play(5, false, 4);
        index.count_play(5, false, 5);
        let ids: Vec<i64> = index
            .sorted(SortKey::SkipRate)
            .iter()
            .map(|&i| index.tracks[i].id)
            .collect();
        assert_eq!(ids, [3, 5, 2, 1, 4]);
    }

    #[test]
    fn albums_are_runs_of_the_ordered_tracks_and_tracks_are_found_by_id() {
        // In library order (which ignores ASCII case), with ids that are not.
        let rows = [
            (30, "A", "One"),
            (10, "a", "one"),
            (20, "A", "Two"),
            (50, "B", "One"),
            (40, "B", "Three"),
        ];
        let tracks: Vec<Arc<Track>> = rows
            .iter()
            .map(|&(id, artist, album)| {
                Arc::new(Track {
                    id,
                    title: format!("t{id}"),
                    artist: Some(artist.into()),
                    album: Some(album.into()),
                    ..Track::default()
                })
            })
            .collect();
        let index = LibraryIndex::new(tracks, HashMap::new());
        type Albums<'a> = Vec<(&'a str, Range<usize>)>;
        let shape: Vec<(&str, Albums)> = index
            .artists
            .iter()
            .map(|a| {
                (
                    &*a.name,
                    a.albums.iter().map(|al| (&*al.name, al.tracks.clone())).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("A", vec![("One", 0..2), ("Two", 2..3)]),
                ("B", vec![("One", 3..4), ("Three", 4..5)])
            ]
        );
        for (place, &(id, ..)) in rows.iter().enumerate() {
            assert!(std::ptr::eq(index.track(id).unwrap(), &*index.tracks[place]));
        }
        assert!(index.track(35).is_none());
    }
}
