//! The care team: a therapist's invitation codes, a patient joining and
//! leaving a care team, and a therapist ending a link.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::http::{encode_instant_cursor, PageQuery};
use super::input::ApiJson;
use super::input::{client_key, ApiQuery};
use super::{endpoint, Access, Endpoint};
use crate::domain::access::PatientScope;
use crate::domain::care_team::InvitationCode;
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::routes::scope::Therapist;
use crate::service::care_team as service;
pub use crate::service::care_team::{
    AccessAction, AccessLogEntry, AccessOutcome, Actor, CareTeamMember, TherapistRef,
};
use crate::service::session;
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint!(create_invitation, Access::Therapist),
        endpoint!(list_invitations, Access::Therapist),
        endpoint!(withdraw_invitation, Access::Therapist),
        endpoint!(join_care_team, Access::Patient),
        endpoint!(list_care_team, Access::Patient),
        endpoint!(leave_care_team, Access::Patient),
        endpoint!(end_care, Access::Therapist),
        endpoint!(list_access_log, Access::Patient),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// How long the code works: 1..720 hours (default 72).
    #[schema(minimum = 1, maximum = 720)]
    pub expires_in_hours: Option<i64>,
}

/// A new invitation. The code is shown this once: only its hash is stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCreated {
    pub id: Uuid,
    /// Ten letters and digits without look-alikes, e.g. `KX4RM-9TQ2W`; works once.
    #[schema(example = "KX4RM-9TQ2W")]
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// An invitation that can still be redeemed.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenInvitation {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    /// Newest first.
    pub items: Vec<OpenInvitation>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinCareTeam {
    /// The code the therapist gave; case, spaces and hyphens do not matter.
    #[schema(example = "KX4RM-9TQ2W")]
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CareTeam {
    /// Longest-standing first.
    pub items: Vec<CareTeamMember>,
}

/// Create an invitation code for a patient.
#[utoipa::path(
    post, path = "/v1/invitations", tag = "care team", operation_id = "create_invitation",
    security(("bearer" = [])), request_body = CreateInvitation,
    responses(
        (status = 201, description = "The code, shown once", body = InvitationCreated),
        (status = 403, description = "The caller is not a therapist"),
        (status = 422, description = "expires_in_hours out of range"),
    )
)]
pub async fn create_invitation(
    state: web::Data<AppState>,
    therapist: Therapist,
    body: ApiJson<CreateInvitation>,
) -> AppResult<HttpResponse> {
    let hours = body.0.expires_in_hours.unwrap_or(72);
    if !(1..=720).contains(&hours) {
        return Err(AppError::invalid(
            "expires_in_hours",
            "must be between 1 and 720",
        ));
    }
    // Opening the care team is for a login that is still open.
    session::ensure_open(&state.db, &state.clock, therapist.0.id, therapist.0.login).await?;
    let invitation = service::invite(
        &state.db,
        &state.clock,
        therapist.0.id,
        hours,
        state.mail.delivers,
    )
    .await?;
    Ok(HttpResponse::Created().json(InvitationCreated {
        id: invitation.id,
        code: invitation.code.display(),
        expires_at: invitation.expires_at.and_utc(),
    }))
}

/// Your invitations that can still be redeemed.
#[utoipa::path(
    get, path = "/v1/invitations", tag = "care team", operation_id = "list_invitations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Open invitations", body = InvitationList),
        (status = 403, description = "The caller is not a therapist"),
    )
)]
pub async fn list_invitations(
    state: web::Data<AppState>,
    therapist: Therapist,
) -> AppResult<HttpResponse> {
    let rows = service::open_invitations(&state.db, &state.clock, therapist.0.id).await?;
    let items = rows
        .into_iter()
        .map(|row| {
            Ok(OpenInvitation {
                id: row.id.parse().map_err(AppError::internal)?,
                created_at: row.created_at.and_utc(),
                expires_at: row.expires_at.and_utc(),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok().json(InvitationList { items }))
}

/// Withdraw an invitation: its code stops working at once.
#[utoipa::path(
    delete, path = "/v1/invitations/{id}", tag = "care team", operation_id = "withdraw_invitation",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Withdrawn (also when it already was, or had expired)"),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not one of your invitations"),
        (status = 409, description = "Already redeemed: end the link to the patient instead"),
    )
)]
pub async fn withdraw_invitation(
    state: web::Data<AppState>,
    therapist: Therapist,
    id: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    service::withdraw(&state.db, &state.clock, therapist.0.id, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Join a therapist's care team with the code they gave you.
///
/// An unknown, used, withdrawn or expired code gets one identical 404. After
/// 5 wrong codes within 15 minutes (or 20 from one address within an hour),
/// 429 with Retry-After. Sending the same code again after a lost answer
/// gets the same answer.
#[utoipa::path(
    post, path = "/v1/me/care-team", tag = "care team", operation_id = "join_care_team",
    security(("bearer" = [])), request_body = JoinCareTeam,
    responses(
        (status = 201, description = "Linked: the therapist can now read your logbook", body = CareTeamMember),
        (status = 403, description = "The caller is not a patient"),
        (status = 404, description = "No such code (or used, withdrawn, expired)"),
        (status = 422, description = "The code is not of the shape codes have"),
        (status = 429, description = "Too many wrong codes; see Retry-After"),
    )
)]
pub async fn join_care_team(
    req: HttpRequest,
    state: web::Data<AppState>,
    scope: PatientScope,
    body: ApiJson<JoinCareTeam>,
) -> AppResult<HttpResponse> {
    let code = InvitationCode::parse(&body.0.code).map_err(|m| AppError::invalid("code", m))?;
    session::ensure_open(&state.db, &state.clock, scope.actor.id, scope.actor.login).await?;
    let ip = client_key(&req, &state.trusted_proxies);
    let member = service::redeem(
        &state.db,
        &state.clock,
        scope.patient,
        code,
        ip,
        state.mail.delivers,
    )
    .await?;
    Ok(HttpResponse::Created().json(CareTeamMember::from(member)))
}

/// The therapists who can read your logbook.
#[utoipa::path(
    get, path = "/v1/me/care-team", tag = "care team", operation_id = "list_care_team",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your care team", body = CareTeam),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn list_care_team(
    state: web::Data<AppState>,
    scope: PatientScope,
) -> AppResult<HttpResponse> {
    let members = service::care_team(&state.db, scope.patient).await?;
    Ok(HttpResponse::Ok().json(CareTeam {
        items: members.into_iter().map(CareTeamMember::from).collect(),
    }))
}

/// Remove a therapist from your care team: their access ends at once.
#[utoipa::path(
    delete, path = "/v1/me/care-team/{therapist_id}", tag = "care team",
    operation_id = "leave_care_team",
    security(("bearer" = [])), params(("therapist_id" = Uuid, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The caller is not a patient"),
        (status = 404, description = "Not on your care team"),
    )
)]
pub async fn leave_care_team(
    state: web::Data<AppState>,
    scope: PatientScope,
    therapist_id: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    service::end_link(
        &state.db,
        &state.clock,
        scope.patient,
        UserId(therapist_id.into_inner()),
        None,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End your link to a patient: you lose access to their data at once.
#[utoipa::path(
    delete, path = "/v1/patients/{pid}", tag = "care team", operation_id = "end_care",
    security(("bearer" = [])), params(("pid" = Uuid, Path)),
    responses(
        (status = 204, description = "Ended"),
        (status = 403, description = "The caller is not a therapist"),
        (status = 404, description = "Not a patient linked to you (the attempt is in their access log)"),
    )
)]
pub async fn end_care(
    req: HttpRequest,
    state: web::Data<AppState>,
    therapist: Therapist,
    pid: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let path = req.path().to_owned();
    service::end_link(
        &state.db,
        &state.clock,
        UserId(pid.into_inner()),
        therapist.0.id,
        Some(path),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogPage {
    /// Newest first.
    pub items: Vec<AccessLogEntry>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Who read your data, and who tried: every request of a therapist on it.
#[utoipa::path(
    get, path = "/v1/me/access-log", tag = "care team", operation_id = "list_access_log",
    security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Newest first", body = AccessLogPage),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn list_access_log(
    state: web::Data<AppState>,
    scope: PatientScope,
    query: ApiQuery<PageQuery>,
) -> AppResult<HttpResponse> {
    let (limit, after) = query.into_inner().page()?;
    let mut rows = service::access_log(&state.db, scope.patient, after, limit + 1).await?;
    let page = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > page;
    rows.truncate(page);
    let next_cursor = match rows.last() {
        Some(last) if more => Some(encode_instant_cursor(last.at, &last.id.to_string())),
        _ => None,
    };
    let items = rows
        .into_iter()
        .map(AccessLogEntry::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(AccessLogPage { items, next_cursor }))
}
