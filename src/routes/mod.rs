//! HTTP routes: thin handlers with their request and response types.

pub mod auth;
pub mod health;
pub mod input;
pub mod logbook;
pub mod me;
pub mod records;

use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::web;

use crate::error::{problem_response, PROBLEM_JSON};

/// Everything under `/v1`.
pub fn v1(cfg: &mut web::ServiceConfig) {
    cfg.service(auth::register)
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(me::get_me)
        .service(me::update_me)
        .service(me::change_password)
        .service(me::delete_me)
        .configure(logbook::configure);
}

/// Operations routes at the root.
pub fn operations(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::openapi_yaml);
}

/// Turns error responses that actix or a middleware produced without a body
/// of ours (unknown route, wrong method, refused CORS origin) into problem+json.
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
        StatusCode::NOT_FOUND => ("not_found", "No such resource."),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This method is not allowed on this resource.",
        ),
        s if s.is_server_error() => ("internal_error", "An unexpected error occurred."),
        _ => ("bad_request", "The request was refused."),
    };
    let (req, _) = res.into_parts();
    let response = problem_response(status, code, detail.to_owned(), vec![]);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body::<B>(),
    ))
}
