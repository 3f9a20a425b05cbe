//! Red flags on pain entries: stored as a typed column, answered with the
//! advice a client must give, refused by name when unknown, listed for
//! clients without a sign-in, and first in the therapist's list for 14 days.

use chrono::Days;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{link, spawn_app, test_today, Reply, TestApp, TestUser};

fn day(back: u64) -> String {
    test_today()
        .checked_sub_days(Days::new(back))
        .unwrap()
        .to_string()
}

async fn put_entry(app: &TestApp, patient: &TestUser, id: Uuid, body: Value) -> Reply {
    app.call(
        Method::PUT,
        &format!("/v1/me/pain-entries/{id}"),
        Some(&patient.access),
        Some(body),
    )
    .await
}

async fn stored_mask(app: &TestApp, id: Uuid) -> Option<i64> {
    #[derive(diesel::QueryableByName)]
    struct Mask {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        mask: Option<i64>,
    }
    let sql = format!("SELECT CAST(red_flags AS BIGINT) AS mask FROM records WHERE id = '{id}'");
    app.with_db(move |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query(sql).get_result::<Mask>(conn)
    })
    .await
    .mask
}

#[tokio::test]
async fn an_entry_with_red_flags_is_answered_with_advice_and_stored_typed() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;

    // A sign of cauda equina syndrome among others: emergency. The codes
    // come back in the list's order, whatever order they were sent in.
    let urgent = Uuid::new_v4();
    let reply = put_entry(
        &app,
        &patient,
        urgent,
        json!({"date": day(0), "pain_level": 7, "red_flags": ["fever", "saddle_anaesthesia"]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        reply.body["red_flags"],
        json!(["saddle_anaesthesia", "fever"])
    );
    assert_eq!(reply.body["advice"], "emergency");
    assert_eq!(stored_mask(&app, urgent).await, Some(1 | 64));

    // Other flags only: see a doctor. Created with POST as well.
    let posted = app
        .post(
            "/v1/me/pain-entries",
            Some(&patient.access),
            json!({"date": day(1), "pain_level": 5, "red_flags": ["constant_night_pain"]}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text);
    assert_eq!(posted.body["advice"], "see_doctor");
    let posted_id: Uuid = posted.body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(stored_mask(&app, posted_id).await, Some(1024));

    // None: no advice at all, and nothing in the column.
    let calm = Uuid::new_v4();
    let reply = put_entry(
        &app,
        &patient,
        calm,
        json!({"date": day(0), "pain_level": 2}),
    )
    .await;
    assert!(reply.body.get("red_flags").is_none(), "{}", reply.text);
    assert!(reply.body.get("advice").is_none(), "{}", reply.text);
    assert_eq!(stored_mask(&app, calm).await, None);

    // The same flags in another order are the same entry: a replay.
    let replay = put_entry(
        &app,
        &patient,
        urgent,
        json!({"date": day(0), "pain_level": 7, "red_flags": ["saddle_anaesthesia", "fever"]}),
    )
    .await;
    assert_eq!(
        (replay.status, &replay.body["version"]),
        (StatusCode::OK, &json!(1))
    );

    // The phone's other device and the therapist read what was answered.
    let feed = app.get("/v1/me/changes", &patient.access).await;
    let synced = feed.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == urgent.to_string())
        .unwrap();
    assert_eq!(synced["data"]["advice"], "emergency");
    let seen = app
        .get(
            &format!("/v1/patients/{}/pain-entries/{urgent}", patient.id),
            &therapist.access,
        )
        .await;
    assert_eq!(
        seen.body["red_flags"],
        json!(["saddle_anaesthesia", "fever"])
    );

    // Withdrawn by replacing the entry: the column is empty again.
    let cleared = put_entry(
        &app,
        &patient,
        urgent,
        json!({"date": day(0), "pain_level": 6}),
    )
    .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    assert_eq!(stored_mask(&app, urgent).await, None);
}

#[tokio::test]
async fn an_unknown_or_repeated_code_is_refused_by_name_and_nothing_is_stored() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    for (flags, fields) in [
        (json!(["fever", "headache"]), vec!["red_flags[1]"]),
        (json!(["fever", "fever"]), vec!["red_flags"]),
        (json!(["Fever"]), vec!["red_flags[0]"]),
    ] {
        let id = Uuid::new_v4();
        let reply = put_entry(
            &app,
            &patient,
            id,
            json!({"date": day(0), "pain_level": 4, "red_flags": flags}),
        )
        .await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), fields, "{flags}");
        if fields[0] == "red_flags[1]" {
            assert!(reply.text.contains("headache"), "{}", reply.text);
        }
    }
    let wrong_type = put_entry(
        &app,
        &patient,
        Uuid::new_v4(),
        json!({"date": day(0), "pain_level": 4, "red_flags": "fever"}),
    )
    .await;
    assert_eq!(
        wrong_type.status,
        StatusCode::BAD_REQUEST,
        "{}",
        wrong_type.text
    );
    assert_eq!(
        app.count("records", &format!("patient_id = '{}'", patient.id))
            .await,
        0
    );
}

#[tokio::test]
async fn the_codes_are_listed_for_clients_without_a_sign_in() {
    let app = spawn_app().await;
    let reply = crate::helpers::read(
        app.client
            .get(app.url("/v1/red-flags"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let cache = reply.header("cache-control").unwrap_or_default();
    assert!(
        cache.contains("public") && cache.contains("max-age=86400"),
        "{cache}"
    );
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 11);
    let emergency: Vec<&str> = items
        .iter()
        .filter(|i| i["advice"] == "emergency")
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        emergency,
        [
            "saddle_anaesthesia",
            "bladder_dysfunction",
            "bowel_dysfunction",
            "sexual_dysfunction",
            "bilateral_leg_symptoms",
            "progressive_leg_weakness"
        ]
    );
    assert!(items
        .iter()
        .all(|i| i["description"].as_str().is_some_and(|d| d.len() > 10)));
}

/// A flag of the last 14 days (today included) puts the patient first,
/// before a patient whose pain rises; one of 15 days ago does not.
#[tokio::test]
async fn a_red_flag_of_the_last_14_days_puts_the_patient_first() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let rising = crate::helpers::patient_with(&app, json!({"display_name": "Aaron Rising"})).await;
    let flagged = crate::helpers::patient_with(&app, json!({"display_name": "Zoe Flagged"})).await;
    let old = crate::helpers::patient_with(&app, json!({"display_name": "Yan Old Flag"})).await;
    for patient in [&rising, &flagged, &old] {
        link(&app, &therapist, patient).await;
    }
    // Aaron: 3, 3, 3 the week before, 7, 7, 7 this week.
    for (back, level) in [(7, 3), (8, 3), (9, 3), (0, 7), (1, 7), (2, 7)] {
        let reply = put_entry(
            &app,
            &rising,
            Uuid::new_v4(),
            json!({"date": day(back), "pain_level": level}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    for (patient, back) in [(&flagged, 13), (&old, 14)] {
        let reply = put_entry(
            &app,
            patient,
            Uuid::new_v4(),
            json!({"date": day(back), "pain_level": 3, "red_flags": ["bilateral_leg_symptoms"]}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        // Logged today too, so that not_logging does not decide the order.
        put_entry(
            &app,
            patient,
            Uuid::new_v4(),
            json!({"date": day(0), "pain_level": 2}),
        )
        .await;
    }
    let list = app.get("/v1/patients", &therapist.access).await;
    let items = list.body["items"].as_array().unwrap();
    let names: Vec<&str> = items
        .iter()
        .map(|p| p["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Zoe Flagged", "Aaron Rising", "Yan Old Flag"]);
    assert_eq!(items[0]["alerts"], json!(["red_flag"]));
    assert_eq!(items[0]["red_flag_date"], day(13));
    assert_eq!(items[0]["needs_attention"], true);
    assert_eq!(items[2]["red_flag_date"], Value::Null);
    assert!(!items[2]["alerts"]
        .as_array()
        .unwrap()
        .contains(&json!("red_flag")));
}

/// The flags of a day's entries, each once, in the daily series and the
/// CSV; each entry's own in the JSON export as answered, and in FHIR as one
/// `component` per code. A day without flags has an empty cell and list.
#[tokio::test]
async fn red_flags_are_in_the_daily_series_and_every_export() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    let (legs, saddle, calm) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for (id, back, flags) in [
        (legs, 2, json!(["fever", "bilateral_leg_symptoms"])),
        (
            saddle,
            2,
            json!(["bilateral_leg_symptoms", "saddle_anaesthesia"]),
        ),
        (calm, 1, json!([])),
    ] {
        let reply = put_entry(
            &app,
            &patient,
            id,
            json!({"date": day(back), "pain_level": 5, "red_flags": flags}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    let union = json!(["saddle_anaesthesia", "bilateral_leg_symptoms", "fever"]);

    let range = format!("from={}&to={}", day(2), day(1));
    for (path, token) in [
        ("/v1/me".to_owned(), &patient.access),
        (format!("/v1/patients/{}", patient.id), &therapist.access),
    ] {
        let daily = app.get(&format!("{path}/daily?{range}"), token).await;
        assert_eq!(daily.status, StatusCode::OK, "{}", daily.text);
        assert_eq!(daily.body["days"][0]["red_flags"], union, "{path}");
        assert_eq!(daily.body["days"][1]["red_flags"], json!([]), "{path}");

        let csv = app
            .get(&format!("{path}/export?format=csv&{range}"), token)
            .await;
        assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
        let lines: Vec<&str> = csv.text.split_terminator("\r\n").collect();
        assert!(lines[0].ends_with(",red_flags"), "{}", lines[0]);
        assert_eq!(
            lines[1],
            format!(
                "{},5,5,2,0,0,0,,saddle_anaesthesia bilateral_leg_symptoms fever",
                day(2)
            )
        );
        assert_eq!(lines[2], format!("{},5,5,1,0,0,0,,", day(1)));
    }

    let json_export = app.get("/v1/me/export", &patient.access).await;
    let entries = json_export.body["pain_entries"].as_array().unwrap();
    let exported = |id: Uuid| {
        entries
            .iter()
            .find(|e| e["id"] == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(
        exported(legs)["red_flags"],
        json!(["bilateral_leg_symptoms", "fever"])
    );
    assert_eq!(exported(legs)["advice"], "emergency");
    assert!(exported(calm).get("red_flags").is_none());

    let fhir = app
        .get(
            &format!("/v1/patients/{}/export?format=fhir", patient.id),
            &therapist.access,
        )
        .await;
    assert_eq!(fhir.status, StatusCode::OK, "{}", fhir.text);
    let observation = |id: Uuid| {
        fhir.body["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .find(|r| r["id"] == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(
        observation(saddle)["component"],
        json!([
            {"code": {"text": "saddle_anaesthesia"}, "valueBoolean": true},
            {"code": {"text": "bilateral_leg_symptoms"}, "valueBoolean": true}
        ])
    );
    assert_eq!(observation(saddle)["valueInteger"], 5);
    assert!(observation(calm).get("component").is_none());
}
