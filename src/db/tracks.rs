//! Queries on library roots and the track index ([`Track`], [`FileState`]).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::track::{name_order, tag_text, Name, Names, ReplayGain, Track};
use rayon::slice::ParallelSliceMut;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// What the scanner remembers about a file to decide whether to open it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileState {
    pub id: i64,
    pub size: u64,
    pub mtime_ns: i64,
    pub gone: bool,
    /// Could not be read at its last scan.
    pub failed: bool,
}

pub(crate) const TRACK_COLUMNS: &str = "id, path, title, artist, album, album_artist, track_no, disc_no, year, genre, \
     duration_ms, sample_rate, channels, bitrate_kbps, has_cover, rg_track_gain, rg_track_peak, rg_album_gain, \
     rg_album_peak";

pub(crate) fn path_from_blob(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(&bytes))
}

pub(crate) fn path_blob(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// Maps a row selected with [`TRACK_COLUMNS`] (starting at column `at`).
pub(crate) fn track_from_row(row: &Row, at: usize) -> rusqlite::Result<Track> {
    track_from_row_sharing(row, at, &mut Names::default())
}

/// [`track_from_row`], with the names shared with every track read through the same `names`.
fn track_from_row_sharing(row: &Row, at: usize, names: &mut Names) -> rusqlite::Result<Track> {
    Ok(Track {
        id: row.get(at)?,
        path: path_from_blob(row.get(at + 1)?),
        title: row.get(at + 2)?,
        artist: name_at(row, at + 3, names)?,
        album: name_at(row, at + 4, names)?,
        album_artist: name_at(row, at + 5, names)?,
        track_no: row.get(at + 6)?,
        disc_no: row.get(at + 7)?,
        year: row.get(at + 8)?,
        genre: name_at(row, at + 9, names)?,
        duration_ms: row.get(at + 10)?,
        sample_rate: row.get(at + 11)?,
        channels: row.get(at + 12)?,
        bitrate_kbps: row.get(at + 13)?,
        has_cover: row.get(at + 14)?,
        replay_gain: ReplayGain {
            track_gain: row.get(at + 15)?,
            track_peak: row.get(at + 16)?,
            album_gain: row.get(at + 17)?,
            album_peak: row.get(at + 18)?,
        },
    })
}

fn name_at(row: &Row, at: usize, names: &mut Names) -> rusqlite::Result<Option<Name>> {
    let text = row.get_ref(at)?.as_str_or_null()?;
    Ok(text.map(|name| names.intern(name)))
}

/// Which rows of the track index a read takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackRows {
    /// The playable tracks.
    Playable,
    /// The gone and failed ones, which old plays still name.
    NotPlayable,
    /// Every row.
    All,
}

/// The playable tracks in id order.
pub(crate) fn tracks_in_id_order(conn: &Connection) -> rusqlite::Result<Vec<Track>> {
    let mut tracks = Vec::new();
    each_track_in_id_order(conn, TrackRows::Playable, |t| tracks.push(t))?;
    Ok(tracks)
}

/// Hands each track of `rows` to `each` in id order, without holding them all at once.
pub(crate) fn each_track_in_id_order(
    conn: &Connection,
    rows: TrackRows,
    mut each: impl FnMut(Track),
) -> rusqlite::Result<()> {
    let mut names = Names::default();
    let condition = match rows {
        TrackRows::Playable => "status = 'ok'",
        TrackRows::NotPlayable => "status != 'ok'",
        TrackRows::All => "1",
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {TRACK_COLUMNS} FROM tracks WHERE {condition} ORDER BY id"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        each(track_from_row_sharing(row, 0, &mut names)?);
    }
    Ok(())
}

/// The ids of the playable tracks, in order.
pub(crate) fn playable_ids(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare("SELECT id FROM tracks WHERE status = 'ok' ORDER BY id")?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    rows.collect()
}

/// Every playable (not gone, not failed) track, ordered by artist, album (by year, then name),
/// disc, track number, as `Track`s or as shared `Arc<Track>`s.
pub(crate) fn all_tracks<T>(conn: &Connection) -> rusqlite::Result<Vec<T>>
where
    T: From<Track> + Borrow<Track> + Send,
{
    // Sized once: a growing vector of a million tracks would hold up to twice their size.
    let count: i64 = conn.query_row("SELECT count(*) FROM tracks WHERE status = 'ok'", [], |r| r.get(0))?;
    let mut tracks = Vec::with_capacity(count.max(0) as usize);
    let mut stmt = conn.prepare(&format!("SELECT {TRACK_COLUMNS} FROM tracks WHERE status = 'ok'"))?;
    let mut names = Names::default();
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        tracks.push(T::from(track_from_row_sharing(row, 0, &mut names)?));
    }
    // Sorted here on every core rather than by SQLite's sorter on one: a third of the time for
    // a million tracks.
    tracks.par_sort_unstable_by(|a, b| library_order(a.borrow(), b.borrow()));
    Ok(albums_by_year(tracks))
}

/// Names compared as the lists order them, a missing one first.
fn nocase(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => name_order(a, b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

fn album_owner(t: &Track) -> Option<&str> {
    t.album_artist.as_deref().or(t.artist.as_deref())
}

/// The order of the library's lists within an album: by artist (the album's, else the
/// track's), album, disc, track number, title and id, the names in [`name_order`] (missing ones
/// first). For ASCII names it is what `ORDER BY coalesce(album_artist, artist) COLLATE NOCASE,
/// album COLLATE NOCASE, disc_no, track_no, title COLLATE NOCASE, id` gives.
fn library_order(a: &Track, b: &Track) -> Ordering {
    nocase(album_owner(a), album_owner(b))
        .then_with(|| nocase(a.album.as_deref(), b.album.as_deref()))
        .then(a.disc_no.cmp(&b.disc_no))
        .then(a.track_no.cmp(&b.track_no))
        .then_with(|| nocase(Some(&a.title), Some(&b.title)))
        .then(a.id.cmp(&b.id))
}

/// Each artist's albums in the order they came out (the earliest year any of an album's tracks
/// gives), albums without a year after them by name, as record shelves and discographies
/// run; tracks in [`library_order`]. Done on the sorted list, whose albums are runs, so no
/// name is hashed or copied.
fn albums_by_year<T: Borrow<Track>>(tracks: Vec<T>) -> Vec<T> {
    struct AlbumRun {
        artist: usize,
        year: Option<i16>,
        tracks: std::ops::Range<usize>,
    }
    let mut runs: Vec<AlbumRun> = Vec::new();
    let mut artist = 0;
    for (i, track) in tracks.iter().enumerate() {
        let track: &Track = track.borrow();
        let same = |run: &AlbumRun| {
            let first: &Track = tracks[run.tracks.start].borrow();
            let same_artist = nocase(album_owner(first), album_owner(track)) == Ordering::Equal;
            (
                same_artist,
                same_artist && nocase(first.album.as_deref(), track.album.as_deref()) == Ordering::Equal,
            )
        };
        match runs.last_mut() {
            Some(run) if same(run).1 => {
                run.tracks.end = i + 1;
                run.year = match (run.year, track.year) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            last => {
                if last.is_some_and(|run| !same(run).0) {
                    artist += 1;
                }
                runs.push(AlbumRun {
                    artist,
                    year: track.year,
                    tracks: i..i + 1,
                });
            }
        }
    }
    // Stable: albums of one year, and those without one, stay in name order.
    runs.sort_by_key(|run| (run.artist, run.year.is_none(), run.year));
    let mut slots: Vec<Option<T>> = tracks.into_iter().map(Some).collect();
    runs.iter()
        .flat_map(|run| run.tracks.clone())
        .filter_map(|i| slots[i].take())
        .collect()
}

/// Hands each indexed file under `dir` to `each` in path-byte order (the order of the path
/// index), one row at a time.
pub(crate) fn each_file_state_under(
    conn: &Connection,
    dir: &Path,
    mut each: impl FnMut(PathBuf, FileState),
) -> rusqlite::Result<()> {
    let (lo, hi) = range_under(dir);
    let mut stmt = conn
        .prepare("SELECT id, path, size, mtime_ns, status FROM tracks WHERE path >= ?1 AND path < ?2 ORDER BY path")?;
    let mut rows = stmt.query(params![lo, hi])?;
    while let Some(row) = rows.next()? {
        let status = row.get_ref(4)?.as_str()?;
        let state = FileState {
            id: row.get(0)?,
            size: row.get(2)?,
            mtime_ns: row.get(3)?,
            gone: status == "gone",
            failed: status == "failed",
        };
        each(path_from_blob(row.get(1)?), state);
    }
    Ok(())
}

/// The playable tracks whose path lies under `dir`, in the order a folder plays in
/// ([`folder_order`]).
pub(crate) fn tracks_under(conn: &Connection, dir: &Path) -> rusqlite::Result<Vec<Track>> {
    let (lo, hi) = range_under(dir);
    let mut stmt = conn.prepare(&format!(
        "SELECT {TRACK_COLUMNS} FROM tracks WHERE path >= ?1 AND path < ?2 AND status = 'ok' ORDER BY path"
    ))?;
    let rows = stmt.query_map(params![lo, hi], |row| track_from_row(row, 0))?;
    let mut tracks = rows.collect::<rusqlite::Result<Vec<Track>>>()?;
    tracks.sort_by(folder_order);
    Ok(tracks)
}

/// The order a folder plays in: its subfolders in path order (an album's `CD1` before its
/// `CD2`), and the files of each as a record plays: those with a track number by disc, then
/// number; the others after them, by file name with numbers read as numbers ("Song 2" before
/// "Song 10").
fn folder_order(a: &Track, b: &Track) -> Ordering {
    // Compared by component: a folder's own subfolders come before "Album 2" beside it.
    a.path
        .parent()
        .cmp(&b.path.parent())
        .then(a.track_no.is_none().cmp(&b.track_no.is_none()))
        .then(a.disc_no.unwrap_or(1).cmp(&b.disc_no.unwrap_or(1)))
        .then(a.track_no.cmp(&b.track_no))
        .then_with(|| natural_order(path_blob(&a.path), path_blob(&b.path)))
}

/// Byte strings compared with each run of ASCII digits read as a number.
fn natural_order(a: &[u8], b: &[u8]) -> Ordering {
    fn number(s: &[u8]) -> (&[u8], &[u8]) {
        let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
        s.split_at(digits)
    }
    let (mut a, mut b) = (a, b);
    loop {
        match (a.first(), b.first()) {
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let ((n, rest_a), (m, rest_b)) = (number(a), number(b));
                let (n, m) = (trim_zeros(n), trim_zeros(m));
                let by_value = n.len().cmp(&m.len()).then_with(|| n.cmp(m));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                (a, b) = (rest_a, rest_b);
            }
            (Some(x), Some(y)) if x == y => (a, b) = (&a[1..], &b[1..]),
            (x, y) => return x.cmp(&y),
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

/// How many tracks that are not gone lie under `dir`.
pub(crate) fn count_under(conn: &Connection, dir: &Path) -> rusqlite::Result<usize> {
    let (lo, hi) = range_under(dir);
    conn.query_row(
        "SELECT count(*) FROM tracks WHERE path >= ?1 AND path < ?2 AND status != 'gone'",
        params![lo, hi],
        |row| row.get(0),
    )
}

/// The byte-string range of the paths beneath `dir`: a range scan on the prefix "dir/" finds
/// everything there through the unique index on `path`.
fn range_under(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut lo = path_blob(dir).to_vec();
    if lo.last() != Some(&b'/') {
        lo.push(b'/');
    }
    let mut hi = lo.clone();
    if let Some(last) = hi.last_mut() {
        *last += 1; // '/' + 1 = '0': the first byte string after every "dir/..."
    }
    (lo, hi)
}

/// The outcome of reading one file, ready to be written.
pub(crate) enum ScannedFile {
    Ok(Box<Track>),
    Failed { title: String, error: String },
}

/// Inserts or updates (same id) the row for `path`; returns whether it changed. A file read
/// again with the same tags and size is unchanged, whatever its modification time, which is
/// recorded all the same (a file only touched, or every file read again after an upgrade).
pub(crate) fn upsert_file(
    conn: &Connection,
    path: &Path,
    size: u64,
    mtime_ns: i64,
    scanned: &ScannedFile,
    now: i64,
) -> rusqlite::Result<bool> {
    let path_text = path.to_string_lossy();
    let changed = match scanned {
        ScannedFile::Ok(track) => {
            conn.prepare_cached(
                "UPDATE tracks SET mtime_ns = ?2 WHERE path = ?1 AND status = 'ok' AND mtime_ns <> ?2",
            )?
            .execute(params![path_blob(path), mtime_ns])?;
            conn.prepare_cached(
                "INSERT INTO tracks (path, path_text, size, mtime_ns, status, error, title, artist, album_artist,
                     album, track_no, disc_no, year, genre, duration_ms, sample_rate, channels, bitrate_kbps,
                     has_cover, rg_track_gain, rg_track_peak, rg_album_gain, rg_album_peak, added_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'ok', NULL, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                     ?18, ?19, ?20, ?21, ?22, ?22)
                 ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
                     status = 'ok', error = NULL, title = excluded.title, artist = excluded.artist,
                     album_artist = excluded.album_artist, album = excluded.album, track_no = excluded.track_no,
                     disc_no = excluded.disc_no, year = excluded.year, genre = excluded.genre,
                     duration_ms = excluded.duration_ms, sample_rate = excluded.sample_rate,
                     channels = excluded.channels, bitrate_kbps = excluded.bitrate_kbps,
                     has_cover = excluded.has_cover, rg_track_gain = excluded.rg_track_gain,
                     rg_track_peak = excluded.rg_track_peak, rg_album_gain = excluded.rg_album_gain,
                     rg_album_peak = excluded.rg_album_peak, updated_at = excluded.updated_at
                 WHERE (size, mtime_ns, status, title, artist, album_artist, album, track_no, disc_no, year,
                        genre, duration_ms, sample_rate, channels, bitrate_kbps, has_cover, rg_track_gain,
                        rg_track_peak, rg_album_gain, rg_album_peak)
                    IS NOT (excluded.size, excluded.mtime_ns, 'ok', excluded.title, excluded.artist,
                        excluded.album_artist, excluded.album, excluded.track_no, excluded.disc_no, excluded.year,
                        excluded.genre, excluded.duration_ms, excluded.sample_rate, excluded.channels,
                        excluded.bitrate_kbps, excluded.has_cover, excluded.rg_track_gain, excluded.rg_track_peak,
                        excluded.rg_album_gain, excluded.rg_album_peak)",
            )?
            .execute(params![
                path_blob(path),
                path_text,
                size,
                mtime_ns,
                track.title,
                track.artist,
                track.album_artist,
                track.album,
                track.track_no,
                track.disc_no,
                track.year,
                track.genre,
                track.duration_ms,
                track.sample_rate,
                track.channels,
                track.bitrate_kbps,
                track.has_cover,
                track.replay_gain.track_gain,
                track.replay_gain.track_peak,
                track.replay_gain.album_gain,
                track.replay_gain.album_peak,
                now,
            ])?
        }
        ScannedFile::Failed { title, error } => conn
            .prepare_cached(
                "INSERT INTO tracks (path, path_text, size, mtime_ns, status, error, title, added_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'failed', ?5, ?6, ?7, ?7)
                 ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
                     status = 'failed', error = excluded.error, updated_at = excluded.updated_at",
            )?
            .execute(params![path_blob(path), path_text, size, mtime_ns, error, title, now])?,
    };
    Ok(changed > 0)
}

/// What a file's content is known by when its path changes: its size, duration and tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint {
    size: u64,
    duration_ms: Option<u64>,
    title: String,
    artist: Option<Name>,
    album: Option<Name>,
}

impl Fingerprint {
    pub(crate) fn of(size: u64, track: &Track) -> Self {
        Fingerprint {
            size,
            duration_ms: track.duration_ms,
            title: track.title.clone(),
            artist: track.artist.clone(),
            album: track.album.clone(),
        }
    }
}

/// The tracks that a file found at a new path may be, by fingerprint: the gone ones (failed
/// files, whose tags were never read, left out), the most recently gone last, and after them
/// those under `missing_roots`.
pub(crate) fn gone_by_fingerprint(
    conn: &Connection,
    missing_roots: &[PathBuf],
) -> rusqlite::Result<HashMap<Fingerprint, Vec<(i64, PathBuf)>>> {
    let mut gone: HashMap<Fingerprint, Vec<(i64, PathBuf)>> = HashMap::new();
    let mut names = Names::default();
    let columns = "SELECT id, path, size, duration_ms, title, artist, album FROM tracks";
    let mut stmt = conn.prepare(&format!(
        "{columns} WHERE status = 'gone' AND error IS NULL ORDER BY updated_at, id"
    ))?;
    by_fingerprint(&mut stmt, [], &mut names, &mut gone)?;
    // A root that is not there (renamed, moved) keeps its tracks as they were: a file found
    // elsewhere that is one of them is that track, moved.
    let mut stmt = conn.prepare(&format!(
        "{columns} WHERE path >= ?1 AND path < ?2 AND status = 'ok' ORDER BY path DESC"
    ))?;
    for root in missing_roots {
        let (lo, hi) = range_under(root);
        by_fingerprint(&mut stmt, params![lo, hi], &mut names, &mut gone)?;
    }
    Ok(gone)
}

/// Adds the tracks `stmt` reads to `found`, by fingerprint.
fn by_fingerprint(
    stmt: &mut rusqlite::Statement,
    params: impl rusqlite::Params,
    names: &mut Names,
    found: &mut HashMap<Fingerprint, Vec<(i64, PathBuf)>>,
) -> rusqlite::Result<()> {
    // Text stored before tags were kept in one form (`tag_text`) is put in that form, as a moved
    // file's tags are read in it.
    let kept_form = |text: Option<String>| text.map(|t| tag_text(&t).unwrap_or(t));
    let rows = stmt.query_map(params, |row| {
        let name = |at: usize, names: &mut Names| -> rusqlite::Result<Option<Name>> {
            Ok(kept_form(row.get(at)?).map(|n| names.intern(&n)))
        };
        Ok((
            Fingerprint {
                size: row.get(2)?,
                duration_ms: row.get(3)?,
                title: kept_form(row.get(4)?).unwrap_or_default(),
                artist: name(5, names)?,
                album: name(6, names)?,
            },
            (row.get::<_, i64>(0)?, path_from_blob(row.get(1)?)),
        ))
    })?;
    for row in rows {
        let (fingerprint, track) = row?;
        found.entry(fingerprint).or_default().push(track);
    }
    Ok(())
}

/// Gives track `id` the path `to`: the row keeps its id, so its plays, likes and bans stay, and
/// the playlist entries that named the old path `from` name the new one.
pub(crate) fn move_track(conn: &Connection, id: i64, from: &Path, to: &Path) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE tracks SET path = ?2, path_text = ?3 WHERE id = ?1")?
        .execute(params![id, path_blob(to), to.to_string_lossy()])?;
    conn.prepare_cached("UPDATE playlist_entries SET path = ?2 WHERE path = ?1")?
        .execute(params![path_blob(from), path_blob(to)])?;
    Ok(())
}

pub(crate) fn mark_gone(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE tracks SET status = 'gone', updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

pub(crate) fn add_root(conn: &Connection, path: &Path, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO roots (path, path_text, added_at) VALUES (?1, ?2, ?3) ON CONFLICT (path) DO NOTHING",
        params![path_blob(path), path.to_string_lossy(), now],
    )?;
    Ok(())
}

/// Takes `path` off the list of roots, its tracks left as they are: for a root that a new root
/// holding it took in.
pub(crate) fn forget_root(conn: &Connection, path: &Path) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM roots WHERE path = ?1", [path_blob(path)])?;
    Ok(())
}

/// Removes the library root `path` and marks its tracks gone, except those under another root;
/// their plays, likes and bans stay. Returns how many playable tracks went (as `skipless roots`
/// counts them), or `None` when `path` is no root.
pub(crate) fn remove_root(conn: &mut Connection, path: &Path, now: i64) -> rusqlite::Result<Option<usize>> {
    let tx = conn.transaction()?;
    if tx.execute("DELETE FROM roots WHERE path = ?1", [path_blob(path)])? == 0 {
        return Ok(None);
    }
    let others = {
        let mut stmt = tx.prepare("SELECT path FROM roots")?;
        let rows = stmt.query_map([], |row| Ok(path_from_blob(row.get(0)?)))?;
        rows.collect::<rusqlite::Result<Vec<PathBuf>>>()?
    };
    let under: Vec<(i64, bool)> = {
        let mut stmt = tx.prepare("SELECT id, path, status = 'ok' FROM tracks WHERE status != 'gone'")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                path_from_blob(row.get(1)?),
                row.get::<_, bool>(2)?,
            ))
        })?;
        let mut under = Vec::new();
        for row in rows {
            let (id, file, playable) = row?;
            if file.starts_with(path) && !others.iter().any(|other| file.starts_with(other)) {
                under.push((id, playable));
            }
        }
        under
    };
    for (id, _) in &under {
        mark_gone(&tx, *id, now)?;
    }
    tx.commit()?;
    Ok(Some(under.iter().filter(|(_, playable)| *playable).count()))
}

pub(crate) fn roots(conn: &Connection) -> rusqlite::Result<Vec<PathBuf>> {
    let mut stmt = conn.prepare("SELECT path FROM roots ORDER BY id")?;
    let rows = stmt.query_map([], |row| Ok(path_from_blob(row.get(0)?)))?;
    rows.collect()
}

/// The index state of one file, if it is indexed.
pub(crate) fn file_state(conn: &Connection, path: &Path) -> rusqlite::Result<Option<FileState>> {
    conn.query_row(
        "SELECT id, size, mtime_ns, status FROM tracks WHERE path = ?1",
        [path_blob(path)],
        |row| {
            let status: String = row.get(3)?;
            Ok(FileState {
                id: row.get(0)?,
                size: row.get(1)?,
                mtime_ns: row.get(2)?,
                gone: status == "gone",
                failed: status == "failed",
            })
        },
    )
    .optional()
}

/// The path the index knows the file or folder at `path` by: a scan stores what it finds under
/// a root's canonical path, following symbolic links inside the root but keeping their names,
/// so what is reached through such a link is known by the path as given (see
/// [`crate::playlist::as_given`]), not by where the link leads. Anything else by its canonical
/// path. `None` when nothing is at `path`.
pub(crate) fn index_path(conn: &Connection, path: &Path) -> rusqlite::Result<Option<PathBuf>> {
    Ok(index_path_among(&roots(conn)?, path))
}

/// [`index_path`] with the library's `roots` read once, for many paths (a playlist's entries).
pub(crate) fn index_path_among(roots: &[PathBuf], path: &Path) -> Option<PathBuf> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let under_a_root = |p: &Path| roots.iter().any(|root| p.starts_with(root));
    if under_a_root(&canonical) {
        return Some(canonical);
    }
    Some(
        crate::playlist::as_given(path)
            .filter(|as_given| under_a_root(as_given))
            .unwrap_or(canonical),
    )
}

/// Track `id`, if the library has it (whatever its status).
pub(crate) fn track_by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Track>> {
    conn.query_row(
        &format!("SELECT {TRACK_COLUMNS} FROM tracks WHERE id = ?1"),
        [id],
        |row| track_from_row(row, 0),
    )
    .optional()
}

/// The track at `path` whatever its status, gone from the disk too: what a mark is taken back from.
pub(crate) fn track_by_path_ever(conn: &Connection, path: &Path) -> rusqlite::Result<Option<Track>> {
    track_at(conn, path, "1")
}

/// The track at `path` whatever its status except gone: also a file that failed to read at its
/// last scan, which keeps its plays, marks and playlist entries.
pub(crate) fn track_by_path_any(conn: &Connection, path: &Path) -> rusqlite::Result<Option<Track>> {
    track_at(conn, path, "status != 'gone'")
}

/// The track at `path` if it read at its last scan: what can be queued, as a folder's
/// [`tracks_under`] are.
pub(crate) fn playable_track_at(conn: &Connection, path: &Path) -> rusqlite::Result<Option<Track>> {
    track_at(conn, path, "status = 'ok'")
}

fn track_at(conn: &Connection, path: &Path, status: &str) -> rusqlite::Result<Option<Track>> {
    conn.query_row(
        &format!("SELECT {TRACK_COLUMNS} FROM tracks WHERE path = ?1 AND {status}"),
        [path_blob(path)],
        |row| track_from_row(row, 0),
    )
    .optional()
}

/// Stores tracks that are no files on disk (a simulated library), each with the id and path it
/// has, as playable, in one transaction.
pub(crate) fn insert_tracks(conn: &mut Connection, tracks: &[Track]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO tracks (id, path, path_text, size, mtime_ns, status, title, artist, album, duration_ms,
                 album_artist, track_no, disc_no, year, genre, added_at, updated_at)
             VALUES (?1, ?2, ?3, 0, 0, 'ok', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, 0)",
        )?;
        for track in tracks {
            insert.execute(params![
                track.id,
                path_blob(&track.path),
                track.path.to_string_lossy(),
                track.title,
                track.artist,
                track.album,
                track.duration_ms,
                track.album_artist,
                track.track_no,
                track.disc_no,
                track.year,
                track.genre
            ])?;
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn on_ascii_names_the_library_order_is_sqlites_nocase_order_with_albums_by_year() {
        let mut db = crate::db::Database::open_in_memory().unwrap();
        let names = [
            None,
            Some(""),
            Some("abba"),
            Some("ABBA"),
            Some("Abba"),
            Some("abb"),
            Some("Zed"),
            Some("_x"),
        ];
        let mut tracks = Vec::new();
        let mut id = 0;
        for (i, artist) in names.iter().enumerate() {
            for (j, album) in names.iter().enumerate().step_by(2) {
                for (disc, track_no) in [(None, Some(2)), (Some(1), None), (Some(1), Some(1)), (None, None)] {
                    id += 1;
                    tracks.push(Track {
                        id,
                        path: PathBuf::from(format!("/m/{id}.ogg")),
                        title: ["b", "B", "a", "e"][(i + j + id as usize) % 4].to_owned(),
                        artist: artist.map(Name::from),
                        album_artist: (i % 3 == 0).then(|| "Various".into()),
                        album: album.map(Name::from),
                        disc_no: disc,
                        track_no,
                        // Albums without a year, with one, and with tracks of different years.
                        year: (j % 3 != 0).then_some(2000 - (i * j) as i16 % 7 + (id % 2) as i16),
                        ..Track::default()
                    });
                }
            }
        }
        insert_tracks(db.conn_mut(), &tracks).unwrap();
        let mut stmt = db
            .conn()
            .prepare(
                "SELECT id FROM (
                     SELECT *, min(year) OVER (PARTITION BY coalesce(album_artist, artist) COLLATE NOCASE,
                                                            album COLLATE NOCASE) AS album_year
                     FROM tracks WHERE status = 'ok')
                 ORDER BY coalesce(album_artist, artist) COLLATE NOCASE, album_year IS NULL, album_year,
                          album COLLATE NOCASE, disc_no, track_no, title COLLATE NOCASE, id",
            )
            .unwrap();
        let by_sqlite: Vec<i64> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        let ours: Vec<Track> = all_tracks(db.conn()).unwrap();
        assert_eq!(ours.iter().map(|t| t.id).collect::<Vec<_>>(), by_sqlite);
        assert_eq!(by_sqlite.len(), names.len() * names.len().div_ceil(2) * 4);
    }

    /// A folder plays as its records do: by disc and track number, files without numbers after
    /// by name with numbers read as numbers, each subfolder in turn.
    #[test]
    fn a_folder_plays_by_disc_and_track_then_by_name_read_naturally() {
        let mut db = crate::db::Database::open_in_memory().unwrap();
        let track = |id: i64, path: &str, disc_no: Option<u16>, track_no: Option<u16>| Track {
            id,
            path: PathBuf::from(path),
            title: format!("t{id}"),
            disc_no,
            track_no,
            ..Track::default()
        };
        let tracks = [
            track(1, "/m/Album/Apple.flac", Some(1), Some(10)),
            track(2, "/m/Album/Banana.flac", Some(2), Some(1)),
            track(3, "/m/Album/Cherry.flac", None, Some(9)),
            track(4, "/m/Album/Morning.flac", Some(1), Some(1)),
            track(5, "/m/Album/Song 10.flac", None, None),
            track(6, "/m/Album/Song 2.flac", None, None),
            track(7, "/m/Album/CD2/01.flac", None, None),
            track(8, "/m/Album/CD1/02.flac", None, None),
            track(9, "/m/Album/CD1/1.flac", None, None),
            track(10, "/m/Other/a.flac", None, Some(1)),
            track(11, "/m/Album 2/a.flac", None, Some(1)),
        ];
        insert_tracks(db.conn_mut(), &tracks).unwrap();
        let order: Vec<i64> = tracks_under(db.conn(), Path::new("/m"))
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(order, [4, 3, 1, 2, 6, 5, 9, 8, 7, 11, 10]);
        assert_eq!(natural_order(b"a007b", b"a7c"), Ordering::Less);
        assert_eq!(natural_order(b"x10", b"x9"), Ordering::Greater);
    }

    #[test]
    fn a_name_read_for_many_tracks_is_held_once() {
        let mut db = crate::db::Database::open_in_memory().unwrap();
        let tracks: Vec<Track> = (1..=6)
            .map(|id| Track {
                id,
                path: PathBuf::from(format!("/m/{id}.ogg")),
                title: format!("t{id}"),
                artist: Some(format!("Artist {}", id % 2).into()),
                album: Some("Same".into()),
                genre: Some("Folk".into()),
                ..Track::default()
            })
            .collect();
        insert_tracks(db.conn_mut(), &tracks).unwrap();
        db.conn().execute("UPDATE tracks SET genre = 'Folk'", []).unwrap();
        let read: Vec<Track> = all_tracks(db.conn()).unwrap();
        assert_eq!(read, {
            let mut sorted = tracks.clone();
            sorted.sort_by(library_order);
            sorted
        });
        let first = &read[0];
        for other in &read[1..] {
            let (Some(a), Some(b)) = (&first.album, &other.album) else {
                panic!("albums read")
            };
            assert!(Arc::ptr_eq(a, b), "one copy of the album name");
            assert!(Arc::ptr_eq(
                first.genre.as_ref().unwrap(),
                other.genre.as_ref().unwrap()
            ));
            if other.artist == first.artist {
                assert!(Arc::ptr_eq(
                    first.artist.as_ref().unwrap(),
                    other.artist.as_ref().unwrap()
                ));
            }
        }
        let mut each = Vec::new();
        each_track_in_id_order(db.conn(), TrackRows::All, |t| each.push(t)).unwrap();
        assert!(Arc::ptr_eq(
            each[0].album.as_ref().unwrap(),
            each[5].album.as_ref().unwrap()
        ));
    }
}
