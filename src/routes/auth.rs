//! `/v1/auth/*`: registration, login, token refresh and logout.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::input::{client, client_key, user_agent, ApiJson};
use crate::config::TherapistSignup;
use crate::domain::{DomainError, Role};
use crate::error::{AppError, AppResult};
use crate::service::account::SignUp;
pub use crate::service::account::UserResponse;
use crate::service::account_email::{self, Confirmation};
use crate::service::session;
pub use crate::service::session::{SessionResponse, TokensResponse};
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
pub struct RefreshResponse {
    pub tokens: TokensResponse,
}

// ---------------------------------------------------------------- the dashboard's cookie

/// A browser dashboard asks for its refresh token as a cookie with this
/// request header (value `cookie`). A cross-site form cannot send a custom
/// header, and the CORS policy lets no other origin's script send it, so
/// the cookie is only ever used by the dashboard's own requests.
pub const SESSION_HEADER: &str = "x-painline-session";
/// The cookie holding a dashboard's refresh token: `HttpOnly` (no script
/// reads it), `SameSite=Strict`, `Secure` whenever the public URL is https.
pub const REFRESH_COOKIE: &str = "painline_refresh";
/// The only routes the cookie is sent to.
const COOKIE_PATHS: [&str; 2] = ["/v1/auth/refresh", "/v1/auth/logout"];

/// Whether the request asks for the cookie; a value other than `cookie` is
/// a 400 naming the header.
fn session_mode(req: &HttpRequest) -> AppResult<bool> {
    match req.headers().get(SESSION_HEADER) {
        None => Ok(false),
        Some(value) => match value.to_str().map(str::trim) {
            Ok(v) if v.eq_ignore_ascii_case("cookie") => Ok(true),
            _ => Err(super::http::bad_header(
                "X-Painline-Session",
                "X-Painline-Session may only be cookie.",
                "must be cookie, or be left out",
            )),
        },
    }
}

fn wants_cookie(req: &HttpRequest) -> bool {
    matches!(session_mode(req), Ok(true))
}

/// The cookies for both routes: holding `token`, or clearing it. `Secure`
/// when the service is public over https or this request came over https.
fn refresh_cookies(
    req: &HttpRequest,
    state: &AppState,
    token: Option<&str>,
    max_age: i64,
) -> Vec<Cookie<'static>> {
    let secure =
        state.mail.public_url.starts_with("https://") || req.connection_info().scheme() == "https";
    COOKIE_PATHS
        .iter()
        .map(|path| {
            Cookie::build(REFRESH_COOKIE, token.unwrap_or_default().to_owned())
                .path(*path)
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(secure)
                .max_age(time::Duration::seconds(if token.is_some() {
                    max_age
                } else {
                    0
                }))
                .finish()
        })
        .collect()
}

/// When the request asked for a cookie, moves the refresh token out of
/// `tokens` (the answer's body) into the cookie of `answer`.
fn keep_in_cookie(
    req: &HttpRequest,
    state: &AppState,
    answer: &mut HttpResponseBuilder,
    tokens: &mut TokensResponse,
) {
    if wants_cookie(req) {
        let token = tokens.refresh_token.take();
        for cookie in refresh_cookies(req, state, token.as_deref(), tokens.refresh_expires_in) {
            answer.cookie(cookie);
        }
    }
}

/// The one value of `X-Painline-Session`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    /// The refresh token travels in the `painline_refresh` cookie.
    Cookie,
}

/// The refresh token a request presents: in the JSON body (apps), or in the
/// cookie with the session header (the dashboard; the body is not read).
pub enum Presented {
    Body(String),
    Cookie(Option<String>),
    /// Neither a body nor the header: nothing to refresh or end.
    Nothing,
}

impl FromRequest for Presented {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let cookie_mode = match session_mode(req) {
            Ok(mode) => mode,
            Err(refused) => return Box::pin(std::future::ready(Err(refused))),
        };
        let cookie = req
            .cookie(REFRESH_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|t| !t.is_empty());
        let empty = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .is_none()
            && req
                .headers()
                .get(actix_web::http::header::CONTENT_LENGTH)
                .is_none_or(|length| length.as_bytes() == b"0");
        match (cookie_mode, empty) {
            (true, true) => Box::pin(std::future::ready(Ok(Self::Cookie(cookie)))),
            (false, true) => Box::pin(std::future::ready(Ok(Self::Nothing))),
            // A body sent with the header must still be a well-formed one;
            // the cookie is what counts.
            (true, false) => {
                let body = ApiJson::<RefreshRequest>::from_request(req, payload);
                Box::pin(async move {
                    body.await?;
                    Ok(Self::Cookie(cookie))
                })
            }
            (false, false) => {
                let body = ApiJson::<RefreshRequest>::from_request(req, payload);
                Box::pin(async move { Ok(Self::Body(body.await?.0.refresh_token)) })
            }
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
        (status = 403, description = "`therapist_signup_closed`: the role is `therapist` and this service makes therapist accounts only with `painline therapist add` (`PAINLINE_THERAPIST_SIGNUP=closed`, the default)"),
        (status = 409, description = "The e-mail is taken"),
        (status = 422, description = "A field is out of range"),
        (status = 429, description = "Too many sign-ups from this client (`PAINLINE_SIGNUPS_PER_HOUR`, default 20 an hour; a 409 counts too); see Retry-After"),
    )
)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<RegisterRequest>,
) -> AppResult<HttpResponse> {
    let body = body.0;
    if body.role == Role::Therapist && state.therapist_signup == TherapistSignup::Closed {
        return Err(DomainError::TherapistSignupClosed.into());
    }
    let sign_up = SignUp {
        email: &body.email,
        password: body.password,
        display_name: &body.display_name,
        role: body.role,
        timezone: body.timezone.as_deref(),
    };
    let client = client(&req, &state.trusted_proxies);
    let session = session::sign_up(
        &state.db,
        &state.clock,
        &state.hasher,
        &state.mail,
        &state.tokens,
        sign_up,
        client,
        state.sign_ups,
    )
    .await?;
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
    params(("X-Painline-Session" = Option<SessionMode>, Header,
        description = "`cookie` (browser dashboards): the refresh token is set as an HttpOnly, SameSite=Strict cookie for `/v1/auth/refresh` and `/v1/auth/logout` instead of being in the body")),
    responses(
        (status = 200, description = "Signed in", body = SessionResponse,
            headers(("Set-Cookie" = String, description = "With `X-Painline-Session: cookie` only: `painline_refresh`, once for each of the two paths"))),
        (status = 400, description = "X-Painline-Session is something other than `cookie`"),
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
    session_mode(&req)?;
    let client = client(&req, &state.trusted_proxies);
    let session = session::sign_in(
        &state.db,
        &state.clock,
        &state.hasher,
        &state.tokens,
        &email,
        password,
        client,
    )
    .await?;
    let mut session = session;
    let mut answer = HttpResponse::Ok();
    keep_in_cookie(&req, &state, &mut answer, &mut session.tokens);
    Ok(answer.json(session))
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
    params(("X-Painline-Session" = Option<SessionMode>, Header,
        description = "`cookie` (browser dashboards): the refresh token is read from the `painline_refresh` cookie, not the body, and the new one is set as that cookie. Without this header the cookie is ignored")),
    responses(
        (status = 200, description = "New tokens", body = RefreshResponse,
            headers(("Set-Cookie" = String, description = "With `X-Painline-Session: cookie` only: the new refresh token"))),
        (status = 204, description = "With `X-Painline-Session: cookie` and no cookie: no session to resume"),
        (status = 400, description = "X-Painline-Session is something other than `cookie`"),
        (status = 401, description = "Unknown, expired, used or revoked refresh token"),
    )
)]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    presented: Presented,
) -> AppResult<HttpResponse> {
    let token = match presented {
        Presented::Body(token) | Presented::Cookie(Some(token)) => token,
        // A dashboard opened without a session: nothing to resume (not an
        // error, so a first visit logs none in the browser).
        Presented::Cookie(None) => return Ok(HttpResponse::NoContent().finish()),
        Presented::Nothing => return Err(DomainError::InvalidRefreshToken.into()),
    };
    let refreshed = session::refresh(
        &state.db,
        &state.clock,
        &state.tokens,
        &token,
        user_agent(&req),
    )
    .await;
    let mut tokens = match refreshed {
        Ok(tokens) => tokens,
        // A dead cookie is cleared, so a reload does not present it again.
        Err(error) if wants_cookie(&req) => {
            let mut answer = actix_web::ResponseError::error_response(&AppError::from(error));
            for cookie in refresh_cookies(&req, &state, None, 0) {
                answer.add_cookie(&cookie).map_err(AppError::internal)?;
            }
            return Ok(answer);
        }
        Err(error) => return Err(error.into()),
    };
    let mut answer = HttpResponse::Ok();
    keep_in_cookie(&req, &state, &mut answer, &mut tokens);
    Ok(answer.json(RefreshResponse { tokens }))
}

/// Sign out: revokes the refresh token and every token rotated from it.
///
/// Answers 204 whether or not the token was known, so a client can always
/// forget its tokens.
#[utoipa::path(
    post, path = "/v1/auth/logout",
    tag = "auth",
    request_body = RefreshRequest,
    params(("X-Painline-Session" = Option<SessionMode>, Header,
        description = "`cookie` (browser dashboards): the refresh token is read from the `painline_refresh` cookie, not the body, and the cookie is cleared")),
    responses(
        (status = 204, description = "Signed out",
            headers(("Set-Cookie" = String, description = "With `X-Painline-Session: cookie` only: the cleared cookie"))),
        (status = 400, description = "X-Painline-Session is something other than `cookie`"),
    )
)]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    presented: Presented,
) -> AppResult<HttpResponse> {
    let mut answer = HttpResponse::NoContent();
    let token = match presented {
        Presented::Body(token) => Some(token),
        Presented::Nothing => None,
        Presented::Cookie(token) => {
            for cookie in refresh_cookies(&req, &state, None, 0) {
                answer.cookie(cookie);
            }
            token
        }
    };
    if let Some(token) = token {
        session::sign_out(&state.db, &state.clock, &token).await?;
    }
    Ok(answer.finish())
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
        (status = 422, description = "`email` is not an e-mail address"),
        (status = 429, description = "Too many requests for this address or from this client; see Retry-After"),
    )
)]
pub async fn password_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<PasswordResetRequest>,
) -> AppResult<HttpResponse> {
    let ip = client_key(&req, &state.trusted_proxies);
    account_email::request_password_reset(&state.db, &state.clock, &state.mail, &body.0.email, ip)
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted { status: "accepted" }))
}

/// Set a new password with the token of a reset link.
///
/// Every login of the account ends (its refresh tokens are revoked), and the
/// address counts as verified. When that proves the address for the first
/// time, every care-team link and open invitation of the account ends too
/// (the answer counts them): whoever used the account before may not have
/// owned the address. An unknown, used, voided or expired token gets one
/// identical 400 `invalid_token`.
#[utoipa::path(
    post, path = "/v1/auth/password-reset/confirm",
    tag = "auth",
    request_body = PasswordResetConfirm,
    responses(
        (status = 200, description = "The password is set; sign in with it. `ended` counts what ended", body = Confirmation),
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
    let (user_id, confirmation) = account_email::confirm_password_reset(
        &state.db,
        &state.clock,
        &state.hasher,
        &token,
        new_password,
    )
    .await?;
    tracing::info!(user_id = %user_id, "password reset; refresh tokens revoked");
    Ok(HttpResponse::Ok().json(confirmation))
}

/// Confirm an address with the token of a mailed link.
///
/// The link of a verification mail verifies the account's address; the
/// first proof of an address ends every login, care-team link and open
/// invitation of the account (the answer counts them), since whoever made
/// them may not own the address. The link sent to a new address (`PATCH
/// /v1/me` with `email`) makes it the account's address, verified, and
/// voids the links sent to the old one.
#[utoipa::path(
    post, path = "/v1/auth/verify-email",
    tag = "auth",
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "The address is verified (or is now the account's); `ended` counts what ended", body = Confirmation),
        (status = 400, description = "`invalid_token`, or a malformed body"),
        (status = 409, description = "The new address was taken meanwhile (`email_taken`); the link works until it expires"),
    )
)]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: ApiJson<VerifyEmailRequest>,
) -> AppResult<HttpResponse> {
    let confirmation = account_email::verify_email(&state.db, &state.clock, &body.0.token).await?;
    Ok(HttpResponse::Ok().json(confirmation))
}
