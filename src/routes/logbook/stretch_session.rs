//! The routes of stretch sessions: the logbook's generic ones.

use crate::kinds::{StretchSession, StretchSessionBody, StretchSessions};

super::logbook_routes! {
    kind: StretchSessions, body: StretchSessionBody, view: StretchSession,
    one: stretch_session, many: stretch_sessions, page: StretchSessionPage,
    collection: "/v1/me/stretch-sessions", item: "/v1/me/stretch-sessions/{id}",
    a: "a stretch session", plural: "stretch sessions",
    patient_collection: "/v1/patients/{pid}/stretch-sessions",
    patient_item: "/v1/patients/{pid}/stretch-sessions/{id}",
}
