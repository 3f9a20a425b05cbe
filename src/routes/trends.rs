//! The daily series and the trends between massage sessions, for the
//! patient (`/v1/me/…`) and a linked therapist (`/v1/patients/{pid}/…`,
//! access-logged): the same handlers, decided by the patient scope.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::records::check_range;
use super::{endpoint, Access, Endpoint};
use crate::analytics::trends::{Day, Interval, TrendSummary};
use crate::auth::Scoped;
use crate::error::AppResult;
use crate::service::trends as service;
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

#[derive(Debug, Serialize, ToSchema)]
pub struct DailySeries {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One row for every calendar day of `[from, to]`.
    pub days: Vec<Day>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrendsResponse {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One per massage session dated in the range, in session order.
    pub intervals: Vec<Interval>,
    pub summary: TrendSummary,
}

async fn daily(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<web::Query<RangeQuery>>,
) -> AppResult<HttpResponse> {
    let RangeQuery { from, to } = query.into_inner();
    check_range(from, to)?;
    let (from, to, days) = service::daily(&state, scope, from, to).await?;
    Ok(HttpResponse::Ok().json(DailySeries { from, to, days }))
}

async fn trends(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<web::Query<RangeQuery>>,
) -> AppResult<HttpResponse> {
    let RangeQuery { from, to } = query.into_inner();
    check_range(from, to)?;
    let (from, to, trends) = service::trends(&state, scope, from, to).await?;
    Ok(HttpResponse::Ok().json(TrendsResponse {
        from,
        to,
        intervals: trends.intervals,
        summary: trends.summary,
    }))
}

/// Your pain, stretching and massages, day by day.
#[utoipa::path(
    get, path = "/v1/me/daily", tag = "trends", operation_id = "get_my_daily",
    security(("bearer" = [])), params(RangeQuery),
    responses(
        (status = 200, description = "One row per calendar day", body = DailySeries),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn my_daily(
    state: web::Data<AppState>,
    scoped: Scoped<web::Query<RangeQuery>>,
) -> AppResult<HttpResponse> {
    daily(state, scoped).await
}

/// How your pain moved between massage sessions.
#[utoipa::path(
    get, path = "/v1/me/trends", tag = "trends", operation_id = "get_my_trends",
    security(("bearer" = [])), params(RangeQuery),
    responses(
        (status = 200, description = "Intervals between sessions and a summary", body = TrendsResponse),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn my_trends(
    state: web::Data<AppState>,
    scoped: Scoped<web::Query<RangeQuery>>,
) -> AppResult<HttpResponse> {
    trends(state, scoped).await
}

/// A linked patient's pain, stretching and massages, day by day.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/daily", tag = "trends", operation_id = "get_patient_daily",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"), RangeQuery),
    responses(
        (status = 200, description = "One row per calendar day, in the patient's calendar", body = DailySeries),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn patient_daily(
    state: web::Data<AppState>,
    scoped: Scoped<web::Query<RangeQuery>>,
) -> AppResult<HttpResponse> {
    daily(state, scoped).await
}

/// How a linked patient's pain moved between massage sessions.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/trends", tag = "trends", operation_id = "get_patient_trends",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"), RangeQuery),
    responses(
        (status = 200, description = "Intervals between sessions and a summary", body = TrendsResponse),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn patient_trends(
    state: web::Data<AppState>,
    scoped: Scoped<web::Query<RangeQuery>>,
) -> AppResult<HttpResponse> {
    trends(state, scoped).await
}
