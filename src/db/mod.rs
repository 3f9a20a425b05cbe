//! Storage: one diesel `MultiConnection` over SQLite and PostgreSQL behind an
//! r2d2 pool. All SQL lives in this module tree.

pub mod access_log;
pub mod accounts;
pub mod backup;
pub mod care_team;
pub mod logins;
pub mod mail;
pub mod overview;
pub mod programme;
pub mod records;
pub mod schedules;
pub mod schema;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::InstrumentationEvent;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use prometheus::IntCounter;

use crate::config::DatabaseUrl;

pub type DbResult<T> = Result<T, DbError>;

/// The cause of an unavailable database, kept for the log.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// What storage answers when it cannot do what was asked. Storage knows
/// nothing of HTTP; `crate::error` decides what each becomes.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The row asked for does not exist.
    #[error("no such row")]
    NotFound,
    /// A unique constraint refused the write (another writer got there first).
    #[error("unique constraint violated")]
    Duplicate(#[source] diesel::result::Error),
    /// PostgreSQL refuses text that is not valid UTF-8 for it (a NUL byte).
    #[error("the database refused the text")]
    InvalidText(#[source] diesel::result::Error),
    /// Pool exhausted, connection lost, lock or statement timeout, deadlock victim.
    #[error("database unavailable")]
    Unavailable(#[source] Cause),
    /// A stored row this build cannot read.
    #[error("stored {what} {id} cannot be read: {reason}")]
    Corrupt {
        what: &'static str,
        id: String,
        /// Never the stored content itself (it may be a patient's notes).
        reason: String,
    },
    #[error("query failed")]
    Query(#[source] diesel::result::Error),
}

impl DbError {
    /// A stored value that does not parse. `reason` must not quote it.
    pub fn corrupt(what: &'static str, id: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            what,
            id: id.into(),
            reason: reason.into(),
        }
    }

    /// A JSON document that does not parse, located without quoting it.
    pub fn bad_json(what: &'static str, id: impl Into<String>, err: &serde_json::Error) -> Self {
        Self::corrupt(
            what,
            id,
            format!(
                "{:?} error at line {} column {}",
                err.classify(),
                err.line(),
                err.column()
            ),
        )
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::NotFound => Self::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::Duplicate(err),
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::SerializationFailure,
                _,
            ) => Self::Unavailable(Box::new(err)),
            // Lock waits that ran out: SQLite's busy timeout, PostgreSQL's
            // lock_timeout and statement_timeout. diesel exposes no SQLSTATE.
            Error::DatabaseError(_, ref info)
                if is_timeout(info.message()) || is_connection_lost(info.message()) =>
            {
                Self::Unavailable(Box::new(err))
            }
            // A commit whose connection went away (its outcome unknown to
            // us; the client's retry of an idempotent write settles it), or
            // a transaction manager left broken by that: the connection is
            // discarded by the pool, and the next one is a new one.
            Error::RollbackErrorOnCommit { .. } | Error::BrokenTransactionManager => {
                Self::Unavailable(Box::new(err))
            }
            Error::DatabaseError(_, ref info)
                if info.message().contains("invalid byte sequence") =>
            {
                Self::InvalidText(err)
            }
            other => Self::Query(other),
        }
    }
}

/// The server went away under a running statement: PostgreSQL shutting
/// down or restarting (SQLSTATE 57P01..57P03), or the connection dropped.
/// diesel reports these as `Unknown` when libpq has not yet marked the
/// connection bad.
fn is_connection_lost(message: &str) -> bool {
    // The server's own messages begin the text (nothing a client sent can
    // come first); libpq's are its own words.
    const SERVER: [&str; 5] = [
        "terminating connection due to administrator command",
        "terminating connection because of crash of another server process",
        "terminating connection due to conflict with recovery",
        "the database system is shutting down",
        "the database system is starting up",
    ];
    const LIBPQ: [&str; 5] = [
        "server closed the connection unexpectedly",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "connection to server was lost",
    ];
    SERVER.iter().any(|m| message.starts_with(m)) || LIBPQ.iter().any(|m| message.contains(m))
}

fn is_timeout(message: &str) -> bool {
    message.contains("database is locked")
        || message.contains("database is busy")
        || message.contains("canceling statement due to lock timeout")
        || message.contains("canceling statement due to statement timeout")
        // A deadlock victim's transaction was rolled back; a retry succeeds.
        || message.contains("deadlock detected")
}

impl From<diesel::r2d2::PoolError> for DbError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(Box::new(err))
    }
}

impl From<tokio::task::JoinError> for DbError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::Unavailable(Box::new(err))
    }
}

/// Whether a diesel error is a unique-constraint violation.
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A new database generation: 48 random bits, as 12 hex digits.
pub fn new_generation() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A migration's own error, carried out of diesel's transaction closure.
#[derive(Debug)]
struct MigrationFailed(Box<dyn std::error::Error + Send + Sync>);

impl From<diesel::result::Error> for MigrationFailed {
    fn from(e: diesel::result::Error) -> Self {
        Self(Box::new(e))
    }
}

/// The advisory lock key migrations hold on PostgreSQL ("painline" in ASCII).
const MIGRATION_LOCK: i64 = 0x7061_696e_6c69_6e65;

/// How long a request waits for a pooled connection before answering 503.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(3);
/// PostgreSQL: how long a statement waits for a row lock, and runs at most.
const LOCK_TIMEOUT_MS: u32 = 5_000;
const STATEMENT_TIMEOUT_MS: u32 = 30_000;
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
    /// Counts every statement sent on the connections this manager opens.
    queries: Option<IntCounter>,
    /// Counts the checks (`SELECT 1`) of pooled connections.
    checks: Option<IntCounter>,
    /// Moves whenever a statement on any of them finds the database gone
    /// (see [`Pooled`]).
    losses: Arc<AtomicU64>,
}

/// A pooled connection. The pool checks a connection (`SELECT 1`) before
/// handing it out only when it sat idle for a while ([`IDLE_CHECK`]: the
/// server may have restarted, or closed it, meanwhile) or when a statement
/// on one of its connections found the database gone since this one was
/// last known good. A connection in steady use costs no extra round trip
/// per checkout (on PostgreSQL one per request, before); after a restart
/// under load, the statements in flight fail once and every other
/// connection is checked before it is used again.
pub struct Pooled {
    conn: DbConnection,
    /// The manager's `losses` when this connection was last known good.
    checked: u64,
    /// When it last went back to the pool.
    returned: Instant,
}

/// A connection idle longer than this is checked before it is handed out.
const IDLE_CHECK: Duration = Duration::from_secs(2);

impl std::ops::Deref for Pooled {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            queries: None,
            checks: None,
            losses: Arc::default(),
        }
    }

    fn counting(mut self, queries: IntCounter, checks: IntCounter) -> Self {
        self.queries = Some(queries);
        self.checks = Some(checks);
        self
    }

    fn instrument(&self, conn: &mut DbConnection) {
        let queries = self.queries.clone();
        let losses = self.losses.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
            InstrumentationEvent::StartQuery { .. } => {
                if let Some(queries) = &queries {
                    queries.inc();
                }
            }
            InstrumentationEvent::FinishQuery {
                error: Some(error), ..
            } if is_lost(error) => {
                losses.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        });
    }

    /// A connection of its own, outside the pool.
    pub fn connect_one(&self) -> Result<DbConnection, r2d2::Error> {
        self.connect().map(|pooled| pooled.conn)
    }
}

/// Whether a failed statement suggests the connection or server is gone.
fn is_lost(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => is_connection_lost(info.message()),
        Error::BrokenTransactionManager | Error::RollbackErrorOnCommit { .. } => true,
        _ => false,
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let checked = self.losses.load(Ordering::Relaxed);
        self.open().map(|conn| Pooled {
            conn,
            checked,
            returned: Instant::now(),
        })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), r2d2::Error> {
        let losses = self.losses.load(Ordering::Relaxed);
        if conn.checked == losses && conn.returned.elapsed() < IDLE_CHECK {
            return Ok(());
        }
        if let Some(checks) = &self.checks {
            checks.inc();
        }
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)?;
        conn.checked = losses;
        Ok(())
    }

    /// Called as a connection goes back to the pool.
    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.returned = Instant::now();
        match &mut conn.conn {
            DbConnection::Postgres(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
            DbConnection::Sqlite(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
        }
    }
}

impl ConnectionManager {
    fn open(&self) -> Result<DbConnection, r2d2::Error> {
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
                let mut conn = DbConnection::Postgres(conn);
                self.instrument(&mut conn);
                Ok(conn)
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
                let mut conn = DbConnection::Sqlite(conn);
                self.instrument(&mut conn);
                Ok(conn)
            }
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
    /// SQLite has one writer at a time: writes queue for one writer thread,
    /// in arrival order, which commits them in groups (`writer.rs`). This
    /// also replaces SQLite's busy-wait (sleeps with back-off, unfair) that
    /// let some writes starve for seconds under load. PostgreSQL needs none.
    writer: Option<writer::Writer>,
    /// Statements sent by the pool's connections (`painline_db_queries_total`).
    queries: IntCounter,
    /// Of those, checks of pooled connections (`painline_db_checks_total`).
    checks: IntCounter,
    counters: writer::Counters,
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
            create_private(path).map_err(|e| {
                ConnectError::Open(format!("cannot create {}: {e}", path.display()))
            })?;
            // WAL is a property of the file: switch it once, before the pool
            // opens connections concurrently.
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|e| ConnectError::Open(e.to_string()))?;
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL;"
            ))
            .map_err(|e| ConnectError::Open(e.to_string()))?;
        }
        let queries = IntCounter::new(
            "painline_db_queries_total",
            "SQL statements sent to the database by the request pool",
        )
        .map_err(|e| ConnectError::Open(e.to_string()))?;
        let checks = IntCounter::new(
            "painline_db_checks_total",
            "Of those statements, checks (SELECT 1) of idle or suspect pooled connections",
        )
        .map_err(|e| ConnectError::Open(e.to_string()))?;
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            // Failures surface as checkout errors (503, logged with their cause)
            // or as the one start-up line; r2d2's own logging would repeat them.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(ConnectionManager::new(url.clone()).counting(queries.clone(), checks.clone()))
            .map_err(|e| ConnectError::Open(e.to_string()))?;
        let sqlite_path = match url {
            DatabaseUrl::Sqlite(path) => Some(path.clone()),
            DatabaseUrl::Postgres(_) => None,
        };
        let counter = |name: &str, help: &str| {
            IntCounter::new(name, help).map_err(|e| ConnectError::Open(e.to_string()))
        };
        let counters = writer::Counters {
            commits: counter(
                "painline_sqlite_commits_total",
                "Transactions the SQLite writer committed",
            )?,
            writes: counter(
                "painline_sqlite_writes_total",
                "Writes those transactions held (writes / commits = the group size)",
            )?,
        };
        let writer = match &sqlite_path {
            Some(_) => Some(
                writer::Writer::start(pool.clone(), counters.clone())
                    .map_err(|e| ConnectError::Open(format!("cannot start the writer: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            pool,
            url: url.clone(),
            sqlite_path,
            writer,
            queries,
            checks,
            counters,
        })
    }

    /// The metrics of this pool: statements, and the SQLite writer's group commits.
    pub fn counters(&self) -> Vec<IntCounter> {
        vec![
            self.queries.clone(),
            self.checks.clone(),
            self.counters.commits.clone(),
            self.counters.writes.clone(),
        ]
    }

    /// Applies the embedded migrations of the connected backend.
    /// Runs on a connection of its own: a migration may build an index on a
    /// large table or wait for another instance, so the request timeouts set
    /// on pooled PostgreSQL connections are lifted for it.
    pub fn migrate(&self) -> Result<(), ConnectError> {
        let mut conn = ConnectionManager::new(self.url.clone())
            .connect_one()
            .map_err(|e| ConnectError::Open(e.to_string()))?;
        let result = match &mut conn {
            // Instances starting at once on one database take turns: the
            // first applies what is pending, the others then find nothing
            // to do (two at once collided in PostgreSQL's catalog). The
            // lock is the session's, released when this connection closes.
            DbConnection::Postgres(c) => c
                .batch_execute(&format!(
                    "SET statement_timeout = 0; SET lock_timeout = 0; \
                     SELECT pg_advisory_lock({MIGRATION_LOCK});"
                ))
                .map_err(|e| ConnectError::Migrate(e.to_string()))
                .map(|()| c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()))?,
            // The same on SQLite (`painline migrate` beside a starting
            // server): one exclusive transaction, the migrations its savepoints.
            DbConnection::Sqlite(c) => c
                .exclusive_transaction(|c| {
                    c.run_pending_migrations(SQLITE_MIGRATIONS)
                        .map(|_| ())
                        .map_err(MigrationFailed)
                })
                .map_err(|e| match e {
                    MigrationFailed(inner) => inner,
                }),
        };
        result.map_err(|e| ConnectError::Migrate(e.to_string()))
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(DbError::from)?
    }

    /// Runs `f` inside a write transaction: on PostgreSQL its own (see
    /// [`write_transaction`]); on SQLite a savepoint of the writer's next
    /// group commit. Answers once the transaction is committed.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        // An acknowledged write must be in the file others will open: if the
        // file was removed under us, open connections would write into the
        // unlinked inode and lose it at the next restart.
        self.check_file()?;
        match &self.writer {
            Some(writer) => writer.write(f).await,
            None => self.run(move |conn| write_transaction(conn, f)).await,
        }
    }

    /// Whether this is PostgreSQL (some writes take one round trip there).
    pub fn is_postgres(&self) -> bool {
        matches!(self.url, DatabaseUrl::Postgres(_))
    }

    /// Readiness: the database answers a query (and, for SQLite, the file is
    /// still where we opened it: writes to an unlinked file would be lost).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.check_file()?;
        self.run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
    }

    fn check_file(&self) -> Result<(), DbError> {
        match &self.sqlite_path {
            Some(path) if !path.exists() => Err(DbError::Unavailable(
                format!("{} is gone", path.display()).into(),
            )),
            _ => Ok(()),
        }
    }
}

/// A transaction that is going to write. On SQLite it starts with
/// `BEGIN IMMEDIATE`, so it takes the write lock up front and waits on
/// `busy_timeout`; a deferred transaction that upgrades from read to write
/// fails at once with SQLITE_BUSY under concurrency.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DbError>,
{
    type Manager = <DbConnection as Connection>::TransactionManager;
    let begun = match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(_) => Manager::begin_transaction(conn),
    };
    begun.map_err(DbError::from)?;
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn).map_err(DbError::from)?;
            Ok(value)
        }
        Err(err) => {
            Manager::rollback_transaction(conn).map_err(DbError::from)?;
            Err(err)
        }
    }
}

/// Runs `f` in a savepoint of the caller's transaction: what it wrote is
/// undone when it fails, and the transaction goes on.
pub fn savepoint<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DbError>,
{
    type Manager = <DbConnection as Connection>::TransactionManager;
    Manager::begin_transaction(conn).map_err(DbError::from)?;
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn).map_err(DbError::from)?;
            Ok(value)
        }
        Err(err) => {
            Manager::rollback_transaction(conn).map_err(DbError::from)?;
            Err(err)
        }
    }
}

/// Creates the database file readable by its owner only (0600), if it does
/// not exist yet: it holds health data. SQLite gives the `-wal` and `-shm`
/// files it creates beside it the same mode.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => make_private(path),
        Err(e) => Err(e),
    }
}

/// Files that an earlier release created readable by others (0644) are
/// narrowed to 0600: the database, its WAL and its shared memory.
#[cfg(unix)]
fn make_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    for file in files {
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                let mode = meta.permissions().mode() & 0o700;
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_: &std::path::Path) -> std::io::Result<()> {
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn from_message(message: &str) -> DbError {
        DbError::from(Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(message.to_owned()),
        ))
    }

    /// A server going away under a statement is "unavailable" (503, retry),
    /// never an internal error.
    #[test]
    fn lost_connections_and_timeouts_are_unavailable() {
        for message in [
            "terminating connection due to administrator command",
            "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
            "the database system is shutting down",
            "no connection to the server",
            "database is locked",
            "canceling statement due to lock timeout",
        ] {
            assert!(
                matches!(from_message(message), DbError::Unavailable(_)),
                "{message}"
            );
        }
        assert!(matches!(
            DbError::from(Error::BrokenTransactionManager),
            DbError::Unavailable(_)
        ));
        // Not a lost connection: a timeout meant to catch a stuck client,
        // and a message that merely quotes those words.
        for message in [
            "terminating connection due to idle-in-transaction timeout",
            "invalid input syntax for type uuid: \"the database system is shutting down\"",
            "column \"x\" does not exist",
        ] {
            assert!(
                matches!(from_message(message), DbError::Query(_)),
                "{message}"
            );
        }
    }
}
