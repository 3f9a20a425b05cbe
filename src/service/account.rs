//! Accounts as their owners see them.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::auth::PasswordHasher;
use crate::db::accounts::{self, NewUser, UserRow};
use crate::db::{Db, DbConnection, DbError};
use crate::domain::{
    DisplayName, DomainError, Email, FieldError, Password, Role, Timezone, UserId,
};

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
