//! Account e-mail (docs/api-guide.md): password reset and address verification.
//! Each request that causes a mail queues it in the transaction that
//! records what the mail is about (the token), then wakes the sender.

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult};
use crate::auth::throttle::Window;
use crate::auth::tokens::{hash_refresh_token, new_refresh_token};
use crate::auth::PasswordHasher;
use crate::clock::Clock;
use crate::db::accounts::{self, UserRow};
use crate::db::care_team;
use crate::db::mail::{self, Purpose};
use crate::db::{Db, DbConnection, DbError};
use crate::domain::{DomainError, Email, FieldError, Password, UserId};
use crate::mail::compose::{self, Recipient};
use crate::mail::MailContext;

/// A reset link works this long (docs/api-guide.md).
pub const RESET_VALID: Duration = Duration::minutes(30);
/// A verification link works this long: a week, since people read mail late
/// and nothing is at stake before they click.
pub const VERIFY_VALID: Duration = Duration::days(7);

/// A link to confirm a new address works this long.
pub const CHANGE_VALID: Duration = Duration::hours(24);

/// The set-password link of an account the clinic made works this long:
/// a week, like a verification link, since staff read mail late.
pub const WELCOME_VALID: Duration = Duration::days(7);

/// Changes of address one account may ask for within an hour.
const CHANGES_PER_ACCOUNT: Window = Window {
    limit: 5,
    length: Duration::hours(1),
};

/// Reset requests for one address within an hour…
const RESETS_PER_EMAIL: Window = Window {
    limit: 5,
    length: Duration::hours(1),
};
/// …and from one client address (across addresses) within an hour.
const RESETS_PER_ADDRESS: Window = Window {
    limit: 20,
    length: Duration::hours(1),
};
/// New verification mails one account may ask for within an hour.
const VERIFICATIONS_PER_ACCOUNT: Window = Window {
    limit: 5,
    length: Duration::hours(1),
};

/// Queues a verification mail to `user`'s address, in the caller's
/// transaction, within the address's budget; the older links stop working.
pub fn queue_verification(
    conn: &mut DbConnection,
    mail: &MailContext,
    user: &UserRow,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    if !super::budget_allows(conn, mail, "verify_email", &user.email, now)? {
        return Ok(());
    }
    let (token, hash) = new_refresh_token();
    let expires = now + VERIFY_VALID;
    mail::issue_token(
        conn,
        &hash,
        &user.id,
        Purpose::VerifyEmail,
        &user.email,
        now,
        expires,
    )?;
    let message = compose::verify_email(
        &mail.from,
        &Recipient {
            email: &user.email,
            // The address is not proven: no text the requester chose.
            display_name: None,
        },
        &mail.public_url,
        &token,
        expires.and_utc(),
    )?;
    match message {
        Some(message) => super::enqueue_account(conn, message, now)?,
        None => {
            tracing::warn!(user_id = %user.id, "no verification mail: the address cannot be mailed")
        }
    }
    Ok(())
}

/// A therapist account made by the clinic (`painline therapist add`):
/// created with a random password nobody knows, and a mail with a link to
/// choose one (valid [`WELCOME_VALID`]) queued in the same transaction.
/// 409 `email_taken` when the address has an account; 422 naming the field
/// for a bad address, name or time zone.
pub async fn add_therapist(
    db: &Db,
    clock: &Clock,
    hasher: &PasswordHasher,
    context: &MailContext,
    email: &str,
    display_name: &str,
    timezone: Option<&str>,
) -> ServiceResult<UserRow> {
    let (unknown_password, _) = new_refresh_token();
    let (checked, password) = super::account::check(super::account::SignUp {
        email,
        password: unknown_password,
        display_name,
        role: crate::domain::Role::Therapist,
        timezone,
    })?;
    let hash = hasher.hash(password.expose().to_owned()).await?;
    let new = checked.with_hash(hash);
    let (clock, context) = (clock.clone(), context.clone());
    let user = db
        .write(move |conn| -> ServiceResult<UserRow> {
            let now = clock.now_naive();
            let user = super::account::create(conn, new, now)?;
            let (token, hash) = new_refresh_token();
            let expires = now + WELCOME_VALID;
            let purpose = Purpose::PasswordReset;
            mail::issue_token(conn, &hash, &user.id, purpose, &user.email, now, expires)?;
            let message = compose::therapist_welcome(
                &context.from,
                &Recipient {
                    email: &user.email,
                    display_name: Some(&user.display_name),
                },
                &context.public_url,
                &token,
                expires.and_utc(),
            )?
            .ok_or_else(unmailable)?;
            super::enqueue_account(conn, message, now)?;
            Ok(user)
        })
        .await?;
    tracing::info!(user_id = %user.id, "therapist account added; set-password mail queued");
    Ok(user)
}

/// 422 for an address the mail library refuses to send to.
fn unmailable() -> DomainError {
    DomainError::Invalid(vec![FieldError::new(
        "email",
        "is an address no mail can be sent to",
    )])
}

/// 429 when `window` holds too many `requests` already.
fn throttle(window: Window, requests: &[NaiveDateTime], now: NaiveDateTime) -> ServiceResult<()> {
    // A request is counted before it is answered, so `limit` are allowed.
    match window.retry_after(requests, now) {
        Some(retry_after_secs) => Err(DomainError::TooManyAttempts { retry_after_secs }.into()),
        None => Ok(()),
    }
}

/// Counts a request of `kind` (`password_reset`, `verify_email`,
/// `change_email`, `sign_up`) about `email` from `client`: 429 when
/// `per_email` (if any), or `per_client` across addresses (if any), is
/// full already; else it is recorded (a request is counted before it is
/// answered). The address is kept as its hash.
pub(super) fn count_request(
    conn: &mut DbConnection,
    kind: &str,
    email: &str,
    client: &str,
    per_email: Option<Window>,
    per_client: Option<Window>,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    let email = super::address_hash(email);
    if let Some(window) = per_email {
        let by_email = mail::requests_since(conn, kind, Some(&email), None, window.start(now))?;
        throttle(window, &by_email, now)?;
    }
    if let Some(window) = per_client {
        let by_client = mail::requests_since(conn, kind, None, Some(client), window.start(now))?;
        throttle(window, &by_client, now)?;
    }
    mail::record_request(conn, kind, &email, client, now)?;
    Ok(())
}

/// `POST /v1/auth/password-reset`: the same answer at the same moment
/// whether `raw_email` names an account or not. Throttled per address and
/// per client, like logins, also for addresses without an account; 422 for
/// text that is no e-mail address. Whether the address has an account is
/// looked up after the answer, so its timing tells nothing.
pub async fn request_password_reset(
    db: &Db,
    clock: &Clock,
    mail: &MailContext,
    raw_email: &str,
    client: String,
) -> ServiceResult<()> {
    let email = Email::normalise_for_lookup(raw_email).ok_or_else(|| {
        DomainError::Invalid(vec![FieldError::new("email", "is not an e-mail address")])
    })?;
    let now = clock.now_naive();
    let counted = email.clone();
    db.write(move |conn| {
        let kind = Purpose::PasswordReset.as_str();
        let (per_email, per_client) = (Some(RESETS_PER_EMAIL), Some(RESETS_PER_ADDRESS));
        count_request(conn, kind, &counted, &client, per_email, per_client, now)
    })
    .await?;
    let (db, clock, context) = (db.clone(), clock.clone(), mail.clone());
    tokio::spawn(async move {
        match queue_reset(&db, &clock, &context, email).await {
            Ok(true) => context.wake(),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "a reset mail could not be queued"),
        }
    });
    Ok(())
}

/// The reset link for the account at `email`, if there is one.
async fn queue_reset(
    db: &Db,
    clock: &Clock,
    context: &MailContext,
    email: String,
) -> ServiceResult<bool> {
    let (clock, context) = (clock.clone(), context.clone());
    db.write(move |conn| -> ServiceResult<bool> {
        let now = clock.now_naive();
        let Some(user) = accounts::find_user_by_email(conn, &email)? else {
            return Ok(false);
        };
        if !super::budget_allows(conn, &context, "password_reset", &user.email, now)? {
            return Ok(false);
        }
        let (token, hash) = new_refresh_token();
        let expires = now + RESET_VALID;
        let purpose = Purpose::PasswordReset;
        mail::issue_token(conn, &hash, &user.id, purpose, &user.email, now, expires)?;
        let message = compose::password_reset(
            &context.from,
            &Recipient {
                email: &user.email,
                display_name: chosen_name(&user),
            },
            &context.public_url,
            &token,
            expires.and_utc(),
        )?;
        let Some(message) = message else {
            tracing::warn!(user_id = %user.id, "no reset mail: the address cannot be mailed");
            return Ok(false);
        };
        super::enqueue_account(conn, message, now)?;
        Ok(true)
    })
    .await
}

/// The account's display name, for a mail to its address once the address
/// is proven; `None` before: a mail to an address not yet proven carries
/// no text its requester chose.
pub(super) fn chosen_name(user: &UserRow) -> Option<&str> {
    user.email_verified_at
        .is_some()
        .then_some(user.display_name.as_str())
}

/// What confirming a mailed link did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Confirmation {
    pub status: Confirmed,
    /// What was open on the account and has ended. A reset ends every
    /// login. A link that proves the account's address for the first time
    /// also ends every login, care-team link and open invitation: they were
    /// made by whoever knew the password, who need not own the address.
    pub ended: Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Confirmed {
    /// A reset link: the new password is set (and the address verified).
    PasswordSet,
    /// A verification link: the address is verified.
    Verified,
    /// A change-of-address link: the new address is the account's, verified.
    AddressChanged,
}

/// Counts of what a first proof of the address ended.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Ended {
    /// Care-team links, on either side (patients or therapists).
    pub care_team_links: usize,
    /// The therapist's invitations not yet redeemed.
    pub invitations: usize,
    /// Logins (refresh-token families); the devices sign in again.
    pub logins: usize,
}

/// The address of `user_id` is proven by a link to it: when it had never
/// been (`first`), everything the password holder had opened ends.
fn proven(
    conn: &mut DbConnection,
    user_id: &str,
    first: bool,
    now: NaiveDateTime,
) -> ServiceResult<Ended> {
    if !first {
        return Ok(Ended::default());
    }
    let user: UserId = user_id.parse().map_err(ServiceError::internal)?;
    let ended = Ended {
        care_team_links: care_team::end_all_links(conn, user, now)?,
        invitations: care_team::withdraw_open_invitations(conn, user, now)?,
        logins: accounts::revoke_all_for_user(conn, user_id, now)?,
    };
    tracing::info!(
        user_id,
        links = ended.care_team_links,
        invitations = ended.invitations,
        logins = ended.logins,
        "address proven for the first time; what was open has ended"
    );
    Ok(ended)
}

/// One answer for every token that does not work: unknown, used, expired,
/// voided by a newer one, or for another purpose.
fn invalid_token() -> ServiceError {
    DomainError::InvalidAccountLink.into()
}

/// `POST /v1/auth/password-reset/confirm`: sets the password, ends every
/// login of the account, and counts as proof of the address.
pub async fn confirm_password_reset(
    db: &Db,
    clock: &Clock,
    hasher: &PasswordHasher,
    token: &str,
    new_password: String,
) -> ServiceResult<(String, Confirmation)> {
    let password = Password::parse(new_password)
        .map_err(|m| DomainError::Invalid(vec![FieldError::new("new_password", m)]))?;
    let hash = hash_refresh_token(token);
    // Checked before the (costly) hashing, and again when it is used.
    let probe = hash.clone();
    let probed_at = clock.now_naive();
    let known = db
        .run(move |conn| mail::find_token(conn, &probe, &[Purpose::PasswordReset], probed_at))
        .await?;
    if known.is_none() {
        return Err(invalid_token());
    }
    let password_hash = hasher.hash(password.expose().to_owned()).await?;
    let clock = clock.clone();
    db.write(move |conn| -> ServiceResult<_> {
        let now = clock.now_naive();
        let token = mail::use_token(conn, &hash, &[Purpose::PasswordReset], now)?
            .ok_or_else(invalid_token)?;
        accounts::update_password_hash(conn, &token.user_id, &password_hash, now)?;
        // Whoever knew the old password may have asked for a change of
        // address: that link, and every other one outstanding, stops.
        mail::void_tokens(conn, &token.user_id, None, now)?;
        // The link reached this address: it is verified.
        let first = mail::mark_verified(conn, &token.user_id, &token.email, now)?;
        let mut ended = proven(conn, &token.user_id, first, now)?;
        ended.logins += accounts::revoke_all_for_user(conn, &token.user_id, now)?;
        // Whoever guessed at the old password (from many addresses, say)
        // does not keep the owner, who just proved the address, out.
        accounts::clear_all_failures(conn, &token.email)?;
        let status = Confirmed::PasswordSet;
        Ok((token.user_id, Confirmation { status, ended }))
    })
    .await
}

/// `POST /v1/auth/verify-email`: the address the link was sent to is the
/// account's: verified (when it still is the account's), or, for the link
/// of a change of address, now the account's address (409 `email_taken`
/// when another account took it meanwhile; the link then keeps working
/// until it expires).
pub async fn verify_email(db: &Db, clock: &Clock, token: &str) -> ServiceResult<Confirmation> {
    let hash = hash_refresh_token(token);
    let clock = clock.clone();
    db.write(move |conn| -> ServiceResult<Confirmation> {
        let now = clock.now_naive();
        let purposes = [Purpose::VerifyEmail, Purpose::ChangeEmail];
        let token = mail::use_token(conn, &hash, &purposes, now)?.ok_or_else(invalid_token)?;
        if token.purpose == Purpose::VerifyEmail {
            let first = mail::mark_verified(conn, &token.user_id, &token.email, now)?;
            let ended = proven(conn, &token.user_id, first, now)?;
            let status = Confirmed::Verified;
            return Ok(Confirmation { status, ended });
        }
        let changed = Confirmation {
            status: Confirmed::AddressChanged,
            ended: Ended::default(),
        };
        if let Some(holder) = accounts::find_user_by_email(conn, &token.email)? {
            if holder.id == token.user_id {
                return Ok(changed);
            }
            return Err(DomainError::EmailTaken.into());
        }
        match mail::change_address(conn, &token.user_id, &token.email, now) {
            Err(DbError::Duplicate(_)) => return Err(DomainError::EmailTaken.into()),
            other => other?,
        }
        // Links sent to the old address stop working.
        mail::void_tokens(conn, &token.user_id, None, now)?;
        tracing::info!(user_id = %token.user_id, "e-mail address changed");
        Ok(changed)
    })
    .await
}

/// Counts a change of address asked for by `user` (5 an hour, 429 past
/// that), in a transaction of its own: it stays counted whatever the
/// request is answered, so the 409 for a taken address cannot be used to
/// test many addresses for accounts.
pub async fn count_address_change(
    db: &Db,
    clock: &Clock,
    user_email: String,
    client_ip: String,
) -> ServiceResult<()> {
    let clock = clock.clone();
    db.write(move |conn| -> ServiceResult<()> {
        let now = clock.now_naive();
        let kind = Purpose::ChangeEmail.as_str();
        let per_account = Some(CHANGES_PER_ACCOUNT);
        count_request(conn, kind, &user_email, &client_ip, per_account, None, now)
    })
    .await
}

/// `PATCH /v1/me` with `email` (the password is checked and the request
/// counted by the caller): in the caller's transaction, a link to
/// `new_email` that makes it the account's address, and a notice to the
/// present one. 409 when the address is taken now (`email_taken`), or
/// when another account waits for a change to it (`address_change_pending`:
/// one pending change targets an address at a time, so cycling accounts
/// cannot fill its mailbox).
pub fn request_address_change(
    conn: &mut DbConnection,
    mail: &MailContext,
    user: &UserRow,
    new_email: &str,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    if accounts::find_user_by_email(conn, new_email)?.is_some() {
        return Err(DomainError::EmailTaken.into());
    }
    if mail::change_pending_elsewhere(conn, new_email, &user.id, now)? {
        return Err(DomainError::AddressChangePending.into());
    }
    // Past the new address's budget nothing is sent or changed (the link
    // would void the one sent before); the request is answered alike.
    if !super::budget_allows(conn, mail, "change_email", new_email, now)? {
        return Ok(());
    }
    let purpose = Purpose::ChangeEmail;
    let (token, hash) = new_refresh_token();
    let expires = now + CHANGE_VALID;
    mail::issue_token(conn, &hash, &user.id, purpose, new_email, now, expires)?;
    let link = compose::change_email(
        &mail.from,
        &Recipient {
            email: new_email,
            // The new address is not proven: no text the requester chose.
            display_name: None,
        },
        &mail.public_url,
        &token,
        expires.and_utc(),
    )?
    .ok_or_else(unmailable)?;
    super::enqueue_account(conn, link, now)?;
    let notice = compose::address_change_notice(
        &mail.from,
        &Recipient {
            email: &user.email,
            display_name: chosen_name(user),
        },
        &mail.public_url,
        new_email,
    )?;
    match notice {
        // A security notice to the present address is never dropped: a
        // flood of resets must not hide a change of address from its owner.
        // It counts against the budget all the same.
        Some(notice) => super::enqueue_account(conn, notice, now)?,
        None => tracing::warn!(user_id = %user.id, "no notice: the old address cannot be mailed"),
    }
    Ok(())
}

/// `POST /v1/me/verify-email`: a new link, unless the address is verified
/// already (409). Throttled per account.
pub async fn resend_verification(
    db: &Db,
    clock: &Clock,
    mail: &MailContext,
    user_id: String,
    client_ip: String,
) -> ServiceResult<()> {
    let (clock, context) = (clock.clone(), mail.clone());
    db.write(move |conn| -> ServiceResult<()> {
        let now = clock.now_naive();
        let user = accounts::find_user(conn, &user_id)?.ok_or(DomainError::AccountGone)?;
        if user.email_verified_at.is_some() {
            return Err(DomainError::AlreadyVerified.into());
        }
        let kind = Purpose::VerifyEmail.as_str();
        let per_account = Some(VERIFICATIONS_PER_ACCOUNT);
        count_request(conn, kind, &user.email, &client_ip, per_account, None, now)?;
        queue_verification(conn, &context, &user, now)
    })
    .await?;
    mail.wake();
    Ok(())
}
