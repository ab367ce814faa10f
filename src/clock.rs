//! The system clock as the log stores time: milliseconds since the Unix epoch ([`now_ms`]), the
//! span of time a command covers ([`TimeRange`], from `--since` and `--until`), and the
//! listener's weeks ([`monday_of`], [`week_start_ms`]).

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The Monday of `date`'s week: weeks run Monday to Sunday, in the listener's days.
pub fn monday_of(date: jiff::civil::Date) -> jiff::civil::Date {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(jiff::Span::new().days(back)).unwrap_or(date)
}

/// When the week holding the instant `ms` began (its Monday's midnight in `tz`), in Unix ms.
pub fn week_start_ms(ms: i64, tz: &jiff::tz::TimeZone) -> i64 {
    let time = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    monday_of(tz.to_datetime(time).date())
        .to_zoned(tz.clone())
        .map_or(ms, |monday| monday.timestamp().as_millisecond())
}

/// A span of time as `--since` and `--until` give it, each bound in Unix milliseconds (`None`:
/// unbounded); a play lies in it when its start is in `[since_ms, until_ms)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// Why `--since` and `--until` make no range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadTime {
    #[error(
        "--{flag} {value}: not a date (YYYY-MM-DD), a local time (2024-05-01T18:00) or an RFC 3339 time such as 2024-05-01T18:00:00Z"
    )]
    Unreadable { flag: &'static str, value: String },
    #[error("--since {since} is not before --until {until}: no time lies between them")]
    Empty { since: String, until: String },
}

impl TimeRange {
    /// `--since` and `--until` as dates in the time zone `tz` (`2024-05-01`: its midnight, and
    /// `--until` includes that day), times of day there (`2024-05-01T18:00`), RFC 3339 times, or
    /// dates and times in a named zone (`2024-05-01T18:00[Asia/Tokyo]`). Every command reads them this way, so a
    /// date means the listener's day wherever it is used.
    pub fn parse(since: Option<&str>, until: Option<&str>, tz: &jiff::tz::TimeZone) -> Result<Self, BadTime> {
        let range = Self {
            since_ms: since.map(|s| bound(s, tz, false, "since")).transpose()?.flatten(),
            until_ms: until.map(|s| bound(s, tz, true, "until")).transpose()?.flatten(),
        };
        if let (Some(from), Some(to), Some(since), Some(until)) = (range.since_ms, range.until_ms, since, until) {
            if from >= to {
                return Err(BadTime::Empty {
                    since: since.to_owned(),
                    until: until.to_owned(),
                });
            }
        }
        Ok(range)
    }

    /// The bounds with the open ends filled in.
    pub fn bounds(&self) -> (i64, i64) {
        (self.since_ms.unwrap_or(i64::MIN), self.until_ms.unwrap_or(i64::MAX))
    }
}

/// One bound in Unix milliseconds. Times run from early on -9999-01-02 to late on 9999-12-30
/// (UTC): a date past the end starts after every play and ends with no bound; a date before
/// the start starts with no bound and ends before every play.
fn bound(text: &str, tz: &jiff::tz::TimeZone, end_of_day: bool, flag: &'static str) -> Result<Option<i64>, BadTime> {
    let bad = || BadTime::Unreadable {
        flag,
        value: text.to_owned(),
    };
    if let Ok(time) = text.parse::<jiff::Timestamp>() {
        return Ok(Some(time.as_millisecond()));
    }
    // A time or a date in a named zone (`2024-05-01T18:00[Asia/Tokyo]`) is that zone's; a zone
    // that cannot be read is an error, never the listener's zone in its place.
    if text.contains('[') {
        let zoned = text.parse::<jiff::Zoned>().map_err(|_| bad())?;
        let date_alone = !text.split('[').next().unwrap_or_default().contains(['T', 't', ' ']);
        return Ok(match (date_alone && end_of_day, zoned.tomorrow()) {
            (false, _) => Some(zoned.timestamp().as_millisecond()),
            (true, Ok(next)) => Some(next.timestamp().as_millisecond()),
            (true, Err(_)) => None,
        });
    }
    // A time of day without an offset is the listener's, as a date is. (A date's parser would
    // take it too, and drop the time.)
    if text.contains(['T', 't', ' ']) {
        let time: jiff::civil::DateTime = text.parse().map_err(|_| bad())?;
        return match time.to_zoned(tz.clone()) {
            Ok(zoned) => Ok(Some(zoned.timestamp().as_millisecond())),
            Err(_) if time.year() < 0 => Ok(if end_of_day { Some(i64::MIN) } else { None }),
            Err(_) => Ok(if end_of_day { None } else { Some(i64::MAX) }),
        };
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| bad())?;
    let past_the_end = Ok(if end_of_day { None } else { Some(i64::MAX) });
    let before_the_start = Ok(if end_of_day { Some(i64::MIN) } else { None });
    let date = match (end_of_day, date.tomorrow()) {
        (false, _) => date,
        (true, Ok(next)) => next,
        (true, Err(_)) => return past_the_end,
    };
    match date.to_zoned(tz.clone()) {
        Ok(start) => Ok(Some(start.timestamp().as_millisecond())),
        Err(_) if date.year() < 0 => before_the_start,
        Err(_) => past_the_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn dates_are_the_zones_days_and_times_are_exact() {
        let tz = jiff::tz::TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        let range = TimeRange::parse(Some("2024-05-05"), Some("2024-05-05"), &tz).unwrap();
        assert_eq!(range.since_ms, Some(at("2024-05-05T04:00:00Z")));
        assert_eq!(range.until_ms, Some(at("2024-05-06T04:00:00Z")));
        let exact = TimeRange::parse(Some("2024-05-05T10:00:00+02:00"), None, &tz).unwrap();
        assert_eq!(exact.since_ms, Some(at("2024-05-05T08:00:00Z")));
        assert_eq!(exact.bounds(), (at("2024-05-05T08:00:00Z"), i64::MAX));
        // A time without an offset is the zone's, exact, at either end; never its date alone.
        for (since, until) in [
            ("2024-05-05T10:00:00", "2024-05-05T23:30"),
            ("2024-05-05 10:00", "2024-05-05t23:30"),
        ] {
            let local = TimeRange::parse(Some(since), Some(until), &tz).unwrap();
            assert_eq!(
                local.bounds(),
                (at("2024-05-05T14:00:00Z"), at("2024-05-06T03:30:00Z")),
                "{since} {until}"
            );
        }
        // A named zone is that zone's, not the listener's.
        let named = TimeRange::parse(Some("2024-05-05T10:00:00[UTC]"), Some("2024-05-05[UTC]"), &tz).unwrap();
        assert_eq!(named.bounds(), (at("2024-05-05T10:00:00Z"), at("2024-05-06T00:00:00Z")));
        assert!(matches!(
            TimeRange::parse(Some("2024-05-05T10:00[Nowhere/Atlantis]"), None, &tz),
            Err(BadTime::Unreadable { .. })
        ));
        assert!(matches!(
            TimeRange::parse(Some("2024-05-05T25:00"), None, &tz),
            Err(BadTime::Unreadable { .. })
        ));
        let utc = jiff::tz::TimeZone::UTC;
        let last_day = TimeRange::parse(None, Some("9999-12-31"), &utc).unwrap();
        assert_eq!(last_day.until_ms, None);
        let past_the_end = TimeRange::parse(Some("9999-12-31"), Some("9999-12-31"), &utc).unwrap();
        assert_eq!((past_the_end.since_ms, past_the_end.until_ms), (Some(i64::MAX), None));
        let before_the_start = TimeRange::parse(Some("-009999-01-01"), Some("-009999-01-01"), &utc);
        assert_eq!(before_the_start.map(|r| r.bounds()), Ok((i64::MIN, i64::MIN)));
        assert_eq!(
            TimeRange::parse(Some("2026-12-01"), Some("2026-11-01"), &utc),
            Err(BadTime::Empty {
                since: "2026-12-01".into(),
                until: "2026-11-01".into()
            })
        );
        assert_eq!(
            TimeRange::parse(None, Some("2024-02-30"), &utc),
            Err(BadTime::Unreadable {
                flag: "until",
                value: "2024-02-30".into()
            })
        );
        let message = TimeRange::parse(Some("May 1st"), None, &utc).unwrap_err().to_string();
        assert!(message.starts_with("--since May 1st: not a date"), "{message}");
    }
}
