//! Who acts, and on whose data: the caller as their access token names
//! them, and the scope of a request on a patient's logbook. `routes::scope`
//! decides both for a request; services take them as checked values.

use super::{DomainError, Role, UserId};

/// The caller, as their access token names them.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
    /// The login the access token was issued to (`sid`), when it names one.
    pub login: Option<uuid::Uuid>,
}

/// How the actor reaches the patient's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeAccess {
    /// The patient's own logbook (`/v1/me/…`).
    Own,
    /// A therapist the patient linked (`/v1/patients/{pid}/…`, with the care
    /// team); such reads are access-logged.
    LinkedTherapist,
}

/// Whose logbook a request acts on, who acts, and how they may. Decided
/// (by `routes::scope`) before anything else of the request is looked at,
/// so the patient's and a linked therapist's routes share one handler:
/// - `/v1/me/…`: the caller's own logbook; only patients have one (403).
/// - `/v1/patients/{pid}/…`: a therapist (403 for patients) linked to `pid`
///   now; otherwise 404, as for an id that names nobody. Either way the
///   request is written to the patient's access log.
#[derive(Debug, Clone, Copy)]
pub struct PatientScope {
    pub patient: UserId,
    pub actor: AuthUser,
    pub access: ScopeAccess,
    /// The patient's access-log row of this request (a linked therapist's),
    /// so a write refused later under the patient's lock can say so there.
    pub logged_as: Option<uuid::Uuid>,
}

impl PatientScope {
    /// `/v1/me/…`: the caller's own logbook; only patients have one.
    pub fn own(user: AuthUser) -> Result<Self, DomainError> {
        match user.role {
            Role::Patient => Ok(Self {
                patient: user.id,
                actor: user,
                access: ScopeAccess::Own,
                logged_as: None,
            }),
            Role::Therapist => Err(DomainError::PatientsOnly),
        }
    }

    pub fn is_own(&self) -> bool {
        self.access == ScopeAccess::Own
    }
}
