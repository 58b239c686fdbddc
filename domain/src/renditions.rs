//! Renditions made once. Each form of a recording (`?format=binaural`, `ambix-48k` …) is
//! rendered at most once and kept as a derived object in the media store, under a key that
//! names the renderer's version, so a new version makes new ones and the collector removes
//! the old. The first request streams the rendition while it is stored; requests for it
//! meanwhile wait for that one and are then served the stored object like an original
//! (Range, presigned on S3). A replica renders at most one rendition per core at once; a
//! request for another waits for a core to come free, up to [`QUEUE_WAIT`] and with at most
//! [`WAITING_PER_CORE`] per core waiting; beyond either it is told the site is busy (503 with
//! `Retry-After`). A core is free again as soon as its rendering ends: storing the copy
//! takes no core.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use media::rendition::Rendition;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::{entities::recordings, error::ServiceError};

/// The renderers' version: raised when any rendition's output changes, so that stored
/// renditions of the old version are made again (and collected).
/// 2: binaural by MagLS at the recording's own order (up to the third).
pub const VERSION: u32 = 2;

/// How long a request waits for a core to render on before it is told the site is busy.
pub const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// How many requests may wait for a core, per core.
pub const WAITING_PER_CORE: usize = 4;

/// Where rendition `r` of recording `row` is kept; `facing`: a binaural listener's yaw.
pub fn key(row: &recordings::Model, r: Rendition, facing: i32) -> String {
    let base = row.sha256.clone().unwrap_or_else(|| format!("r{}", row.id));
    let shard = base.get(..2).unwrap_or("00");
    format!(
        "renditions/{shard}/{base}/v{VERSION}{}",
        file_suffix(r, facing)
    )
}

/// The end of a rendition's file name: its form's, with the yaw a binaural listener faces.
pub fn file_suffix(r: Rendition, facing: i32) -> String {
    if facing == 0 {
        r.file_suffix().to_string()
    } else {
        r.file_suffix()
            .replace(".wav", &format!("-yaw{facing}.wav"))
    }
}

/// The recording a rendition key belongs to (its SHA-256, or `r<id>`), when the key is of
/// this renderer's version; `None` for any other key.
pub fn current_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("renditions/")?;
    let mut parts = rest.split('/');
    let (_shard, base, file) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && file.starts_with(&format!("v{VERSION}-"))).then_some(base)
}

/// How a rendition is come by.
pub enum Turn {
    /// This request makes it; the others wait on the guard's outcome.
    Make(Making),
    /// Another request is making it: wait, then serve the stored object.
    Wait(watch::Receiver<Option<bool>>),
}

/// The one request making a rendition: when dropped, its waiters are told how it went.
pub struct Making {
    key: String,
    tx: watch::Sender<Option<bool>>,
    core: Option<OwnedSemaphorePermit>,
    renditions: std::sync::Arc<Renditions>,
    stored: bool,
}

impl Making {
    /// The rendering has ended: its core is free for the next one while the copy is stored.
    pub fn rendered(&mut self) {
        self.core = None;
    }

    /// The rendition is in the store now.
    pub fn stored(mut self) {
        self.stored = true;
        self.renditions.made.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Making {
    fn drop(&mut self) {
        if let Ok(mut m) = self.renditions.making.lock() {
            m.remove(&self.key);
        }
        let _ = self.tx.send(Some(self.stored));
    }
}

/// The renditions under way, by key: each with its maker's outcome to wait on.
type MakingNow<'a> = std::sync::MutexGuard<'a, HashMap<String, watch::Receiver<Option<bool>>>>;

/// This replica's renditions in the making.
pub struct Renditions {
    making: Mutex<HashMap<String, watch::Receiver<Option<bool>>>>,
    cores: std::sync::Arc<Semaphore>,
    waiting: AtomicUsize,
    may_wait: usize,
    wait: Duration,
    made: AtomicU64,
    refused: AtomicU64,
}

impl Default for Renditions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores, QUEUE_WAIT)
    }
}

impl Renditions {
    /// Renditions made on `cores` cores at once, a request waiting up to `wait` for one.
    pub fn new(cores: usize, wait: Duration) -> Self {
        Self {
            making: Mutex::default(),
            cores: std::sync::Arc::new(Semaphore::new(cores)),
            waiting: AtomicUsize::new(0),
            may_wait: cores * WAITING_PER_CORE,
            wait,
            made: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Whose turn it is to make the rendition at `key`: another's already under way, or
    /// this request's once a core is free (`Busy` when none comes free in time, or too many
    /// wait already).
    pub async fn turn(self: &std::sync::Arc<Self>, key: &str) -> Result<Turn, ServiceError> {
        if let Some(rx) = self.making()?.get(key) {
            return Ok(Turn::Wait(rx.clone()));
        }
        let core = match std::sync::Arc::clone(&self.cores).try_acquire_owned() {
            Ok(core) => core,
            Err(_) => self.wait_for_a_core().await?,
        };
        let mut making = self.making()?;
        // Another request may have begun it while this one waited for a core.
        if let Some(rx) = making.get(key) {
            return Ok(Turn::Wait(rx.clone()));
        }
        let (tx, rx) = watch::channel(None);
        making.insert(key.to_owned(), rx);
        Ok(Turn::Make(Making {
            key: key.to_owned(),
            tx,
            core: Some(core),
            renditions: std::sync::Arc::clone(self),
            stored: false,
        }))
    }

    fn making(&self) -> Result<MakingNow<'_>, ServiceError> {
        self.making
            .lock()
            .map_err(|e| ServiceError::internal("renditions", e))
    }

    /// Busy, counted.
    fn refuse(&self) -> ServiceError {
        self.refused.fetch_add(1, Ordering::Relaxed);
        ServiceError::Busy
    }

    async fn wait_for_a_core(&self) -> Result<OwnedSemaphorePermit, ServiceError> {
        /// One request in the queue, until it leaves it (a core, a timeout or a hang-up).
        struct InQueue<'a>(&'a AtomicUsize);
        impl Drop for InQueue<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let in_queue = InQueue(&self.waiting);
        if in_queue.0.fetch_add(1, Ordering::Relaxed) >= self.may_wait {
            return Err(self.refuse());
        }
        let core = tokio::time::timeout(
            self.wait,
            std::sync::Arc::clone(&self.cores).acquire_owned(),
        )
        .await;
        drop(in_queue);
        match core {
            Ok(Ok(core)) => Ok(core),
            Ok(Err(e)) => Err(ServiceError::internal("renditions", e)),
            Err(_) => Err(self.refuse()),
        }
    }

    /// How many renditions this replica has made and stored.
    pub fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Renditions being made now.
    pub fn in_progress(&self) -> usize {
        self.making.lock().map_or(0, |m| m.len())
    }

    /// Requests waiting for a core to make theirs on.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Requests told the site is busy: no core came free in time, or too many waited.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn_now(r: &std::sync::Arc<Renditions>, key: &str) -> Option<Result<Turn, ServiceError>> {
        use futures::FutureExt;
        r.turn(key).now_or_never()
    }

    #[tokio::test]
    async fn one_maker_per_rendition_and_one_rendition_per_core() {
        let renditions = std::sync::Arc::new(Renditions::new(2, Duration::from_millis(20)));
        let mut makers: Vec<Making> = Vec::new();
        for key in ["k0", "k1"] {
            match turn_now(&renditions, key) {
                Some(Ok(Turn::Make(m))) => makers.push(m),
                _ => panic!("{key}: a free core makes it at once"),
            }
        }
        assert!(
            matches!(turn_now(&renditions, "k0"), Some(Ok(Turn::Wait(_)))),
            "the same: wait for its maker"
        );
        assert!(
            matches!(renditions.turn("another").await, Err(ServiceError::Busy)),
            "every core renders and none comes free in time: busy"
        );
        assert_eq!((renditions.refused(), renditions.waiting()), (1, 0));
        drop(makers);
        assert!(
            matches!(turn_now(&renditions, "another"), Some(Ok(Turn::Make(_)))),
            "a core is free"
        );
    }

    #[tokio::test]
    async fn a_request_waits_for_the_core_a_rendering_frees_before_its_copy_is_stored() {
        let renditions = std::sync::Arc::new(Renditions::new(1, Duration::from_secs(3600)));
        let Some(Ok(Turn::Make(mut first))) = turn_now(&renditions, "first") else {
            panic!("a free core makes it at once");
        };
        let next = tokio::spawn({
            let renditions = std::sync::Arc::clone(&renditions);
            async move {
                renditions
                    .turn("next")
                    .await
                    .map(|t| matches!(t, Turn::Make(_)))
            }
        });
        while renditions.waiting.load(Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
        first.rendered();
        assert!(
            matches!(next.await, Ok(Ok(true))),
            "the waiting request makes its own once the first is rendered"
        );
        assert_eq!(
            renditions.in_progress(),
            1,
            "the first is still being stored"
        );
        first.stored();
        assert_eq!((renditions.in_progress(), renditions.made()), (0, 1));
    }

    #[tokio::test]
    async fn no_more_than_its_share_wait_for_a_core() {
        let renditions = std::sync::Arc::new(Renditions::new(1, Duration::from_secs(3600)));
        let Some(Ok(Turn::Make(_busy))) = turn_now(&renditions, "busy") else {
            panic!("a free core makes it at once");
        };
        let waiters: Vec<_> = (0..WAITING_PER_CORE)
            .map(|i| {
                let renditions = std::sync::Arc::clone(&renditions);
                tokio::spawn(async move { renditions.turn(&format!("w{i}")).await.is_ok() })
            })
            .collect();
        while renditions.waiting.load(Ordering::Relaxed) < WAITING_PER_CORE {
            tokio::task::yield_now().await;
        }
        assert!(
            matches!(
                turn_now(&renditions, "one more"),
                Some(Err(ServiceError::Busy))
            ),
            "past the queue's length: busy at once, without waiting"
        );
        assert_eq!(renditions.refused(), 1);
        for w in waiters {
            w.abort();
            let _ = w.await;
        }
        assert_eq!(
            renditions.waiting.load(Ordering::Relaxed),
            0,
            "a request that hangs up while it waits leaves the queue"
        );
    }

    #[test]
    fn a_listener_facing_another_way_has_a_rendition_of_its_own() {
        assert_eq!(file_suffix(Rendition::Binaural, 0), "-binaural.wav");
        assert_eq!(
            file_suffix(Rendition::Binaural, -90),
            "-binaural-yaw-90.wav"
        );
        let (bad, none) = (
            crate::downloads::facing(Some(Rendition::Binaural), Some("10")),
            crate::downloads::facing(Some(Rendition::Uhj), Some("90")),
        );
        assert!(bad.is_err() && none.is_err());
        for (raw, want) in [
            ("90", 90),
            ("-180", 180),
            ("540", 180),
            ("270", -90),
            ("", 0),
        ] {
            assert_eq!(
                crate::downloads::facing(Some(Rendition::Binaural), Some(raw)).ok(),
                Some(want),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_key_names_its_recording_and_the_renderers_version() {
        let key = format!("renditions/ab/abcdef/v{VERSION}-binaural.wav");
        assert_eq!(current_of(&key), Some("abcdef"));
        assert_eq!(current_of("renditions/ab/abcdef/v0-binaural.wav"), None);
        assert_eq!(current_of("originals/ab/abcdef.amb"), None);
    }
}
