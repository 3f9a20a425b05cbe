//! A patient's own stretches, beside the built-in catalog. They have item
//! routes only: `GET /v1/stretches` lists them with the built-in ones.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Columns, Kind, Listing, Record, RecordKind};
use crate::db::DbResult;
use crate::domain::logbook::{Checks, Context, Muscle, NOTES_MAX};
use crate::domain::FieldError;

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

/// What is kept as JSON: all of it (an own stretch has no typed columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnStretchDoc {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    targets: Vec<Muscle>,
}

/// A stretch of the catalog: built in, or one of the patient's own.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stretch {
    pub id: Uuid,
    /// Stable identifier (`custom-<id>` for a patient's own).
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub targets: Vec<Muscle>,
    /// True for a patient's own stretch.
    pub custom: bool,
    /// Own stretches only: version for `If-Match`.
    pub version: Option<i64>,
}

pub struct OwnStretches;

impl Kind for OwnStretches {
    const KIND: RecordKind = RecordKind::OwnStretch;
    const COLLECTION: &'static str = "/v1/me/stretches";
    const LISTING: Listing = Listing::Whole;
    type Body = OwnStretchBody;
    type Doc = OwnStretchDoc;
    type View = Stretch;

    fn validate(body: &OwnStretchBody, _ctx: &Context) -> Vec<FieldError> {
        let mut c = Checks::default();
        // Therapists see these names: the rule of display names.
        if let Err(message) = crate::domain::DisplayName::parse(&body.name) {
            c.fail("name", message);
        }
        c.text("description", body.description.as_deref(), NOTES_MAX);
        c.no_duplicates("targets", &body.targets);
        c.0
    }

    fn split(body: OwnStretchBody) -> (Columns, OwnStretchDoc) {
        let doc = OwnStretchDoc {
            name: body.name,
            description: body.description,
            targets: body.targets,
        };
        (Columns::default(), doc)
    }

    fn view(record: &Record, doc: OwnStretchDoc) -> DbResult<Stretch> {
        Ok(Stretch {
            id: record.id.0,
            key: format!("custom-{}", record.id),
            name: doc.name,
            description: doc.description,
            targets: doc.targets,
            custom: true,
            version: Some(record.version),
        })
    }
}
