//! What a listener without premium hears of a premium recording: the first
//! [`PREMIUM_EXCERPT_S`] seconds of its stereo and spatial previews (`media::excerpt`, cut at an Ogg
//! page without decoding). Made from the stored preview on first asking and kept in this
//! replica's memory (bounded in bytes, for an hour), so the full preview never leaves the
//! site for them and an excerpt costs reading its own bytes once.

use std::sync::Arc;

use crate::{billing::PREMIUM_EXCERPT_S, error::ServiceError, store::MediaStore};

/// Excerpts kept in memory, at most this many bytes (a minute of a preview is ~0.5–2 MB).
const KEPT_BYTES: u64 = 64 << 20;

/// This replica's excerpts, by the preview's key.
pub struct Excerpts {
    kept: moka::sync::Cache<String, Arc<Vec<u8>>>,
}

impl Default for Excerpts {
    fn default() -> Self {
        Self {
            kept: moka::sync::Cache::builder()
                .max_capacity(KEPT_BYTES)
                .weigher(|_, v: &Arc<Vec<u8>>| u32::try_from(v.len()).unwrap_or(u32::MAX))
                .time_to_live(std::time::Duration::from_secs(3600))
                .build(),
        }
    }
}

impl Excerpts {
    /// The excerpt of the preview stored at `key`.
    pub async fn of(&self, store: &MediaStore, key: &str) -> Result<Arc<Vec<u8>>, ServiceError> {
        if let Some(kept) = self.kept.get(key) {
            return Ok(kept);
        }
        let object = store
            .get(key, None)
            .await
            .map_err(|e| ServiceError::internal("reading a preview", e))?;
        let cut = tokio::task::spawn_blocking(move || {
            let input = std::io::BufReader::with_capacity(
                64 * 1024,
                tokio_util::io::SyncIoBridge::new(object.body),
            );
            media::excerpt::excerpt(input, PREMIUM_EXCERPT_S)
        })
        .await
        .map_err(|e| ServiceError::internal("cutting a preview", e))?
        .map_err(|e| ServiceError::internal("cutting a preview", e))?;
        let cut = Arc::new(cut);
        self.kept.insert(key.to_owned(), Arc::clone(&cut));
        Ok(cut)
    }
}
