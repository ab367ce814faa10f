//! Runs the real `skipless` binary over mutated files: one scan of them all, then each one played
//! headless (null output, high speed) followed by a known-good track, under a time limit.
//!
//! Counted: crashes (killed by a signal, or an unexpected exit status), hangs (the time limit
//! hit), panics (a "panicked" line on stderr or in `skipless.log`), bad files without a reason
//! (scan failures or `error` plays with an empty reason), and plays after which playback did not
//! go on with the next track.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::mutations::Mutant;

/// How to run the binary.
#[derive(Debug, Clone)]
pub struct Options {
    pub bin: PathBuf,
    /// Data dir for the database (created; should be empty).
    pub data_dir: PathBuf,
    /// A good track played after each mutated one.
    pub sentinel: PathBuf,
    pub speed: f64,
    /// Per mutated file (a batch gets this times its size).
    pub time_limit: Duration,
    /// Mutated files per `skipless play` process.
    pub batch: usize,
    /// Print a line per problem as it is found.
    pub verbose: bool,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub tried: usize,
    pub scan_failed: usize,
    pub played_to_end: usize,
    pub play_errors: usize,
    /// Files the player would not queue, saying they could not be read at their scan.
    pub refused: usize,
    pub crashes: Vec<String>,
    pub hangs: Vec<String>,
    pub panics: Vec<String>,
    /// Bad files logged without a reason, plays not logged, or plays not followed by the next.
    pub not_logged: Vec<String>,
    pub did_not_continue: Vec<String>,
    /// The most common error reasons (first words), for the summary.
    pub reasons: HashMap<String, usize>,
    /// Per kind of damage: files played to their end, files ended as `error`.
    pub by_kind: std::collections::BTreeMap<&'static str, (usize, usize)>,
    pub slowest: (Duration, String),
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.crashes.is_empty()
            && self.hangs.is_empty()
            && self.panics.is_empty()
            && self.not_logged.is_empty()
            && self.did_not_continue.is_empty()
    }

    pub fn summary(&self) -> String {
        let mut reasons: Vec<_> = self.reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = reasons.iter().take(12).map(|(r, n)| format!("  {n:>5}  {r}")).collect();
        let list = |name: &str, v: &[String]| {
            if v.is_empty() {
                String::new()
            } else {
                format!("\n{name}:\n  {}", v.join("\n  "))
            }
        };
        format!(
            "files tried: {}\nscan: {} failed with a reason\nplay: {} refused as unreadable, {} played to their end, {} ended as `error` with a reason\n\
             crashes: {}\nhangs: {}\npanics: {}\nnot logged / no reason: {}\nplayback did not go on: {}\n\
             slowest file: {:.1} s ({})\nper kind (played to the end, error):\n{}\ncommon error reasons:\n{}{}{}{}{}{}",
            self.tried,
            self.scan_failed,
            self.refused,
            self.played_to_end,
            self.play_errors,
            self.crashes.len(),
            self.hangs.len(),
            self.panics.len(),
            self.not_logged.len(),
            self.did_not_continue.len(),
            self.slowest.0.as_secs_f64(),
            self.slowest.1,
            self.by_kind
                .iter()
                .map(|(k, (f, e))| format!("  {k:<24} {f:>4} {e:>4}"))
                .collect::<Vec<_>>()
                .join("\n"),
            top.join("\n"),
            list("crashes", &self.crashes),
            list("hangs", &self.hangs),
            list("panics", &self.panics),
            list("not logged", &self.not_logged),
            list("did not go on", &self.did_not_continue),
        )
    }

    fn note(&mut self, verbose: bool, which: fn(&mut Report) -> &mut Vec<String>, what: String) {
        if verbose {
            eprintln!("{what}");
        }
        which(self).push(what);
    }
}

/// One play as the player's events told it: path, end reason, play id, error messages.
type Play = (String, Option<String>, Option<i64>, Vec<String>);

struct Ran {
    /// `None` when the time limit was hit (the process was killed).
    status: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `cmd` with a time limit, killing it (SIGKILL) when the limit is hit.
fn run_limited(mut cmd: Command, limit: Duration) -> std::io::Result<Ran> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Ran {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        took: start.elapsed(),
    })
}

fn base(opts: &Options) -> Command {
    let mut cmd = Command::new(&opts.bin);
    cmd.arg("--data-dir")
        .arg(&opts.data_dir)
        .arg("--config")
        .arg("/dev/null")
        .args(["--audio", "null"])
        .env("SKIPLESS_NULL_SPEED", opts.speed.to_string())
        .env_remove("SKIPLESS_DATA_DIR");
    cmd
}

/// Whether a run ended as the manual says one ends: done (0), or done but for the files it
/// could not read (1, its last line saying "not all was" scanned or played).
fn ended_normally(status: std::process::ExitStatus, stderr: &str) -> bool {
    status.success()
        || status.code() == Some(1)
            && stderr
                .lines()
                .last()
                .is_some_and(|line| line.starts_with("skipless: error: not all was "))
}

fn status_text(status: std::process::ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (_, Some(sig)) => format!("killed by signal {sig}"),
        (Some(code), _) => format!("exit status {code}"),
        _ => "unknown exit".into(),
    }
}

fn panic_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains("panicked")).collect()
}

fn first_words(message: &str) -> String {
    // "…/m0042-truncated.flac: cannot decode: …" -> the reason without the path.
    let reason = message.rsplit_once(".flac: ").or_else(|| {
        [".mp3: ", ".ogg: ", ".opus: ", ".m4a: ", ".wav: "]
            .iter()
            .find_map(|ext| message.rsplit_once(ext))
    });
    let reason = reason.map_or(message, |(_, r)| r);
    reason.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
}

/// Scans `dir` (holding exactly `mutants`) and plays every mutant, as described in the module.
pub fn run(opts: &Options, dir: &Path, mutants: &[Mutant]) -> std::io::Result<Report> {
    std::fs::create_dir_all(&opts.data_dir)?;
    let mut report = Report {
        tried: mutants.len(),
        ..Default::default()
    };
    let v = opts.verbose;

    // One scan of every file: each bad file is recorded as failed with its reason.
    let mut scan = base(opts);
    scan.args(["scan", "--json"]).arg(dir);
    let limit = opts.time_limit * (mutants.len() as u32 / 4).max(4);
    let ran = run_limited(scan, limit)?;
    match ran.status {
        None => report.note(
            v,
            |r| &mut r.hangs,
            format!("scan of {}: over {limit:?}", dir.display()),
        ),
        Some(s) if !ended_normally(s, &ran.stderr) => report.note(
            v,
            |r| &mut r.crashes,
            format!("scan: {}: {}", status_text(s), ran.stderr.trim()),
        ),
        Some(_) => {}
    }
    for line in panic_lines(&ran.stderr) {
        report.note(v, |r| &mut r.panics, format!("scan: {line}"));
    }
    let failed_lines: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("skipless: cannot read "))
        .collect();
    if let Ok(summary) = serde_json::from_str::<serde_json::Value>(ran.stdout.trim()) {
        report.scan_failed = summary["failed"].as_u64().unwrap_or(0) as usize;
        if summary["scanned"].as_u64() != Some(mutants.len() as u64) {
            report.note(
                v,
                |r| &mut r.not_logged,
                format!("scan: {} files scanned of {}", summary["scanned"], mutants.len()),
            );
        }
        if failed_lines.len() != report.scan_failed {
            report.note(
                v,
                |r| &mut r.not_logged,
                format!(
                    "scan: {} failed, {} reasons printed",
                    report.scan_failed,
                    failed_lines.len()
                ),
            );
        }
    }
    for line in &failed_lines {
        // "skipless: cannot read PATH: REASON"
        let reason = line.rsplit_once(": ").map(|(_, r)| r.trim()).unwrap_or("");
        if reason.is_empty() {
            report.note(
                v,
                |r| &mut r.not_logged,
                format!("scan failure without a reason: {line}"),
            );
        }
    }

    // The sentinel is indexed once, so each play only checks it.
    let sentinel = std::fs::canonicalize(&opts.sentinel)?;
    let ran = run_limited(
        {
            let mut c = base(opts);
            c.args(["scan", "--json"]).arg(&sentinel);
            c
        },
        Duration::from_secs(60),
    )?;
    if !ran.status.is_some_and(|s| s.success()) {
        return Err(std::io::Error::other(format!(
            "the good track {} does not scan: {}",
            sentinel.display(),
            ran.stderr
        )));
    }

    let mut error_plays: Vec<i64> = Vec::new();
    for batch in mutants.chunks(opts.batch.max(1)) {
        let paths: Vec<PathBuf> = batch
            .iter()
            .map(|m| std::fs::canonicalize(&m.path).unwrap_or_else(|_| m.path.clone()))
            .collect();
        let mut cmd = base(opts);
        cmd.args(["play", "--json"]);
        for p in &paths {
            cmd.arg(p).arg(&sentinel);
        }
        let limit = opts.time_limit * batch.len() as u32;
        let ran = run_limited(cmd, limit)?;
        let events: Vec<serde_json::Value> = ran
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let last_started = events
            .iter()
            .rev()
            .find(|e| e["event"] == "started")
            .and_then(|e| e["path"].as_str())
            .map(|p| name(Path::new(p)))
            .unwrap_or_else(|| "(before the first track)".into());
        let per_file = ran.took / batch.len() as u32;
        if per_file > report.slowest.0 {
            report.slowest = (per_file, name(&paths[0]));
        }
        match ran.status {
            None => report.note(
                v,
                |r| &mut r.hangs,
                format!("{last_started}: time limit of {limit:?} hit"),
            ),
            Some(s) if !ended_normally(s, &ran.stderr) => report.note(
                v,
                |r| &mut r.crashes,
                format!(
                    "{last_started}: {} ({})",
                    status_text(s),
                    ran.stderr.lines().last().unwrap_or("")
                ),
            ),
            Some(_) => {}
        }
        for line in panic_lines(&ran.stderr) {
            report.note(v, |r| &mut r.panics, format!("{last_started}: {line}"));
        }
        if ran.status.is_none_or(|s| !ended_normally(s, &ran.stderr)) {
            continue;
        }

        // Walk the events: each mutated file, then the sentinel.
        let mut plays: Vec<Play> = Vec::new();
        for e in &events {
            match e["event"].as_str() {
                Some("started") => plays.push((e["path"].as_str().unwrap_or("").to_owned(), None, None, Vec::new())),
                Some("ended") => {
                    if let Some(p) = plays.last_mut() {
                        p.1 = e["end_reason"].as_str().map(str::to_owned);
                        p.2 = e["play_id"].as_i64();
                    }
                }
                Some("error") => {
                    let message = e["message"].as_str().unwrap_or("").to_owned();
                    if let Some(p) = plays.last_mut() {
                        p.3.push(message);
                    }
                }
                _ => {}
            }
        }
        // Each mutated file starts a play unless it is refused, and the sentinel after it plays.
        let mut next = 0;
        for (path, mutant) in paths.iter().zip(batch) {
            let file = format!("{} (from {})", name(path), mutant.source);
            let refusal = format!("cannot read {}: ", path.display());
            if ran
                .stderr
                .lines()
                .any(|l| l.contains(&refusal) && l.ends_with("; left out"))
            {
                report.refused += 1;
            } else {
                let Some(play) = plays.get(next) else {
                    report.note(v, |r| &mut r.not_logged, format!("{file}: never started"));
                    break;
                };
                next += 1;
                if Path::new(&play.0) != path.as_path() {
                    report.note(
                        v,
                        |r| &mut r.not_logged,
                        format!("{file}: play {} was {}", next - 1, play.0),
                    );
                    break;
                }
                match play.1.as_deref() {
                    Some("finished") => {
                        report.played_to_end += 1;
                        report.by_kind.entry(mutant.kind.name()).or_default().0 += 1;
                    }
                    Some("error") => {
                        report.play_errors += 1;
                        report.by_kind.entry(mutant.kind.name()).or_default().1 += 1;
                        let message = play.3.iter().find(|m| !m.trim().is_empty());
                        match message {
                            Some(m) => *report.reasons.entry(first_words(m)).or_default() += 1,
                            None => report.note(v, |r| &mut r.not_logged, format!("{file}: error without a reason")),
                        }
                        if let Some(id) = play.2 {
                            error_plays.push(id);
                        }
                    }
                    other => report.note(
                        v,
                        |r| &mut r.not_logged,
                        format!("{file}: ended as {other:?}, expected finished or error"),
                    ),
                }
            }
            match plays.get(next) {
                Some((p, Some(reason), _, _)) if Path::new(p) == sentinel && reason == "finished" => {}
                other => report.note(
                    v,
                    |r| &mut r.did_not_continue,
                    format!("{file}: the next track did not play to its end: {other:?}"),
                ),
            }
            next += 1;
        }
    }

    // The log: every `error` play carries its reason.
    let db = opts.data_dir.join("skipless.db");
    if let Ok(conn) = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) {
        let mut query = conn
            .prepare("SELECT coalesce(error, '') FROM plays WHERE id = ?1")
            .map_err(std::io::Error::other)?;
        for id in error_plays {
            let error: String = query.query_row([id], |r| r.get(0)).unwrap_or_default();
            if error.trim().is_empty() {
                report.note(
                    v,
                    |r| &mut r.not_logged,
                    format!("play {id}: `error` row without a reason"),
                );
            }
        }
        let unreasoned: i64 = conn
            .query_row(
                "SELECT count(*) FROM tracks WHERE status = 'failed' AND coalesce(error, '') = ''",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        if unreasoned > 0 {
            report.note(
                v,
                |r| &mut r.not_logged,
                format!("{unreasoned} failed tracks without a reason in the index"),
            );
        }
    }
    let log = opts.data_dir.join("skipless.log");
    if let Ok(text) = std::fs::read_to_string(&log) {
        for line in panic_lines(&text) {
            report.note(v, |r| &mut r.panics, format!("skipless.log: {line}"));
        }
    }
    Ok(report)
}
