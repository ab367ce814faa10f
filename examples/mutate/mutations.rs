//! Mutated copies of real audio files: bit flips, truncation, zeroed ranges, random bytes with a
//! valid extension, huge and lying tag fields, empty files. Every file is a pure function of the
//! seed and its index, so a failure found in a run of 1,000 can be made again alone.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One kind of damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1-64 bits flipped anywhere.
    BitFlips,
    /// 1-16 bits flipped in the first 4 KiB, where the headers are.
    HeaderBitFlips,
    /// Ogg files: bits flipped, then every page checksum recomputed, so the damage passes the
    /// container's CRC check and reaches the codec. Other files: like `BitFlips`.
    OggBitFlipsValidCrc,
    /// Cut at a random point.
    Truncated,
    /// A random range (up to 64 KiB) set to zero.
    ZeroedRange,
    /// The first 16-512 bytes set to zero.
    ZeroedHeader,
    /// Random bytes, random length, an audio extension.
    RandomBytes,
    /// The file's first 4-64 bytes (its magic), then random bytes.
    MagicThenRandom,
    /// A 1 MB text tag field: ID3v2.4 TIT2, FLAC/Vorbis comment, RIFF INFO, MP4 ©nam.
    HugeTag,
    /// A header whose length field claims far more than the file holds.
    LyingSize,
    /// A real file of one format named with another format's extension.
    WrongExtension,
    /// A range copied over another part of the file.
    DuplicatedRange,
    /// A 0-byte file.
    Empty,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::BitFlips => "bit-flips",
            Kind::HeaderBitFlips => "header-bit-flips",
            Kind::OggBitFlipsValidCrc => "ogg-bit-flips-valid-crc",
            Kind::Truncated => "truncated",
            Kind::ZeroedRange => "zeroed-range",
            Kind::ZeroedHeader => "zeroed-header",
            Kind::RandomBytes => "random-bytes",
            Kind::MagicThenRandom => "magic-then-random",
            Kind::HugeTag => "huge-tag",
            Kind::LyingSize => "lying-size",
            Kind::WrongExtension => "wrong-extension",
            Kind::DuplicatedRange => "duplicated-range",
            Kind::Empty => "empty",
        }
    }
}

const ROTATION: [Kind; 12] = [
    Kind::BitFlips,
    Kind::HeaderBitFlips,
    Kind::OggBitFlipsValidCrc,
    Kind::Truncated,
    Kind::ZeroedRange,
    Kind::ZeroedHeader,
    Kind::RandomBytes,
    Kind::MagicThenRandom,
    Kind::HugeTag,
    Kind::LyingSize,
    Kind::WrongExtension,
    Kind::DuplicatedRange,
];

/// A written mutated file.
#[derive(Debug, Clone)]
pub struct Mutant {
    pub path: PathBuf,
    pub kind: Kind,
    pub source: String,
}

/// The size of a huge tag field.
const HUGE: usize = 1 << 20;

/// Writes `count` mutated files made from the audio files in `corpus` into `out` (created if
/// needed) and a `manifest.tsv` naming each file's source and kind.
pub fn generate(corpus: &Path, out: &Path, count: usize, seed: u64) -> std::io::Result<Vec<Mutant>> {
    std::fs::create_dir_all(out)?;
    let mut sources: Vec<PathBuf> = std::fs::read_dir(corpus)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    sources.sort();
    if sources.is_empty() {
        return Err(std::io::Error::other(format!(
            "{}: no files to mutate",
            corpus.display()
        )));
    }
    let originals: Vec<Vec<u8>> = sources.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    let mut mutants = Vec::with_capacity(count);
    let mut manifest = String::from("file\tkind\tsource\n");
    for i in 0..count {
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64);
        let kind = if i % 200 == 0 {
            Kind::Empty
        } else {
            ROTATION[i % ROTATION.len()]
        };
        let s = rng.random_range(0..sources.len());
        let source = &sources[s];
        let mut ext = extension(source);
        let bytes = match kind {
            Kind::WrongExtension => {
                let other = (s + rng.random_range(1..sources.len().max(2))) % sources.len();
                ext = extension(&sources[other]);
                if ext == extension(source) {
                    ext = if ext == "mp3" { "flac".into() } else { "mp3".into() };
                }
                originals[s].clone()
            }
            _ => mutate(kind, &originals[s], &ext, &mut rng, out, i),
        };
        let path = out.join(format!("m{i:04}-{}.{ext}", kind.name()));
        std::fs::write(&path, &bytes)?;
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        manifest.push_str(&format!(
            "{}\t{}\t{name}\n",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
            kind.name()
        ));
        mutants.push(Mutant {
            path,
            kind,
            source: name,
        });
    }
    std::fs::write(out.join("manifest.tsv"), manifest)?;
    Ok(mutants)
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

fn mutate(kind: Kind, original: &[u8], ext: &str, rng: &mut ChaCha8Rng, out: &Path, i: usize) -> Vec<u8> {
    let mut b = original.to_vec();
    let len = b.len().max(1);
    match kind {
        Kind::BitFlips => flip_bits(&mut b, rng.random_range(1..=64), len, rng),
        Kind::HeaderBitFlips => flip_bits(&mut b, rng.random_range(1..=16), len.min(4096), rng),
        Kind::OggBitFlipsValidCrc => {
            flip_bits(&mut b, rng.random_range(1..=32), len, rng);
            if b.starts_with(b"OggS") {
                fix_ogg_crcs(&mut b);
            }
        }
        Kind::Truncated => b.truncate(rng.random_range(0..len)),
        Kind::ZeroedRange => {
            let start = rng.random_range(0..len);
            let end = (start + rng.random_range(1..=65_536)).min(b.len());
            b[start.min(end)..end].fill(0);
        }
        Kind::ZeroedHeader => {
            let end = rng.random_range(16..=512).min(b.len());
            b[..end].fill(0);
        }
        Kind::RandomBytes => {
            let n = rng.random_range(1..=200_000);
            b = (0..n).map(|_| rng.random()).collect();
        }
        Kind::MagicThenRandom => {
            let keep = rng.random_range(4..=64).min(b.len());
            let n = rng.random_range(1..=200_000);
            b.truncate(keep);
            b.extend((0..n).map(|_| rng.random::<u8>()));
        }
        Kind::HugeTag => b = huge_tag(b, ext, rng, out, i),
        Kind::LyingSize => lying_size(&mut b, ext, rng),
        Kind::DuplicatedRange => {
            let n = rng.random_range(1..=32_768).min(b.len() / 2).max(1);
            let from = rng.random_range(0..len.saturating_sub(n).max(1));
            let to = rng.random_range(0..len.saturating_sub(n).max(1));
            if from + n <= b.len() && to + n <= b.len() {
                b.copy_within(from..from + n, to);
            }
        }
        Kind::WrongExtension | Kind::Empty => b.clear(),
    }
    b
}

fn flip_bits(b: &mut [u8], flips: usize, within: usize, rng: &mut ChaCha8Rng) {
    if b.is_empty() {
        return;
    }
    let within = within.min(b.len());
    for _ in 0..flips {
        let at = rng.random_range(0..within);
        b[at] ^= 1 << rng.random_range(0..8);
    }
}

fn huge_text(rng: &mut ChaCha8Rng) -> Vec<u8> {
    (0..HUGE).map(|_| b'a' + rng.random_range(0..26u8)).collect()
}

fn syncsafe(n: usize) -> [u8; 4] {
    [
        (n >> 21) as u8 & 0x7f,
        (n >> 14) as u8 & 0x7f,
        (n >> 7) as u8 & 0x7f,
        n as u8 & 0x7f,
    ]
}

/// The length of an ID3v2 tag at the start of `b` (header and footer included), 0 without one.
fn id3v2_len(b: &[u8]) -> usize {
    if b.len() < 10 || !b.starts_with(b"ID3") {
        return 0;
    }
    let size = b[6..10]
        .iter()
        .fold(0usize, |acc, &x| (acc << 7) | usize::from(x & 0x7f));
    let footer = if b[5] & 0x10 != 0 { 10 } else { 0 };
    (10 + size + footer).min(b.len())
}

fn huge_tag(b: Vec<u8>, ext: &str, rng: &mut ChaCha8Rng, out: &Path, i: usize) -> Vec<u8> {
    let text = huge_text(rng);
    match ext {
        "mp3" => {
            // An ID3v2.4 tag whose title frame holds 1 MB of UTF-8 text, replacing the old tag.
            let mut frame = b"TIT2".to_vec();
            frame.extend(syncsafe(text.len() + 1));
            frame.extend([0, 0, 3]);
            frame.extend(&text);
            let mut tag = b"ID3\x04\x00\x00".to_vec();
            tag.extend(syncsafe(frame.len()));
            tag.extend(frame);
            tag.extend(&b[id3v2_len(&b)..]);
            tag
        }
        "flac" if b.starts_with(b"fLaC") && b.len() > 8 => {
            // A second VORBIS_COMMENT block with a 1 MB TITLE, right after STREAMINFO.
            let first_len = usize::from(b[5]) << 16 | usize::from(b[6]) << 8 | usize::from(b[7]);
            let after = (8 + first_len).min(b.len());
            let was_last = b[4] & 0x80;
            let mut body = Vec::new();
            body.extend(6u32.to_le_bytes());
            body.extend(b"mutate");
            body.extend(1u32.to_le_bytes());
            body.extend(((text.len() + 6) as u32).to_le_bytes());
            body.extend(b"TITLE=");
            body.extend(&text);
            let mut out = b[..after].to_vec();
            out[4] &= 0x7f;
            out.push(was_last | 4);
            out.extend(&(body.len() as u32).to_be_bytes()[1..]);
            out.extend(body);
            out.extend(&b[after..]);
            out
        }
        "wav" if b.starts_with(b"RIFF") && b.len() > 12 => {
            // A LIST/INFO chunk with a 1 MB INAM, appended, and the RIFF size updated.
            let mut info = b"INFO".to_vec();
            info.extend(b"INAM");
            info.extend(((text.len() + 1) as u32).to_le_bytes());
            info.extend(&text);
            info.extend([0, 0]);
            let mut out = b.clone();
            out.extend(b"LIST");
            out.extend((info.len() as u32).to_le_bytes());
            out.extend(info);
            let riff = (out.len() - 8) as u32;
            out[4..8].copy_from_slice(&riff.to_le_bytes());
            out
        }
        _ => lofty_huge_title(&b, ext, &text, out, i).unwrap_or_else(|| {
            // A file lofty cannot rewrite: the huge text spliced in after the first 4 KiB.
            let at = b.len().min(4096);
            let mut out = b[..at].to_vec();
            out.extend(&text);
            out.extend(&b[at..]);
            out
        }),
    }
}

/// Rewrites the file with lofty, adding a 1 MB title (Ogg and Opus keep it in the stream's
/// comment header, MP4 in its `ilst` atom). The work file is always removed, so `out` holds
/// only the mutants.
fn lofty_huge_title(b: &[u8], ext: &str, text: &[u8], out: &Path, i: usize) -> Option<Vec<u8>> {
    use lofty::config::WriteOptions;
    use lofty::prelude::{Accessor, TagExt, TaggedFileExt};
    use lofty::tag::Tag;

    let work = out.join(format!(".huge-tag-{i}.{ext}"));
    std::fs::write(&work, b).ok()?;
    let rewritten = (|| {
        let file = lofty::read_from_path(&work).ok()?;
        let mut tag = file
            .primary_tag()
            .cloned()
            .unwrap_or_else(|| Tag::new(file.primary_tag_type()));
        tag.set_title(String::from_utf8_lossy(text).into_owned());
        tag.save_to_path(&work, WriteOptions::default()).ok()?;
        std::fs::read(&work).ok()
    })();
    let _ = std::fs::remove_file(&work);
    rewritten
}

fn lying_size(b: &mut Vec<u8>, ext: &str, rng: &mut ChaCha8Rng) {
    let huge = [0xFFu8, 0xFF, 0xFF, 0xF0];
    match ext {
        "mp3" if b.starts_with(b"ID3") && b.len() > 10 => b[6..10].copy_from_slice(&[0x7f; 4]),
        "mp3" => b.splice(0..0, *b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f").for_each(drop),
        "flac" if b.len() > 8 => b[5..8].copy_from_slice(&[0xff; 3]),
        "wav" => {
            // The `fmt ` or `data` chunk claims 4 GB.
            let name: &[u8] = if rng.random() { b"fmt " } else { b"data" };
            if let Some(at) = b.windows(4).position(|w| w == name) {
                if at + 8 <= b.len() {
                    b[at + 4..at + 8].copy_from_slice(&huge);
                }
            }
        }
        "m4a" => {
            // One of the boxes claims 4 GB (or 0 or 1: "to the end" and "64-bit size follows").
            let boxes: [&[u8]; 6] = [b"moov", b"trak", b"stsd", b"stsz", b"stco", b"ilst"];
            let name = boxes[rng.random_range(0..boxes.len())];
            let size: [u8; 4] = match rng.random_range(0..3) {
                0 => huge,
                1 => [0, 0, 0, 1],
                _ => [0, 0, 0, 0],
            };
            if let Some(at) = b.windows(4).position(|w| w == name) {
                if at >= 4 {
                    b[at - 4..at].copy_from_slice(&size);
                }
            }
        }
        _ if b.starts_with(b"OggS") => {
            // The comment header's vendor string length claims 4 GB, the page CRC still valid.
            let marker: &[u8] = if ext == "opus" { b"OpusTags" } else { b"\x03vorbis" };
            if let Some(at) = b.windows(marker.len()).position(|w| w == marker) {
                let field = at + marker.len();
                if field + 4 <= b.len() {
                    b[field..field + 4].copy_from_slice(&huge);
                    fix_ogg_crcs(b);
                }
            }
        }
        _ => {}
    }
}

/// Recomputes the checksum of every Ogg page that can be found in `b`.
pub fn fix_ogg_crcs(b: &mut [u8]) {
    let mut at = 0;
    while at + 27 <= b.len() {
        if &b[at..at + 4] != b"OggS" {
            at += 1;
            continue;
        }
        let segments = usize::from(b[at + 26]);
        let header_len = 27 + segments;
        if at + header_len > b.len() {
            break;
        }
        let body: usize = b[at + 27..at + header_len].iter().map(|&l| usize::from(l)).sum();
        let end = at + header_len + body;
        if end > b.len() {
            break;
        }
        b[at + 22..at + 26].fill(0);
        let crc = ogg_crc(&b[at..end]);
        b[at + 22..at + 26].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

/// The Ogg page checksum: CRC-32, polynomial 0x04c11db7, not reflected, initial value 0.
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}
