//! The therapist's overview of one patient (docs/analytics.md):
//! pure figures over a patient's daily sums, computed exactly (means as
//! fractions of integers) and rounded only for output, and what they mean
//! (alerts, the last session's relief, the next-session hint, the change in
//! function), and the order that puts who needs attention first.

use std::cmp::Ordering;

use chrono::{Days, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::adherence::{adherence, ProgrammeVersion, Stretched};
use super::clinical::{
    function_change, next_session, pain_rising, FunctionChange, NextSession, Questionnaire,
    ReliefClass,
};
use super::trends::{relief_intervals, Session};
use super::Frac;

/// A share from 0 to 1 in hundredths (an alert rule's floor): exact and
/// hashable, written as a number (`0.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub struct Hundredths(pub i64);

impl Hundredths {
    /// A share 0..=1, kept to two decimals (0.123 is 0.12); `None`
    /// outside 0..=1.
    pub fn of(share: f64) -> Option<Self> {
        (0.0..=1.0)
            .contains(&share)
            .then(|| Self((share * 100.0).round() as i64))
    }

    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl Serialize for Hundredths {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.to_f64())
    }
}

/// A therapist's alert rules for one patient, as they apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub struct AlertRules {
    /// `pain_high` when the latest logged day of the last 7 reaches it; null: off.
    pub pain_threshold: Option<i64>,
    /// `pain_spike` when that day is this much above the 7 days before.
    pub spike_delta: i64,
    /// `not_logging` when no entry in this many days (today included).
    pub not_logging_days: i64,
    /// `low_adherence` when the home programme's adherence over the last
    /// 7 days is below this share (0..1); 0: never.
    #[schema(value_type = f64, minimum = 0, maximum = 1)]
    pub adherence_floor: Hundredths,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            pain_threshold: None,
            spike_delta: 2,
            not_logging_days: 7,
            adherence_floor: Hundredths(50),
        }
    }
}

/// A patient's overrides of the therapist's defaults: `None` inherits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RuleOverrides {
    /// `Some(None)`: pain_high off for this patient.
    pub pain_threshold: Option<Option<i64>>,
    pub spike_delta: Option<i64>,
    pub not_logging_days: Option<i64>,
    pub adherence_floor: Option<Hundredths>,
}

impl AlertRules {
    /// These rules with `overrides` applied.
    pub fn with(self, overrides: RuleOverrides) -> Self {
        Self {
            pain_threshold: overrides.pain_threshold.unwrap_or(self.pain_threshold),
            spike_delta: overrides.spike_delta.unwrap_or(self.spike_delta),
            not_logging_days: overrides.not_logging_days.unwrap_or(self.not_logging_days),
            adherence_floor: overrides.adherence_floor.unwrap_or(self.adherence_floor),
        }
    }
}

/// What the overview says about a patient. All but `precaution` ask for
/// attention; `red_flag` sorts before them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    /// A pain entry of the last 14 days reported a red flag.
    RedFlag,
    /// The 7-day mean rose by the minimal important change.
    PainRising,
    PainHigh,
    PainSpike,
    /// The latest disability questionnaire is importantly worse.
    FunctionWorse,
    NotLogging,
    /// The home programme was followed less than the floor over the last 7 days.
    LowAdherence,
    /// The patient declared a precaution: information, not attention.
    Precaution,
}

impl Alert {
    /// Every alert but `precaution` puts the patient on the attention list.
    pub fn asks_attention(self) -> bool {
        !matches!(self, Self::Precaution)
    }
}

/// One logged day: the sum, number and highest of its pain levels (`D` =
/// sum / count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PainDay {
    pub date: NaiveDate,
    pub sum: i64,
    pub count: i64,
    pub max: i64,
}

/// A pain entry's note, with what orders the entries of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub date: NaiveDate,
    /// `recorded_at`, or when it was stored.
    pub at: NaiveDateTime,
    pub text: String,
}

/// The patient's own words: the newest note of the last 7 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LatestNote {
    pub date: NaiveDate,
    pub text: String,
}

/// The latest massage session of the last 365 days and its relief.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LastSession {
    pub session_id: uuid::Uuid,
    pub date: NaiveDate,
    /// Points of pain less in the 3 days after it than in the 7 before.
    pub relief: Option<f64>,
    pub relief_class: Option<ReliefClass>,
    /// Days before pain was back at the level before the session.
    pub relief_duration_days: Option<i64>,
    /// Pain has not been back yet: the relief lasts at least that long.
    pub relief_censored: Option<bool>,
}

/// What the overview needs of one patient.
#[derive(Debug, Clone, Default)]
pub struct PatientData {
    /// Logged days covering the 7 days before the first session of the
    /// last 365 days, the 14 days and the not-logging window, ending at
    /// today; any order.
    pub pain_days: Vec<PainDay>,
    /// Days with a stretch session, covering at least the last 7; any order.
    pub stretch_days: Vec<NaiveDate>,
    /// Seconds of each stretch a day, covering at least the last 7 days.
    pub stretched: Vec<Stretched>,
    /// The versions of the home programme in force on some day of the last
    /// 7, in the order they were saved (none: no programme).
    pub programme: Vec<ProgrammeVersion>,
    /// Days with a pain entry that reported a red flag, covering at least
    /// the last 14; any order.
    pub red_flag_days: Vec<NaiveDate>,
    /// The date of the most recent pain entry, if any.
    pub last_entry_date: Option<NaiveDate>,
    pub last_massage_date: Option<NaiveDate>,
    pub has_precautions: bool,
    /// The massage sessions of the last 365 days; any order.
    pub sessions: Vec<Session>,
    /// The non-empty pain-entry notes of the last 7 days; any order.
    pub notes: Vec<Note>,
    /// The ODI and RMDQ questionnaires of the last 365 days; any order.
    pub questionnaires: Vec<Questionnaire>,
}

/// The overview's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub avg_pain_7d: Option<f64>,
    pub avg_pain_prev_7d: Option<f64>,
    /// `avg_pain_7d − avg_pain_prev_7d`, when both weeks have 3 logged days.
    pub pain_change_7d: Option<f64>,
    /// The highest pain level of the last 7 days.
    pub worst_pain_7d: Option<i64>,
    pub stretch_days_7d: i64,
    /// Adherence to the home programme over the last 7 days.
    pub programme_adherence_7d: Option<f64>,
    /// The latest day of the last 14 with an entry that reported a red flag.
    pub red_flag_date: Option<NaiveDate>,
    pub days_since_last_entry: Option<i64>,
    pub days_since_last_massage: Option<i64>,
    pub latest_note: Option<LatestNote>,
    pub last_session: Option<LastSession>,
    pub next_session: Option<NextSession>,
    pub function_change: Option<FunctionChange>,
    pub alerts: Vec<Alert>,
    /// The exact change, for the attention order.
    pub(crate) change: Option<Frac>,
}

impl Figures {
    /// Any alert but `precaution`.
    pub fn needs_attention(&self) -> bool {
        self.alerts.iter().any(|a| a.asks_attention())
    }
}

/// `today − n` days (`today` when that would leave the calendar).
fn back(today: NaiveDate, n: i64) -> NaiveDate {
    today
        .checked_sub_days(Days::new(u64::try_from(n).unwrap_or(0)))
        .unwrap_or(today)
}

/// The mean of `D` over the logged days in `[from, to]`, and their number.
fn mean(days: &[PainDay], from: NaiveDate, to: NaiveDate) -> Option<(Frac, i64)> {
    let inside: Vec<&PainDay> = days
        .iter()
        .filter(|d| d.date >= from && d.date <= to && d.count > 0)
        .collect();
    let n = i64::try_from(inside.len()).ok().filter(|n| *n > 0)?;
    let total = inside
        .iter()
        .fold(Frac::new(0, 1), |acc, d| acc.add(Frac::new(d.sum, d.count)));
    Some((total.div(n), n))
}

/// How far back a red flag keeps the patient first on the list: today and
/// the 13 days before.
pub const RED_FLAG_DAYS: i64 = 14;
/// A 7-day mean of fewer ratings is too noisy to call a change.
const CHANGE_NEEDS_DAYS: i64 = 3;
/// How far back the last session and the next-session hint look.
pub const SESSIONS_LOOK_BACK_DAYS: i64 = 365;

/// The figures and alerts of one patient on `today` (their local day).
/// Windows of "the last N days" include today (docs/api-guide.md).
pub fn figures(data: &PatientData, today: NaiveDate, rules: AlertRules) -> Figures {
    let week_start = back(today, 6);
    let this_week = mean(&data.pain_days, week_start, today);
    let prev_week = mean(&data.pain_days, back(today, 13), back(today, 7));
    let avg_7d = this_week.map(|(m, _)| m);
    let avg_prev = prev_week.map(|(m, _)| m);
    let change = this_week
        .zip(prev_week)
        .filter(|((_, a), (_, b))| *a >= CHANGE_NEEDS_DAYS && *b >= CHANGE_NEEDS_DAYS)
        .map(|((a, _), (b, _))| a.sub(b));
    let mut stretched: Vec<NaiveDate> = data
        .stretch_days
        .iter()
        .copied()
        .filter(|d| *d >= week_start && *d <= today)
        .collect();
    stretched.sort_unstable();
    stretched.dedup();
    let this_week_days = || {
        data.pain_days
            .iter()
            .filter(|d| d.date >= week_start && d.date <= today && d.count > 0)
    };

    // The last session, and the hint, over the sessions of the last 365 days.
    let sessions_from = back(today, SESSIONS_LOOK_BACK_DAYS - 1);
    let intervals = relief_intervals((sessions_from, today), &data.pain_days, &data.sessions);
    let last_session = intervals.last().map(|i| LastSession {
        session_id: i.session_id,
        date: i.date,
        relief: i.relief,
        relief_class: i.relief_class,
        relief_duration_days: i.relief_duration_days,
        relief_censored: i.relief_censored,
    });
    let function = function_change(
        &data
            .questionnaires
            .iter()
            .filter(|q| q.date >= sessions_from && q.date <= today)
            .cloned()
            .collect::<Vec<_>>(),
    );
    let latest_note = data
        .notes
        .iter()
        .filter(|n| n.date >= week_start && n.date <= today && !n.text.trim().is_empty())
        .max_by_key(|n| (n.date, n.at))
        .map(|n| LatestNote {
            date: n.date,
            text: n.text.clone(),
        });

    let mut alerts = Vec::new();
    let red_flag_date = data
        .red_flag_days
        .iter()
        .copied()
        .filter(|d| *d >= back(today, RED_FLAG_DAYS - 1) && *d <= today)
        .max();
    if red_flag_date.is_some() {
        alerts.push(Alert::RedFlag);
    }
    if let (Some(change), Some(prev)) = (change, avg_prev) {
        if pain_rising(change, prev) {
            alerts.push(Alert::PainRising);
        }
    }
    if let Some(day) = this_week_days().max_by_key(|d| d.date) {
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
    if function.as_ref().is_some_and(FunctionChange::worse) {
        alerts.push(Alert::FunctionWorse);
    }
    let logging_from = back(today, rules.not_logging_days - 1);
    if data.last_entry_date.is_none_or(|last| last < logging_from) {
        alerts.push(Alert::NotLogging);
    }
    let followed = adherence(&data.programme, &data.stretched, (week_start, today), today);
    if followed.below(rules.adherence_floor.0) {
        alerts.push(Alert::LowAdherence);
    }
    if data.has_precautions {
        alerts.push(Alert::Precaution);
    }
    Figures {
        avg_pain_7d: avg_7d.map(Frac::round3),
        avg_pain_prev_7d: avg_prev.map(Frac::round3),
        pain_change_7d: change.map(Frac::round3),
        worst_pain_7d: this_week_days().map(|d| d.max).max(),
        stretch_days_7d: i64::try_from(stretched.len()).unwrap_or(i64::MAX),
        programme_adherence_7d: followed.programme,
        red_flag_date,
        days_since_last_entry: data.last_entry_date.map(|d| (today - d).num_days()),
        days_since_last_massage: data.last_massage_date.map(|d| (today - d).num_days()),
        latest_note,
        last_session,
        next_session: next_session(&intervals, today),
        function_change: function,
        alerts,
        change,
    }
}

/// The earliest day `figures` looks at for `today` and `rules`: a week
/// before the first session it may look at.
pub fn window_start(today: NaiveDate, rules: AlertRules) -> NaiveDate {
    back(
        today,
        (SESSIONS_LOOK_BACK_DAYS - 1 + 7).max(rules.not_logging_days - 1),
    )
}

/// How the patient list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PatientOrder {
    /// Who needs attention first, by the rise of their 7-day pain.
    #[default]
    Attention,
    /// By display name.
    Name,
    /// The most recent entry first; patients who never logged last.
    LastEntry,
}

/// Where a patient stands in a [`PatientOrder`]: the list is sorted by it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rank {
    pub order: PatientOrder,
    /// The attention order's groups: 0 a red flag, 1 needs attention, 2
    /// the rest (the other orders: all 0).
    pub group: u8,
    /// The attention order: within the red flags, the latest first.
    pub flagged: Option<NaiveDate>,
    /// The attention order's rise in 7-day pain (the exact value as a
    /// double: equal fractions give equal doubles), largest first, none last.
    pub change: Option<f64>,
    /// Days since the last entry (the attention order: most first, never
    /// logged before all) or before today (`last_entry`: fewest first,
    /// never logged after all).
    pub days: Option<i64>,
    pub name: String,
    pub id: String,
}

impl Rank {
    pub fn new(order: PatientOrder, figures: &Figures, name: &str, id: &str) -> Self {
        let attention = order == PatientOrder::Attention && figures.needs_attention();
        let flagged = figures
            .red_flag_date
            .filter(|_| order == PatientOrder::Attention);
        let (group, change, days) = match order {
            PatientOrder::Attention if attention => (
                if flagged.is_some() { 0 } else { 1 },
                figures.change.map(Frac::to_f64),
                Some(figures.days_since_last_entry.unwrap_or(i64::MAX)),
            ),
            PatientOrder::Attention => (2, None, None),
            PatientOrder::Name => (0, None, None),
            PatientOrder::LastEntry => (0, None, figures.days_since_last_entry),
        };
        Self {
            order,
            group,
            flagged,
            change,
            days,
            name: name.to_owned(),
            id: id.to_owned(),
        }
    }

    /// Before (`Less`) or after `other` in their order.
    pub fn compare(&self, other: &Self) -> Ordering {
        let larger_first = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let days = match self.order {
            PatientOrder::LastEntry => match (self.days, other.days) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            _ => other.days.cmp(&self.days),
        };
        self.group
            .cmp(&other.group)
            .then_with(|| other.flagged.cmp(&self.flagged))
            .then_with(|| larger_first(self.change, other.change))
            .then(days)
            .then_with(|| self.name.to_lowercase().cmp(&other.name.to_lowercase()))
            .then_with(|| self.name.cmp(&other.name))
            .then_with(|| self.id.cmp(&other.id))
    }
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
                max: levels.iter().copied().max().unwrap_or(0),
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
                pain_change_7d: None,
                worst_pain_7d: None,
                stretch_days_7d: 0,
                programme_adherence_7d: None,
                red_flag_date: None,
                days_since_last_entry: None,
                days_since_last_massage: None,
                latest_note: None,
                last_session: None,
                next_session: None,
                function_change: None,
                alerts: vec![Alert::NotLogging],
                change: None,
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
        // Latest day D = 5 ≥ 2.5 + 2 (the default spike): a spike; with a
        // spike of 3 (5 < 5.5) none.
        assert_eq!(f.alerts, vec![Alert::PainSpike]);
        let three = AlertRules {
            spike_delta: 3,
            ..AlertRules::default()
        };
        assert_eq!(figures(&d, TODAY, three).alerts, vec![]);
        // Two logged days in each week: too few to call a change.
        assert_eq!((f.pain_change_7d, f.change), (None, None));
        assert_eq!(f.worst_pain_7d, Some(8), "the highest entry, not day mean");
    }

    #[test]
    fn thresholds_and_spikes_compare_exact_values() {
        // Previous week: days 7, 8, 9 at 1, 2, 2 → mean 5/3 (1.667).
        // Latest day (1 day ago) D = (4 + 5) / 2 = 4.5; 5/3 + 3 = 14/3 = 4.667: no spike.
        let base: &[(u64, &[i64])] = &[(1, &[4, 5]), (7, &[1]), (8, &[2]), (9, &[2])];
        let rules = AlertRules {
            pain_threshold: Some(5),
            spike_delta: 3,
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
        // A week before the first of the last 365 days' sessions.
        assert_eq!(window_start(TODAY, rules(60)), ago(371));
        assert_eq!(window_start(TODAY, rules(7)), ago(371));
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
                max: 6,
            })
            .chain([PainDay {
                date: ago(0),
                sum: 9,
                count: 1,
                max: 9,
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

    fn session(n: u128, days_ago: u64) -> Session {
        Session {
            id: uuid::Uuid::from_u128(n),
            date: ago(days_ago),
            started_at: None,
        }
    }

    /// Three logged days in each week, at `prev` then `now`.
    fn weeks(prev: &[i64; 3], now: &[i64; 3]) -> PatientData {
        data(&[
            (9, &[prev[0]]),
            (10, &[prev[1]]),
            (11, &[prev[2]]),
            (0, &[now[0]]),
            (1, &[now[1]]),
            (2, &[now[2]]),
        ])
    }

    #[test]
    fn the_change_needs_three_logged_days_a_week_and_rising_is_the_minimal_important_change() {
        // 3, 4, 5 (mean 4) then 5, 5, 5: +1 = 25 % of 4: not rising.
        let f = figures(&weeks(&[3, 4, 5], &[5, 5, 5]), TODAY, AlertRules::default());
        assert_eq!(f.pain_change_7d, Some(1.0));
        assert!(!f.alerts.contains(&Alert::PainRising));
        // 3, 3, 4 (10/3) then 5, 4, 4 (13/3): +1 = 30 % of 10/3 exactly: rising.
        let f = figures(&weeks(&[3, 3, 4], &[5, 4, 4]), TODAY, AlertRules::default());
        assert_eq!(f.pain_change_7d, Some(1.0));
        assert_eq!(f.alerts, vec![Alert::PainRising]);
        assert!(f.needs_attention());
        // 7, 7, 7 then 9, 9, 9: +2 = 29 % of 7, but 2 points: rising.
        let f = figures(&weeks(&[7, 7, 7], &[9, 9, 9]), TODAY, AlertRules::default());
        assert!(f.alerts.contains(&Alert::PainRising));
        // A fall is no alert.
        let f = figures(&weeks(&[7, 7, 7], &[2, 2, 2]), TODAY, AlertRules::default());
        assert_eq!((f.pain_change_7d, f.alerts.clone()), (Some(-5.0), vec![]));
        // Two logged days in the week before: no change, no alert.
        let mut short = weeks(&[1, 1, 1], &[9, 9, 9]);
        short.pain_days.retain(|d| d.date != ago(11));
        let f = figures(&short, TODAY, AlertRules::default());
        assert_eq!(f.pain_change_7d, None);
        assert!(!f.alerts.contains(&Alert::PainRising));
    }

    #[test]
    fn the_last_session_and_the_hint_look_back_365_days() {
        // Sessions 60, 46, 32, 18 and 4 days ago; pain 6 before each, 3 for
        // the 5 days after (relief 3 of 6: substantial), back to 6 after.
        let mut rows: Vec<(u64, Vec<i64>)> = Vec::new();
        for n in 5..=70u64 {
            let since = [18u64, 32, 46, 60].iter().find(|s| **s > n).map(|s| s - n);
            let level = match since {
                Some(k) if (1..=5).contains(&k) => 3,
                _ => 6,
            };
            rows.push((n, vec![level]));
        }
        rows.extend([(3, vec![3]), (2, vec![3]), (1, vec![4])]);
        let pain: Vec<(u64, &[i64])> = rows.iter().map(|(n, l)| (*n, l.as_slice())).collect();
        let mut d = data(&pain);
        // A session 400 days ago is outside the year.
        d.sessions = vec![
            session(1, 60),
            session(2, 46),
            session(3, 32),
            session(4, 18),
            session(5, 4),
            session(9, 400),
        ];
        let f = figures(&d, TODAY, AlertRules::default());
        assert_eq!(
            f.last_session,
            Some(LastSession {
                session_id: uuid::Uuid::from_u128(5),
                date: ago(4),
                relief: Some(2.667),
                relief_class: Some(ReliefClass::Moderate),
                // Open: the 4 days since, none back at 6 yet.
                relief_duration_days: Some(4),
                relief_censored: Some(true),
            })
        );
        // Four closed intervals, each 5 days of relief: due 4 days ago + 6.
        let in_two_days = TODAY.checked_add_days(Days::new(2)).unwrap_or(TODAY);
        let hint = f.next_session.clone();
        assert_eq!(
            hint.map(|h| (h.typical_relief_days, h.based_on, h.suggested_date, h.due)),
            Some((5.0, 4, in_two_days, false))
        );
        assert_eq!(
            figures(&d, in_two_days, AlertRules::default())
                .next_session
                .map(|h| h.due),
            Some(true)
        );
    }

    #[test]
    fn the_newest_note_of_the_week_and_a_worse_function() {
        let mut d = data(&[(0, &[3])]);
        let at = |n: u64, h: u32| ago(n).and_hms_opt(h, 0, 0).unwrap_or_default();
        d.notes = vec![
            Note {
                date: ago(1),
                at: at(1, 20),
                text: "stiff after gardening".into(),
            },
            Note {
                date: ago(1),
                at: at(1, 8),
                text: "slept badly".into(),
            },
            Note {
                date: ago(8),
                at: at(8, 8),
                text: "too old".into(),
            },
        ];
        let odi = |n: u64, answers: [i64; 10]| Questionnaire {
            instrument: crate::analytics::instruments::Instrument::Odi,
            date: ago(n),
            stored: at(n, 9),
            answers: answers.into_iter().map(Some).collect(),
        };
        // ODI 20 then 32: +12, important and worse.
        d.questionnaires = vec![odi(30, [1; 10]), odi(2, [2, 2, 2, 2, 2, 2, 1, 1, 1, 1])];
        let f = figures(&d, TODAY, AlertRules::default());
        assert_eq!(
            f.latest_note,
            Some(LatestNote {
                date: ago(1),
                text: "stiff after gardening".into()
            })
        );
        assert_eq!(f.function_change.as_ref().map(|c| c.change), Some(12.0));
        assert_eq!(f.alerts, vec![Alert::FunctionWorse]);
        // An ODI older than a year is not compared.
        d.questionnaires[0].date = ago(365);
        assert_eq!(
            figures(&d, TODAY, AlertRules::default()).function_change,
            None
        );
    }

    #[test]
    fn overrides_replace_the_defaults_field_by_field() {
        let defaults = AlertRules {
            pain_threshold: Some(4),
            spike_delta: 3,
            not_logging_days: 10,
            adherence_floor: Hundredths(50),
        };
        let rules = defaults.with(RuleOverrides {
            spike_delta: Some(5),
            ..RuleOverrides::default()
        });
        // Off for one patient, whatever the default.
        let off = defaults.with(RuleOverrides {
            pain_threshold: Some(None),
            ..RuleOverrides::default()
        });
        assert_eq!(off.pain_threshold, None);
        assert_eq!(
            rules,
            AlertRules {
                pain_threshold: Some(4),
                spike_delta: 5,
                not_logging_days: 10,
                adherence_floor: Hundredths(50),
            }
        );
        assert_eq!(defaults.with(RuleOverrides::default()), defaults);
    }

    fn ranked(order: PatientOrder, people: &[(&str, &str, PatientData)]) -> Vec<String> {
        let mut ranks: Vec<Rank> = people
            .iter()
            .map(|(name, id, data)| {
                Rank::new(
                    order,
                    &figures(data, TODAY, AlertRules::default()),
                    name,
                    id,
                )
            })
            .collect();
        ranks.sort_by(|a, b| a.compare(b));
        ranks.into_iter().map(|r| r.name).collect()
    }

    /// A programme saved 3 days ago, two items of 7 days a week: one met on
    /// each of its 4 days, the other on 1 (a day short on another).
    fn following(met_second: &[u64]) -> PatientData {
        use crate::analytics::adherence::PlannedItem;
        let item = |id: &str| PlannedItem {
            stretch_id: id.to_owned(),
            days_per_week: 7,
            seconds_per_day: 120,
        };
        let mut stretched = Vec::new();
        for n in 0..4 {
            stretched.push(Stretched {
                date: ago(n),
                stretch_id: "a".into(),
                seconds: 120,
            });
        }
        for n in met_second {
            stretched.push(Stretched {
                date: ago(*n),
                stretch_id: "b".into(),
                seconds: 120,
            });
        }
        stretched.push(Stretched {
            date: ago(1),
            stretch_id: "b".into(),
            seconds: 119,
        });
        PatientData {
            stretched,
            programme: vec![ProgrammeVersion {
                in_force_from: ago(3),
                starts_on: ago(10),
                ends_on: None,
                items: vec![item("a"), item("b")],
            }],
            ..data(&[(0, &[3])])
        }
    }

    #[test]
    fn low_adherence_is_below_the_floor_exactly() {
        // (1 + 1/4) / 2 = 0.625; (1 + 0/4) / 2 = 0.5, the floor itself.
        let rules = AlertRules::default();
        let good = figures(&following(&[0]), TODAY, rules);
        assert_eq!(good.programme_adherence_7d, Some(0.625));
        assert!(!good.alerts.contains(&Alert::LowAdherence));
        let half = figures(&following(&[]), TODAY, rules);
        assert_eq!(half.programme_adherence_7d, Some(0.5));
        assert!(!half.alerts.contains(&Alert::LowAdherence));
        let stricter = AlertRules {
            adherence_floor: Hundredths(51),
            ..rules
        };
        let low = figures(&following(&[]), TODAY, stricter);
        assert!(low.alerts.contains(&Alert::LowAdherence));
        assert!(low.needs_attention());
        // Listed after not_logging, before precaution.
        let mut silent = following(&[]);
        silent.last_entry_date = Some(ago(30));
        silent.has_precautions = true;
        assert_eq!(
            figures(&silent, TODAY, stricter).alerts,
            [Alert::NotLogging, Alert::LowAdherence, Alert::Precaution]
        );
        // A floor of 0 never fires; no programme, no figure and no alert.
        let never = AlertRules {
            adherence_floor: Hundredths(0),
            ..rules
        };
        let mut idle = following(&[]);
        idle.stretched.clear();
        assert_eq!(
            figures(&idle, TODAY, rules).programme_adherence_7d,
            Some(0.0)
        );
        assert!(!figures(&idle, TODAY, never)
            .alerts
            .contains(&Alert::LowAdherence));
        let none = figures(&data(&[(0, &[3])]), TODAY, stricter);
        assert_eq!(none.programme_adherence_7d, None);
        assert!(!none.alerts.contains(&Alert::LowAdherence));
    }

    #[test]
    fn a_red_flag_of_the_last_14_days_comes_first() {
        // Day 13 (the 14th day, today included) is in, day 14 out.
        for (days_ago, flagged) in [(0, true), (13, true), (14, false), (30, false)] {
            let mut data = data(&[(0, &[3])]);
            data.red_flag_days = vec![ago(days_ago), ago(40)];
            let f = figures(&data, TODAY, AlertRules::default());
            assert_eq!(
                f.alerts.first() == Some(&Alert::RedFlag),
                flagged,
                "{days_ago}"
            );
            assert_eq!(
                f.red_flag_date,
                flagged.then(|| ago(days_ago)),
                "{days_ago}"
            );
            assert_eq!(f.needs_attention(), flagged, "{days_ago}");
        }
        // The latest flagged day is the date; a future one is not counted.
        let mut two = data(&[(0, &[3])]);
        two.red_flag_days = vec![ago(5), ago(2), ago(9)];
        assert_eq!(
            figures(&two, TODAY, AlertRules::default()).red_flag_date,
            Some(ago(2))
        );

        // Before every other attention alert, the latest flag first.
        let flagged = |days: u64| {
            let mut d = data(&[(0, &[2])]);
            d.red_flag_days = vec![ago(days)];
            d
        };
        let people = vec![
            ("Bea", "1", weeks(&[4, 4, 4], &[6, 6, 6])),
            ("Old flag", "2", flagged(10)),
            ("Emil", "3", PatientData::default()),
            ("New flag", "4", flagged(1)),
            ("Calm", "5", data(&[(0, &[1])])),
        ];
        assert_eq!(
            ranked(PatientOrder::Attention, &people),
            ["New flag", "Old flag", "Bea", "Emil", "Calm"]
        );
    }

    #[test]
    fn floors_are_shares_kept_to_two_decimals() {
        assert_eq!(Hundredths::of(0.5), Some(Hundredths(50)));
        assert_eq!(Hundredths::of(0.29), Some(Hundredths(29)));
        assert_eq!(Hundredths::of(0.123), Some(Hundredths(12)));
        assert_eq!(Hundredths::of(1.0), Some(Hundredths(100)));
        assert_eq!(Hundredths::of(0.0), Some(Hundredths(0)));
        assert_eq!(Hundredths::of(1.01), None);
        assert_eq!(Hundredths::of(-0.01), None);
        assert_eq!(Hundredths::of(f64::NAN), None);
        assert_eq!(
            serde_json::to_string(&Hundredths(29)).unwrap_or_default(),
            "0.29"
        );
    }

    #[test]
    fn the_attention_order_with_its_ties() {
        let mut precaution = data(&[(0, &[2])]);
        precaution.has_precautions = true;
        let people = vec![
            // Calm, but a precaution: information, not attention.
            ("Maria", "1", precaution),
            // Rising by 1.5 and by 2: the larger rise first.
            ("Alex", "2", weeks(&[3, 4, 3], &[5, 5, 4])),
            ("Bea", "3", weeks(&[4, 4, 4], &[6, 6, 6])),
            // Attention without a change (not logging): after the changes,
            // the longest silence first, never logged before all.
            ("Carl", "4", data(&[(9, &[5])])),
            ("Dora", "5", data(&[(20, &[5])])),
            ("Emil", "6", PatientData::default()),
            // Ties by name, ignoring case, then id.
            ("zoe", "8", data(&[(0, &[1])])),
            ("Zoe", "7", data(&[(0, &[1])])),
            ("adam", "9", data(&[(0, &[1])])),
        ];
        assert_eq!(
            ranked(PatientOrder::Attention, &people),
            ["Bea", "Alex", "Emil", "Dora", "Carl", "adam", "Maria", "Zoe", "zoe"]
        );
        assert_eq!(
            ranked(PatientOrder::Name, &people),
            ["adam", "Alex", "Bea", "Carl", "Dora", "Emil", "Maria", "Zoe", "zoe"]
        );
        // The most recent entry first, never logged last.
        assert_eq!(
            ranked(PatientOrder::LastEntry, &people),
            ["adam", "Alex", "Bea", "Maria", "Zoe", "zoe", "Carl", "Dora", "Emil"]
        );
    }
}
