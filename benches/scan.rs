//! Scan speed: a first scan of 10,000 files (warm page cache) and an unchanged rescan.
//!
//! `cargo bench --bench scan` (set SKIPLESS_BENCH_FILES to change the count). The files are
//! hard links to the real corpus in `tests/fixtures/corpus`, spread over 100 folders.

use std::path::Path;
use std::time::Instant;

use skipless::db::Database;
use skipless::library::scan::{scan, Reread};

fn main() {
    let files: usize = std::env::var("SKIPLESS_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let sources: Vec<_> = std::fs::read_dir(&corpus)
        .expect("the corpus is at tests/fixtures/corpus")
        .map(|e| e.expect("readable corpus").path())
        .collect();
    let dir = tempfile::tempdir().expect("a temp dir");
    let music = dir.path().join("music");
    for i in 0..files {
        let folder = music.join(format!("album{:03}", i % 100));
        std::fs::create_dir_all(&folder).expect("create folder");
        let source = &sources[i % sources.len()];
        let ext = source.extension().and_then(|e| e.to_str()).unwrap_or("ogg");
        std::fs::hard_link(source, folder.join(format!("track{i:05}.{ext}"))).expect("hard link");
    }
    let mut db = Database::open(&dir.path().join("skipless.db")).expect("open database");
    let roots = vec![music];
    // Warm the page cache so the figure is about the scanner, not the disk.
    for source in &sources {
        let _ = std::fs::read(source);
    }
    let start = Instant::now();
    let first = scan(&mut db, &roots, Reread::Changed, &|_| {}).expect("first scan");
    let first_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let again = scan(&mut db, &roots, Reread::Changed, &|_| {}).expect("rescan");
    let rescan_s = start.elapsed().as_secs_f64();
    assert_eq!(first.summary.added, files);
    assert_eq!(again.summary.unchanged, files);
    println!("scan bench: {files} files, {} threads", rayon::current_num_threads());
    println!(
        "  first scan      {:>8.3} s  {:>8.0} files/s  (target >= 1000 files/s)",
        first_s,
        files as f64 / first_s
    );
    println!("  unchanged rescan{:>8.3} s                   (target < 1 s)", rescan_s);
}
