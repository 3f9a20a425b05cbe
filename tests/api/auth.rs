use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Reply, TestApp, TestUser, PASSWORD};

#[tokio::test]
async fn register_creates_an_account_with_a_hashed_password() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "  Ana.Lopez@Example.ORG ", "password": PASSWORD, "display_name": " Ana ",
                   "role": "patient", "timezone": "Europe/Madrid"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let user = &reply.body["user"];
    assert_eq!(user["email"], "ana.lopez@example.org");
    assert_eq!(user["display_name"], "Ana");
    assert_eq!(user["role"], "patient");
    assert_eq!(user["timezone"], "Europe/Madrid");
    let tokens = &reply.body["tokens"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["refresh_expires_in"], 2_592_000);
    assert!(tokens["access_token"].as_str().unwrap().split('.').count() == 3);

    let user_id = user["id"].as_str().unwrap().to_owned();
    let stored: (String, String, String) = app
        .with_db(move |conn| {
            use diesel::prelude::*;
            use painline::db::schema::users;
            users::table
                .filter(users::id.eq(user_id))
                .select((users::email, users::password_hash, users::timezone))
                .first(conn)
        })
        .await;
    assert_eq!(stored.0, "ana.lopez@example.org");
    assert!(
        stored.1.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        stored.1
    );
    assert!(!stored.1.contains(PASSWORD));
    assert_eq!(stored.2, "Europe/Madrid");
    // The refresh token is stored only as its SHA-256 hash.
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.count("refresh_tokens", &format!("token_hash = '{refresh}'"))
            .await,
        0
    );
    assert_eq!(app.count("refresh_tokens", "1 = 1").await, 1);

    // The new access token works.
    let me = app
        .get("/v1/me", tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "ana.lopez@example.org");
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    let first = app.register_patient().await;
    let reply = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": first.email.to_uppercase(), "password": PASSWORD, "display_name": "B", "role": "therapist"}),
        )
        .await;
    reply.assert_problem(409, "email_taken");
    assert_eq!(app.count("users", "1 = 1").await, 1);
}

#[tokio::test]
async fn password_length_is_12_to_128_characters() {
    let app = spawn_app().await;
    for (len, expected) in [(11, 422), (12, 201), (128, 201), (129, 422)] {
        let reply = app
            .post(
                "/v1/auth/register",
                None,
                json!({"email": format!("len{len}@example.org"), "password": "p".repeat(len),
                       "display_name": "P", "role": "patient"}),
            )
            .await;
        assert_eq!(
            reply.status.as_u16(),
            expected,
            "length {len}: {}",
            reply.text
        );
        if expected == 422 {
            reply.assert_problem(422, "validation_failed");
            assert_eq!(reply.error_fields(), vec!["password"]);
        } else {
            // Never truncated: the full password signs in, one character less does not.
            let full = app
                .login(&format!("len{len}@example.org"), &"p".repeat(len))
                .await;
            assert_eq!(full.status, StatusCode::OK);
            let shorter = app
                .login(&format!("len{len}@example.org"), &"p".repeat(len - 1))
                .await;
            assert_eq!(shorter.status, StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(app.count("users", "1 = 1").await, 2);
}

#[tokio::test]
async fn register_names_every_invalid_field() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "not-an-email", "password": "short", "display_name": "  ",
                   "role": "patient", "timezone": "Mars/Olympus"}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(
        reply.error_fields(),
        vec!["email", "password", "display_name", "timezone"]
    );
    let bad_role = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "a@example.org", "password": PASSWORD, "display_name": "A", "role": "admin"}),
        )
        .await;
    bad_role.assert_problem(422, "validation_failed");
    assert_eq!(bad_role.error_fields(), vec!["role"]);
    assert_eq!(app.count("users", "1 = 1").await, 0);
}

#[tokio::test]
async fn login_succeeds_with_the_right_password() {
    let app = spawn_app().await;
    let user = app.register_therapist().await;
    let reply = app
        .login(&format!("  {}  ", user.email.to_uppercase()), PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["user"]["id"], user.id.as_str());
    assert_eq!(reply.body["user"]["role"], "therapist");
    let access = reply.body["tokens"]["access_token"].as_str().unwrap();
    assert_eq!(app.get("/v1/me", access).await.status, StatusCode::OK);
    // Each login is its own token family.
    assert_eq!(
        app.count("refresh_tokens", &format!("user_id = '{}'", user.id))
            .await,
        2
    );
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_identical_answers() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let wrong_password = app.login(&user.email, "wrong password 123").await;
    let unknown_email = app.login("nobody@example.org", "wrong password 123").await;
    wrong_password.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong_password.status, unknown_email.status);
    assert_eq!(wrong_password.text, unknown_email.text);
    assert_eq!(wrong_password.header("www-authenticate"), Some("Bearer"));
    assert_eq!(unknown_email.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        wrong_password.header("content-type"),
        unknown_email.header("content-type")
    );
}

#[tokio::test]
async fn five_failures_throttle_the_address_until_the_window_passes() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    for _ in 0..5 {
        app.login(&user.email, "wrong password 123")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    // Even the right password is refused now.
    let throttled = app.login(&user.email, PASSWORD).await;
    throttled.assert_problem(429, "too_many_attempts");
    let retry: i64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    // Another account from the same address is not affected.
    let other = app.register_patient().await;
    assert_eq!(
        app.login(&other.email, PASSWORD).await.status,
        StatusCode::OK
    );

    app.clock.advance(chrono::Duration::seconds(retry));
    let after = app.login(&user.email, PASSWORD).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);
    // A success clears that address's failures.
    assert_eq!(
        app.count("login_failures", &format!("email = '{}'", user.email))
            .await,
        0
    );
}

#[tokio::test]
async fn a_hundred_failures_from_many_addresses_throttle_the_email() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let user = app.register_patient().await;
    let attempt = |ip: String, password: &'static str| {
        let request = app
            .client
            .post(app.url("/v1/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.250, {ip}"))
            .json(&json!({"email": user.email, "password": password}));
        async move { crate::helpers::read(request.send().await.unwrap()).await }
    };
    for batch in 0..25 {
        let replies = futures_util::future::join_all((0..4).map(|i| {
            attempt(
                format!("198.51.100.{}", batch * 4 + i),
                "wrong password 123",
            )
        }))
        .await;
        for reply in replies {
            reply.assert_problem(401, "invalid_credentials");
        }
    }
    // The proxy's forwarded addresses were recorded, not the proxy's own.
    assert_eq!(
        app.count("login_failures", "client_ip LIKE '198.51.100.%'")
            .await,
        100
    );
    let fresh_address = attempt("192.0.2.7".into(), PASSWORD).await;
    fresh_address.assert_problem(429, "too_many_attempts");
    let retry: i64 = fresh_address
        .header("retry-after")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry));
    app.clock.advance(chrono::Duration::seconds(retry));
    assert_eq!(
        attempt("192.0.2.7".into(), PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let first = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": user.refresh}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let second_token = first.body["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second_token, user.refresh);
    let access = first.body["tokens"]["access_token"].as_str().unwrap();
    assert_eq!(app.get("/v1/me", access).await.status, StatusCode::OK);

    // A second device, logged in separately, is its own family.
    let other_login = app.login(&user.email, PASSWORD).await;
    let other_refresh = other_login.body["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Replaying the first token past the grace is reuse: 401, and the
    // token rotated from it dies too.
    app.clock.advance(chrono::Duration::seconds(11));
    let replay = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": user.refresh}),
        )
        .await;
    replay.assert_problem(401, "invalid_refresh_token");
    let rotated = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": second_token}),
        )
        .await;
    rotated.assert_problem(401, "invalid_refresh_token");
    // The other login still works.
    let other = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": other_refresh}),
        )
        .await;
    assert_eq!(other.status, StatusCode::OK);
}

async fn refresh(app: &TestApp, token: &str) -> Reply {
    app.post("/v1/auth/refresh", None, json!({"refresh_token": token}))
        .await
}

fn refresh_token_of(reply: &Reply) -> String {
    reply.body["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Live (unrevoked) refresh tokens of the user, and in how many logins.
async fn live_tokens(app: &TestApp, user: &TestUser) -> (i64, i64) {
    let live = format!("user_id = '{}' AND revoked_at IS NULL", user.id);
    let families = app
        .with_db({
            let user = user.id.clone();
            move |conn| {
                use diesel::prelude::*;
                use painline::db::schema::refresh_tokens::dsl::*;
                refresh_tokens
                    .filter(user_id.eq(user))
                    .filter(revoked_at.is_null())
                    .select(family_id)
                    .distinct()
                    .load::<String>(conn)
                    .map(|families| families.len() as i64)
            }
        })
        .await;
    (app.count("refresh_tokens", &live).await, families)
}

/// docs/api-guide.md: with the default grace, concurrent refreshes with one token
/// (a phone racing itself) all get fresh pairs of the same login.
#[tokio::test]
async fn concurrent_refreshes_with_one_token_all_succeed_within_the_grace() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let replies =
        futures_util::future::join_all((0..6).map(|_| refresh(&app, &user.refresh))).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let mut tokens: Vec<String> = replies.iter().map(refresh_token_of).collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 6, "six different fresh tokens");
    // The first token and six fresh ones, all live, all one login.
    assert_eq!(live_tokens(&app, &user).await, (7, 1));
    for token in &tokens {
        assert_eq!(refresh(&app, token).await.status, StatusCode::OK);
    }
}

/// With `PAINLINE_REFRESH_GRACE=0` the race is strict: of concurrent
/// refreshes with one token exactly one succeeds, and the losers count as
/// reuse, which revokes the whole login.
#[tokio::test]
async fn with_no_grace_of_concurrent_refreshes_exactly_one_succeeds() {
    let app = spawn_app_with(|s| s.refresh_grace = 0).await;
    let user = app.register_patient().await;
    let replies =
        futures_util::future::join_all((0..6).map(|_| refresh(&app, &user.refresh))).await;
    let winners: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        reply.assert_problem(401, "invalid_refresh_token");
    }
    let after = refresh(&app, &refresh_token_of(winners[0])).await;
    after.assert_problem(401, "invalid_refresh_token");
    assert_eq!(live_tokens(&app, &user).await.0, 0);
}

/// The grace is measured from the token's first use, on the injected
/// (frozen) clock: presented again exactly 10 s later (the default grace),
/// it gets a fresh pair of the same login, on another instance too; one
/// microsecond later, it revokes the login, pairs handed out in the grace
/// included.
#[tokio::test]
async fn a_used_refresh_token_is_accepted_again_for_the_grace_and_revokes_after() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let user = app.register_patient().await;
    app.clock.freeze();
    let first = refresh(&app, &user.refresh).await;
    assert_eq!(first.status, StatusCode::OK);

    app.clock.advance(chrono::Duration::seconds(10));
    let again = refresh(&second, &user.refresh).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_ne!(refresh_token_of(&again), refresh_token_of(&first));
    let access = again.body["tokens"]["access_token"].as_str().unwrap();
    assert_eq!(app.get("/v1/me", access).await.status, StatusCode::OK);
    // The original, and one fresh token from each use: one login.
    assert_eq!(live_tokens(&app, &user).await, (3, 1));

    app.clock.advance(chrono::Duration::microseconds(1));
    refresh(&second, &user.refresh)
        .await
        .assert_problem(401, "invalid_refresh_token");
    assert_eq!(live_tokens(&app, &user).await.0, 0);
    for token in [refresh_token_of(&first), refresh_token_of(&again)] {
        refresh(&app, &token)
            .await
            .assert_problem(401, "invalid_refresh_token");
    }
}

/// With the grace at 0 (strict), presenting a used token again at once,
/// at the same microsecond, revokes the login.
#[tokio::test]
async fn with_no_grace_a_used_token_presented_again_revokes_at_once() {
    let app = spawn_app_with(|s| s.refresh_grace = 0).await;
    let user = app.register_patient().await;
    app.clock.freeze();
    let first = refresh(&app, &user.refresh).await;
    assert_eq!(first.status, StatusCode::OK);
    refresh(&app, &user.refresh)
        .await
        .assert_problem(401, "invalid_refresh_token");
    refresh(&app, &refresh_token_of(&first))
        .await
        .assert_problem(401, "invalid_refresh_token");
}

/// The grace never revives a login that was ended: a token revoked by
/// logout is refused at once, and one presented after its login was revoked
/// by reuse too.
#[tokio::test]
async fn the_grace_never_revives_a_revoked_login() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let first = refresh(&app, &user.refresh).await;
    assert_eq!(first.status, StatusCode::OK);
    let logout = app
        .post(
            "/v1/auth/logout",
            None,
            json!({"refresh_token": refresh_token_of(&first)}),
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    // Within the grace of the first token's use, but its login is over.
    refresh(&app, &user.refresh)
        .await
        .assert_problem(401, "invalid_refresh_token");
    refresh(&app, &refresh_token_of(&first))
        .await
        .assert_problem(401, "invalid_refresh_token");
    assert_eq!(live_tokens(&app, &user).await.0, 0);
}

#[tokio::test]
async fn refresh_tokens_expire() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    app.clock.advance(chrono::Duration::seconds(2_592_000));
    let reply = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": user.refresh}),
        )
        .await;
    reply.assert_problem(401, "invalid_refresh_token");
    let unknown = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": "not-a-token"}),
        )
        .await;
    unknown.assert_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_revokes_that_login_only() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let other = app.login(&user.email, PASSWORD).await;
    let other_refresh = other.body["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let reply = app
        .post(
            "/v1/auth/logout",
            None,
            json!({"refresh_token": user.refresh}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    app.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": user.refresh}),
    )
    .await
    .assert_problem(401, "invalid_refresh_token");
    assert_eq!(
        app.post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": other_refresh})
        )
        .await
        .status,
        StatusCode::OK
    );
    // Logging out twice, or with an unknown token, is still 204.
    let again = app
        .post(
            "/v1/auth/logout",
            None,
            json!({"refresh_token": user.refresh}),
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn guesses_sent_in_parallel_all_count_against_the_limit() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let replies = futures_util::future::join_all((0..20).map(|i| {
        app.login(
            &user.email,
            if i == 19 {
                PASSWORD
            } else {
                "parallel guess 1234"
            },
        )
    }))
    .await;
    let wrong = replies
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    // At most five attempts were checked at all; the rest were refused unchecked.
    assert!(
        wrong + ok <= 5,
        "{wrong} wrong, {ok} ok, {throttled} throttled"
    );
    assert_eq!(wrong + ok + throttled, 20);
    assert!(
        app.count("login_failures", &format!("email = '{}'", user.email))
            .await
            <= 5
    );
}

#[tokio::test]
async fn a_login_name_that_is_no_email_gets_the_same_answer_and_stores_nothing() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let reference = app.login("nobody@example.org", "wrong password 123").await;
    for email in ["a\u{0}b@example.org", "not an email", &"x".repeat(60_000)] {
        let reply = app.login(email, "wrong password 123").await;
        assert_eq!(
            (reply.status, &reply.text),
            (reference.status, &reference.text),
            "{:.40}",
            email
        );
    }
    // Only the one real attempt was counted.
    assert_eq!(app.count("login_failures", "1 = 1").await, 1);
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn housekeeping_forgets_expired_rows_only() {
    let app = spawn_app().await;
    let old = app.register_patient().await;
    app.login(&old.email, "wrong password 123").await;
    app.client
        .post(app.url("/v1/me/stretches"))
        .bearer_auth(&old.access)
        .header("idempotency-key", "k")
        .json(&json!({"name": "Mine"}))
        .send()
        .await
        .unwrap();
    app.clock.advance(chrono::Duration::seconds(2_592_000));
    let fresh = app.register_patient().await;
    app.login(&fresh.email, "wrong password 123").await;

    let now = app.clock.now_naive();
    let removed = app
        .db()
        .write(move |conn| painline::db::accounts::prune_expired(conn, now))
        .await
        .unwrap();
    // The old failure, the old refresh token, the old idempotent answer.
    assert_eq!(removed, 3);
    assert_eq!(
        app.count("login_failures", &format!("email = '{}'", fresh.email))
            .await,
        1
    );
    assert_eq!(app.count("login_failures", "1 = 1").await, 1);
    assert_eq!(
        app.count("refresh_tokens", &format!("user_id = '{}'", fresh.id))
            .await,
        1
    );
    assert_eq!(app.count("refresh_tokens", "1 = 1").await, 1);
    assert_eq!(app.count("idempotency_keys", "1 = 1").await, 0);
    // The logbook itself is never touched.
    assert_eq!(
        app.count("records", &format!("patient_id = '{}'", old.id))
            .await,
        1
    );
}

/// Guessing from many addresses locks the account for every address, but
/// not its owner: a login already open keeps refreshing during the
/// lockout, and a completed password reset (which proves the address)
/// lifts it at once, so the new password signs in right away.
#[tokio::test]
async fn a_distributed_lockout_does_not_keep_the_owner_out() {
    let mut smtp = crate::mail::SmtpServer::start();
    let url = smtp.url();
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.mail.transport = painline::config::MailTransportSetting::Smtp(url);
    })
    .await;
    let user = app.register_patient().await;
    smtp.next_about("Confirm your e-mail").await;
    let attempt = |ip: String, password: &str| {
        let request = app
            .client
            .post(app.url("/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": user.email, "password": password}));
        async move { crate::helpers::read(request.send().await.unwrap()).await }
    };
    // Five wrong passwords from each of 20 addresses.
    for client in 0..20 {
        for _ in 0..5 {
            let reply = attempt(format!("198.51.100.{client}"), "wrong password 123").await;
            reply.assert_problem(401, "invalid_credentials");
        }
    }
    attempt("192.0.2.7".into(), PASSWORD)
        .await
        .assert_problem(429, "too_many_attempts");

    // The owner's open login keeps refreshing.
    let refreshed = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": user.refresh}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);

    // A reset proves the address and lifts the account-wide lockout.
    let asked = crate::mail::reset(&app, &user.email).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let token = smtp.next_about("Reset").await.token("/reset-password");
    let done = crate::mail::confirm(&app, &token, "the owner's new password").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let signed_in = attempt("192.0.2.7".into(), "the owner's new password").await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    assert_eq!(
        app.count("login_failures", &format!("email = '{}'", user.email))
            .await,
        0
    );
}
