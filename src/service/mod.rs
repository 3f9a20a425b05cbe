//! Use cases: what a request does, between the routes (HTTP) and storage
//! (SQL). Services take checked values, the caller's scope and the pieces
//! they need (the pool, the clock, a cache), run storage functions on the
//! blocking pool, and answer domain values or an [`ServiceError`]. They know
//! nothing of HTTP: `crate::error` decides what each error becomes.

pub mod account;
pub mod account_email;
pub mod care_team;
pub mod export;
pub mod logbook;
pub mod overview;
pub mod schedules;
pub mod session;
pub mod trends;

use chrono::NaiveDateTime;

use crate::auth::password::HashError;
use crate::db::{self, DbConnection, DbError, DbResult};
use crate::domain::DomainError;
use crate::mail::compose::{ComposeError, Mail};

/// The cause of an unavailable part or of a broken invariant, kept for the
/// log (never sent to a client).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A rule of the domain refused the request.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A part other than the database is saturated or stopped (the
    /// password-hashing pool): the client may retry shortly.
    #[error("unavailable")]
    Unavailable(#[source] Cause),
    /// A broken invariant of this program.
    #[error("internal error")]
    Internal(#[source] Cause),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn unavailable(cause: impl Into<Cause>) -> Self {
        Self::Unavailable(cause.into())
    }
}

impl From<HashError> for ServiceError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Unavailable(_) => Self::unavailable(err),
            HashError::Failed(_) => Self::internal(err),
        }
    }
}

impl From<ComposeError> for ServiceError {
    fn from(err: ComposeError) -> Self {
        Self::internal(err)
    }
}

/// Queues a composed mail in the caller's transaction.
fn enqueue(conn: &mut DbConnection, mail: Mail, now: NaiveDateTime) -> DbResult<String> {
    let Mail {
        kind,
        sender,
        recipient,
        message,
    } = mail;
    db::mail::enqueue(
        conn,
        &db::mail::NewMail {
            kind,
            sender,
            recipient,
            message,
        },
        now,
    )
}
