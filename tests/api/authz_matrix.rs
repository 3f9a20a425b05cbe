//! The authorisation matrix: every route of the application's route table,
//! called by each of seven callers, answers what docs/ says (401, 403,
//! 404 or success). Each route gets a fresh world of users and objects, so
//! a write by one caller never changes what the next one meets. A route
//! without a row in `sample` fails the test.

use painline::routes::{endpoints, Access, Endpoint};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{link, spawn_app, Reply, TestApp, TestUser, PASSWORD};
use crate::logbook_authz::resources;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// A patient other than the one whose data the route names.
    OtherPatient,
    /// A therapist never linked to the patient.
    Unlinked,
    /// A therapist whose link the patient's side ended.
    LinkEnded,
    /// A therapist who invited the patient; the code was never redeemed.
    NeverRedeemed,
    Linked,
    /// The patient whose data the route names.
    Patient,
}

/// Refused callers first, so that a write by an admitted one comes last.
const CALLERS: [Caller; 7] = [
    Caller::Anonymous,
    Caller::OtherPatient,
    Caller::Unlinked,
    Caller::LinkEnded,
    Caller::NeverRedeemed,
    Caller::Linked,
    Caller::Patient,
];

const KNEE_TO_CHEST: &str = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab";

/// The users, and the objects the routes address.
struct World {
    patient: TestUser,
    other: TestUser,
    linked: TestUser,
    unlinked: TestUser,
    ended: TestUser,
    invited: TestUser,
    /// The patient's object of each collection (and `stretches`).
    objects: Vec<(String, String)>,
    /// A session the linked therapist recorded for the patient.
    recorded: String,
    /// An open invitation of the linked therapist's.
    invitation: String,
    /// The patient's login (from signing up).
    login: String,
}

/// The logbook's collections (`/v1/me/<segment>`), one per kind addressed
/// by id, from the sample table of `logbook_authz`.
fn collections() -> Vec<&'static str> {
    resources(KNEE_TO_CHEST)
        .iter()
        .map(|r| r.collection.trim_start_matches("/v1/me/"))
        .collect()
}

/// A valid body for a collection (`changed`: another one, for replacing).
fn body_for(collection: &str, changed: bool) -> Value {
    let r = resources(KNEE_TO_CHEST)
        .into_iter()
        .find(|r| r.collection.trim_start_matches("/v1/me/") == collection)
        .unwrap_or_else(|| panic!("no sample body for {collection}"));
    if changed {
        r.changed
    } else {
        r.body
    }
}

async fn created(reply: Reply) -> String {
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn world(app: &TestApp) -> World {
    let patient = app.register_patient().await;
    let other = app.register_patient().await;
    let linked = app.register_therapist().await;
    let unlinked = app.register_therapist().await;
    let ended = app.register_therapist().await;
    let invited = app.register_therapist().await;
    let mut objects = Vec::new();
    for collection in collections() {
        let path = format!("/v1/me/{collection}");
        let id = created(
            app.post(&path, Some(&patient.access), body_for(collection, false))
                .await,
        )
        .await;
        objects.push((collection.to_string(), id));
    }
    let declared = app
        .call(
            Method::PUT,
            "/v1/me/conditions/osteoporosis",
            Some(&patient.access),
            Some(json!({})),
        )
        .await;
    assert_eq!(declared.status, StatusCode::CREATED);
    link(app, &linked, &patient).await;
    link(app, &ended, &patient).await;
    let end = app
        .call(
            Method::DELETE,
            &format!("/v1/me/care-team/{}", ended.id),
            Some(&patient.access),
            None,
        )
        .await;
    assert_eq!(end.status, StatusCode::NO_CONTENT);
    let unredeemed = app
        .post("/v1/invitations", Some(&invited.access), json!({}))
        .await;
    assert_eq!(unredeemed.status, StatusCode::CREATED);
    let recorded = created(
        app.post(
            &format!("/v1/patients/{}/massage-sessions", patient.id),
            Some(&linked.access),
            body_for("massage-sessions", false),
        )
        .await,
    )
    .await;
    let prescribed = app
        .call(
            Method::PUT,
            &format!("/v1/patients/{}/programme", patient.id),
            Some(&linked.access),
            Some(programme(false)),
        )
        .await;
    assert_eq!(
        prescribed.status,
        StatusCode::CREATED,
        "{}",
        prescribed.text
    );
    let invitation = created(
        app.post("/v1/invitations", Some(&linked.access), json!({}))
            .await,
    )
    .await;
    let login = app.get("/v1/me/sessions", &patient.access).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        login,
        patient,
        other,
        linked,
        unlinked,
        ended,
        invited,
        objects,
        recorded,
        invitation,
    }
}

impl World {
    fn user(&self, caller: Caller) -> Option<&TestUser> {
        match caller {
            Caller::Anonymous => None,
            Caller::OtherPatient => Some(&self.other),
            Caller::Unlinked => Some(&self.unlinked),
            Caller::LinkEnded => Some(&self.ended),
            Caller::NeverRedeemed => Some(&self.invited),
            Caller::Linked => Some(&self.linked),
            Caller::Patient => Some(&self.patient),
        }
    }

    fn object(&self, collection: &str) -> &str {
        &self
            .objects
            .iter()
            .find(|(c, _)| c == collection)
            .unwrap()
            .1
    }
}

/// What a route needs to succeed, and what its admitted callers get: the
/// owner (the patient, or the linked therapist on therapist routes) and the
/// others (another patient, or the other therapists). `None` for a route
/// this table does not know: the test fails on it.
struct Sample {
    path: String,
    body: Option<Value>,
    owner: u16,
    others: u16,
}

fn sample(e: &Endpoint, w: &World) -> Option<Sample> {
    let method = e.method.as_str();
    let pattern = e.path.as_str();
    let collections = collections();
    let me_item = collections
        .iter()
        .find(|c| pattern == format!("/v1/me/{c}/{{id}}"));
    let me_collection = collections
        .iter()
        .find(|c| pattern == format!("/v1/me/{c}"));
    let theirs = format!("/v1/patients/{}", w.patient.id);
    let their_collection = collections
        .iter()
        .find(|c| pattern == format!("/v1/patients/{{pid}}/{c}"));
    let their_item = collections
        .iter()
        .find(|c| pattern == format!("/v1/patients/{{pid}}/{c}/{{id}}"));
    let s = |path: String, body: Option<Value>, owner: u16, others: u16| Sample {
        path,
        body,
        owner,
        others,
    };
    Some(match (method, pattern) {
        // Signed-in routes: everyone signed in acts on their own account.
        ("GET", "/v1/me") | ("GET", "/v1/stretches") => s(pattern.into(), None, 200, 200),
        ("PATCH", "/v1/me") => s(
            pattern.into(),
            Some(json!({"display_name": "Renamed"})),
            200,
            200,
        ),
        ("POST", "/v1/me/password") => s(
            pattern.into(),
            Some(json!({"current_password": PASSWORD, "new_password": "another long password"})),
            204,
            204,
        ),
        // A new verification link for one's own (unverified) address.
        ("POST", "/v1/me/verify-email") => s(pattern.into(), None, 202, 202),
        // Logins: one's own are listed and ended; another's id is 404.
        ("GET", "/v1/me/sessions") => s(pattern.into(), None, 200, 200),
        ("DELETE", "/v1/me/sessions") => s(pattern.into(), None, 204, 204),
        ("DELETE", "/v1/me/sessions/{id}") => {
            s(format!("/v1/me/sessions/{}", w.login), None, 204, 404)
        }
        ("DELETE", "/v1/me") => s(
            pattern.into(),
            Some(json!({"password": PASSWORD})),
            204,
            204,
        ),
        // The patient's own data.
        (
            "GET",
            "/v1/me/access-log"
            | "/v1/me/changes"
            | "/v1/me/care-team"
            | "/v1/me/conditions"
            | "/v1/me/daily"
            | "/v1/me/trends"
            | "/v1/me/trends/chart.svg"
            | "/v1/me/export",
        ) => s(pattern.into(), None, 200, 200),
        // Each patient's own reminder.
        ("GET", "/v1/me/reminders") => s(pattern.into(), None, 200, 200),
        ("PUT", "/v1/me/reminders") => s(
            pattern.into(),
            Some(json!({"enabled": true, "local_time": "20:00", "days": ["mon"]})),
            200,
            200,
        ),
        ("POST", "/v1/me/care-team") => s(
            pattern.into(),
            Some(json!({"code": "KX4RM-9TQ2W"})),
            404,
            404,
        ),
        ("DELETE", "/v1/me/care-team/{therapist_id}") => {
            s(format!("/v1/me/care-team/{}", w.linked.id), None, 204, 404)
        }
        ("GET", "/v1/me/conditions/{condition}") => {
            s("/v1/me/conditions/osteoporosis".into(), None, 200, 404)
        }
        ("PUT", "/v1/me/conditions/{condition}") => s(
            "/v1/me/conditions/osteoporosis".into(),
            Some(json!({"note": "x"})),
            200,
            201,
        ),
        ("DELETE", "/v1/me/conditions/{condition}") => {
            s("/v1/me/conditions/osteoporosis".into(), None, 204, 404)
        }
        ("GET", _) if me_collection.is_some() => s(pattern.into(), None, 200, 200),
        ("POST", _) if me_collection.is_some() => s(
            pattern.into(),
            Some(body_for(me_collection?, false)),
            201,
            201,
        ),
        (_, _) if me_item.is_some() => {
            let collection = me_item?;
            let path = format!("/v1/me/{collection}/{}", w.object(collection));
            match method {
                "GET" => s(path, None, 200, 404),
                "PUT" => s(path, Some(body_for(collection, true)), 200, 404),
                "DELETE" => s(path, None, 204, 404),
                _ => return None,
            }
        }
        // Therapist routes: the linked therapist owns, the others are refused.
        ("GET", "/v1/invitations" | "/v1/patients") => s(pattern.into(), None, 200, 200),
        // Each therapist's own digest.
        ("GET", "/v1/me/digest") => s(pattern.into(), None, 200, 200),
        ("PUT", "/v1/me/digest") => s(
            pattern.into(),
            Some(json!({"enabled": true, "weekday": "mon", "local_time": "08:00"})),
            200,
            200,
        ),
        // Each therapist's own alert defaults.
        ("GET", "/v1/me/alert-defaults") => s(pattern.into(), None, 200, 200),
        ("PUT", "/v1/me/alert-defaults") => {
            s(pattern.into(), Some(json!({"pain_threshold": 5})), 200, 200)
        }
        ("POST", "/v1/invitations") => s(pattern.into(), Some(json!({})), 201, 201),
        ("DELETE", "/v1/invitations/{id}") => {
            s(format!("/v1/invitations/{}", w.invitation), None, 204, 404)
        }
        ("DELETE", "/v1/patients/{pid}") => s(theirs, None, 204, 404),
        ("GET", "/v1/patients/{pid}") => s(theirs, None, 200, 404),
        ("GET", "/v1/patients/{pid}/alert-settings") => {
            s(format!("{theirs}/alert-settings"), None, 200, 404)
        }
        ("PUT", "/v1/patients/{pid}/alert-settings") => s(
            format!("{theirs}/alert-settings"),
            Some(json!({"pain_threshold": 5})),
            200,
            404,
        ),
        ("GET", "/v1/patients/{pid}/daily") => s(format!("{theirs}/daily"), None, 200, 404),
        ("GET", "/v1/patients/{pid}/trends") => s(format!("{theirs}/trends"), None, 200, 404),
        ("GET", "/v1/patients/{pid}/trends/chart.svg") => {
            s(format!("{theirs}/trends/chart.svg"), None, 200, 404)
        }
        ("GET", "/v1/patients/{pid}/export") => s(format!("{theirs}/export"), None, 200, 404),
        ("GET", "/v1/patients/{pid}/conditions") => {
            s(format!("{theirs}/conditions"), None, 200, 404)
        }
        ("GET", "/v1/patients/{pid}/stretches") => s(format!("{theirs}/stretches"), None, 200, 404),
        // The home programme: the world has one, prescribed by the linked
        // therapist; the patient reads it, any linked therapist writes it.
        ("GET", "/v1/me/programme" | "/v1/me/programme/history" | "/v1/me/programme/adherence") => {
            s(pattern.into(), None, 200, absent_or_empty(pattern))
        }
        (
            "GET",
            "/v1/patients/{pid}/programme"
            | "/v1/patients/{pid}/programme/history"
            | "/v1/patients/{pid}/programme/adherence",
        ) => s(
            pattern.replace("/v1/patients/{pid}", &theirs),
            None,
            200,
            404,
        ),
        ("PUT", "/v1/patients/{pid}/programme") => s(
            format!("{theirs}/programme"),
            Some(programme(true)),
            200,
            404,
        ),
        ("DELETE", "/v1/patients/{pid}/programme") => {
            s(format!("{theirs}/programme"), None, 204, 404)
        }
        ("GET", _) if their_collection.is_some() => {
            s(format!("{theirs}/{}", their_collection?), None, 200, 404)
        }
        ("POST", "/v1/patients/{pid}/massage-sessions") => s(
            format!("{theirs}/massage-sessions"),
            Some(body_for("massage-sessions", false)),
            201,
            404,
        ),
        ("GET", _) if their_item.is_some() => {
            let collection = their_item?;
            s(
                format!("{theirs}/{collection}/{}", w.object(collection)),
                None,
                200,
                404,
            )
        }
        ("PUT", "/v1/patients/{pid}/massage-sessions/{id}") => s(
            format!("{theirs}/massage-sessions/{}", Uuid::new_v4()),
            Some(body_for("massage-sessions", false)),
            201,
            404,
        ),
        ("DELETE", "/v1/patients/{pid}/massage-sessions/{id}") => s(
            format!("{theirs}/massage-sessions/{}", w.recorded),
            None,
            204,
            404,
        ),
        _ => return None,
    })
}

/// Another patient has no programme (404) but has a history and weeks of
/// adherence, empty (200).
fn absent_or_empty(pattern: &str) -> u16 {
    if pattern.ends_with("/programme") {
        404
    } else {
        200
    }
}

/// A home programme (`changed`: another one, for replacing).
fn programme(changed: bool) -> Value {
    json!({
        "starts_on": "2026-01-05",
        "items": [{"stretch_id": KNEE_TO_CHEST, "days_per_week": if changed { 3 } else { 5 },
                   "seconds_per_day": 60}],
    })
}

fn is_patient(caller: Caller) -> bool {
    matches!(caller, Caller::Patient | Caller::OtherPatient)
}

/// (status, problem code) docs/ gives `caller` on route `e`; `None` as
/// the status for routes open to anyone (their answer does not depend on
/// who calls).
fn expected(e: &Endpoint, sample: &Sample, caller: Caller) -> (Option<u16>, Option<&'static str>) {
    if e.access == Access::Anyone {
        return (None, None);
    }
    if caller == Caller::Anonymous {
        return (Some(401), Some("invalid_token"));
    }
    match e.access {
        Access::Anyone => (None, None),
        // The account's own things: the patient's world is the owner's.
        Access::SignedIn if caller == Caller::Patient => (Some(sample.owner), None),
        Access::SignedIn => (Some(sample.others), None),
        Access::Patient if !is_patient(caller) => (Some(403), Some("patients_only")),
        Access::Patient if caller == Caller::Patient => (Some(sample.owner), None),
        Access::Patient => (Some(sample.others), None),
        Access::Therapist | Access::LinkedTherapist if is_patient(caller) => {
            (Some(403), Some("therapists_only"))
        }
        Access::Therapist | Access::LinkedTherapist if caller == Caller::Linked => {
            (Some(sample.owner), None)
        }
        Access::Therapist | Access::LinkedTherapist => (Some(sample.others), None),
    }
}

#[tokio::test]
async fn every_route_times_every_caller_answers_as_designed() {
    let app = spawn_app().await;
    let mut cells = 0;
    for e in endpoints() {
        let w = world(&app).await;
        let method = Method::from_bytes(e.method.as_str().as_bytes()).unwrap();
        let sample = if e.access == Access::Anyone {
            // Open routes: a plain call; only who-may-call is checked.
            Sample {
                path: e.path.clone(),
                body: (method != Method::GET).then(|| json!({})),
                owner: 0,
                others: 0,
            }
        } else {
            sample(&e, &w).unwrap_or_else(|| panic!("{} {}: no row in `sample`", e.method, e.path))
        };
        for caller in CALLERS {
            let token = w.user(caller).map(|u| u.access.as_str());
            let reply = app
                .call(method.clone(), &sample.path, token, sample.body.clone())
                .await;
            let context = format!("{} {} as {caller:?}: {}", e.method, sample.path, reply.text);
            assert!(!reply.status.is_server_error(), "{context}");
            match expected(&e, &sample, caller) {
                (None, _) => assert!(
                    reply.status != StatusCode::FORBIDDEN
                        && !(reply.status == StatusCode::UNAUTHORIZED
                            && reply.body["code"] == "invalid_token"),
                    "{context}"
                ),
                (Some(status), code) => {
                    assert_eq!(reply.status.as_u16(), status, "{context}");
                    if let Some(code) = code {
                        reply.assert_problem(status, code);
                    }
                }
            }
            cells += 1;
        }
        if e.access == Access::LinkedTherapist {
            // Each refused therapist's attempt is in the patient's access log.
            for refused in [&w.unlinked, &w.ended, &w.invited] {
                let rows = app
                    .count(
                        "access_log",
                        &format!(
                            "patient_id = '{}' AND actor_id = '{}' AND outcome = 'refused'",
                            w.patient.id, refused.id
                        ),
                    )
                    .await;
                assert_eq!(rows, 1, "{} {} by {}", e.method, e.path, refused.id);
            }
        }
        // Refused therapists stored nothing in the patient's logbook.
        for refused in [&w.unlinked, &w.ended, &w.invited] {
            assert_eq!(
                app.count("records", &format!("author_id = '{}'", refused.id))
                    .await,
                0
            );
        }
    }
    let routes = endpoints().len();
    assert_eq!(cells, routes * CALLERS.len());
    eprintln!(
        "authorisation matrix: {routes} routes × {} callers = {cells} cells",
        CALLERS.len()
    );
}

/// A token that outlived its account: every route that needs a caller
/// answers 401 `invalid_token`, whatever its method (reads, writes,
/// session management), with the same sample requests as the matrix.
#[tokio::test]
async fn every_route_refuses_the_token_of_an_erased_account() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut erased = Vec::new();
    for role in ["patient", "therapist"] {
        let user = app.register_as(role).await;
        let gone = app
            .call(
                Method::DELETE,
                "/v1/me",
                Some(&user.access),
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
        erased.push(user);
    }
    let (patient, therapist) = (&erased[0], &erased[1]);
    let mut checked = 0;
    for e in endpoints() {
        let callers: Vec<&TestUser> = match e.access {
            Access::Anyone => continue,
            Access::SignedIn => vec![patient, therapist],
            Access::Patient => vec![patient],
            Access::Therapist | Access::LinkedTherapist => vec![therapist],
        };
        let method = Method::from_bytes(e.method.as_str().as_bytes()).unwrap();
        let sample =
            sample(&e, &w).unwrap_or_else(|| panic!("{} {}: no row in `sample`", e.method, e.path));
        for caller in callers {
            let reply = app
                .call(
                    method.clone(),
                    &sample.path,
                    Some(&caller.access),
                    sample.body.clone(),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{} {}: {}",
                e.method,
                sample.path,
                reply.text
            );
            reply.assert_problem(401, "invalid_token");
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked}");
    // Nothing was stored for the erased accounts.
    for user in &erased {
        let mine = format!("patient_id = '{0}' OR author_id = '{0}'", user.id);
        assert_eq!(app.count("records", &mine).await, 0);
        let theirs = format!("therapist_id = '{}'", user.id);
        assert_eq!(app.count("invitations", &theirs).await, 0);
    }
}
