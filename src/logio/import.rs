//! Importing other services' histories into the log ([`import_spotify`], [`import_listenbrainz`],
//! [`ImportCounts`]).
//!
//! Each file's plays are first staged in a temporary table (so memory stays flat and a malformed
//! record leaves nothing behind), then walked in time order, in short transactions, to split
//! sessions by the configured gap, match tracks and skip plays already imported. Matched plays go
//! to `plays` with `source = 'import'`; the others wait in `unmatched_plays`, with their session
//! and position, until a scan adds their track ([`super::rematch`]).

use std::io::BufRead;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::matching::{match_key, Matcher};
use super::LogIoError;
use crate::db::imports::{ImportFile, Slot, StagedPlay, MINUTE_TIMED_FORMAT};
use crate::db::Database;
use crate::history::{self, Format, HistoryPlay, MAX_PLAY_MS};
use crate::play::EndReason;

/// What an import did, summed over its files (`--json` prints exactly this object).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ImportCounts {
    /// Plays added to the log with their library track.
    pub matched: usize,
    /// Plays kept for a later scan: no library track has their artist and title yet.
    pub unmatched: usize,
    /// Plays already imported (by an earlier run, or twice in the same file).
    pub duplicate: usize,
    /// Records with no track (podcast episodes, audiobooks, tracks no longer available): left out.
    pub without_track: usize,
    /// Basic-history files (`StreamingHistory*.json`) of a folder that also holds the Extended
    /// history: left out, as the Extended one has the same plays, timed to the second (the
    /// basic one's minutes would make them new plays).
    pub basic_files_left_out: usize,
    /// A basic export's podcast histories (`StreamingHistory_podcast_*.json`) in a folder: left
    /// out, as episodes are no plays of music.
    pub podcast_files_left_out: usize,
}

/// The import session being filled; it carries over from one file to the next.
#[derive(Debug, Clone, Copy)]
struct OpenSession {
    id: i64,
    /// When its first play started: an older play (from a file of older plays given after a
    /// newer one) starts a session of its own.
    first_at: i64,
    last_at: i64,
    /// Where the next play goes in a session of this import's alone; in one the log had (`None`),
    /// a play goes in by its time among those already there.
    next_position: Option<i64>,
}

/// How far an import has gone, for a bar: each file is read whole, then its plays are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    /// Reading a file; records read so far, over every file.
    Reading { read: u64 },
    /// Placing the plays of the file read into the log.
    Placing { done: u64, total: u64 },
}

/// Imports Spotify histories: files, or folders whose history files are taken in name order.
pub(crate) fn import_spotify(
    db: &mut Database,
    paths: &[PathBuf],
    gap_ms: i64,
    progress: &dyn Fn(ImportProgress),
) -> Result<ImportCounts, LogIoError> {
    let found = spotify_files(paths)?;
    let mut importer = Importer::new(db, gap_ms, progress)?;
    importer.counts.basic_files_left_out = found.basic_left_out;
    importer.counts.podcast_files_left_out = found.podcasts_left_out;
    let files = found.files;
    let without_track = std::cell::Cell::new(0);
    for (done, file) in files.iter().enumerate() {
        // The basic history times plays to the minute: its own format, matched by that minute.
        let format = match Format::detect(file) {
            Ok(Format::Basic) => MINUTE_TIMED_FORMAT,
            _ => "spotify",
        };
        importer
            .file(file, format, |path, stage| {
                history::stream_spotify(path, &mut |_, play| match play {
                    Some(play) => stage(spotify_play(play, format)),
                    None => {
                        without_track.set(without_track.get() + 1);
                        Ok(())
                    }
                })
            })
            .map_err(|error| match done {
                0 => error,
                files => LogIoError::AfterSome {
                    source: Box::new(error),
                    files,
                    plays: importer.counts.matched + importer.counts.unmatched,
                },
            })?;
    }
    importer.counts.without_track = without_track.get();
    Ok(importer.counts)
}

/// Imports a ListenBrainz export: the zip ListenBrainz gives, the folder it unpacks to, or one
/// file of listens (one per line). The whole export is one unit: a malformed listen anywhere in
/// it leaves nothing of it in the log.
pub(crate) fn import_listenbrainz(
    db: &mut Database,
    path: &Path,
    gap_ms: i64,
    progress: &dyn Fn(ImportProgress),
) -> Result<ImportCounts, LogIoError> {
    let mut importer = Importer::new(db, gap_ms, progress)?;
    importer.file(path, "listenbrainz", read_listens)?;
    Ok(importer.counts)
}

/// The history files of an import, and the files of its folders left out.
struct SpotifyFiles {
    files: Vec<PathBuf>,
    /// Basic-history files beside an Extended history.
    basic_left_out: usize,
    /// Podcast histories.
    podcasts_left_out: usize,
}

/// The files to import, in name order; folders contribute the Spotify histories directly inside,
/// or where there are none, those in the folders inside (Spotify's download unpacks to
/// `my_spotify_data/Spotify Extended Streaming History/`), the Extended history alone where
/// both kinds are found.
fn spotify_files(paths: &[PathBuf]) -> Result<SpotifyFiles, LogIoError> {
    let mut files = Vec::new();
    let mut left_out = 0;
    let mut podcasts = std::collections::HashSet::new();
    // A file or folder named twice (itself and in its folder, or by two names) is read once:
    // read twice, its every play counted as a duplicate of itself.
    let canonical = |path: &PathBuf| std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
    let mut named = std::collections::HashSet::new();
    for path in paths.iter().filter(|path| named.insert(canonical(path))) {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let (mut extended, mut basic, folders) = histories_in(path, &mut podcasts)?;
        if extended.is_empty() && basic.is_empty() {
            for folder in folders {
                let (more_extended, more_basic, _) = histories_in(&folder, &mut podcasts)?;
                extended.extend(more_extended);
                basic.extend(more_basic);
            }
        }
        let mut found = if extended.is_empty() {
            basic
        } else {
            left_out += basic.len();
            extended
        };
        if found.is_empty() {
            return Err(LogIoError::NoFiles(path.display().to_string()));
        }
        // Spotify numbers the files of a large export `_0` to `_11`: `_10` comes after `_9`.
        found.sort_by(|a, b| numbered_order(a.as_os_str().as_bytes(), b.as_os_str().as_bytes()));
        files.extend(found);
    }
    let mut read = std::collections::HashSet::new();
    files.retain(|file| read.insert(canonical(file)));
    Ok(SpotifyFiles {
        files,
        basic_left_out: left_out,
        podcasts_left_out: podcasts.len(),
    })
}

/// The Extended and the basic Spotify history files directly inside `dir`, and its folders;
/// its podcast histories go into `podcasts`.
type Found = (Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>);
fn histories_in(dir: &Path, podcasts: &mut std::collections::HashSet<PathBuf>) -> Result<Found, LogIoError> {
    let read_err = |source| LogIoError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let (mut extended, mut basic, mut folders) = (Vec::new(), Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let file = entry.map_err(read_err)?.path();
        match Format::of(&file) {
            Some(Format::Extended) if file.is_file() => extended.push(file),
            Some(Format::Basic) if file.is_file() => basic.push(file),
            _ if file.is_dir() => folders.push(file),
            _ if history::is_podcast_history(&file) => {
                podcasts.insert(std::fs::canonicalize(&file).unwrap_or(file));
            }
            _ => {}
        }
    }
    Ok((extended, basic, folders))
}

/// Byte order, except that runs of digits compare as numbers: "_2.json" before "_10.json".
fn numbered_order(mut a: &[u8], mut b: &[u8]) -> std::cmp::Ordering {
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let number = |s: &[u8]| {
        let zeros = s.iter().take_while(|&&c| c == b'0').count();
        s.len() - zeros
    };
    loop {
        let (da, db) = (digits(a), digits(b));
        let (order, taken_a, taken_b) = if da > 0 && db > 0 {
            let (na, nb) = (&a[da - number(&a[..da])..da], &b[db - number(&b[..db])..db]);
            // More digits past the leading zeros is a larger number; as many compare as text.
            (na.len().cmp(&nb.len()).then(na.cmp(nb)).then(da.cmp(&db)), da, db)
        } else {
            match (a.first(), b.first()) {
                (Some(x), Some(y)) => (x.cmp(y), 1, 1),
                (x, y) => return x.is_some().cmp(&y.is_some()),
            }
        };
        if order.is_ne() {
            return order;
        }
        (a, b) = (&a[taken_a..], &b[taken_b..]);
    }
}

/// Spotify's `ts` is the end of the play. The basic history's is a minute, where two plays of
/// one song can end: their lengths tell them apart.
fn spotify_play(play: HistoryPlay, format: &str) -> StagedPlay {
    let skipped = play.is_skip();
    let import_key = if format == MINUTE_TIMED_FORMAT {
        let (ts, length, artist, track) = (play.ts_ms, play.ms_played, &play.artist, &play.track);
        format!("{format}\u{1f}{ts}\u{1f}{length}\u{1f}{artist}\u{1f}{track}")
    } else {
        format!("{format}\u{1f}{}\u{1f}{}\u{1f}{}", play.ts_ms, play.artist, play.track)
    };
    StagedPlay {
        import_key,
        started_at: play
            .ts_ms
            .saturating_sub(i64::try_from(play.ms_played).unwrap_or(i64::MAX)),
        ended_at: play.ts_ms,
        played_ms: play.ms_played,
        end_reason: end_reason_of(play.reason_end.as_deref(), skipped),
        artist: play.artist,
        title: play.track,
        album: play.album,
        skipped,
    }
}

/// Spotify's `reason_end` as a skipless end reason. Choosing another row ends a play the way `n`
/// does; a remote device taking over stops it; a crash interrupts it. Reasons Spotify leaves out
/// or that are unknown fall back on the skip flag.
pub(crate) fn end_reason_of(reason_end: Option<&str>, skipped: bool) -> EndReason {
    match reason_end {
        Some("trackdone") => EndReason::Finished,
        Some("fwdbtn" | "clickrow") => EndReason::Skipped,
        Some("backbtn") => EndReason::Previous,
        Some("endplay" | "remote") => EndReason::Stopped,
        Some("logout") => EndReason::Quit,
        Some("trackerror") => EndReason::Error,
        Some("unexpected-exit" | "unexpected-exit-while-paused") => EndReason::Interrupted,
        _ if skipped => EndReason::Skipped,
        _ => EndReason::Finished,
    }
}

#[derive(Deserialize)]
struct Listen {
    /// Seconds. ListenBrainz's own exports write them with a fraction (`1700000000.0`); clients
    /// and older exports, as whole seconds.
    listened_at: serde_json::Number,
    track_metadata: TrackMetadata,
}

#[derive(Deserialize)]
struct TrackMetadata {
    artist_name: String,
    track_name: String,
    #[serde(default)]
    release_name: Option<String>,
    #[serde(default)]
    additional_info: Option<AdditionalInfo>,
}

#[derive(Deserialize)]
struct AdditionalInfo {
    #[serde(default)]
    duration_ms: Option<serde_json::Value>,
    /// Seconds; some clients send this instead of `duration_ms`.
    #[serde(default)]
    duration: Option<serde_json::Value>,
}

impl AdditionalInfo {
    /// The listen's length, where it gives one. ListenBrainz kept durations as clients sent them
    /// until 2022: whole or fractional numbers, or numbers in strings (its Last.fm-compatible
    /// API), so exports of long-time listeners hold all of these; what is no positive number is
    /// no length.
    fn played_ms(&self) -> Option<u64> {
        let number = |value: &serde_json::Value| {
            match value {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|n| n.is_finite() && *n > 0.0)
        };
        let ms = self.duration_ms.as_ref().and_then(number);
        let seconds = self.duration.as_ref().and_then(number).map(|s| s * 1000.0);
        ms.or(seconds).map(|ms| ms.round().min(u64::MAX as f64) as u64)
    }
}

/// Whether `name`, a path inside an export (or the folder given), holds listens: ListenBrainz
/// writes them to `listens/<year>/<month>.jsonl`, beside files of other things (its
/// `feedback.jsonl` names recordings by MusicBrainz id alone, with nothing to match).
fn holds_listens(name: &Path) -> bool {
    name.extension().is_some_and(|e| e == "jsonl") && name.components().any(|c| c.as_os_str() == "listens")
}

/// Reads a ListenBrainz export's listens, from any of the forms [`import_listenbrainz`] takes.
fn read_listens(path: &Path, stage: &mut dyn FnMut(StagedPlay) -> Result<(), LogIoError>) -> Result<(), LogIoError> {
    let read = |source| LogIoError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut listens = 0;
    if path.is_dir() {
        // The `listens` folder itself may be given, as well as the export's.
        let is_listens_folder = std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n == "listens"))
            .unwrap_or(false);
        let mut files = Vec::new();
        for entry in walkdir::WalkDir::new(path).follow_links(true) {
            let entry = entry.map_err(|e| read(e.into()))?;
            let inside = entry.path().strip_prefix(path).unwrap_or(entry.path());
            let named = Path::new("listens").join(inside);
            if entry.file_type().is_file() && (holds_listens(inside) || is_listens_folder && holds_listens(&named)) {
                files.push(entry.into_path());
            }
        }
        if files.is_empty() {
            return Err(read(std::io::Error::other(
                "a folder without ListenBrainz listens (listens/<year>/<month>.jsonl)",
            )));
        }
        files.sort();
        for file in files {
            let opened = std::fs::File::open(&file).map_err(|source| LogIoError::Read {
                path: file.clone(),
                source,
            })?;
            listens += read_listen_lines(&file, std::io::BufReader::with_capacity(1 << 16, opened), stage)?;
        }
    } else {
        let mut file = std::fs::File::open(path).map_err(read)?;
        if is_zip(&mut file).map_err(read)? {
            let mut archive = zip::ZipArchive::new(file).map_err(|e| read(std::io::Error::other(e)))?;
            let mut names: Vec<String> = archive
                .file_names()
                .map(|name| name.map(|n| n.into_owned()))
                .collect::<Result<_, _>>()
                .map_err(|e| read(std::io::Error::other(e)))?;
            names.retain(|name| !name.ends_with('/') && holds_listens(Path::new(name)));
            if names.is_empty() {
                return Err(read(std::io::Error::other(
                    "a zip without ListenBrainz listens (listens/<year>/<month>.jsonl)",
                )));
            }
            names.sort();
            for name in names {
                let entry = archive.by_name(&name).map_err(|e| read(std::io::Error::other(e)))?;
                let inside = path.join(&name);
                listens += read_listen_lines(&inside, std::io::BufReader::with_capacity(1 << 16, entry), stage)?;
            }
        } else if starts_as_array(&mut file).map_err(read)? {
            listens += read_listen_array(path, std::io::BufReader::with_capacity(1 << 16, file), stage)?;
        } else {
            listens += read_listen_lines(path, std::io::BufReader::with_capacity(1 << 16, file), stage)?;
        }
    }
    if listens == 0 {
        let what = if path.is_dir() {
            "no listens in its files"
        } else {
            "no listens in it"
        };
        return Err(LogIoError::History(history::HistoryError::File {
            path: path.to_path_buf(),
            message: what.into(),
        }));
    }
    Ok(())
}

/// Whether `file` starts as a zip archive does; leaves it at its start.
fn is_zip(file: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek};
    let mut magic = [0u8; 4];
    let mut read = 0;
    while read < magic.len() {
        match file.read(&mut magic[read..])? {
            0 => break,
            n => read += n,
        }
    }
    file.rewind()?;
    // A file's first entry, or the end record alone of an archive with none.
    Ok(read == magic.len() && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06"))
}

/// Whether `file`'s text opens with `[` (after a byte order mark and blanks): ListenBrainz's
/// export before August 2024, one JSON array of listens. Leaves `file` at its start.
fn starts_as_array(file: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek};
    let mut head = Vec::with_capacity(4096);
    file.by_ref().take(4096).read_to_end(&mut head)?;
    file.rewind()?;
    Ok(history::without_bom(&head).iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'['))
}

/// Reads listens from one JSON array (ListenBrainz's export before August 2024); returns how
/// many it read.
fn read_listen_array(
    path: &Path,
    mut reader: impl BufRead,
    stage: &mut dyn FnMut(StagedPlay) -> Result<(), LogIoError>,
) -> Result<usize, LogIoError> {
    let read = |source| LogIoError::Read {
        path: path.to_path_buf(),
        source,
    };
    history::skip_bom(&mut reader).map_err(read)?;
    let text = String::from_utf8_lossy(reader.fill_buf().map_err(read)?);
    if !text.contains("\"listened_at\"")
        && ["\"ts\"", "\"ms_played\"", "\"endTime\""]
            .iter()
            .any(|k| text.contains(k))
    {
        return Err(LogIoError::History(history::HistoryError::File {
            path: path.to_path_buf(),
            message: "a Spotify listening history, not ListenBrainz listens; import it with `skipless import spotify`"
                .into(),
        }));
    }
    let mut listens = 0;
    history::stream_array(reader, path, &mut |record, listen: Listen| {
        listens = record;
        let bad = |message: String| LogIoError::Record {
            path: path.to_path_buf(),
            record,
            message,
        };
        stage(staged_listen(listen, &bad)?)
    })?;
    Ok(listens)
}

/// Reads listens line by line from `reader` (named `path` in errors); returns how many it read.
fn read_listen_lines(
    path: &Path,
    mut reader: impl BufRead,
    stage: &mut dyn FnMut(StagedPlay) -> Result<(), LogIoError>,
) -> Result<usize, LogIoError> {
    let mut line = String::new();
    let mut record = 0;
    loop {
        line.clear();
        record += 1;
        let bad = |message: String| LogIoError::Record {
            path: path.to_path_buf(),
            record,
            message,
        };
        if reader.read_line(&mut line).map_err(|e| bad(e.to_string()))? == 0 {
            break;
        }
        if line.trim().is_empty() {
            record -= 1;
            continue;
        }
        // A byte order mark, as some editors save UTF-8, is no part of the first listen.
        let line = line.strip_prefix('\u{feff}').unwrap_or(&line);
        let listen: Listen = serde_json::from_str(line).map_err(|e| {
            if record == 1 && line.contains("\"play_id\"") && line.contains("\"end_reason\"") {
                bad(format!(
                    "this is {}, not ListenBrainz listens",
                    history::SKIPLESS_EXPORT
                ))
            } else {
                // Each line is a document of its own: its column says where, its line never does.
                bad(format!(
                    "not a listen: {}",
                    e.to_string().replace(" at line 1 column", " at column")
                ))
            }
        })?;
        stage(staged_listen(listen, &bad)?)?;
    }
    Ok(record - 1)
}

/// The play of one listen. A listen is by definition not a skip; it played for the track's
/// duration where the listen gives one.
fn staged_listen(listen: Listen, bad: &dyn Fn(String) -> LogIoError) -> Result<StagedPlay, LogIoError> {
    // No listen before 1970 or more than a day from now (a clock set wrong, a file edited by
    // hand): one would stand first in the history and stretch every weekly chart to its year.
    let latest = (crate::clock::now_ms() / 1000 + 86_400) as f64;
    let listened_at = match listen.listened_at.as_f64() {
        Some(seconds) if (0.0..=latest).contains(&seconds) => seconds,
        Some(_) => {
            return Err(bad(format!(
                "listened_at {} is before 1970 or in the future",
                listen.listened_at
            )))
        }
        None => return Err(bad(format!("listened_at {} is not a time", listen.listened_at))),
    };
    let meta = listen.track_metadata;
    let played_ms = meta
        .additional_info
        .as_ref()
        .and_then(AdditionalInfo::played_ms)
        .unwrap_or(0);
    if played_ms > MAX_PLAY_MS {
        return Err(bad(format!("a duration of {played_ms} ms is more than a week")));
    }
    let started_at = (listened_at * 1000.0).round() as i64;
    Ok(StagedPlay {
        // Whole seconds, as in the keys of listens imported before fractions were read: the
        // same listen from either export is one play.
        import_key: format!(
            "listenbrainz\u{1f}{}\u{1f}{}\u{1f}{}",
            listened_at.floor() as i64,
            meta.artist_name,
            meta.track_name
        ),
        started_at,
        ended_at: started_at.saturating_add(played_ms as i64),
        played_ms,
        artist: if meta.artist_name == super::export::UNKNOWN_ARTIST {
            String::new()
        } else {
            meta.artist_name
        },
        title: meta.track_name,
        album: meta.release_name,
        skipped: false,
        end_reason: EndReason::Finished,
    })
}

struct Importer<'a> {
    db: &'a mut Database,
    matcher: Matcher,
    gap_ms: i64,
    session: Option<OpenSession>,
    counts: ImportCounts,
    progress: &'a dyn Fn(ImportProgress),
    /// Records read so far, over every file.
    read: u64,
}

impl<'a> Importer<'a> {
    fn new(db: &'a mut Database, gap_ms: i64, progress: &'a dyn Fn(ImportProgress)) -> Result<Self, LogIoError> {
        let matcher = Matcher::load(db.conn())?;
        Ok(Importer {
            db,
            matcher,
            gap_ms,
            session: None,
            counts: ImportCounts::default(),
            progress,
            read: 0,
        })
    }

    /// Imports one file: a malformed record leaves nothing of it in the log; placed, its plays
    /// are written round by round ([`ImportFile`]).
    fn file(
        &mut self,
        path: &Path,
        format: &str,
        read: impl FnOnce(&Path, &mut dyn FnMut(StagedPlay) -> Result<(), LogIoError>) -> Result<(), LogIoError>,
    ) -> Result<(), LogIoError> {
        let mut file = ImportFile::begin(self.db.conn_mut())?;
        let mut counts = ImportCounts::default();
        let (progress, mut records) = (self.progress, self.read);
        file.stage(|stager| {
            read(path, &mut |play| {
                if !stager.stage(&play)? {
                    counts.duplicate += 1;
                }
                records += 1;
                progress(ImportProgress::Reading { read: records });
                Ok(())
            })
        })?;
        self.read = records;
        let placing = Placing {
            total: file.staged()?,
            progress,
        };
        let session = place(
            &mut file,
            &self.matcher,
            self.gap_ms,
            self.session,
            format,
            &mut counts,
            placing,
        )?;
        self.session = session;
        self.counts.matched += counts.matched;
        self.counts.unmatched += counts.unmatched;
        self.counts.duplicate += counts.duplicate;
        Ok(())
    }
}

/// The plays of a file to place, and where to say how far placing them has gone.
struct Placing<'a> {
    total: u64,
    progress: &'a dyn Fn(ImportProgress),
}

/// Walks the staged plays in time order: skips those already imported, splits sessions, and
/// writes each play to the log or keeps it waiting for its track. Returns the session left open.
fn place(
    file: &mut ImportFile,
    matcher: &Matcher,
    gap_ms: i64,
    mut session: Option<OpenSession>,
    format: &str,
    counts: &mut ImportCounts,
    placing: Placing,
) -> Result<Option<OpenSession>, LogIoError> {
    let mut done = 0;
    file.place(|placer, play| {
        done += 1;
        (placing.progress)(ImportProgress::Placing {
            done,
            total: placing.total,
        });
        let key = match_key(&play.artist, &play.title);
        let track = matcher.find(&key, play.album.as_deref());
        if placer.is_known(&play.import_key)? {
            counts.duplicate += 1;
            return Ok(());
        }
        let tracks = matcher.tracks_of(&key);
        if placer.is_logged_elsewhere(&play, format, &tracks, &key)? {
            if let Some(copy) = placer.fill_lengthless_copy(&play, format, &tracks, &key)? {
                // Its session now ends later, and may reach the one after it: they become one,
                // as around a placed play. The next play finds its session anew.
                let mut id = copy.session_id;
                while let Some(other) = placer.session_around(copy.started_at, copy.ended_at, gap_ms, Some(id))? {
                    id = placer.merge_sessions(id, other.id)?;
                }
                session = None;
            }
            counts.duplicate += 1;
            return Ok(());
        }
        // A play near a session the log has joins it (the rest of an interrupted import, a
        // second source of the same listening, plays around the player's own): sessions are
        // the listener's, whichever source tells of them.
        let open = match session {
            Some(open) if play.started_at >= open.first_at && play.started_at - open.last_at <= gap_ms => open,
            _ => match placer.session_around(play.started_at, play.ended_at, gap_ms, None)? {
                Some(logged) => OpenSession {
                    id: logged.id,
                    first_at: logged.started_at.min(play.started_at),
                    last_at: logged.last_at,
                    next_position: None,
                },
                None => OpenSession {
                    id: placer.new_session(play.started_at, play.ended_at)?,
                    first_at: play.started_at,
                    last_at: play.ended_at,
                    next_position: Some(0),
                },
            },
        };
        // A play that comes between two sessions makes them one.
        let mut open = open;
        while let Some(other) = placer.session_around(play.started_at, play.ended_at, gap_ms, Some(open.id))? {
            let kept = placer.merge_sessions(open.id, other.id)?;
            open = OpenSession {
                id: kept,
                first_at: open.first_at.min(other.started_at),
                last_at: open.last_at.max(other.last_at),
                next_position: None,
            };
        }
        placer.touch_session(open.id, play.started_at, play.ended_at)?;
        let position = match open.next_position {
            Some(next) => next,
            None => placer.make_room(open.id, play.started_at)?,
        };
        session = Some(OpenSession {
            last_at: open.last_at.max(play.ended_at),
            next_position: open.next_position.map(|next| next + 1),
            ..open
        });
        let slot = Slot {
            session_id: open.id,
            position,
        };
        match track {
            Some(track) => {
                placer.insert_matched(&play, track.track_id, track.duration_ms, slot)?;
                counts.matched += 1;
            }
            None => {
                placer.insert_unmatched(&play, format, &key, slot)?;
                counts.unmatched += 1;
            }
        }
        Ok::<(), LogIoError>(())
    })?;
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_end_mapping() {
        assert_eq!(end_reason_of(Some("trackdone"), false), EndReason::Finished);
        assert_eq!(end_reason_of(Some("fwdbtn"), true), EndReason::Skipped);
        assert_eq!(end_reason_of(Some("backbtn"), true), EndReason::Previous);
        assert_eq!(end_reason_of(Some("endplay"), false), EndReason::Stopped);
        assert_eq!(end_reason_of(Some("logout"), false), EndReason::Quit);
        assert_eq!(end_reason_of(Some("unexpected-exit"), false), EndReason::Interrupted);
        assert_eq!(end_reason_of(None, true), EndReason::Skipped);
        assert_eq!(end_reason_of(Some("unknown"), false), EndReason::Finished);
    }

    #[test]
    fn numbered_files_come_in_the_order_of_their_numbers() {
        let mut names = [
            "Streaming_History_Audio_2023-2026_10.json",
            "Streaming_History_Audio_2023-2026_2.json",
            "Streaming_History_Audio_2018-2023_11.json",
            "Streaming_History_Audio_2023-2026_0.json",
            "Streaming_History_Audio_2023-2026_02.json",
            "Streaming_History_Audio_2023-2026_1.json",
            "Streaming_History_Audio_2023-2026.json",
        ];
        names.sort_by(|a, b| numbered_order(a.as_bytes(), b.as_bytes()));
        assert_eq!(
            names,
            [
                "Streaming_History_Audio_2018-2023_11.json",
                "Streaming_History_Audio_2023-2026.json",
                "Streaming_History_Audio_2023-2026_0.json",
                "Streaming_History_Audio_2023-2026_1.json",
                "Streaming_History_Audio_2023-2026_2.json",
                "Streaming_History_Audio_2023-2026_02.json",
                "Streaming_History_Audio_2023-2026_10.json",
            ]
        );
    }
}
