//! Stored data outlives the code that wrote it: rows written by an older or
//! a newer build stay readable through every route and the sync feed; a
//! database made by the previous release is migrated without losing
//! anything; and the database itself refuses values out of range.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use painline::auth::TokenService;
use painline::config::{DatabaseUrl, JwtSecret};
use painline::db::schema::records;
use painline::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{spawn_app, spawn_app_after, test_today, TestApp, TestUser, TEST_SECRET};

const KNEE_TO_CHEST: &str = "5cc4de70-afe9-4d31-8df2-1cc2bd1c45ab";

async fn data_of(app: &TestApp, id: &str) -> Value {
    let id = id.to_owned();
    let text = app
        .with_db(move |conn| {
            records::table
                .find(id)
                .select(records::data)
                .first::<String>(conn)
        })
        .await;
    serde_json::from_str(&text).unwrap()
}

async fn set_data(app: &TestApp, id: &str, data: &Value) {
    let (id, text) = (id.to_owned(), data.to_string());
    app.with_db(move |conn| {
        diesel::update(records::table.find(id))
            .set(records::data.eq(text))
            .execute(conn)
    })
    .await;
}

/// One object per kind, where it lives, and what changing its stored JSON
/// as another build would (an unknown field added, optional ones missing)
/// must read back as.
struct Case {
    item: String,
    rewrite: fn(&mut Value),
    expect: Value,
}

async fn create(app: &TestApp, user: &TestUser, collection: &str, body: Value) -> String {
    let reply = app.post(collection, Some(&user.access), body).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{collection}: {}",
        reply.text
    );
    format!("{collection}/{}", reply.body["id"].as_str().unwrap())
}

#[tokio::test]
async fn rows_from_older_and_newer_builds_read_through_every_route() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let today = test_today().to_string();
    let own_stretch = create(
        &app,
        &user,
        "/v1/me/stretches",
        json!({"name": "Doorway stretch", "description": "Lean through", "targets": ["latissimus_dorsi"]}),
    )
    .await;
    let declared = app
        .call(
            Method::PUT,
            "/v1/me/conditions/osteoporosis",
            Some(&user.access),
            Some(json!({"note": "T-score -2.7"})),
        )
        .await;
    assert_eq!(declared.status, StatusCode::CREATED, "{}", declared.text);
    let cases = vec![
        Case {
            item: create(&app, &user, "/v1/me/pain-entries", json!({"date": today, "pain_level": 6,
                "regions": ["hip_left"], "enjoyment_interference": 4, "activity_interference": 5, "notes": "x"})).await,
            rewrite: |d| {
                d["mood"] = json!("cheerful");
                d.as_object_mut().unwrap().remove("notes");
                d.as_object_mut().unwrap().remove("regions");
            },
            expect: json!({"pain_level": 6, "regions": [], "notes": null, "peg_score": 5.0}),
        },
        Case {
            item: create(&app, &user, "/v1/me/stretch-sessions", json!({"date": today,
                "stretch_id": KNEE_TO_CHEST, "duration_seconds": 120, "side": "left", "sets": 2})).await,
            rewrite: |d| {
                d["tempo"] = json!(3);
                d.as_object_mut().unwrap().remove("side");
            },
            expect: json!({"duration_seconds": 120, "stretch_id": KNEE_TO_CHEST, "side": null, "sets": 2}),
        },
        Case {
            item: create(&app, &user, "/v1/me/massage-sessions", json!({"date": today,
                "duration_minutes": 60, "technique": "deep_tissue", "pressure": "firm",
                "areas": [{"muscle": "quadratus_lumborum", "side": "both", "minutes": 40}]})).await,
            rewrite: |d| {
                d["room"] = json!("2");
                d["areas"][0]["trigger_points"] = json!(4);
                d.as_object_mut().unwrap().remove("pressure");
            },
            expect: json!({"duration_minutes": 60, "pressure": null,
                "areas": [{"muscle": "quadratus_lumborum", "side": "both", "minutes": 40}]}),
        },
        Case {
            item: create(&app, &user, "/v1/me/assessments", json!({"date": today,
                "instrument": "peg", "answers": [6, 5, 4]})).await,
            rewrite: |d| d["language"] = json!("de"),
            expect: json!({"instrument": "peg", "answers": [6, 5, 4], "score": 5.0}),
        },
        Case {
            item: own_stretch,
            rewrite: |d| {
                d["video"] = json!("https://example.org/v");
                d.as_object_mut().unwrap().remove("description");
                d.as_object_mut().unwrap().remove("targets");
            },
            expect: json!({"name": "Doorway stretch", "description": null, "targets": []}),
        },
        Case {
            item: "/v1/me/conditions/osteoporosis".to_owned(),
            rewrite: |d| {
                d["severity"] = json!("high");
                d.as_object_mut().unwrap().remove("note");
            },
            expect: json!({"condition": "osteoporosis", "note": null}),
        },
    ];

    for case in &cases {
        let before = app.get(&case.item, &user.access).await;
        assert_eq!(before.status, StatusCode::OK, "{}", before.text);
        let id = before.body["id"].as_str().unwrap().to_owned();
        let mut data = data_of(&app, &id).await;
        (case.rewrite)(&mut data);
        set_data(&app, &id, &data).await;

        let after = app.get(&case.item, &user.access).await;
        assert_eq!(
            after.status,
            StatusCode::OK,
            "{}: {}",
            case.item,
            after.text
        );
        for (field, value) in case.expect.as_object().unwrap() {
            assert_eq!(
                &after.body[field], value,
                "{}: {field} in {}",
                case.item, after.text
            );
        }
        // Nothing unknown leaks into answers.
        for unknown in ["mood", "tempo", "room", "language", "video", "severity"] {
            assert!(after.body.get(unknown).is_none(), "{}", after.text);
        }
        assert!(!after.text.contains("trigger_points"), "{}", after.text);
        assert_eq!(after.body["version"], before.body["version"]);

        // The same object in its list and in the sync feed.
        let collection = case.item.rsplit_once('/').unwrap().0;
        let listed = if collection == "/v1/me/stretches" {
            app.get("/v1/stretches", &user.access).await
        } else {
            app.get(collection, &user.access).await
        };
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
        let in_list = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not in {collection}: {}", listed.text));
        assert_eq!(in_list, &after.body);
    }
    let feed = app.get("/v1/me/changes", &user.access).await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text);
    let changes = feed.body["changes"].as_array().unwrap();
    assert_eq!(changes.len(), cases.len());
    for case in &cases {
        let current = app.get(&case.item, &user.access).await.body;
        let change = changes
            .iter()
            .find(|c| c["id"] == current["id"])
            .unwrap_or_else(|| panic!("{} not in the feed", case.item));
        assert_eq!(change["data"], current, "{}", case.item);
    }
}

#[tokio::test]
async fn the_database_refuses_values_out_of_range() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let today = test_today().to_string();
    let entry = create(
        &app,
        &user,
        "/v1/me/pain-entries",
        json!({"date": today, "pain_level": 4}),
    )
    .await;
    let massage = create(
        &app,
        &user,
        "/v1/me/massage-sessions",
        json!({"date": today, "duration_minutes": 30, "technique": "swedish", "areas": []}),
    )
    .await;
    let stretch = create(
        &app,
        &user,
        "/v1/me/stretch-sessions",
        json!({"date": today, "stretch_id": KNEE_TO_CHEST, "duration_seconds": 60}),
    )
    .await;
    let snapshot = [
        app.get(&entry, &user.access).await.body,
        app.get(&massage, &user.access).await.body,
        app.get(&stretch, &user.access).await.body,
    ];
    let id_of = |snap: &Value| snap["id"].as_str().unwrap().to_owned();
    let (e, m, s) = (
        id_of(&snapshot[0]),
        id_of(&snapshot[1]),
        id_of(&snapshot[2]),
    );

    let results = app
        .with_db(move |conn| {
            let set = |conn: &mut painline::db::DbConnection, id: &str, sql: &str| {
                // Each attempt in its own statement; a refused one changes nothing.
                diesel::sql_query(format!("UPDATE records SET {sql} WHERE id = '{id}'"))
                    .execute(conn)
            };
            Ok::<_, diesel::result::Error>(vec![
                ("pain_level 11", set(conn, &e, "pain_level = 11")),
                ("pain_level -1", set(conn, &e, "pain_level = -1")),
                (
                    "a live pain entry without a level",
                    set(conn, &e, "pain_level = NULL"),
                ),
                ("duration_minutes 0", set(conn, &m, "duration_minutes = 0")),
                (
                    "duration_minutes 301",
                    set(conn, &m, "duration_minutes = 301"),
                ),
                (
                    "a live massage session without a duration",
                    set(conn, &m, "duration_minutes = NULL"),
                ),
                ("duration_seconds 0", set(conn, &s, "duration_seconds = 0")),
                (
                    "duration_seconds 7201",
                    set(conn, &s, "duration_seconds = 7201"),
                ),
                (
                    "a live stretch session without a stretch",
                    set(conn, &s, "stretch_id = NULL"),
                ),
                (
                    "an author role that is no role",
                    set(conn, &e, "author_role = 'admin'"),
                ),
            ])
        })
        .await;
    for (what, result) in results {
        assert!(result.is_err(), "the database accepted {what}");
    }
    // The boundaries themselves are accepted.
    let (e2, m2, s2) = (
        id_of(&snapshot[0]),
        id_of(&snapshot[1]),
        id_of(&snapshot[2]),
    );
    app.with_db(move |conn| {
        for (id, sql) in [
            (&e2, "pain_level = 10"),
            (&e2, "pain_level = 0"),
            (&m2, "duration_minutes = 300"),
            (&s2, "duration_seconds = 7200"),
        ] {
            diesel::sql_query(format!("UPDATE records SET {sql} WHERE id = '{id}'"))
                .execute(conn)?;
        }
        diesel::sql_query(format!(
            "UPDATE records SET duration_minutes = 30 WHERE id = '{m2}'"
        ))
        .execute(conn)?;
        diesel::sql_query(format!(
            "UPDATE records SET duration_seconds = 60 WHERE id = '{s2}'"
        ))
        .execute(conn)?;
        diesel::sql_query(format!(
            "UPDATE records SET pain_level = 4 WHERE id = '{e2}'"
        ))
        .execute(conn)
    })
    .await;
    // What the API serves is what was stored through it.
    assert_eq!(app.get(&entry, &user.access).await.body, snapshot[0]);
    assert_eq!(app.get(&massage, &user.access).await.body, snapshot[1]);
    assert_eq!(app.get(&stretch, &user.access).await.body, snapshot[2]);

    // A deleted entry keeps no content, so the rule does not apply to it.
    let deleted = app
        .call(Method::DELETE, &entry, Some(&user.access), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let e3 = id_of(&snapshot[0]);
    let cleared = app
        .with_db(move |conn| {
            records::table
                .find(e3)
                .select((records::pain_level, records::data))
                .first::<(Option<i32>, String)>(conn)
        })
        .await;
    assert_eq!(cleared, (None, "null".to_owned()));
}

// ---------------------------------------------------------------- migration

/// Applies the migrations of the release before typed columns (the first
/// two of each folder), as a database made by that release has them.
fn previous_release<DB, C>(conn: &mut C, migrations: EmbeddedMigrations)
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: MigrationSource<DB>,
{
    // Creates diesel's bookkeeping table, as the first run of that release did.
    assert!(conn.applied_migrations().unwrap().is_empty());
    let mut all = MigrationSource::<DB>::migrations(&migrations).unwrap();
    all.sort_by_key(|m| m.name().to_string());
    for migration in all.iter().take(2) {
        conn.run_migration(&**migration).unwrap();
    }
}

const PATIENT: &str = "0b7f3a52-3c55-4a0e-9a0c-5e7a1f3b9d11";
const ENTRY: &str = "1a000000-0000-4000-8000-000000000001";
const SESSION: &str = "1a000000-0000-4000-8000-000000000002";
const MASSAGE: &str = "1a000000-0000-4000-8000-000000000003";
const ASSESSMENT: &str = "1a000000-0000-4000-8000-000000000004";
const OWN_STRETCH: &str = "1a000000-0000-4000-8000-000000000005";
const CONDITION: &str = "1a000000-0000-4000-8000-000000000006";
const DELETED: &str = "1a000000-0000-4000-8000-000000000007";
const ODD: &str = "1a000000-0000-4000-8000-000000000008";
/// A phone's login from before logins were listed, and its live refresh token.
const FAMILY: &str = "1b000000-0000-4000-8000-000000000001";
const REFRESH: &str = "refresh-token-of-the-previous-release";
/// A login that was signed out before the upgrade.
const SIGNED_OUT: &str = "1b000000-0000-4000-8000-000000000003";

/// The body a phone POSTed under the saved Idempotency-Key, as the previous
/// release serialised it for the fingerprint.
const POSTED: &str = r#"{"date":"2026-11-21","pain_level":5,"recorded_at":null,"regions":[],"enjoyment_interference":null,"activity_interference":null,"notes":null}"#;

/// What the previous release wrote: every kind, a tombstone, a saved answer.
fn previous_release_rows() -> String {
    let row = |id: &str, kind: &str, date: &str, data: &str, seq: i64, key: &str| {
        format!(
            "INSERT INTO records (id, patient_id, kind, date, author_id, author_role, data, version, change_seq, created_at, updated_at, deleted_at, natural_key) \
             VALUES ('{id}', '{PATIENT}', '{kind}', {date}, '{PATIENT}', 'patient', '{data}', 1, {seq}, '2026-11-21 09:00:00', '2026-11-21 09:00:00', NULL, {key});\n"
        )
    };
    let fingerprint: String = Sha256::digest(format!("POST /me/pain-entries {POSTED}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let saved_body = json!({"id": ENTRY, "version": 1}).to_string();
    [
        format!("INSERT INTO users (id, email, password_hash, display_name, role, timezone, change_seq, created_at, updated_at) \
                 VALUES ('{PATIENT}', 'before@example.org', 'not-a-hash', 'Before', 'patient', 'Europe/Berlin', 8, '2026-11-01 08:00:00', '2026-11-01 08:00:00');\n"),
        row(ENTRY, "pain_entry", "'2026-11-20'",
            r#"{"date":"2026-11-20","pain_level":7,"recorded_at":"2026-11-20T07:30:00.123456Z","regions":["lower_back_left"],"enjoyment_interference":5,"activity_interference":6,"notes":"stiff"}"#, 1, "NULL"),
        row(SESSION, "stretch_session", "'2026-11-20'",
            &format!(r#"{{"date":"2026-11-20","stretch_id":"{KNEE_TO_CHEST}","duration_seconds":300,"sets":2,"reps":null,"side":"both","notes":null}}"#), 2, "NULL"),
        row(MASSAGE, "massage_session", "'2026-11-19'",
            r#"{"date":"2026-11-19","started_at":"2026-11-19T16:00:00.1234567Z","duration_minutes":60,"technique":"deep_tissue","pressure":"firm","areas":[{"muscle":"quadratus_lumborum","side":"left","minutes":20},{"muscle":"quadratus_lumborum","side":"right","minutes":20},{"muscle":"gluteus_medius","side":"both","minutes":20}],"pain_before":7,"pain_after":3,"notes":null}"#, 3, "NULL"),
        row(ASSESSMENT, "assessment", "'2026-11-18'",
            r#"{"date":"2026-11-18","instrument":"odi","answers":[3,3,3,3,3,3,3,3,3,null]}"#, 4, "NULL"),
        row(OWN_STRETCH, "stretch", "NULL",
            r#"{"name":"Doorway stretch","description":null,"targets":["latissimus_dorsi"]}"#, 5, "NULL"),
        row(CONDITION, "condition", "NULL",
            r#"{"condition":"osteoporosis","note":"T-score -2.7"}"#, 6, "'osteoporosis'"),
        format!("INSERT INTO records (id, patient_id, kind, date, author_id, author_role, data, version, change_seq, created_at, updated_at, deleted_at, natural_key) \
                 VALUES ('{DELETED}', '{PATIENT}', 'pain_entry', '2026-11-17', '{PATIENT}', 'patient', 'null', 2, 7, '2026-11-17 09:00:00', '2026-11-18 09:00:00', '2026-11-18 09:00:00', NULL);\n"),
        // What the previous release let through: a NUL in a note (jsonb
        // refuses its escape) and a timestamp PostgreSQL cannot hold.
        row(ODD, "pain_entry", "'2026-11-16'",
            r#"{"date":"2026-11-16","pain_level":4,"recorded_at":"0000-01-01T00:00:00Z","regions":[],"enjoyment_interference":null,"activity_interference":null,"notes":"a\u0000b"}"#, 8, "NULL"),
        format!("INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at, used_at, revoked_at) \
                 VALUES ('1b000000-0000-4000-8000-000000000002', '{PATIENT}', '{FAMILY}', '{}', '{} 08:00:00', '{} 08:00:00', NULL, NULL);\n",
                painline::auth::tokens::hash_refresh_token(REFRESH),
                test_today(),
                test_today() + chrono::Duration::days(20)),
        format!("INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at, used_at, revoked_at) \
                 VALUES ('1b000000-0000-4000-8000-000000000004', '{PATIENT}', '{SIGNED_OUT}', 'not-a-live-hash', '{} 07:00:00', '{} 07:00:00', NULL, '{} 07:30:00');\n",
                test_today(),
                test_today() + chrono::Duration::days(20),
                test_today()),
        format!("INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, location, etag, created_at) \
                 VALUES ('{PATIENT}', 'phone-42', '{fingerprint}', 201, '{saved_body}', '/v1/me/pain-entries/{ENTRY}', '\"1\"', '{}');\n",
                chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S")),
    ]
    .concat()
}

fn made_by_the_previous_release(database: &DatabaseUrl) {
    let rows = previous_release_rows();
    match database {
        DatabaseUrl::Sqlite(path) => {
            let mut conn =
                diesel::sqlite::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
            previous_release(&mut conn, painline::db::SQLITE_MIGRATIONS);
            conn.batch_execute(&rows).unwrap();
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn = diesel::pg::PgConnection::establish(url).unwrap();
            previous_release(&mut conn, painline::db::POSTGRES_MIGRATIONS);
            conn.batch_execute(&rows).unwrap();
        }
    }
}

#[tokio::test]
async fn a_database_made_by_the_previous_release_is_migrated_whole() {
    let app = spawn_app_after(made_by_the_previous_release).await;
    let token = TokenService::new(
        &JwtSecret::new(TEST_SECRET.to_vec()).unwrap(),
        900,
        2_592_000,
    )
    .issue_access(
        PATIENT.parse().unwrap(),
        Role::Patient,
        // The phone's login, which the previous release stored.
        FAMILY.parse().unwrap(),
        app.clock.now(),
    )
    .unwrap();

    // The typed columns were filled from the JSON.
    let typed = app
        .with_db(|conn| {
            records::table
                .filter(records::patient_id.eq(PATIENT))
                .order(records::change_seq.asc())
                .select((
                    records::pain_level,
                    records::duration_seconds,
                    records::stretch_id,
                    records::duration_minutes,
                    records::started_at.is_not_null(),
                    records::recorded_at.is_not_null(),
                ))
                .load::<(
                    Option<i32>,
                    Option<i32>,
                    Option<String>,
                    Option<i32>,
                    bool,
                    bool,
                )>(conn)
        })
        .await;
    assert_eq!(
        typed,
        vec![
            (Some(7), None, None, None, false, true),
            (
                None,
                Some(300),
                Some(KNEE_TO_CHEST.to_owned()),
                None,
                false,
                false
            ),
            (None, None, None, Some(60), true, false),
            (None, None, None, None, false, false),
            (None, None, None, None, false, false),
            (None, None, None, None, false, false),
            (None, None, None, None, false, false),
            (Some(4), None, None, None, false, false),
        ]
    );

    // Every object reads back as the previous release served it.
    let entry = app
        .get(&format!("/v1/me/pain-entries/{ENTRY}"), &token)
        .await;
    assert_eq!(entry.status, StatusCode::OK, "{}", entry.text);
    assert_eq!(entry.header("etag"), Some("\"1\""));
    for (field, value) in [
        ("pain_level", json!(7)),
        ("recorded_at", json!("2026-11-20T07:30:00.123456Z")),
        ("regions", json!(["lower_back_left"])),
        ("peg_score", json!(6.0)),
        ("notes", json!("stiff")),
        ("created_at", json!("2026-11-21T09:00:00Z")),
    ] {
        assert_eq!(entry.body[field], value, "{field}: {}", entry.text);
    }
    let session = app
        .get(&format!("/v1/me/stretch-sessions/{SESSION}"), &token)
        .await;
    assert_eq!(
        (
            &session.body["duration_seconds"],
            &session.body["stretch_id"],
            &session.body["sets"]
        ),
        (&json!(300), &json!(KNEE_TO_CHEST), &json!(2)),
        "{}",
        session.text
    );
    // Seven digits of a second, truncated to six as new writes are.
    let massage = app
        .get(&format!("/v1/me/massage-sessions/{MASSAGE}"), &token)
        .await;
    assert_eq!(
        massage.body["started_at"], "2026-11-19T16:00:00.123456Z",
        "{}",
        massage.text
    );
    assert_eq!(massage.body["duration_minutes"], 60);
    assert_eq!(massage.body["areas"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        massage.body["recorded_by"],
        json!({"id": PATIENT, "role": "patient"})
    );
    let odi = app
        .get(&format!("/v1/me/assessments/{ASSESSMENT}"), &token)
        .await;
    assert_eq!(
        (&odi.body["score"], &odi.body["band"]),
        (&json!(60.0), &json!("severe"))
    );
    let condition = app.get("/v1/me/conditions/osteoporosis", &token).await;
    assert_eq!(condition.body["id"], CONDITION, "{}", condition.text);
    assert_eq!(condition.body["note"], "T-score -2.7");
    let catalog = app.get("/v1/stretches", &token).await;
    assert!(catalog.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == OWN_STRETCH));
    let gone = app
        .get(&format!("/v1/me/pain-entries/{DELETED}"), &token)
        .await;
    gone.assert_problem(404, "not_found");

    // An implausible time is not served (its raw value stays in the JSON);
    // the rest of the entry is, NUL and all.
    let odd = app.get(&format!("/v1/me/pain-entries/{ODD}"), &token).await;
    assert_eq!(odd.status, StatusCode::OK, "{}", odd.text);
    assert_eq!(
        (&odd.body["pain_level"], &odd.body["recorded_at"]),
        (&json!(4), &Value::Null)
    );
    assert_eq!(odd.body["notes"], "a\u{0}b");

    // The sync feed hands back all eight, in order.
    let feed = app.get("/v1/me/changes", &token).await;
    let ids: Vec<&str> = feed.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            ENTRY,
            SESSION,
            MASSAGE,
            ASSESSMENT,
            OWN_STRETCH,
            CONDITION,
            DELETED,
            ODD
        ]
    );
    assert_eq!(feed.body["changes"][6]["deleted"], true);
    assert_eq!(feed.body["changes"][0]["data"], entry.body);
    assert!(feed.body["next_cursor"].as_str().unwrap().ends_with("-8"));

    // A phone replaying the entry as it stored it changes nothing.
    let replay = app
        .call(
            Method::PUT,
            &format!("/v1/me/pain-entries/{ENTRY}"),
            Some(&token),
            Some(json!({"date": "2026-11-20", "pain_level": 7, "recorded_at": "2026-11-20T07:30:00.123456Z",
                        "regions": ["lower_back_left"], "enjoyment_interference": 5,
                        "activity_interference": 6, "notes": "stiff"})),
        )
        .await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.text);
    assert_eq!(replay.body["version"], 1);
    // A phone retrying the POST it sent before the upgrade gets its first answer.
    let retried = crate::helpers::read(
        app.client
            .post(app.url("/v1/me/pain-entries"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "phone-42")
            .header("content-type", "application/json")
            .body(POSTED)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text);
    assert_eq!(retried.body["id"], ENTRY);
    assert_eq!(
        app.count("records", &format!("patient_id = '{PATIENT}'"))
            .await,
        8
    );
    assert_eq!(
        app.get("/v1/me/changes?cursor=8", &token).await.body["changes"],
        json!([])
    );

    // The phone's login is listed (the signed-out one is not, and is
    // stored as ended), and its refresh token still works.
    assert_eq!(
        app.count(
            "logins",
            &format!("id = '{SIGNED_OUT}' AND ended_at IS NOT NULL")
        )
        .await,
        1
    );
    let logins = app.get("/v1/me/sessions", &token).await;
    assert_eq!(
        logins.body["items"],
        json!([{"id": FAMILY, "created_at": format!("{}T08:00:00Z", test_today()),
                "last_used_at": format!("{}T08:00:00Z", test_today()),
                "user_agent": null, "current": true}]),
        "{}",
        logins.text
    );
    let refreshed = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": REFRESH}))
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);

    // Rolling back: a new entry, then the migration reverted. Every row is
    // again what the previous release reads (its request types, which deny
    // unknown fields), and migrating up again serves the same objects.
    let fresh = "1a000000-0000-4000-8000-000000000009";
    let written = app
        .call(
            Method::PUT,
            &format!("/v1/me/pain-entries/{fresh}"),
            Some(&token),
            Some(json!({"date": "2026-11-21", "pain_level": 2, "recorded_at": "2026-11-21T20:15:00.5Z",
                        "notes": "after the upgrade"})),
        )
        .await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.text);
    let before: Vec<Value> = futures_all(&app, &token, &[ENTRY, fresh, ODD]).await;
    let rows = down_and_up(
        &app.database,
        &[ENTRY, fresh, ODD, SESSION, MASSAGE, ASSESSMENT, CONDITION],
    );
    for (id, data) in [ENTRY, fresh, ODD].iter().zip(&rows[..3]) {
        let body: painline::kinds::PainEntryBody =
            serde_json::from_value(data.clone()).unwrap_or_else(|e| panic!("{id}: {e}: {data}"));
        assert_eq!(body.date.to_string(), data["date"].as_str().unwrap());
    }
    assert_eq!(rows[1]["pain_level"], 2);
    let instant = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(
        instant(&rows[1]["recorded_at"]),
        instant(&json!("2026-11-21T20:15:00.5Z"))
    );
    assert_eq!(rows[2]["recorded_at"], "0000-01-01T00:00:00Z");
    serde_json::from_value::<painline::kinds::StretchSessionBody>(rows[3].clone()).unwrap();
    serde_json::from_value::<painline::kinds::MassageSessionBody>(rows[4].clone()).unwrap();
    serde_json::from_value::<painline::kinds::AssessmentBody>(rows[5].clone()).unwrap();
    assert_eq!(rows[6]["condition"], "osteoporosis");
    assert_eq!(
        futures_all(&app, &token, &[ENTRY, fresh, ODD]).await,
        before
    );
}

/// The pain entries `ids` as the API serves them.
async fn futures_all(app: &TestApp, token: &str, ids: &[&str]) -> Vec<Value> {
    let mut bodies = Vec::new();
    for id in ids {
        let reply = app.get(&format!("/v1/me/pain-entries/{id}"), token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        bodies.push(reply.body);
    }
    bodies
}

#[derive(QueryableByName)]
struct Data {
    #[diesel(sql_type = diesel::sql_types::Text)]
    data: String,
}

/// Reverts the migrations since the previous release, answers the JSON of `ids`, checks the
/// idempotency table has its `status` again, and migrates up again.
fn down_and_up(database: &DatabaseUrl, ids: &[&str]) -> Vec<Value> {
    macro_rules! round_trip {
        ($conn:expr, $migrations:expr) => {{
            let conn = &mut $conn;
            // Back to the previous release: every migration since it, newest first.
            while conn.revert_last_migration($migrations).unwrap().to_string() != "20261126000003" {
            }
            let rows: Vec<Value> = ids
                .iter()
                .map(|id| {
                    let row =
                        diesel::sql_query(format!("SELECT data FROM records WHERE id = '{id}'"))
                            .get_result::<Data>(conn)
                            .unwrap();
                    serde_json::from_str(&row.data).unwrap()
                })
                .collect();
            diesel::sql_query("SELECT status FROM idempotency_keys")
                .execute(conn)
                .unwrap();
            conn.run_pending_migrations($migrations).unwrap();
            rows
        }};
    }
    match database {
        DatabaseUrl::Sqlite(path) => round_trip!(
            diesel::sqlite::SqliteConnection::establish(&path.to_string_lossy()).unwrap(),
            painline::db::SQLITE_MIGRATIONS
        ),
        DatabaseUrl::Postgres(url) => round_trip!(
            diesel::pg::PgConnection::establish(url).unwrap(),
            painline::db::POSTGRES_MIGRATIONS
        ),
    }
}

#[tokio::test]
async fn a_stored_time_zone_that_does_not_parse_is_an_error_not_utc() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let id = user.id.clone();
    app.with_db(move |conn| {
        diesel::update(painline::db::schema::users::table.find(id))
            .set(painline::db::schema::users::timezone.eq("Mars/Olympus_Mons"))
            .execute(conn)
    })
    .await;
    let reply = app
        .post(
            "/v1/me/pain-entries",
            Some(&user.access),
            json!({"date": test_today().to_string(), "pain_level": 3}),
        )
        .await;
    // "Today" cannot be known, so the date rule cannot be applied: the
    // write is refused as a server fault (logged) rather than checked in UTC.
    reply.assert_problem(500, "internal_error");
    assert!(!reply.text.contains("Mars"), "{}", reply.text);
    assert_eq!(app.count("records", "1 = 1").await, 0);
}

#[tokio::test]
async fn timestamps_must_be_ones_both_backends_can_hold() {
    let app = spawn_app().await;
    let user = app.register_patient().await;
    let today = test_today().to_string();
    for at in [
        "-4800-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
    ] {
        let entry = app
            .post(
                "/v1/me/pain-entries",
                Some(&user.access),
                json!({"date": today, "pain_level": 3, "recorded_at": at}),
            )
            .await;
        entry.assert_problem(422, "validation_failed");
        assert_eq!(entry.error_fields(), vec!["recorded_at"], "{at}");
        let session = app
            .post(
                "/v1/me/massage-sessions",
                Some(&user.access),
                json!({"date": today, "started_at": at, "duration_minutes": 30,
                       "technique": "swedish", "areas": []}),
            )
            .await;
        session.assert_problem(422, "validation_failed");
        assert_eq!(session.error_fields(), vec!["started_at"], "{at}");
    }
    assert_eq!(app.count("records", "1 = 1").await, 0);
    // Nanoseconds are kept to the microsecond, the same on both backends.
    let entry = app
        .post(
            "/v1/me/pain-entries",
            Some(&user.access),
            json!({"date": today, "pain_level": 3, "recorded_at": "2026-01-02T03:04:05.123456789+01:00"}),
        )
        .await;
    assert_eq!(entry.status, StatusCode::CREATED, "{}", entry.text);
    assert_eq!(entry.body["recorded_at"], "2026-01-02T02:04:05.123456Z");
    let path = entry.header("location").unwrap().to_owned();
    assert_eq!(app.get(&path, &user.access).await.body, entry.body);
}

/// Applies every migration before the one whose name holds `first_new`, as
/// a database made by the release before it has them.
fn release_before<DB, C>(conn: &mut C, migrations: EmbeddedMigrations, first_new: &str)
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: MigrationSource<DB>,
{
    // Creates diesel's bookkeeping table, as the first run of a release did.
    assert!(conn.applied_migrations().unwrap().is_empty());
    let mut all = MigrationSource::<DB>::migrations(&migrations).unwrap();
    all.sort_by_key(|m| m.name().to_string());
    let before: Vec<_> = all
        .iter()
        .take_while(|m| !m.name().to_string().contains(first_new))
        .collect();
    assert!(before.len() < all.len(), "no migration named {first_new}");
    for migration in before {
        conn.run_migration(&**migration).unwrap();
    }
}

const RULES_THERAPIST: &str = "2c000000-0000-4000-8000-000000000001";
const RULES_PATIENT: &str = "2c000000-0000-4000-8000-000000000002";

/// A therapist and a linked patient, with per-patient rules saved before
/// therapist-wide defaults existed (no threshold, a spike of 3, 10 days).
fn rules_of_the_previous_release(database: &DatabaseUrl) {
    let hash = painline::auth::password::hash_blocking(crate::helpers::PASSWORD).unwrap();
    let user = |id: &str, role: &str| {
        format!(
            "INSERT INTO users (id, email, password_hash, display_name, role, timezone, change_seq, created_at, updated_at) \
             VALUES ('{id}', '{role}-{id}@example.org', '{hash}', 'Before', '{role}', 'UTC', 0, '2026-11-01 08:00:00', '2026-11-01 08:00:00');\n"
        )
    };
    let rows = [
        user(RULES_THERAPIST, "therapist"),
        user(RULES_PATIENT, "patient"),
        format!("INSERT INTO care_links (patient_id, therapist_id, since) VALUES ('{RULES_PATIENT}', '{RULES_THERAPIST}', '2026-11-02 08:00:00');\n"),
        format!("INSERT INTO alert_settings (therapist_id, patient_id, pain_threshold, spike_delta, not_logging_days, version, updated_at) \
                 VALUES ('{RULES_THERAPIST}', '{RULES_PATIENT}', NULL, 3, 10, 2, '2026-11-03 08:00:00');\n"),
    ]
    .concat();
    match database {
        DatabaseUrl::Sqlite(path) => {
            let mut conn =
                diesel::sqlite::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
            release_before(&mut conn, painline::db::SQLITE_MIGRATIONS, "alert_defaults");
            conn.batch_execute(&rows).unwrap();
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn = diesel::pg::PgConnection::establish(url).unwrap();
            release_before(
                &mut conn,
                painline::db::POSTGRES_MIGRATIONS,
                "alert_defaults",
            );
            conn.batch_execute(&rows).unwrap();
        }
    }
}

/// Rules a therapist saved for one patient before therapist-wide defaults
/// keep applying after the upgrade, as that patient's overrides.
#[tokio::test]
async fn alert_rules_saved_before_the_defaults_become_overrides() {
    let app = spawn_app_after(rules_of_the_previous_release).await;
    let login = app
        .login(
            &format!("therapist-{RULES_THERAPIST}@example.org"),
            crate::helpers::PASSWORD,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let token = login.body["tokens"]["access_token"].as_str().unwrap();
    let rules = app
        .get(
            &format!("/v1/patients/{RULES_PATIENT}/alert-settings"),
            token,
        )
        .await;
    assert_eq!(rules.status, StatusCode::OK, "{}", rules.text);
    // Saved without a threshold: pain_high was off for this patient, and
    // stays off whatever defaults the therapist sets later.
    assert_eq!(
        rules.body,
        json!({
            "pain_threshold": "off", "spike_delta": 3, "not_logging_days": 10,
            "adherence_floor": null,
            "effective": {"pain_threshold": null, "spike_delta": 3, "not_logging_days": 10, "adherence_floor": 0.5},
            "inherited": ["adherence_floor"],
            "version": 2
        })
    );
    assert_eq!(rules.header("etag"), Some("\"2\""));
    let overview = app
        .get(&format!("/v1/patients/{RULES_PATIENT}"), token)
        .await;
    assert_eq!(
        overview.body["rules"],
        json!({"pain_threshold": null, "spike_delta": 3, "not_logging_days": 10, "adherence_floor": 0.5})
    );
    assert_eq!(app.count("alert_defaults", "1 = 1").await, 0);
    let defaults = app
        .call(
            Method::PUT,
            "/v1/me/alert-defaults",
            Some(token),
            Some(json!({"pain_threshold": 2, "not_logging_days": 30})),
        )
        .await;
    assert_eq!(defaults.status, StatusCode::OK, "{}", defaults.text);
    let after = app
        .get(
            &format!("/v1/patients/{RULES_PATIENT}/alert-settings"),
            token,
        )
        .await;
    assert_eq!(
        after.body["effective"],
        json!({"pain_threshold": null, "spike_delta": 3, "not_logging_days": 10, "adherence_floor": 0.5})
    );
}
