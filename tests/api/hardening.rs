//! Defects from a black-box security review (issue 11, item 9), each
//! proven fixed through the running application: bounded metrics under
//! made-up methods, forwarded addresses a client cannot choose, cache and
//! sniffing headers, private database files, tokens that outlive their
//! account, weak ETags in If-Match, HEAD, built-in stretch ids, invisible
//! characters, and `/metrics` on its own listener.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    base_settings, fresh_database, read, spawn_app, spawn_app_with, test_today, TestApp, PASSWORD,
};

async fn metrics_text(app: &TestApp) -> String {
    app.metrics().await
}

/// Made-up request methods get 405 with `Allow` on a known path (404 on any
/// other) and are counted under one label: 50 requests with 5 KB methods
/// leave `/metrics` about as it was.
#[tokio::test]
async fn unknown_methods_are_405_and_one_metrics_label() {
    let app = spawn_app().await;
    let before = metrics_text(&app).await;
    for n in 0..50 {
        let name = format!("X{n}{}", "A".repeat(5_000));
        let method = Method::from_bytes(name.as_bytes()).unwrap();
        let reply = read(
            app.client
                .request(method, app.url("/v1/me"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            reply.header("allow"),
            Some("GET, PATCH, DELETE, HEAD"),
            "the methods /v1/me does serve"
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
    }
    // QUERY (a method newer than RFC 9110) on a path nobody serves: 404.
    let method = Method::from_bytes(b"QUERY").unwrap();
    let reply = read(
        app.client
            .request(method, app.url("/v1/no-such-thing"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let after = metrics_text(&app).await;
    assert!(!after.contains("AAAAA"), "a method name reached /metrics");
    assert!(
        after
            .lines()
            .any(|l| l.starts_with("painline_http_requests_total{")
                && l.contains("method=\"OTHER\"")
                && l.contains("status=\"405\"")
                && l.ends_with(" 50")),
        "{after}"
    );
    // A few new series (one label), not 50 × 5 KB.
    assert!(
        after.len() < before.len() + 8_000,
        "{} → {} bytes",
        before.len(),
        after.len()
    );
}

/// Behind a trusted proxy that writes the client's address with a port, a
/// client cannot dodge the per-address login limit by writing addresses of
/// its own to the left.
#[tokio::test]
async fn forwarded_addresses_with_ports_cannot_be_chosen_by_the_client() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let user = app.register_patient().await;
    let attempt = |n: u32| {
        app.client
            .post(app.url("/v1/auth/login"))
            .header(
                "x-forwarded-for",
                format!("203.0.113.{n}, 198.51.100.8:{}", 50_000 + n),
            )
            .json(&json!({"email": user.email, "password": "wrong password 123"}))
            .send()
    };
    for n in 0..5 {
        let reply = read(attempt(n).await.unwrap()).await;
        reply.assert_problem(401, "invalid_credentials");
    }
    let sixth = read(attempt(5).await.unwrap()).await;
    sixth.assert_problem(429, "too_many_attempts");
    let address = format!("email = '{}' AND client_ip = '198.51.100.8'", user.email);
    assert_eq!(app.count("login_failures", &address).await, 5);
}

/// Answers with tokens or health data are never stored by a cache, and no
/// answer may be sniffed as another content type.
#[tokio::test]
async fn api_answers_are_no_store_and_every_answer_is_nosniff() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let login = app.login(&user.email, PASSWORD).await;
    let me = app.get("/v1/me", &user.access).await;
    let trends = app.get("/v1/me/trends", &user.access).await;
    let refused = app.get("/v1/me", "not-a-token").await;
    for (what, reply) in [
        ("login", &login),
        ("me", &me),
        ("trends", &trends),
        ("401", &refused),
    ] {
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
    }
    // Every answer, a 404 of a mistyped dashboard path too, is neither
    // sniffed nor framed, and leaks no referrer.
    for path in [
        "/healthz",
        "/openapi.yaml",
        "/dashboard/",
        "/nowhere",
        "/reset-password/",
        "/Dashboard/",
        "/v1/nothing-here",
    ] {
        let reply = read(app.client.get(app.url(path)).send().await.unwrap()).await;
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
        ] {
            assert_eq!(reply.header(name), Some(value), "{path} {name}");
        }
    }
}

/// The SQLite database and its WAL are created readable by their owner
/// only, like the JWT secret beside them; a database file an earlier
/// release left readable by others (0644) is narrowed at start.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_created_0600() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let older = crate::helpers::spawn_app_after(|url| {
        if let painline::config::DatabaseUrl::Sqlite(path) = url {
            std::fs::write(path, b"").unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    })
    .await;
    if let painline::config::DatabaseUrl::Sqlite(path) = &older.database {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "an older 0644 file");
    }
    let painline::config::DatabaseUrl::Sqlite(path) = app.database.clone() else {
        return; // A PostgreSQL run: no files of ours.
    };
    let user = app.register_patient().await;
    assert_eq!(app.get("/v1/me", &user.access).await.status, StatusCode::OK);
    let wal = path.with_file_name("painline.db-wal");
    for file in [&path, &wal] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}

/// An access token that outlived its account reads 401, as `GET /v1/me`
/// does, never 200 with empty lists.
#[tokio::test]
async fn a_token_of_an_erased_account_is_refused_everywhere() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    for user in [&patient, &therapist] {
        let gone = app
            .call(
                Method::DELETE,
                "/v1/me",
                Some(&user.access),
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
    }
    for path in [
        "/v1/me",
        "/v1/me/pain-entries",
        "/v1/me/conditions",
        "/v1/me/changes",
        "/v1/me/trends",
        "/v1/me/daily",
        "/v1/me/care-team",
        "/v1/me/access-log",
        "/v1/me/export?format=json",
        "/v1/stretches",
    ] {
        let reply = app.get(path, &patient.access).await;
        reply.assert_problem(401, "invalid_token");
    }
    let someone = uuid::Uuid::new_v4();
    for path in [
        "/v1/invitations".to_owned(),
        "/v1/patients".to_owned(),
        format!("/v1/patients/{someone}/pain-entries"),
    ] {
        let reply = app.get(&path, &therapist.access).await;
        reply.assert_problem(401, "invalid_token");
    }
    let write = app
        .post(
            "/v1/me/pain-entries",
            Some(&patient.access),
            json!({"date": test_today(), "pain_level": 3}),
        )
        .await;
    write.assert_problem(401, "invalid_token");
    assert_eq!(app.count("records", "1 = 1").await, 0);
}

/// `If-Match` compares strongly (RFC 9110): a weak tag never matches, so
/// the write is refused and nothing changes.
#[tokio::test]
async fn weak_etags_never_satisfy_if_match() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let path = format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4());
    let created = app
        .call(
            Method::PUT,
            &path,
            Some(&user.access),
            Some(json!({"date": test_today(), "pain_level": 4})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.header("etag"), Some("\"1\""));
    let put = |if_match: &'static str, level: i64| {
        app.client
            .put(app.url(&path))
            .bearer_auth(&user.access)
            .header("if-match", if_match)
            .json(&json!({"date": test_today(), "pain_level": level}))
            .send()
    };
    read(put("W/\"1\"", 9).await.unwrap())
        .await
        .assert_problem(412, "precondition_failed");
    let deleted = read(
        app.client
            .delete(app.url(&path))
            .bearer_auth(&user.access)
            .header("if-match", "W/\"1\"")
            .send()
            .await
            .unwrap(),
    )
    .await;
    deleted.assert_problem(412, "precondition_failed");
    let stored = app.get(&path, &user.access).await;
    assert_eq!(stored.status, StatusCode::OK);
    assert_eq!(stored.body["pain_level"], 4);
    assert_eq!(stored.body["version"], 1);
    // A strong tag in the same list still matches.
    let strong = read(put("W/\"1\", \"1\"", 9).await.unwrap()).await;
    assert_eq!(strong.status, StatusCode::OK, "{}", strong.text);
    assert_eq!(strong.body["pain_level"], 9);
}

/// HEAD answers what GET would, without a body, on every readable route.
#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let path = format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4());
    app.call(
        Method::PUT,
        &path,
        Some(&user.access),
        Some(json!({"date": test_today(), "pain_level": 4})),
    )
    .await;
    for target in [
        path.as_str(),
        "/v1/me/pain-entries",
        "/v1/me",
        "/v1/stretches",
    ] {
        let get = app.get(target, &user.access).await;
        let head = app
            .client
            .head(app.url(target))
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::OK, "{target}");
        assert_eq!(
            head.headers().get("etag").map(|v| v.to_str().unwrap()),
            get.header("etag"),
            "{target}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{target}");
    }
    let missing = app
        .client
        .head(app.url(&format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4())))
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let unauthenticated = app.client.head(app.url("/v1/me")).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    // And the 405 of a path names HEAD among what it allows.
    let refused = read(
        app.client
            .post(app.url("/v1/me/changes"))
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(refused.header("allow"), Some("GET, HEAD"));
}

/// An own stretch cannot take the id of a built-in one: the catalog lists
/// each id once.
#[tokio::test]
async fn built_in_stretch_ids_are_taken() {
    const KNEE_TO_CHEST: &str = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab";
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let before = app.get("/v1/stretches", &user.access).await;
    let reply = app
        .call(
            Method::PUT,
            &format!("/v1/me/stretches/{KNEE_TO_CHEST}"),
            Some(&user.access),
            Some(json!({"name": "Mine now"})),
        )
        .await;
    reply.assert_problem(409, "id_taken");
    let after = app.get("/v1/stretches", &user.access).await;
    assert_eq!(after.body, before.body);
    let ids: Vec<&str> = after.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.iter().filter(|id| **id == KNEE_TO_CHEST).count(), 1);
    assert_eq!(
        app.count("records", &format!("patient_id = '{}'", user.id))
            .await,
        0
    );
}

/// Names and addresses with invisible or direction-changing characters are
/// refused with the field named, at sign-up and on change; nothing stored
/// changes.
#[tokio::test]
async fn invisible_and_bidi_characters_are_refused_in_names_and_addresses() {
    let app = spawn_app().await;
    for (field, body) in [
        (
            "display_name",
            json!({"email": "ana@example.org", "password": PASSWORD,
                   "display_name": "Ana\u{202E}gnp.exe", "role": "patient"}),
        ),
        (
            "email",
            json!({"email": "ana\u{200B}@example.org", "password": PASSWORD,
                   "display_name": "Ana", "role": "patient"}),
        ),
        (
            "display_name",
            json!({"email": "ana@example.org", "password": PASSWORD,
                   "display_name": "\u{FEFF}Ana", "role": "patient"}),
        ),
    ] {
        let reply = app.post("/v1/auth/register", None, body).await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), vec![field.to_owned()]);
    }
    assert_eq!(app.count("users", "1 = 1").await, 0);
    let user = app.register_patient().await;
    let before = app.get("/v1/me", &user.access).await;
    let patch = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&user.access),
            Some(json!({"display_name": "Dr\u{2066} Who"})),
        )
        .await;
    patch.assert_problem(422, "validation_failed");
    assert_eq!(patch.error_fields(), vec!["display_name".to_owned()]);
    let after = app.get("/v1/me", &user.access).await;
    assert_eq!(after.body["display_name"], before.body["display_name"]);
}

/// An account whose stored address an earlier release accepted, before the
/// rule, still signs in with it.
#[tokio::test]
async fn an_address_stored_before_the_rule_still_signs_in() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let old_style = format!("old\u{200B}{}", user.email);
    let (account, stored) = (user.id.clone(), old_style.clone());
    let updated = app
        .with_db(move |conn| {
            use diesel::prelude::*;
            use painline::db::schema::users;
            diesel::update(users::table.filter(users::id.eq(account)))
                .set(users::email.eq(stored))
                .execute(conn)
        })
        .await;
    assert_eq!(updated, 1);
    let login = app.login(&old_style, PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
}

/// With `PAINLINE_METRICS_BIND`, `/metrics` is served there only; the API's
/// listener answers 404 for it, and its requests are still counted.
#[tokio::test]
async fn metrics_can_live_on_their_own_listener() {
    let (database, _guard) = fresh_database();
    let mut settings = base_settings(database);
    settings.metrics_bind = Some("127.0.0.1:0".into());
    let app = painline::startup::Application::build(settings, painline::clock::Clock::system())
        .expect("build app");
    let (port, metrics_port) = (app.port(), app.metrics_port().expect("a metrics port"));
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let api = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let health = client.get(api("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let hidden = client.get(api("/metrics")).send().await.unwrap();
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let scrape = || async {
        let reply = client.get(&metrics_url).send().await.unwrap();
        reply.text().await.unwrap()
    };
    let text = scrape().await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("painline_http_requests_total{")
                && l.contains("endpoint=\"/healthz\"")
                && l.ends_with(" 1")),
        "{text}"
    );
    // Nor does it take other methods (they would be labels of their own).
    let posted = client
        .request(Method::from_bytes(b"FOOBAR").unwrap(), &metrics_url)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        posted.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET")
    );
    let again = scrape().await;
    assert!(!again.contains("FOOBAR"), "{again}");
    // The metrics listener serves nothing else.
    let other = client
        .get(format!("http://127.0.0.1:{metrics_port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    handle.stop(true).await;
}

/// Sends `request` on a fresh connection and reads until the server closes
/// it (at most 15 s): what it answered.
async fn until_closed(app: &TestApp, request: String) -> String {
    let address = app.address.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(15)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .expect("the server closes the connection in time");
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

/// A client that never finishes its request is cut off after
/// `PAINLINE_REQUEST_TIMEOUT` (1 s here): 408 for a body that stops, and
/// the connection closed for a head that never ends. Nothing is stored.
#[tokio::test]
async fn a_client_that_never_finishes_its_request_is_cut_off() {
    let app = spawn_app_with(|s| s.request_timeout = std::time::Duration::from_secs(1)).await;
    let user = app.register_patient().await;
    let stalled_body = format!(
        "PUT /v1/me/pain-entries/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"date\":",
        uuid::Uuid::new_v4(),
        user.access
    );
    let answer = until_closed(&app, stalled_body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let stalled_head = "GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Slow: 1".to_owned();
    let answer = until_closed(&app, stalled_head).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert_eq!(app.count("records", "1 = 1").await, 0);
    assert_eq!(app.get("/v1/me", &user.access).await.status, StatusCode::OK);
}
