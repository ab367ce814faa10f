//! The history readers on slices of real exports in `tests/fixtures/histories` and on malformed
//! files.

use std::path::PathBuf;

use skipless::history::{read_file, read_paths, HistoryError};

fn fixture(rel: &str) -> PathBuf {
    crate::common::histories().join(rel)
}

#[test]
fn extended_history_of_mica() {
    let plays = read_paths(&[fixture("mica")]).unwrap();
    assert_eq!(plays.len(), 1324, "music rows only");
    assert!(plays.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
    let first = &plays[0];
    assert_eq!(first.artist, "Taylor Swift");
    assert_eq!(first.track, "So Long, London");
    assert_eq!(first.skipped, Some(false));
    assert_eq!(first.reason_end.as_deref(), Some("trackdone"));
    assert!(plays.iter().any(|p| p.is_skip()));
}

#[test]
fn extended_history_of_khushi_across_files() {
    let plays = read_paths(&[fixture("khushi")]).unwrap();
    assert_eq!(plays.len(), 999, "music rows of four yearly files");
    assert!(plays.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
    let years: std::collections::BTreeSet<i64> = plays.iter().map(|p| p.ts_ms / (365 * 24 * 3600 * 1000)).collect();
    assert!(years.len() >= 3, "plays from every file: {years:?}");
}

#[test]
fn mssd_sessions() {
    let plays = read_file(&fixture("mssd_sample.csv")).unwrap();
    assert_eq!(plays.len(), 201);
    assert!(plays.iter().all(|p| p.session.is_some() && p.skipped.is_some()));
    assert!(plays.iter().any(|p| p.skipped == Some(true)));
    assert!(plays[0].track.starts_with("t_"));
}

#[test]
fn basic_history_uses_the_30_second_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("StreamingHistory0.json");
    std::fs::write(
        &path,
        r#"[{"endTime":"2024-01-02 10:00","artistName":"A","trackName":"x","msPlayed":200000},
            {"endTime":"2024-01-02 09:00","artistName":"B","trackName":"y","msPlayed":1000},
            {"endTime":"2024-01-02 11:00","artistName":"C","trackName":"","msPlayed":1000}]"#,
    )
    .unwrap();
    let plays = read_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(plays.len(), 2);
    assert_eq!(plays[0].track, "y", "sorted by time");
    assert_eq!(plays[0].skipped, None);
    assert!(plays[0].is_skip() && !plays[1].is_skip());
}

/// Spotify's basic download since 2023 holds music and podcast files side by side: a folder of
/// both imports the music, and the podcast file given by name is said to be one.
#[test]
fn the_podcast_file_of_a_basic_download_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("StreamingHistory_music_0.json"),
        r#"[{"endTime":"2024-01-02 10:00","artistName":"A","trackName":"x","msPlayed":200000}]"#,
    )
    .unwrap();
    let podcast = dir.path().join("StreamingHistory_podcast_0.json");
    std::fs::write(
        &podcast,
        r#"[{"endTime":"2024-01-02 11:00","podcastName":"P","episodeName":"E","msPlayed":900000}]"#,
    )
    .unwrap();
    let plays = read_paths(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(plays.iter().map(|p| p.track.as_str()).collect::<Vec<_>>(), ["x"]);
    let message = read_file(&podcast).unwrap_err().to_string();
    assert!(message.contains("podcast history"), "{message}");
}

fn error_of(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let err = read_file(&path).unwrap_err();
    let message = err.to_string();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains(name), "{message}");
    message
}

#[test]
fn malformed_files_name_the_record() {
    let ok = r#"{"ts":"2024-01-01T00:00:00Z","ms_played":1,"master_metadata_track_name":"a","master_metadata_album_artist_name":"b"}"#;
    let wrong_type = format!(r#"[{ok},{ok},{{"ts":"2024-01-01T00:00:00Z","ms_played":"lots"}}]"#);
    assert!(error_of("Streaming_History_Audio_1.json", &wrong_type).contains("record 3"));
    let truncated = format!("[{ok},{ok},{ok},{{\"ts\":");
    assert!(error_of("Streaming_History_Audio_2.json", &truncated).contains("record 4"));
    let bad_time = format!(r#"[{ok},{{"ts":"yesterday","ms_played":1,"master_metadata_track_name":"a"}}]"#);
    assert!(error_of("endsong_0.json", &bad_time).contains("record 2"));
    let basic = r#"[{"endTime":"2024-01-02 10:00","artistName":"A","trackName":"x"}]"#;
    assert!(error_of("StreamingHistory0.json", basic).contains("record 1"));
    let not_array = error_of("StreamingHistory1.json", "{}");
    assert!(not_array.contains("not a JSON array"), "{not_array}");
    let csv = "session_id,session_position,track_id_clean,skip_2,hour_of_day,date\ns,1,t_1,False,3,15-07-18\ns,2,t_2,maybe,3,15-07-18\n";
    assert!(error_of("log.csv", csv).contains("record 2"));
    assert!(matches!(
        read_paths(&[PathBuf::from("/nonexistent-dir-for-test")]),
        Err(HistoryError::Io { .. } | HistoryError::Empty { .. })
    ));
}
