//! The care team: invitations a therapist hands out, and the links a patient
//! makes by redeeming one and can end at any time (so can the therapist).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::auth::throttle::{CODES_PER_ADDRESS, CODES_PER_USER};
use crate::clock::Clock;
use crate::db::access_log::{self, Access, AccessRow};
use crate::db::care_team::{self as store, InvitationRow, LinkRow, NewInvitation};
use crate::db::{accounts, records, Db, DbConnection, DbError};
use crate::domain::access::{AuthUser, PatientScope, ScopeAccess};
use crate::domain::care_team::InvitationCode;
use crate::domain::{DomainError, Role, UserId};

/// A therapist on a patient's care team.
#[derive(Debug, Clone)]
pub struct Member {
    pub therapist: UserId,
    pub display_name: String,
    pub since: NaiveDateTime,
}

impl TryFrom<LinkRow> for Member {
    type Error = DbError;

    fn try_from(row: LinkRow) -> Result<Self, DbError> {
        Ok(Self {
            therapist: row
                .therapist_id
                .parse()
                .map_err(|_| DbError::corrupt("care link", &row.patient_id, "therapist_id"))?,
            display_name: row.display_name,
            since: row.since,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TherapistRef {
    pub id: Uuid,
    pub display_name: String,
}

/// A therapist on the patient's care team.
#[derive(Debug, Serialize, ToSchema)]
pub struct CareTeamMember {
    pub therapist: TherapistRef,
    /// When the patient linked them.
    pub since: DateTime<Utc>,
}

impl From<Member> for CareTeamMember {
    fn from(m: Member) -> Self {
        Self {
            therapist: TherapistRef {
                id: m.therapist.0,
                display_name: m.display_name,
            },
            since: m.since.and_utc(),
        }
    }
}

/// What a therapist did.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessAction {
    Read,
    Write,
    /// The therapist's weekly digest read the patient's figures to count
    /// the patients with alerts (no request: `path` is `/v1/me/digest`).
    Digest,
}

/// Whether the request was let through.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessOutcome {
    Allowed,
    /// Not linked to you (then, or any more): nothing was shown.
    Refused,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Actor {
    pub id: Uuid,
    /// Null once the therapist's account is gone.
    pub display_name: Option<String>,
}

/// One request of a therapist on your data.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogEntry {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: AccessAction,
    /// The path the therapist requested.
    pub path: String,
    pub outcome: AccessOutcome,
}

impl TryFrom<AccessRow> for AccessLogEntry {
    type Error = DbError;

    fn try_from(row: AccessRow) -> Result<Self, DbError> {
        Ok(Self {
            at: row.at.and_utc(),
            actor: Actor {
                id: row
                    .actor_id
                    .parse()
                    .map_err(|_| DbError::corrupt("access log", &row.id, "actor_id"))?,
                display_name: row.display_name,
            },
            action: match row.action.as_str() {
                "write" => AccessAction::Write,
                "digest" => AccessAction::Digest,
                _ => AccessAction::Read,
            },
            path: row.path,
            outcome: if row.outcome == "allowed" {
                AccessOutcome::Allowed
            } else {
                AccessOutcome::Refused
            },
        })
    }
}

/// A new invitation: its id, the code (shown once, never stored) and its expiry.
pub struct Invitation {
    pub id: Uuid,
    pub code: InvitationCode,
    pub expires_at: NaiveDateTime,
}

/// 401 for an account erased since its token was issued; 403
/// `email_unverified` when `proof_required` and its address is not proven.
fn ensure_proven(conn: &mut DbConnection, user: UserId, proof_required: bool) -> ServiceResult<()> {
    let row = accounts::find_user(conn, &user.to_string())?.ok_or(DomainError::AccountGone)?;
    if proof_required && row.email_verified_at.is_none() {
        return Err(DomainError::EmailUnverified.into());
    }
    Ok(())
}

/// A new invitation of `therapist`, valid `hours`; with `proof_required`
/// (mail is really delivered) only from a proven address.
pub async fn invite(
    db: &Db,
    clock: &Clock,
    therapist: UserId,
    hours: i64,
    proof_required: bool,
) -> ServiceResult<Invitation> {
    let now = clock.now_naive();
    let invitation = Invitation {
        id: Uuid::new_v4(),
        code: InvitationCode::generate(),
        expires_at: now + Duration::hours(hours),
    };
    let (id, hash, expires_at) = (invitation.id, invitation.code.hash(), invitation.expires_at);
    db.write(move |conn| -> ServiceResult<()> {
        ensure_proven(conn, therapist, proof_required)?;
        let new = NewInvitation {
            id,
            therapist,
            code_hash: &hash,
            expires_at,
        };
        Ok(store::insert_invitation(conn, &new, now)?)
    })
    .await?;
    Ok(invitation)
}

pub async fn open_invitations(
    db: &Db,
    clock: &Clock,
    therapist: UserId,
) -> ServiceResult<Vec<InvitationRow>> {
    let now = clock.now_naive();
    Ok(db
        .run(move |conn| store::open_invitations(conn, therapist, now))
        .await?)
}

/// Withdraws an open (or expired) invitation; withdrawing again is fine.
pub async fn withdraw(db: &Db, clock: &Clock, therapist: UserId, id: Uuid) -> ServiceResult<()> {
    let now = clock.now_naive();
    db.write(move |conn| -> ServiceResult<()> {
        let invitation =
            store::find_invitation(conn, therapist, id)?.ok_or(DomainError::NotFound)?;
        // The update re-checks that it is unused: a redeem that claimed it
        // meanwhile wins, and the therapist learns the code was used.
        if invitation.used_at.is_some() || !store::withdraw_invitation(conn, &invitation.id, now)? {
            return Err(DomainError::InvitationUsed.into());
        }
        Ok(())
    })
    .await
}

/// Redeems `code` for `patient`. An unknown, used, withdrawn or expired code
/// is one identical 404 and counts as a wrong code (throttled per patient and
/// per address). The patient's own redeem sent again after its answer was
/// lost gets the same answer. With `proof_required` (mail is really
/// delivered) only from a proven address (403, counting no wrong code).
pub async fn redeem(
    db: &Db,
    clock: &Clock,
    patient: UserId,
    code: InvitationCode,
    client_ip: String,
    proof_required: bool,
) -> ServiceResult<Member> {
    let clock = clock.clone();
    let verdict = db
        .write(move |conn| -> ServiceResult<Result<Member, DomainError>> {
            // One redeem at a time per patient, so its failures are counted
            // one after another.
            records::lock_patient(conn, patient).map_err(|e| match e {
                DbError::NotFound => ServiceError::from(DomainError::AccountGone),
                other => other.into(),
            })?;
            ensure_proven(conn, patient, proof_required)?;
            let now = clock.now_naive();
            let by_user =
                store::code_failures_since(conn, Some(patient), None, CODES_PER_USER.start(now))?;
            let by_address = store::code_failures_since(
                conn,
                None,
                Some(&client_ip),
                CODES_PER_ADDRESS.start(now),
            )?;
            let throttled = CODES_PER_USER
                .retry_after(&by_user, now)
                .max(CODES_PER_ADDRESS.retry_after(&by_address, now));
            if let Some(retry_after_secs) = throttled {
                return Ok(Err(DomainError::TooManyAttempts { retry_after_secs }));
            }
            let invitation = store::find_by_code(conn, &code.hash())?;
            let mine = patient.to_string();
            let therapist = match invitation {
                Some(inv)
                    if inv.is_open(now)
                        && store::claim_invitation(conn, &inv.id, patient, now)? =>
                {
                    inv.therapist_id
                }
                Some(inv) if inv.used_by.as_deref() == Some(mine.as_str()) => {
                    // A retry: the link it made, if the patient has not ended it since.
                    let therapist = parse_user(&inv.therapist_id)?;
                    return Ok(match store::active_link(conn, patient, therapist)? {
                        Some(link) => Ok(Member::try_from(link)?),
                        None => Err(DomainError::NotFound),
                    });
                }
                _ => {
                    // The failure must be kept, so this transaction commits.
                    store::record_code_failure(conn, patient, &client_ip, now)?;
                    return Ok(Err(DomainError::NotFound));
                }
            };
            let therapist = parse_user(&therapist)?;
            store::link(conn, patient, therapist, now)?;
            let link = store::active_link(conn, patient, therapist)?.ok_or(DbError::NotFound)?;
            Ok(Ok(Member::try_from(link)?))
        })
        .await?;
    Ok(verdict?)
}

/// Whether `id` names a patient: only a patient has an access log to write to.
fn is_patient(conn: &mut DbConnection, id: UserId) -> Result<bool, DbError> {
    Ok(accounts::find_user(conn, &id.to_string())?
        .is_some_and(|u| u.role().is_ok_and(|r| r == Role::Patient)))
}

fn parse_user(id: &str) -> Result<UserId, DbError> {
    id.parse()
        .map_err(|_| DbError::corrupt("invitation", id, "therapist_id"))
}

pub async fn care_team(db: &Db, patient: UserId) -> ServiceResult<Vec<Member>> {
    let rows = db.run(move |conn| store::care_team(conn, patient)).await?;
    Ok(rows
        .into_iter()
        .map(Member::try_from)
        .collect::<Result<Vec<_>, _>>()?)
}

/// Ends the link between `patient` and `therapist` (either may): the
/// therapist's next request on the patient's data is refused. 404 when they
/// are not linked. Taken under the patient's lock, so a write of the
/// therapist's that began before commits before the link ends, or not at all.
/// When the therapist ends it, `log_as` names the request for the patient's
/// access log (allowed, or refused if they were not linked).
pub async fn end_link(
    db: &Db,
    clock: &Clock,
    patient: UserId,
    therapist: UserId,
    log_as: Option<String>,
) -> ServiceResult<()> {
    let now = clock.now_naive();
    let ended = db
        .write(move |conn| -> ServiceResult<bool> {
            let locked = match records::lock_patient(conn, patient) {
                Ok(_) => true,
                // The patient's own token outlived the account.
                Err(DbError::NotFound) if log_as.is_none() => {
                    return Err(DomainError::AccountGone.into())
                }
                Err(DbError::NotFound) => false,
                Err(e) => return Err(e.into()),
            };
            let ended = locked && store::end_link(conn, patient, therapist, now)?;
            let is_patient = locked && is_patient(conn, patient)?;
            if let (Some(path), true) = (&log_as, is_patient) {
                let entry = Access {
                    patient,
                    actor: therapist,
                    action: "write",
                    path,
                    allowed: ended,
                };
                access_log::append(conn, &[entry], now)?;
            }
            Ok(ended)
        })
        .await?;
    if ended {
        Ok(())
    } else {
        Err(DomainError::NotFound.into())
    }
}

/// Opens `patient`'s data to `therapist` for one request, if they are
/// linked now, and writes the access log row: `allowed`, or `refused` (then
/// 404, as for an id that names nobody; an id that names no patient has
/// nobody to show the row to and writes none). `action` and `path` describe
/// the request for the patient.
pub async fn open_patient(
    db: &Db,
    clock: &Clock,
    therapist: AuthUser,
    patient: UserId,
    action: &'static str,
    path: String,
) -> ServiceResult<PatientScope> {
    let now = clock.now_naive();
    let linked = db
        .write(move |conn| {
            // A token that outlived its therapist's account: 401, as for
            // any other request of theirs, and nothing in the log.
            if !accounts::user_exists(conn, &therapist.id.to_string())? {
                return Ok(None);
            }
            let linked = store::active_link(conn, patient, therapist.id)?.is_some();
            let is_patient = linked || is_patient(conn, patient)?;
            let mut logged_as = None;
            if is_patient {
                let entry = Access {
                    patient,
                    actor: therapist.id,
                    action,
                    path: &path,
                    allowed: linked,
                };
                logged_as = access_log::append(conn, &[entry], now)?.pop();
            }
            Ok::<_, DbError>(Some((linked, logged_as)))
        })
        .await?
        .ok_or(DomainError::AccountGone)?;
    let (linked, logged_as) = linked;
    if linked {
        Ok(PatientScope {
            patient,
            actor: therapist,
            access: ScopeAccess::LinkedTherapist,
            logged_as,
        })
    } else {
        Err(DomainError::NotFound.into())
    }
}

/// A page of the patient's access log, newest first, after `after`.
pub async fn access_log(
    db: &Db,
    patient: UserId,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> ServiceResult<Vec<AccessRow>> {
    Ok(db
        .run(move |conn| access_log::list(conn, patient, after, limit))
        .await?)
}
