//! Signing in and staying signed in: sign-up and sign-in, refresh and
//! sign-out, the logins an account has open (docs/api-guide.md "Logins"),
//! and the throttle on password attempts (docs/security.md).
//!
//! A login is one refresh-token family: it starts at sign-up or sign-in and
//! lives on through refreshes. Ending one revokes its refresh tokens at
//! once; its access tokens run out within their lifetime, since access
//! tokens are checked without the database.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::account::{self, SignUp, UserResponse};
use super::{account_email, ServiceError, ServiceResult};
use crate::auth::throttle::{Window, PER_ADDRESS, PER_EMAIL};
use crate::auth::tokens::{hash_refresh_token, new_refresh_token};
use crate::auth::{PasswordHasher, TokenService};
use crate::clock::Clock;
use crate::db::accounts::{self as accounts_db, NewRefreshToken, Rotation, UserRow};
use crate::db::logins::{self, LoginRow};
use crate::db::{Db, DbConnection, DbResult};
use crate::domain::{DomainError, Email, Role, UserId};
use crate::mail::MailContext;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokensResponse {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; exchange it once at `/v1/auth/refresh`. Absent when the
    /// request asked for it as a cookie (`X-Painline-Session: cookie`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub user: UserResponse,
    pub tokens: TokensResponse,
}

/// Issues an access token and stores a new refresh token, for login
/// `family` (a refresh) or for a new login seen from `user_agent`.
fn issue_tokens(
    conn: &mut DbConnection,
    tokens: &TokenService,
    user_id: &str,
    role: Role,
    family: Option<&str>,
    user_agent: Option<&str>,
    now: NaiveDateTime,
) -> ServiceResult<TokensResponse> {
    let uuid: Uuid = user_id.parse().map_err(ServiceError::internal)?;
    let login: Uuid = match family {
        Some(id) => id.parse().map_err(ServiceError::internal)?,
        None => Uuid::new_v4(),
    };
    let login_id = login.to_string();
    let expires_at = now + Duration::seconds(tokens.refresh_ttl);
    match family {
        // The login ended while this refresh was on its way (ended from
        // another device, say): no new token joins it.
        Some(_) => {
            if !logins::touch(conn, &login_id, user_agent, now, expires_at)? {
                return Err(DomainError::InvalidRefreshToken.into());
            }
        }
        None => logins::start(conn, &login_id, user_id, user_agent, now, expires_at)?,
    }
    let access_token = tokens
        .issue_access(uuid, role, login, now.and_utc())
        .map_err(ServiceError::internal)?;
    let (refresh_token, hash) = new_refresh_token();
    accounts_db::insert_refresh_token(
        conn,
        &NewRefreshToken {
            id: Uuid::new_v4().to_string(),
            user_id,
            family_id: &login_id,
            token_hash: &hash,
            created_at: now,
            expires_at,
        },
    )?;
    Ok(TokensResponse {
        access_token,
        token_type: "Bearer",
        expires_in: tokens.access_ttl,
        refresh_token: Some(refresh_token),
        refresh_expires_in: tokens.refresh_ttl,
    })
}

/// Where a request comes from: the key the throttles count it by (its
/// address, an IPv6 one by its /64) and the `User-Agent` a new login is
/// shown with.
pub struct Client {
    pub key: String,
    pub user_agent: Option<String>,
}

/// Creates an account and signs it in; its verification mail is queued in
/// the same transaction. Each client may sign up `per_client` times (429
/// past that), counted before the answer, so a taken address (409) counts
/// too and cannot be probed for accounts without limit.
#[allow(clippy::too_many_arguments)]
pub async fn sign_up(
    db: &Db,
    clock: &Clock,
    hasher: &PasswordHasher,
    mail: &MailContext,
    tokens: &TokenService,
    sign_up: SignUp<'_>,
    client: Client,
    per_client: Window,
) -> ServiceResult<SessionResponse> {
    let role = sign_up.role;
    let (checked, password) = account::check(sign_up)?;
    let (email, key, now) = (
        checked.email().to_owned(),
        client.key.clone(),
        clock.now_naive(),
    );
    db.write(move |conn| {
        let per_client = Some(per_client);
        account_email::count_request(conn, "sign_up", &email, &key, None, per_client, now)
    })
    .await?;
    let hash = hasher.hash(password.expose().to_owned()).await?;
    let new = checked.with_hash(hash);
    let (clock, context, tokens) = (clock.clone(), mail.clone(), tokens.clone());
    let session = db
        .write(move |conn| -> ServiceResult<_> {
            let now = clock.now_naive();
            let user = account::create(conn, new, now)?;
            account_email::queue_verification(conn, &context, &user, now)?;
            let agent = client.user_agent.as_deref();
            let tokens = issue_tokens(conn, &tokens, &user.id, role, None, agent, now)?;
            Ok(SessionResponse {
                user: UserResponse::from_row(user)?,
                tokens,
            })
        })
        .await?;
    mail.wake();
    tracing::info!(user_id = %session.user.id, role = role.as_str(), "account created");
    Ok(session)
}

/// Signs in with e-mail and password. An unknown e-mail and a wrong
/// password get one identical answer after the same work; failures are
/// throttled per address and client, and per address.
pub async fn sign_in(
    db: &Db,
    clock: &Clock,
    hasher: &PasswordHasher,
    tokens: &TokenService,
    email: &str,
    password: String,
    client: Client,
) -> ServiceResult<SessionResponse> {
    let slot = hasher.slot().await?;
    // Something that is not an e-mail address cannot name an account; it
    // gets the same work and the same answer as an unknown one.
    // Looked up as stored (trimmed, lower-cased) without the sign-up rules:
    // a rule added later must not lock an existing account out.
    let Some(email) = Email::normalise_for_lookup(email) else {
        slot.verify(password, None).await?;
        return Err(DomainError::InvalidCredentials.into());
    };
    let attempt = Attempt::begin(db, clock, &email, &client.key).await?;
    let em = email.clone();
    let checked = async {
        let user = db
            .run(move |conn| accounts_db::find_user_by_email(conn, &em))
            .await?;
        let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
        // Over-long passwords are never truncated; they simply cannot match.
        let right = slot.verify(password, stored_hash).await?;
        Ok(user.filter(|_| right))
    };
    let Some((user, clearance)) = attempt.settle(db, checked).await? else {
        return Err(DomainError::InvalidCredentials.into());
    };
    let (clock, tokens) = (clock.clone(), tokens.clone());
    clearance
        .complete(db, move |conn| {
            let now = clock.now_naive();
            let role = user.role()?;
            let agent = client.user_agent.as_deref();
            let tokens = issue_tokens(conn, &tokens, &user.id, role, None, agent, now)?;
            Ok(SessionResponse {
                user: UserResponse::from_row(user)?,
                tokens,
            })
        })
        .await
}

/// Exchanges a refresh token for a new pair of the same login. Presented
/// again within the grace of its first use it gets another fresh pair;
/// later, it ends the whole login (reuse detection).
pub async fn refresh(
    db: &Db,
    clock: &Clock,
    tokens: &TokenService,
    refresh_token: &str,
    user_agent: Option<String>,
) -> ServiceResult<TokensResponse> {
    let hash = hash_refresh_token(refresh_token);
    let (clock, tokens) = (clock.clone(), tokens.clone());
    let outcome = db
        .write(move |conn| -> ServiceResult<_> {
            let now = clock.now_naive();
            // A reuse must commit its revocation, so every outcome is Ok here.
            let rotation = accounts_db::use_refresh_token(conn, &hash, now, tokens.refresh_grace)?;
            Ok(match rotation {
                Rotation::Rotated {
                    user,
                    family_id,
                    again,
                } => {
                    if again {
                        tracing::info!(
                            "refresh token presented again within the grace; fresh pair issued"
                        );
                    }
                    let role = user.role()?;
                    let agent = user_agent.as_deref();
                    let family = Some(family_id.as_str());
                    Ok(issue_tokens(
                        conn, &tokens, &user.id, role, family, agent, now,
                    )?)
                }
                Rotation::Reused => Err(true),
                Rotation::Invalid => Err(false),
            })
        })
        .await?;
    outcome.map_err(|reused| {
        if reused {
            tracing::warn!("refresh token reuse detected; token family revoked");
        }
        DomainError::InvalidRefreshToken.into()
    })
}

/// Ends the login of `refresh_token`, if it names one.
pub async fn sign_out(db: &Db, clock: &Clock, refresh_token: &str) -> ServiceResult<()> {
    let hash = hash_refresh_token(refresh_token);
    let now = clock.now_naive();
    db.write(move |conn| accounts_db::revoke_family_of(conn, &hash, now))
        .await?;
    Ok(())
}

/// 401 unless the login `login` of `user` is still open: managing logins
/// and the account's security (password, address, erasure) is for a login
/// that has not been ended, so the access token of an ended login (alive
/// until it runs out) cannot end the others or lock the owner out.
pub async fn ensure_open(
    db: &Db,
    clock: &Clock,
    user: UserId,
    login: Option<Uuid>,
) -> ServiceResult<()> {
    // A token naming no login predates the logins list; it is refused here.
    let login = login.ok_or(DomainError::LoginEnded)?.to_string();
    let (user, now) = (user.to_string(), clock.now_naive());
    if db
        .run(move |conn| logins::is_open(conn, &login, &user, now))
        .await?
    {
        Ok(())
    } else {
        Err(DomainError::LoginEnded.into())
    }
}

/// One login of the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Login {
    pub id: Uuid,
    /// When it signed in.
    pub created_at: DateTime<Utc>,
    /// Its latest sign-in or token refresh (so at most one access-token
    /// lifetime behind its latest request).
    pub last_used_at: DateTime<Utc>,
    /// The `User-Agent` it last sent (printable, at most 200 characters),
    /// as the client states it; `null` when it sent none.
    pub user_agent: Option<String>,
    /// This is the login making the request.
    pub current: bool,
}

impl Login {
    fn from_row(row: LoginRow, current: Option<Uuid>) -> ServiceResult<Self> {
        let id: Uuid = row.id.parse().map_err(ServiceError::internal)?;
        Ok(Self {
            id,
            created_at: row.created_at.and_utc(),
            last_used_at: row.last_used_at.and_utc(),
            user_agent: row.user_agent,
            current: current == Some(id),
        })
    }
}

/// The logins of `user` that have not ended, most recently used first;
/// `current` marks the one making the request.
pub async fn logins(
    db: &Db,
    clock: &Clock,
    user: UserId,
    current: Option<Uuid>,
) -> ServiceResult<Vec<Login>> {
    let id = user.to_string();
    let now = clock.now_naive();
    let rows = db.run(move |conn| logins::list(conn, &id, now)).await?;
    rows.into_iter()
        .map(|row| Login::from_row(row, current))
        .collect()
}

/// Ends login `login` of `user` (also when it had ended already); 404 when
/// it is not one of theirs.
pub async fn end_login(db: &Db, clock: &Clock, user: UserId, login: Uuid) -> ServiceResult<()> {
    let (login, owner) = (login.to_string(), user.to_string());
    let now = clock.now_naive();
    let ended = db
        .write(move |conn| -> DbResult<bool> {
            if !logins::belongs_to(conn, &login, &owner)? {
                return Ok(false);
            }
            accounts_db::revoke_family(conn, &login, now)?;
            Ok(true)
        })
        .await?;
    if !ended {
        return Err(DomainError::NotFound.into());
    }
    tracing::info!(user_id = %user, "login ended");
    Ok(())
}

/// Ends every login of `user` but `keep` (every login when `None`).
pub async fn end_other_logins(
    db: &Db,
    clock: &Clock,
    user: UserId,
    keep: Option<Uuid>,
) -> ServiceResult<()> {
    let owner = user.to_string();
    let keep = keep.map(|id| id.to_string());
    let now = clock.now_naive();
    let ended = db
        .write(move |conn| -> DbResult<usize> {
            let others = logins::open_ids(conn, &owner, keep.as_deref())?;
            for id in &others {
                accounts_db::revoke_family(conn, id, now)?;
            }
            Ok(others.len())
        })
        .await?;
    tracing::info!(user_id = %user, ended, "other logins ended");
    Ok(())
}

/// Checks `me`'s password for a change the account's owner asks for,
/// counting failures like failed sign-ins so that a stolen access token
/// cannot be used to guess it. `field` names the password in the 403.
pub async fn confirm_password(
    db: &Db,
    clock: &Clock,
    hasher: &PasswordHasher,
    me: &UserRow,
    password: String,
    ip: &str,
    field: &'static str,
) -> ServiceResult<()> {
    let slot = hasher.slot().await?;
    let attempt = Attempt::begin(db, clock, &me.email, ip).await?;
    let stored = Some(me.password_hash.clone());
    let checked = async { Ok(slot.verify(password, stored).await?.then_some(())) };
    let Some(((), clearance)) = attempt.settle(db, checked).await? else {
        return Err(DomainError::WrongPassword { field }.into());
    };
    clearance.complete(db, |_| Ok(())).await
}

/// Seconds to wait before another password attempt for `email` from `ip`,
/// if throttled.
fn throttled(
    conn: &mut DbConnection,
    email: &str,
    ip: &str,
    now: NaiveDateTime,
) -> DbResult<Option<u64>> {
    let by_address = accounts_db::failures_since(conn, email, Some(ip), PER_ADDRESS.start(now))?;
    let by_email = accounts_db::failures_since(conn, email, None, PER_EMAIL.start(now))?;
    Ok(PER_ADDRESS
        .retry_after(&by_address, now)
        .max(PER_EMAIL.retry_after(&by_email, now)))
}

/// A password attempt, counted against the throttle from the moment it
/// starts, so that guesses sent in parallel all count. [`Attempt::settle`]
/// records its verdict explicitly: a wrong password stays a failure; a
/// right one clears the client's failures in the transaction completing
/// the request; a check that fails (a database or hashing error) was no
/// guess and is taken back. A request the client abandons before the
/// verdict stays counted.
struct Attempt {
    email: String,
    ip: String,
    reserved: String,
}

/// A right password whose request is still to complete.
struct Clearance(Attempt);

impl Attempt {
    /// Starts an attempt: 429 when `email` is throttled for `ip`. Call it
    /// holding a hashing slot, so only attempts that will be hashed are
    /// counted and a login flood queues on the hashing pool, not on writes.
    async fn begin(db: &Db, clock: &Clock, email: &str, ip: &str) -> ServiceResult<Self> {
        let (em, addr, now) = (email.to_owned(), ip.to_owned(), clock.now_naive());
        let reserved = db
            .write(move |conn| -> ServiceResult<_> {
                accounts_db::lock_user_by_email(conn, &em)?;
                if let Some(retry_after_secs) = throttled(conn, &em, &addr, now)? {
                    return Err(DomainError::TooManyAttempts { retry_after_secs }.into());
                }
                Ok(accounts_db::record_failure(conn, &em, &addr, now)?)
            })
            .await?;
        Ok(Self {
            email: email.to_owned(),
            ip: ip.to_owned(),
            reserved,
        })
    }

    /// Runs the password check: `Some` for a right password (with what it
    /// found), `None` for a wrong one.
    async fn settle<T>(
        self,
        db: &Db,
        check: impl std::future::Future<Output = ServiceResult<Option<T>>>,
    ) -> ServiceResult<Option<(T, Clearance)>> {
        match check.await {
            Ok(Some(found)) => Ok(Some((found, Clearance(self)))),
            Ok(None) => Ok(None),
            Err(err) => {
                take_back(db, self.reserved).await;
                Err(err)
            }
        }
    }
}

impl Clearance {
    /// Completes the request in one transaction with `then`, where the
    /// client's failures are cleared; when it fails, the attempt is taken back.
    async fn complete<T: Send + 'static>(
        self,
        db: &Db,
        then: impl FnOnce(&mut DbConnection) -> ServiceResult<T> + Send + 'static,
    ) -> ServiceResult<T> {
        let Attempt {
            email,
            ip,
            reserved,
        } = self.0;
        let done = db
            .write(move |conn| {
                accounts_db::clear_failures(conn, &email, &ip)?;
                then(conn)
            })
            .await;
        if done.is_err() {
            take_back(db, reserved).await;
        }
        done
    }
}

/// Removes an attempt that reached no verdict; a failure to do so leaves it
/// counted (the safe side) and is logged.
async fn take_back(db: &Db, reserved: String) {
    if let Err(e) = db
        .write(move |conn| accounts_db::delete_failure(conn, &reserved))
        .await
    {
        tracing::warn!(error = %e, "could not take back an undecided password attempt");
    }
}
