//! The HTTP side of the API's protocol, in one place: the `If-Match`,
//! `If-None-Match` and `Idempotency-Key` headers, answers with an `ETag`,
//! list parameters, pages, cursors and date ranges. The version rule itself
//! is `crate::domain::version`; the write protocol's decisions are in
//! `crate::kinds::protocol`.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::domain::version::{etag, IfMatch, IfNoneMatch};
use crate::domain::FieldError;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::logbook::{Found, ListParams, ListPosition, Outcome, Written};

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

pub fn bad_header(name: &str, detail: &str, message: &str) -> AppError {
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

/// The tags of every `If-None-Match` line (a list may be split over several).
pub fn if_none_match(req: &HttpRequest) -> IfNoneMatch {
    let lines: Vec<&str> = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .collect();
    IfNoneMatch::parse(&lines.join(","))
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

pub fn encode_position(p: &ListPosition) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RecordId;

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
