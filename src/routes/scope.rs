//! Who is calling, and on whose data, decided from the request: the
//! [`AuthUser`] of a valid `Authorization: Bearer` access token, the
//! [`Therapist`] routes, and the [`PatientScope`] of a request on a
//! patient's logbook, the one place that decides whose logbook a request
//! may touch (it asks `service::care_team` whether a therapist is linked).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::auth::tokens::Refused;
use crate::domain::access::{AuthUser, PatientScope};
use crate::domain::{DomainError, FieldError, Role, UserId};
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

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
        .map_err(|refused| match refused {
            Refused::Expired => AppError::token_expired(),
            Refused::Invalid => AppError::unauthenticated(),
        })?;
    Ok(AuthUser {
        id: UserId(claims.sub),
        role: claims.role,
        login: claims.sid,
    })
}

/// 401 for a token whose account was erased, as `GET /v1/me` answers,
/// rather than 200 with nothing in it or a 404. (A patient's writes find
/// out under the patient's lock, in their own transaction.)
async fn ensure_account(state: &AppState, user: AuthUser) -> Result<AuthUser, AppError> {
    crate::service::account::ensure_exists(&state.db, user.id).await?;
    Ok(user)
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

/// The caller, through a login that is still open (401 otherwise): for
/// managing logins and the account's security actions (password, address,
/// erasure). Other routes accept any live access token, whose short life
/// bounds what an ended login can still do.
#[derive(Debug, Clone, Copy)]
pub struct OpenLogin(pub AuthUser);

impl FromRequest for OpenLogin {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = authenticate(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let user = user?;
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            crate::service::session::ensure_open(&state.db, &state.clock, user.id, user.login)
                .await?;
            Ok(Self(user))
        })
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
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let user = user?;
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            Ok(Self(ensure_account(&state, user).await?))
        })
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
            let scope = crate::service::care_team::open_patient(
                &state.db,
                &state.clock,
                user,
                patient,
                action,
                path,
            )
            .await?;
            Ok(scope)
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
