//! Exports and the chart through the API: the JSON copy holds everything
//! stored (and pages through more rows than one read takes), the CSV is the
//! daily series, the FHIR bundle names every entry and session, the chart is
//! well-formed SVG with what it shows; a linked therapist gets the logbook,
//! not the patient's account, and every read is in the access log.

use chrono::{Days, NaiveDate};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{link, spawn_app, test_today, TestApp, TestUser};

const KNEE_TO_CHEST: &str = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab";

fn day(back: u64) -> NaiveDate {
    test_today().checked_sub_days(Days::new(back)).unwrap()
}

async fn put(app: &TestApp, user: &TestUser, collection: &str, body: Value) -> String {
    let id = Uuid::new_v4().to_string();
    let reply = app
        .client
        .put(app.url(&format!("/v1/me/{collection}/{id}")))
        .bearer_auth(&user.access)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED, "{collection}");
    id
}

/// A small logbook: pain 3 and 5 days ago (one with PEG scores), nothing 4
/// days ago, a stretch and a massage session 4 days ago, a PEG
/// questionnaire, an ODI one, and osteoporosis.
async fn logbook(app: &TestApp, patient: &TestUser) -> Vec<String> {
    let mut ids = vec![
        put(
            app,
            patient,
            "pain-entries",
            json!({"date": day(5), "pain_level": 6,
            "regions": ["lower_back_left"], "notes": "=HYPERLINK(\"x\")"}),
        )
        .await,
        put(
            app,
            patient,
            "pain-entries",
            json!({"date": day(3), "pain_level": 3,
            "enjoyment_interference": 4, "activity_interference": 5}),
        )
        .await,
    ];
    ids.push(
        put(
            app,
            patient,
            "stretch-sessions",
            json!({"date": day(4),
            "stretch_id": KNEE_TO_CHEST, "duration_seconds": 600}),
        )
        .await,
    );
    ids.push(
        put(
            app,
            patient,
            "massage-sessions",
            json!({"date": day(4),
            "started_at": format!("{}T09:30:00Z", day(4)), "duration_minutes": 60,
            "technique": "deep_tissue", "pressure": "firm",
            "areas": [{"muscle": "quadratus_lumborum", "side": "left", "minutes": 20},
                      {"muscle": "quadratus_lumborum", "side": "right", "minutes": 20},
                      {"muscle": "gluteus_medius", "side": "both", "minutes": 20}]}),
        )
        .await,
    );
    ids.push(
        put(
            app,
            patient,
            "assessments",
            json!({"date": day(2), "instrument": "peg", "answers": [4, 5, 6]}),
        )
        .await,
    );
    ids.push(
        put(
            app,
            patient,
            "assessments",
            json!({"date": day(2), "instrument": "odi",
            "answers": [1, 2, 1, 0, 2, 1, 1, 0, null, 2]}),
        )
        .await,
    );
    let reply = app
        .client
        .put(app.url("/v1/me/conditions/osteoporosis"))
        .bearer_auth(&patient.access)
        .json(&json!({"note": "T-score -2.8"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    ids
}

#[tokio::test]
async fn the_json_export_holds_everything_stored_about_the_patient() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    let ids = logbook(&app, &patient).await;
    link(&app, &therapist, &patient).await;
    // A therapist read, so the access log has a row.
    let read = app
        .get(&format!("/v1/patients/{}", patient.id), &therapist.access)
        .await;
    assert_eq!(read.status, StatusCode::OK);

    let reply = app.get("/v1/me/export", &patient.access).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    // The registered name "patient N", and the day of the export.
    let disposition = reply.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"painline-patient-"),
        "{disposition}"
    );
    assert!(
        disposition.ends_with(&format!("-{}.json\"", test_today())),
        "{disposition}"
    );
    let doc = &reply.body;
    assert_eq!(doc["format"], "painline-export/1");
    assert_eq!(doc["patient"]["id"], patient.id.as_str());
    assert_eq!(doc["account"]["email"], patient.email.as_str());
    assert_eq!(doc["care_team"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["care_team"][0]["therapist"]["id"],
        therapist.id.as_str()
    );
    for (key, count) in [
        ("pain_entries", 2),
        ("stretch_sessions", 1),
        ("massage_sessions", 1),
        ("assessments", 2),
        ("stretches", 0),
        ("conditions", 1),
    ] {
        assert_eq!(doc[key].as_array().unwrap().len(), count, "{key}");
    }
    // Each object exactly as its GET answers it.
    let one = app
        .get(&format!("/v1/me/pain-entries/{}", ids[0]), &patient.access)
        .await;
    assert!(doc["pain_entries"].as_array().unwrap().contains(&one.body));
    assert_eq!(doc["conditions"][0]["note"], "T-score -2.8");
    let log = doc["access_log"].as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["actor"]["id"], therapist.id.as_str());

    // The therapist's copy: the logbook, not the account or the care team.
    let theirs = app
        .get(
            &format!("/v1/patients/{}/export?format=json", patient.id),
            &therapist.access,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
    for key in ["account", "care_team", "access_log"] {
        assert!(
            theirs.body.get(key).is_none(),
            "{key} in a therapist's copy"
        );
    }
    assert_eq!(theirs.body["pain_entries"], doc["pain_entries"]);
    assert_eq!(theirs.body["massage_sessions"], doc["massage_sessions"]);
    let paths: Vec<String> = app.get("/v1/me/access-log", &patient.access).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        paths.contains(&format!("/v1/patients/{}/export", patient.id)),
        "{paths:?}"
    );
}

#[tokio::test]
async fn a_long_logbook_is_exported_whole_across_pages() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    // More entries than one read takes (500), the rest of a page, and one deleted.
    let total = painline::service::export::PAGE as u64 + 23;
    let mut ids = Vec::new();
    for chunk in (0..total).collect::<Vec<_>>().chunks(16) {
        let writes = chunk.iter().map(|i| {
            put(
                &app,
                &patient,
                "pain-entries",
                json!({"date": day(i / 2), "pain_level": i % 11}),
            )
        });
        ids.extend(join_all(writes).await);
    }
    let gone = app
        .client
        .delete(app.url(&format!("/v1/me/pain-entries/{}", ids[7])))
        .bearer_auth(&patient.access)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);

    let reply = app.get("/v1/me/export", &patient.access).await;
    assert_eq!(reply.status, StatusCode::OK);
    let entries = reply.body["pain_entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, total - 1);
    let mut exported: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    exported.sort_unstable();
    exported.dedup();
    assert_eq!(exported.len() as u64, total - 1, "no entry twice");
    assert!(!exported.contains(&ids[7].as_str()));
    // Newest first, as the list answers.
    let dates: Vec<&str> = entries
        .iter()
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]));

    let bundle = app.get("/v1/me/export?format=fhir", &patient.access).await;
    let observations = bundle.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "Observation")
        .count();
    assert_eq!(observations as u64, total - 1);
}

#[tokio::test]
async fn the_csv_is_the_daily_series() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let renamed = app
        .call(
            reqwest::Method::PATCH,
            "/v1/me",
            Some(&patient.access),
            Some(json!({"display_name": "Åsa O'Brien-Núñez \"Ziggy\""})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    let ids = logbook(&app, &patient).await;
    let query = format!("?format=csv&from={}&to={}", day(6), day(2));
    let reply = app
        .get(&format!("/v1/me/export{query}"), &patient.access)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/csv; charset=utf-8; header=present")
    );
    assert_eq!(
        reply.header("content-disposition"),
        Some(
            format!(
                "attachment; filename=\"painline-asa-o-brien-nunez-ziggy-daily-{}-{}.csv\"",
                day(6),
                day(2)
            )
            .as_str()
        )
    );
    let lines: Vec<&str> = reply.text.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "date,mean_pain,max_pain,entries,stretch_minutes,stretch_sessions,massage_sessions,massage_session_ids,red_flags"
    );
    assert!(
        !reply.text.contains("HYPERLINK"),
        "notes are not in the series"
    );
    assert_eq!(lines.len(), 1 + 5, "a header and one row per day");
    assert_eq!(lines[1], format!("{},,,0,0,0,0,,", day(6)));
    assert_eq!(lines[2], format!("{},6,6,1,0,0,0,,", day(5)));
    assert_eq!(lines[3], format!("{},,,0,10,1,1,{},", day(4), ids[3]));
    assert_eq!(lines[4], format!("{},3,3,1,0,0,0,,", day(3)));
    // Bad ranges and parameters of other formats are refused, naming the field.
    for (query, field) in [
        (format!("?format=csv&from={}&to={}", day(1), day(2)), "from"),
        (format!("?format=json&to={}", day(2)), "to"),
        (format!("?format=fhir&from={}", day(2)), "from"),
        ("?format=xml".to_owned(), "format"),
    ] {
        let reply = app
            .get(&format!("/v1/me/export{query}"), &patient.access)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.text
        );
        assert_eq!(reply.error_fields(), [field], "{query}");
    }
}

#[tokio::test]
async fn the_fhir_bundle_names_every_entry_and_session() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    let ids = logbook(&app, &patient).await;
    link(&app, &therapist, &patient).await;
    let reply = app.get("/v1/me/export?format=fhir", &patient.access).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/fhir+json"));
    let bundle = &reply.body;
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries[0]["resource"]["resourceType"], "Patient");
    assert_eq!(entries[0]["resource"]["id"], patient.id.as_str());
    // Resources refer to the patient by the Patient entry's full URL.
    let subject = entries[0]["fullUrl"].as_str().unwrap().to_owned();
    assert!(subject.starts_with("urn:uuid:"), "{subject}");
    assert_eq!(
        entries[0]["resource"]["telecom"][0]["value"],
        patient.email.as_str()
    );
    let by_code = |code: &str| -> Vec<&Value> {
        entries
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["code"]["coding"][0]["code"] == code)
            .collect()
    };
    let pain = by_code("72514-3");
    assert_eq!(pain.len(), 2);
    let six = pain.iter().find(|r| r["id"] == ids[0].as_str()).unwrap();
    assert_eq!(six["valueInteger"], 6);
    assert_eq!(six["effectiveDateTime"], day(5).to_string());
    assert_eq!(six["category"][0]["coding"][0]["code"], "survey");
    assert_eq!(six["bodySite"]["text"], "Lower back left");
    assert_eq!(six["subject"]["reference"], subject.as_str());
    // PEG: from the entry with both interference scores, and the questionnaire.
    let peg = by_code("91147-9");
    let mut scores: Vec<f64> = peg
        .iter()
        .map(|r| r["valueQuantity"]["value"].as_f64().unwrap())
        .collect();
    scores.sort_by(f64::total_cmp);
    assert_eq!(scores, [4.0, 5.0]);
    assert!(peg.iter().any(|r| r["id"] == ids[4].as_str()));
    let procedures: Vec<&Value> = entries
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Procedure")
        .collect();
    assert_eq!(procedures.len(), 1);
    let p = procedures[0];
    assert_eq!(p["status"], "completed");
    assert_eq!(
        p["performedPeriod"]["start"],
        format!("{}T09:30:00Z", day(4))
    );
    assert_eq!(p["performedPeriod"]["end"], format!("{}T10:30:00Z", day(4)));
    assert_eq!(
        p["bodySite"][0]["text"],
        "Quadratus lumborum (left), 20 min"
    );
    assert_eq!(p["bodySite"].as_array().unwrap().len(), 3);
    // ODI has no code here, so it is not in the bundle; no full URL twice.
    assert_eq!(entries.len(), 1 + 2 + 2 + 1);
    let mut urls: Vec<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    urls.sort_unstable();
    urls.dedup();
    assert_eq!(urls.len(), entries.len());

    // The therapist's bundle: the same resources, without the e-mail.
    let theirs = app
        .get(
            &format!("/v1/patients/{}/export?format=fhir", patient.id),
            &therapist.access,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK);
    // The therapist's download is named after the patient.
    let disposition = theirs.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"painline-patient-")
            && disposition.ends_with(&format!("-{}.fhir.json\"", test_today())),
        "{disposition}"
    );
    let their_entries = theirs.body["entry"].as_array().unwrap();
    assert_eq!(their_entries.len(), entries.len());
    assert!(their_entries[0]["resource"].get("telecom").is_none());
}

/// Elements of the SVG with this name (and class, if given).
fn elements<'a>(
    doc: &'a roxmltree::Document,
    name: &str,
    class: Option<&str>,
) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.has_tag_name(name) && (class.is_none() || n.attribute("class") == class))
        .collect()
}

#[tokio::test]
async fn the_chart_is_well_formed_svg_with_what_it_shows() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    logbook(&app, &patient).await;
    link(&app, &therapist, &patient).await;
    // Pain on days 5, 3 and 2 back of a range 6..0 back: day 4 is a gap.
    put(
        &app,
        &patient,
        "pain-entries",
        json!({"date": day(2), "pain_level": 4}),
    )
    .await;
    let query = format!("?from={}&to={}", day(6), day(0));
    let reply = app
        .get(&format!("/v1/me/trends/chart.svg{query}"), &patient.access)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("image/svg+xml"));
    let doc = roxmltree::Document::parse(&reply.text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert_eq!(root.attribute("role"), Some("img"));
    let view: Vec<f64> = root
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(view[..3], [0.0, 0.0, 600.0]);
    let title = elements(&doc, "title", None)[0].text().unwrap();
    assert!(title.contains("Lower-back pain"), "{title}");
    let desc = elements(&doc, "desc", None)[0].text().unwrap();
    assert!(desc.contains("logged on 3 of 7 days"), "{desc}");
    assert!(desc.contains("One massage session"), "{desc}");
    // Day 5 alone (a dot), days 3 and 2 a line; one session; one stretch bar.
    assert_eq!(elements(&doc, "circle", Some("dot")).len(), 1);
    assert_eq!(elements(&doc, "polyline", Some("pain")).len(), 1);
    assert_eq!(
        elements(&doc, "g", Some("session")).len(),
        1 + 1,
        "the session and the legend's"
    );
    assert_eq!(
        elements(&doc, "rect", Some("strip")).len(),
        1 + 1,
        "the day and the legend's"
    );

    let theirs = app
        .get(
            &format!("/v1/patients/{}/trends/chart.svg{query}", patient.id),
            &therapist.access,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.text, reply.text);
    let bad = app
        .get(
            &format!("/v1/me/trends/chart.svg?from={}&to={}", day(0), day(6)),
            &patient.access,
        )
        .await;
    bad.assert_problem(400, "invalid_query");
    let layout = app
        .get("/v1/me/trends/chart.svg?layout=poster", &patient.access)
        .await;
    layout.assert_problem(400, "invalid_query");
    assert_eq!(layout.error_fields(), ["layout"]);
}

/// A session date as the chart draws it: its centre, its baseline (the
/// row), and the x of its own session line.
struct Label {
    centre: f64,
    row_y: f64,
    session_x: f64,
    text: String,
}

fn labels(doc: &roxmltree::Document) -> Vec<Label> {
    elements(doc, "text", Some("session-label"))
        .iter()
        .map(|n| Label {
            centre: n.attribute("x").unwrap().parse().unwrap(),
            row_y: n.attribute("y").unwrap().parse().unwrap(),
            session_x: n.attribute("data-session-x").unwrap().parse().unwrap(),
            text: n.text().unwrap().to_owned(),
        })
        .collect()
}

/// Every session has its date, the latest too; dates in one row keep apart;
/// each sits over its own line; no session line reaches the rows of dates.
fn assert_labels_clear(doc: &roxmltree::Document, sessions: usize) {
    let found = labels(doc);
    assert_eq!(found.len(), sessions, "one date per session");
    let width = painline::export::chart::LABEL_W;
    for (i, a) in found.iter().enumerate() {
        assert!(
            (a.centre - width / 2.0..=a.centre + width / 2.0).contains(&a.session_x),
            "{} is not over its line",
            a.text
        );
        for b in &found[i + 1..] {
            if a.row_y == b.row_y {
                assert!(
                    (a.centre - b.centre).abs() >= width,
                    "{} and {} touch",
                    a.text,
                    b.text
                );
            }
        }
    }
    let lowest_label = found.iter().map(|l| l.row_y).fold(f64::MIN, f64::max);
    for line in doc
        .descendants()
        // The sessions' marks (each with its title), not the legend's swatch.
        .filter(|n| n.attribute("class") == Some("session"))
        .filter(|g| g.children().any(|c| c.has_tag_name("title")))
        .flat_map(|g| g.children().filter(|c| c.has_tag_name("line")))
    {
        let top: f64 = line.attribute("y1").unwrap().parse().unwrap();
        assert!(
            top > lowest_label || found.is_empty(),
            "a session line reaches the dates"
        );
    }
}

#[tokio::test]
async fn every_session_is_labelled_and_no_label_touches_another() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    // The demo's shape: a session every 14 days, the latest 6 days ago.
    for back in (6..90).step_by(14) {
        put(
            &app,
            &patient,
            "massage-sessions",
            json!({"date": day(back), "duration_minutes": 60, "technique": "swedish", "areas": []}),
        )
        .await;
    }
    for back in 0..90 {
        put(
            &app,
            &patient,
            "pain-entries",
            json!({"date": day(back), "pain_level": 3 + (back % 4) as i64}),
        )
        .await;
    }
    let chart = |layout: &'static str| {
        let app = &app;
        let token = patient.access.clone();
        async move {
            let reply = app
                .get(&format!("/v1/me/trends/chart.svg?layout={layout}"), &token)
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            reply.text
        }
    };
    for layout in ["wide", "phone"] {
        let svg = chart(layout).await;
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_labels_clear(&doc, 6);
        assert!(
            labels(&doc).iter().any(|l| l.text == short(6)),
            "the latest"
        );
        // Every interval's week before drawn, its first days shaded, today marked.
        assert_eq!(elements(&doc, "line", Some("baseline")).len(), 6 + 1);
        assert_eq!(elements(&doc, "rect", Some("early")).len(), 6 + 1);
        assert_eq!(
            elements(&doc, "g", Some("today")).len(),
            2,
            "the marker and the legend's"
        );
    }
    // On a phone (360 units wide) at least 240 px tall at 360 px.
    let phone = chart("phone").await;
    let doc = roxmltree::Document::parse(&phone).unwrap();
    let view: Vec<f64> = doc
        .root_element()
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(view[2], 360.0);
    assert!(view[3] >= 240.0, "{view:?}");

    // Sessions two days apart, and one today at the right edge: all labelled,
    // staggered, none against another's line.
    for back in [0, 2, 4] {
        let reply = app
            .post(
                &format!("/v1/patients/{}/massage-sessions", patient.id),
                Some(&therapist.access),
                json!({"date": day(back), "duration_minutes": 30, "technique": "swedish", "areas": []}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    for layout in ["wide", "phone"] {
        let svg = chart(layout).await;
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_labels_clear(&doc, 9);
        assert!(labels(&doc).iter().any(|l| l.text == short(0)), "today's");
    }
}

fn short(back: u64) -> String {
    test_today()
        .checked_sub_days(chrono::Days::new(back))
        .unwrap()
        .format("%-d %b")
        .to_string()
}
