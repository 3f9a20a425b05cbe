//! Who is calling, and on whose data: [`AuthUser`] from a valid
//! `Authorization: Bearer` access token, and [`PatientScope`], the one place
//! that decides whose logbook a request may touch.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::domain::{DomainError, FieldError, Role, UserId};
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

/// The caller, as their access token names them.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
    /// The login the access token was issued to (`sid`), when it names one.
    pub login: Option<uuid::Uuid>,
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("application state missing"))?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(AppError::unauthenticated)?;
    let claims = state
        .tokens
        .decode_access(token, state.clock.now())
        .ok_or_else(AppError::unauthenticated)?;
    Ok(AuthUser {
        id: UserId(claims.sub),
        role: claims.role,
        login: claims.sid,
    })
}

/// Reads answer 401 for a token whose account was erased, as `GET /v1/me`
/// does, rather than 200 with nothing in it. (Writes find out under the
/// patient's lock, in their own transaction.)
async fn ensure_account(state: &AppState, user: AuthUser) -> Result<AuthUser, AppError> {
    let id = user.id.to_string();
    let exists = state
        .db
        .run(move |conn| crate::db::accounts::user_exists(conn, &id))
        .await?;
    if exists {
        Ok(user)
    } else {
        Err(DomainError::AccountGone.into())
    }
}

fn is_read(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// The caller, who must be a therapist (a patient gets 403).
#[derive(Debug, Clone, Copy)]
pub struct Therapist(pub AuthUser);

impl FromRequest for Therapist {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = authenticate(req).and_then(|user| match user.role {
            Role::Therapist => Ok(user),
            Role::Patient => Err(DomainError::TherapistsOnly.into()),
        });
        let read = is_read(req.method());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let user = user?;
            match (read, state) {
                (true, Some(state)) => Ok(Self(ensure_account(&state, user).await?)),
                (true, None) => Err(AppError::internal("application state missing")),
                (false, _) => Ok(Self(user)),
            }
        })
    }
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

/// Whose logbook a request acts on, who acts, and how they may. Taken as a
/// handler's first argument, it decides before anything else of the request
/// is looked at, so the patient's and a linked therapist's routes share one
/// handler:
/// - `/v1/me/…`: the caller's own logbook; only patients have one (403).
/// - `/v1/patients/{pid}/…`: a therapist (403 for patients) linked to `pid`
///   now; otherwise 404, as for an id that names nobody. Either way the
///   request is written to the patient's access log.
#[derive(Debug, Clone, Copy)]
pub struct PatientScope {
    pub patient: UserId,
    pub actor: AuthUser,
    pub access: ScopeAccess,
}

impl PatientScope {
    /// `/v1/me/…`: the caller's own logbook; only patients have one.
    pub fn own(user: AuthUser) -> Result<Self, DomainError> {
        match user.role {
            Role::Patient => Ok(Self {
                patient: user.id,
                actor: user,
                access: ScopeAccess::Own,
            }),
            Role::Therapist => Err(DomainError::PatientsOnly),
        }
    }

    pub fn is_own(&self) -> bool {
        self.access == ScopeAccess::Own
    }
}

impl FromRequest for PatientScope {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = authenticate(req);
        let pid = req.match_info().get("pid").map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let read = is_read(req.method());
        let action = if read { "read" } else { "write" };
        let path = req.path().to_owned();
        Box::pin(async move {
            let user = user?;
            let Some(pid) = pid else {
                let scope = Self::own(user)?;
                if read {
                    let state =
                        state.ok_or_else(|| AppError::internal("application state missing"))?;
                    ensure_account(&state, user).await?;
                }
                return Ok(scope);
            };
            if user.role != Role::Therapist {
                return Err(DomainError::TherapistsOnly.into());
            }
            let patient: UserId = pid.parse().map_err(|_| {
                AppError::bad_request(
                    ErrorCode::InvalidPath,
                    "A path parameter is malformed (ids are UUIDs).",
                    vec![FieldError::new("pid", "must be a UUID")],
                )
            })?;
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            crate::service::care_team::open_patient(&state, user, patient, action, path).await
        })
    }
}

/// A [`PatientScope`] and the rest of a handler's arguments, extracted in
/// that order. actix polls a handler's extractors side by side, so a
/// malformed header or body would otherwise be answered (400) while a
/// linked-therapist check is still waiting for the database, and the
/// refused attempt would miss the access log. With `Scoped`, the scope is
/// decided, and logged, before anything else of the request is read.
pub struct Scoped<T>(pub PatientScope, pub T);

impl<T: FromRequest + 'static> FromRequest for Scoped<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let scope = PatientScope::from_request(req, payload);
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let scope = scope.await?;
            let rest = T::from_request(&req, &mut payload)
                .await
                .map_err(Into::into)?;
            Ok(Self(scope, rest))
        })
    }
}
