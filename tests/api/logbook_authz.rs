//! Who may use the logbook: patients only (a therapist gets 403, no token
//! 401), each patient their own objects only (someone else's id is a 404,
//! whatever the method or `If-Match`), and ids never cross kinds.

use painline::routes::Access;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{read, spawn_app, Reply, TestApp, TestUser};

const CONDITIONS: &str = "/v1/me/conditions";
const CONDITION: &str = "/v1/me/conditions/osteoporosis";
const CHANGES: &str = "/v1/me/changes";
const CARE_TEAM: &str = "/v1/me/care-team";
const CATALOG: &str = "/v1/stretches";

/// One logbook resource addressed by id.
pub(crate) struct Resource {
    pub(crate) kind: &'static str,
    pub(crate) collection: &'static str,
    /// Whether `GET collection` lists it (own stretches are listed in the catalog).
    listed: bool,
    /// A valid body.
    pub(crate) body: Value,
    /// Another valid body, for replacing.
    pub(crate) changed: Value,
}

/// A sample of every logbook kind addressed by id: the one table a new
/// kind adds a row to (the route-by-caller matrix reads it too).
pub(crate) fn resources(stretch_id: &str) -> Vec<Resource> {
    let today = crate::helpers::test_today().to_string();
    vec![
        Resource {
            kind: "pain_entry",
            collection: "/v1/me/pain-entries",
            listed: true,
            body: json!({"date": today, "pain_level": 4, "regions": ["lower_back_center"], "notes": "mine"}),
            changed: json!({"date": today, "pain_level": 9, "notes": "overwritten"}),
        },
        Resource {
            kind: "stretch_session",
            collection: "/v1/me/stretch-sessions",
            listed: true,
            body: json!({"date": today, "stretch_id": stretch_id, "duration_seconds": 90, "side": "left"}),
            changed: json!({"date": today, "stretch_id": stretch_id, "duration_seconds": 30}),
        },
        Resource {
            kind: "massage_session",
            collection: "/v1/me/massage-sessions",
            listed: true,
            body: json!({"date": today, "duration_minutes": 45, "technique": "swedish",
                         "areas": [{"muscle": "gluteus_medius", "side": "both", "minutes": 30}]}),
            changed: json!({"date": today, "duration_minutes": 20, "technique": "sports", "areas": []}),
        },
        Resource {
            kind: "assessment",
            collection: "/v1/me/assessments",
            listed: true,
            body: json!({"date": today, "instrument": "peg", "answers": [6, 5, 4]}),
            changed: json!({"date": today, "instrument": "peg", "answers": [0, 0, 0]}),
        },
        Resource {
            kind: "stretch",
            collection: "/v1/me/stretches",
            listed: false,
            body: json!({"name": "Doorway lat stretch", "description": "Lean through a doorway.",
                         "targets": ["latissimus_dorsi"]}),
            changed: json!({"name": "Overwritten"}),
        },
    ]
}

/// The sample of `kind`.
fn sample<'a>(resources: &'a [Resource], kind: &str) -> &'a Resource {
    resources
        .iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no sample of {kind}"))
}

/// The object `create_all` made of `kind`.
fn item<'a>(resources: &[Resource], items: &'a [Item], kind: &str) -> &'a Item {
    let at = resources
        .iter()
        .position(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no sample of {kind}"));
    &items[at]
}

/// One stored object: where to GET it, and its id.
struct Item {
    path: String,
    id: String,
}

/// Creates one object of every kind for `user` (in the order of
/// `resources`), then declares a precaution (last).
async fn create_all(app: &TestApp, user: &TestUser, resources: &[Resource]) -> Vec<Item> {
    let mut items = Vec::new();
    for r in resources {
        let reply = app
            .post(r.collection, Some(&user.access), r.body.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}: {}",
            r.collection,
            reply.text
        );
        let id = reply.body["id"].as_str().unwrap().to_owned();
        items.push(Item {
            path: format!("{}/{id}", r.collection),
            id,
        });
    }
    let reply = app
        .call(
            Method::PUT,
            CONDITION,
            Some(&user.access),
            Some(json!({"note": "mine"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    items.push(Item {
        path: CONDITION.to_owned(),
        id: reply.body["id"].as_str().unwrap().to_owned(),
    });
    items
}

/// What the owner's GET returns for each item (version and data included).
async fn snapshot(app: &TestApp, owner: &TestUser, items: &[Item]) -> Vec<Value> {
    let mut bodies = Vec::new();
    for item in items {
        let reply = app.get(&item.path, &owner.access).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: {}",
            item.path,
            reply.text
        );
        assert_eq!(reply.header("etag"), Some("\"1\""), "{}", item.path);
        bodies.push(reply.body);
    }
    bodies
}

/// Every patient-only route of the application's route table, addressing
/// the objects `ids` (one per resource), with valid bodies. A route added
/// later without a sample here fails every test that uses this list.
fn every_route(resources: &[Resource], ids: &[String]) -> Vec<(Method, String, Option<Value>)> {
    painline::routes::endpoints()
        .into_iter()
        .filter(|e| e.access == Access::Patient)
        .map(|e| {
            let method = Method::from_bytes(e.method.as_str().as_bytes()).unwrap();
            let owner = resources.iter().zip(ids).find(|(r, _)| {
                e.path == r.collection || e.path == format!("{}/{{id}}", r.collection)
            });
            if let Some((r, id)) = owner {
                let body = match method {
                    Method::POST => Some(r.body.clone()),
                    Method::PUT => Some(r.changed.clone()),
                    _ => None,
                };
                (method, e.path.replace("{id}", id), body)
            } else if e.path == CONDITIONS || e.path == format!("{CONDITIONS}/{{condition}}") {
                let body = (method == Method::PUT).then(|| json!({"note": "overwritten"}));
                (method, e.path.replace("{condition}", "osteoporosis"), body)
            } else if [
                CHANGES,
                CARE_TEAM,
                "/v1/me/access-log",
                "/v1/me/daily",
                "/v1/me/trends",
                "/v1/me/trends/chart.svg",
                "/v1/me/export",
                "/v1/me/programme",
                "/v1/me/programme/history",
                "/v1/me/programme/adherence",
            ]
            .contains(&e.path.as_str())
            {
                let body = (method == Method::POST).then(|| json!({"code": "KX4RM-9TQ2W"}));
                (method, e.path, body)
            } else if e.path == "/v1/me/reminders" {
                let body = (method == Method::PUT)
                    .then(|| json!({"enabled": true, "local_time": "20:00", "days": ["mon"]}));
                (method, e.path, body)
            } else if e.path == format!("{CARE_TEAM}/{{therapist_id}}") {
                let therapist = Uuid::new_v4().to_string();
                (method, e.path.replace("{therapist_id}", &therapist), None)
            } else {
                panic!(
                    "{} {}: no sample request for this route here",
                    e.method, e.path
                )
            }
        })
        .collect()
}

/// A request with `If-Match: "1"`.
async fn if_match_1(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("If-Match", "\"1\"");
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request.send().await.unwrap()).await
}

#[track_caller]
fn assert_not_found(reply: &Reply, context: &str) {
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "{context}: {}",
        reply.text
    );
    reply.assert_problem(404, "not_found");
}

async fn builtin_stretch(app: &TestApp, user: &TestUser) -> String {
    let catalog = app.get(CATALOG, &user.access).await;
    assert_eq!(catalog.status, StatusCode::OK, "{}", catalog.text);
    catalog.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["custom"] == false)
        .expect("a built-in stretch")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ids_of(reply: &Reply, array: &str) -> Vec<String> {
    reply.body[array]
        .as_array()
        .unwrap_or_else(|| panic!("no {array}: {}", reply.text))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn records_of(app: &TestApp, user: &TestUser) -> i64 {
    app.count("records", &format!("patient_id = '{}'", user.id))
        .await
}

#[tokio::test]
async fn logbook_therapists_get_403_on_every_patient_route() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    let stretch_id = builtin_stretch(&app, &patient).await;
    let resources = resources(&stretch_id);
    let items = create_all(&app, &patient, &resources).await;
    let before = snapshot(&app, &patient, &items).await;
    let feed_before = app.get(CHANGES, &patient.access).await;

    let patients_ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let fresh_ids: Vec<String> = resources
        .iter()
        .map(|_| Uuid::new_v4().to_string())
        .collect();
    for ids in [&patients_ids, &fresh_ids] {
        for (method, path, body) in every_route(&resources, ids) {
            let reply = app
                .call(method.clone(), &path, Some(&therapist.access), body)
                .await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "therapist {method} {path}: {}",
                reply.text
            );
            reply.assert_problem(403, "patients_only");
        }
    }

    // The catalog is readable by anyone signed in: built-ins only for a therapist.
    let theirs = app.get(CATALOG, &therapist.access).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
    let theirs_items = theirs.body["items"].as_array().unwrap();
    assert!(!theirs_items.is_empty());
    assert!(
        theirs_items.iter().all(|s| s["custom"] == false),
        "{}",
        theirs.text
    );
    let patients = app.get(CATALOG, &patient.access).await;
    let builtins: Vec<&Value> = patients.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["custom"] == false)
        .collect();
    assert_eq!(theirs_items.iter().collect::<Vec<_>>(), builtins);
    assert!(!ids_of(&theirs, "items").contains(&item(&resources, &items, "stretch").id));
    assert!(ids_of(&patients, "items").contains(&item(&resources, &items, "stretch").id));

    // Nothing was stored, changed or deleted.
    assert_eq!(snapshot(&app, &patient, &items).await, before);
    assert_eq!(
        app.get(CHANGES, &patient.access).await.body,
        feed_before.body
    );
    assert_eq!(
        app.count(
            "records",
            &format!("patient_id = '{0}' OR author_id = '{0}'", therapist.id)
        )
        .await,
        0
    );
    assert_eq!(records_of(&app, &patient).await, items.len() as i64);
    assert_eq!(
        app.count(
            "records",
            &format!(
                "patient_id = '{}' AND version = 1 AND deleted_at IS NULL",
                patient.id
            )
        )
        .await,
        items.len() as i64
    );
}

#[tokio::test]
async fn logbook_routes_need_a_valid_token() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let stretch_id = builtin_stretch(&app, &patient).await;
    let resources = resources(&stretch_id);
    let items = create_all(&app, &patient, &resources).await;
    let before = snapshot(&app, &patient, &items).await;

    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let mut routes = every_route(&resources, &ids);
    routes.push((Method::GET, CATALOG.to_owned(), None));
    for (method, path, body) in routes {
        for token in [None, Some("not.a.token")] {
            let reply = app.call(method.clone(), &path, token, body.clone()).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}: {}",
                reply.text
            );
            reply.assert_problem(401, "invalid_token");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        }
    }

    assert_eq!(snapshot(&app, &patient, &items).await, before);
    assert_eq!(app.count("records", "1 = 1").await, items.len() as i64);
}

#[tokio::test]
async fn logbook_another_patients_objects_are_invisible_and_untouchable() {
    let app = spawn_app().await;
    let a = app.register_patient().await;
    let b = app.register_patient().await;
    let stretch_id = builtin_stretch(&app, &a).await;
    let resources = resources(&stretch_id);
    let items = create_all(&app, &a, &resources).await;
    let before = snapshot(&app, &a, &items).await;
    let a_ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();

    for (r, item) in resources.iter().zip(&items) {
        let path = &item.path;
        assert_not_found(&app.get(path, &b.access).await, &format!("B GET {path}"));
        let put = app
            .call(Method::PUT, path, Some(&b.access), Some(r.changed.clone()))
            .await;
        assert_not_found(&put, &format!("B PUT {path}"));
        let same = app
            .call(Method::PUT, path, Some(&b.access), Some(r.body.clone()))
            .await;
        assert_not_found(&same, &format!("B PUT {path} (same body)"));
        // Not 412: whether the version matches is none of B's business.
        let conditional =
            if_match_1(&app, Method::PUT, path, &b.access, Some(r.changed.clone())).await;
        assert_not_found(&conditional, &format!("B PUT {path} with If-Match"));
        let wrong_version = if_match_1(&app, Method::DELETE, path, &b.access, None).await;
        assert_not_found(&wrong_version, &format!("B DELETE {path} with If-Match"));
        let delete = app.call(Method::DELETE, path, Some(&b.access), None).await;
        assert_not_found(&delete, &format!("B DELETE {path}"));
    }
    // B's precaution of the same name is B's own: absent until B declares it.
    assert_not_found(&app.get(CONDITION, &b.access).await, "B GET condition");
    assert_not_found(
        &app.call(Method::DELETE, CONDITION, Some(&b.access), None)
            .await,
        "B DELETE condition",
    );

    // A's objects are as they were.
    assert_eq!(snapshot(&app, &a, &items).await, before);

    // B's lists show none of A's objects.
    for r in resources.iter().filter(|r| r.listed) {
        let list = app.get(r.collection, &b.access).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert_eq!(
            list.body["items"],
            json!([]),
            "{}: {}",
            r.collection,
            list.text
        );
        assert_eq!(list.body["next_cursor"], Value::Null);
    }
    let catalog = app.get(CATALOG, &b.access).await;
    assert!(catalog.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["custom"] == false));
    assert!(!ids_of(&catalog, "items").contains(&item(&resources, &items, "stretch").id));
    let conditions = app.get(CONDITIONS, &b.access).await;
    assert_eq!(conditions.status, StatusCode::OK, "{}", conditions.text);
    assert_eq!(conditions.body["items"], json!([]));
    let feed = app.get(CHANGES, &b.access).await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    assert_eq!(feed.body["changes"], json!([]), "{}", feed.text);

    // B may not use A's own stretch.
    let session = json!({"date": crate::helpers::test_today().to_string(),
                         "stretch_id": item(&resources, &items, "stretch").id, "duration_seconds": 60});
    let posted = app
        .post("/v1/me/stretch-sessions", Some(&b.access), session.clone())
        .await;
    posted.assert_problem(422, "validation_failed");
    assert_eq!(posted.error_fields(), vec!["stretch_id"]);
    let put = app
        .call(
            Method::PUT,
            &format!("/v1/me/stretch-sessions/{}", Uuid::new_v4()),
            Some(&b.access),
            Some(session.clone()),
        )
        .await;
    put.assert_problem(422, "validation_failed");
    assert_eq!(put.error_fields(), vec!["stretch_id"]);
    // A may.
    let mine = app
        .post("/v1/me/stretch-sessions", Some(&a.access), session)
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text);
    assert_eq!(records_of(&app, &b).await, 0);

    // B declaring the same precaution gets an object of B's own.
    let declared = app
        .call(
            Method::PUT,
            CONDITION,
            Some(&b.access),
            Some(json!({"note": "B's"})),
        )
        .await;
    assert_eq!(declared.status, StatusCode::CREATED, "{}", declared.text);
    let b_condition = declared.body["id"].as_str().unwrap().to_owned();
    assert_ne!(b_condition, items[resources.len()].id);
    assert_eq!(
        app.get(CONDITION, &a.access).await.body["note"],
        "mine",
        "B's precaution changed A's"
    );
    assert_eq!(
        ids_of(&app.get(CHANGES, &b.access).await, "changes"),
        vec![b_condition.clone()]
    );
    let a_feed = ids_of(&app.get(CHANGES, &a.access).await, "changes");
    assert!(!a_feed.contains(&b_condition));
    assert!(a_ids.iter().all(|id| a_feed.contains(id)));

    assert_eq!(records_of(&app, &b).await, 1);
    // Every object made for A, and the stretch session A recorded.
    assert_eq!(records_of(&app, &a).await, items.len() as i64 + 1);
    assert_eq!(
        app.count(
            "records",
            &format!(
                "patient_id = '{}' AND version = 1 AND deleted_at IS NULL",
                a.id
            )
        )
        .await,
        items.len() as i64 + 1
    );
}

#[tokio::test]
async fn logbook_ids_are_global_and_kinds_do_not_mix() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let stretch_id = builtin_stretch(&app, &user).await;
    let resources = resources(&stretch_id);
    let items = create_all(&app, &user, &resources).await;
    let before = snapshot(&app, &user, &items).await;

    // A pain entry PUT to the id of a massage session of the same patient.
    let massage = item(&resources, &items, "massage_session");
    let reply = app
        .call(
            Method::PUT,
            &format!("/v1/me/pain-entries/{}", massage.id),
            Some(&user.access),
            Some(sample(&resources, "pain_entry").body.clone()),
        )
        .await;
    assert_not_found(&reply, "pain entry PUT to a massage session's id");

    // Every kind's routes at the id of every other kind's object (the
    // precaution, last, is of no kind listed in `resources`).
    for (i, item) in items.iter().enumerate() {
        for (j, r) in resources.iter().enumerate() {
            if i == j {
                continue;
            }
            let path = format!("{}/{}", r.collection, item.id);
            assert_not_found(&app.get(&path, &user.access).await, &format!("GET {path}"));
            let put = app
                .call(Method::PUT, &path, Some(&user.access), Some(r.body.clone()))
                .await;
            assert_not_found(&put, &format!("PUT {path}"));
            let conditional =
                if_match_1(&app, Method::PUT, &path, &user.access, Some(r.body.clone())).await;
            assert_not_found(&conditional, &format!("PUT {path} with If-Match"));
            let delete = app
                .call(Method::DELETE, &path, Some(&user.access), None)
                .await;
            assert_not_found(&delete, &format!("DELETE {path}"));
        }
    }

    assert_eq!(snapshot(&app, &user, &items).await, before);
    for (r, item) in resources.iter().zip(&items) {
        assert_eq!(
            app.count(
                "records",
                &format!("kind = '{}' AND version = 1 AND deleted_at IS NULL", r.kind)
            )
            .await,
            1,
            "{}",
            r.kind
        );
        assert_eq!(
            app.count(
                "records",
                &format!("id = '{}' AND kind = '{}'", item.id, r.kind)
            )
            .await,
            1
        );
    }
    assert_eq!(records_of(&app, &user).await, items.len() as i64);
    let feed = app.get(CHANGES, &user.access).await;
    assert_eq!(feed.body["changes"].as_array().unwrap().len(), items.len());
}
