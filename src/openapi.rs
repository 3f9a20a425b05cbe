//! The OpenAPI 3.1 document, generated from the handlers' annotations. The
//! committed `openapi.yaml` must equal what this produces (a test checks).

use std::sync::OnceLock;

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldError, Problem, PROBLEM_JSON};
use crate::routes::logbook::{
    self, assessments, massage_sessions, own_stretches, pain_entries, stretch_sessions,
};
use crate::routes::{auth, health, me};

#[derive(OpenApi)]
#[openapi(
    paths(
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        me::get_me,
        me::update_me,
        me::change_password,
        me::delete_me,
        pain_entries::list,
        pain_entries::create,
        pain_entries::get,
        pain_entries::put,
        pain_entries::delete,
        stretch_sessions::list,
        stretch_sessions::create,
        stretch_sessions::get,
        stretch_sessions::put,
        stretch_sessions::delete,
        massage_sessions::list,
        massage_sessions::create,
        massage_sessions::get,
        massage_sessions::put,
        massage_sessions::delete,
        assessments::list,
        assessments::create,
        assessments::get,
        assessments::put,
        assessments::delete,
        logbook::list_stretches,
        own_stretches::create,
        own_stretches::get,
        own_stretches::put,
        own_stretches::delete,
        logbook::list_conditions,
        logbook::get_condition,
        logbook::put_condition,
        logbook::delete_condition,
        logbook::list_changes,
    ),
    components(schemas(Problem, FieldError))
)]
struct V1;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Painline API",
        description = "Lower-back-pain logbook for patients and the massage therapists they invite. \
Errors are application/problem+json (RFC 9457) with a stable `code`.",
        license(name = "AGPL-3.0-or-later"),
    ),
    nest((path = "/v1", api = V1)),
    paths(health::healthz, health::readyz, health::openapi_yaml),
    modifiers(&Conventions),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "me", description = "The caller's own account"),
        (name = "logbook", description = "What a patient's phone writes: offline-first, versioned, synced"),
        (name = "operations", description = "Health, readiness and the contract"),
    )
)]
pub struct ApiDoc;

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
            "Missing, invalid or expired access token (WWW-Authenticate: Bearer)",
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
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_common_errors(op);
            }
        }
    }
}

/// The document as YAML, generated once.
pub fn yaml() -> &'static str {
    static YAML: OnceLock<String> = OnceLock::new();
    YAML.get_or_init(|| {
        ApiDoc::openapi()
            .to_yaml()
            .unwrap_or_else(|e| format!("# could not render the OpenAPI document: {e}\n"))
    })
}
