//! Use cases: what a request does, between the routes (HTTP) and storage
//! (SQL). Services take checked values, the caller's scope and the pieces
//! they need (the pool, the clock, a cache), run storage functions on the
//! blocking pool, and answer domain values or an [`ServiceError`]. They know
//! nothing of HTTP: `crate::error` decides what each error becomes.

pub mod account;
pub mod account_email;
pub mod backup;
pub mod care_team;
pub mod export;
pub mod logbook;
pub mod overview;
pub mod programme;
pub mod schedules;
pub mod session;
pub mod trends;

use chrono::{Duration, NaiveDateTime};

use crate::auth::password::HashError;
use crate::auth::throttle::Window;
use crate::auth::tokens::hash_refresh_token;
use crate::db::{self, DbConnection, DbError, DbResult};
use crate::domain::DomainError;
use crate::mail::compose::{ComposeError, Mail};
use crate::mail::MailContext;

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

/// Account mail (verification, reset, change of address, notices) one
/// address receives, whatever asked for it: 5 within an hour…
const ACCOUNT_MAIL_PER_HOUR: Window = Window {
    limit: 5,
    length: Duration::hours(1),
};
/// …and 20 within a day.
const ACCOUNT_MAIL_PER_DAY: Window = Window {
    limit: 20,
    length: Duration::days(1),
};

/// An address as throttles and budgets keep it: its SHA-256, not the text.
fn address_hash(email: &str) -> String {
    hash_refresh_token(email)
}

/// Whether `address` may receive one more account mail now. Asked before
/// anything of the mail is made (a token it would carry voids the older
/// ones), under a lock on the address so that concurrent requests count
/// one after another. Past the budget the mail of `kind` is dropped and
/// counted in `/metrics`; the request is answered as if it went, so the
/// budget tells the requester nothing.
fn budget_allows(
    conn: &mut DbConnection,
    context: &MailContext,
    kind: &'static str,
    address: &str,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let hash = address_hash(address);
    db::mail::lock_address(conn, &hash)?;
    let day = db::mail::budget_spent(conn, &hash, ACCOUNT_MAIL_PER_DAY.start(now))?;
    let hour_start = ACCOUNT_MAIL_PER_HOUR.start(now);
    let hour: Vec<NaiveDateTime> = day.iter().copied().filter(|at| *at > hour_start).collect();
    let allowed = ACCOUNT_MAIL_PER_HOUR.retry_after(&hour, now).is_none()
        && ACCOUNT_MAIL_PER_DAY.retry_after(&day, now).is_none();
    if !allowed {
        context.dropped.with_label_values(&[kind]).inc();
        tracing::info!(kind, "account mail dropped: its address had its budget");
    }
    Ok(allowed)
}

/// Queues an account mail in the caller's transaction and counts it
/// against its address's budget ([`budget_allows`] decides whether it may go).
fn enqueue_account(conn: &mut DbConnection, mail: Mail, now: NaiveDateTime) -> DbResult<()> {
    db::mail::spend_budget(conn, &address_hash(&mail.recipient), now)?;
    enqueue(conn, mail, now)?;
    Ok(())
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
