//! The home programme's use cases. The programme is a logbook object (one
//! per patient, kind `programme`), written through the logbook's protocol
//! so versions, `If-Match`, the sync feed and erasure work as for every
//! other object; each change also adds a version to its history, in the
//! same transaction, in force from the patient's local day.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::logbook::{
    current, find, lock, logged, put_locked, to_json, writer, Found, Outcome, Target, Written,
};
use super::{ServiceError, ServiceResult};
use crate::analytics::adherence::{self, ProgrammeVersion, Stretched};
use crate::clock::Clock;
use crate::db::overview as overview_store;
use crate::db::programme::{self as versions, NewVersion, VersionRow};
use crate::db::{accounts, records, Db, DbConnection, DbError};
use crate::domain::access::PatientScope;
use crate::domain::version::IfMatch;
use crate::domain::{DomainError, RecordId, UserId};
use crate::export::fhir::PlanOfRecord;
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

/// The preconditions of a `PUT`: `If-Match`, and `If-None-Match: *`
/// (`only_new`: prescribe only if no programme is in force, so two
/// therapists prescribing at once cannot replace each other's unseen).
#[derive(Debug, Clone)]
pub struct Preconditions {
    pub if_match: IfMatch,
    pub only_new: bool,
}

/// `PUT`: prescribes the programme, or replaces it (a linked therapist).
pub async fn put(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    preconditions: Preconditions,
    body: ProgrammeBody,
) -> ServiceResult<Written<Programme>> {
    put_saved_ago(db, clock, scope, preconditions, body, Days::new(0)).await
}

/// [`put`], the version taken as saved `ago` days before now: in force
/// from that day of the patient's calendar (the demo's programmes, which
/// the patients have followed for weeks).
pub(crate) async fn put_saved_ago(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    Preconditions { if_match, only_new }: Preconditions,
    body: ProgrammeBody,
    ago: Days,
) -> ServiceResult<Written<Programme>> {
    let clock = clock.clone();
    let answer = db
        .write(move |conn| {
            let mut lock = lock(conn, &scope)?;
            let signed = SignedProgramme {
                programme: body,
                by: prescriber(conn, &scope)?,
            };
            let new_doc = ProgrammeDoc::from(signed.clone());
            if only_new {
                let target = Target::Key(NAME.to_owned());
                if let Some(live) = find(conn, &scope, RecordKind::Programme, &target)?
                    .filter(|r| !r.is_deleted() && r.patient == scope.patient)
                {
                    // The same programme again is a retry of this create.
                    if live.doc::<ProgrammeDoc>().ok().as_ref() != Some(&new_doc) {
                        let current = Some(live.version);
                        return Err(DomainError::PreconditionFailed { current }.into());
                    }
                }
            }
            let doc = to_json(&new_doc)?;
            // The id is used only if the patient never had a programme.
            let fresh = RecordId::new_random();
            let written =
                put_locked::<Programmes>(conn, &mut lock, &clock, &scope, fresh, if_match, signed)?;
            if written.outcome != Outcome::Unchanged {
                let today = adherence::local_day(clock.now(), lock.patient().timezone()?.tz());
                versions::add(
                    conn,
                    &NewVersion {
                        patient: scope.patient,
                        version: written.version,
                        day: today.checked_sub_days(ago).unwrap_or(today),
                        saved_at: clock
                            .now_naive()
                            .checked_sub_days(ago)
                            .unwrap_or_else(|| clock.now_naive()),
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
            let today = adherence::local_day(clock.now(), lock.patient().timezone()?.tz());
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

/// Whether the patient ever had a programme.
pub async fn ever_prescribed(db: &Db, patient: UserId) -> ServiceResult<bool> {
    let rows = db
        .run(move |conn| versions::page(conn, patient, None, 1))
        .await?;
    Ok(!rows.is_empty())
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

/// The versions of these patients' programmes in force on some day of
/// `window`, as adherence reads them, per patient (one statement).
pub(crate) fn plans_by_patient(
    conn: &mut DbConnection,
    patients: &[String],
    window: (NaiveDate, NaiveDate),
) -> ServiceResult<HashMap<String, Vec<ProgrammeVersion>>> {
    let mut plans: HashMap<String, Vec<ProgrammeVersion>> = HashMap::new();
    for row in versions::in_force(conn, patients, window)? {
        let doc: ProgrammeDoc = serde_json::from_str(&row.data)
            .map_err(|e| DbError::bad_json("programme_version", format!("{}", row.version), &e))?;
        // An ended programme prescribes nothing from the day it was ended.
        let mut plan = doc.plan(row.in_force_from);
        if row.ended {
            plan.items.clear();
        }
        plans.entry(row.patient_id).or_default().push(plan);
    }
    Ok(plans)
}

/// One patient's [`plans_by_patient`].
pub(crate) fn plans(
    conn: &mut DbConnection,
    patient: UserId,
    window: (NaiveDate, NaiveDate),
) -> ServiceResult<Vec<ProgrammeVersion>> {
    let id = patient.to_string();
    Ok(plans_by_patient(conn, std::slice::from_ref(&id), window)?
        .remove(&id)
        .unwrap_or_default())
}

/// The most ISO weeks one adherence answer covers.
pub const MAX_WEEKS: u32 = 52;

/// Adherence to the home programme per ISO week of the patient's calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeeklyAdherence {
    /// The patient's IANA time zone: weeks run Monday to Sunday there.
    pub timezone: String,
    /// The patient's today: the current week is counted up to it.
    pub today: NaiveDate,
    /// Oldest first.
    pub weeks: Vec<WeekAdherence>,
    /// One row per week and item active in it, oldest week first, items
    /// in the order of the programme.
    pub rows: Vec<ItemWeek>,
}

/// The programme's figure for one week.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeekAdherence {
    /// The Monday the week starts on.
    pub week_start: NaiveDate,
    /// The last day counted: the Sunday, or today in the current week.
    pub counted_to: NaiveDate,
    /// The mean over the week's items of their adherence, 0..1; null
    /// without a programme in force that week.
    pub programme_adherence: Option<f64>,
}

/// One item of the programme in one week.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemWeek {
    pub week_start: NaiveDate,
    pub stretch_id: uuid::Uuid,
    /// The stretch's name (the catalog's, or the patient's own); null for
    /// an own stretch the patient has since deleted.
    pub stretch_name: Option<String>,
    /// Days prescribed that week: `days_per_week` × active days ÷ 7 (5
    /// for a whole week of a 5-days-a-week item; fractional for a week the
    /// programme started or changed in), to 3 decimals.
    pub prescribed: f64,
    /// Active days whose sessions of the stretch reached `seconds_per_day`.
    pub met: i64,
    /// `min(met, prescribed) ÷ prescribed`, 0..1; null when nothing was
    /// prescribed.
    pub adherence: Option<f64>,
}

/// Adherence per ISO week, the last `weeks` up to the patient's today.
pub async fn weekly_adherence(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    weeks: u32,
) -> ServiceResult<WeeklyAdherence> {
    let clock = clock.clone();
    db.run(move |conn| {
        let patient =
            accounts::find_user(conn, &scope.patient.to_string())?.ok_or(DomainError::NotFound)?;
        let zone = patient.timezone()?;
        let today = clock.today_in(zone.tz());
        let monday = today.week(chrono::Weekday::Mon).first_day();
        let first = monday - chrono::Duration::weeks(i64::from(weeks.max(1)) - 1);
        let window = (first, today);
        let plans = plans(conn, scope.patient, window)?;
        let id = scope.patient.to_string();
        let stretched: Vec<Stretched> =
            overview_store::stretch_seconds(conn, std::slice::from_ref(&id), window)?
                .into_iter()
                .filter_map(|(_, date, stretch, seconds)| {
                    Some(Stretched {
                        date: date?,
                        stretch_id: stretch?,
                        seconds: seconds.unwrap_or(0),
                    })
                })
                .collect();
        let names = stretch_names(conn, scope.patient)?;
        let mut answer = WeeklyAdherence {
            timezone: zone.name().to_owned(),
            today,
            weeks: Vec::new(),
            rows: Vec::new(),
        };
        for week in adherence::weekly(&plans, &stretched, today, weeks) {
            let counted_to = (week.week_start + chrono::Duration::days(6)).min(today);
            answer.weeks.push(WeekAdherence {
                week_start: week.week_start,
                counted_to,
                programme_adherence: week.adherence.programme,
            });
            for item in &week.adherence.items {
                let stretch_id = item
                    .stretch_id
                    .parse()
                    .map_err(|_| DbError::corrupt("programme_version", &id, "stretch_id"))?;
                answer.rows.push(ItemWeek {
                    week_start: week.week_start,
                    stretch_id,
                    stretch_name: names.get(&stretch_id).cloned(),
                    prescribed: item.prescribed(),
                    met: item.met,
                    adherence: item.adherence(),
                });
            }
        }
        Ok(answer)
    })
    .await
}

/// The names of the stretches a patient's programme may hold: the
/// catalog's and the patient's own.
fn stretch_names(
    conn: &mut DbConnection,
    patient: UserId,
) -> Result<HashMap<uuid::Uuid, String>, DbError> {
    let mut names = HashMap::new();
    for row in records::builtin_stretches(conn)? {
        if let Ok(id) = row.id.parse() {
            names.insert(id, row.name);
        }
    }
    for record in records::list_undated(conn, patient, RecordKind::OwnStretch)? {
        let stretch = crate::kinds::view::<crate::kinds::OwnStretches>(&record)?;
        names.insert(stretch.id, stretch.name);
    }
    Ok(names)
}

/// Every programme the patient had: each one ended, and the one in force.
pub(crate) fn plans_of_record(
    conn: &mut DbConnection,
    patient: UserId,
) -> Result<Vec<PlanOfRecord>, DbError> {
    let rows = versions::as_last_stood(conn, patient)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let names = stretch_names(conn, patient)?;
    rows.into_iter()
        .map(|row| {
            let doc: ProgrammeDoc = serde_json::from_str(&row.data).map_err(|e| {
                DbError::bad_json("programme_version", format!("{}", row.version), &e)
            })?;
            Ok(PlanOfRecord {
                version: row.version,
                saved_at: row.saved_at.and_utc(),
                names: doc
                    .items
                    .iter()
                    .map(|i| names.get(&i.stretch_id).cloned())
                    .collect(),
                doc,
                ended: row.ended,
            })
        })
        .collect()
}
