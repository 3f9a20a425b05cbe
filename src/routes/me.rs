//! `/v1/me`: the caller's own account.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Accepted, UserResponse};
use super::input::{client_key, ApiJson};
use super::scope::OpenLogin;
use crate::domain::access::AuthUser;
use crate::error::AppResult;
use crate::service::account::{self, ProfileChange};
use crate::service::account_email;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// 1 to 100 characters.
    pub display_name: Option<String>,
    /// IANA time zone name; changes what "today" means for this user.
    pub timezone: Option<String>,
    /// A new address. It does not change yet: a link goes to it (valid 24
    /// hours) and a notice to the present address; the address changes,
    /// verified, when the link is used (`POST /v1/auth/verify-email`).
    /// Needs `current_password`.
    pub email: Option<String>,
    /// The account's password; required with `email`.
    pub current_password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// 12 to 128 characters.
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMe {
    /// The account's password, to confirm erasure.
    pub password: String,
}

/// The caller's account.
#[utoipa::path(
    get, path = "/v1/me",
    tag = "me",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = UserResponse))
)]
pub async fn get_me(state: web::Data<AppState>, user: AuthUser) -> AppResult<HttpResponse> {
    let me = account::load(&state.db, user.id).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from_row(me)?))
}

/// Change the display name or time zone, or ask to change the address.
///
/// With `email` (and `current_password`), the answer still shows the
/// present address: the new one takes over when the link mailed to it is
/// used. Everything in one request is applied together or not at all.
#[utoipa::path(
    patch, path = "/v1/me",
    tag = "me",
    security(("bearer" = [])),
    request_body = UpdateMe,
    responses(
        (status = 200, description = "Updated (a new address: the link is on its way)", body = UserResponse),
        (status = 403, description = "`current_password` is wrong (`wrong_password`)"),
        (status = 409, description = "The new address belongs to another account (`email_taken`)"),
        (status = 422, description = "A field is out of range, or `email` came without `current_password`"),
        (status = 429, description = "Too many wrong passwords or changes of address; see Retry-After"),
    )
)]
pub async fn update_me(
    req: HttpRequest,
    state: web::Data<AppState>,
    OpenLogin(user): OpenLogin,
    body: ApiJson<UpdateMe>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let change = ProfileChange {
        display_name: body.display_name.as_deref(),
        timezone: body.timezone.as_deref(),
        email: body.email.as_deref(),
        current_password: body.current_password,
    };
    let ip = client_key(&req, &state.trusted_proxies);
    let row = account::update_profile(
        &state.db,
        &state.clock,
        &state.hasher,
        &state.mail,
        user.id,
        change,
        ip,
    )
    .await?;
    Ok(HttpResponse::Ok().json(UserResponse::from_row(row)?))
}

/// Change the password; every login of the account ends (its refresh
/// tokens are revoked), a pending change of address is cancelled and reset
/// links sent before stop working.
#[utoipa::path(
    post, path = "/v1/me/password",
    tag = "me",
    security(("bearer" = [])),
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed; sign in again on other devices"),
        (status = 403, description = "`current_password` is wrong (`wrong_password`)"),
        (status = 422, description = "`new_password` is out of range"),
        (status = 429, description = "Too many wrong passwords; see Retry-After"),
    )
)]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    OpenLogin(user): OpenLogin,
    body: ApiJson<ChangePassword>,
) -> AppResult<HttpResponse> {
    let ChangePassword {
        current_password,
        new_password,
    } = body.0;
    let ip = client_key(&req, &state.trusted_proxies);
    account::change_password(
        &state.db,
        &state.clock,
        &state.hasher,
        user.id,
        current_password,
        new_password,
        &ip,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Erase the account and all of its data.
#[utoipa::path(
    delete, path = "/v1/me",
    tag = "me",
    security(("bearer" = [])),
    request_body = DeleteMe,
    responses(
        (status = 204, description = "Erased"),
        (status = 403, description = "`password` is wrong (`wrong_password`)"),
        (status = 429, description = "Too many wrong passwords; see Retry-After"),
    )
)]
pub async fn delete_me(
    req: HttpRequest,
    state: web::Data<AppState>,
    OpenLogin(user): OpenLogin,
    body: ApiJson<DeleteMe>,
) -> AppResult<HttpResponse> {
    let ip = client_key(&req, &state.trusted_proxies);
    account::delete(
        &state.db,
        &state.clock,
        &state.hasher,
        user.id,
        body.0.password,
        &ip,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Send a new link to confirm the account's address; the older links stop
/// working. 409 when the address is verified already; throttled (5 within
/// an hour).
#[utoipa::path(
    post, path = "/v1/me/verify-email",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A new link is on its way", body = Accepted),
        (status = 409, description = "The address is verified already (`already_verified`)"),
        (status = 429, description = "Too many requests; see Retry-After"),
    )
)]
pub async fn resend_verification(
    req: HttpRequest,
    state: web::Data<AppState>,
    OpenLogin(user): OpenLogin,
) -> AppResult<HttpResponse> {
    let ip = client_key(&req, &state.trusted_proxies);
    account_email::resend_verification(
        &state.db,
        &state.clock,
        &state.mail,
        user.id.to_string(),
        ip,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(Accepted { status: "accepted" }))
}
