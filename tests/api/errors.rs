//! What actix's extractors and router reject comes back as problem+json.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{read, spawn_app, PASSWORD};

#[tokio::test]
async fn bad_bodies_get_problem_json_naming_the_field() {
    let app = spawn_app().await;
    let url = app.url("/v1/auth/register");
    let send = |body: String, content_type: &'static str| {
        let request = app
            .client
            .post(&url)
            .header("content-type", content_type)
            .body(body);
        async move { read(request.send().await.unwrap()).await }
    };

    send("{\"email\": ".into(), "application/json")
        .await
        .assert_problem(400, "malformed_json");
    send(String::new(), "application/json")
        .await
        .assert_problem(400, "malformed_json");

    let unknown = send(
        json!({"email": "a@example.org", "password": PASSWORD, "display_name": "A", "role": "patient", "admin": true}).to_string(),
        "application/json",
    )
    .await;
    unknown.assert_problem(400, "invalid_body");
    assert!(
        unknown.body["detail"].as_str().unwrap().contains("admin"),
        "{}",
        unknown.text
    );

    let wrong_type = send(
        json!({"email": "a@example.org", "password": 123456789012i64, "display_name": "A", "role": "patient"}).to_string(),
        "application/json",
    )
    .await;
    wrong_type.assert_problem(400, "invalid_body");
    assert_eq!(wrong_type.error_fields(), vec!["password"]);

    let missing = send(
        json!({"email": "a@example.org"}).to_string(),
        "application/json",
    )
    .await;
    missing.assert_problem(400, "invalid_body");

    send("email=a".into(), "application/x-www-form-urlencoded")
        .await
        .assert_problem(415, "unsupported_media_type");
    let no_type = read(app.client.post(&url).body("{}").send().await.unwrap()).await;
    no_type.assert_problem(415, "unsupported_media_type");

    let huge = json!({"email": "a@example.org", "password": PASSWORD, "display_name": "x".repeat(70 * 1024), "role": "patient"});
    send(huge.to_string(), "application/json")
        .await
        .assert_problem(413, "payload_too_large");
    // Just under the limit is parsed (and then fails validation on length).
    let under = json!({"email": "a@example.org", "password": PASSWORD, "display_name": "x".repeat(60 * 1024), "role": "patient"});
    send(under.to_string(), "application/json")
        .await
        .assert_problem(422, "validation_failed");

    assert_eq!(app.count("users", "1 = 1").await, 0);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_json() {
    let app = spawn_app().await;
    let missing = read(
        app.client
            .get(app.url("/v1/nothing-here"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    missing.assert_problem(404, "not_found");
    let wrong_method = read(
        app.client
            .get(app.url("/v1/auth/login"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        [StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&wrong_method.status),
        "{}",
        wrong_method.status
    );
    assert_eq!(
        wrong_method.header("content-type"),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn stored_text_is_returned_byte_for_byte() {
    let app = spawn_app().await;
    let name = "Zoë 🙂 \"O'Brien\" <b>א</b>; DROP TABLE users;--";
    let reply = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "zoe@example.org", "password": PASSWORD, "display_name": name, "role": "patient"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["user"]["display_name"], name);
    let me = app
        .get(
            "/v1/me",
            reply.body["tokens"]["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(me.body["display_name"], name);
    assert_eq!(app.count("users", "1 = 1").await, 1);
}
