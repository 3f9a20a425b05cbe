//! Authentication: password hashing, tokens, and the request extractors.

pub mod extract;
pub mod password;
pub mod throttle;
pub mod tokens;

pub use extract::{AuthUser, PatientScope, ScopeAccess, Scoped, Therapist};
pub use password::PasswordHasher;
pub use tokens::TokenService;
