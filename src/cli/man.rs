//! The manual pages ([`render`], [`write_all`]): clap's page of each command, and for the
//! player's own page, skipless(1), what a player's manual holds beyond its options: the keys,
//! the files and where the configuration is described.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use roff::{bold, italic, roman, Roff};

use crate::keymap::KeyMap;

/// Writes the manual page of `command` to `out`: clap's page, for the top command the sections
/// of [`player_sections`], and every page's EXIT STATUS.
pub(super) fn render(command: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    // A command's page names the program and its version in the footer, not the command's name.
    clap_mangen::Man::new(command.clone())
        .source(concat!("skipless ", env!("CARGO_PKG_VERSION")))
        .render(out)?;
    if command.get_name() == "skipless" {
        out.write_all(player_sections().render().as_bytes())?;
    }
    out.write_all(exit_status().render().as_bytes())
}

fn exit_status() -> Roff {
    let mut page = Roff::new();
    page.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "done."),
        (
            "1",
            "not done, or not all of it: one line on standard error per problem says what and where.",
        ),
        (
            "2",
            "the command line is not understood (an unknown option or command, a missing or malformed \
             argument, a word `remote` or `man` does not know); the usage, or the words known, is printed.",
        ),
        (
            "128+N",
            "an import, train or simulate ended by signal N (Ctrl-C: 130) says on standard error what it \
             leaves; the player quits on Ctrl-C, SIGTERM and SIGHUP as on q, with 0.",
        ),
    ] {
        page.control("TP", [] as [&str; 0]);
        page.text([bold(code)]);
        page.text([roman(meaning)]);
    }
    page
}

/// Writes the manual page of `command` and of each of its commands into `dir`; returns how many.
pub(super) fn write_all(command: &clap::Command, dir: &Path) -> anyhow::Result<usize> {
    let name = command.get_display_name().unwrap_or(command.get_name());
    let file = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    render(command, &mut page)?;
    std::fs::write(&file, page).with_context(|| format!("{}: cannot write", file.display()))?;
    let mut written = 1;
    for sub in command.get_subcommands() {
        written += write_all(sub, dir)?;
    }
    Ok(written)
}

/// KEYS (the default key map, as the `?` screen lists it), FILES, CONFIGURATION and SEE ALSO.
fn player_sections() -> Roff {
    let mut page = Roff::new();
    page.control("SH", ["KEYS"]);
    page.text([roman(
        "The player's default keys; each action can be bound to other keys in the [keys] table of the \
         configuration file, under the name given in brackets. ? shows the same list in the player.",
    )]);
    for (keys, description, name) in KeyMap::default().help() {
        page.control("TP", [] as [&str; 0]);
        page.text([bold(if keys.is_empty() { "(unbound)".to_owned() } else { keys })]);
        page.text([roman(format!("{description} ")), italic(format!("[{name}]"))]);
    }
    page.control("SH", ["FILES"]);
    for (path, what) in [
        (
            "$XDG_CONFIG_HOME/skipless/config.toml",
            "the configuration (skipless config --path prints where it is read from)",
        ),
        (
            "$XDG_DATA_HOME/skipless/skipless.db",
            "the library index and the listening log (SQLite); --data-dir DIR puts it and the files below in DIR",
        ),
        ("$XDG_DATA_HOME/skipless/models/", "the trained recommendation model"),
        (
            "$XDG_DATA_HOME/skipless/state.json",
            "the queue, volume and modes kept between runs",
        ),
        (
            "$XDG_DATA_HOME/skipless/skipless.log",
            "what the player reports beside the screen (MPRIS, retraining, errors of background work)",
        ),
        (
            "$XDG_CACHE_HOME/skipless/",
            "cover pictures for the desktop (DIR/cache with --data-dir)",
        ),
        (
            "$XDG_RUNTIME_DIR/skipless/",
            "the socket of a running player, which skipless remote talks to",
        ),
    ] {
        page.control("TP", [] as [&str; 0]);
        page.text([bold(path)]);
        page.text([roman(what)]);
    }
    page.control("SH", ["ENVIRONMENT"]);
    for (name, what) in [
        (
            "NO_COLOR",
            "set and not empty: no colours (bold and reverse video instead), and no album art in half blocks",
        ),
        (
            "TERM",
            "dumb or unset: the player refuses to draw (skipless play plays without a screen); a name ending \
             in -mono or -m: no colours, as under NO_COLOR",
        ),
        (
            "COLORTERM",
            "truecolor or 24bit: theme colours are sent as written; otherwise as the nearest of the 256",
        ),
        ("SKIPLESS_DATA_DIR", "the data folder, as --data-dir gives it"),
        (
            "SKIPLESS_NULL_SPEED",
            "with --audio null, how many times faster than real time the silent output runs (tests use it)",
        ),
        (
            "SKIPLESS_TRACE",
            "set: skipless eval prints each epoch's validation NDCG@10 on standard error",
        ),
        (
            "XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_CACHE_HOME, XDG_RUNTIME_DIR",
            "where the files above are",
        ),
        (
            "RAYON_NUM_THREADS, CANDLE_NUM_THREADS",
            "the threads skipless train and eval run on (by default every core for the work split by rows, one \
             for each matrix product); the player's background retrain keeps to one",
        ),
        ("TZ", "the time zone days and hours are counted in (recap, stats)"),
        (
            "TERM_PROGRAM, KONSOLE_VERSION, VTE_VERSION, XTERM_VERSION, TMUX, STY, ZELLIJ",
            "with TERM, which picture protocol album art is drawn in, or half blocks",
        ),
        ("DBUS_SESSION_BUS_ADDRESS", "the session bus MPRIS answers on"),
    ] {
        page.control("TP", [] as [&str; 0]);
        page.text([bold(name)]);
        page.text([roman(what)]);
    }
    page.control("SH", ["CONFIGURATION"]);
    page.text([roman(
        "skipless config --default prints the configuration with every setting at its default and what it \
         does; a file needs only the settings it changes. A setting it does not know is refused with its line.",
    )]);
    page.control("SH", ["SEE ALSO"]);
    page.text([roman(
        "skipless-play(1), skipless-remote(1), skipless-import(1), skipless-export(1), skipless-train(1), \
         skipless-recommend(1), skipless-config(1)",
    )]);
    page
}
