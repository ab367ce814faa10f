//! Soak run: the headless player with autoplay and background retraining over a generated
//! library, for thousands of plays, watching memory, file handles and the log.
//!
//! ```text
//! cargo build --release && cargo run --release --example soak -- [--tracks 10000] [--plays 10000] [--speed 40]
//! ```
//!
//! It writes `--tracks` one-second WAV files with distinct RIFF INFO tags (500 artists, 2,000
//! albums) into a temporary folder, scans them, then runs `skipless play --autoplay --json` on
//! the first one with the null output at `--speed` times real time. Every fifth track is skipped
//! through stdin, so the log has both listens and skips and the trainer sees both. Resident
//! memory (VmRSS) and open file descriptors are sampled from /proc every 500 plays; after
//! `--plays` tracks have started the player is told to quit and the log is checked: one row per
//! started play, none open, and `PRAGMA integrity_check` = ok.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const RATE: u32 = 8_000;

struct Options {
    tracks: usize,
    plays: usize,
    speed: u32,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        tracks: 10_000,
        plays: 10_000,
        speed: 40,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number: usize = value.parse().map_err(|_| format!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            "--tracks" => options.tracks = number,
            "--plays" => options.plays = number,
            "--speed" => options.speed = number as u32,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

/// A one-second mono 16-bit WAV with a LIST/INFO chunk naming title, artist and album.
fn wav(frequency: f32, title: &str, artist: &str, album: &str) -> Vec<u8> {
    let samples: Vec<i16> = (0..RATE)
        .map(|i| ((i as f32 * frequency * std::f32::consts::TAU / RATE as f32).sin() * 8_000.0) as i16)
        .collect();
    let mut info = b"INFO".to_vec();
    for (id, text) in [(b"INAM", title), (b"IART", artist), (b"IPRD", album)] {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        info.extend_from_slice(id);
        info.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        info.extend_from_slice(&bytes);
    }
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(64 + info.len() + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(4 + 24 + 8 + data_len + 8 + info.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.extend_from_slice(b"LIST");
    out.extend_from_slice(&(info.len() as u32).to_le_bytes());
    out.extend_from_slice(&info);
    out
}

fn generate(dir: &Path, tracks: usize) -> std::io::Result<PathBuf> {
    let mut first = None;
    for i in 0..tracks {
        let artist = format!("Artist {:03}", i % 500);
        let album = format!("Album {:04}", i % 2_000);
        let folder = dir.join(&artist).join(&album);
        std::fs::create_dir_all(&folder)?;
        let path = folder.join(format!("{i:05}.wav"));
        let frequency = 220.0 + (i % 400) as f32;
        std::fs::write(&path, wav(frequency, &format!("Song {i}"), &artist, &album))?;
        first.get_or_insert(path);
    }
    first.ok_or_else(|| std::io::Error::other("no tracks"))
}

/// (VmRSS in KiB, open file descriptors) of a process.
fn sample(pid: u32) -> (u64, usize) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/skipless");
    if !binary.exists() {
        return Err(format!("{} is missing: run `cargo build --release` first", binary.display()).into());
    }
    let work = tempfile::tempdir()?;
    let music = work.path().join("music");
    let data = work.path().join("data");
    let started_at = Instant::now();
    let first = generate(&music, options.tracks)?;
    println!(
        "generated {} tracks in {:.1} s",
        options.tracks,
        started_at.elapsed().as_secs_f64()
    );
    let scan = Command::new(&binary)
        .arg("--data-dir")
        .arg(&data)
        .arg("scan")
        .arg(&music)
        .output()?;
    if !scan.status.success() {
        return Err(format!("scan failed: {}", String::from_utf8_lossy(&scan.stderr)).into());
    }

    let mut player = Command::new(&binary)
        .arg("--data-dir")
        .arg(&data)
        .args(["--audio", "null", "play", "--json", "--autoplay"])
        .arg(&first)
        .env("SKIPLESS_NULL_SPEED", options.speed.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = player.id();
    let mut stdin = player.stdin.take().ok_or("no stdin")?;
    let stdout = BufReader::new(player.stdout.take().ok_or("no stdout")?);
    let mut started = 0usize;
    let mut trainings = 0usize;
    let mut samples = Vec::new();
    let run_start = Instant::now();
    for line in stdout.lines() {
        let line = line?;
        let event: serde_json::Value = serde_json::from_str(&line)?;
        match event["event"].as_str() {
            Some("started") => {
                started += 1;
                if started == 1 || started.is_multiple_of(500) {
                    let (rss, fds) = sample(pid);
                    println!(
                        "plays {started:>6}  rss {:>7.1} MiB  fds {fds:>3}  {:>6.0} s",
                        rss as f64 / 1024.0,
                        run_start.elapsed().as_secs_f64()
                    );
                    samples.push((started, rss, fds));
                }
                if started >= options.plays {
                    writeln!(stdin, "quit")?;
                } else if started.is_multiple_of(5) {
                    writeln!(stdin, "next")?;
                }
            }
            Some("model") => trainings += 1,
            _ => {}
        }
    }
    let status = player.wait()?;
    if started < options.plays {
        let log = std::fs::read_to_string(data.join("skipless.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        println!("the player stopped by itself; the end of skipless.log:");
        for line in tail.into_iter().rev() {
            println!("  {line}");
        }
    }
    let conn = rusqlite::Connection::open(data.join("skipless.db"))?;
    let rows: usize = conn.query_row("SELECT count(*) FROM plays", [], |r| r.get(0))?;
    let open: usize = conn.query_row("SELECT count(*) FROM plays WHERE end_reason IS NULL", [], |r| r.get(0))?;
    let skips: usize = conn.query_row("SELECT count(*) FROM plays WHERE skipped = 1", [], |r| r.get(0))?;
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    let (first_rss, first_fds) = samples
        .get(1)
        .or(samples.first())
        .map(|s| (s.1, s.2))
        .unwrap_or_default();
    let (last_rss, last_fds) = samples.last().map(|s| (s.1, s.2)).unwrap_or_default();
    println!(
        "\nexit {status}; {started} plays started in {:.0} s; {trainings} training runs ended",
        run_start.elapsed().as_secs_f64()
    );
    println!("log: {rows} rows ({skips} skips), {open} left open, integrity_check {integrity}");
    println!(
        "rss after 500 plays {:.1} MiB, at the end {:.1} MiB; fds {first_fds} -> {last_fds}",
        first_rss as f64 / 1024.0,
        last_rss as f64 / 1024.0
    );
    if rows != started || open != 0 || integrity != "ok" {
        return Err("the log does not match the plays".into());
    }
    Ok(())
}
