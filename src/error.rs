//! One error type for the whole API, rendered as `application/problem+json`
//! (RFC 9457) with a stable `code`. Internal causes go to the log, never to
//! the client.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::domain::DomainError;
pub use crate::domain::FieldError;
use crate::service::ServiceError;

pub type AppResult<T> = Result<T, AppError>;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The cause of a 500 or 503, kept for the log (never sent to the client).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

macro_rules! error_codes {
    ($($variant:ident = $slug:tt,)*) => {
        /// The stable, machine-readable `code` of a problem answer: every
        /// code the service answers (the OpenAPI enum is made from this list).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        pub enum ErrorCode {
            $(#[serde(rename = $slug)] $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $slug,)*
                }
            }
        }
    };
}

error_codes! {
    BadRequest = "bad_request",
    MalformedJson = "malformed_json",
    InvalidBody = "invalid_body",
    UnreadableBody = "unreadable_body",
    InvalidQuery = "invalid_query",
    InvalidPath = "invalid_path",
    InvalidHeader = "invalid_header",
    InvalidText = "invalid_text",
    InvalidToken = "invalid_token",
    InvalidCredentials = "invalid_credentials",
    InvalidRefreshToken = "invalid_refresh_token",
    WrongPassword = "wrong_password",
    PatientsOnly = "patients_only",
    TherapistsOnly = "therapists_only",
    InvitationUsed = "invitation_used",
    NotAuthor = "not_author",
    NotFound = "not_found",
    MethodNotAllowed = "method_not_allowed",
    EmailTaken = "email_taken",
    AlreadyVerified = "already_verified",
    EmailUnverified = "email_unverified",
    AddressChangePending = "address_change_pending",
    TooManyExports = "too_many_exports",
    IdTaken = "id_taken",
    IdempotencyKeyReused = "idempotency_key_reused",
    IdempotencyKeyInFlight = "idempotency_key_in_flight",
    PreconditionFailed = "precondition_failed",
    TherapistSignupClosed = "therapist_signup_closed",
    TokenExpired = "token_expired",
    PayloadTooLarge = "payload_too_large",
    RequestTimeout = "request_timeout",
    UnsupportedMediaType = "unsupported_media_type",
    ValidationFailed = "validation_failed",
    TooManyAttempts = "too_many_attempts",
    Unavailable = "unavailable",
    InternalError = "internal_error",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:painline:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the problem class.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// Stable machine-readable slug, e.g. `validation_failed`, `not_found`.
    pub code: ErrorCode,
    /// Per-field errors (400 and 422).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// 412 only: the object's current version (also sent as `ETag`), absent
    /// when the object has no current representation (never created, or
    /// deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub version: Option<i64>,
}

/// `Display` names the class and code only: tracing-actix-web writes it into
/// the request's log line, and a detail can quote what the client sent. The
/// causes of 500 and 503 are kept as `source` and logged as a chain.
#[derive(thiserror::Error)]
pub enum AppError {
    /// 400: malformed JSON, wrong types, unknown fields, bad parameters.
    #[error("bad request ({code})")]
    BadRequest {
        code: ErrorCode,
        detail: String,
        errors: Vec<FieldError>,
    },
    /// 401 with `WWW-Authenticate: Bearer`.
    #[error("unauthorized ({code})")]
    Unauthorized {
        code: ErrorCode,
        detail: &'static str,
    },
    /// 403: the caller's role may not use this route or object.
    #[error("forbidden ({code})")]
    Forbidden {
        code: ErrorCode,
        detail: &'static str,
    },
    /// 403: the password that confirms a change of the account is wrong
    /// (the access token is fine, so not 401; the input is well formed, so
    /// not 422). Names the field.
    #[error("wrong password")]
    WrongPassword { field: &'static str },
    /// 404: absent, or not the caller's.
    #[error("not found")]
    NotFound,
    /// 409
    #[error("conflict ({code})")]
    Conflict {
        code: ErrorCode,
        detail: &'static str,
    },
    /// 412: `If-Match` did not match; the current version, if any.
    #[error("precondition failed")]
    PreconditionFailed { current: Option<i64> },
    /// 408: the body did not arrive in time.
    #[error("request timeout")]
    RequestTimeout,
    /// 413
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422: well-formed but out of range.
    #[error("validation failed")]
    Unprocessable(Vec<FieldError>),
    /// 429 with `Retry-After`.
    #[error("too many requests")]
    TooManyRequests {
        code: ErrorCode,
        retry_after_secs: u64,
    },
    /// 503 with `Retry-After`: the database or the hashing pool is saturated or down.
    #[error("service unavailable")]
    Unavailable(#[source] Cause),
    /// 500: anything unexpected. The cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Cause),
}

/// Like `Display`: the request's own content stays out of the log.
impl std::fmt::Debug for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// `error`, then each of its causes, joined by ": ".
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl AppError {
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn unavailable(cause: impl Into<Cause>) -> Self {
        Self::Unavailable(cause.into())
    }

    pub fn bad_request(
        code: ErrorCode,
        detail: impl Into<String>,
        errors: Vec<FieldError>,
    ) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
            errors,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unprocessable(vec![FieldError::new(field, message)])
    }

    /// 401 for an access token this service signed whose time has passed:
    /// the client refreshes and retries (RFC 6750 `invalid_token`).
    pub fn token_expired() -> Self {
        Self::Unauthorized {
            code: ErrorCode::TokenExpired,
            detail: "The access token has expired; get a new one with the refresh token (POST /v1/auth/refresh) and retry.",
        }
    }

    pub fn unauthenticated() -> Self {
        Self::Unauthorized {
            code: ErrorCode::InvalidToken,
            detail: "The access token is missing, malformed, not signed by this service's current key, or of a login that has ended; refresh once, and sign in again if that fails.",
        }
    }

    fn parts(&self) -> (StatusCode, ErrorCode, String) {
        match self {
            Self::BadRequest { code, detail, .. } => {
                (StatusCode::BAD_REQUEST, *code, detail.clone())
            }
            Self::Unauthorized { code, detail } => {
                (StatusCode::UNAUTHORIZED, *code, (*detail).into())
            }
            Self::Forbidden { code, detail } => (StatusCode::FORBIDDEN, *code, (*detail).into()),
            Self::WrongPassword { .. } => (
                StatusCode::FORBIDDEN,
                ErrorCode::WrongPassword,
                "The password does not match the account's password.".into(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "No such resource.".into(),
            ),
            Self::Conflict { code, detail } => (StatusCode::CONFLICT, *code, (*detail).into()),
            Self::PreconditionFailed { current } => (
                StatusCode::PRECONDITION_FAILED,
                ErrorCode::PreconditionFailed,
                match current {
                    Some(version) => format!(
                        "If-Match does not match the current version, which is {version} (ETag \"{version}\"): read it, merge, and send it again with that If-Match."
                    ),
                    None => "If-Match names a version, but the object has no current version (it was never created, or it is deleted).".into(),
                },
            ),
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                "The request body did not arrive in time.".into(),
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "The request body is larger than 64 KiB.".into(),
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "The request body must be application/json.".into(),
            ),
            Self::Unprocessable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
                "One or more fields have values out of range.".into(),
            ),
            Self::TooManyRequests { code, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                *code,
                match code {
                    ErrorCode::TooManyExports => {
                        "This account runs two exports already; retry after the time in Retry-After."
                    }
                    _ => "Too many attempts; retry after the time in Retry-After.",
                }
                .into(),
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "The service is temporarily unavailable; retry shortly.".into(),
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                "An unexpected error occurred.".into(),
            ),
        }
    }
}

/// Builds a problem response; used by [`AppError`] and by the handlers that
/// convert actix's own errors (unknown route, wrong method).
pub fn problem_response(
    status: StatusCode,
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
) -> HttpResponse {
    problem_with_version(status, code, detail, errors, None)
}

fn problem_with_version(
    status: StatusCode,
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
    version: Option<i64>,
) -> HttpResponse {
    let body = Problem {
        type_uri: format!("urn:painline:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        code,
        errors,
        version,
    };
    let json = serde_json::to_string(&body).unwrap_or_default();
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
        .body(json)
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, detail) = self.parts();
        match self {
            Self::Internal(_) => tracing::error!(error = %chain(self), "request failed"),
            Self::Unavailable(_) => tracing::error!(error = %chain(self), "service unavailable"),
            _ => {}
        }
        let errors = match self {
            Self::BadRequest { errors, .. } | Self::Unprocessable(errors) => errors.clone(),
            Self::WrongPassword { field } => vec![FieldError::new(
                *field,
                "does not match the account's password",
            )],
            _ => Vec::new(),
        };
        let current = match self {
            Self::PreconditionFailed { current } => *current,
            _ => None,
        };
        let mut response = problem_with_version(status, code, detail, errors, current);
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized {
                code: ErrorCode::TokenExpired,
                ..
            } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        r#"Bearer error="invalid_token", error_description="The access token expired""#,
                    ),
                );
            }
            Self::Unauthorized { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::PreconditionFailed {
                current: Some(version),
            } => {
                if let Ok(etag) = HeaderValue::from_str(&crate::domain::version::etag(*version)) {
                    headers.insert(header::ETAG, etag);
                }
            }
            Self::TooManyRequests {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            _ => {}
        }
        response
    }
}

impl From<DomainError> for AppError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::NotFound | DomainError::LinkEnded => Self::NotFound,
            DomainError::NotAuthor => Self::Forbidden {
                code: ErrorCode::NotAuthor,
                detail: "Only the author of this object may change it.",
            },
            DomainError::PreconditionFailed { current } => Self::PreconditionFailed { current },
            DomainError::Invalid(errors) => Self::Unprocessable(errors),
            DomainError::AccountGone | DomainError::LoginEnded => Self::unauthenticated(),
            DomainError::TherapistSignupClosed => Self::Forbidden {
                code: ErrorCode::TherapistSignupClosed,
                detail: "This service does not let therapists sign up: the clinic creates therapist accounts (painline therapist add). Patients can sign up.",
            },
            DomainError::PatientsOnly => Self::Forbidden {
                code: ErrorCode::PatientsOnly,
                detail: "Only patients can use this route.",
            },
            DomainError::TherapistsOnly => Self::Forbidden {
                code: ErrorCode::TherapistsOnly,
                detail: "Only therapists can use this route.",
            },
            DomainError::InvitationUsed => Self::Conflict {
                code: ErrorCode::InvitationUsed,
                detail: "This invitation was redeemed; end the link to the patient instead.",
            },
            DomainError::TooManyAttempts { retry_after_secs } => Self::TooManyRequests {
                code: ErrorCode::TooManyAttempts,
                retry_after_secs,
            },
            DomainError::IdempotencyKeyReused => Self::Conflict {
                code: ErrorCode::IdempotencyKeyReused,
                detail: "This Idempotency-Key was used for a different request in the last 24 hours.",
            },
            DomainError::IdempotencyKeyInFlight => Self::Conflict {
                code: ErrorCode::IdempotencyKeyInFlight,
                detail: "A request with this Idempotency-Key is being processed; retry shortly.",
            },
            DomainError::IdTaken => Self::Conflict {
                code: ErrorCode::IdTaken,
                detail: "This id is a built-in stretch of the catalog; choose another.",
            },
            DomainError::EmailTaken => Self::Conflict {
                code: ErrorCode::EmailTaken,
                detail: "An account with this e-mail already exists.",
            },
            DomainError::BadRange(field) => Self::bad_request(
                ErrorCode::InvalidQuery,
                format!("Bad query parameter {}: {}", field.field, field.message),
                vec![field],
            ),
            DomainError::InvalidCredentials => Self::Unauthorized {
                code: ErrorCode::InvalidCredentials,
                detail: "The e-mail or password is incorrect.",
            },
            DomainError::InvalidRefreshToken => Self::Unauthorized {
                code: ErrorCode::InvalidRefreshToken,
                detail: "The refresh token is unknown, expired, or was already used.",
            },
            DomainError::WrongPassword { field } => Self::WrongPassword { field },
            DomainError::InvalidAccountLink => Self::bad_request(
                ErrorCode::InvalidToken,
                "The link is unknown, used or expired; ask for a new one.",
                vec![FieldError::new("token", "is unknown, used or expired")],
            ),
            DomainError::InvalidUnsubscribeLink => Self::bad_request(
                ErrorCode::InvalidToken,
                "The link is unknown or too old; turn the mails off in the app.",
                vec![FieldError::new("token", "is unknown or too old")],
            ),
            DomainError::AlreadyVerified => Self::Conflict {
                code: ErrorCode::AlreadyVerified,
                detail: "This address is verified already.",
            },
            DomainError::TooManyExports { retry_after_secs } => Self::TooManyRequests {
                code: ErrorCode::TooManyExports,
                retry_after_secs,
            },
            DomainError::AddressChangePending => Self::Conflict {
                code: ErrorCode::AddressChangePending,
                detail: "Another account is waiting to confirm a change to this address; try again once its link has expired (within 24 hours).",
            },
            DomainError::EmailUnverified => Self::Forbidden {
                code: ErrorCode::EmailUnverified,
                detail: "Confirm your e-mail address first: use the link mailed to it, or ask for a new one (POST /v1/me/verify-email).",
            },
            DomainError::CursorFromAnotherCopy => Self::bad_request(
                ErrorCode::InvalidQuery,
                "Bad query parameter cursor: the service's data was restored from a backup since it was issued; sync again from the start, then send again what the app holds that the feed does not",
                vec![FieldError::new("cursor", "is from before the data was restored from a backup")],
            ),
            DomainError::CursorAhead => Self::bad_request(
                ErrorCode::InvalidQuery,
                "Bad query parameter cursor: it is ahead of this account's changes; sync again from the start",
                vec![FieldError::new("cursor", "is ahead of this account's changes")],
            ),
        }
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => Self::NotFound,
            DbError::InvalidText(_) => Self::bad_request(
                ErrorCode::InvalidText,
                "Text must not contain NUL characters.",
                vec![],
            ),
            DbError::Unavailable(_) => Self::Unavailable(Box::new(err)),
            DbError::Duplicate(_) | DbError::Corrupt { .. } | DbError::Query(_) => {
                Self::Internal(Box::new(err))
            }
        }
    }
}

impl From<ServiceError> for AppError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Domain(e) => e.into(),
            ServiceError::Db(e) => e.into(),
            ServiceError::Unavailable(cause) => Self::Unavailable(cause),
            ServiceError::Internal(cause) => Self::Internal(cause),
        }
    }
}
