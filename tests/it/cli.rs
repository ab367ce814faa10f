//! The front door: words that are not commands, a player run without a terminal, and what the
//! program says about itself (the default config, shell completions, the manual page).

use crate::common::{skipless, stdout_of};

/// Runs `skipless ARGS` expected to fail and returns its stderr.
fn refusal(args: &[&str]) -> String {
    let data = tempfile::tempdir().unwrap();
    let output = skipless(data.path()).args(args).output().unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn a_word_that_is_no_command_or_folder_is_named_with_the_closest_command() {
    let stderr = refusal(&["frobnicate"]);
    assert_eq!(stderr.trim(), "skipless: error: no such command or folder: frobnicate");
    let stderr = refusal(&["scna"]);
    assert_eq!(
        stderr.trim(),
        "skipless: error: no such command or folder: scna (did you mean `skipless scan`?)"
    );
}

/// A folder where a file is wanted, and a file where a folder is wanted, are named as such.
#[test]
fn a_folder_given_for_a_file_and_a_file_for_a_folder_are_named_in_one_line() {
    let corpus = crate::common::corpus();
    let folder = corpus.display();
    assert_eq!(
        refusal(&["like", &folder.to_string()]).trim(),
        format!("skipless: error: {folder}: a folder, not a track")
    );
    assert_eq!(
        refusal(&["import", "listenbrainz", &folder.to_string()]).trim(),
        format!(
            "skipless: error: {folder}: cannot read: a folder without ListenBrainz listens (listens/<year>/<month>.jsonl)"
        )
    );
    let file = corpus.join("sad.ogg");
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"))
        .arg("--data-dir")
        .arg(&file)
        .arg("stats")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        format!(
            "skipless: error: {}: not a folder; the data directory must be one",
            file.display()
        )
    );
}

#[test]
fn the_player_without_a_terminal_says_it_needs_one_and_points_at_play() {
    // The test's stdout is a pipe, as in a cron job or `skipless | less`.
    let stderr = refusal(&[]);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("needs a terminal") && stderr.contains("skipless play"),
        "{stderr}"
    );
    assert!(!stderr.contains("os error"), "{stderr}");
    // A terminal that can draw nothing is said to be one, before any escape code reaches it.
    let data = tempfile::tempdir().unwrap();
    let output = skipless(data.path()).env("TERM", "dumb").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(
        stderr.trim(),
        "skipless: error: the player needs a terminal that can draw a screen (TERM is dumb); to play without one, use `skipless play PATH...`"
    );
}

#[test]
fn remote_refuses_a_player_option_after_its_command() {
    let stderr = refusal(&["remote", "status", "--data-dir", "/elsewhere"]);
    assert_eq!(
        stderr.trim(),
        "skipless: error: remote: --data-dir must come before the command, e.g. skipless --data-dir DIR remote status"
    );
}

#[test]
fn config_default_prints_the_shipped_config() {
    let data = tempfile::tempdir().unwrap();
    let printed = stdout_of(skipless(data.path()).args(["config", "--default"]));
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/config.toml")).unwrap();
    assert_eq!(printed, shipped);
    // And the shipped file is the defaults (also checked in `config`'s unit tests).
    assert_eq!(
        skipless::config::Config::parse(&printed, std::path::Path::new("config.toml")).unwrap(),
        skipless::config::Config::default()
    );
    // Where the file is read from: the one named, else the config directory's.
    let named = stdout_of(skipless(data.path()).args(["config", "--path"]));
    assert_eq!(named.trim(), crate::common::config_file(data.path()).to_str().unwrap());
    let config_home = data.path().join("xdg");
    let found = stdout_of(
        assert_cmd::Command::cargo_bin("skipless")
            .unwrap()
            .args(["config", "--path"])
            .env("XDG_CONFIG_HOME", &config_home),
    );
    assert_eq!(found.trim(), config_home.join("skipless/config.toml").to_str().unwrap());
    assert!(refusal(&["config"]).contains("--default"));
}

#[test]
fn completions_for_each_shell_name_every_subcommand() {
    let data = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(skipless(data.path()).args(["completions", shell]));
        for command in ["scan", "play", "history", "export", "import", "completions", "man"] {
            assert!(script.contains(command), "{shell} completions lack {command}");
        }
    }
    let stderr = refusal(&["completions", "tcsh"]);
    assert!(stderr.contains("tcsh"), "{stderr}");
}

#[test]
fn man_prints_a_manual_page() {
    let data = tempfile::tempdir().unwrap();
    let page = stdout_of(skipless(data.path()).arg("man"));
    assert!(page.contains(".TH skipless"), "{}", &page[..200.min(page.len())]);
    assert!(page.contains("learns from your skips"));
    // Every page the main one refers to (skipless-scan(1), ...) is there.
    for command in ["scan", "roots", "remote", "export"] {
        assert!(page.contains(&format!("skipless\\-{command}(1)")), "{command}");
        let sub = stdout_of(skipless(data.path()).args(["man", command]));
        assert!(
            sub.contains(&format!(
                ".TH skipless-{command} 1  \"skipless {}\"",
                env!("CARGO_PKG_VERSION")
            )),
            "{sub}"
        );
        assert!(sub.contains(".SH \"EXIT STATUS\""), "{sub}");
        // Each command answers --version as the program does.
        let version = stdout_of(skipless(data.path()).args([command, "--version"]));
        assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    }
    // What a script reads of the exit status: a refusal to parse is 2, a failure 1.
    let usage = skipless(data.path())
        .args(["scan", "--no-such-option"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let failure = skipless(data.path())
        .args(["lyrics", "/no/such/file.ogg"])
        .output()
        .unwrap();
    assert_eq!(failure.status.code(), Some(1));
    // The player's page holds what a player's manual does: its keys (with their names in the
    // config's [keys]), its files and where its settings are described.
    for section in [
        ".SH KEYS",
        ".SH FILES",
        ".SH ENVIRONMENT",
        ".SH CONFIGURATION",
        ".SH \"SEE ALSO\"",
        ".SH \"EXIT STATUS\"",
    ] {
        assert!(page.contains(section), "{section}");
    }
    for (key, name) in [("n", "next"), ("q, ctrl\\-c", "quit"), ("?", "help")] {
        assert!(page.contains(&format!("\\fB{key}\\fR\n")), "{key}");
        assert!(page.contains(&format!("\\fI[{name}]\\fR")), "{name}");
    }
    assert!(page.contains("skipless.db"));
    let see_also = page.split(".SH \"SEE ALSO\"").nth(1).unwrap();
    for named in see_also.split([',', ' ', '\n']).filter(|t| t.ends_with("(1)")) {
        let command = named.replace("\\-", "-");
        let words: Vec<&str> = command.trim_end_matches("(1)").split('-').skip(1).collect();
        let sub = stdout_of(skipless(data.path()).arg("man").args(&words));
        assert!(
            sub.contains(&format!(".TH {} 1", command.trim_end_matches("(1)"))),
            "{named}"
        );
    }
    let nested = stdout_of(skipless(data.path()).args(["man", "import", "spotify"]));
    assert!(nested.contains(".TH skipless-import-spotify 1"), "{nested}");
    let stderr = refusal(&["man", "dance"]);
    assert!(stderr.contains("`skipless dance` is no command"), "{stderr}");
    // A word no command has is a command line not understood, as clap's own are.
    let unknown = skipless(data.path()).args(["man", "dance"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    // Every page into a folder: the main one, each command's and each command's command.
    // The folder is made when it is not there.
    let pages = data.path().join("share/man/man1");
    let said = stdout_of(skipless(data.path()).arg("man").arg("--dir").arg(&pages));
    assert!(said.starts_with("wrote "), "{said}");
    for name in [
        "skipless.1",
        "skipless-scan.1",
        "skipless-import-spotify.1",
        "skipless-roots-add.1",
    ] {
        let page = std::fs::read_to_string(pages.join(name)).unwrap();
        assert!(
            page.contains(&format!(".TH {} 1", name.trim_end_matches(".1"))),
            "{name}"
        );
    }
    // Every page a page points at is there.
    for entry in std::fs::read_dir(&pages).unwrap() {
        let page = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for token in page.split_whitespace().filter(|t| t.ends_with("(1)")) {
            let named = token.replace("\\-", "-");
            let named = named.trim_end_matches("(1)");
            assert!(
                pages.join(format!("{named}.1")).exists(),
                "{named}(1) is named but not written"
            );
        }
    }
}

#[test]
fn output_piped_into_a_reader_that_is_gone_ends_quietly() {
    let data = tempfile::tempdir().unwrap();
    crate::common::stdout_of(
        crate::common::skipless(data.path())
            .args(["import", "spotify"])
            .arg(crate::common::histories().join("khushi")),
    );
    let bin = assert_cmd::cargo::cargo_bin("skipless");
    // The pipe's reader exits at once; the shell reports skipless's own status. It ends as a
    // Unix tool does on a closed pipe (killed by SIGPIPE, 141) or, when it was done first, 0:
    // never a panic (101) or an error line.
    let ends_quietly = |command: String| {
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{command} | true; exit ${{PIPESTATUS[0]}}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            matches!(output.status.code(), Some(0 | 141)) && stderr.is_empty(),
            "{command}: {:?} {stderr}",
            output.status
        );
    };
    ends_quietly(format!(
        "'{}' --data-dir '{}' --config /dev/null recap",
        bin.display(),
        data.path().display()
    ));
    // The commands that print before they open the data dir, too.
    for command in ["config --default", "completions bash", "man"] {
        ends_quietly(format!("'{}' {command}", bin.display()));
    }
}

#[test]
fn a_full_disk_under_stdout_is_one_line_not_a_panic() {
    if !std::path::Path::new("/dev/full").exists() {
        crate::common::skip_or_fail("this check writes to /dev/full, which this machine lacks");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    crate::common::stdout_of(
        crate::common::skipless(data.path())
            .args(["import", "spotify"])
            .arg(crate::common::histories().join("mica")),
    );
    for args in [
        &["config", "--default"][..],
        &["completions", "zsh"],
        &["man"],
        &["stats"],
        &["stats", "--json"],
        &["recap", "--json"],
        &["recommend"],
        &["roots"],
        &["playlist", "list"],
        &["export", "--format", "csv"],
        &["history"],
        &["history", "--json"],
    ] {
        let full = std::fs::File::options().write(true).open("/dev/full").unwrap();
        let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("skipless"))
            .arg("--data-dir")
            .arg(data.path())
            .args(["--config", "/dev/null"])
            .args(args)
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("No space left on device"), "{args:?}: {stderr}");
        if args[0] != "export" {
            assert!(stderr.contains("cannot write to stdout: "), "{args:?}: {stderr}");
        }
    }
    // A file named with --out is named when it cannot be written.
    let stderr = crate::common::stderr_of_failure(crate::common::skipless(data.path()).args([
        "export",
        "--format",
        "csv",
        "--out",
        "/dev/full",
    ]));
    assert_eq!(
        stderr.trim(),
        "skipless: error: /dev/full: cannot write the export: No space left on device (os error 28)"
    );
}

/// A mistyped `--data-dir` is said, not made: only the commands that bring data in start one.
#[test]
fn commands_that_read_or_change_data_refuse_a_data_dir_that_is_not_there() {
    let tmp = tempfile::tempdir().unwrap();
    let typo = tmp.path().join("typo");
    let sad = crate::common::corpus().join("sad.ogg");
    let sad = sad.to_str().unwrap();
    for args in [
        vec!["roots"],
        vec!["roots", "remove", "/x"],
        vec!["playlist", "list"],
        vec!["playlist", "export", "x"],
        vec!["playlist", "delete", "x"],
        vec!["playlist", "rename", "x", "y"],
        vec!["train"],
        vec!["like", sad],
        vec!["ban", sad],
    ] {
        let output = crate::common::skipless(&typo).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains("no skipless data here yet"), "{args:?}: {stderr}");
        assert!(!typo.join("skipless.db").exists(), "{args:?} made a database");
    }
    crate::common::skipless(&typo)
        .args(["roots", "add"])
        .arg(crate::common::corpus())
        .output()
        .unwrap();
    assert!(typo.join("skipless.db").exists());
}

/// Nothing to play is one line that says why, not a warning and then an error.
#[test]
fn play_with_nothing_playable_says_why_in_one_line() {
    for args in [
        &["--audio", "null", "play", "/nowhere/gone.ogg"][..],
        &["--audio", "null", "play", "--radio-track", "/nowhere/gone.ogg"][..],
    ] {
        let stderr = refusal(args);
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("/nowhere/gone.ogg: No such file or directory"),
            "{args:?}: {stderr}"
        );
    }
    let folder = crate::common::corpus();
    let stderr = refusal(&["--audio", "null", "play", "--radio-track", folder.to_str().unwrap()]);
    assert!(stderr.contains("a folder; a radio starts from one file"), "{stderr}");
}

/// `play`'s long help names every event its JSON stream can carry, as the player writes them.
#[test]
fn the_help_of_play_names_every_event_it_prints() {
    let help =
        crate::common::stdout_of(crate::common::skipless(tempfile::tempdir().unwrap().path()).args(["play", "--help"]));
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/headless.rs")).unwrap();
    let events: Vec<&str> = source
        .split("\"event\": \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(events.len() >= 10, "{events:?}");
    for event in events {
        assert!(
            help.contains(event),
            "{event} is not in `skipless play --help`:\n{help}"
        );
    }
}
