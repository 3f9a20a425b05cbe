//! The routes of pain entries: the logbook's generic ones.

use crate::kinds::{PainEntries, PainEntry, PainEntryBody};

super::logbook_routes! {
    kind: PainEntries, body: PainEntryBody, view: PainEntry,
    one: pain_entry, many: pain_entries, page: PainEntryPage,
    collection: "/v1/me/pain-entries", item: "/v1/me/pain-entries/{id}",
    a: "a pain entry", plural: "pain entries",
    patient_collection: "/v1/patients/{pid}/pain-entries",
    patient_item: "/v1/patients/{pid}/pain-entries/{id}",
}
