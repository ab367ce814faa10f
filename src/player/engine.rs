//! The engine ([`Engine`], [`EngineOptions`]) and its command thread: one thread takes
//! commands and reports events, the decoder thread (`decoder`) decodes ahead into the queue, one
//! output (null or device) consumes it.
//!
//! The engine thread never touches audio. It turns commands into queue flushes and control
//! messages for the decoder thread, and turns the output's notes into events; the notes carry
//! the queue epoch, so a note about audio that a command has since thrown away is ignored.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::decoder::DecoderThread;
use super::device::DeviceOutput;
use super::output::{run_null, Ctrl, Note, OutputStats, Playhead, Shared};
use super::{Command, Event, PlayItem, PlayerError, SeekTo};
use crate::config::AudioOutput;
use crate::play::{ControlSource, EndReason};

/// How the engine is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    pub output: AudioOutput,
    /// Speed of the null output relative to real time (tests play many times faster).
    pub null_speed: f64,
    /// Initial volume in percent.
    pub volume: u8,
    /// Wall-clock interval of [`Event::Position`] while playing.
    pub position_interval: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            output: AudioOutput::Auto,
            null_speed: 1.0,
            volume: 100,
            position_interval: Duration::from_millis(250),
        }
    }
}

/// The null output's speed from `SKIPLESS_NULL_SPEED`; 1 (real time) when unset, and when not a
/// positive number, which is noted in the log.
pub fn null_speed_from_env() -> f64 {
    let Ok(text) = std::env::var("SKIPLESS_NULL_SPEED") else {
        return 1.0;
    };
    match text.trim().parse::<f64>() {
        Ok(speed) if speed.is_finite() && speed > 0.0 => speed,
        _ => {
            tracing::warn!("SKIPLESS_NULL_SPEED={text} is not a speed above 0: the null output keeps real time");
            1.0
        }
    }
}

/// Which output the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    Device,
    Null,
}

/// A running engine. Dropping it ends a play in progress as [`EndReason::Quit`] and stops its
/// threads.
pub struct Engine {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    output: OutputKind,
    notice: Option<String>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Audio decoded ahead of the output, in seconds of real time.
const AHEAD_SECS: f64 = 1.0;

impl Engine {
    pub fn start(options: EngineOptions) -> Result<Engine, PlayerError> {
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
        let (event_tx, event_rx) = crossbeam_channel::unbounded();
        let (note_tx, note_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::new(note_tx, options.volume));

        let mut notice = None;
        let mut device = None;
        match options.output {
            AudioOutput::Null => {}
            AudioOutput::Device => device = Some(DeviceOutput::open(shared.clone())?),
            AudioOutput::Auto => match DeviceOutput::open(shared.clone()) {
                Ok(d) => device = Some(d),
                Err(e) => notice = Some(format!("{e}: playing silently through the null output")),
            },
        }
        let output = if device.is_some() {
            OutputKind::Device
        } else {
            OutputKind::Null
        };

        let mut threads = Vec::new();
        if device.is_none() {
            let s = shared.clone();
            let speed = options.null_speed;
            threads.push(spawn("skipless-null", move || run_null(&s, speed))?);
        }
        // At a null speed of 20, a second of audio lasts 50 ms: decode further ahead so that a
        // busy machine does not starve the output.
        let ahead = AHEAD_SECS
            * if device.is_none() {
                (options.null_speed / 4.0).max(1.0)
            } else {
                1.0
            };
        let s = shared.clone();
        threads.push(spawn("skipless-decoder", move || DecoderThread::new(s, ahead).run())?);

        let mut engine_thread = EngineThread {
            shared: shared.clone(),
            events: event_tx,
            notes: note_rx,
            current: None,
            epoch: 0,
            next_play: 1,
            paused: false,
            interval: options.position_interval.max(Duration::from_millis(10)),
            next_tick: None,
            seek_target: None,
            pause_on_start: false,
            starts: 0,
        };
        let s = shared.clone();
        let thread = spawn("skipless-engine", move || {
            engine_thread.run(cmd_rx);
            {
                let mut st = s.lock();
                st.shutdown = true;
            }
            s.decoder_cv.notify_all();
            s.output_cv.notify_all();
            drop(device);
            for t in threads {
                let _ = t.join();
            }
        })?;
        Ok(Engine {
            commands: cmd_tx,
            events: event_rx,
            output,
            notice,
            shared,
            thread: Some(thread),
        })
    }

    pub fn output(&self) -> OutputKind {
        self.output
    }

    /// A line for the listener when the engine had to fall back to the null output.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Frames consumed and silence inserted by the output so far.
    pub fn output_stats(&self) -> OutputStats {
        self.shared.lock().stats
    }

    pub fn send(&self, command: Command) {
        // The engine thread only goes away after Shutdown or a panic; either way there is no one
        // left to obey the command.
        let _ = self.commands.send(command);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, PlayerError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(PlayerError::Thread)
}

struct Current {
    play: u64,
    item: PlayItem,
    /// Set once the output reached its first sample; a play never heard gets no `Ended`.
    started: bool,
    /// The length the decoder found, once it started: where a seek ends at the latest.
    duration_ms: Option<u64>,
}

struct EngineThread {
    shared: Arc<Shared>,
    events: Sender<Event>,
    notes: Receiver<(u64, Note)>,
    current: Option<Current>,
    epoch: u64,
    next_play: u64,
    paused: bool,
    interval: Duration,
    next_tick: Option<Instant>,
    /// (play, ms): where the last seek goes, until the output reaches it. Until then the head
    /// still holds the position before it (a paused output takes nothing): the position
    /// reported is this one, and a relative seek counts from here, so that seeks in a row add up.
    seek_target: Option<(u64, u64)>,
    /// A pause asked for before the current play was heard, carried out when it starts.
    pause_on_start: bool,
    /// [`Event::Started`]s sent so far (see [`Command::Play`]'s `seen_starts`).
    starts: u64,
}

impl EngineThread {
    fn run(&mut self, commands: Receiver<Command>) {
        loop {
            let ticking = !self.paused && self.current.as_ref().is_some_and(|c| c.started);
            let tick = match (ticking, self.next_tick) {
                (true, Some(at)) => crossbeam_channel::at(at),
                (true, None) => {
                    let at = Instant::now() + self.interval;
                    self.next_tick = Some(at);
                    crossbeam_channel::at(at)
                }
                (false, _) => {
                    self.next_tick = None;
                    crossbeam_channel::never()
                }
            };
            crossbeam_channel::select! {
                recv(commands) -> cmd => match cmd {
                    Ok(Command::Shutdown) | Err(_) => {
                        self.drain_notes();
                        self.end_current(EndReason::Quit, None);
                        return;
                    }
                    Ok(cmd) => self.command(cmd),
                },
                recv(self.notes) -> note => {
                    if let Ok((epoch, note)) = note {
                        if epoch == self.epoch {
                            self.note(note);
                        }
                    }
                }
                recv(tick) -> _ => {
                    self.position();
                    let now = Instant::now();
                    let next = self.next_tick.map_or(now, |t| t + self.interval);
                    self.next_tick = Some(if next <= now { now + self.interval } else { next });
                }
            }
        }
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Handles the notes already sent, so a command sees what the output has already done
    /// (a play that reached its end is `Finished`, not skipped at 0 ms).
    fn drain_notes(&mut self) {
        while let Ok((epoch, note)) = self.notes.try_recv() {
            if epoch == self.epoch {
                self.note(note);
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        self.drain_notes();
        match cmd {
            Command::Play {
                item,
                ended_by,
                by,
                seen_starts,
            } => {
                let gone_on_to_it = seen_starts.is_some_and(|seen| seen < self.starts)
                    && self.current.as_ref().is_some_and(|c| c.started && c.item == item);
                if gone_on_to_it {
                    self.set_paused(false, true);
                    return;
                }
                self.end_current(ended_by, by);
                let play = self.next_play;
                self.next_play += 1;
                self.set_paused(false, false);
                self.current = Some(Current {
                    play,
                    item: item.clone(),
                    started: false,
                    duration_ms: None,
                });
                self.flush_with(Some(Ctrl::Load { play, item }), false);
            }
            Command::SetNext(next) => {
                if self.current.is_none() {
                    return;
                }
                let next = next.map(|item| {
                    let play = self.next_play;
                    self.next_play += 1;
                    (play, item)
                });
                let mut st = self.shared.lock();
                st.ctrl.push_back(Ctrl::SetNext(next));
                drop(st);
                self.shared.decoder_cv.notify_all();
            }
            Command::Pause => self.set_paused(true, true),
            Command::Resume => self.set_paused(false, true),
            Command::Toggle => self.set_paused(!(self.paused || self.pause_on_start), true),
            Command::Stop { ended_by, by } => {
                let was_playing = self.current.is_some();
                self.end_current(ended_by, by);
                self.set_paused(false, false);
                self.flush_with(Some(Ctrl::Stop), false);
                if was_playing {
                    self.emit(Event::Idle);
                }
            }
            Command::Seek { track_id, to } => self.seek(track_id, to),
            Command::Volume(v) => {
                let v = v.min(100);
                self.shared.set_volume(v);
                self.emit(Event::Volume(v));
            }
            Command::Shutdown => {}
        }
    }

    /// Empties the queue under a new epoch and hands the decoder what to do next.
    fn flush_with(&mut self, ctrl: Option<Ctrl>, keep_active: bool) {
        let mut st = self.shared.lock();
        st.flush(&self.shared);
        st.active = keep_active;
        st.next = None;
        st.ctrl.clear();
        if let Some(c) = ctrl {
            st.ctrl.push_back(c);
        }
        self.epoch = st.epoch;
        drop(st);
        self.shared.decoder_cv.notify_all();
        self.shared.output_cv.notify_all();
    }

    fn set_paused(&mut self, paused: bool, report: bool) {
        // A play not heard yet: a paused output would never take its start, leaving it neither
        // started nor ended. The pause waits for the start (a few ms of audio), so the player
        // reports `Started`, then `Paused`.
        if !self.paused && self.current.as_ref().is_some_and(|c| !c.started) {
            self.pause_on_start = paused;
            return;
        }
        self.pause_on_start = false;
        if paused == self.paused {
            return;
        }
        if paused && self.current.is_none() {
            return;
        }
        self.paused = paused;
        let position_ms = {
            let mut st = self.shared.lock();
            st.paused = paused;
            self.shared.paused.store(paused, std::sync::atomic::Ordering::Relaxed);
            self.current
                .as_ref()
                .map_or(st.head.position_ms(), |c| self.position_of(c.play, &st.head))
        };
        self.shared.output_cv.notify_all();
        if !report {
            return;
        }
        if let Some(c) = &self.current {
            let track_id = c.item.track_id;
            self.emit(if paused {
                Event::Paused { track_id, position_ms }
            } else {
                Event::Resumed { track_id, position_ms }
            });
        }
    }

    fn seek(&mut self, track_id: i64, to: SeekTo) {
        let Some(current) = self.current.as_ref().filter(|c| c.item.track_id == track_id) else {
            return;
        };
        let (play, item, duration_ms) = (current.play, current.item.clone(), current.duration_ms);
        let position_ms = {
            let st = self.shared.lock();
            if st.head.play != Some(play) {
                // Not audible yet: nothing to seek from; the play starts at its beginning.
                return;
            }
            self.position_of(play, &st.head)
        };
        // Past the end is the end: a paused play shows where it stands, and the next relative
        // seek counts from there.
        let ms = duration_ms.map_or(to.target_ms(position_ms), |d| to.target_ms(position_ms).min(d));
        self.seek_target = Some((play, ms));
        if self.paused {
            // Nothing plays until resumed: the play now stands where it will resume.
            self.emit(Event::Seeked {
                track_id: item.track_id,
                position_ms: ms,
            });
        }
        let mut st = self.shared.lock();
        let next = st.next.take();
        st.flush(&self.shared);
        st.active = true;
        st.next = next;
        // A seek not yet taken by the decoder is superseded: this one counts from its target.
        st.ctrl.retain(|c| !matches!(c, Ctrl::Seek { .. }));
        st.ctrl.push_back(Ctrl::Seek { play, item, ms });
        self.epoch = st.epoch;
        drop(st);
        self.shared.decoder_cv.notify_all();
        self.shared.output_cv.notify_all();
    }

    /// Ends the current play with `cause` at the request of `by`, if it was ever heard.
    fn end_current(&mut self, cause: EndReason, by: Option<ControlSource>) {
        let Some(current) = self.current.take() else { return };
        if !current.started {
            return;
        }
        let head = self.shared.lock().head;
        let (position_ms, played_ms) = if head.play == Some(current.play) {
            (head.position_ms(), head.played_ms())
        } else {
            (0, 0)
        };
        self.emit(Event::Ended {
            item: current.item,
            cause,
            position_ms,
            played_ms,
            error: None,
            by,
        });
    }

    /// Where `play` stands: the last seek's target while the output has not reached it, else
    /// the output's head.
    fn position_of(&self, play: u64, head: &Playhead) -> u64 {
        match self.seek_target {
            Some((target_play, ms)) if target_play == play => ms,
            _ => head.position_ms(),
        }
    }

    fn position(&self) {
        let Some(current) = &self.current else { return };
        let head = self.shared.lock().head;
        if head.play == Some(current.play) {
            self.emit(Event::Position {
                track_id: current.item.track_id,
                position_ms: self.position_of(current.play, &head),
                played_ms: head.played_ms(),
            });
        }
    }

    fn note(&mut self, note: Note) {
        match note {
            Note::Started {
                play,
                item,
                duration_ms,
            } => {
                match &mut self.current {
                    Some(c) if c.play == play => {
                        c.started = true;
                        c.duration_ms = duration_ms;
                    }
                    _ => {
                        self.current = Some(Current {
                            play,
                            item: item.clone(),
                            started: true,
                            duration_ms,
                        })
                    }
                }
                self.next_tick = None;
                self.starts += 1;
                self.emit(Event::Started { item, duration_ms });
                if std::mem::take(&mut self.pause_on_start) {
                    self.set_paused(true, true);
                }
            }
            Note::Seeked { play, position_ms } => {
                // Notes of earlier epochs never arrive here, so this is the last seek's.
                self.seek_target = None;
                if let Some(c) = self.current.as_ref().filter(|c| c.play == play) {
                    self.emit(Event::Seeked {
                        track_id: c.item.track_id,
                        position_ms,
                    });
                }
            }
            Note::Ended {
                play,
                position_ms,
                played_ms,
                error,
            } => {
                if let Some(c) = self.current.take_if(|c| c.play == play && c.started) {
                    self.emit(Event::Ended {
                        item: c.item,
                        cause: if error.is_some() {
                            EndReason::Error
                        } else {
                            EndReason::Finished
                        },
                        position_ms,
                        played_ms,
                        error,
                        by: None,
                    });
                    // Paused, the output takes nothing, so a play ends under a pause only when
                    // it failed at once after a pause that waited for its start: that pause
                    // had no play to hold, and the output goes on to what follows.
                    if self.paused {
                        self.set_paused(false, false);
                    }
                }
            }
            Note::Idle => {
                if self.current.is_none() {
                    // The output's flag too: left set, it would hold every later play.
                    self.set_paused(false, false);
                    self.emit(Event::Idle);
                }
            }
        }
    }
}
