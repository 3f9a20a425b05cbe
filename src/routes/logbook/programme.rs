//! The home programme's routes: a linked therapist prescribes, replaces
//! and ends it (`/v1/patients/{pid}/programme`), the patient reads it
//! (`/v1/me/programme`); both read its history.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::access::PatientScope;
use crate::error::AppResult;
use crate::kinds::{Programme, ProgrammeBody};
use crate::routes::http::{bad_param, check_limit, found, if_none_match, written, IfMatchHeader};
use crate::routes::input::{ApiJson, ApiQuery};
use crate::routes::scope::Scoped;
use crate::routes::{endpoint, Access, Endpoint};
use crate::service::programme::{self as service, Preconditions, SavedProgramme, WeeklyAdherence};
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(get_my_programme, Access::Patient),
        endpoint!(list_my_programme_history, Access::Patient),
        endpoint!(get_patient_programme, Access::LinkedTherapist),
        endpoint!(put_patient_programme, Access::LinkedTherapist),
        endpoint!(end_patient_programme, Access::LinkedTherapist),
        endpoint!(list_patient_programme_history, Access::LinkedTherapist),
        endpoint!(get_my_programme_adherence, Access::Patient),
        endpoint!(get_patient_programme_adherence, Access::LinkedTherapist),
    ]
}

/// How many ISO weeks of adherence. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AdherenceQuery {
    /// 1..52 (default 4): the current week and the ones before it.
    #[param(minimum = 1, maximum = 52)]
    pub weeks: Option<i64>,
}

async fn adherence(
    state: web::Data<AppState>,
    scope: PatientScope,
    query: AdherenceQuery,
) -> AppResult<HttpResponse> {
    let weeks = query.weeks.unwrap_or(4);
    let weeks = u32::try_from(weeks)
        .ok()
        .filter(|w| (1..=service::MAX_WEEKS).contains(w))
        .ok_or_else(|| bad_param("weeks", "must be between 1 and 52"))?;
    let answer = service::weekly_adherence(&state.db, &state.clock, scope, weeks).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// How far you followed your home programme, week by week.
#[utoipa::path(
    get, path = "/v1/me/programme/adherence", tag = "home programme",
    operation_id = "get_my_programme_adherence",
    security(("bearer" = [])), params(AdherenceQuery),
    responses(
        (status = 200, description = "Per ISO week of your calendar, oldest first: the programme's figure and each item's", body = WeeklyAdherence),
        (status = 400, description = "`weeks` out of range"),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn get_my_programme_adherence(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<ApiQuery<AdherenceQuery>>,
) -> AppResult<HttpResponse> {
    adherence(state, scope, query.into_inner()).await
}

/// How far a linked patient followed their home programme, week by week:
/// each ISO week (Monday to Sunday in the patient's zone) and item, days
/// prescribed and days met, each day judged by the version in force then.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/programme/adherence", tag = "home programme",
    operation_id = "get_patient_programme_adherence",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"), AdherenceQuery),
    responses(
        (status = 200, description = "Per ISO week of the patient's calendar, oldest first: the programme's figure and each item's", body = WeeklyAdherence),
        (status = 400, description = "`weeks` out of range"),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn get_patient_programme_adherence(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<ApiQuery<AdherenceQuery>>,
) -> AppResult<HttpResponse> {
    adherence(state, scope, query.into_inner()).await
}

/// A page of the history. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Page size, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The programme's versions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgrammeHistory {
    pub items: Vec<SavedProgramme>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Your home programme, as your care team prescribed it.
#[utoipa::path(
    get, path = "/v1/me/programme", tag = "home programme", operation_id = "get_my_programme",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The programme in force", body = Programme, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a patient"),
        (status = 404, description = "No programme: none was prescribed, or it was ended"),
    )
)]
pub async fn get_my_programme(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    Ok(found(service::get(&state.db, scope).await?))
}

/// A linked patient's home programme.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/programme", tag = "home programme",
    operation_id = "get_patient_programme",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you")),
    responses(
        (status = 200, description = "The programme in force", body = Programme, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "No programme, or not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn get_patient_programme(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    get_my_programme(state, scope).await
}

/// Prescribe a linked patient's home programme, or replace it. The care
/// team shares one programme: any therapist linked to the patient may
/// replace it; send `If-Match` with the `ETag` you read so a colleague's
/// change in between is not overwritten (412). Each version is kept in the
/// history and judges adherence from the patient's local day it is saved.
#[utoipa::path(
    put, path = "/v1/patients/{pid}/programme", tag = "home programme",
    operation_id = "put_patient_programme",
    security(("bearer" = [])),
    request_body = ProgrammeBody,
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"),
           ("If-Match" = Option<String>, Header, description = "ETag of the version being replaced (or of the ended one, to prescribe again)"),
           ("If-None-Match" = Option<String>, Header, description = "`*`: prescribe only if no programme is in force (412 otherwise)")),
    responses(
        (status = 200, description = "Replaced, or the same programme again (version unchanged)", body = Programme, headers(("ETag" = String))),
        (status = 201, description = "Prescribed (the patient had none)", body = Programme,
         headers(("Location" = String), ("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
        (status = 412, description = "If-Match does not match the current version (someone changed the programme since you read it), or If-None-Match: * and a programme is in force"),
        (status = 422, description = "A value is out of range, naming the item and field (`items[2].stretch_id`)"),
    )
)]
pub async fn put_patient_programme(
    state: web::Data<AppState>,
    req: HttpRequest,
    Scoped(scope, (if_match, body)): Scoped<(IfMatchHeader, ApiJson<ProgrammeBody>)>,
) -> AppResult<HttpResponse> {
    let preconditions = Preconditions {
        if_match: if_match.0,
        only_new: if_none_match(&req).any(),
    };
    let result = service::put(&state.db, &state.clock, scope, preconditions, body.0).await?;
    Ok(written(result))
}

/// End a linked patient's home programme. It leaves the patient's phone
/// (a deletion in the sync feed) and stays in the history, ending on the
/// patient's today (or on its own `ends_on`, if that came first).
#[utoipa::path(
    delete, path = "/v1/patients/{pid}/programme", tag = "home programme",
    operation_id = "end_patient_programme",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"),
           ("If-Match" = Option<String>, Header, description = "ETag of the version being ended")),
    responses(
        (status = 204, description = "Ended (also when it already was)"),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Never prescribed, or not a patient linked to you now"),
        (status = 412, description = "If-Match does not match the current version"),
    )
)]
pub async fn end_patient_programme(
    state: web::Data<AppState>,
    Scoped(scope, if_match): Scoped<IfMatchHeader>,
) -> AppResult<HttpResponse> {
    service::end(&state.db, &state.clock, scope, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn history_page(query: HistoryQuery) -> AppResult<(i64, Option<i64>)> {
    let limit = check_limit(query.limit)?;
    let before = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|v| *v > 0 && raw.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| bad_param("cursor", "is not a cursor this API returned"))?,
        ),
    };
    Ok((limit, before))
}

async fn history(
    state: web::Data<AppState>,
    scope: PatientScope,
    query: HistoryQuery,
) -> AppResult<HttpResponse> {
    let (limit, before) = history_page(query)?;
    let (items, next) = service::history(&state.db, scope, before, limit).await?;
    Ok(HttpResponse::Ok().json(ProgrammeHistory {
        items,
        next_cursor: next.map(|v| v.to_string()),
    }))
}

/// Every version of your home programme, newest first: the one in force,
/// the ones it replaced, and the one it was ended with.
#[utoipa::path(
    get, path = "/v1/me/programme/history", tag = "home programme",
    operation_id = "list_my_programme_history",
    security(("bearer" = [])), params(HistoryQuery),
    responses(
        (status = 200, description = "A page of versions, newest first", body = ProgrammeHistory),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn list_my_programme_history(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<ApiQuery<HistoryQuery>>,
) -> AppResult<HttpResponse> {
    history(state, scope, query.into_inner()).await
}

/// Every version of a linked patient's home programme, newest first.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/programme/history", tag = "home programme",
    operation_id = "list_patient_programme_history",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"), HistoryQuery),
    responses(
        (status = 200, description = "A page of versions, newest first", body = ProgrammeHistory),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn list_patient_programme_history(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<ApiQuery<HistoryQuery>>,
) -> AppResult<HttpResponse> {
    history(state, scope, query.into_inner()).await
}
