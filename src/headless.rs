//! Headless playback for scripts and tests ([`run`]): line commands ([`LineCommand`]) on stdin,
//! one line per event on stdout, logged exactly as in the TUI; with `--autoplay`, recommended
//! tracks follow the given ones and the model retrains in the background, as in the TUI.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::{never, select, Receiver};
use serde_json::json;

use crate::app::autoplay::{repeat_set, Autoplay, Picked, RadioSeed, Request};
use crate::app::commands::{self, LineCommand};
use crate::app::controller::{Controller, Outcome};
use crate::app::library::{tracks_at, SharedLibrary};
use crate::app::mpris_bridge::{self, Applied};
use crate::app::queue::Repeat;
use crate::app::remembered::{Keeper, Remembered, SavedQueue};
use crate::app::remote::{RemoteRequest, Server};
use crate::app::scan::scan_changed;
use crate::app::watch::RootsChanged;
use crate::app::workers::{self, WorkerMsg};
use crate::app::Context;
use crate::db::tracks;
use crate::db::Database;
use crate::fmt::{format_duration, printable};
use crate::mpris::Mpris;
use crate::play::{ControlSource, PlaySource};
use crate::player::Event;
use crate::track::{Track, TracksById};

/// What `skipless play` starts with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Start {
    /// Files and folders, played in order.
    Tracks(Vec<PathBuf>),
    /// A radio from this file: it plays, then autoplay goes on with more like it.
    RadioTrack(PathBuf),
    /// A radio from this artist (named as the tags name them, in any case).
    RadioArtist(String),
}

/// `skipless play`: plays what `start` names (scanning files not indexed yet) until the queue
/// ends, a `stop` or `quit`; a radio always goes on with autoplay. When `idle`, it stays after
/// the queue ends or a `stop`, until `quit` or a signal, and `start` may name nothing.
pub(crate) fn run(ctx: &Context, start: Start, json: bool, autoplay: bool, idle: bool) -> anyhow::Result<()> {
    ctx.paths.ensure_data_dir()?;
    let _lock = ctx.paths.lock_instance()?;
    ctx.start_log_file();
    let mut db = Database::open(&ctx.paths.database())?;
    let (queue, radio, left_out) = resolve_start(&mut db, start, idle)?;
    let autoplay = autoplay || radio.is_some();
    // Read once and shared with the recommender, which picks from it.
    let shared: SharedLibrary = if autoplay {
        Arc::new(tracks::all_tracks(db.conn()).map_err(|e| db.err(e))?)
    } else {
        SharedLibrary::default()
    };
    let mut library: TracksById = shared.iter().cloned().collect();

    drop(db);
    let (engine, mut controller, notice) = crate::app::start_playback(&ctx.config, &ctx.paths.database())?;
    if let Some(notice) = notice {
        eprintln!("skipless: {notice}");
    }
    // The volume is the listener's, wherever they set it last: the interactive player's (the
    // two never run at once on one data dir), and a change made here is kept for it. The rest
    // of what it remembers, its queue among them, is left as it was.
    let remembered_file = ctx.paths.remembered_file();
    let loaded = Remembered::load(&remembered_file);
    let mut remembered = loaded.clone().unwrap_or_else(|| Remembered {
        volume: controller.volume,
        muted: false,
        repeat: Repeat::Off,
        autoplay: ctx.config.recommend.autoplay,
        queue: SavedQueue::default(),
    });
    if remembered.volume != controller.volume {
        controller.set_volume(remembered.volume);
    }
    // A file there that cannot be read (its permissions) is left as it is; one that is not the
    // player's settings was moved aside by the load, and is written anew.
    let keeping = loaded.is_some() || !remembered_file.exists();
    let mut keeper = Keeper::start(remembered_file, Some(remembered.clone()));
    // Caught before anything plays: a signal then ends the play as a quit does.
    let signals = crate::app::termination_signals()?;
    match (radio, queue.first().cloned()) {
        (Some(seed), Some(first)) => {
            if let Some(mode) = controller.start_radio(seed, first, ControlSource::Stdin) {
                eprintln!(
                    "skipless: repeat {} is off: a radio goes on to new tracks",
                    mode.label()
                );
            }
        }
        _ => controller.play_tracks(queue, 0, PlaySource::User, ControlSource::Stdin),
    }
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
    if let Some(recommender) = recommender.as_ref() {
        recommender.send(Request::Reload(Some(shared)));
    }
    let roots_changed = crate::app::watch::spawn_watch(
        ctx.paths.database(),
        Vec::new(),
        ctx.config.library.clone(),
        worker_tx.clone(),
    );
    // A reload (`skipless scan`, `roots add`, `import` in another process) reads the library,
    // and the roots to watch, again.
    let reload = || {
        workers::spawn_load(ctx.paths.database(), worker_tx.clone());
        if let Some(watch) = &roots_changed {
            let _ = watch.send(RootsChanged);
        }
    };
    let mut scanned: Option<String> = None;

    let mut lines = stdin_lines();
    let mut mpris = Mpris::start(ctx.config.mpris.enabled, ctx.paths.cache_dir.clone());
    let mut mpris_requests = mpris.as_ref().map_or_else(never, Mpris::requests);
    let remote = match Server::start(&ctx.paths.remote_socket()) {
        Ok(server) => Some(server),
        Err(message) => {
            tracing::warn!("remote control off: {message}");
            eprintln!("skipless: remote control off: {message}");
            None
        }
    };
    let remote_requests = remote.as_ref().map_or_else(never, Server::requests);
    let mut out = Output {
        out: std::io::stdout().lock(),
        failed: None,
    };
    let mut quitting = false;
    loop {
        // A closed stdin or an ended D-Bus thread would make its channel ready forever: it is
        // replaced by one that never delivers, so the loop keeps sleeping between events.
        let (mut stdin_closed, mut mpris_gone) = (false, false);
        // Commands wait while a track is switched to, to act on the one switched to, for a
        // while at most.
        let switching = controller.switching_until();
        let (commands, remote_commands) = if switching.is_some() {
            (never(), never())
        } else {
            (lines.clone(), remote_requests.clone())
        };
        let switch_wait = switching.map_or_else(never, crossbeam_channel::at);
        select! {
            recv(engine.events) -> event => {
                let Ok(event) = event else { break };
                if let (Some(mpris), Event::Seeked { position_ms, .. }) = (&mpris, &event) {
                    mpris.seeked(*position_ms);
                }
                let outcomes = controller.handle(&event);
                print_event(&mut out, &event, &controller, json)?;
                for outcome in &outcomes {
                    print_outcome(&mut out, outcome, json)?;
                }
                let rerank = recommender.as_mut().is_some_and(|r| r.observe(&event, &outcomes, true));
                if rerank && !quitting {
                    if let Some(recommender) = recommender.as_mut() {
                        recommender.request_rank(&controller);
                    }
                }
                let over = outcomes.iter().any(|o| matches!(o, Outcome::Stopped { .. }));
                // The queue ran out before autoplay's picks came: they play when they do.
                let waiting = recommender.as_ref().is_some_and(Autoplay::waiting_for_picks);
                if over && !waiting && !quitting && !idle {
                    quit(&mut controller, &mut quitting);
                }
                out.flush()?;
            }
            recv(commands) -> line => match line {
                Ok(line) if line.trim_ascii().is_empty() => {}
                Ok(line) => {
                    let reply = match LineCommand::parse(&line) {
                        Ok(command) => {
                            // Every line of a JSON stream is JSON: the status too.
                            let command = match command {
                                LineCommand::Status { .. } if json => LineCommand::Status { json: true },
                                command => command,
                            };
                            commands::apply(&mut controller, recommender.as_mut(), !library.is_empty(), command, ControlSource::Stdin)
                        }
                        Err(message) => commands::Reply::refused(message),
                    };
                    if reply.reload {
                        reload();
                    }
                    print_reply(&mut out, &reply, json)?;
                    if reply.quit {
                        quit(&mut controller, &mut quitting);
                    }
                }
                // stdin closed: keep playing to the end of the queue.
                Err(_) => stdin_closed = true,
            },
            recv(remote_commands) -> request => if let Some((command, reply)) = request.ok().and_then(RemoteRequest::in_time) {
                let answer = commands::apply(&mut controller, recommender.as_mut(), !library.is_empty(), command, ControlSource::Remote);
                let _ = reply.send(answer.line());
                if answer.reload {
                    reload();
                }
                if answer.quit {
                    quit(&mut controller, &mut quitting);
                }
            },
            recv(mpris_requests) -> request => match request {
                Ok(request) => match mpris_bridge::apply(&mut controller, recommender.as_mut(), !library.is_empty(), request) {
                    Applied::Quit => { quit(&mut controller, &mut quitting); }
                    Applied::Notice(message) => eprintln!("skipless: {message}"),
                    Applied::Repeat(repeat) => {
                        eprintln!("skipless: {}", repeat_set(repeat, &controller, recommender.as_mut()));
                    }
                    Applied::Done => {}
                },
                Err(_) => mpris_gone = true,
            },
            recv(signals) -> _ => { quit(&mut controller, &mut quitting); }
            recv(switch_wait) -> _ => {}
            recv(worker_rx) -> msg => match msg {
                Ok(WorkerMsg::Recommendations { seq, source, picks }) if !quitting => {
                    let picked = recommender.as_mut().map(|r| {
                        r.accept(seq, source, &picks, &mut controller, |id| library.get(id).map(|t| Track::clone(t)), ControlSource::Stdin)
                    });
                    if picked == Some(Picked::NothingLeft) {
                        if idle {
                            eprintln!("skipless: autoplay has nothing left to pick: playback stopped");
                        } else {
                            quit(&mut controller, &mut quitting);
                        }
                    }
                }
                // No picks will come: the player goes on as without autoplay, and ends with the
                // queue (now, if it ran out waiting for them).
                Ok(WorkerMsg::RecommenderOff(status)) => {
                    eprintln!("skipless: {status}");
                    if recommender.take().is_some_and(|r| r.waiting_for_picks()) && !idle {
                        quit(&mut controller, &mut quitting);
                    }
                }
                // A rescan's outcome is printed once its library is in use, so that what is
                // asked after the event sees the queue it left.
                Ok(WorkerMsg::ScanDone { summary, .. }) => scanned = Some(summary),
                Ok(WorkerMsg::Library(index)) => {
                    if let Some(message) = controller.follow_library(&index) {
                        eprintln!("skipless: {message}");
                    }
                    if let Some(recommender) = recommender.as_ref() {
                        library = index.tracks.iter().cloned().collect();
                        recommender.send(Request::Reload(Some(index.tracks.clone())));
                    }
                    if let Some(summary) = scanned.take() {
                        print_scan(&mut out, &summary, json)?;
                        out.flush()?;
                    }
                }
                Ok(WorkerMsg::Error(message) | WorkerMsg::ScanFailed(message)) => eprintln!("skipless: {message}"),
                Ok(WorkerMsg::RankingChanged) if !quitting && !library.is_empty() => {
                    if let Some(recommender) = recommender.as_mut() {
                        recommender.request_rank(&controller);
                    }
                }
                Ok(WorkerMsg::TrainDone(message)) => {
                    print_model(&mut out, &message, json)?;
                    out.flush()?;
                }
                _ => {}
            },
        }
        if out.failed.is_some() && !quitting {
            quit(&mut controller, &mut quitting);
        }
        if stdin_closed {
            lines = never();
        }
        if mpris_gone {
            mpris = None;
            mpris_requests = never();
        }
        if let Some(mpris) = mpris.as_mut() {
            mpris.publish(
                mpris_bridge::state_of(&controller),
                mpris_bridge::between_tracks(&controller),
            );
        }
        if keeping && remembered.volume != controller.set_level() {
            remembered.volume = controller.set_level();
            // A volume set is heard: the interactive player comes back unmuted at it.
            remembered.muted = false;
            keeper.keep(remembered.clone());
        }
    }
    if keeping {
        keeper.finish(remembered);
    }
    // A reader that went away wanted no more; any other failure to write is said.
    if let Some(e) = out.failed.filter(|e| e.kind() != std::io::ErrorKind::BrokenPipe) {
        anyhow::bail!("standard output: {e}");
    }
    // The rest was played; the status tells a script that not all it named was.
    anyhow::ensure!(
        left_out == 0,
        "not all was played: {} left out at the start, each said there",
        crate::fmt::count(left_out as u64, "path")
    );
    Ok(())
}

/// Standard output that, once it cannot be written (its reader gone, as `| head -1` leaves it),
/// takes no more: the player then quits as on `quit`, so that the play in progress is logged.
struct Output<W: Write> {
    out: W,
    failed: Option<std::io::Error>,
}

impl<W: Write> Write for Output<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failed.is_some() {
            return Ok(buf.len());
        }
        match self.out.write(buf) {
            Err(e) if e.kind() != std::io::ErrorKind::Interrupted => {
                self.failed = Some(e);
                Ok(buf.len())
            }
            written => written,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.failed.is_none() {
            if let Err(e) = self.out.flush() {
                self.failed = Some(e);
            }
        }
        Ok(())
    }
}

/// The tracks to play, in order: files as given, folders by path. The paths are scanned first
/// (files not yet indexed, changed, or unreadable before); what the scan cannot read or find is
/// left out, and returned as one line each with its reason, for a warning beside the music or
/// the one line of an error where nothing is left to play.
fn resolve_queue(db: &mut Database, paths: &[PathBuf]) -> anyhow::Result<(Vec<Track>, Vec<String>)> {
    let outcome = scan_changed(db, paths)?;
    if let Some(error) = &outcome.match_error {
        eprintln!("skipless: warning: imported plays waiting for their tracks were not matched: {error}");
    }
    let report = outcome.report;
    for said in report.roots_said() {
        eprintln!("skipless: {said}");
    }
    let mut problems = report.walk_errors;
    for (path, reason) in &report.failed_files {
        problems.push(format!("cannot read {}: {reason}; left out", path.display()));
    }
    let mut queue = Vec::new();
    for path in paths {
        queue.extend(tracks_at(db, path)?);
    }
    Ok((queue, problems))
}

/// Ends playback for good: the player quits once the engine has reported the last play.
fn quit(controller: &mut Controller, quitting: &mut bool) {
    *quitting = true;
    controller.shutdown();
}

/// What `start` names to play: the queue (files not indexed yet are scanned first), the radio's
/// seed when it starts one, and how many of the paths named were left out (each said).
fn resolve_start(
    db: &mut Database,
    start: Start,
    idle: bool,
) -> anyhow::Result<(Vec<Track>, Option<RadioSeed>, usize)> {
    Ok(match start {
        Start::Tracks(paths) if paths.is_empty() && idle => (Vec::new(), None, 0),
        Start::Tracks(paths) => {
            let (queue, problems) = resolve_queue(db, &paths)?;
            if queue.is_empty() && problems.is_empty() {
                anyhow::bail!("nothing to play in {}", crate::fmt::paths(&paths));
            }
            anyhow::ensure!(!queue.is_empty(), "nothing to play: {}", problems.join("; "));
            warn_of(&problems);
            (queue, None, problems.len())
        }
        Start::RadioTrack(path) => {
            if path.is_dir() {
                anyhow::bail!("{}: a folder; a radio starts from one file", path.display());
            }
            let (queue, problems) = resolve_queue(db, std::slice::from_ref(&path))?;
            anyhow::ensure!(
                !queue.is_empty() || problems.is_empty(),
                "nothing for a radio: {}",
                problems.join("; ")
            );
            let [track] = queue.as_slice() else {
                anyhow::bail!("{}: not a playable file for a radio", path.display());
            };
            warn_of(&problems);
            let seed = RadioSeed::of_track(track);
            (queue, Some(seed), problems.len())
        }
        Start::RadioArtist(name) => {
            let all = tracks::all_tracks::<Track>(db.conn()).map_err(|e| db.err(e))?;
            let theirs = crate::app::library::tracks_of_artist(all, &name);
            anyhow::ensure!(
                !theirs.is_empty(),
                "no tracks by {name:?} in the library (see skipless library)"
            );
            // The radio opens on a track the listener has not banned, under the library's
            // spelling of the name.
            let marks = crate::db::marks::load(db.conn()).map_err(|e| db.err(e))?;
            let spelled = theirs
                .iter()
                .find_map(|t| t.album_owner())
                .map_or(name.clone(), |n| n.to_string());
            let Some((seed, first)) = RadioSeed::of_group(&theirs, spelled, |id| marks.is_banned(id)) else {
                anyhow::bail!("every track by {name:?} is banned (skipless unban PATH takes a ban back)");
            };
            (vec![first], Some(seed), 0)
        }
    })
}

fn warn_of(problems: &[String]) {
    for problem in problems {
        eprintln!("skipless: warning: {problem}");
    }
}

/// Lines of stdin as bytes: a path given to `queue` need not be UTF-8.
fn stdin_lines() -> Receiver<Vec<u8>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().split(b'\n') {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
        .ok();
    rx
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
    writeln!(out, "{}", printable(&line))
}

/// A stdin command's reply: an error on stderr (in a JSON stream, a `command_error` event on
/// stdout); any other on stdout (in a JSON stream, the status as a `status` event, the rest as
/// a `reply` event), what follows an "ok" where it says more (`liked: …`, `queued: …`). A bare
/// "ok" is left out: the events it brings (`paused`, `started`) say it.
fn print_reply(out: &mut impl Write, reply: &commands::Reply, json: bool) -> std::io::Result<()> {
    use commands::Said;
    let line = match (&reply.said, json) {
        (Said::Refused(why), false) => {
            eprintln!("skipless: {why}");
            return Ok(());
        }
        (Said::Refused(why), true) => json!({"event": "command_error", "message": why}).to_string(),
        (Said::Done(text), _) if text.is_empty() => return Ok(()),
        (Said::Done(text) | Said::Status(text), false) => printable(text).into_owned(),
        (Said::Status(status), true) => match serde_json::from_str::<serde_json::Value>(status) {
            Ok(serde_json::Value::Object(mut status)) => {
                status.insert("event".into(), "status".into());
                serde_json::Value::Object(status).to_string()
            }
            _ => json!({"event": "reply", "text": status}).to_string(),
        },
        (Said::Done(text), true) => json!({"event": "reply", "text": text}).to_string(),
    };
    writeln!(out, "{line}")?;
    out.flush()
}

fn print_scan(out: &mut impl Write, summary: &str, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", json!({"event": "scanned", "summary": summary}))
    } else {
        writeln!(out, "{}", printable(summary))
    }
}

fn print_model(out: &mut impl Write, message: &str, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", json!({"event": "model", "message": message}))
    } else {
        writeln!(out, "model {}", printable(message))
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
        (Outcome::Stopped { .. }, true) => json!({"event": "idle"}).to_string(),
        (Outcome::Stopped { .. }, false) => "idle".to_owned(),
        (Outcome::LogFailed(message), true) => json!({"event": "log_failed", "message": message}).to_string(),
        (Outcome::LogFailed(message), false) => format!("log failed {message}"),
    };
    writeln!(out, "{}", printable(&line))
}
