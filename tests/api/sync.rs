//! The sync feed, tested as phones use it: two devices write, edit and
//! delete interleaved while a third replays the feed in pages of 3 from its
//! saved cursor. The replica must equal the server's state exactly, and no
//! change may arrive twice.

use std::collections::{BTreeMap, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp, PASSWORD};

/// A tiny deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

struct Replica {
    cursor: Option<String>,
    objects: BTreeMap<String, (String, Value)>,
    seen: HashSet<(String, i64)>,
}

impl Replica {
    /// Pulls every page after the saved cursor, three at a time.
    async fn pull(&mut self, app: &TestApp, token: &str) {
        loop {
            let path = match &self.cursor {
                Some(c) => format!("/v1/me/changes?limit=3&cursor={c}"),
                None => "/v1/me/changes?limit=3".to_owned(),
            };
            let page = app.get(&path, token).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            let changes = page.body["changes"].as_array().unwrap();
            assert!(changes.len() <= 3);
            for change in changes {
                let id = change["id"].as_str().unwrap().to_owned();
                let version = change["version"].as_i64().unwrap();
                assert!(
                    self.seen.insert((id.clone(), version)),
                    "change {id} v{version} delivered twice"
                );
                if change["deleted"] == true {
                    assert_eq!(change["data"], Value::Null);
                    self.objects.remove(&id);
                } else {
                    assert_eq!(change["data"]["version"], version);
                    self.objects.insert(
                        id,
                        (
                            change["kind"].as_str().unwrap().to_owned(),
                            change["data"].clone(),
                        ),
                    );
                }
            }
            let next = page.body["next_cursor"]
                .as_str()
                .expect("next_cursor is never null")
                .to_owned();
            if changes.is_empty() {
                // The place it was given: the start of the feed, or the
                // cursor it was given.
                match &self.cursor {
                    Some(given) => assert_eq!(&next, given),
                    None => assert!(next.ends_with("-0"), "{next}"),
                }
            }
            self.cursor = Some(next);
            if page.body["has_more"] == false {
                break;
            }
        }
    }
}

/// The server's current state, read through the ordinary list routes.
async fn server_state(app: &TestApp, token: &str) -> BTreeMap<String, (String, Value)> {
    let mut state = BTreeMap::new();
    for (kind, path) in [
        ("pain_entry", "/v1/me/pain-entries?limit=1000"),
        ("stretch_session", "/v1/me/stretch-sessions?limit=1000"),
        ("massage_session", "/v1/me/massage-sessions?limit=1000"),
        ("assessment", "/v1/me/assessments?limit=1000"),
        ("condition", "/v1/me/conditions"),
    ] {
        let reply = app.get(path, token).await;
        for item in reply.body["items"].as_array().unwrap() {
            state.insert(
                item["id"].as_str().unwrap().to_owned(),
                (kind.to_owned(), item.clone()),
            );
        }
    }
    let stretches = app.get("/v1/stretches", token).await;
    for item in stretches.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["custom"] == true)
    {
        state.insert(
            item["id"].as_str().unwrap().to_owned(),
            ("stretch".to_owned(), item.clone()),
        );
    }
    state
}

fn body_for(kind: usize, rng: &mut Lcg, stretch: &str) -> (&'static str, Value) {
    let day = format!("2026-11-{:02}", 1 + rng.next(20));
    match kind {
        0 => (
            "pain-entries",
            json!({"date": day, "pain_level": rng.next(11), "notes": format!("note {}", rng.next(1000))}),
        ),
        1 => (
            "stretch-sessions",
            json!({"date": day, "stretch_id": stretch, "duration_seconds": 60 + rng.next(600)}),
        ),
        2 => (
            "massage-sessions",
            json!({"date": day, "duration_minutes": 60, "technique": "deep_tissue",
                   "areas": [{"muscle": "gluteus_medius", "side": "both", "minutes": 1 + rng.next(59)}]}),
        ),
        _ => (
            "assessments",
            json!({"date": day, "instrument": "peg", "answers": [rng.next(11), rng.next(11), rng.next(11)]}),
        ),
    }
}

#[tokio::test]
async fn a_replica_built_from_the_feed_equals_the_server() {
    let app = spawn_app().await;
    let phone = app.register_patient().await;
    let tablet_login = app.login(&phone.email, PASSWORD).await;
    let tablet = tablet_login.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let watcher_login = app.login(&phone.email, PASSWORD).await;
    let watcher = watcher_login.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let catalog = app.get("/v1/stretches", &phone.access).await;
    let stretch = catalog.body["items"][0]["id"].as_str().unwrap().to_owned();

    let devices = [phone.access.clone(), tablet];
    let mut rng = Lcg(20_261_125);
    let mut live: Vec<(String, String)> = Vec::new(); // (collection, id)
    let mut replica = Replica {
        cursor: None,
        objects: BTreeMap::new(),
        seen: HashSet::new(),
    };
    for step in 0..90 {
        let token = &devices[step % 2];
        match rng.next(10) {
            // Create (PUT with a client id, or POST).
            0..=4 => {
                let (collection, body) = body_for(rng.next(4), &mut rng, &stretch);
                let reply = if rng.next(2) == 0 {
                    let id = Uuid::new_v4().to_string();
                    app.call(
                        Method::PUT,
                        &format!("/v1/me/{collection}/{id}"),
                        Some(token),
                        Some(body),
                    )
                    .await
                } else {
                    app.post(&format!("/v1/me/{collection}"), Some(token), body)
                        .await
                };
                assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
                live.push((
                    collection.to_owned(),
                    reply.body["id"].as_str().unwrap().to_owned(),
                ));
            }
            // Edit an existing object from either device.
            5..=6 if !live.is_empty() => {
                let (collection, id) = live[rng.next(live.len())].clone();
                let kind = [
                    "pain-entries",
                    "stretch-sessions",
                    "massage-sessions",
                    "assessments",
                ]
                .iter()
                .position(|c| *c == collection)
                .unwrap();
                let (_, body) = body_for(kind, &mut rng, &stretch);
                let reply = app
                    .call(
                        Method::PUT,
                        &format!("/v1/me/{collection}/{id}"),
                        Some(token),
                        Some(body),
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            }
            // Delete one.
            7 if !live.is_empty() => {
                let (collection, id) = live.remove(rng.next(live.len()));
                let reply = app
                    .call(
                        Method::DELETE,
                        &format!("/v1/me/{collection}/{id}"),
                        Some(token),
                        None,
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::NO_CONTENT);
            }
            // Precautions come and go.
            8 => {
                let condition = ["osteoporosis", "pregnancy", "disc_herniation"][rng.next(3)];
                let path = format!("/v1/me/conditions/{condition}");
                if rng.next(2) == 0 {
                    app.call(
                        Method::PUT,
                        &path,
                        Some(token),
                        Some(json!({"note": format!("n{}", rng.next(9))})),
                    )
                    .await;
                } else {
                    app.call(Method::DELETE, &path, Some(token), None).await;
                }
            }
            // The third device syncs now and then.
            _ => replica.pull(&app, &watcher).await,
        }
    }
    // An own stretch and an edit of it, then the final sync.
    let own = app
        .post(
            "/v1/me/stretches",
            Some(&phone.access),
            json!({"name": "Wall slide", "targets": []}),
        )
        .await;
    let own_id = own.body["id"].as_str().unwrap();
    app.call(
        Method::PUT,
        &format!("/v1/me/stretches/{own_id}"),
        Some(&phone.access),
        Some(json!({"name": "Wall slide (slow)"})),
    )
    .await;
    replica.pull(&app, &watcher).await;

    let server = server_state(&app, &phone.access).await;
    assert!(
        server.len() > 20,
        "the scenario should leave a fair amount of data ({})",
        server.len()
    );
    assert_eq!(replica.objects, server);

    // Pulling again from the saved cursor yields nothing, and the cursor stays.
    let saved = replica.cursor.clone();
    replica.pull(&app, &watcher).await;
    assert_eq!(replica.cursor, saved);
}

#[tokio::test]
async fn the_feed_is_per_patient_and_includes_deletions_in_order() {
    let app = spawn_app().await;
    let ana = app.register_patient().await;
    let ben = app.register_patient().await;
    let id = Uuid::new_v4();
    let path = format!("/v1/me/pain-entries/{id}");
    app.call(
        Method::PUT,
        &path,
        Some(&ana.access),
        Some(json!({"date": "2026-11-20", "pain_level": 4})),
    )
    .await;
    app.call(
        Method::PUT,
        "/v1/me/conditions/osteoporosis",
        Some(&ana.access),
        Some(json!({})),
    )
    .await;
    app.call(Method::DELETE, &path, Some(&ana.access), None)
        .await;
    app.call(
        Method::PUT,
        &format!("/v1/me/pain-entries/{}", Uuid::new_v4()),
        Some(&ben.access),
        Some(json!({"date": "2026-11-20", "pain_level": 8})),
    )
    .await;

    let feed = app.get("/v1/me/changes", &ana.access).await;
    let changes = feed.body["changes"].as_array().unwrap();
    let summary: Vec<_> = changes
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap(),
                c["deleted"].as_bool().unwrap(),
                c["version"].as_i64().unwrap(),
            )
        })
        .collect();
    // One item per object in its latest state, ordered by its last change.
    assert_eq!(
        summary,
        vec![("condition", false, 1), ("pain_entry", true, 2)]
    );
    assert_eq!(changes[1]["id"], id.to_string());
    assert_eq!(changes[0]["data"]["condition"], "osteoporosis");
    assert_eq!(feed.body["has_more"], false);

    let ben_feed = app.get("/v1/me/changes", &ben.access).await;
    assert_eq!(ben_feed.body["changes"].as_array().unwrap().len(), 1);
    assert_eq!(ben_feed.body["changes"][0]["data"]["pain_level"], 8);

    let cursor = feed.body["next_cursor"].as_str().unwrap();
    let empty = app
        .get(&format!("/v1/me/changes?cursor={cursor}"), &ana.access)
        .await;
    assert_eq!(empty.body["changes"], json!([]));
    assert_eq!(empty.body["next_cursor"], cursor);
}

#[tokio::test]
async fn a_feed_read_while_writes_commit_misses_nothing() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let paths: Vec<String> = (0..120)
        .map(|_| format!("/v1/me/pain-entries/{}", Uuid::new_v4()))
        .collect();
    let writers = futures_util::future::join_all(paths.iter().enumerate().map(|(i, path)| {
        let body = json!({"date": "2026-11-20", "pain_level": i % 11});
        app.call(Method::PUT, path, Some(&user.access), Some(body))
    }));
    let reader = async {
        let mut replica = Replica {
            cursor: None,
            objects: BTreeMap::new(),
            seen: HashSet::new(),
        };
        // Pull repeatedly while the writes are in flight.
        for _ in 0..15 {
            replica.pull(&app, &user.access).await;
        }
        replica
    };
    let (written, mut replica) = tokio::join!(writers, reader);
    assert!(written.iter().all(|r| r.status == StatusCode::CREATED));
    replica.pull(&app, &user.access).await;
    assert_eq!(replica.objects.len(), 120);
    assert_eq!(replica.objects, server_state(&app, &user.access).await);
}

#[tokio::test]
async fn a_cursor_ahead_of_the_account_is_refused() {
    let app = spawn_app().await;
    let (ana, ben) = (app.register_patient().await, app.register_patient().await);
    for _ in 0..3 {
        app.call(
            Method::PUT,
            &format!("/v1/me/pain-entries/{}", Uuid::new_v4()),
            Some(&ana.access),
            Some(json!({"date": "2026-11-20", "pain_level": 2})),
        )
        .await;
    }
    let anas = app.get("/v1/me/changes", &ana.access).await;
    let cursor = anas.body["next_cursor"].as_str().unwrap();
    assert!(cursor.ends_with("-3"), "{cursor}");
    // Ben's phone was handed Ana's cursor (say, after switching accounts).
    let reply = app
        .get(&format!("/v1/me/changes?cursor={cursor}"), &ben.access)
        .await;
    reply.assert_problem(400, "invalid_query");
    assert_eq!(reply.error_fields(), vec!["cursor"]);
}
