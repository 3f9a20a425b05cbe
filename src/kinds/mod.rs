//! The kinds of object in a patient's logbook. Each kind is one module: its
//! request body, what it keeps in typed columns and what in JSON, its
//! validation, how it is addressed and listed, and its answer. Everything
//! generic (versions, tombstones, the sync feed, idempotency) is written
//! once in `crate::service::logbook` and knows a kind only through the
//! [`Kind`] trait; the list of kinds is `crate::logbook_kinds!`, and each
//! kind's routes are in `crate::routes::logbook`.

mod assessment;
mod condition;
mod massage_session;
mod own_stretch;
mod pain_entry;
pub mod programme;
pub mod protocol;
mod stretch_session;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub use self::assessment::{Assessment, AssessmentBody, AssessmentDoc, Assessments};
pub use self::condition::{ConditionBody, ConditionItem, Conditions, NamedCondition};
pub use self::massage_session::{MassageArea, MassageSession, MassageSessionBody, MassageSessions};
pub use self::own_stretch::{OwnStretchBody, OwnStretches, Stretch};
pub use self::pain_entry::{PainEntries, PainEntry, PainEntryBody, PainEntryDoc};
pub use self::programme::{Programme, ProgrammeBody, ProgrammeItem, Programmes};
pub use self::stretch_session::{StretchSession, StretchSessionBody, StretchSessions};
pub use crate::db::records::{to_column, Author, Columns, Record};
use crate::db::{DbError, DbResult};
use crate::domain::logbook::Context;
pub use crate::domain::logbook::RecordKind;
use crate::domain::FieldError;

/// Fields every stored object carries.
pub fn meta(record: &Record) -> RecordMeta {
    RecordMeta {
        id: record.id.0,
        version: record.version,
        created_at: record.created_at.and_utc(),
        updated_at: record.updated_at.and_utc(),
    }
}

/// Fields every stored object carries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordMeta {
    pub id: Uuid,
    /// +1 on every change; also the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a kind's objects are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// By date, newest first, with `from`/`to` and a cursor.
    ByDate,
    /// All at once (few objects, no date): by name or id.
    Whole,
}

/// Another object a body refers to, checked against the patient's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A built-in stretch or one of the patient's own.
    Stretch { field: String, id: Uuid },
}

/// One kind of logbook object.
pub trait Kind: 'static {
    const KIND: RecordKind;
    /// Where its objects live, for `Location`.
    const COLLECTION: &'static str;
    const LISTING: Listing;
    /// Shared by the care team: anyone the route lets write may replace or
    /// delete it, not only its author (the home programme).
    const SHARED: bool = false;
    /// What a client sends (strict: an unknown field is a 400).
    type Body: DeserializeOwned + Serialize + Clone + Send + 'static;
    /// The JSON kept beside the typed columns. Tolerant: it accepts unknown
    /// fields and defaults missing optional ones, so rows written by an
    /// older or a newer build stay readable.
    type Doc: Serialize + DeserializeOwned + PartialEq + Send + 'static;
    /// What GET, the lists and the sync feed answer.
    type View: Serialize + Send + 'static;

    /// Field errors against the rules, empty when the body may be stored.
    fn validate(body: &Self::Body, ctx: &Context) -> Vec<FieldError>;
    /// Objects the body refers to.
    fn references(_body: &Self::Body) -> Vec<Reference> {
        Vec::new()
    }
    /// What goes into the typed columns and what into JSON.
    fn split(body: Self::Body) -> (Columns, Self::Doc);
    /// The answer for a stored object.
    fn view(record: &Record, doc: Self::Doc) -> DbResult<Self::View>;
    /// Where the object lives, for `Location`.
    fn location(record: &Record) -> String {
        format!("{}/{}", Self::COLLECTION, record.id)
    }
}

/// The answer for a stored object of kind `K`.
pub fn view<K: Kind>(record: &Record) -> DbResult<K::View> {
    K::view(record, record.doc()?)
}

fn render_as<K: Kind>(record: &Record) -> DbResult<serde_json::Value> {
    serde_json::to_value(view::<K>(record)?)
        .map_err(|e| DbError::corrupt(record.kind.as_str(), record.id.to_string(), e.to_string()))
}

/// The dispatch from a stored kind to its module, from the one list of
/// kinds (`crate::logbook_kinds!`).
macro_rules! kind_dispatch {
    ($($variant:ident = $slug:tt => $module:ident :: $kind:ident,)*) => {
        /// A stored object as its GET answers it (the sync feed's `data`).
        pub fn render(record: &Record) -> DbResult<serde_json::Value> {
            match record.kind {
                $(RecordKind::$variant => render_as::<$module::$kind>(record),)*
            }
        }

        /// Each kind with the name of its answer's schema in `openapi.yaml`
        /// (the sync feed's `data` of that kind).
        pub fn view_schemas() -> Vec<(RecordKind, String)> {
            vec![$((
                RecordKind::$variant,
                <<$module::$kind as Kind>::View as utoipa::ToSchema>::name().into_owned(),
            ),)*]
        }

        /// How objects of `kind` are listed.
        pub fn listing(kind: RecordKind) -> Listing {
            match kind {
                $(RecordKind::$variant => <$module::$kind as Kind>::LISTING,)*
            }
        }

        /// The last segment of the collection's path of `kind`, in snake
        /// case (`pain_entries`): its key in the JSON export.
        pub fn plural(kind: RecordKind) -> String {
            let collection = match kind {
                $(RecordKind::$variant => <$module::$kind as Kind>::COLLECTION,)*
            };
            collection.rsplit('/').next().unwrap_or(collection).replace('-', "_")
        }
    };
}

crate::logbook_kinds!(kind_dispatch);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::parse(kind.as_str()), Some(*kind));
            let json = serde_json::to_value(kind).ok();
            assert_eq!(json.as_ref().and_then(|v| v.as_str()), Some(kind.as_str()));
        }
        assert_eq!(RecordKind::parse("stretch"), Some(RecordKind::OwnStretch));
        assert_eq!(RecordKind::parse("unknown"), None);
        assert_eq!(plural(RecordKind::PainEntry), "pain_entries");
        assert_eq!(plural(RecordKind::OwnStretch), "stretches");
        assert_eq!(plural(RecordKind::Condition), "conditions");
        assert_eq!(plural(RecordKind::Programme), "programme");
    }
}
