//! The decoder thread ([`DecoderThread`]): decodes the playing track and the one after it ahead
//! of the output, into the shared queue, and follows the engine's control messages (seeks,
//! flushes, the next track).

use std::sync::Arc;

use super::decode::{ms_to_frames, TrackDecoder};
use super::output::{Chunk, Ctrl, Item, Shared, State};
use super::{PlayItem, PlayerError};

/// Frames gathered into one queued chunk; smaller packets are merged so that the output locks
/// the queue a few dozen times a second, not hundreds.
const CHUNK_FRAMES: usize = 2048;

/// A play the decoder thread works on. `decoder` is `None` for a file that failed to open.
struct Active {
    play: u64,
    item: PlayItem,
    decoder: Option<TrackDecoder>,
    gain: f32,
    done: bool,
    /// Decoded samples that did not fit the last chunk (a format change inside the stream).
    carry: Option<Chunk>,
}

pub(super) struct DecoderThread {
    shared: Arc<Shared>,
    ahead: f64,
    active: Option<Active>,
    /// The play before `active`, kept while it may still be audible so a seek can go back into it.
    previous: Option<Active>,
    /// An idle marker is queued after `active`: a `SetNext` may still take its place.
    idle_queued: bool,
}

enum Job {
    Ctrl(Ctrl),
    Decode,
    StartNext(u64, PlayItem),
}

impl DecoderThread {
    pub(super) fn new(shared: Arc<Shared>, ahead: f64) -> Self {
        Self {
            shared,
            ahead,
            active: None,
            previous: None,
            idle_queued: false,
        }
    }

    pub(super) fn run(mut self) {
        loop {
            let (job, epoch) = {
                let mut st = self.shared.lock();
                loop {
                    if st.shutdown {
                        return;
                    }
                    if let Some(c) = st.ctrl.pop_front() {
                        break (Job::Ctrl(c), st.epoch);
                    }
                    let finished = self.active.as_ref().is_none_or(|a| a.done);
                    if !finished && st.queued_secs < self.ahead {
                        break (Job::Decode, st.epoch);
                    }
                    if finished && self.active.is_some() && !self.idle_queued {
                        if let Some((play, item)) = st.next.take() {
                            break (Job::StartNext(play, item), st.epoch);
                        }
                        st.push(Item::Idle);
                        self.idle_queued = true;
                        self.shared.output_cv.notify_all();
                    }
                    st = self.shared.decoder_cv.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            };
            match job {
                Job::Ctrl(c) => self.control(c, epoch),
                Job::Decode => self.decode(epoch),
                Job::StartNext(play, item) => {
                    self.previous = self.active.take();
                    self.start(play, item, epoch, None);
                }
            }
        }
    }

    /// Carries out `ctrl`, taken from the queue at `epoch`: what it decodes is dropped if the
    /// engine flushed since, as it does for each new seek.
    fn control(&mut self, ctrl: Ctrl, epoch: u64) {
        match ctrl {
            Ctrl::Load { play, item } => {
                self.previous = None;
                self.active = None;
                self.idle_queued = false;
                self.start(play, item, epoch, None);
            }
            Ctrl::Stop => {
                self.previous = None;
                self.active = None;
                self.idle_queued = false;
            }
            Ctrl::SetNext(next) => self.set_next(next),
            Ctrl::Seek { play, item, ms } => self.seek(play, item, ms, epoch),
        }
    }

    fn set_next(&mut self, next: Option<(u64, PlayItem)>) {
        let mut st = self.shared.lock();
        // A follow-up already queued but not yet reached by the output is replaced, unless it
        // is the one asked for. Once the output has reached it, it is the play heard: the same
        // track asked for next (repeat one, or the playing track queued again) is a new play.
        if let (Some(active), Some(previous)) = (&self.active, &self.previous) {
            let at = st
                .queue
                .iter()
                .position(|i| matches!(i, Item::Start { play, .. } if *play == active.play));
            // A queue emptied by a seek back into the previous play holds no start either; the
            // output is still on that play then.
            let reached = at.is_none() && st.head.play != Some(previous.play);
            match at {
                _ if reached => self.previous = None,
                _ if next.as_ref().is_some_and(|(_, item)| *item == active.item) => return,
                Some(at) => {
                    st.queue.truncate(at);
                    st.recount();
                    self.active = self.previous.take();
                    self.idle_queued = false;
                }
                None => {}
            }
        }
        if self.idle_queued {
            match st.queue.iter().position(|i| matches!(i, Item::Idle)) {
                Some(at) if next.is_some() => {
                    st.queue.remove(at);
                    self.idle_queued = false;
                }
                Some(_) => {}
                // The output already went idle: there is nothing for the next one to follow.
                None => return,
            }
        }
        st.next = next;
        drop(st);
    }

    fn seek(&mut self, play: u64, item: PlayItem, ms: u64, epoch: u64) {
        if self.active.as_ref().is_some_and(|a| a.play != play)
            && self.previous.as_ref().is_some_and(|p| p.play == play)
        {
            // Going back into the play still audible: the follow-up decoded after it is redone.
            if let Some(upcoming) = self.active.take() {
                let mut st = self.shared.lock();
                if st.next.is_none() {
                    st.next = Some((upcoming.play, upcoming.item));
                }
            }
            self.active = self.previous.take();
        }
        self.idle_queued = false;
        match self.active.take() {
            Some(mut a) if a.play == play && a.decoder.is_some() => {
                a.done = false;
                a.carry = None;
                let result = a.decoder.as_mut().map(|d| d.seek(ms_to_frames(ms, d.sample_rate())));
                self.active = Some(a);
                self.after_seek(result, epoch);
            }
            _ => self.start(play, item, epoch, Some(ms)),
        }
    }

    /// Queues the landing of a seek with the first audio after it, which the output reports.
    fn after_seek(&mut self, result: Option<Result<u64, PlayerError>>, epoch: u64) {
        let Some(active) = &mut self.active else { return };
        let decoded = matches!(result, Some(Ok(_))).then(|| decode_chunk(active));
        let mut st = self.shared.lock();
        if st.epoch != epoch {
            return;
        }
        match result {
            Some(Ok(_)) => {
                st.push(Item::Seeked { play: active.play });
                if let Some((chunk, error)) = decoded {
                    push_decoded(&mut st, active, chunk, error);
                }
            }
            Some(Err(e)) => {
                // A seek past the end, or into a damaged part, ends the play as if it got there.
                tracing::warn!("{e}");
                active.done = true;
                st.push(Item::End {
                    play: active.play,
                    error: None,
                });
            }
            None => {}
        }
        self.shared.output_cv.notify_all();
    }

    /// Opens `item` and queues its start with its first audio, so that the output never sees a
    /// started play with nothing to play.
    fn start(&mut self, play: u64, item: PlayItem, epoch: u64, seek_ms: Option<u64>) {
        self.idle_queued = false;
        let gain = gain_factor(item.gain_db);
        let opened = TrackDecoder::open(&item.path).and_then(|mut d| {
            if let Some(ms) = seek_ms {
                d.seek(ms_to_frames(ms, d.sample_rate()))?;
            }
            Ok(d)
        });
        let mut active = Active {
            play,
            item: item.clone(),
            decoder: None,
            gain,
            done: false,
            carry: None,
        };
        let mut items = Vec::new();
        if seek_ms.is_none() {
            let duration_ms = opened.as_ref().ok().and_then(|d| d.duration_ms()).or(item.duration_ms);
            items.push(Item::Start {
                play,
                item,
                duration_ms,
            });
        } else {
            items.push(Item::Seeked { play });
        }
        match opened {
            Ok(decoder) => {
                active.decoder = Some(decoder);
                // Half the read-ahead comes with the start, so a busy machine cannot starve the
                // first second of a play.
                let mut secs = 0.0;
                while !active.done && secs < self.ahead / 2.0 {
                    let (chunk, error) = decode_chunk(&mut active);
                    if let Some(c) = chunk {
                        secs += c.frames() as f64 / f64::from(c.rate.max(1));
                        items.push(Item::Audio(c));
                    }
                    if active.done {
                        items.push(Item::End { play, error });
                    }
                }
            }
            Err(e) => {
                active.done = true;
                items.push(Item::End {
                    play,
                    error: Some(e.to_string()),
                });
            }
        }
        let mut st = self.shared.lock();
        if st.epoch == epoch {
            for i in items {
                st.push(i);
            }
            self.active = Some(active);
        }
        drop(st);
        self.shared.output_cv.notify_all();
    }

    fn decode(&mut self, epoch: u64) {
        let Some(active) = &mut self.active else { return };
        let (chunk, error) = decode_chunk(active);
        let mut st = self.shared.lock();
        if st.epoch != epoch {
            // A command flushed the queue meanwhile; what was decoded belongs to the old state.
            return;
        }
        push_decoded(&mut st, active, chunk, error);
        drop(st);
        self.shared.output_cv.notify_all();
    }
}

fn push_decoded(st: &mut State, active: &Active, chunk: Option<Chunk>, error: Option<String>) {
    if let Some(c) = chunk {
        st.push(Item::Audio(c));
    }
    if active.done {
        st.push(Item::End {
            play: active.play,
            error,
        });
    }
}

/// ReplayGain as a factor. Gains beyond +12 dB are tag errors more likely than quiet masters.
fn gain_factor(db: f32) -> f32 {
    if !db.is_finite() {
        return 1.0;
    }
    10f32.powf(db.clamp(-30.0, 12.0) / 20.0)
}

/// Decodes up to [`CHUNK_FRAMES`] frames of one format; marks `active` done at the end of the
/// stream or on an error, which is returned as its one-line text.
fn decode_chunk(active: &mut Active) -> (Option<Chunk>, Option<String>) {
    let mut chunk = active.carry.take();
    let Some(decoder) = &mut active.decoder else {
        active.done = true;
        return (chunk, None);
    };
    let mut tmp = Vec::new();
    loop {
        if chunk.as_ref().is_some_and(|c| c.frames() >= CHUNK_FRAMES) {
            break;
        }
        tmp.clear();
        match decoder.next_chunk(&mut tmp) {
            Ok(Some(d)) => {
                if active.gain != 1.0 {
                    for s in &mut tmp {
                        *s = (*s * active.gain).clamp(-1.0, 1.0);
                    }
                }
                match &mut chunk {
                    Some(c)
                        if c.rate == d.sample_rate
                            && c.channels == d.channels
                            && c.start_frame + c.frames() as u64 == d.start_frame =>
                    {
                        c.samples.extend_from_slice(&tmp);
                    }
                    Some(_) => {
                        active.carry = Some(Chunk {
                            play: active.play,
                            rate: d.sample_rate,
                            channels: d.channels,
                            start_frame: d.start_frame,
                            samples: std::mem::take(&mut tmp),
                        });
                        break;
                    }
                    None => {
                        let mut samples = Vec::with_capacity(CHUNK_FRAMES * usize::from(d.channels) + tmp.len());
                        samples.extend_from_slice(&tmp);
                        chunk = Some(Chunk {
                            play: active.play,
                            rate: d.sample_rate,
                            channels: d.channels,
                            start_frame: d.start_frame,
                            samples,
                        });
                    }
                }
            }
            Ok(None) => {
                active.done = true;
                return (chunk, None);
            }
            Err(e) => {
                active.done = true;
                return (chunk, Some(e.to_string()));
            }
        }
    }
    (chunk, None)
}
