//! The routes of precautions, addressed by name (`/v1/me/conditions/{condition}`).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::access::PatientScope;
use crate::domain::logbook::Condition;
use crate::domain::RecordId;
use crate::error::{AppError, AppResult};
use crate::kinds::{ConditionBody, ConditionItem, Conditions, NamedCondition};
use crate::routes::http::{found, written, IfMatchHeader};
use crate::routes::input::ApiJson;
use crate::routes::{endpoint, Access, Endpoint};
use crate::service::logbook::{self as service, Target};
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(list_conditions, Access::Patient),
        endpoint!(get_condition, Access::Patient),
        endpoint!(put_condition, Access::Patient),
        endpoint!(delete_condition, Access::Patient),
        endpoint!(list_patient_conditions, Access::LinkedTherapist),
    ]
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionList {
    pub items: Vec<ConditionItem>,
}

fn parse_condition(raw: &str) -> AppResult<Condition> {
    Condition::parse(raw).ok_or_else(|| {
        AppError::invalid(
            "condition",
            "must be one of osteoporosis, pregnancy, recent_surgery, disc_herniation, spinal_fracture, \
             anticoagulant_medication, cancer, skin_condition, other",
        )
    })
}

fn by_name(condition: Condition) -> Target {
    Target::Key(condition.as_str().to_owned())
}

/// Your precautions.
#[utoipa::path(
    get, path = "/v1/me/conditions", tag = "logbook", operation_id = "list_conditions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Declared precautions", body = ConditionList),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn list_conditions(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    let mut items = service::list_whole::<Conditions>(&state.db, scope).await?;
    items.sort_by_key(|c| c.condition.as_str());
    Ok(HttpResponse::Ok().json(ConditionList { items }))
}

/// A linked patient's precautions: check them before treating.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/conditions", tag = "therapist views",
    operation_id = "list_patient_conditions",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you")),
    responses(
        (status = 200, description = "The patient's precautions", body = ConditionList),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn list_patient_conditions(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    list_conditions(state, scope).await
}

/// One precaution.
#[utoipa::path(
    get, path = "/v1/me/conditions/{condition}", tag = "logbook", operation_id = "get_condition",
    security(("bearer" = [])),
    params(("condition" = Condition, Path)),
    responses(
        (status = 200, description = "Declared", body = ConditionItem, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a patient"),
        (status = 404, description = "Not declared"),
        (status = 422, description = "Unknown condition"),
    )
)]
pub async fn get_condition(
    state: web::Data<AppState>,
    scope: PatientScope,
    condition: web::Path<String>,
) -> AppResult<HttpResponse> {
    let target = by_name(parse_condition(&condition)?);
    let stored = service::get::<Conditions>(&state.db, scope, target).await?;
    Ok(found(stored))
}

/// Declare a precaution (or change its note). A precaution is addressed by
/// its name; its id (which the sync feed carries) is assigned when it is
/// first declared and kept.
#[utoipa::path(
    put, path = "/v1/me/conditions/{condition}", tag = "logbook", operation_id = "put_condition",
    security(("bearer" = [])),
    request_body = ConditionBody,
    params(("condition" = Condition, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, description = "Replaced or unchanged", body = ConditionItem, headers(("ETag" = String))),
        (status = 201, description = "Declared", body = ConditionItem, headers(("Location" = String), ("ETag" = String))),
        (status = 403, description = "The caller is not a patient"),
        (status = 412, description = "If-Match does not match the current version"),
        (status = 422, description = "Unknown condition, or note over 2000 characters"),
    )
)]
pub async fn put_condition(
    state: web::Data<AppState>,
    scope: PatientScope,
    condition: web::Path<String>,
    if_match: IfMatchHeader,
    body: ApiJson<ConditionBody>,
) -> AppResult<HttpResponse> {
    let condition = parse_condition(&condition)?;
    let named = NamedCondition {
        condition,
        note: body.0.note,
    };
    // The id is used only if the patient never declared this condition before.
    let fresh = RecordId::new_random();
    let result = service::put::<Conditions>(
        &state.db,
        &state.clock,
        &state.zones,
        scope,
        fresh,
        if_match.0,
        named,
    )
    .await?;
    Ok(written(result))
}

/// Withdraw a precaution.
#[utoipa::path(
    delete, path = "/v1/me/conditions/{condition}", tag = "logbook", operation_id = "delete_condition",
    security(("bearer" = [])),
    params(("condition" = Condition, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 204, description = "Withdrawn (also when it already was)"),
        (status = 403, description = "The caller is not a patient"),
        (status = 404, description = "Never declared"),
        (status = 412, description = "If-Match does not match the current version"),
        (status = 422, description = "Unknown condition"),
    )
)]
pub async fn delete_condition(
    state: web::Data<AppState>,
    scope: PatientScope,
    condition: web::Path<String>,
    if_match: IfMatchHeader,
) -> AppResult<HttpResponse> {
    let target = by_name(parse_condition(&condition)?);
    service::delete::<Conditions>(&state.db, &state.clock, scope, target, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
