//! The mail outbox, the one-time tokens mails carry, and the requests for
//! mail (for throttling). Every function runs in the caller's transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamp};
use uuid::Uuid;

use super::schema::{account_tokens, mail_budget, mail_outbox, mail_requests, users};
use super::{DbConnection, DbResult};

/// A composed mail, ready to be queued.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// What it is (`password_reset`, `verify_email`): for logs and metrics.
    pub kind: &'static str,
    /// Envelope sender and recipient (bare addresses).
    pub sender: String,
    pub recipient: String,
    /// The whole message, RFC 5322, as it will be sent.
    pub message: String,
}

/// Queues `mail`, due at once. Part of the caller's transaction: a request
/// that rolls back queues nothing, one that commits cannot lose its mail.
pub fn enqueue(conn: &mut DbConnection, mail: &NewMail, now: NaiveDateTime) -> DbResult<String> {
    let id = Uuid::new_v4().to_string();
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::id.eq(&id),
            mail_outbox::kind.eq(mail.kind),
            mail_outbox::sender.eq(&mail.sender),
            mail_outbox::recipient.eq(&mail.recipient),
            mail_outbox::message.eq(&mail.message),
            mail_outbox::created_at.eq(now),
            mail_outbox::attempts.eq(0),
            mail_outbox::next_attempt_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A mail this instance has claimed for sending.
#[derive(Debug, Clone, QueryableByName)]
pub struct DueMail {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub sender: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub message: String,
    #[diesel(sql_type = Timestamp)]
    pub created_at: NaiveDateTime,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// Claims up to `limit` due mails until `lease_until`: no other instance
/// takes them meanwhile (PostgreSQL skips rows another instance is
/// claiming; SQLite has one writer). A claim that is not settled (the
/// instance died while sending) runs out, and the mail is sent again.
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<DueMail>> {
    const PICK: &str = "SELECT id FROM mail_outbox \
        WHERE sent_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= {now} \
          AND (claimed_until IS NULL OR claimed_until <= {now}) \
        ORDER BY next_attempt_at, id LIMIT {limit}";
    let sql = |lease: &str, now: &str, limit: &str, lock: &str| {
        format!(
            "UPDATE mail_outbox SET claimed_until = {lease} WHERE id IN ({}{lock}) \
             RETURNING id, kind, sender, recipient, message, created_at, attempts",
            PICK.replace("{now}", now).replace("{limit}", limit)
        )
    };
    Ok(match conn {
        DbConnection::Postgres(pg) => {
            diesel::sql_query(sql("$1", "$2", "$3", " FOR UPDATE SKIP LOCKED"))
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(pg)?
        }
        DbConnection::Sqlite(lite) => diesel::sql_query(sql("?", "?", "?", ""))
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(lite)?,
    })
}

/// The mail went out.
pub fn mark_sent(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> DbResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::sent_at.eq(Some(now)),
            mail_outbox::claimed_until.eq(None::<NaiveDateTime>),
            mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            mail_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// The attempt failed: try again at `retry_at`, or, with `None`, give up.
pub fn mark_failed(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
    retry_at: Option<NaiveDateTime>,
    error: &str,
) -> DbResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::claimed_until.eq(None::<NaiveDateTime>),
            mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            mail_outbox::last_error.eq(Some(error)),
            mail_outbox::next_attempt_at.eq(retry_at.unwrap_or(now)),
            mail_outbox::given_up_at.eq(retry_at.is_none().then_some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sent and given-up mails older than `before` are deleted: the outbox is
/// a queue, not an archive of what people were told.
pub fn prune(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    Ok(diesel::delete(
        mail_outbox::table.filter(
            mail_outbox::sent_at
                .lt(before)
                .or(mail_outbox::given_up_at.lt(before)),
        ),
    )
    .execute(conn)?)
}

// ------------------------------------------------------------ one-time tokens

/// What a mailed token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    VerifyEmail,
    /// Makes the token's address the account's (a change of address).
    ChangeEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::VerifyEmail => "verify_email",
            Self::ChangeEmail => "change_email",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::PasswordReset, Self::VerifyEmail, Self::ChangeEmail]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }
}

/// Stores a new token (its hash) for `user_id`, sent to `email`; the older
/// unused tokens of the same purpose stop working.
pub fn issue_token(
    conn: &mut DbConnection,
    token_hash: &str,
    user_id: &str,
    purpose: Purpose,
    email: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> DbResult<()> {
    diesel::update(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null()),
    )
    .set(account_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::token_hash.eq(token_hash),
            account_tokens::user_id.eq(user_id),
            account_tokens::purpose.eq(purpose.as_str()),
            account_tokens::email.eq(email),
            account_tokens::created_at.eq(now),
            account_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A token that works now.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub user_id: String,
    pub purpose: Purpose,
    pub email: String,
}

/// The user, purpose and address of a token that is unused, unexpired and
/// for one of `purposes`.
pub fn find_token(
    conn: &mut DbConnection,
    token_hash: &str,
    purposes: &[Purpose],
    now: NaiveDateTime,
) -> DbResult<Option<TokenRow>> {
    let row: Option<(String, String, String)> = account_tokens::table
        .filter(account_tokens::token_hash.eq(token_hash))
        .filter(account_tokens::purpose.eq_any(purposes.iter().map(|p| p.as_str())))
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(now))
        .select((
            account_tokens::user_id,
            account_tokens::purpose,
            account_tokens::email,
        ))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(user_id, purpose, email)| {
        Some(TokenRow {
            user_id,
            purpose: Purpose::parse(&purpose)?,
            email,
        })
    }))
}

/// Uses the token: `Some` only for the one request that turns it from
/// working to used (two at once cannot both use it).
pub fn use_token(
    conn: &mut DbConnection,
    token_hash: &str,
    purposes: &[Purpose],
    now: NaiveDateTime,
) -> DbResult<Option<TokenRow>> {
    let Some(token) = find_token(conn, token_hash, purposes, now)? else {
        return Ok(None);
    };
    let used = diesel::update(
        account_tokens::table
            .filter(account_tokens::token_hash.eq(token_hash))
            .filter(account_tokens::used_at.is_null()),
    )
    .set(account_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok((used == 1).then_some(token))
}

/// Voids the unused tokens of `user_id` (of one purpose, or all): the
/// address changed, so links sent to the old one must not work; or the
/// password changed, so a change of address asked for with the old one
/// must not go through.
pub fn void_tokens(
    conn: &mut DbConnection,
    user_id: &str,
    purpose: Option<Purpose>,
    now: NaiveDateTime,
) -> DbResult<()> {
    let mut query = diesel::update(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::used_at.is_null()),
    )
    .into_boxed();
    if let Some(purpose) = purpose {
        query = query.filter(account_tokens::purpose.eq(purpose.as_str()));
    }
    query
        .set(account_tokens::used_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

/// Makes `email` the address of `user_id`, verified now (the link that
/// asks for it reached that address). A taken address is
/// `DbError::Duplicate`.
pub fn change_address(
    conn: &mut DbConnection,
    user_id: &str,
    email: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    diesel::update(users::table.filter(users::id.eq(user_id)))
        .set((
            users::email.eq(email),
            users::email_verified_at.eq(Some(now)),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks `email` of `user_id` verified (when it is still the account's address).
pub fn mark_verified(
    conn: &mut DbConnection,
    user_id: &str,
    email: &str,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let changed = diesel::update(
        users::table
            .filter(users::id.eq(user_id))
            .filter(users::email.eq(email))
            .filter(users::email_verified_at.is_null()),
    )
    .set(users::email_verified_at.eq(Some(now)))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Expired tokens are of no use to anyone.
pub fn prune_tokens(conn: &mut DbConnection, now: NaiveDateTime) -> DbResult<usize> {
    Ok(
        diesel::delete(account_tokens::table.filter(account_tokens::expires_at.lt(now)))
            .execute(conn)?,
    )
}

// ------------------------------------------------------------ mail requests

/// Whether an account other than `user_id` waits for a change of address
/// to `email`: a link sent to it that is neither used nor expired.
pub fn change_pending_elsewhere(
    conn: &mut DbConnection,
    email: &str,
    user_id: &str,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let pending: i64 = account_tokens::table
        .filter(account_tokens::email.eq(email))
        .filter(account_tokens::purpose.eq(Purpose::ChangeEmail.as_str()))
        .filter(account_tokens::user_id.ne(user_id))
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(pending > 0)
}

/// Who asked for mail to be sent to an address (or to sign up with one),
/// for throttling: `purpose` is the request's kind (`password_reset`,
/// `verify_email`, `change_email`, `sign_up`), `email` the address's hash.
pub fn record_request(
    conn: &mut DbConnection,
    purpose: &str,
    email: &str,
    client_ip: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    diesel::insert_into(mail_requests::table)
        .values((
            mail_requests::id.eq(Uuid::new_v4().to_string()),
            mail_requests::purpose.eq(purpose),
            mail_requests::email.eq(email),
            mail_requests::client_ip.eq(client_ip),
            mail_requests::at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Requests for `purpose` since `since`, oldest first: for one address
/// (`by_email`) or from one client address.
pub fn requests_since(
    conn: &mut DbConnection,
    purpose: &str,
    email: Option<&str>,
    client_ip: Option<&str>,
    since: NaiveDateTime,
) -> DbResult<Vec<NaiveDateTime>> {
    let mut query = mail_requests::table
        .filter(mail_requests::purpose.eq(purpose.to_owned()))
        .filter(mail_requests::at.gt(since))
        .select(mail_requests::at)
        .order(mail_requests::at.asc())
        .into_boxed();
    if let Some(email) = email {
        query = query.filter(mail_requests::email.eq(email.to_owned()));
    }
    if let Some(ip) = client_ip {
        query = query.filter(mail_requests::client_ip.eq(ip.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Requests, and account mail counted against an address's budget, that
/// no window counts any more.
pub fn prune_requests(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    let requests =
        diesel::delete(mail_requests::table.filter(mail_requests::at.lt(before))).execute(conn)?;
    let budget =
        diesel::delete(mail_budget::table.filter(mail_budget::at.lt(before))).execute(conn)?;
    Ok(requests + budget)
}

// ------------------------------------------------------------ per-address budget

/// Holds the address with hash `address_hash` until the transaction ends,
/// so that two requests about one address (its mail budget) count one
/// after the other. On SQLite, where one transaction writes at a time,
/// there is nothing to add.
pub fn lock_address(conn: &mut DbConnection, address_hash: &str) -> DbResult<()> {
    match conn {
        DbConnection::Postgres(c) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(address_hash)
                .execute(c)?;
        }
        DbConnection::Sqlite(_) => {}
    }
    Ok(())
}

/// When the address with hash `address_hash` was sent account mail since
/// `since`, oldest first.
pub fn budget_spent(
    conn: &mut DbConnection,
    address_hash: &str,
    since: NaiveDateTime,
) -> DbResult<Vec<NaiveDateTime>> {
    Ok(mail_budget::table
        .filter(mail_budget::address_hash.eq(address_hash))
        .filter(mail_budget::at.gt(since))
        .select(mail_budget::at)
        .order(mail_budget::at.asc())
        .load(conn)?)
}

/// Counts one account mail to the address with hash `address_hash`.
pub fn spend_budget(
    conn: &mut DbConnection,
    address_hash: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    diesel::insert_into(mail_budget::table)
        .values((
            mail_budget::id.eq(Uuid::new_v4().to_string()),
            mail_budget::address_hash.eq(address_hash),
            mail_budget::at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
