//! The one track type ([`Track`]): a music file and what its tags and audio properties say,
//! as the scanner reads it, the index stores it and every other part shows, plays, recommends
//! and publishes it.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// ReplayGain values in dB (gain) and linear amplitude (peak).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ReplayGain {
    #[serde(rename = "rg_track_gain")]
    pub track_gain: Option<f32>,
    #[serde(skip)]
    pub track_peak: Option<f32>,
    #[serde(rename = "rg_album_gain")]
    pub album_gain: Option<f32>,
    #[serde(skip)]
    pub album_peak: Option<f32>,
}

/// One music file. `id` is its row in the index, 0 for a file not stored there (a file just
/// read by the scanner, or a play known only by its tags, as in a listening-history export).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Track {
    pub id: i64,
    #[serde(serialize_with = "serialize_path")]
    pub path: PathBuf,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub album_artist: Option<String>,
    pub track_no: Option<u32>,
    pub disc_no: Option<u32>,
    pub year: Option<i32>,
    pub genre: Option<String>,
    pub duration_ms: Option<u64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
    pub bitrate_kbps: Option<u32>,
    /// The file embeds a picture.
    pub has_cover: bool,
    #[serde(flatten)]
    pub replay_gain: ReplayGain,
}

fn serialize_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

impl Track {
    /// "Artist – Title", or the title alone.
    pub fn display_name(&self) -> String {
        match &self.artist {
            Some(artist) => format!("{artist} – {}", self.title),
            None => self.title.clone(),
        }
    }
}
