//! `skipless recap`: the page opened in headless Chromium at a desktop and a phone width (no
//! overflow, every chart drawn), its numbers against `recap --json`, nothing fetched from the
//! network, days and hours in the listener's time zone, an empty log, and an `--out` that
//! cannot be written.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use skipless::play::PlaySource;

use crate::common::{has_tool, histories, library_tracks, scan_json, skipless, stdout_of, LogWriter};

/// Eastern time with its daylight saving rule, as a POSIX `TZ` string: it needs no time-zone
/// database on the machine.
const EASTERN: &str = "EST5EDT,M3.2.0,M11.1.0";

/// The charts every page with plays has, by id.
const CHARTS: [&str; 9] = [
    "plays-per-day",
    "listening-per-day",
    "plays-per-week",
    "listening-per-week",
    "skip-rate-per-week",
    "skip-seconds",
    "hour-weekday",
    "sessions-by-length",
    "training-runs",
];

fn recap_json(data: &Path, tz: &str, args: &[&str]) -> Value {
    let text = stdout_of(skipless(data).env("TZ", tz).args(["recap", "--json"]).args(args));
    serde_json::from_str(&text).unwrap()
}

fn ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// The value at a `data-json` path such as `top_tracks.0.listens`.
fn at<'a>(json: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(json, |v, key| match key.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[key],
    })
}

/// Every `<data value="…" data-json="…">text</data>` of the page.
fn data_elements(html: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<data value=\"") {
        rest = &rest[start + 13..];
        let value_end = rest.find('"').unwrap();
        let value = rest[..value_end].to_owned();
        let path_start = rest.find("data-json=\"").unwrap() + 11;
        let path_end = path_start + rest[path_start..].find('"').unwrap();
        let path = rest[path_start..path_end].to_owned();
        let text_start = path_end + 2;
        let text_end = text_start + rest[text_start..].find("</data>").unwrap();
        found.push((path, value, rest[text_start..text_end].to_owned()));
        rest = &rest[text_end..];
    }
    found
}

/// The text of every mark's `<title>` in the chart with this id (the chart's own has an id).
fn chart_titles<'a>(html: &'a str, id: &str) -> Vec<&'a str> {
    let start = html
        .find(&format!("<svg id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
    svg.split("<title>")
        .skip(1)
        .map(|t| &t[..t.find("</title>").unwrap()])
        .collect()
}

/// The number before " plays" (or " play") at the end of a mark's title.
fn plays_in(title: &str) -> u64 {
    let number = title
        .trim_end_matches(" plays")
        .trim_end_matches(" play")
        .rsplit([' ', ':'])
        .next()
        .unwrap();
    number
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("no count in {title:?}"))
}

/// The labels of the y axis of the chart with this id, from its foot up.
fn axis_labels<'a>(html: &'a str, id: &str) -> Vec<&'a str> {
    let start = html
        .find(&format!("<svg id=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
    let axis = &svg[svg.find(r#"<g class="axis">"#).unwrap()..];
    let axis = &axis[..axis.find("</g>").unwrap()];
    axis.split("</text>")
        .filter_map(|t| t.rsplit_once('>').map(|(_, label)| label))
        .collect()
}

/// Runs Chromium headless with `args`, killed after a minute; returns its stdout.
fn chromium(args: &[&str]) -> String {
    let mut child = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .args([
            "--no-first-run",
            "--disable-extensions",
            "--allow-file-access-from-files",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium {args:?} did not finish in a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Opens `page` in a frame exactly `width` CSS pixels wide (Chromium's headless window is never
/// narrower than 500 px, a frame can be) and reads what a script found there: whether the page
/// is wider than its viewport, how many of its charts are drawn with a size and a title, and
/// its background colour (in the browser's dark scheme with `dark`).
fn measure(page: &Path, width: u32, dark: bool) -> Value {
    let wrapper = page.with_file_name(format!("frame-{width}.html"));
    let name = page.file_name().unwrap().to_str().unwrap();
    std::fs::write(
        &wrapper,
        format!(
            r#"<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="{name}" style="border:0;width:{width}px;height:2000px"></iframe>
<script>
const frame = document.getElementById('f');
frame.addEventListener('load', () => {{
  const doc = frame.contentDocument, win = frame.contentWindow;
  const charts = [...doc.querySelectorAll('svg[role="img"]')];
  const drawn = charts.filter(svg => {{
    const box = svg.getBoundingClientRect();
    const title = svg.querySelector(':scope > title');
    return box.width > 0 && box.height > 0 && title && title.textContent.trim() !== ''
      && svg.querySelectorAll('rect, path, circle').length > 0;
  }});
  document.body.setAttribute('data-result', JSON.stringify({{
    fits: doc.documentElement.scrollWidth <= win.innerWidth,
    background: win.getComputedStyle(doc.body).backgroundColor,
    scrollWidth: doc.documentElement.scrollWidth, innerWidth: win.innerWidth,
    charts: charts.map(svg => svg.id), drawn: drawn.map(svg => svg.id),
    overflowing: [...doc.querySelectorAll('body *')]
      .filter(e => e.getBoundingClientRect().right > win.innerWidth + 0.5).slice(0, 5)
      .map(e => `${{e.tagName}}.${{e.getAttribute('class')}} ${{Math.round(e.getBoundingClientRect().right)}}`),
  }}));
}});
</script></body></html>"#
        ),
    )
    .unwrap();
    let url = format!("file://{}", wrapper.display());
    let scheme = if dark {
        "--force-dark-mode"
    } else {
        "--blink-settings=preferredColorScheme=1"
    };
    let dom = chromium(&[
        &format!("--window-size={},900", width.max(500) + 20),
        scheme,
        "--dump-dom",
        &url,
    ]);
    let start = dom
        .find("data-result=\"")
        .unwrap_or_else(|| panic!("the page at {width} px did not report: {dom}"))
        + 13;
    let end = start + dom[start..].find('"').unwrap();
    serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).unwrap()
}

/// A screenshot of the page at `width`, kept under the target dir as a test artefact. Below
/// Chromium's smallest window the page is shot in a frame of that width, as tall as a phone's
/// one-column page.
fn screenshot(page: &Path, width: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("recap");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join(format!("recap-{width}.png"));
    let _ = std::fs::remove_file(&shot);
    let (url, window) = if width >= 500 {
        (format!("file://{}", page.display()), format!("{width},4400"))
    } else {
        let frame = page.with_file_name(format!("shot-{width}.html"));
        let name = page.file_name().unwrap().to_str().unwrap();
        std::fs::write(
            &frame,
            format!(r#"<!DOCTYPE html><html><body style="margin:0"><iframe src="{name}" style="border:0;width:{width}px;height:9000px"></iframe></body></html>"#),
        )
        .unwrap();
        (format!("file://{}", frame.display()), "520,9000".to_owned())
    };
    chromium(&[
        &format!("--window-size={window}"),
        &format!("--screenshot={}", shot.display()),
        &url,
    ]);
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000),
        "no screenshot at {width} px"
    );
    shot
}

#[test]
fn the_recap_page_fits_a_desktop_and_a_phone_and_shows_what_the_json_says() {
    if !has_tool("chromium", "chromium") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    scan_json(&data, &[&crate::common::corpus()]);
    // The in-repo slice of a real history (imported plays of tracks the library lacks) ...
    let imported: Value = serde_json::from_str(&stdout_of(
        skipless(&data)
            .args(["import", "spotify", "--json"])
            .arg(histories().join("khushi")),
    ))
    .unwrap();
    let imported_plays = imported["matched"].as_u64().unwrap() + imported["unmatched"].as_u64().unwrap();
    assert!(imported_plays > 900, "{imported}");
    // ... then the player's own: the listener's picks and autoplay's over three weeks, some
    // skipped, and two training runs.
    let tracks = library_tracks(&data);
    let mut log = LogWriter::open(&data.join("skipless.db"));
    let mut now = ms("2025-03-03T18:00:00Z");
    for day in 0..21 {
        now += 86_400_000;
        let mut at = now;
        for k in 0..6 {
            let source = [PlaySource::User, PlaySource::Queue, PlaySource::Autoplay][(day + k) % 3];
            let skipped = (day * 7 + k) % 4 == 0;
            at = log.play(
                &tracks[(day + k) % tracks.len()],
                source,
                at,
                skipped.then_some(4_000 + k as u64 * 9_000),
            );
        }
    }
    drop(log);
    for _ in 0..2 {
        stdout_of(skipless(&data).args(["train", "--json"]));
    }

    let json = recap_json(&data, EASTERN, &[]);
    let page = tmp.path().join("out/recap.html");
    std::fs::create_dir_all(page.parent().unwrap()).unwrap();
    let written = skipless(&data)
        .env("TZ", EASTERN)
        .args(["recap", "--out"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let html = std::fs::read_to_string(&page).unwrap();

    // The sums hold together.
    let totals = &json["totals"];
    let plays = totals["plays"].as_u64().unwrap();
    assert_eq!(plays, imported_plays + 21 * 6, "{json}");
    let kinds = ["own", "autoplay", "imported"].map(|k| json["kinds"][k]["plays"].as_u64().unwrap());
    assert_eq!(kinds, [84, 42, plays - 126]);
    assert_eq!(totals["unmatched_imports"], imported["unmatched"]);
    // A listen is one thing in the recap and in a ListenBrainz export (which writes listens
    // only), imported plays of tracks the library lacks included: one that ran to its end counts.
    let exported = stdout_of(skipless(&data).args(["export", "--format", "listenbrainz"]));
    assert_eq!(totals["listens"].as_u64(), Some(exported.lines().count() as u64));
    let day_sum: u64 = json["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["plays"].as_u64().unwrap())
        .sum();
    let hour_sum: u64 = json["hour_weekday"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    let skip_sum: u64 = json["skip_seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["skips"].as_u64().unwrap())
        .sum();
    assert_eq!(
        (day_sum, hour_sum, skip_sum),
        (plays, plays, totals["skips"].as_u64().unwrap())
    );
    assert_eq!(
        json["training_runs"].as_array().unwrap().len(),
        2,
        "{}",
        json["training_runs"]
    );

    // Every number in the page is the JSON's.
    let numbers = data_elements(&html);
    for (path, value, text) in &numbers {
        let expected = at(&json, path);
        assert!(!expected.is_null(), "{path} is not in the JSON");
        assert_eq!(value.parse::<f64>().unwrap(), expected.as_f64().unwrap(), "{path}");
        if let Some(n) = expected.as_u64().filter(|_| !path.ends_with("_ms")) {
            assert_eq!(text.replace(',', ""), n.to_string(), "{path} reads {text:?}");
        }
    }
    let paths: Vec<&str> = numbers.iter().map(|(p, _, _)| p.as_str()).collect();
    for key in json["totals"].as_object().unwrap().keys() {
        assert!(
            paths.contains(&format!("totals.{key}").as_str()),
            "totals.{key} is not on the page"
        );
    }
    for list in [
        "top_artists",
        "top_tracks",
        "top_albums",
        "most_skipped",
        "training_runs",
    ] {
        let shown = paths.iter().filter(|p| p.starts_with(&format!("{list}."))).count();
        assert!(
            shown >= json[list].as_array().unwrap().len(),
            "{list}: {shown} numbers shown"
        );
    }
    // And so are the charts' marks.
    let per_day: u64 = chart_titles(&html, "plays-per-day").iter().map(|t| plays_in(t)).sum();
    let per_hour: u64 = chart_titles(&html, "hour-weekday").iter().map(|t| plays_in(t)).sum();
    assert_eq!((per_day, per_hour), (plays, plays));
    for artist in json["top_artists"].as_array().unwrap() {
        let name = artist["artist"]
            .as_str()
            .unwrap()
            .replace('&', "&amp;")
            .replace('\'', "&#39;");
        assert!(html.contains(&name), "{name} is not on the page");
    }

    // Nothing leaves the page.
    for external in [
        "http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link",
    ] {
        assert!(!html.contains(external), "the page has {external:?}");
    }

    for width in [1280, 390] {
        let found = measure(&page, width, false);
        assert_eq!(found["innerWidth"], width, "{found}");
        assert_eq!(found["fits"], true, "overflow at {width} px: {found}");
        for id in CHARTS {
            assert!(
                found["drawn"].as_array().unwrap().iter().any(|d| d == id),
                "{id} is not drawn at {width} px: {found}"
            );
        }
        assert_eq!(found["background"], "rgb(246, 247, 249)", "{found}");
        eprintln!("recap at {width} px: {}", screenshot(&page, width).display());
    }
    // Dark when the browser prefers it.
    let dark = measure(&page, 1280, true);
    assert_eq!(dark["background"], "rgb(14, 16, 20)", "{dark}");
    assert_eq!(dark["fits"], true, "{dark}");
}

#[test]
fn days_weeks_and_hours_are_the_listeners_local_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    scan_json(&data, &[&crate::common::corpus()]);
    let mut tracks = library_tracks(&data);
    // The longest first: 25 s of it is a skip.
    tracks.sort_by_key(|t| std::cmp::Reverse(t.duration_ms));
    let mut log = LogWriter::open(&data.join("skipless.db"));
    // Sunday 5 May 2024 in New York: 08:00 and 23:30 (EDT, UTC-4); then Monday 00:30.
    log.play(&tracks[1], PlaySource::Queue, ms("2024-05-05T12:00:00Z"), None);
    log.play(&tracks[0], PlaySource::User, ms("2024-05-06T03:30:00Z"), Some(25_000));
    log.play(&tracks[2], PlaySource::Autoplay, ms("2024-05-06T04:30:00Z"), None);
    drop(log);

    // The history's text tells the same local times.
    let history = stdout_of(skipless(&data).env("TZ", EASTERN).arg("history"));
    assert!(
        history.contains("2024-05-05 08:00:00") && history.contains("2024-05-05 23:30:00"),
        "{history}"
    );
    let sunday = recap_json(&data, EASTERN, &["--since", "2024-05-05", "--until", "2024-05-05"]);
    assert_eq!(sunday["totals"]["plays"], 2, "{sunday}");
    // The page of that day speaks of one day, one week and one skip in the singular, and its
    // axes of counts label whole numbers only: the line half-way up a top of 1 read "1".
    let page =
        stdout_of(
            skipless(&data)
                .env("TZ", EASTERN)
                .args(["recap", "--since", "2024-05-05", "--until", "2024-05-05"]),
        );
    for said in [
        "Plays per day, 1 day<",
        "Plays per week (Monday on), 1 week<",
        "20–30 s: 1 skip<",
    ] {
        assert!(page.contains(said), "{said:?} not in the page");
    }
    assert_eq!(axis_labels(&page, "skip-seconds"), ["0", "1", "2"]);
    assert_eq!(axis_labels(&page, "plays-per-day"), ["0", "1", "2"]);
    // An export of the same dates covers the same local day.
    let exported = stdout_of(skipless(&data).env("TZ", EASTERN).args([
        "export",
        "--format",
        "jsonl",
        "--since",
        "2024-05-05",
        "--until",
        "2024-05-05",
    ]));
    assert_eq!(exported.lines().count(), 2, "{exported}");
    assert_eq!(sunday["days"].as_array().unwrap().len(), 1);
    assert_eq!(sunday["days"][0]["date"], "2024-05-05");
    assert_eq!(
        (&sunday["hour_weekday"][6][8], &sunday["hour_weekday"][6][23]),
        (&1.into(), &1.into())
    );
    assert_eq!(sunday["kinds"]["own"], serde_json::json!({"plays": 2, "skips": 1}));
    assert_eq!(
        sunday["skip_seconds"][2],
        serde_json::json!({"from_s": 20, "to_s": 30, "skips": 1})
    );

    let all = recap_json(&data, EASTERN, &[]);
    let weeks: Vec<&str> = all["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["start"].as_str().unwrap())
        .collect();
    assert_eq!(weeks, ["2024-04-29", "2024-05-06"], "{all}");
    // `skipless stats` counts the same local weeks: two plays in the week of 29 April (the
    // Sunday), one in the next (Monday 00:30), where UTC would put all three in one week.
    let stats_text = stdout_of(skipless(&data).env("TZ", EASTERN).arg("stats"));
    let stats_weeks: Vec<&str> = stats_text
        .lines()
        .skip_while(|l| !l.starts_with("Skips by week"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(stats_weeks.len(), 2, "{stats_text}");
    assert!(
        stats_weeks[0].trim_start().starts_with("2024-04-29  50% of 2"),
        "{stats_text}"
    );
    assert!(
        stats_weeks[1].trim_start().starts_with("2024-05-06  0% of 1"),
        "{stats_text}"
    );
    let in_utc = recap_json(&data, "UTC", &[]);
    let days: Vec<(&str, u64)> = in_utc["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].as_str().unwrap(), d["plays"].as_u64().unwrap()))
        .collect();
    assert_eq!(days, [("2024-05-05", 1), ("2024-05-06", 2)]);
    assert!(in_utc["time_zone"].as_str().unwrap().contains("UTC"), "{in_utc}");
    assert_eq!(in_utc["hour_weekday"][0][3], 1, "{in_utc}");

    // A kind of play the range has none of gives no rate: "0 skipped of 0 plays", no "(0%)".
    let page = stdout_of(skipless(&data).env("TZ", EASTERN).arg("recap"));
    assert!(
        page.contains(r#"Imported plays: <data value="0" data-json="kinds.imported.skips">0</data> skipped of <data value="0" data-json="kinds.imported.plays">0</data> plays</span>"#),
        "{page}"
    );
    assert!(page.contains(r#"<data value="1" data-json="kinds.autoplay.plays">1</data> play (0%)</span>"#));

    let bad = skipless(&data)
        .args(["recap", "--since", "last tuesday"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr).trim(),
        "skipless: error: --since last tuesday: not a date (YYYY-MM-DD), a local time (2024-05-01T18:00) or an RFC 3339 time such as 2024-05-01T18:00:00Z"
    );
}

#[test]
fn an_empty_log_gets_a_page_that_says_so_and_an_unwritable_out_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let page = tmp.path().join("recap.html");
    // A data dir with no log is refused, as a mistyped --data-dir would be.
    let refused = skipless(&data).args(["recap", "--out"]).arg(&page).output().unwrap();
    assert!(!refused.status.success() && !page.exists());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no skipless data here yet"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // An empty library makes an empty log.
    let music = tmp.path().join("music");
    std::fs::create_dir(&music).unwrap();
    scan_json(&data, &[&music]);
    let made = skipless(&data).args(["recap", "--out"]).arg(&page).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("The log has no plays in this range"), "{html}");
    assert!(html.contains("No training runs in this range"));
    assert_eq!(recap_json(&data, "UTC", &[])["totals"]["plays"], 0);

    // Into a folder that is not there, and onto a folder: one line, and no file left behind.
    let missing = tmp.path().join("no/such/folder/recap.html");
    let taken = tmp.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("keep"), "kept").unwrap();
    for out in [&missing, &taken] {
        let failed = skipless(&data).args(["recap", "--out"]).arg(out).output().unwrap();
        assert!(!failed.status.success());
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("{}: cannot write the recap", out.display())),
            "{stderr}"
        );
    }
    let mut left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["data", "music", "recap.html", "taken"]);
    assert_eq!(std::fs::read_dir(&taken).unwrap().count(), 1);
}
