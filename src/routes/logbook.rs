//! The patient's logbook under `/v1/me/…`: pain entries, stretch sessions,
//! massage sessions, questionnaires, own stretches, precautions, the stretch
//! catalog and the sync feed. Only patients may call these routes (403).

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::input::ApiJson;
use super::records::{
    self as rec, check_limit, IdempotencyKey, IfMatchHeader, ListQuery, LogKind, RecordMeta, Writer,
};
use crate::analytics::instruments::OdiBand;
use crate::auth::AuthUser;
use crate::db::records::{self, RecordRow};
use crate::db::DbConnection;
use crate::domain::logbook::{
    AssessmentBody, Checks, Condition, ConditionBody, Context, Entry, MassageSessionBody, Muscle,
    OwnStretchBody, PainEntryBody, StretchSessionBody, NOTES_MAX,
};
use crate::domain::Role;
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

// ---------------------------------------------------------------- response types

/// A pain entry as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct PainEntry {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub body: PainEntryBody,
    /// PEG-3 (mean of pain and both interference scores) when both are given.
    pub peg_score: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StretchSession {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub body: StretchSessionBody,
}

/// Who recorded a massage session.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedBy {
    pub id: Uuid,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MassageSession {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub body: MassageSessionBody,
    /// The patient, or the linked therapist who recorded it (only they may change it).
    pub recorded_by: RecordedBy,
}

/// A scored questionnaire.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assessment {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub body: AssessmentBody,
    /// PEG: mean 0..10; ODI: 0..100; RMDQ: count of yes answers 0..24.
    pub score: f64,
    pub max_score: i64,
    /// ODI only.
    pub band: Option<OdiBand>,
}

/// A stretch of the catalog: built in, or one of the patient's own.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stretch {
    pub id: Uuid,
    /// Stable identifier (`custom-<id>` for a patient's own).
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub targets: Vec<Muscle>,
    /// True for a patient's own stretch.
    pub custom: bool,
    /// Own stretches only: version for `If-Match`.
    pub version: Option<i64>,
}

/// A precaution the patient declared.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionItem {
    #[serde(flatten)]
    pub meta: RecordMeta,
    pub condition: Condition,
    pub note: Option<String>,
}

/// What is stored for a precaution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredCondition {
    pub condition: Condition,
    pub note: Option<String>,
}

impl Entry for StoredCondition {
    fn date(&self) -> Option<NaiveDate> {
        None
    }

    fn validate(&self, _: &Context) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.text("note", self.note.as_deref(), NOTES_MAX);
        checks.0
    }
}

// ---------------------------------------------------------------- kinds

pub struct PainEntries;
pub struct StretchSessions;
pub struct MassageSessions;
pub struct Assessments;
pub struct OwnStretches;
pub struct Conditions;

impl LogKind for PainEntries {
    const KIND: &'static str = "pain_entry";
    const PATH: &'static str = "/me/pain-entries";
    type Body = PainEntryBody;
    type Response = PainEntry;

    fn respond(row: &RecordRow, body: Self::Body) -> AppResult<PainEntry> {
        Ok(PainEntry {
            meta: RecordMeta::of(row)?,
            peg_score: body.peg_score(),
            body,
        })
    }
}

impl LogKind for StretchSessions {
    const KIND: &'static str = "stretch_session";
    const PATH: &'static str = "/me/stretch-sessions";
    type Body = StretchSessionBody;
    type Response = StretchSession;

    fn check_references(
        body: &Self::Body,
        conn: &mut DbConnection,
        patient_id: &str,
    ) -> AppResult<Vec<FieldError>> {
        if records::stretch_exists_for(
            conn,
            patient_id,
            &body.stretch_id.to_string(),
            OwnStretches::KIND,
        )? {
            Ok(Vec::new())
        } else {
            Ok(vec![FieldError::new(
                "stretch_id",
                "is not a stretch of the catalog or one of yours",
            )])
        }
    }
    fn respond(row: &RecordRow, body: Self::Body) -> AppResult<StretchSession> {
        Ok(StretchSession {
            meta: RecordMeta::of(row)?,
            body,
        })
    }
}

impl LogKind for MassageSessions {
    const KIND: &'static str = "massage_session";
    const PATH: &'static str = "/me/massage-sessions";
    type Body = MassageSessionBody;
    type Response = MassageSession;

    fn respond(row: &RecordRow, body: Self::Body) -> AppResult<MassageSession> {
        Ok(MassageSession {
            meta: RecordMeta::of(row)?,
            body,
            recorded_by: RecordedBy {
                id: row.author_id.parse().map_err(AppError::internal)?,
                role: row
                    .author_role
                    .parse()
                    .map_err(|()| AppError::internal("stored role is invalid"))?,
            },
        })
    }
}

impl LogKind for Assessments {
    const KIND: &'static str = "assessment";
    const PATH: &'static str = "/me/assessments";
    type Body = AssessmentBody;
    type Response = Assessment;

    fn respond(row: &RecordRow, body: Self::Body) -> AppResult<Assessment> {
        let score = body.instrument.score(&body.answers);
        Ok(Assessment {
            meta: RecordMeta::of(row)?,
            body,
            score: score.score,
            max_score: score.max_score,
            band: score.band,
        })
    }
}

impl LogKind for OwnStretches {
    const KIND: &'static str = "stretch";
    const PATH: &'static str = "/me/stretches";
    type Body = OwnStretchBody;
    type Response = Stretch;

    fn respond(row: &RecordRow, body: Self::Body) -> AppResult<Stretch> {
        Ok(Stretch {
            id: row.id.parse().map_err(AppError::internal)?,
            key: format!("custom-{}", row.id),
            name: body.name,
            description: body.description,
            targets: body.targets,
            custom: true,
            version: Some(row.version),
        })
    }
}

impl LogKind for Conditions {
    const KIND: &'static str = "condition";
    const PATH: &'static str = "/me/conditions";
    type Body = StoredCondition;
    type Response = ConditionItem;

    /// A precaution's address is its name, not its id.
    fn location(row: &RecordRow) -> String {
        format!(
            "/v1{}/{}",
            Self::PATH,
            row.natural_key.as_deref().unwrap_or(&row.id)
        )
    }
    fn natural_key(body: &Self::Body) -> Option<String> {
        Some(body.condition.as_str())
    }
    fn respond(row: &RecordRow, body: Self::Body) -> AppResult<ConditionItem> {
        Ok(ConditionItem {
            meta: RecordMeta::of(row)?,
            condition: body.condition,
            note: body.note,
        })
    }
}

// ---------------------------------------------------------------- per-resource routes

/// One list page per resource, for the OpenAPI document.
macro_rules! page_type {
    ($page:ident, $item:ident) => {
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $page {
            pub items: Vec<$item>,
            /// Pass as `cursor` for the next page; null on the last page.
            pub next_cursor: Option<String>,
        }
    };
}

page_type!(PainEntryPage, PainEntry);
page_type!(StretchSessionPage, StretchSession);
page_type!(MassageSessionPage, MassageSession);
page_type!(AssessmentPage, Assessment);

/// The four item routes of a logbook resource (create, get, put, delete),
/// annotated for OpenAPI; the handlers are one-liners into the generic
/// protocol in `records`. Expands inside the resource's module.
macro_rules! item_routes {
    ($m:ident, $kind:ident, $body:ident, $item:ident, $coll:tt, $one:tt, $a:tt) => {
            #[utoipa::path(
                post, path = $coll, tag = "logbook", operation_id = concat!("create_", stringify!($m)),
                summary = concat!("Record ", $a, " under a server-chosen id"),
                security(("bearer" = [])), request_body = $body,
                params(("Idempotency-Key" = Option<String>, Header, description = "Same key within 24 h: the first answer again, nothing stored twice")),
                responses(
                    (status = 201, description = "Created with a server id", body = $item,
                     headers(("Location" = String), ("ETag" = String))),
                    (status = 403, description = "The caller is not a patient"),
                    (status = 409, description = "The Idempotency-Key was used for a different request"),
                    (status = 422, description = "A value is out of range"),
                )
            )]
            pub async fn create(state: web::Data<AppState>, user: AuthUser, key: IdempotencyKey, body: ApiJson<$body>) -> AppResult<HttpResponse> {
                rec::post_record::<$kind>(&state, Writer::patient(user.patient()?), key.0, body.0).await
            }

            #[utoipa::path(
                get, path = $one, tag = "logbook", operation_id = concat!("get_", stringify!($m)),
                summary = concat!("Read ", $a),
                security(("bearer" = [])), params(("id" = Uuid, Path)),
                responses(
                    (status = 200, description = "The object", body = $item, headers(("ETag" = String))),
                    (status = 403, description = "The caller is not a patient"),
                    (status = 404, description = "Absent, deleted, or not the caller's"),
                )
            )]
            pub async fn get(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> AppResult<HttpResponse> {
                rec::get_record::<$kind>(&state, user.patient()?, id.into_inner()).await
            }

            #[utoipa::path(
                put, path = $one, tag = "logbook", operation_id = concat!("put_", stringify!($m)),
                summary = concat!("Create, replace or restore ", $a, " under a client-chosen id"),
                security(("bearer" = [])), request_body = $body,
                params(("id" = Uuid, Path, description = "Chosen by the client"),
                       ("If-Match" = Option<String>, Header, description = "ETag of the version being replaced")),
                responses(
                    (status = 200, description = "Replaced, or the same content again (version unchanged)", body = $item, headers(("ETag" = String))),
                    (status = 201, description = "Created (or restored after a delete)", body = $item,
                     headers(("Location" = String), ("ETag" = String))),
                    (status = 403, description = "The caller is not a patient, or the object was recorded by a therapist"),
                    (status = 404, description = "The id belongs to someone else or to another kind of object"),
                    (status = 412, description = "If-Match does not match the current version"),
                    (status = 422, description = "A value is out of range"),
                )
            )]
            pub async fn put(
                state: web::Data<AppState>,
                user: AuthUser,
                id: web::Path<Uuid>,
                if_match: IfMatchHeader,
                body: ApiJson<$body>,
            ) -> AppResult<HttpResponse> {
                rec::put_record::<$kind>(&state, Writer::patient(user.patient()?), id.into_inner(), if_match.0, body.0).await
            }

            #[utoipa::path(
                delete, path = $one, tag = "logbook", operation_id = concat!("delete_", stringify!($m)),
                summary = concat!("Delete ", $a, " (leaves a tombstone for the sync feed)"),
                security(("bearer" = [])),
                params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being deleted")),
                responses(
                    (status = 204, description = "Deleted (also when it already was)"),
                    (status = 403, description = "The caller is not a patient, or the object was recorded by a therapist"),
                    (status = 404, description = "Never existed, or not the caller's"),
                    (status = 412, description = "If-Match does not match the current version"),
                )
            )]
            pub async fn delete(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>, if_match: IfMatchHeader) -> AppResult<HttpResponse> {
                rec::delete_record::<$kind>(&state, Writer::patient(user.patient()?), id.into_inner(), if_match.0).await
            }

    };
}

/// A dated logbook resource: the item routes plus a paginated list.
macro_rules! dated_resource {
    ($m:ident, $kind:ident, $body:ident, $item:ident, $page:ident, $coll:tt, $one:tt, $a:tt, $many:tt) => {
        pub mod $m {
            use super::*;

            #[utoipa::path(
                get, path = $coll, tag = "logbook", operation_id = concat!("list_", stringify!($m)),
                summary = concat!("List your ", $many, ", newest first"),
                security(("bearer" = [])), params(ListQuery),
                responses(
                    (status = 200, description = "A page, newest date first (ties by id)", body = $page),
                    (status = 403, description = "The caller is not a patient"),
                )
            )]
            pub async fn list(state: web::Data<AppState>, user: AuthUser, query: web::Query<ListQuery>) -> AppResult<HttpResponse> {
                rec::list_records::<$kind>(&state, user.patient()?, query.into_inner()).await
            }

            item_routes!($m, $kind, $body, $item, $coll, $one, $a);

            pub fn configure(cfg: &mut web::ServiceConfig) {
                cfg.service(web::resource($coll).get(list).post(create))
                    .service(web::resource($one).get(get).put(put).delete(delete));
            }
        }
    };
}

dated_resource!(
    pain_entries,
    PainEntries,
    PainEntryBody,
    PainEntry,
    PainEntryPage,
    "/me/pain-entries",
    "/me/pain-entries/{id}",
    "a pain entry",
    "pain entries"
);
dated_resource!(
    stretch_sessions,
    StretchSessions,
    StretchSessionBody,
    StretchSession,
    StretchSessionPage,
    "/me/stretch-sessions",
    "/me/stretch-sessions/{id}",
    "a stretch session",
    "stretch sessions"
);
dated_resource!(
    massage_sessions,
    MassageSessions,
    MassageSessionBody,
    MassageSession,
    MassageSessionPage,
    "/me/massage-sessions",
    "/me/massage-sessions/{id}",
    "a massage session",
    "massage sessions"
);
dated_resource!(
    assessments,
    Assessments,
    AssessmentBody,
    Assessment,
    AssessmentPage,
    "/me/assessments",
    "/me/assessments/{id}",
    "a questionnaire",
    "questionnaires"
);

// ---------------------------------------------------------------- stretches

#[derive(Debug, Serialize, ToSchema)]
pub struct StretchList {
    /// Built-in stretches by name, then the caller's own.
    pub items: Vec<Stretch>,
}

/// The stretch catalog: built-in stretches, plus the caller's own when the
/// caller is a patient.
#[utoipa::path(
    get, path = "/stretches", tag = "logbook", security(("bearer" = [])),
    responses((status = 200, description = "The catalog", body = StretchList))
)]
pub async fn list_stretches(state: web::Data<AppState>, user: AuthUser) -> AppResult<HttpResponse> {
    let (builtin, own) = state
        .db
        .run(move |conn| {
            let builtin = records::builtin_stretches(conn)?;
            let own = match user.role {
                Role::Patient => {
                    records::list_undated(conn, &user.id.to_string(), OwnStretches::KIND)?
                }
                Role::Therapist => Vec::new(),
            };
            Ok((builtin, own))
        })
        .await?;
    let mut items = builtin
        .into_iter()
        .map(|row| {
            Ok(Stretch {
                id: row.id.parse().map_err(AppError::internal)?,
                key: row.key,
                name: row.name,
                description: Some(row.description),
                targets: serde_json::from_str(&row.targets).map_err(AppError::internal)?,
                custom: false,
                version: None,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    for row in &own {
        items.push(OwnStretches::render(row)?);
    }
    Ok(HttpResponse::Ok().json(StretchList { items }))
}

/// A patient's own stretches: item routes only; `GET /v1/stretches` lists them.
pub mod own_stretches {
    use super::*;

    item_routes!(
        own_stretches,
        OwnStretches,
        OwnStretchBody,
        Stretch,
        "/me/stretches",
        "/me/stretches/{id}",
        "one of your own stretches"
    );
}

// ---------------------------------------------------------------- precautions

#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionList {
    pub items: Vec<ConditionItem>,
}

fn parse_condition(raw: &str) -> AppResult<Condition> {
    Condition::parse(raw).ok_or_else(|| {
        AppError::invalid(
            "condition",
            "must be one of osteoporosis, pregnancy, recent_surgery, disc_herniation, spinal_fracture, \
             anticoagulant_medication, cancer, skin_condition, other",
        )
    })
}

/// Your precautions.
#[utoipa::path(
    get, path = "/me/conditions", tag = "logbook", security(("bearer" = [])),
    responses(
        (status = 200, description = "Declared precautions", body = ConditionList),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn list_conditions(
    state: web::Data<AppState>,
    user: AuthUser,
) -> AppResult<HttpResponse> {
    let patient = user.patient()?;
    let rows = state
        .db
        .run(move |conn| records::list_undated(conn, &patient.to_string(), Conditions::KIND))
        .await?;
    let mut items = rows
        .iter()
        .map(Conditions::render)
        .collect::<AppResult<Vec<_>>>()?;
    items.sort_by_key(|c| c.condition.as_str());
    Ok(HttpResponse::Ok().json(ConditionList { items }))
}

/// One precaution.
#[utoipa::path(
    get, path = "/me/conditions/{condition}", tag = "logbook", security(("bearer" = [])),
    params(("condition" = Condition, Path)),
    responses(
        (status = 200, description = "Declared", body = ConditionItem, headers(("ETag" = String))),
        (status = 403, description = "The caller is not a patient"),
        (status = 404, description = "Not declared"),
        (status = 422, description = "Unknown condition"),
    )
)]
pub async fn get_condition(
    state: web::Data<AppState>,
    user: AuthUser,
    condition: web::Path<String>,
) -> AppResult<HttpResponse> {
    let patient = user.patient()?;
    let condition = parse_condition(&condition)?;
    let row = condition_row(&state, patient, condition)
        .await?
        .filter(|row| !row.is_deleted())
        .ok_or(AppError::NotFound)?;
    rec::record_response::<Conditions>(&row)
}

/// The patient's record for `condition`, deleted or not.
async fn condition_row(
    state: &AppState,
    patient: Uuid,
    condition: Condition,
) -> AppResult<Option<RecordRow>> {
    state
        .db
        .run(move |conn| {
            records::find_by_key(
                conn,
                &patient.to_string(),
                Conditions::KIND,
                &condition.as_str(),
            )
        })
        .await
}

/// Declare a precaution (or change its note). A precaution is addressed by
/// its name; its id (which the sync feed carries) is assigned when it is
/// first declared and kept.
#[utoipa::path(
    put, path = "/me/conditions/{condition}", tag = "logbook", security(("bearer" = [])),
    request_body = ConditionBody,
    params(("condition" = Condition, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, description = "Replaced or unchanged", body = ConditionItem, headers(("ETag" = String))),
        (status = 201, description = "Declared", body = ConditionItem, headers(("Location" = String), ("ETag" = String))),
        (status = 403, description = "The caller is not a patient"),
        (status = 412, description = "If-Match does not match the current version"),
        (status = 422, description = "Unknown condition, or note over 2000 characters"),
    )
)]
pub async fn put_condition(
    state: web::Data<AppState>,
    user: AuthUser,
    condition: web::Path<String>,
    if_match: IfMatchHeader,
    body: ApiJson<ConditionBody>,
) -> AppResult<HttpResponse> {
    let patient = user.patient()?;
    let condition = parse_condition(&condition)?;
    let stored = StoredCondition {
        condition,
        note: body.0.note,
    };
    rec::put_record::<Conditions>(
        &state,
        Writer::patient(patient),
        // Used only if the patient never declared this condition before.
        Uuid::new_v4(),
        if_match.0,
        stored,
    )
    .await
}

/// Withdraw a precaution.
#[utoipa::path(
    delete, path = "/me/conditions/{condition}", tag = "logbook", security(("bearer" = [])),
    params(("condition" = Condition, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 204, description = "Withdrawn (also when it already was)"),
        (status = 403, description = "The caller is not a patient"),
        (status = 404, description = "Never declared"),
        (status = 412, description = "If-Match does not match the current version"),
        (status = 422, description = "Unknown condition"),
    )
)]
pub async fn delete_condition(
    state: web::Data<AppState>,
    user: AuthUser,
    condition: web::Path<String>,
    if_match: IfMatchHeader,
) -> AppResult<HttpResponse> {
    let patient = user.patient()?;
    let condition = parse_condition(&condition)?;
    let row = condition_row(&state, patient, condition)
        .await?
        .ok_or(AppError::NotFound)?;
    let id = row.id.parse().map_err(AppError::internal)?;
    rec::delete_record::<Conditions>(&state, Writer::patient(patient), id, if_match.0).await
}

// ---------------------------------------------------------------- sync feed

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// `next_cursor` of the previous call; omit to start from the beginning.
    pub cursor: Option<String>,
    /// Page size, 1..1000 (default 100).
    pub limit: Option<i64>,
}

/// One object that changed, in its latest state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Change {
    /// `pain_entry`, `stretch_session`, `massage_session`, `assessment`, `condition` or `stretch`.
    pub kind: String,
    pub id: Uuid,
    pub deleted: bool,
    pub version: i64,
    /// The object as its GET returns it; null when deleted.
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    /// Store it and pass it next time; never null (an empty page returns the cursor it was given).
    pub next_cursor: String,
    pub has_more: bool,
}

fn render_any(row: &RecordRow) -> AppResult<Option<serde_json::Value>> {
    if row.is_deleted() {
        return Ok(None);
    }
    fn value<T: Serialize>(r: AppResult<T>) -> AppResult<serde_json::Value> {
        serde_json::to_value(r?).map_err(AppError::internal)
    }
    let data = match row.kind.as_str() {
        PainEntries::KIND => value(PainEntries::render(row)),
        StretchSessions::KIND => value(StretchSessions::render(row)),
        MassageSessions::KIND => value(MassageSessions::render(row)),
        Assessments::KIND => value(Assessments::render(row)),
        OwnStretches::KIND => value(OwnStretches::render(row)),
        Conditions::KIND => value(Conditions::render(row)),
        other => Err(AppError::internal(format!("unknown record kind {other}"))),
    }?;
    Ok(Some(data))
}

/// Everything of yours that changed after `cursor`, in order, deletions
/// included: one item per object in its latest state. A phone that stores
/// `next_cursor` never downloads a change twice and never misses one.
#[utoipa::path(
    get, path = "/me/changes", tag = "logbook", security(("bearer" = [])), params(ChangesQuery),
    responses(
        (status = 200, description = "Changes in order", body = ChangesPage),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn list_changes(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ChangesQuery>,
) -> AppResult<HttpResponse> {
    let patient = user.patient()?;
    let ChangesQuery { cursor, limit } = query.into_inner();
    let limit = check_limit(limit)?;
    let after = match cursor.as_deref() {
        None | Some("") => 0,
        Some(raw) => raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            AppError::bad_request(
                "invalid_query",
                "Bad query parameter cursor: is not a cursor this API returned",
                vec![FieldError::new(
                    "cursor",
                    "is not a cursor this API returned",
                )],
            )
        })?,
    };
    let mut rows = state
        .db
        .run(move |conn| records::changes(conn, &patient.to_string(), after, limit + 1))
        .await?;
    let has_more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = rows.last().map_or(after, |r| r.change_seq).to_string();
    let changes = rows
        .iter()
        .map(|row| {
            Ok(Change {
                kind: row.kind.clone(),
                id: row.id.parse().map_err(AppError::internal)?,
                deleted: row.is_deleted(),
                version: row.version,
                data: render_any(row)?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok().json(ChangesPage {
        changes,
        next_cursor,
        has_more,
    }))
}

/// Everything under `/v1` that this module serves.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(pain_entries::configure)
        .configure(stretch_sessions::configure)
        .configure(massage_sessions::configure)
        .configure(assessments::configure)
        .service(web::resource("/stretches").get(list_stretches))
        .service(web::resource("/me/stretches").post(own_stretches::create))
        .service(
            web::resource("/me/stretches/{id}")
                .get(own_stretches::get)
                .put(own_stretches::put)
                .delete(own_stretches::delete),
        )
        .service(web::resource("/me/conditions").get(list_conditions))
        .service(
            web::resource("/me/conditions/{condition}")
                .get(get_condition)
                .put(put_condition)
                .delete(delete_condition),
        )
        .service(web::resource("/me/changes").get(list_changes));
}
