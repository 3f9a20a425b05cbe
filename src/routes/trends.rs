//! The daily series and the trends between massage sessions, for the
//! patient (`/v1/me/…`) and a linked therapist (`/v1/patients/{pid}/…`,
//! access-logged): the same handlers, decided by the patient scope.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::records::check_range;
use super::{endpoint, Access, Endpoint};
use crate::analytics::trends::{Day, Interval, Summary};
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

/// One calendar day. An unlogged day has `mean_pain` and `max_pain` null, never 0.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayRow {
    pub date: NaiveDate,
    /// Mean of the day's pain levels (3 decimals).
    pub mean_pain: Option<f64>,
    pub max_pain: Option<i64>,
    /// Number of pain entries.
    pub entries: i64,
    pub stretch_minutes: f64,
    pub stretch_sessions: i64,
    /// Massage sessions of the day, in session order.
    pub massage_session_ids: Vec<Uuid>,
}

impl From<Day> for DayRow {
    fn from(d: Day) -> Self {
        Self {
            date: d.date,
            mean_pain: d.mean_pain,
            max_pain: d.max_pain,
            entries: d.entries,
            stretch_minutes: d.stretch_minutes,
            stretch_sessions: d.stretch_sessions,
            massage_session_ids: d.massage_session_ids,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DailySeries {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One row for every calendar day of `[from, to]`.
    pub days: Vec<DayRow>,
}

/// What happened after one massage session (DESIGN.md §4).
#[derive(Debug, Serialize, ToSchema)]
pub struct IntervalRow {
    pub session_id: Uuid,
    pub date: NaiveDate,
    /// The last session in the range: its interval runs to `to`.
    pub open: bool,
    /// Mean daily pain over the 7 days before the session (may reach before `from`).
    pub baseline_pain: Option<f64>,
    /// Days from the day after the session to the day before the next one.
    pub days: i64,
    pub logged_days: i64,
    pub mean_pain: Option<f64>,
    pub min_pain: Option<f64>,
    pub max_pain: Option<f64>,
    /// Mean daily pain over the first 3 days after the session.
    pub early_pain: Option<f64>,
    /// `baseline_pain − early_pain`: positive is better.
    pub relief: Option<f64>,
    /// Days before pain was back at the baseline; `days` when it never was (censored).
    pub relief_duration_days: Option<i64>,
    pub relief_censored: Option<bool>,
    /// Least-squares slope of daily pain over the interval.
    pub slope_per_day: Option<f64>,
    pub stretch_days: i64,
    /// `stretch_days / days`.
    pub stretch_adherence: Option<f64>,
    pub stretch_minutes: f64,
}

impl From<Interval> for IntervalRow {
    fn from(i: Interval) -> Self {
        Self {
            session_id: i.session_id,
            date: i.date,
            open: i.open,
            baseline_pain: i.baseline_pain,
            days: i.days,
            logged_days: i.logged_days,
            mean_pain: i.mean_pain,
            min_pain: i.min_pain,
            max_pain: i.max_pain,
            early_pain: i.early_pain,
            relief: i.relief,
            relief_duration_days: i.relief_duration_days,
            relief_censored: i.relief_censored,
            slope_per_day: i.slope_per_day,
            stretch_days: i.stretch_days,
            stretch_adherence: i.stretch_adherence,
            stretch_minutes: i.stretch_minutes,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrendSummary {
    pub sessions: i64,
    pub mean_relief: Option<f64>,
    /// Over intervals whose relief ended (uncensored) only.
    pub mean_relief_duration_days: Option<f64>,
    pub logged_days: i64,
    pub mean_pain: Option<f64>,
    /// Least-squares slope of daily pain over the range, per week.
    pub slope_per_week: Option<f64>,
    /// Pearson's r between a day's stretch minutes and the next day's pain;
    /// null below 3 pairs or without variance.
    pub stretch_pain_correlation: Option<f64>,
}

impl From<Summary> for TrendSummary {
    fn from(s: Summary) -> Self {
        Self {
            sessions: s.sessions,
            mean_relief: s.mean_relief,
            mean_relief_duration_days: s.mean_relief_duration_days,
            logged_days: s.logged_days,
            mean_pain: s.mean_pain,
            slope_per_week: s.slope_per_week,
            stretch_pain_correlation: s.stretch_pain_correlation,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrendsResponse {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One per massage session dated in the range, in session order.
    pub intervals: Vec<IntervalRow>,
    pub summary: TrendSummary,
}

async fn daily(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<web::Query<RangeQuery>>,
) -> AppResult<HttpResponse> {
    let RangeQuery { from, to } = query.into_inner();
    check_range(from, to)?;
    let (from, to, days) = service::daily(&state, scope, from, to).await?;
    Ok(HttpResponse::Ok().json(DailySeries {
        from,
        to,
        days: days.into_iter().map(DayRow::from).collect(),
    }))
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
        intervals: trends
            .intervals
            .into_iter()
            .map(IntervalRow::from)
            .collect(),
        summary: trends.summary.into(),
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
    params(("pid" = Uuid, Path, description = "A patient linked to you"), RangeQuery),
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
    params(("pid" = Uuid, Path, description = "A patient linked to you"), RangeQuery),
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
