//! What a linked therapist sees of a patient's logbook, that access ends
//! the moment the link does, and the access log the patient reads.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{link, spawn_app, test_today, TestApp, TestUser};

const KNEE_TO_CHEST: &str = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab";

/// The patient's logbook collections and what to put in each.
fn logbook() -> Vec<(&'static str, Value)> {
    let today = test_today().to_string();
    vec![
        (
            "pain-entries",
            json!({"date": today, "pain_level": 6, "regions": ["lower_back_left"], "notes": "<b>stiff</b>"}),
        ),
        (
            "stretch-sessions",
            json!({"date": today, "stretch_id": KNEE_TO_CHEST, "duration_seconds": 120}),
        ),
        (
            "massage-sessions",
            json!({"date": today, "duration_minutes": 60, "technique": "deep_tissue",
            "areas": [{"muscle": "quadratus_lumborum", "side": "left", "minutes": 20},
                      {"muscle": "quadratus_lumborum", "side": "right", "minutes": 20},
                      {"muscle": "gluteus_medius", "side": "both", "minutes": 20}]}),
        ),
        (
            "assessments",
            json!({"date": today, "instrument": "odi", "answers": [3, 3, 3, 3, 3, 3, 3, 3, 3, null]}),
        ),
    ]
}

/// Fills the patient's logbook; answers the ids, in the order of `logbook()`.
async fn fill(app: &TestApp, patient: &TestUser) -> Vec<String> {
    let mut ids = Vec::new();
    for (collection, body) in logbook() {
        let reply = app
            .post(&format!("/v1/me/{collection}"), Some(&patient.access), body)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{collection}: {}",
            reply.text
        );
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    let declared = app
        .call(
            Method::PUT,
            "/v1/me/conditions/osteoporosis",
            Some(&patient.access),
            Some(json!({"note": "T-score -2.7"})),
        )
        .await;
    assert_eq!(declared.status, StatusCode::CREATED, "{}", declared.text);
    ids
}

async fn access_log(app: &TestApp, patient: &TestUser, query: &str) -> Value {
    let reply = app
        .get(&format!("/v1/me/access-log{query}"), &patient.access)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn a_linked_therapist_reads_what_the_patient_sees() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    let ids = fill(&app, &patient).await;
    link(&app, &therapist, &patient).await;
    let theirs = format!("/v1/patients/{}", patient.id);

    for ((collection, _), id) in logbook().iter().zip(&ids) {
        let own = app
            .get(&format!("/v1/me/{collection}"), &patient.access)
            .await;
        let seen = app
            .get(&format!("{theirs}/{collection}"), &therapist.access)
            .await;
        assert_eq!(seen.status, StatusCode::OK, "{collection}: {}", seen.text);
        assert_eq!(seen.body, own.body, "{collection}");
        assert_eq!(seen.body["items"].as_array().map(Vec::len), Some(1));
        let one = app
            .get(&format!("{theirs}/{collection}/{id}"), &therapist.access)
            .await;
        let own_one = app
            .get(&format!("/v1/me/{collection}/{id}"), &patient.access)
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        assert_eq!(one.body, own_one.body);
        assert_eq!(one.header("etag"), own_one.header("etag"));
    }
    let conditions = app
        .get(&format!("{theirs}/conditions"), &therapist.access)
        .await;
    assert_eq!(conditions.status, StatusCode::OK, "{}", conditions.text);
    assert_eq!(
        conditions.body,
        app.get("/v1/me/conditions", &patient.access).await.body
    );
    assert_eq!(conditions.body["items"][0]["condition"], "osteoporosis");
    // Patient-written text comes back as written.
    let entries = app
        .get(&format!("{theirs}/pain-entries"), &therapist.access)
        .await;
    assert_eq!(entries.body["items"][0]["notes"], "<b>stiff</b>");

    // An object id of another patient, or another kind, is 404 even when linked.
    let other = app.register_patient().await;
    let others = fill(&app, &other).await;
    for path in [
        format!("{theirs}/pain-entries/{}", others[0]),
        format!("{theirs}/massage-sessions/{}", ids[0]),
    ] {
        app.get(&path, &therapist.access)
            .await
            .assert_problem(404, "not_found");
    }
    // A therapist who is not linked gets 404 for every one of them.
    let stranger = app.register_therapist().await;
    for (collection, _) in logbook() {
        app.get(&format!("{theirs}/{collection}"), &stranger.access)
            .await
            .assert_problem(404, "not_found");
    }
    // The lists filter and page as the patient's do.
    let bad = app
        .get(&format!("{theirs}/pain-entries?limit=0"), &therapist.access)
        .await;
    bad.assert_problem(400, "invalid_query");
    assert_eq!(
        app.count("records", &format!("author_id = '{}'", therapist.id))
            .await,
        0
    );
}

#[tokio::test]
async fn access_ends_with_the_link_on_every_instance() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    fill(&app, &patient).await;
    link(&app, &therapist, &patient).await;
    let entries = format!("/v1/patients/{}/pain-entries", patient.id);
    for instance in [&app, &second] {
        assert_eq!(
            instance.get(&entries, &therapist.access).await.status,
            StatusCode::OK
        );
    }
    // Removed on one instance: refused on the next request, on both.
    let removed = second
        .call(
            Method::DELETE,
            &format!("/v1/me/care-team/{}", therapist.id),
            Some(&patient.access),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    for instance in [&app, &second] {
        instance
            .get(&entries, &therapist.access)
            .await
            .assert_problem(404, "not_found");
    }
    let log = access_log(&app, &patient, "").await;
    let outcomes: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["refused", "refused", "allowed", "allowed"]);
}

#[tokio::test]
async fn the_patient_reads_every_access_newest_first() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    let stranger = app.register_therapist().await;
    fill(&app, &patient).await;
    link(&app, &therapist, &patient).await;
    let theirs = format!("/v1/patients/{}", patient.id);

    let mut expected = Vec::new();
    for (who, path) in [
        (&therapist, format!("{theirs}/pain-entries")),
        (&stranger, format!("{theirs}/conditions")),
        (&therapist, format!("{theirs}/conditions")),
        (&therapist, format!("{theirs}/assessments")),
    ] {
        app.clock.advance(chrono::Duration::seconds(1));
        app.get(&format!("{path}?limit=5"), &who.access).await;
        let outcome = if who.id == therapist.id {
            "allowed"
        } else {
            "refused"
        };
        expected.push((who.id.clone(), path, outcome));
    }
    expected.reverse();

    let first = access_log(&app, &patient, "?limit=3").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let rest = access_log(&app, &patient, &format!("?limit=3&cursor={cursor}")).await;
    assert_eq!(rest["next_cursor"], Value::Null);
    let entries: Vec<&Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .collect();
    assert_eq!(entries.len(), 4);
    for (entry, (actor, path, outcome)) in entries.iter().zip(&expected) {
        assert_eq!(entry["actor"]["id"], actor.as_str());
        assert!(entry["actor"]["display_name"].is_string());
        assert_eq!(entry["path"], path.as_str(), "the query is not logged");
        assert_eq!(entry["outcome"], *outcome);
        assert_eq!(entry["action"], "read");
    }
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "{times:?}");
    // Nobody else reads it: it is the patient's own.
    app.get("/v1/me/access-log", &therapist.access)
        .await
        .assert_problem(403, "patients_only");
    app.get("/v1/me/access-log?cursor=nonsense", &patient.access)
        .await
        .assert_problem(400, "invalid_query");
}

#[tokio::test]
async fn erasure_keeps_the_log_of_a_gone_therapist_and_drops_a_gone_patients() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    fill(&app, &patient).await;
    link(&app, &therapist, &patient).await;
    let read = app
        .get(
            &format!("/v1/patients/{}/pain-entries", patient.id),
            &therapist.access,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let erase = |user: &TestUser| {
        let token = user.access.clone();
        let app = &app;
        async move {
            let reply = app
                .call(
                    Method::DELETE,
                    "/v1/me",
                    Some(&token),
                    Some(json!({"password": crate::helpers::PASSWORD})),
                )
                .await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
        }
    };
    erase(&therapist).await;
    let log = access_log(&app, &patient, "").await;
    assert_eq!(log["items"][0]["actor"]["id"], therapist.id.as_str());
    assert_eq!(log["items"][0]["actor"]["display_name"], Value::Null);
    assert_eq!(app.count("access_log", "1 = 1").await, 1);
    erase(&patient).await;
    assert_eq!(app.count("access_log", "1 = 1").await, 0);
}

fn session(minutes_each_side: i64) -> Value {
    json!({"date": test_today().to_string(), "duration_minutes": 60, "technique": "deep_tissue",
           "pressure": "firm",
           "areas": [{"muscle": "quadratus_lumborum", "side": "left", "minutes": minutes_each_side},
                     {"muscle": "quadratus_lumborum", "side": "right", "minutes": minutes_each_side},
                     {"muscle": "gluteus_medius", "side": "both", "minutes": 20}],
           "pain_before": 7, "pain_after": 3})
}

#[tokio::test]
async fn a_linked_therapist_records_sessions_only_its_author_changes() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    let colleague = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    link(&app, &colleague, &patient).await;
    let id = uuid::Uuid::new_v4();
    let theirs = format!("/v1/patients/{}/massage-sessions/{id}", patient.id);
    let mine = format!("/v1/me/massage-sessions/{id}");

    let recorded = app
        .call(
            Method::PUT,
            &theirs,
            Some(&therapist.access),
            Some(session(20)),
        )
        .await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.text);
    assert_eq!(recorded.header("location"), Some(theirs.as_str()));
    assert_eq!(
        recorded.body["recorded_by"],
        json!({"id": therapist.id, "role": "therapist"})
    );
    // A retry changes nothing; a correction is a new version.
    let replay = app
        .call(
            Method::PUT,
            &theirs,
            Some(&therapist.access),
            Some(session(20)),
        )
        .await;
    assert_eq!(
        (replay.status, &replay.body["version"]),
        (StatusCode::OK, &json!(1))
    );
    let corrected = app
        .call(
            Method::PUT,
            &theirs,
            Some(&therapist.access),
            Some(session(15)),
        )
        .await;
    assert_eq!(
        (corrected.status, &corrected.body["version"]),
        (StatusCode::OK, &json!(2))
    );

    // The patient reads it, sees who recorded it, and cannot change it.
    let seen = app.get(&mine, &patient.access).await;
    assert_eq!(seen.body, corrected.body);
    let edited = app
        .call(Method::PUT, &mine, Some(&patient.access), Some(session(10)))
        .await;
    edited.assert_problem(403, "not_author");
    app.call(Method::DELETE, &mine, Some(&patient.access), None)
        .await
        .assert_problem(403, "not_author");
    // Neither can another therapist of the patient's.
    app.call(
        Method::PUT,
        &theirs,
        Some(&colleague.access),
        Some(session(10)),
    )
    .await
    .assert_problem(403, "not_author");
    assert_eq!(
        app.get(&theirs, &colleague.access).await.body,
        corrected.body
    );
    // Nor can the therapist change the patient's own sessions.
    let own = app
        .post(
            "/v1/me/massage-sessions",
            Some(&patient.access),
            session(20),
        )
        .await;
    let own_path = format!(
        "/v1/patients/{}/massage-sessions/{}",
        patient.id,
        own.body["id"].as_str().unwrap()
    );
    app.call(Method::DELETE, &own_path, Some(&therapist.access), None)
        .await
        .assert_problem(403, "not_author");

    // It is in the patient's sync feed, in its latest state.
    let feed = app.get("/v1/me/changes", &patient.access).await;
    let change = feed.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.to_string())
        .expect("the therapist's session in the feed");
    assert_eq!(change["data"], corrected.body);
    assert_eq!(change["kind"], "massage_session");

    // POST with an Idempotency-Key, as a dashboard retrying would.
    let posted = |key: &'static str| {
        let (app, token, pid) = (&app, therapist.access.clone(), patient.id.clone());
        async move {
            crate::helpers::read(
                app.client
                    .post(app.url(&format!("/v1/patients/{pid}/massage-sessions")))
                    .bearer_auth(token)
                    .header("Idempotency-Key", key)
                    .json(&session(20))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let first = posted("dashboard-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(posted("dashboard-1").await.body, first.body);
    assert!(first
        .header("location")
        .unwrap()
        .starts_with(&format!("/v1/patients/{}/massage-sessions/", patient.id)));

    // The same key and body for another patient is another request.
    let second = app.register_patient().await;
    link(&app, &therapist, &second).await;
    let elsewhere = crate::helpers::read(
        app.client
            .post(app.url(&format!("/v1/patients/{}/massage-sessions", second.id)))
            .bearer_auth(&therapist.access)
            .header("Idempotency-Key", "dashboard-1")
            .json(&session(20))
            .send()
            .await
            .unwrap(),
    )
    .await;
    elsewhere.assert_problem(409, "idempotency_key_reused");
    assert_eq!(
        app.count("records", &format!("patient_id = '{}'", second.id))
            .await,
        0
    );

    // After the link ends the sessions stay in the patient's logbook, and the
    // therapist can no longer touch them.
    let ended = app
        .call(
            Method::DELETE,
            &format!("/v1/patients/{}", patient.id),
            Some(&therapist.access),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    app.call(Method::DELETE, &theirs, Some(&therapist.access), None)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(app.get(&mine, &patient.access).await.body, corrected.body);
    assert_eq!(
        app.count(
            "records",
            &format!(
                "patient_id = '{}' AND author_id = '{}' AND deleted_at IS NULL",
                patient.id, therapist.id
            )
        )
        .await,
        2
    );
    // The writes (ending the link among them) are in the patient's access log as writes.
    let log = access_log(&app, &patient, "?limit=1000").await;
    let writes = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "write" && e["actor"]["id"] == therapist.id.as_str())
        .count();
    assert_eq!(writes, 8, "{}", log);
}

/// A therapist's write whose link ends after its scope was decided (its
/// body still on the way) is refused under the patient's lock with 404,
/// and the patient's access log says `refused` for it, as the answer did.
#[tokio::test]
async fn a_write_refused_under_the_lock_is_refused_in_the_access_log() {
    use std::io::{Read, Write};

    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    let body = session(20).to_string();
    let path = format!(
        "/v1/patients/{}/massage-sessions/{}",
        patient.id,
        uuid::Uuid::new_v4()
    );
    let address = app.address.trim_start_matches("http://").to_owned();
    let token = therapist.access.clone();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let mut socket = std::net::TcpStream::connect(address).unwrap();
        write!(
            socket,
            "PUT {path} HTTP/1.1\r\nHost: painline\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        wait.recv().unwrap();
        socket.write_all(body.as_bytes()).unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).unwrap();
        answer
    });
    // The scope is decided, and logged, before the body is read.
    let logged = format!("patient_id = '{}' AND action = 'write'", patient.id);
    for _ in 0..10_000 {
        if app.count("access_log", &logged).await == 1 {
            break;
        }
    }
    assert_eq!(app.count("access_log", &logged).await, 1);
    let ended = app
        .call(
            Method::DELETE,
            &format!("/v1/me/care-team/{}", therapist.id),
            Some(&patient.access),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
    go.send(()).unwrap();
    let answer = writer.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert_eq!(
        app.count("access_log", &format!("{logged} AND outcome = 'refused'"))
            .await,
        1
    );
    assert_eq!(
        app.count("records", &format!("author_id = '{}'", therapist.id))
            .await,
        0
    );
}
