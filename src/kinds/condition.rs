//! Precautions the patient declares (osteoporosis first among them). A
//! precaution is addressed by its name, its natural key; the id the sync
//! feed carries is assigned when it is first declared and kept.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::protocol::IfMatch;
use super::{Columns, Kind, Listing, Record, RecordKind, RecordMeta};
use crate::auth::PatientScope;
use crate::db::DbResult;
use crate::domain::logbook::{Checks, Condition, Context, NOTES_MAX};
use crate::domain::{FieldError, RecordId};
use crate::error::{AppError, AppResult};
use crate::routes::input::ApiJson;
use crate::routes::records::{written, IfMatchHeader};
use crate::routes::{endpoint, Access, Endpoint};
use crate::service::logbook::{self as service, Target};
use crate::state::AppState;

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
            meta: record.meta(),
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
    let mut items = service::list_whole::<Conditions>(&state, scope).await?;
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
    let found = service::get::<Conditions>(&state, scope, target).await?;
    Ok(crate::routes::records::found(found))
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
    let result = service::put::<Conditions>(&state, scope, fresh, if_match.0, named).await?;
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
    let if_match: IfMatch = if_match.0;
    service::delete::<Conditions>(&state, scope, target, if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}
