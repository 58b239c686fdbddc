//! Renditions made once. Each form of a recording (`?format=binaural`, `ambix-48k` …) is
//! rendered at most once and kept as a derived object in the media store, under a key that
//! names the renderer's version, so a new version makes new ones and the collector removes
//! the old. The first request streams the rendition while it is stored; requests for it
//! meanwhile wait for that one and are then served the stored object like an original
//! (Range, presigned on S3). A replica renders at most one rendition per core at once; more
//! are told the site is busy (503 with `Retry-After`).

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use media::rendition::Rendition;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::{entities::recordings, error::ServiceError};

/// The renderers' version: raised when any rendition's output changes, so that stored
/// renditions of the old version are made again (and collected).
/// 2: binaural by MagLS at the recording's own order (up to the third).
pub const VERSION: u32 = 2;

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
    _slot: OwnedSemaphorePermit,
    renditions: std::sync::Arc<Renditions>,
    stored: bool,
}

impl Making {
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

/// This replica's renditions in the making.
pub struct Renditions {
    making: Mutex<HashMap<String, watch::Receiver<Option<bool>>>>,
    slots: std::sync::Arc<Semaphore>,
    made: AtomicU64,
}

impl Default for Renditions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            making: Mutex::default(),
            slots: std::sync::Arc::new(Semaphore::new(cores)),
            made: AtomicU64::new(0),
        }
    }
}

impl Renditions {
    /// Whose turn it is to make the rendition at `key`: this request's (when a renderer is
    /// free: `Busy` otherwise), or another's already under way.
    pub fn turn(self: &std::sync::Arc<Self>, key: &str) -> Result<Turn, ServiceError> {
        let mut making = self
            .making
            .lock()
            .map_err(|e| ServiceError::internal("renditions", e))?;
        if let Some(rx) = making.get(key) {
            return Ok(Turn::Wait(rx.clone()));
        }
        let slot = std::sync::Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| ServiceError::Busy)?;
        let (tx, rx) = watch::channel(None);
        making.insert(key.to_owned(), rx);
        Ok(Turn::Make(Making {
            key: key.to_owned(),
            tx,
            _slot: slot,
            renditions: std::sync::Arc::clone(self),
            stored: false,
        }))
    }

    /// How many renditions this replica has made and stored.
    pub fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Renditions being made now.
    pub fn in_progress(&self) -> usize {
        self.making.lock().map_or(0, |m| m.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_maker_per_rendition_and_one_rendition_per_core() {
        let renditions = std::sync::Arc::new(Renditions::default());
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let makers: Vec<Turn> = (0..cores)
            .map(|i| {
                renditions
                    .turn(&format!("k{i}"))
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        assert!(makers.iter().all(|t| matches!(t, Turn::Make(_))));
        assert!(
            matches!(renditions.turn("k0"), Ok(Turn::Wait(_))),
            "the same: wait"
        );
        assert!(
            matches!(renditions.turn("another"), Err(ServiceError::Busy)),
            "every core renders: busy"
        );
        drop(makers);
        assert!(
            matches!(renditions.turn("another"), Ok(Turn::Make(_))),
            "a core is free"
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
