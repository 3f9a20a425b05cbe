//! The therapist's overview of one patient (docs/analytics.md):
//! pure figures over a patient's daily sums, computed exactly (means as
//! fractions of integers) and rounded only for output.

use chrono::{Days, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use super::Frac;

/// A therapist's alert rules for one patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlertRules {
    /// `pain_high` when the latest logged day of the last 7 reaches it; none: off.
    pub pain_threshold: Option<i64>,
    /// `pain_spike` when that day is this much above the 7 days before.
    pub spike_delta: i64,
    /// `not_logging` when no entry in this many days (today included).
    pub not_logging_days: i64,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            pain_threshold: None,
            spike_delta: 3,
            not_logging_days: 7,
        }
    }
}

/// Why a patient needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    PainHigh,
    PainSpike,
    NotLogging,
    Precaution,
}

/// One logged day: the sum and number of its pain levels (`D` = sum / count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PainDay {
    pub date: NaiveDate,
    pub sum: i64,
    pub count: i64,
}

/// What the overview needs of one patient.
#[derive(Debug, Clone, Default)]
pub struct PatientData {
    /// Logged days covering at least the 14 days, and the not-logging
    /// window, ending at today; any order.
    pub pain_days: Vec<PainDay>,
    /// Days with a stretch session, covering at least the last 7; any order.
    pub stretch_days: Vec<NaiveDate>,
    /// The date of the most recent pain entry, if any.
    pub last_entry_date: Option<NaiveDate>,
    pub last_massage_date: Option<NaiveDate>,
    pub has_precautions: bool,
}

/// The overview's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub avg_pain_7d: Option<f64>,
    pub avg_pain_prev_7d: Option<f64>,
    pub stretch_days_7d: i64,
    pub days_since_last_massage: Option<i64>,
    pub alerts: Vec<Alert>,
}

/// `today − n` days (`today` when that would leave the calendar).
fn back(today: NaiveDate, n: i64) -> NaiveDate {
    today
        .checked_sub_days(Days::new(u64::try_from(n).unwrap_or(0)))
        .unwrap_or(today)
}

/// The mean of `D` over the logged days in `[from, to]`.
fn mean(days: &[PainDay], from: NaiveDate, to: NaiveDate) -> Option<Frac> {
    let inside: Vec<&PainDay> = days
        .iter()
        .filter(|d| d.date >= from && d.date <= to && d.count > 0)
        .collect();
    let n = i64::try_from(inside.len()).ok().filter(|n| *n > 0)?;
    let total = inside
        .iter()
        .fold(Frac::new(0, 1), |acc, d| acc.add(Frac::new(d.sum, d.count)));
    Some(total.div(n))
}

/// The figures and alerts of one patient on `today` (their local day).
/// Windows of "the last N days" include today (docs/api-guide.md).
pub fn figures(data: &PatientData, today: NaiveDate, rules: AlertRules) -> Figures {
    let week_start = back(today, 6);
    let avg_7d = mean(&data.pain_days, week_start, today);
    let avg_prev = mean(&data.pain_days, back(today, 13), back(today, 7));
    let mut stretched: Vec<NaiveDate> = data
        .stretch_days
        .iter()
        .copied()
        .filter(|d| *d >= week_start && *d <= today)
        .collect();
    stretched.sort_unstable();
    stretched.dedup();

    let mut alerts = Vec::new();
    let latest = data
        .pain_days
        .iter()
        .filter(|d| d.date >= week_start && d.date <= today && d.count > 0)
        .max_by_key(|d| d.date);
    if let Some(day) = latest {
        let d = Frac::new(day.sum, day.count);
        if let Some(threshold) = rules.pain_threshold {
            if d.at_least(Frac::new(threshold, 1)) {
                alerts.push(Alert::PainHigh);
            }
        }
        if let Some(prev) = avg_prev {
            if d.at_least(prev.add(Frac::new(rules.spike_delta, 1))) {
                alerts.push(Alert::PainSpike);
            }
        }
    }
    let logging_from = back(today, rules.not_logging_days - 1);
    if data.last_entry_date.is_none_or(|last| last < logging_from) {
        alerts.push(Alert::NotLogging);
    }
    if data.has_precautions {
        alerts.push(Alert::Precaution);
    }
    Figures {
        avg_pain_7d: avg_7d.map(Frac::round3),
        avg_pain_prev_7d: avg_prev.map(Frac::round3),
        stretch_days_7d: i64::try_from(stretched.len()).unwrap_or(i64::MAX),
        days_since_last_massage: data.last_massage_date.map(|d| (today - d).num_days()),
        alerts,
    }
}

/// The earliest day `figures` looks at for `today` and `rules`.
pub fn window_start(today: NaiveDate, rules: AlertRules) -> NaiveDate {
    back(today, 13.max(rules.not_logging_days - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 25) {
        Some(d) => d,
        None => NaiveDate::MIN,
    };

    fn ago(n: u64) -> NaiveDate {
        TODAY
            .checked_sub_days(Days::new(n))
            .unwrap_or(NaiveDate::MIN)
    }

    /// One entry a day at `levels[i]` on `today − days[i]`.
    fn days(points: &[(u64, &[i64])]) -> Vec<PainDay> {
        points
            .iter()
            .map(|(n, levels)| PainDay {
                date: ago(*n),
                sum: levels.iter().sum(),
                count: levels.len() as i64,
            })
            .collect()
    }

    fn data(pain: &[(u64, &[i64])]) -> PatientData {
        PatientData {
            pain_days: days(pain),
            last_entry_date: pain.iter().map(|(n, _)| ago(*n)).max(),
            ..PatientData::default()
        }
    }

    #[test]
    fn a_patient_who_never_logged_is_not_logging_and_has_no_figures() {
        let f = figures(&PatientData::default(), TODAY, AlertRules::default());
        assert_eq!(
            f,
            Figures {
                avg_pain_7d: None,
                avg_pain_prev_7d: None,
                stretch_days_7d: 0,
                days_since_last_massage: None,
                alerts: vec![Alert::NotLogging],
            }
        );
    }

    #[test]
    fn means_skip_unlogged_days_and_average_days_not_entries() {
        // This week: day 0 has entries 4 and 6 (D = 5), day 3 has 8: mean 6.5.
        // Days 1, 2, 4, 5, 6 are unlogged and do not count as zero.
        // Previous week: days 7 (2) and 13 (3): 2.5. Day 14 is outside both.
        let d = data(&[(0, &[4, 6]), (3, &[8]), (7, &[2]), (13, &[3]), (14, &[10])]);
        let f = figures(&d, TODAY, AlertRules::default());
        assert_eq!(f.avg_pain_7d, Some(6.5));
        assert_eq!(f.avg_pain_prev_7d, Some(2.5));
        // Latest day D = 5 ≥ 2.5 + 3? No (5 < 5.5).
        assert_eq!(f.alerts, vec![]);
    }

    #[test]
    fn thresholds_and_spikes_compare_exact_values() {
        // Previous week: days 7, 8, 9 at 1, 2, 2 → mean 5/3 (1.667).
        // Latest day (1 day ago) D = (4 + 5) / 2 = 4.5; 5/3 + 3 = 14/3 = 4.667: no spike.
        let base: &[(u64, &[i64])] = &[(1, &[4, 5]), (7, &[1]), (8, &[2]), (9, &[2])];
        let rules = AlertRules {
            pain_threshold: Some(5),
            ..AlertRules::default()
        };
        let f = figures(&data(base), TODAY, rules);
        assert_eq!(f.avg_pain_prev_7d, Some(1.667));
        assert_eq!(f.alerts, vec![]);
        // Latest D = 14/3 exactly (4, 5, 5): a spike exactly at the limit
        // counts; it would be lost to rounding (4.667 vs 4.667 is luck, not math).
        let at_limit: &[(u64, &[i64])] = &[(1, &[4, 5, 5]), (7, &[1]), (8, &[2]), (9, &[2])];
        assert_eq!(
            figures(&data(at_limit), TODAY, rules).alerts,
            vec![Alert::PainSpike]
        );
        // A case f64 gets wrong: the week before, one day of 1, 2, 2 (5/3);
        // the latest day 2, 3, 3 (8/3) with a spike delta of 1: exactly
        // 8/3 ≥ 5/3 + 1, where floats compare 2.6666666666666665 with 2.666666666666667.
        let tight: &[(u64, &[i64])] = &[(1, &[2, 3, 3]), (7, &[1, 2, 2])];
        let delta_one = AlertRules {
            spike_delta: 1,
            ..AlertRules::default()
        };
        let (floats_latest, floats_limit) =
            (std::hint::black_box(8.0_f64) / 3.0, 5.0_f64 / 3.0 + 1.0);
        assert!(floats_latest < floats_limit, "the case must defeat floats");
        assert_eq!(
            figures(&data(tight), TODAY, delta_one).alerts,
            vec![Alert::PainSpike]
        );
        // The threshold compares D itself: 9/2 = 4.5 < 5, 10/2 = 5 ≥ 5.
        let high: &[(u64, &[i64])] = &[(2, &[5, 5])];
        assert_eq!(
            figures(&data(high), TODAY, rules).alerts,
            vec![Alert::PainHigh]
        );
        // Only the latest logged day of the week counts: an older high day does not.
        let old_high: &[(u64, &[i64])] = &[(0, &[2]), (5, &[9])];
        assert_eq!(figures(&data(old_high), TODAY, rules).alerts, vec![]);
        // No previous week, no spike.
        let lonely: &[(u64, &[i64])] = &[(0, &[10])];
        assert_eq!(
            figures(&data(lonely), TODAY, rules).alerts,
            vec![Alert::PainHigh]
        );
    }

    #[test]
    fn not_logging_windows_include_today() {
        let rules = |n| AlertRules {
            not_logging_days: n,
            ..AlertRules::default()
        };
        // Last entry 6 days ago: inside a 7-day window (today and the 6 before).
        let six: &[(u64, &[i64])] = &[(6, &[3])];
        assert_eq!(figures(&data(six), TODAY, rules(7)).alerts, vec![]);
        let seven: &[(u64, &[i64])] = &[(7, &[3])];
        assert_eq!(
            figures(&data(seven), TODAY, rules(7)).alerts,
            vec![Alert::NotLogging]
        );
        // A 1-day window is today only.
        let yesterday: &[(u64, &[i64])] = &[(1, &[3])];
        assert_eq!(
            figures(&data(yesterday), TODAY, rules(1)).alerts,
            vec![Alert::NotLogging]
        );
        assert_eq!(window_start(TODAY, rules(60)), ago(59));
        assert_eq!(window_start(TODAY, rules(7)), ago(13));
    }

    #[test]
    fn huge_counts_cannot_overflow() {
        // Distinct prime counts make the exact denominators explode.
        let primes = [
            999_983, 999_979, 999_961, 999_959, 999_953, 999_931, 999_917,
        ];
        let pain_days = primes
            .iter()
            .enumerate()
            .map(|(i, &count)| PainDay {
                date: ago(i as u64 + 7),
                sum: count * 5 + 1,
                count,
            })
            .chain([PainDay {
                date: ago(0),
                sum: 9,
                count: 1,
            }])
            .collect();
        let d = PatientData {
            pain_days,
            last_entry_date: Some(ago(0)),
            ..PatientData::default()
        };
        let f = figures(&d, TODAY, AlertRules::default());
        assert_eq!(f.avg_pain_prev_7d, Some(5.0));
        assert_eq!(f.alerts, vec![Alert::PainSpike]);
    }

    #[test]
    fn stretch_days_and_massage_and_precautions() {
        let mut d = data(&[(0, &[3])]);
        d.stretch_days = vec![ago(0), ago(0), ago(6), ago(7), ago(3)];
        d.last_massage_date = Some(ago(12));
        d.has_precautions = true;
        let f = figures(&d, TODAY, AlertRules::default());
        assert_eq!(f.stretch_days_7d, 3);
        assert_eq!(f.days_since_last_massage, Some(12));
        assert_eq!(f.alerts, vec![Alert::Precaution]);
    }
}
