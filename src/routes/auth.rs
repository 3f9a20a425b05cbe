//! `/v1/auth/*`: registration, login, token refresh and logout.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::input::{client_ip, ApiJson};
use crate::auth::throttle::{PER_ADDRESS, PER_EMAIL};
use crate::auth::tokens::{hash_refresh_token, new_refresh_token};
use crate::db::accounts::{self, NewRefreshToken, Rotation};
use crate::db::logins;
use crate::db::{Db, DbConnection, DbResult};
use crate::domain::{Email, Role};
use crate::error::{AppError, AppResult, ErrorCode};
pub use crate::service::account::UserResponse;
use crate::service::account::{self, SignUp};
use crate::service::account_email;
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

/// Issues an access token and stores a new refresh token, for login
/// `family` (a refresh) or for a new login seen from `user_agent`.
pub fn issue_tokens(
    conn: &mut DbConnection,
    state: &AppState,
    user_id: &str,
    role: Role,
    family: Option<&str>,
    user_agent: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<TokensResponse> {
    let uuid: Uuid = user_id.parse().map_err(AppError::internal)?;
    let login: Uuid = match family {
        Some(id) => id.parse().map_err(AppError::internal)?,
        None => Uuid::new_v4(),
    };
    let login_id = login.to_string();
    let expires_at = now + Duration::seconds(state.tokens.refresh_ttl);
    match family {
        // The login ended while this refresh was on its way (ended from
        // another device, say): no new token joins it.
        Some(_) => {
            if !logins::touch(conn, &login_id, user_agent, now, expires_at)? {
                return Err(invalid_refresh());
            }
        }
        None => logins::start(conn, &login_id, user_id, user_agent, now, expires_at)?,
    }
    let access_token = state
        .tokens
        .issue_access(uuid, role, login, now.and_utc())
        .map_err(AppError::internal)?;
    let (refresh_token, hash) = new_refresh_token();
    accounts::insert_refresh_token(
        conn,
        &NewRefreshToken {
            id: Uuid::new_v4().to_string(),
            user_id,
            family_id: &login_id,
            token_hash: &hash,
            created_at: now,
            expires_at,
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

/// The `User-Agent` a login is shown with: printable, at most 200
/// characters, `None` when absent or empty. It is what the client says,
/// for the account's owner to recognise a device, never trusted.
pub fn user_agent(req: &HttpRequest) -> Option<String> {
    let raw = req.headers().get(actix_web::http::header::USER_AGENT)?;
    let text = String::from_utf8_lossy(raw.as_bytes());
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_MAX)
        .collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_owned())
}

/// The longest `user_agent` a login keeps, in characters.
pub const USER_AGENT_MAX: usize = 200;

fn invalid_credentials() -> AppError {
    AppError::Unauthorized {
        code: ErrorCode::InvalidCredentials,
        detail: "The e-mail or password is incorrect.",
    }
}

fn invalid_refresh() -> AppError {
    AppError::Unauthorized {
        code: ErrorCode::InvalidRefreshToken,
        detail: "The refresh token is unknown, expired, or was already used.",
    }
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

/// A password attempt, counted against the throttle from the moment it
/// starts so that guesses sent in parallel all count. Its verdict decides
/// what stays: a wrong password stays a failure; a right one clears the
/// address's failures; an attempt that ends without a verdict (an error, a
/// dropped request) was no guess and is taken back.
pub struct Attempt {
    db: Db,
    email: String,
    ip: String,
    reserved: Option<String>,
}

impl Attempt {
    /// Starts an attempt: 429 when `email` is throttled for `ip`. Call it
    /// holding a hashing slot, so only attempts that will be hashed are
    /// counted and a login flood queues on the hashing pool, not on writes.
    pub async fn begin(state: &AppState, email: &str, ip: &str) -> AppResult<Self> {
        let (em, addr, now) = (email.to_owned(), ip.to_owned(), state.clock.now_naive());
        let reserved = state
            .db
            .write(move |conn| -> AppResult<_> {
                accounts::lock_user_by_email(conn, &em)?;
                if let Some(retry_after_secs) = throttled(conn, &em, &addr, now)? {
                    return Err(AppError::TooManyRequests {
                        code: ErrorCode::TooManyAttempts,
                        retry_after_secs,
                    });
                }
                Ok(accounts::record_failure(conn, &em, &addr, now)?)
            })
            .await?;
        Ok(Self {
            db: state.db.clone(),
            email: email.to_owned(),
            ip: ip.to_owned(),
            reserved: Some(reserved),
        })
    }

    /// The password was wrong: the attempt stays a failure.
    pub fn failed(mut self) {
        self.reserved = None;
    }

    /// The password was right: a function that, run inside the transaction
    /// completing the request, lets this address start again from zero.
    /// (The attempt itself stays outside: it must be dropped where it can
    /// spawn its clean-up.)
    pub fn acceptance(&self) -> impl FnOnce(&mut DbConnection) -> DbResult<()> + Send + 'static {
        let (email, ip) = (self.email.clone(), self.ip.clone());
        move |conn| accounts::clear_failures(conn, &email, &ip)
    }

    /// The transaction that ran [`Attempt::acceptance`] committed.
    pub fn accepted(mut self) {
        self.reserved = None;
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let Some(id) = self.reserved.take() else {
            return;
        };
        let db = self.db.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(e) = db.write(move |conn| accounts::delete_failure(conn, &id)).await {
                        tracing::warn!(error = %e, "could not take back an undecided password attempt");
                    }
                });
            }
            Err(_) => tracing::warn!("undecided password attempt left counted: no runtime"),
        }
    }
}

/// Create an account.
#[utoipa::path(
    post, path = "/v1/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created and signed in", body = SessionResponse),
        (status = 409, description = "The e-mail is taken"),
        (status = 422, description = "A field is out of range"),
    )
)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<RegisterRequest>,
) -> AppResult<HttpResponse> {
    let agent = user_agent(&req);
    let body = body.0;
    let role = body.role;
    let sign_up = SignUp {
        email: &body.email,
        password: body.password,
        display_name: &body.display_name,
        role,
        timezone: body.timezone.as_deref(),
    };
    let new = account::prepare(&state.hasher, sign_up).await?;
    let st = state.clone();
    let session = state
        .db
        .write(move |conn| -> AppResult<_> {
            let now = st.clock.now_naive();
            let user = account::create(conn, new, now)?;
            account_email::queue_verification(conn, &st.mail, &user, now)?;
            let tokens = issue_tokens(conn, &st, &user.id, role, None, agent.as_deref(), now)?;
            Ok(SessionResponse {
                user: UserResponse::from_row(user)?,
                tokens,
            })
        })
        .await?;
    state.mail.wake();
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
    post, path = "/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionResponse),
        (status = 401, description = "Unknown e-mail or wrong password"),
        (status = 429, description = "Too many failures; see Retry-After"),
    )
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<LoginRequest>,
) -> AppResult<HttpResponse> {
    let LoginRequest { email, password } = body.0;
    let ip = client_ip(&req, &state.trusted_proxies);
    let agent = user_agent(&req);
    let slot = state.hasher.slot().await?;
    // Something that is not an e-mail address cannot name an account; it
    // gets the same work and the same answer as an unknown one.
    // Looked up as stored (trimmed, lower-cased) without the sign-up rules:
    // a rule added later must not lock an existing account out.
    let Some(email) = Email::normalise_for_lookup(&email) else {
        slot.verify(password, None).await?;
        return Err(invalid_credentials());
    };
    let attempt = Attempt::begin(&state, &email, &ip).await?;
    let em = email.clone();
    let user = state
        .db
        .run(move |conn| accounts::find_user_by_email(conn, &em))
        .await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    // Over-long passwords are never truncated; they simply cannot match.
    let password_ok = slot.verify(password, stored_hash).await?;
    let Some(user) = user.filter(|_| password_ok) else {
        attempt.failed();
        return Err(invalid_credentials());
    };
    let st = state.clone();
    let accept = attempt.acceptance();
    let session = state
        .db
        .write(move |conn| -> AppResult<_> {
            accept(conn)?;
            let now = st.clock.now_naive();
            let role = user.role()?;
            let tokens = issue_tokens(conn, &st, &user.id, role, None, agent.as_deref(), now)?;
            Ok(SessionResponse {
                user: UserResponse::from_row(user)?,
                tokens,
            })
        })
        .await?;
    attempt.accepted();
    Ok(HttpResponse::Ok().json(session))
}

/// Exchange a refresh token for new tokens.
///
/// Each refresh token works once. Presented again within
/// `PAINLINE_REFRESH_GRACE` seconds (default 10) of its first use, it gets
/// another fresh pair of the same login, since phones lose answers; later
/// than that, it revokes every token of that login (reuse detection).
/// Clients should still serialise their refreshes.
#[utoipa::path(
    post, path = "/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = RefreshResponse),
        (status = 401, description = "Unknown, expired, used or revoked refresh token"),
    )
)]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> AppResult<HttpResponse> {
    let agent = user_agent(&req);
    let hash = hash_refresh_token(&body.0.refresh_token);
    let st = state.clone();
    let outcome = state
        .db
        .write(move |conn| -> AppResult<_> {
            let now = st.clock.now_naive();
            // A reuse must commit its revocation, so every outcome is Ok here.
            let grace = st.tokens.refresh_grace;
            Ok(
                match accounts::use_refresh_token(conn, &hash, now, grace)? {
                    Rotation::Rotated {
                        user,
                        family_id,
                        again,
                    } => {
                        if again {
                            tracing::info!(
                                "refresh token presented again within the grace; fresh pair issued"
                            );
                        }
                        let role = user.role()?;
                        Ok(issue_tokens(
                            conn,
                            &st,
                            &user.id,
                            role,
                            Some(&family_id),
                            agent.as_deref(),
                            now,
                        )?)
                    }
                    Rotation::Reused => Err(true),
                    Rotation::Invalid => Err(false),
                },
            )
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
    post, path = "/v1/auth/logout",
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out"))
)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The account's address (any case, blanks around it ignored).
    #[schema(example = "ana@example.org")]
    pub email: String,
}

/// The one answer to a reset request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// The token from the mailed link (after `#token=`).
    pub token: String,
    /// 12 to 128 characters, never truncated.
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The token from the mailed link (after `#token=`).
    pub token: String,
}

/// Ask for a link to reset a forgotten password.
///
/// The answer is the same, after the same work, whether or not the address
/// has an account; if it has, a mail with a link is queued (valid 30
/// minutes, single use; a newer link voids older ones). Throttled: 5
/// requests per address and 20 per client address within an hour, for
/// every address alike.
#[utoipa::path(
    post, path = "/v1/auth/password-reset",
    tag = "auth",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Accepted (whether or not the address has an account)", body = Accepted),
        (status = 429, description = "Too many requests for this address or from this client; see Retry-After"),
    )
)]
pub async fn password_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<PasswordResetRequest>,
) -> AppResult<HttpResponse> {
    let ip = client_ip(&req, &state.trusted_proxies);
    account_email::request_password_reset(&state.db, &state.clock, &state.mail, &body.0.email, ip)
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted { status: "accepted" }))
}

/// Set a new password with the token of a reset link.
///
/// Every login of the account ends (its refresh tokens are revoked), and the
/// address counts as verified. An unknown, used, voided or expired token
/// gets one identical 400 `invalid_token`.
#[utoipa::path(
    post, path = "/v1/auth/password-reset/confirm",
    tag = "auth",
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "The password is set; sign in with it"),
        (status = 400, description = "`invalid_token`, or a malformed body"),
        (status = 422, description = "`new_password` is out of range"),
    )
)]
pub async fn password_reset_confirm(
    state: web::Data<AppState>,
    body: ApiJson<PasswordResetConfirm>,
) -> AppResult<HttpResponse> {
    let PasswordResetConfirm {
        token,
        new_password,
    } = body.0;
    let user_id = account_email::confirm_password_reset(
        &state.db,
        &state.clock,
        &state.hasher,
        &token,
        new_password,
    )
    .await?;
    tracing::info!(user_id = %user_id, "password reset; refresh tokens revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// Confirm an address with the token of a mailed link.
///
/// The link of a verification mail verifies the account's address; the
/// link sent to a new address (`PATCH /v1/me` with `email`) makes it the
/// account's address, verified, and voids the links sent to the old one.
#[utoipa::path(
    post, path = "/v1/auth/verify-email",
    tag = "auth",
    request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "The address is verified (or is now the account's)"),
        (status = 400, description = "`invalid_token`, or a malformed body"),
        (status = 409, description = "The new address was taken meanwhile (`email_taken`); the link works until it expires"),
    )
)]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: ApiJson<VerifyEmailRequest>,
) -> AppResult<HttpResponse> {
    account_email::verify_email(&state.db, &state.clock, &body.0.token).await?;
    Ok(HttpResponse::NoContent().finish())
}
