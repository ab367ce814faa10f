//! Decoding one file to interleaved `f32` samples ([`TrackDecoder`], [`Decoded`]).
//!
//! symphonia handles every container and codec it knows; Ogg Opus goes to [`super::opus`]
//! because symphonia 0.5 has no Opus decoder. Both report positions in frames of the track's
//! own sample rate, with encoder delay and padding already trimmed, so that two tracks played
//! back to back join without a gap.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{
    CodecType, Decoder, DecoderOptions, CODEC_TYPE_AAC, CODEC_TYPE_ALAC, CODEC_TYPE_MP1, CODEC_TYPE_MP2,
    CODEC_TYPE_MP3, CODEC_TYPE_NULL,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use symphonia::core::units::Time;

use super::opus::OpusTrack;
use super::PlayerError;
use crate::mp4_trim;

/// Where the samples appended by [`TrackDecoder::next_chunk`] sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Position of the first appended frame in the track, in frames.
    pub start_frame: u64,
    pub frames: usize,
    pub sample_rate: u32,
    pub channels: u16,
}

/// An open file being decoded.
pub struct TrackDecoder {
    inner: Inner,
    path: PathBuf,
}

enum Inner {
    Symphonia(Box<SymphoniaTrack>),
    Opus(Box<OpusTrack>),
}

/// A corrupt stream yields decode errors packet after packet; this many in a row ends the play.
const MAX_CONSECUTIVE_ERRORS: u32 = 16;
/// Frames decoded and dropped before a seek target.
const SEEK_PREROLL: u64 = 4096;

impl TrackDecoder {
    /// Opens `path` and reads its headers; fails with a one-line reason naming the path.
    pub fn open(path: &Path) -> Result<Self, PlayerError> {
        let mut file = File::open(path).map_err(|source| PlayerError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let opus = is_ogg_opus(&mut file).map_err(|source| PlayerError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        // Reading the headers of a damaged file can panic inside the demuxer (see `next_chunk`).
        let inner = crate::guard::guarded(|| -> Result<Inner, PlayerError> {
            Ok(if opus {
                Inner::Opus(Box::new(OpusTrack::open(file, path)?))
            } else {
                Inner::Symphonia(Box::new(SymphoniaTrack::open(file, path)?))
            })
        })
        .unwrap_or_else(|panic| {
            Err(PlayerError::Format {
                path: path.to_path_buf(),
                message: format!("the demuxer failed on damaged data ({panic})"),
            })
        })?;
        Ok(Self {
            inner,
            path: path.to_path_buf(),
        })
    }

    pub fn sample_rate(&self) -> u32 {
        match &self.inner {
            Inner::Symphonia(t) => t.sample_rate,
            Inner::Opus(t) => t.sample_rate(),
        }
    }

    pub fn channels(&self) -> u16 {
        match &self.inner {
            Inner::Symphonia(t) => t.channels,
            Inner::Opus(t) => t.channels(),
        }
    }

    /// Length in frames, when the container states it (after trimming delay and padding).
    pub fn duration_frames(&self) -> Option<u64> {
        match &self.inner {
            Inner::Symphonia(t) => t.n_frames,
            Inner::Opus(t) => t.duration_frames(),
        }
    }

    pub(crate) fn duration_ms(&self) -> Option<u64> {
        self.duration_frames().map(|f| frames_to_ms(f, self.sample_rate()))
    }

    /// Appends the next decoded samples to `out`; `None` at the end of the track.
    pub fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<Option<Decoded>, PlayerError> {
        self.guarded(|inner, path| match inner {
            Inner::Symphonia(t) => t.next_chunk(out, path),
            Inner::Opus(t) => t.next_chunk(out, path),
        })
    }

    /// Moves to `frame`; returns the frame the next chunk starts at.
    pub fn seek(&mut self, frame: u64) -> Result<u64, PlayerError> {
        self.guarded(|inner, path| match inner {
            Inner::Symphonia(t) => t.seek(frame, path),
            Inner::Opus(t) => t.seek(frame, path),
        })
    }

    /// Runs `step` on the decoder. Decoders fed a damaged file can panic (an index out of
    /// range); that ends this play with an error instead of taking the decoder thread down.
    fn guarded<T>(&mut self, step: impl FnOnce(&mut Inner, &Path) -> Result<T, PlayerError>) -> Result<T, PlayerError> {
        let path = &self.path;
        let inner = &mut self.inner;
        crate::guard::guarded(|| step(inner, path)).unwrap_or_else(|panic| {
            Err(decode_error(
                path,
                format!("the decoder failed on damaged data ({panic})"),
            ))
        })
    }
}

pub(crate) fn frames_to_ms(frames: u64, rate: u32) -> u64 {
    if rate == 0 {
        return 0;
    }
    (u128::from(frames) * 1000 / u128::from(rate)) as u64
}

pub(crate) fn ms_to_frames(ms: u64, rate: u32) -> u64 {
    (u128::from(ms) * u128::from(rate) / 1000) as u64
}

/// Ogg files are sniffed rather than trusted by extension: `.ogg` may hold Opus and `.opus` is
/// always Ogg.
fn is_ogg_opus(file: &mut File) -> std::io::Result<bool> {
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        match file.read(&mut head[len..])? {
            0 => break,
            n => len += n,
        }
    }
    file.seek(SeekFrom::Start(0))?;
    let head = &head[..len];
    Ok(head.starts_with(b"OggS") && head.windows(8).any(|w| w == b"OpusHead"))
}

/// The granule position of the last page of an Ogg file: for Vorbis, the number of samples.
/// Used when symphonia's figure is broken by a bad granule earlier in the stream.
fn last_ogg_granule(path: &Path) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let tail = len.min(65_536);
    file.seek(SeekFrom::Start(len - tail)).ok()?;
    let mut buf = Vec::with_capacity(tail as usize);
    file.read_to_end(&mut buf).ok()?;
    let at = buf.windows(4).rposition(|w| w == b"OggS")?;
    let granule = u64::from_le_bytes(buf.get(at + 6..at + 14)?.try_into().ok()?);
    (granule != u64::MAX).then_some(granule)
}

fn decode_error(path: &Path, message: impl std::fmt::Display) -> PlayerError {
    PlayerError::Decode {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

struct SymphoniaTrack {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    codec: CodecType,
    sample_rate: u32,
    channels: u16,
    n_frames: Option<u64>,
    sample_buf: Option<SampleBuffer<f32>>,
    /// Frames before this position are decoded but dropped (the rest of a packet after a seek).
    skip_until: u64,
    /// Where the last decoded packet ended, to tell a truncated file from a finished one.
    end_frame: u64,
    /// The stream's first heard frame, in its own timestamps: an MP4's encoder priming before
    /// it is dropped, and positions are counted from it.
    first: u64,
    /// Where an MP4's edit ends, in the stream's timestamps: the padding after it is dropped.
    last: Option<u64>,
}

impl SymphoniaTrack {
    fn open(file: File, path: &Path) -> Result<Self, PlayerError> {
        let mut opened = Self::open_with(file, path, true)?;
        // An MP3 without a Xing, Info or VBRI header states no length: symphonia guesses one from
        // its first frames' bitrate and, with gapless trimming on, cuts the audio at the guess.
        // Such a file is decoded whole, and its length is counted from its frame headers.
        if [CODEC_TYPE_MP1, CODEC_TYPE_MP2, CODEC_TYPE_MP3].contains(&opened.codec) {
            if let Some(frames) = frames_of_mp3_without_header(path) {
                let file = File::open(path).map_err(|source| PlayerError::Open {
                    path: path.to_path_buf(),
                    source,
                })?;
                opened = Self::open_with(file, path, false)?;
                opened.n_frames = Some(frames).filter(|&n| n > 0);
            }
        }
        Ok(opened)
    }

    fn open_with(file: File, path: &Path, gapless: bool) -> Result<Self, PlayerError> {
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format_opts = FormatOptions {
            enable_gapless: gapless,
            ..Default::default()
        };
        let probed = symphonia::default::get_probe()
            .format(&hint, mss, &format_opts, &MetadataOptions::default())
            .map_err(|e| PlayerError::Format {
                path: path.to_path_buf(),
                message: match e {
                    // The probe's own words ("unsupported feature: core (probe): no suitable
                    // format reader found") say nothing to a listener.
                    symphonia::core::errors::Error::Unsupported(what) if what.contains("no suitable format reader") => {
                        "its content is no audio format the player knows (empty, damaged, or not audio)".into()
                    }
                    symphonia::core::errors::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                        "it ends before any audio was found (cut short, or not audio)".into()
                    }
                    e => e.to_string(),
                },
            })?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL && t.codec_params.sample_rate.is_some())
            .ok_or_else(|| PlayerError::Format {
                path: path.to_path_buf(),
                // A track the demuxer names no codec for is one it cannot decode (AC-3 in an M4A).
                message: if format.tracks().is_empty() {
                    "no audio track".into()
                } else {
                    "its audio is in a codec the player cannot decode".into()
                },
            })?;
        let params = track.codec_params.clone();
        let track_id = track.id;
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| PlayerError::Format {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        let sample_rate = params.sample_rate.unwrap_or(44_100);
        let channels = params.channels.map(|c| c.count() as u16).unwrap_or(2);
        // A broken granule or header can state an absurd length; a length over a day is
        // treated as unknown rather than shown.
        let sane = |n: &u64| *n > 0 && *n < u64::from(sample_rate) * 86_400;
        let mut n_frames = params
            .n_frames
            .filter(sane)
            .or_else(|| last_ogg_granule(path).filter(sane));
        // HE-AAC decodes at half its stream's time scale: a trim in other units than the
        // decoded frames' is left alone.
        // Only MP4's codecs have an edit list to read: other files are not opened again for it.
        let trim = [CODEC_TYPE_AAC, CODEC_TYPE_ALAC]
            .contains(&params.codec)
            .then(|| mp4_trim::read(path))
            .flatten()
            .filter(|t| t.scale == sample_rate && sane(&t.frames));
        if let Some(trim) = trim {
            n_frames = Some(trim.frames);
        }
        Ok(Self {
            format,
            decoder,
            track_id,
            codec: params.codec,
            sample_rate,
            channels,
            n_frames,
            sample_buf: None,
            skip_until: 0,
            end_frame: 0,
            first: trim.map_or(0, |t| t.first),
            last: trim.map(|t| t.first + t.frames),
        })
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>, path: &Path) -> Result<Option<Decoded>, PlayerError> {
        let mut errors = 0;
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return self.at_end(path);
                }
                Err(SymError::ResetRequired) => return self.at_end(path),
                Err(SymError::DecodeError(e)) => {
                    errors += 1;
                    if errors > MAX_CONSECUTIVE_ERRORS {
                        return Err(decode_error(path, e));
                    }
                    continue;
                }
                Err(e) => return Err(decode_error(path, e)),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let ts = packet.ts();
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::DecodeError(e)) => {
                    errors += 1;
                    if errors > MAX_CONSECUTIVE_ERRORS {
                        return Err(decode_error(path, e));
                    }
                    continue;
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return self.at_end(path);
                }
                Err(e) => return Err(decode_error(path, e)),
            };
            let spec = *decoded.spec();
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let buf = match &mut self.sample_buf {
                Some(b) if b.capacity() >= frames * spec.channels.count() => b,
                slot => slot.insert(SampleBuffer::new(frames as u64, spec)),
            };
            buf.copy_interleaved_ref(decoded);
            let channels = spec.channels.count().max(1);
            // What is heard of this packet: from the seek target or the edit's start, to the
            // edit's end.
            let end = self.last.unwrap_or(u64::MAX);
            let packet_end = ts + frames as u64;
            let from = ts.max(self.skip_until).max(self.first).min(packet_end);
            let to = packet_end.min(end).max(from);
            self.end_frame = packet_end.min(end).saturating_sub(self.first);
            if ts >= end {
                return self.at_end(path);
            }
            if from == to {
                continue;
            }
            let samples = &buf.samples()[(from - ts) as usize * channels..(to - ts) as usize * channels];
            out.extend_from_slice(samples);
            self.sample_rate = spec.rate;
            self.channels = channels as u16;
            return Ok(Some(Decoded {
                start_frame: from - self.first,
                frames: to as usize - from as usize,
                sample_rate: spec.rate,
                channels: channels as u16,
            }));
        }
    }

    fn at_end(&self, path: &Path) -> Result<Option<Decoded>, PlayerError> {
        // A file cut short still decodes up to the cut; half a second short of the stated length
        // means the rest is missing, which the listener must hear about.
        if let Some(n) = self.n_frames {
            if self.end_frame + u64::from(self.sample_rate) / 2 < n {
                return Err(decode_error(
                    path,
                    format!(
                        "file ends at {:.1} s of {:.1} s (truncated?)",
                        self.end_frame as f64 / f64::from(self.sample_rate),
                        n as f64 / f64::from(self.sample_rate)
                    ),
                ));
            }
        }
        Ok(None)
    }

    fn seek(&mut self, frame: u64, path: &Path) -> Result<u64, PlayerError> {
        let frame = match self.n_frames {
            Some(n) => frame.min(n),
            None => frame,
        } + self.first;
        let rate = u64::from(self.sample_rate.max(1));
        // Land a little early and decode up to the target: lapped codecs (AAC, Vorbis) and the
        // MP3 bit reservoir need the packets before it to rebuild their first samples.
        let from = frame.saturating_sub(SEEK_PREROLL);
        let time = Time::new(from / rate, (from % rate) as f64 / rate as f64);
        let seeked = match self.format.seek(
            SeekMode::Accurate,
            SeekTo::Time {
                time,
                track_id: Some(self.track_id),
            },
        ) {
            Ok(s) => s,
            // A stream with broken timestamps (a bad Ogg granule) refuses to seek; decoding from
            // the start up to the target is slower but lands all the same.
            Err(SymError::SeekError(_)) if self.n_frames.is_none_or(|n| frame < n + self.first) => {
                let file = File::open(path).map_err(|source| PlayerError::Open {
                    path: path.to_path_buf(),
                    source,
                })?;
                *self = Self::open(file, path)?;
                self.skip_until = frame;
                return Ok(frame - self.first);
            }
            Err(e) => {
                return Err(PlayerError::Seek {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })
            }
        };
        self.decoder.reset();
        self.skip_until = frame.max(seeked.required_ts);
        self.end_frame = seeked.actual_ts.saturating_sub(self.first);
        Ok(self.skip_until - self.first)
    }
}

/// The length in frames (samples per channel) of an MPEG audio file that has no Xing, Info or
/// VBRI header, summed over its frame headers from the first frame after an ID3v2 tag to the
/// first place that is no frame (an ID3v1 or APE tag, or the end). `None` when the file has
/// such a header, whose length symphonia reads, or cannot be read.
fn frames_of_mp3_without_header(path: &Path) -> Option<u64> {
    let mut file = std::io::BufReader::with_capacity(1 << 16, File::open(path).ok()?);
    let mut head = [0u8; 10];
    file.read_exact(&mut head).ok()?;
    let start = if &head[..3] == b"ID3" {
        let size = head[6..10].iter().fold(0u64, |n, &b| (n << 7) | u64::from(b & 0x7f));
        let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
        10 + size + footer
    } else {
        0
    };
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut frames = 0u64;
    let mut first = true;
    let mut header = [0u8; 4];
    while file.read_exact(&mut header).is_ok() {
        let Some(frame) = MpegFrame::parse(header) else { break };
        if first {
            // A Xing or Info header sits after the side information of the first frame, a VBRI
            // header 32 bytes in: both within its first 40 bytes.
            let mut body = vec![0u8; frame.bytes.saturating_sub(4).min(64)];
            file.read_exact(&mut body).ok()?;
            if body.windows(4).any(|w| matches!(w, b"Xing" | b"Info" | b"VBRI")) {
                return None;
            }
            file.seek_relative(frame.bytes as i64 - 4 - body.len() as i64).ok()?;
            first = false;
        } else {
            file.seek_relative(frame.bytes as i64 - 4).ok()?;
        }
        frames += frame.samples;
    }
    Some(frames)
}

/// One MPEG audio frame header's length in bytes and in samples per channel.
struct MpegFrame {
    bytes: usize,
    samples: u64,
}

impl MpegFrame {
    fn parse(h: [u8; 4]) -> Option<Self> {
        if h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
            return None;
        }
        // Version: 0 MPEG 2.5, 2 MPEG 2, 3 MPEG 1; layer: 1 III, 2 II, 3 I.
        let version = (h[1] >> 3) & 3;
        let layer = (h[1] >> 1) & 3;
        let bitrate_index = usize::from(h[2] >> 4);
        let rate_index = usize::from((h[2] >> 2) & 3);
        if version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        let mpeg1 = version == 3;
        const KBPS: [[u32; 15]; 5] = [
            [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
            [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
            [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
            [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
            [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
        ];
        let table = match (mpeg1, layer) {
            (true, 3) => 0,
            (true, 2) => 1,
            (true, _) => 2,
            (false, 3) => 3,
            (false, _) => 4,
        };
        let bitrate = KBPS[table][bitrate_index] * 1000;
        let rate = [
            [11_025, 12_000, 8_000],
            [0, 0, 0],
            [22_050, 24_000, 16_000],
            [44_100, 48_000, 32_000],
        ][usize::from(version)][rate_index];
        let padding = u32::from((h[2] >> 1) & 1);
        let (bytes, samples) = match layer {
            3 => ((12 * bitrate / rate + padding) * 4, 384),
            2 => (144 * bitrate / rate + padding, 1152),
            _ if mpeg1 => (144 * bitrate / rate + padding, 1152),
            _ => (72 * bitrate / rate + padding, 576),
        };
        (bytes > 4).then_some(MpegFrame {
            bytes: bytes as usize,
            samples,
        })
    }
}
