//! Text for people: durations, times and cut-to-width strings, shared by every front end.

/// "m:ss" (or "h:mm:ss") for a duration in milliseconds.
pub(crate) fn format_duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Cuts `s` to at most `width` characters, marking the cut with "…".
pub(crate) fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// RFC 3339 UTC time for Unix milliseconds.
pub(crate) fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// A timing shift in milliseconds as "0.5 s later", "1.0 s sooner" or "on time".
pub(crate) fn format_shift(ms: i64) -> String {
    let seconds = ms.unsigned_abs() as f64 / 1000.0;
    match ms.signum() {
        1 => format!("{seconds:.1} s later"),
        -1 => format!("{seconds:.1} s sooner"),
        _ => "on time".to_owned(),
    }
}
