//! Exports and the chart, for the patient (`/v1/me/…`) and a linked
//! therapist (`/v1/patients/{pid}/…`, access-logged): the whole logbook as
//! JSON or a FHIR R4 bundle, the daily series as CSV, and the SVG chart.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::http::{bad_param, check_range};
use super::input::ApiQuery;
use super::{endpoint, Access, Endpoint};
use crate::domain::access::PatientScope;
use crate::error::AppResult;
use crate::export::{chart, fhir};
use crate::kinds::{
    Assessment, ConditionItem, MassageSession, PainEntry, Programme, Stretch, StretchSession,
};
use crate::routes::scope::Scoped;
use crate::service::account::UserResponse;
use crate::service::care_team::{AccessLogEntry, CareTeamMember};
use crate::service::export::{self as service, Document, ExportedPatient};
use crate::service::programme::SavedProgramme;
use crate::service::trends as trends_service;
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(my_export, Access::Patient),
        endpoint!(patient_export, Access::LinkedTherapist),
        endpoint!(my_chart, Access::Patient),
        endpoint!(patient_chart, Access::LinkedTherapist),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Everything stored about the patient (`application/json`).
    Json,
    /// The daily series, one row per day (`text/csv`).
    Csv,
    /// A FHIR R4 `Bundle` of type `collection` (`application/fhir+json`).
    Fhir,
}

/// Which export; `from`/`to` choose the days of the CSV (default the 90
/// days ending at the patient's today, at most 1,096) and are refused with
/// the other formats, which always hold everything.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default), `csv` or `fhir`. Read as text and parsed here, so
    /// that an unknown format is a 400 naming `format`.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
    /// CSV only: first day (YYYY-MM-DD).
    pub from: Option<NaiveDate>,
    /// CSV only: last day; default the patient's today.
    pub to: Option<NaiveDate>,
}

/// The JSON export: the patient's whole logbook in the shapes its GETs
/// answer. `account`, `care_team` and `access_log` are in the patient's own
/// copy only: a therapist's copy holds the logbook, not the patient's
/// account or who else treats them.
#[derive(Debug, Serialize, ToSchema)]
pub struct JsonExport {
    /// `painline-export/1`.
    pub format: String,
    pub exported_at: DateTime<Utc>,
    pub patient: ExportedPatient,
    pub account: Option<UserResponse>,
    pub care_team: Option<Vec<CareTeamMember>>,
    /// Newest first.
    pub pain_entries: Vec<PainEntry>,
    pub stretch_sessions: Vec<StretchSession>,
    pub massage_sessions: Vec<MassageSession>,
    pub assessments: Vec<Assessment>,
    /// The patient's own stretches.
    pub stretches: Vec<Stretch>,
    pub conditions: Vec<ConditionItem>,
    /// The home programme in force: none or one.
    #[schema(max_items = 1)]
    pub programme: Vec<Programme>,
    /// Every version of the home programme, newest first.
    pub programme_history: Vec<SavedProgramme>,
    /// Newest first.
    pub access_log: Option<Vec<AccessLogEntry>>,
}

fn attachment(name: String) -> (header::HeaderName, String) {
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{name}\""),
    )
}

fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

async fn export(
    state: web::Data<AppState>,
    scope: PatientScope,
    query: ExportQuery,
) -> AppResult<HttpResponse> {
    let ExportQuery { format, from, to } = query;
    let format = match format.as_deref() {
        None | Some("json") => ExportFormat::Json,
        Some("csv") => ExportFormat::Csv,
        Some("fhir") => ExportFormat::Fhir,
        Some(_) => return Err(bad_param("format", "must be json, csv or fhir")),
    };
    let today = state.clock.now().date_naive();
    let stem = service::file_stem(&state.db, scope).await?;
    let document = match format {
        ExportFormat::Csv => {
            check_range(from, to)?;
            let (from, to, body) =
                service::daily_csv(&state.db, &state.clock, scope, from, to).await?;
            return Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8; header=present")
                .insert_header(no_store())
                .insert_header(attachment(format!("painline-{stem}-daily-{from}-{to}.csv")))
                .body(body));
        }
        ExportFormat::Json => Document::Json,
        ExportFormat::Fhir => Document::Fhir,
    };
    if from.is_some() || to.is_some() {
        let field = if from.is_some() { "from" } else { "to" };
        return Err(bad_param(
            field,
            "applies to format=csv only; the other formats hold everything",
        ));
    }
    let (content_type, name) = match document {
        Document::Json => ("application/json", format!("painline-{stem}-{today}.json")),
        Document::Fhir => (
            fhir::CONTENT_TYPE,
            format!("painline-{stem}-{today}.fhir.json"),
        ),
    };
    let body = service::document(
        state.db.clone(),
        state.clock.clone(),
        &state.exports,
        scope,
        document,
    )
    .await?;
    let body = futures_util::StreamExt::map(body, |chunk| {
        chunk
            .map(web::Bytes::from)
            .map_err(crate::error::AppError::from)
    });
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(no_store())
        .insert_header(attachment(name))
        .streaming(body))
}

/// A chart's range, and the screen it is drawn for. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChartQuery {
    /// First day (YYYY-MM-DD); default `to` − 89 days.
    pub from: Option<NaiveDate>,
    /// Last day; default the patient's today. At most 1,096 days after `from`.
    pub to: Option<NaiveDate>,
    /// `wide` (default, 600 units wide) or `phone` (360 units wide: the same
    /// text is larger on a phone, and the chart at least 240 px tall on a
    /// 360 px screen).
    #[param(value_type = Option<String>, pattern = "^(wide|phone)$")]
    pub layout: Option<String>,
}

async fn chart_svg(
    state: web::Data<AppState>,
    scope: PatientScope,
    query: ChartQuery,
) -> AppResult<HttpResponse> {
    let ChartQuery { from, to, layout } = query;
    check_range(from, to)?;
    let layout = match layout.as_deref() {
        None | Some("wide") => chart::Layout::Wide,
        Some("phone") => chart::Layout::Phone,
        Some(_) => return Err(bad_param("layout", "must be wide or phone")),
    };
    let rows = trends_service::rows(&state.db, &state.clock, scope, from, to).await?;
    let (days, intervals) = (rows.daily(), rows.trends().intervals);
    Ok(HttpResponse::Ok()
        .content_type(chart::CONTENT_TYPE)
        .insert_header(no_store())
        .body(chart::render(&chart::Chart {
            from: rows.from,
            to: rows.to,
            today: rows.today,
            days: &days,
            intervals: &intervals,
            layout,
        })))
}

/// Download your data: everything (JSON), the daily series (CSV), or a FHIR R4 bundle.
///
/// JSON and FHIR are streamed as they are read. A download that ends before
/// its closing bracket was cut off (the connection failed, or a therapist's
/// link ended while it ran): fetch it again. An account runs at most two
/// JSON or FHIR exports at once.
#[utoipa::path(
    get, path = "/v1/me/export", tag = "exports", operation_id = "export_my_data",
    security(("bearer" = [])), params(ExportQuery),
    responses(
        (status = 200, description = "The export, as an attachment",
            content(
                (JsonExport = "application/json"),
                (String = "text/csv"),
                (Object = "application/fhir+json"),
            )),
        (status = 403, description = "The caller is not a patient"),
        (status = 429, description = "This account runs two JSON or FHIR exports already; see Retry-After"),
        (status = 503, description = "This instance runs as many exports as it may (`PAINLINE_MAX_EXPORTS`); see Retry-After"),
    )
)]
pub async fn my_export(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<ApiQuery<ExportQuery>>,
) -> AppResult<HttpResponse> {
    export(state, scope, query.into_inner()).await
}

/// Download a linked patient's data: their logbook (JSON), the daily series (CSV), or a FHIR R4 bundle.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/export", tag = "exports", operation_id = "export_patient_data",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"), ExportQuery),
    responses(
        (status = 200, description = "The export, as an attachment",
            content(
                (JsonExport = "application/json"),
                (String = "text/csv"),
                (Object = "application/fhir+json"),
            )),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
        (status = 429, description = "This account runs two JSON or FHIR exports already; see Retry-After"),
        (status = 503, description = "This instance runs as many exports as it may (`PAINLINE_MAX_EXPORTS`); see Retry-After"),
    )
)]
pub async fn patient_export(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<ApiQuery<ExportQuery>>,
) -> AppResult<HttpResponse> {
    export(state, scope, query.into_inner()).await
}

/// Your pain, stretching and massage sessions as an SVG chart.
///
/// Daily pain is a line with gaps on unlogged days; each massage session a
/// dashed vertical line with its date above the plot, the week before it as
/// a grey segment at its mean pain and its first three days shaded;
/// stretching a strip under the plot (darker for more minutes); today a
/// solid line. Labelled for screen readers; scales to its container.
#[utoipa::path(
    get, path = "/v1/me/trends/chart.svg", tag = "trends", operation_id = "get_my_chart",
    security(("bearer" = [])), params(ChartQuery),
    responses(
        (status = 200, description = "The chart", content_type = "image/svg+xml", body = String),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn my_chart(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<ApiQuery<ChartQuery>>,
) -> AppResult<HttpResponse> {
    chart_svg(state, scope, query.into_inner()).await
}

/// A linked patient's pain, stretching and massage sessions as an SVG chart.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/trends/chart.svg", tag = "trends", operation_id = "get_patient_chart",
    security(("bearer" = [])),
    params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"), ChartQuery),
    responses(
        (status = 200, description = "The chart, in the patient's calendar", content_type = "image/svg+xml", body = String),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn patient_chart(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<ApiQuery<ChartQuery>>,
) -> AppResult<HttpResponse> {
    chart_svg(state, scope, query.into_inner()).await
}
