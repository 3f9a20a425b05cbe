//! What the therapist's overview reads: a page of linked patients with their
//! alert rules, and their recent values aggregated in SQL over the typed
//! columns. Each function is one query for the whole page, so the overview
//! costs the same number of queries for 1 patient or 1,000.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::{count_star, max, sum};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Nullable, Text, Timestamp};

use super::schema::{alert_defaults, alert_settings, care_links, records, users};
use super::{DbConnection, DbResult};
use crate::domain::logbook::RecordKind;
use crate::domain::UserId;

/// A linked patient, the therapist's alert defaults and their overrides
/// for this patient (null where absent or inherited).
#[derive(Debug, Clone, Queryable)]
pub struct LinkedPatient {
    pub id: String,
    pub display_name: String,
    pub timezone: String,
    pub since: NaiveDateTime,
    /// The patient's change counter: moves with every write of their data.
    pub change_seq: i64,
    /// Threshold, spike, days, adherence floor (null without a row).
    pub defaults: DefaultsColumns,
    /// Threshold, pain_high off, spike, days, adherence floor (null
    /// without a row or where inherited).
    pub overrides: OverridesColumns,
}

pub type DefaultsColumns = (Option<i32>, Option<i32>, Option<i32>, Option<i32>);
pub type OverridesColumns = (
    Option<i32>,
    Option<bool>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
);

/// The therapist's active links, by `since` then patient id, after `after`
/// (or only `only`).
pub fn linked_patients(
    conn: &mut DbConnection,
    therapist: UserId,
    only: Option<UserId>,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> DbResult<Vec<LinkedPatient>> {
    let mut query = care_links::table
        .inner_join(users::table.on(users::id.eq(care_links::patient_id)))
        .left_join(
            alert_settings::table.on(alert_settings::patient_id
                .eq(care_links::patient_id)
                .and(alert_settings::therapist_id.eq(care_links::therapist_id))),
        )
        .left_join(
            alert_defaults::table.on(alert_defaults::therapist_id.eq(care_links::therapist_id)),
        )
        .filter(care_links::therapist_id.eq(therapist.to_string()))
        .filter(care_links::ended_at.is_null())
        .order((care_links::since.asc(), care_links::patient_id.asc()))
        .limit(limit)
        .select((
            users::id,
            users::display_name,
            users::timezone,
            care_links::since,
            users::change_seq,
            (
                alert_defaults::pain_threshold.nullable(),
                alert_defaults::spike_delta.nullable(),
                alert_defaults::not_logging_days.nullable(),
                alert_defaults::adherence_floor_pct.nullable(),
            ),
            (
                alert_settings::pain_threshold.nullable(),
                alert_settings::pain_high_off.nullable(),
                alert_settings::spike_delta.nullable(),
                alert_settings::not_logging_days.nullable(),
                alert_settings::adherence_floor_pct.nullable(),
            ),
        ))
        .into_boxed();
    if let Some(patient) = only {
        query = query.filter(care_links::patient_id.eq(patient.to_string()));
    }
    if let Some((since, id)) = after {
        query = query.filter(
            care_links::since.gt(since).or(care_links::since
                .eq(since)
                .and(care_links::patient_id.gt(id))),
        );
    }
    Ok(query.load(conn)?)
}

/// One patient's logged day: patient, date, sum, number and highest of
/// its pain levels, and the highest red-flag mask (not null: an entry of
/// the day reported a red flag).
pub type PainDayRow = (
    String,
    Option<NaiveDate>,
    Option<i64>,
    i64,
    Option<i32>,
    Option<i32>,
);

/// Per patient and logged day in `[from, to]`: the sum, number and highest
/// of its pain levels, and whether an entry reported a red flag.
pub fn pain_days(
    conn: &mut DbConnection,
    patients: &[String],
    (from, to): (NaiveDate, NaiveDate),
) -> DbResult<Vec<PainDayRow>> {
    Ok(records::table
        .filter(records::kind.eq(RecordKind::PainEntry.as_str()))
        .filter(records::deleted_at.is_null())
        .filter(records::patient_id.eq_any(patients))
        .filter(records::date.between(from, to))
        .group_by((records::patient_id, records::date))
        .select((
            records::patient_id,
            records::date,
            sum(records::pain_level),
            count_star(),
            max(records::pain_level),
            max(records::red_flags),
        ))
        .load(conn)?)
}

/// A massage session, assessment or pain entry with a note, as the
/// overview's clinical figures read it.
#[derive(Debug, Clone, Queryable)]
pub struct RecentRecord {
    pub id: String,
    pub patient_id: String,
    pub kind: String,
    pub date: Option<NaiveDate>,
    pub started_at: Option<NaiveDateTime>,
    pub recorded_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub data: String,
}

/// In one query: the massage sessions and assessments dated in `sessions`
/// (the last year), and the pain entries dated in `notes` (the last week)
/// that hold a note.
pub fn recent_records(
    conn: &mut DbConnection,
    patients: &[String],
    sessions: (NaiveDate, NaiveDate),
    notes: (NaiveDate, NaiveDate),
) -> DbResult<Vec<RecentRecord>> {
    Ok(records::table
        .filter(records::patient_id.eq_any(patients))
        .filter(records::deleted_at.is_null())
        .filter(
            records::kind
                .eq_any([
                    RecordKind::MassageSession.as_str(),
                    RecordKind::Assessment.as_str(),
                ])
                .and(records::date.between(sessions.0, sessions.1))
                .or(records::kind
                    .eq(RecordKind::PainEntry.as_str())
                    .and(records::date.between(notes.0, notes.1))
                    // A note is stored as a JSON string; entries without one are not read.
                    .and(records::data.like("%\"notes\":\"%"))),
        )
        .select((
            records::id,
            records::patient_id,
            records::kind,
            records::date,
            records::started_at,
            records::recorded_at,
            records::created_at,
            records::data,
        ))
        .load(conn)?)
}

/// One patient's stretching of one day: patient, date, stretch, seconds.
pub type StretchRow = (String, Option<NaiveDate>, Option<String>, Option<i64>);

/// Per patient, day in `[from, to]` and stretch: the seconds of its
/// sessions (the days with a stretch session, and what adherence to the
/// home programme counts).
pub fn stretch_seconds(
    conn: &mut DbConnection,
    patients: &[String],
    (from, to): (NaiveDate, NaiveDate),
) -> DbResult<Vec<StretchRow>> {
    Ok(records::table
        .filter(records::kind.eq(RecordKind::StretchSession.as_str()))
        .filter(records::deleted_at.is_null())
        .filter(records::patient_id.eq_any(patients))
        .filter(records::date.between(from, to))
        .group_by((records::patient_id, records::date, records::stretch_id))
        .select((
            records::patient_id,
            records::date,
            records::stretch_id,
            sum(records::duration_seconds),
        ))
        .load(conn)?)
}

/// The date of each patient's last massage session (patients without one
/// are left out).
pub fn last_massages(
    conn: &mut DbConnection,
    patients: &[String],
) -> DbResult<Vec<(String, NaiveDate)>> {
    #[derive(QueryableByName)]
    struct Last {
        #[diesel(sql_type = Text)]
        patient_id: String,
        #[diesel(sql_type = Nullable<Date>)]
        last: Option<NaiveDate>,
    }
    // One index seek per patient (`records_live_idx`), where a GROUP BY
    // read every session of every patient on the page.
    let sql = |marks: Vec<String>| {
        format!(
            "SELECT u.id AS patient_id, ( \
                 SELECT MAX(x.date) FROM records x \
                 WHERE x.patient_id = u.id AND x.kind = 'massage_session' AND x.deleted_at IS NULL \
             ) AS last FROM users u WHERE u.id IN ({})",
            marks.join(", ")
        )
    };
    let rows: Vec<Last> = for_patients(conn, patients, sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.patient_id, r.last?)))
        .collect())
}

pub fn precautions(
    conn: &mut DbConnection,
    patients: &[String],
) -> DbResult<Vec<(String, Option<String>)>> {
    Ok(records::table
        .filter(records::kind.eq(RecordKind::Condition.as_str()))
        .filter(records::deleted_at.is_null())
        .filter(records::patient_id.eq_any(patients))
        .select((records::patient_id, records::natural_key))
        .load(conn)?)
}

/// A pain entry on its patient's latest logged date.
#[derive(Debug, Clone, QueryableByName)]
pub struct LastEntry {
    #[diesel(sql_type = Text)]
    pub patient_id: String,
    #[diesel(sql_type = Date)]
    pub date: NaiveDate,
    #[diesel(sql_type = Integer)]
    pub pain_level: i32,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub recorded_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Timestamp)]
    pub created_at: NaiveDateTime,
}

/// Per patient: their most recent live pain entry (latest date, then
/// `recorded_at`, or when stored for an entry without one, then when
/// stored). A join on a correlated subquery, which diesel's query builder
/// cannot express: written as SQL, with each backend's placeholders, all
/// values bound.
pub fn last_entries(conn: &mut DbConnection, patients: &[String]) -> DbResult<Vec<LastEntry>> {
    // The latest day by one index seek per patient; only that day's
    // entries are compared, in the database, and one row comes back (a
    // phone that logs hourly must not make the page read hundreds).
    let sql = |marks: Vec<String>| {
        format!(
            "SELECT r.patient_id, r.date, r.pain_level, r.recorded_at, r.created_at \
             FROM users u JOIN records r ON r.id = ( \
                 SELECT x.id FROM records x \
                 WHERE x.patient_id = u.id AND x.kind = 'pain_entry' AND x.deleted_at IS NULL \
                     AND x.date = ( \
                         SELECT MAX(y.date) FROM records y \
                         WHERE y.patient_id = u.id AND y.kind = 'pain_entry' \
                             AND y.deleted_at IS NULL) \
                 ORDER BY COALESCE(x.recorded_at, x.created_at) DESC, x.created_at DESC, x.id DESC \
                 LIMIT 1) \
             WHERE u.id IN ({})",
            marks.join(", ")
        )
    };
    for_patients(conn, patients, sql)
}

/// Runs `sql` (given the bind markers of this backend) for `patients`.
fn for_patients<T>(
    conn: &mut DbConnection,
    patients: &[String],
    sql: impl Fn(Vec<String>) -> String,
) -> DbResult<Vec<T>>
where
    T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
{
    if patients.is_empty() {
        return Ok(Vec::new());
    }
    macro_rules! load {
        ($conn:expr, $marks:expr) => {{
            let mut query = diesel::sql_query(sql($marks)).into_boxed();
            for id in patients {
                query = query.bind::<Text, _>(id.clone());
            }
            query.load::<T>($conn)?
        }};
    }
    Ok(match conn {
        DbConnection::Sqlite(c) => load!(c, vec!["?".to_owned(); patients.len()]),
        DbConnection::Postgres(c) => {
            load!(c, (1..=patients.len()).map(|i| format!("${i}")).collect())
        }
    })
}

// ---------------------------------------------------------------- alert rules

/// A therapist's alert rules for one patient: overrides of their defaults,
/// a null field inherits.
#[derive(Debug, Clone, Queryable)]
pub struct AlertSettingsRow {
    pub pain_threshold: Option<i32>,
    /// pain_high off for this patient, whatever the defaults say.
    pub pain_high_off: bool,
    pub spike_delta: Option<i32>,
    pub not_logging_days: Option<i32>,
    pub adherence_floor_pct: Option<i32>,
    pub version: i64,
}

pub fn alert_settings(
    conn: &mut DbConnection,
    therapist: UserId,
    patient: UserId,
) -> DbResult<Option<AlertSettingsRow>> {
    Ok(alert_settings::table
        .filter(alert_settings::therapist_id.eq(therapist.to_string()))
        .filter(alert_settings::patient_id.eq(patient.to_string()))
        .select((
            alert_settings::pain_threshold,
            alert_settings::pain_high_off,
            alert_settings::spike_delta,
            alert_settings::not_logging_days,
            alert_settings::adherence_floor_pct,
            alert_settings::version,
        ))
        .first(conn)
        .optional()?)
}

/// Stores `row` (its `version` already the new one).
pub fn save_alert_settings(
    conn: &mut DbConnection,
    therapist: UserId,
    patient: UserId,
    row: &AlertSettingsRow,
    now: NaiveDateTime,
) -> DbResult<()> {
    let (t, p) = (therapist.to_string(), patient.to_string());
    let values = (
        alert_settings::pain_threshold.eq(row.pain_threshold),
        alert_settings::pain_high_off.eq(row.pain_high_off),
        alert_settings::spike_delta.eq(row.spike_delta),
        alert_settings::not_logging_days.eq(row.not_logging_days),
        alert_settings::adherence_floor_pct.eq(row.adherence_floor_pct),
        alert_settings::version.eq(row.version),
        alert_settings::updated_at.eq(now),
    );
    let updated = diesel::update(
        alert_settings::table
            .filter(alert_settings::therapist_id.eq(&t))
            .filter(alert_settings::patient_id.eq(&p)),
    )
    .set(values)
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(alert_settings::table)
            .values((
                alert_settings::therapist_id.eq(&t),
                alert_settings::patient_id.eq(&p),
                values,
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A therapist's alert rules for all their patients.
#[derive(Debug, Clone, Queryable)]
pub struct AlertDefaultsRow {
    pub pain_threshold: Option<i32>,
    pub spike_delta: i32,
    pub not_logging_days: i32,
    pub adherence_floor_pct: i32,
    pub version: i64,
}

pub fn alert_defaults(
    conn: &mut DbConnection,
    therapist: UserId,
) -> DbResult<Option<AlertDefaultsRow>> {
    Ok(alert_defaults::table
        .filter(alert_defaults::therapist_id.eq(therapist.to_string()))
        .select((
            alert_defaults::pain_threshold,
            alert_defaults::spike_delta,
            alert_defaults::not_logging_days,
            alert_defaults::adherence_floor_pct,
            alert_defaults::version,
        ))
        .first(conn)
        .optional()?)
}

/// Stores `row` (its `version` already the new one).
pub fn save_alert_defaults(
    conn: &mut DbConnection,
    therapist: UserId,
    row: &AlertDefaultsRow,
    now: NaiveDateTime,
) -> DbResult<()> {
    let t = therapist.to_string();
    let values = (
        alert_defaults::pain_threshold.eq(row.pain_threshold),
        alert_defaults::spike_delta.eq(row.spike_delta),
        alert_defaults::not_logging_days.eq(row.not_logging_days),
        alert_defaults::adherence_floor_pct.eq(row.adherence_floor_pct),
        alert_defaults::version.eq(row.version),
        alert_defaults::updated_at.eq(now),
    );
    let updated = diesel::update(alert_defaults::table.filter(alert_defaults::therapist_id.eq(&t)))
        .set(values)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(alert_defaults::table)
            .values((alert_defaults::therapist_id.eq(&t), values))
            .execute(conn)?;
    }
    Ok(())
}

/// A row the trends read: a day's pain entries summed (`tag` 0: the sum,
/// count and highest level), a day's sessions of one stretch summed (`tag`
/// 1: the seconds and count, the stretch as `id`), one massage session
/// (`tag` 2: its id and start), or one pain entry that reported red flags
/// (`tag` 3: its mask as `sum`).
/// The day is a number (days since 1970-01-01): the database computes it
/// once per day, where a text date would be parsed once per row.
#[derive(Debug, Clone, QueryableByName)]
pub struct TrendRow {
    #[diesel(sql_type = Integer)]
    pub tag: i32,
    #[diesel(sql_type = BigInt)]
    pub day: i64,
    #[diesel(sql_type = BigInt)]
    pub sum: i64,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub max: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub id: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub started_at: Option<NaiveDateTime>,
}

impl TrendRow {
    /// The row's calendar day.
    pub fn date(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(1970, 1, 1)?
            .checked_add_signed(chrono::Duration::try_days(self.day)?)
    }
}

pub const TREND_PAIN: i32 = 0;
pub const TREND_STRETCH: i32 = 1;
pub const TREND_SESSION: i32 = 2;
/// A pain entry that reported red flags: `sum` holds its mask.
pub const TREND_FLAG: i32 = 3;

/// The patient's live pain entries and stretch sessions dated in `[from,
/// to]`, summed per day by the database (whole levels and seconds: exact),
/// their massage sessions, and the red flags of each entry that reported
/// any (masks: neither backend has a portable bitwise-or aggregate, and
/// such entries are few), in one query, all read from
/// `records_live_idx` alone (it holds each column named here). Written as SQL (diesel's builder has no UNION
/// of grouped selects), with each backend's numbered placeholders.
pub fn trend_rows(
    conn: &mut DbConnection,
    patient: UserId,
    (from, to): (NaiveDate, NaiveDate),
) -> DbResult<Vec<TrendRow>> {
    // `day`: the date as days since 1970-01-01, in each backend's words,
    // of a group's date (an aggregate, so computed once a group), and
    // `row_day` the same of a row's.
    let sql = |p: &str, f: &str, t: &str, day: &str, row_day: &str| {
        let live = format!("patient_id = {p} AND deleted_at IS NULL AND date BETWEEN {f} AND {t}");
        format!(
            "SELECT {TREND_PAIN} AS tag, {day} AS day, CAST(SUM(pain_level) AS BIGINT) AS sum, \
                 CAST(COUNT(pain_level) AS BIGINT) AS count, CAST(MAX(pain_level) AS BIGINT) AS max, \
                 CAST(NULL AS TEXT) AS id, CAST(NULL AS TIMESTAMP) AS started_at \
             FROM records WHERE kind = 'pain_entry' AND {live} GROUP BY date \
             UNION ALL \
             SELECT {TREND_STRETCH}, {day}, CAST(SUM(duration_seconds) AS BIGINT), \
                 CAST(COUNT(duration_seconds) AS BIGINT), 0, stretch_id, NULL \
             FROM records WHERE kind = 'stretch_session' AND {live} GROUP BY date, stretch_id \
             UNION ALL \
             SELECT {TREND_SESSION}, {row_day}, 0, 0, 0, id, started_at \
             FROM records WHERE kind = 'massage_session' AND {live} \
             UNION ALL \
             SELECT {TREND_FLAG}, {row_day}, CAST(red_flags AS BIGINT), 0, 0, NULL, NULL \
             FROM records WHERE kind = 'pain_entry' AND red_flags IS NOT NULL AND {live}"
        )
    };
    let patient = patient.to_string();
    macro_rules! load {
        ($conn:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(patient)
                .bind::<Date, _>(from)
                .bind::<Date, _>(to)
                .load::<TrendRow>($conn)?
        };
    }
    Ok(match conn {
        DbConnection::Sqlite(c) => load!(
            c,
            sql(
                "?1",
                "?2",
                "?3",
                "CAST(julianday(MIN(date)) - 2440587.5 AS BIGINT)",
                "CAST(julianday(date) - 2440587.5 AS BIGINT)"
            )
        ),
        DbConnection::Postgres(c) => load!(
            c,
            sql(
                "$1",
                "$2",
                "$3",
                "CAST(MIN(date) - DATE '1970-01-01' AS BIGINT)",
                "CAST(date - DATE '1970-01-01' AS BIGINT)"
            )
        ),
    })
}
