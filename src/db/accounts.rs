//! Users, refresh tokens and login throttling.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{login_failures, logins, refresh_tokens, users};
use super::{DbConnection, DbError, DbResult};
use crate::domain::{Role, Timezone};

#[derive(Debug, Clone, Queryable)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    pub role: String,
    pub timezone: String,
    pub change_seq: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub email_verified_at: Option<NaiveDateTime>,
}

impl UserRow {
    pub fn role(&self) -> DbResult<Role> {
        self.role
            .parse()
            .map_err(|()| DbError::corrupt("role of user", &self.id, "not a known role"))
    }

    /// The user's time zone. One that no longer parses (a zone removed from
    /// the tz database) is an error, not a silent UTC.
    pub fn timezone(&self) -> DbResult<Timezone> {
        Timezone::parse(&self.timezone)
            .map_err(|_| DbError::corrupt("time zone of user", &self.id, "not an IANA zone"))
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: String,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub timezone: &'a str,
    pub change_seq: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Inserts a user; `Duplicate` when the e-mail is taken.
pub fn insert_user(conn: &mut DbConnection, new: &NewUser<'_>) -> DbResult<UserRow> {
    diesel::insert_into(users::table)
        .values(new)
        .execute(conn)?;
    find_user(conn, &new.id)?.ok_or(DbError::NotFound)
}

pub fn find_user(conn: &mut DbConnection, id: &str) -> DbResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::id.eq(id))
        .select(users::all_columns)
        .first::<UserRow>(conn)
        .optional()?)
}

/// Whether the account `id` exists (a token may outlive its account).
pub fn user_exists(conn: &mut DbConnection, id: &str) -> DbResult<bool> {
    Ok(
        diesel::select(diesel::dsl::exists(users::table.filter(users::id.eq(id))))
            .get_result(conn)?,
    )
}

pub fn find_user_by_email(conn: &mut DbConnection, email: &str) -> DbResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::email.eq(email))
        .select(users::all_columns)
        .first::<UserRow>(conn)
        .optional()?)
}

/// Applies a profile change; `None` when the user no longer exists.
pub fn update_profile(
    conn: &mut DbConnection,
    id: &str,
    display_name: Option<&str>,
    timezone: Option<&str>,
    now: NaiveDateTime,
) -> DbResult<Option<UserRow>> {
    let Some(current) = find_user(conn, id)? else {
        return Ok(None);
    };
    diesel::update(users::table.filter(users::id.eq(id)))
        .set((
            users::display_name.eq(display_name.unwrap_or(&current.display_name)),
            users::timezone.eq(timezone.unwrap_or(&current.timezone)),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    find_user(conn, id)
}

pub fn update_password_hash(
    conn: &mut DbConnection,
    id: &str,
    hash: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    diesel::update(users::table.filter(users::id.eq(id)))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Erases the account; every row that belongs to it goes with it (foreign
/// keys cascade), and so do the throttling rows kept under its e-mail.
pub fn delete_user(conn: &mut DbConnection, user: &UserRow) -> DbResult<()> {
    // Locks in the orders other writers take them, so none can deadlock:
    // the scheduler holds a schedule row, then (inserting an unsubscribe
    // token) the user's key; password attempts lock the user row before
    // they touch `login_failures`.
    diesel::delete(
        super::schema::mail_schedules::table
            .filter(super::schema::mail_schedules::user_id.eq(&user.id)),
    )
    .execute(conn)?;
    // Mail to the account's address, or to an address it is waiting to
    // move to (and no other account has), is the account's data: queued or
    // sent, it goes.
    use super::schema::{account_tokens, mail_outbox};
    let pending: Vec<String> = account_tokens::table
        .filter(account_tokens::user_id.eq(&user.id))
        .filter(account_tokens::purpose.eq("change_email"))
        .filter(account_tokens::used_at.is_null())
        .select(account_tokens::email)
        .load(conn)?;
    let others: Vec<String> = users::table
        .filter(users::email.eq_any(&pending))
        .filter(users::id.ne(&user.id))
        .select(users::email)
        .load(conn)?;
    let mut addresses: Vec<&str> = pending
        .iter()
        .filter(|a| !others.contains(a))
        .map(String::as_str)
        .collect();
    addresses.push(&user.email);
    diesel::delete(mail_outbox::table.filter(mail_outbox::recipient.eq_any(addresses)))
        .execute(conn)?;
    diesel::delete(users::table.filter(users::id.eq(&user.id))).execute(conn)?;
    diesel::delete(login_failures::table.filter(login_failures::email.eq(&user.email)))
        .execute(conn)?;
    Ok(())
}

// ---------------------------------------------------------------- refresh tokens

#[derive(Debug, Clone, Queryable)]
pub struct RefreshTokenRow {
    pub id: String,
    pub user_id: String,
    pub family_id: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub id: String,
    pub user_id: &'a str,
    pub family_id: &'a str,
    pub token_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_refresh_token(conn: &mut DbConnection, new: &NewRefreshToken<'_>) -> DbResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// What presenting a refresh token led to.
pub enum Rotation {
    /// The token was fresh and is now used, or was used less than the
    /// grace ago (`again`): its user and family continue.
    Rotated {
        user: Box<UserRow>,
        family_id: String,
        again: bool,
    },
    /// Unknown or expired token: nothing changed.
    Invalid,
    /// The token had been revoked, or used longer than the grace ago: its
    /// family is now revoked.
    Reused,
}

/// Marks a presented refresh token as used. Call inside a write
/// transaction. A token used before is accepted again within `grace` of its
/// first use (a phone that lost the answer, or raced itself), and revokes
/// its family after that; a revoked token is refused whenever it comes.
/// Of several concurrent first uses, exactly one claims the token; the
/// others count as presented again (at the same moment).
pub fn use_refresh_token(
    conn: &mut DbConnection,
    hash: &str,
    now: NaiveDateTime,
    grace: chrono::Duration,
) -> DbResult<Rotation> {
    let Some(row) = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(refresh_tokens::all_columns)
        .first::<RefreshTokenRow>(conn)
        .optional()?
    else {
        return Ok(Rotation::Invalid);
    };
    // The login first, then its tokens: the order every writer of a
    // login's tokens keeps (see `logins::lock`). On PostgreSQL a guarded
    // update below that loses the race still holds the token's row lock.
    super::logins::lock(conn, &row.family_id)?;
    let within_grace =
        |used_at: NaiveDateTime| grace > chrono::Duration::zero() && now - used_at <= grace;
    if row.revoked_at.is_some() {
        revoke_family(conn, &row.family_id, now)?;
        return Ok(Rotation::Reused);
    }
    let again = match row.used_at {
        Some(used_at) if within_grace(used_at) => true,
        Some(_) => {
            revoke_family(conn, &row.family_id, now)?;
            return Ok(Rotation::Reused);
        }
        None => false,
    };
    if row.expires_at <= now {
        return Ok(Rotation::Invalid);
    }
    let mut again = again;
    if !again {
        // The guard in WHERE makes the claim atomic: a concurrent caller
        // updates nothing, and then reads what beat it.
        let claimed = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::id.eq(&row.id))
                .filter(refresh_tokens::used_at.is_null())
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::used_at.eq(now))
        .execute(conn)?;
        if claimed == 0 {
            let (used_at, revoked_at): (Option<NaiveDateTime>, Option<NaiveDateTime>) =
                refresh_tokens::table
                    .filter(refresh_tokens::id.eq(&row.id))
                    .select((refresh_tokens::used_at, refresh_tokens::revoked_at))
                    .first(conn)?;
            match (used_at, revoked_at) {
                (Some(used_at), None) if within_grace(used_at) => again = true,
                _ => {
                    revoke_family(conn, &row.family_id, now)?;
                    return Ok(Rotation::Reused);
                }
            }
        }
    }
    match find_user(conn, &row.user_id)? {
        Some(user) => Ok(Rotation::Rotated {
            user: Box::new(user),
            family_id: row.family_id,
            again,
        }),
        None => Ok(Rotation::Invalid),
    }
}

/// Ends login `family_id`: its refresh tokens are revoked at once.
pub fn revoke_family(conn: &mut DbConnection, family_id: &str, now: NaiveDateTime) -> DbResult<()> {
    super::logins::mark_ended(conn, family_id, now)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Logout: revokes the family of the presented token, if it is the caller's.
pub fn revoke_family_of(conn: &mut DbConnection, hash: &str, now: NaiveDateTime) -> DbResult<()> {
    let family: Option<String> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(refresh_tokens::family_id)
        .first(conn)
        .optional()?;
    if let Some(family) = family {
        revoke_family(conn, &family, now)?;
    }
    Ok(())
}

/// Ends every login of `user_id` (a new password, a password reset);
/// answers how many were open.
pub fn revoke_all_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
) -> DbResult<usize> {
    let ended = diesel::update(
        logins::table
            .filter(logins::user_id.eq(user_id))
            .filter(logins::ended_at.is_null()),
    )
    .set(logins::ended_at.eq(Some(now)))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(ended)
}

// ---------------------------------------------------------------- login throttling

/// Times of failed logins for `email` since `since`, oldest first, optionally
/// only those from one client address.
pub fn failures_since(
    conn: &mut DbConnection,
    email: &str,
    client_ip: Option<&str>,
    since: NaiveDateTime,
) -> DbResult<Vec<NaiveDateTime>> {
    let mut query = login_failures::table
        .filter(login_failures::email.eq(email))
        .filter(login_failures::at.gt(since))
        .select(login_failures::at)
        .order(login_failures::at.asc())
        .into_boxed();
    if let Some(ip) = client_ip {
        query = query.filter(login_failures::client_ip.eq(ip));
    }
    Ok(query.load(conn)?)
}

/// Records a failed (or not yet decided) attempt; answers its id.
pub fn record_failure(
    conn: &mut DbConnection,
    email: &str,
    client_ip: &str,
    now: NaiveDateTime,
) -> DbResult<String> {
    let id = Uuid::new_v4().to_string();
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(&id),
            login_failures::email.eq(email),
            login_failures::client_ip.eq(client_ip),
            login_failures::at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Takes back one recorded attempt that never reached a verdict.
pub fn delete_failure(conn: &mut DbConnection, id: &str) -> DbResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::id.eq(id))).execute(conn)?;
    Ok(())
}

/// Housekeeping: forgets failures (logins, invitation codes) older than the longest throttling window,
/// refresh tokens past their expiry, and idempotent answers older than a day.
pub fn prune_expired(conn: &mut DbConnection, now: NaiveDateTime) -> DbResult<usize> {
    use super::schema::idempotency_keys;
    let failures = diesel::delete(
        login_failures::table.filter(login_failures::at.le(now - chrono::Duration::hours(1))),
    )
    .execute(conn)?;
    let tokens = diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.le(now)))
        .execute(conn)?;
    let answers = diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::created_at.le(now - chrono::Duration::hours(24))),
    )
    .execute(conn)?;
    let codes = diesel::delete(
        super::schema::code_failures::table
            .filter(super::schema::code_failures::at.le(now - chrono::Duration::hours(1))),
    )
    .execute(conn)?;
    Ok(failures + tokens + answers + codes)
}

/// After a successful login, that address starts again from zero.
pub fn clear_failures(conn: &mut DbConnection, email: &str, client_ip: &str) -> DbResult<()> {
    diesel::delete(
        login_failures::table
            .filter(login_failures::email.eq(email))
            .filter(login_failures::client_ip.eq(client_ip)),
    )
    .execute(conn)?;
    Ok(())
}

/// After a password reset, the address's failures from every client go:
/// the account-wide lockout ends with them.
pub fn clear_all_failures(conn: &mut DbConnection, email: &str) -> DbResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)?;
    Ok(())
}

/// Locks the account with this e-mail, if there is one, until the
/// transaction ends (a no-op update, portable across both backends), so
/// that concurrent password attempts on one account are counted one after
/// another. Attempts on an unknown e-mail cannot succeed and need no lock.
/// Locks the account `id` until the transaction ends (a no-op update);
/// false when there is no such account.
pub fn lock_user(conn: &mut DbConnection, id: &str) -> DbResult<bool> {
    let locked = diesel::update(users::table.filter(users::id.eq(id)))
        .set(users::change_seq.eq(users::change_seq))
        .execute(conn)?;
    Ok(locked > 0)
}

pub fn lock_user_by_email(conn: &mut DbConnection, email: &str) -> DbResult<()> {
    diesel::update(users::table.filter(users::email.eq(email)))
        .set(users::change_seq.eq(users::change_seq))
        .execute(conn)?;
    Ok(())
}
