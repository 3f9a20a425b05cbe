//! Authentication: password hashing, tokens and the login throttle's
//! windows. Deciding who a request's caller is happens in `routes::scope`.

pub mod password;
pub mod throttle;
pub mod tokens;

pub use password::PasswordHasher;
pub use tokens::TokenService;
