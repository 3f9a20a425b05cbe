//! `/v1/me/sessions`: where the account is signed in (docs/api-guide.md
//! "Logins"; `service::session` says what a login is).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::scope::OpenLogin;
use crate::error::AppResult;
use crate::service::session;
pub use crate::service::session::Login;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginList {
    /// Most recently used first. Ended and expired logins are not listed.
    pub items: Vec<Login>,
}

/// The account's logins: one per device or app that signed in.
#[utoipa::path(
    get, path = "/v1/me/sessions", tag = "me", operation_id = "list_logins",
    security(("bearer" = [])),
    responses((status = 200, description = "The logins that have not ended", body = LoginList))
)]
pub async fn list_logins(
    state: web::Data<AppState>,
    OpenLogin(user): OpenLogin,
) -> AppResult<HttpResponse> {
    let items = session::logins(&state.db, &state.clock, user.id, user.login).await?;
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
    OpenLogin(user): OpenLogin,
    id: web::Path<Uuid>,
) -> AppResult<HttpResponse> {
    session::end_login(&state.db, &state.clock, user.id, id.into_inner()).await?;
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
    OpenLogin(user): OpenLogin,
) -> AppResult<HttpResponse> {
    session::end_other_logins(&state.db, &state.clock, user.id, user.login).await?;
    Ok(HttpResponse::NoContent().finish())
}
