//! Integration tests: the real application on a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod authz_matrix;
mod benchdata;
mod care_team;
mod concurrency;
mod contract;
mod crash;
mod dashboard;
mod demo;
mod errors;
mod exports;
mod helpers;
mod logbook;
mod logbook_authz;
mod logbook_validation;
mod me;
mod operations;
mod overview;
mod route_table;
mod startup;
mod storage;
mod sync;
mod therapist_views;
mod tokens;
mod trends;
