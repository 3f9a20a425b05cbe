//! Reminder and digest schedules, and their unsubscribe tokens. Every
//! function runs in the caller's transaction.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Nullable, Text, Timestamp};

use super::schema::{mail_schedules, unsubscribe_tokens};
use super::{DbConnection, DbResult};

/// What a schedule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A patient's daily reminder to log.
    Reminder,
    /// A therapist's weekly digest.
    Digest,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reminder => "reminder",
            Self::Digest => "digest",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "reminder" => Some(Self::Reminder),
            "digest" => Some(Self::Digest),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName)]
pub struct ScheduleRow {
    #[diesel(sql_type = Text)]
    pub user_id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Bool)]
    pub enabled: bool,
    #[diesel(sql_type = Text)]
    pub local_time: String,
    #[diesel(sql_type = Text)]
    pub days: String,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub next_due_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Date>)]
    pub due_date: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    pub handled_date: Option<NaiveDate>,
    #[diesel(sql_type = BigInt)]
    pub version: i64,
    #[diesel(sql_type = Timestamp)]
    pub updated_at: NaiveDateTime,
}

/// The schedule of `kind` of `user_id`, if it was ever saved.
pub fn find(conn: &mut DbConnection, user_id: &str, kind: Kind) -> DbResult<Option<ScheduleRow>> {
    Ok(mail_schedules::table
        .find((user_id, kind.as_str()))
        .select(mail_schedules::all_columns)
        .first(conn)
        .optional()?)
}

/// What a schedule is set to, and when it is due next.
pub struct Setting<'a> {
    pub enabled: bool,
    pub local_time: &'a str,
    pub days: &'a str,
    /// The next due instant and the local date it is for.
    pub next: Option<(NaiveDateTime, NaiveDate)>,
    pub version: i64,
}

/// Locks the schedules of `user_id` (of one kind, or all) until the
/// transaction ends (a no-op update): a change of settings waits for a
/// scheduler that holds the row, then reads what it recorded.
pub fn lock(conn: &mut DbConnection, user_id: &str, kind: Option<Kind>) -> DbResult<()> {
    let mut query = diesel::update(mail_schedules::table)
        .filter(mail_schedules::user_id.eq(user_id))
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(mail_schedules::kind.eq(kind.as_str()));
    }
    query
        .set(mail_schedules::kind.eq(mail_schedules::kind))
        .execute(conn)?;
    Ok(())
}

/// Saves the schedule of `kind` of `user_id` (its `handled_date` stays).
pub fn save(
    conn: &mut DbConnection,
    user_id: &str,
    kind: Kind,
    setting: &Setting<'_>,
    now: NaiveDateTime,
) -> DbResult<()> {
    let (next_due_at, due_date) = setting.next.unzip();
    let values = (
        mail_schedules::enabled.eq(setting.enabled),
        mail_schedules::local_time.eq(setting.local_time),
        mail_schedules::days.eq(setting.days),
        mail_schedules::next_due_at.eq(next_due_at),
        mail_schedules::due_date.eq(due_date),
        mail_schedules::version.eq(setting.version),
        mail_schedules::updated_at.eq(now),
    );
    let update = |conn: &mut DbConnection| {
        diesel::update(mail_schedules::table.find((user_id, kind.as_str())))
            .set(values)
            .execute(conn)
    };
    if update(conn)? == 0 {
        // In a savepoint: a first save racing another one loses the insert
        // and updates what the other wrote.
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(mail_schedules::table)
                .values((
                    mail_schedules::user_id.eq(user_id),
                    mail_schedules::kind.eq(kind.as_str()),
                    values,
                ))
                .execute(conn)
        });
        match inserted {
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {
                update(conn)?;
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// Stops a schedule until its settings are saved again (a row the
/// scheduler cannot handle must not block the rows behind it).
pub fn stop(conn: &mut DbConnection, user_id: &str, kind: &str) -> DbResult<()> {
    diesel::update(mail_schedules::table.find((user_id, kind)))
        .set((
            mail_schedules::next_due_at.eq(None::<NaiveDateTime>),
            mail_schedules::due_date.eq(None::<NaiveDate>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every schedule of `user_id` (to move them when the time zone changes).
pub fn of_user(conn: &mut DbConnection, user_id: &str) -> DbResult<Vec<ScheduleRow>> {
    Ok(mail_schedules::table
        .filter(mail_schedules::user_id.eq(user_id))
        .select(mail_schedules::all_columns)
        .load(conn)?)
}

/// Claims up to `limit` schedules due at `now`, oldest due first, for the
/// rest of the caller's transaction: one query on the partial index of
/// `next_due_at`. On PostgreSQL the rows are locked and rows another
/// instance holds are skipped; SQLite has one writer.
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<ScheduleRow>> {
    let sql = |now: &str, limit: &str, lock: &str| {
        format!(
            "SELECT user_id, kind, enabled, local_time, days, next_due_at, due_date, \
             handled_date, version, updated_at FROM mail_schedules \
             WHERE next_due_at IS NOT NULL AND next_due_at <= {now} \
             ORDER BY next_due_at LIMIT {limit}{lock}"
        )
    };
    Ok(match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(sql("$1", "$2", " FOR UPDATE SKIP LOCKED"))
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql("?", "?", ""))
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(lite)?,
    })
}

/// Records that `handled` (a local date) was dealt with, and the next due
/// time (none: the schedule waits for new settings).
pub fn advance(
    conn: &mut DbConnection,
    user_id: &str,
    kind: Kind,
    handled: NaiveDate,
    next: Option<(NaiveDateTime, NaiveDate)>,
) -> DbResult<()> {
    let (next_due_at, due_date) = next.unzip();
    diesel::update(mail_schedules::table.find((user_id, kind.as_str())))
        .set((
            mail_schedules::handled_date.eq(Some(handled)),
            mail_schedules::next_due_at.eq(next_due_at),
            mail_schedules::due_date.eq(due_date),
        ))
        .execute(conn)?;
    Ok(())
}

/// Moves a schedule's next due time (its settings stay).
pub fn reschedule(
    conn: &mut DbConnection,
    user_id: &str,
    kind: Kind,
    next: Option<(NaiveDateTime, NaiveDate)>,
) -> DbResult<()> {
    let (next_due_at, due_date) = next.unzip();
    diesel::update(mail_schedules::table.find((user_id, kind.as_str())))
        .set((
            mail_schedules::next_due_at.eq(next_due_at),
            mail_schedules::due_date.eq(due_date),
        ))
        .execute(conn)?;
    Ok(())
}

// ------------------------------------------------------------ unsubscribe

/// Stores the hash of a new unsubscribe token for `kind` of `user_id`.
pub fn issue_unsubscribe(
    conn: &mut DbConnection,
    token_hash: &str,
    user_id: &str,
    kind: Kind,
    now: NaiveDateTime,
) -> DbResult<()> {
    diesel::insert_into(unsubscribe_tokens::table)
        .values((
            unsubscribe_tokens::token_hash.eq(token_hash),
            unsubscribe_tokens::user_id.eq(user_id),
            unsubscribe_tokens::kind.eq(kind.as_str()),
            unsubscribe_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Voids every unsubscribe token of `kind` of `user_id`: the mails were
/// turned on again, so a link from before must not turn them off.
pub fn void_unsubscribe(conn: &mut DbConnection, user_id: &str, kind: Kind) -> DbResult<()> {
    diesel::delete(
        unsubscribe_tokens::table
            .filter(unsubscribe_tokens::user_id.eq(user_id))
            .filter(unsubscribe_tokens::kind.eq(kind.as_str())),
    )
    .execute(conn)?;
    Ok(())
}

/// Turns off the schedule a token was sent for; its kind, or `None` for a
/// token that is unknown (or older than `since`).
pub fn unsubscribe(
    conn: &mut DbConnection,
    token_hash: &str,
    since: NaiveDateTime,
    now: NaiveDateTime,
) -> DbResult<Option<Kind>> {
    let found: Option<(String, String)> = unsubscribe_tokens::table
        .filter(unsubscribe_tokens::token_hash.eq(token_hash))
        .filter(unsubscribe_tokens::created_at.gt(since))
        .select((unsubscribe_tokens::user_id, unsubscribe_tokens::kind))
        .first(conn)
        .optional()?;
    let Some((user_id, kind)) = found else {
        return Ok(None);
    };
    let Some(kind) = Kind::parse(&kind) else {
        return Ok(None);
    };
    // A change like any other: a phone holding the old ETag learns of it.
    diesel::update(
        mail_schedules::table
            .find((&user_id, kind.as_str()))
            .filter(mail_schedules::enabled.eq(true)),
    )
    .set((
        mail_schedules::enabled.eq(false),
        mail_schedules::next_due_at.eq(None::<NaiveDateTime>),
        mail_schedules::due_date.eq(None::<NaiveDate>),
        mail_schedules::version.eq(mail_schedules::version + 1),
        mail_schedules::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(Some(kind))
}

/// Tokens past their life are of no use to anyone.
pub fn prune_unsubscribe(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    Ok(
        diesel::delete(unsubscribe_tokens::table.filter(unsubscribe_tokens::created_at.lt(before)))
            .execute(conn)?,
    )
}

/// Whether `patient_id` has a (live) pain entry dated `date`.
pub fn has_pain_entry(
    conn: &mut DbConnection,
    patient_id: &str,
    date: NaiveDate,
) -> DbResult<bool> {
    use super::schema::records;
    let found: Option<String> = records::table
        .filter(records::patient_id.eq(patient_id))
        .filter(records::kind.eq("pain_entry"))
        .filter(records::date.eq(Some(date)))
        .filter(records::deleted_at.is_null())
        .select(records::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}
