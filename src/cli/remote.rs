//! `skipless remote COMMAND`: drives the player running with this data dir through its socket.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::app::commands::{LineCommand, COMMAND_WORDS};
use crate::app::remote;
use crate::app::Context;

/// Sends `words` as one command (a `queue` with several paths as one command per path, each
/// made absolute here, since the player's working directory is not the shell's) and prints the
/// player's replies. Each refusal is said on its own line, and the others still go: a path that
/// cannot be opened does not keep the rest of a `queue` from the player. Any refusal makes the
/// exit status an error.
pub fn run(ctx: &Context, words: &[OsString]) -> anyhow::Result<()> {
    let (mut lines, mut refusals) = (Vec::new(), Vec::new());
    for line in command_lines(words)? {
        match line {
            Ok(line) => lines.push(line),
            Err(refusal) => refusals.push(refusal),
        }
    }
    let replies = if lines.is_empty() {
        Vec::new()
    } else {
        match remote::send(&ctx.paths.remote_socket(), &lines) {
            // A player asked to quit may be gone before its answer is written.
            Err(crate::app::AppError::NoAnswer(_)) if matches!(&lines[..], [l] if l == b"quit" || l == b"q") => {
                Vec::new()
            }
            Ok(replies) => replies,
            // The paths refused here are said before the player that could not be reached.
            Err(e) => {
                refusals.push(e.to_string());
                Vec::new()
            }
        }
    };
    for reply in replies {
        match reply.strip_prefix("error: ") {
            Some(message) => refusals.push(message.to_owned()),
            None if reply == "ok" => {}
            None => outln!("{}", reply.strip_prefix("ok ").unwrap_or(&reply))?,
        }
    }
    match refusals.split_last() {
        Some((last, earlier)) => {
            for refusal in earlier {
                super::say_error(&anyhow::anyhow!("{refusal}"));
            }
            anyhow::bail!("{last}")
        }
        None => Ok(()),
    }
}

/// The lines of the command `words`: one, or one per path of a `queue`, where a path that cannot
/// be sent is its refusal instead.
fn command_lines(words: &[OsString]) -> anyhow::Result<Vec<Result<Vec<u8>, String>>> {
    let Some((verb, args)) = words.split_first() else {
        return Err(super::Misuse(format!("remote needs a command: {COMMAND_WORDS}")).into());
    };
    // The command's words are taken whole (so that `seek -5` is a command, not an option), which
    // would send a player option given after them to the player as words, and the command to
    // whichever player the default data dir names.
    // (Words after a `--` are paths, whatever they look like.)
    let options = words.iter().take_while(|w| w.as_bytes() != b"--");
    if let Some(option) = options.into_iter().find(|w| is_player_option(w.as_bytes())) {
        return Err(super::Misuse(format!(
            "remote: {} must come before the command, e.g. skipless --data-dir DIR remote status",
            String::from_utf8_lossy(option.as_bytes())
        ))
        .into());
    }
    if verb.as_bytes() == b"queue" {
        // `queue -- -file.ogg`: the `--` ends options, as it does for any command.
        let args = args.strip_prefix([OsString::from("--")].as_slice()).unwrap_or(args);
        if args.is_empty() {
            return Err(super::Misuse("queue needs a file or folder".into()).into());
        }
        return Ok(args
            .iter()
            .map(|path| {
                // Absolute, for the player's working folder is not this one; links kept, for the
                // library may know a file by a link inside a root.
                let cannot_open =
                    |e: std::io::Error| format!("{}: cannot open: {e}", std::path::Path::new(path).display());
                std::fs::metadata(path).map_err(cannot_open)?;
                let path = std::path::absolute(path).map_err(cannot_open)?;
                let bytes = path.as_os_str().as_bytes();
                if bytes.contains(&b'\n') {
                    return Err(format!("{}: a path with a line break cannot be sent", path.display()));
                }
                Ok([b"queue ".as_slice(), bytes].concat())
            })
            .collect());
    }
    let line = words.iter().map(|w| w.as_bytes()).collect::<Vec<_>>().join(&b' ');
    if line.contains(&b'\n') {
        return Err(super::Misuse("a command is one line".into()).into());
    }
    // A command the player would refuse is refused here, whether or not a player runs.
    LineCommand::parse(&line).map_err(super::Misuse)?;
    Ok(vec![Ok(line)])
}

/// Whether `word` is one of the global options that choose which player `remote` talks to.
fn is_player_option(word: &[u8]) -> bool {
    ["--data-dir", "--config", "--audio"]
        .iter()
        .any(|option| word == option.as_bytes() || word.starts_with(format!("{option}=").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--` ends the options before a path that begins with a dash; it is no path itself.
    #[test]
    fn a_double_dash_before_the_paths_to_queue_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        let dashed = dir.path().join("-dash.ogg");
        std::fs::write(&dashed, b"").unwrap();
        let words: Vec<OsString> = ["queue", "--"]
            .map(OsString::from)
            .into_iter()
            .chain([dashed.clone().into()])
            .collect();
        let lines = command_lines(&words).unwrap();
        let expected = [b"queue ".as_slice(), dashed.as_os_str().as_bytes()].concat();
        assert_eq!(lines, vec![Ok(expected)]);
        let only_dashes: Vec<OsString> = ["queue", "--"].map(OsString::from).into();
        assert!(command_lines(&only_dashes).is_err());
        // A word like a player option after the `--` is a path (here, one that is not there);
        // without it, an option in the wrong place.
        let words: Vec<OsString> = ["queue", "--", "--audio"].map(OsString::from).into();
        let lines = command_lines(&words).unwrap();
        assert!(
            matches!(&lines[..], [Err(why)] if why.starts_with("--audio: cannot open")),
            "{lines:?}"
        );
        let words: Vec<OsString> = ["queue", "--audio"].map(OsString::from).into();
        assert!(command_lines(&words).is_err());
    }
}
