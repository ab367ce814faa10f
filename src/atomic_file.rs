//! Files replaced whole or not at all ([`write_atomic`]): a crash, a full disk or a reader at
//! the wrong moment sees the old file or the new one, never half of one.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and syncs
/// the directory. On any failure the temporary file is removed and `path` is as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// [`write_atomic`] for content written piece by piece (an export): `write` fills the file, and
/// its error, or the file system's, leaves `path` as it was. A temporary file that a writer of
/// the same path left when it was killed (an export stopped with Ctrl-C) is removed first.
///
/// A symbolic link is written through (its target replaced or made, the link kept). A path that
/// is no regular file (a device, a named pipe) is written to directly: it cannot be replaced, and
/// a rename over it would put a file in its place; so is a name of an open file descriptor
/// (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`), whatever file it leads to.
pub fn write_atomic_with<T, E: From<std::io::Error>>(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<T, E>,
) -> Result<T, E> {
    let descriptor = names_a_descriptor(path);
    let resolved = if descriptor { None } else { link_target(path) };
    let path = resolved.as_deref().unwrap_or(path);
    if descriptor || std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        // Appending: `/dev/stdout` of a shell's `>>` goes on after what the file holds.
        let mut out = std::io::BufWriter::new(std::fs::OpenOptions::new().append(true).open(path)?);
        let written = write(&mut out)?;
        out.flush()?;
        return Ok(written);
    }
    let (dir, prefix) = temps_of(path);
    remove_orphans(dir, &prefix);
    // Two writers of one path in one process (two exports in the same second) each have their
    // own temporary file: the last rename wins whole.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = dir.join(format!("{prefix}{}.{nth}", std::process::id()));
    // The file replaced keeps what its owner made it: its mode (a private 0600 history stays
    // private) and its owner carry over.
    let before = std::fs::metadata(path).ok().filter(std::fs::Metadata::is_file);
    unfinished().push(temp.clone());
    let result = (|| {
        let file = std::fs::File::create(&temp)?;
        if let Some(before) = &before {
            use std::os::unix::fs::MetadataExt;
            file.set_permissions(before.permissions())?;
            // Only the superuser can give a file away; anyone else's file is theirs already.
            let _ = std::os::unix::fs::fchown(&file, Some(before.uid()), Some(before.gid()));
        }
        let mut out = std::io::BufWriter::new(file);
        let written = write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        {
            // Under the registry's lock, so that an interrupt's [`remove_unfinished`] either
            // took the temporary file before (no rename) or finds it gone (the file is whole).
            let mut unfinished = unfinished();
            if !unfinished.contains(&temp) {
                return Err(std::io::Error::from(std::io::ErrorKind::Interrupted).into());
            }
            std::fs::rename(&temp, path)?;
            unfinished.retain(|t| *t != temp);
        }
        std::fs::File::open(dir)?.sync_all()?;
        Ok(written)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    unfinished().retain(|t| *t != temp);
    result
}

/// The temporary files being written now, for [`remove_unfinished`].
fn unfinished() -> std::sync::MutexGuard<'static, Vec<std::path::PathBuf>> {
    static UNFINISHED: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());
    UNFINISHED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes the temporary files of the writes under way, for a process about to end on a signal:
/// the files they were to replace stay as they were. Returns whether there were any.
pub fn remove_unfinished() -> bool {
    remove_unfinished_where(|_| true)
}

/// [`remove_unfinished`] of the temporary files `which` names.
fn remove_unfinished_where(which: impl Fn(&Path) -> bool) -> bool {
    let mut unfinished = unfinished();
    let mut removed = false;
    unfinished.retain(|temp| {
        if !which(temp) {
            return true;
        }
        let _ = std::fs::remove_file(temp);
        removed = true;
        false
    });
    removed
}

/// Whether `path` names an open file descriptor of this process rather than a file.
fn names_a_descriptor(path: &Path) -> bool {
    let parts: Vec<_> = path.components().map(|c| c.as_os_str()).collect();
    match parts[..] {
        [_, dev, name] if dev == "dev" => name == "stdout" || name == "stderr",
        [_, dev, fd, _] if dev == "dev" => fd == "fd",
        [_, proc, _, fd, _] if proc == "proc" => fd == "fd",
        _ => false,
    }
}

/// Where `path` leads when it is a symbolic link (followed to its end, also to a file not made
/// yet); `None` when it is none.
pub(crate) fn link_target(path: &Path) -> Option<std::path::PathBuf> {
    let mut at = path.to_path_buf();
    // A bounded walk: a loop of links is left to the file system to refuse.
    for _ in 0..40 {
        if !std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return (at != path).then_some(at);
        }
        let next = std::fs::read_link(&at).ok()?;
        at = match at.parent() {
            Some(dir) => dir.join(next),
            None => next,
        };
    }
    None
}

/// The folder of `path`, and the start of the names of its temporary files there.
fn temps_of(path: &Path) -> (&Path, String) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    (dir, format!(".{name}.tmp"))
}

/// Removes the temporary files of `path` that writers killed before they finished left (what a
/// write of `path` does first), for a file that may not be written again soon.
pub fn remove_orphans_of(path: &Path) {
    let (dir, prefix) = temps_of(path);
    remove_orphans(dir, &prefix);
}

/// Removes the temporary files named `{prefix}{pid}.{n}` in `dir` whose process has gone; none
/// where the system shows no processes under `/proc`.
fn remove_orphans(dir: &Path, prefix: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Exactly `{pid}.{n}` after the prefix: another file's temporary file ("out.tmp1.json"
        // beside "out") is not this one's.
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('.'))
            .filter(|(pid, n)| digits(pid) && digits(n))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.html");
        write_atomic(&file, b"one").unwrap();
        write_atomic(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        // A folder in the way: the rename fails, and the temporary file goes.
        let blocked = dir.path().join("taken");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), b"x").unwrap();
        assert!(write_atomic(&blocked, b"three").is_err());
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["out.html", "taken"]);
    }

    /// What an interrupt handler does while a write is under way: the temporary file goes and
    /// the file it was to replace stays.
    #[test]
    fn an_unfinished_write_is_removed_on_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log.csv");
        std::fs::write(&file, b"old").unwrap();
        // (Only this test's: other tests write files meanwhile.)
        let ours = |temp: &Path| temp.starts_with(dir.path());
        let written = write_atomic_with(&file, |out| {
            out.write_all(b"half")?;
            assert!(remove_unfinished_where(ours));
            Ok::<_, std::io::Error>(())
        });
        assert_eq!(written.unwrap_err().kind(), std::io::ErrorKind::Interrupted);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["log.csv"]);
        assert_eq!(std::fs::read(&file).unwrap(), b"old");
        assert!(!remove_unfinished_where(ours));
    }

    #[test]
    fn a_file_replaced_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private.csv");
        std::fs::write(&private, b"old").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&private, b"new").unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!((std::fs::read(&private).unwrap(), mode), (b"new".to_vec(), 0o600));
    }

    #[test]
    fn a_killed_writers_temporary_file_goes_at_the_next_write_and_a_living_ones_stays() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log.csv");
        // Beyond the largest pid Linux hands out (2^22), so no process has it.
        let orphan = dir.path().join(".log.csv.tmp99999999.0");
        let living = dir.path().join(format!(".log.csv.tmp{}.77", std::process::id()));
        let other_file = dir.path().join(".other.csv.tmp99999999.0");
        // The temporary file of "log.csv.tmp99999999.json", another file: its own write's to clear.
        let anothers = dir.path().join(".log.csv.tmp99999999.json.tmp99999999.0");
        for path in [&orphan, &living, &other_file, &anothers] {
            std::fs::write(path, b"half").unwrap();
        }
        write_atomic(&file, b"whole").unwrap();
        assert!(!orphan.exists());
        assert!(living.exists() && other_file.exists() && anothers.exists());
        assert_eq!(std::fs::read(&file).unwrap(), b"whole");
    }
}
