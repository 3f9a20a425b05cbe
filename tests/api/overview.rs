//! The therapist's overview: figures and alerts of docs/analytics.md in each
//! patient's time zone, the alert rules, and a constant number of queries
//! however many patients a page shows.

use chrono::{Days, NaiveDate};
use diesel::connection::SimpleConnection;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{link, spawn_app, test_today, Reply, TestApp, TestUser, PASSWORD};

const KNEE_TO_CHEST: &str = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab";

async fn patient_in(app: &TestApp, timezone: &str) -> TestUser {
    crate::helpers::patient_with(app, json!({"timezone": timezone})).await
}

async fn post(app: &TestApp, user: &TestUser, path: &str, body: Value) {
    let reply = app.post(path, Some(&user.access), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.text);
}

fn day(today: NaiveDate, back: u64) -> String {
    today.checked_sub_days(Days::new(back)).unwrap().to_string()
}

#[tokio::test]
async fn the_overview_follows_the_patients_own_calendar() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    // UTC+14: at noon UTC it is already tomorrow there.
    let patient = patient_in(&app, "Pacific/Kiritimati").await;
    let today = test_today().succ_opt().unwrap();
    let entries = "/v1/me/pain-entries";
    // Today: 7 early, then 9 later: D = 8, last_pain_level 9.
    let at = |hour: u32| format!("{}T{hour:02}:00:00Z", test_today());
    post(
        &app,
        &patient,
        entries,
        json!({"date": day(today, 0), "pain_level": 9, "recorded_at": at(11)}),
    )
    .await;
    post(
        &app,
        &patient,
        entries,
        json!({"date": day(today, 0), "pain_level": 7, "recorded_at": at(1)}),
    )
    .await;
    post(
        &app,
        &patient,
        entries,
        json!({"date": day(today, 3), "pain_level": 4}),
    )
    .await;
    // The week before: 2, 3 and (2 + 3) / 2, a mean of 2.5. A day before
    // that (14 days back) is in neither window.
    for (back, level) in [(7, 2), (9, 3), (13, 2), (13, 3), (14, 10)] {
        post(
            &app,
            &patient,
            entries,
            json!({"date": day(today, back), "pain_level": level}),
        )
        .await;
    }
    for back in [0, 1, 1, 8] {
        post(
            &app,
            &patient,
            "/v1/me/stretch-sessions",
            json!({"date": day(today, back), "stretch_id": KNEE_TO_CHEST, "duration_seconds": 300}),
        )
        .await;
    }
    post(
        &app,
        &patient,
        "/v1/me/massage-sessions",
        json!({"date": day(today, 5),
        "duration_minutes": 60, "technique": "deep_tissue", "areas": []}),
    )
    .await;
    let declared = app
        .call(
            Method::PUT,
            "/v1/me/conditions/osteoporosis",
            Some(&patient.access),
            Some(json!({})),
        )
        .await;
    assert_eq!(declared.status, StatusCode::CREATED);
    link(&app, &therapist, &patient).await;

    let path = format!("/v1/patients/{}", patient.id);
    let overview = app.get(&path, &therapist.access).await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.text);
    let expected = json!({
        "id": patient.id,
        "precautions": ["osteoporosis"],
        "last_entry_date": day(today, 0),
        "last_pain_level": 9,
        "avg_pain_7d": 6.0,
        "avg_pain_prev_7d": 2.5,
        "stretch_days_7d": 2,
        "last_massage_date": day(today, 5),
        "days_since_last_massage": 5,
        // 8 ≥ 2.5 + 3: a spike; no threshold set, so no pain_high.
        "alerts": ["pain_spike", "precaution"],
    });
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&overview.body[field], value, "{field}: {}", overview.text);
    }

    // With a threshold exactly at today's D (8), pain_high too.
    let saved = app
        .call(
            Method::PUT,
            &format!("{path}/alert-settings"),
            Some(&therapist.access),
            Some(json!({"pain_threshold": 8})),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let alerts = app.get(&path, &therapist.access).await.body["alerts"].clone();
    assert_eq!(alerts, json!(["pain_high", "pain_spike", "precaution"]));
}

#[tokio::test]
async fn the_patient_list_pages_and_logs_one_row_per_patient_shown() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let quiet = app.register_patient().await;
    let busy = app.register_patient().await;
    post(
        &app,
        &busy,
        "/v1/me/pain-entries",
        json!({"date": test_today().to_string(), "pain_level": 2}),
    )
    .await;
    // Stored at noon without a time, after one with a time earlier that day:
    // the later of the two, by time or else by when stored, is the last.
    post(
        &app,
        &busy,
        "/v1/me/pain-entries",
        json!({"date": test_today().to_string(), "pain_level": 9,
        "recorded_at": format!("{}T06:00:00Z", test_today())}),
    )
    .await;
    link(&app, &therapist, &quiet).await;
    app.clock.advance(chrono::Duration::seconds(1));
    link(&app, &therapist, &busy).await;
    // Someone else's patient is not in the list.
    let other = app.register_therapist().await;
    link(&app, &other, &app.register_patient().await).await;

    let first = app.get("/v1/patients?limit=1", &therapist.access).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["items"][0]["id"], quiet.id.as_str());
    // A patient who never logged is not logging, and has no figures.
    assert_eq!(first.body["items"][0]["alerts"], json!(["not_logging"]));
    assert_eq!(first.body["items"][0]["avg_pain_7d"], Value::Null);
    assert_eq!(first.body["items"][0]["last_pain_level"], Value::Null);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/v1/patients?limit=1&cursor={cursor}"),
            &therapist.access,
        )
        .await;
    assert_eq!(second.body["items"][0]["id"], busy.id.as_str());
    assert_eq!(second.body["items"][0]["alerts"], json!([]));
    assert_eq!(second.body["items"][0]["last_pain_level"], 2);
    assert_eq!(second.body["next_cursor"], Value::Null);
    let whole = app.get("/v1/patients", &therapist.access).await;
    assert_eq!(whole.body["items"].as_array().map(Vec::len), Some(2));

    for (patient, shown) in [(&quiet, 2), (&busy, 2)] {
        let log = app.get("/v1/me/access-log", &patient.access).await;
        let rows: Vec<&Value> = log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["path"] == "/v1/patients")
            .collect();
        assert_eq!(rows.len(), shown, "{}", log.text);
        assert!(rows
            .iter()
            .all(|e| e["actor"]["id"] == therapist.id.as_str()));
    }
    use base64::Engine;
    let far = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("-5000-01-01T00:00:00.000000|{}", quiet.id));
    for cursor in ["bogus".to_owned(), far] {
        app.get(&format!("/v1/patients?cursor={cursor}"), &therapist.access)
            .await
            .assert_problem(400, "invalid_query");
    }
    app.get("/v1/patients", &quiet.access)
        .await
        .assert_problem(403, "therapists_only");
}

#[tokio::test]
async fn alert_rules_are_each_therapists_own_and_checked() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let colleague = app.register_therapist().await;
    let patient = app.register_patient().await;
    link(&app, &therapist, &patient).await;
    link(&app, &colleague, &patient).await;
    let path = format!("/v1/patients/{}/alert-settings", patient.id);
    let put = |token: String, body: Value, if_match: Option<&'static str>| {
        let (app, path) = (&app, path.clone());
        async move {
            let mut request = app
                .client
                .put(app.url(&path))
                .bearer_auth(token)
                .json(&body);
            if let Some(tag) = if_match {
                request = request.header("If-Match", tag);
            }
            crate::helpers::read(request.send().await.unwrap()).await
        }
    };

    let all = [
        "pain_threshold",
        "spike_delta",
        "not_logging_days",
        "adherence_floor",
    ];
    let defaults = app.get(&path, &therapist.access).await;
    assert_eq!(
        defaults.body,
        json!({
            "pain_threshold": null, "spike_delta": null, "not_logging_days": null,
            "adherence_floor": null,
            "effective": {"pain_threshold": null, "spike_delta": 2, "not_logging_days": 7,
                          "adherence_floor": 0.5},
            "inherited": all,
            "version": 0
        })
    );
    assert_eq!(defaults.header("etag"), Some("\"0\""));
    let saved = put(
        therapist.access.clone(),
        json!({"pain_threshold": 6, "not_logging_days": 3}),
        Some("\"0\""),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(
        saved.body,
        json!({
            "pain_threshold": 6, "spike_delta": null, "not_logging_days": 3,
            "adherence_floor": null,
            "effective": {"pain_threshold": 6, "spike_delta": 2, "not_logging_days": 3,
                          "adherence_floor": 0.5},
            "inherited": ["spike_delta", "adherence_floor"],
            "version": 1
        })
    );
    // The same rules again change nothing, whatever If-Match says.
    let again = put(
        therapist.access.clone(),
        json!({"pain_threshold": 6, "not_logging_days": 3}),
        Some("\"0\""),
    )
    .await;
    assert_eq!(
        (again.status, &again.body["version"]),
        (StatusCode::OK, &json!(1))
    );
    let stale: Reply = put(
        therapist.access.clone(),
        json!({"spike_delta": 5}),
        Some("\"0\""),
    )
    .await;
    stale.assert_problem(412, "precondition_failed");
    // The colleague's rules are their own.
    assert_eq!(app.get(&path, &colleague.access).await.body["version"], 0);

    for (body, field) in [
        (json!({"pain_threshold": 11}), "pain_threshold"),
        (json!({"spike_delta": 0}), "spike_delta"),
        (json!({"not_logging_days": 61}), "not_logging_days"),
        (json!({"adherence_floor": -0.1}), "adherence_floor"),
    ] {
        let reply = put(therapist.access.clone(), body, None).await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), vec![field]);
    }
    put(therapist.access.clone(), json!({"quiet_hours": 3}), None)
        .await
        .assert_problem(400, "invalid_body");
    assert_eq!(app.get(&path, &therapist.access).await.body, saved.body);
    assert_eq!(app.count("alert_settings", "1 = 1").await, 1);
}

/// `n` patients linked to `therapist`, each with 90 days of pain entries, a
/// stretch session every other day, a massage every 14 days and a
/// precaution, written straight into the database.
async fn seed(app: &TestApp, therapist: &TestUser, n: usize) {
    let today = test_today();
    let therapist = therapist.id.clone();
    app.db()
        .run(move |conn| {
            let mut sql = String::new();
            for p in 0..n {
                let pid = uuid::Uuid::new_v4();
                sql.push_str(&format!(
                    "INSERT INTO users (id, email, password_hash, display_name, role, timezone, change_seq, created_at, updated_at) \
                     VALUES ('{pid}', 'seed{p}-{pid}@example.org', 'x', 'Seed {p}', 'patient', 'UTC', 1000, '2026-01-01 00:00:00', '2026-01-01 00:00:00');\n\
                     INSERT INTO care_links (patient_id, therapist_id, since) VALUES ('{pid}', '{therapist}', '2026-01-01 00:00:{:02}');\n",
                    p % 60
                ));
                let mut rows = Vec::new();
                for d in 0..90u64 {
                    let date = today.checked_sub_days(Days::new(d)).unwrap();
                    let seq = d * 3;
                    let level = (d * 7 + p as u64) % 11;
                    let row = |seq: u64, kind: &str, typed: &str| {
                        format!(
                            "('{}', '{pid}', '{kind}', '{date}', '{pid}', 'patient', '{{}}', 1, {seq}, '2026-01-01 00:00:00', '2026-01-01 00:00:00', {typed})",
                            uuid::Uuid::new_v4()
                        )
                    };
                    rows.push(row(seq + 1, "pain_entry", &format!("{level}, NULL, NULL, NULL, NULL, NULL")));
                    if d % 2 == 0 {
                        rows.push(row(seq + 2, "stretch_session", &format!("NULL, NULL, NULL, NULL, 300, '{KNEE_TO_CHEST}'")));
                    }
                    if d % 14 == 0 {
                        rows.push(row(seq + 3, "massage_session", "NULL, NULL, NULL, 60, NULL, NULL"));
                    }
                }
                sql.push_str(&format!(
                    "INSERT INTO records (id, patient_id, kind, date, author_id, author_role, data, version, change_seq, created_at, updated_at, \
                     pain_level, recorded_at, started_at, duration_minutes, duration_seconds, stretch_id) VALUES {};\n",
                    rows.join(", ")
                ));
                sql.push_str(&format!(
                    "INSERT INTO records (id, patient_id, kind, date, author_id, author_role, data, version, change_seq, created_at, updated_at, natural_key) \
                     VALUES ('{}', '{pid}', 'condition', NULL, '{pid}', 'patient', '{{}}', 1, 999, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 'osteoporosis');\n",
                    uuid::Uuid::new_v4()
                ));
            }
            conn.batch_execute(&sql)?;
            Ok::<_, painline::db::DbError>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_patient_list_costs_the_same_queries_for_5_or_200_patients() {
    let mut costs = Vec::new();
    for n in [5, 200] {
        // No mail sender on this instance: its statements would be counted too.
        let app = crate::helpers::spawn_app_with(|s| s.mail.poll = None).await;
        let therapist = app.register_therapist().await;
        seed(&app, &therapist, n).await;
        let before = app.queries().await;
        let reply = app.get("/v1/patients?limit=1000", &therapist.access).await;
        let after = app.queries().await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let items = reply.body["items"].as_array().unwrap();
        assert_eq!(items.len(), n);
        // Every seeded patient logged today, stretched on 4 of the last 7
        // days (today, 2, 4, 6 days ago) and was massaged today.
        assert!(items.iter().all(|p| p["stretch_days_7d"] == 4
            && p["days_since_last_massage"] == 0
            && p["precautions"] == json!(["osteoporosis"])
            && p["avg_pain_7d"].is_number()));
        assert_eq!(app.count("access_log", "1 = 1").await, n as i64);
        eprintln!(
            "GET /v1/patients for {n} patients: {} statements",
            after - before
        );
        costs.push(after - before);
    }
    assert_eq!(costs[0], costs[1], "queries for 5 and for 200 patients");
    // The links, five aggregates (stretching per day and stretch among
    // them), the recent sessions, questionnaires and notes, the home
    // programmes in force and the precautions on one pooled connection; the access-log
    // rows in one insert on another (the writer's): two checkouts, two
    // transactions. Plus the check that the therapist's account still
    // exists (a pool checkout and one indexed read).
    assert!(costs[0] <= 16, "{} queries", costs[0]);
}

/// The overview read again is answered from kept figures, and each thing
/// that moves a figure shows on the next read: the patient's entry, a
/// therapist-recorded session, a precaution, the therapist's rules, a new
/// day; and on a second instance alike.
#[tokio::test]
async fn polled_overviews_follow_every_change() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let therapist = app.register_therapist().await;
    let patient = app.register_patient().await;
    link(&app, &therapist, &patient).await;
    let today = test_today();
    for (back, level) in [(8, 2), (1, 3)] {
        post(
            &app,
            &patient,
            "/v1/me/pain-entries",
            json!({"date": day(today, back), "pain_level": level}),
        )
        .await;
    }
    let token = std::cell::RefCell::new(therapist.access.clone());
    let read = |instance: &TestApp| {
        let (instance, token) = (instance.address.clone(), token.borrow().clone());
        let client = app.client.clone();
        async move {
            let reply = client
                .get(format!("{instance}/v1/patients"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let body: Value = reply.json().await.unwrap();
            body["items"][0].clone()
        }
    };
    let first = read(&app).await;
    assert_eq!(first["last_pain_level"], 3);
    assert_eq!(first["alerts"], json!([]));
    // The same page again, from both instances: the same figures.
    assert_eq!(read(&app).await, first);
    assert_eq!(read(&second).await, first);

    post(
        &app,
        &patient,
        "/v1/me/pain-entries",
        json!({"date": day(today, 0), "pain_level": 9}),
    )
    .await;
    let after_entry = read(&second).await;
    assert_eq!(after_entry["last_pain_level"], 9);
    assert_eq!(after_entry["last_entry_date"], day(today, 0));
    assert_eq!(after_entry["alerts"], json!(["pain_spike"]));

    post(
        &app,
        &therapist,
        &format!("/v1/patients/{}/massage-sessions", patient.id),
        json!({"date": day(today, 0), "duration_minutes": 60, "technique": "deep_tissue", "areas": []}),
    )
    .await;
    assert_eq!(read(&app).await["days_since_last_massage"], 0);

    let condition = app
        .call(
            Method::PUT,
            "/v1/me/conditions/osteoporosis",
            Some(&patient.access),
            Some(json!({})),
        )
        .await;
    assert!(condition.status.is_success(), "{}", condition.text);
    let with_condition = read(&second).await;
    assert_eq!(with_condition["precautions"], json!(["osteoporosis"]));
    assert_eq!(
        with_condition["alerts"],
        json!(["pain_spike", "precaution"])
    );

    let rules = app
        .call(
            Method::PUT,
            &format!("/v1/patients/{}/alert-settings", patient.id),
            Some(&therapist.access),
            Some(json!({"pain_threshold": 8})),
        )
        .await;
    assert_eq!(rules.status, StatusCode::OK, "{}", rules.text);
    assert_eq!(
        read(&app).await["alerts"],
        json!(["pain_high", "pain_spike", "precaution"])
    );

    // Eight days on, nothing logged since: not logging, no recent pain.
    app.clock.advance(chrono::Duration::days(8));
    let login = app.login(&therapist.email, PASSWORD).await;
    *token.borrow_mut() = login.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let later = read(&app).await;
    assert_eq!(later["alerts"], json!(["not_logging", "precaution"]));
    assert_eq!(later["avg_pain_7d"], Value::Null);
}

/// Every page of the patient list is in the access log, one row per patient
/// shown, also when pages are asked many at once while the patients write
/// (on SQLite the rows and the logbook's writes share one writer): as many
/// rows as pages times patients, each with the page's path, and every
/// patient's writes stored.
#[tokio::test]
async fn the_access_log_keeps_every_page_asked_at_once_beside_writes() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    seed(&app, &therapist, 5).await;
    let patient = app.register_patient().await;
    link(&app, &therapist, &patient).await;
    let pages = (0..40).map(|_| app.get("/v1/patients", &therapist.access));
    let writes = (0..40).map(|i| {
        let request = app
            .client
            .put(app.url(&format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4())))
            .bearer_auth(&patient.access)
            .json(&json!({"date": test_today(), "pain_level": i % 11}));
        async move { request.send().await.unwrap().status() }
    });
    let (pages, writes) = futures_util::future::join(
        futures_util::future::join_all(pages),
        futures_util::future::join_all(writes),
    )
    .await;
    for page in &pages {
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert_eq!(page.body["items"].as_array().unwrap().len(), 6);
    }
    assert!(
        writes.iter().all(|s| *s == StatusCode::CREATED),
        "{writes:?}"
    );
    let read = format!(
        "actor_id = '{}' AND action = 'read' AND path = '/v1/patients' AND outcome = 'allowed'",
        therapist.id
    );
    assert_eq!(app.count("access_log", &read).await, 40 * 6);
    assert_eq!(app.count("access_log", "1 = 1").await, 40 * 6);
    let own = format!("patient_id = '{}' AND kind = 'pain_entry'", patient.id);
    assert_eq!(app.count("records", &own).await, 40);
}
