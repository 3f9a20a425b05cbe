//! Use cases: what a request does, between the routes (HTTP) and storage
//! (SQL). Services take checked values and the caller's scope, run storage
//! functions on the blocking pool, and answer domain values or errors.

pub mod account;
pub mod account_email;
pub mod care_team;
pub mod export;
pub mod logbook;
pub mod overview;
pub mod schedules;
pub mod trends;
