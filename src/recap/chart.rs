//! The recap's charts as inline SVG: [`bars`] over time, [`lines`], a [`heat_map`] and
//! horizontal bars ([`hbars`]). Each is an `<svg role="img">` named by its `<title>`, and each
//! mark carries its own `<title>` (browsers show it on hover). Colours come from the page's
//! CSS classes, so the charts follow its light or dark scheme; the `viewBox` lets them shrink
//! to any width.

use std::fmt::Write;

const WIDTH: f64 = 640.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;
const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;

/// One bar: its height, and what its hover text says.
pub(super) struct Bar {
    pub value: f64,
    pub label: String,
}

/// One line of a line chart: a class that colours it, and a point (value, hover text) per x,
/// `None` where it has no value (the line breaks there).
pub(super) struct Series {
    pub class: &'static str,
    pub points: Vec<Option<(f64, String)>>,
}

/// Text for HTML and SVG: `&`, `<`, `>` and quotes escaped, control characters replaced.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // A control character (a mis-decoded tag) has no place in a page: the same
            // replacement character on stdout and in a file.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn open(out: &mut String, id: &str, title: &str, height: f64) {
    let _ = write!(
        out,
        r#"<svg id="{id}" role="img" aria-labelledby="{id}-title" viewBox="0 0 {WIDTH} {height}"><title id="{id}-title">{}</title>"#,
        escape(title)
    );
}

/// The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least `value` (1 for none).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&top| top >= value * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// What a bar chart counts, which decides where its y axis ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scale {
    /// Whole things (plays, skips): the axis ends on an even number, so that the line half-way
    /// up is one too (a top of 5 would put a line at 2.5 and label it 3).
    Whole,
    /// Amounts (hours): any [`nice_ceiling`].
    Amounts,
}

/// The top of a y axis for values up to `value` on `scale`.
fn axis_top(value: f64, scale: Scale) -> f64 {
    match scale {
        Scale::Amounts => nice_ceiling(value),
        Scale::Whole if value <= 10.0 => 2.0 * (value / 2.0).ceil().max(1.0),
        Scale::Whole => {
            let top = nice_ceiling(value);
            // 25 × 10^k with k = 0 is the one nice top with an odd half.
            if top == 25.0 {
                50.0
            } else {
                top
            }
        }
    }
}

/// Grid lines and their labels at 0, half and the top of the y axis.
fn y_axis(out: &mut String, top_value: f64, height: f64, label: &dyn Fn(f64) -> String) {
    let bottom = height - BOTTOM;
    out.push_str(r#"<g class="axis">"#);
    for share in [0.0, 0.5, 1.0] {
        let y = bottom - share * (bottom - TOP);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape(&label(share * top_value))
        );
    }
    out.push_str("</g>");
}

/// Labels under the x axis at the given positions (0..n); every other one is marked `alt`, for
/// a narrow screen to hide, as its text is larger there.
fn x_ticks(out: &mut String, ticks: &[(usize, String)], n: usize, height: f64, centered: bool) {
    out.push_str(r#"<g class="axis">"#);
    for (k, (i, text)) in ticks.iter().enumerate() {
        let x = x_at(*i, n, centered);
        let anchor = if x < LEFT + 24.0 {
            "start"
        } else if x > WIDTH - RIGHT - 24.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="{anchor}"{}>{}</text>"#,
            height - 7.0,
            if k % 2 == 1 { r#" class="alt""# } else { "" },
            escape(text)
        );
    }
    out.push_str("</g>");
}

/// The x of position `i` of `n`: the middle of its band, or (for lines) spread edge to edge.
fn x_at(i: usize, n: usize, centered: bool) -> f64 {
    if centered || n < 2 {
        LEFT + (i as f64 + 0.5) * PLOT_WIDTH / n.max(1) as f64
    } else {
        LEFT + i as f64 * PLOT_WIDTH / (n - 1) as f64
    }
}

/// Vertical bars, one per position, with `ticks` labelling some positions.
pub(super) fn bars(
    id: &str,
    title: &str,
    bars: &[Bar],
    ticks: &[(usize, String)],
    scale: Scale,
    y_label: &dyn Fn(f64) -> String,
) -> String {
    let height = 220.0;
    let mut out = String::new();
    open(&mut out, id, title, height);
    let top_value = axis_top(bars.iter().map(|b| b.value).fold(0.0, f64::max), scale);
    y_axis(&mut out, top_value, height, y_label);
    let band = PLOT_WIDTH / bars.len().max(1) as f64;
    // Thin bars touch; wide ones get a gap.
    let width = if band < 4.0 { band } else { band * 0.8 };
    let bottom = height - BOTTOM;
    out.push_str(r#"<g class="bars">"#);
    for (i, bar) in bars.iter().enumerate() {
        if bar.value <= 0.0 {
            continue;
        }
        let h = bar.value / top_value * (bottom - TOP);
        let _ = write!(
            out,
            r#"<rect x="{:.2}" y="{:.2}" width="{width:.2}" height="{h:.2}"><title>{}</title></rect>"#,
            x_at(i, bars.len(), true) - width / 2.0,
            bottom - h,
            escape(&bar.label)
        );
    }
    out.push_str("</g>");
    x_ticks(&mut out, ticks, bars.len(), height, true);
    out.push_str("</svg>");
    out
}

/// Lines over `n` positions on a y axis from 0 to `top_value`.
pub(super) fn lines(
    id: &str,
    title: &str,
    series: &[Series],
    top_value: f64,
    ticks: &[(usize, String)],
    y_label: &dyn Fn(f64) -> String,
) -> String {
    let height = 220.0;
    let n = series.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let bottom = height - BOTTOM;
    let y_of = |v: f64| bottom - (v / top_value).clamp(0.0, 1.0) * (bottom - TOP);
    let mut out = String::new();
    open(&mut out, id, title, height);
    y_axis(&mut out, top_value, height, y_label);
    for line in series {
        let mut path = String::new();
        let mut pen_down = false;
        for (i, point) in line.points.iter().enumerate() {
            match point {
                Some((v, _)) => {
                    let _ = write!(
                        path,
                        "{}{:.1} {:.1}",
                        if pen_down { " L" } else { " M" },
                        x_at(i, n, false),
                        y_of(*v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(out, r#"<g class="series {}"><path d="{}"/>"#, line.class, path.trim());
        for (i, point) in line.points.iter().enumerate() {
            if let Some((v, label)) = point {
                let _ = write!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5"><title>{}</title></circle>"#,
                    x_at(i, n, false),
                    y_of(*v),
                    escape(label)
                );
            }
        }
        out.push_str("</g>");
    }
    x_ticks(&mut out, ticks, n, height, false);
    out.push_str("</svg>");
    out
}

/// Plays by weekday (rows, Monday first) and hour (columns), darker for more.
pub(super) fn heat_map(id: &str, title: &str, rows: &[[u64; 24]]) -> String {
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let cell_h = 24.0;
    let left = 48.0;
    let cell_w = (WIDTH - left - RIGHT) / 24.0;
    let height = TOP + cell_h * rows.len() as f64 + BOTTOM;
    let most = rows.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let mut out = String::new();
    open(&mut out, id, title, height);
    out.push_str(r#"<g class="axis">"#);
    for (row, day) in WEEKDAYS.iter().enumerate().take(rows.len()) {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{day}</text>"#,
            left - 6.0,
            TOP + (row as f64 + 0.5) * cell_h + 4.0
        );
    }
    for hour in (0..24).step_by(3) {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle"{}>{hour:02}:00</text>"#,
            left + hour as f64 * cell_w + cell_w / 2.0,
            height - 7.0,
            if hour % 6 == 3 { r#" class="alt""# } else { "" }
        );
    }
    out.push_str(r#"</g><g class="heat">"#);
    for (row, hours) in rows.iter().enumerate() {
        for (hour, &plays) in hours.iter().enumerate() {
            // A square root spreads the few busy hours from the many quiet ones.
            let strength = if plays == 0 {
                0.0
            } else {
                0.12 + 0.88 * (plays as f64 / most).sqrt()
            };
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill-opacity="{strength:.3}"><title>{} {hour:02}:00–{:02}:00: {plays} plays</title></rect>"#,
                left + hour as f64 * cell_w + 1.0,
                TOP + row as f64 * cell_h + 1.0,
                cell_w - 2.0,
                cell_h - 2.0,
                WEEKDAYS[row % 7],
                (hour + 1) % 24
            );
        }
    }
    out.push_str("</g></svg>");
    out
}

/// Horizontal bars: a label, a bar and its count per row.
/// Horizontal bars, one per row of a label and a count of `noun`s.
pub(super) fn hbars(id: &str, title: &str, rows: &[(String, u64)], noun: &str) -> String {
    let row_h = 30.0;
    let left = 150.0;
    let right = 90.0;
    let height = TOP + row_h * rows.len() as f64 + 6.0;
    let most = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let mut out = String::new();
    open(&mut out, id, title, height);
    for (i, (label, count)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * row_h;
        let w = *count as f64 / most * (WIDTH - left - right);
        let _ = write!(
            out,
            r#"<g><text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="hbar" x="{left}" y="{:.1}" width="{w:.1}" height="{:.1}"><title>{}: {}</title></rect><text class="label" x="{:.1}" y="{:.1}">{}</text></g>"#,
            left - 8.0,
            y + row_h / 2.0 + 4.0,
            escape(label),
            y + 4.0,
            row_h - 8.0,
            escape(label),
            escape(&crate::fmt::count(*count, noun)),
            left + w + 6.0,
            y + row_h / 2.0 + 4.0,
            crate::fmt::group_digits(*count)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(
            [0.0, 0.3, 1.0, 3.0, 7.0, 11.0, 24.0, 180.0, 1234.0].map(nice_ceiling),
            [1.0, 0.5, 1.0, 5.0, 10.0, 20.0, 25.0, 200.0, 2000.0]
        );
    }

    #[test]
    fn an_axis_of_whole_things_has_a_whole_line_half_way() {
        let tops = [0.0, 1.0, 3.0, 5.0, 7.0, 11.0, 24.0, 180.0, 1234.0].map(|v| axis_top(v, Scale::Whole));
        assert_eq!(tops, [2.0, 2.0, 4.0, 6.0, 8.0, 20.0, 50.0, 200.0, 2000.0]);
        for top in tops {
            assert_eq!((top / 2.0).fract(), 0.0, "{top}");
        }
        assert_eq!(axis_top(2.2, Scale::Amounts), 2.5);
    }

    #[test]
    fn names_are_escaped_in_charts() {
        let svg = hbars("s", "A <b> & 'c'", &[("<script>".to_owned(), 3)], "session");
        assert!(svg.contains("A &lt;b&gt; &amp; &#39;c&#39;"), "{svg}");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.starts_with(r#"<svg id="s" role="img""#));
    }
}
