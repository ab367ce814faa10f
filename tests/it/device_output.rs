//! The sound-card path, through a real ALSA device: alsa-lib's `file` plugin, named in an
//! `.asoundrc` of the test's own home, writes what the player sends to the card into a file,
//! which is then read back. A track at another rate than the card's is resampled without a
//! buzz or aliasing, and surround is mixed down rather than cut.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A home whose `.asoundrc` makes the default ALSA device a file (raw samples) in `dir`.
fn card_to_file(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = dir.join("card.raw");
    std::fs::write(
        home.join(".asoundrc"),
        format!(
            "pcm.!default {{ type file; slave.pcm \"silent\"; file \"{}\"; format \"raw\" }}\npcm.silent {{ type null }}\n",
            out.display()
        ),
    )
    .unwrap();
    (home, out)
}

/// A WAVE_FORMAT_EXTENSIBLE file of 32-bit float samples: `channels` channels in the WAVE order,
/// `frame(i)` giving frame i.
fn write_wav(path: &Path, rate: u32, channels: u16, frames: usize, frame: impl Fn(usize) -> Vec<f32>) {
    let data: Vec<u8> = (0..frames)
        .flat_map(|i| frame(i).into_iter().flat_map(f32::to_le_bytes))
        .collect();
    let block = u32::from(channels) * 4;
    let mut wav = Vec::new();
    wav.extend(b"RIFF");
    wav.extend((4 + 8 + 40 + 8 + data.len() as u32).to_le_bytes());
    wav.extend(b"WAVEfmt ");
    wav.extend(40u32.to_le_bytes());
    wav.extend(0xFFFEu16.to_le_bytes());
    wav.extend(channels.to_le_bytes());
    wav.extend(rate.to_le_bytes());
    wav.extend((rate * block).to_le_bytes());
    wav.extend((block as u16).to_le_bytes());
    wav.extend(32u16.to_le_bytes());
    wav.extend(22u16.to_le_bytes());
    wav.extend(32u16.to_le_bytes());
    let mask: u32 = (1 << channels) - 1;
    wav.extend(mask.to_le_bytes());
    // KSDATAFORMAT_SUBTYPE_IEEE_FLOAT
    wav.extend([3, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71]);
    wav.extend(b"data");
    wav.extend((data.len() as u32).to_le_bytes());
    wav.extend(data);
    std::fs::write(path, wav).unwrap();
}

/// Plays `files` to the ALSA file device and returns the card's two channels (32-bit float, the
/// format cpal opens the null device with).
fn played_on_the_card(dir: &Path, files: &[&Path]) -> (Vec<f32>, Vec<f32>) {
    let (home, out) = card_to_file(dir);
    let data = dir.join("data");
    let played = skipless(&data)
        .env("HOME", &home)
        .args(["--audio", "device", "play"])
        .args(files)
        .output()
        .unwrap();
    assert!(played.status.success(), "{}", String::from_utf8_lossy(&played.stderr));
    let bytes = std::fs::read(&out).expect("the card's file was written");
    let samples: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (left, right)
}

/// The part of `x` that is no sinusoid, against the sinusoid, in dB: for a sampled sine,
/// x[n+1] + x[n-1] is exactly 2cos(w)·x[n], so what the best such fit leaves over is noise,
/// spurs and clicks.
fn not_a_sine_db(x: &[f32]) -> f64 {
    let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let sums: Vec<(f64, f64)> = (1..x.len() - 1).map(|n| (x[n + 1] + x[n - 1], x[n])).collect();
    let k = sums.iter().map(|(s, v)| s * v).sum::<f64>() / sums.iter().map(|(_, v)| v * v).sum::<f64>();
    let residual: f64 = sums.iter().map(|(s, v)| (s - k * v).powi(2)).sum();
    let signal: f64 = sums.iter().map(|(_, v)| (k * v).powi(2)).sum();
    10.0 * (residual / signal).log10()
}

/// The samples of `x` from the first audible one, `skip` frames in, `len` long.
fn steady(x: &[f32], skip: usize, len: usize) -> &[f32] {
    let first = x.iter().position(|v| v.abs() > 1e-3).expect("something was played");
    &x[first + skip..first + skip + len]
}

#[test]
fn a_track_at_another_rate_than_the_cards_is_resampled_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    let w = 2.0 * std::f64::consts::PI * 1000.0 / 44_100.0;
    write_wav(&tone, 44_100, 2, 88_200, |i| {
        let v = (0.5 * (w * i as f64).sin()) as f32;
        vec![v, v]
    });
    let (left, _) = played_on_the_card(dir.path(), &[&tone]);
    // Six quarter-second windows: a buzz of the conversion is in every one, while a moment the
    // output was starved on a loaded machine (a gap, not the converter's doing) spoils one or
    // two, so the median window judges the converter.
    let mut windows: Vec<f64> = (0..6)
        .map(|w| not_a_sine_db(steady(&left, 10_000 + w * 12_000, 12_000)))
        .collect();
    windows.sort_by(f64::total_cmp);
    let db = (windows[2] + windows[3]) / 2.0;
    // rodio's own conversion, restarted at every chunk, left -62 dB here; rubato's, -136 dB.
    assert!(
        db < -100.0,
        "the 1 kHz tone came out with {db:.1} dB of something else (windows {windows:.1?})"
    );
}

#[test]
fn surround_is_mixed_down_to_the_front_pair_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    let centre = dir.path().join("centre.wav");
    let w = 2.0 * std::f64::consts::PI * 700.0 / 48_000.0;
    // 5.1 with only the centre channel (dialogue, a lead voice) sounding.
    write_wav(&centre, 48_000, 6, 48_000, |i| {
        let mut frame = vec![0.0; 6];
        frame[2] = (0.5 * (w * i as f64).sin()) as f32;
        frame
    });
    let (left, right) = played_on_the_card(dir.path(), &[&centre]);
    let rms = |x: &[f32]| (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let (l, r) = (rms(steady(&left, 1_000, 20_000)), rms(steady(&right, 1_000, 20_000)));
    // The centre at -3 dB into each side, scaled down with the rest of the 5.1 mix.
    assert!(l > 0.05 && (l - r).abs() < 1e-3, "left {l:.4}, right {r:.4}");
}
