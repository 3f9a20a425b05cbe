//! The logbook's storage: versioned records with tombstones, the per-patient
//! change counter behind the sync feed, idempotent POSTs and the stretch
//! catalog. Callers run the write functions inside `write_transaction`.

use chrono::NaiveDate;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::accounts::{find_user, UserRow};
use super::schema::{idempotency_keys, records, stretches, users};
use super::DbConnection;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Queryable)]
pub struct RecordRow {
    pub id: String,
    pub patient_id: String,
    pub kind: String,
    pub date: Option<NaiveDate>,
    pub author_id: String,
    pub author_role: String,
    pub data: String,
    pub version: i64,
    pub change_seq: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
    pub natural_key: Option<String>,
}

impl RecordRow {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// What a write wants stored.
#[derive(Debug, Clone)]
pub struct RecordWrite<'a> {
    pub id: &'a str,
    pub patient_id: &'a str,
    pub kind: &'a str,
    pub author_id: &'a str,
    pub author_role: &'a str,
    pub date: Option<NaiveDate>,
    pub data: &'a str,
    /// For objects addressed by name: the name. The object keeps the id it
    /// was first created with; `id` is used only when it is new.
    pub natural_key: Option<&'a str>,
}

/// The `If-Match` precondition of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header: the last write wins.
    Absent,
    /// `*`: any current representation.
    Any,
    /// One or more versions (`"3"`, `W/"3"`).
    Versions(Vec<i64>),
}

impl IfMatch {
    /// Whether a current (non-deleted) version `current` satisfies it;
    /// `None` when there is no current representation.
    fn allows(&self, current: Option<i64>) -> bool {
        match (self, current) {
            (Self::Absent, _) => true,
            (Self::Any, current) => current.is_some(),
            (Self::Versions(list), Some(v)) => list.contains(&v),
            (Self::Versions(_), None) => false,
        }
    }
}

/// What a PUT did.
#[derive(Debug)]
pub enum PutOutcome {
    /// The object did not exist (or was deleted) and now does.
    Created(RecordRow),
    /// The object changed.
    Replaced(RecordRow),
    /// The same content was sent again: nothing changed.
    Unchanged(RecordRow),
}

fn not_author() -> AppError {
    AppError::Forbidden {
        code: "not_author",
        detail: "Only the author of this object may change it.",
    }
}

pub fn find(conn: &mut DbConnection, id: &str) -> AppResult<Option<RecordRow>> {
    Ok(records::table
        .filter(records::id.eq(id))
        .select(records::all_columns)
        .first::<RecordRow>(conn)
        .optional()?)
}

/// The patient's object of `kind` named `key`, deleted or not.
pub fn find_by_key(
    conn: &mut DbConnection,
    patient_id: &str,
    kind: &str,
    key: &str,
) -> AppResult<Option<RecordRow>> {
    Ok(records::table
        .filter(records::patient_id.eq(patient_id))
        .filter(records::kind.eq(kind))
        .filter(records::natural_key.eq(key))
        .select(records::all_columns)
        .first::<RecordRow>(conn)
        .optional()?)
}

/// The object `id` of `kind`, if it belongs to `patient_id` and is not deleted.
pub fn find_live(
    conn: &mut DbConnection,
    patient_id: &str,
    kind: &str,
    id: &str,
) -> AppResult<RecordRow> {
    find(conn, id)?
        .filter(|r| r.patient_id == patient_id && r.kind == kind && !r.is_deleted())
        .ok_or(AppError::NotFound)
}

/// A patient's row, locked until the transaction ends. Holding it is what
/// makes change numbers safe to hand out: numbers are taken in commit order,
/// so a feed reader never sees a lower number appear behind a higher one.
pub struct PatientLock {
    patient: UserRow,
}

impl PatientLock {
    pub fn patient(&self) -> &UserRow {
        &self.patient
    }

    /// Takes the patient's next change number. The counter was read under
    /// the lock, so it is current and no one else can move it meanwhile.
    fn next_change_seq(&mut self, conn: &mut DbConnection) -> AppResult<i64> {
        let next = self.patient.change_seq + 1;
        diesel::update(users::table.filter(users::id.eq(&self.patient.id)))
            .set(users::change_seq.eq(next))
            .execute(conn)?;
        self.patient.change_seq = next;
        Ok(next)
    }
}

/// Locks the patient's row for the rest of the transaction (a no-op update:
/// portable, where `SELECT … FOR UPDATE` is not). Every write takes this
/// lock first, so concurrent writes for one patient run one after another
/// and each reads what the previous one committed; on SQLite the immediate
/// transaction already serialises writers.
pub fn lock_patient(conn: &mut DbConnection, patient_id: &str) -> AppResult<PatientLock> {
    let locked = diesel::update(users::table.filter(users::id.eq(patient_id)))
        .set(users::change_seq.eq(users::change_seq))
        .execute(conn)?;
    if locked == 0 {
        // The account was erased while its access token still lives.
        return Err(AppError::unauthenticated());
    }
    let patient = find_user(conn, patient_id)?.ok_or_else(AppError::unauthenticated)?;
    Ok(PatientLock { patient })
}

fn insert(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    w: &RecordWrite<'_>,
    now: NaiveDateTime,
) -> AppResult<RecordRow> {
    let seq = lock.next_change_seq(conn)?;
    diesel::insert_into(records::table)
        .values((
            records::id.eq(w.id),
            records::patient_id.eq(w.patient_id),
            records::kind.eq(w.kind),
            records::date.eq(w.date),
            records::author_id.eq(w.author_id),
            records::author_role.eq(w.author_role),
            records::data.eq(w.data),
            records::version.eq(1i64),
            records::change_seq.eq(seq),
            records::created_at.eq(now),
            records::updated_at.eq(now),
            records::natural_key.eq(w.natural_key),
        ))
        .execute(conn)
        .map_err(|e| {
            // Writes for one patient are serialised by `lock_patient`, so a
            // clash here is another patient taking the same fresh id at the
            // same moment: to this caller it is someone else's id.
            if super::is_unique_violation(&e) {
                AppError::NotFound
            } else {
                e.into()
            }
        })?;
    Ok(RecordRow {
        id: w.id.to_owned(),
        patient_id: w.patient_id.to_owned(),
        kind: w.kind.to_owned(),
        date: w.date,
        author_id: w.author_id.to_owned(),
        author_role: w.author_role.to_owned(),
        data: w.data.to_owned(),
        version: 1,
        change_seq: seq,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        natural_key: w.natural_key.map(str::to_owned),
    })
}

fn replace(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    row: RecordRow,
    w: &RecordWrite<'_>,
    now: NaiveDateTime,
) -> AppResult<RecordRow> {
    let seq = lock.next_change_seq(conn)?;
    diesel::update(records::table.filter(records::id.eq(&row.id)))
        .set((
            records::date.eq(w.date),
            records::data.eq(w.data),
            records::version.eq(row.version + 1),
            records::change_seq.eq(seq),
            records::updated_at.eq(now),
            records::deleted_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(RecordRow {
        date: w.date,
        data: w.data.to_owned(),
        version: row.version + 1,
        change_seq: seq,
        updated_at: now,
        deleted_at: None,
        ..row
    })
}

/// Creates a new object with a server-chosen id (POST).
pub fn create(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    w: &RecordWrite<'_>,
    now: NaiveDateTime,
) -> AppResult<RecordRow> {
    insert(conn, lock, w, now)
}

/// Creates, replaces or restores `w.id` (PUT). Another patient's id, or an
/// id of another kind, is 404; an object recorded by someone else is 403.
pub fn put(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    w: &RecordWrite<'_>,
    if_match: &IfMatch,
    now: NaiveDateTime,
) -> AppResult<PutOutcome> {
    let existing = match w.natural_key {
        Some(key) => find_by_key(conn, w.patient_id, w.kind, key)?,
        None => find(conn, w.id)?,
    };
    let Some(row) = existing else {
        if !if_match.allows(None) {
            return Err(AppError::PreconditionFailed);
        }
        return Ok(PutOutcome::Created(insert(conn, lock, w, now)?));
    };
    if row.patient_id != w.patient_id || row.kind != w.kind {
        return Err(AppError::NotFound);
    }
    if row.author_id != w.author_id {
        return Err(not_author());
    }
    // The state asked for is already there: a retry of a request whose answer
    // was lost. RFC 9110 §13.1.1 lets this answer 2xx even when If-Match no
    // longer matches, and a phone must not see a false conflict.
    if !row.is_deleted() && row.data == w.data && row.date == w.date {
        return Ok(PutOutcome::Unchanged(row));
    }
    let current = (!row.is_deleted()).then_some(row.version);
    // A tombstone's version may be named explicitly to restore it.
    let restoring_named =
        row.is_deleted() && matches!(if_match, IfMatch::Versions(v) if v.contains(&row.version));
    if !if_match.allows(current) && !restoring_named {
        return Err(AppError::PreconditionFailed);
    }
    if row.is_deleted() {
        return Ok(PutOutcome::Created(replace(conn, lock, row, w, now)?));
    }
    Ok(PutOutcome::Replaced(replace(conn, lock, row, w, now)?))
}

/// Deletes `id`, leaving a tombstone for the sync feed. Deleting a tombstone
/// again changes nothing; an id that never existed (or is not the caller's) is 404.
pub fn delete(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    kind: &str,
    author_id: &str,
    id: &str,
    if_match: &IfMatch,
    now: NaiveDateTime,
) -> AppResult<()> {
    let row = find(conn, id)?
        .filter(|r| r.patient_id == lock.patient.id && r.kind == kind)
        .ok_or(AppError::NotFound)?;
    if row.author_id != author_id {
        return Err(not_author());
    }
    if row.is_deleted() {
        return Ok(());
    }
    if !if_match.allows(Some(row.version)) {
        return Err(AppError::PreconditionFailed);
    }
    let seq = lock.next_change_seq(conn)?;
    diesel::update(records::table.filter(records::id.eq(id)))
        .set((
            // The tombstone keeps no content.
            records::data.eq("null"),
            records::version.eq(row.version + 1),
            records::change_seq.eq(seq),
            records::updated_at.eq(now),
            records::deleted_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Keyset position in a list ordered newest first: (date, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub date: NaiveDate,
    pub id: String,
}

/// Live objects of `kind` for `patient_id` with dates in `[from, to]`,
/// newest date first (ties by id, descending), after `after`.
pub fn list(
    conn: &mut DbConnection,
    patient_id: &str,
    kind: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    after: Option<&ListPosition>,
    limit: i64,
) -> AppResult<Vec<RecordRow>> {
    let mut query = records::table
        .filter(records::patient_id.eq(patient_id))
        .filter(records::kind.eq(kind))
        .filter(records::deleted_at.is_null())
        .select(records::all_columns)
        .order((records::date.desc(), records::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(from) = from {
        query = query.filter(records::date.ge(from));
    }
    if let Some(to) = to {
        query = query.filter(records::date.le(to));
    }
    if let Some(p) = after {
        query = query.filter(
            records::date
                .lt(p.date)
                .or(records::date.eq(p.date).and(records::id.lt(p.id.clone()))),
        );
    }
    Ok(query.load(conn)?)
}

/// Live objects of one kind without dates (own stretches, precautions), by id.
pub fn list_undated(
    conn: &mut DbConnection,
    patient_id: &str,
    kind: &str,
) -> AppResult<Vec<RecordRow>> {
    Ok(records::table
        .filter(records::patient_id.eq(patient_id))
        .filter(records::kind.eq(kind))
        .filter(records::deleted_at.is_null())
        .select(records::all_columns)
        .order(records::id.asc())
        .load(conn)?)
}

/// Every object of the patient that changed after `after_seq`, in change
/// order, tombstones included. A cursor beyond the patient's last change is
/// not one this API gave this patient (another account's, or from before a
/// restore): 400, so the device syncs again from the start.
pub fn changes(
    conn: &mut DbConnection,
    patient_id: &str,
    after_seq: i64,
    limit: i64,
) -> AppResult<Vec<RecordRow>> {
    let counter: Option<i64> = users::table
        .filter(users::id.eq(patient_id))
        .select(users::change_seq)
        .first(conn)
        .optional()?;
    if after_seq > counter.unwrap_or(0) {
        return Err(AppError::bad_request(
            "invalid_query",
            "Bad query parameter cursor: it is ahead of this account's changes; sync again from the start",
            vec![crate::error::FieldError::new("cursor", "is ahead of this account's changes")],
        ));
    }
    Ok(records::table
        .filter(records::patient_id.eq(patient_id))
        .filter(records::change_seq.gt(after_seq))
        .select(records::all_columns)
        .order(records::change_seq.asc())
        .limit(limit)
        .load(conn)?)
}

// ---------------------------------------------------------------- idempotency

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct SavedResponse {
    pub user_id: String,
    pub key: String,
    pub fingerprint: String,
    pub status: i32,
    pub body: String,
    pub location: String,
    pub etag: String,
    pub created_at: NaiveDateTime,
}

/// The saved answer for `key`, forgetting answers older than `since`.
pub fn find_saved_response(
    conn: &mut DbConnection,
    user_id: &str,
    key: &str,
    since: NaiveDateTime,
) -> AppResult<Option<SavedResponse>> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::user_id.eq(user_id))
            .filter(idempotency_keys::created_at.le(since)),
    )
    .execute(conn)?;
    Ok(idempotency_keys::table
        .filter(idempotency_keys::user_id.eq(user_id))
        .filter(idempotency_keys::key.eq(key))
        .select(idempotency_keys::all_columns)
        .first(conn)
        .optional()?)
}

/// Saves the first answer for a key. A concurrent request that saved the
/// same key first makes this fail with `KEY_IN_FLIGHT` (the caller retries
/// and then finds the saved answer).
pub fn save_response(conn: &mut DbConnection, saved: &SavedResponse) -> AppResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values(saved)
        .execute(conn)
        .map_err(|e| {
            if super::is_unique_violation(&e) {
                AppError::Conflict {
                    code: KEY_IN_FLIGHT,
                    detail: "A request with this Idempotency-Key is being processed.",
                }
            } else {
                e.into()
            }
        })?;
    Ok(())
}

pub const KEY_IN_FLIGHT: &str = "idempotency_key_in_flight";

// ---------------------------------------------------------------- stretch catalog

#[derive(Debug, Clone, Queryable)]
pub struct StretchRow {
    pub id: String,
    pub key: String,
    pub name: String,
    pub description: String,
    pub targets: String,
}

pub fn builtin_stretches(conn: &mut DbConnection) -> AppResult<Vec<StretchRow>> {
    Ok(stretches::table
        .select(stretches::all_columns)
        .order(stretches::name.asc())
        .load(conn)?)
}

/// Whether `stretch_id` is a built-in stretch or one of the patient's own live ones.
pub fn stretch_exists_for(
    conn: &mut DbConnection,
    patient_id: &str,
    stretch_id: &str,
    own_kind: &str,
) -> AppResult<bool> {
    let builtin: i64 = stretches::table
        .filter(stretches::id.eq(stretch_id))
        .count()
        .get_result(conn)?;
    if builtin > 0 {
        return Ok(true);
    }
    match find_live(conn, patient_id, own_kind, stretch_id) {
        Ok(_) => Ok(true),
        Err(AppError::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}
