//! Logins: one row per refresh-token family (docs/api-guide.md). The
//! tokens themselves live in `refresh_tokens`; ending a login revokes them
//! there, in the same transaction (see `accounts::revoke_family`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::logins;
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable)]
pub struct LoginRow {
    pub id: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user_agent: Option<String>,
    pub ended_at: Option<NaiveDateTime>,
}

/// Records a new login `id` (the family of its refresh tokens).
pub fn start(
    conn: &mut DbConnection,
    id: &str,
    user_id: &str,
    user_agent: Option<&str>,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> DbResult<()> {
    diesel::insert_into(logins::table)
        .values((
            logins::id.eq(id),
            logins::user_id.eq(user_id),
            logins::created_at.eq(now),
            logins::last_used_at.eq(now),
            logins::expires_at.eq(expires_at),
            logins::user_agent.eq(user_agent),
        ))
        .execute(conn)?;
    Ok(())
}

/// A refresh of login `id`: used now, valid as long as its newest token,
/// and seen from `user_agent` when the client sent one (an app update
/// changes it). `false` when the login has ended (or is gone): then no new
/// token may join it. On PostgreSQL the update waits for a concurrent end
/// of the same login and then sees it ended.
pub fn touch(
    conn: &mut DbConnection,
    id: &str,
    user_agent: Option<&str>,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> DbResult<bool> {
    let row = logins::table
        .filter(logins::id.eq(id))
        .filter(logins::ended_at.is_null());
    let changed = match user_agent {
        Some(agent) => diesel::update(row)
            .set((
                logins::last_used_at.eq(now),
                logins::expires_at.eq(expires_at),
                logins::user_agent.eq(agent),
            ))
            .execute(conn)?,
        None => diesel::update(row)
            .set((
                logins::last_used_at.eq(now),
                logins::expires_at.eq(expires_at),
            ))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// The logins of `user_id` that have not ended or run out, most recently
/// used first.
pub fn list(conn: &mut DbConnection, user_id: &str, now: NaiveDateTime) -> DbResult<Vec<LoginRow>> {
    Ok(logins::table
        .filter(logins::user_id.eq(user_id))
        .filter(logins::ended_at.is_null())
        .filter(logins::expires_at.gt(now))
        .order((logins::last_used_at.desc(), logins::id.asc()))
        .select(logins::all_columns)
        .load(conn)?)
}

/// Whether `id` is a login of `user_id` that has neither ended nor run out
/// (an erased account has no logins).
pub fn is_open(
    conn: &mut DbConnection,
    id: &str,
    user_id: &str,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let found: Option<String> = logins::table
        .filter(logins::id.eq(id))
        .filter(logins::user_id.eq(user_id))
        .filter(logins::ended_at.is_null())
        .filter(logins::expires_at.gt(now))
        .select(logins::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Whether `id` is a login of `user_id` (ended or not).
pub fn belongs_to(conn: &mut DbConnection, id: &str, user_id: &str) -> DbResult<bool> {
    let found: Option<String> = logins::table
        .filter(logins::id.eq(id))
        .filter(logins::user_id.eq(user_id))
        .select(logins::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Locks login `id` until the transaction ends (a no-op update, portable
/// across both backends). Whatever changes a login's refresh tokens takes
/// this lock first (a refresh, ending it), so they queue on one row in
/// one order and cannot deadlock; and an end that commits first is seen by
/// the refresh after it.
pub fn lock(conn: &mut DbConnection, id: &str) -> DbResult<()> {
    diesel::update(logins::table.filter(logins::id.eq(id)))
        .set(logins::id.eq(logins::id))
        .execute(conn)?;
    Ok(())
}

/// Marks login `id` ended (once; the first end is kept).
pub fn mark_ended(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> DbResult<()> {
    diesel::update(
        logins::table
            .filter(logins::id.eq(id))
            .filter(logins::ended_at.is_null()),
    )
    .set(logins::ended_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// The ids of the logins of `user_id` still going, except `keep`.
pub fn open_ids(
    conn: &mut DbConnection,
    user_id: &str,
    keep: Option<&str>,
) -> DbResult<Vec<String>> {
    let mut query = logins::table
        .filter(logins::user_id.eq(user_id))
        .filter(logins::ended_at.is_null())
        .select(logins::id)
        .into_boxed();
    if let Some(keep) = keep {
        query = query.filter(logins::id.ne(keep.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Housekeeping: a login that ended or ran out is no longer listed; it is
/// kept a day for the record, then deleted (its refresh tokens are revoked
/// or expired by then, and are pruned on their own).
pub fn prune(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    Ok(diesel::delete(
        logins::table.filter(
            logins::expires_at
                .lt(before)
                .or(logins::ended_at.lt(before)),
        ),
    )
    .execute(conn)?)
}
