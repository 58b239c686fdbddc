//! Password work (argon2id, tens of milliseconds of CPU each) off the request threads: on
//! the blocking pool, at most one hash per core at a time, with a short queue. A request
//! that finds the queue full is told the site is busy (`ServiceError::Busy`: 503 with
//! `Retry-After`) before anything is written — so a storm of sign-ups costs the replica a
//! few cores' worth of hashing and nothing more, and every other request keeps its pace.

use std::sync::LazyLock;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

use crate::{Password, error::ServiceError};

/// Hashes waiting for a core, per core, before more are turned away.
const QUEUED_PER_CORE: usize = 4;

struct Gate {
    /// One permit per core: hashes running.
    running: Semaphore,
    /// Hashes running or waiting.
    admitted: Semaphore,
}

static GATE: LazyLock<Gate> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Gate {
        running: Semaphore::new(cores),
        admitted: Semaphore::new(cores * (1 + QUEUED_PER_CORE)),
    }
});

/// Runs `work` (argon2) on the blocking pool once a core is free, or refuses at once when
/// too many are waiting already.
async fn gated<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    let _admitted = GATE
        .admitted
        .try_acquire()
        .map_err(|_| ServiceError::Busy)?;
    let _running = GATE
        .running
        .acquire()
        .await
        .map_err(|e| ServiceError::internal("password work", e))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ServiceError::internal("password work", e))
}

/// The argon2id hash of `password`, for storing.
pub async fn hash(password: &Password) -> Result<String, ServiceError> {
    let plain = password.expose().to_owned();
    gated(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(plain.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::internal("password hashing", e))
    })
    .await?
}

/// Whether `password` is the one `hash` was made from. With no hash (no such account), the
/// same work is done anyway, so that timing does not tell which usernames exist.
pub async fn verify(password: &str, hash: Option<&str>) -> Result<bool, ServiceError> {
    let plain = password.to_owned();
    let hash = hash.map(str::to_owned);
    gated(move || match hash {
        Some(h) => PasswordHash::new(&h).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(plain.as_bytes(), &parsed)
                .is_ok()
        }),
        None => {
            let salt = SaltString::generate(&mut OsRng);
            let _ = Argon2::default().hash_password(plain.as_bytes(), &salt);
            false
        }
    })
    .await
}

/// Hashes `password` on this thread: for commands and generators, never a request.
pub fn hash_now(password: &Password) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::internal("password hashing", e))
}
