//! The daily series and the trends between massage sessions, for the
//! patient (`/v1/me/…`) and a linked therapist (`/v1/patients/{pid}/…`,
//! access-logged): the same handlers, decided by the patient scope.

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use super::http::{check_range, if_none_match};
use super::input::ApiQuery;
use super::{endpoint, Access, Endpoint};
use crate::error::{AppError, AppResult};
use crate::routes::scope::Scoped;
use crate::service::trends::{self as service, DailySeries, Figures, Reply, TrendsResponse, View};
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(my_daily, Access::Patient),
        endpoint!(my_trends, Access::Patient),
        endpoint!(patient_daily, Access::LinkedTherapist),
        endpoint!(patient_trends, Access::LinkedTherapist),
    ]
}

/// A date range in the patient's calendar. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First day (YYYY-MM-DD); default `to` − 89 days.
    pub from: Option<NaiveDate>,
    /// Last day; default the patient's today. At most 1,096 days after `from`.
    pub to: Option<NaiveDate>,
}

/// Answers `view` of the range, 304 when the client's copy is current.
async fn respond(
    state: web::Data<AppState>,
    req: HttpRequest,
    Scoped(scope, query): Scoped<ApiQuery<RangeQuery>>,
    view: View,
) -> AppResult<HttpResponse> {
    let RangeQuery { from, to } = query.into_inner();
    check_range(from, to)?;
    let held = if_none_match(&req);
    let reply = service::answer(
        &state.db,
        &state.clock,
        &state.answers,
        scope,
        (from, to),
        view,
        held,
    )
    .await?;
    Ok(match reply {
        Reply::NotModified(etag) => HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish(),
        Reply::Fresh(answer) => {
            let body = match answer.rendered.get() {
                Some(body) => body,
                None => {
                    let body = match answer.figures.as_ref() {
                        Figures::Daily(series) => serde_json::to_vec(series),
                        Figures::Trends(trends) => serde_json::to_vec(trends),
                    }
                    .map_err(AppError::internal)?;
                    answer.rendered.get_or_init(|| body)
                }
            };
            HttpResponse::Ok()
                .insert_header((header::ETAG, answer.etag.as_str()))
                .content_type(ContentType::json())
                .body(body.clone())
        }
    })
}

async fn daily(
    state: web::Data<AppState>,
    req: HttpRequest,
    scoped: Scoped<ApiQuery<RangeQuery>>,
) -> AppResult<HttpResponse> {
    respond(state, req, scoped, View::Daily).await
}

async fn trends(
    state: web::Data<AppState>,
    req: HttpRequest,
    scoped: Scoped<ApiQuery<RangeQuery>>,
) -> AppResult<HttpResponse> {
    respond(state, req, scoped, View::Trends).await
}

/// Your pain, stretching and massages, day by day.
#[utoipa::path(
    get, path = "/v1/me/daily", tag = "trends", operation_id = "get_my_daily",
    security(("bearer" = [])), params(RangeQuery, ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy you hold: 304 (no body) while it is current")),
    responses(
        (status = 200, description = "One row per calendar day", body = DailySeries,
            headers(("ETag" = String, description = "Changes whenever the answer would"))),
        (status = 304, description = "The copy named by If-None-Match is current",
            headers(("ETag" = String, description = "The current answer's tag"))),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn my_daily(
    state: web::Data<AppState>,
    req: HttpRequest,
    scoped: Scoped<ApiQuery<RangeQuery>>,
) -> AppResult<HttpResponse> {
    daily(state, req, scoped).await
}

/// How your pain moved between massage sessions.
#[utoipa::path(
    get, path = "/v1/me/trends", tag = "trends", operation_id = "get_my_trends",
    security(("bearer" = [])), params(RangeQuery, ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy you hold: 304 (no body) while it is current")),
    responses(
        (status = 200, description = "Intervals between sessions and a summary", body = TrendsResponse,
            headers(("ETag" = String, description = "Changes whenever the answer would"))),
        (status = 304, description = "The copy named by If-None-Match is current",
            headers(("ETag" = String, description = "The current answer's tag"))),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn my_trends(
    state: web::Data<AppState>,
    req: HttpRequest,
    scoped: Scoped<ApiQuery<RangeQuery>>,
) -> AppResult<HttpResponse> {
    trends(state, req, scoped).await
}

/// A linked patient's pain, stretching and massages, day by day.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/daily", tag = "trends", operation_id = "get_patient_daily",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"), RangeQuery, ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy you hold: 304 (no body) while it is current")),
    responses(
        (status = 200, description = "One row per calendar day, in the patient's calendar", body = DailySeries,
            headers(("ETag" = String, description = "Changes whenever the answer would"))),
        (status = 304, description = "The copy named by If-None-Match is current",
            headers(("ETag" = String, description = "The current answer's tag"))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn patient_daily(
    state: web::Data<AppState>,
    req: HttpRequest,
    scoped: Scoped<ApiQuery<RangeQuery>>,
) -> AppResult<HttpResponse> {
    daily(state, req, scoped).await
}

/// How a linked patient's pain moved between massage sessions.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/trends", tag = "trends", operation_id = "get_patient_trends",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"), RangeQuery, ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy you hold: 304 (no body) while it is current")),
    responses(
        (status = 200, description = "Intervals between sessions and a summary", body = TrendsResponse,
            headers(("ETag" = String, description = "Changes whenever the answer would"))),
        (status = 304, description = "The copy named by If-None-Match is current",
            headers(("ETag" = String, description = "The current answer's tag"))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn patient_trends(
    state: web::Data<AppState>,
    req: HttpRequest,
    scoped: Scoped<ApiQuery<RangeQuery>>,
) -> AppResult<HttpResponse> {
    trends(state, req, scoped).await
}
