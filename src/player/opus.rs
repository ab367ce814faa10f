//! Ogg Opus playback ([`OpusTrack`], [`PacketReader`]): the Ogg demuxing per RFC 7845 and the
//! pure-Rust `opus-decoder` for the packets.
//!
//! The demuxer is ours rather than symphonia's because Opus needs things symphonia's Ogg reader
//! leaves out: the pre-skip to drop, the end granule to trim to, and an 80 ms pre-roll before a
//! seek target. At open, the page headers are indexed once (a few hundred pages for an album
//! track), which makes seeking an exact lookup and tells a sane length even when a page carries
//! a broken granule position.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use opus_decoder::OpusMultistreamDecoder;

use super::decode::Decoded;
use super::PlayerError;

/// Opus always decodes at 48 kHz; granule positions count 48 kHz samples.
const RATE: u32 = 48_000;
/// RFC 7845 §4.6: decode at least 80 ms before a seek target so the decoder has converged.
const PREROLL: u64 = 3840;
/// The largest Opus packet decodes to 120 ms.
const MAX_PACKET_FRAMES: usize = 5760;

/// A page header as indexed at open.
#[derive(Debug, Clone, Copy)]
struct PageInfo {
    offset: u64,
    /// `None` when no packet ends on the page (granule -1).
    granule: Option<u64>,
}

/// Reads packets out of the pages of one logical stream.
pub(crate) struct PacketReader {
    reader: BufReader<File>,
    serial: Option<u32>,
    /// Packets completed on the current page, not yet handed out.
    ready: std::collections::VecDeque<Vec<u8>>,
    /// A packet continuing onto the next page.
    partial: Vec<u8>,
    eof: bool,
}

struct Page {
    header_type: u8,
    granule: u64,
    serial: u32,
    lacing: Vec<u8>,
    body: Vec<u8>,
}

impl PacketReader {
    fn new(file: File) -> Self {
        Self {
            reader: BufReader::with_capacity(64 * 1024, file),
            serial: None,
            ready: Default::default(),
            partial: Vec::new(),
            eof: false,
        }
    }

    /// Reads one page; `None` at a clean end of file. Bytes that are not a page are skipped up to
    /// the next capture pattern, as a damaged stream may have garbage between pages.
    fn read_page(&mut self) -> std::io::Result<Option<Page>> {
        let mut header = [0u8; 27];
        loop {
            if !read_full(&mut self.reader, &mut header[..4])? {
                return Ok(None);
            }
            if &header[..4] == b"OggS" {
                break;
            }
            // Resynchronise: step one byte past the failed match.
            self.reader.seek(SeekFrom::Current(-3))?;
        }
        if !read_full(&mut self.reader, &mut header[4..])? {
            return Ok(None);
        }
        let header_type = header[5];
        let granule = u64::from_le_bytes(header[6..14].try_into().unwrap_or_default());
        let serial = u32::from_le_bytes(header[14..18].try_into().unwrap_or_default());
        let segments = usize::from(header[26]);
        let mut lacing = vec![0u8; segments];
        if !read_full(&mut self.reader, &mut lacing)? {
            return Ok(None);
        }
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let mut body = vec![0u8; body_len];
        if !read_full(&mut self.reader, &mut body)? {
            return Ok(None);
        }
        Ok(Some(Page {
            header_type,
            granule,
            serial,
            lacing,
            body,
        }))
    }

    /// Splits a page into packets; with `drop_completed`, packets ending on this page are thrown
    /// away (the page a seek starts from: only what continues after it is wanted).
    fn take_page(&mut self, page: Page, drop_completed: bool) {
        let continued = page.header_type & 0x01 != 0;
        if !continued {
            self.partial.clear();
        }
        let mut at = 0;
        for &len in &page.lacing {
            let len = usize::from(len);
            self.partial.extend_from_slice(&page.body[at..at + len]);
            at += len;
            if len < 255 {
                let packet = std::mem::take(&mut self.partial);
                if !drop_completed && !packet.is_empty() {
                    self.ready.push_back(packet);
                }
            }
        }
    }

    fn next_packet(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Ok(Some(p));
            }
            if self.eof {
                return Ok(None);
            }
            match self.read_page()? {
                None => self.eof = true,
                Some(page) => {
                    if self.serial.is_some_and(|s| s != page.serial) {
                        continue;
                    }
                    self.take_page(page, false);
                }
            }
        }
    }

    /// Restarts at the page at `offset`; with `drop_completed`, discards what ends on it.
    fn restart_at(&mut self, offset: u64, drop_completed: bool) -> std::io::Result<()> {
        self.reader.seek(SeekFrom::Start(offset))?;
        self.ready.clear();
        self.partial.clear();
        self.eof = false;
        if drop_completed {
            if let Some(page) = self.read_page()? {
                self.take_page(page, true);
            }
        }
        Ok(())
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut at = 0;
    while at < buf.len() {
        match r.read(&mut buf[at..]) {
            Ok(0) => return Ok(false),
            Ok(n) => at += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The Opus identification header (RFC 7845 §5.1).
struct OpusHead {
    channels: u16,
    pre_skip: u64,
    gain_db: f32,
    streams: usize,
    coupled: usize,
    mapping: Vec<u8>,
}

fn parse_head(packet: &[u8]) -> Option<OpusHead> {
    if packet.len() < 19 || &packet[..8] != b"OpusHead" || packet[8] >> 4 != 0 {
        return None;
    }
    let channels = packet[9];
    if channels == 0 {
        return None;
    }
    let pre_skip = u64::from(u16::from_le_bytes([packet[10], packet[11]]));
    let gain_q8 = i16::from_le_bytes([packet[16], packet[17]]);
    let family = packet[18];
    let (streams, coupled, mapping) = if family == 0 {
        if channels > 2 {
            return None;
        }
        let mapping = (0..channels).collect();
        (1, usize::from(channels == 2), mapping)
    } else {
        let streams = usize::from(*packet.get(19)?);
        let coupled = usize::from(*packet.get(20)?);
        let mapping = packet.get(21..21 + usize::from(channels))?.to_vec();
        (streams, coupled, mapping)
    };
    Some(OpusHead {
        channels: u16::from(channels),
        pre_skip,
        gain_db: f32::from(gain_q8) / 256.0,
        streams,
        coupled,
        mapping,
    })
}

/// An Ogg Opus file being decoded.
pub(crate) struct OpusTrack {
    packets: PacketReader,
    decoder: OpusMultistreamDecoder,
    head: OpusHead,
    gain: f32,
    pages: Vec<PageInfo>,
    /// Offset of the first page after the headers.
    audio_start: u64,
    /// Last sample to play, as a granule position (the end granule).
    end_granule: Option<u64>,
    /// Granule position of the next decoded sample.
    granule: u64,
    /// Decoded samples before this granule are dropped (pre-skip, seek pre-roll).
    skip_until: u64,
    pcm: Vec<i16>,
}

fn format_error(path: &Path, message: &str) -> PlayerError {
    PlayerError::Format {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> PlayerError {
    PlayerError::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl OpusTrack {
    pub(crate) fn open(file: File, path: &Path) -> Result<Self, PlayerError> {
        let mut packets = PacketReader::new(file);
        // The first page of the stream carries only the identification header.
        let first = packets
            .read_page()
            .map_err(|e| io_error(path, e))?
            .ok_or_else(|| format_error(path, "empty Ogg stream"))?;
        packets.serial = Some(first.serial);
        packets.take_page(first, false);
        let head_packet = packets
            .next_packet()
            .map_err(|e| io_error(path, e))?
            .ok_or_else(|| format_error(path, "no Opus header"))?;
        let head = parse_head(&head_packet).ok_or_else(|| format_error(path, "unsupported Opus header"))?;
        // The comment header may span pages; audio starts on the page after the one it ends on.
        let tags = packets
            .next_packet()
            .map_err(|e| io_error(path, e))?
            .ok_or_else(|| format_error(path, "no Opus comment header"))?;
        if !tags.starts_with(b"OpusTags") {
            return Err(format_error(path, "missing OpusTags header"));
        }
        let audio_start = packets.reader.stream_position().map_err(|e| io_error(path, e))?;
        let base = first_sample_granule(&mut packets).map_err(|e| io_error(path, e))?;
        let mut pages = index_pages(&mut packets, audio_start).map_err(|e| io_error(path, e))?;
        // From here on granules count decoded samples from the first packet.
        for p in &mut pages {
            p.granule = p.granule.map(|g| (g as i64 - base).max(0) as u64);
        }
        let end_granule = end_granule(&pages, head.pre_skip);
        let decoder = OpusMultistreamDecoder::new(
            RATE,
            usize::from(head.channels),
            head.streams,
            head.coupled,
            &head.mapping,
        )
        .map_err(|e| format_error(path, &format!("Opus decoder: {e}")))?;
        packets.restart_at(audio_start, false).map_err(|e| io_error(path, e))?;
        let pcm = vec![0; MAX_PACKET_FRAMES * usize::from(head.channels)];
        Ok(Self {
            packets,
            decoder,
            gain: 10f32.powf(head.gain_db / 20.0),
            skip_until: head.pre_skip,
            head,
            pages,
            audio_start,
            end_granule,
            granule: 0,
            pcm,
        })
    }

    pub(crate) fn sample_rate(&self) -> u32 {
        RATE
    }

    pub(crate) fn channels(&self) -> u16 {
        self.head.channels
    }

    pub(crate) fn duration_frames(&self) -> Option<u64> {
        self.end_granule.map(|g| g - self.head.pre_skip)
    }

    pub(crate) fn next_chunk(&mut self, out: &mut Vec<f32>, path: &Path) -> Result<Option<Decoded>, PlayerError> {
        let channels = usize::from(self.head.channels);
        let mut errors = 0;
        loop {
            if self.end_granule.is_some_and(|end| self.granule >= end) {
                return Ok(None);
            }
            let Some(packet) = self.packets.next_packet().map_err(|e| io_error(path, e))? else {
                return Ok(None);
            };
            let frames = match self.decoder.decode(&packet, &mut self.pcm, false) {
                Ok(n) => n,
                Err(e) => {
                    errors += 1;
                    if errors > 16 {
                        return Err(PlayerError::Decode {
                            path: path.to_path_buf(),
                            message: format!("Opus: {e}"),
                        });
                    }
                    continue;
                }
            };
            let first = self.granule;
            self.granule += frames as u64;
            let from = self.skip_until.saturating_sub(first).min(frames as u64);
            let to = match self.end_granule {
                Some(end) => end.saturating_sub(first).min(frames as u64),
                None => frames as u64,
            };
            if from >= to {
                continue;
            }
            let samples = &self.pcm[from as usize * channels..to as usize * channels];
            let scale = self.gain / 32768.0;
            out.extend(samples.iter().map(|&s| f32::from(s) * scale));
            return Ok(Some(Decoded {
                start_frame: first + from - self.head.pre_skip,
                frames: (to - from) as usize,
                sample_rate: RATE,
                channels: self.head.channels,
            }));
        }
    }

    pub(crate) fn seek(&mut self, frame: u64, path: &Path) -> Result<u64, PlayerError> {
        let frame = match self.duration_frames() {
            Some(d) => frame.min(d),
            None => frame,
        };
        let target = frame + self.head.pre_skip;
        let preroll_from = target.saturating_sub(PREROLL);
        // The last page whose final packet ends at or before the pre-roll start: decoding
        // resumes with the packet after it, which starts exactly at that page's granule.
        let page = self
            .pages
            .iter()
            .take_while(|p| p.granule.is_none_or(|g| g <= preroll_from))
            .filter(|p| p.granule.is_some())
            .last()
            .copied();
        self.decoder.reset();
        match page {
            Some(PageInfo {
                offset,
                granule: Some(g),
            }) => {
                self.packets.restart_at(offset, true).map_err(|e| io_error(path, e))?;
                self.granule = g;
            }
            _ => {
                self.packets
                    .restart_at(self.audio_start, false)
                    .map_err(|e| io_error(path, e))?;
                self.granule = 0;
            }
        }
        self.skip_until = target.max(self.head.pre_skip);
        Ok(frame)
    }
}

/// Samples in an Opus packet, from its table-of-contents byte (RFC 6716 §3.1).
fn packet_samples(packet: &[u8]) -> u64 {
    let Some(&toc) = packet.first() else { return 0 };
    let config = toc >> 3;
    // Frame length in 48 kHz samples: SILK, hybrid and CELT configurations in turn.
    let frame: u64 = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => packet.get(1).map_or(0, |b| u64::from(b & 0x3f)),
    };
    frame * frames
}

/// The granule position of the first decoded sample: the first page with a granule, less the
/// samples of the packets that end by then. Normally zero; a stream cut from a longer one starts
/// later, and some encoders write a first granule short of its packets, which puts the start
/// before zero (ffmpeg then reports a negative start time).
fn first_sample_granule(packets: &mut PacketReader) -> std::io::Result<i64> {
    let mut samples = 0u64;
    while let Some(page) = packets.read_page()? {
        if packets.serial.is_some_and(|s| s != page.serial) {
            continue;
        }
        let granule = page.granule;
        packets.take_page(page, false);
        samples += packets.ready.drain(..).map(|p| packet_samples(&p)).sum::<u64>();
        if granule != u64::MAX {
            return Ok(granule as i64 - samples as i64);
        }
    }
    Ok(0)
}

/// Reads every page header after the headers, skipping bodies.
fn index_pages(packets: &mut PacketReader, from: u64) -> std::io::Result<Vec<PageInfo>> {
    let reader = &mut packets.reader;
    reader.seek(SeekFrom::Start(from))?;
    let mut pages = Vec::new();
    let mut offset = from;
    let mut header = [0u8; 27];
    let mut lacing = [0u8; 255];
    loop {
        if !read_full(reader, &mut header)? || &header[..4] != b"OggS" {
            break;
        }
        let granule = u64::from_le_bytes(header[6..14].try_into().unwrap_or_default());
        let serial = u32::from_le_bytes(header[14..18].try_into().unwrap_or_default());
        let segments = usize::from(header[26]);
        if !read_full(reader, &mut lacing[..segments])? {
            break;
        }
        let body: u64 = lacing[..segments].iter().map(|&l| u64::from(l)).sum();
        if Some(serial) == packets.serial {
            pages.push(PageInfo {
                offset,
                granule: (granule != u64::MAX).then_some(granule),
            });
        }
        offset += 27 + segments as u64 + body;
        reader.seek(SeekFrom::Start(offset))?;
    }
    Ok(pages)
}

/// The end granule, if the stream's granules are sane: they must grow page after page and stay
/// beyond the pre-skip. A stream that breaks this plays to the end of its data instead, and its
/// length is what the last sane page says.
fn end_granule(pages: &[PageInfo], pre_skip: u64) -> Option<u64> {
    let mut last: Option<u64> = None;
    for g in pages.iter().filter_map(|p| p.granule) {
        // A granule far beyond any plausible length (over a day) or going backwards is broken.
        if g > u64::from(RATE) * 86_400 || last.is_some_and(|l| g < l) {
            return None;
        }
        last = Some(g);
    }
    last.filter(|&g| g > pre_skip)
}
