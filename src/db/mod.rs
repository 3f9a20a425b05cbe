//! Storage: one diesel `MultiConnection` over SQLite and PostgreSQL behind an
//! r2d2 pool. All SQL lives in this module tree.

pub mod accounts;
pub mod records;
pub mod schema;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tokio::sync::Semaphore;

use crate::config::DatabaseUrl;
use crate::error::{AppError, AppResult};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a request waits for a pooled connection before answering 503.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(3);
/// PostgreSQL: how long a statement waits for a row lock, and runs at most.
const LOCK_TIMEOUT_MS: u32 = 5_000;
const STATEMENT_TIMEOUT_MS: u32 = 30_000;
/// How long a write waits for its turn on SQLite before answering 503.
const WRITE_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long SQLite waits for the write lock before giving up (only other
/// processes, such as `painline migrate`, contend for it past the gate).
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Opens connections of the backend named by the URL scheme. The derive's own
/// `establish` tries each backend in turn, and SQLite accepts any string as a
/// file name, so a down PostgreSQL would silently become a local file.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                // A request never waits forever: a lock held elsewhere or a
                // runaway statement ends in 503 instead of a hung worker.
                conn.batch_execute(&format!(
                    "SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'; SET statement_timeout = '{STATEMENT_TIMEOUT_MS}ms';"
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                // Pooled connections never create the file: if it vanished
                // (a volume unmounted, a mistaken clean-up), a new connection
                // must fail (503) rather than start an empty database.
                let mut conn = SqliteConnection::establish(&existing_file_uri(path))
                    .map_err(r2d2::Error::ConnectionError)?;
                // Per-connection settings; journal_mode=WAL is switched once in `Db::connect`.
                // synchronous=FULL: an acknowledged write survives a power cut.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        match conn {
            DbConnection::Postgres(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
            DbConnection::Sqlite(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
        }
    }
}

pub type DbPool = r2d2::Pool<ConnectionManager>;

/// Handle to the database used by handlers: every call runs on the blocking
/// pool, never on an async worker.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    url: DatabaseUrl,
    sqlite_path: Option<PathBuf>,
    /// SQLite has one writer at a time. Queueing writers here, in arrival
    /// order and without holding a thread or a connection, replaces SQLite's
    /// busy-wait (sleeps with back-off, unfair) that let some writes starve
    /// for seconds under load. PostgreSQL needs no gate.
    write_gate: Option<Arc<Semaphore>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("cannot apply migrations: {0}")]
    Migrate(String),
}

impl Db {
    /// Builds the pool, checking that the database answers.
    pub fn connect(url: &DatabaseUrl, pool_size: u32) -> Result<Self, ConnectError> {
        if let DatabaseUrl::Sqlite(path) = url {
            // WAL is a property of the file: switch it once, before the pool
            // opens connections concurrently.
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|e| ConnectError::Open(e.to_string()))?;
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL;"
            ))
            .map_err(|e| ConnectError::Open(e.to_string()))?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            // Failures surface as checkout errors (503, logged with their cause)
            // or as the one start-up line; r2d2's own logging would repeat them.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(ConnectionManager::new(url.clone()))
            .map_err(|e| ConnectError::Open(e.to_string()))?;
        let sqlite_path = match url {
            DatabaseUrl::Sqlite(path) => Some(path.clone()),
            DatabaseUrl::Postgres(_) => None,
        };
        let write_gate = sqlite_path.as_ref().map(|_| Arc::new(Semaphore::new(1)));
        Ok(Self {
            pool,
            url: url.clone(),
            sqlite_path,
            write_gate,
        })
    }

    /// Applies the embedded migrations of the connected backend.
    /// Runs on a connection of its own: a migration may build an index on a
    /// large table or wait for another instance, so the request timeouts set
    /// on pooled PostgreSQL connections are lifted for it.
    pub fn migrate(&self) -> Result<(), ConnectError> {
        let mut conn = ConnectionManager::new(self.url.clone())
            .connect()
            .map_err(|e| ConnectError::Open(e.to_string()))?;
        let result = match &mut conn {
            DbConnection::Postgres(c) => c
                .batch_execute("SET statement_timeout = 0; SET lock_timeout = 0;")
                .map_err(|e| ConnectError::Migrate(e.to_string()))
                .map(|()| c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()))?,
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        };
        result.map_err(|e| ConnectError::Migrate(e.to_string()))
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Runs `f` inside a write transaction (see [`write_transaction`]).
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        // An acknowledged write must be in the file others will open: if the
        // file was removed under us, open connections would write into the
        // unlinked inode and lose it at the next restart.
        self.check_file()?;
        let turn = match &self.write_gate {
            Some(gate) => Some(
                tokio::time::timeout(WRITE_QUEUE_TIMEOUT, gate.clone().acquire_owned())
                    .await
                    .map_err(|_| AppError::Unavailable("write queue is full".into()))?
                    .map_err(|_| AppError::Unavailable("write gate closed".into()))?,
            ),
            None => None,
        };
        // The turn ends with the transaction, on its thread, even if the
        // request that asked for it is dropped meanwhile.
        self.run(move |conn| {
            let _turn = turn;
            write_transaction(conn, f)
        })
        .await
    }

    /// Readiness: the database answers a query (and, for SQLite, the file is
    /// still where we opened it: writes to an unlinked file would be lost).
    pub async fn ping(&self) -> AppResult<()> {
        self.check_file()?;
        self.run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
    }

    fn check_file(&self) -> AppResult<()> {
        match &self.sqlite_path {
            Some(path) if !path.exists() => {
                Err(AppError::Unavailable(format!("{} is gone", path.display())))
            }
            _ => Ok(()),
        }
    }
}

/// A transaction that is going to write. On SQLite it starts with
/// `BEGIN IMMEDIATE`, so it takes the write lock up front and waits on
/// `busy_timeout`; a deferred transaction that upgrades from read to write
/// fails at once with SQLITE_BUSY under concurrency.
pub fn write_transaction<T, F>(conn: &mut DbConnection, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConnection) -> AppResult<T>,
{
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgres(_) => {
            <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?
        }
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(err)
        }
    }
}

/// `path` as an SQLite URI that opens the file only if it exists.
fn existing_file_uri(path: &std::path::Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=rw");
    uri
}

/// Whether a diesel error is a unique-constraint violation.
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
