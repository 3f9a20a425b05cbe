//! Validated values of the domain. Each type's `parse` is the only way in,
//! so a value that exists is a value that obeys the rules.

pub mod account;
pub mod logbook;

pub use account::{DisplayName, Email, Password, Role, Timezone};

/// Number of Unicode scalar values in `s` (the unit DESIGN.md's text limits use).
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}
