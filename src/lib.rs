//! Painline: a lower-back-pain logbook API for patients and their massage
//! therapists.
//!
//! # Architecture
//!
//! A request flows one way, and each layer knows only the ones below it:
//!
//! ```text
//! routes/     HTTP: the route table, thin handlers, request/response types
//!   │           auth::extract decides who calls and on whose data (PatientScope)
//! service/    use cases: one transaction per write, checks, the protocol's decision
//!   │           kinds/protocol.rs: PUT/DELETE decisions as pure functions
//! db/         SQL only; answers storage errors (DbError), never HTTP
//!
//! kinds/      the logbook's kinds: body, typed columns + JSON document, view, routes
//! domain/     validated values and the rules' errors (DomainError); no I/O
//! analytics/  pure figures over stored values (scores, PEG, daily series, trends)
//! export/     pure renderings for files: CSV, FHIR resources, the SVG chart
//! dashboard/  the reference therapist dashboard, embedded and served at /dashboard/
//! error.rs    the only place that turns DbError and DomainError into HTTP answers
//! ```
//!
//! **Adding a route.** Write the handler with a `#[utoipa::path(method, path
//! = "/v1/…")]` annotation and add `endpoint!(module::handler, Access::…)`
//! to `routes::endpoints` (or to the `endpoints()` of its kind). The actix
//! app, `openapi.yaml` and the authorisation tests all read that table; the
//! tests fail for a route whose declared access is not what it enforces.
//!
//! **Adding a logbook kind.** Create `src/kinds/<kind>.rs` with its request
//! body, its JSON document type (tolerant: no `deny_unknown_fields`,
//! `#[serde(default)]` on optional fields), its view, an `impl Kind` and a
//! `logbook_routes!` call; add one line to `record_kinds!` in
//! `src/kinds/mod.rs`; and, if it has values the server filters or
//! aggregates on, a migration (both backends) adding typed, checked columns
//! to `records`, with the fields in `kinds::Columns` and `db/schema.rs`.
//! Versions, tombstones, idempotency and the sync feed come with the trait.

pub mod analytics;
pub mod auth;
pub mod benchdata;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod export;
pub mod kinds;
pub mod mail;
pub mod openapi;
pub mod routes;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
