//! What the rules refuse. Storage, services and the pure protocol return
//! these; only `crate::error` decides which HTTP answer each one becomes.

use serde::Serialize;
use utoipa::ToSchema;

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

/// A request the domain's rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Absent, or someone else's: the two are never told apart.
    #[error("no such object")]
    NotFound,
    /// The object was recorded by someone else.
    #[error("only the author may change this object")]
    NotAuthor,
    /// `If-Match` names a version that is not the current one (`current`:
    /// the object's version, `None` when it has no current representation).
    #[error("If-Match does not match the current version")]
    PreconditionFailed { current: Option<i64> },
    /// Values out of range, each with its field.
    #[error("values out of range")]
    Invalid(Vec<FieldError>),
    /// The caller's token outlived their account.
    #[error("the account no longer exists")]
    AccountGone,
    /// This service makes therapist accounts only from its command line.
    #[error("therapist sign-up is closed")]
    TherapistSignupClosed,
    /// The caller's role may not act on patient data this way.
    #[error("only patients may use this route")]
    PatientsOnly,
    #[error("only therapists may use this route")]
    TherapistsOnly,
    /// The invitation was redeemed: there is nothing to withdraw.
    #[error("the invitation was already redeemed")]
    InvitationUsed,
    /// Too many attempts within a throttle's window (wrong invitation
    /// codes, password guesses, mail requests).
    #[error("too many attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("the Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    /// Another request with the key is still being answered.
    #[error("a request with this Idempotency-Key is being processed")]
    IdempotencyKeyInFlight,
    #[error("the e-mail address is taken")]
    EmailTaken,
    /// The id names a built-in object (a stretch of the catalog).
    #[error("the id is taken by a built-in object")]
    IdTaken,
    /// A date range that, once defaulted, is backwards or too long (400).
    #[error("bad date range")]
    BadRange(FieldError),
    /// The e-mail and password of a sign-in do not name an account.
    #[error("unknown e-mail or wrong password")]
    InvalidCredentials,
    /// A refresh token that is unknown, expired, used or revoked.
    #[error("the refresh token does not work")]
    InvalidRefreshToken,
    /// The password that confirms a change of the account is wrong; names
    /// the field that carried it.
    #[error("wrong password")]
    WrongPassword { field: &'static str },
    /// The token of a mailed account link (reset, verification, change of
    /// address) is unknown, used, voided or expired.
    #[error("the link does not work")]
    InvalidAccountLink,
    /// The token of an unsubscribe link is unknown or too old.
    #[error("the unsubscribe link does not work")]
    InvalidUnsubscribeLink,
    /// The address is verified already: no new link is sent.
    #[error("the address is verified already")]
    AlreadyVerified,
    /// A care-team step (an invitation, a redeem) by an account whose
    /// address is not proven yet, where mail really reaches people.
    #[error("the address is not verified")]
    EmailUnverified,
    /// A linked therapist's write found the link ended when it took the
    /// patient's lock (after its scope was decided): 404, as for no link.
    #[error("the link has ended")]
    LinkEnded,
    /// The caller's login has ended (or its account is gone): an action
    /// that needs an open login is refused.
    #[error("the login has ended")]
    LoginEnded,
    /// The caller runs as many streamed exports as one account may.
    #[error("too many exports at once")]
    TooManyExports { retry_after_secs: u64 },
    /// Another account waits for a change of address to this address.
    #[error("a change to this address is pending")]
    AddressChangePending,
    /// A sync cursor beyond the account's last change (another account's,
    /// or from before a restore).
    #[error("the sync cursor is ahead of the account's changes")]
    CursorAhead,
    /// The sync cursor was issued by another copy of the database (the one
    /// this was restored from, or a restore of this one).
    #[error("the sync cursor is from another copy of the database")]
    CursorFromAnotherCopy,
}

impl DomainError {
    /// `Invalid` when `errors` is not empty.
    pub fn check(errors: Vec<FieldError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self::Invalid(errors))
        }
    }
}
