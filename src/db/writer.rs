//! Group commit on SQLite. SQLite has one writer at a time, and with
//! `synchronous=FULL` each commit waits for the disk. One writer thread
//! takes every write waiting in the queue, runs each in a savepoint of one
//! immediate transaction (a write that fails is rolled back to its
//! savepoint, and the others keep theirs), commits once, and only then
//! answers each request, so acknowledged still means on disk, while a burst
//! of writes shares one fsync instead of paying one each.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;
use prometheus::IntCounter;
use tokio::sync::oneshot;

use super::{DbConnection, DbError, DbPool};

/// Writes waiting beyond this many are refused at once (503): the queue
/// stays short enough that a queued write is answered within seconds.
const QUEUE: usize = 2048;
/// Writes committed together at most.
const BATCH: usize = 256;

type Manager = <DbConnection as Connection>::TransactionManager;

/// A queued write, type-erased.
trait Job: Send {
    /// Runs the write in a savepoint; what it returns answers the request
    /// once the transaction's fate is known.
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn Answer>;
    /// The write never ran.
    fn refuse(self: Box<Self>, err: DbError);
}

trait Answer: Send {
    fn send(self: Box<Self>, committed: Result<(), DbError>);
}

struct Pending<F, T, E> {
    f: F,
    reply: oneshot::Sender<Result<T, E>>,
}

struct Done<T, E> {
    result: Result<T, E>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> Job for Pending<F, T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn Answer> {
        let Pending { f, reply } = *self;
        let result = match Manager::begin_transaction(conn) {
            Err(e) => Err(E::from(e.into())),
            Ok(()) => match f(conn) {
                Ok(value) => Manager::commit_transaction(conn)
                    .map(|()| value)
                    .map_err(|e| E::from(e.into())),
                Err(err) => match Manager::rollback_transaction(conn) {
                    Ok(()) => Err(err),
                    Err(e) => Err(E::from(e.into())),
                },
            },
        };
        Box::new(Done { result, reply })
    }

    fn refuse(self: Box<Self>, err: DbError) {
        let _ = self.reply.send(Err(E::from(err)));
    }
}

impl<T: Send, E: From<DbError> + Send> Answer for Done<T, E> {
    fn send(self: Box<Self>, committed: Result<(), DbError>) {
        let answer = match committed {
            Ok(()) => self.result,
            Err(err) => Err(E::from(err)),
        };
        // The request may have gone away; its write stands.
        let _ = self.reply.send(answer);
    }
}

/// The handle requests queue their writes on; the thread ends when the
/// last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    queue: SyncSender<Box<dyn Job>>,
}

/// How many transactions the writer committed, and how many writes they held.
#[derive(Clone)]
pub struct Counters {
    pub commits: IntCounter,
    pub writes: IntCounter,
}

impl Writer {
    pub fn start(pool: DbPool, counters: Counters) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(&pool, &jobs, &counters))?;
        Ok(Self { queue })
    }

    /// Queues `f` and waits until it has been committed (or refused).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending { f, reply });
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(DbError::Unavailable("the SQLite write queue is full".into()).into())
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(DbError::Unavailable("the SQLite writer has stopped".into()).into())
            }
        }
        answer.await.unwrap_or_else(|_| {
            Err(DbError::Unavailable("the SQLite writer dropped a write".into()).into())
        })
    }
}

fn serve(pool: &DbPool, jobs: &Receiver<Box<dyn Job>>, counters: &Counters) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let writes = batch.len() as u64;
        if commit(pool, batch) {
            counters.commits.inc();
            counters.writes.inc_by(writes);
        }
    }
}

/// One transaction for the batch, each write in its own savepoint; whether
/// it committed.
fn commit(pool: &DbPool, batch: Vec<Box<dyn Job>>) -> bool {
    let mut conn = match pool.get() {
        Ok(conn) => conn,
        Err(e) => {
            let message = e.to_string();
            for job in batch {
                job.refuse(DbError::Unavailable(message.clone().into()));
            }
            return false;
        }
    };
    let conn: &mut DbConnection = &mut conn;
    let begun = match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(_) => Manager::begin_transaction(conn),
    };
    if let Err(e) = begun {
        let err = DbError::from(e);
        let message = err.to_string();
        for job in batch {
            job.refuse(DbError::Unavailable(message.clone().into()));
        }
        return false;
    }
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
            Ok(answer) => answers.push(answer),
            // The write panicked inside its savepoint (its request gets an
            // error when its reply is dropped): undo it, keep the others.
            Err(_) => {
                tracing::error!("a write panicked; it was rolled back");
                let _ = Manager::rollback_transaction(conn);
            }
        }
    }
    let committed = Manager::commit_transaction(conn).map_err(DbError::from);
    if committed.is_err() {
        let _ = Manager::rollback_transaction(conn);
    }
    let outcome = committed.map_err(|e| e.to_string());
    for answer in answers {
        answer.send(
            outcome
                .clone()
                .map_err(|message| DbError::Unavailable(message.into())),
        );
    }
    outcome.is_ok()
}
