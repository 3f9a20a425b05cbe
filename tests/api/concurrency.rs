//! Nothing is lost under concurrency: many clients writing at once each get
//! an answer, every row is stored exactly once, and no request fails with a
//! 500 or "database is locked", on either backend.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{read, spawn_app};

#[tokio::test]
async fn twenty_clients_sending_two_hundred_puts_store_each_row_once() {
    let app = &spawn_app().await;
    let patients = &[app.register_patient().await, app.register_patient().await];
    let ids: Vec<Uuid> = (0..200).map(|_| Uuid::new_v4()).collect();
    // 20 clients of two patients; every PUT is also sent a second time by
    // another client at once, as a phone retrying after a timeout would.
    let requests = ids.iter().enumerate().flat_map(|(i, id)| {
        let patient = &patients[i % 2];
        let body = json!({"date": "2026-11-20", "pain_level": (i % 11) as i64, "notes": format!("client {} write {i}", i % 20)});
        (0..2).map(move |_| {
            let request = app
                .client
                .put(app.url(&format!("/v1/me/pain-entries/{id}")))
                .bearer_auth(&patient.access)
                .json(&body);
            async move { read(request.send().await.unwrap()).await }
        })
    });
    let replies = futures_util::future::join_all(requests).await;
    let mut statuses = std::collections::BTreeMap::new();
    for reply in &replies {
        *statuses.entry(reply.status.as_u16()).or_insert(0) += 1;
        assert!(!reply.text.contains("locked"), "{}", reply.text);
    }
    // Each id: one 201 (the create) and one 200 (the identical replay).
    assert_eq!(statuses.get(&201), Some(&200), "{statuses:?}");
    assert_eq!(statuses.get(&200), Some(&200), "{statuses:?}");
    assert!(replies.iter().all(|r| r.body["version"] == 1));

    assert_eq!(app.count("records", "kind = 'pain_entry'").await, 200);
    for patient in patients {
        // One feed entry per row, with distinct, gap-free change numbers.
        let feed = app.get("/v1/me/changes?limit=1000", &patient.access).await;
        let changes = feed.body["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 100);
        let ids: HashSet<_> = changes.iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 100);
        assert!(feed.body["next_cursor"].as_str().unwrap().ends_with("-100"));
        let listed = app
            .get("/v1/me/pain-entries?limit=1000", &patient.access)
            .await;
        assert_eq!(listed.status, StatusCode::OK);
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 100);
    }
}

/// Writes that arrive together are committed together on SQLite (one
/// transaction, a savepoint each): a write refused inside the transaction
/// (a stale `If-Match`, answered 412) leaves no trace, and the writes beside
/// it keep theirs. On PostgreSQL each is its own transaction; the answers
/// and what is stored are the same.
#[tokio::test]
async fn a_write_refused_inside_a_group_leaves_the_others_committed() {
    let app = &spawn_app().await;
    let patient = &app.register_patient().await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let id = Uuid::new_v4();
        let reply = app
            .client
            .put(app.url(&format!("/v1/me/pain-entries/{id}")))
            .bearer_auth(&patient.access)
            .json(&json!({"date": "2026-11-20", "pain_level": i % 11}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::CREATED);
        ids.push(id);
    }
    // Every other write names a version the entry never had.
    let requests = ids.iter().enumerate().map(|(i, id)| {
        let version = if i % 2 == 0 { "\"1\"" } else { "\"7\"" };
        let request = app
            .client
            .put(app.url(&format!("/v1/me/pain-entries/{id}")))
            .bearer_auth(&patient.access)
            .header("If-Match", version)
            .json(&json!({"date": "2026-11-21", "pain_level": 10}));
        async move { read(request.send().await.unwrap()).await }
    });
    let replies = futures_util::future::join_all(requests).await;
    for (i, reply) in replies.iter().enumerate() {
        let expected = if i % 2 == 0 { 200 } else { 412 };
        assert_eq!(reply.status.as_u16(), expected, "{i}: {}", reply.text);
    }
    for (i, id) in ids.iter().enumerate() {
        let stored = app
            .get(&format!("/v1/me/pain-entries/{id}"), &patient.access)
            .await;
        let (version, date) = if i % 2 == 0 {
            (2, "2026-11-21")
        } else {
            (1, "2026-11-20")
        };
        assert_eq!(stored.body["version"], version, "{i}");
        assert_eq!(stored.body["date"], date, "{i}");
    }
    // 40 creates and 20 replacements: 60 changes, numbered without a gap or a repeat.
    let feed = app.get("/v1/me/changes?limit=1000", &patient.access).await;
    assert_eq!(feed.body["changes"].as_array().unwrap().len(), 40);
    assert!(feed.body["next_cursor"].as_str().unwrap().ends_with("-60"));
    let numbered = app
        .count(
            "records",
            &format!(
                "patient_id = '{}' AND change_seq BETWEEN 1 AND 60",
                patient.id
            ),
        )
        .await;
    assert_eq!(numbered, 40, "each entry once, at its latest change number");
}
