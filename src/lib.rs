//! Painline: a lower-back-pain logbook API for patients and their massage therapists.

pub mod analytics;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
