//! The therapist's overview of linked patients, and their alert rules.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::http::{bad_param, check_limit, IfMatchHeader};
use super::input::{ApiJson, ApiQuery};
use super::{endpoint, Access, Endpoint};
use crate::analytics::clinical::{FunctionChange, NextSession};
use crate::analytics::overview::{
    Alert, AlertRules, Hundredths, LastSession, LatestNote, PatientOrder, RuleOverrides,
};
use crate::domain::access::PatientScope;
use crate::domain::logbook::{Checks, Condition};
use crate::domain::version::etag;
use crate::domain::{DomainError, FieldError};
use crate::error::AppResult;
use crate::routes::scope::{Scoped, Therapist};
use crate::service::overview::{
    self as service, After, AlertDefaults, AlertSettings, Overview, Selection,
};
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(list_patients, Access::Therapist),
        endpoint!(get_patient, Access::LinkedTherapist),
        endpoint!(get_alert_settings, Access::LinkedTherapist),
        endpoint!(put_alert_settings, Access::LinkedTherapist),
        endpoint!(get_alert_defaults, Access::Therapist),
        endpoint!(put_alert_defaults, Access::Therapist),
    ]
}

/// A linked patient at a glance, in the patient's own time zone, with what
/// the figures mean.
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
    /// Days from `last_entry_date` to `today`.
    pub days_since_last_entry: Option<i64>,
    /// `pain_level` of the most recent entry (latest date, then `recorded_at`).
    pub last_pain_level: Option<i64>,
    /// Mean daily pain (0–10) over the last 7 days, today included (logged days only).
    pub avg_pain_7d: Option<f64>,
    /// The same over the 7 days before those.
    pub avg_pain_prev_7d: Option<f64>,
    /// `avg_pain_7d − avg_pain_prev_7d` in points of pain (positive: worse);
    /// null when either week has fewer than 3 logged days.
    pub pain_change_7d: Option<f64>,
    /// The highest pain level (0–10) entered in the last 7 days.
    pub worst_pain_7d: Option<i64>,
    /// Days of the last 7 with a stretch session.
    pub stretch_days_7d: i64,
    /// How far the home programme was followed over the last 7 days, 0..1
    /// (the mean over its items of days met ÷ days prescribed); null
    /// without a programme in force then.
    pub programme_adherence_7d: Option<f64>,
    /// The newest note of a pain entry of the last 7 days, in the patient's words.
    pub latest_note: Option<LatestNote>,
    pub last_massage_date: Option<NaiveDate>,
    pub days_since_last_massage: Option<i64>,
    /// The latest massage session of the last 365 days and how much it helped.
    pub last_session: Option<LastSession>,
    /// When the next session is due, from how long relief usually lasted
    /// (sessions of the last 365 days); null below 3 helpful intervals.
    pub next_session: Option<NextSession>,
    /// The change between the latest two ODI (else RMDQ) questionnaires of
    /// the last 365 days.
    pub function_change: Option<FunctionChange>,
    /// The latest day of the last 14 (today included) with a pain entry
    /// that reported a red flag (`red_flag` in `alerts`); null without one.
    pub red_flag_date: Option<NaiveDate>,
    /// Why the patient needs attention; `precaution` is information only.
    pub alerts: Vec<Alert>,
    /// An alert other than `precaution`: first in the attention order.
    pub needs_attention: bool,
    /// Your alert rules for this patient, as they apply (defaults and overrides).
    pub rules: AlertRules,
}

impl From<Overview> for PatientOverview {
    fn from(o: Overview) -> Self {
        let f = o.figures;
        Self {
            id: o.id.0,
            display_name: o.display_name,
            timezone: o.timezone,
            today: o.today,
            since: o.since.and_utc(),
            precautions: o.precautions,
            last_entry_date: o.last_entry_date,
            days_since_last_entry: f.days_since_last_entry,
            last_pain_level: o.last_pain_level,
            avg_pain_7d: f.avg_pain_7d,
            avg_pain_prev_7d: f.avg_pain_prev_7d,
            pain_change_7d: f.pain_change_7d,
            worst_pain_7d: f.worst_pain_7d,
            stretch_days_7d: f.stretch_days_7d,
            programme_adherence_7d: f.programme_adherence_7d,
            latest_note: f.latest_note.clone(),
            last_massage_date: o.last_massage_date,
            days_since_last_massage: f.days_since_last_massage,
            last_session: f.last_session.clone(),
            next_session: f.next_session.clone(),
            function_change: f.function_change.clone(),
            needs_attention: f.needs_attention(),
            red_flag_date: f.red_flag_date,
            alerts: f.alerts,
            rules: o.rules,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientPage {
    /// In the order asked for (`order`, by default who needs attention first).
    pub items: Vec<PatientOverview>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A page of the patient list. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PatientListQuery {
    /// `attention` (default): patients with an alert other than
    /// `precaution` first, the largest rise of 7-day pain first, then the
    /// longest without an entry; then the rest; ties by name. `name`: by
    /// display name. `last_entry`: the most recent entry first, patients
    /// who never logged last.
    #[param(value_type = Option<PatientOrder>)]
    pub order: Option<String>,
    /// Page size, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (of the same order). It names the
    /// page's last patient: the next page goes on after them wherever they
    /// stand now.
    pub cursor: Option<String>,
}

fn order_name(order: PatientOrder) -> &'static str {
    match order {
        PatientOrder::Attention => "attention",
        PatientOrder::Name => "name",
        PatientOrder::LastEntry => "last_entry",
    }
}

/// The order, the last patient's place and id: opaque, and without health data.
fn encode_after(order: PatientOrder, last: &Overview) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}:{}:{}",
        order_name(order),
        last.position,
        last.id
    ))
}

fn decode_after(raw: &str, order: PatientOrder) -> AppResult<After> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let mut parts = text.splitn(3, ':');
            let (name, position, id) = (parts.next()?, parts.next()?, parts.next()?);
            (name == order_name(order)).then_some(())?;
            Some(After {
                position: position.parse().ok().filter(|p: &usize| *p < 1_000_000)?,
                id: id.parse().ok()?,
            })
        })
        .ok_or_else(|| bad_param("cursor", "is not a cursor this API returned for this order"))
}

/// Your linked patients with their figures, what they mean and their
/// alerts, who needs attention first. Each patient shown is written to that
/// patient's access log.
#[utoipa::path(
    get, path = "/v1/patients", tag = "therapist views", operation_id = "list_patients",
    security(("bearer" = [])), params(PatientListQuery),
    responses(
        (status = 200, description = "A page of linked patients", body = PatientPage),
        (status = 400, description = "A parameter is not valid (named in the problem)"),
        (status = 403, description = "The caller is not a therapist"),
    )
)]
pub async fn list_patients(
    req: HttpRequest,
    state: web::Data<AppState>,
    therapist: Therapist,
    query: ApiQuery<PatientListQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let limit = check_limit(query.limit)?;
    let order = match query.order.as_deref() {
        None => PatientOrder::default(),
        Some(raw) => serde_json::from_value(serde_json::Value::String(raw.to_owned()))
            .map_err(|_| bad_param("order", "must be attention, name or last_entry"))?,
    };
    let after = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| decode_after(c, order))
        .transpose()?;
    let selection = Selection {
        only: None,
        order,
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
        Some(last) if more => Some(encode_after(order, last)),
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

/// A rule that can be inherited from your defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleField {
    PainThreshold,
    SpikeDelta,
    NotLoggingDays,
    AdherenceFloor,
}

/// `"off"`: no `pain_high` for this patient, whatever your default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Off {
    Off,
}

/// A patient's own `pain_high` threshold: 0..10, or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ThresholdOverride {
    Level(i64),
    Off(Off),
}

/// Your alert rules for one patient: what you set for this patient (a null
/// field follows your defaults, `/v1/me/alert-defaults`) and what applies.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertSettingsResponse {
    /// This patient's `pain_high` threshold 0..10, or `"off"`; null: your default.
    pub pain_threshold: Option<ThresholdOverride>,
    /// This patient's spike, 1..10 points; null: your default.
    pub spike_delta: Option<i64>,
    /// This patient's days without an entry, 1..60; null: your default.
    pub not_logging_days: Option<i64>,
    /// This patient's adherence floor, 0..1; null: your default.
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1)]
    pub adherence_floor: Option<Hundredths>,
    /// The rules as they apply to this patient.
    pub effective: AlertRules,
    /// The fields that follow your defaults.
    pub inherited: Vec<RuleField>,
    /// 0 while never saved for this patient; also the `ETag`.
    pub version: i64,
}

impl From<AlertSettings> for AlertSettingsResponse {
    fn from(s: AlertSettings) -> Self {
        let o = s.overrides;
        let inherited = [
            (o.pain_threshold.is_none(), RuleField::PainThreshold),
            (o.spike_delta.is_none(), RuleField::SpikeDelta),
            (o.not_logging_days.is_none(), RuleField::NotLoggingDays),
            (o.adherence_floor.is_none(), RuleField::AdherenceFloor),
        ]
        .into_iter()
        .filter_map(|(inherits, field)| inherits.then_some(field))
        .collect();
        Self {
            pain_threshold: o.pain_threshold.map(|t| match t {
                Some(level) => ThresholdOverride::Level(level),
                None => ThresholdOverride::Off(Off::Off),
            }),
            spike_delta: o.spike_delta,
            not_logging_days: o.not_logging_days,
            adherence_floor: o.adherence_floor,
            effective: s.effective(),
            inherited,
            version: s.version,
        }
    }
}

/// Your rules for all your patients; a field left out or null takes its
/// built-in default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSettingsBody {
    /// 0..10: `pain_high` when the latest logged day of the last 7 reaches it.
    #[schema(minimum = 0, maximum = 10)]
    pub pain_threshold: Option<i64>,
    /// 1..10: `pain_spike` when that day is this many points above the week before.
    #[schema(minimum = 1, maximum = 10)]
    pub spike_delta: Option<i64>,
    /// 1..60: `not_logging` after this many days without an entry, today included.
    #[schema(minimum = 1, maximum = 60)]
    pub not_logging_days: Option<i64>,
    /// 0..1, kept to two decimals: `low_adherence` when the home programme
    /// was followed less than this over the last 7 days (0: never).
    #[schema(minimum = 0, maximum = 1)]
    pub adherence_floor: Option<f64>,
}

/// Your rules for one patient; a field left out or null follows your defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientRulesBody {
    /// 0..10: `pain_high` when the latest logged day of the last 7 reaches
    /// it; `"off"`: no `pain_high` for this patient, whatever your default.
    #[schema(value_type = Option<ThresholdOverride>)]
    pub pain_threshold: Option<serde_json::Value>,
    /// 1..10: `pain_spike` when that day is this many points above the week before.
    #[schema(minimum = 1, maximum = 10)]
    pub spike_delta: Option<i64>,
    /// 1..60: `not_logging` after this many days without an entry, today included.
    #[schema(minimum = 1, maximum = 60)]
    pub not_logging_days: Option<i64>,
    /// 0..1, kept to two decimals: `low_adherence` when the home programme
    /// was followed less than this over the last 7 days (0: never).
    #[schema(minimum = 0, maximum = 1)]
    pub adherence_floor: Option<f64>,
}

/// The ranges of the rules, for the defaults and a patient's own (`found`
/// holds what was refused before, e.g. a threshold of the wrong kind); the
/// adherence floor in hundredths.
fn check_rules(
    mut found: Checks,
    threshold: Option<i64>,
    spike_delta: Option<i64>,
    not_logging_days: Option<i64>,
    adherence_floor: Option<f64>,
) -> AppResult<Option<Hundredths>> {
    found.range("pain_threshold", threshold, 0, 10);
    found.range("spike_delta", spike_delta, 1, 10);
    found.range("not_logging_days", not_logging_days, 1, 60);
    let floor = match adherence_floor {
        None => None,
        Some(share) => {
            let floor = Hundredths::of(share);
            if floor.is_none() {
                found.fail(
                    "adherence_floor",
                    "must be a share from 0 to 1 (0.5 for half)",
                );
            }
            floor
        }
    };
    DomainError::check(found.0)?;
    Ok(floor)
}

fn with_etag<T: Serialize>(version: i64, body: T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// Your alert rules for this patient.
#[utoipa::path(
    get, path = "/v1/patients/{pid}/alert-settings", tag = "therapist views",
    operation_id = "get_alert_settings",
    security(("bearer" = [])),
    params(("pid" = Uuid, Path, description = "A patient linked to you")),
    responses(
        (status = 200, description = "The rules (your defaults until changed)", body = AlertSettingsResponse, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
    )
)]
pub async fn get_alert_settings(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    let settings = service::alert_settings(&state.db, scope).await?;
    Ok(with_etag(
        settings.version,
        AlertSettingsResponse::from(settings),
    ))
}

/// Replace your alert rules for this patient.
#[utoipa::path(
    put, path = "/v1/patients/{pid}/alert-settings", tag = "therapist views",
    operation_id = "put_alert_settings",
    security(("bearer" = [])), request_body = PatientRulesBody,
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
    Scoped(scope, (if_match, body)): Scoped<(IfMatchHeader, ApiJson<PatientRulesBody>)>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let threshold = match &body.pain_threshold {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(word)) if word == "off" => Ok(Some(None)),
        Some(value) => match value.as_i64() {
            Some(level) => Ok(Some(Some(level))),
            None => Err(FieldError::new(
                "pain_threshold",
                "must be a whole number from 0 to 10, \"off\" or null",
            )),
        },
    };
    let mut found = Checks::default();
    if let Err(error) = &threshold {
        found.0.push(error.clone());
    }
    let level = threshold.as_ref().ok().copied().flatten().flatten();
    let floor = check_rules(
        found,
        level,
        body.spike_delta,
        body.not_logging_days,
        body.adherence_floor,
    )?;
    let overrides = RuleOverrides {
        pain_threshold: threshold.ok().flatten(),
        spike_delta: body.spike_delta,
        not_logging_days: body.not_logging_days,
        adherence_floor: floor,
    };
    let saved =
        service::save_alert_settings(&state.db, &state.clock, scope, overrides, if_match.0).await?;
    Ok(with_etag(saved.version, AlertSettingsResponse::from(saved)))
}

/// Your alert rules for all your patients.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDefaultsResponse {
    /// `pain_high` when the latest logged day of the last 7 reaches it; null: off.
    pub pain_threshold: Option<i64>,
    /// `pain_spike` when that day is this many points above the week before.
    pub spike_delta: i64,
    /// `not_logging` after this many days without an entry, today included.
    pub not_logging_days: i64,
    /// `low_adherence` when the home programme was followed less than this
    /// share over the last 7 days.
    #[schema(value_type = f64, minimum = 0, maximum = 1)]
    pub adherence_floor: Hundredths,
    /// 0 while never saved (the built-in defaults); also the `ETag`.
    pub version: i64,
}

impl From<AlertDefaults> for AlertDefaultsResponse {
    fn from(d: AlertDefaults) -> Self {
        Self {
            pain_threshold: d.rules.pain_threshold,
            spike_delta: d.rules.spike_delta,
            not_logging_days: d.rules.not_logging_days,
            adherence_floor: d.rules.adherence_floor,
            version: d.version,
        }
    }
}

/// Your alert rules for all your patients (a patient's own rules override
/// them field by field).
#[utoipa::path(
    get, path = "/v1/me/alert-defaults", tag = "therapist views",
    operation_id = "get_alert_defaults",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your defaults (built-in until saved: no pain threshold, a spike of 2, 7 days, an adherence floor of 0.5)", body = AlertDefaultsResponse, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
    )
)]
pub async fn get_alert_defaults(
    state: web::Data<AppState>,
    therapist: Therapist,
) -> AppResult<HttpResponse> {
    let defaults = service::alert_defaults(&state.db, therapist.0.id).await?;
    Ok(with_etag(
        defaults.version,
        AlertDefaultsResponse::from(defaults),
    ))
}

/// Replace your alert rules for all your patients; a field left out or
/// null takes its built-in default (`pain_threshold`: off, `spike_delta`:
/// 2, `not_logging_days`: 7, `adherence_floor`: 0.5). Patients without their own value of a field
/// follow at once.
#[utoipa::path(
    put, path = "/v1/me/alert-defaults", tag = "therapist views",
    operation_id = "put_alert_defaults",
    security(("bearer" = [])), request_body = AlertSettingsBody,
    params(("If-Match" = Option<String>, Header, description = "ETag of the version being replaced")),
    responses(
        (status = 200, description = "Saved (or unchanged)", body = AlertDefaultsResponse, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 412, description = "If-Match does not match the current version"),
        (status = 422, description = "A value is out of range"),
    )
)]
pub async fn put_alert_defaults(
    state: web::Data<AppState>,
    therapist: Therapist,
    if_match: IfMatchHeader,
    body: ApiJson<AlertSettingsBody>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let floor = check_rules(
        Checks::default(),
        body.pain_threshold,
        body.spike_delta,
        body.not_logging_days,
        body.adherence_floor,
    )?;
    let builtin = AlertRules::default();
    let rules = AlertRules {
        pain_threshold: body.pain_threshold,
        spike_delta: body.spike_delta.unwrap_or(builtin.spike_delta),
        not_logging_days: body.not_logging_days.unwrap_or(builtin.not_logging_days),
        adherence_floor: floor.unwrap_or(builtin.adherence_floor),
    };
    let saved =
        service::save_alert_defaults(&state.db, &state.clock, therapist.0.id, rules, if_match.0)
            .await?;
    Ok(with_etag(saved.version, AlertDefaultsResponse::from(saved)))
}
