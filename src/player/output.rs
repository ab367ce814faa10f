//! The buffer between the decoder thread and the output ([`Shared`], [`Item`], [`Note`]), and
//! the null output ([`run_null`]).
//!
//! The decoder pushes audio and markers (a play starts, a seek landed, a play ends, nothing
//! follows) into one queue; whichever output runs pops them in order. Markers are reported to the
//! engine thread as [`Note`]s at the moment the output reaches them, so `Started` comes with the
//! first sample and `Ended` with the last, also across a gapless join: for the device, as they
//! go into its next block of about 10 ms (or into the resampler, a few milliseconds more).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::decode::frames_to_ms;
use super::PlayItem;

/// Decoded audio of one play, interleaved.
pub(crate) struct Chunk {
    pub play: u64,
    pub rate: u32,
    pub channels: u16,
    /// Track position of the first frame.
    pub start_frame: u64,
    pub samples: Vec<f32>,
}

impl Chunk {
    pub(crate) fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    fn seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(self.rate.max(1))
    }
}

pub(crate) enum Item {
    Start {
        play: u64,
        item: PlayItem,
        duration_ms: Option<u64>,
    },
    Audio(Chunk),
    Seeked {
        play: u64,
    },
    End {
        play: u64,
        error: Option<String>,
    },
    /// Nothing follows the play that just ended.
    Idle,
}

/// What the output reports to the engine thread, tagged with the queue's epoch at that moment.
#[derive(Debug)]
pub(crate) enum Note {
    Started {
        play: u64,
        item: PlayItem,
        duration_ms: Option<u64>,
    },
    Seeked {
        play: u64,
        position_ms: u64,
    },
    Ended {
        play: u64,
        position_ms: u64,
        played_ms: u64,
        error: Option<String>,
    },
    Idle,
}

/// What the output has made audible of the current play.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Playhead {
    pub play: Option<u64>,
    pub rate: u32,
    pub position_frames: u64,
    pub played_frames: u64,
}

impl Playhead {
    pub(crate) fn position_ms(&self) -> u64 {
        frames_to_ms(self.position_frames, self.rate)
    }

    pub(crate) fn played_ms(&self) -> u64 {
        frames_to_ms(self.played_frames, self.rate)
    }
}

/// Counters kept by either output (device or null): what it consumed, the gaps it filled with
/// silence and its loudest sample, which the engine's tests and the benchmark read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OutputStats {
    /// Audio frames consumed.
    pub frames: u64,
    /// Frames of silence inserted because the buffer ran dry while a play was going on: a gap.
    pub silence_frames: u64,
    /// Highest absolute sample value consumed, after volume.
    pub peak: f32,
}

/// What the engine thread asks of the decoder thread.
pub(crate) enum Ctrl {
    Load { play: u64, item: PlayItem },
    SetNext(Option<(u64, PlayItem)>),
    Seek { play: u64, item: PlayItem, ms: u64 },
    Stop,
}

pub struct State {
    pub queue: VecDeque<Item>,
    /// Seconds of audio in `queue`.
    pub queued_secs: f64,
    /// Bumped on every flush, so that outputs drop what they hold and stale notes are ignored.
    pub epoch: u64,
    pub paused: bool,
    /// A play is under way (between its start and the idle marker or a flush): an empty queue
    /// now is an underrun, not the end.
    pub active: bool,
    pub head: Playhead,
    pub stats: OutputStats,
    pub ctrl: VecDeque<Ctrl>,
    /// The play to follow the current one, claimed by the decoder thread when it gets there.
    pub next: Option<(u64, PlayItem)>,
    pub shutdown: bool,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Wakes the decoder thread: a control message, or room in the queue.
    pub decoder_cv: Condvar,
    /// Wakes the null output: audio arrived, or pause ended.
    pub output_cv: Condvar,
    /// Mirrors of `State::epoch` and `State::paused` for the device callback, which checks them
    /// per sample.
    pub epoch: AtomicU64,
    pub paused: AtomicBool,
    /// Output volume factor, as `f32` bits.
    pub volume: AtomicU32,
    pub notes: Sender<(u64, Note)>,
}

impl Shared {
    pub(crate) fn new(notes: Sender<(u64, Note)>, volume: u8) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                queued_secs: 0.0,
                epoch: 0,
                paused: false,
                active: false,
                head: Playhead::default(),
                stats: OutputStats::default(),
                ctrl: VecDeque::new(),
                next: None,
                shutdown: false,
            }),
            decoder_cv: Condvar::new(),
            output_cv: Condvar::new(),
            epoch: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            volume: AtomicU32::new(volume_factor(volume).to_bits()),
            notes,
        }
    }

    /// A poisoned lock only means another engine thread panicked; the state itself stays
    /// consistent enough to wind down.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn volume(&self) -> f32 {
        f32::from_bits(self.volume.load(Ordering::Relaxed))
    }

    pub(crate) fn set_volume(&self, percent: u8) {
        self.volume.store(volume_factor(percent).to_bits(), Ordering::Relaxed);
    }
}

/// A cubic curve: equal steps of the percentage sound like roughly equal steps of loudness.
pub(crate) fn volume_factor(percent: u8) -> f32 {
    let v = f32::from(percent.min(100)) / 100.0;
    v * v * v
}

impl State {
    /// Empties the queue and starts a new epoch; the caller queues the control message that
    /// says what comes next.
    pub(crate) fn flush(&mut self, shared: &Shared) {
        self.queue.clear();
        self.queued_secs = 0.0;
        self.epoch += 1;
        self.active = false;
        shared.epoch.store(self.epoch, Ordering::Relaxed);
    }

    pub(crate) fn push(&mut self, item: Item) {
        if let Item::Audio(chunk) = &item {
            self.queued_secs += chunk.seconds();
        }
        self.queue.push_back(item);
    }

    pub(crate) fn recount(&mut self) {
        self.queued_secs = self
            .queue
            .iter()
            .map(|i| match i {
                Item::Audio(c) => c.seconds(),
                _ => 0.0,
            })
            .sum();
    }

    /// Pops the next chunk of audio for an output, reporting the markers before it.
    pub(crate) fn pop_audio(&mut self, shared: &Shared) -> Option<Chunk> {
        while let Some(item) = self.queue.pop_front() {
            let note = match item {
                Item::Audio(chunk) => {
                    self.queued_secs = (self.queued_secs - chunk.seconds()).max(0.0);
                    if self.head.play == Some(chunk.play) {
                        self.head.position_frames = chunk.start_frame;
                        self.head.rate = chunk.rate;
                    }
                    shared.decoder_cv.notify_one();
                    return Some(chunk);
                }
                Item::Start {
                    play,
                    item,
                    duration_ms,
                } => {
                    self.active = true;
                    self.head = Playhead {
                        play: Some(play),
                        rate: self.head.rate,
                        position_frames: 0,
                        played_frames: 0,
                    };
                    Note::Started {
                        play,
                        item,
                        duration_ms,
                    }
                }
                Item::Seeked { play } => {
                    // The position is set by the chunk that follows; report where it lands.
                    let position_ms = match self.queue.front() {
                        Some(Item::Audio(c)) if c.play == play => frames_to_ms(c.start_frame, c.rate),
                        _ => self.head.position_ms(),
                    };
                    Note::Seeked { play, position_ms }
                }
                Item::End { play, error } => {
                    let head = self.head;
                    self.head.play = None;
                    Note::Ended {
                        play,
                        position_ms: head.position_ms(),
                        played_ms: head.played_ms(),
                        error,
                    }
                }
                Item::Idle => {
                    self.active = false;
                    Note::Idle
                }
            };
            // The engine thread outlives the outputs; a closed channel only happens on the way out.
            let _ = shared.notes.send((self.epoch, note));
        }
        None
    }

    /// Records `frames` of `play` as heard.
    pub(crate) fn consumed(&mut self, play: u64, frames: u64) {
        self.stats.frames += frames;
        if self.head.play == Some(play) {
            self.head.position_frames += frames;
            self.head.played_frames += frames;
        }
    }
}

/// The null output: consumes the queue at real time × `speed`, waking every few milliseconds,
/// and blocks while paused or idle.
pub(crate) fn run_null(shared: &Shared, speed: f64) {
    const TICK: Duration = Duration::from_millis(10);
    let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
    let mut current: Option<(Chunk, usize)> = None;
    let mut epoch = 0;
    let mut last: Option<Instant> = None;
    // Audio time owed but not yet consumed: a fraction of a frame, carried to the next tick.
    let mut owed = 0.0f64;
    let mut rate = 44_100u32;
    loop {
        let mut st = shared.lock();
        loop {
            if st.shutdown {
                return;
            }
            if st.epoch != epoch {
                epoch = st.epoch;
                current = None;
            }
            if !st.paused && (current.is_some() || !st.queue.is_empty() || st.active) {
                break;
            }
            last = None;
            owed = 0.0;
            st = shared.output_cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        let now = Instant::now();
        owed += last.map_or(0.0, |l| now.duration_since(l).as_secs_f64() * speed);
        last = Some(now);
        let volume = shared.volume();
        loop {
            if current.is_none() {
                current = st.pop_audio(shared).map(|c| (c, 0));
            }
            let Some((chunk, at)) = &mut current else {
                if st.active {
                    let frames = (owed * f64::from(rate)) as u64;
                    st.stats.silence_frames += frames;
                }
                owed = 0.0;
                break;
            };
            rate = chunk.rate.max(1);
            let want = (owed * f64::from(rate)) as usize;
            if want == 0 {
                break;
            }
            let frames = want.min(chunk.frames() - *at);
            let ch = usize::from(chunk.channels.max(1));
            let peak = chunk.samples[*at * ch..(*at + frames) * ch]
                .iter()
                .fold(0.0f32, |m, s| m.max(s.abs()))
                * volume;
            st.stats.peak = st.stats.peak.max(peak);
            *at += frames;
            owed -= frames as f64 / f64::from(rate);
            let play = chunk.play;
            if *at >= chunk.frames() {
                current = None;
            }
            st.consumed(play, frames as u64);
        }
        drop(st);
        std::thread::sleep(TICK);
    }
}
