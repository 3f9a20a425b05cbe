//! `/v1/me/sessions`: where the account is signed in (docs/api-guide.md
//! "Logins"). A login is one refresh-token family: it starts at sign-up or
//! sign-in and lives on through refreshes. Ending one revokes its refresh
//! tokens at once; its access tokens run out within their lifetime
//! (`PAINLINE_ACCESS_TTL`), since access tokens are checked without the
//! database.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::{accounts, logins};
use crate::domain::access::AuthUser;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

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

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginList {
    /// Most recently used first. Ended and expired logins are not listed.
    pub items: Vec<Login>,
}

fn to_login(row: logins::LoginRow, current: Option<Uuid>) -> AppResult<Login> {
    let id: Uuid = row.id.parse().map_err(AppError::internal)?;
    Ok(Login {
        id,
        created_at: row.created_at.and_utc(),
        last_used_at: row.last_used_at.and_utc(),
        user_agent: row.user_agent,
        current: current == Some(id),
    })
}

/// The account's logins: one per device or app that signed in.
#[utoipa::path(
    get, path = "/v1/me/sessions", tag = "me", operation_id = "list_logins",
    security(("bearer" = [])),
    responses((status = 200, description = "The logins that have not ended", body = LoginList))
)]
pub async fn list_logins(state: web::Data<AppState>, user: AuthUser) -> AppResult<HttpResponse> {
    let id = user.id.to_string();
    let now = state.clock.now_naive();
    let rows = state
        .db
        .run(move |conn| logins::list(conn, &id, now))
        .await?;
    let items = rows
        .into_iter()
        .map(|row| to_login(row, user.login))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(HttpResponse::Ok().json(LoginList { items }))
}

/// End one login (it may be this one: that is signing out). Its refresh
/// tokens stop working at once; its access tokens run out within their
/// lifetime.
#[utoipa::path(
    delete, path = "/v1/me/sessions/{id}", tag = "me", operation_id = "end_login",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Ended (also when it had ended already)"),
        (status = 404, description = "Not a login of this account"),
    )
)]
pub async fn end_login(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    let login = id.into_inner().to_string();
    let owner = user.id.to_string();
    let now = state.clock.now_naive();
    let ended = state
        .db
        .write(move |conn| -> crate::db::DbResult<bool> {
            if !logins::belongs_to(conn, &login, &owner)? {
                return Ok(false);
            }
            accounts::revoke_family(conn, &login, now)?;
            Ok(true)
        })
        .await?;
    if !ended {
        return Err(AppError::NotFound);
    }
    tracing::info!(user_id = %user.id, "login ended");
    Ok(HttpResponse::NoContent().finish())
}

/// End every login but this one ("sign out everywhere else"). With an
/// access token that names no login, every login ends.
#[utoipa::path(
    delete, path = "/v1/me/sessions", tag = "me", operation_id = "end_other_logins",
    security(("bearer" = [])),
    responses((status = 204, description = "Every other login has ended"))
)]
pub async fn end_other_logins(
    state: web::Data<AppState>,
    user: AuthUser,
) -> AppResult<HttpResponse> {
    let owner = user.id.to_string();
    let keep = user.login.map(|id| id.to_string());
    let now = state.clock.now_naive();
    let ended = state
        .db
        .write(move |conn| -> crate::db::DbResult<usize> {
            let others = logins::open_ids(conn, &owner, keep.as_deref())?;
            for id in &others {
                accounts::revoke_family(conn, id, now)?;
            }
            Ok(others.len())
        })
        .await?;
    tracing::info!(user_id = %user.id, ended, "other logins ended");
    Ok(HttpResponse::NoContent().finish())
}
