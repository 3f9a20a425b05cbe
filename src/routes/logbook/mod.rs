//! The logbook's routes: generic handlers that serve every kind, the
//! [`logbook_routes!`] macro that turns them into one kind's documented
//! routes, and one module per kind (named as in the list of kinds,
//! `crate::logbook_kinds!`) holding that call and any handlers of its own.
//! The use cases are `crate::service::logbook`; the HTTP protocol's
//! headers, pages and cursors are `super::http`.

mod assessment;
mod condition;
mod massage_session;
mod own_stretch;
mod pain_entry;
mod programme;
mod stretch_session;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::http::{
    encode_position, found, written, IdempotencyKey, IfMatchHeader, ListQuery, Page,
};
use super::input::{ApiJson, ApiQuery};
use super::Endpoint;
use crate::domain::logbook::RecordKind;
use crate::domain::RecordId;
use crate::error::AppResult;
use crate::kinds::Kind;
use crate::routes::scope::Scoped;
use crate::service::logbook::{self as service, Target};
use crate::state::AppState;

/// The routes of every kind, from the one list of kinds.
macro_rules! kind_routes {
    ($($variant:ident = $slug:tt => $module:ident :: $kind:ident,)*) => {
        /// The routes of `kind`.
        fn routes_of(kind: RecordKind) -> Vec<Endpoint> {
            match kind {
                $(RecordKind::$variant => $module::endpoints(),)*
            }
        }
    };
}

crate::logbook_kinds!(kind_routes);

/// Every logbook route.
pub fn endpoints() -> Vec<Endpoint> {
    RecordKind::ALL
        .iter()
        .flat_map(|kind| routes_of(*kind))
        .collect()
}

// ---------------------------------------------------------------- generic handlers

/// The object addressed by a route (`…/{id}`, after `{pid}` on a
/// therapist's route).
#[derive(Debug, Deserialize)]
pub struct ItemPath {
    pub id: RecordId,
}

/// `POST …`: creates with a server id. With an `Idempotency-Key` seen in the
/// last 24 hours, answers what the first request got and stores nothing.
pub async fn create<K: Kind>(
    state: web::Data<AppState>,
    Scoped(scope, (key, body)): Scoped<(IdempotencyKey, ApiJson<K::Body>)>,
) -> AppResult<HttpResponse> {
    let saved = service::post::<K>(&state.db, &state.clock, scope, key.0, body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, saved.location))
        .insert_header((header::ETAG, saved.etag))
        .content_type("application/json")
        .body(saved.body))
}

/// `GET …/{id}`.
pub async fn get<K: Kind>(
    state: web::Data<AppState>,
    Scoped(scope, item): Scoped<web::Path<ItemPath>>,
) -> AppResult<HttpResponse> {
    let result = service::get::<K>(&state.db, scope, Target::Id(item.id)).await?;
    Ok(found(result))
}

/// `PUT …/{id}`: 201 when the object did not exist (or was deleted), 200 when
/// replaced or when the same content was sent again (version unchanged).
pub async fn put<K: Kind>(
    state: web::Data<AppState>,
    Scoped(scope, (item, if_match, body)): Scoped<(
        web::Path<ItemPath>,
        IfMatchHeader,
        ApiJson<K::Body>,
    )>,
) -> AppResult<HttpResponse> {
    let result = service::put::<K>(
        &state.db,
        &state.clock,
        &state.zones,
        scope,
        item.id,
        if_match.0,
        body.0,
    )
    .await?;
    Ok(written(result))
}

/// `DELETE …/{id}`: 204, also when it was already deleted.
pub async fn delete<K: Kind>(
    state: web::Data<AppState>,
    Scoped(scope, (item, if_match)): Scoped<(web::Path<ItemPath>, IfMatchHeader)>,
) -> AppResult<HttpResponse> {
    service::delete::<K>(
        &state.db,
        &state.clock,
        scope,
        Target::Id(item.id),
        if_match.0,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET …`: newest date first (ties by id), so that paging while new rows
/// arrive neither repeats nor skips a row that existed when paging began.
pub async fn list<K: Kind>(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<ApiQuery<ListQuery>>,
) -> AppResult<HttpResponse> {
    let params = query.into_inner().params()?;
    let (items, last) = service::list_by_date::<K>(&state.db, scope, params).await?;
    let next_cursor = last.as_ref().map(encode_position);
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

/// The routes of a logbook kind, declared once: each handler's annotation
/// gives the OpenAPI operation (and its path and method), and `endpoints()`
/// gives the application and the authorisation tests the same list.
/// Expands inside the kind's module.
macro_rules! logbook_routes {
    (
        kind: $kind:ident, body: $body:ident, view: $view:ident,
        one: $one:ident, many: $many:ident, page: $page:ident,
        collection: $coll:tt, item: $item:tt, a: $a:tt, plural: $plural:tt,
        patient_collection: $pcoll:tt, patient_item: $pitem:tt
        $(, also: [$($extra:ident => $access:expr),* $(,)?])? $(,)?
    ) => {
        // One page of the list, for the OpenAPI document.
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $page {
            pub items: Vec<$view>,
            /// Pass as `cursor` for the next page; null on the last page.
            pub next_cursor: Option<String>,
        }

        #[utoipa::path(
            get, path = $coll, tag = "logbook", operation_id = concat!("list_", stringify!($many)),
            summary = concat!("List your ", $plural, ", newest first"),
            security(("bearer" = [])), params($crate::routes::http::ListQuery),
            responses(
                (status = 200, description = "A page, newest date first (ties by id)", body = $page),
                (status = 403, description = "The caller is not a patient"),
            )
        )]
        pub async fn list(
            state: actix_web::web::Data<$crate::state::AppState>,
            scoped: $crate::routes::scope::Scoped<$crate::routes::input::ApiQuery<$crate::routes::http::ListQuery>>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::logbook::list::<$kind>(state, scoped).await
        }

        $crate::routes::logbook::logbook_routes!(@items $kind, $body, $view, $one, $coll, $item, $a);

        #[utoipa::path(
            get, path = $pcoll, tag = "therapist views",
            operation_id = concat!("list_patient_", stringify!($many)),
            summary = concat!("List a linked patient's ", $plural, ", newest first"),
            security(("bearer" = [])),
            params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"),
                   $crate::routes::http::ListQuery),
            responses(
                (status = 200, description = "A page, newest date first (ties by id), as the patient sees it", body = $page),
                (status = 403, description = "The caller is not a therapist"),
                (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
            )
        )]
        pub async fn list_for_patient(
            state: actix_web::web::Data<$crate::state::AppState>,
            scoped: $crate::routes::scope::Scoped<$crate::routes::input::ApiQuery<$crate::routes::http::ListQuery>>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::logbook::list::<$kind>(state, scoped).await
        }

        #[utoipa::path(
            get, path = $pitem, tag = "therapist views",
            operation_id = concat!("get_patient_", stringify!($one)),
            summary = concat!("Read ", $a, " of a linked patient"),
            security(("bearer" = [])),
            params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"),
                   ("id" = uuid::Uuid, Path)),
            responses(
                (status = 200, description = "The object, as the patient sees it", body = $view, headers(("ETag" = String))),
                (status = 403, description = "The caller is not a therapist"),
                (status = 404, description = "Not a patient linked to you now, or no such object of theirs"),
            )
        )]
        pub async fn get_for_patient(
            state: actix_web::web::Data<$crate::state::AppState>,
            scoped: $crate::routes::scope::Scoped<actix_web::web::Path<$crate::routes::logbook::ItemPath>>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::logbook::get::<$kind>(state, scoped).await
        }

        pub fn endpoints() -> Vec<$crate::routes::Endpoint> {
            use $crate::routes::{endpoint, Access};
            vec![
                endpoint!(list, Access::Patient),
                endpoint!(create, Access::Patient),
                endpoint!(get, Access::Patient),
                endpoint!(put, Access::Patient),
                endpoint!(delete, Access::Patient),
                endpoint!(list_for_patient, Access::LinkedTherapist),
                endpoint!(get_for_patient, Access::LinkedTherapist),
                $($(endpoint!($extra, $access),)*)?
            ]
        }
    };
    (
        kind: $kind:ident, body: $body:ident, view: $view:ident, one: $one:ident,
        collection: $coll:tt, item: $item:tt, a: $a:tt,
        also: [$($extra:ident => $access:expr),*] $(,)?
    ) => {
        $crate::routes::logbook::logbook_routes!(@items $kind, $body, $view, $one, $coll, $item, $a);

        pub fn endpoints() -> Vec<$crate::routes::Endpoint> {
            use $crate::routes::endpoint;
            vec![
                endpoint!(create, $crate::routes::Access::Patient),
                endpoint!(get, $crate::routes::Access::Patient),
                endpoint!(put, $crate::routes::Access::Patient),
                endpoint!(delete, $crate::routes::Access::Patient),
                $(endpoint!($extra, $access),)*
            ]
        }
    };
    (@items $kind:ident, $body:ident, $view:ident, $one:ident, $coll:tt, $item:tt, $a:tt) => {
        #[utoipa::path(
            post, path = $coll, tag = "logbook", operation_id = concat!("create_", stringify!($one)),
            summary = concat!("Record ", $a, " under a server-chosen id"),
            security(("bearer" = [])), request_body = $body,
            params(("Idempotency-Key" = Option<String>, Header, description = "Same key within 24 h: the first answer again, nothing stored twice")),
            responses(
                (status = 201, description = "Created with a server id", body = $view,
                 headers(("Location" = String), ("ETag" = String))),
                (status = 403, description = "The caller is not a patient"),
                (status = 409, description = "The Idempotency-Key was used for a different request"),
                (status = 422, description = "A value is out of range"),
            )
        )]
        pub async fn create(
            state: actix_web::web::Data<$crate::state::AppState>,
            scoped: $crate::routes::scope::Scoped<(
                $crate::routes::http::IdempotencyKey,
                $crate::routes::input::ApiJson<$body>,
            )>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::logbook::create::<$kind>(state, scoped).await
        }

        #[utoipa::path(
            get, path = $item, tag = "logbook", operation_id = concat!("get_", stringify!($one)),
            summary = concat!("Read ", $a),
            security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
            responses(
                (status = 200, description = "The object", body = $view, headers(("ETag" = String))),
                (status = 403, description = "The caller is not a patient"),
                (status = 404, description = "Absent, deleted, or not the caller's"),
            )
        )]
        pub async fn get(
            state: actix_web::web::Data<$crate::state::AppState>,
            scoped: $crate::routes::scope::Scoped<actix_web::web::Path<$crate::routes::logbook::ItemPath>>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::logbook::get::<$kind>(state, scoped).await
        }

        #[utoipa::path(
            put, path = $item, tag = "logbook", operation_id = concat!("put_", stringify!($one)),
            summary = concat!("Create, replace or restore ", $a, " under a client-chosen id"),
            security(("bearer" = [])), request_body = $body,
            params(("id" = uuid::Uuid, Path, description = "Chosen by the client"),
                   ("If-Match" = Option<String>, Header, description = "ETag of the version being replaced")),
            responses(
                (status = 200, description = "Replaced, or the same content again (version unchanged)", body = $view, headers(("ETag" = String))),
                (status = 201, description = "Created (or restored after a delete)", body = $view,
                 headers(("Location" = String), ("ETag" = String))),
                (status = 403, description = "The caller is not a patient, or the object was recorded by a therapist"),
                (status = 404, description = "The id belongs to someone else or to another kind of object"),
                (status = 409, description = "The id is taken by a built-in object (a stretch of the catalog, for own stretches)"),
                (status = 412, description = "If-Match does not match the current version"),
                (status = 422, description = "A value is out of range"),
            )
        )]
        pub async fn put(
            state: actix_web::web::Data<$crate::state::AppState>,
            scoped: $crate::routes::scope::Scoped<(
                actix_web::web::Path<$crate::routes::logbook::ItemPath>,
                $crate::routes::http::IfMatchHeader,
                $crate::routes::input::ApiJson<$body>,
            )>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::logbook::put::<$kind>(state, scoped).await
        }

        #[utoipa::path(
            delete, path = $item, tag = "logbook", operation_id = concat!("delete_", stringify!($one)),
            summary = concat!("Delete ", $a, " (leaves a tombstone for the sync feed)"),
            security(("bearer" = [])),
            params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being deleted")),
            responses(
                (status = 204, description = "Deleted (also when it already was)"),
                (status = 403, description = "The caller is not a patient, or the object was recorded by a therapist"),
                (status = 404, description = "Never existed, or not the caller's"),
                (status = 412, description = "If-Match does not match the current version"),
            )
        )]
        pub async fn delete(
            state: actix_web::web::Data<$crate::state::AppState>,
            scoped: $crate::routes::scope::Scoped<(
                actix_web::web::Path<$crate::routes::logbook::ItemPath>,
                $crate::routes::http::IfMatchHeader,
            )>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::logbook::delete::<$kind>(state, scoped).await
        }
    };
}
pub(crate) use logbook_routes;
