//! Several instances on one database (issue 11, item 4): they start at
//! once on an empty database and migrate it exactly once.

use std::sync::{Arc, Barrier};

use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};
use painline::db::{Db, DbError};

use crate::helpers::fresh_database;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Four instances released at the same moment on an empty database: every
/// one starts, and each migration is recorded once (on PostgreSQL, two at
/// once used to collide in the catalog: `pg_type_typname_nsp_index`).
#[tokio::test]
async fn instances_starting_at_once_on_an_empty_database_migrate_it_once() {
    let (database, _guard) = fresh_database();
    let instances = 4;
    let barrier = Arc::new(Barrier::new(instances));
    // Connected one after another (switching a new SQLite file to WAL is
    // done once, before a pool opens), then released together to migrate.
    let dbs: Vec<Db> = (0..instances)
        .map(|_| Db::connect(&database, 1).expect("connect"))
        .collect();
    let starts: Vec<_> = dbs
        .into_iter()
        .map(|db| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                db.migrate().map_err(|e| e.to_string())
            })
        })
        .collect();
    for start in starts {
        start
            .join()
            .expect("no panic")
            .expect("the instance starts");
    }
    let migrations = std::fs::read_dir("migrations/postgres").unwrap().count() as i64;
    assert_eq!(
        std::fs::read_dir("migrations/sqlite").unwrap().count() as i64,
        migrations
    );
    let db = Db::connect(&database, 1).unwrap();
    let (applied, distinct) = db
        .run(|conn| {
            let mut count = |sql: &str| {
                diesel::sql_query(sql)
                    .get_result::<Count>(conn)
                    .map(|c| c.n)
                    .map_err(DbError::from)
            };
            Ok::<_, DbError>((
                count("SELECT COUNT(*) AS n FROM __diesel_schema_migrations")?,
                count("SELECT COUNT(DISTINCT version) AS n FROM __diesel_schema_migrations")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!((applied, distinct), (migrations, migrations));
}

/// Login throttling is the database's, not an instance's: five wrong
/// passwords spread over two instances throttle the sixth attempt on
/// either, and the second instance accepts the first's tokens.
#[tokio::test]
async fn login_throttling_and_tokens_hold_across_instances() {
    let first = crate::helpers::spawn_app().await;
    let second = first.another_instance().await;
    let user = first.register_patient().await;
    assert_eq!(
        second.get("/v1/me", &user.access).await.status,
        reqwest::StatusCode::OK
    );
    for n in 0..5 {
        let instance = if n % 2 == 0 { &first } else { &second };
        instance
            .login(&user.email, "wrong password 123")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    for instance in [&first, &second] {
        instance
            .login(&user.email, crate::helpers::PASSWORD)
            .await
            .assert_problem(429, "too_many_attempts");
    }
}
