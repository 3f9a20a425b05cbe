//! Account e-mail (issue 12): password reset and address verification,
//! delivered through the outbox over a real SMTP conversation with a server
//! each test starts on a free loopback port.

use std::net::TcpListener;

use mailin_embedded::{response, Handler, Response, Server, SslConfig};
use painline::config::MailTransportSetting;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::sync::mpsc;

use crate::helpers::{spawn_app_with, test_today, Reply, TestApp, PASSWORD};

/// A mail as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// The value of header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut lines = head.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            if let Some((key, value)) = line.split_once(':') {
                if key.eq_ignore_ascii_case(name) {
                    let mut value = value.trim().to_owned();
                    while lines.peek().is_some_and(|l| l.starts_with([' ', '\t'])) {
                        value.push(' ');
                        value.push_str(lines.next().unwrap_or_default().trim());
                    }
                    return Some(value);
                }
            }
        }
        None
    }

    /// The body with quoted-printable soft line breaks and `=3D` undone
    /// (what lettre uses for the text parts).
    pub fn decoded(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }

    /// The token of the first link to `path` in the mail.
    pub fn token(&self, path: &str) -> String {
        let body = self.decoded();
        let marker = format!("https://painline.test{path}#token=");
        let start = body.find(&marker).expect("a link") + marker.len();
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

#[derive(Clone)]
struct Collect {
    tx: mpsc::UnboundedSender<Received>,
    /// The mail of this connection (mailin gives each its own clone).
    current: Option<Received>,
    /// Refuse every mail with 451 (a relay that is down for now), telling
    /// the test of each attempt.
    refuse: Option<mpsc::UnboundedSender<()>>,
}

impl Handler for Collect {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, _from: &str) -> Response {
        match &self.refuse {
            Some(attempts) => {
                let _ = attempts.send(());
                response::INTERNAL_ERROR
            }
            None => response::OK,
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Received {
            from: from.to_owned(),
            to: to.to_vec(),
            data: String::new(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(mail) = self.current.as_mut() {
            mail.data.push_str(&String::from_utf8_lossy(buf));
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(mail) = self.current.take() {
            let _ = self.tx.send(mail);
        }
        response::OK
    }
}

/// A real SMTP server (mailin) on a free loopback port, in a thread of its
/// own for the rest of the test process.
pub struct SmtpServer {
    pub port: u16,
    rx: mpsc::UnboundedReceiver<Received>,
    attempts: Option<mpsc::UnboundedReceiver<()>>,
}

impl SmtpServer {
    pub fn start() -> Self {
        Self::serve(false)
    }

    /// A relay that answers every mail with 451 (try again later).
    pub fn start_refusing() -> Self {
        Self::serve(true)
    }

    fn serve(refusing: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("port").port();
        let (tx, rx) = mpsc::unbounded_channel();
        let (refuse, attempts) = if refusing {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let handler = Collect {
            tx,
            current: None,
            refuse,
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, rx, attempts }
    }

    /// Waits for the next attempt a refusing relay turned away.
    pub async fn refused(&mut self) {
        let attempts = self.attempts.as_mut().expect("a refusing relay");
        tokio::time::timeout(std::time::Duration::from_secs(30), attempts.recv())
            .await
            .expect("an attempt within 30 s")
            .expect("the server runs");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The next mail received (bounded wait: the sender is woken at once).
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(std::time::Duration::from_secs(30), self.rx.recv())
            .await
            .expect("a mail within 30 s")
            .expect("the server runs")
    }

    /// The next mail whose subject contains `words`, skipping others.
    pub async fn next_about(&mut self, words: &str) -> Received {
        loop {
            let mail = self.next().await;
            if mail.header("Subject").is_some_and(|s| s.contains(words)) {
                return mail;
            }
        }
    }

    /// What has arrived and not been read yet.
    pub fn received_now(&mut self) -> Vec<Received> {
        let mut all = Vec::new();
        while let Ok(mail) = self.rx.try_recv() {
            all.push(mail);
        }
        all
    }
}

/// Waits (by asking, a bounded number of times) until `filter` counts `n`
/// outbox rows: the sender writes its outcome just after the relay answers.
pub async fn settled(app: &TestApp, filter: &str, n: i64) {
    for _ in 0..10_000 {
        if app.count("mail_outbox", filter).await == n {
            return;
        }
    }
    assert_eq!(app.count("mail_outbox", filter).await, n, "{filter}");
}

pub async fn app_with_smtp(smtp: &SmtpServer) -> TestApp {
    let url = smtp.url();
    spawn_app_with(|s| s.mail.transport = MailTransportSetting::Smtp(url)).await
}

/// Instances whose sender also looks every 50 ms, for tests that move the
/// clock past a retry (nothing wakes the sender then).
fn polling(s: &mut painline::config::Settings, url: String) {
    s.mail.transport = MailTransportSetting::Smtp(url);
    s.mail.poll = Some(std::time::Duration::from_millis(50));
}

pub async fn reset(app: &TestApp, email: &str) -> Reply {
    app.call(
        Method::POST,
        "/v1/auth/password-reset",
        None,
        Some(json!({"email": email})),
    )
    .await
}

pub async fn confirm(app: &TestApp, token: &str, password: &str) -> Reply {
    app.call(
        Method::POST,
        "/v1/auth/password-reset/confirm",
        None,
        Some(json!({"token": token, "new_password": password})),
    )
    .await
}

/// The whole reset, as a patient who forgot the password meets it: the
/// mail arrives over SMTP with both alternatives, a link built from the
/// public URL, its expiry and no health data; the link sets a new password
/// once, ends every login, and proves the address.
#[tokio::test]
async fn a_forgotten_password_is_reset_through_a_mailed_link() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let user = app.register_patient().await;
    let noted = app
        .call(
            Method::PUT,
            &format!("/v1/me/pain-entries/{}", uuid::Uuid::new_v4()),
            Some(&user.access),
            Some(json!({"date": test_today(), "pain_level": 7, "notes": "sciatica flare after lifting"})),
        )
        .await;
    assert_eq!(noted.status, StatusCode::CREATED);

    let asked = reset(&app, &user.email.to_uppercase()).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    assert_eq!(asked.body, json!({"status": "accepted"}));
    let mail = smtp.next_about("Reset your Painline password").await;
    assert_eq!(mail.from, "no-reply@painline.test");
    assert_eq!(mail.to, vec![user.email.clone()]);
    assert!(mail
        .header("From")
        .unwrap()
        .contains("no-reply@painline.test"));
    assert!(mail.header("To").unwrap().contains(&user.email));
    let content_type = mail.header("Content-Type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let body = mail.decoded();
    assert!(body.contains("Content-Type: text/plain"));
    assert!(body.contains("Content-Type: text/html"));
    assert!(body.contains("Painline"));
    // The expiry, 30 minutes from the app's clock, as the mail states it.
    let expires = app.clock.now() + chrono::Duration::minutes(30);
    let shown = expires.format("%Y-%m-%d %H:%M UTC").to_string();
    let earlier = (expires - chrono::Duration::minutes(1))
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    assert!(body.contains(&shown) || body.contains(&earlier), "{body}");
    // No health data: not the note, not the pain level's wording.
    assert!(!body.contains("sciatica"));
    let token = mail.token("/reset-password");
    assert!(token.len() >= 43, "{token}"); // 32 random bytes, base64url

    let before = app.get("/v1/me", &user.access).await;
    assert_eq!(before.body["email_verified"], json!(false));
    let done = confirm(&app, &token, "a brand new password 7").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    // The first proof of the address: the one login ends, nothing else was open.
    assert_eq!(
        done.body,
        json!({"status": "password_set",
               "ended": {"care_team_links": 0, "invitations": 0, "logins": 1}})
    );
    // Every login ended; the new password signs in; the address is proven.
    let refreshed = app
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": user.refresh})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let signed_in = app.login(&user.email, "a brand new password 7").await;
    assert_eq!(signed_in.status, StatusCode::OK);
    assert_eq!(signed_in.body["user"]["email_verified"], json!(true));
    // Once only; a used token answers exactly like an unknown one.
    let again = confirm(&app, &token, "yet another password 8").await;
    let unknown = confirm(
        &app,
        "bm90LWEtdG9rZW4tYXQtYWxsLW5vdC1hLXRva2VuLWF0LWFsbA",
        "yet another password 8",
    )
    .await;
    again.assert_problem(400, "invalid_token");
    assert_eq!(again.error_fields(), vec!["token"]);
    assert_eq!(again.text, unknown.text);
    // What is stored: the token used, the mail sent.
    assert_eq!(
        app.count(
            "account_tokens",
            "purpose = 'password_reset' AND used_at IS NOT NULL"
        )
        .await,
        1
    );
    settled(&app, "kind = 'password_reset' AND sent_at IS NOT NULL", 1).await;
}

/// Without an SMTP relay each mail is an .eml file that only its owner can
/// read, the link whole on a line of its own.
#[tokio::test]
async fn without_a_relay_mail_is_a_private_eml_file() {
    use std::os::unix::fs::PermissionsExt;
    let app = crate::helpers::spawn_app().await;
    let user = app.register_patient().await;
    assert_eq!(reset(&app, &user.email).await.status, StatusCode::ACCEPTED);
    settled(&app, "sent_at IS NOT NULL", 2).await;
    let MailTransportSetting::Files(dir) =
        crate::helpers::test_mail_settings(&app.database).transport
    else {
        panic!("the tests write mail to files by default");
    };
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let mut links = 0;
    for file in files {
        assert!(file.extension().is_some_and(|e| e == "eml"));
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let text = std::fs::read_to_string(&file).unwrap();
        links += text
            .split("\r\n")
            .filter(|line| line.starts_with("https://painline.test/reset-password#token="))
            .count();
    }
    assert_eq!(links, 1);
}

/// An address without an account gets the same answer, and no mail; text
/// that is no address at all is 422 (it is not stored). Throttling keeps
/// addresses only as hashes.
#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_and_no_mail() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let user = app.register_patient().await;
    smtp.next_about("Confirm your e-mail").await;
    let known = reset(&app, &user.email).await;
    let unknown = reset(&app, "nobody-here@example.org").await;
    for reply in [&known, &unknown] {
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert_eq!(reply.text, known.text);
    }
    let not_an_address = reset(&app, &"not an address ".repeat(4_000)).await;
    not_an_address.assert_problem(422, "validation_failed");
    assert_eq!(not_an_address.error_fields(), vec!["email"]);
    assert_eq!(
        app.count("mail_requests", "purpose = 'password_reset'")
            .await,
        2
    );
    assert_eq!(
        app.count("mail_requests", "email LIKE '%@%' OR email LIKE '% %'")
            .await,
        0
    );
    smtp.next_about("Reset your Painline password").await;
    assert_eq!(
        app.count("mail_outbox", "recipient = 'nobody-here@example.org'")
            .await,
        0
    );
    assert_eq!(app.count("mail_outbox", "kind = 'password_reset'").await, 1);
}

/// A link works 30 minutes, and only the newest one works.
#[tokio::test]
async fn reset_links_expire_and_a_newer_one_voids_the_older() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let user = app.register_patient().await;
    reset(&app, &user.email).await;
    let first = smtp.next_about("Reset").await.token("/reset-password");
    reset(&app, &user.email).await;
    let second = smtp.next_about("Reset").await.token("/reset-password");
    assert_ne!(first, second);
    confirm(&app, &first, "a brand new password 7")
        .await
        .assert_problem(400, "invalid_token");
    reset(&app, &user.email).await;
    let third = smtp.next_about("Reset").await.token("/reset-password");
    app.clock.advance(chrono::Duration::minutes(31));
    let expired = confirm(&app, &third, "a brand new password 7").await;
    expired.assert_problem(400, "invalid_token");
    // The password did not change.
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status,
        StatusCode::OK
    );
}

/// Reset requests are throttled per address, like logins, for addresses
/// with and without an account alike.
#[tokio::test]
async fn reset_requests_are_throttled_per_address() {
    let app = crate::helpers::spawn_app().await;
    let user = app.register_patient().await;
    for email in [user.email.as_str(), "ghost@example.org"] {
        for _ in 0..5 {
            assert_eq!(reset(&app, email).await.status, StatusCode::ACCEPTED);
        }
        let sixth = reset(&app, email).await;
        sixth.assert_problem(429, "too_many_attempts");
        assert!(sixth.header("retry-after").is_some());
    }
    // An hour later it works again.
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(reset(&app, &user.email).await.status, StatusCode::ACCEPTED);
}

/// Registering sends a verification mail; its link verifies the address;
/// a new link can be asked for (the older stops working), and not once the
/// address is verified.
#[tokio::test]
async fn registration_sends_a_verification_link() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let user = app.register_patient().await;
    let first = smtp.next_about("Confirm your e-mail").await;
    assert_eq!(first.to, vec![user.email.clone()]);
    let first = first.token("/verify-email");
    let asked = app
        .call(
            Method::POST,
            "/v1/me/verify-email",
            Some(&user.access),
            None,
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text);
    let second = smtp
        .next_about("Confirm your e-mail")
        .await
        .token("/verify-email");
    let verify = |token: String| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/v1/auth/verify-email",
                None,
                Some(json!({"token": token})),
            )
            .await
        }
    };
    verify(first).await.assert_problem(400, "invalid_token");
    let done = verify(second.clone()).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["status"], "verified");
    let me = app.get("/v1/me", &user.access).await;
    assert_eq!(me.body["email_verified"], json!(true));
    verify(second).await.assert_problem(400, "invalid_token");
    // The first proof ended the login; signed in again, no new link is needed.
    let again = app.login(&user.email, PASSWORD).await;
    let access = again.body["tokens"]["access_token"].as_str().unwrap();
    app.call(Method::POST, "/v1/me/verify-email", Some(access), None)
        .await
        .assert_problem(409, "already_verified");
}

/// A display name stored with CR/LF (before names were checked) cannot add
/// a header or a recipient: the mail goes to the account's address only.
#[tokio::test]
async fn a_display_name_cannot_inject_headers() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let user = app.register_patient().await;
    smtp.next_about("Confirm your e-mail").await;
    let id = user.id.clone();
    app.with_db(move |conn| {
        use diesel::prelude::*;
        use painline::db::schema::users;
        diesel::update(users::table.filter(users::id.eq(id)))
            .set(users::display_name.eq("Eve\r\nBcc: victim@example.net\r\nX-Evil: 1"))
            .execute(conn)
    })
    .await;
    assert_eq!(reset(&app, &user.email).await.status, StatusCode::ACCEPTED);
    let mail = smtp.next_about("Reset").await;
    assert_eq!(mail.to, vec![user.email.clone()]);
    assert_eq!(mail.header("Bcc"), None);
    assert_eq!(mail.header("X-Evil"), None);
    assert!(mail.header("To").unwrap().contains(&user.email));
}

/// A mail accepted while the relay is down stays queued, survives the
/// instance that queued it (gone mid-way, whether or not it had recorded
/// its failed attempt), and is sent once by the instances that remain when
/// the relay answers; two instances on one database never send a mail twice.
#[tokio::test]
async fn a_queued_mail_survives_its_instance_and_is_sent_once() {
    let mut down = SmtpServer::start_refusing();
    let url = down.url();
    let first = spawn_app_with(|s| polling(s, url)).await;
    let user = first.register_patient().await;
    assert_eq!(
        reset(&first, &user.email).await.status,
        StatusCode::ACCEPTED
    );
    // Both mails (verification, reset) were tried and refused…
    down.refused().await;
    down.refused().await;
    // …and the instance goes away.
    first.stop().await;
    assert_eq!(first.count("mail_outbox", "sent_at IS NULL").await, 2);

    let mut smtp = SmtpServer::start();
    let url = smtp.url();
    let second = first
        .another_instance_with(|s| polling(s, url.clone()))
        .await;
    let third = first
        .another_instance_with(|s| polling(s, url.clone()))
        .await;
    // Past the retry wait and past any claim the first instance still held.
    first.clock.advance(chrono::Duration::minutes(3));
    let mut got = [smtp.next().await, smtp.next().await];
    got.sort_by_key(|m| m.header("Subject"));
    assert!(got[0].header("Subject").unwrap().contains("Confirm"));
    assert!(got[1].header("Subject").unwrap().contains("Reset"));
    assert_eq!(got[1].token("/reset-password").len(), 43);
    // More mail through both instances: each arrives exactly once.
    for n in 0..10 {
        let instance = if n % 2 == 0 { &second } else { &third };
        let other = instance.register_patient().await;
        assert_eq!(
            reset(instance, &other.email).await.status,
            StatusCode::ACCEPTED
        );
    }
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let mail = smtp.next().await;
        assert!(
            ids.insert(mail.header("Message-ID").unwrap()),
            "a mail arrived twice"
        );
    }
    // The last mails are recorded as sent just after the relay took them.
    settled(&second, "sent_at IS NOT NULL", 22).await;
    assert_eq!(second.count("mail_outbox", "sent_at IS NULL").await, 0);
    assert!(smtp.received_now().is_empty(), "a mail arrived twice");
}

/// A mail that keeps failing is retried with growing waits, given up a day
/// after it was queued, and counted in /metrics.
#[tokio::test]
async fn a_mail_that_keeps_failing_is_given_up_and_counted() {
    let mut down = SmtpServer::start_refusing();
    let url = down.url();
    let app = spawn_app_with(|s| polling(s, url)).await;
    app.register_patient().await;
    // Each retry comes once the clock passes its time (waits double up to
    // an hour); the attempt that falls a day after queueing gives it up.
    let mut attempts = 0;
    loop {
        down.refused().await;
        attempts += 1;
        // The sender records the attempt (and whether it gave up) in one
        // write; wait for it, then look.
        settled(&app, &format!("attempts >= {attempts}"), 1).await;
        if app.count("mail_outbox", "given_up_at IS NOT NULL").await == 1 {
            break;
        }
        assert!(attempts < 60, "never given up");
        app.clock.advance(chrono::Duration::hours(1));
    }
    assert!(attempts >= 20, "{attempts} attempts in a day");
    // Counted just after the row is written: asked a bounded number of times.
    let counted = |text: &str| text.lines().any(|l| l == "painline_mail_given_up_total 1");
    let mut metrics = app.metrics().await;
    for _ in 0..1_000 {
        if counted(&metrics) {
            break;
        }
        metrics = app.metrics().await;
    }
    assert!(counted(&metrics), "{metrics}");
}

/// A new password chosen in the app voids a reset link asked for before
/// it: the link can no longer override the password just chosen.
#[tokio::test]
async fn a_new_password_voids_outstanding_reset_links() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let user = app.register_patient().await;
    smtp.next_about("Confirm your e-mail").await;
    assert_eq!(reset(&app, &user.email).await.status, StatusCode::ACCEPTED);
    let token = smtp.next_about("Reset").await.token("/reset-password");
    let changed = app
        .post(
            "/v1/me/password",
            Some(&user.access),
            json!({"current_password": PASSWORD, "new_password": "chosen in the app 42"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.text);
    confirm(&app, &token, "from the old reset link")
        .await
        .assert_problem(400, "invalid_token");
    let signed_in = app.login(&user.email, "chosen in the app 42").await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    let old_link = app.login(&user.email, "from the old reset link").await;
    assert_eq!(old_link.status, StatusCode::UNAUTHORIZED);
}

/// Erasing the account erases its mail: what was sent (address, name,
/// link) and what is still queued, which is then never sent.
#[tokio::test]
async fn erasure_deletes_the_accounts_mail_queued_or_sent() {
    let mut down = SmtpServer::start_refusing();
    let url = down.url();
    let app = spawn_app_with(|s| polling(s, url)).await;
    let user = app.register_patient().await;
    down.refused().await;
    let mine = format!("recipient = '{}'", user.email);
    assert_eq!(app.count("mail_outbox", &mine).await, 1);
    let other = app.register_patient().await;
    let theirs = format!("recipient = '{}'", other.email);
    let erased = app
        .call(
            reqwest::Method::DELETE,
            "/v1/me",
            Some(&user.access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.text);
    assert_eq!(app.count("mail_outbox", &mine).await, 0);
    assert_eq!(app.count("mail_outbox", &theirs).await, 1);
}
