//! The offline-first write protocol as pure decisions: given what is stored
//! (if anything), who writes, and the request's `If-Match`, what a `PUT` or a
//! `DELETE` does. No I/O, so every case is a row of a table below.

use super::RecordKind;
use crate::domain::version::IfMatch;
use crate::domain::{DomainError, UserId};

/// What is stored under the id (or name) a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    pub patient: UserId,
    pub kind: RecordKind,
    pub author: UserId,
    pub version: i64,
    pub deleted: bool,
}

/// Who writes what: the patient whose logbook it is, the kind addressed by
/// the route, and the author (the patient, or later a linked therapist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    pub patient: UserId,
    pub kind: RecordKind,
    pub author: UserId,
    /// The object is the care team's: whoever may write it may replace or
    /// delete it, whoever wrote it last.
    pub shared: bool,
}

/// What a `PUT` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutDecision {
    /// Nothing was stored: insert (201).
    Create,
    /// A tombstone is brought back (201).
    Restore,
    /// The object changes (200, version + 1).
    Replace,
    /// The state asked for is already there: a retry whose answer was lost
    /// (200, version unchanged, nothing added to the sync feed).
    Replay,
}

/// What a `DELETE` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteDecision {
    /// Leave a tombstone (version + 1, one sync-feed item).
    Tombstone,
    /// Already a tombstone: 204 again, nothing changes.
    AlreadyDeleted,
}

/// Another patient's object, or another kind's, is absent to this writer.
fn owned(current: &Current, writer: &Writer) -> Result<(), DomainError> {
    if current.patient != writer.patient || current.kind != writer.kind {
        return Err(DomainError::NotFound);
    }
    if !writer.shared && current.author != writer.author {
        return Err(DomainError::NotAuthor);
    }
    Ok(())
}

/// `same_content`: the stored object already holds exactly what is sent.
pub fn decide_put(
    current: Option<&Current>,
    writer: &Writer,
    same_content: bool,
    if_match: &IfMatch,
) -> Result<PutDecision, DomainError> {
    let Some(current) = current else {
        return if if_match.allows(None) {
            Ok(PutDecision::Create)
        } else {
            Err(DomainError::PreconditionFailed { current: None })
        };
    };
    owned(current, writer)?;
    // RFC 9110 §13.1.1 lets a request whose state change has already
    // happened answer 2xx even when If-Match no longer matches: a phone
    // retrying a lost answer must not see a conflict it did not cause.
    if !current.deleted && same_content {
        return Ok(PutDecision::Replay);
    }
    let live = (!current.deleted).then_some(current.version);
    // A tombstone's version may be named explicitly to restore it.
    let restoring_named = current.deleted && if_match.names(current.version);
    if !if_match.allows(live) && !restoring_named {
        return Err(DomainError::PreconditionFailed { current: live });
    }
    Ok(if current.deleted {
        PutDecision::Restore
    } else {
        PutDecision::Replace
    })
}

pub fn decide_delete(
    current: Option<&Current>,
    writer: &Writer,
    if_match: &IfMatch,
) -> Result<DeleteDecision, DomainError> {
    let current = current.ok_or(DomainError::NotFound)?;
    owned(current, writer)?;
    if current.deleted {
        return Ok(DeleteDecision::AlreadyDeleted);
    }
    if !if_match.allows(Some(current.version)) {
        return Err(DomainError::PreconditionFailed {
            current: Some(current.version),
        });
    }
    Ok(DeleteDecision::Tombstone)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    const PATIENT: UserId = UserId(Uuid::from_u128(1));
    const OTHER_PATIENT: UserId = UserId(Uuid::from_u128(2));
    const THERAPIST: UserId = UserId(Uuid::from_u128(3));

    const WRITER: Writer = Writer {
        patient: PATIENT,
        kind: RecordKind::PainEntry,
        author: PATIENT,
        shared: false,
    };

    /// Version 3 of the writer's own pain entry, live or deleted.
    fn stored(deleted: bool) -> Current {
        Current {
            patient: PATIENT,
            kind: RecordKind::PainEntry,
            author: PATIENT,
            version: 3,
            deleted,
        }
    }

    /// (case, what is stored, same content, If-Match, expected)
    type PutCase = (
        &'static str,
        Option<Current>,
        bool,
        IfMatch,
        Result<PutDecision, DomainError>,
    );
    /// (case, what is stored, If-Match, expected)
    type DeleteCase = (
        &'static str,
        Option<Current>,
        IfMatch,
        Result<DeleteDecision, DomainError>,
    );

    fn versions(v: &[i64]) -> IfMatch {
        IfMatch::Versions(v.to_vec())
    }

    #[test]
    fn put_decisions() {
        use DomainError::{NotAuthor, NotFound};
        use PutDecision::{Create, Replace, Replay, Restore};
        let absent = DomainError::PreconditionFailed { current: None };
        let stale = DomainError::PreconditionFailed { current: Some(3) };
        let live = Some(stored(false));
        let tombstone = Some(stored(true));
        let someone_elses = Some(Current {
            patient: OTHER_PATIENT,
            author: OTHER_PATIENT,
            ..stored(false)
        });
        let other_kind = Some(Current {
            kind: RecordKind::MassageSession,
            ..stored(false)
        });
        let therapists = Some(Current {
            author: THERAPIST,
            ..stored(false)
        });
        #[rustfmt::skip]
        let table: Vec<PutCase> = vec![
            ("new id",                          None,          false, IfMatch::Absent, Ok(Create)),
            ("new id, If-Match *",              None,          false, IfMatch::Any,    Err(absent.clone())),
            ("new id, If-Match \"1\"",          None,          false, versions(&[1]),  Err(absent.clone())),
            ("replace",                         live,  false, IfMatch::Absent, Ok(Replace)),
            ("replace, If-Match *",             live,  false, IfMatch::Any,    Ok(Replace)),
            ("replace, If-Match current",       live,  false, versions(&[2, 3]), Ok(Replace)),
            ("replace, If-Match stale",         live,  false, versions(&[2]),  Err(stale)),
            ("replay",                          live,  true,  IfMatch::Absent, Ok(Replay)),
            ("replay with a stale If-Match",    live,  true,  versions(&[2]),  Ok(Replay)),
            ("restore",                         tombstone, false, IfMatch::Absent, Ok(Restore)),
            ("restore, same content",           tombstone, true,  IfMatch::Absent, Ok(Restore)),
            ("restore naming the tombstone",    tombstone, false, versions(&[3]),  Ok(Restore)),
            ("restore, If-Match *",             tombstone, false, IfMatch::Any,    Err(absent.clone())),
            ("restore, If-Match stale",         tombstone, false, versions(&[2]),  Err(absent)),
            ("another patient's id",            someone_elses, true, IfMatch::Absent, Err(NotFound)),
            ("another patient's id, If-Match",  someone_elses, false, versions(&[3]), Err(NotFound)),
            ("another kind's id",               other_kind, false, IfMatch::Absent, Err(NotFound)),
            ("recorded by a therapist",         therapists, false, IfMatch::Absent, Err(NotAuthor)),
            ("recorded by a therapist, replay", therapists, true,  IfMatch::Absent, Err(NotAuthor)),
        ];
        for (case, current, same, if_match, expected) in table {
            assert_eq!(
                decide_put(current.as_ref(), &WRITER, same, &if_match),
                expected,
                "{case}"
            );
        }
    }

    /// The care team's programme: a therapist who did not write it may
    /// replace or end it; another patient's is still absent.
    #[test]
    fn a_shared_object_is_written_by_whoever_may_write_it() {
        let programme = |author| Current {
            kind: RecordKind::Programme,
            author,
            ..stored(false)
        };
        let colleague = Writer {
            patient: PATIENT,
            kind: RecordKind::Programme,
            author: UserId(Uuid::from_u128(4)),
            shared: true,
        };
        let by_therapist = programme(THERAPIST);
        assert_eq!(
            decide_put(Some(&by_therapist), &colleague, false, &IfMatch::Absent),
            Ok(PutDecision::Replace)
        );
        assert_eq!(
            decide_delete(Some(&by_therapist), &colleague, &versions(&[3])),
            Ok(DeleteDecision::Tombstone)
        );
        assert_eq!(
            decide_put(Some(&by_therapist), &colleague, false, &versions(&[2])),
            Err(DomainError::PreconditionFailed { current: Some(3) })
        );
        let elsewhere = Current {
            patient: OTHER_PATIENT,
            ..by_therapist
        };
        assert_eq!(
            decide_put(Some(&elsewhere), &colleague, false, &IfMatch::Absent),
            Err(DomainError::NotFound)
        );
        let unshared = Writer {
            shared: false,
            ..colleague
        };
        assert_eq!(
            decide_put(Some(&by_therapist), &unshared, false, &IfMatch::Absent),
            Err(DomainError::NotAuthor)
        );
    }

    #[test]
    fn delete_decisions() {
        use DeleteDecision::{AlreadyDeleted, Tombstone};
        use DomainError::{NotAuthor, NotFound};
        let stale = DomainError::PreconditionFailed { current: Some(3) };
        let someone_elses = Current {
            patient: OTHER_PATIENT,
            author: OTHER_PATIENT,
            ..stored(false)
        };
        let therapists = Current {
            author: THERAPIST,
            ..stored(false)
        };
        #[rustfmt::skip]
        let table: Vec<DeleteCase> = vec![
            ("never existed",                None,                IfMatch::Absent, Err(NotFound)),
            ("delete",                       Some(stored(false)), IfMatch::Absent, Ok(Tombstone)),
            ("delete, If-Match current",     Some(stored(false)), versions(&[3]),  Ok(Tombstone)),
            ("delete, If-Match *",           Some(stored(false)), IfMatch::Any,    Ok(Tombstone)),
            ("delete, If-Match stale",       Some(stored(false)), versions(&[1]),  Err(stale)),
            ("already deleted",              Some(stored(true)),  IfMatch::Absent, Ok(AlreadyDeleted)),
            ("already deleted, stale",       Some(stored(true)),  versions(&[1]),  Ok(AlreadyDeleted)),
            ("another patient's",            Some(someone_elses), versions(&[3]),  Err(NotFound)),
            ("recorded by a therapist",      Some(therapists),    IfMatch::Absent, Err(NotAuthor)),
        ];
        for (case, current, if_match, expected) in table {
            assert_eq!(
                decide_delete(current.as_ref(), &WRITER, &if_match),
                expected,
                "{case}"
            );
        }
    }
}
