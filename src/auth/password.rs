//! argon2id hashing on a small bounded pool of its own, so a flood of
//! logins queues (or gets 503) instead of starving every other request.
//! The pool's threads run at the lowest normal priority (nice 19): when a
//! request worker wakes, it gets the core before a hash. `SCHED_IDLE` was
//! measured too and isolated better (p99 of `GET /v1/me` under 40 logins/s
//! 1.5 ms against 4.1 ms), but it starves: with the cores busy, hashes did
//! not finish for minutes and sign-ups failed. Nice 19 still guarantees
//! hashes a share of the CPU.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The hashing pool is saturated or stopped: the client may retry.
    #[error("password hashing unavailable: {0}")]
    Unavailable(&'static str),
    /// argon2 refused (its random source failed).
    #[error("password hashing failed")]
    Failed(#[source] argon2::password_hash::Error),
}

type HashResult<T> = Result<T, HashError>;

/// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
/// How long a hash waits for a free slot before the request gets 503.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct PasswordHasher {
    slots: Arc<Semaphore>,
    threads: Threads,
    /// Verified against when the e-mail is unknown, so both cases cost the same.
    dummy_hash: Arc<str>,
    memory: Memory,
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads, as many as there are slots; a job is sent only
/// with a slot held, so it never waits for a thread.
#[derive(Clone)]
struct Threads(Sender<Job>);

impl Threads {
    fn start(count: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..count {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || serve_hashes(&queue))?;
        }
        Ok(Self(jobs))
    }

    /// Runs `job` on a hashing thread and waits for its answer.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> HashResult<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The request may have gone away meanwhile.
            let _ = reply.send(job());
        });
        self.0
            .send(job)
            .map_err(|_| HashError::Unavailable("the password hashing threads stopped"))?;
        answer
            .await
            .map_err(|_| HashError::Unavailable("a password hash did not finish"))
    }
}

fn serve_hashes(queue: &Mutex<Receiver<Job>>) {
    // Lowering one's own priority needs no privilege. Failing leaves the
    // thread at normal priority: slower requests under a login flood,
    // nothing worse.
    if let Err(e) =
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    {
        tracing::warn!(error = ?e, "cannot lower the password hashing threads' priority");
    }
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            // A panicking hash drops its reply (the request gets 503) and
            // must not take the thread with it.
            Ok(job) => {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                    tracing::error!("a password hash panicked");
                }
            }
            Err(_) => return,
        }
    }
}

/// The hashes' working memory (19 MiB each), kept and reused: one per slot
/// at most, since only that many hashes run at once. Allocating it afresh
/// for every hash let the allocator keep each freed block in a different
/// thread's arena, and 64 sign-ups took the process past 900 MB.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<Vec<Block>>>>);

impl Memory {
    /// Runs `job` with a working memory of at least `blocks` blocks.
    fn with<T>(&self, blocks: usize, job: impl FnOnce(&mut [Block]) -> T) -> T {
        let kept = self.0.lock().ok().and_then(|mut free| free.pop());
        let mut memory = kept.unwrap_or_default();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let result = job(&mut memory[..blocks]);
        if let Ok(mut free) = self.0.lock() {
            free.push(memory);
        }
        result
    }
}

fn params() -> Params {
    // The constants are valid parameters; `Params::new` only rejects out-of-range values.
    Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default()
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Hashes into a PHC string, with `memory` as argon2's working memory.
fn hash_with(memory: &Memory, password: &str) -> Result<String, password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt)?;
    let params = params();
    let mut out = [0u8; 32];
    memory.with(params.block_count(), |blocks| {
        argon2().hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, blocks)
    })?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: params.try_into()?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc` (whatever argon2
/// parameters it was made with), in constant time.
fn verify_with(memory: &Memory, password: &str, phc: &str) -> bool {
    let check = || -> Result<bool, password_hash::Error> {
        let parsed = PasswordHash::new(phc)?;
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map_or(Ok(Version::V0x13), Version::try_from)?;
        let params = Params::try_from(&parsed)?;
        let expected = parsed.hash.ok_or(password_hash::Error::Password)?;
        let mut raw_salt = [0u8; 64];
        let raw_salt = parsed
            .salt
            .ok_or(password_hash::Error::Password)?
            .decode_b64(&mut raw_salt)?;
        let mut out = vec![0u8; expected.len()];
        memory.with(params.block_count(), |blocks| {
            Argon2::new(algorithm, version, params).hash_password_into_with_memory(
                password.as_bytes(),
                raw_salt,
                &mut out,
                blocks,
            )
        })?;
        // `Output`'s equality is constant-time.
        Ok(Output::new(&out)? == expected)
    };
    check().unwrap_or(false)
}

/// Why the hasher could not start.
#[derive(Debug, thiserror::Error)]
pub enum HasherError {
    #[error("argon2: {0}")]
    Argon2(#[from] password_hash::Error),
    #[error("cannot start the hashing threads: {0}")]
    Threads(#[from] std::io::Error),
}

/// Hashes synchronously; call through [`PasswordHasher::hash`] in request paths.
pub fn hash_blocking(password: &str) -> Result<String, password_hash::Error> {
    hash_with(&Memory::default(), password)
}

#[cfg(test)]
fn verify_blocking(password: &str, phc: &str) -> bool {
    verify_with(&Memory::default(), password, phc)
}

impl PasswordHasher {
    /// `slots` hashes may run at once (one per core is the useful maximum).
    pub fn new(slots: usize) -> Result<Self, HasherError> {
        let slots = slots.max(1);
        let memory = Memory::default();
        let dummy_hash = hash_with(&memory, "painline-dummy-password-for-timing")?;
        Ok(Self {
            slots: Arc::new(Semaphore::new(slots)),
            threads: Threads::start(slots)?,
            dummy_hash: dummy_hash.into(),
            memory,
        })
    }

    /// Waits for a free hashing slot (503 when the queue does not move for
    /// 5 s). Taking the slot first lets a caller do its bookkeeping only for
    /// requests that will really be hashed.
    pub async fn slot(&self) -> HashResult<HashSlot> {
        let permit = tokio::time::timeout(QUEUE_TIMEOUT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Unavailable("password hashing queue is full"))?
            .map_err(|_| HashError::Unavailable("password hashing pool closed"))?;
        Ok(HashSlot {
            permit,
            threads: self.threads.clone(),
            dummy_hash: self.dummy_hash.clone(),
            memory: self.memory.clone(),
        })
    }

    pub async fn hash(&self, password: String) -> HashResult<String> {
        self.slot().await?.hash(password).await
    }

    /// See [`HashSlot::verify`].
    pub async fn verify(&self, password: String, phc: Option<String>) -> HashResult<bool> {
        self.slot().await?.verify(password, phc).await
    }
}

/// A reserved place on the hashing pool; the hash runs on a blocking thread
/// that holds it until the hash is done.
pub struct HashSlot {
    permit: OwnedSemaphorePermit,
    threads: Threads,
    dummy_hash: Arc<str>,
    memory: Memory,
}

impl HashSlot {
    async fn run<T: Send + 'static>(
        self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> HashResult<T> {
        let permit = self.permit;
        self.threads
            .run(move || {
                let _held = permit;
                job()
            })
            .await
    }

    pub async fn hash(self, password: String) -> HashResult<String> {
        let memory = self.memory.clone();
        self.run(move || hash_with(&memory, &password))
            .await?
            .map_err(HashError::Failed)
    }

    /// Verifies `password` against `phc`, or against a dummy hash when there is
    /// no account, so an unknown e-mail costs the same work as a wrong password.
    pub async fn verify(self, password: String, phc: Option<String>) -> HashResult<bool> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy_hash.to_string());
        let memory = self.memory.clone();
        let matches = self
            .run(move || verify_with(&memory, &password, &phc))
            .await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hashes run on threads of the lowest priority, so the request
    /// workers are scheduled first whenever both want a core.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_at_nice_19() -> Result<(), Box<dyn std::error::Error>> {
        fn nice() -> Option<i32> {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
            // Fields after the command name (which may hold spaces): state is
            // field 3 of proc(5), nice field 19.
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().nth(16)?.parse().ok()
        }
        let hasher = PasswordHasher::new(2)?;
        let inside = hasher.slot().await?.run(nice).await?;
        assert_eq!(inside, Some(19), "nice of a hashing thread");
        // And the threads still hash.
        let phc = hasher.hash("correct horse battery".into()).await?;
        assert!(
            hasher
                .verify("correct horse battery".into(), Some(phc))
                .await?
        );
        Ok(())
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_with_the_required_cost() -> Result<(), password_hash::Error>
    {
        let phc = hash_blocking("correct horse battery")?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_blocking("correct horse battery", &phc));
        assert!(!verify_blocking("correct horse batterY", &phc));
        assert!(!verify_blocking("anything", "not a phc string"));
        Ok(())
    }

    /// Hashes stored by earlier releases (made by the argon2 crate's own
    /// `PasswordHasher`), and hashes made with other parameters, still verify
    /// with the reused memory.
    #[test]
    fn hashes_made_by_the_argon2_crate_with_any_parameters_verify(
    ) -> Result<(), password_hash::Error> {
        use argon2::PasswordHasher as _;
        let memory = Memory::default();
        for (m, t) in [(MEMORY_KIB, PASSES), (8 * 1024, 3), (32 * 1024, 1)] {
            let params = Params::new(m, t, 1, None)?;
            let salt = SaltString::generate(&mut OsRng);
            let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"correct horse battery", &salt)?
                .to_string();
            assert!(verify_with(&memory, "correct horse battery", &phc), "{phc}");
            assert!(
                !verify_with(&memory, "correct horse batterY", &phc),
                "{phc}"
            );
        }
        // And ours verify with the crate's own verifier.
        let ours = hash_with(&memory, "correct horse battery")?;
        let parsed = PasswordHash::new(&ours)?;
        use argon2::PasswordVerifier as _;
        assert!(argon2()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        Ok(())
    }
}
