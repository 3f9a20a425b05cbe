//! The OpenAPI 3.1 document, generated from the handlers' annotations. The
//! committed `openapi.yaml` must equal what this produces (a test checks).

use std::sync::OnceLock;

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldError, Problem, PROBLEM_JSON};
use crate::routes;

mod examples;
mod rules;

/// What the document says besides its operations, which come from the
/// route table (`routes::endpoints`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Painline API",
        description = "Lower-back-pain logbook for patients and the massage therapists they invite. \
Errors are application/problem+json (RFC 9457) with a stable `code`. \
Patterns are ECMA-262 regular expressions in Unicode mode (the `u` flag).",
        license(name = "AGPL-3.0-or-later"),
    ),
    components(schemas(
        Problem,
        FieldError,
        routes::export::ExportFormat,
        // Named by parameters only: utoipa adds them to no component by itself.
        crate::analytics::overview::PatientOrder,
        routes::auth::SessionMode,
    )),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "me", description = "The caller's own account"),
        (name = "logbook", description = "What a patient's phone writes: offline-first, versioned, synced"),
        (name = "care team", description = "Invitations, and the links that let a therapist read a patient's logbook"),
        (name = "therapist views", description = "A linked patient's data, as the patient sees it; every request is in the patient's access log"),
        (name = "home programme", description = "The stretching plan a patient's care team prescribes, its history, and how far the patient follows it"),
        (name = "trends", description = "How pain moves between massage sessions (docs/analytics.md)"),
        (name = "reminders", description = "Mails a user asks for: a patient's daily reminder to log, a therapist's weekly digest, and one-click unsubscribe"),
        (name = "operations", description = "Health, readiness and the contract"),
    )
)]
struct ApiDoc;

/// The whole document: the frame above, every endpoint's operation and
/// schemas, and the conventions every operation shares.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for endpoint in routes::endpoints() {
        doc.merge(endpoint.doc());
    }
    Conventions.modify(&mut doc);
    doc
}

/// Adds what every operation shares: bearer auth, and the problem+json
/// error answers that any request can get.
struct Conventions;

fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build(),
    )
}

fn add_common_errors(op: &mut Operation) {
    declare_header_rules(op);
    // The refresh token travels in the body, or (a dashboard, with
    // `X-Painline-Session: cookie`) in a cookie: then there is no body.
    let session_header = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.name == "X-Painline-Session");
    let refresh_body = op.request_body.as_ref().is_some_and(|body| {
        body.content.values().any(|c| {
            matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/RefreshRequest"))
        })
    });
    if session_header && refresh_body {
        if let Some(body) = op.request_body.as_mut() {
            body.required = Some(utoipa::openapi::Required::False);
        }
    }
    let responses = &mut op.responses.responses;
    // Route-specific error answers are declared without a body; give them the problem schema.
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response {
            if status.as_str() >= "400" && response.content.is_empty() {
                response.content.insert(
                    PROBLEM_JSON.to_owned(),
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                );
            }
            if status.as_str() == "412" {
                response.headers.insert(
                    "ETag".to_owned(),
                    utoipa::openapi::header::HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::String))
                        .description(Some(
                            "The current version's tag (also `version` in the body); absent when the object is deleted or was never created",
                        ))
                        .build(),
                );
            }
        }
    }
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = op.request_body.is_some();
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut defaults = vec![
        (
            "500",
            "Unexpected error (no internal detail is ever returned)",
        ),
        ("503", "Database unavailable or overloaded; see Retry-After"),
    ];
    if secured {
        defaults.push((
            "401",
            "`token_expired`: the access token has run out (WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"The access token expired\"): refresh and retry once. `invalid_token`: missing, malformed, signed with another key, or of an ended login (WWW-Authenticate: Bearer): refresh once, then sign in",
        ));
    }
    if has_body || has_params {
        defaults.push((
            "400",
            "Malformed JSON, wrong type, unknown field or bad parameter",
        ));
    }
    if has_body {
        defaults.push(("413", "Body over 64 KiB"));
        defaults.push(("415", "Body is not application/json"));
    }
    for (status, description) in defaults {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| problem(description));
    }
}

/// A string that must match `pattern`.
fn text(pattern: &str) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .build(),
    ))
}

/// The grammar of the request headers the server parses, as it parses them
/// (a value outside it is a 400).
fn declare_header_rules(op: &mut Operation) {
    for parameter in op.parameters.iter_mut().flatten() {
        let pattern = match parameter.name.as_str() {
            "If-Match" => routes::http::IF_MATCH_PATTERN,
            "Idempotency-Key" => routes::http::IDEMPOTENCY_KEY_PATTERN,
            // `cookie`, any case, blanks around it (routes::auth::session_mode).
            "X-Painline-Session" => "^[ \\t]*[Cc][Oo][Oo][Kk][Ii][Ee][ \\t]*$",
            _ => continue,
        };
        parameter.schema = Some(text(pattern));
    }
}

/// What the server enforces on text fields, computed from the same rules
/// (`domain::account`, `domain::care_team`), so a client or a contract
/// fuzzer knows what is accepted before it sends it.
fn declare_text_rules(components: &mut utoipa::openapi::Components) {
    use crate::domain::{DisplayName, Email, Password};
    let name = DisplayName::pattern();
    let email = Email::pattern();
    let code = crate::domain::care_team::pattern();
    components
        .schemas
        .insert("Timezone".to_owned(), timezone_schema());
    components
        .schemas
        .insert("ThresholdOverride".to_owned(), threshold_override_schema());
    for (schema_name, schema) in components.schemas.iter_mut() {
        let RefOr::T(Schema::Object(object)) = schema else {
            continue;
        };
        if schema_name == "UpdateMe" {
            // JSON Schema 2020-12 (OpenAPI 3.1): a new address needs the password.
            object
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    "dependentRequired".to_owned(),
                    serde_json::json!({"email": ["current_password"]}),
                );
        }
        for (field, property) in object.properties.iter_mut() {
            let RefOr::T(Schema::Object(p)) = property else {
                continue;
            };
            match (schema_name.as_str(), field.as_str()) {
                ("RegisterRequest" | "UpdateMe" | "OwnStretchBody", "display_name" | "name") => {
                    p.pattern = Some(name.clone());
                    p.max_length = Some(DisplayName::MAX_LEN);
                }
                // A reset looks the address up more leniently (an address
                // stored before a rule was added still gets its link); the
                // schema states what any address a client types must be.
                ("RegisterRequest" | "UpdateMe" | "PasswordResetRequest", "email") => {
                    p.pattern = Some(email.clone());
                    p.max_length = Some(Email::MAX_LEN);
                }
                ("RegisterRequest", "password")
                | ("ChangePassword" | "PasswordResetConfirm", "new_password") => {
                    p.min_length = Some(Password::MIN_LEN);
                    p.max_length = Some(Password::MAX_LEN);
                }
                ("RegisterRequest" | "UpdateMe", "timezone") => {
                    *property = nullable_ref("Timezone", p.description.take());
                }
                ("JoinCareTeam", "code") => p.pattern = Some(code.clone()),
                ("Reminders" | "Digest", "local_time") => {
                    p.pattern = Some(crate::domain::schedule::LocalTime::PATTERN.to_owned());
                }
                (_, "notes" | "note" | "description") if schema_name.ends_with("Body") => {
                    p.max_length = Some(crate::domain::logbook::NOTES_MAX);
                }
                _ => {}
            }
        }
    }
}

/// Every IANA zone name the server knows (chrono-tz's database), as a
/// named schema. `x-enum-varnames` gives generated clients a distinct
/// constant for each, since `Etc/GMT+1` and `Etc/GMT-1` would both become
/// `ETC_GMT1`.
/// A patient's own threshold: 0..10 or `"off"` (the derive cannot bound an
/// untagged enum's integer).
fn threshold_override_schema() -> RefOr<Schema> {
    let schema = serde_json::json!({
        "description": "A patient's own `pain_high` threshold: 0..10, or `\"off\"`.",
        "oneOf": [
            {"type": "integer", "format": "int64", "minimum": 0, "maximum": 10},
            {"type": "string", "enum": ["off"]},
        ],
    });
    serde_json::from_value(schema).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

fn timezone_schema() -> RefOr<Schema> {
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    let constants: Vec<String> = names.iter().map(|name| zone_constant(name)).collect();
    let schema = serde_json::json!({
        "type": "string",
        "description": "An IANA time zone name, such as Europe/Berlin.",
        "enum": names,
        "x-enum-varnames": constants,
    });
    serde_json::from_value(schema).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

/// `Etc/GMT+1` → `ETC_GMT_PLUS_1`, `America/Port-au-Prince` → `AMERICA_PORT_AU_PRINCE`.
fn zone_constant(name: &str) -> String {
    let mut out = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '+' => out.push_str("_PLUS_"),
            '-' if chars.peek().is_some_and(char::is_ascii_digit) => out.push_str("_MINUS_"),
            '/' | '-' | '_' => out.push('_'),
            c => out.extend(c.to_uppercase()),
        }
    }
    out
}

/// `$ref` to a named schema, or null.
fn nullable_ref(name: &str, description: Option<String>) -> RefOr<Schema> {
    let schema = serde_json::json!({
        "oneOf": [{"$ref": format!("#/components/schemas/{name}")}, {"type": "null"}],
        "description": description,
    });
    serde_json::from_value(schema).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

/// Responses extend request bodies (`allOf: [RecordMeta, PainEntryBody, …]`).
/// A body's `additionalProperties: false` is right for requests but would
/// reject every response under `allOf`, so inside `allOf` the body is inlined
/// without it.
fn open_up_all_of(components: &mut utoipa::openapi::Components) {
    let closed: std::collections::BTreeMap<String, Schema> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| match schema {
            RefOr::T(Schema::Object(object)) if object.additional_properties.is_some() => {
                let mut open = object.clone();
                open.additional_properties = None;
                Some((format!("#/components/schemas/{name}"), Schema::Object(open)))
            }
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        if let RefOr::T(Schema::AllOf(all_of)) = schema {
            for item in &mut all_of.items {
                if let RefOr::Ref(reference) = item {
                    if let Some(open) = closed.get(&reference.ref_location) {
                        *item = RefOr::T(open.clone());
                    }
                }
            }
        }
    }
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        declare_text_rules(openapi.components.get_or_insert_with(Default::default));
        rules::state(openapi);
        examples::add(openapi);
        let components = openapi.components.get_or_insert_with(Default::default);
        open_up_all_of(components);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for op in operations(openapi) {
            add_common_errors(op);
        }
    }
}

/// Every operation of the document (the methods the API serves).
pub(crate) fn operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = &mut Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    })
}

/// The document as YAML, generated once.
pub fn yaml() -> &'static str {
    static YAML: OnceLock<String> = OnceLock::new();
    YAML.get_or_init(|| {
        document()
            .to_yaml()
            .map(|text| quote_yaml11_booleans(&text))
            .unwrap_or_else(|e| format!("# could not render the OpenAPI document: {e}\n"))
    })
}

/// Quotes the plain scalars YAML 1.1 reads as booleans (`off`, `on`, `yes`,
/// `no`, `y`, `n`): the writer follows YAML 1.2, where they are strings, but
/// clients loading the document with a YAML 1.1 parser (PyYAML) would turn
/// `"off"` into `false`.
fn quote_yaml11_booleans(yaml: &str) -> String {
    const WORDS: [&str; 6] = ["off", "on", "yes", "no", "y", "n"];
    let mut out = String::with_capacity(yaml.len() + 64);
    for line in yaml.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let value_at = body.rfind(": ").map(|i| i + 2).or_else(|| {
            body.trim_start()
                .starts_with("- ")
                .then(|| body.find("- ").map_or(0, |i| i + 2))
        });
        // A key alone on its line (`Off:`, a schema's name) is read as a
        // boolean key by the same parsers.
        let key_at = body
            .strip_suffix(':')
            .filter(|key| !key.contains(": "))
            .map(|key| key.len() - key.trim_start().len());
        if let Some(at) = key_at {
            let key = &body[at..body.len() - 1];
            if WORDS.contains(&key.to_ascii_lowercase().as_str()) {
                out.push_str(&body[..at]);
                out.push('\'');
                out.push_str(key);
                out.push_str("':");
                out.push_str(&line[body.len()..]);
                continue;
            }
        }
        match value_at {
            Some(at) if WORDS.contains(&body[at..].to_ascii_lowercase().as_str()) => {
                out.push_str(&body[..at]);
                out.push('\'');
                out.push_str(&body[at..]);
                out.push('\'');
                out.push_str(&line[body.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_11_booleans_are_quoted() {
        let text = "enum:\n- off\n- 'on'\n- offline\nkey: no\ntext: no way\n  - Y\n    Off:\n    Offset:\n";
        assert_eq!(
            quote_yaml11_booleans(text),
            "enum:\n- 'off'\n- 'on'\n- offline\nkey: 'no'\ntext: no way\n  - 'Y'\n    'Off':\n    Offset:\n"
        );
        assert!(yaml().contains("- 'off'"));
    }

    /// Two types with one schema name would overwrite each other when the
    /// endpoints' documents merge (a weekday `Day` once replaced the daily
    /// series' `Day`; schemathesis found it).
    #[test]
    fn every_schema_name_is_one_schema() {
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        for endpoint in routes::endpoints() {
            let doc = endpoint.doc();
            let Some(components) = doc.components else {
                continue;
            };
            for (name, schema) in components.schemas {
                let text = serde_json::to_string(&schema).unwrap_or_default();
                if let Some(before) = seen.insert(name.clone(), text.clone()) {
                    assert_eq!(before, text, "two schemas are named {name}");
                }
            }
        }
    }

    /// `Problem.code` is the enum of every code the service answers, from
    /// the one list (`ErrorCode`).
    #[test]
    fn problem_codes_are_every_error_code() {
        let doc = serde_json::to_value(document()).unwrap();
        let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
        let expected: Vec<&str> = crate::error::ErrorCode::ALL
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(codes, &serde_json::json!(expected));
        for code in crate::error::ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        let problem = &doc["components"]["schemas"]["Problem"]["properties"]["code"];
        assert!(
            problem
                .to_string()
                .contains("#/components/schemas/ErrorCode"),
            "{problem}"
        );
    }

    #[test]
    fn zone_constants_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for tz in chrono_tz::TZ_VARIANTS {
            let constant = zone_constant(tz.name());
            assert!(
                constant
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{constant}"
            );
            assert!(seen.insert(constant.clone()), "{} → {constant}", tz.name());
        }
        assert_eq!(zone_constant("Etc/GMT+1"), "ETC_GMT_PLUS_1");
        assert_eq!(zone_constant("Etc/GMT-1"), "ETC_GMT_MINUS_1");
    }
}
