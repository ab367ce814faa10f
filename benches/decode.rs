//! Decode speed per corpus file beside ffmpeg's, and the CPU the engine uses while playing in
//! real time through the null output. Run with `cargo bench --bench decode`.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use skipless::config::AudioOutput;
use skipless::play::{EndReason, PlaySource};
use skipless::player::decode::TrackDecoder;
use skipless::player::{Command, Engine, EngineOptions, PlayItem};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

/// Seconds of audio decoded and the time it took.
fn decode(path: &Path) -> Result<(f64, Duration), String> {
    let start = Instant::now();
    let mut d = TrackDecoder::open(path).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut frames = 0u64;
    while let Some(c) = d.next_chunk(&mut buf).map_err(|e| e.to_string())? {
        frames += c.frames as u64;
        buf.clear();
    }
    Ok((frames as f64 / f64::from(d.sample_rate()), start.elapsed()))
}

fn ffmpeg(path: &Path) -> Option<Duration> {
    let start = Instant::now();
    let status = Process::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    status.success().then(|| start.elapsed())
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn main() {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(corpus()) {
        Ok(dir) => dir.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("{}: {e}", corpus().display());
            return;
        }
    };
    files.sort();

    println!(
        "{:<28} {:>8} {:>10} {:>10} {:>12}",
        "file", "audio s", "ours ×RT", "ffmpeg ×RT", "ffmpeg (ms)"
    );
    for path in &files {
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        // Best of three, as the machine may be busy.
        let ours = (0..3).filter_map(|_| decode(path).ok()).min_by_key(|(_, t)| *t);
        let theirs = (0..3).filter_map(|_| ffmpeg(path)).min();
        let Some((secs, took)) = ours else {
            println!("{name:<28} does not decode");
            continue;
        };
        let rt = |t: Duration| secs / t.as_secs_f64().max(1e-9);
        let (ff_rt, ff_ms) = match theirs {
            Some(t) => (format!("{:.0}", rt(t)), format!("{}", t.as_millis())),
            None => ("-".into(), "-".into()),
        };
        println!("{name:<28} {secs:>8.1} {:>10.0} {ff_rt:>10} {ff_ms:>12}", rt(took));
    }
    println!("(ffmpeg times include starting the process)");

    println!();
    println!(
        "{:<28} {:>12} {:>12}",
        "playing 10 s (null, 1×)", "CPU ms", "% of a core"
    );
    for name in ["menu.opus", "transience.id3v24.mp3", "defeat.flac"] {
        let engine = match Engine::start(EngineOptions {
            output: AudioOutput::Null,
            ..Default::default()
        }) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("{e}");
                return;
            }
        };
        let before = cpu_time();
        let start = Instant::now();
        engine.send(Command::Play {
            item: PlayItem {
                track_id: 1,
                path: corpus().join(name),
                duration_ms: None,
                gain_db: 0.0,
                source: PlaySource::User,
            },
            ended_by: EndReason::Skipped,
            by: None,
            seen_starts: None,
        });
        std::thread::sleep(Duration::from_secs(10));
        let cpu = cpu_time() - before;
        let wall = start.elapsed();
        drop(engine);
        println!(
            "{name:<28} {:>12} {:>12.2}",
            cpu.as_millis(),
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
        );
    }
}
