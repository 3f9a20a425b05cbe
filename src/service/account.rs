//! Accounts as their owners see them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::accounts::UserRow;
use crate::domain::Role;
use crate::error::{AppError, AppResult};

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
