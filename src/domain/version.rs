//! The version rule every mutable resource follows: each change adds 1 to
//! its `version`, its `ETag` is that version in quotes, and a write that
//! names versions (`If-Match`) goes ahead only on one of them. Reads that
//! name tags they hold (`If-None-Match`) are told when nothing changed.

/// The `ETag` of a version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The `If-Match` precondition of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header: the last write wins.
    Absent,
    /// `*`: any current representation.
    Any,
    /// One or more versions (`"3"`, `W/"3"`).
    Versions(Vec<i64>),
}

impl IfMatch {
    /// Whether a current (non-deleted) version `current` satisfies it;
    /// `None` when there is no current representation.
    pub fn allows(&self, current: Option<i64>) -> bool {
        match (self, current) {
            (Self::Absent, _) => true,
            (Self::Any, current) => current.is_some(),
            (Self::Versions(list), Some(v)) => list.contains(&v),
            (Self::Versions(_), None) => false,
        }
    }

    /// Whether it names `version` itself (a tombstone's version may be
    /// named to restore it).
    pub fn names(&self, version: i64) -> bool {
        matches!(self, Self::Versions(list) if list.contains(&version))
    }
}

/// The tags a client holds (`If-None-Match`), compared weakly: `W/"x"`
/// names what `"x"` names, and `*` names any current answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfNoneMatch(Vec<String>);

impl IfNoneMatch {
    /// From a comma-separated list of tags; the empty list names nothing.
    pub fn parse(list: &str) -> Self {
        Self(
            list.split(',')
                .map(|tag| {
                    let tag = tag.trim();
                    tag.strip_prefix("W/").unwrap_or(tag).to_owned()
                })
                .filter(|tag| !tag.is_empty())
                .collect(),
        )
    }

    /// `*`: the client asks for the request to apply only when there is
    /// no current representation (a create that must not replace one).
    pub fn any(&self) -> bool {
        self.0.iter().any(|tag| tag == "*")
    }

    /// Whether the client's copy is the one tagged `etag`.
    pub fn names(&self, etag: &str) -> bool {
        self.0.iter().any(|tag| tag == "*" || tag == etag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_star_names_anything() {
        let held = IfNoneMatch::parse(r#"W/"abc", "def""#);
        assert!(held.names(r#""abc""#));
        assert!(held.names(r#""def""#));
        assert!(!held.names(r#""xyz""#));
        assert!(IfNoneMatch::parse("*").names(r#""xyz""#));
        assert!(!IfNoneMatch::default().names(r#""abc""#));
        assert!(!IfNoneMatch::parse(" , ").names(""));
    }

    #[test]
    fn versions_are_quoted() {
        assert_eq!(etag(7), "\"7\"");
    }
}
