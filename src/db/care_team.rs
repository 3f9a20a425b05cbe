//! Invitations, care links and wrong-code throttling rows. A link is active
//! while `ended_at` is NULL; every check of a therapist's access reads it
//! here, so an ended link is refused on the next request on every instance.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{care_links, code_failures, invitations, users};
use super::{DbConnection, DbResult};
use crate::domain::UserId;

#[derive(Debug, Clone, Queryable)]
pub struct InvitationRow {
    pub id: String,
    pub therapist_id: String,
    pub code_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub used_at: Option<NaiveDateTime>,
    pub used_by: Option<String>,
}

impl InvitationRow {
    /// Neither used nor withdrawn nor expired at `now`.
    pub fn is_open(&self, now: NaiveDateTime) -> bool {
        self.used_at.is_none() && self.withdrawn_at.is_none() && self.expires_at > now
    }
}

pub struct NewInvitation<'a> {
    pub id: Uuid,
    pub therapist: UserId,
    pub code_hash: &'a str,
    pub expires_at: NaiveDateTime,
}

pub fn insert_invitation(
    conn: &mut DbConnection,
    new: &NewInvitation<'_>,
    now: NaiveDateTime,
) -> DbResult<()> {
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(new.id.to_string()),
            invitations::therapist_id.eq(new.therapist.to_string()),
            invitations::code_hash.eq(new.code_hash),
            invitations::created_at.eq(now),
            invitations::expires_at.eq(new.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The therapist's invitations that can still be redeemed, newest first.
pub fn open_invitations(
    conn: &mut DbConnection,
    therapist: UserId,
    now: NaiveDateTime,
) -> DbResult<Vec<InvitationRow>> {
    Ok(invitations::table
        .filter(invitations::therapist_id.eq(therapist.to_string()))
        .filter(invitations::used_at.is_null())
        .filter(invitations::withdrawn_at.is_null())
        .filter(invitations::expires_at.gt(now))
        .order((invitations::created_at.desc(), invitations::id.desc()))
        .select(invitations::all_columns)
        .load(conn)?)
}

/// The therapist's invitation `id`, whatever its state.
pub fn find_invitation(
    conn: &mut DbConnection,
    therapist: UserId,
    id: Uuid,
) -> DbResult<Option<InvitationRow>> {
    Ok(invitations::table
        .filter(invitations::id.eq(id.to_string()))
        .filter(invitations::therapist_id.eq(therapist.to_string()))
        .select(invitations::all_columns)
        .first(conn)
        .optional()?)
}

pub fn find_by_code(conn: &mut DbConnection, code_hash: &str) -> DbResult<Option<InvitationRow>> {
    Ok(invitations::table
        .filter(invitations::code_hash.eq(code_hash))
        .select(invitations::all_columns)
        .first(conn)
        .optional()?)
}

/// Withdraws an unused invitation (again: no change); `false` when it was
/// used meanwhile.
pub fn withdraw_invitation(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> DbResult<bool> {
    diesel::update(
        invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::used_at.is_null())
            .filter(invitations::withdrawn_at.is_null()),
    )
    .set(invitations::withdrawn_at.eq(now))
    .execute(conn)?;
    // After the update (which waited for any redeem holding the row), is it unused?
    let used: Option<NaiveDateTime> = invitations::table
        .filter(invitations::id.eq(id))
        .select(invitations::used_at)
        .first(conn)?;
    Ok(used.is_none())
}

/// Marks the invitation used by `patient`, exactly once: of two concurrent
/// claims only one updates the row (PostgreSQL re-checks the condition after
/// waiting for the other's row lock; SQLite runs writers one at a time).
pub fn claim_invitation(
    conn: &mut DbConnection,
    id: &str,
    patient: UserId,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let claimed = diesel::update(
        invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::used_at.is_null())
            .filter(invitations::withdrawn_at.is_null())
            .filter(invitations::expires_at.gt(now)),
    )
    .set((
        invitations::used_at.eq(now),
        invitations::used_by.eq(patient.to_string()),
    ))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// A member of a patient's care team.
#[derive(Debug, Clone, Queryable)]
pub struct LinkRow {
    pub patient_id: String,
    pub therapist_id: String,
    pub display_name: String,
    pub since: NaiveDateTime,
}

/// The active link between `patient` and `therapist`, if any.
pub fn active_link(
    conn: &mut DbConnection,
    patient: UserId,
    therapist: UserId,
) -> DbResult<Option<LinkRow>> {
    Ok(care_links::table
        .inner_join(users::table.on(users::id.eq(care_links::therapist_id)))
        .filter(care_links::patient_id.eq(patient.to_string()))
        .filter(care_links::therapist_id.eq(therapist.to_string()))
        .filter(care_links::ended_at.is_null())
        .select((
            care_links::patient_id,
            care_links::therapist_id,
            users::display_name,
            care_links::since,
        ))
        .first(conn)
        .optional()?)
}

/// Links `patient` and `therapist` from `now`, or renews an ended link; an
/// active link keeps its `since`.
pub fn link(
    conn: &mut DbConnection,
    patient: UserId,
    therapist: UserId,
    now: NaiveDateTime,
) -> DbResult<()> {
    let (p, t) = (patient.to_string(), therapist.to_string());
    let renewed = diesel::update(
        care_links::table
            .filter(care_links::patient_id.eq(&p))
            .filter(care_links::therapist_id.eq(&t))
            .filter(care_links::ended_at.is_not_null()),
    )
    .set((
        care_links::since.eq(now),
        care_links::ended_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    if renewed == 0 {
        // Writes for one patient run under the patient's lock, so the row
        // cannot appear between this check and the insert.
        let exists: i64 = care_links::table
            .filter(care_links::patient_id.eq(&p))
            .filter(care_links::therapist_id.eq(&t))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            diesel::insert_into(care_links::table)
                .values((
                    care_links::patient_id.eq(&p),
                    care_links::therapist_id.eq(&t),
                    care_links::since.eq(now),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The patient's active care team, longest-standing first.
pub fn care_team(conn: &mut DbConnection, patient: UserId) -> DbResult<Vec<LinkRow>> {
    Ok(care_links::table
        .inner_join(users::table.on(users::id.eq(care_links::therapist_id)))
        .filter(care_links::patient_id.eq(patient.to_string()))
        .filter(care_links::ended_at.is_null())
        .order((care_links::since.asc(), care_links::therapist_id.asc()))
        .select((
            care_links::patient_id,
            care_links::therapist_id,
            users::display_name,
            care_links::since,
        ))
        .load(conn)?)
}

/// Ends the active link; `false` when there was none.
pub fn end_link(
    conn: &mut DbConnection,
    patient: UserId,
    therapist: UserId,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let ended = diesel::update(
        care_links::table
            .filter(care_links::patient_id.eq(patient.to_string()))
            .filter(care_links::therapist_id.eq(therapist.to_string()))
            .filter(care_links::ended_at.is_null()),
    )
    .set(care_links::ended_at.eq(now))
    .execute(conn)?;
    Ok(ended == 1)
}

/// Ends every active link of `user`, on either side; answers how many.
pub fn end_all_links(conn: &mut DbConnection, user: UserId, now: NaiveDateTime) -> DbResult<usize> {
    let id = user.to_string();
    Ok(diesel::update(
        care_links::table
            .filter(
                care_links::patient_id
                    .eq(&id)
                    .or(care_links::therapist_id.eq(&id)),
            )
            .filter(care_links::ended_at.is_null()),
    )
    .set(care_links::ended_at.eq(now))
    .execute(conn)?)
}

/// Withdraws every invitation of `therapist` that is neither used nor
/// withdrawn nor expired; answers how many.
pub fn withdraw_open_invitations(
    conn: &mut DbConnection,
    therapist: UserId,
    now: NaiveDateTime,
) -> DbResult<usize> {
    Ok(diesel::update(
        invitations::table
            .filter(invitations::therapist_id.eq(therapist.to_string()))
            .filter(invitations::used_at.is_null())
            .filter(invitations::withdrawn_at.is_null())
            .filter(invitations::expires_at.gt(now)),
    )
    .set(invitations::withdrawn_at.eq(now))
    .execute(conn)?)
}

// ---------------------------------------------------------------- wrong codes

/// Times of wrong codes since `since`, oldest first: the user's, or those
/// from one client address.
pub fn code_failures_since(
    conn: &mut DbConnection,
    user: Option<UserId>,
    client_ip: Option<&str>,
    since: NaiveDateTime,
) -> DbResult<Vec<NaiveDateTime>> {
    let mut query = code_failures::table
        .filter(code_failures::at.gt(since))
        .select(code_failures::at)
        .order(code_failures::at.asc())
        .into_boxed();
    if let Some(user) = user {
        query = query.filter(code_failures::user_id.eq(user.to_string()));
    }
    if let Some(ip) = client_ip {
        query = query.filter(code_failures::client_ip.eq(ip.to_owned()));
    }
    Ok(query.load(conn)?)
}

pub fn record_code_failure(
    conn: &mut DbConnection,
    user: UserId,
    client_ip: &str,
    now: NaiveDateTime,
) -> DbResult<()> {
    diesel::insert_into(code_failures::table)
        .values((
            code_failures::id.eq(Uuid::new_v4().to_string()),
            code_failures::user_id.eq(user.to_string()),
            code_failures::client_ip.eq(client_ip),
            code_failures::at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
