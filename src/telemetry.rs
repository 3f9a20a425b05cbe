//! JSON log lines with a request id per request (tracing-actix-web's root
//! span). Request and response bodies are never logged, so passwords, tokens
//! and notes cannot reach the log.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{web, Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

use crate::error::AppError;
use crate::state::AppState;

/// Installs the global subscriber; call once, from `main`.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        // One line per request when its span closes, with the time it took.
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .init();
    // Libraries that log through `log` (actix-web, r2d2): their warnings
    // and errors only; their info and debug lines are noise here.
    if log::set_boxed_logger(Box::new(LogBridge)).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

/// Hands `log` records to tracing as events of target `log`, with the
/// message and the library's target as `origin`: never the source file,
/// which would put the build machine's paths into every such line.
struct LogBridge;

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        let origin = record.target();
        let message = record.args();
        match record.level() {
            log::Level::Error => tracing::error!(target: "log", origin, "{message}"),
            log::Level::Warn => tracing::warn!(target: "log", origin, "{message}"),
            log::Level::Info => tracing::info!(target: "log", origin, "{message}"),
            log::Level::Debug => tracing::debug!(target: "log", origin, "{message}"),
            log::Level::Trace => tracing::trace!(target: "log", origin, "{message}"),
        }
    }

    fn flush(&self) {}
}

/// The methods of RFC 9110 and PATCH; any other method is `OTHER` in the
/// log and in `/metrics`, so a client cannot grow either with method names.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// The per-request span. Unlike tracing-actix-web's default, the client
/// address is the one login throttling uses: `X-Forwarded-For` counts only
/// from a trusted proxy, so a client cannot write any address it likes into
/// the log. Bodies, headers, query strings and concrete paths are never
/// recorded: the route template (`/v1/me/conditions/{condition}`) is.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let trusted = request
            .app_data::<web::Data<AppState>>()
            .map(|state| state.trusted_proxies.clone())
            .unwrap_or_default();
        let client_ip = crate::routes::input::client_ip(request.request(), &trusted);
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "UNKNOWN".to_owned());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        // The route template only: a path may name health data
        // (`/v1/me/conditions/pregnancy`) and a query may carry a token.
        tracing::info_span!(
            "HTTP request",
            http.method = %method_label(request.method()),
            http.route = %route,
            http.client_ip = %client_ip,
            request_id = %request_id,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    /// A client error (4xx) is said on the request's own line, at INFO
    /// (`exception.message` holds its class and code). A server error (5xx)
    /// is one ERROR event with its cause chain: [`AppError`] logs its own
    /// where it is answered (inside this span); any other is logged here.
    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let failed = match outcome {
            Ok(response) => response
                .response()
                .error()
                .filter(|_| response.status().is_server_error()),
            Err(error) => Some(error),
        };
        if let Some(error) = failed {
            if error.as_error::<AppError>().is_none() {
                span.in_scope(
                    || tracing::error!(error = %crate::error::chain(error), "request failed"),
                );
            }
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
