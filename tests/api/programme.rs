//! The home programme as the care team and the patient's phone use it: a
//! therapist prescribes, a colleague replaces it with `If-Match`, a stale
//! edit is refused, the patient reads it (online and through the sync
//! feed), the history keeps every version, and ending it keeps the plan
//! in the history while it leaves the phone.

use chrono::Days;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{link, patient_with, spawn_app, test_today, Reply, TestApp, TestUser};

const KNEE_TO_CHEST: &str = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab";
const SIDE_BEND: &str = "05265d94-defe-4733-92b0-2989f34a5b19";

fn plan(starts_on: &str) -> Value {
    json!({
        "starts_on": starts_on,
        "note": "Gently, never into sharp pain.",
        "items": [
            {"stretch_id": SIDE_BEND, "days_per_week": 5, "seconds_per_day": 120,
             "sets": 2, "side": "both", "note": "Hold 30 s each side."},
            {"stretch_id": KNEE_TO_CHEST, "days_per_week": 7, "seconds_per_day": 60},
        ]
    })
}

async fn put(
    app: &TestApp,
    therapist: &TestUser,
    patient: &TestUser,
    if_match: Option<&str>,
    body: Value,
) -> Reply {
    let mut request = app
        .client
        .put(app.url(&format!("/v1/patients/{}/programme", patient.id)))
        .bearer_auth(&therapist.access)
        .json(&body);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    crate::helpers::read(request.send().await.unwrap()).await
}

async fn end(app: &TestApp, therapist: &TestUser, patient: &TestUser) -> Reply {
    app.call(
        Method::DELETE,
        &format!("/v1/patients/{}/programme", patient.id),
        Some(&therapist.access),
        None,
    )
    .await
}

fn day(offset: i64) -> String {
    let today = test_today();
    let day = if offset >= 0 {
        today.checked_add_days(Days::new(offset.unsigned_abs()))
    } else {
        today.checked_sub_days(Days::new(offset.unsigned_abs()))
    };
    day.unwrap().to_string()
}

async fn versions_stored(app: &TestApp, patient: &TestUser) -> i64 {
    app.count(
        "programme_versions",
        &format!("patient_id = '{}'", patient.id),
    )
    .await
}

#[tokio::test]
async fn the_care_team_shares_one_programme_and_a_stale_edit_is_refused() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let (dana, eli) = (
        app.register_therapist().await,
        app.register_therapist().await,
    );
    link(&app, &dana, &patient).await;
    link(&app, &eli, &patient).await;
    let mine = "/v1/me/programme";
    app.get(mine, &patient.access)
        .await
        .assert_problem(404, "not_found");

    let first = put(&app, &dana, &patient, None, plan(&day(0))).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(
        first.header("location"),
        Some(format!("/v1/patients/{}/programme", patient.id).as_str())
    );
    assert_eq!(first.header("etag"), Some("\"1\""));
    assert_eq!(first.body["version"], 1);
    assert_eq!(first.body["updated_by"]["id"], dana.id.as_str());
    assert!(first.body["updated_by"]["display_name"]
        .as_str()
        .unwrap()
        .starts_with("therapist"));
    assert_eq!(first.body["items"][0]["seconds_per_day"], 120);
    assert_eq!(first.body["items"][0]["side"], "both");
    assert_eq!(first.body["items"][1]["sets"], Value::Null);

    // The patient reads what was prescribed, as it was answered.
    let read = app.get(mine, &patient.access).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, first.body);
    assert_eq!(read.header("etag"), Some("\"1\""));

    // A colleague replaces it, naming the version they read.
    let mut shorter = plan(&day(0));
    shorter["items"][0]["days_per_week"] = json!(3);
    let second = put(&app, &eli, &patient, Some("\"1\""), shorter.clone()).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body["version"], 2);
    assert_eq!(second.body["updated_by"]["id"], eli.id.as_str());

    // Dana's edit of the version she read is refused, and told the current one.
    let mut stale = plan(&day(0));
    stale["note"] = json!("Stale edit");
    let refused = put(&app, &dana, &patient, Some("\"1\""), stale).await;
    refused.assert_problem(412, "precondition_failed");
    assert_eq!(refused.header("etag"), Some("\"2\""));
    assert_eq!(refused.body["version"], 2);
    let stored = app.get(mine, &patient.access).await;
    assert_eq!(stored.body["items"][0]["days_per_week"], 3);
    assert_eq!(stored.body["note"], "Gently, never into sharp pain.");

    // Eli's retry of a lost answer changes nothing.
    let replay = put(&app, &eli, &patient, Some("\"1\""), shorter).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body["version"], 2);
    assert_eq!(versions_stored(&app, &patient).await, 2);

    // The history, newest first, a page at a time.
    let page = app
        .get("/v1/me/programme/history?limit=1", &patient.access)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["items"][0]["version"], 2);
    assert_eq!(page.body["items"][0]["in_force_from"], day(0));
    assert_eq!(page.body["items"][0]["ended"], false);
    let cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .get(
            &format!(
                "/v1/patients/{}/programme/history?cursor={cursor}",
                patient.id
            ),
            &dana.access,
        )
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.text);
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["items"][0]["version"], 1);
    assert_eq!(rest.body["items"][0]["items"][0]["days_per_week"], 5);
    assert_eq!(rest.body["items"][0]["updated_by"]["id"], dana.id.as_str());
    assert_eq!(rest.body["next_cursor"], Value::Null);
    app.get("/v1/me/programme/history?cursor=abc", &patient.access)
        .await
        .assert_problem(400, "invalid_query");

    // Every therapist read is in the patient's access log.
    let log = app.get("/v1/me/access-log", &patient.access).await;
    let paths: Vec<(&str, &str)> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["path"].as_str().unwrap(),
                row["action"].as_str().unwrap(),
            )
        })
        .collect();
    let theirs = format!("/v1/patients/{}/programme", patient.id);
    assert!(paths.contains(&(theirs.as_str(), "write")), "{paths:?}");
    let history = format!("{theirs}/history");
    assert!(paths.contains(&(history.as_str(), "read")), "{paths:?}");
}

#[tokio::test]
async fn a_bad_programme_is_refused_naming_the_item_and_nothing_is_stored() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let other = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    let own = |token: &str| {
        let token = token.to_owned();
        let app = &app;
        async move {
            let made = app
                .post(
                    "/v1/me/stretches",
                    Some(&token),
                    json!({"name": "Doorway hang", "targets": ["latissimus_dorsi"]}),
                )
                .await;
            assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
            made.body["id"].as_str().unwrap().to_owned()
        }
    };
    let foreign = own(&other.access).await;
    let theirs = own(&patient.access).await;
    let item = |id: &str, days: i64| json!({"stretch_id": id, "days_per_week": days, "seconds_per_day": 60});

    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"starts_on": day(0), "items": [item(KNEE_TO_CHEST, 5), item(&Uuid::new_v4().to_string(), 5)]}),
            vec!["items[1].stretch_id"],
        ),
        (
            json!({"starts_on": day(0), "items": [item(&foreign, 5)]}),
            vec!["items[0].stretch_id"],
        ),
        (
            json!({"starts_on": day(0), "items": [item(KNEE_TO_CHEST, 5), item(KNEE_TO_CHEST, 3)]}),
            vec!["items[1].stretch_id"],
        ),
        (
            json!({"starts_on": day(0), "items": [item(KNEE_TO_CHEST, 0), item(SIDE_BEND, 8)]}),
            vec!["items[0].days_per_week", "items[1].days_per_week"],
        ),
        (
            json!({"starts_on": day(0), "items": (0..21).map(|_| item(&Uuid::new_v4().to_string(), 3)).collect::<Vec<_>>()}),
            vec!["items"],
        ),
        (json!({"starts_on": day(0), "items": []}), vec!["items"]),
        (
            json!({"starts_on": day(0), "ends_on": day(-1), "items": [item(KNEE_TO_CHEST, 5)]}),
            vec!["ends_on"],
        ),
    ];
    for (body, fields) in cases {
        let reply = put(&app, &therapist, &patient, None, body.clone()).await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), fields, "{body}");
    }
    // An unknown field and a wrong type name the field too (400).
    let typo = put(
        &app,
        &therapist,
        &patient,
        None,
        json!({"starts_on": day(0), "items": [{"stretch_id": KNEE_TO_CHEST, "days_per_week": 5, "seconds_per_day": 60, "minutes": 2}]}),
    )
    .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST, "{}", typo.text);
    assert!(typo.text.contains("items[0]"), "{}", typo.text);
    assert_eq!(versions_stored(&app, &patient).await, 0);
    assert_eq!(
        app.count(
            "records",
            &format!("patient_id = '{}' AND kind = 'programme'", patient.id)
        )
        .await,
        0
    );

    // The patient's own stretch is a stretch of theirs, in the catalog the
    // therapist prescribes from.
    let catalog = app
        .get(
            &format!("/v1/patients/{}/stretches", patient.id),
            &therapist.access,
        )
        .await;
    let ids: Vec<&str> = catalog.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&theirs.as_str()) && ids.contains(&KNEE_TO_CHEST));
    assert!(!ids.contains(&foreign.as_str()));
    let ok = put(
        &app,
        &therapist,
        &patient,
        None,
        json!({"starts_on": day(0), "items": [item(&theirs, 4)]}),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
}

#[tokio::test]
async fn the_patient_reads_the_programme_and_cannot_write_it() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    let put_own = app
        .call(
            Method::PUT,
            "/v1/me/programme",
            Some(&patient.access),
            Some(plan(&day(0))),
        )
        .await;
    put_own.assert_problem(405, "method_not_allowed");
    assert_eq!(put_own.header("allow"), Some("GET, HEAD"));
    let as_therapist = put(&app, &patient, &patient, None, plan(&day(0))).await;
    as_therapist.assert_problem(403, "therapists_only");
    assert_eq!(versions_stored(&app, &patient).await, 0);
}

/// A phone without a connection has the programme from its sync feed, and
/// is told when it ends; the history keeps the ended plan, ending today.
#[tokio::test]
async fn ending_the_programme_leaves_the_phone_and_stays_in_the_history() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    let mut open_ended = plan(&day(-10));
    open_ended["ends_on"] = json!(day(30));
    let created = put(&app, &therapist, &patient, None, open_ended).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    let feed = app.get("/v1/me/changes", &patient.access).await;
    let change = &feed.body["changes"][0];
    assert_eq!(change["kind"], "programme");
    assert_eq!(change["data"], created.body);
    let cursor = feed.body["next_cursor"].as_str().unwrap().to_owned();

    let ended = end(&app, &therapist, &patient).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
    app.get("/v1/me/programme", &patient.access)
        .await
        .assert_problem(404, "not_found");
    let feed = app
        .get(&format!("/v1/me/changes?cursor={cursor}"), &patient.access)
        .await;
    assert_eq!(feed.body["changes"].as_array().unwrap().len(), 1);
    let gone = &feed.body["changes"][0];
    assert_eq!(
        (&gone["kind"], &gone["deleted"], &gone["id"]),
        (&json!("programme"), &json!(true), &change["id"])
    );
    assert_eq!(gone["data"], Value::Null);

    let history = app
        .get(
            &format!("/v1/patients/{}/programme/history", patient.id),
            &therapist.access,
        )
        .await;
    let last = &history.body["items"][0];
    assert_eq!(last["ended"], true);
    assert_eq!(last["version"], 2);
    assert_eq!(last["ends_on"], day(0));
    assert_eq!(last["starts_on"], day(-10));
    assert_eq!(last["items"].as_array().unwrap().len(), 2);

    // Ending it again changes nothing; prescribing again starts afresh.
    assert_eq!(
        end(&app, &therapist, &patient).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(versions_stored(&app, &patient).await, 2);
    let again = put(&app, &therapist, &patient, None, plan(&day(0))).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.body["version"], 3);
    assert_eq!(again.body["id"], change["id"]);
    assert_eq!(again.body["ends_on"], Value::Null);
}

/// A programme that had already ended keeps its own end when it is ended.
#[tokio::test]
async fn ending_a_programme_that_already_ended_keeps_its_last_day() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    let mut past = plan(&day(-30));
    past["ends_on"] = json!(day(-3));
    assert_eq!(
        put(&app, &therapist, &patient, None, past).await.status,
        StatusCode::CREATED
    );
    let stale = app
        .client
        .delete(app.url(&format!("/v1/patients/{}/programme", patient.id)))
        .bearer_auth(&therapist.access)
        .header("If-Match", "\"7\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(versions_stored(&app, &patient).await, 1);
    assert_eq!(
        end(&app, &therapist, &patient).await.status,
        StatusCode::NO_CONTENT
    );
    let history = app.get("/v1/me/programme/history", &patient.access).await;
    assert_eq!(history.body["items"][0]["ends_on"], day(-3));
}

/// A version is in force from the patient's local day it was saved: at
/// noon UTC it is already tomorrow in Auckland.
#[tokio::test]
async fn a_version_is_in_force_from_the_patients_own_day() {
    let app = spawn_app().await;
    let patient = patient_with(&app, json!({"timezone": "Pacific/Kiritimati"})).await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    assert_eq!(
        put(&app, &therapist, &patient, None, plan(&day(0)))
            .await
            .status,
        StatusCode::CREATED
    );
    let history = app.get("/v1/me/programme/history", &patient.access).await;
    // UTC+14: noon UTC is 02:00 of the next day there.
    assert_eq!(history.body["items"][0]["in_force_from"], day(1));
}

/// The programme is the patient's data: in both exports, and erased with
/// the account, history and all.
#[tokio::test]
async fn the_programme_is_exported_and_erased_with_the_account() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    let created = put(&app, &therapist, &patient, None, plan(&day(0))).await;
    let mut changed = plan(&day(0));
    changed["items"][1]["days_per_week"] = json!(4);
    assert_eq!(
        put(&app, &therapist, &patient, None, changed).await.status,
        StatusCode::OK
    );

    let own = app.get("/v1/me/export?format=json", &patient.access).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert_eq!(own.body["programme"][0]["version"], 2);
    assert_eq!(own.body["programme"][0]["items"][1]["days_per_week"], 4);
    let versions: Vec<i64> = own.body["programme_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    assert_eq!(
        own.body["programme_history"][1]["items"],
        created.body["items"]
    );
    let theirs = app
        .get(
            &format!("/v1/patients/{}/export?format=json", patient.id),
            &therapist.access,
        )
        .await;
    assert_eq!(theirs.body["programme"], own.body["programme"]);
    assert_eq!(
        theirs.body["programme_history"],
        own.body["programme_history"]
    );

    let erased = app
        .call(
            Method::DELETE,
            "/v1/me",
            Some(&patient.access),
            Some(json!({"password": crate::helpers::PASSWORD})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.text);
    assert_eq!(versions_stored(&app, &patient).await, 0);
    assert_eq!(
        app.count("records", &format!("patient_id = '{}'", patient.id))
            .await,
        0
    );
}

async fn stretched(app: &TestApp, patient: &TestUser, date: &str, stretch: &str, seconds: i64) {
    let logged = app
        .post(
            "/v1/me/stretch-sessions",
            Some(&patient.access),
            json!({"date": date, "stretch_id": stretch, "duration_seconds": seconds}),
        )
        .await;
    assert_eq!(logged.status, StatusCode::CREATED, "{}", logged.text);
}

async fn logs_pain(app: &TestApp, patient: &TestUser, date: &str) {
    let logged = app
        .post(
            "/v1/me/pain-entries",
            Some(&patient.access),
            json!({"date": date, "pain_level": 4}),
        )
        .await;
    assert_eq!(logged.status, StatusCode::CREATED, "{}", logged.text);
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> Reply {
    let reply = app.call(method, path, Some(token), Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
    reply
}

/// Two sessions of a day add up to its daily time; a second short is not
/// enough. The overview says how far the plan was followed this week, the
/// floor (the therapist's default, a patient's override) decides
/// `low_adherence`, and a patient who falls below it comes first.
#[tokio::test]
async fn adherence_is_measured_against_the_plan_and_the_floor_decides_the_alert() {
    // A token that outlives the simulated day.
    let app = crate::helpers::spawn_app_with(|s| s.access_ttl = 3 * 86_400).await;
    let low = patient_with(&app, json!({"display_name": "Zed Low"})).await;
    let calm = patient_with(&app, json!({"display_name": "Aaron Calm"})).await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &low).await;
    link(&app, &therapist, &calm).await;
    for patient in [&low, &calm] {
        logs_pain(&app, patient, &day(0)).await;
    }
    let body = json!({"starts_on": day(-10), "items": [
        {"stretch_id": SIDE_BEND, "days_per_week": 7, "seconds_per_day": 120},
        {"stretch_id": KNEE_TO_CHEST, "days_per_week": 7, "seconds_per_day": 60},
    ]});
    assert_eq!(
        put(&app, &therapist, &low, None, body).await.status,
        StatusCode::CREATED
    );
    // Nothing done yet today: a programme saved this morning is not missed.
    let fresh = app
        .get(&format!("/v1/patients/{}", low.id), &therapist.access)
        .await;
    assert_eq!(fresh.body["programme_adherence_7d"], Value::Null);
    assert_eq!(fresh.body["alerts"], json!([]));
    stretched(&app, &low, &day(0), SIDE_BEND, 60).await;
    stretched(&app, &low, &day(0), SIDE_BEND, 60).await;
    stretched(&app, &low, &day(0), KNEE_TO_CHEST, 59).await;
    // The next day, nothing done yet: yesterday is judged, today not yet.
    app.clock.advance(chrono::Duration::days(1));

    let overview = |patient: &TestUser| {
        let path = format!("/v1/patients/{}", patient.id);
        let token = therapist.access.clone();
        let app = &app;
        async move { app.get(&path, &token).await.body }
    };
    // In force since yesterday, the only day judged: (1 + 0) / 2.
    let seen = overview(&low).await;
    assert_eq!(seen["programme_adherence_7d"], 0.5);
    assert_eq!(seen["rules"]["adherence_floor"], 0.5);
    assert_eq!(seen["alerts"], json!([]));
    assert_eq!(overview(&calm).await["programme_adherence_7d"], Value::Null);

    // A stricter default: 0.5 is below 0.6.
    let defaults = send(
        &app,
        Method::PUT,
        "/v1/me/alert-defaults",
        &therapist.access,
        json!({"adherence_floor": 0.6}),
    )
    .await;
    assert_eq!(defaults.body["adherence_floor"], 0.6);
    let seen = overview(&low).await;
    assert_eq!(seen["alerts"], json!(["low_adherence"]));
    assert_eq!(seen["needs_attention"], true);
    let list = app.get("/v1/patients", &therapist.access).await;
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Zed Low", "Aaron Calm"]);
    // No programme, no alert, whatever the floor.
    assert_eq!(overview(&calm).await["alerts"], json!([]));

    // This patient's own floor overrides the default.
    let settings = format!("/v1/patients/{}/alert-settings", low.id);
    let own = send(
        &app,
        Method::PUT,
        &settings,
        &therapist.access,
        json!({"adherence_floor": 0.4}),
    )
    .await;
    assert_eq!(own.body["adherence_floor"], 0.4);
    assert_eq!(own.body["effective"]["adherence_floor"], 0.4);
    assert!(!own.body["inherited"]
        .as_array()
        .unwrap()
        .contains(&json!("adherence_floor")));
    assert_eq!(overview(&low).await["alerts"], json!([]));
    let refused = app
        .call(
            Method::PUT,
            &settings,
            Some(&therapist.access),
            Some(json!({"adherence_floor": 1.5})),
        )
        .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["adherence_floor"]);
    assert_eq!(
        app.get(&settings, &therapist.access).await.body["adherence_floor"],
        0.4
    );

    // Week by week, in the patient's calendar, with the stretches' names.
    let weeks = app
        .get(
            &format!("/v1/patients/{}/programme/adherence?weeks=2", low.id),
            &therapist.access,
        )
        .await;
    assert_eq!(weeks.status, StatusCode::OK, "{}", weeks.text);
    let body = &weeks.body;
    assert_eq!(body["today"], day(1));
    assert_eq!(body["weeks"].as_array().unwrap().len(), 2);
    assert_eq!(body["weeks"][1]["counted_to"], day(1));
    // Yesterday's week (this one, or last if today is a Monday) has the figure.
    let figures: Vec<&Value> = body["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["programme_adherence"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(figures, [&json!(0.5)]);
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["stretch_id"], SIDE_BEND);
    assert!(rows[0]["stretch_name"]
        .as_str()
        .unwrap()
        .contains("side bend"));
    assert_eq!(
        (&rows[0]["prescribed"], &rows[0]["met"]),
        (&json!(1.0), &json!(1))
    );
    assert_eq!(
        (&rows[1]["met"], &rows[1]["adherence"]),
        (&json!(0), &json!(0.0))
    );
    let mine = app.get("/v1/me/programme/adherence", &low.access).await;
    assert_eq!(mine.body["weeks"].as_array().unwrap().len(), 4);
    for bad in ["weeks=0", "weeks=53", "weeks=x", "week=2"] {
        let reply = app
            .get(&format!("/v1/me/programme/adherence?{bad}"), &low.access)
            .await;
        reply.assert_problem(400, "invalid_query");
    }
}

/// Each day is judged by the version in force that day: a higher bar set
/// yesterday does not rewrite the day before, and an ended programme stops
/// counting from the day it was ended. Days pass on the application's clock.
#[tokio::test]
async fn each_day_is_judged_by_its_own_version_and_an_ended_plan_stops_counting() {
    // A token that outlives the simulated week.
    let app = crate::helpers::spawn_app_with(|s| s.access_ttl = 30 * 86_400).await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    let plan_of = |seconds: i64| {
        json!({"starts_on": day(-3), "items": [
            {"stretch_id": SIDE_BEND, "days_per_week": 7, "seconds_per_day": seconds},
        ]})
    };
    let next_day = || app.clock.advance(chrono::Duration::days(1));
    // Day 0: a minute a day, done; a massage that day.
    assert_eq!(
        put(&app, &therapist, &patient, None, plan_of(60))
            .await
            .status,
        StatusCode::CREATED
    );
    stretched(&app, &patient, &day(0), SIDE_BEND, 60).await;
    let session = app
        .post(
            "/v1/me/massage-sessions",
            Some(&patient.access),
            json!({"date": day(0), "duration_minutes": 45, "technique": "swedish", "areas": []}),
        )
        .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.text);
    // Day 1: two minutes a day from now on; a minute is no longer enough.
    next_day();
    assert_eq!(
        put(&app, &therapist, &patient, None, plan_of(120))
            .await
            .status,
        StatusCode::OK
    );
    stretched(&app, &patient, &day(1), SIDE_BEND, 60).await;
    // Day 2: two minutes, then the therapist ends the plan: that day and
    // the ones after prescribe nothing.
    next_day();
    stretched(&app, &patient, &day(2), SIDE_BEND, 120).await;
    assert_eq!(
        end(&app, &therapist, &patient).await.status,
        StatusCode::NO_CONTENT
    );
    // Days 3 to 5: stretching after the end does not count.
    for n in 3..=5 {
        next_day();
        stretched(&app, &patient, &day(n), SIDE_BEND, 120).await;
    }
    logs_pain(&app, &patient, &day(5)).await;

    // Days 0 and 1 were prescribed (one each); day 0 was met.
    let seen = app
        .get(&format!("/v1/patients/{}", patient.id), &therapist.access)
        .await;
    assert_eq!(seen.body["programme_adherence_7d"], 0.5, "{}", seen.text);
    // After the session: day 1 prescribed, not met.
    let trends = app
        .get(
            &format!("/v1/patients/{}/trends?from={}", patient.id, day(-1)),
            &therapist.access,
        )
        .await;
    assert_eq!(trends.status, StatusCode::OK, "{}", trends.text);
    assert_eq!(trends.body["intervals"][0]["programme_adherence"], 0.0);
    let weeks = app
        .get("/v1/me/programme/adherence?weeks=2", &patient.access)
        .await;
    let met: i64 = weeks.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["met"].as_i64().unwrap())
        .sum();
    let prescribed: f64 = weeks.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["prescribed"].as_f64().unwrap())
        .sum();
    assert_eq!((met, prescribed), (1, 2.0), "{}", weeks.text);

    // Prescribed again: the bundle holds the ended plan and the new one.
    let mut again = plan_of(90);
    again["items"].as_array_mut().unwrap().push(
        json!({"stretch_id": KNEE_TO_CHEST, "days_per_week": 3, "seconds_per_day": 60, "sets": 2}),
    );
    again["starts_on"] = json!(day(5));
    assert_eq!(
        put(&app, &therapist, &patient, None, again).await.status,
        StatusCode::CREATED
    );
    let bundle = app.get("/v1/me/export?format=fhir", &patient.access).await;
    assert_eq!(bundle.status, StatusCode::OK, "{}", bundle.text);
    let plans: Vec<&Value> = bundle.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "CarePlan")
        .collect();
    assert_eq!(plans.len(), 2, "{}", bundle.text);
    assert_eq!(plans[0]["status"], "completed");
    assert_eq!(plans[0]["period"]["end"], day(2));
    assert_eq!(plans[0]["activity"].as_array().unwrap().len(), 1);
    assert_eq!(plans[1]["status"], "active");
    assert_eq!(plans[1]["intent"], "plan");
    let second = &plans[1]["activity"][1]["detail"];
    assert_eq!(
        second["scheduledTiming"]["repeat"],
        json!({"frequency": 3, "period": 1, "periodUnit": "wk", "duration": 1.0, "durationUnit": "min"})
    );
    assert_eq!(second["code"]["text"], "Knee-to-chest");
}

/// `If-None-Match: *` prescribes only when no programme is in force: two
/// therapists prescribing at once cannot replace each other's unseen; a
/// retry of one's own is its first answer; after an ending it prescribes
/// again.
#[tokio::test]
async fn a_first_prescription_does_not_replace_a_colleagues() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let (dana, eli) = (
        app.register_therapist().await,
        app.register_therapist().await,
    );
    link(&app, &dana, &patient).await;
    link(&app, &eli, &patient).await;
    let create_only = |therapist: &TestUser, body: Value| {
        let request = app
            .client
            .put(app.url(&format!("/v1/patients/{}/programme", patient.id)))
            .bearer_auth(&therapist.access)
            .header("If-None-Match", "*")
            .json(&body);
        async move { crate::helpers::read(request.send().await.unwrap()).await }
    };
    let first = create_only(&dana, plan(&day(0))).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    // Dana's lost answer, sent again: the same programme, the same version.
    let again = create_only(&dana, plan(&day(0))).await;
    assert_eq!(
        (again.status, &again.body["version"]),
        (StatusCode::OK, &json!(1))
    );
    // Eli, who saw no programme, is refused and told the current version.
    let mut other = plan(&day(0));
    other["note"] = json!("Eli's plan");
    let refused = create_only(&eli, other.clone()).await;
    refused.assert_problem(412, "precondition_failed");
    assert_eq!(refused.header("etag"), Some("\"1\""));
    assert_eq!(
        app.get("/v1/me/programme", &patient.access).await.body["note"],
        "Gently, never into sharp pain."
    );
    assert_eq!(versions_stored(&app, &patient).await, 1);
    // Once ended, a create-only PUT prescribes again.
    assert_eq!(
        end(&app, &dana, &patient).await.status,
        StatusCode::NO_CONTENT
    );
    let renewed = create_only(&eli, other).await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.text);
    assert_eq!(renewed.body["version"], 3);
    assert_eq!(renewed.body["updated_by"]["id"], eli.id.as_str());
}
