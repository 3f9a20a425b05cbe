//! The vocabulary of the logbook (regions, muscles, techniques, precautions,
//! questionnaires) and the rules that check a body against it. Each kind's
//! body lives in its own module under `crate::kinds`.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::char_len;
use super::FieldError;

pub const NOTES_MAX: usize = 2000;

/// The logbook's kinds, one line each: the variant, the name it is stored
/// and synced under, and the module (and type) that defines it in
/// `crate::kinds`; its routes live in the module of that name under
/// `crate::routes::logbook`. Adding a kind is one line here. Each layer
/// expands the list with a macro of its own (`$then`): this module makes
/// [`RecordKind`] of it, `kinds` the dispatch to each kind's rules, and
/// `routes::logbook` the route table.
#[macro_export]
macro_rules! logbook_kinds {
    ($then:ident) => {
        $then! {
            PainEntry = "pain_entry" => pain_entry::PainEntries,
            StretchSession = "stretch_session" => stretch_session::StretchSessions,
            MassageSession = "massage_session" => massage_session::MassageSessions,
            Assessment = "assessment" => assessment::Assessments,
            OwnStretch = "stretch" => own_stretch::OwnStretches,
            Condition = "condition" => condition::Conditions,
            Programme = "programme" => programme::Programmes,
        }
    };
}

macro_rules! record_kind {
    ($($variant:ident = $slug:tt => $module:ident :: $kind:ident,)*) => {
        /// The kind of a logbook object; `kind` of the sync feed's items.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum RecordKind {
            $(#[serde(rename = $slug)] $variant,)*
        }

        impl RecordKind {
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// As stored in `records.kind`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $slug,)*
                }
            }
        }
    };
}

logbook_kinds!(record_kind);

impl RecordKind {
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == raw)
    }
}

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

/// The ids of the catalog's built-in stretches (migration 1): knee to
/// chest, cat–cow, child's pose, figure four, side bend.
pub const BUILTIN_STRETCHES: [uuid::Uuid; 5] = [
    uuid::Uuid::from_u128(0x5cc4_de70_afe9_4d31_8df2_1cc2_bd1c_45ab),
    uuid::Uuid::from_u128(0x298a_daec_6990_404b_abde_9246_865b_d113),
    uuid::Uuid::from_u128(0x7679_de43_9f1b_442b_966e_1daf_236f_2acd),
    uuid::Uuid::from_u128(0xfa63_71f8_38d0_4792_b84c_b3b1_7940_7225),
    uuid::Uuid::from_u128(0x0526_5d94_defe_4733_92b0_2989_f34a_5b19),
];

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
    pub const ALL: [Self; 9] = [
        Self::Osteoporosis,
        Self::Pregnancy,
        Self::RecentSurgery,
        Self::DiscHerniation,
        Self::SpinalFracture,
        Self::AnticoagulantMedication,
        Self::Cancer,
        Self::SkinCondition,
        Self::Other,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Osteoporosis => "osteoporosis",
            Self::Pregnancy => "pregnancy",
            Self::RecentSurgery => "recent_surgery",
            Self::DiscHerniation => "disc_herniation",
            Self::SpinalFracture => "spinal_fracture",
            Self::AnticoagulantMedication => "anticoagulant_medication",
            Self::Cancer => "cancer",
            Self::SkinCondition => "skin_condition",
            Self::Other => "other",
        }
    }
}

/// What [`Checks::date`] (and a query's `from`/`to`) accept of a date
/// without knowing the patient's today: the years 1900..9999, for
/// `openapi.yaml` (the format `date` states the rest).
pub const DATE_PATTERN: &str = "^(19[0-9]{2}|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}$";

/// What [`Checks::instant`] accepts of an RFC 3339 date-time, for
/// `openapi.yaml`: an instant in the years 1900..9999 in UTC. The offset
/// moves an instant by less than a day, so only the first and the last day
/// depend on it: 1900-01-01 is accepted with UTC or an offset west of it,
/// 9999-12-31 with UTC or one east of it, 1899-12-31 never (stricter than
/// the server for some hours at each end, never looser; a pattern cannot
/// add the offset to the time). The format `date-time` states the rest.
pub const INSTANT_PATTERN: &str = concat!(
    "^(?:",
    // 1901..9998, any day, any offset.
    "(?:19(?:0[1-9]|[1-9][0-9])|[2-8][0-9]{3}|9(?:[0-8][0-9]{2}|9[0-8][0-9]|99[0-8]))-[0-9]{2}-[0-9]{2}[Tt].*",
    // 1900 after its first day, 9999 before its last.
    "|1900-(?:01-(?:0[2-9]|[12][0-9]|3[01])|(?:0[2-9]|1[0-2])-[0-9]{2})[Tt].*",
    "|9999-(?:(?:0[1-9]|1[01])-[0-9]{2}|12-(?:[012][0-9]|30))[Tt].*",
    // The first and the last day, with an offset that keeps them in range.
    "|1900-01-01[Tt].*(?:[Zz]|[+-]00:00|-[0-9]{2}:[0-9]{2})",
    "|9999-12-31[Tt].*(?:[Zz]|[+-]00:00|\\+[0-9]{2}:[0-9]{2})",
    ")$"
);

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

    /// A day of a plan, which may lie ahead: the years 1900..9999.
    pub fn calendar_date(&mut self, field: &str, date: NaiveDate) {
        if !(1900..=9999).contains(&date.year()) {
            self.fail(field, "must be between 1900-01-01 and 9999-12-31");
        }
    }

    /// A timestamp in the years 1900-9999 (UTC): what both backends can store.
    pub fn instant(&mut self, field: &str, at: Option<DateTime<Utc>>) {
        if at.is_some_and(|at| !(1900..=9999).contains(&at.year())) {
            self.fail(
                field,
                "must be between 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z",
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

/// Which questionnaire was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Instrument {
    /// PEG-3: pain, enjoyment of life, general activity; 3 answers 0..10.
    Peg,
    /// Oswestry Disability Index: 10 sections 0..5, at least 8 answered.
    Odi,
    /// Roland-Morris Disability Questionnaire: 24 yes/no items (1/0).
    Rmdq,
}

impl Instrument {
    pub const ALL: [Self; 3] = [Self::Peg, Self::Odi, Self::Rmdq];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Peg => "peg",
            Self::Odi => "odi",
            Self::Rmdq => "rmdq",
        }
    }

    /// (number of answers, highest answer, fewest answered)
    pub const fn shape(self) -> (usize, i64, usize) {
        match self {
            Self::Peg => (3, 10, 3),
            Self::Odi => (10, 5, 8),
            Self::Rmdq => (24, 1, 24),
        }
    }

    /// Field errors for `answers`, empty when they can be scored.
    pub fn check(self, answers: &[Option<i64>]) -> Vec<FieldError> {
        let (count, max, min_answered) = self.shape();
        if answers.len() != count {
            return vec![FieldError::new(
                "answers",
                format!("must have exactly {count} answers"),
            )];
        }
        let mut errors = Vec::new();
        for (i, answer) in answers.iter().enumerate() {
            match answer {
                Some(v) if !(0..=max).contains(v) => {
                    errors.push(FieldError::new(
                        format!("answers[{i}]"),
                        format!("must be between 0 and {max}"),
                    ));
                }
                None if min_answered == count => {
                    errors.push(FieldError::new(format!("answers[{i}]"), "must be answered"));
                }
                _ => {}
            }
        }
        let answered = answers.iter().flatten().count();
        if errors.is_empty() && answered < min_answered {
            errors.push(FieldError::new(
                "answers",
                format!("at least {min_answered} of {count} sections must be answered"),
            ));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 25) {
        Some(day) => day,
        None => NaiveDate::MIN,
    };

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap_or(NaiveDate::MIN)
    }

    fn fields(checks: Checks) -> Vec<String> {
        checks.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn dates_are_bounded_by_1900_and_tomorrow() {
        let ctx = Context { today: TODAY };
        for (date, ok) in [
            ("2026-11-26", true),
            ("1900-01-01", true),
            ("2026-11-27", false),
            ("1899-12-31", false),
        ] {
            let mut c = Checks::default();
            c.date("date", day(date), &ctx);
            assert_eq!(c.0.is_empty(), ok, "{date}");
        }
    }

    #[test]
    fn text_limits_count_characters_and_lists_refuse_repeats() {
        let mut c = Checks::default();
        c.text("notes", Some(&"é".repeat(2000)), NOTES_MAX);
        c.no_duplicates("regions", &[Region::HipLeft]);
        assert!(c.0.is_empty());
        c.text("notes", Some(&"é".repeat(2001)), NOTES_MAX);
        c.no_duplicates("regions", &[Region::HipLeft, Region::HipLeft]);
        c.range("pain_level", Some(11), 0, 10);
        let at = |text: &str| text.parse::<DateTime<Utc>>().ok();
        c.instant("recorded_at", at("1900-01-01T00:00:00Z"));
        c.instant("recorded_at", at("9999-12-31T23:59:59.999999Z"));
        c.instant("started_at", at("1899-12-31T23:59:59Z"));
        c.instant("started_at", at("+10000-01-01T00:00:00Z"));
        c.instant("started_at", at("-4800-01-01T00:00:00Z"));
        assert_eq!(
            fields(c),
            vec![
                "notes",
                "regions",
                "pain_level",
                "started_at",
                "started_at",
                "started_at"
            ]
        );
    }

    /// The patterns of `openapi.yaml` say what the checks accept: a date
    /// in both directions, an instant never looser (stricter only on the
    /// first and the last day, with an offset that could move it out).
    #[test]
    fn the_declared_patterns_follow_the_checks() {
        let date = regex::Regex::new(DATE_PATTERN).unwrap();
        let instant = regex::Regex::new(INSTANT_PATTERN).unwrap();
        let far = Context {
            today: NaiveDate::from_ymd_opt(9999, 12, 30).unwrap_or(NaiveDate::MAX),
        };
        let mut day = NaiveDate::from_ymd_opt(1899, 12, 25).unwrap_or(NaiveDate::MIN);
        let mut checked = 0;
        while day.year() < 10_000 && checked < 4_000_000 {
            let text = day.format("%Y-%m-%d").to_string();
            let mut c = Checks::default();
            c.date("date", day, &far);
            assert_eq!(date.is_match(&text), c.0.is_empty(), "{text}");
            for offset in [
                "Z", "z", "+00:00", "-00:00", "+01:00", "-01:00", "+23:59", "-23:59",
            ] {
                for time in ["00:00:00", "12:30:00.5", "23:59:59"] {
                    let stamp = format!("{text}T{time}{offset}");
                    let Ok(at) = DateTime::parse_from_rfc3339(&stamp) else {
                        continue;
                    };
                    let mut c = Checks::default();
                    c.instant("at", Some(at.with_timezone(&Utc)));
                    let edge = ["1899-12-31", "1900-01-01", "9999-12-31"].contains(&text.as_str());
                    if instant.is_match(&stamp) {
                        assert!(c.0.is_empty(), "{stamp} matches but is refused");
                    } else {
                        assert!(
                            edge || !c.0.is_empty(),
                            "{stamp} is accepted but does not match"
                        );
                    }
                }
            }
            // Every day near the ends, a sample in between.
            let step = if day.year() < 1902 || day.year() > 9997 {
                1
            } else {
                97
            };
            day = day
                .checked_add_days(Days::new(step))
                .unwrap_or(NaiveDate::MAX);
            checked += 1;
        }
        assert!(instant.is_match("9999-12-31T23:59:59+05:00"));
        assert!(!instant.is_match("9999-12-31T23:59:59-05:00"));
        assert!(!instant.is_match("1900-01-01T00:30:00+01:00"));
        assert!(!date.is_match("10000-01-01"));
    }

    #[test]
    fn instruments_are_named_as_serialised() {
        for instrument in Instrument::ALL {
            let json = serde_json::to_value(instrument).ok();
            assert_eq!(
                json.as_ref().and_then(|v| v.as_str()),
                Some(instrument.as_str())
            );
        }
    }

    #[test]
    fn condition_names_parse_both_ways() {
        assert_eq!(
            Condition::parse("recent_surgery"),
            Some(Condition::RecentSurgery)
        );
        assert_eq!(Condition::RecentSurgery.as_str(), "recent_surgery");
        assert_eq!(Condition::parse("flu"), None);
        for c in Condition::ALL {
            let json = serde_json::to_value(c).ok();
            assert_eq!(json.as_ref().and_then(|v| v.as_str()), Some(c.as_str()));
        }
    }

    #[test]
    fn questionnaires_check_their_shape() {
        let some = |v: &[i64]| v.iter().copied().map(Some).collect::<Vec<_>>();
        assert!(Instrument::Peg.check(&some(&[1, 2, 3])).is_empty());
        assert_eq!(Instrument::Peg.check(&some(&[1, 2]))[0].field, "answers");
        assert_eq!(
            Instrument::Peg.check(&some(&[1, 11, 3]))[0].field,
            "answers[1]"
        );
        assert_eq!(
            Instrument::Peg.check(&[Some(1), None, Some(3)])[0].field,
            "answers[1]"
        );
        let mut seven = some(&[1; 7]);
        seven.extend([None, None, None]);
        assert_eq!(Instrument::Odi.check(&seven)[0].field, "answers");
        assert_eq!(Instrument::Odi.check(&some(&[1; 9]))[0].field, "answers");
        let mut bad = some(&[1; 10]);
        bad[4] = Some(6);
        assert_eq!(Instrument::Odi.check(&bad)[0].field, "answers[4]");
        let mut rmdq = some(&[0; 24]);
        rmdq[3] = Some(2);
        assert_eq!(Instrument::Rmdq.check(&rmdq)[0].field, "answers[3]");
        rmdq[3] = None;
        assert_eq!(Instrument::Rmdq.check(&rmdq)[0].field, "answers[3]");
    }
}
