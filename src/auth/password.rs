//! argon2id hashing on a small bounded pool, so a flood of logins queues
//! (or gets 503) instead of starving every other request.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{AppError, AppResult};

/// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
/// How long a hash waits for a free slot before the request gets 503.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct PasswordHasher {
    slots: Arc<Semaphore>,
    /// Verified against when the e-mail is unknown, so both cases cost the same.
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    // The constants are valid parameters; `Params::new` only rejects out-of-range values.
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes synchronously; call through [`PasswordHasher::hash`] in request paths.
pub fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

impl PasswordHasher {
    /// `slots` hashes may run at once (one per core is the useful maximum).
    pub fn new(slots: usize) -> Result<Self, argon2::password_hash::Error> {
        let dummy_hash = hash_blocking("painline-dummy-password-for-timing")?;
        Ok(Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Waits for a free hashing slot (503 when the queue does not move for
    /// 5 s). Taking the slot first lets a caller do its bookkeeping only for
    /// requests that will really be hashed.
    pub async fn slot(&self) -> AppResult<HashSlot> {
        let permit = tokio::time::timeout(QUEUE_TIMEOUT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| AppError::Unavailable("password hashing queue is full".into()))?
            .map_err(|_| AppError::Unavailable("password hashing pool closed".into()))?;
        Ok(HashSlot {
            permit,
            dummy_hash: self.dummy_hash.clone(),
        })
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.slot().await?.hash(password).await
    }

    /// See [`HashSlot::verify`].
    pub async fn verify(&self, password: String, phc: Option<String>) -> AppResult<bool> {
        self.slot().await?.verify(password, phc).await
    }
}

/// A reserved place on the hashing pool; the hash runs on a blocking thread
/// that holds it until the hash is done.
pub struct HashSlot {
    permit: OwnedSemaphorePermit,
    dummy_hash: Arc<str>,
}

impl HashSlot {
    async fn run<T: Send + 'static>(
        self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let permit = self.permit;
        Ok(web::block(move || {
            let _held = permit;
            job()
        })
        .await?)
    }

    pub async fn hash(self, password: String) -> AppResult<String> {
        self.run(move || hash_blocking(&password))
            .await?
            .map_err(AppError::internal)
    }

    /// Verifies `password` against `phc`, or against a dummy hash when there is
    /// no account, so an unknown e-mail costs the same work as a wrong password.
    pub async fn verify(self, password: String, phc: Option<String>) -> AppResult<bool> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self.run(move || verify_blocking(&password, &phc)).await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_with_the_required_cost(
    ) -> Result<(), argon2::password_hash::Error> {
        let phc = hash_blocking("correct horse battery")?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_blocking("correct horse battery", &phc));
        assert!(!verify_blocking("correct horse batterY", &phc));
        assert!(!verify_blocking("anything", "not a phc string"));
        Ok(())
    }
}
