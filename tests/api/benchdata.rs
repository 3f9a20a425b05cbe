//! `seed-bench`: the benchmark's data set is what real use stores (readable
//! through the API, counted in the feed in date order, linked to the right
//! therapists), and a batch of writes is all-or-nothing.

use chrono::Days;
use painline::benchdata::{self, Size};
use painline::domain::access::{AuthUser, PatientScope};
use painline::domain::{RecordId, Role, UserId};
use painline::kinds::{PainEntries, PainEntryBody};
use painline::service::logbook;
use painline::startup::build_state;
use reqwest::StatusCode;

use crate::helpers::{base_settings, spawn_app, test_today};

#[tokio::test]
async fn the_bench_data_is_what_the_api_serves() {
    let app = spawn_app().await;
    let state = build_state(&base_settings(app.database.clone()), app.clock.clone()).unwrap();
    let size = Size {
        therapists: 2,
        patients_per_therapist: 3,
        days: 30,
        parallel: 2,
    };
    let manifest = benchdata::seed(&state, size).await.unwrap();
    assert_eq!(manifest.therapists.len(), 2);
    assert_eq!(manifest.patients.len(), 6);
    assert_eq!(
        app.count("records", "1 = 1").await,
        manifest.objects_written as i64
    );
    // About a pain entry a day and two stretch sessions, per patient.
    let per_patient = manifest.objects_written / 6;
    assert!((60..=140).contains(&per_patient), "{per_patient}");

    for therapist in &manifest.therapists {
        let login = app.login(&therapist.email, benchdata::PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK);
        let token = login.body["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let page = app.get("/v1/patients", &token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let mut shown: Vec<String> = page.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        let mut expected: Vec<String> = therapist.patients.iter().map(|p| p.to_string()).collect();
        shown.sort();
        expected.sort();
        assert_eq!(shown, expected);
    }

    for patient in &manifest.patients {
        let login = app.login(&patient.email, benchdata::PASSWORD).await;
        let token = login.body["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let all = app.get("/v1/me/changes?limit=1000", &token).await;
        let changes = all.body["changes"].as_array().unwrap();
        let stored = app
            .count("records", &format!("patient_id = '{}'", patient.id))
            .await;
        assert_eq!(changes.len() as i64, stored);
        let cursor = all.body["next_cursor"].as_str().unwrap();
        assert!(cursor.ends_with(&format!("-{stored}")), "{cursor}");
        // The feed follows the calendar, so a week-old cursor hands back
        // the last seven days and nothing older.
        let week = app
            .get(
                &format!("/v1/me/changes?limit=1000&cursor={}", patient.week_cursor),
                &token,
            )
            .await;
        let recent = week.body["changes"].as_array().unwrap();
        assert!(!recent.is_empty());
        let week_start = patient.last_day.checked_sub_days(Days::new(6)).unwrap();
        for change in recent {
            let date: chrono::NaiveDate = change["data"]["date"].as_str().unwrap().parse().unwrap();
            assert!(date >= week_start && date <= patient.last_day, "{change}");
        }
        assert_eq!(
            recent.len() as i64,
            app.count(
                "records",
                &format!("patient_id = '{}' AND date >= '{week_start}'", patient.id)
            )
            .await
        );
        let trends = app
            .get(
                &format!(
                    "/v1/me/trends?from={}&to={}",
                    patient.first_day, patient.last_day
                ),
                &token,
            )
            .await;
        assert_eq!(trends.status, StatusCode::OK);
        assert!(!trends.body["intervals"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_batch_with_one_bad_write_stores_nothing() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let state = build_state(&base_settings(app.database.clone()), app.clock.clone()).unwrap();
    let id: UserId = patient.id.parse().unwrap();
    let scope = PatientScope::own(AuthUser {
        id,
        role: Role::Patient,
        login: None,
    })
    .unwrap();
    let entry = |date, level| PainEntryBody {
        date,
        pain_level: level,
        recorded_at: None,
        regions: Vec::new(),
        enjoyment_interference: None,
        activity_interference: None,
        notes: None,
        red_flags: Vec::new(),
    };
    let today = test_today();
    let failed = logbook::put_batch(&state.db, &state.clock, scope, move |batch| {
        batch.put::<PainEntries>(&scope, RecordId(uuid::Uuid::new_v4()), entry(today, 4))?;
        // Pain is 0–10: 422.
        batch.put::<PainEntries>(&scope, RecordId(uuid::Uuid::new_v4()), entry(today, 11))?;
        Ok(())
    })
    .await;
    assert!(matches!(
        failed,
        Err(painline::service::ServiceError::Domain(
            painline::domain::DomainError::Invalid(_)
        ))
    ));
    assert_eq!(app.count("records", "1 = 1").await, 0);
    let me = app.get("/v1/me/changes", &patient.access).await;
    assert!(me.body["next_cursor"].as_str().unwrap().ends_with("-0"));

    let written = logbook::put_batch(&state.db, &state.clock, scope, move |batch| {
        batch.put::<PainEntries>(&scope, RecordId(uuid::Uuid::new_v4()), entry(today, 4))?;
        batch.put::<PainEntries>(&scope, RecordId(uuid::Uuid::new_v4()), entry(today, 6))
    })
    .await
    .unwrap();
    assert_eq!(written, logbook::Outcome::Created);
    let list = app.get("/v1/me/pain-entries", &patient.access).await;
    let mut levels: Vec<i64> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pain_level"].as_i64().unwrap())
        .collect();
    levels.sort();
    assert_eq!(levels, [4, 6]);
}
