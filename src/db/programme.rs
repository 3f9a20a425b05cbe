//! The history of each patient's home programme: every version as it was
//! saved, with the days it was in force. The current programme is a
//! logbook record (`super::records`); a version is added here in the same
//! transaction as each change to it, under the patient's lock.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::programme_versions;
use super::{DbConnection, DbResult};
use crate::domain::UserId;

/// One saved version.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Insertable)]
#[diesel(table_name = programme_versions)]
pub struct VersionRow {
    pub patient_id: String,
    pub version: i64,
    pub in_force_from: NaiveDate,
    pub in_force_until: Option<NaiveDate>,
    pub saved_at: NaiveDateTime,
    pub saved_by: String,
    pub ended: bool,
    pub data: String,
}

/// A version to add: in force from `day` (the patient's local day it was
/// saved), until the next one.
pub struct NewVersion<'a> {
    pub patient: UserId,
    pub version: i64,
    pub day: NaiveDate,
    pub saved_at: NaiveDateTime,
    pub saved_by: UserId,
    pub ended: bool,
    pub data: &'a str,
}

/// Adds a version and closes the one it follows. Days only move forward:
/// a version saved in a zone west of the last one's is in force from that
/// one's day, not before it. Runs under the patient's lock.
pub fn add(conn: &mut DbConnection, new: &NewVersion<'_>) -> DbResult<NaiveDate> {
    let patient = new.patient.to_string();
    let open = programme_versions::table
        .filter(programme_versions::patient_id.eq(&patient))
        .filter(programme_versions::in_force_until.is_null());
    let previous: Option<NaiveDate> = open
        .select(programme_versions::in_force_from)
        .first(conn)
        .optional()?;
    let day = previous.map_or(new.day, |p| p.max(new.day));
    diesel::update(open)
        .set(programme_versions::in_force_until.eq(day))
        .execute(conn)?;
    diesel::insert_into(programme_versions::table)
        .values(VersionRow {
            patient_id: patient,
            version: new.version,
            in_force_from: day,
            in_force_until: None,
            saved_at: new.saved_at,
            saved_by: new.saved_by.to_string(),
            ended: new.ended,
            data: new.data.to_owned(),
        })
        .execute(conn)?;
    Ok(day)
}

/// A page of the patient's versions, newest first, below `before` (a
/// version number) when given.
pub fn page(
    conn: &mut DbConnection,
    patient: UserId,
    before: Option<i64>,
    limit: i64,
) -> DbResult<Vec<VersionRow>> {
    let mut query = programme_versions::table
        .filter(programme_versions::patient_id.eq(patient.to_string()))
        .select(programme_versions::all_columns)
        .order(programme_versions::version.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(programme_versions::version.lt(before));
    }
    Ok(query.load(conn)?)
}

/// The versions of these patients that were in force on some day of
/// `[from, to]`, oldest first per patient: what adherence over that
/// window needs, in one statement for any number of patients.
pub fn in_force(
    conn: &mut DbConnection,
    patients: &[String],
    (from, to): (NaiveDate, NaiveDate),
) -> DbResult<Vec<VersionRow>> {
    Ok(programme_versions::table
        .filter(programme_versions::patient_id.eq_any(patients))
        .filter(programme_versions::in_force_from.le(to))
        .filter(
            programme_versions::in_force_until
                .is_null()
                .or(programme_versions::in_force_until.gt(from)),
        )
        .select(programme_versions::all_columns)
        .order((
            programme_versions::patient_id.asc(),
            programme_versions::version.asc(),
        ))
        .load(conn)?)
}

/// The versions a programme ended with, and the latest one, oldest first:
/// each programme the patient had, as it last stood.
pub fn as_last_stood(conn: &mut DbConnection, patient: UserId) -> DbResult<Vec<VersionRow>> {
    Ok(programme_versions::table
        .filter(programme_versions::patient_id.eq(patient.to_string()))
        .filter(
            programme_versions::ended
                .eq(true)
                .or(programme_versions::in_force_until.is_null()),
        )
        .select(programme_versions::all_columns)
        .order(programme_versions::version.asc())
        .load(conn)?)
}
