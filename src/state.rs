//! What every handler can reach: built once in `startup`, shared by workers.

use std::net::IpAddr;

use crate::auth::{PasswordHasher, TokenService};
use crate::clock::Clock;
use crate::db::Db;
use crate::service::overview::FiguresCache;
use crate::service::trends::AnswerCache;

pub struct AppState {
    pub db: Db,
    pub tokens: TokenService,
    pub hasher: PasswordHasher,
    pub clock: Clock,
    pub trusted_proxies: Vec<IpAddr>,
    /// How long a request's head, and then its body, may take to arrive.
    pub request_timeout: std::time::Duration,
    /// Rendered trends and daily series (`service::trends`).
    pub answers: std::sync::Arc<AnswerCache>,
    /// Figures of the therapist's overview (`service::overview`).
    pub overview_figures: std::sync::Arc<FiguresCache>,
    /// Account e-mail: the sender's transport, wake-up and counters.
    pub mail: std::sync::Arc<crate::mail::Mailer>,
}
