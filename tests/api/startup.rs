//! The binary itself: start-up on a fresh machine, clear one-line failures
//! for bad settings, and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_painline");

pub fn painline(dir: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the binary expecting a start-up failure; returns its stderr.
fn start_failure(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = painline(dir.path(), env).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{env:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{env:?}: not one line: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn bad_settings_stop_start_up_with_one_line_naming_the_setting() {
    let secret = "s".repeat(32);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("DATABASE_URL", "mysql://localhost/x")],
            "DATABASE_URL: unknown scheme 'mysql'",
        ),
        (
            vec![("PAINLINE_JWT_SECRET", "too-short")],
            "PAINLINE_JWT_SECRET: must be at least 32 bytes",
        ),
        (
            vec![("DATABASE_URL", "postgres://postgres@127.0.0.1:1/x")],
            "PAINLINE_JWT_SECRET: is required with PostgreSQL",
        ),
        (
            vec![
                ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/x"),
                ("PAINLINE_JWT_SECRET", &secret),
            ],
            "DATABASE_URL: cannot open the database",
        ),
        (vec![("PAINLINE_ACCESS_TTL", "soon")], "access-ttl"),
        (
            vec![("PAINLINE_TRUSTED_PROXIES", "proxy.local")],
            "PAINLINE_TRUSTED_PROXIES",
        ),
    ];
    for (env, expected) in cases {
        let stderr = start_failure(&env);
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
    }
}

#[test]
fn a_busy_port_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let stderr = start_failure(&[("PAINLINE_BIND", &addr)]);
    assert!(
        stderr.starts_with("painline: PAINLINE_BIND: cannot listen on"),
        "{stderr}"
    );
}

/// Starts the server and reads its log until it says which port it took.
/// The caller waits for the child.
#[allow(clippy::zombie_processes)]
pub fn start(dir: &std::path::Path) -> (Child, u16, BufReader<std::process::ChildStderr>) {
    start_with(dir, &[])
}

/// [`start`] with more settings.
pub fn start_with(
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (Child, u16, BufReader<std::process::ChildStderr>) {
    let (child, port, log, _) = start_logged(dir, env);
    (child, port, log)
}

/// [`start_with`], also answering the log lines written before listening.
#[allow(clippy::zombie_processes)]
pub fn start_logged(
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (Child, u16, BufReader<std::process::ChildStderr>, String) {
    let env: Vec<(&str, &str)> = [("PAINLINE_BIND", "127.0.0.1:0")]
        .into_iter()
        .chain(env.iter().copied())
        .collect();
    let mut child = painline(dir, &env).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut before = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "exited before listening: {before}"
        );
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            before.push_str(&line);
            continue;
        };
        if entry["fields"]["message"] == "painline listening" {
            let port = entry["fields"]["port"].as_u64().unwrap();
            return (child, u16::try_from(port).unwrap(), stderr, before);
        }
        before.push_str(&line);
    }
}

/// One request on a fresh connection; answers the status line and body.
pub fn exchange(port: u16, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

pub fn json_request(method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    // No proxy is trusted: a forwarded address must not reach the log.
    let auth = format!("{auth}X-Forwarded-For: 203.0.113.66\r\n");
    format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Registers a patient and logs a pain entry with a note; returns the access token.
fn logged_day(port: u16) -> String {
    let register = r#"{"email":"log@example.org","password":"correct horse battery","display_name":"L","role":"patient"}"#;
    let (status, body) = exchange(
        port,
        &json_request("POST", "/v1/auth/register", None, register),
    );
    assert!(status.starts_with("HTTP/1.1 201"), "{status}");
    let session: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = session["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4());
    let entry = r#"{"date":"2026-11-20","pain_level":4,"notes":"secret-note-7f3a"}"#;
    let (status, _) = exchange(port, &json_request("PUT", &path, Some(&token), entry));
    assert!(status.starts_with("HTTP/1.1 201"), "{status}");
    let bad = r#"{"date":"2026-11-20","pain_level":"secret-value-91c2"}"#;
    let (status, body) = exchange(port, &json_request("PUT", &path, Some(&token), bad));
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    // The client is told what was wrong (the field), in its own answer.
    assert!(body.contains("pain_level"), "{body}");
    token
}

fn http(stream: &mut TcpStream, request: &str) {
    stream.write_all(request.as_bytes()).unwrap();
}

#[test]
fn a_fresh_machine_starts_on_sqlite_and_sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, mut log) = start(dir.path());

    // The data folder, database and secret were created.
    assert!(dir.path().join("data/painline.db").exists());
    let secret = dir.path().join("data/jwt-secret");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&secret).unwrap().len() >= 32);

    // A patient's day, with a note, and a malformed write whose error quotes
    // what was sent: none of it may reach the log.
    let token = logged_day(port);
    // A path that names a condition, with a token in its query, and a
    // made-up 2,000-byte method: the log gets the route template and
    // `OTHER`, never the path, the query or the method.
    let (status, _) = exchange(
        port,
        &format!(
            "GET /v1/me/conditions/pregnancy?access_token={token} HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let method = "QZ".repeat(1_000);
    let (status, _) = exchange(
        port,
        &format!("{method} /v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert!(status.starts_with("HTTP/1.1 405"), "{status}");

    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    http(&mut stream, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // A registration is in flight when SIGTERM arrives. `Expect:
    // 100-continue` makes that certain: the server answers "100 Continue"
    // only once it has taken the request up and is reading its body.
    let body = r#"{"email":"drain@example.org","password":"correct horse battery","display_name":"D","role":"patient"}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    http(
        &mut stream,
        &format!(
            "POST /v1/auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ),
    );
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    http(&mut stream, body);
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    let mut rest = String::new();
    log.read_to_string(&mut rest).unwrap();
    // Neither the password, a token nor a note reached the log, though
    // every request left a line with its route, status and request id.
    for secret in [
        "correct horse battery",
        "secret-note-7f3a",
        "secret-value-91c2",
        token.as_str(),
        "pregnancy",
        "access_token",
        "QZQZ",
    ] {
        assert!(!rest.contains(secret), "{secret} found in the log");
    }
    assert!(
        rest.contains("\"http.route\":\"/v1/me/pain-entries/{id}\""),
        "{rest}"
    );
    assert!(rest.contains("request_id"));
    assert!(
        rest.contains("\"http.route\":\"/v1/me/conditions/{condition}\""),
        "{rest}"
    );
    assert!(rest.contains("\"http.method\":\"OTHER\""), "{rest}");
    assert!(
        !rest.contains("203.0.113.66"),
        "a spoofed client address was logged"
    );
    assert!(rest.contains("\"http.client_ip\":\"127.0.0.1\""), "{rest}");
}
