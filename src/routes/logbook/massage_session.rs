//! The routes of massage sessions: the logbook's generic ones, and a
//! linked therapist's writes of the sessions they gave.

use actix_web::{web, HttpResponse};

use super::ItemPath;
use crate::error::AppResult;
use crate::kinds::{MassageSession, MassageSessionBody, MassageSessions};
use crate::routes::http::{IdempotencyKey, IfMatchHeader};
use crate::routes::input::ApiJson;
use crate::routes::scope::Scoped;
use crate::state::AppState;

super::logbook_routes! {
    kind: MassageSessions, body: MassageSessionBody, view: MassageSession,
    one: massage_session, many: massage_sessions, page: MassageSessionPage,
    collection: "/v1/me/massage-sessions", item: "/v1/me/massage-sessions/{id}",
    a: "a massage session", plural: "massage sessions",
    patient_collection: "/v1/patients/{pid}/massage-sessions",
    patient_item: "/v1/patients/{pid}/massage-sessions/{id}",
    also: [
        create_for_patient => Access::LinkedTherapist,
        put_for_patient => Access::LinkedTherapist,
        delete_for_patient => Access::LinkedTherapist,
    ],
}

// A linked therapist records sessions in the patient's logbook with the same
// protocol as the patient's own writes; the session is the patient's data
// (in their sync feed, erased with them) and only its author may change it.

/// Record a session you gave a linked patient, under a server-chosen id.
#[utoipa::path(
    post, path = "/v1/patients/{pid}/massage-sessions", tag = "therapist views",
    operation_id = "create_patient_massage_session",
    security(("bearer" = [])), request_body = MassageSessionBody,
    params(("pid" = Uuid, Path, description = "A patient linked to you"),
           ("Idempotency-Key" = Option<String>, Header, description = "Same key within 24 h: the first answer again, nothing stored twice")),
    responses(
        (status = 201, description = "Recorded; `recorded_by` names you", body = MassageSession,
         headers(("Location" = String), ("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
        (status = 409, description = "The Idempotency-Key was used for a different request"),
        (status = 422, description = "A value is out of range"),
    )
)]
pub async fn create_for_patient(
    state: web::Data<AppState>,
    scoped: Scoped<(IdempotencyKey, ApiJson<MassageSessionBody>)>,
) -> AppResult<HttpResponse> {
    super::create::<MassageSessions>(state, scoped).await
}

/// Record (or correct) a session you gave a linked patient, under a client-chosen id.
#[utoipa::path(
    put, path = "/v1/patients/{pid}/massage-sessions/{id}", tag = "therapist views",
    operation_id = "put_patient_massage_session",
    security(("bearer" = [])), request_body = MassageSessionBody,
    params(("pid" = Uuid, Path, description = "A patient linked to you"),
           ("id" = Uuid, Path, description = "Chosen by the client"),
           ("If-Match" = Option<String>, Header, description = "ETag of the version being replaced")),
    responses(
        (status = 200, description = "Replaced, or the same content again (version unchanged)", body = MassageSession, headers(("ETag" = String))),
        (status = 201, description = "Recorded (or restored after a delete)", body = MassageSession,
         headers(("Location" = String), ("ETag" = String))),
        (status = 403, description = "The caller is not a therapist, or the session was recorded by someone else"),
        (status = 404, description = "Not a patient linked to you now, or the id is another patient's or another kind's"),
        (status = 412, description = "If-Match does not match the current version"),
        (status = 422, description = "A value is out of range"),
    )
)]
pub async fn put_for_patient(
    state: web::Data<AppState>,
    scoped: Scoped<(
        web::Path<ItemPath>,
        IfMatchHeader,
        ApiJson<MassageSessionBody>,
    )>,
) -> AppResult<HttpResponse> {
    super::put::<MassageSessions>(state, scoped).await
}

/// Delete a session you recorded for a linked patient.
#[utoipa::path(
    delete, path = "/v1/patients/{pid}/massage-sessions/{id}", tag = "therapist views",
    operation_id = "delete_patient_massage_session",
    security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "A patient linked to you"), ("id" = Uuid, Path),
           ("If-Match" = Option<String>, Header, description = "ETag of the version being deleted")),
    responses(
        (status = 204, description = "Deleted (also when it already was)"),
        (status = 403, description = "The caller is not a therapist, or the session was recorded by someone else"),
        (status = 404, description = "Not a patient linked to you now, or no such session of theirs"),
        (status = 412, description = "If-Match does not match the current version"),
    )
)]
pub async fn delete_for_patient(
    state: web::Data<AppState>,
    scoped: Scoped<(web::Path<ItemPath>, IfMatchHeader)>,
) -> AppResult<HttpResponse> {
    super::delete::<MassageSessions>(state, scoped).await
}
