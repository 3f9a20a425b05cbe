//! The list of red-flag codes, for clients to render: public and cacheable.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::red_flag::{Advice, RedFlag};

/// One warning sign a pain entry may report.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedFlagInfo {
    pub code: RedFlag,
    /// A neutral one-line description; the words the patient sees are the
    /// client's.
    pub description: &'static str,
    /// How urgently an entry holding it should be seen by a doctor.
    pub advice: Advice,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedFlagList {
    /// Every code, the signs of cauda equina syndrome first.
    pub items: Vec<RedFlagInfo>,
}

/// The red-flag codes a pain entry may report, each with a neutral
/// description and its advice level (`emergency` for the signs of cauda
/// equina syndrome, `see_doctor` for the others). No sign-in needed; the
/// list changes only with a release, so clients may cache it for a day.
#[utoipa::path(
    get, path = "/v1/red-flags", tag = "logbook", operation_id = "list_red_flags",
    responses(
        (status = 200, description = "Every red-flag code", body = RedFlagList,
         headers(("Cache-Control" = String, description = "public, max-age=86400"))),
    )
)]
pub async fn list_red_flags() -> HttpResponse {
    let items = RedFlag::ALL
        .into_iter()
        .map(|code| RedFlagInfo {
            code,
            description: code.description(),
            advice: code.advice(),
        })
        .collect();
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(86_400),
        ]))
        .json(RedFlagList { items })
}
