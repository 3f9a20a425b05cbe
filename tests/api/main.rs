//! Integration tests: the real application on a real database.
#![allow(clippy::unwrap_used)]

mod auth;
mod contract;
mod errors;
mod helpers;
mod me;
mod operations;
mod startup;
mod tokens;
