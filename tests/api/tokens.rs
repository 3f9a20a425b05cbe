//! Access tokens that must be refused: every one gets 401 with
//! `WWW-Authenticate: Bearer` and a problem body.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, TEST_SECRET};

fn claims(app: &TestApp, sub: &str) -> Value {
    let now = app.clock.now().timestamp();
    json!({"sub": sub, "role": "patient", "iat": now, "exp": now + 600,
           "iss": "painline", "aud": "painline-api", "jti": uuid::Uuid::new_v4()})
}

fn sign(alg: Algorithm, key: &[u8], claims: &Value) -> String {
    encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

async fn assert_refused(app: &TestApp, token: Option<&str>, header: Option<String>, case: &str) {
    let mut request = app.client.request(Method::GET, app.url("/v1/me"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(header) = header {
        request = request.header("authorization", header);
    }
    let reply = crate::helpers::read(request.send().await.unwrap()).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{case}: {}",
        reply.text
    );
    reply.assert_problem(401, "invalid_token");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{case}");
}

/// A token signed here whose time has passed: 401 `token_expired`, with
/// RFC 6750's `invalid_token` in `WWW-Authenticate`, so the client refreshes.
async fn assert_expired(app: &TestApp, token: &str) {
    let reply = app.get("/v1/me", token).await;
    reply.assert_problem(401, "token_expired");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token", error_description="The access token expired""#)
    );
}

#[tokio::test]
async fn a_well_formed_token_is_accepted() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    // Control: the same forging code with every rule kept is accepted, so the
    // refusals below are caused by the one thing each changes.
    let token = sign(Algorithm::HS256, TEST_SECRET, &claims(&app, &user.id));
    assert_eq!(app.get("/v1/me", &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let good = claims(&app, &user.id);

    let none_alg = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&good)
    );
    assert_refused(&app, Some(&none_alg), None, "alg none").await;

    let hs512 = sign(Algorithm::HS512, TEST_SECRET, &good);
    assert_refused(&app, Some(&hs512), None, "HS512").await;

    let signature = sign(Algorithm::HS256, TEST_SECRET, &good);
    let sig = signature.rsplit('.').next().unwrap();
    let rs256 = format!(
        "{}.{}.{sig}",
        b64(&json!({"alg": "RS256", "typ": "JWT"})),
        b64(&good)
    );
    assert_refused(&app, Some(&rs256), None, "RS256 header").await;

    let wrong_key = sign(
        Algorithm::HS256,
        b"another-secret-another-secret-0123456",
        &good,
    );
    assert_refused(&app, Some(&wrong_key), None, "wrong signature").await;

    // The payload changed after signing (role escalation).
    let parts: Vec<&str> = signature.split('.').collect();
    let mut escalated = good.clone();
    escalated["role"] = json!("therapist");
    let swapped = format!("{}.{}.{}", parts[0], b64(&escalated), parts[2]);
    assert_refused(&app, Some(&swapped), None, "payload swapped").await;

    for (claim, value) in [
        ("iss", json!("someone-else")),
        ("aud", json!("another-api")),
    ] {
        let mut wrong = good.clone();
        wrong[claim] = value;
        let token = sign(Algorithm::HS256, TEST_SECRET, &wrong);
        assert_refused(&app, Some(&token), None, claim).await;
    }
    for claim in ["sub", "role", "iat", "exp", "iss", "aud", "jti"] {
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove(claim);
        let token = sign(Algorithm::HS256, TEST_SECRET, &missing);
        assert_refused(&app, Some(&token), None, &format!("missing {claim}")).await;
    }
    let mut expired = good.clone();
    expired["exp"] = json!(app.clock.now().timestamp() - 1);
    let token = sign(Algorithm::HS256, TEST_SECRET, &expired);
    assert_expired(&app, &token).await;

    assert_refused(
        &app,
        Some(&user.refresh),
        None,
        "refresh token as access token",
    )
    .await;
    assert_refused(&app, Some("garbage"), None, "garbage").await;
    assert_refused(&app, None, None, "no header").await;
    assert_refused(
        &app,
        None,
        Some(format!("Basic {}", user.access)),
        "basic scheme",
    )
    .await;
}

#[tokio::test]
async fn access_tokens_expire_after_fifteen_minutes() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    app.clock.advance(chrono::Duration::seconds(899));
    assert_eq!(app.get("/v1/me", &user.access).await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(1));
    assert_expired(&app, &user.access).await;
}
