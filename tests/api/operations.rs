use reqwest::StatusCode;

use crate::helpers::{read, spawn_app};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let health = read(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let ready = read(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(
        (ready.status, ready.body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    // Every answer names the id it was logged under, errors included.
    let missing = read(app.client.get(app.url("/v1/nothing")).send().await.unwrap()).await;
    for reply in [&health, &ready, &missing] {
        let id = reply.header("x-request-id").unwrap_or_default();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id:?}");
    }
    assert_ne!(health.header("x-request-id"), ready.header("x-request-id"));
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    match &app.database {
        painline::config::DatabaseUrl::Sqlite(path) => {
            std::fs::remove_file(path).unwrap();
        }
        painline::config::DatabaseUrl::Postgres(url) => {
            use diesel::{Connection, RunQueryDsl};
            let admin = crate::helpers::postgres_url().unwrap();
            // The database name, without the URL's parameters (?sslmode=…).
            let last = url.rsplit('/').next().unwrap();
            let name = last.split('?').next().unwrap().to_owned();
            let mut conn = diesel::pg::PgConnection::establish(&admin).unwrap();
            diesel::sql_query(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
                .execute(&mut conn)
                .unwrap();
        }
    }
    let ready = read(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    ready.assert_problem(503, "unavailable");
    assert!(ready.header("retry-after").is_some());
    // Writes are refused too rather than acknowledged into a file that is gone.
    let write = app
        .call(
            reqwest::Method::PUT,
            &format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4()),
            Some(&user.access),
            Some(serde_json::json!({"date": "2026-11-20", "pain_level": 3})),
        )
        .await;
    write.assert_problem(503, "unavailable");
    // Nothing internal leaks.
    assert!(!ready.text.to_lowercase().contains("sql"), "{}", ready.text);
    // The process itself is still alive.
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    app.get("/v1/me", &user.access).await;
    app.get("/v1/me", "bad-token").await;
    let text = app.metrics().await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("painline_http_requests_total{")
                && l.contains("endpoint=\"/v1/me\"")
                && l.contains("status=\"401\"")
                && l.ends_with(" 1")),
        "{text}"
    );
    assert!(
        text.contains("painline_http_requests_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("endpoint=\"/v1/auth/register\""));
    // No token or e-mail ever appears in the metrics.
    assert!(!text.contains(&user.email));
}

#[tokio::test]
async fn cors_allows_only_the_configured_dashboard_origins() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/me"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "authorization, if-match, content-type",
            )
            .send()
    };
    let allowed = preflight("https://dashboard.example").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let h = allowed.headers();
    assert_eq!(
        h["access-control-allow-origin"],
        "https://dashboard.example"
    );
    assert_eq!(h["access-control-max-age"], "86400");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let user = app.register_patient().await;
    let simple = app
        .client
        .get(app.url("/v1/me"))
        .bearer_auth(&user.access)
        .header("origin", "https://dashboard.example")
        .send()
        .await
        .unwrap();
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in ["etag", "location", "retry-after", "link"] {
        assert!(exposed.contains(name), "{exposed}");
    }
}

#[tokio::test]
async fn a_write_stuck_behind_a_lock_held_elsewhere_answers_503_and_stores_nothing() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = spawn_app().await;
    let user = app.register_patient().await;
    // Another process holds the lock the write needs: the whole SQLite file,
    // or the patient's row on PostgreSQL.
    let mut holder: Box<dyn SimpleConnection> = match &app.database {
        painline::config::DatabaseUrl::Sqlite(path) => {
            let mut conn =
                diesel::sqlite::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
            // The app's mail sender may be writing this moment: wait for it.
            conn.batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE")
                .unwrap();
            Box::new(conn)
        }
        painline::config::DatabaseUrl::Postgres(url) => {
            let mut conn = diesel::pg::PgConnection::establish(url).unwrap();
            conn.batch_execute(&format!(
                "BEGIN; UPDATE users SET display_name = display_name WHERE id = '{}'",
                user.id
            ))
            .unwrap();
            Box::new(conn)
        }
    };
    let path = format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4());
    let body = serde_json::json!({"date": "2026-11-20", "pain_level": 4});
    let blocked = app
        .call(
            reqwest::Method::PUT,
            &path,
            Some(&user.access),
            Some(body.clone()),
        )
        .await;
    blocked.assert_problem(503, "unavailable");
    assert!(blocked.header("retry-after").is_some());
    assert!(
        !blocked.text.contains("lock"),
        "internal detail leaked: {}",
        blocked.text
    );

    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(app.count("records", "1 = 1").await, 0);
    let retried = app
        .call(reqwest::Method::PUT, &path, Some(&user.access), Some(body))
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text);
}
