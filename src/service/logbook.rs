//! The logbook's use cases, between the routes and storage. A write runs in
//! one transaction: lock the patient (the sync feed's order), check the body
//! against the patient's rules and data, let the pure protocol
//! (`kinds::protocol`) decide, store, and answer what was stored.

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{ServiceError, ServiceResult};
use crate::clock::Clock;
use crate::db::accounts;
use crate::db::accounts::UserRow;
use crate::db::care_team;
pub use crate::db::records::ListPosition;
use crate::db::records::{self, Created, NewRecord, PatientLock, SavedResponse};
use crate::db::{Db, DbConnection, DbError};
use crate::domain::access::{AuthUser, PatientScope};
use crate::domain::account::Timezone;
use crate::domain::logbook::Context;
use crate::domain::version::{etag, IfMatch};
use crate::domain::{DomainError, FieldError, RecordId, Role, UserId};
use crate::kinds::protocol::{self, Current, DeleteDecision, PutDecision, Writer};
use crate::kinds::{self, Author, Kind, Listing, Record, RecordKind, Reference, Stretch};

/// How an object is addressed: by id, or by name for kinds that have one.
#[derive(Debug, Clone)]
pub enum Target {
    Id(RecordId),
    Key(String),
}

/// What a PUT did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The object did not exist (or was deleted) and now does.
    Created,
    /// The object changed.
    Replaced,
    /// The same content was sent again: nothing changed.
    Unchanged,
}

/// A written object and what to tell the client.
pub struct Written<V> {
    pub outcome: Outcome,
    pub view: V,
    pub version: i64,
    pub location: String,
}

/// A stored object and its version (the `ETag`).
pub struct Found<V> {
    pub view: V,
    pub version: i64,
}

/// Checked list parameters.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub limit: i64,
    pub after: Option<ListPosition>,
}

pub(super) fn writer<K: Kind>(scope: &PatientScope) -> Writer {
    Writer {
        patient: scope.patient,
        kind: K::KIND,
        author: scope.actor.id,
        shared: K::SHARED,
    }
}

fn author(scope: &PatientScope) -> Author {
    Author {
        id: scope.actor.id,
        role: scope.actor.role,
    }
}

pub(super) fn current(record: &Record) -> Current {
    Current {
        patient: record.patient,
        kind: record.kind,
        author: record.author.id,
        version: record.version,
        deleted: record.is_deleted(),
    }
}

/// The patient's lock; a token that outlived its account gets 401. A linked
/// therapist's link is checked again under the lock: the scope was decided
/// before the body was read, and the patient may have ended the link since
/// (ending a link takes the same lock, so the two cannot interleave).
pub(crate) fn lock(conn: &mut DbConnection, scope: &PatientScope) -> ServiceResult<PatientLock> {
    let lock = records::lock_patient(conn, scope.patient).map_err(|e| match e {
        DbError::NotFound if scope.is_own() => ServiceError::from(DomainError::AccountGone),
        DbError::NotFound => DomainError::NotFound.into(),
        other => other.into(),
    })?;
    if !scope.is_own() && care_team::active_link(conn, scope.patient, scope.actor.id)?.is_none() {
        return Err(DomainError::LinkEnded.into());
    }
    Ok(lock)
}

/// A write's answer, with the patient's access log kept true to it: when
/// the link re-check under the lock refused the write ([`lock`]), the
/// request's row (written `allowed` when its scope was decided) becomes
/// `refused`, in a transaction of its own since the write's rolled back.
pub(crate) async fn logged<T>(
    db: &Db,
    scope: &PatientScope,
    answer: ServiceResult<T>,
) -> ServiceResult<T> {
    if let (Err(ServiceError::Domain(DomainError::LinkEnded)), Some(row)) =
        (&answer, scope.logged_as)
    {
        if let Err(e) = db
            .write(move |conn| crate::db::access_log::mark_refused(conn, row))
            .await
        {
            tracing::warn!(error = %e, "could not mark a refused write in the access log");
        }
    }
    answer
}

/// Checks `body` against the rules for `patient` (their local today) and
/// against their data (the objects it refers to).
pub(super) fn check<K: Kind>(
    conn: &mut DbConnection,
    patient: &UserRow,
    clock: &Clock,
    scope: &PatientScope,
    body: &K::Body,
) -> ServiceResult<()> {
    let ctx = Context {
        today: clock.today_in(patient.timezone()?.tz()),
    };
    DomainError::check(K::validate(body, &ctx))?;
    let mut errors = Vec::new();
    for reference in K::references(body) {
        match reference {
            Reference::Stretch { field, id } => {
                if !records::stretch_usable(conn, scope.patient, id)? {
                    errors.push(FieldError::new(
                        field,
                        "is not a stretch of the catalog or one of yours",
                    ));
                }
            }
        }
    }
    Ok(DomainError::check(errors)?)
}

pub(super) fn find(
    conn: &mut DbConnection,
    scope: &PatientScope,
    kind: RecordKind,
    target: &Target,
) -> ServiceResult<Option<Record>> {
    Ok(match target {
        Target::Id(id) => records::find(conn, *id)?,
        Target::Key(key) => records::find_by_key(conn, scope.patient, kind, key)?,
    })
}

/// Where the object lives for the one who wrote it: under `/v1/me/…` for
/// the patient, under `/v1/patients/{pid}/…` for a linked therapist.
fn location<K: Kind>(scope: &PatientScope, record: &Record) -> String {
    let own = K::location(record);
    if scope.is_own() {
        own
    } else {
        own.replacen("/v1/me/", &format!("/v1/patients/{}/", scope.patient), 1)
    }
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> ServiceResult<String> {
    serde_json::to_string(value).map_err(ServiceError::internal)
}

/// `PUT`: creates, replaces, restores or replays the object `id` (for a
/// kind addressed by name, the object of that name; `id` only if it is new).
pub async fn put<K: Kind>(
    db: &Db,
    clock: &Clock,
    zones: &ZoneHints,
    scope: PatientScope,
    id: RecordId,
    if_match: IfMatch,
    body: K::Body,
) -> ServiceResult<Written<K::View>> {
    if let Some(written) = create_alone::<K>(db, clock, zones, &scope, id, &if_match, &body).await?
    {
        return Ok(written);
    }
    let clock = clock.clone();
    let zones = zones.clone();
    let answer = db
        .write(move |conn| {
            let mut lock = lock(conn, &scope)?;
            if let Ok(zone) = lock.patient().timezone() {
                zones.0.insert(scope.patient, zone);
            }
            put_locked::<K>(conn, &mut lock, &clock, &scope, id, if_match, body)
        })
        .await;
    logged(db, &scope, answer).await
}

/// The time zone each patient had when last read here. A patient's new
/// object is checked against their today, and with this it can be checked
/// before anything is read, then stored in one round trip
/// ([`records::create_alone`]), which refuses when the zone changed since.
/// Entries are hints, never trusted: a stale one only costs the general path.
#[derive(Clone)]
pub struct ZoneHints(Arc<quick_cache::sync::Cache<UserId, Timezone>>);

impl ZoneHints {
    /// Room for `patients` hints (about 50 bytes each).
    pub fn new(patients: usize) -> Self {
        Self(Arc::new(quick_cache::sync::Cache::new(patients.max(16))))
    }
}

/// A patient's `PUT` of an id that is new, in one statement on PostgreSQL
/// (`None` when the general path must decide: SQLite, a therapist writing,
/// a body that refers to other objects, is addressed by name or holds red
/// flags, an `If-Match` a new object cannot meet, a body the checks refuse, a taken
/// id, a changed time zone). Everything [`put`] checks is checked the same
/// way; only the patient's row is not read first.
async fn create_alone<K: Kind>(
    db: &Db,
    clock: &Clock,
    zones: &ZoneHints,
    scope: &PatientScope,
    id: RecordId,
    if_match: &IfMatch,
    body: &K::Body,
) -> ServiceResult<Option<Written<K::View>>> {
    if !db.is_postgres()
        || !scope.is_own()
        || K::KIND == RecordKind::OwnStretch
        || !K::references(body).is_empty()
        || protocol::decide_put(None, &writer::<K>(scope), false, if_match).is_err()
    {
        return Ok(None);
    }
    let patient = scope.patient;
    let zone = match zones.0.get(&patient) {
        Some(zone) => zone,
        None => {
            let Some(user) = db
                .run(move |conn| accounts::find_user(conn, &patient.to_string()))
                .await?
            else {
                return Err(DomainError::AccountGone.into());
            };
            let zone = user.timezone()?;
            zones.0.insert(patient, zone);
            zone
        }
    };
    let ctx = Context {
        today: clock.today_in(zone.tz()),
    };
    if !K::validate(body, &ctx).is_empty() {
        return Ok(None);
    }
    let (columns, doc) = K::split(body.clone());
    // The function of the migrations predates these columns.
    if columns.natural_key.is_some() || columns.red_flags.is_some() {
        return Ok(None);
    }
    let json = to_json(&doc)?;
    let author = author(scope);
    let now = clock.now_naive();
    let created = db
        .run(move |conn| {
            let new = NewRecord {
                id,
                kind: K::KIND,
                author,
                columns: &columns,
                doc: &json,
            };
            records::create_alone(conn, patient, zone.name(), &new, now)
        })
        .await?;
    match created {
        Some(Created::Stored(record)) => Ok(Some(Written {
            outcome: Outcome::Created,
            view: kinds::view::<K>(&record)?,
            version: record.version,
            location: location::<K>(scope, &record),
        })),
        Some(Created::NoPatient) => Err(DomainError::AccountGone.into()),
        Some(Created::TimezoneChanged) => {
            zones.0.remove(&patient);
            Ok(None)
        }
        Some(Created::IdTaken) | None => Ok(None),
    }
}

/// Many `PUT`s for one patient in one transaction: each goes through the
/// same checks and protocol as [`put`], under one lock, with one commit.
/// For bulk loads such as the benchmark's seed; an error fails them all.
pub async fn put_batch<T, F>(
    db: &Db,
    clock: &Clock,
    patient: PatientScope,
    fill: F,
) -> ServiceResult<T>
where
    F: FnOnce(&mut Batch<'_>) -> ServiceResult<T> + Send + 'static,
    T: Send + 'static,
{
    let clock = clock.clone();
    db.write(move |conn| {
        let lock = lock(conn, &patient)?;
        let mut batch = Batch {
            conn,
            patient: patient.patient,
            lock,
            clock,
            checked_links: Vec::new(),
        };
        fill(&mut batch)
    })
    .await
}

/// The open transaction of [`put_batch`].
pub struct Batch<'c> {
    conn: &'c mut DbConnection,
    patient: UserId,
    lock: PatientLock,
    clock: Clock,
    /// Therapists whose link was checked under this lock.
    checked_links: Vec<UserId>,
}

impl Batch<'_> {
    /// `PUT` as `scope`, which must address the batch's patient (a linked
    /// therapist's link is checked once per batch, under the lock).
    pub fn put<K: Kind>(
        &mut self,
        scope: &PatientScope,
        id: RecordId,
        body: K::Body,
    ) -> ServiceResult<Outcome> {
        if scope.patient != self.patient {
            return Err(ServiceError::internal("a batch writes for one patient"));
        }
        if !scope.is_own() && !self.checked_links.contains(&scope.actor.id) {
            care_team::active_link(self.conn, scope.patient, scope.actor.id)?
                .ok_or(DomainError::NotFound)?;
            self.checked_links.push(scope.actor.id);
        }
        let written = put_locked::<K>(
            self.conn,
            &mut self.lock,
            &self.clock,
            scope,
            id,
            IfMatch::Absent,
            body,
        )?;
        Ok(written.outcome)
    }
}

/// One `PUT` inside a transaction that holds the patient's lock.
pub(super) fn put_locked<K: Kind>(
    conn: &mut DbConnection,
    lock: &mut PatientLock,
    clock: &Clock,
    scope: &PatientScope,
    id: RecordId,
    if_match: IfMatch,
    body: K::Body,
) -> ServiceResult<Written<K::View>> {
    check::<K>(conn, lock.patient(), clock, scope, &body)?;
    // One catalog, one object per id: an own stretch never takes the id of
    // a built-in one (the catalog would list both).
    if K::KIND == RecordKind::OwnStretch && records::is_builtin_stretch(conn, id)? {
        return Err(DomainError::IdTaken.into());
    }
    let (columns, doc) = K::split(body);
    let target = match &columns.natural_key {
        Some(key) => Target::Key(key.clone()),
        None => Target::Id(id),
    };
    let now = clock.now_naive();
    // A fresh id is the common case (phones create objects offline):
    // create it at once, and read what is stored only if it is taken.
    if let Target::Id(id) = target {
        if protocol::decide_put(None, &writer::<K>(scope), false, &if_match).is_ok() {
            let json = to_json(&doc)?;
            let new = NewRecord {
                id,
                kind: K::KIND,
                author: author(scope),
                columns: &columns,
                doc: &json,
            };
            if let Some(record) = records::insert_if_new(conn, lock, &new, now)? {
                return Ok(Written {
                    outcome: Outcome::Created,
                    view: kinds::view::<K>(&record)?,
                    version: record.version,
                    location: location::<K>(scope, &record),
                });
            }
        }
    }
    let stored = find(conn, scope, K::KIND, &target)?;
    let same_content = match &stored {
        Some(r) if !r.is_deleted() => {
            r.columns == columns && r.doc::<K::Doc>().ok().as_ref() == Some(&doc)
        }
        _ => false,
    };
    let decision = protocol::decide_put(
        stored.as_ref().map(current).as_ref(),
        &writer::<K>(scope),
        same_content,
        &if_match,
    )?;
    let doc = to_json(&doc)?;
    let (outcome, record) = match (decision, stored) {
        (PutDecision::Create, _) => {
            let new = NewRecord {
                id,
                kind: K::KIND,
                author: author(scope),
                columns: &columns,
                doc: &doc,
            };
            // Writes for one patient are serialised by the lock, so a
            // clash is another patient taking the same fresh id at the
            // same moment: to this caller it is someone else's id.
            let record = records::insert(conn, lock, &new, now).map_err(|e| match e {
                DbError::Duplicate(_) => ServiceError::from(DomainError::NotFound),
                other => other.into(),
            })?;
            (Outcome::Created, record)
        }
        (PutDecision::Restore, Some(stored)) => (
            Outcome::Created,
            records::replace(conn, lock, stored, columns, doc, now)?,
        ),
        (PutDecision::Replace, Some(stored)) => (
            Outcome::Replaced,
            records::replace(conn, lock, stored, columns, doc, now)?,
        ),
        (PutDecision::Replay, Some(stored)) => (Outcome::Unchanged, stored),
        (_, None) => {
            return Err(ServiceError::internal(
                "protocol decided on a missing object",
            ))
        }
    };
    Ok(Written {
        outcome,
        view: kinds::view::<K>(&record)?,
        version: record.version,
        location: location::<K>(scope, &record),
    })
}

/// Why one attempt at an idempotent POST did not finish.
enum PostError {
    /// A concurrent request with the same key committed first.
    KeyTaken,
    Failed(ServiceError),
}

impl From<ServiceError> for PostError {
    fn from(err: ServiceError) -> Self {
        Self::Failed(err)
    }
}

impl From<DbError> for PostError {
    fn from(err: DbError) -> Self {
        Self::Failed(err.into())
    }
}

impl From<DomainError> for PostError {
    fn from(err: DomainError) -> Self {
        Self::Failed(err.into())
    }
}

/// What identifies a POST's content for its `Idempotency-Key`. Computed as
/// the first release did (the path without `/v1`), so a phone retrying
/// across an upgrade still gets its first answer.
/// A therapist's key also names the patient: the same key and body sent for
/// another patient is a different request (409), not a replay of the first.
fn fingerprint<K: Kind>(scope: &PatientScope, body: &K::Body) -> ServiceResult<String> {
    let path = K::COLLECTION.trim_start_matches("/v1");
    let text = if scope.is_own() {
        format!("POST {path} {}", to_json(body)?)
    } else {
        format!(
            "POST /patients/{}{} {}",
            scope.patient,
            path.trim_start_matches("/me"),
            to_json(body)?
        )
    };
    Ok(Sha256::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// `POST`: creates with a server id. With an `Idempotency-Key` seen in the
/// last 24 hours, answers what the first request got and stores nothing.
pub async fn post<K: Kind>(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    key: Option<String>,
    body: K::Body,
) -> ServiceResult<SavedResponse> {
    let attempt = || {
        let (clock, key, body) = (clock.clone(), key.clone(), body.clone());
        db.write(move |conn| -> Result<SavedResponse, PostError> {
            let now = clock.now_naive();
            let mut lock = lock(conn, &scope)?;
            let fingerprint = fingerprint::<K>(&scope, &body)?;
            if let Some(key) = &key {
                let since = now - Duration::hours(24);
                if let Some(saved) = records::find_saved_response(conn, scope.actor.id, key, since)?
                {
                    if saved.fingerprint != fingerprint {
                        return Err(DomainError::IdempotencyKeyReused.into());
                    }
                    return Ok(saved);
                }
            }
            // A retry gets its first answer even if the rules would now refuse
            // it (say, its stretch was deleted since), so check only here.
            check::<K>(conn, lock.patient(), &clock, &scope, &body)?;
            let (columns, doc) = K::split(body);
            let doc = to_json(&doc)?;
            let new = NewRecord {
                id: RecordId::new_random(),
                kind: K::KIND,
                author: author(&scope),
                columns: &columns,
                doc: &doc,
            };
            let record = records::insert(conn, &mut lock, &new, now)?;
            let saved = SavedResponse {
                user_id: scope.actor.id.to_string(),
                key: key.unwrap_or_default(),
                fingerprint,
                body: to_json(&kinds::view::<K>(&record)?)?,
                location: location::<K>(&scope, &record),
                etag: etag(record.version),
                created_at: now,
            };
            if !saved.key.is_empty() {
                records::save_response(conn, &saved).map_err(|e| match e {
                    DbError::Duplicate(_) => PostError::KeyTaken,
                    other => other.into(),
                })?;
            }
            Ok(saved)
        })
    };
    let first = match attempt().await {
        // The concurrent request's answer is saved now: this one gets it.
        Err(PostError::KeyTaken) => attempt().await,
        other => other,
    };
    let answer = first.map_err(|e| match e {
        PostError::KeyTaken => DomainError::IdempotencyKeyInFlight.into(),
        PostError::Failed(e) => e,
    });
    logged(db, &scope, answer).await
}

/// `DELETE`: leaves a tombstone; deleting a tombstone again changes nothing.
pub async fn delete<K: Kind>(
    db: &Db,
    clock: &Clock,
    scope: PatientScope,
    target: Target,
    if_match: IfMatch,
) -> ServiceResult<()> {
    let now = clock.now_naive();
    let answer = db
        .write(move |conn| {
            let mut lock = lock(conn, &scope)?;
            let stored = find(conn, &scope, K::KIND, &target)?;
            let decision = protocol::decide_delete(
                stored.as_ref().map(current).as_ref(),
                &writer::<K>(&scope),
                &if_match,
            )?;
            if let (DeleteDecision::Tombstone, Some(stored)) = (decision, &stored) {
                records::tombstone(conn, &mut lock, stored, now)?;
            }
            Ok(())
        })
        .await;
    logged(db, &scope, answer).await
}

/// `GET` one: the patient's live object of this kind, else 404.
pub async fn get<K: Kind>(
    db: &Db,
    scope: PatientScope,
    target: Target,
) -> ServiceResult<Found<K::View>> {
    let record = db
        .run(move |conn| find(conn, &scope, K::KIND, &target))
        .await?
        .filter(|r| r.patient == scope.patient && r.kind == K::KIND && !r.is_deleted())
        .ok_or(DomainError::NotFound)?;
    Ok(Found {
        view: kinds::view::<K>(&record)?,
        version: record.version,
    })
}

/// A page of a dated kind, and the position of its last item when there is
/// a next page.
pub async fn list_by_date<K: Kind>(
    db: &Db,
    scope: PatientScope,
    params: ListParams,
) -> ServiceResult<(Vec<K::View>, Option<ListPosition>)> {
    debug_assert_eq!(K::LISTING, Listing::ByDate);
    let ListParams {
        from,
        to,
        limit,
        after,
    } = params;
    let mut rows = db
        .run(move |conn| {
            records::list(
                conn,
                scope.patient,
                K::KIND,
                (from, to),
                after.as_ref(),
                limit + 1,
            )
        })
        .await?;
    let page = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > page;
    rows.truncate(page);
    let last = match rows.last() {
        Some(last) if more => last
            .columns
            .date
            .map(|date| ListPosition { date, id: last.id }),
        _ => None,
    };
    let items = rows
        .iter()
        .map(kinds::view::<K>)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, last))
}

/// Every live object of an undated kind, by id.
pub async fn list_whole<K: Kind>(db: &Db, scope: PatientScope) -> ServiceResult<Vec<K::View>> {
    let rows = db
        .run(move |conn| records::list_undated(conn, scope.patient, K::KIND))
        .await?;
    Ok(rows
        .iter()
        .map(kinds::view::<K>)
        .collect::<Result<Vec<_>, _>>()?)
}

/// One object that changed, in its latest state.
pub struct Change {
    pub kind: RecordKind,
    pub record: RecordId,
    pub deleted: bool,
    pub version: i64,
    /// The object as its GET answers it; `None` when deleted.
    pub data: Option<Value>,
}

/// A place in a patient's sync feed: the generation of the database that
/// issued it and the patient's change counter there, written `G-N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCursor {
    /// `None`: the start of the feed, or a cursor of a release before
    /// generations (a bare `N`), read as this database's.
    pub generation: Option<String>,
    pub seq: i64,
}

impl SyncCursor {
    /// The start of the feed.
    pub fn start() -> Self {
        Self {
            generation: None,
            seq: 0,
        }
    }

    /// `G-N` as issued, or a bare `N` of an earlier release; `None` for
    /// anything this API did not return.
    pub fn parse(raw: &str) -> Option<Self> {
        let (generation, seq) = match raw.split_once('-') {
            Some((generation, seq)) => (Some(generation), seq),
            None => (None, raw),
        };
        let seq = seq
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && seq.bytes().all(|b| b.is_ascii_digit()))?;
        if let Some(g) = generation {
            if g.len() != 12 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
        }
        Some(Self {
            generation: generation.map(str::to_ascii_lowercase),
            seq,
        })
    }
}

impl std::fmt::Display for SyncCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.generation {
            Some(generation) => write!(f, "{generation}-{}", self.seq),
            None => write!(f, "{}", self.seq),
        }
    }
}

/// Everything of the patient's that changed after `after`, in order, and
/// the cursor to pass next time. A cursor of another copy of the database
/// (from before a restore) is refused: its numbers mean other changes here.
pub async fn changes(
    db: &Db,
    scope: PatientScope,
    after: SyncCursor,
    limit: i64,
) -> ServiceResult<(Vec<Change>, SyncCursor, bool)> {
    let from = after.seq;
    let (generation, mut rows) = db
        .run(move |conn| -> ServiceResult<_> {
            let generation = records::generation(conn)?;
            if after.generation.as_ref().is_some_and(|g| *g != generation) {
                return Err(DomainError::CursorFromAnotherCopy.into());
            }
            if after.seq > records::change_counter(conn, scope.patient)? {
                return Err(DomainError::CursorAhead.into());
            }
            let rows = records::changes(conn, scope.patient, after.seq, limit + 1)?;
            Ok((generation, rows))
        })
        .await?;
    let page = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > page;
    rows.truncate(page);
    let next = SyncCursor {
        generation: Some(generation),
        seq: rows.last().map_or(from, |r| r.change_seq),
    };
    let changes = rows
        .iter()
        .map(|r| {
            let data = if r.is_deleted() {
                None
            } else {
                Some(kinds::render(r)?)
            };
            Ok(Change {
                kind: r.kind,
                record: r.id,
                deleted: r.is_deleted(),
                version: r.version,
                data,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok((changes, next, has_more))
}

/// The stretch catalog: built-in stretches by name, then (for a patient)
/// their own.
pub async fn catalog(db: &Db, user: AuthUser) -> ServiceResult<Vec<Stretch>> {
    catalog_of(db, user, DomainError::AccountGone).await
}

/// A linked patient's catalog as they see it, for their therapist (404
/// when the patient's account is gone meanwhile: it is not the caller's).
pub async fn patient_catalog(db: &Db, scope: PatientScope) -> ServiceResult<Vec<Stretch>> {
    let patient = AuthUser {
        id: scope.patient,
        role: Role::Patient,
        login: None,
    };
    catalog_of(db, patient, DomainError::NotFound).await
}

async fn catalog_of(db: &Db, user: AuthUser, gone: DomainError) -> ServiceResult<Vec<Stretch>> {
    let (builtin, own) = db
        .run(move |conn| -> ServiceResult<_> {
            if !crate::db::accounts::user_exists(conn, &user.id.to_string())? {
                return Err(gone.into());
            }
            let builtin = records::builtin_stretches(conn)?;
            let own = match user.role {
                Role::Patient => records::list_undated(conn, user.id, RecordKind::OwnStretch)?,
                Role::Therapist => Vec::new(),
            };
            Ok((builtin, own))
        })
        .await?;
    let mut items = builtin
        .into_iter()
        .map(|row| {
            let bad = |column| DbError::corrupt("stretch", &row.id, column);
            Ok(Stretch {
                id: row.id.parse().map_err(|_| bad("id"))?,
                targets: serde_json::from_str(&row.targets).map_err(|_| bad("targets"))?,
                key: row.key,
                name: row.name,
                description: Some(row.description),
                custom: false,
                version: None,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    for record in &own {
        items.push(kinds::view::<kinds::OwnStretches>(record)?);
    }
    Ok(items)
}

#[cfg(test)]
mod cursor_tests {
    use super::SyncCursor;

    #[test]
    fn cursors_carry_the_generation_and_read_back() {
        let issued = SyncCursor {
            generation: Some("0a1b2c3d4e5f".to_owned()),
            seq: 42,
        };
        assert_eq!(issued.to_string(), "0a1b2c3d4e5f-42");
        assert_eq!(SyncCursor::parse("0a1b2c3d4e5f-42"), Some(issued));
        // A bare counter, as an earlier release issued it.
        let legacy = SyncCursor::parse("17").unwrap();
        assert_eq!((legacy.generation, legacy.seq), (None, 17));
        for bad in [
            "",
            "-1",
            "+5",
            "x",
            "0a1b2c3d4e5f-",
            "0a1b2c3d4e5f--1",
            "0a1b-3",
            "zzzzzzzzzzzz-3",
            "0a1b2c3d4e5f-3-4",
            "99999999999999999999",
        ] {
            assert_eq!(SyncCursor::parse(bad), None, "{bad}");
        }
    }
}
