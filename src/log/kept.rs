//! Plays the database would not take when the player went ([`KeptPlay`], read back as
//! [`KeptFile`]): kept in a file beside
//! it, one JSON object per line, and written to the log at the next start. A lock held past the
//! player's last try (a backup, a `sqlite3` shell) or a database damaged inside would otherwise
//! lose them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::play::PlaySource;

/// One play as the recorder had it: its track, its start and its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeptPlay {
    pub track_id: i64,
    /// The track's file, to check that the id still names it when the play is written.
    pub path: String,
    pub source: PlaySource,
    pub started_at: i64,
    pub duration_ms: Option<u64>,
    pub ended_at: i64,
    pub played_ms: u64,
    pub end_reason: String,
    pub skipped: bool,
    pub error: Option<String>,
    pub end_source: Option<String>,
}

/// The file of kept plays for the database at `db`: `skipless.db-kept`, beside it as SQLite's
/// `-wal` is, so that it moves with a data dir.
pub(crate) fn file_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-kept");
    PathBuf::from(name)
}

/// Appends `plays` to `file` and flushes them, and the file's name, to the disk.
pub(crate) fn append(file: &Path, plays: &[KeptPlay]) -> std::io::Result<()> {
    let mut text = String::new();
    for play in plays {
        text.push_str(&serde_json::to_string(play).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    append_bytes(file, text.as_bytes())
}

fn append_bytes(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut out = OpenOptions::new().create(true).append(true).read(true).open(file)?;
    // A line a crash cut short is ended first, so that it costs no line written after it.
    if ends_cut_short(&mut out)? {
        out.write_all(b"\n")?;
    }
    out.write_all(bytes)?;
    out.sync_all()?;
    sync_folder_of(file)
}

/// Whether `file` is not empty and its last line has no end.
fn ends_cut_short(file: &mut File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// A file made or renamed is on the disk once its folder is: a power cut could lose its name.
fn sync_folder_of(file: &Path) -> std::io::Result<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// What a file of kept plays holds: the plays, oldest first, and the lines that are not one
/// (a line cut short by a crash while it was written), with their numbers.
#[derive(Debug, Default)]
pub(crate) struct KeptFile {
    pub plays: Vec<KeptPlay>,
    pub damaged: Vec<DamagedLine>,
}

#[derive(Debug)]
pub(crate) struct DamagedLine {
    pub number: usize,
    pub text: Vec<u8>,
    pub error: String,
}

/// The plays kept in `file` (none when there is no file), each line on its own: a damaged one
/// costs only itself.
pub(crate) fn read(file: &Path) -> std::io::Result<KeptFile> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(KeptFile::default()),
        Err(e) => return Err(e),
    };
    let mut kept = KeptFile::default();
    for (number, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(play) => kept.plays.push(play),
            Err(e) => kept.damaged.push(DamagedLine {
                number: number + 1,
                text: line.to_vec(),
                error: e.to_string(),
            }),
        }
    }
    Ok(kept)
}

/// Keeps `damaged` lines of `file` in a file of their own beside it, named by the time
/// (`-kept.damaged-<ms>`), that no later damage writes over; returns its name.
pub(crate) fn set_aside(file: &Path, damaged: &[DamagedLine], now_ms: i64) -> std::io::Result<PathBuf> {
    let mut aside = file.as_os_str().to_owned();
    aside.push(format!(".damaged-{now_ms}"));
    let aside = PathBuf::from(aside);
    let mut text = Vec::new();
    for line in damaged {
        text.extend_from_slice(&line.text);
        text.push(b'\n');
    }
    append_bytes(&aside, &text)?;
    Ok(aside)
}

/// Leaves `plays` in `file` in place of what it held (removes it when there are none): written
/// aside and renamed over it, so that a crash keeps either the old list or the new one.
pub(crate) fn replace(file: &Path, plays: &[KeptPlay]) -> std::io::Result<()> {
    if plays.is_empty() {
        return match std::fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let mut aside = file.as_os_str().to_owned();
    aside.push(".tmp");
    let aside = PathBuf::from(aside);
    let _ = std::fs::remove_file(&aside);
    append(&aside, plays)?;
    std::fs::rename(&aside, file)?;
    sync_folder_of(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(track_id: i64) -> KeptPlay {
        KeptPlay {
            track_id,
            path: format!("/m/{track_id}.ogg"),
            source: PlaySource::Autoplay,
            started_at: 1_000,
            duration_ms: Some(200_000),
            ended_at: 201_000,
            played_ms: 200_000,
            end_reason: "finished".into(),
            skipped: false,
            error: None,
            end_source: Some("key".into()),
        }
    }

    #[test]
    fn kept_plays_are_appended_read_back_in_order_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_for(&dir.path().join("skipless.db"));
        assert_eq!(file, dir.path().join("skipless.db-kept"));
        assert!(read(&file).unwrap().plays.is_empty(), "no file: nothing kept");
        append(&file, &[kept(1), kept(2)]).unwrap();
        append(&file, &[kept(3)]).unwrap();
        assert_eq!(read(&file).unwrap().plays, [kept(1), kept(2), kept(3)]);
        replace(&file, &[kept(3)]).unwrap();
        assert_eq!(read(&file).unwrap().plays, [kept(3)]);
        replace(&file, &[]).unwrap();
        assert!(!file.exists());
    }

    #[test]
    fn a_damaged_line_costs_only_itself_and_is_set_aside_whole() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("skipless.db-kept");
        append(&file, &[kept(1)]).unwrap();
        // Cut short by a crash: the next play is written on a line of its own all the same.
        OpenOptions::new()
            .append(true)
            .open(&file)
            .and_then(|mut f| f.write_all(b"{\"play_id\": \xff"))
            .unwrap();
        append(&file, &[kept(2)]).unwrap();
        let read_back = read(&file).unwrap();
        assert_eq!(read_back.plays, [kept(1), kept(2)]);
        assert_eq!(read_back.damaged.len(), 1);
        assert_eq!(read_back.damaged[0].number, 2);
        let first = set_aside(&file, &read_back.damaged, 5).unwrap();
        let second = set_aside(&file, &read_back.damaged, 6).unwrap();
        assert_ne!(first, second, "a second damage keeps the first's lines");
        assert_eq!(std::fs::read(&first).unwrap(), b"{\"play_id\": \xff\n");
    }
}
