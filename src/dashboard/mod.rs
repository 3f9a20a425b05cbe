//! The reference therapist dashboard: plain HTML, CSS and JavaScript
//! modules in `assets/`, embedded in the binary at compile time and served
//! at `/dashboard/` (unless `PAINLINE_DASHBOARD=off`), and the two pages
//! behind the links of account e-mails, `/reset-password` and
//! `/verify-email`. It is a client of the
//! public API like any other, so it is not in the API's route table.
//!
//! Every answer here carries a strict Content-Security-Policy (scripts,
//! styles and requests from this origin only, images also from `blob:` for
//! the chart, no framing), `X-Content-Type-Options: nosniff` and no
//! referrer. The files are few and small, so they are embedded with
//! `include_bytes!` rather than a crate; each gets a strong `ETag` from its
//! content, and `Cache-Control: no-cache` makes browsers revalidate it, so a
//! new binary is picked up at once.

use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::error::{problem_response, ErrorCode};

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' blob:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("assets/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("views.js", "text/javascript; charset=utf-8"),
    asset!("meaning.js", "text/javascript; charset=utf-8"),
    asset!("programme.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("account.html", "text/html; charset=utf-8"),
    asset!("account.js", "text/javascript; charset=utf-8"),
];

fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.body);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

fn secure(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn file(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    serve(&req, name.as_str())
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html")
}

/// The page behind the links mails carry (`/reset-password`,
/// `/verify-email`, `/unsubscribe`, at `PAINLINE_PUBLIC_URL`); its script
/// reads the path.
async fn account_page(req: HttpRequest) -> HttpResponse {
    serve(&req, "account.html")
}

fn serve(req: &HttpRequest, name: &str) -> HttpResponse {
    let Some((asset, etag)) = ASSETS.iter().zip(etags()).find(|(a, _)| a.name == name) else {
        return secure(problem_response(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "No such file in the dashboard.".to_owned(),
            vec![],
        ));
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type(asset.content_type)
            .body(asset.body)
    };
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    secure(response)
}

async fn to_slash() -> HttpResponse {
    secure(
        HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, "/dashboard/"))
            .finish(),
    )
}

fn refuse(status: StatusCode, code: ErrorCode, detail: &str) -> HttpResponse {
    secure(problem_response(status, code, detail.to_owned(), vec![]))
}

/// Serves the dashboard under `/dashboard/`. Every other method or path
/// under it is refused here too, so those answers carry the same headers.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let not_allowed = || {
        web::to(|| async {
            let mut response = refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "The dashboard's files are only read (GET).",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        })
    };
    for page in ["/reset-password", "/verify-email", "/unsubscribe"] {
        cfg.service(
            web::resource(page)
                .route(web::get().to(account_page))
                .route(web::head().to(account_page))
                .default_service(not_allowed()),
        );
    }
    cfg.service(
        web::resource("/dashboard")
            .route(web::get().to(to_slash))
            .route(web::head().to(to_slash))
            .default_service(not_allowed()),
    )
    // Plain segments, no regular expressions: the route template is a
    // label in /metrics, and its exporter cannot rebuild one that holds a
    // pattern (it warned on every request). A name that is not an asset is
    // a 404 from `serve`.
    .service(
        web::resource("/dashboard/")
            .route(web::get().to(index))
            .route(web::head().to(index))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/dashboard/{name}")
            .route(web::get().to(file))
            .route(web::head().to(file))
            .default_service(not_allowed()),
    )
    .service(web::resource("/dashboard/{rest}*").to(|| async {
        refuse(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "No such file in the dashboard.",
        )
    }));
}
