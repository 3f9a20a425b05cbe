//! The logbook's storage: versioned records with typed columns and
//! tombstones, the per-patient change counter behind the sync feed, saved
//! answers of idempotent POSTs and the stretch catalog. The write functions
//! run inside `write_transaction`, holding a [`PatientLock`]. Everything here
//! answers storage errors; what a missing row means is the caller's business.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use uuid::Uuid;

use super::accounts::UserRow;
use super::schema::{database_generation, idempotency_keys, records, stretches, users};
use super::{DbConnection, DbError, DbResult};
use crate::domain::logbook::RecordKind;
use crate::domain::{RecordId, Role, UserId};

/// The values of an object that live in typed, checked columns, so that SQL
/// (lists, analytics, the therapist overview) and CHECK constraints see
/// them. They are the only copy: the JSON document holds the rest. A kind
/// leaves `None` where it has no such value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// The patient's calendar day (dated kinds).
    pub date: Option<NaiveDate>,
    /// For objects addressed by name rather than id (a precaution: its condition).
    pub natural_key: Option<String>,
    pub pain_level: Option<i32>,
    pub recorded_at: Option<NaiveDateTime>,
    pub started_at: Option<NaiveDateTime>,
    pub duration_minutes: Option<i32>,
    pub duration_seconds: Option<i32>,
    pub stretch_id: Option<Uuid>,
    /// A pain entry's red flags, as a mask of their bits
    /// (`domain::red_flag`); `None` without any.
    pub red_flags: Option<i32>,
}

/// Who wrote an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Author {
    pub id: UserId,
    pub role: Role,
}

/// One stored object of the logbook, as storage returns it.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: RecordId,
    pub patient: UserId,
    pub kind: RecordKind,
    pub author: Author,
    pub columns: Columns,
    /// The kind's JSON document (`null` for a tombstone).
    pub doc: String,
    pub version: i64,
    pub change_seq: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

impl Record {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// The JSON document, read through the kind's tolerant storage type.
    pub fn doc<D: serde::de::DeserializeOwned>(&self) -> DbResult<D> {
        serde_json::from_str(&self.doc)
            .map_err(|e| DbError::bad_json(self.kind.as_str(), self.id.to_string(), &e))
    }

    /// A typed column the kind cannot do without (the CHECK constraints
    /// guarantee it on live rows).
    pub fn required<T>(&self, value: Option<T>, column: &'static str) -> DbResult<T> {
        value.ok_or_else(|| DbError::corrupt(self.kind.as_str(), self.id.to_string(), column))
    }
}

/// A timestamp as a typed column keeps it: UTC, whole microseconds (what
/// PostgreSQL stores), so both backends answer the same.
pub fn to_column(at: chrono::DateTime<chrono::Utc>) -> NaiveDateTime {
    chrono::SubsecRound::trunc_subsecs(at, 6).naive_utc()
}

/// A row as diesel reads it; [`Record`] is its checked form.
#[derive(Debug, Clone, Queryable)]
struct RecordRow {
    id: String,
    patient_id: String,
    kind: String,
    date: Option<NaiveDate>,
    author_id: String,
    author_role: String,
    data: String,
    version: i64,
    change_seq: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
    natural_key: Option<String>,
    pain_level: Option<i32>,
    recorded_at: Option<NaiveDateTime>,
    started_at: Option<NaiveDateTime>,
    duration_minutes: Option<i32>,
    duration_seconds: Option<i32>,
    stretch_id: Option<String>,
    red_flags: Option<i32>,
}

fn parse_uuid(value: &str, row: &str, column: &'static str) -> DbResult<Uuid> {
    value
        .parse()
        .map_err(|_| DbError::corrupt("record", row, column))
}

impl TryFrom<RecordRow> for Record {
    type Error = DbError;

    fn try_from(row: RecordRow) -> DbResult<Self> {
        let id = &row.id;
        let kind = RecordKind::parse(&row.kind)
            .ok_or_else(|| DbError::corrupt("record", id, "kind is not one this build knows"))?;
        let role: Role = row
            .author_role
            .parse()
            .map_err(|()| DbError::corrupt("record", id, "author_role"))?;
        let stretch_id = match &row.stretch_id {
            Some(s) => Some(parse_uuid(s, id, "stretch_id")?),
            None => None,
        };
        Ok(Record {
            id: RecordId(parse_uuid(id, id, "id")?),
            patient: UserId(parse_uuid(&row.patient_id, id, "patient_id")?),
            kind,
            author: Author {
                id: UserId(parse_uuid(&row.author_id, id, "author_id")?),
                role,
            },
            columns: Columns {
                date: row.date,
                natural_key: row.natural_key,
                pain_level: row.pain_level,
                recorded_at: row.recorded_at,
                started_at: row.started_at,
                duration_minutes: row.duration_minutes,
                duration_seconds: row.duration_seconds,
                stretch_id,
                red_flags: row.red_flags,
            },
            doc: row.data,
            version: row.version,
            change_seq: row.change_seq,
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        })
    }
}

fn checked(rows: Vec<RecordRow>) -> DbResult<Vec<Record>> {
    rows.into_iter().map(Record::try_from).collect()
}

/// The typed columns as diesel writes them; `None` writes NULL.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = records, treat_none_as_null = true)]
struct ColumnValues<'a> {
    date: Option<NaiveDate>,
    natural_key: Option<&'a str>,
    pain_level: Option<i32>,
    recorded_at: Option<NaiveDateTime>,
    started_at: Option<NaiveDateTime>,
    duration_minutes: Option<i32>,
    duration_seconds: Option<i32>,
    stretch_id: Option<String>,
    red_flags: Option<i32>,
}

impl<'a> From<&'a Columns> for ColumnValues<'a> {
    fn from(c: &'a Columns) -> Self {
        Self {
            date: c.date,
            natural_key: c.natural_key.as_deref(),
            pain_level: c.pain_level,
            recorded_at: c.recorded_at,
            started_at: c.started_at,
            duration_minutes: c.duration_minutes,
            duration_seconds: c.duration_seconds,
            stretch_id: c.stretch_id.map(|id| id.to_string()),
            red_flags: c.red_flags,
        }
    }
}

pub fn find(conn: &mut DbConnection, id: RecordId) -> DbResult<Option<Record>> {
    records::table
        .filter(records::id.eq(id.to_string()))
        .select(records::all_columns)
        .first::<RecordRow>(conn)
        .optional()?
        .map(Record::try_from)
        .transpose()
}

/// The patient's object of `kind` named `key`, deleted or not.
pub fn find_by_key(
    conn: &mut DbConnection,
    patient: UserId,
    kind: RecordKind,
    key: &str,
) -> DbResult<Option<Record>> {
    records::table
        .filter(records::patient_id.eq(patient.to_string()))
        .filter(records::kind.eq(kind.as_str()))
        .filter(records::natural_key.eq(key))
        .select(records::all_columns)
        .first::<RecordRow>(conn)
        .optional()?
        .map(Record::try_from)
        .transpose()
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

    /// The patient's next change number. The counter was read under the
    /// lock, so it is current and no one else can move it meanwhile. It is
    /// stored by the statement that writes the object: on PostgreSQL in the
    /// same statement (one round trip), on SQLite just before it.
    fn next_change_seq(&mut self) -> i64 {
        self.patient.change_seq += 1;
        self.patient.change_seq
    }

    fn store_change_seq(&self, conn: &mut DbConnection) -> DbResult<()> {
        diesel::update(users::table.filter(users::id.eq(&self.patient.id)))
            .set(users::change_seq.eq(self.patient.change_seq))
            .execute(conn)?;
        Ok(())
    }
}

/// Locks the patient's row for the rest of the transaction and reads it, in
/// one statement (a no-op update with `RETURNING`: portable, where `SELECT …
/// FOR UPDATE` is not). Every write takes this lock first, so concurrent
/// writes for one patient run one after another and each reads what the
/// previous one committed; on SQLite the immediate transaction already
/// serialises writers. `NotFound` when the account is gone.
pub fn lock_patient(conn: &mut DbConnection, patient: UserId) -> DbResult<PatientLock> {
    let patient: UserRow = diesel::update(users::table.filter(users::id.eq(patient.to_string())))
        .set(users::change_seq.eq(users::change_seq))
        .get_result(conn)
        .optional()?
        .ok_or(DbError::NotFound)?;
    Ok(PatientLock { patient })
}

/// PostgreSQL: the change counter and the new row in one statement (a
/// data-modifying CTE, which diesel's query builder cannot express).
const INSERT_WITH_COUNTER: &str = "\
WITH counter AS (UPDATE users SET change_seq = $1 WHERE id = $2) \
INSERT INTO records (id, patient_id, kind, author_id, author_role, data, version, change_seq, \
    created_at, updated_at, date, natural_key, pain_level, recorded_at, started_at, \
    duration_minutes, duration_seconds, stretch_id, red_flags) \
VALUES ($3, $2, $4, $5, $6, $7, 1, $1, $8, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";

/// PostgreSQL: the new row unless its id is taken, and then (only then)
/// the change counter, in one statement.
const INSERT_IF_NEW_WITH_COUNTER: &str = "\
WITH created AS (INSERT INTO records (id, patient_id, kind, author_id, author_role, data, version, \
    change_seq, created_at, updated_at, date, natural_key, pain_level, recorded_at, started_at, \
    duration_minutes, duration_seconds, stretch_id, red_flags) \
    VALUES ($3, $2, $4, $5, $6, $7, 1, $1, $8, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
    ON CONFLICT (id) DO NOTHING RETURNING 1) \
UPDATE users SET change_seq = $1 WHERE id = $2 AND EXISTS (SELECT 1 FROM created)";

/// PostgreSQL: the change counter and a row's new state in one statement.
const UPDATE_WITH_COUNTER: &str = "\
WITH counter AS (UPDATE users SET change_seq = $1 WHERE id = $2) \
UPDATE records SET data = $4, version = $5, change_seq = $1, updated_at = $6, deleted_at = $7, \
    date = $8, natural_key = $9, pain_level = $10, recorded_at = $11, started_at = $12, \
    duration_minutes = $13, duration_seconds = $14, stretch_id = $15, red_flags = $16 \
WHERE id = $3";

/// Binds the typed columns, in the order of the statements above.
macro_rules! bind_columns {
    ($query:expr, $c:expr) => {{
        use diesel::sql_types::{Date, Integer, Nullable, Text, Timestamp};
        $query
            .bind::<Nullable<Date>, _>($c.date)
            .bind::<Nullable<Text>, _>($c.natural_key)
            .bind::<Nullable<Integer>, _>($c.pain_level)
            .bind::<Nullable<Timestamp>, _>($c.recorded_at)
            .bind::<Nullable<Timestamp>, _>($c.started_at)
            .bind::<Nullable<Integer>, _>($c.duration_minutes)
            .bind::<Nullable<Integer>, _>($c.duration_seconds)
            .bind::<Nullable<Text>, _>($c.stretch_id)
            .bind::<Nullable<Integer>, _>($c.red_flags)
    }};
}

/// A row's new state, and the patient's counter that goes with it.
struct RowWrite<'a> {
    lock: &'a PatientLock,
    id: RecordId,
    doc: &'a str,
    version: i64,
    now: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
    columns: &'a Columns,
}

/// Writes a row's new state and the patient's counter: one statement on
/// PostgreSQL, two on SQLite (in-process: no round trip to save).
fn write_row(conn: &mut DbConnection, write: &RowWrite<'_>) -> DbResult<()> {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
    let c = ColumnValues::from(write.columns);
    let seq = write.lock.patient.change_seq;
    match conn {
        DbConnection::Postgres(pg) => {
            let query = diesel::sql_query(UPDATE_WITH_COUNTER)
                .bind::<BigInt, _>(seq)
                .bind::<Text, _>(&write.lock.patient.id)
                .bind::<Text, _>(write.id.to_string())
                .bind::<Text, _>(write.doc)
                .bind::<BigInt, _>(write.version)
                .bind::<Timestamp, _>(write.now)
                .bind::<Nullable<Timestamp>, _>(write.deleted_at);
            bind_columns!(query, c).execute(pg)?;
        }
        DbConnection::Sqlite(_) => {
            write.lock.store_change_seq(conn)?;
            diesel::update(records::table.filter(records::id.eq(write.id.to_string())))
                .set((
                    records::data.eq(write.doc),
                    records::version.eq(write.version),
                    records::change_seq.eq(seq),
                    records::updated_at.eq(write.now),
                    records::deleted_at.eq(write.deleted_at),
                    c,
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// What a write stores.
pub struct NewRecord<'a> {
    pub id: RecordId,
    pub kind: RecordKind,
    pub author: Author,
    pub columns: &'a Columns,
    pub doc: &'a str,
}

impl NewRecord<'_> {
    /// What storage holds once this is stored as version 1 with change
    /// number `seq` at `now`.
    fn stored(&self, patient: UserId, seq: i64, now: NaiveDateTime) -> Record {
        Record {
            id: self.id,
            patient,
            kind: self.kind,
            author: self.author,
            columns: self.columns.clone(),
            doc: self.doc.to_owned(),
            version: 1,
            change_seq: seq,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }
}

/// Inserts a new object as version 1. `Duplicate` when the id is taken.
pub fn insert(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    new: &NewRecord<'_>,
    now: NaiveDateTime,
) -> DbResult<Record> {
    insert_row(conn, lock, new, now, Conflict::Fail)?.ok_or(DbError::NotFound)
}

/// Inserts a new object as version 1 unless its id is taken, in which case
/// nothing is written and `None` answers: the caller then reads what is
/// stored and decides. A fresh id is the common case (phones create rows
/// offline), and this spares it the read.
pub fn insert_if_new(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    new: &NewRecord<'_>,
    now: NaiveDateTime,
) -> DbResult<Option<Record>> {
    insert_row(conn, lock, new, now, Conflict::Skip)
}

/// What an insert does when the id is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Conflict {
    Fail,
    Skip,
}

fn insert_row(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    new: &NewRecord<'_>,
    now: NaiveDateTime,
    conflict: Conflict,
) -> DbResult<Option<Record>> {
    let seq = lock.patient.change_seq + 1;
    let patient: UserId = lock
        .patient
        .id
        .parse()
        .map_err(|_| DbError::corrupt("user", &lock.patient.id, "id"))?;
    let inserted = match conn {
        DbConnection::Postgres(pg) => {
            use diesel::sql_types::{BigInt, Text, Timestamp};
            let c = ColumnValues::from(new.columns);
            let sql = match conflict {
                Conflict::Fail => INSERT_WITH_COUNTER,
                Conflict::Skip => INSERT_IF_NEW_WITH_COUNTER,
            };
            let query = diesel::sql_query(sql)
                .bind::<BigInt, _>(seq)
                .bind::<Text, _>(&lock.patient.id)
                .bind::<Text, _>(new.id.to_string())
                .bind::<Text, _>(new.kind.as_str())
                .bind::<Text, _>(new.author.id.to_string())
                .bind::<Text, _>(new.author.role.as_str())
                .bind::<Text, _>(new.doc)
                .bind::<Timestamp, _>(now);
            bind_columns!(query, c).execute(pg)? == 1
        }
        DbConnection::Sqlite(lite) => {
            let row = (
                records::id.eq(new.id.to_string()),
                records::patient_id.eq(&lock.patient.id),
                records::kind.eq(new.kind.as_str()),
                records::author_id.eq(new.author.id.to_string()),
                records::author_role.eq(new.author.role.as_str()),
                records::data.eq(new.doc),
                records::version.eq(1i64),
                records::change_seq.eq(seq),
                records::created_at.eq(now),
                records::updated_at.eq(now),
                ColumnValues::from(new.columns),
            );
            let rows = match conflict {
                Conflict::Fail => diesel::insert_into(records::table)
                    .values(row)
                    .execute(lite)?,
                Conflict::Skip => diesel::insert_into(records::table)
                    .values(row)
                    .on_conflict(records::id)
                    .do_nothing()
                    .execute(lite)?,
            };
            rows == 1
        }
    };
    if !inserted {
        return Ok(None);
    }
    lock.next_change_seq();
    if let DbConnection::Sqlite(_) = conn {
        lock.store_change_seq(conn)?;
    }
    Ok(Some(new.stored(patient, seq, now)))
}

// The SQL function's own arity: its parameters are the row's columns.
#[allow(clippy::too_many_arguments)]
mod create_record {
    diesel::define_sql_function! {
        /// The PostgreSQL function of the migration `write_path`: the
        /// patient's lock, the time-zone check, the row and the counter.
        fn painline_create_record(
            patient: diesel::sql_types::Text,
            timezone: diesel::sql_types::Text,
            id: diesel::sql_types::Text,
            kind: diesel::sql_types::Text,
            author: diesel::sql_types::Text,
            author_role: diesel::sql_types::Text,
            data: diesel::sql_types::Text,
            now: diesel::sql_types::Timestamp,
            date: diesel::sql_types::Nullable<diesel::sql_types::Date>,
            natural_key: diesel::sql_types::Nullable<diesel::sql_types::Text>,
            pain_level: diesel::sql_types::Nullable<diesel::sql_types::Integer>,
            recorded_at: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
            started_at: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
            duration_minutes: diesel::sql_types::Nullable<diesel::sql_types::Integer>,
            duration_seconds: diesel::sql_types::Nullable<diesel::sql_types::Integer>,
            stretch_id: diesel::sql_types::Nullable<diesel::sql_types::Text>,
        ) -> diesel::sql_types::BigInt;
    }
}
use create_record::painline_create_record;

/// What [`create_alone`] did.
#[derive(Debug)]
pub enum Created {
    /// Stored as version 1.
    Stored(Box<Record>),
    /// The id is taken: nothing was written.
    IdTaken,
    /// The patient's account is gone.
    NoPatient,
    /// The patient's time zone is no longer `timezone`: nothing was written.
    TimezoneChanged,
}

/// PostgreSQL only, outside any transaction: a new object for `patient`,
/// in one prepared statement that is its own transaction (the function
/// `painline_create_record` takes the patient's lock, checks that their
/// time zone is still `timezone`, the one the body was checked against,
/// inserts unless the id is taken and moves the counter). `None` on
/// SQLite, where a round trip costs nothing and the writer batches commits.
pub fn create_alone(
    conn: &mut DbConnection,
    patient: UserId,
    timezone: &str,
    new: &NewRecord<'_>,
    now: NaiveDateTime,
) -> DbResult<Option<Created>> {
    let DbConnection::Postgres(pg) = conn else {
        return Ok(None);
    };
    let c = ColumnValues::from(new.columns);
    let seq: i64 = diesel::select(painline_create_record(
        patient.to_string(),
        timezone,
        new.id.to_string(),
        new.kind.as_str(),
        new.author.id.to_string(),
        new.author.role.as_str(),
        new.doc,
        now,
        c.date,
        c.natural_key,
        c.pain_level,
        c.recorded_at,
        c.started_at,
        c.duration_minutes,
        c.duration_seconds,
        c.stretch_id,
    ))
    .get_result(pg)?;
    Ok(Some(match seq {
        -2 => Created::TimezoneChanged,
        -1 => Created::NoPatient,
        0 => Created::IdTaken,
        seq => Created::Stored(Box::new(new.stored(patient, seq, now))),
    }))
}

/// Replaces (or restores) `current` with new content: version + 1.
pub fn replace(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    current: Record,
    columns: Columns,
    doc: String,
    now: NaiveDateTime,
) -> DbResult<Record> {
    let seq = lock.next_change_seq();
    let version = current.version + 1;
    write_row(
        conn,
        &RowWrite {
            lock,
            id: current.id,
            doc: &doc,
            version,
            now,
            deleted_at: None,
            columns: &columns,
        },
    )?;
    Ok(Record {
        columns,
        doc,
        version,
        change_seq: seq,
        updated_at: now,
        deleted_at: None,
        ..current
    })
}

/// Leaves a tombstone for the sync feed: no content, version + 1. The date
/// and the name stay, so a precaution declared again keeps its id.
pub fn tombstone(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    current: &Record,
    now: NaiveDateTime,
) -> DbResult<()> {
    lock.next_change_seq();
    let kept = Columns {
        date: current.columns.date,
        natural_key: current.columns.natural_key.clone(),
        ..Columns::default()
    };
    write_row(
        conn,
        &RowWrite {
            lock,
            id: current.id,
            doc: "null",
            version: current.version + 1,
            now,
            deleted_at: Some(now),
            columns: &kept,
        },
    )?;
    Ok(())
}

/// Keyset position in a list ordered newest first: (date, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub date: NaiveDate,
    pub id: RecordId,
}

/// Live objects of `kind` for `patient` with dates in `[from, to]`,
/// newest date first (ties by id, descending), after `after`.
pub fn list(
    conn: &mut DbConnection,
    patient: UserId,
    kind: RecordKind,
    (from, to): (Option<NaiveDate>, Option<NaiveDate>),
    after: Option<&ListPosition>,
    limit: i64,
) -> DbResult<Vec<Record>> {
    let mut query = records::table
        .filter(records::patient_id.eq(patient.to_string()))
        .filter(records::kind.eq(kind.as_str()))
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
        let id = p.id.to_string();
        query = query.filter(
            records::date
                .lt(p.date)
                .or(records::date.eq(p.date).and(records::id.lt(id))),
        );
    }
    checked(query.load(conn)?)
}

/// Live objects of one kind without dates (own stretches, precautions), by id.
pub fn list_undated(
    conn: &mut DbConnection,
    patient: UserId,
    kind: RecordKind,
) -> DbResult<Vec<Record>> {
    checked(
        records::table
            .filter(records::patient_id.eq(patient.to_string()))
            .filter(records::kind.eq(kind.as_str()))
            .filter(records::deleted_at.is_null())
            .select(records::all_columns)
            .order(records::id.asc())
            .load(conn)?,
    )
}

/// Which copy of the database this is (sync cursors carry it): 12
/// lower-case hex digits.
pub fn generation(conn: &mut DbConnection) -> DbResult<String> {
    Ok(database_generation::table
        .select(database_generation::generation)
        .first(conn)?)
}

/// Gives this database a new generation, so every sync cursor issued
/// before is refused (the phones sync again from the start): for a
/// database that was restored from a copy.
pub fn renew_generation(conn: &mut DbConnection) -> DbResult<String> {
    let generation = super::new_generation();
    diesel::update(database_generation::table)
        .set(database_generation::generation.eq(&generation))
        .execute(conn)?;
    Ok(generation)
}

/// The patient's change counter (0 for an account that is gone).
pub fn change_counter(conn: &mut DbConnection, patient: UserId) -> DbResult<i64> {
    let counter: Option<i64> = users::table
        .filter(users::id.eq(patient.to_string()))
        .select(users::change_seq)
        .first(conn)
        .optional()?;
    Ok(counter.unwrap_or(0))
}

/// Every object of the patient that changed after `after_seq`, in change
/// order, tombstones included.
pub fn changes(
    conn: &mut DbConnection,
    patient: UserId,
    after_seq: i64,
    limit: i64,
) -> DbResult<Vec<Record>> {
    checked(
        records::table
            .filter(records::patient_id.eq(patient.to_string()))
            .filter(records::change_seq.gt(after_seq))
            .select(records::all_columns)
            .order(records::change_seq.asc())
            .limit(limit)
            .load(conn)?,
    )
}

// ---------------------------------------------------------------- idempotency

/// The first answer to a POST that carried an `Idempotency-Key` (always a 201).
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct SavedResponse {
    pub user_id: String,
    pub key: String,
    pub fingerprint: String,
    pub body: String,
    pub location: String,
    pub etag: String,
    pub created_at: NaiveDateTime,
}

/// The saved answer for `key`, forgetting answers older than `since`.
pub fn find_saved_response(
    conn: &mut DbConnection,
    user: UserId,
    key: &str,
    since: NaiveDateTime,
) -> DbResult<Option<SavedResponse>> {
    let user = user.to_string();
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::user_id.eq(&user))
            .filter(idempotency_keys::created_at.le(since)),
    )
    .execute(conn)?;
    Ok(idempotency_keys::table
        .filter(idempotency_keys::user_id.eq(&user))
        .filter(idempotency_keys::key.eq(key))
        .select(idempotency_keys::all_columns)
        .first(conn)
        .optional()?)
}

/// Saves the first answer for a key. `Duplicate` when a concurrent request
/// saved the same key first.
pub fn save_response(conn: &mut DbConnection, saved: &SavedResponse) -> DbResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values(saved)
        .execute(conn)?;
    Ok(())
}

// ---------------------------------------------------------------- stretch catalog

#[derive(Debug, Clone, Queryable)]
pub struct StretchRow {
    pub id: String,
    pub key: String,
    pub name: String,
    pub description: String,
    pub targets: String,
}

pub fn builtin_stretches(conn: &mut DbConnection) -> DbResult<Vec<StretchRow>> {
    Ok(stretches::table
        .select(stretches::all_columns)
        .order(stretches::name.asc())
        .load(conn)?)
}

/// Whether `id` is a built-in stretch of the catalog.
pub fn is_builtin_stretch(conn: &mut DbConnection, id: RecordId) -> DbResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        stretches::table.filter(stretches::id.eq(id.to_string())),
    ))
    .get_result(conn)?)
}

/// Whether `stretch` is a built-in stretch or one of the patient's own live ones.
pub fn stretch_usable(conn: &mut DbConnection, patient: UserId, stretch: Uuid) -> DbResult<bool> {
    let id = stretch.to_string();
    let builtin: i64 = stretches::table
        .filter(stretches::id.eq(&id))
        .count()
        .get_result(conn)?;
    if builtin > 0 {
        return Ok(true);
    }
    let own: i64 = records::table
        .filter(records::id.eq(&id))
        .filter(records::patient_id.eq(patient.to_string()))
        .filter(records::kind.eq(RecordKind::OwnStretch.as_str()))
        .filter(records::deleted_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(own > 0)
}
