//! `/v1/me`: the caller's own account.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Attempt, UserResponse};
use super::input::client_ip;
use super::input::ApiJson;
use crate::db::accounts;
use crate::db::mail::Purpose;
use crate::domain::access::AuthUser;
use crate::domain::{DisplayName, Email, Password, Timezone};
use crate::error::{AppError, AppResult, FieldError};
use crate::service::{account_email, schedules};
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
    let email = body
        .email
        .as_deref()
        .map(Email::parse)
        .transpose()
        .map_err(|m| errors.push(FieldError::new("email", m)));
    if body.email.is_some() && body.current_password.is_none() {
        errors.push(FieldError::new(
            "current_password",
            "is required to change the e-mail address",
        ));
    }
    let (Ok(name), Ok(tz), Ok(email), true) = (name, tz, email, errors.is_empty()) else {
        return Err(AppError::Unprocessable(errors));
    };
    let me = load_me(&state, user).await?;
    // The same address again is no change: the password is not checked
    // (but must come, as with any `email`) and no mail goes out.
    let new_email = email.filter(|e| e.as_str() != me.email);
    if let (Some(_), Some(password)) = (&new_email, body.current_password) {
        confirm_password(&req, &state, &me, password, "current_password").await?;
        let ip = client_ip(&req, &state.trusted_proxies);
        account_email::count_address_change(&state.db, &state.clock, me.email.clone(), ip).await?;
    }
    let now = state.clock.now_naive();
    let st = state.clone();
    let asked = new_email.is_some();
    let row = state
        .db
        .write(move |conn| -> AppResult<_> {
            if let Some(email) = &new_email {
                account_email::request_address_change(conn, &st.mail, &me, email.as_str(), now)?;
            }
            let name = name.map(DisplayName::into_inner);
            let row = accounts::update_profile(
                conn,
                &me.id,
                name.as_deref(),
                tz.map(Timezone::name),
                now,
            )?
            .ok_or_else(AppError::unauthenticated)?;
            if tz.is_some_and(|tz| tz.name() != me.timezone) {
                // Reminders and digests come at their time in the new zone.
                schedules::follow_timezone(conn, &row, st.clock.now())?;
            }
            Ok(row)
        })
        .await?;
    if asked {
        state.mail.wake();
        tracing::info!(user_id = %user.id, "change of address asked; link sent to the new address");
    }
    Ok(HttpResponse::Ok().json(UserResponse::from_row(row)?))
}

/// Change the password; every login of the account ends (its refresh
/// tokens are revoked) and a pending change of address is cancelled.
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
            // A change of address asked for with the old password (maybe by
            // whoever learnt it) does not go through.
            crate::db::mail::void_tokens(conn, &me.id, Some(Purpose::ChangeEmail), now)?;
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
    crate::service::account_email::resend_verification(
        &state.db,
        &state.clock,
        &state.mail,
        user.id.to_string(),
        ip,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(super::auth::Accepted { status: "accepted" }))
}
