//! Request parsing that answers problem+json naming the field: the JSON body
//! and query-string extractors, and the error handlers for actix's own
//! extractors. Messages say what was expected in a client developer's
//! words ("a whole number", "a date as YYYY-MM-DD"), not serde's types.

use actix_web::dev::Payload;
use actix_web::error::{PathError, PayloadError, QueryPayloadError};
use actix_web::http::header;
use std::net::IpAddr;

use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{AppError, ErrorCode, FieldError};
use crate::service::session::Client;

/// How long a body may take to arrive when no state says otherwise.
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body. Unlike `web::Json`, errors name the offending field
/// (`areas[1].minutes`), an unknown enum value is a 422 (a value out of
/// range) rather than a 400, and every failure is problem+json.
pub struct ApiJson<T>(pub T);

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
        .unwrap_or(false)
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        let deadline = req
            .app_data::<web::Data<crate::state::AppState>>()
            .map_or(DEFAULT_BODY_TIMEOUT, |state| state.request_timeout);
        Box::pin(async move {
            if !json {
                return Err(AppError::UnsupportedMediaType);
            }
            // A client that stops sending its body is cut off (408), so it
            // holds a connection and a task for a bounded time only.
            let bytes = tokio::time::timeout(deadline, body)
                .await
                .map_err(|_| AppError::RequestTimeout)?
                .map_err(|err| match err.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => AppError::PayloadTooLarge,
                    _ => AppError::bad_request(
                        ErrorCode::UnreadableBody,
                        "The request body could not be read.",
                        vec![],
                    ),
                })?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// A query string. Unlike `web::Query`, a bad value names its parameter
/// (`from`, not "query") and says what was expected; 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<T> ApiQuery<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ApiQuery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(ApiQuery))
    }
}

/// Deserialises a query string, naming the parameter a complaint concerns.
pub fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, AppError> {
    let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(pairs).map_err(|err| {
        let path = err.path().to_string();
        let message = strip_position(&err.into_inner().to_string());
        // Unknown and missing parameters are named by the message itself.
        let named = message.split('`').nth(1).filter(|_| {
            message.starts_with("unknown field") || message.starts_with("missing field")
        });
        let field = match named {
            Some(name) => name.to_owned(),
            None if path != "." && path != "?" => path,
            None => "query".to_owned(),
        };
        let message = match (named, message.split_once(", expected ")) {
            (Some(_), Some((_, expected))) if message.starts_with("unknown field") => {
                format!("is not a parameter here; expected {expected}")
            }
            _ => plain_words(&field, &message),
        };
        AppError::bad_request(
            ErrorCode::InvalidQuery,
            format!("Bad query parameter {field}: {message}"),
            vec![FieldError::new(field, message)],
        )
    })
}

/// What the chrono parsers say about a string that is not a date or time.
const CHRONO_COMPLAINTS: [&str; 8] = [
    "input contains invalid characters",
    "premature end of input",
    "trailing input",
    "input is out of range",
    "no possible date and time matching input",
    "input is not enough for unique date and time",
    "impossible",
    "bad or unsupported format string",
];

/// What the integer parsers say about a string that is not one.
const INTEGER_COMPLAINTS: [&str; 4] = [
    "invalid digit found in string",
    "cannot parse integer from empty string",
    "number too large to fit in target type",
    "number too small to fit in target type",
];

const A_DATE: &str = "must be a date as YYYY-MM-DD, such as 2026-12-07";
const A_DATE_TIME: &str =
    "must be a date and time as RFC 3339, such as 2026-12-07T08:30:00Z or 2026-12-07T09:30:00+01:00";

/// serde's complaint about `field` in a client developer's words. Date and
/// time fields are told apart by name: every date-time field of the API
/// ends in `_at` (`recorded_at`, `started_at`), no date field does.
fn plain_words(field: &str, message: &str) -> String {
    let leaf = field.rsplit(['.', ']']).next().unwrap_or(field);
    let date_time = leaf.ends_with("_at");
    if CHRONO_COMPLAINTS.contains(&message) {
        return if date_time { A_DATE_TIME } else { A_DATE }.to_owned();
    }
    if INTEGER_COMPLAINTS.contains(&message) {
        return "must be a whole number".to_owned();
    }
    let found = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.rsplit_once(", expected "));
    let Some((got, expected)) = found else {
        return message.to_owned();
    };
    let wanted = match expected {
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more",
        "f32" | "f64" => "a number",
        "a string" => "a string",
        "a boolean" => "true or false",
        "a sequence" => "a list (a JSON array)",
        "a map" => "an object",
        e if e.starts_with("struct ") => "an object",
        e if e.contains("UUID") || e.contains("uuid") => {
            "a UUID, such as 0192a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b"
        }
        e if e.contains("date and time") || e.contains("datetime") => {
            return A_DATE_TIME.to_owned()
        }
        e if e.contains("date") => return A_DATE.to_owned(),
        _ => return message.to_owned(),
    };
    format!("must be {wanted}, not {got}")
}

/// Deserialises `bytes`, mapping serde's complaint onto the field it concerns.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let StrictValue(mut value) =
        serde_json::from_slice(bytes).map_err(|e| malformed(&strip_position(&e.to_string())))?;
    // Every body is an object; serde would also fill a struct from an array.
    if !value.is_object() {
        return Err(AppError::bad_request(
            ErrorCode::InvalidBody,
            "The request body must be a JSON object.",
            vec![FieldError::new("body", "must be a JSON object")],
        ));
    }
    whole_numbers_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        let inner = err.into_inner();
        let message = plain_words(&field, &strip_position(&inner.to_string()));
        match inner.classify() {
            serde_json::error::Category::Data if message.starts_with("unknown variant") => {
                AppError::Unprocessable(vec![FieldError::new(field, message)])
            }
            serde_json::error::Category::Data => AppError::bad_request(
                ErrorCode::InvalidBody,
                format!("Field {field}: {message}"),
                vec![FieldError::new(field, message)],
            ),
            _ => malformed(&message),
        }
    })
}

/// A JSON value read like serde_json's, except that an object naming one
/// key twice is refused (as the typed bodies did when read directly), so a
/// proxy and this server cannot read one body two ways.
struct StrictValue(serde_json::Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(items.into())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate field `{key}`"
                )));
            }
            let StrictValue(value) = map.next_value()?;
            fields.insert(key, value);
        }
        Ok(fields.into())
    }
}

/// JSON Schema counts `2.0` and `2e1` as integers, so integer fields take
/// them: a number without a fraction, exactly representable (|n| ≤ 2^53),
/// becomes an integer before the body is read. `2.5` stays a float and is
/// refused by an integer field as before.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < EXACT) {
                // Exact: below 2^53 every integer is a float of its own, so
                // the text meant this integer and the cast loses nothing.
                *n = serde_json::Number::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(whole_numbers_as_integers)
        }
        _ => {}
    }
}

fn malformed(message: &str) -> AppError {
    AppError::bad_request(
        ErrorCode::MalformedJson,
        format!("The request body is not valid JSON: {message}"),
        vec![],
    )
}

/// serde_json appends " at line L column C"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let message = strip_position(&err.to_string());
    let message = message
        .trim_start_matches("Query deserialize error: ")
        .to_owned();
    let field = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"))
        .unwrap_or("query")
        .to_owned();
    AppError::bad_request(
        ErrorCode::InvalidQuery,
        format!("Bad query parameters: {message}"),
        vec![FieldError::new(field, message)],
    )
    .into()
}

pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    let message = strip_position(&err.to_string());
    AppError::bad_request(
        ErrorCode::InvalidPath,
        "A path parameter is malformed (ids are UUIDs).",
        vec![FieldError::new("path", message)],
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Area {
        side: Side,
        minutes: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Side {
        Left,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        areas: Vec<Area>,
    }

    fn fields(err: AppError) -> (u16, Vec<String>) {
        use actix_web::ResponseError;
        let status = err.status_code().as_u16();
        let fields = match err {
            AppError::BadRequest { errors, .. } | AppError::Unprocessable(errors) => {
                errors.into_iter().map(|e| e.field).collect()
            }
            _ => vec![],
        };
        (status, fields)
    }

    #[test]
    fn errors_name_the_field() {
        let wrong_type =
            parse_json::<Body>(br#"{"areas":[{"side":"left","minutes":"5"}]}"#).unwrap_err();
        assert_eq!(
            fields(wrong_type),
            (400, vec!["areas[0].minutes".to_owned()])
        );
        let bad_enum = parse_json::<Body>(br#"{"areas":[{"side":"up","minutes":5}]}"#).unwrap_err();
        assert_eq!(fields(bad_enum), (422, vec!["areas[0].side".to_owned()]));
        let unknown = parse_json::<Body>(br#"{"areas":[],"extra":1}"#).unwrap_err();
        assert_eq!(fields(unknown).0, 400);
        let malformed = parse_json::<Body>(br#"{"areas":["#).unwrap_err();
        assert_eq!(fields(malformed), (400, vec![]));
        let trailing = parse_json::<Body>(br#"{"areas":[]} x"#).unwrap_err();
        assert_eq!(fields(trailing).0, 400);
        // One key twice: refused, as a proxy might read the other one.
        let twice = parse_json::<Body>(br#"{"areas":[],"areas":[]}"#).unwrap_err();
        assert_eq!(fields(twice).0, 400);
        // serde fills a struct from an array too; a body must be an object.
        let array = parse_json::<Body>(br#"[[]]"#).unwrap_err();
        assert_eq!(fields(array), (400, vec!["body".to_owned()]));
    }

    /// serde's and chrono's words become what a client developer expects.
    #[test]
    fn complaints_are_said_in_plain_words() {
        #[rustfmt::skip]
        let table = [
            ("date", "input contains invalid characters", "must be a date as YYYY-MM-DD, such as 2026-12-07"),
            ("ends_on", "premature end of input", "must be a date as YYYY-MM-DD, such as 2026-12-07"),
            ("recorded_at", "trailing input", A_DATE_TIME),
            ("items[2].started_at", "input is out of range", A_DATE_TIME),
            ("pain_level", "invalid type: string \"5\", expected i64", "must be a whole number, not string \"5\""),
            ("limit", "invalid digit found in string", "must be a whole number"),
            ("sets", "invalid value: integer `-1`, expected u32", "must be a whole number, 0 or more, not integer `-1`"),
            ("regions", "invalid type: string \"x\", expected a sequence", "must be a list (a JSON array), not string \"x\""),
            ("date", "invalid type: integer `5`, expected a formatted date string", "must be a date as YYYY-MM-DD, such as 2026-12-07"),
            ("side", "unknown variant `up`, expected one of `left`, `right`", "unknown variant `up`, expected one of `left`, `right`"),
        ];
        for (field, raw, plain) in table {
            assert_eq!(plain_words(field, raw), plain, "{field}: {raw}");
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Range {
        from: Option<chrono::NaiveDate>,
        limit: Option<u32>,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let named = |raw: &str| match parse_query::<Range>(raw) {
            Err(AppError::BadRequest { errors, .. }) => {
                (errors[0].field.clone(), errors[0].message.clone())
            }
            other => panic!("{raw}: {:?}", other.map(|_| ())),
        };
        assert_eq!(named("from=2026/10/01").0, "from");
        assert!(named("from=2026/10/01").1.contains("YYYY-MM-DD"));
        assert_eq!(
            named("limit=ten"),
            ("limit".to_owned(), "must be a whole number".to_owned())
        );
        assert_eq!(
            named("since=x"),
            (
                "since".to_owned(),
                "is not a parameter here; expected `from` or `limit`".to_owned()
            )
        );
        let fine: Range = parse_query("from=2026-10-01&limit=5").unwrap();
        assert_eq!(fine.limit, Some(5));
    }

    /// JSON Schema's integers include `2.0` and `2e1`; fractions stay refused.
    #[test]
    fn whole_numbers_are_integers() {
        let body: Body = parse_json(br#"{"areas":[{"side":"left","minutes":2.0}]}"#).unwrap();
        assert_eq!(body.areas[0].minutes, 2);
        let body: Body = parse_json(br#"{"areas":[{"side":"left","minutes":2e1}]}"#).unwrap();
        assert_eq!(body.areas[0].minutes, 20);
        let body: Body = parse_json(br#"{"areas":[{"side":"left","minutes":-0.0}]}"#).unwrap();
        assert_eq!(body.areas[0].minutes, 0);
        let fraction =
            parse_json::<Body>(br#"{"areas":[{"side":"left","minutes":2.5}]}"#).unwrap_err();
        assert_eq!(fields(fraction), (400, vec!["areas[0].minutes".to_owned()]));
        // From 2^53 on a float no longer says which integer was meant.
        let rounded =
            parse_json::<Body>(br#"{"areas":[{"side":"left","minutes":9007199254740993.0}]}"#)
                .unwrap_err();
        assert_eq!(fields(rounded).0, 400);
        let huge =
            parse_json::<Body>(br#"{"areas":[{"side":"left","minutes":1e300}]}"#).unwrap_err();
        assert_eq!(fields(huge).0, 400);
    }
}

/// The client's address: the socket peer, unless the peer is a trusted
/// proxy, in which case the right-most `X-Forwarded-For` entry that is not
/// a proxy. Entries are read from the right, the side trusted proxies
/// append to; an address may carry a port (`198.51.100.8:51234`,
/// `[2001:db8::5]:443`) or brackets. An entry that is no address at all
/// (`unknown`, garbage) ends the walk: it names no one the proxies vouch
/// for, so everything left of it is the client's own text and is ignored,
/// and the client is counted as `unknown` (throttled together with every
/// such client, never under an address it chose).
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".to_owned();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let headers: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| v.to_str().unwrap_or("unknown"))
        .collect();
    for entry in headers.iter().flat_map(|v| v.split(',')).rev() {
        match forwarded_address(entry) {
            Some(ip) if trusted.contains(&ip) => continue,
            Some(ip) => return ip.to_string(),
            None => return "unknown".to_owned(),
        }
    }
    peer.to_string()
}

/// The `User-Agent` a login is shown with: printable, at most
/// [`USER_AGENT_MAX`] characters, `None` when absent or empty. It is what
/// the client says, for the account's owner to recognise a device, never
/// trusted.
pub fn user_agent(req: &HttpRequest) -> Option<String> {
    let raw = req.headers().get(header::USER_AGENT)?;
    let text = String::from_utf8_lossy(raw.as_bytes());
    let clean: String = text
        .chars()
        // Bidi overrides and other invisible characters only deceive the
        // reader of the list (`Painline` shown for `enilniaP`), as in names.
        .filter(|c| !c.is_control() && !crate::domain::account::is_invisible(*c))
        .take(USER_AGENT_MAX)
        .collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_owned())
}

/// The longest `user_agent` a login keeps, in characters.
pub const USER_AGENT_MAX: usize = 200;

/// Who is calling, as the sign-in services count and show it.
pub fn client(req: &HttpRequest, trusted: &[IpAddr]) -> Client {
    Client {
        key: client_key(req, trusted),
        user_agent: user_agent(req),
    }
}

/// What throttles count a client by: its address ([`client_ip`]), except
/// that IPv6 addresses count by their /64 (`2001:db8:1:2::/64`), the block
/// one subscriber is usually given, so a client cannot dodge a limit by
/// walking its own prefix. An IPv4 address mapped into IPv6 counts as the
/// IPv4 address.
pub fn client_key(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let ip = client_ip(req, trusted);
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
        _ => ip,
    }
}

/// One `X-Forwarded-For` entry as an address: `IP`, `IPv4:port`, `[IPv6]`
/// or `[IPv6]:port`.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<std::net::Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

#[cfg(test)]
mod client_ip_tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip_of(forwarded: &[&str]) -> String {
        let proxy: IpAddr = [10, 0, 0, 1].into();
        let mut req = TestRequest::default().peer_addr((proxy, 40_000).into());
        for value in forwarded {
            req = req.append_header(("x-forwarded-for", *value));
        }
        client_ip(&req.to_http_request(), &[proxy, [10, 0, 0, 2].into()])
    }

    /// The entry a trusted proxy appended wins over what the client wrote to
    /// its left, in every form proxies write addresses.
    #[test]
    fn forwarded_addresses_with_ports_and_brackets_are_read() {
        assert_eq!(ip_of(&["1.1.1.1, 198.51.100.8"]), "198.51.100.8");
        assert_eq!(ip_of(&["1.1.1.1, 198.51.100.8:51234"]), "198.51.100.8");
        assert_eq!(ip_of(&["1.1.1.1, [2001:db8::5]"]), "2001:db8::5");
        assert_eq!(ip_of(&["1.1.1.1, [2001:db8::5]:443"]), "2001:db8::5");
        assert_eq!(ip_of(&["1.1.1.1, 2001:db8::5"]), "2001:db8::5");
        // Proxies of ours in the chain are skipped.
        assert_eq!(ip_of(&["1.1.1.1, 198.51.100.8, 10.0.0.2"]), "198.51.100.8");
        assert_eq!(
            ip_of(&["1.1.1.1", "198.51.100.8:1, 10.0.0.2:80"]),
            "198.51.100.8"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        /// Any header text: an address or `unknown`, never a panic, and
        /// never an address that is not in the header or the peer.
        #[test]
        fn any_forwarded_header(raw in "[ -~]{0,120}") {
            let ip = ip_of(&[raw.as_str()]);
            proptest::prop_assert!(
                ip == "unknown" || ip == "10.0.0.1" || forwarded_address_in(&raw, &ip),
                "{raw:?} gave {ip}"
            );
        }
    }

    /// IPv6 clients count by their /64; IPv4 ones, mapped or not, by their address.
    #[test]
    fn the_client_key_of_ipv6_is_its_64() {
        let key = |forwarded: &str| {
            let proxy: IpAddr = [10, 0, 0, 1].into();
            let req = TestRequest::default()
                .peer_addr((proxy, 40_000).into())
                .append_header(("x-forwarded-for", forwarded));
            client_key(&req.to_http_request(), &[proxy])
        };
        assert_eq!(key("2001:db8:1:2::5"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_eq!(key("[2001:db8:1:3::5]:443"), "2001:db8:1:3::/64");
        assert_eq!(key("::ffff:198.51.100.8"), "198.51.100.8");
        assert_eq!(key("198.51.100.8"), "198.51.100.8");
        assert_eq!(key("garbage"), "unknown");
    }

    fn forwarded_address_in(raw: &str, ip: &str) -> bool {
        raw.split(',')
            .filter_map(forwarded_address)
            .any(|a| a.to_string() == ip)
    }

    /// An entry that is no address stops the walk: the client's own
    /// entries left of it never become its address.
    #[test]
    fn an_unreadable_entry_is_unknown_never_the_entry_to_its_left() {
        assert_eq!(ip_of(&["1.1.1.1, unknown"]), "unknown");
        assert_eq!(ip_of(&["1.1.1.1, 198.51.100.8:port"]), "unknown");
        assert_eq!(ip_of(&["1.1.1.1, [2001:db8::5"]), "unknown");
        assert_eq!(ip_of(&["1.1.1.1, "]), "unknown");
        // No header: the proxy itself.
        assert_eq!(ip_of(&[]), "10.0.0.1");
    }
}
