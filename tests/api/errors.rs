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

/// A mobile developer reads what was expected, in words, with the field
/// or parameter named, and nothing is stored.
#[tokio::test]
async fn errors_say_what_was_expected_and_name_the_parameter() {
    let app = crate::helpers::spawn_app().await;
    let patient = app.register_patient().await;
    let today = crate::helpers::test_today();
    let id = uuid::Uuid::new_v4();
    let path = format!("/v1/me/pain-entries/{id}");
    #[rustfmt::skip]
    let bodies = [
        (json!({"date": "2026/12/01", "pain_level": 5}), "date", "must be a date as YYYY-MM-DD"),
        (json!({"date": "01-12-2026", "pain_level": 5}), "date", "must be a date as YYYY-MM-DD"),
        (json!({"date": today, "pain_level": "5"}), "pain_level", "must be a whole number, not string \"5\""),
        (json!({"date": today, "pain_level": 5.5}), "pain_level", "must be a whole number"),
        (json!({"date": today, "pain_level": 5, "recorded_at": "yesterday"}), "recorded_at", "must be a date and time as RFC 3339"),
        (json!({"date": today, "pain_level": 5, "recorded_at": "2026-12-01 10:00"}), "recorded_at", "must be a date and time as RFC 3339"),
        (json!({"date": today, "pain_level": 5, "regions": "hip_left"}), "regions", "must be a list (a JSON array)"),
    ];
    for (body, field, words) in bodies {
        let reply = app
            .call(
                reqwest::Method::PUT,
                &path,
                Some(&patient.access),
                Some(body.clone()),
            )
            .await;
        reply.assert_problem(400, "invalid_body");
        assert_eq!(reply.error_fields(), vec![field], "{body}");
        let message = reply.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with(words), "{body}: {message}");
        assert!(
            !message.contains("i64") && !message.contains("invalid characters"),
            "{message}"
        );
    }
    #[rustfmt::skip]
    let queries = [
        ("/v1/me/trends?from=2026/10/01", "from", "must be a date as YYYY-MM-DD"),
        ("/v1/me/daily?from=2026-10-01&to=tomorrow", "to", "must be a date as YYYY-MM-DD"),
        ("/v1/me/pain-entries?limit=ten", "limit", "must be a whole number"),
        ("/v1/me/changes?limit=-1", "limit", "must be between 1 and 1000"),
        ("/v1/me/trends?since=2026-01-01", "since", "is not a parameter here; expected `from` or `to`"),
    ];
    for (query, field, words) in queries {
        let reply = app.get(query, &patient.access).await;
        reply.assert_problem(400, "invalid_query");
        assert_eq!(reply.error_fields(), vec![field], "{query}");
        let message = reply.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with(words), "{query}: {message}");
        assert!(reply.body["detail"].as_str().unwrap().contains(field));
    }
    let stored = app.get("/v1/me/pain-entries", &patient.access).await;
    assert_eq!(stored.body["items"], json!([]));
}

/// A stale `If-Match` is told the current version, as a header and in the
/// body, so a phone can fetch, merge and retry; the stored entry stays.
#[tokio::test]
async fn a_412_carries_the_current_etag_and_version() {
    let app = crate::helpers::spawn_app().await;
    let patient = app.register_patient().await;
    let path = format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4());
    let today = crate::helpers::test_today().to_string();
    let put = |body: serde_json::Value, if_match: Option<&'static str>| {
        let mut request = app
            .client
            .put(app.url(&path))
            .bearer_auth(&patient.access)
            .json(&body);
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        async move { read(request.send().await.unwrap()).await }
    };
    let first = json!({"date": today, "pain_level": 4});
    assert_eq!(put(first.clone(), None).await.status, 201);
    let second = json!({"date": today, "pain_level": 5});
    assert_eq!(put(second, Some("\"1\"")).await.status, 200);
    let stale = put(json!({"date": today, "pain_level": 9}), Some("\"1\"")).await;
    stale.assert_problem(412, "precondition_failed");
    assert_eq!(stale.header("etag"), Some("\"2\""));
    assert_eq!(stale.body["version"], 2);
    assert!(stale.body["detail"]
        .as_str()
        .unwrap()
        .contains("which is 2"));
    // No current version to name: a new id with If-Match.
    let fresh = format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4());
    let absent = read(
        app.client
            .put(app.url(&fresh))
            .bearer_auth(&patient.access)
            .header("If-Match", "\"1\"")
            .json(&first)
            .send()
            .await
            .unwrap(),
    )
    .await;
    absent.assert_problem(412, "precondition_failed");
    assert_eq!(absent.header("etag"), None);
    assert!(absent.body.get("version").is_none());
    let kept = app.get(&path, &patient.access).await;
    assert_eq!(
        (
            kept.body["pain_level"].as_i64(),
            kept.body["version"].as_i64()
        ),
        (Some(5), Some(2))
    );

    // The same for a settings resource (ETag "0" = the defaults).
    let settings = read(
        app.client
            .put(app.url("/v1/me/reminders"))
            .bearer_auth(&patient.access)
            .header("If-Match", "\"3\"")
            .json(&json!({"enabled": false, "local_time": "08:00", "days": ["mon"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    settings.assert_problem(412, "precondition_failed");
    assert_eq!(settings.header("etag"), Some("\"0\""));
    assert_eq!(settings.body["version"], 0);
}

/// RFC 6750: an access token that has run out says so, so the client
/// refreshes instead of signing the user out; anything else that is not a
/// valid token gets the one generic answer.
#[tokio::test]
async fn an_expired_access_token_is_told_apart_from_a_bad_one() {
    let app = crate::helpers::spawn_app().await;
    let patient = app.register_patient().await;
    // One character of the signature changed (not the last, whose low
    // bits base64 ignores).
    let mut forged: Vec<char> = patient.access.chars().collect();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    for token in ["garbage", "a.b.c", forged.as_str()] {
        let reply = app.get("/v1/me", token).await;
        reply.assert_problem(401, "invalid_token");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
    app.clock.advance(chrono::Duration::seconds(900));
    let expired = app.get("/v1/me", &patient.access).await;
    expired.assert_problem(401, "token_expired");
    assert_eq!(
        expired.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token", error_description="The access token expired""#)
    );
    assert!(expired.body["detail"]
        .as_str()
        .unwrap()
        .contains("/v1/auth/refresh"));
    // The refresh token still works, and its new access token is accepted.
    let refreshed = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": patient.refresh}),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let access = refreshed.body["tokens"]["access_token"].as_str().unwrap();
    assert_eq!(app.get("/v1/me", access).await.status, 200);
}
