//! How pain moves between massage sessions (docs/analytics.md and
//! "Trends"): pure functions over a patient's rows. Daily pain `D(d)` is the
//! mean of the day's entries and an unlogged day is skipped, never zero;
//! comparisons with the baseline are exact, and figures are rounded only
//! for output.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::red_flag::{self, RedFlag};

use super::clinical::{classify, next_session, NextSession, ReliefClass};
use super::{round3, Frac};

/// A pain entry: its day and level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PainPoint {
    pub date: NaiveDate,
    pub level: i64,
}

/// A stretch session: its day and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StretchPoint {
    pub date: NaiveDate,
    pub seconds: i64,
}

/// A massage session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub date: NaiveDate,
    pub started_at: Option<DateTime<Utc>>,
}

/// One calendar day. An unlogged day has `mean_pain` and `max_pain` null, never 0.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Day {
    pub date: NaiveDate,
    /// Mean of the day's pain levels.
    pub mean_pain: Option<f64>,
    pub max_pain: Option<i64>,
    /// Number of pain entries.
    pub entries: i64,
    pub stretch_minutes: f64,
    pub stretch_sessions: i64,
    /// Massage sessions of the day, in session order.
    pub massage_session_ids: Vec<Uuid>,
    /// The red flags the day's entries reported, each once, in the order
    /// of `GET /v1/red-flags`; empty when none did.
    pub red_flags: Vec<RedFlag>,
}

/// What happened after one massage session (docs/analytics.md).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Interval {
    pub session_id: Uuid,
    pub date: NaiveDate,
    /// The last session in the range: its interval runs to `to`.
    pub open: bool,
    /// Mean daily pain over the 7 days before the session (may reach before `from`).
    pub baseline_pain: Option<f64>,
    /// Days from the day after the session to the day before the next one.
    pub days: i64,
    pub logged_days: i64,
    pub mean_pain: Option<f64>,
    pub min_pain: Option<f64>,
    pub max_pain: Option<f64>,
    /// Mean daily pain over the first 3 days after the session.
    pub early_pain: Option<f64>,
    /// `baseline_pain − early_pain`: positive is better.
    pub relief: Option<f64>,
    /// `relief / baseline_pain`; null when either is null or the baseline is 0.
    pub relief_pct: Option<f64>,
    /// `substantial` (≥ 50 %), `moderate` (≥ 30 % or ≥ 2 points),
    /// `minimal` (any fall) or `none`; null without a relief.
    pub relief_class: Option<ReliefClass>,
    /// Days before pain was back at the baseline; `days` when it never was (censored).
    pub relief_duration_days: Option<i64>,
    pub relief_censored: Option<bool>,
    /// Least-squares slope of daily pain over the interval.
    pub slope_per_day: Option<f64>,
    pub stretch_days: i64,
    /// `stretch_days / days`.
    pub stretch_adherence: Option<f64>,
    pub stretch_minutes: f64,
    /// Adherence to the home programme over the interval's days up to the
    /// patient's today (each day judged by the version in force then);
    /// null without a programme in force on any of them.
    pub programme_adherence: Option<f64>,
}

impl Interval {
    /// The days the interval covers, up to `today` (none when it has none).
    pub fn span_until(&self, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        let start = self.date.succ_opt()?;
        let end = plus(self.date, self.days).min(today);
        (self.days > 0 && start <= end).then_some((start, end))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrendSummary {
    pub sessions: i64,
    /// Intervals whose relief was `moderate` or `substantial`.
    pub responders: i64,
    /// Intervals with a relief class (a baseline and early pain).
    pub classified: i64,
    /// When the next session is due, from the recent helpful intervals;
    /// null below 3 of them, and for a range that ends before the patient's
    /// today (it cannot see the sessions since).
    pub next_session: Option<NextSession>,
    pub mean_relief: Option<f64>,
    /// Over intervals whose relief ended (uncensored) only.
    pub mean_relief_duration_days: Option<f64>,
    pub logged_days: i64,
    pub mean_pain: Option<f64>,
    /// Least-squares slope of daily pain over the range, per week.
    pub slope_per_week: Option<f64>,
    /// Pearson's r between a day's stretch minutes and the next day's pain;
    /// null below 3 pairs or without variance.
    pub stretch_pain_correlation: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trends {
    pub intervals: Vec<Interval>,
    pub summary: TrendSummary,
}

/// What a day holds, summed: the figures need nothing else of the rows, so
/// storage can sum them (exactly: whole pain levels and seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaySums {
    /// Sum, count and highest of the day's pain levels (`count` 0: unlogged).
    pub pain_sum: i64,
    pub pain_count: i64,
    pub pain_max: i64,
    /// Seconds and number of the day's stretch sessions.
    pub stretch_seconds: i64,
    pub stretch_sessions: i64,
    /// The red flags the day's entries reported, as a mask (0: none).
    pub red_flags: i32,
}

/// The sums of every calendar day of a span, one slot per day (one
/// allocation; a day is found by its offset). Days outside the span are
/// not kept: a span of `[from − 7, to]` is all the figures of `[from, to]`
/// look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySpan {
    first: NaiveDate,
    sums: Vec<DaySums>,
}

impl DaySpan {
    /// `[first, last]` with nothing logged (empty when `last < first`).
    pub fn new(first: NaiveDate, last: NaiveDate) -> Self {
        let len = usize::try_from((last - first).num_days() + 1).unwrap_or(0);
        Self {
            first,
            sums: vec![DaySums::default(); len],
        }
    }

    /// The span `[from − 7, to]` that the trends of `[from, to]` need.
    pub fn for_trends(from: NaiveDate, to: NaiveDate) -> Self {
        Self::new(plus(from, -7), to)
    }

    fn slot(&self, day: NaiveDate) -> Option<usize> {
        usize::try_from((day - self.first).num_days())
            .ok()
            .filter(|i| *i < self.sums.len())
    }

    fn at(&self, day: NaiveDate) -> Option<&DaySums> {
        self.slot(day).map(|i| &self.sums[i])
    }

    /// Adds pain levels summed elsewhere (`count` entries, their `sum` and `max`).
    pub fn add_pain(&mut self, day: NaiveDate, sum: i64, count: i64, max: i64) {
        if let Some(i) = self.slot(day) {
            let d = &mut self.sums[i];
            d.pain_max = if d.pain_count == 0 {
                max
            } else {
                d.pain_max.max(max)
            };
            d.pain_sum += sum;
            d.pain_count += count;
        }
    }

    /// Adds `sessions` stretch sessions of `seconds` in all.
    pub fn add_stretch(&mut self, day: NaiveDate, seconds: i64, sessions: i64) {
        if let Some(i) = self.slot(day) {
            self.sums[i].stretch_seconds += seconds;
            self.sums[i].stretch_sessions += sessions;
        }
    }

    /// Adds the red flags of one entry (a stored mask).
    pub fn add_flags(&mut self, day: NaiveDate, mask: i32) {
        if let Some(i) = self.slot(day) {
            self.sums[i].red_flags |= mask;
        }
    }

    /// The span from single rows.
    pub fn of_points(
        (first, last): (NaiveDate, NaiveDate),
        pain: &[PainPoint],
        stretch: &[StretchPoint],
    ) -> Self {
        let mut span = Self::new(first, last);
        for p in pain {
            span.add_pain(p.date, p.level, 1, p.level);
        }
        for s in stretch {
            span.add_stretch(s.date, s.seconds, 1);
        }
        span
    }

    /// The slots of `[from, to]` inside the span, with the first one's day.
    fn window(&self, from: NaiveDate, to: NaiveDate) -> (NaiveDate, &[DaySums]) {
        if from > to {
            return (from, &[]);
        }
        let lo = (from - self.first).num_days().max(0);
        let hi = ((to - self.first).num_days() + 1).min(self.sums.len() as i64);
        if hi <= lo {
            return (from, &[]);
        }
        (plus(self.first, lo), &self.sums[lo as usize..hi as usize])
    }

    /// `D(d)`, exactly; `None` for an unlogged day.
    fn d(&self, day: NaiveDate) -> Option<Frac> {
        self.at(day)
            .filter(|s| s.pain_count > 0)
            .map(|s| Frac::new(s.pain_sum, s.pain_count))
    }

    /// Stretch seconds of a day (`S(d)` × 60).
    fn s(&self, day: NaiveDate) -> i64 {
        self.at(day).map_or(0, |s| s.stretch_seconds)
    }

    /// Logged days in `[from, to]`: their offset from `from` and their sums.
    fn logged(&self, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = (i64, &DaySums)> {
        let (start, slots) = self.window(from, to);
        let skip = (start - from).num_days();
        slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.pain_count > 0)
            .map(move |(i, s)| (skip + i as i64, s))
    }

    /// The exact mean of `D` over the logged days of `[from, to]`.
    fn mean_d(&self, from: NaiveDate, to: NaiveDate) -> Option<Frac> {
        let mut mean = MeanOfDays::default();
        for (_, s) in self.logged(from, to) {
            mean.add(s);
        }
        mean.value()
    }
}

/// The mean of daily means `Σ (sum / count) / n`, in integers until the
/// end: the sums of the days with one entry, with two, … are kept apart
/// and become fractions once (a day rarely holds more than a few entries).
#[derive(Default)]
struct MeanOfDays {
    /// `by_count[c]`: the sum of pain levels of the days with `c` entries.
    by_count: [i64; 8],
    /// Days with more entries, as fractions.
    rest: Option<Frac>,
    days: i64,
}

impl MeanOfDays {
    fn add(&mut self, s: &DaySums) {
        match usize::try_from(s.pain_count) {
            Ok(c) if c > 0 && c < self.by_count.len() => self.by_count[c] += s.pain_sum,
            _ => {
                let d = Frac::new(s.pain_sum, s.pain_count);
                self.rest = Some(self.rest.map_or(d, |r| r.add(d)));
            }
        }
        self.days += 1;
    }

    fn value(&self) -> Option<Frac> {
        if self.days == 0 {
            return None;
        }
        let mut total = self.rest.unwrap_or(Frac::new(0, 1));
        for (count, sum) in (1..).zip(&self.by_count[1..]) {
            if *sum != 0 {
                total = total.add(Frac::new(*sum, count));
            }
        }
        Some(total.div(self.days))
    }
}

fn plus(day: NaiveDate, n: i64) -> NaiveDate {
    match u64::try_from(n) {
        Ok(n) => day.checked_add_days(Days::new(n)),
        Err(_) => day.checked_sub_days(Days::new(n.unsigned_abs())),
    }
    .unwrap_or(day)
}

fn mean(values: &[Frac]) -> Option<Frac> {
    let n = i64::try_from(values.len()).ok().filter(|n| *n > 0)?;
    Some(
        values
            .iter()
            .fold(Frac::new(0, 1), |acc, v| acc.add(*v))
            .div(n),
    )
}

fn out(x: Option<Frac>) -> Option<f64> {
    x.map(Frac::round3)
}

/// The centred sums of squares and products of `points`: (Sxx, Syy, Sxy).
fn moments(points: &[(f64, f64)]) -> (f64, f64, f64) {
    let n = points.len().max(1) as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    points
        .iter()
        .fold((0.0, 0.0, 0.0), |(sxx, syy, sxy), (x, y)| {
            let (dx, dy) = (x - mx, y - my);
            (sxx + dx * dx, syy + dy * dy, sxy + dx * dy)
        })
}

/// Ordinary least-squares slope of `y` on `x`; `None` below 2 points or
/// when every `x` is the same.
fn ols_slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (sxx, _, sxy) = moments(points);
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Pearson's r; `None` below 3 pairs or when either side has no variance.
fn pearson(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 3 {
        return None;
    }
    let (sxx, syy, sxy) = moments(points);
    // Variances below rounding noise are zero: the values were all equal.
    if sxx <= 1e-12 || syy <= 1e-12 {
        return None;
    }
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// One row for every calendar day of `[from, to]`.
pub fn daily(
    from: NaiveDate,
    to: NaiveDate,
    pain: &[PainPoint],
    stretch: &[StretchPoint],
    sessions: &[Session],
) -> Vec<Day> {
    daily_of(
        from,
        to,
        &DaySpan::of_points((from, to), pain, stretch),
        sessions,
    )
}

/// [`daily`] from days already summed (`span` should cover `[from, to]`).
pub fn daily_of(from: NaiveDate, to: NaiveDate, span: &DaySpan, sessions: &[Session]) -> Vec<Day> {
    let mut ordered: Vec<&Session> = sessions
        .iter()
        .filter(|s| s.date >= from && s.date <= to)
        .collect();
    ordered.sort_by_key(|s| (s.date, s.started_at, s.id));
    let mut ordered = ordered.into_iter().peekable();
    from.iter_days()
        .take_while(|d| *d <= to)
        .map(|date| {
            let sums = span.at(date).copied().unwrap_or_default();
            let count = sums.pain_count;
            let mut massage_session_ids = Vec::new();
            while let Some(s) = ordered.next_if(|s| s.date == date) {
                massage_session_ids.push(s.id);
            }
            Day {
                date,
                mean_pain: (count > 0).then(|| Frac::new(sums.pain_sum, count).round3()),
                max_pain: (count > 0).then_some(sums.pain_max),
                entries: count,
                stretch_minutes: Frac::new(sums.stretch_seconds, 60).round3(),
                stretch_sessions: sums.stretch_sessions,
                massage_session_ids,
                red_flags: red_flag::from_mask(Some(sums.red_flags)),
            }
        })
        .collect()
}

/// The intervals between the massage sessions dated in `[from, to]`, and the
/// summary. `pain` and `stretch` should reach 7 days before `from` (for the
/// first baselines); rows outside what a figure looks at are ignored.
pub fn trends(
    (from, to): (NaiveDate, NaiveDate),
    today: NaiveDate,
    pain: &[PainPoint],
    stretch: &[StretchPoint],
    sessions: &[Session],
) -> Trends {
    let span = DaySpan::of_points((plus(from, -7), to), pain, stretch);
    trends_of((from, to), today, &span, sessions)
}

/// [`trends`] from days already summed (`span` should cover `[from − 7, to]`:
/// [`DaySpan::for_trends`]).
pub fn trends_of(
    (from, to): (NaiveDate, NaiveDate),
    today: NaiveDate,
    span: &DaySpan,
    sessions: &[Session],
) -> Trends {
    let (intervals, reliefs) = intervals(span, from, to, sessions);
    let summary = summary(span, from, to, today, &intervals, &reliefs);
    Trends { intervals, summary }
}

/// The intervals after the sessions dated in `[from, to]`, from pain
/// already summed by day (the overview's last session and next-session
/// hint): only the pain figures are meaningful, the stretch ones are 0.
pub fn relief_intervals(
    (from, to): (NaiveDate, NaiveDate),
    pain_days: &[super::overview::PainDay],
    sessions: &[Session],
) -> Vec<Interval> {
    let mut span = DaySpan::for_trends(from, to);
    for d in pain_days.iter().filter(|d| d.count > 0) {
        span.add_pain(d.date, d.sum, d.count, d.max);
    }
    intervals(&span, from, to, sessions).0
}

/// The intervals, and the exact reliefs (for the summary's mean).
fn intervals(
    days: &DaySpan,
    from: NaiveDate,
    to: NaiveDate,
    sessions: &[Session],
) -> (Vec<Interval>, Vec<Frac>) {
    let mut ordered: Vec<&Session> = sessions
        .iter()
        .filter(|s| s.date >= from && s.date <= to)
        .collect();
    // Same date: by started_at, a missing one first (None sorts first), then id.
    ordered.sort_by_key(|s| (s.date, s.started_at, s.id));

    let mut intervals = Vec::with_capacity(ordered.len());
    // Relief before rounding, for the summary's mean.
    let mut reliefs = Vec::new();
    // The logged days of one interval (offset from its session day, D),
    // reused from one interval to the next.
    let mut inside: Vec<(i64, Frac)> = Vec::new();
    for (i, s) in ordered.iter().enumerate() {
        let t = s.date;
        let next = ordered.get(i + 1).map(|n| n.date);
        let open = next.is_none();
        let start = plus(t, 1);
        let end = next.map_or(to, |n| plus(n, -1));
        let span = if end >= start {
            (end - start).num_days() + 1
        } else {
            0
        };
        inside.clear();
        inside.extend(
            days.logged(start, end)
                .map(|(offset, s)| (offset + 1, Frac::new(s.pain_sum, s.pain_count))),
        );
        let baseline = days.mean_d(plus(t, -7), plus(t, -1));
        let early = days.mean_d(start, end.min(plus(t, 3)));
        let (relief_duration, censored) = match baseline {
            None => (None, None),
            Some(b) => match inside.iter().find(|(_, d)| d.at_least(b)) {
                Some((offset, _)) => (Some(offset - 1), Some(false)),
                None => (Some(span), Some(true)),
            },
        };
        let slope = ols_slope(
            &inside
                .iter()
                .map(|(offset, d)| (*offset as f64, d.to_f64()))
                .collect::<Vec<_>>(),
        );
        let (stretch_days, stretch_seconds) = if span > 0 {
            let (_, slots) = days.window(start, end);
            slots.iter().fold((0, 0), |(n, total), s| {
                (
                    n + i64::from(s.stretch_seconds > 0),
                    total + s.stretch_seconds,
                )
            })
        } else {
            (0, 0)
        };
        let mut mean_inside = MeanOfDays::default();
        for (_, s) in days.logged(start, end) {
            mean_inside.add(s);
        }
        let by_value = |a: &&(i64, Frac), b: &&(i64, Frac)| {
            a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal)
        };
        let relief = baseline.zip(early).map(|(b, e)| b.sub(e));
        reliefs.extend(relief);
        let (relief_pct, relief_class) = classify(relief, baseline);
        intervals.push(Interval {
            session_id: s.id,
            date: t,
            open,
            baseline_pain: out(baseline),
            days: span,
            logged_days: inside.len() as i64,
            mean_pain: out(mean_inside.value()),
            min_pain: out(inside.iter().min_by(by_value).map(|(_, d)| *d)),
            max_pain: out(inside.iter().max_by(by_value).map(|(_, d)| *d)),
            early_pain: out(early),
            relief: out(relief),
            relief_pct: out(relief_pct),
            relief_class,
            relief_duration_days: relief_duration,
            relief_censored: censored,
            slope_per_day: slope.map(round3),
            stretch_days,
            stretch_adherence: (span > 0).then(|| Frac::new(stretch_days, span).round3()),
            stretch_minutes: Frac::new(stretch_seconds, 60).round3(),
            programme_adherence: None,
        });
    }

    (intervals, reliefs)
}

fn summary(
    days: &DaySpan,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    intervals: &[Interval],
    reliefs: &[Frac],
) -> TrendSummary {
    let durations: Vec<i64> = intervals
        .iter()
        .filter(|i| i.relief_censored == Some(false))
        .filter_map(|i| i.relief_duration_days)
        .collect();
    // A day's stretch minutes and the next day's pain, for every day of
    // `[from, to)` whose next day is logged.
    let (first, slots) = days.window(from, to);
    let lead = (first - from).num_days();
    let pairs: Vec<(f64, f64)> = if lead == 0 {
        slots
            .windows(2)
            .filter(|w| w[1].pain_count > 0)
            .map(|w| {
                let next = Frac::new(w[1].pain_sum, w[1].pain_count);
                (w[0].stretch_seconds as f64 / 60.0, next.to_f64())
            })
            .collect()
    } else {
        from.iter_days()
            .take_while(|d| *d < to)
            .filter_map(|d| {
                let next = days.d(plus(d, 1))?;
                Some((days.s(d) as f64 / 60.0, next.to_f64()))
            })
            .collect()
    };
    let mut mean_pain = MeanOfDays::default();
    let mut trend: Vec<(f64, f64)> = Vec::with_capacity(slots.len());
    for (offset, s) in days.logged(from, to) {
        mean_pain.add(s);
        trend.push((offset as f64, Frac::new(s.pain_sum, s.pain_count).to_f64()));
    }
    TrendSummary {
        sessions: intervals.len() as i64,
        responders: intervals
            .iter()
            .filter(|i| i.relief_class.is_some_and(ReliefClass::helped))
            .count() as i64,
        classified: intervals
            .iter()
            .filter(|i| i.relief_class.is_some())
            .count() as i64,
        // Only a range that reaches today knows the latest session.
        next_session: if to >= today {
            next_session(intervals, today)
        } else {
            None
        },
        mean_relief: out(mean(reliefs)),
        mean_relief_duration_days: (!durations.is_empty())
            .then(|| Frac::new(durations.iter().sum(), durations.len() as i64).round3()),
        logged_days: trend.len() as i64,
        mean_pain: out(mean_pain.value()),
        slope_per_week: ols_slope(&trend).map(|s| round3(s * 7.0)),
        stretch_pain_correlation: pearson(&pairs).map(round3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap_or(NaiveDate::MIN)
    }

    fn pain(rows: &[(&str, &[i64])]) -> Vec<PainPoint> {
        rows.iter()
            .flat_map(|(date, levels)| {
                levels.iter().map(move |level| PainPoint {
                    date: d(date),
                    level: *level,
                })
            })
            .collect()
    }

    fn stretch(rows: &[(&str, i64)]) -> Vec<StretchPoint> {
        rows.iter()
            .map(|(date, seconds)| StretchPoint {
                date: d(date),
                seconds: *seconds,
            })
            .collect()
    }

    fn session(n: u128, date: &str, hour: Option<u32>) -> Session {
        Session {
            id: Uuid::from_u128(n),
            date: d(date),
            started_at: hour
                .and_then(|h| d(date).and_hms_opt(h, 0, 0))
                .map(|t| t.and_utc()),
        }
    }

    /// Three sessions in March: one on the 10th, two on the 16th (the one
    /// without a start time first). Hand-computed below.
    fn march() -> (Vec<PainPoint>, Vec<StretchPoint>, Vec<Session>) {
        let p = pain(&[
            ("2026-03-02", &[10]), // outside the first baseline (t − 8)
            ("2026-03-03", &[6]),
            ("2026-03-05", &[6, 8]), // D = 7
            ("2026-03-09", &[5]),
            ("2026-03-11", &[3]),
            // the 12th is unlogged
            ("2026-03-13", &[4]),
            ("2026-03-14", &[6]), // exactly the baseline: relief ends here
            ("2026-03-15", &[7]),
            ("2026-03-17", &[2]),
            ("2026-03-18", &[3]),
            ("2026-03-19", &[4]),
        ]);
        let s = stretch(&[
            ("2026-03-11", 600),
            ("2026-03-13", 300),
            ("2026-03-13", 300),
            ("2026-03-20", 120),
        ]);
        let sessions = vec![
            session(1, "2026-03-10", Some(9)),
            session(2, "2026-03-16", Some(10)),
            session(3, "2026-03-16", None),
        ];
        (p, s, sessions)
    }

    #[test]
    fn intervals_between_sessions_by_hand() {
        let (p, s, sessions) = march();
        let t = trends(
            (d("2026-03-01"), d("2026-03-20")),
            d("2026-03-20"),
            &p,
            &s,
            &sessions,
        );
        let ids: Vec<u128> = t.intervals.iter().map(|i| i.session_id.as_u128()).collect();
        assert_eq!(ids, vec![1, 3, 2], "same date: no start time first");

        // After the 10th: the 11th..15th. Baseline: 6, 7, 5 (3rd, 5th, 9th) = 6.
        let first = &t.intervals[0];
        assert_eq!(
            first,
            &Interval {
                session_id: Uuid::from_u128(1),
                date: d("2026-03-10"),
                open: false,
                baseline_pain: Some(6.0),
                days: 5,
                logged_days: 4,
                mean_pain: Some(5.0),
                min_pain: Some(3.0),
                max_pain: Some(7.0),
                // 11th..13th: 3 and 4.
                early_pain: Some(3.5),
                relief: Some(2.5),
                // 2.5 of 6: 41.7 %, moderate.
                relief_pct: Some(0.417),
                relief_class: Some(ReliefClass::Moderate),
                // The 14th (t + 4) is back at the baseline (6 ≥ 6): 3 days of relief.
                relief_duration_days: Some(3),
                relief_censored: Some(false),
                // (1,3) (3,4) (4,6) (5,7): Sxy 9 / Sxx 8.75.
                slope_per_day: Some(1.029),
                stretch_days: 2,
                stretch_adherence: Some(0.4),
                stretch_minutes: 20.0,
                programme_adherence: None,
            }
        );
        // The first of two sessions on the 16th: an empty interval. Its
        // baseline (9th..15th: 5, 3, 4, 6, 7) is 5; nothing came back to it.
        let empty = &t.intervals[1];
        assert_eq!((empty.days, empty.logged_days, empty.open), (0, 0, false));
        assert_eq!(empty.baseline_pain, Some(5.0));
        assert_eq!(
            (empty.mean_pain, empty.early_pain, empty.relief),
            (None, None, None)
        );
        assert_eq!(
            (empty.relief_duration_days, empty.relief_censored),
            (Some(0), Some(true))
        );
        assert_eq!((empty.slope_per_day, empty.stretch_adherence), (None, None));
        // The last one: the 17th..20th, open. 2, 3, 4 never reach 5: censored at 4 days.
        let last = &t.intervals[2];
        assert!(last.open);
        assert_eq!((last.days, last.logged_days), (4, 3));
        assert_eq!((last.early_pain, last.relief), (Some(3.0), Some(2.0)));
        assert_eq!(
            (last.relief_duration_days, last.relief_censored),
            (Some(4), Some(true))
        );
        assert_eq!(last.slope_per_day, Some(1.0));
        assert_eq!(
            (
                last.stretch_days,
                last.stretch_adherence,
                last.stretch_minutes
            ),
            (1, Some(0.25), 2.0)
        );

        let summary = &t.summary;
        assert_eq!(summary.sessions, 3);
        assert_eq!(summary.mean_relief, Some(2.25));
        // Only uncensored intervals: the first one's 3 days.
        assert_eq!(summary.mean_relief_duration_days, Some(3.0));
        // 11 logged days in the range, 57 in all: 5.182.
        assert_eq!(summary.logged_days, 11);
        assert_eq!(summary.mean_pain, Some(5.182));
    }

    #[test]
    fn a_baseline_reaches_before_from_and_sessions_outside_are_ignored() {
        let (p, s, sessions) = march();
        let t = trends(
            (d("2026-03-10"), d("2026-03-15")),
            d("2026-03-15"),
            &p,
            &s,
            &sessions,
        );
        // Only the session of the 10th is in range; its baseline uses days
        // before `from`, and its interval ends at `to`, open.
        assert_eq!(t.intervals.len(), 1);
        let only = &t.intervals[0];
        assert_eq!(
            (only.baseline_pain, only.open, only.days),
            (Some(6.0), true, 5)
        );
        // The summary counts only days in the range: 11th, 13th, 14th, 15th.
        assert_eq!(t.summary.logged_days, 4);
        assert_eq!(t.summary.mean_pain, Some(5.0));
    }

    #[test]
    fn no_baseline_no_relief_and_few_points_no_slope() {
        let p = pain(&[("2026-05-02", &[4])]);
        let t = trends(
            (d("2026-05-01"), d("2026-05-03")),
            d("2026-05-03"),
            &p,
            &[],
            &[session(9, "2026-05-01", None)],
        );
        let i = &t.intervals[0];
        assert_eq!(i.baseline_pain, None);
        assert_eq!(
            (i.relief, i.relief_duration_days, i.relief_censored),
            (None, None, None)
        );
        assert_eq!(i.early_pain, Some(4.0));
        // One logged day: no slope; and no pairs for a correlation.
        assert_eq!(i.slope_per_day, None);
        assert_eq!(t.summary.slope_per_week, None);
        assert_eq!(t.summary.stretch_pain_correlation, None);
        assert_eq!(t.summary.mean_relief, None);
        assert_eq!(t.summary.mean_relief_duration_days, None);
        // No sessions at all: no intervals, the rest still computed.
        let none = trends(
            (d("2026-05-01"), d("2026-05-03")),
            d("2026-05-03"),
            &p,
            &[],
            &[],
        );
        assert_eq!((none.intervals.len(), none.summary.sessions), (0, 0));
        assert_eq!(none.summary.mean_pain, Some(4.0));
    }

    #[test]
    fn correlation_and_weekly_slope_by_hand() {
        // S: 10, 0, 20, 0 minutes on the 1st..4th; D: 4, 6, 2, 8 on the 2nd..5th.
        let p = pain(&[
            ("2026-04-02", &[4]),
            ("2026-04-03", &[6]),
            ("2026-04-04", &[2]),
            ("2026-04-05", &[8]),
        ]);
        let s = stretch(&[("2026-04-01", 600), ("2026-04-03", 1200)]);
        let t = trends(
            (d("2026-04-01"), d("2026-04-05")),
            d("2026-04-05"),
            &p,
            &s,
            &[],
        );
        // Pairs (S(d), D(d+1)): (10,4) (0,6) (20,2) (0,8):
        // Sxy = −70, Sxx = 275, Syy = 20, r = −70 / √5500 = −0.944.
        assert_eq!(t.summary.stretch_pain_correlation, Some(-0.944));
        // D on day index 1..4: 4, 6, 2, 8: slope 4 / 5 = 0.8 a day, 5.6 a week.
        assert_eq!(t.summary.slope_per_week, Some(5.6));
        // Zero variance (no stretching at all): no correlation.
        let flat = trends(
            (d("2026-04-01"), d("2026-04-05")),
            d("2026-04-05"),
            &p,
            &[],
            &[],
        );
        assert_eq!(flat.summary.stretch_pain_correlation, None);
        // Fewer than 3 pairs: none either.
        let short = trends(
            (d("2026-04-03"), d("2026-04-05")),
            d("2026-04-05"),
            &p,
            &s,
            &[],
        );
        assert_eq!(short.summary.stretch_pain_correlation, None);
    }

    #[test]
    fn ties_at_the_baseline_end_relief_exactly() {
        // Baseline: 1, 2, 2 in one day (5/3) and nothing else; after the
        // session a day of 2, 2, 1 (5/3): equal, so relief lasted 0 days.
        let p = pain(&[("2026-06-09", &[1, 2, 2]), ("2026-06-11", &[2, 2, 1])]);
        let t = trends(
            (d("2026-06-10"), d("2026-06-12")),
            d("2026-06-12"),
            &p,
            &[],
            &[session(5, "2026-06-10", None)],
        );
        let i = &t.intervals[0];
        assert_eq!(i.baseline_pain, Some(1.667));
        assert_eq!(
            (i.relief_duration_days, i.relief_censored),
            (Some(0), Some(false))
        );
        assert_eq!(i.relief, Some(0.0));
    }

    #[test]
    fn relief_is_exact_before_it_is_rounded() {
        // Baseline 81/16 = 5.0625, early 22/5 = 4.4: relief 53/80 = 0.6625
        // exactly, 0.663; subtracting doubles would give 0.66249999… = 0.662.
        let p = pain(&[
            ("2026-03-03", &[5]),
            ("2026-03-04", &[5]),
            ("2026-03-05", &[5]),
            ("2026-03-06", &[5, 5, 5, 6]),
            ("2026-03-11", &[4, 4, 4, 5, 5]),
        ]);
        let t = trends(
            (d("2026-03-10"), d("2026-03-12")),
            d("2026-03-12"),
            &p,
            &[],
            &[session(7, "2026-03-10", None)],
        );
        assert_eq!(t.intervals[0].relief, Some(0.663));
        assert_eq!(t.summary.mean_relief, Some(0.663));
    }

    #[test]
    fn the_daily_series_has_a_row_for_every_calendar_day() {
        let p = pain(&[("2026-03-28", &[3, 6]), ("2026-03-30", &[5])]);
        let s = stretch(&[("2026-03-28", 90), ("2026-03-28", 30)]);
        let sessions = vec![
            session(2, "2026-03-29", Some(18)),
            session(1, "2026-03-29", None),
        ];
        // Europe's clocks change on the 29th: still one row per calendar day.
        let days = daily(d("2026-03-27"), d("2026-03-31"), &p, &s, &sessions);
        assert_eq!(days.len(), 5);
        assert_eq!(
            days[1],
            Day {
                date: d("2026-03-28"),
                mean_pain: Some(4.5),
                max_pain: Some(6),
                entries: 2,
                stretch_minutes: 2.0,
                stretch_sessions: 2,
                massage_session_ids: vec![],
                red_flags: vec![],
            }
        );
        assert_eq!(days[0].mean_pain, None, "an unlogged day is not zero");
        assert_eq!((days[0].entries, days[0].stretch_minutes), (0, 0.0));
        assert_eq!(
            days[2].massage_session_ids,
            vec![Uuid::from_u128(1), Uuid::from_u128(2)]
        );
        assert_eq!(days[3].mean_pain, Some(5.0));
    }

    #[test]
    fn a_day_lists_the_red_flags_of_all_its_entries_once() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let mut span = DaySpan::new(d("2026-03-01"), d("2026-03-02"));
        span.add_pain(d("2026-03-01"), 13, 2, 7);
        // fever + bilateral legs, then bilateral legs + saddle anaesthesia.
        span.add_flags(d("2026-03-01"), 64 | 16);
        span.add_flags(d("2026-03-01"), 16 | 1);
        // Outside the span: ignored.
        span.add_flags(d("2026-03-03"), 2);
        let days = daily_of(d("2026-03-01"), d("2026-03-02"), &span, &[]);
        assert_eq!(
            days[0].red_flags,
            vec![
                RedFlag::SaddleAnaesthesia,
                RedFlag::BilateralLegSymptoms,
                RedFlag::Fever
            ]
        );
        assert!(days[1].red_flags.is_empty());
    }

    mod properties {
        use proptest::collection::vec;
        use proptest::option;
        use proptest::prelude::*;
        use rand::seq::SliceRandom;
        use rand::SeedableRng;

        use super::*;

        fn on(offset: u32) -> NaiveDate {
            d("2026-01-01")
                .checked_add_days(Days::new(offset.into()))
                .unwrap_or(NaiveDate::MIN)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn invariants_hold_and_row_order_does_not_matter(
                pain_rows in vec((0u32..45, 0i64..=10), 0..80),
                stretch_rows in vec((0u32..45, 1i64..=7200), 0..40),
                session_rows in vec((0u32..45, option::of(0u32..24)), 0..8),
                seed in any::<u64>(),
            ) {
                let pain: Vec<PainPoint> = pain_rows
                    .iter()
                    .map(|(o, level)| PainPoint { date: on(*o), level: *level })
                    .collect();
                let stretch: Vec<StretchPoint> = stretch_rows
                    .iter()
                    .map(|(o, seconds)| StretchPoint { date: on(*o), seconds: *seconds })
                    .collect();
                let sessions: Vec<Session> = session_rows
                    .iter()
                    .enumerate()
                    .map(|(i, (o, hour))| Session {
                        id: Uuid::from_u128(i as u128 + 1),
                        date: on(*o),
                        started_at: hour.and_then(|h| on(*o).and_hms_opt(h, 0, 0)).map(|t| t.and_utc()),
                    })
                    .collect();
                let (from, to) = (on(7), on(44));
                let t = trends((from, to), to, &pain, &stretch, &sessions);
                for i in &t.intervals {
                    if let (Some(min), Some(mean), Some(max)) = (i.min_pain, i.mean_pain, i.max_pain) {
                        prop_assert!(min <= mean && mean <= max, "{min} {mean} {max}");
                    }
                    prop_assert!(i.logged_days <= i.days);
                    if let Some(n) = i.relief_duration_days {
                        prop_assert!((0..=i.days).contains(&n), "{n} of {}", i.days);
                    }
                    if let Some(a) = i.stretch_adherence {
                        prop_assert!((0.0..=1.0).contains(&a), "{a}");
                    }
                    prop_assert!(i.stretch_days <= i.days);
                }
                if let Some(r) = t.summary.stretch_pain_correlation {
                    prop_assert!(r.abs() <= 1.0, "{r}");
                }
                let days = daily(from, to, &pain, &stretch, &sessions);
                prop_assert_eq!(days.len(), 38);
                for day in &days {
                    if let (Some(mean), Some(max)) = (day.mean_pain, day.max_pain) {
                        prop_assert!(mean <= max as f64);
                    }
                }

                // The same rows in another order give the same answers.
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let (mut p, mut s, mut m) = (pain.clone(), stretch.clone(), sessions.clone());
                p.shuffle(&mut rng);
                s.shuffle(&mut rng);
                m.shuffle(&mut rng);
                prop_assert_eq!(trends((from, to), to, &p, &s, &m), t);
                prop_assert_eq!(daily(from, to, &p, &s, &m), days);
            }
        }
    }
}
