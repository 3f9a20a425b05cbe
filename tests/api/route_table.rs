//! Authorisation of every route, read from the application's own route
//! table (`painline::routes::endpoints`): a route added later is checked
//! here with no change to this file, against the access it declares.

use std::collections::BTreeSet;

use painline::routes::{endpoints, Access};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, Reply, TestApp};

/// A concrete path for a route pattern: fresh ids, a known precaution, and
/// `patient` for `{pid}` on routes for linked therapists.
fn concrete(pattern: &str, access: Access, patient: &str) -> String {
    pattern
        .split('/')
        .map(|segment| match segment {
            "{pid}" if access == Access::LinkedTherapist => patient.to_owned(),
            "{id}" | "{pid}" | "{therapist_id}" => Uuid::new_v4().to_string(),
            "{condition}" => "osteoporosis".to_owned(),
            s if s.starts_with('{') => panic!("no sample value for path parameter {s}"),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An empty JSON object for methods with a body: if a route looked at the
/// body before deciding who may call it, it would answer 400, not 401/403.
fn body_for(method: &Method) -> Option<Value> {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE]
        .contains(method)
        .then(|| json!({}))
}

async fn call(app: &TestApp, method: &Method, path: &str, token: Option<&str>) -> Reply {
    app.call(method.clone(), path, token, body_for(method))
        .await
}

#[track_caller]
fn assert_unauthenticated(reply: &Reply, context: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{context}: {}",
        reply.text
    );
    reply.assert_problem(401, "invalid_token");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer"),
        "{context}"
    );
}

#[track_caller]
fn assert_admitted(reply: &Reply, context: &str) {
    assert!(
        ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&reply.status),
        "{context}: refused with {}: {}",
        reply.status,
        reply.text
    );
    assert!(!reply.status.is_server_error(), "{context}: {}", reply.text);
}

#[test]
fn the_route_table_is_the_document() {
    let all = endpoints();
    assert!(all.len() >= 40, "only {} routes", all.len());
    let declared: Vec<(String, String)> = all
        .iter()
        .map(|e| (e.method.to_string(), e.path.clone()))
        .collect();
    let unique: BTreeSet<&(String, String)> = declared.iter().collect();
    assert_eq!(unique.len(), declared.len(), "a route is declared twice");
    // The whole document, as served and committed, has exactly these operations.
    let document = painline::openapi::document();
    let mut documented = BTreeSet::new();
    for (path, item) in &document.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            let Some(op) = op else { continue };
            documented.insert((method.to_owned(), path.clone()));
            let e = all
                .iter()
                .find(|e| e.method.as_str() == method && &e.path == path)
                .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            assert_eq!(
                secured,
                e.access != Access::Anyone,
                "{method} {path}: bearer auth declared {secured}, access {:?}",
                e.access
            );
            if e.access != Access::Anyone {
                assert!(
                    op.responses.responses.contains_key("401"),
                    "{method} {path} needs a token but documents no 401"
                );
            }
            if [Access::Patient, Access::Therapist].contains(&e.access) {
                assert!(
                    op.responses.responses.contains_key("403"),
                    "{method} {path} is for one role only but documents no 403"
                );
            }
        }
    }
    assert_eq!(
        documented,
        unique.into_iter().cloned().collect::<BTreeSet<_>>()
    );
}

#[tokio::test]
async fn every_route_enforces_the_access_it_declares() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    let stranger = app.register_therapist().await;
    crate::helpers::link(&app, &therapist, &patient).await;
    let all = endpoints();

    for e in &all {
        let path = concrete(&e.path, e.access, &patient.id);
        let method = Method::from_bytes(e.method.as_str().as_bytes()).unwrap();
        let context = format!("{} {path} ({:?})", e.method, e.access);
        let anonymous = call(&app, &method, &path, None).await;
        let forged = call(&app, &method, &path, Some("not.a.token")).await;
        let as_therapist = call(&app, &method, &path, Some(&therapist.access)).await;
        let as_patient = call(&app, &method, &path, Some(&patient.access)).await;
        let as_stranger = call(&app, &method, &path, Some(&stranger.access)).await;
        match e.access {
            Access::LinkedTherapist => {
                assert_unauthenticated(&anonymous, &context);
                assert_unauthenticated(&forged, &context);
                as_patient.assert_problem(403, "therapists_only");
                assert_admitted(&as_therapist, &context);
                as_stranger.assert_problem(404, "not_found");
            }
            Access::Anyone => {
                assert_admitted(&anonymous, &context);
                assert_admitted(&as_therapist, &context);
                assert_admitted(&as_patient, &context);
            }
            Access::SignedIn => {
                assert_unauthenticated(&anonymous, &context);
                assert_unauthenticated(&forged, &context);
                assert_admitted(&as_therapist, &context);
                assert_admitted(&as_patient, &context);
            }
            Access::Therapist => {
                assert_unauthenticated(&anonymous, &context);
                assert_unauthenticated(&forged, &context);
                assert_eq!(
                    as_patient.status,
                    StatusCode::FORBIDDEN,
                    "{context}: {}",
                    as_patient.text
                );
                as_patient.assert_problem(403, "therapists_only");
                assert_admitted(&as_therapist, &context);
            }
            Access::Patient => {
                assert_unauthenticated(&anonymous, &context);
                assert_unauthenticated(&forged, &context);
                assert_eq!(
                    as_therapist.status,
                    StatusCode::FORBIDDEN,
                    "{context}: {}",
                    as_therapist.text
                );
                as_therapist.assert_problem(403, "patients_only");
                assert_admitted(&as_patient, &context);
            }
        }
    }

    // Nothing was stored for anyone but the patient, who could declare a
    // precaution with an empty body (a note is optional).
    assert_eq!(
        app.count(
            "records",
            &format!("patient_id <> '{0}' OR author_id <> '{0}'", patient.id)
        )
        .await,
        0
    );
    // Each linked therapist's request and each stranger's attempt is in the
    // patient's access log, and nothing else is.
    let linked_routes = all
        .iter()
        .filter(|e| e.access == Access::LinkedTherapist)
        .count() as i64;
    assert!(linked_routes >= 9, "{linked_routes}");
    let log = |who: &str, outcome: &str| {
        format!(
            "patient_id = '{}' AND actor_id = '{who}' AND outcome = '{outcome}'",
            patient.id
        )
    };
    // GET /v1/patients (for any therapist) logs one row per patient it shows.
    assert_eq!(
        app.count("access_log", &log(&therapist.id, "allowed"))
            .await,
        linked_routes + 1
    );
    assert_eq!(
        app.count("access_log", &log(&stranger.id, "refused")).await,
        linked_routes
    );
    assert_eq!(
        app.count("access_log", "1 = 1").await,
        2 * linked_routes + 1
    );
    // Both accounts still work.
    for user in [&patient, &therapist] {
        assert_eq!(app.get("/v1/me", &user.access).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_method_a_path_does_not_serve_gets_405_with_allow() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    for (method, pattern) in [
        (Method::PATCH, "/v1/me/pain-entries"),
        (Method::POST, "/v1/me/pain-entries/{id}"),
        (Method::GET, "/v1/auth/login"),
        (Method::PUT, "/v1/me/changes"),
    ] {
        let path = concrete(pattern, Access::Patient, "");
        let reply = call(&app, &method, &path, Some(&patient.access)).await;
        reply.assert_problem(405, "method_not_allowed");
        let allow: BTreeSet<String> = reply
            .header("allow")
            .unwrap_or_default()
            .split(", ")
            .map(str::to_owned)
            .collect();
        let mut declared: BTreeSet<String> = endpoints()
            .iter()
            .filter(|e| e.path == pattern)
            .map(|e| e.method.to_string())
            .collect();
        // Every GET answers HEAD too.
        if declared.contains("GET") {
            declared.insert("HEAD".to_owned());
        }
        assert_eq!(allow, declared, "{method} {path}");
        assert!(!allow.contains(method.as_str()));
    }
}
