//! Running Painline in a clinic: therapist accounts made from the command
//! line while sign-up is closed, backups taken under load that restore,
//! settings that follow each other, and logs that stay quiet.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::startup::{exchange, json_request, painline, start_logged, start_with};
use painline::config::{DatabaseUrl, TherapistSignup};

const BIN: &str = env!("CARGO_BIN_EXE_painline");

/// The token of the first link to `path` in the `.eml` files of `outbox`,
/// with the link's start and the mail's `From:` line.
fn mailed_link(outbox: &std::path::Path, path: &str) -> (String, String, String) {
    for entry in std::fs::read_dir(outbox).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let from = text
            .lines()
            .find(|l| l.starts_with("From: "))
            .unwrap_or_default()
            .to_owned();
        if let Some(line) = text.lines().find(|l| l.contains(path)) {
            let (base, token) = line.trim().split_once("#token=").unwrap();
            return (base.to_owned(), token.to_owned(), from);
        }
    }
    panic!("no mail with {path} in {}", outbox.display());
}

#[test]
fn the_clinic_makes_therapist_accounts_and_the_api_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("data/outbox");
    // The public URL follows the listen address when it is not set.
    let bind = [("PAINLINE_BIND", "127.0.0.1:18555")];
    let add = |email: &str, name: &str| {
        painline(dir.path(), &bind)
            .args(["therapist", "add", "--email", email, "--name", name])
            .output()
            .unwrap()
    };
    let added = add("Ana.Ruiz@Clinic.example", "Ana Ruiz");
    let stdout = String::from_utf8_lossy(&added.stdout);
    assert_eq!(added.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("therapist account created: ana.ruiz@clinic.example (Ana Ruiz)"),
        "{stdout}"
    );
    assert!(stdout.contains("data/outbox"), "{stdout}");
    let (base, token, from) = mailed_link(&outbox, "/reset-password#token=");
    assert_eq!(base, "http://127.0.0.1:18555/reset-password");
    assert_eq!(from, "From: Painline <no-reply@127.0.0.1>");

    // Refused with the option named; the account is left as it was.
    let again = add("ana.ruiz@clinic.example", "Someone Else");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr.contains("exists already"), "{stderr}");
    let bad = add("not-an-address", "");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr.contains("--email") && stderr.contains("--name"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 1);

    // The service, with therapist sign-up closed (the default).
    let (mut child, port, _log) = start_with(dir.path(), &[]);
    let register = |role: &str, email: &str| {
        let body = json!({"email": email, "password": "correct horse battery",
                          "display_name": "X", "role": role});
        exchange(
            port,
            &json_request("POST", "/v1/auth/register", None, &body.to_string()),
        )
    };
    let (status, body) = register("therapist", "walk-in@example.org");
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "therapist_signup_closed");
    let login = |email: &str, password: &str| {
        let body = json!({"email": email, "password": password});
        exchange(
            port,
            &json_request("POST", "/v1/auth/login", None, &body.to_string()),
        )
    };
    let (status, _) = login("walk-in@example.org", "correct horse battery");
    assert!(
        status.starts_with("HTTP/1.1 401"),
        "no account was made: {status}"
    );
    let (status, _) = register("patient", "patient@example.org");
    assert!(status.starts_with("HTTP/1.1 201"), "{status}");

    // The therapist chooses a password with the mailed link and signs in.
    let confirm = json!({"token": token, "new_password": "a password of my own"});
    let (status, body) = exchange(
        port,
        &json_request(
            "POST",
            "/v1/auth/password-reset/confirm",
            None,
            &confirm.to_string(),
        ),
    );
    assert!(status.starts_with("HTTP/1.1 200"), "{status} {body}");
    let (status, body) = login("ana.ruiz@clinic.example", "a password of my own");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let session: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(session["user"]["role"], "therapist");
    assert_eq!(session["user"]["display_name"], "Ana Ruiz");
    assert_eq!(session["user"]["email_verified"], true);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[tokio::test]
async fn registering_a_therapist_through_the_api_follows_the_setting() {
    let closed = spawn_app_with(|s| s.therapist_signup = TherapistSignup::Closed).await;
    let users = closed.count("users", "1 = 1").await;
    let body = json!({"email": "t@example.org", "password": "correct horse battery",
                      "display_name": "T", "role": "therapist"});
    let refused = closed.post("/v1/auth/register", None, body.clone()).await;
    refused.assert_problem(403, "therapist_signup_closed");
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("painline therapist add"));
    assert_eq!(closed.count("users", "1 = 1").await, users);
    closed.register_patient().await;
    assert_eq!(closed.count("users", "1 = 1").await, users + 1);

    let open = spawn_app().await;
    let made = open.post("/v1/auth/register", None, body).await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(made.body["user"]["role"], "therapist");
}

/// Writes pain entries one after another until told to stop; returns the
/// ids the service acknowledged (201), in order.
async fn write_until(
    app: &TestApp,
    token: &str,
    stop: &tokio::sync::watch::Receiver<bool>,
    acknowledged: &tokio::sync::Mutex<Vec<String>>,
) {
    let mut n = 0u32;
    while !*stop.borrow() {
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({"date": test_today().to_string(), "pain_level": n % 11,
                          "notes": format!("entry {n}")});
        let reply = app
            .call(
                Method::PUT,
                &format!("/v1/me/pain-entries/{id}"),
                Some(token),
                Some(body),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        acknowledged.lock().await.push(id);
        n += 1;
    }
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_with_every_acknowledged_write() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("painline-backup.db");
    let DatabaseUrl::Sqlite(live) = app.database.clone() else {
        // PostgreSQL has its own tool; the command says so and writes nothing.
        let output = painline(
            dir.path(),
            &[("DATABASE_URL", "postgres://u@127.0.0.1:1/x")],
        )
        .args(["backup", copy.to_str().unwrap()])
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr.contains("pg_dump"), "{stderr}");
        assert!(!copy.exists());
        return;
    };
    let patient = app.register_patient().await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let acknowledged = tokio::sync::Mutex::new(Vec::new());
    let writers = async {
        futures_util::future::join_all(
            (0..4).map(|_| write_until(&app, &patient.access, &stop_rx, &acknowledged)),
        )
        .await;
    };
    let backup = async {
        // Some writes first, so the copy is taken in the middle of the load.
        while acknowledged.lock().await.len() < 40 {
            tokio::task::yield_now().await;
        }
        let before: Vec<String> = acknowledged.lock().await.clone();
        let (bin, target, url) = (BIN, copy.clone(), format!("sqlite://{}", live.display()));
        let output = tokio::task::spawn_blocking(move || {
            Command::new(bin)
                .env_clear()
                .env("DATABASE_URL", url)
                .args(["backup", target.to_str().unwrap()])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        stop_tx.send(true).unwrap();
        (before, output)
    };
    let ((before, output), ()) = tokio::join!(backup, writers);
    let all: std::collections::HashSet<String> =
        acknowledged.lock().await.iter().cloned().collect();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("integrity check ok"), "{stdout}");
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let copy_path = copy.to_str().unwrap().to_owned();
    let check =
        tokio::task::spawn_blocking(move || painline::db::backup::integrity_check(&copy_path))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(check, ["ok"]);

    // A second backup to the same file is refused and leaves it alone.
    let bytes = std::fs::read(&copy).unwrap();
    let again = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}", live.display()))
        .args(["backup", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert_eq!(std::fs::read(&copy).unwrap(), bytes);

    // A backup where no database is: refused, and nothing is created.
    let elsewhere = tempfile::tempdir().unwrap();
    let missing = Command::new(BIN)
        .current_dir(elsewhere.path())
        .env_clear()
        .args(["backup", "nightly.db"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr)
        .contains("there is no database at data/painline.db"));
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);

    // Restored with `painline restore` on a machine with no database yet,
    // and a service started on it.
    let restored = dir.path().join("restored/painline.db");
    let output = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}", restored.display()))
        .args(["restore", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        std::fs::metadata(&restored).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let second = spawn_app_with(|s| s.database = DatabaseUrl::Sqlite(restored.clone())).await;
    let signed_in = second
        .post(
            "/v1/auth/login",
            None,
            json!({"email": patient.email, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let token = signed_in.body["tokens"]["access_token"].as_str().unwrap();
    let listed = second.get("/v1/me/pain-entries?limit=1000", token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let stored: std::collections::HashSet<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for id in &before {
        assert!(
            stored.contains(id.as_str()),
            "{id} was acknowledged before the backup began"
        );
    }
    assert!(
        stored.iter().all(|id| all.contains(*id)),
        "nothing but what the service acknowledged"
    );
}

/// Stops a started server with SIGTERM and answers the rest of its log.
/// A request first: "listening" is logged before the signal handlers are
/// installed, and a server that answers has them.
fn stop(port: u16, mut child: std::process::Child, mut log: impl Read) -> String {
    let (status, _) = exchange(
        port,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.contains("200"), "{status}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let mut rest = String::new();
    log.read_to_string(&mut rest).unwrap();
    rest
}

#[test]
fn a_loopback_public_url_is_warned_about_when_mail_goes_out_by_smtp() {
    let smtp = ("PAINLINE_SMTP_URL", "smtp://127.0.0.1:1");
    let public = ("PAINLINE_PUBLIC_URL", "https://painline.clinic.example");
    for (env, warned) in [
        (vec![smtp], true),
        (
            vec![smtp, ("PAINLINE_PUBLIC_URL", "http://localhost:8080")],
            true,
        ),
        (vec![smtp, public], false),
        // Mail written to files reaches no one: nothing to warn about.
        (vec![], false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (child, port, log, before) = start_logged(dir.path(), &env);
        stop(port, child, log);
        let warning = before
            .lines()
            .find(|l| l.contains("\"level\":\"WARN\"") && l.contains("PAINLINE_PUBLIC_URL"));
        assert_eq!(warning.is_some(), warned, "{env:?}: {before}");
    }
}

#[test]
fn requests_log_quietly_at_their_level_and_name_no_build_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (child, port, log, before) = start_logged(dir.path(), &[]);
    let get = |path: &str| {
        exchange(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .0
    };
    for (path, status) in [
        ("/dashboard/", "200"),
        ("/dashboard/app.js", "200"),
        ("/dashboard/style.css", "200"),
        ("/dashboard/missing.js", "404"),
        ("/dashboard/a/b", "404"),
        ("/v1/me", "401"),
    ] {
        assert!(get(path).contains(status), "{path}");
    }
    let (status, _) = exchange(port, &json_request("POST", "/v1/auth/login", None, "{}"));
    assert!(status.contains("400"), "{status}");
    // A server error: the database file disappears under the service.
    std::fs::remove_file(dir.path().join("data/painline.db")).unwrap();
    assert!(get("/readyz").contains("503"));
    let log = before + &stop(port, child, log);

    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    for line in &lines {
        let status = line["span"]["http.status_code"].as_u64();
        let level = line["level"].as_str().unwrap();
        match status {
            Some(500..) if line["fields"]["message"] == "close" => assert_eq!(level, "INFO"),
            Some(_) => assert_eq!(level, "INFO", "a request below 500 logs at INFO: {line}"),
            None if level == "ERROR" => {}
            None => assert_ne!(level, "WARN", "{line}"),
        }
    }
    // The 503 is one ERROR line with its cause.
    let errors: Vec<&serde_json::Value> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("painline.db is gone"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[0]["span"]["http.route"], "/readyz");
    // Six dashboard and API requests, each its own line, routes as templates.
    assert!(log.contains("\"http.route\":\"/dashboard/{name}\""));
    for build_path in [".cargo", "registry/src", "log.file", ".rs\""] {
        assert!(!log.contains(build_path), "{build_path} in the log: {log}");
    }
}

/// Pain entries under fresh ids; answers their ids.
async fn log_entries(app: &TestApp, token: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({"date": test_today().to_string(), "pain_level": n % 11});
        let path = format!("/v1/me/pain-entries/{id}");
        let reply = app.call(Method::PUT, &path, Some(token), Some(body)).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        ids.push(id);
    }
    ids
}

/// The whole feed from `cursor` (`None`: the start): the ids, and the cursor to keep.
async fn sync(app: &TestApp, token: &str, cursor: Option<&str>) -> (Vec<String>, String) {
    let mut ids = Vec::new();
    let mut cursor = cursor.map(str::to_owned);
    loop {
        let query = cursor
            .as_deref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let page = app
            .get(&format!("/v1/me/changes?limit=3{query}"), token)
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        for change in page.body["changes"].as_array().unwrap() {
            ids.push(change["id"].as_str().unwrap().to_owned());
        }
        cursor = Some(page.body["next_cursor"].as_str().unwrap().to_owned());
        if page.body["has_more"] == false {
            return (ids, cursor.unwrap());
        }
    }
}

/// A restore puts every patient's change counter back; a phone's cursor
/// from before would then skip the changes numbered up to it once new
/// writes pass it. Cursors carry the database's generation: the restored
/// copy refuses them, and the phone syncs again from the start.
#[tokio::test]
async fn phones_sync_again_from_the_start_after_a_restore() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let kept = log_entries(&app, &patient.access, 3).await;
    let (seen, early) = sync(&app, &patient.access, None).await;
    assert_eq!(seen, kept);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let command = |url: String, args: &[&str]| {
        let output = Command::new(BIN)
            .env_clear()
            .env("DATABASE_URL", url)
            .env(
                "PAINLINE_JWT_SECRET",
                "a-secret-of-at-least-32-bytes-0123456789",
            )
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{text}");
        text
    };
    if let DatabaseUrl::Sqlite(live) = &app.database {
        command(
            format!("sqlite://{}", live.display()),
            &["backup", copy.to_str().unwrap()],
        );
    }
    // Written after the copy was taken: lost by the restore.
    let lost = log_entries(&app, &patient.access, 3).await;
    let (seen, late) = sync(&app, &patient.access, Some(&early)).await;
    assert_eq!(seen, lost);

    let restored_path = dir.path().join("restored/painline.db");
    let restore = || {
        let said = command(
            format!("sqlite://{}", restored_path.display()),
            &["restore", copy.to_str().unwrap()],
        );
        assert!(said.contains("sync again from the start"), "{said}");
    };
    let restored = match app.database.clone() {
        DatabaseUrl::Sqlite(_) => {
            restore();
            let path = restored_path.clone();
            spawn_app_with(|s| s.database = DatabaseUrl::Sqlite(path)).await
        }
        DatabaseUrl::Postgres(url) => {
            // pg_restore keeps the generation it copied: the operator runs
            // after-restore (here on the same database, nothing lost).
            let said = command(url, &["after-restore"]);
            assert!(said.contains("sync again from the start"), "{said}");
            app.another_instance().await
        }
    };
    let login = json!({"email": patient.email, "password": "correct horse battery"});
    let signed_in = restored.post("/v1/auth/login", None, login).await;
    let token = signed_in.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // New writes on the restored copy take its counter past the phone's.
    let new = log_entries(&restored, &token, 4).await;
    for cursor in [&early, &late] {
        let refused = restored
            .get(&format!("/v1/me/changes?cursor={cursor}"), &token)
            .await;
        refused.assert_problem(400, "invalid_query");
        assert_eq!(refused.error_fields(), vec!["cursor"]);
        assert!(
            refused.body["detail"]
                .as_str()
                .unwrap()
                .contains("restored from a backup"),
            "{}",
            refused.text
        );
    }
    let (everything, after_first) = sync(&restored, &token, None).await;
    let expected: Vec<String> = match app.database {
        DatabaseUrl::Sqlite(_) => kept.iter().chain(&new).cloned().collect(),
        DatabaseUrl::Postgres(_) => kept.iter().chain(&lost).chain(&new).cloned().collect(),
    };
    assert_eq!(everything, expected);

    // The same copy restored a second time (a retried restore, last
    // night's copy again): the cursor from after the first is refused too.
    let DatabaseUrl::Sqlite(_) = app.database else {
        return;
    };
    restored.stop().await;
    drop(restored);
    restore();
    let path = restored_path.clone();
    let again = spawn_app_with(|s| s.database = DatabaseUrl::Sqlite(path)).await;
    let login = json!({"email": patient.email, "password": "correct horse battery"});
    let signed_in = again.post("/v1/auth/login", None, login).await;
    let token = signed_in.body["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let newer = log_entries(&again, &token, 6).await;
    let refused = again
        .get(&format!("/v1/me/changes?cursor={after_first}"), &token)
        .await;
    refused.assert_problem(400, "invalid_query");
    assert!(
        refused.text.contains("restored from a backup"),
        "{}",
        refused.text
    );
    let (everything, _) = sync(&again, &token, None).await;
    assert_eq!(
        everything,
        kept.iter().chain(&newer).cloned().collect::<Vec<_>>()
    );
}
