//! Password work (argon2id, tens of milliseconds of CPU each) off the request threads: on
//! the replica's own password threads, one per core, which run at a lower CPU priority
//! (nice 10) than everything else, with a short queue. While a storm of sign-ups hashes,
//! the request threads, the balancer and the database keep the cores they need and the
//! hashes take what is left; a request that finds the queue full is told the site is busy
//! (`ServiceError::Busy`: 503 with `Retry-After`) before anything is written.

use std::sync::{
    Arc, LazyLock, Mutex,
    atomic::{AtomicU64, Ordering::Relaxed},
    mpsc::{self, SyncSender, TrySendError},
};

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::{Password, error::ServiceError};

/// Hashes waiting, per password thread, before more are turned away.
const QUEUED_PER_THREAD: usize = 4;

/// How much less CPU a password thread is given than a request thread when both want it
/// (a nice value: 10 is about a tenth of the share).
const NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and checks queued or running now, and turned away so far (for `/metrics`).
static PENDING: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);

/// Password work waiting or running now, and how much was turned away as `Busy` so far.
pub fn standing() -> (u64, u64) {
    (PENDING.load(Relaxed), REFUSED.load(Relaxed))
}

/// The password threads' queue.
static QUEUE: LazyLock<SyncSender<Job>> = LazyLock::new(|| {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let (jobs, queue) = mpsc::sync_channel::<Job>(threads * QUEUED_PER_THREAD);
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..threads {
        let queue = Arc::clone(&queue);
        let spawned = std::thread::Builder::new()
            .name(format!("password-{n}"))
            .spawn(move || {
                lower_priority();
                loop {
                    // The lock is held only while waiting for the next job.
                    let next = queue.lock().map(|q| q.recv());
                    match next {
                        Ok(Ok(job)) => job(),
                        _ => return,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start a password thread");
        }
    }
    jobs
});

/// Lowers the calling thread's CPU priority (Linux: nice is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, NICENESS) {
        tracing::warn!(error = %e, "password threads keep the normal CPU priority");
    }
}

/// Runs `work` (argon2) on a password thread, or refuses at once when too many are waiting
/// already.
async fn gated<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    let (done, result) = tokio::sync::oneshot::channel();
    PENDING.fetch_add(1, Relaxed);
    QUEUE
        .try_send(Box::new(move || {
            let _ = done.send(work());
            PENDING.fetch_sub(1, Relaxed);
        }))
        .inspect_err(|_| {
            PENDING.fetch_sub(1, Relaxed);
        })
        .map_err(|e| match e {
            TrySendError::Full(_) => {
                REFUSED.fetch_add(1, Relaxed);
                ServiceError::Busy
            }
            TrySendError::Disconnected(_) => {
                ServiceError::internal("password work", "no password thread is running")
            }
        })?;
    result
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of the thread that runs this (field 19 of its `stat`).
    #[cfg(target_os = "linux")]
    fn own_niceness() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        let after_name = stat.rsplit(')').next().unwrap_or_default();
        after_name
            .split_whitespace()
            .nth(16)
            .and_then(|n| n.parse().ok())
            .unwrap_or(i32::MIN)
    }

    #[tokio::test]
    async fn hashes_verify_on_threads_that_yield_to_requests_and_a_full_queue_says_busy() {
        let Ok(password) = Password::parse("correct horse battery") else {
            panic!("a long enough password")
        };
        let Ok(stored) = hash(&password).await else {
            panic!("hashed")
        };
        let right = verify("correct horse battery", Some(&stored)).await;
        assert!(matches!(right, Ok(true)));
        assert!(matches!(
            verify("wrong horse", Some(&stored)).await,
            Ok(false)
        ));
        assert!(matches!(verify("anything", None).await, Ok(false)));

        #[cfg(target_os = "linux")]
        {
            let request_thread = own_niceness();
            let password_thread = gated(own_niceness).await.ok();
            assert_eq!(password_thread, Some(request_thread + NICENESS));
        }

        // Every password thread busy and the queue full: the next one is refused at once,
        // and the ones admitted all finish.
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let (started, running) = std::sync::mpsc::channel::<()>();
        let blocking = |started: Option<mpsc::Sender<()>>| -> Job {
            let hold = Arc::clone(&hold);
            Box::new(move || {
                if let Some(s) = started {
                    let _ = s.send(());
                }
                let _ = hold.lock().map(|h| h.recv());
            })
        };
        for _ in 0..threads {
            assert!(QUEUE.try_send(blocking(Some(started.clone()))).is_ok());
        }
        for _ in 0..threads {
            assert!(running.recv().is_ok(), "a password thread took a job");
        }
        let mut queued = 0;
        while QUEUE.try_send(blocking(None)).is_ok() {
            queued += 1;
        }
        assert_eq!(queued, threads * QUEUED_PER_THREAD);
        assert!(matches!(gated(|| ()).await, Err(ServiceError::Busy)));
        for _ in 0..threads + queued {
            assert!(release.send(()).is_ok());
        }
        // Once the held jobs have run, the queue takes work again.
        let mut again = gated(|| ()).await;
        for _ in 0..500 {
            if again.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            again = gated(|| ()).await;
        }
        assert!(again.is_ok(), "the threads are free again");
    }
}
