//! Examples of requests and answers for the operations a client meets
//! first: one patient (Ana, in Berlin) and her therapist (Dr. Weber) in
//! November 2026. Each is valid against its schema (the contract run
//! checks every example of `openapi.yaml` with a JSON Schema validator) and
//! each request example is one the server accepts (a test below parses and
//! checks them as the handlers do); schemathesis sends them in its
//! examples phase.

use serde_json::{json, Value};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder};
use utoipa::openapi::{OpenApi, RefOr};

const ANA: &str = "3f2b8c1e-5d4a-4e7b-9c61-2a8f0d9e7b14";
const WEBER: &str = "8d1e4a27-b3c9-4f05-a6d2-71e9c0b5f348";
const ENTRY: &str = "b6a0f2d4-7c3e-4a91-8e5b-0d2c9f1a6e37";
const STRETCH_SESSION: &str = "c81d4e2f-0a6b-4f3c-9d57-e2b1a8064c9d";
const MASSAGE: &str = "e4c7a913-2b5d-4c8e-a0f6-93d1b7e52a08";
const EARLIER_MASSAGE: &str = "5a9e3c71-d8f2-4b06-8c4a-1f7e6d2b9035";
/// A built-in stretch of the catalog: knee to chest.
const KNEE_TO_CHEST: &str = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab";
/// Another: the standing side bend for the quadratus lumborum.
const SIDE_BEND: &str = "05265d94-defe-4733-92b0-2989f34a5b19";
const PROGRAMME: &str = "9b3e7d15-4c2a-4f8e-b061-d5a8c2e4f713";

/// One example: where it goes, a short summary, the value.
enum Example {
    Request(&'static str, Value),
    Response(&'static str, &'static str, Value),
    /// A parameter's value (query, path or header).
    Parameter(&'static str, Value),
}

use Example::{Parameter, Request, Response};

fn meta(id: &str, version: i64, created: &str, updated: &str) -> Value {
    json!({"id": id, "version": version, "created_at": created, "updated_at": updated})
}

/// `a` with the fields of `b` added.
fn with(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

fn problem(status: u16, title: &str, code: &str, detail: &str, errors: Value) -> Value {
    let mut problem = json!({
        "type": format!("urn:painline:problem:{code}"),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    });
    if errors.as_array().is_some_and(|e| !e.is_empty()) {
        problem["errors"] = errors;
    }
    problem
}

fn out_of_range(field: &str, message: &str) -> Example {
    Response(
        "422",
        "A value out of range, named",
        problem(
            422,
            "Unprocessable Entity",
            "validation_failed",
            "One or more fields have values out of range.",
            json!([{"field": field, "message": message}]),
        ),
    )
}

pub fn pain_entry_body() -> Value {
    json!({
        "date": "2026-11-24",
        "pain_level": 6,
        "recorded_at": "2026-11-24T19:42:00Z",
        "regions": ["lower_back_left", "buttock_left"],
        "enjoyment_interference": 5,
        "activity_interference": 7,
        "notes": "Stiff after sitting through a long meeting; better after a short walk."
    })
}

fn pain_entry(version: i64) -> Value {
    let updated = if version == 1 {
        "2026-11-24T19:42:05Z"
    } else {
        "2026-11-25T07:10:31Z"
    };
    with(
        with(
            meta(ENTRY, version, "2026-11-24T19:42:05Z", updated),
            pain_entry_body(),
        ),
        json!({"peg_score": 6.0}),
    )
}

pub fn stretch_session_body() -> Value {
    json!({
        "date": "2026-11-25",
        "stretch_id": KNEE_TO_CHEST,
        "duration_seconds": 90,
        "sets": 3,
        "reps": 10,
        "side": "both",
        "notes": "Before breakfast; the left side pulls more."
    })
}

fn stretch_session() -> Value {
    with(
        meta(
            STRETCH_SESSION,
            1,
            "2026-11-25T06:55:12Z",
            "2026-11-25T06:55:12Z",
        ),
        stretch_session_body(),
    )
}

pub fn massage_session_body() -> Value {
    json!({
        "date": "2026-11-21",
        "started_at": "2026-11-21T16:00:00Z",
        "duration_minutes": 60,
        "technique": "deep_tissue",
        "pressure": "firm",
        "areas": [
            {"muscle": "quadratus_lumborum", "side": "left", "minutes": 25},
            {"muscle": "gluteus_medius", "side": "left", "minutes": 20},
            {"muscle": "piriformis", "side": "both", "minutes": 10}
        ],
        "pain_before": 7,
        "pain_after": 4,
        "notes": "Trigger point in the left QL; stretch it daily until the next session."
    })
}

fn massage_session(by: &str, role: &str) -> Value {
    with(
        with(
            meta(MASSAGE, 1, "2026-11-21T17:05:40Z", "2026-11-21T17:05:40Z"),
            massage_session_body(),
        ),
        json!({"recorded_by": {"id": by, "role": role}}),
    )
}

fn massage_writes(by: &str, role: &str) -> Vec<Example> {
    vec![
        Request("A 60-minute deep-tissue session", massage_session_body()),
        Response("201", "Recorded", massage_session(by, role)),
        Response("200", "Replaced", massage_session(by, role)),
        out_of_range(
            "areas",
            "minutes add up to 75, more than duration_minutes (60)",
        ),
    ]
}

fn trends() -> Value {
    json!({
        "from": "2026-11-01",
        "to": "2026-11-30",
        "intervals": [
            {
                "session_id": EARLIER_MASSAGE,
                "date": "2026-11-06",
                "open": false,
                "days": 14,
                "logged_days": 13,
                "stretch_days": 9,
                "stretch_minutes": 42.5,
                "baseline_pain": 6.6,
                "early_pain": 3.3,
                "relief": 3.3,
                "relief_pct": 0.5,
                "relief_class": "substantial",
                "relief_duration_days": 9,
                "relief_censored": false,
                "mean_pain": 4.4,
                "min_pain": 3.0,
                "max_pain": 6.0,
                "slope_per_day": 0.21,
                "stretch_adherence": 0.643
            },
            {
                "session_id": MASSAGE,
                "date": "2026-11-21",
                "open": true,
                "days": 9,
                "logged_days": 8,
                "stretch_days": 6,
                "stretch_minutes": 31.0,
                "baseline_pain": 5.9,
                "early_pain": 4.0,
                "relief": 1.9,
                "relief_pct": 0.322,
                "relief_class": "moderate",
                "relief_duration_days": 9,
                "relief_censored": true,
                "mean_pain": 4.3,
                "min_pain": 3.0,
                "max_pain": 5.0,
                "slope_per_day": 0.1,
                "stretch_adherence": 0.667,
                "programme_adherence": 0.6
            }
        ],
        "summary": {
            "sessions": 2,
            "responders": 2,
            "classified": 2,
            "logged_days": 28,
            "mean_pain": 4.7,
            "mean_relief": 2.6,
            "mean_relief_duration_days": 9.0,
            "next_session": null,
            "slope_per_week": 0.35,
            "stretch_pain_correlation": -0.41
        }
    })
}

fn range() -> Vec<Example> {
    vec![
        Parameter("from", json!("2026-11-01")),
        Parameter("to", json!("2026-11-30")),
    ]
}

fn overview() -> Value {
    json!({
        "id": ANA,
        "display_name": "Ana Lindqvist",
        "timezone": "Europe/Berlin",
        "today": "2026-11-30",
        "since": "2026-09-14T10:02:11Z",
        "precautions": ["osteoporosis"],
        "alerts": ["pain_rising", "precaution"],
        "needs_attention": true,
        "rules": {"pain_threshold": 8, "spike_delta": 3, "not_logging_days": 4,
                  "adherence_floor": 0.5},
        "programme_adherence_7d": 0.714,
        "avg_pain_7d": 5.4,
        "avg_pain_prev_7d": 4.1,
        "pain_change_7d": 1.3,
        "worst_pain_7d": 7,
        "last_pain_level": 6,
        "last_entry_date": "2026-11-30",
        "days_since_last_entry": 0,
        "last_massage_date": "2026-11-21",
        "days_since_last_massage": 9,
        "stretch_days_7d": 5,
        "last_session": {
            "session_id": MASSAGE,
            "date": "2026-11-21",
            "relief": 1.9,
            "relief_class": "moderate",
            "relief_duration_days": 9,
            "relief_censored": true
        },
        "next_session": null,
        "function_change": {
            "instrument": "odi",
            "previous": 34.0,
            "previous_date": "2026-10-05",
            "latest": 28.0,
            "latest_date": "2026-11-23",
            "change": -6.0,
            "important": false
        },
        "latest_note": {
            "date": "2026-11-24",
            "text": "Stiff after sitting through a long meeting; better after a short walk."
        }
    })
}

pub fn programme_body() -> Value {
    json!({
        "starts_on": "2026-11-23",
        "ends_on": "2027-01-31",
        "note": "Gently: stop short of sharp pain. Breathe out into each stretch.",
        "items": [
            {"stretch_id": SIDE_BEND, "days_per_week": 5, "seconds_per_day": 120,
             "sets": 2, "side": "both", "note": "Hold 30 s each side, twice."},
            {"stretch_id": KNEE_TO_CHEST, "days_per_week": 7, "seconds_per_day": 60}
        ]
    })
}

fn programme(version: i64) -> Value {
    let updated = if version == 1 {
        "2026-11-23T16:05:12Z"
    } else {
        "2026-11-30T15:41:07Z"
    };
    let mut body = programme_body();
    body["items"][1]["sets"] = json!(null);
    body["items"][1]["reps"] = json!(null);
    body["items"][1]["side"] = json!(null);
    body["items"][1]["note"] = json!(null);
    body["items"][0]["reps"] = json!(null);
    with(
        with(
            meta(PROGRAMME, version, "2026-11-23T16:05:12Z", updated),
            body,
        ),
        json!({"updated_by": {"id": WEBER, "display_name": "Dr. Lena Weber"}}),
    )
}

fn weekly_adherence() -> Value {
    let row = |week: &str, stretch: &str, name: &str, prescribed: f64, met: i64, adherence: f64| {
        json!({"week_start": week, "stretch_id": stretch, "stretch_name": name,
               "prescribed": prescribed, "met": met, "adherence": adherence})
    };
    json!({
        "timezone": "Europe/Berlin",
        "today": "2026-12-02",
        "weeks": [
            {"week_start": "2026-11-23", "counted_to": "2026-11-29", "programme_adherence": 0.8},
            {"week_start": "2026-11-30", "counted_to": "2026-12-02", "programme_adherence": 0.567}
        ],
        "rows": [
            row("2026-11-23", SIDE_BEND, "Standing side bend", 5.0, 3, 0.6),
            row("2026-11-23", KNEE_TO_CHEST, "Knee-to-chest", 7.0, 7, 1.0),
            row("2026-11-30", SIDE_BEND, "Standing side bend", 2.143, 1, 0.467),
            row("2026-11-30", KNEE_TO_CHEST, "Knee-to-chest", 3.0, 2, 0.667)
        ]
    })
}

fn tokens(refresh: bool) -> Value {
    let mut tokens = json!({
        "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIzZjJiOGMxZS01ZDRhLTRlN2ItOWM2MS0yYThmMGQ5ZTdiMTQiLCJyb2xlIjoicGF0aWVudCIsImV4cCI6MTc5NjAwNDgwMH0.q7mYk0cT2pQ4x3bQ9Jf1w8kVZcR6uH5sN2aL0dE3gXo",
        "token_type": "Bearer",
        "expires_in": 900,
        "refresh_expires_in": 2_592_000
    });
    if refresh {
        tokens["refresh_token"] = json!("rt_8Qm2vX4kP9sL1wZ7cN3bT6yH0jD5fG2a");
    }
    tokens
}

/// The examples of the operation `id`.
fn examples_of(id: &str) -> Vec<Example> {
    match id {
        "put_pain_entry" | "create_pain_entry" => vec![
            Request("Pain 6 in the evening, with PEG items", pain_entry_body()),
            Response("201", "Created (version 1)", pain_entry(1)),
            Response("200", "Replaced (version 2)", pain_entry(2)),
            out_of_range("pain_level", "must be between 0 and 10"),
        ],
        "put_stretch_session" | "create_stretch_session" => vec![
            Request("Knee to chest, 3 × 10, both sides", stretch_session_body()),
            Response("201", "Created", stretch_session()),
            Response("200", "Replaced", stretch_session()),
            out_of_range("sets", "must be between 1 and 100"),
        ],
        "put_massage_session" | "create_massage_session" => massage_writes(ANA, "patient"),
        "put_patient_massage_session" | "create_patient_massage_session" => {
            massage_writes(WEBER, "therapist")
        }
        "list_changes" => vec![
            Parameter("limit", json!(100)),
            Response(
                "200",
                "A pain entry, a massage session, and a stretch session deleted",
                json!({
                    "changes": [
                        {"kind": "pain_entry", "id": ENTRY, "deleted": false, "version": 2, "data": pain_entry(2)},
                        {"kind": "massage_session", "id": MASSAGE, "deleted": false, "version": 1,
                         "data": massage_session(WEBER, "therapist")},
                        {"kind": "stretch_session", "id": STRETCH_SESSION, "deleted": true, "version": 2, "data": null}
                    ],
                    "next_cursor": "3f9c1d20b7e4-1187",
                    "has_more": false
                }),
            ),
        ],
        "get_my_trends" | "get_patient_trends" => {
            let mut examples = range();
            examples.push(Response("200", "November: two sessions", trends()));
            examples
        }
        "list_patients" => vec![
            Parameter("limit", json!(20)),
            Response(
                "200",
                "One patient, who needs attention",
                json!({"items": [overview()], "next_cursor": null}),
            ),
        ],
        "get_patient" => vec![Response("200", "Ana at a glance", overview())],
        "put_patient_programme" => vec![
            Request(
                "Side bend 5 days a week, knee to chest every day",
                programme_body(),
            ),
            Response("201", "Prescribed (version 1)", programme(1)),
            Response("200", "Replaced (version 2)", programme(2)),
            Response(
                "422",
                "A stretch the patient does not have, named",
                problem(
                    422,
                    "Unprocessable Entity",
                    "validation_failed",
                    "One or more fields have values out of range.",
                    json!([{"field": "items[1].stretch_id",
                            "message": "is not a stretch of the catalog or one of yours"}]),
                ),
            ),
        ],
        "get_my_programme" | "get_patient_programme" => {
            vec![Response("200", "Ana's programme", programme(2))]
        }
        "get_my_programme_adherence" | "get_patient_programme_adherence" => vec![
            Parameter("weeks", json!(2)),
            Response("200", "Last week and this one", weekly_adherence()),
        ],
        "login" => vec![
            Request(
                "E-mail and password",
                json!({"email": "ana@example.org", "password": "correct horse battery staple"}),
            ),
            Response(
                "200",
                "Signed in",
                json!({
                    "user": {
                        "id": ANA,
                        "email": "ana@example.org",
                        "display_name": "Ana Lindqvist",
                        "role": "patient",
                        "timezone": "Europe/Berlin",
                        "email_verified": true,
                        "created_at": "2026-09-01T08:15:00Z",
                        "updated_at": "2026-10-12T18:40:27Z"
                    },
                    "tokens": tokens(true)
                }),
            ),
            Response(
                "401",
                "Unknown e-mail or wrong password (one answer for both)",
                problem(
                    401,
                    "Unauthorized",
                    "invalid_credentials",
                    "The e-mail or password is incorrect.",
                    json!([]),
                ),
            ),
        ],
        "refresh" => vec![
            Request(
                "The refresh token of the last answer",
                json!({"refresh_token": "rt_3kW9pQ1xZ7mB5vN2cL8tY4hJ6gF0dS1e"}),
            ),
            Response(
                "200",
                "New tokens; the old refresh token is spent",
                json!({"tokens": tokens(true)}),
            ),
            Response(
                "401",
                "Unknown, expired or already used",
                problem(
                    401,
                    "Unauthorized",
                    "invalid_refresh_token",
                    "The refresh token is unknown, expired, or was already used.",
                    json!([]),
                ),
            ),
        ],
        _ => Vec::new(),
    }
}

fn example(summary: &str, value: Value) -> RefOr<utoipa::openapi::example::Example> {
    RefOr::T(
        ExampleBuilder::new()
            .summary(summary)
            .value(Some(value))
            .build(),
    )
}

fn add_to(op: &mut Operation) {
    let Some(id) = op.operation_id.clone() else {
        return;
    };
    for item in examples_of(&id) {
        match item {
            Request(summary, value) => {
                for content in op
                    .request_body
                    .iter_mut()
                    .flat_map(|b| b.content.values_mut())
                {
                    content
                        .examples
                        .insert(summary_key(summary), example(summary, value.clone()));
                }
            }
            Response(status, summary, value) => {
                if let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) {
                    for content in response.content.values_mut() {
                        content
                            .examples
                            .insert(summary_key(summary), example(summary, value.clone()));
                    }
                }
            }
            Parameter(name, value) => {
                for parameter in op.parameters.iter_mut().flatten() {
                    if parameter.name == name {
                        *parameter = ParameterBuilder::from(parameter.clone())
                            .example(Some(value.clone()))
                            .build();
                    }
                }
            }
        }
    }
}

/// `Pain 6 in the evening` → `pain_6_in_the_evening`: the example's key.
fn summary_key(summary: &str) -> String {
    let mut key = String::new();
    for c in summary.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    key.trim_end_matches('_').to_owned()
}

/// Adds the examples to the operations of `openapi`.
pub fn add(openapi: &mut OpenApi) {
    for op in super::operations(openapi) {
        add_to(op);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::logbook::Context;
    use crate::kinds::{Kind, MassageSessions, PainEntries, StretchSessions};
    use crate::routes::input::parse_json;

    fn accepted<K: Kind>(value: &Value) {
        let bytes = serde_json::to_vec(value).unwrap();
        let body: K::Body = parse_json(&bytes).unwrap();
        let ctx = Context {
            today: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        };
        assert!(K::validate(&body, &ctx).is_empty(), "{value}");
    }

    /// Each request example is one the server stores (its dates are in
    /// November 2026, before any today the contract runs on).
    #[test]
    fn request_examples_are_accepted() {
        accepted::<PainEntries>(&pain_entry_body());
        accepted::<StretchSessions>(&stretch_session_body());
        accepted::<MassageSessions>(&massage_session_body());
        let programme: crate::kinds::ProgrammeBody =
            parse_json(&serde_json::to_vec(&programme_body()).unwrap()).unwrap();
        let signed = crate::kinds::programme::SignedProgramme {
            programme,
            by: crate::kinds::programme::Prescriber {
                id: uuid::Uuid::parse_str(WEBER).unwrap(),
                display_name: "Dr. Lena Weber".into(),
            },
        };
        assert!(crate::kinds::Programmes::validate(
            &signed,
            &Context {
                today: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
            }
        )
        .is_empty());
        let login: crate::routes::auth::LoginRequest = serde_json::from_value(
            json!({"email": "ana@example.org", "password": "correct horse battery staple"}),
        )
        .unwrap();
        let _ = login;
    }

    /// Every operation the examples name exists, and gets its examples.
    #[test]
    fn every_example_lands_on_an_operation() {
        let doc = crate::openapi::document();
        let ids: Vec<String> = doc
            .paths
            .paths
            .values()
            .flat_map(|item| {
                [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                    .into_iter()
                    .flatten()
                    .filter_map(|op| op.operation_id.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        for id in [
            "put_pain_entry",
            "create_pain_entry",
            "put_stretch_session",
            "create_stretch_session",
            "put_massage_session",
            "create_massage_session",
            "put_patient_massage_session",
            "create_patient_massage_session",
            "list_changes",
            "get_my_trends",
            "get_patient_trends",
            "list_patients",
            "get_patient",
            "put_patient_programme",
            "get_my_programme",
            "get_patient_programme",
            "get_my_programme_adherence",
            "get_patient_programme_adherence",
            "login",
            "refresh",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id}");
            assert!(!examples_of(id).is_empty(), "{id}");
        }
        let yaml = crate::openapi::yaml();
        assert!(yaml.contains("pain_6_in_the_evening_with_peg_items"));
        assert!(yaml.contains("november_two_sessions"));
    }
}
