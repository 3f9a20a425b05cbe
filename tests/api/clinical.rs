//! What the figures mean, through the API on each backend: relief classes
//! and the next-session hint in the trends and the overview, the patient
//! list in attention order with its reasons, and therapist-wide alert rules
//! with per-patient overrides. The class boundaries themselves are table
//! tests in `src/analytics/clinical.rs`.

use chrono::{Days, NaiveDate};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{link, spawn_app, test_today, Reply, TestApp, TestUser};

fn day(back: u64) -> String {
    ago(back).to_string()
}

fn ago(back: u64) -> NaiveDate {
    test_today().checked_sub_days(Days::new(back)).unwrap()
}

async fn named(app: &TestApp, name: &str) -> TestUser {
    crate::helpers::patient_with(app, json!({"display_name": name})).await
}

async fn pain(app: &TestApp, patient: &TestUser, back: u64, level: i64, notes: Option<&str>) {
    let reply = app
        .post(
            "/v1/me/pain-entries",
            Some(&patient.access),
            json!({"date": day(back), "pain_level": level, "notes": notes}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

async fn session(app: &TestApp, author: &TestUser, path: &str, back: u64) -> String {
    let reply = app
        .post(
            path,
            Some(&author.access),
            json!({"date": day(back), "duration_minutes": 60, "technique": "swedish",
                   "areas": [{"muscle": "quadratus_lumborum", "side": "both", "minutes": 30}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn odi(app: &TestApp, patient: &TestUser, back: u64, answers: Value) {
    let reply = app
        .post(
            "/v1/me/assessments",
            Some(&patient.access),
            json!({"date": day(back), "instrument": "odi", "answers": answers}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

fn names(reply: &Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["display_name"].as_str().unwrap().to_owned())
        .collect()
}

/// Sessions 28, 21, 14 and 7 days ago. Pain is 6 for the week before the
/// first and on each session's day, 3 on the three days after each session
/// and 6 again from the fourth.
async fn four_sessions(app: &TestApp, patient: &TestUser) -> Vec<String> {
    for back in 0..=35u64 {
        let after_session = back < 28 && (1..=3).contains(&(7 - back % 7));
        pain(app, patient, back, if after_session { 3 } else { 6 }, None).await;
    }
    let mut ids = Vec::new();
    for back in [28, 21, 14, 7] {
        ids.push(session(app, patient, "/v1/me/massage-sessions", back).await);
    }
    ids
}

#[tokio::test]
async fn relief_classes_and_the_next_session_hint_in_trends_and_overview() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let patient = named(&app, "Alex Morgan").await;
    link(&app, &therapist, &patient).await;
    let sessions = four_sessions(&app, &patient).await;

    let trends = app.get("/v1/me/trends", &patient.access).await;
    assert_eq!(trends.status, StatusCode::OK, "{}", trends.text);
    let intervals = trends.body["intervals"].as_array().unwrap();
    let classes: Vec<(&Value, &Value, &Value)> = intervals
        .iter()
        .map(|i| {
            (
                &i["relief_pct"],
                &i["relief_class"],
                &i["relief_duration_days"],
            )
        })
        .collect();
    // The first: 6 before, 3 after: 50 %, substantial. The others: the week
    // before holds three days of 3 and four of 6 (33/7), 3 after: relief
    // 12/7 = 1.714 points, 36.4 %, moderate. Each back at the baseline on
    // the fourth day: 3 days of relief.
    assert_eq!(
        classes,
        vec![
            (&json!(0.5), &json!("substantial"), &json!(3)),
            (&json!(0.364), &json!("moderate"), &json!(3)),
            (&json!(0.364), &json!("moderate"), &json!(3)),
            (&json!(0.364), &json!("moderate"), &json!(3)),
        ]
    );
    let summary = &trends.body["summary"];
    assert_eq!(
        (&summary["responders"], &summary["classified"]),
        (&json!(4), &json!(4))
    );
    // Three closed helpful intervals of 3 days: the next session is due 3
    // + 1 days after the latest (7 days ago), so 3 days ago: due.
    let hint =
        json!({"typical_relief_days": 3.0, "based_on": 3, "suggested_date": day(3), "due": true});
    assert_eq!(summary["next_session"], hint);
    // A range that ends before today cannot know the sessions since: no hint.
    let past = app
        .get(
            &format!("/v1/me/trends?from={}&to={}", day(40), day(1)),
            &patient.access,
        )
        .await;
    assert_eq!(past.body["summary"]["responders"], 4);
    assert_eq!(past.body["summary"]["next_session"], json!(null));

    let overview = app
        .get(&format!("/v1/patients/{}", patient.id), &therapist.access)
        .await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.text);
    assert_eq!(
        overview.body["last_session"],
        json!({"session_id": sessions[3], "date": day(7), "relief": 1.714,
               "relief_class": "moderate", "relief_duration_days": 3, "relief_censored": false})
    );
    assert_eq!(overview.body["next_session"], hint);

    // The therapist records today's session: it is the last one now (no
    // days after it yet, so no relief), and the hint counts the interval
    // it closed.
    let today = session(
        &app,
        &therapist,
        &format!("/v1/patients/{}/massage-sessions", patient.id),
        0,
    )
    .await;
    let overview = app
        .get(&format!("/v1/patients/{}", patient.id), &therapist.access)
        .await;
    assert_eq!(
        overview.body["last_session"],
        json!({"session_id": today, "date": day(0), "relief": null,
               "relief_class": null, "relief_duration_days": 0, "relief_censored": true})
    );
    let later = test_today().checked_add_days(Days::new(4)).unwrap();
    assert_eq!(
        overview.body["next_session"],
        json!({"typical_relief_days": 3.0, "based_on": 4, "suggested_date": later.to_string(), "due": false})
    );
}

#[tokio::test]
async fn the_patient_list_puts_who_needs_attention_first_and_says_why() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    // Rising: 3, 4, 3 the week before (10/3), this week 5, 4.5 and 5: +1.5.
    let alex = named(&app, "Alex").await;
    for (back, level) in [(9, 3), (10, 4), (11, 3), (0, 5), (1, 5), (2, 5)] {
        pain(&app, &alex, back, level, None).await;
    }
    pain(&app, &alex, 1, 4, Some("worse after lifting boxes")).await;
    // Calm, with a precaution: information, not attention.
    let bea = named(&app, "bea").await;
    for back in [0, 1, 2, 8, 9, 10] {
        pain(&app, &bea, back, 3, None).await;
    }
    let declared = app
        .call(
            Method::PUT,
            "/v1/me/conditions/osteoporosis",
            Some(&bea.access),
            Some(json!({})),
        )
        .await;
    assert_eq!(declared.status, StatusCode::CREATED, "{}", declared.text);
    // Silent for 9 days.
    let carl = named(&app, "Carl").await;
    pain(&app, &carl, 9, 4, None).await;
    // Calm pain, but the ODI rose from 20 to 32: function is worse.
    let dora = named(&app, "Dora").await;
    pain(&app, &dora, 0, 2, None).await;
    odi(&app, &dora, 40, json!([1, 1, 1, 1, 1, 1, 1, 1, 1, 1])).await;
    odi(&app, &dora, 2, json!([2, 2, 2, 2, 2, 2, 1, 1, 1, 1])).await;
    for patient in [&alex, &bea, &carl, &dora] {
        link(&app, &therapist, patient).await;
    }

    let list = app.get("/v1/patients", &therapist.access).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    // Alex's rise first; then the two without a change, the longest silent
    // first; then the rest.
    assert_eq!(names(&list), ["Alex", "Carl", "Dora", "bea"]);
    let items = list.body["items"].as_array().unwrap();
    let alex_row = &items[0];
    assert_eq!(alex_row["alerts"], json!(["pain_rising"]));
    assert_eq!(alex_row["needs_attention"], true);
    // This week: 5, (5 + 4) / 2, 5 = 4.833; the week before 10/3.
    assert_eq!(alex_row["avg_pain_7d"], 4.833);
    assert_eq!(alex_row["pain_change_7d"], 1.5);
    assert_eq!(alex_row["worst_pain_7d"], 5);
    assert_eq!(
        alex_row["latest_note"],
        json!({"date": day(1), "text": "worse after lifting boxes"})
    );
    assert_eq!(
        alex_row["rules"],
        json!({"pain_threshold": null, "spike_delta": 2, "not_logging_days": 7, "adherence_floor": 0.5})
    );
    assert_eq!(items[1]["alerts"], json!(["not_logging"]));
    assert_eq!(items[1]["days_since_last_entry"], 9);
    assert_eq!(items[2]["alerts"], json!(["function_worse"]));
    assert_eq!(
        items[2]["function_change"],
        json!({"instrument": "odi", "previous": 20.0, "previous_date": day(40),
               "latest": 32.0, "latest_date": day(2), "change": 12.0, "important": true})
    );
    assert_eq!(items[3]["alerts"], json!(["precaution"]));
    assert_eq!(items[3]["needs_attention"], false);
    assert_eq!(items[3]["pain_change_7d"], 0.0);
    // Every patient shown is in their access log.
    assert_eq!(app.count("access_log", "action = 'read'").await, 4);

    let by_name = app.get("/v1/patients?order=name", &therapist.access).await;
    assert_eq!(names(&by_name), ["Alex", "bea", "Carl", "Dora"]);
    let by_entry = app
        .get("/v1/patients?order=last_entry", &therapist.access)
        .await;
    // Today's entries by name, then Carl's of 9 days ago.
    assert_eq!(names(&by_entry), ["Alex", "bea", "Dora", "Carl"]);

    // One at a time, with cursors: the same order, each once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/patients?limit=1&cursor={c}"),
            None => "/v1/patients?limit=1".to_owned(),
        };
        let page = app.get(&path, &therapist.access).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        seen.extend(names(&page));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["Alex", "Carl", "Dora", "bea"]);
    // The cursor holds no health data: just the order, a place and an id.
    let first_two = app.get("/v1/patients?limit=2", &therapist.access).await;
    let cursor = first_two.body["next_cursor"].as_str().unwrap().to_owned();
    let raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &cursor).unwrap();
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        format!("attention:1:{}", carl.id)
    );
    // The page's last patient ends the link: the next page goes on from
    // their old place, skipping nobody.
    let ended = app
        .call(
            Method::DELETE,
            &format!("/v1/me/care-team/{}", therapist.id),
            Some(&carl.access),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    let rest = app
        .get(
            &format!("/v1/patients?limit=2&cursor={cursor}"),
            &therapist.access,
        )
        .await;
    assert_eq!(names(&rest), ["Dora", "bea"]);

    // A cursor of another order, and an unknown order, name the parameter.
    let first = app.get("/v1/patients?limit=1", &therapist.access).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let mixed = app
        .get(
            &format!("/v1/patients?order=name&cursor={cursor}"),
            &therapist.access,
        )
        .await;
    mixed.assert_problem(400, "invalid_query");
    assert_eq!(mixed.error_fields(), ["cursor"]);
    let unknown = app.get("/v1/patients?order=pain", &therapist.access).await;
    unknown.assert_problem(400, "invalid_query");
    assert_eq!(unknown.error_fields(), ["order"]);
}

#[tokio::test]
async fn therapist_wide_defaults_apply_to_every_patient_without_an_override() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let colleague = app.register_therapist().await;
    let (maria, alex) = (named(&app, "Maria").await, named(&app, "Alex").await);
    for patient in [&maria, &alex] {
        pain(&app, patient, 0, 5, None).await;
        link(&app, &therapist, patient).await;
    }
    let put = |path: &str, body: Value, if_match: Option<&'static str>| {
        let request = app
            .client
            .put(app.url(path))
            .bearer_auth(&therapist.access)
            .json(&body);
        async move {
            let mut request = request;
            if let Some(tag) = if_match {
                request = request.header("If-Match", tag);
            }
            crate::helpers::read(request.send().await.unwrap()).await
        }
    };

    let builtin = app.get("/v1/me/alert-defaults", &therapist.access).await;
    assert_eq!(
        builtin.body,
        json!({"pain_threshold": null, "spike_delta": 2, "not_logging_days": 7, "adherence_floor": 0.5, "version": 0})
    );
    assert_eq!(builtin.header("etag"), Some("\"0\""));
    let saved = put(
        "/v1/me/alert-defaults",
        json!({"pain_threshold": 4}),
        Some("\"0\""),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(
        saved.body,
        json!({"pain_threshold": 4, "spike_delta": 2, "not_logging_days": 7, "adherence_floor": 0.5, "version": 1})
    );
    assert_eq!(saved.header("etag"), Some("\"1\""));
    assert_eq!(app.count("alert_defaults", "pain_threshold = 4").await, 1);

    // Both patients follow: pain 5 ≥ 4 is pain_high for each.
    let list = app.get("/v1/patients?order=name", &therapist.access).await;
    for item in list.body["items"].as_array().unwrap() {
        assert_eq!(item["alerts"], json!(["pain_high"]), "{item}");
        assert_eq!(item["rules"]["pain_threshold"], 4);
    }
    // Maria's own threshold of 8 overrides the default; the other fields
    // still follow it.
    let maria_rules = format!("/v1/patients/{}/alert-settings", maria.id);
    let overridden = put(&maria_rules, json!({"pain_threshold": 8}), None).await;
    assert_eq!(overridden.status, StatusCode::OK, "{}", overridden.text);
    assert_eq!(
        overridden.body["effective"],
        json!({"pain_threshold": 8, "spike_delta": 2, "not_logging_days": 7, "adherence_floor": 0.5})
    );
    assert_eq!(
        overridden.body["inherited"],
        json!(["spike_delta", "not_logging_days", "adherence_floor"])
    );
    let list = app.get("/v1/patients?order=name", &therapist.access).await;
    let alerts: Vec<&Value> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["alerts"])
        .collect();
    assert_eq!(
        alerts,
        [&json!(["pain_high"]), &json!([])],
        "Alex, then Maria"
    );

    // A new default reaches Alex at once and Maria only where she inherits.
    let raised = put(
        "/v1/me/alert-defaults",
        json!({"pain_threshold": 6, "not_logging_days": 14}),
        Some("\"1\""),
    )
    .await;
    assert_eq!(raised.body["version"], 2, "{}", raised.text);
    let maria_now = app.get(&maria_rules, &therapist.access).await;
    assert_eq!(
        maria_now.body["effective"],
        json!({"pain_threshold": 8, "spike_delta": 2, "not_logging_days": 14, "adherence_floor": 0.5})
    );
    // Off for her alone, whatever the default.
    let off = put(&maria_rules, json!({"pain_threshold": "off"}), None).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(off.body["pain_threshold"], "off");
    assert_eq!(off.body["effective"]["pain_threshold"], json!(null));
    assert_eq!(
        off.body["inherited"],
        json!(["spike_delta", "not_logging_days", "adherence_floor"])
    );
    assert_eq!(
        app.count("alert_settings", "pain_high_off AND pain_threshold IS NULL")
            .await,
        1
    );
    for bad in [json!("sometimes"), json!(4.5), json!([4])] {
        let refused = put(&maria_rules, json!({"pain_threshold": bad}), None).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.error_fields(), ["pain_threshold"]);
    }
    // Clearing the override: she inherits the threshold again.
    let cleared = put(&maria_rules, json!({}), None).await;
    assert_eq!(cleared.body["inherited"].as_array().unwrap().len(), 4);
    assert_eq!(cleared.body["effective"]["pain_threshold"], 6);

    // Versioned and checked like every settings resource; the colleague's
    // defaults are their own, and patients have none.
    put(
        "/v1/me/alert-defaults",
        json!({"spike_delta": 4}),
        Some("\"1\""),
    )
    .await
    .assert_problem(412, "precondition_failed");
    let wrong = put(
        "/v1/me/alert-defaults",
        json!({"not_logging_days": 0}),
        None,
    )
    .await;
    wrong.assert_problem(422, "validation_failed");
    assert_eq!(wrong.error_fields(), ["not_logging_days"]);
    put("/v1/me/alert-defaults", json!({"threshold": 4}), None)
        .await
        .assert_problem(400, "invalid_body");
    let stored = app.get("/v1/me/alert-defaults", &therapist.access).await;
    assert_eq!(stored.body, raised.body, "refused changes stored nothing");
    assert_eq!(
        app.get("/v1/me/alert-defaults", &colleague.access)
            .await
            .body["version"],
        0
    );
    app.get("/v1/me/alert-defaults", &maria.access)
        .await
        .assert_problem(403, "therapists_only");
}
