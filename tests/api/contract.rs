//! The contract cannot drift: the committed `openapi.yaml` is what the code
//! generates, and the two migration folders build the same schema.

use std::collections::BTreeSet;

use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::helpers::{postgres_url, read, spawn_app};

#[test]
fn committed_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let generated = painline::openapi::yaml();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.yaml is stale: run `cargo run -- openapi > openapi.yaml` (or UPDATE_OPENAPI=1 cargo test)"
    );
    assert!(generated.starts_with("openapi: 3.1"));
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = spawn_app().await;
    let reply = read(
        app.client
            .get(app.url("/openapi.yaml"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.header("content-type"), Some("application/yaml"));
    assert_eq!(reply.text, painline::openapi::yaml());
    // Every operation behind a token declares bearer auth.
    assert!(reply.text.contains("bearerFormat: JWT"));
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    nullable: bool,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

type Schema = (BTreeSet<(String, String, bool)>, BTreeSet<String>);

fn sqlite_schema() -> Schema {
    use diesel_migrations::MigrationHarness;
    let dir = tempfile::tempdir().unwrap();
    let mut conn =
        diesel::sqlite::SqliteConnection::establish(&dir.path().join("s.db").to_string_lossy())
            .unwrap();
    conn.run_pending_migrations(painline::db::SQLITE_MIGRATIONS)
        .unwrap();
    let columns = diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS column_name, (p.\"notnull\" = 0 AND p.pk = 0) AS nullable \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '__diesel%'",
    )
    .load::<Column>(&mut conn)
    .unwrap();
    let indexes = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .load::<Index>(&mut conn)
    .unwrap();
    (
        columns
            .into_iter()
            .map(|c| (c.table_name, c.column_name, c.nullable))
            .collect(),
        indexes.into_iter().map(|i| i.name).collect(),
    )
}

fn postgres_schema(admin_url: &str) -> Schema {
    use diesel_migrations::MigrationHarness;
    let name = format!("painline_schema_{}", uuid::Uuid::new_v4().simple());
    let mut admin = diesel::pg::PgConnection::establish(admin_url).unwrap();
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .unwrap();
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => unreachable!(),
    };
    let result = {
        let mut conn = diesel::pg::PgConnection::establish(&url).unwrap();
        conn.run_pending_migrations(painline::db::POSTGRES_MIGRATIONS)
            .unwrap();
        let columns = diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, (is_nullable = 'YES') AS nullable \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '__diesel%'",
        )
        .load::<Column>(&mut conn)
        .unwrap();
        // Primary keys and UNIQUE constraints are implicit indexes in SQLite; compare explicit ones.
        let indexes = diesel::sql_query(
            "SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = 'public' \
             AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'",
        )
        .load::<Index>(&mut conn)
        .unwrap();
        (
            columns
                .into_iter()
                .map(|c| (c.table_name, c.column_name, c.nullable))
                .collect(),
            indexes.into_iter().map(|i| i.name).collect(),
        )
    };
    diesel::sql_query(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
    result
}

#[test]
fn both_migration_folders_build_the_same_schema() {
    let sqlite = sqlite_schema();
    assert!(sqlite
        .0
        .contains(&("users".to_owned(), "email".to_owned(), false)));
    assert!(sqlite.1.contains("refresh_tokens_family_idx"));
    // Comparing needs both backends; the PostgreSQL run of the suite (.ci/run) does it.
    let Some(admin_url) = postgres_url() else {
        eprintln!(
            "PAINLINE_TEST_POSTGRES_URL unset: PostgreSQL side compared in the PostgreSQL run"
        );
        return;
    };
    let postgres = postgres_schema(&admin_url);
    assert_eq!(
        sqlite.0, postgres.0,
        "columns differ between migrations/sqlite and migrations/postgres"
    );
    assert_eq!(
        sqlite.1, postgres.1,
        "indexes differ between migrations/sqlite and migrations/postgres"
    );
}
