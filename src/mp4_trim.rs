//! The gapless trim of an MP4 / M4A file's audio track ([`Mp4Trim`]), read from its edit list
//! (`elst`) or, where that says nothing, from iTunes' `iTunSMPB` tag.
//!
//! AAC encoders put about a thousand frames of priming before the music and pad the last
//! packet; the container says how much to cut, and symphonia 0.5 reads neither place. Without
//! this, every join between two AAC tracks of an album carries some 2,000 frames of silence.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What to play of the audio track, in units of its media time scale (its sample rate, for
/// every AAC file seen in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mp4Trim {
    /// Frames decoded and dropped at the start.
    pub first: u64,
    /// Frames played from `first` on.
    pub frames: u64,
    /// The media time scale: units per second.
    pub scale: u32,
}

impl Mp4Trim {
    /// The length played, in milliseconds.
    pub(crate) fn duration_ms(&self) -> u64 {
        (u128::from(self.frames) * 1000 / u128::from(self.scale.max(1))) as u64
    }
}

/// A `moov` box larger than this is taken for a damaged size field.
const MAX_MOOV_BYTES: u64 = 64 << 20;

/// The trim of `path`'s first audio track; `None` for a file that is no MP4, has no audio
/// track, or states no trim (or one this reader does not follow, such as several edits).
pub(crate) fn read(path: &Path) -> Option<Mp4Trim> {
    let moov = read_moov(path)?;
    let movie_scale = full_box(child(&moov, b"mvhd")?).and_then(|(version, body)| {
        let at = if version == 1 { 16 } else { 8 };
        be_u32(body, at)
    })?;
    let trak = children(&moov)
        .filter(|(kind, _)| kind == b"trak")
        .map(|(_, body)| body)
        .find(|trak| handler(trak) == Some(*b"soun"))?;
    let media_scale = child(trak, b"mdia")
        .and_then(|mdia| child(mdia, b"mdhd"))
        .and_then(full_box)
        .and_then(|(version, body)| be_u32(body, if version == 1 { 16 } else { 8 }))?;
    if movie_scale == 0 || media_scale == 0 {
        return None;
    }
    let edit = child(trak, b"edts")
        .and_then(|edts| child(edts, b"elst"))
        .and_then(|elst| edit_of(elst, movie_scale, media_scale));
    match edit {
        Some(trim) if trim.first > 0 => Some(trim),
        _ => itunes_smpb(&moov, media_scale).or(edit),
    }
}

/// The one non-empty edit of an edit list, if it has exactly one.
fn edit_of(elst: &[u8], movie_scale: u32, media_scale: u32) -> Option<Mp4Trim> {
    let (version, body) = full_box(elst)?;
    let size = if version == 1 { 20 } else { 12 };
    // A count past the box's end is a damaged field: only the entries there are read.
    let count = (be_u32(body, 0)? as usize).min(body.len().saturating_sub(4) / size);
    let mut edits = (0..count).filter_map(|i| {
        let at = 4 + i * size;
        let (duration, media_time) = if version == 1 {
            (be_u64(body, at)?, be_u64(body, at + 8)? as i64)
        } else {
            (u64::from(be_u32(body, at)?), i64::from(be_u32(body, at + 4)? as i32))
        };
        // A media time of -1 is an empty edit: time before the track starts, not a cut.
        (media_time >= 0).then_some((duration, media_time as u64))
    });
    let (duration, media_time) = edits.next()?;
    if edits.next().is_some() || duration == 0 {
        return None;
    }
    let frames = u128::from(duration) * u128::from(media_scale) / u128::from(movie_scale);
    Some(Mp4Trim {
        first: media_time,
        frames: u64::try_from(frames).ok()?,
        scale: media_scale,
    })
}

/// iTunes' gapless tag: " 00000000 00000840 000001CC 00000000004F6B34 ...", hexadecimal
/// priming, padding and the original length in frames.
fn itunes_smpb(moov: &[u8], scale: u32) -> Option<Mp4Trim> {
    let meta = child(child(moov, b"udta")?, b"meta")?;
    // ISO's `meta` is a full box; QuickTime's has no version field and starts with a box.
    let meta = if meta.get(4..8) == Some(b"hdlr") {
        meta
    } else {
        meta.get(4..)?
    };
    let ilst = child(meta, b"ilst")?;
    children(ilst)
        .filter(|(kind, _)| kind == b"----")
        .find_map(|(_, item)| {
            let name = full_box(child(item, b"name")?)?.1;
            if name != b"iTunSMPB" {
                return None;
            }
            // The data box: a type and a locale, 4 bytes each, then the text.
            let text = std::str::from_utf8(child(item, b"data")?.get(8..)?).ok()?;
            let fields: Vec<u64> = text
                .split_whitespace()
                .map_while(|f| u64::from_str_radix(f, 16).ok())
                .collect();
            match fields[..] {
                [_, priming, _, frames, ..] if frames > 0 => Some(Mp4Trim {
                    first: priming,
                    frames,
                    scale,
                }),
                _ => None,
            }
        })
}

/// The handler type of a `trak`: `soun` for audio.
fn handler(trak: &[u8]) -> Option<[u8; 4]> {
    let hdlr = child(child(trak, b"mdia")?, b"hdlr")?;
    full_box(hdlr)?.1.get(4..8)?.try_into().ok()
}

/// The `moov` box's body, found by walking the file's top-level boxes (over `mdat` by seeking).
fn read_moov(path: &Path) -> Option<Vec<u8>> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut at = 0u64;
    let mut first = true;
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8]).ok()?;
        let kind: [u8; 4] = head[4..8].try_into().ok()?;
        if first && &kind != b"ftyp" {
            return None;
        }
        first = false;
        let (size, header) = match u32::from_be_bytes(head[..4].try_into().ok()?) {
            0 => (len - at, 8),
            1 => {
                file.read_exact(&mut head[8..]).ok()?;
                (u64::from_be_bytes(head[8..].try_into().ok()?), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return None;
        }
        let next = at.checked_add(size).filter(|&next| next <= len)?;
        if &kind == b"moov" {
            let body = size - header;
            if body > MAX_MOOV_BYTES {
                return None;
            }
            let mut moov = vec![0u8; body as usize];
            file.read_exact(&mut moov).ok()?;
            return Some(moov);
        }
        at = next;
    }
    None
}

/// The boxes inside `body`, as (type, body) pairs; stops at the first malformed size.
fn children(mut body: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = be_u32(body, 0)? as usize;
        let kind: [u8; 4] = body.get(4..8)?.try_into().ok()?;
        let (start, end) = match size {
            0 => (8, body.len()),
            1 => (16, usize::try_from(be_u64(body, 8)?).ok()?),
            n => (8, n),
        };
        let inner = body.get(start..end)?;
        body = &body[end..];
        Some((kind, inner))
    })
}

fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(body).find(|(k, _)| k == kind).map(|(_, b)| b)
}

/// A full box's version and the body after its version and flags.
fn full_box(body: &[u8]) -> Option<(u8, &[u8])> {
    Some((*body.first()?, body.get(4..)?))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn full(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
        let mut inner = vec![version, 0, 0, 0];
        inner.extend_from_slice(body);
        boxed(kind, &inner)
    }

    /// A file with one audio track at 44.1 kHz in a movie at time scale 1000.
    fn mp4(edits: &[(u32, i32)], smpb: Option<&str>) -> tempfile::NamedTempFile {
        let mut mvhd = vec![0u8; 8];
        mvhd.extend_from_slice(&1000u32.to_be_bytes());
        mvhd.extend_from_slice(&[0u8; 84]);
        let mut mdhd = vec![0u8; 8];
        mdhd.extend_from_slice(&44_100u32.to_be_bytes());
        mdhd.extend_from_slice(&[0u8; 8]);
        let mut hdlr = vec![0u8; 4];
        hdlr.extend_from_slice(b"soun");
        hdlr.extend_from_slice(&[0u8; 13]);
        let mut elst = (edits.len() as u32).to_be_bytes().to_vec();
        for (duration, media_time) in edits {
            elst.extend_from_slice(&duration.to_be_bytes());
            elst.extend_from_slice(&media_time.to_be_bytes());
            elst.extend_from_slice(&[0, 1, 0, 0]);
        }
        let mdia = [full(b"mdhd", 0, &mdhd), full(b"hdlr", 0, &hdlr)].concat();
        let trak = [boxed(b"edts", &full(b"elst", 0, &elst)), boxed(b"mdia", &mdia)].concat();
        let mut moov = [full(b"mvhd", 0, &mvhd), boxed(b"trak", &trak)].concat();
        if let Some(text) = smpb {
            let item = [
                boxed(b"mean", &[&[0u8; 4][..], b"com.apple.iTunes"].concat()),
                full(b"name", 0, b"iTunSMPB"),
                boxed(b"data", &[&[0u8, 0, 0, 1, 0, 0, 0, 0][..], text.as_bytes()].concat()),
            ]
            .concat();
            let meta = full(b"meta", 0, &boxed(b"ilst", &boxed(b"----", &item)));
            moov.extend(boxed(b"udta", &meta));
        }
        let file = [
            boxed(b"ftyp", b"M4A \0\0\0\0"),
            boxed(b"mdat", &[0u8; 100]),
            boxed(b"moov", &moov),
        ]
        .concat();
        let mut out = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut out, &file).expect("write");
        out
    }

    #[test]
    fn an_edit_list_gives_the_priming_and_the_length_in_media_frames() {
        // 26,841 ms of movie time at 44.1 kHz.
        let file = mp4(&[(26_841, 1024)], None);
        assert_eq!(
            read(file.path()),
            Some(Mp4Trim {
                first: 1024,
                frames: 1_183_688,
                scale: 44_100
            })
        );
    }

    #[test]
    fn an_empty_edit_before_the_track_is_no_cut() {
        let file = mp4(&[(500, -1), (1000, 2112)], None);
        assert_eq!(
            read(file.path()),
            Some(Mp4Trim {
                first: 2112,
                frames: 44_100,
                scale: 44_100
            })
        );
    }

    #[test]
    fn itunes_gapless_tag_counts_where_the_edit_list_cuts_nothing() {
        let file = mp4(
            &[(1000, 0)],
            Some(" 00000000 00000840 000001CC 0000000000010000 00000000 00000000"),
        );
        assert_eq!(
            read(file.path()),
            Some(Mp4Trim {
                first: 0x840,
                frames: 0x10000,
                scale: 44_100
            })
        );
    }

    #[test]
    fn several_edits_or_no_mp4_give_no_trim() {
        assert_eq!(read(mp4(&[(500, 0), (500, 30_000)], None).path()), None);
        let mut other = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut other, b"RIFF\0\0\0\0WAVEfmt ").expect("write");
        assert_eq!(read(other.path()), None);
    }
}
