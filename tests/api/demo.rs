//! `seed-demo`: the demo therapist sees three linked patients with months
//! of data whose trends say something, and running it again changes nothing.

use chrono::{NaiveDate, TimeZone, Utc};
use painline::demo;
use painline::startup::build_state;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{base_settings, spawn_app, TestApp};

/// Objects stored, the sum of their versions, and of the patients' change counters.
async fn stored(app: &TestApp) -> (i64, i64, i64) {
    #[derive(diesel::QueryableByName)]
    struct Sums {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        records: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        versions: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        feed: i64,
    }
    let sql = "SELECT (SELECT COUNT(*) FROM records) AS records, \
               (SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM records) AS versions, \
               (SELECT CAST(COALESCE(SUM(change_seq), 0) AS BIGINT) FROM users) AS feed";
    let sums = app
        .with_db(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(sql).get_result::<Sums>(conn)
        })
        .await;
    (sums.records, sums.versions, sums.feed)
}

#[tokio::test]
async fn the_demo_shows_trends_and_running_it_twice_duplicates_nothing() {
    let app = spawn_app().await;
    // A fixed day, so the demo's data (a function of the calendar) is too.
    let noon = Utc.from_utc_datetime(
        &NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap(),
    );
    app.clock.advance(noon - app.clock.now());
    let state = build_state(&base_settings(app.database.clone()), app.clock.clone()).unwrap();

    let first = demo::seed(&state).await.unwrap();
    assert_eq!((first.accounts_created, first.links_created), (4, 3));
    assert!(first.objects_written > 3 * 160, "{first:?}");
    let before = stored(&app).await;
    let again = demo::seed(&state).await.unwrap();
    assert_eq!(
        (
            again.accounts_created,
            again.links_created,
            again.objects_written
        ),
        (0, 0, 0)
    );
    assert_eq!(again.objects_unchanged, first.objects_written);
    assert_eq!(
        stored(&app).await,
        before,
        "nothing changed, the feed did not move"
    );
    assert_eq!(app.count("users", "1 = 1").await, 4);

    // A day later the demo adds that day and rewrites nothing older.
    app.clock.advance(chrono::Duration::days(1));
    let next_day = demo::seed(&state).await.unwrap();
    let (records, versions, _) = stored(&app).await;
    let added = records - before.0;
    assert!(added > 0 && added <= 3 * 8, "{next_day:?}");
    assert_eq!(
        versions - before.1,
        added,
        "each new object is at version 1; no old one moved"
    );
    assert_eq!(next_day.objects_written as i64, added);
    app.clock.advance(chrono::Duration::days(-1));

    // What a newcomer sees, signed in as the demo therapist.
    let login = app.login(demo::THERAPIST_EMAIL, demo::PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    let token = login.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let patients = app.get("/v1/patients", &token).await;
    let items = patients.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let named = |part: &str| -> &Value {
        items
            .iter()
            .find(|p| p["display_name"].as_str().unwrap().contains(part))
            .unwrap()
    };
    assert_eq!(
        named("Maria")["precautions"],
        serde_json::json!(["osteoporosis"])
    );
    let trends = |id: &Value| {
        let path = format!(
            "/v1/patients/{}/trends?from=2026-06-01&to=2026-11-30",
            id.as_str().unwrap()
        );
        let token = token.clone();
        let app = &app;
        async move { app.get(&path, &token).await.body["summary"].clone() }
    };
    let (alex, sam, maria) = (
        trends(&named("Alex")["id"]).await,
        trends(&named("Sam")["id"]).await,
        trends(&named("Maria")["id"]).await,
    );
    for summary in [&alex, &sam, &maria] {
        assert!(summary["sessions"].as_i64().unwrap() >= 8, "{summary}");
        // Every third of Maria's sessions does not help: her mean is lowest.
        assert!(summary["mean_relief"].as_f64().unwrap() > 0.3, "{summary}");
        assert!(summary["logged_days"].as_i64().unwrap() > 140, "{summary}");
    }
    // What the figures mean, on this day: Alex's flare-up is pain rising,
    // Sam's next session is due, Maria's latest questionnaire is worse.
    let alerts = |part: &str| named(part)["alerts"].clone();
    assert!(alerts("Alex")
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("pain_rising")));
    assert!(named("Alex")["latest_note"]["text"]
        .as_str()
        .unwrap()
        .contains("boxes"));
    assert_eq!(
        named("Sam")["next_session"]["due"],
        true,
        "{}",
        named("Sam")
    );
    let sam_last = named("Sam")["last_massage_date"].as_str().unwrap();
    assert!(sam_last < "2026-11-21", "{sam_last}");
    assert_eq!(named("Maria")["function_change"]["important"], true);
    assert!(alerts("Maria")
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("function_worse")));
    // The home programmes: Alex follows his, Maria hers in part, Sam not.
    assert_eq!(named("Alex")["programme_adherence_7d"], 0.929);
    // Today, a Monday, her tilt is done and the bridge (Wednesdays) not
    // yet: six past days and today's tilt, (1 + 1/(3 × 6/7)) / 2.
    assert_eq!(named("Maria")["programme_adherence_7d"], 0.694);
    assert!(
        named("Sam")["programme_adherence_7d"].as_f64().unwrap() < 0.35,
        "{}",
        named("Sam")
    );
    assert!(alerts("Sam")
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("low_adherence")));
    // Sam reported pain and tingling in both legs two days ago: a red
    // flag, first among his alerts and first on the list.
    let sam_today: NaiveDate = named("Sam")["today"].as_str().unwrap().parse().unwrap();
    let warned = (sam_today - chrono::Duration::days(2)).to_string();
    assert_eq!(named("Sam")["red_flag_date"], warned.as_str());
    assert_eq!(alerts("Sam")[0], "red_flag");
    assert!(items[0]["display_name"].as_str().unwrap().contains("Sam"));
    for part in ["Alex", "Maria"] {
        assert_eq!(named(part)["red_flag_date"], Value::Null, "{part}");
    }
    let entries = app
        .get(
            &format!(
                "/v1/patients/{}/pain-entries?from={warned}&to={warned}",
                named("Sam")["id"].as_str().unwrap()
            ),
            &token,
        )
        .await;
    let flagged: Vec<&Value> = entries.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("red_flags").is_some())
        .collect();
    assert_eq!(flagged.len(), 1, "{}", entries.text);
    assert_eq!(
        flagged[0]["red_flags"],
        serde_json::json!(["bilateral_leg_symptoms"])
    );
    assert_eq!(flagged[0]["advice"], "emergency");
    for part in ["Alex", "Maria"] {
        assert!(!alerts(part)
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("low_adherence")));
    }
    let alex_id = named("Alex")["id"].as_str().unwrap().to_owned();
    let history = app
        .get(&format!("/v1/patients/{alex_id}/programme/history"), &token)
        .await;
    let in_force: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["in_force_from"].as_str().unwrap())
        .collect();
    assert_eq!(in_force, ["2026-11-17", "2026-10-27"]);
    let weeks = app
        .get(
            &format!("/v1/patients/{alex_id}/programme/adherence"),
            &token,
        )
        .await;
    let figures: Vec<f64> = weeks.body["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["programme_adherence"].as_f64().unwrap())
        .collect();
    // Three whole weeks of six stretching days, and today, a Monday.
    assert_eq!(figures, [0.929, 0.929, 0.929, 1.0]);

    // Every relief class shows in the 90 days the dashboard draws.
    let mut classes = std::collections::BTreeSet::new();
    for part in ["Alex", "Sam", "Maria"] {
        let path = format!(
            "/v1/patients/{}/trends",
            named(part)["id"].as_str().unwrap()
        );
        for interval in app.get(&path, &token).await.body["intervals"]
            .as_array()
            .unwrap()
        {
            if let Some(class) = interval["relief_class"].as_str() {
                classes.insert(class.to_owned());
            }
        }
    }
    assert_eq!(
        classes.into_iter().collect::<Vec<_>>(),
        ["minimal", "moderate", "none", "substantial"]
    );

    // Stretching helps Alex and not Sam; Maria's gentle sessions help least.
    let r = |s: &Value| s["stretch_pain_correlation"].as_f64().unwrap();
    assert!(r(&alex) < -0.25, "{alex}");
    assert!(r(&sam) > -0.15 && r(&sam) > r(&alex) + 0.25, "{sam}");
    assert!(maria["mean_relief"].as_f64() < alex["mean_relief"].as_f64());
}
