//! Consent: a therapist's invitation codes, a patient joining and leaving a
//! care team, the therapist ending a link, and the throttling of wrong codes.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp, TestUser};

async fn invite(app: &TestApp, therapist: &TestUser, body: Value) -> Reply {
    app.post("/v1/invitations", Some(&therapist.access), body)
        .await
}

async fn new_code(app: &TestApp, therapist: &TestUser) -> (String, String) {
    let reply = invite(app, therapist, json!({})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["code"].as_str().unwrap().to_owned(),
    )
}

async fn join(app: &TestApp, patient: &TestUser, code: &str) -> Reply {
    app.post(
        "/v1/me/care-team",
        Some(&patient.access),
        json!({"code": code}),
    )
    .await
}

/// The user with a fresh access token (after the clock moved past its expiry).
async fn signed_in_again(app: &TestApp, user: &TestUser) -> TestUser {
    let reply = app.login(&user.email, crate::helpers::PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    TestUser {
        access: reply.body["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
        ..user.clone()
    }
}

async fn team_of(app: &TestApp, patient: &TestUser) -> Vec<String> {
    let reply = app.get("/v1/me/care-team", &patient.access).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["therapist"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn open_invitations(app: &TestApp, therapist: &TestUser) -> Vec<String> {
    let reply = app.get("/v1/invitations", &therapist.access).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_patient_joins_with_a_code_and_either_side_can_end_the_link() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let patient = app.register_patient().await;

    let created = invite(&app, &therapist, json!({"expires_in_hours": 48})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let code = created.body["code"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    // Two groups of five from an alphabet without look-alikes.
    assert_eq!(code.len(), 11, "{code}");
    assert_eq!(&code[5..6], "-");
    assert!(code
        .chars()
        .filter(|c| *c != '-')
        .all(|c| "ABCDEFGHJKMNPQRSTWXYZ23456789".contains(c)));
    let expires: chrono::DateTime<chrono::Utc> = created.body["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ahead = expires - app.clock.now();
    assert!(
        ahead <= chrono::Duration::hours(48)
            && ahead > chrono::Duration::hours(48) - chrono::Duration::seconds(30),
        "{ahead}"
    );
    // Only the SHA-256 of the normalised code is stored.
    use sha2::Digest;
    let normalised = code.replace('-', "");
    let hash: String = sha2::Sha256::digest(normalised.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        app.count("invitations", &format!("code_hash = '{hash}'"))
            .await,
        1
    );
    let plain = format!(
        "code_hash LIKE '%{normalised}%' OR code_hash LIKE '%{}%'",
        normalised.to_lowercase()
    );
    assert_eq!(app.count("invitations", &plain).await, 0);
    assert_eq!(open_invitations(&app, &therapist).await, vec![id.clone()]);

    // Typed as a person would: lower case, a space instead of the hyphen.
    let typed = code.to_lowercase().replace('-', " ");
    let joined = join(&app, &patient, &typed).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text);
    assert_eq!(joined.body["therapist"]["id"], therapist.id.as_str());
    assert!(joined.body["therapist"]["display_name"].is_string());
    assert_eq!(team_of(&app, &patient).await, vec![therapist.id.clone()]);
    assert!(open_invitations(&app, &therapist).await.is_empty());

    // The same patient sending the code again (a lost answer) gets the same answer.
    let again = join(&app, &patient, &code).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.body, joined.body);
    // Anyone else gets the answer an unknown code gets.
    let other = app.register_patient().await;
    let used = join(&app, &other, &code).await;
    used.assert_problem(404, "not_found");
    assert!(team_of(&app, &other).await.is_empty());
    // A redeemed invitation cannot be withdrawn.
    let withdraw = app
        .call(
            Method::DELETE,
            &format!("/v1/invitations/{id}"),
            Some(&therapist.access),
            None,
        )
        .await;
    withdraw.assert_problem(409, "invitation_used");

    // The patient removes the therapist; the link is gone, and stays gone
    // even if the old redeem is sent again.
    let path = format!("/v1/me/care-team/{}", therapist.id);
    let removed = app
        .call(Method::DELETE, &path, Some(&patient.access), None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    assert!(team_of(&app, &patient).await.is_empty());
    app.call(Method::DELETE, &path, Some(&patient.access), None)
        .await
        .assert_problem(404, "not_found");
    join(&app, &patient, &code)
        .await
        .assert_problem(404, "not_found");

    // A new code links them again; this time the therapist ends it.
    let (_, second) = new_code(&app, &therapist).await;
    assert_eq!(
        join(&app, &patient, &second).await.status,
        StatusCode::CREATED
    );
    assert_eq!(team_of(&app, &patient).await, vec![therapist.id.clone()]);
    let end = format!("/v1/patients/{}", patient.id);
    let ended = app
        .call(Method::DELETE, &end, Some(&therapist.access), None)
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
    assert!(team_of(&app, &patient).await.is_empty());
    app.call(Method::DELETE, &end, Some(&therapist.access), None)
        .await
        .assert_problem(404, "not_found");
    // Another therapist cannot end a link that is not theirs.
    let (_, third) = new_code(&app, &therapist).await;
    assert_eq!(
        join(&app, &patient, &third).await.status,
        StatusCode::CREATED
    );
    let stranger = app.register_therapist().await;
    app.call(Method::DELETE, &end, Some(&stranger.access), None)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(team_of(&app, &patient).await, vec![therapist.id.clone()]);
    assert_eq!(
        app.count("care_links", &format!("patient_id = '{}'", patient.id))
            .await,
        1
    );
}

#[tokio::test]
async fn unknown_used_withdrawn_and_expired_codes_get_one_identical_404() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let first = app.register_patient().await;
    let patient = app.register_patient().await;

    let (_, used) = new_code(&app, &therapist).await;
    assert_eq!(join(&app, &first, &used).await.status, StatusCode::CREATED);
    let (withdrawn_id, withdrawn) = new_code(&app, &therapist).await;
    let path = format!("/v1/invitations/{withdrawn_id}");
    for _ in 0..2 {
        let reply = app
            .call(Method::DELETE, &path, Some(&therapist.access), None)
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    }
    let short = invite(&app, &therapist, json!({"expires_in_hours": 1})).await;
    let expired = short.body["code"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::minutes(61));
    let patient = signed_in_again(&app, &patient).await;
    let therapist = signed_in_again(&app, &therapist).await;

    let mut bodies = Vec::new();
    for code in [
        "KX4RM-9TQ2W",
        used.as_str(),
        withdrawn.as_str(),
        expired.as_str(),
    ] {
        let reply = join(&app, &patient, code).await;
        reply.assert_problem(404, "not_found");
        bodies.push(reply.text);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert!(team_of(&app, &patient).await.is_empty());
    assert!(open_invitations(&app, &therapist).await.is_empty());
    // Each counted as a wrong code.
    assert_eq!(
        app.count("code_failures", &format!("user_id = '{}'", patient.id))
            .await,
        4
    );
    // Someone else's invitation is not the therapist's to withdraw.
    let (other_id, _) = new_code(&app, &app.register_therapist().await).await;
    app.call(
        Method::DELETE,
        &format!("/v1/invitations/{other_id}"),
        Some(&therapist.access),
        None,
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn malformed_codes_and_lifetimes_are_422_and_store_nothing() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let patient = app.register_patient().await;
    for hours in [0, 721, -5] {
        let reply = invite(&app, &therapist, json!({"expires_in_hours": hours})).await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), vec!["expires_in_hours"]);
    }
    let unknown = invite(&app, &therapist, json!({"expires_in_hours": 5, "uses": 2})).await;
    unknown.assert_problem(400, "invalid_body");
    assert_eq!(app.count("invitations", "1 = 1").await, 0);
    for code in ["", "KX4RM", "KX4RM-9TQ2W-AAAAA", "KX4RM-9TQ20", "<script>"] {
        let reply = join(&app, &patient, code).await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), vec!["code"], "{code:?}");
    }
    // Not a guess at a code, so not counted as one.
    assert_eq!(app.count("code_failures", "1 = 1").await, 0);
    assert_eq!(app.count("care_links", "1 = 1").await, 0);
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_patient_and_per_address() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let patient = app.register_patient().await;
    let (_, code) = new_code(&app, &therapist).await;
    for _ in 0..5 {
        join(&app, &patient, "KX4RM-9TQ2W")
            .await
            .assert_problem(404, "not_found");
    }
    // Even the right code waits until the oldest failure leaves the window.
    let blocked = join(&app, &patient, &code).await;
    blocked.assert_problem(429, "too_many_attempts");
    let retry: i64 = blocked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert!(team_of(&app, &patient).await.is_empty());
    app.clock.advance(chrono::Duration::seconds(retry));
    let patient = signed_in_again(&app, &patient).await;
    assert_eq!(
        join(&app, &patient, &code).await.status,
        StatusCode::CREATED
    );

    // From one address, 20 wrong codes within an hour (the 5 above and 15
    // more, spread over accounts) block every account there.
    let mut others = Vec::new();
    for _ in 0..5 {
        let other = app.register_patient().await;
        for _ in 0..3 {
            join(&app, &other, "KX4RM-9TQ2W")
                .await
                .assert_problem(404, "not_found");
        }
        others.push(other);
    }
    let fresh = app.register_patient().await;
    let therapist = signed_in_again(&app, &therapist).await;
    let (_, code) = new_code(&app, &therapist).await;
    join(&app, &fresh, &code)
        .await
        .assert_problem(429, "too_many_attempts");
    assert!(team_of(&app, &fresh).await.is_empty());
}

/// On SQLite writers take turns, so this shows the outcome; on PostgreSQL
/// (CI runs the suite there too) the two claims really race.
#[tokio::test]
async fn two_patients_redeeming_one_code_at_once_link_exactly_one() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    for _ in 0..8 {
        let (a, b) = (app.register_patient().await, app.register_patient().await);
        let (_, code) = new_code(&app, &therapist).await;
        let (first, second) = tokio::join!(join(&app, &a, &code), join(&app, &b, &code));
        let mut statuses = [first.status.as_u16(), second.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 404], "{} / {}", first.text, second.text);
        let linked = app
            .count(
                "care_links",
                &format!("patient_id IN ('{}', '{}')", a.id, b.id),
            )
            .await;
        assert_eq!(linked, 1);
    }
    assert_eq!(app.count("invitations", "used_at IS NOT NULL").await, 8);
}

#[tokio::test]
async fn erasing_a_therapist_ends_their_links_and_invitations() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let patient = app.register_patient().await;
    let (_, code) = new_code(&app, &therapist).await;
    assert_eq!(
        join(&app, &patient, &code).await.status,
        StatusCode::CREATED
    );
    let (_, unused) = new_code(&app, &therapist).await;
    let erased = app
        .call(
            Method::DELETE,
            "/v1/me",
            Some(&therapist.access),
            Some(json!({"password": crate::helpers::PASSWORD})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.text);
    assert!(team_of(&app, &patient).await.is_empty());
    join(&app, &patient, &unused)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(app.count("invitations", "1 = 1").await, 0);
}

#[tokio::test]
async fn a_therapist_ending_a_link_is_in_the_patients_access_log() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let stranger = app.register_therapist().await;
    let patient = app.register_patient().await;
    let (_, code) = new_code(&app, &therapist).await;
    assert_eq!(
        join(&app, &patient, &code).await.status,
        StatusCode::CREATED
    );
    let path = format!("/v1/patients/{}", patient.id);
    app.call(Method::DELETE, &path, Some(&stranger.access), None)
        .await
        .assert_problem(404, "not_found");
    let ended = app
        .call(Method::DELETE, &path, Some(&therapist.access), None)
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    let log = app.get("/v1/me/access-log", &patient.access).await;
    let rows: Vec<(String, String, String)> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"]["id"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (therapist.id.clone(), "write".into(), "allowed".into()),
            (stranger.id.clone(), "write".into(), "refused".into()),
        ]
    );
}
