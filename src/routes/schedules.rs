//! `/v1/me/reminders` (patients), `/v1/me/digest` (therapists) and the
//! one-click `POST /v1/unsubscribe` their mails link to.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::input::ApiJson;
use super::{endpoint, Access, Endpoint};
use crate::auth::{PatientScope, Therapist};
use crate::error::AppResult;
use crate::service::schedules::{self as service, Digest, DigestView, Reminders, RemindersView};
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(get_reminders, Access::Patient),
        endpoint!(put_reminders, Access::Patient),
        endpoint!(get_digest, Access::Therapist),
        endpoint!(put_digest, Access::Therapist),
        endpoint!(unsubscribe, Access::Anyone),
    ]
}

/// Your daily reminder to log.
#[utoipa::path(
    get, path = "/v1/me/reminders", tag = "reminders", operation_id = "get_reminders",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings (off until turned on)", body = RemindersView),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn get_reminders(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::reminders(&state, scope.patient).await?))
}

/// Set your daily reminder.
///
/// On each of `days`, at `local_time` in your time zone, a mail reminds you
/// to log, unless that day has a pain entry already; never two for one
/// day, and none while your address is unconfirmed. A time the clocks jump
/// over that day comes just after the jump; a time that happens twice
/// comes once. Changes take effect for the next due time.
#[utoipa::path(
    put, path = "/v1/me/reminders", tag = "reminders", operation_id = "put_reminders",
    security(("bearer" = [])), request_body = Reminders,
    responses(
        (status = 200, description = "Saved", body = RemindersView),
        (status = 403, description = "The caller is not a patient"),
        (status = 422, description = "`local_time` is not HH:MM, or `days` names a day twice or none while enabled"),
    )
)]
pub async fn put_reminders(
    state: web::Data<AppState>,
    scope: PatientScope,
    body: ApiJson<Reminders>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::put_reminders(&state, scope.patient, body.0).await?))
}

/// Your weekly digest.
#[utoipa::path(
    get, path = "/v1/me/digest", tag = "reminders", operation_id = "get_digest",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings (off until turned on)", body = DigestView),
        (status = 403, description = "The caller is not a therapist"),
    )
)]
pub async fn get_digest(
    state: web::Data<AppState>,
    therapist: Therapist,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::digest(&state, therapist.0.id).await?))
}

/// Set your weekly digest.
///
/// On `weekday` at `local_time` in your time zone, a mail says how many of
/// your linked patients have alerts (your alert settings), with a link to
/// the dashboard; only when at least one has. It names no patient and holds
/// no health data.
#[utoipa::path(
    put, path = "/v1/me/digest", tag = "reminders", operation_id = "put_digest",
    security(("bearer" = [])), request_body = Digest,
    responses(
        (status = 200, description = "Saved", body = DigestView),
        (status = 403, description = "The caller is not a therapist"),
        (status = 422, description = "`local_time` is not HH:MM"),
    )
)]
pub async fn put_digest(
    state: web::Data<AppState>,
    therapist: Therapist,
    body: ApiJson<Digest>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::put_digest(&state, therapist.0.id, body.0).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UnsubscribeQuery {
    /// The token of the mail's unsubscribe link.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unsubscribed {
    /// `reminder` or `digest`: what is off now.
    pub kind: &'static str,
    pub enabled: bool,
}

/// Turn off the reminder or digest a mail came from, without signing in.
///
/// RFC 8058 one-click: a mail client POSTs `List-Unsubscribe=One-Click`,
/// which is ignored, as is any other body. Answers the same again for a
/// token used before; 400 `invalid_token` for one unknown or older than 90
/// days. The token does nothing else.
#[utoipa::path(
    post, path = "/v1/unsubscribe", tag = "reminders", operation_id = "unsubscribe",
    params(UnsubscribeQuery),
    responses(
        (status = 200, description = "Turned off", body = Unsubscribed),
        (status = 400, description = "`invalid_token`"),
    )
)]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    query: web::Query<UnsubscribeQuery>,
) -> AppResult<HttpResponse> {
    let kind = service::unsubscribe(&state, &query.token).await?;
    tracing::info!(kind = kind.as_str(), "unsubscribed through a mailed link");
    Ok(HttpResponse::Ok().json(Unsubscribed {
        kind: kind.as_str(),
        enabled: false,
    }))
}
