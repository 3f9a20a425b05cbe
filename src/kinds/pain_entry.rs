//! Pain entries: how much the lower back hurts (0..10), where, and the two
//! PEG interference scores. The level and the time are typed columns.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{to_column, Columns, Kind, Listing, Record, RecordKind, RecordMeta};
use crate::db::DbResult;
use crate::domain::logbook::{Checks, Context, Region, NOTES_MAX};
use crate::domain::red_flag::{self, Advice, RedFlag};
use crate::domain::FieldError;

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
    /// Warning signs the patient reports with this entry, each once (the
    /// codes of `GET /v1/red-flags`); default none, and left out of the
    /// answer when there are none. An unknown code is a 422 naming it.
    // Left out when empty: an entry without flags serialises as it did
    // before they existed, so an `Idempotency-Key` saved then still
    // matches its retry (the key's fingerprint is the body's JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<RedFlag>)]
    pub red_flags: Vec<String>,
}

/// The red flags of a body that the checks let through.
fn flags_of(body: &PainEntryBody) -> Vec<RedFlag> {
    body.red_flags
        .iter()
        .filter_map(|code| RedFlag::parse(code))
        .collect()
}

/// What is kept as JSON beside `pain_level` and `recorded_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PainEntryDoc {
    #[serde(default)]
    regions: Vec<Region>,
    #[serde(default)]
    enjoyment_interference: Option<i64>,
    #[serde(default)]
    activity_interference: Option<i64>,
    #[serde(default)]
    notes: Option<String>,
}

impl PainEntryDoc {
    /// The patient's note, when there is one.
    pub fn notes(&self) -> Option<&str> {
        self.notes.as_deref()
    }
}

/// A pain entry as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct PainEntry {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub body: PainEntryBody,
    /// PEG-3 (mean of pain and both interference scores) when both are given.
    pub peg_score: Option<f64>,
    /// With red flags only: `emergency` when any is a sign of cauda equina
    /// syndrome (tell the patient to seek emergency care now), else
    /// `see_doctor`. Absent without red flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
}

pub struct PainEntries;

impl Kind for PainEntries {
    const KIND: RecordKind = RecordKind::PainEntry;
    const COLLECTION: &'static str = "/v1/me/pain-entries";
    const LISTING: Listing = Listing::ByDate;
    type Body = PainEntryBody;
    type Doc = PainEntryDoc;
    type View = PainEntry;

    fn validate(body: &PainEntryBody, ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        c.date("date", body.date, ctx);
        c.instant("recorded_at", body.recorded_at);
        c.range("pain_level", Some(body.pain_level), 0, 10);
        c.no_duplicates("regions", &body.regions);
        c.range("enjoyment_interference", body.enjoyment_interference, 0, 10);
        c.range("activity_interference", body.activity_interference, 0, 10);
        c.text("notes", body.notes.as_deref(), NOTES_MAX);
        for (i, code) in body.red_flags.iter().enumerate() {
            if RedFlag::parse(code).is_none() {
                c.fail(
                    format!("red_flags[{i}]"),
                    format!("\"{code}\" is not a red flag code (GET /v1/red-flags lists them)"),
                );
            }
        }
        c.no_duplicates("red_flags", &body.red_flags);
        c.0
    }

    fn split(body: PainEntryBody) -> (Columns, PainEntryDoc) {
        let columns = Columns {
            date: Some(body.date),
            // Validated to 0..=10.
            pain_level: i32::try_from(body.pain_level).ok(),
            recorded_at: body.recorded_at.map(to_column),
            red_flags: red_flag::to_mask(&flags_of(&body)),
            ..Columns::default()
        };
        let doc = PainEntryDoc {
            regions: body.regions,
            enjoyment_interference: body.enjoyment_interference,
            activity_interference: body.activity_interference,
            notes: body.notes,
        };
        (columns, doc)
    }

    fn view(record: &Record, doc: PainEntryDoc) -> DbResult<PainEntry> {
        let c = &record.columns;
        let flags = red_flag::from_mask(c.red_flags);
        let body = PainEntryBody {
            date: record.required(c.date, "date")?,
            pain_level: record.required(c.pain_level, "pain_level")?.into(),
            recorded_at: c.recorded_at.map(|at| at.and_utc()),
            regions: doc.regions,
            enjoyment_interference: doc.enjoyment_interference,
            activity_interference: doc.activity_interference,
            notes: doc.notes,
            red_flags: flags.iter().map(|f| f.as_str().to_owned()).collect(),
        };
        Ok(PainEntry {
            meta: super::meta(record),
            advice: red_flag::advice(&flags),
            peg_score: crate::analytics::peg3(
                body.pain_level,
                body.enjoyment_interference,
                body.activity_interference,
            ),
            body,
        })
    }
}
