//! Validated values of the domain and the errors its rules produce. Each
//! type's `parse` is the only way in, so a value that exists is a value that
//! obeys the rules. Nothing here does I/O or knows about HTTP.

pub mod access;
pub mod account;
pub mod care_team;
pub mod error;
pub mod ids;
pub mod logbook;
pub mod red_flag;
pub mod schedule;
pub mod version;

pub use account::{DisplayName, Email, Password, Role, Timezone};
pub use error::{DomainError, FieldError};
pub use ids::{RecordId, UserId};

/// Number of Unicode scalar values in `s` (the unit the API's text limits use).
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}
