//! Invitation codes: what a therapist reads out or a patient types on a
//! phone. Ten characters from an alphabet without look-alikes (no 0/O,
//! 1/I/L, U/V), shown as two groups of five: 29^10 ≈ 2^48.6 codes.

use rand::Rng;
use sha2::{Digest, Sha256};

/// Letters and digits that cannot be mistaken for one another, read or heard.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTWXYZ23456789";
const LENGTH: usize = 10;

/// What `parse` accepts, as a regular expression for `openapi.yaml`.
pub fn pattern() -> String {
    let letters = std::str::from_utf8(ALPHABET).unwrap_or_default();
    let lower = letters.to_ascii_lowercase();
    let lower: String = lower.chars().filter(char::is_ascii_lowercase).collect();
    format!("^[ -]*([{letters}{lower}][ -]*){{{LENGTH}}}$")
}

/// A well-formed invitation code, normalised (upper case, no separators).
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationCode(String);

impl InvitationCode {
    /// A fresh random code from the operating system's generator.
    pub fn generate() -> Self {
        let mut rng = rand::rngs::OsRng;
        Self(
            (0..LENGTH)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect(),
        )
    }

    /// Accepts what a person types: any case, spaces and hyphens anywhere
    /// (`PATTERN` says the same for `openapi.yaml`).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let code: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if code.chars().count() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b)) {
            Ok(Self(code))
        } else {
            Err("must be the 10 letters and digits of an invitation code, such as KX4RM-9TQ2W")
        }
    }

    /// As shown to people: `KX4RM-9TQ2W`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..LENGTH / 2], &self.0[LENGTH / 2..])
    }

    /// What is stored: the SHA-256 of the normalised code, in hex.
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Codes are secrets: never printed by `Debug`.
impl std::fmt::Debug for InvitationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvitationCode(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_has_no_look_alikes_and_codes_carry_40_bits() {
        for c in b"01OILUV" {
            assert!(!ALPHABET.contains(c), "{}", char::from(*c));
        }
        let bits = (LENGTH as f64) * (ALPHABET.len() as f64).log2();
        assert!(bits >= 40.0, "{bits}");
    }

    #[test]
    fn codes_round_trip_through_what_people_type() {
        let code = InvitationCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 11);
        assert_eq!(InvitationCode::parse(&shown).ok(), Some(code.clone()));
        let typed = format!(" {} ", shown.to_lowercase().replace('-', " "));
        assert_eq!(
            InvitationCode::parse(&typed).map(|c| c.hash()),
            Ok(code.hash())
        );
        assert_ne!(InvitationCode::generate().hash(), code.hash());
        for bad in [
            "",
            "KX4RM-9TQ2",
            "KX4RM-9TQ2WW",
            "KX4RM-9TQ20",
            "KX4RM-9TQ2O",
            "KX4RM_9TQ2W",
        ] {
            assert!(InvitationCode::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format!("{code:?}"), "InvitationCode(…)");
    }
}
