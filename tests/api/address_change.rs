//! Changing the account's address (docs/api-guide.md): the password is asked
//! for, a link goes to the new address and a notice to the old one, and
//! the address changes only when the link is used.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp, TestUser, PASSWORD};
use crate::mail::{app_with_smtp, confirm, reset, SmtpServer};

async fn change(app: &TestApp, user: &TestUser, body: Value) -> Reply {
    app.call(Method::PATCH, "/v1/me", Some(&user.access), Some(body))
        .await
}

async fn use_link(app: &TestApp, token: &str) -> Reply {
    app.post("/v1/auth/verify-email", None, json!({"token": token}))
        .await
}

async fn queued(app: &TestApp, kind: &str) -> i64 {
    app.count("mail_outbox", &format!("kind = '{kind}'")).await
}

/// What the owner meets, mail by mail, over a real SMTP conversation.
#[tokio::test]
async fn an_address_changes_only_when_the_link_sent_to_it_is_used() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let user = app.register_patient().await;
    smtp.next_about("Confirm your e-mail").await;
    let new = format!("moved-{}@example.net", uuid::Uuid::new_v4().simple());

    let asked = change(
        &app,
        &user,
        json!({"email": new.to_uppercase(), "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.text);
    assert_eq!(asked.body["email"], user.email.as_str());

    // Two mails, queued together (sent in either order).
    let (first, second) = (smtp.next().await, smtp.next().await);
    let about = |words: &str| {
        [&first, &second]
            .into_iter()
            .find(|m| m.header("Subject").is_some_and(|s| s.contains(words)))
            .unwrap_or_else(|| panic!("no mail about {words}"))
            .clone()
    };
    // The link goes to the new address only…
    let link = about("Confirm your new e-mail address");
    assert_eq!(link.to, vec![new.clone()]);
    let body = link.decoded();
    assert!(body.contains("Content-Type: text/plain") && body.contains("Content-Type: text/html"));
    let expires = (app.clock.now() + chrono::Duration::hours(24))
        .format("%Y-%m-%d")
        .to_string();
    assert!(body.contains(&expires), "{body}");
    let token = link.token("/verify-email");
    // …and a notice, without a link, to the old one, the new one masked.
    let notice = about("is being changed");
    assert_eq!(notice.to, vec![user.email.clone()]);
    let notice = notice.decoded();
    assert!(!notice.contains("#token="), "{notice}");
    assert!(!notice.contains(&new), "{notice}");
    assert!(notice.contains("@example.net"), "{notice}");

    // Until the link is used, nothing has changed.
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status,
        StatusCode::OK
    );
    // A reset link sent meanwhile to the old address…
    assert_eq!(reset(&app, &user.email).await.status, StatusCode::ACCEPTED);
    let old_reset = smtp.next_about("Reset").await.token("/reset-password");

    let used = use_link(&app, &token).await;
    assert_eq!(used.status, StatusCode::OK, "{}", used.text);
    assert_eq!(
        used.body,
        json!({"status": "address_changed",
               "ended": {"care_team_links": 0, "invitations": 0, "logins": 0}})
    );
    let me = app.get("/v1/me", &user.access).await;
    assert_eq!(
        (&me.body["email"], &me.body["email_verified"]),
        (&json!(new), &json!(true))
    );
    assert_eq!(app.login(&new, PASSWORD).await.status, StatusCode::OK);
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // …works no more, and the link itself works once.
    confirm(&app, &old_reset, "a password from the old mailbox")
        .await
        .assert_problem(400, "invalid_token");
    use_link(&app, &token)
        .await
        .assert_problem(400, "invalid_token");
}

#[tokio::test]
async fn a_change_of_address_needs_the_password_and_changes_nothing_when_refused() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let other = app.register_therapist().await;

    let no_password = change(&app, &user, json!({"email": "new@example.org"})).await;
    no_password.assert_problem(422, "validation_failed");
    assert_eq!(no_password.error_fields(), vec!["current_password"]);
    let bad_address = change(
        &app,
        &user,
        json!({"email": "not an address", "current_password": PASSWORD}),
    )
    .await;
    bad_address.assert_problem(422, "validation_failed");
    assert_eq!(bad_address.error_fields(), vec!["email"]);
    // A wrong password: nothing of the request is applied.
    let wrong = change(
        &app,
        &user,
        json!({"email": "new@example.org", "current_password": "not my password",
               "display_name": "Renamed"}),
    )
    .await;
    wrong.assert_problem(403, "wrong_password");
    assert_eq!(wrong.error_fields(), vec!["current_password"]);
    // Another account's address, in any case.
    let taken = change(
        &app,
        &user,
        json!({"email": other.email.to_uppercase(), "current_password": PASSWORD,
               "display_name": "Renamed"}),
    )
    .await;
    taken.assert_problem(409, "email_taken");
    // The same address again is no change: no password needed, no mail.
    let same = change(
        &app,
        &user,
        json!({"email": user.email, "display_name": "Same"}),
    )
    .await;
    same.assert_problem(422, "validation_failed");
    let same = change(
        &app,
        &user,
        json!({"email": user.email, "current_password": "irrelevant", "display_name": "Same"}),
    )
    .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);

    let me = app.get("/v1/me", &user.access).await;
    assert_eq!(
        (&me.body["email"], &me.body["display_name"]),
        (&json!(user.email), &json!("Same"))
    );
    assert_eq!(queued(&app, "change_email").await, 0);
    assert_eq!(queued(&app, "address_change_notice").await, 0);
    assert_eq!(
        app.count("account_tokens", "purpose = 'change_email'")
            .await,
        0
    );
}

/// The address is checked again when the link is used: taken meanwhile,
/// it is 409 and the account keeps its address.
#[tokio::test]
async fn an_address_taken_before_the_link_is_used_is_a_conflict() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let user = app.register_patient().await;
    smtp.next_about("Confirm your e-mail").await;
    let wanted = format!("wanted-{}@example.org", uuid::Uuid::new_v4().simple());
    let asked = change(
        &app,
        &user,
        json!({"email": wanted, "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.text);
    // The notice to the old address may come first.
    let mut mails = vec![smtp.next().await, smtp.next().await];
    mails.retain(|m| m.to[0] == wanted);
    let token = mails[0].token("/verify-email");
    let quicker = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": wanted, "password": PASSWORD, "display_name": "Quicker",
                   "role": "patient"}),
        )
        .await;
    assert_eq!(quicker.status, StatusCode::CREATED);

    use_link(&app, &token)
        .await
        .assert_problem(409, "email_taken");
    let me = app.get("/v1/me", &user.access).await;
    assert_eq!(me.body["email"], user.email.as_str());
    assert_eq!(app.count("users", &format!("email = '{wanted}'")).await, 1);
}

#[tokio::test]
async fn changes_of_address_are_throttled_per_account() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    for n in 0..5 {
        let asked = change(
            &app,
            &user,
            json!({"email": format!("try{n}@example.org"), "current_password": PASSWORD}),
        )
        .await;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.text);
    }
    let sixth = change(
        &app,
        &user,
        json!({"email": "try5@example.org", "current_password": PASSWORD}),
    )
    .await;
    sixth.assert_problem(429, "too_many_attempts");
    assert!(sixth.header("retry-after").is_some());
    assert_eq!(queued(&app, "change_email").await, 5);
    // Only the newest link works: each voids the one before.
    assert_eq!(
        app.count(
            "account_tokens",
            "purpose = 'change_email' AND used_at IS NULL"
        )
        .await,
        1
    );
}

/// The notice tells the owner to change the password at once; doing so
/// (or resetting it) stops the change asked for with the old one.
#[tokio::test]
async fn a_new_password_cancels_a_pending_change_of_address() {
    let mut smtp = SmtpServer::start();
    let app = app_with_smtp(&smtp).await;
    let owner = app.register_patient().await;
    smtp.next_about("Confirm your e-mail").await;
    let thief = format!("thief-{}@example.net", uuid::Uuid::new_v4().simple());
    let asked = change(
        &app,
        &owner,
        json!({"email": thief, "current_password": PASSWORD}),
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.text);
    let mut mails = vec![smtp.next().await, smtp.next().await];
    mails.retain(|m| m.to[0] == thief);
    let token = mails[0].token("/verify-email");

    let changed = app
        .post(
            "/v1/me/password",
            Some(&owner.access),
            json!({"current_password": PASSWORD, "new_password": "the owner's new password"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.text);
    use_link(&app, &token)
        .await
        .assert_problem(400, "invalid_token");
    let signed_in = app.login(&owner.email, "the owner's new password").await;
    assert_eq!(signed_in.status, StatusCode::OK);
    assert_eq!(signed_in.body["user"]["email"], owner.email.as_str());
}

/// Every change asked for counts, also one answered 409: the answer
/// cannot be used to test addresses for accounts beyond the limit.
#[tokio::test]
async fn a_taken_address_counts_toward_the_limit() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let other = app.register_patient().await;
    for _ in 0..5 {
        change(
            &app,
            &user,
            json!({"email": other.email, "current_password": PASSWORD}),
        )
        .await
        .assert_problem(409, "email_taken");
    }
    change(
        &app,
        &user,
        json!({"email": "free@example.org", "current_password": PASSWORD}),
    )
    .await
    .assert_problem(429, "too_many_attempts");
    change(
        &app,
        &user,
        json!({"email": other.email, "current_password": PASSWORD}),
    )
    .await
    .assert_problem(429, "too_many_attempts");
}
