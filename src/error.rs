//! One error type for the whole API, rendered as `application/problem+json`
//! (RFC 9457) with a stable `code`. Internal causes go to the log, never to
//! the client.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub type AppResult<T> = Result<T, AppError>;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field (`pain_level`, `areas[1].minutes`) or the query/path parameter.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
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
    pub code: String,
    /// Per-field errors (400 and 422).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// `Display` names the class and code only: tracing-actix-web writes it into
/// the request's log line, and a detail can quote what the client sent.
#[derive(thiserror::Error)]
pub enum AppError {
    /// 400: malformed JSON, wrong types, unknown fields, bad parameters.
    #[error("bad request ({code})")]
    BadRequest {
        code: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
    /// 401 with `WWW-Authenticate: Bearer`.
    #[error("unauthorized ({code})")]
    Unauthorized {
        code: &'static str,
        detail: &'static str,
    },
    /// 403: the caller's role may not use this route or object.
    #[error("forbidden ({code})")]
    Forbidden {
        code: &'static str,
        detail: &'static str,
    },
    /// 404: absent, or not the caller's.
    #[error("not found")]
    NotFound,
    /// 409
    #[error("conflict ({code})")]
    Conflict {
        code: &'static str,
        detail: &'static str,
    },
    /// 412: `If-Match` did not match.
    #[error("precondition failed")]
    PreconditionFailed,
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
        code: &'static str,
        retry_after_secs: u64,
    },
    /// 503 with `Retry-After`: the database or the hashing pool is saturated or down.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: anything unexpected. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Like `Display`: the request's own content stays out of the log.
impl std::fmt::Debug for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn bad_request(
        code: &'static str,
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

    pub fn unauthenticated() -> Self {
        Self::Unauthorized {
            code: "invalid_token",
            detail: "The access token is missing, malformed, expired or revoked.",
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::BadRequest { code, detail, .. } => {
                (StatusCode::BAD_REQUEST, code, detail.clone())
            }
            Self::Unauthorized { code, detail } => {
                (StatusCode::UNAUTHORIZED, code, (*detail).into())
            }
            Self::Forbidden { code, detail } => (StatusCode::FORBIDDEN, code, (*detail).into()),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "No such resource.".into(),
            ),
            Self::Conflict { code, detail } => (StatusCode::CONFLICT, code, (*detail).into()),
            Self::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "If-Match does not match the current version.".into(),
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than 64 KiB.".into(),
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The request body must be application/json.".into(),
            ),
            Self::Unprocessable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "One or more fields have values out of range.".into(),
            ),
            Self::TooManyRequests { code, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                code,
                "Too many attempts; retry after the time in Retry-After.".into(),
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service is temporarily unavailable; retry shortly.".into(),
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "An unexpected error occurred.".into(),
            ),
        }
    }
}

/// Builds a problem response; used by [`AppError`] and by the handlers that
/// convert actix's own errors (unknown route, wrong method).
pub fn problem_response(
    status: StatusCode,
    code: &str,
    detail: String,
    errors: Vec<FieldError>,
) -> HttpResponse {
    let body = Problem {
        type_uri: format!("urn:painline:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        code: code.to_owned(),
        errors,
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
            Self::Internal(cause) => tracing::error!(error = %cause, "request failed"),
            Self::Unavailable(cause) => tracing::warn!(error = %cause, "service unavailable"),
            _ => {}
        }
        let errors = match self {
            Self::BadRequest { errors, .. } | Self::Unprocessable(errors) => errors.clone(),
            _ => Vec::new(),
        };
        let mut response = problem_response(status, code, detail, errors);
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
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

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::NotFound => Self::NotFound,
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            // Lock waits that ran out: SQLite's busy timeout, PostgreSQL's
            // lock_timeout and statement_timeout. diesel exposes no SQLSTATE.
            Error::DatabaseError(_, ref info) if is_timeout(info.message()) => {
                Self::Unavailable(info.message().to_owned())
            }
            // PostgreSQL refuses text that is not valid UTF-8 for it (a NUL byte).
            Error::DatabaseError(_, ref info)
                if info.message().contains("invalid byte sequence") =>
            {
                Self::bad_request(
                    "invalid_text",
                    "Text must not contain NUL characters.",
                    vec![],
                )
            }
            other => Self::internal(other),
        }
    }
}

fn is_timeout(message: &str) -> bool {
    message.contains("database is locked")
        || message.contains("database is busy")
        || message.contains("canceling statement due to lock timeout")
        || message.contains("canceling statement due to statement timeout")
        // A deadlock victim's transaction was rolled back; a retry succeeds.
        || message.contains("deadlock detected")
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(format!("database pool: {err}"))
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        Self::Unavailable("blocking pool shut down".into())
    }
}
