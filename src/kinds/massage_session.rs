//! Massage sessions, recorded by the patient (a session they had anywhere).
//! The date, start and duration are typed columns; `recorded_by` comes from
//! the record's author, and only the author may change a session.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{to_column, Columns, Kind, Listing, Record, RecordKind, RecordMeta};
use crate::db::DbResult;
use crate::domain::logbook::{Checks, Context, Muscle, Pressure, Side, Technique, NOTES_MAX};
use crate::domain::{FieldError, Role};

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

/// An area as stored: tolerant of fields a newer build may add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredArea {
    muscle: Muscle,
    side: Side,
    minutes: i64,
}

/// What is kept as JSON beside the date, start and duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MassageSessionDoc {
    technique: Technique,
    #[serde(default)]
    pressure: Option<Pressure>,
    #[serde(default)]
    areas: Vec<StoredArea>,
    #[serde(default)]
    pain_before: Option<i64>,
    #[serde(default)]
    pain_after: Option<i64>,
    #[serde(default)]
    notes: Option<String>,
}

/// Who recorded a massage session.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedBy {
    pub id: Uuid,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MassageSession {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub body: MassageSessionBody,
    /// The patient, or the linked therapist who recorded it (only they may change it).
    pub recorded_by: RecordedBy,
}

pub struct MassageSessions;

impl Kind for MassageSessions {
    const KIND: RecordKind = RecordKind::MassageSession;
    const COLLECTION: &'static str = "/v1/me/massage-sessions";
    const LISTING: Listing = Listing::ByDate;
    type Body = MassageSessionBody;
    type Doc = MassageSessionDoc;
    type View = MassageSession;

    fn validate(body: &MassageSessionBody, ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        c.date("date", body.date, ctx);
        c.instant("started_at", body.started_at);
        c.range("duration_minutes", Some(body.duration_minutes), 1, 300);
        for (i, area) in body.areas.iter().enumerate() {
            c.range(&format!("areas[{i}].minutes"), Some(area.minutes), 1, 300);
        }
        let total: i64 = body.areas.iter().map(|a| a.minutes.clamp(0, 300)).sum();
        if total > body.duration_minutes {
            c.fail(
                "areas",
                format!(
                    "minutes add up to {total}, more than duration_minutes ({})",
                    body.duration_minutes
                ),
            );
        }
        c.range("pain_before", body.pain_before, 0, 10);
        c.range("pain_after", body.pain_after, 0, 10);
        c.text("notes", body.notes.as_deref(), NOTES_MAX);
        c.0
    }

    fn split(body: MassageSessionBody) -> (Columns, MassageSessionDoc) {
        let columns = Columns {
            date: Some(body.date),
            started_at: body.started_at.map(to_column),
            // Validated to 1..=300.
            duration_minutes: i32::try_from(body.duration_minutes).ok(),
            ..Columns::default()
        };
        let areas = body
            .areas
            .into_iter()
            .map(|a| StoredArea {
                muscle: a.muscle,
                side: a.side,
                minutes: a.minutes,
            })
            .collect();
        let doc = MassageSessionDoc {
            technique: body.technique,
            pressure: body.pressure,
            areas,
            pain_before: body.pain_before,
            pain_after: body.pain_after,
            notes: body.notes,
        };
        (columns, doc)
    }

    fn view(record: &Record, doc: MassageSessionDoc) -> DbResult<MassageSession> {
        let c = &record.columns;
        let areas = doc
            .areas
            .into_iter()
            .map(|a| MassageArea {
                muscle: a.muscle,
                side: a.side,
                minutes: a.minutes,
            })
            .collect();
        Ok(MassageSession {
            meta: super::meta(record),
            body: MassageSessionBody {
                date: record.required(c.date, "date")?,
                started_at: c.started_at.map(|at| at.and_utc()),
                duration_minutes: record
                    .required(c.duration_minutes, "duration_minutes")?
                    .into(),
                technique: doc.technique,
                pressure: doc.pressure,
                areas,
                pain_before: doc.pain_before,
                pain_after: doc.pain_after,
                notes: doc.notes,
            },
            recorded_by: RecordedBy {
                id: record.author.id.0,
                role: record.author.role,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(minutes: i64) -> MassageArea {
        MassageArea {
            muscle: Muscle::QuadratusLumborum,
            side: Side::Left,
            minutes,
        }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn area_minutes_fit_in_the_session() {
        let ctx = Context {
            today: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or(NaiveDate::MIN),
        };
        let mut s = MassageSessionBody {
            date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or(NaiveDate::MIN),
            started_at: None,
            duration_minutes: 60,
            technique: Technique::DeepTissue,
            pressure: Some(Pressure::Firm),
            areas: vec![area(20), area(20), area(20)],
            pain_before: Some(6),
            pain_after: Some(3),
            notes: None,
        };
        assert!(MassageSessions::validate(&s, &ctx).is_empty());
        s.areas.push(area(1));
        assert_eq!(fields(MassageSessions::validate(&s, &ctx)), vec!["areas"]);
        s.areas = vec![area(0)];
        s.pain_after = Some(-1);
        assert_eq!(
            fields(MassageSessions::validate(&s, &ctx)),
            vec!["areas[0].minutes", "pain_after"]
        );
    }
}
