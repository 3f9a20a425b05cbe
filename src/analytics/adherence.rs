//! Adherence to a home programme: how far the stretching a patient logged
//! follows the plan the care team prescribed, item by item and day by day.
//!
//! A programme has versions; each is in force from the patient's local day
//! it was saved until the next one is. An item is *active* on the days in
//! `[starts_on, ends_on]` of the version in force that day. A day *meets*
//! an item when the patient's stretch sessions of that stretch dated that
//! day add up to at least its `seconds_per_day`. Over a window of days, an
//! item is prescribed `days_per_week / 7` of a day for each active day
//! (with the `days_per_week` of the version in force that day), so a whole
//! week of a 5-days-a-week item prescribes 5; it is met on each active day
//! that meets it; its adherence is `min(met, prescribed) / prescribed`
//! (none when nothing was prescribed). The programme's adherence is the
//! mean over the items that have one. Everything is exact (sevenths of a
//! day) until it is rounded for output.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use super::Frac;

/// One item of a programme version, as far as adherence needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedItem {
    pub stretch_id: String,
    pub days_per_week: u32,
    pub seconds_per_day: i64,
}

/// A version of a patient's programme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgrammeVersion {
    /// The patient's local day it was saved: it is in force from this day
    /// (the whole day) until a later version's.
    pub in_force_from: NaiveDate,
    pub starts_on: NaiveDate,
    /// `None`: open-ended. Ending a programme saves a version whose
    /// `ends_on` is the patient's today.
    pub ends_on: Option<NaiveDate>,
    pub items: Vec<PlannedItem>,
}

/// The patient's local day of an instant: the day a version saved then is
/// in force from.
pub fn local_day(saved_at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    saved_at.with_timezone(&zone).date_naive()
}

/// Stretching the patient logged: seconds of one stretch on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretched {
    pub date: NaiveDate,
    pub stretch_id: String,
    pub seconds: i64,
}

/// One item's adherence over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemAdherence {
    pub stretch_id: String,
    /// Days prescribed, in sevenths: `days_per_week` summed over the item's
    /// active days of the window.
    pub prescribed_sevenths: i64,
    /// Active days that met the item.
    pub met: i64,
}

impl ItemAdherence {
    /// Days prescribed (an exact fraction: 5 for a whole week of a
    /// 5-days-a-week item).
    pub fn prescribed(&self) -> f64 {
        Frac::new(self.prescribed_sevenths, 7).round3()
    }

    /// `min(met, prescribed) / prescribed`, exactly; `None` when nothing
    /// was prescribed.
    fn exact(&self) -> Option<Frac> {
        (self.prescribed_sevenths > 0).then(|| {
            let met = (self.met * 7).min(self.prescribed_sevenths);
            Frac::new(met, self.prescribed_sevenths)
        })
    }

    /// Adherence, 0..1 rounded to 3 decimals; `None` when nothing was
    /// prescribed.
    pub fn adherence(&self) -> Option<f64> {
        self.exact().map(Frac::round3)
    }
}

/// Adherence over a window: each item that was active in it at least once
/// (in the order of the latest version, then earlier ones), and the mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Adherence {
    pub items: Vec<ItemAdherence>,
    /// The mean of the items' adherence; `None` when no item has one.
    pub programme: Option<f64>,
    /// The same, exactly (for comparing with a floor).
    exact: Option<Frac>,
}

impl Adherence {
    /// Whether the programme's adherence is below `floor` (a share 0..1 in
    /// hundredths), exactly; never without a figure.
    pub fn below(&self, floor_hundredths: i64) -> bool {
        self.exact
            .is_some_and(|a| !a.at_least(Frac::new(floor_hundredths, 100)))
    }
}

/// The version in force on `day`: the last saved on or before it.
fn in_force(versions: &[ProgrammeVersion], day: NaiveDate) -> Option<&ProgrammeVersion> {
    versions.iter().rev().find(|v| v.in_force_from <= day)
}

/// Whether `version` makes its items active on `day`.
fn covers(version: &ProgrammeVersion, day: NaiveDate) -> bool {
    version.starts_on <= day && version.ends_on.is_none_or(|end| day <= end)
}

/// Adherence over the days `from..=to` up to the patient's `today`.
/// `versions` in the order they were saved (a later one saved the same day
/// wins that day); `stretched` in any order. A day after `today` has not
/// been missed and is not counted; `today` itself, not over yet, counts for
/// an item only once it meets it.
pub fn adherence(
    versions: &[ProgrammeVersion],
    stretched: &[Stretched],
    (from, to): (NaiveDate, NaiveDate),
    today: NaiveDate,
) -> Adherence {
    let to = to.min(today);
    let mut versions: Vec<ProgrammeVersion> = versions.to_vec();
    // Stable: versions saved the same day keep their order.
    versions.sort_by_key(|v| v.in_force_from);
    let mut seconds: HashMap<(NaiveDate, &str), i64> = HashMap::new();
    for s in stretched.iter().filter(|s| from <= s.date && s.date <= to) {
        *seconds.entry((s.date, s.stretch_id.as_str())).or_default() += s.seconds.max(0);
    }
    let mut items: Vec<ItemAdherence> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    // Items in the order of the newest version first, then earlier ones.
    for version in versions.iter().rev() {
        for item in &version.items {
            if !position.contains_key(&item.stretch_id) {
                position.insert(item.stretch_id.clone(), items.len());
                items.push(ItemAdherence {
                    stretch_id: item.stretch_id.clone(),
                    prescribed_sevenths: 0,
                    met: 0,
                });
            }
        }
    }
    let mut active = vec![false; items.len()];
    let mut day = from;
    while day <= to {
        if let Some(version) = in_force(&versions, day).filter(|v| covers(v, day)) {
            // A stretch counts once a day, even if a stored version named
            // it twice (the checks refuse that; this does not rely on it).
            let mut counted: Vec<usize> = Vec::with_capacity(version.items.len());
            for item in &version.items {
                let Some(&at) = position.get(&item.stretch_id) else {
                    continue;
                };
                if counted.contains(&at) {
                    continue;
                }
                counted.push(at);
                let done = seconds
                    .get(&(day, item.stretch_id.as_str()))
                    .copied()
                    .unwrap_or(0);
                let met = done >= item.seconds_per_day;
                if day == today && !met {
                    continue;
                }
                active[at] = true;
                let entry = &mut items[at];
                entry.prescribed_sevenths += i64::from(item.days_per_week.min(7));
                if met {
                    entry.met += 1;
                }
            }
        }
        day += Duration::days(1);
    }
    let items: Vec<ItemAdherence> = items
        .into_iter()
        .zip(active)
        .filter_map(|(item, active)| active.then_some(item))
        .collect();
    let rated: Vec<Frac> = items.iter().filter_map(ItemAdherence::exact).collect();
    let exact = (!rated.is_empty()).then(|| {
        rated
            .iter()
            .fold(Frac::new(0, 1), |sum, a| sum.add(*a))
            .div(rated.len() as i64)
    });
    Adherence {
        items,
        programme: exact.map(Frac::round3),
        exact,
    }
}

/// One ISO week (Monday to Sunday, in the patient's calendar).
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    pub week_start: NaiveDate,
    pub adherence: Adherence,
}

/// The last `weeks` ISO weeks up to the one holding `today`, oldest first.
/// The current week counts only its days up to `today` (and `today` once
/// met): a day still to come has not been missed.
pub fn weekly(
    versions: &[ProgrammeVersion],
    stretched: &[Stretched],
    today: NaiveDate,
    weeks: u32,
) -> Vec<Week> {
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    (0..i64::from(weeks))
        .rev()
        .map(|back| {
            let week_start = monday - Duration::weeks(back);
            let end = week_start + Duration::days(6);
            Week {
                week_start,
                adherence: adherence(versions, stretched, (week_start, end), today),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn item(stretch_id: &str, days_per_week: u32, seconds_per_day: i64) -> PlannedItem {
        PlannedItem {
            stretch_id: stretch_id.to_owned(),
            days_per_week,
            seconds_per_day,
        }
    }

    fn version(
        in_force_from: &str,
        starts_on: &str,
        ends_on: Option<&str>,
        items: Vec<PlannedItem>,
    ) -> ProgrammeVersion {
        ProgrammeVersion {
            in_force_from: d(in_force_from),
            starts_on: d(starts_on),
            ends_on: ends_on.map(d),
            items,
        }
    }

    fn did(date: &str, stretch_id: &str, seconds: i64) -> Stretched {
        Stretched {
            date: d(date),
            stretch_id: stretch_id.to_owned(),
            seconds,
        }
    }

    /// Each day of `days` (1 = Monday 2026-11-02) with `seconds` of `id`.
    fn on(days: &[u32], id: &str, seconds: i64) -> Vec<Stretched> {
        days.iter()
            .map(|n| Stretched {
                date: d("2026-11-01") + Duration::days(i64::from(*n)),
                stretch_id: id.to_owned(),
                seconds,
            })
            .collect()
    }

    /// (stretch, prescribed, met, adherence) of an item.
    type Row = (String, f64, i64, Option<f64>);

    /// Each item's row, and the mean.
    fn figures(a: &Adherence) -> (Vec<Row>, Option<f64>) {
        let items = a
            .items
            .iter()
            .map(|i| (i.stretch_id.clone(), i.prescribed(), i.met, i.adherence()))
            .collect();
        (items, a.programme)
    }

    fn one(
        id: &str,
        prescribed: f64,
        met: i64,
        adherence: Option<f64>,
    ) -> (String, f64, i64, Option<f64>) {
        (id.to_owned(), prescribed, met, adherence)
    }

    // The week of Monday 2026-11-02 to Sunday 2026-11-08.
    const MON: &str = "2026-11-02";
    const SUN: &str = "2026-11-08";
    /// A today after every window of these tests.
    const LATER: NaiveDate = match NaiveDate::from_ymd_opt(2026, 12, 31) {
        Some(day) => day,
        None => NaiveDate::MAX,
    };

    #[test]
    fn today_counts_once_it_is_met_and_later_days_not_at_all() {
        let plan = [version(
            "2026-10-01",
            "2026-10-01",
            None,
            vec![item("side-bend", 7, 120), item("lunge", 7, 60)],
        )];
        // Today is Wednesday: the side bend is done, the lunge not yet.
        let mut done = on(&[1, 2, 3], "side-bend", 120);
        done.extend(on(&[1], "lunge", 60));
        let a = adherence(&plan, &done, (d(MON), d(SUN)), d("2026-11-04"));
        assert_eq!(
            figures(&a),
            (
                vec![
                    one("side-bend", 3.0, 3, Some(1.0)),
                    one("lunge", 2.0, 1, Some(0.5))
                ],
                Some(0.75)
            )
        );
        // A programme saved this morning, nothing done yet: no figure.
        let fresh = [version(
            "2026-11-04",
            "2026-11-04",
            None,
            vec![item("lunge", 7, 60)],
        )];
        assert_eq!(
            figures(&adherence(&fresh, &[], (d(MON), d(SUN)), d("2026-11-04"))),
            (vec![], None)
        );
    }

    #[test]
    fn a_whole_week_of_a_plan_followed_in_part() {
        let plan = [version(
            "2026-10-01",
            "2026-10-01",
            None,
            vec![item("side-bend", 5, 120)],
        )];
        let done = on(&[1, 2, 4], "side-bend", 120);
        let a = adherence(&plan, &done, (d(MON), d(SUN)), LATER);
        assert_eq!(
            figures(&a),
            (vec![one("side-bend", 5.0, 3, Some(0.6))], Some(0.6))
        );
    }

    #[test]
    fn a_programme_starting_mid_week_prescribes_only_its_days() {
        // Saved and starting on Wednesday: Wednesday to Sunday, 5 days, so
        // a 7-days-a-week item prescribes 5 and a 3-days one 15/7.
        let plan = [version(
            "2026-11-04",
            "2026-11-04",
            None,
            vec![item("cat-cow", 7, 60), item("bridge", 3, 60)],
        )];
        let mut done = on(&[1, 2, 3, 4, 5], "cat-cow", 60); // Monday and Tuesday do not count
        done.extend(on(&[3, 4], "bridge", 60));
        let a = adherence(&plan, &done, (d(MON), d(SUN)), LATER);
        assert_eq!(
            figures(&a),
            (
                vec![
                    one("cat-cow", 5.0, 3, Some(0.6)),
                    one("bridge", 2.143, 2, Some(0.933))
                ],
                // (3/5 + 14/15) / 2 = 23/30
                Some(0.767)
            )
        );
    }

    #[test]
    fn each_day_is_judged_by_the_version_in_force_that_day() {
        // Monday to Wednesday: 2 minutes a day, 7 days a week. From
        // Thursday: 5 minutes, 3 days a week, and a new item.
        let plan = [
            version(
                "2026-10-01",
                "2026-10-01",
                None,
                vec![item("side-bend", 7, 120)],
            ),
            version(
                "2026-11-05",
                "2026-10-01",
                None,
                vec![item("side-bend", 3, 300), item("lunge", 7, 60)],
            ),
        ];
        // 2 minutes every day: meets the first version (Mon–Wed), not the
        // second (Thu–Sun); 5 minutes on Friday meets the second.
        let mut done = on(&[1, 2, 3, 4, 6, 7], "side-bend", 120);
        done.extend(on(&[5], "side-bend", 300));
        let a = adherence(&plan, &done, (d(MON), d(SUN)), LATER);
        // side-bend: 3 × 7 + 4 × 3 = 33 sevenths prescribed, met on Mon,
        // Tue, Wed and Fri = 4 = 28 sevenths: 28/33. lunge: 4 days of 7
        // a week, none met.
        assert_eq!(
            figures(&a),
            (
                vec![
                    one("side-bend", 4.714, 4, Some(0.848)),
                    one("lunge", 4.0, 0, Some(0.0))
                ],
                Some(0.424)
            )
        );
    }

    #[test]
    fn a_day_adds_up_its_sessions_and_one_just_short_does_not_meet() {
        let plan = [version(
            "2026-10-01",
            "2026-10-01",
            None,
            vec![item("piriformis", 7, 120)],
        )];
        let done = vec![
            did("2026-11-02", "piriformis", 60),
            did("2026-11-02", "piriformis", 60), // two sessions: 120, met
            did("2026-11-03", "piriformis", 119), // a second short
            did("2026-11-04", "other", 600),     // another stretch
        ];
        let a = adherence(&plan, &done, (d(MON), d("2026-11-04")), LATER);
        assert_eq!(
            figures(&a),
            (vec![one("piriformis", 3.0, 1, Some(0.333))], Some(0.333))
        );
    }

    /// Found by the property test: a version naming one stretch twice
    /// (which the checks refuse) still counts it once a day.
    #[test]
    fn a_stretch_named_twice_counts_once_a_day() {
        let plan = [version(
            "2026-10-01",
            "2026-10-01",
            None,
            vec![item("bridge", 7, 60), item("bridge", 7, 60)],
        )];
        let a = adherence(&plan, &on(&[1], "bridge", 60), (d(MON), d(MON)), LATER);
        assert_eq!(
            figures(&a),
            (vec![one("bridge", 1.0, 1, Some(1.0))], Some(1.0))
        );
    }

    #[test]
    fn more_than_prescribed_counts_as_all_of_it() {
        let plan = [version(
            "2026-10-01",
            "2026-10-01",
            None,
            vec![item("bridge", 2, 60)],
        )];
        let done = on(&[1, 2, 3, 4, 5, 6, 7], "bridge", 90);
        let a = adherence(&plan, &done, (d(MON), d(SUN)), LATER);
        assert_eq!(
            figures(&a),
            (vec![one("bridge", 2.0, 7, Some(1.0))], Some(1.0))
        );
    }

    #[test]
    fn a_programme_ended_counts_until_its_last_day_and_no_later() {
        // Ended on Wednesday (saved that day with ends_on = Wednesday).
        let plan = [
            version(
                "2026-10-01",
                "2026-10-01",
                None,
                vec![item("side-bend", 7, 60)],
            ),
            version(
                "2026-11-04",
                "2026-10-01",
                Some("2026-11-04"),
                vec![item("side-bend", 7, 60)],
            ),
        ];
        let done = on(&[1, 2, 3, 4, 5, 6, 7], "side-bend", 60);
        let a = adherence(&plan, &done, (d(MON), d(SUN)), LATER);
        assert_eq!(
            figures(&a),
            (vec![one("side-bend", 3.0, 3, Some(1.0))], Some(1.0))
        );
        // The week after: nothing prescribed, no figure, the item not listed.
        let later = adherence(&plan, &done, (d("2026-11-09"), d("2026-11-15")), LATER);
        assert_eq!(figures(&later), (vec![], None));
    }

    #[test]
    fn no_programme_or_nothing_prescribed_has_no_figure() {
        let none = adherence(&[], &on(&[1], "x", 60), (d(MON), d(SUN)), LATER);
        assert_eq!(figures(&none), (vec![], None));
        // Starts next week.
        let plan = [version(
            "2026-11-01",
            "2026-11-09",
            None,
            vec![item("x", 3, 60)],
        )];
        assert_eq!(
            figures(&adherence(&plan, &[], (d(MON), d(SUN)), LATER)),
            (vec![], None)
        );
    }

    #[test]
    fn weeks_are_iso_weeks_and_the_current_one_ends_today() {
        let plan = [version(
            "2026-10-01",
            "2026-10-01",
            None,
            vec![item("side-bend", 7, 60)],
        )];
        // Every day of the week of 2026-10-26, and Monday and Tuesday of
        // the week of 2026-11-02; today is Wednesday 2026-11-04.
        let mut done: Vec<Stretched> = (0..7)
            .map(|n| {
                did(
                    &(d("2026-10-26") + Duration::days(n)).to_string(),
                    "side-bend",
                    60,
                )
            })
            .collect();
        done.extend(on(&[1, 2], "side-bend", 60));
        let weeks = weekly(&plan, &done, d("2026-11-04"), 2);
        let starts: Vec<NaiveDate> = weeks.iter().map(|w| w.week_start).collect();
        assert_eq!(starts, vec![d("2026-10-26"), d(MON)]);
        assert_eq!(
            figures(&weeks[0].adherence),
            (vec![one("side-bend", 7.0, 7, Some(1.0))], Some(1.0))
        );
        // Monday and Tuesday met; Wednesday, today, not yet: not missed.
        assert_eq!(
            figures(&weeks[1].adherence),
            (vec![one("side-bend", 2.0, 2, Some(1.0))], Some(1.0))
        );
    }

    #[test]
    fn a_version_saved_in_a_dst_night_is_in_force_from_the_local_day() {
        // Berlin leaves summer time on Sunday 2026-10-25 (03:00 CEST is
        // 02:00 CET). Saved at 22:30 UTC on Saturday: 00:30 on Sunday in
        // Berlin, so Sunday is judged by the new version; saved at 21:30
        // UTC, 23:30 on Saturday, Saturday is too.
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let sunday = local_day("2026-10-24T22:30:00Z".parse().unwrap(), berlin);
        let saturday = local_day("2026-10-24T21:30:00Z".parse().unwrap(), berlin);
        assert_eq!((sunday, saturday), (d("2026-10-25"), d("2026-10-24")));
        let done: Vec<Stretched> = (0..7)
            .map(|n| {
                did(
                    &(d("2026-10-19") + Duration::days(n)).to_string(),
                    "side-bend",
                    60,
                )
            })
            .collect();
        for (saved, expected_met) in [(sunday, 6), (saturday, 5)] {
            // The new version asks 10 minutes a day: the 1-minute sessions
            // no longer meet it.
            let plan = [
                version(
                    "2026-10-01",
                    "2026-10-01",
                    None,
                    vec![item("side-bend", 7, 60)],
                ),
                ProgrammeVersion {
                    in_force_from: saved,
                    ..version(
                        "2026-10-01",
                        "2026-10-01",
                        None,
                        vec![item("side-bend", 7, 600)],
                    )
                },
            ];
            // The ISO week of the change (Monday 2026-10-19 to Sunday
            // 2026-10-25) still has seven days; today is the Monday after.
            let weeks = weekly(&plan, &done, d("2026-10-26"), 2);
            assert_eq!(weeks[0].week_start, d("2026-10-19"));
            let a = &weeks[0].adherence;
            assert_eq!(
                (a.items[0].prescribed(), a.items[0].met),
                (7.0, expected_met)
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_version() -> impl Strategy<Value = ProgrammeVersion> {
            (
                0i64..40,
                0i64..40,
                proptest::option::of(0i64..40),
                proptest::collection::vec((0u8..4, 0u32..9, 0i64..400), 0..4),
            )
                .prop_map(|(saved, starts, ends, items)| {
                    let base = d("2026-10-01");
                    ProgrammeVersion {
                        in_force_from: base + Duration::days(saved),
                        starts_on: base + Duration::days(starts),
                        ends_on: ends.map(|e| base + Duration::days(e)),
                        items: items
                            .into_iter()
                            .map(|(id, days, seconds)| item(&format!("s{id}"), days, seconds))
                            .collect(),
                    }
                })
        }

        proptest! {
            /// Whatever the plan and the sessions: each item's adherence
            /// is within 0..1, it is met at most on the window's days, and
            /// the programme's figure lies between its items' lowest and
            /// highest.
            #[test]
            fn figures_stay_in_their_ranges(
                versions in proptest::collection::vec(any_version(), 0..4),
                sessions in proptest::collection::vec((0u8..4, 0i64..40, 0i64..600), 0..60),
                from in 0i64..40,
                length in 0i64..20,
            ) {
                let base = d("2026-10-01");
                let stretched: Vec<Stretched> = sessions
                    .into_iter()
                    .map(|(id, day, seconds)| Stretched {
                        date: base + Duration::days(day),
                        stretch_id: format!("s{id}"),
                        seconds,
                    })
                    .collect();
                let from = base + Duration::days(from);
                let a = adherence(&versions, &stretched, (from, from + Duration::days(length)), base + Duration::days(30));
                let rated: Vec<f64> = a.items.iter().filter_map(ItemAdherence::adherence).collect();
                for item in &a.items {
                    prop_assert!(item.met <= length + 1);
                    if let Some(x) = item.adherence() {
                        prop_assert!((0.0..=1.0).contains(&x));
                    }
                }
                match a.programme {
                    None => prop_assert!(rated.is_empty()),
                    Some(mean) => {
                        let low = rated.iter().copied().fold(f64::INFINITY, f64::min);
                        let high = rated.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        prop_assert!(low - 0.001 <= mean && mean <= high + 0.001);
                    }
                }
            }
        }
    }
}
