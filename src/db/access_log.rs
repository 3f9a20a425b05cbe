//! The access log: append-only rows, one per therapist request on a
//! patient's data (allowed or refused), read back by the patient.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use uuid::Uuid;

use super::schema::{access_log, users};
use super::{DbConnection, DbResult};
use crate::domain::UserId;

/// One request of a therapist on one patient's data.
#[derive(Debug, Clone)]
pub struct Access<'a> {
    pub patient: UserId,
    pub actor: UserId,
    pub action: &'a str,
    pub path: &'a str,
    pub allowed: bool,
}

#[derive(Insertable)]
#[diesel(table_name = access_log)]
struct NewRow<'a> {
    id: String,
    patient_id: String,
    actor_id: String,
    at: NaiveDateTime,
    action: &'a str,
    path: &'a str,
    outcome: &'static str,
}

/// Appends `entries` in one multi-row insert; answers their ids, in order.
/// Each must name an existing patient.
pub fn append(
    conn: &mut DbConnection,
    entries: &[Access<'_>],
    now: NaiveDateTime,
) -> DbResult<Vec<Uuid>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    // Time-ordered ids (UUIDv7): each insert lands at the end of the
    // primary key's index, where random ones dirtied a random page of a
    // large index per row (on SQLite, pages the next commit writes to the
    // WAL and a checkpoint writes again; the overview logs 20 rows a page).
    let ids: Vec<Uuid> = entries.iter().map(|_| Uuid::now_v7()).collect();
    let rows: Vec<NewRow<'_>> = entries
        .iter()
        .zip(&ids)
        .map(|(e, id)| NewRow {
            id: id.to_string(),
            patient_id: e.patient.to_string(),
            actor_id: e.actor.to_string(),
            at: now,
            action: e.action,
            path: e.path,
            outcome: if e.allowed { "allowed" } else { "refused" },
        })
        .collect();
    // diesel's MultiConnection cannot express a multi-row INSERT, and on
    // SQLite diesel sends one INSERT per row: so SQL, with every value bound.
    match conn {
        DbConnection::Postgres(c) => {
            diesel::insert_into(access_log::table)
                .values(&rows)
                .execute(c)?;
        }
        DbConnection::Sqlite(c) => {
            let marks = vec!["(?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ");
            let mut query = diesel::sql_query(format!(
                "INSERT INTO access_log (id, patient_id, actor_id, at, action, path, outcome) VALUES {marks}"
            ))
            .into_boxed();
            for row in &rows {
                query = query
                    .bind::<Text, _>(row.id.clone())
                    .bind::<Text, _>(row.patient_id.clone())
                    .bind::<Text, _>(row.actor_id.clone())
                    .bind::<Timestamp, _>(row.at)
                    .bind::<Text, _>(row.action)
                    .bind::<Text, _>(row.path)
                    .bind::<Text, _>(row.outcome);
            }
            query.execute(c)?;
        }
    }
    Ok(ids)
}

/// Turns row `id` to `refused`: the request it logged was refused after all
/// (a write whose link had ended by the time it took the patient's lock).
pub fn mark_refused(conn: &mut DbConnection, id: Uuid) -> DbResult<()> {
    diesel::update(access_log::table.filter(access_log::id.eq(id.to_string())))
        .set(access_log::outcome.eq("refused"))
        .execute(conn)?;
    Ok(())
}

/// A row as the patient reads it; `display_name` is `None` once the actor's
/// account is gone.
#[derive(Debug, Clone, Queryable)]
pub struct AccessRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor_id: String,
    pub display_name: Option<String>,
    pub action: String,
    pub path: String,
    pub outcome: String,
}

/// The patient's log, newest first (ties by id), after the position `after`.
pub fn list(
    conn: &mut DbConnection,
    patient: UserId,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> DbResult<Vec<AccessRow>> {
    let mut query = access_log::table
        .left_join(users::table.on(users::id.eq(access_log::actor_id)))
        .filter(access_log::patient_id.eq(patient.to_string()))
        .order((access_log::at.desc(), access_log::id.desc()))
        .limit(limit)
        .select((
            access_log::id,
            access_log::at,
            access_log::actor_id,
            users::display_name.nullable(),
            access_log::action,
            access_log::path,
            access_log::outcome,
        ))
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            access_log::at
                .lt(at)
                .or(access_log::at.eq(at).and(access_log::id.lt(id))),
        );
    }
    Ok(query.load(conn)?)
}
