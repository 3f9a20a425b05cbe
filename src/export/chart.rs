//! The daily series as an SVG chart a therapist reads at a glance: daily
//! pain as a line (an unlogged day is a gap, never zero); each massage
//! session as a dashed line with its date above the plot, its baseline (the
//! week before) as a short grey segment and its first three days after
//! shaded, so the relief is seen; stretching as a light strip under the
//! plot; a "today" marker; a dated x axis; and `<title>`/`<desc>` for
//! screen readers. It scales to its container (`viewBox`,
//! `width="100%"`); the phone layout is narrower, so its text stays
//! readable and it is at least 240 px tall on a 360 px screen.
//!
//! Session dates sit in rows above the plot, where no session line runs:
//! a date that would touch the one before moves up a row, so every session
//! is labelled and no label is drawn against another session's line.
//!
//! Written as a template rather than with a plotting crate: the chart needs
//! accessible structure (a title and description the image is labelled by, a
//! `<title>` per session mark), which plotters' SVG backend does not emit.
//! Every text in it is a date, a number or a fixed word made here; no
//! stored text reaches the SVG.

use std::fmt::Write;

use chrono::{Datelike, Days, NaiveDate};

use crate::analytics::clinical::ReliefClass;
use crate::analytics::trends::{Day, Interval};

pub const CONTENT_TYPE: &str = "image/svg+xml";

/// Which screen the chart is drawn for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// 600 units wide: a desktop or tablet column.
    #[default]
    Wide,
    /// 360 units wide: a phone held upright.
    Phone,
}

/// The measures of a layout.
struct Frame {
    width: f64,
    plot_h: f64,
    /// How many day ticks the x axis may label.
    ticks: usize,
}

impl Layout {
    fn frame(self) -> Frame {
        match self {
            Self::Wide => Frame {
                width: 600.0,
                plot_h: 200.0,
                ticks: 8,
            },
            Self::Phone => Frame {
                width: 360.0,
                plot_h: 170.0,
                ticks: 4,
            },
        }
    }
}

const LEFT: f64 = 32.0;
const RIGHT: f64 = 14.0;
/// Session dates ("16 Nov", 10 px): their width, the room between two, and
/// the height of a row of them.
pub const LABEL_W: f64 = 36.0;
pub const LABEL_GAP: f64 = 4.0;
const LABEL_ROW: f64 = 14.0;
const STRIP_H: f64 = 10.0;

const STYLE: &str = "\
text{fill:#374151}\
.heading{font-size:15px;font-weight:600;fill:#111827}\
.grid{stroke:#e5e7eb;stroke-width:1}\
.axis{stroke:#6b7280;stroke-width:1}\
.pain{fill:none;stroke:#c2410c;stroke-width:2.5;stroke-linejoin:round;stroke-linecap:round}\
.dot{fill:#c2410c}\
.strip{fill:#3b82f6}\
.baseline{stroke:#4b5563;stroke-width:2;stroke-dasharray:4 2}\
.early{fill:#10b981;fill-opacity:.13}\
.session line{stroke:#0f766e;stroke-width:1.5;stroke-dasharray:5 3}\
.session path{fill:#0f766e}\
.session-label{fill:#0f766e;font-size:10px}\
.today line{stroke:#111827;stroke-width:1}\
.today text{fill:#111827;font-size:10px}\
.empty{font-size:14px;fill:#6b7280}";

/// What the chart shows: the days of `[from, to]` (one per calendar day, in
/// order), the intervals after the sessions of the range, and the
/// patient's today.
pub struct Chart<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub today: NaiveDate,
    pub days: &'a [Day],
    pub intervals: &'a [Interval],
    pub layout: Layout,
}

/// A session's date placed above the plot: its centre, its row (0 is
/// nearest the plot) and the session's own x.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub session_x: f64,
    pub centre: f64,
    pub row: usize,
}

/// Places one date per session (x positions in order): centred on its line
/// (moved inwards at the edges, still over its line), in the lowest row
/// where it keeps `LABEL_GAP` from every date already there.
pub fn place_labels(xs: &[f64], left: f64, right: f64) -> Vec<Placed> {
    let half = LABEL_W / 2.0;
    // The right end of the last date in each row.
    let mut rows: Vec<f64> = Vec::new();
    xs.iter()
        .map(|&sx| {
            let centre = sx.clamp(left + half, (right - half).max(left + half));
            let start = centre - half;
            let row = match rows.iter().position(|end| *end + LABEL_GAP <= start) {
                Some(row) => row,
                None => {
                    rows.push(f64::NEG_INFINITY);
                    rows.len() - 1
                }
            };
            rows[row] = centre + half;
            Placed {
                session_x: sx,
                centre,
                row,
            }
        })
        .collect()
}

fn short(date: NaiveDate) -> String {
    date.format("%-d %b").to_string()
}

fn long(date: NaiveDate) -> String {
    date.format("%-d %b %Y").to_string()
}

/// The dates the x axis is labelled at: weeks for short ranges, months, or
/// quarters for long ones; at most `most` of them.
fn ticks(from: NaiveDate, to: NaiveDate, most: usize) -> Vec<(NaiveDate, String)> {
    let span = (to - from).num_days() + 1;
    let mut out = Vec::new();
    let mut day = from;
    while day <= to {
        let label = if span <= 62 {
            ((day - from).num_days() % 7 == 0).then(|| short(day))
        } else {
            let months = if span <= 400 { 1 } else { 3 };
            (day.day() == 1 && (day.month() - 1).is_multiple_of(months)).then(|| {
                if span <= 400 && day.month() != 1 && !out.is_empty() {
                    day.format("%b").to_string()
                } else {
                    day.format("%b %Y").to_string()
                }
            })
        };
        if let Some(label) = label {
            out.push((day, label));
        }
        match day.checked_add_days(Days::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    let step = out.len().div_ceil(most.max(1)).max(1);
    out.into_iter().step_by(step).collect()
}

fn one_decimal(x: f64) -> String {
    format!("{:.1}", (x * 10.0).round() / 10.0)
}

/// What the days after a session showed, in words.
pub fn relief_words(i: &Interval) -> String {
    match (i.baseline_pain, i.early_pain, i.relief, i.relief_class) {
        (Some(before), Some(after), Some(relief), Some(class)) if class != ReliefClass::None => {
            let class = match class {
                ReliefClass::Substantial => "substantial",
                ReliefClass::Moderate => "moderate",
                _ => "minimal",
            };
            format!(
                "pain fell from {} to {} in the 3 days after (−{} points, {class} relief)",
                one_decimal(before),
                one_decimal(after),
                one_decimal(relief)
            )
        }
        (Some(before), Some(after), ..) => format!(
            "pain did not fall in the 3 days after ({} before, {} after)",
            one_decimal(before),
            one_decimal(after)
        ),
        _ => "too few pain entries around it to tell whether it helped".to_owned(),
    }
}

/// What the chart shows, in words.
fn description(days: &[Day], intervals: &[Interval]) -> String {
    let logged: Vec<f64> = days.iter().filter_map(|d| d.mean_pain).collect();
    let mut text = if logged.is_empty() {
        format!("No pain was logged in these {} days.", days.len())
    } else {
        let mean = logged.iter().sum::<f64>() / logged.len() as f64;
        let low = logged.iter().copied().fold(f64::INFINITY, f64::min);
        let high = logged.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!(
            "Daily pain (0 to 10) was logged on {} of {} days: mean {}, lowest {}, highest {}.",
            logged.len(),
            days.len(),
            one_decimal(mean),
            one_decimal(low),
            one_decimal(high)
        )
    };
    match intervals {
        [] => text.push_str(" No massage sessions."),
        [only] => {
            let _ = write!(
                text,
                " One massage session, on {}: {}.",
                long(only.date),
                relief_words(only)
            );
        }
        many => {
            let _ = write!(text, " {} massage sessions.", many.len());
            for i in many.iter().rev().take(12).rev() {
                let _ = write!(text, " {}: {}.", long(i.date), relief_words(i));
            }
            if many.len() > 12 {
                let _ = write!(
                    text,
                    " ({} earlier ones are not described.)",
                    many.len() - 12
                );
            }
        }
    }
    let stretched = days.iter().filter(|d| d.stretch_minutes > 0.0).count();
    let minutes: f64 = days.iter().map(|d| d.stretch_minutes).sum();
    let _ = write!(
        text,
        " Stretching on {stretched} days, {} minutes in all.",
        minutes.round()
    );
    text
}

/// Legend entries: a swatch and a word, laid out in rows that fit the width.
fn legend(svg: &mut String, width: f64, top: f64) -> f64 {
    // (swatch, text, estimated width)
    let items: [(&str, &str, f64); 6] = [
        (
            "<line class=\"pain\" x1=\"0\" y1=\"-4\" x2=\"16\" y2=\"-4\"/>",
            "Pain (0–10)",
            100.0,
        ),
        (
            "<line class=\"baseline\" x1=\"0\" y1=\"-4\" x2=\"16\" y2=\"-4\"/>",
            "Week before",
            98.0,
        ),
        (
            "<rect class=\"early\" x=\"0\" y=\"-10\" width=\"14\" height=\"12\"/>",
            "3 days after",
            96.0,
        ),
        (
            "<g class=\"session\"><line x1=\"7\" y1=\"-11\" x2=\"7\" y2=\"3\"/></g>",
            "Massage",
            78.0,
        ),
        (
            "<rect class=\"strip\" x=\"0\" y=\"-9\" width=\"14\" height=\"10\" fill-opacity=\".6\"/>",
            "Stretching",
            88.0,
        ),
        (
            "<g class=\"today\"><line x1=\"7\" y1=\"-11\" x2=\"7\" y2=\"3\"/></g>",
            "Today",
            56.0,
        ),
    ];
    let mut x = LEFT;
    let mut y = top;
    svg.push_str("<g aria-hidden=\"true\">");
    for (swatch, text, w) in items {
        if x + w > width - RIGHT && x > LEFT {
            x = LEFT;
            y += 18.0;
        }
        let _ = write!(
            svg,
            "<g transform=\"translate({x},{y})\">{swatch}<text x=\"20\" y=\"0\">{text}</text></g>"
        );
        x += w;
    }
    svg.push_str("</g>");
    y
}

/// The chart as SVG.
pub fn render(chart: &Chart<'_>) -> String {
    let Chart {
        from,
        to,
        today,
        days,
        intervals,
        layout,
    } = *chart;
    let frame = layout.frame();
    let width = frame.width;
    let plot_w = width - LEFT - RIGHT;
    let n = days.len().max(1);
    let day_w = plot_w / n as f64;
    let index = |date: NaiveDate| (date - from).num_days();
    // The left edge of a day (an index may fall outside the range).
    let edge = |i: i64| LEFT + i as f64 * day_w;
    let centre = |i: i64| edge(i) + day_w / 2.0;

    let title = format!(
        "Lower-back pain, stretching and massage sessions, {} to {}",
        long(from),
        long(to)
    );
    let mut body = String::with_capacity(16 * 1024 + days.len() * 96);
    let _ = write!(
        body,
        "<text class=\"heading\" x=\"{LEFT}\" y=\"22\">Lower-back pain, {} – {}</text>",
        short(from),
        long(to)
    );
    let legend_bottom = legend(&mut body, width, 46.0);

    // Session dates in rows above the plot.
    let xs: Vec<f64> = intervals.iter().map(|i| centre(index(i.date))).collect();
    let placed = place_labels(&xs, LEFT, LEFT + plot_w);
    let rows = placed.iter().map(|p| p.row + 1).max().unwrap_or(0);
    let top = legend_bottom + 14.0 + rows as f64 * LABEL_ROW;
    let plot_h = frame.plot_h;
    let bottom = top + plot_h;
    let y_pain = |pain: f64| bottom - pain / 10.0 * plot_h;
    let strip_y = bottom + 5.0;
    let height = strip_y + STRIP_H + 30.0;

    // Grid and the pain axis.
    for level in (0..=10).step_by(2) {
        let y = y_pain(f64::from(level));
        let _ = write!(
            body,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{level}</text>",
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0
        );
    }
    // Each session's first three days (shaded) and the week before it (its
    // baseline, a segment at that level), clipped to the plot.
    let clip = |x: f64| x.clamp(LEFT, LEFT + plot_w);
    body.push_str("<g aria-hidden=\"true\">");
    for i in intervals {
        let t = index(i.date);
        if i.days > 0 {
            let last = t + i.days.min(3);
            let (x1, x2) = (clip(edge(t + 1)), clip(edge(last + 1)));
            if x2 > x1 {
                let _ = write!(
                    body,
                    "<rect class=\"early\" x=\"{x1:.2}\" y=\"{top}\" width=\"{:.2}\" height=\"{plot_h}\"/>",
                    x2 - x1
                );
            }
        }
        if let Some(baseline) = i.baseline_pain {
            let (x1, x2) = (clip(edge(t - 7)), clip(edge(t)));
            if x2 > x1 {
                let y = y_pain(baseline);
                let _ = write!(
                    body,
                    "<line class=\"baseline\" x1=\"{x1:.2}\" y1=\"{y:.2}\" x2=\"{x2:.2}\" y2=\"{y:.2}\"/>"
                );
            }
        }
    }
    body.push_str("</g>");
    // Sessions: a dashed line over the plot with a marker at its top, and
    // the date in its row above.
    for (i, p) in intervals.iter().zip(&placed) {
        let sx = p.session_x;
        let label_y = top - 8.0 - p.row as f64 * LABEL_ROW;
        let _ = write!(
            body,
            "<g class=\"session\"><title>Massage session, {}: {}</title>\
             <line x1=\"{sx:.2}\" y1=\"{top}\" x2=\"{sx:.2}\" y2=\"{bottom}\"/>\
             <path d=\"M{sx:.2} {top} l4 -6 h-8 z\"/>\
             <text class=\"session-label\" x=\"{:.2}\" y=\"{label_y}\" text-anchor=\"middle\" data-session-x=\"{sx:.2}\">{}</text></g>",
            long(i.date),
            relief_words(i),
            p.centre,
            short(i.date)
        );
    }
    // Daily pain: one line per run of logged days; a lone day is a dot.
    let mut run: Vec<(f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64)>, svg: &mut String| {
        match run.as_slice() {
            [] => {}
            [(px, py)] => {
                let _ = write!(
                    svg,
                    "<circle class=\"dot\" cx=\"{px:.2}\" cy=\"{py:.2}\" r=\"3\"/>"
                );
            }
            points => {
                let list = points
                    .iter()
                    .map(|(px, py)| format!("{px:.2},{py:.2}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let _ = write!(svg, "<polyline class=\"pain\" points=\"{list}\"/>");
            }
        }
        run.clear();
    };
    body.push_str("<g aria-hidden=\"true\">");
    for (k, day) in days.iter().enumerate() {
        match day.mean_pain {
            Some(pain) => run.push((centre(k as i64), y_pain(pain))),
            None => flush(&mut run, &mut body),
        }
    }
    flush(&mut run, &mut body);
    body.push_str("</g>");
    if days.iter().all(|d| d.mean_pain.is_none()) {
        let _ = write!(
            body,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">No pain entries in this range</text>",
            LEFT + plot_w / 2.0,
            top + plot_h / 2.0
        );
    }
    // Today.
    if today >= from && today <= to {
        let tx = centre(index(today));
        let _ = write!(
            body,
            "<g class=\"today\"><line x1=\"{tx:.2}\" y1=\"{top}\" x2=\"{tx:.2}\" y2=\"{bottom}\"/>\
             <text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\">Today</text></g>",
            tx - 3.0,
            bottom - 4.0
        );
    }
    // Stretching: one cell a day under the plot, darker for more minutes.
    let most = days.iter().map(|d| d.stretch_minutes).fold(0.0, f64::max);
    body.push_str("<g aria-hidden=\"true\">");
    for (k, day) in days.iter().enumerate() {
        if day.stretch_minutes > 0.0 && most > 0.0 {
            let opacity = 0.25 + 0.75 * (day.stretch_minutes / most).min(1.0);
            let _ = write!(
                body,
                "<rect class=\"strip\" x=\"{:.2}\" y=\"{strip_y}\" width=\"{:.2}\" height=\"{STRIP_H}\" fill-opacity=\"{opacity:.2}\"/>",
                edge(k as i64),
                day_w.max(0.6)
            );
        }
    }
    body.push_str("</g>");
    // The x axis.
    let _ = write!(
        body,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\"/>",
        LEFT + plot_w
    );
    for (date, label) in ticks(from, to, frame.ticks) {
        let tx = centre(index(date));
        let _ = write!(
            body,
            "<line class=\"axis\" x1=\"{tx:.2}\" y1=\"{bottom}\" x2=\"{tx:.2}\" y2=\"{:.2}\"/>\
             <text x=\"{tx:.2}\" y=\"{:.2}\" text-anchor=\"middle\">{label}</text>",
            strip_y + STRIP_H,
            strip_y + STRIP_H + 14.0
        );
    }

    let mut svg = String::with_capacity(body.len() + 2048);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"100%\" \
         role=\"img\" aria-labelledby=\"chart-title chart-desc\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\" font-size=\"11\">\
         <title id=\"chart-title\">{title}</title>\
         <desc id=\"chart-desc\">{}</desc><style>{STYLE}</style>\
         <rect width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>{body}</svg>",
        description(days, intervals)
    );
    svg
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn day(date: NaiveDate, pain: Option<f64>, minutes: f64, sessions: usize) -> Day {
        Day {
            date,
            mean_pain: pain,
            max_pain: pain.map(|p| p.ceil() as i64),
            entries: i64::from(pain.is_some()),
            stretch_minutes: minutes,
            stretch_sessions: i64::from(minutes > 0.0),
            massage_session_ids: (0..sessions).map(|_| Uuid::new_v4()).collect(),
            red_flags: vec![],
        }
    }

    fn dates(from: NaiveDate, n: u64) -> Vec<NaiveDate> {
        (0..n)
            .filter_map(|i| from.checked_add_days(Days::new(i)))
            .collect()
    }

    fn interval(date: NaiveDate, days: i64, baseline: Option<f64>) -> Interval {
        Interval {
            session_id: Uuid::nil(),
            date,
            open: false,
            baseline_pain: baseline,
            days,
            logged_days: 0,
            mean_pain: None,
            min_pain: None,
            max_pain: None,
            early_pain: baseline.map(|b| b - 0.6),
            relief: baseline.map(|_| 0.6),
            relief_pct: None,
            relief_class: baseline.map(|_| ReliefClass::Minimal),
            relief_duration_days: None,
            relief_censored: None,
            slope_per_day: None,
            stretch_days: 0,
            stretch_adherence: None,
            stretch_minutes: 0.0,
            programme_adherence: None,
        }
    }

    #[test]
    fn a_gap_splits_the_line_and_a_lone_day_is_a_dot() {
        let Some(from) = NaiveDate::from_ymd_opt(2026, 3, 1) else {
            panic!("date")
        };
        let d = dates(from, 7);
        let days = vec![
            day(d[0], Some(6.0), 10.0, 0),
            day(d[1], Some(5.5), 0.0, 1),
            day(d[2], None, 20.0, 0),
            day(d[3], Some(3.0), 0.0, 0),
            day(d[4], None, 0.0, 0),
            day(d[5], Some(4.0), 0.0, 0),
            day(d[6], Some(5.0), 0.0, 0),
        ];
        let intervals = [interval(d[1], 5, Some(4.3))];
        let svg = render(&Chart {
            from: d[0],
            to: d[6],
            today: d[6],
            days: &days,
            intervals: &intervals,
            layout: Layout::Wide,
        });
        assert_eq!(svg.matches("<polyline class=\"pain\"").count(), 2);
        assert_eq!(svg.matches("<circle class=\"dot\"").count(), 1);
        assert_eq!(
            svg.matches("<rect class=\"strip\"").count(),
            3,
            "two days + legend"
        );
        assert_eq!(svg.matches("<g class=\"session\"><title>").count(), 1);
        assert!(svg.contains(
            "<title>Massage session, 2 Mar 2026: pain fell from 4.3 to 3.7 in the 3 days after (−0.6 points, minimal relief)</title>"
        ));
        assert!(svg.contains("logged on 5 of 7 days: mean 4.7, lowest 3.0, highest 6.0."));
        assert!(svg.contains("One massage session, on 2 Mar 2026: pain fell"));
        assert!(svg.contains("Stretching on 2 days, 30 minutes in all."));
        // The week before is partly before the range: clipped at its start.
        assert_eq!(
            svg.matches("<line class=\"baseline\" x1=\"32.00\"").count(),
            1
        );
        assert_eq!(
            svg.matches("<rect class=\"early\" x=").count(),
            2,
            "+ legend"
        );
        assert!(svg.contains("<g class=\"today\"><line"));
    }

    #[test]
    fn ticks_are_weeks_months_or_quarters() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let weeks = ticks(date(2026, 3, 1), date(2026, 3, 28), 8);
        assert_eq!(weeks.len(), 4);
        assert_eq!(weeks[1], (date(2026, 3, 8), "8 Mar".to_owned()));
        let months = ticks(date(2025, 11, 15), date(2026, 2, 12), 8);
        let labels: Vec<&str> = months.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["Dec 2025", "Jan 2026", "Feb"]);
        let quarters = ticks(date(2024, 1, 1), date(2026, 12, 31), 12);
        assert_eq!(quarters.len(), 12);
        assert_eq!(quarters[1].1, "Apr 2024");
        // The phone keeps every other one of 8.
        assert_eq!(ticks(date(2024, 1, 1), date(2025, 12, 31), 4).len(), 4);
    }

    #[test]
    fn an_empty_range_says_so() {
        let Some(from) = NaiveDate::from_ymd_opt(2026, 3, 1) else {
            panic!("date")
        };
        let days: Vec<Day> = dates(from, 3)
            .into_iter()
            .map(|d| day(d, None, 0.0, 0))
            .collect();
        let svg = render(&Chart {
            from,
            to: days[2].date,
            today: from,
            days: &days,
            intervals: &[],
            layout: Layout::Phone,
        });
        assert!(svg.contains("No pain entries in this range"));
        assert!(svg.contains("No pain was logged in these 3 days. No massage sessions."));
        assert!(!svg.contains("<polyline"));
    }

    #[test]
    fn labels_stagger_instead_of_touching() {
        // Far apart: one row. Two days apart on a 90-day range (12 units):
        // the second moves up. At the right edge: moved inwards, still over
        // its line.
        let placed = place_labels(&[100.0, 200.0, 212.0, 224.0, 580.0], 32.0, 586.0);
        let rows: Vec<usize> = placed.iter().map(|p| p.row).collect();
        assert_eq!(rows, [0, 0, 1, 2, 0]);
        assert_eq!(placed[4].centre, 568.0);
        for p in &placed {
            assert!((p.centre - LABEL_W / 2.0..=p.centre + LABEL_W / 2.0).contains(&p.session_x));
        }
        // A fourth close one fits row 0 again once clear of the first.
        let placed = place_labels(&[100.0, 112.0, 124.0, 140.0], 32.0, 586.0);
        let rows: Vec<usize> = placed.iter().map(|p| p.row).collect();
        assert_eq!(rows, [0, 1, 2, 0]);
    }
}
