//! The recap as one HTML page ([`render`]): no script, no request leaves it (styles and charts
//! are inline), light or dark by the browser's preference, one column on a phone. Every number
//! taken from the [`Recap`] is a `<data>` element whose `value` is the number and whose
//! `data-json` is its path in `skipless recap --json`, so a reader (or a test) can check one
//! against the other.

use std::fmt::Write;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::chart::{self, escape, Bar, Series};
use super::{Recap, TopTrack};
use crate::fmt::{format_listening, group_digits};

const STYLE: &str = r#"
:root{--bg:#f6f7f9;--card:#fff;--fg:#1d2127;--muted:#5f6773;--grid:#dde1e6;--accent:#3563d9;
--own:#3563d9;--autoplay:#d0540f;--import:#2a8a44;--old:#8a93a0;--shadow:0 1px 3px rgba(20,30,50,.08)}
@media (prefers-color-scheme:dark){:root{--bg:#0e1014;--card:#181b21;--fg:#e7e9ec;--muted:#9aa3ae;
--grid:#2c313a;--accent:#7aa2ff;--own:#7aa2ff;--autoplay:#ff9a55;--import:#5fd27f;--old:#7d8591;--shadow:none}}
*{box-sizing:border-box}
html{color-scheme:light dark}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 16px 40px}
h1{font-size:1.7rem;margin:0 0 2px}h2{font-size:1.2rem;margin:34px 0 12px}h3{font-size:1rem;margin:0 0 8px}
.sub,.note,figcaption,footer{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,150px),1fr));gap:12px;margin-top:18px}
.card,figure,.panel{background:var(--card);border-radius:12px;box-shadow:var(--shadow);padding:14px 16px;min-width:0}
.card .big{display:block;font-size:1.55rem;font-weight:650;font-variant-numeric:tabular-nums}
.card .what{color:var(--muted);font-size:.88rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:14px}
figure{margin:0}figcaption{font-size:.88rem;margin-top:6px}
svg{display:block;width:100%;height:auto;overflow:visible}
svg text{font-size:13px;fill:var(--muted)}
svg .grid{stroke:var(--grid);stroke-width:1}
.bars rect{fill:var(--accent)}.hbar{fill:var(--accent)}.heat rect{fill:var(--accent);stroke:var(--grid);stroke-width:.6}
.series path{fill:none;stroke:currentColor;stroke-width:2;stroke-linejoin:round}.series circle{fill:currentColor}
.own{color:var(--own)}.autoplay{color:var(--autoplay)}.import{color:var(--import)}.new{color:var(--accent)}.old{color:var(--old)}
.legend{list-style:none;padding:0;margin:8px 0 0;display:flex;flex-wrap:wrap;gap:6px 18px;font-size:.9rem}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;background:currentColor;margin-right:.4em;vertical-align:-.05em}
.legend li>span:not(.swatch){color:var(--fg)}
table{width:100%;border-collapse:collapse;table-layout:fixed;font-size:.92rem}
th{text-align:left;color:var(--muted);font-weight:500;border-bottom:1px solid var(--grid);padding:4px 6px}
td{padding:5px 6px;border-bottom:1px solid var(--grid);overflow-wrap:anywhere;vertical-align:top}
tr:last-child td{border-bottom:0}
.n{width:4.6em;text-align:right;font-variant-numeric:tabular-nums}.rank{width:2.2em;color:var(--muted)}
td .by{display:block;color:var(--muted);font-size:.85rem}
.wide{width:6.4em}.time{width:6.6em;text-align:right;white-space:nowrap}
.empty{font-size:1.1rem;margin-top:28px}
footer{margin-top:40px;font-size:.85rem}
.runs .n{width:4.1em}.runs .seen{width:4.9em}.runs .wide{width:5.8em}
@media (max-width:600px){svg text{font-size:21px}svg .alt{display:none}main{padding:20px 12px 32px}}
"#;

/// The recap's page, days and times shown in `tz`.
pub(crate) fn render(recap: &Recap, tz: &TimeZone) -> String {
    let mut out = String::with_capacity(64 * 1024 + recap.days.len() * 120);
    let range = range_text(recap, tz);
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Listening recap · {}</title><style>{STYLE}</style></head>
<body><main>
<header><h1>Listening recap</h1><p class="sub">{} · times in {}</p></header>
"#,
        escape(&range),
        escape(&range),
        escape(&recap.time_zone)
    );
    if recap.totals.plays == 0 {
        out.push_str(
            r#"<p class="empty">The log has no plays in this range, so there is nothing to show yet. Play some music, or bring in a history with <code>skipless import spotify</code>, and make the recap again.</p>"#,
        );
    } else {
        totals(&mut out, recap);
        over_time(&mut out, recap);
        skips(&mut out, recap);
        favourites(&mut out, recap);
        habits(&mut out, recap);
    }
    training(&mut out, recap, tz);
    out.push_str(
        "<footer>Made by skipless from the listening log on this computer. Nothing in this page loads from the network.</footer>\n</main></body></html>\n",
    );
    out
}

/// A count, as `<data>` with its JSON path.
fn count(path: &str, value: u64) -> String {
    format!(
        r#"<data value="{value}" data-json="{path}">{}</data>"#,
        group_digits(value)
    )
}

/// A listening time in milliseconds.
fn listening(path: &str, ms: u64) -> String {
    format!(
        r#"<data value="{ms}" data-json="{path}">{}</data>"#,
        format_listening(ms)
    )
}

/// A share, shown as a percentage.
fn share(path: &str, value: f64) -> String {
    format!(
        r#"<data value="{value}" data-json="{path}">{}</data>"#,
        share_text(value)
    )
}

fn range_text(recap: &Recap, tz: &TimeZone) -> String {
    let day = |ms: i64| local_date(ms, tz).to_string();
    let from = recap.since_ms.or(recap.first_play_ms).map(day);
    // `--until` is exclusive: the day shown is the last one in the range.
    let to = recap.until_ms.map(|ms| day(ms - 1)).or(recap.last_play_ms.map(day));
    match (from, to) {
        (Some(from), Some(to)) if from == to => from,
        (Some(from), Some(to)) => format!("{from} to {to}"),
        (Some(from), None) => format!("from {from}"),
        (None, Some(to)) => format!("until {to}"),
        (None, None) => "the whole log".to_owned(),
    }
}

fn local_date(ms: i64, tz: &TimeZone) -> Date {
    tz.to_datetime(Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH))
        .date()
}

fn local_time(ms: i64, tz: &TimeZone) -> String {
    tz.to_datetime(Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH))
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

fn totals(out: &mut String, recap: &Recap) {
    let t = &recap.totals;
    // A card's caption names what its number counts, in the singular for one.
    let noun = |n: u64, one: &str, many: &str| if n == 1 { one } else { many }.to_owned();
    let cards = [
        (count("totals.plays", t.plays), noun(t.plays, "play", "plays")),
        (
            count("totals.listens", t.listens),
            noun(t.listens, "listen", "listens") + " (played long enough to count)",
        ),
        (
            count("totals.skips", t.skips),
            format!(
                "{} · {} of plays",
                noun(t.skips, "skip", "skips"),
                share("totals.skip_rate", t.skip_rate)
            ),
        ),
        (listening("totals.listening_ms", t.listening_ms), "listened".to_owned()),
        (
            count("totals.sessions", t.sessions),
            noun(t.sessions, "session", "sessions"),
        ),
        (
            count("totals.tracks", t.tracks),
            noun(t.tracks, "different track", "different tracks"),
        ),
        (count("totals.artists", t.artists), noun(t.artists, "artist", "artists")),
        (
            count("totals.unmatched_imports", t.unmatched_imports),
            noun(t.unmatched_imports, "imported play", "imported plays") + " of tracks not in the library",
        ),
    ];
    out.push_str(r#"<section class="cards">"#);
    for (number, what) in cards {
        let _ = write!(
            out,
            r#"<div class="card"><span class="big">{number}</span><span class="what">{what}</span></div>"#
        );
    }
    out.push_str("</section>\n");
}

fn dates(texts: impl Iterator<Item = String>) -> Vec<Date> {
    texts.filter_map(|t| t.parse().ok()).collect()
}

/// Labels for a series of dates: weeks, months or years, whichever the span suits, thinned so
/// they never touch.
fn date_ticks(dates: &[Date]) -> Vec<(usize, String)> {
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return Vec::new();
    };
    let span_days = first.until(*last).map(|s| s.get_days()).unwrap_or(0);
    let period = |d: &Date| -> (i16, i8, i8) {
        if span_days <= 70 {
            (d.year(), d.month(), d.day() / 7)
        } else if span_days <= 1100 {
            let months_per_tick = if span_days <= 550 { 1 } else { 3 };
            (d.year(), (d.month() - 1) / months_per_tick, 0)
        } else {
            (d.year(), 0, 0)
        }
    };
    let label = |d: &Date| -> String {
        if span_days <= 70 {
            d.strftime("%b %-d").to_string()
        } else if span_days <= 1100 && d.month() != 1 {
            d.strftime("%b").to_string()
        } else {
            d.year().to_string()
        }
    };
    let mut ticks: Vec<(usize, String)> = (1..dates.len())
        .filter(|&i| period(&dates[i]) != period(&dates[i - 1]))
        .map(|i| (i, label(&dates[i])))
        .collect();
    if ticks.is_empty() {
        ticks.push((0, label(first)));
    }
    // About 46 units of the chart's 640 between labels.
    let gap = ((dates.len() as f64 * 46.0 / 580.0).ceil() as usize).max(1);
    let mut kept: Vec<(usize, String)> = Vec::new();
    for tick in ticks {
        if kept.last().is_none_or(|(at, _)| tick.0 >= at + gap) {
            kept.push(tick);
        }
    }
    kept
}

fn plays_label(v: f64) -> String {
    group_digits(v.round() as u64)
}

/// Listening charts are drawn in hours, so their axes end on round hours.
fn hours(ms: u64) -> f64 {
    ms as f64 / 3_600_000.0
}

fn hours_label(hours: f64) -> String {
    if hours == 0.0 {
        "0".to_owned()
    } else {
        format!("{} h", trim_number(hours))
    }
}

fn trim_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v >= 0.1 {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{v:.2}")
    }
}

fn over_time(out: &mut String, recap: &Recap) {
    let day_dates = dates(recap.days.iter().map(|d| d.date.clone()));
    let week_dates = dates(recap.weeks.iter().map(|w| w.start.clone()));
    let day_ticks = date_ticks(&day_dates);
    let week_ticks = date_ticks(&week_dates);
    let plays_per_day: Vec<Bar> = recap
        .days
        .iter()
        .map(|d| Bar {
            value: d.plays as f64,
            label: format!("{}: {}", d.date, crate::fmt::count(d.plays, "play")),
        })
        .collect();
    let listening_per_day: Vec<Bar> = recap
        .days
        .iter()
        .map(|d| Bar {
            value: hours(d.listening_ms),
            label: format!("{}: {}", d.date, format_listening(d.listening_ms)),
        })
        .collect();
    let plays_per_week: Vec<Bar> = recap
        .weeks
        .iter()
        .map(|w| Bar {
            value: w.plays as f64,
            label: format!("week of {}: {}", w.start, crate::fmt::count(w.plays, "play")),
        })
        .collect();
    let listening_per_week: Vec<Bar> = recap
        .weeks
        .iter()
        .map(|w| Bar {
            value: hours(w.listening_ms),
            label: format!("week of {}: {}", w.start, format_listening(w.listening_ms)),
        })
        .collect();
    out.push_str(r#"<h2>Plays and listening time</h2><div class="grid">"#);
    for (svg, caption) in [
        (
            chart::bars(
                "plays-per-day",
                "Plays per day",
                &plays_per_day,
                &day_ticks,
                chart::Scale::Whole,
                &plays_label,
            ),
            format!("Plays per day, {}", crate::fmt::count(recap.days.len() as u64, "day")),
        ),
        (
            chart::bars(
                "listening-per-day",
                "Listening time per day",
                &listening_per_day,
                &day_ticks,
                chart::Scale::Amounts,
                &hours_label,
            ),
            "Listening time per day".to_owned(),
        ),
        (
            chart::bars(
                "plays-per-week",
                "Plays per week",
                &plays_per_week,
                &week_ticks,
                chart::Scale::Whole,
                &plays_label,
            ),
            format!(
                "Plays per week (Monday on), {}",
                crate::fmt::count(recap.weeks.len() as u64, "week")
            ),
        ),
        (
            chart::bars(
                "listening-per-week",
                "Listening time per week",
                &listening_per_week,
                &week_ticks,
                chart::Scale::Amounts,
                &hours_label,
            ),
            "Listening time per week".to_owned(),
        ),
    ] {
        let _ = write!(out, "<figure>{svg}<figcaption>{caption}</figcaption></figure>");
    }
    out.push_str("</div>\n");
}

fn skips(out: &mut String, recap: &Recap) {
    let week_dates = dates(recap.weeks.iter().map(|w| w.start.clone()));
    // Each kind: its CSS class, its name, its field in the JSON, and how to read it.
    type Kind = (
        &'static str,
        &'static str,
        &'static str,
        fn(&super::Kinds) -> crate::summary::Skips,
    );
    let kinds: [Kind; 3] = [
        ("own", "Your picks", "own", |k| k.own),
        ("autoplay", "Autoplay's picks", "autoplay", |k| k.autoplay),
        ("import", "Imported plays", "imported", |k| k.imported),
    ];
    let series: Vec<Series> = kinds
        .iter()
        .map(|(class, name, _, pick)| Series {
            class,
            points: recap
                .weeks
                .iter()
                .map(|w| {
                    let s = pick(&w.kinds);
                    (s.plays > 0).then(|| {
                        (
                            s.rate(),
                            format!(
                                "{name}, week of {}: {} of {} skipped ({:.0}%)",
                                w.start,
                                s.skips,
                                s.plays,
                                s.rate() * 100.0
                            ),
                        )
                    })
                })
                .collect(),
        })
        .collect();
    let rate_chart = chart::lines(
        "skip-rate-per-week",
        "Skip rate per week: your picks, autoplay's picks and imported plays",
        &series,
        1.0,
        &date_ticks(&week_dates),
        &|v| format!("{:.0}%", v * 100.0),
    );
    let mut legend = String::from(r#"<ul class="legend">"#);
    for (class, name, field, pick) in kinds {
        let s = pick(&recap.kinds);
        let _ = write!(
            legend,
            r#"<li class="{class}"><span class="swatch"></span><span>{name}: {} skipped of {} play{}{}</span></li>"#,
            count(&format!("kinds.{field}.skips"), s.skips),
            count(&format!("kinds.{field}.plays"), s.plays),
            if s.plays == 1 { "" } else { "s" },
            // No plays have no rate.
            if s.plays == 0 {
                String::new()
            } else {
                format!(" ({})", share_text(s.rate()))
            }
        );
    }
    legend.push_str("</ul>");
    let bins: Vec<Bar> = recap
        .skip_seconds
        .iter()
        .map(|b| Bar {
            value: b.skips as f64,
            label: match b.to_s {
                Some(to) => format!("{}–{to} s: {}", b.from_s, crate::fmt::count(b.skips, "skip")),
                None => format!("{} s or more: {}", b.from_s, crate::fmt::count(b.skips, "skip")),
            },
        })
        .collect();
    let bin_ticks: Vec<(usize, String)> = recap
        .skip_seconds
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(i, b)| {
            let label = if b.to_s.is_none() {
                format!("{}+ s", b.from_s)
            } else if b.from_s % 60 == 0 && b.from_s > 0 {
                format!("{} min", b.from_s / 60)
            } else {
                format!("{} s", b.from_s)
            };
            (i, label)
        })
        .collect();
    let histogram = chart::bars(
        "skip-seconds",
        "Seconds played before a skip",
        &bins,
        &bin_ticks,
        chart::Scale::Whole,
        &plays_label,
    );
    let _ = writeln!(
        out,
        r#"<h2>Skips</h2><div class="grid"><figure>{rate_chart}<figcaption>Share of plays skipped each week, by who chose the track. {legend}</figcaption></figure><figure>{histogram}<figcaption>When you skip: seconds played before each skip, in 10-second bins.</figcaption></figure></div>"#
    );
}

fn share_text(rate: f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

fn track_cell(t: &TopTrack) -> String {
    format!(r#"{}<span class="by">{}</span>"#, escape(&t.title), escape(&t.artist))
}

fn favourites(out: &mut String, recap: &Recap) {
    out.push_str(r#"<h2>Favourites</h2><div class="grid">"#);
    // The first column is the name; the others are numbers, `time` wider than `n`.
    let mut table = |title: &str, head: &[(&str, &str)], rows: Vec<Vec<String>>| {
        let _ = write!(
            out,
            r#"<div class="panel"><h3>{title}</h3><table><thead><tr><th class="rank">#</th><th>{}</th>"#,
            head[0].0
        );
        for (h, class) in &head[1..] {
            let _ = write!(out, r#"<th class="{class}">{h}</th>"#);
        }
        out.push_str("</tr></thead><tbody>");
        if rows.is_empty() {
            let _ = write!(out, r#"<tr><td colspan="{}">none</td></tr>"#, head.len() + 1);
        }
        for (i, row) in rows.iter().enumerate() {
            let _ = write!(out, r#"<tr><td class="rank">{}</td><td>{}</td>"#, i + 1, row[0]);
            for (cell, (_, class)) in row[1..].iter().zip(&head[1..]) {
                let _ = write!(out, r#"<td class="{class}">{cell}</td>"#);
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
    };
    table(
        "Top artists",
        &[("Artist", ""), ("Listens", "n"), ("Time", "time")],
        recap
            .top_artists
            .iter()
            .enumerate()
            .map(|(i, a)| {
                vec![
                    escape(&a.artist),
                    count(&format!("top_artists.{i}.listens"), a.tally.listens),
                    listening(&format!("top_artists.{i}.listening_ms"), a.tally.listening_ms),
                ]
            })
            .collect(),
    );
    table(
        "Top tracks",
        &[("Track", ""), ("Listens", "n"), ("Plays", "n")],
        recap
            .top_tracks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                vec![
                    track_cell(t),
                    count(&format!("top_tracks.{i}.listens"), t.tally.listens),
                    count(&format!("top_tracks.{i}.plays"), t.tally.plays),
                ]
            })
            .collect(),
    );
    table(
        "Top albums",
        &[("Album", ""), ("Listens", "n"), ("Plays", "n")],
        recap
            .top_albums
            .iter()
            .enumerate()
            .map(|(i, a)| {
                vec![
                    format!(r#"{}<span class="by">{}</span>"#, escape(&a.album), escape(&a.artist)),
                    count(&format!("top_albums.{i}.listens"), a.tally.listens),
                    count(&format!("top_albums.{i}.plays"), a.tally.plays),
                ]
            })
            .collect(),
    );
    table(
        "Most skipped",
        &[("Track", ""), ("Skips", "n"), ("Plays", "n")],
        recap
            .most_skipped
            .iter()
            .enumerate()
            .map(|(i, t)| {
                vec![
                    track_cell(t),
                    count(&format!("most_skipped.{i}.skips"), t.tally.skips),
                    count(&format!("most_skipped.{i}.plays"), t.tally.plays),
                ]
            })
            .collect(),
    );
    out.push_str("</div>\n");
}

fn habits(out: &mut String, recap: &Recap) {
    let heat = chart::heat_map(
        "hour-weekday",
        "Plays by hour of the day and weekday",
        &recap.hour_weekday,
    );
    let rows: Vec<(String, u64)> = recap
        .sessions_by_length
        .iter()
        .map(|b| {
            let label = |m: u32| {
                if m >= 60 && m.is_multiple_of(60) {
                    format!("{} h", m / 60)
                } else {
                    format!("{m} min")
                }
            };
            let text = match (b.from_min, b.to_min) {
                (0, Some(to)) => format!("under {}", label(to)),
                (from, Some(to)) => format!("{}–{}", label(from), label(to)),
                (from, None) => format!("{} or more", label(from)),
            };
            (text, b.sessions)
        })
        .collect();
    let sessions = chart::hbars("sessions-by-length", "Sessions by length", &rows, "session");
    let _ = writeln!(
        out,
        r#"<h2>When you listen</h2><div class="grid"><figure>{heat}<figcaption>Plays by weekday and hour, in {}; darker is more.</figcaption></figure><figure>{sessions}<figcaption>Sessions by length, from the first play's start to the last one's end.</figcaption></figure></div>"#,
        escape(&recap.time_zone)
    );
}

fn training(out: &mut String, recap: &Recap, tz: &TimeZone) {
    out.push_str(r#"<h2>The recommender</h2>"#);
    let runs = &recap.training_runs;
    if runs.is_empty() {
        out.push_str(r#"<p class="note">No training runs in this range. The player retrains every 50 plays and on <kbd>r</kbd>; <code>skipless train</code> does it from the shell.</p>"#);
        return;
    }
    let top_value = runs
        .iter()
        .flat_map(|r| [Some(r.new_ndcg10), r.old_ndcg10])
        .flatten()
        .fold(0.0, f64::max);
    let point = |v: f64, what: &str, at: i64| (v, format!("{what} {}: NDCG@10 {v:.3}", local_time(at, tz)));
    let series = [
        Series {
            class: "new",
            points: runs
                .iter()
                .map(|r| Some(point(r.new_ndcg10, "new model", r.finished_at_ms)))
                .collect(),
        },
        Series {
            class: "old",
            points: runs
                .iter()
                .map(|r| {
                    r.old_ndcg10
                        .map(|v| point(v, "model it replaced or kept", r.finished_at_ms))
                })
                .collect(),
        },
    ];
    let run_dates: Vec<Date> = runs.iter().map(|r| local_date(r.finished_at_ms, tz)).collect();
    let svg = chart::lines(
        "training-runs",
        "Validation NDCG@10 of each training run: the new model and the current one",
        &series,
        chart_top(top_value),
        &date_ticks(&run_dates),
        &|v| format!("{v:.2}"),
    );
    let _ = write!(
        out,
        r#"<div class="grid"><figure>{svg}<figcaption>Each run's new model (blue) beside the model it would replace (grey), on the same validation plays. <ul class="legend"><li class="new"><span class="swatch"></span><span>new model</span></li><li class="old"><span class="swatch"></span><span>current model</span></li></ul></figcaption></figure><div class="panel runs"><h3>Training runs</h3><table><thead><tr><th class="wide">When</th><th class="n seen">Plays</th><th class="n">New</th><th class="n">Current</th><th class="result">Result</th></tr></thead><tbody>"#
    );
    for (i, run) in runs.iter().enumerate().rev() {
        let old = match run.old_ndcg10 {
            Some(v) => format!(r#"<data value="{v}" data-json="training_runs.{i}.old_ndcg10">{v:.3}</data>"#),
            None => "none".to_owned(),
        };
        let _ = write!(
            out,
            r#"<tr><td class="wide">{}<span class="by">{}</span></td><td class="n seen">{}</td><td class="n"><data value="{}" data-json="training_runs.{i}.new_ndcg10">{:.3}</data></td><td class="n">{old}</td><td>{}</td></tr>"#,
            local_time(run.finished_at_ms, tz),
            if run.started_by == "cli" {
                "skipless train"
            } else {
                "the player"
            },
            count(&format!("training_runs.{i}.plays_seen"), run.plays_seen),
            run.new_ndcg10,
            run.new_ndcg10,
            if run.saved { "saved" } else { "discarded" }
        );
    }
    out.push_str("</tbody></table></div></div>\n");
}

/// A y axis top a little above `value`, on a round number.
fn chart_top(value: f64) -> f64 {
    ((value * 1.1) * 20.0).ceil().max(1.0) / 20.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Date {
        text.parse().unwrap()
    }

    fn days(from: &str, n: usize) -> Vec<Date> {
        std::iter::successors(Some(date(from)), |d| d.tomorrow().ok())
            .take(n)
            .collect()
    }

    #[test]
    fn date_labels_suit_the_span_and_never_crowd() {
        // Five weeks: a label a week.
        let ticks = date_ticks(&days("2024-05-01", 35));
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert!(labels.len() >= 4 && labels.len() <= 6, "{labels:?}");
        // A year: months, January as its year.
        let ticks = date_ticks(&days("2024-03-10", 365));
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert!(labels.contains(&"Apr") && labels.contains(&"2025"), "{labels:?}");
        // Four years: years, far enough apart.
        let ticks = date_ticks(&days("2022-06-01", 4 * 365));
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["2023", "2024", "2025", "2026"]);
        for w in ticks.windows(2) {
            assert!((w[1].0 - w[0].0) as f64 * 580.0 / (4.0 * 365.0) >= 46.0, "{ticks:?}");
        }
    }
}
