//! Authentication: password hashing, tokens, and the request extractor.

pub mod extract;
pub mod password;
pub mod throttle;
pub mod tokens;

pub use extract::AuthUser;
pub use password::PasswordHasher;
pub use tokens::TokenService;
