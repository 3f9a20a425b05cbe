//! An account's address is proven by a link mailed to it. Whatever the
//! password holder opened before the first proof (care-team links, open
//! invitations, logins) ends with it, and where mail really reaches people
//! nobody joins a care team before proving the address. Replays of the
//! attack an outside review found: an account registered with someone
//! else's address, linked to the attacker's therapist.

use painline::config::MailTransportSetting;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{link, spawn_app, Reply, TestApp, TestUser, PASSWORD};
use crate::mail::{app_with_smtp, confirm, reset, SmtpServer};

/// Signs up `email` as `role`, as the attacker does with the victim's address.
async fn register(app: &TestApp, email: &str, role: &str) -> TestUser {
    let reply = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": email, "password": PASSWORD, "display_name": "Ana", "role": role}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    TestUser {
        id: text(&reply.body["user"]["id"]),
        email: email.to_owned(),
        access: text(&reply.body["tokens"]["access_token"]),
        refresh: text(&reply.body["tokens"]["refresh_token"]),
    }
}

fn victim_address() -> String {
    format!("victim-{}@example.org", uuid::Uuid::new_v4().simple())
}

/// The token of the link to `path` in the `.eml` file written for `to`,
/// once the sender has written it (the mail the address's owner reads).
async fn eml_token(app: &TestApp, to: &str, path: &str) -> String {
    eml_token_except(app, to, path, &[]).await
}

/// As [`eml_token`], for a mail whose token is not one of `seen`.
async fn eml_token_except(app: &TestApp, to: &str, path: &str, seen: &[String]) -> String {
    let MailTransportSetting::Files(dir) =
        crate::helpers::test_mail_settings(&app.database).transport
    else {
        panic!("the tests write mail to files by default");
    };
    let marker = format!("https://painline.test{path}#token=");
    for _ in 0..10_000 {
        let found = std::fs::read_dir(&dir).into_iter().flatten().find_map(|e| {
            let text = std::fs::read_to_string(e.ok()?.path()).ok()?;
            let text = text.replace("=\r\n", "").replace("=3D", "=");
            if !text.contains(to) {
                return None;
            }
            let start = text.find(&marker)? + marker.len();
            let token: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            (!seen.contains(&token)).then_some(token)
        });
        if let Some(token) = found {
            return token;
        }
        // Not written yet: a round trip to the database lets the sender run.
        app.count("mail_outbox", "1 = 1").await;
    }
    panic!("no mail to {to} with a link to {path}");
}

async fn refresh(app: &TestApp, user: &TestUser) -> Reply {
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": user.refresh}),
    )
    .await
}

/// The attack, start to end: the attacker signs up with the victim's
/// address and links a therapist account of their own; the victim cannot
/// sign up (409), resets the password through the mailed link and logs
/// pain. The reset proves the address for the first time: the link ends,
/// and the attacker's therapist gets 404 for everything of the victim's.
#[tokio::test]
async fn a_care_link_made_before_the_address_is_proven_ends_with_the_owners_reset() {
    let app = spawn_app().await;
    let address = victim_address();
    let impostor = register(&app, &address, "patient").await;
    let spy = app.register_therapist().await;
    link(&app, &spy, &impostor).await;
    let theirs = format!("/v1/patients/{}", impostor.id);
    assert_eq!(app.get(&theirs, &spy.access).await.status, StatusCode::OK);

    // The victim arrives: the address is taken, so a reset.
    let again = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": address, "password": "the victim's own password",
                   "display_name": "Victim", "role": "patient"}),
        )
        .await;
    again.assert_problem(409, "email_taken");
    assert_eq!(reset(&app, &address).await.status, StatusCode::ACCEPTED);
    let token = eml_token(&app, &address, "/reset-password").await;
    let done = confirm(&app, &token, "the victim's own password").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(
        done.body,
        json!({"status": "password_set",
               "ended": {"care_team_links": 1, "invitations": 0, "logins": 1}})
    );

    // The victim signs in and logs pain.
    let signed_in = app.login(&address, "the victim's own password").await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    let victim = signed_in.body["tokens"]["access_token"].as_str().unwrap();
    let logged = app
        .post(
            "/v1/me/pain-entries",
            Some(victim),
            json!({"date": crate::helpers::test_today().to_string(), "pain_level": 6,
                   "notes": "after the fall"}),
        )
        .await;
    assert_eq!(logged.status, StatusCode::CREATED, "{}", logged.text);

    // The attacker's therapist reads nothing; the impostor's login is over.
    for path in [
        theirs.clone(),
        format!("{theirs}/pain-entries"),
        format!("{theirs}/trends"),
    ] {
        let read = app.get(&path, &spy.access).await;
        assert_eq!(read.status, StatusCode::NOT_FOUND, "{path}: {}", read.text);
    }
    let patients = app.get("/v1/patients", &spy.access).await;
    assert_eq!(patients.body["items"], json!([]), "{}", patients.text);
    assert_eq!(
        refresh(&app, &impostor).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The impostor's access token lives a few minutes more, but its login
    // has ended: it cannot link the spy again.
    let again = app
        .post("/v1/invitations", Some(&spy.access), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    let relinked = app
        .post(
            "/v1/me/care-team",
            Some(&impostor.access),
            json!({"code": again.body["code"]}),
        )
        .await;
    relinked.assert_problem(401, "invalid_token");
    let care_team = app.get("/v1/me/care-team", victim).await;
    assert_eq!(care_team.body["items"], json!([]), "{}", care_team.text);
    let filter = format!("patient_id = '{}'", impostor.id);
    assert_eq!(app.count("care_links", &filter).await, 1);
    assert_eq!(
        app.count("care_links", &format!("{filter} AND ended_at IS NULL"))
            .await,
        0
    );

    // A later reset proves nothing new: it ends the logins only, and the
    // therapist the victim chose stays.
    let victim = TestUser {
        id: impostor.id.clone(),
        email: address.clone(),
        access: victim.to_owned(),
        refresh: signed_in.body["tokens"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let chosen = app.register_therapist().await;
    link(&app, &chosen, &victim).await;
    assert_eq!(reset(&app, &address).await.status, StatusCode::ACCEPTED);
    let second = eml_token_except(&app, &address, "/reset-password", &[token]).await;
    let done = confirm(&app, &second, "another password of the victim").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(
        done.body,
        json!({"status": "password_set",
               "ended": {"care_team_links": 0, "invitations": 0, "logins": 1}})
    );
    assert_eq!(
        app.get(&theirs, &chosen.access).await.status,
        StatusCode::OK
    );
}

/// The attacker signs up as a therapist with the victim's address, opens an
/// invitation and links a patient of their own. The victim, who receives
/// the verification mail, uses its link: the address is proven for the
/// first time, so the link, the invitation and the logins end.
#[tokio::test]
async fn the_first_verification_ends_what_the_password_holder_opened() {
    let app = spawn_app().await;
    let address = victim_address();
    let impostor = register(&app, &address, "therapist").await;
    let accomplice = app.register_patient().await;
    link(&app, &impostor, &accomplice).await;
    let open = app
        .post("/v1/invitations", Some(&impostor.access), json!({}))
        .await;
    assert_eq!(open.status, StatusCode::CREATED, "{}", open.text);

    let token = eml_token(&app, &address, "/verify-email").await;
    let done = app
        .post("/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(
        done.body,
        json!({"status": "verified",
               "ended": {"care_team_links": 1, "invitations": 1, "logins": 1}})
    );

    let newcomer = app.register_patient().await;
    let redeemed = app
        .post(
            "/v1/me/care-team",
            Some(&newcomer.access),
            json!({"code": open.body["code"]}),
        )
        .await;
    redeemed.assert_problem(404, "not_found");
    let read = app
        .get(&format!("/v1/patients/{}", accomplice.id), &impostor.access)
        .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND, "{}", read.text);
    assert_eq!(
        refresh(&app, &impostor).await.status,
        StatusCode::UNAUTHORIZED
    );
    let filter = format!("therapist_id = '{}'", impostor.id);
    assert_eq!(
        app.count(
            "invitations",
            &format!("{filter} AND withdrawn_at IS NOT NULL")
        )
        .await,
        1
    );
    assert_eq!(
        app.count("care_links", &format!("{filter} AND ended_at IS NULL"))
            .await,
        0
    );
}

/// Where mail really reaches people (SMTP), an invitation is made and
/// redeemed only from a proven address: 403 `email_unverified` before,
/// with nothing stored and no wrong code counted; the mailed link opens it.
#[tokio::test]
async fn with_mail_delivered_only_proven_addresses_join_a_care_team() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let therapist = app.register_therapist().await;
    let therapist_link = smtp.next_about("Confirm your e-mail").await;
    let patient = app.register_patient().await;
    let patient_link = smtp.next_about("Confirm your e-mail").await;
    // The first proof ends every login: the app signs in again.
    let verify = |token: String, user: &TestUser| {
        let (app, email) = (&app, user.email.clone());
        async move {
            let done = app
                .post("/v1/auth/verify-email", None, json!({"token": token}))
                .await;
            assert_eq!(done.status, StatusCode::OK, "{}", done.text);
            assert_eq!(done.body["ended"]["logins"], 1, "{}", done.text);
            let again = app.login(&email, PASSWORD).await;
            again.body["tokens"]["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };

    let refused = app
        .post("/v1/invitations", Some(&therapist.access), json!({}))
        .await;
    refused.assert_problem(403, "email_unverified");
    let filter = format!("therapist_id = '{}'", therapist.id);
    assert_eq!(app.count("invitations", &filter).await, 0);
    let therapist_access = verify(therapist_link.token("/verify-email"), &therapist).await;
    let invited = app
        .post("/v1/invitations", Some(&therapist_access), json!({}))
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);

    let code = json!({"code": invited.body["code"]});
    let refused = app
        .post("/v1/me/care-team", Some(&patient.access), code.clone())
        .await;
    refused.assert_problem(403, "email_unverified");
    assert_eq!(app.count("care_links", &filter).await, 0);
    assert_eq!(
        app.count("code_failures", &format!("user_id = '{}'", patient.id))
            .await,
        0
    );
    let patient_access = verify(patient_link.token("/verify-email"), &patient).await;
    let joined = app
        .post("/v1/me/care-team", Some(&patient_access), code)
        .await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text);
    let theirs = format!("/v1/patients/{}", patient.id);
    assert_eq!(
        app.get(&theirs, &therapist_access).await.status,
        StatusCode::OK
    );
}
