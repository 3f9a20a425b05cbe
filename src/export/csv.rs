//! The daily series as CSV (RFC 4180: a header row, CRLF line ends, quoted
//! where needed, UTF-8), safe to open in a spreadsheet.

use std::borrow::Cow;

use crate::analytics::trends::Day;

/// The columns, in order.
pub const HEADER: [&str; 9] = [
    "date",
    "mean_pain",
    "max_pain",
    "entries",
    "stretch_minutes",
    "stretch_sessions",
    "massage_sessions",
    "massage_session_ids",
    "red_flags",
];

/// A text cell that a spreadsheet would run as a formula (`=`, `+`, `-`,
/// `@`, or a tab or carriage return before one) gets a leading `'`, which
/// spreadsheets show as text. Numbers are written by us and never pass here.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

fn number(x: Option<f64>) -> String {
    x.map(|x| x.to_string()).unwrap_or_default()
}

/// One row per day; an unlogged day has empty pain cells, never 0.
pub fn daily(days: &[Day]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(HEADER)?;
    for day in days {
        let ids = day
            .massage_session_ids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        out.write_record([
            day.date.to_string(),
            number(day.mean_pain),
            day.max_pain.map(|x| x.to_string()).unwrap_or_default(),
            day.entries.to_string(),
            day.stretch_minutes.to_string(),
            day.stretch_sessions.to_string(),
            day.massage_session_ids.len().to_string(),
            neutralise(&ids).into_owned(),
            day.red_flags
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use uuid::Uuid;

    use super::*;
    use crate::domain::red_flag::RedFlag;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for (raw, expected) in [
            ("=1+1", "'=1+1"),
            ("+SUM(A1)", "'+SUM(A1)"),
            ("-2", "'-2"),
            ("@cmd", "'@cmd"),
            ("\t=x", "'\t=x"),
            ("\r=x", "'\r=x"),
            ("a=b", "a=b"),
            ("", ""),
            ("Ünïcode", "Ünïcode"),
        ] {
            assert_eq!(neutralise(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn a_logged_and_an_unlogged_day() -> Result<(), Box<dyn std::error::Error>> {
        let date = |d| NaiveDate::from_ymd_opt(2026, 3, d).ok_or("date");
        let session = Uuid::parse_str("0b8f7c1e-6f0e-4d7a-9b3c-2a1d5e6f7a8b")?;
        let other = Uuid::parse_str("1c9f7c1e-6f0e-4d7a-9b3c-2a1d5e6f7a8b")?;
        let days = [
            Day {
                date: date(1)?,
                mean_pain: Some(5.333),
                max_pain: Some(7),
                entries: 3,
                stretch_minutes: 12.5,
                stretch_sessions: 2,
                massage_session_ids: vec![session, other],
                red_flags: vec![RedFlag::BilateralLegSymptoms, RedFlag::Fever],
            },
            Day {
                date: date(2)?,
                mean_pain: None,
                max_pain: None,
                entries: 0,
                stretch_minutes: 0.0,
                stretch_sessions: 0,
                massage_session_ids: vec![],
                red_flags: vec![],
            },
        ];
        let text = String::from_utf8(daily(&days)?)?;
        assert_eq!(
            text,
            "date,mean_pain,max_pain,entries,stretch_minutes,stretch_sessions,massage_sessions,massage_session_ids,red_flags\r\n\
             2026-03-01,5.333,7,3,12.5,2,2,0b8f7c1e-6f0e-4d7a-9b3c-2a1d5e6f7a8b 1c9f7c1e-6f0e-4d7a-9b3c-2a1d5e6f7a8b,bilateral_leg_symptoms fever\r\n\
             2026-03-02,,,0,0,0,0,,\r\n"
        );
        Ok(())
    }
}
