//! Builds the application from settings: database, state, middleware, routes.

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::dev::Service;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{header, Method};
use actix_web::middleware::ErrorHandlers;
use actix_web::HttpMessage;
use actix_web::{web, App, HttpServer};
use actix_web_prom::PrometheusMetricsBuilder;
use futures_util::future::{ready, Either};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::telemetry::RequestSpan;

/// Response header carrying the id the request was logged under.
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

use crate::auth::throttle::Window;
use crate::auth::{PasswordHasher, TokenService};
use crate::clock::Clock;
use crate::config::{public_url_is_local, ConfigError, MailTransportSetting, Settings};
use crate::db::Db;
use crate::jobs::{self, Jobs};
use crate::mail::transport::Mailer;
use crate::routes::{self, input};
use crate::service::export::ExportSlots;
use crate::service::logbook::ZoneHints;
use crate::service::overview::FiguresCache;
use crate::service::trends::AnswerCache;
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on its own listener, and its port.
    metrics: Option<(Server, u16)>,
    state: web::Data<AppState>,
    /// How often the scheduler of reminders and digests looks (none: off).
    schedule_poll: Option<std::time::Duration>,
}

enum MetricsError {
    Bind(String),
    Setup(String),
}

/// A listener that serves `/metrics` (the registry of the API's listener)
/// and nothing else.
fn metrics_server(
    bind: &str,
    registry: prometheus::Registry,
) -> Result<(Server, u16), MetricsError> {
    let listener = TcpListener::bind(bind)
        .map_err(|e| MetricsError::Bind(format!("cannot listen on {bind}: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| MetricsError::Bind(e.to_string()))?
        .port();
    // Its own namespace: the registry holds the API's request counters already.
    let metrics = PrometheusMetricsBuilder::new("painline_metrics_listener")
        .endpoint("/metrics")
        .registry(registry)
        .mask_unmatched_patterns("UNKNOWN")
        .build()
        .map_err(|e| MetricsError::Setup(e.to_string()))?;
    let server = HttpServer::new(move || {
        App::new().wrap(metrics.clone()).wrap_fn(|req, srv| {
            // Only GET /metrics is served here; any other method gets 405
            // before it could become a label of its own.
            if req.method() == Method::GET {
                let call = srv.call(req);
                Either::Left(async move { Ok(call.await?.map_into_left_body()) })
            } else {
                let res = req.into_response(routes::method_not_allowed("GET"));
                Either::Right(ready(Ok(res.map_into_right_body())))
            }
        })
    })
    .workers(1)
    .listen(listener)
    .map_err(|e| MetricsError::Bind(e.to_string()))?
    .run();
    Ok((server, port))
}

/// Memory for trends and daily series (figures and their JSON).
const ANSWER_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Patients whose overview figures are kept (a few hundred bytes each).
const OVERVIEW_CACHE_PATIENTS: usize = 50_000;
/// Patients whose time zone is kept as a hint for their writes (a few MiB).
const ZONE_HINTS: usize = 100_000;

/// Connects to the database and applies the embedded migrations.
pub fn connect_and_migrate(settings: &Settings) -> Result<Db, ConfigError> {
    let db = Db::connect(&settings.database, settings.db_pool_size)
        .map_err(|e| ConfigError::new("DATABASE_URL", e.to_string()))?;
    db.migrate()
        .map_err(|e| ConfigError::new("DATABASE_URL", e.to_string()))?;
    Ok(db)
}

/// What every handler reaches, from settings: the migrated database, the
/// token service, the password hasher and the clock. Also what `seed-demo`
/// runs the services on, without serving.
pub fn build_state(settings: &Settings, clock: Clock) -> Result<AppState, ConfigError> {
    let db = connect_and_migrate(settings)?;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    // Not a setting: argon2 fails here only if the system's random
    // source does (it salts the dummy hash used for unknown e-mails).
    let hasher = PasswordHasher::new(cores)
        .map_err(|e| ConfigError::startup(format!("cannot initialise password hashing: {e}")))?;
    let sender = Mailer::new(&settings.mail)?;
    Ok(AppState {
        db,
        tokens: TokenService::new(
            &settings.jwt_secret,
            settings.access_ttl,
            settings.refresh_ttl,
        )
        .with_refresh_grace(settings.refresh_grace),
        hasher,
        clock,
        trusted_proxies: settings.trusted_proxies.clone(),
        therapist_signup: settings.therapist_signup,
        sign_ups: Window {
            limit: settings.signups_per_hour as usize,
            length: chrono::Duration::hours(1),
        },
        request_timeout: settings.request_timeout,
        exports: ExportSlots::new(settings.max_exports),
        answers: AnswerCache::new(ANSWER_CACHE_BYTES),
        overview_figures: FiguresCache::new(OVERVIEW_CACHE_PATIENTS),
        zones: ZoneHints::new(ZONE_HINTS),
        mail: sender.context().clone(),
        sender: std::sync::Arc::new(sender),
        schedule_outcomes: jobs::scheduler::outcomes_counter()
            .map_err(|e| ConfigError::startup(format!("cannot set up metrics: {e}")))?,
    })
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::LINK,
            REQUEST_ID.clone(),
        ])
        .max_age(86_400);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

impl Application {
    /// Binds the listener and builds the server; it starts serving when awaited.
    pub fn build(settings: Settings, clock: Clock) -> Result<Self, ConfigError> {
        if matches!(settings.mail.transport, MailTransportSetting::Smtp(_))
            && public_url_is_local(&settings.mail.public_url)
        {
            tracing::warn!(
                public_url = %settings.mail.public_url,
                "PAINLINE_PUBLIC_URL is a loopback or unspecified address while PAINLINE_SMTP_URL \
                 sends mail to people: the links in those mails will not open on their devices; \
                 set PAINLINE_PUBLIC_URL to the address people reach the service at"
            );
        }
        let state = web::Data::new(build_state(&settings, clock)?);
        let listener = TcpListener::bind(&settings.bind).map_err(|e| {
            ConfigError::new(
                "PAINLINE_BIND",
                format!("cannot listen on {}: {e}", settings.bind),
            )
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| ConfigError::new("PAINLINE_BIND", e.to_string()))?
            .port();
        let registry = prometheus::Registry::new();
        let db_counters = state.db.counters().into_iter().map(|c| {
            let boxed: Box<dyn prometheus::core::Collector> = Box::new(c);
            boxed
        });
        let scheduler: Box<dyn prometheus::core::Collector> =
            Box::new(state.schedule_outcomes.clone());
        let job_counters = state.sender.counters().into_iter().chain([scheduler]);
        for counter in db_counters.chain(job_counters) {
            registry
                .register(counter)
                .map_err(|e| ConfigError::startup(format!("cannot set up metrics: {e}")))?;
        }
        let metrics_error = |e| ConfigError::startup(format!("cannot set up metrics: {e}"));
        let mut builder = PrometheusMetricsBuilder::new("painline")
            .registry(registry.clone())
            .mask_unmatched_patterns("UNKNOWN");
        // `/metrics` is served by the API's listener, or only by its own.
        let metrics_server = match &settings.metrics_bind {
            None => {
                builder = builder.endpoint("/metrics");
                None
            }
            Some(bind) => Some(metrics_server(bind, registry).map_err(|e| match e {
                MetricsError::Bind(message) => ConfigError::new("PAINLINE_METRICS_BIND", message),
                MetricsError::Setup(message) => metrics_error(message),
            })?),
        };
        let metrics = builder.build().map_err(|e| metrics_error(e.to_string()))?;
        let origins = settings.cors_origins.clone();
        let dashboard = settings.dashboard;
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(ErrorHandlers::new().default_handler(routes::render_problem))
                .wrap(cors(&origins))
                .wrap(metrics.clone())
                .wrap_fn(|mut req, srv| {
                    // Bounded labels in /metrics: any method outside RFC 9110
                    // (and PATCH) is counted as `OTHER`; no route serves it,
                    // so a known path answers 405 with `Allow`, any other 404.
                    if crate::telemetry::method_label(req.method()) == "OTHER" {
                        req.head_mut().method = routes::other_method();
                    }
                    let api = req.path().starts_with("/v1/");
                    let call = srv.call(req);
                    async move {
                        let mut res = call.await?;
                        let headers = res.headers_mut();
                        headers.insert(
                            header::X_CONTENT_TYPE_OPTIONS,
                            HeaderValue::from_static("nosniff"),
                        );
                        // Every answer, a 404 of a mistyped dashboard path
                        // too: never framed, never leaking its address.
                        for (name, value) in [
                            (header::X_FRAME_OPTIONS, "DENY"),
                            (header::REFERRER_POLICY, "no-referrer"),
                        ] {
                            if !headers.contains_key(&name) {
                                headers.insert(name, HeaderValue::from_static(value));
                            }
                        }
                        // Tokens and health data must not stay in a shared or
                        // browser cache; a client revalidates with ETags itself.
                        if api && !headers.contains_key(header::CACHE_CONTROL) {
                            headers.insert(
                                header::CACHE_CONTROL,
                                HeaderValue::from_static("no-store"),
                            );
                        }
                        Ok(res)
                    }
                })
                .wrap_fn(|req, srv| {
                    // Tell the client the id its request is logged under.
                    let id = req.extensions().get::<RequestId>().map(ToString::to_string);
                    let call = srv.call(req);
                    async move {
                        let mut res = call.await?;
                        if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                            res.headers_mut().insert(REQUEST_ID.clone(), value);
                        }
                        Ok(res)
                    }
                })
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(input::MAX_BODY_BYTES))
                .app_data(web::QueryConfig::default().error_handler(input::query_error))
                .app_data(web::PathConfig::default().error_handler(input::path_error))
                .configure(routes::configure)
                .configure(|cfg| {
                    if dashboard {
                        crate::dashboard::configure(cfg);
                    }
                })
        })
        .shutdown_timeout(20)
        // The head of a request must arrive within the same bound as its body.
        .client_request_timeout(settings.request_timeout)
        .listen(listener)
        .map_err(|e| ConfigError::new("PAINLINE_BIND", e.to_string()))?;
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            metrics: metrics_server,
            state: app_state,
            schedule_poll: settings.mail.schedule_poll,
        })
    }

    /// The port `/metrics` is served on when `PAINLINE_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// Stops the server from outside (tests).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let jobs = Jobs::start(&self.state, self.schedule_poll);
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let result = self.server.await;
        jobs.stop();
        if let Some(metrics) = metrics {
            metrics.stop(true).await;
        }
        result
    }
}
