use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::char_len;

/// What a user is: a patient logging their own data, or a therapist reading
/// the data of patients who linked them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Patient,
    Therapist,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Patient => "patient",
            Self::Therapist => "therapist",
        }
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "patient" => Ok(Self::Patient),
            "therapist" => Ok(Self::Therapist),
            _ => Err(()),
        }
    }
}

/// A trimmed, lower-cased e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    /// The length counts what was sent (before trimming and lower-casing,
    /// which can change it), so `maxLength` in `openapi.yaml` says the same.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() || char_len(raw) > Self::MAX_LEN {
            return Err("must be an e-mail address of at most 254 characters");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err("must be an e-mail address");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty()
            || !domain_ok
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("must be an e-mail address");
        }
        if email.chars().any(is_invisible) {
            return Err("must not contain invisible or direction-changing characters");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What `parse` accepts, for `openapi.yaml` (with `maxLength` 254):
    /// blanks around it, then `local@domain`, the domain dotted; no blank,
    /// control or invisible character inside, no `@` in the domain.
    pub fn pattern() -> String {
        let blank = char_class(char::is_whitespace);
        let local = char_class(|c| forbidden(c) || c.is_whitespace());
        let label = char_class(|c| forbidden(c) || c.is_whitespace() || c == '@' || c == '.');
        format!("^[{blank}]*[^{local}]+@[^{label}]+(\\.[^{label}]+)+[{blank}]*$")
    }

    /// An address as accounts are stored and looked up (trimmed and
    /// lower-cased), for signing in: without the rules of sign-up, so an
    /// account made before a rule was added can still sign in. `None` for
    /// what cannot be an address at all, or was never accepted (spaces,
    /// control characters).
    pub fn normalise_for_lookup(raw: &str) -> Option<String> {
        let email = raw.trim().to_lowercase();
        // Counted before lower-casing, like `parse` (`İ` lower-cases to two).
        let plausible = !email.is_empty()
            && char_len(raw.trim()) <= Self::MAX_LEN
            && email.contains('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        plausible.then_some(email)
    }
}

/// A regular-expression class body (for `[…]`) of every character `pred`
/// holds for, in ranges: BMP characters as `\uXXXX`, others literally, so
/// ECMA-262 (with the `u` flag), Python and Rust read it alike.
pub fn char_class(pred: impl Fn(char) -> bool) -> String {
    fn put(out: &mut String, c: char) {
        if (c as u32) < 0x1_0000 {
            out.push_str(&format!("\\u{:04X}", c as u32));
        } else {
            out.push(c);
        }
    }
    let mut out = String::new();
    let mut start: Option<(char, char)> = None;
    let chars = (0..=0x10_FFFF).filter_map(char::from_u32);
    for c in chars.filter(|&c| pred(c)).chain(std::iter::once('\0')) {
        start = match start {
            Some((first, last)) if last as u32 + 1 == c as u32 => Some((first, c)),
            Some((first, last)) => {
                put(&mut out, first);
                if last != first {
                    out.push('-');
                    put(&mut out, last);
                }
                Some((c, c))
            }
            None => Some((c, c)),
        };
    }
    out
}

/// Characters a name or an address may never hold.
fn forbidden(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// Characters that show nothing, or reorder what follows them: Unicode's
/// format characters (general category Cf: zero-width spaces and joiners,
/// the bidirectional embeddings, overrides and isolates, the byte-order
/// mark…), the line and paragraph separators, and the fillers that render
/// as blanks. In a name
/// or an address shown to someone else they only serve to deceive
/// (`moc.elpmaxe@` shown as `example.com`). The zero-width joiner and
/// non-joiner stay allowed: Persian and Indic scripts and emoji sequences
/// need them; so do variation selectors (emoji presentation, Mongolian)
/// and the tag characters of subdivision flags.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2028}'..='\u{2029}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
    )
}

/// A password that meets the length rule (12..=128 characters, never truncated).
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 12;
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: String) -> Result<Self, &'static str> {
        let len = char_len(&raw);
        if len < Self::MIN_LEN {
            Err("must be at least 12 characters")
        } else if len > Self::MAX_LEN {
            Err("must be at most 128 characters")
        } else {
            Ok(Self(raw))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// The name shown to the other side of a care team: at most 100 characters
/// as sent, not blank, no control or invisible character anywhere (not even
/// around it), stored trimmed. Own stretches' names follow the same
/// rule (therapists see them too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            Err("must not be empty")
        } else if char_len(raw) > Self::MAX_LEN {
            Err("must be at most 100 characters")
        } else if raw.chars().any(char::is_control) {
            Err("must not contain control characters")
        } else if raw.chars().any(is_invisible) {
            Err("must not contain invisible or direction-changing characters")
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    /// What `parse` accepts, for `openapi.yaml` (with `maxLength` 100): no
    /// control or invisible character, and one that is not blank.
    pub fn pattern() -> String {
        let bad = char_class(forbidden);
        let bad_or_blank = char_class(|c| forbidden(c) || c.is_whitespace());
        format!("^[^{bad}]*[^{bad_or_blank}][^{bad}]*$")
    }
}

/// An IANA time zone name such as `Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timezone(chrono_tz::Tz);

impl Timezone {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        chrono_tz::Tz::from_str(raw)
            .map(Self)
            .map_err(|_| "must be an IANA time zone name such as Europe/Berlin")
    }

    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl Default for Timezone {
    fn default() -> Self {
        Self(chrono_tz::UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ana@Example.ORG ").map(|e| e.0),
            Ok("ana@example.org".into())
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.org",
            "ana@example",
            "a na@example.org",
            "ana@.org",
            "ana@x..org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@example.org", "a".repeat(243))).is_err());
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        assert!(Password::parse("a".repeat(11)).is_err());
        assert!(Password::parse("a".repeat(12)).is_ok());
        assert!(Password::parse("a".repeat(128)).is_ok());
        assert!(Password::parse("a".repeat(129)).is_err());
        // 12 characters, 48 bytes.
        assert!(Password::parse("🔒".repeat(12)).is_ok());
        assert!(Password::parse("🔒".repeat(129)).is_err());
    }

    #[test]
    fn display_names_and_timezones() {
        assert_eq!(
            DisplayName::parse("  Ana  ").map(DisplayName::into_inner),
            Ok("Ana".into())
        );
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
        for sneaky in [
            "\u{200B}",
            "\u{202E}",
            "\u{FEFF}",
            "\u{2066}",
            "\u{2028}",
            "\u{E0001}",
        ] {
            assert!(
                DisplayName::parse(&format!("Ana{sneaky}Lee")).is_err(),
                "{sneaky:?}"
            );
            assert!(
                Email::parse(&format!("ana{sneaky}@example.org")).is_err(),
                "{sneaky:?}"
            );
        }
        // Letters of any script stay welcome, joiners and emoji included.
        assert!(DisplayName::parse("Zoë Ångström-Łukasz 李").is_ok());
        assert!(DisplayName::parse("می\u{200C}خواهم").is_ok());
        assert!(DisplayName::parse("Ana \u{2764}\u{FE0F} \u{1F468}\u{200D}\u{1F469}").is_ok());
        // England's flag: a black flag and tag characters.
        let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert!(DisplayName::parse(&format!("Ana {england}")).is_ok());
        // An account made before a rule still signs in by its stored address.
        assert_eq!(
            Email::normalise_for_lookup(" Old\u{200B}@Example.org "),
            Some("old\u{200B}@example.org".into())
        );
        assert_eq!(Email::normalise_for_lookup("no at sign"), None);
        assert_eq!(
            Timezone::parse("Europe/Berlin").map(Timezone::name),
            Ok("Europe/Berlin")
        );
        assert!(Timezone::parse("Mars/Olympus").is_err());
        assert_eq!(Timezone::default().name(), "UTC");
    }

    mod patterns {
        use super::*;
        use proptest::prelude::*;

        /// proptest generates from a pattern without its anchors; runs of
        /// a class are bounded so that most strings fit the length limit.
        fn unanchored(pattern: &str) -> String {
            pattern
                .trim_start_matches('^')
                .trim_end_matches('$')
                .replace("]*", "]{0,12}")
                .replace("]+", "]{1,12}")
                .replace(")+", "){1,4}")
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Every name the declared pattern allows (within maxLength) is accepted.
            #[test]
            fn names_the_pattern_allows_are_accepted(
                name in proptest::string::string_regex(&unanchored(&DisplayName::pattern())).unwrap()
            ) {
                prop_assume!(char_len(&name) <= DisplayName::MAX_LEN);
                prop_assert!(DisplayName::parse(&name).is_ok(), "{:?}", name);
            }

            /// Every address the declared pattern allows (within maxLength) is accepted.
            #[test]
            fn addresses_the_pattern_allows_are_accepted(
                email in proptest::string::string_regex(&unanchored(&Email::pattern())).unwrap()
            ) {
                prop_assume!(char_len(&email) <= Email::MAX_LEN);
                prop_assert!(Email::parse(&email).is_ok(), "{:?}", email);
            }
        }

        static NAME: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        static EMAIL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();

        /// Each pattern is compiled once (its classes are large).
        fn compiled(
            cell: &'static std::sync::OnceLock<regex::Regex>,
            pattern: fn() -> String,
        ) -> &'static regex::Regex {
            cell.get_or_init(|| regex::Regex::new(&pattern()).unwrap())
        }

        /// Text built from the characters the rules treat specially.
        fn tricky() -> impl Strategy<Value = String> {
            let alphabet = vec![
                'a',
                'Z',
                '0',
                '.',
                '@',
                '-',
                ' ',
                '\t',
                '\n',
                '\r',
                '\u{85}',
                '\u{A0}',
                '\u{200B}',
                '\u{200D}',
                '\u{2028}',
                '\u{202E}',
                '\u{3000}',
                '\u{FEFF}',
                '\u{130}',
                'é',
                '\u{110BD}',
                '\u{1F600}',
                '\u{E0001}',
            ];
            prop_oneof![
                any::<String>(),
                proptest::collection::vec(proptest::sample::select(alphabet), 0..24)
                    .prop_map(|chars| chars.into_iter().collect()),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// The declared name pattern (with maxLength) and `parse` agree
            /// on any text, both ways.
            #[test]
            fn the_name_pattern_is_the_rule(name in tricky()) {
                let declared = compiled(&NAME, DisplayName::pattern).is_match(&name) && char_len(&name) <= DisplayName::MAX_LEN;
                prop_assert_eq!(declared, DisplayName::parse(&name).is_ok(), "{:?}", name);
            }

            /// The declared address pattern (with maxLength) and `parse`
            /// agree on any text, both ways.
            #[test]
            fn the_address_pattern_is_the_rule(email in tricky()) {
                let declared = compiled(&EMAIL, Email::pattern).is_match(&email) && char_len(&email) <= Email::MAX_LEN;
                prop_assert_eq!(declared, Email::parse(&email).is_ok(), "{:?}", email);
            }
        }

        #[test]
        fn what_the_patterns_refuse_is_refused() {
            let name = DisplayName::pattern();
            for refused in ["", "   ", "Ana\u{202E}", "Ana\u{0007}", "\u{200B}"] {
                assert!(DisplayName::parse(refused).is_err(), "{refused:?}");
                // Each refused name holds a character the pattern excludes,
                // or no character that is not blank.
                let has_visible = refused.chars().any(|c| !c.is_whitespace() && !forbidden(c));
                let has_forbidden = refused.chars().any(forbidden);
                assert!(has_forbidden || !has_visible, "{refused:?} vs {name}");
            }
        }
    }
}
