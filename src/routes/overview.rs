//! The therapist's overview of linked patients, and their alert rules.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::http::{encode_instant_cursor, IfMatchHeader, PageQuery};
use super::input::ApiJson;
use super::{endpoint, Access, Endpoint};
use crate::analytics::overview::{Alert, AlertRules};
use crate::domain::access::PatientScope;
use crate::domain::logbook::{Checks, Condition};
use crate::domain::version::etag;
use crate::domain::DomainError;
use crate::error::AppResult;
use crate::routes::scope::{Scoped, Therapist};
use crate::service::overview::{self as service, AlertSettings, Overview, Selection};
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(list_patients, Access::Therapist),
        endpoint!(get_patient, Access::LinkedTherapist),
        endpoint!(get_alert_settings, Access::LinkedTherapist),
        endpoint!(put_alert_settings, Access::LinkedTherapist),
    ]
}

/// A linked patient at a glance, in the patient's own time zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientOverview {
    pub id: Uuid,
    pub display_name: String,
    /// The patient's IANA time zone: every date here is a day of their calendar.
    #[schema(example = "Europe/Berlin")]
    pub timezone: String,
    /// The patient's today, in that time zone.
    pub today: NaiveDate,
    /// When the patient linked you.
    pub since: DateTime<Utc>,
    /// Declared precautions (osteoporosis and the like): check before treating.
    pub precautions: Vec<Condition>,
    pub last_entry_date: Option<NaiveDate>,
    /// `pain_level` of the most recent entry (latest date, then `recorded_at`).
    pub last_pain_level: Option<i64>,
    /// Mean daily pain over the last 7 days, today included (logged days only).
    pub avg_pain_7d: Option<f64>,
    /// The same over the 7 days before those.
    pub avg_pain_prev_7d: Option<f64>,
    /// Days of the last 7 with a stretch session.
    pub stretch_days_7d: i64,
    pub last_massage_date: Option<NaiveDate>,
    pub days_since_last_massage: Option<i64>,
    pub alerts: Vec<Alert>,
}

impl From<Overview> for PatientOverview {
    fn from(o: Overview) -> Self {
        Self {
            id: o.id.0,
            display_name: o.display_name,
            timezone: o.timezone,
            today: o.today,
            since: o.since.and_utc(),
            precautions: o.precautions,
            last_entry_date: o.last_entry_date,
            last_pain_level: o.last_pain_level,
            avg_pain_7d: o.figures.avg_pain_7d,
            avg_pain_prev_7d: o.figures.avg_pain_prev_7d,
            stretch_days_7d: o.figures.stretch_days_7d,
            last_massage_date: o.last_massage_date,
            days_since_last_massage: o.figures.days_since_last_massage,
            alerts: o.figures.alerts,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientPage {
    /// In the order patients linked you.
    pub items: Vec<PatientOverview>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Your linked patients with their figures and alerts. Each patient shown
/// is written to that patient's access log.
#[utoipa::path(
    get, path = "/v1/patients", tag = "therapist views", operation_id = "list_patients",
    security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "A page of linked patients", body = PatientPage),
        (status = 403, description = "The caller is not a therapist"),
    )
)]
pub async fn list_patients(
    req: HttpRequest,
    state: web::Data<AppState>,
    therapist: Therapist,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let (limit, after) = query.into_inner().page()?;
    let selection = Selection {
        only: None,
        after,
        limit,
        log_as: Some(req.path().to_owned()),
    };
    let (page, more) = service::overviews(
        &state.db,
        &state.clock,
        &state.overview_figures,
        therapist.0,
        selection,
    )
    .await?;
    let next_cursor = match page.last() {
        Some(last) if more => Some(encode_instant_cursor(last.since, &last.id.to_string())),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(PatientPage {
        items: page.into_iter().map(PatientOverview::from).collect(),
        next_cursor,
    }))
}

/// One linked patient's overview.
#[utoipa::path(
    get, path = "/v1/patients/{pid}", tag = "therapist views", operation_id = "get_patient",
    security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "A patient linked to you")),
    responses(
        (status = 200, description = "The patient's overview", body = PatientOverview),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn get_patient(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    let overview =
        service::overview(&state.db, &state.clock, &state.overview_figures, scope).await?;
    Ok(HttpResponse::Ok().json(PatientOverview::from(overview)))
}

/// Your alert rules for one patient (each therapist has their own).
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertSettingsResponse {
    /// `pain_high` when the latest logged day of the last 7 reaches it; null: off.
    pub pain_threshold: Option<i64>,
    /// `pain_spike` when that day is this much above the 7 days before.
    pub spike_delta: i64,
    /// `not_logging` when no entry in this many days, today included.
    pub not_logging_days: i64,
    /// 0 while the defaults were never changed; also the `ETag`.
    pub version: i64,
}

impl From<AlertSettings> for AlertSettingsResponse {
    fn from(s: AlertSettings) -> Self {
        Self {
            pain_threshold: s.rules.pain_threshold,
            spike_delta: s.rules.spike_delta,
            not_logging_days: s.rules.not_logging_days,
            version: s.version,
        }
    }
}

/// New alert rules; a field left out takes its default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSettingsBody {
    /// 0..10; omit or null to turn `pain_high` off.
    #[schema(minimum = 0, maximum = 10)]
    pub pain_threshold: Option<i64>,
    /// 1..10 (default 3).
    #[schema(minimum = 1, maximum = 10)]
    pub spike_delta: Option<i64>,
    /// 1..60 (default 7).
    #[schema(minimum = 1, maximum = 60)]
    pub not_logging_days: Option<i64>,
}

fn settings_response(settings: AlertSettings) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(settings.version)))
        .json(AlertSettingsResponse::from(settings))
}

/// Your alert rules for this patient.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/alert-settings", tag = "therapist views",
    operation_id = "get_alert_settings",
    security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "A patient linked to you")),
    responses(
        (status = 200, description = "The rules (defaults until changed)", body = AlertSettingsResponse, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn get_alert_settings(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    Ok(settings_response(
        service::alert_settings(&state.db, scope).await?,
    ))
}

/// Replace your alert rules for this patient.
#[utoipa::path(
    put, path = "/v1/patients/{pid}/alert-settings", tag = "therapist views",
    operation_id = "put_alert_settings",
    security(("bearer" = [])), request_body = AlertSettingsBody,
    params(("pid" = Uuid, Path, description = "A patient linked to you"),
           ("If-Match" = Option<String>, Header, description = "ETag of the version being replaced")),
    responses(
        (status = 200, description = "Saved (or unchanged)", body = AlertSettingsResponse, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
        (status = 412, description = "If-Match does not match the current version"),
        (status = 422, description = "A value is out of range"),
    )
)]
pub async fn put_alert_settings(
    state: web::Data<AppState>,
    Scoped(scope, (if_match, body)): Scoped<(IfMatchHeader, ApiJson<AlertSettingsBody>)>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let defaults = AlertRules::default();
    let rules = AlertRules {
        pain_threshold: body.pain_threshold,
        spike_delta: body.spike_delta.unwrap_or(defaults.spike_delta),
        not_logging_days: body.not_logging_days.unwrap_or(defaults.not_logging_days),
    };
    let mut checks = Checks::default();
    checks.range("pain_threshold", rules.pain_threshold, 0, 10);
    checks.range("spike_delta", Some(rules.spike_delta), 1, 10);
    checks.range("not_logging_days", Some(rules.not_logging_days), 1, 60);
    DomainError::check(checks.0)?;
    let saved =
        service::save_alert_settings(&state.db, &state.clock, scope, rules, if_match.0).await?;
    Ok(settings_response(saved))
}
