//! Mail cannot be aimed at an address: replays of the floods an outside
//! review sent (1,412 sign-ups in 20 s from one client, each mailing an
//! address it chose; 620 "confirm your new address" mails to one victim by
//! cycling fresh accounts), counted at a real SMTP server.

use painline::config::MailTransportSetting;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app_with, Reply, TestApp, TestUser, PASSWORD};
use crate::mail::{app_with_smtp, reset, settled, Received, SmtpServer};

/// What an attacker calls themselves, hoping the victim reads it.
const BAIT: &str = "Painline Support: call +1 555 0100";

fn address(name: &str) -> String {
    format!("{name}-{}@example.org", uuid::Uuid::new_v4().simple())
}

/// Signs `email` up as a patient named [`BAIT`], from `client` (the
/// address a trusted proxy reports, when given).
async fn sign_up(app: &TestApp, client: Option<&str>, email: &str) -> Reply {
    let mut request = app.client.post(app.url("/v1/auth/register")).json(&json!({
        "email": email, "password": PASSWORD, "display_name": BAIT, "role": "patient"
    }));
    if let Some(client) = client {
        request = request.header("x-forwarded-for", client);
    }
    crate::helpers::read(request.send().await.expect("sent")).await
}

fn user_of(reply: &Reply, email: &str) -> TestUser {
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    TestUser {
        id: text(&reply.body["user"]["id"]),
        email: email.to_owned(),
        access: text(&reply.body["tokens"]["access_token"]),
        refresh: text(&reply.body["tokens"]["refresh_token"]),
    }
}

/// `painline_mail_dropped_total` for `kind`, once it reaches `n` (the
/// reset's mail is queued just after the answer), asked a bounded number
/// of times.
async fn dropped(app: &TestApp, kind: &str, n: u64) {
    let line = format!("painline_mail_dropped_total{{kind=\"{kind}\"}} {n}");
    let mut metrics = String::new();
    for _ in 0..2_000 {
        metrics = app.metrics().await;
        if metrics.lines().any(|l| l == line) {
            return;
        }
    }
    panic!("no {line:?} in:\n{metrics}");
}

/// Every mail to `to` that arrived, once the outbox has sent all it holds.
async fn mails_to(app: &TestApp, smtp: &mut SmtpServer, to: &str) -> Vec<Received> {
    settled(app, "sent_at IS NULL AND given_up_at IS NULL", 0).await;
    smtp.received_now()
        .into_iter()
        .filter(|m| m.to == [to.to_owned()])
        .collect()
}

/// Asks for a new verification link for `user`'s address: 202 either way.
async fn new_verification_link(app: &TestApp, user: &TestUser) {
    let asked = app
        .call(
            reqwest::Method::POST,
            "/v1/me/verify-email",
            Some(&user.access),
            None,
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text);
}

/// One client signs up at most 20 times an hour, a 409 for a taken
/// address counting too; an IPv6 client counts by its /64, so walking its
/// own prefix does not help, while another /64 is another client.
#[tokio::test]
async fn one_client_signs_up_20_times_an_hour_an_ipv6_one_by_its_64() {
    let mut smtp = SmtpServer::start();
    let url = smtp.url();
    let app = spawn_app_with(|s| {
        s.mail.transport = MailTransportSetting::Smtp(url);
        s.signups_per_hour = 20;
        s.trusted_proxies = vec![[127, 0, 0, 1].into()];
    })
    .await;
    let first = address("flood");
    assert_eq!(
        sign_up(&app, Some("2001:db8:1:2::1"), &first).await.status,
        StatusCode::CREATED
    );
    // A probe of a taken address is answered 409 and counted.
    let probe = sign_up(&app, Some("2001:db8:1:2::2"), &first).await;
    probe.assert_problem(409, "email_taken");
    for n in 3..=20 {
        let client = format!("2001:db8:1:2::{n:x}");
        let reply = sign_up(&app, Some(&client), &address("flood")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{n}: {}", reply.text);
    }
    let mut refused = Vec::new();
    for client in ["2001:db8:1:2::21", "2001:db8:1:2:ffff:ffff:ffff:ffff"] {
        let reply = sign_up(&app, Some(client), &address("flood")).await;
        reply.assert_problem(429, "too_many_attempts");
        let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=3600).contains(&retry), "{retry}");
        refused.push(reply);
    }
    let probe = sign_up(&app, Some("2001:db8:1:2::22"), &first).await;
    probe.assert_problem(429, "too_many_attempts");
    let elsewhere = sign_up(&app, Some("2001:db8:1:3::1"), &address("other")).await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "{}", elsewhere.text);

    // 19 accounts of the flood and the one elsewhere: 20 mails, no more.
    settled(&app, "sent_at IS NULL AND given_up_at IS NULL", 0).await;
    assert_eq!(smtp.received_now().len(), 20);
    assert_eq!(app.count("users", "1 = 1").await, 20);
    // The hour passes: the client may sign up again.
    app.clock.advance(chrono::Duration::hours(1));
    let later = sign_up(&app, Some("2001:db8:1:2::1"), &address("later")).await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.text);
}

/// Fresh accounts cycled through `PATCH /v1/me {email}` at one victim: the
/// first change waits for its link, every other one is 409
/// `address_change_pending`, and the victim receives one mail, which
/// carries nothing the attacker wrote.
#[tokio::test]
async fn one_pending_change_of_address_targets_an_address() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let victim = address("victim");
    for n in 0..10 {
        let email = address("cycler");
        let attacker = user_of(&sign_up(&app, None, &email).await, &email);
        let asked = app
            .call(
                reqwest::Method::PATCH,
                "/v1/me",
                Some(&attacker.access),
                Some(json!({"email": victim, "current_password": PASSWORD})),
            )
            .await;
        if n == 0 {
            assert_eq!(asked.status, StatusCode::OK, "{}", asked.text);
        } else {
            asked.assert_problem(409, "address_change_pending");
        }
    }
    let mails: Vec<String> = mails_to(&app, &mut smtp, &victim)
        .await
        .iter()
        .map(Received::decoded)
        .collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Hello,"), "{}", mails[0]);
    assert!(!mails[0].contains("Painline Support"), "{}", mails[0]);
    assert!(!mails[0].contains("+1 555 0100"), "{}", mails[0]);
}

/// An address receives at most 5 account mails an hour and 20 a day,
/// whatever asks for them (here: the sign-up's verification, new
/// verification links, password resets); the rest are dropped, answered
/// alike and counted in `/metrics`. None carries the name the impostor chose.
#[tokio::test]
async fn an_address_receives_5_account_mails_an_hour_and_20_a_day() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let victim = address("victim");
    let impostor = user_of(&sign_up(&app, None, &victim).await, &victim);
    for _ in 0..4 {
        new_verification_link(&app, &impostor).await;
    }
    for _ in 0..3 {
        assert_eq!(reset(&app, &victim).await.status, StatusCode::ACCEPTED);
    }
    dropped(&app, "password_reset", 3).await;
    let mut received = mails_to(&app, &mut smtp, &victim).await;
    assert_eq!(received.len(), 5);
    // A sixth verification link is dropped before it is made: the newest
    // delivered one still works (it is used at the end).
    let links: Vec<String> = received
        .iter()
        .filter(|m| m.decoded().contains("/verify-email#token="))
        .map(|m| m.token("/verify-email"))
        .collect();
    assert_eq!(links.len(), 5);
    new_verification_link(&app, &impostor).await;
    dropped(&app, "verify_email", 1).await;

    // Three more hours of five resets each: 20 in the day.
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::minutes(61));
        for _ in 0..5 {
            assert_eq!(reset(&app, &victim).await.status, StatusCode::ACCEPTED);
        }
        settled(
            &app,
            &format!("recipient = '{victim}' AND sent_at IS NOT NULL"),
            received.len() as i64 + 5,
        )
        .await;
        received.extend(mails_to(&app, &mut smtp, &victim).await);
    }
    assert_eq!(received.len(), 20);
    // The fifth hour: the day's 20 are spent.
    app.clock.advance(chrono::Duration::minutes(61));
    for _ in 0..5 {
        assert_eq!(reset(&app, &victim).await.status, StatusCode::ACCEPTED);
    }
    dropped(&app, "password_reset", 8).await;
    assert!(mails_to(&app, &mut smtp, &victim).await.is_empty());
    // A day after the first ones, mail flows again.
    app.clock.advance(chrono::Duration::hours(21));
    assert_eq!(reset(&app, &victim).await.status, StatusCode::ACCEPTED);
    settled(
        &app,
        &format!("recipient = '{victim}' AND sent_at IS NOT NULL"),
        21,
    )
    .await;
    received.extend(mails_to(&app, &mut smtp, &victim).await);
    assert_eq!(received.len(), 21);
    for mail in received.iter().map(Received::decoded) {
        assert!(!mail.contains("Painline Support"), "{mail}");
        assert!(mail.contains("Hello,"), "{mail}");
    }
    let mut working = 0;
    for token in links {
        let used = app
            .post("/v1/auth/verify-email", None, json!({"token": token}))
            .await;
        working += usize::from(used.status == StatusCode::OK);
    }
    assert_eq!(working, 1, "the newest delivered link must still work");
}
