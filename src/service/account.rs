//! Accounts as their owners see them.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{account_email, schedules, session, ServiceError, ServiceResult};
use crate::auth::PasswordHasher;
use crate::clock::Clock;
use crate::db::accounts::{self, NewUser, UserRow};
use crate::db::mail::Purpose;
use crate::db::{Db, DbConnection, DbError};
use crate::domain::{
    DisplayName, DomainError, Email, FieldError, Password, Role, Timezone, UserId,
};
use crate::mail::MailContext;

/// 401 (`AccountGone`) for a caller whose account was erased since their
/// token was issued.
pub async fn ensure_exists(db: &Db, user: UserId) -> ServiceResult<()> {
    let id = user.to_string();
    if db.run(move |conn| accounts::user_exists(conn, &id)).await? {
        Ok(())
    } else {
        Err(DomainError::AccountGone.into())
    }
}

/// The caller's account; 401 when it was erased since their token was issued.
pub async fn load(db: &Db, user: UserId) -> ServiceResult<UserRow> {
    let id = user.to_string();
    db.run(move |conn| accounts::find_user(conn, &id))
        .await?
        .ok_or_else(|| DomainError::AccountGone.into())
}

/// A change to the caller's own account as it arrives: text to be checked.
pub struct ProfileChange<'a> {
    pub display_name: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub email: Option<&'a str>,
    pub current_password: Option<String>,
}

/// Changes the display name or time zone, or asks to change the address
/// (a link to the new one, a notice to the present one; the address
/// changes when the link is used). Everything is checked first (422 naming
/// every bad field) and applied together or not at all.
pub async fn update_profile(
    db: &Db,
    clock: &Clock,
    hasher: &PasswordHasher,
    mail: &MailContext,
    user: UserId,
    change: ProfileChange<'_>,
    ip: String,
) -> ServiceResult<UserRow> {
    let mut errors = Vec::new();
    let mut field = |name: &'static str, m: &'static str| errors.push(FieldError::new(name, m));
    let name = change
        .display_name
        .map(DisplayName::parse)
        .transpose()
        .map_err(|m| field("display_name", m));
    let tz = change
        .timezone
        .map(Timezone::parse)
        .transpose()
        .map_err(|m| field("timezone", m));
    let email = change
        .email
        .map(Email::parse)
        .transpose()
        .map_err(|m| field("email", m));
    if change.email.is_some() && change.current_password.is_none() {
        field(
            "current_password",
            "is required to change the e-mail address",
        );
    }
    let (Ok(name), Ok(tz), Ok(email), true) = (name, tz, email, errors.is_empty()) else {
        return Err(DomainError::Invalid(errors).into());
    };
    let me = load(db, user).await?;
    // The same address again is no change: the password is not checked
    // (but must come, as with any `email`) and no mail goes out.
    let new_email = email.filter(|e| e.as_str() != me.email);
    if let (Some(_), Some(password)) = (&new_email, change.current_password) {
        session::confirm_password(db, clock, hasher, &me, password, &ip, "current_password")
            .await?;
        account_email::count_address_change(db, clock, me.email.clone(), ip).await?;
    }
    let asked = new_email.is_some();
    let (clock, context) = (clock.clone(), mail.clone());
    let row = db
        .write(move |conn| -> ServiceResult<_> {
            let now = clock.now_naive();
            if let Some(email) = &new_email {
                account_email::request_address_change(conn, &context, &me, email.as_str(), now)?;
            }
            let name = name.map(DisplayName::into_inner);
            let row = accounts::update_profile(
                conn,
                &me.id,
                name.as_deref(),
                tz.map(Timezone::name),
                now,
            )?
            .ok_or(DomainError::AccountGone)?;
            if tz.is_some_and(|tz| tz.name() != me.timezone) {
                // Reminders and digests come at their time in the new zone.
                schedules::follow_timezone(conn, &row, clock.now())?;
            }
            Ok(row)
        })
        .await?;
    if asked {
        mail.wake();
        tracing::info!(user_id = %user, "change of address asked; link sent to the new address");
    }
    Ok(row)
}

/// Changes the password once the present one is confirmed: every login of
/// the account ends and a pending change of address is cancelled.
pub async fn change_password(
    db: &Db,
    clock: &Clock,
    hasher: &PasswordHasher,
    user: UserId,
    current_password: String,
    new_password: String,
    ip: &str,
) -> ServiceResult<()> {
    let new_password = Password::parse(new_password)
        .map_err(|m| DomainError::Invalid(vec![FieldError::new("new_password", m)]))?;
    let me = load(db, user).await?;
    session::confirm_password(
        db,
        clock,
        hasher,
        &me,
        current_password,
        ip,
        "current_password",
    )
    .await?;
    let hash = hasher.hash(new_password.expose().to_owned()).await?;
    let now = clock.now_naive();
    db.write(move |conn| {
        accounts::update_password_hash(conn, &me.id, &hash, now)?;
        // A change of address asked for with the old password (maybe by
        // whoever learnt it) does not go through, and a reset link asked
        // for before no longer overrides the password just chosen.
        for purpose in [Purpose::ChangeEmail, Purpose::PasswordReset] {
            crate::db::mail::void_tokens(conn, &me.id, Some(purpose), now)?;
        }
        accounts::revoke_all_for_user(conn, &me.id, now)
    })
    .await?;
    tracing::info!(user_id = %user, "password changed; refresh tokens revoked");
    Ok(())
}

/// Erases the account and all of its data once its password is confirmed.
pub async fn delete(
    db: &Db,
    clock: &Clock,
    hasher: &PasswordHasher,
    user: UserId,
    password: String,
    ip: &str,
) -> ServiceResult<()> {
    let me = load(db, user).await?;
    session::confirm_password(db, clock, hasher, &me, password, ip, "password").await?;
    db.write(move |conn| accounts::delete_user(conn, &me))
        .await?;
    tracing::info!(user_id = %user, "account erased");
    Ok(())
}

/// A sign-up as it arrives: text to be checked.
pub struct SignUp<'a> {
    pub email: &'a str,
    pub password: String,
    pub display_name: &'a str,
    pub role: Role,
    /// Default `UTC`.
    pub timezone: Option<&'a str>,
}

/// Checks a sign-up against the account rules (422 naming every bad field)
/// and hashes its password on the hashing pool.
pub async fn prepare(hasher: &PasswordHasher, sign_up: SignUp<'_>) -> ServiceResult<NewAccount> {
    let (checked, password) = check(sign_up)?;
    let hash = hasher.hash(password.expose().to_owned()).await?;
    Ok(checked.with_hash(hash))
}

/// A sign-up whose fields passed the rules, and its password, not yet hashed.
pub fn check(sign_up: SignUp<'_>) -> ServiceResult<(Checked, Password)> {
    let mut errors = Vec::new();
    let email = Email::parse(sign_up.email).map_err(|m| errors.push(FieldError::new("email", m)));
    let password =
        Password::parse(sign_up.password).map_err(|m| errors.push(FieldError::new("password", m)));
    let name = DisplayName::parse(sign_up.display_name)
        .map_err(|m| errors.push(FieldError::new("display_name", m)));
    let timezone = match sign_up.timezone {
        Some(raw) => Timezone::parse(raw).map_err(|m| errors.push(FieldError::new("timezone", m))),
        None => Ok(Timezone::default()),
    };
    let (Ok(email), Ok(password), Ok(display_name), Ok(timezone)) =
        (email, password, name, timezone)
    else {
        return Err(DomainError::Invalid(errors).into());
    };
    let checked = Checked {
        email,
        display_name,
        role: sign_up.role,
        timezone,
    };
    Ok((checked, password))
}

/// The checked fields of a sign-up, waiting for a password hash.
pub struct Checked {
    email: Email,
    display_name: DisplayName,
    role: Role,
    timezone: Timezone,
}

impl Checked {
    pub fn email(&self) -> &str {
        self.email.as_str()
    }

    pub fn with_hash(self, password_hash: String) -> NewAccount {
        NewAccount {
            email: self.email,
            password_hash,
            display_name: self.display_name,
            role: self.role,
            timezone: self.timezone,
        }
    }
}

/// A new account's checked values; the password already hashed.
pub struct NewAccount {
    pub email: Email,
    pub password_hash: String,
    pub display_name: DisplayName,
    pub role: Role,
    pub timezone: Timezone,
}

/// Stores a new account with a fresh id and an empty change counter; 409
/// when the e-mail is taken.
pub fn create(
    conn: &mut DbConnection,
    new: NewAccount,
    now: NaiveDateTime,
) -> ServiceResult<UserRow> {
    accounts::insert_user(
        conn,
        &NewUser {
            id: Uuid::new_v4().to_string(),
            email: new.email.as_str(),
            password_hash: &new.password_hash,
            display_name: &new.display_name.into_inner(),
            role: new.role.as_str(),
            timezone: new.timezone.name(),
            change_seq: 0,
            created_at: now,
            updated_at: now,
        },
    )
    .map_err(|e| match e {
        DbError::Duplicate(_) => ServiceError::from(DomainError::EmailTaken),
        other => other.into(),
    })
}

/// A user as they see themselves.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub timezone: String,
    /// Whether the address has been proven to receive mail (a verification
    /// or password-reset link sent to it was used).
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserResponse {
    pub fn from_row(row: UserRow) -> ServiceResult<Self> {
        Ok(Self {
            id: row.id.parse().map_err(ServiceError::internal)?,
            role: row.role()?,
            email: row.email,
            display_name: row.display_name,
            timezone: row.timezone,
            email_verified: row.email_verified_at.is_some(),
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        })
    }
}
