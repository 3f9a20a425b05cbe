//! The offline-first write protocol shared by every logbook resource:
//! `PUT` with a client id (create, replace, restore), `POST` with an optional
//! `Idempotency-Key`, `GET` one, cursor-paginated lists, and `DELETE` leaving
//! a tombstone. Each resource plugs in through [`LogKind`].

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::accounts::UserRow;
use crate::db::records::{
    self, IfMatch, ListPosition, PatientLock, PutOutcome, RecordRow, RecordWrite, SavedResponse,
};
use crate::db::DbConnection;
use crate::domain::logbook::{Context, Entry};
use crate::domain::{Role, Timezone};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

/// Fields every stored object carries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordMeta {
    pub id: Uuid,
    /// +1 on every change; also the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordMeta {
    pub fn of(row: &RecordRow) -> AppResult<Self> {
        Ok(Self {
            id: row.id.parse().map_err(AppError::internal)?,
            version: row.version,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        })
    }
}

/// One logbook resource.
pub trait LogKind: 'static {
    /// Stored in `records.kind`; also the `kind` of sync-feed items.
    const KIND: &'static str;
    /// Collection path under `/v1`, for `Location`.
    const PATH: &'static str;
    type Body: Entry + DeserializeOwned + Serialize + Clone + Send + 'static;
    type Response: Serialize + Send + 'static;

    /// Checks that need the database (a referenced object exists).
    fn check_references(
        _body: &Self::Body,
        _conn: &mut DbConnection,
        _patient_id: &str,
    ) -> AppResult<Vec<FieldError>> {
        Ok(Vec::new())
    }
    fn respond(row: &RecordRow, body: Self::Body) -> AppResult<Self::Response>;
    /// Where the object lives, for `Location`.
    fn location(row: &RecordRow) -> String {
        format!("/v1{}/{}", Self::PATH, row.id)
    }
    /// For objects addressed by name rather than id: the name.
    fn natural_key(_body: &Self::Body) -> Option<String> {
        None
    }

    /// Renders a stored row (GET, lists, the sync feed).
    fn render(row: &RecordRow) -> AppResult<Self::Response> {
        let body = serde_json::from_str(&row.data).map_err(AppError::internal)?;
        Self::respond(row, body)
    }
}

// ---------------------------------------------------------------- headers

/// The `If-Match` header, parsed. Malformed values are a 400.
pub struct IfMatchHeader(pub IfMatch);

fn parse_if_match(raw: &str) -> Option<IfMatch> {
    let raw = raw.trim();
    if raw == "*" {
        return Some(IfMatch::Any);
    }
    raw.split(',')
        .map(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag.strip_prefix('"')?
                .strip_suffix('"')?
                .parse::<i64>()
                .ok()
        })
        .collect::<Option<Vec<_>>>()
        .map(IfMatch::Versions)
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
                    AppError::bad_request(
                        "invalid_header",
                        "If-Match must be * or a list of ETags such as \"3\".",
                        vec![FieldError::new(
                            "If-Match",
                            "must be * or ETags such as \"3\"",
                        )],
                    )
                }),
        };
        ready(result)
    }
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
                    AppError::bad_request(
                        "invalid_header",
                        "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                        vec![FieldError::new(
                            "Idempotency-Key",
                            "must be 1 to 255 visible ASCII characters",
                        )],
                    )
                }),
        };
        ready(result)
    }
}

fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

// ---------------------------------------------------------------- writes

/// Who is writing, for whom.
#[derive(Debug, Clone)]
pub struct Writer {
    pub patient_id: Uuid,
    pub author_id: Uuid,
    pub author_role: Role,
}

impl Writer {
    pub fn patient(id: Uuid) -> Self {
        Self {
            patient_id: id,
            author_id: id,
            author_role: Role::Patient,
        }
    }
}

/// Locks the patient (see `records::lock_patient`) and checks `body` against
/// their rules; answers the lock and the body as it will be stored.
fn lock_and_validate<K: LogKind>(
    conn: &mut DbConnection,
    state: &AppState,
    patient_id: &str,
    body: &K::Body,
) -> AppResult<(PatientLock, String)> {
    let lock = records::lock_patient(conn, patient_id)?;
    validate::<K>(conn, state, lock.patient(), body)?;
    let data = serde_json::to_string(body).map_err(AppError::internal)?;
    Ok((lock, data))
}

/// Checks `body` for `patient` (their local today, referenced objects).
fn validate<K: LogKind>(
    conn: &mut DbConnection,
    state: &AppState,
    patient: &UserRow,
    body: &K::Body,
) -> AppResult<()> {
    let tz = Timezone::parse(&patient.timezone).unwrap_or_default();
    let ctx = Context {
        today: state.clock.today_in(tz.tz()),
    };
    let mut errors = body.validate(&ctx);
    if errors.is_empty() {
        errors = K::check_references(body, conn, &patient.id)?;
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Unprocessable(errors))
    }
}

fn write_of<'a, K: LogKind>(
    w: &'a Strings,
    date: Option<NaiveDate>,
    data: &'a str,
    natural_key: Option<&'a str>,
) -> RecordWrite<'a> {
    RecordWrite {
        id: &w.id,
        patient_id: &w.patient,
        kind: K::KIND,
        author_id: &w.author,
        author_role: w.role,
        date,
        data,
        natural_key,
    }
}

/// Owned strings a `RecordWrite` borrows.
struct Strings {
    id: String,
    patient: String,
    author: String,
    role: &'static str,
}

impl Strings {
    fn new(writer: &Writer, id: Uuid) -> Self {
        Self {
            id: id.to_string(),
            patient: writer.patient_id.to_string(),
            author: writer.author_id.to_string(),
            role: writer.author_role.as_str(),
        }
    }
}

/// `PUT …/{id}`: 201 when the object did not exist (or was deleted), 200 when
/// replaced or when the same content was sent again (version unchanged).
pub async fn put_record<K: LogKind>(
    state: &actix_web::web::Data<AppState>,
    writer: Writer,
    id: Uuid,
    if_match: IfMatch,
    body: K::Body,
) -> AppResult<HttpResponse> {
    let st = state.clone();
    let (outcome, response) = state
        .db
        .write(move |conn| {
            let s = Strings::new(&writer, id);
            let (mut lock, data) = lock_and_validate::<K>(conn, &st, &s.patient, &body)?;
            let date = body.date();
            let key = K::natural_key(&body);
            let outcome = records::put(
                conn,
                &mut lock,
                &write_of::<K>(&s, date, &data, key.as_deref()),
                &if_match,
                st.clock.now_naive(),
            )?;
            let row = match &outcome {
                PutOutcome::Created(r) | PutOutcome::Replaced(r) | PutOutcome::Unchanged(r) => r,
            };
            let response = K::respond(row, body)?;
            Ok((outcome, response))
        })
        .await?;
    Ok(match outcome {
        PutOutcome::Created(row) => HttpResponse::Created()
            .insert_header((header::LOCATION, K::location(&row)))
            .insert_header((header::ETAG, etag(row.version)))
            .json(response),
        PutOutcome::Replaced(row) | PutOutcome::Unchanged(row) => HttpResponse::Ok()
            .insert_header((header::ETAG, etag(row.version)))
            .json(response),
    })
}

/// `POST …`: creates with a server id. With an `Idempotency-Key` seen in the
/// last 24 hours, answers what the first request got and stores nothing.
pub async fn post_record<K: LogKind>(
    state: &actix_web::web::Data<AppState>,
    writer: Writer,
    key: Option<String>,
    body: K::Body,
) -> AppResult<HttpResponse> {
    let attempt = || {
        let (st, writer, key, body) = (state.clone(), writer.clone(), key.clone(), body.clone());
        state.db.write(move |conn| {
            let now = st.clock.now_naive();
            let s = Strings::new(&writer, Uuid::new_v4());
            let mut lock = records::lock_patient(conn, &s.patient)?;
            let data = serde_json::to_string(&body).map_err(AppError::internal)?;
            let fingerprint = {
                let digest = Sha256::digest(format!("POST {} {data}", K::PATH).as_bytes());
                digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
            };
            if let Some(key) = &key {
                if let Some(saved) = records::find_saved_response(conn, &s.author, key, now - Duration::hours(24))? {
                    if saved.fingerprint != fingerprint {
                        return Err(AppError::Conflict {
                            code: "idempotency_key_reused",
                            detail: "This Idempotency-Key was used for a different request in the last 24 hours.",
                        });
                    }
                    return Ok(saved);
                }
            }
            // A retry gets its first answer even if the rules would now refuse
            // it (say, its stretch was deleted since), so validate only here.
            validate::<K>(conn, &st, lock.patient(), &body)?;
            let row = records::create(conn, &mut lock, &write_of::<K>(&s, body.date(), &data, None), now)?;
            let response = K::respond(&row, body)?;
            let saved = SavedResponse {
                user_id: s.author.clone(),
                key: key.unwrap_or_default(),
                fingerprint,
                status: 201,
                body: serde_json::to_string(&response).map_err(AppError::internal)?,
                location: K::location(&row),
                etag: etag(row.version),
                created_at: now,
            };
            if !saved.key.is_empty() {
                records::save_response(conn, &saved)?;
            }
            Ok(saved)
        })
    };
    let saved = match attempt().await {
        // Another request with the same key committed first: answer what it got.
        Err(AppError::Conflict { code, .. }) if code == records::KEY_IN_FLIGHT => attempt().await?,
        other => other?,
    };
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, saved.location))
        .insert_header((header::ETAG, saved.etag))
        .content_type("application/json")
        .body(saved.body))
}

/// `DELETE …/{id}`: 204, also when it was already deleted.
pub async fn delete_record<K: LogKind>(
    state: &actix_web::web::Data<AppState>,
    writer: Writer,
    id: Uuid,
    if_match: IfMatch,
) -> AppResult<HttpResponse> {
    let now = state.clock.now_naive();
    state
        .db
        .write(move |conn| {
            let s = Strings::new(&writer, id);
            let mut lock = records::lock_patient(conn, &s.patient)?;
            records::delete(conn, &mut lock, K::KIND, &s.author, &s.id, &if_match, now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- reads

/// `GET …/{id}`.
pub async fn get_record<K: LogKind>(
    state: &AppState,
    patient_id: Uuid,
    id: Uuid,
) -> AppResult<HttpResponse> {
    let row = state
        .db
        .run(move |conn| {
            records::find_live(conn, &patient_id.to_string(), K::KIND, &id.to_string())
        })
        .await?;
    record_response::<K>(&row)
}

/// 200 with a stored object and its `ETag`.
pub fn record_response<K: LogKind>(row: &RecordRow) -> AppResult<HttpResponse> {
    let response = K::render(row)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(row.version)))
        .json(response))
}

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
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn bad_param(field: &str, message: &str) -> AppError {
    AppError::bad_request(
        "invalid_query",
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
                id: id.parse::<Uuid>().ok()?.to_string(),
            })
        })
        .ok_or_else(|| bad_param("cursor", "is not a cursor this API returned"))
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `GET …`: newest date first (ties by id), so that paging while new rows
/// arrive neither repeats nor skips a row that existed when paging began.
pub async fn list_records<K: LogKind>(
    state: &AppState,
    patient_id: Uuid,
    query: ListQuery,
) -> AppResult<HttpResponse> {
    let limit = check_limit(query.limit)?;
    check_range(query.from, query.to)?;
    // An empty cursor is the same as none, as on the sync feed.
    let after = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(decode_position)
        .transpose()?;
    let mut rows = state
        .db
        .run(move |conn| {
            records::list(
                conn,
                &patient_id.to_string(),
                K::KIND,
                query.from,
                query.to,
                after.as_ref(),
                limit + 1,
            )
        })
        .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = match rows.last() {
        Some(last) if more => last.date.map(|date| {
            encode_position(&ListPosition {
                date,
                id: last.id.clone(),
            })
        }),
        _ => None,
    };
    let items = rows.iter().map(K::render).collect::<AppResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_accepts_star_and_lists_of_etags() {
        assert_eq!(parse_if_match("*"), Some(IfMatch::Any));
        assert_eq!(parse_if_match("\"3\""), Some(IfMatch::Versions(vec![3])));
        assert_eq!(
            parse_if_match("W/\"3\", \"4\""),
            Some(IfMatch::Versions(vec![3, 4]))
        );
        assert_eq!(parse_if_match("3"), None);
        assert_eq!(parse_if_match("\"x\""), None);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() -> Result<(), chrono::ParseError> {
        let p = ListPosition {
            date: "2026-11-01".parse()?,
            id: Uuid::new_v4().to_string(),
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
