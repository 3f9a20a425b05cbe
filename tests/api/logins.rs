//! `/v1/me/sessions`: the account's logins (one per refresh-token family),
//! which one is the caller's, and ending them.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{read, spawn_app, Reply, TestApp, TestUser, PASSWORD};

/// Signs `user` in from a device that calls itself `agent`; answers the
/// access and refresh tokens.
async fn sign_in(app: &TestApp, user: &TestUser, agent: &str) -> (String, String) {
    let reply = read(
        app.client
            .post(app.url("/v1/auth/login"))
            .header(
                "user-agent",
                reqwest::header::HeaderValue::from_bytes(agent.as_bytes()).unwrap(),
            )
            .json(&json!({"email": user.email, "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let tokens = &reply.body["tokens"];
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(app: &TestApp, refresh_token: &str, agent: Option<&str>) -> Reply {
    let mut request = app
        .client
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh_token}));
    if let Some(agent) = agent {
        request = request.header("user-agent", agent);
    }
    read(request.send().await.unwrap()).await
}

async fn logins(app: &TestApp, access: &str) -> Vec<Value> {
    let reply = app.get("/v1/me/sessions", access).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["items"].as_array().unwrap().clone()
}

fn at(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value.as_str().unwrap().parse().unwrap()
}

fn agents(items: &[Value]) -> Vec<(&str, bool)> {
    items
        .iter()
        .map(|l| {
            (
                l["user_agent"].as_str().unwrap_or("-"),
                l["current"] == true,
            )
        })
        .collect()
}

async fn end(app: &TestApp, access: &str, path: &str) -> Reply {
    app.call(Method::DELETE, path, Some(access), None).await
}

#[tokio::test]
async fn every_login_is_listed_with_its_device_and_the_callers_own_is_marked() {
    let app = spawn_app().await;
    app.clock.freeze();
    let user = app.register_patient().await;
    app.clock.advance(chrono::Duration::minutes(5));
    let (phone, _) = sign_in(&app, &user, "Painline/2.1 (iPhone; iOS 18.1)").await;
    app.clock.advance(chrono::Duration::minutes(5));
    let (browser, _) = sign_in(&app, &user, "Mozilla/5.0 (X11; Linux x86_64)").await;
    // Someone else's login is never listed.
    app.register_patient().await;

    let seen_from_phone = logins(&app, &phone).await;
    assert_eq!(
        agents(&seen_from_phone),
        [
            ("Mozilla/5.0 (X11; Linux x86_64)", false),
            ("Painline/2.1 (iPhone; iOS 18.1)", true),
            // Sign-up is a login too (the test client sends no User-Agent).
            ("-", false),
        ]
    );
    let newest = &seen_from_phone[0];
    assert_eq!(at(&newest["created_at"]), app.clock.now());
    assert_eq!(at(&newest["last_used_at"]), app.clock.now());
    assert!(newest["user_agent"].is_string() && newest["id"].is_string());

    // The same list, from the browser: only `current` moves.
    let seen_from_browser = logins(&app, &browser).await;
    assert_eq!(
        agents(&seen_from_browser)
            .iter()
            .map(|(_, current)| *current)
            .collect::<Vec<_>>(),
        [true, false, false]
    );
    assert_eq!(seen_from_browser[0]["id"], seen_from_phone[0]["id"]);
    assert_eq!(
        app.count("logins", &format!("user_id = '{}'", user.id))
            .await,
        3
    );
}

#[tokio::test]
async fn a_refresh_continues_its_login_and_moves_last_used() {
    let app = spawn_app().await;
    app.clock.freeze();
    let user = app.register_patient().await;
    app.clock.advance(chrono::Duration::minutes(1));
    let (_, refresh_token) = sign_in(&app, &user, "Painline/2.1").await;
    let before = logins(&app, &user.access).await;
    app.clock.advance(chrono::Duration::hours(3));
    // An app update changes what the login is shown as.
    let refreshed = refresh(&app, &refresh_token, Some("Painline/2.2")).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let access = refreshed.body["tokens"]["access_token"].as_str().unwrap();

    let after = logins(&app, access).await;
    assert_eq!(after.len(), 2, "a refresh is no new login: {after:?}");
    let phone = &after[0];
    assert_eq!(phone["id"], before[0]["id"]);
    assert_eq!(phone["created_at"], before[0]["created_at"]);
    assert_eq!(at(&phone["last_used_at"]), app.clock.now());
    assert_eq!(phone["user_agent"], "Painline/2.2");
    assert_eq!(phone["current"], true);
    // A refresh without a User-Agent keeps the one it had.
    let again = refresh(
        &app,
        refreshed.body["tokens"]["refresh_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(logins(&app, access).await[0]["user_agent"], "Painline/2.2");
}

#[tokio::test]
async fn ending_a_login_revokes_its_refresh_tokens_at_once() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let (phone, _) = sign_in(&app, &user, "phone").await;
    let (_, lost_refresh) = sign_in(&app, &user, "lost tablet").await;
    let tablet = logins(&app, &phone)
        .await
        .into_iter()
        .find(|l| l["user_agent"] == "lost tablet")
        .unwrap();
    let path = format!("/v1/me/sessions/{}", tablet["id"].as_str().unwrap());

    let ended = end(&app, &phone, &path).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
    refresh(&app, &lost_refresh, None)
        .await
        .assert_problem(401, "invalid_refresh_token");
    assert_eq!(
        agents(&logins(&app, &phone).await),
        [("phone", true), ("-", false)]
    );
    // Stored: the login ended, every token of its family revoked.
    let family = tablet["id"].as_str().unwrap();
    assert_eq!(
        app.count(
            "logins",
            &format!("id = '{family}' AND ended_at IS NOT NULL")
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "refresh_tokens",
            &format!("family_id = '{family}' AND revoked_at IS NULL")
        )
        .await,
        0
    );
    // Ending it again is the same answer; an id that is no login is 404.
    assert_eq!(
        end(&app, &phone, &path).await.status,
        StatusCode::NO_CONTENT
    );
    end(
        &app,
        &phone,
        &format!("/v1/me/sessions/{}", uuid::Uuid::new_v4()),
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn nobody_ends_someone_elses_login() {
    let app = spawn_app().await;
    let owner = app.register_patient().await;
    let stranger = app.register_therapist().await;
    let theirs = logins(&app, &owner.access).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    end(&app, &stranger.access, &format!("/v1/me/sessions/{theirs}"))
        .await
        .assert_problem(404, "not_found");
    let everyone_else = end(&app, &stranger.access, "/v1/me/sessions").await;
    assert_eq!(everyone_else.status, StatusCode::NO_CONTENT);

    // The owner's login goes on.
    assert_eq!(logins(&app, &owner.access).await.len(), 1);
    let refreshed = refresh(&app, &owner.refresh, None).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_only_the_callers_login() {
    let app = spawn_app().await;
    let user = app.register_therapist().await;
    let (laptop, laptop_refresh) = sign_in(&app, &user, "laptop").await;
    let (_, phone_refresh) = sign_in(&app, &user, "phone").await;

    let ended = end(&app, &laptop, "/v1/me/sessions").await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);

    assert_eq!(agents(&logins(&app, &laptop).await), [("laptop", true)]);
    for gone in [&phone_refresh, &user.refresh] {
        refresh(&app, gone, None)
            .await
            .assert_problem(401, "invalid_refresh_token");
    }
    let kept = refresh(&app, &laptop_refresh, None).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
    assert_eq!(
        app.count(
            "logins",
            &format!("user_id = '{}' AND ended_at IS NULL", user.id)
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_login_ends_with_sign_out_a_new_password_and_a_reused_token() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let (_, signed_out) = sign_in(&app, &user, "signs out").await;
    let (_, stolen) = sign_in(&app, &user, "token stolen").await;
    let (keeper, _) = sign_in(&app, &user, "keeper").await;

    let out = app
        .post(
            "/v1/auth/logout",
            None,
            json!({"refresh_token": signed_out}),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    // The thief and the owner both present one token: the second, past the
    // grace, ends that login.
    assert_eq!(refresh(&app, &stolen, None).await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::minutes(1));
    refresh(&app, &stolen, None)
        .await
        .assert_problem(401, "invalid_refresh_token");
    assert_eq!(
        agents(&logins(&app, &keeper).await),
        [("keeper", true), ("-", false)]
    );

    let changed = app
        .post(
            "/v1/me/password",
            Some(&keeper),
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.text);
    // Every login ended, the keeper's too: its token lists no more.
    app.get("/v1/me/sessions", &keeper)
        .await
        .assert_problem(401, "invalid_token");
    let again = app.login(&user.email, "a brand new passphrase").await;
    let access = again.body["tokens"]["access_token"].as_str().unwrap();
    assert_eq!(logins(&app, access).await.len(), 1);
}

#[tokio::test]
async fn a_user_agent_is_kept_printable_and_short() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let long = format!("Painline\t/3.0 {}", "x".repeat(400));
    let (access, _) = sign_in(&app, &user, &long).await;
    let shown = logins(&app, &access).await[0]["user_agent"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(shown.starts_with("Painline/3.0 x"), "{shown}");
    assert_eq!(shown.chars().count(), 200);
    // Bidi overrides and zero-width characters are dropped, as in names.
    let (access, _) = sign_in(&app, &user, "Pain\u{202E}line\u{200B}/3.1\u{2066}").await;
    assert_eq!(logins(&app, &access).await[0]["user_agent"], "Painline/3.1");
}

/// A refresh that raced the end of its login (its token read as live just
/// before the end committed) adds no token to the ended login: here the
/// end is written alone, as the racing refresh would find it.
#[tokio::test]
async fn no_new_token_joins_an_ended_login() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let login = logins(&app, &user.access).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = login.clone();
    app.with_db(move |conn| {
        use diesel::prelude::*;
        use painline::db::schema::logins;
        diesel::update(logins::table.filter(logins::id.eq(id)))
            .set(logins::ended_at.eq(Some(chrono::Utc::now().naive_utc())))
            .execute(conn)
    })
    .await;
    refresh(&app, &user.refresh, None)
        .await
        .assert_problem(401, "invalid_refresh_token");
    assert_eq!(
        app.count("refresh_tokens", &format!("family_id = '{login}'"))
            .await,
        1
    );
}

/// The access token of a login that was ended lives until it runs out,
/// but it can no longer manage logins or take the account's security
/// actions (password, address, erasure): it cannot end the owner's other
/// logins or lock them out. Ordinary reads and writes keep working for
/// its short life.
#[tokio::test]
async fn an_ended_login_cannot_manage_logins_or_the_accounts_security() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let (stolen, _) = sign_in(&app, &user, "stolen phone").await;
    let (owner, _) = sign_in(&app, &user, "owner's laptop").await;
    let stolen_id = logins(&app, &owner)
        .await
        .into_iter()
        .find(|l| l["user_agent"] == "stolen phone")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = app
        .call(
            Method::DELETE,
            &format!("/v1/me/sessions/{stolen_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);

    let refused: [(Method, &str, Option<Value>); 6] = [
        (Method::GET, "/v1/me/sessions", None),
        (Method::DELETE, "/v1/me/sessions", None),
        (
            Method::DELETE,
            &format!("/v1/me/sessions/{}", uuid::Uuid::new_v4()),
            None,
        ),
        (
            Method::POST,
            "/v1/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": "taken over now 123"})),
        ),
        (
            Method::PATCH,
            "/v1/me",
            Some(json!({"email": "thief@example.org", "current_password": PASSWORD})),
        ),
        (
            Method::DELETE,
            "/v1/me",
            Some(json!({"password": PASSWORD})),
        ),
    ];
    for (method, path, body) in refused {
        let reply = app.call(method.clone(), path, Some(&stolen), body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            reply.text
        );
        reply.assert_problem(401, "invalid_token");
    }
    // Nothing changed: the owner's login, password and address stand.
    let open = logins(&app, &owner).await;
    assert_eq!(agents(&open), vec![("owner's laptop", true), ("-", false)]);
    let signed_in = app.login(&user.email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    assert_eq!(app.count("users", &format!("id = '{}'", user.id)).await, 1);
    assert_eq!(
        app.count(
            "account_tokens",
            &format!("user_id = '{}' AND purpose = 'change_email'", user.id)
        )
        .await,
        0
    );
    // Its ordinary reads still work until it runs out.
    assert_eq!(app.get("/v1/me", &stolen).await.status, StatusCode::OK);
}
