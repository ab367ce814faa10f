//! Plays the database would not take when the player went ([`KeptPlay`]): kept in a file beside
//! it, one JSON object per line, and written to the log at the next start. A lock held past the
//! player's last try (a backup, a `sqlite3` shell) or a database damaged inside would otherwise
//! lose them.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::play::PlaySource;

/// One play as the recorder had it: its start, its end, and its row if the start was written.
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

/// Appends `plays` to `file` and flushes them to the disk.
pub(crate) fn append(file: &Path, plays: &[KeptPlay]) -> std::io::Result<()> {
    let mut text = String::new();
    for play in plays {
        text.push_str(&serde_json::to_string(play).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    let mut out = OpenOptions::new().create(true).append(true).open(file)?;
    out.write_all(text.as_bytes())?;
    out.sync_all()
}

/// The plays kept in `file`, oldest first (none when there is no file). A line that is not a
/// kept play is named by its number.
pub(crate) fn read(file: &Path) -> std::io::Result<Vec<KeptPlay>> {
    let input = match File::open(file) {
        Ok(input) => input,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut plays = Vec::new();
    for (number, line) in BufReader::new(input).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let play = serde_json::from_str(&line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line {}: not a kept play: {e}", number + 1),
            )
        })?;
        plays.push(play);
    }
    Ok(plays)
}

/// Moves a damaged `file` aside (`-kept.damaged`), so that the plays in it are not lost and the
/// next ones are kept in a new file; returns where it went.
pub(crate) fn set_aside(file: &Path) -> PathBuf {
    let mut aside = file.as_os_str().to_owned();
    aside.push(".damaged");
    let aside = PathBuf::from(aside);
    if let Err(e) = std::fs::rename(file, &aside) {
        tracing::error!("cannot move {} aside: {e}", file.display());
    }
    aside
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
    std::fs::rename(&aside, file)
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
        assert!(read(&file).unwrap().is_empty(), "no file: nothing kept");
        append(&file, &[kept(1), kept(2)]).unwrap();
        append(&file, &[kept(3)]).unwrap();
        assert_eq!(read(&file).unwrap(), [kept(1), kept(2), kept(3)]);
        replace(&file, &[kept(3)]).unwrap();
        assert_eq!(read(&file).unwrap(), [kept(3)]);
        replace(&file, &[]).unwrap();
        assert!(!file.exists());
    }

    #[test]
    fn a_damaged_line_is_named_by_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("skipless.db-kept");
        append(&file, &[kept(1)]).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap()
            .write_all(b"{\"play_id\": \n")
            .unwrap();
        let e = read(&file).unwrap_err();
        assert!(e.to_string().starts_with("line 2: not a kept play"), "{e}");
    }
}
