//! The sound-card output ([`DeviceOutput`], [`QueueSource`]): rodio's mixer pulling from the
//! engine's queue.
//!
//! [`QueueSource`] reports each chunk as a span with the chunk's own sample rate and channel
//! count, and rodio converts to the device format, as it does for its own decoders. The
//! conversion restarts at span edges, which is inaudible at our chunk sizes, and it keeps the
//! decoder thread free of a resampler and of the device's format; when the track's rate matches
//! the device the samples pass through untouched, so gapless joins stay sample-exact.
//!
//! ALSA and cpal write diagnostics straight to the process's stderr, which would scribble over
//! the terminal UI; they are sent to /dev/null instead.

use std::num::NonZero;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use rodio::{DeviceSinkBuilder, Source};

use super::output::{Chunk, Shared};
use super::PlayerError;

/// Silence played when the queue is empty, in milliseconds: short, so audio that arrives is
/// heard promptly.
const SILENCE_MS: u32 = 10;

enum Current {
    Audio(Chunk),
    Silence { rate: u32, channels: u16, len: usize },
}

/// A never-ending source that plays whatever the decoder queued, silence when it queued nothing.
pub(crate) struct QueueSource {
    shared: Arc<Shared>,
    current: Current,
    at: usize,
    epoch: u64,
}

impl QueueSource {
    fn new(shared: Arc<Shared>, rate: u32, channels: u16) -> Self {
        Self {
            shared,
            current: Current::Silence {
                rate,
                channels,
                len: silence_len(rate, channels),
            },
            at: 0,
            epoch: 0,
        }
    }

    fn format(&self) -> (u32, u16) {
        match &self.current {
            Current::Audio(c) => (c.rate, c.channels),
            Current::Silence { rate, channels, .. } => (*rate, *channels),
        }
    }

    fn len(&self) -> usize {
        match &self.current {
            Current::Audio(c) => c.samples.len(),
            Current::Silence { len, .. } => *len,
        }
    }

    /// Moves to the next chunk; called as soon as one is used up so that `current_span_len`
    /// always describes what `next` returns.
    fn advance(&mut self, finished: bool) {
        let (rate, channels) = self.format();
        // The chunk's peak is found before the lock, which the decoder thread also takes.
        let finished_chunk = match (finished, &self.current) {
            (true, Current::Audio(chunk)) => {
                let peak = chunk.samples.iter().fold(0.0f32, |m, s| m.max(s.abs())) * self.shared.volume();
                Some((chunk.play, chunk.frames() as u64, peak))
            }
            _ => None,
        };
        let mut st = self.shared.lock();
        if let Some((play, frames, peak)) = finished_chunk.filter(|_| st.epoch == self.epoch) {
            st.consumed(play, frames);
            st.stats.peak = st.stats.peak.max(peak);
        }
        self.epoch = st.epoch;
        self.at = 0;
        self.current = match st.pop_audio(&self.shared) {
            Some(chunk) => Current::Audio(chunk),
            None => {
                if st.active && !st.paused {
                    st.stats.silence_frames += u64::from(rate * SILENCE_MS / 1000);
                }
                Current::Silence {
                    rate,
                    channels,
                    len: silence_len(rate, channels),
                }
            }
        };
    }
}

fn silence_len(rate: u32, channels: u16) -> usize {
    (rate * SILENCE_MS / 1000) as usize * usize::from(channels)
}

impl Iterator for QueueSource {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        let channels = usize::from(self.format().1.max(1));
        // Pauses and flushes take effect on frame boundaries, or the channels would swap.
        if self.at.is_multiple_of(channels) {
            if self.shared.epoch.load(Ordering::Relaxed) != self.epoch {
                self.advance(false);
            }
            if self.shared.paused.load(Ordering::Relaxed) {
                return Some(0.0);
            }
        }
        let sample = match &self.current {
            Current::Audio(c) => c.samples[self.at] * self.shared.volume(),
            Current::Silence { .. } => 0.0,
        };
        self.at += 1;
        if self.at >= self.len() {
            self.advance(true);
        }
        Some(sample)
    }
}

impl Source for QueueSource {
    fn current_span_len(&self) -> Option<usize> {
        Some(self.len().saturating_sub(self.at).max(1))
    }

    fn channels(&self) -> rodio::ChannelCount {
        NonZero::new(self.format().1).unwrap_or(NonZero::<u16>::MIN)
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        NonZero::new(self.format().0).unwrap_or(NonZero::<u32>::MIN)
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
