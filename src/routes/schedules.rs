//! `/v1/me/reminders` (patients), `/v1/me/digest` (therapists) and the
//! one-click `POST /v1/unsubscribe` their mails link to.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::http::IfMatchHeader;
use super::input::{ApiJson, ApiQuery};
use super::{endpoint, Access, Endpoint};
use crate::domain::access::PatientScope;
use crate::domain::version::etag;
use crate::error::AppResult;
use crate::routes::scope::Therapist;
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

/// 200 with the settings, their version as the `ETag`.
fn with_etag<T: Serialize>(version: i64, body: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// Your daily reminder to log.
#[utoipa::path(
    get, path = "/v1/me/reminders", tag = "reminders", operation_id = "get_reminders",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings (off until turned on; ETag \"0\" until saved)", body = RemindersView, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn get_reminders(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    let view = service::reminders(&state.db, scope.patient).await?;
    Ok(with_etag(view.version, &view))
}

/// Set your daily reminder.
///
/// On each of `days`, at `local_time` in your time zone, a mail reminds you
/// to log, unless that day has a pain entry already; never two for one
/// day, and none while your address is unconfirmed. A time the clocks jump
/// over that day comes just after the jump; a time that happens twice
/// comes once. Saving sends no mail; new settings apply from their next
/// time after the change. The same settings again change nothing.
#[utoipa::path(
    put, path = "/v1/me/reminders", tag = "reminders", operation_id = "put_reminders",
    security(("bearer" = [])), request_body = Reminders,
    params(("If-Match" = Option<String>, Header, description = "ETag of the version being replaced")),
    responses(
        (status = 200, description = "Saved (or unchanged)", body = RemindersView, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a patient"),
        (status = 412, description = "If-Match does not match the current version"),
        (status = 422, description = "`local_time` is not HH:MM, or `days` names a day twice or none while enabled"),
    )
)]
pub async fn put_reminders(
    state: web::Data<AppState>,
    scope: PatientScope,
    if_match: IfMatchHeader,
    body: ApiJson<Reminders>,
) -> AppResult<HttpResponse> {
    let view =
        service::put_reminders(&state.db, &state.clock, scope.patient, body.0, if_match.0).await?;
    Ok(with_etag(view.version, &view))
}

/// Your weekly digest.
#[utoipa::path(
    get, path = "/v1/me/digest", tag = "reminders", operation_id = "get_digest",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings (off until turned on; ETag \"0\" until saved)", body = DigestView, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
    )
)]
pub async fn get_digest(
    state: web::Data<AppState>,
    therapist: Therapist,
) -> AppResult<HttpResponse> {
    let view = service::digest(&state.db, therapist.0.id).await?;
    Ok(with_etag(view.version, &view))
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
    params(("If-Match" = Option<String>, Header, description = "ETag of the version being replaced")),
    responses(
        (status = 200, description = "Saved (or unchanged)", body = DigestView, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a therapist"),
        (status = 412, description = "If-Match does not match the current version"),
        (status = 422, description = "`local_time` is not HH:MM"),
    )
)]
pub async fn put_digest(
    state: web::Data<AppState>,
    therapist: Therapist,
    if_match: IfMatchHeader,
    body: ApiJson<Digest>,
) -> AppResult<HttpResponse> {
    let view =
        service::put_digest(&state.db, &state.clock, therapist.0.id, body.0, if_match.0).await?;
    Ok(with_etag(view.version, &view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    /// The token of the mail's unsubscribe link.
    pub token: String,
}

/// Turn off the reminder or digest a mail came from, without signing in.
///
/// RFC 8058 one-click: a mail client POSTs `List-Unsubscribe=One-Click`,
/// which is ignored, as is any other body or none. Answers 204 again for a
/// token used before; 400 `invalid_token` for one unknown or older than 90
/// days. The token does nothing else.
#[utoipa::path(
    post, path = "/v1/unsubscribe", tag = "reminders", operation_id = "unsubscribe",
    params(UnsubscribeQuery),
    responses(
        (status = 204, description = "Turned off"),
        (status = 400, description = "`invalid_token`"),
    )
)]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    query: ApiQuery<UnsubscribeQuery>,
) -> AppResult<HttpResponse> {
    let kind = service::unsubscribe(&state.db, &state.clock, &query.token).await?;
    tracing::info!(kind = kind.as_str(), "unsubscribed through a mailed link");
    Ok(HttpResponse::NoContent().finish())
}
