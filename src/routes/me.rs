//! `/v1/me`: the caller's own account.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{client_ip, Attempt, UserResponse};
use super::input::ApiJson;
use crate::auth::AuthUser;
use crate::db::accounts;
use crate::domain::{DisplayName, Password, Timezone};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// 1 to 100 characters.
    pub display_name: Option<String>,
    /// IANA time zone name; changes what "today" means for this user.
    pub timezone: Option<String>,
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

async fn load_me(state: &AppState, user: AuthUser) -> AppResult<accounts::UserRow> {
    let id = user.id.to_string();
    state
        .db
        .run(move |conn| accounts::find_user(conn, &id))
        .await?
        // The token outlived its account.
        .ok_or_else(AppError::unauthenticated)
}

/// Checks the caller's password, counting failures like failed logins so a
/// stolen access token cannot be used to guess it.
async fn confirm_password(
    req: &HttpRequest,
    state: &AppState,
    me: &accounts::UserRow,
    password: String,
    field: &'static str,
) -> AppResult<()> {
    let ip = client_ip(req, &state.trusted_proxies);
    let slot = state.hasher.slot().await?;
    let attempt = Attempt::begin(state, &me.email, &ip).await?;
    if !slot
        .verify(password, Some(me.password_hash.clone()))
        .await?
    {
        attempt.failed();
        return Err(AppError::WrongPassword { field });
    }
    state.db.write(attempt.acceptance()).await?;
    attempt.accepted();
    Ok(())
}

/// The caller's account.
#[utoipa::path(
    get, path = "/v1/me",
    tag = "me",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = UserResponse))
)]
pub async fn get_me(state: web::Data<AppState>, user: AuthUser) -> AppResult<HttpResponse> {
    let me = load_me(&state, user).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from_row(me)?))
}

/// Change the display name or time zone.
#[utoipa::path(
    patch, path = "/v1/me",
    tag = "me",
    security(("bearer" = [])),
    request_body = UpdateMe,
    responses(
        (status = 200, description = "Updated", body = UserResponse),
        (status = 422, description = "A field is out of range"),
    )
)]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<UpdateMe>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let mut errors = Vec::new();
    let name = body
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()
        .map_err(|m| errors.push(FieldError::new("display_name", m)));
    let tz = body
        .timezone
        .as_deref()
        .map(Timezone::parse)
        .transpose()
        .map_err(|m| errors.push(FieldError::new("timezone", m)));
    let (Ok(name), Ok(tz)) = (name, tz) else {
        return Err(AppError::Unprocessable(errors));
    };
    let id = user.id.to_string();
    let now = state.clock.now_naive();
    let row = state
        .db
        .write(move |conn| {
            let name = name.map(DisplayName::into_inner);
            accounts::update_profile(conn, &id, name.as_deref(), tz.map(Timezone::name), now)
        })
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    Ok(HttpResponse::Ok().json(UserResponse::from_row(row)?))
}

/// Change the password; every refresh token of the account is revoked.
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
    user: AuthUser,
    body: ApiJson<ChangePassword>,
) -> AppResult<HttpResponse> {
    let ChangePassword {
        current_password,
        new_password,
    } = body.0;
    let new_password =
        Password::parse(new_password).map_err(|m| AppError::invalid("new_password", m))?;
    let me = load_me(&state, user).await?;
    confirm_password(&req, &state, &me, current_password, "current_password").await?;
    let hash = state.hasher.hash(new_password.expose().to_owned()).await?;
    let now = state.clock.now_naive();
    state
        .db
        .write(move |conn| {
            accounts::update_password_hash(conn, &me.id, &hash, now)?;
            accounts::revoke_all_for_user(conn, &me.id, now)
        })
        .await?;
    tracing::info!(user_id = %user.id, "password changed; refresh tokens revoked");
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
    user: AuthUser,
    body: ApiJson<DeleteMe>,
) -> AppResult<HttpResponse> {
    let me = load_me(&state, user).await?;
    confirm_password(&req, &state, &me, body.0.password, "password").await?;
    state
        .db
        .write(move |conn| accounts::delete_user(conn, &me))
        .await?;
    tracing::info!(user_id = %user.id, "account erased");
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
        (status = 202, description = "A new link is on its way", body = super::auth::Accepted),
        (status = 409, description = "The address is verified already (`already_verified`)"),
        (status = 429, description = "Too many requests; see Retry-After"),
    )
)]
pub async fn resend_verification(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
) -> AppResult<HttpResponse> {
    let ip = client_ip(&req, &state.trusted_proxies);
    crate::service::account_email::resend_verification(&state, user.id.to_string(), ip).await?;
    Ok(HttpResponse::Accepted().json(super::auth::Accepted { status: "accepted" }))
}
