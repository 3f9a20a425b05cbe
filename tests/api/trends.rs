//! The daily series and the trends through the API: what the patient and a
//! linked therapist read, the defaults in the patient's calendar, and ranges
//! that are refused.

use chrono::{Days, NaiveDate};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{link, read, spawn_app, test_today, Reply, TestApp, TestUser};

const KNEE_TO_CHEST: &str = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab";

fn day(back: u64) -> NaiveDate {
    test_today().checked_sub_days(Days::new(back)).unwrap()
}

async fn post(app: &TestApp, user: &TestUser, path: &str, body: Value) -> String {
    let reply = app.post(path, Some(&user.access), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// The hand-computed case of `analytics::trends` (sessions 10 and 4 days
/// ago), written through the API.
async fn logbook(app: &TestApp, patient: &TestUser) -> (String, String) {
    for (back, levels) in [
        (18, vec![10]),
        (17, vec![6]),
        (15, vec![6, 8]),
        (11, vec![5]),
        (9, vec![3]),
        (7, vec![4]),
        (6, vec![6]),
        (5, vec![7]),
    ] {
        for level in levels {
            post(
                app,
                patient,
                "/v1/me/pain-entries",
                json!({"date": day(back), "pain_level": level}),
            )
            .await;
        }
    }
    for (back, seconds) in [(9, 600), (7, 300), (7, 300)] {
        post(
            app,
            patient,
            "/v1/me/stretch-sessions",
            json!({"date": day(back), "stretch_id": KNEE_TO_CHEST, "duration_seconds": seconds}),
        )
        .await;
    }
    let session = |back: u64| json!({"date": day(back), "duration_minutes": 60, "technique": "deep_tissue", "areas": []});
    let first = post(app, patient, "/v1/me/massage-sessions", session(10)).await;
    let last = post(app, patient, "/v1/me/massage-sessions", session(4)).await;
    (first, last)
}

#[tokio::test]
async fn trends_between_sessions_for_the_patient_and_a_linked_therapist() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    let (first, last) = logbook(&app, &patient).await;
    link(&app, &therapist, &patient).await;
    let query = format!("?from={}&to={}", day(19), day(0));

    let mine = app
        .get(&format!("/v1/me/trends{query}"), &patient.access)
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    let intervals = mine.body["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 2);
    // After the first session: baseline 6 (6, 7, 5), early 3.5, relief 2.5,
    // back at the baseline on the 4th day: 3 days of relief.
    let i = &intervals[0];
    assert_eq!(i["session_id"], first.as_str());
    for (field, value) in [
        ("baseline_pain", json!(6.0)),
        ("days", json!(5)),
        ("logged_days", json!(4)),
        ("early_pain", json!(3.5)),
        ("relief", json!(2.5)),
        ("relief_duration_days", json!(3)),
        ("relief_censored", json!(false)),
        ("slope_per_day", json!(1.029)),
        ("stretch_days", json!(2)),
        ("stretch_adherence", json!(0.4)),
        ("stretch_minutes", json!(20.0)),
        ("open", json!(false)),
    ] {
        assert_eq!(i[field], value, "{field}: {i}");
    }
    // The last one (4 days ago) runs to `to`: 4 days, open, nothing logged, censored.
    let open = &intervals[1];
    assert_eq!(open["session_id"], last.as_str());
    assert_eq!(
        (&open["open"], &open["days"], &open["logged_days"]),
        (&json!(true), &json!(4), &json!(0))
    );
    assert_eq!(open["relief_censored"], true);
    assert_eq!(mine.body["summary"]["sessions"], 2);
    assert_eq!(mine.body["summary"]["mean_relief_duration_days"], 3.0);

    // The therapist reads the same, and it is in the patient's access log.
    let theirs = app
        .get(
            &format!("/v1/patients/{}/trends{query}", patient.id),
            &therapist.access,
        )
        .await;
    assert_eq!(theirs.body, mine.body);
    let daily_mine = app
        .get(&format!("/v1/me/daily{query}"), &patient.access)
        .await;
    let daily_theirs = app
        .get(
            &format!("/v1/patients/{}/daily{query}", patient.id),
            &therapist.access,
        )
        .await;
    assert_eq!(daily_theirs.body, daily_mine.body);
    let days = daily_mine.body["days"].as_array().unwrap();
    assert_eq!(days.len(), 20);
    let fifteen = &days[4];
    assert_eq!(fifteen["date"], day(15).to_string());
    assert_eq!(
        (
            &fifteen["mean_pain"],
            &fifteen["max_pain"],
            &fifteen["entries"]
        ),
        (&json!(7.0), &json!(8), &json!(2))
    );
    assert_eq!(days[9]["massage_session_ids"], json!([first]));
    assert_eq!(days[11]["date"], day(8).to_string());
    assert_eq!(
        days[11]["mean_pain"],
        Value::Null,
        "an unlogged day is null, not 0"
    );
    let log = app.get("/v1/me/access-log", &patient.access).await;
    let paths: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&format!("/v1/patients/{}/trends", patient.id).as_str()),
        "{paths:?}"
    );
}

#[tokio::test]
async fn ranges_default_to_90_days_ending_at_the_patients_today() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    // UTC+14: the test clock's noon UTC is already tomorrow there.
    let moved = app
        .call(
            reqwest::Method::PATCH,
            "/v1/me",
            Some(&patient.access),
            Some(json!({"timezone": "Pacific/Kiritimati"})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK);
    let tomorrow = test_today().succ_opt().unwrap();
    let daily = app.get("/v1/me/daily", &patient.access).await;
    assert_eq!(daily.status, StatusCode::OK, "{}", daily.text);
    assert_eq!(daily.body["to"], tomorrow.to_string());
    assert_eq!(
        daily.body["from"],
        (tomorrow - chrono::Duration::days(89)).to_string()
    );
    assert_eq!(daily.body["days"].as_array().map(Vec::len), Some(90));
    let only_to = app
        .get(&format!("/v1/me/trends?to={}", day(10)), &patient.access)
        .await;
    assert_eq!(only_to.body["from"], day(99).to_string());

    for (query, field) in [
        (format!("?from={}&to={}", day(0), day(1)), "from"),
        (format!("?from={}", tomorrow.succ_opt().unwrap()), "from"),
        (format!("?from={}&to={}", day(1096), day(0)), "to"),
        (format!("?from={}", day(1200)), "to"),
        ("?since=2026-01-01".to_owned(), "since"),
        ("?from=yesterday".to_owned(), "from"),
    ] {
        for route in ["/v1/me/daily", "/v1/me/trends"] {
            let reply = app.get(&format!("{route}{query}"), &patient.access).await;
            reply.assert_problem(400, "invalid_query");
            assert_eq!(reply.error_fields(), vec![field], "{route}{query}");
        }
    }
    // Exactly 1,096 days is allowed.
    let longest = app
        .get(
            &format!("/v1/me/daily?from={}&to={}", day(1095), day(0)),
            &patient.access,
        )
        .await;
    assert_eq!(longest.body["days"].as_array().map(Vec::len), Some(1096));
}

/// GET with `If-None-Match`, as a phone holding an earlier answer sends it.
async fn get_if_none_match(app: &TestApp, path: &str, token: &str, etag: &str) -> Reply {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    read(response).await
}

/// A repeated read is answered from its `ETag` (304, on any instance) until
/// something that moves the figures is written: the patient's own entry, a
/// deletion, or a session the therapist records. The answer after each
/// change is the recomputed one, never the kept one.
#[tokio::test]
async fn trends_and_daily_answer_304_until_the_patients_data_changes() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    logbook(&app, &patient).await;
    link(&app, &therapist, &patient).await;
    let query = format!("?from={}&to={}", day(19), day(0));
    let path = format!("/v1/me/trends{query}");

    let first = app.get(&path, &patient.access).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let etag = first.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    // Read again: the same body and tag, from the kept answer.
    let again = app.get(&path, &patient.access).await;
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    // The client's copy is current: 304 without a body, here and on a
    // second instance, with a weak form of the tag too.
    let second = app.another_instance().await;
    for (instance, held) in [
        (&app, etag.clone()),
        (&second, format!("W/{etag}")),
        (&app, format!("\"other\", {etag}")),
    ] {
        let reply = get_if_none_match(instance, &path, &patient.access, &held).await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{held}");
        assert_eq!(reply.text, "");
        assert_eq!(reply.header("etag"), Some(etag.as_str()));
    }
    // A different range or view is a different answer.
    let other_range = app
        .get(
            &format!("/v1/me/trends?from={}&to={}", day(18), day(0)),
            &patient.access,
        )
        .await;
    assert_ne!(other_range.header("etag"), Some(etag.as_str()));
    let daily_path = format!("/v1/me/daily{query}");
    let daily = app.get(&daily_path, &patient.access).await;
    assert_eq!(daily.status, StatusCode::OK);
    let daily_etag = daily.header("etag").unwrap().to_owned();
    assert_ne!(daily_etag, etag);

    // A new entry on the last day: the old tag no longer matches, and the
    // figures are recomputed (the open interval gains a logged day).
    assert_eq!(first.body["intervals"][1]["logged_days"], 0);
    let entry = post(
        &app,
        &patient,
        "/v1/me/pain-entries",
        json!({"date": day(0), "pain_level": 0}),
    )
    .await;
    let changed = get_if_none_match(&second, &path, &patient.access, &etag).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let etag2 = changed.header("etag").unwrap().to_owned();
    assert_ne!(etag2, etag);
    assert_eq!(changed.body["intervals"][1]["logged_days"], 1);
    assert_eq!(changed.body["intervals"][1]["mean_pain"], 0.0);
    let daily_changed = get_if_none_match(&app, &daily_path, &patient.access, &daily_etag).await;
    assert_eq!(daily_changed.status, StatusCode::OK);
    let last_day = daily_changed.body["days"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last_day["entries"], 1);

    // Deleting it brings the first figures back, under a new tag.
    let deleted = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/me/pain-entries/{entry}"),
            Some(&patient.access),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let restored = get_if_none_match(&app, &path, &patient.access, &etag2).await;
    assert_eq!(restored.status, StatusCode::OK);
    assert_eq!(restored.body, first.body);
    let etag3 = restored.header("etag").unwrap().to_owned();
    assert!(etag3 != etag && etag3 != etag2);

    // The therapist reads the same answer, and a session they record
    // moves it for both.
    let theirs_path = format!("/v1/patients/{}/trends{query}", patient.id);
    let theirs = get_if_none_match(&app, &theirs_path, &therapist.access, &etag3).await;
    assert_eq!(theirs.status, StatusCode::NOT_MODIFIED);
    post(
        &app,
        &therapist,
        &format!("/v1/patients/{}/massage-sessions", patient.id),
        json!({"date": day(1), "duration_minutes": 45, "technique": "deep_tissue", "areas": []}),
    )
    .await;
    let mine = get_if_none_match(&app, &path, &patient.access, &etag3).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["intervals"].as_array().unwrap().len(), 3);
    let theirs = get_if_none_match(&second, &theirs_path, &therapist.access, &etag3).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.body, mine.body);
}
