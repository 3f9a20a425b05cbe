//! The home programme: the stretching plan a patient's care team
//! prescribes. One per patient, addressed by name (`programme`), shared by
//! the care team: any linked therapist may replace it, the patient reads
//! it. Every version is also kept in the programme's history
//! (`crate::service::programme`), which adherence is measured against.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Columns, Kind, Listing, Record, RecordKind, RecordMeta, Reference};
use crate::analytics::adherence::{PlannedItem, ProgrammeVersion};
use crate::db::DbResult;
use crate::domain::logbook::{Checks, Context, Side, NOTES_MAX};
use crate::domain::FieldError;

/// The name the programme is stored under (one per patient).
pub const NAME: &str = "programme";
pub const MAX_ITEMS: usize = 20;
pub const ITEM_NOTE_MAX: usize = 500;

/// A home programme as a therapist prescribes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeBody {
    /// The first day of the plan (may be in the future).
    pub starts_on: NaiveDate,
    /// The last day of the plan, if it has one; not before `starts_on`.
    pub ends_on: Option<NaiveDate>,
    /// For the patient, up to 2000 characters.
    pub note: Option<String>,
    /// 1..20 stretches, each at most once.
    #[schema(min_items = 1, max_items = 20)]
    pub items: Vec<ProgrammeItem>,
}

/// One stretch of the plan: how often and how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeItem {
    /// A stretch of the catalog or one of the patient's own.
    pub stretch_id: Uuid,
    /// On how many days of a week, 1..7.
    #[schema(minimum = 1, maximum = 7)]
    pub days_per_week: i64,
    /// For how long on such a day, in seconds (10..3600); the day's
    /// sessions of this stretch add up.
    #[schema(minimum = 10, maximum = 3600)]
    pub seconds_per_day: i64,
    #[schema(minimum = 1, maximum = 20)]
    pub sets: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub reps: Option<i64>,
    pub side: Option<Side>,
    /// Up to 500 characters.
    pub note: Option<String>,
}

/// Who saved a version of the programme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Prescriber {
    pub id: Uuid,
    /// Their name when they saved it.
    pub display_name: String,
}

/// What a write of the programme stores: the plan and who saved it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedProgramme {
    pub programme: ProgrammeBody,
    pub by: Prescriber,
}

/// What is kept as JSON, in the record and in each version of the
/// history. Tolerant of fields it does not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgrammeDoc {
    pub starts_on: NaiveDate,
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    #[serde(default)]
    pub note: Option<String>,
    pub items: Vec<ItemDoc>,
    pub updated_by: Prescriber,
}

/// An item as kept (see [`ProgrammeDoc`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDoc {
    pub stretch_id: Uuid,
    pub days_per_week: i64,
    pub seconds_per_day: i64,
    #[serde(default)]
    pub sets: Option<i64>,
    #[serde(default)]
    pub reps: Option<i64>,
    #[serde(default)]
    pub side: Option<Side>,
    #[serde(default)]
    pub note: Option<String>,
}

impl From<ProgrammeItem> for ItemDoc {
    fn from(i: ProgrammeItem) -> Self {
        Self {
            stretch_id: i.stretch_id,
            days_per_week: i.days_per_week,
            seconds_per_day: i.seconds_per_day,
            sets: i.sets,
            reps: i.reps,
            side: i.side,
            note: i.note,
        }
    }
}

impl From<ItemDoc> for ProgrammeItem {
    fn from(i: ItemDoc) -> Self {
        Self {
            stretch_id: i.stretch_id,
            days_per_week: i.days_per_week,
            seconds_per_day: i.seconds_per_day,
            sets: i.sets,
            reps: i.reps,
            side: i.side,
            note: i.note,
        }
    }
}

impl From<SignedProgramme> for ProgrammeDoc {
    fn from(s: SignedProgramme) -> Self {
        let p = s.programme;
        Self {
            starts_on: p.starts_on,
            ends_on: p.ends_on,
            note: p.note,
            items: p.items.into_iter().map(ItemDoc::from).collect(),
            updated_by: s.by,
        }
    }
}

impl ProgrammeDoc {
    /// The plan without who saved it.
    pub fn body(&self) -> ProgrammeBody {
        ProgrammeBody {
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            note: self.note.clone(),
            items: self
                .items
                .iter()
                .cloned()
                .map(ProgrammeItem::from)
                .collect(),
        }
    }

    /// This version as adherence reads it, in force from `in_force_from`.
    pub fn plan(&self, in_force_from: NaiveDate) -> ProgrammeVersion {
        ProgrammeVersion {
            in_force_from,
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            items: self
                .items
                .iter()
                .map(|i| PlannedItem {
                    stretch_id: i.stretch_id.to_string(),
                    days_per_week: u32::try_from(i.days_per_week.clamp(0, 7)).unwrap_or(0),
                    seconds_per_day: i.seconds_per_day,
                })
                .collect(),
        }
    }
}

/// The current programme.
#[derive(Debug, Serialize, ToSchema)]
pub struct Programme {
    /// `updated_at` is when this version was saved.
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub body: ProgrammeBody,
    /// The therapist who saved this version.
    pub updated_by: Prescriber,
}

pub struct Programmes;

impl Kind for Programmes {
    const KIND: RecordKind = RecordKind::Programme;
    const COLLECTION: &'static str = "/v1/me/programme";
    const LISTING: Listing = Listing::Whole;
    const SHARED: bool = true;
    type Body = SignedProgramme;
    type Doc = ProgrammeDoc;
    type View = Programme;

    fn validate(signed: &SignedProgramme, _ctx: &Context) -> Vec<FieldError> {
        let body = &signed.programme;
        let mut c = Checks::default();
        c.calendar_date("starts_on", body.starts_on);
        if let Some(ends_on) = body.ends_on {
            c.calendar_date("ends_on", ends_on);
            if ends_on < body.starts_on {
                c.fail("ends_on", "must not be before starts_on");
            }
        }
        c.text("note", body.note.as_deref(), NOTES_MAX);
        if body.items.is_empty() {
            c.fail("items", "must hold at least one stretch");
        } else if body.items.len() > MAX_ITEMS {
            c.fail("items", format!("must hold at most {MAX_ITEMS} stretches"));
        }
        for (i, item) in body.items.iter().enumerate() {
            let field = |name: &str| format!("items[{i}].{name}");
            if body.items[..i]
                .iter()
                .any(|earlier| earlier.stretch_id == item.stretch_id)
            {
                c.fail(field("stretch_id"), "is already an item of this programme");
            }
            c.range(&field("days_per_week"), Some(item.days_per_week), 1, 7);
            c.range(
                &field("seconds_per_day"),
                Some(item.seconds_per_day),
                10,
                3600,
            );
            c.range(&field("sets"), item.sets, 1, 20);
            c.range(&field("reps"), item.reps, 1, 100);
            c.text(&field("note"), item.note.as_deref(), ITEM_NOTE_MAX);
        }
        c.0
    }

    fn references(signed: &SignedProgramme) -> Vec<Reference> {
        signed
            .programme
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| Reference::Stretch {
                field: format!("items[{i}].stretch_id"),
                id: item.stretch_id,
            })
            .collect()
    }

    fn split(signed: SignedProgramme) -> (Columns, ProgrammeDoc) {
        let columns = Columns {
            natural_key: Some(NAME.to_owned()),
            ..Columns::default()
        };
        (columns, signed.into())
    }

    fn view(record: &Record, doc: ProgrammeDoc) -> DbResult<Programme> {
        Ok(Programme {
            meta: super::meta(record),
            body: doc.body(),
            updated_by: doc.updated_by,
        })
    }

    /// The programme's address is the collection itself: there is one.
    fn location(_record: &Record) -> String {
        Self::COLLECTION.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: NaiveDate = match NaiveDate::from_ymd_opt(2026, 12, 7) {
        Some(day) => day,
        None => NaiveDate::MIN,
    };

    fn item(n: u128) -> ProgrammeItem {
        ProgrammeItem {
            stretch_id: Uuid::from_u128(n),
            days_per_week: 5,
            seconds_per_day: 120,
            sets: None,
            reps: None,
            side: None,
            note: None,
        }
    }

    fn signed(items: Vec<ProgrammeItem>) -> SignedProgramme {
        SignedProgramme {
            programme: ProgrammeBody {
                starts_on: TODAY,
                ends_on: None,
                note: None,
                items,
            },
            by: Prescriber {
                id: Uuid::from_u128(9),
                display_name: "Dana".into(),
            },
        }
    }

    fn fields(body: &SignedProgramme) -> Vec<String> {
        Programmes::validate(body, &Context { today: TODAY })
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn items_are_checked_one_by_one_and_named() {
        assert!(fields(&signed(vec![item(1), item(2)])).is_empty());
        assert_eq!(fields(&signed(vec![])), ["items"]);
        assert_eq!(fields(&signed((1..=21).map(item).collect())), ["items"]);
        assert!(fields(&signed((1..=20).map(item).collect())).is_empty());
        let mut bad = vec![item(1), item(2), item(1)];
        bad[1].days_per_week = 0;
        bad[2].days_per_week = 8;
        bad[0].seconds_per_day = 9;
        bad[1].sets = Some(21);
        bad[0].reps = Some(101);
        bad[1].note = Some("x".repeat(501));
        assert_eq!(
            fields(&signed(bad)),
            [
                "items[0].seconds_per_day",
                "items[0].reps",
                "items[1].days_per_week",
                "items[1].sets",
                "items[1].note",
                "items[2].stretch_id",
                "items[2].days_per_week",
            ]
        );
    }

    #[test]
    fn the_plan_may_start_later_but_not_end_before_it_starts() {
        let mut later = signed(vec![item(1)]);
        later.programme.starts_on = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap_or(TODAY);
        assert!(fields(&later).is_empty());
        later.programme.ends_on = Some(TODAY);
        assert_eq!(fields(&later), ["ends_on"]);
        let mut ancient = signed(vec![item(1)]);
        ancient.programme.starts_on = NaiveDate::from_ymd_opt(1899, 12, 31).unwrap_or(TODAY);
        assert_eq!(fields(&ancient), ["starts_on"]);
    }

    #[test]
    fn the_stored_form_reads_back_as_sent() {
        let sent = signed(vec![item(1), item(2)]);
        let doc = ProgrammeDoc::from(sent.clone());
        assert_eq!(doc.body(), sent.programme);
        let json = serde_json::to_string(&doc).unwrap_or_default();
        // An older build's row without the optional fields still reads.
        let lean = r#"{"starts_on":"2026-12-07","items":[{"stretch_id":"00000000-0000-0000-0000-000000000001","days_per_week":5,"seconds_per_day":120}],"updated_by":{"id":"00000000-0000-0000-0000-000000000009","display_name":"Dana"},"later":1}"#;
        let read: ProgrammeDoc = serde_json::from_str(lean).unwrap();
        assert_eq!(read.items.len(), 1);
        assert!(json.contains("\"updated_by\""));
        let plan = doc.plan(TODAY);
        assert_eq!(plan.items[1].days_per_week, 5);
        assert_eq!(plan.in_force_from, TODAY);
    }
}
