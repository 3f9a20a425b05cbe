//! `AuthUser`: the caller, taken from a valid `Authorization: Bearer` access token.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use uuid::Uuid;

use crate::domain::Role;
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
}

impl AuthUser {
    /// The caller, if they are a patient (a therapist gets 403).
    pub fn patient(self) -> Result<Uuid, AppError> {
        match self.role {
            Role::Patient => Ok(self.id),
            Role::Therapist => Err(AppError::Forbidden {
                code: "patients_only",
                detail: "Only patients can use this route.",
            }),
        }
    }

    /// The caller, if they are a therapist (a patient gets 403).
    pub fn therapist(self) -> Result<Uuid, AppError> {
        match self.role {
            Role::Therapist => Ok(self.id),
            Role::Patient => Err(AppError::Forbidden {
                code: "therapists_only",
                detail: "Only therapists can use this route.",
            }),
        }
    }
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
        id: claims.sub,
        role: claims.role,
    })
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}
