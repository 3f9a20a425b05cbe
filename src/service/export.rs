//! Exports of a patient's data, for the patient or a linked therapist: the
//! whole logbook as JSON (the GDPR copy) or as a FHIR R4 bundle, streamed a
//! page of rows at a time, and the daily series as CSV.
//!
//! A streamed export reads one page (at most [`PAGE`] rows) per short
//! database call, so no connection is held while the client downloads; it
//! hands the output on in chunks of about [`CHUNK`] bytes, and the channel to
//! the response holds at most two, so a slow client slows the reads instead
//! of filling memory: an export holds about a page of rows and three chunks
//! (well under 1 MiB) whatever the rows hold. [`ExportSlots`] bounds how many
//! run at once. A therapist's export checks the link before every page and
//! stops when the patient has ended it. A failure after the answer has begun
//! ends the connection early: a cut-off file is not valid JSON, so the client
//! cannot mistake it for a whole one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use utoipa::ToSchema;
use uuid::Uuid;

use super::account::UserResponse;
use super::care_team::{AccessLogEntry, CareTeamMember};
use super::programme::SavedProgramme;
use super::trends as daily_series;
use super::{ServiceError, ServiceResult};
use crate::clock::Clock;
use crate::db::records::{self, ListPosition};
use crate::db::{access_log, accounts, care_team, programme, Db, DbError};
use crate::domain::access::PatientScope;
use crate::domain::{DomainError, UserId};
use crate::export::{csv, fhir};
use crate::kinds::{self, Listing, Record, RecordKind};

/// Rows per database read: 100 rows of at most 2,000 characters of notes
/// each stay under 1 MiB.
pub const PAGE: i64 = 100;
/// Bytes gathered before a chunk goes to the client.
const CHUNK: usize = 32 * 1024;
/// How long a client may leave a chunk unread before the export stops.
const STALLED: std::time::Duration = std::time::Duration::from_secs(30);

/// Streamed exports one account may run at once.
const PER_ACCOUNT: usize = 2;
/// What a caller over [`PER_ACCOUNT`] is told to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 30;

/// The streamed exports running on this instance: at most [`PER_ACCOUNT`]
/// per account (429 past that) and a number in all (503 past that), so
/// downloads that are never read cannot pile up. Clones share the count.
#[derive(Clone)]
pub struct ExportSlots(Arc<Slots>);

struct Slots {
    in_all: Arc<Semaphore>,
    by_account: Mutex<HashMap<UserId, usize>>,
}

/// One running export's place; given back when the export ends.
pub struct ExportSlot {
    slots: ExportSlots,
    account: UserId,
    _permit: OwnedSemaphorePermit,
}

impl ExportSlots {
    /// At most `in_all` exports at once on this instance.
    pub fn new(in_all: usize) -> Self {
        Self(Arc::new(Slots {
            in_all: Arc::new(Semaphore::new(in_all)),
            by_account: Mutex::new(HashMap::new()),
        }))
    }

    fn take(&self, account: UserId) -> ServiceResult<ExportSlot> {
        let mut running = self
            .0
            .by_account
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mine = running.entry(account).or_default();
        if *mine >= PER_ACCOUNT {
            return Err(DomainError::TooManyExports {
                retry_after_secs: RETRY_AFTER_SECS,
            }
            .into());
        }
        let permit = self
            .0
            .in_all
            .clone()
            .try_acquire_owned()
            .map_err(|_| ServiceError::unavailable("every export slot is taken"))?;
        *mine += 1;
        Ok(ExportSlot {
            slots: self.clone(),
            account,
            _permit: permit,
        })
    }
}

impl Drop for ExportSlot {
    fn drop(&mut self) {
        let mut running = self
            .slots
            .0
            .by_account
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(mine) = running.get_mut(&self.account) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                running.remove(&self.account);
            }
        }
    }
}

/// A whole-logbook export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Json,
    Fhir,
}

/// The patient as the export names them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedPatient {
    pub id: Uuid,
    pub display_name: String,
    pub timezone: String,
}

/// The head of the JSON export: who, when, and (for the patient's own
/// copy) the account, the care team and the access log.
struct Head {
    patient: ExportedPatient,
    account: Option<UserResponse>,
    care_team: Option<Vec<CareTeamMember>>,
}

/// Why an export stopped before its end.
enum Stop {
    /// The client went away: stop reading.
    Gone,
    /// The patient ended the therapist's link while the export ran.
    Unlinked,
    Failed(ServiceError),
}

impl From<ServiceError> for Stop {
    fn from(err: ServiceError) -> Self {
        Self::Failed(err)
    }
}

impl From<DbError> for Stop {
    fn from(err: DbError) -> Self {
        Self::Failed(err.into())
    }
}

/// Gathers output into chunks and hands them to the response.
struct Sink {
    tx: mpsc::Sender<Result<Vec<u8>, ServiceError>>,
    buf: Vec<u8>,
    /// No item yet in the array being written (no comma before the next).
    first: bool,
}

impl Sink {
    fn raw(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
    }

    /// Writes `text` (ending in `[`) and starts a new array.
    fn open(&mut self, text: &str) {
        self.raw(text);
        self.first = true;
    }

    fn item<T: Serialize>(&mut self, value: &T) -> Result<(), Stop> {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        serde_json::to_writer(&mut self.buf, value)
            .map_err(|e| Stop::Failed(ServiceError::internal(e)))
    }

    async fn flush(&mut self, force: bool) -> Result<(), Stop> {
        if self.buf.is_empty() || (!force && self.buf.len() < CHUNK) {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buf);
        // A client that stops reading is given up on, like one that left.
        match tokio::time::timeout(STALLED, self.tx.send(Ok(chunk))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(Stop::Gone),
        }
    }
}

/// Reads one page with `read`, for the patient's own export, or for a
/// therapist whose link to the patient is still active (checked in the
/// same call, so rows written after the patient ended the link are never
/// read for them).
async fn page<T: Send + 'static>(
    db: &Db,
    scope: &PatientScope,
    read: impl FnOnce(&mut crate::db::DbConnection) -> crate::db::DbResult<T> + Send + 'static,
) -> Result<T, Stop> {
    let (patient, therapist, own) = (scope.patient, scope.actor.id, scope.is_own());
    let found = db
        .run(move |conn| {
            if !own && care_team::active_link(conn, patient, therapist)?.is_none() {
                return Ok(None);
            }
            read(conn).map(Some)
        })
        .await?;
    found.ok_or(Stop::Unlinked)
}

/// Every live object of one kind, a page at a time (dated kinds newest
/// first, the others by id), handed to `each`.
async fn each_record(
    db: &Db,
    scope: &PatientScope,
    kind: RecordKind,
    sink: &mut Sink,
    mut each: impl FnMut(&mut Sink, &Record) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let patient = scope.patient;
    let mut after: Option<ListPosition> = None;
    loop {
        let position = after.clone();
        let page = page(db, scope, move |conn| match kinds::listing(kind) {
            Listing::ByDate => {
                records::list(conn, patient, kind, (None, None), position.as_ref(), PAGE)
            }
            Listing::Whole => records::list_undated(conn, patient, kind),
        })
        .await?;
        for record in &page {
            each(sink, record)?;
            // A chunk goes as soon as it is full, whatever the rows hold.
            sink.flush(false).await?;
        }
        let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= PAGE;
        match page.last() {
            Some(last) if full && kinds::listing(kind) == Listing::ByDate => {
                after = Some(ListPosition {
                    date: last.required(last.columns.date, "date")?,
                    id: last.id,
                });
            }
            _ => return Ok(()),
        }
    }
}

async fn write_json(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    head: Head,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let now = clock.now();
    sink.raw("{\"format\":\"painline-export/1\",\"exported_at\":");
    sink.first = true;
    sink.item(&now)?;
    sink.raw(",\"patient\":");
    sink.first = true;
    sink.item(&head.patient)?;
    if let Some(account) = &head.account {
        sink.raw(",\"account\":");
        sink.first = true;
        sink.item(account)?;
    }
    if let Some(team) = &head.care_team {
        sink.raw(",\"care_team\":");
        sink.first = true;
        sink.item(team)?;
    }
    for kind in RecordKind::ALL {
        sink.open(&format!(",\"{}\":[", kinds::plural(*kind)));
        each_record(db, &scope, *kind, sink, |sink, record| {
            sink.item(&kinds::render(record)?)
        })
        .await?;
        sink.raw("]");
    }
    // Every version of the home programme, newest first (the one in force
    // is also under `programme`).
    sink.open(",\"programme_history\":[");
    let mut before = None;
    loop {
        let patient = scope.patient;
        let rows = page(db, &scope, move |conn| {
            programme::page(conn, patient, before, PAGE)
        })
        .await?;
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= PAGE;
        before = rows.last().map(|row| row.version);
        for row in rows {
            sink.item(&SavedProgramme::try_from(row)?)?;
            sink.flush(false).await?;
        }
        if !full {
            break;
        }
    }
    sink.raw("]");
    if scope.is_own() {
        sink.open(",\"access_log\":[");
        let mut after = None;
        loop {
            let position = after.clone();
            let patient = scope.patient;
            let page = db
                .run(move |conn| access_log::list(conn, patient, position, PAGE))
                .await?;
            for row in &page {
                after = Some((row.at, row.id.clone()));
            }
            let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= PAGE;
            for row in page {
                sink.item(&AccessLogEntry::try_from(row)?)?;
                sink.flush(false).await?;
            }
            if !full {
                break;
            }
        }
        sink.raw("]");
    }
    sink.raw("}");
    sink.flush(true).await
}

async fn write_fhir(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    head: Head,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let patient = head.patient.id;
    let today = match crate::domain::Timezone::parse(&head.patient.timezone) {
        Ok(zone) => clock.today_in(zone.tz()),
        Err(_) => clock.now().date_naive(),
    };
    sink.raw(&fhir::bundle_head(Uuid::new_v4(), clock.now()));
    sink.first = true;
    sink.item(&fhir::patient(&fhir::Subject {
        id: patient,
        display_name: head.patient.display_name,
        email: head.account.map(|a| a.email),
    }))?;
    each_record(db, &scope, RecordKind::PainEntry, sink, |sink, r| {
        let entry = kinds::view::<kinds::PainEntries>(r)?;
        fhir::pain_entry(patient, &entry)
            .iter()
            .try_for_each(|resource| sink.item(resource))
    })
    .await?;
    each_record(
        db,
        &scope,
        RecordKind::Assessment,
        sink,
        |sink, r| match fhir::assessment(patient, &kinds::view::<kinds::Assessments>(r)?) {
            Some(resource) => sink.item(&resource),
            None => Ok(()),
        },
    )
    .await?;
    each_record(db, &scope, RecordKind::MassageSession, sink, |sink, r| {
        let session = kinds::view::<kinds::MassageSessions>(r)?;
        sink.item(&fhir::massage_session(patient, &session))
    })
    .await?;
    let owner = scope.patient;
    let plans = page(db, &scope, move |conn| {
        super::programme::plans_of_record(conn, owner)
    })
    .await?;
    for plan in &plans {
        sink.item(&fhir::care_plan(patient, plan, today))?;
    }
    sink.raw(fhir::BUNDLE_TAIL);
    sink.flush(true).await
}

/// Reads who the export is about; a failure here is an ordinary error
/// answer, since nothing has been sent yet.
async fn head(db: &Db, scope: &PatientScope) -> ServiceResult<Head> {
    let (patient, own) = (scope.patient, scope.is_own());
    let (user, team) = db
        .run(move |conn| -> ServiceResult<_> {
            let user = accounts::find_user(conn, &patient.to_string())?.ok_or(if own {
                DomainError::AccountGone
            } else {
                DomainError::NotFound
            })?;
            let team = if own {
                Some(care_team::care_team(conn, patient)?)
            } else {
                None
            };
            Ok((user, team))
        })
        .await?;
    let care_team = team
        .map(|rows| {
            rows.into_iter()
                .map(|row| {
                    Ok(CareTeamMember::from(super::care_team::Member::try_from(
                        row,
                    )?))
                })
                .collect::<Result<Vec<_>, DbError>>()
        })
        .transpose()?;
    let patient = ExportedPatient {
        id: scope.patient.0,
        display_name: user.display_name.clone(),
        timezone: user.timezone.clone(),
    };
    let account = if own {
        Some(UserResponse::from_row(user)?)
    } else {
        None
    };
    Ok(Head {
        patient,
        account,
        care_team,
    })
}

/// The streamed body of a whole-logbook export. The patient is read before
/// this returns, so an account that is gone is an error answer, not a
/// broken download.
pub async fn document(
    db: Db,
    clock: Clock,
    slots: &ExportSlots,
    scope: PatientScope,
    format: Document,
) -> ServiceResult<impl Stream<Item = Result<Vec<u8>, ServiceError>>> {
    // The caller's place, held until the export ends (read or given up on).
    let slot = slots.take(scope.actor.id)?;
    let head = head(&db, &scope).await?;
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let _slot = slot;
        let mut sink = Sink {
            tx,
            buf: Vec::with_capacity(CHUNK + 4096),
            first: true,
        };
        let written = match format {
            Document::Json => write_json(&db, &clock, scope, head, &mut sink).await,
            Document::Fhir => write_fhir(&db, &clock, scope, head, &mut sink).await,
        };
        match written {
            Ok(()) => {}
            Err(Stop::Gone) => tracing::debug!("export: the client went away"),
            Err(Stop::Unlinked) => {
                tracing::info!("export stopped: the patient ended the link");
                let _ = sink.tx.send(Err(DomainError::NotFound.into())).await;
            }
            Err(Stop::Failed(err)) => {
                tracing::error!(error = %err, "export failed after it had begun");
                let _ = sink.tx.send(Err(err)).await;
            }
        }
    });
    Ok(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

/// The patient's part of a download's file name ([`crate::export::file_stem`]).
pub async fn file_stem(db: &Db, scope: PatientScope) -> ServiceResult<String> {
    let patient = db
        .run(move |conn| accounts::find_user(conn, &scope.patient.to_string()))
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(crate::export::file_stem(&patient.display_name))
}

/// The daily series of `[from, to]` as CSV (the same defaults and limits
/// as `…/daily`).
pub async fn daily_csv(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ServiceResult<(NaiveDate, NaiveDate, Vec<u8>)> {
    let (from, to, days) = daily_series::daily(db, clock, scope, from, to).await?;
    let body = csv::daily(&days).map_err(ServiceError::internal)?;
    Ok((from, to, body))
}
