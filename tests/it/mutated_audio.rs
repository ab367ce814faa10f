//! Damaged audio through the real binary: 60 mutated copies of the corpus (bit flips,
//! truncation, zeroed ranges, random bytes, huge and lying tag fields, an empty file) are
//! scanned and played headless. No crash, hang or panic; every bad file is logged as failed or
//! `error` with a reason, and playback goes on with the next track after each one.
//!
//! The same generator and driver run 1,000 files in `cargo run --release --example mutate`.

#[allow(dead_code)]
#[path = "../../examples/mutate/driver.rs"]
mod driver;
#[allow(dead_code)]
#[path = "../../examples/mutate/mutations.rs"]
mod mutations;

use std::time::Duration;

#[test]
fn sixty_mutated_files_scan_and_play_without_crash_hang_or_panic() {
    let dir = tempfile::tempdir().unwrap();
    // The shorter half of the corpus, one of each format, keeps the test around half a minute.
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for name in [
        "defeat.flac",
        "elf-land.m4a",
        "sad.opus",
        "silence.ogg",
        "transience.id3v24.mp3",
        "victory.ogg",
        "victory.wav",
        "wz_track3_20s.cover.m4a",
    ] {
        std::fs::copy(crate::common::corpus().join(name), corpus.join(name)).unwrap();
    }
    let files = dir.path().join("files");
    let mutants = mutations::generate(&corpus, &files, 60, 9).unwrap();
    assert_eq!(mutants.len(), 60);
    assert!(mutants.iter().any(|m| m.kind == mutations::Kind::Empty));
    assert!(mutants.iter().any(|m| m.kind == mutations::Kind::HugeTag));

    let options = driver::Options {
        bin: assert_cmd::cargo::cargo_bin("skipless"),
        data_dir: dir.path().join("data"),
        sentinel: crate::common::corpus().join("victory.ogg"),
        speed: 400.0,
        time_limit: Duration::from_secs(30),
        batch: 6,
        verbose: false,
    };
    let report = driver::run(&options, &files, &mutants).unwrap();
    let summary = report.summary();
    assert!(report.is_clean(), "{summary}");
    assert_eq!(
        report.refused + report.played_to_end + report.play_errors,
        60,
        "{summary}"
    );
    // What the scan could not read is refused when queued, saying so; the rest plays.
    assert_eq!(report.refused, report.scan_failed, "{summary}");
    assert!(report.scan_failed > 0 && report.play_errors > 0, "{summary}");
    // 1 MB tag fields are clipped before they reach the index.
    let conn = rusqlite::Connection::open(dir.path().join("data/skipless.db")).unwrap();
    let longest: i64 = conn
        .query_row(
            "SELECT max(max(length(title)), max(length(coalesce(artist, ''))), max(length(coalesce(album, '')))) FROM tracks",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(longest <= 1_001, "a tag of {longest} characters in the index");
}
