//! The kinds of object in a patient's logbook. Each kind is one module: its
//! request body, what it keeps in typed columns and what in JSON, its
//! validation, how it is addressed and listed, its answer, and its routes.
//! Everything generic (versions, tombstones, the sync feed, idempotency) is
//! written once in `crate::service::logbook` and knows a kind only through
//! the [`Kind`] trait; the list of kinds is the [`record_kinds!`] table below.

mod assessment;
mod condition;
mod massage_session;
mod own_stretch;
mod pain_entry;
pub mod protocol;
mod stretch_session;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use self::assessment::{Assessment, AssessmentBody, Assessments};
pub use self::condition::{ConditionBody, ConditionItem, Conditions, NamedCondition};
pub use self::massage_session::{MassageArea, MassageSession, MassageSessionBody, MassageSessions};
pub use self::own_stretch::{OwnStretchBody, OwnStretches, Stretch};
pub use self::pain_entry::{PainEntries, PainEntry, PainEntryBody};
pub use self::stretch_session::{StretchSession, StretchSessionBody, StretchSessions};
use crate::db::{DbError, DbResult};
use crate::domain::logbook::Context;
use crate::domain::{FieldError, RecordId, Role, UserId};
use crate::routes::Endpoint;

/// The values of an object that live in typed, checked columns, so that SQL
/// (lists, analytics, the therapist overview) and CHECK constraints see
/// them. They are the only copy: the JSON document holds the rest. A kind
/// leaves `None` where it has no such value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// The patient's calendar day (dated kinds).
    pub date: Option<NaiveDate>,
    /// For objects addressed by name rather than id (a precaution: its condition).
    pub natural_key: Option<String>,
    pub pain_level: Option<i32>,
    pub recorded_at: Option<NaiveDateTime>,
    pub started_at: Option<NaiveDateTime>,
    pub duration_minutes: Option<i32>,
    pub duration_seconds: Option<i32>,
    pub stretch_id: Option<Uuid>,
}

/// Who wrote an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Author {
    pub id: UserId,
    pub role: Role,
}

/// One stored object of the logbook, as storage returns it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: RecordId,
    pub patient: UserId,
    pub kind: RecordKind,
    pub author: Author,
    pub columns: Columns,
    /// The kind's JSON document (`null` for a tombstone).
    pub doc: String,
    pub version: i64,
    pub change_seq: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

impl Record {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// The JSON document, read through the kind's tolerant storage type.
    pub fn doc<D: DeserializeOwned>(&self) -> DbResult<D> {
        serde_json::from_str(&self.doc)
            .map_err(|e| DbError::bad_json(self.kind.as_str(), self.id.to_string(), &e))
    }

    /// A typed column the kind cannot do without (the CHECK constraints
    /// guarantee it on live rows).
    pub fn required<T>(&self, value: Option<T>, column: &'static str) -> DbResult<T> {
        value.ok_or_else(|| DbError::corrupt(self.kind.as_str(), self.id.to_string(), column))
    }

    pub fn meta(&self) -> RecordMeta {
        RecordMeta {
            id: self.id.0,
            version: self.version,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        }
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
    Stretch { field: &'static str, id: Uuid },
}

/// One kind of logbook object.
pub trait Kind: 'static {
    const KIND: RecordKind;
    /// Where its objects live, for `Location`.
    const COLLECTION: &'static str;
    const LISTING: Listing;
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

fn render<K: Kind>(record: &Record) -> DbResult<serde_json::Value> {
    serde_json::to_value(view::<K>(record)?)
        .map_err(|e| DbError::corrupt(record.kind.as_str(), record.id.to_string(), e.to_string()))
}

/// Declares the kinds: the enum stored in `records.kind` and the dispatch
/// from a stored kind to its module. Adding a kind is one line here.
macro_rules! record_kinds {
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

            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|k| k.as_str() == raw)
            }

            /// A stored object as its GET answers it (the sync feed's `data`).
            pub fn render(self, record: &Record) -> DbResult<serde_json::Value> {
                match self {
                    $(Self::$variant => render::<$module::$kind>(record),)*
                }
            }

            /// How this kind's objects are listed.
            pub fn listing(self) -> Listing {
                match self {
                    $(Self::$variant => <$module::$kind as Kind>::LISTING,)*
                }
            }

            /// The last segment of its collection's path, in snake case
            /// (`pain_entries`): its key in the JSON export.
            pub fn plural(self) -> String {
                let collection = match self {
                    $(Self::$variant => <$module::$kind as Kind>::COLLECTION,)*
                };
                collection.rsplit('/').next().unwrap_or(collection).replace('-', "_")
            }

            /// The routes of this kind.
            pub fn endpoints(self) -> Vec<Endpoint> {
                match self {
                    $(Self::$variant => $module::endpoints(),)*
                }
            }
        }
    };
}

record_kinds! {
    PainEntry = "pain_entry" => pain_entry::PainEntries,
    StretchSession = "stretch_session" => stretch_session::StretchSessions,
    MassageSession = "massage_session" => massage_session::MassageSessions,
    Assessment = "assessment" => assessment::Assessments,
    OwnStretch = "stretch" => own_stretch::OwnStretches,
    Condition = "condition" => condition::Conditions,
}

/// A timestamp as a typed column keeps it: UTC, whole microseconds (what
/// PostgreSQL stores), so both backends answer the same.
pub fn to_column(at: DateTime<Utc>) -> NaiveDateTime {
    chrono::SubsecRound::trunc_subsecs(at, 6).naive_utc()
}

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
        assert_eq!(RecordKind::PainEntry.plural(), "pain_entries");
        assert_eq!(RecordKind::OwnStretch.plural(), "stretches");
        assert_eq!(RecordKind::Condition.plural(), "conditions");
    }
}
