use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_app, PASSWORD};

#[tokio::test]
async fn get_and_patch_me() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let me = app.get("/v1/me", &user.access).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], user.id.as_str());
    assert_eq!(me.body["timezone"], "UTC");
    assert!(me.body.get("password_hash").is_none());

    let patched = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&user.access),
            Some(json!({"display_name": "Ana L.", "timezone": "America/Sao_Paulo"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["display_name"], "Ana L.");
    assert_eq!(patched.body["timezone"], "America/Sao_Paulo");
    assert_eq!(
        app.count(
            "users",
            &format!(
                "id = '{}' AND display_name = 'Ana L.' AND timezone = 'America/Sao_Paulo'",
                user.id
            )
        )
        .await,
        1
    );

    // Only the fields sent change.
    let partial = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&user.access),
            Some(json!({"display_name": "Ana"})),
        )
        .await;
    assert_eq!(partial.body["timezone"], "America/Sao_Paulo");

    let bad = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&user.access),
            Some(json!({"timezone": "Nowhere/Land", "display_name": ""})),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), vec!["display_name", "timezone"]);
    let unknown = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&user.access),
            Some(json!({"role": "therapist"})),
        )
        .await;
    unknown.assert_problem(400, "invalid_body");
    // Nothing changed.
    let after = app.get("/v1/me", &user.access).await;
    assert_eq!(
        (
            after.body["display_name"].as_str(),
            after.body["role"].as_str()
        ),
        (Some("Ana"), Some("patient"))
    );
}

#[tokio::test]
async fn changing_the_password_revokes_every_refresh_token() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let second = app.login(&user.email, PASSWORD).await;
    let second_refresh = second.body["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let wrong = app
        .post(
            "/v1/me/password",
            Some(&user.access),
            json!({"current_password": "not my password", "new_password": "a new password 42"}),
        )
        .await;
    wrong.assert_problem(403, "wrong_password");
    assert_eq!(wrong.error_fields(), vec!["current_password"]);
    let short = app
        .post(
            "/v1/me/password",
            Some(&user.access),
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(short.error_fields(), vec!["new_password"]);

    let ok = app
        .post(
            "/v1/me/password",
            Some(&user.access),
            json!({"current_password": PASSWORD, "new_password": "a new password 42"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
    for token in [&user.refresh, &second_refresh] {
        app.post("/v1/auth/refresh", None, json!({"refresh_token": token}))
            .await
            .assert_problem(401, "invalid_refresh_token");
    }
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&user.email, "a new password 42").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_passwords_on_me_routes_are_throttled_like_logins() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    for _ in 0..5 {
        let reply = app
            .post("/v1/me/password", Some(&user.access), json!({"current_password": "guess guess guess", "new_password": "a new password 42"}))
            .await;
        reply.assert_problem(403, "wrong_password");
    }
    let throttled = app
        .post(
            "/v1/me/password",
            Some(&user.access),
            json!({"current_password": PASSWORD, "new_password": "a new password 42"}),
        )
        .await;
    throttled.assert_problem(429, "too_many_attempts");
    assert!(throttled.header("retry-after").is_some());
    // The password did not change.
    app.clock.advance(chrono::Duration::minutes(15));
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn deleting_the_account_leaves_no_row_behind() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let neighbour = app.register_patient().await;
    // Some logbook data, including an idempotent POST.
    app.call(
        Method::PUT,
        &format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4()),
        Some(&user.access),
        Some(json!({"date": "2026-11-20", "pain_level": 5})),
    )
    .await;
    app.call(
        Method::PUT,
        "/v1/me/conditions/osteoporosis",
        Some(&user.access),
        Some(json!({"note": "private"})),
    )
    .await;
    let posted = app
        .client
        .post(app.url("/v1/me/stretches"))
        .bearer_auth(&user.access)
        .header("idempotency-key", "k1")
        .json(&json!({"name": "Mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    assert_eq!(
        app.count("records", &format!("patient_id = '{}'", user.id))
            .await,
        3
    );
    app.login(&user.email, "wrong password 123").await;
    app.login(&user.email, PASSWORD).await;
    app.login(&user.email, "wrong password 123").await;

    let wrong = app
        .call(
            Method::DELETE,
            "/v1/me",
            Some(&user.access),
            Some(json!({"password": "not my password"})),
        )
        .await;
    wrong.assert_problem(403, "wrong_password");
    assert_eq!(wrong.error_fields(), vec!["password"]);
    assert_eq!(app.count("users", &format!("id = '{}'", user.id)).await, 1);

    let reply = app
        .call(
            Method::DELETE,
            "/v1/me",
            Some(&user.access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert_eq!(
        app.count(
            "users",
            &format!("id = '{}' OR email = '{}'", user.id, user.email)
        )
        .await,
        0
    );
    assert_eq!(
        app.count("refresh_tokens", &format!("user_id = '{}'", user.id))
            .await,
        0
    );
    assert_eq!(
        app.count("login_failures", &format!("email = '{}'", user.email))
            .await,
        0
    );
    // Its tokens are dead, and the e-mail is free again.
    app.get("/v1/me", &user.access)
        .await
        .assert_problem(401, "invalid_token");
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": user.refresh}),
    )
    .await
    .assert_problem(401, "invalid_refresh_token");
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The neighbour is untouched.
    assert_eq!(
        app.count("users", &format!("id = '{}'", neighbour.id))
            .await,
        1
    );
    assert_eq!(
        app.get("/v1/me", &neighbour.access).await.status,
        StatusCode::OK
    );
}
