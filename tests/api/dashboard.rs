//! The dashboard's files as the binary serves them: the sign-in form in the
//! first answer, strict security headers on every answer (errors too),
//! revalidation by ETag, and `PAINLINE_DASHBOARD=off`. What it does in a
//! browser is tested with Chromium by `.ci/dashboard-test.sh`.

use reqwest::StatusCode;

use crate::helpers::{spawn_app, spawn_app_with};

fn assert_secure(response: &reqwest::Response) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn the_dashboard_is_served_with_strict_headers() {
    let app = spawn_app().await;
    let index = app.client.get(app.url("/dashboard/")).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert_secure(&index);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    let etag = index.headers()["etag"].to_str().unwrap().to_owned();
    let html = index.text().await.unwrap();
    // Signed out, the first answer already holds the sign-in form.
    for part in [
        "<form id=\"sign-in-form\" method=\"post\"",
        "type=\"email\"",
        "type=\"password\"",
        "<script type=\"module\" src=\"app.js\"></script>",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert!(!html.contains("<script>"), "no inline script");

    let again = app
        .client
        .get(app.url("/dashboard/index.html"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_secure(&again);

    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("views.js", "text/javascript; charset=utf-8"),
        ("dom.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
        ("account.js", "text/javascript; charset=utf-8"),
    ] {
        let reply = app
            .client
            .get(app.url(&format!("/dashboard/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{file}");
        assert_eq!(reply.headers()["content-type"], content_type, "{file}");
        assert_secure(&reply);
        let body = reply.text().await.unwrap();
        assert!(
            !body.contains("localStorage"),
            "{file} keeps nothing in localStorage"
        );
        assert!(
            !body.contains("innerHTML"),
            "{file} never parses data as HTML"
        );
    }

    let missing = app
        .client
        .get(app.url("/dashboard/secrets.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_secure(&missing);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    // Only the embedded files exist: there is no folder to climb out of.
    for path in [
        "/dashboard/..%2F..%2FCargo.toml",
        "/dashboard/%2e%2e%2fCargo.toml",
    ] {
        let up = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(up.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // Other methods and deeper paths are refused with the same headers.
    let posted = app
        .client
        .post(app.url("/dashboard/"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(posted.headers()["allow"], "GET, HEAD");
    assert_secure(&posted);
    let deeper = app
        .client
        .get(app.url("/dashboard/a/b.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(deeper.status(), StatusCode::NOT_FOUND);
    assert_secure(&deeper);
    let head = app
        .client
        .head(app.url("/dashboard/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_secure(&head);

    let bare = app.client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers()["location"], "/dashboard/");
}

#[tokio::test]
async fn the_dashboard_can_be_turned_off() {
    let app = spawn_app_with(|s| s.dashboard = false).await;
    for path in [
        "/dashboard/",
        "/dashboard/app.js",
        "/dashboard",
        "/reset-password",
    ] {
        let reply = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // The API is unaffected.
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// The pages behind mailed links, at the paths the mails name: served with
/// the same headers, their script from this origin, read-only.
#[tokio::test]
async fn the_pages_behind_mailed_links_are_served_strictly() {
    let app = spawn_app().await;
    for path in ["/reset-password", "/verify-email"] {
        let page = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_secure(&page);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let html = page.text().await.unwrap();
        assert!(html.contains("<script type=\"module\" src=\"/dashboard/account.js\"></script>"));
        assert!(!html.contains("<script>"), "no inline script");
        let post = app.client.post(app.url(path)).send().await.unwrap();
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_secure(&post);
    }
}
