//! Reminders and digests (issue 13): settings, the scheduler on the
//! injected clock, time zones and daylight saving, late sending, one-click
//! unsubscribe, and exactly-once across instances. The scheduler is run
//! here by a second application state on the same database and clock (as
//! another instance would), so each test says exactly when it looks.

use actix_web::web;
use chrono::{DateTime, Utc};
use painline::config::MailTransportSetting;
use painline::service::schedules::run_due;
use painline::startup::build_state;
use painline::state::AppState;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{base_settings, spawn_app, test_today, Reply, TestApp, TestUser, PASSWORD};
use crate::mail::{app_with_smtp, SmtpServer};

/// A scheduler of its own on the app's database and clock.
struct Scheduler(web::Data<AppState>);

impl Scheduler {
    fn of(app: &TestApp, smtp: Option<&SmtpServer>) -> Self {
        let mut settings = base_settings(app.database.clone());
        if let Some(smtp) = smtp {
            settings.mail.transport = MailTransportSetting::Smtp(smtp.url());
        }
        Self(web::Data::new(
            build_state(&settings, app.clock.clone()).unwrap(),
        ))
    }

    /// One wake-up: what each due schedule led to.
    async fn run(&self) -> Vec<&'static str> {
        let mut outcomes = Vec::new();
        run_due(&self.0.db, &self.0.clock, &self.0.mail, |_, outcome| {
            outcomes.push(outcome.as_str())
        })
        .await
        .unwrap();
        outcomes
    }

    /// Sends what is queued.
    async fn send(&self) {
        painline::jobs::mail_sender::send_due(&self.0.db, &self.0.clock, &self.0.sender)
            .await
            .unwrap();
    }
}

/// Moves the (frozen) clock to `at`.
fn go_to(app: &TestApp, at: &str) {
    let at: DateTime<Utc> = at.parse().unwrap();
    app.clock.freeze();
    app.clock.advance(at - app.clock.now());
}

async fn register_in(app: &TestApp, role: &str, timezone: &str) -> TestUser {
    let user = app.register_as(role).await;
    let patched = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&user.access),
            Some(json!({"timezone": timezone})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    user
}

/// Marks the address confirmed, as the verification link would.
async fn verified(app: &TestApp, user: &TestUser) {
    let id = user.id.clone();
    app.with_db(move |conn| {
        use diesel::prelude::*;
        use painline::db::schema::users;
        diesel::update(users::table.filter(users::id.eq(id)))
            .set(users::email_verified_at.eq(Some(chrono::Utc::now().naive_utc())))
            .execute(conn)
    })
    .await;
}

/// A live access token for `user` now (the tests move the clock by days).
async fn fresh(app: &TestApp, user: &TestUser) -> TestUser {
    let signed_in = app.login(&user.email, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    TestUser {
        access: signed_in.body["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
        ..user.clone()
    }
}

async fn set(app: &TestApp, user: &TestUser, path: &str, body: Value) -> Reply {
    app.call(Method::PUT, path, Some(&user.access), Some(body))
        .await
}

async fn reminders_at(app: &TestApp, user: &TestUser, time: &str) -> Reply {
    let reply = set(
        app,
        user,
        "/v1/me/reminders",
        json!({"enabled": true, "local_time": time, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply
}

async fn reminders_queued(app: &TestApp) -> i64 {
    app.count("mail_outbox", "kind = 'reminder'").await
}

#[tokio::test]
async fn settings_are_checked_stored_and_for_the_right_role() {
    let app = spawn_app().await;
    app.clock.freeze();
    let patient = app.register_patient().await;
    let therapist = app.register_therapist().await;

    let default = app.get("/v1/me/reminders", &patient.access).await;
    assert_eq!(
        default.body,
        json!({"enabled": false, "local_time": "20:00",
               "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "next_due_at": null})
    );
    let bad = set(
        &app,
        &patient,
        "/v1/me/reminders",
        json!({"enabled": true, "local_time": "7:30", "days": ["mon", "mon"]}),
    )
    .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), vec!["local_time", "days"]);
    for time in ["24:00", "07:60", "07:30:00", " 07:30"] {
        let reply = set(
            &app,
            &patient,
            "/v1/me/reminders",
            json!({"enabled": true, "local_time": time, "days": ["mon"]}),
        )
        .await;
        assert_eq!(reply.error_fields(), vec!["local_time"], "{time}");
    }
    let none = set(
        &app,
        &patient,
        "/v1/me/reminders",
        json!({"enabled": true, "local_time": "20:00", "days": []}),
    )
    .await;
    none.assert_problem(422, "validation_failed");
    assert_eq!(none.error_fields(), vec!["days"]);
    let unknown = set(
        &app,
        &patient,
        "/v1/me/reminders",
        json!({"enabled": true, "local_time": "20:00", "days": ["funday"]}),
    )
    .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.text
    );
    assert!(
        unknown.error_fields()[0].starts_with("days"),
        "{}",
        unknown.text
    );
    assert_eq!(app.count("mail_schedules", "1 = 1").await, 0);

    // Mondays and Fridays at 20:30 UTC (the account's zone).
    let saved = set(
        &app,
        &patient,
        "/v1/me/reminders",
        json!({"enabled": true, "local_time": "20:30", "days": ["fri", "mon"]}),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let next = (0..7)
        .map(|n| test_today() + chrono::Duration::days(n))
        .find(|d| {
            use chrono::Datelike;
            matches!(d.weekday(), chrono::Weekday::Mon | chrono::Weekday::Fri)
        })
        .unwrap();
    assert_eq!(
        saved.body,
        json!({"enabled": true, "local_time": "20:30", "days": ["mon", "fri"],
               "next_due_at": format!("{next}T20:30:00Z")})
    );
    assert_eq!(
        app.get("/v1/me/reminders", &patient.access).await.body,
        saved.body
    );
    assert_eq!(
        app.count(
            "mail_schedules",
            &format!(
                "user_id = '{}' AND kind = 'reminder' AND days = 'mon,fri'",
                patient.id
            )
        )
        .await,
        1
    );

    // Each role has its own.
    set(&app, &therapist, "/v1/me/reminders", saved.body.clone())
        .await
        .assert_problem(403, "patients_only");
    app.get("/v1/me/digest", &patient.access)
        .await
        .assert_problem(403, "therapists_only");
    let digest = set(
        &app,
        &therapist,
        "/v1/me/digest",
        json!({"enabled": true, "weekday": "mon", "local_time": "08:00"}),
    )
    .await;
    assert_eq!(digest.status, StatusCode::OK, "{}", digest.text);
    assert_eq!(digest.body["weekday"], "mon");
    assert!(digest.body["next_due_at"].is_string());
}

/// Over real SMTP: the reminder comes at 09:00 Tokyo time, once, carries
/// the one-click unsubscribe headers and no health data, and the link
/// turns reminders off without signing in.
#[tokio::test]
async fn a_reminder_comes_once_at_the_local_time_and_one_click_stops_it() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let scheduler = Scheduler::of(&app, Some(&smtp));
    go_to(&app, "2027-01-14T12:00:00Z");
    let patient = register_in(&app, "patient", "Asia/Tokyo").await;
    smtp.next_about("Confirm your e-mail").await;
    verified(&app, &patient).await;
    let noted = app
        .call(
            Method::PUT,
            &format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4()),
            Some(&patient.access),
            Some(json!({"date": "2027-01-14", "pain_level": 8, "notes": "sciatica after lifting"})),
        )
        .await;
    assert_eq!(noted.status, StatusCode::CREATED);

    // It is 21:00 on the 14th in Tokyo: next is 09:00 on the 15th, 00:00 UTC.
    let saved = reminders_at(&app, &patient, "09:00").await;
    assert_eq!(saved.body["next_due_at"], "2027-01-15T00:00:00Z");
    go_to(&app, "2027-01-14T23:59:00Z");
    assert_eq!(scheduler.run().await, Vec::<&str>::new());
    go_to(&app, "2027-01-15T00:00:00Z");
    assert_eq!(scheduler.run().await, vec!["queued"]);
    scheduler.send().await;
    let mail = smtp.next_about("A reminder to log today").await;
    assert_eq!(mail.to, vec![patient.email.clone()]);
    let one_click = mail.header("List-Unsubscribe").unwrap();
    assert!(
        one_click.starts_with("<https://painline.test/v1/unsubscribe?token="),
        "{one_click}"
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let body = mail.decoded();
    assert!(body.contains("Friday, 15 January"), "{body}");
    assert!(
        body.contains("https://painline.test/unsubscribe#token="),
        "{body}"
    );
    // No health data: not the note, not a pain level.
    for private in ["sciatica", "lifting", "pain_level", "8/10", "level 8"] {
        assert!(!body.contains(private), "{private} in {body}");
    }
    // Never two for one local day.
    go_to(&app, "2027-01-15T05:00:00Z");
    assert_eq!(scheduler.run().await, Vec::<&str>::new());
    assert_eq!(reminders_queued(&app).await, 1);

    // One click, as a mail client sends it: no sign-in, a form body.
    let token = one_click
        .trim_start_matches("<https://painline.test/v1/unsubscribe?token=")
        .trim_end_matches('>')
        .to_owned();
    let click = || {
        app.client
            .post(app.url(&format!("/v1/unsubscribe?token={token}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
    };
    let done = crate::helpers::read(click().await.unwrap()).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text);
    let again = crate::helpers::read(click().await.unwrap()).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    // Without any body, as RFC 8058 also allows.
    let bare = app
        .client
        .post(app.url(&format!("/v1/unsubscribe?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::NO_CONTENT);
    let patient = fresh(&app, &patient).await;
    let settings = app.get("/v1/me/reminders", &patient.access).await;
    assert_eq!(
        (&settings.body["enabled"], &settings.body["next_due_at"]),
        (&json!(false), &Value::Null)
    );
    // Turning off is a change: a phone holding ETag "1" learns of it.
    assert_eq!(settings.header("etag"), Some("\"2\""));
    go_to(&app, "2027-01-16T00:00:00Z");
    assert_eq!(scheduler.run().await, Vec::<&str>::new());
    app.post("/v1/unsubscribe?token=not-a-token", None, json!({}))
        .await
        .assert_problem(400, "invalid_token");
    // Turned on again, the mails stay on: the old link no longer works.
    let patient = fresh(&app, &patient).await;
    let on = set(
        &app,
        &patient,
        "/v1/me/reminders",
        json!({"enabled": true, "local_time": "20:00", "days": ["mon", "sat"]}),
    )
    .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    let old_link = crate::helpers::read(click().await.unwrap()).await;
    old_link.assert_problem(400, "invalid_token");
    let settings = app.get("/v1/me/reminders", &patient.access).await;
    assert_eq!(settings.body["enabled"], json!(true), "{}", settings.text);
}

/// No reminder for a day already logged (the patient's local day, here
/// west of UTC, where 21:00 is already tomorrow in UTC) or to an address
/// never confirmed.
#[tokio::test]
async fn no_reminder_for_a_logged_local_day_or_an_unconfirmed_address() {
    let app = spawn_app().await;
    let scheduler = Scheduler::of(&app, None);
    go_to(&app, "2027-01-14T12:00:00Z");
    let logged = register_in(&app, "patient", "America/New_York").await;
    verified(&app, &logged).await;
    let unconfirmed = register_in(&app, "patient", "America/New_York").await;
    let forgetful = register_in(&app, "patient", "America/New_York").await;
    verified(&app, &forgetful).await;
    for user in [&logged, &unconfirmed, &forgetful] {
        // 21:00 in New York on the 14th is 02:00 UTC on the 15th.
        let saved = reminders_at(&app, user, "21:00").await;
        assert_eq!(saved.body["next_due_at"], "2027-01-15T02:00:00Z");
    }
    // `logged` logs the 14th (its local day); `forgetful` logs the 15th,
    // the UTC day, which is not the day the reminder is about.
    for (user, date) in [(&logged, "2027-01-14"), (&forgetful, "2027-01-15")] {
        let put = app
            .call(
                Method::PUT,
                &format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4()),
                Some(&user.access),
                Some(json!({"date": date, "pain_level": 3})),
            )
            .await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    }
    go_to(&app, "2027-01-15T02:00:00Z");
    let mut outcomes = scheduler.run().await;
    outcomes.sort_unstable();
    assert_eq!(outcomes, vec!["already_logged", "queued", "unverified"]);
    assert_eq!(reminders_queued(&app).await, 1);
    let recipient = app
        .count(
            "mail_outbox",
            &format!("kind = 'reminder' AND recipient = '{}'", forgetful.email),
        )
        .await;
    assert_eq!(recipient, 1);
    // Each is due again the next local day.
    assert_eq!(
        app.count(
            "mail_schedules",
            "handled_date = '2027-01-14' AND due_date = '2027-01-15'"
        )
        .await,
        3
    );
}

/// Daylight saving, east and west of UTC: a time the clocks jump over
/// comes at the first minute after the jump; a time that happens twice
/// comes once, at its first occurrence.
#[tokio::test]
async fn daylight_saving_changes_are_met_once_at_the_right_minute() {
    let app = spawn_app().await;
    let scheduler = Scheduler::of(&app, None);
    // (zone, local time, the day before, the instant it comes, the
    // minute before it, the other occurrence that must stay silent)
    let cases = [
        // Berlin jumps 02:00 → 03:00 on 2027-03-28: 02:30 is 03:00 CEST.
        (
            "Europe/Berlin",
            "02:30",
            "2027-03-27T12:00:00Z",
            "2027-03-28T01:00:00Z",
            "2027-03-28T00:59:00Z",
            None,
        ),
        // New York jumps 02:00 → 03:00 on 2027-03-14: 02:30 is 03:00 EDT.
        (
            "America/New_York",
            "02:30",
            "2027-03-13T12:00:00Z",
            "2027-03-14T07:00:00Z",
            "2027-03-14T06:59:00Z",
            None,
        ),
        // Berlin goes back 03:00 → 02:00 on 2027-10-31: 02:30 happens twice.
        (
            "Europe/Berlin",
            "02:30",
            "2027-10-30T12:00:00Z",
            "2027-10-31T00:30:00Z",
            "2027-10-31T00:29:00Z",
            Some("2027-10-31T01:30:00Z"),
        ),
        // New York goes back 02:00 → 01:00 on 2027-11-07: 01:30 twice.
        (
            "America/New_York",
            "01:30",
            "2027-11-06T12:00:00Z",
            "2027-11-07T05:30:00Z",
            "2027-11-07T05:29:00Z",
            Some("2027-11-07T06:30:00Z"),
        ),
    ];
    for (zone, time, before, due, just_before, second) in cases {
        go_to(&app, before);
        let patient = register_in(&app, "patient", zone).await;
        verified(&app, &patient).await;
        let saved = reminders_at(&app, &patient, time).await;
        assert_eq!(saved.body["next_due_at"], due, "{zone} {time}");
        go_to(&app, just_before);
        assert_eq!(scheduler.run().await, Vec::<&str>::new(), "{zone} {time}");
        go_to(&app, due);
        assert_eq!(scheduler.run().await, vec!["queued"], "{zone} {time}");
        if let Some(second) = second {
            go_to(&app, second);
            assert_eq!(
                scheduler.run().await,
                Vec::<&str>::new(),
                "{zone} {time} again"
            );
        }
        // Turned off before the next case's patient.
        let patient = fresh(&app, &patient).await;
        let off = set(
            &app,
            &patient,
            "/v1/me/reminders",
            json!({"enabled": false, "local_time": time, "days": ["mon"]}),
        )
        .await;
        assert_eq!(off.status, StatusCode::OK);
    }
    assert_eq!(reminders_queued(&app).await, 4);
}

/// The service was down at the due time: the reminder goes out late on
/// the same local day, never on a later one.
#[tokio::test]
async fn a_missed_time_is_sent_late_only_on_its_own_day() {
    let app = spawn_app().await;
    let scheduler = Scheduler::of(&app, None);
    go_to(&app, "2027-01-14T12:00:00Z");
    let patient = register_in(&app, "patient", "UTC").await;
    verified(&app, &patient).await;
    reminders_at(&app, &patient, "08:00").await; // next: the 15th, 08:00
                                                 // Down from before 08:00 to 15:00: late, the same day.
    go_to(&app, "2027-01-15T15:00:00Z");
    assert_eq!(scheduler.run().await, vec!["queued"]);
    // Down through the whole 16th, back at 10:00 on the 17th: the 16th is
    // skipped, the 17th (08:00 passed) goes out late.
    go_to(&app, "2027-01-17T10:00:00Z");
    assert_eq!(scheduler.run().await, vec!["missed_day", "queued"]);
    assert_eq!(reminders_queued(&app).await, 2);
    assert_eq!(
        app.count(
            "mail_schedules",
            "handled_date = '2027-01-17' AND next_due_at = '2027-01-18 08:00:00'"
        )
        .await,
        1
    );
}

/// A new time zone moves the next reminder to the time there, and a day
/// already handled is not handled again.
#[tokio::test]
async fn a_new_time_zone_takes_effect_for_the_next_due_time() {
    let app = spawn_app().await;
    let scheduler = Scheduler::of(&app, None);
    go_to(&app, "2027-01-14T12:00:00Z");
    let patient = register_in(&app, "patient", "Europe/Berlin").await;
    verified(&app, &patient).await;
    let saved = reminders_at(&app, &patient, "20:00").await;
    assert_eq!(saved.body["next_due_at"], "2027-01-14T19:00:00Z");
    go_to(&app, "2027-01-14T19:00:00Z");
    assert_eq!(scheduler.run().await, vec!["queued"]);
    // Flying west: it is 13:00 on the 14th in Chicago, a day handled.
    let patient = fresh(&app, &patient).await;
    let moved = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&patient.access),
            Some(json!({"timezone": "America/Chicago"})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK);
    let now = app.get("/v1/me/reminders", &patient.access).await;
    assert_eq!(now.body["next_due_at"], "2027-01-16T02:00:00Z"); // the 15th, 20:00 CST
    go_to(&app, "2027-01-15T02:00:00Z");
    assert_eq!(scheduler.run().await, Vec::<&str>::new());
    assert_eq!(reminders_queued(&app).await, 1);
}

/// Many patients due at once, two schedulers on one database at the same
/// moment: each patient gets exactly one reminder (row locks, SKIP LOCKED
/// on PostgreSQL; one writer on SQLite).
#[tokio::test]
async fn two_instances_send_each_reminder_exactly_once() {
    let app = spawn_app().await;
    go_to(&app, "2027-01-15T08:00:00Z");
    let patients = 300;
    due_patients(&app, patients, "2027-01-15 08:00:00").await;
    let (a, b) = (Scheduler::of(&app, None), Scheduler::of(&app, None));
    let (first, second) = tokio::join!(a.run(), b.run());
    assert_eq!(first.len() + second.len(), patients);
    assert!(first.iter().chain(&second).all(|o| *o == "queued"));
    assert_eq!(reminders_queued(&app).await, patients as i64);
    assert_eq!(
        app.count(
            "(SELECT DISTINCT recipient FROM mail_outbox WHERE kind = 'reminder') AS r",
            "1 = 1"
        )
        .await,
        patients as i64
    );
    assert_eq!(a.run().await, Vec::<&str>::new());
}

/// `n` confirmed patients in UTC whose reminder is due at `due`, written
/// straight into the database (signing up each would hash a password).
async fn due_patients(app: &TestApp, n: usize, due: &'static str) {
    due_patients_in(app.db(), n, due.to_owned()).await;
}

/// `due_patients` on any handle of the database (`due`: `YYYY-MM-DD HH:MM:SS`).
pub async fn due_patients_in(db: &painline::db::Db, n: usize, due: String) {
    db.run(move |conn| -> Result<(), painline::db::DbError> {
        use diesel::connection::SimpleConnection;
        let mut sql = String::new();
        for i in 0..n {
            let id = uuid::Uuid::new_v4();
            sql.push_str(&format!(
                "INSERT INTO users (id, email, password_hash, display_name, role, timezone, change_seq, \
                 created_at, updated_at, email_verified_at) VALUES ('{id}', 'due{i}-{id}@example.org', \
                 'x', 'Due {i}', 'patient', 'UTC', 0, '{due}', '{due}', '{due}');\n\
                 INSERT INTO mail_schedules (user_id, kind, enabled, local_time, days, next_due_at, \
                 due_date, handled_date, version, updated_at) VALUES ('{id}', 'reminder', TRUE, '08:00', \
                 'mon,tue,wed,thu,fri,sat,sun', '{due}', '{}', NULL, 1, '{due}');\n",
                &due[..10]
            ));
        }
        Ok(conn.batch_execute(&sql)?)
    })
    .await
    .unwrap();
}

/// The instance's own scheduler (each minute; here every 50 ms) counts
/// what it did in /metrics, and the sender counts reminders sent.
#[tokio::test]
async fn the_instances_scheduler_counts_what_it_did() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.mail.schedule_poll = Some(std::time::Duration::from_millis(50));
        s.mail.poll = Some(std::time::Duration::from_millis(50));
    })
    .await;
    go_to(&app, "2027-01-15T08:00:00Z");
    due_patients(&app, 3, "2027-01-15 08:00:00").await;
    let text = |metrics: &str, line: &str| metrics.lines().any(|l| l == line);
    let queued = "painline_schedule_outcomes_total{kind=\"reminder\",outcome=\"queued\"} 3";
    let sent = "painline_mail_sent_total{kind=\"reminder\"} 3";
    let mut metrics = app.metrics().await;
    for _ in 0..2_000 {
        if text(&metrics, queued) && text(&metrics, sent) {
            break;
        }
        metrics = app.metrics().await;
    }
    assert!(text(&metrics, queued) && text(&metrics, sent), "{metrics}");
}

/// Over real SMTP: the weekly digest counts the linked patients with
/// alerts (the therapist's rules), links to the dashboard, and names no
/// one; with no patient on alert, no mail.
#[tokio::test]
async fn the_weekly_digest_counts_patients_with_alerts_and_names_none() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let scheduler = Scheduler::of(&app, Some(&smtp));
    go_to(&app, "2027-01-15T07:00:00Z"); // a Friday
    let therapist = register_in(&app, "therapist", "UTC").await;
    let calm = register_in(&app, "patient", "UTC").await;
    let careful = register_in(&app, "patient", "UTC").await;
    for user in [&therapist, &calm, &careful] {
        verified(&app, user).await;
    }
    crate::helpers::link(&app, &therapist, &calm).await;
    crate::helpers::link(&app, &therapist, &careful).await;
    // The calm one logs steadily and has a precaution (information, not
    // attention); the other stopped logging 8 days ago (not_logging).
    for (user, dates) in [
        (&calm, ["2027-01-09", "2027-01-15"]),
        (&careful, ["2027-01-01", "2027-01-07"]),
    ] {
        for date in dates {
            let put = app
                .call(
                    Method::PUT,
                    &format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4()),
                    Some(&user.access),
                    Some(json!({"date": date, "pain_level": 3, "notes": "stiff after sleeping"})),
                )
                .await;
            assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
        }
    }
    let declared = app
        .call(
            Method::PUT,
            "/v1/me/conditions/osteoporosis",
            Some(&calm.access),
            Some(json!({"note": "T-score -2.7"})),
        )
        .await;
    assert_eq!(declared.status, StatusCode::CREATED);
    let saved = set(
        &app,
        &therapist,
        "/v1/me/digest",
        json!({"enabled": true, "weekday": "fri", "local_time": "08:00"}),
    )
    .await;
    assert_eq!(
        saved.body["next_due_at"], "2027-01-15T08:00:00Z",
        "{}",
        saved.text
    );

    go_to(&app, "2027-01-15T08:00:00Z");
    assert_eq!(scheduler.run().await, vec!["queued"]);
    scheduler.send().await;
    let mail = smtp.next_about("this week").await;
    assert_eq!(mail.to, vec![therapist.email.clone()]);
    let subject = mail.header("Subject").unwrap();
    assert!(
        subject.contains("1 of your patients needs attention"),
        "{subject}"
    );
    assert!(mail.header("List-Unsubscribe").is_some());
    let body = mail.decoded();
    assert!(body.contains("https://painline.test/dashboard/"), "{body}");
    for private in [
        calm.email.as_str(),
        careful.email.as_str(),
        "patient ",
        "osteoporosis",
        "T-score",
        "stiff",
    ] {
        assert!(!body.contains(private), "{private} in {body}");
    }
    // A week later nobody is on alert: no digest.
    go_to(&app, "2027-01-22T07:00:00Z");
    let careful = fresh(&app, &careful).await;
    let calm = fresh(&app, &calm).await;
    // The digest read both patients' figures: each access log says so.
    for user in [&calm, &careful] {
        let log = app.get("/v1/me/access-log", &user.access).await;
        let digests: Vec<_> = log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "digest")
            .collect();
        assert_eq!(digests.len(), 1, "{}", log.text);
        assert_eq!(digests[0]["actor"]["id"], therapist.id.as_str());
        assert_eq!(digests[0]["path"], "/v1/me/digest");
    }
    // Both log again; the calm one's precaution alone asks no attention.
    for user in [&calm, &careful] {
        let put = app
            .call(
                Method::PUT,
                &format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4()),
                Some(&user.access),
                Some(json!({"date": "2027-01-22", "pain_level": 3})),
            )
            .await;
        assert_eq!(put.status, StatusCode::CREATED);
    }
    go_to(&app, "2027-01-22T08:00:00Z");
    assert_eq!(scheduler.run().await, vec!["no_alerts"]);
    assert_eq!(app.count("mail_outbox", "kind = 'digest'").await, 1);
}

/// Over real SMTP: a patient who reported a red flag this week counts as
/// needing attention, where one who logged the same levels without one
/// does not; the mail holds no code, no description and no name.
#[tokio::test]
async fn the_digest_counts_a_red_flag_and_names_no_sign() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let scheduler = Scheduler::of(&app, Some(&smtp));
    go_to(&app, "2027-01-15T07:00:00Z"); // a Friday
    let therapist = register_in(&app, "therapist", "UTC").await;
    let steady = register_in(&app, "patient", "UTC").await;
    let flagged = register_in(&app, "patient", "UTC").await;
    for user in [&therapist, &steady, &flagged] {
        verified(&app, user).await;
    }
    crate::helpers::link(&app, &therapist, &steady).await;
    crate::helpers::link(&app, &therapist, &flagged).await;
    // Both log 3 every day of the week; one entry of the flagged patient's
    // Wednesday reported two signs.
    for user in [&steady, &flagged] {
        for date in 9..=15 {
            let mut body = json!({"date": format!("2027-01-{date:02}"), "pain_level": 3});
            if date == 13 && user.id == flagged.id {
                body["red_flags"] = json!(["bilateral_leg_symptoms", "unexplained_weight_loss"]);
            }
            let put = app
                .call(
                    Method::PUT,
                    &format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4()),
                    Some(&user.access),
                    Some(body),
                )
                .await;
            assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
        }
    }
    set(
        &app,
        &therapist,
        "/v1/me/digest",
        json!({"enabled": true, "weekday": "fri", "local_time": "08:00"}),
    )
    .await;
    go_to(&app, "2027-01-15T08:00:00Z");
    assert_eq!(scheduler.run().await, vec!["queued"]);
    scheduler.send().await;
    let mail = smtp.next_about("this week").await;
    let subject = mail.header("Subject").unwrap();
    assert!(
        subject.contains("1 of your patients needs attention"),
        "{subject}"
    );
    let body = mail.decoded();
    let codes = app
        .client
        .get(app.url("/v1/red-flags"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let codes = codes["items"].as_array().unwrap();
    assert_eq!(codes.len(), 11);
    for sign in codes {
        for private in [&sign["code"], &sign["description"]] {
            let private = private.as_str().unwrap();
            assert!(!body.contains(private), "{private} in {body}");
            assert!(!subject.contains(private), "{private} in {subject}");
        }
    }
    for private in [
        steady.email.as_str(),
        flagged.email.as_str(),
        "patient ",
        "emergency",
        "both legs",
    ] {
        assert!(!body.contains(private), "{private} in {body}");
    }
}

/// Ordinary mutable resources: an ETag per version ("0" for the defaults),
/// If-Match honoured, the same settings again no new version.
#[tokio::test]
async fn settings_have_versions_and_if_match_is_honoured() {
    let app = spawn_app().await;
    let patient = app.register_patient().await;
    let defaults = app.get("/v1/me/reminders", &patient.access).await;
    assert_eq!(defaults.header("etag"), Some("\"0\""));
    let body = json!({"enabled": true, "local_time": "20:00", "days": ["mon"]});
    let put = |body: Value, if_match: Option<&'static str>| {
        let mut request = app
            .client
            .put(app.url("/v1/me/reminders"))
            .bearer_auth(&patient.access)
            .json(&body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send()
    };
    let first = crate::helpers::read(put(body.clone(), Some("\"0\"")).await.unwrap()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.header("etag"), Some("\"1\""));
    let same = crate::helpers::read(put(body.clone(), None).await.unwrap()).await;
    assert_eq!(same.header("etag"), Some("\"1\""));
    assert_eq!(same.body, first.body);
    let later = json!({"enabled": true, "local_time": "21:00", "days": ["mon"]});
    let stale = crate::helpers::read(put(later.clone(), Some("\"0\"")).await.unwrap()).await;
    stale.assert_problem(412, "precondition_failed");
    let stored = app.get("/v1/me/reminders", &patient.access).await;
    assert_eq!(stored.body["local_time"], "20:00");
    let current = crate::helpers::read(put(later, Some("\"1\"")).await.unwrap()).await;
    assert_eq!(current.header("etag"), Some("\"2\""));
    assert_eq!(current.body["local_time"], "21:00");
}

/// A row the scheduler cannot handle (here a corrupt day list) is stopped
/// and counted `failed`; the others of its batch go out. A row whose day
/// was handled already (its due time written from stale data) sends nothing.
#[tokio::test]
async fn a_broken_or_already_handled_row_blocks_nothing_and_sends_nothing() {
    let app = spawn_app().await;
    let scheduler = Scheduler::of(&app, None);
    go_to(&app, "2027-01-15T08:00:00Z");
    due_patients(&app, 3, "2027-01-15 08:00:00").await;
    app.with_db(|conn| {
        use diesel::connection::SimpleConnection;
        conn.batch_execute(
            "UPDATE mail_schedules SET days = 'someday' WHERE user_id = \
               (SELECT MIN(user_id) FROM mail_schedules); \
             UPDATE mail_schedules SET handled_date = '2027-01-15' WHERE user_id = \
               (SELECT MAX(user_id) FROM mail_schedules);",
        )
    })
    .await;
    let mut outcomes = scheduler.run().await;
    outcomes.sort_unstable();
    assert_eq!(outcomes, vec!["failed", "queued"]);
    assert_eq!(reminders_queued(&app).await, 1);
    assert_eq!(
        app.count("mail_schedules", "days = 'someday' AND next_due_at IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.count(
            "mail_schedules",
            "handled_date = '2027-01-15' AND due_date = '2027-01-16'"
        )
        .await,
        2
    );
    assert_eq!(scheduler.run().await, Vec::<&str>::new());
}
