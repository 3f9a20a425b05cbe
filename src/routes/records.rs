//! The HTTP side of the offline-first write protocol, shared by every
//! logbook kind: the `If-Match` and `Idempotency-Key` headers, list
//! parameters and cursors, and generic handlers that a kind's module turns
//! into its routes with [`logbook_routes!`]. The decisions themselves are in
//! `crate::kinds::protocol`, the use cases in `crate::service::logbook`.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::input::ApiJson;
use crate::auth::Scoped;
use crate::domain::{FieldError, RecordId};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::kinds::protocol::IfMatch;
use crate::kinds::Kind;
use crate::service::logbook::{
    self as service, etag, Found, ListParams, ListPosition, Outcome, Target, Written,
};
use crate::state::AppState;

// ---------------------------------------------------------------- headers

/// The `If-Match` header, parsed. Malformed values are a 400.
pub struct IfMatchHeader(pub IfMatch);

/// What `parse_if_match` accepts, for `openapi.yaml`: `*`, or a list of
/// (possibly weak) ETags, each a version of 1..18 digits.
pub const IF_MATCH_PATTERN: &str =
    r#"^[ \t]*(\*|(W/)?"[0-9]{1,18}"([ \t]*,[ \t]*(W/)?"[0-9]{1,18}")*)[ \t]*$"#;

/// What `IdempotencyKey` accepts: 1..255 visible ASCII characters.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

fn parse_if_match(raw: &str) -> Option<IfMatch> {
    let raw = raw.trim_matches([' ', '\t']);
    if raw == "*" {
        return Some(IfMatch::Any);
    }
    // If-Match compares strongly (RFC 9110 §13.1.1): a weak tag is well
    // formed but never matches, so a list of only weak tags is a 412.
    let tags = raw
        .split(',')
        .map(|tag| {
            let tag = tag.trim_matches([' ', '\t']);
            let (weak, tag) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let digits = tag.strip_prefix('"')?.strip_suffix('"')?;
            if !(1..=18).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let version = digits.parse::<i64>().ok()?;
            Some((weak, version))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(IfMatch::Versions(
        tags.into_iter()
            .filter_map(|(weak, version)| (!weak).then_some(version))
            .collect(),
    ))
}

impl FromRequest for IfMatchHeader {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.headers().get(header::IF_MATCH) {
            None => Ok(Self(IfMatch::Absent)),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(parse_if_match)
                .map(Self)
                .ok_or_else(|| {
                    bad_header(
                        "If-Match",
                        "If-Match must be * or a list of ETags such as \"3\".",
                        "must be * or ETags such as \"3\"",
                    )
                }),
        };
        ready(result)
    }
}

fn bad_header(name: &str, detail: &str, message: &str) -> AppError {
    AppError::bad_request(
        ErrorCode::InvalidHeader,
        detail,
        vec![FieldError::new(name, message)],
    )
}

/// The optional `Idempotency-Key` header: 1..255 visible ASCII characters.
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.headers().get("idempotency-key") {
            None => Ok(Self(None)),
            Some(value) => value
                .to_str()
                .ok()
                .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
                .map(|k| Self(Some(k.to_owned())))
                .ok_or_else(|| {
                    bad_header(
                        "Idempotency-Key",
                        "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                        "must be 1 to 255 visible ASCII characters",
                    )
                }),
        };
        ready(result)
    }
}

// ---------------------------------------------------------------- answers

/// 201 with `Location` for a created (or restored) object, else 200.
pub fn written<V: Serialize>(result: Written<V>) -> HttpResponse {
    match result.outcome {
        Outcome::Created => HttpResponse::Created()
            .insert_header((header::LOCATION, result.location))
            .insert_header((header::ETAG, etag(result.version)))
            .json(result.view),
        Outcome::Replaced | Outcome::Unchanged => HttpResponse::Ok()
            .insert_header((header::ETAG, etag(result.version)))
            .json(result.view),
    }
}

/// 200 with a stored object and its `ETag`.
pub fn found<V: Serialize>(found: Found<V>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(found.version)))
        .json(found.view)
}

// ---------------------------------------------------------------- lists

pub const MAX_RANGE_DAYS: i64 = 1096;
pub const MAX_LIMIT: i64 = 1000;
pub const DEFAULT_LIMIT: i64 = 100;

/// List parameters. Unknown parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// First date included (YYYY-MM-DD).
    pub from: Option<NaiveDate>,
    /// Last date included (YYYY-MM-DD); at most 1,096 days after `from`.
    pub to: Option<NaiveDate>,
    /// Page size, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub fn bad_param(field: &str, message: &str) -> AppError {
    AppError::bad_request(
        ErrorCode::InvalidQuery,
        format!("Bad query parameter {field}: {message}"),
        vec![FieldError::new(field, message)],
    )
}

pub fn check_limit(limit: Option<i64>) -> AppResult<i64> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad_param("limit", "must be between 1 and 1000"));
    }
    Ok(limit)
}

/// Query dates outside these years are refused: no logbook date can be there,
/// and PostgreSQL rejects years beyond 9999 or before 4713 BC outright.
fn plausible(date: NaiveDate) -> bool {
    (1900..=9999).contains(&chrono::Datelike::year(&date))
}

/// Checks `from`/`to` (years 1900..9999, from ≤ to, at most 1,096 days apart).
pub fn check_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> AppResult<()> {
    for (field, date) in [("from", from), ("to", to)] {
        if date.is_some_and(|d| !plausible(d)) {
            return Err(bad_param(
                field,
                "must be a date between 1900-01-01 and 9999-12-31",
            ));
        }
    }
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(bad_param("from", "must not be after to"));
        }
        if (to - from).num_days() + 1 > MAX_RANGE_DAYS {
            return Err(bad_param("to", "the range must not exceed 1096 days"));
        }
    }
    Ok(())
}

fn encode_position(p: &ListPosition) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", p.date, p.id))
}

fn decode_position(cursor: &str) -> AppResult<ListPosition> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let (date, id) = text.split_once('|')?;
            Some(ListPosition {
                date: date.parse().ok().filter(|d| plausible(*d))?,
                id: id.parse().ok()?,
            })
        })
        .ok_or_else(|| bad_param("cursor", "is not a cursor this API returned"))
}

const INSTANT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// A cursor for lists ordered by a time and an id (the access log, the
/// patient list): opaque to clients.
pub fn encode_instant_cursor(at: NaiveDateTime, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.format(INSTANT_FORMAT)))
}

/// The time and id of a cursor from [`encode_instant_cursor`]; 400 for
/// anything else (including times outside 1900-9999, which PostgreSQL
/// cannot compare with).
pub fn decode_instant_cursor(raw: &str) -> AppResult<(NaiveDateTime, String)> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let (at, id) = text.split_once('|')?;
            let at = NaiveDateTime::parse_from_str(at, INSTANT_FORMAT)
                .ok()
                .filter(|at| (1900..=9999).contains(&chrono::Datelike::year(at)))?;
            Some((at, id.parse::<uuid::Uuid>().ok()?.to_string()))
        })
        .ok_or_else(|| bad_param("cursor", "is not a cursor this API returned"))
}

/// A page of a list ordered by time: `limit` and `cursor`. Unknown
/// parameters are a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The checked page size and the position to continue after.
    pub fn page(self) -> AppResult<(i64, Option<(NaiveDateTime, String)>)> {
        let limit = check_limit(self.limit)?;
        let after = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(decode_instant_cursor)
            .transpose()?;
        Ok((limit, after))
    }
}

impl ListQuery {
    /// Checks the parameters (400 naming the one that is wrong).
    pub fn params(self) -> AppResult<ListParams> {
        let limit = check_limit(self.limit)?;
        check_range(self.from, self.to)?;
        // An empty cursor is the same as none, as on the sync feed.
        let after = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(decode_position)
            .transpose()?;
        Ok(ListParams {
            from: self.from,
            to: self.to,
            limit,
            after,
        })
    }
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
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
    let saved = service::post::<K>(&state, scope, key.0, body.0).await?;
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
    let result = service::get::<K>(&state, scope, Target::Id(item.id)).await?;
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
    let result = service::put::<K>(&state, scope, item.id, if_match.0, body.0).await?;
    Ok(written(result))
}

/// `DELETE …/{id}`: 204, also when it was already deleted.
pub async fn delete<K: Kind>(
    state: web::Data<AppState>,
    Scoped(scope, (item, if_match)): Scoped<(web::Path<ItemPath>, IfMatchHeader)>,
) -> AppResult<HttpResponse> {
    service::delete::<K>(&state, scope, Target::Id(item.id), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET …`: newest date first (ties by id), so that paging while new rows
/// arrive neither repeats nor skips a row that existed when paging began.
pub async fn list<K: Kind>(
    state: web::Data<AppState>,
    Scoped(scope, query): Scoped<web::Query<ListQuery>>,
) -> AppResult<HttpResponse> {
    let params = query.into_inner().params()?;
    let (items, last) = service::list_by_date::<K>(&state, scope, params).await?;
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
            security(("bearer" = [])), params($crate::routes::records::ListQuery),
            responses(
                (status = 200, description = "A page, newest date first (ties by id)", body = $page),
                (status = 403, description = "The caller is not a patient"),
            )
        )]
        pub async fn list(
            state: actix_web::web::Data<$crate::state::AppState>,
            scoped: $crate::auth::Scoped<actix_web::web::Query<$crate::routes::records::ListQuery>>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::records::list::<$kind>(state, scoped).await
        }

        $crate::routes::records::logbook_routes!(@items $kind, $body, $view, $one, $coll, $item, $a);

        #[utoipa::path(
            get, path = $pcoll, tag = "therapist views",
            operation_id = concat!("list_patient_", stringify!($many)),
            summary = concat!("List a linked patient's ", $plural, ", newest first"),
            security(("bearer" = [])),
            params(("pid" = uuid::Uuid, Path, description = "A patient linked to you"),
                   $crate::routes::records::ListQuery),
            responses(
                (status = 200, description = "A page, newest date first (ties by id), as the patient sees it", body = $page),
                (status = 403, description = "The caller is not a therapist"),
                (status = 404, description = "Not a patient linked to you now (the attempt is in their access log)"),
            )
        )]
        pub async fn list_for_patient(
            state: actix_web::web::Data<$crate::state::AppState>,
            scoped: $crate::auth::Scoped<actix_web::web::Query<$crate::routes::records::ListQuery>>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::records::list::<$kind>(state, scoped).await
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
            scoped: $crate::auth::Scoped<actix_web::web::Path<$crate::routes::records::ItemPath>>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::records::get::<$kind>(state, scoped).await
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
        $crate::routes::records::logbook_routes!(@items $kind, $body, $view, $one, $coll, $item, $a);

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
            scoped: $crate::auth::Scoped<(
                $crate::routes::records::IdempotencyKey,
                $crate::routes::input::ApiJson<$body>,
            )>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::records::create::<$kind>(state, scoped).await
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
            scoped: $crate::auth::Scoped<actix_web::web::Path<$crate::routes::records::ItemPath>>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::records::get::<$kind>(state, scoped).await
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
            scoped: $crate::auth::Scoped<(
                actix_web::web::Path<$crate::routes::records::ItemPath>,
                $crate::routes::records::IfMatchHeader,
                $crate::routes::input::ApiJson<$body>,
            )>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::records::put::<$kind>(state, scoped).await
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
            scoped: $crate::auth::Scoped<(
                actix_web::web::Path<$crate::routes::records::ItemPath>,
                $crate::routes::records::IfMatchHeader,
            )>,
        ) -> $crate::error::AppResult<actix_web::HttpResponse> {
            $crate::routes::records::delete::<$kind>(state, scoped).await
        }
    };
}
pub(crate) use logbook_routes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_accepts_star_and_lists_of_etags() {
        assert_eq!(parse_if_match("*"), Some(IfMatch::Any));
        assert_eq!(parse_if_match("\"3\""), Some(IfMatch::Versions(vec![3])));
        // Weak tags never match If-Match.
        assert_eq!(
            parse_if_match("W/\"3\", \"4\""),
            Some(IfMatch::Versions(vec![4]))
        );
        assert_eq!(parse_if_match("W/\"3\""), Some(IfMatch::Versions(vec![])));
        assert_eq!(parse_if_match("3"), None);
        assert_eq!(parse_if_match("\"x\""), None);
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Header and cursor parsers take any text without a panic, and
            /// what they accept has the shape they promise.
            #[test]
            fn parsers_take_any_text(raw in any::<String>()) {
                if let Some(IfMatch::Versions(list)) = parse_if_match(&raw) {
                    prop_assert!(list.len() <= raw.split(',').count());
                }
                if let Ok(position) = decode_position(&raw) {
                    prop_assert_eq!(decode_position(&encode_position(&position)).ok(), Some(position));
                }
                let _ = decode_instant_cursor(&raw);
            }

            /// Base64url of any bytes (what a cursor looks like) is refused
            /// or decodes to a position that encodes back to itself.
            #[test]
            fn cursor_shaped_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
                let raw = URL_SAFE_NO_PAD.encode(&bytes);
                if let Ok(position) = decode_position(&raw) {
                    prop_assert_eq!(decode_position(&encode_position(&position)).ok(), Some(position));
                }
                if let Ok((at, id)) = decode_instant_cursor(&raw) {
                    prop_assert_eq!(decode_instant_cursor(&encode_instant_cursor(at, &id)).ok(), Some((at, id)));
                }
            }

            /// Every value the declared `If-Match` grammar allows is read.
            #[test]
            fn if_match_values_the_pattern_allows_are_read(
                raw in proptest::string::string_regex(
                    IF_MATCH_PATTERN.trim_start_matches('^').trim_end_matches('$')
                ).unwrap()
            ) {
                prop_assert!(parse_if_match(&raw).is_some(), "{:?}", raw);
            }

            /// Lists of ETags, strong and weak: weak ones never match.
            #[test]
            fn if_match_lists(tags in proptest::collection::vec((any::<bool>(), 0i64..1_000), 1..6)) {
                let raw = tags
                    .iter()
                    .map(|(weak, v)| format!("{}\"{v}\"", if *weak { "W/" } else { "" }))
                    .collect::<Vec<_>>()
                    .join(", ");
                let strong: Vec<i64> = tags.iter().filter(|(weak, _)| !weak).map(|(_, v)| *v).collect();
                prop_assert_eq!(parse_if_match(&raw), Some(IfMatch::Versions(strong)));
            }
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() -> Result<(), chrono::ParseError> {
        let p = ListPosition {
            date: "2026-11-01".parse()?,
            id: RecordId::new_random(),
        };
        assert_eq!(decode_position(&encode_position(&p)).ok(), Some(p));
        assert!(decode_position("not-a-cursor").is_err());
        assert!(
            decode_position(&URL_SAFE_NO_PAD.encode("2026-11-01|'; DROP TABLE records")).is_err()
        );
        Ok(())
    }

    #[test]
    fn ranges_and_limits() {
        let d = |s: &str| s.parse::<NaiveDate>().ok();
        assert!(check_range(d("2024-01-01"), d("2026-12-31")).is_ok()); // 1,096 days
        assert!(check_range(d("2024-01-01"), d("2027-01-01")).is_err());
        assert!(check_range(d("2026-02-01"), d("2026-01-01")).is_err());
        assert_eq!(check_limit(None).ok(), Some(100));
        assert!(check_limit(Some(1001)).is_err());
        assert!(check_limit(Some(0)).is_err());
    }
}
