//! The daily series as an SVG chart a therapist can read at a glance: daily
//! pain as a line (an unlogged day is a gap, never zero), each massage
//! session as a dashed vertical line with its date, stretch minutes as bars
//! on a second axis, a dated x axis, and `<title>`/`<desc>` for screen
//! readers. It scales to its container (`viewBox`, `width="100%"`), and at
//! phone width the text grows and the minor labels step aside.
//!
//! Written as a template rather than with a plotting crate: the chart needs
//! accessible structure (a title and description the image is labelled by, a
//! `<title>` per session mark) and CSS for small screens, which plotters'
//! SVG backend does not emit. Every text in it is a date or a number made
//! here; no stored text reaches the SVG.

use std::fmt::Write;

use chrono::{Datelike, Days, NaiveDate};

use crate::analytics::trends::Day;

pub const CONTENT_TYPE: &str = "image/svg+xml";

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 330.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 36.0;
const TOP: f64 = 72.0;
const BOTTOM: f64 = 40.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const PLOT_H: f64 = HEIGHT - TOP - BOTTOM;
/// The width of a session's date label ("16 Nov") at the desktop and at
/// the phone font size.
const LABEL: f64 = 34.0;
const LABEL_PHONE: f64 = 80.0;

const STYLE: &str = "\
text{fill:#374151}\
.heading{font-size:15px;font-weight:600;fill:#111827}\
.grid{stroke:#e5e7eb;stroke-width:1}\
.axis{stroke:#6b7280;stroke-width:1}\
.pain{fill:none;stroke:#c2410c;stroke-width:2.5;stroke-linejoin:round;stroke-linecap:round}\
.dot{fill:#c2410c}\
.bar{fill:#93c5fd}\
.session line{stroke:#0f766e;stroke-width:1.5;stroke-dasharray:5 3}\
.session path{fill:#0f766e}\
.session text{fill:#0f766e;font-size:10px}\
.empty{font-size:15px;fill:#6b7280}\
@media (max-width:480px){text,.session text{font-size:21px}.heading{font-size:23px}.minor{display:none}}";

/// Where a day's centre is.
fn x(index: usize, days: usize) -> f64 {
    LEFT + (index as f64 + 0.5) * PLOT_W / days.max(1) as f64
}

fn y_pain(pain: f64) -> f64 {
    TOP + PLOT_H - pain / 10.0 * PLOT_H
}

/// The top of the stretch axis: the busiest day rounded up to 10 minutes.
fn minutes_scale(days: &[Day]) -> f64 {
    let most = days.iter().map(|d| d.stretch_minutes).fold(0.0, f64::max);
    ((most / 10.0).ceil() * 10.0).max(10.0)
}

fn short(date: NaiveDate) -> String {
    date.format("%-d %b").to_string()
}

fn long(date: NaiveDate) -> String {
    date.format("%-d %b %Y").to_string()
}

/// The dates the x axis is labelled at: weeks for short ranges, months, or
/// quarters for long ones.
fn ticks(from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, String)> {
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
    out
}

fn one_decimal(x: f64) -> String {
    format!("{:.1}", (x * 10.0).round() / 10.0)
}

/// What the chart shows, in words.
fn description(days: &[Day], sessions: &[NaiveDate]) -> String {
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
    match sessions {
        [] => text.push_str(" No massage sessions."),
        [only] => {
            let _ = write!(text, " One massage session, on {}.", long(*only));
        }
        many => {
            let named = many
                .iter()
                .take(12)
                .map(|d| long(*d))
                .collect::<Vec<_>>()
                .join(", ");
            let more = many.len().saturating_sub(12);
            let _ = write!(text, " {} massage sessions: {named}", many.len());
            if more > 0 {
                let _ = write!(text, " and {more} more");
            }
            text.push('.');
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

/// The chart of `days` (one per calendar day of `[from, to]`, in order).
pub fn render(from: NaiveDate, to: NaiveDate, days: &[Day]) -> String {
    let n = days.len();
    let scale = minutes_scale(days);
    let sessions: Vec<(usize, NaiveDate)> = days
        .iter()
        .enumerate()
        .flat_map(|(i, d)| d.massage_session_ids.iter().map(move |_| (i, d.date)))
        .collect();
    let session_dates: Vec<NaiveDate> = sessions.iter().map(|(_, d)| *d).collect();
    let title = format!(
        "Lower-back pain, stretching and massage sessions, {} to {}",
        long(from),
        long(to)
    );
    let mut svg = String::with_capacity(16 * 1024 + n * 96);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" \
         role=\"img\" aria-labelledby=\"chart-title chart-desc\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\" font-size=\"11\">\
         <title id=\"chart-title\">{title}</title>\
         <desc id=\"chart-desc\">{}</desc><style>{STYLE}</style>\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>",
        description(days, &session_dates)
    );
    let _ = write!(
        svg,
        "<text class=\"heading\" x=\"{LEFT}\" y=\"24\">Lower-back pain, {} – {}</text>",
        short(from),
        long(to)
    );
    // Legend, spaced for the phone font size.
    let _ = write!(
        svg,
        "<g aria-hidden=\"true\">\
         <line class=\"pain\" x1=\"{LEFT}\" y1=\"48\" x2=\"{}\" y2=\"48\"/>\
         <text x=\"{}\" y=\"52\">Pain (0–10)</text>\
         <rect class=\"bar\" x=\"{}\" y=\"42\" width=\"12\" height=\"12\"/>\
         <text x=\"{}\" y=\"52\">Stretching (min)</text>\
         <g class=\"session\"><line x1=\"{}\" y1=\"40\" x2=\"{}\" y2=\"56\"/></g>\
         <text x=\"{}\" y=\"52\">Massage</text></g>",
        LEFT + 20.0,
        LEFT + 26.0,
        LEFT + 170.0,
        LEFT + 188.0,
        LEFT + 398.0,
        LEFT + 398.0,
        LEFT + 406.0,
    );
    // Grid and the pain axis (left).
    for level in (0..=10).step_by(2) {
        let y = y_pain(f64::from(level));
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{level}</text>",
            LEFT + PLOT_W,
            LEFT - 8.0,
            y + 4.0
        );
    }
    // The stretch axis (right).
    for (i, minutes) in [0.0, scale / 2.0, scale].into_iter().enumerate() {
        let y = TOP + PLOT_H - minutes / scale * PLOT_H;
        let class = if i == 1 { " class=\"minor\"" } else { "" };
        let _ = write!(
            svg,
            "<text{class} x=\"{}\" y=\"{}\">{minutes}</text>",
            LEFT + PLOT_W + 6.0,
            y + 4.0
        );
    }
    // Stretch bars, behind the line.
    let bar = (PLOT_W / n.max(1) as f64 * 0.7).max(0.6);
    svg.push_str("<g aria-hidden=\"true\">");
    for (i, day) in days.iter().enumerate() {
        if day.stretch_minutes > 0.0 {
            let h = day.stretch_minutes / scale * PLOT_H;
            let _ = write!(
                svg,
                "<rect class=\"bar\" x=\"{:.2}\" y=\"{:.2}\" width=\"{bar:.2}\" height=\"{h:.2}\"/>",
                x(i, n) - bar / 2.0,
                TOP + PLOT_H - h
            );
        }
    }
    svg.push_str("</g>");
    // Sessions: a dashed line, a marker at the top, the date where it fits.
    // Labels are placed left to right while they keep clear of the one
    // before; those clear only at the desktop size are hidden on phones.
    let (mut right_edge, mut right_edge_phone) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for (i, date) in &sessions {
        let sx = x(*i, n);
        let _ = write!(
            svg,
            "<g class=\"session\"><title>Massage session, {}</title>\
             <line x1=\"{sx:.2}\" y1=\"{TOP}\" x2=\"{sx:.2}\" y2=\"{}\"/>\
             <path d=\"M{:.2} {} l5 -8 h-10 z\"/>",
            long(*date),
            TOP + PLOT_H,
            sx,
            TOP
        );
        // Near the right edge the label goes left of its line.
        let at_edge = sx > LEFT + PLOT_W - LABEL_PHONE;
        let (lx, anchor) = if at_edge {
            (sx - 4.0, "end")
        } else {
            (sx + 4.0, "start")
        };
        let span = |width: f64| {
            if at_edge {
                (lx - width, lx)
            } else {
                (lx, lx + width)
            }
        };
        let (start, end) = span(LABEL);
        let (start_phone, end_phone) = span(LABEL_PHONE);
        if start >= right_edge + 8.0 {
            let phone = start_phone >= right_edge_phone + 8.0;
            let class = if phone { "" } else { " class=\"minor\"" };
            let _ = write!(
                svg,
                "<text{class} x=\"{lx:.2}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                TOP + 16.0,
                short(*date)
            );
            right_edge = end;
            if phone {
                right_edge_phone = end_phone;
            }
        }
        svg.push_str("</g>");
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
    svg.push_str("<g aria-hidden=\"true\">");
    for (i, day) in days.iter().enumerate() {
        match day.mean_pain {
            Some(pain) => run.push((x(i, n), y_pain(pain))),
            None => flush(&mut run, &mut svg),
        }
    }
    flush(&mut run, &mut svg);
    svg.push_str("</g>");
    if days.iter().all(|d| d.mean_pain.is_none()) {
        let _ = write!(
            svg,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">No pain entries in this range</text>",
            LEFT + PLOT_W / 2.0,
            TOP + PLOT_H / 2.0
        );
    }
    // The x axis.
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\"/>",
        TOP + PLOT_H,
        LEFT + PLOT_W
    );
    let marks = ticks(from, to);
    let crowded = marks.len() > 6;
    for (k, (date, label)) in marks.iter().enumerate() {
        let i = usize::try_from((*date - from).num_days()).unwrap_or(0);
        let tx = x(i, n);
        let class = if crowded && k % 2 == 1 {
            " class=\"minor\""
        } else {
            ""
        };
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{tx:.2}\" y1=\"{0}\" x2=\"{tx:.2}\" y2=\"{1}\"/>\
             <text{class} x=\"{tx:.2}\" y=\"{2}\" text-anchor=\"middle\">{label}</text>",
            TOP + PLOT_H,
            TOP + PLOT_H + 5.0,
            TOP + PLOT_H + 22.0
        );
    }
    svg.push_str("</svg>");
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
        }
    }

    fn dates(from: NaiveDate, n: u64) -> Vec<NaiveDate> {
        (0..n)
            .filter_map(|i| from.checked_add_days(Days::new(i)))
            .collect()
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
        let svg = render(d[0], d[6], &days);
        assert_eq!(svg.matches("<polyline class=\"pain\"").count(), 2);
        assert_eq!(svg.matches("<circle class=\"dot\"").count(), 1);
        assert_eq!(
            svg.matches("<rect class=\"bar\"").count(),
            3,
            "two days + legend"
        );
        assert_eq!(svg.matches("<g class=\"session\"><title>").count(), 1);
        assert!(svg.contains("<title>Massage session, 2 Mar 2026</title>"));
        assert!(svg.contains("logged on 5 of 7 days: mean 4.7, lowest 3.0, highest 6.0."));
        assert!(svg.contains("One massage session, on 2 Mar 2026."));
        assert!(svg.contains("Stretching on 2 days, 30 minutes in all."));
        // The busiest day (20 min) tops the stretch axis.
        assert!(svg.contains(">20</text>"));
    }

    #[test]
    fn ticks_are_weeks_months_or_quarters() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let weeks = ticks(date(2026, 3, 1), date(2026, 3, 28));
        assert_eq!(weeks.len(), 4);
        assert_eq!(weeks[1], (date(2026, 3, 8), "8 Mar".to_owned()));
        let months = ticks(date(2025, 11, 15), date(2026, 2, 12));
        let labels: Vec<&str> = months.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["Dec 2025", "Jan 2026", "Feb"]);
        let quarters = ticks(date(2024, 1, 1), date(2026, 12, 31));
        assert_eq!(quarters.len(), 12);
        assert_eq!(quarters[1].1, "Apr 2024");
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
        let svg = render(from, days[2].date, &days);
        assert!(svg.contains("No pain entries in this range"));
        assert!(svg.contains("No pain was logged in these 3 days. No massage sessions."));
        assert!(!svg.contains("<polyline"));
    }
}
