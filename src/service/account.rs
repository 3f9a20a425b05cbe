//! Accounts as their owners see them.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::accounts::{self, NewUser, UserRow};
use crate::db::{DbConnection, DbError};
use crate::domain::{DisplayName, DomainError, Email, Role, Timezone};
use crate::error::{AppError, AppResult};

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
pub fn create(conn: &mut DbConnection, new: NewAccount, now: NaiveDateTime) -> AppResult<UserRow> {
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
        DbError::Duplicate(_) => AppError::from(DomainError::EmailTaken),
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserResponse {
    pub fn from_row(row: UserRow) -> AppResult<Self> {
        Ok(Self {
            id: row.id.parse().map_err(AppError::internal)?,
            role: row.role()?,
            email: row.email,
            display_name: row.display_name,
            timezone: row.timezone,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        })
    }
}
