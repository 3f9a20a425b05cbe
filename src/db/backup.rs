//! A consistent copy of an SQLite database, taken while the service writes.

use diesel::sql_types::Text;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};

use super::{DbConnection, DbError};

/// Writes the database `conn` is open on into the empty file at `path`
/// (`VACUUM INTO`): one read transaction, so the copy holds exactly what
/// had committed when it began, while other connections keep writing.
pub fn copy_into(conn: &mut DbConnection, path: &str) -> Result<(), DbError> {
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(path)
        .execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Gives the copy at `path` a generation of its own, so that once it is
/// restored, phones holding sync cursors of the database it was copied
/// from sync again from the start. A copy of a database from before
/// generations existed gets one when it is migrated.
pub fn renew_generation_of_copy(path: &str) -> Result<(), DbError> {
    let mut conn =
        SqliteConnection::establish(path).map_err(|e| DbError::Unavailable(Box::new(e)))?;
    let tables = diesel::sql_query(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'database_generation'",
    )
    .get_result::<Count>(&mut conn)?;
    if tables.n == 1 {
        diesel::sql_query("UPDATE database_generation SET generation = ?")
            .bind::<Text, _>(super::new_generation())
            .execute(&mut conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct IntegrityLine {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// Whether the SQLite file at `path` is a database this service made (it
/// has diesel's table of applied migrations).
pub fn is_painline_database(path: &str) -> Result<bool, DbError> {
    let mut conn =
        SqliteConnection::establish(path).map_err(|e| DbError::Unavailable(Box::new(e)))?;
    let tables = diesel::sql_query(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '__diesel_schema_migrations'",
    )
    .get_result::<Count>(&mut conn)?;
    Ok(tables.n == 1)
}

/// SQLite's `PRAGMA integrity_check` of the database file at `path`:
/// `["ok"]` when it is sound, else the problems it lists.
pub fn integrity_check(path: &str) -> Result<Vec<String>, DbError> {
    let mut conn =
        SqliteConnection::establish(path).map_err(|e| DbError::Unavailable(Box::new(e)))?;
    let lines = diesel::sql_query("PRAGMA integrity_check").load::<IntegrityLine>(&mut conn)?;
    Ok(lines.into_iter().map(|l| l.integrity_check).collect())
}
