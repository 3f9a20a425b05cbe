//! HTTP routes: thin handlers with their request and response types, and the
//! one table of every route ([`endpoints`]). Each handler's `#[utoipa::path]`
//! annotation states its method and path once; [`endpoint!`] turns it into an
//! [`Endpoint`] that says who may call it. The actix application, the
//! OpenAPI document and the authorisation tests are all built from the table.

pub mod auth;
pub mod care_team;
pub mod export;
pub mod health;
pub mod http;
pub mod input;
pub mod logbook;
pub mod logins;
pub mod me;
pub mod overview;
pub mod red_flags;
pub mod schedules;
pub mod scope;
pub mod sync;
pub mod trends;

use std::collections::BTreeMap;

use actix_web::dev::ServiceResponse;
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpResponse};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::OpenApi;

use crate::error::{problem_response, ErrorCode, PROBLEM_JSON};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed (operations, sign-up and sign-in).
    Anyone,
    /// Any signed-in user, patient or therapist.
    SignedIn,
    /// A patient's own data (`/v1/me/…`): patients only (403 otherwise),
    /// decided by the `PatientScope` extractor.
    Patient,
    /// Therapists only (403 otherwise), decided by the `Therapist` extractor.
    Therapist,
    /// A patient's data seen by a therapist (`/v1/patients/{pid}/…`): only
    /// a therapist linked to `pid` now (403 for patients, 404 otherwise),
    /// decided and access-logged by the `PatientScope` extractor.
    LinkedTherapist,
}

/// One route: its method, path and access, how actix serves it, and its
/// part of the OpenAPI document.
pub struct Endpoint {
    pub method: Method,
    pub path: String,
    pub access: Access,
    route: fn() -> actix_web::Route,
    doc: OpenApi,
}

impl Endpoint {
    /// Takes the method and path from `doc`, the one operation a handler's
    /// annotation produced. Panics at start-up (and in every test) if `doc`
    /// does not hold exactly one operation: a route table that cannot be
    /// built is a programming error.
    pub fn new(doc: OpenApi, access: Access, route: fn() -> actix_web::Route) -> Self {
        let mut operations = doc.paths.paths.iter().flat_map(|(path, item)| {
            operations(item)
                .into_iter()
                .map(move |(method, _)| (path.clone(), method))
        });
        let (path, method) = match (operations.next(), operations.next()) {
            (Some(only), None) => only,
            _ => panic!("an endpoint's document must hold exactly one operation"),
        };
        Self {
            method,
            path,
            access,
            route,
            doc,
        }
    }

    /// This endpoint's paths and schemas.
    pub fn doc(&self) -> OpenApi {
        self.doc.clone()
    }

    fn actix_route(&self) -> actix_web::Route {
        (self.route)().method(self.method.clone())
    }
}

fn operations(item: &PathItem) -> Vec<(Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::POST, &item.post),
        (Method::PUT, &item.put),
        (Method::PATCH, &item.patch),
        (Method::DELETE, &item.delete),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_ref().map(|op| (method, op)))
    .collect()
}

/// `endpoint!(handler, Access::…)`: the route of an annotated handler.
macro_rules! endpoint {
    ($($handler:ident)::+, $access:expr) => {{
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($handler)::+))]
        struct Doc;
        $crate::routes::Endpoint::new(
            <Doc as utoipa::OpenApi>::openapi(),
            $access,
            || actix_web::web::route().to($($handler)::+),
        )
    }};
}
pub(crate) use endpoint;

/// Every route of the application.
pub fn endpoints() -> Vec<Endpoint> {
    let mut all = vec![
        endpoint!(health::healthz, Access::Anyone),
        endpoint!(health::readyz, Access::Anyone),
        endpoint!(health::openapi_yaml, Access::Anyone),
        endpoint!(auth::register, Access::Anyone),
        endpoint!(auth::login, Access::Anyone),
        endpoint!(auth::refresh, Access::Anyone),
        endpoint!(auth::logout, Access::Anyone),
        endpoint!(auth::password_reset, Access::Anyone),
        endpoint!(auth::password_reset_confirm, Access::Anyone),
        endpoint!(auth::verify_email, Access::Anyone),
        endpoint!(red_flags::list_red_flags, Access::Anyone),
        endpoint!(me::get_me, Access::SignedIn),
        endpoint!(me::update_me, Access::SignedIn),
        endpoint!(me::change_password, Access::SignedIn),
        endpoint!(me::delete_me, Access::SignedIn),
        endpoint!(me::resend_verification, Access::SignedIn),
        endpoint!(logins::list_logins, Access::SignedIn),
        endpoint!(logins::end_login, Access::SignedIn),
        endpoint!(logins::end_other_logins, Access::SignedIn),
    ];
    all.extend(sync::endpoints());
    all.extend(care_team::endpoints());
    all.extend(schedules::endpoints());
    all.extend(overview::endpoints());
    all.extend(trends::endpoints());
    all.extend(export::endpoints());
    all.extend(logbook::endpoints());
    all
}

/// Registers every endpoint, one actix resource per path; every GET also
/// answers HEAD. A method the path does not serve gets 405 with `Allow`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut by_path: BTreeMap<String, Vec<Endpoint>> = BTreeMap::new();
    for endpoint in endpoints() {
        by_path
            .entry(endpoint.path.clone())
            .or_default()
            .push(endpoint);
    }
    for (path, endpoints) in by_path {
        // OpenAPI writes parameters as `{id}`, and so does actix.
        let mut resource = web::resource(path);
        let mut allow: Vec<&str> = endpoints.iter().map(|e| e.method.as_str()).collect();
        for endpoint in &endpoints {
            resource = resource.route(endpoint.actix_route());
            // HEAD answers what GET would, without the body (actix drops it).
            if endpoint.method == Method::GET {
                resource = resource.route((endpoint.route)().method(Method::HEAD));
                allow.push("HEAD");
            }
        }
        let allow = allow.join(", ");
        cfg.service(resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { method_not_allowed(&allow) }
        })));
    }
}

/// The one name every unknown request method is counted and refused under.
pub fn other_method() -> Method {
    static OTHER: std::sync::OnceLock<Method> = std::sync::OnceLock::new();
    // "OTHER" is a valid method token, so `from_bytes` cannot refuse it.
    OTHER
        .get_or_init(|| Method::from_bytes(b"OTHER").unwrap_or(Method::OPTIONS))
        .clone()
}

/// 405 with the methods the resource does serve.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut response = problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "This method is not allowed on this resource.".to_owned(),
        vec![],
    );
    if let Ok(value) = header::HeaderValue::from_str(allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// Turns error responses that actix or a middleware produced without a body
/// of ours (unknown route, refused CORS origin) into problem+json.
pub fn render_problem<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "No such resource."),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "This method is not allowed on this resource.",
        ),
        s if s.is_server_error() => (ErrorCode::InternalError, "An unexpected error occurred."),
        _ => (ErrorCode::BadRequest, "The request was refused."),
    };
    let (req, _) = res.into_parts();
    let response = problem_response(status, code, detail.to_owned(), vec![]);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body::<B>(),
    ))
}
