//! What a patient's phone writes: the request bodies, their enums and their
//! validation. A body that passes `validate` is stored as JSON as it is.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::char_len;
use crate::analytics::instruments::Instrument;
use crate::error::FieldError;

pub const NOTES_MAX: usize = 2000;

/// Where the pain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    LowerBackLeft,
    LowerBackRight,
    LowerBackCenter,
    ButtockLeft,
    ButtockRight,
    HipLeft,
    HipRight,
    LegLeft,
    LegRight,
}

/// A muscle a stretch targets or a massage works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Muscle {
    QuadratusLumborum,
    GluteusMedius,
    GluteusMaximus,
    Piriformis,
    ErectorSpinae,
    Multifidus,
    LatissimusDorsi,
    Iliopsoas,
    Hamstrings,
    TensorFasciaeLatae,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Left,
    Right,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Technique {
    DeepTissue,
    Swedish,
    Sports,
    TriggerPoint,
    MyofascialRelease,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pressure {
    Light,
    Medium,
    Firm,
}

/// A precaution that changes how the patient may be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Osteoporosis,
    Pregnancy,
    RecentSurgery,
    DiscHerniation,
    SpinalFracture,
    AnticoagulantMedication,
    Cancer,
    SkinCondition,
    Other,
}

impl Condition {
    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
    }

    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// What the write protocol needs of every logbook body.
pub trait Entry {
    /// The calendar day the object belongs to; `None` for undated objects.
    fn date(&self) -> Option<NaiveDate>;
    /// Field errors against the rules, empty when the body may be stored.
    fn validate(&self, ctx: &Context) -> Vec<FieldError>;
}

/// Rules that depend on the patient (their local "today").
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub today: NaiveDate,
}

/// Collects field errors of one body.
#[derive(Debug, Default)]
pub struct Checks(pub Vec<FieldError>);

impl Checks {
    pub fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn range(&mut self, field: &str, value: Option<i64>, min: i64, max: i64) {
        if let Some(v) = value {
            if !(min..=max).contains(&v) {
                self.fail(field, format!("must be between {min} and {max}"));
            }
        }
    }

    pub fn text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if value.is_some_and(|v| char_len(v) > max) {
            self.fail(field, format!("must be at most {max} characters"));
        }
    }

    /// A logbook date: not before 1900, not more than one day after the
    /// patient's today (a phone a few hours ahead across a time zone is fine).
    pub fn date(&mut self, field: &str, date: NaiveDate, ctx: &Context) {
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
        let latest = ctx
            .today
            .checked_add_days(Days::new(1))
            .unwrap_or(ctx.today);
        if date < earliest {
            self.fail(field, "must not be before 1900-01-01");
        } else if date > latest {
            self.fail(
                field,
                format!("must not be after {latest} (one day after the patient's today)"),
            );
        }
    }

    pub fn no_duplicates<T: PartialEq>(&mut self, field: &str, items: &[T]) {
        if items
            .iter()
            .enumerate()
            .any(|(i, a)| items[..i].contains(a))
        {
            self.fail(field, "must not list the same value twice");
        }
    }
}

/// One pain rating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PainEntryBody {
    /// The patient's local calendar day.
    pub date: NaiveDate,
    /// 0 (no pain) to 10 (worst imaginable).
    #[schema(minimum = 0, maximum = 10)]
    pub pain_level: i64,
    /// When the rating was made (RFC 3339; returned in UTC).
    pub recorded_at: Option<DateTime<Utc>>,
    /// Where it hurts; default none.
    #[serde(default)]
    pub regions: Vec<Region>,
    /// PEG item: how much pain interfered with enjoyment of life (0..10).
    #[schema(minimum = 0, maximum = 10)]
    pub enjoyment_interference: Option<i64>,
    /// PEG item: how much pain interfered with general activity (0..10).
    #[schema(minimum = 0, maximum = 10)]
    pub activity_interference: Option<i64>,
    /// Up to 2000 characters, stored verbatim.
    pub notes: Option<String>,
}

impl Entry for PainEntryBody {
    fn date(&self) -> Option<NaiveDate> {
        Some(self.date)
    }

    fn validate(&self, ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        c.date("date", self.date, ctx);
        c.range("pain_level", Some(self.pain_level), 0, 10);
        c.no_duplicates("regions", &self.regions);
        c.range("enjoyment_interference", self.enjoyment_interference, 0, 10);
        c.range("activity_interference", self.activity_interference, 0, 10);
        c.text("notes", self.notes.as_deref(), NOTES_MAX);
        c.0
    }
}

impl PainEntryBody {
    /// PEG-3 from this entry: the mean of the pain level and both
    /// interference scores, when both were given.
    pub fn peg_score(&self) -> Option<f64> {
        let (e, a) = (self.enjoyment_interference?, self.activity_interference?);
        Some(crate::analytics::round3(
            (self.pain_level + e + a) as f64 / 3.0,
        ))
    }
}

/// One stretch done on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StretchSessionBody {
    pub date: NaiveDate,
    /// A built-in stretch or one of the patient's own.
    pub stretch_id: Uuid,
    /// 1..7200 seconds.
    #[schema(minimum = 1, maximum = 7200)]
    pub duration_seconds: i64,
    #[schema(minimum = 1, maximum = 100)]
    pub sets: Option<i64>,
    #[schema(minimum = 1, maximum = 1000)]
    pub reps: Option<i64>,
    pub side: Option<Side>,
    pub notes: Option<String>,
}

impl Entry for StretchSessionBody {
    fn date(&self) -> Option<NaiveDate> {
        Some(self.date)
    }

    fn validate(&self, ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        c.date("date", self.date, ctx);
        c.range("duration_seconds", Some(self.duration_seconds), 1, 7200);
        c.range("sets", self.sets, 1, 100);
        c.range("reps", self.reps, 1, 1000);
        c.text("notes", self.notes.as_deref(), NOTES_MAX);
        c.0
    }
}

/// Minutes of one massage session spent on one muscle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MassageArea {
    pub muscle: Muscle,
    pub side: Side,
    #[schema(minimum = 1, maximum = 300)]
    pub minutes: i64,
}

/// A massage session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MassageSessionBody {
    pub date: NaiveDate,
    /// When it started (RFC 3339; returned in UTC). Orders sessions on one date.
    pub started_at: Option<DateTime<Utc>>,
    #[schema(minimum = 1, maximum = 300)]
    pub duration_minutes: i64,
    pub technique: Technique,
    pub pressure: Option<Pressure>,
    /// Their minutes may not add up to more than `duration_minutes`.
    pub areas: Vec<MassageArea>,
    #[schema(minimum = 0, maximum = 10)]
    pub pain_before: Option<i64>,
    #[schema(minimum = 0, maximum = 10)]
    pub pain_after: Option<i64>,
    pub notes: Option<String>,
}

impl Entry for MassageSessionBody {
    fn date(&self) -> Option<NaiveDate> {
        Some(self.date)
    }

    fn validate(&self, ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        c.date("date", self.date, ctx);
        c.range("duration_minutes", Some(self.duration_minutes), 1, 300);
        for (i, area) in self.areas.iter().enumerate() {
            c.range(&format!("areas[{i}].minutes"), Some(area.minutes), 1, 300);
        }
        let total: i64 = self.areas.iter().map(|a| a.minutes.clamp(0, 300)).sum();
        if total > self.duration_minutes {
            c.fail(
                "areas",
                format!(
                    "minutes add up to {total}, more than duration_minutes ({})",
                    self.duration_minutes
                ),
            );
        }
        c.range("pain_before", self.pain_before, 0, 10);
        c.range("pain_after", self.pain_after, 0, 10);
        c.text("notes", self.notes.as_deref(), NOTES_MAX);
        c.0
    }
}

/// Answers to one outcome questionnaire; the server scores them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentBody {
    pub date: NaiveDate,
    pub instrument: Instrument,
    /// PEG: 3 answers 0..10. ODI: 10 answers 0..5 or null for a blank
    /// section, at least 8 answered. RMDQ: 24 answers 0 or 1.
    pub answers: Vec<Option<i64>>,
}

impl Entry for AssessmentBody {
    fn date(&self) -> Option<NaiveDate> {
        Some(self.date)
    }

    fn validate(&self, ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        c.date("date", self.date, ctx);
        c.0.extend(self.instrument.check(&self.answers));
        c.0
    }
}

/// A stretch the patient added to their own catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnStretchBody {
    /// 1..100 characters.
    pub name: String,
    /// Up to 2000 characters.
    pub description: Option<String>,
    #[serde(default)]
    pub targets: Vec<Muscle>,
}

impl Entry for OwnStretchBody {
    fn date(&self) -> Option<NaiveDate> {
        None
    }

    fn validate(&self, _ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        if self.name.trim().is_empty() {
            c.fail("name", "must not be empty");
        }
        c.text("name", Some(&self.name), 100);
        c.text("description", self.description.as_deref(), NOTES_MAX);
        c.no_duplicates("targets", &self.targets);
        c.0
    }
}

/// A precaution as the patient states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionBody {
    /// Optional detail for the therapist, up to 2000 characters.
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 25) {
        Some(day) => day,
        None => NaiveDate::MIN,
    };

    fn ctx() -> Context {
        Context { today: TODAY }
    }

    /// A test date; an unparsable one becomes year -262143 and fails the test.
    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap_or(NaiveDate::MIN)
    }

    fn entry(date: &str, pain: i64) -> PainEntryBody {
        PainEntryBody {
            date: day(date),
            pain_level: pain,
            recorded_at: None,
            regions: vec![],
            enjoyment_interference: Some(4),
            activity_interference: Some(5),
            notes: None,
        }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn dates_are_bounded_by_1900_and_tomorrow() {
        assert!(entry("2026-11-26", 3).validate(&ctx()).is_empty());
        assert!(entry("1900-01-01", 3).validate(&ctx()).is_empty());
        assert_eq!(
            fields(entry("2026-11-27", 3).validate(&ctx())),
            vec!["date"]
        );
        assert_eq!(
            fields(entry("1899-12-31", 3).validate(&ctx())),
            vec!["date"]
        );
    }

    #[test]
    fn pain_entries_check_ranges_and_compute_peg() {
        assert_eq!(
            fields(entry("2026-11-25", 11).validate(&ctx())),
            vec!["pain_level"]
        );
        assert_eq!(entry("2026-11-25", 6).peg_score(), Some(5.0));
        assert_eq!(entry("2026-11-25", 7).peg_score(), Some(5.333));
        let mut e = entry("2026-11-25", 6);
        e.activity_interference = None;
        assert_eq!(e.peg_score(), None);
        e.notes = Some("é".repeat(2001));
        e.regions = vec![Region::HipLeft, Region::HipLeft];
        assert_eq!(fields(e.validate(&ctx())), vec!["regions", "notes"]);
        e.notes = Some("é".repeat(2000));
        e.regions = vec![Region::HipLeft];
        assert!(e.validate(&ctx()).is_empty());
    }

    #[test]
    fn massage_area_minutes_fit_in_the_session() {
        let area = |minutes| MassageArea {
            muscle: Muscle::QuadratusLumborum,
            side: Side::Left,
            minutes,
        };
        let mut s = MassageSessionBody {
            date: day("2026-11-20"),
            started_at: None,
            duration_minutes: 60,
            technique: Technique::DeepTissue,
            pressure: Some(Pressure::Firm),
            areas: vec![area(20), area(20), area(20)],
            pain_before: Some(6),
            pain_after: Some(3),
            notes: None,
        };
        assert!(s.validate(&ctx()).is_empty());
        s.areas.push(area(1));
        assert_eq!(fields(s.validate(&ctx())), vec!["areas"]);
        s.areas = vec![area(0)];
        s.pain_after = Some(-1);
        assert_eq!(
            fields(s.validate(&ctx())),
            vec!["areas[0].minutes", "pain_after"]
        );
    }

    #[test]
    fn condition_names_parse_both_ways() {
        assert_eq!(
            Condition::parse("recent_surgery"),
            Some(Condition::RecentSurgery)
        );
        assert_eq!(Condition::RecentSurgery.as_str(), "recent_surgery");
        assert_eq!(Condition::parse("flu"), None);
    }
}
