//! What the figures mean to a therapist (docs/analytics.md, "Clinical
//! meaning"): how much a session's relief matters, when the next session is
//! due, whether pain is rising and whether function changed. The bands come
//! from trials of low back pain treatment (IMMPACT: a fall of 30 % in 0–10
//! pain is moderately and 50 % substantially important; 2 points is the
//! minimal important change; ODI 10 points, RMDQ 5 points). Applied to the
//! days around one massage they are guidance, not a verdict. Every
//! comparison is made on exact values.

use chrono::{Days, NaiveDate, NaiveDateTime};
use serde::Serialize;
use utoipa::ToSchema;

use super::instruments::{exact_score, Instrument};
use super::trends::Interval;
use super::Frac;

/// How much a session's relief matters (`relief` against `baseline_pain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReliefClass {
    /// Pain did not fall in the first days after the session.
    None,
    /// Pain fell, by less than 30 % and less than 2 points.
    Minimal,
    /// Pain fell by at least 30 % or at least 2 points.
    Moderate,
    /// Pain fell by at least 50 %.
    Substantial,
}

impl ReliefClass {
    /// Moderate or substantial: the session helped in a way that matters.
    pub fn helped(self) -> bool {
        matches!(self, Self::Moderate | Self::Substantial)
    }
}

fn frac(num: i64, den: i64) -> Frac {
    Frac::new(num, den)
}

/// `relief / baseline` (none for a baseline of 0) and the relief's class
/// (none without a relief).
pub(crate) fn classify(
    relief: Option<Frac>,
    baseline: Option<Frac>,
) -> (Option<Frac>, Option<ReliefClass>) {
    let Some(relief) = relief else {
        return (None, None);
    };
    let pct = baseline
        .filter(|b| *b != frac(0, 1))
        .and_then(|b| relief.ratio(b));
    let class = if pct.is_some_and(|p| p.at_least(frac(1, 2))) {
        ReliefClass::Substantial
    } else if pct.is_some_and(|p| p.at_least(frac(3, 10))) || relief.at_least(frac(2, 1)) {
        ReliefClass::Moderate
    } else if relief.greater(frac(0, 1)) {
        ReliefClass::Minimal
    } else {
        ReliefClass::None
    };
    (pct, Some(class))
}

/// How many recent helpful intervals the hint looks at, and how many it needs.
pub const HINT_LOOKS_AT: usize = 6;
pub const HINT_NEEDS: usize = 3;

/// When the next session is due, from how long relief usually lasted.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NextSession {
    /// The median relief duration of the intervals looked at, in days (a
    /// half for an even number of them).
    pub typical_relief_days: f64,
    /// How many intervals it is based on (3 to 6).
    pub based_on: i64,
    /// The latest session's date + the whole days of `typical_relief_days` + 1.
    pub suggested_date: NaiveDate,
    /// The patient's today is on or after `suggested_date`.
    pub due: bool,
}

/// The hint over `intervals` (in session order): the latest 6 that ended
/// (not open, not censored) after a moderate or substantial relief; none
/// below 3 of them.
pub fn next_session(intervals: &[Interval], today: NaiveDate) -> Option<NextSession> {
    let latest = intervals.last()?;
    let helpful: Vec<i64> = intervals
        .iter()
        .filter(|i| !i.open && i.relief_censored == Some(false))
        .filter(|i| i.relief_class.is_some_and(ReliefClass::helped))
        .filter_map(|i| i.relief_duration_days)
        .collect();
    let mut recent = helpful[helpful.len().saturating_sub(HINT_LOOKS_AT)..].to_vec();
    if recent.len() < HINT_NEEDS {
        return None;
    }
    recent.sort_unstable();
    let n = recent.len();
    // Twice the median, so an even count stays an integer.
    let twice = if n % 2 == 1 {
        2 * recent[n / 2]
    } else {
        recent[n / 2 - 1] + recent[n / 2]
    };
    let whole_days = u64::try_from(twice.div_euclid(2)).unwrap_or(0);
    let suggested_date = latest
        .date
        .checked_add_days(Days::new(whole_days + 1))
        .unwrap_or(latest.date);
    Some(NextSession {
        typical_relief_days: twice as f64 / 2.0,
        based_on: i64::try_from(n).unwrap_or(0),
        suggested_date,
        due: today >= suggested_date,
    })
}

/// `pain_rising`: the 7-day mean rose by 2 points, or by 30 % of the week
/// before and at least 1 point (at low pain a 30 % rise of a fraction of a
/// point is noise).
pub(crate) fn pain_rising(change: Frac, previous: Frac) -> bool {
    change.at_least(frac(2, 1))
        || (change.at_least(frac(1, 1))
            && change.at_least(previous.ratio(frac(10, 3)).unwrap_or(previous)))
}

/// A scored disability questionnaire of the patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Questionnaire {
    pub instrument: Instrument,
    pub date: NaiveDate,
    /// When it was stored: orders two of one day.
    pub stored: NaiveDateTime,
    pub answers: Vec<Option<i64>>,
}

/// The change between the latest two ODI (else RMDQ) questionnaires.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FunctionChange {
    /// `odi` (0–100) or `rmdq` (0–24): higher is more disabled.
    pub instrument: Instrument,
    pub previous: f64,
    pub previous_date: NaiveDate,
    pub latest: f64,
    pub latest_date: NaiveDate,
    /// `latest − previous`: positive is worse.
    pub change: f64,
    /// At least the minimal important change: 10 ODI points, 5 RMDQ points.
    pub important: bool,
}

impl FunctionChange {
    /// An important rise: function is worse.
    pub fn worse(&self) -> bool {
        self.important && self.change > 0.0
    }
}

/// ODI when there are two of it, else RMDQ; none without two of either.
pub fn function_change(questionnaires: &[Questionnaire]) -> Option<FunctionChange> {
    [(Instrument::Odi, 10), (Instrument::Rmdq, 5)]
        .into_iter()
        .find_map(|(instrument, important)| {
            let mut of: Vec<&Questionnaire> = questionnaires
                .iter()
                .filter(|q| q.instrument == instrument)
                .collect();
            of.sort_by_key(|q| (q.date, q.stored));
            let [.., previous, latest] = of.as_slice() else {
                return None;
            };
            let (before, after) = (
                exact_score(instrument, &previous.answers),
                exact_score(instrument, &latest.answers),
            );
            let change = after.sub(before);
            let limit = frac(important, 1);
            Some(FunctionChange {
                instrument,
                previous: before.round3(),
                previous_date: previous.date,
                latest: after.round3(),
                latest_date: latest.date,
                change: change.round3(),
                important: change.at_least(limit) || frac(0, 1).sub(change).at_least(limit),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(relief: (i64, i64), baseline: (i64, i64)) -> (Option<f64>, Option<ReliefClass>) {
        let (pct, class) = classify(
            Some(frac(relief.0, relief.1)),
            Some(frac(baseline.0, baseline.1)),
        );
        (pct.map(Frac::round3), class)
    }

    #[test]
    fn every_class_boundary_is_exact() {
        use ReliefClass::*;
        // Exactly 50 %: substantial; a hair under: moderate.
        assert_eq!(classes((2, 1), (4, 1)), (Some(0.5), Some(Substantial)));
        assert_eq!(classes((1999, 1000), (4, 1)), (Some(0.5), Some(Moderate)));
        // Exactly 30 %: moderate; just under 30 % and under 2 points: minimal.
        assert_eq!(classes((3, 1), (10, 1)), (Some(0.3), Some(Moderate)));
        assert_eq!(classes((3, 2), (5, 1)), (Some(0.3), Some(Moderate)));
        assert_eq!(
            classes((2999, 5000), (2, 1)),
            (Some(0.3), Some(Minimal)),
            "0.2999 rounds to 0.3 but is below it"
        );
        // 2 points is moderate even under 30 % (baseline 9: 22 %).
        assert_eq!(classes((2, 1), (9, 1)), (Some(0.222), Some(Moderate)));
        assert_eq!(classes((199, 100), (9, 1)), (Some(0.221), Some(Minimal)));
        // Any fall is minimal; none or a rise is none.
        assert_eq!(classes((1, 1000), (9, 1)), (Some(0.0), Some(Minimal)));
        assert_eq!(classes((0, 1), (5, 1)), (Some(0.0), Some(None)));
        assert_eq!(classes((-1, 1), (5, 1)), (Some(-0.2), Some(None)));
        // A fraction 1/3 of 1: exactly 0.333…, not 30 %+ by rounding error.
        assert_eq!(classes((1, 3), (1, 1)), (Some(0.333), Some(Moderate)));
    }

    #[test]
    fn a_baseline_of_zero_has_no_percentage_and_no_relief_has_no_class() {
        // Baseline 0: the relief is 0 − early ≤ 0.
        assert_eq!(classes((-2, 1), (0, 1)), (None, Some(ReliefClass::None)));
        assert_eq!(classes((0, 1), (0, 1)), (None, Some(ReliefClass::None)));
        assert_eq!(classify(None, Some(frac(5, 1))), (None, None));
        assert_eq!(classify(None, None), (None, None));
    }

    fn interval(date: &str, days: i64, class: ReliefClass, censored: bool) -> Interval {
        Interval {
            session_id: uuid::Uuid::nil(),
            date: date.parse().unwrap_or(NaiveDate::MIN),
            open: false,
            baseline_pain: Some(5.0),
            days: 14,
            logged_days: 14,
            mean_pain: Some(4.0),
            min_pain: Some(2.0),
            max_pain: Some(6.0),
            early_pain: Some(3.0),
            relief: Some(2.0),
            relief_pct: Some(0.4),
            relief_class: Some(class),
            relief_duration_days: Some(days),
            relief_censored: Some(censored),
            slope_per_day: None,
            stretch_days: 0,
            stretch_adherence: None,
            stretch_minutes: 0.0,
            programme_adherence: None,
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn the_hint_takes_the_median_of_the_latest_six_helpful_intervals() {
        use ReliefClass::*;
        let mut list = vec![
            // Older than the latest 6 helpful ones: left out.
            interval("2026-06-01", 20, Substantial, false),
            interval("2026-06-15", 2, Moderate, false),
            interval("2026-06-29", 4, Substantial, false),
            interval("2026-07-13", 9, Minimal, false), // not helpful
            interval("2026-07-27", 5, Moderate, false),
            interval("2026-08-10", 30, Moderate, true), // censored
            interval("2026-08-24", 6, Moderate, false),
            interval("2026-09-07", 3, Substantial, false),
            interval("2026-09-21", 7, Moderate, false),
        ];
        let mut open = interval("2026-10-05", 1, Substantial, false);
        open.open = true;
        list.push(open);
        // Helpful, ended: 20, 2, 4, 5, 6, 3, 7; the latest six: 2 4 5 6 3 7,
        // sorted 2 3 4 5 6 7: median (4 + 5) / 2 = 4.5. Latest session 5 Oct
        // + 4 + 1 = 10 Oct.
        let hint = next_session(&list, day("2026-10-09"));
        assert_eq!(
            hint,
            Some(NextSession {
                typical_relief_days: 4.5,
                based_on: 6,
                suggested_date: day("2026-10-10"),
                due: false,
            })
        );
        assert_eq!(
            next_session(&list, day("2026-10-10")).map(|h| h.due),
            Some(true),
            "due on the suggested day itself"
        );
        // Four: 5, 6, 3, 7 (sorted 3 5 6 7): (5 + 6) / 2 = 5.5, 5 whole days.
        let hint = next_session(&list[4..], day("2026-10-01"));
        assert_eq!(
            hint.map(|h| (h.typical_relief_days, h.based_on, h.suggested_date)),
            Some((5.5, 4, day("2026-10-11")))
        );
        // Three: 6, 3, 7: the middle value, 6.
        let hint = next_session(&list[6..], day("2026-10-01"));
        assert_eq!(
            hint.map(|h| (h.typical_relief_days, h.based_on, h.suggested_date)),
            Some((6.0, 3, day("2026-10-12")))
        );
    }

    #[test]
    fn fewer_than_three_helpful_intervals_give_no_hint() {
        use ReliefClass::*;
        let list = vec![
            interval("2026-06-01", 4, Substantial, false),
            interval("2026-06-15", 5, Moderate, false),
            interval("2026-06-29", 5, Minimal, false),
            interval("2026-07-13", 9, Moderate, true),
        ];
        assert!(next_session(&list, day("2026-07-20")).is_none());
        assert!(next_session(&[], day("2026-07-20")).is_none());
    }

    #[test]
    fn pain_rising_needs_two_points_or_thirty_percent_and_one_point() {
        let rising =
            |change: (i64, i64), prev: i64| pain_rising(frac(change.0, change.1), frac(prev, 1));
        assert!(rising((2, 1), 8), "2 points at any level");
        assert!(!rising((199, 100), 8), "1.99 of 8 is under 30 %");
        // 30 % of 5 is 1.5: exactly 1.5 counts.
        assert!(rising((3, 2), 5));
        assert!(!rising((149, 100), 5));
        // At low pain 30 % is a fraction of a point: at least 1 point is needed.
        assert!(!rising((9, 10), 1), "90 % of 1 but under a point");
        assert!(rising((1, 1), 1));
        assert!(!rising((-3, 1), 6));
    }

    fn odi(date: &str, hour: u32, answers: [i64; 10]) -> Questionnaire {
        Questionnaire {
            instrument: Instrument::Odi,
            date: day(date),
            stored: day(date).and_hms_opt(hour, 0, 0).unwrap_or_default(),
            answers: answers.into_iter().map(Some).collect(),
        }
    }

    fn rmdq(date: &str, yes: usize) -> Questionnaire {
        Questionnaire {
            instrument: Instrument::Rmdq,
            date: day(date),
            stored: day(date).and_hms_opt(8, 0, 0).unwrap_or_default(),
            answers: (0..24).map(|i| Some(i64::from(i < yes))).collect(),
        }
    }

    #[test]
    fn odi_comes_before_rmdq_and_ten_points_are_important() {
        // ODI 40 (20 of 50) then 30 (15 of 50): −10, important, better.
        let list = vec![
            rmdq("2026-09-01", 10),
            rmdq("2026-10-01", 18),
            odi("2026-09-02", 8, [2; 10]),
            odi("2026-10-02", 8, [2, 2, 2, 2, 2, 1, 1, 1, 1, 1]),
        ];
        let change = function_change(&list);
        assert_eq!(
            change,
            Some(FunctionChange {
                instrument: Instrument::Odi,
                previous: 40.0,
                previous_date: day("2026-09-02"),
                latest: 30.0,
                latest_date: day("2026-10-02"),
                change: -10.0,
                important: true,
            })
        );
        assert!(!change.is_some_and(|c| c.worse()));
        // One ODI only: RMDQ 10 → 18, +8, important and worse.
        let change = function_change(&list[..3]);
        assert_eq!(
            change
                .as_ref()
                .map(|c| (c.instrument, c.change, c.important)),
            Some((Instrument::Rmdq, 8.0, true))
        );
        assert!(change.is_some_and(|c| c.worse()));
        // RMDQ 4 points: not important.
        let small = vec![rmdq("2026-09-01", 10), rmdq("2026-10-01", 14)];
        assert_eq!(function_change(&small).map(|c| c.important), Some(false));
        assert_eq!(function_change(&small[..1]), None);
    }

    #[test]
    fn odi_changes_compare_exact_scores() {
        // 9 answered: 20 × 17 / 9 = 37.777…; 10 answered 24/50 = 48: +10.222.
        let mut nine = odi("2026-09-01", 8, [2, 2, 2, 2, 2, 2, 2, 2, 1, 0]);
        nine.answers[9] = None;
        let later = odi("2026-10-01", 8, [3, 3, 3, 3, 2, 2, 2, 2, 2, 2]);
        let change = function_change(&[later, nine]);
        assert_eq!(
            change.map(|c| (c.previous, c.latest, c.change, c.important)),
            Some((37.778, 48.0, 10.222, true))
        );
        // Exactly 10 apart through fractions: 9 answered 20 × 18 / 9 = 40 and 50.
        let mut a = odi("2026-09-01", 8, [2; 10]);
        a.answers[9] = None;
        let b = odi("2026-10-01", 8, [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
        assert_eq!(
            function_change(&[a, b]).map(|c| (c.change, c.important)),
            Some((10.0, true))
        );
        // Same day: the one stored later is the latest.
        let first = odi("2026-10-01", 8, [1; 10]);
        let second = odi("2026-10-01", 9, [3; 10]);
        assert_eq!(
            function_change(&[second, first]).map(|c| c.change),
            Some(40.0)
        );
    }
}
