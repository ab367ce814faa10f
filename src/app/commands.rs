//! The player's line commands ([`LineCommand`]): one parser for the headless player's stdin and
//! for `skipless remote`, and what a command does to a running player ([`apply`], [`Reply`]),
//! through the same [`Controller`] calls as the keys.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::autoplay::{repeat_set, Autoplay, FromNothing};
use super::controller::Controller;
use super::library::playlist_entries;
use super::queue::Repeat;
use crate::app::library::{nothing_at, tracks_at};
use crate::fmt::format_duration;
use crate::marks::Mark;
use crate::play::{ControlSource, PlaySource};
use crate::player::SeekTo;
use crate::track::Track;

/// One command, as a line of words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LineCommand {
    Next,
    Previous,
    Pause,
    /// `play` or `resume`: resumes, or starts the queue when stopped.
    Resume,
    Toggle,
    Seek(SeekTo),
    Volume(VolumeTo),
    /// `mute`: mutes, or unmutes back to the volume before.
    Mute,
    Stop,
    Quit,
    /// `like` / `unlike` the playing track.
    Like(bool),
    /// `ban` / `unban` the playing track; a ban skips it.
    Ban(bool),
    /// `queue PATH`: a file or a folder of the library, after the listener's own queue.
    Queue(PathBuf),
    /// `playlist NAME`: the saved playlist becomes the queue.
    Playlist(String),
    /// `reload`: read the library (its marks and roots), the log and the saved model again, after
    /// a command in another process changed them (`like`, `ban`, `train`, `scan`, `roots`,
    /// `import`).
    Reload,
    /// `repeat off|all|one`, or a bare `repeat` for the next mode in the order the key cycles.
    Repeat(Option<Repeat>),
    /// `shuffle`: the upcoming tracks in a new order, once (as the key does).
    Shuffle,
    /// `status` or `status --json`.
    Status {
        json: bool,
    },
}

/// A volume level, or a step up or down from the current one (`vol 50`, `vol +5`, `vol -5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VolumeTo {
    Level(u8),
    Up(u8),
    Down(u8),
}

impl VolumeTo {
    /// The level this gives from `current`, within 0-100.
    pub(crate) fn from(self, current: u8) -> u8 {
        match self {
            VolumeTo::Level(level) => level,
            VolumeTo::Up(step) => current.saturating_add(step),
            VolumeTo::Down(step) => current.saturating_sub(step),
        }
        .min(100)
    }
}

/// The words [`LineCommand::parse`] knows, for messages.
pub(crate) const COMMAND_WORDS: &str = "next, prev, pause, play, toggle, stop, seek ±S|S, vol ±N|N, mute, like, \
                                        unlike, ban, unban, repeat [off|all|one], shuffle, queue PATH, playlist NAME, reload, status [--json], quit";

impl LineCommand {
    /// Parses one line: `next`, `prev`, `pause`, `play` (or `resume`), `toggle`, `seek +5`,
    /// `seek -5`, `seek 30`, `vol 50`, `vol +5`, `vol -5`, `stop`, `quit`, `like`, `unlike`,
    /// `ban`, `unban`, `repeat`, `repeat off|all|one`, `shuffle`, `reload`, `queue PATH`,
    /// `playlist NAME`, `status`, `status --json`. A path
    /// or a name is the rest of the line, spaces included; a path is taken as bytes, so any file
    /// name can be given.
    pub(crate) fn parse(line: &[u8]) -> Result<Self, String> {
        let line = line.trim_ascii();
        let split = line.iter().position(u8::is_ascii_whitespace).unwrap_or(line.len());
        let (verb, rest) = line.split_at(split);
        let rest = rest.trim_ascii();
        let verb = std::str::from_utf8(verb).map_err(|_| "unknown command (not text)".to_owned())?;
        let text = || std::str::from_utf8(rest).map_err(|_| format!("{verb}: the argument is not text"));
        let seconds = |s: &str| time_of(s).ok_or_else(|| format!("not a time (seconds, M:SS or H:MM:SS): {s}"));
        let bare = |command: Self| {
            if rest.is_empty() {
                Ok(command)
            } else {
                Err(format!("{verb} takes no argument"))
            }
        };
        match verb {
            "next" | "n" => bare(Self::Next),
            "prev" | "previous" | "p" => bare(Self::Previous),
            "pause" => bare(Self::Pause),
            "resume" | "play" => bare(Self::Resume),
            "toggle" => bare(Self::Toggle),
            "stop" => bare(Self::Stop),
            "quit" | "q" => bare(Self::Quit),
            "like" => bare(Self::Like(true)),
            "unlike" => bare(Self::Like(false)),
            "ban" => bare(Self::Ban(true)),
            "unban" => bare(Self::Ban(false)),
            "reload" => bare(Self::Reload),
            "mute" => bare(Self::Mute),
            "shuffle" => bare(Self::Shuffle),
            "repeat" => match text()? {
                "" => Ok(Self::Repeat(None)),
                "off" => Ok(Self::Repeat(Some(Repeat::Off))),
                "all" => Ok(Self::Repeat(Some(Repeat::All))),
                "one" => Ok(Self::Repeat(Some(Repeat::One))),
                other => Err(format!("repeat off, all or one, not {other}")),
            },
            "seek" => match text()? {
                "" => Err("seek needs a time: seek +5, seek -5 or seek 30".into()),
                a if a.starts_with('+') => Ok(Self::Seek(SeekTo::Forward(seconds(&a[1..])?))),
                a if a.starts_with('-') => Ok(Self::Seek(SeekTo::Backward(seconds(&a[1..])?))),
                a => Ok(Self::Seek(SeekTo::Absolute(seconds(a)?))),
            },
            "vol" | "volume" => {
                let level = |s: &str| {
                    s.parse::<u8>()
                        .ok()
                        .filter(|v| *v <= 100 && s.bytes().all(|b| b.is_ascii_digit()))
                };
                match text()? {
                    "" => Err("vol needs a level: vol 50, vol +5 or vol -5".into()),
                    a => match (a.strip_prefix('+'), a.strip_prefix('-')) {
                        (Some(step), _) => level(step).map(VolumeTo::Up),
                        (_, Some(step)) => level(step).map(VolumeTo::Down),
                        _ => level(a).map(VolumeTo::Level),
                    }
                    .map(Self::Volume)
                    .ok_or_else(|| format!("volume 0-100, or a step of up to 100 after + or -: {a}")),
                }
            }
            "queue" if rest.is_empty() => Err("queue needs a file or folder".into()),
            "queue" => Ok(Self::Queue(PathBuf::from(OsString::from_vec(rest.to_vec())))),
            "playlist" if rest.is_empty() => Err("playlist needs a name".into()),
            "playlist" => Ok(Self::Playlist(text()?.to_owned())),
            "status" => match text()? {
                "" => Ok(Self::Status { json: false }),
                "--json" => Ok(Self::Status { json: true }),
                other => Err(format!("status takes only --json, not {other}")),
            },
            // A line of anything (a file piped in by mistake) is named by its start.
            _ => Err(format!(
                "unknown command: {} (known: {COMMAND_WORDS})",
                crate::fmt::truncate(&String::from_utf8_lossy(line), 60)
            )),
        }
    }
}

/// A time given as seconds (`90`, `1.5`), `M:SS` or `H:MM:SS`.
fn time_of(text: &str) -> Option<Duration> {
    let mut parts = text.rsplit(':');
    let seconds: f64 = parts.next()?.parse().ok().filter(|s: &f64| *s >= 0.0)?;
    let mut whole = 0u64;
    let mut minutes = None;
    for (unit, part) in [60, 3600].into_iter().zip(parts.by_ref()) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let count = part.parse::<u64>().ok()?;
        if unit == 60 {
            minutes = Some(count);
        } else if minutes.is_some_and(|m| m >= 60) {
            // H:MM:SS: the minutes within the hour.
            return None;
        }
        whole = whole.checked_add(count.checked_mul(unit)?)?;
    }
    if parts.next().is_some() || (text.contains(':') && seconds >= 60.0) {
        return None;
    }
    Duration::try_from_secs_f64(seconds)
        .ok()?
        .checked_add(Duration::from_secs(whole))
}

/// What a command did, as every front end says it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Said {
    /// Carried out; what it did in words where the events it brings do not say it all (empty:
    /// nothing to add).
    Done(String),
    /// The player's status: a line, or a JSON object.
    Status(String),
    /// Not carried out, and why.
    Refused(String),
}

/// The outcome of one command, and what the front end does after it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub said: Said,
    /// The player should quit, as on its own quit command.
    pub quit: bool,
    /// A like or ban was written (the screen's copy of the marks follows it).
    pub marked: Option<(i64, Mark, bool)>,
    /// The library (its marks and roots with it) is to be read again (see
    /// [`LineCommand::Reload`]).
    pub reload: bool,
}

impl Reply {
    fn saying(said: Said) -> Self {
        Self {
            said,
            quit: false,
            marked: None,
            reload: false,
        }
    }

    fn done(text: impl Into<String>) -> Self {
        Self::saying(Said::Done(text.into()))
    }

    pub(crate) fn refused(text: impl std::fmt::Display) -> Self {
        Self::saying(Said::Refused(text.to_string()))
    }

    /// The reply as one line of the player's socket, which `skipless remote` reads: `ok`,
    /// `ok …`, `error: …`, or the status.
    pub(crate) fn line(&self) -> String {
        match &self.said {
            Said::Done(text) if text.is_empty() => "ok".into(),
            Said::Done(text) => format!("ok {text}"),
            Said::Status(status) => status.clone(),
            Said::Refused(why) => format!("error: {why}"),
        }
    }
}

/// Carries out `command` on a running player; `by` is credited with any play it ends.
pub(crate) fn apply(
    controller: &mut Controller,
    mut autoplay: Option<&mut Autoplay>,
    picking: bool,
    command: LineCommand,
    by: ControlSource,
) -> Reply {
    if matches!(command, LineCommand::Next | LineCommand::Resume | LineCommand::Toggle) {
        match FromNothing::press(controller, autoplay.as_deref_mut(), picking) {
            FromNothing::NotEmpty => {}
            FromNothing::Picking => return Reply::done(FromNothing::PICKING),
            FromNothing::NothingQueued => {
                return Reply::refused("nothing queued: `queue PATH` or `playlist NAME` gives it something to play")
            }
        }
    }
    match command {
        LineCommand::Next if controller.queue.skip_index().is_none() => {
            controller.next(by);
            return Reply::done(if picking && autoplay.is_some() {
                "end of the queue: autoplay goes on"
            } else {
                "end of the queue: playback stopped"
            });
        }
        LineCommand::Next => controller.next(by),
        LineCommand::Previous => controller.previous(by),
        LineCommand::Pause | LineCommand::Seek(_) if !controller.has_play() => {
            return Reply::refused("nothing is playing")
        }
        LineCommand::Pause => controller.pause(),
        LineCommand::Resume => controller.resume(by),
        LineCommand::Toggle => controller.toggle(by),
        LineCommand::Seek(SeekTo::Absolute(at)) if past_the_end(controller, at) => {
            let now = controller
                .now
                .as_ref()
                .map(|n| (n.entry.track.display_name(), n.duration_ms));
            let (name, length) = now.unwrap_or_default();
            return Reply::refused(format!(
                "{} is past the end of {name} ({})",
                crate::fmt::format_duration(at.as_millis() as u64),
                crate::fmt::format_duration(length.unwrap_or_default())
            ));
        }
        LineCommand::Seek(to) => controller.seek(to),
        LineCommand::Volume(to) => {
            // A step while muted is a step from the volume unmuting goes back to.
            controller.set_volume(to.from(controller.set_level()));
            return Reply::done(format!("volume {}", controller.volume));
        }
        LineCommand::Mute => return Reply::done(controller.toggle_mute()),
        LineCommand::Repeat(mode) => {
            let repeat = mode.unwrap_or(controller.queue.repeat.cycle());
            controller.set_repeat(repeat);
            return Reply::done(repeat_set(repeat, controller, autoplay.filter(|_| picking)));
        }
        LineCommand::Shuffle => {
            return match controller.shuffle_upcoming() {
                Ok(said) => Reply::done(said),
                Err(why) => Reply::refused(why),
            }
        }
        LineCommand::Stop if !controller.has_play() => return Reply::done("nothing was playing"),
        LineCommand::Stop => controller.stop(by),
        LineCommand::Reload => {
            if let Some(autoplay) = autoplay {
                autoplay.reload_model();
            }
            return Reply {
                reload: true,
                ..Reply::done("reading the library, the log, the marks and the saved model again")
            };
        }
        LineCommand::Quit => {
            return Reply {
                quit: true,
                ..Reply::done("quitting")
            }
        }
        LineCommand::Like(on) => return mark(controller, autoplay, picking, Mark::Like, on, by),
        LineCommand::Ban(on) => return mark(controller, autoplay, picking, Mark::Ban, on, by),
        LineCommand::Queue(path) => return queue(controller, &path),
        LineCommand::Playlist(name) => return play_playlist(controller, &name, by),
        // Autoplay switched off still hears likes and bans; what `status` reports is the switch.
        LineCommand::Status { json } => {
            return Reply::saying(Said::Status(status(
                controller,
                autoplay.as_deref().filter(|_| picking),
                json,
            )))
        }
    }
    Reply::done("")
}

fn mark(
    controller: &mut Controller,
    autoplay: Option<&mut Autoplay>,
    picking: bool,
    mark: Mark,
    on: bool,
    by: ControlSource,
) -> Reply {
    let Some(track) = controller.now.as_ref().map(|n| n.entry.track.clone()) else {
        return Reply::refused("nothing is playing");
    };
    let change = match controller.mark(track.id, mark, on, by) {
        Ok(change) => change,
        Err(e) => return Reply::refused(e),
    };
    if let Some(autoplay) = autoplay {
        autoplay.marked(controller, track.id, mark, on, picking);
    }
    let said = mark.outcome(on, change);
    let name = track.display_name();
    let reply = match (change.changed, on) {
        // Banned already or just now, the track playing is skipped all the same.
        (_, true) if mark == Mark::Ban => format!("{said}: {name}; skipped"),
        (true, _) | (false, true) => format!("{said}: {name}"),
        // The track playing is what the command acts on; after a ban skipped it, that is the next.
        (false, false) => format!(
            "{said}: {name} (this acts on the track playing; skipless un{} PATH names another)",
            mark.word()
        ),
    };
    Reply {
        marked: Some((track.id, mark, on)),
        ..Reply::done(reply)
    }
}

/// Whether `at` is at or past the end of the track playing, when its length is known: a seek
/// there would skip it, which a seek to a time does not ask for.
fn past_the_end(controller: &Controller, at: std::time::Duration) -> bool {
    let length = controller.now.as_ref().and_then(|n| n.duration_ms);
    length.is_some_and(|length| at.as_millis() >= u128::from(length))
}

/// Queues a library file, or every library file under a folder in path order.
fn queue(controller: &mut Controller, path: &std::path::Path) -> Reply {
    if let Err(e) = std::fs::metadata(path) {
        return Reply::refused(format!("{}: {e}", path.display()));
    }
    let found = match tracks_at(controller.recorder().database(), path) {
        Ok(found) => found,
        Err(e) => return Reply::refused(e),
    };
    if found.is_empty() {
        return match nothing_at(controller.recorder().database(), path) {
            Ok(said) => Reply::refused(said),
            Err(e) => Reply::refused(e),
        };
    }
    // Each path of a `remote queue` gets its own reply, so each names what it queued.
    let said = match &found[..] {
        [track] if !path.is_dir() => format!("queued: {}", track.display_name()),
        _ => format!(
            "queued {} from {}",
            crate::fmt::count(found.len() as u64, "track"),
            path.display()
        ),
    };
    controller.enqueue(found);
    Reply::done(said)
}

/// The saved playlist `name` becomes the queue (the tracks queued and not heard yet follow its
/// first) and plays from its first file the library has.
fn play_playlist(controller: &mut Controller, name: &str, by: ControlSource) -> Reply {
    let resolved = match playlist_entries(controller.recorder().database(), name) {
        Ok(resolved) => resolved,
        Err(e) => return Reply::refused(format!("{e:#}")),
    };
    let total = resolved.len();
    let playable: Vec<Track> = resolved.into_iter().filter_map(|(_, track)| track).collect();
    if playable.is_empty() {
        return Reply::refused(format!(
            "playlist {name:?}: none of its files is playable from the library"
        ));
    }
    let missing = total - playable.len();
    let n = playable.len();
    controller.play_tracks(playable, 0, PlaySource::User, by);
    let missing = if missing > 0 {
        format!(", {missing} not playable from the library")
    } else {
        String::new()
    };
    Reply::done(format!("playing {name:?} ({n} tracks{missing})"))
}

/// What is playing, where, how much is queued and what ranks autoplay: one line, or JSON.
fn status(controller: &Controller, autoplay: Option<&Autoplay>, json: bool) -> String {
    let now = controller.now.as_ref();
    let state = match now {
        None => "stopped",
        Some(n) if n.paused => "paused",
        Some(_) => "playing",
    };
    let queue_length = controller.queue.upcoming().len();
    let autoplay_source = match autoplay {
        None => "off",
        Some(a) => a.source().map_or("waiting", super::autoplay::RankedBy::as_str),
    };
    if json {
        let track = now.map(|n| {
            let t = &n.entry.track;
            json!({"id": t.id, "path": t.path.to_string_lossy(), "title": t.title, "artist": t.artist,
                   "album": t.album, "source": n.entry.source})
        });
        return json!({
            "state": state,
            "track": track,
            "position_ms": now.map(|n| n.position_ms),
            "duration_ms": now.and_then(|n| n.duration_ms),
            // The level set, muted or not, as `vol` sets it and unmuting goes back to.
            "volume": controller.set_level(),
            "muted": controller.muted_at.is_some(),
            "repeat": controller.queue.repeat,
            "queue_length": queue_length,
            "autoplay": autoplay_source,
        })
        .to_string();
    }
    let playing = now.map_or_else(String::new, |n| {
        format!(
            " {} {}/{}",
            n.entry.track.display_name(),
            format_duration(n.position_ms),
            n.duration_ms.map(format_duration).unwrap_or_else(|| "?".into())
        )
    });
    let volume = match controller.muted_at {
        Some(level) => format!("muted (volume {level} when unmuted)"),
        None => format!("volume {}", controller.volume),
    };
    format!("{state}{playing} · queue {queue_length} · {volume} · autoplay {autoplay_source}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<LineCommand, String> {
        LineCommand::parse(line.as_bytes())
    }

    #[test]
    fn parses_the_same_words_for_stdin_and_the_socket() {
        assert_eq!(
            parse("seek +5"),
            Ok(LineCommand::Seek(SeekTo::Forward(Duration::from_secs(5))))
        );
        assert_eq!(
            parse("seek -2.5"),
            Ok(LineCommand::Seek(SeekTo::Backward(Duration::from_millis(2500))))
        );
        assert_eq!(
            parse("seek 30"),
            Ok(LineCommand::Seek(SeekTo::Absolute(Duration::from_secs(30))))
        );
        assert_eq!(
            parse("seek 1:30"),
            Ok(LineCommand::Seek(SeekTo::Absolute(Duration::from_secs(90))))
        );
        assert_eq!(
            parse("seek +1:02:03.5"),
            Ok(LineCommand::Seek(SeekTo::Forward(Duration::from_millis(3_723_500))))
        );
        assert_eq!(parse("vol 50"), Ok(LineCommand::Volume(VolumeTo::Level(50))));
        assert_eq!(parse("vol +10"), Ok(LineCommand::Volume(VolumeTo::Up(10))));
        assert_eq!(parse("volume -5"), Ok(LineCommand::Volume(VolumeTo::Down(5))));
        assert_eq!(VolumeTo::Up(10).from(95), 100);
        assert_eq!(VolumeTo::Down(10).from(5), 0);
        assert_eq!(VolumeTo::Down(10).from(30), 20);
        assert_eq!(parse("play"), parse("resume"));
        assert_eq!(parse("  next \r"), Ok(LineCommand::Next));
        assert_eq!(parse("status --json"), Ok(LineCommand::Status { json: true }));
        assert_eq!(
            parse("playlist Road trip"),
            Ok(LineCommand::Playlist("Road trip".into()))
        );
        assert_eq!(parse("ban"), Ok(LineCommand::Ban(true)));
        assert_eq!(parse("unlike"), Ok(LineCommand::Like(false)));
        assert_eq!(parse("quit"), Ok(LineCommand::Quit));
        for bad in [
            "vol 500",
            "vol",
            "vol +-5",
            "vol ++5",
            "vol +500",
            "vol ±5",
            "vol é",
            "seek x",
            "seek",
            "seek 1e20",
            "seek +18446744073709551616",
            "seek inf",
            "seek NaN",
            "seek 1:75",
            "seek 1:75:00",
            "seek :30",
            "seek 1:2:3:4",
            "seek 1:-5",
            "seek a:30",
            "dance",
            "next 3",
            "queue",
            "status --xml",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_queued_path_is_kept_as_bytes_spaces_included() {
        let line = b"queue /music/a b/\xff\xfe.flac";
        let Ok(LineCommand::Queue(path)) = LineCommand::parse(line) else {
            panic!("not a queue command")
        };
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(path.as_os_str().as_bytes(), b"/music/a b/\xff\xfe.flac");
    }
}
