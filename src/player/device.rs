//! The sound-card output ([`DeviceOutput`], [`QueueSource`]): rodio's mixer pulling from the
//! engine's queue.
//!
//! [`QueueSource`] hands rodio the device's own format at all times, so rodio converts nothing:
//! a track at the device's rate passes through untouched (gapless joins stay sample-exact), and
//! one at another rate goes through one band-limited resampler (rubato's FFT resampler) that
//! runs on across chunks and across the joins of tracks of one rate. rodio's own conversion
//! restarts at every span and filters nothing: a buzz at every chunk and aliasing. Channels are
//! mapped by [`map_frame`]: surround is mixed down, not cut.
//!
//! ALSA and cpal write diagnostics straight to the process's stderr, which would scribble over
//! the terminal UI; they are sent to /dev/null instead.

use std::num::NonZero;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use audioadapter_buffers::direct::InterleavedSlice;
use crossbeam_channel::{Receiver, Sender};
use rodio::{DeviceSinkBuilder, Source};
use rubato::{Fft, FixedSync, Resampler};

use super::output::{Chunk, Shared};
use super::PlayerError;

/// Frames made at a time: about 10 ms, so that audio that arrives is heard promptly.
const BLOCK_FRAMES: usize = 512;

/// A never-ending source in the device's format that plays whatever the decoder queued, silence
/// when it queued nothing.
pub(crate) struct QueueSource {
    shared: Arc<Shared>,
    /// The device's format.
    rate: u32,
    channels: u16,
    /// The chunk being read and the frame reached in it.
    chunk: Option<Chunk>,
    at: usize,
    epoch: u64,
    /// The resampler for chunks at another rate than the device's, with that rate.
    resampler: Option<(u32, Fft<f32>)>,
    /// Frames gathered for the resampler, in the device's channels.
    input: Vec<f32>,
    /// Frames ready for the device, and how far the device has taken them.
    block: Vec<f32>,
    block_len: usize,
    block_at: usize,
}

impl QueueSource {
    fn new(shared: Arc<Shared>, rate: u32, channels: u16) -> Self {
        Self {
            shared,
            rate,
            channels: channels.max(1),
            chunk: None,
            at: 0,
            epoch: 0,
            resampler: None,
            input: Vec::new(),
            block: vec![0.0; BLOCK_FRAMES * usize::from(channels.max(1))],
            block_len: 0,
            block_at: 0,
        }
    }

    /// Drops what was queued before a flush (a seek, a stop, a new track chosen): the chunk,
    /// the frames made from it and the resampler's memory of it.
    fn restart(&mut self) {
        self.chunk = None;
        self.block_len = 0;
        self.block_at = 0;
        if let Some((_, resampler)) = self.resampler.as_mut() {
            resampler.reset();
        }
        self.epoch = self.shared.epoch.load(Ordering::Relaxed);
    }

    /// The rate of the audio that comes next, popping a chunk when none is being read.
    fn next_rate(&mut self) -> Option<u32> {
        if self.chunk.is_none() {
            let mut st = self.shared.lock();
            if st.epoch != self.epoch {
                return None;
            }
            self.chunk = st.pop_audio(&self.shared);
            self.at = 0;
        }
        self.chunk.as_ref().map(|c| c.rate)
    }

    /// Copies up to `frames` frames of audio at `rate` into `out`, in the device's channels, and
    /// counts each chunk used up as heard; stops early at a chunk of another rate or when nothing
    /// is queued. Returns the frames copied.
    fn pull(&mut self, rate: u32, frames: usize, out: &mut [f32]) -> usize {
        let out_channels = usize::from(self.channels);
        let mut copied = 0;
        while copied < frames && self.next_rate() == Some(rate) {
            let Some(chunk) = self.chunk.as_ref() else { break };
            let in_channels = usize::from(chunk.channels.max(1));
            let take = (chunk.frames() - self.at).min(frames - copied);
            for i in 0..take {
                let from = &chunk.samples[(self.at + i) * in_channels..][..in_channels];
                map_frame(from, &mut out[(copied + i) * out_channels..][..out_channels]);
            }
            self.at += take;
            copied += take;
            if self.at >= chunk.frames() {
                self.used_up();
            }
        }
        copied
    }

    /// Counts the chunk just read to its end as heard.
    fn used_up(&mut self) {
        let Some(chunk) = self.chunk.take() else { return };
        // The chunk's peak is found before the lock, which the decoder thread also takes.
        let peak = chunk.samples.iter().fold(0.0f32, |m, s| m.max(s.abs())) * self.shared.volume();
        let mut st = self.shared.lock();
        if st.epoch == self.epoch {
            st.consumed(chunk.play, chunk.frames() as u64);
            st.stats.peak = st.stats.peak.max(peak);
        }
    }

    /// Makes the next block of frames for the device.
    fn fill(&mut self) {
        let channels = usize::from(self.channels);
        self.block_at = 0;
        let frames = match self.next_rate() {
            Some(rate) if rate == self.rate => {
                // The resampler's last frames belong to a track of another rate that ended.
                self.resampler = None;
                let mut block = std::mem::take(&mut self.block);
                let frames = self.pull(rate, BLOCK_FRAMES, &mut block);
                self.block = block;
                frames
            }
            Some(rate) => self.resampled(rate),
            // Nothing queued: a resampler still holds the last few milliseconds of its track.
            None => match self.resampler.as_ref().map(|(rate, _)| *rate) {
                Some(rate) => {
                    let frames = self.resampled(rate);
                    self.resampler = None;
                    frames
                }
                None => 0,
            },
        };
        if frames == 0 {
            self.block.fill(0.0);
            let st = &mut *self.shared.lock();
            if st.active && !st.paused {
                st.stats.silence_frames += BLOCK_FRAMES as u64;
            }
            self.block_len = BLOCK_FRAMES * channels;
        } else {
            self.block_len = frames * channels;
        }
    }

    /// Resamples the next frames at `rate` into the block; silence fills in for audio that has
    /// not come, so that the resampler gives out what it holds. Returns the frames made.
    fn resampled(&mut self, rate: u32) -> usize {
        let channels = usize::from(self.channels);
        if self.resampler.as_ref().is_none_or(|(r, _)| *r != rate) {
            match Fft::<f32>::new(
                rate as usize,
                self.rate as usize,
                BLOCK_FRAMES,
                channels,
                FixedSync::Output,
            ) {
                Ok(resampler) => {
                    self.input = vec![0.0; resampler.input_frames_max() * channels];
                    self.resampler = Some((rate, resampler));
                }
                Err(e) => {
                    tracing::warn!("no resampler from {rate} Hz to {} Hz: {e}", self.rate);
                    // The chunk cannot be played here: it is passed over as heard.
                    self.used_up();
                    return 0;
                }
            }
        }
        let Some((_, resampler)) = self.resampler.as_mut() else {
            return 0;
        };
        let needed = resampler.input_frames_next();
        let mut input = std::mem::take(&mut self.input);
        let got = self.pull(rate, needed, &mut input);
        input[got * channels..needed * channels].fill(0.0);
        let Some((_, resampler)) = self.resampler.as_mut() else {
            return 0;
        };
        let made = InterleavedSlice::new(&input[..], channels, needed)
            .ok()
            .zip(InterleavedSlice::new_mut(&mut self.block[..], channels, BLOCK_FRAMES).ok())
            .and_then(|(from, mut to)| resampler.process_into_buffer(&from, &mut to, None).ok())
            .map_or(0, |(_, made)| made);
        self.input = input;
        made
    }
}

/// Maps one frame to the device's channels. Channels are in the WAVE order symphonia decodes to
/// (front left, front right, centre, LFE, back or side pairs); more channels than the device has
/// are mixed down to a front pair (ITU-R BS.775: centre and surrounds at -3 dB, the LFE left
/// out, scaled so that a full-scale frame cannot clip), and mono goes to both front channels.
fn map_frame(from: &[f32], to: &mut [f32]) {
    const MINUS_3_DB: f32 = std::f32::consts::FRAC_1_SQRT_2;
    to.fill(0.0);
    match (from.len(), to.len()) {
        (a, b) if a == b => to.copy_from_slice(from),
        (1, _) => {
            to[0] = from[0];
            if let Some(right) = to.get_mut(1) {
                *right = from[0];
            }
        }
        (a, b) if a < b => to[..a].copy_from_slice(from),
        (n, out) => {
            let (left, right) = front_pair(from, n, MINUS_3_DB);
            if out == 1 {
                to[0] = 0.5 * (left + right);
            } else {
                to[0] = left;
                to[1] = right;
            }
        }
    }
}

/// A front pair mixed down from `n` channels of WAVE order; `c` is the weight of the centre and
/// of each surround.
fn front_pair(from: &[f32], n: usize, c: f32) -> (f32, f32) {
    let at = |i: usize| from.get(i).copied().unwrap_or(0.0);
    // (centre, [(left surround, right surround)]) by layout.
    let (centre, surrounds): (Option<usize>, &[(usize, usize)]) = match n {
        2 => (None, &[]),
        3 => (Some(2), &[]),
        4 => (None, &[(2, 3)]),
        5 => (Some(2), &[(3, 4)]),
        6 => (Some(2), &[(4, 5)]),
        7 => (Some(2), &[(5, 6)]),
        _ => (Some(2), &[(4, 5), (6, 7)]),
    };
    let centre_level = centre.map_or(0.0, at) * c;
    let mut left = at(0) + centre_level;
    let mut right = at(1) + centre_level;
    for &(l, r) in surrounds {
        left += c * at(l);
        right += c * at(r);
    }
    let gain = 1.0 + centre.map_or(0.0, |_| c) + c * surrounds.len() as f32;
    (left / gain, right / gain)
}

impl Iterator for QueueSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        // Pauses and flushes take effect on frame boundaries, or the channels would swap.
        if self.block_at.is_multiple_of(usize::from(self.channels)) {
            if self.shared.epoch.load(Ordering::Relaxed) != self.epoch {
                self.restart();
            }
            if self.shared.paused.load(Ordering::Relaxed) {
                return Some(0.0);
            }
        }
        if self.block_at >= self.block_len {
            self.fill();
        }
        let sample = self.block[self.block_at] * self.shared.volume();
        self.block_at += 1;
        Some(sample)
    }
}

impl Source for QueueSource {
    /// One span without end: the format never changes.
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        NonZero::new(self.channels).unwrap_or(NonZero::<u16>::MIN)
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(self.rate).unwrap_or(NonZero::<u32>::MIN)
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

/// Keeps the device stream open on a thread of its own (cpal streams must stay on the thread
/// that made them on some platforms); dropping it closes the stream.
pub(crate) struct DeviceOutput {
    stop: Option<Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DeviceOutput {
    pub(crate) fn open(shared: Arc<Shared>) -> Result<Self, PlayerError> {
        let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Result<(), String>>(1);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("skipless-device".into())
            .spawn(move || device_thread(shared, ready_tx, stop_rx))
            .map_err(|e| PlayerError::Device(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(message)) => {
                let _ = thread.join();
                Err(PlayerError::Device(message))
            }
            Err(_) => {
                let _ = thread.join();
                Err(PlayerError::Device("the output thread stopped".into()))
            }
        }
    }
}

impl Drop for DeviceOutput {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn on_stream_error(err: rodio::cpal::Error) {
    tracing::warn!("audio stream error: {err}");
}

fn device_thread(shared: Arc<Shared>, ready: Sender<Result<(), String>>, stop: Receiver<()>) {
    silence_alsa_errors();
    let sink = with_stderr_silenced(|| {
        DeviceSinkBuilder::from_default_device()
            .map(|b| b.with_error_callback(on_stream_error as fn(rodio::cpal::Error)))
            .and_then(|b| b.open_sink_or_fallback())
    });
    let mut sink = match sink {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e.to_string().replace('\n', " ")));
            return;
        }
    };
    sink.log_on_drop(false);
    let config = sink.config();
    let source = QueueSource::new(shared, config.sample_rate().get(), config.channel_count().get());
    sink.mixer().add(source);
    let _ = ready.send(Ok(()));
    // Blocks until the engine drops its sender.
    let _ = stop.recv();
    with_stderr_silenced(move || drop(sink));
}

/// Runs `f` with file descriptor 2 pointing at /dev/null.
fn with_stderr_silenced<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain descriptor juggling; every descriptor opened here is closed here, and fd 2 is
    // restored before returning.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if null < 0 {
            return f();
        }
        let saved = libc::dup(2);
        if saved < 0 {
            libc::close(null);
            return f();
        }
        libc::dup2(null, 2);
        libc::close(null);
        let result = f();
        libc::dup2(saved, 2);
        libc::close(saved);
        result
    }
}

/// alsa-lib also prints later, while playing (an underrun, a device that went away); a no-op
/// error handler silences it for good.
#[cfg(target_os = "linux")]
fn silence_alsa_errors() {
    use std::ffi::{c_char, c_int};
    type Handler = unsafe extern "C" fn(*const c_char, c_int, *const c_char, c_int, *const c_char, ...);
    unsafe extern "C" {
        fn snd_lib_error_set_handler(handler: Option<Handler>) -> c_int;
    }
    unsafe extern "C" fn ignore(_: *const c_char, _: c_int, _: *const c_char, _: c_int, _: *const c_char) {}
    // SAFETY: the handler ignores every argument, so the variadic tail alsa-lib passes is never
    // read; on the C ABIs of Linux a caller passing extra variadic arguments to a function that
    // takes the fixed ones only is sound.
    unsafe {
        let handler: Handler = std::mem::transmute::<
            unsafe extern "C" fn(*const c_char, c_int, *const c_char, c_int, *const c_char),
            Handler,
        >(ignore);
        snd_lib_error_set_handler(Some(handler));
    }
}

#[cfg(not(target_os = "linux"))]
fn silence_alsa_errors() {}
