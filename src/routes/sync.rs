//! The sync feed: everything of the patient's that changed, in order.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::http::{bad_param, check_limit};
use super::input::ApiQuery;
use super::{endpoint, Access, Endpoint};
use crate::domain::access::PatientScope;
use crate::error::AppResult;
use crate::kinds::RecordKind;
use crate::service::logbook as service;
use crate::state::AppState;

pub fn endpoints() -> Vec<Endpoint> {
    vec![endpoint!(list_changes, Access::Patient)]
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// `next_cursor` of the previous call; omit to start from the beginning.
    /// A cursor issued before the service's data was restored from a backup
    /// is refused (400 naming `cursor`): sync again from the start.
    pub cursor: Option<String>,
    /// Page size, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// One object that changed, in its latest state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Change {
    pub kind: RecordKind,
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
    /// Store it and pass it next time; never null (an empty page returns
    /// the place it was given). Opaque: `<generation>-<counter>`.
    pub next_cursor: String,
    pub has_more: bool,
}

/// Everything of yours that changed after `cursor`, in order, deletions
/// included: one item per object in its latest state. A phone that stores
/// `next_cursor` never downloads a change twice and never misses one.
#[utoipa::path(
    get, path = "/v1/me/changes", tag = "logbook", operation_id = "list_changes",
    security(("bearer" = [])), params(ChangesQuery),
    responses(
        (status = 200, description = "Changes in order", body = ChangesPage),
        (status = 403, description = "The caller is not a patient"),
    )
)]
pub async fn list_changes(
    state: web::Data<AppState>,
    scope: PatientScope,
    query: ApiQuery<ChangesQuery>,
) -> AppResult<HttpResponse> {
    let ChangesQuery { cursor, limit } = query.into_inner();
    let limit = check_limit(limit)?;
    let after = match cursor.as_deref() {
        None | Some("") => service::SyncCursor::start(),
        Some(raw) => service::SyncCursor::parse(raw)
            .ok_or_else(|| bad_param("cursor", "is not a cursor this API returned"))?,
    };
    let (changes, next, has_more) = service::changes(&state.db, scope, after, limit).await?;
    let changes = changes
        .into_iter()
        .map(|c| Change {
            kind: c.kind,
            id: c.record.0,
            deleted: c.deleted,
            version: c.version,
            data: c.data,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ChangesPage {
        changes,
        next_cursor: next.to_string(),
        has_more,
    }))
}
