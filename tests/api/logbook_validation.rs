//! Validation of the logbook: every range and enum is a 422 naming the field,
//! syntax errors are 400, bad query and path parameters are 400, and a
//! rejected write stores nothing and changes nothing. Also: the server scores
//! questionnaires, and text comes back byte for byte.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{read, spawn_app, Reply, TestApp, TestUser};

const PAIN: &str = "/v1/me/pain-entries";
const STRETCH: &str = "/v1/me/stretch-sessions";
const MASSAGE: &str = "/v1/me/massage-sessions";
const ASSESSMENT: &str = "/v1/me/assessments";

/// The patient's today (new accounts are in UTC), shifted by `days`.
fn day(days: i64) -> String {
    (crate::helpers::test_today() + chrono::Duration::days(days)).to_string()
}

/// `base` with the top-level fields of `changes` replaced.
fn with(base: &Value, changes: &Value) -> Value {
    let mut body = base.clone();
    for (key, value) in changes.as_object().unwrap() {
        body[key.as_str()] = value.clone();
    }
    body
}

/// Asserts a 422 `validation_failed` naming exactly `field`.
#[track_caller]
fn assert_invalid(reply: &Reply, field: &str, context: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{context}: {}",
        reply.text
    );
    reply.assert_problem(422, "validation_failed");
    assert_eq!(
        reply.error_fields(),
        vec![field.to_owned()],
        "{context}: {}",
        reply.text
    );
}

/// Sends a raw body as `application/json`.
async fn send_raw(app: &TestApp, method: Method, path: &str, token: &str, content: &str) -> Reply {
    let request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(content.to_owned());
    read(request.send().await.unwrap()).await
}

/// The id of a built-in stretch of the catalog.
async fn builtin_stretch(app: &TestApp, user: &TestUser) -> String {
    let catalog = app.get("/v1/stretches", &user.access).await;
    assert_eq!(catalog.status, StatusCode::OK, "{}", catalog.text);
    catalog.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["custom"] == false)
        .expect("a built-in stretch")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn pain_body() -> Value {
    json!({"date": day(0), "pain_level": 5, "regions": ["lower_back_left"],
           "enjoyment_interference": 4, "activity_interference": 5, "notes": "after work"})
}

fn stretch_body(stretch_id: &str) -> Value {
    json!({"date": day(0), "stretch_id": stretch_id, "duration_seconds": 60,
           "sets": 2, "reps": 10, "side": "both"})
}

fn massage_body() -> Value {
    json!({"date": day(0), "duration_minutes": 60, "technique": "deep_tissue", "pressure": "firm",
           "areas": [{"muscle": "quadratus_lumborum", "side": "left", "minutes": 30},
                     {"muscle": "piriformis", "side": "right", "minutes": 20}],
           "pain_before": 6, "pain_after": 3})
}

fn assessment_body() -> Value {
    json!({"date": day(0), "instrument": "peg", "answers": [7, 5, 5]})
}

async fn records_of(app: &TestApp, user: &TestUser) -> i64 {
    app.count("records", &format!("patient_id = '{}'", user.id))
        .await
}

/// Creates one valid object, then sends each case (fields replaced in
/// `base`) as a POST, as a PUT with a new client id and as a PUT over the
/// existing object: each must be a 422 naming the field, storing nothing and
/// leaving the existing object as it was.
async fn rejects_each(
    app: &TestApp,
    user: &TestUser,
    collection: &str,
    base: &Value,
    cases: &[(Value, &str)],
) {
    let created = app
        .call(
            Method::POST,
            collection,
            Some(&user.access),
            Some(base.clone()),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let existing = format!("{collection}/{}", created.body["id"].as_str().unwrap());
    let before = app.get(&existing, &user.access).await;
    assert_eq!(before.status, StatusCode::OK);
    let stored = records_of(app, user).await;

    for (change, field) in cases {
        let body = with(base, change);
        let context = format!("{collection} {change}");
        let posted = app
            .call(
                Method::POST,
                collection,
                Some(&user.access),
                Some(body.clone()),
            )
            .await;
        assert_invalid(&posted, field, &context);
        let new_id = Uuid::new_v4();
        let put_new = app
            .call(
                Method::PUT,
                &format!("{collection}/{new_id}"),
                Some(&user.access),
                Some(body.clone()),
            )
            .await;
        assert_invalid(&put_new, field, &context);
        assert_eq!(app.count("records", &format!("id = '{new_id}'")).await, 0);
        let put_existing = app
            .call(Method::PUT, &existing, Some(&user.access), Some(body))
            .await;
        assert_invalid(&put_existing, field, &context);
    }

    let after = app.get(&existing, &user.access).await;
    assert_eq!(after.body, before.body, "a rejected PUT changed the object");
    assert_eq!(after.header("etag"), Some("\"1\""));
    assert_eq!(records_of(app, user).await, stored);
}

/// Each case (fields replaced in `base`) is accepted with 201 and stored as sent.
async fn accepts_each(
    app: &TestApp,
    user: &TestUser,
    collection: &str,
    base: &Value,
    cases: &[Value],
) {
    for change in cases {
        let body = with(base, change);
        let created = app
            .call(Method::POST, collection, Some(&user.access), Some(body))
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{collection} {change}: {}",
            created.text
        );
        let path = format!("{collection}/{}", created.body["id"].as_str().unwrap());
        let stored = app.get(&path, &user.access).await;
        assert_eq!(stored.status, StatusCode::OK);
        for (key, value) in change.as_object().unwrap() {
            assert_eq!(&stored.body[key.as_str()], value, "{collection} {change}");
        }
    }
}

#[tokio::test]
async fn logbook_pain_entry_values_out_of_range_are_422_naming_the_field() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    rejects_each(
        &app,
        &user,
        PAIN,
        &pain_body(),
        &[
            (json!({"pain_level": -1}), "pain_level"),
            (json!({"pain_level": 11}), "pain_level"),
            (
                json!({"enjoyment_interference": 11}),
                "enjoyment_interference",
            ),
            (
                json!({"enjoyment_interference": -1}),
                "enjoyment_interference",
            ),
            (
                json!({"activity_interference": 11}),
                "activity_interference",
            ),
            (json!({"regions": ["neck"]}), "regions[0]"),
            (json!({"regions": ["hip_left", "neck"]}), "regions[1]"),
            (json!({"regions": ["hip_left", "hip_left"]}), "regions"),
            (json!({"notes": "é".repeat(2001)}), "notes"),
            (json!({"date": day(2)}), "date"),
            (json!({"date": "1899-12-31"}), "date"),
        ],
    )
    .await;
}

#[tokio::test]
async fn logbook_pain_entry_limits_are_inclusive() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    accepts_each(
        &app,
        &user,
        PAIN,
        &pain_body(),
        &[
            json!({"pain_level": 0, "enjoyment_interference": 0, "activity_interference": 0}),
            json!({"pain_level": 10, "enjoyment_interference": 10, "activity_interference": 10}),
            json!({"regions": ["lower_back_left", "lower_back_right", "lower_back_center",
                               "buttock_left", "buttock_right", "hip_left", "hip_right",
                               "leg_left", "leg_right"]}),
            json!({"regions": []}),
        ],
    )
    .await;
    assert_eq!(records_of(&app, &user).await, 4);
}

#[tokio::test]
async fn logbook_notes_are_limited_to_2000_characters_not_bytes() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    // 2,000 two-byte characters: 4,000 bytes, but within the limit.
    let notes = "é".repeat(2000);
    assert_eq!(notes.len(), 4000);
    let created = app
        .post(
            PAIN,
            Some(&user.access),
            with(&pain_body(), &json!({"notes": notes})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["notes"], notes.as_str());
    let path = format!("{PAIN}/{}", created.body["id"].as_str().unwrap());
    assert_eq!(
        app.get(&path, &user.access).await.body["notes"],
        notes.as_str()
    );

    let too_long = app
        .post(
            PAIN,
            Some(&user.access),
            with(&pain_body(), &json!({"notes": "é".repeat(2001)})),
        )
        .await;
    assert_invalid(&too_long, "notes", "2001 characters");
    // The same for every kind with notes.
    let stretch_id = builtin_stretch(&app, &user).await;
    for (collection, base) in [
        (STRETCH, stretch_body(&stretch_id)),
        (MASSAGE, massage_body()),
    ] {
        let ok = app
            .post(
                collection,
                Some(&user.access),
                with(&base, &json!({"notes": "é".repeat(2000)})),
            )
            .await;
        assert_eq!(ok.status, StatusCode::CREATED, "{collection}: {}", ok.text);
        let too_long = app
            .post(
                collection,
                Some(&user.access),
                with(&base, &json!({"notes": "é".repeat(2001)})),
            )
            .await;
        assert_invalid(&too_long, "notes", collection);
    }
    assert_eq!(records_of(&app, &user).await, 3);
    assert_eq!(
        app.count(
            "records",
            &format!("patient_id = '{}' AND kind = 'pain_entry'", user.id)
        )
        .await,
        1
    );
}

#[tokio::test]
async fn logbook_dates_are_at_most_one_day_after_today_and_not_before_1900() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let stretch_id = builtin_stretch(&app, &user).await;
    let kinds = [
        (PAIN, pain_body()),
        (STRETCH, stretch_body(&stretch_id)),
        (MASSAGE, massage_body()),
        (ASSESSMENT, assessment_body()),
    ];
    for (collection, base) in &kinds {
        rejects_each(
            &app,
            &user,
            collection,
            base,
            &[
                (json!({"date": day(2)}), "date"),
                (json!({"date": day(400)}), "date"),
                (json!({"date": "1899-12-31"}), "date"),
            ],
        )
        .await;
        accepts_each(
            &app,
            &user,
            collection,
            base,
            &[
                json!({"date": day(1)}),
                json!({"date": day(-1)}),
                json!({"date": "1900-01-01"}),
            ],
        )
        .await;
    }
    // One object per kind from `rejects_each`, three from `accepts_each`.
    assert_eq!(records_of(&app, &user).await, 16);
    assert_eq!(
        app.count(
            "records",
            &format!("patient_id = '{}' AND date > '{}'", user.id, day(1))
        )
        .await,
        0
    );
    assert_eq!(
        app.count(
            "records",
            &format!("patient_id = '{}' AND date = '{}'", user.id, day(1))
        )
        .await,
        4
    );
}

#[tokio::test]
async fn logbook_stretch_session_values_are_checked() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let stretch_id = builtin_stretch(&app, &user).await;
    let base = stretch_body(&stretch_id);
    rejects_each(
        &app,
        &user,
        STRETCH,
        &base,
        &[
            (json!({"duration_seconds": 0}), "duration_seconds"),
            (json!({"duration_seconds": 7201}), "duration_seconds"),
            (json!({"sets": 0}), "sets"),
            (json!({"sets": 101}), "sets"),
            (json!({"reps": 1001}), "reps"),
            (
                json!({"stretch_id": Uuid::new_v4().to_string()}),
                "stretch_id",
            ),
            (json!({"side": "up"}), "side"),
        ],
    )
    .await;
    accepts_each(
        &app,
        &user,
        STRETCH,
        &base,
        &[
            json!({"duration_seconds": 1, "sets": 1, "reps": 1, "side": "left"}),
            json!({"duration_seconds": 7200, "sets": 100, "reps": 1000, "side": "right"}),
        ],
    )
    .await;
    assert_eq!(records_of(&app, &user).await, 3);
}

#[tokio::test]
async fn logbook_massage_session_values_are_checked() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let base = massage_body();
    rejects_each(
        &app,
        &user,
        MASSAGE,
        &base,
        &[
            (
                json!({"duration_minutes": 0, "areas": []}),
                "duration_minutes",
            ),
            (json!({"duration_minutes": 301}), "duration_minutes"),
            (json!({"technique": "reiki"}), "technique"),
            (json!({"pressure": "crushing"}), "pressure"),
            // 30 + 20 = 50 minutes do not fit in 45.
            (json!({"duration_minutes": 45}), "areas"),
            (
                json!({"areas": [{"muscle": "piriformis", "side": "left", "minutes": 61}]}),
                "areas",
            ),
            (
                json!({"areas": [{"muscle": "neck", "side": "left", "minutes": 10}]}),
                "areas[0].muscle",
            ),
            (
                json!({"areas": [{"muscle": "piriformis", "side": "left", "minutes": 10},
                                 {"muscle": "piriformis", "side": "up", "minutes": 10}]}),
                "areas[1].side",
            ),
            (json!({"pain_before": 11}), "pain_before"),
            (json!({"pain_after": -1}), "pain_after"),
        ],
    )
    .await;
    accepts_each(
        &app,
        &user,
        MASSAGE,
        &base,
        &[
            // The areas may fill the session exactly.
            json!({"duration_minutes": 50, "pain_before": 0, "pain_after": 10}),
            json!({"duration_minutes": 1, "areas": [], "technique": "other"}),
            json!({"duration_minutes": 300, "areas": [{"muscle": "hamstrings", "side": "both", "minutes": 300}]}),
        ],
    )
    .await;
    assert_eq!(records_of(&app, &user).await, 4);
}

#[tokio::test]
async fn logbook_assessment_answers_are_checked() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let mut rmdq = vec![json!(0); 24];
    rmdq[3] = json!(2);
    rejects_each(
        &app,
        &user,
        ASSESSMENT,
        &assessment_body(),
        &[
            (json!({"answers": [7, 5]}), "answers"),
            (json!({"answers": [7, 5, 5, 5]}), "answers"),
            (json!({"answers": [7, 11, 5]}), "answers[1]"),
            (json!({"answers": [7, null, 5]}), "answers[1]"),
            (
                json!({"instrument": "odi", "answers": [1, 1, 1, 1, 1, 1, 1, null, null, null]}),
                "answers",
            ),
            (
                json!({"instrument": "odi", "answers": [1, 1, 1, 1, 6, 1, 1, 1, 1, 1]}),
                "answers[4]",
            ),
            (
                json!({"instrument": "odi", "answers": [1, 1, 1, 1, 1, 1, 1, 1, 1]}),
                "answers",
            ),
            (json!({"instrument": "rmdq", "answers": rmdq}), "answers[3]"),
            (json!({"instrument": "sf36"}), "instrument"),
        ],
    )
    .await;
    assert_eq!(records_of(&app, &user).await, 1);
}

#[tokio::test]
async fn logbook_assessments_are_scored_on_the_server() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let mut rmdq = vec![json!(0); 24];
    for i in [0, 5, 9, 23] {
        rmdq[i] = json!(1);
    }
    let cases = [
        (
            json!({"date": day(0), "instrument": "odi", "answers": [3, 3, 3, 3, 3, 3, 3, 3, 3, null]}),
            60.0,
            100,
            json!("severe"),
        ),
        (
            json!({"date": day(0), "instrument": "peg", "answers": [7, 5, 5]}),
            5.667,
            10,
            Value::Null,
        ),
        (
            json!({"date": day(0), "instrument": "rmdq", "answers": rmdq}),
            4.0,
            24,
            Value::Null,
        ),
    ];
    for (body, score, max_score, band) in cases {
        let created = app.post(ASSESSMENT, Some(&user.access), body.clone()).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let path = format!("{ASSESSMENT}/{}", created.body["id"].as_str().unwrap());
        let stored = app.get(&path, &user.access).await;
        for reply in [&created, &stored] {
            assert_eq!(reply.body["score"].as_f64(), Some(score), "{}", reply.text);
            assert_eq!(reply.body["max_score"], max_score, "{}", reply.text);
            assert_eq!(reply.body["band"], band, "{}", reply.text);
            assert_eq!(reply.body["answers"], body["answers"]);
            assert_eq!(reply.body["instrument"], body["instrument"]);
        }
    }
    let list = app.get(ASSESSMENT, &user.access).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 3);
    // Only the answers are stored; scores are computed on every read.
    assert_eq!(
        app.count("records", "kind = 'assessment' AND data NOT LIKE '%score%'")
            .await,
        3
    );
}

#[tokio::test]
async fn logbook_pain_entries_with_both_interference_scores_carry_a_peg_score() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let both = app
        .post(
            PAIN,
            Some(&user.access),
            json!({"date": day(0), "pain_level": 6, "enjoyment_interference": 4, "activity_interference": 5}),
        )
        .await;
    assert_eq!(both.status, StatusCode::CREATED, "{}", both.text);
    assert_eq!(both.body["peg_score"].as_f64(), Some(5.0));
    let one = app
        .post(
            PAIN,
            Some(&user.access),
            json!({"date": day(0), "pain_level": 6, "enjoyment_interference": 4}),
        )
        .await;
    assert_eq!(one.status, StatusCode::CREATED, "{}", one.text);
    assert_eq!(one.body["peg_score"], Value::Null);
    for (created, expected) in [(&both, Some(5.0)), (&one, None)] {
        let path = format!("{PAIN}/{}", created.body["id"].as_str().unwrap());
        let stored = app.get(&path, &user.access).await;
        assert_eq!(stored.body["peg_score"].as_f64(), expected);
        assert_eq!(stored.body["regions"], json!([]));
    }
    assert_eq!(records_of(&app, &user).await, 2);
}

#[tokio::test]
async fn logbook_precautions_are_validated() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let token = Some(user.access.as_str());
    let flu = "/v1/me/conditions/flu";
    let put = app
        .call(Method::PUT, flu, token, Some(json!({"note": "a cold"})))
        .await;
    assert_invalid(&put, "condition", "PUT flu");
    assert_invalid(&app.get(flu, &user.access).await, "condition", "GET flu");
    assert_invalid(
        &app.call(Method::DELETE, flu, token, None).await,
        "condition",
        "DELETE flu",
    );
    assert_eq!(records_of(&app, &user).await, 0);

    let osteoporosis = "/v1/me/conditions/osteoporosis";
    let declared = app
        .call(
            Method::PUT,
            osteoporosis,
            token,
            Some(json!({"note": "é".repeat(2000)})),
        )
        .await;
    assert_eq!(declared.status, StatusCode::CREATED, "{}", declared.text);
    let before = app.get(osteoporosis, &user.access).await;
    let too_long = app
        .call(
            Method::PUT,
            osteoporosis,
            token,
            Some(json!({"note": "é".repeat(2001)})),
        )
        .await;
    assert_invalid(&too_long, "note", "note of 2001 characters");
    let fresh = app
        .call(
            Method::PUT,
            "/v1/me/conditions/pregnancy",
            token,
            Some(json!({"note": "x".repeat(2001)})),
        )
        .await;
    assert_invalid(&fresh, "note", "note of 2001 characters, new condition");
    let unknown = app
        .call(
            Method::PUT,
            osteoporosis,
            token,
            Some(json!({"note": "x", "severity": 3})),
        )
        .await;
    unknown.assert_problem(400, "invalid_body");

    let after = app.get(osteoporosis, &user.access).await;
    assert_eq!(after.body, before.body);
    assert_eq!(after.body["note"], "é".repeat(2000).as_str());
    let list = app.get("/v1/me/conditions", &user.access).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["condition"], "osteoporosis");
    assert_eq!(records_of(&app, &user).await, 1);
}

#[tokio::test]
async fn logbook_malformed_bodies_are_400_naming_the_field() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let created = app.post(PAIN, Some(&user.access), pain_body()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let existing = format!("{PAIN}/{}", created.body["id"].as_str().unwrap());
    let before = app.get(&existing, &user.access).await;

    let unknown = with(&pain_body(), &json!({"mood": "grumpy"})).to_string();
    let wrong_type = with(&pain_body(), &json!({"pain_level": "5"})).to_string();
    let bad_date = with(&pain_body(), &json!({"date": "25/11/2026"})).to_string();
    let mut missing = pain_body();
    missing.as_object_mut().unwrap().remove("pain_level");
    let missing = missing.to_string();
    let trailing = format!("{} x", pain_body());
    let fresh = format!("{PAIN}/{}", Uuid::new_v4());
    for path in [PAIN, fresh.as_str(), existing.as_str()] {
        let method = if path == PAIN {
            Method::POST
        } else {
            Method::PUT
        };
        let reply = send_raw(&app, method.clone(), path, &user.access, &unknown).await;
        reply.assert_problem(400, "invalid_body");
        assert!(
            reply.body["detail"].as_str().unwrap().contains("mood"),
            "{}",
            reply.text
        );

        let reply = send_raw(&app, method.clone(), path, &user.access, &wrong_type).await;
        reply.assert_problem(400, "invalid_body");
        assert_eq!(reply.error_fields(), vec!["pain_level"], "{}", reply.text);

        let reply = send_raw(&app, method.clone(), path, &user.access, &bad_date).await;
        reply.assert_problem(400, "invalid_body");
        assert_eq!(reply.error_fields(), vec!["date"], "{}", reply.text);

        let reply = send_raw(&app, method.clone(), path, &user.access, &missing).await;
        reply.assert_problem(400, "invalid_body");

        for malformed in ["{\"date\": ", "", "{\"pain_level\": 5,}", &trailing] {
            let reply = send_raw(&app, method.clone(), path, &user.access, malformed).await;
            reply.assert_problem(400, "malformed_json");
        }
    }

    // Nested fields are named by their path.
    let nested = with(
        &massage_body(),
        &json!({"areas": [{"muscle": "piriformis", "side": "left", "minutes": "5"}]}),
    );
    let reply = send_raw(
        &app,
        Method::POST,
        MASSAGE,
        &user.access,
        &nested.to_string(),
    )
    .await;
    reply.assert_problem(400, "invalid_body");
    assert_eq!(reply.error_fields(), vec!["areas[0].minutes"]);
    let stretch = json!({"date": day(0), "stretch_id": "not-a-uuid", "duration_seconds": 60});
    let reply = send_raw(
        &app,
        Method::POST,
        STRETCH,
        &user.access,
        &stretch.to_string(),
    )
    .await;
    reply.assert_problem(400, "invalid_body");
    assert_eq!(reply.error_fields(), vec!["stretch_id"]);

    let after = app.get(&existing, &user.access).await;
    assert_eq!(after.body, before.body);
    assert_eq!(records_of(&app, &user).await, 1);
}

#[tokio::test]
async fn logbook_list_query_parameters_are_checked() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    for _ in 0..2 {
        let created = app.post(PAIN, Some(&user.access), pain_body()).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    }
    for collection in [PAIN, STRETCH, MASSAGE, ASSESSMENT] {
        for (query, field) in [
            ("limit=1001", "limit"),
            ("limit=0", "limit"),
            ("limit=-5", "limit"),
            ("from=2026-02-01&to=2026-01-01", "from"),
            ("from=2024-01-01&to=2027-01-01", "to"),
            ("cursor=garbage", "cursor"),
            ("color=blue", "color"),
            ("from=-5000-01-01", "from"),
            ("to=%2B10000-01-01", "to"),
        ] {
            let reply = app
                .get(&format!("{collection}?{query}"), &user.access)
                .await;
            reply.assert_problem(400, "invalid_query");
            assert_eq!(
                reply.error_fields(),
                vec![field],
                "{collection}?{query}: {}",
                reply.text
            );
        }
        for query in ["limit=ten", "from=yesterday", "to=2026-13-01"] {
            let reply = app
                .get(&format!("{collection}?{query}"), &user.access)
                .await;
            reply.assert_problem(400, "invalid_query");
        }
        // The limits themselves are fine: 1 and 1000, exactly 1,096 days.
        for query in [
            "limit=1",
            "limit=1000",
            "from=2024-01-01&to=2026-12-31",
            "from=2026-01-01&to=2026-01-01",
        ] {
            let reply = app
                .get(&format!("{collection}?{query}"), &user.access)
                .await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{collection}?{query}: {}",
                reply.text
            );
        }
    }
    // A cursor the API returned works.
    let first = app.get(&format!("{PAIN}?limit=1"), &user.access).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(&format!("{PAIN}?limit=1&cursor={cursor}"), &user.access)
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_ne!(second.body["items"][0]["id"], first.body["items"][0]["id"]);
    assert_eq!(records_of(&app, &user).await, 2);
}

#[tokio::test]
async fn logbook_sync_feed_parameters_are_checked() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let created = app.post(PAIN, Some(&user.access), pain_body()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    for (query, field) in [
        ("cursor=abc", "cursor"),
        ("cursor=-1", "cursor"),
        ("cursor=1.5", "cursor"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("since=0", "since"),
    ] {
        let reply = app
            .get(&format!("/v1/me/changes?{query}"), &user.access)
            .await;
        reply.assert_problem(400, "invalid_query");
        assert_eq!(reply.error_fields(), vec![field], "{query}: {}", reply.text);
    }
    let all = app.get("/v1/me/changes?cursor=0", &user.access).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.body["changes"].as_array().unwrap().len(), 1);
    assert_eq!(records_of(&app, &user).await, 1);
}

#[tokio::test]
async fn logbook_path_ids_must_be_uuids() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let stretch_id = builtin_stretch(&app, &user).await;
    let kinds = [
        (PAIN, pain_body()),
        (STRETCH, stretch_body(&stretch_id)),
        (MASSAGE, massage_body()),
        (ASSESSMENT, assessment_body()),
        ("/v1/me/stretches", json!({"name": "Wall calf stretch"})),
    ];
    for (collection, body) in kinds {
        for bad in ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"] {
            let path = format!("{collection}/{bad}");
            for (method, body) in [
                (Method::GET, None),
                (Method::PUT, Some(body.clone())),
                (Method::DELETE, None),
            ] {
                let reply = app
                    .call(method.clone(), &path, Some(&user.access), body)
                    .await;
                reply.assert_problem(400, "invalid_path");
            }
        }
    }
    assert_eq!(records_of(&app, &user).await, 0);
}

#[tokio::test]
async fn logbook_text_round_trips_byte_for_byte() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let notes = "Zoë 🙂👩🏽‍⚕️ \"double\" 'single' `back` \\ / مرحبا، ظهري يؤلمني שלום, הגב כואב \u{200F}mixed\u{200E} \
                 <b>&amp;</b> '; DROP TABLE records;-- %_ \n\ttab\r\nline ½ 漢字";
    let created = app
        .post(
            PAIN,
            Some(&user.access),
            with(&pain_body(), &json!({"notes": notes})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["notes"], notes);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let stored = app.get(&format!("{PAIN}/{id}"), &user.access).await;
    assert_eq!(stored.body["notes"], notes);
    let list = app.get(PAIN, &user.access).await;
    assert_eq!(list.body["items"][0]["notes"], notes);

    let name = "تمدد الظهر 🧘 \"O'Brien\"; DROP TABLE records;--";
    let own = app
        .post(
            "/v1/me/stretches",
            Some(&user.access),
            json!({"name": name, "description": notes, "targets": ["piriformis"]}),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.text);
    let own_id = own.body["id"].as_str().unwrap().to_owned();
    let own_stored = app
        .get(&format!("/v1/me/stretches/{own_id}"), &user.access)
        .await;
    assert_eq!(own_stored.body["name"], name);
    assert_eq!(own_stored.body["description"], notes);

    let condition = app
        .call(
            Method::PUT,
            "/v1/me/conditions/other",
            Some(&user.access),
            Some(json!({"note": notes})),
        )
        .await;
    assert_eq!(condition.status, StatusCode::CREATED, "{}", condition.text);
    assert_eq!(
        app.get("/v1/me/conditions/other", &user.access).await.body["note"],
        notes
    );

    let feed = app.get("/v1/me/changes", &user.access).await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    let changes = feed.body["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{}", feed.text);
    let find = |kind: &str| {
        changes
            .iter()
            .find(|c| c["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in the feed"))
    };
    assert_eq!(find("pain_entry")["id"], id.as_str());
    assert_eq!(find("pain_entry")["data"]["notes"], notes);
    assert_eq!(find("stretch")["data"]["name"], name);
    assert_eq!(find("stretch")["data"]["description"], notes);
    assert_eq!(find("condition")["data"]["note"], notes);

    // The records table is intact and holds exactly these three.
    assert_eq!(app.count("records", "1 = 1").await, 3);
    assert_eq!(records_of(&app, &user).await, 3);
}
