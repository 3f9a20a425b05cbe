//! The dashboard's refresh token in a cookie: set on sign-in when asked with
//! `X-Painline-Session: cookie`, `HttpOnly`, `SameSite=Strict`, `Secure`
//! with an https public URL, sent only to the refresh and sign-out routes,
//! used only together with that header (a cross-site form cannot send it),
//! rotated on refresh and cleared on sign-out. Apps keep the JSON flow.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Reply, TestApp, PASSWORD};

const HEADER: &str = "X-Painline-Session";

/// The `Set-Cookie` headers of a response, as sent.
async fn send(request: reqwest::RequestBuilder) -> (Reply, Vec<String>) {
    let response = request.send().await.unwrap();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (crate::helpers::read(response).await, cookies)
}

/// The token a `painline_refresh` cookie holds.
fn token_of(cookies: &[String]) -> String {
    let first = cookies
        .iter()
        .find(|c| c.starts_with("painline_refresh="))
        .expect("a refresh cookie");
    first["painline_refresh=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn sign_in_with_cookie(app: &TestApp, email: &str) -> (Reply, Vec<String>) {
    send(
        app.client
            .post(app.url("/v1/auth/login"))
            .header(HEADER, "cookie")
            .json(&json!({"email": email, "password": PASSWORD})),
    )
    .await
}

fn refresh_with(app: &TestApp, token: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/v1/auth/refresh"))
        .header("cookie", format!("painline_refresh={token}"))
}

#[tokio::test]
async fn the_dashboard_keeps_its_refresh_token_in_a_strict_http_only_cookie() {
    let app = spawn_app().await;
    let therapist = app.register_therapist().await;
    let (signed_in, cookies) = sign_in_with_cookie(&app, &therapist.email).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    // No script can read the refresh token: it is not in the body.
    assert!(signed_in.body["tokens"].get("refresh_token").is_none());
    assert!(signed_in.body["tokens"]["access_token"].is_string());
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for (cookie, path) in cookies.iter().zip(["/v1/auth/refresh", "/v1/auth/logout"]) {
        for attribute in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            &format!("Path={path}"),
            "Max-Age=2592000",
        ] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
    }
    let first = token_of(&cookies);

    // A reload: the cookie with the header gives new tokens and a new cookie.
    let (refreshed, rotated) = send(refresh_with(&app, &first).header(HEADER, "cookie")).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    assert!(refreshed.body["tokens"].get("refresh_token").is_none());
    let second = token_of(&rotated);
    assert_ne!(second, first);
    let me = app
        .get(
            "/v1/me",
            refreshed.body["tokens"]["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(me.body["id"], therapist.id.as_str());

    // What a cross-site form sends: the cookie (were the browser to attach
    // it), a form body, no custom header. It gets nothing and uses nothing.
    let (forged, set) = send(
        refresh_with(&app, &second)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "https://evil.example")
            .body("refresh_token=x"),
    )
    .await;
    forged.assert_problem(415, "unsupported_media_type");
    assert!(set.is_empty() && !forged.text.contains("access_token"));
    // A JSON body without the header is the app flow: the cookie is ignored.
    let (ignored, _) =
        send(refresh_with(&app, &second).json(&json!({"refresh_token": "nope"}))).await;
    ignored.assert_problem(401, "invalid_refresh_token");
    // The cookie was not spent by either.
    let (still, third) = send(refresh_with(&app, &second).header(HEADER, "cookie")).await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.text);
    let third = token_of(&third);

    // Sign-out ends the login and clears the cookie on both paths.
    let (out, cleared) = send(
        app.client
            .post(app.url("/v1/auth/logout"))
            .header("cookie", format!("painline_refresh={third}"))
            .header(HEADER, "cookie"),
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    assert!(cleared
        .iter()
        .all(|c| c.starts_with("painline_refresh=;") && c.contains("Max-Age=0")));
    // A dead cookie presented again is refused and cleared.
    let (after, dead) = send(refresh_with(&app, &third).header(HEADER, "cookie")).await;
    after.assert_problem(401, "invalid_refresh_token");
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead.iter().all(|c| c.contains("Max-Age=0")));
    assert_eq!(
        app.count(
            "refresh_tokens",
            &format!("user_id = '{}' AND revoked_at IS NULL", therapist.id)
        )
        .await,
        // The login made at registration (JSON flow) is still open.
        1
    );
    // Without a cookie: nothing to resume (204, no tokens), and sign-out
    // still answers 204.
    let (none, set) = send(
        app.client
            .post(app.url("/v1/auth/refresh"))
            .header(HEADER, "cookie"),
    )
    .await;
    assert_eq!(none.status, StatusCode::NO_CONTENT, "{}", none.text);
    assert!(none.text.is_empty() && set.is_empty());
    let (bare, _) = send(
        app.client
            .post(app.url("/v1/auth/logout"))
            .header(HEADER, "cookie"),
    )
    .await;
    assert_eq!(bare.status, StatusCode::NO_CONTENT);
    // Neither a body nor the header: nothing presented.
    let (nothing, _) = send(app.client.post(app.url("/v1/auth/refresh"))).await;
    nothing.assert_problem(401, "invalid_refresh_token");
    let (bare_out, _) = send(app.client.post(app.url("/v1/auth/logout"))).await;
    assert_eq!(bare_out.status, StatusCode::NO_CONTENT);
    // Any other value of the header is refused, naming it.
    let login = json!({"email": therapist.email, "password": PASSWORD});
    let token = json!({"refresh_token": "x"});
    for (path, body) in [
        ("/v1/auth/login", &login),
        ("/v1/auth/refresh", &token),
        ("/v1/auth/logout", &token),
    ] {
        let (odd, set) = send(
            app.client
                .post(app.url(path))
                .header(HEADER, "cookies please")
                .json(body),
        )
        .await;
        odd.assert_problem(400, "invalid_header");
        assert_eq!(odd.error_fields(), ["X-Painline-Session"], "{path}");
        assert!(set.is_empty());
    }
}

#[tokio::test]
async fn apps_keep_the_json_flow_and_http_public_urls_get_no_secure_flag() {
    let app = spawn_app_with(|s| s.mail.public_url = "http://127.0.0.1:8080".into()).await;
    let patient = app.register_patient().await;
    // Without the header: the refresh token in the body, no cookie.
    let (json_flow, cookies) = send(
        app.client
            .post(app.url("/v1/auth/login"))
            .json(&json!({"email": patient.email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(json_flow.status, StatusCode::OK);
    assert!(json_flow.body["tokens"]["refresh_token"].is_string());
    assert!(cookies.is_empty(), "{cookies:?}");
    let refreshed = app
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": json_flow.body["tokens"]["refresh_token"]})),
        )
        .await;
    assert!(refreshed.body["tokens"]["refresh_token"].is_string());
    // A dashboard served over plain http (a local trial) still gets its
    // cookie, without Secure.
    let (_, cookies) = sign_in_with_cookie(&app, &patient.email).await;
    assert_eq!(cookies.len(), 2);
    assert!(cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");
}
