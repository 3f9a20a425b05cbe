//! `/v1/auth/*`: registration, login, token refresh and logout.

use std::net::IpAddr;

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::input::ApiJson;
use crate::auth::throttle::{PER_ADDRESS, PER_EMAIL};
use crate::auth::tokens::{hash_refresh_token, new_refresh_token};
use crate::db::accounts::{self, NewRefreshToken, NewUser, Rotation, UserRow};
use crate::db::DbConnection;
use crate::domain::{DisplayName, Email, Password, Role, Timezone};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Trimmed and lower-cased before it is stored.
    #[schema(example = "ana@example.org")]
    pub email: String,
    /// 12 to 128 characters, never truncated.
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    /// 1 to 100 characters, shown to the other side of a care team.
    pub display_name: String,
    pub role: Role,
    /// IANA time zone that defines the user's "today"; default `UTC`.
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last `tokens` answer; it works once.
    pub refresh_token: String,
}

/// A user as they see themselves.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserResponse {
    pub fn from_row(row: UserRow) -> AppResult<Self> {
        Ok(Self {
            id: row.id.parse().map_err(AppError::internal)?,
            role: row.role()?,
            email: row.email,
            display_name: row.display_name,
            timezone: row.timezone,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokensResponse {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; exchange it once at `/v1/auth/refresh`.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub user: UserResponse,
    pub tokens: TokensResponse,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshResponse {
    pub tokens: TokensResponse,
}

/// Issues an access token and stores a new refresh token (in `family`, or a new one).
pub fn issue_tokens(
    conn: &mut DbConnection,
    state: &AppState,
    user_id: &str,
    role: Role,
    family: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<TokensResponse> {
    let uuid: Uuid = user_id.parse().map_err(AppError::internal)?;
    let access_token = state
        .tokens
        .issue_access(uuid, role, now.and_utc())
        .map_err(AppError::internal)?;
    let (refresh_token, hash) = new_refresh_token();
    let new_family = Uuid::new_v4().to_string();
    accounts::insert_refresh_token(
        conn,
        &NewRefreshToken {
            id: Uuid::new_v4().to_string(),
            user_id,
            family_id: family.unwrap_or(&new_family),
            token_hash: &hash,
            created_at: now,
            expires_at: now + Duration::seconds(state.tokens.refresh_ttl),
        },
    )?;
    Ok(TokensResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl,
        refresh_token,
        refresh_expires_in: state.tokens.refresh_ttl,
    })
}

fn invalid_credentials() -> AppError {
    AppError::Unauthorized {
        code: "invalid_credentials",
        detail: "The e-mail or password is incorrect.",
    }
}

fn invalid_refresh() -> AppError {
    AppError::Unauthorized {
        code: "invalid_refresh_token",
        detail: "The refresh token is unknown, expired, or was already used.",
    }
}

/// The client's address: the socket peer, unless the peer is a trusted proxy,
/// in which case the right-most `X-Forwarded-For` entry that is not a proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".to_owned();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
        .to_string()
}

/// Seconds to wait before another login attempt for `email` from `ip`, if throttled.
fn throttled(
    conn: &mut DbConnection,
    email: &str,
    ip: &str,
    now: NaiveDateTime,
) -> AppResult<Option<u64>> {
    let by_address = accounts::failures_since(conn, email, Some(ip), PER_ADDRESS.start(now))?;
    let by_email = accounts::failures_since(conn, email, None, PER_EMAIL.start(now))?;
    Ok(PER_ADDRESS
        .retry_after(&by_address, now)
        .max(PER_EMAIL.retry_after(&by_email, now)))
}

/// Starts a password attempt: 429 when `email` is throttled for `ip`,
/// otherwise the attempt is counted as a failure *before* the password is
/// checked, so guesses sent in parallel all count against the limit.
/// [`password_accepted`] takes the count back when the password was right.
pub async fn begin_attempt(state: &AppState, email: &str, ip: &str) -> AppResult<()> {
    let (email, ip, now) = (email.to_owned(), ip.to_owned(), state.clock.now_naive());
    state
        .db
        .write(move |conn| {
            accounts::lock_user_by_email(conn, &email)?;
            if let Some(retry_after_secs) = throttled(conn, &email, &ip, now)? {
                return Err(AppError::TooManyRequests {
                    code: "too_many_attempts",
                    retry_after_secs,
                });
            }
            accounts::prune_failures(conn, &email, PER_EMAIL.start(now))?;
            accounts::record_failure(conn, &email, &ip, now)
        })
        .await
}

/// The password was right: this address starts again from zero.
pub fn password_accepted(conn: &mut DbConnection, email: &str, ip: &str) -> AppResult<()> {
    accounts::clear_failures(conn, email, ip)
}

/// Create an account.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created and signed in", body = SessionResponse),
        (status = 409, description = "The e-mail is taken"),
        (status = 422, description = "A field is out of range"),
    )
)]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    body: ApiJson<RegisterRequest>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    let mut errors = Vec::new();
    let email = Email::parse(&body.email).map_err(|m| errors.push(FieldError::new("email", m)));
    let password =
        Password::parse(body.password).map_err(|m| errors.push(FieldError::new("password", m)));
    let name = DisplayName::parse(&body.display_name)
        .map_err(|m| errors.push(FieldError::new("display_name", m)));
    let timezone = match body.timezone.as_deref() {
        Some(raw) => Timezone::parse(raw).map_err(|m| errors.push(FieldError::new("timezone", m))),
        None => Ok(Timezone::default()),
    };
    let (Ok(email), Ok(password), Ok(name), Ok(timezone)) = (email, password, name, timezone)
    else {
        return Err(AppError::Unprocessable(errors));
    };
    let hash = state.hasher.hash(password.expose().to_owned()).await?;
    let role = body.role;
    let st = state.clone();
    let session = state
        .db
        .write(move |conn| {
            let now = st.clock.now_naive();
            let user = accounts::insert_user(
                conn,
                &NewUser {
                    id: Uuid::new_v4().to_string(),
                    email: email.as_str(),
                    password_hash: &hash,
                    display_name: &name.into_inner(),
                    role: role.as_str(),
                    timezone: timezone.name(),
                    change_seq: 0,
                    created_at: now,
                    updated_at: now,
                },
            )?;
            let tokens = issue_tokens(conn, &st, &user.id, role, None, now)?;
            Ok(SessionResponse {
                user: UserResponse::from_row(user)?,
                tokens,
            })
        })
        .await?;
    tracing::info!(user_id = %session.user.id, role = role.as_str(), "account created");
    Ok(HttpResponse::Created()
        .insert_header(("Location", "/v1/me"))
        .json(session))
}

/// Sign in with e-mail and password.
///
/// An unknown e-mail and a wrong password get one identical answer. After 5
/// failures for one e-mail from one address within 15 minutes, or 100 from
/// any address within an hour, every attempt gets 429 until the window passes.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionResponse),
        (status = 401, description = "Unknown e-mail or wrong password"),
        (status = 429, description = "Too many failures; see Retry-After"),
    )
)]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<LoginRequest>,
) -> AppResult<HttpResponse> {
    let LoginRequest { email, password } = body.0;
    let email = email.trim().to_lowercase();
    let ip = client_ip(&req, &state.trusted_proxies);
    begin_attempt(&state, &email, &ip).await?;
    let em = email.clone();
    let user = state
        .db
        .run(move |conn| accounts::find_user_by_email(conn, &em))
        .await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    // Over-long passwords are never truncated; they simply cannot match.
    let password_ok = state.hasher.verify(password, stored_hash).await?;
    let Some(user) = user.filter(|_| password_ok) else {
        return Err(invalid_credentials());
    };
    let st = state.clone();
    let session = state
        .db
        .write(move |conn| {
            password_accepted(conn, &email, &ip)?;
            let now = st.clock.now_naive();
            let tokens = issue_tokens(conn, &st, &user.id, user.role()?, None, now)?;
            Ok(SessionResponse {
                user: UserResponse::from_row(user)?,
                tokens,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(session))
}

/// Exchange a refresh token for new tokens.
///
/// Each refresh token works once. Presenting one that was already used
/// revokes every token of that login (reuse detection): clients must
/// serialise their refreshes.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = RefreshResponse),
        (status = 401, description = "Unknown, expired, used or revoked refresh token"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> AppResult<HttpResponse> {
    let hash = hash_refresh_token(&body.0.refresh_token);
    let st = state.clone();
    let outcome = state
        .db
        .write(move |conn| {
            let now = st.clock.now_naive();
            // A reuse must commit its revocation, so every outcome is Ok here.
            Ok(match accounts::use_refresh_token(conn, &hash, now)? {
                Rotation::Rotated { user, family_id } => {
                    let role = user.role()?;
                    Ok(issue_tokens(
                        conn,
                        &st,
                        &user.id,
                        role,
                        Some(&family_id),
                        now,
                    )?)
                }
                Rotation::Reused => Err(true),
                Rotation::Invalid => Err(false),
            })
        })
        .await?;
    match outcome {
        Ok(tokens) => Ok(HttpResponse::Ok().json(RefreshResponse { tokens })),
        Err(reused) => {
            if reused {
                tracing::warn!("refresh token reuse detected; token family revoked");
            }
            Err(invalid_refresh())
        }
    }
}

/// Sign out: revokes the refresh token and every token rotated from it.
///
/// Answers 204 whether or not the token was known, so a client can always
/// forget its tokens.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out"))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> AppResult<HttpResponse> {
    let hash = hash_refresh_token(&body.0.refresh_token);
    let now = state.clock.now_naive();
    state
        .db
        .write(move |conn| accounts::revoke_family_of(conn, &hash, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
