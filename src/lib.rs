//! Painline: a lower-back-pain logbook API for patients and their massage
//! therapists.
//!
//! # Layers
//!
//! A request flows one way, and each layer imports only the layers below
//! it. `tests/api/layers.rs` fails for a file that imports against this
//! table (`docs/architecture.md` explains each layer):
//!
//! | layer | modules | may import |
//! |---|---|---|
//! | entry points | `main`, `startup`, `jobs/`, `demo`, `benchdata` | everything below |
//! | HTTP | `routes/` (with `routes::scope`, who calls and on whose data, and `routes::http`, the protocol's headers, pages and cursors), `dashboard/`, `openapi`, `telemetry`, `state`, `error` | service, auth, kinds, analytics, export, mail, domain, clock, config; `error` alone also maps `db::DbError`, and `state` holds the pool handle (`db::Db`) |
//! | use cases | `service/` | db, kinds, analytics, export, mail, auth, domain, clock, config: never routes, `state`, `error` or actix |
//! | authentication | `auth/` (password hashing, tokens, the login throttle's windows) | domain, clock, config |
//! | pure logic | `export/` > `kinds/` > `analytics/`; `mail/` (composing mail, the transport) | what is below them; `kinds` also `db` (the stored record) |
//! | storage | `db/` (all SQL) | domain, clock, config |
//! | domain | `domain/` (validated values, the version rule, the errors of the rules) | clock, config |
//! | base | `clock`, `config` | nothing of the crate |
//!
//! `error.rs` is the only place that turns `DomainError`, `DbError` and the
//! services' `ServiceError` into HTTP answers.
//!
//! **Adding a route.** Write the handler with a `#[utoipa::path(method, path
//! = "/v1/…")]` annotation and add `endpoint!(module::handler, Access::…)`
//! to `routes::endpoints` (or to the `endpoints()` of its module). The actix
//! app, `openapi.yaml` and the authorisation tests all read that table; the
//! tests fail for a route whose declared access is not what it enforces.
//!
//! **Adding a logbook kind.** Create `src/kinds/<kind>.rs` with its request
//! body, its JSON document type (tolerant: no `deny_unknown_fields`,
//! `#[serde(default)]` on optional fields), its view and an `impl Kind`;
//! create `src/routes/logbook/<kind>.rs` with its `logbook_routes!` call;
//! add one line to `logbook_kinds!` in `src/domain/logbook.rs` (the
//! compiler then points at nothing else); and, if it has values the server
//! filters or aggregates on, a migration (both backends) adding typed,
//! checked columns to `records`, with the fields in `db::records::Columns`
//! and `db/schema.rs`. Versions, tombstones, idempotency and the sync feed
//! come with the trait.

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
pub mod jobs;
pub mod kinds;
pub mod mail;
pub mod openapi;
pub mod routes;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
