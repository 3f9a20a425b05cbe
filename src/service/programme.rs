//! The home programme's use cases. The programme is a logbook object (one
//! per patient, kind `programme`), written through the logbook's protocol
//! so versions, `If-Match`, the sync feed and erasure work as for every
//! other object; each change also adds a version to its history, in the
//! same transaction, in force from the patient's local day.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::logbook::{
    current, find, lock, logged, put_locked, to_json, writer, Found, Outcome, Target, Written,
};
use super::{ServiceError, ServiceResult};
use crate::clock::Clock;
use crate::db::programme::{self as versions, NewVersion, VersionRow};
use crate::db::{accounts, records, Db, DbConnection, DbError};
use crate::domain::access::PatientScope;
use crate::domain::version::IfMatch;
use crate::domain::{DomainError, RecordId};
use crate::kinds::programme::{
    Prescriber, Programme, ProgrammeBody, ProgrammeDoc, Programmes, SignedProgramme, NAME,
};
use crate::kinds::protocol::{self, DeleteDecision};
use crate::kinds::RecordKind;

/// One version of the programme's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedProgramme {
    /// The programme's version (its `ETag` then).
    pub version: i64,
    /// The patient's local day it was saved: it was in force from that day
    /// until the next version's `in_force_from`.
    pub in_force_from: NaiveDate,
    pub saved_at: DateTime<Utc>,
    /// Saved by ending the programme: `ends_on` is the day it ended.
    pub ended: bool,
    #[serde(flatten)]
    pub body: ProgrammeBody,
    /// The therapist who saved this version.
    pub updated_by: Prescriber,
}

impl TryFrom<VersionRow> for SavedProgramme {
    type Error = DbError;

    fn try_from(row: VersionRow) -> Result<Self, DbError> {
        let doc: ProgrammeDoc = serde_json::from_str(&row.data)
            .map_err(|e| DbError::bad_json("programme_version", format!("{}", row.version), &e))?;
        Ok(Self {
            version: row.version,
            in_force_from: row.in_force_from,
            saved_at: row.saved_at.and_utc(),
            ended: row.ended,
            body: doc.body(),
            updated_by: doc.updated_by,
        })
    }
}

/// The caller as the programme names who saved it.
fn prescriber(conn: &mut DbConnection, scope: &PatientScope) -> ServiceResult<Prescriber> {
    let user =
        accounts::find_user(conn, &scope.actor.id.to_string())?.ok_or(DomainError::AccountGone)?;
    Ok(Prescriber {
        id: scope.actor.id.0,
        display_name: user.display_name,
    })
}

/// `PUT`: prescribes the programme, or replaces it (a linked therapist).
pub async fn put(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    if_match: IfMatch,
    body: ProgrammeBody,
) -> ServiceResult<Written<Programme>> {
    let clock = clock.clone();
    let answer = db
        .write(move |conn| {
            let mut lock = lock(conn, &scope)?;
            let signed = SignedProgramme {
                programme: body,
                by: prescriber(conn, &scope)?,
            };
            let doc = to_json(&ProgrammeDoc::from(signed.clone()))?;
            // The id is used only if the patient never had a programme.
            let fresh = RecordId::new_random();
            let written =
                put_locked::<Programmes>(conn, &mut lock, &clock, &scope, fresh, if_match, signed)?;
            if written.outcome != Outcome::Unchanged {
                let today = clock.today_in(lock.patient().timezone()?.tz());
                versions::add(
                    conn,
                    &NewVersion {
                        patient: scope.patient,
                        version: written.version,
                        day: today,
                        saved_at: clock.now_naive(),
                        saved_by: scope.actor.id,
                        ended: false,
                        data: &doc,
                    },
                )?;
            }
            Ok(written)
        })
        .await;
    logged(db, &scope, answer).await
}

/// `DELETE`: ends the programme. It leaves the logbook (a tombstone in the
/// sync feed) and stays in the history as a version that ends on the
/// patient's today, or on the day it already ended.
pub async fn end(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    if_match: IfMatch,
) -> ServiceResult<()> {
    let clock = clock.clone();
    let answer = db
        .write(move |conn| {
            let mut lock = lock(conn, &scope)?;
            let target = Target::Key(NAME.to_owned());
            let stored = find(conn, &scope, RecordKind::Programme, &target)?;
            let decision = protocol::decide_delete(
                stored.as_ref().map(current).as_ref(),
                &writer::<Programmes>(&scope),
                &if_match,
            )?;
            let (DeleteDecision::Tombstone, Some(stored)) = (decision, stored) else {
                return Ok(());
            };
            let today = clock.today_in(lock.patient().timezone()?.tz());
            let mut ended: ProgrammeDoc = stored.doc()?;
            ended.ends_on = Some(ended.ends_on.map_or(today, |day| day.min(today)));
            ended.updated_by = prescriber(conn, &scope)?;
            let now = clock.now_naive();
            records::tombstone(conn, &mut lock, &stored, now)?;
            versions::add(
                conn,
                &NewVersion {
                    patient: scope.patient,
                    version: stored.version + 1,
                    day: today,
                    saved_at: now,
                    saved_by: scope.actor.id,
                    ended: true,
                    data: &to_json(&ended)?,
                },
            )?;
            Ok(())
        })
        .await;
    logged(db, &scope, answer).await
}

/// `GET`: the programme in force, else 404.
pub async fn get(db: &Db, scope: PatientScope) -> ServiceResult<Found<Programme>> {
    super::logbook::get::<Programmes>(db, scope, Target::Key(NAME.to_owned())).await
}

/// A page of the history, newest first, and the version to continue below
/// when there is more.
pub async fn history(
    db: &Db,
    scope: PatientScope,
    before: Option<i64>,
    limit: i64,
) -> ServiceResult<(Vec<SavedProgramme>, Option<i64>)> {
    let patient = scope.patient;
    let mut rows = db
        .run(move |conn| versions::page(conn, patient, before, limit + 1))
        .await?;
    let page = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > page;
    rows.truncate(page);
    let next = rows.last().filter(|_| more).map(|row| row.version);
    let items = rows
        .into_iter()
        .map(SavedProgramme::try_from)
        .collect::<Result<Vec<_>, DbError>>()
        .map_err(ServiceError::from)?;
    Ok((items, next))
}
