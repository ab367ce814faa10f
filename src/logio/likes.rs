//! Liked songs from other services into the likes ([`import_likes`], [`LikeCounts`]): Spotify's
//! `YourLibrary.json` (its `tracks` list: artist, album, track) and ListenBrainz feedback (with
//! its `track_metadata`, as a JSON object with a `feedback` list or one feedback object per
//! line, as `skipless export --format feedback` writes it): a loved recording (score 1) is a
//! like, a hated one (score -1) a ban. Each is matched to a library track by artist and title,
//! as plays are; a mark keeps the time the service gives (ListenBrainz's `created`), else the
//! time of the import.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::matching::{match_key, Matcher};
use super::LogIoError;
use crate::db::{marks, Database};
use crate::history::HistoryError;
use crate::marks::Mark;

/// What an import of likes did (`--json` prints exactly this object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct LikeCounts {
    /// Likes of tracks the library has, stored now (not those the track had already).
    pub liked: usize,
    /// Bans (hated recordings) of tracks the library has, stored now.
    pub banned: usize,
    /// Songs the library has whose marks stay as they were: marked so already, or marked the
    /// other way later than the file's mark.
    pub already_marked: usize,
    /// Songs the library does not have.
    pub not_in_library: Vec<Song>,
    /// Undated marks (Spotify's liked songs) of tracks the listener had marked the other way
    /// here: left as the listener said, for an undated mark cannot be said to be the later one.
    pub kept_as_marked: usize,
}

/// A song named in the file, as it names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Song {
    pub artist: String,
    pub title: String,
}

impl std::fmt::Display for Song {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} – {}", self.artist, self.title)
    }
}

/// One liked (or, from ListenBrainz, hated) song, before matching.
struct Liked {
    mark: Mark,
    artist: String,
    title: String,
    album: Option<String>,
    /// Unix milliseconds, when the service says.
    at_ms: Option<i64>,
}

#[derive(Deserialize)]
struct SpotifyLibrary {
    tracks: Vec<SpotifyTrack>,
}

#[derive(Deserialize)]
struct SpotifyTrack {
    artist: String,
    track: String,
    album: Option<String>,
}

#[derive(Deserialize)]
struct Feedback {
    score: i32,
    created: Option<i64>,
    track_metadata: Option<TrackMetadata>,
}

#[derive(Deserialize)]
struct TrackMetadata {
    artist_name: String,
    track_name: String,
    release_name: Option<String>,
}

#[derive(Deserialize)]
struct FeedbackList {
    feedback: Vec<Feedback>,
}

fn bad(path: &Path, message: impl Into<String>) -> LogIoError {
    LogIoError::History(HistoryError::File {
        path: path.to_path_buf(),
        message: message.into(),
    })
}

/// The liked songs of `text`, by its content.
fn liked_songs(path: &Path, text: &str) -> Result<Vec<Liked>, LogIoError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if let Ok(library) = serde_json::from_str::<SpotifyLibrary>(trimmed) {
        return Ok(library
            .tracks
            .into_iter()
            .map(|t| Liked {
                mark: Mark::Like,
                artist: t.artist,
                title: t.track,
                album: t.album,
                at_ms: None,
            })
            .collect());
    }
    let feedback: Vec<Feedback> = match serde_json::from_str::<FeedbackList>(trimmed) {
        Ok(list) => list.feedback,
        Err(_) if trimmed.starts_with('[') => serde_json::from_str(trimmed)
            .map_err(|e| bad(path, format!("not a list of ListenBrainz feedback ({e})")))?,
        Err(_) => trimmed
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str::<Feedback>(line).map_err(|e| {
                    let what = if line.contains("\"listened_at\"") {
                        "ListenBrainz listens, not feedback (they import with `skipless import listenbrainz`)"
                            .to_owned()
                    } else {
                        format!("not Spotify's YourLibrary.json or ListenBrainz feedback ({e})")
                    };
                    bad(path, format!("line {}: {what}", n + 1))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    // A mark dated in the future would outrank every mark made from now on (the newer of a
    // like and a ban stands), as one before 1970 is no time a listener marked a song.
    let latest_ms = crate::clock::now_ms().saturating_add(86_400_000);
    let mut songs = Vec::new();
    for (n, f) in feedback.into_iter().enumerate() {
        let mark = match f.score {
            1 => Mark::Like,
            -1 => Mark::Ban,
            _ => continue,
        };
        let Some(meta) = f.track_metadata else { continue };
        let at_ms = f.created.map(|s| s.saturating_mul(1000));
        if let Some(created) = f.created.filter(|_| at_ms.is_some_and(|at| at < 0 || at > latest_ms)) {
            return Err(bad(
                path,
                format!("entry {}: created {created} is before 1970 or in the future", n + 1),
            ));
        }
        songs.push(Liked {
            mark,
            artist: meta.artist_name,
            title: meta.track_name,
            album: meta.release_name,
            at_ms,
        });
    }
    Ok(songs)
}

/// Likes (or bans) every song of `path` that the library has, in one transaction; the others
/// are listed.
pub(crate) fn import_likes(db: &mut Database, path: &Path, now_ms: i64) -> Result<LikeCounts, LogIoError> {
    let text = std::fs::read_to_string(path).map_err(|source| LogIoError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let songs = liked_songs(path, &text)?;
    if songs.is_empty() {
        return Err(bad(
            path,
            "no liked songs in it (Spotify's YourLibrary.json or ListenBrainz feedback)",
        ));
    }
    let matcher = Matcher::load(db.conn())?;
    let present = crate::db::marks::load(db.conn())?;
    let mut counts = LikeCounts::default();
    let mut marked = Vec::new();
    for song in songs {
        let Some(track) = matcher.find(&match_key(&song.artist, &song.title), song.album.as_deref()) else {
            counts.not_in_library.push(Song {
                artist: song.artist,
                title: song.title,
            });
            continue;
        };
        let marked_otherwise = match song.mark {
            Mark::Like => present.is_banned(track.track_id),
            Mark::Ban => present.is_liked(track.track_id),
        };
        match song.at_ms {
            Some(at_ms) => marked.push((track.track_id, song.mark, at_ms)),
            None if marked_otherwise => counts.kept_as_marked += 1,
            None => marked.push((track.track_id, song.mark, now_ms)),
        }
    }
    let tx = db.conn_mut().transaction()?;
    for (track_id, mark, at_ms) in &marked {
        // Counted as stored: a mark the track has already, or one older than its other mark,
        // changes nothing.
        if marks::set(&tx, *track_id, *mark, true, *at_ms)?.changed {
            match mark {
                Mark::Like => counts.liked += 1,
                Mark::Ban => counts.banned += 1,
            }
        } else {
            counts.already_marked += 1;
        }
    }
    tx.commit()?;
    Ok(counts)
}
