//! The test harness: every test gets the real application on port 0 with a
//! fresh database of its own (a temporary SQLite file, or with
//! `PAINLINE_TEST_POSTGRES_URL` set a new PostgreSQL database, dropped
//! afterwards).

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::{Connection, RunQueryDsl};
use painline::clock::Clock;
use painline::config::{
    DatabaseUrl, JwtSecret, MailSettings, MailTransportSetting, Settings, TherapistSignup,
};
use painline::db::{Db, DbConnection};
use painline::startup::Application;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The signing key of every test app, so tests can forge tokens.
pub const TEST_SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123";
pub const PASSWORD: &str = "correct horse battery";

pub enum DbGuard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another instance on a database that the first instance owns.
    Shared,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let Self::Postgres { admin_url, name } = self {
            let _ = std::fs::remove_dir_all(outbox_of_postgres(name));
            if let Ok(mut conn) = diesel::pg::PgConnection::establish(admin_url) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn);
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Clock,
    pub database: DatabaseUrl,
    db: Db,
    handle: actix_web::dev::ServerHandle,
    _guard: DbGuard,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command now; the returned future only waits for it.
        drop(self.handle.stop(false));
    }
}

/// A signed-up user with live tokens.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status, body: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "not problem+json: {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
    }

    /// The `field` of each entry of `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The calendar day every test app lives in: taken once per test process,
/// and each app's clock starts at noon UTC of it, so no test can straddle
/// midnight between what it computes and what the server computes.
pub fn test_today() -> chrono::NaiveDate {
    static TODAY: std::sync::OnceLock<chrono::NaiveDate> = std::sync::OnceLock::new();
    *TODAY.get_or_init(|| chrono::Utc::now().date_naive())
}

/// Where a test app on a PostgreSQL database writes its mail files.
fn outbox_of_postgres(database_name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("painline-outbox-{database_name}"))
}

/// Mail as the tests send it: into files beside the database (SQLite) or a
/// folder removed with the database (PostgreSQL), unless a test points it
/// at its SMTP server. The sender is woken by the requests that queue mail;
/// it looks on its own only once a minute (tests that move the clock to a
/// retry set `poll` shorter).
pub fn test_mail_settings(database: &DatabaseUrl) -> MailSettings {
    let dir = match database {
        DatabaseUrl::Sqlite(path) => path.with_file_name("outbox"),
        DatabaseUrl::Postgres(url) => {
            let name = url.rsplit('/').next().unwrap_or_default();
            outbox_of_postgres(name.split('?').next().unwrap_or_default())
        }
    };
    MailSettings {
        transport: MailTransportSetting::Files(dir),
        from: "Painline <no-reply@painline.test>".into(),
        public_url: "https://painline.test".into(),
        poll: Some(std::time::Duration::from_secs(60)),
        // Tests run the scheduler themselves (`schedules.rs`), or turn it on.
        schedule_poll: None,
    }
}

pub fn base_settings(database: DatabaseUrl) -> Settings {
    Settings {
        mail: test_mail_settings(&database),
        bind: "127.0.0.1:0".into(),
        database,
        jwt_secret: JwtSecret::new(TEST_SECRET.to_vec()).expect("test secret"),
        access_ttl: 900,
        refresh_ttl: 2_592_000,
        refresh_grace: 10,
        // Tests sign many accounts up from one address; the limit has a
        // test of its own with the default (`mail_floods.rs`).
        signups_per_hour: 1_000_000,
        max_exports: 8,
        metrics_bind: None,
        request_timeout: std::time::Duration::from_secs(10),
        cors_origins: vec!["https://dashboard.example".into()],
        log: "warn".into(),
        trusted_proxies: vec![],
        db_pool_size: 5,
        workers: 2,
        dashboard: true,
        // Tests register therapists through the API; the closed default
        // has tests of its own (`clinic.rs`).
        therapist_signup: TherapistSignup::Open,
    }
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// Whether this run targets PostgreSQL.
pub fn postgres_url() -> Option<String> {
    std::env::var("PAINLINE_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A new database of its own: a temporary SQLite file, or a fresh
/// PostgreSQL database (dropped with the guard).
pub fn fresh_database() -> (DatabaseUrl, DbGuard) {
    match postgres_url() {
        Some(admin_url) => {
            let name = format!(
                "painline_test_{}_{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            );
            let mut conn =
                diesel::pg::PgConnection::establish(&admin_url).expect("connect to PostgreSQL");
            diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .expect("create test database");
            let url = with_database(&admin_url, &name);
            (
                DatabaseUrl::Postgres(url),
                DbGuard::Postgres { admin_url, name },
            )
        }
        None => {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("painline.db");
            (DatabaseUrl::Sqlite(path), DbGuard::Sqlite(dir))
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app after letting the test adjust its settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(|_| {}, adjust).await
}

/// Spawns the app on a database that `prepare` has written to first (for
/// example, as an earlier release left it).
pub async fn spawn_app_after(prepare: impl FnOnce(&DatabaseUrl)) -> TestApp {
    spawn_app_on(prepare, |_| {}).await
}

async fn spawn_app_on(
    prepare: impl FnOnce(&DatabaseUrl),
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    NEXT.fetch_add(1, Ordering::Relaxed);
    let (database, guard) = fresh_database();
    prepare(&database);
    let mut settings = base_settings(database.clone());
    adjust(&mut settings);
    let clock = Clock::system();
    let noon = test_today().and_hms_opt(12, 0, 0).expect("noon").and_utc();
    clock.advance(noon - chrono::Utc::now());
    let app = Application::build(settings, clock.clone()).expect("build app");
    let port = app.port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let db = Db::connect(&database, 2).expect("test pool");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        clock,
        database,
        db,
        handle,
        _guard: guard,
    }
}

impl TestApp {
    /// A second instance of the application on the same database and clock,
    /// as a load balancer would have beside the first.
    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(|_| {}).await
    }

    /// Another instance, with its settings adjusted.
    pub async fn another_instance_with(&self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = base_settings(self.database.clone());
        adjust(&mut settings);
        let app =
            Application::build(settings, self.clock.clone()).expect("build a second instance");
        let port = app.port();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: self.client.clone(),
            clock: self.clock.clone(),
            database: self.database.clone(),
            db: Db::connect(&self.database, 2).expect("test pool"),
            handle,
            _guard: DbGuard::Shared,
        }
    }

    /// Stops serving at once (in-flight requests are dropped), like an
    /// instance that goes away; its database stays.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn register_as(&self, role: &str) -> TestUser {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let email = format!("{role}{n}-{}@example.org", uuid::Uuid::new_v4().simple());
        let reply = self
            .post(
                "/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD, "display_name": format!("{role} {n}"), "role": role}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        TestUser {
            id: reply.body["user"]["id"].as_str().expect("id").to_owned(),
            email,
            access: reply.body["tokens"]["access_token"]
                .as_str()
                .expect("access")
                .to_owned(),
            refresh: reply.body["tokens"]["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
        }
    }

    pub async fn register_patient(&self) -> TestUser {
        self.register_as("patient").await
    }

    pub async fn register_therapist(&self) -> TestUser {
        self.register_as("therapist").await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// Runs a query against the test's database, to check what is stored.
    pub async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<T> + Send + 'static,
    ) -> T {
        self.db
            .run(move |conn| Ok::<_, painline::db::DbError>(f(conn)?))
            .await
            .expect("database query")
    }

    /// The test's own handle on the app's database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// `/metrics`, as text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Statements the app's requests have sent so far
    /// (`painline_db_queries_total`), without the checks of pooled
    /// connections (`painline_db_checks_total`), which depend on how long
    /// a connection sat idle, not on what was asked.
    pub async fn queries(&self) -> u64 {
        let text = self.metrics().await;
        let counter = |name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
                .expect("the statement counters in /metrics")
        };
        counter("painline_db_queries_total") - counter("painline_db_checks_total")
    }

    /// Counts rows of `table` matching the SQL condition `filter`.
    pub async fn count(&self, table: &str, filter: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {filter}");
        self.with_db(move |conn| diesel::sql_query(sql).get_result::<Count>(conn))
            .await
            .n
    }
}

pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// Links `therapist` to `patient` the way they would: an invitation code,
/// redeemed by the patient.
/// A new patient whose profile (`/v1/me`) is then patched with `profile`.
pub async fn patient_with(app: &TestApp, profile: Value) -> TestUser {
    let patient = app.register_patient().await;
    let reply = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&patient.access),
            Some(profile),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    patient
}

pub async fn link(app: &TestApp, therapist: &TestUser, patient: &TestUser) {
    let invited = app
        .post("/v1/invitations", Some(&therapist.access), json!({}))
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    let joined = app
        .post(
            "/v1/me/care-team",
            Some(&patient.access),
            json!({"code": invited.body["code"]}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text);
}
