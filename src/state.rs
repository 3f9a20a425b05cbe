//! What every handler can reach: built once in `startup`, shared by workers.

use std::net::IpAddr;

use crate::auth::{PasswordHasher, TokenService};
use crate::clock::Clock;
use crate::db::Db;

pub struct AppState {
    pub db: Db,
    pub tokens: TokenService,
    pub hasher: PasswordHasher,
    pub clock: Clock,
    pub trusted_proxies: Vec<IpAddr>,
}
