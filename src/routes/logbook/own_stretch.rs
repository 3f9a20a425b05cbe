//! The routes of a patient's own stretches (item routes only) and of the
//! stretch catalog, which lists them with the built-in ones.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::access::{AuthUser, PatientScope};
use crate::error::AppResult;
use crate::kinds::{OwnStretchBody, OwnStretches, Stretch};
use crate::routes::Access;
use crate::service::logbook as service;
use crate::state::AppState;

super::logbook_routes! {
    kind: OwnStretches, body: OwnStretchBody, view: Stretch,
    one: own_stretch,
    collection: "/v1/me/stretches", item: "/v1/me/stretches/{id}",
    a: "one of your own stretches",
    also: [
        list_stretches => Access::SignedIn,
        list_patient_stretches => Access::LinkedTherapist
    ],
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StretchList {
    /// Built-in stretches by name, then the caller's own.
    pub items: Vec<Stretch>,
}

/// The stretch catalog: built-in stretches, plus the caller's own when the
/// caller is a patient.
#[utoipa::path(
    get, path = "/v1/stretches", tag = "logbook", operation_id = "list_stretches",
    security(("bearer" = [])),
    responses((status = 200, description = "The catalog", body = StretchList))
)]
pub async fn list_stretches(state: web::Data<AppState>, user: AuthUser) -> AppResult<HttpResponse> {
    let items = service::catalog(&state.db, user).await?;
    Ok(HttpResponse::Ok().json(StretchList { items }))
}

/// A linked patient's catalog, as the patient sees it: the built-in
/// stretches and the patient's own (what their home programme may hold).
#[utoipa::path(
    get, path = "/v1/patients/{pid}/stretches", tag = "therapist views",
    operation_id = "list_patient_stretches",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you")),
    responses(
        (status = 200, description = "The patient's catalog", body = StretchList),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn list_patient_stretches(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    let items = service::patient_catalog(&state.db, scope).await?;
    Ok(HttpResponse::Ok().json(StretchList { items }))
}
