//! Precautions the patient declares (osteoporosis first among them). A
//! precaution is addressed by its name, its natural key; the id the sync
//! feed carries is assigned when it is first declared and kept.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Columns, Kind, Listing, Record, RecordKind, RecordMeta};
use crate::db::DbResult;
use crate::domain::logbook::{Checks, Condition, Context, NOTES_MAX};
use crate::domain::FieldError;

/// A precaution as the patient states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionBody {
    /// Optional detail for the therapist, up to 2000 characters.
    pub note: Option<String>,
}

/// What a write of a precaution carries: its name (from the path) and note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedCondition {
    pub condition: Condition,
    pub note: Option<String>,
}

/// What is kept as JSON beside the name (the natural key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionDoc {
    #[serde(default)]
    note: Option<String>,
}

/// A precaution the patient declared.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionItem {
    #[serde(flatten)]
    pub meta: RecordMeta,
    pub condition: Condition,
    pub note: Option<String>,
}

pub struct Conditions;

impl Kind for Conditions {
    const KIND: RecordKind = RecordKind::Condition;
    const COLLECTION: &'static str = "/v1/me/conditions";
    const LISTING: Listing = Listing::Whole;
    type Body = NamedCondition;
    type Doc = ConditionDoc;
    type View = ConditionItem;

    fn validate(body: &NamedCondition, _ctx: &Context) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.text("note", body.note.as_deref(), NOTES_MAX);
        checks.0
    }

    fn split(body: NamedCondition) -> (Columns, ConditionDoc) {
        let columns = Columns {
            natural_key: Some(body.condition.as_str().to_owned()),
            ..Columns::default()
        };
        (columns, ConditionDoc { note: body.note })
    }

    fn view(record: &Record, doc: ConditionDoc) -> DbResult<ConditionItem> {
        let name = record.required(record.columns.natural_key.as_deref(), "natural_key")?;
        Ok(ConditionItem {
            meta: super::meta(record),
            condition: record.required(Condition::parse(name), "natural_key")?,
            note: doc.note,
        })
    }

    /// A precaution's address is its name, not its id.
    fn location(record: &Record) -> String {
        let name = record.columns.natural_key.as_deref().unwrap_or_default();
        format!("{}/{name}", Self::COLLECTION)
    }
}
