//! Headless playback for scripts and tests ([`run`], [`LineCommand`]): line commands on stdin,
//! one line per event on stdout, logged exactly as in the TUI; with `--autoplay`, recommended
//! tracks follow the given ones and the model retrains in the background, as in the TUI.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use crossbeam_channel::{never, select, Receiver};
use serde_json::json;

use crate::app::autoplay::Autoplay;
use crate::app::controller::{Controller, Outcome};
use crate::app::mpris_bridge::{self, Applied};
use crate::app::scan::scan_library;
use crate::app::workers::WorkerMsg;
use crate::app::Context;
use crate::db::tracks;
use crate::db::Database;
use crate::fmt::format_duration;
use crate::mpris::Mpris;
use crate::play::{ControlSource, PlaySource};
use crate::player::{Event, SeekTo};
use crate::track::Track;

/// One command read from stdin.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LineCommand {
    Next,
    Previous,
    Pause,
    Resume,
    Toggle,
    Seek(SeekTo),
    Volume(u8),
    Stop,
    Quit,
}

impl LineCommand {
    /// Parses `next`, `prev`, `pause`, `resume`, `toggle`, `seek +5`, `seek -5`, `seek 30`,
    /// `vol 50`, `stop`, `quit`.
    pub(crate) fn parse(line: &str) -> Result<Self, String> {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or_default();
        let arg = words.next();
        let seconds = |s: &str| -> Result<Duration, String> {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("not a number of seconds: {s}"))
        };
        match (verb, arg) {
            ("next" | "n", None) => Ok(Self::Next),
            ("prev" | "previous" | "p", None) => Ok(Self::Previous),
            ("pause", None) => Ok(Self::Pause),
            ("resume" | "play", None) => Ok(Self::Resume),
            ("toggle", None) => Ok(Self::Toggle),
            ("stop", None) => Ok(Self::Stop),
            ("quit" | "q", None) => Ok(Self::Quit),
            ("seek", Some(a)) if a.starts_with('+') => Ok(Self::Seek(SeekTo::Forward(seconds(&a[1..])?))),
            ("seek", Some(a)) if a.starts_with('-') => Ok(Self::Seek(SeekTo::Backward(seconds(&a[1..])?))),
            ("seek", Some(a)) => Ok(Self::Seek(SeekTo::Absolute(seconds(a)?))),
            ("vol" | "volume", Some(a)) => a
                .parse::<u8>()
                .ok()
                .filter(|v| *v <= 100)
                .map(Self::Volume)
                .ok_or_else(|| format!("volume 0-100: {a}")),
            _ => Err(format!("unknown command: {line}")),
        }
    }
}

/// `skipless play`: plays `paths` (scanning what is not indexed yet) until the queue ends or `quit`.
pub(crate) fn run(ctx: &Context, paths: &[PathBuf], json: bool, autoplay: bool) -> anyhow::Result<()> {
    ctx.paths.ensure_data_dir()?;
    let _lock = ctx.paths.lock_instance()?;
    ctx.start_log_file();
    let mut db = Database::open(&ctx.paths.database())?;
    let queue = resolve_queue(&mut db, paths)?;
    if queue.is_empty() {
        anyhow::bail!("nothing to play in {}", display_paths(paths));
    }
    let library: HashMap<i64, Track> = if autoplay {
        tracks::all_tracks(db.conn())
            .map_err(|e| db.err(e))?
            .into_iter()
            .map(|t| (t.id, t))
            .collect()
    } else {
        HashMap::new()
    };

    drop(db);
    let (engine, mut controller, notice) = crate::app::start_playback(&ctx.config, &ctx.paths.database())?;
    if let Some(notice) = notice {
        eprintln!("skipless: {notice}");
    }
    controller.play_tracks(queue, 0, PlaySource::User, ControlSource::Stdin);
    let (worker_tx, worker_rx) = crossbeam_channel::unbounded();
    let mut recommender = autoplay.then(|| {
        Autoplay::start(
            ctx.paths.database(),
            ctx.paths.models_dir(),
            ctx.config.recommend.clone(),
            // The sender stays open here too, so that the select below never sees a closed channel.
            worker_tx.clone(),
        )
    });
    let mut waiting_for_picks = false;
    let mut stop_requested = false;

    let mut lines = stdin_lines();
    let signals = termination_signals()?;
    let mut mpris = Mpris::start(ctx.config.mpris.enabled, ctx.paths.cache_dir.clone());
    let mut mpris_requests = mpris.as_ref().map_or_else(never, Mpris::requests);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut quitting = false;
    loop {
        // A closed stdin or an ended D-Bus thread would make its channel ready forever: it is
        // replaced by one that never delivers, so the loop keeps sleeping between events.
        let (mut stdin_closed, mut mpris_gone) = (false, false);
        select! {
            recv(engine.events) -> event => {
                let Ok(event) = event else { break };
                if let (Some(mpris), Event::Seeked { position_ms, .. }) = (&mpris, &event) {
                    mpris.seeked(*position_ms);
                }
                let outcomes = controller.handle(&event)?;
                print_event(&mut out, &event, &controller, json)?;
                for outcome in &outcomes {
                    print_outcome(&mut out, outcome, json)?;
                }
                if let Some(recommender) = recommender.as_mut() {
                    let rerank = recommender.observe(&event, &outcomes);
                    if (rerank || waiting_for_picks) && !quitting {
                        recommender.request_rank(&controller);
                    }
                }
                if outcomes.contains(&Outcome::Stopped) && !quitting {
                    if recommender.is_some() && !stop_requested {
                        // The queue ran out before autoplay's picks arrived: play them when they do.
                        waiting_for_picks = true;
                    } else {
                        quitting = true;
                        controller.shutdown();
                    }
                }
                out.flush()?;
            }
            recv(lines) -> line => match line {
                Ok(line) if line.trim().is_empty() => {}
                Ok(line) => match LineCommand::parse(line.trim()) {
                    Ok(LineCommand::Quit) => { quitting = true; controller.shutdown(); }
                    Ok(command) => {
                        stop_requested |= command == LineCommand::Stop;
                        apply(&mut controller, command);
                    }
                    Err(message) => eprintln!("skipless: {message}"),
                },
                // stdin closed: keep playing to the end of the queue.
                Err(_) => stdin_closed = true,
            },
            recv(mpris_requests) -> request => match request {
                Ok(request) => match mpris_bridge::apply(&mut controller, request) {
                    Applied::Quit => { quitting = true; controller.shutdown(); }
                    Applied::Notice(message) => eprintln!("skipless: {message}"),
                    Applied::Done => {}
                },
                Err(_) => mpris_gone = true,
            },
            recv(signals) -> _ => { quitting = true; controller.shutdown(); }
            recv(worker_rx) -> msg => match msg {
                Ok(WorkerMsg::Recommendations { seq, source, picks }) if !quitting => {
                    let accepted = recommender.as_ref().is_some_and(|r| {
                        r.accept(seq, source, &picks, &mut controller, |id| library.get(&id).cloned())
                    });
                    if accepted && waiting_for_picks {
                        waiting_for_picks = false;
                        match controller.queue.next_index() {
                            // Nothing is playing, so no play is ended and credited to stdin.
                            Some(index) => controller.play_index(index, ControlSource::Stdin),
                            None => { quitting = true; controller.shutdown(); }
                        }
                    }
                }
                Ok(WorkerMsg::ModelStatus(status)) if status.starts_with("recommendations off") => {
                    eprintln!("skipless: {status}");
                    if waiting_for_picks {
                        quitting = true;
                        controller.shutdown();
                    }
                }
                Ok(WorkerMsg::TrainDone(message)) => {
                    print_model(&mut out, &message, json)?;
                    out.flush()?;
                }
                _ => {}
            },
        }
        if stdin_closed {
            lines = never();
        }
        if mpris_gone {
            mpris = None;
            mpris_requests = never();
        }
        if let Some(mpris) = mpris.as_mut() {
            mpris.publish(mpris_bridge::state_of(&controller));
        }
    }
    Ok(())
}

fn apply(controller: &mut Controller, command: LineCommand) {
    match command {
        LineCommand::Next => controller.next(ControlSource::Stdin),
        LineCommand::Previous => controller.previous(ControlSource::Stdin),
        LineCommand::Pause => controller.pause(),
        LineCommand::Resume => controller.resume(),
        LineCommand::Toggle => controller.toggle(),
        LineCommand::Seek(to) => controller.seek(to),
        LineCommand::Volume(v) => controller.set_volume(v),
        LineCommand::Stop => controller.stop(ControlSource::Stdin),
        LineCommand::Quit => controller.shutdown(),
    }
}

/// The tracks to play, in order: files as given, folders by path. Files not yet indexed (or
/// changed) are scanned first; a given file that failed to scan is still queued, so that its
/// play is logged as an error rather than silently dropped.
fn resolve_queue(db: &mut Database, paths: &[PathBuf]) -> anyhow::Result<Vec<Track>> {
    let report = scan_library(db, paths, &|_| {})?.report;
    for error in &report.walk_errors {
        eprintln!("skipless: warning: {error}");
    }
    let mut queue = Vec::new();
    for path in paths {
        let Ok(path) = std::fs::canonicalize(path) else {
            continue;
        };
        if path.is_dir() {
            let mut under: Vec<Track> = tracks::all_tracks(db.conn())
                .map_err(|e| db.err(e))?
                .into_iter()
                .filter(|t| t.path.starts_with(&path))
                .collect();
            under.sort_by(|a, b| a.path.cmp(&b.path));
            queue.extend(under);
        } else if let Some(track) = tracks::track_by_path_any(db.conn(), &path).map_err(|e| db.err(e))? {
            queue.push(track);
        }
    }
    Ok(queue)
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn stdin_lines() -> Receiver<String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
        .ok();
    rx
}

/// SIGINT, SIGTERM and SIGHUP end playback cleanly (the current play is logged as `quit`).
fn termination_signals() -> anyhow::Result<Receiver<i32>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let (tx, rx) = crossbeam_channel::bounded(4);
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            if tx.send(signal).is_err() {
                break;
            }
        }
    })?;
    Ok(rx)
}

fn print_event(out: &mut impl Write, event: &Event, controller: &Controller, json: bool) -> std::io::Result<()> {
    let line = match event {
        Event::Started { item, duration_ms } => {
            let track = controller.now.as_ref().map(|n| &n.entry.track);
            let title = track.map(|t| t.title.clone()).unwrap_or_default();
            let artist = track.and_then(|t| t.artist.clone());
            if json {
                json!({"event": "started", "track_id": item.track_id, "path": item.path.to_string_lossy(),
                       "title": title, "artist": artist, "duration_ms": duration_ms, "source": item.source})
                .to_string()
            } else {
                let name = track
                    .map(Track::display_name)
                    .unwrap_or_else(|| item.path.display().to_string());
                format!(
                    "started {} {name} [{}]",
                    item.track_id,
                    duration_ms.map(format_duration).unwrap_or_default()
                )
            }
        }
        Event::Position {
            track_id,
            position_ms,
            played_ms,
        } if json => {
            json!({"event": "position", "track_id": track_id, "position_ms": position_ms, "played_ms": played_ms})
                .to_string()
        }
        Event::Paused { track_id, position_ms }
        | Event::Resumed { track_id, position_ms }
        | Event::Seeked { track_id, position_ms } => {
            let name = match event {
                Event::Paused { .. } => "paused",
                Event::Resumed { .. } => "resumed",
                _ => "seeked",
            };
            if json {
                json!({"event": name, "track_id": track_id, "position_ms": position_ms}).to_string()
            } else {
                format!("{name} {track_id} at {}", format_duration(*position_ms))
            }
        }
        Event::Volume(v) if json => json!({"event": "volume", "volume": v}).to_string(),
        Event::Volume(v) => format!("volume {v}"),
        _ => return Ok(()),
    };
    writeln!(out, "{line}")
}

fn print_model(out: &mut impl Write, message: &str, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", json!({"event": "model", "message": message}))
    } else {
        writeln!(out, "model {message}")
    }
}

fn print_outcome(out: &mut impl Write, outcome: &Outcome, json: bool) -> std::io::Result<()> {
    let line = match (outcome, json) {
        (Outcome::Logged(p), true) => json!({"event": "ended", "track_id": p.track_id, "play_id": p.play_id,
            "end_reason": p.end_reason, "skipped": p.skipped, "end_source": p.end_source, "played_ms": p.played_ms, "session_id": p.session_id})
        .to_string(),
        (Outcome::Logged(p), false) => format!(
            "ended {} {} after {}{}",
            p.track_id,
            p.end_reason.as_str(),
            format_duration(p.played_ms),
            if p.skipped { " (skip)" } else { "" }
        ),
        (Outcome::TrackError(message), true) => json!({"event": "error", "message": message}).to_string(),
        (Outcome::TrackError(message), false) => format!("error {message}"),
        (Outcome::Stopped, true) => json!({"event": "idle"}).to_string(),
        (Outcome::Stopped, false) => "idle".to_owned(),
    };
    writeln!(out, "{line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_line_commands() {
        assert_eq!(
            LineCommand::parse("seek +5"),
            Ok(LineCommand::Seek(SeekTo::Forward(Duration::from_secs(5))))
        );
        assert_eq!(
            LineCommand::parse("seek -2.5"),
            Ok(LineCommand::Seek(SeekTo::Backward(Duration::from_millis(2500))))
        );
        assert_eq!(
            LineCommand::parse("seek 30"),
            Ok(LineCommand::Seek(SeekTo::Absolute(Duration::from_secs(30))))
        );
        assert_eq!(LineCommand::parse("vol 50"), Ok(LineCommand::Volume(50)));
        assert!(LineCommand::parse("vol 500").is_err());
        assert!(LineCommand::parse("seek x").is_err());
        assert!(LineCommand::parse("dance").is_err());
        assert_eq!(LineCommand::parse("quit"), Ok(LineCommand::Quit));
    }
}
