//! The command line: parsing ([`Cli`], [`Command`]) and the dispatch to the front ends — one
//! module per subcommand here, the player UI in [`crate::tui`], `skipless play` in
//! [`crate::headless`].

/// `print!` that returns a failed write to stdout (a full disk, a closed pipe) as an error
/// instead of panicking: `out!(...)?`.
/// What it prints passes through [`crate::fmt::printable`]: names and lyrics come from files.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        std::io::stdout()
            .lock()
            .write_all($crate::fmt::printable(&text).as_bytes())
            .map_err($crate::cli::StdoutError)
    }};
}

/// `println!` that returns a failed write to stdout as an error: `outln!(...)?`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        out!("{}\n", format_args!($($arg)*))
    }};
}

/// Asks a running player to read the library, the log, the marks, the playlists and the saved model again,
/// after a command changed them; says so in one line when it did not hear. No player running
/// is no news.
fn tell_running_player(ctx: &crate::app::Context) {
    if let Err(e) = crate::app::remote::tell_reload(&ctx.paths.remote_socket()) {
        eprintln!("skipless: warning: the running player did not hear of it: {e}");
    }
}

mod eval;
mod export;
mod history;
mod import;
mod library;
mod lyrics;
mod man;
mod marks;
mod playlist;
mod recap;
mod recommend;
mod remote;
mod roots;
mod scan;
mod simulate;
mod stats;
mod train;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{CommandFactory, Parser, Subcommand};

use crate::app::Context;
use crate::config::Config;
use crate::headless::Start;
use crate::library::scan::Reread;
use crate::marks::Mark;
use crate::paths::Paths;

#[derive(Debug, Parser)]
#[command(
    name = "skipless",
    version,
    propagate_version = true,
    about = "A terminal music player that learns from your skips"
)]
pub struct Cli {
    /// Folder for the database and models (default: the platform data dir).
    #[arg(long, global = true, env = "SKIPLESS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (default: config.toml in the platform config dir).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Audio output: auto, device or null (silent, real time; SKIPLESS_NULL_SPEED speeds it up).
    #[arg(long, global = true, value_enum)]
    pub audio: Option<AudioArg>,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Music folders to scan before opening the player.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// What `play` reads and writes, for its long help and manual page.
const PLAY_LINES: &str = "\
Standard input takes the commands of `skipless remote`, one a line (`next`, `seek -5`, `vol 80`,
`queue PATH`, `status --json`, `quit`, ...); a refused one is said on standard error (with
--json, as a command_error event).

Standard output has a line for each event:
  started ID ARTIST – TITLE [M:SS]
  paused ID at M:SS, resumed ID at M:SS, seeked ID at M:SS
  volume N
  ended ID REASON after M:SS, with (skip) when it counts as a skip
  error MESSAGE (a track that cannot play)
  idle (nothing left to play)
  model MESSAGE (autoplay's model was trained or loaded)
  log failed MESSAGE
and the reply of a command that says more than it did (`liked: ...`, a status), and the summary
of a rescan of the library's folders.

With --json each line is one object whose \"event\" is started, position, paused, resumed, seeked,
volume, ended, error, idle, model, scanned, status, reply, command_error or log_failed.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index music folders (a bare `scan` rescans the known library roots).
    Scan {
        /// Folders (or files) to index; none: the library's folders.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Read every file again, also those whose size and modification time are unchanged
        /// (tags rewritten by a tool that kept the mtime).
        #[arg(long)]
        full: bool,
        /// Print one JSON object with the counts.
        #[arg(long)]
        json: bool,
    },
    /// The library's folders: list them, add some (and scan them), or remove one.
    Roots {
        #[command(subcommand)]
        action: Option<roots::RootsAction>,
        /// One JSON object per folder (or the scan's counts for `add`, the folder and its tracks for `remove`).
        #[arg(long, global = true)]
        json: bool,
    },
    /// List the indexed tracks.
    Library {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Play files or folders without the UI: line commands on stdin, one line per event on stdout.
    #[command(after_long_help = PLAY_LINES)]
    Play {
        /// One JSON object per event.
        #[arg(long)]
        json: bool,
        /// After the given tracks, keep playing recommended tracks (and retrain as the TUI does).
        #[arg(long)]
        autoplay: bool,
        /// Play a saved playlist (its files the library has, in order).
        #[arg(long, value_name = "NAME", conflicts_with_all = ["paths", "radio_track", "radio_artist"])]
        playlist: Option<String>,
        /// Radio from a track: it plays, then autoplay goes on with more like it.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["paths", "radio_artist"])]
        radio_track: Option<PathBuf>,
        /// Radio from an artist: one of theirs plays, then autoplay goes on favouring them.
        #[arg(long, value_name = "NAME", conflicts_with = "paths")]
        radio_artist: Option<String>,
        /// Stay when the queue runs out or on `stop`, until `quit` or a signal, so that `remote
        /// queue` (then `remote play`), `remote playlist` (which plays at once) and media keys
        /// can give it something to play; with no PATH it starts with nothing.
        #[arg(long)]
        idle: bool,
        /// Files and folders to play, in this order (a folder by disc and track).
        #[arg(
            value_name = "PATH",
            required_unless_present_any = ["playlist", "radio_track", "radio_artist", "idle"]
        )]
        paths: Vec<PathBuf>,
    },
    /// Control the running player: next, prev, pause, play, toggle, stop, seek ±S|S, vol ±N|N, mute,
    /// like, unlike, ban, unban, repeat [off|all|one], shuffle, queue PATH..., playlist NAME, reload,
    /// status [--json], quit.
    Remote {
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true, trailing_var_arg = true, value_name = "COMMAND")]
        words: Vec<std::ffi::OsString>,
    },
    /// Saved playlists: list them, import an M3U or M3U8 file, export, rename or delete one.
    Playlist {
        #[command(subcommand)]
        command: playlist::PlaylistCommand,
    },
    /// Show the listening log, newest first.
    History {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// How many plays to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Totals, top tracks and artists, most-skipped tracks.
    Stats {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Closed-loop test of autoplay against a listener built from a real listening history.
    Simulate {
        /// History files or folders (Spotify exports).
        #[arg(long, required = true, num_args = 1..)]
        history: Vec<PathBuf>,
        /// Simulated plays per policy.
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
        plays: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the recommenders on Spotify listening-history exports (the fixed protocol).
    Eval {
        /// History files or folders (Streaming_History_Audio_*.json, endsong_*.json, StreamingHistory*.json).
        #[arg(long, required = true, num_args = 1..)]
        history: Vec<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// The seeds every learned model is trained with; its row is their mean.
        #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
        seeds: Vec<u64>,
    },
    /// Train the recommender on the listening log and save it in the data dir.
    Train {
        /// Print the validation metrics as one JSON object.
        #[arg(long)]
        json: bool,
        /// Save the new model even when the current one ranks better on the same validation slice.
        #[arg(long)]
        force: bool,
    },
    /// Write the listening log in a standard format (to stdout unless --out).
    Export {
        #[arg(long, value_enum)]
        format: crate::logio::ExportFormat,
        /// Write to this file, with a progress bar on a terminal (`-`: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Plays started on or after this date (YYYY-MM-DD, local midnight), local time (2024-05-01T18:00) or RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Plays started on or before this date (YYYY-MM-DD, local time) or before this local or RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
    },
    /// A listening recap: one HTML page of charts and top lists (or --json), days in local time.
    Recap {
        /// Write the page (or the JSON) to this file; stdout without it, or with `-`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the recap's numbers as one JSON object instead of the page.
        #[arg(long)]
        json: bool,
        /// Plays started on or after this date (YYYY-MM-DD, local midnight), local time (2024-05-01T18:00) or RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Plays started on or before this date (YYYY-MM-DD, local time) or before this local or RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
    },
    /// Bring plays from another service's history into the log.
    Import {
        #[command(subcommand)]
        source: import::ImportCommand,
    },
    /// Recommend the next tracks for the current or last session, in the order autoplay would
    /// queue them: tracks that only fill the list (played lately, skipped earlier this session)
    /// come after the rest, whatever their score.
    Recommend {
        /// How many tracks.
        #[arg(short = 'n', default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
        n: u16,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Like a track: a strong "more like this" for the recommender, shown in the track lists.
    Like {
        /// Indexed audio files (none is marked if one is not).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Take a like back.
    Unlike {
        /// Indexed audio files, or the paths they had (none is marked if one is not).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Ban a track: autoplay never queues it again (the listener still can).
    Ban {
        /// Indexed audio files (none is marked if one is not).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Take a ban back.
    Unban {
        /// Indexed audio files, or the paths they had (none is marked if one is not).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print a track's lyrics: a .lrc beside it, else the lyrics in its tags, else
    /// "Artist - Title.lrc" in the [lyrics] folder; synced lines with their times.
    Lyrics {
        /// An audio file.
        path: PathBuf,
    },
    /// Print the commented default configuration (`skipless config --default`), or where the
    /// configuration is read from (`skipless config --path`).
    #[command(group(clap::ArgGroup::new("what").required(true)))]
    Config {
        /// Print the commented default configuration (the shipped `config.toml`).
        #[arg(long, group = "what")]
        default: bool,
        /// Print the configuration file's path (it need not exist: every setting is optional).
        #[arg(long, group = "what")]
        path: bool,
    },
    /// Print a shell completion script (e.g. `skipless completions bash > ~/.local/share/bash-completion/completions/skipless`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `skipless man | man -l -`, or a command's page, the
    /// skipless-scan(1) the main page names (`skipless man scan`, `skipless man import spotify`).
    Man {
        /// The command whose page to print (`scan`, `import spotify`); none: the main page.
        /// Not with `--dir`, which writes them all.
        #[arg(value_name = "COMMAND", conflicts_with = "dir")]
        command: Vec<String>,
        /// Write every page (skipless.1 and one per command) into this folder.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `--audio` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AudioArg {
    Auto,
    Device,
    Null,
}

impl From<AudioArg> for crate::config::AudioOutput {
    fn from(arg: AudioArg) -> Self {
        match arg {
            AudioArg::Auto => Self::Auto,
            AudioArg::Device => Self::Device,
            AudioArg::Null => Self::Null,
        }
    }
}

/// A write to stdout that failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to stdout: {0}")]
pub(crate) struct StdoutError(#[source] pub std::io::Error);

/// A command line not understood past what clap checks (a word `remote` or `man` does not
/// know): the exit status is 2, as for clap's own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Misuse(pub String);

/// The exit status of a command that failed with `error`: 2 for a command line not understood,
/// else 1.
pub fn exit_status(error: &anyhow::Error) -> i32 {
    if error.downcast_ref::<Misuse>().is_some() {
        2
    } else {
        1
    }
}

/// Says `error` on stderr, as every failure of the program is said.
pub fn say_error(error: &anyhow::Error) {
    eprintln!("skipless: error: {}", error_line(error));
}

/// The error and its causes on one line, joined by ": ". A cause whose text the line already
/// holds is left out: many errors name their cause in their own message (`{path}: {source}`),
/// and the source would otherwise be printed twice. A line break inside (a file name may hold
/// one) is written as `\n`, so the error stays one line, and other control characters as
/// [`fmt::printable`](crate::fmt::printable) writes them, so none reaches the terminal.
fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        // SQLite's own error repeats the message of rusqlite's above it, after its code.
        let text = match text.split_once(": ") {
            Some((code, said)) if code.starts_with("Error code ") && line.contains(said) => continue,
            _ => text,
        };
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    let line = line.replace('\n', "\\n").replace('\r', "\\r");
    crate::fmt::printable(&line).into_owned()
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if !matches!(
        cli.command,
        None | Some(Command::Play { .. }) | Some(Command::Remote { .. })
    ) {
        end_quietly_on_a_closed_pipe();
    }
    // Commands that print what the program is made of need no data dir or config.
    match &cli.command {
        Some(Command::Config { path: true, .. }) => {
            let paths = Paths::resolve(cli.data_dir.clone(), cli.config.clone())?;
            outln!("{}", paths.config_file.display())?;
            return Ok(());
        }
        Some(Command::Config { .. }) => {
            out!("{}", crate::config::DEFAULT_CONFIG)?;
            return Ok(());
        }
        Some(Command::Completions { shell }) => {
            // Written whole, so that a failed write is an error, not clap_complete's panic.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "skipless", &mut script);
            out!("{}", String::from_utf8_lossy(&script))?;
            return Ok(());
        }
        Some(Command::Man { command, dir }) => {
            // Built, every command knows its page's name (skipless-import-spotify). Without the
            // `help` commands, which have no page of their own for a page to point at.
            let mut page = without_help_commands(Cli::command());
            page.build();
            if let Some(dir) = dir {
                std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the folder", dir.display()))?;
                let written = man::write_all(&page, dir)?;
                outln!("wrote {written} manual pages to {}", dir.display())?;
                return Ok(());
            }
            for word in command {
                let Some(found) = page.find_subcommand(word).cloned() else {
                    let name = page.get_display_name().unwrap_or(page.get_name()).replace('-', " ");
                    return Err(Misuse(format!("man: `{name} {word}` is no command (see `{name} --help`)")).into());
                };
                page = found;
            }
            man::render(&page, &mut std::io::stdout()).map_err(StdoutError)?;
            return Ok(());
        }
        _ => {}
    }
    if cli.command.is_none() {
        check_player_arguments(&cli.paths)?;
    }
    let config_named = cli.config.is_some();
    let paths = Paths::resolve(cli.data_dir, cli.config)?;
    // `remote` drives a player that has read its config: a config half-way through an edit must
    // not keep a window manager's keys from it.
    let mut config = match cli.command {
        Some(Command::Remote { .. }) if !config_named || paths.config_file.exists() => Config::default(),
        _ => Config::load(&paths.config_file, config_named)?,
    };
    if let Some(audio) = cli.audio {
        config.playback.audio = audio.into();
    }
    let ctx = Context { paths, config };
    match cli.command {
        Some(Command::Scan { paths, full, json }) => {
            let reread = if full { Reread::All } else { Reread::Changed };
            scan::run(&ctx, &paths, reread, json)
        }
        Some(Command::Library { json }) => library::run(&ctx, json),
        Some(Command::Roots { action, json }) => roots::run(&ctx, action.as_ref(), json),
        Some(Command::Simulate {
            history,
            plays,
            seed,
            json,
        }) => simulate::run(&ctx, &history, plays as usize, seed, json),
        Some(Command::Eval { history, json, seeds }) => eval::eval(&history, json, seeds),
        Some(Command::Train { json, force }) => train::train(&ctx, json, force),
        Some(Command::Recommend { n, json }) => recommend::recommend(&ctx, usize::from(n), json),
        Some(Command::Play {
            json,
            autoplay,
            playlist,
            radio_track,
            radio_artist,
            idle,
            paths,
        }) => {
            let start = match (playlist, radio_track, radio_artist) {
                (Some(name), _, _) => Start::Tracks(playlist::playable_paths(&ctx, &name)?),
                (_, Some(path), _) => Start::RadioTrack(path),
                (_, _, Some(artist)) => Start::RadioArtist(artist),
                _ => Start::Tracks(paths),
            };
            crate::headless::run(&ctx, start, json, autoplay, idle)
        }
        Some(Command::Playlist { command }) => playlist::run(&ctx, &command),
        Some(Command::Remote { words }) => remote::run(&ctx, &words),
        Some(Command::History { json, limit }) => history::run(&ctx, json, limit),
        Some(Command::Stats { json }) => stats::run(&ctx, json),
        Some(Command::Export {
            format,
            out,
            since,
            until,
        }) => export::export(&ctx, format, file_or_stdout(&out), since.as_deref(), until.as_deref()),
        Some(Command::Recap {
            out,
            json,
            since,
            until,
        }) => recap::run(&ctx, file_or_stdout(&out), json, since.as_deref(), until.as_deref()),
        Some(Command::Import { source }) => import::import(&ctx, &source),
        Some(Command::Like { paths }) => marks::run(&ctx, &paths, Mark::Like, true),
        Some(Command::Unlike { paths }) => marks::run(&ctx, &paths, Mark::Like, false),
        Some(Command::Ban { paths }) => marks::run(&ctx, &paths, Mark::Ban, true),
        Some(Command::Unban { paths }) => marks::run(&ctx, &paths, Mark::Ban, false),
        Some(Command::Lyrics { path }) => lyrics::run(&ctx, &path),
        Some(Command::Config { .. } | Command::Completions { .. } | Command::Man { .. }) => Ok(()),
        None => crate::tui::run(&ctx, cli.paths),
    }
}

/// Makes a listing piped into `head` end quietly when the pipe closes, as other Unix tools do,
/// instead of a panic on the failed write. The players keep SIGPIPE ignored: a remote client
/// that goes away must not end the music.
fn end_quietly_on_a_closed_pipe() {
    // SAFETY: setting a signal's disposition to its default has no preconditions, and this runs
    // before any thread of this command starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Refuses, before anything is opened, a player run that cannot work: a word that is neither a
/// command nor a folder (with the closest command named), or no terminal to draw on.
fn check_player_arguments(paths: &[PathBuf]) -> anyhow::Result<()> {
    for path in paths {
        if !path.exists() {
            let word = path.to_string_lossy();
            let suggestion = closest_command(&word)
                .map(|c| format!(" (did you mean `skipless {c}`?)"))
                .unwrap_or_default();
            anyhow::bail!("no such command or folder: {word}{suggestion}");
        }
    }
    // A terminal that says it can draw nothing (`TERM=dumb`, as editors' shells and some CI
    // runners set, or no TERM) would show the escape codes as text.
    let term = std::env::var("TERM").unwrap_or_default();
    if term.is_empty() || term == "dumb" {
        anyhow::bail!(
            "the player needs a terminal that can draw a screen (TERM is {}); to play without one, use `skipless play PATH...`",
            if term.is_empty() { "not set" } else { "dumb" }
        );
    }
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the player needs a terminal; to play without one, use `skipless play PATH...` (see `skipless play --help`)"
        );
    }
    Ok(())
}

fn without_help_commands(command: clap::Command) -> clap::Command {
    command
        .disable_help_subcommand(true)
        .mut_subcommands(without_help_commands)
}

/// The subcommand most like `word`, if one is close enough to be a likely typo.
fn closest_command(word: &str) -> Option<String> {
    if Path::new(word).components().count() > 1 {
        return None;
    }
    let command = Cli::command();
    crate::fmt::closest(word, command.get_subcommands().map(|c| c.get_name())).map(str::to_owned)
}

/// A progress bar on stderr when it is a terminal, hidden otherwise, drawn first with its
/// style, message and `position` all set (set one by one, a frame could show them half set).
fn progress_bar(
    style: indicatif::ProgressStyle,
    message: impl Into<std::borrow::Cow<'static, str>>,
    position: u64,
    len: u64,
) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    indicatif::ProgressBar::new(len)
        .with_style(style)
        .with_message(message)
        .with_position(position)
}

/// A bar of work whose size is known, in 80 columns.
fn bar_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{msg:>8} [{bar:30}] {pos}/{len} (about {eta} left)")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Progress of work in two phases, each drawn whole from the start: a count while the total is
/// not known (a scan's walk, an import's reading), then a bar over a known total (the tags read,
/// the plays placed); a count again when a next part starts with one (an import's next file).
struct PhasedBar {
    counting: &'static str,
    barred: &'static str,
    /// Whether the bar is on, and the bar or the count drawn.
    drawn: std::sync::Mutex<(bool, indicatif::ProgressBar)>,
}

impl PhasedBar {
    fn new(counting: &'static str, barred: &'static str) -> Self {
        Self {
            counting,
            barred,
            drawn: std::sync::Mutex::new((false, progress_bar(count_style(), counting, 0, 0))),
        }
    }

    fn drawn(&self) -> std::sync::MutexGuard<'_, (bool, indicatif::ProgressBar)> {
        self.drawn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn count(&self, found: u64) {
        let mut drawn = self.drawn();
        let (barred, bar) = &mut *drawn;
        if std::mem::replace(barred, false) {
            bar.finish_and_clear();
            *bar = progress_bar(count_style(), self.counting, found, 0);
        }
        bar.set_position(found);
    }

    fn advance(&self, done: u64, total: u64) {
        let mut drawn = self.drawn();
        let (barred, bar) = &mut *drawn;
        if !std::mem::replace(barred, true) {
            bar.finish_and_clear();
            *bar = progress_bar(bar_style(), self.barred, done, total);
        }
        bar.set_length(total);
        bar.set_position(done);
    }

    fn finish(&self) {
        self.drawn().1.finish_and_clear();
    }
}

/// A count of what is found so far, while its total is not known.
fn count_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{msg:>8} {spinner} {pos} found")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
}

/// Hands the first termination signal from now on (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT) to `then`,
/// on a thread of its own: a long command says what an interrupt leaves behind. A second one
/// ends the process at once, whatever `then` is waiting for.
fn on_interrupt(then: impl FnOnce(i32) + Send + 'static) -> anyhow::Result<()> {
    let signals = crate::app::termination_signals()?;
    std::thread::Builder::new().name("interrupt".into()).spawn(move || {
        let Ok(signal) = signals.recv() else { return };
        let _ = std::thread::Builder::new().name("interrupt".into()).spawn(move || {
            if let Ok(signal) = signals.recv() {
                say_interrupted("interrupted again: ended at once");
                std::process::exit(128 + signal);
            }
        });
        then(signal);
    })?;
    Ok(())
}

/// Checks `path` as the `--out` file of `what` ([`Context::check_output`]), and from now on
/// answers Ctrl-C (or SIGTERM, SIGHUP) by removing the file being written, so that an interrupt
/// leaves no half-written file beside `path` and `path` as it was, and says so.
fn claim_out_file(ctx: &Context, what: &'static str, path: &Path) -> anyhow::Result<()> {
    ctx.check_output(path)?;
    let existed = path.exists();
    let shown = path.display().to_string();
    on_interrupt(move |signal| {
        let said = match (crate::atomic_file::remove_unfinished(), existed) {
            (true, true) => format!("{what} interrupted: {shown} was left as it was"),
            (true, false) => format!("{what} interrupted: nothing was written to {shown}"),
            (false, _) => format!("{what} interrupted"),
        };
        say_interrupted(&said);
        std::process::exit(128 + signal);
    })
}

/// Says `what` an interrupt leaves on standard error, over a progress bar's line (not after
/// it) when that is a terminal.
fn say_interrupted(what: &str) {
    let clear = if std::io::stderr().is_terminal() {
        "\r\x1b[2K"
    } else {
        ""
    };
    eprintln!("{clear}skipless: {what}");
}

/// Whether `path` is `-`, which stands for standard input or output where a file is asked
/// for, as tools take it.
pub(crate) fn is_dash(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// An `--out` file, or `None` for stdout: without the option, or given `-`.
pub(crate) fn file_or_stdout(out: &Option<PathBuf>) -> Option<&Path> {
    out.as_deref().filter(|path| !is_dash(path))
}

/// Opens a file or folder named on the command line, so that one that cannot be opened is said
/// before anything is made for it (a data dir at a mistyped `--data-dir` would be left holding
/// an empty log).
pub(crate) fn check_openable(path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path)
        .map(drop)
        .with_context(|| format!("{}: cannot open", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_names_the_closest_command() {
        assert_eq!(closest_command("scna").as_deref(), Some("scan"));
        assert_eq!(closest_command("histroy").as_deref(), Some("history"));
        assert_eq!(closest_command("frobnicate"), None);
        assert_eq!(closest_command("some/folder"), None);
    }

    #[test]
    fn an_error_line_names_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("{path}: cannot read: {source}")]
        struct Unreadable {
            path: &'static str,
            source: std::io::Error,
        }
        let missing = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let named = anyhow::Error::new(Unreadable {
            path: "a.json",
            source: missing(),
        });
        assert_eq!(error_line(&named), "a.json: cannot read: No such file");
        let wrapped = anyhow::Error::new(missing()).context("importing a.json");
        assert_eq!(error_line(&wrapped), "importing a.json: No such file");
        let broken = anyhow::anyhow!("/m/new\nline.ogg: a path with a line break cannot be sent");
        assert_eq!(
            error_line(&broken),
            "/m/new\\nline.ogg: a path with a line break cannot be sent"
        );
        let titled = anyhow::anyhow!("/m/\u{1b}]0;x\u{7}.ogg: cannot open");
        assert_eq!(error_line(&titled), "/m/\u{fffd}]0;x\u{fffd}.ogg: cannot open");
    }
}
