//! The OpenAPI 3.1 document, generated from the handlers' annotations. The
//! committed `openapi.yaml` must equal what this produces (a test checks).

use std::sync::OnceLock;

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldError, Problem, PROBLEM_JSON};
use crate::routes;

/// What the document says besides its operations, which come from the
/// route table (`routes::endpoints`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Painline API",
        description = "Lower-back-pain logbook for patients and the massage therapists they invite. \
Errors are application/problem+json (RFC 9457) with a stable `code`.",
        license(name = "AGPL-3.0-or-later"),
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "me", description = "The caller's own account"),
        (name = "logbook", description = "What a patient's phone writes: offline-first, versioned, synced"),
        (name = "care team", description = "Invitations, and the links that let a therapist read a patient's logbook"),
        (name = "therapist views", description = "A linked patient's data, as the patient sees it; every request is in the patient's access log"),
        (name = "trends", description = "How pain moves between massage sessions (DESIGN.md §4)"),
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
        document()
            .to_yaml()
            .unwrap_or_else(|e| format!("# could not render the OpenAPI document: {e}\n"))
    })
}
