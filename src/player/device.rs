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

/// A resampler from one rate to the device's, with what it was fed and gave: its delay is cut
/// from the start of what it gives, and what it holds at the end is given out to the last frame
/// and no further, so that a join to audio of another rate has no gap.
struct Resampling {
    rate: u32,
    resampler: Fft<f32>,
    /// Frames of audio fed since it was last cleared, and frames of it given out.
    fed: u64,
    given: u64,
    /// Frames still to cut from the start of its output: its delay.
    skip: usize,
}

impl Resampling {
    /// A rate pair with a small common divisor (44,056 Hz to 48 kHz) makes a long FFT (6,000
    /// frames), still a fraction of a millisecond's work, done once per as many frames.
    fn new(rate: u32, device_rate: u32, channels: usize) -> Result<Self, String> {
        let resampler = Fft::<f32>::new(
            rate as usize,
            device_rate as usize,
            BLOCK_FRAMES,
            channels,
            FixedSync::Output,
        )
        .map_err(|e| e.to_string())?;
        let skip = resampler.output_delay();
        Ok(Self {
            rate,
            resampler,
            fed: 0,
            given: 0,
            skip,
        })
    }

    /// Frames of the audio fed still inside, to give out.
    fn holds(&self, device_rate: u32) -> u64 {
        (self.fed * u64::from(device_rate) / u64::from(self.rate)).saturating_sub(self.given)
    }

    /// Forgets what it holds (a flush: a seek, a stop, another track chosen).
    fn clear(&mut self) {
        self.resampler.reset();
        self.fed = 0;
        self.given = 0;
        self.skip = self.resampler.output_delay();
    }
}

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
    /// The resampler for chunks at another rate than the device's: kept while its rate comes
    /// again, and given out to its end before audio of another rate.
    resampling: Option<Resampling>,
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
            resampling: None,
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
        if let Some(resampling) = self.resampling.as_mut() {
            resampling.clear();
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
        let holding = self
            .resampling
            .as_ref()
            .filter(|r| r.holds(self.rate) > 0)
            .map(|r| r.rate);
        let frames = match (self.next_rate(), holding) {
            // What the resampler holds of the audio before is heard first, as it would be with
            // more audio of its rate after it.
            (Some(rate), Some(held)) if rate != held => self.resampled(None),
            (None, Some(_)) => self.resampled(None),
            (Some(rate), _) if rate == self.rate => {
                let mut block = std::mem::take(&mut self.block);
                let frames = self.pull(rate, BLOCK_FRAMES, &mut block);
                self.block = block;
                frames
            }
            (Some(rate), _) => self.resampled(Some(rate)),
            (None, None) => 0,
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

    /// Resamples the next frames at `rate` into the block, or with `None` gives out what the
    /// resampler holds (fed silence). Silence also fills in for audio that has not come.
    /// Returns the frames made.
    fn resampled(&mut self, rate: Option<u32>) -> usize {
        let channels = usize::from(self.channels);
        if let Some(rate) = rate.filter(|&r| self.resampling.as_ref().is_none_or(|s| s.rate != r)) {
            match Resampling::new(rate, self.rate, channels) {
                Ok(resampling) => {
                    self.input = vec![0.0; resampling.resampler.input_frames_max() * channels];
                    self.resampling = Some(resampling);
                }
                Err(e) => {
                    tracing::warn!("no resampler from {rate} Hz to {} Hz: {e}", self.rate);
                    // The chunk cannot be played here: it is passed over as heard.
                    self.resampling = None;
                    self.used_up();
                    return 0;
                }
            }
        }
        let Some(needed) = self.resampling.as_ref().map(|r| r.resampler.input_frames_next()) else {
            return 0;
        };
        let mut input = std::mem::take(&mut self.input);
        let got = match rate {
            Some(rate) => self.pull(rate, needed, &mut input),
            None => 0,
        };
        input[got * channels..needed * channels].fill(0.0);
        let made = match self.resampling.as_mut() {
            Some(resampling) => {
                let made = InterleavedSlice::new(&input[..], channels, needed)
                    .ok()
                    .zip(InterleavedSlice::new_mut(&mut self.block[..], channels, BLOCK_FRAMES).ok())
                    .and_then(|(from, mut to)| resampling.resampler.process_into_buffer(&from, &mut to, None).ok())
                    .map_or(0, |(_, made)| made);
                resampling.fed += got as u64;
                // The delay's frames come before any of the audio: cut.
                let cut = resampling.skip.min(made);
                self.block.copy_within(cut * channels..made * channels, 0);
                resampling.skip -= cut;
                let mut made = made - cut;
                if rate.is_none() {
                    // Given out to the audio's last frame: what follows is the silence fed.
                    made = made.min(usize::try_from(resampling.holds(self.rate)).unwrap_or(usize::MAX));
                }
                resampling.given += made as u64;
                if got == 0 && resampling.holds(self.rate) == 0 {
                    // Drained: kept for more audio of its rate, from a clean start.
                    resampling.clear();
                }
                made
            }
            None => 0,
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::player::output::Item;

    /// A second of a full-level tone at `rate`, in chunks of 1,000 frames, as the decoder queues.
    fn tone(play: u64, rate: u32, hz: f64) -> Vec<Item> {
        let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
        let frames: Vec<f32> = (0..rate as usize)
            .flat_map(|i| {
                let v = (0.5 * (w * i as f64).cos()) as f32;
                [v, v]
            })
            .collect();
        frames
            .chunks(2_000)
            .enumerate()
            .map(|(i, samples)| {
                Item::Audio(Chunk {
                    play,
                    rate,
                    channels: 2,
                    start_frame: i as u64 * 1_000,
                    samples: samples.to_vec(),
                })
            })
            .collect()
    }

    /// What the device takes in `seconds` at 48 kHz stereo, left channel, with `items` queued.
    fn device_takes(items: Vec<Item>, seconds: usize) -> Vec<f32> {
        let (notes, _) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::new(notes, 100));
        {
            let mut st = shared.lock();
            for item in items {
                st.push(item);
            }
        }
        let mut source = QueueSource::new(shared, 48_000, 2);
        (0..seconds * 48_000 * 2)
            .filter_map(|_| source.next())
            .step_by(2)
            .collect()
    }

    #[test]
    fn a_resampled_track_is_given_out_to_its_end_before_a_track_of_another_rate() {
        for first_rate in [44_100, 11_025, 44_056] {
            let items = tone(1, first_rate, 1000.0)
                .into_iter()
                .chain(tone(2, 48_000, 500.0))
                .collect();
            let left = device_takes(items, 3);
            let heard: Vec<usize> = (0..left.len()).filter(|&i| left[i].abs() > 1e-3).collect();
            let (start, end) = (heard[0], heard[heard.len() - 1]);
            // Two seconds at 48 kHz: the first's last frames were held in the resampler when the
            // second came, and are heard before it, not dropped.
            assert!(
                (end + 1 - start).abs_diff(96_000) < 20,
                "from {first_rate} Hz: {} frames from the first sound to the last",
                end + 1 - start
            );
            let longest_quiet = heard.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
            assert!(
                longest_quiet < 5,
                "from {first_rate} Hz: a gap of {longest_quiet} frames"
            );
        }
    }

    #[test]
    fn surround_keeps_its_centre_and_mono_sounds_on_both_sides() {
        let mut stereo = [0.0; 2];
        map_frame(&[0.0, 0.0, 1.0, 0.0, 0.0, 0.0], &mut stereo);
        assert!(stereo[0] > 0.2 && stereo[0] == stereo[1], "{stereo:?}");
        map_frame(&[0.5], &mut stereo);
        assert_eq!(stereo, [0.5, 0.5]);
        let mut quad = [9.0; 4];
        map_frame(&[0.25, -0.25], &mut quad);
        assert_eq!(quad, [0.25, -0.25, 0.0, 0.0]);
    }
}
