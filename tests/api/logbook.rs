//! The offline-first write protocol, as a phone uses it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{read, spawn_app, Reply, TestApp, TestUser};

fn entry(date: &str, pain: i64) -> Value {
    json!({"date": date, "pain_level": pain, "regions": ["lower_back_left", "buttock_left"], "notes": "after gardening"})
}

async fn put(
    app: &TestApp,
    user: &TestUser,
    path: &str,
    body: Value,
    if_match: Option<&str>,
) -> Reply {
    let mut request = app
        .client
        .put(app.url(path))
        .bearer_auth(&user.access)
        .json(&body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    read(request.send().await.unwrap()).await
}

async fn delete(app: &TestApp, user: &TestUser, path: &str, if_match: Option<&str>) -> Reply {
    let mut request = app.client.delete(app.url(path)).bearer_auth(&user.access);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    read(request.send().await.unwrap()).await
}

async fn change_seq(app: &TestApp, user: &TestUser) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Seq {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        change_seq: i64,
    }
    let sql = format!("SELECT change_seq FROM users WHERE id = '{}'", user.id);
    app.with_db(move |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query(sql).get_result::<Seq>(conn)
    })
    .await
    .change_seq
}

#[tokio::test]
async fn put_creates_replaces_and_an_identical_replay_changes_nothing() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let id = Uuid::new_v4();
    let path = format!("/v1/me/pain-entries/{id}");

    let created = put(&app, &user, &path, entry("2026-11-20", 6), None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.header("location"), Some(path.as_str()));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.body["id"], id.to_string());
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["pain_level"], 6);
    assert_eq!(
        created.body["regions"],
        json!(["lower_back_left", "buttock_left"])
    );
    assert_eq!(created.body["peg_score"], Value::Null);
    assert_eq!(
        app.count(
            "records",
            &format!(
                "id = '{id}' AND kind = 'pain_entry' AND patient_id = '{}'",
                user.id
            )
        )
        .await,
        1
    );
    let seq = change_seq(&app, &user).await;

    let replay = put(&app, &user, &path, entry("2026-11-20", 6), None).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body["version"], 1);
    assert_eq!(replay.body["updated_at"], created.body["updated_at"]);
    assert_eq!(
        change_seq(&app, &user).await,
        seq,
        "a replay must not reach the sync feed"
    );

    let replaced = put(&app, &user, &path, entry("2026-11-20", 4), None).await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(
        (replaced.body["version"].as_i64(), replaced.header("etag")),
        (Some(2), Some("\"2\""))
    );
    let fetched = app.get(&path, &user.access).await;
    assert_eq!(fetched.body["pain_level"], 4);
    assert_eq!(fetched.header("etag"), Some("\"2\""));
    assert_eq!(app.count("records", "1 = 1").await, 1);
}

#[tokio::test]
async fn if_match_guards_replacements_and_deletions() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let path = format!("/v1/me/pain-entries/{}", Uuid::new_v4());
    put(&app, &user, &path, entry("2026-11-20", 6), None).await;
    put(&app, &user, &path, entry("2026-11-20", 5), Some("\"1\"")).await;

    // A stale version is refused and changes nothing.
    put(&app, &user, &path, entry("2026-11-20", 9), Some("\"1\""))
        .await
        .assert_problem(412, "precondition_failed");
    delete(&app, &user, &path, Some("\"1\""))
        .await
        .assert_problem(412, "precondition_failed");
    let current = app.get(&path, &user.access).await;
    assert_eq!(
        (
            current.body["pain_level"].as_i64(),
            current.body["version"].as_i64()
        ),
        (Some(5), Some(2))
    );

    // If-Match compares strongly: the weak form of the current tag is a 412.
    put(&app, &user, &path, entry("2026-11-20", 3), Some("W/\"2\""))
        .await
        .assert_problem(412, "precondition_failed");
    let ok = put(&app, &user, &path, entry("2026-11-20", 3), Some("\"2\"")).await;
    assert_eq!(
        (ok.status, ok.body["version"].as_i64()),
        (StatusCode::OK, Some(3))
    );
    let star = put(&app, &user, &path, entry("2026-11-20", 2), Some("*")).await;
    assert_eq!(star.body["version"], 4);

    // If-Match on an id that does not exist yet cannot match.
    let fresh = format!("/v1/me/pain-entries/{}", Uuid::new_v4());
    put(&app, &user, &fresh, entry("2026-11-20", 2), Some("\"1\""))
        .await
        .assert_problem(412, "precondition_failed");
    put(&app, &user, &fresh, entry("2026-11-20", 2), Some("*"))
        .await
        .assert_problem(412, "precondition_failed");
    assert_eq!(app.count("records", "1 = 1").await, 1);

    let gone = delete(&app, &user, &path, Some("\"4\"")).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn delete_leaves_a_tombstone_and_put_restores_it() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let id = Uuid::new_v4();
    let path = format!("/v1/me/pain-entries/{id}");
    put(&app, &user, &path, entry("2026-11-20", 6), None).await;

    assert_eq!(
        delete(&app, &user, &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&path, &user.access)
        .await
        .assert_problem(404, "not_found");
    let list = app.get("/v1/me/pain-entries", &user.access).await;
    assert_eq!(list.body["items"], json!([]));
    // The tombstone is kept (for the feed) without its content.
    assert_eq!(
        app.count(
            "records",
            &format!("id = '{id}' AND deleted_at IS NOT NULL AND data = 'null' AND version = 2")
        )
        .await,
        1
    );

    let seq = change_seq(&app, &user).await;
    assert_eq!(
        delete(&app, &user, &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        change_seq(&app, &user).await,
        seq,
        "deleting twice changes nothing"
    );
    delete(
        &app,
        &user,
        &format!("/v1/me/pain-entries/{}", Uuid::new_v4()),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    // Editing a deleted object needs a restore: If-Match * finds no current version.
    put(&app, &user, &path, entry("2026-11-21", 3), Some("*"))
        .await
        .assert_problem(412, "precondition_failed");

    let restored = put(&app, &user, &path, entry("2026-11-21", 3), None).await;
    assert_eq!(restored.status, StatusCode::CREATED, "{}", restored.text);
    assert_eq!(restored.body["version"], 3);
    assert_eq!(
        app.get(&path, &user.access).await.body["date"],
        "2026-11-21"
    );
}

#[tokio::test]
async fn post_creates_with_a_server_id_and_honours_idempotency_keys() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let plain = app
        .post(
            "/v1/me/pain-entries",
            Some(&user.access),
            entry("2026-11-20", 6),
        )
        .await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.text);
    let id = plain.body["id"].as_str().unwrap();
    assert_eq!(
        plain.header("location").unwrap(),
        format!("/v1/me/pain-entries/{id}")
    );
    assert_eq!(
        app.get(&format!("/v1/me/pain-entries/{id}"), &user.access)
            .await
            .body["pain_level"],
        6
    );

    let token = std::cell::RefCell::new(user.access.clone());
    let send = |key: &'static str, body: Value| {
        let request = app
            .client
            .post(app.url("/v1/me/pain-entries"))
            .bearer_auth(token.borrow().as_str())
            .header("idempotency-key", key)
            .json(&body);
        async move { read(request.send().await.unwrap()).await }
    };
    let first = send("phone-42-entry-7", entry("2026-11-21", 5)).await;
    let again = send("phone-42-entry-7", entry("2026-11-21", 5)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(first.body, again.body);
    assert_eq!(first.header("location"), again.header("location"));
    assert_eq!(app.count("records", "1 = 1").await, 2);

    send("phone-42-entry-7", entry("2026-11-21", 9))
        .await
        .assert_problem(409, "idempotency_key_reused");
    // Concurrent retries of one request store it once.
    let burst =
        futures_util::future::join_all((0..5).map(|_| send("burst", entry("2026-11-22", 4)))).await;
    assert!(
        burst.iter().all(|r| r.status == StatusCode::CREATED),
        "{:?}",
        burst.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    assert!(burst.windows(2).all(|w| w[0].body["id"] == w[1].body["id"]));
    assert_eq!(app.count("records", "1 = 1").await, 3);

    // After 24 hours the key is forgotten.
    app.clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    let login = app.login(&user.email, crate::helpers::PASSWORD).await;
    *token.borrow_mut() = login.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let later = send("phone-42-entry-7", entry("2026-11-21", 5)).await;
    assert_eq!(later.status, StatusCode::CREATED);
    assert_ne!(later.body["id"], first.body["id"]);
    assert_eq!(app.count("records", "1 = 1").await, 4);
}

#[tokio::test]
async fn lists_filter_by_date_and_page_without_repeats_or_gaps() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let mut expected = Vec::new();
    for (i, date) in [
        "2026-11-01",
        "2026-11-03",
        "2026-11-03",
        "2026-11-03",
        "2026-11-05",
        "2026-11-08",
        "2026-11-09",
    ]
    .iter()
    .enumerate()
    {
        let id = Uuid::new_v4();
        put(
            &app,
            &user,
            &format!("/v1/me/pain-entries/{id}"),
            entry(date, i as i64),
            None,
        )
        .await;
        expected.push((date.to_string(), id.to_string()));
    }
    expected.sort();
    expected.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let path = match &cursor {
            Some(c) => format!("/v1/me/pain-entries?limit=3&cursor={c}"),
            None => "/v1/me/pain-entries?limit=3".to_owned(),
        };
        let reply = app.get(&path, &user.access).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        for item in reply.body["items"].as_array().unwrap() {
            seen.push((
                item["date"].as_str().unwrap().to_owned(),
                item["id"].as_str().unwrap().to_owned(),
            ));
        }
        // Rows arriving while paging (older and newer) do not disturb it.
        if page == 0 {
            put(
                &app,
                &user,
                &format!("/v1/me/pain-entries/{}", Uuid::new_v4()),
                entry("2026-11-10", 1),
                None,
            )
            .await;
            put(
                &app,
                &user,
                &format!("/v1/me/pain-entries/{}", Uuid::new_v4()),
                entry("2026-10-01", 1),
                None,
            )
            .await;
        }
        match reply.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let original: Vec<_> = seen
        .iter()
        .filter(|(d, _)| d != "2026-11-10" && d != "2026-10-01")
        .cloned()
        .collect();
    assert_eq!(original, expected);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row was repeated");

    let window = app
        .get(
            "/v1/me/pain-entries?from=2026-11-03&to=2026-11-05",
            &user.access,
        )
        .await;
    let dates: Vec<_> = window.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        vec!["2026-11-05", "2026-11-03", "2026-11-03", "2026-11-03"]
    );
}

async fn builtin_stretch(app: &TestApp, user: &TestUser, key: &str) -> String {
    let catalog = app.get("/v1/stretches", &user.access).await;
    catalog.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .and_then(|s| s["id"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_stretch_catalog_has_the_built_ins_and_the_patients_own() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let other = app.register_patient().await;
    let catalog = app.get("/v1/stretches", &user.access).await;
    let items = catalog.body["items"].as_array().unwrap();
    for key in [
        "knee_to_chest",
        "cat_cow",
        "childs_pose",
        "figure_four_piriformis",
        "supine_twist",
        "standing_side_bend",
        "hip_flexor_lunge",
        "pelvic_tilt",
        "glute_bridge",
        "hamstring_stretch",
    ] {
        let stretch = items
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(stretch["custom"], false);
        assert!(stretch["description"].as_str().unwrap().len() > 60);
        assert!(!stretch["targets"].as_array().unwrap().is_empty());
    }
    let side_bend = items
        .iter()
        .find(|s| s["key"] == "standing_side_bend")
        .unwrap();
    assert!(side_bend["targets"]
        .as_array()
        .unwrap()
        .contains(&json!("quadratus_lumborum")));

    let own = app
        .post("/v1/me/stretches", Some(&user.access), json!({"name": "Doorway QL lean", "description": "Lean sideways in a doorway.", "targets": ["quadratus_lumborum"]}))
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.text);
    let own_id = own.body["id"].as_str().unwrap().to_owned();
    assert_eq!(own.body["key"], format!("custom-{own_id}"));
    assert_eq!(own.body["custom"], true);
    let mine = app.get("/v1/stretches", &user.access).await;
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        items.len() + 1
    );
    let theirs = app.get("/v1/stretches", &other.access).await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), items.len());

    // A session may use a built-in stretch or the patient's own.
    let builtin = builtin_stretch(&app, &user, "cat_cow").await;
    for stretch_id in [&builtin, &own_id] {
        let session = app
            .post("/v1/me/stretch-sessions", Some(&user.access), json!({"date": "2026-11-20", "stretch_id": stretch_id, "duration_seconds": 300, "sets": 2, "reps": 10, "side": "both"}))
            .await;
        assert_eq!(session.status, StatusCode::CREATED, "{}", session.text);
        assert_eq!(session.body["stretch_id"], stretch_id.as_str());
        assert_eq!(session.body["duration_seconds"], 300);
    }
    assert_eq!(app.count("records", "kind = 'stretch_session'").await, 2);
}

#[tokio::test]
async fn massage_sessions_questionnaires_and_precautions_round_trip() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let session = json!({
        "date": "2026-11-18", "started_at": "2026-11-18T17:30:00+01:00", "duration_minutes": 60,
        "technique": "deep_tissue", "pressure": "firm",
        "areas": [{"muscle": "quadratus_lumborum", "side": "left", "minutes": 20},
                  {"muscle": "quadratus_lumborum", "side": "right", "minutes": 20},
                  {"muscle": "gluteus_medius", "side": "both", "minutes": 20}],
        "pain_before": 7, "pain_after": 3, "notes": "QL very tight on the left"
    });
    let id = Uuid::new_v4();
    let created = put(
        &app,
        &user,
        &format!("/v1/me/massage-sessions/{id}"),
        session.clone(),
        None,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["started_at"], "2026-11-18T16:30:00Z");
    assert_eq!(
        created.body["recorded_by"],
        json!({"id": user.id, "role": "patient"})
    );
    assert_eq!(created.body["areas"], session["areas"]);
    // The same instant written with another offset is the same content: a replay.
    let mut utc = session.clone();
    utc["started_at"] = json!("2026-11-18T16:30:00Z");
    let replay = put(
        &app,
        &user,
        &format!("/v1/me/massage-sessions/{id}"),
        utc,
        None,
    )
    .await;
    assert_eq!(
        (replay.status, replay.body["version"].as_i64()),
        (StatusCode::OK, Some(1))
    );

    let odi = app
        .post("/v1/me/assessments", Some(&user.access), json!({"date": "2026-11-18", "instrument": "odi", "answers": [3, 3, 3, 3, 3, 3, 3, 3, 3, null]}))
        .await;
    assert_eq!(odi.status, StatusCode::CREATED, "{}", odi.text);
    assert_eq!(
        (
            odi.body["score"].as_f64(),
            odi.body["max_score"].as_i64(),
            odi.body["band"].as_str()
        ),
        (Some(60.0), Some(100), Some("severe"))
    );
    // Only the answers are stored; the score is derived.
    let stored = app
        .count("records", "kind = 'assessment' AND data NOT LIKE '%score%'")
        .await;
    assert_eq!(stored, 1);

    let peg = app
        .post("/v1/me/pain-entries", Some(&user.access), json!({"date": "2026-11-19", "pain_level": 6, "enjoyment_interference": 4, "activity_interference": 5}))
        .await;
    assert_eq!(peg.body["peg_score"], 5.0);

    let declared = put(
        &app,
        &user,
        "/v1/me/conditions/osteoporosis",
        json!({"note": "T-score -2.7, no deep pressure on the spine"}),
        None,
    )
    .await;
    assert_eq!(declared.status, StatusCode::CREATED, "{}", declared.text);
    assert_eq!(
        declared.header("location"),
        Some("/v1/me/conditions/osteoporosis")
    );
    assert_eq!(declared.body["condition"], "osteoporosis");
    put(&app, &user, "/v1/me/conditions/pregnancy", json!({}), None).await;
    let listed = app.get("/v1/me/conditions", &user.access).await;
    let names: Vec<_> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["condition"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["osteoporosis", "pregnancy"]);
    assert_eq!(
        delete(&app, &user, "/v1/me/conditions/pregnancy", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    app.get("/v1/me/conditions/pregnancy", &user.access)
        .await
        .assert_problem(404, "not_found");
    let one = app
        .get("/v1/me/conditions/osteoporosis", &user.access)
        .await;
    assert_eq!(
        one.body["note"],
        "T-score -2.7, no deep pressure on the spine"
    );
    delete(&app, &user, "/v1/me/conditions/cancer", None)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_deleted_account_cannot_write_with_its_leftover_token() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    app.call(
        Method::DELETE,
        "/v1/me",
        Some(&user.access),
        Some(json!({"password": crate::helpers::PASSWORD})),
    )
    .await;
    let reply = put(
        &app,
        &user,
        &format!("/v1/me/pain-entries/{}", Uuid::new_v4()),
        entry("2026-11-20", 5),
        None,
    )
    .await;
    reply.assert_problem(401, "invalid_token");
    assert_eq!(app.count("records", "1 = 1").await, 0);
}

#[tokio::test]
async fn a_retried_put_whose_answer_was_lost_is_not_a_conflict() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let path = format!("/v1/me/pain-entries/{}", Uuid::new_v4());
    put(&app, &user, &path, entry("2026-11-20", 6), None).await;
    let first = put(&app, &user, &path, entry("2026-11-20", 4), Some("\"1\"")).await;
    assert_eq!(first.body["version"], 2);
    // The phone never saw that answer and sends the same request again.
    let retry = put(&app, &user, &path, entry("2026-11-20", 4), Some("\"1\"")).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text);
    assert_eq!(
        (retry.body["version"].as_i64(), retry.header("etag")),
        (Some(2), Some("\"2\""))
    );
    // A different change against the stale version is still a conflict.
    put(&app, &user, &path, entry("2026-11-20", 9), Some("\"1\""))
        .await
        .assert_problem(412, "precondition_failed");
    assert_eq!(app.get(&path, &user.access).await.body["pain_level"], 4);
}

#[tokio::test]
async fn two_patients_racing_for_one_fresh_id_get_201_and_404() {
    let app = spawn_app().await;
    let (ana, ben) = (app.register_patient().await, app.register_patient().await);
    for _ in 0..5 {
        let path = format!("/v1/me/pain-entries/{}", Uuid::new_v4());
        let (a, b) = tokio::join!(
            put(&app, &ana, &path, entry("2026-11-20", 3), None),
            put(&app, &ben, &path, entry("2026-11-20", 8), None)
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 404], "{} / {}", a.text, b.text);
        let winner = if a.status == StatusCode::CREATED {
            (&ana, 3)
        } else {
            (&ben, 8)
        };
        assert_eq!(
            app.get(&path, &winner.0.access).await.body["pain_level"],
            winner.1
        );
    }
    assert_eq!(app.count("records", "1 = 1").await, 5);
}

#[tokio::test]
async fn a_precaution_keeps_its_id_and_no_one_else_can_take_it() {
    let app = spawn_app().await;
    let (ana, ben) = (app.register_patient().await, app.register_patient().await);
    let first = put(
        &app,
        &ana,
        "/v1/me/conditions/osteoporosis",
        json!({"note": "a"}),
        None,
    )
    .await;
    let id = first.body["id"].as_str().unwrap().to_owned();
    // Ben writing objects of his own cannot squat Ana's precaution.
    let squat = put(
        &app,
        &ben,
        &format!("/v1/me/pain-entries/{id}"),
        entry("2026-11-20", 1),
        None,
    )
    .await;
    squat.assert_problem(404, "not_found");
    let bens = put(
        &app,
        &ben,
        "/v1/me/conditions/osteoporosis",
        json!({}),
        None,
    )
    .await;
    assert_eq!(bens.status, StatusCode::CREATED);
    assert_ne!(bens.body["id"], first.body["id"]);

    delete(&app, &ana, "/v1/me/conditions/osteoporosis", None).await;
    let again = put(
        &app,
        &ana,
        "/v1/me/conditions/osteoporosis",
        json!({"note": "b"}),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(again.body["version"], 3);
    assert_eq!(app.count("records", "kind = 'condition'").await, 2);
}

/// What a write costs in statements (`painline_db_queries_total`): a new
/// object is created without first reading whether its id is taken, and the
/// change counter travels with the row. PostgreSQL: one statement, its own
/// transaction (the function that locks the patient, checks their time
/// zone, inserts and moves the counter); the patient's zone was read by
/// their first write. SQLite (one write alone in its group): BEGIN
/// IMMEDIATE, SAVEPOINT, the lock, the insert, the counter, RELEASE, COMMIT.
/// Neither checks a healthy pooled connection first.
#[tokio::test]
async fn what_a_new_entry_costs_in_statements() {
    // No mail sender on this instance: its statements would be counted too.
    let app = crate::helpers::spawn_app_with(|s| s.mail.poll = None).await;
    let user = app.register_patient().await;
    let mut ids = Vec::new();
    let mut spent = Vec::new();
    for _ in 0..2 {
        let before = app.queries().await;
        let id = uuid::Uuid::new_v4();
        let reply = app
            .client
            .put(app.url(&format!("/v1/me/pain-entries/{id}")))
            .bearer_auth(&user.access)
            .json(&json!({"date": "2026-11-20", "pain_level": 5}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::CREATED);
        spent.push(app.queries().await - before);
        ids.push(id);
    }
    let expected = if crate::helpers::postgres_url().is_some() {
        [2, 1]
    } else {
        [7, 7]
    };
    assert_eq!(spent, expected);
    // The ids were new, and each object is stored once with the next change number.
    assert_eq!(change_seq(&app, &user).await, 2);
    for (id, seq) in ids.iter().zip([1, 2]) {
        let stored = app
            .get(&format!("/v1/me/pain-entries/{id}"), &user.access)
            .await;
        assert_eq!(stored.body["version"], 1);
        let filter = format!("id = '{id}' AND change_seq = {seq} AND version = 1");
        assert_eq!(app.count("records", &filter).await, 1);
    }
}

/// A new entry is checked against the patient's today in the time zone they
/// have when it is stored. On PostgreSQL a patient's zone, once read, is
/// kept as a hint so a write needs no read first; the database refuses the
/// write when the hint is stale, and the write is then checked again.
#[tokio::test]
async fn a_new_entry_is_checked_in_the_time_zone_of_the_moment() {
    let app = spawn_app().await;
    // UTC+14: at the app's noon UTC it is already tomorrow there, so a date
    // two days ahead of UTC is within the day of slack a phone gets.
    let user = crate::helpers::patient_with(&app, json!({"timezone": "Pacific/Kiritimati"})).await;
    let ahead = crate::helpers::test_today()
        .checked_add_days(chrono::Days::new(2))
        .unwrap();
    let first = put(
        &app,
        &user,
        &format!("/v1/me/pain-entries/{}", Uuid::new_v4()),
        json!({"date": ahead, "pain_level": 4}),
        None,
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    // UTC−11: there it is still today, so the same date is more than a day ahead.
    let moved = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&user.access),
            Some(json!({"timezone": "Pacific/Pago_Pago"})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    let id = Uuid::new_v4();
    let refused = put(
        &app,
        &user,
        &format!("/v1/me/pain-entries/{id}"),
        json!({"date": ahead, "pain_level": 4}),
        None,
    )
    .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), vec!["date"], "{}", refused.text);
    assert_eq!(app.count("records", &format!("id = '{id}'")).await, 0);
    assert_eq!(app.count("records", "kind = 'pain_entry'").await, 1);
    assert_eq!(change_seq(&app, &user).await, 1);
}
