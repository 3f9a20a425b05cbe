//! Streamed exports cannot be used to hold the server's memory, and a
//! therapist's export ends with the link. Replays of an outside review: 20
//! export sockets that read nothing, on a patient whose notes are control
//! characters (6 bytes each once escaped), took the server from 157 MB to
//! 799 MB; a therapist's export started before the patient ended the link
//! kept streaming rows written after the end.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{link, spawn_app_with, test_today, TestUser};

/// Notes that escape to 12,000 bytes of JSON: 2,000 control characters.
fn heavy_notes() -> String {
    "\u{1}".repeat(2_000)
}

/// `n` pain entries with heavy notes for `patient`, through `base`.
async fn seed(client: &reqwest::Client, base: &str, patient: &TestUser, n: usize) {
    let today = test_today();
    for batch in (0..n).collect::<Vec<_>>().chunks(25) {
        let posts = batch.iter().map(|i| {
            let date = today - chrono::Days::new(*i as u64 % 1_000);
            client
                .post(format!("{base}/v1/me/pain-entries"))
                .bearer_auth(&patient.access)
                .json(&json!({"date": date.to_string(), "pain_level": 4, "notes": heavy_notes()}))
                .send()
        });
        for sent in join_all(posts).await {
            assert_eq!(sent.unwrap().status(), StatusCode::CREATED);
        }
    }
}

fn export_url(base: &str, patient: &TestUser, own: bool) -> String {
    if own {
        format!("{base}/v1/me/export?format=json")
    } else {
        format!("{base}/v1/patients/{}/export?format=json", patient.id)
    }
}

/// A therapist's export checks the link before every page: once the
/// patient ends it, the download stops (cut off, not valid JSON), and a
/// row the patient writes after the end is never in it.
#[tokio::test]
async fn a_therapists_export_stops_when_the_patient_ends_the_link() {
    let app = spawn_app_with(|_| {}).await;
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;
    link(&app, &therapist, &patient).await;
    seed(&app.client, &app.address, &patient, 1_000).await;

    let mut download = app
        .client
        .get(export_url(&app.address, &patient, false))
        .bearer_auth(&therapist.access)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let mut body = download.chunk().await.unwrap().unwrap().to_vec();

    let ended = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/me/care-team/{}", therapist.id),
            Some(&patient.access),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
    // The oldest entry of all: the export's last page would hold it.
    let late = app
        .post(
            "/v1/me/pain-entries",
            Some(&patient.access),
            json!({"date": "1990-01-01", "pain_level": 9, "notes": "written after the end"}),
        )
        .await;
    assert_eq!(late.status, StatusCode::CREATED, "{}", late.text);

    let mut cut_off = false;
    loop {
        match download.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(_) => {
                cut_off = true;
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains("written after the end"));
    assert!(cut_off || serde_json::from_slice::<serde_json::Value>(&body).is_err());
    // 1,000 entries of 12 kB would be 12 MB: the stream stopped early.
    assert!(body.len() < 6_000_000, "{} bytes", body.len());
}

/// Two streamed exports per account (the third is 429 with `Retry-After`)
/// and `PAINLINE_MAX_EXPORTS` per instance (503 with `Retry-After`); a
/// download that is closed gives its place back.
#[tokio::test]
async fn exports_are_limited_per_account_and_per_instance() {
    let app = spawn_app_with(|s| s.max_exports = 3).await;
    let patient = app.register_patient().await;
    let therapists = [
        app.register_therapist().await,
        app.register_therapist().await,
    ];
    for therapist in &therapists {
        link(&app, therapist, &patient).await;
    }
    // 12 MB each: more than the loopback socket buffers hold, so an unread
    // download cannot finish (and give its place back) on its own.
    seed(&app.client, &app.address, &patient, 1_000).await;
    let open = |user: &TestUser, own: bool| {
        app.client
            .get(export_url(&app.address, &patient, own))
            .bearer_auth(&user.access)
            .send()
    };
    let first = open(&patient, true).await.unwrap();
    let second = open(&patient, true).await.unwrap();
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let third = crate::helpers::read(open(&patient, true).await.unwrap()).await;
    third.assert_problem(429, "too_many_exports");
    let retry: u64 = third.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));

    let theirs = open(&therapists[0], false).await.unwrap();
    assert_eq!(theirs.status(), StatusCode::OK);
    let busy = crate::helpers::read(open(&therapists[1], false).await.unwrap()).await;
    busy.assert_problem(503, "unavailable");
    assert!(busy.header("retry-after").is_some());

    // A closed download gives its place back (once the server sees it gone).
    drop(first);
    let mut reopened = None;
    for _ in 0..5_000 {
        let reply = open(&therapists[1], false).await.unwrap();
        if reply.status() == StatusCode::OK {
            reopened = Some(reply);
            break;
        }
        assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert!(
        reopened.is_some(),
        "the closed export's place never came back"
    );
    drop((second, theirs));
}

/// Resident memory of process `pid`, in bytes (`VmRSS` of `/proc`).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// The review's replay against the release-like binary in a process of its
/// own: 20 export downloads that read nothing (ten therapists, two each),
/// on 1,000 entries whose notes escape to 12 kB each. The server's resident
/// memory grows by less than 64 MiB while they hang, and after they close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_stalled_exports_hold_little_memory() {
    let (database, _guard) = crate::helpers::fresh_database();
    let folder = tempfile::tempdir().unwrap();
    let port = crate::crash::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let signup = [("PAINLINE_THERAPIST_SIGNUP", "open".to_owned())];
    let mut server = crate::crash::start_with(&database, folder.path(), port, &signup);
    let client = reqwest::Client::new();
    let register = |role: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let email = format!("{role}-{}@example.org", uuid::Uuid::new_v4().simple());
            let reply = client
                .post(format!("{base}/v1/auth/register"))
                .json(
                    &json!({"email": email, "password": crate::helpers::PASSWORD,
                              "display_name": role, "role": role}),
                )
                .send()
                .await
                .unwrap();
            let reply = crate::helpers::read(reply).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
            let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
            TestUser {
                id: text(&reply.body["user"]["id"]),
                email,
                access: text(&reply.body["tokens"]["access_token"]),
                refresh: text(&reply.body["tokens"]["refresh_token"]),
            }
        }
    };
    let patient = register("patient").await;
    seed(&client, &base, &patient, 1_000).await;
    let mut therapists = Vec::new();
    for _ in 0..10 {
        let therapist = register("therapist").await;
        let code = client
            .post(format!("{base}/v1/invitations"))
            .bearer_auth(&therapist.access)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["code"]
            .clone();
        let joined = client
            .post(format!("{base}/v1/me/care-team"))
            .bearer_auth(&patient.access)
            .json(&json!({"code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(joined.status(), StatusCode::CREATED);
        therapists.push(therapist);
    }
    // One whole export first, so the baseline includes what any export needs.
    let whole = client
        .get(export_url(&base, &patient, true))
        .bearer_auth(&patient.access)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(whole.len() > 12_000_000, "{} bytes", whole.len());
    let pid = server.id();
    let before = rss(pid);

    // Each its own connection, never read.
    let mut stalled = Vec::new();
    for therapist in &therapists {
        for _ in 0..2 {
            let own = reqwest::Client::new();
            let reply = own
                .get(export_url(&base, &patient, false))
                .bearer_auth(&therapist.access)
                .send()
                .await
                .unwrap();
            stalled.push((own, reply));
        }
    }
    let running = stalled
        .iter()
        .filter(|(_, r)| r.status() == StatusCode::OK)
        .count();
    let refused = stalled
        .iter()
        .filter(|(_, r)| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert_eq!((running, refused), (8, 12));
    // While they hang: the most the server holds over a few hundred looks.
    let mut most = 0;
    for _ in 0..300 {
        let health = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        most = most.max(rss(pid));
    }
    let grown = most.saturating_sub(before);
    eprintln!(
        "20 stalled exports: RSS {} MiB before, at most {} MiB while they hang (+{} MiB)",
        before >> 20,
        most >> 20,
        grown >> 20
    );
    assert!(grown < 64 << 20, "grew {} MiB", grown >> 20);
    drop(stalled);
    let after = rss(pid);
    assert!(
        after.saturating_sub(before) < 64 << 20,
        "after: {} MiB",
        after >> 20
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
