//! Stretch sessions: one stretch done on one day. The stretch and the
//! duration are typed columns.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Columns, Kind, Listing, Record, RecordKind, RecordMeta, Reference};
use crate::db::DbResult;
use crate::domain::logbook::{Checks, Context, Side, NOTES_MAX};
use crate::domain::FieldError;

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

/// What is kept as JSON beside `stretch_id` and `duration_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StretchSessionDoc {
    #[serde(default)]
    sets: Option<i64>,
    #[serde(default)]
    reps: Option<i64>,
    #[serde(default)]
    side: Option<Side>,
    #[serde(default)]
    notes: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StretchSession {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub body: StretchSessionBody,
}

pub struct StretchSessions;

impl Kind for StretchSessions {
    const KIND: RecordKind = RecordKind::StretchSession;
    const COLLECTION: &'static str = "/v1/me/stretch-sessions";
    const LISTING: Listing = Listing::ByDate;
    type Body = StretchSessionBody;
    type Doc = StretchSessionDoc;
    type View = StretchSession;

    fn validate(body: &StretchSessionBody, ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        c.date("date", body.date, ctx);
        c.range("duration_seconds", Some(body.duration_seconds), 1, 7200);
        c.range("sets", body.sets, 1, 100);
        c.range("reps", body.reps, 1, 1000);
        c.text("notes", body.notes.as_deref(), NOTES_MAX);
        c.0
    }

    fn references(body: &StretchSessionBody) -> Vec<Reference> {
        vec![Reference::Stretch {
            field: "stretch_id".into(),
            id: body.stretch_id,
        }]
    }

    fn split(body: StretchSessionBody) -> (Columns, StretchSessionDoc) {
        let columns = Columns {
            date: Some(body.date),
            stretch_id: Some(body.stretch_id),
            // Validated to 1..=7200.
            duration_seconds: i32::try_from(body.duration_seconds).ok(),
            ..Columns::default()
        };
        let doc = StretchSessionDoc {
            sets: body.sets,
            reps: body.reps,
            side: body.side,
            notes: body.notes,
        };
        (columns, doc)
    }

    fn view(record: &Record, doc: StretchSessionDoc) -> DbResult<StretchSession> {
        let c = &record.columns;
        Ok(StretchSession {
            meta: super::meta(record),
            body: StretchSessionBody {
                date: record.required(c.date, "date")?,
                stretch_id: record.required(c.stretch_id, "stretch_id")?,
                duration_seconds: record
                    .required(c.duration_seconds, "duration_seconds")?
                    .into(),
                sets: doc.sets,
                reps: doc.reps,
                side: doc.side,
                notes: doc.notes,
            },
        })
    }
}
